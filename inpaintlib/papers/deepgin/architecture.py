"""Figs. 2-3 as tables regenerated from the model objects: one row per convolution and self-attention block.

The network is rebuilt from its config on PyTorch's "meta" device and run on an empty input there, so the table
(with each layer's output size) costs no memory and no arithmetic, even for the 43M-parameter paper model.
"""
from __future__ import annotations

import torch
from torch import nn

from ...layers.nonlocal_attention import NonLocalBlock
from .model import DeepGINConfig, DeepGINNet

__all__ = ["architecture_table"]


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
