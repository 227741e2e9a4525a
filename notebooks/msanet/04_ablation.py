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
# # MSA-Net 4: the ablations (Paper Tables 2-5, Figs. 10-13)
#
# {cite}`qin2021msanet` ablates in four tables on Places2: the multi-scale structure (Table 2: single scale, Inception
# V1, Inception V3, MSAG), the mask update (Table 3), the three attentions (Table 4: channel attention in MSAG "C-A",
# spatial attention in MSAG "S-A", channel-spatial attention in restoration "CS-A"), and the attentions replaced by
# CBAM, SCA-CNN and SE-Net (Table 5). Every row here is a switch of `MSANetConfig`; `VARIANTS` lists the 13 distinct
# configurations. Figs. 10-13 show completions of these variants; we show the numbers instead, and at small scales
# several seeds and their spread.

# %% tags=["parameters"]
scale = "ci"
seed = 0
device = "auto"
data_root = None  # paper scale: the folder holding the paper's datasets, each prepared by data_prep
smoke = False  # a dry run: every cell once, a few steps, one test photograph and one mask per bucket
knobs = {}  # overrides: max_steps, batch_size, masks_per_bucket, test_images, n_seeds, variants

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from inpaintlib.chapter import (beside_paper, compare_to_paper, counted, delta_bars, run_context, run_variants,
                                show)
from inpaintlib.papers.msanet import ABLATION_TABLES, VARIANTS, ablation_recipe, ablation_variants, checks, describe
from inpaintlib.papers.msanet.ablation import ALL, paper_rows, resolution, table_runs
from inpaintlib.record import record

run = run_context("msanet", scale, seed=seed, device=device, data_root=data_root, smoke=smoke, **knobs)
cfg, n_seeds, full = run.config, run.n_seeds, run.recipe.train
base = run.cap(ablation_recipe(scale, device))
names_run = run.variants(keep=("MUM, no attention", "MSA-Net"))  # Table 4 compares them
print(run.describe())
print(f"{scale} scale: {len(names_run)} of {len(VARIANTS)} variants x {counted(n_seeds, 'seed')}, {base.train.steps} steps of batch "
      f"{base.train.batch_size} each (changed for the ablation; 02_training uses {full.steps} of batch {full.batch_size})")
print(describe(cfg, base))

# %% [markdown]
# ## What the repeated rows say about the paper's configurations
#
# Three (PSNR, SSIM) pairs are printed twice across Tables 2-5. A pair printed to three and four decimals is the same
# model, so the tables are one progression, and each table's rows share the configuration of the row they repeat:

# %%
rep = checks.repeated_rows()
show(rep, "Rows printed identically in two tables")
display(Markdown(f"{len(rep)} pairs repeat, so: Table 2's rows have neither the mask update nor any attention "
                 "(its 'MSAG' is Table 3's 'No-MUM'); Table 3's rows have no attention ('MUM' is Table 4's first row); "
                 "Table 5's 'MSA-Net' is Table 4's full model. Our variants follow this (`VARIANTS`)."))

# %% [markdown]
# ## Training every variant
#
# Data: the sample scenes at `ci`/`demo` (Places2 at `paper` scale with `data_root`); the fixed test masks of
# Table 6's buckets; the paper's tables are over the whole test set, so we compare with our mean over every test pair.

# %%
d = run.split()
fits = ablation_variants(cfg, base, d.train, run.out("ablation"), variants=names_run, resume=run.resume)
runs = run_variants(fits, range(seed, seed + n_seeds), d.test_images, d.masks, d.protocol)

# %% [markdown]
# ## Tables 2-5: ours beside the paper's
#
# Each cell: our mean over seeds ± the standard deviation (all test pairs, composite, whole image), then the paper's.

# %%
verdicts = {}
for name in ABLATION_TABLES:
    tr, pt = table_runs(runs, name), paper_rows(name)
    if tr.variant.nunique() < 2:  # a run with fewer variants (the variants knob, a smoke run)
        display(Markdown(f"{name}: fewer than two of its rows were trained in this run."))
        continue
    for pname, frame in beside_paper(tr, pt, {"PSNR": "psnr", "SSIM": "ssim"}, [ALL], scale, f"paper {name[6:]}").items():
        show(frame.unstack("source"), f"{name}, {pname} ({scale} scale)")
    verdicts[name] = compare_to_paper(tr, {r: v for r, v in pt["PSNR"].items()}, "psnr", [ALL])
    display(Markdown(verdicts[name].text(scale, f"{name} (PSNR)")))

# %% [markdown]
# ## Can this scale resolve the paper's gaps?
#
# The rows of Tables 2-5 differ by 0.002 to 0.19 dB. Two of our variants can be told apart only when their means
# differ by more than two combined standard errors of the seed spread.

# %%
res = resolution(runs)
counts = pd.DataFrame({k: v.counts for k, v in verdicts.items()}).T
show(counts, f"Pairs of rows per table, {scale} scale")
record("msanet_ablation_resolvable_db", round(res["resolvable"], 3)), record("msanet_ablation_seed_std_db", round(res["seed_std"], 3))
record("msanet_ablation_pairs_told", int(counts[["agrees", "disagrees"]].values.sum()))
display(Markdown(
    f"At {scale} scale the seed spread of a variant's PSNR is {res['seed_std']:.3f} dB (median over variants, "
    f"{res['seeds']} seeds), so only differences above about {res['resolvable']:.2f} dB can be told apart; the paper's "
    f"gaps are {res['paper_gap_min']:.3f} to {res['paper_gap_max']:.3f} dB. "
    + ("This scale cannot resolve them" if res["resolvable"] > res["paper_gap_max"] else
       "Some of the paper's larger gaps are within reach") + f": {int(counts[['agrees', 'disagrees']].values.sum())} "
    f"of {int(counts.values.sum())} pairs of rows were told apart."))

# %% [markdown]
# ## Each variant against the full model
#
# Paper Figs. 10-13 compare the variants' completions by eye; here the same comparison in numbers: each variant's
# PSNR (all test pairs) minus that of the full MSA-Net trained with the same seed, mean over seeds, error bars the
# standard deviation of these per-seed differences. Below 0: worse than the full model.

# %%
delta_bars(runs, "MSA-Net", "psnr", [ALL], names_run,
           f"PSNR minus MSA-Net, mean ± std over {counted(n_seeds, 'seed')}, {scale} scale", "PSNR difference (dB)")
plt.show()
