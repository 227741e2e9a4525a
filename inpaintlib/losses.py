"""Losses of the five papers: masked reconstruction, perceptual/style (VGG), total variation, adversarial.

Conventions (DESIGN.md): images are float ``N x C x H x W`` in [0, 1]; ``valid`` is ``N x 1 x H x W``,
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
* adversarial: hinge (DeepGIN Eqs. 2-3) and non-saturating (PMRFN Eqs. 13-14).

The VGG feature extractor is our own ``nn.Sequential`` laid out like torchvision's ``vgg16().features``
/ ``vgg19().features`` (same state-dict keys), so the published ImageNet checkpoints load without
importing torchvision. Nothing falls back silently: offline, callers choose ``backbone="random"``.
"""
from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ._validate import check_image, check_valid

__all__ = [
    "PCONV_WEIGHTS", "DEEPGIN_VGG_LAYER_WEIGHTS", "VGG_CONFIGS", "VGG_URLS", "IMAGENET_MEAN", "IMAGENET_STD",
    "WeightsUnavailableError", "vgg_layer_names", "VGGFeatures",
    "masked_l1", "masked_mse", "gram_matrix", "perceptual_loss", "style_loss", "total_variation",
    "hinge_d_loss", "hinge_g_loss", "nonsaturating_d_loss", "nonsaturating_g_loss", "feature_matching_loss",
    "PatchDiscriminator", "InpaintingLoss",
]

#: Loss weights of the PConv ports (REFERENCE.md: partial convolution); MSFEF Sect. 4 uses the same
#: coefficients ("the same as ... the original partial convolution paper") with MSE pixel terms.
PCONV_WEIGHTS = {"valid": 1.0, "hole": 6.0, "perceptual": 0.05, "style": 120.0, "tv": 0.1}

#: DeepGIN's VGG19 layer weights for conv1_1 .. conv5_1 (REFERENCE.md: DeepGIN's published code).
DEEPGIN_VGG_LAYER_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)

#: Conv channel counts, "M" = 2x2 max-pool (Simonyan & Zisserman 2015, Table 1, configurations D and E).
VGG_CONFIGS = {
    "vgg16": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
    "vgg19": (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
              512, 512, 512, 512, "M"),
}
#: The published torchvision ImageNet checkpoints (the hex in the file name is a sha256 prefix).
VGG_URLS = {
    "vgg16": "https://download.pytorch.org/models/vgg16-397923af.pth",
    "vgg19": "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_HASH_IN_NAME = re.compile(r"-([a-f0-9]{8,64})\.[A-Za-z]+$")
_VERIFIED: set[tuple[str, int, float]] = set()


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights could not be obtained (offline, missing file). Never caught silently here."""


# --------------------------------------------------------------------------------------------------------------
# VGG feature extractor
# --------------------------------------------------------------------------------------------------------------
def vgg_layer_names(arch: str = "vgg16") -> list[str]:
    """Names of the modules of ``vgg16().features`` / ``vgg19().features``, by index.

    ``conv{b}_{i}``, ``relu{b}_{i}`` for the i-th convolution of block b, ``pool{b}`` for its max-pool.
    """
    if arch not in VGG_CONFIGS:
        raise ValueError(f"arch must be one of {sorted(VGG_CONFIGS)}, got {arch!r}")
    names, block, conv = [], 1, 1
    for v in VGG_CONFIGS[arch]:
        if v == "M":
            names.append(f"pool{block}")
            block, conv = block + 1, 1
        else:
            names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
            conv += 1
    return names


def _sha256_prefix_ok(path: Path, prefix: str) -> bool:
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime)
    if key in _VERIFIED:
        return True
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    ok = h.hexdigest().startswith(prefix)
    if ok:
        _VERIFIED.add(key)
    return ok


def _check_hash_in_name(path: Path) -> None:
    """torch.hub's convention: ``name-<sha256 prefix>.ext`` must match the file's sha256."""
    m = _HASH_IN_NAME.search(path.name)
    if m and not _sha256_prefix_ok(path, m.group(1)):
        raise ValueError(f"{path} does not match the sha256 prefix {m.group(1)!r} in its name: the file is corrupt "
                         "or not the published checkpoint; delete it and download it again")


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise WeightsUnavailableError(f"VGG weights file {path} does not exist")
    _check_hash_in_name(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path), device="cpu")
    if path.suffix in (".pth", ".pt"):
        sd = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(sd, Mapping):
            raise ValueError(f"{path} does not hold a state dict (got {type(sd).__name__})")
        return dict(sd)
    raise ValueError(f"VGG weights must be a .pth/.pt or .safetensors file, got {path}")


def _fetch_imagenet_state_dict(arch: str) -> dict[str, torch.Tensor]:
    url = VGG_URLS[arch]
    try:
        sd = torch.hub.load_state_dict_from_url(url, map_location="cpu", progress=False, check_hash=True,
                                                weights_only=True)
    except Exception as e:  # no network, proxy, disk: all mean "unavailable", re-raised with the remedy
        raise WeightsUnavailableError(
            f"could not obtain the ImageNet {arch} weights from {url} ({type(e).__name__}: {e}). "
            "Offline runs must pass backbone=\"random\" explicitly (a seeded random VGG; perceptual/style numbers "
            "are then not those of the papers), or weights=<path to a local copy of "
            f"{url.rsplit('/', 1)[-1]} (.pth or .safetensors)>"
        ) from e
    # check_hash only runs on download: verify a cached copy too
    cached = Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]
    if cached.is_file():
        _check_hash_in_name(cached)
    return dict(sd)


class VGGFeatures(nn.Module):
    """Frozen VGG16/VGG19 features at named layers (the loss network of MSFEF Eq. 3-4, DeepGIN Eq. 4-5).

    ``arch``: ``"vgg16"`` or ``"vgg19"``. ``layers``: names from :func:`vgg_layer_names`
    (``conv1_1``, ``relu1_1``, ..., ``pool1`` .. ``pool5``); features come back as a dict in that order.
    ``backbone="imagenet"`` loads the published torchvision checkpoint through ``torch.hub``
    (cache, then URL; ``weights_only=True``; sha256 prefix checked), or the local ``.pth`` /
    ``.safetensors`` file given as ``weights`` (a full ``vgg16()`` state dict, its ``features.*``
    part, or ``vgg.features.state_dict()``). When the weights cannot be obtained it raises
    :class:`WeightsUnavailableError`; it never falls back. ``backbone="random"`` must be chosen
    explicitly: Kaiming-normal (fan-out, as torchvision initialises VGG) weights from ``seed``, zero
    biases; the global RNG is left untouched.

    Inputs are images in [0, 1], normalised inside with the ImageNet mean/std. Parameters are frozen
    (``requires_grad=False``, always in eval mode), but the features are differentiable with respect
    to the input. The forward pass stops after the deepest requested layer. The state-dict keys are
    torchvision's (``features.0.weight`` ...).
    """

    def __init__(self, arch: str = "vgg16", layers: Sequence[str] = ("pool1", "pool2", "pool3"),
                 backbone: str = "imagenet", weights: str | os.PathLike | None = None, seed: int = 0):
        super().__init__()
        names = vgg_layer_names(arch)
        if isinstance(layers, str):
            layers = (layers,)
        layers = tuple(layers)
        if not layers:
            raise ValueError("layers must name at least one VGG layer")
        unknown = [n for n in layers if n not in names]
        if unknown:
            raise ValueError(f"unknown {arch} layer(s) {unknown}; choose from {names}")
        if len(set(layers)) != len(layers):
            raise ValueError(f"layers contains duplicates: {layers}")
        if backbone not in ("imagenet", "random"):
            raise ValueError(f"backbone must be 'imagenet' or 'random', got {backbone!r}")
        if backbone == "random" and weights is not None:
            raise ValueError("backbone='random' takes no weights; pass backbone='imagenet' with weights=<file>")
        self.arch, self.layers, self.backbone, self.seed = arch, layers, backbone, seed
        self.weights_source = None
        self._index = {n: names.index(n) for n in layers}
        self._last = max(self._index.values())

        modules: list[nn.Module] = []
        in_ch = 3
        for v in VGG_CONFIGS[arch]:
            if v == "M":
                modules.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                # built on the meta device: no default init (it would cost time and consume the global RNG);
                # every parameter is then set by reset_random or by loading a checkpoint.
                # ReLU not in place, so a requested conv output is not overwritten by its ReLU.
                modules += [nn.Conv2d(in_ch, v, kernel_size=3, padding=1, device="meta"), nn.ReLU(inplace=False)]
                in_ch = v
        self.features = nn.Sequential(*modules).to_empty(device="cpu")
        self.channels = {}
        ch = 3
        for n, m in zip(names, self.features):
            ch = m.out_channels if isinstance(m, nn.Conv2d) else ch
            if n in self._index:
                self.channels[n] = ch
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

        if backbone == "random":
            self.reset_random(seed)
            self.weights_source = f"random (seed {seed})"
        else:
            if weights is None:
                sd = _fetch_imagenet_state_dict(arch)
                self.weights_source = VGG_URLS[arch]
            else:
                sd = _read_state_dict(Path(weights).expanduser())
                self.weights_source = str(weights)
            self.load_vgg_state_dict(sd)
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()

    def reset_random(self, seed: int) -> None:
        """Seeded Kaiming-normal (fan-out, ReLU) weights and zero biases."""
        gen = torch.Generator().manual_seed(int(seed))
        with torch.no_grad():
            for m in self.features:
                if isinstance(m, nn.Conv2d):
                    w = torch.empty(m.weight.shape)
                    nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu", generator=gen)
                    m.weight.copy_(w)
                    m.bias.zero_()

    def load_vgg_state_dict(self, state_dict: Mapping[str, torch.Tensor]) -> None:
        """Load a torchvision-layout VGG state dict (``features.*`` keys; ``classifier.*`` ignored)."""
        if any(k.startswith("features.") for k in state_dict):
            sd = {k[len("features."):]: v for k, v in state_dict.items() if k.startswith("features.")}
        else:
            sd = dict(state_dict)
        expected = self.features.state_dict()
        missing = sorted(set(expected) - set(sd))
        unexpected = sorted(set(sd) - set(expected))
        if missing or unexpected:
            raise ValueError(f"not a torchvision {self.arch} state dict: missing {missing[:4]}, "
                             f"unexpected {unexpected[:4]}")
        bad = [k for k in expected if tuple(sd[k].shape) != tuple(expected[k].shape)]
        if bad:
            raise ValueError(f"not a torchvision {self.arch} state dict: shape mismatch for {bad[:4]} "
                             f"(e.g. {tuple(sd[bad[0]].shape)} vs {tuple(expected[bad[0]].shape)})")
        self.features.load_state_dict({k: v.float() for k, v in sd.items()}, strict=True)

    def train(self, mode: bool = True) -> "VGGFeatures":  # noqa: D102 - frozen: always eval
        return super().train(False)

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{layer name: features}`` for the requested layers of ``image`` (N x 3 x H x W, [0, 1])."""
        if not isinstance(image, torch.Tensor) or image.dim() != 4 or image.shape[1] != 3:
            raise ValueError(f"VGGFeatures expects images of shape N x 3 x H x W in [0, 1], got "
                             f"{tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__}")
        h = (image - self.mean.to(image.dtype)) / self.std.to(image.dtype)  # ImageNet normalisation
        found = {}
        for i, m in enumerate(self.features):
            h = m(h)
            if i in self._index.values():
                found[i] = h
            if i == self._last:
                break
        return {n: found[i] for n, i in self._index.items()}

    def extra_repr(self) -> str:
        return f"arch={self.arch!r}, layers={self.layers}, weights={self.weights_source!r}"


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

    ``feats``/``feats_gt``: the dicts returned by :class:`VGGFeatures` (or lists / a single tensor).
    Eq. 3 is this for ``Y = Y_out`` plus this for ``Y = Y_comp``; :class:`InpaintingLoss` adds both.
    ``layer_weights`` default to 1 (DeepGIN uses :data:`DEEPGIN_VGG_LAYER_WEIGHTS`).
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
# Adversarial losses and discriminator
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
    :meth:`PatchDiscriminator.forward` with ``return_features=True``. L1 (mean) between them, real
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


class PatchDiscriminator(nn.Module):
    """pix2pixHD/PatchGAN discriminator (DeepGIN Sect. 3, "conditional multi-scale discriminators").

    Per scale: a 4x4 stride-2 conv to ``base`` channels, ``n_layers - 1`` more 4x4 stride-2 convs
    doubling the channels (at most 512), one 4x4 stride-1 conv doubling once more, and a 4x4
    stride-1 conv to one logit channel; padding 2 (pix2pixHD), LeakyReLU(0.2) after every conv but
    the last, spectral normalisation on every conv when ``spectral_norm`` (DeepGIN: "after each
    convolutional layer"), no other normalisation. Scale ``s`` sees the input average-pooled
    (3x3, stride 2) ``s`` times; each scale has its own weights.

    ``forward(x)`` returns the list of logit maps, finest scale first; with
    ``return_features=True`` it returns ``(logits, features)`` where ``features[s]`` lists the
    ``n_layers + 1`` intermediate activations of scale ``s`` (for :func:`feature_matching_loss`).
    """

    def __init__(self, in_channels: int, base: int = 64, n_layers: int = 3, n_scales: int = 1,
                 spectral_norm: bool = True):
        super().__init__()
        if n_layers < 1 or n_scales < 1:
            raise ValueError(f"n_layers and n_scales must be >= 1, got {n_layers}, {n_scales}")
        self.in_channels, self.n_layers, self.n_scales = in_channels, n_layers, n_scales
        self.scales = nn.ModuleList(self._one_scale(in_channels, base, n_layers, spectral_norm)
                                    for _ in range(n_scales))

    @staticmethod
    def _one_scale(in_ch: int, base: int, n_layers: int, sn: bool) -> nn.ModuleList:
        def conv(ci, co, stride):
            c = nn.Conv2d(ci, co, kernel_size=4, stride=stride, padding=2)
            return nn.utils.parametrizations.spectral_norm(c) if sn else c

        blocks = [nn.Sequential(conv(in_ch, base, 2), nn.LeakyReLU(0.2))]
        ch = base
        for _ in range(1, n_layers):
            nxt = min(ch * 2, 512)
            blocks.append(nn.Sequential(conv(ch, nxt, 2), nn.LeakyReLU(0.2)))
            ch = nxt
        nxt = min(ch * 2, 512)
        blocks.append(nn.Sequential(conv(ch, nxt, 1), nn.LeakyReLU(0.2)))
        blocks.append(nn.Sequential(conv(nxt, 1, 1)))
        return nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor, return_features: bool = False):  # noqa: D102
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"PatchDiscriminator expects N x {self.in_channels} x H x W, got {tuple(x.shape)}")
        logits, features = [], []
        for s, blocks in enumerate(self.scales):
            if s > 0:
                x = F.avg_pool2d(x, kernel_size=3, stride=2, padding=1, count_include_pad=False)
            h, feats = x, []
            for b in blocks:
                h = b(h)
                feats.append(h)
            logits.append(feats.pop())
            features.append(feats)
        return (logits, features) if return_features else logits


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
    is a weight change. ``vgg`` (a :class:`VGGFeatures`) is required when the perceptual or style
    weight is positive. ``perceptual_layer_weights`` / ``style_layer_weights`` weight the VGG layers
    (default 1 each; DeepGIN weights its perceptual layers by :data:`DEEPGIN_VGG_LAYER_WEIGHTS`).

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
            raise ValueError("perceptual/style weights > 0 need a VGG: pass vgg=VGGFeatures(...) "
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
        comp = valid * gt + (1 - valid) * out  # composite (DESIGN.md)
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
