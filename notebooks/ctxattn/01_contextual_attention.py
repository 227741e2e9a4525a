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
# # CtxAttn 1: the contextual attention layer alone
#
# Charef and Ouqour {cite}`charef2024ctxattn` describe their contextual attention layer in six steps (Sect. III.C,
# Fig. 2: input feature, foreground/background separation, reshape, attention scores, weighted sum, reconstructed
# foreground) and one equation, a softmax over spatial positions (Eq. 1). The layer is the contextual attention of
# Yu et al. (CVPR 2018, DeepFill v1), which the paper does not cite; the concrete choices below (3x3 patches matched
# at half resolution, cosine scores, the "fuse" propagation, a softmax scale of 10, pasting raw 4x4 patches with a
# transposed convolution) are DeepFill v1's as listed in the appendix
# [reference implementations](../../book/reference_implementations) ("DeepFill v1: contextual attention"), and are
# written beside the code in `inpaintlib.layers.contextual_attention`.
#
# The layer has no weights, so it can be watched **untrained**. Here the features are the pixels of a test
# photograph themselves. The *foreground* (what is completed) is the whole photograph, as if a coarse network had
# already filled the hole perfectly; the *background* (where content is borrowed from) is the photograph with the
# hole removed. So this notebook shows the matching and pasting, not the hallucination of missing content: in the
# network the foreground is the coarse stage's guess (notebook 4).

# %% tags=["parameters"]
scale = "ci"
seed = 0
device = "auto"
data_root = None
size = 96  # pixels of the photograph (a multiple of 2); the matching grid is size/2 x size/2

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display

from inpaintlib.chapter import show
from inpaintlib.data import SampleScenes
from inpaintlib.masks import center_box_mask, to_tensor
from inpaintlib.papers.ctxattn import figures as F
from inpaintlib.record import record

torch.manual_seed(seed)
photos = SampleScenes("test", size)
image, valid = photos[0][None], to_tensor([center_box_mask(size, size, area=0.09)])
query = (size // 4, size // 4)  # the centre of the hole, at the matching resolution
print(f"{scale} scale (the layer is untrained: the scale only sets defaults); photograph "
      f"{SampleScenes.photos('test')[0]!r} at {size} px, a centred hole of 9% of the image")

# %% [markdown]
# ## Paper Fig. 2, step by step
#
# 1. *Input feature* with its hole (magenta). 2. *Foreground/background separation*: a 3x3 background patch (at the
# matching resolution, half the input's) is usable only if it holds no hole pixel (yellow). 3-4. *Reshape* the
# usable patches into convolution filters and compute the *attention scores*: the cosine similarity of one query
# position (red cross, the centre of the hole) to every patch; the hole's patches score 0 (the background is empty
# there). Then the scaled softmax of Eq. 1 over the background patches, before and after the fuse step (fuse sums the
# scores of neighbouring matches that agree, so coherent matches win). 5. The *weighted sum*, summarised as the
# attention flow: the offset from each position to its strongest patch, drawn on the Middlebury colour wheel (key
# beside it; white = no offset, so the known region, which matches itself, is white). 6. The *reconstructed
# foreground* pasted into the hole.

# %%
fig, steps = F.attention_steps(image, valid, query, image)
plt.show()
for k in ("usable", "patches", "peak_no_fuse", "peak_fuse"):
    record(f"ctxattn_fig2_{k}", steps[k], 3)
display(Markdown(
    f"On a {steps['grid'][0]}x{steps['grid'][1]} matching grid, {steps['usable']:,} of {steps['patches']:,} background "
    f"patches are usable. The query's largest weight is {steps['peak_no_fuse']:.3f} without fuse and "
    f"{steps['peak_fuse']:.3f} with it: fuse {'sharpens' if steps['peak_fuse'] > steps['peak_no_fuse'] else 'flattens'}"
    f" the attention here. Its weights sum to {steps['mass_fuse']:.4f}"
    + (": every score of a usable patch is far above 0, so the excluded patches' exp(0) share of the softmax's "
       "denominator (the reference's zero-masking) is negligible here." if steps["mass_fuse"] > 0.999 else
       ", not 1: with the reference's zero-masking every excluded patch still takes exp(0) of the denominator.")))

# %% [markdown]
# ## What each option of the layer does
#
# The layer's options (`ContextualAttention(...)`): `fuse` on/off; `softmax_scale` (the paper's Eq. 1 has none;
# DeepFill v1 uses 10: larger values approach a hard argmax); `exclusion`, how hole patches are kept out of the
# softmax — `"zero"` multiplies their scores by 0 as the reference code does, so they still take weight in the
# denominator and the weights over usable patches sum to less than 1 (the paste is darkened), `"neg_inf"` sets them
# to minus infinity (a true exclusion, weights sum to 1); `hard`, a one-hot argmax (for tests and figures);
# `patch_size`, `rate` and `mask_downsample` (how the hole map reaches the matching resolution; see the module
# docstring). Measured on the same photograph and hole:

# %%
effects = F.option_effects(image, valid, query)
show(effects, f"Options of the layer on {SampleScenes.photos('test')[0]!r}, {size} px, untrained", digits=3)
ref, ninf = effects.iloc[0], effects.loc["-inf masking"]
wz, wn = effects.iloc[-2], effects.iloc[-1]
record("ctxattn_zero_masking_mass_weak", wz["mean weight mass over hole rows"], 3)
display(Markdown(
    f"On the photograph's own pixels the two maskings agree (weight mass over the hole's positions "
    f"{ref['mean weight mass over hole rows']:.4f} with zero-masking, {ninf['mean weight mass over hole rows']:.4f} "
    f"with -inf; paste error {ref['hole MAE of the paste']:.3f} and {ninf['hole MAE of the paste']:.3f}). With the "
    f"features scaled down to weak values, zero-masking keeps only {wz['mean weight mass over hole rows']:.3f} of the "
    f"weight on usable patches and its paste errs by {wz['hole MAE of the paste']:.3f}, against "
    f"{wn['hole MAE of the paste']:.3f} for -inf masking"
    + (": the missing mass darkens the paste. " if wz["hole MAE of the paste"] > wn["hole MAE of the paste"] else
       ": here the missing mass does not make the paste worse. ") + f"A softmax scale of 1 "
    f"spreads the weight (peak {effects.loc['softmax scale 1', 'query peak weight']:.4f}), 100 concentrates it "
    f"(peak {effects.loc['softmax scale 100', 'query peak weight']:.3f}). Inside a network the layers around the "
    "attention can learn to compensate; notebook 5 trains both maskings."))

# %% [markdown]
# ## The copy-paste test: where the right answer is known
#
# A block of the photograph is copied to another place, and a hole is cut inside the copy. The only place in the
# image that holds exactly the missing content is the source block, so the attention of every hole position must
# point to it — the offset equals minus the displacement — and a hard (one-hot) attention must paste it back
# **exactly**. The unit tests in `tests/test_ctxattn.py` pin this on random textures; here it runs on a photograph.

# %%
disp = (size // 3, size // 3 + 4)  # multiples of the rate (2); the source block's corner is at (4, 4)
scene, scene_valid = F.copy_paste_scene(image, (4, 4), (4 + disp[0], 4 + disp[1]), size // 3, hole=size // 8)
fig, cp = F.copy_paste_figure(scene, scene_valid, disp)
plt.show()
for k, v in cp.items():
    record(f"ctxattn_copy_paste_{k.replace('+', '_')}", v, 6)
display(Markdown(
    f"Displacement {disp}: {cp['hard_offset_share']:.0%} of the hole's positions point back by exactly that offset with "
    f"hard attention, and the hard paste differs from the hidden pixels by at most {cp['hard_max_error']:.1e}. With the "
    f"soft, fused attention {cp['soft+fuse_offset_share']:.0%} point back and the largest error is "
    f"{cp['soft+fuse_max_error']:.3f}: the softmax spreads weight over similar patches, and the "
    "soft paste blurs them."))
