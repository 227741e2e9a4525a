"""Hole-ratio buckets: the one owner of bucket edges, which side is closed, and their labels.

A bucket set is a sequence of ``(lo, hi)`` hole-ratio intervals and the side that is closed:

* ``closed="right"``: ``lo < r <= hi`` -- Liu et al. (ECCV 2018), whose irregular-mask test set MSA-Net and PMRFN
  report on (:data:`BUCKETS`, up to 0.6);
* ``closed="left"``: ``lo <= r < hi`` -- how MSFEF's Table 1 writes its buckets (the MSFEF paper package defines
  them).

Masks, metrics, test sets and tables all take buckets from here, so a label printed in a table is always the
interval its numbers were computed on.
"""
from __future__ import annotations

from typing import Sequence

__all__ = ["BUCKETS", "LIU_BUCKETS", "CLOSED_SIDES", "check_closed", "bucket_of", "bucket_label", "bucket_labels"]

#: Liu et al. (ECCV 2018) hole-ratio buckets, half-open ``(lo, hi]`` (MSA-Net Table 6 uses them).
BUCKETS: tuple[tuple[float, float], ...] = (
    (0.01, 0.1), (0.1, 0.2), (0.2, 0.3), (0.3, 0.4), (0.4, 0.5), (0.5, 0.6),
)
LIU_BUCKETS = BUCKETS
CLOSED_SIDES = ("right", "left")


def check_closed(closed: str) -> str:
    """``closed`` if it is ``"right"`` ((lo, hi], Liu et al.) or ``"left"`` ([lo, hi)); else a ``ValueError``."""
    if closed not in CLOSED_SIDES:
        raise ValueError(f"closed must be 'right' (Liu: (lo, hi]) or 'left' ([lo, hi), MSFEF Table 1), got {closed!r}")
    return closed


def bucket_of(hole_ratio: float, buckets: Sequence[tuple[float, float]] = BUCKETS,
              closed: str = "right") -> int | None:
    """Index of the bucket holding ``hole_ratio``, or ``None`` when it lies outside every bucket.

    ``closed="right"``: ``lo < r <= hi`` (Liu et al.); ``closed="left"``: ``lo <= r < hi`` (MSFEF Table 1).
    """
    check_closed(closed)
    r = float(hole_ratio)
    for i, (lo, hi) in enumerate(buckets):
        if (lo < r <= hi) if closed == "right" else (lo <= r < hi):
            return i
    return None


def bucket_label(i: int, buckets: Sequence[tuple[float, float]] = BUCKETS, closed: str = "right") -> str:
    """``"(0.01,0.1]"`` (closed="right") or ``"[0.01,0.1)"`` (closed="left") for bucket ``i``."""
    check_closed(closed)
    lo, hi = buckets[i]
    return f"({lo:g},{hi:g}]" if closed == "right" else f"[{lo:g},{hi:g})"


def bucket_labels(buckets: Sequence[tuple[float, float]] = BUCKETS, closed: str = "right") -> list[str]:
    """The labels of every bucket, in order (:func:`bucket_label`)."""
    return [bucket_label(i, buckets, closed) for i in range(len(buckets))]
