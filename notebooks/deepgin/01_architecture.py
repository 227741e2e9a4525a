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
# # DeepGIN 1: the architecture
#
# Li, Siu, Liu, Wang and Lun, *DeepGIN: Deep Generative Inpainting Network for Extreme Image Inpainting*
# {cite}`li2020deepgin`. Two generators in a row (Sect. 4.1, Fig. 2): a **coarse generator G1** (the masked image
# and the hole map in, an encoder-decoder with six *Spatial Pyramid Dilation* (SPD) ResNet blocks of 8 dilation rates
# at 1/8 resolution) and a **refinement generator G2** (one level deeper, six SPD blocks of 4 rates, **Multi-Scale
# Self-Attention** at 16, 32 and 64 px, and **Back Projection** of a 64x64 prediction). Two conditional multi-scale
# discriminators D1/D2 judge the completion. The figures of the paper are drawings; here they are rebuilt as layer
# tables from the model object, with every parameter count of Table 1.

# %% tags=["parameters"]
scale = "ci"
seed = 0

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import pandas as pd
import torch
from IPython.display import Markdown, display

from inpaintlib.chapter import show
from inpaintlib.data import SampleScenes
from inpaintlib.masks import center_box_mask, to_tensor
from inpaintlib.papers.deepgin import DeepGINConfig, DeepGINNet, architecture_table
from inpaintlib.papers.deepgin.architecture import bp_derivation
from inpaintlib.papers.deepgin import figures as F
from inpaintlib.record import record

torch.manual_seed(seed)
cfg = DeepGINConfig.for_scale(scale)
print(f"scale = {scale!r}; changed from paper():", cfg.changes_from_paper() or "nothing")

# %% [markdown]
# ## Implementation notes: what the paper leaves open
#
# The paper gives the structure but few sizes. The authors' public code (AIM 2020; appendix
# [reference implementations](../../book/reference_implementations), "DeepGIN: generators") fixes the rest, and
# Table 1's seven parameter counts confirm it to the printed digit: G1 is a 7x7 convolution to 32 maps, three
# 4x4 stride-2 convolutions to 64/128/256, six SPD blocks (8 branches of C/8 maps with rates 1, 2, 3, 4, 5, 6, 8, 10,
# concatenated, a 3x3 fusing convolution, residual), bilinear x2 upsampling each followed by a 3x3 convolution, and a
# 7x7 convolution to RGB; LeakyReLU(0.2), replicate padding, no normalisation (Sect. 5 removes BatchNorm). G2 goes
# one level deeper (512 maps at 1/16), its SPD blocks have 4 rates (2, 3, 4, 5), a non-local block [29] sits after the
# third block, and the skips from the 1/8 and 1/4 levels pass a 3x3 convolution halving the channels and a non-local
# block (MSSA). Where the paper and the code differ, the paper is our default and the code's choice an option of
# `DeepGINConfig`: G2 sees the raw coarse output (paper, Sect. 3) or the coarse output composited with the known
# pixels (`g2_input="composite"`, code); the non-local blocks start as identities (paper: "exactly the same as [29]")
# or not (`sa_zero_init=False`, code); ESRGAN's smaller initialisation scales the residual blocks (paper, via [30]) or
# every convolution (`init_scope="all"`, code). Back Projection follows the code's layout, which the paper does not
# give: I_lr from the 1/4-level features through a 3x3 convolution to 32 channels and a 3x3 convolution to RGB, the
# weight map a one-channel sigmoid 3x3 convolution of the full-size last decoder features, the output composited
# with the known pixels before it is down-sampled. The derivation of its count is below Table 1.

# %% [markdown]
# ## Paper Table 1: the parameter count of every variant
#
# Each of the seven variants of Sect. 6.1 is a switch of `DeepGINConfig` (`DeepGINConfig.variant(name)`), built on
# PyTorch's meta device (no memory, no arithmetic) and counted.

# %%
t1 = F.table1_parameters()
show(t1, "Table 1, 'Number of parameters': ours (paper configuration) beside the printed value")
record("deepgin_table1_matches", int(t1["matches"].sum()))
record("deepgin_params_paper", int(t1["parameters (ours)"].iloc[-1]))
display(Markdown(f"{int(t1['matches'].sum())} of the 7 printed counts are reproduced to the printed digit. The "
                 "standard, dilated and SPD blocks have the same count (an SPD block splits the output channels of its "
                 "first convolution among the rates), so the three MSSA rows print the same 42.892M."))

# %% [markdown]
# ### Table 1's last step, derived from the layout
#
# The last row adds Back Projection to G2. A k x k convolution from `in` to `out` channels with a bias holds
# k * k * in * out + out weights. With the code's layout the step follows from the widths at the 1/4 level (128) and
# at full size (32), and lands inside the window that the printed, rounded counts leave.

# %%
bp = bp_derivation()
show(bp["table"], "Back Projection's parameters, layer by layer (paper configuration)")
assert bp["derived"] == bp["model"], (bp["derived"], bp["model"])
display(Markdown(bp["text"]))

# %% [markdown]
# ## Paper Figs. 2-3: the layers of G1 and G2
#
# One row per convolution and self-attention block, in execution order, with each layer's output size for a 256x256
# input (paper configuration). `coarse.*` is G1, `refine.*` is G2; `blocks.k.first.branches.r` are the dilated
# branches of an SPD block (Fig. 3 c/d), `skips.*` and `bottleneck_attn` the MSSA, `lr_head`/`bp_weight_head` the
# Back Projection.

# %%
arch = pd.DataFrame(architecture_table(DeepGINConfig.paper())).set_index("layer")
g1 = arch[arch.index.str.startswith("coarse")]
keep = ~arch.index.str.contains(r"blocks\.[1-5]\.")  # the six blocks of each generator are alike: show block 0
show(arch[keep & arch.index.str.startswith("coarse")], f"G1 (block 0 of 6 shown), {g1.parameters.sum():,} parameters")
show(arch[keep & arch.index.str.startswith("refine")], "G2 (block 0 of 6 shown)")

# %% [markdown]
# ## The receptive field of the standard, dilated and SPD blocks (not in the paper)
#
# Why SPD: a standard ResNet block (two 3x3 convolutions) reaches 2 pixels per block; a dilated block (Fig. 3b, rate
# 2 in its first convolution) reaches farther, its dilated taps on a lattice; an SPD block's parallel rates reach as
# far as its largest rate (10 in G1), the shape of the support following the rates. Top: the
# theoretical support of two blocks (white = an input pixel that can influence the centre output). Bottom: the
# effective receptive field, the gradient of the centre output with respect to every input pixel (random weights).

# %%
fig, rf = F.receptive_field_figure(n_blocks=2)
plt.show()
show(rf, "Two blocks, rates of G1's SPD blocks", digits=3)
record("deepgin_rf_spd_reach", int(rf.loc["spd", "reach (px)"]))
record("deepgin_rf_spd_gaps", int(rf.loc["spd", "enclosed gaps"]))
display(Markdown(
    f"Two standard blocks reach {rf.loc['standard', 'reach (px)']} px, two dilated blocks "
    f"{rf.loc['dilated', 'reach (px)']} px, two SPD blocks {rf.loc['spd', 'reach (px)']} px; enclosed gaps (positions "
    f"no path reaches although reachable ones surround them): {rf.loc['dilated', 'enclosed gaps']} for the dilated and "
    f"{rf.loc['spd', 'enclosed gaps']} for the SPD stack"
    + (", because the rate-1 convolution of each block (Fig. 3b's second convolution, the SPD block's fusing "
       "convolution) closes the lattice the dilated taps leave. " if rf["enclosed gaps"].max() == 0 else
       ": the dilated taps leave holes in the support that the rate-1 convolutions do not close. ")
    + f"The gradient is concentrated near the centre in every case ({rf['gradient share within 2 px'].min():.0%} to "
    f"{rf['gradient share within 2 px'].max():.0%} of it within 2 px): the reach is possible, not equally used."))

# %% [markdown]
# ## A forward pass at the chosen scale
#
# At `ci` scale the network is narrow and shallow (printed above); the interface is the book's:
# `forward(image, valid)` with 1 = known pixel. With `return_all=True` it returns I_coarse, I_out, I_lr, the Back
# Projection weight map and the output before BP.

# %%
model, s = DeepGINNet(cfg).eval(), cfg.image_size
x, v = SampleScenes("test", s)[0][None], to_tensor([center_box_mask(s, s, area=0.25)])
with torch.no_grad():
    o = model(x, v, return_all=True)
print(f"{scale}: {model.num_parameters():,} parameters; coarse {tuple(o.coarse.shape)}, output "
      f"{tuple(o.output.shape)}, I_lr {tuple(o.lowres.shape)}, BP weight {tuple(o.bp_weight.shape)}")
try:
    model(x, 1 - v.long())
except ValueError as e:
    print("a hole map of integers is refused:", str(e)[:110], "...")
