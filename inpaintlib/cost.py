"""What a network costs: parameters, multiply-accumulates (MACs) of one forward pass counted two ways, and the
wall time of a forward pass on this machine.

Shared by every chapter's architecture notebook and the bench, so all models are counted the same way.
"""
from __future__ import annotations

import os
import platform
import statistics
import time
from typing import Mapping

import torch
from torch import nn

__all__ = ["num_parameters", "count_macs", "inference_time", "cpu_name"]


def num_parameters(model: nn.Module) -> int:
    """Number of parameters (trainable or not) of ``model``."""
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, *inputs: torch.Tensor, parts: Mapping[str, nn.Module] | None = None) -> dict:
    """Multiply-accumulates of ``model(*inputs)``, two ways.

    ``total``: ``torch.utils.flop_counter.FlopCounterMode`` (2 FLOPs per MAC; counts every convolution and matrix
    product, including a partial convolution's mask convolution). ``feature_convs``: a forward-hook count of the
    ``nn.Conv2d`` layers' own kernels only (``k*k*C_in/groups*C_out`` per output pixel), which is what papers
    usually mean. ``by_part``: FlopCounterMode's MACs of each module in ``parts`` (name -> submodule).
    """
    from torch.utils.flop_counter import FlopCounterMode

    feature = [0]

    def hook(mod, _inp, out):
        y = out[0] if isinstance(out, (tuple, list)) else out
        feature[0] += mod.weight.numel() * y.shape[0] * y.shape[-2] * y.shape[-1]

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    counter = FlopCounterMode(display=False, depth=None)
    try:
        with torch.no_grad(), counter:
            model(*inputs)
    finally:
        for h in handles:
            h.remove()
    fqn = {id(m): name for name, m in model.named_modules()}
    counts = {k.split(".", 1)[1] if "." in k else "": v for k, v in counter.get_flop_counts().items()}
    by_part = {name: int(sum(counts.get(fqn[id(m)], {}).values())) // 2 for name, m in (parts or {}).items()}
    return {"total": int(counter.get_total_flops()) // 2, "feature_convs": feature[0], "by_part": by_part}


def cpu_name() -> str:
    """The processor's model name (``/proc/cpuinfo`` on Linux, else ``platform``), for labelling timings."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def inference_time(model: nn.Module, *inputs: torch.Tensor, repeats: int = 10, warmup: int = 2) -> dict:
    """Wall time of ``model(*inputs)`` under ``torch.no_grad()`` in eval mode: the median (and min) of ``repeats``
    passes after ``warmup`` passes (CUDA synchronised around each pass), with what the number depends on: device,
    torch's thread count, the processor and the core count. A measurement for benchmarks and the book, never a test
    assertion."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0, got repeats={repeats}, warmup={warmup}")
    device = inputs[0].device
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    was_training = model.training
    model.eval()
    times = []
    try:
        with torch.no_grad():
            for i in range(warmup + repeats):
                sync()
                t = time.perf_counter()
                model(*inputs)
                sync()
                if i >= warmup:
                    times.append(time.perf_counter() - t)
    finally:
        model.train(was_training)
    return {"median_s": statistics.median(times), "min_s": min(times), "repeats": repeats, "device": str(device),
            "threads": torch.get_num_threads(), "cpu": cpu_name(), "cores": os.cpu_count(),
            "batch": int(inputs[0].shape[0])}
