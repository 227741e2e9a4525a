"""The book's notebook pages: which notebooks ``_toc.yml`` lists, in book order, and where each one's source and
executed copy live."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["EXECUTED_DIR", "READS_OTHER_CHAPTERS", "STATE_DIR", "Notebook", "toc_notebooks", "toc_pages"]

#: Where the pipeline writes the executed notebooks (relative to the book root), mirroring ``notebooks/``.
EXECUTED_DIR = Path("_build") / "executed"
#: Where the pipeline keeps its state (``state.json``) and the report (``report.md``).
STATE_DIR = Path("_build") / "reproduce"
#: Chapters whose notebooks read what other chapters' notebooks wrote (the bench scores every chapter's ci model):
#: when chapters run side by side (``--jobs``), these run after all the others.
READS_OTHER_CHAPTERS = ("bench",)


@dataclass(frozen=True)
class Notebook:
    """One notebook page of ``_toc.yml``: ``doc`` is its path without suffix, relative to the book root
    (``notebooks/<chapter>/NN_name``)."""

    doc: str

    @classmethod
    def of(cls, nb: "Notebook | str | Path", root: Path) -> "Notebook":
        """A ``Notebook`` from itself, a doc name (``notebooks/msfef/02_training``) or a path to its ``.py``."""
        if isinstance(nb, Notebook):
            return nb
        p = Path(nb)
        if p.is_absolute():
            p = p.relative_to(root)
        return cls(re.sub(r"\.(py|ipynb)$", "", p.as_posix().strip("/")))

    @property
    def chapter(self) -> str:
        """The chapter's folder name under ``notebooks/``."""
        return Path(self.doc).parts[1]

    @property
    def stem(self) -> str:
        return Path(self.doc).name

    def py(self, root: Path) -> Path:
        """The jupytext percent-format source, ``<root>/notebooks/<chapter>/NN_name.py``."""
        return root / f"{self.doc}.py"

    def executed(self, root: Path) -> Path:
        """The executed notebook the pipeline writes: ``<root>/_build/executed/notebooks/<chapter>/NN_name.ipynb``."""
        return root / EXECUTED_DIR / f"{self.doc}.ipynb"

    def beside_source(self, root: Path) -> Path:
        """``NN_name.ipynb`` beside the source: jupytext's pair of the ``.py`` (JupyterLab's file, not the
        pipeline's; older versions of the pipeline wrote the executed notebook there)."""
        return root / f"{self.doc}.ipynb"


def _toc_files(node: Any) -> list[str]:
    """Every ``file`` (and the ``root``) named anywhere in a parsed ``_toc.yml``, in order."""
    files: list[str] = []
    if isinstance(node, dict):
        if isinstance(node.get("file"), str):
            files.append(node["file"])
        for key in ("root", "parts", "chapters", "sections", "subtrees", "entries"):
            value = node.get(key)
            if isinstance(value, str) and key == "root":
                files.append(value)
            elif value is not None:
                files.extend(_toc_files(value))
    elif isinstance(node, list):
        for item in node:
            files.extend(_toc_files(item))
    return files


def toc_pages(root: Path) -> list[str]:
    """Every page of ``<root>/_toc.yml`` (path without suffix, relative to the root), in book order, once each."""
    import yaml

    toc_path = root / "_toc.yml"
    if not toc_path.is_file():
        raise FileNotFoundError(f"no _toc.yml in {root}: is this the book's root?")
    pages: list[str] = []
    for f in _toc_files(yaml.safe_load(toc_path.read_text())):
        f = re.sub(r"\.(py|ipynb|md)$", "", f.strip("/"))
        if f not in pages:
            pages.append(f)
    return pages


def toc_notebooks(root: Path) -> list[Notebook]:
    """Every page of ``<root>/_toc.yml`` under ``notebooks/``, in book order."""
    return [Notebook(p) for p in toc_pages(root) if p.startswith("notebooks/")]
