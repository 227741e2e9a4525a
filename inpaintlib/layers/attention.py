"""Spatial and channel attention blocks: MSA-Net's own (Qin et al. 2021) and the ones its Table 5 compares with.

Every block maps ``x`` (N x C x H x W) to a tensor of the same shape and exposes its weights through
``weights(x)`` so the chapter can draw them (Figs. 5 and 7).

* :class:`FusingSpatialAttention` -- MSA-Net Sect. 3.3.1, Eqs. 5-6, Fig. 4;
* :class:`AugmentedChannelAttention` -- MSA-Net Sect. 3.3.2, Eqs. 7-9, Fig. 6;
* :class:`ChannelSpatialAttention` -- MSA-Net Sect. 3.3.3, Eq. 10: channel attention, then spatial attention;
* :class:`CBAM` -- Woo et al., ECCV 2018, as defined in that paper: a channel gate from average- and max-pooled
  descriptors through one shared MLP (reduction 16), a sigmoid, then a spatial gate from the channel-wise average and
  max maps through a 7x7 convolution and a sigmoid, applied in that order;
* :class:`SEBlock` -- Hu et al., "Squeeze-and-excitation networks", as defined in that paper: global average pool,
  FC to C/r, ReLU, FC to C, sigmoid, channel-wise scaling (r = 16);
* :class:`SCAAttention` -- Chen et al., CVPR 2017 (SCA-CNN), channel-wise then spatial attention (their "C-S"
  order) as defined in that paper, ``beta = softmax(W'(tanh(W_c (x) v + b_c)) + b')`` over channels from the channel
  means ``v`` and ``alpha = softmax(W_i tanh(W_s V + b_s) + b_i)`` over positions, *without* the LSTM hidden-state
  term (there is no caption decoder here). The softmax weights sum to 1; we multiply them by the number of channels
  (positions) so an untrained block leaves the features' scale roughly unchanged (our choice).

MSA-Net's Eqs. 5 and 8 print no squashing function. ``squash=True`` (our default) puts a sigmoid on the attention
weights, as CBAM and SE do; ``squash=False`` is the literal reading (weights used as computed).
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["FusingSpatialAttention", "AugmentedChannelAttention", "ChannelSpatialAttention", "CBAMChannelGate",
           "CBAMSpatialGate", "CBAM", "SEBlock", "SCAChannelAttention", "SCASpatialAttention", "SCAAttention",
           "spatial_attention", "channel_attention", "ATTENTIONS"]


def _squash(w: torch.Tensor, squash: bool) -> torch.Tensor:
    return torch.sigmoid(w) if squash else w


class FusingSpatialAttention(nn.Module):
    """Fusing spatial attention (MSA-Net Sect. 3.3.1, Fig. 4).

    A "gradual feature extraction model" summarises the input with fewer and fewer maps, ``F_1`` (C/2) and ``F_2``
    (C/4), each a 3x3 convolution and ReLU, and ends in one map ``Phi_f`` (3x3 convolution, 1 channel). With the
    channel-wise maximum ``Phi_Max_Pooling`` and mean ``Phi_AVG_Pooling`` of the input (after Woo et al.),

        W_s = s_1^{3x3}([Phi_f, Phi_Max_Pooling, Phi_AVG_Pooling])          (Eq. 5)
        F_SA = F (x) W_s                                                      (Eq. 6)

    The widths C/2, C/4 of ``F_1``, ``F_2`` are our choice (the paper: "with less feature maps").
    """

    def __init__(self, channels: int, squash: bool = True):
        super().__init__()
        c1, c2 = max(channels // 2, 1), max(channels // 4, 1)
        self.gradual = nn.Sequential(nn.Conv2d(channels, c1, 3, padding=1), nn.ReLU(),  # F_1
                                     nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(),  # F_2
                                     nn.Conv2d(c2, 1, 3, padding=1))  # Phi_f: one channel
        self.fuse = nn.Conv2d(3, 1, 3, padding=1)  # s_1^{3x3} of Eq. 5
        self.squash = squash

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        """``W_s`` (N x 1 x H x W), Eq. 5."""
        phi_f = self.gradual(x)
        phi_max = x.amax(dim=1, keepdim=True)
        phi_avg = x.mean(dim=1, keepdim=True)
        return _squash(self.fuse(torch.cat([phi_f, phi_max, phi_avg], dim=1)), self.squash)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weights(x)  # Eq. 6


class AugmentedChannelAttention(nn.Module):
    """Augmented channel attention (MSA-Net Sect. 3.3.2, Fig. 6).

    ``W_a`` = global average of the input (the "globally average activation"). Channel refinement: a shallow
    feature ``F_s`` squeezed in height and width (3x3 convolution with stride 2 and ReLU, n = C channels: our
    choice), ``F_E = tau(f_n^{3x3}(F_s))`` (Eq. 7), global average pooling, a 1x1 convolution to the shared
    perception information of size C/r with r = 4 (ReLU, our choice), and a 1x1 convolution back to C channels
    giving ``W_r``. Then

        W_c = W_a + W_r                                                       (Eq. 8)
        F_CA = W_c (.) F                                                      (Eq. 9)
    """

    def __init__(self, channels: int, reduction: int = 4, squash: bool = True):
        super().__init__()
        n = channels
        self.squeeze = nn.Sequential(nn.Conv2d(channels, n, 3, stride=2, padding=1), nn.ReLU())  # F_s
        self.extract = nn.Sequential(nn.Conv2d(n, n, 3, padding=1), nn.ReLU())  # Eq. 7: F_E
        self.spi = nn.Sequential(nn.Conv2d(n, max(channels // reduction, 1), 1), nn.ReLU())  # SPI, size C/r
        self.restore = nn.Conv2d(max(channels // reduction, 1), channels, 1)  # W_r, C channels
        self.reduction, self.squash = reduction, squash

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        """``W_c`` (N x C x 1 x 1), Eq. 8."""
        w_a = x.mean(dim=(2, 3), keepdim=True)
        f_e = self.extract(self.squeeze(x))
        w_r = self.restore(self.spi(f_e.mean(dim=(2, 3), keepdim=True)))
        return _squash(w_a + w_r, self.squash)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weights(x)  # Eq. 9


class ChannelSpatialAttention(nn.Module):
    """``s(c(x))``: a channel attention, then a spatial attention (MSA-Net Eq. 10, "progressive channel-spatial
    attention"; also CBAM's and SCA-CNN's order). Either part may be ``nn.Identity()``."""

    def __init__(self, channel: nn.Module, spatial: nn.Module):
        super().__init__()
        self.channel, self.spatial = channel, spatial

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.spatial(self.channel(x))


class CBAMChannelGate(nn.Module):
    """CBAM's channel attention (Woo et al. 2018): ``sigmoid(MLP(avgpool x) + MLP(maxpool x))``, shared MLP with
    reduction r (16 in CBAM)."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.mlp = nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, channels, 1))

    def weights(self, x):
        return torch.sigmoid(self.mlp(x.mean(dim=(2, 3), keepdim=True)) + self.mlp(x.amax(dim=(2, 3), keepdim=True)))

    def forward(self, x):
        return x * self.weights(x)


class CBAMSpatialGate(nn.Module):
    """CBAM's spatial attention (Woo et al. 2018): ``sigmoid(conv7x7([mean_c x, max_c x]))``."""

    def __init__(self, kernel_size: int = 7):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2)

    def weights(self, x):
        return torch.sigmoid(self.conv(torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], 1)))

    def forward(self, x):
        return x * self.weights(x)


class CBAM(ChannelSpatialAttention):
    """CBAM (Woo et al. 2018): channel gate, then spatial gate."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__(CBAMChannelGate(channels, reduction), CBAMSpatialGate())


class SEBlock(nn.Module):
    """Squeeze-and-excitation (Hu et al.): ``x * sigmoid(FC(ReLU(FC(GAP x))))`` with reduction r = 16."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.fc = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(), nn.Linear(hidden, channels))

    def weights(self, x):
        return torch.sigmoid(self.fc(x.mean(dim=(2, 3))))[..., None, None]

    def forward(self, x):
        return x * self.weights(x)


class SCAChannelAttention(nn.Module):
    """SCA-CNN channel-wise attention (Chen et al. 2017, Eqs. 7-8, without the hidden state):
    ``b = tanh(W_c (x) v + b_c)`` with ``v`` the channel means and ``W_c`` in R^k (outer product, k x C),
    ``beta = softmax(W'^T b + b')`` over the C channels; features scaled by ``C * beta`` (our choice, see module)."""

    def __init__(self, channels: int, hidden: int = 16):
        super().__init__()
        self.w_c = nn.Parameter(torch.randn(hidden) * 0.1)
        self.b_c = nn.Parameter(torch.zeros(hidden))
        self.w_out = nn.Linear(hidden, 1)

    def weights(self, x):
        v = x.mean(dim=(2, 3))  # N x C
        b = torch.tanh(v[..., None] * self.w_c + self.b_c)  # N x C x k
        beta = torch.softmax(self.w_out(b).squeeze(-1), dim=1)  # N x C
        return (beta * x.shape[1])[..., None, None]

    def forward(self, x):
        return x * self.weights(x)


class SCASpatialAttention(nn.Module):
    """SCA-CNN spatial attention (Chen et al. 2017, Eqs. 4-5, without the hidden state):
    ``a = tanh(W_s V + b_s)`` per position (a 1x1 convolution to k channels), ``alpha = softmax(W_i a + b_i)`` over
    the H*W positions; features scaled by ``H*W * alpha`` (our choice, see module)."""

    def __init__(self, channels: int, hidden: int = 16):
        super().__init__()
        self.w_s = nn.Conv2d(channels, hidden, 1)
        self.w_i = nn.Conv2d(hidden, 1, 1)

    def weights(self, x):
        n, _, h, w = x.shape
        e = self.w_i(torch.tanh(self.w_s(x))).view(n, -1)
        return (torch.softmax(e, dim=1) * (h * w)).view(n, 1, h, w)

    def forward(self, x):
        return x * self.weights(x)


class SCAAttention(ChannelSpatialAttention):
    """SCA-CNN in its channel-then-spatial ("C-S") order."""

    def __init__(self, channels: int, hidden: int = 16):
        super().__init__(SCAChannelAttention(channels, hidden), SCASpatialAttention(channels, hidden))


#: The attention families of MSA-Net's Table 5 (and "msanet", the paper's own).
ATTENTIONS = ("msanet", "cbam", "sca", "se")


def spatial_attention(kind: str, channels: int, squash: bool = True) -> nn.Module:
    """The spatial attention of family ``kind`` (SE has none: MSA-Net's own is kept, as in Table 5's SE-Net row)."""
    if kind in ("msanet", "se"):
        return FusingSpatialAttention(channels, squash)
    if kind == "cbam":
        return CBAMSpatialGate()
    if kind == "sca":
        return SCASpatialAttention(channels)
    raise ValueError(f"attention must be one of {ATTENTIONS}, got {kind!r}")


def channel_attention(kind: str, channels: int, reduction: int = 4, squash: bool = True) -> nn.Module:
    """The channel attention of family ``kind`` (MSA-Net's own uses ``reduction`` r = 4; CBAM and SE use 16)."""
    if kind == "msanet":
        return AugmentedChannelAttention(channels, reduction, squash)
    if kind == "cbam":
        return CBAMChannelGate(channels)
    if kind == "se":
        return SEBlock(channels)
    if kind == "sca":
        return SCAChannelAttention(channels)
    raise ValueError(f"attention must be one of {ATTENTIONS}, got {kind!r}")
