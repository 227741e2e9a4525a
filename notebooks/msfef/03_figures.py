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
# MSFEF stage per kernel size (which scale contributes most at which depth, stated only where the difference
# exceeds the spread over test images), the feature maps of each branch on one test
# photograph, and the mask update of each branch.

# %% tags=["parameters"]
scale = "ci"
seed = 0
device = "auto"
data_root = None  # paper scale: the folder holding the paper's datasets, each prepared by data_prep
smoke = False  # a dry run: every cell once, one test photograph and one mask per bucket
knobs = {}  # overrides: masks_per_bucket, test_images, datasets

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display

from inpaintlib.chapter import run_context, show
from inpaintlib.papers.msfef import figures as F
from inpaintlib.record import record

torch.set_grad_enabled(False)  # inspection only
run = run_context("msfef", scale, seed=seed, device=device, data_root=data_root, smoke=smoke, **knobs)
model, d = run.trained(), run.split()
images, valid = d.examples(buckets=range(len(d.protocol.buckets)), n=len(d.test_images))
print(f"{run.dataset} model ({scale} scale, {model.num_parameters():,} parameters); {len(images)} test images")

# %% [markdown]
# ## The learned fusion weights
#
# Each MSFEF stage multiplies branch $k$ by a learned $1\times1\times C$ tensor $w_k$ (initialised to 1/3, our
# choice). Left: the mean of $|w_k|$ over channels per stage. Right: what each branch actually contributes to the
# fused output on the test images, $\lVert w_k \odot \mathrm{PConv}_k(X) \odot M'_3 \rVert_1$ averaged over
# positions and channels, as a share of the three, because a small weight on a branch with large outputs can still
# dominate. A branch is called dominant in a stage only when its share exceeds the runner-up's by more than two
# standard errors over the test images.

# %%
stages, shares = F.branch_contributions(model, images, valid)
fig, weights = F.fusion_figure(model, shares, scale)
plt.show()
dom = F.dominant(shares, "share", "stage")
show(dom.round(3), f"Largest share per stage ({scale} scale, {len(images)} test images)")
for stage, r in dom.iterrows():
    record(f"msfef_fusion_dominant_{stage}", r["top"] if r["clear"] else "none clear")
display(Markdown(f"{scale} scale: " + "; ".join(
    f"{s}: {r['top']} ({r['gap']:+.3f} over {r['runner-up']}, {'clear' if r['clear'] else 'within 2 standard errors'})"
    for s, r in dom.iterrows()) + f". Weights moved from the initial 1/3 by at most "
    f"{float((weights - 1 / 3).abs().max().max()):.3f} (mean over channels)."))

# %% [markdown]
# ## Feature maps of each branch
#
# One test photograph with a test mask; for each MSFEF stage, the channel-mean of $|\mathrm{PConv}_k(X)|$ for each
# branch before fusion, and the stage's output. The paper's intuition (3x3 local texture, 7x7 global structure)
# predicts smoother maps for larger kernels; we measure the relative horizontal variation of each branch's maps in
# the first two stages, per test image, and call one branch smoother only beyond two standard errors.

# %%
F.branch_feature_figure(stages, images, valid, 0, scale)
plt.show()
sm = F.branch_smoothness(stages)
var = sm.groupby("branch")["variation"].mean()
smooth = F.dominant(sm.assign(variation=-sm.variation, stage="first two"), "variation", "stage").iloc[0]
display(Markdown(
    f"{scale} scale, first two MSFEF stages, relative variation (lower = smoother): "
    + ", ".join(f"{k}: {v:.2f}" for k, v in var.items()) + ". "
    + (f"The smoothest branch is {smooth['top']}, beyond two standard errors; the paper's intuition "
       + ("holds here." if smooth["top"] == var.index[-1] else "does not.") if smooth["clear"]
       else "No branch is smoother than the next beyond two standard errors over the test images.")))

# %% [markdown]
# ## The mask update of each branch
#
# The mask each branch produces in each MSFEF stage from the same input mask (white = known). Only the 3x3 mask
# leaves the module; the difference between it and the 7x7 mask is the ring of positions where the 7x7 branch had
# something to say and the module set the output to zero.

# %%
F.branch_mask_figure(stages, 0)
plt.show()
