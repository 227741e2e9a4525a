"""Key numbers: how a notebook stores the numbers the book and the reproduction report quote.

A key number is a value *glued* in the notebook with myst-nb's ``glue`` under a name, with a plain-text display
(a number or a short string)::

    from inpaintlib.record import record
    record("psnr_db_msfef", table.loc["all", "psnr"], digits=2)   # shows nothing; stored in the notebook

The same value can be pasted into the notebook's markdown or a landing page with ``{glue:}`name```. The pipeline
(``python -m inpaintlib.reproduce``) reads key numbers back from the executed notebooks; notebooks import only this
small module, never the pipeline that runs them.
"""
from __future__ import annotations

import re
from typing import Any

__all__ = ["record", "record_buckets"]


def _plain(value: Any) -> Any:
    """A numpy / torch scalar (or 0-d array/tensor) as a Python number; other values unchanged."""
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return value.item()
    return value


def record(name: str, value: Any, digits: int | None = None) -> None:
    """Store ``value`` as the key number ``name`` of the running notebook (see the module docstring).

    Equivalent to ``myst_nb.glue(name, value, display=False)`` after turning numpy/torch scalars into Python
    numbers (and rounding floats to ``digits`` decimals when given). Shows nothing and returns None, so a
    ``record(...)`` at the end of a cell prints no ``Out[]``.
    """
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", name):
        raise ValueError(f"key-number names are identifiers (letters, digits, _ . -), got {name!r}")
    value = _plain(value)
    if getattr(value, "ndim", 0):
        raise ValueError(f"record({name!r}, ...) takes a scalar or a short string, "
                         f"got an array of shape {tuple(value.shape)}")
    if digits is not None and isinstance(value, float):
        value = round(value, digits)
    from myst_nb import glue

    glue(name, value, display=False)


def record_buckets(prefix: str, values, digits: int | None = 2) -> None:
    """Record one key number per hole-ratio bucket of ``values`` (a mapping or pandas Series from bucket label to
    value, in bucket order): ``<prefix>_b0``, ``<prefix>_b1``, ... and ``<prefix>_all`` for the label ``"all"``."""
    for i, (label, v) in enumerate(dict(values).items()):
        record(f"{prefix}_{'all' if label == 'all' else f'b{i}'}", float(v), digits)
