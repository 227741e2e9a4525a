"""Mask generators: boxes, DeepFill v2 brush strokes, the AIM 2020 masks, Liu-style irregular masks.

Every generator is ``f(h, w, rng) -> np.ndarray``: a ``float32`` ``(h, w)`` **valid** map, exactly 0 or 1,
**1 = known pixel, 0 = hole**, drawn from ``rng: numpy.random.Generator`` and nothing else random, so a seed fixes
the mask. Pixel-valued parameters are scaled below 256 px by the rule of :mod:`.drawing`.
:func:`sample_in_bucket` draws a mask whose hole ratio lies in a given bucket.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

from ..buckets import BUCKETS, bucket_label, bucket_labels, bucket_of, check_closed
from .drawing import (_paint_segment, _paint_thick_curve, _pixel_scale, _scaled, _step, _valid_from_hole,
                      check_rng, check_size, draw_strokes, rectangle_valid)

__all__ = ["box_mask", "center_box_mask", "aim_box_mask", "DEEPFILL_V2", "brush_stroke_params", "brush_stroke_mask",
           "AIM_FREE_FORM", "AIM_CA", "aim_free_form_params", "aim_free_form_mask", "cellular_automaton_mask",
           "aim_mask", "irregular_thickness", "irregular_mask", "sample_in_bucket", "GENERATORS"]


# --------------------------------------------------------------------------------------------
# Boxes
# --------------------------------------------------------------------------------------------

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
    """AIM 2020 rectangular mask (DeepGIN Sect. 5.1; book/reference_implementations.md, "AIM 2020 masks"): height and
    width each uniform in 30-70% of the image side (integers ``ceil(0.3 h) .. floor(0.7 h)``), position uniform
    inside."""
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

#: DeepFill v2 free-form parameters (book/reference_implementations.md, "DeepFill v2 free-form strokes"); widths are for
#: 256 x 256.
DEEPFILL_V2 = dict(min_strokes=1, max_strokes=3, min_vertices=4, max_vertices=11,
                   mean_angle=2 * math.pi / 5, angle_range=2 * math.pi / 15, min_width=12.0, max_width=40.0)


def brush_stroke_params(h: int, w: int, rng: np.random.Generator) -> list[dict]:
    """The random strokes of ``brush_stroke_mask`` (DeepFill v2, Yu et al. ICCV 2019;
    book/reference_implementations.md, "DeepFill v2 free-form strokes").

    1-3 strokes; each starts at a uniform random pixel and makes ``n`` moves, ``n`` uniform in
    4..11 (the vertex count of that section, not counting the start point). The turning angles:
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
            x, y = _step(x, y, length, a, h, w)
            points.append((x, y))
        strokes.append(dict(points=points, width=width, angles=angles, lengths=lengths))
    return strokes


def brush_stroke_mask(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """DeepFill v2 free-form mask: ``brush_stroke_params`` drawn as thick polylines with a filled
    disc at every vertex (book/reference_implementations.md, "DeepFill v2 free-form strokes")."""
    return draw_strokes(h, w, brush_stroke_params(h, w, rng))

# --------------------------------------------------------------------------------------------
# AIM 2020 masks (the masks of DeepGIN's challenge)
# --------------------------------------------------------------------------------------------

#: AIM 2020 free-form parameters (book/reference_implementations.md, "AIM 2020 masks"), pixel values for 256 x 256,
#: ranges inclusive.
AIM_FREE_FORM = dict(min_strokes=15, max_strokes=23, min_segments=1, max_segments=5,
                     min_length=10, max_length=69, min_width=10, max_width=24)
#: AIM 2020 cellular-automaton parameters (book/reference_implementations.md, "AIM 2020 masks").
AIM_CA = dict(scales=(1, 2, 4, 8), min_iterations=2, max_iterations=6, p=0.5)


def aim_free_form_params(h: int, w: int, rng: np.random.Generator) -> list[dict]:
    """Strokes of ``aim_free_form_mask`` (AIM 2020 free-form; book/reference_implementations.md, "AIM 2020 masks"):
    15-23 strokes, each from a uniform random start with 1-5 segments of uniform random direction and integer length
    10-69 px, one integer width 10-24 px per stroke. Lengths and widths are scaled below 256
    (the rule of :mod:`.drawing`); end points are clipped to the image."""
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
            x, y = _step(x, y, length, a, h, w)
            points.append((x, y))
        strokes.append(dict(points=points, width=width, lengths=lengths))
    return strokes


def aim_free_form_mask(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """AIM 2020 free-form mask (book/reference_implementations.md, "AIM 2020 masks"): ``aim_free_form_params`` drawn as
    thick polylines."""
    return draw_strokes(h, w, aim_free_form_params(h, w, rng))


def _majority3x3(grid: np.ndarray) -> np.ndarray:
    """One 3x3 majority vote (the median of 9 binary values), zero border."""
    from scipy.ndimage import median_filter
    return median_filter(grid, size=3, mode="constant", cval=0)


def cellular_automaton_mask(h: int, w: int, rng: np.random.Generator, *, scale: int | None = None,
                            iterations: int | None = None, dilate: bool = True) -> np.ndarray:
    """AIM 2020 cellular-automaton mask (book/reference_implementations.md, "AIM 2020 masks").

    Grid scale ``s`` uniform in {1, 2, 4, 8} (scaled below 256 by the rule of :mod:`.drawing`, at least 1);
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
    (book/reference_implementations.md, "AIM 2020 masks")."""
    check_rng(rng)
    kind = int(rng.integers(0, 3))
    return (aim_box_mask, cellular_automaton_mask, aim_free_form_mask)[kind](h, w, rng)


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


def irregular_thickness(h: int, w: int) -> tuple[int, int]:
    """Thickness range of ``irregular_mask``: ``3 .. 0.03 (H + W)`` (book/reference_implementations.md, "Liu et al.
    irregular masks"), the 3 px minimum scaled below 256 by the rule of :mod:`.drawing`, the maximum never below the
    minimum."""
    tmin = _scaled(3, h, w)
    return tmin, max(tmin, int(0.03 * (h + w)))


def irregular_mask(h: int, w: int, rng: np.random.Generator,
                   hole_range: tuple[float, float] = (0.01, 0.6), max_shapes: int = 2000) -> np.ndarray:
    """Irregular mask in the style of Liu et al.'s test set (book/reference_implementations.md, "Liu et al.
    irregular masks"): random lines, filled circles and ellipse arcs with thickness ``3 .. 0.03 (H + W)``.

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
    if isinstance(generator, str) and generator not in GENERATORS:
        raise ValueError(f"unknown mask generator {generator!r}; known: {sorted(GENERATORS)} (or pass a callable "
                         "f(h, w, rng) -> valid map)")
    if not isinstance(generator, str) and not callable(generator):
        raise ValueError(f"generator must be a name in {sorted(GENERATORS)} or a callable f(h, w, rng) -> valid map, "
                         f"got {type(generator).__name__}")
    gen = GENERATORS[generator] if isinstance(generator, str) else generator
    if isinstance(bucket, (int, np.integer)) and not isinstance(bucket, bool):
        if not -len(buckets) <= bucket < len(buckets):
            raise ValueError(f"bucket {bucket} does not exist: there are {len(buckets)} buckets, indices 0 to "
                             f"{len(buckets) - 1} ({', '.join(bucket_labels(buckets, closed))}); or pass a (lo, hi) "
                             "pair")
        lo, hi = buckets[bucket]
    else:
        try:
            lo, hi = (float(v) for v in bucket)
        except (TypeError, ValueError):
            raise ValueError(f"bucket must be an index into the buckets or a (lo, hi) pair of hole ratios, got "
                             f"{bucket!r}") from None
        if not 0 <= lo < hi <= 1:
            raise ValueError(f"bucket (lo, hi) must satisfy 0 <= lo < hi <= 1 (hole ratios), got {bucket!r}")
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

