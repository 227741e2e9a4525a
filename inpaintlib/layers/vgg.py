"""Frozen VGG16/VGG19 features at named layers: the loss network of the perceptual and style losses
(MSFEF Eqs. 3-4, DeepGIN Eqs. 4-5), with the published ImageNet weights.

The network is our own ``nn.Sequential`` laid out like torchvision's ``vgg16().features`` / ``vgg19().features``
(same state-dict keys), so the published ImageNet checkpoints load without importing torchvision. Weights come
through ``torch.hub`` (cache, then URL; ``weights_only=True``; sha256 prefix in the file name checked) or from a
local file. Nothing falls back silently: offline, callers choose ``backbone="random"``.
"""
from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import nn

__all__ = ["VGG_CONFIGS", "VGG_URLS", "IMAGENET_MEAN", "IMAGENET_STD", "WeightsUnavailableError", "vgg_layer_names",
           "VGGFeatures"]

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
#: The ImageNet channel statistics every torchvision ImageNet network normalises its input with.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_HASH_IN_NAME = re.compile(r"-([a-f0-9]{8,64})\.[A-Za-z]+$")
_VERIFIED: set[tuple[str, int, float]] = set()


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights could not be obtained (offline, missing file). Never caught silently here."""


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


# ------------------------------------------------------------------------------------------------ weights
def _sha256_prefix_ok(path: Path, prefix: str) -> bool:
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime)
    if key in _VERIFIED:
        return True
    with open(path, "rb") as f:
        ok = hashlib.file_digest(f, "sha256").hexdigest().startswith(prefix)
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
        from safetensors.torch import load_file  # noqa: PLC0415  (the package's checkpoint format)

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


# ------------------------------------------------------------------------------------------------ network
def _check_layers(arch: str, layers, backbone: str, weights) -> tuple[str, ...]:
    names = vgg_layer_names(arch)
    layers = (layers,) if isinstance(layers, str) else tuple(layers)
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
    return layers


def _vgg_features(arch: str) -> nn.Sequential:
    """``vgg16().features`` / ``vgg19().features`` with uninitialised (empty) parameters."""
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
    return nn.Sequential(*modules).to_empty(device="cpu")


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
        layers = _check_layers(arch, layers, backbone, weights)
        names = vgg_layer_names(arch)
        self.arch, self.layers, self.backbone, self.seed = arch, layers, backbone, seed
        self._index = {n: names.index(n) for n in layers}
        self._last = max(self._index.values())
        self.features = _vgg_features(arch)
        self.channels = {}
        ch = 3
        for n, m in zip(names, self.features):
            ch = m.out_channels if isinstance(m, nn.Conv2d) else ch
            if n in self._index:
                self.channels[n] = ch
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.weights_source = self._load_weights(backbone, weights, seed)
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()

    def _load_weights(self, backbone: str, weights, seed: int) -> str:
        """Set every parameter; return where the weights came from."""
        if backbone == "random":
            self.reset_random(seed)
            return f"random (seed {seed})"
        if weights is None:
            self.load_vgg_state_dict(_fetch_imagenet_state_dict(self.arch))
            return VGG_URLS[self.arch]
        self.load_vgg_state_dict(_read_state_dict(Path(weights).expanduser()))
        return str(weights)

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
