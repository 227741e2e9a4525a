"""The CtxAttn chapter's own figures: Fig. 2's six steps on a photograph, the copy-paste test, the attention flow and
Fig. 1's progression. Each returns the figure and the numbers it shows."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from ... import viz
from ...layers.contextual_attention import ContextualAttention

__all__ = ["flow_image", "copy_paste_scene", "attention_steps", "copy_paste_figure", "progression_figure",
           "option_effects", "critic_terms_figure", "attention_usage"]


def flow_image(offsets: torch.Tensor, size: int | None = None) -> np.ndarray:
    """``2 x h x w`` (dy, dx) offsets -> Middlebury colours (``h x w x 3``; nearest-upsampled to ``size``)."""
    img = viz.flow_to_color(offsets, order="yx")
    if size is not None and size != img.shape[0]:
        k = size // img.shape[0]
        img = img.repeat(k, 0).repeat(k, 1)
    return img


def copy_paste_scene(image: torch.Tensor, src: tuple[int, int], dst: tuple[int, int], block: int, hole: int):
    """``image`` (1 x 3 x H x W) with the ``block`` x ``block`` square at ``src`` copied to ``dst``, and a ``valid``
    map with a centred ``hole`` x ``hole`` hole inside the copy. Returns ``(image, valid)``."""
    img = image.clone()
    (sy, sx), (dy, dx) = src, dst
    img[..., dy:dy + block, dx:dx + block] = image[..., sy:sy + block, sx:sx + block]
    valid = torch.ones(1, 1, *img.shape[-2:])
    o = (block - hole) // 2
    valid[..., dy + o:dy + o + hole, dx + o:dx + o + hole] = 0
    return img, valid


def _panel(ax, img, title):
    ax.imshow(np.clip(img, 0, 1) if img.ndim == 3 else img, cmap=None if img.ndim == 3 else "viridis",
              interpolation="nearest")
    ax.set_title(title, fontsize=8)
    ax.axis("off")


def attention_steps(features: torch.Tensor, valid: torch.Tensor, query: tuple[int, int], shown: torch.Tensor,
                    softmax_scale: float = 10.0, rate: int = 2) -> tuple[Figure, dict]:
    """Fig. 2's steps for one image: usable background patches, the raw similarity of one foreground position
    (``query``, at the matching resolution) to every patch, its softmax before and after fuse, the flow of every
    position, the reconstruction. ``features``: 1 x C x H x W (pixels work too); ``shown``: the RGB image drawn."""
    outs = {}
    for fuse in (False, True):
        layer = ContextualAttention(rate=rate, softmax_scale=softmax_scale, fuse=fuse)
        outs[fuse] = layer(features, features * valid, valid, return_details=True)
    rec, d = outs[True]
    h, w = d.grid
    q = query[0] * w + query[1]
    usable = d.usable[0].reshape(h, w).numpy()
    fig, axes = plt.subplots(2, 4, figsize=(7.4, 4.0))
    base = viz._np_image(shown[0] * valid[0] + (1 - valid[0]) * torch.tensor([1.0, 0, 1]).view(3, 1, 1))
    _panel(axes[0, 0], base, "1. input (hole magenta)")
    _panel(axes[0, 1], usable, "2. usable background\npatches (yellow)")
    _panel(axes[0, 2], outs[False][1].scores[0, q].reshape(h, w).numpy(), f"3-4. cosine score of\nquery {query}")
    axes[0, 2].plot(query[1], query[0], "r+", ms=10)
    _panel(axes[0, 3], outs[False][1].attention[0, q].reshape(h, w).numpy(), "4. softmax, no fuse")
    _panel(axes[1, 0], d.attention[0, q].reshape(h, w).numpy(), "4. softmax after fuse")
    _panel(axes[1, 1], flow_image(d.offsets[0]), "5. flow: argmax offset\nper position")
    _panel(axes[1, 2], viz.flow_legend(48), "flow colour key")
    _panel(axes[1, 3], viz._np_image(rec[0] * (1 - valid[0]) + shown[0] * valid[0]), "6. reconstruction\nin the hole")
    fig.tight_layout()
    a0, a1 = outs[False][1].attention[0, q], d.attention[0, q]
    numbers = {"grid": (h, w), "usable": int(usable.sum()), "patches": h * w,
               "peak_no_fuse": float(a0.max()), "peak_fuse": float(a1.max()),
               "mass_no_fuse": float(a0.sum()), "mass_fuse": float(a1.sum())}
    return fig, numbers


def copy_paste_figure(image: torch.Tensor, valid: torch.Tensor, displacement: tuple[int, int],
                      rate: int = 2) -> tuple[Figure, dict]:
    """The copy-paste test on a photograph: hard and soft attention, their flow and reconstructions, and the numbers
    (share of hole positions whose argmax offset equals minus the displacement; max error of the hard paste)."""
    fig, axes = plt.subplots(1, 5, figsize=(7.4, 1.9))
    hole = (valid[0, 0] == 0)
    numbers = {}
    _panel(axes[0], viz._np_image(image[0] * valid[0] + (1 - valid[0]) * torch.tensor([1.0, 0, 1]).view(3, 1, 1)),
           "copy with hole")
    for i, hard in enumerate((True, False)):
        layer = ContextualAttention(rate=rate, fuse=not hard, hard=hard)
        out, d = layer(image, image * valid, valid, return_details=True)
        hole_low = torch.nn.functional.max_pool2d(1 - valid, rate)[0, 0] > 0
        off = d.offsets[0][:, hole_low]
        ok = ((off[0] == -displacement[0]) & (off[1] == -displacement[1])).float().mean()
        err = (out[0][:, hole] - image[0][:, hole]).abs().max()
        tag = "hard" if hard else "soft+fuse"
        numbers[f"{tag}_offset_share"], numbers[f"{tag}_max_error"] = float(ok), float(err)
        _panel(axes[1 + 2 * i], flow_image(d.offsets[0]), f"flow ({tag})")
        _panel(axes[2 + 2 * i], viz._np_image(out[0] * (1 - valid[0]) + image[0] * valid[0]), f"paste ({tag})")
    fig.tight_layout()
    return fig, numbers


def progression_figure(model, images: torch.Tensor, valid: torch.Tensor) -> Figure:
    """Fig. 1's progression with a trained model: input, coarse output, refined output, composite, the attention flow
    (white: no offset, or no usable patch) and the flow's colour key."""
    with torch.no_grad():
        st = model(images * valid, valid, return_stages=True)
    n = len(images)
    fig, axes = plt.subplots(n, 6, figsize=(7.4, 1.3 * n), squeeze=False,
                             gridspec_kw={"width_ratios": [1, 1, 1, 1, 1, 0.6]})
    magenta = torch.tensor([1.0, 0, 1]).view(1, 3, 1, 1)
    panels = [("input", images * valid + (1 - valid) * magenta), ("coarse", st["coarse"]),
              ("refined", st["output"]), ("composite", images * valid + (1 - valid) * st["output"])]
    for i in range(n):
        for j, (name, t) in enumerate(panels):
            _panel(axes[i, j], viz._np_image(t[i]), name if i == 0 else "")
        att = st["attention"]
        if att is not None:
            _panel(axes[i, 4], flow_image(att.offsets[i], images.shape[-1] // 4), "attention flow" if i == 0 else "")
        else:
            axes[i, 4].axis("off")
        axes[i, 5].axis("off")
    if st["attention"] is not None:
        _panel(axes[0, 5], viz.flow_legend(48), "flow key")
    fig.tight_layout()
    return fig


def option_effects(image: torch.Tensor, valid: torch.Tensor, query: tuple[int, int], rate: int = 2,
                   weak: float = 0.002) -> pd.DataFrame:
    """What each option of the layer does, on one image used as its own features (pixels, no training; foreground =
    the whole image, background = the image with its hole removed): for the foreground position ``query`` (matching
    resolution) the largest weight and the weight mass over usable patches, the mean mass over the hole's positions,
    and over the hole the mean absolute error of the pasted reconstruction against the hidden ground truth. The last
    two rows scale the features by ``weak`` (the error is measured after dividing the paste by ``weak``): with weak
    features every score is near 0 and the zero-masking's missing mass shows."""
    settings = {"reference (fuse, scale 10, zero-masking)": {},
                "no fuse": {"fuse": False}, "softmax scale 1": {"softmax_scale": 1.0},
                "softmax scale 100": {"softmax_scale": 100.0}, "-inf masking": {"exclusion": "neg_inf"},
                "hard (one-hot argmax)": {"hard": True},
                f"zero-masking, features x {weak:g}": {"_weak": True},
                f"-inf masking, features x {weak:g}": {"_weak": True, "exclusion": "neg_inf"}}
    hole = valid[0, 0] == 0
    rows = []
    for name, kw in settings.items():
        k = weak if kw.pop("_weak", False) else 1.0
        out, d = ContextualAttention(rate=rate, **kw)(image * k, image * valid * k, valid, return_details=True)
        out = out / k
        q = query[0] * d.grid[1] + query[1]
        rows.append({"setting": name, "query peak weight": float(d.attention[0, q].max()),
                     "query weight mass": float(d.attention[0, q].sum()),
                     "mean weight mass over hole rows": float(d.attention[0].sum(-1)[_hole_rows(valid, rate)].mean()),
                     "hole MAE of the paste": float((out[0][:, hole] - image[0][:, hole]).abs().mean())})
    return pd.DataFrame(rows).set_index("setting")


def _hole_rows(valid: torch.Tensor, rate: int) -> torch.Tensor:
    """Foreground positions (matching resolution, flattened) that hold a hole pixel."""
    return (torch.nn.functional.max_pool2d(1 - valid, rate)[0, 0] > 0).flatten()


def critic_terms_figure(history, title: str) -> Figure:
    """The critics' side of training on a linear scale (these terms change sign): the Wasserstein estimate
    E[D(real)] - E[D(fake)] summed over both critics, the gradient penalty, and the generator's adversarial term."""
    df = history.train
    keys = [k for k in ("d_wasserstein", "d_gp", "g_adversarial") if k in df.columns] or ["(nothing logged)"]
    fig, axes = plt.subplots(1, len(keys), figsize=(7.4, 2.3), squeeze=False)
    if keys == ["(nothing logged)"]:
        axes[0, 0].set_title(keys[0], fontsize=9)
        return fig
    for ax, k in zip(axes[0], keys):
        sub = df[["step", k]].dropna()
        ax.plot(sub["step"], sub[k], lw=1.0)
        ax.axhline(0, color="0.6", lw=0.6)
        ax.set_title(k, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_xlabel("step", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


@torch.no_grad()
def attention_usage(model, images: torch.Tensor, masks: torch.Tensor, protocol) -> pd.DataFrame:
    """Per Table I bucket: how many of the hole positions of the attention layer (1/4 resolution, matching grid)
    have at least one usable background patch, and the mean weight mass they get (less than 1 with zero-masking).
    Pairs every mask with the image of the same index (cycled)."""
    rows = []
    for i in range(len(masks)):
        v, img = masks[i:i + 1], images[i % len(images)][None]
        st = model(img * v, v, return_stages=True)
        d = st["attention"]
        if d is None:
            return pd.DataFrame()
        valid_q = 1 - torch.nn.functional.max_pool2d(1 - v, 4)
        rows_h = _hole_rows(valid_q, d.rate)
        mass = d.attention[0].sum(-1)[rows_h]
        ratio = float(1 - v.mean())
        bucket = next((f"{int(lo * 100)}-{int(hi * 100)}%" for lo, hi in protocol.buckets if lo < ratio <= hi), None)
        rows.append({"bucket": bucket, "usable patches": int(d.usable.sum()), "patches": d.usable.numel(),
                     "hole rows with weight": float((mass > 0).float().mean()) if len(mass) else float("nan"),
                     "weight mass": float(mass.mean()) if len(mass) else float("nan")})
    return pd.DataFrame(rows).dropna(subset=["bucket"]).groupby("bucket").mean()
