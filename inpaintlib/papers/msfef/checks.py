"""The paper's Table 1 checked against itself: what it shows, read from its cells rather than its prose.

* **PSNR against L2.** If "L2" is the mean squared error of images in [0, 1], a PSNR computed from the same errors is
  ``10 log10(1 / L2)`` when taken on the mean error, and at least that (Jensen's inequality) when it is the mean of
  per-image PSNRs. With L2 printed to 4 decimals, the printed PSNR should therefore not fall below
  ``10 log10(1 / (L2 + 0.00005))``. Cells below that bound cannot both be right under either reading.
* **Repeated cells.** Values identical to every printed digit in two rows of one metric and bucket are unlikely
  to be measurements of different networks when they carry many digits.
* **Is the full model best?** For each metric and bucket, the best row; counted rather than paraphrased.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import pandas as pd

from ...chapter.tables import repeated_values
from .tables import PAPER_TABLE1, PAPER_TABLE1_METRICS

__all__ = ["psnr_vs_l2", "repeated_cells", "best_rows", "wins", "table1_findings"]

L2_HALF_UNIT = 0.00005  # half of the last printed digit of Table 1's L2 (4 decimals)


def psnr_vs_l2(table: Mapping = PAPER_TABLE1, buckets: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per (row, bucket): printed L2, printed PSNR, the lowest PSNR the L2 allows
    (``10 log10(1 / (L2 + half a digit))``), ``10 log10(1 / L2)``, and ``consistent`` (printed PSNR >= the bound)."""
    out = []
    for row, l2s in table["L2"].items():
        for i, (l2, p) in enumerate(zip(l2s, table["PSNR"][row])):
            low = 10 * math.log10(1 / (l2 + L2_HALF_UNIT))
            out.append({"row": row, "bucket": buckets[i] if buckets else i, "L2": l2, "PSNR printed": p,
                        "PSNR from L2": 10 * math.log10(1 / l2), "lowest PSNR allowed": low,
                        "consistent": p >= low - 1e-9})
    return pd.DataFrame(out)


def repeated_cells(table: Mapping = PAPER_TABLE1, buckets: Sequence[str] | None = None) -> pd.DataFrame:
    """Values printed identically in two or more rows of the same metric and bucket
    (:func:`inpaintlib.chapter.repeated_values` on Table 1)."""
    return repeated_values(table, buckets)


def best_rows(table: Mapping = PAPER_TABLE1, buckets: Sequence[str] | None = None) -> pd.DataFrame:
    """For each metric (rows) and bucket (columns), the row of Table 1 with the best printed value."""
    out = {}
    for metric, rows in table.items():
        higher = PAPER_TABLE1_METRICS[metric][1]
        n = len(next(iter(rows.values())))
        pick = max if higher else min
        out[metric] = [pick(rows, key=lambda r: rows[r][i]) for i in range(n)]
    return pd.DataFrame(out, index=list(buckets) if buckets else None).T


def wins(table: Mapping = PAPER_TABLE1, a: str = "All loss + MSFEF", b: str = "All loss + No MSFEF") -> pd.Series:
    """Per metric, in how many buckets row ``a`` prints a better value than row ``b`` (ties count as not better)."""
    out = {}
    for metric, rows in table.items():
        higher = PAPER_TABLE1_METRICS[metric][1]
        out[metric] = sum((x > y) if higher else (x < y) for x, y in zip(rows[a], rows[b]))
    return pd.Series(out, name=f"buckets where {a} beats {b}")


def table1_findings(buckets: Sequence[str] | None = None) -> dict:
    """Everything the ablation notebook reads from the paper's Table 1 itself: ``best`` (best row per cell),
    ``inconsistent`` (PSNR cells below the bound their L2 allows), ``repeated`` (values repeated across rows),
    ``n_best`` (cells where "All loss + MSFEF" is best) and ``text``, a sentence generated from these numbers."""
    best, w = best_rows(buckets=buckets), wins()
    l2 = psnr_vs_l2(buckets=buckets)
    bad, rep = l2[~l2.consistent], repeated_cells(buckets=buckets)
    n_best = int((best == "All loss + MSFEF").sum().sum())
    text = (f"In the paper's Table 1, \"All loss + MSFEF\" is the best row in {n_best} of {best.size} metric-bucket "
            f"cells; it beats \"All loss + No MSFEF\" in " + ", ".join(f"{v} of 5 {m} buckets" for m, v in w.items())
            + f". {len(bad)} of {len(l2)} PSNR cells lie below the bound their L2 allows; {len(rep)} values repeat "
            "across rows of one bucket (transcribed as printed).")
    return {"best": best, "inconsistent": bad.drop(columns="consistent"), "repeated": rep, "n_best": n_best,
            "text": text}
