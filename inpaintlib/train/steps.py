"""What one update does: the optimisers, scheduler and gradient scalers (:class:`Parts`), the discriminator step
and the generator step.

Mixed precision (``TrainConfig.amp``): on CUDA in ``amp_dtype`` (float16 with a gradient scaler, or bfloat16); on the
CPU only in bfloat16 (``amp_dtype="bfloat16"``; PyTorch's CPU autocast has no useful float16), through the same
``torch.autocast`` call, so a CPU run in bfloat16 checks what a CUDA run under AMP executes (the tests do, for every
chapter's paper configuration). Elsewhere, and with the default float16 on the CPU, autocast is a no-op.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Mapping

import torch
from torch import nn

from .config import AMP_DTYPES, TrainConfig
from .running import Accumulator

__all__ = ["Parts", "build_parts", "make_optimizer", "set_learning_rates", "split_loss", "discriminator_step",
           "generator_step"]


@dataclass
class Parts:
    """The objects a training run updates and a training-state checkpoint holds."""

    model: nn.Module
    disc: nn.Module | None
    opt: torch.optim.Optimizer
    d_opt: torch.optim.Optimizer | None
    sched: torch.optim.lr_scheduler.ReduceLROnPlateau | None
    scaler: torch.amp.GradScaler
    d_scaler: torch.amp.GradScaler
    use_amp: bool
    amp_dtype: torch.dtype
    acc: Accumulator
    device_type: str = "cuda"

    @property
    def use_scaler(self) -> bool:
        return self.use_amp and self.amp_dtype == torch.float16

    def autocast(self):
        """Mixed precision when ``use_amp`` (see the module docstring); otherwise a no-op context."""
        return (torch.autocast(device_type=self.device_type, dtype=self.amp_dtype) if self.use_amp
                else contextlib.nullcontext())

    def set_mode(self, training: bool) -> None:
        """``train()`` / ``eval()`` on the generator and the discriminator."""
        self.model.train(training)
        if self.disc is not None:
            self.disc.train(training)


def make_optimizer(params, kind: str, lr: float, betas, weight_decay: float) -> torch.optim.Optimizer:
    params = [p for p in params if p.requires_grad]
    if not params:
        raise ValueError("the model has no parameters that require gradients")
    cls = torch.optim.AdamW if kind == "adamw" else torch.optim.Adam
    return cls(params, lr=lr, betas=tuple(betas), weight_decay=weight_decay)


def build_parts(model: nn.Module, discriminator: nn.Module | None, config: TrainConfig, device: torch.device) -> Parts:
    """Move the networks to ``device`` and make their optimisers, the scheduler and the gradient scalers."""
    raw = model.to(device)
    raw_d = discriminator.to(device) if discriminator is not None else None
    opt = make_optimizer(raw.parameters(), config.optimizer, config.lr, config.betas, config.weight_decay)
    d_opt = None
    if raw_d is not None:
        d_opt = make_optimizer(raw_d.parameters(), config.optimizer, config.d_lr or config.lr,
                               config.d_betas or config.betas, config.weight_decay)
    sched = None
    if config.lr_schedule == "plateau":
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode=config.plateau_mode, factor=config.plateau_factor, patience=config.plateau_patience,
            min_lr=config.min_lr)
    amp_dtype = AMP_DTYPES[config.amp_dtype]
    use_amp = bool(config.amp and (device.type == "cuda" or (device.type == "cpu" and amp_dtype == torch.bfloat16)))
    use_scaler = use_amp and amp_dtype == torch.float16
    return Parts(model=raw, disc=raw_d, opt=opt, d_opt=d_opt, sched=sched,
                 scaler=torch.amp.GradScaler("cuda", enabled=use_scaler),
                 d_scaler=torch.amp.GradScaler("cuda", enabled=use_scaler),
                 use_amp=use_amp, amp_dtype=amp_dtype, acc=Accumulator(device), device_type=device.type)


def set_learning_rates(parts: Parts, config: TrainConfig, step: int) -> None:
    """Under ``lr_schedule="linear"`` set both optimisers' rates for update ``step`` (``config.lr_factor``)."""
    if config.lr_schedule != "linear":
        return
    f = config.lr_factor(step)
    for opt, base in ((parts.opt, config.lr), (parts.d_opt, config.d_lr or config.lr)):
        if opt is not None:
            for group in opt.param_groups:
                group["lr"] = base * f


def split_loss(out, what: str):
    """``(loss, terms)`` from what a loss function returned, checked: a scalar loss connected to the parameters."""
    if isinstance(out, torch.Tensor):
        loss, terms = out, {}
    elif isinstance(out, (tuple, list)) and len(out) == 2 and isinstance(out[1], Mapping):
        loss, terms = out
    else:
        raise ValueError(f"{what} must return (loss, terms: dict[str, float]), got {type(out).__name__}")
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        raise ValueError(f"{what} must return a scalar loss tensor, got {type(loss).__name__} "
                         f"{tuple(loss.shape) if isinstance(loss, torch.Tensor) else ''}")
    if not loss.requires_grad:
        raise ValueError(f"{what} returned a loss that does not require grad: it is not connected to the parameters")
    return loss.reshape(()), dict(terms)


def _update(parts: Parts, compute: Callable, what: str, opt, scaler, module: nn.Module, grad_clip: float | None,
            reduce_grads: Callable[[nn.Module], None] | None = None):
    """One optimiser update of ``module``'s parameters on the loss ``compute()`` returns (clipped, AMP-scaled);
    ``reduce_grads(module)``, if given, averages the gradients over the processes before the update."""
    opt.zero_grad(set_to_none=True)
    with parts.autocast():
        loss, terms = split_loss(compute(), what)
    scaler.scale(loss).backward()
    if reduce_grads is not None:
        reduce_grads(module)
    if grad_clip is not None:
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(module.parameters(), grad_clip)
    scaler.step(opt)
    scaler.update()
    return loss, terms


def discriminator_step(parts: Parts, d_loss_fn: Callable, images: torch.Tensor, valid: torch.Tensor,
                       grad_clip: float | None, reduce_grads: Callable[[nn.Module], None] | None = None) -> None:
    """``d_loss_fn(generator, discriminator, image, valid)`` minimised by the discriminator's optimiser; the
    discriminator is then frozen for the generator step. Its terms are logged as ``d_<name>``.

    The discriminator is passed plain, never in ``DistributedDataParallel``: a loss may call its parts (a global and
    a local critic) and differentiate it for a gradient penalty, neither of which DDP's wrapper supports. Under
    ``torchrun``, ``reduce_grads`` averages its gradients over the processes instead."""
    parts.disc.requires_grad_(True)
    d_loss, d_terms = _update(parts, lambda: d_loss_fn(parts.model, parts.disc, images, valid), "d_loss_fn",
                              parts.d_opt, parts.d_scaler, parts.disc, grad_clip, reduce_grads)
    parts.disc.requires_grad_(False)
    parts.acc.add_terms(d_terms, prefix="d_")
    parts.acc.add("d_loss", d_loss)


def generator_step(parts: Parts, loss_fn: Callable, net: nn.Module, images: torch.Tensor, valid: torch.Tensor,
                   grad_clip: float | None) -> None:
    """``loss_fn(model, image, valid)`` minimised by the generator's optimiser; the discriminator is unfrozen."""
    loss, terms = _update(parts, lambda: loss_fn(net, images, valid), "loss_fn", parts.opt, parts.scaler,
                          parts.model, grad_clip)
    if parts.disc is not None:
        parts.disc.requires_grad_(True)
    parts.acc.add_terms(terms, skip=("loss",))
    parts.acc.add("loss", loss)
