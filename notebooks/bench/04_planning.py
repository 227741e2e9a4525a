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
# # Bench 4: planning the paper-scale runs
#
# This page is for the researcher about to spend GPU-days on the papers' own schedules (`make book SCALE=paper`):
# before renting the cards, how much arithmetic is one training step of each chapter, does the paper's batch fit
# in the card's memory, and how many GPU-hours will the training runs and the ablations take? Every chapter's
# answer is **counted** from the chapter's own spec and recipe, not looked up: the paper's recipe
# (`SPEC.recipe("paper")`), its network at the paper's configuration, and the stages its `train_<paper>` would run
# (DeepGIN's warm-up and adversarial stage, MSA-Net's two learning-rate stages), each with its loss function and,
# where the recipe trains one, its discriminator.
#
# Nothing is trained or even computed here: the networks are built on **meta tensors**, which carry shapes and no
# data, and `torch.utils.flop_counter.FlopCounterMode` counts the FLOPs of one training step at the paper's batch
# and image size while autograd's saved-tensor hooks count the memory kept for the backward pass. Tracing an
# operator on meta tensors costs a fraction of a millisecond of CPU whatever the batch, so the page runs in well
# under a minute on a laptop and gives the same numbers at every `scale`: it always plans the paper scale. The
# FLOP counts are exact for what they count (convolutions and matrix products); the memory and the hours are
# **estimates**, each with its formula below, and the last section says how a short run on your own device replaces
# them with measurements.

# %% tags=["parameters"]
scale = "ci"  # the page plans the paper scale whatever the scale: it counts, it never trains
seed = 0
data_root = None  # not read: the schedules come from the recipes, the dataset sizes from the dataset registry
smoke = False
gpu = "NVIDIA A100 40GB"  # a name in inpaintlib.bench.plan.GPUS
utilisation = 0.4  # the fraction of the GPU's peak FLOP/s a training run sustains (an assumption)

# %% tags=["hide-input"]
import time

import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from inpaintlib.bench import plan as P
from inpaintlib.chapter import show
from inpaintlib.record import record

card = P.gpu_spec(gpu)
t0 = time.perf_counter()
plans = P.plan(P.PAPERS, card, utilisation)
print(f"scale = {scale!r} (the plan is the paper scale's at every scale); {len(plans)} chapters counted on meta "
      f"tensors in {time.perf_counter() - t0:.1f} s; {card.name}, utilisation {utilisation:.0%}")

# %% [markdown]
# ## The paper's schedule
#
# What each chapter's paper recipe trains: the image size of its paper configuration (`image_size`), the batch,
# the steps of each stage (DeepGIN: 10 warm-up epochs without the discriminator, then 100 adversarial epochs;
# MSA-Net: the last fifth of the steps at the refinement rate), the discriminator updates per generator update,
# and one training run per dataset of the recipe's `datasets`. MSFEF counts 120 *epochs* of each dataset, so its
# steps follow the dataset's size (`recipe_for_dataset` with the registry's training count); the other recipes give
# steps. Where a paper states no step count the recipe's value is the chapter's choice, marked in its recipe.

# %% tags=["full-width"]
show(P.schedule_table(plans), "The paper-scale schedule of each chapter (from SPEC.recipe('paper'))")

# %% [markdown]
# ## FLOPs of one training step
#
# One training step as `inpaintlib.train.train` runs it: `d_steps` discriminator updates (the discriminator's loss,
# gradient penalty included, and its backward; each one runs the generator's forward pass again, without gradient),
# then the generator update (the chapter's loss function: the network's forward, the loss networks -- VGG16 for
# MSFEF, VGG19 for DeepGIN, MSA-Net's own feature passes -- and the adversarial term through the discriminator, and
# the backward of all of it). The columns split the total: the network's own `forward(image, valid)` and the
# backward of its outputs, the rest of the generator step, and the discriminator updates:
#
# $$\text{FLOPs per step} = \text{generator step} + d_\text{steps} \times \text{discriminator step}.$$
#
# `FlopCounterMode` counts 2 FLOPs per multiply-accumulate of every convolution and matrix product (partial
# convolutions' mask convolutions and attention's matrix products included); elementwise operations, pooling and
# normalisation are not counted, as in the usual FLOP counts.

# %% tags=["full-width"]
show(P.flops_table(plans), "GFLOPs of one training step at the paper's batch and image size (counted, meta tensors)",
     digits=1)

# %% [markdown]
# Two independent counts of the same networks agree: the forward FLOPs per image counted here, at the paper's
# batch, against twice the multiply-accumulates of one 256 px image that `inpaintlib.cost.count_macs` counted for
# the [cost page](02_cost) (its own hooks, on real tensors, measured once into `notebooks/bench/measured/`).

# %%
check = P.macs_check(plans)
show(check, "Forward FLOPs per image: FlopCounterMode here against 2 x count_macs (Bench 2)", digits=3)
ratios = check["ratio"].dropna()
display(Markdown(f"The two counts differ by at most {(ratios - 1).abs().max():.2%} over the {len(ratios)} networks "
                 "measured on the cost page." if len(ratios) else "The cost page has not measured the paper "
                 "configurations yet (`python -m inpaintlib.bench.cost paper`): nothing to compare."))

# %% [markdown]
# ## Peak training memory (an estimate)
#
# Derived, not measured. Training holds, for every trainable parameter of the generator and the discriminator,
# the weight, its gradient and Adam's two moments, in float32; the frozen loss networks hold their weights; and
# autograd keeps the activations the backward pass needs, counted here as the bytes of every tensor the forward
# pass saves for backward (`torch.autograd.graph.saved_tensors_hooks` during a meta forward, each storage counted
# once, the parameters left out):
#
# $$\text{peak} \approx 4 \times 4\,\text{B} \times (P_G + P_D) + \text{frozen weights}
#   + \max(\text{activations}_{G\,\text{step}}, \text{activations}_{D\,\text{step}}).$$
#
# It leaves out what depends on the device and the library: the gradients of the activations while the backward
# pass runs, cuDNN's workspaces, the allocator's fragmentation and the CUDA context (several hundred MB). It counts
# float32 throughout, where an AMP run keeps many activations in float16.

# %% tags=["full-width"]
show(P.memory_table(plans, card), f"Estimated peak training memory (GiB) at the paper's batch; {card.name}", digits=2)

# %% [markdown]
# ## GPU-hours
#
# A run's hours follow from its steps, its FLOPs per step and an assumed sustained rate:
#
# $$\text{hours} = \frac{\text{steps} \times \text{FLOPs per step}}{\text{peak} \times \text{utilisation}} \Big/ 3600,$$
#
# summed over a chapter's stages. The peak is the GPU's for the recipe's precision: the float16 tensor-core peak
# where the recipe trains with mixed precision (`amp`), the TF32 tensor-core peak where it turns AMP off (PyTorch runs
# cuDNN convolutions in TF32 by default); the last column, at the plain float32 peak, is the bound without tensor
# cores. The utilisation (a parameter of this page) is an assumption, the same for every chapter: how much of the
# peak a run sustains depends on its kernels, its batch and its input pipeline, and only a measurement tells. Each
# chapter has
# one training run per dataset of its recipe and an ablation of every variant x seed of
# `SPEC.ablation_variants["paper"]` x `SPEC.ablation_seeds["paper"]`, each at the schedule of the chapter's
# `ablation_recipe("paper")` (the paper's, for every chapter), on the first dataset. Every ablation variant is
# costed at the full network's step: variants that remove a part (a stage, an attention, a loss term) cost less,
# so the ablation rows are an upper bound on this count.

# %% tags=["full-width"]
peaks = ", ".join(f"{name} {card.peak_flops(name) / 1e12:g} TFLOP/s" for name in ("fp16", "tf32", "fp32"))
display(Markdown(f"**{card.name}**: {peaks} (dense, vendor peaks); utilisation {utilisation:.0%}."))
show(P.hours_table(plans), f"Projected GPU-hours per run on one {card.name} at {utilisation:.0%} of peak (estimate)",
     digits=1)

# %% tags=["full-width"]
summary = P.totals_table(plans)
show(summary, f"Per chapter: the cost of a step and the projected GPU-hours ({card.name}, {utilisation:.0%})", digits=2)
P.hours_figure(plans, card, utilisation)
plt.show()
display(Markdown(P.findings(plans, card, utilisation)))

# %%
for paper, v in P.totals(plans).items():
    record(f"plan_{paper}_params_m", v["params_m"], 2)
    record(f"plan_{paper}_gflops_per_step", v["gflops_per_step"], 1)
    record(f"plan_{paper}_peak_memory_gib", v["peak_gib"], 2)
    record(f"plan_{paper}_s_per_step", v["s_per_step"], 4)
    record(f"plan_{paper}_train_gpu_hours", v["train_hours"], 1)
    record(f"plan_{paper}_ablation_gpu_hours", v["ablation_hours"], 1)
    record(f"plan_{paper}_gpu_hours", v["hours"], 1)
record("plan_total_gpu_hours", float(summary.loc["all chapters", "GPU-hours"]), 0)
record("plan_gpu", card.name)
record("plan_utilisation", utilisation)

# %% [markdown]
# ## What the counts cannot see
#
# Meta tensors have shapes but no values, so the few places where a network reads a value are answered rather than
# computed (`inpaintlib.bench.plan.MetaReads`): the input checks are skipped, a test for "is there a hole" finds
# one, a test for negative or non-finite values finds none, and a partial convolution takes its general path (a
# mask with holes). These answers decide which branch runs, never how large a tensor is, so they change no count
# beyond choosing the path of a batch with holes. Upsampling on meta tensors makes only its output's shape (no FLOPs
# are counted for it either way), and each discriminator update's generator pass is the network forward already
# counted, added rather than traced again. Mixed precision does not change the FLOP count; autocast is off on meta.
# The table below lists any chapter whose step could not be counted this way, with the error, instead of a guess.

# %%
failed = {P.LABELS[p["paper"]]: p["error"] for p in plans if p["error"]}
if failed:
    display(Markdown("\n".join(f"* **{k}** not counted: `{v}`" for k, v in failed.items())))
else:
    display(Markdown(f"All {len(plans)} chapters were counted on meta tensors: every generator step, every "
                     "discriminator step and every loss network, nothing scaled from a smaller run."))

# %% [markdown]
# ## From the estimate to the bill
#
# The hours above assume a utilisation; the memory leaves out what the device adds. Both are replaced by
# measurements on your own device with a **smoke run** of the paper scale, which runs every notebook once, trains
# every run of every chapter for a few steps at the paper's batch, and writes the bill:
#
# ```bash
# make book SCALE=paper SMOKE=1 DATA_ROOT=/path/to/datasets
# ```
#
# Its `_build/smoke/bill.md` gives, per training run, the measured seconds per step (the median of the steps after
# the first) and the peak memory (`peak_cuda_mb` on a GPU), and the projected wall time of the full schedule; its
# ablation rows are scaled up to every variant and seed, as here. Those measured numbers replace these estimates:
# the utilisation your device actually sustains is the `ms per step (projected)` column above (the main stage's
# step at the assumed utilisation) times the assumed utilisation, divided by the bill's measured time per step;
# its peak memory against the estimate shows what the device adds.
