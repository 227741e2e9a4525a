"""Multi-scale units with per-branch masks: MSA-Net's MSAU (Qin et al. 2021, Sect. 3.2, Eqs. 1-4, Fig. 2) and the
alternatives of its Table 1 (single scale, Inception V1, Inception V3), and the image restoration unit (Eq. 10).

A multi-scale structure is a list of parallel branches; each branch a list of ops ``(op, kernel, out, dilation)``
with ``op`` in {"conv", "pool"}. Every branch carries its own mask, updated by MSA-Net's max-pool rule
(:func:`~inpaintlib.layers.partial_conv.maxpool_mask_update`, Sect. 3.4, Fig. 9) after each op whose window is
larger than one pixel: a position is known when its window (with the branch's dilation) held a known position.

The branch lists of Table 1, as we read them (input width 128 and no biases reproduce every printed count):

* MSAU: four 3x3 dilated convolutions, rates 1, 2, 4, 8, 48 maps each (192 maps; 221,184 parameters = "221K").
* Inception V1 (Szegedy et al. 2015, "Going deeper with convolutions", structure as Table 1 prints it): 1x1 -> 192;
  1x1 -> 96, 3x3 -> 192; 3x3 -> 24, 1x1 -> 64 (printed in this order, unlike GoogLeNet's 1x1 then 5x5); 3x3 max
  pool, 1x1 -> 64 (the pool projection; the extracted table prints this "Conv 1x1 64" in the V3 column of the
  Scale 4 row, but only as V1's pool projection do the maps add to 512 and the parameters to 240K).
  512 maps, 240,128 parameters, +98,304 for the 1x1 reduce to 192 = 338,432 ("338K").
* Inception V3 (Szegedy et al. 2016, "Rethinking the Inception architecture", the factorised 5x5 as two 3x3):
  3x3 -> 192; 1x1 -> 32, 3x3 -> 48, 3x3 -> 48; 3x3 max pool (128 maps), 1x1 -> 64. 304 maps, 268,032 parameters,
  +58,368 for the reduce = 326,400 ("326K").
* Single scale: one 3x3 convolution (rate 1) -> 192 maps, the MSAU's own parameter count.

With biases V1 would count 240,760 + 98,496 ("339K") and V3 326,976 ("327K"): Table 1's convolutions have no bias.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .attention import ChannelSpatialAttention, channel_attention, spatial_attention
from .partial_conv import maxpool_mask_update

__all__ = ["STRUCTURES", "structure_branches", "MultiScaleStructure", "MSAU", "RestorationUnit"]

#: Names of the multi-scale structures of Table 1 (plus the single-scale baseline of Table 2).
STRUCTURES = ("msau", "single", "inception_v1", "inception_v3")


def _w(c: float, width: float) -> int:
    return max(int(round(c * width)), 1)


def structure_branches(kind: str, width: float = 1.0, rates: Sequence[int] = (1, 2, 4, 8),
                       branch_channels: int = 48) -> list[list[tuple[str, int, int, int]]]:
    """Branches of a Table 1 structure. The MSAU and the single scale use ``branch_channels`` per rate; ``width``
    scales the Inception units' printed widths (1 = Table 1). ``pool`` ops keep the input width (``out`` 0)."""
    if kind == "msau":  # Sect. 3.2, Eq. 2: four 3x3 dilated convolutions, rates 1, 2, 4, 8, 48 maps each
        return [[("conv", 3, branch_channels, r)] for r in rates]
    if kind == "single":  # Table 2 "Single scale": one 3x3 convolution with as many maps as the MSAU
        return [[("conv", 3, branch_channels * len(rates), 1)]]
    if kind == "inception_v1":  # Table 1, Inception V1 column (see the module docstring)
        return [[("conv", 1, _w(192, width), 1)],
                [("conv", 1, _w(96, width), 1), ("conv", 3, _w(192, width), 1)],
                [("conv", 3, _w(24, width), 1), ("conv", 1, _w(64, width), 1)],
                [("pool", 3, 0, 1), ("conv", 1, _w(64, width), 1)]]
    if kind == "inception_v3":  # Table 1, Inception V3 column (see the module docstring)
        return [[("conv", 3, _w(192, width), 1)],
                [("conv", 1, _w(32, width), 1), ("conv", 3, _w(48, width), 1), ("conv", 3, _w(48, width), 1)],
                [("pool", 3, 0, 1), ("conv", 1, _w(64, width), 1)]]
    raise ValueError(f"structure must be one of {STRUCTURES}, got {kind!r}")


class _Branch(nn.Module):
    def __init__(self, in_channels: int, ops, bias: bool):
        super().__init__()
        layers, c = [], in_channels
        self.ops = tuple(ops)
        for op, k, out, d in ops:
            if op == "conv":  # Eq. 2: F_r = tau(d^r_{KxK}(F_D))
                layers.append(nn.Sequential(nn.Conv2d(c, out, k, padding=d * (k - 1) // 2, dilation=d, bias=bias),
                                            nn.ReLU()))
                c = out
            elif op == "pool":
                layers.append(nn.MaxPool2d(k, stride=1, padding=k // 2))
            else:
                raise ValueError(f"unknown op {op!r}")
        self.layers = nn.ModuleList(layers)
        self.out_channels = c

    def forward(self, x, valid):
        for (op, k, _, d), layer in zip(self.ops, self.layers):
            x = layer(x)
            if valid is not None and k > 1:
                valid = maxpool_mask_update(valid, k, 1, dilation=d)  # Sect. 3.4: max-pool mask update
        return x, valid


class MultiScaleStructure(nn.Module):
    """Parallel branches (:func:`structure_branches`) on one input; returns per-branch features and masks."""

    def __init__(self, in_channels: int, branches, bias: bool = False):
        super().__init__()
        self.branches = nn.ModuleList(_Branch(in_channels, ops, bias) for ops in branches)
        self.out_channels = sum(b.out_channels for b in self.branches)

    def forward(self, x, valid=None):
        """``([F_1, F_2, ...], [M_1, M_2, ...])``; with ``valid`` each ``F_r`` is multiplied by its mask ``M_r``."""
        feats, masks = [], []
        for b in self.branches:
            f, m = b(x, valid)
            feats.append(f * m if m is not None else f)
            masks.append(m)
        return feats, masks


class MSAU(nn.Module):
    """Multi-scale attention unit (MSA-Net Sect. 3.2, Fig. 2) or a Table 1 alternative in its place.

    With ``F_Input = [features, mask]`` (the features and the mask of the previous layer, Eq. 1's text):

        F_D = tau(f_{KxK}(F_Input))        a downsampling convolution (stride 2), mask max-pooled   (Eq. 1)
        F_r = tau(d^r_{3x3}(F_D))          r = 1, 2, 4, 8, each multiplied by its own mask           (Eq. 2)
        F^s_r = F_r (x) f_s(F_r)           fusing spatial attention on each branch                   (Eq. 3)
        F^{s,c} = F^s (.) f_c(F^s)         augmented channel attention on the concatenation          (Eq. 4)
        out = tau(conv_{1x1}(F^{s,c}))     the aggregating convolution of Fig. 2 (Table 1's "Reduce")

    The unit's mask is the union of its branches' masks (a position is known once any branch saw a known pixel);
    ``out`` is multiplied by it. ``use_mask=False`` (the "No-MUM" ablation) ignores masks inside the unit.
    ``spatial`` / ``channel`` name an attention family (:data:`inpaintlib.layers.attention.ATTENTIONS`) or None.
    """

    def __init__(self, in_channels: int, out_channels: int, mid_channels: int = 128, structure: str = "msau",
                 rates: Sequence[int] = (1, 2, 4, 8), branch_channels: int = 48, stride: int = 2,
                 kernel_size: int = 3, spatial: str | None = "msanet", channel: str | None = "msanet",
                 squash: bool = True, reduction: int = 4, structure_bias: bool = False, width: float = 1.0):
        super().__init__()
        self.kernel_size, self.stride, self.structure_kind = kernel_size, stride, structure
        self.down = nn.Sequential(nn.Conv2d(in_channels + 1, mid_channels, kernel_size, stride,  # Eq. 1, + mask
                                            padding=kernel_size // 2), nn.ReLU())
        self.structure = MultiScaleStructure(mid_channels, structure_branches(structure, width, rates,
                                                                              branch_channels), structure_bias)
        widths = [b.out_channels for b in self.structure.branches]
        self.spatial = nn.ModuleList(spatial_attention(spatial, c, squash) if spatial else nn.Identity()
                                     for c in widths)
        maps = self.structure.out_channels
        self.channel = channel_attention(channel, maps, reduction, squash) if channel else nn.Identity()
        self.aggregate = nn.Sequential(nn.Conv2d(maps, out_channels, 1, bias=structure_bias), nn.ReLU())
        self.rates = tuple(rates) if structure == "msau" else ()
        self.in_channels, self.mid_channels, self.out_channels, self.maps = in_channels, mid_channels, out_channels, maps

    def table1_parameters(self) -> int:
        """Parameters Table 1 counts: the multi-scale structure, plus the 1x1 "Reduce" for the Inception units
        (Table 1 lists no reduce for the MSAU, whose 192 maps are already the output width)."""
        n = sum(p.numel() for p in self.structure.parameters())
        if self.structure_kind.startswith("inception"):
            n += sum(p.numel() for p in self.aggregate.parameters())
        return n

    def forward(self, x, valid, use_mask: bool = True, return_parts: bool = False):
        """``(out, out_valid)``; with ``return_parts`` also a dict of the intermediate maps (``F_D``, per-branch
        ``F_r``, ``W_s``, ``F^s_r``, masks, ``W_c``) for the chapter's figures."""
        if not use_mask:
            valid = torch.ones_like(valid)
        f_d = self.down(torch.cat([x * valid, valid], dim=1))  # Eq. 1
        valid_d = maxpool_mask_update(valid, self.kernel_size, self.stride, padding=self.kernel_size // 2)
        feats, masks = self.structure(f_d, valid_d if use_mask else None)  # Eq. 2
        weighted = [sa(f) for sa, f in zip(self.spatial, feats)]  # Eq. 3
        f_s = torch.cat(weighted, dim=1)
        f_sc = self.channel(f_s)  # Eq. 4
        out = self.aggregate(f_sc)
        out_valid = torch.stack(masks).amax(dim=0) if use_mask else valid_d
        out = out * out_valid
        if not return_parts:
            return out, out_valid
        parts = {"F_D": f_d, "valid_D": valid_d, "branches": feats, "branch_valid": masks, "weighted": weighted,
                 "W_s": [sa.weights(f) if hasattr(sa, "weights") else None for sa, f in zip(self.spatial, feats)],
                 "W_c": self.channel.weights(f_s) if hasattr(self.channel, "weights") else None}
        return out, out_valid, parts


class RestorationUnit(nn.Module):
    """Image restoration unit IRU_i (MSA-Net Sect. 3.3.3, Eq. 10, Fig. 8):
    ``U_i = s(c(h_i(U_{i-1})))``, ``h_i`` a 4x4 transposed convolution with stride 2 and ReLU (our choice of kernel),
    ``c`` and ``s`` the channel and spatial attention of family ``attention`` (None = no attention: Table 4's CS-A
    off). ``skip_channels`` > 0 concatenates an encoder map before ``h_i`` (our choice, U-Net style)."""

    def __init__(self, in_channels: int, out_channels: int, skip_channels: int = 0, attention: str | None = "msanet",
                 channel: str | None = None, squash: bool = True, reduction: int = 4):
        super().__init__()
        self.deconv = nn.Sequential(nn.ConvTranspose2d(in_channels + skip_channels, out_channels, 4, 2, 1), nn.ReLU())
        if attention:
            self.attention = ChannelSpatialAttention(
                channel_attention(channel or attention, out_channels, reduction, squash),
                spatial_attention(attention, out_channels, squash))
        else:
            self.attention = nn.Identity()
        self.in_channels, self.skip_channels, self.out_channels = in_channels, skip_channels, out_channels

    def forward(self, x, skip=None):
        if skip is not None:
            x = torch.cat([x, skip], dim=1)
        return self.attention(self.deconv(x))  # Eq. 10
