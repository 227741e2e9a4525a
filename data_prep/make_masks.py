"""Write a fixed, seeded mask test set (``inpaintlib.masks.write_mask_testset``).

Usage::

    python -m data_prep.make_masks --size 64 --per-bucket 20 --seed 0 --out DIR
        [--generator irregular] [--buckets liu|msfef]

``--buckets liu`` (default) uses Liu et al.'s six ``(lo, hi]`` buckets up to 0.6; ``msfef`` uses
MSFEF Table 1's five ``[lo, hi)`` buckets up to 0.5. PNGs store 255 = known, 0 = hole.
Re-running with the same arguments is a no-op.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from inpaintlib.buckets import BUCKETS
from inpaintlib.masks import GENERATORS, cached_testset, write_mask_testset
from inpaintlib.papers.msfef.masks import TABLE1_BUCKETS, TABLE1_CLOSED

BUCKET_SETS = {"liu": (BUCKETS, "right"), "msfef": (TABLE1_BUCKETS, TABLE1_CLOSED)}


def _bucket_set(buckets: str):
    if buckets not in BUCKET_SETS:
        raise ValueError(f"buckets must be one of {sorted(BUCKET_SETS)}, got {buckets!r}")
    return BUCKET_SETS[buckets]


def make_masks(out: str | Path, size: int, per_bucket: int, seed: int, generator: str = "irregular",
               buckets: str = "liu", progress: bool = False) -> Path:
    b, closed = _bucket_set(buckets)
    return write_mask_testset(out, size, per_bucket, seed, buckets=b, generator=generator, closed=closed,
                              progress=progress)


def ensure_ci_masks(size: int = 64, per_bucket: int = 20, seed: int = 0, generator: str = "irregular",
                    buckets: str = "liu") -> Path:
    """The mask test set for these arguments under ``inpaintlib.paths.data_dir()/masks/<name>``
    (``inpaintlib.masks.cached_testset``), written on first use."""
    b, closed = _bucket_set(buckets)
    return cached_testset(size, per_bucket, seed, generator, b, closed, label=buckets)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m data_prep.make_masks", description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, required=True, help="mask side in pixels")
    ap.add_argument("--per-bucket", type=int, default=20, help="masks per hole-ratio bucket")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="output folder (default: <data_dir>/masks/<name>)")
    ap.add_argument("--generator", default="irregular", choices=sorted(GENERATORS))
    ap.add_argument("--buckets", default="liu", choices=sorted(BUCKET_SETS))
    args = ap.parse_args(argv)
    try:
        if args.out is None:
            path = ensure_ci_masks(args.size, args.per_bucket, args.seed, args.generator, args.buckets)
        else:
            path = make_masks(args.out, args.size, args.per_bucket, args.seed, args.generator, args.buckets,
                              progress=True)
    except (OSError, ValueError, RuntimeError) as e:  # OSError: e.g. an unwritable folder, named in e
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
