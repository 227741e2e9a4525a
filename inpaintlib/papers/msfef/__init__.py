"""MSFEF: Sarkar, Sen, Vaidyanathan, *Image Inpainting Through Multi-Scale Partial Convolutions* (2023).

The chapter's paper package: the network (:mod:`.model`), its masks and Table 1 buckets (:mod:`.masks`), the
paper's printed tables as data (:mod:`.tables`), the training recipe and ablation switches (:mod:`.recipe`).
"""
from . import checks
from .masks import TABLE1_BUCKETS, TABLE1_CLOSED, msfef_multi_rectangle_mask, msfef_rectangle_mask, rectangle_test_masks
from .model import MSFEFConfig, MSFEFNet
from .recipe import (ABLATIONS, MSFEFTraining, ablation_recipe, ablation_variants, build_loss, build_vgg,
                     changes_from_paper, describe, loss_weights_for, mask_fn, msfef_training, notebook_recipe,
                     recipe_for_dataset, table1_protocol, train_msfef)
from .tables import PAPER_TABLE1, PAPER_TABLE1_ROWS, PAPER_TABLE2, PAPER_TABLE2_COLUMNS, table2_parameter_count

__all__ = [
    "SPEC", "MODEL",
    "MSFEFConfig", "MSFEFNet", "TABLE1_BUCKETS", "TABLE1_CLOSED", "msfef_rectangle_mask", "msfef_multi_rectangle_mask",
    "rectangle_test_masks", "ABLATIONS", "MSFEFTraining", "ablation_recipe", "ablation_variants", "build_loss", "build_vgg",
    "changes_from_paper", "describe", "notebook_recipe", "loss_weights_for", "mask_fn", "msfef_training", "recipe_for_dataset", "table1_protocol",
    "train_msfef", "PAPER_TABLE1", "PAPER_TABLE1_ROWS", "PAPER_TABLE2", "PAPER_TABLE2_COLUMNS",
    "table2_parameter_count",
]

from ...registry import PaperModel  # noqa: E402

#: The registry entry (``inpaintlib.papers.build_model("msfef", config)``): inputs must be multiples of 2**depth.
MODEL = PaperModel("msfef", MSFEFConfig, MSFEFNet, lambda cfg: 2 ** cfg.depth)

from ...chapter.context import ChapterSpec  # noqa: E402

#: The chapter's run context (``inpaintlib.chapter.run_context``): Table 1's protocol and buckets, Helen first.
SPEC = ChapterSpec("msfef", MSFEFConfig, msfef_training, table1_protocol, mask_label="msfef",
                   training_notebook="02_training", ablation_variants={s: tuple(ABLATIONS) for s in ("ci", "demo", "paper")},
                   ablation_seeds={"ci": 3, "demo": 1, "paper": 1})
