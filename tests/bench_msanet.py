"""Benchmark: MSA-Net inference time per 256x256 image on this machine, beside the paper's 0.026 s on a Titan XP.

Not a test (no ``test_`` functions; pytest does not collect it). Run from the repository root:

    python tests/bench_msanet.py [--device cpu] [--threads 2] [--repeats 10] [--scale paper] [--json OUT]

The network is ``MSANet(MSANetConfig.<scale>())`` with random weights (the time does not depend on them), one
256x256 image (the scale's size for demo/ci) with the 25% centre box, batch 1, ``torch.no_grad()``, eval mode. The
reported time is the median of ``--repeats`` forward passes after ``--warmup`` passes. Different hardware from the
paper's (Sect. 4: "about 0.026 s" per image on a Titan XP): the two numbers are not a comparison of the methods.
"""
from __future__ import annotations

import argparse
import json

import torch

from inpaintlib.cost import inference_time
from inpaintlib.masks import center_box_mask, to_tensor
from inpaintlib.papers.msanet import PAPER_TEST_TIME_S, MSANet, MSANetConfig


def bench(scale: str = "paper", device: str = "cpu", repeats: int = 10, warmup: int = 2) -> dict:
    cfg = MSANetConfig.for_scale(scale)
    s = cfg.image_size
    net = MSANet(cfg).to(device)
    x = torch.rand(1, 3, s, s, device=device)
    v = to_tensor([center_box_mask(s, s, area=0.25)]).to(device)
    return {"scale": scale, "size": s, **inference_time(net, x, v, repeats=repeats, warmup=warmup),
            "paper_s": PAPER_TEST_TIME_S, "paper_hardware": "Titan XP (Sect. 4)"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--scale", default="paper")
    ap.add_argument("--json", default=None, help="also write the result to this JSON file")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    r = bench(a.scale, a.device, a.repeats, a.warmup)
    print(f"MSA-Net ({a.scale} config, {r['size']}x{r['size']}) on {a.device} ({r['threads']} threads, "
          f"{r['cores']} cores): median {r['median_s']:.3f} s per image (min {r['min_s']:.3f} s, {a.repeats} runs); "
          f"the paper: {PAPER_TEST_TIME_S} s on a Titan XP (different hardware)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(r, f, indent=2)


if __name__ == "__main__":
    main()
