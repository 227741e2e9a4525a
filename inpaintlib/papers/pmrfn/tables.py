"""PMRFN's printed tables as data (Wang et al., ICCV 2021), transcribed as printed, and their checks.

Table 1: Places2, 10,000 test images, Liu et al.'s irregular masks in six groups, relative l1 (%), SSIM, PSNR, FID
for GC, EC, SF, HF, MEDFE and "Ours", six buckets then "Ave%". Table 2: the ablation (Places2, averaged over the six
groups). The checks recompute each "Ave%" from its six buckets, compare Table 2's "Full-Fledged" row with Table 1's
"Ours" average, list the cells where another method prints a better value than "Ours" (Sect. 5.3 claims "our method
outperforms existing methods for all groups of masks"), and test Sect. 5.4's claim that removing more fusion modules
is always worse.
"""
from __future__ import annotations

import pandas as pd

__all__ = ["table2_repeats", "repeats_text", "TABLE1_BUCKETS", "TABLE1_COLUMNS", "TABLE1_METHODS", "PAPER_TABLE1", "PAPER_TABLE2", "TABLE2_METRICS",
           "LOWER_IS_BETTER", "consistency", "average_check", "table2_vs_table1", "not_best", "mrf_monotone", "variant_below"]

TABLE1_BUCKETS = ("(0.01, 0.1]", "(0.1, 0.2]", "(0.2, 0.3]", "(0.3, 0.4]", "(0.4, 0.5]", "(0.5, 0.6]")
TABLE1_COLUMNS = TABLE1_BUCKETS + ("Ave",)
TABLE1_METHODS = ("GC", "EC", "SF", "HF", "MEDFE", "Ours")
#: Table 1: metric -> method -> 7 values (the six groups 0-10% ... 50-60%, then "Ave%"), as printed.
PAPER_TABLE1 = {
    "l1": {"GC": (1.74, 2.38, 3.36, 4.55, 5.96, 8.52, 4.41), "EC": (1.18, 1.91, 2.91, 4.06, 5.42, 7.66, 4.42),
           "SF": (2.71, 3.51, 4.55, 5.69, 7.00, 9.12, 5.43), "HF": (2.41, 3.38, 4.67, 6.13, 7.93, 10.7, 5.87),
           "MEDFE": (1.30, 2.09, 2.66, 3.85, 5.31, 7.91, 4.60), "Ours": (1.12, 1.74, 2.60, 3.65, 4.89, 7.24, 3.54)},
    "ssim": {"GC": (0.951, 0.913, 0.859, 0.799, 0.732, 0.640, 0.816),
             "EC": (0.964, 0.921, 0.863, 0.802, 0.733, 0.646, 0.806),
             "SF": (0.898, 0.855, 0.801, 0.745, 0.685, 0.610, 0.765),
             "HF": (0.917, 0.859, 0.788, 0.714, 0.632, 0.536, 0.741),
             "MEDFE": (0.960, 0.925, 0.882, 0.819, 0.747, 0.649, 0.805),
             "Ours": (0.971, 0.934, 0.884, 0.827, 0.761, 0.669, 0.840)},
    "psnr": {"GC": (31.085, 27.454, 24.466, 22.195, 20.395, 18.022, 23.937),
             "EC": (32.441, 27.941, 24.931, 22.787, 21.043, 18.957, 25.700),
             "SF": (28.609, 25.522, 23.121, 21.336, 19.818, 17.981, 22.732),
             "HF": (28.825, 25.255, 22.635, 20.672, 18.903, 16.841, 22.188),
             "MEDFE": (31.707, 27.422, 25.855, 23.271, 21.211, 18.738, 25.220),
             "Ours": (33.690, 28.924, 25.871, 23.487, 21.659, 19.220, 25.475)},
    "fid": {"GC": (1.40, 2.60, 4.18, 7.20, 11.70, 19.88, 7.71), "EC": (1.60, 3.18, 5.87, 9.90, 15.65, 25.55, 13.58),
            "SF": (3.74, 5.00, 6.92, 9.47, 13.07, 21.70, 9.98), "HF": (1.95, 5.20, 11.54, 22.36, 39.98, 70.91, 25.32),
            "MEDFE": (1.46, 3.27, 7.23, 14.34, 25.78, 43.90, 22.68),
            "Ours": (1.25, 2.30, 4.14, 6.57, 10.61, 16.99, 6.98)},
}
TABLE2_METRICS = ("l1", "ssim", "psnr", "fid")
#: Table 2 (Places2, averaged over the six groups): row -> (l1 %, SSIM, PSNR, FID).
PAPER_TABLE2 = {"HRNet": (3.81, 0.831, 24.866, 10.49), "w/o PConv": (3.69, 0.835, 25.007, 8.56),
                "w/o ARF": (3.60, 0.840, 25.283, 8.41), "w/o MRF 1": (3.57, 0.838, 25.420, 7.43),
                "w/o MRF 3": (3.67, 0.836, 25.283, 7.95), "w/o MRF 5": (3.85, 0.821, 24.789, 11.32),
                "Full-Fledged": (3.54, 0.841, 25.475, 6.98)}
LOWER_IS_BETTER = {"l1": True, "ssim": False, "psnr": False, "fid": True}
_DIGITS = {"l1": 2, "ssim": 3, "psnr": 3, "fid": 2}


def average_check(table=PAPER_TABLE1) -> pd.DataFrame:
    """Each printed "Ave%" beside the mean of its six buckets, and whether they agree to the printed precision
    (half a unit of the last digit plus rounding slack of the buckets)."""
    rows = []
    for metric, methods in table.items():
        tol = 0.5 * 10 ** -_DIGITS[metric] * 2
        for m, vals in methods.items():
            mean = sum(vals[:6]) / 6
            rows.append({"metric": metric, "method": m, "printed Ave": vals[6], "mean of the six": round(mean, 4),
                         "difference": round(vals[6] - mean, 4), "consistent": abs(vals[6] - mean) <= tol})
    return pd.DataFrame(rows)


def table2_vs_table1() -> pd.DataFrame:
    """Table 2's "Full-Fledged" row beside Table 1's "Ours" average (the same model, same protocol)."""
    t2 = dict(zip(TABLE2_METRICS, PAPER_TABLE2["Full-Fledged"]))
    return pd.DataFrame([{"metric": k, "Table 2 Full-Fledged": t2[k], "Table 1 Ours Ave": PAPER_TABLE1[k]["Ours"][6],
                          "equal": t2[k] == PAPER_TABLE1[k]["Ours"][6]} for k in TABLE2_METRICS])


def not_best(table=PAPER_TABLE1, recomputed_average: bool = False) -> pd.DataFrame:
    """Cells where another method prints a better value than "Ours" (ties are not counted). With
    ``recomputed_average`` the "Ave" column is each method's mean of its six buckets instead of the printed one."""
    out = []
    for metric, methods in table.items():
        low = LOWER_IS_BETTER[metric]
        for j, col in enumerate(TABLE1_COLUMNS):
            def val(m):
                v = methods[m]
                return sum(v[:6]) / 6 if (recomputed_average and j == 6) else v[j]
            ours = val("Ours")
            for m in methods:
                if m != "Ours" and (val(m) < ours if low else val(m) > ours):
                    out.append({"metric": metric, "column": col, "method": m, "its value": round(val(m), 3),
                                "Ours": round(ours, 3)})
    return pd.DataFrame(out, columns=["metric", "column", "method", "its value", "Ours"])


def mrf_monotone() -> pd.DataFrame:
    """Sect. 5.4: "the more fusion modules are removed, the poorer performance". Per metric, whether Full-Fledged
    -> w/o MRF 1 -> w/o MRF 3 -> w/o MRF 5 gets worse at every step (strictly)."""
    rows = ["Full-Fledged", "w/o MRF 1", "w/o MRF 3", "w/o MRF 5"]
    out = []
    for k, metric in enumerate(TABLE2_METRICS):
        vals = [PAPER_TABLE2[r][k] for r in rows]
        steps = [(b - a) if LOWER_IS_BETTER[metric] else (a - b) for a, b in zip(vals, vals[1:])]
        out.append({"metric": metric, **dict(zip(rows, vals)), "worse at every step": all(s > 0 for s in steps)})
    return pd.DataFrame(out)


def table2_repeats() -> pd.DataFrame:
    """Table 2's values printed identically in two rows of one metric (:func:`inpaintlib.chapter.repeated_values`):
    "w/o ARF" and "w/o MRF 3" share a five-digit PSNR, 25.283."""
    from ...chapter.tables import repeated_values

    return repeated_values({m: {r: (v[k],) for r, v in PAPER_TABLE2.items()} for k, m in enumerate(TABLE2_METRICS)},
                           ["Places2"])


def repeats_text(rep: pd.DataFrame) -> str:
    """The generated sentence on :func:`table2_repeats` ("" when nothing repeats)."""
    if rep.empty:
        return ""
    return ("Two rows that remove different modules print the same value to every digit here: "
            + "; ".join(f"{r.metric.upper()} {r.value} ({r['significant digits']} significant digits) in {r.rows}"
                        for _, r in rep.iterrows())
            + ". Different networks rarely agree to that many digits; one of the two cells may have been copied from "
              "the other, and the comparisons below that involve either row rest on it.")


def variant_below(a: str, b: str) -> dict[str, bool]:
    """Per metric, whether Table 2's row ``a`` is worse than row ``b`` (e.g. "w/o MRF 5" below "HRNet")."""
    return {m: (PAPER_TABLE2[a][k] > PAPER_TABLE2[b][k]) if LOWER_IS_BETTER[m] else
            (PAPER_TABLE2[a][k] < PAPER_TABLE2[b][k]) for k, m in enumerate(TABLE2_METRICS)}


def consistency() -> dict:
    """Everything 06_evaluation shows about Tables 1-2's consistency: ``frames`` (caption -> table), ``numbers``
    (key-number name -> value) and ``text`` (the finding, generated from the numbers)."""
    from ...chapter.text import counted

    avg = average_check()
    bad = avg[~avg["consistent"]]
    t21 = table2_vs_table1()
    nb, nb_re = not_best(), not_best(recomputed_average=True)
    frames = {"Printed averages that are not the mean of their six groups": bad,
              "Table 2 Full-Fledged vs Table 1 Ours (average)": t21.set_index("metric"),
              "Cells where another method prints a better value than Ours": nb}
    numbers = {"pmrfn_t1_bad_averages": len(bad), "pmrfn_t1_cells_not_best": len(nb),
               "pmrfn_t1_cells_not_best_recomputed": len(nb_re), "pmrfn_t2_equals_t1_metrics": int(t21["equal"].sum()),
               "pmrfn_t1_bad_average_methods": ", ".join(sorted(set(bad["method"])))}
    text = (f"{len(bad)} of the {len(avg)} printed averages are not the mean of their six groups ("
            + "; ".join(f"{r.method} {r.metric}: printed {r._3}, mean {r._4:.3f}" for r in bad.itertuples()) + "). "
            f"Table 2's Full-Fledged row equals Table 1's 'Ours' average in {int(t21['equal'].sum())} of {len(t21)} "
            "metrics" + ("" if t21["equal"].all() else " (" + ", ".join(
                f"{r.metric}: {r._2} vs {r._3}" for r in t21[~t21["equal"]].itertuples()) + ")") + ". "
            f"With the printed averages, another method is ahead of 'Ours' in {counted(len(nb), 'cell')} ("
            + "; ".join(f"{r.method} {r.metric} {r.column}: {r._4} vs {r.Ours}" for r in nb.itertuples())
            + f"); with the averages recomputed from the groups, in {len(nb_re)}."
            + (" The claim holds in every group; the bold 'Ave' cells that contradict it come from misprinted averages."
               if len(nb_re) == 0 and len(nb) > 0 else ""))
    return {"frames": frames, "numbers": numbers, "text": text}
