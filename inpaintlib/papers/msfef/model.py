"""MSFEF encoder-decoder (Sarkar et al. 2023, "Image Inpainting Through Multi-Scale Partial Convolutions").

The network of Sect. 3.2.1 and appendix Table 2: eight stride-2 encoder stages (MSFEF x4, then a
3x3 partial convolution x4; InstanceNorm except the last stage; ReLU) and eight decoder stages
(nearest x2 upsampling of features and masks, concatenation with the matching encoder output,
3x3 partial convolution, BatchNorm, LeakyReLU 0.2); the last decoder stage concatenates the input
image and ends in a 3-channel partial convolution without normalisation or activation.

How we read the inconsistent Table 2 (the chapter's implementation notes say the same):

* The concatenation rows ("Concat1 (w/ PConv7)" ... "Concat7 (w/ PConv1)") number the eight encoder
  stages 1..8 (MSFEF1-4 = stages 1-4, PConv1-4 = stages 5-8) and the decoder continues at PConv9.
  The channel counts and the spatial sizes confirm it: Concat5 adds 256 channels = MSFEF3, Concat7
  adds 64 = MSFEF1, and the text says the first decoder stage meets "the second-last" encoder block.
  So decoder stage j meets encoder stage ``depth - j`` and the last one meets the input image.
* The last encoder stage ("PConv4") carries BN in Table 2 while the text says "Instance
  Normalization ... after each encoder convolution stage (except the last stage)". Both agree if
  the last stage has BatchNorm instead of InstanceNorm, which we use (``last_encoder_norm``).
  At 256x256 that stage's output is 1x1, where InstanceNorm is undefined (one value per channel).
* Masks are concatenated with the features (Sect. 3.2.1: "the upsampled feature map and mask are
  concatenated with the output feature map and mask ... along the channel dimension"), so the
  decoder's partial convolutions take one mask channel per feature channel (``multi_channel=True``,
  NVIDIA's reference convention, book/reference_implementations.md, "The partial convolution layer"); the
  encoder's masks are single-channel.
* Output: the raw output of the last partial convolution, in image space ([0, 1] intended; Table 2
  lists no final activation, so there is none). Callers clamp when they need a picture.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..._validate import check_network_input
from ...config import ScaledConfig
from ...network import InpaintingNet
from ...layers.multiscale_fusion import MSFEFModule
from ...layers.partial_conv import PartialConv2d

__all__ = ["MSFEFConfig", "MSFEFNet", "EncoderStage", "DecoderStage"]


# --------------------------------------------------------------------------------------------- config
@dataclass(frozen=True)
class MSFEFConfig(ScaledConfig):
    """Architecture of the MSFEF network. ``paper()`` is Sect. 3.2 / Table 2; ``demo()``/``ci()`` shrink it."""

    image_size: int = 256  # Sect. 3.2.1: "we use images (or resize them) of resolution 256x256"
    in_channels: int = 3  # RGB input, Table 2 "Concat8 (w/ Input) 64+3"
    out_channels: int = 3  # Table 2, PConv16: 3 filters
    encoder_widths: tuple[int, ...] = (64, 128, 256, 512, 512, 512, 512, 512)  # Table 2, MSFEF1-4, PConv1-4
    n_msfef: int = 4  # Sect. 3.2.1: "the first 4 stages use the MSFEF module"
    msfef_kernels: tuple[int, ...] = (3, 5, 7)  # Sect. 3.2.2, Fig. 2
    pconv_kernel: int = 3  # Table 2, PConv1-4: 3x3
    decoder_kernel: int = 3  # Table 2, PConv9-16: 3x3
    encoder_norm: str = "instance"  # Sect. 3.2.1 and Table 2: IN after each encoder stage ...
    last_encoder_norm: str = "batch"  # ... except the last (Table 2: BN on PConv4; see module docstring)
    decoder_norm: str = "batch"  # Table 2, PConv9-15: BN
    leaky_slope: float = 0.2  # Table 2: LeakyReLU(0.2) in the decoder
    norm_affine: bool = True  # our choice: learnable scale/shift in IN and BN (the paper is silent)
    fusion_init: float = 1.0 / 3.0  # our choice: the paper gives no initial value for the fusion weights
    use_msfef: bool = True  # False = "All loss + No MSFEF" (Table 1): each MSFEF -> one 3x3 PConv, same width
    # (the paper gives no kernel size for the replacement; 3x3, as PConv1-4, is our choice)
    decoder_multichannel_masks: bool = True  # our reading of Sect. 3.2.1 (masks concatenated like features)

    def __post_init__(self):
        if self.n_msfef > len(self.encoder_widths):
            raise ValueError(f"n_msfef={self.n_msfef} exceeds depth={len(self.encoder_widths)}")
        if self.image_size % (2 ** self.depth):
            raise ValueError(f"image_size {self.image_size} must be divisible by 2**depth = {2 ** self.depth} "
                             f"({self.depth} stride-2 stages)")
        for name in ("encoder_norm", "last_encoder_norm", "decoder_norm"):
            if getattr(self, name) not in ("instance", "batch", "none"):
                raise ValueError(f"{name} must be 'instance', 'batch' or 'none', got {getattr(self, name)!r}")

    @property
    def depth(self) -> int:
        """Number of encoder stages (= decoder stages); 8 in the paper (Sect. 3.2.1)."""
        return len(self.encoder_widths)

    @property
    def decoder_widths(self) -> tuple[int, ...]:
        """Output widths of the decoder stages: each matches the encoder stage it is concatenated with
        (Table 2: PConv9-15 = 512, 512, 512, 512, 256, 128, 64), then ``out_channels`` (PConv16)."""
        return tuple(reversed(self.encoder_widths[:-1])) + (self.out_channels,)

    @classmethod
    def paper(cls) -> "MSFEFConfig":
        """The paper's network: 256x256, depth 8, widths of Table 2."""
        return cls()

    @classmethod
    def demo(cls) -> "MSFEFConfig":
        """ci's 32 px network at twice its widths, about 25 minutes on one CPU core (``inpaintlib.reproduce.demo``).

        Not 64 px: at 64 px (depth 6, the same widths) the budget bought 1500 updates (26.6 CPU minutes), and the
        model ended behind the 32 px ci model at the two largest hole buckets of the 64 px test (by 0.35 dB at
        (0.4,0.5] and 0.91 dB at (0.5,0.6]); at 32 px an update costs about 0.42 CPU seconds instead of 1.06."""
        p = cls.paper()
        return dataclasses.replace(
            p,
            image_size=32,  # changed: 256 -> 32 (the CPU budget; see above)
            encoder_widths=(32, 64, 128, 128, 128),  # changed: depth 8 -> 5, twice ci's widths
        )

    @classmethod
    def ci(cls) -> "MSFEFConfig":
        """32 px crops on 2 CPU cores: depth 8 -> 5 (4 MSFEF + 1 PConv; the deepest map is 1x1 with BN, as in
        the paper at 256 px), widths / 4 .. / 8."""
        p = cls.paper()
        return dataclasses.replace(
            p,
            image_size=32,  # changed: 256 -> 32 (the VGG loss network dominates the cost on CPU)
            encoder_widths=(16, 32, 64, 64, 64),  # changed: depth 8 -> 5 (PConv stages 4 -> 1), narrower
        )


# ---------------------------------------------------------------------------------------------- model
def _norm(kind: str, channels: int, affine: bool) -> nn.Module:
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=affine)
    if kind == "batch":
        return nn.BatchNorm2d(channels, affine=affine)
    return nn.Identity()


class EncoderStage(nn.Module):
    """One encoder stage (Table 2): MSFEF or 3x3 PConv with stride 2, then the norm and ReLU."""

    def __init__(self, conv: nn.Module, norm: nn.Module, name: str, norm_kind: str):
        super().__init__()
        self.conv, self.norm, self.act = conv, norm, nn.ReLU()
        self.name, self.norm_kind = name, norm_kind

    def forward(self, x, valid, return_branches: bool = False):
        branches = None
        if return_branches and isinstance(self.conv, MSFEFModule):
            y, valid, branches = self.conv(x, valid, return_branches=True)
        else:
            y, valid = self.conv(x, valid)
        y = self.act(self.norm(y))
        return (y, valid, branches) if return_branches else (y, valid)


class DecoderStage(nn.Module):
    """One decoder stage (Sect. 3.2.1, Table 2): nearest x2 upsampling of features and mask,
    concatenation with the skip's features and mask, 3x3 partial convolution, norm, activation."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int, kernel: int, norm: nn.Module,
                 act: nn.Module, name: str, skip_name: str, norm_kind: str, multichannel: bool):
        super().__init__()
        self.conv = PartialConv2d(in_channels + skip_channels, out_channels, kernel, stride=1, padding=kernel // 2,
                                  multi_channel=multichannel)
        self.norm, self.act = norm, act
        self.name, self.skip_name, self.norm_kind = name, skip_name, norm_kind
        self.in_channels, self.skip_channels, self.multichannel = in_channels, skip_channels, multichannel

    def forward(self, x, valid, skip, skip_valid):
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        valid = F.interpolate(valid, scale_factor=2, mode="nearest")  # nearest keeps the mask binary
        x = torch.cat([x, skip], dim=1)
        if self.multichannel:  # one mask channel per feature channel, concatenated like the features
            valid = torch.cat([valid.expand(-1, self.in_channels, -1, -1),
                               skip_valid.expand(-1, self.skip_channels, -1, -1)], dim=1)
        else:  # single-channel alternative: a pixel is known if it is known in both inputs
            valid = valid[:, :1] * skip_valid[:, :1]
        y, valid = self.conv(x, valid)
        y = self.act(self.norm(y))
        return y, valid[:, :1]


class MSFEFNet(InpaintingNet):
    """The MSFEF inpainting network (Sect. 3.2, Fig. 1, Table 2).

    ``forward(image, valid) -> output`` (N x 3 x H x W): the raw network output in image space (no
    final activation, Table 2). ``composite(image, valid)`` returns the Sect. 3.3 composite
    ``valid * image + (1 - valid) * clamp(output, 0, 1)``. ``encode(image, valid, return_branches=True)``
    exposes each encoder stage's features, mask and (for MSFEF stages) the per-branch outputs and masks.
    """

    clamp_composite = True  # Sect. 3.3: the composite of the clipped output

    def __init__(self, config: MSFEFConfig | None = None):
        super().__init__()
        self.config = cfg = config or MSFEFConfig.paper()
        enc = []
        c_in = cfg.in_channels
        for i, c in enumerate(cfg.encoder_widths):
            last = i == cfg.depth - 1
            norm_kind = cfg.last_encoder_norm if last else cfg.encoder_norm
            if i < cfg.n_msfef and cfg.use_msfef:
                conv = MSFEFModule(c_in, c, cfg.msfef_kernels, stride=2, fusion_init=cfg.fusion_init)
                name = f"MSFEF{i + 1}"
            elif i < cfg.n_msfef:  # "No MSFEF" ablation: one 3x3 PConv of the same width
                conv = PartialConv2d(c_in, c, 3, stride=2, padding=1)
                name = f"PConv(no MSFEF){i + 1}"
            else:
                conv = PartialConv2d(c_in, c, cfg.pconv_kernel, stride=2, padding=cfg.pconv_kernel // 2)
                name = f"PConv{i + 1 - cfg.n_msfef}"
            enc.append(EncoderStage(conv, _norm(norm_kind, c, cfg.norm_affine), name, norm_kind))
            c_in = c
        self.encoder = nn.ModuleList(enc)
        dec = []
        for j, c_out in enumerate(cfg.decoder_widths):
            skip_idx = cfg.depth - 2 - j  # decoder stage j meets encoder stage depth-1-j (1-based), -1 = input
            skip_c = cfg.encoder_widths[skip_idx] if skip_idx >= 0 else cfg.in_channels
            skip_name = self.encoder[skip_idx].name if skip_idx >= 0 else "Input"
            final = j == cfg.depth - 1
            norm_kind = "none" if final else cfg.decoder_norm
            act = nn.Identity() if final else nn.LeakyReLU(cfg.leaky_slope)
            dec.append(DecoderStage(c_in, skip_c, c_out, cfg.decoder_kernel, _norm(norm_kind, c_out, cfg.norm_affine),
                                    act, f"PConv{cfg.depth + j + 1}", skip_name, norm_kind,
                                    cfg.decoder_multichannel_masks))
            c_in = c_out
        self.decoder = nn.ModuleList(dec)

    # -- input checks ------------------------------------------------------------------------------
    def _check(self, image: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        valid = check_network_input(image, valid, self.config.in_channels, 2 ** self.config.depth,
                                    f" = 2**depth ({self.config.depth} stride-2 stages)",
                                    require_known=True,  # as mean_fill: an all-hole mask leaves nothing to fill from
                                    network=self)
        if self.training:
            n, _, h, w = image.shape
            self._check_batch_norm(n, h, w)
        return valid

    def _check_batch_norm(self, n: int, h: int, w: int) -> None:
        """In training mode BatchNorm needs more than one value per channel; the deepest stage's map is 1x1 at the
        paper's 256 px (and at ci's 32 px), so a batch of one image cannot be trained on."""
        sizes = [(s, h >> (i + 1), w >> (i + 1)) for i, s in enumerate(self.encoder)]
        sizes += [(s, h >> (self.config.depth - 1 - j), w >> (self.config.depth - 1 - j))
                  for j, s in enumerate(self.decoder)]
        for stage, sh, sw in sizes:
            if isinstance(stage.norm, nn.BatchNorm2d) and n * sh * sw < 2:
                raise ValueError(
                    f"MSFEFNet in training mode cannot run a batch of {n} {h}x{w} image: its stage {stage.name} has "
                    f"BatchNorm on a {sh}x{sw} map, which needs more than one value per channel to compute batch "
                    "statistics. Train with batch_size >= 2 (or larger images), or call model.eval() to run it on a "
                    "single image")

    def msfef_modules(self) -> list[MSFEFModule]:
        """The MSFEF modules of the encoder, in order (empty with ``use_msfef=False``)."""
        return [s.conv for s in self.encoder if isinstance(s.conv, MSFEFModule)]

    def encode(self, image: torch.Tensor, valid: torch.Tensor, return_branches: bool = False) -> list[dict]:
        """Run the encoder; per stage a dict with ``name``, ``features``, ``valid`` and, with
        ``return_branches`` on MSFEF stages, ``branches`` (kernel -> (output, mask), before fusion)."""
        valid = self._check(image, valid)
        x = image * valid
        stages = []
        for stage in self.encoder:
            if return_branches:
                x, valid, br = stage(x, valid, return_branches=True)
            else:
                (x, valid), br = stage(x, valid), None
            stages.append({"name": stage.name, "features": x, "valid": valid, "branches": br})
        return stages

    def forward(self, image: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        valid = self._check(image, valid)
        x = image * valid  # holes never enter the network
        skips = [(x, valid)]
        for stage in self.encoder:
            x, valid = stage(x, valid)
            skips.append((x, valid))
        skips.pop()  # the deepest stage is not a skip: the decoder starts from it
        for stage in self.decoder:
            s, sv = skips.pop()
            x, valid = stage(x, valid, s, sv)
        return x

    @torch.no_grad()
    def architecture_table(self) -> list[dict]:
        """Table 2 regenerated from the module objects (one row per stage; upsampling/concat folded in)."""
        rows = []
        for i, s in enumerate(self.encoder):
            c = s.conv
            ks = c.kernel_sizes if isinstance(c, MSFEFModule) else (c.kernel_size[0],)
            rows.append({
                "#": i + 1, "stage": s.name, "part": "encoder",
                "kernels": " and ".join(f"{k}x{k}" for k in sorted(ks, reverse=True)),
                "in": (c.in_channels), "out": c.out_channels,
                "stride/up": c.stride if isinstance(c, MSFEFModule) else c.stride[0],
                "norm": {"instance": "IN", "batch": "BN", "none": "-"}[s.norm_kind],
                "activation": "ReLU", "concat with": "-",
            })
        for j, s in enumerate(self.decoder):
            act = s.act
            rows.append({
                "#": self.config.depth + j + 1, "stage": s.name, "part": "decoder", "kernels": f"{s.conv.kernel_size[0]}x{s.conv.kernel_size[1]}",
                "in": f"{s.in_channels}+{s.skip_channels}", "out": s.conv.out_channels,
                "stride/up": f"up 2, stride {s.conv.stride[0]}",
                "norm": {"instance": "IN", "batch": "BN", "none": "-"}[s.norm_kind],
                "activation": f"LeakyReLU({act.negative_slope:g})" if isinstance(act, nn.LeakyReLU) else "-",
                "concat with": s.skip_name + (f" (#{self.config.depth - j - 1})" if s.skip_name != "Input" else ""),
            })
        return rows


