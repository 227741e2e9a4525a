"""What every paper's configuration shares: three scales and the list of what a scale changes.

A paper's model config is a frozen dataclass with classmethods ``paper()``, ``demo()`` and ``ci()``
(book/conventions.md, "Configurations"); mixing in :class:`ScaledConfig` gives it ``for_scale(name)`` and
``changes_from_paper()`` so every chapter prints the same "changed from paper()" line.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from .paths import SCALES, check_scale

__all__ = ["ScaledConfig", "dataclass_changes", "SCALES"]


def dataclass_changes(reference: Any, other: Any, prefix: str = "") -> dict[str, tuple[Any, Any]]:
    """``field -> (reference value, other value)`` for every field where two dataclasses of one type differ;
    nested dataclasses are compared field by field (``"train.lr"``)."""
    out: dict[str, tuple[Any, Any]] = {}
    for f in dataclasses.fields(reference):
        a, b = getattr(reference, f.name), getattr(other, f.name)
        if dataclasses.is_dataclass(a) and dataclasses.is_dataclass(b) and type(a) is type(b):
            out.update(dataclass_changes(a, b, f"{prefix}{f.name}."))
        elif a != b:
            out[f"{prefix}{f.name}"] = (a, b)
    return out


class ScaledConfig:
    """Mixin for a frozen dataclass with ``paper()``, ``demo()`` and ``ci()`` classmethods."""

    @classmethod
    def for_scale(cls, scale: str):
        """``paper()``, ``demo()`` or ``ci()`` by name."""
        return getattr(cls, check_scale(scale))()

    def changes_from_paper(self) -> dict[str, tuple[Any, Any]]:
        """``field -> (paper value, this value)`` for every field that differs from ``paper()``."""
        return dataclass_changes(type(self).paper(), self)
