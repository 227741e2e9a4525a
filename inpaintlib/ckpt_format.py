"""The checkpoint file as one atomic unit: the metadata lives inside the safetensors header.

Format ``inpaintlib.checkpoint/2`` (written since issue 13): the header's ``__metadata__`` holds

* ``inpaintlib.meta`` - the metadata as JSON text (config, scale, step, metrics, train_config, ...);
* ``inpaintlib.content_sha256`` - sha256 over the metadata text, the tensor index (names, dtypes, shapes, offsets)
  and the tensor bytes, so editing the config is detected exactly like a flipped weight.

The ``.safetensors`` file is therefore complete on its own and is replaced with a single ``os.replace``: a kill at
any instant leaves the old file or the new one. The ``.json`` sidecar is a readable copy (plus the sha256 and size
of the whole file, for the manifest), written after the tensors. A sidecar whose ``content_sha256`` is not the
file's is stale (a save interrupted between the two renames): it is ignored with a warning. A sidecar that claims
this file's ``content_sha256`` but says something else was edited: it is refused.

Files of format 1 (tensors only, metadata in the sidecar alone) are still read; their sidecar's sha256 covers the
tensors but not the config.
"""
from __future__ import annotations

import dataclasses
import json
import os
import struct
import warnings
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from .files import sha256_bytes

__all__ = ["META_KEY", "DIGEST_KEY", "CheckpointFormatError", "split_file", "content_digest", "embedded_meta",
           "read_header", "reconcile_sidecar", "read_json", "canonical", "to_jsonable"]

META_KEY = "inpaintlib.meta"
DIGEST_KEY = "inpaintlib.content_sha256"
#: sidecar fields that describe the file as a whole and so cannot be inside it
FILE_FIELDS = ("sha256", "size", "content_sha256")
_MAX_HEADER = 100 * 1024 * 1024


class CheckpointFormatError(ValueError):
    """A checkpoint file that is not a readable safetensors file (truncated, corrupt, another format)."""


def canonical(obj: Any) -> str:
    """The JSON text used to compare metadata (sorted keys, NaN kept as ``NaN``)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def split_file(data: bytes, path: Path) -> tuple[dict, bytes]:
    """``(header, tensor bytes)`` of a safetensors file's bytes; :class:`CheckpointFormatError` naming ``path``."""
    if len(data) < 8:
        raise CheckpointFormatError(f"checkpoint {path} is not a safetensors file: only {len(data)} bytes "
                                    "(truncated or empty)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > min(len(data) - 8, _MAX_HEADER):
        raise CheckpointFormatError(f"checkpoint {path} is not a safetensors file (or is truncated): its header claims "
                                    f"{n} bytes, the file has {len(data)}")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointFormatError(f"checkpoint {path} has a corrupt safetensors header ({e})") from None
    if not isinstance(header, dict):
        raise CheckpointFormatError(f"checkpoint {path} has a corrupt safetensors header (not a JSON object)")
    return header, data[8 + n:]


def read_header(path: Path) -> dict:
    """The safetensors header of the file at ``path``, reading only the header bytes."""
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) == 8:
            (n,) = struct.unpack("<Q", head)
            size = os.fstat(f.fileno()).st_size
            if n <= min(size - 8, _MAX_HEADER):
                head += f.read(n)
    header, _ = split_file(head, path)
    return header


def content_digest(meta_text: str, header: dict, body: bytes) -> str:
    """sha256 over the metadata text, the tensor index and the tensor bytes (everything that defines the result)."""
    index = {k: v for k, v in header.items() if k != "__metadata__"}
    return sha256_bytes(b"inpaintlib.checkpoint/2\n" + meta_text.encode("utf-8") + b"\n" + canonical(index).encode()
                        + b"\n" + sha256_bytes(body).encode())


def embedded_meta(header: dict, path: Path) -> tuple[dict, str, str] | None:
    """``(meta, meta text, stored digest)`` of a format-2 file, or None for a file with no embedded metadata."""
    md = header.get("__metadata__") or {}
    if META_KEY not in md:
        return None
    text, digest = md[META_KEY], md.get(DIGEST_KEY)
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as e:
        raise CheckpointFormatError(f"checkpoint {path}: its embedded metadata is not valid JSON ({e})") from None
    if not isinstance(meta, dict) or not isinstance(digest, str):
        raise CheckpointFormatError(f"checkpoint {path}: its embedded metadata is malformed")
    return meta, text, digest


def read_json(path: Path, what: str) -> Any:
    """Parse the JSON file ``path``; a ``ValueError`` naming the path (and ``what`` it is) when it is malformed."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{what} {path} is not valid JSON ({e}); restore it or write it again") from None


def reconcile_sidecar(path: Path, side: Path, meta: dict, digest: str) -> None:
    """Compare the sidecar ``side`` (if any) with the file's embedded ``meta``: stale -> warning, edited -> refuse."""
    if not side.is_file():
        return
    try:
        copy = read_json(side, "checkpoint sidecar")
    except ValueError as e:
        warnings.warn(f"{e}; using the metadata embedded in {path.name}", stacklevel=4)
        return
    if not isinstance(copy, dict) or copy.get("content_sha256") != digest:
        warnings.warn(f"the sidecar {side} does not describe {path.name} (a save interrupted between writing the "
                      f"tensors and the sidecar?); using the metadata embedded in {path.name}, which the next save "
                      "copies to the sidecar again", stacklevel=4)
        return
    rest = {k: v for k, v in copy.items() if k not in FILE_FIELDS}
    if canonical(rest) != canonical(meta):
        diff = sorted(k for k in set(rest) | set(meta) if canonical(rest.get(k)) != canonical(meta.get(k)))
        raise ValueError(f"the sidecar {side} was edited after the checkpoint was written (fields {diff} differ from "
                         f"the metadata embedded in {path.name}, which its content hash covers); refusing to load. "
                         "Restore the sidecar, or save a new checkpoint with the changed metadata")


def to_jsonable(obj: Any, _where: str = "meta") -> Any:
    """Convert ``obj`` to plain JSON types: dataclasses -> dicts, tuples -> lists, numpy / 0-d tensors ->
    Python scalars, paths -> strings. Raises ``TypeError`` naming the offending key otherwise."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name), f"{_where}.{f.name}") for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, (str, int, float, bool)) and k is not None:
                raise TypeError(f"{_where}: dictionary key {k!r} is not a string or number; cannot write it to JSON")
            out[str(k) if not isinstance(k, str) else k] = to_jsonable(v, f"{_where}.{k}")
        return out
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v, f"{_where}[{i}]") for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, float)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, torch.Tensor):
        if obj.numel() == 1:
            return obj.detach().cpu().item()
        raise TypeError(f"{_where}: a tensor of shape {tuple(obj.shape)} does not belong in the JSON sidecar; "
                        "put it in the tensors")
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, torch.device):
        return str(obj)
    raise TypeError(f"{_where}: value of type {type(obj).__name__} cannot be written to JSON")
