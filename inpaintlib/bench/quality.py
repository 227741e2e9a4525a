"""The bench's quality protocol: every network of the book (its ci and demo checkpoints) and the three classical
methods on the same test photographs and the same fixed mask sets, scored the same way.

* photographs: the sample scenes' test split at 64 px (16 images: 4 crops of each of 4 photographs; never trained
  on);
* mask sets (all ``valid`` maps, fixed by their seeds): ``irregular`` -- the library's irregular test masks in
  Liu et al.'s six hole-ratio buckets (8 per bucket); ``centre box`` -- the 25% centre square, on every
  photograph; ``DeepGIN types`` -- DeepGIN's three AIM 2020 types (box, cellular automaton, free-form), 8 each;
* pairing: mask ``k`` with photograph ``k mod 16`` (every mask and every photograph used);
* methods: networks at their training size (:func:`inpaintlib.chapter.at_training_size`), classical methods at
  64 px; exemplar-based inpainting with 5x5 patches (no 9x9 patch is fully known under many large masks);
* metrics on the composite over the whole image: PSNR, SSIM, L1 in %, and LPIPS where its weights are installed
  (they cannot be downloaded here); no FID: with 16 test images its estimate is dominated by its small-sample
  bias (the Foundations chapter's metrics notebook shows it); the spread is the standard error over the photographs
  (each photograph's mean over its crops and masks first: crops of one photograph are not independent samples);
  rankings compare methods on the same pairs, with that standard error.
"""
from __future__ import annotations

import math
from typing import Callable, Mapping

import numpy as np
import pandas as pd
import torch

from ..chapter import at_training_size, ci_model, demo_model, test_masks
from ..classical import biharmonic, exemplar_inpaint, mean_fill
from ..data import SampleScenes
from ..masks import center_box_mask, to_tensor
from ..metrics import Protocol, evaluate
from ..papers.deepgin.masks import deepgin_masks

__all__ = ["SIZE", "LABELS", "SMOKE", "protocol", "test_photographs", "mask_sets", "methods", "score", "summary", "ranking",
           "demo_gain", "describe_rankings", "leader", "display_name", "table", "bucket_figure",
           "example_inputs"]

SIZE = 64
#: Display names of the networks.
LABELS = {"msfef": "MSFEF", "msanet": "MSA-Net", "deepgin": "DeepGIN", "pmrfn": "PMRFN", "ctxattn": "CtxAttn"}
DEEPGIN_TYPES = ("box", "cellular automaton", "free-form")
#: A smoke run's mask sets (``mask_sets(**SMOKE)``): one irregular mask per bucket, one of each DeepGIN type.
SMOKE = {"per_bucket": 1, "per_type": 1}


def protocol() -> Protocol:
    """PSNR, SSIM and L1 on the composite over the whole image; LPIPS too where its weights are installed (the
    ``lpips`` package on a machine with network access): :func:`inpaintlib.metrics.lpips_available`."""
    from ..metrics import lpips_available

    return Protocol(metrics=("psnr", "ssim", "l1") + (("lpips",) if lpips_available()[0] else ()))


def test_photographs(size: int = SIZE) -> torch.Tensor:
    """The sample scenes' test images, ``N x 3 x size x size``: several crops of each test photograph
    (:func:`test_sources` says which)."""
    te = SampleScenes("test", size)
    return torch.stack([te[i] for i in range(len(te))])


def test_sources(size: int = SIZE) -> list[str]:
    """For each image of :func:`test_photographs`, the photograph it was cropped from: crops of one photograph are
    not independent samples, so standard errors are taken over photographs (:func:`ranking`)."""
    te = SampleScenes("test", size)
    return [te.crop_spec(i)["photo"] for i in range(len(te))]


def mask_sets(size: int = SIZE, per_bucket: int = 8, per_type: int = 8, seed: int = 0) -> dict[str, tuple]:
    """``name -> (masks M x 1 x H x W, labels)``: the three fixed mask sets of the module docstring."""
    irregular = test_masks(size, "ci", per_bucket=per_bucket, label="bench", seed=seed)
    rng = np.random.default_rng(seed)
    typed = [deepgin_masks(size, size, rng) for _ in range(per_type)]
    return {"irregular": (irregular.masks(), [int(b) for b in irregular.bucket_ids]),
            "centre box": (to_tensor([center_box_mask(size, size)]), ["centre box 25%"]),
            "DeepGIN types": (to_tensor([m for ms in typed for m in ms]), list(DEEPGIN_TYPES) * per_type)}


def _exemplar(image: torch.Tensor, valid: torch.Tensor, max_iters: int | None = None) -> torch.Tensor:
    """Exemplar-based inpainting (5x5 patches), one image at a time; NaN where no 5x5 patch is fully known."""
    outs = []
    for x, v in zip(image, valid):
        try:
            outs.append(exemplar_inpaint(x[None], v[None], patch_size=5, record_every=0, max_iters=max_iters).output)
        except ValueError:
            outs.append(torch.full_like(x[None], float("nan")))
    return torch.cat(outs)


def methods(papers=tuple(LABELS), classical: bool = True, scale: str = "ci", data_root=None,
            exemplar_iters: int | None = None) -> dict[tuple[str, str], Callable]:
    """``(method, checkpoint) -> predict``: each network's model of this build at ``scale`` (at ``ci`` the ci model;
    at ``paper`` the checkpoint its training notebook wrote for the paper's first dataset under ``data_root``) and
    its demo model (``weights/``), then mean fill, biharmonic and exemplar-based inpainting (checkpoint ``"-"``;
    ``exemplar_iters`` stops the exemplar method early, a smoke run's knob)."""
    from ..chapter import run_context

    out = {}
    for p in papers:
        model = ci_model(p) if scale == "ci" else run_context(p, scale, data_root=data_root).trained()
        out[(LABELS[p], scale)] = at_training_size(model)
        demo = demo_model(p)
        if demo is not None:
            out[(LABELS[p], "demo")] = at_training_size(demo)
    if classical:
        out.update({("mean fill", "-"): mean_fill, ("biharmonic", "-"): biharmonic,
                    ("exemplar", "-"): lambda image, valid: _exemplar(image, valid, exemplar_iters)})
    return out


def hole_depth(masks: torch.Tensor) -> float:
    """The largest distance (px) from a hole pixel to the nearest known pixel over ``masks`` (``N x 1 x H x W``
    valid maps): how far into a hole a method has to reach."""
    from scipy.ndimage import distance_transform_edt

    return float(max(distance_transform_edt(m[0].numpy() < 0.5).max() for m in masks))


def score(predictors: Mapping[tuple[str, str], Callable], images: torch.Tensor, sets: Mapping[str, tuple],
          sources: list[str] | None = None) -> pd.DataFrame:
    """One row per (method, checkpoint, mask set, pair): ``bucket, image, mask, psnr, ssim, l1``, and ``photo``
    (``sources[image]``, the photograph the image was cropped from) when ``sources`` is given."""
    frames, proto = [], protocol()
    for (name, ckpt), fn in predictors.items():
        for set_name, (masks, labels) in sets.items():
            given = all(isinstance(b, int) for b in labels)  # bucket indices, else our own labels (set below)
            f = evaluate(fn, images, masks, proto, mask_buckets=labels if given else None).per_image
            if not given:
                f["bucket"] = [labels[m] for m in f["mask"]]
            if sources is not None:
                f["photo"] = [sources[i] for i in f["image"]]
            frames.append(f.assign(method=name, checkpoint=ckpt, mask_set=set_name))
    return pd.concat(frames, ignore_index=True)


def summary(pairs: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard error per (method, checkpoint, mask set, bucket incl. ``"all"``, metric): the tidy table
    the cost notebook reads (``quality.csv``), with ``n`` the number of pairs scored (NaN pairs dropped)."""
    ids = ["method", "checkpoint", "mask_set", "bucket", "image", "mask"] + (["photo"] if "photo" in pairs else [])
    long = pairs.melt(id_vars=ids, value_vars=[m for m in ("psnr", "ssim", "l1", "lpips") if m in pairs],
                      var_name="metric").dropna(subset=["value"])
    both = pd.concat([long, long.assign(bucket="all")])
    keys = ["method", "checkpoint", "mask_set", "bucket", "metric"]
    g = both.groupby(keys, sort=False)["value"]
    out = g.agg(mean="mean", n="count", sd="std").reset_index()
    if "photo" not in pairs:
        out["se"] = out["sd"] / np.sqrt(out["n"])
        return out.drop(columns="sd")
    # the standard error over photographs (the mean per photograph first; see _paired)
    per_photo = both.groupby(keys + ["photo"], sort=False)["value"].mean().groupby(level=keys, sort=False)
    photo = per_photo.agg(n_photos="count", sd_photos="std").reset_index()
    out = out.drop(columns="sd").merge(photo, on=keys, how="left")
    out["se"] = out["sd_photos"] / np.sqrt(out["n_photos"])
    return out.drop(columns="sd_photos")


def _paired(a: pd.Series, b: pd.Series) -> tuple[float, float]:
    """Mean paired difference ``a - b`` and its standard error. With a ``photo`` level in the index the pairs are
    grouped by photograph first (the mean difference per photograph) and the standard error is over photographs: the
    crops and masks of one photograph share its content, so counting them as independent would overstate the sample."""
    d = (a - b).dropna()
    if "photo" in (d.index.names or []):
        d = d.groupby(level="photo").mean()
    se = float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else float("nan")
    return float(d.mean()), se


def ranking(pairs: pd.DataFrame, mask_set: str, metric: str = "psnr") -> pd.DataFrame:
    """Per bucket of ``mask_set``: the methods ordered by mean ``metric`` (higher is better, L1 lower), and between
    neighbours ``>`` when the paired difference over the same pairs exceeds two standard errors (over photographs
    when ``pairs`` has a ``photo`` column: :func:`_paired`), else ``≈`` ("cannot tell"). Columns: ``ranking`` (the text), ``clear`` and ``cannot_tell`` (counts of the links)."""
    sign = -1 if metric == "l1" else 1
    sub = pairs[pairs["mask_set"] == mask_set].assign(name=lambda f: f["method"] + np.where(
        f["checkpoint"] == "-", "", " (" + f["checkpoint"] + ")"))
    rows = {}
    for bucket, f in sub.groupby("bucket", sort=False):
        keys = ["photo", "image", "mask"] if "photo" in f else ["image", "mask"]
        wide = f.pivot_table(index=keys, columns="name", values=metric) * sign
        order = wide.mean().sort_values(ascending=False).index
        text, clear = [order[0]], 0
        for a, b in zip(order, order[1:]):
            diff, se = _paired(wide[a], wide[b])
            sure = diff > 2 * se
            clear += int(sure)
            text += [">" if sure else "≈", b]
        rows[bucket] = {"ranking": " ".join(text), "clear": clear, "cannot_tell": len(order) - 1 - clear}
    return pd.DataFrame(rows).T


def demo_gain(pairs: pd.DataFrame, metric: str = "psnr", base: str = "ci") -> pd.DataFrame:
    """Per network (rows) and irregular bucket (columns, then ``all``: every irregular pair): demo minus ``base``
    (the build's models: ci, or paper) mean ``metric`` on the same pairs."""
    sub = pairs[(pairs["mask_set"] == "irregular") & (pairs["checkpoint"] != "-")]
    means = sub.groupby(["method", "checkpoint", "bucket"], sort=False)[metric].mean().unstack("checkpoint")
    if "demo" not in means.columns or base not in means.columns:
        return pd.DataFrame()
    gain = (means["demo"] - means[base]).unstack("bucket").dropna(how="all")
    overall = sub.groupby(["method", "checkpoint"], sort=False)[metric].mean().unstack("checkpoint")
    return gain.assign(all=(overall["demo"] - overall[base]).reindex(gain.index))


def leader(ranking_text: str) -> str:
    """The first method of a :func:`ranking` text."""
    return ranking_text.split(" > ")[0].split(" ≈ ")[0]


def describe_rankings(table: pd.DataFrame, mask_set: str) -> str:
    """One generated sentence per mask set: who leads in how many buckets, and how many neighbour links are
    "cannot tell" (paired difference within two standard errors)."""
    leaders = table["ranking"].map(leader)
    counts = ", ".join(f"{m} in {n}" for m, n in leaders.value_counts().items())
    links = int(table["clear"].sum() + table["cannot_tell"].sum())
    return (f"{mask_set}: the best mean PSNR goes to {counts} of {len(table)} bucket(s); of the {links} neighbour "
            f"comparisons in the rankings, {int(table['cannot_tell'].sum())} cannot be told apart (paired difference "
            f"within two standard errors).")


def display_name(method: str, checkpoint: str) -> str:
    """``"MSA-Net (demo)"``; classical methods (checkpoint ``"-"``) by their name alone."""
    return method if checkpoint == "-" else f"{method} ({checkpoint})"


def table(summ: pd.DataFrame, mask_set: str, metric: str = "psnr", digits: int = 2) -> pd.DataFrame:
    """Rows = methods, columns = the mask set's buckets and ``all``; cells ``mean ± se`` (text, for the page)."""
    sub = summ[(summ["mask_set"] == mask_set) & (summ["metric"] == metric)]
    cell = sub.assign(name=[display_name(m, c) for m, c in zip(sub["method"], sub["checkpoint"])],
                      text=[f"{m:.{digits}f} ± {s:.{digits}f}" for m, s in zip(sub["mean"], sub["se"])])
    out = cell.pivot(index="name", columns="bucket", values="text")
    cols = list(dict.fromkeys(sub["bucket"]))
    order = cell[cell["bucket"] == "all"].sort_values("mean", ascending=metric == "l1")["name"]
    return out.loc[list(order), cols].rename_axis(index=None, columns=None)


def bucket_figure(summ: pd.DataFrame, metric: str = "psnr", ylabel: str = "PSNR (dB)"):
    """Mean ``metric`` by irregular bucket with ±1 standard error: demo models solid, ci models dashed in the same
    colour, classical methods in grey shades."""
    import matplotlib.pyplot as plt

    sub = summ[(summ["mask_set"] == "irregular") & (summ["metric"] == metric) & (summ["bucket"] != "all")]
    buckets = list(dict.fromkeys(sub["bucket"]))
    fig, ax = plt.subplots(figsize=(7.2, 3.8))
    colours = {lab: f"C{i}" for i, lab in enumerate(LABELS.values())}
    greys = {"mean fill": "0.75", "biharmonic": "0.0", "exemplar": "0.45"}
    for (method, ckpt), f in sub.groupby(["method", "checkpoint"], sort=False):
        f = f.set_index("bucket").loc[buckets]
        style = dict(color=colours.get(method, greys.get(method, "k")), ls="-" if ckpt == "demo" else "--",
                     marker="o" if ckpt != "-" else "s", ms=3, lw=1.2, capsize=2)
        ax.errorbar(range(len(buckets)), f["mean"], yerr=f["se"], label=display_name(method, ckpt), **style)
    ax.set_xticks(range(len(buckets)), buckets, fontsize=8)
    ax.set(xlabel="hole ratio (irregular masks)", ylabel=ylabel)
    ax.legend(fontsize=7, ncol=2, loc="upper right", frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def example_inputs(sets: Mapping[str, tuple], images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, list]:
    """Four inputs for the side-by-side figure: a small and a large irregular hole, the centre box, a free-form
    stroke; returns ``(images, masks, row labels)``."""
    irr, irr_b = sets["irregular"]
    typed, typed_l = sets["DeepGIN types"]
    picks = [(irr[irr_b.index(1)], "irregular (0.1,0.2]"), (irr[irr_b.index(4)], "irregular (0.4,0.5]"),
             (sets["centre box"][0][0], "centre box 25%"), (typed[typed_l.index("free-form")], "free-form")]
    masks = torch.stack([m for m, _ in picks])
    return images[[i % len(images) for i in (1, 5, 9, 13)]], masks, [lab for _, lab in picks]


def demo_checkpoints() -> pd.DataFrame:
    """The demo models ``weights/manifest.json`` lists: how each was trained (steps, image size, wall time, threads,
    CPU, commit) and the test PSNR its training notebook logged."""
    from ..weights import Manifest

    rows = {}
    for e in Manifest():
        if e.get("scale") != "demo":
            continue
        t = e.get("training", {})
        rows[LABELS.get(e["chapter"], e["chapter"])] = {
            "steps": t.get("steps"), "image size": t.get("image_size"),
            "wall (min)": round(t["wall_s"] / 60, 1) if t.get("wall_s") else None,
            "CPU (min)": round(t["cpu_s"] / 60, 1) if t.get("cpu_s") else None, "threads": t.get("threads"),
            "test PSNR (dB)": e.get("metrics", {}).get("test_psnr"), "commit": str(e.get("commit", ""))[:7],
            "file": e["file"].removeprefix("weights/")}
    return pd.DataFrame(rows).T
