"""Where notebooks put what later notebooks read: artifacts (checkpoints, result tables) and CI data.

The repository root is found by walking up from the working directory to the folder that holds
``_config.yml`` (the book's root); ``INPAINTLIB_ARTIFACTS`` and ``INPAINTLIB_DATA`` override the
defaults ``<root>/_build/artifacts`` and ``<root>/_build/data``.
"""
from __future__ import annotations

import os
from pathlib import Path

SCALES = ("ci", "demo", "paper")


def repo_root(start: str | os.PathLike | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: cwd) that contains ``_config.yml``; cwd if none."""
    here = Path(start or Path.cwd()).resolve()
    for p in (here, *here.parents):
        if (p / "_config.yml").is_file():
            return p
    return here


def check_scale(scale: str) -> str:
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    return scale


def artifact_dir(chapter: str, scale: str, create: bool = True) -> Path:
    """``<root>/_build/artifacts/<scale>/<chapter>/`` (or under ``$INPAINTLIB_ARTIFACTS``)."""
    check_scale(scale)
    base = Path(os.environ.get("INPAINTLIB_ARTIFACTS") or repo_root() / "_build" / "artifacts")
    d = base / scale / chapter
    if create:
        d.mkdir(parents=True, exist_ok=True)
    return d


def data_dir(create: bool = True) -> Path:
    """``<root>/_build/data`` (or ``$INPAINTLIB_DATA``): generated CI data such as the fixed mask test sets."""
    d = Path(os.environ.get("INPAINTLIB_DATA") or repo_root() / "_build" / "data")
    if create:
        d.mkdir(parents=True, exist_ok=True)
    return d
