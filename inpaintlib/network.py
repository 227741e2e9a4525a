"""What every paper's network shares (:class:`InpaintingNet`): the composite and the parameter count."""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["InpaintingNet"]


class InpaintingNet(nn.Module):
    """Base of every paper network: ``forward(image, valid) -> output`` (N x 3 x H x W in [0, 1]; ``valid`` 1 = known).

    ``composite`` pastes the output into the hole, ``valid * image + (1 - valid) * output``; a network whose paper
    clips the output before pasting sets ``clamp_composite = True``."""

    clamp_composite: bool = False

    def composite(self, image: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """``valid * image + (1 - valid) * output`` (the output clipped to [0, 1] when ``clamp_composite``)."""
        out = self(image, valid)
        if self.clamp_composite:
            out = out.clamp(0, 1)
        return valid * image + (1 - valid) * out

    def num_parameters(self) -> int:
        """Number of parameters (all of them trainable in the book's networks)."""
        return sum(p.numel() for p in self.parameters())
