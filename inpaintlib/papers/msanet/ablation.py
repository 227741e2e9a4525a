"""Tables 2-5 of MSA-Net as one ablation: our runs of each distinct variant, relabelled with each table's rows.

The paper prints one PSNR and one SSIM per row (Places2, over its whole test set), so its tables are compared with
our bucket ``"all"`` (the mean over every test pair).
"""
from __future__ import annotations

import math

import pandas as pd

from .recipe import TABLE_VARIANTS
from .tables import ABLATION_TABLES

__all__ = ["table_runs", "paper_rows", "resolution", "ALL"]

ALL = "all"
METRICS = {"PSNR": ("psnr", 0), "SSIM": ("ssim", 1)}


def table_runs(runs: pd.DataFrame, table: str) -> pd.DataFrame:
    """The rows of ``runs`` (tidy: variant, seed, metric, bucket, value) for the variants of paper ``table``
    ("Table 2" ...), the variant renamed to the table's row (a variant may appear in several tables)."""
    parts = [runs[runs.variant == ours].assign(variant=row) for row, ours in TABLE_VARIANTS[table].items()]
    return pd.concat(parts, ignore_index=True)


def paper_rows(table: str) -> dict[str, dict[str, tuple[float]]]:
    """Paper ``table`` in the kit's format ``{paper metric: {row: (value,)}}`` (one column, ``"all"``)."""
    t = ABLATION_TABLES[table]
    return {m: {row: (vals[i],) for row, vals in t.items()} for m, (_, i) in METRICS.items()}


def resolution(runs: pd.DataFrame, metric: str = "psnr", k: float = 2.0) -> dict[str, float]:
    """The smallest difference between two variants our runs can tell apart: ``k`` combined standard errors of two
    variants with the median seed spread, ``k * s * sqrt(2 / n)``; and the paper's gaps between rows of Tables 2-5
    for comparison (smallest and largest)."""
    sub = runs[(runs.metric == metric) & (runs.bucket == ALL)]
    per = sub.groupby("variant")["value"]
    s, n = float(per.std(ddof=1).median()), int(per.count().min())
    i = METRICS["PSNR" if metric == "psnr" else "SSIM"][1]
    gaps = [abs(a[i] - b[i]) for t in ABLATION_TABLES.values() for ra, a in t.items() for rb, b in t.items() if ra < rb]
    gaps = [g for g in gaps if g > 0]
    return {"seed_std": s, "seeds": n, "resolvable": k * s * math.sqrt(2 / n) if n > 1 else float("nan"),
            "paper_gap_min": min(gaps), "paper_gap_max": max(gaps)}
