"""CtxAttn: Charef & Ouqour, *Improving Image Inpainting through Contextual Attention in Deep Learning* (ETASR 2024).

The paper describes a coarse network, a refinement network and a contextual attention layer (Sect. III, Figs. 1-2,
Eq. 1) without layer details; its method is the coarse-to-fine network with contextual attention of Yu et al.
(CVPR 2018, DeepFill v1), which it does not cite. The package: the network (:mod:`.model`), critics and losses
(:mod:`.critics`), the training recipe and ablation switches (:mod:`.recipe`), the paper's Table I as data
(:mod:`.tables`). The contextual attention layer itself is :class:`inpaintlib.layers.ContextualAttention`.
"""
from .critics import CriticConfig, GlobalLocalCritic, LossWeights, critic_loss, generator_loss, hole_crops
from .model import CtxAttnConfig, CtxAttnNet
from .recipe import (ABLATIONS, CRITIC_STEPS_REFERENCE, TABLE1_BUCKETS, CtxAttnTraining, ablation_recipe,
                     ablation_variants, ablation_verdict, build_critic, changes_from_paper, ctxattn_training, describe, mask_fn,
                     table1_protocol, train_ctxattn)
from .tables import PAPER_TABLE1, TABLE1_METHODS, table1_checks

__all__ = [
    "SPEC", "MODEL",
    "CtxAttnConfig", "CtxAttnNet", "CriticConfig", "GlobalLocalCritic", "LossWeights", "critic_loss",
    "generator_loss", "hole_crops", "ABLATIONS", "CRITIC_STEPS_REFERENCE", "TABLE1_BUCKETS", "CtxAttnTraining",
    "ablation_recipe", "ablation_variants", "ablation_verdict", "build_critic", "changes_from_paper", "ctxattn_training", "describe",
    "mask_fn", "table1_protocol", "train_ctxattn", "PAPER_TABLE1", "TABLE1_METHODS", "table1_checks",
]

from ...registry import PaperModel  # noqa: E402

#: The registry entry: inputs must be multiples of 4 x the matching rate.
MODEL = PaperModel("ctxattn", CtxAttnConfig, CtxAttnNet, lambda cfg: cfg.size_multiple)

from ...chapter.context import ChapterSpec  # noqa: E402

#: The chapter's run context (``inpaintlib.chapter.run_context``): Places2 (our choice; the paper names none).
SPEC = ChapterSpec("ctxattn", CtxAttnConfig, ctxattn_training, table1_protocol, mask_label="ctxattn",
                   training_notebook="03_training", ablation_variants={s: tuple(ABLATIONS) for s in ("ci", "demo", "paper")})
