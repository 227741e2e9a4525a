"""Table 1's ablation at small scale: every variant of :data:`.model.TABLE1_VARIANTS` trained with the same recipe.

At ``ci`` scale each variant gets only the warm-up stage (generators, L1 loss of Eq. 1), ``CI_ABLATION_STEPS``
updates of batch ``CI_ABLATION_BATCH`` at the chapter's 64 px: the seven variants x 2 seeds must fit in about a minute
on 2 CPU cores, and the adversarial stage's discriminator and VGG cost more than the generator there. ``CI_VARIANTS``
(all seven rows of Table 1) run by default at ci; any subset can be named at every scale.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

from torch import nn

from ...chapter import slug
from .model import TABLE1_VARIANTS, DeepGINConfig
from .recipe import DeepGINTraining, deepgin_training, train_deepgin
from .tables import PAPER_TABLE1, PAPER_TABLE1_COLUMNS

__all__ = ["CI_ABLATION_STEPS", "CI_ABLATION_BATCH", "CI_VARIANTS", "ablation_recipe", "ablation_variants",
           "paper_table1", "METRIC_NAMES"]

#: ci: 15 warm-up updates of batch 8 per variant and seed (changed for the ablation: 7 variants x 2 seeds; the same
#: steps, batch and 64 px crop as when ci ran four variants, so the chapter grows by the three extra rows only).
CI_ABLATION_STEPS, CI_ABLATION_BATCH = 15, 8
#: The rows run by default at ci: all seven of Table 1.
CI_VARIANTS = tuple(TABLE1_VARIANTS)
#: Table 1's metric names -> ours (FID and LPIPS need weights that cannot be fetched offline).
METRIC_NAMES = {"PSNR": "psnr", "SSIM": "ssim", "L1 err. (%)": "l1"}


def ablation_recipe(scale: str, device: str = "auto") -> tuple[DeepGINTraining, bool]:
    """``(recipe, adversarial)`` every variant trains with: at ci the warm-up stage only, ``CI_ABLATION_STEPS`` of
    batch ``CI_ABLATION_BATCH`` (changed for the ablation); otherwise the chapter's full two-stage recipe."""
    if scale == "ci":
        r = deepgin_training(scale, device=device, batch_size=CI_ABLATION_BATCH, eval_every=None)
        return dataclasses.replace(r, warmup_steps=CI_ABLATION_STEPS), False
    return deepgin_training(scale, device=device, eval_every=None), True


def ablation_variants(base: DeepGINConfig, recipe: DeepGINTraining, adversarial: bool, dataset, out_root,
                      variants=None, resume: bool = True) -> dict[str, Callable[[int], nn.Module]]:
    """``variant -> fit(seed) -> trained model`` for Table 1's variants (or the names in ``variants``)."""
    def fitter(name):
        cfg = DeepGINConfig.variant(name, base)

        def fit(seed: int) -> nn.Module:
            rec = dataclasses.replace(recipe, train=recipe.train.replace(seed=seed))
            out = train_deepgin(cfg, rec, dataset, Path(out_root) / slug(name) / f"seed{seed}", progress=False,
                                resume=resume, adversarial=adversarial)
            return out["main" if adversarial else "warmup"][0]
        return fit
    return {v: fitter(v) for v in (variants or TABLE1_VARIANTS)}


def paper_table1(variants=None) -> dict[str, dict[str, tuple[float]]]:
    """Table 1 in the kit's form ``{metric: {variant: (value,)}}`` (one column, "all")."""
    names = variants or list(TABLE1_VARIANTS)
    return {m: {v: (PAPER_TABLE1[v][PAPER_TABLE1_COLUMNS.index(m)],) for v in names} for m in METRIC_NAMES}
