"""Input validation shared by every public entry point.

One convention for the whole library (book/conventions.md, "Masks"): a mask is a ``valid`` map,
``N x 1 x H x W``, floating point, values exactly 0 or 1, **1 = known pixel, 0 = hole**.
"""
from __future__ import annotations

from collections import Counter
from typing import Sequence

import torch

VALID_CONVENTION = "a `valid` mask: float tensor of shape N x 1 x H x W with values exactly 0 or 1 (1 = known pixel, 0 = hole)"


class NonFiniteError(ValueError):
    """NaN or Inf where finite values are required: in a layer's input (an earlier layer, or its weights, produced
    them) or in a network's output. A ``ValueError``, so that callers catching bad input see it too."""


def nonfinite_message(x: torch.Tensor, what: str) -> str:
    """``what`` holds k NaN/Inf values of n (e.g. ...): the text of a :class:`NonFiniteError` (only on failure)."""
    bad = ~torch.isfinite(x.detach())
    k = int(bad.sum())
    example = float(x.detach()[bad][0]) if k else float("nan")
    return f"{what} holds {k} NaN/Inf values of {x.numel()} (e.g. {example})"


def check_image(image: torch.Tensor, name: str = "image") -> torch.Tensor:
    """Check that ``image`` is a float ``N x C x H x W`` tensor in [0, 1]; return it unchanged."""
    if not isinstance(image, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape N x C x H x W in [0, 1], got {type(image).__name__}")
    if image.dim() != 4:
        raise ValueError(f"{name} must have shape N x C x H x W (4 dimensions), got shape {tuple(image.shape)}")
    if image.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(image.shape)})")
    if not image.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor with values in [0, 1], got dtype {image.dtype}")
    finite = torch.isfinite(image)
    if not bool(finite.all()):
        bad = image[~finite]
        raise ValueError(f"{name} contains {bad.numel()} non-finite values (NaN or Inf, e.g. {float(bad[0])}); "
                         "expected finite values in [0, 1] - check how the image was read or computed")
    lo, hi = float(image.min()), float(image.max())
    if lo < -1e-6 or hi > 1 + 1e-6:
        raise ValueError(f"{name} values must lie in [0, 1], got range [{lo:.4g}, {hi:.4g}] (convert 0..255 images with x / 255)")
    return image


def check_valid(
    valid: torch.Tensor,
    image: torch.Tensor | None = None,
    *,
    name: str = "valid",
    require_hole: bool = False,
    require_known: bool = False,
    check_binary: bool = True,
) -> torch.Tensor:
    """Check a ``valid`` mask and return it unchanged.

    Raises ``ValueError`` naming the problem and the expected form when the mask has the
    wrong type, shape or dtype, is empty, is not binary, or does not match ``image`` in batch
    size or spatial size. With ``require_hole`` every mask in the batch must contain at least
    one hole pixel (an "empty" mask has nothing to inpaint); with ``require_known`` every mask
    must keep at least one known pixel (an all-hole mask leaves nothing to condition on). ``check_binary=False``
    leaves the value test to the caller (``PartialConv2d`` folds it into its own pass over the mask).
    """
    if not isinstance(valid, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, {VALID_CONVENTION}; got {type(valid).__name__}")
    if valid.dim() != 4 or valid.shape[1] != 1:
        raise ValueError(f"{name} must be {VALID_CONVENTION}; got shape {tuple(valid.shape)}")
    if valid.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(valid.shape)}); expected {VALID_CONVENTION}")
    if not valid.is_floating_point():
        raise ValueError(
            f"{name} must be {VALID_CONVENTION}; got dtype {valid.dtype} (use valid.float())"
        )
    # v * v == v holds for 0, 1 and +inf only, and v <= 1 then rules out +inf (NaN fails both): two cheap passes,
    # several times faster than (v == 0) | (v == 1) on small maps; the slow test only builds the message.
    if check_binary and not (torch.equal(valid * valid, valid) and bool(valid.amax() <= 1)):
        binary = (valid == 0) | (valid == 1)
        bad = valid[~binary]
        raise ValueError(
            f"{name} must be binary (exactly 0 or 1), found {bad.numel()} other values such as {float(bad[0]):.4g}; "
            "masks resized with bilinear interpolation get soft edges: resize with nearest neighbour "
            f"and re-binarise. Expected {VALID_CONVENTION}"
        )
    if image is not None:
        if not isinstance(image, torch.Tensor):
            raise ValueError(f"the image checked with {name} must be a torch.Tensor of shape N x C x H x W, got "
                             f"{type(image).__name__} (convert numpy arrays with torch.from_numpy)")
        if image.dim() != 4:
            raise ValueError(f"image must have shape N x C x H x W, got {tuple(image.shape)}")
        if valid.shape[-2:] != image.shape[-2:]:
            raise ValueError(
                f"{name} has spatial size {tuple(valid.shape[-2:])} but the image has {tuple(image.shape[-2:])}; "
                "they must match"
            )
        if valid.shape[0] not in (1, image.shape[0]):
            raise ValueError(f"{name} has batch size {valid.shape[0]} but the image has {image.shape[0]}")
    if require_hole and bool((valid.flatten(1).min(dim=1).values == 1).any()):
        raise ValueError(f"{name} contains a mask with no hole pixel (all ones): there is nothing to inpaint "
                         "(1 = known, 0 = hole; did you pass a hole map instead of a valid map?)")
    if require_known and bool((valid.flatten(1).max(dim=1).values == 0).any()):
        raise ValueError(f"{name} contains an all-hole mask (all zeros): no known pixel is left "
                         "(1 = known, 0 = hole; did you pass a hole map instead of a valid map?)")
    return valid


def check_network_input(image: torch.Tensor, valid: torch.Tensor, channels: int, multiple: int,
                        why: str = "", require_known: bool = False, *,
                        network: torch.nn.Module | None = None) -> torch.Tensor:
    """The checks every inpainting network runs on ``forward(image, valid)``: the image, the mask, the image's
    ``channels``, and height and width multiples of ``multiple`` (``why`` says where the multiple comes from);
    with ``network``, that the image has its parameters' dtype (outside autocast, which casts by itself) and
    device. Returns ``valid`` in the image's dtype, expanded to the batch."""
    check_image(image)
    check_valid(valid, image, require_known=require_known)
    param = next(network.parameters(), None) if network is not None else None
    if param is not None:
        name = type(network).__name__
        if image.device != param.device:
            raise ValueError(f"the image is on {image.device} but the parameters of {name} are on {param.device}: "
                             f"move one to the other (image.to({str(param.device)!r}) or model.to(image.device))")
        if image.dtype != param.dtype and not torch.is_autocast_enabled(image.device.type):
            fix = "image.float()" if param.dtype == torch.float32 else f"image.to({param.dtype})"
            raise ValueError(f"the image has dtype {image.dtype} but the parameters of {name} are {param.dtype}: "
                             f"convert the input ({fix}, and the mask alike) or the network (model.to({image.dtype}))")
    if image.shape[1] != channels:
        raise ValueError(f"image must have {channels} channels (RGB), got {image.shape[1]}")
    h, w = image.shape[-2:]
    if h % multiple or w % multiple:
        raise ValueError(f"image height and width must be multiples of {multiple}{why}, got {h}x{w}; "
                         "pad it (inpaintlib.inference.pad_to_multiple) or resize it")
    return valid.to(image.dtype).expand(image.shape[0], -1, -1, -1)


def stack_images(images: Sequence[torch.Tensor], what: str, fix: str,
                 names: Sequence[str] | None = None) -> torch.Tensor:
    """``torch.stack(images)``, or a ``ValueError`` when their sizes differ that names the sizes found (with counts),
    the first image of a size other than the most common one (``names[i]``, else its position) and ``fix``."""
    shapes = [tuple(x.shape) for x in images]
    counts = Counter(shapes)
    if len(counts) <= 1:
        return torch.stack(list(images))
    common = counts.most_common(1)[0][0]
    odd = next(i for i, s in enumerate(shapes) if s != common)
    found = ", ".join(f"{' x '.join(map(str, s))} ({k} image{'s' if k > 1 else ''})" for s, k in counts.most_common())
    who = names[odd] if names is not None else f"item {odd} of the batch"
    raise ValueError(f"{what} have different sizes, so they cannot be stacked into one batch: found {found}; "
                     f"{who} is {' x '.join(map(str, shapes[odd]))}. {fix}")
