"""LPIPS and FID: metrics that need pretrained networks, so they are optional.

:func:`lpips_available` and :func:`fid_available` say whether they can run here and, if not, why;
:func:`lpips_distance` and :func:`fid` then return ``None``. Nothing falls back silently. The Frechet distance
itself (:func:`frechet_distance`) always works.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from .._validate import check_image
from ..layers.vgg import IMAGENET_MEAN, IMAGENET_STD
from .pixel import _check_pair

__all__ = ["lpips_available", "lpips_distance", "FID_BACKENDS", "fid_available", "fid", "frechet_distance",
           "feature_statistics"]

_LPIPS_CACHE: dict[str, Any] = {}
_FID_CACHE: dict[str, Any] = {}
FID_BACKENDS = ("pytorch_fid", "torchvision")


def _short(e: BaseException) -> str:
    msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {msg[:200]}"


def _load_optional(import_package: Callable[[], Any], build: Callable[[Any], Any], package: str,
                   weights: str) -> tuple[Any, str]:
    """``(build(import_package()), "")``, or ``(None, reason)`` naming whether the package or the weights failed."""
    try:
        module = import_package()
    except (ImportError, RuntimeError, OSError) as e:  # a broken torchvision raises RuntimeError on import
        return None, f"{package} cannot be imported ({_short(e)})"
    try:
        return build(module), ""
    except Exception as e:  # e.g. weights not downloadable offline or not in the cache
        return None, f"{weights} unavailable ({_short(e)})"


# ----------------------------------------------------------------------------------------------------------------
# LPIPS
# ----------------------------------------------------------------------------------------------------------------
def _import_lpips():
    import lpips  # noqa: PLC0415  (optional dependency)

    return lpips


def _build_lpips(lpips, net: str):
    model = lpips.LPIPS(net=net, version="0.1", verbose=False).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def _load_lpips(net: str = "alex"):
    if net not in _LPIPS_CACHE:
        _LPIPS_CACHE[net] = _load_optional(_import_lpips, lambda m: _build_lpips(m, net), "the lpips package",
                                           f"LPIPS ({net}, v0.1) weights")
    return _LPIPS_CACHE[net]


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


def _import_pytorch_fid_inception():
    from pytorch_fid.inception import InceptionV3  # noqa: PLC0415  (optional dependency)

    return InceptionV3


def _import_torchvision():
    import torchvision  # noqa: PLC0415  (optional dependency)

    return torchvision


def _torchvision_inception(torchvision):
    net = torchvision.models.inception_v3(weights="IMAGENET1K_V1", aux_logits=True, transform_input=False)
    net.fc = torch.nn.Identity()
    return net.eval()


def _load_inception(backend: str):
    if backend not in FID_BACKENDS:
        raise ValueError(f"backend must be one of {FID_BACKENDS}, got {backend!r}")
    if backend not in _FID_CACHE:
        if backend == "pytorch_fid":
            _FID_CACHE[backend] = _load_optional(
                _import_pytorch_fid_inception, lambda v3: v3([v3.BLOCK_INDEX_BY_DIM[2048]]).eval(), "pytorch_fid",
                "pytorch_fid InceptionV3 (FID) weights")
        else:
            _FID_CACHE[backend] = _load_optional(_import_torchvision, _torchvision_inception, "torchvision",
                                                 "torchvision InceptionV3 ImageNet weights")
    return _FID_CACHE[backend]


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
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
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
    noisy for small sets (book/reference_implementations.md, "Metrics": not meaningful below a few thousand
    images); a warning says so below 2048.
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
