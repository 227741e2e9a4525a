"""Checkpoint I/O and the weights manifest.

A checkpoint is two files side by side (DESIGN.md, "Checkpoints"):

* ``NAME.safetensors`` - the tensors (no pickles anywhere);
* ``NAME.json`` - the sidecar: config, scale, step, metrics, git commit, the sha256 and size of the
  ``.safetensors`` file, library and torch versions, creation time, and whatever else the caller adds.

Both files are written atomically: each goes to a temporary file in the same folder, is flushed and
``fsync``-ed, and is moved into place with ``os.replace``; the sidecar is replaced last. Everything that
can fail (serialising the tensors and the metadata) happens before the first byte hits the disk, so a
failed save leaves the previous checkpoint untouched and no partial file behind. A crash between the two
``os.replace`` calls leaves a new tensor file beside the old sidecar: :func:`load_checkpoint` then refuses
it because the hash does not match, instead of loading something unverified.

Training state (optimizer, scheduler, gradient scaler, RNG) is stored the same way: :func:`flatten_state`
splits any nested structure of dicts/lists/tuples/scalars/tensors into prefixed tensors (for the
safetensors file) and a JSON tree (for the sidecar); :func:`unflatten_state` puts it back together.

``weights/manifest.json`` lists published checkpoints; :class:`Manifest` reads, extends and verifies it.
The schemas are documented in ``weights/README.md``.
"""
from __future__ import annotations

import dataclasses
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

from .files import atomic_write_text, fsync_dir, git_commit, sha256_bytes, sha256_file, unlink_quiet, write_temp

__all__ = [
    "FORMAT",
    "MANIFEST_SCHEMA_VERSION",
    "Manifest",
    "flatten_state",
    "git_commit",
    "load_checkpoint",
    "load_into",
    "save_checkpoint",
    "sha256_file",
    "sidecar_path",
    "to_jsonable",
    "unflatten_state",
]

FORMAT = "inpaintlib.checkpoint/1"
"""Value of the sidecar's ``format`` field; bumped if the sidecar schema changes incompatibly."""

MANIFEST_SCHEMA_VERSION = 1

_SOURCE_TYPES = ("repository", "url", "notebook")


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
def save_checkpoint(path: str | os.PathLike, module_or_tensors: torch.nn.Module | Mapping[str, torch.Tensor],
                    meta: Mapping[str, Any] | None = None) -> dict:
    """Save tensors to ``path`` (``*.safetensors``) and the sidecar ``*.json`` beside it; return the sidecar.

    ``meta`` may hold anything JSON-able (dataclasses are converted with their field names). The standard
    fields ``config``, ``scale``, ``step`` and ``metrics`` are always present (``None`` / ``{}`` when not
    given); ``format``, ``file``, ``sha256``, ``size``, ``num_tensors``, ``library_version``,
    ``torch_version`` and ``created`` are computed; ``git_commit`` is computed unless ``meta`` gives one.
    """
    path = _tensor_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = _as_tensor_dict(module_or_tensors)
    meta = dict(meta or {})
    reserved = {"format", "file", "sha256", "size", "num_tensors", "library_version", "torch_version", "created"}
    clash = sorted(reserved & set(meta))
    if clash:
        raise ValueError(f"meta may not set the computed sidecar fields {clash}")
    # Everything that can fail is done in memory first, so a failure writes nothing.
    data = safetensors.torch.save(tensors, metadata={"format": "pt"})
    sidecar: dict[str, Any] = {
        "format": FORMAT,
        "file": path.name,
        "sha256": sha256_bytes(data),
        "size": len(data),
        "num_tensors": len(tensors),
        "config": None,
        "scale": None,
        "step": None,
        "metrics": {},
        "git_commit": meta.pop("git_commit", None) or git_commit(),
        "library_version": _library_version(),
        "torch_version": torch.__version__,
        "created": _utc_now(),
    }
    sidecar.update(to_jsonable(meta))
    text = json.dumps(sidecar, indent=1, sort_keys=False) + "\n"
    json.loads(text)  # NaN/inf are written as NaN/Infinity (Python's JSON); check it parses back

    side = sidecar_path(path)
    tmp_t = write_temp(path.parent, path.name, data)
    try:
        tmp_s = write_temp(path.parent, side.name, text.encode("utf-8"))
    except BaseException:
        unlink_quiet(tmp_t)
        raise
    try:
        os.replace(tmp_t, path)
        os.replace(tmp_s, side)  # sidecar last: a reader never sees a sidecar whose file is not in place
    except BaseException:
        unlink_quiet(tmp_t)
        unlink_quiet(tmp_s)
        raise
    fsync_dir(path.parent)
    return sidecar


def read_sidecar(path: str | os.PathLike) -> dict:
    """The sidecar (JSON) of a checkpoint, without touching the tensors."""
    side = sidecar_path(path)
    if not side.is_file():
        raise FileNotFoundError(f"checkpoint sidecar {side} is missing (every .safetensors file needs its .json)")
    with open(side, encoding="utf-8") as f:
        return json.load(f)


def load_checkpoint(path: str | os.PathLike, verify: bool = True, device: str | torch.device = "cpu"
                    ) -> tuple[dict[str, torch.Tensor], dict]:
    """Load ``(tensors, meta)`` from a checkpoint written by :func:`save_checkpoint`.

    With ``verify=True`` (default) the sidecar must exist and the sha256 of the tensor file must equal the
    sidecar's ``sha256``; otherwise ``ValueError`` naming both hashes. The tensors are parsed from the very
    bytes that were hashed. With ``verify=False`` a missing sidecar gives ``meta = {}``.
    """
    path = _tensor_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    side = sidecar_path(path)
    if side.is_file():
        meta = read_sidecar(path)
    elif verify:
        raise ValueError(f"cannot verify {path}: its sidecar {side.name} is missing "
                         "(pass verify=False to load the tensors unverified)")
    else:
        meta = {}
    data = path.read_bytes()
    if verify:
        expected = meta.get("sha256")
        actual = sha256_bytes(data)
        if expected != actual:
            raise ValueError(f"sha256 mismatch for {path}: the sidecar expects {expected}, the file has {actual}; "
                             "the file is corrupt, truncated or belongs to another sidecar - refusing to load it")
    # Parse the bytes that were just hashed (safetensors format, never pickle).
    tensors = _load_safetensors_bytes(data)
    if str(device) != "cpu":
        tensors = {k: v.to(device) for k, v in tensors.items()}
    return tensors, meta


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


# ---------------------------------------------------------------------------------------------- manifest
def _default_manifest_path() -> Path:
    return Path(__file__).resolve().parent.parent / "weights" / "manifest.json"


class Manifest:
    """``weights/manifest.json``: the published checkpoints, each with its sha256, size and sources.

    Entry fields (see ``weights/README.md``): ``name``, ``chapter``, ``model``, ``scale``, ``file`` (path
    of the ``.safetensors`` relative to the repository root), ``sha256``, ``size``, ``sources`` (at least
    two ways to obtain the file, each ``{"type": "repository", "path": ...}``, ``{"type": "notebook",
    "notebook": ..., "scale": ...}`` (trained by that notebook) or ``{"type": "url", "url": "https://..."}``
    - real URLs only), ``metrics`` and ``commit``.
    """

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path is not None else _default_manifest_path()
        if self.path.is_file():
            with open(self.path, encoding="utf-8") as f:
                data = json.load(f)
            if not isinstance(data, dict) or not isinstance(data.get("checkpoints"), list):
                raise ValueError(f"{self.path} is not a weights manifest: expected an object with a 'checkpoints' list")
            self.schema_version = int(data.get("schema_version", MANIFEST_SCHEMA_VERSION))
            self.entries: list[dict] = list(data["checkpoints"])
        else:
            self.schema_version = MANIFEST_SCHEMA_VERSION
            self.entries = []

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self):
        return iter(self.entries)

    def names(self) -> list[str]:
        return [e["name"] for e in self.entries]

    def find(self, name: str) -> dict | None:
        """The entry called ``name``, or ``None``."""
        for e in self.entries:
            if e.get("name") == name:
                return e
        return None

    def save(self) -> None:
        """Write the manifest atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"schema_version": self.schema_version, "checkpoints": self.entries}, indent=2) + "\n"
        atomic_write_text(self.path, text)

    @staticmethod
    def _check_sources(sources: Any) -> list[dict]:
        if not isinstance(sources, (list, tuple)) or len(sources) < 2:
            raise ValueError("a manifest entry needs at least two sources (ways to obtain the file), e.g. "
                             "{'type': 'repository', 'path': 'weights/x.safetensors'} and "
                             "{'type': 'notebook', 'notebook': 'notebooks/msfef/02_training.py', 'scale': 'ci'}")
        out = []
        for s in sources:
            if not isinstance(s, Mapping) or s.get("type") not in _SOURCE_TYPES:
                raise ValueError(f"each source must be a dict with 'type' in {_SOURCE_TYPES}, got {s!r}")
            need = {"repository": "path", "url": "url", "notebook": "notebook"}[s["type"]]
            if not isinstance(s.get(need), str) or not s[need]:
                raise ValueError(f"a {s['type']!r} source needs a non-empty {need!r}, got {s!r}")
            if s["type"] == "url" and not s["url"].startswith("https://"):
                raise ValueError(f"url sources must be real https:// URLs, got {s['url']!r}")
            out.append(to_jsonable(dict(s)))
        return out

    def add_entry(self, name: str, *, chapter: str, model: str, scale: str, file: str | os.PathLike,
                  sources: list[dict], metrics: Mapping[str, float] | None = None, commit: str | None = None,
                  root: str | os.PathLike | None = None, replace: bool = False, save: bool = True) -> dict:
        """Add (or with ``replace=True`` replace) an entry; sha256 and size are computed from the file.

        ``file`` is relative to ``root`` (default: the manifest's repository, i.e. the folder above
        ``weights/``). ``commit`` defaults to the sidecar's ``git_commit`` when the sidecar exists.
        """
        if not name or not isinstance(name, str):
            raise ValueError("a manifest entry needs a non-empty name")
        if self.find(name) is not None and not replace:
            raise ValueError(f"the manifest already has an entry {name!r} (pass replace=True to overwrite it)")
        root = Path(root) if root is not None else self.path.resolve().parent.parent
        rel = Path(file)
        full = rel if rel.is_absolute() else root / rel
        if not full.is_file():
            raise FileNotFoundError(f"{full} does not exist: a manifest entry must describe a real file")
        if rel.is_absolute():
            try:
                rel = rel.resolve().relative_to(root.resolve())
            except ValueError:
                raise ValueError(f"{file} is not inside {root}; give a path relative to the repository") from None
        if commit is None:
            try:
                commit = read_sidecar(full).get("git_commit", "unknown")
            except (FileNotFoundError, ValueError):
                commit = "unknown"
        entry = {
            "name": name,
            "chapter": chapter,
            "model": model,
            "scale": scale,
            "file": rel.as_posix(),
            "sha256": sha256_file(full),
            "size": full.stat().st_size,
            "sources": self._check_sources(sources),
            "metrics": to_jsonable(dict(metrics or {})),
            "commit": commit,
        }
        self.entries = [e for e in self.entries if e.get("name") != name] + [entry]
        if save:
            self.save()
        return entry

    def verify(self, entry: Mapping | str, path: str | os.PathLike | None = None) -> bool:
        """Check that the file at ``path`` (default: the entry's ``file`` under the repository) has the
        entry's size and sha256; return ``True`` or raise ``ValueError`` naming expected and actual."""
        if isinstance(entry, str):
            found = self.find(entry)
            if found is None:
                raise KeyError(f"no manifest entry called {entry!r}; entries: {self.names()}")
            entry = found
        if path is None:
            path = self.path.resolve().parent.parent / entry["file"]
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist (manifest entry {entry['name']!r}); sources: {entry['sources']}")
        size = path.stat().st_size
        if size != entry["size"]:
            raise ValueError(f"{path}: size {size} bytes, the manifest entry {entry['name']!r} expects {entry['size']}")
        actual = sha256_file(path)
        if actual != entry["sha256"]:
            raise ValueError(f"{path}: sha256 {actual}, the manifest entry {entry['name']!r} expects {entry['sha256']}")
        return True
