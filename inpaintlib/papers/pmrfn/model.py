r"""PMRFN (Wang, Zhang, Niu, Ling, Yang, Zhang, "Parallel multi-resolution fusion network for image inpainting",
ICCV 2021), Sect. 4, Fig. 1.

A stem at full resolution, then four parallel branches at four resolutions *from the start* (levels l = 3, 2, 1, 0
at 1, 1/2, 1/4, 1/8 of the input: 256, 128, 64, 32 px at paper scale, Sect. 4.2.1), six stages of residual blocks
of partial convolutions with the priority-guided mask update (Eqs. 5-8), mask-aware representation fusion after
stages 1-5 (Eq. 9), attention-guided representation fusion before stage 6 (Eqs. 3-4, 10), side outputs at the three
lower resolutions and the final image from the four branches concatenated (Sect. 4.4). The supplement with the
detailed architecture is not available: what this module chooses is marked "our choice" in :class:`PMRFNConfig`, and
what it takes from HRNet is marked "HRNet" (book/reference_implementations.md, "HRNet").
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..._validate import check_network_input
from ...config import ScaledConfig
from ...layers.priority import GRADIENT_MODES
from ...network import InpaintingNet
from .blocks import AttentionFusion, MaskAwareFusion, PriorityPConv, ResidualBlock

__all__ = ["PMRFNConfig", "PMRFNNet", "N_BRANCHES"]

N_BRANCHES = 4  # Sect. 1 / Fig. 1: four branches at four resolutions


@dataclass(frozen=True)
class PMRFNConfig(ScaledConfig):
    """Architecture of PMRFN; ``paper()`` is Sect. 4 with HRNet-W32 for what the paper leaves to its supplement."""

    image_size: int = 256  # Sect. 5.1: images resized to 256 x 256
    widths: tuple[int, int, int, int] = (32, 64, 128, 256)  # HRNet: W32, finest branch first
    blocks_per_stage: int = 4  # HRNet: 4 BasicBlocks per branch per module ("four residual blocks
    # in each sub-network", Sect. 4.1, confirms it)
    n_stages: int = 6  # Sect. 4.1: six stages
    stem_width: int = 32  # our choice: one 3x3 partial convolution at full resolution ("starts from high-resolution
    # branch", Sect. 1), then stride-2 partial convolutions make the lower branches (HRNet's transition)
    delta: float = 0.5  # Sect. 4.2.1: delta = 0.5 for all branches
    gradient: str = "known"  # our choice (not given): gradients next to the hole from known pixel pairs only;
    # "zero_filled" = Prewitt on the zero-filled features (inpaintlib.layers.priority)
    priority: bool = True  # Sect. 4.2.1: priority-guided mask update; False = plain partial-convolution update
    pconv: bool = True  # Sect. 3.1 / 4.1: partial convolutions; False = plain convs + mask as input ("w/o PConv")
    mrf_removed: int = 0  # Table 2 "w/o MRF k": the first k of the five fusion modules removed (k = 1, 3, 5)
    mask_aware: bool = True  # Eq. 9; False = HRNet's exchange (sum + ReLU, masks unused; Table 2 "HRNet")
    arf: bool = True  # Sect. 4.3; False = Table 2 "w/o ARF"
    arf_reduction: int = 8  # our choice: f, g project to sum(widths) / 8 channels (SAGAN's reduction)
    side_outputs: bool = True  # Sect. 4.4: side outputs at levels 0, 1, 2
    head_width: int = 64  # our choice: the first of the "two convolution layers" of the output (Sect. 4.4)

    def __post_init__(self):
        if len(self.widths) != N_BRANCHES:
            raise ValueError(f"widths must give {N_BRANCHES} branches (finest first), got {self.widths}")
        if self.gradient not in GRADIENT_MODES:
            raise ValueError(f"gradient must be one of {GRADIENT_MODES}, got {self.gradient!r}")
        if not 0 <= self.mrf_removed <= self.n_stages - 1:
            raise ValueError(f"mrf_removed must be in 0..{self.n_stages - 1}, got {self.mrf_removed}")
        if self.image_size % self.size_multiple:
            raise ValueError(f"image_size {self.image_size} must be a multiple of {self.size_multiple}")

    @property
    def size_multiple(self) -> int:
        """Inputs must be multiples of 2**3 = 8 (three halvings to the lowest branch)."""
        return 2 ** (N_BRANCHES - 1)

    @property
    def conv_mode(self) -> str:
        """``"priority"`` (full model), ``"pconv"`` (Eq. 1 update) or ``"conv"`` (no partial convolution)."""
        return "conv" if not self.pconv else ("priority" if self.priority else "pconv")

    @classmethod
    def paper(cls) -> "PMRFNConfig":
        return cls()

    @classmethod
    def demo(cls) -> "PMRFNConfig":
        """ci's network (64 px, widths / 4, one block per stage), trained longer: about 30 minutes on one CPU core.

        Not twice ci's widths with two blocks per stage (the demo network until then): in the bench's sweep
        (``python -m inpaintlib.bench.budget``, 3.5 CPU minutes each) ci's network learned more, and over a whole
        demo budget (``python -m inpaintlib.bench.demo_choice``) it scored higher than that network's shipped demo
        model, in fewer CPU minutes."""
        return cls.ci()  # changed: as ci (see above)

    @classmethod
    def ci(cls) -> "PMRFNConfig":
        """64 px (8 px at the lowest branch), widths / 4, one block per stage (2 CPU cores)."""
        return dataclasses.replace(cls.paper(), image_size=64,  # changed: 256 -> 64
                                   widths=(8, 16, 32, 64), stem_width=8, head_width=16,  # changed: / 4
                                   blocks_per_stage=1)  # changed: 4 -> 1


def table2_variant(base: PMRFNConfig, name: str) -> PMRFNConfig:
    """``base`` with the flags of a Table 2 row (see :data:`TABLE2_FLAGS`)."""
    return dataclasses.replace(base, **TABLE2_FLAGS[name])


#: Table 2's rows as config flags. "HRNet": plain convs, mask as input, HRNet's exchange, no ARF (Sect. 5.4 (a));
#: "w/o PConv": plain convs and no priorities (Sect. 5.4 (b)); MRF then averages over all sources (every mask is 1).
TABLE2_FLAGS: dict[str, dict] = {
    "HRNet": dict(pconv=False, priority=False, arf=False, mask_aware=False),
    "w/o PConv": dict(pconv=False, priority=False),
    "w/o ARF": dict(arf=False),
    "w/o MRF 1": dict(mrf_removed=1),
    "w/o MRF 3": dict(mrf_removed=3),
    "w/o MRF 5": dict(mrf_removed=5),
    "Full-Fledged": dict(),
}


class PMRFNNet(InpaintingNet):
    """PMRFN: ``forward(image, valid) -> output`` (``N x 3 x H x W`` in [0, 1]; ``valid`` 1 = known);
    ``forward(..., return_side=True)`` also returns the side outputs ``{0: .., 1: .., 2: ..}`` (Sect. 4.4);
    :meth:`trace` returns every stage's features and masks per branch for the chapter's figures."""

    # NCHW (the default): with ci's widths, the demo network, channels_last measured no faster on the CPU
    # (inpaintlib.bench.speedups: 1.00x inference, 1.03x a training step)

    def __init__(self, config: PMRFNConfig | None = None):
        super().__init__()
        self.config = cfg = config or PMRFNConfig.paper()
        mode, w = cfg.conv_mode, cfg.widths
        kw = dict(delta=cfg.delta, gradient=cfg.gradient)
        c_in = 3 if mode != "conv" else 4  # "mask as input" for the variants without partial convolution
        self.stem = PriorityPConv(c_in, cfg.stem_width, mode, residue=True, **kw)
        trans, c = [], cfg.stem_width  # the four branches from the start (Sect. 4.1 (1))
        for i, wi in enumerate(w):
            trans.append(PriorityPConv(c, wi, mode, residue=i < N_BRANCHES - 1, stride=1 if i == 0 else 2, **kw))
            c = wi
        self.transitions = nn.ModuleList(trans)
        self.stages = nn.ModuleList(
            nn.ModuleList(nn.ModuleList(ResidualBlock(wi, mode, residue=i < N_BRANCHES - 1, **kw)
                                        for _ in range(cfg.blocks_per_stage)) for i, wi in enumerate(w))
            for _ in range(cfg.n_stages))
        # fusion after stages 1..5 (Sect. 4.2.2); "w/o MRF k" removes the first k (Sect. 5.4)
        self.fusions = nn.ModuleList(
            MaskAwareFusion(w, masked=cfg.mask_aware) if s >= cfg.mrf_removed else nn.Identity()
            for s in range(cfg.n_stages - 1))
        self.arf = AttentionFusion(w, cfg.arf_reduction) if cfg.arf else None
        self.side = nn.ModuleList(nn.Conv2d(wi, 3, 3, padding=1) for wi in w[1:]) if cfg.side_outputs else None
        self.head = nn.Sequential(nn.Conv2d(sum(w), cfg.head_width, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(cfg.head_width, 3, 3, padding=1))  # Sect. 4.4: two convolutions
        self.adopt_memory_format()

    def _check(self, image, valid):
        return check_network_input(image, valid, 3, self.config.size_multiple,
                                   " (three halvings to the lowest branch)", network=self)

    def trace(self, image: torch.Tensor, valid: torch.Tensor, check: bool = True) -> dict:
        """``stem``/``branches`` (features, valid per branch after the transitions), ``stages`` (per stage the
        lists of features and masks after its blocks and after its fusion), ``attention`` (ARF's ``a``),
        ``side`` (level -> image) and ``output``."""
        valid = self._check(image, valid) if check else valid
        x = image * valid  # holes never enter the network
        conv = self.config.conv_mode == "conv"
        h, v = self.stem(torch.cat([x, valid], 1) if conv else x, valid)
        if conv:
            v = torch.ones_like(v)  # no mask beyond the input layer without partial convolutions
        xs, vs = [], []
        for t in self.transitions:
            h, v = t(h, v)
            xs.append(h)
            vs.append(v)
        out = {"branches": (list(xs), list(vs)), "stages": [], "attention": None}
        for s, stage in enumerate(self.stages):
            if s == self.config.n_stages - 1 and self.arf is not None:  # before the last stage (Sect. 4.3)
                xs, vs, out["attention"] = self.arf(xs, vs, return_attention=True)
            for i, blocks in enumerate(stage):
                for block in blocks:
                    xs[i], vs[i] = block(xs[i], vs[i])
            rec = {"blocks": (list(xs), list(vs))}
            if s < len(self.fusions) and isinstance(self.fusions[s], MaskAwareFusion):
                xs, vs = self.fusions[s](xs, vs)
            rec["fused"] = (list(xs), list(vs))
            out["stages"].append(rec)
        size = image.shape[-2:]
        if self.side is not None:
            out["side"] = {N_BRANCHES - 2 - k: torch.sigmoid(conv_(xs[k + 1])) for k, conv_ in enumerate(self.side)}
        up = [xs[0]] + [F.interpolate(t, size=size, mode="bilinear", align_corners=False) for t in xs[1:]]
        out["output"] = torch.sigmoid(self.head(torch.cat(up, 1)))  # our choice: a sigmoid keeps [0, 1]
        return out

    def forward(self, image: torch.Tensor, valid: torch.Tensor, return_side: bool = False, check: bool = True):
        t = self.trace(image, valid, check)
        return (t["output"], t.get("side", {})) if return_side else t["output"]

    def parts(self) -> dict[str, nn.Module]:
        """The network's parts by name (for parameter and MAC tables)."""
        d = {"stem": self.stem, "transitions": self.transitions}
        for s, stage in enumerate(self.stages):
            d[f"stage {s + 1}"] = stage
            if s < len(self.fusions) and isinstance(self.fusions[s], MaskAwareFusion):
                d[f"MRF {s + 1}"] = self.fusions[s]
        if self.arf is not None:
            d["ARF"] = self.arf
        if self.side is not None:
            d["side outputs"] = self.side
        d["output head"] = self.head
        return d

    def architecture_table(self, size: int | None = None) -> list[dict]:
        """Fig. 1 as a table: per part its parameters and, per branch, the width and map side at ``size``."""
        size = size or self.config.image_size
        rows = []
        for name, mod in self.parts().items():
            row = {"part": name, "parameters": sum(p.numel() for p in mod.parameters())}
            if name.startswith("stage"):
                row["per branch"] = ", ".join(f"l={N_BRANCHES - 1 - i}: {len(b)} x block({wi}) @ {size >> i}px"
                                              for i, (b, wi) in enumerate(zip(mod, self.config.widths)))
            rows.append(row)
        return rows
