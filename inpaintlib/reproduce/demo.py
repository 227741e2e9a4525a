"""Train a chapter's ``demo`` model on this machine's CPU and publish it to ``weights/``: one command per network.

    python -m inpaintlib.reproduce.demo msfef             # or msanet, deepgin, pmrfn, ctxattn; --threads 1 (default)

runs the chapter's training notebook at ``scale="demo"`` with papermill (the recipe's ``DEMO_STEPS``: ci's recipe
with twice ci's widths or ci's own network, about 30 minutes on one core), then copies the checkpoint it wrote to
``weights/<paper>-demo-sample-scenes.safetensors`` (+ its sidecar) and records it in ``weights/manifest.json`` with
its sha256, the command, the data, the image size, the steps, the wall time, the thread count, the CPU and the
commit. A killed run resumes from its last training state when the command is run again (the demo recipe
checkpoints ten times per run). ``--no-publish`` trains without touching ``weights/``.
"""
from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ..chapter.demo import TRAINING_NOTEBOOKS
from ..cost import cpu_name
from ..files import git_commit
from ..manifest import Manifest
from ..paths import artifact_dir
from ..weights import load_checkpoint, read_sidecar, save_checkpoint, sidecar_path
from .execute import run_notebook

__all__ = ["TRAINING_NOTEBOOKS", "DEMO_RUN", "demo_name", "train_demo", "publish_demo", "main"]

#: The largest checkpoint ``weights/`` takes (16 MiB).
MAX_BYTES = 16 * 2 ** 20
#: Sidecar fields ``save_checkpoint`` computes (not carried over when a checkpoint is re-saved in float16).
COMPUTED_FIELDS = {"format", "file", "sha256", "size", "content_sha256", "num_tensors", "library_version",
                   "torch_version", "created"}
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


def _tree_state(root: Path) -> dict:
    """The commit checked out when a training starts and whether the working tree had uncommitted changes then
    (the checkpoint's sidecar records the full model and training configs either way)."""
    status = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True)
    return {"commit": git_commit(root), "uncommitted_changes": bool(status.stdout.strip()) or status.returncode != 0}


def train_demo(root: Path, paper: str, threads: int = 1) -> tuple[float, float, Path, dict]:
    """Run the chapter's training notebook at ``demo`` scale with ``threads`` CPU threads (``OMP_NUM_THREADS`` and
    ``MKL_NUM_THREADS`` of the kernel); return ``(wall seconds, CPU seconds of the kernel, checkpoint path, the
    commit and tree state at the start)``. The CPU time (user + system) is the budget that does not depend on what
    else the machine runs. Raises on a failed cell."""
    _check_paper(paper)
    env = {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    out = root / "_build" / "executed" / "demo" / f"{TRAINING_NOTEBOOKS[paper]}.ipynb"
    start = _tree_state(root)
    cpu0 = _children_cpu_s()
    run = run_notebook(root, TRAINING_NOTEBOOKS[paper], {"scale": "demo"}, output=out, env=env)
    cpu = _children_cpu_s() - cpu0
    if not run.ok:
        raise RuntimeError(str(run.failure))
    ckpt = artifact_dir(paper, "demo", create=False) / DEMO_RUN / "model.safetensors"
    if not ckpt.is_file():
        raise FileNotFoundError(f"{TRAINING_NOTEBOOKS[paper]} ran but wrote no {ckpt}")
    return run.wall_s, cpu, ckpt, start


def publish_demo(root: Path, paper: str, ckpt: Path, wall_s: float, threads: int, cpu_s: float | None,
                 start: dict | None = None) -> dict:
    """Copy ``ckpt`` (+ sidecar) to ``weights/`` and (re)write its manifest entry; return the entry. A checkpoint
    over :data:`MAX_BYTES` is stored with its floating-point tensors in float16 (``meta["stored_dtype"]``; loading
    casts them back into the float32 network); one still over the limit is refused."""
    _check_paper(paper)
    name = demo_name(paper)
    dst = root / "weights" / f"{name}.safetensors"
    if ckpt.stat().st_size <= MAX_BYTES:
        shutil.copyfile(ckpt, dst)
        shutil.copyfile(sidecar_path(ckpt), sidecar_path(dst))
    else:
        tensors, meta = load_checkpoint(ckpt)
        half = {k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}
        keep = {k: v for k, v in meta.items() if k not in COMPUTED_FIELDS}
        save_checkpoint(dst, half, {**keep, "stored_dtype": "float16"})
    size = dst.stat().st_size
    if size > MAX_BYTES:
        dst.unlink()
        sidecar_path(dst).unlink()
        raise ValueError(f"{ckpt} is {size / 2 ** 20:.1f} MiB even in float16; weights/ takes at most 16 MiB")
    meta = read_sidecar(dst)
    warm = ckpt.parent / "warmup" / "model.safetensors"  # a first stage (DeepGIN's warm-up) counts as well
    warmup = int(read_sidecar(warm).get("step") or 0) if warm.is_file() else 0
    size_px = (meta.get("config") or {}).get("image_size")
    man = Manifest(root / "weights" / "manifest.json")
    entry = man.add_entry(
        name, chapter=paper, model=meta.get("model", ""), scale="demo", file=f"weights/{name}.safetensors",
        sources=[{"type": "repository", "path": f"weights/{name}.safetensors"},
                 {"type": "notebook", "notebook": f"{TRAINING_NOTEBOOKS[paper]}.py", "scale": "demo"}],
        metrics={k: round(float(v), 4) for k, v in (meta.get("metrics") or {}).items()}, replace=True, save=False,
        commit=(start or {}).get("commit"))
    entry["training"] = {
        "command": f"python -m inpaintlib.reproduce.demo {paper} --threads {threads}",
        "data": f"the sample scenes' training photographs (inpaintlib.data.SampleScenes), random {size_px} px crops",
        "image_size": size_px,
        **({"warmup_steps": warmup} if warmup else {}),
        "steps": meta.get("step", 0) + warmup,
        "wall_s": round(wall_s, 1),
        "cpu_s": None if cpu_s is None else round(cpu_s, 1),
        "threads": threads,
        "cpu": cpu_name(),
        **({"uncommitted_changes_at_start": start["uncommitted_changes"]} if start else {}),
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
    wall, cpu, ckpt, start = train_demo(root, args.paper, args.threads)
    print(f"{args.paper}: trained in {wall / 60:.1f} min ({cpu / 60:.1f} CPU min) -> {ckpt}")
    if not args.no_publish:
        entry = publish_demo(root, args.paper, ckpt, wall, args.threads, cpu, start)
        print(f"published {entry['file']} (sha256 {entry['sha256'][:12]}..., metrics {entry['metrics']}); "
              f"{(time.perf_counter() - t0) / 60:.1f} min in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
