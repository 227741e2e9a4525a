"""DeepGIN's training images (Sect. 5.1, "Training Batch Formation"): "we resized all training images to the size of
512x512 and adopted a sub-sampling method [25] to randomly select a sub-image with size of 256x256".

The sub-sampling is the polyphase split that Sect. 6.1 uses at test time (:func:`.testtime.split_subimages`, the one
implementation): sub-image ``(i, j)`` of the 512 px image holds its pixels ``[i::2, j::2]``, the whole picture at
half the resolution, not a crop. :func:`deepgin_subimage` takes one of the four at random; :class:`SubSampledImages`
does it for every item of a training set (the recipe's ``batch_formation="sect51"``, :mod:`.recipe`).
"""
from __future__ import annotations

import numpy as np
import torch

from ...data import item_rng, resize_image
from ...train.batches import collate
from .testtime import split_subimages

__all__ = ["LOAD_SIZE", "SUBSAMPLING", "deepgin_subimage", "SubSampledImages"]

#: Sect. 5.1: every training image resized to 512 x 512 (aspect ratio not kept), then sub-sampled by 2 to 256 x 256.
LOAD_SIZE, SUBSAMPLING = 512, 2
#: the last entry of the per-item generator of the phase, ``item_rng(seed, index, _PHASE_STREAM)``: a stream of its
#: own, apart from the draws of the wrapped dataset (``item_rng(seed, index)`` or ``item_rng(seed, index, epoch)``)
_PHASE_STREAM = 0x5351


def deepgin_subimage(image: torch.Tensor, rng: np.random.Generator, load_size: int = LOAD_SIZE,
                     factor: int = SUBSAMPLING) -> torch.Tensor:
    """Sect. 5.1 for one image: resized to ``load_size x load_size`` (antialiased bilinear,
    :func:`inpaintlib.data.resize_image`), then one of its ``factor**2`` polyphase sub-images
    (:func:`.testtime.split_subimages`), the phase ``(i, j)`` drawn uniformly from ``rng``: ``x[:, i::factor,
    j::factor]``, ``3 x load_size/factor x load_size/factor``. Its signature is an ``ImageFolder`` ``transform``'s."""
    x = resize_image(image, load_size)
    phase = int(rng.integers(0, factor * factor))  # i * factor + j
    return split_subimages(x[None], factor)[phase]


class SubSampledImages(torch.utils.data.Dataset):
    """A training set in Sect. 5.1's form: item ``i`` is :func:`deepgin_subimage` of ``base[i]`` (any size; the
    whole image, e.g. ``ImageFolder(root, 512, "resize")``), its phase drawn from ``item_rng(seed, i, ...)``: the
    same sub-image for the same index, as the training loop's exact resume requires (like the library's random
    crops, which the loop does not redraw per epoch). Items of ``base`` may be tensors, ``(image, ...)`` tuples or
    ``{"image": ...}`` dicts."""

    def __init__(self, base, load_size: int = LOAD_SIZE, factor: int = SUBSAMPLING, seed: int = 0):
        if load_size % factor:
            raise ValueError(f"load_size {load_size} is not a multiple of factor {factor}")
        self.base, self.load_size, self.factor, self.seed = base, int(load_size), int(factor), int(seed)

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> torch.Tensor:
        image = collate([self.base[index]])[0]
        return deepgin_subimage(image, item_rng(self.seed, index, _PHASE_STREAM), self.load_size,
                                self.factor).contiguous()

    def __repr__(self) -> str:
        return f"SubSampledImages({self.base!r}, load_size={self.load_size}, factor={self.factor}, seed={self.seed})"
