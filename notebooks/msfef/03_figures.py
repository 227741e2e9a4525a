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
# # MSFEF 3: inside the trained MSFEF modules
#
# The paper {cite}`sarkar2023msfef` argues that the 3x3 branch captures local texture and the 7x7 branch global
# structure, and that the learned fusion weights combine the two (Sect. 3.2.2), but it draws no figure of a
# trained module. This notebook opens the network trained in `02_training`: the learned fusion weights of each
# MSFEF stage per kernel size (which scale dominates at which depth), the feature maps of each branch on one test
# photograph, and the mask update of each branch.

# %% tags=["parameters"]
scale = "ci"
seed = 0
device = "auto"
data_root = None

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown, display

from inpaintlib.data import SampleScenes
from inpaintlib.masks import MaskTestSet
from inpaintlib.papers.msfef import MSFEFConfig, load_msfef, trained_checkpoint
from inpaintlib.record import record
from data_prep.make_masks import ensure_ci_masks

cfg = MSFEFConfig.for_scale(scale)
size = cfg.image_size
ckpt = trained_checkpoint(scale, data_root)
model = load_msfef(ckpt)
print(f"loaded {ckpt} ({scale} scale, {model.num_parameters():,} parameters)")

# %% [markdown]
# ## The learned fusion weights
#
# Each MSFEF stage multiplies branch $k$ by a learned $1\times1\times C$ tensor $w_k$ (initialised to 1/3, our
# choice). Left: the mean of $|w_k|$ over channels per stage. Right: what each branch actually contributes on the
# test photographs, $\lVert w_k \odot \mathrm{PConv}_k(X) \rVert$ averaged over positions and channels, as a share
# of the three, because a small weight on a branch with large outputs can still dominate.

# %%
modules = model.msfef_modules()
weights = pd.DataFrame({f"MSFEF{i + 1}": {f"{k}x{k}": float(w.abs().mean()) for k, w in m.fusion_weights().items()}
                        for i, m in enumerate(modules)}).T
test = SampleScenes("test", size)
images = torch.stack([test[i] for i in range(len(test))])
test_masks = MaskTestSet(ensure_ci_masks(size, 8 if scale == "ci" else 50, 0, "irregular", "msfef"))
mask_ids = [int(np.flatnonzero(test_masks.bucket_ids == b)[0]) for b in range(len(test_masks.buckets))]
valid = test_masks.masks()[[mask_ids[i % len(mask_ids)] for i in range(len(images))]]
with torch.no_grad():
    stages = model.encode(images * valid, valid, return_branches=True)
contrib = {}
torch.set_grad_enabled(False)  # inspection only
for st, m in zip([s for s in stages if s["branches"] is not None], modules):
    row = {}
    for k, w in zip(m.kernel_sizes, m.fusion):
        out_k, mask_k = st["branches"][k]
        row[f"{k}x{k}"] = float((w * out_k * st["valid"]).abs().mean())
    contrib[st["name"]] = row
contrib = pd.DataFrame(contrib).T
share = contrib.div(contrib.sum(axis=1), axis=0)
fig, axes = plt.subplots(1, 2, figsize=(9, 3))
weights.plot.bar(ax=axes[0], rot=0)
axes[0].axhline(1 / 3, color="gray", ls=":", lw=1)
axes[0].set_title(f"mean |w_k| per stage ({scale} scale; dotted: init 1/3)", fontsize=9)
share.plot.bar(ax=axes[1], rot=0, stacked=True)
axes[1].set_title("share of the fused output per branch", fontsize=9)
plt.tight_layout()
plt.show()
display(weights.round(3))
dom_w = weights.idxmax(axis=1)
dom_c = share.idxmax(axis=1)
for st_name in weights.index:
    record(f"msfef_fusion_dominant_{st_name}", dom_c[st_name])
display(Markdown(
    f"{scale} scale: by mean |w|, the dominant branch per stage is "
    + ", ".join(f"{s}: {dom_w[s]}" for s in weights.index)
    + "; by contribution to the fused output it is "
    + ", ".join(f"{s}: {dom_c[s]} ({share.loc[s, dom_c[s]]:.0%})" for s in share.index)
    + ". Weights moved from the initial 1/3 by at most "
    + f"{float((weights - 1 / 3).abs().max().max()):.3f} (mean over channels)."))

# %% [markdown]
# ## Feature maps of each branch
#
# One test photograph with a test mask; for each MSFEF stage, the channel-mean of $|\mathrm{PConv}_k(X)|$ for each
# branch before fusion, and of the fused output (after the 3x3 mask). The paper's intuition predicts smoother
# maps for larger kernels. At `ci` scale the stage maps are only 16, 8, 4 and 2 pixels wide.

# %%
j = 0
n_st = len(modules)
fig, axes = plt.subplots(n_st, 5, figsize=(9.5, 2 * n_st))
msfef_stages = [s for s in stages if s["branches"] is not None]
for r, st in enumerate(msfef_stages):
    axes[r, 0].imshow((images[j] * valid[j] + (1 - valid[j]) * torch.tensor([1.0, 0, 1]).view(3, 1, 1))
                      .permute(1, 2, 0).numpy())
    axes[r, 0].set_ylabel(st["name"], fontsize=8)
    for c, k in enumerate(sorted(st["branches"])):
        fm = st["branches"][k][0][j].abs().mean(0)
        axes[r, c + 1].imshow(fm.numpy(), cmap="viridis")
        axes[r, c + 1].set_title(f"{k}x{k} branch" if r == 0 else "", fontsize=8)
    fused = st["features"][j].abs().mean(0)
    axes[r, 4].imshow(fused.numpy(), cmap="viridis")
    axes[r, 4].set_title("after fusion, IN, ReLU" if r == 0 else "", fontsize=8)
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle(f"per-branch features, {scale} scale", fontsize=9)
plt.tight_layout()
plt.show()
tv = {k: float(np.mean([(st["branches"][k][0][j].diff(dim=-1).abs().mean() /
                         (st["branches"][k][0][j].abs().mean() + 1e-8)).item() for st in msfef_stages[:2]]))
      for k in sorted(msfef_stages[0]["branches"])}
display(Markdown(
    f"{scale} scale, first two MSFEF stages: the relative horizontal variation of the branch maps is "
    + ", ".join(f"{k}x{k}: {v:.2f}" for k, v in tv.items())
    + (" - smoother for larger kernels, as the paper's intuition says." if tv[7] < tv[3] else
       " - the larger kernels are not smoother here.")))

# %% [markdown]
# ## The mask update of each branch
#
# The mask each branch produces in each MSFEF stage from the same input mask (white = known). Only the 3x3 mask
# leaves the module; the difference between it and the 7x7 mask is the ring of positions where the 7x7 branch had
# something to say and the module set the output to zero.

# %%
fig, axes = plt.subplots(n_st, 4, figsize=(7.5, 2 * n_st))
for r, st in enumerate(msfef_stages):
    for c, k in enumerate(sorted(st["branches"])):
        m = st["branches"][k][1][j, 0]
        axes[r, c].imshow(m.numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        axes[r, c].set_title(f"{k}x{k}: hole {1 - float(m.mean()):.0%}", fontsize=8)
    m3, m7 = st["branches"][3][1][j, 0], st["branches"][7][1][j, 0]
    axes[r, 3].imshow((m7 - m3).numpy(), cmap="magma", vmin=0, vmax=1, interpolation="nearest")
    axes[r, 3].set_title("7x7 only (zeroed)", fontsize=8)
    axes[r, 0].set_ylabel(st["name"], fontsize=8)
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
plt.tight_layout()
plt.show()
