"""Benchmark: PartialConv2d forward+backward time relative to nn.Conv2d of the same shape, and the
training loop's images per second at ci scale.

Not a test (no ``test_`` functions; pytest does not collect it). Run from the repository root:

    python tests/bench_core.py [--device cuda] [--repeats 10] [--quick] [--train-steps 60]

The second table trains the MSFEF chapter's ci configuration (32 px crops of the sample scenes,
batch 8, random-weight VGG16 loss network, as the chapter's 02_training notebook does) with
``inpaintlib.train.train`` for ``--train-steps`` steps, without evaluation or intermediate checkpoints,
and reports images per second over the steps after the first ten (warm-up). ``--train-steps 0`` skips it.

For each shape, both layers run forward + backward (``out.sum().backward()``) on the same
input; the time is the median of ``--repeats`` runs (the two layers interleaved, run by run)
after ``--warmup`` runs. The partial convolution gets a random mask (about 30 % holes, with an
all-hole block), so its mask arithmetic and the all-hole branch are exercised, except in the row
marked "known" (a mask without holes, as deep layers see once the holes have closed). The ratio
PConv / Conv is the overhead of the mask handling (validation, mask convolution, re-normalisation).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inpaintlib.layers.partial_conv import PartialConv2d  # noqa: E402

# (label, N, C_in, C_out, H, kernel, stride, multi_channel, holes); holes=False: a mask with no hole,
# as deep encoder layers see once the holes have closed
SHAPES = [
    ("N8 64->64 64x64 k3", 8, 64, 64, 64, 3, 1, False, True),
    ("N8 64->64 64x64 k5", 8, 64, 64, 64, 5, 1, False, True),
    ("N8 64->64 64x64 k7", 8, 64, 64, 64, 7, 1, False, True),
    ("N8 3->64 256x256 k7 s2", 8, 3, 64, 256, 7, 2, False, True),
    ("N8 128->64 64x64 k3 multi", 8, 128, 64, 64, 3, 1, True, True),
    ("N8 256->256 16x16 k3 known", 8, 256, 256, 16, 3, 1, False, False),
]
QUICK = [
    ("N2 64->64 32x32 k3", 2, 64, 64, 32, 3, 1, False, True),
    ("N2 3->64 128x128 k7 s2", 2, 3, 64, 128, 7, 2, False, True),
]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time_pair(fn_a, fn_b, device: torch.device, warmup: int, repeats: int,
               clock=time.perf_counter) -> tuple[float, float]:
    """Median times of ``fn_a`` and ``fn_b``, interleaved run by run so that load drifts hit both alike."""
    for _ in range(warmup):
        fn_a()
        fn_b()
    _sync(device)
    times_a, times_b = [], []
    for _ in range(repeats):
        for fn, times in ((fn_a, times_a), (fn_b, times_b)):
            t0 = clock()
            fn()
            _sync(device)
            times.append(clock() - t0)
    return statistics.median(times_a), statistics.median(times_b)


def _mask(n: int, c: int, h: int, gen: torch.Generator, holes: bool = True) -> torch.Tensor:
    if not holes:
        return torch.ones(n, c, h, h)
    m = (torch.rand(n, c, h, h, generator=gen) > 0.3).float()
    m[:, :, h // 4: h // 2, h // 4: h // 2] = 0  # an all-hole block
    return m


def bench_shape(label, n, cin, cout, h, k, s, multi, holes, device, warmup, repeats, dtype=torch.float32,
                layer_cls=PartialConv2d, clock=time.perf_counter):
    gen = torch.Generator().manual_seed(0)
    pad = (k - 1) // 2
    conv = nn.Conv2d(cin, cout, k, stride=s, padding=pad).to(device, dtype)
    pconv = layer_cls(cin, cout, k, stride=s, padding=pad, multi_channel=multi).to(device, dtype)
    pconv.load_state_dict(conv.state_dict())
    x = torch.rand(n, cin, h, h, generator=gen).to(device, dtype).requires_grad_(True)
    valid = _mask(n, cin if multi else 1, h, gen, holes).to(device, dtype)

    def run_conv():
        conv.zero_grad(set_to_none=True)
        x.grad = None
        conv(x).sum().backward()

    def run_pconv():
        pconv.zero_grad(set_to_none=True)
        x.grad = None
        pconv(x, valid)[0].sum().backward()

    return _time_pair(run_conv, run_pconv, device, warmup, repeats, clock)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                   help="torch.set_num_threads (default: all cores of the machine)")
    p.add_argument("--quick", action="store_true", help="small shapes only (a smoke run)")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="wall: time.perf_counter; cpu: time.process_time, robust on a loaded machine but only "
                        "meaningful with --threads 1 on the CPU")
    p.add_argument("--train-steps", type=int, default=60, help="steps of the training-loop benchmark (0: skip)")
    args = p.parse_args(argv)
    if args.clock == "cpu" and args.device != "cpu":
        p.error("--clock cpu measures host CPU time; use --clock wall with --device cuda")
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    shapes = QUICK if args.quick else SHAPES
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {torch.get_num_threads()} threads"
    print(f"PartialConv2d vs nn.Conv2d, forward+backward, {args.clock} time, median of {args.repeats} runs "
          f"after {args.warmup} warm-up runs; torch {torch.__version__}; {name}")
    print(f"{'shape':<28} {'Conv2d ms':>10} {'PConv ms':>10} {'ratio':>7}")
    for shape in shapes:
        t_conv, t_pconv = bench_shape(*shape, device, args.warmup, args.repeats, clock=clock)
        print(f"{shape[0]:<28} {1e3 * t_conv:>10.2f} {1e3 * t_pconv:>10.2f} {t_pconv / t_conv:>7.2f}")
    if args.train_steps > 0:
        bench_training(args.train_steps, args.device)


def bench_training(steps: int, device: str, warm: int = 10) -> None:
    """Images per second of ``inpaintlib.train.train`` on the MSFEF ci recipe (see the module docstring)."""
    import json
    import tempfile

    from inpaintlib.data import SampleScenes
    from inpaintlib.layers import VGGFeatures
    from inpaintlib.papers.msfef import MSFEFConfig, msfef_training, train_msfef

    steps = max(steps, warm + 5)
    cfg = MSFEFConfig.ci()
    recipe = msfef_training("ci", steps=steps, eval_every=None, ckpt_every=None, log_every=1, device=device)
    vgg = VGGFeatures(recipe.vgg_arch, recipe.vgg_layers, backbone="random")
    data = SampleScenes("train", size=cfg.image_size, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        train_msfef(cfg, recipe, data, tmp, vgg=vgg, progress=False, resume=False)
        times = [json.loads(line)["time"] for line in open(Path(tmp) / "metrics.jsonl") if '"time"' in line]
    per_step = (times[-1] - times[warm - 1]) / (len(times) - warm)
    batch = recipe.train.batch_size
    print(f"\ntraining loop, MSFEF ci recipe ({cfg.image_size} px, batch {batch}, depth {cfg.depth}, random VGG16), "
          f"{device}: {per_step * 1e3:.1f} ms/step, {batch / per_step:.1f} images/s "
          f"(steps {warm + 1}-{len(times)} of {steps})")


if __name__ == "__main__":
    main()
