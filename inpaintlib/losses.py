"""Losses of the five papers: masked reconstruction, perceptual/style (VGG), total variation, adversarial.

Conventions (book/conventions.md): images are float ``N x C x H x W`` in [0, 1]; ``valid`` is ``N x 1 x H x W``,
1 = known, 0 = hole; the composite is ``valid * gt + (1 - valid) * out``. The network output ``out``
is not required to lie in [0, 1] (raw outputs of a generator rarely do); ``gt`` is.

Normalisation follows the papers:

* pixel losses, MSFEF Sect. 3.3 / PConv Eqs. 1-2: ``L_avail = ||M o (Y_out - Y_gt)||^2 / N_gt``,
  ``L_missing = ||(1 - M) o (Y_out - Y_gt)||^2 / N_gt`` with ``N_gt = C*H*W`` (L1: the same with
  ``||.||_1``), averaged over the batch;
* perceptual loss, MSFEF Eq. 3 (= DeepGIN Eq. 4): ``sum_l ||Phi_l(Y) - Phi_l(Y_gt)||_1 / N_Phi_l``
  for ``Y`` the output and the composite;
* style loss, MSFEF Eq. 4 (= DeepGIN Eq. 5): ``sum_l 1/(C_l C_l) ||G_l(Y) - G_l(Y_gt)||_1`` with the
  Gram matrix ``G_l = Phi_l Phi_l^T / (C_l H_l W_l)``;
* total variation, PConv Eq. 6 (restricted to the 1-pixel dilation of the hole) or DeepGIN Eq. 6
  (whole image);
* adversarial: hinge (DeepGIN Eqs. 2-3), non-saturating (PMRFN Eqs. 13-14) and WGAN-GP (Gulrajani et al. 2017, as
  DeepFill v1 uses it: the gradient penalty may be restricted to the hole);
* spatially discounted L1 (DeepFill v1): hole pixels weighted by ``gamma`` to the distance from the known region.

The networks these losses use are layers: the VGG feature extractor is
:class:`inpaintlib.layers.VGGFeatures` (``backbone="random"`` offline; nothing falls back silently) and the
discriminator :class:`inpaintlib.layers.PatchDiscriminator`.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ._validate import check_image, check_valid

__all__ = [
    "PCONV_WEIGHTS",
    "masked_l1", "masked_mse", "gram_matrix", "perceptual_loss", "style_loss", "total_variation",
    "hinge_d_loss", "hinge_g_loss", "nonsaturating_d_loss", "nonsaturating_g_loss", "feature_matching_loss",
    "wgan_d_loss", "wgan_g_loss", "gradient_penalty", "spatial_discount", "discounted_l1", "InpaintingLoss",
]

#: Loss weights of the PConv ports (book/reference_implementations.md, "Loss weights of the PConv ports"); MSFEF
#: Sect. 4 uses the same coefficients ("the same as ... the original partial convolution paper") with MSE pixel
#: terms.
PCONV_WEIGHTS = {"valid": 1.0, "hole": 6.0, "perceptual": 0.05, "style": 120.0, "tv": 0.1}


# --------------------------------------------------------------------------------------------------------------
# Pixel losses
# --------------------------------------------------------------------------------------------------------------
def _check_pair(out: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor | None) -> None:
    check_image(gt, "gt")
    if not isinstance(out, torch.Tensor) or out.shape != gt.shape:
        raise ValueError(f"out must have the shape of gt {tuple(gt.shape)}, got "
                         f"{tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__}")
    if valid is not None:
        check_valid(valid, gt)


def _masked_pixel(out, gt, valid, hole_weight, valid_weight, power):
    _check_pair(out, gt, valid)
    err = (out - gt).abs() if power == 1 else (out - gt).square()
    n_gt = out.numel()  # N * C*H*W: (1/N_gt) per image, averaged over the batch
    valid = valid.to(err.dtype)
    return {
        "valid": valid_weight * (valid * err).sum() / n_gt,  # L_valid / L_avail
        "hole": hole_weight * ((1 - valid) * err).sum() / n_gt,  # L_hole / L_missing
    }


def masked_l1(out: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor, hole_weight: float = 1.0,
              valid_weight: float = 1.0) -> dict[str, torch.Tensor]:
    """PConv's L_valid / L_hole: ``||M o (out - gt)||_1 / N_gt`` and ``||(1-M) o (out - gt)||_1 / N_gt``.

    ``N_gt = C*H*W`` (PConv Eqs. 1-2), averaged over the batch. Returns ``{"valid", "hole"}``, each
    multiplied by its weight (DeepGIN Eq. 1 uses hole 5, valid 1; the PConv ports hole 6, valid 1).
    """
    return _masked_pixel(out, gt, valid, hole_weight, valid_weight, 1)


def masked_mse(out: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor, hole_weight: float = 1.0,
               valid_weight: float = 1.0) -> dict[str, torch.Tensor]:
    """MSFEF Sect. 3.3: ``L_avail = ||M o (Y_out - Y_gt)||_2^2 / N_gt``, ``L_missing`` the same with ``1 - M``.

    ``N_gt = C*H*W``, averaged over the batch. Returns ``{"valid": w * L_avail, "hole": w * L_missing}``.
    """
    return _masked_pixel(out, gt, valid, hole_weight, valid_weight, 2)


# --------------------------------------------------------------------------------------------------------------
# Perceptual, style, total variation
# --------------------------------------------------------------------------------------------------------------
def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """``K_l Phi_l Phi_l^T`` with ``K_l = 1/(C_l H_l W_l)`` (MSFEF Eq. 4, PConv Eq. 4): N x C x C, float32 or wider."""
    if features.dim() != 4:
        raise ValueError(f"features must be N x C x H x W, got shape {tuple(features.shape)}")
    n, c, h, w = features.shape
    f = features.reshape(n, c, h * w)
    f = f.to(torch.promote_types(f.dtype, torch.float32))
    with torch.autocast(f.device.type, enabled=False):  # C*H*W sums of squares overflow float16
        return torch.bmm(f, f.transpose(1, 2)) / (c * h * w)


def _as_list(feats) -> list[torch.Tensor]:
    if isinstance(feats, torch.Tensor):
        return [feats]
    if isinstance(feats, Mapping):
        return list(feats.values())
    return list(feats)


def _layer_weights(n: int, layer_weights) -> list[float]:
    if layer_weights is None:
        return [1.0] * n
    lw = [float(w) for w in layer_weights]
    if len(lw) != n:
        raise ValueError(f"got {len(lw)} layer weights for {n} feature layers")
    return lw


def _paired(feats, feats_gt):
    a, b = _as_list(feats), _as_list(feats_gt)
    if isinstance(feats, Mapping) and isinstance(feats_gt, Mapping) and list(feats) != list(feats_gt):
        raise ValueError(f"feature layers differ: {list(feats)} vs {list(feats_gt)}")
    if len(a) != len(b):
        raise ValueError(f"got {len(a)} feature maps and {len(b)} ground-truth feature maps")
    for x, y in zip(a, b):
        if x.shape != y.shape:
            raise ValueError(f"feature shapes differ: {tuple(x.shape)} vs {tuple(y.shape)}")
    return a, b


def perceptual_loss(feats, feats_gt, layer_weights: Sequence[float] | None = None) -> torch.Tensor:
    """One sum of MSFEF Eq. 3: ``sum_l w_l ||Phi_l(Y) - Phi_l(Y_gt)||_1 / N_Phi_l`` (mean absolute difference).

    ``feats``/``feats_gt``: the dicts returned by :class:`inpaintlib.layers.VGGFeatures` (or lists / a single tensor).
    Eq. 3 is this for ``Y = Y_out`` plus this for ``Y = Y_comp``; :class:`InpaintingLoss` adds both.
    ``layer_weights`` default to 1 (DeepGIN uses
    :data:`inpaintlib.papers.deepgin.DEEPGIN_VGG_LAYER_WEIGHTS`).
    """
    a, b = _paired(feats, feats_gt)
    lw = _layer_weights(len(a), layer_weights)
    return sum(w * (x - y).abs().mean() for w, x, y in zip(lw, a, b))


def style_loss(feats, feats_gt, layer_weights: Sequence[float] | None = None) -> torch.Tensor:
    """One sum of MSFEF Eq. 4: ``sum_l w_l 1/(C_l C_l) ||G_l(Y) - G_l(Y_gt)||_1`` with :func:`gram_matrix`.

    The 1/(C_l C_l) and the average over the batch make it the mean absolute difference of the
    Gram matrices. Eq. 4 is ``L_style,out + L_style,comp``; :class:`InpaintingLoss` adds both.
    """
    a, b = _paired(feats, feats_gt)
    lw = _layer_weights(len(a), layer_weights)
    return sum(w * (gram_matrix(x) - gram_matrix(y)).abs().mean() for w, x, y in zip(lw, a, b))


def total_variation(image: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
    """Total variation (L1 of neighbour differences) of ``image`` (usually the composite).

    Without ``valid``: DeepGIN Eq. 6, the mean absolute vertical plus the mean absolute horizontal
    difference over the whole image. With ``valid``: PConv Eq. 6, only pairs of neighbours that both
    lie in P, the 1-pixel dilation of the hole region (3x3 square dilation of ``1 - valid``, our
    choice of structuring element), summed and divided by ``N = C*H*W`` per image (batch mean).
    """
    if not isinstance(image, torch.Tensor) or image.dim() != 4:
        raise ValueError(f"image must be N x C x H x W, got "
                         f"{tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__}")
    dv = (image[:, :, 1:, :] - image[:, :, :-1, :]).abs()
    dh = (image[:, :, :, 1:] - image[:, :, :, :-1]).abs()
    if valid is None:
        return dv.mean() + dh.mean()
    check_valid(valid, image)
    hole = 1 - valid.to(image.dtype)
    region = F.max_pool2d(hole, kernel_size=3, stride=1, padding=1)  # P: hole dilated by one pixel
    pv = region[:, :, 1:, :] * region[:, :, :-1, :]
    ph = region[:, :, :, 1:] * region[:, :, :, :-1]
    return ((dv * pv).sum() + (dh * ph).sum()) / image.numel()


# --------------------------------------------------------------------------------------------------------------
# Adversarial losses
# --------------------------------------------------------------------------------------------------------------
def _logit_list(x) -> list[torch.Tensor]:
    return [x] if isinstance(x, torch.Tensor) else list(x)


def hinge_d_loss(real_logits, fake_logits) -> torch.Tensor:
    """DeepGIN Eq. 3: ``sum_d E[ReLU(1 - D_d(real))] + E[ReLU(1 + D_d(fake))]``.

    Logits: a tensor or a list (one per discriminator scale, summed over scales); E = mean over
    the batch and the patch positions.
    """
    r, f = _logit_list(real_logits), _logit_list(fake_logits)
    if len(r) != len(f):
        raise ValueError(f"got {len(r)} real and {len(f)} fake logit maps")
    return sum(F.relu(1 - a).mean() + F.relu(1 + b).mean() for a, b in zip(r, f))


def hinge_g_loss(fake_logits) -> torch.Tensor:
    """DeepGIN Eq. 2: ``-sum_d E[D_d(fake)]``."""
    return sum(-f.mean() for f in _logit_list(fake_logits))


def nonsaturating_d_loss(real_logits, fake_logits) -> torch.Tensor:
    """PMRFN Eq. 13: ``-E[log D(real)] - E[log(1 - D(fake))]`` with ``D = sigmoid(logits)``.

    Computed as ``softplus(-real) + softplus(fake)`` (stable); summed over scales.
    """
    r, f = _logit_list(real_logits), _logit_list(fake_logits)
    if len(r) != len(f):
        raise ValueError(f"got {len(r)} real and {len(f)} fake logit maps")
    return sum(F.softplus(-a).mean() + F.softplus(b).mean() for a, b in zip(r, f))


def nonsaturating_g_loss(fake_logits) -> torch.Tensor:
    """PMRFN Eq. 14: ``-E[log D(fake)]`` = ``softplus(-fake)``; summed over scales."""
    return sum(F.softplus(-f).mean() for f in _logit_list(fake_logits))


def feature_matching_loss(real_features, fake_features) -> torch.Tensor:
    """pix2pixHD's discriminator feature matching (DeepGIN's published code, weight 0.01).

    ``real_features``/``fake_features``: per scale, the list of intermediate activations returned by
    :meth:`inpaintlib.layers.PatchDiscriminator.forward` with ``return_features=True``. L1 (mean) between them, real
    side detached, each layer weighted by ``4 / n_feature_layers`` and each scale by ``1 / n_scales``
    (pix2pixHD's convention).
    """
    if len(real_features) != len(fake_features):
        raise ValueError(f"got {len(real_features)} real and {len(fake_features)} fake scales")
    total = 0.0
    for rs, fs in zip(real_features, fake_features):
        for r, f in zip(rs, fs):
            total = total + (4.0 / len(fs)) / len(fake_features) * (f - r.detach()).abs().mean()
    return total



def wgan_d_loss(real_scores, fake_scores) -> torch.Tensor:
    """WGAN critic loss (Gulrajani et al. 2017, Eq. 3 without the penalty): ``E[D(fake)] - E[D(real)]``, summed over
    critics (a tensor or a list, e.g. DeepFill v1's global and local critics). Its negative is the critic's estimate
    of the Wasserstein-1 distance."""
    r, f = _logit_list(real_scores), _logit_list(fake_scores)
    if len(r) != len(f):
        raise ValueError(f"got {len(r)} real and {len(f)} fake score sets")
    return sum(b.mean() - a.mean() for a, b in zip(r, f))


def wgan_g_loss(fake_scores) -> torch.Tensor:
    """WGAN generator loss: ``-E[D(fake)]``, summed over critics."""
    return sum(-f.mean() for f in _logit_list(fake_scores))


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor, weight: torch.Tensor | None = None,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """WGAN-GP penalty (Gulrajani et al. 2017, Eq. 3): ``E[(||grad_x D(x_hat) o w||_2 - 1)^2]`` at
    ``x_hat = eps real + (1 - eps) fake``, ``eps ~ U(0, 1)`` per sample (drawn from ``generator``, or the global RNG).
    ``weight`` (``N x 1 x H x W``, e.g. the hole map ``1 - valid``) restricts the gradient norm to those pixels, as
    DeepFill v1 does (book/reference_implementations.md, "DeepFill v1: losses, critics and optimiser"); ``None`` =
    the whole image. The caller multiplies by the penalty weight (10 in both papers)."""
    if real.shape != fake.shape:
        raise ValueError(f"real {tuple(real.shape)} and fake {tuple(fake.shape)} must have the same shape")
    eps = torch.rand(real.shape[0], 1, 1, 1, generator=generator, device=real.device, dtype=real.dtype) \
        if generator is not None else torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    scores = critic(x_hat)
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    if weight is not None:
        grad = grad * weight
    norm = grad.flatten(1).square().sum(1).add(1e-12).sqrt()
    return (norm - 1).square().mean()


def spatial_discount(valid: torch.Tensor, gamma: float = 0.9) -> torch.Tensor:
    """DeepFill v1's spatially discounted weights (book/reference_implementations.md, "DeepFill v1: losses, critics
    and optimiser"): a hole pixel gets ``gamma ** (d - 1)`` with ``d`` its chessboard distance to the nearest known
    pixel (1 next to the known region), so pixels near the boundary count more; known pixels get 0. For one box
    this is DeepFill v1's ``gamma ** (distance to the box edge)``; we extend it to any hole shape (our choice). An
    all-hole mask gives weight 1 everywhere (nothing to discount from)."""
    check_valid(valid)
    reached = (valid > 0).to(valid.dtype)
    out = torch.zeros_like(valid)
    d = 0
    limit = max(valid.shape[-2:])
    while d < limit and bool((reached == 0).any()):
        d += 1
        grown = F.max_pool2d(reached, 3, stride=1, padding=1)
        out = out + (grown - reached) * gamma ** (d - 1)
        if torch.equal(grown, reached):  # all-hole images: nothing grows
            break
        reached = grown
    out = out + (reached == 0).to(valid.dtype)  # never reached (no known pixel): weight 1
    return out


def discounted_l1(out: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor, gamma: float = 0.9) -> torch.Tensor:
    """DeepFill v1's hole term: ``mean(|out - gt| * spatial_discount(valid, gamma))`` over all pixels and channels
    (the reference averages over the image, not over the hole)."""
    _check_pair(out, gt, valid)
    return ((out - gt).abs() * spatial_discount(valid, gamma)).mean()


# --------------------------------------------------------------------------------------------------------------
# Composite loss
# --------------------------------------------------------------------------------------------------------------
class InpaintingLoss(nn.Module):
    """PConv-style composite loss (PConv Eq. 7, MSFEF Eq. 5): ``total = sum_k weights[k] * terms[k]``.

    ``weights`` keys: ``valid``, ``hole`` (pixel terms, :func:`masked_l1` or :func:`masked_mse` by
    ``pixel``), ``perceptual`` (Eq. 3: output and composite), ``style`` (Eq. 4: output and
    composite), ``tv`` (:func:`total_variation` of the composite; ``tv_region="hole"`` restricts it to
    the dilated hole as in PConv, ``"image"`` uses the whole image as in DeepGIN). Missing keys count
    as 0, and a term of weight 0 is not computed and not reported, so an ablation ("No Perceptual")
    is a weight change. ``vgg`` (a :class:`inpaintlib.layers.VGGFeatures`) is required when the perceptual or style
    weight is positive. ``perceptual_layer_weights`` / ``style_layer_weights`` weight the VGG layers
    (default 1 each; DeepGIN weights its perceptual layers by
    :data:`inpaintlib.papers.deepgin.DEEPGIN_VGG_LAYER_WEIGHTS`).

    ``loss(out, gt, valid)`` returns ``(total, terms)``: ``total`` a scalar tensor to backpropagate,
    ``terms`` the *unweighted* values as detached scalar tensors, for logging (no host sync;
    ``inpaintlib.train`` accepts them as they are, ``float()`` them to print).
    """

    KEYS = ("valid", "hole", "perceptual", "style", "tv")

    def __init__(self, weights: Mapping[str, float], vgg: nn.Module | None = None, pixel: str = "l1",
                 perceptual_layer_weights: Sequence[float] | None = None,
                 style_layer_weights: Sequence[float] | None = None, tv_region: str = "hole"):
        super().__init__()
        unknown = sorted(set(weights) - set(self.KEYS))
        if unknown:
            raise ValueError(f"unknown loss weight(s) {unknown}; known: {self.KEYS}")
        w = {k: float(weights.get(k, 0.0)) for k in self.KEYS}
        negative = [k for k, v in w.items() if v < 0]
        if negative:
            raise ValueError(f"loss weights must be >= 0, got {[(k, w[k]) for k in negative]}")
        if pixel not in ("l1", "mse"):
            raise ValueError(f"pixel must be 'l1' or 'mse', got {pixel!r}")
        if tv_region not in ("hole", "image"):
            raise ValueError(f"tv_region must be 'hole' or 'image', got {tv_region!r}")
        if (w["perceptual"] > 0 or w["style"] > 0) and vgg is None:
            raise ValueError("perceptual/style weights > 0 need a VGG: pass vgg=inpaintlib.layers.VGGFeatures(...) "
                             "(offline: VGGFeatures(backbone='random')), or set those weights to 0")
        self.weights, self.pixel, self.tv_region = w, pixel, tv_region
        n_layers = len(getattr(vgg, "layers", ())) or None
        for name, lw in (("perceptual_layer_weights", perceptual_layer_weights),
                         ("style_layer_weights", style_layer_weights)):
            if lw is not None and n_layers is not None and len(lw) != n_layers:
                raise ValueError(f"{name} has {len(lw)} entries but the VGG gives {n_layers} layers")
        self.perceptual_layer_weights = None if perceptual_layer_weights is None else tuple(perceptual_layer_weights)
        self.style_layer_weights = None if style_layer_weights is None else tuple(style_layer_weights)
        self.vgg = vgg

    def forward(self, out: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor):  # noqa: D102
        _check_pair(out, gt, valid)
        w = self.weights
        valid = valid.to(out.dtype)
        comp = valid * gt + (1 - valid) * out  # composite (book/conventions.md)
        terms: dict[str, torch.Tensor] = {}
        if w["valid"] > 0 or w["hole"] > 0:
            pix = (masked_l1 if self.pixel == "l1" else masked_mse)(out, gt, valid)
            for k in ("valid", "hole"):
                if w[k] > 0:
                    terms[k] = pix[k]
        if w["perceptual"] > 0 or w["style"] > 0:
            n = out.shape[0]
            f_both = self.vgg(torch.cat([out, comp]))  # one pass for the output and the composite
            with torch.no_grad():
                f_gt = self.vgg(gt)
            f_out = {k: v[:n] for k, v in f_both.items()}
            f_comp = {k: v[n:] for k, v in f_both.items()}
            if w["perceptual"] > 0:  # Eq. 3
                lw = self.perceptual_layer_weights
                terms["perceptual"] = perceptual_loss(f_out, f_gt, lw) + perceptual_loss(f_comp, f_gt, lw)
            if w["style"] > 0:  # Eq. 4
                lw = self.style_layer_weights
                terms["style"] = style_loss(f_out, f_gt, lw) + style_loss(f_comp, f_gt, lw)
        if w["tv"] > 0:
            terms["tv"] = total_variation(comp, valid if self.tv_region == "hole" else None)
        total = sum((w[k] * v for k, v in terms.items()), out.new_zeros(()))
        return total, {k: v.detach() for k, v in terms.items()}

    def extra_repr(self) -> str:
        return f"weights={self.weights}, pixel={self.pixel!r}, tv_region={self.tv_region!r}"
