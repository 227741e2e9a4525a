"""Layer benchmarks: what the book's distinctive layers cost against plain convolutions, side by side in one run.

    python -m inpaintlib.bench.layers [--quick] [--threads N] [--repeats R] [--out notebooks/bench/measured/layers.json]

Two tables, every time a forward + backward pass (``out.backward(ones_like(out))``: a dense gradient in the
output's memory format, as a layer receives it inside a network) on the CPU, the contenders of a row
interleaved run by run (so that a drift of the machine's load hits them alike) and each time the median of
``--repeats`` runs after ``--warmup`` runs:

* ``pconv``: :class:`~inpaintlib.layers.PartialConv2d` against ``nn.Conv2d`` of the same shape and memory format
  (the overhead of the mask handling) and against :class:`LiuPartialConv2d`, the straightforward formulation of Liu et al. (2018) as in
  NVIDIA's published layer: a second convolution of the mask with an all-ones kernel of the layer's full shape, a
  division, the bias taken out and put back. The shapes are those the book's partial convolutions see: every
  partial convolution of the ``demo`` MSFEF and PMRFN networks on a batch of 8 images of their size with the 25 %
  centre box, captured with forward hooks (deduplicated, with the number of layers of each shape, so a network's
  total is the count-weighted sum).
* ``distinctive``: each chapter's distinctive layer, captured the same way from its ``demo`` network (the first one
  whose mask has a hole), against a plain convolution of similar multiply-accumulates (MACs counted by
  :func:`inpaintlib.cost.count_macs`): the MSFEF module (3 partial convolutions, 3x3/5x5/7x7) against one 9x9
  convolution; MSA-Net's MSAU against one convolution of the unit's input and output shape whose kernel matches
  the unit's MACs; DeepGIN's SPD ResNet block against the standard ResNet block (two plain 3x3 convolutions, the
  same MACs); PMRFN's priority-guided partial convolution (partial convolution + the priority mask update of
  Eqs. 5-8; the first one past the stem whose mask has a hole) against the plain 3x3 convolution of its shape; contextual attention (no weights) against a 3x3
  convolution of its input width. ``per_mac_ratio`` divides out the difference in MACs.

``--quick`` uses the ``ci`` networks, a batch of 2 and 3 repeats (a smoke run; its numbers mean nothing).
The JSON written holds the machine (CPU, cores, torch threads, torch version), the date and the command.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..cost import count_macs, cpu_name
from ..layers import ContextualAttention, MSFEFModule, PartialConv2d
from ..layers.multiscale_attention import MSAU
from ..layers.resblocks import SPDResBlock, StandardResBlock
from ..paths import repo_root
from ..registry import build_model, paper_model

__all__ = ["LiuPartialConv2d", "liu_partial_conv", "capture", "time_interleaved", "pconv_rows", "distinctive_rows",
           "layer_tables", "layers_finding", "run", "main", "DEFAULT_OUT"]

DEFAULT_OUT = Path("notebooks") / "bench" / "measured" / "layers.json"


# ------------------------------------------------------------------------------ the reference formulation
def liu_partial_conv(x, valid, weight, bias, stride=1, padding=0, dilation=1, multi_channel=False):
    """Partial convolution written as Liu et al. (2018) and NVIDIA's reference layer do: two convolutions and a
    division.

    ``raw = W * (X o M) + b``; ``count = 1_{C_out x C_mask x k x k} * M`` (the mask convolved with an all-ones
    kernel of the layer's full shape); ``ratio = sum(1) / (count + 1e-8) * clamp(count, 0, 1)``;
    ``out = ((raw - b) * ratio + b) * clamp(count, 0, 1)``. Returns ``(out, new_valid)``.
    """
    c_out, c_in, kh, kw = weight.shape
    c_mask = c_in if multi_channel else 1
    ones = torch.ones(c_out if multi_channel else 1, c_mask, kh, kw, dtype=x.dtype, device=x.device)
    with torch.no_grad():
        count = F.conv2d(valid, ones, None, stride, padding, dilation)  # sum(M_p)
        ratio = (c_mask * kh * kw) / (count + 1e-8)  # sum(1) / sum(M_p)
        new_valid = count.clamp(0, 1)
        ratio = ratio * new_valid
    raw = F.conv2d(x * valid, weight, bias, stride, padding, dilation)
    if bias is None:
        return raw * ratio, new_valid
    b = bias.view(1, -1, 1, 1)
    return ((raw - b) * ratio + b) * new_valid, new_valid


class LiuPartialConv2d(nn.Conv2d):
    """:func:`liu_partial_conv` as a layer with ``PartialConv2d``'s interface (``forward(x, valid)``); no input
    checks (it is a benchmark reference, not a library layer)."""

    def __init__(self, *args, multi_channel: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.multi_channel = multi_channel

    def forward(self, x, valid):  # noqa: D102
        return liu_partial_conv(x, valid, self.weight, self.bias, self.stride, self.padding, self.dilation,
                                self.multi_channel)


# ------------------------------------------------------------------------------ shapes from the book's networks
def _box_batch(size: int, batch: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    image = torch.rand(batch, 3, size, size, generator=gen)
    valid = torch.ones(batch, 1, size, size)
    valid[..., size // 4: 3 * size // 4, size // 4: 3 * size // 4] = 0  # the 25 % centre box
    return image, valid


def _demo_model(paper: str, scale: str) -> tuple[nn.Module, int]:
    cfg = getattr(paper_model(paper).config_cls, scale)()
    return build_model(paper, dataclasses.asdict(cfg)).train(), cfg.image_size


def capture(paper: str, cls: type, scale: str = "demo", batch: int = 8,
            keep: Callable[[nn.Module, tuple], bool] | None = None) -> list[tuple[nn.Module, tuple]]:
    """``(module, inputs)`` for every call of a ``cls`` module in one training-mode forward pass of paper
    ``paper``'s ``scale`` network on ``batch`` images with the 25 % centre box (inputs detached and cloned, with
    ``requires_grad`` as they had in the network); ``keep(module, inputs)`` filters."""
    model, size = _demo_model(paper, scale)
    image, valid = _box_batch(size, batch, torch.Generator().manual_seed(0))
    seen: list[tuple[nn.Module, tuple]] = []

    def hook(mod, args):
        copied = tuple(a.detach().clone().requires_grad_(a.requires_grad) if isinstance(a, torch.Tensor) else a
                       for a in args)
        if keep is None or keep(mod, copied):
            seen.append((mod, copied))

    handles = [m.register_forward_pre_hook(hook) for m in model.modules() if isinstance(m, cls)]
    try:
        model(image, valid)
    finally:
        for h in handles:
            h.remove()
    return seen


# ------------------------------------------------------------------------------ timing
def _fwd_bwd(module: nn.Module, inputs: tuple) -> Callable[[], None]:
    grads = [a for a in inputs if isinstance(a, torch.Tensor) and a.requires_grad]

    def step():
        module.zero_grad(set_to_none=True)
        for a in grads:
            a.grad = None
        out = module(*inputs)
        out = out[0] if isinstance(out, (tuple, list)) else out
        if out.requires_grad:  # a dense gradient in the output's memory format, as a layer receives in a network
            out.backward(torch.ones_like(out))

    return step


def time_interleaved(fns: dict[str, Callable[[], None]], warmup: int = 3, repeats: int = 15,
                     clock: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """Median seconds of each callable, the callables interleaved run by run after ``warmup`` rounds."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = clock()
            fn()
            times[k].append(clock() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def _conv_like(p: nn.Conv2d) -> nn.Conv2d:
    conv = nn.Conv2d(p.in_channels, p.out_channels, p.kernel_size, p.stride, p.padding, p.dilation,
                     bias=p.bias is not None)
    conv.load_state_dict(p.state_dict(), strict=False)
    if p.weight.is_contiguous(memory_format=torch.channels_last) and not p.weight.is_contiguous():
        conv = conv.to(memory_format=torch.channels_last)  # the layer's network runs channels_last
    return conv


def _pconv_key(mod: PartialConv2d, x: torch.Tensor, valid: torch.Tensor) -> tuple:
    return (tuple(x.shape), mod.out_channels, mod.kernel_size[0], mod.stride[0], mod.multi_channel,
            bool((valid < 1).any()), x.requires_grad)


def pconv_rows(scale: str = "demo", batch: int = 8, warmup: int = 3, repeats: int = 15,
               clock: Callable[[], float] = time.perf_counter) -> list[dict]:
    """One row per distinct partial-convolution shape of the MSFEF and PMRFN networks at ``scale``."""
    rows = []
    for paper in ("msfef", "pmrfn"):
        groups: dict[tuple, list] = {}
        for mod, (x, valid) in capture(paper, PartialConv2d, scale, batch):
            groups.setdefault(_pconv_key(mod, x, valid), [mod, x, valid, 0])[3] += 1
        for (shape, c_out, k, s, multi, holes, _), (mod, x, valid, count) in groups.items():
            liu = LiuPartialConv2d(mod.in_channels, c_out, k, s, mod.padding, mod.dilation, bias=mod.bias is not None,
                                   multi_channel=multi)
            liu.load_state_dict(mod.state_dict(), strict=False)
            t = time_interleaved({"conv": _fwd_bwd(_conv_like(mod), (x,)), "pconv": _fwd_bwd(mod, (x, valid)),
                                  "liu": _fwd_bwd(liu, (x, valid))}, warmup, repeats, clock)
            rows.append({"network": paper, "shape": f"N{shape[0]} {shape[1]}->{c_out} {shape[2]}x{shape[3]} k{k} s{s}"
                         + (" multi" if multi else "") + ("" if holes else " known"), "layers": count,
                         "conv_ms": 1e3 * t["conv"], "pconv_ms": 1e3 * t["pconv"], "liu_ms": 1e3 * t["liu"],
                         "pconv_over_conv": t["pconv"] / t["conv"], "liu_over_conv": t["liu"] / t["conv"],
                         "pconv_over_liu": t["pconv"] / t["liu"]})
    return rows


def _holes(mod, args) -> bool:
    return any(isinstance(a, torch.Tensor) and a.dim() == 4 and a.shape[1] == 1 and bool((a < 1).any())
               for a in args[1:])


def _matched_conv(c_in: int, c_out: int, stride: int, out_hw: int, batch: int, macs: int) -> nn.Conv2d:
    """A plain convolution ``c_in -> c_out`` with ``stride`` whose odd kernel gives the MACs closest to ``macs``."""
    k = min(range(1, 16, 2), key=lambda k: abs(k * k * c_in * c_out * out_hw * out_hw * batch - macs))
    return nn.Conv2d(c_in, c_out, k, stride, padding=k // 2)


def _distinctive_cases(scale: str, batch: int) -> list[tuple[str, nn.Module, tuple, nn.Module, tuple]]:
    """(label, layer, its inputs, plain counterpart, its inputs) for each chapter's distinctive layer."""
    from ..papers.pmrfn import PriorityPConv

    cases = []
    mod, args = capture("msfef", MSFEFModule, scale, batch, _holes)[1]  # the second encoder stage
    x = args[0]
    cases.append(("MSFEF module (MSFEF)", mod, args, nn.Conv2d(mod.in_channels, mod.out_channels, 9, mod.stride, 4),
                  (x,)))
    mod, args = capture("msanet", MSAU, scale, batch, _holes)[0]
    x = args[0]
    out_hw = x.shape[-1] // mod.stride
    macs = count_macs(mod, *args)["total"]
    cases.append(("MSAU (MSA-Net)", mod, args, _matched_conv(x.shape[1], mod.out_channels, mod.stride, out_hw,
                                                              x.shape[0], macs), (x,)))
    mod, args = capture("deepgin", SPDResBlock, scale, batch)[0]
    std = StandardResBlock(args[0].shape[1], padding_mode=mod.first.branches[0].padding_mode)
    cases.append(("SPD ResNet block (DeepGIN)", mod, args, std, args))
    mod, args = capture("pmrfn", PriorityPConv, scale, batch,
                        lambda m, a: m.update is not None and a[0].shape[1] > 3 and bool((a[1] < 1).any()))[0]
    c = mod.conv
    cases.append(("priority-guided PConv (PMRFN)", mod, args,
                  nn.Conv2d(c.in_channels, c.out_channels, c.kernel_size, c.stride, c.padding), args[:1]))
    mod, args = capture("ctxattn", ContextualAttention, scale, batch)[0]
    fg = args[0]
    cases.append(("contextual attention (CtxAttn)", mod, args, nn.Conv2d(fg.shape[1], fg.shape[1], 3, 1, 1), (fg,)))
    return cases


def distinctive_rows(scale: str = "demo", batch: int = 8, warmup: int = 3, repeats: int = 15,
                     clock: Callable[[], float] = time.perf_counter) -> list[dict]:
    """One row per chapter: its distinctive layer against a plain convolution of similar MACs."""
    rows = []
    for label, layer, args, plain, plain_args in _distinctive_cases(scale, batch):
        layer.train(), plain.train()
        m_layer, m_plain = count_macs(layer, *args)["total"], count_macs(plain, *plain_args)["total"]
        t = time_interleaved({"plain": _fwd_bwd(plain, plain_args), "layer": _fwd_bwd(layer, args)}, warmup, repeats, clock)
        x = args[0]
        rows.append({"layer": label, "input": "x".join(map(str, x.shape)), "plain": _describe(plain),
                     "layer_gmacs": m_layer / 1e9, "plain_gmacs": m_plain / 1e9,
                     "layer_ms": 1e3 * t["layer"], "plain_ms": 1e3 * t["plain"],
                     "ratio": t["layer"] / t["plain"],
                     "per_mac_ratio": (t["layer"] / max(m_layer, 1)) / (t["plain"] / max(m_plain, 1))})
    return rows


def _describe(m: nn.Module) -> str:
    if isinstance(m, nn.Conv2d):
        return f"Conv2d {m.in_channels}->{m.out_channels} k{m.kernel_size[0]} s{m.stride[0]}"
    return f"{type(m).__name__} ({sum(isinstance(c, nn.Conv2d) for c in m.modules())} plain 3x3 convs)"


# ------------------------------------------------------------------------------ reading a result
def layer_tables(data: dict):
    """``(per_shape, totals, distinctive)`` DataFrames from a result of :func:`run` (the JSON file): the partial
    convolution rows, their layer-count-weighted totals per network (all the partial convolutions of one forward +
    backward pass of the network), and the distinctive layers."""
    import pandas as pd

    per_shape = pd.DataFrame(data["pconv"])
    w = per_shape.assign(**{c: per_shape[c] * per_shape["layers"] for c in ("conv_ms", "pconv_ms", "liu_ms")})
    totals = w.groupby("network")[["layers", "conv_ms", "pconv_ms", "liu_ms"]].sum()
    totals["pconv_over_conv"] = totals["pconv_ms"] / totals["conv_ms"]
    totals["liu_over_conv"] = totals["liu_ms"] / totals["conv_ms"]
    totals["pconv_over_liu"] = totals["pconv_ms"] / totals["liu_ms"]
    distinctive = pd.DataFrame(data["distinctive"]).set_index("layer")
    return per_shape.set_index(["network", "shape"]), totals, distinctive


def layers_finding(totals, per_shape, distinctive) -> str:
    """The partial convolution's overhead against the 1.2x goal, the textbook formulation, and the distinctive
    layers' ratios, as sentences."""
    over = totals["pconv_over_conv"]
    r = per_shape["pconv_over_conv"]
    return ("Over all its partial convolutions, `PartialConv2d` costs "
            + ", ".join(f"{v:.2f}x (`{n}`)" for n, v in over.items())
            + " the plain convolutions of the same shapes: the goal of at most 1.2x for a network as a whole is "
            + ", ".join(f"{'met' if v <= 1.2 else 'not met'} for `{n}`" for n, v in over.items())
            + f". Per shape the ratio runs "
            f"from {r.min():.2f} to {r.max():.2f} (highest at {r.idxmax()[1]}: the cheaper the convolution, the more "
            "a fixed overhead of checks and mask arithmetic weighs). Liu et al.'s formulation costs "
            + ", ".join(f"{v:.2f}x" for v in totals["liu_over_conv"]) + " on the same layers. Distinctive layers "
            "against a plain convolution of similar MACs: "
            + "; ".join(f"{k} {d['ratio']:.1f}x ({d['per_mac_ratio']:.1f}x per MAC)" for k, d in distinctive.iterrows())
            + ".")


# ------------------------------------------------------------------------------ the command
def machine(threads: int) -> dict:
    """Where and how a measurement was taken."""
    return {"cpu": cpu_name(), "cores": os.cpu_count(), "threads": threads, "torch": torch.__version__,
            "python": platform.python_version(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "load_avg_1min_before": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}


def run(quick: bool = False, threads: int | None = None, repeats: int | None = None, warmup: int = 3) -> dict:
    """Both tables and the machine facts, as the dict the command writes."""
    threads = threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    scale, batch = ("ci", 2) if quick else ("demo", 8)
    repeats = repeats or (3 if quick else 15)
    facts = machine(threads)
    pconv = pconv_rows(scale, batch, warmup, repeats)
    distinctive = distinctive_rows(scale, batch, warmup, repeats)
    return {**facts, "quick": quick, "scale_of_shapes": scale, "batch": batch, "repeats": repeats, "warmup": warmup,
            "timing": "forward+backward, wall clock (time.perf_counter), median of repeats, contenders interleaved",
            "pconv": pconv, "distinctive": distinctive}


def main(argv=None) -> dict:  # noqa: D103
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="ci networks, batch 2, 3 repeats (a smoke run)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    p.add_argument("--repeats", type=int, default=None, help="timed runs per contender (default 15; quick 3)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--out", default=None, help=f"JSON file to write (default {DEFAULT_OUT} under the repository)")
    args = p.parse_args(argv)
    result = run(args.quick, args.threads, args.repeats, args.warmup)
    result["command"] = "python -m inpaintlib.bench.layers " + " ".join(argv if argv is not None else sys.argv[1:])
    out = Path(args.out) if args.out else repo_root() / DEFAULT_OUT
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    for r in result["pconv"]:
        print(f"{r['network']:6} {r['shape']:<36} x{r['layers']:<3} conv {r['conv_ms']:7.2f} ms  "
              f"PConv/Conv {r['pconv_over_conv']:5.2f}  Liu/Conv {r['liu_over_conv']:5.2f}")
    for r in result["distinctive"]:
        print(f"{r['layer']:<32} {r['layer_ms']:8.2f} ms vs {r['plain']:<34} {r['plain_ms']:8.2f} ms  "
              f"ratio {r['ratio']:5.2f}  per MAC {r['per_mac_ratio']:5.2f}")
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
