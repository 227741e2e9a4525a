"""The training loop: :func:`train` checks its arguments, :func:`_train` runs the steps of one call.

The steps, in order: build the optimisers (:func:`~.steps.build_parts`); prepare ``out_dir``; resume from
``last.safetensors`` or seed afresh; then, unless the run is already complete, per update ``t``: the batch and its
masks, the discriminator step, the generator step, a log record every ``log_every`` updates, an evaluation every
``eval_every`` and a checkpoint every ``ckpt_every``; at the end a last evaluation, the training state and the
model. Evaluations run under ``torch.random.fork_rng`` and only scheduled evaluations drive the scheduler, so an
extra evaluation at the end of a shorter call does not change the training.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Mapping

import torch

from ..weights import tidy_checkpoint
from .batches import make_loader, masks_per_image, prepare_batch
from .checkpoint import (LAST_NAME, MODEL_NAME, fresh_seed, load_finished_model, load_training_state, model_config,
                         remove_run_files, save_model, save_training_state)
from .config import TrainConfig
from .distributed import DistContext, wrap_ddp
from .fingerprint import run_fingerprint
from .history import LOG_NAME, History, truncate_log
from .steps import Parts, build_parts, discriminator_step, generator_step, set_learning_rates

__all__ = ["train"]


def train(model: torch.nn.Module, loss_fn: Callable, dataset, mask_fn: Callable, config: TrainConfig,
          out_dir: str | os.PathLike, *, eval_fn: Callable | None = None,
          discriminator: torch.nn.Module | None = None, d_loss_fn: Callable | None = None,
          resume: bool = True, progress: bool = True, checkpoint_meta: Mapping[str, Any] | None = None
          ) -> History:
    """Train ``model`` in place for ``config.steps`` Adam updates; return the :class:`History`.

    Writes into ``out_dir``: ``metrics.jsonl`` (a "train" record every ``log_every`` steps, an "eval"
    record for every evaluation), ``last.safetensors`` + ``last.json`` (full training state, every
    ``ckpt_every`` steps and at the end) and, at the end, ``model.safetensors`` + ``model.json`` (the
    weights; sidecar with ``config`` = ``model.config`` if it is a dataclass, ``train_config``, ``step``,
    ``metrics`` = the final evaluation, plus ``checkpoint_meta`` such as ``{"scale": "ci"}``).

    With ``resume=True`` an existing ``last.safetensors`` is continued (``steps`` may be raised; the
    data-defining fields must match, and so must the model config, the loss's ``config``, the dataset and the
    mask generator, recorded as ``run`` in both sidecars) and log records after its step are dropped; if it
    reached exactly ``steps`` the weights are loaded into ``model`` and the history returned without training;
    a run already past ``steps`` is refused (updates cannot be undone). A folder that holds a finished
    ``model.safetensors`` but no ``last.safetensors`` (the training state deleted to save space) is never cleared
    by ``resume=True``: if the model's sidecar records this run (the same data-defining config fields and inputs)
    and exactly ``steps`` updates, its weights are loaded into ``model`` without training (with a warning that
    the run cannot be continued further); any other config, inputs or ``steps`` are refused with a
    ``ValueError`` naming what differs, and nothing is deleted (use another ``out_dir``, or delete the old model
    yourself). A checkpoint with NaN/Inf weights is never written (``FloatingPointError`` naming the step; the last
    good one stays); an ``eval_fn`` that returns NaN for a metric raises ``FloatingPointError`` naming the metric
    and the step before anything of that evaluation is logged (an infinite value, e.g. the PSNR of a perfect
    fill, is logged as it is, and written as ``null`` in the sidecar). With ``resume=False`` the run files in
    ``out_dir`` are removed first. The model is returned in eval mode.
    See the package docstring for the ``loss_fn`` / ``d_loss_fn`` / ``mask_fn`` / ``eval_fn`` contracts.
    """
    _check_arguments(config, eval_fn, discriminator, d_loss_fn, dataset)
    _check_out_dir(Path(out_dir))
    masks_per_image(mask_fn)  # a bad masks_per_image fails here, before anything is written
    ctx = DistContext(config.device)  # under torchrun the process group stays up for later calls (distributed.py)
    if config.batch_size % ctx.world:
        raise ValueError(f"batch_size={config.batch_size} is not divisible by the world size {ctx.world}")
    return _train(model, loss_fn, dataset, mask_fn, config, Path(out_dir), eval_fn, discriminator, d_loss_fn,
                  resume, progress, dict(checkpoint_meta or {}), ctx)


def _check_out_dir(out_dir: Path) -> None:
    """``out_dir`` must be a folder or a path that can become one: not a file, not below a file."""
    for p in (out_dir, *out_dir.parents):
        if p.exists():
            if not p.is_dir():
                what = "is a file" if p == out_dir else f"is below {p}, which is a file"
                raise NotADirectoryError(f"out_dir {out_dir} {what}: train writes metrics.jsonl and its checkpoints "
                                         "into a folder; give the path of a folder (it is created if missing)")
            return


def _check_arguments(config, eval_fn, discriminator, d_loss_fn, dataset) -> None:
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config must be a TrainConfig, got {type(config).__name__}")
    if (discriminator is None) != (d_loss_fn is None):
        raise ValueError("pass both discriminator and d_loss_fn, or neither")
    if config.lr_schedule == "plateau" and config.plateau_metric is not None and eval_fn is None:
        raise ValueError(f"lr_schedule='plateau' on eval metric {config.plateau_metric!r} needs an eval_fn "
                         "(or set plateau_metric=None to follow the training loss)")
    if config.lr_schedule == "plateau" and config.plateau_metric is not None and config.eval_every is None:
        raise ValueError("lr_schedule='plateau' on an eval metric needs eval_every (evaluations during training)")
    try:
        n = len(dataset)
    except TypeError:
        raise ValueError("dataset must be a map-style dataset with __len__ and __getitem__") from None
    if n == 0:
        raise ValueError("dataset is empty")


def _train(model, loss_fn, dataset, mask_fn, config: TrainConfig, out_dir: Path, eval_fn, discriminator,
           d_loss_fn, resume, progress, checkpoint_meta, ctx: DistContext) -> History:
    parts = build_parts(model, discriminator, config, ctx.device)
    model_cfg = checkpoint_meta.pop("config", None) or model_config(parts.model)
    run = _Run(parts, config, ctx, out_dir, model_cfg, checkpoint_meta)
    run.fingerprint = run_fingerprint(model_cfg, loss_fn, dataset, mask_fn, config.seed)
    run.prepare_out_dir(resume)
    run.resume_or_seed(resume)
    if run.start >= config.steps:
        run.save_model_if_missing()
    else:
        run.loop(loss_fn, dataset, mask_fn, eval_fn, d_loss_fn, progress)
    parts.set_mode(training=False)
    return History(out_dir)


class _Run:
    """One call of :func:`train`: what is trained, where the files go, and how far the run has come."""

    def __init__(self, parts: Parts, config: TrainConfig, ctx: DistContext, out_dir: Path, model_cfg,
                 checkpoint_meta: dict):
        self.parts, self.config, self.ctx = parts, config, ctx
        self.out_dir, self.model_cfg, self.checkpoint_meta = out_dir, model_cfg, checkpoint_meta
        self.log_path, self.last_path = out_dir / LOG_NAME, out_dir / LAST_NAME
        self.model_path = out_dir / MODEL_NAME
        self.start, self.elapsed0, self.last_eval_step, self.last_metrics = 0, 0.0, 0, {}
        self.t0 = time.perf_counter()
        self.log = None  # the open metrics.jsonl on rank 0 during the loop
        self.update_s = 0.0  # seconds spent in optimizer updates since the last "train" record (the bill's)
        self.fingerprint: dict | None = None  # model config, loss, dataset and masks (fingerprint.py)

    def elapsed(self) -> float:
        """Seconds of training so far, summed over resumptions."""
        return self.elapsed0 + time.perf_counter() - self.t0

    def write(self, record: dict) -> None:
        self.log.write(json.dumps(record) + "\n")
        self.log.flush()

    # ------------------------------------------------------------------------------------- before the loop
    def prepare_out_dir(self, resume: bool) -> None:
        if self.ctx.main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            if not resume:
                remove_run_files(self.out_dir)
        self.ctx.barrier()

    def resume_or_seed(self, resume: bool) -> None:
        """Continue from ``last.safetensors`` (dropping log records after its step), or seed a fresh run."""
        ctx = self.ctx
        if resume and ctx.main:
            for p in (self.last_path, self.model_path):  # temp files and stale sidecars of an interrupted save
                tidy_checkpoint(p)
        ctx.barrier()
        if resume and self.last_path.is_file():
            meta = load_training_state(self.last_path, self.parts, self.config, ctx, self.fingerprint)
            self.start = int(meta["step"])
            self.elapsed0 = float(meta.get("elapsed", 0.0))
            self.last_eval_step = int(meta.get("last_eval_step", 0))
            self.last_metrics = dict(meta.get("metrics") or {})
            if ctx.main:
                truncate_log(self.log_path, self.start)
        elif resume and self.model_path.is_file():  # a finished model without its training state: never deleted
            meta = load_finished_model(self.model_path, self.parts.model, self.config, self.fingerprint)
            self.start, self.last_eval_step = int(meta["step"]), int(meta["step"])
            self.last_metrics = dict(meta.get("metrics") or {})
            if ctx.main:
                warnings.warn(f"{self.model_path} is this run's finished model ({self.start} steps): loaded it without "
                              f"training. Its training state {LAST_NAME} is gone, so the run cannot be continued to "
                              "more steps", stacklevel=4)
        else:
            if ctx.main and resume:
                remove_run_files(self.out_dir)  # no checkpoint to resume: start the log afresh
            torch.manual_seed(fresh_seed(self.config.seed, ctx.rank))
        ctx.barrier()

    def save_model_if_missing(self) -> None:
        """A completed run: write ``model.safetensors`` if a kill came between the last state and the model."""
        if self.ctx.main and not self.model_path.is_file():
            self.save_model(self.start)
        self.ctx.barrier()

    def save_model(self, step: int) -> None:
        save_model(self.parts.model, self.model_path, self.model_cfg, self.config, step, self.last_metrics,
                   {**self.checkpoint_meta, "run": self.fingerprint})

    # ------------------------------------------------------------------------------------------- the loop
    def loop(self, loss_fn, dataset, mask_fn, eval_fn, d_loss_fn, progress: bool) -> None:
        from tqdm.auto import tqdm

        cfg, ctx, parts = self.config, self.ctx, self.parts
        net = wrap_ddp(parts.model, ctx)
        if parts.disc is not None:
            ctx.broadcast_module(parts.disc)  # every rank starts from rank 0's discriminator
        loader = make_loader(dataset, cfg, self.start, ctx, masks_per_image(mask_fn))
        parts.set_mode(training=True)
        self.t0 = time.perf_counter()
        pbar = tqdm(total=cfg.steps, initial=self.start, disable=not (progress and ctx.main), desc="train",
                    dynamic_ncols=True)
        self.log = open(self.log_path, "a", encoding="utf-8") if ctx.main else None
        try:
            for t, images in zip(range(self.start, cfg.steps), loader):
                images, valid = prepare_batch(images, mask_fn, cfg, t, ctx)
                t_update = time.perf_counter()
                with _explained(t + 1, cfg.batch_size // ctx.world):
                    set_learning_rates(parts, cfg, t)
                    for _ in range(cfg.d_steps if parts.disc is not None else 0):
                        discriminator_step(parts, d_loss_fn, images, valid, cfg.grad_clip,
                                           ctx.average_grads if ctx.world > 1 else None)
                    generator_step(parts, loss_fn, net, images, valid, cfg.grad_clip)
                _synchronize(ctx.device)
                self.update_s += time.perf_counter() - t_update
                self.after_update(t + 1, eval_fn, pbar)
            self.finish(eval_fn)
        finally:
            pbar.close()
            if self.log is not None:
                self.log.close()

    def after_update(self, step: int, eval_fn, pbar) -> None:
        """Log, evaluate and checkpoint on their schedules."""
        cfg = self.config
        if step % cfg.log_every == 0:
            self.log_window(step, pbar)
        if eval_fn is not None and cfg.eval_every is not None and step % cfg.eval_every == 0:
            self.evaluate(eval_fn, step, scheduled=True)
        if cfg.ckpt_every is not None and step % cfg.ckpt_every == 0 and step != cfg.steps:
            self.save_state(step)
        pbar.update(1)

    def finish(self, eval_fn) -> None:
        """The last evaluation (unless one just ran), the training state and the model."""
        steps = self.config.steps
        if eval_fn is not None and self.last_eval_step != steps:
            self.evaluate(eval_fn, steps, scheduled=False)
        self.save_state(steps)
        if self.ctx.main:
            self.save_model(steps)
        self.ctx.barrier()

    def log_window(self, step: int, pbar) -> None:
        """A "train" record: the mean of every term over the ``log_every`` window (and the plateau check)."""
        parts, cfg = self.parts, self.config
        lr = parts.opt.param_groups[0]["lr"]
        means = parts.acc.means(self.ctx)
        parts.acc.reset()
        if not math.isfinite(means["loss"]):
            raise FloatingPointError(f"training loss is {means['loss']} in the {cfg.log_every} steps up to "
                                     f"step {step}; lower lr, enable grad_clip or check the data")
        if parts.sched is not None and cfg.plateau_metric is None:
            parts.sched.step(means["loss"])
        rec = {"kind": "train", "step": step, "time": self.elapsed(), "lr": lr,
               "update_s": self.update_s / cfg.log_every, **peak_memory(self.ctx.device)}
        self.update_s = 0.0
        if parts.d_opt is not None:
            rec["d_lr"] = parts.d_opt.param_groups[0]["lr"]
        rec["loss"] = means.pop("loss")
        if "d_loss" in means:
            rec["d_loss"] = means.pop("d_loss")
        rec.update(means)
        if self.ctx.main:
            self.write(rec)
            pbar.set_postfix(loss=f"{rec['loss']:.4g}", refresh=False)

    def evaluate(self, eval_fn, step: int, scheduled: bool) -> None:
        """``eval_fn`` on rank 0 (eval mode, no grad, RNG forked); a scheduled one may step the scheduler."""
        ctx, parts, cfg = self.ctx, self.parts, self.config
        metrics = None
        if ctx.main:
            metrics = _run_eval_fn(eval_fn, parts.model, ctx.device)
            nan = sorted(k for k, v in metrics.items() if math.isnan(v))
            if nan:
                raise FloatingPointError(
                    f"eval_fn returned NaN for {nan} at step {step}: the model's output or the metric is broken "
                    f"(NaN weights, an all-black reference, 0/0); nothing of this evaluation was logged and "
                    f"{self.last_path.name} keeps the last good state. Lower lr, enable grad_clip, or check eval_fn")
            self.write({"kind": "eval", "step": step, "time": self.elapsed(), **metrics})
        if scheduled and parts.sched is not None and cfg.plateau_metric is not None:
            value = None
            if ctx.main:
                if cfg.plateau_metric not in metrics:
                    raise ValueError(f"plateau_metric {cfg.plateau_metric!r} is not among the eval metrics "
                                     f"{sorted(metrics)}")
                value = metrics[cfg.plateau_metric]
            parts.sched.step(ctx.broadcast_float(value))
        self.last_eval_step = step
        self.last_metrics = metrics or {}

    def save_state(self, step: int) -> None:
        meta = {"config": self.model_cfg, "train_config": self.config, "step": step, "metrics": self.last_metrics,
                "last_eval_step": self.last_eval_step, "elapsed": self.elapsed(), "run": self.fingerprint}
        save_training_state(self.last_path, self.parts, self.ctx, meta, self.checkpoint_meta)


def _synchronize(device) -> None:
    """Wait for the GPU, so that an update's time is its own (a no-op on the CPU)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def peak_memory(device) -> dict:
    """On CUDA ``{"peak_cuda_mb"}``, the peak of allocated tensor memory on ``device``
    (``torch.cuda.max_memory_allocated``); on the CPU ``{"peak_rss_mb"}``, the process's peak resident set
    (``getrusage``; it includes everything the process ever held, so it bounds training memory from above)."""
    if torch.device(device).type == "cuda":
        return {"peak_cuda_mb": torch.cuda.max_memory_allocated(device) / 2**20}
    try:
        import resource
    except ImportError:  # not on Windows
        return {}
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux, bytes on macOS
    return {"peak_rss_mb": kb / (2**20 if sys.platform == "darwin" else 2**10)}


@contextlib.contextmanager
def _explained(step: int, local_batch: int):
    """Turn PyTorch's BatchNorm error on a batch of one 1x1 map into one that says which setting to change."""
    try:
        yield
    except ValueError as e:
        if "more than 1 value per channel" not in str(e):
            raise
        raise ValueError(f"step {step}: {e}. BatchNorm in training mode needs more than one value per channel: with "
                         f"{local_batch} image(s) per process the deepest feature map is 1x1; raise batch_size or the "
                         "image size, or use instance/no normalisation") from None


def _run_eval_fn(eval_fn: Callable, raw: torch.nn.Module, device: torch.device) -> dict[str, float]:
    devices = [device.index] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        raw.eval()
        try:
            with torch.no_grad():
                out = eval_fn(raw)
        finally:
            raw.train()
    if not isinstance(out, Mapping):
        raise ValueError(f"eval_fn must return a dict of floats, got {type(out).__name__}")
    metrics = {}
    for k, v in out.items():
        try:
            metrics[str(k)] = float(v)
        except (TypeError, ValueError, RuntimeError):
            raise ValueError(f"eval_fn must return a dict of floats, got {k!r}: {type(v).__name__} "
                             f"({str(v)[:60]!r})") from None
    return metrics
