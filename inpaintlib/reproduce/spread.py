"""How much the book's asserted trained results move between runs that should be equivalent.

Usage (inside the project's environment; about 10 CPU minutes per variant)::

    python -m inpaintlib.reproduce.spread                          # the default variants, two side by side
    python -m inpaintlib.reproduce.spread --variant t2:threads=2 --variant s1:threads=1,seed=1 --jobs 2
    python -m inpaintlib.reproduce.spread --chapter deepgin ctxattn --variant nchw:threads=1,memory_format=contiguous

A *variant* is a name and settings: ``threads`` (``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` of the kernel),
``seed`` (the notebooks' ``seed`` parameter: training order and initial weights; the test masks are fixed),
``memory_format`` (``INPAINTLIB_MEMORY_FORMAT``: ``contiguous`` runs every network in NCHW, ``channels_last`` in
NHWC). Each variant runs the training and evaluation notebooks of the chosen chapters (and the bench's quality
notebook when every chapter is chosen) at ci scale into a folder of its own, so the book's run is untouched; the
margins of :mod:`inpaintlib.reproduce.claims` (the asserted ones and the reported per-bucket ones) are read back
from each. The result, written atomically to ``notebooks/bench/measured/spread.json``, holds every variant's margins,
per claim the smallest margin, the range (largest minus smallest), the mean, the standard deviation and ``z`` (mean
over standard deviation) over the variants, the machine, the command and the commit. ``--merge FILE`` adds the
variants of an earlier result (another session, another machine) before summarising.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from inpaintlib.cost import cpu_name
from inpaintlib.files import atomic_write_text, git_commit

from .claims import BENCH, claim_notebooks, margins
from .execute import run_notebook

__all__ = ["DEFAULT_VARIANTS", "parse_variant", "run_variant", "run_variants", "summarise", "main"]

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = "notebooks/bench/measured/spread.json"
_BUCKET_CLAIM = re.compile(r" b\d+$")  # the reported per-bucket margins (claims.margins(per_bucket=True))
SETTINGS = ("threads", "seed", "memory_format")
#: The book's run is 1 thread, seed 0, each network in its class's memory format; these vary one thing each.
DEFAULT_VARIANTS = ("t1:threads=1", "t2:threads=2", "seed1:threads=1,seed=1", "seed2:threads=1,seed=2",
                    "nchw:threads=1,memory_format=contiguous")


def parse_variant(text: str) -> tuple[str, dict]:
    """``"name:threads=1,seed=2"`` -> ``("name", {"threads": 1, "seed": 2})``; ``ValueError`` naming the form."""
    name, sep, rest = text.partition(":")
    settings: dict = {}
    for part in filter(None, rest.split(",")):
        key, eq, value = part.partition("=")
        if not eq or key not in SETTINGS:
            raise ValueError(f"variant {text!r}: expected NAME:KEY=VALUE,... with KEY one of {SETTINGS}")
        settings[key] = value if key == "memory_format" else int(value)
    if not sep or not name or not settings:
        raise ValueError(f"variant {text!r}: expected NAME:KEY=VALUE,... (e.g. t2:threads=2)")
    if settings.get("memory_format", "contiguous") not in ("contiguous", "channels_last"):
        raise ValueError(f"variant {text!r}: memory_format is contiguous or channels_last")
    return name, settings


def variant_env(settings: dict, artifacts: Path) -> dict:
    """The kernel's environment for one variant: its own artifacts folder, the thread count, the memory format."""
    env = {"INPAINTLIB_ARTIFACTS": str(artifacts)}
    if "threads" in settings:
        env.update(OMP_NUM_THREADS=str(settings["threads"]), MKL_NUM_THREADS=str(settings["threads"]))
    if "memory_format" in settings:
        env["INPAINTLIB_MEMORY_FORMAT"] = settings["memory_format"]
    return env


def run_variant(root: str, name: str, settings: dict, docs: list[str], workdir: str,
                extra: dict | None = None) -> dict:
    """Run ``docs`` in order at ci scale under ``settings`` into ``workdir/name``; return ``{"settings", "wall_s",
    "key_numbers": {doc: {...}}, "failed": doc or None, "error": text}``. Runs in a worker process of its own."""
    base = Path(workdir) / name
    env = variant_env(settings, base / "artifacts")
    params = {"scale": "ci", "seed": settings.get("seed", 0), "data_root": None, **(extra or {})}
    out: dict = {"settings": settings, "key_numbers": {}, "failed": None, "error": None}
    t0 = time.perf_counter()
    for doc in docs:
        run = run_notebook(Path(root), doc, params, output=base / f"{doc}.ipynb", env=env, timeout=1800)
        if not run.ok:
            out.update(failed=doc, error=run.failure.format())
            break
        out["key_numbers"][doc] = run.key_numbers
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    return out


def run_variants(variants: dict[str, dict], docs: list[str], jobs: int, workdir: str | os.PathLike,
                 root: Path = ROOT, extra: dict | None = None) -> dict[str, dict]:
    """Every variant in its own worker process; ``name -> run_variant(...)``. Variants of one thread run ``jobs`` at
    a time; a variant of more threads runs alone afterwards (beside another process its threads would wait on each
    other: measured 4x slower on 2 cores)."""
    single = {n: s for n, s in variants.items() if s.get("threads", 1) == 1}
    multi = {n: s for n, s in variants.items() if n not in single}
    out = {}
    for group, width in ((single, jobs), *(({n: s}, 1) for n, s in multi.items())):
        if not group:
            continue
        with ProcessPoolExecutor(max_workers=width, mp_context=get_context("spawn")) as pool:
            futures = {n: pool.submit(run_variant, str(root), n, s, docs, str(workdir), extra)
                       for n, s in group.items()}
            out.update({n: f.result() for n, f in futures.items()})
    return {n: out[n] for n in variants}


def summarise(per_variant: dict[str, dict[str, float]]) -> dict[str, dict]:
    """``claim -> {"asserted", "min", "max", "range", "mean", "std", "z", "variants"}`` over ``variant -> {claim:
    margin}`` (a claim missing from a variant is left out there). ``std`` is the sample standard deviation, ``z`` the
    mean over it (how many standard deviations the claim sits above zero; None with one variant or no spread)."""
    claims_seen = sorted({c for m in per_variant.values() for c in m})
    asserted = {c for m in per_variant.values() for c in m if not _BUCKET_CLAIM.search(c)}
    out = {}
    for c in claims_seen:
        vals = [m[c] for m in per_variant.values() if c in m]
        std = statistics.stdev(vals) if len(vals) > 1 else None
        mean = statistics.fmean(vals)
        out[c] = {"asserted": c in asserted, "min": round(min(vals), 2), "max": round(max(vals), 2),
                  "range": round(max(vals) - min(vals), 2), "mean": round(mean, 2),
                  "std": None if std is None else round(std, 2),
                  "z": round(mean / std, 1) if std else None, "variants": len(vals)}
    return out


def main(argv: list[str] | None = None) -> int:  # noqa: D103
    ap = argparse.ArgumentParser(prog="python -m inpaintlib.reproduce.spread", description=__doc__.splitlines()[0])
    ap.add_argument("--variant", action="append", default=[], metavar="NAME:KEY=VALUE,...",
                    help=f"a variant (repeatable; keys {', '.join(SETTINGS)}); default: {' '.join(DEFAULT_VARIANTS)}")
    ap.add_argument("--chapter", nargs="+", default=None, metavar="NAME", help="chapters (default: all five)")
    ap.add_argument("--jobs", type=int, default=2, help="variants run side by side (default 2)")
    ap.add_argument("--out", default=DEFAULT_OUT, help=f"JSON file (default {DEFAULT_OUT})")
    ap.add_argument("--merge", action="append", default=[], metavar="FILE",
                    help="an earlier spread.json whose variants join this run's (repeatable)")
    ap.add_argument("--workdir", default=None, help="where the variants' notebooks and checkpoints go "
                    "(default: a temporary folder, removed afterwards)")
    args = ap.parse_args(argv)
    try:
        variants = dict(parse_variant(v) for v in (args.variant or DEFAULT_VARIANTS))
    except ValueError as exc:
        ap.error(str(exc))
    docs = claim_notebooks(args.chapter) + ([BENCH] if args.chapter is None else [])
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="spread-") as tmp:
        runs = run_variants(variants, docs, args.jobs, args.workdir or tmp)
    failed = {n: r["error"] for n, r in runs.items() if r["failed"]}
    result = {
        "what": "margins of the asserted trained results (inpaintlib.reproduce.claims) under equivalent variants",
        "command": "python -m inpaintlib.reproduce.spread " + " ".join(sys.argv[1:] if argv is None else argv),
        "commit": git_commit(ROOT), "cpu": cpu_name(), "cores": os.cpu_count(), "jobs": args.jobs,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "wall_s": round(time.perf_counter() - t0, 1),
        "variants": {n: {"settings": r["settings"], "wall_s": r["wall_s"], "failed": r["failed"],
                         "margins": {k: round(v, 2) for k, v in
                                     margins(r["key_numbers"], args.chapter, per_bucket=True).items()}}
                     for n, r in runs.items()},
    }
    for f in args.merge:
        for n, v in json.loads(Path(f).read_text())["variants"].items():
            result["variants"].setdefault(n, dict(v, merged_from=str(f)))
    result["spread"] = summarise({n: v["margins"] for n, v in result["variants"].items() if not v["failed"]})
    out = Path(args.out) if Path(args.out).is_absolute() else ROOT / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(result, indent=1) + "\n")
    for c, s in result["spread"].items():
        print(f"{c:32s} {'asserted' if s['asserted'] else 'reported'}  min {s['min']:+6.2f}  range {s['range']:5.2f}"
              f"  std {s['std'] if s['std'] is not None else '-':>5}  z {s['z'] if s['z'] is not None else '-':>5}"
              f"  ({s['variants']} variants)")
    for n, err in failed.items():
        print(f"variant {n} failed:\n{err}", file=sys.stderr)
    print(f"wrote {out} in {result['wall_s']:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
