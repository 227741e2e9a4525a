"""``weights/manifest.json``: the published checkpoints, each with its sha256, size and sources (schemas in
``weights/README.md``)."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

from .ckpt_format import embedded_meta, read_header, read_json, to_jsonable
from .files import atomic_write_text, sha256_file

__all__ = ["MANIFEST_SCHEMA_VERSION", "Manifest"]

MANIFEST_SCHEMA_VERSION = 1

_SOURCE_TYPES = ("repository", "url", "notebook")


def _sidecar_commit(path: Path) -> str:
    """The ``git_commit`` a checkpoint records (embedded metadata, else its JSON sidecar), or ``"unknown"``."""
    try:
        found = embedded_meta(read_header(path), path)
        meta = found[0] if found else read_json(path.with_suffix(".json"), "checkpoint sidecar")
    except (OSError, ValueError):
        return "unknown"
    return meta.get("git_commit", "unknown") if isinstance(meta, dict) else "unknown"


def _verified_file(path: Path) -> tuple[str, int]:
    """``(sha256, size)`` of ``path``; a checkpoint (``.safetensors``) must load and verify first."""
    if path.suffix != ".safetensors":
        return sha256_file(path), path.stat().st_size
    from .weights import load_checkpoint  # weights imports this module

    try:
        _, meta = load_checkpoint(path, verify=True)
    except ValueError as e:
        raise ValueError(f"refusing to add {path} to the manifest: it does not verify ({e})") from None
    return meta["sha256"], path.stat().st_size


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
            data = read_json(self.path, "weights manifest")
            if not isinstance(data, dict) or not isinstance(data.get("checkpoints"), list):
                raise ValueError(f"{self.path} is not a weights manifest: expected an object with a 'checkpoints' list")
            self.schema_version = int(data.get("schema_version", MANIFEST_SCHEMA_VERSION))
            self.entries: list[dict] = list(data["checkpoints"])
            bad = [i for i, e in enumerate(self.entries) if not isinstance(e, dict) or not isinstance(e.get("name"), str)]
            if bad:
                raise ValueError(f"{self.path}: checkpoints entries {bad} are not objects with a 'name' (see "
                                 "weights/README.md for the entry fields)")
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
        """Add (or with ``replace=True`` replace) an entry; sha256 and size are computed from the file. A
        ``.safetensors`` file is loaded and verified first (content hash, sidecar, as ``load_checkpoint`` does): a
        corrupt or edited checkpoint is refused, never published with a hash of its corrupt bytes.

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
        sha256, size = _verified_file(full)
        if commit is None:
            commit = _sidecar_commit(full)
        entry = {
            "name": name,
            "chapter": chapter,
            "model": model,
            "scale": scale,
            "file": rel.as_posix(),
            "sha256": sha256,
            "size": size,
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
        missing = [k for k in ("file", "size", "sha256") if k not in entry]
        if missing:
            raise ValueError(f"{self.path}: manifest entry {entry.get('name')!r} lacks the fields {missing}")
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
