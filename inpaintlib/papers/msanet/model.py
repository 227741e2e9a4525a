"""MSA-Net (Qin, Bai, Zhao, "Multi-scale attention network for image inpainting", CVIU 2021), Sect. 3, Fig. 1.

Feature extraction -> multi-scale attention group (MSAG, several MSAUs) -> image restoration (three IRUs) -> output.
Our text copy of the paper lacks its figures (they are in the published article); what the text leaves open, this
module chooses (each repeated at the field):

* feature extraction: a 7x7 convolution (64 maps), then one stride-2 3x3 convolution (128 maps) that takes the mask
  as an extra channel and max-pools it (Sect. 3.4 puts the mask update in "the downsampling layers of feature
  extraction and MSAG");
* two MSAUs, each downsampling by 2 (Eq. 1): with the feature extractor's one downsampling, the three stride-2
  transposed convolutions of the restoration (Eq. 10, i <= 3) return to full size;
* MSAU width: 128 maps after the downsampling convolution (Table 1's parameter counts hold only for a 128-map input),
  4 x 48 = 192 maps out (Table 1 "Output maps"), for both MSAUs;
* skips: each IRU after the first concatenates the encoder map of its resolution (U-Net style); the output layer
  is a 3x3 convolution on [U_3, the first feature-extraction map, masked image, mask] and a sigmoid, so the output
  is an image in [0, 1]. Without the full-resolution map the ci network stayed below mean filling after 400 steps
  (it filled holes with a flat colour); with it, it was ahead in every bucket after 200 (measured at ci scale);
* attention weights are squashed by a sigmoid (Eqs. 5 and 8 print none): ``squash=False`` is the literal reading.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import nn

from ..._validate import check_network_input
from ...config import ScaledConfig
from ...network import InpaintingNet
from ...layers.attention import ATTENTIONS
from ...layers.multiscale_attention import MSAU, STRUCTURES, RestorationUnit
from ...layers.partial_conv import maxpool_mask_update

__all__ = ["MSANetConfig", "MSANet", "LOSS_FEATURES"]

#: Feature maps the perceptual and style losses compare (Sect. 3.5: "aggregated multi-scale layer and
#: deconvolutional layers in image restoration").
LOSS_FEATURES = ("msag", "iru1", "iru2", "iru3")


@dataclass(frozen=True)
class MSANetConfig(ScaledConfig):
    """Architecture of MSA-Net; ``paper()`` is Sect. 3 / Table 1, ``demo()``/``ci()`` shrink it."""

    image_size: int = 256  # Sect. 4: "All the masks and images are with the size of 256 x 256"
    fe_kernel: int = 7  # our choice (first feature-extraction convolution)
    fe_widths: tuple[int, int] = (64, 128)  # our choice; the second (stride 2) feeds MSAU_1 with 128 maps
    msau_mid: int = 128  # Table 1: 128 input maps reproduce every printed parameter count
    msau_out: int = 192  # Table 1: "Output maps 192"
    n_msau: int = 2  # our choice ("several MSAUs", Sect. 3.2): 1 + 2 downsamplings = 3 IRUs of Eq. 10
    rates: tuple[int, ...] = (1, 2, 4, 8)  # Sect. 3.2: dilation rates 1, 2, 4, 8 (Fig. 3's "DiRate = 0" is a typo)
    branch_channels: int = 48  # Table 1: 48 maps per dilated convolution
    down_kernel: int = 3  # our choice: K of Eq. 1
    iru_widths: tuple[int, int, int] = (128, 64, 32)  # our choice: three IRUs (Eq. 10, 0 < i <= 3)
    structure: str = "msau"  # Table 2 ablation: "msau" | "single" | "inception_v1" | "inception_v3"
    use_mum: bool = True  # Sect. 3.4 / Table 3: the max-pool mask update; False = "No-MUM"
    channel_attention: bool = True  # Table 4 "C-A": augmented channel attention in MSAG (Sect. 3.3.2)
    spatial_attention: bool = True  # Table 4 "S-A": fusing spatial attention in MSAG (Sect. 3.3.1)
    restoration_attention: bool = True  # Table 4 "CS-A": channel-spatial attention in IR (Sect. 3.3.3)
    attention: str = "msanet"  # Table 5: "msanet" | "cbam" | "sca" | "se" (SE replaces the channel attention only)
    reduction: int = 4  # Sect. 3.3.2: r = 4
    squash: bool = True  # our choice: sigmoid on attention weights (Eqs. 5, 8 print none); False = literal
    structure_bias: bool = False  # Table 1: the printed counts hold only without biases
    skips: bool = True  # our choice: encoder maps concatenated into IRU_2 and IRU_3

    def __post_init__(self):
        if self.structure not in STRUCTURES:
            raise ValueError(f"structure must be one of {STRUCTURES}, got {self.structure!r}")
        if self.attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {ATTENTIONS}, got {self.attention!r}")
        if self.n_msau != 2:
            raise ValueError("n_msau must be 2: three restoration units undo three downsamplings (1 + n_msau)")
        if self.image_size % self.size_multiple:
            raise ValueError(f"image_size {self.image_size} must be a multiple of {self.size_multiple}")

    @property
    def size_multiple(self) -> int:
        """Inputs must be multiples of 2**(1 + n_msau) (one downsampling in feature extraction, one per MSAU)."""
        return 2 ** (1 + self.n_msau)

    @classmethod
    def paper(cls) -> "MSANetConfig":
        return cls()

    @classmethod
    def demo(cls) -> "MSANetConfig":
        """64 px, widths halved (twice ci's): about 30 minutes on one CPU core (``inpaintlib.reproduce.demo``)."""
        return dataclasses.replace(cls.paper(), image_size=64,  # changed: 256 -> 64 (the CPU budget)
                                   fe_widths=(32, 64), msau_mid=64, msau_out=96, branch_channels=24,  # changed: / 2
                                   iru_widths=(64, 32, 16))  # changed: / 2

    @classmethod
    def ci(cls) -> "MSANetConfig":
        """64 px, widths / 4 (2 CPU cores). Not smaller: at 64 px MSAU_2 works on 8x8 maps, where the rate-8
        branch's outer taps already fall in the zero padding; at 32 px they would see nothing but padding."""
        return dataclasses.replace(cls.paper(), image_size=64,  # changed: 256 -> 64
                                   fe_widths=(16, 32), msau_mid=32, msau_out=48, branch_channels=12,  # changed: / 4
                                   iru_widths=(32, 16, 8))  # changed: / 4

    @property
    def width(self) -> float:
        """Width multiplier of the Inception alternatives relative to Table 1 (``branch_channels / 48``)."""
        return self.branch_channels / 48


class MSANet(InpaintingNet):
    """MSA-Net: ``forward(image, valid) -> output`` (N x 3 x H x W in [0, 1]); ``forward(..., return_features=True)``
    also returns the named feature maps of :data:`LOSS_FEATURES` (Sect. 3.5); ``composite`` pastes the known pixels
    back; ``trace`` returns every intermediate map and mask for the chapter's figures."""

    def __init__(self, config: MSANetConfig | None = None):
        super().__init__()
        self.config = cfg = config or MSANetConfig.paper()
        c1, c2 = cfg.fe_widths
        self.fe1 = nn.Sequential(nn.Conv2d(4, c1, cfg.fe_kernel, padding=cfg.fe_kernel // 2), nn.ReLU())
        self.fe2 = nn.Sequential(nn.Conv2d(c1 + 1, c2, 3, stride=2, padding=1), nn.ReLU())  # downsampling + mask
        spatial = cfg.attention if cfg.spatial_attention and cfg.attention != "se" else (
            "msanet" if cfg.spatial_attention else None)
        channel = cfg.attention if cfg.channel_attention else None
        units, c_in = [], c2
        for _ in range(cfg.n_msau):
            units.append(MSAU(c_in, cfg.msau_out, cfg.msau_mid, cfg.structure, cfg.rates, cfg.branch_channels,
                              stride=2, kernel_size=cfg.down_kernel, spatial=spatial, channel=channel,
                              squash=cfg.squash, reduction=cfg.reduction, structure_bias=cfg.structure_bias,
                              width=cfg.width))
            c_in = cfg.msau_out
        self.msag = nn.ModuleList(units)
        skip_widths = (0, cfg.msau_out, c2) if cfg.skips else (0, 0, 0)
        ir_attention = ("msanet" if cfg.attention == "se" else cfg.attention) if cfg.restoration_attention else None
        ir_channel = cfg.attention if cfg.attention == "se" else None
        irus, c_in = [], cfg.msau_out
        for w, s in zip(cfg.iru_widths, skip_widths):
            irus.append(RestorationUnit(c_in, w, s, ir_attention, ir_channel, cfg.squash, cfg.reduction))
            c_in = w
        self.ir = nn.ModuleList(irus)
        c_fine = c1 if cfg.skips else 0  # our choice: the full-resolution features join the output layer (U-Net)
        self.out = nn.Conv2d(c_in + c_fine + 4, 3, 3, padding=1)  # our choice: [U_3, FE conv, masked image, mask]

    def _check(self, image, valid):
        return check_network_input(image, valid, 3, self.config.size_multiple, network=self)

    def trace(self, image: torch.Tensor, valid: torch.Tensor, check: bool = True) -> dict:
        """Every stage's features and masks: ``fe`` (list of (features, valid)), ``msau`` (per unit the parts of
        :meth:`MSAU.forward`), ``msag``, ``iru1..3``, ``output``. ``check=False`` skips the input checks (the
        loss-network passes, whose inputs the loss built)."""
        valid = self._check(image, valid) if check else valid
        x = image * valid  # holes never enter the network
        mum = self.config.use_mum
        f1 = self.fe1(torch.cat([x, valid], 1))
        vin = valid if mum else torch.ones_like(valid)  # "No-MUM": no mask beyond the input layer
        v1 = maxpool_mask_update(vin, 3, 2, padding=1)  # Sect. 3.4: max-pool mask update at the downsampling
        f2 = self.fe2(torch.cat([f1 * vin, vin], 1)) * v1
        t = {"fe": [(f1, valid), (f2, v1)], "msau": []}
        h, v, skips = f2, v1, [f2]
        for unit in self.msag:
            h, v, parts = unit(h, v, use_mask=mum, return_parts=True)
            parts.update(out=h, valid=v)
            t["msau"].append(parts)
            skips.append(h)
        t["msag"] = h
        skips.pop()
        u = h
        for i, iru in enumerate(self.ir):
            u = iru(u, skips.pop() if (i > 0 and self.config.skips) else None)
            t[f"iru{i + 1}"] = u
        fine = [f1 * vin] if self.config.skips else []
        t["output"] = torch.sigmoid(self.out(torch.cat([u, *fine, x, valid], 1)))
        return t

    def forward(self, image: torch.Tensor, valid: torch.Tensor, return_features: bool = False, check: bool = True):
        t = self.trace(image, valid, check)
        if return_features:
            return t["output"], {k: t[k] for k in LOSS_FEATURES}
        return t["output"]

    @torch.no_grad()
    def parts(self) -> dict[str, nn.Module]:
        """The network's parts by name (for parameter and MAC tables)."""
        d = {"FE conv": self.fe1, "FE downsampling": self.fe2}
        d.update({f"MSAU_{i + 1}": u for i, u in enumerate(self.msag)})
        d.update({f"IRU_{i + 1}": u for i, u in enumerate(self.ir)})
        d["output conv"] = self.out
        return d

    def architecture_table(self) -> list[dict]:
        """Fig. 1 / Fig. 2 / Fig. 8 as a layer table read from the module objects."""
        rows = []
        for name, mod in self.parts().items():
            convs = [m for m in mod.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
            row = {"part": name, "parameters": sum(p.numel() for p in mod.parameters()), "convolutions": len(convs)}
            if isinstance(mod, MSAU):
                row.update(detail=f"down {mod.kernel_size}x{mod.kernel_size}/s{mod.stride} -> {mod.mid_channels}; "
                           f"{mod.structure_kind} {len(mod.structure.branches)} branches -> {mod.maps} maps"
                           + (f" (rates {', '.join(map(str, mod.rates))})" if mod.rates else "")
                           + f"; SA {type(mod.spatial[0]).__name__}; CA {type(mod.channel).__name__}; "
                           f"1x1 -> {mod.out_channels}")
            elif isinstance(mod, RestorationUnit):
                att = mod.attention
                row.update(detail=f"deconv 4x4/s2 {mod.in_channels}+{mod.skip_channels} -> {mod.out_channels}; "
                           + (f"CA {type(att.channel).__name__}, SA {type(att.spatial).__name__}"
                              if hasattr(att, "channel") else "no attention"))
            else:
                row.update(detail=", ".join(f"{type(c).__name__} {c.in_channels}->{c.out_channels} "
                                            f"k{c.kernel_size[0]} s{c.stride[0]}" for c in convs))
            rows.append(row)
        return rows
