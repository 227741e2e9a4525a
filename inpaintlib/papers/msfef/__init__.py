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
    "MSFEFConfig", "MSFEFNet", "TABLE1_BUCKETS", "TABLE1_CLOSED", "msfef_rectangle_mask", "msfef_multi_rectangle_mask",
    "rectangle_test_masks", "ABLATIONS", "MSFEFTraining", "ablation_recipe", "ablation_variants", "build_loss", "build_vgg",
    "changes_from_paper", "describe", "notebook_recipe", "loss_weights_for", "mask_fn", "msfef_training", "recipe_for_dataset", "table1_protocol",
    "train_msfef", "PAPER_TABLE1", "PAPER_TABLE1_ROWS", "PAPER_TABLE2", "PAPER_TABLE2_COLUMNS",
    "table2_parameter_count",
]

from ...registry import PaperModel  # noqa: E402

#: The registry entry (``inpaintlib.papers.build_model("msfef", config)``): inputs must be multiples of 2**depth.
MODEL = PaperModel("msfef", MSFEFConfig, MSFEFNet, lambda cfg: 2 ** cfg.depth)
