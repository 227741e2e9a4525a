"""Figures every chapter draws: completions side by side, a learning curve against a baseline, and the
difference of each variant to a reference variant with its seed spread. Sized for the book's content column."""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import pandas as pd
import torch
from matplotlib.figure import Figure

from .. import viz

__all__ = ["completion_grid", "learning_curve", "training_terms", "delta_bars", "cost_by_part"]


def completion_grid(methods: Mapping[str, Callable], images: torch.Tensor, masks: torch.Tensor,
                    title: str | None = None, row_labels: Sequence[str] | None = None) -> Figure:
    """Input with its hole (magenta), each method's composite, ground truth; one row per image/mask pair.
    ``methods``: ``name -> predict(image, valid)`` (the image is passed with its hole zeroed)."""
    with torch.no_grad():
        outs = {name: fn(images * masks, masks) for name, fn in methods.items()}
    titles = {f"{k} composite": k for k in outs}
    fig = viz.inpaint_grid({"image": images, "valid": masks, **outs}, titles, n=len(images), show_raw=False,
                           size=min(1.9, 7.0 / (len(outs) + 2)), suptitle=title)
    if row_labels:
        for ax, lab in zip(fig.axes[:: len(outs) + 2], row_labels):
            ax.set_ylabel(lab, fontsize=8)
    return fig


def learning_curve(history, key: str = "test_psnr", baselines: Mapping[str, float] | None = None,
                   title: str | None = None, ylabel: str = "test PSNR (dB)") -> Figure:
    """The evaluation records' ``key`` against the step, with horizontal lines for ``baselines`` (name -> value)."""
    ev = history.eval
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    ax.plot(ev["step"], ev[key], "o-", label="network (composite)")
    for i, (name, v) in enumerate((baselines or {}).items()):
        ax.axhline(v, color=f"C{i + 1}", ls="--", label=name)
    ax.set(xlabel="training step", ylabel=ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def training_terms(history, keys: Sequence[str], title: str, ncols: int = 3) -> Figure:
    """The training log's loss terms, one panel each, ``ncols`` panels a row (log scale), readable at page width."""
    df = history.train
    keys = [k for k in keys if k in df.columns]
    nrows = -(-len(keys) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(7.4, 2.3 * nrows), squeeze=False)
    for ax, k in zip(axes.flat, keys):
        sub = df[["step", k]].dropna()
        ax.plot(sub["step"], sub[k], lw=1.0)
        ax.set_yscale("log")
        ax.set_title(k, fontsize=9)
        ax.tick_params(which="both", labelsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def delta_bars(runs: pd.DataFrame, reference: str, metric: str, buckets: Sequence[str], order: Sequence[str],
               title: str, ylabel: str) -> Figure:
    """Per bucket, each variant's ``metric`` minus the ``reference`` variant's with the same seed (same data and
    masks), mean over seeds, error bars = std of those per-seed differences. Below 0: lower than the reference."""
    p = runs[runs.metric == metric].pivot_table(index=["bucket", "seed"], columns="variant", values="value")
    others = [v for v in order if v != reference]
    fig, ax = plt.subplots(figsize=(7.2, 3.4))
    if not others:  # a run of the reference alone (a smoke run's single variant): nothing to subtract
        ax.text(0.5, 0.5, f"only {reference} was run: no difference to show", ha="center", va="center")
        ax.set_axis_off()
        ax.set_title(title, fontsize=10)
        return fig
    delta = p.sub(p[reference], axis=0)[others].groupby(level="bucket")
    n_seeds = runs.seed.nunique()
    colors = list(plt.cm.tab20.colors[: len(others)]) if len(others) > 10 else None  # tab10 repeats after 10
    delta.mean().reindex(list(buckets)).plot.bar(
        ax=ax, yerr=delta.std().reindex(list(buckets)) if n_seeds > 1 else None, capsize=2, rot=0, width=0.8,
        color=colors)
    ax.axhline(0, color="k", lw=0.8)
    ax.set(xlabel="hole ratio", ylabel=ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig


def cost_by_part(parameters: pd.Series, gmacs: pd.Series, title: str) -> Figure:
    """Where a network's parameters (millions) and multiply-accumulates (GMACs) sit, one bar per part, side by side:
    parts that hold few weights but cost many MACs (attention, high-resolution branches) stand out."""
    parts = list(parameters.index)
    fig, axes = plt.subplots(1, 2, figsize=(7.4, 0.28 * len(parts) + 1.2), sharey=True)
    for ax, values, label in ((axes[0], parameters / 1e6, "parameters (M)"), (axes[1], gmacs.reindex(parts), "GMACs")):
        ax.barh(range(len(parts)), values.fillna(0).to_numpy(), color="#4c72b0")
        ax.set_xlabel(label, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(parts)), parts)
    axes[0].invert_yaxis()
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
