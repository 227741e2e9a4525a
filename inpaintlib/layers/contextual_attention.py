"""Contextual attention (Yu et al., CVPR 2018, "Generative Image Inpainting with Contextual Attention"; the layer of
Charef & Ouqour 2024, Sect. III.C, Fig. 2 and Eq. 1).

The six steps of Fig. 2 (Charef & Ouqour) in the terms of Yu et al., as the layer runs them:

1. *input feature*: a foreground map ``f`` (the features to complete) and a background map ``b`` (where known
   content is borrowed from; the same tensor inside the generator), both ``N x C x H x W``, and a ``valid`` map
   at the same resolution (1 = known, 0 = hole);
2. *foreground/background separation*: ``f`` and ``b`` are downsampled by ``rate`` (nearest) for matching;
   ``patch_size`` x ``patch_size`` background patches are extracted at stride 1 and a patch is *usable* only if
   its window holds no hole pixel (book/reference_implementations.md, "DeepFill v1: contextual attention"). The
   hole map is brought to the matching resolution by ``mask_downsample``: ``"nearest"`` (DeepFill v1's published
   code) keeps every ``rate``-th pixel, which can call a patch usable although its full-resolution raw patch touches
   the hole (thin strokes are often missed);
   ``"any"`` (max pooling) marks a position as hole if any of its pixels is, so usable patches are truly clean, but
   with irregular masks few or no patches may remain usable;
3. *reshape*: the background patches, each L2-normalised (norm floored at 1e-4; the foreground is not normalised),
   become convolution filters;
4. *attention scores*: ``s[p, q] = <f_p, b_q / max(||b_q||, 1e-4)>`` for every foreground position ``p`` and
   background patch ``q`` (cosine similarity up to ``||f_p||``); optionally *fused* (attention propagation,
   Yu et al. Sect. 4.1): ``s'[p, q] = sum_d s[p + d, q + d]`` over the ``fuse_k x fuse_k`` offsets ``d``, which
   favours matches whose neighbours also match; then the scaled softmax over ``q`` (Charef & Ouqour Eq. 1,
   ``alpha_q = exp(lambda s_q) / sum_j exp(lambda s_j)`` with ``lambda = softmax_scale``);
5. *weighted sum*: the attention weights paste the raw ``2 rate x 2 rate`` background patches of the
   full-resolution ``b`` with a transposed convolution of stride ``rate`` (every pixel is covered by four patches,
   so the sum is divided by 4, as in the reference);
6. *reconstructed foreground*: the output, ``N x C x H x W``.

Options (what each does):

* ``softmax_scale`` (lambda, 10 in the reference): sharpness of the softmax; large values approach a hard argmax.
* ``patch_size`` (3): the matching window at the reduced resolution.
* ``rate`` (2): matching on features downsampled by ``rate``; the raw patches pasted back are ``2 rate`` wide.
* ``fuse`` / ``fuse_k`` (True / 3): the attention-propagation step above. We shift in two dimensions with zero
  padding; the reference runs a 1-D identity convolution over the flattened score matrix twice (once transposed),
  which also sums across row ends.
* ``exclusion``: how unusable (hole) patches are kept out of the softmax. ``"zero"`` follows the reference: their
  scores are multiplied by 0 before the softmax and the weights by 0 after it, so each excluded patch still takes
  ``exp(0)`` of the denominator and the weights over usable patches sum to less than 1 (the reconstruction is
  darkened towards 0 by the missing mass). ``"neg_inf"`` is a true exclusion: their scores are set to minus infinity,
  and the weights over usable patches sum to exactly 1.
* ``mask_downsample``: ``"nearest"`` (reference) or ``"any"``, see step 2.
* ``hard``: replace the softmax by a one-hot at the argmax (for tests and figures; not trainable through the
  weights).

A foreground position with no usable background patch at all gets zero weights (and zero output), in both modes.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .._validate import check_valid

__all__ = ["ContextualAttention", "AttentionDetails", "EXCLUSIONS", "MASK_DOWNSAMPLES"]

EXCLUSIONS = ("zero", "neg_inf")
MASK_DOWNSAMPLES = ("nearest", "any")


@dataclass
class AttentionDetails:
    """What the layer computed, for figures and tests (``L = h * w`` positions at the matching resolution).

    ``scores``: ``N x L(fg) x L(bg)`` cosine scores before fuse; ``fused``: after fuse (= ``scores`` without fuse);
    ``attention``: the weights after the softmax and exclusion, ``N x L(fg) x L(bg)``; ``usable``: ``N x L(bg)``,
    1 where a background patch holds no hole; ``offsets``: ``N x 2 x h x w``, the ``(dy, dx)`` from each
    foreground position to its argmax background patch, in pixels of the full-resolution input; ``grid``:
    ``(h, w)``; ``rate``."""

    scores: torch.Tensor
    fused: torch.Tensor
    attention: torch.Tensor
    usable: torch.Tensor
    offsets: torch.Tensor
    grid: tuple[int, int]
    rate: int


class ContextualAttention(nn.Module):
    """Contextual attention layer (Yu et al. 2018; Charef & Ouqour 2024, Fig. 2, Eq. 1). No learnable weights.

    ``forward(foreground, background, valid, return_details=False)``: ``foreground`` and ``background`` are
    ``N x C x H x W`` feature maps (``background=None`` uses the foreground), ``valid`` is ``N x 1 x H x W``
    (1 = known, 0 = hole) at the same resolution; ``H`` and ``W`` must be multiples of ``rate``. Returns the
    reconstruction ``N x C x H x W`` (and an :class:`AttentionDetails` with ``return_details=True``). The
    convention followed is the DeepFill v1 reference (book/reference_implementations.md, "DeepFill v1: contextual
    attention"); see the module docstring.
    """

    def __init__(self, patch_size: int = 3, rate: int = 2, softmax_scale: float = 10.0, fuse: bool = True,
                 fuse_k: int = 3, exclusion: str = "zero", hard: bool = False, norm_floor: float = 1e-4,
                 mask_downsample: str = "nearest"):
        super().__init__()
        if patch_size < 1 or patch_size % 2 == 0:
            raise ValueError(f"patch_size must be odd and positive, got {patch_size}")
        if fuse_k < 1 or fuse_k % 2 == 0:
            raise ValueError(f"fuse_k must be odd and positive, got {fuse_k}")
        if rate < 1:
            raise ValueError(f"rate must be >= 1, got {rate}")
        if exclusion not in EXCLUSIONS:
            raise ValueError(f"exclusion must be one of {EXCLUSIONS}, got {exclusion!r}")
        if mask_downsample not in MASK_DOWNSAMPLES:
            raise ValueError(f"mask_downsample must be one of {MASK_DOWNSAMPLES}, got {mask_downsample!r}")
        if softmax_scale <= 0:
            raise ValueError(f"softmax_scale must be positive, got {softmax_scale}")
        self.patch_size, self.rate, self.softmax_scale = int(patch_size), int(rate), float(softmax_scale)
        self.fuse, self.fuse_k, self.exclusion, self.hard = bool(fuse), int(fuse_k), exclusion, bool(hard)
        self.norm_floor, self.mask_downsample = float(norm_floor), mask_downsample

    def extra_repr(self) -> str:
        return (f"patch_size={self.patch_size}, rate={self.rate}, softmax_scale={self.softmax_scale:g}, "
                f"fuse={self.fuse}, fuse_k={self.fuse_k}, exclusion={self.exclusion!r}, hard={self.hard}, "
                f"mask_downsample={self.mask_downsample!r}")

    # ---------------------------------------------------------------------------------------- steps
    def _check(self, f, b, valid):
        if not isinstance(f, torch.Tensor) or f.dim() != 4:
            raise ValueError(f"foreground must be an N x C x H x W tensor, got {getattr(f, 'shape', type(f))}")
        if b.shape != f.shape:
            raise ValueError(f"background shape {tuple(b.shape)} must equal foreground shape {tuple(f.shape)}")
        check_valid(valid, f)
        h, w = f.shape[-2:]
        if h % self.rate or w % self.rate:
            raise ValueError(f"feature height and width must be multiples of rate={self.rate}, got {h}x{w}")

    def _usable(self, valid: torch.Tensor) -> torch.Tensor:
        """Step 2: 1 for background patches (at the matching resolution) with no hole pixel; ``N x L``."""
        r = self.rate
        hole = F.max_pool2d(1 - valid, r) if self.mask_downsample == "any" else (1 - valid)[..., ::r, ::r]
        k = self.patch_size
        inside = F.avg_pool2d(hole, k, stride=1, padding=k // 2, count_include_pad=True)  # outside = known
        return (inside.flatten(1) == 0).to(valid.dtype)

    def _scores(self, f_low: torch.Tensor, b_low: torch.Tensor) -> torch.Tensor:
        """Steps 3-4: ``N x L(fg) x L(bg)`` foreground patches against L2-normalised background patches."""
        k = self.patch_size
        fp = F.unfold(f_low, k, padding=k // 2)  # N x (C k k) x L
        bp = F.unfold(b_low, k, padding=k // 2)
        bp = bp / bp.norm(dim=1, keepdim=True).clamp_min(self.norm_floor)
        return torch.einsum("ncp,ncq->npq", fp, bp)

    def _fuse(self, s: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """Attention propagation: ``s'[p, q] = sum_d s[p + d, q + d]`` over ``fuse_k x fuse_k`` offsets ``d``."""
        n, r = s.shape[0], self.fuse_k // 2
        s4 = F.pad(s.reshape(n, h, w, h, w), (r, r, r, r, r, r, r, r))
        out = torch.zeros(n, h, w, h, w, dtype=s.dtype, device=s.device)
        for dy in range(-r, r + 1):
            for dx in range(-r, r + 1):
                out = out + s4[:, r + dy:r + dy + h, r + dx:r + dx + w, r + dy:r + dy + h, r + dx:r + dx + w]
        return out.reshape(n, h * w, h * w)

    def _weights(self, s: torch.Tensor, usable: torch.Tensor) -> torch.Tensor:
        """Step 4, the scaled softmax over background patches (Eq. 1) with hole patches excluded."""
        mm = usable[:, None, :]  # N x 1 x L(bg)
        if self.exclusion == "zero":  # reference: scores x 0, softmax, weights x 0
            a = F.softmax(s * mm * self.softmax_scale, dim=-1) * mm
        else:  # true exclusion: minus infinity before the softmax
            a = F.softmax((s * self.softmax_scale).masked_fill(mm == 0, float("-inf")), dim=-1)
            a = torch.nan_to_num(a, nan=0.0)  # rows with no usable patch
        if self.hard:
            idx = a.argmax(dim=-1)
            a = F.one_hot(idx, a.shape[-1]).to(a.dtype) * (a.sum(-1, keepdim=True) > 0)
        return a

    def _paste(self, attention: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Step 5: raw ``2 rate x 2 rate`` background patches pasted with the weights (a transposed convolution of
        stride ``rate``), divided by 4. Patches follow TensorFlow's "SAME" extraction (pad ``rate // 2`` before)."""
        r, k = self.rate, 2 * self.rate
        h_full, w_full = b.shape[-2:]
        top = r // 2
        padded = F.pad(b, (top, r - top, top, r - top))
        raw = F.unfold(padded, k, stride=r)  # N x (C k k) x L(bg)
        cols = torch.einsum("ncq,npq->ncp", raw, attention)  # N x (C k k) x L(fg)
        out = F.fold(cols, (h_full + r, w_full + r), k, stride=r)
        return out[..., top:top + h_full, top:top + w_full] / 4.0

    def _offsets(self, attention: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """``N x 2 x h x w`` (dy, dx) from each foreground position to its argmax patch, in full-resolution pixels;
        0 where a row has no weight."""
        idx = attention.argmax(dim=-1)  # N x L(fg)
        by, bx = idx // w, idx % w
        pos = torch.arange(h * w, device=attention.device)
        fy, fx = pos // w, pos % w
        has = attention.sum(-1) > 0
        off = torch.stack([(by - fy) * has, (bx - fx) * has], 1).to(attention.dtype) * self.rate
        return off.reshape(-1, 2, h, w)

    def forward(self, foreground: torch.Tensor, background: torch.Tensor | None = None,
                valid: torch.Tensor | None = None, return_details: bool = False):
        f = foreground
        b = f if background is None else background
        if valid is None:
            valid = torch.ones(f.shape[0], 1, *f.shape[-2:], dtype=f.dtype, device=f.device)
        self._check(f, b, valid)
        r = self.rate
        f_low, b_low = f[..., ::r, ::r], b[..., ::r, ::r]  # nearest downsampling by rate (reference)
        h, w = f_low.shape[-2:]
        usable = self._usable(valid.to(f.dtype))
        scores = self._scores(f_low, b_low)
        fused = self._fuse(scores, h, w) if self.fuse else scores
        attention = self._weights(fused, usable)
        out = self._paste(attention, b)
        if not return_details:
            return out
        with torch.no_grad():
            offsets = self._offsets(attention, h, w)
        return out, AttentionDetails(scores, fused, attention, usable, offsets, (h, w), r)
