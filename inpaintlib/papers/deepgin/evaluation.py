"""Table 2's layout with the methods we can run (Sect. 6.2): two mask sets (rectangles only; all three types) and two
test sizes ("256": the network's training size; "OS": the original, larger size, completed through the sub-image
split), PSNR, SSIM and L1 err. (%) of the composite over the whole image."""
from __future__ import annotations

import dataclasses
from typing import Callable, Mapping

import numpy as np
import pandas as pd
import torch

from ...masks import aim_box_mask, aim_mask, to_tensor
from ...metrics import Protocol, evaluate

__all__ = ["MASK_SETS", "fixed_masks", "table2_layout"]

#: Table 2's two mask sets: "random rectangular masks" and "random three types of masks".
MASK_SETS: dict[str, Callable] = {"rectangular": aim_box_mask, "three types": aim_mask}


def fixed_masks(kind: str, n: int, size: int, seed: int) -> torch.Tensor:
    """``n`` seeded masks of Table 2's set ``kind`` at ``size`` px (N x 1 x size x size, 1 = known)."""
    rng = np.random.default_rng([seed, size, list(MASK_SETS).index(kind)])
    return to_tensor([MASK_SETS[kind](size, size, rng) for _ in range(n)])


def table2_layout(by_size: Mapping[str, tuple[torch.Tensor, Mapping[str, Callable]]], protocol: Protocol,
                  seed: int = 0) -> pd.DataFrame:
    """``by_size``: size label ("256", "OS") -> (test images, ``method -> predict``). Every method on every image with
    one mask of each set (seeded, drawn at the images' size). Rows (mask set, size, method); columns PSNR, SSIM,
    L1 err. (%) ("all" pairs; the paper reports no buckets)."""
    proto = dataclasses.replace(protocol, metrics=("psnr", "ssim", "l1"))
    rows = []
    for kind in MASK_SETS:
        for label, (images, methods) in by_size.items():
            masks = fixed_masks(kind, len(images), images.shape[-1], seed)
            for name, fn in methods.items():
                t = evaluate(fn, images, masks, proto, mask_buckets=[0] * len(masks)).table
                rows.append({"masks": kind, "size": label, "method": name, "PSNR": float(t.loc["psnr", "all"]),
                             "SSIM": float(t.loc["ssim", "all"]), "L1 err. (%)": float(t.loc["l1", "all"])})
    return pd.DataFrame(rows).set_index(["masks", "size", "method"])


def methods_for(model, label: str, size: int, extra: Mapping[str, Callable] | None = None):
    """``(methods, os_methods)``: at the network's size, DeepGIN with and without the self-ensemble, mean fill,
    biharmonic and ``extra``; at the original size (twice ``size`` at ci), DeepGIN through the sub-image split (the
    ensemble inside each sub-image) and the classical baselines directly."""
    from ...chapter import predictor
    from ...classical import biharmonic, mean_fill
    from .testtime import with_ensemble, with_subimages

    p = predictor(model)
    ours, ens = f"DeepGIN ({label})", f"DeepGIN ({label}) + ensemble"
    methods = {ours: p, ens: with_ensemble(p), "mean fill": mean_fill, "biharmonic": biharmonic, **(extra or {})}
    os_methods = {ours: with_subimages(p, size), ens: with_subimages(with_ensemble(p), size), "mean fill": mean_fill,
                  "biharmonic": biharmonic}
    return methods, os_methods


def perceptual_columns_text(n_images: int) -> str:
    """Why our Table 2 has no FID and LPIPS columns, with whether each could run here (generated)."""
    from ...metrics import fid_available, lpips_available

    lp, fd = lpips_available(), fid_available()
    return ("Our Table 2 has the pixel columns (PSNR, SSIM, L1) only. The paper's FID and LPIPS columns need networks "
            "trained on ImageNet (InceptionV3, AlexNet), which this notebook does not compute with: on "
            f"{n_images} test photograph(s) per group an FID says little (its covariance estimate needs thousands of "
            "images), and the book keeps one metric set across its chapters. Here LPIPS "
            + ("could run" if lp[0] else f"could not run either ({lp[1]})")
            + "; FID " + ("could run" if fd[0] else f"could not run either ({fd[1]})") + ".")


def claims_text(pix: pd.DataFrame, rng: dict, perc: pd.DataFrame) -> str:
    """The generated sentence on Sect. 6.2's claims (:mod:`.checks`)."""
    os_not = perc[(perc["size"] == "OS") & ~perc["Ours best"]]
    rect = perc[(perc["size"] == "256") & (perc.masks == "rectangular") & (perc.metric == "FID")]
    return (
        f"Pixel-wise accuracy: DeepGIN prints the better value in {int(pix['Ours better'].sum())} of {len(pix)} (group, "
        f"metric) cells of PSNR, SSIM and L1. Its PSNR margin over the better DeepFill is {rng['min']:.2f} to "
        f"{rng['max']:.2f} dB, the text's '1.84 ~ 5.1 dB' (over the worse DeepFill up to {rng['max_vs_worse']:.2f} dB). "
        "'For FID and LPIPS, we attain better performance on the testing images with the original sizes': "
        + ("holds in every OS group." if os_not.empty else "not in " + "; ".join(
            f"{r.dataset} {r.masks} {r.metric} ({r.Ours} vs {r._6})" for r in os_not.itertuples()) + ".")
        + " At 256 px with rectangles ('comparable'), DeepGIN's FID is " + " and ".join(
            f"{r.Ours:.1f} against {r._6:.1f} on {r.dataset}" for r in rect.itertuples()) + ".")
