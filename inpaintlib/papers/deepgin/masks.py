"""DeepGIN's training masks (Sect. 5.1, "Random Mask Generation"): a rectangle with sides of 30-70% of the image's,
"the free-form mask proposed in [34]" (DeepFill v2's brush strokes) and the AIM 2020 challenge's cellular-automaton
masks; "we applied the three types of masks to each training image to get three different masked images".

The authors' code draws its free-form masks with the AIM 2020 generator instead of DeepFill v2's
(book/reference_implementations.md, "AIM 2020 masks"): ``free_form="aim"`` selects it, ``"deepfill_v2"`` the text's.
:func:`training_masks` gives the training loop's mask source for a recipe (:mod:`.recipe`).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, ClassVar

import numpy as np

from ...masks import aim_box_mask, aim_free_form_mask, aim_mask, brush_stroke_mask, cellular_automaton_mask
from ...masks.drawing import check_rng

__all__ = ["FREE_FORM", "deepgin_masks", "EveryMaskType", "one_mask_type", "training_masks"]

#: ``free_form`` -> the free-form generator: the text's DeepFill v2 brush strokes [34], or the authors' code's AIM 2020
#: strokes.
FREE_FORM: dict[str, Callable[..., np.ndarray]] = {"deepfill_v2": brush_stroke_mask, "aim": aim_free_form_mask}


def _free_form(name: str) -> Callable[..., np.ndarray]:
    if name not in FREE_FORM:
        raise ValueError(f"free_form must be one of {sorted(FREE_FORM)}, got {name!r}")
    return FREE_FORM[name]


def deepgin_masks(h: int, w: int, rng: np.random.Generator, free_form: str = "aim") -> list[np.ndarray]:
    """DeepGIN's training masks for one image (Sect. 5.1, "Random Mask Generation" and "Training
    Batch Formation"): all three types, ``[box, cellular automaton, free-form]``, drawn in that order from ``rng``,
    so each training image becomes three masked images.

    ``free_form="aim"`` (this function's default, as in the chapter's figures) uses the AIM 2020 free-form generator
    (book/reference_implementations.md, "AIM 2020 masks"), the authors' code's;
    ``free_form="deepfill_v2"`` uses DeepFill v2 brush strokes, the generator the paper's text
    cites ("the free-form mask proposed in [34]"), the paper recipe's default (:mod:`.recipe`).
    """
    ff = _free_form(free_form)
    return [aim_box_mask(h, w, rng), cellular_automaton_mask(h, w, rng), ff(h, w, rng)]


@dataclass(frozen=True)
class EveryMaskType:
    """The mask source of Sect. 5.1's batches: for one image, ``(3, h, w)``, the three masks of
    :func:`deepgin_masks` stacked. Its ``masks_per_image = 3`` tells :func:`inpaintlib.train.train` to show each
    image three times in a row, once under each mask (a batch of 12 = 4 images x 3 types)."""

    free_form: str = "deepfill_v2"
    masks_per_image: ClassVar[int] = 3

    def __post_init__(self):
        _free_form(self.free_form)

    def __call__(self, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
        return np.stack(deepgin_masks(h, w, rng, self.free_form))


def one_mask_type(h: int, w: int, rng: np.random.Generator, free_form: str = "aim") -> np.ndarray:
    """One mask of a type drawn uniformly among box, cellular automaton and free-form (``free_form``'s generator):
    the AIM 2020 draw (:func:`inpaintlib.masks.aim_mask`, whose masks it equals with ``free_form="aim"``), for a
    batch with one mask per image (the recipe's ``batch_formation="crop"``)."""
    ff = _free_form(free_form)
    check_rng(rng)
    kind = int(rng.integers(0, 3))
    return (aim_box_mask, cellular_automaton_mask, ff)[kind](h, w, rng)


def training_masks(batch_formation: str, free_form: str) -> Callable[..., np.ndarray]:
    """The training loop's ``mask_fn`` for a recipe: ``"sect51"``, every image with the three types
    (:class:`EveryMaskType`); ``"crop"``, one mask per image, its type drawn uniformly (with ``free_form="aim"``
    :func:`inpaintlib.masks.aim_mask` itself, the generator the ci and demo models were trained with)."""
    if batch_formation == "sect51":
        return EveryMaskType(free_form)
    if batch_formation == "crop":
        return aim_mask if _free_form(free_form) is aim_free_form_mask else functools.partial(one_mask_type,
                                                                                               free_form=free_form)
    raise ValueError(f"batch_formation must be 'sect51' or 'crop', got {batch_formation!r}")
