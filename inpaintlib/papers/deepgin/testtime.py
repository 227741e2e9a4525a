"""DeepGIN's test-time procedures, from the authors' code (book/reference_implementations.md, "DeepGIN: test time");
the paper names only the sub-sampling [25].

* **Self-ensemble** (:func:`ensemble_predict`): complete the image under the identity, rotations by 90, 180 and 270
  degrees and a horizontal flip, undo each transform on the prediction, average the five, then composite.
* **Sub-image split** (:func:`split_subimages`, :func:`merge_subimages`, :func:`subimage_predict`): at the original
  size, Sect. 6.1 "divided the input into a number of 256x256 sub-images using the sub-sampling method [25] ... then
  regrouped the sub-images ... by using the reverse sub-sampling method". The sub-sampling is polyphase: sub-image
  ``(i, j)`` of factor ``s`` holds the pixels ``[i::s, j::s]`` (every ``s``-th pixel, not a crop), so each
  sub-image sees the whole scene at ``1/s`` resolution and the regrouping is an exact inverse.

Both wrap a ``predict(image, valid) -> output`` (e.g. :func:`inpaintlib.chapter.predictor`) and return one.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from ..._validate import check_image, check_valid

__all__ = ["ENSEMBLE_TRANSFORMS", "ensemble_predict", "with_ensemble", "split_subimages", "merge_subimages",
           "subimage_predict", "with_subimages"]

#: name -> (forward transform, its inverse) on N x C x H x W tensors (authors' code: five predictions).
ENSEMBLE_TRANSFORMS: dict[str, tuple[Callable, Callable]] = {
    "identity": (lambda x: x, lambda x: x),
    "rot90": (lambda x: torch.rot90(x, 1, (-2, -1)), lambda x: torch.rot90(x, -1, (-2, -1))),
    "rot180": (lambda x: torch.rot90(x, 2, (-2, -1)), lambda x: torch.rot90(x, -2, (-2, -1))),
    "rot270": (lambda x: torch.rot90(x, 3, (-2, -1)), lambda x: torch.rot90(x, -3, (-2, -1))),
    "hflip": (lambda x: torch.flip(x, (-1,)), lambda x: torch.flip(x, (-1,))),
}


@torch.no_grad()
def ensemble_predict(predict: Callable, image: torch.Tensor, valid: torch.Tensor,
                     transforms: Sequence[str] = tuple(ENSEMBLE_TRANSFORMS)) -> torch.Tensor:
    """The mean over ``transforms`` of ``inverse(predict(T(image), T(valid)))`` (the raw output; composite it as
    usual). With ``("identity",)`` it is ``predict`` itself."""
    check_image(image)
    check_valid(valid, image)
    outs = []
    for name in transforms:
        fwd, inv = ENSEMBLE_TRANSFORMS[name]
        outs.append(inv(predict(fwd(image), fwd(valid))))
    return torch.stack(outs).mean(0)


def with_ensemble(predict: Callable, transforms: Sequence[str] = tuple(ENSEMBLE_TRANSFORMS)) -> Callable:
    """``predict`` wrapped by :func:`ensemble_predict`."""
    return lambda image, valid: ensemble_predict(predict, image, valid, transforms)


def split_subimages(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Polyphase sub-sampling: N x C x H x W -> (N * factor^2) x C x H/factor x W/factor, sub-image ``(i, j)`` of
    image ``n`` at batch index ``n * factor^2 + i * factor + j`` holding ``x[n, :, i::factor, j::factor]``."""
    n, c, h, w = x.shape
    if factor < 1 or h % factor or w % factor:
        raise ValueError(f"height and width ({h}, {w}) must be multiples of factor {factor}")
    y = x.reshape(n, c, h // factor, factor, w // factor, factor)
    return y.permute(0, 3, 5, 1, 2, 4).reshape(n * factor * factor, c, h // factor, w // factor)


def merge_subimages(x: torch.Tensor, factor: int) -> torch.Tensor:
    """The exact inverse of :func:`split_subimages` (the "reverse sub-sampling" of Sect. 6.1)."""
    nf, c, h, w = x.shape
    if nf % (factor * factor):
        raise ValueError(f"batch {nf} is not a multiple of factor^2 = {factor * factor}")
    y = x.reshape(nf // (factor * factor), factor, factor, c, h, w)
    return y.permute(0, 3, 4, 1, 5, 2).reshape(nf // (factor * factor), c, h * factor, w * factor)


@torch.no_grad()
def subimage_predict(predict: Callable, image: torch.Tensor, valid: torch.Tensor, size: int,
                     multiple: int = 16) -> torch.Tensor:
    """Complete an image larger than the training size ``size``: factor ``s = max(1, round(H / size))``; pad (replicate)
    H and W up to multiples of ``s * multiple``, split, complete every sub-image (``predict`` on the batch), merge,
    crop back. Returns the raw output at the original size."""
    check_image(image)
    check_valid(valid, image)
    h, w = image.shape[-2:]
    s = max(1, round(max(h, w) / size))
    m = s * multiple
    ph, pw = -h % m, -w % m
    img = F.pad(image, (0, pw, 0, ph), mode="replicate") if ph or pw else image
    val = F.pad(valid, (0, pw, 0, ph), mode="replicate") if ph or pw else valid
    out = merge_subimages(predict(split_subimages(img, s), split_subimages(val, s)), s)
    return out[..., :h, :w]


def with_subimages(predict: Callable, size: int, multiple: int = 16) -> Callable:
    """``predict`` wrapped by :func:`subimage_predict`."""
    return lambda image, valid: subimage_predict(predict, image, valid, size, multiple)
