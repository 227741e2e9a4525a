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
# # Bench 2: what each network costs
#
# Quality is half of a comparison; the other half is what a network costs to run and to train. This notebook puts
# the five networks of the book on one footing: **parameters**, **multiply-accumulates** (MACs) of one 256x256 image,
# **CPU inference time** per 256x256 image, **peak memory** of that inference and **training speed**, beside what
# the papers themselves say about their cost (on their GPUs), then quality against cost, what the distinctive layer
# of each chapter costs against a plain convolution, whether `torch.compile` or `channels_last` help on a CPU, and
# which image size and width learn the most in a fixed CPU budget.
#
# Counted and timed here, when this page was built: parameters and MACs of the `demo` and `ci` configurations, the
# latency and memory of the `demo` configurations. The `paper` configurations (PMRFN's alone is a 150-GMAC forward
# pass) and the benchmarks that need a quiet machine and minutes of repeats were measured once with the commands
# named beside them, into `notebooks/bench/measured/*.json`; each table says when, where and how. All networks have
# random weights here: cost does not depend on the weights. Inputs are one 256x256 image with the 25% centre box.

# %% tags=["parameters"]
scale = "ci"
seed = 0
repeats = 3  # timed forward passes per network (after one warm-up)
threads = 1  # torch threads for the timings: one, as the demo trainings and the measured files use

# %% tags=["hide-input"]
import torch
from IPython.display import Markdown, display

from inpaintlib.bench import cost as C
from inpaintlib.bench.budget import show_budget
from inpaintlib.bench.demo_choice import show_choice
from inpaintlib.bench.layers import layer_tables, layers_finding
from inpaintlib.bench.speedups import adoption_finding, speedup_table, speedups_finding
from inpaintlib.chapter import show
from inpaintlib.record import record

torch.manual_seed(seed)
torch.set_num_threads(threads)
print(f"scale = {scale!r}; {C.cpu_name()}, {threads} torch threads")

# %% [markdown]
# ## Size and arithmetic
#
# Parameters and GMACs (`inpaintlib.cost.count_macs`: every convolution and matrix product of one forward pass,
# a partial convolution's mask convolution included) of each network at its `paper`, `demo` and `ci`
# configuration. The `demo` and `ci` networks are narrower than the papers' (the chapters say how); all are counted at
# 256x256 so that the columns compare.

# %%
live = C.cost_table(("demo", "ci"))
paper = C.paper_config_table()
sizes = C.size_table(live, paper)
show(sizes, "Parameters (millions) and GMACs per 256x256 image; paper configs from paper_configs.json", digits=2)
for cfg in ("demo", "ci"):
    C.record_column(live, "parameters", f"params_{cfg}", None, level=cfg)
    C.record_column(live, "gmacs", f"gmacs_{cfg}", 2, level=cfg)
display(Markdown(C.paper_config_note(paper)))

# %% [markdown]
# ## Inference time and memory per 256x256 image on this CPU
#
# The `demo` configurations, timed here: batch 1, eval mode, no gradient, the median of `repeats` forward passes after
# one warm-up, with `threads` torch threads (one by default: the setting of the demo trainings and of the measured
# files, and the one that stays honest when another job shares the machine; with two threads and a busy second
# core, OpenMP's threads wait for each other and a pass can take several times longer). Peak memory: the rise of the peak resident set of a fresh Python process
# during one forward pass (after a warm-up pass; weights excluded; glibc's mmap threshold fixed at 64 KiB so that
# freed tensors return to the system), read from `/proc/self/status` after resetting the peak through
# `/proc/self/clear_refs`. The paper configurations' columns come from `paper_configs.json` (same method).

# %%
lat = C.latency_table("demo", repeats=repeats)
mem = C.memory_table("demo")
runtime = C.runtime_table(lat, mem, paper)
show(runtime, f"Per 256x256 image, {lat['cpu'].iloc[0]}, {threads} threads", digits=3)
C.record_column(runtime, "demo s/image", "demo_s_per_image", 3)
C.record_column(runtime, "demo peak MiB", "demo_peak_mib", 1)
display(Markdown(C.runtime_finding(runtime, live)))

# %% [markdown]
# ## Training speed
#
# Images per second of the chapters' `ci` training runs, read from the logs their training notebooks wrote
# (`_build/artifacts/ci/<paper>/sample_scenes/metrics.jsonl`; steps x batch over the logged time, leaving out the
# first logging window and every window with an evaluation). Those runs trained at their own image size and batch,
# with each chapter's full loss (VGG features, discriminators where the paper has them), on this machine while other
# jobs may have shared it, so the rates are indicative. Where `weights/manifest.json` records a `demo` training run,
# its wall time, steps and threads are shown too.

# %%
train = C.training_table()
show(train, "Training speed of the ci runs (and the demo runs, where recorded)", digits=1)
C.record_column(train, "ci_images_per_s", "ci_train_images_per_s", 1)

# %% [markdown]
# ## The papers' own figures beside ours
#
# What each paper states about cost, on its own hardware. GPU and CPU times do not compare as methods; they say
# what a reader without a GPU should expect.

# %%
show(C.paper_figures(), "What the papers state (quoted from the paper text)")
C.record_column(paper, "s_per_image", "paper_cpu_s_per_image", 3)
display(Markdown(C.paper_finding(paper, train)))

# %% [markdown]
# ## Quality against cost
#
# PSNR of each network's checkpoints on the irregular masks (all buckets together, mean ± standard error over the
# test photographs) from the quality notebook (`quality.csv`, scale `ci`), against the GMACs of its configuration; the
# classical methods, which have no network, are horizontal lines.

# %%
q = C.quality_vs_cost(live, scale=scale)
fig = C.quality_cost_figure(q)
display(Markdown(C.quality_finding(q)))

# %% [markdown]
# ## What the distinctive layers cost
#
# `python -m inpaintlib.bench.layers` times, forward + backward, side by side in one run (the contenders interleaved,
# medians): `PartialConv2d` against `nn.Conv2d` of the same shape and against the straightforward formulation of Liu
# et al. (a second, full-shape convolution of the mask and a division, as in NVIDIA's layer), at the shapes of every
# partial convolution of the `demo` MSFEF and PMRFN networks (batch 8, 64 px); and each chapter's distinctive layer
# against a plain convolution of similar MACs ("per MAC" divides out the difference).

# %%
layers = C.measured("layers")
shapes, totals, distinct = layer_tables(layers)
show(totals[["layers", "conv_ms", "pconv_ms", "liu_ms", "pconv_over_conv", "liu_over_conv"]],
     "All partial convolutions of one training pass, per network (ms, and ratios)", digits=2)
show(shapes[["layers", "conv_ms", "pconv_over_conv", "liu_over_conv"]], "Per shape", digits=2)
show(distinct[["input", "plain", "layer_gmacs", "plain_gmacs", "layer_ms", "plain_ms", "ratio", "per_mac_ratio"]],
     "Distinctive layers against a plain convolution", digits=2)
C.record_column(totals.rename(index=C.LABELS), "pconv_over_conv", "pconv_over_conv", 2)
record("bench_pconv_over_conv_worst_shape", float(shapes["pconv_over_conv"].max()), 2)
display(Markdown(f"{C.measured_note(layers)}. {layers_finding(totals, shapes, distinct)}"))

# %% [markdown]
# ## `torch.compile` and `channels_last` on a CPU
#
# `python -m inpaintlib.bench.speedups`: each `demo` network in `channels_last` (NHWC weights and inputs) against the
# same network in NCHW, and compiled with `torch.compile` (inductor) against the library's eager network, for
# inference of one 256x256 image and for a training step (batch 8 at the demo size, L1 loss, Adam; the chapters' VGG
# and discriminator losses left out). Speedup = before / after (above 1 = faster); each pair interleaved in its own
# process; failures are listed with their error. Where `channels_last` was faster for both tasks the library adopted
# it (`InpaintingNet.memory_format`, so the chapters train and evaluate that way); `torch.compile` is not adopted
# where it is slower or barely faster, and costs a compilation of the first call.

# %%
speed = C.measured("speedups")
sp = speedup_table(speed)
show(sp, "Seconds per call in NCHW; speedups of channels_last over NCHW and of compile over the library's eager",
     digits=2)
display(Markdown(f"{C.measured_note(speed)}. {speedups_finding(sp, data=speed)} {adoption_finding(sp)}"))

# %% [markdown]
# ## Where a demo budget learns the most: image size and width
#
# The `demo` models are ci's recipe at ci's size, trained for about 30 CPU minutes, with a network wider than ci's
# (twice ci's widths) or ci's own network. Which learns the most for the time? `python -m inpaintlib.bench.budget`
# gives three settings of each network the same CPU time (one thread, the chapter's full demo recipe): ci's network
# (more updates), the wider network, and the shipped network at the other image size. Each model is scored as the
# demo models are (64 px ci test photographs, irregular test masks, PSNR of the composite). The budget is several
# times smaller than the demo's and there is one seed, so this ranks what learns fastest early on; it does not
# predict the order after 30 minutes.

# %%
budget = C.measured("budget")
show_budget(budget, C.measured_note(budget))

# %% [markdown]
# Where the sweep's best setting was not the shipped one, both settings were trained over a whole demo budget with
# `make demo PAPER=<chapter>` (the other setting from a commit that changes only the config) and scored the
# same way by `python -m inpaintlib.bench.demo_choice`.

# %%
choice = C.measured("demo_choice")
show_choice(choice, C.measured_note(choice))
