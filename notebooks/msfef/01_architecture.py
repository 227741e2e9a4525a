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
# # MSFEF 1: the architecture
#
# Sarkar, Sen and Vaidyanathan, *Image Inpainting Through Multi-Scale Partial Convolutions* {cite}`sarkar2023msfef`.
# The paper puts a **Multi-Scale Feature Extraction and Fusion (MSFEF)** module, three parallel partial
# convolutions {cite}`liu2018partialconv` of kernel 3x3, 5x5 and 7x7 whose outputs are weighted per channel and
# summed, into the first four stages of a plain partial-convolution encoder-decoder (Sect. 3.2, Fig. 1-2,
# appendix Table 2). This notebook builds that network from `inpaintlib.papers.msfef`, redraws Fig. 1 and regenerates
# Table 2 from the model object, counts its parameters and multiply-accumulates, and shows how the known region grows
# through the encoder for the 3x3 branch (whose mask the module keeps) and the 7x7 branch (whose mask it discards).

# %% tags=["parameters"]
scale = "ci"
seed = 0
device = "auto"
data_root = None

# %% tags=["hide-input"]
import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown, display

from inpaintlib.chapter import show
from inpaintlib.cost import count_macs
from inpaintlib.data import SampleScenes
from inpaintlib.layers import MSFEFModule
from inpaintlib.masks import center_box_mask, to_tensor
from inpaintlib.papers.msfef import PAPER_TABLE2, PAPER_TABLE2_COLUMNS, MSFEFConfig, MSFEFNet, msfef_rectangle_mask
from inpaintlib.papers.msfef import figures as F
from inpaintlib.record import record

torch.manual_seed(seed)
cfg, paper_cfg = MSFEFConfig.for_scale(scale), MSFEFConfig.paper()
print(f"scale = {scale!r}; changed from paper():", cfg.changes_from_paper() or "nothing")

# %% [markdown]
# ## Paper Fig. 1: the high-level architecture, drawn from the model object
#
# Compare with the paper's Fig. 1: eight stride-2 encoder stages (four MSFEF, four plain partial convolutions) and
# eight decoder stages, each upsampling by 2 and concatenating the matching encoder output (skip connections).

# %%
paper_model = MSFEFNet(paper_cfg)
F.architecture_figure(paper_model);

# %% [markdown]
# ## The MSFEF module (Sect. 3.2.2, Fig. 2)
#
# For input features $X$ and mask $M$ (1 = known), every branch $k \in \{3, 5, 7\}$ is a partial convolution
# (Eq. 1) with its mask update (Eq. 2); the module returns
#
# $$F = \Big(\sum_{k\in\{3,5,7\}} w_k \odot \mathrm{PConv}_k(X, M)\Big) \odot M'_3, \qquad M_{out} = M'_3,$$
#
# with $w_k$ a learned $1\times1\times C$ tensor per branch. Multiplying by the 3x3 branch's new mask $M'_3$ keeps
# only the positions where *all three* branches saw a known pixel (the smaller window is the stricter one). The
# paper gives no initial value for $w_k$; **our choice is 1/3 for every branch and channel**, so the untrained
# module starts as the mean of its branches.

# %%
module = MSFEFModule(3, 8, stride=2)
out, new_valid, branches = module(torch.rand(1, 3, 32, 32), to_tensor([center_box_mask(32, 32)]), return_branches=True)
print(module, "\noutput", tuple(out.shape), "| output mask", tuple(new_valid.shape))
for k, (o, m) in branches.items():
    print(f"branch {k}x{k}: output {tuple(o.shape)}, known {m.mean().item():.1%} of positions")

# %% [markdown]
# ## Table 2, regenerated from the model object
#
# First: the network built by `MSFEFNet(MSFEFConfig.paper())`, one row per stage, read from the modules
# (kernels, channels, stride, normalisation, activation, and which tensor each decoder stage concatenates).
# Below it: the paper's appendix Table 2 as printed (transcribed, labelled "paper, Table 2").
#
# **Implementation notes: how we read Table 2.** The table is not self-consistent, and we resolved it as follows.
#
# 1. *Stage names.* The encoder rows are called MSFEF 1-4 and PConv1-4, but the decoder's concatenation rows
#    refer to "PConv7", "PConv6", ..., "PConv1", and the decoder layers are numbered PConv9-16. The skips only make
#    sense if the eight encoder stages are numbered 1-8 there (MSFEF1-4 = 1-4, PConv1-4 = 5-8): "Concat5 (w/ PConv3)"
#    adds 256 channels, which only MSFEF3 has, "Concat7 (w/ PConv1)" adds 64 = MSFEF1, and the spatial sizes then
#    match (at 256 px, stage 8 is 1x1 and its upsampled output meets stage 7 at 2x2). The text agrees: the first
#    upsampled map is concatenated with "the second-last convolution block in the encoder" (Sect. 3.2.1). So decoder
#    stage *j* meets encoder stage 8 - *j*, and the last meets the input image. Our table names encoder stages as
#    the paper's rows do and gives the running number in brackets.
# 2. *BatchNorm on PConv4.* The text says Instance Normalization follows "each encoder convolution stage (except
#    the last stage)"; Table 2 gives the last stage BN. The two agree if the last stage uses BatchNorm, which we
#    do. At 256 px that stage outputs a 1x1 map, where InstanceNorm is undefined (one value per channel and image),
#    which is probably why the last stage is the exception.
# 3. *Masks at the concatenation.* Sect. 3.2.1 says the upsampled "feature map and mask are concatenated with the
#    output feature map and mask" of the encoder. We take this literally: the decoder's partial convolutions get
#    one mask channel per feature channel (the `multi_channel` convention of NVIDIA's published partial-convolution layer), so Eq. 1's
#    sum(1)/sum(M) counts known entries over all concatenated channels. The alternative, one mask channel per
#    tensor merged into one map (union or intersection), would either let the hole's zeros from the image skip in
#    unscaled or zero the output deep in the hole. The encoder's masks stay single-channel.
# 4. *Output.* Table 2 has no final activation ("-"), so the network returns the raw output of PConv16 in image
#    space (inputs are [0, 1] images, no normalisation). Metrics and figures clip it to [0, 1] and composite it with
#    the known pixels.
# 5. *Not in the table, our choices:* a bias in every partial convolution (Eq. 1 has $b$), learnable affine
#    parameters in IN and BN, fusion weights initialised to 1/3, padding $k/2$ so that all branches of a stride-2
#    MSFEF give the same output size.

# %%
show(pd.DataFrame(paper_model.architecture_table()).set_index("#"), "Ours, regenerated from MSFEFNet(MSFEFConfig.paper())")
show(pd.DataFrame(PAPER_TABLE2, columns=PAPER_TABLE2_COLUMNS), "Paper, Table 2 (transcribed as printed)")
if cfg != MSFEFConfig.paper():  # the reduced network of the ci and demo scales
    show(pd.DataFrame(MSFEFNet(cfg).architecture_table()).set_index("#"), f"The network at {scale} scale")

# %% [markdown]
# ## Parameter count
#
# The paper prints no parameter count; what Table 2 implies is computed below from the transcribed table alone
# (`table2_parameter_count`: every listed kernel, $k^2 C_{in} C_{out}$ weights plus $C_{out}$ biases, with
# $C_{in}$ taken from the previous row or the "a+b" of the Concat row before it), and compared with the model.

# %%
counts, n = F.parameter_counts(paper_model)
record("msfef_params_model", n["model"]), record("msfef_params_table2", n["table2"])
show(counts, "Parameters, paper configuration")
display(Markdown(F.parameter_text(n)))

# %% [markdown]
# ## Multiply-accumulates at 256x256
#
# Counted with `inpaintlib.cost.count_macs` on one 256x256 image at the paper's configuration: PyTorch's
# `FlopCounterMode` (every convolution, including the partial convolutions' mask convolutions) and a forward hook
# on the feature convolutions only ($k^2 C_{in} C_{out}$ per output pixel). The paper gives no FLOP count.

# %%
paper_model.eval()
macs = count_macs(paper_model, torch.rand(1, 3, 256, 256), to_tensor([center_box_mask(256, 256, area=0.25)]),
                  parts={s.name: s for s in [*paper_model.encoder, *paper_model.decoder]})
record("msfef_gmacs_256", round(macs["total"] / 1e9, 2))
F.macs_figure(macs["by_part"], macs["total"]);
share = sum(v for k, v in macs["by_part"].items() if k.startswith("MSFEF")) / macs["total"]
display(Markdown(
    f"One forward pass at 256x256 costs **{macs['total'] / 1e9:.2f} GMACs** ({2 * macs['total'] / 1e9:.1f} GFLOPs); "
    f"the feature convolutions alone {macs['feature_convs'] / 1e9:.3f} GMACs. The four MSFEF stages take {share:.0%}."))

# %% [markdown]
# ## A forward pass
#
# The untrained network at the chosen scale on a test photograph of the sample scenes, with one training rectangle
# of Sect. 4.2 (height 0.1-0.25 of the image). The output is noise until `02_training`; the point is the interface:
# `forward(image, valid) -> N x 3 x H x W`, inputs checked.

# %%
model, s = MSFEFNet(cfg).eval(), cfg.image_size
image, valid = SampleScenes("test", s)[0][None], to_tensor([msfef_rectangle_mask(s, s, np.random.default_rng(seed))])
with torch.no_grad():
    print(f"{scale}: image {tuple(image.shape)} -> output {tuple(model(image, valid).shape)}, "
          f"{model.num_parameters():,} parameters")
try:
    model(image, 1 - valid.long())
except ValueError as e:
    print("a hole map of integers is refused:", str(e)[:110], "...")

# %% [markdown]
# ## How the known region grows: 3x3 branch against 7x7 branch
#
# Partial convolutions fill the hole from its border inwards: after a $k \times k$ window with stride 2, a position
# is known if its window held any known pixel (Eq. 2). The MSFEF module passes on the 3x3 branch's mask, so the
# network's mask grows as slowly as a plain 3x3 partial convolution's. Row 1: the mask leaving each encoder stage
# of the paper network (256 px). Row 2: the 7x7 branch's own mask in each MSFEF stage. Row 3: the mask the encoder
# would carry had the module kept the 7x7 branch's mask.

# %%
fig, growth = F.mask_growth(paper_cfg)
closed3, text = F.growth_text(growth)
record("msfef_hole_closed_stage_3x3", closed3)
display(Markdown(text))
