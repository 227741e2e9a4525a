"""The run's checkpoints: ``last.safetensors`` (the full training state, for an exact resume) and
``model.safetensors`` (the trained weights), each with its JSON sidecar.

The training state holds the model, the optimiser(s), the scheduler, the gradient scaler(s), the torch CPU/CUDA RNG
state of every rank (dropout etc. continue where they were) and the partly filled log accumulators.
"""
from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from ..ckpt_format import canonical
from ..weights import (clean_stale_temps, flatten_state, load_checkpoint, save_checkpoint, sidecar_path,
                       unflatten_state)
from .config import RESUMABLE_CHANGES, TrainConfig
from .distributed import DistContext
from .fingerprint import check_fingerprint
from .history import LOG_NAME
from .steps import Parts

__all__ = ["LAST_NAME", "MODEL_NAME", "model_config", "remove_run_files", "save_model", "save_training_state",
           "load_training_state", "load_finished_model", "fresh_seed"]

LAST_NAME = "last.safetensors"
MODEL_NAME = "model.safetensors"
#: checkpoint_meta keys copied into the training state's sidecar
_STATE_META_KEYS = ("scale", "chapter", "model")


def model_config(model: torch.nn.Module):
    """``model.config`` when it is a dataclass instance (written to the sidecars), else None."""
    cfg = getattr(model, "config", None)
    return cfg if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type) else None


def remove_run_files(out_dir: Path) -> None:
    """Remove the log and both checkpoints (with their sidecars and any temp files of interrupted saves)."""
    for name in (LOG_NAME, LAST_NAME, MODEL_NAME):
        p = out_dir / name
        for q in (p, sidecar_path(p)) if p.suffix == ".safetensors" else (p,):
            if q.exists():
                q.unlink()
        if p.suffix == ".safetensors":
            clean_stale_temps(p)


def check_finite(tensors: Mapping[str, torch.Tensor], step: int, path: Path) -> None:
    """Refuse to write a checkpoint holding NaN/Inf: a good checkpoint on disk is never replaced by a broken one."""
    bad = [k for k, v in tensors.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        n = sum(v.is_floating_point() for v in tensors.values())
        raise FloatingPointError(f"at step {step}, {len(bad)} of {n} tensors are not finite (e.g. {bad[:3]}); "
                                 f"{path} was not written and keeps the last good checkpoint. Lower lr, enable "
                                 "grad_clip or check the data for NaN/Inf")


def save_model(raw, path: Path, model_cfg, config: TrainConfig, step: int, metrics: Mapping, extra: Mapping) -> None:
    """The trained weights; the sidecar holds the model and training configs, the step, the final metrics and
    ``extra`` (the caller's ``checkpoint_meta``)."""
    meta = {"kind": "model", "config": model_cfg, "train_config": config, "step": step, "metrics": dict(metrics)}
    meta.update(extra)
    tensors = raw.state_dict()
    check_finite(tensors, step, path)
    save_checkpoint(path, tensors, meta)


def fresh_seed(seed: int, rank: int) -> int:
    """The torch seed of rank ``rank`` at the start of a run that is not resumed."""
    return int(np.random.SeedSequence([seed, 0x7EED, rank]).generate_state(1)[0])


def _weights(parts: Parts) -> dict[str, torch.Tensor]:
    tensors = {f"model.{k}": v for k, v in parts.model.state_dict().items()}
    if parts.disc is not None:
        tensors.update({f"d.{k}": v for k, v in parts.disc.state_dict().items()})
    return tensors


def _add_states(tensors: dict, state: dict, parts: Parts) -> None:
    for name, obj in (("optim", parts.opt), ("d_optim", parts.d_opt), ("sched", parts.sched)):
        if obj is not None:
            ts, tree = flatten_state(obj.state_dict(), name)
            tensors.update(ts)
            state[name] = tree
    if parts.use_scaler:
        for name, sc in (("scaler", parts.scaler), ("d_scaler", parts.d_scaler)):
            ts, tree = flatten_state(sc.state_dict(), name)
            tensors.update(ts)
            state[name] = tree


def save_training_state(path: Path, parts: Parts, ctx: DistContext, meta: Mapping[str, Any],
                        checkpoint_meta: Mapping[str, Any]) -> None:
    """Write the training state (rank 0; every rank takes part in gathering the RNG states and waits after).

    ``meta`` (config, train_config, step, metrics, last_eval_step, elapsed) goes into the sidecar with the world
    size, the device, the state tree and the ``scale`` / ``chapter`` / ``model`` of ``checkpoint_meta``."""
    check_finite(_weights(parts), int(meta["step"]), path)  # on every rank (DDP keeps them equal), before any gather
    acc_tensors, acc_info = parts.acc.state(ctx)
    rng_cpu = ctx.gather(torch.get_rng_state())
    rng_cuda = ctx.gather(torch.cuda.get_rng_state(ctx.device)) if ctx.device.type == "cuda" else []
    if ctx.main:
        tensors = _weights(parts)
        tensors.update(acc_tensors)
        state: dict[str, Any] = {"accumulator": acc_info}
        _add_states(tensors, state, parts)
        for r, s in enumerate(rng_cpu):
            tensors[f"rng.cpu.{r}"] = s
        for r, s in enumerate(rng_cuda):
            tensors[f"rng.cuda.{r}"] = s
        sidecar = {
            "kind": "training_state",
            **meta,
            "world_size": ctx.world,
            "device": str(ctx.device),
            "state": state,
            **{k: v for k, v in checkpoint_meta.items() if k in _STATE_META_KEYS},
        }
        save_checkpoint(path, tensors, sidecar)
    ctx.barrier()


def _check_resumable(meta: Mapping, config: TrainConfig, path: Path) -> None:
    if meta.get("kind") != "training_state" or "state" not in meta:
        raise ValueError(f"{path} is not a training-state checkpoint written by inpaintlib.train")
    old = meta.get("train_config") or {}
    new = config.to_dict()
    diff = sorted(k for k in set(old) | set(new) if k not in RESUMABLE_CHANGES and old.get(k) != new.get(k))
    if diff:
        details = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in diff)
        raise ValueError(f"{path} was written by a run with a different config ({details}); resuming would not "
                         "reproduce it. Use another out_dir, or resume=False to start over")


def _restore_rng(tensors: Mapping[str, torch.Tensor], meta: Mapping, ctx: DistContext) -> None:
    saved_world = int(meta.get("world_size", 1))
    if saved_world != ctx.world:
        warnings.warn(f"resuming a run saved with world size {saved_world} on {ctx.world} process(es): the batches "
                      "are sharded differently, so the result will not equal an uninterrupted run", stacklevel=6)
    r = ctx.rank if f"rng.cpu.{ctx.rank}" in tensors else 0
    if f"rng.cpu.{r}" in tensors:
        torch.set_rng_state(tensors[f"rng.cpu.{r}"].to(torch.uint8))
    if ctx.device.type == "cuda" and f"rng.cuda.{r}" in tensors:
        torch.cuda.set_rng_state(tensors[f"rng.cuda.{r}"].to(torch.uint8), ctx.device)


def _load_states(parts: Parts, state: Mapping, tensors: Mapping[str, torch.Tensor]) -> None:
    parts.opt.load_state_dict(unflatten_state(state["optim"], tensors))
    if parts.d_opt is not None and state.get("d_optim") is not None:
        parts.d_opt.load_state_dict(unflatten_state(state["d_optim"], tensors))
    if parts.sched is not None and state.get("sched") is not None:
        parts.sched.load_state_dict(unflatten_state(state["sched"], tensors))
    if parts.use_scaler and state.get("scaler"):
        parts.scaler.load_state_dict(unflatten_state(state["scaler"], tensors))
    if parts.use_scaler and state.get("d_scaler"):
        parts.d_scaler.load_state_dict(unflatten_state(state["d_scaler"], tensors))


def _load_module(module: torch.nn.Module, state: Mapping[str, torch.Tensor], path: Path, what: str,
                 advice: str = "Use another out_dir, or resume=False to start over") -> None:
    try:
        module.load_state_dict(state)
    except RuntimeError as e:
        raise ValueError(f"{path} holds {what} weights that do not fit the {what} passed to train (another "
                         f"architecture?): {e}. {advice}") from None


def load_training_state(path: Path, parts: Parts, config: TrainConfig, ctx: DistContext,
                        fingerprint: Mapping | None = None) -> dict:
    """Restore everything :func:`save_training_state` wrote into ``parts`` and this rank's RNG; return the sidecar.

    Refuses a checkpoint of another kind, one written with a config whose data-defining fields differ, one whose
    recorded inputs (model config, loss, dataset, masks: ``fingerprint``) differ, and one already past
    ``config.steps`` (its updates cannot be undone)."""
    tensors, meta = load_checkpoint(path)
    _check_resumable(meta, config, path)
    if fingerprint is not None:
        check_fingerprint(meta.get("run"), fingerprint, path)
    done = int(meta.get("step") or 0)
    if done > config.steps:
        raise ValueError(f"{path} holds a run already trained for {done} steps, but steps={config.steps} was asked: "
                         f"updates cannot be undone. Use resume=False to train {config.steps} steps afresh, another "
                         f"out_dir, or steps >= {done} (steps={done} loads the finished run)")
    _load_module(parts.model, {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, path, "model")
    if parts.disc is not None:
        d_state = {k[2:]: v for k, v in tensors.items() if k.startswith("d.")}
        if not d_state:
            raise ValueError(f"{path} holds no discriminator but a discriminator was passed")
        _load_module(parts.disc, d_state, path, "discriminator")
    state = meta["state"]
    _load_states(parts, state, tensors)
    parts.acc.load(tensors, state.get("accumulator", {}))
    _restore_rng(tensors, meta, ctx)
    return meta


def load_finished_model(path: Path, model: torch.nn.Module, config: TrainConfig,
                        fingerprint: Mapping | None = None) -> dict:
    """A run folder that holds a finished ``model.safetensors`` but no ``last.safetensors`` (the larger training
    state was deleted): if the model is this run's (same data-defining config fields, same recorded inputs) and was
    trained for exactly ``config.steps``, load its weights into ``model`` and return its sidecar. Otherwise refuse,
    naming what differs. Deletes nothing: only ``resume=False`` removes a finished model, as asked."""
    tensors, meta = load_checkpoint(path)
    files = f"{path.name}, {sidecar_path(path).name} and {LOG_NAME} in {path.parent}"
    what_to_do = (f"Nothing was deleted: use another out_dir, or delete {files} yourself if that model is no longer "
                  "wanted (resume=False also deletes them)")
    no_state = f"there is no {LAST_NAME} beside it to resume from"
    if meta.get("kind") != "model":
        raise ValueError(f"{path} is not a model written by inpaintlib.train (kind {meta.get('kind')!r}) and "
                         f"{no_state}. {what_to_do}")
    old, new = meta.get("train_config") or {}, config.to_dict()
    diff = sorted(k for k in set(old) | set(new)
                  if k not in RESUMABLE_CHANGES and canonical(old.get(k)) != canonical(new.get(k)))
    if diff:
        details = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in diff)
        raise ValueError(f"{path} is a finished model trained with a different config ({details}), and {no_state}. "
                         f"{what_to_do}")
    if fingerprint is not None:
        check_fingerprint(meta.get("run"), fingerprint, path, advice=what_to_do)
    done = int(meta.get("step") or 0)
    if done != config.steps:
        raise ValueError(f"{path} is this run's model, finished after {done} steps, but {no_state}, so it cannot be "
                         f"{'continued' if config.steps > done else 'cut back'} to steps={config.steps}: "
                         f"steps={done} loads it. {what_to_do}")
    _load_module(model, tensors, path, "model", what_to_do)
    return meta
