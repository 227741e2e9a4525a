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
# # Bench 3: your image
#
# Every method of the book on one photograph and one mask of your choice. By default a test photograph of the
# sample scenes with brush strokes drawn on it (DeepFill v2's free-form generator); give your own files through the
# parameters, in JupyterLab or from the command line:
#
# ```bash
# papermill notebooks/bench/03_your_image.ipynb out.ipynb --cwd notebooks/bench \
#     -p image_path /abs/path/photo.jpg -p mask_path /abs/path/mask.png -p mask_convention 255=hole
# ```
#
# (`-p methods biharmonic,msanet` picks methods; `jupytext --to ipynb notebooks/bench/03_your_image.py` makes the `.ipynb` first.) `mask_convention` says which
# level of the mask file is the hole: `255=hole` for masks where white is to be filled (DeepFill's and LaMa's
# files), `255=known` where white is kept (this book's test sets). `methods` lists classical methods (`mean_fill`,
# `biharmonic`, `exemplar`), chapters (`msfef`, `msanet`, `deepgin`, `pmrfn`, `ctxattn`: their demo checkpoints
# from `weights/`) or paths of `.safetensors` checkpoints. The demo networks were trained on 64 px crops for about
# 30 CPU minutes: by default they run at 64 px and their fill is upsampled (`work_size = "native"` runs them at your
# image's size, where they meet holes far larger than any they were trained on). Exemplar-based inpainting is slow
# beyond about 128 px: `max_side` bounds the size everything runs at.

# %% tags=["parameters"]
scale = "ci"  # the methods are the shipped demo models and the classical ones at every scale
image_path = None
mask_path = None
mask_convention = "255=hole"
methods = ["mean_fill", "biharmonic", "exemplar", "msfef", "msanet", "deepgin", "pmrfn", "ctxattn"]
max_side = 128
work_size = None  # None: networks at their training size, classical methods at the image's size

# %% tags=["hide-input"]
import time

import matplotlib.pyplot as plt

from inpaintlib.bench import yours
from inpaintlib.record import record

# %%
if image_path is None:
    image, valid = yours.sample_pair(size=max_side)
else:
    image, valid = yours.load_pair(image_path, mask_path, mask_convention, max_side=max_side)
print(f"image {tuple(image.shape[-2:])}, hole {1 - valid.mean().item():.1%} of the pixels")
t0 = time.perf_counter()
results = yours.run_all(methods, image, valid, work_size=work_size)
print(f"{len(results)} methods in {time.perf_counter() - t0:.1f} s")
record("bench_yours_methods", len(results)), record("bench_yours_hole_percent", 100 * (1 - valid.mean().item()), 1)
yours.side_by_side(image, valid, results)
plt.show()
