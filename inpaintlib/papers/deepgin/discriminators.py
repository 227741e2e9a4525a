"""DeepGIN's conditional multi-scale discriminators D1, D2 and the hinge loss (Sect. 4.1, Eqs. 2-3).

``D_d(I_in, I)`` sees the concatenation of the masked input ``I_in`` and an image ``I`` (``I_compltd`` or ``I_gt``),
6 channels; D1 at the input's scale (256 x 256), D2 at half of it (128 x 128), "sharing the same architecture"
(Sect. 5) but not the weights; spectral normalisation [20] "after each convolutional layer" (Sect. 4.1); the output
is "a set of feature maps with size of H/2^2 x W/2^2 x c" (Sect. 4.1), a PatchGAN-style map of local decisions.

Layer widths from the authors' code (book/reference_implementations.md, "DeepGIN: discriminators"): per scale, 4x4
convolutions with padding 2, ``6 -> 64`` (stride 2), ``-> 128`` (stride 2), ``-> 256``, ``-> 256`` (stride 1),
LeakyReLU(0.2) after each but the last; D2 sees ``AvgPool(3, stride 2)`` of D1's input. (With padding 2 every 4x4
convolution adds one row and column, so the maps are 1/4 of the input plus a few pixels, as in pix2pixHD.) This
differs from :class:`inpaintlib.layers.PatchDiscriminator` (one logit channel, a doubling stride-1 layer), hence a
paper-specific module.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["DeepGINDiscriminator", "hinge_d_loss", "hinge_g_loss"]


class DeepGINDiscriminator(nn.Module):
    """D1 and D2 (``n_scales=2``). ``forward(masked_input, image)`` -> list of maps, finest scale first."""

    def __init__(self, image_channels: int = 3, widths: tuple[int, ...] = (64, 128, 256, 256),
                 strides: tuple[int, ...] = (2, 2, 1, 1), n_scales: int = 2, spectral_norm: bool = True,
                 slope: float = 0.2):
        super().__init__()
        if len(widths) != len(strides) or not widths or n_scales < 1:
            raise ValueError(f"need one stride per width and n_scales >= 1, got {widths}, {strides}, {n_scales}")
        self.in_channels = 2 * image_channels
        self.scales = nn.ModuleList(self._one(widths, strides, spectral_norm, slope) for _ in range(n_scales))

    def _one(self, widths, strides, sn, slope) -> nn.Sequential:
        layers, c = [], self.in_channels
        for i, (w, s) in enumerate(zip(widths, strides)):
            conv = nn.Conv2d(c, w, 4, stride=s, padding=2)
            layers.append(nn.utils.parametrizations.spectral_norm(conv) if sn else conv)
            if i < len(widths) - 1:
                layers.append(nn.LeakyReLU(slope))
            c = w
        return nn.Sequential(*layers)

    def forward(self, masked_input: torch.Tensor, image: torch.Tensor) -> list[torch.Tensor]:  # noqa: D102
        if masked_input.shape != image.shape or image.dim() != 4 or 2 * image.shape[1] != self.in_channels:
            raise ValueError(f"DeepGINDiscriminator expects two N x {self.in_channels // 2} x H x W tensors of one "
                             f"shape, got {tuple(masked_input.shape)} and {tuple(image.shape)}")
        x = torch.cat([masked_input, image], dim=1)
        outs = []
        for s, net in enumerate(self.scales):
            if s > 0:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            outs.append(net(x))
        return outs


def hinge_d_loss(real: list[torch.Tensor], fake: list[torch.Tensor]) -> torch.Tensor:
    """Eq. 3: ``sum_d E[ReLU(1 - D_d(I_in, I_gt)) + ReLU(1 + D_d(I_in, I_compltd))]`` (means over the maps)."""
    return sum(F.relu(1 - r).mean() + F.relu(1 + f).mean() for r, f in zip(real, fake))


def hinge_g_loss(fake: list[torch.Tensor]) -> torch.Tensor:
    """Eq. 2: ``-E[D_1(I_in, I_compltd)] - E[D_2(I_in, I_compltd)]``."""
    return -sum(f.mean() for f in fake)
