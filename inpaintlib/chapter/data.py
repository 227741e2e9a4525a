"""Data for a chapter at a scale: training set, test photographs, fixed test masks and the protocol.

``ci`` and ``demo`` use the sample scenes (photographs shipped with scikit-image, scikit-learn and matplotlib; the
test photographs are never trained on). ``paper`` with ``data_root`` uses the paper's dataset, prepared by
``python -m data_prep.datasets NAME --root DATA_ROOT/NAME``; without ``data_root`` it falls back to the sample
scenes and says so.

The training set is cropped at the network's size (``open_dataset``'s random crop, or the sample scenes' crops),
unless the recipe cuts its own sub-images from whole images: then ``train_size`` asks for every training image
resized whole to ``train_size x train_size`` (aspect ratio not kept; DeepGIN Sect. 5.1's 512 x 512, read by
:meth:`inpaintlib.chapter.Run.data` from the recipe's ``train_load_size``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..buckets import BUCKETS
from ..data import SampleScenes, open_dataset
from ..masks import MaskTestSet, cached_testset
from ..metrics import Protocol
from ..paths import check_scale

__all__ = ["ChapterData", "chapter_data", "per_bucket_for", "test_masks", "PER_BUCKET", "MAX_TEST_IMAGES"]

#: Test masks per hole-ratio bucket. Our choice at every scale (no paper says how many masks per bucket it used):
#: 8 keeps a ci notebook within minutes on 2 CPU cores; 50 at demo and paper scale.
PER_BUCKET = {"ci": 8, "demo": 50, "paper": 50}
#: At most this many test photographs are scored (our choice; the sample scenes hold 4 test photographs).
MAX_TEST_IMAGES = {"ci": 64, "demo": 330, "paper": 330}


def per_bucket_for(scale: str) -> int:
    """Test masks per bucket at ``scale`` (:data:`PER_BUCKET`, our choice)."""
    return PER_BUCKET[check_scale(scale)]


def test_masks(size: int, scale: str, buckets: Sequence[tuple[float, float]] = BUCKETS, closed: str = "right",
               label: str | None = None, generator: str = "irregular", seed: int = 0,
               per_bucket: int | None = None) -> MaskTestSet:
    """The fixed, seeded test-mask set for a chapter at ``scale`` (written on first use under
    ``inpaintlib.paths.data_dir()``; see :func:`inpaintlib.masks.cached_testset`); ``per_bucket`` overrides
    :data:`PER_BUCKET` (a smoke test's knob)."""
    n = per_bucket_for(scale) if per_bucket is None else int(per_bucket)
    return MaskTestSet(cached_testset(size, n, seed, generator, buckets, closed, label))


@dataclass
class ChapterData:
    """One dataset's split for a chapter: ``name``, the training ``train`` Dataset, the stacked ``test_images``
    (N x 3 x H x W), the ``mask_set`` and its stacked ``masks`` (M x 1 x H x W), the scoring ``protocol``, and
    ``n_examples``, how many pairs a figure of examples shows by default (4; a smoke run's ``test_images``)."""

    name: str
    train: torch.utils.data.Dataset
    test_images: torch.Tensor
    mask_set: MaskTestSet
    protocol: Protocol
    n_examples: int = 4
    n_eval: int | None = None

    @property
    def masks(self) -> torch.Tensor:
        return self.mask_set.masks()

    def training_eval(self) -> dict[str, torch.Tensor]:
        """``eval_images``/``eval_masks`` for a training function's evaluation during training: every test pair,
        or the first ``n_eval`` masks (a smoke run evaluates one pair: the code path, not the number)."""
        masks = self.masks if self.n_eval is None else self.masks[:self.n_eval]
        return {"eval_images": self.test_images, "eval_masks": masks}

    def examples(self, buckets: Sequence[int] = (0, 2, 3, 4), n: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` (default :attr:`n_examples`) test photographs, each with the first test mask of one of ``buckets``
        (cycled): for figures."""
        n = self.n_examples if n is None else n
        ids = self.mask_set.bucket_ids
        pick = [int(np.flatnonzero(ids == b)[0]) for b in buckets]
        images = self.test_images[[i % len(self.test_images) for i in range(n)]]
        return images, self.masks[[pick[i % len(pick)] for i in range(n)]]


def _stack(dataset, limit: int) -> torch.Tensor:
    return torch.stack([dataset[i] for i in range(min(len(dataset), limit))])


def chapter_data(scale: str, size: int, protocol: Protocol, *, data_root: str | os.PathLike | None = None,
                 datasets: Sequence[str] = (), seed: int = 0, mask_label: str | None = None,
                 mask_generator: str = "irregular", per_bucket: int | None = None,
                 max_test_images: int | None = None, n_examples: int = 4,
                 n_eval: int | None = None, train_size: int | None = None) -> dict[str, ChapterData]:
    """``name -> ChapterData`` for the chapter: at ``paper`` scale with ``data_root``, one entry per name in
    ``datasets`` (each prepared under ``data_root/<name>``); otherwise one entry, ``"sample_scenes"``. Test masks
    use the protocol's buckets (``per_bucket`` of them per bucket; default :data:`PER_BUCKET`); at most
    ``max_test_images`` test photographs are scored (default :data:`MAX_TEST_IMAGES`; both are smoke-test knobs);
    figures of examples show ``n_examples`` pairs by default, and the evaluation during training uses the first
    ``n_eval`` masks (all by default). ``train_size``: the training images resized whole to that side (a prepared
    dataset's ``"resize"`` mode; sample scenes at that size) for a recipe that cuts its own sub-images; None: cropped
    at ``size`` (module docstring)."""
    check_scale(scale)
    masks = test_masks(size, scale, protocol.buckets, protocol.closed, mask_label, mask_generator,
                       per_bucket=per_bucket)
    limit = MAX_TEST_IMAGES[scale] if max_test_images is None else int(max_test_images)
    if scale == "paper" and data_root is not None and datasets:
        out = {}
        for name in datasets:
            root = Path(data_root) / name
            train = (open_dataset(name, root, "train", size, seed=seed) if train_size is None else
                     open_dataset(name, root, "train", train_size, mode="resize", seed=seed))
            out[name] = ChapterData(name, train,
                                    _stack(open_dataset(name, root, "test", size), limit), masks, protocol,
                                    n_examples, n_eval)
        return out
    if data_root is not None:
        print(f"data_root is used at paper scale only; {scale} scale uses the sample scenes")
    return {"sample_scenes": ChapterData("sample_scenes", SampleScenes("train", train_size or size, seed=seed),
                                         _stack(SampleScenes("test", size), limit), masks, protocol,
                                         n_examples, n_eval)}
