"""Ours beside the paper's table, and tables that fit the page.

A paper's printed table is passed as data: ``{paper metric name: {row: (value per bucket, ...)}}``, with a map from
the paper's metric names to ours (``{"PSNR": "psnr", "L2": "mse", ...}``). Our numbers come as the tidy frame of
:func:`inpaintlib.chapter.runs.run_variants`; a cell shows the mean over seeds and, with more than one seed, ``±`` the
standard deviation over seeds.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from .text import MISSING

__all__ = ["FORMATS", "MISSING", "paper_frame", "beside_paper", "show", "cell_text", "versus", "repeated_values"]

#: Display format per metric (our names).
FORMATS = {"psnr": "{:.2f}", "ssim": "{:.3f}", "mse": "{:.4f}", "l1": "{:.2f}", "lpips": "{:.3f}"}


def paper_frame(table: Mapping[str, Mapping[str, Sequence[float]]], metric: str, buckets: Sequence[str]) -> pd.DataFrame:
    """One metric of a paper's printed table as a frame: rows = the table's rows, columns = ``buckets``."""
    return pd.DataFrame({row: list(vals) for row, vals in table[metric].items()}, index=list(buckets)).T


def repeated_values(table: Mapping[str, Mapping[str, Sequence[float]]],
                    buckets: Sequence[str] | None = None) -> pd.DataFrame:
    """Values a paper prints identically in two or more rows of one metric and bucket, with the number of significant
    digits they share (two-digit values can coincide by chance; five or six digits hardly can, and then suggest a
    row copied from another). ``table`` in the printed-table form above; one row per repeat."""
    out = []
    for metric, rows in table.items():
        n = len(next(iter(rows.values())))
        for i in range(n):
            seen: dict[float, list[str]] = {}
            for row, vals in rows.items():
                seen.setdefault(vals[i], []).append(row)
            for v, where in seen.items():
                if len(where) > 1:
                    digits = len(f"{v:.4f}".rstrip("0").replace(".", "").lstrip("0"))
                    out.append({"metric": metric, "bucket": buckets[i] if buckets else i, "value": v,
                                "significant digits": digits, "rows": "; ".join(where)})
    return pd.DataFrame(out, columns=["metric", "bucket", "value", "significant digits", "rows"])


def _cell(mean: float, std: float, n: int, fmt: str) -> str:
    if pd.isna(mean):
        return "n/a"
    return fmt.format(mean) + ("" if n < 2 or pd.isna(std) else " ± " + fmt.format(std))


def beside_paper(runs: pd.DataFrame, table: Mapping[str, Mapping[str, Sequence[float]]], metric_names: Mapping[str, str],
                 buckets: Sequence[str], scale: str, paper_label: str) -> dict[str, pd.DataFrame]:
    """Per paper metric, a compact frame: rows = (variant, source) with our row (``"ours (<scale>)"``, mean ± std over
    seeds) above the paper's (``paper_label``, e.g. ``"paper T1"``); columns = ``buckets``. Metrics we did not compute
    (e.g. LPIPS offline) show ``n/a`` with the reason left to the caller's caption."""
    out = {}
    for pname, ours in metric_names.items():
        fmt = FORMATS.get(ours, "{:.4g}")
        sub = runs[(runs.metric == ours) & runs.bucket.isin(buckets)]
        agg = sub.groupby(["variant", "bucket"])["value"].agg(["mean", "std", "count"])
        rows, index = [], []
        for variant, vals in table[pname].items():
            mine = [_cell(*agg.loc[(variant, b)], fmt) if (variant, b) in agg.index else "n/a" for b in buckets]
            rows += [mine, [fmt.format(v) for v in vals]]
            index += [(variant, f"ours ({scale})"), (variant, paper_label)]
        frame = pd.DataFrame(rows, index=pd.MultiIndex.from_tuples(index, names=["variant", "source"]),
                             columns=list(buckets))
        frame.columns.name = "hole ratio"
        out[pname] = frame
    return out


def cell_text(value: Any, digits: int | None = None) -> Any:
    """How :func:`show` prints one cell: a missing value (NaN, None, NaT) as :data:`MISSING` ("–"), a boolean as
    "yes"/"no", a float with ``digits`` decimals (pandas' display precision, 6, when ``None``) and never as a
    negative zero ("-0.00" is printed "0.00"); anything else unchanged."""
    if value is None or (np.ndim(value) == 0 and not isinstance(value, str) and pd.isna(value)):
        return MISSING
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (float, np.floating)):
        places = pd.get_option("styler.format.precision") if digits is None else digits
        text = f"{value:.{places}f}"
        return text[1:] if text.startswith("-") and float(text) == 0 else text
    return value


def show(frame: pd.DataFrame, caption: str | None = None, digits: int | None = None) -> None:
    """Display ``frame`` compactly (index and header in small type, rounded to ``digits``) under a bold
    ``caption``; in a notebook the table wraps to the content column instead of running off the page. Cells are
    printed by :func:`cell_text`: missing values as "–", booleans as yes/no, no negative zeros."""
    from IPython.display import HTML, Markdown, display

    if caption:
        display(Markdown(f"**{caption}**"))
    display(HTML(_styler(frame, digits).to_html()))


def _styler(frame: pd.DataFrame, digits: int | None = None):
    """The pandas ``Styler`` that :func:`show` renders."""
    shown = frame.round(digits) if digits is not None else frame
    styler = shown.style.set_table_attributes('class="inpaintlib-compact"').set_table_styles(
        [{"selector": "", "props": [("font-size", "0.8em")]},
         {"selector": "th, td", "props": [("padding", "2px 6px"), ("white-space", "nowrap")]}])
    return styler.format(lambda v: cell_text(v, digits), na_rep=MISSING)


def versus(tables: Mapping[str, pd.DataFrame], ours: str, baseline: str, metric: str = "psnr") -> pd.DataFrame:
    """``metric`` by bucket for ``ours`` and ``baseline`` (``EvalResult.table`` each) and their difference
    (``ours - baseline``) as a third row."""
    t = pd.DataFrame({ours: tables[ours].loc[metric], baseline: tables[baseline].loc[metric]}).T
    t.loc["difference"] = t.loc[ours] - t.loc[baseline]
    return t
