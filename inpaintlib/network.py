"""What every paper's network shares (:class:`InpaintingNet`): the composite, the parameter count and the memory
format it runs in."""
from __future__ import annotations

import os

import torch
from torch import nn

__all__ = ["InpaintingNet", "MEMORY_FORMAT_ENV"]

#: Environment variable that overrides every network's default memory format: ``contiguous`` (NCHW) or
#: ``channels_last`` (NHWC). The spread measurement (``python -m inpaintlib.reproduce.spread``) uses it to run the
#: book's notebooks in the other format; an explicit ``adopt_memory_format(fmt)`` still wins.
MEMORY_FORMAT_ENV = "INPAINTLIB_MEMORY_FORMAT"
_FORMATS = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}


def _format_from_env() -> torch.memory_format | None:
    name = os.environ.get(MEMORY_FORMAT_ENV)
    if not name:
        return None
    if name not in _FORMATS:
        raise ValueError(f"{MEMORY_FORMAT_ENV}={name!r}: expected one of {sorted(_FORMATS)}")
    return _FORMATS[name]


def _to_memory_format(module: "InpaintingNet", args: tuple) -> tuple:
    """Forward pre-hook: the 4-D inputs in the network's memory format."""
    fmt = module.memory_format
    return tuple(a.contiguous(memory_format=fmt) if isinstance(a, torch.Tensor) and a.dim() == 4 else a
                 for a in args)


class InpaintingNet(nn.Module):
    """Base of every paper network: ``forward(image, valid) -> output`` (N x 3 x H x W in [0, 1]; ``valid`` 1 = known).

    ``composite`` pastes the output into the hole, ``valid * image + (1 - valid) * output``; a network whose paper
    clips the output before pasting sets ``clamp_composite = True``.

    ``memory_format``: a network that runs faster in ``torch.channels_last`` (NHWC) on the CPU sets it as a class
    attribute and calls :meth:`adopt_memory_format` at the end of its ``__init__``: its 4-D weights are converted
    once, its 4-D inputs on every call. Only the order of the summations changes (outputs agree to
    float rounding); checkpoints are written contiguous either way. Which networks set it, and the measured before/after: ``python -m inpaintlib.bench.speedups``
    (``notebooks/bench/02_cost``)."""

    clamp_composite: bool = False
    memory_format: torch.memory_format = torch.contiguous_format

    def adopt_memory_format(self, memory_format: torch.memory_format | None = None) -> "InpaintingNet":
        """Run in ``memory_format`` (default: ``$INPAINTLIB_MEMORY_FORMAT`` when set, else the class's
        :attr:`memory_format`): the 4-D weights are converted now, the 4-D inputs on every call. Returns the network.
        (The bench calls it with each format to compare them.)"""
        memory_format = memory_format or _format_from_env()
        if memory_format is not None:
            self.memory_format = memory_format
        self.to(memory_format=self.memory_format)
        if getattr(self, "_format_hook", None) is None:
            self._format_hook = self.register_forward_pre_hook(_to_memory_format)
        return self

    def composite(self, image: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """``valid * image + (1 - valid) * output`` (the output clipped to [0, 1] when ``clamp_composite``)."""
        out = self(image, valid)
        if self.clamp_composite:
            out = out.clamp(0, 1)
        return valid * image + (1 - valid) * out

    def num_parameters(self) -> int:
        """Number of parameters (all of them trainable in the book's networks)."""
        return sum(p.numel() for p in self.parameters())
