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
# # PMRFN 1: the architecture
#
# Wang, Zhang, Niu, Ling, Yang and Zhang, *Parallel multi-resolution fusion network for image inpainting*
# {cite}`wang2021pmrfn`. Instead of an encoder-decoder, the network keeps **four parallel branches at four
# resolutions from the start** (levels $l = 3, 2, 1, 0$ at 256, 128, 64, 32 px; Sect. 4.1, Fig. 1), as HRNet (Sun et
# al., CVPR 2019) does for pose estimation, with two changes: all four branches exist from the beginning, and there
# are **six stages** instead of four. Every convolution is a **partial convolution** whose mask update is guided by
# **inpainting priorities** (Sect. 4.2.1, Eqs. 5-8, notebook 2); after each of stages 1-5 the branches exchange
# features through **mask-aware representation fusion** (MRF, Eq. 9), and before stage 6 one attention map computed
# at the lowest resolution from all branches is applied to patches of every branch (**attention-guided
# representation fusion**, ARF, Eqs. 3-4, 10). Side outputs at the three lower resolutions and the final image from
# the four branches concatenated close the network (Sect. 4.4).
#
# The supplement with the detailed architecture is not available. What we take from HRNet-W32 (widths 32/64/128/256,
# four BasicBlocks per branch and stage, its exchange paths) and what we choose (stem, no BatchNorm, the ARF
# projections, the output head) is commented in `inpaintlib.papers.pmrfn.model.PMRFNConfig` and listed on the
# chapter's landing page.

# %% tags=["parameters"]
scale = "ci"
seed = 0

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display

from inpaintlib.chapter import cost_by_part, show
from inpaintlib.papers.pmrfn import PMRFNConfig, PMRFNNet
from inpaintlib.papers.pmrfn import trained as T
from inpaintlib.papers.pmrfn.figures import fig2_inputs
from inpaintlib.record import record

torch.set_num_threads(1)  # the many small mask convolutions run much slower on 2 threads than on 1
torch.manual_seed(seed)
cfg, paper_cfg = PMRFNConfig.for_scale(scale), PMRFNConfig.paper()
print(f"scale = {scale!r}; changed from paper():", cfg.changes_from_paper() or "nothing")

# %% [markdown]
# ## Fig. 1 as a table, read from the model object
#
# One row per branch, one column per stage: the feature map after the stage's residual blocks, what follows the stage
# (MRF after stages 1-5, ARF before stage 6), and how much of the branch is still hole after the stage. The input is
# a 256 px photograph with a 40-50% irregular hole, passed through the `ci` network (the network is fully
# convolutional; at 256 px its branches have the paper's sizes).

# %%
image, valid = fig2_inputs(size=256, hole_range=(0.4, 0.5), seed=seed)
model = PMRFNNet(cfg).eval()
show(T.branch_table(model, image, valid), f"PMRFNNet({scale} config) at 256 px: C x h x w per branch and stage")

# %% [markdown]
# ## Parameters and MACs at paper configuration
#
# The paper reports model complexity only in its supplement; here are ours, at 256x256, part by part
# (`inpaintlib.cost.count_macs`: every convolution and matrix product, a partial convolution's mask convolution
# included; "feature convs" counts only the learned kernels).

# %%
paper_model = PMRFNNet(paper_cfg).eval()
cost, tot = T.cost_table(paper_model, 256)
show(cost, "PMRFNNet(PMRFNConfig.paper()) at 256x256", digits=3)
cost_by_part(cost["parameters"], cost["GMACs at 256"], "PMRFN at paper configuration, 256x256: weights and MACs by part")
plt.show()
record("pmrfn_params_paper", tot["parameters"]), record("pmrfn_gmacs_256", round(tot["gmacs"], 1))
stages = cost.loc[[f"stage {s}" for s in range(1, 7)]]
display(Markdown(
    f"PMRFN at paper configuration (HRNet-W32 widths, 4 blocks per branch and stage) has **{tot['parameters']:,}** "
    f"parameters ({tot['parameters'] / 1e6:.1f} M) and costs **{tot['gmacs']:.1f} GMACs** per 256x256 image "
    f"({tot['gmacs_feature_convs']:.1f} GMACs in the learned kernels alone). The six stages hold "
    f"{stages['share'].sum():.0%} of the parameters; of one stage's {int(stages['parameters'].iloc[0]):,}, the "
    f"lowest-resolution branch (256 channels at 32 px) holds most, while every branch costs about the same MACs per "
    f"convolution (the width doubles as the side halves, as in HRNet)."))

# %% [markdown]
# ## A forward pass at this scale
#
# `forward(image, valid)` takes the library's convention (`valid`: 1 = known, 0 = hole) and returns an image in
# [0, 1]; `return_side=True` adds the side outputs at levels 2, 1, 0. Sizes must be multiples of 8 (three halvings
# to the lowest branch); a hole map of integers is refused.

# %%
s = cfg.image_size
x, v = fig2_inputs(size=s, seed=seed)
with torch.no_grad():
    out, side = model(x, v, return_side=True)
print(f"{scale}: image {tuple(x.shape)} -> output {tuple(out.shape)}, side outputs "
      f"{ {k: tuple(t.shape[-2:]) for k, t in side.items()} }, {model.num_parameters():,} parameters")
record("pmrfn_params_ci", model.num_parameters())
try:
    model(x, 1 - v.long())
except ValueError as e:
    print("a hole map of integers is refused:", str(e)[:110], "...")
