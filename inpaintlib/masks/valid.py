"""Numpy masks to the library's tensor form, and hole ratios, with the valid convention checked."""
from __future__ import annotations

import numpy as np
import torch

from .._validate import check_valid

__all__ = ["hole_ratio", "to_tensor"]


def _refuse_0_255(t: torch.Tensor, name: str) -> None:
    """A clear error for a 0/255 image passed where a 0/1 valid map is expected."""
    if t.dtype == torch.bool or t.numel() == 0 or not bool((t == 255).any()) or not bool(((t == 0) | (t == 255)).all()):
        return
    raise ValueError(
        f"{name} must be binary (exactly 0 or 1) but holds the values 0 and 255: it looks like a 0/255 mask image, "
        "not a valid map. Load mask files with inpaintlib.inference.load_mask(path, convention=\"255=hole\" or "
        "\"255=known\"), stating which value marks the hole, or divide by 255 yourself once you know the file's "
        "convention: valid = m / 255 when 255 = known, valid = 1 - m / 255 when 255 = hole. "
        "Expected a valid map: 1 = known pixel, 0 = hole"
    )


def _as_valid_tensor(valid, name: str = "valid") -> torch.Tensor:
    """A numpy or torch mask of shape (H, W), (N, H, W) or (N, 1, H, W) as a checked N x 1 x H x W tensor."""
    t = torch.from_numpy(np.ascontiguousarray(valid)) if isinstance(valid, np.ndarray) else valid
    if not isinstance(t, torch.Tensor):
        raise ValueError(f"{name} must be a numpy array or torch tensor, got {type(valid).__name__}")
    if t.dim() == 2:
        t = t[None, None]
    elif t.dim() == 3:
        t = t[:, None]
    _refuse_0_255(t, name)
    return check_valid(t, name=name)


def hole_ratio(valid):
    """Fraction of hole pixels (``valid == 0``).

    ``(H, W)`` input gives a float; ``(N, H, W)`` or ``(N, 1, H, W)`` gives one ratio per mask
    (a numpy array for numpy input, a tensor for tensor input).
    """
    t = _as_valid_tensor(valid)
    r = 1.0 - t.flatten(1).double().mean(dim=1)
    if valid.ndim == 2:
        return float(r[0])
    return r.numpy() if isinstance(valid, np.ndarray) else r.to(torch.float32)


def to_tensor(np_masks) -> torch.Tensor:
    """One ``(H, W)`` mask, a list of them, or an ``(N, H, W)`` array -> ``N x 1 x H x W`` float32 tensor.

    The masks must be valid maps (exactly 0 or 1, 1 = known, 0 = hole); a 0/255 image is refused with a pointer
    to ``inpaintlib.inference.load_mask``, a boolean array with a pointer to ``astype``.
    """
    if isinstance(np_masks, (list, tuple)):
        if not np_masks:
            raise ValueError("to_tensor got an empty list of masks")
        items = [np.asarray(m) for m in np_masks]
        shapes = sorted({m.shape for m in items})
        if len(shapes) > 1:
            raise ValueError(f"to_tensor got masks of different shapes {shapes}; every mask must have the same (H, W)")
        arr = np.stack(items)
    else:
        arr = np.asarray(np_masks)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim == 4 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 3:
        raise ValueError(f"to_tensor expects (H, W), (N, H, W) or a list of (H, W) masks, got shape {arr.shape}")
    if arr.dtype == np.bool_:
        raise ValueError("to_tensor got a boolean array; pass a float valid map (1 = known, 0 = hole), "
                         "e.g. mask.astype(np.float32) if True means known")
    t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))[:, None]
    _refuse_0_255(t, "masks")
    return check_valid(t, name="masks")
