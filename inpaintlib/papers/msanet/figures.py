"""MSA-Net's chapter figures, each returning the numbers it draws: the masks of Fig. 9, the branch features of Fig. 3,
the spatial attention of Fig. 5, the channel weights of Fig. 7, and the parameter/MAC tables of the architecture."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from ...cost import count_macs, inference_time
from ...masks import center_box_mask, to_tensor
from .model import MSANet
from .tables import PAPER_TEST_TIME_S

__all__ = ["parameter_table", "macs_table", "time_per_image", "layer_table", "mask_trace", "mask_figure", "branch_figure", "spatial_attention_figure",
           "channel_weights_figure", "occlusion_masks"]


def parameter_table(model: MSANet) -> pd.DataFrame:
    """Parameters per part of the network, and the share of the whole."""
    rows = [{"part": k, "parameters": sum(p.numel() for p in m.parameters())} for k, m in model.parts().items()]
    t = pd.DataFrame(rows).set_index("part")
    t["share"] = t["parameters"] / t["parameters"].sum()
    return t


def macs_table(model: MSANet, size: int = 256) -> dict:
    """MACs of one forward pass at ``size`` (``inpaintlib.cost.count_macs``) with the split by part."""
    model.eval()
    return count_macs(model, torch.rand(1, 3, size, size), to_tensor([center_box_mask(size, size, area=0.25)]),
                      parts=model.parts())


@torch.no_grad()
def time_per_image(model: MSANet, size: int = 256, repeats: int = 5) -> dict:
    """Inference time of ``model`` on one ``size`` x ``size`` image with the 25% centre box (batch 1, median of
    ``repeats`` after one warm-up; :func:`inpaintlib.cost.inference_time`), beside the paper's 0.026 s on a Titan XP
    (Sect. 4): ``median_s``, ``min_s``, ``cpu``, ``threads``, ``cores``, ``times_paper``."""
    box = to_tensor([center_box_mask(size, size, area=0.25)])
    t = inference_time(model, torch.rand(1, 3, size, size), box, repeats=repeats, warmup=1)
    return {**t, "times_paper": t["median_s"] / PAPER_TEST_TIME_S}


def mask_trace(model: MSANet, image: torch.Tensor, valid: torch.Tensor) -> tuple[dict[str, torch.Tensor], pd.DataFrame]:
    """Fig. 9: the mask at every layer (input, feature extraction, each MSAU's downsampling, each dilation branch,
    each MSAU's output) for one image; and the share of hole positions left in each."""
    t = model.trace(image[:1], valid[:1])
    masks = {"input": t["fe"][0][1], "FE downsampling": t["fe"][1][1]}
    for i, parts in enumerate(t["msau"]):
        masks[f"MSAU_{i + 1} downsampling"] = parts["valid_D"]
        rates = model.msag[i].rates or range(1, len(parts["branch_valid"]) + 1)
        for r, m in zip(rates, parts["branch_valid"]):
            if m is not None:
                masks[f"MSAU_{i + 1} rate {r}"] = m
        masks[f"MSAU_{i + 1} output"] = parts["valid"]
    hole = pd.DataFrame([{"layer": k, "size": f"{m.shape[-2]}x{m.shape[-1]}", "hole left": 1 - m.mean().item()}
                         for k, m in masks.items()]).set_index("layer")
    return masks, hole


def mask_figure(masks: dict[str, torch.Tensor], ncols: int = 6):
    """The masks of :func:`mask_trace` side by side (white = known), each at its own resolution."""
    n = len(masks)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.6 * ncols, 1.8 * nrows))
    for ax in axes.ravel():
        ax.axis("off")
    for ax, (k, m) in zip(axes.ravel(), masks.items()):
        ax.axis("on")
        ax.imshow(m[0, 0].numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set(xticks=[], yticks=[])
        ax.set_title(f"{k}\n{m.shape[-2]}x{m.shape[-1]}", fontsize=7)
    fig.tight_layout()
    return fig


def _show(ax, a, title, cmap="viridis"):
    ax.imshow(a, cmap=cmap, interpolation="nearest")
    ax.set_title(title, fontsize=7)
    ax.axis("off")


@torch.no_grad()
def branch_figure(model: MSANet, image: torch.Tensor, valid: torch.Tensor, unit: int = 0):
    """Fig. 3: the mean absolute feature map of each dilation branch of MSAU_{unit+1}; returns ``(fig, table)`` with
    each branch's high-frequency share (mean absolute Laplacian / mean absolute value of its mean map): the paper
    says the rate-1 branch keeps details and the rate-8 branch is smoother."""
    parts = model.trace(image[:1], valid[:1])["msau"][unit]
    rates = model.msag[unit].rates
    fig, axes = plt.subplots(1, len(rates) + 1, figsize=(1.9 * (len(rates) + 1), 2.1))
    _show(axes[0], image[0].permute(1, 2, 0).numpy() * valid[0, 0, ..., None].numpy(), "input", None)
    rows = []
    for ax, r, f in zip(axes[1:], rates, parts["branches"]):
        a = f[0].abs().mean(0)
        lap = (4 * a[1:-1, 1:-1] - a[:-2, 1:-1] - a[2:, 1:-1] - a[1:-1, :-2] - a[1:-1, 2:]).abs().mean()
        rows.append({"rate": r, "mean |F_r|": a.mean().item(), "high-frequency share": (lap / (a.mean() + 1e-8)).item()})
        _show(ax, a.numpy(), f"rate {r}")
    fig.tight_layout()
    return fig, pd.DataFrame(rows).set_index("rate")


@torch.no_grad()
def spatial_attention_figure(model: MSANet, image: torch.Tensor, valid: torch.Tensor, unit: int = 0):
    """Fig. 5: per scale of MSAU_{unit+1}, the features before spatial attention, the map ``W_s`` (Eq. 5) and the
    weighted features (Eq. 6); returns ``(fig, table)`` with the correlation between ``W_s`` and the local
    contrast of the features (does the map favour detailed regions?) and ``W_s``'s mean inside and outside the hole."""
    parts = model.trace(image[:1], valid[:1])["msau"][unit]
    rates = model.msag[unit].rates
    fig, axes = plt.subplots(3, len(rates), figsize=(1.9 * len(rates), 5.6))
    rows = []
    v = parts["valid_D"][0, 0]
    for j, (r, f, w, fw) in enumerate(zip(rates, parts["branches"], parts["W_s"], parts["weighted"])):
        if w is None:
            return None, pd.DataFrame()
        a, ws = f[0].abs().mean(0), w[0, 0]
        contrast = (a - torch.nn.functional.avg_pool2d(a[None, None], 3, 1, 1, count_include_pad=False)[0, 0]).abs()
        corr = np.corrcoef(ws.flatten().numpy(), contrast.flatten().numpy())[0, 1]
        hole = ws[v == 0].mean().item() if (v == 0).any() else float("nan")
        rows.append({"rate": r, "corr(W_s, contrast)": corr, "W_s known": ws[v == 1].mean().item(), "W_s hole": hole})
        _show(axes[0, j], a.numpy(), f"rate {r}: features")
        _show(axes[1, j], ws.numpy(), "W_s", "magma")
        _show(axes[2, j], fw[0].abs().mean(0).numpy(), "weighted")
    fig.tight_layout()
    return fig, pd.DataFrame(rows).set_index("rate")


@torch.no_grad()
def channel_weights_figure(model: MSANet, image: torch.Tensor, valid: torch.Tensor, unit: int = 0, k: int = 3):
    """Fig. 7: the augmented channel attention's weights ``W_c`` (Eq. 8) over the concatenated maps of
    MSAU_{unit+1}, and the ``k`` strongest and weakest maps; returns ``(fig, table)`` with each shown map's weight
    and its spatial standard deviation (the paper: informative maps with complex context get higher weights)."""
    t = model.trace(image[:1], valid[:1])["msau"][unit]
    if t["W_c"] is None:
        return None, pd.DataFrame()
    w = t["W_c"][0, :, 0, 0]
    maps = torch.cat(t["weighted"], 1)[0]
    order = torch.argsort(w, descending=True)
    pick = list(order[:k]) + list(order[-k:])
    fig = plt.figure(figsize=(9, 3.4))
    ax = fig.add_subplot(2, 1, 1)
    ax.bar(range(len(w)), w.numpy(), width=1.0, color="tab:blue")
    ax.set(xlabel="channel of the concatenation (one block of equal width per rate, rate 1 first)", ylabel="W_c")
    rows = []
    for i, c in enumerate(pick):
        a = fig.add_subplot(2, 2 * k, 2 * k + i + 1)
        _show(a, maps[c].numpy(), f"ch {int(c)}: {w[c]:.2f}")
        rows.append({"channel": int(c), "rank": "strongest" if i < k else "weakest", "W_c": w[c].item(),
                     "spatial std": maps[c].std().item()})
    fig.tight_layout()
    return fig, pd.DataFrame(rows).set_index("channel")


def layer_table(module: torch.nn.Module) -> pd.DataFrame:
    """Every convolution of ``module`` read from the object: name, type, channels, kernel, stride, dilation,
    parameters (the layer tables that stand in for the lost Figs. 2, 4, 6 and 8)."""
    rows = []
    for name, m in module.named_modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            rows.append({"layer": name, "type": "deconv" if isinstance(m, torch.nn.ConvTranspose2d) else "conv",
                         "in": m.in_channels, "out": m.out_channels, "kernel": f"{m.kernel_size[0]}x{m.kernel_size[1]}",
                         "stride": m.stride[0], "dilation": m.dilation[0], "bias": m.bias is not None,
                         "parameters": sum(p.numel() for p in m.parameters())})
    return pd.DataFrame(rows).set_index("layer")


def occlusion_masks(size: int) -> list[np.ndarray]:
    """Fig. 15 stand-in: three hand-placed occluder shapes (``valid`` maps, 1 = known) drawn by coordinates relative to
    the image side: an upright ellipse (a passer-by), a vertical bar (a pole), a thick diagonal scratch."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    ellipse = ((xx - 0.6) / 0.12) ** 2 + ((yy - 0.55) / 0.25) ** 2 <= 1
    bar = (np.abs(xx - 0.3) < 0.05) & (yy > 0.15)
    scratch = np.abs((yy - 0.2) - 0.8 * (xx - 0.1)) < 0.04
    return [(~m).astype(np.float32) for m in (ellipse, bar, scratch)]
