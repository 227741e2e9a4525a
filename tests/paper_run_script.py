"""One chapter's paper-configuration training, short: run by ``tests/test_paper_runs.py`` in the test process, under
``torchrun`` (two gloo processes) and as a child that kills itself mid-run.

``torchrun ... tests/paper_run_script.py OUT PAPER [PAPER ...]``: for each chapter in turn, train its paper network
with its paper recipe (float32, :data:`STEPS` updates of :func:`batch` images of :data:`SIZE` px, a checkpoint after
every step) into ``OUT/PAPER/run``; every rank writes its final weights to ``OUT/PAPER/rank<R>.safetensors`` and the
batches it saw to ``OUT/PAPER/rank<R>.json``. :func:`kill_at` makes a (forked) child SIGKILL itself at the start of
its N-th generator update (counted over every stage of the chapter's training), after the checkpoint of the one
before.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import signal
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: Training image side: the smallest each paper configuration accepts (as in test_amp_paths: MSFEF's 8 stride-2
#: stages need 256, CtxAttn's critics the paper's 256 px; the others are fully convolutional).
SIZE = {"msfef": 256, "ctxattn": 256, "msanet": 64, "deepgin": 64, "pmrfn": 64}
#: Images per update in one process; under torchrun each of the two processes takes half of ``2 * PER_RANK``:
#: one, except MSFEF, whose BatchNorm needs two values per channel at its 1x1 bottleneck on each rank.
BATCH = 2
PER_RANK = {"msfef": 2}
STEPS = 2


def batch(paper: str, world: int = 1) -> int:
    return BATCH if world == 1 else world * PER_RANK.get(paper, 1)


class Photos(torch.utils.data.Dataset):
    """``n`` smooth random photographs of ``size`` px (one image per item, as the library's datasets give them)."""

    def __init__(self, size: int, n: int = 4):
        g = torch.Generator().manual_seed(3)
        low = torch.rand(n, 3, 8, 8, generator=g)
        self.x = torch.nn.functional.interpolate(low, size=(size, size), mode="bilinear").clamp(0, 1)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i]


def paper_run(paper: str, world: int = 1, **overrides):
    """``(config, recipe, train_fn)``: the chapter's paper config and paper recipe, shortened to :data:`STEPS`
    updates of :func:`batch` images with a checkpoint after each, on the CPU (the recipe's ``amp`` with its float16
    is off there: float32), the VGG features seeded random (no download); ``overrides`` replace TrainConfig fields."""
    pkg = importlib.import_module(f"inpaintlib.papers.{paper}")
    recipe_mod = importlib.import_module(f"inpaintlib.papers.{paper}.recipe")
    settings = dict(steps=STEPS, batch_size=batch(paper, world), device="cpu", log_every=1, eval_every=None,
                    ckpt_every=1, d_steps=1)
    recipe = getattr(recipe_mod, f"{paper}_training")("paper", **{**settings, **overrides})
    fields = {f.name for f in dataclasses.fields(recipe)}
    # DeepGIN's Sect. 5.1 batches resize every image to 512 px and train on its 256 px sub-images: its crop batches
    # keep the images at SIZE (the Sect. 5.1 path, its sharding included, is test_deepgin.py's)
    extra = {f: v for f, v in (("vgg_backbone", "random"), ("warmup_steps", 1), ("batch_formation", "crop"))
             if f in fields}
    return pkg.MODEL.config_cls.paper(), dataclasses.replace(recipe, **extra), getattr(recipe_mod, f"train_{paper}")


def train_once(paper: str, out: Path, resume: bool = False, world: int = 1) -> torch.nn.Module:
    """Train (or resume) into ``out/run``; returns the final network."""
    cfg, recipe, train_fn = paper_run(paper, world)
    result = train_fn(cfg, recipe, Photos(SIZE[paper]), out / "run", progress=False, resume=resume)
    model, _ = result["main"] if isinstance(result, dict) else result  # DeepGIN: warm-up stage, then main stage
    return model


def probe(paper: str, model: torch.nn.Module) -> torch.Tensor:
    """The network's completion of two photographs with a square hole (eval mode): what a trained run is for."""
    x = Photos(SIZE[paper]).x[:2]
    valid = torch.ones_like(x[:, :1])
    s = SIZE[paper]
    valid[..., s // 4:s // 2, s // 4:s // 2] = 0
    from inpaintlib.chapter import predictor

    return predictor(model.eval())(x * valid, valid)


def _kill_at(n: int) -> None:
    """SIGKILL this process when the training loop starts its ``n``-th generator update."""
    from inpaintlib.train import loop

    real, calls = loop.generator_step, [0]

    def step(*args, **kwargs):
        calls[0] += 1
        if calls[0] == n:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)
    loop.generator_step = step


def kill_at(n: int) -> None:
    """In a child that is about to train: SIGKILL it at the start of its ``n``-th generator update."""
    _kill_at(n)


def main(argv=None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("out", type=Path, help="one folder per chapter is made in it")
    p.add_argument("papers", nargs="+")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    rank = int(os.environ.get("RANK", 0))
    from safetensors.torch import save_file

    from inpaintlib.train import loop

    real_prepare = loop.prepare_batch
    for paper in a.papers:  # one process group for every chapter, as a user's script training several would have
        out, seen = a.out / paper, []
        out.mkdir(parents=True, exist_ok=True)

        def prepare(images, *args, **kwargs):  # record each rank's shard
            seen.append([int(images.shape[0]), float(images.sum())])
            return real_prepare(images, *args, **kwargs)
        loop.prepare_batch = prepare
        model = train_once(paper, out, world=int(os.environ.get("WORLD_SIZE", 1)))
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, out / f"rank{rank}.safetensors")
        tmp = out / f".rank{rank}.json"
        tmp.write_text(json.dumps(seen))
        os.replace(tmp, out / f"rank{rank}.json")  # last, and whole: the test waits for it


if __name__ == "__main__":
    main()
