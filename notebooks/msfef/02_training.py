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
# # MSFEF 2: training
#
# The training recipe of {cite}`sarkar2023msfef` (Sect. 3.3, 4.1, 4.2): pixel-wise squared errors on the known
# and missing pixels, a perceptual loss {cite}`johnson2016perceptual` and a style loss {cite}`gatys2016style` on
# VGG16 {cite}`simonyan2015vgg` features (pool1-pool3) of the output and the composite, weighted
# $w_1 = 1, w_2 = 6, w_3 = 0.01, w_4 = 120$ (Eq. 5); Adam with weight decay, initial learning rate 0.003 reduced
# on plateau, batch 32, 120 epochs. At `ci` scale the same code trains a narrow, shallow copy of the network on
# 32 px crops of the sample scenes for a few hundred steps at a constant, lower learning rate (too few steps for
# the plateau schedule; the reason is in `inpaintlib.models.msfef.CI_LR`); every change from the paper is printed
# below.

# %% tags=["parameters"]
scale = "ci"
seed = 0
device = "auto"
data_root = None

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown, display

from inpaintlib import viz
from inpaintlib.classical import mean_fill
from inpaintlib.data import SampleScenes, open_dataset
from inpaintlib.masks import MaskTestSet
from inpaintlib.metrics import evaluate
from inpaintlib.papers.msfef import (MSFEFConfig, build_vgg, changes_from_paper, mask_fn, msfef_training,
                                     predictor, table1_protocol, train_msfef)
from inpaintlib.paths import artifact_dir
from inpaintlib.record import record
from data_prep.make_masks import ensure_ci_masks

cfg = MSFEFConfig.for_scale(scale)
recipe = msfef_training(scale, seed=seed, device=device)
size = cfg.image_size
print(f"{scale} scale, model changes from paper():", cfg.changes_from_paper() or "none")
print(f"{scale} scale, recipe changes from the paper's:", changes_from_paper(recipe) or "none")
print(f"VGG16 loss network: backbone={recipe.vgg_backbone!r}"
      + ("  <- random, seeded weights, chosen explicitly: ImageNet weights cannot be downloaded offline, so the "
         "perceptual and style terms here are not the paper's" if recipe.vgg_backbone == "random" else ""))
print("loss weights (Eq. 5):", recipe.loss_weights)

# %% [markdown]
# ## Data
#
# `ci` and `demo`: the sample scenes (photographs shipped with scikit-image, scikit-learn and matplotlib; test
# photographs are never trained on). `paper`: with `data_root` set, Helen, Stanford Cars and LSUN Church
# (Sect. 4.1), each prepared by `python -m data_prep.datasets NAME --root DATA_ROOT/NAME`; the same cells then
# run once per dataset. Test masks: the library's fixed, seeded irregular-mask test set with Table 1's buckets
# [0.01,0.1) ... [0.4,0.5) (the paper does not say which test masks it used).
#
# Training masks: Sect. 4.2 gives only the mask "size", 0.1-0.25 of the image height. One rectangle of that size
# covers at most 6.25% of the image, yet Table 1 evaluates holes of up to 50%. Our reading: rectangles of that
# size, added until a hole ratio drawn uniformly from [0.01, 0.5) is reached (`msfef_multi_rectangle_mask`).
# With a single rectangle per image (`inpaintlib.masks.msfef_rectangle_mask`) the network would never see a hole
# larger than 6.25% and be tested far outside what it was trained on.

# %%
if data_root is not None and scale == "paper":
    runs = {name: (open_dataset(name, Path(data_root) / name, "train", size),
                   open_dataset(name, Path(data_root) / name, "test", size)) for name in recipe.datasets}
else:
    if data_root is not None:
        print(f"data_root is used at paper scale only; {scale} scale trains on the sample scenes")
    runs = {"sample_scenes": (SampleScenes("train", size, seed=seed), SampleScenes("test", size))}
per_bucket = 8 if scale == "ci" else 50
test_masks = MaskTestSet(ensure_ci_masks(size, per_bucket, 0, "irregular", "msfef"))
masks = test_masks.masks()
print("test masks per bucket:", test_masks.counts())
gen = mask_fn(recipe)
rng = np.random.default_rng(seed)
train_examples = [gen(size, size, rng) for _ in range(8)]
fig = viz.mask_strip(train_examples, suptitle=f"training masks ({scale} scale, {size} px; white = known)")
plt.show()

# %% [markdown]
# ## Training
#
# `inpaintlib.train.train` runs the optimisation; the test PSNR and SSIM (composite, whole image, mean over
# every test pair) are logged at each evaluation. The checkpoint (safetensors + JSON sidecar) lands in
# `artifact_dir("msfef", scale)`, where the next notebooks read it.

# %%
vgg = build_vgg(recipe, seed=seed)
results = {}
for name, (train_set, test_set) in runs.items():
    test_images = torch.stack([test_set[i] for i in range(min(len(test_set), 64 if scale == "ci" else 330))])
    rec = recipe
    if scale == "paper" and name != "helen":  # 120 epochs of this dataset (Sect. 4.2 item 7)
        spe = -(-len(train_set) // rec.train.batch_size)
        rec = msfef_training(scale, seed=seed, device=device, steps=120 * spe, log_every=spe, eval_every=spe,
                             ckpt_every=spe)
    out_dir = artifact_dir("msfef", scale) / name
    model, history = train_msfef(cfg, rec, train_set, out_dir, vgg=vgg, eval_images=test_images,
                                 eval_masks=masks, resume=scale != "ci")
    results[name] = (model, history, test_images, out_dir)
    print(f"{name}: {history.steps_done} steps, checkpoint {out_dir / 'model.safetensors'}")

# %% [markdown]
# ## Learning curves

# %%
for name, (model, history, test_images, out_dir) in results.items():
    keys = [k for k in ("loss", "valid", "hole", "perceptual", "style") if k in history.train.columns]
    fig = viz.learning_curves(history.train, keys=keys, logy=True, title=f"{name}: training terms ({scale} scale)")
    plt.show()
    ev = history.eval
    mf = evaluate(mean_fill, test_images, masks, table1_protocol(("psnr",))).table.loc["psnr", "all"]
    fig, ax = plt.subplots(figsize=(4.5, 3))
    ax.plot(ev["step"], ev["test_psnr"], "o-", label="MSFEF (composite)")
    ax.axhline(mf, color="gray", ls="--", label="mean fill (composite)")
    ax.set_xlabel("step")
    ax.set_ylabel("test PSNR (dB)")
    ax.set_title(f"{name}, {scale} scale")
    ax.legend(fontsize=8)
    plt.show()
    first, last = ev.iloc[0], ev.iloc[-1]
    rises = bool((ev["test_psnr"].diff().dropna() > 0).all())
    record(f"msfef_{name}_test_psnr_first", round(float(first["test_psnr"]), 2))
    record(f"msfef_{name}_test_psnr_last", round(float(last["test_psnr"]), 2))
    display(Markdown(
        f"{name}, {scale} scale: the test PSNR went from {first['test_psnr']:.2f} dB at step {int(first['step'])} to "
        f"{last['test_psnr']:.2f} dB at step {int(last['step'])} "
        f"({'rising at every evaluation' if rises else 'not rising at every evaluation'}); the mean-fill composite "
        f"scores {mf:.2f} dB on the same pairs."))

# %% [markdown]
# ## Completions (the layout of Paper Figs. 3-5)
#
# Paper Figs. 3-5 show ground truth, input and output for Helen, LSUN Church and Stanford Cars. Here: test
# photographs of the sample scenes with test masks from several buckets; the output column is the composite
# (known pixels from the input). Compare the plausibility of colour and structure in the hole, not the image
# content.

# %%
for name, (model, history, test_images, out_dir) in results.items():
    idx = [0, 1, 2, 3]
    mask_idx = [int(np.flatnonzero(test_masks.bucket_ids == b)[0]) for b in (0, 2, 3, 4)]
    gt, valid = test_images[idx], masks[mask_idx]
    with torch.no_grad():
        comp = model.composite(gt * valid, valid)
    fig, axes = plt.subplots(len(idx), 3, figsize=(5.4, 1.9 * len(idx)))
    for r in range(len(idx)):
        hole_vis = gt[r] * valid[r] + (1 - valid[r]) * torch.tensor([1.0, 0.0, 1.0]).view(3, 1, 1)
        for c, (title, im) in enumerate([("ground truth", gt[r]), ("input", hole_vis), ("output", comp[r])]):
            axes[r, c].imshow(im.permute(1, 2, 0).clamp(0, 1).numpy())
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
            if r == 0:
                axes[r, c].set_title(title, fontsize=9)
        axes[r, 0].set_ylabel(test_masks.label(int(test_masks.bucket_ids[mask_idx[r]])), fontsize=8)
    fig.suptitle(f"{name}, {scale} scale ({size} px)", fontsize=9)
    plt.tight_layout()
    plt.show()

# %% [markdown]
# ## Test PSNR by bucket against mean filling

# %%
proto = table1_protocol(("psnr", "ssim", "mse"))
for name, (model, history, test_images, out_dir) in results.items():
    ours = evaluate(predictor(model), test_images, masks, proto)
    base = evaluate(mean_fill, test_images, masks, proto)
    t = pd.DataFrame({f"MSFEF ({scale} scale)": ours.table.loc["psnr"], f"mean fill ({scale} scale)":
                      base.table.loc["psnr"]}).T
    t.loc["difference (dB)"] = t.iloc[0] - t.iloc[1]
    display(Markdown(f"**{name}: PSNR (dB) by hole ratio.** Protocol: {proto.describe()}"))
    display(t.round(2))
    diff = t.loc["difference (dB)"].drop("all")
    for i, (b, v) in enumerate(t.iloc[0].items()):
        record(f"msfef_{name}_psnr_{'all' if b == 'all' else f'b{i}'}", round(float(v), 2))
        if b != "all":
            record(f"msfef_{name}_psnr_margin_b{i}", round(float(t.loc['difference (dB)', b]), 2))
    record(f"msfef_{name}_min_margin_over_mean_fill_db", round(float(diff.min()), 2))
    ahead = bool((diff > 0).all())
    display(Markdown(
        f"{name}, {scale} scale: MSFEF's composite is "
        + (f"ahead of mean filling in every bucket, by {diff.min():.2f} to {diff.max():.2f} dB."
           if ahead else f"behind mean filling in {', '.join(diff[diff <= 0].index)}.")))
    ours.per_image.to_csv(out_dir / "test_per_image.csv", index=False)
