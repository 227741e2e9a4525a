"""Plan the paper-scale runs before paying for them: FLOPs per training step, an estimate of the peak training memory,
and the GPU-hours each chapter's training and ablation would take (``notebooks/bench/04_planning``).

Everything is derived from the chapters' own specs and recipes, on **meta tensors** (shapes without data: nothing is
allocated and nothing is computed, so a step at the paper's batch and 256 px costs seconds of CPU at most, the same
at any batch):

* **the schedule**: a chapter's ``train_<paper>`` is called with the paper's recipe while its ``train_model`` is
  replaced by a recorder (:func:`training_stages`), so each stage it would train (DeepGIN's warm-up and adversarial
  stage, MSA-Net's two learning-rate stages) is seen with its own ``TrainConfig`` (steps, batch, ``d_steps``), its
  network, its loss function and, where the recipe trains one, its discriminator and discriminator loss: exactly the
  objects :func:`inpaintlib.train.train` would be given. No paper-specific knowledge is needed beyond the
  conventions every chapter follows (``train_<paper>(config, recipe, dataset, out_dir)``, an optional
  ``recipe_for_dataset`` and ``ablation_recipe``);
* **FLOPs per step** (:func:`step_cost`): ``torch.utils.flop_counter.FlopCounterMode`` over one generator step
  (the chapter's loss function -- the network's forward, the loss networks (VGG, MSA-Net's own feature passes), the
  adversarial term through the discriminator -- and its backward) plus ``d_steps`` discriminator steps (its loss,
  gradient penalty included, and backward), as :func:`inpaintlib.train.train` runs them. FlopCounterMode counts
  the matrix products and convolutions (2 FLOPs per multiply-accumulate; elementwise operations, normalisations and
  pooling are not counted, as usual in such counts);
* **memory** (:func:`peak_memory`, an estimate): ``16 B x trainable parameters`` (float32 weights, gradients and
  Adam's two moments: 4 x 4 B) of the generator and discriminator, plus the frozen weights the loss needs (VGG),
  plus the bytes of the tensors autograd keeps for the backward pass of the heavier step (counted with
  ``torch.autograd.graph.saved_tensors_hooks`` during a meta forward, each storage once);
* **hours** (:func:`gpu_hours`): ``steps x FLOPs per step / (peak FLOP/s x utilisation) / 3600``.

Meta tensors have no values, so a read of a value (``.item()``, ``bool(t)``, ``torch.equal``, ``nonzero``) cannot be
answered from data; :class:`MetaReads` answers them as for a training batch with holes (the general path of every
layer), and the input validation, which only reads values, is skipped (:func:`counting`). A chapter that cannot be
counted this way is reported with its error (:func:`plan_chapter`), never with a guess.
"""
from __future__ import annotations

import contextlib
import dataclasses
import importlib
import math
import sys
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Callable, Iterable, Mapping

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._device import _device_constructors
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["PAPERS", "LABELS", "GPU", "GPUS", "gpu_spec", "recipe_precision", "ADAM_STATE_COPIES", "FLOAT32_BYTES",
           "MetaReads", "AllMeta", "counting", "TotalFlopCounter", "StepCost", "step_cost", "network_cost", "Stage",
           "training_stages", "stage_cost", "state_bytes", "peak_memory", "gpu_hours", "chapter_runs", "plan_chapter",
           "plan", "schedule_table", "flops_table", "memory_table", "hours_table", "totals", "totals_table",
           "macs_check", "hours_figure", "findings"]

PAPERS = ("msfef", "msanet", "deepgin", "pmrfn", "ctxattn")
LABELS = {"msfef": "MSFEF", "msanet": "MSA-Net", "deepgin": "DeepGIN", "pmrfn": "PMRFN", "ctxattn": "CtxAttn"}
#: Bytes per value of every tensor in the memory estimate: float32 throughout (under mixed precision many
#: activations are float16, so there the activation term is an upper bound; the weights and Adam states stay float32).
FLOAT32_BYTES = 4
#: Copies of each trainable parameter that training holds: the weight, its gradient and Adam's two moments.
ADAM_STATE_COPIES = 4


@dataclass(frozen=True)
class GPU:
    """A GPU's vendor peaks (dense, without sparsity) in TFLOP/s, and its memory."""

    name: str
    fp16_tflops: float  # float16 / bfloat16 on the tensor cores
    tf32_tflops: float  # TF32 on the tensor cores (PyTorch's default for cuDNN convolutions in float32)
    fp32_tflops: float  # plain float32, no tensor cores
    memory_gib: float

    def peak_flops(self, precision: str = "fp16") -> float:
        """Peak FLOP/s at ``precision``: ``"fp16"``, ``"tf32"`` or ``"fp32"``."""
        peaks = {"fp16": self.fp16_tflops, "tf32": self.tf32_tflops, "fp32": self.fp32_tflops}
        if precision not in peaks:
            raise ValueError(f"precision must be one of {sorted(peaks)}, got {precision!r}")
        return 1e12 * peaks[precision]


#: NVIDIA's A100 datasheet (dense): 312 TFLOP/s FP16/BF16 tensor core, 156 TF32 tensor core, 19.5 FP32; 40 GB.
GPUS = {"NVIDIA A100 40GB": GPU("NVIDIA A100 40GB", fp16_tflops=312.0, tf32_tflops=156.0, fp32_tflops=19.5,
                                memory_gib=40.0)}


def gpu_spec(name: str | GPU) -> GPU:
    """The :class:`GPU` called ``name`` in :data:`GPUS` (a :class:`GPU` passes through)."""
    if isinstance(name, GPU):
        return name
    if name not in GPUS:
        raise ValueError(f"unknown GPU {name!r}; known: {sorted(GPUS)} (add its peaks to inpaintlib.bench.plan.GPUS)")
    return GPUS[name]


def recipe_precision(train_config) -> str:
    """The precision a recipe's matrix products run in on a GPU: ``"fp16"`` with mixed precision (``amp``, float16
    or bfloat16 autocast), else ``"tf32"`` (float32 tensors; PyTorch runs cuDNN convolutions in TF32 by default)."""
    return "fp16" if getattr(train_config, "amp", False) else "tf32"


# ------------------------------------------------------------------------------------ counting on meta tensors
_aten = torch.ops.aten
_READS = {_aten._local_scalar_dense.default, _aten.is_nonzero.default}


#: Resampling operators whose meta implementation is PyTorch's Python decomposition (tens of operators per call):
#: on meta tensors only their output's shape is made (no FLOPs are counted for them either way).
_RESAMPLE = {_aten.upsample_bilinear2d, _aten.upsample_nearest2d, _aten.upsample_bicubic2d}


#: Clamps whose meta implementation is a Python reference (about a millisecond a call, a thousand calls in PMRFN's
#: priority layers per forward): with number bounds, a float tensor clamps to a tensor like itself.
_CLAMPS = {_aten.clamp, _aten.clamp_min, _aten.clamp_max}


def _resampled(func, args, kwargs) -> torch.Tensor:
    """The output of an ``upsample_*2d`` call on a meta tensor: ``N x C x output_size``, the size given or
    ``floor(input size x scale)`` (PyTorch's rule)."""
    names = [a.name for a in func._schema.arguments]
    bound = {**dict(zip(names, args)), **kwargs}
    x = bound["input"] if "input" in bound else bound["self"]
    size = bound.get("output_size")
    if not size:
        scales = bound.get("scale_factors") or (bound.get("scales_h"), bound.get("scales_w"))
        size = [int(math.floor(n * float(f))) for n, f in zip(x.shape[-2:], scales)]
    return torch.empty((*x.shape[:-2], *size), dtype=x.dtype, device="meta",
                       memory_format=torch.channels_last if x.is_contiguous(memory_format=torch.channels_last)
                       and not x.is_contiguous() else torch.contiguous_format)


class MetaReads(TorchDispatchMode):
    """Answers the data-dependent reads of meta tensors, which have shapes but no values, as for a training batch
    with holes, so that every layer takes its general path:

    * ``torch.equal`` -> True, ``.all()`` -> True (a check that every value is binary/finite holds);
    * ``.any()`` -> True (there is a hole to fill), except after a test for negative values (``x < 0``): none;
    * any other value read -> True for booleans, 1 for integers, 0.5 for floats (also for ``.tolist()`` /
      ``.cpu()`` of a meta tensor);
    * ``nonzero`` -> every element non-zero (PyTorch's own meta policy, ``meta_nonzero_assume_all_nonzero``).

    Two shortcuts save time and change no count: ``upsample_*2d`` and ``clamp`` with number bounds make only their
    output's shape (their meta implementations are slow Python decompositions; FlopCounterMode counts neither).

    Only shapes follow from these answers in the book's networks (which branch runs, never how large a tensor is),
    so the counts are those of a batch with holes."""

    def __init__(self):
        super().__init__()
        self._tags: dict[int, tuple[torch.Tensor, bool]] = {}  # id -> (tensor kept alive, its truth)

    def _tag(self, t, value: bool):
        if isinstance(t, torch.Tensor):
            self._tags[id(t)] = (t, value)
        return t

    def _value(self, t: torch.Tensor):
        if id(t) in self._tags and self._tags[id(t)][0] is t:
            return self._tags[id(t)][1]
        if t.dtype == torch.bool:
            return True
        return 0.5 if t.is_floating_point() or t.is_complex() else 1

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: D105
        kwargs = kwargs or {}
        meta = [a for a in args if isinstance(a, torch.Tensor) and a.device.type == "meta"]
        if not meta:
            return func(*args, **kwargs)
        packet = func.overloadpacket
        if func in _READS:
            return self._value(args[0])
        if packet is _aten.equal:
            return True
        if packet is _aten._to_copy and torch.device(kwargs.get("device") or "meta").type != "meta":
            t = args[0]
            dtype = kwargs.get("dtype") or t.dtype
            return torch.full(t.shape, self._value(t), dtype=dtype, device=kwargs["device"])
        if packet is _aten.nonzero:
            t = args[0]
            return torch.empty((t.numel(), t.dim()), dtype=torch.long, device="meta")
        if packet in _RESAMPLE:
            return _resampled(func, args, kwargs)
        if (packet in _CLAMPS and args[0].is_floating_point()
                and not any(isinstance(a, torch.Tensor) for a in (*args[1:], *kwargs.values()))):
            return torch.empty_like(args[0])
        out = func(*args, **kwargs)
        if packet is _aten.lt and len(args) > 1 and not isinstance(args[1], torch.Tensor) and args[1] == 0:
            return self._tag(out, False)  # "x < 0": no negative value
        if packet is _aten.any:
            return self._tag(out, self._value(args[0]) if id(args[0]) in self._tags else True)
        if packet is _aten.all:
            return self._tag(out, True)
        return out


class AllMeta(TorchFunctionMode):
    """Every tensor made inside the block lands on the meta device, whatever device the code names (a VGG built on
    ``"cpu"`` included): nothing is allocated and no weight is initialised."""

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: D105
        kwargs = dict(kwargs or {})
        if kwargs.get("device") is not None or func in _device_constructors():
            kwargs["device"] = "meta"
        return func(*args, **kwargs)


def _identity_check(value, *args, **kwargs):
    return value


@contextlib.contextmanager
def counting():
    """For the duration of the block: meta reads answered (:class:`MetaReads`); the library's input validation
    (``check_valid``, ``check_image`` of :mod:`inpaintlib._validate`, which only read values) skipped in every loaded
    ``inpaintlib`` module; ``torch.is_autocast_enabled("meta")`` False and ``torch.autocast("meta", ...)`` a no-op
    (autocast has no meta device; the counts are those of float32)."""
    from .. import _validate

    originals = {name: getattr(_validate, name) for name in ("check_valid", "check_image")}
    patched = [(torch, "is_autocast_enabled", torch.is_autocast_enabled), (torch, "autocast", torch.autocast)]
    is_enabled, autocast = torch.is_autocast_enabled, torch.autocast
    # autocast knows no "meta" device: on meta it is off, and turning it off is a no-op
    torch.is_autocast_enabled = lambda *a: False if a and a[0] == "meta" else is_enabled(*a)
    torch.autocast = lambda device_type, *a, **k: (contextlib.nullcontext() if device_type == "meta"
                                                   else autocast(device_type, *a, **k))
    for mod in list(sys.modules.values()):
        if getattr(mod, "__name__", "").startswith("inpaintlib"):
            for name, fn in originals.items():
                if getattr(mod, name, None) is fn:
                    setattr(mod, name, _identity_check)
                    patched.append((mod, name, fn))
    try:
        with MetaReads():
            yield
    finally:
        for mod, name, fn in patched:
            setattr(mod, name, fn)


class _Global:
    """A module tracker that tracks nothing: every FLOP goes to ``"Global"``."""

    parents = frozenset({"Global"})

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class TotalFlopCounter(FlopCounterMode):
    """``torch.utils.flop_counter.FlopCounterMode`` (its FLOP formulas, its ``get_total_flops``) without the
    per-module breakdown, which the plan does not need: the module tracker behind it hooks the backward pass in a
    way that ``torch.autograd.grad`` inside the counted block (a WGAN-GP gradient penalty) does not support."""

    def __init__(self):
        super().__init__(display=False)
        self.mod_tracker = _Global()


@dataclass(frozen=True)
class StepCost:
    """One forward and backward pass: FLOPs of the forward (``forward_flops``) and of both (``flops``); bytes of the
    tensors kept for backward (``saved_bytes``: activations, each storage once, the tensors in ``exclude`` left out)
    and of the frozen weights among them (``frozen_bytes``: parameters outside ``exclude``, e.g. a VGG)."""

    flops: int
    forward_flops: int
    saved_bytes: int
    frozen_bytes: int

    @property
    def backward_flops(self) -> int:
        return self.flops - self.forward_flops


def _storage(t: torch.Tensor) -> tuple[int, int]:
    try:
        s = t.untyped_storage()
        return s._cdata, s.nbytes()
    except (RuntimeError, NotImplementedError):  # a tensor subclass without a storage
        return id(t), t.numel() * t.element_size()


def step_cost(fn: Callable[[], torch.Tensor], exclude: Iterable[torch.Tensor] = ()) -> StepCost:
    """Count ``loss = fn()`` and ``loss.backward()``: FLOPs with ``FlopCounterMode`` (convolutions and matrix
    products, 2 per multiply-accumulate), and the bytes of every tensor autograd saves for backward during ``fn()``
    (``saved_tensors_hooks``), each storage counted once; storages of ``exclude`` (the trained parameters, counted
    in the optimizer state) are left out, other parameters and views of them (frozen loss networks) are reported
    apart. Meant for meta tensors inside :func:`counting`."""
    excluded = {_storage(t)[0] for t in exclude}
    saved: dict[int, tuple[torch.Tensor, int, bool]] = {}

    def pack(t):
        key, nbytes = _storage(t)
        if key not in excluded and key not in saved:
            saved[key] = (t, nbytes, isinstance(t, nn.Parameter) or isinstance(t._base, nn.Parameter))
        return t

    counter = TotalFlopCounter()
    with counter:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss = fn()
        forward = counter.get_total_flops()
        loss.backward()
    return StepCost(flops=int(counter.get_total_flops()), forward_flops=int(forward),
                    saved_bytes=sum(n for _, n, frozen in saved.values() if not frozen),
                    frozen_bytes=sum(n for _, n, frozen in saved.values() if frozen))


def _tensors(out) -> list[torch.Tensor]:
    """Every floating-point tensor in a network's output (a tensor, tuple/list, dict or dataclass)."""
    if isinstance(out, torch.Tensor):
        return [out] if out.is_floating_point() else []
    if isinstance(out, Mapping):
        return [t for v in out.values() for t in _tensors(v)]
    if isinstance(out, (tuple, list)):
        return [t for v in out for t in _tensors(v)]
    if dataclasses.is_dataclass(out):
        return [t for f in dataclasses.fields(out) for t in _tensors(getattr(out, f.name))]
    return []


def _scalar(out) -> torch.Tensor:
    return sum(t.sum() for t in _tensors(out) if t.requires_grad)


def network_cost(model: nn.Module, image: torch.Tensor, valid: torch.Tensor) -> tuple[StepCost, Any]:
    """One forward ``model(image, valid)`` and the backward of the sum of its outputs (whatever it returns: a
    tensor, a tuple or a dataclass): the network alone, without its loss. Returns the cost and the output."""
    box = {}

    def fn():
        box["out"] = model(image, valid)
        return _scalar(box["out"])
    return step_cost(fn, exclude=list(model.parameters())), box["out"]


def _detached(out):
    if isinstance(out, torch.Tensor):
        return out.detach()
    if isinstance(out, Mapping):
        return type(out)({k: _detached(v) for k, v in out.items()})
    if isinstance(out, (tuple, list)):
        return type(out)(_detached(v) for v in out)
    if dataclasses.is_dataclass(out):
        return dataclasses.replace(out, **{f.name: _detached(getattr(out, f.name)) for f in dataclasses.fields(out)
                                           if f.init})
    return out


@contextlib.contextmanager
def _forward_reused(model: nn.Module, image: torch.Tensor, valid: torch.Tensor, out, flops: int, box: list):
    """Inside the block, a call ``model(image, valid)`` without gradient returns ``out`` (detached) and adds
    ``flops`` to ``box[0]`` instead of tracing the same forward again (a discriminator step's generator pass: the
    same network, inputs and FLOPs as the forward counted by :func:`network_cost`). Any other call runs."""
    original = model.forward

    def forward(*args, **kwargs):
        if (not torch.is_grad_enabled() and not kwargs and len(args) == 2 and args[0].shape == image.shape
                and args[1].shape == valid.shape):
            box[0] += flops
            return _detached(out)
        return original(*args, **kwargs)
    model.forward = forward
    try:
        yield
    finally:
        del model.forward


# ------------------------------------------------------------------------------------------ the chapters' runs
@dataclass
class Stage:
    """One call of ``train_model`` that a chapter's ``train_<paper>`` makes: its name (the sub-folder, "main" for
    the run's own), its ``TrainConfig`` and the objects :func:`inpaintlib.train.train` would get."""

    name: str
    config: Any
    model: nn.Module
    loss_fn: Callable
    discriminator: nn.Module | None = None
    d_loss_fn: Callable | None = None

    @property
    def steps(self) -> int:
        return int(self.config.steps)

    @property
    def d_steps(self) -> int:
        return int(self.config.d_steps) if self.discriminator is not None else 0


def _package(paper: str):
    return importlib.import_module(f"inpaintlib.papers.{paper}")


@contextlib.contextmanager
def _replaced(module, name: str, value):
    old = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, old)


def training_stages(paper: str, recipe, config=None, models: dict | None = None) -> list[Stage]:
    """The stages ``train_<paper>(config, recipe, ...)`` trains, recorded instead of run: the chapter's function is
    called with its module's ``train_model`` replaced by a recorder that builds the network on meta tensors and
    returns it untrained. A recipe with a ``vgg_backbone`` gets ``"random"`` (the weights do not change a count, and
    the ImageNet ones need a download). ``config``: the network config (default: the paper's). ``models``: stage
    name -> network already built for this chapter and config (filled in; another run of the same chapter, e.g. on
    another dataset, then reuses them instead of building them again)."""
    from ..registry import paper_model

    config = config if config is not None else paper_model(paper).config_cls.paper()
    train_fn = getattr(_package(paper), f"train_{paper}")
    if hasattr(recipe, "vgg_backbone"):
        recipe = dataclasses.replace(recipe, vgg_backbone="random")
    root = PurePosixPath("plan")
    stages: list[Stage] = []

    def recorder(build, loss_fn, dataset, mask_fn, train_config, out_dir, *, discriminator=None, d_loss_fn=None,
                 **_):
        rel = str(PurePosixPath(out_dir).relative_to(root))
        name = rel if rel != "." else "main"
        model = models[name] if models is not None and name in models else build()
        if models is not None:
            models[name] = model
        stages.append(Stage(name, train_config, model, loss_fn, discriminator, d_loss_fn))
        return model, None

    with AllMeta(), _replaced(sys.modules[train_fn.__module__], "train_model", recorder):
        train_fn(config, recipe, None, str(root), progress=False, resume=False)
    return stages


def stage_cost(stage: Stage, image_size: int) -> dict:
    """FLOPs and memory of one training step of ``stage`` at its batch and ``image_size``, counted on meta tensors
    as :func:`inpaintlib.train.train` runs it: ``d_steps`` discriminator steps (its loss and backward; the
    generator's forward inside it without gradient, taken from the network pass when it is ``model(image, valid)``:
    :func:`_forward_reused`), then the generator step (its loss and backward, the
    discriminator frozen). Returns a dict: ``net_flops`` (the network's own forward + backward),
    ``net_forward_flops``, ``g_step_flops`` (the whole generator step: network, loss networks, adversarial term),
    ``d_step_flops`` (one discriminator step), ``flops_per_step = g_step + d_steps x d_step``; parameter counts;
    ``saved_g_bytes``/``saved_d_bytes`` (activations kept for backward in each step), ``frozen_bytes`` (frozen
    weights the loss uses) and ``peak_bytes`` (:func:`peak_memory`)."""
    b = stage.config.batch_size
    model, disc = stage.model, stage.discriminator
    with torch.device("meta"):
        image, valid = torch.empty(b, 3, image_size, image_size), torch.empty(b, 1, image_size, image_size)
    g_params = [p for p in model.parameters() if p.requires_grad]
    d_params = [p for p in disc.parameters()] if disc is not None else []
    model.train()
    with counting():
        net, out = network_cost(model, image, valid)
        model.zero_grad(set_to_none=True)
        if disc is not None:
            disc.train()
            disc.requires_grad_(False)
        g = step_cost(lambda: _loss(stage.loss_fn(model, image, valid)), exclude=g_params + d_params)
        model.zero_grad(set_to_none=True)
        d, reused = None, [0]
        if disc is not None and stage.d_loss_fn is not None:
            disc.requires_grad_(True)
            with _forward_reused(model, image, valid, out, net.forward_flops, reused):
                d = step_cost(lambda: _loss(stage.d_loss_fn(model, disc, image, valid)),
                              exclude=g_params + d_params)
            disc.zero_grad(set_to_none=True)
            model.zero_grad(set_to_none=True)
    n_g, n_d = sum(p.numel() for p in g_params), sum(p.numel() for p in d_params)
    frozen = max(g.frozen_bytes, d.frozen_bytes if d else 0)
    d_flops = d.flops + reused[0] if d else 0
    return {"batch": b, "image_size": image_size, "steps": stage.steps, "d_steps": stage.d_steps,
            "g_params": n_g, "d_params": n_d,
            "net_forward_flops": net.forward_flops, "net_flops": net.flops, "g_step_flops": g.flops,
            "d_step_flops": d_flops, "flops_per_step": g.flops + stage.d_steps * d_flops,
            "saved_g_bytes": g.saved_bytes, "saved_d_bytes": d.saved_bytes if d else 0, "frozen_bytes": frozen,
            "peak_bytes": peak_memory(n_g + n_d, max(g.saved_bytes, d.saved_bytes if d else 0), frozen)}


def _loss(out) -> torch.Tensor:
    """The scalar loss of what a loss function returns (``loss`` or ``(loss, terms)``)."""
    return out[0] if isinstance(out, (tuple, list)) else out


def state_bytes(n_params: int, bytes_per_value: int = FLOAT32_BYTES, copies: int = ADAM_STATE_COPIES) -> int:
    """``copies x bytes_per_value x n_params``: weights, gradients and Adam's two moments in float32 = 16 B per
    trainable parameter."""
    return int(copies * bytes_per_value * n_params)


def peak_memory(trainable_params: int, saved_bytes: int, frozen_bytes: int = 0) -> int:
    """Estimated peak training memory in bytes: ``16 B x trainable parameters`` (:func:`state_bytes`, generator and
    discriminator) ``+ frozen_bytes`` (frozen loss-network weights) ``+ saved_bytes`` (the activations kept for
    backward in the heavier step). An estimate: it leaves out the transient buffers of the backward pass, cuDNN
    workspaces, the allocator's fragmentation and the CUDA context (several hundred MB)."""
    return state_bytes(trainable_params) + int(frozen_bytes) + int(saved_bytes)


def gpu_hours(steps: float, flops_per_step: float, peak_flops: float, utilisation: float) -> float:
    """``steps x flops_per_step / (peak_flops x utilisation) / 3600``: hours of one GPU that sustains
    ``utilisation`` of its peak (an assumption: the real fraction depends on the kernels, the input pipeline and
    the precision, and is measured by ``make book SCALE=paper SMOKE=1``)."""
    if not 0 < utilisation <= 1:
        raise ValueError(f"utilisation must be in (0, 1], got {utilisation}")
    if peak_flops <= 0:
        raise ValueError(f"peak_flops must be positive, got {peak_flops}")
    return float(steps) * float(flops_per_step) / (float(peak_flops) * float(utilisation)) / 3600.0


def _ablation_recipe(paper: str):
    """The chapter's ``ablation_recipe("paper")`` (from its package or its ``.ablation`` module; a tuple's first
    element when it returns ``(recipe, flags)``), else None."""
    pkg = _package(paper)
    fn = getattr(pkg, "ablation_recipe", None)
    if fn is None:
        try:
            fn = getattr(importlib.import_module(f"{pkg.__name__}.ablation"), "ablation_recipe", None)
        except ModuleNotFoundError:
            fn = None
    if fn is None:
        return None
    r = fn("paper")
    return r[0] if isinstance(r, tuple) else r


def chapter_runs(paper: str) -> list[dict]:
    """The paper-scale runs of a chapter: one training run per dataset of ``SPEC.recipe("paper").datasets`` (steps
    from the chapter's ``recipe_for_dataset(recipe, n_train)`` where it has one, with the registry's training count;
    otherwise the recipe's), and the ablation: ``len(SPEC.ablation_variants["paper"]) x
    SPEC.ablation_seeds["paper"]`` runs of ``ablation_recipe("paper")`` (else the paper recipe). Each: ``kind``,
    ``dataset``, ``n_train``, ``runs`` (how many), ``recipe``."""
    from ..datasets import REGISTRY

    pkg = _package(paper)
    spec = pkg.SPEC
    recipe = spec.recipe("paper")
    per_dataset = getattr(pkg, "recipe_for_dataset", None)
    out = []
    for name in getattr(recipe, "datasets", ()) or ("(the recipe's)",):
        n = REGISTRY[name].counts["train"] if name in REGISTRY else None
        rec = per_dataset(recipe, n) if (per_dataset is not None and n) else recipe
        out.append({"kind": "training", "dataset": name, "n_train": n, "runs": 1, "recipe": rec})
    ablation = _ablation_recipe(paper) or recipe
    variants = tuple(spec.ablation_variants.get("paper", ()))
    seeds = int(spec.ablation_seeds.get("paper", 1))
    if variants:
        first = (getattr(recipe, "datasets", ()) or ("(the recipe's)",))[0]
        out.append({"kind": "ablation", "dataset": first, "n_train": REGISTRY[first].counts["train"]
                    if first in REGISTRY else None, "runs": len(variants) * seeds, "variants": len(variants),
                    "seeds": seeds, "recipe": ablation})
    return out


def plan_chapter(paper: str, gpu: GPU, utilisation: float) -> dict:
    """Everything the planning page shows for one chapter: its runs (:func:`chapter_runs`), each run's stages and
    their counted cost (:func:`stage_cost`, one count per distinct stage and batch) and GPU-hours at the peak of
    the recipe's precision (``hours``, :func:`recipe_precision`) and, for reference, at the plain float32 peak
    (``hours_fp32``). ``error`` holds the reason when the chapter could not be counted."""
    from ..registry import paper_model

    config = paper_model(paper).config_cls.paper()
    size = int(config.image_size)
    cache: dict[tuple, dict] = {}
    models: dict[str, nn.Module] = {}
    captured: list[tuple[Any, list[Stage]]] = []
    runs = []
    try:
        for run in chapter_runs(paper):
            stages = next((st for rec, st in captured if rec == run["recipe"]), None)
            if stages is None:
                stages = training_stages(paper, run["recipe"], config, models)
                captured.append((run["recipe"], stages))
            costed = []
            for st in stages:
                key = (st.name, st.config.batch_size)
                if key not in cache:
                    cache[key] = stage_cost(st, size)
                c = {**cache[key], "stage": st.name, "steps": st.steps, "d_steps": st.d_steps}
                c["flops_per_step"] = c["g_step_flops"] + st.d_steps * c["d_step_flops"]
                c["s_per_step"] = 3600 * gpu_hours(1, c["flops_per_step"], gpu.peak_flops(recipe_precision(st.config)),
                                                   utilisation)
                costed.append(c)
            flops = sum(c["steps"] * c["flops_per_step"] for c in costed) * run["runs"]
            precision = recipe_precision(run["recipe"].train)
            runs.append({**{k: v for k, v in run.items() if k != "recipe"}, "stages": costed,
                         "steps": sum(c["steps"] for c in costed), "flops": flops, "precision": precision,
                         "hours": gpu_hours(1, flops, gpu.peak_flops(precision), utilisation),
                         "hours_fp32": gpu_hours(1, flops, gpu.peak_flops("fp32"), utilisation)})
    except Exception as e:  # reported in the table, never replaced by a guess
        return {"paper": paper, "image_size": size, "runs": runs, "error": f"{type(e).__name__}: {e}"}
    return {"paper": paper, "image_size": size, "runs": runs, "error": None}


def plan(papers: Iterable[str] = PAPERS, gpu: str | GPU = "NVIDIA A100 40GB", utilisation: float = 0.4) -> list[dict]:
    """:func:`plan_chapter` for every chapter, on ``gpu`` (a name in :data:`GPUS` or a :class:`GPU`)."""
    g = gpu_spec(gpu)
    return [plan_chapter(p, g, utilisation) for p in papers]


# --------------------------------------------------------------------------------------------------- tables
def _pd():
    import pandas as pd

    return pd


def _main_stages(p: dict) -> list[dict]:
    """The stages of the chapter's first training run (the paper's schedule)."""
    runs = [r for r in p["runs"] if r["kind"] == "training"]
    return runs[0]["stages"] if runs else []


def schedule_table(plans: list[dict]):
    """Per chapter: image size, batch, each stage's steps (a stage per row when a chapter has several; DeepGIN's
    warm-up), discriminator steps per generator step, and the steps per dataset of the training runs."""
    rows = []
    for p in plans:
        per_ds = [r for r in p["runs"] if r["kind"] == "training"]
        for i, st in enumerate(_main_stages(p)):
            rows.append({"chapter": LABELS[p["paper"]], "stage": st["stage"], "image size": p["image_size"],
                         "batch": st["batch"], "steps": f"{st['steps']:,}", "d steps per step": st["d_steps"],
                         "training runs (steps of each)": "" if i else ", ".join(
                             f"{r['dataset']} ({r['steps']:,})" for r in per_ds)})
        if p["error"] and not _main_stages(p):
            rows.append({"chapter": LABELS[p["paper"]], "stage": "not counted: " + p["error"]})
    return _pd().DataFrame(rows).set_index(["chapter", "stage"])


def flops_table(plans: list[dict]):
    """Per chapter and stage of the paper's schedule: parameters (millions) and GFLOPs of one training step: the
    network's own forward + backward, the rest of the generator step (loss networks, the adversarial term through
    the discriminator), the discriminator steps (``d_steps x`` one step), and the total."""
    rows = []
    for p in plans:
        for st in _main_stages(p):
            rows.append({
                "chapter": LABELS[p["paper"]], "stage": st["stage"],
                "generator params (M)": st["g_params"] / 1e6,
                "discriminator params (M)": st["d_params"] / 1e6,
                "network fwd+bwd": st["net_flops"] / 1e9,
                "rest of generator step": (st["g_step_flops"] - st["net_flops"]) / 1e9,
                "discriminator steps": st["d_steps"] * st["d_step_flops"] / 1e9,
                "GFLOPs per step": st["flops_per_step"] / 1e9})
        if p["error"]:
            rows.append({"chapter": LABELS[p["paper"]], "stage": "not counted: " + p["error"]})
    return _pd().DataFrame(rows).set_index(["chapter", "stage"])


def memory_table(plans: list[dict], gpu: GPU | None = None):
    """Per chapter and stage: the terms of :func:`peak_memory` in GiB (an estimate) -- weights, gradients and Adam
    states of the generator and discriminator, frozen loss-network weights, the activations kept for backward in
    the generator step and in the discriminator step -- and their sum; with ``gpu``, the share of its memory."""
    rows = []
    for p in plans:
        for st in _main_stages(p):
            row = {"chapter": LABELS[p["paper"]], "stage": st["stage"], "batch": st["batch"],
                   "weights+grads+Adam": state_bytes(st["g_params"] + st["d_params"]) / 2 ** 30,
                   "frozen weights": st["frozen_bytes"] / 2 ** 30,
                   "activations, generator step": st["saved_g_bytes"] / 2 ** 30,
                   "activations, discriminator step": st["saved_d_bytes"] / 2 ** 30,
                   "peak GiB (estimate)": st["peak_bytes"] / 2 ** 30}
            if gpu is not None:
                row[f"share of {gpu.memory_gib:g} GiB"] = st["peak_bytes"] / 2 ** 30 / gpu.memory_gib
            rows.append(row)
    return _pd().DataFrame(rows).set_index(["chapter", "stage"])


def hours_table(plans: list[dict]):
    """Per chapter and run (one training run per dataset, then the ablation): runs, steps per run, PFLOPs, the
    recipe's precision and the projected GPU-hours at its peak and (for reference) at the plain float32 peak, at the
    same utilisation."""
    rows = []
    for p in plans:
        for r in p["runs"]:
            what = (f"ablation ({r['variants']} variants x {r['seeds']} seed{'s' if r['seeds'] > 1 else ''}, "
                    f"{r['dataset']})" if r["kind"] == "ablation" else f"training on {r['dataset']}")
            rows.append({"chapter": LABELS[p["paper"]], "run": what, "runs": r["runs"], "steps per run": r["steps"],
                         "PFLOPs": r["flops"] / 1e15, "precision": r["precision"], "GPU-hours": r["hours"],
                         "GPU-hours at fp32 peak": r["hours_fp32"]})
    return _pd().DataFrame(rows).set_index(["chapter", "run"])


def totals(plans: list[dict]) -> dict[str, dict[str, float]]:
    """Per chapter: parameters (millions, generator), GFLOPs per step of the paper's main (last) stage, GPU-hours of
    the training runs, of the ablation and both, the largest estimated peak memory (GiB) and the seconds per step of
    the main stage that the hours assume (``FLOPs per step / (peak x utilisation)``, to compare with the measured
    seconds per step of a bill)."""
    out = {}
    for p in plans:
        st = _main_stages(p)
        train = sum(r["hours"] for r in p["runs"] if r["kind"] == "training")
        abl = sum(r["hours"] for r in p["runs"] if r["kind"] == "ablation")
        s_per_step = st[-1]["s_per_step"] if st else math.nan
        out[p["paper"]] = {"params_m": (st[-1]["g_params"] / 1e6) if st else math.nan,
                           "gflops_per_step": st[-1]["flops_per_step"] / 1e9 if st else math.nan,
                           "train_hours": train, "ablation_hours": abl, "hours": train + abl,
                           "peak_gib": max((c["peak_bytes"] for c in st), default=math.nan) / 2 ** 30,
                           "s_per_step": s_per_step}
    return out


def totals_table(plans: list[dict]):
    """:func:`totals` as a table, one row per chapter, and a total row for the hours."""
    t = totals(plans)
    frame = _pd().DataFrame([{"chapter": LABELS[k], "generator params (M)": v["params_m"],
                              "GFLOPs per step": v["gflops_per_step"], "peak GiB (estimate)": v["peak_gib"],
                              "ms per step (projected)": 1e3 * v["s_per_step"], "training GPU-hours": v["train_hours"],
                              "ablation GPU-hours": v["ablation_hours"], "GPU-hours": v["hours"]}
                             for k, v in t.items()]).set_index("chapter")
    frame.loc["all chapters", ["training GPU-hours", "ablation GPU-hours", "GPU-hours"]] = (
        frame[["training GPU-hours", "ablation GPU-hours", "GPU-hours"]].sum())
    return frame


def macs_check(plans: list[dict], measured: Mapping | None = None):
    """The network's forward FLOPs per image counted here (FlopCounterMode, meta tensors, the paper's batch) beside
    twice the multiply-accumulates of one 256 px image counted by :func:`inpaintlib.cost.count_macs` for the bench's
    cost page (``notebooks/bench/measured/paper_configs.json``): two independent counts of the same network."""
    if measured is None:
        from .cost import measured as read

        measured = read("paper_configs")
    nets = (measured or {}).get("networks", {})
    rows = []
    for p in plans:
        st = _main_stages(p)
        if not st:
            continue
        here = st[-1]["net_forward_flops"] / st[-1]["batch"] / 1e9
        there = 2 * nets.get(p["paper"], {}).get("gmacs", math.nan)
        rows.append({"chapter": LABELS[p["paper"]], "forward GFLOPs per image (here)": here,
                     "2 x GMACs (bench 2, count_macs)": there, "ratio": here / there if there else math.nan})
    return _pd().DataFrame(rows).set_index("chapter")


def hours_figure(plans: list[dict], gpu: GPU, utilisation: float):
    """Horizontal bars: each chapter's projected GPU-hours, training runs and ablation stacked."""
    import matplotlib.pyplot as plt

    t = totals(plans)
    names = [k for k in t if not math.isnan(t[k]["gflops_per_step"])]
    fig, ax = plt.subplots(figsize=(7, 0.5 + 0.45 * len(names)))
    y = range(len(names))
    train = [t[k]["train_hours"] for k in names]
    ax.barh(y, train, color="#4c72b0", label="training runs (one per dataset)")
    ax.barh(y, [t[k]["ablation_hours"] for k in names], left=train, color="#dd8452", label="ablation")
    ax.set_yticks(list(y), [LABELS[k] for k in names])
    ax.invert_yaxis()
    ax.set_xlabel(f"GPU-hours on one {gpu.name} at {utilisation:.0%} of peak (estimate)")
    ax.legend(loc="lower right", frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def findings(plans: list[dict], gpu: GPU, utilisation: float) -> str:
    """Sentences generated from the numbers: the total and the ablations' share, the most and least expensive
    chapters, where each step's FLOPs go when the network is not most of them, the recipes that train in float32,
    and whether the estimated peak memory fits the GPU at the paper's batch."""
    t = {k: v for k, v in totals(plans).items() if not math.isnan(v["gflops_per_step"])}
    if not t:
        return "No chapter could be counted."
    total = sum(v["hours"] for v in t.values())
    abl = sum(v["ablation_hours"] for v in t.values())
    by_hours = sorted(t, key=lambda k: t[k]["hours"])
    heavy, light = by_hours[-1], by_hours[0]
    s = [f"At {utilisation:.0%} of the {gpu.name}'s peak, the {len(t)} chapters' paper-scale runs come to about "
         f"{total:,.0f} GPU-hours ({total / 24:,.0f} GPU-days), {abl / total:.0%} of them in the ablations.",
         f"{LABELS[heavy]} is the most expensive ({t[heavy]['hours']:,.0f} GPU-hours, "
         f"{t[heavy]['gflops_per_step']:,.0f} GFLOPs per step), {LABELS[light]} the cheapest "
         f"({t[light]['hours']:,.1f} GPU-hours)."]
    loss_side, disc = [], []
    for p in plans:
        st = _main_stages(p)
        if not st:
            continue
        last = st[-1]
        share = (last["g_step_flops"] - last["net_flops"]) / last["flops_per_step"]
        if share >= 0.25:
            loss_side.append(f"{LABELS[p['paper']]} ({share:.0%})")
        share = last["d_steps"] * last["d_step_flops"] / last["flops_per_step"]
        if share >= 0.25:
            disc.append(f"{LABELS[p['paper']]} ({last['d_steps']} update{'s' if last['d_steps'] > 1 else ''}, "
                        f"{share:.0%})")
    parts = []
    if loss_side:
        parts.append("the rest of the generator step (loss networks and feature passes, the adversarial term) in "
                     + _join(loss_side))
    if disc:
        parts.append("the discriminator updates in " + _join(disc))
    if parts:
        s.append("The network is not the whole bill: more than a quarter of a step's FLOPs go to "
                 + "; and to ".join(parts) + ".")
    fp32 = sorted({LABELS[p["paper"]] for p in plans for r in p["runs"] if r["precision"] != "fp16"})
    if fp32:
        s.append(f"{', '.join(fp32)} train{'s' if len(fp32) == 1 else ''} in float32 (the recipe turns mixed "
                 f"precision off), so {'its' if len(fp32) == 1 else 'their'} hours use the TF32 tensor-core peak "
                 f"({gpu.tf32_tflops:g} TFLOP/s) instead of the float16 one ({gpu.fp16_tflops:g}); with TF32 off "
                 f"too ({gpu.fp32_tflops:g} TFLOP/s) they grow {gpu.tf32_tflops / gpu.fp32_tflops:.0f}-fold.")
    over = [k for k in t if t[k]["peak_gib"] > gpu.memory_gib]
    if over:
        s.append("At the paper's batch the estimated peak memory exceeds the card's "
                 f"{gpu.memory_gib:g} GiB for " + ", ".join(f"{LABELS[k]} ({t[k]['peak_gib']:.0f} GiB)" for k in over)
                 + ": gradient accumulation, activation checkpointing or a larger card is needed there.")
    else:
        big = max(t, key=lambda k: t[k]["peak_gib"])
        s.append(f"Every chapter's estimated peak memory fits the card's {gpu.memory_gib:g} GiB at the paper's batch "
                 f"(largest: {LABELS[big]}, {t[big]['peak_gib']:.1f} GiB).")
    return " ".join(s)


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
