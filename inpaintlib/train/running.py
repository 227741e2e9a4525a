"""Running means of the logged loss terms over each ``log_every`` window (part of the resumable state)."""
from __future__ import annotations

from typing import Mapping

import torch

from .distributed import DistContext

__all__ = ["Accumulator"]


class Accumulator:
    """Running sums (float64 tensors on the device: no host sync per step) of the logged loss terms."""

    def __init__(self, device: torch.device):
        self.device = device
        self.dtype = torch.float32 if device.type == "mps" else torch.float64  # MPS has no float64
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}

    def add(self, name: str, value) -> None:
        if isinstance(value, torch.Tensor):
            if value.numel() != 1:
                raise ValueError(f"loss term {name!r} must be a scalar, got a tensor of shape {tuple(value.shape)}")
            v = value.detach().reshape(()).to(self.device, self.dtype)
        else:
            try:
                v = torch.tensor(float(value), dtype=self.dtype, device=self.device)
            except (TypeError, ValueError):
                raise ValueError(f"loss term {name!r} must be a float or scalar tensor, got {type(value).__name__}") from None
        if name in self.sums:
            self.sums[name] = self.sums[name] + v
            self.counts[name] += 1
        else:
            self.sums[name], self.counts[name] = v, 1

    def add_terms(self, terms: Mapping, prefix: str = "", skip: tuple[str, ...] = ()) -> None:
        """Add every term of a loss function's ``terms`` dict but those in ``skip``, named ``prefix + name``
        unless the name already starts with ``prefix``."""
        for k, v in terms.items():
            if k not in skip:
                self.add(k if k.startswith(prefix) else f"{prefix}{k}", v)

    def _average_over_ranks(self, ctx: DistContext) -> None:
        if ctx.world > 1 and self.sums:
            keys = sorted(self.sums)
            vec = ctx.all_mean(torch.stack([self.sums[k] for k in keys]))
            self.sums = {k: vec[i] for i, k in enumerate(keys)}

    def means(self, ctx: DistContext) -> dict[str, float]:
        """``{name: mean over the window}``, averaged over the ranks."""
        self._average_over_ranks(ctx)
        keys = sorted(self.sums)
        if not keys:
            return {}
        vals = torch.stack([self.sums[k] for k in keys]).tolist()
        return {k: v / self.counts[k] for k, v in zip(keys, vals)}

    def reset(self) -> None:
        self.sums, self.counts = {}, {}

    def state(self, ctx: DistContext) -> tuple[dict[str, torch.Tensor], dict]:
        """``(tensors, info)`` for a checkpoint; every rank then holds the same values, which rank 0 saves."""
        self._average_over_ranks(ctx)
        keys = sorted(self.sums)
        tensors = {f"acc.{i}": self.sums[k].reshape(1) for i, k in enumerate(keys)}
        return tensors, {"names": keys, "counts": [self.counts[k] for k in keys]}

    def load(self, tensors: Mapping[str, torch.Tensor], info: Mapping) -> None:
        self.reset()
        for i, (k, c) in enumerate(zip(info.get("names", []), info.get("counts", []))):
            self.sums[k] = tensors[f"acc.{i}"].reshape(()).to(self.device, self.dtype)
            self.counts[k] = int(c)
