"""One training loop for every chapter (DESIGN.md, "Devices", "Randomness", "Checkpoints").

:func:`train` runs Adam on a generator (and optionally a discriminator), logs to ``metrics.jsonl``,
checkpoints to ``last.safetensors`` and resumes from it so that a run that is killed and restarted ends
with exactly the same weights as an uninterrupted one (on CPU; on CUDA up to the non-determinism of the
kernels). What makes resume exact:

* the batch of update ``t`` (``t = 0, 1, ...``) is a pure function of ``(seed, t)``: sample positions
  ``t*B .. t*B+B-1`` of the stream of epoch permutations ``np.random.default_rng([seed, epoch])
  .permutation(len(dataset))``, and the mask of batch element ``i`` is ``mask_fn(h, w,
  np.random.default_rng([seed, t, i]))`` - so the dataset must return the same image for the same index;
* the checkpoint holds the model, optimizer(s), scheduler, gradient scaler(s), the torch CPU/CUDA RNG
  state of every rank (dropout etc. continue where they were) and the partly filled log accumulators;
* evaluations run under ``torch.random.fork_rng`` and only scheduled evaluations drive the scheduler, so
  an extra evaluation at the end of a shorter call does not change the training.

Contracts of the callables (images float ``N x 3 x H x W`` in [0, 1], ``valid`` ``N x 1 x H x W``,
1 = known, 0 = hole, both on the training device):

* ``loss_fn(model, image, valid) -> (loss, terms)``: ``loss`` a scalar tensor to minimise, ``terms`` a
  dict ``name -> float | scalar tensor`` to log (same names every step). Under DDP ``model`` is the
  ``DistributedDataParallel`` wrapper: call it (``model(image, valid)``) once per step, do not read its
  attributes.
* ``d_loss_fn(model, discriminator, image, valid) -> (d_loss, terms)``: the discriminator step, run
  before each generator step with its own Adam (``d_lr``, ``d_betas``). ``model`` is the plain generator
  (compute its output under ``torch.no_grad()`` or ``.detach()`` it). During the generator step the
  discriminator's parameters have ``requires_grad=False``; a ``loss_fn`` that needs the discriminator
  closes over it.
* ``mask_fn(h, w, rng) -> np.ndarray`` float32 ``(h, w)``, values exactly 0/1, 1 = known (the
  generators of ``inpaintlib.masks``); anything else raises ``ValueError``.
* ``eval_fn(model) -> dict[str, float]``: called on rank 0 with the plain model in eval mode under
  ``torch.no_grad()``; e.g. ``{"psnr": ...}`` on a fixed test set.

Distributed: launched by ``torchrun`` (``WORLD_SIZE > 1``), :func:`train` initialises the process group
(gloo on CPU, nccl on CUDA) unless it already is, wraps the model(s) in ``DistributedDataParallel``; each
rank takes its contiguous shard ``B / world_size`` of the step's batch (so the averaged gradient is the
gradient of the full batch), only rank 0 writes logs and checkpoints, and all ranks wait at a barrier
after each checkpoint. All ranks must see the same ``out_dir`` (one machine or a shared file system).
BatchNorm layers are not converted to SyncBatchNorm.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Sampler

from inpaintlib._validate import check_image, check_valid
from inpaintlib.weights import (atomic_write_text, flatten_state, load_checkpoint, save_checkpoint,
                                sidecar_path, unflatten_state, to_jsonable)

__all__ = ["TrainConfig", "History", "train", "choose_device", "LOG_NAME", "LAST_NAME", "MODEL_NAME"]

LOG_NAME = "metrics.jsonl"
LAST_NAME = "last.safetensors"
MODEL_NAME = "model.safetensors"

_SCHEDULES = ("constant", "plateau")
_OPTIMIZERS = ("adam", "adamw")
_AMP_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16}
# Fields that may change between a run and its resumption without breaking exactness of the data/updates.
_RESUMABLE_CHANGES = {"steps", "eval_every", "log_every", "ckpt_every", "num_workers", "device", "amp"}


# ---------------------------------------------------------------------------------------------- config
@dataclass(frozen=True)
class TrainConfig:
    """Training settings shared by every chapter. Chapters build theirs from the paper's recipe.

    ``lr_schedule="plateau"`` multiplies the generator's learning rate by ``plateau_factor`` when the
    monitored value has not improved for ``plateau_patience`` checks (PyTorch ``ReduceLROnPlateau``,
    floor ``min_lr``): the eval metric ``plateau_metric`` at each scheduled evaluation (``plateau_mode``
    "max" for PSNR-like, "min" for losses), or, when ``plateau_metric`` is None, the mean training loss
    over each ``log_every`` window. ``eval_every=None`` evaluates only at the end, ``ckpt_every=None``
    checkpoints only at the end. ``d_lr`` / ``d_betas`` default to ``lr`` / ``betas``. ``amp`` is used only
    on CUDA (autocast with ``amp_dtype``; a GradScaler for float16).
    """

    steps: int = 1000
    batch_size: int = 8
    lr: float = 2e-4
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    optimizer: str = "adam"  # "adam" (L2 weight decay) or "adamw" (decoupled)
    lr_schedule: str = "constant"  # "constant" | "plateau"
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
    num_workers: int = 0

    def __post_init__(self):
        def pos_int(name, allow_none=False):
            v = getattr(self, name)
            if v is None and allow_none:
                return
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
                raise ValueError(f"TrainConfig.{name} must be a positive integer{' or None' if allow_none else ''}, got {v!r}")

        pos_int("steps")
        pos_int("batch_size")
        pos_int("log_every")
        pos_int("eval_every", allow_none=True)
        pos_int("ckpt_every", allow_none=True)
        for name in ("lr", "d_lr"):
            v = getattr(self, name)
            if name == "d_lr" and v is None:
                continue
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise ValueError(f"TrainConfig.{name} must be a positive number, got {v!r}")
        for name in ("betas", "d_betas"):
            v = getattr(self, name)
            if name == "d_betas" and v is None:
                continue
            if (not isinstance(v, (tuple, list)) or len(v) != 2
                    or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in v)):
                raise ValueError(f"TrainConfig.{name} must be a pair of numbers in [0, 1), got {v!r}")
            object.__setattr__(self, name, tuple(float(b) for b in v))
        if self.weight_decay < 0:
            raise ValueError(f"TrainConfig.weight_decay must be >= 0, got {self.weight_decay!r}")
        if self.optimizer not in _OPTIMIZERS:
            raise ValueError(f"TrainConfig.optimizer must be one of {_OPTIMIZERS}, got {self.optimizer!r}")
        if self.lr_schedule not in _SCHEDULES:
            raise ValueError(f"TrainConfig.lr_schedule must be one of {_SCHEDULES}, got {self.lr_schedule!r}")
        if not 0 < self.plateau_factor < 1:
            raise ValueError(f"TrainConfig.plateau_factor must lie in (0, 1), got {self.plateau_factor!r}")
        if isinstance(self.plateau_patience, bool) or not isinstance(self.plateau_patience, int) or self.plateau_patience < 0:
            raise ValueError(f"TrainConfig.plateau_patience must be an integer >= 0, got {self.plateau_patience!r}")
        if self.min_lr < 0:
            raise ValueError(f"TrainConfig.min_lr must be >= 0, got {self.min_lr!r}")
        if self.plateau_mode not in ("min", "max"):
            raise ValueError(f"TrainConfig.plateau_mode must be 'min' or 'max', got {self.plateau_mode!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f"TrainConfig.seed must be an integer >= 0, got {self.seed!r}")
        if self.amp_dtype not in _AMP_DTYPES:
            raise ValueError(f"TrainConfig.amp_dtype must be one of {tuple(_AMP_DTYPES)}, got {self.amp_dtype!r}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"TrainConfig.grad_clip must be > 0 or None, got {self.grad_clip!r}")
        if isinstance(self.num_workers, bool) or not isinstance(self.num_workers, int) or self.num_workers < 0:
            raise ValueError(f"TrainConfig.num_workers must be an integer >= 0, got {self.num_workers!r}")
        if not isinstance(self.device, str):
            raise ValueError(f"TrainConfig.device must be a string such as 'auto', 'cpu', 'cuda', got {self.device!r}")

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


# ---------------------------------------------------------------------------------------------- device
def choose_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"``: CUDA if available, then Apple MPS, then CPU. An explicit device that is not available
    raises ``ValueError``."""
    if isinstance(device, torch.device):
        return device
    mps = getattr(torch.backends, "mps", None)
    mps_ok = bool(mps is not None and mps.is_available())
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if mps_ok:
            return torch.device("mps")
        return torch.device("cpu")
    try:
        d = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"unknown device {device!r}: use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'") from e
    if d.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available here (use device='auto' or 'cpu')")
    if d.type == "mps" and not mps_ok:
        raise ValueError(f"device {device!r} requested but MPS is not available here (use device='auto' or 'cpu')")
    return d


# --------------------------------------------------------------------------------------------- history
def _read_jsonl(path: Path) -> list[dict]:
    records = []
    if not path.is_file():
        return records
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut short by a kill; resume rewrites the file without it
    return records


class History:
    """The records of a training run, read from ``metrics.jsonl``.

    Each record is a dict with ``kind`` ("train" or "eval"), ``step`` (optimizer updates done), ``time``
    (seconds of training so far, summed over resumptions) and, for "train", ``lr`` (``d_lr``), ``loss``
    and the mean of every loss term over the ``log_every`` window (discriminator terms prefixed ``d_``);
    for "eval", the floats returned by ``eval_fn``.
    """

    def __init__(self, path: str | os.PathLike):
        p = Path(path)
        self.path = p / LOG_NAME if p.is_dir() or p.suffix != ".jsonl" else p
        self.records: list[dict] = _read_jsonl(self.path)

    def __len__(self) -> int:
        return len(self.records)

    def __repr__(self) -> str:
        return f"History({str(self.path)!r}, {len(self.train_records)} train / {len(self.eval_records)} eval records)"

    @property
    def train_records(self) -> list[dict]:
        return [r for r in self.records if r.get("kind") == "train"]

    @property
    def eval_records(self) -> list[dict]:
        return [r for r in self.records if r.get("kind") == "eval"]

    def frame(self):
        """All records as a pandas DataFrame (one row per record)."""
        import pandas as pd

        return pd.DataFrame.from_records(self.records)

    def _view(self, kind: str):
        import pandas as pd

        df = pd.DataFrame.from_records([r for r in self.records if r.get("kind") == kind])
        return df.dropna(axis=1, how="all").reset_index(drop=True)

    @property
    def train(self):
        """DataFrame of the training records (columns step, time, lr, loss, terms...)."""
        return self._view("train")

    @property
    def eval(self):
        """DataFrame of the evaluation records (columns step, time, metrics...)."""
        return self._view("eval")

    @property
    def final_metrics(self) -> dict:
        """The metrics of the last evaluation ({} if none)."""
        ev = self.eval_records
        if not ev:
            return {}
        return {k: v for k, v in ev[-1].items() if k not in ("kind", "step", "time")}

    @property
    def steps_done(self) -> int:
        return max((int(r["step"]) for r in self.records if "step" in r), default=0)


# -------------------------------------------------------------------------------------------- data
class _StepBatches(Sampler):
    """Yields the dataset indices of this rank's shard of the batches of updates ``start .. steps-1``."""

    def __init__(self, n: int, batch_size: int, seed: int, start: int, steps: int, rank: int, world: int):
        self.n, self.b, self.seed, self.start, self.steps = n, batch_size, seed, start, steps
        self.rank, self.world = rank, world
        self._epoch, self._perm = None, None

    def _index(self, pos: int) -> int:
        epoch, j = divmod(pos, self.n)
        if epoch != self._epoch:
            self._epoch = epoch
            self._perm = np.random.default_rng([self.seed, epoch]).permutation(self.n)
        return int(self._perm[j])

    def __len__(self) -> int:
        return self.steps - self.start

    def __iter__(self):
        local = self.b // self.world
        for t in range(self.start, self.steps):
            first = t * self.b + self.rank * local
            yield [self._index(p) for p in range(first, first + local)]


def _collate(items: list) -> torch.Tensor:
    out = []
    for it in items:
        if isinstance(it, Mapping):
            if "image" not in it:
                raise ValueError(f"dataset items that are dicts need an 'image' key, got keys {sorted(it)}")
            it = it["image"]
        elif isinstance(it, (tuple, list)):
            it = it[0]
        if isinstance(it, np.ndarray):
            it = torch.from_numpy(it)
        if not isinstance(it, torch.Tensor) or it.dim() != 3:
            raise ValueError("the dataset must return images as C x H x W tensors (or (image, ...) tuples / "
                             f"{{'image': ...}} dicts), got {type(it).__name__} {getattr(it, 'shape', '')}")
        out.append(it)
    return torch.stack(out)


def _make_masks(mask_fn: Callable, h: int, w: int, seed: int, t: int, indices: range) -> torch.Tensor:
    out = np.empty((len(indices), 1, h, w), np.float32)
    for j, i in enumerate(indices):
        m = mask_fn(h, w, np.random.default_rng([seed, t, i]))
        if not isinstance(m, np.ndarray):
            raise ValueError(f"mask_fn must return a numpy array of shape ({h}, {w}) (1 = known, 0 = hole), "
                             f"got {type(m).__name__}")
        if m.shape != (h, w):
            raise ValueError(f"mask_fn(h={h}, w={w}, rng) returned shape {m.shape}; expected ({h}, {w}) "
                             "float32 valid mask (1 = known, 0 = hole)")
        mf = m.astype(np.float32, copy=False)
        if not bool(((mf == 0) | (mf == 1)).all()):
            raise ValueError("mask_fn returned a non-binary mask (values other than exactly 0 and 1); expected a "
                             "float32 valid mask, 1 = known, 0 = hole")
        out[j, 0] = mf
    return torch.from_numpy(out)


# ------------------------------------------------------------------------------------------ running means
class _Accumulator:
    """Running sums (float64 tensors on the device: no host sync per step) of the logged loss terms."""

    def __init__(self, device: torch.device):
        self.device = device
        self.dtype = torch.float32 if device.type == "mps" else torch.float64  # MPS has no float64
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}

    def add(self, name: str, value) -> None:
        if isinstance(value, torch.Tensor):
            if value.numel() != 1:
                raise ValueError(f"loss term {name!r} must be a scalar, got a tensor of shape {tuple(value.shape)}")
            v = value.detach().reshape(()).to(self.device, self.dtype)
        else:
            try:
                v = torch.tensor(float(value), dtype=self.dtype, device=self.device)
            except (TypeError, ValueError):
                raise ValueError(f"loss term {name!r} must be a float or scalar tensor, got {type(value).__name__}") from None
        if name in self.sums:
            self.sums[name] = self.sums[name] + v
            self.counts[name] += 1
        else:
            self.sums[name], self.counts[name] = v, 1

    def _allreduce_sums(self, world: int) -> None:
        if world > 1 and self.sums:
            keys = sorted(self.sums)
            vec = torch.stack([self.sums[k] for k in keys])
            dist.all_reduce(vec, op=dist.ReduceOp.SUM)
            vec = vec / world
            self.sums = {k: vec[i] for i, k in enumerate(keys)}

    def means(self, world: int) -> dict[str, float]:
        self._allreduce_sums(world)
        keys = sorted(self.sums)
        if not keys:
            return {}
        vals = torch.stack([self.sums[k] for k in keys]).tolist()
        return {k: v / self.counts[k] for k, v in zip(keys, vals)}

    def reset(self) -> None:
        self.sums, self.counts = {}, {}

    def state(self, world: int) -> tuple[dict[str, torch.Tensor], dict]:
        self._allreduce_sums(world)  # every rank then holds the same values, which rank 0 saves
        keys = sorted(self.sums)
        tensors = {f"acc.{i}": self.sums[k].reshape(1) for i, k in enumerate(keys)}
        return tensors, {"names": keys, "counts": [self.counts[k] for k in keys]}

    def load(self, tensors: Mapping[str, torch.Tensor], info: Mapping) -> None:
        self.reset()
        for i, (k, c) in enumerate(zip(info.get("names", []), info.get("counts", []))):
            self.sums[k] = tensors[f"acc.{i}"].reshape(()).to(self.device, self.dtype)
            self.counts[k] = int(c)


# ---------------------------------------------------------------------------------------- distributed
class _Dist:
    def __init__(self, device_spec: str):
        self.world = int(os.environ.get("WORLD_SIZE", "1") or 1)
        self.rank = int(os.environ.get("RANK", "0") or 0) if self.world > 1 else 0
        self.created = False
        device = choose_device(device_spec)
        if device.type == "cuda":
            if self.world > 1:
                device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0") or 0))
            elif device.index is None:
                device = torch.device("cuda", torch.cuda.current_device())
            torch.cuda.set_device(device)
        self.device = device
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
            self.created = True
        if self.world > 1 and dist.get_world_size() != self.world:
            raise RuntimeError(f"WORLD_SIZE={self.world} but the process group has {dist.get_world_size()} ranks")
        # Device for collectives: nccl needs CUDA tensors, gloo CPU ones.
        self.comm = device if (self.world > 1 and dist.get_backend() == "nccl") else torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def broadcast_float(self, value: float | None) -> float:
        if self.world == 1:
            return float(value)
        t = torch.tensor([float("nan") if value is None else value], dtype=torch.float64, device=self.comm)
        dist.broadcast(t, src=0)
        return float(t.item())

    def gather(self, t: torch.Tensor) -> list[torch.Tensor]:
        if self.world == 1:
            return [t]
        t = t.to(self.comm)
        out = [torch.empty_like(t) for _ in range(self.world)]
        dist.all_gather(out, t)
        return [o.cpu() for o in out]

    def close(self) -> None:
        if self.created and dist.is_initialized():
            dist.destroy_process_group()


def _fresh_seed(seed: int, rank: int) -> int:
    return int(np.random.SeedSequence([seed, 0x7EED, rank]).generate_state(1)[0])


def _make_optimizer(params, kind: str, lr: float, betas, weight_decay: float) -> torch.optim.Optimizer:
    params = [p for p in params if p.requires_grad]
    if not params:
        raise ValueError("the model has no parameters that require gradients")
    cls = torch.optim.AdamW if kind == "adamw" else torch.optim.Adam
    return cls(params, lr=lr, betas=tuple(betas), weight_decay=weight_decay)


def _split_loss(out, what: str):
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


def _model_config(model: torch.nn.Module):
    cfg = getattr(model, "config", None)
    return cfg if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type) else None


def _truncate_log(path: Path, step: int) -> None:
    """Keep only the records up to ``step`` (the checkpoint), so a resumed run does not duplicate lines."""
    if not path.is_file():
        return
    kept = [r for r in _read_jsonl(path) if int(r.get("step", 0)) <= step]
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in kept))


def _remove_run_files(out_dir: Path) -> None:
    for name in (LOG_NAME, LAST_NAME, MODEL_NAME):
        p = out_dir / name
        for q in (p, sidecar_path(p)) if p.suffix == ".safetensors" else (p,):
            if q.exists():
                q.unlink()


# ---------------------------------------------------------------------------------------------- train
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
    data-defining fields must match) and log records after its step are dropped; if it already reached
    ``steps`` the weights are loaded into ``model`` and the history returned without training. With
    ``resume=False`` the run files in ``out_dir`` are removed first. The model is returned in eval mode.
    See the module docstring for the ``loss_fn`` / ``d_loss_fn`` / ``mask_fn`` / ``eval_fn`` contracts.
    """
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
    out_dir = Path(out_dir)
    ctx = _Dist(config.device)
    try:
        if config.batch_size % ctx.world:
            raise ValueError(f"batch_size={config.batch_size} is not divisible by the world size {ctx.world}")
        return _train(model, loss_fn, dataset, mask_fn, config, out_dir, eval_fn, discriminator, d_loss_fn,
                      resume, progress, dict(checkpoint_meta or {}), ctx)
    finally:
        ctx.close()


def _train(model, loss_fn, dataset, mask_fn, config: TrainConfig, out_dir: Path, eval_fn, discriminator,
           d_loss_fn, resume, progress, checkpoint_meta, ctx: _Dist) -> History:
    from tqdm.auto import tqdm

    device, rank, world = ctx.device, ctx.rank, ctx.world
    raw = model.to(device)
    raw_d = discriminator.to(device) if discriminator is not None else None
    opt = _make_optimizer(raw.parameters(), config.optimizer, config.lr, config.betas, config.weight_decay)
    d_opt = None
    if raw_d is not None:
        d_opt = _make_optimizer(raw_d.parameters(), config.optimizer, config.d_lr or config.lr,
                                config.d_betas or config.betas, config.weight_decay)
    sched = None
    if config.lr_schedule == "plateau":
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode=config.plateau_mode, factor=config.plateau_factor, patience=config.plateau_patience,
            min_lr=config.min_lr)
    use_amp = bool(config.amp and device.type == "cuda")
    amp_dtype = _AMP_DTYPES[config.amp_dtype]
    use_scaler = use_amp and amp_dtype == torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_scaler)
    d_scaler = torch.amp.GradScaler("cuda", enabled=use_scaler)
    acc = _Accumulator(device)

    def autocast():
        # mixed precision only on CUDA (DESIGN.md "Devices"); elsewhere a no-op context
        return torch.autocast(device_type="cuda", dtype=amp_dtype) if use_amp else contextlib.nullcontext()

    log_path, last_path, model_path = out_dir / LOG_NAME, out_dir / LAST_NAME, out_dir / MODEL_NAME
    model_cfg = checkpoint_meta.pop("config", None) or _model_config(raw)
    start, elapsed0, last_eval_step, last_metrics = 0, 0.0, 0, {}

    if ctx.main:
        out_dir.mkdir(parents=True, exist_ok=True)
        if not resume:
            _remove_run_files(out_dir)
    ctx.barrier()

    if resume and last_path.is_file():
        tensors, meta = load_checkpoint(last_path)
        _check_resumable(meta, config, last_path)
        raw.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        if raw_d is not None:
            d_state = {k[2:]: v for k, v in tensors.items() if k.startswith("d.")}
            if not d_state:
                raise ValueError(f"{last_path} holds no discriminator but a discriminator was passed")
            raw_d.load_state_dict(d_state)
        state = meta["state"]
        opt.load_state_dict(unflatten_state(state["optim"], tensors))
        if d_opt is not None and state.get("d_optim") is not None:
            d_opt.load_state_dict(unflatten_state(state["d_optim"], tensors))
        if sched is not None and state.get("sched") is not None:
            sched.load_state_dict(unflatten_state(state["sched"], tensors))
        if use_scaler and state.get("scaler"):
            scaler.load_state_dict(unflatten_state(state["scaler"], tensors))
        if use_scaler and state.get("d_scaler"):
            d_scaler.load_state_dict(unflatten_state(state["d_scaler"], tensors))
        acc.load(tensors, state.get("accumulator", {}))
        _restore_rng(tensors, meta, rank, world, device)
        start = int(meta["step"])
        elapsed0 = float(meta.get("elapsed", 0.0))
        last_eval_step = int(meta.get("last_eval_step", 0))
        last_metrics = dict(meta.get("metrics") or {})
        if ctx.main:
            _truncate_log(log_path, start)
    else:
        if ctx.main and resume:
            _remove_run_files(out_dir)  # no checkpoint to resume: start the log afresh
        torch.manual_seed(_fresh_seed(config.seed, rank))
    ctx.barrier()

    if start >= config.steps:
        if ctx.main and not model_path.is_file():
            _save_model(raw, model_path, model_cfg, config, start, last_metrics, checkpoint_meta)
        ctx.barrier()
        raw.eval()
        if raw_d is not None:
            raw_d.eval()
        return History(out_dir)

    net = raw
    d_net = raw_d
    if world > 1:
        ids = [device.index] if device.type == "cuda" else None
        net = torch.nn.parallel.DistributedDataParallel(raw, device_ids=ids)
        if raw_d is not None:
            d_net = torch.nn.parallel.DistributedDataParallel(raw_d, device_ids=ids)

    sampler = _StepBatches(len(dataset), config.batch_size, config.seed, start, config.steps, rank, world)
    loader_gen = torch.Generator()
    loader_gen.manual_seed(config.seed)  # the DataLoader must not draw from the global RNG (resume exactness)
    loader = DataLoader(dataset, batch_sampler=sampler, num_workers=config.num_workers, collate_fn=_collate,
                        pin_memory=device.type == "cuda", generator=loader_gen)
    local = config.batch_size // world

    def run_eval(step: int, t0: float, scheduled: bool) -> dict:
        nonlocal last_eval_step, last_metrics
        metrics = None
        if ctx.main:
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
            metrics = {str(k): float(v) for k, v in out.items()}
            rec = {"kind": "eval", "step": step, "time": elapsed0 + time.perf_counter() - t0, **metrics}
            log.write(json.dumps(rec) + "\n")
            log.flush()
        if scheduled and sched is not None and config.plateau_metric is not None:
            value = None
            if ctx.main:
                if config.plateau_metric not in metrics:
                    raise ValueError(f"plateau_metric {config.plateau_metric!r} is not among the eval metrics {sorted(metrics)}")
                value = metrics[config.plateau_metric]
            sched.step(ctx.broadcast_float(value))
        last_eval_step = step
        last_metrics = metrics or {}
        return last_metrics

    def save_state(step: int, t0: float) -> None:
        acc_tensors, acc_info = acc.state(world)
        rng_cpu = ctx.gather(torch.get_rng_state())
        rng_cuda = ctx.gather(torch.cuda.get_rng_state(device)) if device.type == "cuda" else []
        if ctx.main:
            tensors = {f"model.{k}": v for k, v in raw.state_dict().items()}
            if raw_d is not None:
                tensors.update({f"d.{k}": v for k, v in raw_d.state_dict().items()})
            tensors.update(acc_tensors)
            state: dict[str, Any] = {"accumulator": acc_info}
            for name, obj in (("optim", opt), ("d_optim", d_opt), ("sched", sched)):
                if obj is not None:
                    ts, tree = flatten_state(obj.state_dict(), name)
                    tensors.update(ts)
                    state[name] = tree
            if use_scaler:
                for name, sc in (("scaler", scaler), ("d_scaler", d_scaler)):
                    ts, tree = flatten_state(sc.state_dict(), name)
                    tensors.update(ts)
                    state[name] = tree
            for r, s in enumerate(rng_cpu):
                tensors[f"rng.cpu.{r}"] = s
            for r, s in enumerate(rng_cuda):
                tensors[f"rng.cuda.{r}"] = s
            meta = {
                "kind": "training_state",
                "config": model_cfg,
                "train_config": config,
                "step": step,
                "metrics": last_metrics,
                "last_eval_step": last_eval_step,
                "elapsed": elapsed0 + time.perf_counter() - t0,
                "world_size": world,
                "device": str(device),
                "state": state,
                **{k: v for k, v in checkpoint_meta.items() if k in ("scale", "chapter", "model")},
            }
            save_checkpoint(last_path, tensors, meta)
        ctx.barrier()

    raw.train()
    if raw_d is not None:
        raw_d.train()
    t0 = time.perf_counter()
    pbar = tqdm(total=config.steps, initial=start, disable=not (progress and ctx.main), desc="train",
                dynamic_ncols=True)
    log = open(log_path, "a", encoding="utf-8") if ctx.main else None
    try:
        for t, images in zip(range(start, config.steps), loader):
            # checked on the CPU, before the transfer, so the checks cost no device synchronisation
            check_image(images, name="dataset image batch")
            h, w = images.shape[-2:]
            valid = _make_masks(mask_fn, h, w, config.seed, t, range(rank * local, (rank + 1) * local))
            check_valid(valid, image=images)
            images = images.to(device, non_blocking=True)
            valid = valid.to(device, non_blocking=True)

            if raw_d is not None:
                raw_d.requires_grad_(True)
                d_opt.zero_grad(set_to_none=True)
                with autocast():
                    d_loss, d_terms = _split_loss(d_loss_fn(raw, d_net, images, valid), "d_loss_fn")
                d_scaler.scale(d_loss).backward()
                if config.grad_clip is not None:
                    d_scaler.unscale_(d_opt)
                    torch.nn.utils.clip_grad_norm_(raw_d.parameters(), config.grad_clip)
                d_scaler.step(d_opt)
                d_scaler.update()
                raw_d.requires_grad_(False)
                for k, v in d_terms.items():
                    acc.add(k if k.startswith("d_") else f"d_{k}", v)
                acc.add("d_loss", d_loss)

            opt.zero_grad(set_to_none=True)
            with autocast():
                loss, terms = _split_loss(loss_fn(net, images, valid), "loss_fn")
            scaler.scale(loss).backward()
            if config.grad_clip is not None:
                scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_(raw.parameters(), config.grad_clip)
            scaler.step(opt)
            scaler.update()
            if raw_d is not None:
                raw_d.requires_grad_(True)
            for k, v in terms.items():
                if k != "loss":
                    acc.add(k, v)
            acc.add("loss", loss)

            step = t + 1
            if step % config.log_every == 0:
                lr = opt.param_groups[0]["lr"]
                means = acc.means(world)
                acc.reset()
                if not math.isfinite(means["loss"]):
                    raise FloatingPointError(f"training loss is {means['loss']} in the {config.log_every} steps up to "
                                             f"step {step}; lower lr, enable grad_clip or check the data")
                if sched is not None and config.plateau_metric is None:
                    sched.step(means["loss"])
                rec = {"kind": "train", "step": step, "time": elapsed0 + time.perf_counter() - t0, "lr": lr}
                if d_opt is not None:
                    rec["d_lr"] = d_opt.param_groups[0]["lr"]
                rec["loss"] = means.pop("loss")
                if "d_loss" in means:
                    rec["d_loss"] = means.pop("d_loss")
                rec.update(means)
                if ctx.main:
                    log.write(json.dumps(rec) + "\n")
                    log.flush()
                    pbar.set_postfix(loss=f"{rec['loss']:.4g}", refresh=False)
            if eval_fn is not None and config.eval_every is not None and step % config.eval_every == 0:
                run_eval(step, t0, scheduled=True)
            if config.ckpt_every is not None and step % config.ckpt_every == 0 and step != config.steps:
                save_state(step, t0)
            pbar.update(1)

        if eval_fn is not None and last_eval_step != config.steps:
            run_eval(config.steps, t0, scheduled=False)
        save_state(config.steps, t0)
        if ctx.main:
            _save_model(raw, model_path, model_cfg, config, config.steps, last_metrics, checkpoint_meta)
        ctx.barrier()
    finally:
        pbar.close()
        if log is not None:
            log.close()
    raw.eval()
    if raw_d is not None:
        raw_d.eval()
    return History(out_dir)


def _save_model(raw, path: Path, model_cfg, config: TrainConfig, step: int, metrics: Mapping, extra: Mapping) -> None:
    meta = {"kind": "model", "config": model_cfg, "train_config": config, "step": step, "metrics": dict(metrics)}
    meta.update(extra)
    save_checkpoint(path, raw, meta)


def _check_resumable(meta: Mapping, config: TrainConfig, path: Path) -> None:
    if meta.get("kind") != "training_state" or "state" not in meta:
        raise ValueError(f"{path} is not a training-state checkpoint written by inpaintlib.train")
    old = meta.get("train_config") or {}
    new = config.to_dict()
    diff = sorted(k for k in set(old) | set(new) if k not in _RESUMABLE_CHANGES and old.get(k) != new.get(k))
    if diff:
        details = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in diff)
        raise ValueError(f"{path} was written by a run with a different config ({details}); resuming would not "
                         "reproduce it. Use another out_dir, or resume=False to start over")


def _restore_rng(tensors: Mapping[str, torch.Tensor], meta: Mapping, rank: int, world: int, device) -> None:
    saved_world = int(meta.get("world_size", 1))
    if saved_world != world:
        warnings.warn(f"resuming a run saved with world size {saved_world} on {world} process(es): the batches are "
                      "sharded differently, so the result will not equal an uninterrupted run", stacklevel=3)
    r = rank if f"rng.cpu.{rank}" in tensors else 0
    if f"rng.cpu.{r}" in tensors:
        torch.set_rng_state(tensors[f"rng.cpu.{r}"].to(torch.uint8))
    if device.type == "cuda" and f"rng.cuda.{r}" in tensors:
        torch.cuda.set_rng_state(tensors[f"rng.cuda.{r}"].to(torch.uint8), device)
