"""Where notebooks put what later notebooks read (artifacts: checkpoints, result tables; CI data), and the one
owner of the scale names.

The repository root does not depend on the working directory: ``$INPAINTLIB_ROOT`` if set, else the checkout this
package was imported from (the folder above ``inpaintlib/`` when it holds ``_config.yml``, as in a clone or an
editable install), else the nearest folder at or above the working directory that holds ``_config.yml``.
``INPAINTLIB_ARTIFACTS`` and ``INPAINTLIB_DATA`` override the defaults ``<root>/_build/artifacts`` and
``<root>/_build/data``. Looking a path up never creates a folder (``create=False``); writers ask for it.
"""
from __future__ import annotations

import os
from pathlib import Path

SCALES = ("ci", "demo", "paper")


def repo_root(start: str | os.PathLike | None = None) -> Path:
    """The book's root (see the module docstring); with ``start``, the nearest folder at or above it holding
    ``_config.yml`` (``start`` itself if none)."""
    if start is None:
        if os.environ.get("INPAINTLIB_ROOT"):
            return Path(os.environ["INPAINTLIB_ROOT"]).resolve()
        checkout = Path(__file__).resolve().parent.parent
        if (checkout / "_config.yml").is_file():
            return checkout
    here = Path(start or Path.cwd()).resolve()
    for p in (here, *here.parents):
        if (p / "_config.yml").is_file():
            return p
    return here


def check_scale(scale: str) -> str:
    """``scale`` if it is one of :data:`SCALES`, else a ``ValueError`` naming them."""
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
