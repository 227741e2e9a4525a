"""Mask generators, hole-ratio buckets and the fixed mask test sets.

Convention (DESIGN.md): every generator returns a numpy ``float32`` array of shape ``(h, w)``
holding a **valid** map, exactly 0 or 1, **1 = known pixel, 0 = hole**. ``to_tensor`` turns one
or many of them into the library's ``N x 1 x H x W`` tensor form. Every generator takes
``rng: numpy.random.Generator`` and nothing else random, so a seed fixes the mask.

Scaling rule for small images. REFERENCE.md ("Mask generators") gives some parameters in pixels
(DeepFill v2 brush width 12-40 px, AIM free-form segment length 10-69 px and width 10-24 px, the
AIM cellular-automaton grid scale 1-8 px, the irregular masks' minimum thickness 3 px). We read
them as values for 256 x 256 training crops (DeepGIN Sect. 5.1 and DeepFill v2 train at 256) and
use them unchanged at 256 and above. Below 256 each pixel parameter ``v`` becomes
``max(1, round(v * s))`` with ``s = min(h, w) / 256`` (``_scaled``), so a 64 x 64 mask looks like
a 256 x 256 mask shrunk 4x. Parameters given relative to the image (box sides, DeepFill's step
length ``sqrt(H^2 + W^2) / 8``, the ``0.03 (H + W)`` maximum thickness) need no scaling.

Drawing: strokes are painted with numpy (a pixel is a hole when its centre lies within
``width / 2`` of the segment, which gives round caps and the filled disc at each vertex);
no OpenCV.

Fixed test sets on disk (``write_mask_testset`` / ``MaskTestSet``) store PNGs with
**255 = known (valid), 0 = hole**, the same polarity as the ``valid`` map.
"""
from __future__ import annotations

import csv
import json
import math
import os
import shutil
import tempfile
import uuid
import warnings
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import torch

from ._validate import check_valid
from .buckets import BUCKETS, bucket_label, bucket_of, check_closed
from .files import sha256_bytes, sha256_file
from .paths import data_dir

# --------------------------------------------------------------------------------------------
# Buckets
# --------------------------------------------------------------------------------------------

#: Reference image side for pixel-valued parameters (see the module docstring).
REF_SIZE = 256


def _as_valid_tensor(valid, name: str = "valid") -> torch.Tensor:
    """A numpy or torch mask of shape (H, W), (N, H, W) or (N, 1, H, W) as a checked N x 1 x H x W tensor."""
    t = torch.from_numpy(np.ascontiguousarray(valid)) if isinstance(valid, np.ndarray) else valid
    if not isinstance(t, torch.Tensor):
        raise ValueError(f"{name} must be a numpy array or torch tensor, got {type(valid).__name__}")
    if t.dim() == 2:
        t = t[None, None]
    elif t.dim() == 3:
        t = t[:, None]
    return check_valid(t, name=name)


def hole_ratio(valid):
    """Fraction of hole pixels (``valid == 0``).

    ``(H, W)`` input gives a float; ``(N, H, W)`` or ``(N, 1, H, W)`` gives one ratio per mask
    (a numpy array for numpy input, a tensor for tensor input).
    """
    t = _as_valid_tensor(valid)
    r = 1.0 - t.flatten(1).double().mean(dim=1)
    if valid.ndim == 2:
        return float(r[0])
    return r.numpy() if isinstance(valid, np.ndarray) else r.to(torch.float32)


def to_tensor(np_masks) -> torch.Tensor:
    """One ``(H, W)`` mask, a list of them, or an ``(N, H, W)`` array -> ``N x 1 x H x W`` float32 tensor."""
    if isinstance(np_masks, (list, tuple)):
        if not np_masks:
            raise ValueError("to_tensor got an empty list of masks")
        arr = np.stack([np.asarray(m) for m in np_masks])
    else:
        arr = np.asarray(np_masks)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim == 4 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 3:
        raise ValueError(f"to_tensor expects (H, W), (N, H, W) or a list of (H, W) masks, got shape {arr.shape}")
    if arr.dtype == np.bool_:
        raise ValueError("to_tensor got a boolean array; pass a float valid map (1 = known, 0 = hole), "
                         "e.g. mask.astype(np.float32) if True means known")
    t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))[:, None]
    return check_valid(t, name="masks")


# --------------------------------------------------------------------------------------------
# Drawing helpers
# --------------------------------------------------------------------------------------------

def _pixel_scale(h: int, w: int) -> float:
    """``s = min(1, min(h, w) / 256)``: the factor applied to pixel-valued parameters."""
    return min(1.0, min(h, w) / REF_SIZE)


def _scaled(v: float, h: int, w: int) -> int:
    """A pixel parameter ``v`` given for 256 x 256, scaled to an ``h x w`` image (module docstring)."""
    return max(1, int(round(v * _pixel_scale(h, w))))


def check_size(h: int, w: int) -> None:
    if int(h) != h or int(w) != w or h < 8 or w < 8:
        raise ValueError(f"mask size must be integers >= 8, got h={h}, w={w}")


def check_rng(rng) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng must be a numpy.random.Generator, e.g. np.random.default_rng(seed); "
                         f"got {type(rng).__name__}")
    return rng


def _paint_segment(hole: np.ndarray, p0: tuple[float, float], p1: tuple[float, float], width: float) -> None:
    """Set ``hole`` True where the pixel centre lies within ``width / 2`` of segment p0-p1 ((x, y) points)."""
    h, w = hole.shape
    rad = max(width, 1.0) / 2.0
    (x0, y0), (x1, y1) = p0, p1
    xa, xb = max(0, math.floor(min(x0, x1) - rad)), min(w - 1, math.ceil(max(x0, x1) + rad))
    ya, yb = max(0, math.floor(min(y0, y1) - rad)), min(h - 1, math.ceil(max(y0, y1) + rad))
    if xa > xb or ya > yb:
        return
    xs = np.arange(xa, xb + 1, dtype=np.float64)[None, :]
    ys = np.arange(ya, yb + 1, dtype=np.float64)[:, None]
    dx, dy = x1 - x0, y1 - y0
    l2 = dx * dx + dy * dy
    if l2 == 0:
        t = 0.0
    else:
        t = np.clip(((xs - x0) * dx + (ys - y0) * dy) / l2, 0.0, 1.0)
    d2 = (xs - (x0 + t * dx)) ** 2 + (ys - (y0 + t * dy)) ** 2
    hole[ya:yb + 1, xa:xb + 1] |= d2 <= rad * rad


def _paint_polyline(hole: np.ndarray, points: Sequence[tuple[float, float]], width: float) -> None:
    """Segments between consecutive points and a filled disc (diameter ``width``) at every vertex
    (the discs are the round caps of ``_paint_segment``; a single point paints one disc)."""
    if len(points) == 1:
        _paint_segment(hole, points[0], points[0], width)
    for p0, p1 in zip(points[:-1], points[1:]):
        _paint_segment(hole, p0, p1, width)


def _valid_from_hole(hole: np.ndarray) -> np.ndarray:
    return (~hole).astype(np.float32)


def draw_strokes(h: int, w: int, strokes: Iterable[dict]) -> np.ndarray:
    """Valid map with each stroke (``{"points": [(x, y), ...], "width": px}``) painted as a hole."""
    hole = np.zeros((h, w), dtype=bool)
    for s in strokes:
        _paint_polyline(hole, s["points"], s["width"])
    return _valid_from_hole(hole)


# --------------------------------------------------------------------------------------------
# Boxes
# --------------------------------------------------------------------------------------------

def rectangle_valid(h: int, w: int, top: int, left: int, bh: int, bw: int) -> np.ndarray:
    valid = np.ones((h, w), dtype=np.float32)
    valid[top:top + bh, left:left + bw] = 0.0
    return valid


def _box_sides_for_area(h: int, w: int, area: float) -> tuple[int, int]:
    if not 0 < area < 1:
        raise ValueError(f"area must be a fraction in (0, 1), got {area}")
    f = math.sqrt(area)
    return max(1, min(h, int(round(h * f)))), max(1, min(w, int(round(w * f))))


def box_mask(h: int, w: int, rng: np.random.Generator, area: float = 0.25) -> np.ndarray:
    """MSA-Net's "Fixed" masks (Sect. 4.2, Table 6): a box covering ``area`` (25%) of the image,
    centred at a random location.

    The box has the image's aspect ratio (sides ``round(h sqrt(area))`` x ``round(w sqrt(area))``,
    so a square image gets a square box of half its side) and lies entirely inside the image
    (our reading of "centred at a random location": the centre is uniform over the positions
    that keep the whole box, hence the whole 25%, inside).
    """
    check_size(h, w)
    check_rng(rng)
    bh, bw = _box_sides_for_area(h, w, area)
    top = int(rng.integers(0, h - bh + 1))
    left = int(rng.integers(0, w - bw + 1))
    return rectangle_valid(h, w, top, left, bh, bw)


def center_box_mask(h: int, w: int, rng: np.random.Generator | None = None, area: float = 0.25) -> np.ndarray:
    """The box of ``box_mask`` at the image centre (deterministic; ``rng`` is accepted and unused)."""
    check_size(h, w)
    bh, bw = _box_sides_for_area(h, w, area)
    return rectangle_valid(h, w, (h - bh) // 2, (w - bw) // 2, bh, bw)


def aim_box_mask(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """AIM 2020 rectangular mask (DeepGIN Sect. 5.1; REFERENCE.md): height and width each uniform
    in 30-70% of the image side (integers ``ceil(0.3 h) .. floor(0.7 h)``), position uniform inside."""
    check_size(h, w)
    check_rng(rng)
    bh = int(rng.integers(math.ceil(0.3 * h), math.floor(0.7 * h) + 1))
    bw = int(rng.integers(math.ceil(0.3 * w), math.floor(0.7 * w) + 1))
    top = int(rng.integers(0, h - bh + 1))
    left = int(rng.integers(0, w - bw + 1))
    return rectangle_valid(h, w, top, left, bh, bw)


# --------------------------------------------------------------------------------------------
# DeepFill v2 free-form brush strokes
# --------------------------------------------------------------------------------------------

#: DeepFill v2 free-form parameters (REFERENCE.md "Mask generators"); widths are for 256 x 256.
DEEPFILL_V2 = dict(min_strokes=1, max_strokes=3, min_vertices=4, max_vertices=11,
                   mean_angle=2 * math.pi / 5, angle_range=2 * math.pi / 15, min_width=12.0, max_width=40.0)


def brush_stroke_params(h: int, w: int, rng: np.random.Generator) -> list[dict]:
    """The random strokes of ``brush_stroke_mask`` (DeepFill v2, Yu et al. ICCV 2019; REFERENCE.md).

    1-3 strokes; each starts at a uniform random pixel and makes ``n`` moves, ``n`` uniform in
    4..11 (the vertex count of REFERENCE.md, not counting the start point). The turning angles:
    ``angle_min = 2pi/5 - U(0, 2pi/15)``, ``angle_max = 2pi/5 + U(0, 2pi/15)``, move ``i`` has
    angle ``a_i ~ U(angle_min, angle_max)`` and every other move (even ``i``) uses ``2pi - a_i``.
    Step length ``~ Normal(r, r/2)`` clipped to ``[0, 2r]``, ``r = sqrt(H^2 + W^2) / 8``; vertices are
    clipped to the image. Brush width ``~ U[12, 40)`` px at 256, times ``min(1, min(h, w)/256)``
    below that, truncated to an integer >= 1. Each stroke dict carries ``points``, ``width``,
    ``angles`` and ``lengths`` (the unclipped step lengths) so tests can check the ranges.
    """
    check_size(h, w)
    check_rng(rng)
    p = DEEPFILL_V2
    s = _pixel_scale(h, w)
    r = math.sqrt(h * h + w * w) / 8.0
    strokes = []
    for _ in range(int(rng.integers(p["min_strokes"], p["max_strokes"] + 1))):
        n = int(rng.integers(p["min_vertices"], p["max_vertices"] + 1))
        a_min = p["mean_angle"] - rng.uniform(0, p["angle_range"])
        a_max = p["mean_angle"] + rng.uniform(0, p["angle_range"])
        angles = []
        for i in range(n):
            a = rng.uniform(a_min, a_max)
            angles.append(2 * math.pi - a if i % 2 == 0 else a)
        width = max(1, int(rng.uniform(p["min_width"], p["max_width"]) * s))
        x, y = float(rng.integers(0, w)), float(rng.integers(0, h))
        points, lengths = [(x, y)], []
        for a in angles:
            length = float(np.clip(rng.normal(r, r / 2), 0, 2 * r))
            lengths.append(length)
            x = float(np.clip(x + length * math.cos(a), 0, w - 1))
            y = float(np.clip(y + length * math.sin(a), 0, h - 1))
            points.append((x, y))
        strokes.append(dict(points=points, width=width, angles=angles, lengths=lengths))
    return strokes


def brush_stroke_mask(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """DeepFill v2 free-form mask: ``brush_stroke_params`` drawn as thick polylines with a filled
    disc at every vertex (REFERENCE.md "Mask generators")."""
    return draw_strokes(h, w, brush_stroke_params(h, w, rng))


# --------------------------------------------------------------------------------------------
# AIM 2020 masks (DeepGIN)
# --------------------------------------------------------------------------------------------

#: AIM 2020 free-form parameters (REFERENCE.md), pixel values for 256 x 256, ranges inclusive.
AIM_FREE_FORM = dict(min_strokes=15, max_strokes=23, min_segments=1, max_segments=5,
                     min_length=10, max_length=69, min_width=10, max_width=24)
#: AIM 2020 cellular-automaton parameters (REFERENCE.md).
AIM_CA = dict(scales=(1, 2, 4, 8), min_iterations=2, max_iterations=6, p=0.5)


def aim_free_form_params(h: int, w: int, rng: np.random.Generator) -> list[dict]:
    """Strokes of ``aim_free_form_mask`` (AIM 2020 free-form; REFERENCE.md): 15-23 strokes, each
    from a uniform random start with 1-5 segments of uniform random direction and integer length
    10-69 px, one integer width 10-24 px per stroke. Lengths and widths are scaled below 256
    (module docstring); end points are clipped to the image."""
    check_size(h, w)
    check_rng(rng)
    p = AIM_FREE_FORM
    lmin, lmax = _scaled(p["min_length"], h, w), _scaled(p["max_length"], h, w)
    wmin, wmax = _scaled(p["min_width"], h, w), _scaled(p["max_width"], h, w)
    strokes = []
    for _ in range(int(rng.integers(p["min_strokes"], p["max_strokes"] + 1))):
        n_seg = int(rng.integers(p["min_segments"], p["max_segments"] + 1))
        width = int(rng.integers(wmin, wmax + 1))
        x, y = float(rng.integers(0, w)), float(rng.integers(0, h))
        points, lengths = [(x, y)], []
        for _ in range(n_seg):
            a = rng.uniform(0, 2 * math.pi)
            length = int(rng.integers(lmin, lmax + 1))
            lengths.append(length)
            x = float(np.clip(x + length * math.cos(a), 0, w - 1))
            y = float(np.clip(y + length * math.sin(a), 0, h - 1))
            points.append((x, y))
        strokes.append(dict(points=points, width=width, lengths=lengths))
    return strokes


def aim_free_form_mask(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """AIM 2020 free-form mask (REFERENCE.md): ``aim_free_form_params`` drawn as thick polylines."""
    return draw_strokes(h, w, aim_free_form_params(h, w, rng))


def _majority3x3(grid: np.ndarray) -> np.ndarray:
    """One 3x3 majority vote (the median of 9 binary values), zero border."""
    from scipy.ndimage import median_filter
    return median_filter(grid, size=3, mode="constant", cval=0)


def cellular_automaton_mask(h: int, w: int, rng: np.random.Generator, *, scale: int | None = None,
                            iterations: int | None = None, dilate: bool = True) -> np.ndarray:
    """AIM 2020 cellular-automaton mask (REFERENCE.md "Mask generators").

    Grid scale ``s`` uniform in {1, 2, 4, 8} (scaled below 256 by the module's rule, at least 1);
    Bernoulli(0.5) hole noise on a ``(ceil(H/s), ceil(W/s))`` grid; a 3x3 majority vote (median
    filter, zero border) applied ``r`` times, ``r`` uniform in 2..6; nearest-neighbour upsampling
    to ``H x W``; if ``s > 1`` one dilation of the holes with the 4-connected cross.
    ``scale`` and ``iterations`` fix the corresponding draw (``scale`` is then used as given,
    in pixels); ``dilate=False`` skips the final dilation (for inspection).
    """
    check_size(h, w)
    check_rng(rng)
    p = AIM_CA
    s_ref = int(rng.choice(p["scales"])) if scale is None else int(scale)
    s = _scaled(s_ref, h, w) if scale is None else max(1, int(scale))
    r = int(rng.integers(p["min_iterations"], p["max_iterations"] + 1)) if iterations is None else int(iterations)
    gh, gw = -(-h // s), -(-w // s)
    grid = (rng.random((gh, gw)) < p["p"]).astype(np.uint8)
    for _ in range(r):
        grid = _majority3x3(grid)
    hole = np.repeat(np.repeat(grid, s, axis=0), s, axis=1)[:h, :w].astype(bool)
    if s > 1 and dilate:
        from scipy.ndimage import binary_dilation, generate_binary_structure
        hole = binary_dilation(hole, structure=generate_binary_structure(2, 1))
    return _valid_from_hole(hole)


def aim_mask(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """One AIM 2020 mask, its type chosen uniformly among box, cellular automaton and free-form
    (REFERENCE.md)."""
    check_rng(rng)
    kind = int(rng.integers(0, 3))
    return (aim_box_mask, cellular_automaton_mask, aim_free_form_mask)[kind](h, w, rng)


def deepgin_masks(h: int, w: int, rng: np.random.Generator, free_form: str = "aim") -> list[np.ndarray]:
    """DeepGIN's training masks for one image (Sect. 5.1, "Random Mask Generation" and "Training
    Batch Formation"): all three types, ``[box, cellular automaton, free-form]``, so each training
    image becomes three masked images.

    ``free_form="aim"`` (default) uses the AIM 2020 free-form generator of REFERENCE.md;
    ``free_form="deepfill_v2"`` uses DeepFill v2 brush strokes, the generator the paper's text
    cites ("the free-form mask proposed in [34]").
    """
    if free_form not in ("aim", "deepfill_v2"):
        raise ValueError(f"free_form must be 'aim' or 'deepfill_v2', got {free_form!r}")
    ff = aim_free_form_mask if free_form == "aim" else brush_stroke_mask
    return [aim_box_mask(h, w, rng), cellular_automaton_mask(h, w, rng), ff(h, w, rng)]


# --------------------------------------------------------------------------------------------
# Liu-style irregular masks
# --------------------------------------------------------------------------------------------

def _irregular_shape(hole: np.ndarray, rng: np.random.Generator, tmin: int, tmax: int) -> None:
    """Paint one random line, filled circle or ellipse arc (type uniform)."""
    h, w = hole.shape
    kind = int(rng.integers(0, 3))
    t = int(rng.integers(tmin, tmax + 1))
    if kind == 0:  # line between two uniform random points
        p0 = (float(rng.integers(0, w)), float(rng.integers(0, h)))
        p1 = (float(rng.integers(0, w)), float(rng.integers(0, h)))
        _paint_segment(hole, p0, p1, t)
    elif kind == 1:  # filled circle, radius in the thickness range
        c = (float(rng.integers(0, w)), float(rng.integers(0, h)))
        _paint_segment(hole, c, c, 2 * t)
    else:  # ellipse arc of thickness t
        cx, cy = float(rng.integers(0, w)), float(rng.integers(0, h))
        amax = max(t + 1, min(h, w) // 4)
        a, b = float(rng.integers(t, amax + 1)), float(rng.integers(t, amax + 1))
        rot = rng.uniform(0, math.pi)
        start = rng.uniform(0, 2 * math.pi)
        span = rng.uniform(math.pi / 4, 2 * math.pi)
        n = int(max(8, math.ceil(2 * span * max(a, b))))  # centre-line samples every <= 0.5 px
        phi = start + np.linspace(0, span, n + 1)
        ex, ey = a * np.cos(phi), b * np.sin(phi)
        xs = cx + ex * math.cos(rot) - ey * math.sin(rot)
        ys = cy + ex * math.sin(rot) + ey * math.cos(rot)
        _paint_thick_curve(hole, xs, ys, t)


def _paint_thick_curve(hole: np.ndarray, xs: np.ndarray, ys: np.ndarray, width: float) -> None:
    """A densely sampled curve of thickness ``width``: its rasterised centre line, widened to the
    pixels within ``width / 2`` of it (Euclidean distance transform)."""
    from scipy.ndimage import distance_transform_edt
    h, w = hole.shape
    rad = max(width, 1.0) / 2.0
    xi, yi = np.rint(xs).astype(int), np.rint(ys).astype(int)
    pad = int(math.ceil(rad)) + 1
    xa, xb = max(0, xi.min() - pad), min(w - 1, xi.max() + pad)
    ya, yb = max(0, yi.min() - pad), min(h - 1, yi.max() + pad)
    if xa > xb or ya > yb:
        return
    # keep centre-line pixels up to `pad` outside the image so strokes leaving it stay thick
    xa0, ya0 = xi.min() - pad, yi.min() - pad
    canvas = np.ones((yi.max() + pad - ya0 + 1, xi.max() + pad - xa0 + 1), dtype=bool)
    canvas[yi - ya0, xi - xa0] = False
    near = distance_transform_edt(canvas) <= rad
    hole[ya:yb + 1, xa:xb + 1] |= near[ya - ya0:yb - ya0 + 1, xa - xa0:xb - xa0 + 1]


def irregular_thickness(h: int, w: int) -> tuple[int, int]:
    """Thickness range of ``irregular_mask``: ``3 .. 0.03 (H + W)`` (REFERENCE.md), the 3 px minimum
    scaled below 256 by the module's rule, the maximum never below the minimum."""
    tmin = _scaled(3, h, w)
    return tmin, max(tmin, int(0.03 * (h + w)))


def irregular_mask(h: int, w: int, rng: np.random.Generator,
                   hole_range: tuple[float, float] = (0.01, 0.6), max_shapes: int = 2000) -> np.ndarray:
    """Irregular mask in the style of Liu et al.'s test set (REFERENCE.md "Mask generators"): random
    lines, filled circles and ellipse arcs with thickness ``3 .. 0.03 (H + W)``.

    A target hole ratio ``t ~ U(hole_range)`` is drawn and shapes (type uniform, each in a new
    random place) are added until the hole ratio reaches ``t``; the result can exceed the upper end
    by at most the last shape. The default range spans Liu's buckets (0.01, 0.6], so hole ratios are
    spread roughly uniformly over them; ``sample_in_bucket`` passes the bucket as ``hole_range``.
    """
    check_size(h, w)
    check_rng(rng)
    lo, hi = hole_range
    if not 0 <= lo < hi <= 1:
        raise ValueError(f"hole_range must satisfy 0 <= lo < hi <= 1, got {hole_range}")
    tmin, tmax = irregular_thickness(h, w)
    target = rng.uniform(lo, hi)
    need = max(1, math.ceil(target * h * w - 1e-9))
    hole = np.zeros((h, w), dtype=bool)
    for _ in range(max_shapes):
        _irregular_shape(hole, rng, tmin, tmax)
        if int(hole.sum()) >= need:
            break
    return _valid_from_hole(hole)


irregular_mask.accepts_hole_range = True  # type: ignore[attr-defined]


def sample_in_bucket(generator: Callable | str, bucket: int | tuple[float, float], h: int, w: int,
                     rng: np.random.Generator, max_tries: int = 1000, *,
                     buckets: Sequence[tuple[float, float]] = BUCKETS, closed: str = "right") -> np.ndarray:
    """A mask from ``generator`` whose hole ratio lies in ``bucket`` (an index into ``buckets`` or a
    ``(lo, hi)`` pair), by rejection sampling.

    Generators that accept ``hole_range`` (``irregular_mask``) are asked for that range directly,
    so almost every try is accepted; others are drawn until one lands in the bucket. Raises
    ``RuntimeError`` after ``max_tries``.
    """
    check_closed(closed)
    check_rng(rng)
    gen = GENERATORS[generator] if isinstance(generator, str) else generator
    lo, hi = buckets[bucket] if isinstance(bucket, (int, np.integer)) else bucket
    one = [(lo, hi)]
    kwargs = {"hole_range": (lo, hi)} if getattr(gen, "accepts_hole_range", False) else {}
    for _ in range(max_tries):
        m = gen(h, w, rng, **kwargs)
        if bucket_of(1.0 - float(m.mean(dtype=np.float64)), one, closed) == 0:
            return m
    name = getattr(gen, "__name__", str(gen))
    raise RuntimeError(f"{name} produced no {h}x{w} mask with hole ratio in "
                       f"{bucket_label(0, one, closed)} in {max_tries} tries")


#: Generators by name; each is ``f(h, w, rng) -> float32 (h, w) valid map``.
GENERATORS: dict[str, Callable[..., np.ndarray]] = {
    "box": box_mask,
    "center_box": center_box_mask,
    "aim_box": aim_box_mask,
    "brush_stroke": brush_stroke_mask,
    "cellular_automaton": cellular_automaton_mask,
    "aim_free_form": aim_free_form_mask,
    "aim": aim_mask,
    "irregular": irregular_mask,
}


# --------------------------------------------------------------------------------------------
# Fixed test sets on disk
# --------------------------------------------------------------------------------------------

MANIFEST_FORMAT = "inpaintlib-mask-testset"
PNG_CONVENTION = "PNG, 8-bit grayscale: 255 = known (valid), 0 = hole"


def _save_png(path: Path, valid: np.ndarray) -> None:
    from PIL import Image
    Image.fromarray((valid * 255).astype(np.uint8), mode="L").save(path, format="PNG", optimize=False)


def _touches_border(valid: np.ndarray) -> bool:
    return bool((valid[0] == 0).any() or (valid[-1] == 0).any() or (valid[:, 0] == 0).any() or (valid[:, -1] == 0).any())


def _testset_params(size, per_bucket, seed, buckets, generator, closed) -> dict:
    return dict(size=int(size), per_bucket=int(per_bucket), seed=int(seed),
                buckets=[[float(lo), float(hi)] for lo, hi in buckets], closed=closed, generator=generator)


def _manifest_matches(out_dir: Path, params: dict) -> bool:
    """True when ``out_dir`` holds a complete test set made with ``params`` whose files verify."""
    mf = out_dir / "manifest.json"
    if not mf.is_file():
        return False
    try:
        m = json.loads(mf.read_text())
    except (OSError, ValueError):
        return False
    if m.get("format") != MANIFEST_FORMAT or m.get("params") != params:
        return False
    files = dict(m.get("files", {}))
    files["index.csv"] = m.get("index_sha256")
    return all((out_dir / f).is_file() and sha256_file(out_dir / f) == h for f, h in files.items())


def write_mask_testset(out_dir: str | os.PathLike, size: int, per_bucket: int, seed: int,
                       buckets: Sequence[tuple[float, float]] = BUCKETS, generator: str = "irregular",
                       closed: str = "right", progress: bool = False) -> Path:
    """Write a fixed, seeded mask test set: ``per_bucket`` masks of ``size x size`` per hole-ratio bucket.

    Files: ``b{bucket}_{k:05d}.png`` (PNG_CONVENTION: **255 = known, 0 = hole**), ``index.csv``
    (``file, hole_ratio, bucket, label, touches_border``) and ``manifest.json`` (the parameters,
    the sha256 of every file and of the index). Mask ``k`` of bucket ``i`` comes from
    ``np.random.default_rng([seed, i, k])``, so the set does not depend on the write order.

    The set is written to a temporary sibling folder and renamed into place. Re-running with the
    same arguments is a no-op when the manifest matches and every file verifies; a folder made
    with other arguments is refused (``ValueError``); a damaged set with the same arguments is
    rewritten. Returns ``out_dir``.
    """
    check_closed(closed)
    if generator not in GENERATORS:
        raise ValueError(f"unknown generator {generator!r}; choose from {sorted(GENERATORS)}")
    if int(per_bucket) < 1:
        raise ValueError(f"per_bucket must be >= 1, got {per_bucket}")
    out_dir = Path(out_dir)
    params = _testset_params(size, per_bucket, seed, buckets, generator, closed)
    if _manifest_matches(out_dir, params):
        return out_dir
    if out_dir.exists() and any(out_dir.iterdir()):
        mf = out_dir / "manifest.json"
        try:
            same = json.loads(mf.read_text()).get("params") == params
        except (OSError, ValueError):
            same = False
        if not same:
            raise ValueError(f"{out_dir} already holds something other than a mask test set made with {params}; "
                             "choose another folder or delete it")
        warnings.warn(f"mask test set in {out_dir} failed verification; rewriting it", stacklevel=2)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        gen = GENERATORS[generator]
        rows, files = [], {}
        jobs = [(i, k) for i in range(len(buckets)) for k in range(int(per_bucket))]
        if progress:
            from tqdm.auto import tqdm
            jobs = tqdm(jobs, desc=f"masks {size}px")
        for i, k in jobs:
            rng = np.random.default_rng([int(seed), i, k])
            m = sample_in_bucket(gen, i, size, size, rng, buckets=buckets, closed=closed)
            name = f"b{i}_{k:05d}.png"
            _save_png(tmp / name, m)
            files[name] = sha256_file(tmp / name)
            rows.append(dict(file=name, hole_ratio=f"{1.0 - float(m.mean(dtype=np.float64)):.6f}", bucket=i,
                             label=bucket_label(i, buckets, closed), touches_border=int(_touches_border(m))))
        with open(tmp / "index.csv", "w", newline="") as f:
            wr = csv.DictWriter(f, fieldnames=["file", "hole_ratio", "bucket", "label", "touches_border"])
            wr.writeheader()
            wr.writerows(rows)
        manifest = dict(format=MANIFEST_FORMAT, version=1, convention=PNG_CONVENTION, params=params,
                        files=files, index_sha256=sha256_file(tmp / "index.csv"))
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
        _replace_dir(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    if not _manifest_matches(out_dir, params):  # a concurrent writer with other arguments won the race
        raise RuntimeError(f"{out_dir} does not verify after writing")
    return out_dir


def cached_testset(size: int, per_bucket: int, seed: int = 0, generator: str = "irregular",
                   buckets: Sequence[tuple[float, float]] = BUCKETS, closed: str = "right",
                   label: str | None = None) -> Path:
    """The fixed, seeded mask test set for these arguments under ``inpaintlib.paths.data_dir()/masks/<name>``,
    written on first use (a no-op afterwards; see :func:`write_mask_testset`). ``label`` names the bucket set in
    the folder name (default: ``"liu"`` for Liu et al.'s buckets, else a short hash of the edges). Returns the
    folder; load it with ``MaskTestSet(path)``."""
    if label is None:
        label = ("liu" if (tuple(map(tuple, buckets)), closed) == (BUCKETS, "right")
                 else f"{closed}-{sha256_bytes(repr((tuple(map(tuple, buckets)), closed)).encode())[:8]}")
    out = data_dir() / "masks" / f"{generator}-{label}-{int(size)}px-{int(per_bucket)}pb-seed{int(seed)}"
    return write_mask_testset(out, size, per_bucket, seed, buckets=buckets, generator=generator, closed=closed)


def _replace_dir(src: Path, dst: Path) -> None:
    """Move ``src`` to ``dst``; an existing ``dst`` is moved aside first and removed afterwards."""
    old = None
    if dst.exists():
        old = dst.with_name(f".{dst.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(dst, old)
    try:
        os.replace(src, dst)
    except OSError:
        # Another process put a set in place between our check and the rename; keep theirs.
        if not (dst / "manifest.json").is_file():
            raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _read_png_gray(path: Path) -> np.ndarray:
    from PIL import Image
    with Image.open(path) as im:
        if im.mode not in ("L", "1", "P", "RGB", "RGBA", "LA", "I", "I;16"):
            raise ValueError(f"{path}: unsupported image mode {im.mode}")
        return np.asarray(im.convert("L"))


class MaskCollection(torch.utils.data.Dataset):
    """A list of masks with their hole ratios and buckets; masks are decoded lazily.

    ``__getitem__(i) -> (valid 1 x H x W float tensor, bucket index or -1)``; ``masks(bucket=None)``
    gives an ``N x 1 x H x W`` tensor (all masks or one bucket); ``by_bucket()`` a dict
    ``bucket -> tensor``.
    """

    def __init__(self, files: Sequence[Path], loader: Callable[[Path], np.ndarray], hole_ratios: Sequence[float],
                 buckets: Sequence[tuple[float, float]] = BUCKETS, closed: str = "right",
                 bucket_ids: Sequence[int] | None = None):
        self.files = [Path(f) for f in files]
        self._loader = loader
        self.hole_ratios = np.asarray(hole_ratios, dtype=np.float64)
        self.buckets = tuple(tuple(b) for b in buckets)
        self.closed = check_closed(closed)
        if bucket_ids is None:
            bucket_ids = [-1 if (b := bucket_of(r, self.buckets, closed)) is None else b for r in self.hole_ratios]
        self.bucket_ids = np.asarray(bucket_ids, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.files)

    def _valid(self, i: int) -> np.ndarray:
        return self._loader(self.files[i])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        v = torch.from_numpy(self._valid(i))[None]
        return v, int(self.bucket_ids[i])

    def label(self, bucket: int) -> str:
        return bucket_label(bucket, self.buckets, self.closed)

    def masks(self, bucket: int | None = None) -> torch.Tensor:
        """``N x 1 x H x W`` valid tensor of all masks, or of those in ``bucket``."""
        idx = range(len(self)) if bucket is None else np.flatnonzero(self.bucket_ids == bucket).tolist()
        if not idx:
            raise ValueError(f"no masks in bucket {bucket}")
        out = torch.from_numpy(np.stack([self._valid(i) for i in idx]))[:, None]
        return check_valid(out, name="masks")

    def by_bucket(self) -> dict[int, torch.Tensor]:
        """``{bucket index: N_b x 1 x H x W tensor}`` for every non-empty bucket."""
        return {b: self.masks(b) for b in range(len(self.buckets)) if (self.bucket_ids == b).any()}

    def counts(self) -> dict[str, int]:
        """Number of masks per bucket label (and ``"outside"`` when any fall outside every bucket)."""
        out = {self.label(b): int((self.bucket_ids == b).sum()) for b in range(len(self.buckets))}
        if (self.bucket_ids < 0).any():
            out["outside"] = int((self.bucket_ids < 0).sum())
        return out


class MaskTestSet(MaskCollection):
    """A test set written by ``write_mask_testset``; refuses files whose sha256 does not match the
    manifest (``ValueError``) and non-binary PNGs. All masks are loaded (and checked) at once."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        mf = self.root / "manifest.json"
        if not mf.is_file():
            raise FileNotFoundError(f"{self.root} has no manifest.json; write a mask test set with "
                                    "inpaintlib.masks.write_mask_testset or `python -m data_prep.make_masks`")
        self.manifest = m = json.loads(mf.read_text())
        if m.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"{mf} is not an inpaintlib mask test set manifest")
        for name, digest in [*m["files"].items(), ("index.csv", m["index_sha256"])]:
            p = self.root / name
            if not p.is_file():
                raise ValueError(f"mask test set {self.root}: {name} is missing (listed in manifest.json)")
            if sha256_file(p) != digest:
                raise ValueError(f"mask test set {self.root}: sha256 of {name} does not match manifest.json; "
                                 "the file was modified - regenerate the set with write_mask_testset")
        with open(self.root / "index.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        self.params = m["params"]
        self.index = rows
        self._cache: dict[Path, np.ndarray] = {}
        for r in rows:
            p = self.root / r["file"]
            a = _read_png_gray(p)
            if not np.isin(a, (0, 255)).all():
                raise ValueError(f"{p} is not binary (values other than 0 and 255); {PNG_CONVENTION}")
            self._cache[p] = (a == 255).astype(np.float32)
        super().__init__([self.root / r["file"] for r in rows], self._cache.__getitem__,
                         [float(r["hole_ratio"]) for r in rows], [tuple(b) for b in self.params["buckets"]],
                         self.params["closed"], [int(r["bucket"]) for r in rows])


LIU_POLARITIES = ("white_is_hole", "white_is_valid")


def _liu_loader(polarity: str, size: int | None) -> Callable[[Path], np.ndarray]:
    def load(path: Path) -> np.ndarray:
        from PIL import Image
        a = _read_png_gray(path)
        if size is not None and a.shape != (size, size):
            a = np.asarray(Image.fromarray(a).resize((size, size), resample=Image.NEAREST))
        white = a > 127  # re-binarise
        return (~white if polarity == "white_is_hole" else white).astype(np.float32)
    return load


def load_liu_irregular_masks(folder: str | os.PathLike, polarity: str, size: int | None = None, *,
                             buckets: Sequence[tuple[float, float]] = BUCKETS, closed: str = "right",
                             limit: int | None = None, check_polarity: bool = True) -> MaskCollection:
    """The NVIDIA irregular mask test set of Liu et al. (12,000 PNGs, 512 x 512) from ``folder``.

    ``polarity`` must be given: ``"white_is_hole"`` or ``"white_is_valid"``. Masks are read as
    grayscale, resized with nearest neighbour to ``size x size`` when ``size`` is given, and
    re-binarised at 127. Hole ratios and buckets are computed on the loaded masks. With
    ``check_polarity`` a wrong polarity is rejected with a ``ValueError`` when the median hole
    ratio exceeds 0.6 (outside every Liu bucket) or more than half of the masks fall outside every
    bucket. ``limit`` loads only the first ``limit`` files (sorted). Masks are decoded lazily.
    """
    if polarity not in LIU_POLARITIES:
        raise ValueError(f"polarity must be given explicitly as one of {LIU_POLARITIES}, got {polarity!r}")
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp"))
    if limit is not None:
        files = files[:limit]
    if not files:
        raise FileNotFoundError(f"no mask images (png/jpg/bmp) under {folder}")
    loader = _liu_loader(polarity, size)
    ratios = [1.0 - float(loader(p).mean(dtype=np.float64)) for p in files]
    coll = MaskCollection(files, loader, ratios, buckets, closed)
    if check_polarity:
        med = float(np.median(coll.hole_ratios))
        outside = float((coll.bucket_ids < 0).mean())
        if med > 0.6 or outside > 0.5:
            other = LIU_POLARITIES[1 - LIU_POLARITIES.index(polarity)]
            raise ValueError(
                f"with polarity={polarity!r} the masks in {folder} have median hole ratio {med:.2f} and "
                f"{outside:.0%} fall outside every bucket {[bucket_label(i, buckets, closed) for i in range(len(buckets))]}; "
                f"the polarity is probably wrong: flip it (polarity={other!r}), or pass check_polarity=False")
    return coll


__all__ = [
    "BUCKETS", "rectangle_valid", "check_rng", "check_size", "REF_SIZE", "bucket_of", "bucket_label", "hole_ratio", "to_tensor",
    "box_mask", "center_box_mask", "aim_box_mask", "brush_stroke_params",
    "brush_stroke_mask", "aim_free_form_params", "aim_free_form_mask", "cellular_automaton_mask", "aim_mask",
    "deepgin_masks", "irregular_mask", "irregular_thickness", "sample_in_bucket", "draw_strokes", "GENERATORS",
    "write_mask_testset", "cached_testset", "MaskCollection", "MaskTestSet", "load_liu_irregular_masks", "PNG_CONVENTION",
]
