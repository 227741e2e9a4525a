"""The Foundations chapter's analyses and its own figures.

What the chapter's three notebooks compute beyond calling :mod:`inpaintlib.masks`, :mod:`inpaintlib.metrics` and
:mod:`inpaintlib.classical`, so that they read as prose plus short calls and every sentence that states a finding is
generated from a number computed here:

* masks -- draws per generator, hole-ratio statistics by bucket and a test of whether a generator spreads its masks
  evenly over the buckets; histograms of hole ratios;
* metrics -- one set of completions scored under several protocols; the whole-image vs hole-only PSNR gap predicted
  from the hole ratio alone; the small-sample bias of the Frechet distance;
* classical baselines -- how many fully known source patches a mask leaves, whether a score falls monotonically
  with the hole ratio, which method wins a bucket and by how much against the spread of paired differences, how much
  detail a completion has compared with the photograph, and the exemplar method's maps over its iterations.

Generic figures and tables live in :mod:`inpaintlib.viz`; nothing here knows a particular paper (paper-specific mask
generators are passed in by the notebook).
"""
from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from . import metrics as Q
from ._validate import check_valid
from .buckets import BUCKETS, bucket_labels, bucket_of
from .masks import GENERATORS
from .viz import PAGE_WIDTH, show_image

__all__ = [
    "SETTINGS",
    "settings",
    "liu_mask_folder",
    "GALLERY",
    "bucket_uniformity",
    "by_bucket",
    "classical_methods",
    "box_example",
    "bucket_sample",
    "describe_by_bucket",
    "describe_fill",
    "dilution_gap_db",
    "draw_masks",
    "exemplar_maps_figure",
    "fill_order_figure",
    "frechet_bias",
    "generators",
    "hole_ratio_table",
    "hole_ratios",
    "known_patch_counts",
    "paired_winners",
    "protocol_table",
    "ratio_histograms",
    "rises",
    "skimage_default_ssim",
    "target_terms",
    "texture_ratio",
    "validation_verdicts",
]

#: The shared generators of :data:`inpaintlib.masks.GENERATORS` the chapter shows, in the order of the page.
GALLERY = ("center_box", "box", "aim_box", "cellular_automaton", "aim_free_form", "brush_stroke", "irregular")

Generator = Callable[[int, int, np.random.Generator], np.ndarray]


# ----------------------------------------------------------------------------------------------------------- masks
def generators(extra: Mapping[str, Generator] | None = None) -> dict[str, Generator]:
    """The :data:`GALLERY` generators (those :mod:`inpaintlib.masks` defines), then ``extra`` (e.g. a paper's own)."""
    return {**{n: GENERATORS[n] for n in GALLERY if n in GENERATORS}, **dict(extra or {})}


def draw_masks(gens: Mapping[str, Generator], size: int, n: int, seed: int) -> dict[str, list[np.ndarray]]:
    """``n`` square ``valid`` masks of side ``size`` per generator, from one seeded generator (H x W arrays)."""
    rng = np.random.default_rng(seed)
    return {name: [g(size, size, rng) for _ in range(n)] for name, g in gens.items()}


def hole_ratios(gens: Mapping[str, Generator], size: int, n: int, seed: int) -> dict[str, np.ndarray]:
    """The hole ratios (1 - mean of ``valid``) of ``n`` seeded draws per generator."""
    return {name: np.array([1.0 - m.mean() for m in ms]) for name, ms in draw_masks(gens, size, n, seed).items()}


def _bucket_counts(ratios: np.ndarray, buckets, closed: str) -> tuple[np.ndarray, int]:
    idx = [bucket_of(float(r), buckets, closed) for r in ratios]
    counts = np.bincount([i for i in idx if i is not None], minlength=len(buckets))
    return counts, sum(i is None for i in idx)


def hole_ratio_table(ratios: Mapping[str, np.ndarray], buckets: Sequence[tuple[float, float]] = BUCKETS,
                     closed: str = "right") -> pd.DataFrame:
    """One row per generator: mean and largest hole ratio, the share of draws in each bucket, the share outside."""
    rows = {}
    for name, r in ratios.items():
        counts, outside = _bucket_counts(r, buckets, closed)
        rows[name] = {"mean": r.mean(), "max": r.max(), **dict(zip(bucket_labels(buckets, closed), counts / len(r))),
                      "outside": outside / len(r)}
    return pd.DataFrame(rows).T


def bucket_uniformity(ratios: np.ndarray, buckets: Sequence[tuple[float, float]] = BUCKETS,
                      closed: str = "right") -> dict:
    """Does a generator spread the draws that land in a bucket evenly over the buckets? Pearson's chi-square test
    of equal bucket counts. Returns ``counts``, ``shares`` (of all draws), ``outside`` (share in no bucket),
    ``chi2`` and ``p_value`` (small p: the spread is uneven)."""
    from scipy.stats import chisquare  # noqa: PLC0415

    counts, outside = _bucket_counts(ratios, buckets, closed)
    stat, p = chisquare(counts) if counts.sum() else (float("nan"), float("nan"))
    return {"counts": counts, "shares": counts / len(ratios), "outside": outside / len(ratios),
            "chi2": float(stat), "p_value": float(p)}


def ratio_histograms(ratios: Mapping[str, np.ndarray], buckets: Sequence[tuple[float, float]] = BUCKETS,
                     ncols: int = 3, bins: int = 40) -> Figure:
    """One histogram of hole ratios per generator, the bucket edges dashed; sized for the page width."""
    n = len(ratios)
    nrows = math.ceil(n / ncols)
    fig = plt.figure(figsize=(PAGE_WIDTH, 1.9 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True)
    edges = sorted({e for b in buckets for e in b})
    for ax, (name, r) in zip(axes.flat, ratios.items()):
        ax.hist(r, bins=bins, range=(0, 1), color="tab:blue")
        for e in edges:
            ax.axvline(e, color="k", lw=0.6, ls="--")
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=8)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("hole ratio", fontsize=8)
    return fig


def validation_verdicts(cases: Mapping[str, object], **check: bool) -> dict[str, str]:
    """Pass each candidate mask to :func:`inpaintlib._validate.check_valid` (with ``check``, e.g.
    ``require_known=True``); per case, ``"accepted"`` or ``"ValueError: <the message>"``."""
    out = {}
    for name, mask in cases.items():
        try:
            check_valid(mask, **check)
            out[name] = "accepted"
        except ValueError as e:
            out[name] = f"ValueError: {e}"
    return out


# --------------------------------------------------------------------------------------------------------- metrics
def skimage_default_ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean SSIM with scikit-image's defaults (7x7 uniform window, sample-covariance correction), per RGB channel."""
    from skimage.metrics import structural_similarity  # noqa: PLC0415

    return float(np.mean([structural_similarity(x.permute(1, 2, 0).numpy(), y.permute(1, 2, 0).numpy(),
                                                channel_axis=2, data_range=1.0) for x, y in zip(a, b)]))


def protocol_table(images: torch.Tensor, valid: torch.Tensor, outputs: Mapping[str, torch.Tensor]) -> pd.DataFrame:
    """The same completions scored under several protocols: rows = protocol, columns = method (means over images).

    PSNR over the whole composite, over the hole only and on the raw output; SSIM with Wang et al.'s 11x11 Gaussian
    window in colour and on luma, and with scikit-image's 7x7 default; L1 (%) over the image, over the hole, and
    relative to the sum of the ground truth."""
    hole = 1 - valid
    rows = {}
    for name, out in outputs.items():
        comp = valid * images + hole * out
        rows[name] = {
            "PSNR whole (composite)": Q.psnr(comp, images).mean().item(),
            "PSNR hole only": Q.psnr(comp, images, region=hole).mean().item(),
            "PSNR raw output": Q.psnr(out, images).mean().item(),
            "SSIM Wang 11x11 Gaussian": Q.ssim(comp, images).mean().item(),
            "SSIM grey": Q.ssim(comp, images, gray=True).mean().item(),
            "SSIM skimage default 7x7": skimage_default_ssim(comp, images),
            "L1 % whole": Q.l1_percent(comp, images).mean().item(),
            "L1 % hole": Q.l1_hole_percent(comp, images, valid).mean().item(),
            "L1 % relative": Q.l1_relative_percent(images, comp).mean().item(),
        }
    return pd.DataFrame(rows)


def dilution_gap_db(valid: torch.Tensor) -> torch.Tensor:
    """Per mask, ``-10 log10(hole ratio)``: how much higher whole-image PSNR is than hole-only PSNR on a composite.

    In a composite the known pixels are exact, so the whole-image MSE is the hole MSE times the hole ratio, whatever
    the method: the gap depends on the mask alone."""
    return -10 * torch.log10((1 - valid.double()).flatten(1).mean(1))


def frechet_bias(sizes: Sequence[int] = (50, 200, 1000, 5000), dim: int = 64, seed: int = 0) -> pd.Series:
    """Frechet distance between two independent samples of ``n`` draws from the same ``dim``-d standard Gaussian,
    for each ``n`` in ``sizes``. The true distance is 0; what is left is the bias of the estimate."""
    rng = np.random.default_rng(seed)
    out = {}
    for n in sizes:
        a, b = rng.normal(size=(n, dim)), rng.normal(size=(n, dim))
        out[n] = Q.frechet_distance(*Q.feature_statistics(a), *Q.feature_statistics(b))
    return pd.Series(out, name="Fréchet distance", dtype=float).rename_axis("samples per side")


# ------------------------------------------------------------------------------------------------------- baselines
def classical_methods(patch: int, exemplar_iters: int | None = None
                      ) -> dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]]:
    """The three baselines as ``predict(image, valid) -> output`` functions: mean fill, biharmonic, and exemplar-based
    inpainting with ``patch x patch`` patches (maps not recorded; ``exemplar_iters`` stops it early: a smoke run's)."""
    from .classical import biharmonic, exemplar_inpaint, mean_fill  # noqa: PLC0415

    def exemplar(image: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        return exemplar_inpaint(image, valid, patch_size=patch, record_every=0, max_iters=exemplar_iters).output

    return {"mean fill": mean_fill, "biharmonic": biharmonic, "exemplar (Criminisi)": exemplar}


def by_bucket(results: Mapping[str, "Q.EvalResult"]) -> pd.DataFrame:
    """The tables of several :class:`~inpaintlib.metrics.EvalResult` in one frame: rows = (metric, method) with the
    methods of each metric together, columns = the buckets and ``"all"``."""
    both = pd.concat({k: r.table for k, r in results.items()}, names=["method", "metric"]).swaplevel()
    metrics = list(dict.fromkeys(both.index.get_level_values("metric")))
    return both.reindex(pd.MultiIndex.from_product([metrics, list(results)], names=["metric", "method"]))


def known_patch_counts(valid: torch.Tensor, patch: int) -> torch.Tensor:
    """Per mask, the number of ``patch x patch`` windows lying entirely in the known region: the candidate source
    patches of exemplar-based inpainting (a source patch must be fully known)."""
    full = F.avg_pool2d(valid.double(), patch, stride=1) > 1 - 1e-9
    return full.flatten(1).sum(1)


def rises(values: pd.Series) -> list[tuple[str, str]]:
    """The consecutive pairs ``(a, b)`` of ``values`` (in order, e.g. by bucket) where the value does not fall
    from ``a`` to ``b``; empty when it falls at every step."""
    v = values.dropna()
    return [(str(a), str(b)) for (a, x), (b, y) in zip(v.items(), list(v.items())[1:]) if not y < x]


def paired_winners(results: Mapping[str, "Q.EvalResult"], metric: str = "psnr", higher_is_better: bool = True,
                   labels: Sequence[str] | None = None) -> pd.DataFrame:
    """Per bucket: the method with the best mean ``metric``, the runner-up, the mean paired difference over the
    image-mask pairs both scored, its standard error, and ``clear`` = the difference exceeds two standard errors.

    The methods must have been evaluated on the same pairs (same images, masks and protocol)."""
    frames = {k: r.per_image.set_index(["image", "mask"]) for k, r in results.items()}
    first = next(iter(results.values()))
    labels = list(labels or first.protocol.bucket_labels)
    rows = {}
    for lab in labels:
        sub = {k: f.loc[f["bucket"] == lab, metric] for k, f in frames.items()}
        means = pd.Series({k: s.mean() for k, s in sub.items()}).sort_values(ascending=not higher_is_better)
        best, second = means.index[0], means.index[1]
        d = (sub[best] - sub[second]).dropna() * (1 if higher_is_better else -1)
        se = float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else float("nan")
        rows[lab] = {"best": best, "runner-up": second, "margin": float(d.mean()), "se": se,
                     "clear": bool(d.mean() > 2 * se)}
    return pd.DataFrame(rows).T


def describe_by_bucket(results: Mapping[str, "Q.EvalResult"], scale: str, metric: str = "psnr",
                       unit: str = "dB") -> str:
    """Plain-text findings on methods scored on the same pairs, generated from the numbers with their criteria:
    which method has the best mean ``metric`` in how many buckets and in how many of them the lead is clear
    (:func:`paired_winners`: more than two standard errors of the paired difference), the best over all buckets,
    and for which methods the mean falls from every bucket to the next (:func:`rises`)."""
    better_high = metric not in ("l1", "mse", "lpips")
    win = paired_winners(results, metric, higher_is_better=better_high)
    means = pd.DataFrame({k: r.table.loc[metric] for k, r in results.items()}).T
    labels = list(next(iter(results.values())).protocol.bucket_labels)
    wins = ", ".join(f"{m} in {n} of {len(win)} buckets" for m, n in win["best"].value_counts().items())
    trend = {k: rises(means.loc[k, labels] * (1 if better_high else -1)) for k in means.index}
    worsening = [k for k, r in trend.items() if not r]
    exceptions = "".join(f"; for {k} it does not get worse from {', '.join(f'{a} to {b}' for a, b in r)}"
                         for k, r in trend.items() if r)
    best_all = means["all"].idxmax() if better_high else means["all"].idxmin()
    name = metric.upper()
    return (f"At {scale} scale, the best mean {name} per bucket goes to {wins}; the lead over the runner-up exceeds "
            f"two standard errors of the paired difference in {int(win['clear'].sum())} of {len(win)} buckets. Over "
            f"all buckets the best is {best_all} ({means.loc[best_all, 'all']:.2f} {unit}). Mean {name} gets worse "
            f"from every bucket to the next (larger holes) for {', '.join(worsening) or 'no method'}{exceptions}.")


def texture_ratio(output: torch.Tensor, image: torch.Tensor, valid: torch.Tensor) -> float:
    """Mean gradient magnitude inside the hole of the composite, divided by that of the ground truth there.

    1 = as much local detail as the photograph; below 1 = smoother (blurred); above 1 = more edges than the photograph.
    Gradients are forward differences of luma; a pixel counts when it and its right/lower neighbour are in the hole."""
    comp = valid * image + (1 - valid) * output

    def grad(x):
        y = Q.to_luma(x)
        return (y[..., 1:, :-1] - y[..., :-1, :-1]).abs() + (y[..., :-1, 1:] - y[..., :-1, :-1]).abs()

    hole = 1 - valid
    region = hole[..., :-1, :-1] * hole[..., 1:, :-1] * hole[..., :-1, 1:]
    return float((grad(comp) * region).sum() / (grad(image) * region).sum())


def target_terms(trace) -> pd.DataFrame:
    """Per recorded iteration of an :class:`inpaintlib.classical.ExemplarTrace`: the confidence C, data term D and
    priority P at the centre of the patch filled at that iteration."""
    rows = []
    for t, it in enumerate(trace.iterations):
        y, x = (int(v) for v in trace.target[t])
        rows.append({"iteration": int(it), "confidence": float(trace.target_confidence[t]),
                     "data": float(trace.data[t][y, x]), "priority": float(trace.priority[t][y, x])})
    return pd.DataFrame(rows).set_index("iteration")


def describe_fill(trace) -> str:
    """Plain-text findings on one exemplar fill, generated from its trace: the number of iterations, the confidence
    of the first and last filled patch, and the Spearman rank correlation of C and D at the filled patch with the
    iteration (negative: the term falls as the fill goes on)."""
    terms = target_terms(trace)
    rho = terms.reset_index().corr(method="spearman")["iteration"]
    c = terms["confidence"]
    return (f"The fill took {trace.n_iters} iterations. The confidence of the filled patch was {c.iloc[0]:.2f} for "
            f"the first patch and {c.iloc[-1]:.2f} for the last. Rank correlation with the iteration (Spearman; "
            f"negative = falls as the fill goes on): confidence {rho['confidence']:+.2f}, data term "
            f"{rho['data']:+.2f}, priority {rho['priority']:+.2f}.")


def box_example(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(image, valid)`` for the first image of ``image`` (N x 3 x H x W) with a box hole: the middle third of the
    rows and the middle half of the columns (our choice, a hole with edges running into it from both sides)."""
    h, w = image.shape[-2:]
    valid = torch.ones(1, 1, h, w)
    valid[..., h // 3: 2 * h // 3, w // 4: 3 * w // 4] = 0
    return image[:1], valid


def bucket_sample(images: torch.Tensor, masks: torch.Tensor, buckets: Sequence[int], bucket: int, n: int = 4
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` masks of ``bucket`` (``buckets[i]`` is the bucket of mask ``i``), each with the image it is
    paired with in :func:`inpaintlib.metrics.evaluate`'s cycle pairing (mask ``k`` with image ``k mod N``)."""
    idx = [i for i, b in enumerate(buckets) if b == bucket][:n]
    return images[[i % len(images) for i in idx]], masks[idx]


def exemplar_maps_figure(trace, n_steps: int = 4) -> Figure:
    """Confidence C, data term D and priority P = C D on the fill front at ``n_steps`` moments of the fill (rows =
    terms, columns = iterations); a cyan + marks the patch filled next."""
    steps = np.linspace(0, len(trace.iterations) - 1, n_steps).astype(int)
    terms = [("confidence C", trace.confidence), ("data term D", trace.data), ("priority P = C D", trace.priority)]
    fig = plt.figure(figsize=(PAGE_WIDTH, 1.6 * len(terms) + 0.4), layout="constrained")
    axes = fig.subplots(len(terms), n_steps, squeeze=False)
    for c, t in enumerate(steps):
        for r, (name, maps) in enumerate(terms):
            ax = axes[r, c]
            im = ax.imshow(maps[t], cmap="magma", interpolation="nearest")
            ax.plot(trace.target[t][1], trace.target[t][0], "c+", ms=9, mew=2)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(name, fontsize=9)
            if r == 0:
                ax.set_title(f"iteration {trace.iterations[t]}", fontsize=9)
            fig.colorbar(im, ax=ax, fraction=0.046).ax.tick_params(labelsize=7)
    fig.suptitle("Exemplar-based inpainting on the fill front (+ = the patch filled next)", fontsize=10)
    return fig


def fill_order_figure(masked: torch.Tensor, trace, output: torch.Tensor) -> Figure:
    """Input with its hole (black), the iteration that filled each pixel, and the completion, side by side."""
    fig = plt.figure(figsize=(PAGE_WIDTH, 2.6), layout="constrained")
    axes = fig.subplots(1, 3)
    show_image(masked[0], ax=axes[0], title="input (hole black)")
    im = axes[1].imshow(np.ma.masked_less(trace.fill_order, 0), cmap="viridis", interpolation="nearest")
    axes[1].set_title("fill order (iteration)", fontsize=9)
    axes[1].axis("off")
    fig.colorbar(im, ax=axes[1], fraction=0.046).ax.tick_params(labelsize=7)
    show_image(output[0], ax=axes[2], title="exemplar completion")
    return fig


# ------------------------------------------------------------------------------------------------ per scale
#: What each Foundations notebook draws at each scale (our choices; no paper sets them): ``masks`` -- the mask size
#: of the gallery and histograms, masks per generator, the fixed test set's side and masks per bucket; ``metrics``
#: -- the size of the test crops; ``baselines`` -- the crop size and test masks per bucket.
SETTINGS = {
    "masks": {"ci": dict(size=128, n_samples=300, side=64, per_bucket=20),
              "demo": dict(size=256, n_samples=2000, side=256, per_bucket=100),
              "paper": dict(size=256, n_samples=5000, side=512, per_bucket=1000)},
    "metrics": {"ci": dict(size=96), "demo": dict(size=256), "paper": dict(size=256)},
    # paper: the papers' 256 px and the chapters' 50 masks per bucket (exemplar-based inpainting takes about 45 s
    # per 256 px pair on one core, so 4 photographs x 300 masks are hours; at 512 px it would be days)
    "baselines": {"ci": dict(size=64, per_bucket=20, exemplar_iters=None),
                  "demo": dict(size=256, per_bucket=100, exemplar_iters=None),
                  "paper": dict(size=256, per_bucket=50, exemplar_iters=None)},
}
#: A smoke run (a dry run of every cell): one mask per bucket, a few draws per generator, exemplar-based inpainting
#: stopped after a few patches (its cells run; its numbers mean nothing).
SMOKE_SETTINGS = {"n_samples": 60, "per_bucket": 1, "exemplar_iters": 5}


def settings(notebook: str, scale: str, smoke: bool = False, **overrides):
    """The :data:`SETTINGS` of ``notebook`` at ``scale`` as an object with attributes (``.size``, ...); ``smoke``
    applies :data:`SMOKE_SETTINGS` to the settings the notebook has; ``overrides`` (None ignored) last."""
    from types import SimpleNamespace

    from .paths import check_scale

    if notebook not in SETTINGS:
        raise ValueError(f"unknown Foundations notebook {notebook!r}; expected one of {sorted(SETTINGS)}")
    values = dict(SETTINGS[notebook][check_scale(scale)])
    if smoke:
        values.update({k: v for k, v in SMOKE_SETTINGS.items() if k in values})
    values.update({k: v for k, v in overrides.items() if v is not None and k in values})
    return SimpleNamespace(scale=scale, smoke=smoke, **values)



def liu_mask_folder(data_root):
    """The folder of Liu et al.'s irregular-mask test set under ``data_root`` (``irregular_masks/``, or the
    ``mask/testing_mask_dataset/`` inside it as the archive ships it); None when ``data_root`` is None or has none."""
    from pathlib import Path

    if data_root is None:
        return None
    root = Path(data_root) / "irregular_masks"
    for folder in (root / "mask" / "testing_mask_dataset", root / "testing_mask_dataset", root):
        if folder.is_dir() and any(folder.glob("*.png")):
            return folder
    return None
