"""Checkpoint I/O and the weights manifest.

A checkpoint is one file, ``NAME.safetensors``, replaced atomically (temp file in the same folder, flush, ``fsync``,
``os.replace``): the tensors, and in the safetensors header the metadata (config, scale, step, metrics, git commit,
library and torch versions, creation time, whatever the caller adds) with a content hash over metadata and tensors
(format in :mod:`inpaintlib.ckpt_format`). ``NAME.json`` beside it is a readable copy of the metadata plus the file's
sha256 and size (book/conventions.md, "Checkpoints and run folders"), written after the tensors: a kill at any instant
leaves the old or the new checkpoint loadable; a stale sidecar is ignored with a warning, an edited one refused; temp
files of an interrupted save are removed by the next save (never those of a save running in another process).
Everything that can fail (serialising tensors and metadata) happens before the first byte hits the disk. Checkpoints
of format 1 (metadata only in the sidecar) are still read.

Training state (optimizer, scheduler, gradient scaler, RNG) is stored the same way: :func:`flatten_state`
splits any nested structure of dicts/lists/tuples/scalars/tensors into prefixed tensors (for the
safetensors file) and a JSON tree (for the sidecar); :func:`unflatten_state` puts it back together.

``weights/manifest.json`` lists published checkpoints; :class:`Manifest` reads, extends and verifies it.
The schemas are documented in ``weights/README.md``.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
import safetensors.torch
from safetensors.torch import load as _load_safetensors_bytes  # safetensors bytes -> tensors (no pickle)

from .ckpt_format import (DIGEST_KEY, FILE_FIELDS, META_KEY, CheckpointFormatError, content_digest, embedded_meta,
                          read_header, read_json, reconcile_sidecar, split_file, to_jsonable)
from .files import (atomic_write_text, folder_lock, fsync_dir, git_commit, sha256_bytes, sha256_file, stale_temps,
                    unlink_quiet, write_temp)
from .manifest import MANIFEST_SCHEMA_VERSION, Manifest  # re-exported: weights is the public home of both

__all__ = [
    "CheckpointFormatError",
    "FORMAT",
    "MANIFEST_SCHEMA_VERSION",
    "Manifest",
    "flatten_state",
    "git_commit",
    "load_checkpoint",
    "clean_stale_temps",
    "load_into",
    "read_sidecar",
    "save_checkpoint",
    "sha256_file",
    "sidecar_path",
    "tidy_checkpoint",
    "to_jsonable",
    "unflatten_state",
]

FORMAT = "inpaintlib.checkpoint/2"
"""Value of the metadata's ``format`` field; bumped if the schema changes incompatibly (2: metadata embedded in the
safetensors header, see :mod:`inpaintlib.ckpt_format`)."""


# --------------------------------------------------------------------------------------------- helpers
def sidecar_path(path: str | os.PathLike) -> Path:
    """The JSON sidecar of a checkpoint: ``x/model.safetensors`` -> ``x/model.json``."""
    return _tensor_path(path).with_suffix(".json")


def _tensor_path(path: str | os.PathLike) -> Path:
    p = Path(path)
    if p.suffix == ".json":
        p = p.with_suffix(".safetensors")
    elif p.suffix != ".safetensors":
        raise ValueError(f"a checkpoint path must end in .safetensors (its sidecar is the .json beside it), got {str(p)!r}")
    return p


def _library_version() -> str:
    from inpaintlib import __version__

    return __version__


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _as_tensor_dict(module_or_tensors: torch.nn.Module | Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    if isinstance(module_or_tensors, torch.nn.Module):
        items = module_or_tensors.state_dict().items()
    elif isinstance(module_or_tensors, Mapping):
        items = module_or_tensors.items()
    else:
        raise ValueError(f"expected an nn.Module or a dict of tensors, got {type(module_or_tensors).__name__}")
    out: dict[str, torch.Tensor] = {}
    seen: set[tuple[int, int]] = set()
    for k, v in items:
        if not isinstance(k, str):
            raise ValueError(f"tensor names must be strings, got {k!r}")
        if not isinstance(v, torch.Tensor):
            raise ValueError(f"{k!r} is a {type(v).__name__}, not a tensor: put non-tensor values in meta")
        t = v.detach().to("cpu").contiguous()
        # safetensors refuses tensors that share memory (tied weights, views): give each its own copy.
        key = (t.untyped_storage().data_ptr(), t.untyped_storage().nbytes()) if t.numel() else None
        if key is not None and key in seen:
            t = t.clone()
        elif key is not None:
            seen.add(key)
        out[k] = t
    return out


# ---------------------------------------------------------------------------------------- save / load
def _null_nonfinite(obj: Any) -> Any:
    """``obj`` (plain JSON types) with every NaN/inf float replaced by None: JSON has no NaN, and a reader that
    follows the standard refuses Python's bare ``NaN`` / ``Infinity``."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _null_nonfinite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_null_nonfinite(v) for v in obj]
    return obj


def _check_finite_tensors(tensors: Mapping[str, torch.Tensor], path: Path) -> None:
    bad = [k for k, v in tensors.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise ValueError(f"refusing to save {path}: {len(bad)} tensor(s) hold NaN or Inf (e.g. {bad[:3]}); a network "
                         "with such weights outputs NaN. Save weights from before the training diverged, or pass "
                         "allow_nonfinite=True to store them anyway")


def _serialise(tensors: dict[str, torch.Tensor], meta: dict, path: Path) -> tuple[bytes, str]:
    """The bytes of a format-2 checkpoint (metadata and its content hash in the header) and that hash."""
    meta_text = json.dumps(meta, sort_keys=True, allow_nan=False)  # strict JSON (non-finite floats are None by now)
    header, body = split_file(safetensors.torch.save(tensors, metadata={"format": "pt"}), path)
    digest = content_digest(meta_text, header, body)
    data = safetensors.torch.save(tensors, metadata={"format": "pt", META_KEY: meta_text, DIGEST_KEY: digest})
    header2, body2 = split_file(data, path)
    if content_digest(meta_text, header2, body2) != digest:  # the metadata must not move the tensors
        raise RuntimeError(f"internal error: the content hash of {path} changed when the metadata was embedded")
    return data, digest


def clean_stale_temps(path: str | os.PathLike) -> list[Path]:
    """Remove the temporary files an interrupted save of the checkpoint ``path`` left behind; return them.

    Only the temp files whose writer no longer runs (:func:`inpaintlib.files.stale_temps`): those of a save running
    now in another process on this machine are left alone, so concurrent saves to one path do not break each other."""
    path = _tensor_path(path)
    removed = []
    for name in (path.name, sidecar_path(path).name):
        for p in stale_temps(path.parent, name):
            unlink_quiet(p)
            removed.append(p)
    return removed


def save_checkpoint(path: str | os.PathLike, module_or_tensors: torch.nn.Module | Mapping[str, torch.Tensor],
                    meta: Mapping[str, Any] | None = None, *, allow_nonfinite: bool = False) -> dict:
    """Save tensors and metadata to ``path`` (``*.safetensors``) as one atomic unit; return the sidecar.

    The metadata is embedded in the safetensors header (see :mod:`inpaintlib.ckpt_format`) with a content hash
    over it and the tensors; the ``*.json`` sidecar beside it is a readable copy written afterwards.
    ``meta`` may hold anything JSON-able (dataclasses are converted with their field names). The standard
    fields ``config``, ``scale``, ``step`` and ``metrics`` are always present (``None`` / ``{}`` when not
    given); ``format``, ``file``, ``sha256``, ``size``, ``content_sha256``, ``num_tensors``, ``library_version``,
    ``torch_version`` and ``created`` are computed; ``git_commit`` is computed unless ``meta`` gives one.

    Floating-point tensors holding NaN or Inf are refused (``ValueError`` naming them; nothing is written) unless
    ``allow_nonfinite=True``. A NaN or infinite float in ``meta`` (a metric such as the PSNR of identical images)
    is written as JSON ``null``: the header and the sidecar are strict JSON.

    Saves to one path from several processes on one machine are safe: each writes its own temp files (named with
    its pid), the clean-up of leftovers skips those of running writers, and the two renames of a save are made
    under a lock on the folder, so the last save wins whole (file and sidecar from the same save).
    """
    path = _tensor_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = _as_tensor_dict(module_or_tensors)
    if not allow_nonfinite:
        _check_finite_tensors(tensors, path)
    meta = dict(meta or {})
    reserved = {"format", "file", "num_tensors", "library_version", "torch_version", "created", *FILE_FIELDS}
    clash = sorted(reserved & set(meta))
    if clash:
        raise ValueError(f"meta may not set the computed sidecar fields {clash}")
    # Everything that can fail is done in memory first, so a failure writes nothing.
    embedded: dict[str, Any] = {
        "format": FORMAT, "file": path.name, "num_tensors": len(tensors), "config": None, "scale": None,
        "step": None, "metrics": {}, "git_commit": meta.pop("git_commit", None) or git_commit(),
        "library_version": _library_version(), "torch_version": torch.__version__, "created": _utc_now(),
    }
    embedded.update(to_jsonable(meta))
    embedded = _null_nonfinite(embedded)
    data, digest = _serialise(tensors, embedded, path)
    sidecar = {**embedded, "sha256": sha256_bytes(data), "size": len(data), "content_sha256": digest}
    text = json.dumps(sidecar, indent=1, allow_nan=False) + "\n"

    clean_stale_temps(path)
    side = sidecar_path(path)
    tmp_t = write_temp(path.parent, path.name, data)
    try:
        tmp_s = write_temp(path.parent, side.name, text.encode("utf-8"))
    except BaseException:
        unlink_quiet(tmp_t)
        raise
    try:
        with folder_lock(path.parent):  # another process's save cannot come between the two renames
            os.replace(tmp_t, path)  # the checkpoint: from here on the new one is what loads
            os.replace(tmp_s, side)  # its readable copy; a kill in between leaves a stale sidecar, which is ignored
    except BaseException:
        unlink_quiet(tmp_t)  # this save's own temp files only
        unlink_quiet(tmp_s)
        raise
    fsync_dir(path.parent)
    return sidecar


def tidy_checkpoint(path: str | os.PathLike) -> None:
    """After an interrupted save: remove its temp files and rewrite a missing or stale sidecar of a format-2
    checkpoint from the metadata embedded in the file (an edited sidecar is left alone and still refused)."""
    path = _tensor_path(path)
    clean_stale_temps(path)
    if not path.is_file():
        return
    found = embedded_meta(read_header(path), path)
    if found is None:
        return
    meta, _, digest = found
    side = sidecar_path(path)
    try:
        current = read_json(side, "checkpoint sidecar") if side.is_file() else None
    except ValueError:
        current = None
    if isinstance(current, dict) and current.get("content_sha256") == digest:
        return
    sidecar = {**meta, "sha256": sha256_file(path), "size": path.stat().st_size, "content_sha256": digest}
    atomic_write_text(side, json.dumps(sidecar, indent=1) + "\n")


def _legacy_sidecar(path: Path) -> dict:
    side = sidecar_path(path)
    if not side.is_file():
        raise FileNotFoundError(f"checkpoint {path} has no sidecar {side.name} beside it; a checkpoint written before "
                                "format 2 keeps its metadata (which paper, which config, its sha256) only there")
    meta = read_json(side, "checkpoint sidecar")
    if not isinstance(meta, dict):
        raise ValueError(f"checkpoint sidecar {side} is not a JSON object")
    return meta


def read_sidecar(path: str | os.PathLike, verify: bool = True) -> dict:
    """The metadata of a checkpoint without parsing the tensors: the header's embedded metadata (format 2) with the
    file's ``sha256``, ``size`` and ``content_sha256``; or the sidecar (format 1).

    Format 2: with ``verify=True`` (default) the content hash must match the metadata and tensors, as in
    :func:`load_checkpoint` (an edited config is refused, not returned), and the sidecar must agree. ``verify=False``
    returns the header's metadata unchecked."""
    path = _tensor_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    if not verify:
        found = embedded_meta(read_header(path), path)
        if found is None:
            return _legacy_sidecar(path)
        return {**found[0], "sha256": sha256_file(path), "size": path.stat().st_size, "content_sha256": found[2]}
    data = path.read_bytes()
    header, body = split_file(data, path)
    found = embedded_meta(header, path)
    if found is None:
        return _legacy_sidecar(path)
    meta, text, digest = found
    actual = sha256_bytes(data)
    _check_content(path, text, header, body, digest, actual)
    reconcile_sidecar(path, sidecar_path(path), meta, digest)
    return {**meta, "sha256": actual, "size": len(data), "content_sha256": digest}


def _check_content(path: Path, text: str, header: dict, body: bytes, digest: str, actual: str) -> None:
    """Refuse a format-2 file whose content hash does not match its metadata and tensors."""
    computed = content_digest(text, header, body)
    if computed != digest:
        recorded = _sidecar_field(path, "sha256")
        raise ValueError(f"checkpoint {path} is corrupt: its content hash {digest} does not match its metadata "
                         f"and tensors ({computed}); file sha256 {actual}"
                         + (f", the sidecar expects {recorded}" if recorded else "") + " - refusing to load it")


def load_checkpoint(path: str | os.PathLike, verify: bool = True, device: str | torch.device = "cpu"
                    ) -> tuple[dict[str, torch.Tensor], dict]:
    """Load ``(tensors, meta)`` from a checkpoint written by :func:`save_checkpoint`.

    Format 2: with ``verify=True`` (default) the content hash in the header must match the metadata and tensors,
    else ``ValueError``; the sidecar, if present, must agree (a stale one is ignored with a warning, an edited one
    refused). Format 1: the sidecar must exist and its ``sha256`` equal the file's. The tensors are parsed from the
    very bytes that were hashed. With ``verify=False`` nothing is checked (a format-1 file without sidecar gives
    ``meta = {}``).
    """
    path = _tensor_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    data = path.read_bytes()
    header, body = split_file(data, path)
    found = embedded_meta(header, path)
    actual = sha256_bytes(data)
    if found is not None:
        meta, text, digest = found
        if verify:
            _check_content(path, text, header, body, digest, actual)
            reconcile_sidecar(path, sidecar_path(path), meta, digest)
        meta = {**meta, "sha256": actual, "size": len(data), "content_sha256": digest}
    else:
        meta = _load_legacy_meta(path, verify, actual)
    tensors = _parse_tensors(data, path)
    if str(device) != "cpu":
        tensors = {k: v.to(device) for k, v in tensors.items()}
    return tensors, meta


def _sidecar_field(path: Path, key: str):
    try:
        side = read_json(sidecar_path(path), "checkpoint sidecar")
    except (OSError, ValueError):
        return None
    return side.get(key) if isinstance(side, dict) else None


def _load_legacy_meta(path: Path, verify: bool, actual: str) -> dict:
    side = sidecar_path(path)
    if side.is_file():
        meta = _legacy_sidecar(path)
    elif verify:
        raise ValueError(f"cannot verify {path}: it has no embedded metadata and its sidecar {side.name} is missing "
                         "(pass verify=False to load the tensors unverified)")
    else:
        return {}
    if verify and meta.get("sha256") != actual:
        raise ValueError(f"sha256 mismatch for {path}: the sidecar expects {meta.get('sha256')}, the file has {actual}; "
                         "the file is corrupt, truncated or belongs to another sidecar - refusing to load it")
    return meta


def _parse_tensors(data: bytes, path: Path) -> dict[str, torch.Tensor]:
    """Parse safetensors bytes (never pickle); a corrupt file gives a ``ValueError`` naming it."""
    try:
        return _load_safetensors_bytes(data)
    except Exception as e:  # safetensors raises its own SafetensorError for malformed files
        raise CheckpointFormatError(f"checkpoint {path} is not a readable safetensors file ({e})") from None


def load_into(module: torch.nn.Module, path: str | os.PathLike, strict: bool = True, verify: bool = True) -> dict:
    """Load a checkpoint's tensors into ``module`` (``load_state_dict``) and return its sidecar.

    With ``strict=True`` missing or unexpected keys raise (PyTorch's ``RuntimeError``); with ``strict=False``
    the sidecar gets ``missing_keys`` / ``unexpected_keys`` lists.
    """
    tensors, meta = load_checkpoint(path, verify=verify)
    result = module.load_state_dict(tensors, strict=strict)
    meta = dict(meta)
    if not strict:
        meta["missing_keys"] = list(result.missing_keys)
        meta["unexpected_keys"] = list(result.unexpected_keys)
    return meta


# --------------------------------------------------------------------------------- training state trees
def flatten_state(obj: Any, prefix: str) -> tuple[dict[str, torch.Tensor], Any]:
    """Split a nested state (e.g. ``optimizer.state_dict()``) into ``(tensors, tree)``.

    Tensors go to ``tensors`` under keys ``prefix.<path>``; the JSON-able ``tree`` keeps the structure, with
    ``{"__tensor__": key}`` where a tensor was, ``{"__tuple__": [...]}`` for tuples, ``{"__dict__":
    [[key, value], ...]}`` for dicts with non-string keys (optimizer states are keyed by int), and
    ``{"__float__": "inf"|"-inf"|"nan"}`` for non-finite floats, so :func:`unflatten_state` restores it
    exactly and the sidecar stays strict JSON.
    """
    tensors: dict[str, torch.Tensor] = {}

    def enc(o: Any, path: str) -> Any:
        if isinstance(o, torch.Tensor):
            key = f"{prefix}.{path}" if path else prefix
            tensors[key] = o.detach().to("cpu").contiguous().clone()
            return {"__tensor__": key}
        if isinstance(o, Mapping):
            if all(isinstance(k, str) for k in o) and not any(k.startswith("__") and k.endswith("__") for k in o):
                return {k: enc(v, f"{path}.{k}" if path else k) for k, v in o.items()}
            pairs = []
            for k, v in o.items():
                if not isinstance(k, (str, int, bool)) and k is not None:
                    raise TypeError(f"{prefix}.{path}: key {k!r} of type {type(k).__name__} is not supported")
                pairs.append([k, enc(v, f"{path}.{k}" if path else str(k))])
            return {"__dict__": pairs}
        if isinstance(o, tuple):
            return {"__tuple__": [enc(v, f"{path}.{i}" if path else str(i)) for i, v in enumerate(o)]}
        if isinstance(o, list):
            return [enc(v, f"{path}.{i}" if path else str(i)) for i, v in enumerate(o)]
        if isinstance(o, float) and not math.isfinite(o):
            return {"__float__": repr(o)}
        if o is None or isinstance(o, (bool, int, float, str)):
            return o
        if isinstance(o, np.generic):
            return enc(o.item(), path)
        raise TypeError(f"{prefix}.{path}: value of type {type(o).__name__} cannot be stored in a checkpoint")

    tree = enc(obj, "")
    return tensors, tree


def unflatten_state(tree: Any, tensors: Mapping[str, torch.Tensor]) -> Any:
    """Inverse of :func:`flatten_state`."""
    if isinstance(tree, list):
        return [unflatten_state(v, tensors) for v in tree]
    if isinstance(tree, dict):
        if set(tree) == {"__tensor__"}:
            key = tree["__tensor__"]
            if key not in tensors:
                raise ValueError(f"checkpoint is missing tensor {key!r} referenced by its sidecar")
            return tensors[key]
        if set(tree) == {"__tuple__"}:
            return tuple(unflatten_state(v, tensors) for v in tree["__tuple__"])
        if set(tree) == {"__dict__"}:
            return {k: unflatten_state(v, tensors) for k, v in tree["__dict__"]}
        if set(tree) == {"__float__"}:
            return float(tree["__float__"])
        return {k: unflatten_state(v, tensors) for k, v in tree.items()}
    return tree

