"""The paper's Table I as data (Charef & Ouqour 2024, Sect. IV), transcribed as printed, and what it says about
itself. The paper names neither the dataset, the masks, the image size of Table I nor how FID or L1 are computed.
"""
from __future__ import annotations

import pandas as pd

__all__ = ["TABLE1_METHODS", "TABLE1_COLUMNS", "PAPER_TABLE1", "METRIC_NAMES", "table1_checks"]

TABLE1_METHODS = ("GConv", "EC", "RN", "DSNet", "Proposed")
TABLE1_COLUMNS = ("10-20%", "40-50%")
#: Table I: metric -> method -> (10-20%, 40-50%). "L1 (%)".
PAPER_TABLE1: dict[str, dict[str, tuple[float, float]]] = {
    "FID": {"GConv": (0.847, 6.384), "EC": (0.777, 4.244), "RN": (0.809, 6.488), "DSNet": (0.559, 2.842),
            "Proposed": (0.474, 2.721)},
    "PSNR": {"GConv": (31.23, 23.37), "EC": (31.15, 23.57), "RN": (33.17, 25.02), "DSNet": (32.28, 24.60),
             "Proposed": (33.46, 25.15)},
    "SSIM": {"GConv": (0.9538, 0.8173), "EC": (0.9470, 0.8025), "RN": (0.9642, 0.8466), "DSNet": (0.9582, 0.8334),
             "Proposed": (0.9658, 0.8490)},
    "L1 (%)": {"GConv": (0.67, 2.71), "EC": (0.79, 3.04), "RN": (0.55, 2.29), "DSNet": (0.61, 2.41),
               "Proposed": (0.53, 2.23)},
}
#: The paper's metric names -> ours (inpaintlib.metrics); FID has no counterpart offline.
METRIC_NAMES = {"PSNR": "psnr", "SSIM": "ssim", "L1 (%)": "l1"}
LOWER_IS_BETTER = {"FID", "L1 (%)"}


def table1_checks() -> pd.DataFrame:
    """Per metric and column: the best method, the runner-up and the margin of "Proposed" over the best other
    method (positive = Proposed better), so the text's claims can be checked against the table."""
    rows = []
    for metric, by_method in PAPER_TABLE1.items():
        sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
        for j, col in enumerate(TABLE1_COLUMNS):
            others = {m: v[j] for m, v in by_method.items() if m != "Proposed"}
            best_other = max(others, key=lambda m: sign * others[m])
            margin = sign * (by_method["Proposed"][j] - others[best_other])
            rows.append({"metric": metric, "mask": col, "Proposed": by_method["Proposed"][j],
                         "best other": best_other, "its value": others[best_other], "margin": margin,
                         "relative margin %": 100 * margin / abs(others[best_other])})
    return pd.DataFrame(rows)
