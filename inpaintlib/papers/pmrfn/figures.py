"""The PMRFN chapter's figures that need no training, and the numbers behind them: the inpainting priorities of
Fig. 2 (a-d, f-k) and how the hole shrinks under the priority-guided update (Sect. 4.2.1, Eqs. 5-8) compared with
the plain partial-convolution update (Eq. 1).

Every function returns the numbers it draws, so the notebook's sentences are generated from them. The feature map
the priorities see is the image itself (its channel mean, Eq. 7); inside the network it is a layer's features.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure

from ...data import load_sample_photo, resize_or_crop
from ...layers import maxpool_mask_update
from ...layers.priority import (common_priority, contextual_residue, contour_striking, feature_gradient,
                                hole_border, inpainting_priority, priority_mask_update)
from ...masks import irregular_mask, to_tensor

__all__ = ["LEVEL_SIZES", "fig2_inputs", "downsample", "texture_measure", "priority_panels", "priority_figure",
           "mask_shrinkage", "shrinkage_figure"]

#: Feature-map side per resolution level l = 3, 2, 1, 0 at 256 px (Sect. 4.2.1, below Eq. 6).
LEVEL_SIZES = {3: 256, 2: 128, 1: 64, 0: 32}


def fig2_inputs(photo: str = "china", size: int = 256, seed: int = 0,
                hole_range: tuple[float, float] = (0.2, 0.3)) -> tuple[torch.Tensor, torch.Tensor]:
    """A sample-scenes photograph (central ``size`` crop, ``1 x 3 x H x W``) and a seeded irregular mask
    (``1 x 1 x H x W``, 1 = known) with a hole ratio in ``hole_range`` (our stand-in for the paper's example)."""
    a = load_sample_photo(photo)
    image = resize_or_crop(torch.from_numpy(a.copy()).permute(2, 0, 1).float().div(255.0), size)[None]
    valid = to_tensor(irregular_mask(size, size, np.random.default_rng(seed), hole_range=hole_range))
    return image, valid


def downsample(image: torch.Tensor, valid: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Image (antialiased bilinear) and mask at side ``size``; a coarse pixel is known only if all the pixels it
    covers are known (our choice: the hole never shrinks by resampling, so the update rules alone shrink it)."""
    f = image.shape[-1] // size
    if f == 1:
        return image, valid
    img = F.interpolate(image, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return img, 1.0 - F.max_pool2d(1.0 - valid, f)


def _norm(g: torch.Tensor) -> torch.Tensor:
    return g.norm(dim=1, keepdim=True)


def texture_measure(image: torch.Tensor, low_size: int = 32, top: float = 0.10) -> dict:
    r"""Whether the gradients of the contextual residue pick out texture where plain gradients do not.

    *Structure* pixels S are the ``top`` fraction of pixels with the largest low-resolution gradient norm
    (Fig. 2 g: the image at ``low_size``, upsampled back): edges that survive an 8-fold reduction. For a gradient
    norm map G we report its **structure share** :math:`\sum_S G^2 / \sum G^2` (the share of its energy on S; a map
    blind to structure has about ``top``) and the **texture share** = 1 - structure share: the energy off the
    structure, i.e. on detail that the low resolution loses. The paper's claim (Sect. 4.2.1) is that
    :math:`|\nabla X|` is high on structure and texture while :math:`|\nabla(X - X_{\downarrow\uparrow})|` focuses on
    texture: then the residue's texture share is the larger. Energy (squared norm) is used because it is what a
    threshold on the priority responds to, the strongest responses. Also reported: the Pearson correlation of each
    map with the low-resolution gradient norm."""
    h, w = image.shape[-2:]
    low = F.interpolate(image, size=(low_size, low_size), mode="bilinear", align_corners=False, antialias=True)
    g_low = F.interpolate(_norm(feature_gradient(low)), size=(h, w), mode="bilinear", align_corners=False)
    structure = g_low >= torch.quantile(g_low.flatten(), 1.0 - top)
    maps = {"plain": _norm(feature_gradient(image)), "residue": _norm(feature_gradient(contextual_residue(image)))}
    out = {"structure_fraction": float(structure.float().mean())}
    for name, g in maps.items():
        e = g ** 2
        share = float((e * structure).sum() / e.sum().clamp(min=1e-12))
        corr = float(torch.corrcoef(torch.stack([g.flatten(), g_low.flatten()]))[0, 1])
        out.update({f"structure_share_{name}": share, f"texture_share_{name}": 1.0 - share,
                    f"corr_with_low_{name}": corr})
    out["texture_share_gain"] = out["texture_share_residue"] - out["texture_share_plain"]
    return out


def _selected(q: torch.Tensor, valid: torch.Tensor, delta: float) -> torch.Tensor:
    """Border pixels that pass the threshold of Eq. 5 (the pixels one update fills)."""
    return (priority_mask_update(valid, q, delta) - valid) > 0


def priority_panels(image: torch.Tensor, valid: torch.Tensor, *, delta: float = 0.5, low_size: int = 32,
                    gradient: str = "known") -> dict:
    """The arrays of Fig. 2 (a-d, f-k) for one image (``1 x 3 x H x W``) and mask, and the numbers behind them.

    Panels (numpy, H x W unless noted): ``a`` labels of the border pixels (1 high common priority only, 2 high
    contour striking only, 3 both; "high" = at least ``delta`` times the largest over the border), ``b`` the image
    (H x W x 3), ``c`` the channel-mean contextual residue, ``d`` the masked image (H x W x 3), ``f``/``g`` the
    low-resolution priority (Eq. 7) and gradient norm at ``low_size``, ``h``/``i`` the high-resolution priority and
    gradient norm without the residue, ``j``/``k`` with it (Eq. 8). Priorities are on the border only (0 elsewhere).
    Numbers: border sizes and how many pass the threshold per panel, the overlap (Jaccard) between the pixels Eq. 7
    and Eq. 8 select at high resolution, and :func:`texture_measure`."""
    img_lo, valid_lo = downsample(image, valid, low_size)
    border = hole_border(valid) > 0
    count = common_priority(valid) * border
    striking = contour_striking(image, valid, gradient=gradient) * border
    high_c = border & (count >= delta * count.amax())
    high_s = border & (striking >= delta * striking.amax())
    q = {"f": inpainting_priority(img_lo, valid_lo, residue=False, gradient=gradient),
         "h": inpainting_priority(image, valid, residue=False, gradient=gradient),
         "j": inpainting_priority(image, valid, residue=True, gradient=gradient)}
    sel = {k: _selected(v, valid_lo if k == "f" else valid, delta) for k, v in q.items()}
    both = (sel["h"] & sel["j"]).sum()
    either = (sel["h"] | sel["j"]).sum()
    panels = {"a": (high_c.int() + 2 * high_s.int())[0, 0].numpy(),
              "b": image[0].permute(1, 2, 0).numpy(),
              "c": contextual_residue(image).mean(1)[0].numpy(),
              "d": (image * valid)[0].permute(1, 2, 0).numpy(),
              "g": _norm(feature_gradient(img_lo))[0, 0].numpy(),
              "i": _norm(feature_gradient(image))[0, 0].numpy(),
              "k": _norm(feature_gradient(contextual_residue(image)))[0, 0].numpy(),
              **{k: v[0, 0].numpy() for k, v in q.items()}}
    numbers = {"hole_ratio": 1.0 - float(valid.mean()), "delta": delta, "gradient": gradient,
               "border_pixels": int(border.sum()), "border_pixels_low": int((hole_border(valid_lo) > 0).sum()),
               "high_common": int(high_c.sum()), "high_striking": int(high_s.sum()),
               "high_both": int((high_c & high_s).sum()),
               **{f"selected_{k}": int(v.sum()) for k, v in sel.items()},
               "jaccard_h_j": float(both) / max(1, int(either)),
               **texture_measure(image, low_size)}
    return {"panels": panels, "numbers": numbers}


def _show_priority(ax, q: np.ndarray, faded: np.ndarray, title: str) -> None:
    """The masked image faded, with the priority (square-root colour scale) on the border, thickened to 3 px at
    128 px and above so it stays visible at the page's width."""
    t = torch.from_numpy(q)[None, None]
    thick = (F.max_pool2d(t, 3, 1, 1) if q.shape[-1] >= 128 else t)[0, 0].numpy()
    ax.imshow(faded, interpolation="nearest")
    ax.imshow(np.ma.masked_where(thick <= 0, thick), cmap="plasma", norm=PowerNorm(0.5, vmin=0),
              interpolation="nearest")
    ax.set_title(title, fontsize=7)


def _faded(image: torch.Tensor, valid: torch.Tensor) -> np.ndarray:
    return (0.3 + 0.4 * image * valid)[0].permute(1, 2, 0).numpy()


def priority_figure(result: dict, image: torch.Tensor, valid: torch.Tensor) -> Figure:
    """Fig. 2 (a-d, f-k) from :func:`priority_panels` (``image`` and ``valid`` as passed to it); each title names
    the paper's panel."""
    p, n = result["panels"], result["numbers"]
    img_lo, v_lo = downsample(image, valid, p["g"].shape[-1])
    fig, axes = plt.subplots(2, 5, figsize=(7.4, 3.4))
    colours = np.array([[0, 0, 0, 0], [0, .8, 0, 1], [1, .85, 0, 1], [.9, 0, 0, 1]])
    axes[0, 0].imshow(p["d"])
    axes[0, 0].imshow(colours[F.max_pool2d(torch.from_numpy(p["a"]).float()[None, None], 3, 1, 1)[0, 0].long()])
    axes[0, 0].set_title("(a) common / striking / both", fontsize=7)
    axes[0, 1].imshow(p["b"])
    axes[0, 1].set_title("(b) image", fontsize=7)
    r = np.abs(p["c"]).max()
    axes[0, 2].imshow(p["c"], cmap="RdBu", vmin=-r, vmax=r)
    axes[0, 2].set_title("(c) contextual residue", fontsize=7)
    axes[0, 3].imshow(p["d"])
    axes[0, 3].set_title(f"(d) masked, hole {n['hole_ratio']:.0%}", fontsize=7)
    _show_priority(axes[0, 4], p["f"], _faded(img_lo, v_lo), "(f) low-res priority")
    axes[1, 0].imshow(p["g"], cmap="magma")
    axes[1, 0].set_title("(g) low-res |grad X|", fontsize=7)
    _show_priority(axes[1, 1], p["h"], _faded(image, valid), "(h) high-res priority, X")
    axes[1, 2].imshow(p["i"], cmap="magma")
    axes[1, 2].set_title(f"(i) |grad X|\ntexture share {n['texture_share_plain']:.0%}", fontsize=7)
    _show_priority(axes[1, 3], p["j"], _faded(image, valid), "(j) high-res priority,\nresidue")
    axes[1, 4].imshow(p["k"], cmap="magma")
    axes[1, 4].set_title(f"(k) |grad residue|\ntexture share {n['texture_share_residue']:.0%}", fontsize=7)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def _fill_features(x: torch.Tensor, valid: torch.Tensor, new_valid: torch.Tensor) -> torch.Tensor:
    """Give newly known pixels the mean of their known 3x3 neighbours (a partial convolution with a fixed averaging
    kernel), so later priorities never see the ground truth inside the hole."""
    ones = torch.ones(1, 1, 3, 3, dtype=x.dtype)
    total = F.conv2d((x * valid).flatten(0, 1)[:, None], ones, padding=1).view_as(x)
    mean = total / common_priority(valid).clamp(min=1.0)
    return torch.where((new_valid > valid).expand_as(x), mean, x * valid)


@torch.no_grad()
def mask_shrinkage(image: torch.Tensor, valid: torch.Tensor, *, levels=(3, 2, 1, 0), n_stages: int = 6,
                   updates_per_stage: int = 8, delta: float = 0.5, gradient: str = "known") -> pd.DataFrame:
    """Hole ratio after each of ``n_stages`` stages, per resolution level, under the priority-guided update
    (Eqs. 5-8: Eq. 7 at level 0, Eq. 8 above) and under the plain partial-convolution update (Eq. 1, the max-pool
    update). ``updates_per_stage`` = 8: HRNet's 4 BasicBlocks of two 3x3 convolutions per branch and stage, each a
    partial convolution here (our reading; the paper gives the block count in its supplement only). The priorities
    are recomputed from the image at that level before every update; filled pixels get the mean of their known
    neighbours. Mask-aware fusion between branches (Eq. 9) is not modelled. Tidy frame: level, size, stage (0 = the
    input), rule, hole_ratio."""
    rows = []
    for level in levels:
        size = LEVEL_SIZES[level] * image.shape[-1] // 256
        x, v0 = downsample(image, valid, size)
        v_plain, v_prio, x_prio = v0, v0, x * v0
        for stage in range(n_stages + 1):
            if stage:
                for _ in range(updates_per_stage):
                    v_plain = maxpool_mask_update(v_plain)
                    q = inpainting_priority(x_prio, v_prio, residue=level > 0, gradient=gradient)
                    v_new = priority_mask_update(v_prio, q, delta)
                    x_prio, v_prio = _fill_features(x_prio, v_prio, v_new), v_new
            for rule, v in (("partial conv (Eq. 1)", v_plain), ("priority (Eq. 5)", v_prio)):
                rows.append({"level": level, "size": size, "stage": stage, "rule": rule,
                             "hole_ratio": 1.0 - float(v.mean())})
    return pd.DataFrame(rows)


def shrinkage_figure(frame: pd.DataFrame) -> Figure:
    """Hole ratio per stage, one panel per resolution, both update rules."""
    levels = list(dict.fromkeys(frame["level"]))
    fig, axes = plt.subplots(1, len(levels), figsize=(1.85 * len(levels), 2.3), sharey=True)
    for ax, level in zip(np.atleast_1d(axes), levels):
        sub = frame[frame["level"] == level]
        for rule, g in sub.groupby("rule", sort=False):
            ax.plot(g["stage"], g["hole_ratio"], marker="o", ms=3, label=rule)
        ax.set_title(f"l = {level} ({int(sub['size'].iloc[0])} px)", fontsize=8)
        ax.set_xlabel("stage", fontsize=8)
        ax.set_xticks(sorted(sub["stage"].unique()))
    np.atleast_1d(axes)[0].set_ylabel("hole ratio", fontsize=8)
    np.atleast_1d(axes)[0].legend(fontsize=6)
    fig.tight_layout()
    return fig
