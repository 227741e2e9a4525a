"""Devices and processes: :func:`choose_device` and the ``torchrun`` process group of one training call.

Launched by ``torchrun`` (``WORLD_SIZE > 1``), :class:`DistContext` initialises the process group (gloo on CPU,
nccl on CUDA) unless it already is. A group it created stays up for the process's later :func:`train` calls (a
chapter's training has up to two stages, and a process group cannot be re-initialised reliably under one ``torchrun``
rendezvous: the second ``init_process_group`` of a rank can meet the first one's keys and hang) and is destroyed
when the process exits. Single-process runs take the same code path with ``world == 1``, where every collective is
a no-op.
"""
from __future__ import annotations

import atexit
import os

import torch
import torch.distributed as dist

__all__ = ["choose_device", "DistContext", "wrap_ddp"]


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


class DistContext:
    """This process's rank, the world size, its device, and the collectives :func:`~inpaintlib.train.train` uses."""

    def __init__(self, device_spec: str):
        self.world = int(os.environ.get("WORLD_SIZE", "1") or 1)
        self.rank = int(os.environ.get("RANK", "0") or 0) if self.world > 1 else 0
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
            atexit.register(_destroy_group)
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

    def all_mean(self, vec: torch.Tensor) -> torch.Tensor:
        """The mean of ``vec`` over the ranks (``vec`` itself in a single process)."""
        if self.world == 1:
            return vec
        dist.all_reduce(vec, op=dist.ReduceOp.SUM)
        return vec / self.world

    def broadcast_module(self, module: torch.nn.Module) -> None:
        """Rank 0's parameters and buffers, in place, on every rank."""
        if self.world == 1:
            return
        with torch.no_grad():
            for t in [*module.parameters(), *module.buffers()]:
                buf = t.detach().to(self.comm)
                dist.broadcast(buf, src=0)
                t.copy_(buf)

    def average_grads(self, module: torch.nn.Module) -> None:
        """Each parameter's gradient replaced by its mean over the ranks (one all-reduce of one flat buffer); a
        parameter without a gradient on this rank counts as zero."""
        params = [p for p in module.parameters() if p.requires_grad]
        if self.world == 1 or not params:
            return
        flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1).to(self.comm)
                          for p in params])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        flat /= self.world
        i = 0
        for p in params:
            n = p.numel()
            p.grad = flat[i:i + n].view_as(p).to(p.device, p.dtype).clone()
            i += n


def _destroy_group() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def wrap_ddp(module: torch.nn.Module | None, ctx: DistContext):
    """``module`` in ``DistributedDataParallel`` when there are several processes (``module`` itself otherwise).

    Wrapping broadcasts rank 0's parameters, so every rank starts from the same weights. BatchNorm layers are not
    converted to SyncBatchNorm.
    """
    if module is None or ctx.world == 1:
        return module
    ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(module, device_ids=ids)
