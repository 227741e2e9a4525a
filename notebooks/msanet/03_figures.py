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
# # MSA-Net 3: the paper's figures from a trained network
#
# The figures of {cite}`qin2021msanet` that look inside a trained MSA-Net, regenerated from the checkpoint that
# `02_training` wrote: Fig. 3 (the features of each dilation branch), Fig. 5 (the fusing spatial attention), Fig. 7
# (the augmented channel attention's weights) and Fig. 15 (occlusion removal). Each claim the paper makes about a
# figure is measured here and the number printed. At `ci` scale the network is small and briefly trained: the maps
# show the mechanism, not the paper's trained behaviour.

# %% tags=["parameters"]
scale = "ci"
seed = 0
device = "auto"
data_root = None  # paper scale: the folder holding the paper's datasets, each prepared by data_prep
smoke = False  # a dry run: every cell once, a few steps, one test photograph and one mask per bucket
knobs = {}  # overrides: test_images, datasets

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display

from inpaintlib.chapter import completion_grid, predictor, run_context, show
from inpaintlib.masks import center_box_mask, to_tensor
from inpaintlib.papers.msanet import figures as F
from inpaintlib.record import record

run = run_context("msanet", scale, seed=seed, device=device, data_root=data_root, smoke=smoke, **knobs)
model = run.trained()
s = model.config.image_size
test = run.split().test_images
image, valid = test[0][None], to_tensor([center_box_mask(s, s, area=0.15)])
print(f"{scale} scale: MSA-Net from {run.checkpoint()}, {s} px, test photographs of {run.dataset}")

# %% [markdown]
# ## Paper Fig. 3: features of each dilation branch (MSAU 1)
#
# The paper: features of larger receptive fields (rate 8) "smooth the texture", smaller ones (rate 1) "display more
# detailed information". Compare: the mean absolute map of each branch, and its high-frequency share (mean absolute
# Laplacian over mean value) in the table below.

# %%
fig, hf = F.branch_figure(model, image, valid)
plt.show()
show(hf.T, f"MSAU 1 branches, {scale} scale", digits=3)
r1, r8 = hf.loc[1, "high-frequency share"], hf.loc[8, "high-frequency share"]
record("msanet_fig3_hf_rate1", round(r1, 3)), record("msanet_fig3_hf_rate8", round(r8, 3))
display(Markdown(f"At {scale} scale the rate-1 branch's high-frequency share is {r1:.3f} and the rate-8 branch's "
                 f"{r8:.3f}: the paper's ordering (rate 1 more detailed) {'holds' if r1 > r8 else 'does not hold'} here."))

# %% [markdown]
# ## Paper Fig. 5: fusing spatial attention per scale
#
# Rows: the features before spatial attention, the map $W_s$ (Eq. 5), the weighted features (Eq. 6). The paper:
# regions "with more details or complex textures" get higher weights, "smooth areas will be suppressed". Measured:
# the correlation of $W_s$ with the local contrast of the features, and $W_s$ on known positions and in the hole.

# %%
fig, sa = F.spatial_attention_figure(model, image, valid)
plt.show()
show(sa.T, f"Spatial attention of MSAU 1, {scale} scale", digits=3)
record("msanet_fig5_corr_mean", round(float(sa["corr(W_s, contrast)"].mean()), 3))
display(Markdown(f"Mean correlation of Wₛ with local contrast over the four rates: "
                 f"{sa['corr(W_s, contrast)'].mean():+.2f} (positive in {(sa['corr(W_s, contrast)'] > 0).sum()} of 4)."))

# %% [markdown]
# ## Paper Fig. 7: the augmented channel attention's weights
#
# Top: $W_c$ (Eq. 8) for every map of MSAU 1's concatenation. Bottom: the three strongest and the three weakest maps.
# The paper: "informative maps with complex context" get higher weights, "useless maps" lower ones.

# %%
fig, cw = F.channel_weights_figure(model, image, valid)
plt.show()
show(cw, f"Strongest and weakest channels, {scale} scale", digits=3)
strong, weak = cw[cw["rank"] == "strongest"]["spatial std"].mean(), cw[cw["rank"] == "weakest"]["spatial std"].mean()
record("msanet_fig7_std_strong", round(strong, 4)), record("msanet_fig7_std_weak", round(weak, 4))
display(Markdown(f"The strongest maps vary more across the image than the weakest (spatial std {strong:.3f} against "
                 f"{weak:.3f})." if strong > weak else f"The strongest maps do not vary more than the weakest here "
                 f"(spatial std {strong:.3f} against {weak:.3f})."))

# %% [markdown]
# ## Paper Fig. 15: occlusion removal
#
# The paper removes occluders from ImageNet and LFW photographs, which are not available here. Stand-in: the sample
# scenes' test photographs with three hand-placed occluder masks (an upright ellipse, a pole, a scratch). Compare the
# plausibility of what fills the region, not the content.

# %%
masks = to_tensor(F.occlusion_masks(s))
images = torch.stack([test[i % len(test)] for i in range(len(masks))])
completion_grid({"MSA-Net": predictor(model)}, images, masks, title=f"occlusion removal, {scale} scale ({s} px)");
