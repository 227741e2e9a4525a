"""The Multi-Scale Feature Extraction and Fusion (MSFEF) module (Sarkar et al. 2023, Sect. 3.2.2, Fig. 2).

Three partial convolutions (Liu et al. 2018; our :class:`~inpaintlib.layers.PartialConv2d`, which
follows NVIDIA's reference layer, see book/reference_implementations.md, "The partial convolution
layer") with kernels 3x3, 5x5 and 7x7 read the same input and mask. Each branch output is multiplied
by its own learned ``1 x 1 x C`` weight tensor, the three products are summed (the fusion), and the
sum is multiplied by the updated mask of the 3x3 branch, which is also the module's output mask:

.. math::
    F = \\Big(\\sum_{k \\in \\{3,5,7\\}} w_k \\odot \\mathrm{PConv}_k(X, M)\\Big) \\odot M'_3,
    \\qquad M_{out} = M'_3 .

The paper gives no initial value for the fusion weights; ours is 1/3 per branch and channel
(``fusion_init``), so the untrained module starts as the mean of the three branches.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .._validate import NonFiniteError, check_valid
from .partial_conv import PartialConv2d


class MSFEFModule(nn.Module):
    """MSFEF (Sect. 3.2.2, Fig. 2): parallel partial convolutions, weighted fusion, 3x3-branch mask.

    Parameters
    ----------
    in_channels, out_channels:
        feature widths; every branch maps ``in_channels -> out_channels``.
    kernel_sizes:
        the branch kernels, ``(3, 5, 7)`` in the paper (Sect. 3.2.2). Padding is ``k // 2`` so all
        branches give the same output size for any stride.
    stride:
        2 in every encoder stage of the paper (Sect. 3.2.1, Table 2).
    fusion_init:
        initial value of every fusion weight (our choice: 1/3; the paper is silent).
    mask_kernel:
        whose updated mask gates the fused output and leaves the module; the paper takes the
        smallest kernel (3x3, Fig. 2, green arrow). ``None`` = ``min(kernel_sizes)``.

    ``forward(x, valid, return_branches=False)`` returns ``(out, new_valid)``, or with
    ``return_branches=True`` a third element: a dict ``kernel -> (branch_out, branch_valid)``
    holding each branch's output *before* its fusion weight, for visualisation. In eval mode an input ``x`` with
    NaN or Inf is refused (by the first branch's :class:`PartialConv2d`, at no extra cost).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_sizes: Sequence[int] = (3, 5, 7),
                 stride: int = 2, fusion_init: float = 1.0 / 3.0, bias: bool = True,
                 mask_kernel: int | None = None):
        super().__init__()
        kernel_sizes = tuple(int(k) for k in kernel_sizes)
        if len(set(kernel_sizes)) != len(kernel_sizes) or any(k < 1 or k % 2 == 0 for k in kernel_sizes):
            raise ValueError(f"kernel_sizes must be distinct odd positive integers, got {kernel_sizes}")
        self.kernel_sizes = kernel_sizes
        self.mask_kernel = min(kernel_sizes) if mask_kernel is None else int(mask_kernel)
        if self.mask_kernel not in kernel_sizes:
            raise ValueError(f"mask_kernel {self.mask_kernel} is not one of the branch kernels {kernel_sizes}")
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride
        self.branches = nn.ModuleList(
            PartialConv2d(in_channels, out_channels, k, stride=stride, padding=k // 2, bias=bias)
            for k in kernel_sizes
        )
        # The learned 1 x 1 x C weight tensor of each branch (Sect. 3.2.2), stored as 1 x C x 1 x 1 (NCHW).
        self.fusion = nn.ParameterList(
            nn.Parameter(torch.full((1, out_channels, 1, 1), float(fusion_init))) for _ in kernel_sizes
        )

    def fusion_weights(self) -> dict[int, torch.Tensor]:
        """``kernel size -> C`` vector of the learned fusion weights (detached copies)."""
        return {k: w.detach().flatten().clone() for k, w in zip(self.kernel_sizes, self.fusion)}

    def forward(self, x: torch.Tensor, valid: torch.Tensor, return_branches: bool = False):
        check_valid(valid, x)
        fused = None
        branches = {}
        for k, conv, w in zip(self.kernel_sizes, self.branches, self.fusion):
            try:
                out_k, valid_k = conv(x, valid)  # Eq. 1 and Eq. 2 for kernel k
            except NonFiniteError as e:  # in eval mode the first branch tests x (PartialConv2d): name the module
                raise NonFiniteError(f"MSFEFModule: {e}") from None
            branches[k] = (out_k, valid_k)
            fused = w * out_k if fused is None else fused + w * out_k  # sum_k w_k o PConv_k
        new_valid = branches[self.mask_kernel][1]
        out = fused * new_valid  # gated by the 3x3 branch's updated mask (Fig. 2)
        if return_branches:
            return out, new_valid, branches
        return out, new_valid

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_sizes={self.kernel_sizes}, stride={self.stride}, "
                f"mask_kernel={self.mask_kernel}")
