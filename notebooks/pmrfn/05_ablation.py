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
# # PMRFN 5: the ablation (Table 2)
#
# Table 2 of {cite}`wang2021pmrfn` removes one part at a time (Sect. 5.4): "HRNet" (no partial convolution, no
# priorities, no ARF: plain convolutions with the mask as an input channel and HRNet's summing exchange), "w/o PConv"
# (plain convolutions, no priorities; MRF and ARF kept), "w/o ARF", and "w/o MRF 1/3/5" (the first 1, 3 or 5 of the
# five fusion modules removed). Every row is a flag of `PMRFNConfig` (`inpaintlib.papers.pmrfn.TABLE2_FLAGS`). The
# paper reports each row averaged over its six mask groups on Places2, so we compare with our bucket "all".
#
# At `ci` scale every row trains with two seeds for 30 steps of batch 4 on **32 px** crops (half the chapter's 64 px:
# seven rows x two seeds then cost about what three rows cost at 64 px; the lowest branch is 4 x 4), scored on 32 px
# test pairs. At this length it measures how fast each variant learns from the same start, not how fully trained
# variants rank.
# `rows` below selects any subset. A verdict is "agrees", "disagrees" or "cannot tell" against the seed spread
# (`inpaintlib.chapter.compare_to_paper`).

# %% tags=["parameters"]
scale = "ci"
seed = 0
device = "auto"
data_root = None  # paper scale: the folder holding the paper's datasets, each prepared by data_prep
smoke = False  # a dry run: every cell once, a few steps, one test photograph and one mask per bucket
knobs = {}  # overrides: max_steps, batch_size, masks_per_bucket, test_images, n_seeds, variants (Table 2 rows)

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display

from inpaintlib.chapter import (beside_paper, compare_to_paper, counted, delta_bars, run_context, run_variants,
                                show)
from inpaintlib.papers.pmrfn import TABLE2_FLAGS, ablation_config, ablation_recipe, ablation_variants, describe
from inpaintlib.papers.pmrfn import tables as P
from inpaintlib.record import record

torch.set_num_threads(1)  # the many small mask convolutions run much slower on 2 threads than on 1
run = run_context("pmrfn", scale, seed=seed, device=device, data_root=data_root, smoke=smoke, **knobs)
n_seeds, rows, full = run.n_seeds, run.variants(keep=("Full-Fledged",)), run.recipe.train
cfg, base = ablation_config(scale), run.cap(ablation_recipe(scale, device))
print(run.describe())
print(f"{scale} scale: {len(rows)} of {len(TABLE2_FLAGS)} rows x {counted(n_seeds, 'seed')}, {base.train.steps} steps of batch "
      f"{base.train.batch_size} at {cfg.image_size} px each (changed for the ablation; 03_training uses {full.steps} "
      f"of batch {full.batch_size})")
print(describe(cfg, base))

# %% [markdown]
# ## What Table 2 itself says
#
# Sect. 5.4 claims that "the more fusion modules are removed, the poorer performance the network obtains". We check it
# on the printed rows, and compare the removal of every MRF with the HRNet row (which still fuses, by summing).

# %%
mono = P.mrf_monotone()
show(mono.set_index("metric"), "Table 2 as printed: Full-Fledged -> w/o MRF 1 -> 3 -> 5")
below = P.variant_below("w/o MRF 5", "HRNet")
record("pmrfn_t2_mrf_monotone_metrics", int(mono["worse at every step"].sum()))
record("pmrfn_t2_mrf5_below_hrnet_metrics", sum(below.values()))
display(Markdown(
    f"The printed rows get worse at every removal in {int(mono['worse at every step'].sum())} of {len(mono)} metrics. "
    f"'w/o MRF 5' (partial convolutions, priorities and ARF, but no fusion before stage 6) is below the 'HRNet' row "
    f"in {sum(below.values())} of {len(below)} metrics" + (
        ": by the paper's own numbers, removing the five fusion modules costs more than removing partial "
        "convolutions, priorities and ARF together (the 'HRNet' row keeps HRNet's summing exchange)." if all(below.values()) else ".")))
rep = P.table2_repeats()
record("pmrfn_t2_repeated_values", len(rep))
if len(rep):
    show(rep, "Table 2 values printed identically in two rows")
    display(Markdown(P.repeats_text(rep)))

# %% [markdown]
# ## Our runs beside the paper's

# %%
d = run.split(size=cfg.image_size)
fits = ablation_variants(cfg, base, d.train, run.out("ablation"), variants=rows, resume=run.resume)
runs = run_variants(fits, range(seed, seed + n_seeds), d.test_images, d.masks, d.protocol)

# %%
paper = {m: {r: (v[k],) for r, v in P.PAPER_TABLE2.items() if r in rows} for k, m in enumerate(P.TABLE2_METRICS)}
for pname, frame in beside_paper(runs, paper, {"psnr": "psnr", "ssim": "ssim", "l1": "l1"}, ["all"], scale,
                                 "paper T2").items():
    show(frame.unstack("source"), f"Table 2, {pname} at {scale} scale (l1: relative, %; FID not computed offline)")
verdict = compare_to_paper(runs, {r: v for r, v in paper["psnr"].items()}, "psnr", ["all"])
show(verdict.pairs[["a", "b", "ours_diff", "ours_se", "paper_diff", "verdict"]], "Pairs of rows (PSNR)", digits=3)
display(Markdown(verdict.text(scale, "Table 2 (PSNR)")))
scores = verdict.scores
record("pmrfn_ablation_pairs", len(verdict.pairs))
record("pmrfn_ablation_pairs_told", int(verdict.counts.get("agrees", 0) + verdict.counts.get("disagrees", 0)))
record("pmrfn_ablation_pairs_agree", int(verdict.counts.get("agrees", 0)))
record("pmrfn_ablation_seed_std_db", float(scores["ours std"].median()), 3)
display(Markdown(
    f"At {scale} scale the median seed spread of a row's PSNR is {scores['ours std'].median():.3f} dB; the paper's "
    f"rows span {max(v[2] for v in P.PAPER_TABLE2.values()) - min(v[2] for v in P.PAPER_TABLE2.values()):.2f} dB "
    f"on Places2 after full training."))

# %%
delta_bars(runs, "Full-Fledged", "psnr", ["all"], rows,
           f"PSNR minus Full-Fledged, mean ± std over {counted(n_seeds, 'seed')}, {scale} scale", "PSNR difference (dB)")
plt.show()
