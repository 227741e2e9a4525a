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
# # MSA-Net 1: the architecture
#
# Qin, Bai and Zhao, *Multi-scale attention network for image inpainting* {cite}`qin2021msanet`. The network has
# three parts (Sect. 3.1, Fig. 1): a few convolutions for shallow feature extraction; a **multi-scale attention
# group (MSAG)** of multi-scale attention units (MSAUs), each a downsampling convolution (Eq. 1), four parallel 3x3
# dilated convolutions with rates 1, 2, 4, 8 (Eq. 2), a *fusing spatial attention* on each (Eq. 3, Sect. 3.3.1), an
# *augmented channel attention* on their concatenation (Eq. 4, Sect. 3.3.2) and an aggregating convolution; and
# three **image restoration units** (IRUs), each a deconvolution followed by channel then spatial attention
# (Eq. 10). A max-pool **mask update** (MUM, Sect. 3.4) marks the known positions at every downsampling.
# The text copy of the paper this book works from lacks its figures (they are in the published article); this
# notebook rebuilds them as layer tables from the model object.

# %% tags=["parameters"]
scale = "ci"
seed = 0

# %% tags=["hide-input"]
import pandas as pd
import torch
from IPython.display import Markdown, display

from inpaintlib.chapter import show
from inpaintlib.data import SampleScenes
from inpaintlib.masks import center_box_mask, to_tensor
from inpaintlib.papers.msanet import MSANet, MSANetConfig, checks, table1_counts
from inpaintlib.papers.msanet import figures as F
from inpaintlib.record import record

torch.manual_seed(seed)
cfg, paper_cfg = MSANetConfig.for_scale(scale), MSANetConfig.paper()
paper_model = MSANet(paper_cfg).eval()
print(f"scale = {scale!r}; changed from paper():", cfg.changes_from_paper() or "nothing")

# %% [markdown]
# ## Implementation notes: what the paper leaves open, and what we chose
#
# 1. *Feature extraction*: a 7x7 convolution to 64 maps and one stride-2 3x3 convolution to 128 maps. Sect. 3.4 puts
#    the mask update in "the downsampling layers of feature extraction and MSAG", so there is at least one there.
# 2. *Number of MSAUs*: two, each downsampling (Eq. 1). With the extractor's downsampling that makes three, undone by
#    the three stride-2 deconvolutions of Eq. 10 ($0 < i \le 3$).
# 3. *Widths*: 128 maps enter the dilated convolutions (Table 1's counts hold only then, see below), 4 x 48 = 192
#    leave each MSAU (Table 1's "Output maps"); the IRUs narrow 128, 64, 32 (our choice).
# 4. *Mask channel*: Eq. 1's $F_{Input}$ "consists of feature from previous layer and corresponding mask update
#    layer", so every downsampling convolution receives the mask as one more channel. Each dilated branch gets its
#    own mask (the max-pool with that branch's dilation), its features are zeroed where it saw no known pixel, and the
#    unit's mask is the union of its branches' masks.
# 5. *Skips and output*: IRU 2 and 3 concatenate the encoder map of their resolution (U-Net style); the output is a
#    3x3 convolution on [IRU 3, the first feature-extraction map, masked image, mask] and a sigmoid. The
#    full-resolution map matters: in the runs that set the ci network (not rerun by the book) the `ci` network
#    without it filled holes with a flat colour and stayed below mean filling.
# 6. *Squashing*: Eqs. 5 and 8 print no sigmoid. We squash both attention maps with one (`squash=True`), as CBAM and
#    SE do; the literal reading is `MSANetConfig(squash=False)`.
# 7. *Details of the attentions*: the spatial attention's gradual extractor is 3x3 convolutions to C/2, C/4 and 1
#    maps; the channel attention squeezes with a stride-2 3x3 convolution (its $F_s$), then Eq. 7, average pooling, a
#    1x1 convolution to C/4 (r = 4) and a 1x1 convolution back to C.

# %% [markdown]
# ## Paper Fig. 1: the network, read from the model object (paper configuration)

# %%
show(pd.DataFrame(paper_model.architecture_table()).set_index("part"), "MSANet(MSANetConfig.paper()), part by part")

# %% [markdown]
# ## Paper Figs. 2, 4, 6: MSAU 1 and its attentions, layer by layer
#
# `down` is Eq. 1, `structure.branches.r` the dilated convolutions of Eq. 2, `spatial.*` the fusing spatial attention
# of each branch (Fig. 4: `gradual` = $F_1, F_2, \Phi_f$, `fuse` = $s_1^{3\times3}$ of Eq. 5), `channel.*` the
# augmented channel attention (Fig. 6: `squeeze` = $F_s$, `extract` = Eq. 7, `spi` = the shared perception
# information of size C/r, `restore` = $W_r$), `aggregate` the aggregating convolution of Fig. 2.

# %%
show(F.layer_table(paper_model.msag[0]), "MSAU_1 at paper configuration")

# %% [markdown]
# ## Paper Fig. 8: the image restoration units

# %%
show(pd.concat({f"IRU_{i + 1}": F.layer_table(u) for i, u in enumerate(paper_model.ir)}), "IRU 1-3 at paper configuration")

# %% [markdown]
# ## Paper Table 1: parameter counts of MSAU, Inception V1 and Inception V3, reproduced
#
# Table 1 prints the multi-scale structures of MSAU_1 and of the two Inception units put in its place, with rounded
# parameter counts. The counts fix two things the text does not say: the input width and the biases. Only a
# 128-map input gives the MSAU's 221K ($4 \times 9 \times 128 \times 48 = 221{,}184$), and only without biases do the
# Inception units total 338K and 326K (the 1x1 "Reduce" to 192 maps included). Two cells of the extracted table
# are read as follows: Inception V1's pool branch ends in a 1x1 convolution to 64 maps (the pool projection of
# GoogLeNet; the table prints it in the V3 column), and its third scale is a 3x3 convolution to 24 maps then a 1x1
# to 64, as printed. Only this reading gives V1 512 maps and 240K, and V3 304 maps and 268K.

# %%
ours, with_bias = table1_counts(), table1_counts(bias=True)
t1 = checks.table1_counts(ours)
show(t1, "Table 1: our units (input width 128, no bias) beside the paper's printed thousands")
show(checks.table1_counts(with_bias), "The same units with biases")
ok, bias_ok = bool(t1["matches"].all()), bool(checks.table1_counts(with_bias)["matches"].all())
[record(f"msanet_table1_{k}_total", v["total"]) for k, v in ours.items()]
display(Markdown(
    f"With a 128-map input and no biases, our units have {ours['msau']['total']:,} (MSAU), "
    f"{ours['inception_v1']['total']:,} (Inception V1) and {ours['inception_v3']['total']:,} (Inception V3) parameters: "
    f"{'every' if ok else 'not every'} printed count is reproduced. With biases "
    f"{'they would still match' if bias_ok else 'V1 would print ' + str(round(with_bias['inception_v1']['total'] / 1000)) + 'K and V3 ' + str(round(with_bias['inception_v3']['total'] / 1000)) + 'K'}."))

# %% [markdown]
# ## Parameters and multiply-accumulates of the whole network at 256x256
#
# The paper prints neither. Counted on the paper configuration with `inpaintlib.cost.count_macs` (PyTorch's
# `FlopCounterMode`; one 256x256 image with the 25% centre box).

# %%
params = F.parameter_table(paper_model)
macs = F.macs_table(paper_model, 256)
params["GMACs at 256"] = pd.Series(macs["by_part"]) / 1e9
show(params, "Parameters and MACs by part, paper configuration", digits=3)
n = paper_model.num_parameters()
record("msanet_params_paper", n), record("msanet_gmacs_256", round(macs["total"] / 1e9, 2))
display(Markdown(f"MSA-Net at paper configuration has **{n:,}** parameters ({n / 1e6:.2f} M) and costs "
                 f"**{macs['total'] / 1e9:.2f} GMACs** per 256x256 image ({macs['feature_convs'] / 1e9:.2f} GMACs in the "
                 f"convolution kernels alone). The two MSAUs hold {params.loc[['MSAU_1', 'MSAU_2'], 'share'].sum():.0%} "
                 "of the parameters."))

# %% [markdown]
# ## Inference time per 256x256 image
#
# Sect. 4 reports "about 0.026 s" per image on a Titan XP GPU. We time the paper configuration on the CPU that built
# this page: batch 1, the 25% centre box, median of 5 forward passes after one warm-up (random weights: the time does
# not depend on them). Different hardware, so the two numbers say what our CPU costs, not which method is faster;
# `python tests/bench_msanet.py --threads N --repeats R` measures the same with more repeats.

# %%
t = F.time_per_image(paper_model)
record("msanet_cpu_s_per_image", round(t["median_s"], 3))
display(Markdown(f"On {t['cpu']} ({t['threads']} threads of {t['cores']} cores): **{t['median_s']:.3f} s** per "
                 f"256x256 image (median of {t['repeats']}; fastest {t['min_s']:.3f} s), {t['times_paper']:.0f} "
                 "times the paper's 0.026 s on a Titan XP."))

# %% [markdown]
# ## Paper Fig. 9: the mask at every layer, for each dilation
#
# The mask update max-pools the mask with the window of each layer: the downsampling convolutions (3x3, stride 2)
# and, inside each MSAU, each dilated branch with its own rate. A position turns known (white) once its window holds
# a known position, so the hole closes from its border inwards, and the wider the dilation the faster. Shown for a
# centred box covering 25% of a 256x256 image, at paper configuration.

# %%
image = torch.rand(1, 3, 256, 256)
masks, hole = F.mask_trace(paper_model, image, to_tensor([center_box_mask(256, 256, area=0.25)]))
F.mask_figure(masks);
show(hole.T, "Share of positions still in the hole, per layer", digits=3)
r1, r8 = hole.loc["MSAU_2 rate 1", "hole left"], hole.loc["MSAU_2 rate 8", "hole left"]
record("msanet_hole_left_msau2_rate8", round(r8, 3))
display(Markdown(f"In MSAU 2 the rate-1 branch still sees {r1:.1%} of its positions as hole, the rate-8 branch "
                 f"{r8:.1%}; the unit's output mask leaves {hole.loc['MSAU_2 output', 'hole left']:.1%}."))

# %% [markdown]
# ## A forward pass at the chosen scale
#
# At `ci` scale the images are 64 px: MSAU 2 then works on 8x8 maps, where the rate-8 branch's outer taps already
# fall into the zero padding; at 32 px they would see nothing else. The untrained output is noise; the point is the
# interface (`forward(image, valid) -> N x 3 x H x W` in [0, 1], inputs checked).

# %%
model, s = MSANet(cfg).eval(), cfg.image_size
x, v = SampleScenes("test", s)[0][None], to_tensor([center_box_mask(s, s, area=0.25)])
with torch.no_grad():
    print(f"{scale}: image {tuple(x.shape)} -> output {tuple(model(x, v).shape)}, {model.num_parameters():,} parameters")
try:
    model(x, 1 - v.long())
except ValueError as e:
    print("a hole map of integers is refused:", str(e)[:110], "...")
