"""DeepGIN's training masks (Sect. 5.1): each training image with all three AIM 2020 mask types."""
from __future__ import annotations

import numpy as np

from ...masks import aim_box_mask, aim_free_form_mask, brush_stroke_mask, cellular_automaton_mask

__all__ = ["deepgin_masks"]


def deepgin_masks(h: int, w: int, rng: np.random.Generator, free_form: str = "aim") -> list[np.ndarray]:
    """DeepGIN's training masks for one image (Sect. 5.1, "Random Mask Generation" and "Training
    Batch Formation"): all three types, ``[box, cellular automaton, free-form]``, so each training
    image becomes three masked images.

    ``free_form="aim"`` (default) uses the AIM 2020 free-form generator (book/reference_implementations.md,
    "AIM 2020 masks");
    ``free_form="deepfill_v2"`` uses DeepFill v2 brush strokes, the generator the paper's text
    cites ("the free-form mask proposed in [34]").
    """
    if free_form not in ("aim", "deepfill_v2"):
        raise ValueError(f"free_form must be 'aim' or 'deepfill_v2', got {free_form!r}")
    ff = aim_free_form_mask if free_form == "aim" else brush_stroke_mask
    return [aim_box_mask(h, w, rng), cellular_automaton_mask(h, w, rng), ff(h, w, rng)]

