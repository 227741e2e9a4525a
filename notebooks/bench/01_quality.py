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
# # Bench 1: quality under one protocol
#
# None of the five papers compares itself with the other four, and their own tables cannot be set side by side:
# different datasets, masks, image sizes and metric definitions. Here every network of the book and three classical
# methods fill the **same holes in the same photographs** and are scored the same way. Each network enters twice:
# its `ci` model, trained by the chapter's training notebook in this build (seconds to minutes on 2 CPU cores), and
# its `demo` model from `weights/`, trained on the same CPU for about 30 minutes by
# `make demo PAPER=<chapter>` (ci's recipe with twice ci's widths, PMRFN and CtxAttn with ci's own network; the manifest records steps, wall
# time and commit). Neither is the paper's model: no number here says how the papers' networks compare at 256 px
# on their datasets.
#
# **Protocol** (`inpaintlib.bench.quality`): the 16 test images of the sample scenes at 64 px, four crops of each of
# four photographs (never trained on); three fixed mask sets: Liu et al.'s irregular masks in six hole-ratio buckets (8 per bucket), the 25% centre
# box on every photograph, and DeepGIN's three types (box, cellular automaton, free-form; 8 each); mask *k* with
# photograph *k* mod 16; every network at the size it was trained at, the classical methods at 64 px; PSNR, SSIM
# and L1 (%) of the composite over the whole image, and LPIPS where its weights are installed (they cannot be
# downloaded here). No FID: with 16 images its estimate is dominated by its small-sample bias (see the
# Foundations chapter's metrics notebook). Each network was trained with one seed, so the spread shown is the standard
# error over the **four photographs** (each photograph's mean over its crops and masks first: crops of one photograph
# share its content and are not independent samples); whether two methods differ is decided on the same pairs (the
# mean difference against two of those standard errors). With four photographs and one training seed per network,
# few differences can be told apart; the chapters' ablations show the seed spread of their variants.

# %% tags=["parameters"]
scale = "ci"  # ci: this build's ci models; paper: the paper-scale checkpoints under data_root's datasets
seed = 0
data_root = None
smoke = False  # a dry run: exemplar-based inpainting stopped after a few patches
papers = ["msfef", "msanet", "deepgin", "pmrfn", "ctxattn"]
exemplar = True  # exemplar-based inpainting is the slowest method here (about half the notebook's time)

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from inpaintlib import viz
from inpaintlib.bench import quality as Q
from inpaintlib.chapter import completion_grid, show
from inpaintlib.paths import artifact_dir
from inpaintlib.record import record

images, sets = Q.test_photographs(), Q.mask_sets(seed=seed, **(Q.SMOKE if smoke else {}))
images = images[:1] if smoke else images  # a smoke run: one photograph, one mask per bucket and type
print("masks per set:", {name: len(masks) for name, (masks, _) in sets.items()})
viz.mask_strip([m[0].numpy() for m in sets["DeepGIN types"][0][:6]] + [sets["centre box"][0][0, 0].numpy()],
               suptitle="DeepGIN's three types and the centre box (white = known)");

# %% [markdown]
# The demo models, as `weights/manifest.json` records them (each trained by `make demo PAPER=<chapter>` on
# the CPU named there, with the thread count shown; the test PSNR is the one its training notebook logged on the
# ci test pairs at the end):

# %%
demos = Q.demo_checkpoints()
show(demos, "demo models in weights/")
for col, key in ((("wall (min)", "wall"), ("CPU (min)", "cpu")) if len(demos) else ()):
    record(f"bench_demo_{key}_min_lo", float(demos[col].min()), 1), record(f"bench_demo_{key}_min_hi", float(demos[col].max()), 1)

# %% [markdown]
# ## Scores
#
# The scores of every pair are kept (`quality_pairs.csv`) and summarised as mean ± standard error per method and
# bucket (`quality.csv`, which the cost notebook reads).

# %%
methods = Q.methods(papers, scale=scale, data_root=data_root, exemplar_iters=5 if smoke else None)
if not exemplar:
    methods.pop(("exemplar", "-"))
pairs = Q.score(methods, images, sets, sources=Q.test_sources()[:len(images)])
summ = Q.summary(pairs)
out = artifact_dir("bench", scale)
pairs.to_csv(out / "quality_pairs.csv", index=False)
summ.to_csv(out / "quality.csv", index=False)
n_irregular = len(sets["irregular"][0])
show(Q.table(summ, "irregular"), "PSNR (dB) by hole ratio, irregular masks, 64 px, mean ± standard error over the "
     f"{n_irregular // 6} pairs of a bucket ({n_irregular} in all)", digits=None)
Q.bucket_figure(summ)
plt.show()

# %%
for metric, unit in (("ssim", ""), ("l1", " (%, lower is better)")):
    show(Q.table(summ, "irregular", metric, 3), f"{metric.upper()}{unit} by hole ratio, irregular masks")
for name in ("centre box", "DeepGIN types"):
    show(Q.table(summ, name), f"PSNR (dB), {name}, mean ± standard error")

# %% [markdown]
# ## Rankings
#
# Per bucket, the methods in order of mean PSNR; between neighbours `>` where the paired difference exceeds two
# standard errors and `≈` ("cannot tell") where it does not. A chain of `≈` does not make its ends equal: read
# each link on its own.

# %%
texts = []
for name in sets:
    rank = Q.ranking(pairs, name)
    show(rank[["ranking"]], f"{name}: ranking by PSNR")
    texts.append(Q.describe_rankings(rank, name))
    record(f"bench_{name.replace(' ', '_').lower()}_cannot_tell", int(rank["cannot_tell"].sum()))
display(Markdown(" ".join(texts)))

# %% [markdown]
# ## Demo against ci
#
# Each demo model against its own ci model, on the same irregular pairs: mean PSNR of the demo model minus that of
# the ci model, per bucket and over all the irregular pairs.

# %%
gain = Q.demo_gain(pairs, base=scale)
show(gain, f"demo minus {scale}, PSNR (dB), irregular masks", digits=2)
for method, row in gain.iterrows():
    record(f"bench_{method.replace('-', '').lower()}_demo_minus_{scale}_min_db", float(row.drop("all").min()), 2)
    record(f"bench_{method.replace('-', '').lower()}_demo_minus_{scale}_all_db", float(row["all"]), 2)
ahead = [m for m, row in gain.iterrows() if (row > 0).all()]
display(Markdown(f"{len(ahead)} of {len(gain)} demo models are ahead of their {scale} model in every bucket"
                 + (f" ({', '.join(ahead)})." if ahead else ".")))
lead = Q.ranking(pairs, "irregular")["ranking"].map(Q.leader)
record("bench_irregular_leader", lead.mode()[0])
record("bench_irregular_leader_buckets", int((lead == lead.mode()[0]).sum()))
depth = {name: Q.hole_depth(sets[name][0]) for name in ("irregular", "centre box")}
record("bench_irregular_hole_depth_px", depth["irregular"], 1)
display(Markdown(f"At this scale the best mean PSNR in the irregular buckets goes to **{lead.mode()[0]}** in "
                 f"{int((lead == lead.mode()[0]).sum())} of {len(lead)} buckets. At 64 px the irregular masks' "
                 f"strokes are thin: no hole pixel of theirs lies more than {depth['irregular']:.1f} px from a known "
                 f"pixel (the centre box: {depth['centre box']:.1f} px), so filling them rewards smooth interpolation "
                 "from close neighbours; the centre box is the set with large holes."))

# %% [markdown]
# ## Completions side by side
#
# The same four inputs for every method: a small and a large irregular hole, the centre box, a free-form stroke.
# The classical methods and the ci models first, then the demo models.

# %%
ex_images, ex_masks, rows = Q.example_inputs(sets, images)
for ckpts, title in ((("-", scale), f"classical methods and {scale} models"), (("demo",), "demo models")):
    chosen = {Q.display_name(m, c): fn for (m, c), fn in methods.items() if c in ckpts}
    completion_grid(chosen, ex_images, ex_masks, title=f"{title}, 64 px", row_labels=rows)
    plt.show()
