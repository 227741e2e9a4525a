"""Inpaint your own image: read a mask file in a stated convention, pair it with the image, run a trained network
(rebuilt from its checkpoint's sidecar) or a classical method at any size, and keep every known pixel exactly.

The pieces, in the order the command ``python -m inpaintlib.inpaint`` uses them:

* :func:`load_mask` / :func:`as_valid` - a mask file or array in *another codebase's* convention -> this library's
  ``valid`` map (``N x 1 x H x W``, exactly 0/1, 1 = known, 0 = hole). The convention is a required argument,
  never guessed: ``"255=hole"`` (white marks what to fill, as in DeepFill's and LaMa's mask files) or
  ``"255=known"`` (white marks the pixels to keep, as in this library's fixed mask test sets). The number names
  the bright level of an 8-bit file; 0/1 and 16-bit 0/65535 data follow the same polarity (``"1=hole"``,
  ``"white=hole"`` ... are accepted aliases). A mask whose hole covers more than ``max_hole_ratio`` (60 %) of the
  image warns with :class:`MaskConventionWarning`, naming the other convention (a warning, not an error, in the
  library, where a large hole can be intended; the command refuses it unless ``--allow-large-hole``).
* :func:`align_pair` refuses an image and a mask of different sizes (unless asked to resize the mask);
  :func:`transform_pair` crops and resizes both with one box and one filter, so they cannot drift apart.
* :func:`pad_to_multiple` / :func:`crop_padding` reflect-pad image *and* mask to the network's size multiple.
* :func:`load_model` rebuilds the network named by a checkpoint's sidecar; :func:`inpaint` goes from (model or
  method, image, valid) to the composite ``valid * image + (1 - valid) * output`` at the input's size.
"""
from __future__ import annotations

import math
import os
import warnings
import weakref
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import classical
from ._validate import VALID_CONVENTION, NonFiniteError, check_image, check_valid, nonfinite_message
from .masks.reading import (CONVENTIONS, DEFAULT_MAX_HOLE_RATIO, bright_is_hole, bright_map, check_max_hole_ratio,
                            inverted_message, other_convention, read_mask_values)

__all__ = ["CONVENTIONS", "DEFAULT_MAX_HOLE_RATIO", "METHODS", "MaskConventionWarning", "align_pair", "as_valid",
           "crop_padding", "hole_ratio_message", "inpaint", "load_mask", "load_model", "model_geometry",
           "pad_to_multiple", "plan_resize", "transform_pair", "work_shape"]

class MaskConventionWarning(UserWarning):
    """The mask read under the stated convention looks inverted (most of the image would be a hole)."""


# ------------------------------------------------------------------------------------------- mask conventions
# The reading rules (value range, alpha channel, polarity check and its message) live in inpaintlib.masks.reading,
# shared with the Liu irregular-mask loader.
def hole_ratio_message(valid: torch.Tensor, convention: str, max_hole_ratio: float = DEFAULT_MAX_HOLE_RATIO,
                       where: str = "the mask") -> str | None:
    """A message naming the likely mix-up when more than ``max_hole_ratio`` of ``valid`` is hole, else ``None``."""
    max_hole_ratio = check_max_hole_ratio(max_hole_ratio)
    return inverted_message(1.0 - float(valid.double().mean()), read_with=f"convention={convention!r}",
                            flipped=f"convention={other_convention(convention)!r}", where=where,
                            max_hole_ratio=max_hole_ratio,
                            accept="If the hole really is that large, pass max_hole_ratio=None (--allow-large-hole "
                                   "on the command line)")


def _finish(bright: np.ndarray, convention: str, where: str, max_hole_ratio: float | None) -> torch.Tensor:
    valid = torch.from_numpy(np.ascontiguousarray(~bright if bright_is_hole(convention) else bright))
    valid = valid.to(torch.float32)
    if max_hole_ratio is not None:
        msg = hole_ratio_message(valid, convention, max_hole_ratio, where)
        if msg:
            warnings.warn(msg, MaskConventionWarning, stacklevel=3)
    return valid


def load_mask(path: str | os.PathLike, convention: str, *, threshold: float | None = None,
              max_hole_ratio: float | None = DEFAULT_MAX_HOLE_RATIO) -> torch.Tensor:
    """A mask file -> ``1 x 1 x H x W`` float32 valid map (1 = known, 0 = hole).

    ``convention`` is required (``"255=hole"`` or ``"255=known"``, see the module docstring). Files: 1-bit, 8-bit
    and 16-bit grey PNGs; RGB (and opaque RGBA / palette) files are read as grey when their three channels are
    equal at every pixel and refused otherwise; a transparent alpha channel is refused (we never read a mask from
    transparency). The values must be exactly two levels, 0 and 255 (or 0 and 1, or 0 and 65535), else
    ``ValueError``; ``threshold=t`` instead binarises at ``t`` times the full scale. When the hole exceeds
    ``max_hole_ratio`` (a fraction in (0, 1)) of the image a :class:`MaskConventionWarning` names the other
    convention (``None`` = no check). These rules are :mod:`inpaintlib.masks.reading`'s, shared with
    :func:`inpaintlib.masks.load_liu_irregular_masks`.
    """
    bright_is_hole(convention)  # an unknown convention or a bad max_hole_ratio fails before the file is read
    check_max_hole_ratio(max_hole_ratio)
    path = Path(path)
    bright = bright_map(read_mask_values(path), f"mask file {path}", threshold)
    return _finish(bright, convention, f"mask file {path}", max_hole_ratio)[None, None]


def as_valid(array, convention: str, *, threshold: float | None = None,
             max_hole_ratio: float | None = DEFAULT_MAX_HOLE_RATIO) -> torch.Tensor:
    """A mask array in another convention (numpy or torch; ``H x W``, ``N x H x W`` or ``N x 1 x H x W``; 0/255,
    0/1, 0/65535 or boolean) -> ``N x 1 x H x W`` float32 valid map, by the same rules as :func:`load_mask`."""
    bright_is_hole(convention)
    check_max_hole_ratio(max_hole_ratio)
    a = array.detach().cpu().numpy() if isinstance(array, torch.Tensor) else np.asarray(array)
    if a.ndim == 4 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim not in (2, 3) or a.size == 0:
        raise ValueError(f"as_valid expects a mask of shape H x W, N x H x W or N x 1 x H x W, got {a.shape}")
    bright = bright_map(a, "the mask", threshold)
    valid = _finish(bright, convention, "the mask", max_hole_ratio)
    return valid[None, None] if a.ndim == 2 else valid[:, None]


def _explained_valid(valid, name: str = "valid") -> torch.Tensor:
    """``check_valid`` with a precise message for the usual mistakes: a 0/255 file mask or a boolean mask passed
    where a 0/1 valid map is expected."""
    if isinstance(valid, np.ndarray):
        valid = torch.from_numpy(np.ascontiguousarray(valid))
    if isinstance(valid, torch.Tensor) and valid.numel():
        how = ("inpaintlib.inference.as_valid(mask, convention='255=hole') if 255 marks the hole, or "
               "convention='255=known' if 255 marks the known pixels")
        if valid.dtype == torch.bool:
            raise ValueError(f"{name} is a boolean mask; expected {VALID_CONVENTION}. Convert it with "
                             + how.replace("255", "1"))
        levels = torch.unique(valid.float())
        if levels.numel() <= 2 and float(levels.max()) == 255 and float(levels.min()) in (0, 255):
            raise ValueError(f"{name} has values 0/255, the levels of an 8-bit mask file, where a 0/1 valid map is "
                             f"expected ({VALID_CONVENTION}); convert it with {how}")
        if valid.dim() == 2:
            valid = valid[None, None]
        elif valid.dim() == 3:
            valid = valid[None]
    return check_valid(valid, name=name)


# --------------------------------------------------------------------------------------- pairing and transforms
def align_pair(image: torch.Tensor, valid, *, resize_mask: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """``(image, valid)`` as ``N x C x H x W`` and ``N x 1 x H x W`` (``C x H x W`` / ``H x W`` get a batch axis),
    checked. Different sizes are refused by name unless ``resize_mask`` (then the mask is resampled as in
    :func:`transform_pair`, holes winning at the edges; a different aspect ratio warns)."""
    if isinstance(image, torch.Tensor) and image.dim() == 3:
        image = image[None]
    check_image(image)
    valid = _explained_valid(valid)
    ih, iw = image.shape[-2:]
    mh, mw = valid.shape[-2:]
    if (ih, iw) != (mh, mw):
        if not resize_mask:
            raise ValueError(f"the image is {ih}x{iw} (height x width) but the mask is {mh}x{mw}: they must be the "
                             "same size, or the hole would not line up with the image; pass resize_mask=True "
                             "(--resize-mask) to resize the mask to the image")
        if abs(math.log((ih / iw) / (mh / mw))) > 0.02:
            warnings.warn(f"resizing a {mh}x{mw} mask to a {ih}x{iw} image changes its aspect ratio; check that "
                          "they belong together", UserWarning, stacklevel=2)
        valid = _resize_valid(valid, (ih, iw))
    return image, check_valid(valid.to(image.dtype), image)


def _mode(src: tuple[int, int], dst: tuple[int, int]) -> str:
    return "area" if dst[0] <= src[0] and dst[1] <= src[1] else "bilinear"


def _resample(x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    mode = _mode(tuple(x.shape[-2:]), hw)
    if mode == "area":
        return F.interpolate(x, size=hw, mode="area")
    return F.interpolate(x, size=hw, mode="bilinear", align_corners=False, antialias=True)


def _resize_image(image: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    return image if tuple(image.shape[-2:]) == tuple(hw) else _resample(image, hw).clamp(0, 1)


def _resize_valid(valid: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """The image's filter applied to the mask, re-binarised so that a pixel is known only when every input pixel
    the filter draws on is known: a thin hole never vanishes, hole content never becomes "known"."""
    if tuple(valid.shape[-2:]) == tuple(hw):
        return valid
    return (_resample(valid.float(), hw) > 1 - 1e-4).to(valid.dtype)


def plan_resize(h: int, w: int, *, size: int | None = None, max_side: int | None = None):
    """``(box, out_hw)`` for :func:`transform_pair`: ``size=N`` takes the central square (side ``min(h, w)``) and
    resizes it to ``N x N`` (the square input the papers use); ``max_side=N`` shrinks (never enlarges) so the
    longer side is at most ``N``, keeping the aspect ratio. Neither: ``(None, None)``."""
    if size is not None and max_side is not None:
        raise ValueError("give size or max_side, not both")
    for name, v in (("size", size), ("max_side", max_side)):
        if v is not None and (int(v) != v or v < 1):
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if size is not None:
        m = min(h, w)
        return ((h - m) // 2, (w - m) // 2, m, m), (int(size), int(size))
    if max_side is not None and max(h, w) > max_side:
        s = max_side / max(h, w)
        return None, (max(1, round(h * s)), max(1, round(w * s)))
    return None, None


def transform_pair(image: torch.Tensor, valid: torch.Tensor, *, box: tuple[int, int, int, int] | None = None,
                   size: tuple[int, int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Crop ``box = (top, left, height, width)`` out of image and mask, then resize both to ``size = (H, W)``, with
    the same filter (area when shrinking, bilinear otherwise). The mask is re-binarised with holes winning: a
    pixel is known only if every source pixel the filter draws on is known. (Plain nearest neighbour can drop a
    thin hole, or keep the edge of the object to remove as "known"; this rule cannot, at the price of holes at most
    a pixel wider.) Refuses an image and mask of different sizes (:func:`align_pair`)."""
    image, valid = align_pair(image, valid)
    if box is not None:
        top, left, bh, bw = (int(v) for v in box)
        h, w = image.shape[-2:]
        if top < 0 or left < 0 or bh < 1 or bw < 1 or top + bh > h or left + bw > w:
            raise ValueError(f"crop box (top={top}, left={left}, height={bh}, width={bw}) is not inside the "
                             f"{h}x{w} image")
        image, valid = image[..., top:top + bh, left:left + bw], valid[..., top:top + bh, left:left + bw]
    if size is not None:
        hw = _check_hw(size)
        image, valid = _resize_image(image, hw), _resize_valid(valid, hw)
    return image, valid


def _check_hw(size) -> tuple[int, int]:
    """``size`` as ``(H, W)`` if it is a pair of positive integers; else a ``ValueError``."""
    try:
        h, w = size
    except (TypeError, ValueError):
        raise ValueError(f"size must be a pair (height, width) of positive integers, got {size!r}") from None
    if any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1 for v in (h, w)):
        raise ValueError(f"size must be a pair (height, width) of positive integers, got {size!r} (an empty image "
                         "has nothing to inpaint)")
    return int(h), int(w)


# --------------------------------------------------------------------------------------------------- padding
def _reflect_1d(x: torch.Tensor, before: int, after: int, dim: int) -> torch.Tensor:
    """Reflect-pad one spatial axis (``dim`` -2 or -1), repeating the reflection when the pad exceeds the side."""
    while before or after:
        n = x.shape[dim]
        if n == 1:
            return F.pad(x, (0, 0, before, after) if dim == -2 else (before, after, 0, 0), mode="replicate")
        b, a = min(before, n - 1), min(after, n - 1)
        x = F.pad(x, (0, 0, b, a) if dim == -2 else (b, a, 0, 0), mode="reflect")
        before, after = before - b, after - a
    return x


def pad_to_multiple(image: torch.Tensor, valid: torch.Tensor, multiple: int):
    """Pad ``image`` and ``valid`` to sides that are multiples of ``multiple``; return ``(image, valid, pads)``
    with ``pads = (top, bottom, left, right)`` for :func:`crop_padding`. The padding is split evenly between
    opposite sides.

    Image and mask are reflected *together*, so a padded pixel is known exactly when the pixel it mirrors is known.
    The alternatives are worse: padding the mask as known with a reflected image would copy the content under a
    hole that touches the border into "known" context (the object to remove leaks back in); padding it as hole
    adds a hole band up to ``multiple - 1`` pixels wide (255 px for the paper's depth-8 MSFEF) that the network
    must fill, raising the hole ratio beyond what it was trained on and feeding invented content into the real
    border pixels. Mirroring invents no known value and no hole; its one cost, mirrored context at the border, is
    what reflect padding inside a CNN gives anyway. The padded output is cropped away and the composite restores
    every known pixel.
    """
    if int(multiple) != multiple or multiple < 1:
        raise ValueError(f"multiple must be a positive integer, got {multiple!r}")
    h, w = image.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    pads = (ph // 2, ph - ph // 2, pw // 2, pw - pw // 2)
    out = []
    for x in (image, valid):
        x = _reflect_1d(x, pads[0], pads[1], -2)
        out.append(_reflect_1d(x, pads[2], pads[3], -1))
    return out[0], out[1], pads


def crop_padding(x: torch.Tensor, pads: tuple[int, int, int, int]) -> torch.Tensor:
    """Undo :func:`pad_to_multiple` on a network output."""
    top, bottom, left, right = pads
    return x[..., top:x.shape[-2] - bottom, left:x.shape[-1] - right]


# ----------------------------------------------------------------------------------------------------- models
def _paper_and_config(meta: dict, path: Path) -> tuple[str, dict]:
    names = {meta[k] for k in ("paper", "chapter") if meta.get(k)}
    if not names:
        raise ValueError(f"the sidecar of {path} names no paper (neither 'paper' nor 'chapter' is set), so the "
                         "network cannot be rebuilt; it must record e.g. \"paper\": \"msfef\" and the \"config\"")
    if len(names) > 1:
        raise ValueError(f"the sidecar of {path} names two papers: paper={meta['paper']!r}, chapter={meta['chapter']!r}")
    config = meta.get("config")
    if not isinstance(config, dict):
        raise ValueError(f"the sidecar of {path} has no network 'config' (a JSON object), got {config!r}")
    return names.pop(), config


def load_model(checkpoint: str | os.PathLike, *, device: str | torch.device = "cpu") -> nn.Module:
    """The network of ``checkpoint`` (``*.safetensors``), rebuilt from its sidecar alone - paper name (``paper``,
    or ``chapter`` in sidecars written before the registry) and ``config`` - with the weights loaded (strictly,
    after the hash check) and in eval mode. Reads only the checkpoint (and its sidecar); creates nothing; the path is resolved
    once, so the working directory does not matter afterwards."""
    from .registry import paper_model
    from .weights import load_checkpoint, read_sidecar

    path = Path(checkpoint).expanduser().resolve()
    if path.suffix != ".safetensors":
        raise ValueError(f"a checkpoint path must end in .safetensors (its sidecar is the .json beside it), got {path}")
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    meta = read_sidecar(path)  # embedded in the file (format 2) or, for older checkpoints, the sidecar
    if meta.get("kind") == "training_state":
        raise ValueError(f"{path} is a training-state checkpoint (optimiser, RNG and model under 'model.*'), not a "
                         "model: pass the model.safetensors that train() writes beside it")
    name, config = _paper_and_config(meta, path)
    try:
        spec = paper_model(name)
    except ValueError as e:
        raise ValueError(f"checkpoint {path}: {e}") from None
    meta_model = meta.get("model")
    if meta_model and meta_model != spec.network_cls.__name__:
        raise ValueError(f"checkpoint {path} is a {meta_model!r}, but paper {name!r} builds {spec.network_cls.__name__}")
    model = spec.network_cls(spec.config_from_dict(config))
    tensors, _ = load_checkpoint(path)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as e:
        raise ValueError(f"checkpoint {path}: its tensors do not fit the {spec.network_cls.__name__} built from "
                         f"its sidecar's config: {e}") from None
    _CHECKPOINT_OF[model] = path  # named by inpaint() if the network's output is not finite
    return model.to(device).eval()


#: network -> the checkpoint :func:`load_model` built it from
_CHECKPOINT_OF: "weakref.WeakKeyDictionary[nn.Module, Path]" = weakref.WeakKeyDictionary()


def model_geometry(model: nn.Module) -> tuple[int, int | None]:
    """``(size multiple, training size)`` of a registered paper's network (found from the package its class lives
    in, ``inpaintlib.papers.<name>``); ``(1, None)`` for any other module."""
    from .registry import paper_model

    prefix, _, rest = type(model).__module__.partition(".papers.")
    if prefix != "inpaintlib" or not rest:
        return 1, None
    try:
        spec = paper_model(rest.split(".")[0])
    except ValueError:
        return 1, None
    if isinstance(model, spec.network_cls):
        return int(spec.size_multiple(model.config)), getattr(model.config, "image_size", None)
    return 1, None


# ---------------------------------------------------------------------------------------------------- inpaint
def _exemplar(image, valid):
    return classical.exemplar_inpaint(image, valid, record_every=0).output


#: Classical methods by name (run at the image's native size unless a work size is given).
METHODS: dict[str, Callable] = {"mean_fill": classical.mean_fill, "biharmonic": classical.biharmonic,
                                "exemplar": _exemplar}


def work_shape(hw: tuple[int, int], work_size, train_size: int | None) -> tuple[int, int]:
    """The size a method runs at: ``"native"`` = ``hw``; ``"train"`` = longer side resized to ``train_size``
    (the model's training size, from its config); an int ``N`` = longer side resized to ``N`` (aspect kept)."""
    if work_size == "native" or (work_size == "train" and train_size is None):
        return tuple(hw)
    side = train_size if work_size == "train" else work_size
    if isinstance(side, bool) or not isinstance(side, int) or side < 1:
        raise ValueError(f"work_size must be 'train', 'native' or a positive integer, got {work_size!r}")
    s = side / max(hw)
    return max(1, round(hw[0] * s)), max(1, round(hw[1] * s))


def _resolve(model_or_method):
    """``(fn(image, valid) -> output, size multiple, training size, module or None)``."""
    if isinstance(model_or_method, (str, os.PathLike)) and str(model_or_method).endswith(".safetensors"):
        model_or_method = load_model(model_or_method)
    if isinstance(model_or_method, nn.Module):
        multiple, train_size = model_geometry(model_or_method)
        return model_or_method, multiple, train_size, model_or_method
    if isinstance(model_or_method, str):
        if model_or_method not in METHODS:
            raise ValueError(f"unknown method {model_or_method!r}; choose from {sorted(METHODS)}, pass a model, or "
                             "a checkpoint path ending in .safetensors")
        return METHODS[model_or_method], 1, None, None
    if callable(model_or_method):
        return model_or_method, 1, None, None
    raise ValueError(f"expected a model, a method name {sorted(METHODS)}, a checkpoint path or a callable "
                     f"fn(image, valid) -> output; got {type(model_or_method).__name__}")


def _run(fn, image: torch.Tensor, valid: torch.Tensor, hw: tuple[int, int], multiple: int, device) -> torch.Tensor:
    """Output at the image's size: resize to ``hw`` (holes winning), pad, run, crop, composite at the work size,
    resize back."""
    x, v = transform_pair(image * valid, valid, size=hw)
    try:
        check_valid(v, x, require_known=True)
    except ValueError:
        raise ValueError(f"at the work size {hw[0]}x{hw[1]} no known pixel is left in the mask; use a larger work "
                         "size (work_size='native' / --work-size native)") from None
    xp, vp, pads = pad_to_multiple(x, v, multiple)
    out = fn(xp.to(device), vp.to(device))
    if not isinstance(out, torch.Tensor) or out.shape != xp.shape:
        got = (f"a tensor of shape {tuple(out.shape)}" if isinstance(out, torch.Tensor) else
               f"a {type(out).__module__}.{type(out).__name__}" + (f" of shape {out.shape}" if hasattr(out, "shape")
                                                                 else ""))
        hint = " (convert a numpy result with torch.from_numpy(out))" if isinstance(out, np.ndarray) else ""
        raise ValueError(f"fn(image, valid) returned {got}; it must return a torch.Tensor of its input image's shape "
                         f"{tuple(xp.shape)} (N x C x H x W, the image with the hole filled){hint}")
    if not bool(torch.isfinite(out).all()):
        raise NonFiniteError(nonfinite_message(out, "its output"))
    out = crop_padding(out.to(image.device, image.dtype), pads).clamp(0, 1)
    out = torch.where(v.bool(), x, out)
    return _resize_image(out, tuple(image.shape[-2:]))


def _nonfinite_explained(model_or_method, module: nn.Module | None, error: Exception) -> str:
    """The message for a method whose output (or a layer's input inside the network) is not finite."""
    if module is None:
        who = f"method {model_or_method!r}" if isinstance(model_or_method, str) else \
            f"the callable {getattr(model_or_method, '__qualname__', type(model_or_method).__name__)}"
        return f"{who} produced NaN/Inf instead of an image: {error}; no composite was made"
    path = _CHECKPOINT_OF.get(module)
    if path is None and isinstance(model_or_method, (str, os.PathLike)):
        path = model_or_method
    who = f"the network of checkpoint {path}" if path is not None else f"the network {type(module).__name__}"
    state = module.state_dict()
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        why = (f"{len(bad)} of its {len(state)} weight tensors hold NaN/Inf (e.g. {bad[:3]}): the "
               f"{'checkpoint' if path is not None else 'network'} is broken (saved from a training run that "
               "diverged?); use another checkpoint or retrain")
    else:
        why = "its weights are finite, so a layer overflowed on this input; try another work size or float32"
    return f"{who} produced NaN/Inf instead of an image ({error}); no composite was made. {why}"


def inpaint(model_or_method, image: torch.Tensor, valid, *, work_size: str | int | None = None,
            resize_mask: bool = False, return_output: bool = False):
    """Inpaint ``image`` (``C x H x W`` or ``N x C x H x W``, [0, 1], any size) where ``valid`` is 0; return the
    composite ``valid * image + (1 - valid) * output`` with the input's shape (every known pixel bit-exact), and
    with ``return_output`` also the output at the image's size (when the work size differs, the composite made at
    the work size and resized back: the same as the composite inside the hole).

    ``model_or_method``: a network (``nn.Module``, e.g. from :func:`load_model`), a checkpoint path, a name in
    :data:`METHODS`, or any ``fn(image, valid) -> output``. ``work_size`` is the resolution the method runs at:
    ``"train"`` (default for registered networks: longer side = the ``image_size`` it was trained at, the scale of
    the holes it learned; the output is upsampled, so a ci checkpoint trained at 32 px yields a 32 px guess inside
    the hole), ``"native"`` (default for classical methods and other callables: the image's own size), or an int
    (longer side). Networks are padded to their size multiple (:func:`pad_to_multiple`) and run in eval mode
    without gradients, on their own device; the training flag is restored afterwards. An output holding NaN or Inf
    is refused (:class:`~inpaintlib._validate.NonFiniteError`, a ``ValueError``, naming the checkpoint when the
    network came from one and how many of its weight tensors are not finite) instead of being clamped into a
    black fill.
    """
    fn, multiple, train_size, module = _resolve(model_or_method)
    squeeze = isinstance(image, torch.Tensor) and image.dim() == 3
    image, valid = align_pair(image, valid, resize_mask=resize_mask)
    check_valid(valid, image, require_hole=True, require_known=True)
    valid = valid.expand(image.shape[0], 1, *image.shape[-2:])
    hw = work_shape(tuple(image.shape[-2:]), ("train" if train_size else "native") if work_size is None else work_size,
                    train_size)
    device = next(module.parameters(), torch.empty(0)).device if module is not None else image.device
    was_training = module is not None and module.training
    if module is not None:
        module.eval()
    try:
        with torch.no_grad():
            out = _run(fn, image, valid, hw, multiple, device)
    except NonFiniteError as e:
        raise NonFiniteError(_nonfinite_explained(model_or_method, module, e)) from None
    finally:
        if module is not None:
            module.train(was_training)
    comp = torch.where(valid.bool(), image, out)
    if squeeze:
        comp, out = comp[0], out[0]
    return (comp, out) if return_output else comp
