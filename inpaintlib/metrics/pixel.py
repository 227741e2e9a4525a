"""Pixel metrics and SSIM: per-image vectors from two ``N x C x H x W`` tensors in ``[0, 1]``.

* PSNR = ``10 log10(R^2 / MSE)`` with the data range ``R`` given explicitly (1 for our images);
* SSIM follows Wang et al. 2004 exactly as scikit-image's ``structural_similarity(..., gaussian_weights=True,
  sigma=1.5, use_sample_covariance=False, data_range=1)``: 11 x 11 Gaussian window (sigma 1.5), K1 = 0.01,
  K2 = 0.03, population (not sample) covariances, the SSIM map averaged over the positions where the whole window
  lies inside the image ("valid" border handling: scikit-image filters with reflection and then crops the 5-pixel
  border, so the reflected values never reach the mean), computed per channel and averaged over channels;
* "L1 (%)" is a mean absolute error in [0, 1] times 100 -- over the whole image (:func:`l1_percent`), over the hole
  only (:func:`l1_hole_percent`) or relative to the ground truth's magnitude (:func:`l1_relative_percent`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .._validate import check_image, check_valid

__all__ = ["BT601_LUMA", "to_luma", "mse", "psnr", "l1_percent", "l1_hole_percent", "l1_relative_percent", "ssim"]

#: ITU-R BT.601 luma weights (the weights of MATLAB's rgb2gray, which much inpainting evaluation code uses).
BT601_LUMA = (0.299, 0.587, 0.114)


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
    w = torch.tensor(BT601_LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
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

    The first argument is the ground truth (the denominator). It is undefined where the ground truth is all black
    (over ``region``): such an image raises ``ValueError`` naming it, rather than returning ``inf`` or ``nan``.
    """
    _check_pair(gt, pred)
    region = _check_region(region, gt)
    w = torch.ones_like(gt, dtype=torch.float64) if region is None else region.double().expand_as(gt)
    num = ((gt.double() - pred.double()).abs() * w).flatten(1).sum(1)
    den = (gt.double() * w).flatten(1).sum(1)
    black = torch.nonzero(den == 0).flatten().tolist()
    if black:
        raise ValueError(f"relative L1 divides by the sum of the ground truth, which is 0 (all black"
                         f"{' in the region' if region is not None else ''}) for image(s) {black[:10]} of the batch: "
                         "it is undefined there; use l1_percent (mean absolute error) for such images")
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
    use_sample_covariance=False, data_range=1, channel_axis=...)`` (book/reference_implementations.md, "Metrics").
    With ``gray=True`` a 3-channel image is first converted to BT.601 luma (:func:`to_luma`). Computed in float64
    except on MPS.
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

