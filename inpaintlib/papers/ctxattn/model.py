"""The coarse-to-fine generator with contextual attention (Charef & Ouqour 2024, Sect. III.A-C, Figs. 1-2).

The paper describes the network only in words: "a coarse network and a refinement network", the coarse network
"takes the raw image along with the binary mask as input", the refinement network "leverag[es] higher-resolution
features and contextual information", and a contextual attention layer in six steps (Fig. 2). It gives no layer,
width or activation. Everything concrete below is DeepFill v1 (Yu et al., CVPR 2018) as listed in
book/reference_implementations.md ("DeepFill v1: generator" and "DeepFill v1: contextual attention"), which this
paper's description matches and does not cite; each such value says "DeepFill v1".

* Internally images are in [-1, 1]; the generator sees 5 channels: the image with holes zeroed, a ones channel and
  the hole map (DeepFill v1). Convolutions with ELU and no normalisation; "up" is nearest x2 then a 3x3 convolution;
  the last convolution is linear and its output clipped to [-1, 1].
* Stage 1 (coarse, Sect. III.A): 5x5 c, s2 2c, 2c, s2 4c, 4c, 4c, dilated 4c at rates 2/4/8/16, 4c, 4c, up 2c, 2c,
  up c, c/2, 3.
* Stage 2 (refinement, Sect. III.A-C) on the coarse output composited with the known pixels: a dilated-convolution
  branch (5x5 c, s2 c, 2c, s2 2c, 4c, 4c, dilated 4c at 2/4/8/16) and a contextual-attention branch (5x5 c, s2 c,
  2c, s2 4c, 4c, 4c with ReLU, contextual attention on the 1/4-resolution features, 4c, 4c), concatenated, then
  4c, 4c, up 2c, 2c, up c, c/2, 3. The two branches differ at their second stride-2 convolution (2c in the dilated
  branch, 4c in the attention branch), as in DeepFill v1's code.

With irregular masks the attention branch can go idle: at 64 px the matching grid is 8 x 8, and with a large
stroke mask every 3x3 window may touch the hole, leaving no usable background patch (the layer then outputs zeros;
seen at ci scale in notebook 4 for 40-50% holes).

The interface follows the library (book/conventions.md): ``forward(image, valid)`` with images in [0, 1] and ``valid``
1 = known; the output is the refined image in [0, 1].
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..._validate import check_network_input
from ...config import ScaledConfig
from ...layers.contextual_attention import EXCLUSIONS, ContextualAttention
from ...network import InpaintingNet

__all__ = ["CtxAttnConfig", "CtxAttnNet", "ConvSpec"]


@dataclass(frozen=True)
class CtxAttnConfig(ScaledConfig):
    """Architecture of the CtxAttn generator. ``paper()`` is DeepFill v1 where the paper is silent (everything but
    the two stages and the attention layer's steps); ``demo()``/``ci()`` shrink the image and the width."""

    image_size: int = 256  # DeepFill v1 trains at 256; the paper shows 512 px results (Fig. 3) only
    base_channels: int = 32  # DeepFill v1: channel base c = 32 (the paper gives no width)
    dilations: tuple[int, ...] = (2, 4, 8, 16)  # DeepFill v1: dilated convs in the coarse network
    refine: bool = True  # Sect. III.A: a coarse network, then a refinement network (False = coarse only, ablation)
    attention: bool = True  # Sect. III.B-C: the contextual-attention branch (False = conv branch only, ablation)
    ca_patch: int = 3  # DeepFill v1: 3x3 patches (Fig. 2 gives no size)
    ca_rate: int = 2  # DeepFill v1: matching on features downsampled by 2
    ca_softmax_scale: float = 10.0  # DeepFill v1: softmax scale 10 (Eq. 1 has no scale)
    ca_fuse: bool = True  # DeepFill v1: the "fuse" (attention propagation) step
    ca_fuse_k: int = 3  # DeepFill v1: 3x3 identity kernel
    ca_exclusion: str = "zero"  # DeepFill v1: the reference multiplies hole patches' scores by 0
    ca_mask_downsample: str = "nearest"  # DeepFill v1's code: the hole map resized with nearest neighbour
    clip_output: bool = True  # DeepFill v1: last conv linear, output clipped to [-1, 1]

    def __post_init__(self):
        if self.ca_exclusion not in EXCLUSIONS:
            raise ValueError(f"ca_exclusion must be one of {EXCLUSIONS}, got {self.ca_exclusion!r}")
        if self.image_size % self.size_multiple:
            raise ValueError(f"image_size {self.image_size} must be a multiple of {self.size_multiple}")
        if self.base_channels < 2 or self.base_channels % 2:
            raise ValueError(f"base_channels must be even and >= 2, got {self.base_channels}")

    @property
    def size_multiple(self) -> int:
        """Heights and widths must be multiples of 4 (two stride-2 stages) times the matching rate."""
        return 4 * self.ca_rate

    @classmethod
    def paper(cls) -> "CtxAttnConfig":
        """DeepFill v1's generator (book/reference_implementations.md, "DeepFill v1: generator") with the paper's two
        stages and attention layer."""
        return cls()

    @classmethod
    def demo(cls) -> "CtxAttnConfig":
        """ci's network (64 px, c = 8), trained longer: about 20 minutes on one CPU core (``inpaintlib.reproduce.demo``).

        Not twice ci's width (c = 16, the demo network until then): in the bench's sweep (``python -m
        inpaintlib.bench.budget``, 3.5 CPU minutes each) ci's network learned more, and over a whole demo budget
        (``python -m inpaintlib.bench.demo_choice``) it scored higher than the c = 16 network's shipped demo model."""
        return cls.ci()  # changed: as ci (see above)

    @classmethod
    def ci(cls) -> "CtxAttnConfig":
        """64 px (the matching grid is 8 x 8 = 64 patches), c = 8, on 2 CPU cores."""
        return dataclasses.replace(cls.paper(), image_size=64,  # changed: 256 -> 64 (issue: not smaller)
                                   base_channels=8,  # changed: c = 32 -> 8
                                   dilations=(2, 4, 8))  # changed: rate 16 exceeds the 16x16 map at 64 px


@dataclass(frozen=True)
class ConvSpec:
    """One row of the architecture table."""

    name: str
    kernel: int
    stride: int
    dilation: int
    out: int
    act: str = "ELU"
    up: bool = False


def _spec_layers(specs: list[ConvSpec], c_in: int) -> tuple[nn.ModuleList, list[dict]]:
    mods, rows = nn.ModuleList(), []
    for s in specs:
        pad = s.dilation * (s.kernel - 1) // 2
        act = {"ELU": nn.ELU(), "ReLU": nn.ReLU(), "linear": nn.Identity()}[s.act]
        mods.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest") if s.up else nn.Identity(),
                                  nn.Conv2d(c_in, s.out, s.kernel, s.stride, pad, s.dilation), act))
        rows.append({"layer": s.name, "op": ("up x2, " if s.up else "") + f"conv {s.kernel}x{s.kernel}",
                     "stride": s.stride, "dilation": s.dilation, "in": c_in, "out": s.out, "activation": s.act})
        c_in = s.out
    return mods, rows


def _encoder(prefix: str, c: int, mid_act: str = "ELU") -> list[ConvSpec]:
    """5x5 c, s2 2c|c, 2c, s2 4c|2c, 4c, 4c (DeepFill v1, see the module docstring)."""
    return [ConvSpec(f"{prefix}1", 5, 1, 1, c), ConvSpec(f"{prefix}2", 3, 2, 1, 2 * c),
            ConvSpec(f"{prefix}3", 3, 1, 1, 2 * c), ConvSpec(f"{prefix}4", 3, 2, 1, 4 * c),
            ConvSpec(f"{prefix}5", 3, 1, 1, 4 * c), ConvSpec(f"{prefix}6", 3, 1, 1, 4 * c, act=mid_act)]


def _decoder(prefix: str, c: int) -> list[ConvSpec]:
    """4c, 4c, up 2c, 2c, up c, c/2, 3 (linear) (DeepFill v1, see the module docstring)."""
    return [ConvSpec(f"{prefix}1", 3, 1, 1, 4 * c), ConvSpec(f"{prefix}2", 3, 1, 1, 4 * c),
            ConvSpec(f"{prefix}3", 3, 1, 1, 2 * c, up=True), ConvSpec(f"{prefix}4", 3, 1, 1, 2 * c),
            ConvSpec(f"{prefix}5", 3, 1, 1, c, up=True), ConvSpec(f"{prefix}6", 3, 1, 1, c // 2),
            ConvSpec(f"{prefix}7", 3, 1, 1, 3, act="linear")]


def _run(mods: nn.ModuleList, x: torch.Tensor) -> torch.Tensor:
    for m in mods:
        x = m(x)
    return x


class CtxAttnNet(InpaintingNet):
    """Coarse-to-fine generator with contextual attention (Sect. III.A-C; layers of DeepFill v1, see the module
    docstring). ``forward(image, valid)`` -> the refined output in [0, 1] (the coarse one with ``refine=False``);
    ``forward(image, valid, return_stages=True)`` -> dict ``coarse``, ``refined`` (raw outputs in [0, 1]; refined
    is None with ``refine=False``), ``output`` and ``attention`` (the layer's :class:`AttentionDetails`, or None)."""

    memory_format = torch.channels_last  # measured faster on the CPU (inpaintlib.bench.speedups)

    def __init__(self, config: CtxAttnConfig | None = None):
        super().__init__()
        self.config = cfg = config or CtxAttnConfig.paper()
        c = cfg.base_channels
        dil = [ConvSpec(f"dilated{r}", 3, 1, r, 4 * c) for r in cfg.dilations]
        self.coarse, rows1 = _spec_layers(
            _encoder("c", c) + dil + _decoder("c_dec", c), 5)
        self.rows = [dict(stage="1 coarse", **r) for r in rows1]
        if cfg.refine:
            def narrowed(prefix: str, at: tuple[int, ...]) -> list[ConvSpec]:  # halve the widths at layers `at`
                return [dataclasses.replace(s, out=s.out // 2) if i in at else s
                        for i, s in enumerate(_encoder(prefix, c))]

            # DeepFill v1: the dilated branch is 5x5 c, s2 c, 2c, s2 2c, 4c, 4c; the attention branch keeps 4c at
            # its second stride-2 convolution (5x5 c, s2 c, 2c, s2 4c, 4c, 4c) and ends in a ReLU before the layer
            self.conv_branch, rows2 = _spec_layers(
                narrowed("r_conv", (1, 3)) + [dataclasses.replace(s, name="r_" + s.name) for s in dil], 5)
            att_pre = narrowed("r_att", (1,))
            att_pre[-1] = dataclasses.replace(att_pre[-1], act="ReLU")
            self.att_pre, rows3 = _spec_layers(att_pre, 5) if cfg.attention else (None, [])
            self.ctx_attention = ContextualAttention(cfg.ca_patch, cfg.ca_rate, cfg.ca_softmax_scale, cfg.ca_fuse,
                                                     cfg.ca_fuse_k, cfg.ca_exclusion,
                                                     mask_downsample=cfg.ca_mask_downsample) if cfg.attention else None
            self.att_post, rows4 = _spec_layers([ConvSpec("r_att7", 3, 1, 1, 4 * c),
                                                 ConvSpec("r_att8", 3, 1, 1, 4 * c)], 4 * c) \
                if cfg.attention else (None, [])
            merged = 8 * c if cfg.attention else 4 * c
            self.refine_dec, rows5 = _spec_layers(_decoder("r_dec", c), merged)
            ca_row = [{"layer": "contextual attention", "op": f"{cfg.ca_patch}x{cfg.ca_patch} patches, rate "
                       f"{cfg.ca_rate}, scale {cfg.ca_softmax_scale:g}, fuse {cfg.ca_fuse}",
                       "stride": 1, "dilation": 1, "in": 4 * c, "out": 4 * c, "activation": "-"}] \
                if cfg.attention else []
            self.rows += [dict(stage="2 conv branch", **r) for r in rows2]
            self.rows += [dict(stage="2 attention branch", **r) for r in rows3 + ca_row + rows4]
            self.rows += [dict(stage="2 decoder", **r) for r in rows5]
        self.adopt_memory_format()

    # ------------------------------------------------------------------------------------------------
    def _check(self, image, valid):
        return check_network_input(image, valid, 3, self.config.size_multiple, network=self)

    def _out(self, x):
        return x.clamp(-1, 1) if self.config.clip_output else x

    def forward(self, image: torch.Tensor, valid: torch.Tensor, return_stages: bool = False):
        valid = self._check(image, valid)
        hole = 1 - valid
        x_in = (image * 2 - 1) * valid  # [-1, 1], holes zeroed (DeepFill v1)
        ones = torch.ones_like(valid)
        x1 = self._out(_run(self.coarse, torch.cat([x_in, ones, hole], 1)))
        stages = {"coarse": (x1 + 1) / 2, "refined": None, "attention": None}
        if not self.config.refine:
            stages["output"] = stages["coarse"]
            return stages if return_stages else stages["output"]
        xc = x1 * hole + x_in * valid  # Stage 2 input: the coarse output composited with the known pixels
        inp = torch.cat([xc, ones, hole], 1)
        branches = [_run(self.conv_branch, inp)]
        if self.config.attention:
            a = _run(self.att_pre, inp)
            # the hole map at the features' 1/4 resolution, resized like the layer's (ca_mask_downsample)
            valid_q = 1 - (F.max_pool2d(hole, 4) if self.config.ca_mask_downsample == "any" else hole[..., ::4, ::4])
            if return_stages:
                a, stages["attention"] = self.ctx_attention(a, a, valid_q, return_details=True)
            else:
                a = self.ctx_attention(a, a, valid_q)
            branches.append(_run(self.att_post, a))
        x2 = self._out(_run(self.refine_dec, torch.cat(branches, 1)))
        stages["refined"] = stages["output"] = (x2 + 1) / 2
        return stages if return_stages else stages["output"]

    def architecture_table(self) -> list[dict]:
        """One row per convolution (and the attention layer), built with the modules."""
        return [dict(r) for r in self.rows]
