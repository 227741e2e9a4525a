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
# by hole ratio, and the short rectangles MSFEF trains with {cite}`sarkar2023msfef`. This notebook draws each family
# from `inpaintlib.masks`, measures its hole ratios, and builds the fixed, seeded mask test set that every chapter
# is scored on.
#
# **Convention.** A mask is a `valid` map: 1 = known pixel, 0 = hole. Every public function checks it.

# %% tags=["parameters"]
scale = "ci"      # "ci", "demo" or "paper"
seed = 0
device = "auto"   # unused here: masks are drawn with numpy
data_root = None  # a folder with the irregular-mask test set of Liu et al. (optional)
liu_polarity = "white_is_hole"  # how that folder's PNGs encode holes (check one file before you trust it)

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown, display

from inpaintlib import masks as M
from inpaintlib.paths import check_scale
from inpaintlib.record import record
from inpaintlib.viz import mask_strip
from data_prep.make_masks import ensure_ci_masks

check_scale(scale)
size = {"ci": 128, "demo": 256, "paper": 256}[scale]            # gallery and histogram mask size
n_samples = {"ci": 300, "demo": 2000, "paper": 5000}[scale]     # masks per generator for the histograms
testset = {"ci": (64, 20), "demo": (256, 100), "paper": (512, 1000)}[scale]  # (side, masks per bucket)
print(f"scale={scale}: {n_samples} masks of {size}x{size} per generator; test set {testset[1]} masks/bucket at {testset[0]} px")

# %% [markdown]
# ## A gallery of every generator
# White is known, black is the hole. Each row is one generator; the seed fixes every mask.

# %%
names = ["center_box", "box", "aim_box", "cellular_automaton", "aim_free_form", "brush_stroke", "irregular",
         "msfef_rectangle"]
names = [n for n in names if n in M.GENERATORS]
rng = np.random.default_rng(seed)
gallery = {n: [M.GENERATORS[n](size, size, rng) for _ in range(6)] for n in names}
fig, axes = plt.subplots(len(names), 6, figsize=(9, 1.6 * len(names)))
for r, n in enumerate(names):
    for c, m in enumerate(gallery[n]):
        axes[r, c].imshow(m, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        axes[r, c].set_xticks([]); axes[r, c].set_yticks([])
        axes[r, c].set_title(f"hole {1 - m.mean():.0%}", fontsize=7)
    axes[r, 0].set_ylabel(n, rotation=0, ha="right", fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# DeepGIN trains every image with all three AIM mask types at once (box, cellular automaton, free form):

# %%
mask_strip(M.deepgin_masks(size, size, np.random.default_rng(seed)), ["AIM box", "AIM cellular automaton", "AIM free form"])
plt.show()

# %% [markdown]
# ## Hole ratios per generator
# The papers report results by hole ratio, so what matters about a generator is which ratios it produces. The dashed
# lines are the bucket edges of Liu et al.: (0.01, 0.1], (0.1, 0.2], ..., (0.5, 0.6].

# %%
t0 = time.time()
rng = np.random.default_rng(seed + 1)
ratios = {n: np.array([1 - M.GENERATORS[n](size, size, rng).mean() for _ in range(n_samples)]) for n in names}
print(f"drew {n_samples * len(names)} masks in {time.time() - t0:.1f} s")
cols = 4
fig, axes = plt.subplots(int(np.ceil(len(names) / cols)), cols, figsize=(12, 2.6 * np.ceil(len(names) / cols)))
for ax, n in zip(axes.flat, names):
    ax.hist(ratios[n], bins=40, range=(0, 1), color="tab:blue")
    for lo, hi in M.BUCKETS:
        ax.axvline(hi, color="k", lw=0.6, ls="--")
    ax.set_title(n, fontsize=9); ax.set_xlabel("hole ratio")
for ax in list(axes.flat)[len(names):]:
    ax.axis("off")
fig.tight_layout()
plt.show()

# %%
labels = [M.bucket_label(i) for i in range(len(M.BUCKETS))]
rows = {}
for n in names:
    b = [M.bucket_of(float(r)) for r in ratios[n]]
    rows[n] = {"mean hole ratio": ratios[n].mean(), "min": ratios[n].min(), "max": ratios[n].max(),
               **{lab: np.mean([x == i for x in b]) for i, lab in enumerate(labels)},
               "outside buckets": np.mean([x is None for x in b])}
ratio_table = pd.DataFrame(rows).T
display(ratio_table.style.format("{:.3f}").set_caption(
    f"Hole-ratio statistics and the share of masks in each bucket ({n_samples} masks of {size} px per generator, "
    f"{scale} scale)"))
for n in names:
    record(f"mean_hole_ratio_{n}", round(float(ratios[n].mean()), 4))

# %%
widest = ratio_table["max"].idxmax()
narrowest = ratio_table["mean hole ratio"].idxmin()
per_bucket_share = ratio_table.loc["irregular", labels]
display(Markdown(
    f"Among these generators, **{widest}** reaches the largest holes (up to {ratio_table.loc[widest, 'max']:.0%} of "
    f"the image) and **{narrowest}** makes the smallest on average ({ratio_table.loc[narrowest, 'mean hole ratio']:.1%}). "
    f"Raw irregular masks are not spread evenly over the buckets (from {per_bucket_share.min():.0%} to "
    f"{per_bucket_share.max():.0%} per bucket, {ratio_table.loc['irregular', 'outside buckets']:.0%} outside all), so "
    "the test set below is drawn with a bucket sampler: every bucket gets the same number of masks."))

# %% [markdown]
# ## The fixed mask test set
# The real irregular-mask test set of Liu et al. (12,000 masks made from occlusions between video frames) is not
# downloadable here. Our stand-in draws random lines, circles and ellipse arcs and keeps a mask only when its hole
# ratio falls in the requested bucket, until every bucket has the same number of masks. It is written once, as PNG
# files (255 = known, 0 = hole) with an index of hole ratios and a manifest of checksums, and every chapter at this
# scale is scored on exactly these masks.

# %%
side, per_bucket = testset
root = ensure_ci_masks(size=side, per_bucket=per_bucket, seed=seed)
test_masks = M.MaskTestSet(root)
counts = pd.Series(test_masks.counts(), name="masks")
display(counts.to_frame().T)
record("testset_masks", len(test_masks))
print(f"{len(test_masks)} masks of {side}x{side} in {root}")

# %%
by_bucket = test_masks.by_bucket()
fig, axes = plt.subplots(len(by_bucket), 6, figsize=(7, 1.25 * len(by_bucket)))
for r, (b, ms) in enumerate(sorted(by_bucket.items())):
    for c in range(6):
        axes[r, c].imshow(ms[c, 0].numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        axes[r, c].set_xticks([]); axes[r, c].set_yticks([])
    axes[r, 0].set_ylabel(test_masks.label(b), rotation=0, ha="right", fontsize=8)
fig.suptitle(f"The fixed test set ({scale} scale): six masks per bucket")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Polarity: the most common user error
# DeepFill and MMagic store masks with 1 = hole; partial convolution and this library use 1 = known. Passing a hole
# map where a valid map is expected is rejected when it cannot be right, and the message says which convention was
# expected. A soft (bilinearly resized) mask is rejected too:

# %%
one = M.to_tensor([gallery["irregular"][0]])
cases = {
    "an 8-bit PNG read as integers (0/255)": (one * 255).to(torch.uint8),
    "a bilinearly resized mask": torch.nn.functional.interpolate(one, scale_factor=0.5, mode="bilinear"),
    "a hole map of a fully masked image (all zeros as valid)": torch.zeros(1, 1, 8, 8),
}
for name, bad in cases.items():
    try:
        M.check_valid(bad, require_known=True)
    except ValueError as e:
        print(f"{name}:\n  ValueError: {e}\n")

# %% [markdown]
# ## Your own copy of the irregular-mask test set
# With `data_root` pointing at the folder of Liu et al.'s test masks, `load_liu_irregular_masks` reads them,
# resizes them with nearest neighbour, and checks the declared polarity against the hole ratios the set is known to
# have (0.01 to 0.6): a folder read with the wrong polarity is refused with a message that says to flip it.

# %%
if data_root is not None:
    liu = M.load_liu_irregular_masks(data_root, polarity=liu_polarity, size=side)
    print(liu)
else:
    print("data_root is None: the real irregular-mask test set is not used in this run.")
