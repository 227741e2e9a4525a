"""The training settings shared by every chapter (:class:`TrainConfig`)."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np
import torch

from ..weights import to_jsonable

__all__ = ["TrainConfig", "AMP_DTYPES", "RESUMABLE_CHANGES", "demo_schedule"]

_SCHEDULES = ("constant", "plateau", "linear")
_OPTIMIZERS = ("adam", "adamw")
AMP_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16}
#: Fields that may change between a run and its resumption without breaking exactness of the data/updates.
RESUMABLE_CHANGES = {"steps", "eval_every", "log_every", "ckpt_every", "num_workers", "device", "amp",
                     "schedule_steps", "schedule_batch"}


@dataclass(frozen=True)
class TrainConfig:
    """Training settings shared by every chapter. Chapters build theirs from the paper's recipe.

    ``lr_schedule="linear"`` keeps both learning rates (generator and discriminator) constant for the first
    ``decay_start`` fraction of ``steps`` and then decays them linearly to zero at ``steps`` (DeepGIN Sect. 5.1:
    constant for 10 epochs, linear decay over the last 90 of 100, i.e. ``decay_start=0.1``); the rate is a pure
    function of the step, so a resumed run continues it exactly. ``d_steps`` discriminator updates (on the same
    batch) precede each generator update (DeepFill v1's WGAN-GP uses 5).
    ``lr_schedule="plateau"`` multiplies the generator's learning rate by ``plateau_factor`` when the
    monitored value has not improved for ``plateau_patience`` checks (PyTorch ``ReduceLROnPlateau``,
    floor ``min_lr``): the eval metric ``plateau_metric`` at each scheduled evaluation (``plateau_mode``
    "max" for PSNR-like, "min" for losses), or, when ``plateau_metric`` is None, the mean training loss
    over each ``log_every`` window. ``eval_every=None`` evaluates only at the end, ``ckpt_every=None``
    checkpoints only at the end. ``d_lr`` / ``d_betas`` default to ``lr`` / ``betas``. ``amp``: autocast with
    ``amp_dtype`` on CUDA (a GradScaler for float16), and on the CPU when ``amp_dtype="bfloat16"``
    (:mod:`inpaintlib.train.steps`).
    """

    steps: int = 1000
    batch_size: int = 8
    lr: float = 2e-4
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    optimizer: str = "adam"  # "adam" (L2 weight decay) or "adamw" (decoupled)
    lr_schedule: str = "constant"  # "constant" | "plateau" | "linear"
    decay_start: float = 0.0  # "linear": fraction of the steps after which the rates decay linearly to zero
    plateau_factor: float = 0.5
    plateau_patience: int = 5
    min_lr: float = 0.0
    plateau_metric: str | None = None  # eval metric name; None = running training loss
    plateau_mode: str = "min"  # "min" | "max"
    eval_every: int | None = None
    log_every: int = 10
    ckpt_every: int | None = 100
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    amp_dtype: str = "float16"  # "float16" | "bfloat16"
    grad_clip: float | None = None  # max global gradient norm, None = no clipping
    d_lr: float | None = None
    d_betas: tuple[float, float] | None = None
    d_steps: int = 1  # discriminator updates per generator update
    num_workers: int = 0
    #: The full schedule when ``steps``/``batch_size`` are a capped dry run of it (``Run.cap``); None = as run.
    #: Read by the bill of a smoke run (``inpaintlib.reproduce.bill``); they change nothing in training.
    schedule_steps: int | None = None
    schedule_batch: int | None = None

    def __post_init__(self):
        for name, allow_none in (("steps", False), ("batch_size", False), ("log_every", False), ("d_steps", False),
                                 ("eval_every", True), ("ckpt_every", True),
                                 ("schedule_steps", True), ("schedule_batch", True)):
            _check_positive_int(self, name, allow_none)
        for name in ("lr", "d_lr"):
            _check_learning_rate(self, name)
        for name in ("betas", "d_betas"):
            _check_betas(self, name)
        _check_choices(self)
        _check_counts(self)

    def to_dict(self) -> dict:
        return to_jsonable(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown TrainConfig fields {sorted(unknown)}")
        return cls(**dict(d))

    def replace(self, **changes) -> "TrainConfig":
        return dataclasses.replace(self, **changes)

    def lr_factor(self, step: int) -> float:
        """The factor on the initial learning rates for update ``step`` (0-based) under ``lr_schedule="linear"``:
        1 before ``decay_start * steps``, then falling linearly to 0 at ``steps``; 1 under the other schedules."""
        if self.lr_schedule != "linear":
            return 1.0
        start = self.decay_start * self.steps
        if step < start:
            return 1.0
        return max(0.0, (self.steps - step) / (self.steps - start))


def demo_schedule(ci: TrainConfig, steps: int) -> TrainConfig:
    """The ``demo`` scale's training settings, the same for every chapter: the ``ci`` recipe (which learns on a CPU)
    run for ``steps`` updates, the rates constant for the first half and then decayed linearly to zero (a constant
    rate tuned for a few hundred steps is too high to settle on), evaluated five times and checkpointed ten times
    (a killed run resumes). ``steps`` is chosen per chapter so that the run takes about 30 minutes on one core of
    the 2-core CPU machine this book is built on."""
    return ci.replace(steps=steps, lr_schedule="linear", decay_start=0.5, log_every=max(10, steps // 200),
                      eval_every=steps // 5, ckpt_every=steps // 10)


def recipe_at_scale(scale: str, paper: Any, ci: Callable[[Any], Any], demo_steps: int,
                    overrides: Mapping[str, Any] | None = None, **demo_changes) -> Any:
    """A chapter's training recipe at ``scale``, derived the same way in every chapter: ``paper`` as given; ``ci`` is
    ``ci(paper)`` (the chapter's own changes for 2 CPU cores, each marked ``# changed:`` where it is made); ``demo``
    is the ci recipe run for ``demo_steps`` updates with :func:`demo_schedule`, plus ``demo_changes`` (recipe
    fields, e.g. DeepGIN's warm-up steps). Then ``overrides`` replace fields of the recipe's TrainConfig
    (``recipe.train``). A recipe is a dataclass with the fields ``scale`` and ``train``."""
    from ..paths import check_scale

    if check_scale(scale) == "paper":
        recipe = paper
    else:
        recipe = ci(paper)
        if scale == "demo":
            recipe = dataclasses.replace(recipe, scale="demo", train=demo_schedule(recipe.train, demo_steps),
                                         **demo_changes)
    if overrides:
        recipe = dataclasses.replace(recipe, train=recipe.train.replace(**overrides))
    return recipe


def _is_int(v, types=(int, np.integer)) -> bool:
    return not isinstance(v, bool) and isinstance(v, types)


def _check_positive_int(cfg: TrainConfig, name: str, allow_none: bool) -> None:
    v = getattr(cfg, name)
    if v is None and allow_none:
        return
    if not _is_int(v) or v <= 0:
        raise ValueError(f"TrainConfig.{name} must be a positive integer{' or None' if allow_none else ''}, got {v!r}")


def _check_learning_rate(cfg: TrainConfig, name: str) -> None:
    v = getattr(cfg, name)
    if name == "d_lr" and v is None:
        return
    if not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
        raise ValueError(f"TrainConfig.{name} must be a positive number, got {v!r}")


def _check_betas(cfg: TrainConfig, name: str) -> None:
    v = getattr(cfg, name)
    if name == "d_betas" and v is None:
        return
    if (not isinstance(v, (tuple, list)) or len(v) != 2
            or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in v)):
        raise ValueError(f"TrainConfig.{name} must be a pair of numbers in [0, 1), got {v!r}")
    object.__setattr__(cfg, name, tuple(float(b) for b in v))


def _check_choices(cfg: TrainConfig) -> None:
    if cfg.optimizer not in _OPTIMIZERS:
        raise ValueError(f"TrainConfig.optimizer must be one of {_OPTIMIZERS}, got {cfg.optimizer!r}")
    if cfg.lr_schedule not in _SCHEDULES:
        raise ValueError(f"TrainConfig.lr_schedule must be one of {_SCHEDULES}, got {cfg.lr_schedule!r}")
    if cfg.plateau_mode not in ("min", "max"):
        raise ValueError(f"TrainConfig.plateau_mode must be 'min' or 'max', got {cfg.plateau_mode!r}")
    if cfg.amp_dtype not in AMP_DTYPES:
        raise ValueError(f"TrainConfig.amp_dtype must be one of {tuple(AMP_DTYPES)}, got {cfg.amp_dtype!r}")
    if not isinstance(cfg.device, str):
        raise ValueError(f"TrainConfig.device must be a string such as 'auto', 'cpu', 'cuda', got {cfg.device!r}")


def _check_non_negative(cfg: TrainConfig, name: str) -> None:
    v = getattr(cfg, name)
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not math.isfinite(v) or v < 0:
        raise ValueError(f"TrainConfig.{name} must be a finite number >= 0, got {v!r}")


def _check_counts(cfg: TrainConfig) -> None:
    _check_non_negative(cfg, "weight_decay")
    if not 0 < cfg.plateau_factor < 1:
        raise ValueError(f"TrainConfig.plateau_factor must lie in (0, 1), got {cfg.plateau_factor!r}")
    if not _is_int(cfg.plateau_patience, int) or cfg.plateau_patience < 0:
        raise ValueError(f"TrainConfig.plateau_patience must be an integer >= 0, got {cfg.plateau_patience!r}")
    if not isinstance(cfg.decay_start, (int, float)) or not 0 <= cfg.decay_start < 1:
        raise ValueError(f"TrainConfig.decay_start must lie in [0, 1) (a fraction of the steps), got {cfg.decay_start!r}")
    _check_non_negative(cfg, "min_lr")
    if not _is_int(cfg.seed) or cfg.seed < 0:
        raise ValueError(f"TrainConfig.seed must be an integer >= 0, got {cfg.seed!r}")
    if cfg.grad_clip is not None and not cfg.grad_clip > 0:
        raise ValueError(f"TrainConfig.grad_clip must be > 0 or None, got {cfg.grad_clip!r}")
    if not _is_int(cfg.num_workers, int) or cfg.num_workers < 0:
        raise ValueError(f"TrainConfig.num_workers must be an integer >= 0, got {cfg.num_workers!r}")
