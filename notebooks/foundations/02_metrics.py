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
# # Metrics, and the protocol choices that make published numbers disagree
#
# The five papers report PSNR, SSIM {cite}`wang2004ssim`, an L1 error, LPIPS {cite}`zhang2018lpips` and FID
# {cite}`heusel2017fid`. A number is only comparable with another when both were computed the same way: over the whole
# image or over the hole only, on the composite or on the raw output, with Wang et al.'s 11x11 Gaussian SSIM window or
# scikit-image's 7x7 default, in colour or in grey. This notebook computes every metric of `inpaintlib.metrics` on the
# same completions under each of these choices, so the size of the disagreement is visible.

# %% tags=["parameters"]
scale = "ci"
seed = 0
device = "auto"
data_root = None  # unused here: the test photographs are the sample scenes at every scale
smoke = False

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display

from inpaintlib import foundations as F
from inpaintlib import masks as M
from inpaintlib import metrics as Q
from inpaintlib.classical import biharmonic, mean_fill
from inpaintlib.data import SampleScenes
from inpaintlib.record import record
from inpaintlib.viz import compact_table, inpaint_grid

size, bucket = F.settings("metrics", scale, smoke).size, 2  # holes in the bucket (0.2, 0.3]
test = SampleScenes("test", size=size)
images = test.images()[: len(test.photo_names)]  # one central crop per test photograph
rng = np.random.default_rng(seed)
valid = M.to_tensor([M.sample_in_bucket("irregular", bucket, size, size, rng) for _ in range(len(images))])
hole_label = M.bucket_label(bucket)
print(f"test photographs {test.photo_names} at {size} px, hole ratios {np.round(1 - valid.mean((1, 2, 3)).numpy(), 3)}")

# %% [markdown]
# Three completions of the same holes: the mean colour of the known pixels, biharmonic inpainting, and a
# deliberately poor "network" whose raw output is the ground truth plus strong noise everywhere, so that scoring its
# raw output and scoring its composite give different numbers.

# %%
outputs = {
    "mean fill": mean_fill(images * valid, valid),
    "biharmonic": biharmonic(images * valid, valid),
    "noisy output": (images + 0.2 * torch.randn(images.shape, generator=torch.Generator().manual_seed(seed))).clamp(0, 1),
}
inpaint_grid({"image": images, "valid": valid, **outputs}, n=3, show_raw=False, size=1.45)
plt.show()

# %% [markdown]
# ## One completion, many numbers
# For each method: PSNR over the whole composite (this book's default protocol), over the hole only, and on the raw
# output; SSIM with Wang et al.'s window in colour and in grey, and with scikit-image's default window; L1 (%) as mean
# absolute error over the image, over the hole, and relative to the sum of the ground truth.
#
# One difference can be predicted without looking at any output: in a composite the known pixels are exact, so the
# whole-image MSE is the hole MSE times the hole ratio, and whole-image PSNR exceeds hole-only PSNR by
# -10 log10(hole ratio) for every method. The text under the table checks this against the measured gap, and gives
# the change from scikit-image's 7x7 uniform SSIM window to Wang et al.'s 11x11 Gaussian one. Differences of this
# kind are why every table in this book states its protocol.

# %%
table = F.protocol_table(images, valid, outputs)
compact_table(table, f"The same completions under different protocols ({scale} scale, {len(images)} images, "
                     f"holes in bucket {hole_label})", digits=3)

# %% tags=["hide-input"]
gap_psnr = table.loc["PSNR whole (composite)", "biharmonic"] - table.loc["PSNR hole only", "biharmonic"]
gap_ssim = table.loc["SSIM skimage default 7x7", "biharmonic"] - table.loc["SSIM Wang 11x11 Gaussian", "biharmonic"]
predicted = F.dilution_gap_db(valid).mean().item()  # mean over images of -10 log10(hole ratio)
record("biharmonic_psnr_whole_minus_hole_db", gap_psnr, digits=2)
record("biharmonic_ssim_skimage_minus_wang", gap_ssim, digits=4)
display(Markdown(
    f"For biharmonic inpainting with holes in {hole_label}, scoring the whole composite instead of the hole only "
    f"raises PSNR by **{gap_psnr:.2f} dB**; the masks alone predict {predicted:.2f} dB, and measured and predicted "
    f"{'agree to within' if abs(gap_psnr - predicted) < 0.01 else 'differ by more than'} 0.01 dB. Changing only the "
    f"SSIM window moves SSIM by **{gap_ssim:+.4f}**. The noisy output scores {table.loc['PSNR raw output', 'noisy output']:.1f}"
    f" dB on its raw output but {table.loc['PSNR whole (composite)', 'noisy output']:.1f} dB as a composite."))

# %% [markdown]
# ## The protocol object
# `inpaintlib.metrics.Protocol` holds these choices and `evaluate` writes it under every table it produces. Its
# defaults score the composite over the whole image, with Wang et al.'s SSIM window:

# %%
res = Q.evaluate(biharmonic, images, valid,
                 Q.Protocol(metrics=("psnr", "ssim", "l1", "lpips"), buckets=[M.BUCKETS[bucket]]))
display(Markdown(res.to_markdown(label=f"Biharmonic on {len(images)} test photographs ({scale} scale)")))

# %% [markdown]
# ## What cannot be computed offline
# LPIPS needs AlexNet weights and the `lpips` package; FID needs InceptionV3 weights. The library reports why a
# metric is unavailable instead of falling back silently:

# %%
(ok_lpips, why_lpips), (ok_fid, why_fid) = Q.lpips_available(), Q.fid_available()
display(Markdown("\n".join(
    f"- **{name}**: " + (("available" + (f" ({why})" if why else "")) if ok else f"not available here: {why}.")
    for name, ok, why in (("LPIPS", ok_lpips, why_lpips), ("FID", ok_fid, why_fid)))))
record("lpips_available", "yes" if ok_lpips else "no")

# %% [markdown]
# The Fréchet distance itself needs no weights. Between two samples drawn from one Gaussian its true value is 0;
# below, the estimate from samples of growing size.

# %%
fd = F.frechet_bias((50, 200, 1000, 5000), dim=64, seed=seed)
display(compact_table(fd, "Fréchet distance between two samples of the same 64-d Gaussian (true value 0)", digits=2,
                      transpose=True))
record("frechet_same_gaussian_n50", fd.iloc[0], digits=2)
display(Markdown(
    f"With {fd.index[0]} samples per side the estimate is {fd.iloc[0]:.1f}; with {fd.index[-1]} it is "
    f"{fd.iloc[-1]:.2f}, {fd.iloc[0] / fd.iloc[-1]:.0f} times smaller for {fd.index[-1] // fd.index[0]} times the "
    f"samples, and it {'does not fall' if F.rises(fd) else 'falls'} at every step. This run scores {len(images)} "
    "test images, fewer than the smallest sample above: no FID is computed on them."))
