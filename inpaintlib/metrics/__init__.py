"""Image-quality metrics and evaluation by hole-ratio bucket.

Conventions (book/reference_implementations.md, "Metrics"): every metric takes two
``N x C x H x W`` tensors in ``[0, 1]`` and returns a per-image vector (length N).

* :mod:`.pixel` -- PSNR, MSE, the L1 (%) variants and SSIM (Wang et al. 2004, as scikit-image computes it);
* :mod:`.perceptual` -- LPIPS and FID, which need pretrained networks and are optional: :func:`lpips_available`
  and :func:`fid_available` say whether they can run here and, if not, why; :func:`lpips_distance` and :func:`fid`
  then return ``None``;
* :mod:`.evaluation` -- :func:`evaluate` scores an inpainting function on images x masks under an explicit
  :class:`Protocol` and returns a table shaped like the papers' tables (rows = metrics, columns = hole-ratio
  buckets).
"""
from ..buckets import LIU_BUCKETS, bucket_labels
from .evaluation import METRIC_LABELS, EvalResult, Protocol, evaluate
from .perceptual import (FID_BACKENDS, feature_statistics, fid, fid_available, frechet_distance, lpips_available,
                         lpips_distance)
from .pixel import BT601_LUMA, l1_hole_percent, l1_percent, l1_relative_percent, mse, psnr, ssim, to_luma

__all__ = [
    "LIU_BUCKETS",
    "METRIC_LABELS",
    "EvalResult",
    "Protocol",
    "bucket_labels",
    "evaluate",
    "feature_statistics",
    "fid",
    "fid_available",
    "FID_BACKENDS",
    "frechet_distance",
    "l1_hole_percent",
    "l1_percent",
    "l1_relative_percent",
    "lpips_available",
    "lpips_distance",
    "mse",
    "psnr",
    "ssim",
    "to_luma",
    "BT601_LUMA",
]
