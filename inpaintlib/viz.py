"""Figures for the book: inpainting grids, feature maps, heat maps, masks, learning curves, result tables.

Every plotting function builds its own figure (or draws into a given ``ax``) and returns the
:class:`matplotlib.figure.Figure`. Figures are created through ``pyplot`` so that a notebook's ``plt.show()`` displays
them; nothing here calls ``plt.show()`` or needs a display (works under the Agg backend). Code that makes many
figures in a loop should ``plt.close(fig)`` them. Images are accepted as torch tensors (``C x H x W`` or ``1 x C x H x W``, [0, 1]) or numpy
arrays (``H x W`` or ``H x W x C``).
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

__all__ = [
    "HOLE_COLOR",
    "PAGE_WIDTH",
    "bucket_bars",
    "compact_table",
    "feature_grid",
    "flow_legend",
    "flow_to_color",
    "heatmap_overlay",
    "inpaint_grid",
    "learning_curves",
    "mask_gallery",
    "mask_strip",
    "middlebury_colorwheel",
    "results_table",
    "show_image",
]

#: Colour the hole is painted with in input images (magenta: absent from most photographs).
HOLE_COLOR = (1.0, 0.0, 1.0)

#: Width in inches of the book's content column (~750 px at matplotlib's 100 dpi). Figures built here that would be
#: wider are scaled down to it as a whole, so their text keeps the point size it was set in and stays legible.
PAGE_WIDTH = 7.5


def _np_image(x) -> np.ndarray:
    """A displayable numpy image: H x W (gray) or H x W x 3, float."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().float()
        if x.dim() == 4:
            if x.shape[0] != 1:
                raise ValueError(f"expected a single image, got a batch of {x.shape[0]}")
            x = x[0]
        if x.dim() == 3:
            x = x.permute(1, 2, 0)
        x = x.numpy()
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 3 and x.shape[2] == 1:
        x = x[..., 0]
    if x.ndim not in (2, 3) or (x.ndim == 3 and x.shape[2] not in (3, 4)):
        raise ValueError(f"cannot display an array of shape {x.shape} as an image")
    return x


def _figure(width: float, height: float) -> Figure:
    if width > PAGE_WIDTH:
        width, height = PAGE_WIDTH, height * PAGE_WIDTH / width
    return plt.figure(figsize=(max(1.0, width), max(1.0, height)), layout="constrained")


def _new_axes(nrows: int, ncols: int, size: float = 2.0):
    fig = _figure(size * ncols, size * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _off(ax):
    ax.set_xticks([])
    ax.set_yticks([])


def show_image(image, ax=None, title: str | None = None, cmap: str = "gray", vmin: float = 0.0,
               vmax: float = 1.0) -> Figure:
    """Draw one image (tensor or array; gray images with ``cmap``) without ticks; return the Figure."""
    if ax is None:
        fig, axes = _new_axes(1, 1, size=3.0)
        ax = axes[0, 0]
    arr = _np_image(image)
    ax.imshow(np.clip(arr, vmin, vmax) if arr.ndim == 3 else arr, cmap=cmap if arr.ndim == 2 else None,
              vmin=vmin, vmax=vmax, interpolation="nearest")
    _off(ax)
    if title:
        ax.set_title(title, fontsize=9)
    return ax.figure


def _with_hole(image: torch.Tensor, valid: torch.Tensor, color=HOLE_COLOR) -> torch.Tensor:
    c = torch.tensor(color, dtype=image.dtype, device=image.device).view(1, 3, 1, 1)
    return valid * image + (1 - valid) * c


def inpaint_grid(
    rows: Mapping[str, torch.Tensor],
    titles: Mapping[str, str] | None = None,
    *,
    n: int = 4,
    show_raw: bool = True,
    hole_color=HOLE_COLOR,
    size: float = 1.8,
    suptitle: str | None = None,
) -> Figure:
    """Grid of inpainting results: one row per sample, columns input-with-hole | outputs | ground truth.

    ``rows`` maps names to ``N x 3 x H x W`` tensors and must hold ``"image"`` (the ground truth) and ``"valid"``
    (``N x 1 x H x W``, 1 = known); every other entry is a method's raw output. For each method the grid shows the
    raw output (if ``show_raw``) and the composite ``valid * image + (1 - valid) * output`` (titled with the name over
    "composite", on two lines so that titles fit narrow panels). The hole in the input is
    painted ``hole_color`` (magenta). ``titles`` renames columns (keys: ``"input"``, ``"image"``, a method name or
    ``"<method> composite"``). The first ``n`` samples are shown.
    """
    from inpaintlib._validate import check_image, check_valid  # noqa: PLC0415

    if "image" not in rows or "valid" not in rows:
        raise ValueError(f"rows needs 'image' (ground truth) and 'valid' entries, got keys {list(rows)}")
    image, valid = rows["image"].detach().cpu().float(), rows["valid"].detach().cpu().float()
    check_image(image)
    check_valid(valid, image=image)
    valid = valid.expand(image.shape[0], 1, *image.shape[-2:])
    outputs = {k: v.detach().cpu().float() for k, v in rows.items() if k not in ("image", "valid")}
    for k, v in outputs.items():
        if v.shape != image.shape:
            raise ValueError(f"output {k!r} has shape {tuple(v.shape)}, expected {tuple(image.shape)}")
    titles = dict(titles or {})
    cols: list[tuple[str, torch.Tensor]] = [(titles.get("input", "input (hole)"), _with_hole(image, valid, hole_color))]
    for k, v in outputs.items():
        v = v.clamp(0, 1)
        if show_raw:
            cols.append((titles.get(k, k), v))
        cols.append((titles.get(f"{k} composite", f"{k}\ncomposite"), valid * image + (1 - valid) * v))
    cols.append((titles.get("image", "ground truth"), image))
    n = min(n, image.shape[0])
    fig, axes = _new_axes(n, len(cols), size=size)
    for i in range(n):
        for j, (title, t) in enumerate(cols):
            show_image(t[i], ax=axes[i, j], title=title if i == 0 else None)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def feature_grid(features: torch.Tensor | np.ndarray, n: int = 16, cmap: str = "viridis",
                 title: str | None = None, size: float = 1.2) -> Figure:
    """The first ``n`` channels of a ``C x H x W`` (or ``1 x C x H x W``) feature map, each scaled to its own range."""
    f = features.detach().cpu().float().numpy() if isinstance(features, torch.Tensor) else np.asarray(features, float)
    if f.ndim == 4:
        if f.shape[0] != 1:
            raise ValueError(f"expected one feature map (1 x C x H x W), got a batch of {f.shape[0]}")
        f = f[0]
    if f.ndim != 3:
        raise ValueError(f"features must be C x H x W, got shape {f.shape}")
    k = min(n, f.shape[0])
    ncols = math.ceil(math.sqrt(k))
    nrows = math.ceil(k / ncols)
    fig = _figure(size * ncols, size * nrows)
    for i in range(k):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        ch = f[i]
        lo, hi = float(ch.min()), float(ch.max())
        ax.imshow((ch - lo) / (hi - lo) if hi > lo else np.zeros_like(ch), cmap=cmap, vmin=0, vmax=1,
                  interpolation="nearest")
        _off(ax)
        ax.set_title(str(i), fontsize=7)
    if title:
        fig.suptitle(title)
    return fig


def heatmap_overlay(image, heat, alpha: float = 0.5, cmap: str = "jet", ax=None, title: str | None = None,
                    normalize: bool = True) -> Figure:
    """``heat`` (H x W, any range; rescaled to [0, 1] if ``normalize``) drawn over ``image`` with opacity ``alpha``.

    A heat map of a different size is resized (nearest neighbour) to the image.
    """
    img = _np_image(image)
    h = heat.detach().cpu().float().numpy() if isinstance(heat, torch.Tensor) else np.asarray(heat, float)
    h = np.squeeze(h)
    if h.ndim != 2:
        raise ValueError(f"heat must be H x W, got shape {h.shape}")
    if h.shape != img.shape[:2]:
        ys = (np.arange(img.shape[0]) * h.shape[0] // img.shape[0])
        xs = (np.arange(img.shape[1]) * h.shape[1] // img.shape[1])
        h = h[ys][:, xs]
    if normalize:
        lo, hi = float(h.min()), float(h.max())
        h = (h - lo) / (hi - lo) if hi > lo else np.zeros_like(h)
    fig = show_image(img, ax=ax, title=title)
    ax = ax or fig.axes[0]
    ax.imshow(h, cmap=cmap, alpha=alpha, vmin=0 if normalize else None, vmax=1 if normalize else None,
              interpolation="nearest")
    return fig


def _np_mask(m) -> np.ndarray:
    a = m.detach().cpu().float().numpy() if isinstance(m, torch.Tensor) else np.asarray(m, float)
    a = np.squeeze(a)
    if a.ndim != 2:
        raise ValueError(f"a mask must be H x W (or 1 x 1 x H x W), got shape {a.shape}")
    return a


def mask_strip(masks: Sequence, titles: Sequence[str] | None = None, size: float = 1.8,
               suptitle: str | None = None) -> Figure:
    """A row of ``valid`` masks (white = known, black = hole), e.g. how a mask shrinks through the layers.

    Default titles give the hole ratio of each mask. Masks may differ in size.
    """
    masks = list(masks)
    if not masks:
        raise ValueError("masks is empty")
    if titles is not None and len(titles) != len(masks):
        raise ValueError(f"{len(titles)} titles for {len(masks)} masks")
    fig, axes = _new_axes(1, len(masks), size=size)
    for i, m in enumerate(masks):
        a = _mask_panel(axes[0, i], m)
        axes[0, i].set_title(titles[i] if titles is not None else f"hole {1 - a.mean():.0%}", fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def _mask_panel(ax, m) -> np.ndarray:
    a = _np_mask(m)
    ax.imshow(a, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    _off(ax)
    return a


def mask_gallery(rows: Mapping[str, Sequence], hole_titles: bool = True, size: float = 1.0,
                 suptitle: str | None = None) -> Figure:
    """Rows of ``valid`` masks (white = known, black = hole): one row per entry of ``rows``, labelled with its key
    (e.g. a few draws of each generator, or a few masks of each hole-ratio bucket). With ``hole_titles`` each mask
    carries its hole ratio. Rows may have different lengths; the figure fits :data:`PAGE_WIDTH`."""
    rows = {str(k): list(v) for k, v in rows.items()}
    if not rows or not all(rows.values()):
        raise ValueError("rows must map labels to non-empty sequences of masks")
    ncols = max(len(v) for v in rows.values())
    fig, axes = _new_axes(len(rows), ncols, size=size)
    for r, (label, masks) in enumerate(rows.items()):
        for c in range(ncols):
            if c >= len(masks):
                axes[r, c].axis("off")
                continue
            a = _mask_panel(axes[r, c], masks[c])
            if hole_titles:
                axes[r, c].set_title(f"{1 - a.mean():.0%}", fontsize=8, pad=2)
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    return fig


def learning_curves(history, keys: Sequence[str] | None = None, x: str = "step", logy: bool = False,
                    size: tuple[float, float] = (3.2, 2.4), title: str | None = None) -> Figure:
    """One panel per key: ``history[key]`` against ``history[x]``.

    ``history``: a pandas DataFrame, a list of dict records (rows missing a key are skipped for that key), or an
    object with ``.frame()`` (``inpaintlib.train.History``). ``keys`` defaults to every numeric column but ``x``.
    """
    if hasattr(history, "frame") and callable(history.frame):
        df = history.frame()
    elif isinstance(history, pd.DataFrame):
        df = history
    else:
        df = pd.DataFrame(list(history))
    if x not in df.columns:
        df = df.reset_index(drop=True)
        df[x] = np.arange(len(df))
    if keys is None:
        keys = [c for c in df.columns if c != x and pd.api.types.is_numeric_dtype(df[c])]
    keys = list(keys)
    missing = [k for k in keys if k not in df.columns]
    if missing or not keys:
        raise ValueError(f"keys {missing or keys} not in the history columns {list(df.columns)}")
    fig = _figure(size[0] * len(keys), size[1])
    axes = fig.subplots(1, len(keys), squeeze=False)[0]
    for ax, k in zip(axes, keys):
        sub = df[[x, k]].dropna()
        ax.plot(sub[x].to_numpy(), sub[k].to_numpy(), lw=1.2)
        ax.set_title(k, fontsize=9)
        ax.set_xlabel(x)
        if logy:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    return fig


def results_table(
    ours: pd.DataFrame,
    paper: pd.DataFrame | None = None,
    scale_label: str = "ci",
    paper_table: str | None = None,
    ours_label: str = "ours",
    as_markdown: bool = False,
) -> pd.DataFrame | str:
    """Our numbers beside the paper's, laid out like the papers' tables: columns = hole-ratio buckets (as in
    :attr:`EvalResult.table`), rows = (metric, source) with our row and the paper's row next to each other.

    Sources are labelled ``"ours (<scale_label> scale)"`` and ``"paper, <paper_table>"``; metrics and buckets are the
    union of both tables (missing cells are NaN, printed as "-"). A paper table must say where it comes from:
    ``paper_table`` (e.g. ``"Table 1"``) is required when ``paper`` is given. ``as_markdown=True`` returns the
    markdown text (metric labels from ``inpaintlib.metrics.METRIC_LABELS``) instead of the DataFrame.
    """
    ours_name = f"{ours_label} ({scale_label} scale)"
    parts = {ours_name: ours}
    if paper is not None:
        if not paper_table:
            raise ValueError("paper_table (e.g. 'Table 1') is required so that the paper's numbers are labelled")
        parts[f"paper, {paper_table}"] = paper
    buckets: list[str] = []
    metrics: list = []
    for t in parts.values():
        buckets += [str(c) for c in t.columns if str(c) not in buckets]
        metrics += [m for m in t.index if m not in metrics]
    rows, index = [], []
    for m in metrics:
        for name, t in parts.items():
            tt = t.copy()
            tt.columns = [str(c) for c in tt.columns]
            row = tt.loc[m] if m in tt.index else pd.Series(dtype=float)
            rows.append([float(row.get(b, np.nan)) for b in buckets])
            index.append((m, name))
    out = pd.DataFrame(rows, index=pd.MultiIndex.from_tuples(index, names=["metric", "source"]), columns=buckets)
    out.columns.name = "hole ratio"
    if not as_markdown:
        return out
    from inpaintlib.metrics import METRIC_LABELS  # noqa: PLC0415

    fmt = {"psnr": "{:.2f}", "ssim": "{:.4f}", "l1": "{:.2f}", "mse": "{:.5f}", "lpips": "{:.4f}", "n": "{:.0f}"}
    lines = ["| metric | source | " + " | ".join(buckets) + " |", "|---|---|" + "---|" * len(buckets)]
    for (m, src), vals in zip(index, rows):
        cells = ["-" if np.isnan(v) else fmt.get(m, "{:.4g}").format(v) for v in vals]
        lines.append(f"| {METRIC_LABELS.get(m, m)} | {src} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def compact_table(frame: pd.DataFrame | pd.Series, caption: str | None = None,
                  digits: int | Mapping[str, int] = 3, percent: bool = False, transpose: bool = False):
    """``frame`` as a table that fits the book's content column: a pandas ``Styler`` (display it by ending a cell
    with it) in small type with tight cells, numbers rounded to ``digits`` decimals (one number, or per row: a
    mapping from the row label -- the first level of a MultiIndex -- to decimals, e.g. ``{"psnr": 2, "ssim": 3}``;
    rows not named keep 3), shown as percentages with ``percent``, NaN as ``n/a``, never a negative zero ("-0.00");
    ``transpose`` swaps rows and columns first (use it when there are more columns than rows). The numbers are
    formatted, not changed."""
    t = frame.to_frame() if isinstance(frame, pd.Series) else frame
    t = t.T if transpose else t

    def cell(v, d: int) -> str:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
            return str(v)
        if np.isnan(v):
            return "n/a"
        text = f"{v:.{d}%}" if percent else f"{v:,.{d}f}"
        return text[1:] if text.startswith("-") and not text.strip("-0.,%") else text  # no "-0.00"

    def places(label) -> int:
        if not isinstance(digits, Mapping):
            return int(digits)
        return int(digits.get(label[0] if isinstance(label, tuple) else label, 3))

    text = pd.DataFrame([[cell(v, places(i)) for v in row] for i, row in zip(t.index, t.itertuples(index=False))],
                        index=t.index, columns=t.columns)
    styler = text.style.set_table_styles([
        {"selector": "", "props": "font-size: 0.8em; border-collapse: collapse; margin-bottom: 0.5em"},
        {"selector": "th, td", "props": "padding: 1px 6px; text-align: right; white-space: nowrap"},
        {"selector": "caption", "props": "caption-side: top; text-align: left; font-size: 1.05em; padding: 2px 0"},
    ])
    return styler.set_caption(caption) if caption else styler


def bucket_bars(
    tables: pd.DataFrame | Mapping[str, pd.DataFrame],
    metrics: Sequence[str] | None = None,
    size: tuple[float, float] = (3.4, 2.6),
    title: str | None = None,
) -> Figure:
    """Bar charts of metrics by hole-ratio bucket, one panel per metric, one bar colour per method.

    ``tables``: one :attr:`EvalResult.table` or a dict ``{method: table}``. The ``"all"`` column and the ``"n"`` row
    are left out. ``metrics`` defaults to the rows of the first table.
    """
    if isinstance(tables, pd.DataFrame):
        tables = {"": tables}
    tables = dict(tables)
    if not tables:
        raise ValueError("no table given")
    first = next(iter(tables.values()))
    metrics = [m for m in (metrics or first.index) if m != "n"]
    buckets = [c for c in first.columns if str(c) != "all"]
    fig = _figure(size[0] * len(metrics), size[1])
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    width = 0.8 / len(tables)
    xs = np.arange(len(buckets))
    for ax, m in zip(axes, metrics):
        for k, (name, t) in enumerate(tables.items()):
            vals = [float(t.loc[m, b]) if (m in t.index and b in t.columns) else np.nan for b in buckets]
            ax.bar(xs + (k - (len(tables) - 1) / 2) * width, vals, width, label=name or None)
        ax.set_xticks(xs, [str(b) for b in buckets], rotation=45, fontsize=8)
        ax.set_title(m, fontsize=9)
        ax.set_xlabel("hole ratio", fontsize=8)
    if len(tables) > 1:  # below the panels, where it hides no bar
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=len(tables), fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


# ----------------------------------------------------------------------------------------------------------------
# Middlebury optical-flow colour coding (Baker et al. 2011), used by DeepFill v1 for contextual-attention offsets
# ----------------------------------------------------------------------------------------------------------------
def middlebury_colorwheel() -> np.ndarray:
    """The 55-colour wheel: RY 15, YG 6, GC 4, CB 11, BM 13, MR 6 steps; ``55 x 3`` in [0, 1]
    (book/reference_implementations.md, "DeepFill v1: attention-flow colours")."""
    segments = [  # (length, channel that ramps, direction, channel held at full)
        (15, 1, +1, 0),  # red -> yellow: G rises, R = 1
        (6, 0, -1, 1),  # yellow -> green: R falls, G = 1
        (4, 2, +1, 1),  # green -> cyan: B rises, G = 1
        (11, 1, -1, 2),  # cyan -> blue: G falls, B = 1
        (13, 0, +1, 2),  # blue -> magenta: R rises, B = 1
        (6, 2, -1, 0),  # magenta -> red: B falls, R = 1
    ]
    rows = []
    for length, ramp, direction, full in segments:
        for i in range(length):
            c = np.zeros(3)
            c[full] = 255
            step = np.floor(255 * i / length)
            c[ramp] = step if direction > 0 else 255 - step
            rows.append(c)
    return np.asarray(rows) / 255.0


def flow_to_color(offsets, max_norm: float | None = None, order: str = "xy") -> np.ndarray:
    """Colour-code a field of 2-D offsets with the Middlebury wheel; returns ``H x W x 3`` in [0, 1].

    ``offsets``: ``H x W x 2`` or ``2 x H x W`` (array or tensor), components ``(dx, dy)`` (``order="xy"``, the
    Middlebury ``(u, v)``) or ``(dy, dx)`` (``order="yx"``). The hue is the direction (angle ``atan2(-v, -u)``
    interpolated on the wheel), the saturation the length divided by ``max_norm`` (default: the largest length, as in
    DeepFill's visualisation); zero offset is white, and lengths beyond ``max_norm`` are darkened (x 0.75).
    """
    a = offsets.detach().cpu().double().numpy() if isinstance(offsets, torch.Tensor) else np.asarray(offsets, float)
    if a.ndim == 3 and a.shape[-1] != 2 and a.shape[0] == 2:
        a = np.moveaxis(a, 0, -1)
    if a.ndim != 3 or a.shape[-1] != 2:
        raise ValueError(f"offsets must be H x W x 2 or 2 x H x W, got shape {a.shape}")
    if order not in ("xy", "yx"):
        raise ValueError(f"order must be 'xy' or 'yx', got {order!r}")
    u, v = (a[..., 0], a[..., 1]) if order == "xy" else (a[..., 1], a[..., 0])
    u = np.nan_to_num(u)
    v = np.nan_to_num(v)
    rad = np.hypot(u, v)
    norm = float(rad.max()) if max_norm is None else float(max_norm)
    if norm > 0:
        u, v, rad = u / norm, v / norm, rad / norm
    wheel = middlebury_colorwheel()
    ncols = len(wheel)
    ang = np.arctan2(-v, -u) / np.pi  # in [-1, 1]
    fk = (ang + 1) / 2 * (ncols - 1)
    k0 = np.floor(fk).astype(int)
    k1 = (k0 + 1) % ncols
    f = (fk - k0)[..., None]
    col = (1 - f) * wheel[k0] + f * wheel[k1]
    inside = (rad <= 1)[..., None]
    col = np.where(inside, 1 - rad[..., None] * (1 - col), col * 0.75)
    return np.clip(col, 0, 1)


def flow_legend(size: int = 64) -> np.ndarray:
    """The colour key: ``flow_to_color`` of a disc of offsets pointing away from the centre (``size x size x 3``)."""
    c = (size - 1) / 2
    yy, xx = np.mgrid[0:size, 0:size].astype(float)
    off = np.stack([xx - c, yy - c], -1)
    img = flow_to_color(off, max_norm=c)
    img[np.hypot(xx - c, yy - c) > c] = 1.0
    return img
