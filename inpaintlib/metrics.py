"""Image-quality metrics and evaluation by hole-ratio bucket.

Conventions (REFERENCE.md, "Metrics: conventions differ across codebases"):

* every metric takes two ``N x C x H x W`` tensors in ``[0, 1]`` and returns a per-image vector (length N);
* PSNR = ``10 log10(R^2 / MSE)`` with the data range ``R`` given explicitly (1 for our images);
* SSIM follows Wang et al. 2004 exactly as scikit-image's ``structural_similarity(..., gaussian_weights=True,
  sigma=1.5, use_sample_covariance=False, data_range=1)``: 11 x 11 Gaussian window (sigma 1.5), K1 = 0.01,
  K2 = 0.03, population (not sample) covariances, the SSIM map averaged over the positions where the whole window
  lies inside the image ("valid" border handling: scikit-image filters with reflection and then crops the 5-pixel
  border, so the reflected values never reach the mean), computed per channel and averaged over channels;
* "L1 (%)" is a mean absolute error in [0, 1] times 100 -- over the whole image (:func:`l1_percent`), over the hole
  only (:func:`l1_hole_percent`) or relative to the ground truth's magnitude (:func:`l1_relative_percent`);
* LPIPS and FID need pretrained networks. They are optional: :func:`lpips_available` and :func:`fid_available` say
  whether they can run here and, if not, why; :func:`lpips_distance` and :func:`fid` then return ``None``.

:func:`evaluate` scores an inpainting function on images x masks under an explicit :class:`Protocol` and returns a
table shaped like the papers' tables (rows = metrics, columns = hole-ratio buckets).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from inpaintlib._validate import check_image, check_valid
from inpaintlib.buckets import LIU_BUCKETS, bucket_labels, bucket_of

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
]

#: Row labels used when a result table is printed; the DataFrame index keeps the short names.
METRIC_LABELS = {
    "psnr": "PSNR (dB)",
    "ssim": "SSIM",
    "l1": "L1 (%)",
    "mse": "MSE",
    "lpips": "LPIPS",
    "n": "n (pairs)",
}

# ITU-R BT.601 luma weights (the weights of MATLAB's rgb2gray, which much inpainting evaluation code uses).
_LUMA = (0.299, 0.587, 0.114)


# ----------------------------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------------------------
def _check_pair(a: torch.Tensor, b: torch.Tensor) -> None:
    check_image(a, "a")
    check_image(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")


def _check_region(region: torch.Tensor | None, a: torch.Tensor) -> torch.Tensor | None:
    """``region``: an ``N x 1 x H x W`` (or ``1 x 1 x H x W``) 0/1 map of the pixels to score (1 = scored)."""
    if region is None:
        return None
    check_valid(region, image=a, name="region")
    region = region.to(device=a.device, dtype=a.dtype)
    if bool((region.flatten(1).sum(1) == 0).any()):
        raise ValueError("region selects no pixel for at least one image (1 = pixel scored, 0 = ignored)")
    return region


def _per_image_mean(x: torch.Tensor, region: torch.Tensor | None) -> torch.Tensor:
    """Mean of ``x`` (N x C x H x W) per image, over all channels and over the pixels where ``region`` is 1."""
    if region is None:
        return x.flatten(1).mean(1)
    w = region.expand_as(x)
    return (x * w).flatten(1).sum(1) / w.flatten(1).sum(1)


def to_luma(x: torch.Tensor) -> torch.Tensor:
    """ITU-R BT.601 luma ``0.299 R + 0.587 G + 0.114 B`` of an ``N x 3 x H x W`` tensor (``N x 1 x H x W``).

    One-channel input is returned unchanged.
    """
    if x.shape[1] == 1:
        return x
    if x.shape[1] != 3:
        raise ValueError(f"luma needs 1 or 3 channels, got {x.shape[1]}")
    w = torch.tensor(_LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)


# ----------------------------------------------------------------------------------------------------------------
# pixel metrics
# ----------------------------------------------------------------------------------------------------------------
def _mse64(a: torch.Tensor, b: torch.Tensor, region: torch.Tensor | None) -> torch.Tensor:
    _check_pair(a, b)
    region = _check_region(region, a)
    d = a.double() - b.double()
    return _per_image_mean(d * d, None if region is None else region.double())


def mse(a: torch.Tensor, b: torch.Tensor, region: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error per image (N-vector), over all channels and the pixels where ``region`` is 1."""
    return _mse64(a, b, region).to(torch.float32)


def psnr(a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0, region: torch.Tensor | None = None) -> torch.Tensor:
    """Peak signal-to-noise ratio per image: ``10 log10(data_range^2 / MSE)`` in dB (N-vector).

    ``region`` (N x 1 x H x W, 1 = scored) restricts the MSE to some pixels, e.g. ``1 - valid`` for the hole only.
    Identical images give ``inf``.
    """
    m = _mse64(a, b, region)
    return (10.0 * torch.log10(float(data_range) ** 2 / m)).to(torch.float32)


def l1_percent(a: torch.Tensor, b: torch.Tensor, region: torch.Tensor | None = None) -> torch.Tensor:
    """Mean absolute error times 100 per image, over the whole image (or the pixels where ``region`` is 1)."""
    _check_pair(a, b)
    region = _check_region(region, a)
    d = (a.double() - b.double()).abs()
    return (100.0 * _per_image_mean(d, None if region is None else region.double())).to(torch.float32)


def l1_hole_percent(a: torch.Tensor, b: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean absolute error times 100 over the hole pixels only (``valid == 0``), per image."""
    check_valid(valid, image=a, require_hole=True)
    return l1_percent(a, b, region=1.0 - valid)


def l1_relative_percent(gt: torch.Tensor, pred: torch.Tensor, region: torch.Tensor | None = None) -> torch.Tensor:
    """Relative L1 times 100 per image: ``100 * sum|gt - pred| / sum gt`` (over ``region`` if given).

    The first argument is the ground truth (the denominator); an all-black ground truth gives ``inf`` or ``nan``.
    """
    _check_pair(gt, pred)
    region = _check_region(region, gt)
    w = torch.ones_like(gt, dtype=torch.float64) if region is None else region.double().expand_as(gt)
    num = ((gt.double() - pred.double()).abs() * w).flatten(1).sum(1)
    den = (gt.double() * w).flatten(1).sum(1)
    return (100.0 * num / den).to(torch.float32)


# ----------------------------------------------------------------------------------------------------------------
# SSIM
# ----------------------------------------------------------------------------------------------------------------
def _gaussian_1d(win_size: int, sigma: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Normalised 1-D Gaussian of ``win_size`` taps (as ``scipy.ndimage.gaussian_filter`` builds it)."""
    r = win_size // 2
    x = torch.arange(-r, r + 1, dtype=dtype, device=device)
    g = torch.exp(-0.5 * (x / sigma) ** 2)
    return g / g.sum()


def ssim(
    a: torch.Tensor,
    b: torch.Tensor,
    data_range: float = 1.0,
    gray: bool = False,
    *,
    win_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
) -> torch.Tensor:
    """Structural similarity per image (N-vector), Wang et al. 2004 (IEEE TIP 13(4)), Eqs. 13-14 with a Gaussian window.

    ``SSIM = (2 mu_a mu_b + C1)(2 sigma_ab + C2) / ((mu_a^2 + mu_b^2 + C1)(sigma_a^2 + sigma_b^2 + C2))`` with
    ``C1 = (K1 R)^2``, ``C2 = (K2 R)^2``, local statistics under an ``win_size`` x ``win_size`` Gaussian window of
    ``sigma`` (population covariances: no N/(N-1) correction), averaged over the window positions that lie fully inside
    the image, then over channels. Matches scikit-image's ``structural_similarity(..., gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=1, channel_axis=...)`` (REFERENCE.md). With ``gray=True`` a 3-channel
    image is first converted to BT.601 luma (:func:`to_luma`). Computed in float64 except on MPS.
    """
    _check_pair(a, b)
    if win_size % 2 != 1 or win_size < 3:
        raise ValueError(f"win_size must be an odd integer >= 3, got {win_size}")
    if a.shape[-1] < win_size or a.shape[-2] < win_size:
        raise ValueError(f"SSIM needs images at least {win_size} x {win_size}, got {tuple(a.shape[-2:])}")
    dtype = torch.float32 if a.device.type == "mps" else torch.float64
    x, y = a.to(dtype), b.to(dtype)
    if gray:
        x, y = to_luma(x), to_luma(y)
    n, c, h, w = x.shape
    g = _gaussian_1d(win_size, sigma, dtype, x.device)
    x = x.reshape(n * c, 1, h, w)
    y = y.reshape(n * c, 1, h, w)
    stack = torch.cat([x, y, x * x, y * y, x * y], dim=1)  # (NC, 5, H, W)
    # separable 'valid' Gaussian filtering of the five moments
    stack = F.conv2d(stack, g.view(1, 1, 1, -1).expand(5, 1, 1, win_size), groups=5)
    stack = F.conv2d(stack, g.view(1, 1, -1, 1).expand(5, 1, win_size, 1), groups=5)
    ux, uy, uxx, uyy, uxy = stack.unbind(1)
    vx = uxx - ux * ux
    vy = uyy - uy * uy
    vxy = uxy - ux * uy
    c1 = (k1 * data_range) ** 2
    c2 = (k2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.reshape(n, c, -1).mean(2).mean(1).to(torch.float32)


# ----------------------------------------------------------------------------------------------------------------
# LPIPS (optional)
# ----------------------------------------------------------------------------------------------------------------
_LPIPS_CACHE: dict[str, Any] = {}


def _short(e: BaseException) -> str:
    msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {msg[:200]}"


def _load_lpips(net: str = "alex"):
    if net in _LPIPS_CACHE:
        return _LPIPS_CACHE[net]
    model, reason = None, ""
    try:
        import lpips  # noqa: PLC0415  (optional dependency)
    except (ImportError, RuntimeError, OSError) as e:  # a broken torchvision raises RuntimeError on import
        reason = f"the lpips package cannot be imported ({_short(e)})"
    else:
        try:
            model = lpips.LPIPS(net=net, version="0.1", verbose=False).eval()
            for p in model.parameters():
                p.requires_grad_(False)
        except Exception as e:  # e.g. weights not downloadable offline or not in the cache
            model, reason = None, f"LPIPS ({net}, v0.1) weights unavailable ({_short(e)})"
    _LPIPS_CACHE[net] = (model, reason)
    return model, reason


def lpips_available(net: str = "alex") -> tuple[bool, str]:
    """``(True, "")`` if LPIPS (``lpips`` package, ``net`` backbone, v0.1) can run here, else ``(False, reason)``."""
    model, reason = _load_lpips(net)
    return model is not None, reason


def lpips_distance(a: torch.Tensor, b: torch.Tensor, net: str = "alex", batch_size: int = 32) -> torch.Tensor | None:
    """LPIPS distance per image (Zhang et al. 2018, ``lpips`` package, AlexNet v0.1 by default), or ``None``.

    Inputs are ``[0, 1]`` images (passed with ``normalize=True``, i.e. mapped to ``[-1, 1]``). Returns ``None`` when
    the package or its weights are unavailable; :func:`lpips_available` gives the reason.
    """
    _check_pair(a, b)
    model, _ = _load_lpips(net)
    if model is None:
        return None
    model = model.to(a.device)
    out = []
    with torch.no_grad():
        for i in range(0, a.shape[0], batch_size):
            d = model(a[i : i + batch_size].float(), b[i : i + batch_size].float(), normalize=True)
            out.append(d.reshape(-1).float().cpu())
    return torch.cat(out)


# ----------------------------------------------------------------------------------------------------------------
# FID (optional features; the Frechet distance itself always works)
# ----------------------------------------------------------------------------------------------------------------
def _sqrtm_psd(s: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh((s + s.T) / 2)
    return (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T


def frechet_distance(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """Frechet distance between Gaussians N(mu1, s1) and N(mu2, s2) (Heusel et al. 2017, Eq. 6 / Dowson & Landau):

    ``d^2 = |mu1 - mu2|^2 + tr(s1 + s2 - 2 (s1 s2)^(1/2))``.

    ``tr((s1 s2)^(1/2))`` is computed as ``sum sqrt(eig(s1^(1/2) s2 s1^(1/2)))`` -- the same eigenvalues as ``s1 s2``,
    but of a symmetric positive semi-definite matrix, so no complex square roots arise for singular covariances.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(s1, np.float64)), np.atleast_2d(np.asarray(s2, np.float64))
    d = mu1.shape[0]
    if mu2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise ValueError(f"shapes do not match: mu1 {mu1.shape}, s1 {s1.shape}, mu2 {mu2.shape}, s2 {s2.shape}")
    r1 = _sqrtm_psd(s1)
    m = r1 @ s2 @ r1
    tr_covmean = np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean)


def feature_statistics(features: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (``np.cov``, rows = samples, N-1 normalisation as in pytorch-fid) of ``N x D`` features."""
    if isinstance(features, torch.Tensor):
        features = features.detach().cpu().double().numpy()
    f = np.asarray(features, np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"features must be N x D with N >= 2, got shape {f.shape}")
    return f.mean(0), np.cov(f, rowvar=False)


_FID_CACHE: dict[str, Any] = {}
FID_BACKENDS = ("pytorch_fid", "torchvision")


def _load_inception(backend: str):
    if backend not in FID_BACKENDS:
        raise ValueError(f"backend must be one of {FID_BACKENDS}, got {backend!r}")
    if backend in _FID_CACHE:
        return _FID_CACHE[backend]
    model, reason = None, ""
    if backend == "pytorch_fid":
        try:
            from pytorch_fid.inception import InceptionV3  # noqa: PLC0415  (optional dependency)
        except (ImportError, RuntimeError, OSError) as e:
            reason = f"pytorch_fid cannot be imported ({_short(e)})"
        else:
            try:
                model = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()
            except Exception as e:
                reason = f"pytorch_fid InceptionV3 (FID) weights unavailable ({_short(e)})"
    else:
        try:
            import torchvision  # noqa: PLC0415  (optional dependency)
        except (ImportError, RuntimeError, OSError) as e:
            reason = f"torchvision cannot be imported ({_short(e)})"
        else:
            try:
                net = torchvision.models.inception_v3(weights="IMAGENET1K_V1", aux_logits=True, transform_input=False)
                net.fc = torch.nn.Identity()
                model = net.eval()
            except Exception as e:
                reason = f"torchvision InceptionV3 ImageNet weights unavailable ({_short(e)})"
    _FID_CACHE[backend] = (model, reason)
    return model, reason


def fid_available(backend: str = "pytorch_fid") -> tuple[bool, str]:
    """``(True, note)`` if InceptionV3 pool3 features can be computed with ``backend``, else ``(False, reason)``.

    ``"pytorch_fid"`` uses the FID Inception weights ported from TensorFlow (comparable with published FIDs);
    ``"torchvision"`` uses torchvision's ImageNet InceptionV3 -- same architecture, different weights, so its FIDs
    are NOT comparable with papers' (the note says so). There is no automatic fallback between the two.
    """
    model, reason = _load_inception(backend)
    if model is None:
        return False, reason
    if backend == "torchvision":
        return True, "torchvision ImageNet InceptionV3 weights, not the TF-FID weights: not comparable with papers' FID"
    return True, ""


def _inception_features(model, backend: str, images: torch.Tensor, batch_size: int, device: str) -> np.ndarray:
    model = model.to(device)
    feats = []
    mean = torch.tensor([0.485, 0.456, 0.406], device=device).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225], device=device).view(1, 3, 1, 1)
    with torch.no_grad():
        for i in range(0, images.shape[0], batch_size):
            x = images[i : i + batch_size].to(device).float()
            if backend == "pytorch_fid":
                f = model(x)[0]  # resizes to 299 and maps [0, 1] -> [-1, 1] itself
            else:
                x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
                f = model((x - mean) / std)
            feats.append(f.reshape(f.shape[0], -1).cpu().double().numpy())
    return np.concatenate(feats)


def fid(
    real: torch.Tensor, fake: torch.Tensor, *, batch_size: int = 32, device: str = "cpu", backend: str = "pytorch_fid"
) -> float | None:
    """Frechet Inception Distance between two sets of ``[0, 1]`` images (InceptionV3 pool3, 2048-d), or ``None``.

    Returns ``None`` when ``backend``'s weights cannot be loaded (:func:`fid_available` says why). FID is biased and
    noisy for small sets (REFERENCE.md: meaningless below a few thousand images); a warning says so below 2048.
    """
    check_image(real, "real")
    check_image(fake, "fake")
    model, _ = _load_inception(backend)
    if model is None:
        return None
    if min(real.shape[0], fake.shape[0]) < 2048:
        warnings.warn(
            f"FID from {real.shape[0]} real and {fake.shape[0]} fake images: fewer than the 2048 feature dimensions, "
            "the covariance is singular and the value is not comparable with published FIDs",
            stacklevel=2,
        )
    m1, s1 = feature_statistics(_inception_features(model, backend, real, batch_size, device))
    m2, s2 = feature_statistics(_inception_features(model, backend, fake, batch_size, device))
    return frechet_distance(m1, s1, m2, s2)


# ----------------------------------------------------------------------------------------------------------------
# protocol and evaluation
# ----------------------------------------------------------------------------------------------------------------
_L1_KINDS = {
    "whole": "MAE x 100 over the whole image",
    "hole": "MAE x 100 over the hole only",
    "relative": "relative L1 x 100 = 100 sum|gt - pred| / sum gt over the whole image",
}
_METRICS = ("psnr", "ssim", "l1", "mse", "lpips")


@dataclass(frozen=True)
class Protocol:
    """How an inpainting result is scored; printed with every table (DESIGN.md: "every table states its protocol").

    * ``region``: ``"whole"`` or ``"hole"`` -- the pixels over which PSNR and MSE are computed;
    * ``composite``: score ``valid * gt + (1 - valid) * output`` (True, the common protocol) or the raw output;
    * ``l1``: ``"whole"`` (MAE x 100 over the image), ``"hole"`` (MAE x 100 over the hole) or ``"relative"``;
    * SSIM settings (Wang et al.): ``ssim_win``, ``ssim_sigma``, ``ssim_k1``, ``ssim_k2``; SSIM is always over the
      whole image; ``gray`` computes SSIM on BT.601 luma instead of per RGB channel;
    * ``buckets`` with ``closed="right"`` ((lo, hi], Liu et al.) or ``"left"`` ([lo, hi), MSFEF's table);
    * ``pairing``: ``"cycle"`` -- pair k uses image ``k mod N`` and mask ``k mod M`` for ``k < max(N, M)``, so every
      image and every mask is used, deterministically and at the cost of ``max(N, M)`` predictions (our default, cheap
      at ci scale); ``"all"`` -- every image with every mask (``N * M`` predictions);
    * ``metrics``: which of ``psnr, ssim, l1, mse, lpips`` to compute; ``clamp``: clip outputs to [0, 1] first (as
      saving an 8-bit image would).
    """

    region: str = "whole"
    composite: bool = True
    l1: str = "whole"
    gray: bool = False
    ssim_win: int = 11
    ssim_sigma: float = 1.5
    ssim_k1: float = 0.01
    ssim_k2: float = 0.03
    data_range: float = 1.0
    buckets: tuple[tuple[float, float], ...] = LIU_BUCKETS
    closed: str = "right"
    pairing: str = "cycle"
    metrics: tuple[str, ...] = ("psnr", "ssim", "l1")
    clamp: bool = True

    def __post_init__(self):
        if self.region not in ("whole", "hole"):
            raise ValueError(f"region must be 'whole' or 'hole', got {self.region!r}")
        if self.l1 not in _L1_KINDS:
            raise ValueError(f"l1 must be one of {tuple(_L1_KINDS)}, got {self.l1!r}")
        if self.closed not in ("right", "left"):
            raise ValueError(f"closed must be 'right' or 'left', got {self.closed!r}")
        if self.pairing not in ("cycle", "all"):
            raise ValueError(f"pairing must be 'cycle' or 'all', got {self.pairing!r}")
        bad = [m for m in self.metrics if m not in _METRICS]
        if bad or not self.metrics:
            raise ValueError(f"metrics must be a non-empty subset of {_METRICS}, got {self.metrics!r}")
        object.__setattr__(self, "buckets", tuple((float(lo), float(hi)) for lo, hi in self.buckets))
        object.__setattr__(self, "metrics", tuple(self.metrics))
        for lo, hi in self.buckets:
            if not 0 <= lo < hi <= 1:
                raise ValueError(f"bucket ({lo}, {hi}) is not a sub-interval of [0, 1]")

    @property
    def bucket_labels(self) -> list[str]:
        return bucket_labels(self.buckets, self.closed)

    def describe(self) -> str:
        """One line for a table caption."""
        scored = "composite (known pixels from the ground truth)" if self.composite else "raw network output"
        parts = [f"Scored on the {scored}"]
        if "psnr" in self.metrics or "mse" in self.metrics:
            parts.append(f"PSNR/MSE over the {'whole image' if self.region == 'whole' else 'hole only'}")
        if "ssim" in self.metrics:
            col = "BT.601 luma" if self.gray else "per RGB channel, averaged"
            parts.append(
                f"SSIM {self.ssim_win}x{self.ssim_win} Gaussian sigma {self.ssim_sigma:g}, K=({self.ssim_k1:g}, "
                f"{self.ssim_k2:g}), whole image, {col}"
            )
        if "l1" in self.metrics:
            parts.append(f"L1 (%) = {_L1_KINDS[self.l1]}")
        if "lpips" in self.metrics:
            parts.append("LPIPS AlexNet v0.1")
        parts.append(f"data range {self.data_range:g}")
        parts.append(f"hole-ratio buckets {', '.join(self.bucket_labels)}")
        parts.append(
            "each mask paired with image (k mod N), k < max(N, M)"
            if self.pairing == "cycle"
            else "every image x every mask"
        )
        if self.clamp:
            parts.append("outputs clipped to [0, 1]")
        return "; ".join(parts) + "."


@dataclass
class EvalResult:
    """What :func:`evaluate` returns.

    ``per_image``: one row per (image, mask) pair: ``image``, ``mask``, ``bucket``, ``hole_ratio`` and one column per
    metric. ``table``: rows = metrics (those of ``protocol.metrics``, then ``n`` = number of pairs), columns = the
    protocol's buckets in order, then ``"all"`` (mean over every pair that falls in a bucket) -- the shape of the
    papers' tables. ``notes``: reasons for metrics that could not be computed (their cells are NaN).
    """

    per_image: pd.DataFrame
    table: pd.DataFrame
    protocol: Protocol
    notes: list[str] = field(default_factory=list)

    def to_markdown(self, label: str | None = None) -> str:
        """The table as markdown, metrics labelled (``METRIC_LABELS``), with the protocol (and ``label``) below."""
        fmt = {"psnr": "{:.2f}", "ssim": "{:.4f}", "l1": "{:.2f}", "mse": "{:.5f}", "lpips": "{:.4f}", "n": "{:.0f}"}
        header = ["metric", *[str(c) for c in self.table.columns]]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for name, row in self.table.iterrows():
            cells = ["n/a" if (v is None or math.isnan(float(v))) else fmt.get(name, "{:.4g}").format(v)
                     for v in row.values]
            lines.append("| " + " | ".join([METRIC_LABELS.get(name, str(name)), *cells]) + " |")
        caption = ("" if label is None else f"{label}. ") + "Protocol: " + self.protocol.describe()
        out = "\n".join(lines) + "\n\n" + caption
        if self.notes:
            out += "\n" + "\n".join(f"Note: {n}" for n in self.notes)
        return out

    def _repr_markdown_(self) -> str:
        return self.to_markdown()


class _ImageSource:
    """Random access to images given as a tensor, an indexable Dataset (items tensors or tuples), or an iterable."""

    def __init__(self, images):
        if isinstance(images, torch.Tensor):
            check_image(images, "images")
            self._items, self._n = images, images.shape[0]
        elif hasattr(images, "__len__") and hasattr(images, "__getitem__"):
            self._items, self._n = images, len(images)
        else:
            self._items = list(images)
            self._n = len(self._items)
        if self._n == 0:
            raise ValueError("images is empty")

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: int) -> torch.Tensor:
        x = self._items[i]
        if isinstance(x, (tuple, list)):
            x = x[0]
        if isinstance(x, dict):
            x = x.get("image")
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"image {i} is a {type(x).__name__}, expected a 3 x H x W tensor")
        if x.dim() == 4 and x.shape[0] == 1:
            x = x[0]
        if x.dim() != 3:
            raise ValueError(f"image {i} must be C x H x W, got shape {tuple(x.shape)}")
        return x


def _pairs(n_images: int, n_masks: int, pairing: str) -> list[tuple[int, int]]:
    if pairing == "all":
        return [(i, j) for i in range(n_images) for j in range(n_masks)]
    return [(k % n_images, k % n_masks) for k in range(max(n_images, n_masks))]


def evaluate(
    predict: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    images: torch.Tensor | Iterable,
    masks: torch.Tensor,
    protocol: Protocol = Protocol(),
    *,
    mask_buckets: Sequence[int | str | None] | None = None,
    batch_size: int = 16,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> EvalResult:
    """Score ``predict(image, valid) -> output`` (``N x 3 x H x W``) on images x masks under ``protocol``.

    ``images``: an ``N x 3 x H x W`` tensor in [0, 1], or a Dataset / iterable of ``3 x H x W`` tensors (or tuples
    whose first item is one). ``masks``: an ``M x 1 x H x W`` ``valid`` tensor (1 = known, 0 = hole); every mask must
    have both hole and known pixels. Pairing is deterministic (``protocol.pairing``, see :class:`Protocol`).
    ``mask_buckets``: the bucket of each mask, as an index into ``protocol.buckets`` or a label; by default it is
    computed from the hole ratio. Masks that fall in no bucket stay in ``per_image`` (bucket ``None``) but not in the
    table. ``predict`` receives the image with its hole pixels set to 0 (``image * valid``, so nothing leaks from the
    ground truth) and runs under ``torch.no_grad()`` on ``device`` with batches of ``batch_size`` pairs; the metrics
    are computed on the composite ``valid * image + (1 - valid) * output`` when ``protocol.composite``.
    """
    check_valid(masks, name="masks", require_hole=True, require_known=True)
    src = _ImageSource(images)
    labels = protocol.bucket_labels
    n_masks = masks.shape[0]
    ratios = (1.0 - masks.double()).flatten(1).mean(1).tolist()
    if mask_buckets is None:
        mbuckets = [bucket_of(r, protocol.buckets, protocol.closed) for r in ratios]
        mlabels = [None if b is None else labels[b] for b in mbuckets]
    else:
        if len(mask_buckets) != n_masks:
            raise ValueError(f"mask_buckets has {len(mask_buckets)} entries for {n_masks} masks")
        mlabels = []
        for b in mask_buckets:
            if b is None or isinstance(b, str):
                if b is not None and b not in labels:
                    raise ValueError(f"bucket label {b!r} is not one of the protocol's buckets {labels}")
                mlabels.append(b)
            else:
                b = int(b)
                if not 0 <= b < len(labels):
                    raise ValueError(f"bucket index {b} out of range for {len(labels)} buckets")
                mlabels.append(labels[b])
    if any(lab is None for lab in mlabels):
        k = sum(lab is None for lab in mlabels)
        warnings.warn(f"{k} of {n_masks} masks fall in no bucket of {labels}; they are left out of the table",
                      stacklevel=2)

    notes: list[str] = []
    want = list(protocol.metrics)
    if "lpips" in want:
        ok, reason = lpips_available()
        if not ok:
            notes.append(f"LPIPS n/a: {reason}")

    pairs = _pairs(len(src), n_masks, protocol.pairing)
    rows: list[dict] = []
    it = range(0, len(pairs), batch_size)
    if progress:
        from tqdm.auto import tqdm  # noqa: PLC0415

        it = tqdm(it, desc="evaluate", unit="batch")
    for start in it:
        chunk = pairs[start : start + batch_size]
        gt = torch.stack([src[i] for i, _ in chunk]).to(device=device, dtype=torch.float32)
        valid = masks[[j for _, j in chunk]].to(device=device, dtype=torch.float32)
        check_image(gt, "images")
        if gt.shape[1] != 3:
            raise ValueError(f"images must have 3 channels, got {gt.shape[1]}")
        check_valid(valid, image=gt, name="masks")
        with torch.no_grad():
            out = predict(gt * valid, valid)
        if not isinstance(out, torch.Tensor) or out.shape != gt.shape:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(f"predict must return an N x 3 x H x W tensor like its input {tuple(gt.shape)}, got {got}")
        out = out.detach().to(device=device, dtype=torch.float32)
        if not bool(torch.isfinite(out).all()):
            raise ValueError("predict returned non-finite values (nan or inf)")
        if protocol.clamp:
            out = out.clamp(0, 1)
        else:
            check_image(out, "predict output")
        pred = valid * gt + (1 - valid) * out if protocol.composite else out
        region = None if protocol.region == "whole" else 1 - valid
        vals: dict[str, torch.Tensor | None] = {}
        if "psnr" in want:
            vals["psnr"] = psnr(pred, gt, protocol.data_range, region=region)
        if "mse" in want:
            vals["mse"] = mse(pred, gt, region=region)
        if "ssim" in want:
            vals["ssim"] = ssim(pred, gt, protocol.data_range, protocol.gray, win_size=protocol.ssim_win,
                                sigma=protocol.ssim_sigma, k1=protocol.ssim_k1, k2=protocol.ssim_k2)
        if "l1" in want:
            if protocol.l1 == "whole":
                vals["l1"] = l1_percent(pred, gt)
            elif protocol.l1 == "hole":
                vals["l1"] = l1_hole_percent(pred, gt, valid)
            else:
                vals["l1"] = l1_relative_percent(gt, pred)
        if "lpips" in want:
            vals["lpips"] = lpips_distance(pred, gt)
        for k, (i, j) in enumerate(chunk):
            row = {"image": i, "mask": j, "bucket": mlabels[j], "hole_ratio": ratios[j]}
            for m in want:
                v = vals[m]
                row[m] = float("nan") if v is None else float(v[k])
            rows.append(row)

    per_image = pd.DataFrame(rows, columns=["image", "mask", "bucket", "hole_ratio", *want])
    table = pd.DataFrame(index=[*want, "n"], columns=[*labels, "all"], dtype=float)
    in_bucket = per_image[per_image["bucket"].notna()]
    for lab in labels:
        sub = in_bucket[in_bucket["bucket"] == lab]
        for m in want:
            table.loc[m, lab] = sub[m].mean() if len(sub) else float("nan")
        table.loc["n", lab] = float(len(sub))
    for m in want:
        table.loc[m, "all"] = in_bucket[m].mean() if len(in_bucket) else float("nan")
    table.loc["n", "all"] = float(len(in_bucket))
    table.columns.name = "hole ratio"
    return EvalResult(per_image=per_image, table=table, protocol=protocol, notes=notes)
