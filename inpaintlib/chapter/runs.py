"""Training, loading and scoring what a chapter compares: its network, its ablation variants, other methods.

Everything returns plain data: a trained model and its history, a tidy ``pandas`` frame with one row per
(variant, seed, metric, bucket), or ``name -> EvalResult``. Checkpoints are found by (paper, scale, run), never by
the working directory, and looking one up creates nothing.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Mapping, Sequence

import pandas as pd
import torch
from torch import nn

from ..metrics import EvalResult, Protocol, evaluate
from ..paths import artifact_dir
from ..registry import build_model
from ..train import History, TrainConfig, train
from ..weights import load_checkpoint
from .text import counted

__all__ = ["predictor", "train_model", "checkpoint_path", "load_trained", "shipped_checkpoints", "run_variants",
           "evaluate_methods", "tidy"]


def predictor(model: nn.Module) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``predict(image, valid) -> output`` with ``model`` in eval mode and no gradients (for ``evaluate``)."""
    model.eval()

    @torch.no_grad()
    def predict(image, valid):
        return model(image, valid)
    return predict


def train_model(build: Callable[[], nn.Module], loss_fn: Callable, dataset, mask_fn: Callable, config: TrainConfig,
                out_dir, *, paper: str, scale: str, seed: int, eval_images: torch.Tensor | None = None,
                eval_masks: torch.Tensor | None = None, protocol: Protocol | None = None, progress: bool = True,
                resume: bool = True, discriminator: nn.Module | None = None,
                d_loss_fn: Callable | None = None) -> tuple[nn.Module, History]:
    """Build a network (``build()``, initialised under ``torch.manual_seed(seed)`` without touching the global RNG)
    and train it with :func:`inpaintlib.train.train`. With ``eval_images``/``eval_masks`` the test PSNR and SSIM
    (``protocol``, mean over every pair) are logged as ``test_psnr``/``test_ssim`` at each evaluation. The
    checkpoint's sidecar records ``paper`` and ``scale`` so :func:`load_trained` (and
    ``inpaintlib.papers.build_model``) can rebuild the network from it alone. ``discriminator`` and ``d_loss_fn``
    (both or neither) add the adversarial step of :func:`inpaintlib.train.train`. Returns ``(model, history)``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build()
    eval_fn = None
    if eval_images is not None and eval_masks is not None:
        proto = dataclasses.replace(protocol or Protocol(), metrics=("psnr", "ssim"))

        def eval_fn(m):
            t = evaluate(predictor(m), eval_images, eval_masks, proto).table
            return {"test_psnr": float(t.loc["psnr", "all"]), "test_ssim": float(t.loc["ssim", "all"])}
    history = train(model, loss_fn, dataset, mask_fn, config, out_dir, eval_fn=eval_fn, progress=progress,
                    resume=resume, discriminator=discriminator, d_loss_fn=d_loss_fn,
                    checkpoint_meta={"paper": paper, "chapter": paper, "scale": scale, "model": type(model).__name__})
    model.eval()
    return model, history


def checkpoint_path(paper: str, scale: str, run: str = "sample_scenes", notebook: str = "02_training"):
    """``<artifacts>/<scale>/<paper>/<run>/model.safetensors``, the checkpoint the chapter's training notebook
    writes; ``FileNotFoundError`` naming the notebook to run when it is missing. Creates nothing."""
    path = artifact_dir(paper, scale, create=False) / run / "model.safetensors"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run notebooks/{paper}/{notebook}.py at scale={scale!r} first")
    return path


def load_trained(path) -> nn.Module:
    """The network of a checkpoint, rebuilt from its sidecar (``paper`` + ``config``), weights loaded, eval mode."""
    tensors, meta = load_checkpoint(path)
    if meta.get("kind") == "training_state":
        raise ValueError(f"{path} is a training-state checkpoint, not a model: pass the model.safetensors beside it")
    paper = meta.get("paper") or meta.get("chapter")
    if not paper:
        raise ValueError(f"{path}: the sidecar names no paper ('paper' key); cannot tell which network to build")
    model = build_model(paper, meta.get("config"))
    model.load_state_dict(tensors)
    return model.eval()


def shipped_checkpoints(paper: str, scale: str) -> list:
    """Paths of the checkpoints ``weights/manifest.json`` lists for ``paper`` at ``scale``, each verified (size and
    sha256) before it is returned; ``[]`` when there is none."""
    from ..weights import Manifest

    man = Manifest()
    out = []
    for e in man:
        if e.get("chapter") == paper and e.get("scale") == scale:
            path = man.path.resolve().parent.parent / e["file"]
            man.verify(e, path)
            out.append(path)
    return out


def tidy(table: pd.DataFrame, **labels) -> list[dict]:
    """Rows ``{**labels, metric, bucket, value}`` of an ``EvalResult.table`` (the ``n`` row dropped)."""
    return [{**labels, "metric": m, "bucket": str(b), "value": float(table.loc[m, b])}
            for m in table.index if m != "n" for b in table.columns]


def run_variants(variants: Mapping[str, Callable[[int], nn.Module]], seeds: Sequence[int], images: torch.Tensor,
                 masks: torch.Tensor, protocol: Protocol, progress: bool = True) -> pd.DataFrame:
    """Train every variant with every seed (``variants[name](seed) -> trained model``) and score it under
    ``protocol``: a tidy frame with columns ``variant, seed, metric, bucket, value`` (bucket ``"all"`` included)."""
    rows = []
    for name, fit in variants.items():
        for s in seeds:
            model = fit(int(s))
            rows += tidy(evaluate(predictor(model), images, masks, protocol).table, variant=name, seed=int(s))
        if progress:
            print(f"{name}: {counted(len(seeds), 'seed')} done")
    return pd.DataFrame(rows)


def evaluate_methods(methods: Mapping[str, Callable], images: torch.Tensor, masks: torch.Tensor, protocol: Protocol,
                     mask_buckets: Sequence[int] | None = None) -> dict[str, EvalResult]:
    """``name -> EvalResult`` of every method (``predict(image, valid) -> output``) on the same pairs."""
    return {name: evaluate(fn, images, masks, protocol, mask_buckets=mask_buckets) for name, fn in methods.items()}
