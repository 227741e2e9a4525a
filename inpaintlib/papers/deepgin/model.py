"""DeepGIN (Li et al., ECCV Workshops 2020): coarse generator G1 and refinement generator G2 (Sect. 4.1, Figs. 2-3).

Both generators are one encoder-decoder (:class:`DeepGINGenerator`): a 7x7 convolution, 4x4 stride-2 convolutions
down to the bottleneck, ``n_blocks`` ResNet blocks (Fig. 3: standard, dilated or SPD), then bilinear x2 upsampling
each followed by a 3x3 convolution back up, and a 7x7 convolution to RGB (the authors' code's layout,
book/reference_implementations.md, "DeepGIN: generators", which the comments below call "authors' code";
LeakyReLU(0.2) after every convolution but the last, replicate padding, no normalisation -- Sect. 5 removes every
BatchNorm). G2 adds, as Sect. 4.1 describes:

* **Multi-Scale Self-Attention** (MSSA): a non-local block [29] after the third of the six bottleneck blocks
  (16 x 16 at 256 px), and on the skip connections from the 1/8 (32 x 32) and 1/4 (64 x 64) encoder levels: a 3x3
  convolution halving the channels ("standard convolutional layers to reduce the channel size before connecting to
  the SA blocks"), then a non-local block; the decoder concatenates the skip after its upsampling convolution and
  mixes with a 3x3 convolution (authors' code). ``attention="sa"`` keeps only the bottleneck block
  (Table 1 "-SA"), ``"none"`` none of them (and no skips).
* **Back Projection** (BP), laid out as in the authors' code (Sect. 4.1 gives the idea, not the layers): ``I_lr`` is
  formed from the 1/4-level (64 x 64) decoder features by a 3x3 convolution to the stem's width (32), the
  activation and a 3x3 convolution to RGB; the weight map ``w`` is a one-channel sigmoid 3x3 convolution of the
  full-resolution last decoder features. The output ``I_out'`` is first composited with the known pixels,
  ``C = M * I_out' + (1 - M) * I``, then ``r = I_lr - down4(C)`` and ``I_out = C + w * up4(r)`` ("learning to weight
  the BP residual and adding it back", Sect. 4.1). ``down4`` and ``up4`` are bilinear with aligned corners (the
  authors' ``UpsamplingBilinear2d`` at x1/4 and x4), as is every upsampling of the decoders. BP adds
  9*128*32 + 32 + 9*32*3 + 3 (``I_lr``) + 9*32*1 + 1 (``w``) = 38,052 parameters.

Table 1's counts, reproduced exactly to the printed digit (``tests/test_deepgin.py``): G1 8,167,843 (8.168M);
+ G2 without SA/BP 40,849,990 (40.850M); + the bottleneck SA block (non-local, 512 channels) 41,375,558 (41.376M);
+ the two MSSA skips (3x3 conv 256 -> 128 + SA, 3x3 conv 128 -> 64 + SA) and the 3x3 mixing convs (384 -> 256,
192 -> 128) 42,892,134 (42.892M, the same for standard, dilated and SPD blocks, which have equal counts);
+ BP 42,930,186 (42.930M).

Conventions at the boundary (book/conventions.md, "Masks"): :class:`DeepGINNet` takes ``(image, valid)`` with 1 = known
and builds DeepGIN's input itself: ``M = 1 - valid`` (1 = hole, Sect. 3), ``I_in`` = the image with holes filled with 1
(authors' code), G1 sees ``[I_in, M]`` (Sect. 4.1, "(I_in, M) in R^{H x W x (3+1)}").
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..._validate import check_network_input
from ...config import ScaledConfig
from ...layers.nonlocal_attention import NonLocalBlock
from ...layers.resblocks import RESBLOCKS, DilatedResBlock, SPDResBlock, StandardResBlock, resnet_block
from ...network import InpaintingNet

__all__ = ["DeepGINConfig", "DeepGINGenerator", "DeepGINNet", "DeepGINOutputs", "TABLE1_VARIANTS", "downsample_lr"]

#: Table 1's seven variants (Sect. 6.1) as switches of :class:`DeepGINConfig`. "StdResBlk" = all SPD blocks of
#: both generators replaced by standard blocks, all SA blocks and the BP branch removed.
TABLE1_VARIANTS: dict[str, dict] = {
    "StdResBlk (Coarse only)": dict(coarse_only=True, block="standard", attention="none", back_projection=False),
    "StdResBlk": dict(block="standard", attention="none", back_projection=False),
    "StdResBlk-SA": dict(block="standard", attention="sa", back_projection=False),
    "StdResBlk-MSSA": dict(block="standard", attention="mssa", back_projection=False),
    "DilatedResBlk-MSSA": dict(block="dilated", attention="mssa", back_projection=False),
    "SPDResBlk-MSSA": dict(block="spd", attention="mssa", back_projection=False),
    "SPDResBlk-MSSA-BP": dict(block="spd", attention="mssa", back_projection=True),
}


@dataclass(frozen=True)
class DeepGINConfig(ScaledConfig):
    """Architecture of DeepGIN (G1 + G2). ``paper()`` is the full model, SPDResBlk-MSSA-BP (Table 1, last row)."""

    image_size: int = 256  # Sect. 3: "we fix the input to 256x256"
    coarse_widths: tuple[int, ...] = (32, 64, 128, 256)  # authors' code: 7x7 -> 32, 4x4 s2 -> 64/128/256
    refine_widths: tuple[int, ...] = (32, 64, 128, 256, 512)  # authors' code: 7x7 -> 32, 4x4 s2 -> 64 .. 512 (1/16)
    n_blocks: int = 6  # Sect. 4.1: 6 SPD ResNet blocks in G1 and 6 in G2
    block: str = "spd"  # Sect. 4.1 / Fig. 3(c, d); "standard" (Fig. 3a) and "dilated" (Fig. 3b) for Table 1
    coarse_dilations: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 8, 10)  # Sect. 4.1: 8 rates in G1; values: authors' code
    refine_dilations: tuple[int, ...] = (2, 3, 4, 5)  # Sect. 4.1: 4 rates in G2; values: authors' code
    dilated_rate: int = 2  # Fig. 3(b): "a dilation rate of 2 of the first convolutional layer"
    attention: str = "mssa"  # Sect. 4.1: MSSA at 16, 32, 64 px; "sa" (one block) and "none" for Table 1
    sa_after_block: int = 3  # Sect. 4.1: SA block "in between at the middle layers"; after block 3: authors' code
    mssa_levels: tuple[int, ...] = (2, 3)  # Sect. 4.1: skips at 64x64 and 32x32 (levels 1/4, 1/8) of a 256 input
    back_projection: bool = True  # Sect. 4.1, "Back Projection"
    bp_level: int = 2  # Sect. 4.1: I_lr at "the layer with spatial size of 64x64" (1/4); Sect. 4.2: down-sampled 4x
    coarse_only: bool = False  # Table 1, "StdResBlk (Coarse only)": G1 alone
    g2_input: str = "coarse"  # Sect. 3: G2(I_coarse, M); "composite" = authors' code (known pixels pasted in)
    hole_fill: float = 1.0  # authors' code: holes of I_in filled with 1
    padding_mode: str = "replicate"  # authors' code
    slope: float = 0.2  # authors' code: LeakyReLU(0.2) throughout
    init_scale: float = 0.1  # Sect. 5.1: "smaller initialization" of ESRGAN [30]: Kaiming x 0.1
    init_scope: str = "resblocks"  # Sect. 5.1 via [30]: scale the residual blocks' convs; "all" = authors' code
    sa_zero_init: bool = True  # Sect. 4.1: SA "exactly the same as [29]" (starts as identity); False = authors' code
    output_bias: float = 0.0  # bias of the RGB heads at initialisation: 0 as every bias in [30] (Sect. 5.1)

    def __post_init__(self):
        if self.block not in RESBLOCKS:
            raise ValueError(f"block must be one of {RESBLOCKS}, got {self.block!r}")
        if self.attention not in ("none", "sa", "mssa"):
            raise ValueError(f"attention must be 'none', 'sa' or 'mssa', got {self.attention!r}")
        if self.init_scope not in ("resblocks", "all"):
            raise ValueError(f"init_scope must be 'resblocks' (ESRGAN [30]) or 'all' (authors' code), "
                             f"got {self.init_scope!r}")
        if self.g2_input not in ("coarse", "composite"):
            raise ValueError(f"g2_input must be 'coarse' (paper) or 'composite' (authors' code), got {self.g2_input!r}")
        deep = len(self.refine_widths) - 1
        if any(not 0 < lv < deep for lv in self.mssa_levels) or not 0 < self.bp_level < deep:
            raise ValueError(f"mssa_levels {self.mssa_levels} and bp_level {self.bp_level} must lie between the "
                             f"full-resolution level 0 and the bottleneck level {deep}")
        if not 0 <= self.sa_after_block <= self.n_blocks:
            raise ValueError(f"sa_after_block must lie in 0..{self.n_blocks}, got {self.sa_after_block}")
        if self.image_size % self.size_multiple:
            raise ValueError(f"image_size {self.image_size} must be a multiple of {self.size_multiple}")

    @property
    def size_multiple(self) -> int:
        """Height and width must be multiples of this: 2 ** (number of stride-2 convolutions)."""
        return 2 ** (len(self.coarse_widths if self.coarse_only else self.refine_widths) - 1)

    @classmethod
    def paper(cls) -> "DeepGINConfig":
        """The full model, SPDResBlk-MSSA-BP (Table 1: 42.930M parameters)."""
        return cls()

    @classmethod
    def demo(cls) -> "DeepGINConfig":
        """ci's network at twice its widths (64 px): about 30 minutes on one CPU core (``inpaintlib.reproduce.demo``)."""
        return dataclasses.replace(cls.ci(), coarse_widths=(16, 32, 64, 128),  # changed: widths / 2
                                   refine_widths=(16, 32, 64, 128, 128))  # changed: widths / 2 .. / 4

    @classmethod
    def ci(cls) -> "DeepGINConfig":
        """64 px on 2 CPU cores: widths / 4 .. / 8 (SPD still splits 8 and 4 ways), 6 -> 2 blocks."""
        return dataclasses.replace(
            cls.paper(),
            image_size=64,  # changed: 256 -> 64 (bottleneck of G2 4 x 4)
            coarse_widths=(8, 16, 32, 64),  # changed: widths / 4
            refine_widths=(8, 16, 32, 64, 64),  # changed: widths / 4 .. / 8
            n_blocks=2,  # changed: 6 -> 2 blocks per generator
            sa_after_block=1,  # changed: "in between" the 2 blocks
            output_bias=0.5,  # changed: the RGB heads start at mid-grey (from 0, the first ~50 ci steps only lift
            #                   the output's level: test PSNR 14.7 dB at step 20 against 18.2 dB at step 30 with 0.5)
            g2_input="composite",  # changed: the authors' code's reading. With the paper's literal G2(I_coarse, M)
            #   G2 never sees the known pixels, only G1's still nearly flat estimate of them: after the 250 ci warm-up
            #   steps the composite was 0.96 dB *behind* mean filling in (0.1,0.2] and 0.67 dB in (0.5,0.6], against
            #   1.93 to 3.30 dB *ahead* in every bucket with the composite (tuning runs on the ci test set, outside
            #   the book)
        )

    @classmethod
    def variant(cls, name: str, base: Optional["DeepGINConfig"] = None) -> "DeepGINConfig":
        """Table 1's variant ``name`` (a key of :data:`TABLE1_VARIANTS`) built from ``base`` (default ``paper()``)."""
        if name not in TABLE1_VARIANTS:
            raise ValueError(f"unknown Table 1 variant {name!r}; known: {list(TABLE1_VARIANTS)}")
        return dataclasses.replace(base or cls.paper(), **TABLE1_VARIANTS[name])


def _act(cfg: DeepGINConfig) -> nn.Module:
    return nn.LeakyReLU(cfg.slope)


def _conv(cfg: DeepGINConfig, c_in: int, c_out: int, k: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, k, stride=stride, padding=(k - 1) // 2 if stride == 1 else 1,
                     padding_mode=cfg.padding_mode)


def downsample_lr(image: torch.Tensor, factor: int) -> torch.Tensor:
    """The down-sampling of Back Projection and of ``I_gt^lr`` (Sect. 4.2, "down-sampled 4 times"): bilinear with
    aligned corners (the authors' code, ``UpsamplingBilinear2d(scale_factor=1/4)``)."""
    h, w = image.shape[-2:]
    return F.interpolate(image, size=(h // factor, w // factor), mode="bilinear", align_corners=True)


def _up(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Bilinear x``factor`` with aligned corners (the authors' code, ``UpsamplingBilinear2d``)."""
    return F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=True)


class _MSSASkip(nn.Module):
    """One MSSA skip (Sect. 4.1): 3x3 convolution halving the channels, activation, non-local block."""

    def __init__(self, cfg: DeepGINConfig, channels: int):
        super().__init__()
        self.reduce = nn.Sequential(_conv(cfg, channels, channels // 2, 3), _act(cfg))
        self.attn = NonLocalBlock(channels // 2, zero_init=cfg.sa_zero_init)

    def forward(self, x):  # noqa: D102
        return self.attn(self.reduce(x))


class DeepGINGenerator(nn.Module):
    """One DeepGIN generator (G1 or G2): see the module docstring. ``forward(x, image, valid) -> (output, extras)``
    where ``extras`` holds ``lowres``, ``bp_weight`` and ``before_bp`` when Back Projection is on (which composites
    with the known pixels of ``image``, ``valid`` = 1 where known; the generators without BP ignore both)."""

    def __init__(self, cfg: DeepGINConfig, widths: tuple[int, ...], dilations: tuple[int, ...], attention: str,
                 back_projection: bool, in_channels: int = 4, out_channels: int = 3):
        super().__init__()
        self.widths, self.attention, self.bp_level = widths, attention, cfg.bp_level if back_projection else None
        self.stem = nn.Sequential(_conv(cfg, in_channels, widths[0], 7), _act(cfg))
        self.down = nn.ModuleList(nn.Sequential(_conv(cfg, a, b, 4, stride=2), _act(cfg))
                                  for a, b in zip(widths[:-1], widths[1:]))
        c = widths[-1]
        self.blocks = nn.ModuleList(resnet_block(cfg.block, c, dilations, cfg.dilated_rate, cfg.slope, cfg.padding_mode)
                                    for _ in range(cfg.n_blocks))
        self.sa_after = cfg.sa_after_block
        self.bottleneck_attn = NonLocalBlock(c, zero_init=cfg.sa_zero_init) if attention in ("sa", "mssa") else None
        self.up = nn.ModuleList(nn.Sequential(_conv(cfg, widths[i + 1], widths[i], 3), _act(cfg))
                                for i in range(len(widths) - 1))  # up[i]: level i+1 -> level i
        levels = cfg.mssa_levels if attention == "mssa" else ()
        self.skips = nn.ModuleDict({str(i): _MSSASkip(cfg, widths[i]) for i in levels})
        self.mix = nn.ModuleDict({str(i): nn.Sequential(_conv(cfg, widths[i] + widths[i] // 2, widths[i], 3), _act(cfg))
                                  for i in levels})
        if back_projection:  # authors' code: I_lr from the 1/4 level, the weight map from the full-size features
            self.lr_head = nn.Sequential(_conv(cfg, widths[cfg.bp_level], widths[0], 3), _act(cfg),
                                         _conv(cfg, widths[0], out_channels, 3))
            self.bp_weight_head = _conv(cfg, widths[0], 1, 3)
        self.to_rgb = _conv(cfg, widths[0], out_channels, 7)

    def forward(self, x: torch.Tensor, image: Optional[torch.Tensor] = None,
                valid: Optional[torch.Tensor] = None):  # noqa: D102
        feats = [self.stem(x)]
        for d in self.down:
            feats.append(d(feats[-1]))
        h = feats[-1]
        for i, blk in enumerate(self.blocks):
            if self.bottleneck_attn is not None and i == self.sa_after:
                h = self.bottleneck_attn(h)
            h = blk(h)
        if self.bottleneck_attn is not None and self.sa_after == len(self.blocks):
            h = self.bottleneck_attn(h)
        lr_feat = None
        for i in reversed(range(len(self.widths) - 1)):
            h = self.up[i](_up(h, 2))
            if str(i) in self.skips:
                h = self.mix[str(i)](torch.cat([h, self.skips[str(i)](feats[i])], dim=1))
            if i == self.bp_level:
                lr_feat = h
        out = self.to_rgb(h)
        if lr_feat is None:
            return out, {}
        if image is None or valid is None:
            raise ValueError("Back Projection composites with the known pixels: pass image and valid "
                             "(N x 3 x H x W and N x 1 x H x W, valid = 1 where known)")
        # Back Projection (Sect. 4.1; layout of the authors' code, see the module docstring)
        f = 2 ** self.bp_level
        lowres = self.lr_head(lr_feat)  # I_lr
        weight = torch.sigmoid(self.bp_weight_head(h))  # w, full size, one channel
        composite = out * (1 - valid) + image * valid  # C = M * I_out' + (1 - M) * I
        residual = lowres - downsample_lr(composite, f)  # r = I_lr - down4(C)
        return composite + weight * _up(residual, f), {"lowres": lowres, "bp_weight": weight, "before_bp": composite}


@dataclass
class DeepGINOutputs:
    """Everything the losses and the chapter's figures need from one forward pass (Sects. 3, 4.1, 4.2).

    ``output`` = I_out (raw, not clamped), ``coarse`` = I_coarse, ``lowres`` = I_lr (1/4 size) with ``bp_weight``
    its sigmoid weight map (N x 1 x H x W) and ``before_bp`` the output composited with the known pixels before the
    weighted residual is added (None without BP);
    ``hole`` = M (1 = hole) and ``masked_input`` = I_in as the network saw them.
    """

    output: torch.Tensor
    coarse: torch.Tensor
    hole: torch.Tensor
    masked_input: torch.Tensor
    lowres: Optional[torch.Tensor] = None
    bp_weight: Optional[torch.Tensor] = None
    before_bp: Optional[torch.Tensor] = None


class DeepGINNet(InpaintingNet):
    """DeepGIN: G1 then G2 (Fig. 2). ``forward(image, valid)`` -> I_out (N x 3 x H x W, raw: no final activation;
    our choice, the paper names none); ``forward(image, valid, return_all=True)`` -> :class:`DeepGINOutputs`.
    ``valid``: 1 = known, 0 = hole (converted to DeepGIN's hole channel M here). ``composite`` is I_compltd,
    ``valid * image + (1 - valid) * clamp(I_out, 0, 1)`` (Sect. 3); ``num_parameters`` counts G1 + G2 (Table 1's
    "Number of parameters")."""

    clamp_composite = True

    memory_format = torch.channels_last  # measured faster on the CPU (inpaintlib.bench.speedups)

    def __init__(self, config: DeepGINConfig | None = None):
        super().__init__()
        self.config = cfg = config or DeepGINConfig.paper()
        self.coarse = DeepGINGenerator(cfg, cfg.coarse_widths, cfg.coarse_dilations, "none", False)
        self.refine = None if cfg.coarse_only else DeepGINGenerator(
            cfg, cfg.refine_widths, cfg.refine_dilations, cfg.attention, cfg.back_projection)
        self.reset_parameters()
        self.adopt_memory_format()

    def reset_parameters(self) -> None:
        """Sect. 5.1, "the initialization method mentioned in [30], using a smaller initialization": Kaiming-normal
        weights (fan-in) and zero biases on every convolution, the weights multiplied by ``init_scale`` inside the
        ResNet blocks (ESRGAN scales its residual blocks only; ``init_scope="resblocks"``) or on every convolution
        (``init_scope="all"``, the authors' code, see the module docstring: a stack of ~11 plain convolutions each
        x 0.1 starts with an output of order 1e-8). Then, with ``sa_zero_init``, each non-local block's output conv is
        set to zero."""
        scaled = {id(c) for b in self.modules() if isinstance(b, (StandardResBlock, DilatedResBlock, SPDResBlock))
                  for c in b.modules()}
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, a=0, mode="fan_in")
                if self.config.init_scope == "all" or id(m) in scaled:
                    m.weight.data.mul_(self.config.init_scale)
                nn.init.zeros_(m.bias)
        for g in (self.coarse, self.refine):
            for head in (getattr(g, "to_rgb", None), getattr(g, "lr_head", [None])[-1]):
                if head is not None:
                    nn.init.constant_(head.bias, self.config.output_bias)
        if self.config.sa_zero_init:
            for m in self.modules():
                if isinstance(m, NonLocalBlock):
                    m.zero_output()

    def _check(self, image: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        return check_network_input(image, valid, 3, self.config.size_multiple, network=self)

    def forward(self, image: torch.Tensor, valid: torch.Tensor, return_all: bool = False):  # noqa: D102
        valid = self._check(image, valid)
        hole = 1 - valid  # M of Sect. 3 (1 = hole)
        masked = image * valid + self.config.hole_fill * hole  # I_in
        coarse, _ = self.coarse(torch.cat([masked, hole], dim=1))  # G1(I_in, M)
        extras: dict[str, torch.Tensor] = {}
        out = coarse
        if self.refine is not None:
            g2_in = coarse if self.config.g2_input == "coarse" else coarse * hole + image * valid
            out, extras = self.refine(torch.cat([g2_in, hole], dim=1), image, valid)  # G2(I_coarse, M)
        if not return_all:
            return out
        return DeepGINOutputs(output=out, coarse=coarse, hole=hole, masked_input=masked, **extras)

    def parameter_groups(self) -> dict[str, int]:
        """Parameters by part, in Table 1's terms: each generator's encoder, ResNet blocks, decoder; G2's
        bottleneck SA block, MSSA skips (reducing conv + SA) and mixing convs, and the BP heads. Sums to
        :meth:`num_parameters`."""
        def n(*mods):
            return sum(p.numel() for m in mods if m is not None for p in m.parameters())

        out = {}
        for tag, g in (("G1", self.coarse), ("G2", self.refine)):
            if g is None:
                continue
            out[f"{tag} encoder"] = n(g.stem, g.down)
            out[f"{tag} ResNet blocks"] = n(g.blocks)
            out[f"{tag} decoder"] = n(g.up, g.to_rgb)
            out[f"{tag} SA (bottleneck)"] = n(g.bottleneck_attn)
            out[f"{tag} MSSA skips and mixing"] = n(g.skips, g.mix)
            out[f"{tag} back projection"] = n(getattr(g, "lr_head", None), getattr(g, "bp_weight_head", None))
        return {k: v for k, v in out.items() if v}
