"""Train a chapter's ``demo`` model on this machine's CPU and publish it to ``weights/``: one command per network.

    python -m inpaintlib.reproduce.demo msfef             # or msanet, deepgin, pmrfn, ctxattn; --threads 1 (default)

runs the chapter's training notebook at ``scale="demo"`` with papermill (the recipe's ``DEMO_STEPS``: ci's recipe
and twice ci's widths, about 30 minutes on one core), then copies the checkpoint it wrote to
``weights/<paper>-demo-sample-scenes.safetensors`` (+ its sidecar) and records it in ``weights/manifest.json`` with
its sha256, the command, the data, the image size, the steps, the wall time, the thread count, the CPU and the
commit. A killed run resumes from its last training state when the command is run again (the demo recipe
checkpoints ten times per run). ``--no-publish`` trains without touching ``weights/``.
"""
from __future__ import annotations

import argparse
import resource
import shutil
import sys
import time
from pathlib import Path

from ..chapter.demo import TRAINING_NOTEBOOKS
from ..cost import cpu_name
from ..manifest import Manifest
from ..paths import artifact_dir
from ..weights import read_sidecar, sidecar_path
from .execute import run_notebook

__all__ = ["TRAINING_NOTEBOOKS", "DEMO_RUN", "demo_name", "train_demo", "publish_demo", "main"]

#: The run (data) the demo models are trained on: the sample scenes' training photographs.
DEMO_RUN = "sample_scenes"


def demo_name(paper: str) -> str:
    """The manifest name (and ``weights/`` file stem) of a chapter's demo checkpoint."""
    return f"{paper}-demo-sample-scenes"


def _check_paper(paper: str) -> None:
    if paper not in TRAINING_NOTEBOOKS:
        raise ValueError(f"unknown chapter {paper!r}: expected one of {sorted(TRAINING_NOTEBOOKS)}")


def _children_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def train_demo(root: Path, paper: str, threads: int = 1) -> tuple[float, float, Path]:
    """Run the chapter's training notebook at ``demo`` scale with ``threads`` CPU threads (``OMP_NUM_THREADS`` and
    ``MKL_NUM_THREADS`` of the kernel); return ``(wall seconds, CPU seconds of the kernel, checkpoint path)``: the
    CPU time (user + system) is the budget that does not depend on what else the machine runs. Raises on a failed
    cell."""
    _check_paper(paper)
    env = {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    out = root / "_build" / "executed" / "demo" / f"{TRAINING_NOTEBOOKS[paper]}.ipynb"
    cpu0 = _children_cpu_s()
    run = run_notebook(root, TRAINING_NOTEBOOKS[paper], {"scale": "demo"}, output=out, env=env)
    cpu = _children_cpu_s() - cpu0
    if not run.ok:
        raise RuntimeError(str(run.failure))
    ckpt = artifact_dir(paper, "demo", create=False) / DEMO_RUN / "model.safetensors"
    if not ckpt.is_file():
        raise FileNotFoundError(f"{TRAINING_NOTEBOOKS[paper]} ran but wrote no {ckpt}")
    return run.wall_s, cpu, ckpt


def publish_demo(root: Path, paper: str, ckpt: Path, wall_s: float, threads: int, cpu_s: float | None) -> dict:
    """Copy ``ckpt`` (+ sidecar) to ``weights/`` and (re)write its manifest entry; return the entry."""
    _check_paper(paper)
    name = demo_name(paper)
    dst = root / "weights" / f"{name}.safetensors"
    size = ckpt.stat().st_size
    if size > 16 * 2 ** 20:
        raise ValueError(f"{ckpt} is {size / 2 ** 20:.1f} MiB; checkpoints in weights/ must stay under 16 MiB")
    shutil.copyfile(ckpt, dst)
    shutil.copyfile(sidecar_path(ckpt), sidecar_path(dst))
    meta = read_sidecar(dst)
    warm = ckpt.parent / "warmup" / "model.safetensors"  # a first stage (DeepGIN's warm-up) counts as well
    warmup = int(read_sidecar(warm).get("step") or 0) if warm.is_file() else 0
    man = Manifest(root / "weights" / "manifest.json")
    entry = man.add_entry(
        name, chapter=paper, model=meta.get("model", ""), scale="demo", file=f"weights/{name}.safetensors",
        sources=[{"type": "repository", "path": f"weights/{name}.safetensors"},
                 {"type": "notebook", "notebook": f"{TRAINING_NOTEBOOKS[paper]}.py", "scale": "demo"}],
        metrics={k: round(float(v), 4) for k, v in (meta.get("metrics") or {}).items()}, replace=True, save=False)
    entry["training"] = {
        "command": f"python -m inpaintlib.reproduce.demo {paper} --threads {threads}",
        "data": "the sample scenes' training photographs (inpaintlib.datasets), random 64 px crops",
        "image_size": (meta.get("config") or {}).get("image_size"),
        **({"warmup_steps": warmup} if warmup else {}),
        "steps": meta.get("step", 0) + warmup,
        "wall_s": round(wall_s, 1),
        "cpu_s": None if cpu_s is None else round(cpu_s, 1),
        "threads": threads,
        "cpu": cpu_name(),
    }
    man.save()
    return entry


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m inpaintlib.reproduce.demo", description=__doc__.split("\n")[0])
    ap.add_argument("paper", choices=sorted(TRAINING_NOTEBOOKS))
    ap.add_argument("--threads", type=int, default=1, help="CPU threads for the training (default 1)")
    ap.add_argument("--no-publish", action="store_true", help="train only; leave weights/ alone")
    args = ap.parse_args(argv)
    root = Path.cwd()
    if not (root / TRAINING_NOTEBOOKS[args.paper]).with_suffix(".py").is_file():
        ap.error(f"run from the repository root (no {TRAINING_NOTEBOOKS[args.paper]}.py under {root})")
    t0 = time.perf_counter()
    wall, cpu, ckpt = train_demo(root, args.paper, args.threads)
    print(f"{args.paper}: trained in {wall / 60:.1f} min ({cpu / 60:.1f} CPU min) -> {ckpt}")
    if not args.no_publish:
        entry = publish_demo(root, args.paper, ckpt, wall, args.threads, cpu)
        print(f"published {entry['file']} (sha256 {entry['sha256'][:12]}..., metrics {entry['metrics']}); "
              f"{(time.perf_counter() - t0) / 60:.1f} min in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
