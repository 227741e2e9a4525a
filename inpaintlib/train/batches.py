"""The data of each update: which images (a pure function of ``(seed, t)``) and which masks.

The batch of update ``t`` (``t = 0, 1, ...``) is the sample positions ``t*B .. t*B+B-1`` of the stream of epoch
permutations ``np.random.default_rng([seed, epoch]).permutation(len(dataset))``; the mask of batch element ``i`` is
``mask_fn(h, w, np.random.default_rng([seed, t, i]))``. Each rank takes its contiguous shard ``B / world`` of the
step's batch, so the averaged gradient is the gradient of the full batch.
"""
from __future__ import annotations

from typing import Callable, Mapping

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

from .._validate import check_image, check_valid
from .config import TrainConfig
from .distributed import DistContext

__all__ = ["StepBatches", "collate", "make_masks", "make_loader", "prepare_batch"]


class StepBatches(Sampler):
    """Yields the dataset indices of this rank's shard of the batches of updates ``start .. steps-1``."""

    def __init__(self, n: int, batch_size: int, seed: int, start: int, steps: int, rank: int, world: int):
        self.n, self.b, self.seed, self.start, self.steps = n, batch_size, seed, start, steps
        self.rank, self.world = rank, world
        self._epoch, self._perm = None, None

    def _index(self, pos: int) -> int:
        epoch, j = divmod(pos, self.n)
        if epoch != self._epoch:
            self._epoch = epoch
            self._perm = np.random.default_rng([self.seed, epoch]).permutation(self.n)
        return int(self._perm[j])

    def __len__(self) -> int:
        return self.steps - self.start

    def __iter__(self):
        local = self.b // self.world
        for t in range(self.start, self.steps):
            first = t * self.b + self.rank * local
            yield [self._index(p) for p in range(first, first + local)]


def collate(items: list) -> torch.Tensor:
    """Stack dataset items (tensors, ``(image, ...)`` tuples or ``{"image": ...}`` dicts) to ``N x C x H x W``."""
    out = []
    for it in items:
        if isinstance(it, Mapping):
            if "image" not in it:
                raise ValueError(f"dataset items that are dicts need an 'image' key, got keys {sorted(it)}")
            it = it["image"]
        elif isinstance(it, (tuple, list)):
            it = it[0]
        if isinstance(it, np.ndarray):
            it = torch.from_numpy(it)
        if not isinstance(it, torch.Tensor) or it.dim() != 3:
            raise ValueError("the dataset must return images as C x H x W tensors (or (image, ...) tuples / "
                             f"{{'image': ...}} dicts), got {type(it).__name__} {getattr(it, 'shape', '')}")
        out.append(it)
    return torch.stack(out)


def make_masks(mask_fn: Callable, h: int, w: int, seed: int, t: int, indices: range) -> torch.Tensor:
    """The ``valid`` masks of batch elements ``indices`` of update ``t`` (``len x 1 x h x w``), checked."""
    out = np.empty((len(indices), 1, h, w), np.float32)
    for j, i in enumerate(indices):
        m = mask_fn(h, w, np.random.default_rng([seed, t, i]))
        if not isinstance(m, np.ndarray):
            raise ValueError(f"mask_fn must return a numpy array of shape ({h}, {w}) (1 = known, 0 = hole), "
                             f"got {type(m).__name__}")
        if m.shape != (h, w):
            raise ValueError(f"mask_fn(h={h}, w={w}, rng) returned shape {m.shape}; expected ({h}, {w}) "
                             "float32 valid mask (1 = known, 0 = hole)")
        if m.dtype == np.bool_:  # as inpaintlib.masks.to_tensor: True could mean known or hole
            raise ValueError("mask_fn returned a boolean array; return a float32 valid map (1 = known, 0 = hole), "
                             "e.g. mask.astype(np.float32) if True means known")
        mf = m.astype(np.float32, copy=False)
        if not bool(((mf == 0) | (mf == 1)).all()):
            raise ValueError("mask_fn returned a non-binary mask (values other than exactly 0 and 1); expected a "
                             "float32 valid mask, 1 = known, 0 = hole")
        out[j, 0] = mf
    return torch.from_numpy(out)


def make_loader(dataset, config: TrainConfig, start: int, ctx: DistContext) -> DataLoader:
    """A DataLoader over this rank's shards of the batches of updates ``start .. config.steps - 1``."""
    sampler = StepBatches(len(dataset), config.batch_size, config.seed, start, config.steps, ctx.rank, ctx.world)
    loader_gen = torch.Generator()
    loader_gen.manual_seed(config.seed)  # the DataLoader must not draw from the global RNG (resume exactness)
    return DataLoader(dataset, batch_sampler=sampler, num_workers=config.num_workers, collate_fn=collate,
                      pin_memory=ctx.device.type == "cuda", generator=loader_gen)


def prepare_batch(images: torch.Tensor, mask_fn: Callable, config: TrainConfig, t: int, ctx: DistContext
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """The images of update ``t`` and their masks, checked on the CPU (no device synchronisation), on the device."""
    check_image(images, name=f"the dataset image batch of step {t + 1}")
    h, w = images.shape[-2:]
    local = config.batch_size // ctx.world
    valid = make_masks(mask_fn, h, w, config.seed, t, range(ctx.rank * local, (ctx.rank + 1) * local))
    check_valid(valid, image=images)
    return images.to(ctx.device, non_blocking=True), valid.to(ctx.device, non_blocking=True)
