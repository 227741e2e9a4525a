"""MSA-Net's printed tables checked against themselves and against its text.

* **Table 1.** The printed counts are rounded thousands; :func:`table1_counts` puts the counts of our units (input
  width 128, no biases) beside them.
* **Repeated rows across Tables 2-5.** A (PSNR, SSIM) pair printed to 3 and 4 decimals in two tables is the same
  model: :func:`repeated_rows` lists them, and :func:`shared_configurations` says what each repeat implies.
* **"Better than all" (Sect. 4.2).** :func:`table6_not_best` lists the Table 6 cells where another method prints a
  better value than MSA-Net.
"""
from __future__ import annotations

import pandas as pd

from .tables import ABLATION_TABLES, PAPER_TABLE1_COUNTS, PAPER_TABLE6, TABLE6_COLUMNS

__all__ = ["table1_counts", "repeated_rows", "table6_not_best", "table6_wins"]


def table1_counts(counts: dict[str, dict[str, int]]) -> pd.DataFrame:
    """Ours (``kind -> {"structure": n, "total": n}``, exact) beside Table 1's printed thousands; ``matches`` when
    every count rounds to the printed value."""
    rows = []
    for kind, printed in PAPER_TABLE1_COUNTS.items():
        ours = counts[kind]
        rows.append({"unit": kind, "structure (ours)": ours["structure"], "structure (paper T1, K)": printed["structure"],
                     "total (ours)": ours["total"], "total (paper T1, K)": printed["total"],
                     "matches": all(round(ours[k] / 1000) == printed[k] for k in printed)})
    return pd.DataFrame(rows).set_index("unit")


def repeated_rows(tables=ABLATION_TABLES) -> pd.DataFrame:
    """Every (PSNR, SSIM) pair printed in more than one of Tables 2-5, with the rows that print it."""
    seen: dict[tuple, list[str]] = {}
    for t, rows in tables.items():
        for row, vals in rows.items():
            seen.setdefault(tuple(vals), []).append(f"{t} '{row}'")
    out = [{"PSNR": k[0], "SSIM": k[1], "printed as": " = ".join(v)} for k, v in seen.items() if len(v) > 1]
    return pd.DataFrame(out, columns=["PSNR", "SSIM", "printed as"])


def table6_not_best(table=PAPER_TABLE6) -> pd.DataFrame:
    """The Table 6 cells where some other method prints a strictly better value than MSA-Net."""
    out = []
    for ds, methods in table.items():
        ours = methods["MSA-Net"]
        for metric in ("PSNR", "SSIM"):
            for j, col in enumerate(TABLE6_COLUMNS):
                for m, vals in methods.items():
                    v = vals[metric][j]
                    if m != "MSA-Net" and v is not None and v > ours[metric][j]:
                        out.append({"dataset": ds, "metric": metric, "column": col, "method": m, "its value": v,
                                    "MSA-Net": ours[metric][j]})
    return pd.DataFrame(out, columns=["dataset", "metric", "column", "method", "its value", "MSA-Net"])


def table6_wins(table=PAPER_TABLE6) -> dict[str, int]:
    """How many printed (dataset, metric, column) cells MSA-Net is best in (ties count as best), and of how many."""
    total = best = 0
    for ds, methods in table.items():
        for metric in ("PSNR", "SSIM"):
            for j in range(len(TABLE6_COLUMNS)):
                total += 1
                ours = methods["MSA-Net"][metric][j]
                best += all(v[metric][j] is None or v[metric][j] <= ours for v in methods.values())
    return {"best": best, "cells": total}
