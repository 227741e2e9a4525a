"""The chapter's ``ci`` model against its published ``demo`` model (``weights/``), on the same 64 px test pairs.

The ``demo`` models are trained on this machine's CPU by ``make demo PAPER=<chapter>`` (ci's recipe
with twice ci's widths or ci's own network, for about 30 minutes on one core) and shipped in ``weights/``; the ``ci`` models are trained
by the chapter's training notebook in every build. Both run at the size they were trained at
(:func:`inpaintlib.inference.inpaint`, ``work_size="train"``: MSFEF's ci model at 32 px, the others at 64 px) and
are scored on the composite at 64 px, with mean filling as the floor.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ..classical import mean_fill
from ..inference import inpaint
from ..metrics import EvalResult, Protocol
from ..record import record, record_buckets
from .data import chapter_data
from .runs import evaluate_methods, load_trained, shipped_checkpoints
from .tables import show, versus

__all__ = ["TRAINING_NOTEBOOKS", "DEMO_SIZE", "at_training_size", "ci_model", "demo_model", "demo_against_ci"]

#: Each chapter's training notebook (the one that writes ``<artifacts>/<scale>/<paper>/sample_scenes/``).
TRAINING_NOTEBOOKS = {"msfef": "notebooks/msfef/02_training", "msanet": "notebooks/msanet/02_training",
                      "deepgin": "notebooks/deepgin/03_training", "pmrfn": "notebooks/pmrfn/03_training",
                      "ctxattn": "notebooks/ctxattn/03_training"}
#: The size the demo models are trained at and the ci/demo comparison is scored at.
DEMO_SIZE = 64


def at_training_size(model: nn.Module) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``predict(image, valid)``: the network run at its training size (resized there and back, composited)."""
    return lambda image, valid: inpaint(model, image, valid)


def ci_model(paper: str) -> nn.Module:
    """The ci model the chapter's training notebook wrote in this build (``FileNotFoundError`` names it)."""
    from .context import run_context

    return run_context(paper, "ci").trained()


def demo_model(paper: str) -> nn.Module | None:
    """The demo model ``weights/manifest.json`` lists for ``paper`` (sha256 verified), or None when none is shipped."""
    paths = shipped_checkpoints(paper, "demo")
    return load_trained(paths[0]) if paths else None


def demo_against_ci(paper: str, label: str, seed: int = 0) -> dict[str, EvalResult] | None:
    """Score the chapter's ci model, its demo model and mean filling on the ci test photographs at 64 px with the
    library's irregular test masks (Liu et al.'s buckets); show PSNR by bucket with demo minus ci; record
    ``<paper>_demo_psnr_b*``, ``<paper>_demo_minus_ci_b*``, ``<paper>_demo_minus_ci_all`` (over all the pairs) and
    ``<paper>_demo_minus_ci_min_db``. Returns the
    results by name, or None (and says so) when no demo model is shipped or this build has no ci model."""
    from IPython.display import Markdown, display

    demo = demo_model(paper)
    if demo is None:
        display(Markdown(f"No demo checkpoint of {label} is listed in `weights/manifest.json`: train one with "
                         f"`make demo PAPER={paper}`."))
        return None
    try:
        ci = ci_model(paper)
    except FileNotFoundError as e:  # e.g. a paper-scale run, where the ci notebooks have not run
        display(Markdown(f"The demo model is compared with this build's ci model, which is missing: {e}"))
        return None
    data = chapter_data("ci", DEMO_SIZE, Protocol(metrics=("psnr", "ssim")), seed=seed, mask_label="demo_vs_ci")
    d = data["sample_scenes"]
    names = {"ci": f"{label} (ci)", "demo": f"{label} (demo)"}
    res = evaluate_methods({names["demo"]: at_training_size(demo), names["ci"]: at_training_size(ci),
                            "mean fill": mean_fill}, d.test_images, d.masks, d.protocol)
    t = versus({k: r.table for k, r in res.items()}, names["demo"], names["ci"])
    show(t, f"{label}: the demo model (weights/) against the ci model of this build, PSNR (dB) at {DEMO_SIZE} px. "
            f"Protocol: {d.protocol.describe()}", digits=2)
    gain = t.loc["difference"].drop("all")
    record_buckets(f"{paper}_demo_psnr", t.loc[names["demo"]])
    record_buckets(f"{paper}_demo_minus_ci", t.loc["difference"])  # per bucket and over all the pairs
    record(f"{paper}_demo_minus_ci_min_db", float(gain.min()), 2)
    display(Markdown(f"The demo model is " + (
        f"ahead of the ci model in every bucket, by {gain.min():.2f} to {gain.max():.2f} dB." if (gain > 0).all()
        else f"not ahead of the ci model in {', '.join(map(str, gain[gain <= 0].index))}.")))
    return res
