"""The paper's Table 1 checked against itself: what it shows, read from its cells rather than its prose.

* **PSNR against L2, both sides.** If "L2" is the mean squared error of images in [0, 1], a PSNR computed from the
  same errors is ``10 log10(1 / L2)`` when taken on the mean error, and above it by the *Jensen gap* (mean of
  per-image PSNRs minus the PSNR of the mean error, >= 0 by Jensen's inequality, and larger the more the per-image
  errors vary) when it is the mean of per-image PSNRs. With L2 printed to 4 decimals (half a digit: 0.00005):

  - *below*: a printed PSNR under ``10 log10(1 / (L2 + 0.00005))`` cannot come from that L2 under either averaging;
  - *above*: a printed PSNR over ``10 log10(1 / (L2 - 0.00005)) + allowance`` needs a larger Jensen gap than the
    table's own rows show. The allowance (:data:`JENSEN_ALLOWANCE_DB`, 0.19 dB) is the maximum observed on Table 1
    itself (:func:`jensen_allowance`): the largest distance, either side, at which a cell of the *reference rows*
    (rows none of whose PSNR cells is printed identically in another row: "All loss + MSFEF", "No MSE", "No
    Perceptual"; 15 cells) sits from ``10 log10(1 / L2)``: 0.189 dB (below it; the largest above is 0.061 dB),
    rounded up. Either side, because a scatter that puts printed cells 0.19 dB below what their L2 allows can put
    them as far above. The gap is set by how much the per-image errors vary, and every row was scored on the same
    test photographs and masks; in these rows it is at most 0.06 dB. :func:`measured_jensen_gaps` gives a second,
    far larger scale for comparison: what per-image averaging gives for our own MSFEF networks on the sample scenes
    (about 0.5-1.5 dB per bucket). On Table 1 this side flags "All loss + No MSFEF" in all five buckets (they need
    0.68-2.59 dB) and "No perceptual, no style" in [0.3,0.4) (a cell printed as in "No Style"); the one cell where
    "All loss + No MSFEF" beats "All loss + MSFEF" (PSNR, [0.1,0.2)) would need 2.05 dB to survive both rows' L2.
* **Repeated cells.** Values identical to every printed digit in two rows of one metric and bucket are unlikely
  to be measurements of different networks when they carry many digits.
* **Is the full model best?** For each metric and bucket, the best row; counted rather than paraphrased; and
  whether the cells where "All loss + No MSFEF" beats it survive their own L2 (:func:`beaten_cells`).
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import pandas as pd

from ...chapter.tables import repeated_values
from .tables import PAPER_TABLE1, PAPER_TABLE1_METRICS

__all__ = ["L2_HALF_UNIT", "JENSEN_ALLOWANCE_DB", "reference_rows", "jensen_allowance", "jensen_gap",
           "measured_jensen_gaps", "psnr_vs_l2", "l2_display", "repeated_cells", "best_rows", "wins", "beaten_cells",
           "table1_findings"]

L2_HALF_UNIT = 0.00005  # half of the last printed digit of Table 1's L2 (4 decimals)

#: The upper allowance of :func:`psnr_vs_l2` in dB: ``jensen_allowance()["allowance_db"]`` (0.189, the largest
#: distance of a reference-row cell from ``10 log10(1 / L2)``, the maximum observed) rounded up to 0.01 dB.
JENSEN_ALLOWANCE_DB = 0.19

BELOW, ABOVE, OK = "below the lower bound", "above the upper allowance", "consistent"


def _psnr(mse: float) -> float:
    return 10 * math.log10(1 / mse)


def _label(buckets: Sequence[str] | None, i: int):
    return buckets[i] if buckets else i


def reference_rows(table: Mapping = PAPER_TABLE1) -> list[str]:
    """Rows of ``table`` none of whose PSNR cells is printed identically in another row of the same bucket (a
    repeated cell may be a copy of another row's, so its PSNR need not belong to its L2)."""
    rep = repeated_values({"PSNR": table["PSNR"]})
    copied = {r for rows in rep["rows"] for r in rows.split("; ")}
    return [r for r in table["PSNR"] if r not in copied]


def jensen_allowance(table: Mapping = PAPER_TABLE1, rows: Sequence[str] | None = None,
                     buckets: Sequence[str] | None = None) -> dict:
    """Where :data:`JENSEN_ALLOWANCE_DB` comes from: over every cell of ``rows`` (default :func:`reference_rows`),
    the deviation ``PSNR - 10 log10(1 / L2)``; the allowance is the largest one either side (the maximum observed).
    Returns ``allowance_db``, ``rows``, ``row`` and ``bucket`` of that cell, ``largest_above`` and ``largest_below``
    (dB), ``deviations`` (a frame, rows x buckets) and ``text``, a sentence generated from these numbers."""
    rows = list(rows) if rows is not None else reference_rows(table)
    dev = pd.DataFrame({r: [p - _psnr(l2) for l2, p in zip(table["L2"][r], table["PSNR"][r])] for r in rows}).T
    if buckets:
        dev.columns = list(buckets)
    row, bucket = dev.abs().stack().idxmax()
    allowance = float(abs(dev.loc[row, bucket]))
    above, below = float(dev.max().max()), float(-dev.min().min())
    excluded = [r for r in table["PSNR"] if r not in rows]
    text = (f"Upper allowance: {allowance:.3f} dB, the maximum observed distance of a printed PSNR from "
            f"10 log10(1/L2), either side, over the {dev.size} cells of the reference rows ("
            + ", ".join(f'"{r}"' for r in rows) + f"; at \"{row}\", {bucket}, "
            f"{'below' if dev.loc[row, bucket] < 0 else 'above'} it). The largest distance above is {above:.3f} dB, "
            f"below {below:.3f} dB. Left out: " + ", ".join(f'"{r}"' for r in excluded)
            + " (a PSNR cell printed identically in another row). Used rounded up to "
              f"{math.ceil(allowance * 100 - 1e-9) / 100:.2f} dB, on top of L2's rounding.")
    return {"allowance_db": allowance, "rows": rows, "row": row, "bucket": bucket, "largest_above": above,
            "largest_below": below, "deviations": dev, "text": text}


def jensen_gap(table: pd.DataFrame, data_range: float = 1.0) -> pd.Series:
    """The Jensen gap per column of an ``EvalResult.table`` with rows ``psnr`` and ``mse`` (each the mean of
    per-image values): mean per-image PSNR minus ``10 log10(data_range^2 / mean per-image MSE)``, in dB (>= 0)."""
    return table.loc["psnr"] - 10 * (data_range ** 2 / table.loc["mse"].astype(float)).map(math.log10)


def measured_jensen_gaps(scales: Sequence[str] = ("ci", "demo"), size: int | None = None,
                         per_bucket: int | None = None, seed: int = 0) -> pd.DataFrame:
    """The Jensen gap of our own MSFEF networks per Table 1 bucket: each checkpoint shipped in ``weights/`` for
    ``scales`` (sha256 verified), run at its training size, scored at ``size`` px (default ``DEMO_SIZE``, 64) on the
    sample-scenes test photographs with Table 1's buckets and protocol (composite, whole image) and the demo
    scale's test masks (50 per bucket, or ``per_bucket``). Rows: ``"MSFEF (<scale>)"``; columns: the buckets, then
    ``"all"`` (every pair pooled, across buckets: not a Table 1 cell)."""
    from ...chapter import chapter_data, load_trained, shipped_checkpoints
    from ...chapter.demo import DEMO_SIZE, at_training_size
    from ...metrics import evaluate
    from .recipe import table1_protocol

    proto = table1_protocol(("mse", "psnr"))
    d = chapter_data("demo", size or DEMO_SIZE, proto, seed=seed, mask_label="msfef",
                     per_bucket=per_bucket)["sample_scenes"]
    out = {}
    for scale in scales:
        for path in shipped_checkpoints("msfef", scale):
            res = evaluate(at_training_size(load_trained(path)), d.test_images, d.masks, proto)
            out[f"MSFEF ({scale})"] = jensen_gap(res.table)
    return pd.DataFrame(out).T


def psnr_vs_l2(table: Mapping = PAPER_TABLE1, buckets: Sequence[str] | None = None,
               allowance_db: float = JENSEN_ALLOWANCE_DB) -> pd.DataFrame:
    """One row per (row, bucket): printed L2 and PSNR; ``PSNR from L2`` (``10 log10(1 / L2)``); the bounds
    ``lowest PSNR allowed`` (``10 log10(1 / (L2 + half a digit))``) and ``highest PSNR allowed``
    (``10 log10(1 / (L2 - half a digit)) + allowance_db``, the Jensen allowance); ``gap needed``, the smallest
    Jensen gap that explains the printed PSNR (``PSNR - 10 log10(1 / (L2 - half a digit))``, at least 0);
    ``verdict`` (below the lower bound / above the upper allowance / consistent) and ``consistent`` (the verdict is
    "consistent")."""
    out = []
    for row, l2s in table["L2"].items():
        for i, (l2, p) in enumerate(zip(l2s, table["PSNR"][row])):
            low, top = _psnr(l2 + L2_HALF_UNIT), _psnr(l2 - L2_HALF_UNIT)
            verdict = BELOW if p < low - 1e-9 else ABOVE if p > top + allowance_db + 1e-9 else OK
            out.append({"row": row, "bucket": _label(buckets, i), "L2": l2, "PSNR printed": p,
                        "PSNR from L2": _psnr(l2), "lowest PSNR allowed": low,
                        "highest PSNR allowed": top + allowance_db, "gap needed": max(0.0, p - top), "verdict": verdict,
                        "consistent": verdict == OK})
    return pd.DataFrame(out)


def l2_display(frame: pd.DataFrame) -> pd.DataFrame:
    """:func:`psnr_vs_l2`'s frame for the page: L2 and the printed PSNR as printed (4 decimals), the derived PSNRs
    and the gap to 3 decimals (as text, so no display rounds L2 away), without the ``consistent`` column."""
    out = frame.drop(columns="consistent").copy()
    for col in out.columns:
        if col in ("L2", "PSNR printed"):
            out[col] = out[col].map("{:.4f}".format)
        elif out[col].dtype.kind == "f":
            out[col] = out[col].map("{:.3f}".format)
    return out


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


def beaten_cells(table: Mapping = PAPER_TABLE1, a: str = "All loss + MSFEF", b: str = "All loss + No MSFEF",
                 buckets: Sequence[str] | None = None, allowance_db: float = JENSEN_ALLOWANCE_DB) -> pd.DataFrame:
    """The cells where row ``b`` prints a better value than row ``a`` (the complement of :func:`wins`, ties left
    out): ``metric``, ``bucket``, both printed values and, for PSNR cells, whether the win survives the two rows'
    own L2: ``b highest`` (the most ``b``'s L2 allows, :func:`psnr_vs_l2`), ``a lowest`` (the least ``a``'s L2
    allows), ``survives`` (``b highest > a lowest``: some PSNRs both L2s allow still put ``b`` ahead) and
    ``allowance needed`` (the smallest allowance under which it would). Other metrics: NaN / None."""
    l2 = psnr_vs_l2(table, buckets, allowance_db).set_index(["row", "bucket"])
    out = []
    for metric, rows in table.items():
        higher = PAPER_TABLE1_METRICS[metric][1]
        for i, (x, y) in enumerate(zip(rows[a], rows[b])):
            if not ((y > x) if higher else (y < x)):
                continue
            cell = {"metric": metric, "bucket": _label(buckets, i), a: x, b: y, "b highest": math.nan,
                    "a lowest": math.nan, "survives": None, "allowance needed": math.nan}
            if metric == "PSNR":
                hb, la = l2.loc[(b, cell["bucket"])], l2.loc[(a, cell["bucket"])]
                top = hb["highest PSNR allowed"]
                cell.update({"b highest": top, "a lowest": la["lowest PSNR allowed"],
                             "survives": bool(top > la["lowest PSNR allowed"]),
                             "allowance needed": la["lowest PSNR allowed"] - (top - allowance_db)})
            out.append(cell)
    return pd.DataFrame(out, columns=["metric", "bucket", a, b, "b highest", "a lowest", "survives",
                                      "allowance needed"])


def _cells_by_row(frame: pd.DataFrame, n_buckets: int) -> str:
    parts = []
    for row, sub in frame.groupby("row", sort=False):
        where = "all five buckets" if len(sub) == n_buckets == 5 else ", ".join(map(str, sub["bucket"]))
        parts.append(f"\"{row}\" ({where})")
    return "; ".join(parts)


def table1_findings(buckets: Sequence[str] | None = None, allowance_db: float = JENSEN_ALLOWANCE_DB,
                    measured: pd.DataFrame | None = None) -> dict:
    """Everything the ablation notebook reads from the paper's Table 1 itself: ``best`` (best row per cell),
    ``l2`` (:func:`psnr_vs_l2`, every PSNR cell with both bounds and its verdict), ``inconsistent`` (the cells whose
    verdict is not "consistent"), ``below`` and ``above`` (how many fail each side), ``beaten`` (:func:`beaten_cells`),
    ``repeated`` (values repeated across rows), ``n_best`` (cells where "All loss + MSFEF" is best), ``text``,
    sentences generated from these numbers, and ``key_numbers`` (name -> value, for ``inpaintlib.record``). With
    ``measured`` (:func:`measured_jensen_gaps`) the text also says which cells stay above under the largest Jensen
    gap our own evaluation measured in a bucket."""
    best, w = best_rows(buckets=buckets), wins()
    l2 = psnr_vs_l2(buckets=buckets, allowance_db=allowance_db)
    bad, rep = l2[~l2.consistent], repeated_cells(buckets=buckets)
    below, above = l2[l2.verdict == BELOW], l2[l2.verdict == ABOVE]
    beaten = beaten_cells(buckets=buckets, allowance_db=allowance_db)
    n_best = int((best == "All loss + MSFEF").sum().sum())
    nb = len(next(iter(PAPER_TABLE1["PSNR"].values())))
    text = (f"In the paper's Table 1, \"All loss + MSFEF\" is the best row in {n_best} of {best.size} metric-bucket "
            f"cells; it beats \"All loss + No MSFEF\" in " + ", ".join(f"{v} of {nb} {m} buckets" for m, v in w.items())
            + f". Against its own L2, {len(below)} of {len(l2)} PSNR cells lie below the lowest PSNR it allows"
            + (f" ({_cells_by_row(below, nb)})" if len(below) else "")
            + f" and {len(above)} above the highest it allows with a Jensen allowance of {allowance_db:.2f} dB"
            + (f" ({_cells_by_row(above, nb)}; they would need a gap of {above['gap needed'].min():.2f} to "
               f"{above['gap needed'].max():.2f} dB)" if len(above) else "") + ".")
    top = None
    if measured is not None:
        top = float(measured[[c for c in measured.columns if c != "all"]].max().max())
        still = l2[l2["gap needed"] > top]
        text += (f" Even with the allowance raised to the largest gap per-image averaging gave for our own MSFEF "
                 f"networks in any bucket ({top:.2f} dB, on the sample scenes), "
                 + (f"{len(still)} cell{'s' if len(still) > 1 else ''} stay above: {_cells_by_row(still, nb)}."
                    if len(still) else "no cell stays above."))
    for _, c in beaten.iterrows():
        cell = f"{c['metric']} {c['bucket']} ({c['All loss + No MSFEF']:.4f} against {c['All loss + MSFEF']:.4f})"
        if c["metric"] != "PSNR":
            text += f" \"All loss + No MSFEF\" also beats \"All loss + MSFEF\" in {cell}, which L2 cannot check."
            continue
        text += (f" The cell where \"All loss + No MSFEF\" beats \"All loss + MSFEF\", {cell}, "
                 + ("survives" if c["survives"] else "does not survive") + " its own L2: the most its L2 allows is "
                 f"{c['b highest']:.2f} dB, " + ("above" if c["survives"] else "below")
                 + f" the {c['a lowest']:.2f} dB that the L2 of \"All loss + MSFEF\" guarantees at least"
                 + ("" if c["survives"] else f"; the win would need an allowance of {c['allowance needed']:.2f} dB"
                    + ("" if top is None else f", {'more' if c['allowance needed'] > top else 'less'} than the "
                       f"{top:.2f} dB our own per-image evaluation reached"))
                 + ".")
    if not len(beaten):
        text += " \"All loss + No MSFEF\" beats \"All loss + MSFEF\" in no cell."
    text += f" {len(rep)} values repeat across rows of one bucket (transcribed as printed)."
    psnr_wins = beaten[beaten.metric == "PSNR"]
    key_numbers = {"msfef_table1_full_model_best_cells": f"{n_best}/{best.size}",
                   "msfef_table1_psnr_below_l2_cells": len(below), "msfef_table1_psnr_above_l2_cells": len(above),
                   "msfef_table1_nomsfef_above_l2_cells": int((above.row == "All loss + No MSFEF").sum()),
                   "msfef_table1_jensen_allowance_db": round(allowance_db, 2),
                   "msfef_table1_nomsfef_psnr_wins_surviving_l2": int(psnr_wins.survives.sum())}
    if top is not None:
        key_numbers["msfef_table1_measured_jensen_gap_max_db"] = round(top, 2)
    if len(psnr_wins):
        key_numbers["msfef_table1_nomsfef_psnr_win_needs_db"] = round(float(psnr_wins["allowance needed"].min()), 2)
    return {"best": best, "l2": l2, "inconsistent": bad.drop(columns="consistent"), "below": len(below),
            "above": len(above), "beaten": beaten, "repeated": rep, "n_best": n_best, "text": text,
            "key_numbers": key_numbers}
