"""The data of each update: which images (a pure function of ``(seed, t)``) and which masks.

The batch of update ``t`` (``t = 0, 1, ...``) is the sample positions ``t*B .. t*B+B-1`` of the stream of epoch
permutations ``np.random.default_rng([seed, epoch]).permutation(len(dataset))``; the mask of batch element ``i`` is
``mask_fn(h, w, np.random.default_rng([seed, t, i]))``. Each rank takes its contiguous shard ``B / world`` of the
step's batch, so the averaged gradient is the gradient of the full batch.

**Several masks per image.** A mask source with an attribute ``masks_per_image = k > 1`` returns the ``k`` masks of
one image, ``mask_fn(h, w, rng) -> (k, h, w)`` (DeepGIN Sect. 5.1: every training image with each of its three mask
types). The ``B`` batch elements of update ``t`` are then image-major: element ``e`` is image ``e // k`` of the
step, under mask ``e % k`` of ``mask_fn(h, w, np.random.default_rng([seed, t, e // k]))``; the step reads the
``ceil(B / k)`` sample positions ``t*G .. t*G+G-1`` (``G = ceil(B / k)``; when ``k`` does not divide ``B``, e.g. a
smoke run's batch of one, the last image has only its first ``B mod k`` masks). Ranks shard the ``B`` elements as
above, each loading the images its elements need, so the step's elements do not depend on the number of processes.
With ``k = 1`` this is the rule above.
"""
from __future__ import annotations

from typing import Callable, Mapping

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

from .._validate import check_image, check_valid, stack_images
from .config import TrainConfig
from .distributed import DistContext

__all__ = ["StepBatches", "collate", "masks_per_image", "make_masks", "make_loader", "prepare_batch"]


def masks_per_image(mask_fn: Callable) -> int:
    """``mask_fn.masks_per_image`` (the masks it returns for one image; see the module docstring), 1 by default."""
    k = getattr(mask_fn, "masks_per_image", 1)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"mask_fn.masks_per_image must be a positive integer, got {k!r}")
    return int(k)


def _shard(batch_size: int, rank: int, world: int) -> range:
    """The batch elements of one rank: its contiguous ``batch_size / world``."""
    local = batch_size // world
    return range(rank * local, (rank + 1) * local)


class StepBatches(Sampler):
    """Yields the dataset indices of this rank's shard of the batches of updates ``start .. steps-1``."""

    def __init__(self, n: int, batch_size: int, seed: int, start: int, steps: int, rank: int, world: int,
                 per_image: int = 1):
        self.n, self.b, self.seed, self.start, self.steps = n, batch_size, seed, start, steps
        self.rank, self.world, self.k = rank, world, per_image
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
        per_step = -(-self.b // self.k)  # images per update: ceil(B / k)
        mine = _shard(self.b, self.rank, self.world)
        images = range(mine.start // self.k, (mine.stop - 1) // self.k + 1)  # the images of this rank's elements
        for t in range(self.start, self.steps):
            yield [self._index(t * per_step + j) for j in images]


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
    return stack_images(out, "the dataset's images", "Training stacks a batch into one tensor: give the dataset a "
                        "transform to one size, e.g. inpaintlib.data.ImageFolder(root, size, mode='random_crop') (or "
                        "'resize' / 'center_crop'), or a transform(image, rng) that returns 3 x size x size")


def make_masks(mask_fn: Callable, h: int, w: int, seed: int, t: int, indices: range, per_image: int = 1
               ) -> torch.Tensor:
    """The ``valid`` masks of batch elements (with ``per_image > 1``: of images) ``indices`` of update ``t``
    (``len x per_image x h x w``), checked."""
    out = np.empty((len(indices), per_image, h, w), np.float32)
    shape = (h, w) if per_image == 1 else (per_image, h, w)
    for j, i in enumerate(indices):
        m = mask_fn(h, w, np.random.default_rng([seed, t, i]))
        if not isinstance(m, np.ndarray):
            raise ValueError(f"mask_fn must return a numpy array of shape {shape} (1 = known, 0 = hole), "
                             f"got {type(m).__name__}")
        if m.shape != shape:
            raise ValueError(f"mask_fn(h={h}, w={w}, rng) returned shape {m.shape}; expected {shape} "
                             "float32 valid mask (1 = known, 0 = hole)"
                             + (f" (masks_per_image={per_image})" if per_image > 1 else ""))
        if m.dtype == np.bool_:  # as inpaintlib.masks.to_tensor: True could mean known or hole
            raise ValueError("mask_fn returned a boolean array; return a float32 valid map (1 = known, 0 = hole), "
                             "e.g. mask.astype(np.float32) if True means known")
        mf = m.astype(np.float32, copy=False)
        if not bool(((mf == 0) | (mf == 1)).all()):
            raise ValueError("mask_fn returned a non-binary mask (values other than exactly 0 and 1); expected a "
                             "float32 valid mask, 1 = known, 0 = hole")
        out[j] = mf
    return torch.from_numpy(out)


def make_loader(dataset, config: TrainConfig, start: int, ctx: DistContext, per_image: int = 1) -> DataLoader:
    """A DataLoader over this rank's shards of the batches of updates ``start .. config.steps - 1`` (``per_image``:
    the mask source's :func:`masks_per_image`)."""
    sampler = StepBatches(len(dataset), config.batch_size, config.seed, start, config.steps, ctx.rank, ctx.world,
                          per_image)
    loader_gen = torch.Generator()
    loader_gen.manual_seed(config.seed)  # the DataLoader must not draw from the global RNG (resume exactness)
    return DataLoader(dataset, batch_sampler=sampler, num_workers=config.num_workers, collate_fn=collate,
                      pin_memory=ctx.device.type == "cuda", generator=loader_gen)


def prepare_batch(images: torch.Tensor, mask_fn: Callable, config: TrainConfig, t: int, ctx: DistContext
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """The images of update ``t`` and their masks, checked on the CPU (no device synchronisation), on the device.
    With a mask source of ``k = masks_per_image > 1`` each image is repeated for its masks (module docstring)."""
    check_image(images, name=f"the dataset image batch of step {t + 1}")
    h, w = images.shape[-2:]
    k = masks_per_image(mask_fn)
    mine = _shard(config.batch_size, ctx.rank, ctx.world)
    if k == 1:
        valid = make_masks(mask_fn, h, w, config.seed, t, mine)
    else:
        first = mine.start // k  # the step's index of this rank's first image
        stacks = make_masks(mask_fn, h, w, config.seed, t, range(first, (mine.stop - 1) // k + 1), k)
        image_of = torch.tensor([e // k - first for e in mine])
        valid = stacks[image_of, torch.tensor([e % k for e in mine])].unsqueeze(1)
        images = images[image_of]
    check_valid(valid, image=images)
    return images.to(ctx.device, non_blocking=True), valid.to(ctx.device, non_blocking=True)
