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
# # PMRFN 4: the figures that need the trained network
#
# Fig. 2 (e, l, m) of {cite}`wang2021pmrfn`, the priorities as the trained network's own features produce them, the
# hole inside the trained network, and the layout of the paper's qualitative comparisons (Figs. 3-5). The network is
# the one notebook 3 trained at this scale (its checkpoint under `_build/artifacts/<scale>/pmrfn/`).

# %% tags=["parameters"]
scale = "ci"
seed = 0
device = "auto"
data_root = None  # paper scale: the folder holding the paper's datasets, each prepared by data_prep
smoke = False  # a dry run: every cell once, one test photograph and one mask per bucket
knobs = {}  # overrides: masks_per_bucket, test_images, datasets
photo = "china"  # the sample photograph of Fig. 2's panels

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display

from inpaintlib.chapter import completion_grid, load_trained, predictor, run_context, shipped_checkpoints
from inpaintlib.classical import biharmonic, mean_fill
from inpaintlib.papers.pmrfn import trained as T
from inpaintlib.papers.pmrfn.figures import fig2_inputs
from inpaintlib.record import record

torch.set_num_threads(1)  # the many small mask convolutions run much slower on 2 threads than on 1
run = run_context("pmrfn", scale, seed=seed, device=device, data_root=data_root, smoke=smoke, **knobs)
model = run.trained()
size = model.config.image_size
image, valid = fig2_inputs(photo, size=size, seed=seed)
print(f"{scale} scale: PMRFNNet trained at {size} px, {model.num_parameters():,} parameters")

# %% [markdown]
# ## Paper Fig. 2 (e), (l), (m), and the priorities inside the network
#
# Compare with Fig. 2 (e) the inpainted result, (l) the lowest-resolution and (m) the highest-resolution feature map
# of the last stage, averaged over channels. The paper reads (l) as structure and (m) as texture. The four panels on
# the right are the priority $q$ (Eq. 6) that the first residual block of each branch computes from the network's
# own features (Eq. 7 at $l = 0$, Eq. 8 above), on the hole border.

# %%
prios = T.network_priorities(model, image, valid, stage=0)
T.fig2_trained(model, image, valid, prios)
plt.show()
nz = {level: int((q > 0).sum()) for level, (q, _) in prios.items()}
display(Markdown("Border pixels with a non-zero priority in the trained network, per branch: "
                 + ", ".join(f"l={k}: {v}" for k, v in sorted(nz.items(), reverse=True)) + "."))

# %% [markdown]
# ## The hole inside the trained network
#
# As in notebook 2, now with the trained weights and at the training size: the share of hole left in each branch
# after each stage's fusion, with the priority update and with the plain partial-convolution update (same weights).

# %%
holes = T.network_holes(model, image, valid)
T.network_holes_figure(holes, f"trained PMRFNNet ({scale}, {size} px): hole after each stage's fusion")
plt.show()
h = holes[holes.level == 3].pivot_table(index="stage", columns="rule", values="hole_ratio")
record("pmrfn_trained_hole_after_stage1_priority", float(h.loc[1, "priority (Eq. 5)"]), 3)
display(Markdown(f"After stage 1 the full-resolution branch has {h.loc[1, 'priority (Eq. 5)']:.1%} hole left with "
                 f"priorities and {h.loc[1, 'partial conv (Eq. 1)']:.1%} with the plain update."))

# %% [markdown]
# ## The layout of Figs. 3-5, with honest substitutes
#
# The paper compares with GC, EC, SF, HF and MEDFE on Places2, Paris StreetView and CelebA. Their weights cannot be
# obtained here (no network access, and the book trains nothing at paper scale), so the columns are our PMRFN at
# this scale, the classical baselines, and the book's other shipped models at the same scale where a checkpoint is
# shipped, on test photographs of the sample scenes.

# %%
methods = {f"PMRFN ({scale})": predictor(model), "mean fill": mean_fill, "biharmonic": biharmonic}
for path in shipped_checkpoints("msfef", scale):
    methods[f"MSFEF ({scale}, shipped)"] = predictor(load_trained(path))
d = run.split()
images, masks = d.examples(buckets=(1, 3, 4, 5))
completion_grid(methods, images, masks, title=f"Figs. 3-5 layout, {scale} scale ({size} px)")
plt.show()
