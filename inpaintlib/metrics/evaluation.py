"""Scoring an inpainting function by hole-ratio bucket under an explicit :class:`Protocol`.

:func:`evaluate` runs ``predict(image * valid, valid)`` on images x masks and returns an :class:`EvalResult` whose
table is shaped like the papers' tables (rows = metrics, columns = hole-ratio buckets); every table states its
protocol (book/conventions.md, "Composite and protocol"). Buckets come from :mod:`inpaintlib.buckets`.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import pandas as pd
import torch

from .._validate import check_image, check_valid, stack_images
from ..buckets import LIU_BUCKETS, bucket_labels, bucket_of
from .perceptual import lpips_available, lpips_distance
from .pixel import l1_hole_percent, l1_percent, l1_relative_percent, mse, psnr, ssim

__all__ = ["METRIC_LABELS", "Protocol", "EvalResult", "evaluate"]

#: Row labels used when a result table is printed; the DataFrame index keeps the short names.
METRIC_LABELS = {
    "psnr": "PSNR (dB)",
    "ssim": "SSIM",
    "l1": "L1 (%)",
    "mse": "MSE",
    "lpips": "LPIPS",
    "n": "n (pairs)",
}


_L1_KINDS = {
    "whole": "MAE x 100 over the whole image",
    "hole": "MAE x 100 over the hole only",
    "relative": "relative L1 x 100 = 100 sum|gt - pred| / sum gt over the whole image",
}
_METRICS = ("psnr", "ssim", "l1", "mse", "lpips")


@dataclass(frozen=True)
class Protocol:
    """How an inpainting result is scored; printed with every table (book/conventions.md, "Composite and protocol").

    * ``region``: ``"whole"`` or ``"hole"`` -- the pixels over which PSNR and MSE are computed;
    * ``composite``: score ``valid * gt + (1 - valid) * output`` (True, the common protocol) or the raw output;
    * ``l1``: ``"whole"`` (MAE x 100 over the image), ``"hole"`` (MAE x 100 over the hole) or ``"relative"``;
    * SSIM settings (Wang et al.): ``ssim_win``, ``ssim_sigma``, ``ssim_k1``, ``ssim_k2``; SSIM is always over the
      whole image; ``gray`` computes SSIM on BT.601 luma instead of per RGB channel;
    * ``buckets`` with ``closed="right"`` ((lo, hi], Liu et al.) or ``"left"`` ([lo, hi), MSFEF's table);
    * ``pairing``: ``"cycle"`` -- pair k uses image ``k mod N`` and mask ``k mod M`` for ``k < max(N, M)``, so every
      image and every mask is used, deterministically and at the cost of ``max(N, M)`` predictions (our default, cheap
      at ci scale); ``"all"`` -- every image with every mask (``N * M`` predictions);
    * ``metrics``: which of ``psnr, ssim, l1, mse, lpips`` to compute; ``clamp``: clip outputs to [0, 1] first (as
      saving an 8-bit image would).
    """

    region: str = "whole"
    composite: bool = True
    l1: str = "whole"
    gray: bool = False
    ssim_win: int = 11
    ssim_sigma: float = 1.5
    ssim_k1: float = 0.01
    ssim_k2: float = 0.03
    data_range: float = 1.0
    buckets: tuple[tuple[float, float], ...] = LIU_BUCKETS
    closed: str = "right"
    pairing: str = "cycle"
    metrics: tuple[str, ...] = ("psnr", "ssim", "l1")
    clamp: bool = True

    def __post_init__(self):
        if self.region not in ("whole", "hole"):
            raise ValueError(f"region must be 'whole' or 'hole', got {self.region!r}")
        if self.l1 not in _L1_KINDS:
            raise ValueError(f"l1 must be one of {tuple(_L1_KINDS)}, got {self.l1!r}")
        if self.closed not in ("right", "left"):
            raise ValueError(f"closed must be 'right' or 'left', got {self.closed!r}")
        if self.pairing not in ("cycle", "all"):
            raise ValueError(f"pairing must be 'cycle' or 'all', got {self.pairing!r}")
        bad = [m for m in self.metrics if m not in _METRICS]
        if bad or not self.metrics:
            raise ValueError(f"metrics must be a non-empty subset of {_METRICS}, got {self.metrics!r}")
        object.__setattr__(self, "buckets", tuple((float(lo), float(hi)) for lo, hi in self.buckets))
        object.__setattr__(self, "metrics", tuple(self.metrics))
        for lo, hi in self.buckets:
            if not 0 <= lo < hi <= 1:
                raise ValueError(f"bucket ({lo}, {hi}) is not a sub-interval of [0, 1]")

    @property
    def bucket_labels(self) -> list[str]:
        return bucket_labels(self.buckets, self.closed)

    def describe(self) -> str:
        """One line for a table caption."""
        scored = "composite (known pixels from the ground truth)" if self.composite else "raw network output"
        parts = [f"Scored on the {scored}"]
        if "psnr" in self.metrics or "mse" in self.metrics:
            parts.append(f"PSNR/MSE over the {'whole image' if self.region == 'whole' else 'hole only'}")
        if "ssim" in self.metrics:
            col = "BT.601 luma" if self.gray else "per RGB channel, averaged"
            parts.append(
                f"SSIM {self.ssim_win}x{self.ssim_win} Gaussian sigma {self.ssim_sigma:g}, K=({self.ssim_k1:g}, "
                f"{self.ssim_k2:g}), whole image, {col}"
            )
        if "l1" in self.metrics:
            parts.append(f"L1 (%) = {_L1_KINDS[self.l1]}")
        if "lpips" in self.metrics:
            parts.append("LPIPS AlexNet v0.1")
        parts.append(f"data range {self.data_range:g}")
        parts.append(f"hole-ratio buckets {', '.join(self.bucket_labels)}")
        parts.append(
            "each mask paired with image (k mod N), k < max(N, M)"
            if self.pairing == "cycle"
            else "every image x every mask"
        )
        if self.clamp:
            parts.append("outputs clipped to [0, 1]")
        return "; ".join(parts) + "."


@dataclass
class EvalResult:
    """What :func:`evaluate` returns.

    ``per_image``: one row per (image, mask) pair: ``image``, ``mask``, ``bucket``, ``hole_ratio`` and one column per
    metric. ``table``: rows = metrics (those of ``protocol.metrics``, then ``n`` = number of pairs), columns = the
    protocol's buckets in order, then ``"all"`` (mean over every pair that falls in a bucket) -- the shape of the
    papers' tables. ``notes``: reasons for metrics that could not be computed (their cells are NaN).
    """

    per_image: pd.DataFrame
    table: pd.DataFrame
    protocol: Protocol
    notes: list[str] = field(default_factory=list)

    def to_markdown(self, label: str | None = None) -> str:
        """The table as markdown, metrics labelled (``METRIC_LABELS``), with the protocol (and ``label``) below."""
        fmt = {"psnr": "{:.2f}", "ssim": "{:.4f}", "l1": "{:.2f}", "mse": "{:.5f}", "lpips": "{:.4f}", "n": "{:.0f}"}
        header = ["metric", *[str(c) for c in self.table.columns]]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for name, row in self.table.iterrows():
            cells = ["n/a" if (v is None or math.isnan(float(v))) else fmt.get(name, "{:.4g}").format(v)
                     for v in row.values]
            lines.append("| " + " | ".join([METRIC_LABELS.get(name, str(name)), *cells]) + " |")
        caption = ("" if label is None else f"{label}. ") + "Protocol: " + self.protocol.describe()
        out = "\n".join(lines) + "\n\n" + caption
        if self.notes:
            out += "\n" + "\n".join(f"Note: {n}" for n in self.notes)
        return out

    def _repr_markdown_(self) -> str:
        return self.to_markdown()


class _ImageSource:
    """Random access to images given as a tensor, an indexable Dataset (items tensors or tuples), or an iterable."""

    def __init__(self, images):
        if isinstance(images, torch.Tensor):
            check_image(images, "images")
            self._items, self._n = images, images.shape[0]
        elif hasattr(images, "__len__") and hasattr(images, "__getitem__"):
            self._items, self._n = images, len(images)
        else:
            self._items = list(images)
            self._n = len(self._items)
        if self._n == 0:
            raise ValueError("images is empty")

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: int) -> torch.Tensor:
        x = self._items[i]
        if isinstance(x, (tuple, list)):
            x = x[0]
        if isinstance(x, dict):
            x = x.get("image")
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"image {i} is a {type(x).__name__}, expected a 3 x H x W tensor")
        if x.dim() == 4 and x.shape[0] == 1:
            x = x[0]
        if x.dim() != 3:
            raise ValueError(f"image {i} must be C x H x W, got shape {tuple(x.shape)}")
        return x


def _pairs(n_images: int, n_masks: int, pairing: str) -> list[tuple[int, int]]:
    if pairing == "all":
        return [(i, j) for i in range(n_images) for j in range(n_masks)]
    return [(k % n_images, k % n_masks) for k in range(max(n_images, n_masks))]


def _mask_labels(masks: torch.Tensor, protocol: Protocol, mask_buckets) -> tuple[list[float], list[str | None]]:
    """The hole ratio and the bucket label (None: no bucket) of every mask; warns about masks in no bucket."""
    labels = protocol.bucket_labels
    n_masks = masks.shape[0]
    ratios = (1.0 - masks.double()).flatten(1).mean(1).tolist()
    if mask_buckets is None:
        mbuckets = [bucket_of(r, protocol.buckets, protocol.closed) for r in ratios]
        mlabels = [None if b is None else labels[b] for b in mbuckets]
    else:
        if len(mask_buckets) != n_masks:
            raise ValueError(f"mask_buckets has {len(mask_buckets)} entries for {n_masks} masks")
        mlabels = [_given_label(b, labels) for b in mask_buckets]
    if any(lab is None for lab in mlabels):
        k = sum(lab is None for lab in mlabels)
        warnings.warn(f"{k} of {n_masks} masks fall in no bucket of {labels}; they are left out of the table",
                      stacklevel=3)
    return ratios, mlabels


def _given_label(b: int | str | None, labels: list[str]) -> str | None:
    if b is None or isinstance(b, str):
        if b is not None and b not in labels:
            raise ValueError(f"bucket label {b!r} is not one of the protocol's buckets {labels}")
        return b
    b = int(b)
    if not 0 <= b < len(labels):
        raise ValueError(f"bucket index {b} out of range for {len(labels)} buckets")
    return labels[b]


def _scored_output(predict: Callable, gt: torch.Tensor, valid: torch.Tensor, protocol: Protocol,
                   device) -> torch.Tensor:
    """``predict``'s output for the masked images, checked, clamped if the protocol says so, composited."""
    with torch.no_grad():
        out = predict(gt * valid, valid)
    if not isinstance(out, torch.Tensor) or out.shape != gt.shape:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"predict must return an N x 3 x H x W tensor like its input {tuple(gt.shape)}, got {got}")
    out = out.detach().to(device=device, dtype=torch.float32)
    if not bool(torch.isfinite(out).all()):
        raise ValueError("predict returned non-finite values (nan or inf)")
    if protocol.clamp:
        out = out.clamp(0, 1)
    else:
        check_image(out, "predict output")
    return valid * gt + (1 - valid) * out if protocol.composite else out


def _metric_values(pred: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor,
                   protocol: Protocol) -> dict[str, torch.Tensor | None]:
    """The protocol's metrics of one batch, per image (``None`` for a metric that cannot run here)."""
    want = protocol.metrics
    region = None if protocol.region == "whole" else 1 - valid
    vals: dict[str, torch.Tensor | None] = {}
    if "psnr" in want:
        vals["psnr"] = psnr(pred, gt, protocol.data_range, region=region)
    if "mse" in want:
        vals["mse"] = mse(pred, gt, region=region)
    if "ssim" in want:
        vals["ssim"] = ssim(pred, gt, protocol.data_range, protocol.gray, win_size=protocol.ssim_win,
                            sigma=protocol.ssim_sigma, k1=protocol.ssim_k1, k2=protocol.ssim_k2)
    if "l1" in want:
        if protocol.l1 == "whole":
            vals["l1"] = l1_percent(pred, gt)
        elif protocol.l1 == "hole":
            vals["l1"] = l1_hole_percent(pred, gt, valid)
        else:
            vals["l1"] = l1_relative_percent(gt, pred)
    if "lpips" in want:
        vals["lpips"] = lpips_distance(pred, gt)
    return vals


def _refuse_partial_nan(per_image: pd.DataFrame, want: list[str]) -> None:
    """A metric that is NaN for some pairs but not all would be averaged over fewer pairs than ``n`` says: refuse.
    (A metric that is NaN for every pair - LPIPS without its weights - is reported as n/a.)"""
    for m in want:
        bad = per_image[m].isna()
        if bool(bad.any()) and not bool(bad.all()):
            pairs = list(zip(per_image["image"][bad], per_image["mask"][bad]))[:5]
            raise ValueError(f"metric {m!r} is NaN for {int(bad.sum())} of {len(per_image)} (image, mask) pairs, "
                             f"e.g. {pairs}; the table would average over fewer pairs than it reports - check those "
                             "images and outputs")


def _bucket_table(per_image: pd.DataFrame, labels: list[str], want: list[str]) -> pd.DataFrame:
    """Rows = metrics and ``n``, columns = the buckets then ``"all"``: means over the pairs in each bucket."""
    table = pd.DataFrame(index=[*want, "n"], columns=[*labels, "all"], dtype=float)
    in_bucket = per_image[per_image["bucket"].notna()]
    for lab in labels:
        sub = in_bucket[in_bucket["bucket"] == lab]
        for m in want:
            table.loc[m, lab] = sub[m].mean() if len(sub) else float("nan")
        table.loc["n", lab] = float(len(sub))
    for m in want:
        table.loc[m, "all"] = in_bucket[m].mean() if len(in_bucket) else float("nan")
    table.loc["n", "all"] = float(len(in_bucket))
    table.columns.name = "hole ratio"
    return table


_SIZE_FIX = ("evaluate scores every image at the masks' size ({0}x{1}): bring them to one size first, e.g. "
             "inpaintlib.data.ImageFolder(root, size, mode='center_crop') or inpaintlib.data.resize_or_crop(image, "
             "size) on each image")


def evaluate(
    predict: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    images: torch.Tensor | Iterable,
    masks: torch.Tensor,
    protocol: Protocol = Protocol(),
    *,
    mask_buckets: Sequence[int | str | None] | None = None,
    batch_size: int = 16,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> EvalResult:
    """Score ``predict(image, valid) -> output`` (``N x 3 x H x W``) on images x masks under ``protocol``.

    ``images``: an ``N x 3 x H x W`` tensor in [0, 1], or a Dataset / iterable of ``3 x H x W`` tensors (or tuples
    whose first item is one). ``masks``: an ``M x 1 x H x W`` ``valid`` tensor (1 = known, 0 = hole); every mask must
    have both hole and known pixels. Pairing is deterministic (``protocol.pairing``, see :class:`Protocol`).
    ``mask_buckets``: the bucket of each mask, as an index into ``protocol.buckets`` or a label; by default it is
    computed from the hole ratio. Masks that fall in no bucket stay in ``per_image`` (bucket ``None``) but not in the
    table. ``predict`` receives the image with its hole pixels set to 0 (``image * valid``, so nothing leaks from the
    ground truth) and runs under ``torch.no_grad()`` on ``device`` with batches of ``batch_size`` pairs; the metrics
    are computed on the composite ``valid * image + (1 - valid) * output`` when ``protocol.composite``.
    """
    check_valid(masks, name="masks", require_hole=True, require_known=True)
    src = _ImageSource(images)
    ratios, mlabels = _mask_labels(masks, protocol, mask_buckets)
    want = list(protocol.metrics)
    notes: list[str] = []
    if "lpips" in want:
        ok, reason = lpips_available()
        if not ok:
            notes.append(f"LPIPS n/a: {reason}")

    pairs = _pairs(len(src), masks.shape[0], protocol.pairing)
    rows: list[dict] = []
    it = range(0, len(pairs), batch_size)
    if progress:
        from tqdm.auto import tqdm  # noqa: PLC0415

        it = tqdm(it, desc="evaluate", unit="batch")
    for start in it:
        chunk = pairs[start : start + batch_size]
        gt = stack_images([src[i] for i, _ in chunk], "the images", _SIZE_FIX.format(*masks.shape[-2:]),
                          [f"image {i}" for i, _ in chunk]).to(device=device, dtype=torch.float32)
        valid = masks[[j for _, j in chunk]].to(device=device, dtype=torch.float32)
        check_image(gt, "images")
        if gt.shape[1] != 3:
            raise ValueError(f"images must have 3 channels, got {gt.shape[1]}")
        check_valid(valid, image=gt, name="masks")
        vals = _metric_values(_scored_output(predict, gt, valid, protocol, device), gt, valid, protocol)
        for k, (i, j) in enumerate(chunk):
            row = {"image": i, "mask": j, "bucket": mlabels[j], "hole_ratio": ratios[j]}
            row.update({m: float("nan") if vals[m] is None else float(vals[m][k]) for m in want})
            rows.append(row)

    per_image = pd.DataFrame(rows, columns=["image", "mask", "bucket", "hole_ratio", *want])
    _refuse_partial_nan(per_image, want)
    table = _bucket_table(per_image, protocol.bucket_labels, want)
    return EvalResult(per_image=per_image, table=table, protocol=protocol, notes=notes)
