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
# # CtxAttn 3: training
#
# {cite}`charef2024ctxattn` names **no loss, no critic, no optimiser, no dataset and no schedule**; the only related
# words are in its survey of other methods ("GAN-based conditional generation", "adversarial training loss"). The
# recipe here is DeepFill v1's (appendix [reference implementations](../../book/reference_implementations),
# "DeepFill v1: losses, critics and optimiser"), which the network is:
#
# * for both stages, a **spatially discounted L1** on the hole (each hole pixel weighted by
#   $\gamma^{d}$, $d$ its distance to the known region, $\gamma = 0.9$) and an **L1 on the known pixels**, each
#   weighted 1.2;
# * **WGAN-GP** with a **global critic** on the whole composite and a **local critic** on a crop around the hole
#   (5x5 stride-2 convolutions, LeakyReLU, a dense layer), the gradient penalty (weight 10) taken over the hole's pixels
#   only, the generator's adversarial term weighted 0.001;
# * Adam, learning rate 1e-4, betas (0.5, 0.9), batch 16;
# * 5 critic updates per generator update, each on the same batch (`TrainConfig(d_steps=5)` in `paper()`).
#
# The `ci` scale changes this, each change printed below with its reason in `inpaintlib.papers.ctxattn.recipe`: a
# narrower generator (c = 8) and critics (base 8), 400 steps of batch 4 at a ten times higher learning rate (decayed
# linearly to zero over the second half; `CI_SCHEDULE` in the recipe gives the measured reason), a ten
# times smaller adversarial weight, and 1 critic update per generator update instead of 5 (cost: 5 would more than
# double the run) — the **critics stay on**.

# %% tags=["parameters"]
scale = "ci"
seed = 0
device = "auto"
data_root = None  # paper scale: the folder holding the paper's datasets, each prepared by data_prep
smoke = False  # a dry run: every cell once, a few steps, one test photograph and one mask per bucket
knobs = {}  # overrides: max_steps, batch_size, masks_per_bucket, test_images

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from inpaintlib.chapter import against_mean_fill, completion_grid, learning_summary, predictor, run_context
from inpaintlib.papers.ctxattn import describe, train_ctxattn
from inpaintlib.papers.ctxattn.figures import critic_terms_figure
from inpaintlib.record import record

run = run_context("ctxattn", scale, seed=seed, device=device, data_root=data_root, smoke=smoke, **knobs)
cfg, recipe = run.config, run.cap(run.recipe)
print(run.describe())
print(describe(cfg, recipe))

# %% [markdown]
# ## Data
#
# `ci` and `demo`: the sample scenes (test photographs never trained on). `paper`: with `data_root`, Places2
# prepared by `data_prep` (our choice: the paper names no dataset). Test masks: the library's fixed, seeded irregular
# masks in Table I's two buckets, 10-20% and 40-50%; training masks: the irregular generator over 5-55% (our choice;
# DeepFill v1 trained with one box per batch).

# %%
splits = run.data()
print("test masks per bucket:", next(iter(splits.values())).mask_set.counts())

# %% [markdown]
# ## Training
#
# The test PSNR and SSIM of the composite (whole image, mean over every test pair) are logged at each evaluation. The
# checkpoint (safetensors + a JSON sidecar naming the paper and the config) lands in `artifact_dir("ctxattn", scale)`.

# %%
runs = {name: train_ctxattn(cfg, recipe, d.train, run.out(name), **d.training_eval(),
                            resume=run.resume) for name, d in splits.items()}

# %% [markdown]
# ## The loss terms, the critics, and the learning curve
#
# The generator's L1 terms as logged (unweighted, log scale); then the critics' side on a linear scale: their
# Wasserstein estimate $E[D(\text{real})] - E[D(\text{fake})]$ summed over the global and the local critic (it stays
# positive while the critics can tell the composites from real photographs), the gradient penalty, and the
# generator's adversarial term $-E[D(\text{fake})]$; then the test PSNR against mean filling.

# %%
for name, (model, history) in runs.items():
    learning_summary(history, splits[name], scale, f"ctxattn_{name}",
                     ["loss", "l1_hole_coarse", "l1_hole_refined", "l1_known_coarse", "l1_known_refined"])
    critic_terms_figure(history, f"{name}: the critics ({scale} scale)")
    plt.show()
    tail = history.train.iloc[-max(1, len(history.train) // 4):]
    w, gp = float(tail["d_wasserstein"].mean()), float(tail["d_gp"].mean())
    record(f"ctxattn_{name}_final_wasserstein", w, 3), record(f"ctxattn_{name}_final_gp", gp, 3)
    display(Markdown(f"Over the last quarter of the logged steps the critics' Wasserstein estimate averages {w:.2f} "
                     f"({'positive: the critics still tell real from completed' if w > 0 else 'not positive: the critics cannot tell real from completed'}) "
                     f"and the gradient penalty {gp:.3f}."))

# %% [markdown]
# ## Completions
#
# Test photographs with test masks from both buckets; the output column is the composite.

# %%
for name, (model, _) in runs.items():
    images, masks = splits[name].examples(buckets=(0, 1), n=run.knob("test_images", 4))
    completion_grid({"CtxAttn": predictor(model)}, images, masks, title=f"{name}, {scale} scale ({cfg.image_size} px)")
    plt.show()

# %% [markdown]
# ## Test PSNR by bucket against mean filling

# %%
for name, (model, _) in runs.items():
    res = against_mean_fill("CtxAttn", model, splits[name], scale, f"ctxattn_{name}")
