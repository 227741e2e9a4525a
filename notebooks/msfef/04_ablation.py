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
# # MSFEF 4: the ablation (Paper Table 1)
#
# Table 1 of {cite}`sarkar2023msfef` trains six variants on Helen and scores them by hole ratio: all losses with
# MSFEF; without the squared-error terms ($w_1 = w_2 = 0$); without the perceptual term; without the style term;
# without both; and all losses with every MSFEF module replaced by one partial convolution of the same width (the
# paper gives no kernel size for it: 3x3, the size of the encoder's other partial convolutions, is our choice).
# Each variant here is a switch: a loss weight set to 0 (`loss_weights_for`) or `MSFEFConfig(use_msfef=False)`
# (`ablation_variants` builds them all).
# At `ci` scale every variant is trained with several seeds and the spread is shown; the paper reports one run.

# %% tags=["parameters"]
scale = "ci"
seed = 0
device = "auto"
data_root = None  # paper scale: the folder holding the paper's datasets, each prepared by data_prep
smoke = False  # a dry run: every cell once, a few steps, one test photograph and one mask per bucket
knobs = {}  # overrides: max_steps, batch_size, masks_per_bucket, test_images, n_seeds, variants, vgg_backbone

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from inpaintlib.chapter import (beside_paper, compare_to_paper, counted, delta_bars, run_context, run_variants,
                                show)
from inpaintlib.metrics import lpips_available
from inpaintlib.papers.msfef import (PAPER_TABLE1, PAPER_TABLE1_ROWS, ablation_recipe, ablation_variants, build_vgg,
                                     checks, describe, table1_protocol)
from inpaintlib.papers.msfef.tables import PAPER_TABLE1_METRICS
from inpaintlib.record import record

run = run_context("msfef", scale, seed=seed, device=device, data_root=data_root, smoke=smoke, **knobs)
cfg, n_seeds, full = run.config, run.n_seeds, run.recipe.train
names_run = run.variants(keep=("All loss + MSFEF", "All loss + No MSFEF"))
base = run.cap(ablation_recipe(scale, device=device))
steps = base.train.steps
print(run.describe())
print(f"{scale} scale: {len(names_run)} variants x {counted(n_seeds, 'seed')}, {steps} steps of batch {base.train.batch_size} "
      f"each (changed for the ablation; 02_training uses {full.steps} steps of batch {full.batch_size})")
print(describe(cfg, base))
lpips_ok, lpips_reason = lpips_available()
print("LPIPS:", "available" if lpips_ok else f"n/a (weights unavailable offline): {lpips_reason}")

# %% [markdown]
# ## Data and protocol
#
# Table 1 is on Helen (Sect. 4.4); at `paper` scale with `data_root` set we use Helen, otherwise the sample
# scenes. Test masks: the fixed irregular-mask set in Table 1's buckets. The paper does not state its protocol;
# ours: composite, whole image; "L2" is the mean squared error; SSIM per RGB channel (Wang et al.).

# %%
metrics = ("mse", "ssim", "psnr") + (("lpips",) if lpips_ok else ())
d = run.split(protocol=table1_protocol(metrics))
buckets = d.protocol.bucket_labels
print(d.protocol.describe())

# %% [markdown]
# ## Training the variants

# %%
variants = ablation_variants(cfg, base, d.train, run.out("ablation"), vgg=build_vgg(base, seed=seed),
                             resume=run.resume, variants=names_run)
runs = run_variants(variants, range(seed, seed + n_seeds), d.test_images, d.masks, d.protocol)
runs.to_csv(run.out("ablation_runs.csv"), index=False)

# %% [markdown]
# ## Table 1: ours beside the paper's
#
# One table per metric. Ours: mean over seeds ± the standard deviation over seeds; the paper's ("paper T1"): one
# run on Helen at 256 px. LPIPS needs pretrained AlexNet weights: "n/a" offline.

# %% tags=["full-width"]
names = {p: ours for p, (ours, _) in PAPER_TABLE1_METRICS.items()}
for pname, table in beside_paper(runs, PAPER_TABLE1, names, buckets, scale, "paper T1").items():
    show(table, f"{pname} ({'higher' if PAPER_TABLE1_METRICS[pname][1] else 'lower'} is better): ours at {scale} "
         f"scale ({n_seeds} seeds x {steps} steps) beside paper Table 1 (Helen, 256 px)")

# %% [markdown]
# ## Does our ordering agree with the paper's?
#
# For every metric we computed, each pair of the six variants is compared (`inpaintlib.chapter.verdict`): ours rank
# one variant above the other only when the difference of their means (over the five buckets, then over seeds)
# exceeds two combined standard errors over seeds; otherwise "cannot tell at this scale".

# %%
verdicts = {m: compare_to_paper(runs, PAPER_TABLE1[p], m, buckets) for p, m in names.items() if m in metrics}
display(Markdown("\n\n".join(verdicts[m].text(scale, p) for p, m in names.items() if m in verdicts)))
for m, v in verdicts.items():
    v.record(f"msfef_ablation_{m}")
central = {p: verdicts[m].pair("All loss + MSFEF", "All loss + No MSFEF") for p, m in names.items() if m in verdicts}
show(pd.DataFrame(central).T[["ours_diff", "ours_se", "paper_diff", "verdict"]],
     "The central claim, All loss + MSFEF against All loss + No MSFEF (difference > 0: MSFEF better)", digits=4)
record("msfef_ablation_msfef_minus_nomsfef_db", round(float(central["PSNR"]["ours_diff"]), 2))
record("msfef_ablation_msfef_vs_nomsfef_psnr", central["PSNR"]["verdict"])

# %% [markdown]
# ## What Table 1 itself shows
#
# The paper's text says every loss term helps and that MSFEF beats a single partial convolution on every metric.
# Read from the cells: where is "All loss + MSFEF" the best row, and in how many buckets does it beat "All loss +
# No MSFEF"? And do the cells add up? Each PSNR is checked against its own L2 on both sides (`checks.psnr_vs_l2`):
# below $10\log_{10}(1/(L2 + 0.00005))$ it cannot come from that L2 under either averaging; above
# $10\log_{10}(1/(L2 - 0.00005))$ it can only by the *Jensen gap* (a mean of per-image PSNRs exceeds the PSNR of
# the mean error, by more the more the per-image errors vary), so we allow at most a gap measured on the table
# itself, and compare it with the gaps per-image averaging gives for our own networks.

# %%
print(checks.jensen_allowance(buckets=buckets)["text"])
gaps = checks.measured_jensen_gaps(per_bucket=run.knob("masks_per_bucket"))
show(gaps, "Jensen gap (dB: mean per-image PSNR minus 10 log10(1 / mean per-image MSE)) of the shipped MSFEF "
     "networks on the sample scenes, Table 1 buckets at 64 px; 'all' pools the buckets", digits=2)

# %%
t1 = checks.table1_findings(buckets, measured=gaps)
for name, value in t1["key_numbers"].items():
    record(name, value)
show(t1["best"], "Best row of paper Table 1 per metric and bucket")
show(checks.l2_display(t1["l2"]), f"Paper Table 1, each PSNR against its own L2 (L2 as printed; Jensen allowance "
     f"{checks.JENSEN_ALLOWANCE_DB} dB)")
show(t1["beaten"], "Cells where All loss + No MSFEF prints a better value than All loss + MSFEF", digits=4)
show(t1["repeated"], "Paper Table 1 values repeated across rows of one bucket")
display(Markdown(t1["text"]))

# %% [markdown]
# ## PSNR of each variant relative to "All loss + MSFEF"
#
# The variants differ by tenths of a dB, which a bar chart starting at 0 hides. Per bucket: each variant's PSNR
# minus that of "All loss + MSFEF" trained with the same seed (same data and masks), mean over seeds; error bars:
# the standard deviation of these per-seed differences. Below 0: worse than the full model.

# %%
delta_bars(runs, "All loss + MSFEF", "psnr", buckets, [r for r in PAPER_TABLE1_ROWS if r in names_run],
           f"PSNR minus All loss + MSFEF, mean ± std over {counted(n_seeds, 'seed')}, {scale} scale ({steps} steps)",
           "PSNR difference (dB)")
plt.show()
