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
# # Masks: the generators the papers train and test with
#
# Every chapter of this book trains and scores networks on holes. The papers use different families of holes:
# a fixed box covering a quarter of the image (MSA-Net's "Fixed" column {cite}`qin2021msanet`), the random boxes,
# cellular-automaton masks and free-form strokes of the AIM 2020 challenge (DeepGIN {cite}`li2020deepgin`), DeepFill
# v2's brush strokes {cite}`yu2019deepfillv2`, the irregular masks of Liu et al. {cite}`liu2018partialconv` grouped
# by hole ratio, and the rectangles MSFEF trains with {cite}`sarkar2023msfef`. This notebook draws each family
# from `inpaintlib.masks` (MSFEF's from its paper package), measures its hole ratios, and builds the fixed, seeded
# mask test set that every chapter is scored on.
#
# **Convention.** A mask is a `valid` map: 1 = known pixel, 0 = hole. Every public function checks it.

# %% tags=["parameters"]
scale = "ci"      # "ci", "demo" or "paper"
seed = 0
device = "auto"   # unused here: masks are drawn with numpy
data_root = None  # a folder holding Liu et al.'s irregular-mask test set in irregular_masks/ (optional)
smoke = False  # a dry run: every cell once, one test mask per bucket
liu_polarity = "white_is_hole"  # how that folder's PNGs encode holes (check one file before you trust it)

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display

from inpaintlib import foundations as F
from inpaintlib import masks as M
from inpaintlib.papers.deepgin import deepgin_masks
from inpaintlib.papers.msfef.masks import msfef_multi_rectangle_mask, msfef_rectangle_mask
from inpaintlib.record import record
from inpaintlib.viz import compact_table, mask_gallery, mask_strip

# gallery/histogram mask size, masks per generator for the histograms; the fixed test set: side, masks per bucket
S = F.settings("masks", scale, smoke)
size, n_samples, side, per_bucket = S.size, S.n_samples, S.side, S.per_bucket
gens = F.generators({"msfef_rectangle": msfef_rectangle_mask, "msfef_multi_rectangle": msfef_multi_rectangle_mask})

# %% [markdown]
# ## A gallery of every generator
# White is known, black is the hole; the hole ratio is written above each mask. Each row is one generator; the seed
# fixes every mask.

# %%
mask_gallery(F.draw_masks(gens, size, 6, seed), suptitle=f"six draws per generator ({size} px)")
plt.show()

# %% [markdown]
# DeepGIN trains every image with all three AIM mask types at once (box, cellular automaton, free form):

# %%
mask_strip(deepgin_masks(size, size, np.random.default_rng(seed)), ["AIM box", "AIM cellular automaton", "AIM free form"])
plt.show()

# %% [markdown]
# ## Hole ratios per generator
# The papers report results by hole ratio, so what matters about a generator is which ratios it produces. The dashed
# lines are the bucket edges of Liu et al.: (0.01, 0.1], (0.1, 0.2], ..., (0.5, 0.6]. The table gives, per
# generator, the mean and largest hole ratio and the share of draws in each bucket and outside all of them.

# %%
ratios = F.hole_ratios(gens, size, n_samples, seed + 1)
F.ratio_histograms(ratios)
plt.show()
ratio_table = F.hole_ratio_table(ratios)
display(compact_table(ratio_table, f"Hole ratios of {n_samples} masks of {size} px per generator ({scale} scale)",
                      digits=0, percent=True))
for n in gens:
    record(f"mean_hole_ratio_{n}", ratio_table.loc[n, "mean"], digits=4)

# %% tags=["hide-input"]
widest, smallest, u = ratio_table["max"].idxmax(), ratio_table["mean"].idxmin(), F.bucket_uniformity(ratios["irregular"])
spread = "no evidence against an even spread" if u["p_value"] >= 0.01 else "not spread evenly"
record("irregular_uniformity_p", u["p_value"])
record("irregular_spread", spread)
display(Markdown(
    f"Among these generators, **{widest}** reaches the largest holes (up to {ratio_table.loc[widest, 'max']:.0%} of "
    f"the image) and **{smallest}** makes the smallest on average ({ratio_table.loc[smallest, 'mean']:.1%}). Raw "
    f"irregular masks put {u['shares'].min():.0%} to {u['shares'].max():.0%} of the draws in each bucket and "
    f"{u['outside']:.0%} outside all; a chi-square test of equal counts over the six buckets gives p = {u['p_value']:.2g}; "
    f"verdict: {spread} (criterion: p < 0.01 means uneven)."))

# %% [markdown]
# ## The fixed mask test set
# The real irregular-mask test set of Liu et al. (12,000 masks made from occlusions between video frames) is not
# downloadable here. Our stand-in draws random lines, circles and ellipse arcs and keeps a mask only when its hole
# ratio falls in the requested bucket, until every bucket has the requested number of masks (so the test set is
# spread evenly over the buckets whatever the spread of the raw generator above). It is written once, as
# PNG files (255 = known, 0 = hole) with an index of hole ratios and a manifest of checksums, and every chapter at
# this scale is scored on exactly these masks.

# %%
test_masks = M.MaskTestSet(M.cached_testset(side, per_bucket, seed))
for key, value in {"testset_masks": len(test_masks), "testset_side": side, "testset_per_bucket": per_bucket}.items():
    record(key, value)
mask_gallery({f"{test_masks.label(b)}\n{len(ms)} masks": list(ms[:6]) for b, ms in sorted(test_masks.by_bucket().items())},
             suptitle=f"the fixed test set ({scale} scale, {side} px): six masks of each bucket")
plt.show()

# %% [markdown]
# ## Polarity: a common user error
# DeepFill and MMagic store masks with 1 = hole; partial convolution and this library use 1 = known. Passing a hole
# map where a valid map is expected is rejected when it cannot be right, and the message says which convention was
# expected. Each case below is passed to `check_valid` and its verdict printed:

# %%
one = M.to_tensor([M.irregular_mask(size, size, np.random.default_rng(seed))])
cases = {
    "an 8-bit PNG read as integers (0/255)": (one * 255).to(torch.uint8),
    "a bilinearly resized mask": torch.nn.functional.interpolate(one, scale_factor=0.5, mode="bilinear"),
    "a hole map of a fully masked image (all zeros as valid)": torch.zeros(1, 1, 8, 8),
}
for name, verdict in F.validation_verdicts(cases, require_known=True).items():
    print(f"{name}:\n  {verdict}\n")

# %% [markdown]
# ## Your own copy of the irregular-mask test set
# With Liu et al.'s test masks extracted into `irregular_masks/` under `data_root` (as the archive ships them),
# `load_liu_irregular_masks` reads them,
# resizes them with nearest neighbour, and checks the declared polarity against the hole ratios the set is known to
# have (0.01 to 0.6): a folder read with the wrong polarity is refused with a message that says to flip it.

# %%
liu = F.liu_mask_folder(data_root)
print(M.load_liu_irregular_masks(liu, polarity=liu_polarity, size=side, limit=6 * per_bucket if smoke else None)
      if liu is not None else "no irregular_masks/ under data_root: the real irregular-mask test set is not used here.")
