"""Fixtures shared by the test files: the session's book build, seeded random images, ``valid`` masks with box holes,
and closing figures.

``make_images`` and ``make_valid`` are factories (fixtures that return a function), so a test asks for the sizes it
needs: ``image = make_images(2, 16, 16)``, ``valid = make_valid(2, 16, 16, (4, 10, 5, 12))``.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Callable, Sequence

import pytest
import torch

Box = tuple[int, int, int, int]
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def built_book() -> Path:
    """Run the pipeline once a session (the same command as ``make book``): every notebook at CI scale (cached when
    unchanged), the report, the book build. Returns the HTML folder."""
    res = subprocess.run([sys.executable, "-m", "inpaintlib.reproduce", "--scale", "ci", "--timeout", "1200"],
                         cwd=ROOT, capture_output=True, text=True)
    if res.returncode != 0:
        pytest.fail(f"python -m inpaintlib.reproduce --scale ci failed (exit {res.returncode}):\n"
                    f"{res.stderr[-4000:]}\n{res.stdout[-3000:]}")
    return ROOT / "_build" / "html"


@pytest.fixture
def make_images() -> Callable[..., torch.Tensor]:
    """``make_images(n=2, h=16, w=16, c=3, seed=0, dtype=torch.float32)``: uniform random ``N x C x H x W`` images in
    [0, 1] from their own seeded generator (the same arguments give the same images)."""

    def make(n: int = 2, h: int = 16, w: int = 16, c: int = 3, seed: int = 0,
             dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(seed), dtype=dtype)

    return make


@pytest.fixture
def make_valid() -> Callable[..., torch.Tensor]:
    """``make_valid(n=2, h=16, w=16, boxes=(top, bottom, left, right), dtype=torch.float32)``: an ``N x 1 x H x W``
    ``valid`` mask (1 = known, 0 = hole) with the same box hole(s) ``[top:bottom, left:right]`` in every sample;
    ``boxes`` is one box or a sequence of boxes (``()`` for no hole)."""

    def make(n: int = 2, h: int = 16, w: int = 16, boxes: Box | Sequence[Box] = (4, 10, 5, 12),
             dtype: torch.dtype = torch.float32) -> torch.Tensor:
        valid = torch.ones(n, 1, h, w, dtype=dtype)
        for top, bottom, left, right in ([boxes] if boxes and isinstance(boxes[0], int) else boxes):
            valid[..., top:bottom, left:right] = 0
        return valid

    return make


@pytest.fixture(autouse=True)
def _close_figures():
    """Close every matplotlib figure a test left open (only when the test imported pyplot)."""
    yield
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close("all")
