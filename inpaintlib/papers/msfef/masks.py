"""MSFEF's masks (Sarkar et al. 2023): the training rectangles of Sect. 4.2 and the buckets of Table 1.

The mask geometry helpers come from :mod:`inpaintlib.masks`; only what the MSFEF paper specifies lives here.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ...masks import rectangle_valid, check_rng, check_size, sample_in_bucket, to_tensor

__all__ = ["TABLE1_BUCKETS", "TABLE1_CLOSED", "msfef_rectangle_mask", "msfef_multi_rectangle_mask",
           "rectangle_test_masks"]

#: Table 1's buckets (Sect. 4.4), "mask-to-image ratio", written ``[lo, hi)`` (left-closed).
TABLE1_BUCKETS: tuple[tuple[float, float], ...] = ((0.01, 0.1), (0.1, 0.2), (0.2, 0.3), (0.3, 0.4), (0.4, 0.5))
TABLE1_CLOSED = "left"


def msfef_rectangle_mask(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """MSFEF training mask (Sect. 4.2, "Mask size"): one rectangle at a uniform random position.

    The paper says only "mask size between 0.1 x height and 0.25 x height of image". We read
    this as a **rectangle** whose height is uniform in ``[0.1 H, 0.25 H]`` (integers
    ``ceil(0.1 H) .. floor(0.25 H)``) and, our choice, whose width is drawn independently from the
    same range measured in the image **height** (``[0.1 H, 0.25 H]``, capped at ``W``), as the
    paper's sentence measures "size" in heights only. On a square image the hole ratio is
    therefore between 1% and 6.25%.
    """
    check_size(h, w)
    check_rng(rng)
    lo, hi = max(1, math.ceil(0.1 * h)), max(1, math.floor(0.25 * h))
    bh = int(rng.integers(lo, hi + 1))
    bw = min(w, int(rng.integers(lo, hi + 1)))
    top = int(rng.integers(0, h - bh + 1))
    left = int(rng.integers(0, w - bw + 1))
    return rectangle_valid(h, w, top, left, bh, bw)


def msfef_multi_rectangle_mask(h: int, w: int, rng, hole_range: tuple[float, float] = (0.01, 0.5)):
    """Our reading of the training masks of Sect. 4.2 item 2 that can reach the hole ratios of Table 1.

    The paper says only that the mask "size" lies between 0.1 and 0.25 of the image height and evaluates on
    hole ratios up to 0.5 (Table 1). One rectangle of that size (:func:`msfef_rectangle_mask`)
    covers at most 6.25% of a square image, so we draw a target hole ratio ``t ~ U(hole_range)`` and add such
    rectangles (each from ``msfef_rectangle_mask``: sides uniform in ``[0.1 H, 0.25 H]``, uniform position)
    until the hole ratio reaches ``t``. Returns a float32 ``(h, w)`` valid map (1 = known, 0 = hole).
    """
    lo, hi = hole_range
    if not 0 <= lo < hi <= 1:
        raise ValueError(f"hole_range must satisfy 0 <= lo < hi <= 1, got {hole_range}")
    target = float(rng.uniform(lo, hi))
    valid = np.ones((h, w), dtype=np.float32)
    for _ in range(1000):
        valid = valid * msfef_rectangle_mask(h, w, rng)
        if 1.0 - float(valid.mean()) >= target:
            break
    return valid


msfef_multi_rectangle_mask.accepts_hole_range = True


def rectangle_test_masks(size: int, per_bucket: int, seed: int = 0) -> tuple[torch.Tensor, list[int]]:
    """A seeded test set in the training-mask family (:func:`msfef_multi_rectangle_mask`), ``per_bucket`` masks
    per Table 1 bucket ([lo, hi)); mask ``k`` of bucket ``i`` comes from ``default_rng([seed, i, k])``.
    Returns ``(masks N x 1 x size x size, bucket index per mask)``."""
    out, ids = [], []
    for i in range(len(TABLE1_BUCKETS)):
        for k in range(per_bucket):
            rng = np.random.default_rng([seed, i, k])
            out.append(sample_in_bucket(msfef_multi_rectangle_mask, i, size, size, rng,
                                        buckets=TABLE1_BUCKETS, closed=TABLE1_CLOSED))
            ids.append(i)
    return to_tensor(out), ids
