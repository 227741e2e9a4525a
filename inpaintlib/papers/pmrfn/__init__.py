"""PMRFN: Wang, Zhang, Niu, Ling, Yang, Zhang, *Parallel multi-resolution fusion network for image inpainting*
(ICCV 2021).

The chapter's paper package: the network (:mod:`.model`, built from :mod:`.blocks`: the priority-guided partial
convolution, mask-aware and attention-guided fusion; the priorities themselves live in
``inpaintlib.layers.priority``), the losses, recipe and Table 2 variants (:mod:`.recipe`), the printed tables and
their checks (:mod:`.tables`), and the chapter's figures (:mod:`.figures` needs no training, :mod:`.trained` uses
the trained network).
"""
from . import tables
from .blocks import AttentionFusion, MaskAwareFusion, PriorityPConv, ResidualBlock
from .model import N_BRANCHES, TABLE2_FLAGS, PMRFNConfig, PMRFNNet, table2_variant
from .recipe import (CI_ABLATION_ROWS, CI_ABLATION_SIZE, PAPER_BETAS, PAPER_LOSS_WEIGHTS, PMRFNTraining,
                     ablation_config, ablation_recipe, ablation_variants, build_discriminator, changes_from_paper,
                     d_loss, describe, pmrfn_loss, pmrfn_training, protocol, train_pmrfn)

__all__ = [
    "SPEC", "MODEL",
    "PMRFNConfig", "PMRFNNet", "N_BRANCHES", "TABLE2_FLAGS", "table2_variant", "PriorityPConv", "ResidualBlock",
    "MaskAwareFusion", "AttentionFusion", "PMRFNTraining", "pmrfn_training", "changes_from_paper", "describe",
    "pmrfn_loss", "d_loss", "protocol", "build_discriminator", "train_pmrfn", "PAPER_LOSS_WEIGHTS", "PAPER_BETAS",
    "ablation_config", "ablation_recipe", "ablation_variants", "CI_ABLATION_ROWS", "CI_ABLATION_SIZE", "tables",
]

from ...registry import PaperModel  # noqa: E402

#: The registry entry: inputs must be multiples of 8 (three halvings to the lowest branch).
MODEL = PaperModel("pmrfn", PMRFNConfig, PMRFNNet, lambda cfg: cfg.size_multiple)

from ...chapter.context import ChapterSpec  # noqa: E402

#: The chapter's run context (``inpaintlib.chapter.run_context``): Places2 first (Tables 1-2); Table 2's rows.
SPEC = ChapterSpec("pmrfn", PMRFNConfig, pmrfn_training, protocol, mask_label="pmrfn", training_notebook="03_training",
                   ablation_variants={"ci": tuple(CI_ABLATION_ROWS), "demo": tuple(TABLE2_FLAGS),
                                      "paper": tuple(TABLE2_FLAGS)})
