"""Masks: generators, the tensor form, and the fixed mask test sets on disk.

Convention (book/conventions.md, "Masks"): every generator returns a numpy ``float32`` array of shape ``(h, w)``
holding a **valid** map, exactly 0 or 1, **1 = known pixel, 0 = hole**. ``to_tensor`` turns one
or many of them into the library's ``N x 1 x H x W`` tensor form. Every generator takes
``rng: numpy.random.Generator`` and nothing else random, so a seed fixes the mask.

Modules:

* :mod:`.generators` -- boxes, DeepFill v2 brush strokes, the AIM 2020 masks, Liu-style irregular masks,
  :func:`sample_in_bucket` and the ``GENERATORS`` registry;
* :mod:`.drawing` -- painting strokes with numpy and the scaling rule of pixel-valued parameters below 256 px;
* :mod:`.valid` -- :func:`to_tensor` and :func:`hole_ratio`;
* :mod:`.collection` -- :class:`MaskCollection` and the loaders of Liu et al.'s irregular mask test set
  (:func:`nvidia_testset`: NVIDIA's release as shipped, buckets by file order);
* :mod:`.reading` -- the one set of rules for reading mask files made elsewhere (value range, alpha channel,
  polarity check and its message), shared by the Liu loaders and :func:`inpaintlib.inference.load_mask`;
* :mod:`.testset` -- the fixed, seeded test sets (PNGs with **255 = known (valid), 0 = hole**):
  :func:`write_mask_testset`, :func:`cached_testset`, :class:`MaskTestSet`.

Hole-ratio buckets live in :mod:`inpaintlib.buckets` (re-exported here); paper-specific masks live in their paper's
package (e.g. ``inpaintlib.papers.msfef.masks``, ``inpaintlib.papers.deepgin.masks``).
"""
from ..buckets import BUCKETS, bucket_label, bucket_of
from .collection import (LIU_POLARITIES, NVIDIA_TESTSET_COUNT, NVIDIA_TESTSET_FOLDERS, NVIDIA_TESTSET_PER_BUCKET,
                         MaskCollection, load_liu_irregular_masks, nvidia_testset, nvidia_testset_names)
from .drawing import REF_SIZE, check_rng, check_size, draw_strokes, rectangle_valid
from .generators import (AIM_CA, AIM_FREE_FORM, DEEPFILL_V2, GENERATORS, aim_box_mask, aim_free_form_mask,
                         aim_free_form_params, aim_mask, box_mask, brush_stroke_mask, brush_stroke_params,
                         cellular_automaton_mask, center_box_mask, irregular_mask, irregular_thickness,
                         sample_in_bucket)
from .testset import MANIFEST_FORMAT, PNG_CONVENTION, MaskTestSet, cached_testset, write_mask_testset
from .valid import hole_ratio, to_tensor

__all__ = [
    "BUCKETS", "rectangle_valid", "check_rng", "check_size", "REF_SIZE", "bucket_of", "bucket_label", "hole_ratio",
    "to_tensor", "box_mask", "center_box_mask", "aim_box_mask", "brush_stroke_params", "brush_stroke_mask",
    "aim_free_form_params", "aim_free_form_mask", "cellular_automaton_mask", "aim_mask", "irregular_mask",
    "irregular_thickness", "sample_in_bucket", "draw_strokes", "GENERATORS", "DEEPFILL_V2", "AIM_FREE_FORM",
    "AIM_CA", "write_mask_testset", "cached_testset", "MaskCollection", "MaskTestSet", "load_liu_irregular_masks",
    "LIU_POLARITIES", "PNG_CONVENTION", "MANIFEST_FORMAT", "nvidia_testset", "nvidia_testset_names",
    "NVIDIA_TESTSET_COUNT", "NVIDIA_TESTSET_PER_BUCKET", "NVIDIA_TESTSET_FOLDERS",
]
