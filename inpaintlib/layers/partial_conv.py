"""Partial convolution (Liu et al., ECCV 2018), as used by MSFEF (Sect. 3.1, Eqs. 1-2) and PMRFN.

We follow the convention of NVIDIA's published reference layer (book/reference_implementations.md,
"The partial convolution layer"):
the mask is convolved with an all-ones kernel of the layer's own stride, padding and
dilation; image borders count as holes (zero padding of the mask).
"""
from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F
from torch import nn

from .._validate import NonFiniteError, check_valid, nonfinite_message


class PartialConv2d(nn.Conv2d):
    r"""A convolution restricted to known pixels, with the mask update.

    For a window at position :math:`p` with features :math:`X_p` and mask :math:`M_p`
    (MSFEF Eq. 1):

    .. math::
        x'_p = W^T (X_p \odot M_p) \frac{\mathrm{sum}(\mathbf 1)}{\mathrm{sum}(M_p)} + b
        \;\text{ if } \mathrm{sum}(M_p) > 0, \quad 0 \text{ otherwise,}

    and the mask update (Eq. 2): :math:`m'_p = 1` if :math:`\mathrm{sum}(M_p) > 0`, else 0.

    ``multi_channel=False`` takes a single-channel mask ``N x 1 x H x W`` (window size
    :math:`k_H k_W`); ``multi_channel=True`` takes a mask per input channel
    ``N x C_in x H x W`` (window size :math:`C_{in} k_H k_W`) and returns a mask with
    ``C_out`` channels, as in the reference layer. The scaling is sum(1)/sum(M), never a
    division of the response by sum(M); the bias is added after scaling; the mask
    arithmetic runs without gradient (the mask is detached).

    Implementation notes: sum(M_p) is counted in float32 (float64 for float64 inputs) with
    autocast off, so half precision stays exact and all-hole windows give 0, never NaN; the ratio
    is sum(1)/max(sum(M_p), 1), exact for the integer counts (the reference layer's
    sum(1)/(sum(M_p) + 1e-8) differs by 1e-8 relative). Four shortcuts give the same result with
    less work: no ``X o M`` when the mask has no hole, no zeroing of the bias when every window
    sees a known pixel, a plain convolution when every window is fully known, and, for a mask
    without a hole, sum(M_p) and the ratio of an all-known mask of that size (they depend only on
    the image border) computed once and kept (``_GEOMETRY``) instead of a mask convolution per call.

    In eval mode an input ``x`` holding NaN or Inf is refused (:class:`~inpaintlib._validate.NonFiniteError`): the
    sum of ``x`` (one reduction, about a thirtieth of ``torch.isfinite(x).all()`` on the CPU) shares the mask's host
    sync, and only a non-finite sum is looked at element by element. In training mode it is skipped: every network
    checks its image at the entry (``check_network_input``) and the training loop refuses a non-finite loss, so a
    per-layer pass would only slow every step down.

    ``forward(x, valid)`` returns ``(out, new_valid)``.
    """

    def __init__(self, *args, multi_channel: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if self.groups != 1:
            raise ValueError("PartialConv2d supports groups=1 only")
        if self.padding_mode != "zeros":
            raise ValueError("PartialConv2d treats borders as holes and supports padding_mode='zeros' only")
        self.multi_channel = multi_channel
        kh, kw = self.kernel_size
        mask_in = self.in_channels if multi_channel else 1
        # A per-channel mask is summed over its channels before the window sum (the same sum(M_p), a
        # C_in-times cheaper convolution), so the all-ones kernel is single-channel in both modes.
        self.register_buffer("_ones", torch.ones(1, 1, kh, kw), persistent=False)
        self.window = float(mask_in * kh * kw)  # sum(1) in Eq. 1

    _NON_BINARY = "mask must be binary (exactly 0 or 1; 1 = known, 0 = hole)"
    #: (layer geometry, H, W, device, dtype) -> sum(M_p), m', ratio and the two flags for an all-known mask
    _GEOMETRY: dict = {}

    #: Maps of at most this many pixels are window-summed with ``avg_pool2d`` (``divisor_override=1``: the same
    #: integer sums), larger ones with the all-ones convolution. Measured on one CPU thread (8 x 1 x H x W maps):
    #: 16 x 16, k5 s2: 12 us against 73 us; 32 x 32, k3 s2: 19 us against 46 us; 64 x 64, k3 s1: 386 us against 197 us.
    POOL_MAX_PIXELS = 32 * 32

    def _count(self, m: torch.Tensor) -> torch.Tensor:
        """sum(M_p): the window sums of the (channel-summed) mask, zero-padded."""
        pool_ok = self.dilation == (1, 1) and all(p <= k // 2 for p, k in zip(self.padding, self.kernel_size))
        if pool_ok and m.shape[-2] * m.shape[-1] <= self.POOL_MAX_PIXELS:
            return F.avg_pool2d(m, self.kernel_size, self.stride, self.padding, count_include_pad=True,
                                divisor_override=1)
        return F.conv2d(m, self._ones.to(m.dtype), None, self.stride, self.padding, self.dilation)

    def _known_geometry(self, h: int, w: int, device: torch.device, mdtype: torch.dtype) -> tuple:
        """sum(M_p), m', ratio (1 x 1 x H' x W') and (all covered, ratio one) for an all-known H x W mask."""
        key = (self.kernel_size, self.stride, self.padding, self.dilation, self.window, h, w, device, mdtype)
        found = self._GEOMETRY.get(key)
        if found is None:
            count = self._count(torch.full((1, 1, h, w), self.window / self._ones.numel(), device=device,
                                           dtype=mdtype))
            new_valid = count.clamp(0, 1)
            flags = torch.stack([count.amin() > 0, (count == self.window).all()]).tolist()
            found = (count, new_valid, self.window / count.clamp(min=1.0) * new_valid, *flags)
            self._GEOMETRY[key] = found
        return found

    def _check_mask(self, x: torch.Tensor, valid: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"PartialConv2d input x must be a torch.Tensor N x {self.in_channels} x H x W, got "
                             f"{type(x).__name__} (convert numpy arrays with torch.from_numpy)")
        if x.dtype != self.weight.dtype and not torch.is_autocast_enabled(x.device.type):  # autocast casts itself
            raise ValueError(f"PartialConv2d input x has dtype {x.dtype} but the weights are {self.weight.dtype}: "
                             f"convert the input (x.to({self.weight.dtype})) or the model (model.to({x.dtype}))")
        if not self.multi_channel:
            check_valid(valid, x, check_binary=False)  # the value test is the one below, as for a per-channel mask
            if not torch.equal(valid * valid, valid):
                check_valid(valid)  # raises, naming the values found
            return
        expected = (f"a per-channel mask: float tensor of shape N x {self.in_channels} x H x W matching the input "
                    f"{tuple(x.shape)}, values exactly 0 or 1 (1 = known, 0 = hole)")
        if not isinstance(valid, torch.Tensor):
            raise ValueError(f"multi-channel PartialConv2d expects {expected}; got {type(valid).__name__}")
        if valid.dim() != 4 or valid.shape[1] != self.in_channels:
            raise ValueError(f"multi-channel PartialConv2d expects {expected}; got shape {tuple(valid.shape)}")
        if valid.shape[-2:] != x.shape[-2:]:
            raise ValueError(f"mask has spatial size {tuple(valid.shape[-2:])} but the input has "
                             f"{tuple(x.shape[-2:])}; they must match")
        if valid.shape[0] not in (1, x.shape[0]):
            raise ValueError(f"mask has batch size {valid.shape[0]} but the input has {x.shape[0]}")
        if not valid.is_floating_point():
            raise ValueError(f"multi-channel PartialConv2d expects {expected}; got dtype {valid.dtype} "
                             "(use valid.float())")
        # v * v == v holds for 0, 1 and +inf only (one fused comparison, several times faster than
        # (v == 0) | (v == 1) on a C_in-channel mask); +inf is caught in forward from the channel sum.
        if not torch.equal(valid * valid, valid):
            raise ValueError(self._NON_BINARY)

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # noqa: D102
        self._check_mask(x, valid)
        valid = valid.detach()  # the mask is data, never a parameter: no gradient reaches it
        # Mask arithmetic in at least float32 and outside autocast: sum(M_p) is an integer up to
        # C_in*kH*kW, which float16/bfloat16 cannot hold exactly (and 1e-8 underflows in float16).
        mdtype = torch.promote_types(x.dtype, torch.float32)
        no_autocast = (torch.autocast(x.device.type, enabled=False) if torch.is_autocast_enabled(x.device.type)
                       else contextlib.nullcontext())
        with torch.no_grad(), no_autocast:
            m = valid.to(mdtype)
            c_mask = valid.shape[1]
            if self.multi_channel:
                m = m.sum(dim=1, keepdim=True)  # per-pixel count of known channels
            # One host sync: every value finite, every input pixel known (then skip X o M and the mask
            # convolution: sum(M_p) depends only on the border, see _known_geometry)
            stats = list(torch.aminmax(m))
            if not self.training:  # NaN/Inf in x make its sum NaN/Inf: tested in the same sync (class docstring)
                stats.append(x.sum(dtype=mdtype).to(m.device))
            low, high, *total = torch.stack(stats).tolist()
            if total and not math.isfinite(total[0]) and not bool(torch.isfinite(x).all()):  # not just an overflow
                raise NonFiniteError(nonfinite_message(x, "PartialConv2d input x") + "; expected finite features. A "
                                     "network checks its image at the entry, so inside one an earlier layer or its "
                                     "weights produced them")
            all_known = low == c_mask
            if not high <= c_mask:  # only +inf passes the v * v == v test of _check_mask
                if not self.multi_channel:
                    check_valid(valid)  # raises, naming the values found
                raise ValueError(self._NON_BINARY)
            if all_known:
                _, geo_valid, ratio, all_covered, ratio_one = self._known_geometry(*m.shape[-2:], m.device, mdtype)
                new_valid = geo_valid.expand(m.shape[0], -1, -1, -1).clone()  # m' = 1 where sum(M_p) > 0 (Eq. 2)
            else:
                count = self._count(m)  # sum(M_p)
                new_valid = count.clamp(0, 1)  # Eq. 2
                # every window touches a known pixel (no zeroing of the bias), every window fully known (ratio 1):
                # one host sync, as sum(M_p) <= sum(1)
                least = count.amin().item()
                all_covered, ratio_one = least > 0, least == self.window
                # sum(1)/sum(M_p) where sum(M_p) > 0, else 0 (count is an integer, so clamp(min=1) is exact)
                ratio = count.clamp(min=1.0).reciprocal_().mul_(self.window)
                if not all_covered:
                    ratio = ratio.mul_(new_valid)
            ratio = ratio.to(x.dtype)
        new_valid = new_valid.to(x.dtype)
        out_valid = new_valid.expand(-1, self.out_channels, -1, -1) if self.multi_channel else new_valid
        xm = x if all_known else x * valid.to(x.dtype)  # X o M
        if ratio_one:  # sum(1)/sum(M_p) = 1 everywhere: Eq. 1 is the plain convolution
            return F.conv2d(xm, self.weight, self.bias, self.stride, self.padding, self.dilation), out_valid
        out = F.conv2d(xm, self.weight, None, self.stride, self.padding, self.dilation)  # W^T (X o M)
        if self.bias is None:
            return out.mul_(ratio), out_valid  # Eq. 1, in place on the fresh output (its backward does not need it)
        if all_covered:  # sum(M_p) > 0 everywhere: Eq. 1 as one pass, b + W^T (X o M) * ratio
            return torch.addcmul(self.bias.view(1, -1, 1, 1), out, ratio), out_valid
        # + b where sum(M_p) > 0; exactly 0 (bias included) elsewhere, as ratio is 0 there
        return out.mul_(ratio).addcmul_(self.bias.view(1, -1, 1, 1), new_valid), out_valid


def maxpool_mask_update(valid: torch.Tensor, kernel_size: int = 3, stride: int = 1, padding: int | None = None,
                        dilation: int = 1) -> torch.Tensor:
    """MSA-Net's mask update: a max-pool over the valid map (MSA-Net Sect. 3.4, Fig. 9; after Uhrig et al. 2017).

    A position becomes known when any pixel in its window is known, i.e. the same rule as
    Eq. 2 of partial convolution, computed with ``max_pool2d`` instead of a convolution.
    Borders count as holes (the pool pads with zeros, never with ones).
    """
    check_valid(valid)
    if padding is None:
        padding = dilation * (kernel_size - 1) // 2
    # max_pool2d pads with -inf; pad with zeros explicitly so borders are holes.
    padded = F.pad(valid, (padding, padding, padding, padding), value=0.0)
    return F.max_pool2d(padded, kernel_size, stride=stride, padding=0, dilation=dilation)
