"""Discriminators for the adversarial losses: the multi-scale PatchGAN of pix2pixHD (DeepGIN Sect. 3) and the WGAN
critic of DeepFill v1 (Yu et al. 2018; its global and local critics)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["PatchDiscriminator", "WGANCritic"]


class PatchDiscriminator(nn.Module):
    """pix2pixHD/PatchGAN discriminator (DeepGIN Sect. 3, "conditional multi-scale discriminators").

    Per scale: a 4x4 stride-2 conv to ``base`` channels, ``n_layers - 1`` more 4x4 stride-2 convs
    doubling the channels (at most 512), one 4x4 stride-1 conv doubling once more, and a 4x4
    stride-1 conv to one logit channel; padding 2 (pix2pixHD), LeakyReLU(0.2) after every conv but
    the last, spectral normalisation on every conv when ``spectral_norm`` (DeepGIN: "after each
    convolutional layer"), no other normalisation. Scale ``s`` sees the input average-pooled
    (3x3, stride 2) ``s`` times; each scale has its own weights.

    ``forward(x)`` returns the list of logit maps, finest scale first; with
    ``return_features=True`` it returns ``(logits, features)`` where ``features[s]`` lists the
    ``n_layers + 1`` intermediate activations of scale ``s`` (for
    :func:`inpaintlib.losses.feature_matching_loss`).
    """

    def __init__(self, in_channels: int, base: int = 64, n_layers: int = 3, n_scales: int = 1,
                 spectral_norm: bool = True):
        super().__init__()
        if n_layers < 1 or n_scales < 1:
            raise ValueError(f"n_layers and n_scales must be >= 1, got {n_layers}, {n_scales}")
        self.in_channels, self.n_layers, self.n_scales = in_channels, n_layers, n_scales
        self.scales = nn.ModuleList(self._one_scale(in_channels, base, n_layers, spectral_norm)
                                    for _ in range(n_scales))

    @staticmethod
    def _one_scale(in_ch: int, base: int, n_layers: int, sn: bool) -> nn.ModuleList:
        def conv(ci, co, stride):
            c = nn.Conv2d(ci, co, kernel_size=4, stride=stride, padding=2)
            return nn.utils.parametrizations.spectral_norm(c) if sn else c

        blocks = [nn.Sequential(conv(in_ch, base, 2), nn.LeakyReLU(0.2))]
        ch = base
        for _ in range(1, n_layers):
            nxt = min(ch * 2, 512)
            blocks.append(nn.Sequential(conv(ch, nxt, 2), nn.LeakyReLU(0.2)))
            ch = nxt
        nxt = min(ch * 2, 512)
        blocks.append(nn.Sequential(conv(ch, nxt, 1), nn.LeakyReLU(0.2)))
        blocks.append(nn.Sequential(conv(nxt, 1, 1)))
        return nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor, return_features: bool = False):  # noqa: D102
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"PatchDiscriminator expects N x {self.in_channels} x H x W, got {tuple(x.shape)}")
        logits, features = [], []
        for s, blocks in enumerate(self.scales):
            if s > 0:
                x = F.avg_pool2d(x, kernel_size=3, stride=2, padding=1, count_include_pad=False)
            h, feats = x, []
            for b in blocks:
                h = b(h)
                feats.append(h)
            logits.append(feats.pop())
            features.append(feats)
        return (logits, features) if return_features else logits


class WGANCritic(nn.Module):
    """WGAN critic of DeepFill v1 (Yu et al. 2018; book/reference_implementations.md, "DeepFill v1: losses, critics and
    optimiser"): ``5x5`` stride-2 convolutions of ``widths`` channels (64, 128, 256, 256 for the global critic; 64, 128,
    256, 512 for the local one), LeakyReLU(0.2) after each, no normalisation (a gradient penalty is used instead), then
    a dense layer from the flattened map to one score. ``input_size`` fixes the dense layer's width (the input must be
    square of that side). ``forward(x) -> N`` scores (unbounded: a critic, not a classifier)."""

    def __init__(self, in_channels: int = 3, widths: tuple[int, ...] = (64, 128, 256, 256), input_size: int = 256,
                 kernel_size: int = 5, slope: float = 0.2):
        super().__init__()
        if input_size % (2 ** len(widths)):
            raise ValueError(f"input_size {input_size} must be divisible by 2**{len(widths)} (stride-2 convs)")
        layers, c = [], in_channels
        for w in widths:
            layers += [nn.Conv2d(c, w, kernel_size, stride=2, padding=kernel_size // 2), nn.LeakyReLU(slope)]
            c = w
        self.features = nn.Sequential(*layers)
        side = input_size // 2 ** len(widths)
        self.dense = nn.Linear(c * side * side, 1)
        self.in_channels, self.input_size = in_channels, input_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if x.dim() != 4 or x.shape[1] != self.in_channels or tuple(x.shape[-2:]) != (self.input_size,) * 2:
            raise ValueError(f"WGANCritic expects N x {self.in_channels} x {self.input_size} x {self.input_size}, "
                             f"got {tuple(x.shape)}")
        return self.dense(self.features(x).flatten(1)).squeeze(1)
