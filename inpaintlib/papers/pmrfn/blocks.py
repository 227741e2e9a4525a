r"""PMRFN's building blocks (Wang et al., ICCV 2021, Sect. 3-4): the partial convolution with the priority-guided
mask update (Eqs. 1-2, 5-8), the residual block of two of them (HRNet's BasicBlock; book/reference_implementations.md,
"HRNet"), mask-aware representation fusion (MRF, Eq. 9) and attention-guided representation fusion (ARF, Eqs. 3-4, 10).

Every block takes and returns ``(features, valid)`` per branch, ``valid`` ``N x 1 x h x w`` with 1 = known.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...layers.partial_conv import PartialConv2d
from ...layers.priority import PriorityMaskUpdate

__all__ = ["PriorityPConv", "ResidualBlock", "MaskAwareFusion", "AttentionFusion"]


class PriorityPConv(nn.Module):
    r"""A 3x3 convolution in one of three modes (one flag of :class:`~.model.PMRFNConfig` each):

    * ``"priority"``: partial convolution (Eqs. 1-2) whose mask update is the priority-guided one (Eq. 5
      completed: a border pixel below :math:`\delta q^{max}` stays a hole), with :math:`q` of Eq. 6 computed on the
      channel mean of the layer's input ``x`` (Eq. 7 at the lowest resolution ``residue=False``, Eq. 8 above). The
      features of the pixels Eq. 1 would have filled but Eq. 5 keeps as holes are set to 0 (Eq. 2's "otherwise");
    * ``"pconv"``: plain partial convolution (Eq. 1 update), i.e. ``delta = 0``;
    * ``"conv"``: a plain convolution (Table 2 "w/o PConv" and "HRNet"); the mask passes through unchanged.

    A stride-2 layer (the transitions that make the lower branches) keeps the plain partial-convolution update even
    in ``"priority"`` mode (our choice; the paper does not say): Eq. 5 compares priorities of pixels at the input's
    resolution, and a stride-2 output pixel has no single input pixel whose priority it would take.
    """

    def __init__(self, c_in: int, c_out: int, mode: str, *, residue: bool, delta: float = 0.5,
                 gradient: str = "known", stride: int = 1):
        super().__init__()
        self.mode = mode
        if mode == "conv":
            self.conv = nn.Conv2d(c_in, c_out, 3, stride, 1)
        else:
            self.conv = PartialConv2d(c_in, c_out, 3, stride, 1)
        self.update = (PriorityMaskUpdate(residue=residue, delta=delta, gradient=gradient)
                       if mode == "priority" and stride == 1 else None)

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # noqa: D102
        if self.mode == "conv":
            out = self.conv(x)
            if self.conv.stride[0] > 1:
                valid = 1.0 - F.max_pool2d(1.0 - valid, self.conv.stride[0])
            return out, valid
        out, new_valid = self.conv(x, valid)
        if self.update is not None and bool((valid < 1).any()):
            prio_valid, _ = self.update(x, valid)  # Eqs. 5-8, a subset of Eq. 1's new valid pixels
            out, new_valid = out * prio_valid, prio_valid
        return out, new_valid


class ResidualBlock(nn.Module):
    """HRNet's BasicBlock (book/reference_implementations.md, "HRNet": two 3x3 convolutions + identity) built from
    :class:`PriorityPConv`:
    ``relu(conv2(relu(conv1(x))) + x)``, each convolution updating the mask. No BatchNorm (our choice: batch 4 at
    paper scale, and a normalisation over partly zero maps would mix holes into the statistics)."""

    def __init__(self, width: int, mode: str, **kw):
        super().__init__()
        self.conv1 = PriorityPConv(width, width, mode, **kw)
        self.conv2 = PriorityPConv(width, width, mode, **kw)

    def forward(self, x, valid):  # noqa: D102
        h, v = self.conv1(x, valid)
        h, v = self.conv2(F.relu(h), v)
        return F.relu(h + x * v), v


class MaskAwareFusion(nn.Module):
    r"""Mask-aware representation fusion (Sect. 4.2.2, Eq. 9) or, with ``masked=False``, HRNet's exchange
    (book/reference_implementations.md, "HRNet": the incoming maps summed, then ReLU; Table 2 "HRNet").

    For target level ``t`` and source ``s`` (branches ordered finest first): the same branch is added as it is; a
    coarser source is transformed by a 1x1 convolution and nearest upsampling (HRNet; the paper: "upsample"), its
    mask upsampled by nearest neighbour; a finer source passes ``t - s`` stride-2 3x3 convolutions (the paper follows
    [16]), ReLU between them, and its mask is the max-pool over each stride-2 window (known if any covered pixel is
    known, Eq. 1's rule). Each transformed map is multiplied by its mask, features and masks are summed, and Eq. 9:

    .. math::  (\mathbf x', m') = (\mathbf x / m, 1) \text{ if } m > 0, \quad (\mathbf 0, 0) \text{ otherwise},

    i.e. each pixel gets the mean over the sources that are valid there (``m`` counts them).
    """

    def __init__(self, widths: tuple[int, ...], masked: bool = True):
        super().__init__()
        self.masked = masked
        n = len(widths)
        self.paths = nn.ModuleList()
        for t in range(n):
            row = nn.ModuleList()
            for s in range(n):
                if s == t:
                    row.append(nn.Identity())
                elif s > t:  # coarser source: 1x1 conv then nearest upsampling by 2**(s - t)
                    row.append(nn.Conv2d(widths[s], widths[t], 1))
                else:  # finer source: t - s stride-2 3x3 convs
                    convs = []
                    for k in range(t - s):
                        c_out = widths[t] if k == t - s - 1 else widths[s]
                        convs.append(nn.Conv2d(widths[s], c_out, 3, 2, 1))
                        if k < t - s - 1:
                            convs.append(nn.ReLU())
                    row.append(nn.Sequential(*convs))
            self.paths.append(row)

    def forward(self, xs: list, vs: list) -> tuple[list, list]:  # noqa: D102
        out_x, out_v = [], []
        for t, row in enumerate(self.paths):
            acc_x, acc_m = 0.0, 0.0
            for s, path in enumerate(row):
                f = 2 ** abs(s - t)
                if s == t:
                    x, m = xs[s], vs[s]
                elif s > t:
                    x = F.interpolate(path(xs[s]), scale_factor=f, mode="nearest")
                    m = F.interpolate(vs[s], scale_factor=f, mode="nearest")
                else:
                    x, m = path(xs[s]), F.max_pool2d(vs[s], f)
                acc_x = acc_x + x * m if self.masked else acc_x + x
                acc_m = acc_m + m
            if self.masked:  # Eq. 9
                known = (acc_m > 0).to(acc_x.dtype)
                out_x.append(acc_x / acc_m.clamp(min=1.0) * known)
                out_v.append(known)
            else:  # HRNet: sum then ReLU; the masks are not used
                out_x.append(F.relu(acc_x))
                out_v.append(vs[t])
        return out_x, out_v


class AttentionFusion(nn.Module):
    r"""Attention-guided representation fusion (Sect. 4.3). Every branch is average-pooled to the lowest
    resolution (``N`` pixels; "downsample", our choice of the operator), the maps are concatenated and one attention
    map is computed from them as in self-attention (Eq. 3): :math:`s_{ij} = f(\mathbf x_i)^T g(\mathbf x_j)`,
    :math:`a_{ij} = \mathrm{softmax}_j(s_{ij})`, with :math:`f, g` 1x1 convolutions to ``sum(widths) // 8`` channels
    (our choice, SAGAN's reduction). Then Eq. 10 at each level: the map is cut into ``N`` patches (``2**d`` pixels
    on a side at ``d`` levels above the lowest: 8, 4, 2, 1 at 256 px) and
    :math:`\mathbf y^l_i = \sum_j a_{ij} \mathbf p^l_j + \mathbf p^l_i`. Masks pass unchanged (our choice)."""

    def __init__(self, widths: tuple[int, ...], reduction: int = 8):
        super().__init__()
        total = sum(widths)
        k = max(1, total // reduction)
        self.f = nn.Conv2d(total, k, 1)
        self.g = nn.Conv2d(total, k, 1)

    def attention(self, xs: list) -> torch.Tensor:
        """``a``, ``B x N x N`` (rows: the pixel synthesised, columns: the pixel referred to), Eq. 3."""
        size = xs[-1].shape[-2:]
        cat = torch.cat([F.adaptive_avg_pool2d(x, size) for x in xs], dim=1)
        f, g = self.f(cat).flatten(2), self.g(cat).flatten(2)  # B x k x N
        return torch.softmax(f.transpose(1, 2) @ g, dim=-1)

    def forward(self, xs: list, vs: list, return_attention: bool = False):  # noqa: D102
        a = self.attention(xs)
        h0, w0 = xs[-1].shape[-2:]
        out = []
        for x in xs:
            p = x.shape[-1] // w0  # patch side
            patches = F.unfold(x, p, stride=p)  # B x (C p p) x N
            q = patches @ a.transpose(1, 2)  # q_i = sum_j a_ij p_j (Eq. 10)
            out.append(F.fold(q + patches, x.shape[-2:], p, stride=p))
        return (out, vs, a) if return_attention else (out, vs)
