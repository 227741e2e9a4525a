"""The pipeline's memory between runs: what each notebook's run depended on (the cache key), what it produced, and
the provenance (git commit) stamped on the report."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

from inpaintlib.files import atomic_write_text, git_commit, sha256_file

from .toc import STATE_DIR, Notebook

__all__ = ["cache_key", "commit_of", "is_cached", "library_hash", "load_state", "migrate_beside_source",
           "save_state"]

PACKAGE_DIR = Path(__file__).resolve().parent          # inpaintlib/reproduce: the pipeline itself
LIBRARY_DIR = PACKAGE_DIR.parent                        # inpaintlib/


def _hashed_files(base: Path) -> list[Path]:
    """The files of ``base`` that can change what a notebook computes: everything but caches, documentation and
    the pipeline's own package."""
    keep = []
    for p in sorted(base.rglob("*")):
        if not p.is_file() or "__pycache__" in p.parts or p.suffix in (".pyc", ".md"):
            continue
        if p.resolve().is_relative_to(PACKAGE_DIR):
            continue
        keep.append(p)
    return keep


def library_hash(root: Path) -> str:
    """sha256 over every file (path + content) of the library ``inpaintlib/`` and of ``<root>/data_prep/``.

    Left out: ``__pycache__``, ``*.md`` and this package (the pipeline's own code does not change what a notebook
    computes)."""
    h = hashlib.sha256()
    for base in (LIBRARY_DIR, Path(root) / "data_prep"):
        if not base.is_dir():
            continue
        for p in _hashed_files(base):
            h.update(f"{base.name}/{p.relative_to(base).as_posix()}\0".encode())
            h.update(p.read_bytes())
            h.update(b"\0")
    return h.hexdigest()


def commit_of(root: Path) -> str:
    """The git commit of ``root`` (:func:`inpaintlib.files.git_commit`) plus ``+dirty`` when tracked files differ
    from it: a report made from uncommitted changes says so."""
    commit = git_commit(root)
    if commit == "unknown":
        return commit
    try:
        res = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return commit
    return commit + ("+dirty" if res.returncode == 0 and res.stdout.strip() else "")


def load_state(root: Path) -> dict:
    path = Path(root) / STATE_DIR / "state.json"
    if path.is_file():
        try:
            state = json.loads(path.read_text())
            if isinstance(state, dict) and isinstance(state.get("notebooks"), dict):
                return state
        except json.JSONDecodeError:
            pass
    return {"notebooks": {}}


def save_state(root: Path, state: dict) -> None:
    path = Path(root) / STATE_DIR / "state.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(state, indent=1))  # insertion order: key numbers stay in notebook order


def cache_key(nb: Notebook, chapter_before: list[Notebook], sources: dict[str, str], parameters: dict,
              lib: str) -> dict:
    """What a run of ``nb`` depends on: its source, the sources of the earlier notebooks of its chapter (they
    write the checkpoints and tables it reads), every parameter passed (``--param`` ones included) and the
    library. ``sources`` maps every notebook to the hash of its ``.py``, taken once at the start of the run, so an
    edit made while the run goes on makes the next run execute again."""
    return {
        "source": sources[nb.doc],
        "upstream": [sources[u.doc] for u in chapter_before if sources.get(u.doc)],
        "parameters": json.loads(json.dumps(parameters, sort_keys=True)),
        "library": lib,
    }


def is_cached(root: Path, nb: Notebook, entry: dict | None, key: dict | None = None) -> bool:
    """Whether the last run of ``nb`` succeeded (with ``key``, when given) and its executed notebook is still the
    file that run wrote."""
    if not entry or entry.get("status") != "ok" or (key is not None and entry.get("key") != key):
        return False
    out = nb.executed(root)
    return out.is_file() and sha256_file(out) == entry.get("ipynb_sha256")


def migrate_beside_source(root: Path, notebooks: list[Notebook], state: dict[str, Any]) -> list[str]:
    """Move executed notebooks that an earlier version of the pipeline wrote beside the sources
    (``notebooks/<chapter>/NN_name.ipynb``) to ``_build/executed/``, keeping their cached runs; return the moved docs.

    Only a file whose sha256 is the one the pipeline recorded is moved: it is provably the pipeline's output and
    unedited. Left beside the ``.py`` it would make JupyterLab refuse to open the notebook (see the package
    docstring); anything else there is JupyterLab's own pair of the ``.py`` and stays."""
    moved = []
    for nb in notebooks:
        entry = state.get("notebooks", {}).get(nb.doc) or {}
        old, new = nb.beside_source(root), nb.executed(root)
        if entry.get("location") or not entry.get("ipynb_sha256") or not old.is_file() or new.exists():
            continue
        if sha256_file(old) != entry["ipynb_sha256"]:
            continue
        new.parent.mkdir(parents=True, exist_ok=True)
        os.replace(old, new)
        entry["location"] = new.relative_to(root).as_posix()
        moved.append(nb.doc)
    return moved
