"""The chapter's figures, each returning its numbers: Table 1's parameter column from the model objects, receptive
fields of the block stacks (Fig. 3; the paper has no such figure), Fig. 1's mask types and their hole ratios, the
back-projection anatomy and the multi-scale self-attention maps of a trained network (Sect. 4.1)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from scipy.ndimage import binary_fill_holes

from ...layers.nonlocal_attention import NonLocalBlock
from ...masks import aim_box_mask, aim_free_form_mask, brush_stroke_mask, cellular_automaton_mask
from ...metrics import psnr
from .model import TABLE1_VARIANTS, DeepGINConfig, DeepGINNet
from .receptive_field import block_stack, gradient_support, theoretical_support
from .tables import PAPER_TABLE1_PARAMS, table1_parameter_string

__all__ = ["table1_parameters", "receptive_field_figure", "mask_types_figure", "bp_anatomy", "attention_figure",
           "MASK_TYPES"]

MASK_TYPES = {"rectangle (30-70% a side)": aim_box_mask, "cellular automaton (AIM 2020)": cellular_automaton_mask,
              "free-form (AIM 2020)": aim_free_form_mask, "free-form (DeepFill v2 [34])": brush_stroke_mask}


def table1_parameters(base: DeepGINConfig | None = None) -> pd.DataFrame:
    """Table 1's "Number of parameters" column: each variant built (on the meta device) from ``base`` (default
    ``paper()``), exact count, as Table 1 prints it, the printed value, and the switches that make the variant."""
    rows = []
    for name, switches in TABLE1_VARIANTS.items():
        with torch.device("meta"):
            n = DeepGINNet(DeepGINConfig.variant(name, base)).num_parameters()
        rows.append({"variant": name, "parameters (ours)": n, "ours, as printed": table1_parameter_string(n),
                     "paper T1": PAPER_TABLE1_PARAMS[name], "matches": table1_parameter_string(n) ==
                     PAPER_TABLE1_PARAMS[name], "switches": ", ".join(f"{k}={v}" for k, v in switches.items())})
    return pd.DataFrame(rows).set_index("variant")


def receptive_field_figure(n_blocks: int = 2, channels: int = 8, dilations=(1, 2, 3, 4, 5, 6, 8, 10)):
    """Rows: standard, dilated, SPD stacks of ``n_blocks`` blocks. Columns: the theoretical support (white = an
    input offset that can reach the centre output) and the effective receptive field (``|dy/dx|``, log scale).
    Returns ``(fig, table)``: reach (pixels from the centre), positions reachable, enclosed gaps (unreachable positions
    surrounded by reachable ones), and the share of the gradient within 2 pixels of the centre."""
    kinds = ("standard", "dilated", "spd")
    stacks = {k: block_stack(k, n_blocks, channels, dilations) for k in kinds}
    theo = {k: theoretical_support(s) for k, s in stacks.items()}
    size = max(t.shape[-1] for t in theo.values()) + 2
    fig, axes = plt.subplots(2, 3, figsize=(7.4, 5.0))
    rows = []
    for j, k in enumerate(kinds):
        t = F.pad(theo[k].float(), [(size - theo[k].shape[-1]) // 2] * 4)
        g = gradient_support(stacks[k], size)
        axes[0, j].imshow(t, cmap="gray", vmin=0, vmax=1)
        axes[1, j].imshow(torch.log10(g + 1e-8 * g.max()), cmap="magma")
        axes[0, j].set_title(f"{k}: theoretical", fontsize=9)
        axes[1, j].set_title(f"{k}: |dy/dx| (log)", fontsize=9)
        c, r = size // 2, theo[k].shape[-1] // 2
        inner = t[c - r:c + r + 1, c - r:c + r + 1]
        enclosed = binary_fill_holes(inner.numpy() > 0) & (inner.numpy() == 0)
        near = g[c - 2:c + 3, c - 2:c + 3].sum() / g.sum()
        rows.append({"block": k, "reach (px)": r, "reachable": int(inner.sum()), "enclosed gaps":
                     int(enclosed.sum()), "gradient share within 2 px": float(near)})
    for ax in axes.flat:
        ax.set_xticks([]), ax.set_yticks([])
    fig.suptitle(f"{n_blocks} blocks, {channels} channels, SPD/dilated rates {tuple(dilations)}", fontsize=10)
    fig.tight_layout()
    return fig, pd.DataFrame(rows).set_index("block")


def mask_types_figure(size: int, n: int = 150, seed: int = 0):
    """Fig. 1's mask types (one example each, holes black) and their hole-ratio histograms over ``n`` masks.
    Returns ``(fig, table)`` with the mean, min and max hole ratio per type."""
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(2, len(MASK_TYPES), figsize=(7.6, 3.9))
    rows = []
    for j, (name, gen) in enumerate(MASK_TYPES.items()):
        masks = [gen(size, size, rng) for _ in range(n)]
        ratios = np.array([1 - m.mean() for m in masks])
        axes[0, j].imshow(masks[0], cmap="gray", vmin=0, vmax=1)
        axes[0, j].set_title(name, fontsize=7.5)
        axes[0, j].axis("off")
        axes[1, j].hist(ratios, bins=np.linspace(0, 1, 21), color=f"C{j}")
        axes[1, j].set_xlabel("hole ratio", fontsize=8)
        axes[1, j].tick_params(labelsize=7)
        rows.append({"mask type": name, "mean": ratios.mean(), "min": ratios.min(), "max": ratios.max(),
                     "share <= 10%": float((ratios <= 0.1).mean())})
    fig.tight_layout()
    return fig, pd.DataFrame(rows).set_index("mask type")


def _composite_psnr(out, image, valid) -> float:
    comp = valid * image + (1 - valid) * out.clamp(0, 1)
    return float(psnr(comp, image).mean())


@torch.no_grad()
def bp_anatomy(model: DeepGINNet, image: torch.Tensor, valid: torch.Tensor):
    """Back Projection of a trained network, for one image: the input, I_lr (1/4 size), the weight map, the
    weighted residual added back (upsampled), the output before and after BP, the ground truth. Returns
    ``(fig, numbers)``: composite PSNR before and after BP, mean weight in the hole and on known pixels."""
    o = model(image, valid, return_all=True)
    if o.lowres is None:
        raise ValueError("this model has no Back Projection branch (back_projection=False)")
    added, w = o.output - o.before_bp, o.bp_weight
    panels = {"input": image * valid + (1 - valid), "I_lr (1/4)": o.lowres.clamp(0, 1),
              "weight map": w, "residual added": added,
              "before BP": o.before_bp.clamp(0, 1), "after BP": o.output.clamp(0, 1), "ground truth": image}
    fig, axes = plt.subplots(1, len(panels), figsize=(7.8, 1.6))
    for ax, (name, x) in zip(axes, panels.items()):
        if name == "residual added":
            a = float(x.abs().max()) or 1.0
            ax.imshow(x[0].mean(0), cmap="coolwarm", vmin=-a, vmax=a)
        elif x.shape[1] == 1:
            ax.imshow(x[0, 0], cmap="viridis", vmin=0, vmax=1)
        else:
            ax.imshow(x[0].permute(1, 2, 0).clamp(0, 1))
        ax.set_title(name, fontsize=7)
        ax.axis("off")
    fig.tight_layout()
    hole = 1 - valid
    nums = {"psnr_before_bp": _composite_psnr(o.before_bp, image, valid),
            "psnr_after_bp": _composite_psnr(o.output, image, valid),
            "weight_hole": float((w * hole).sum() / hole.sum().clamp(min=1)),
            "weight_known": float((w * valid).sum() / valid.sum().clamp(min=1))}
    return fig, nums


def _attention_inputs(model: DeepGINNet, image, valid) -> dict[str, torch.Tensor]:
    """The inputs of G2's non-local blocks during one forward pass, by module name."""
    seen, hooks = {}, []
    for name, m in model.refine.named_modules():
        if isinstance(m, NonLocalBlock):
            hooks.append(m.register_forward_pre_hook(lambda mod, inp, n=name: seen.__setitem__(n, inp[0])))
    try:
        model(image, valid)
    finally:
        for h in hooks:
            h.remove()
    return seen


@torch.no_grad()
def attention_figure(model: DeepGINNet, image: torch.Tensor, valid: torch.Tensor):
    """MSSA of a trained network: for each of G2's self-attention blocks (bottleneck and the two skips), the
    attention of one query pixel at the centre of the hole's largest part over all keys, drawn over the image at
    that block's resolution (query = cyan cross, known keys outside the dashed hole). Returns ``(fig, table)`` with
    the block's resolution and the share of the query's attention on known positions, against the known share."""
    inputs = _attention_inputs(model, image, valid)
    blocks = dict(model.refine.named_modules())
    fig, axes = plt.subplots(1, len(inputs), figsize=(2.5 * len(inputs), 2.6), squeeze=False)
    rows = []
    for ax, (name, x) in zip(axes[0], sorted(inputs.items(), key=lambda kv: -kv[1].shape[-1])):
        h, w = x.shape[-2:]
        v = F.adaptive_avg_pool2d(valid, (h, w))[0, 0]
        known = (v > 0.5).float()
        hole_d = torch.from_numpy(_distance_in_hole(known.numpy()))
        q = int(hole_d.flatten().argmax())
        att = blocks[name].attention(x)[0, q].reshape(h, w)
        small = F.interpolate(image, size=(h, w), mode="area")[0].permute(1, 2, 0)
        ax.imshow(small.clamp(0, 1))
        ax.imshow(att, cmap="inferno", alpha=0.6)
        ax.contour(known.numpy(), levels=[0.5], colors="w", linestyles="--", linewidths=0.8)
        ax.plot(q % w, q // w, "c+", ms=10, mew=2)
        label = "bottleneck SA" if name == "bottleneck_attn" else f"skip SA ({name.split('.')[1]})"
        ax.set_title(f"{label}, {h}x{w}", fontsize=8)
        ax.axis("off")
        rows.append({"block": label, "resolution": f"{h}x{w}", "attention on known": float((att * known).sum()),
                     "known share of positions": float(known.mean())})
    fig.tight_layout()
    return fig, pd.DataFrame(rows).set_index("block")


def _distance_in_hole(known: np.ndarray) -> np.ndarray:
    """Chessboard distance of each hole position to the nearest known one (0 on known positions)."""
    d = np.zeros_like(known)
    reached = known > 0.5
    step = 0
    while not reached.all() and step < max(known.shape):
        step += 1
        grown = reached.copy()
        grown[1:] |= reached[:-1]
        grown[:-1] |= reached[1:]
        grown[:, 1:] |= grown[:, :-1].copy()
        grown[:, :-1] |= grown[:, 1:].copy()
        d[grown & ~reached] = step
        reached = grown
    return d


def batch_formation_figure(image: torch.Tensor, rng: np.random.Generator, crop: int):
    """Sect. 5.1's batch formation for one training photograph: resized to ``2 * crop``, a random polyphase ``crop``
    sub-image (:func:`.data.deepgin_subimage`), and its three masked copies (:func:`.masks.deepgin_masks`; holes
    white, as I_in). Returns ``(fig, hole_ratios)``."""
    from .data import deepgin_subimage
    from .masks import deepgin_masks

    sub = deepgin_subimage(image, rng, load_size=2 * crop, factor=2)
    masks = deepgin_masks(crop, crop, rng)
    fig, axes = plt.subplots(1, 4, figsize=(7.2, 2.0))
    axes[0].imshow(sub.permute(1, 2, 0))
    axes[0].set_title(f"sub-image {crop} px", fontsize=8)
    names = ("rectangle", "cellular automaton", "free-form")
    for ax, m, name in zip(axes[1:], masks, names):
        v = torch.from_numpy(m)[None]
        ax.imshow((sub * v + (1 - v)).permute(1, 2, 0))
        ax.set_title(f"{name}, hole {1 - m.mean():.0%}", fontsize=8)
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    return fig, [float(1 - m.mean()) for m in masks]


def split_figure(image: torch.Tensor, factor: int):
    """The polyphase split of Sect. 6.1 (:func:`.testtime.split_subimages`): the image, its ``factor**2``
    sub-images, the regrouped image. Returns ``(fig, max_abs_difference)`` of the round trip."""
    from .testtime import merge_subimages, split_subimages

    subs = split_subimages(image, factor)
    back = merge_subimages(subs, factor)
    n = factor * factor
    fig, axes = plt.subplots(1, n + 2, figsize=(min(7.8, 1.5 * (n + 2)), 1.8))
    shows = [("original", image[0])] + [(f"sub-image {k // factor},{k % factor}", subs[k]) for k in range(n)] \
        + [("regrouped", back[0])]
    for ax, (name, x) in zip(axes, shows):
        ax.imshow(x.permute(1, 2, 0).clamp(0, 1))
        ax.set_title(name, fontsize=7)
        ax.axis("off")
    fig.tight_layout()
    return fig, float((back - image).abs().max())
