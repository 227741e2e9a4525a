"""ResNet blocks with standard, dilated and Spatial Pyramid Dilation convolutions (DeepGIN, Li et al. 2020, Fig. 3).

Every block maps ``x`` (N x C x H x W) to ``x + F(x)`` of the same shape, with two 3x3 convolutions in ``F`` and an
activation between them (none after the residual sum, as in He et al.'s block without normalisation: DeepGIN removes
every BatchNorm, Sect. 5, "Inspired by ESRGAN"):

* :class:`StandardResBlock` -- Fig. 3(a): ``conv3x3 -> act -> conv3x3``, then the residual sum;
* :class:`DilatedResBlock` -- Fig. 3(b): the first convolution dilated (rate 2, as in [10, 33, 21]);
* :class:`SPDResBlock` -- Fig. 3(c, d): the first convolution is split into ``len(dilations)`` parallel 3x3
  convolutions with different dilation rates, each producing ``C / len(dilations)`` channels; their outputs are
  concatenated back to ``C`` channels, passed through the activation and fused by the second 3x3 convolution.
  "To avoid additional parameters, we split the number of input feature channels into equal parts according to the
  number of dilation rates" (Fig. 3 caption): every branch sees all ``C`` input channels and outputs ``C / K``, so
  the branches together hold exactly the weights of one ``C -> C`` 3x3 convolution (the bias too).

Padding keeps the spatial size: ``dilation * (k // 2)`` on each side, with ``padding_mode`` ("replicate" in the
DeepGIN authors' code, per book/reference_implementations.md, "DeepGIN: generators"; "zeros" available). The
activation is LeakyReLU(0.2) by default (the authors' code, same section).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

__all__ = ["StandardResBlock", "DilatedResBlock", "SPDResBlock", "resnet_block", "RESBLOCKS"]


def _conv3(c_in: int, c_out: int, dilation: int, padding_mode: str) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, padding=dilation, dilation=dilation, padding_mode=padding_mode)


class _ResBlock(nn.Module):
    """``x + conv2(act(first(x)))``; subclasses build ``first``."""

    first: nn.Module

    def __init__(self, channels: int, slope: float, padding_mode: str):
        super().__init__()
        if channels < 1:
            raise ValueError(f"channels must be >= 1, got {channels}")
        self.channels = channels
        self.act = nn.LeakyReLU(slope)
        self.conv2 = _conv3(channels, channels, 1, padding_mode)

    def support(self) -> torch.Tensor:
        """The block's theoretical receptive field as a boolean ``(2r+1) x (2r+1)`` map centred on the output
        pixel: the residual path (the centre) plus the taps of the first convolution(s) (every dilation's 3x3
        taps) widened by the second 3x3 convolution. Holes in the map are offsets no path reaches (dilation gaps)."""
        r = max(self.dilations) + 1
        first = torch.zeros(1, 1, 2 * r + 1, 2 * r + 1)
        for d in self.dilations:
            first[..., r - d:r + d + 1:d, r - d:r + d + 1:d] = 1
        widened = torch.nn.functional.conv2d(first, torch.ones(1, 1, 3, 3), padding=1)[0, 0] > 0
        widened[r, r] = True  # the identity path
        return widened

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(f"{type(self).__name__} expects N x {self.channels} x H x W, got {tuple(x.shape)}")
        return x + self.conv2(self.act(self.first(x)))


class StandardResBlock(_ResBlock):
    """Fig. 3(a): the standard ResNet block [8] without normalisation: ``x + conv3x3(act(conv3x3(x)))``."""

    def __init__(self, channels: int, slope: float = 0.2, padding_mode: str = "replicate"):
        super().__init__(channels, slope, padding_mode)
        self.first = _conv3(channels, channels, 1, padding_mode)
        self.dilations = (1,)


class DilatedResBlock(_ResBlock):
    """Fig. 3(b): the dilated ResNet block of [10, 33, 21]: the first 3x3 convolution has dilation ``dilation`` (2
    in the figure), the second is undilated."""

    def __init__(self, channels: int, dilation: int = 2, slope: float = 0.2, padding_mode: str = "replicate"):
        super().__init__(channels, slope, padding_mode)
        self.first = _conv3(channels, channels, dilation, padding_mode)
        self.dilations = (dilation,)


class _Pyramid(nn.Module):
    """The first convolution of the SPD block: parallel dilated 3x3 convs ``C -> C/K``, concatenated."""

    def __init__(self, channels: int, dilations: Sequence[int], padding_mode: str):
        super().__init__()
        k = len(dilations)
        if k < 1 or channels % k:
            raise ValueError(f"SPD block: {channels} channels cannot be split equally among {k} dilation rates "
                             f"{tuple(dilations)} (Fig. 3: each branch outputs C / K channels)")
        self.branches = nn.ModuleList(_conv3(channels, channels // k, d, padding_mode) for d in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return torch.cat([b(x) for b in self.branches], dim=1)


class SPDResBlock(_ResBlock):
    """Fig. 3(c)/(d): the Spatial Pyramid Dilation ResNet block.

    ``K = len(dilations)`` branches, branch ``k`` a 3x3 convolution with dilation ``dilations[k]`` from all ``C``
    input channels to ``C / K`` channels; concatenation (``C`` channels), activation, a 3x3 fusing convolution and
    the residual sum. Same parameter count as :class:`StandardResBlock` of the same width. DeepGIN uses 8 rates
    (1, 2, 3, 4, 5, 6, 8, 10) in the coarse generator and 4 rates (2, 3, 4, 5) in the refinement generator (rates
    from the authors' code, book/reference_implementations.md, "DeepGIN: generators"; the paper gives only their
    number).

    ``branch_outputs(x)`` returns the ``K`` branch maps before concatenation (what each dilation sees).
    """

    def __init__(self, channels: int, dilations: Sequence[int] = (1, 2, 3, 4, 5, 6, 8, 10), slope: float = 0.2,
                 padding_mode: str = "replicate"):
        super().__init__(channels, slope, padding_mode)
        self.first = _Pyramid(channels, dilations, padding_mode)
        self.dilations = tuple(dilations)

    def branch_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The ``K`` branch outputs (each N x C/K x H x W), in the order of ``dilations``."""
        return [b(x) for b in self.first.branches]


#: Block kinds by name, as DeepGIN's Table 1 names them (StdResBlk, DilatedResBlk, SPDResBlk).
RESBLOCKS = ("standard", "dilated", "spd")


def resnet_block(kind: str, channels: int, dilations: Sequence[int] = (1, 2, 3, 4, 5, 6, 8, 10),
                 dilated_rate: int = 2, slope: float = 0.2, padding_mode: str = "replicate") -> nn.Module:
    """A block of ``kind`` ("standard", "dilated" or "spd"); ``dilations`` is used by "spd", ``dilated_rate`` by
    "dilated"."""
    if kind == "standard":
        return StandardResBlock(channels, slope, padding_mode)
    if kind == "dilated":
        return DilatedResBlock(channels, dilated_rate, slope, padding_mode)
    if kind == "spd":
        return SPDResBlock(channels, dilations, slope, padding_mode)
    raise ValueError(f"block kind must be one of {RESBLOCKS}, got {kind!r}")
