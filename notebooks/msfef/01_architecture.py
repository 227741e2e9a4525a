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
# appendix Table 2). This notebook builds that network from `inpaintlib`, regenerates Table 2 from the model
# object, counts its parameters and multiply-accumulates, and shows how the known region grows through the
# encoder for the 3x3 branch (whose mask the module keeps) and the 7x7 branch (whose mask it discards).

# %% tags=["parameters"]
scale = "ci"
seed = 0
device = "auto"
data_root = None

# %%
import dataclasses

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown, display

from inpaintlib.data import SampleScenes
from inpaintlib.layers import MSFEFModule, maxpool_mask_update
from inpaintlib.masks import center_box_mask, to_tensor
from inpaintlib.papers.msfef import msfef_rectangle_mask
from inpaintlib.papers.msfef import (PAPER_TABLE2, PAPER_TABLE2_COLUMNS, MSFEFConfig, MSFEFNet, count_macs,
                                     table2_parameter_count)
from inpaintlib.record import record

torch.manual_seed(seed)
cfg = MSFEFConfig.for_scale(scale)
paper_cfg = MSFEFConfig.paper()
print(f"scale = {scale!r}: {cfg}")
print("changed from paper():", cfg.changes_from_paper() or "nothing")

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
x = torch.rand(1, 3, 32, 32)
valid = to_tensor([center_box_mask(32, 32, area=0.25)])
out, new_valid, branches = module(x, valid, return_branches=True)
print(module)
print("output", tuple(out.shape), "| output mask", tuple(new_valid.shape))
for k, (o, m) in branches.items():
    print(f"branch {k}x{k}: output {tuple(o.shape)}, known {m.mean().item():.1%} of positions")
print({k: tuple(w.shape) for k, w in zip(module.kernel_sizes, module.fusion)}, "fusion weights (1 x C x 1 x 1)")

# %% [markdown]
# ## Table 2, regenerated from the model object
#
# Below, left: the network built by `MSFEFNet(MSFEFConfig.paper())`, one row per stage, read from the modules
# (kernels, channels, stride, normalisation, activation, and which tensor each decoder stage concatenates).
# Right: the paper's appendix Table 2 as printed (transcribed, labelled "paper, Table 2").
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
paper_model = MSFEFNet(paper_cfg)
ours_t2 = pd.DataFrame(paper_model.architecture_table()).set_index("#")
paper_t2 = pd.DataFrame(PAPER_TABLE2, columns=PAPER_TABLE2_COLUMNS)
display(Markdown("**Ours (regenerated from `MSFEFNet(MSFEFConfig.paper())`)**"))
display(ours_t2)
display(Markdown("**Paper, Table 2 (transcribed as printed)**"))
display(paper_t2)

# %%
if scale != "paper":
    display(Markdown(f"**The network at {scale} scale** (`MSFEFConfig.{scale}()`: "
                     + ", ".join(f"{k} {a} -> {b}" for k, (a, b) in cfg.changes_from_paper().items()) + ")"))
    display(pd.DataFrame(MSFEFNet(cfg).architecture_table()).set_index("#"))

# %% [markdown]
# ## Parameter count
#
# The paper prints no parameter count; what Table 2 implies is computed below from the transcribed table alone
# (`table2_parameter_count`: every listed kernel, $k^2 C_{in} C_{out}$ weights plus $C_{out}$ biases, with
# $C_{in}$ taken from the previous row or the "a+b" of the Concat row before it), and compared with the model.

# %%
n_model = paper_model.num_parameters()
n_table = table2_parameter_count()
n_table_full = table2_parameter_count(with_fusion_and_norm=True)
n_fusion = sum(w.numel() for m in paper_model.msfef_modules() for w in m.fusion)
n_norm = sum(p.numel() for mod in paper_model.modules()
             if isinstance(mod, (torch.nn.InstanceNorm2d, torch.nn.BatchNorm2d)) for p in mod.parameters())
record("msfef_params_model", n_model)
record("msfef_params_table2", n_table)
counts = pd.DataFrame({
    "parameters": [n_model, n_table, n_fusion, n_norm, n_table_full],
}, index=["model, MSFEFConfig.paper()", "implied by Table 2 (conv weights + biases)",
          "fusion weights (3 x C per MSFEF, Sect. 3.2.2)", "IN/BN scale and shift (our choice: affine)",
          "Table 2 + fusion + norm"])
display(counts.style.format("{:,}"))
diff = n_model - n_table
display(Markdown(
    f"The model has **{n_model:,}** parameters ({n_model / 1e6:.2f} M); the convolutions listed in Table 2 imply "
    f"**{n_table:,}**. The difference, {diff:,}, is "
    + ("exactly" if diff == n_fusion + n_norm else "not exactly")
    + f" the {n_fusion:,} fusion weights (which Table 2 does not list) plus the {n_norm:,} affine parameters of "
    f"the normalisation layers (the paper does not say whether they are affine). "
    f"By parameter count, {sum(p.numel() for m in paper_model.msfef_modules() for p in m.parameters()) / n_model:.0%} "
    "of the network sits in the four MSFEF modules."))

# %% [markdown]
# ## Multiply-accumulates at 256x256
#
# Counted with `torch.utils.flop_counter.FlopCounterMode` on one 256x256 image at the paper's configuration (it
# counts every convolution, including the partial convolutions' mask convolutions), and with a forward hook that
# counts only the feature convolutions ($k^2 C_{in} C_{out}$ per output pixel). The paper gives no FLOP count.

# %%
img256 = torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(seed))
valid256 = to_tensor([center_box_mask(256, 256, area=0.25)])
paper_model.eval()
macs = count_macs(paper_model, img256, valid256)
record("msfef_gmacs_256", round(macs["total"] / 1e9, 2))
by_stage = pd.Series(macs["by_stage"]) / 1e9
fig, ax = plt.subplots(figsize=(9, 2.6))
by_stage.plot.bar(ax=ax, color=["C1" if s.startswith("MSFEF") else "C0" for s in by_stage.index])
ax.set_ylabel("GMACs")
ax.set_title("MACs per stage, paper configuration, one 256x256 image (MSFEF stages in orange)")
plt.show()
msfef_share = sum(v for k, v in macs["by_stage"].items() if k.startswith("MSFEF")) / macs["total"]
display(Markdown(
    f"One forward pass at 256x256 costs **{macs['total'] / 1e9:.2f} GMACs** "
    f"({2 * macs['total'] / 1e9:.1f} GFLOPs). The forward-hook count of the feature convolutions gives "
    f"{macs['feature_convs'] / 1e9:.3f} GMACs; FlopCounterMode counts {(macs['total'] - macs['feature_convs']) / 1e6:.1f} "
    f"M MACs more (mask convolutions it sees). The four MSFEF stages take {msfef_share:.0%} of the total."))

# %% [markdown]
# ## A forward pass
#
# The untrained network at the chosen scale on a test photograph of the sample scenes, with a training mask of
# Sect. 4.2 (one rectangle; height 0.1-0.25 of the image; rectangles are our reading). The output is noise until
# `02_training`; the point here is the interface: `forward(image, valid) -> N x 3 x H x W`, inputs checked.

# %%
model = MSFEFNet(cfg).eval()
s = cfg.image_size
image = SampleScenes("test", s)[0][None]
valid = to_tensor([msfef_rectangle_mask(s, s, np.random.default_rng(seed))])
with torch.no_grad():
    output = model(image, valid)
print(f"{scale} scale: image {tuple(image.shape)}, valid {tuple(valid.shape)} -> output {tuple(output.shape)}, "
      f"{model.num_parameters():,} parameters")
try:
    model(image, 1 - valid.long())
except ValueError as e:
    print("a hole map of integers is refused:", str(e)[:110], "...")

# %% [markdown]
# ## How the known region grows: 3x3 branch against 7x7 branch
#
# Partial convolutions fill the hole from its border inwards: after a $k \times k$ window with stride 2, a
# position is known if its window held any known pixel (Eq. 2). The MSFEF module passes on the 3x3 branch's
# mask, so the network's mask grows as slowly as a plain 3x3 partial convolution's. Row 1 ("3x3 mask (network)"): the mask
# leaving each encoder stage of the paper network (256 px). Row 2 ("7x7 branch"): the 7x7 branch's mask in each
# MSFEF stage, from the same input mask. Row 3 ("7x7 mask kept"): the mask the encoder would carry if the module
# kept the 7x7 branch's mask instead.
# The masks depend only on kernels and strides, so a narrow copy of the paper geometry computes them.

# %%
geom = MSFEFNet(dataclasses.replace(paper_cfg, encoder_widths=(2,) * 8)).eval()
hole_box = to_tensor([center_box_mask(256, 256, area=0.45)])
with torch.no_grad():
    stages = geom.encode(torch.rand(1, 3, 256, 256), hole_box, return_branches=True)
chain3 = [st["valid"] for st in stages]
branch7 = [st["branches"][7][1] for st in stages if st["branches"] is not None]
chain7, v = [], hole_box
for i in range(paper_cfg.depth):
    k = 7 if i < paper_cfg.n_msfef else 3
    v = maxpool_mask_update(v, kernel_size=k, stride=2)
    chain7.append(v)
rows = [("3x3 mask (network)", chain3), ("7x7 branch", branch7), ("7x7 mask kept", chain7)]
fig, axes = plt.subplots(3, 9, figsize=(13, 4.6))
for r, (label, chain) in enumerate(rows):
    axes[r, 0].imshow(hole_box[0, 0], cmap="gray", vmin=0, vmax=1)
    axes[r, 0].set_title("input" if r == 0 else "", fontsize=8)
    axes[r, 0].set_ylabel(label, fontsize=8)
    for i in range(8):
        ax = axes[r, i + 1]
        if i < len(chain):
            m = chain[i][0, 0]
            ax.imshow(m, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_title(f"{stages[i]['name']} {m.shape[-1]}px\nhole {1 - m.mean():.1%}", fontsize=7)
        else:
            ax.axis("off")
    for ax in axes[r]:
        ax.set_xticks([])
        ax.set_yticks([])
fig.suptitle("Known (white) and hole (black) through the encoder, paper geometry, 256 px, centre hole 45%")
plt.tight_layout()
plt.show()
hole3 = [1 - float(c.mean()) for c in chain3]
hole7 = [1 - float(c.mean()) for c in chain7]
closed3 = next((stages[i]["name"] for i, h in enumerate(hole3) if h == 0), "never")
closed7 = next((stages[i]["name"] for i, h in enumerate(hole7) if h == 0), "never")
record("msfef_hole_closed_stage_3x3", closed3)
display(Markdown(
    f"With the 3x3 branch's mask (what the module passes on) a centred 45% hole is closed after **{closed3}**; "
    f"had the module kept the 7x7 branch's mask it would be closed after **{closed7}**. Inside "
    f"{stages[len(branch7) - 1]['name']} the 7x7 branch's own mask leaves {1 - float(branch7[-1].mean()):.1%} of the "
    f"positions in the hole against {hole3[len(branch7) - 1]:.1%} for the 3x3 branch (row 2 against row 1), but "
    "Sect. 3.2.2 discards what the larger kernels see beyond the 3x3 branch's reach "
    "(the fused output is multiplied by $M'_3$): the large kernels contribute context to positions the small "
    "kernel already reaches, they do not fill the hole faster."))
