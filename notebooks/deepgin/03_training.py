# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # DeepGIN 3: training
#
# The loss of {cite}`li2020deepgin` (Sect. 4.2, Eqs. 1-7) has five terms:
# $\mathcal{L}_{total} = \mathcal{L}_{L1} + 0.001\,\mathcal{L}_{adv,G} + 0.05\,\mathcal{L}_{perceptual} +
# 80\,\mathcal{L}_{style} + 0.1\,\mathcal{L}_{tv}$. The L1 term (Eq. 1, hole weight 5) is summed over three pairs:
# the coarse output, the final output and the 64x64 Back Projection image against the ground truth (down-sampled 4x
# for the last). The adversarial term is the hinge loss of two conditional discriminators, D1 at full and D2 at half
# resolution (Eqs. 2-3); the perceptual and style terms (Eqs. 4-5) compare VGG-19 features at conv1_1 .. conv5_1 of
# the output and of the completed image with the ground truth's; the total variation (Eq. 6) smooths the completed
# image. Training has **two stages** (Sect. 5.1): a warm-up of the generators with the L1 loss alone, then the main
# stage with the discriminators and every term, from the warm-up's weights; Adam with $\beta_1 = 0.5$, learning rates
# 1e-4 (G) and 4e-4 (D), kept for the first 10 of the main stage's 100 epochs and then decayed linearly to zero
# (`paper()`: `lr_schedule="linear", decay_start=0.1`). The library's training loop has no stage switch, so each stage
# is one run of it, resumable in its own folder (`train_deepgin`).
#
# At `ci` scale: the narrow 64 px network of `01_architecture`, the sample scenes, a few hundred updates on two CPU
# cores. Offline there is no ImageNet VGG-19: the perceptual and style terms use a **seeded random VGG-19**
# (`backbone="random"`, printed below), so they are not the paper's terms; to keep their cost below the generator's
# they see conv1_1 .. conv3_1 of half-size images; the 50 adversarial steps keep constant rates (too few to decay).
# Every change from the paper's recipe is printed.

# %% tags=["parameters"]
scale = "ci"
seed = 0
device = "auto"
data_root = None  # paper scale: the folder holding the paper's datasets, each prepared by data_prep
smoke = False  # a dry run: every cell once, a few steps, one test photograph and one mask per bucket
knobs = {}  # overrides: max_steps, warmup_steps, batch_size, masks_per_bucket, test_images, vgg_backbone

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from inpaintlib.chapter import against_mean_fill, completion_grid, learning_summary, predictor, run_context, signed
from inpaintlib.papers.deepgin import describe, train_deepgin
from inpaintlib.papers.deepgin.recipe import adversarial_share, joined_history
from inpaintlib.record import record

run = run_context("deepgin", scale, seed=seed, device=device, data_root=data_root, smoke=smoke, **knobs)
cfg, recipe = run.config, run.cap(run.recipe)
print(run.describe())
print(describe(cfg, recipe))

# %% [markdown]
# ## Data
#
# `ci` and `demo`: the sample scenes (test photographs never trained on). `paper`: with `data_root`, CelebA-HQ split
# 27K/3K (Sect. 5.2) prepared by `data_prep`. Training masks: the three types of `02_masks_and_data`; at `paper` scale
# every image is resized to 512x512, sub-sampled to a random 256x256 polyphase sub-image and shown under all three
# types (4 images x 3 = 12 per update, Sect. 5.1), at `ci` and `demo` one type per crop (printed above). Test masks: the
# library's fixed, seeded irregular masks in Liu et al.'s hole-ratio buckets, so that the comparison with mean
# filling is bucket by bucket (the paper reports no buckets; our choice).

# %%
splits = run.data()
print("test masks per bucket:", next(iter(splits.values())).mask_set.counts())

# %% [markdown]
# ## The two stages
#
# The warm-up's checkpoint lands in `artifact_dir("deepgin", scale)/<data>/warmup`, the final model's one level up.
# Test PSNR and SSIM of the composite (whole image, mean over every test pair) are logged at each evaluation.

# %%
runs = {name: train_deepgin(cfg, recipe, d.train, run.out(name), **d.training_eval(),
                            resume=run.resume) for name, d in splits.items()}

# %% [markdown]
# ## Every loss term, and the test PSNR across both stages
#
# The terms as logged (unweighted, log scale; the L1 terms include the hole weight 5; `d_loss` is Eq. 3). The
# adversarial, perceptual, style and TV terms start with the second stage, at the step where the warm-up ends.

# %%
for name, r in runs.items():
    hist = joined_history(r["warmup"][1], r["main"][1], recipe.warmup_steps)
    learning_summary(hist, splits[name], scale, f"deepgin_{name}",
                     ["loss", "l1_coarse", "l1_out", "l1_lr", "perceptual", "style", "tv", "d_loss"])

# %% [markdown]
# ## What the adversarial stage does at this scale
#
# The warm-up checkpoint (L1 only) against the final model (after the adversarial stage), on the same test pairs; and
# from the log, how much of the generator's loss the weighted adversarial term is and what D outputs on real and on
# completed images.

# %%
for name, r in runs.items():
    (warm, _), (final, main_hist) = r["warmup"], r["main"]
    res = {k: against_mean_fill(k, m, splits[name], scale, f"deepgin_{name}" + ("_warmup" if k == "warm-up" else ""))
           for k, m in (("warm-up", warm), ("DeepGIN", final))}
    gain = float(res["DeepGIN"]["DeepGIN"].table.loc["psnr", "all"] - res["warm-up"]["warm-up"].table.loc["psnr", "all"])
    adv = adversarial_share(main_hist, recipe.loss_weights)
    record(f"deepgin_{name}_adversarial_minus_warmup_db", gain, 2)
    record(f"deepgin_{name}_adv_share_of_loss", adv["adv_share"], 8)
    display(Markdown(
        f"{scale} scale: the adversarial stage ({recipe.train.steps} steps, with the "
        f"{', '.join(k for k in ('perceptual', 'style', 'tv') if recipe.loss_weights[k] > 0)} terms weighted in) "
        f"moved the test PSNR by {signed(gain)} dB from the warm-up checkpoint. Over its last logged steps the weighted "
        f"adversarial term was {adv['adv_share']:.1e} of the generator's loss, and D's mean output was "
        f"{adv['d_real']:+.3f} on real and {adv['d_fake']:+.3f} on completed images (hinge loss {adv['d_loss']:.2f}; 4 "
        "means D cannot tell them apart at either scale). " + (
            "At this scale the adversarial term is too small a share of the loss to steer the generator: the PSNR "
            "change comes from the other terms and the extra steps." if adv["adv_share"] < 0.01 else
            "The adversarial term is a visible share of the generator's loss at this scale.")))

# %% [markdown]
# ## Completions
#
# Test photographs with test masks from several buckets; warm-up checkpoint and final model, composites.

# %%
for name, r in runs.items():
    images, masks = splits[name].examples(buckets=(0, 2, 3, 5), n=run.knob("test_images", 4))
    completion_grid({"warm-up": predictor(r["warmup"][0]), "DeepGIN": predictor(r["main"][0])}, images, masks,
                    title=f"{name}, {scale} scale ({cfg.image_size} px)")
    plt.show()
