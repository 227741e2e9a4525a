"""The MSFEF chapter's own figures and the numbers behind them: how the known region grows through the encoder,
MACs per stage, what each branch of a trained MSFEF module contributes, its features and its masks.

Every function returns the numbers it draws, so the notebook's sentences are generated from them. Comparisons
between branches are stated only when they exceed the spread over test images (``k`` standard errors).
"""
from __future__ import annotations

import dataclasses

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from ...layers import maxpool_mask_update
from ...masks import center_box_mask, to_tensor
from .model import MSFEFConfig, MSFEFNet

__all__ = ["mask_growth", "macs_figure", "branch_contributions", "fusion_figure", "branch_feature_figure",
           "branch_smoothness", "branch_mask_figure", "dominant"]

HOLE = torch.tensor([1.0, 0.0, 1.0]).view(3, 1, 1)


def _ticks_off(axes):
    for ax in np.ravel(axes):
        ax.set_xticks([])
        ax.set_yticks([])


def mask_growth(config: MSFEFConfig, size: int = 256, hole_area: float = 0.45) -> tuple[Figure, dict]:
    """Known (white) and hole (black) through the encoder of ``config``'s geometry for a centred square hole:
    row 1 the mask the network carries (the 3x3 branch's), row 2 the 7x7 branch's own mask in each MSFEF stage,
    row 3 the mask the encoder would carry had the module kept the 7x7 mask. Masks depend only on kernels and
    strides, so a 2-channel copy of the geometry computes them. Returns the figure and the hole ratios per stage."""
    geom = MSFEFNet(dataclasses.replace(config, encoder_widths=(2,) * config.depth, image_size=size)).eval()
    box = to_tensor([center_box_mask(size, size, area=hole_area)])
    with torch.no_grad():
        stages = geom.encode(torch.rand(1, 3, size, size), box, return_branches=True)
    chain3 = [st["valid"] for st in stages]
    branch7 = [st["branches"][7][1] for st in stages if st["branches"] is not None]
    chain7, v = [], box
    for i in range(config.depth):
        v = maxpool_mask_update(v, kernel_size=7 if i < config.n_msfef else config.pconv_kernel, stride=2)
        chain7.append(v)
    names = [st["name"] for st in stages]
    rows = [("3x3 mask (network)", chain3), ("7x7 branch", branch7), ("7x7 mask kept", chain7)]
    fig, axes = plt.subplots(3, config.depth + 1, figsize=(1.0 * (config.depth + 1) + 0.6, 3.9))
    for r, (label, chain) in enumerate(rows):
        axes[r, 0].imshow(box[0, 0], cmap="gray", vmin=0, vmax=1)
        axes[r, 0].set_ylabel(label, fontsize=8)
        for i in range(config.depth):
            ax = axes[r, i + 1]
            if i < len(chain):
                m = chain[i][0, 0]
                ax.imshow(m, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
                ax.set_title(f"{names[i]}\nhole {1 - m.mean():.0%}", fontsize=7)
            else:
                ax.axis("off")
    axes[0, 0].set_title("input", fontsize=7)
    _ticks_off(axes)
    fig.suptitle(f"Known (white) and hole (black) through the encoder, {size} px, centred {hole_area:.0%} hole",
                 fontsize=9)
    fig.tight_layout()
    hole = {label: [1 - float(c.mean()) for c in chain] for label, chain in rows}
    return fig, {"stages": names, "hole": hole}


def macs_figure(by_stage: dict, total: int) -> Figure:
    """MACs per stage (MSFEF stages in orange)."""
    s = pd.Series(by_stage) / 1e9
    fig, ax = plt.subplots(figsize=(7.2, 2.8))
    s.plot.bar(ax=ax, color=["C1" if k.startswith("MSFEF") else "C0" for k in s.index])
    ax.set_ylabel("GMACs")
    ax.set_title(f"MACs per stage, one 256x256 image, {total / 1e9:.1f} GMACs in all (MSFEF stages orange)",
                 fontsize=9)
    fig.tight_layout()
    return fig


@torch.no_grad()
def branch_contributions(model: MSFEFNet, images: torch.Tensor, valid: torch.Tensor) -> tuple[list, pd.DataFrame]:
    """Encoder stages of ``model`` on ``images`` (holes zeroed) and, per MSFEF stage, branch and image, the share of
    the fused output's magnitude that branch contributes: ``mean |w_k * PConv_k(X) * M'_3|`` over positions and
    channels, divided by the sum over the three branches. Tidy frame: stage, branch, image, share."""
    stages = model.encode(images * valid, valid, return_branches=True)
    rows = []
    for st, m in zip([s for s in stages if s["branches"] is not None], model.msfef_modules()):
        mags = {k: (w * st["branches"][k][0] * st["valid"]).abs().mean(dim=(1, 2, 3))
                for k, w in zip(m.kernel_sizes, m.fusion)}
        total = sum(mags.values())
        for k, mag in mags.items():
            for j, v in enumerate((mag / total).tolist()):
                rows.append({"stage": st["name"], "branch": f"{k}x{k}", "image": j, "share": v})
    return stages, pd.DataFrame(rows)


def dominant(frame: pd.DataFrame, value: str, by: str, k: float = 2.0) -> pd.DataFrame:
    """Per ``by`` group, the branch with the largest mean ``value`` over images, the runner-up, the gap, the gap's
    standard error over images (paired by image) and ``clear`` = gap > ``k`` standard errors."""
    out = []
    for g, sub in frame.groupby(by, sort=False):
        piv = sub.pivot_table(index="image", columns="branch", values=value)
        order = piv.mean().sort_values(ascending=False).index
        gap = piv[order[0]] - piv[order[1]]
        se = float(gap.std(ddof=1) / np.sqrt(len(gap))) if len(gap) > 1 else float("nan")
        out.append({by: g, "top": order[0], "runner-up": order[1], "gap": float(gap.mean()), "se": se,
                    "clear": bool(len(gap) > 1 and gap.mean() > k * se)})
    return pd.DataFrame(out).set_index(by)


def fusion_figure(model: MSFEFNet, shares: pd.DataFrame, scale: str) -> tuple[Figure, pd.DataFrame]:
    """Left: mean |w_k| per stage (dotted: the initial 1/3). Right: mean share of the fused output per branch.
    Returns the figure and the table of mean |w_k|."""
    weights = pd.DataFrame({f"MSFEF{i + 1}": {f"{k}x{k}": float(w.abs().mean()) for k, w in m.fusion_weights().items()}
                            for i, m in enumerate(model.msfef_modules())}).T
    share = shares.groupby(["stage", "branch"], sort=False)["share"].mean().unstack("branch")
    fig, axes = plt.subplots(1, 2, figsize=(7.4, 2.9))
    weights.plot.bar(ax=axes[0], rot=0)
    axes[0].axhline(1 / 3, color="gray", ls=":", lw=1)
    axes[0].set_title(f"mean |w_k| per stage ({scale}; dotted: init 1/3)", fontsize=9)
    share.plot.bar(ax=axes[1], rot=0, stacked=True, legend=False)
    axes[1].set_title("share of the fused output per branch", fontsize=9)
    fig.tight_layout()
    return fig, weights


def branch_feature_figure(stages: list, images: torch.Tensor, valid: torch.Tensor, j: int, scale: str) -> Figure:
    """For test image ``j``, per MSFEF stage: the input with its hole, the channel mean of |PConv_k(X)| of each
    branch before fusion, and the stage's output after fusion, IN and ReLU."""
    msfef = [s for s in stages if s["branches"] is not None]
    kernels = sorted(msfef[0]["branches"])
    fig, axes = plt.subplots(len(msfef), len(kernels) + 2, figsize=(7.2, 1.7 * len(msfef)))
    for r, st in enumerate(msfef):
        axes[r, 0].imshow((images[j] * valid[j] + (1 - valid[j]) * HOLE).permute(1, 2, 0).numpy())
        axes[r, 0].set_ylabel(st["name"], fontsize=8)
        for c, k in enumerate(kernels):
            axes[r, c + 1].imshow(st["branches"][k][0][j].abs().mean(0).numpy(), cmap="viridis")
            axes[r, c + 1].set_title(f"{k}x{k} branch" if r == 0 else "", fontsize=8)
        axes[r, -1].imshow(st["features"][j].abs().mean(0).numpy(), cmap="viridis")
        axes[r, -1].set_title("after fusion, IN, ReLU" if r == 0 else "", fontsize=8)
    _ticks_off(axes)
    fig.suptitle(f"per-branch features, {scale} scale", fontsize=9)
    fig.tight_layout()
    return fig


def branch_smoothness(stages: list, n_stages: int = 2) -> pd.DataFrame:
    """Relative horizontal variation of each branch's map, ``mean |d/dx| / mean |x|`` per image (lower = smoother),
    averaged over the first ``n_stages`` MSFEF stages. Tidy frame: branch, image, variation."""
    msfef = [s for s in stages if s["branches"] is not None][:n_stages]
    rows = []
    for k in sorted(msfef[0]["branches"]):
        per = torch.stack([st["branches"][k][0].diff(dim=-1).abs().mean(dim=(1, 2, 3))
                           / (st["branches"][k][0].abs().mean(dim=(1, 2, 3)) + 1e-8) for st in msfef]).mean(0)
        rows += [{"branch": f"{k}x{k}", "image": j, "variation": float(v)} for j, v in enumerate(per)]
    return pd.DataFrame(rows)


def branch_mask_figure(stages: list, j: int) -> Figure:
    """Per MSFEF stage, each branch's updated mask for image ``j`` (white = known) and the positions only the 7x7
    branch reaches, which the module zeroes (it keeps the 3x3 mask)."""
    msfef = [s for s in stages if s["branches"] is not None]
    kernels = sorted(msfef[0]["branches"])
    fig, axes = plt.subplots(len(msfef), len(kernels) + 1, figsize=(6.0, 1.6 * len(msfef)))
    for r, st in enumerate(msfef):
        for c, k in enumerate(kernels):
            m = st["branches"][k][1][j, 0]
            axes[r, c].imshow(m.numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            axes[r, c].set_title(f"{k}x{k}: hole {1 - float(m.mean()):.0%}", fontsize=8)
        diff = st["branches"][kernels[-1]][1][j, 0] - st["branches"][kernels[0]][1][j, 0]
        axes[r, -1].imshow(diff.numpy(), cmap="magma", vmin=0, vmax=1, interpolation="nearest")
        axes[r, -1].set_title(f"{kernels[-1]}x{kernels[-1]} only (zeroed)", fontsize=8)
        axes[r, 0].set_ylabel(st["name"], fontsize=8)
    _ticks_off(axes)
    fig.tight_layout()
    return fig


def parameter_counts(model: MSFEFNet) -> tuple[pd.DataFrame, dict]:
    """The model's parameters beside what Table 2 implies (conv weights and biases of every listed kernel), the
    fusion weights and the norm layers' affine parameters that Table 2 does not list; and the numbers."""
    from .tables import table2_parameter_count

    n = {"model": sum(p.numel() for p in model.parameters()), "table2": table2_parameter_count(),
         "fusion": sum(w.numel() for m in model.msfef_modules() for w in m.fusion),
         "norm": sum(p.numel() for mod in model.modules()
                     if isinstance(mod, (torch.nn.InstanceNorm2d, torch.nn.BatchNorm2d)) for p in mod.parameters()),
         "msfef": sum(p.numel() for m in model.msfef_modules() for p in m.parameters())}
    frame = pd.DataFrame({"parameters": [n["model"], n["table2"], n["fusion"], n["norm"]]},
                         index=["model, MSFEFConfig.paper()", "implied by Table 2 (conv weights + biases)",
                                "fusion weights (3 x C per MSFEF, Sect. 3.2.2)", "IN/BN scale and shift (our choice)"])
    return frame, n


def architecture_figure(model: MSFEFNet, size: int = 256) -> Figure:
    """Paper Fig. 1 (high-level architecture), drawn from the model object: one box per encoder stage (left, going
    down) and decoder stage (right, going up), labelled with its name, output width and spatial size; curved skip
    connections from each encoder output (and the input) to the decoder stage that concatenates it."""
    cfg = model.config
    fig, ax = plt.subplots(figsize=(7.4, 4.2))
    depth = cfg.depth
    enc = [(s.name, s.conv.out_channels, size >> (i + 1)) for i, s in enumerate(model.encoder)]
    dec = [(s.name, s.conv.out_channels, size >> (depth - j - 1)) for j, s in enumerate(model.decoder)]
    pos = {}
    for i, (name, c, px) in enumerate(enc):
        color = "C1" if name.startswith("MSFEF") else "C0"
        ax.add_patch(plt.Rectangle((0.0, -i - 0.35), 2.6, 0.7, color=color, alpha=0.35))
        ax.text(1.3, -i, f"{name}  {c}ch  {px}px", ha="center", va="center", fontsize=7)
        pos[name] = (2.6, -i)
    pos["Input"] = (2.6, 1.0)
    ax.text(1.3, 1.0, f"input + mask  {cfg.in_channels}ch  {size}px", ha="center", va="center", fontsize=7)
    for j, (name, c, px) in enumerate(dec):
        y = -(depth - 2 - j)
        ax.add_patch(plt.Rectangle((5.4, y - 0.35), 2.6, 0.7, color="C2", alpha=0.35))
        ax.text(6.7, y, f"up x2, concat, {name}  {c}ch  {px}px", ha="center", va="center", fontsize=6.5)
        sx, sy = pos[model.decoder[j].skip_name]
        ax.annotate("", xy=(5.4, y), xytext=(sx, sy),
                    arrowprops=dict(arrowstyle="->", lw=0.7, color="k", connectionstyle="arc3,rad=-0.15"))
    ax.annotate("", xy=(5.4, -(depth - 2)), xytext=(2.6, -(depth - 1)),
                arrowprops=dict(arrowstyle="->", lw=1.2, color="C3"))
    ax.text(4.0, -(depth - 1.3), "deepest features", color="C3", fontsize=7, ha="center")
    ax.set_xlim(-0.1, 8.1)
    ax.set_ylim(-depth + 0.3, 1.6)
    ax.axis("off")
    ax.set_title("MSFEFNet from the model object (orange: MSFEF stages; blue: PConv; green: decoder)", fontsize=9)
    fig.tight_layout()
    return fig


def parameter_text(n: dict) -> str:
    """The sentence on the paper configuration's parameter count (``n`` from :func:`parameter_counts`), generated
    from the counts: model against Table 2, and whether fusion weights plus normalisation explain the difference."""
    diff = n["model"] - n["table2"]
    return (f"The model has **{n['model']:,}** parameters ({n['model'] / 1e6:.2f} M); the convolutions listed in "
            f"Table 2 imply **{n['table2']:,}**. The difference, {diff:,}, is "
            f"{'exactly' if diff == n['fusion'] + n['norm'] else 'not exactly'} the {n['fusion']:,} fusion weights "
            f"plus the {n['norm']:,} affine parameters of the normalisation layers. The four MSFEF modules hold "
            f"{n['msfef'] / n['model']:.0%} of the parameters.")


def growth_text(growth: dict) -> tuple[str, str]:
    """``(stage where the 3x3 mask closes the hole, sentence)`` from :func:`mask_growth`'s numbers."""
    h3, h7, b7 = (growth["hole"][k] for k in ("3x3 mask (network)", "7x7 mask kept", "7x7 branch"))
    closed3, closed7 = (next((growth["stages"][i] for i, h in enumerate(c) if h == 0), "never") for c in (h3, h7))
    last = len(b7) - 1
    return closed3, (
        f"With the 3x3 branch's mask a centred 45% hole is closed after **{closed3}**; had the module kept the 7x7 "
        f"branch's mask it would be closed after **{closed7}**. Inside {growth['stages'][last]} the 7x7 branch leaves "
        f"{b7[last]:.1%} of the positions in the hole against {h3[last]:.1%} for the 3x3 branch, but the module "
        "discards what the larger kernels see beyond the 3x3 branch's reach (the fused output is multiplied by the "
        "3x3 branch's new mask, M′₃).")
