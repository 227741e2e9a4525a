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
# # CtxAttn 2: the architecture
#
# {cite}`charef2024ctxattn` describes its network in words only (Sect. III.A, Fig. 1): a **coarse network** that
# "takes the raw image along with the binary mask as input and generates a coarse approximation", then a
# **refinement network** that refines it "by leveraging higher-resolution features and contextual information", with
# the contextual attention layer of Sect. III.C. It gives no layer, width, activation, loss or parameter count.
# Everything concrete here is DeepFill v1 (Yu et al., CVPR 2018) as listed in the appendix
# [reference implementations](../../book/reference_implementations) ("DeepFill v1: generator"), which the paper's
# description matches and does not cite:
#
# * images in [-1, 1] inside the network; the generator sees 5 channels: the image with its holes zeroed, a ones
#   channel and the hole map; ELU convolutions without normalisation; "up" is nearest x2 then a 3x3 convolution; the
#   last convolution is linear and clipped;
# * stage 1 (coarse): an encoder down to 1/4 resolution, dilated convolutions at rates 2/4/8/16, a decoder;
# * stage 2 (refinement) on the coarse output composited with the known pixels: a dilated-convolution branch and a
#   contextual-attention branch (ReLU before the layer), concatenated, then a decoder.
#
# The table below is read from the model object (`CtxAttnNet.architecture_table()`), so it cannot drift from the code.

# %% tags=["parameters"]
scale = "ci"
seed = 0
device = "auto"
data_root = None

# %% tags=["hide-input"]
import dataclasses

import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display

from inpaintlib.chapter import cost_by_part, show
from inpaintlib.data import SampleScenes
from inpaintlib.masks import center_box_mask, to_tensor
from inpaintlib.papers.ctxattn import CtxAttnConfig, CtxAttnNet
from inpaintlib.papers.ctxattn import architecture as A
from inpaintlib.record import record

torch.manual_seed(seed)
cfg, paper_cfg = CtxAttnConfig.for_scale(scale), CtxAttnConfig.paper()
paper_model = CtxAttnNet(paper_cfg).eval()
print(f"scale = {scale!r}; changed from paper():", cfg.changes_from_paper() or "nothing")

# %% [markdown]
# ## Paper Fig. 1, as layers (paper configuration)

# %%
show(A.layer_table(paper_model), "CtxAttnNet(CtxAttnConfig.paper()), layer by layer")

# %% [markdown]
# ## The parameter count, derived layer by layer
#
# DeepFill v1's layout fixes the count: a k x k convolution from `in` to `out` channels with a bias holds
# k * k * in * out + out weights, and the attention layer holds none. The two refinement branches differ at their
# second stride-2 convolution: 2c (64) in the dilated branch, 4c (128) in the attention branch, as in DeepFill v1's
# code. The derivation below is written from the layer table above and summed per stage; the last line compares it
# with the module's own count.

# %%
derivation = A.parameter_derivation(paper_model)
show(derivation, "Parameters of CtxAttnNet(CtxAttnConfig.paper()), derived layer by layer")
by_stage = derivation.groupby(level="stage", sort=False)["parameters"].sum()
assert by_stage.sum() == paper_model.num_parameters(), (by_stage.sum(), paper_model.num_parameters())
display(Markdown("Derived: " + " + ".join(f"{v:,} ({k})" for k, v in by_stage.items())
                 + f" = **{by_stage.sum():,}**, the module's own count: {paper_model.num_parameters():,}."))

# %% [markdown]
# ## Parameter count and multiply-accumulates at 256x256
#
# The paper prints neither. Counted on the paper configuration (the configuration is printed with the count) with
# `inpaintlib.cost.count_macs` (PyTorch's `FlopCounterMode`; one 256x256 image with a centred 25% box). The
# contextual attention layer has no weights, but its matching is a product of every foreground position with every
# background patch, so its cost grows with the square of the feature map's area.

# %%
params, macs = A.parameter_table(paper_model), A.macs_table(paper_model, 256)
params["GMACs at 256"] = [macs["by_part"][k] / 1e9 for k in params.index]
show(params, "Parameters and MACs by part, paper configuration", digits=3)
cost_by_part(params["parameters"], params["GMACs at 256"], "Paper configuration at 256x256: where the weights and the MACs are")
plt.show()
n = paper_model.num_parameters()
record("ctxattn_params_paper", n), record("ctxattn_gmacs_256", round(macs["total"] / 1e9, 2))
ca = macs["by_part"]["stage 2: contextual attention layer"] / macs["total"]
record("ctxattn_attention_macs_share", ca, 3)
print({k: v for k, v in dataclasses.asdict(paper_cfg).items()})
display(Markdown(f"At paper configuration (the configuration printed above: DeepFill v1's widths, c = "
                 f"{paper_cfg.base_channels}) the generator has **{n:,}** parameters ({n / 1e6:.2f} M) and costs "
                 f"**{macs['total'] / 1e9:.2f} GMACs** per 256x256 image ({macs['feature_convs'] / 1e9:.2f} GMACs in "
                 f"the convolution kernels alone); the contextual attention layer takes {ca:.1%} of the MACs with no "
                 "parameter. The critics (training only) are not counted."))

# %% [markdown]
# ## A forward pass at the chosen scale
#
# At `ci` scale the images are 64 px and c = 8: the attention layer works on 16x16 features and matches on an 8x8
# grid (64 background patches), the smallest grid at which matching is not trivial. The untrained output is noise;
# the point is the interface (`forward(image, valid) -> N x 3 x H x W` in [0, 1]; `return_stages=True` gives the
# coarse and refined outputs and the attention's details) and its checks.

# %%
model, s = CtxAttnNet(cfg).eval(), cfg.image_size
x, v = SampleScenes("test", s)[0][None], to_tensor([center_box_mask(s, s, area=0.25)])
with torch.no_grad():
    st = model(x, v, return_stages=True)
print(f"{scale}: image {tuple(x.shape)} -> coarse {tuple(st['coarse'].shape)}, refined {tuple(st['refined'].shape)}; "
      f"matching grid {st['attention'].grid}, {int(st['attention'].usable.sum())} usable patches; "
      f"{model.num_parameters():,} parameters")
for bad, what in ((1 - v.long(), "a hole map of integers"), (v[..., :60, :60], "a mask of another size")):
    try:
        model(x, bad)
    except ValueError as e:
        print(f"{what} is refused:", str(e)[:100], "...")
