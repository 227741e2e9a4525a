"""The bill of a smoke run: what the full run of each chapter will cost on this device, from what the dry run measured.

A smoke run (``python -m inpaintlib.reproduce --smoke``) trains every run of every selected notebook for a few steps.
Each training writes ``metrics.jsonl`` (a record per step, with ``update_s``, the seconds of that optimizer update,
and the peak memory: ``peak_cuda_mb`` on a GPU, ``peak_rss_mb`` on the CPU) and ``model.json`` (its TrainConfig,
with ``schedule_steps``/``schedule_batch``, the uncapped schedule, set by ``Run.cap``). From these, per run:

* seconds per step: the median of the updates after the first (the first pays for warm-up: allocation, autotuning);
  with a single step, that step, marked;
* the projected wall time of the full schedule: ``schedule_steps x seconds per step x schedule_batch / batch``; the
  last factor is 1 when the smoke run used the paper's batch, and a linear extrapolation (an estimate, marked) when a
  smaller batch had to stand in;
* per chapter, the ablation runs are scaled up to every variant and seed of the paper-scale ablation (the smoke run
  trains a few of them).

Training time only: evaluation passes and checkpoint writes are not in it.
"""
from __future__ import annotations

import json
import math
import platform
import statistics
from pathlib import Path
from typing import Sequence

import pandas as pd

__all__ = ["bill", "write_bill", "device_name"]


def device_name() -> str:
    """The GPU's name when CUDA is available, else the CPU's."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _run_row(chapter: str, folder: Path, base: Path) -> dict | None:
    meta_path, log = folder / "model.json", folder / "metrics.jsonl"
    if not (meta_path.is_file() and log.is_file()):
        return None
    t = json.loads(meta_path.read_text()).get("train_config") or {}
    recs = [json.loads(x) for x in log.read_text().splitlines() if x.strip()]
    train = [r for r in recs if r.get("kind") == "train" and "update_s" in r]
    if not train:
        return None
    per_step = [r["update_s"] for r in train]
    timed = per_step[1:] or per_step
    s_step = statistics.median(timed)
    steps, batch = int(t.get("steps") or len(train)), int(t.get("batch_size") or 1)
    schedule = int(t.get("schedule_steps") or steps)
    schedule_batch = int(t.get("schedule_batch") or batch)
    mem_key = "peak_cuda_mb" if any("peak_cuda_mb" in r for r in train) else "peak_rss_mb"
    peak = max((r.get(mem_key, math.nan) for r in train), default=math.nan)
    projected = schedule * s_step * schedule_batch / batch
    rel = folder.relative_to(base).as_posix()
    return {"chapter": chapter, "run": rel, "ablation": rel.startswith("ablation"), "steps run": steps,
            "batch": batch, "paper steps": schedule, "paper batch": schedule_batch, "s per step": s_step,
            "timed steps": len(timed) if len(per_step) > 1 else 0, "peak memory (MB)": peak,
            "memory": "GPU allocated" if mem_key == "peak_cuda_mb" else "process RSS",
            "projected hours": projected / 3600,
            "estimate": ("batch scaled linearly" if batch != schedule_batch else "")
            + ("; one step, warm-up included" if len(per_step) == 1 else "")}


def _ablation_factor(chapter: str, rows: pd.DataFrame, scale: str) -> float:
    """Variants x seeds of the chapter's ablation at ``scale`` over the (variant, seed) runs measured (each may have
    several stages, e.g. DeepGIN's warm-up; 1 when unknown)."""
    try:
        from inpaintlib.chapter import run_context

        run = run_context(chapter, scale)
        full = len(run.spec.ablation_variants[scale]) * run.spec.ablation_seeds[scale]
    except Exception:  # noqa: BLE001 - a chapter without a spec (foundations, bench) has no ablation runs
        return 1.0
    trained = {"/".join(r.split("/")[:3]) for r in rows.loc[rows.ablation, "run"]}  # ablation/<variant>/seed<k>
    return full / len(trained) if trained else 1.0


def bill(artifacts: str | Path, scale: str, chapters: Sequence[str]) -> pd.DataFrame:
    """One row per training run found under ``artifacts/<scale>/<chapter>/`` (see the module docstring)."""
    rows = []
    for chapter in chapters:
        base = Path(artifacts) / scale / chapter
        if not base.is_dir():
            continue
        for meta in sorted(base.rglob("model.json")):
            row = _run_row(chapter, meta.parent, base)
            if row is not None:
                rows.append(row)
    return pd.DataFrame(rows)


def chapter_totals(frame: pd.DataFrame, scale: str) -> pd.DataFrame:
    """Per chapter: projected hours of the main runs, of the whole ablation (scaled to every variant and seed) and
    their sum; the largest peak memory."""
    out = []
    for chapter, rows in frame.groupby("chapter", sort=False):
        main = float(rows.loc[~rows.ablation, "projected hours"].sum())
        abl = float(rows.loc[rows.ablation, "projected hours"].sum()) * _ablation_factor(chapter, rows, scale)
        out.append({"chapter": chapter, "training (h)": main, "ablation, every variant and seed (h)": abl,
                    "total (h)": main + abl, "largest peak memory (MB)": float(rows["peak memory (MB)"].max())})
    return pd.DataFrame(out)


def write_bill(frame: pd.DataFrame, out_dir: str | Path, state: dict, parameters: dict) -> Path:
    """``out_dir/bill.md`` (and ``bill.csv``): the device, the per-run rows and the per-chapter totals."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    scale = parameters.get("scale", "paper")
    lines = [f"# Bill of the smoke run ({scale} scale) on {device_name()}", "",
             "Training time projected from the measured seconds per step (evaluation and checkpoints not included); "
             "'batch scaled linearly' marks an estimate from a smaller batch than the paper's.", ""]
    failed = [d for d, e in state.get("notebooks", {}).items() if e.get("status") != "ok"]
    if failed:
        lines += [f"Notebooks that failed: {failed}", ""]
    if frame.empty:
        lines.append("No training run wrote a log in this smoke run.")
    else:
        frame.to_csv(out_dir / "bill.csv", index=False)
        shown = frame.drop(columns=["ablation"]).copy()
        for col, digits in (("s per step", 3), ("peak memory (MB)", 0), ("projected hours", 1)):
            shown[col] = shown[col].round(digits)
        lines += ["## Per training run", "", shown.to_markdown(index=False), "",
                  "## Per chapter", "", chapter_totals(frame, scale).round(1).to_markdown(index=False)]
    path = out_dir / "bill.md"
    path.write_text("\n".join(lines) + "\n")
    return path
