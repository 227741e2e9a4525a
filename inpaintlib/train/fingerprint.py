"""What determines a run's result beyond :class:`~.config.TrainConfig`, recorded in its checkpoints and checked on
resume: the model config, the loss (its ``config``), the dataset (length and a hash of three items) and the mask
generator (a hash of masks drawn from a fixed probe generator).

A resume that sees another model config, other loss weights, another dataset or another mask generator would not
reproduce the run it continues, so :func:`check_fingerprint` refuses it and names what changed.
"""
from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch

from ..ckpt_format import canonical
from ..weights import to_jsonable
from .batches import collate

__all__ = ["run_fingerprint", "check_fingerprint", "describe_loss"]

#: seeds the probe masks: ``default_rng([seed, _PROBE, k])``, never a seed the training uses (that has 3 entries)
_PROBE = 0x50524F42


def describe_loss(loss_fn: Callable) -> Any:
    """The loss's ``config`` attribute (dict or dataclass: its weights and settings), JSON-able; else the callable's
    qualified name, recorded but not compared on resume (a wrapper of the same loss is legitimate): a change of its
    weights can only be detected when the callable has a ``config``."""
    cfg = getattr(loss_fn, "config", None)
    if cfg is not None and not callable(cfg):
        return to_jsonable(cfg, "loss_fn.config")
    return {"callable": f"{getattr(loss_fn, '__module__', '?')}.{getattr(loss_fn, '__qualname__', type(loss_fn).__name__)}"}


def _hash_tensor(h, t: torch.Tensor) -> None:
    t = t.detach().to("cpu", torch.float32).contiguous()
    h.update(repr(tuple(t.shape)).encode())
    h.update(t.numpy().tobytes())


def _dataset_fingerprint(dataset) -> tuple[dict, tuple[int, int]]:
    n = len(dataset)
    h = hashlib.sha256()
    hw = (0, 0)
    for i in sorted({0, n // 2, n - 1}):
        x = collate([dataset[i]])
        hw = tuple(x.shape[-2:])
        _hash_tensor(h, x)
    return {"length": n, "sha256": h.hexdigest()}, hw


def _mask_fingerprint(mask_fn: Callable, h: int, w: int, seed: int) -> str:
    digest = hashlib.sha256()
    np_state = np.random.get_state()
    try:
        with torch.random.fork_rng(devices=[]):
            for k in range(2):
                m = np.asarray(mask_fn(h, w, np.random.default_rng([seed, _PROBE, k])), dtype=np.float32)
                digest.update(repr(m.shape).encode() + np.ascontiguousarray(m).tobytes())
    except Exception:  # a broken mask_fn fails at the first step with the training loop's own clear message
        return "unavailable"
    finally:
        np.random.set_state(np_state)
    return digest.hexdigest()


def run_fingerprint(model_cfg, loss_fn: Callable, dataset, mask_fn: Callable, seed: int) -> dict:
    """``{"model_config", "loss", "dataset": {"length", "sha256"}, "masks": {"sha256"}}`` of a run (JSON-able).
    Reads three dataset items and draws two masks from private generators; the global RNGs are left untouched."""
    data, (h, w) = _dataset_fingerprint(dataset)
    cfg = model_cfg if not (dataclasses.is_dataclass(model_cfg) and not isinstance(model_cfg, type)) else \
        dataclasses.asdict(model_cfg)
    return {"model_config": to_jsonable(cfg, "model config"), "loss": describe_loss(loss_fn), "dataset": data,
            "masks": {"probe_size": [h, w], "sha256": _mask_fingerprint(mask_fn, h, w, seed)}}


def _config_diff(old: Any, new: Any) -> str:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        keys = sorted(k for k in set(old) | set(new) if canonical(old.get(k)) != canonical(new.get(k)))
        return ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys)
    return f"{old!r} -> {new!r}"


def _opaque(loss: Any) -> bool:
    return isinstance(loss, Mapping) and set(loss) == {"callable"}


def check_fingerprint(old: Mapping | None, new: Mapping, path: Path,
                      advice: str = "Resuming would not reproduce it: use another out_dir, or resume=False to start "
                                    "over") -> None:
    """Refuse to resume when the recorded fingerprint ``old`` differs from ``new``; the message names what changed
    and ends with ``advice``. Checkpoints written before fingerprints were recorded (``old`` None) are not checked."""
    if not old:
        return
    changes = []
    labels = {"model_config": "the model config", "loss": "the loss (weights/settings)", "dataset": "the dataset",
              "masks": "the mask generator"}
    for key, label in labels.items():
        if key == "loss" and _opaque(old.get(key)) and _opaque(new.get(key)):
            continue  # two callables without a config: their weights cannot be compared (recorded by name only)
        if key in old and canonical(old[key]) != canonical(new.get(key)):
            if key == "masks":
                detail = "it draws other masks from the same generator seed"
            elif key == "dataset" and old[key].get("length") != new[key].get("length"):
                detail = f"length {old[key].get('length')} -> {new[key].get('length')}"
            elif key == "dataset":
                detail = "same length, other images"
            else:
                detail = _config_diff(old[key], new.get(key))
            changes.append(f"{label} ({detail})")
    if changes:
        raise ValueError(f"{path} was written by a run with different inputs: {'; '.join(changes)}. {advice}")
