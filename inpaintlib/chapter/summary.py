"""What every training notebook shows: the learning curves against mean filling, and the trained network against
mean filling bucket by bucket; each as figures or a compact table, key numbers and one generated sentence."""
from __future__ import annotations

import dataclasses
from typing import Sequence

import matplotlib.pyplot as plt
from torch import nn

from ..classical import mean_fill
from ..metrics import EvalResult
from ..record import record, record_buckets
from .data import ChapterData
from .figures import learning_curve, training_terms
from .runs import evaluate_methods, predictor
from .tables import show, versus

__all__ = ["learning_summary", "against_mean_fill"]


def learning_summary(history, data: ChapterData, scale: str, prefix: str, terms: Sequence[str]) -> float:
    """The training ``terms`` (one panel each), then the test PSNR at each evaluation against mean filling of the same
    pairs; records ``<prefix>_test_psnr_first`` / ``_last`` and says whether it rose at every evaluation. Returns the
    mean-fill PSNR."""
    from IPython.display import Markdown, display

    training_terms(history, terms, f"{data.name}: training terms ({scale})")
    plt.show()
    proto = dataclasses.replace(data.protocol, metrics=("psnr",))
    mf = float(evaluate_methods({"mean fill": mean_fill}, data.test_images, data.masks, proto)["mean fill"]
               .table.loc["psnr", "all"])
    learning_curve(history, baselines={"mean fill (composite)": mf}, title=f"{data.name}, {scale} scale")
    plt.show()
    ev = history.eval
    first, last = float(ev["test_psnr"].iloc[0]), float(ev["test_psnr"].iloc[-1])
    rises = bool((ev["test_psnr"].diff().dropna() > 0).all())
    record(f"{prefix}_test_psnr_first", first, 2)
    record(f"{prefix}_test_psnr_last", last, 2)
    trend = "rising at every evaluation" if rises else "not rising at every evaluation"
    display(Markdown(
        f"{data.name}, {scale} scale: the test PSNR went from {first:.2f} dB at step {int(ev['step'].iloc[0])} to "
        f"{last:.2f} dB at step {int(ev['step'].iloc[-1])} ({trend}); mean filling scores {mf:.2f} dB on the same "
        "pairs."))
    return mf


def against_mean_fill(label: str, model: nn.Module, data: ChapterData, scale: str, prefix: str) -> dict[str, EvalResult]:
    """Score ``model`` (shown as ``label``) and mean filling on ``data``'s test pairs under its protocol; show the PSNR
    by bucket with the difference; record ``<prefix>_psnr_b*``, ``<prefix>_psnr_margin_b*`` and
    ``<prefix>_min_margin_over_mean_fill_db`` (``<prefix>_psnr_margin_all``: over all the test pairs); display whether the network is ahead in every bucket. Returns both
    ``EvalResult``s by name."""
    from IPython.display import Markdown, display

    res = evaluate_methods({label: predictor(model), "mean fill": mean_fill}, data.test_images, data.masks,
                           data.protocol)
    t = versus({k: r.table for k, r in res.items()}, label, "mean fill")
    show(t, f"{data.name}, {scale} scale: PSNR (dB) by hole ratio. Protocol: {data.protocol.describe()}", digits=2)
    margin = t.loc["difference"].drop("all")
    record_buckets(f"{prefix}_psnr", t.loc[label])
    record_buckets(f"{prefix}_psnr_margin", t.loc["difference"])  # per bucket and over all the test pairs
    record(f"{prefix}_min_margin_over_mean_fill_db", float(margin.min()), 2)
    display(Markdown(f"{data.name}, {scale} scale: {label}'s composite is " + (
        f"ahead of mean filling in every bucket, by {margin.min():.2f} to {margin.max():.2f} dB." if (margin > 0).all()
        else f"behind mean filling in {', '.join(map(str, margin[margin <= 0].index))}.")))
    return res
