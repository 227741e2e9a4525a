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
# # DeepGIN 5: the ablation (Paper Table 1, Fig. 4)
#
# Sect. 6.1 of {cite}`li2020deepgin` ablates on CelebA-HQ (3K test images, the three mask types): G1 alone
# ("StdResBlk (Coarse only)"), G1 + G2 with standard blocks and no attention ("StdResBlk"), one self-attention block
# ("-SA"), the multi-scale self-attention ("-MSSA"), dilated and SPD blocks, and Back Projection ("-BP"). Every row is
# a switch of `DeepGINConfig` (`DeepGINConfig.variant(name)`; `01_architecture` shows each one's parameter count
# equals Table 1's). Here each of the seven variants is trained with several seeds at the chosen scale and scored on
# the same test pairs; FID and LPIPS are "n/a": their Inception and AlexNet weights cannot be fetched offline. At `ci`
# scale every variant gets only the warm-up stage (L1 loss, no discriminator) for 15 updates of batch 8 at 64 px, two
# seeds each (`inpaintlib.papers.deepgin.ablation`). At this length it measures how fast each variant learns from the
# same start, not how fully trained variants rank.

# %% tags=["parameters"]
scale = "ci"
seed = 0
device = "auto"
data_root = None  # paper scale: the folder holding the paper's datasets, each prepared by data_prep
smoke = False  # a dry run: every cell once, a few steps, one test photograph and one mask per bucket
knobs = {}  # overrides: max_steps, warmup_steps, batch_size, masks_per_bucket, test_images, n_seeds, variants,
#             vgg_backbone

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from inpaintlib.chapter import (beside_paper, compare_to_paper, counted, delta_bars, run_context, run_variants,
                                show)
from inpaintlib.papers.deepgin import checks, describe
from inpaintlib.papers.deepgin.ablation import METRIC_NAMES, ablation_recipe, ablation_variants, paper_table1
from inpaintlib.record import record

run = run_context("deepgin", scale, seed=seed, device=device, data_root=data_root, smoke=smoke, **knobs)
cfg, n_seeds = run.config, run.n_seeds
variants = run.variants(keep=("SPDResBlk-MSSA-BP",))
recipe, adversarial = ablation_recipe(scale, device)
recipe = run.cap(recipe)
print(run.describe())
print(f"{scale} scale: {len(variants)} of the 7 variants x {counted(n_seeds, 'seed')}; "
      + (f"warm-up stage only (L1), {recipe.warmup_steps} steps of batch {recipe.train.batch_size} each (changed for "
         "the ablation)" if not adversarial else "both stages"))
print(describe(cfg, recipe))

# %% [markdown]
# ## What Table 1 itself says
#
# Sect. 6.1's claims, checked against Table 1's rows, and the first step of the table: adding G2 (32.7M parameters)
# to G1.

# %%
claims, step = checks.table1_claims(), checks.coarse_to_stdresblk()
show(claims, "Sect. 6.1's claims against Table 1")
show(step, "Table 1: from 'StdResBlk (Coarse only)' to 'StdResBlk'")
record("deepgin_t1_claims_holding", int(claims["holds"].sum()))
display(Markdown(
    f"{int(claims['holds'].sum())} of the {len(claims)} checks hold. The '+0.22 dB' of SPD is measured against "
    "StdResBlk-MSSA; against DilatedResBlk-MSSA it is "
    f"{claims.loc['SPD: +0.22 dB (over DilatedResBlk-MSSA)', 'from Table 1']:.2f} dB. Adding the refinement stage to "
    f"G1 improves {', '.join(step.index[step.improved]) or 'no metric'} and worsens "
    f"{', '.join(step.index[~step.improved])}: the second generator alone, without SA, MSSA or BP, costs "
    f"{-step.loc['PSNR', 'change']:.2f} dB of PSNR, and the text's 'Without the second refinement stage, the "
    "completed images lack for facial details' rests on the visual comparison and FID only."))

# %% [markdown]
# ## Training every variant

# %%
d = run.split()
fits = ablation_variants(cfg, recipe, adversarial, d.train, run.out("ablation"), variants, resume=run.resume)
runs = run_variants(fits, range(seed, seed + n_seeds), d.test_images, d.masks, d.protocol)

# %% [markdown]
# ## Table 1: ours beside the paper's
#
# Each cell: our mean over seeds ± the standard deviation (all test pairs, composite, whole image; L1 err. = mean
# absolute error x 100), then the paper's (CelebA-HQ, 256 px, fully trained). FID, LPIPS: n/a (weights unavailable
# offline).

# %%
for pname, frame in beside_paper(runs, paper_table1(variants), METRIC_NAMES, ["all"], scale, "paper T1").items():
    show(frame.unstack("source"), f"Table 1, {pname} ({scale} scale)")
verdict = compare_to_paper(runs, paper_table1(variants)["PSNR"], "psnr", ["all"])
show(verdict.pairs[["a", "b", "ours_diff", "ours_se", "paper_diff", "verdict"]], "Pairs of variants (PSNR)", digits=3)
record("deepgin_ablation_pairs", len(verdict.pairs))
record("deepgin_ablation_pairs_told", verdict.counts["agrees"] + verdict.counts["disagrees"])
record("deepgin_ablation_pairs_agree", verdict.counts["agrees"])
display(Markdown(verdict.text(scale, "Table 1 (PSNR)")))

# %% [markdown]
# ## Each variant against the full model
#
# Paper Fig. 4 compares the variants' completions by eye; here in numbers: each variant's PSNR minus that of the
# full model trained with the same seed (mean over seeds, error bars the standard deviation of the per-seed
# differences). Below 0: worse than the full model.

# %%
ref = "SPDResBlk-MSSA-BP" if "SPDResBlk-MSSA-BP" in variants else variants[-1]
delta_bars(runs, ref, "psnr", ["all"], variants, f"PSNR minus {ref}, {counted(n_seeds, 'seed')}, {scale} scale",
           "PSNR difference (dB)")
plt.show()
