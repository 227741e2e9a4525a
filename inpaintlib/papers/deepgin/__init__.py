"""DeepGIN: Li, Siu, Liu, Wang, Lun, *DeepGIN: Deep Generative Inpainting Network for Extreme Image Inpainting*
(ECCV Workshops 2020).

The chapter's paper package:

* :mod:`.model` -- G1 and G2 (Sect. 4.1, Figs. 2-3) with the SPD ResNet blocks, MSSA and Back Projection, the
  config (``paper()/demo()/ci()``) and Table 1's seven variants (``DeepGINConfig.variant(name)``);
* :mod:`.architecture` -- Figs. 2-3 as a table of layers regenerated from the model object;
* :mod:`.receptive_field` -- theoretical and gradient receptive fields of standard, dilated and SPD block stacks
  (the figure the issue asks for beside Fig. 3; the paper has none);
* :mod:`.discriminators` -- the conditional multi-scale spectral-norm discriminators D1/D2 and the hinge loss
  (Eqs. 2-3);
* :mod:`.tables` -- Tables 1 and 2 as printed;
* :mod:`.masks` -- the training masks of Sect. 5.1 (every image with all three mask types: rectangle, cellular
  automaton, free-form from DeepFill v2 or, as in the authors' code, AIM 2020);
* :mod:`.data` -- the training images of Sect. 5.1 (resize to 512 x 512, random 256 x 256 polyphase sub-image);
* :mod:`.recipe` -- the losses of Eqs. 1-7 (generator and discriminator), the recipe of Sect. 5.1 at each scale
  (``deepgin_training``) and the two-stage training (warm-up without the GAN, then the adversarial stage);
* :mod:`.testtime` -- the authors' test-time self-ensemble and the polyphase sub-image split
  (book/reference_implementations.md, "DeepGIN: test time");
* :mod:`.checks` -- the paper's claims (Sects. 6.1-6.2) checked against its Tables 1-2;
* :mod:`.figures` -- the chapter's figures (back-projection anatomy, attention maps, receptive fields, masks).
"""
from .architecture import architecture_table
from .data import SubSampledImages, deepgin_subimage
from .discriminators import DeepGINDiscriminator, hinge_d_loss, hinge_g_loss
from .masks import EveryMaskType, deepgin_masks, training_masks
from .model import TABLE1_VARIANTS, DeepGINConfig, DeepGINGenerator, DeepGINNet, DeepGINOutputs, downsample_lr
from .recipe import (DEEPGIN_VGG_LAYER_WEIGHTS, PAPER_LOSS_WEIGHTS, DeepGINDLoss, DeepGINLoss, DeepGINTraining,
                     changes_from_paper, deepgin_training, describe, protocol, train_deepgin)
from .testtime import (ENSEMBLE_TRANSFORMS, ensemble_predict, merge_subimages, split_subimages, subimage_predict,
                       with_ensemble, with_subimages)
from .tables import (PAPER_TABLE1, PAPER_TABLE1_COLUMNS, PAPER_TABLE1_PARAMS, PAPER_TABLE2, PAPER_TABLE2_COLUMNS,
                     table1_parameter_string)

__all__ = [
    "SPEC", "MODEL",
    "deepgin_masks", "EveryMaskType", "training_masks", "deepgin_subimage", "SubSampledImages",
    "DEEPGIN_VGG_LAYER_WEIGHTS", "DeepGINConfig", "DeepGINNet", "DeepGINGenerator",
    "DeepGINOutputs", "TABLE1_VARIANTS", "downsample_lr", "DeepGINDiscriminator", "hinge_d_loss", "hinge_g_loss",
    "PAPER_TABLE1", "PAPER_TABLE1_COLUMNS", "PAPER_TABLE1_PARAMS", "PAPER_TABLE2", "PAPER_TABLE2_COLUMNS",
    "table1_parameter_string", "architecture_table", "PAPER_LOSS_WEIGHTS", "DeepGINLoss", "DeepGINDLoss",
    "DeepGINTraining", "changes_from_paper", "deepgin_training", "describe", "protocol", "train_deepgin",
    "ENSEMBLE_TRANSFORMS", "ensemble_predict", "merge_subimages", "split_subimages", "subimage_predict",
    "with_ensemble", "with_subimages",
]

from ...registry import PaperModel  # noqa: E402

#: The registry entry (``inpaintlib.registry.build_model("deepgin", config)``): inputs must be multiples of 16 (G2's
#: four stride-2 convolutions; 8 for the coarse-only variant).
MODEL = PaperModel("deepgin", DeepGINConfig, DeepGINNet, lambda cfg: cfg.size_multiple)

from ...chapter.context import ChapterSpec  # noqa: E402

#: The chapter's run context (``inpaintlib.chapter.run_context``): CelebA-HQ (Table 1); Table 1's seven variants.
SPEC = ChapterSpec("deepgin", DeepGINConfig, deepgin_training, protocol, mask_label="deepgin",
                   training_notebook="03_training",
                   ablation_variants={s: tuple(TABLE1_VARIANTS) for s in ("ci", "demo", "paper")},
                   table_datasets={"Table 2": ("ffhq", "oxford_buildings")})
