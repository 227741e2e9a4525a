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
# # DeepGIN 2: masks and data
#
# DeepGIN was trained for the AIM 2020 Extreme Image Inpainting Challenge {cite}`li2020deepgin`. Sect. 5.1: three
# mask types, "a rectangular mask with the height and width between 30-70% of each dimension", "the free-form mask
# proposed in [34]" (DeepFill v2) and the challenge's masks "randomly generated based on cellular automata"; "we
# applied the three types of masks to each training image to get three different masked images". Every training
# image is resized to 512x512 and a random 256x256 sub-image is taken ("a sub-sampling method [25]"), batch 4 x 3.
# At test time, images larger than 256x256 are split into 256x256 sub-images by the same sub-sampling, completed, and
# regrouped (Sect. 6.1). This notebook shows each of these, from `inpaintlib`.

# %% tags=["parameters"]
scale = "ci"
seed = 0
device = "auto"
data_root = None  # paper scale: the folder holding the paper's datasets, each prepared by data_prep
smoke = False  # a dry run: every cell once, one test photograph and one mask per bucket
knobs = {}  # overrides: datasets

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from inpaintlib.chapter import run_context, show
from inpaintlib.papers.deepgin import figures as F
from inpaintlib.record import record

run = run_context("deepgin", scale, seed=seed, device=device, data_root=data_root, smoke=smoke, **knobs)
size = min(256, 2 * run.size)  # twice the network's size, at most the paper's crop
rng = np.random.default_rng(seed)
print(f"{scale} scale: masks drawn at {size} px")

# %% [markdown]
# ## Paper Fig. 1: the three mask types, and how much they hide
#
# One example of each type (holes black) and the hole ratio of 150 seeded masks of each. The free-form masks of the
# authors' training code are the AIM 2020 generator (appendix
# [reference implementations](../../book/reference_implementations), "AIM 2020 masks": 15-23 strokes of 1-5 segments,
# 10-24 px wide); the paper's text cites DeepFill v2's brush strokes, shown as the fourth type
# (`deepgin_masks(..., free_form="deepfill_v2")`). Our paper recipe trains with the text's (`free_form="deepfill_v2"`),
# `ci` and `demo` with the AIM 2020 strokes (`free_form="aim"`).

# %%
fig, ratios = F.mask_types_figure(size, n=150, seed=seed)
plt.show()
show(ratios, f"Hole ratio by mask type, 150 masks each at {size} px", digits=2)
for key, name in zip(("box", "ca", "ff"), ratios.index):
    record(f"deepgin_mask_{key}_mean_hole", float(ratios.loc[name, "mean"]), 3)
display(Markdown(
    f"Mean hole ratios: {', '.join(f'{n} {r:.0%}' for n, r in ratios['mean'].items())}. The rectangles hide "
    f"{ratios['min'].iloc[0]:.0%} to {ratios['max'].iloc[0]:.0%} (sides of 30-70% allow 9% to 49%). Holes of at most "
    f"10% (Liu et al.'s first bucket) are {', '.join(f'{r:.0%}' for r in ratios['share <= 10%'])} of the masks of "
    "each type: the challenge's masks are large ('extreme' inpainting)."))

# %% [markdown]
# ## Sect. 5.1: one training image becomes three
#
# Resize to twice the crop (512 for 256 px), one of its four polyphase sub-images at random (the pixels
# $[i::2, j::2]$, the split of Sect. 6.1 below), then one mask of each type. At `paper` scale the recipe trains on
# exactly these batches (`batch_formation="sect51"`: 4 images x 3 mask types = 12 masked images per update);
# `ci` and `demo` keep their 64 px crops of the sample scenes with one mask per crop, its type drawn uniformly
# (`batch_formation="crop"`, the data the ci recipe was tuned on; `inpaintlib.papers.deepgin.recipe`).

# %%
photo = run.photos("train", 2 * size)[0]
fig, hr = F.batch_formation_figure(photo, rng, size)
plt.show()

# %% [markdown]
# ## Sect. 6.1: the sub-image split at the original size, and its exact inverse
#
# Polyphase sub-sampling with factor $s$: sub-image $(i, j)$ holds the pixels $[i::s, j::s]$, so each sub-image is
# the whole scene at $1/s$ resolution (not a tile), and regrouping puts every pixel back. Shown for a test photograph
# at twice the network's size, factor 2.

# %%
test = run.photos("test", size)[0][None]
fig, err = F.split_figure(test, 2)
plt.show()
record("deepgin_split_roundtrip_max_abs", err)
display(Markdown(f"Largest absolute difference between the photograph and its regrouped sub-images: {err:g} "
                 f"({'exact' if err == 0 else 'not exact'}). `tests/test_deepgin.py` pins this for several factors."))
