"""Your own photograph and mask through every method of the book (``notebooks/bench/03_your_image``).

A method is named by a classical method (``mean_fill``, ``biharmonic``, ``exemplar``: :data:`inpaintlib.inference.METHODS`),
by a chapter (``msfef``, ``msanet``, ``deepgin``, ``pmrfn``, ``ctxattn``: its demo checkpoint from ``weights/``,
sha256 verified), or by the path of any ``.safetensors`` checkpoint of this library.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from .. import inference
from ..chapter import shipped_checkpoints
from ..data import SampleScenes, load_image
from ..masks import brush_stroke_mask, to_tensor

__all__ = ["CHAPTERS", "sample_pair", "load_pair", "resolve", "run_all", "side_by_side"]

CHAPTERS = ("msfef", "msanet", "deepgin", "pmrfn", "ctxattn")


def sample_pair(size: int = 128, index: int = 0, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A test photograph of the sample scenes (``1 x 3 x size x size``) and DeepFill v2 brush strokes drawn on it
    (``1 x 1 x size x size`` valid map, 1 = known)."""
    image = SampleScenes("test", size)[index][None]
    valid = to_tensor([brush_stroke_mask(size, size, np.random.default_rng(seed))])
    return image, valid


def load_pair(image_path: str | os.PathLike, mask_path: str | os.PathLike, mask_convention: str,
              max_side: int | None = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Your image and mask, checked (:func:`inpaintlib.inference.load_mask`: ``mask_convention`` is ``"255=hole"``
    or ``"255=known"``), the longer side resized to ``max_side`` (None keeps the size)."""
    image = load_image(image_path)
    valid = inference.load_mask(mask_path, mask_convention)
    image, valid = inference.align_pair(image, valid)
    box, hw = inference.plan_resize(*image.shape[-2:], max_side=max_side)
    return inference.transform_pair(image, valid, box=box, size=hw)


def resolve(name: str):
    """What :func:`inpaintlib.inference.inpaint` accepts for ``name`` (see the module docstring)."""
    if name in inference.METHODS:
        return name
    if name in CHAPTERS:
        paths = shipped_checkpoints(name, "demo")
        if not paths:
            raise FileNotFoundError(f"no demo checkpoint of {name} in weights/manifest.json: train one with "
                                    f"make demo PAPER={name}")
        return inference.load_model(paths[0])
    if str(name).endswith(".safetensors") and Path(name).is_file():
        return inference.load_model(name)
    raise ValueError(f"unknown method {name!r}: expected one of {sorted(inference.METHODS)}, a chapter "
                     f"{list(CHAPTERS)} (its demo checkpoint) or the path of a .safetensors checkpoint")


def run_all(names: Sequence[str], image: torch.Tensor, valid: torch.Tensor, work_size=None) -> dict[str, torch.Tensor]:
    """``name -> composite`` for every method (networks at their training size unless ``work_size`` is given);
    ``names`` may be one comma-separated string (as ``papermill -p methods biharmonic,msanet`` passes it)."""
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    return {n: inference.inpaint(resolve(n), image, valid, work_size=work_size) for n in names}


def side_by_side(image: torch.Tensor, valid: torch.Tensor, results: dict[str, torch.Tensor], ncols: int = 4):
    """The input with its hole (magenta) and every method's composite, ``ncols`` per row."""
    import matplotlib.pyplot as plt

    from ..viz import show_image

    panels = {"input (hole in magenta)": torch.where(valid.bool(), image, torch.tensor([1.0, 0.0, 1.0])[:, None, None]),
              **results}
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.9 * ncols, 1.9 * nrows * image.shape[-2] / image.shape[-1]),
                             squeeze=False)
    for ax, (title, img) in zip(axes.flat, panels.items()):
        show_image(img[0] if img.dim() == 4 else img, ax=ax, title=title)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    return fig
