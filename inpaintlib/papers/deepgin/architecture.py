"""Figs. 2-3 as tables regenerated from the model objects: one row per convolution and self-attention block.

The network is rebuilt from its config on PyTorch's "meta" device and run on an empty input there, so the table
(with each layer's output size) costs no memory and no arithmetic, even for the 43M-parameter paper model.
"""
from __future__ import annotations

import torch
from torch import nn

from ...layers.nonlocal_attention import NonLocalBlock
from .model import DeepGINConfig, DeepGINNet

__all__ = ["architecture_table", "bp_derivation"]


def _row(name: str, m: nn.Module, out: torch.Tensor) -> dict:
    params = sum(p.numel() for p in m.parameters())
    if isinstance(m, NonLocalBlock):
        return {"layer": name, "kind": "self-attention [29]", "kernel": "1x1", "dilation": "-", "stride": 1,
                "in": m.channels, "out": m.channels, "output size": f"{out.shape[-2]}x{out.shape[-1]}",
                "parameters": params}
    return {"layer": name, "kind": "conv", "kernel": f"{m.kernel_size[0]}x{m.kernel_size[1]}",
            "dilation": m.dilation[0], "stride": m.stride[0], "in": m.in_channels, "out": m.out_channels,
            "output size": f"{out.shape[-2]}x{out.shape[-1]}", "parameters": params}


def architecture_table(config: DeepGINConfig, image_size: int | None = None) -> list[dict]:
    """Rows (in execution order) for every convolution and non-local block of ``DeepGINNet(config)``: module path
    (``coarse.*`` = G1, ``refine.*`` = G2), kernel, dilation, stride, channels, output size at ``image_size``
    (default ``config.image_size``), parameters. The convolutions inside a non-local block are folded into its row."""
    size = image_size or config.image_size
    with torch.device("meta"):
        net = DeepGINNet(config)
    rows: list[dict] = []
    inner = {id(c) for b in net.modules() if isinstance(b, NonLocalBlock) for c in b.modules() if c is not b}
    hooks = []
    for name, m in net.named_modules():
        if isinstance(m, NonLocalBlock) or (isinstance(m, nn.Conv2d) and id(m) not in inner):
            hooks.append(m.register_forward_hook(lambda mod, inp, out, n=name: rows.append(_row(n, mod, out))))
    try:
        with torch.device("meta"):
            x = torch.empty(1, 4, size, size)
            coarse, _ = net.coarse(x)
            if net.refine is not None:
                net.refine(x, torch.empty(1, 3, size, size), torch.empty(1, 1, size, size))
    finally:
        for h in hooks:
            h.remove()
    return rows


def bp_derivation(config: DeepGINConfig | None = None) -> dict:
    """Table 1's last step (Back Projection) derived from the authors' layout (:mod:`.model`): a k x k convolution
    from ``in`` to ``out`` channels with a bias holds ``k * k * in * out + out`` weights. ``table`` (one row per
    convolution), ``derived``, ``model`` (the module's own count), ``lo``/``hi`` (the step the printed, rounded
    SPDResBlk-MSSA-BP count allows from our exact SPDResBlk-MSSA count) and ``text``, generated from these."""
    import pandas as pd

    from .tables import PAPER_TABLE1_PARAMS

    cfg = config or DeepGINConfig.paper()
    lr, full = cfg.refine_widths[cfg.bp_level], cfg.refine_widths[0]
    table = pd.DataFrame([
        {"layer": f"I_lr: 3x3 conv {lr} -> {full}", "parameters": 3 * 3 * lr * full + full},
        {"layer": f"I_lr: 3x3 conv {full} -> 3", "parameters": 3 * 3 * full * 3 + 3},
        {"layer": f"weight map: 3x3 conv {full} -> 1, sigmoid", "parameters": 3 * 3 * full * 1 + 1}]).set_index("layer")
    derived = int(table["parameters"].sum())
    with torch.device("meta"):  # counts only
        model = DeepGINNet(cfg).parameter_groups()["G2 back projection"]
        before = DeepGINNet(DeepGINConfig.variant("SPDResBlk-MSSA", base=cfg)).num_parameters()
    printed = PAPER_TABLE1_PARAMS["SPDResBlk-MSSA-BP"]
    after = float(printed.rstrip("M")) * 1e6  # printed to the thousand
    lo, hi = round(after - 500 - before), round(after + 499 - before)
    text = (f"Derived: **{derived:,}** parameters, the module's own count {model:,}. From our {before:,} for "
            f"SPDResBlk-MSSA to the printed {printed}, the step can be {lo:,} .. {hi:,}: the derived count "
            f"{'lies inside' if lo <= derived <= hi else 'lies OUTSIDE'} it.")
    return {"table": table, "derived": derived, "model": model, "lo": lo, "hi": hi, "text": text}
