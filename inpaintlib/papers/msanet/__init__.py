"""MSA-Net: Qin, Bai, Zhao, *Multi-scale attention network for image inpainting* (CVIU 2021).

The chapter's paper package: the network (:mod:`.model`; its layers live in ``inpaintlib.layers.attention`` and
``inpaintlib.layers.multiscale_attention``), the paper's printed tables (:mod:`.tables`) and their checks
(:mod:`.checks`), the loss, recipe and ablation variants (:mod:`.recipe`), Table 1's units (:mod:`.units`).
"""
from . import checks
from .model import LOSS_FEATURES, MSANet, MSANetConfig
from .recipe import (PAPER_LOSS_WEIGHTS, TABLE_VARIANTS, VARIANTS, MSANetTraining, ablation_recipe,
                     ablation_variants, changes_from_paper, describe, gram, make_loss_fn, msanet_loss,
                     msanet_training, protocol, train_msanet, variant_config)
from .tables import (ABLATION_TABLES, PAPER_TABLE1_COUNTS, PAPER_TABLE1_MAPS, PAPER_TABLE2, PAPER_TABLE3,
                     PAPER_TABLE4, PAPER_TABLE5, PAPER_TABLE6, PAPER_TEST_TIME_S, TABLE6_BUCKETS, TABLE6_COLUMNS)
from .units import TABLE1_INPUT_WIDTH, table1_counts, table1_unit, table1_units

__all__ = [
    "SPEC", "MODEL",
    "MSANet", "MSANetConfig", "LOSS_FEATURES", "MSANetTraining", "msanet_training", "changes_from_paper",
    "msanet_loss", "gram", "make_loss_fn", "protocol", "train_msanet", "VARIANTS", "TABLE_VARIANTS", "variant_config",
    "ablation_variants", "ablation_recipe", "describe", "PAPER_LOSS_WEIGHTS", "ABLATION_TABLES",
    "PAPER_TABLE1_COUNTS", "PAPER_TABLE1_MAPS", "PAPER_TABLE2", "PAPER_TABLE3", "PAPER_TABLE4", "PAPER_TABLE5",
    "PAPER_TABLE6", "PAPER_TEST_TIME_S", "TABLE6_BUCKETS", "TABLE6_COLUMNS", "TABLE1_INPUT_WIDTH", "table1_unit",
    "table1_units", "table1_counts", "checks",
]

from ...registry import PaperModel  # noqa: E402

#: The registry entry: inputs must be multiples of 2**(1 + n_msau) = 8.
MODEL = PaperModel("msanet", MSANetConfig, MSANet, lambda cfg: cfg.size_multiple)

from ...chapter.context import ChapterSpec  # noqa: E402

#: The chapter's run context (``inpaintlib.chapter.run_context``): Places2 first (Tables 2-6).
SPEC = ChapterSpec("msanet", MSANetConfig, msanet_training, protocol, mask_label="msanet",
                   training_notebook="02_training", ablation_variants={s: tuple(VARIANTS) for s in ("ci", "demo", "paper")})
