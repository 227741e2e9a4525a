"""The non-local (self-attention) block of Wang et al., "Non-local neural networks" (CVPR 2018), embedded-Gaussian
form without normalisation -- the "SA block" DeepGIN uses ("exactly the same as the one proposed in [29]", Sect. 4.1).

Convention followed (book/reference_implementations.md, "Non-local block"): inner channels ``C/2``;
``theta``, ``phi``, ``g`` are 1x1 convolutions ``C -> C/2``; for each query position ``i``

    y_i = sum_j softmax_j(theta(x_i)^T phi(x_j)) g(x_j)          (Wang et al., Eqs. 1-3, embedded Gaussian)
    z_i = W y_i + x_i                                              (Wang et al., Eq. 6)

with ``W`` a 1x1 convolution ``C/2 -> C``. ``zero_init=True`` starts ``W`` at zero so the block starts as the
identity (Wang et al. zero the last BatchNorm's scale; without normalisation this is the same effect, see
book/reference_implementations.md, "Non-local block"). No sub-sampling of ``phi``/``g`` (the optional max-pool of
Wang et al. is not used).
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["NonLocalBlock"]


class NonLocalBlock(nn.Module):
    """Embedded-Gaussian non-local block (Wang et al. 2018), ``z = W(y) + x``.

    ``attention(x)`` returns the N x HW x HW softmax weights (row = query position, columns = keys, each row sums
    to 1), for drawing what a query pixel attends to.
    """

    def __init__(self, channels: int, inner_channels: int | None = None, zero_init: bool = True):
        super().__init__()
        inner = inner_channels if inner_channels is not None else max(channels // 2, 1)
        if channels < 1 or inner < 1:
            raise ValueError(f"channels and inner_channels must be >= 1, got {channels}, {inner}")
        self.channels, self.inner_channels = channels, inner
        self.theta = nn.Conv2d(channels, inner, 1)
        self.phi = nn.Conv2d(channels, inner, 1)
        self.g = nn.Conv2d(channels, inner, 1)
        self.out = nn.Conv2d(inner, channels, 1)  # W of Eq. 6
        if zero_init:
            self.zero_output()

    def zero_output(self) -> None:
        """Set ``W`` (weights and bias) to zero: the block becomes the identity."""
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def _check(self, x: torch.Tensor) -> None:
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(f"NonLocalBlock expects N x {self.channels} x H x W, got {tuple(x.shape)}")

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """``softmax_j(theta(x_i)^T phi(x_j))``: N x HW x HW (rows: queries in raster order)."""
        self._check(x)
        q = self.theta(x).flatten(2).transpose(1, 2)  # N x HW x C'
        k = self.phi(x).flatten(2)  # N x C' x HW
        return torch.softmax(q @ k, dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        a = self.attention(x)
        v = self.g(x).flatten(2).transpose(1, 2)  # N x HW x C'
        y = (a @ v).transpose(1, 2).reshape(x.shape[0], self.inner_channels, *x.shape[-2:])
        return self.out(y) + x
