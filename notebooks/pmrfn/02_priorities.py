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
# # PMRFN 2: inpainting priorities
#
# The heart of {cite}`wang2021pmrfn` is a change to the partial convolution's mask update (Sect. 4.2.1). A partial
# convolution (Eq. 1) turns every hole pixel that sees a known pixel into a known one. PMRFN, after exemplar-based
# inpainting {cite}`criminisi2004exemplar`, lets only the hole-border pixels whose **priority**
# $q = \mathrm{sum}(\mathbf M_p) \times \rho^l(\mathbf x)$ (Eq. 6) reaches $\delta\, q^{max}$ ($\delta = 0.5$) become
# known (Eq. 5). The first factor, the *common priority*, counts the known pixels in the window. The second depends
# on the resolution: at the lowest branch it is Criminisi's **contour striking** $|n_p \cdot \nabla \mathbf
# X_p^\perp|$ (Eq. 7), high where an edge runs into the hole; at the three higher branches it is the same on the
# **contextual residue** $\mathbf X - \mathbf X_{\downarrow\uparrow}$ (Eq. 8), the detail that a halving loses, so
# that those branches fill texture first.
#
# Two points the paper leaves open, decided in `inpaintlib.layers.priority` (and stated again on the landing page):
# **Eq. 5 has no case** for a border pixel below the threshold; we complete it as "stays a hole" (the only reading
# under which the threshold does anything). **How gradients are taken next to the hole** is not given; by default
# (`gradient="known"`) a window's gradient uses only pairs of known pixels, so the hole's zeros never fake an edge
# along the border; `gradient="zero_filled"` (Prewitt on the zero-filled map) is the alternative, behind the same flag.
#
# Everything in this notebook needs no training and is exact at every scale: the "feature map" the priorities see is
# the photograph itself (its channel mean, Eq. 7). Panels (e), (l), (m) need the trained network: notebook 4.

# %% tags=["parameters"]
scale = "ci"
seed = 0
photo = "china"  # a sample-scenes photograph (scikit-image / scikit-learn / matplotlib)

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import pandas as pd
import torch
from IPython.display import Markdown, display

from inpaintlib.chapter import show
from inpaintlib.papers.pmrfn import PMRFNConfig, PMRFNNet
from inpaintlib.papers.pmrfn import figures as F
from inpaintlib.papers.pmrfn import trained as T
from inpaintlib.record import record

torch.set_num_threads(1)  # the priority convolutions are tiny: on 2 threads they run many times slower
image, valid = F.fig2_inputs(photo, size=256, seed=seed)

# %% [markdown]
# ## Paper Fig. 2 (a-d, f-k) on a 256 px photograph
#
# Compare with the paper's Fig. 2: (a) border pixels with high common priority (green), high contour striking
# (yellow), both (red); (b) the image, (c) its contextual residue, (d) the masked image; (f, g) the low-resolution
# (32 px) priority and gradient norm; (h, i) the high-resolution priority and gradient norm on the image; (j, k) the
# same on the contextual residue. Priorities are drawn on the hole border only (where Eq. 6 is computed).

# %%
r = F.priority_panels(image, valid)
F.priority_figure(r, image, valid)
plt.show()
n = r["numbers"]
display(Markdown(
    f"Of the {n['border_pixels']:,} border pixels at 256 px, one update with δ = 0.5 fills "
    f"{n['selected_h']} with the plain-gradient priority (h) and {n['selected_j']} with the residue priority (j) "
    f"(overlap, Jaccard: {n['jaccard_h_j']:.2f}); at 32 px it fills {n['selected_f']} of {n['border_pixels_low']}. "
    f"The partial convolution would fill all of them: the priority update is a much slower, ordered dilation."))
record("pmrfn_fig2_selected_high", n["selected_h"])
record("pmrfn_fig2_border_pixels", n["border_pixels"])

# %% [markdown]
# ## Do the residue's gradients pick out texture?
#
# The paper's claim (Sect. 4.2.1, Fig. 2 i, k): $|\nabla \mathbf X|$ is high on structure *and* texture, while
# $|\nabla(\mathbf X - \mathbf X_{\downarrow\uparrow})|$ focuses on texture. We call *structure* the 10% of pixels
# with the largest gradient norm at 32 px (edges that survive an 8-fold reduction, panel g) and measure the share of
# each gradient map's energy that lies **off** the structure (its *texture share*; a map blind to structure would put
# about 90% there).

# %%
m = {k: n[k] for k in ("texture_share_plain", "texture_share_residue", "texture_share_gain", "corr_with_low_plain",
                       "corr_with_low_residue")}
show(pd.Series(m, name=photo).to_frame().T, "Texture share and correlation with panel (g)",
     digits=3)
record("pmrfn_texture_share_plain", m["texture_share_plain"], 3)
record("pmrfn_texture_share_residue", m["texture_share_residue"], 3)
verdict = "picks out texture more than" if m["texture_share_gain"] > 0 else "does not pick out texture more than"
display(Markdown(
    f"On this photograph {m['texture_share_plain']:.0%} of the plain gradient's energy lies off the structure and "
    f"{m['texture_share_residue']:.0%} of the residue gradient's: the residue {verdict} the plain gradient "
    f"({m['texture_share_gain']:+.0%}); its correlation with the low-resolution gradient norm is "
    f"{m['corr_with_low_residue']:.2f} against {m['corr_with_low_plain']:.2f}."))

# %% [markdown]
# ## How the hole shrinks, stage by stage, per resolution
#
# First the update rules alone, on the photograph downsampled to each branch's size (a coarse pixel is known only if
# every pixel it covers is known): 8 updates per stage (4 blocks of 2 convolutions, HRNet's count), priorities
# recomputed before every update, filled pixels given the mean of their known neighbours. No fusion between branches.

# %%
frame = F.mask_shrinkage(image, valid)
F.shrinkage_figure(frame)
plt.show()
last = frame[frame.stage == frame.stage.max()].pivot_table(index="level", columns="rule", values="hole_ratio")
record("pmrfn_rules_hole_left_l3", float(last.loc[3, "priority (Eq. 5)"]), 3)
display(Markdown(
    f"After six stages the plain partial-convolution update leaves at most "
    f"{last['partial conv (Eq. 1)'].max():.0%} of any resolution as hole; the priority update leaves " + ", ".join(f"{last.loc[l, 'priority (Eq. 5)']:.0%} at l={l}" for l in sorted(last.index))
    + f"; the least is left at l={int(last['priority (Eq. 5)'].idxmin())}."))

# %% [markdown]
# Then inside the network: the `ci` network, untrained, at 256 px, the same weights with the priority update and with
# the plain update (the masks depend on the weights only through the features the priorities see; notebook 4 repeats
# this with the trained weights).
# Here the branches exchange their masks at every MRF (Eq. 9: a pixel is known if any source is), so the fastest
# branch sets the pace of all.

# %%
torch.manual_seed(seed)
net = PMRFNNet(PMRFNConfig.for_scale(scale))
holes = T.network_holes(net, image, valid)
T.network_holes_figure(holes, f"inside PMRFNNet ({scale} widths) at 256 px: hole after each stage's fusion")
plt.show()
h = holes[holes.level == 3].pivot_table(index="stage", columns="rule", values="hole_ratio")
first_closed = h.index[h["priority (Eq. 5)"] == 0]
record("pmrfn_network_hole_after_stage1_priority", float(h.loc[1, "priority (Eq. 5)"]), 3)
display(Markdown(
    f"In the network the plain update leaves {h.loc[1, 'partial conv (Eq. 1)']:.1%} of the full-resolution branch "
    f"open after stage 1, the priority update {h.loc[1, 'priority (Eq. 5)']:.1%}; with priorities the hole "
    + (f"closes at stage {int(first_closed[0])}." if len(first_closed) else
       f"is still {h['priority (Eq. 5)'].iloc[-1]:.1%} after stage 6 (the output head fills the rest).")))
