"""Receptive fields of stacks of standard, dilated and SPD ResNet blocks (Fig. 3) -- a figure the paper does not have.

* :func:`theoretical_support` -- which input offsets *can* influence an output pixel through ``n`` blocks: the
  Minkowski sum of each block's support (:meth:`inpaintlib.layers.resblocks.StandardResBlock.support`). Zeros inside
  the map are the gaps dilation leaves (no path reaches them).
* :func:`gradient_support` -- the effective receptive field: ``|d y_centre / d x|`` summed over channels, for a
  stack with random weights (Luo et al.'s "effective receptive field" measured by one backward pass).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...layers.resblocks import resnet_block

__all__ = ["block_stack", "theoretical_support", "gradient_support"]


def block_stack(kind: str, n_blocks: int, channels: int = 8, dilations=(1, 2, 3, 4, 5, 6, 8, 10),
                seed: int = 0) -> nn.Sequential:
    """``n_blocks`` blocks of ``kind`` ("standard", "dilated", "spd"), zero padding, seeded random weights."""
    torch.manual_seed(seed)
    return nn.Sequential(*(resnet_block(kind, channels, dilations, padding_mode="zeros") for _ in range(n_blocks)))


def theoretical_support(stack: nn.Sequential) -> torch.Tensor:
    """Boolean map of the input offsets that can reach the centre output through ``stack`` (centre = middle)."""
    total = torch.ones(1, 1, 1, 1)
    for blk in stack:
        s = blk.support().float()[None, None]
        r = s.shape[-1] // 2
        total = F.conv2d(F.pad(total, (r, r, r, r)), s.flip(-1, -2), padding=r)
    return total[0, 0] > 0


def gradient_support(stack: nn.Sequential, size: int | None = None) -> torch.Tensor:
    """``|d y / d x|`` (summed over channels) of the centre output pixel w.r.t. a random input of side ``size``
    (default: just large enough to hold the theoretical support without touching the border)."""
    reach = theoretical_support(stack).shape[-1] // 2
    size = size or 2 * reach + 3
    channels = stack[0].channels
    x = torch.randn(1, channels, size, size, generator=torch.Generator().manual_seed(0), requires_grad=True)
    stack(x)[0, :, size // 2, size // 2].sum().backward()
    return x.grad.abs().sum(dim=(0, 1))
