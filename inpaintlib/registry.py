"""The registry that maps a paper's name to its network (one package per paper under ``inpaintlib.papers``).

A checkpoint's sidecar names its paper (``"paper": "msfef"``) and holds the network's config, so
:func:`build_model` can rebuild the right network from the sidecar alone. Paper packages are imported lazily:
``import inpaintlib.registry`` loads none of them.
"""
from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import pkgutil
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from torch import nn

__all__ = ["papers", "PaperModel", "paper_model", "build_model"]

PAPERS_PACKAGE = "inpaintlib.papers"


def papers() -> list[str]:
    """Names of the paper packages under ``inpaintlib/papers/`` (found on disk, so adding a chapter needs no edit
    here); only those that define ``MODEL`` have a network to build."""
    spec = importlib.util.find_spec(PAPERS_PACKAGE)
    return sorted(m.name for m in pkgutil.iter_modules(spec.submodule_search_locations) if m.ispkg)


@dataclass(frozen=True)
class PaperModel:
    """How to build a paper's network: its config class, its network class, and the side every input's height
    and width must be a multiple of (``size_multiple(config)``)."""

    name: str
    config_cls: type
    network_cls: Callable[..., nn.Module]
    size_multiple: Callable[[Any], int]

    def config_from_dict(self, values: Mapping[str, Any]):
        """The config class from a JSON dict (lists back to tuples); unknown keys are refused by name."""
        fields = {f.name for f in dataclasses.fields(self.config_cls)}
        unknown = sorted(set(values) - fields)
        if unknown:
            raise ValueError(f"{self.name}: config keys {unknown} are not fields of {self.config_cls.__name__} "
                             f"(known: {sorted(fields)})")
        return self.config_cls(**{k: _tuples(v) for k, v in values.items()})


def _tuples(v):
    if isinstance(v, list):
        return tuple(_tuples(x) for x in v)
    return v


def paper_model(name: str) -> PaperModel:
    """The :class:`PaperModel` of paper ``name`` (e.g. ``"msfef"``): the ``MODEL`` of ``inpaintlib.papers.<name>``."""
    known = papers()
    if name not in known:
        raise ValueError(f"unknown paper {name!r}; known: {known}")
    model = getattr(importlib.import_module(f"{PAPERS_PACKAGE}.{name}"), "MODEL", None)
    if model is None:
        raise ValueError(f"paper {name!r} defines no network yet (its package has no MODEL)")
    return model


def build_model(name: str, config: Mapping[str, Any] | None = None) -> nn.Module:
    """Paper ``name``'s network from a config dict (a checkpoint sidecar's ``config``); ``None`` = ``paper()``."""
    spec = paper_model(name)
    cfg = spec.config_cls.paper() if config is None else spec.config_from_dict(config)
    return spec.network_cls(cfg)
