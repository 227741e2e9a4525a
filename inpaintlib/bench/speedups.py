"""Do ``torch.compile`` or ``channels_last`` make the book's networks faster on the CPU? Before/after, per network.

    python -m inpaintlib.bench.speedups [--papers msfef ...] [--threads N] [--repeats R] [--timeout S]
                                        [--out notebooks/bench/measured/speedups.json]

For each of the five networks at its ``demo`` configuration (``build_model(paper, asdict(Config.demo()))``), two
tasks: ``inference`` (one 256x256 image with the 25 % centre box, eval mode, no gradient) and ``train_step`` (a
batch of 8 images of the demo size: forward, an L1 loss against the image, backward and an Adam step; the
chapters' full losses, VGG features and discriminators, are left out, so this times the generator only).

Each (network, task, variant) runs in a fresh child process (all ``channels_last`` rows first, then all
``compile`` rows; the JSON file is rewritten after each row and keeps the rows of other variants already in it,
``"complete": false`` until every combination has a row), so a crash or
a compile that does not finish (``--timeout``) costs only that row. A child times eager against the variant,
interleaved run by run, each the median of ``--repeats`` runs after warm-up runs: ``channels_last`` (model and
inputs in NHWC) against the same network in NCHW, whichever format the library runs it in
(:meth:`inpaintlib.network.InpaintingNet.adopt_memory_format`), or ``torch.compile(model)`` against the library's
eager network (the default inductor backend, which needs a C++ compiler on the CPU;
its first call, which compiles, is timed separately as ``first_call_s``). Failures are recorded with their error.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from ..cost import cpu_name
from ..paths import repo_root
from ..registry import paper_model
from .cost import PAPERS, build, inputs
from .layers import time_interleaved

__all__ = ["VARIANTS", "TASKS", "make_task", "measure_pair", "run", "speedup_table", "speedups_finding",
           "adopted_formats", "adoption_finding", "main", "DEFAULT_OUT"]

DEFAULT_OUT = Path("notebooks") / "bench" / "measured" / "speedups.json"
VARIANTS = ("channels_last", "compile")
TASKS = ("inference", "train_step")
TRAIN_BATCH = 8


def make_task(paper: str, task: str, variant: str | None):
    """A callable running one ``task`` of ``paper``'s demo network: ``"contiguous"`` (NCHW), ``"channels_last"``
    (NHWC), ``"compile"`` (the library's default format, compiled) or ``None`` (the library's default, eager)."""
    model = build(paper, "demo")
    if task == "inference":
        image, valid = inputs(256)
    else:
        size = paper_model(paper).config_cls.demo().image_size
        image, valid = inputs(size, TRAIN_BATCH)
        model.train()
    if variant in ("contiguous", "channels_last"):
        fmt = torch.channels_last if variant == "channels_last" else torch.contiguous_format
        model.adopt_memory_format(fmt)  # weights now, inputs on every call (inpaintlib.network)
    fn = torch.compile(model) if variant == "compile" else model
    if task == "inference":
        def step():
            with torch.no_grad():
                fn(image, valid)
        return step
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def train_step():
        opt.zero_grad(set_to_none=True)
        out = fn(image, valid)
        F.l1_loss(out, image).backward()
        opt.step()
    return train_step


def measure_pair(paper: str, task: str, variant: str, repeats: int = 5, warmup: int = 2) -> dict:
    """Eager against ``variant`` for one (network, task), interleaved; run in a child process by :func:`run`."""
    torch.manual_seed(0)
    eager = make_task(paper, task, "contiguous" if variant == "channels_last" else None)
    other = make_task(paper, task, variant)
    t0 = time.perf_counter()
    other()  # for torch.compile: the compilation
    first_s = time.perf_counter() - t0
    t = time_interleaved({"eager": eager, variant: other}, warmup, repeats)
    return {"paper": paper, "task": task, "variant": variant, "eager_s": t["eager"], "variant_s": t[variant],
            "speedup": t["eager"] / t[variant], "first_call_s": first_s, "repeats": repeats, "error": None}


def _child(paper: str, task: str, variant: str, repeats: int, timeout: int, threads: int) -> dict:
    cmd = [sys.executable, "-m", "inpaintlib.bench.speedups", "--child", paper, task, variant,
           "--repeats", str(repeats), "--threads", str(threads)]
    base = {"paper": paper, "task": task, "variant": variant, "eager_s": None, "variant_s": None, "speedup": None,
            "first_call_s": None, "repeats": repeats}
    t0 = time.perf_counter()
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=repo_root())
    except subprocess.TimeoutExpired:
        return {**base, "error": f"did not finish within {timeout} s (compilation included)"}
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("{")]
    if res.returncode != 0 or not lines:
        lines = res.stderr.strip().splitlines() or ["no output"]
        raised = [ln for ln in lines if re.match(r"^[\w.]+(Error|Exception)\b", ln)]  # the exception, not advice
        err = (raised or lines)[-1]
        return {**base, "error": f"exit {res.returncode}: {err[:300]}", "wall_s": time.perf_counter() - t0}
    return {**json.loads(lines[-1]), "wall_s": time.perf_counter() - t0}


def run(papers=PAPERS, tasks=TASKS, variants=VARIANTS, repeats: int = 5, timeout: int = 600,
        threads: int | None = None, out: Path | None = None, command: str = "") -> dict:
    """Every (network, task, variant) in child processes, variant by variant; the machine facts and the rows.
    With ``out``, the result so far is written after every row, so an interrupted run keeps what it measured; rows
    already in ``out`` for combinations this run does not measure are kept (``"complete"`` once every network,
    task and variant has a row)."""
    import shutil

    threads = threads or os.cpu_count() or 1
    result = {"cpu": cpu_name(), "cores": os.cpu_count(), "threads": threads, "torch": torch.__version__,
              "cxx_compiler": shutil.which("c++") or shutil.which("g++"),
              "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "load_avg_1min_before": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
              "train_batch": TRAIN_BATCH, "command": command, "complete": False, "rows": []}
    todo = [(v, p, t) for v in variants for p in papers for t in tasks]
    if out is not None and out.is_file():  # keep the rows of the file that this run does not measure again
        before = json.loads(out.read_text())
        result["rows"] = [r for r in before["rows"] if (r["variant"], r["paper"], r["task"]) not in todo]
        if result["rows"] and before.get("command"):  # the runs that measured the rows, in order
            result["command"] = f"{before['command']}, then {command}"
    every = {(v, p, t) for v in VARIANTS for p in PAPERS for t in TASKS}
    for variant, paper, task in todo:
        row = _child(paper, task, variant, repeats, timeout, threads)
        result["rows"].append(row)
        result["complete"] = every <= {(r["variant"], r["paper"], r["task"]) for r in result["rows"]}
        sp = f"{row['speedup']:.2f}x" if row.get("speedup") else row.get("error")
        print(f"{paper:8} {task:10} {variant:14} {sp}", flush=True)
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return result


def _raised(error) -> str:
    """The exception's name in a recorded error (``exit 1: torch._inductor.exc.InductorError: ...`` ->
    ``InductorError``), for a table cell; the whole message is in the JSON file and the finding."""
    m = re.search(r"([\w.]+(?:Error|Exception))\b", str(error))
    return m.group(1).rsplit(".", 1)[-1] if m else "see the finding"


def speedup_table(data: dict):
    """Eager time and speedup (eager / variant; above 1 = faster) per (network, task) and variant, from a result
    of :func:`run`; a failed measurement shows its error instead of a number."""
    import pandas as pd

    from .cost import LABELS

    rows = {}
    if not data.get("rows"):
        return pd.DataFrame()
    order = {p: i for i, p in enumerate(PAPERS)}  # the book's order, whichever run measured a row
    for r in sorted(data["rows"], key=lambda r: (order.get(r["paper"], len(order)), TASKS.index(r["task"])
                                                  if r["task"] in TASKS else len(TASKS))):
        key = (LABELS.get(r["paper"], r["paper"]), r["task"])
        row = rows.setdefault(key, {})
        if r.get("eager_s") and r["variant"] == "channels_last":  # the time before, in NCHW
            row["NCHW s"] = r["eager_s"]
        row[f"{r['variant']} speedup"] = r["speedup"] if r.get("speedup") else f"failed ({_raised(r.get('error'))})"
        if r["variant"] == "compile" and r.get("first_call_s"):
            row["compile: first call s"] = r["first_call_s"]
            if r.get("speedup") and r["speedup"] > 1:  # calls after which the compilation has paid for itself
                row["compile: pays back after calls"] = round(
                    (r["first_call_s"] - r["variant_s"]) / (r["eager_s"] - r["variant_s"]))
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index = pd.MultiIndex.from_tuples(out.index, names=["network", "task"])
    return out


def speedups_finding(table, threshold: float = 1.1, data: dict | None = None) -> str:
    """Which (network, task, variant) ran more than ``threshold`` times faster than eager, and which failed (with
    the error recorded in ``data``, the result of :func:`run`, when given)."""
    from .cost import LABELS

    errors = {(LABELS.get(r["paper"], r["paper"]), r["task"], r["variant"]): str(r.get("error"))[:160]
              for r in (data or {}).get("rows", []) if r.get("error")}
    gains, failed = [], []
    if table.empty:
        return "Not measured yet."
    for (net, task), r in table.iterrows():
        for v in VARIANTS:
            val = r.get(f"{v} speedup")
            if isinstance(val, float) and val > threshold:
                payback = r.get("compile: pays back after calls") if v == "compile" else None
                gains.append(f"{v} for {net} {task} ({val:.2f}x" + (
                    f", after a first call of {r['compile: first call s']:.0f} s that pays for itself after "
                    f"{payback:.0f} calls)" if isinstance(payback, (int, float)) and payback == payback else ")"))
            elif isinstance(val, str):
                err = errors.get((net, task, v))
                failed.append(f"{v} for {net} {task}" + (f" (`{err}`)" if err else ""))  # code: no markdown in it
    return (f"More than {100 * (threshold - 1):.0f}% faster than eager: {'; '.join(gains) if gains else 'none'}."
            + (f" Failed: {'; '.join(failed)}." if failed else ""))


def adopted_formats(papers=PAPERS) -> dict[str, str]:
    """``paper -> memory format`` the library runs each network in (its class's ``memory_format``)."""
    return {p: str(paper_model(p).network_cls.memory_format).replace("torch.", "") for p in papers}


def adoption_finding(table, formats: dict[str, str] | None = None) -> str:
    """What the library adopted, checked against the measured ``channels_last`` speedups of :func:`speedup_table`:
    for each network, its format and whether the measurement supports it (channels_last adopted where it was faster
    for both inference and a training step, not adopted where it was slower for either)."""
    from .cost import LABELS

    formats = adopted_formats() if formats is None else formats
    parts = []
    for paper, fmt in formats.items():
        net = LABELS.get(paper, paper)
        vals = [table.loc[(net, t)].get("channels_last speedup") if (net, t) in table.index else None for t in TASKS]
        if not all(isinstance(v, float) for v in vals):
            parts.append(f"{net} runs in {fmt} (channels_last not measured)")
            continue
        faster = all(v > 1 for v in vals)
        agrees = faster == (fmt == "channels_last")
        parts.append(f"{net} runs in {fmt} (channels_last {vals[0]:.2f}x inference, {vals[1]:.2f}x training: "
                     + ("as measured" if agrees else "**the measurement no longer supports this choice**") + ")")
    return "The library's choice (`memory_format` of each network class): " + "; ".join(parts) + "."


def main(argv=None) -> dict | None:  # noqa: D103
    p = argparse.ArgumentParser(prog="python -m inpaintlib.bench.speedups", description=__doc__.splitlines()[0])
    p.add_argument("--papers", nargs="+", default=list(PAPERS), choices=PAPERS)
    p.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    p.add_argument("--timeout", type=int, default=600, help="seconds per child process")
    p.add_argument("--out", default=None)
    p.add_argument("--child", nargs=3, metavar=("PAPER", "TASK", "VARIANT"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.child:
        print(json.dumps(measure_pair(*args.child, repeats=args.repeats)), flush=True)
        return None
    command = "python -m inpaintlib.bench.speedups " + " ".join(argv if argv is not None else sys.argv[1:])
    out = Path(args.out) if args.out else repo_root() / DEFAULT_OUT
    result = run(args.papers, args.tasks, args.variants, args.repeats, args.timeout, args.threads, out, command)
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
