"""Drawing masks with numpy, and the scaling rule for pixel-valued parameters.

Scaling rule for small images. The generators' sources (book/reference_implementations.md, "Mask generators")
give some parameters in pixels (DeepFill v2 brush width 12-40 px, AIM free-form segment length 10-69 px and
width 10-24 px, the AIM cellular-automaton grid scale 1-8 px, the irregular masks' minimum thickness 3 px). We read
them as values for 256 x 256 training crops (DeepGIN Sect. 5.1 and DeepFill v2 train at 256) and
use them unchanged at 256 and above. Below 256 each pixel parameter ``v`` becomes
``max(1, round(v * s))`` with ``s = min(h, w) / 256`` (``_scaled``), so a 64 x 64 mask looks like
a 256 x 256 mask shrunk 4x. Parameters given relative to the image (box sides, DeepFill's step
length ``sqrt(H^2 + W^2) / 8``, the ``0.03 (H + W)`` maximum thickness) need no scaling.

Drawing: strokes are painted with numpy (a pixel is a hole when its centre lies within
``width / 2`` of the segment, which gives round caps and the filled disc at each vertex);
no OpenCV.
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np

__all__ = ["REF_SIZE", "check_size", "check_rng", "draw_strokes", "rectangle_valid"]

#: Reference image side for pixel-valued parameters (see the module docstring).
REF_SIZE = 256


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


def _step(x: float, y: float, length: float, angle: float, h: int, w: int) -> tuple[float, float]:
    """The point ``length`` away from ``(x, y)`` in direction ``angle``, clipped to the image."""
    return (float(np.clip(x + length * math.cos(angle), 0, w - 1)),
            float(np.clip(y + length * math.sin(angle), 0, h - 1)))


def rectangle_valid(h: int, w: int, top: int, left: int, bh: int, bw: int) -> np.ndarray:
    """Valid map of an ``h x w`` image with the ``bh x bw`` box at ``(top, left)`` a hole."""
    valid = np.ones((h, w), dtype=np.float32)
    valid[top:top + bh, left:left + bw] = 0.0
    return valid


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

