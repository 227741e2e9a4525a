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
# # DeepGIN 4: the paper's figures from a trained network
#
# From the checkpoint `03_training` wrote: Fig. 1's layout (the three mask types and their completions), Fig. 4's
# layout (coarse and refined results), and two figures the paper describes but does not draw: the anatomy of **Back
# Projection** (the low-resolution image, the learned weight map, the residual added back; PSNR before and after) and
# the **Multi-Scale Self-Attention** maps of a query pixel inside the hole at each of the three resolutions. At `ci`
# scale the network is small and briefly trained: the figures show the mechanism, not the paper's trained behaviour.

# %% tags=["parameters"]
scale = "ci"
seed = 0
device = "auto"
data_root = None  # paper scale: the folder holding the paper's datasets, each prepared by data_prep
smoke = False  # a dry run: every cell once, one test photograph and one mask per bucket
knobs = {}  # overrides: masks_per_bucket, test_images, datasets

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display

from inpaintlib.chapter import completion_grid, predictor, run_context, show, signed
from inpaintlib.masks import aim_box_mask, aim_free_form_mask, cellular_automaton_mask, to_tensor
from inpaintlib.papers.deepgin import figures as F
from inpaintlib.record import record

run = run_context("deepgin", scale, seed=seed, device=device, data_root=data_root, smoke=smoke, **knobs)
model = run.trained()
s = model.config.image_size
rng = np.random.default_rng(seed)
test = run.photos("test", s)
types = {"rectangle": aim_box_mask, "cellular automaton": cellular_automaton_mask, "free-form": aim_free_form_mask}
images = torch.stack([test[i % len(test)] for i in range(len(types))])
masks = to_tensor([g(s, s, rng) for g in types.values()])
print(f"{scale} scale: DeepGIN from {run.checkpoint()}, {s} px, test photographs of {run.dataset}")

# %% [markdown]
# ## Paper Fig. 1: one image per mask type, completed
#
# Fig. 1 shows the three mask types of the AIM 2020 challenge with DeepGIN's completions. Compare: how the
# completion copes with one large box, scattered cellular-automaton holes, and long strokes. The paper's second row,
# DeepFill v2's completions, is left out: the book has no DeepFill v2 network (gated convolutions; the CtxAttn chapter
# builds DeepFill v1, a different network), and no pretrained weights can be fetched here.

# %%
completion_grid({"DeepGIN": predictor(model)}, images, masks, title=f"{scale} scale ({s} px)",
                row_labels=list(types));

# %% [markdown]
# ## Paper Fig. 4 layout: coarse and refined
#
# Fig. 4 compares separately trained variants (columns) on the three mask types (rows); the variants are trained in
# `05_ablation`. Here, the same layout for the stages of one network: G1's coarse output (the "Coarse only" column's
# role) and G2's final output, composites.

# %%
coarse = lambda image, valid: model(image, valid, return_all=True).coarse  # noqa: E731
completion_grid({"coarse (G1)": coarse, "refined (G2)": predictor(model)}, images, masks,
                title=f"{scale} scale: coarse and refined", row_labels=list(types));

# %% [markdown]
# ## Back Projection, opened up
#
# Sect. 4.1: G2 predicts a 1/4-size image I_lr at its 64x64 level (16x16 at `ci`), compares it with its output
# down-sampled 4x, and adds the residual back, weighted by a learned map. Panels: input, I_lr, the weight map, the
# residual added (blue negative, red positive), output before and after, ground truth.

# %%
with torch.no_grad():
    fig, bp = F.bp_anatomy(model, images[2:3], masks[2:3])
plt.show()
record("deepgin_bp_psnr_before", bp["psnr_before_bp"], 2)
record("deepgin_bp_psnr_after", bp["psnr_after_bp"], 2)
display(Markdown(
    f"{scale} scale, this image: composite PSNR {bp['psnr_before_bp']:.2f} dB before BP and {bp['psnr_after_bp']:.2f} "
    f"dB after ({signed(bp['psnr_after_bp'] - bp['psnr_before_bp'])} dB). The mean weight is {bp['weight_hole']:.2f} in "
    f"the hole and {bp['weight_known']:.2f} on known pixels."))

# %% [markdown]
# ## Multi-Scale Self-Attention: where a hole pixel looks
#
# For each of G2's three self-attention blocks (the bottleneck block and the two on the skips), the attention weights
# of one query position, the hole position farthest from the known pixels, over all positions of that block's
# feature map, drawn over the image at that resolution (dashed: the hole's outline). Self-similarity helps
# inpainting if a hole pixel draws on known pixels: the table gives the attention's share on known positions beside
# the share of positions that are known (what uniform attention would give).

# %%
fig, att = F.attention_figure(model, images[:1], masks[:1])
plt.show()
show(att, f"Attention of a hole query, {scale} scale", digits=3)
ratio = att["attention on known"] / att["known share of positions"]
record("deepgin_attention_known_ratio_min", float(ratio.min()), 2)
display(Markdown("Attention on known positions relative to uniform attention: " + ", ".join(
    f"{b} {r:.2f}x" for b, r in ratio.items()) + f" ({scale} scale; above 1 means the query prefers known positions)."))
