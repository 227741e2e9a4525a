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
# # Classical baselines: the reference every learned model is compared with
#
# Before any network, two non-learned methods set the bar: **biharmonic inpainting** (a smooth interpolation of the
# hole from its boundary, scikit-image's `inpaint_biharmonic`) and **exemplar-based inpainting** after Criminisi,
# Pérez and Toyama {cite}`criminisi2004exemplar`, which copies patches from the known region in an order set by a
# *priority* = confidence x data term. That priority is the idea PMRFN's "inpainting priorities"
# {cite}`wang2021pmrfn` build on. A third, trivial baseline fills the hole with the mean colour of the known pixels.
# Every chapter scores its models against these three on the same photographs, masks and protocol.

# %% tags=["parameters"]
scale = "ci"
seed = 0
device = "auto"
data_root = None  # unused here: the test photographs are the sample scenes at every scale
smoke = False  # a dry run: every cell once, one test mask per bucket

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display

from inpaintlib import foundations as F
from inpaintlib import masks as M
from inpaintlib.classical import exemplar_inpaint
from inpaintlib.data import SampleScenes
from inpaintlib.metrics import Protocol, evaluate
from inpaintlib.paths import artifact_dir
from inpaintlib.record import record
from inpaintlib.viz import bucket_bars, compact_table, inpaint_grid

S = F.settings("baselines", scale, smoke)
size, per_bucket = S.size, S.per_bucket
images = SampleScenes("test", size=size).images()
test_masks = M.MaskTestSet(M.cached_testset(size, per_bucket, seed))
masks, buckets = test_masks.masks(), [test_masks[i][1] for i in range(len(test_masks))]
protocol = Protocol(metrics=("psnr", "ssim", "l1"))
patch = 9 if size >= 128 else 5  # Criminisi et al. use 9x9; our choice: 5x5 below 128 px (see below)
methods = F.classical_methods(patch, S.exemplar_iters)
for key, value in {"scale": scale, "test_crops": len(images), "test_masks": len(masks), "crop_size": size}.items():
    record(key, value)

# %% [markdown]
# ## The patch size
# A source patch must lie entirely in the known region. Criminisi et al. work with 9x9 patches on images of a few
# hundred pixels; on small crops with large holes such a patch may not exist at all. Counted on the test masks:

# %% tags=["hide-input"]
top = torch.tensor(buckets) == len(protocol.buckets) - 1
no_source = {k: int((F.known_patch_counts(masks[top], k) == 0).sum()) for k in (5, 9)}
record("masks_without_9x9_source_top_bucket", no_source[9])
display(Markdown(
    f"{len(images)} test crops of {size}x{size} px and {len(masks)} masks. In the largest-hole bucket "
    f"{protocol.bucket_labels[-1]}, {no_source[9]} of {int(top.sum())} masks leave no fully known 9x9 patch and "
    f"{no_source[5]} leave no fully known 5x5 patch. This run uses **{patch}x{patch}** patches."))

# %% [markdown]
# ## Results by hole-ratio bucket

# %%
results = {k: evaluate(fn, images, masks, protocol, mask_buckets=buckets) for k, fn in methods.items()}
table = F.by_bucket(results)
table.to_csv(artifact_dir("foundations", scale) / "classical_by_bucket.csv")
pairs = int(table.loc[("n", "biharmonic"), "all"])
display(compact_table(table.drop(index="n", level="metric"), digits={"psnr": 2, "ssim": 3, "l1": 2},
                      caption=f"Classical baselines by hole ratio ({scale} scale, {size} px, {pairs} image-mask pairs)"))
print("Protocol:", protocol.describe())
bucket_bars({k: r.table for k, r in results.items()}, ["psnr", "ssim"], title=f"by hole ratio ({scale} scale)")
plt.show()

# %% tags=["hide-input"]
findings = F.describe_by_bucket(results, scale, "psnr")
record("classical_summary", findings)
for k in results:
    record(f"psnr_all_{k.split()[0]}", table.loc[("psnr", k), "all"], digits=2)
display(Markdown(findings))

# %% [markdown]
# A few completions from the largest-hole bucket, and below them how much local detail each method puts into the
# hole compared with the photograph.

# %%
x, v = F.bucket_sample(images, masks, buckets, len(protocol.buckets) - 1, n=4)
outs = {k: fn(x * v, v) for k, fn in methods.items()}
inpaint_grid({"image": x, "valid": v, **outs}, n=4, show_raw=False, size=1.45)
plt.show()
display(Markdown("Mean luma gradient inside the hole relative to the photograph's (1 = as much detail, below 1 = "
                 "smoother, above 1 = more edges than the photograph), on these four: "
                 + ", ".join(f"{k} {F.texture_ratio(o, x, v):.2f}" for k, o in outs.items()) + "."))

# %% [markdown]
# ## Inside the exemplar method: confidence, data term and priority
# At each iteration, every pixel on the fill front (hole pixels next to known ones) gets a **confidence** C(p) (how
# much of its patch is known, and how reliably), a **data term** D(p) (how strongly an image edge, an isophote, flows
# into the hole at p), and the **priority** P(p) = C(p) D(p). The patch at the highest priority is filled first;
# Criminisi et al. designed this order so that strong edges are continued into the hole before flat regions are
# filled. The pixels a patch fills inherit its confidence, so patches filled later can rest on less known evidence
# (the correlations under the figures say whether they did here); PMRFN turns this idea into a learned,
# multi-resolution priority map. Below, a box hole on one test photograph: the three
# maps at four moments of the fill, the order in which pixels were filled, and how C, D and P of the filled patch
# changed over the fill.

# %%
one, box = F.box_example(SampleScenes("test", size=max(size, 64)).images())
ex = exemplar_inpaint(one * box, box, patch_size=patch, record_every=1)
F.exemplar_maps_figure(ex.traces[0])
F.fill_order_figure(one * box, ex.traces[0], ex.output)
plt.show()

# %% tags=["hide-input"]
record("exemplar_iterations", int(ex.traces[0].n_iters))
display(Markdown(F.describe_fill(ex.traces[0])))
