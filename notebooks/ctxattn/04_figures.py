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
# # CtxAttn 4: the paper's figures from a trained network
#
# Fig. 1 of {cite}`charef2024ctxattn` shows the coarse-to-fine progression: the input with its hole, the coarse
# network's result, the refinement network's result. Regenerated here with the network `03_training` wrote, with the
# composite and the **attention flow** (the offset from each position of the attention layer to its strongest
# background patch, Middlebury colours; key in notebook 1) added. Fig. 2 (the layer's steps) is in notebook 1; Fig. 3
# (512 px comparisons) is in notebook 6. At `ci` scale the network is narrow and briefly trained on 64 px crops:
# the figures show the mechanism, not the paper's trained behaviour.

# %% tags=["parameters"]
scale = "ci"
seed = 0
device = "auto"
data_root = None  # paper scale: the folder holding the paper's datasets, each prepared by data_prep
smoke = False  # a dry run: every cell once, one test photograph and one mask per bucket
knobs = {}  # overrides: masks_per_bucket, test_images

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from inpaintlib.chapter import evaluate_methods, run_context, show
from inpaintlib.masks import center_box_mask, to_tensor
from inpaintlib.papers.ctxattn import table1_protocol
from inpaintlib.papers.ctxattn import figures as F
from inpaintlib.record import record

run = run_context("ctxattn", scale, seed=seed, device=device, data_root=data_root, smoke=smoke, **knobs)
model = run.trained()
s = model.config.image_size
d = run.split(protocol=table1_protocol(("psnr",)))
print(f"{scale} scale: CtxAttn trained by 03_training on {run.dataset}, {s} px")

# %% [markdown]
# ## Paper Fig. 1: input, coarse result, refined result (and composite, flow)
#
# Test photographs with test masks from Table I's two buckets (rows 1-2: 10-20%, rows 3-4: 40-50%). Compare: the
# coarse result should carry the rough colours and shapes, the refined one sharper detail.

# %%
images, masks = d.examples(buckets=(0, 0, 1, 1))
F.progression_figure(model, images, masks)
plt.show()

# %% [markdown]
# ## Does the refinement stage improve on the coarse stage?
#
# Fig. 1's claim in numbers: the PSNR of the composite made with the coarse output and with the refined output, on
# every test pair, by bucket.

# %%
def stage(name):
    return lambda image, valid: model(image, valid, return_stages=True)[name]


res = evaluate_methods({"coarse": stage("coarse"), "refined": stage("output")}, d.test_images, d.masks, d.protocol)
t = {k: r.table.loc["psnr"] for k, r in res.items()}
show(t["refined"].to_frame("refined").assign(coarse=t["coarse"], gain=t["refined"] - t["coarse"]).T,
     f"PSNR (dB) of the composite by stage, {scale} scale", digits=2)
gain = float(t["refined"]["all"] - t["coarse"]["all"])
record("ctxattn_refinement_gain_db", gain, 2)
display(Markdown(f"At {scale} scale the refined composite is {abs(gain):.2f} dB "
                 f"{'above' if gain > 0 else 'below'} the coarse one over all test pairs."))

# %% [markdown]
# ## Attention flow on test images
#
# The four test photographs with a centred square hole (25% of the image), where the attention layer has usable
# background all around the hole. Each colour is a direction on the key's wheel, its saturation the length of the
# offset; white is no offset (known positions match themselves).

# %%
box = to_tensor([center_box_mask(s, s, area=0.25)] * len(d.test_images[:4]))
F.progression_figure(model, d.test_images[:4], box)
plt.show()

# %% [markdown]
# ## How often is the attention idle?
#
# With irregular masks on a 64 px image the matching grid is 8x8, and every 3x3 window can touch the hole: a hole
# position with no usable background patch gets zero weights and the attention branch contributes nothing there.
# Per bucket: usable background patches (of 64), the share of hole positions that receive any weight, and their mean
# weight mass (below 1 with the reference's zero-masking).

# %%
usage = F.attention_usage(model, d.test_images, d.masks, d.protocol)
show(usage, f"The attention layer on the test pairs, {scale} scale", digits=3)
for b, row in usage.iterrows():
    record(f"ctxattn_attention_active_{b[:2]}", float(row["hole rows with weight"]), 3)
display(Markdown("Share of hole positions with any attention weight: " + "; ".join(
    f"{b}: {row['hole rows with weight']:.0%} ({row['usable patches']:.1f} usable patches of {row['patches']:.0f})"
    for b, row in usage.iterrows()) + "."))
