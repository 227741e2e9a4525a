"""Table 1's units built alone, as the paper counts them: the MSAU's multi-scale structure and the Inception V1 and
V3 units with their 1x1 "Reduce" to 192 maps.

The configuration that reproduces every printed count (MSAU 221K; Inception V1 240K / 338K; Inception V3 268K /
326K): **input width 128** (the maps after MSAU_1's downsampling convolution) and **no biases**. With biases V1
would total 339K and V3 327K; with another input width the MSAU's 221K (= 4 x 9 x 128 x 48 = 221,184) fails.
"""
from __future__ import annotations

from ...layers.multiscale_attention import MSAU

__all__ = ["TABLE1_INPUT_WIDTH", "TABLE1_KINDS", "table1_unit", "table1_units", "table1_counts"]

TABLE1_INPUT_WIDTH = 128  # found: the only width for which 4 x 9 x C x 48 rounds to 221K
TABLE1_KINDS = ("msau", "inception_v1", "inception_v3")


def table1_unit(kind: str, in_channels: int = TABLE1_INPUT_WIDTH, bias: bool = False) -> MSAU:
    """One Table 1 unit (its multi-scale structure and aggregating 1x1 convolution to 192 maps), no attention."""
    return MSAU(in_channels, 192, in_channels, kind, spatial=None, channel=None, structure_bias=bias)


def table1_units(in_channels: int = TABLE1_INPUT_WIDTH, bias: bool = False) -> dict[str, MSAU]:
    return {k: table1_unit(k, in_channels, bias) for k in TABLE1_KINDS}


def table1_counts(in_channels: int = TABLE1_INPUT_WIDTH, bias: bool = False) -> dict[str, dict[str, int]]:
    """``kind -> {"structure": n, "total": n, "maps": m}`` exactly as Table 1 counts them."""
    out = {}
    for kind, u in table1_units(in_channels, bias).items():
        out[kind] = {"structure": sum(p.numel() for p in u.structure.parameters()), "total": u.table1_parameters(),
                     "maps": u.maps}
    return out
