"""``python -m inpaintlib.reproduce``: the command line, and the run over the selected notebooks."""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from inpaintlib.files import sha256_file
from inpaintlib.paths import SCALES

from .book import build_book
from .execute import Run, ensure_kernel, run_notebook
from .report import fmt_wall, write_report
from .state import cache_key, commit_of, is_cached, library_hash, load_state, migrate_beside_source, save_state
from .toc import READS_OTHER_CHAPTERS, Notebook, toc_notebooks

__all__ = ["main", "parse_args", "parse_param"]

DEFAULT_ROOT = Path(__file__).resolve().parents[2]
RESERVED = {"scale": "--scale", "seed": "--seed", "data_root": "--data-root"}


def parse_param(text: str) -> tuple[str, Any]:
    """``NAME=VALUE`` -> ``(NAME, value)``: the value parsed as JSON when it is JSON (``2``, ``1e-3``, ``true``,
    ``null``, ``[1, 2]``, ``"quoted"``), else kept as the string. ``scale``, ``seed`` and ``data_root`` have
    options of their own."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"--param takes NAME=VALUE with NAME a Python identifier, got {text!r}")
    if name in RESERVED:
        raise argparse.ArgumentTypeError(f"--param {name}=...: use {RESERVED[name]} instead")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return name, value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from . import __doc__ as doc

    ap = argparse.ArgumentParser(prog="python -m inpaintlib.reproduce", description=(doc or "").split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", choices=SCALES, default="ci", help="scale of every notebook (default: ci)")
    ap.add_argument("--chapter", action="extend", nargs="+", default=[], metavar="NAME",
                    help="run only these chapters (folders under notebooks/, e.g. foundations msfef). Default: all")
    ap.add_argument("--data-root", default=None, metavar="DIR", help="root of the prepared real datasets "
                    "(passed to the notebooks as data_root; needed at paper scale)")
    ap.add_argument("--seed", type=int, default=0, help="seed passed to every notebook (default: 0)")
    ap.add_argument("--param", action="append", type=parse_param, default=[], metavar="NAME=VALUE",
                    help="an extra papermill parameter for every selected notebook (repeatable), e.g. "
                    "--param max_steps=2; VALUE is parsed as JSON when it is JSON, else a string. Part of the "
                    "cache key and shown in the report")
    ap.add_argument("--jobs", type=int, default=None, metavar="N",
                    help="chapters run side by side, each in a process of its own (default: at ci scale the "
                    "number of CPU cores, capped at 4; else 1). Chapters that read other chapters' results run last")
    ap.add_argument("--threads", type=int, default=None, metavar="T",
                    help="CPU threads of each notebook's kernel (OMP_NUM_THREADS, MKL_NUM_THREADS; default: at "
                    "ci scale 1, so the numbers do not depend on the machine's core count; else torch's default)")
    ap.add_argument("--smoke", action="store_true",
                    help="a dry run before a long run: every selected notebook once with a few steps per training, one "
                    "test photograph and one mask per bucket (inpaintlib.chapter.SMOKE), on the given data and device; "
                    "outputs under _build/smoke/ (never over a real run), no book; ends with the bill: steps of the "
                    "paper's schedule, measured seconds per step, peak memory and the projected wall time")
    ap.add_argument("--no-build", action="store_true", help="run the notebooks and write the report, skip the book")
    ap.add_argument("--force", action="store_true", help="run the selected notebooks even when cached")
    ap.add_argument("--kernel", default="python3", help="Jupyter kernel name (default: python3; installed into "
                    "sys.prefix when missing)")
    ap.add_argument("--timeout", type=float, default=None, metavar="S",
                    help="per-cell execution timeout in seconds (default: none)")
    ap.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                    help="papermill's per-cell progress bar (default: on in a terminal, off in CI)")
    ap.add_argument("--root", default=None, help=argparse.SUPPRESS)  # a book root other than the repository's
    args = ap.parse_args(argv)
    for name in ("jobs", "threads"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            ap.error(f"--{name} must be a positive integer, got {getattr(args, name)}")
    if args.jobs is None:
        args.jobs = min(os.cpu_count() or 1, 4) if args.scale == "ci" else 1
    if args.threads is None and args.scale == "ci":
        args.threads = 1
    return args


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _select(root: Path, chapters_asked: list[str]) -> tuple[list[Notebook], list[Notebook]]:
    """(every notebook of the book, the selected ones); ``ValueError`` for an unknown chapter or missing source."""
    notebooks = toc_notebooks(root)
    chapters = list(dict.fromkeys(nb.chapter for nb in notebooks))
    unknown = [c for c in chapters_asked if c not in chapters]
    if unknown:
        raise ValueError(f"unknown chapter(s) {unknown}; the book's chapters are {chapters}")
    selected = [nb for nb in notebooks if not chapters_asked or nb.chapter in chapters_asked]
    missing = [nb.doc + ".py" for nb in selected if not nb.py(root).is_file()]
    if missing:
        raise ValueError(f"_toc.yml lists notebooks whose source is missing: {missing}")
    return notebooks, selected


def _entry(root: Path, run: Run, scale: str, commit: str, key: dict) -> dict:
    """The state entry of one run."""
    f = run.failure
    return {
        "status": "failed" if f else "ok",
        "wall_s": round(run.wall_s, 2),
        "scale": scale,
        "parameters": run.parameters,
        "commit": commit,
        "finished": _now(),
        "key": key,
        "location": run.output.relative_to(root).as_posix(),
        "ipynb_sha256": sha256_file(run.output) if run.output.is_file() else None,
        "key_numbers": run.key_numbers,
        "error": None if f is None else {"ename": f.ename, "evalue": f.evalue[:2000], "cell_index": f.cell_index},
    }


def _run_one(root: str, doc: str, parameters: dict, kernel: str, timeout: float | None, progress: bool,
             env: dict, output: str | None = None) -> Run:
    """:func:`run_notebook` in a worker process (its environment changes stay there)."""
    return run_notebook(Path(root), doc, parameters, kernel, timeout, progress, env=env,
                        output=None if output is None else Path(output))


def lanes_of(selected: list[Notebook]) -> tuple[list[list[Notebook]], list[Notebook]]:
    """``(chains, last)``: the selected notebooks of each chapter as one chain (a chapter's later notebooks read
    what its earlier ones wrote, so a chain runs in order), in book order, except those of the chapters in
    :data:`READS_OTHER_CHAPTERS`, which run after every chain (``last``)."""
    chains: dict[str, list[Notebook]] = {}
    last = []
    for nb in selected:
        (last if nb.chapter in READS_OTHER_CHAPTERS else chains.setdefault(nb.chapter, [])).append(nb)
    return list(chains.values()), last


def _run_selected(root: Path, args: argparse.Namespace, notebooks: list[Notebook], selected: list[Notebook],
                  parameters: dict, state: dict, smoke_dir: Path | None = None) -> Run | None:
    """Run every selected notebook that is not cached, saving the state after each; stop at the first failure
    and return its run (None when all succeeded).

    With ``--jobs 1`` (or one chapter) the notebooks run one after another in book order, in this process. With
    more, each chapter's notebooks run in order in a worker process, ``jobs`` chapters side by side (the chapters that read
    other chapters' results, :data:`READS_OTHER_CHAPTERS`, after all of them); a failure lets the running notebooks
    finish and starts no new one. ``--threads`` sets the kernels' ``OMP_NUM_THREADS``/``MKL_NUM_THREADS``.

    With ``smoke_dir`` (a ``--smoke`` run) every selected notebook runs (nothing is cached), its executed copy and
    its artifacts go under ``smoke_dir``, and the book's state is left as it was."""
    progress = args.progress if args.progress is not None else (sys.stderr.isatty() and not os.environ.get("CI"))
    env = {"INPAINTLIB_ROOT": str(root)} if root != DEFAULT_ROOT and "INPAINTLIB_ROOT" not in os.environ else {}
    if args.threads:
        env.update(OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    if smoke_dir is not None and "INPAINTLIB_ARTIFACTS" not in os.environ:
        env["INPAINTLIB_ARTIFACTS"] = str(smoke_dir / "artifacts")  # never over a real run's checkpoints
    lib = library_hash(root)
    sources = {nb.doc: sha256_file(nb.py(root)) if nb.py(root).is_file() else "" for nb in notebooks}
    lock = threading.Lock()
    failed: list[Run] = []
    running: set[str] = set()
    count = iter(range(1, len(selected) + 1))
    chains, last = lanes_of(selected)
    jobs = min(args.jobs, len(chains))  # one chapter (or --jobs 1): in this process, in book order
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) if jobs > 1 else None

    def one(nb: Notebook) -> bool:
        """Run ``nb`` unless cached or a run already failed; False to stop its chain."""
        before = [u for u in notebooks[: notebooks.index(nb)] if u.chapter == nb.chapter]
        key = cache_key(nb, before, sources, {**parameters, "threads": args.threads}, lib)  # threads move numbers
        with lock:
            if failed:
                return False
            entry = state["notebooks"].get(nb.doc)
            label = f"[{next(count)}/{len(selected)}] {nb.doc}"
            if smoke_dir is None and not args.force and is_cached(root, nb, entry, key):
                print(f"{label}: cached (unchanged since {entry.get('finished')})", flush=True)
                return True
            print(f"{label}: running at scale {args.scale}{' (smoke)' if smoke_dir else ''} ...", flush=True)
            running.add(nb.doc)
        output = None if smoke_dir is None else smoke_dir / "executed" / f"{nb.doc}.ipynb"
        try:
            if pool is None:
                run = run_notebook(root, nb, parameters, args.kernel, args.timeout, progress, env=env, output=output)
            else:
                run = pool.submit(_run_one, str(root), nb.doc, parameters, args.kernel, args.timeout, False,
                                  env, None if output is None else str(output)).result()
        except KeyboardInterrupt:
            raise Interrupted(nb.doc) from None
        with lock:
            running.discard(nb.doc)
            state["notebooks"][nb.doc] = dict(_entry(root, run, args.scale, state["commit"], key),
                                              threads=args.threads)
            state["generated"] = _now()
            if smoke_dir is None:
                save_state(root, state)
            if not run.ok:
                failed.append(run)
                return False
            print(f"{label}: ok in {fmt_wall(run.wall_s)} ({len(run.key_numbers)} key numbers)", flush=True)
        return True

    def chain(nbs: list[Notebook]) -> None:
        for nb in nbs:
            if not one(nb):
                return

    if pool is None:
        chain(selected)
        return failed[0] if failed else None
    lanes = ThreadPoolExecutor(max_workers=jobs)
    try:
        for f in [lanes.submit(chain, c) for c in chains]:
            f.result()
        chain(last)
    except KeyboardInterrupt:
        failed.append(None)  # no new notebook starts
        raise Interrupted(", ".join(sorted(running)) or "a notebook") from None
    finally:
        lanes.shutdown(wait=False, cancel_futures=True)
        pool.shutdown(wait=False, cancel_futures=True)
    return failed[0] if failed else None


def _build(root: Path, notebooks: list[Notebook], state: dict, full: bool) -> int:
    not_ready = [nb.doc for nb in notebooks if not is_cached(root, nb, state["notebooks"].get(nb.doc))]
    if not_ready:
        print("cannot build the book: these notebooks have no successful run by the pipeline yet (or their "
              f"executed copy changed since): {not_ready}\nrun `python -m inpaintlib.reproduce` without --chapter "
              "(or with their chapters), or pass --no-build", file=sys.stderr)
        return 1
    t0 = time.perf_counter()
    rc = build_book(root, full=full)
    if rc != 0:
        print(f"error: jupyter-book build failed (exit {rc}); the warnings above are errors (-W)", file=sys.stderr)
        return rc
    print(f"book: {root / '_build' / 'html' / 'index.html'} (built in {fmt_wall(time.perf_counter() - t0)})")
    return 0


def notebook_parameters(args: argparse.Namespace, data_root: str | None) -> dict:
    """The papermill parameters of every selected notebook: ``scale``, ``seed``, ``data_root``, ``smoke`` when
    ``--smoke``, and the ``--param`` values; a ``--param`` that is a run knob (``inpaintlib.chapter.KNOBS``, e.g.
    ``max_steps``) goes into the notebooks' ``knobs`` dict, which their run context reads."""
    from inpaintlib.chapter.context import KNOBS

    params = dict(args.param)
    knobs = {k: params.pop(k) for k in list(params) if k in KNOBS}
    if isinstance(params.get("knobs"), dict):
        knobs = {**params.pop("knobs"), **knobs}
    out = {"scale": args.scale, "seed": args.seed, "data_root": data_root, **params}
    if knobs:
        out["knobs"] = knobs
    if args.smoke:
        out["smoke"] = True
    return out


def _smoke(root: Path, args: argparse.Namespace, notebooks: list[Notebook], selected: list[Notebook],
           parameters: dict) -> int:
    """A ``--smoke`` run: every selected notebook once into ``_build/smoke/``, then the bill."""
    from .bill import bill, write_bill

    smoke_dir = root / "_build" / "smoke"
    state = {"notebooks": {}, "commit": commit_of(root)}
    t_start = time.perf_counter()
    failed = _run_selected(root, args, notebooks, selected, parameters, state, smoke_dir=smoke_dir)
    print(f"smoke run: {len(state['notebooks'])} notebook(s) in {fmt_wall(time.perf_counter() - t_start)}; executed "
          f"copies under {smoke_dir.relative_to(root)}/executed")
    artifacts = Path(os.environ.get("INPAINTLIB_ARTIFACTS") or smoke_dir / "artifacts")
    chapters = list(dict.fromkeys(nb.chapter for nb in selected))
    frame = bill(artifacts, args.scale, chapters)
    path = write_bill(frame, smoke_dir, state, parameters)
    print(path.read_text())
    if failed is not None:
        print(failed.failure.format(), file=sys.stderr)
        return 1
    return 0


class Interrupted(Exception):
    """Ctrl-C while the notebook ``doc`` was running."""

    def __init__(self, doc: str):
        super().__init__(doc)
        self.doc = doc


def main(argv: list[str] | None = None) -> int:
    """The pipeline's command line; Ctrl-C stops it with one line naming the interrupted notebook (exit 130)."""
    try:
        return _main(argv)
    except Interrupted as e:
        print(f"interrupted: {e.doc} was stopped (Ctrl-C) and not recorded; the notebooks before it are saved, "
              "run the same command to continue", file=sys.stderr)
    except KeyboardInterrupt:
        print("interrupted (Ctrl-C) between notebooks; the notebooks run so far are saved", file=sys.stderr)
    return 130


def _main(argv: list[str] | None) -> int:
    args = parse_args(argv)
    root = Path(args.root).resolve() if args.root else DEFAULT_ROOT
    try:
        notebooks, selected = _select(root, args.chapter)
        interpreter = ensure_kernel(args.kernel)
    except (ValueError, RuntimeError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.scale == "paper" and not args.data_root:
        print("note: --scale paper without --data-root: notebooks that need a real dataset will say where "
              "to get it", file=sys.stderr)
    data_root = str(Path(args.data_root).expanduser().resolve()) if args.data_root else None
    parameters = notebook_parameters(args, data_root)
    print(f"kernel {args.kernel!r} -> {interpreter}", flush=True)

    if args.smoke:
        return _smoke(root, args, notebooks, selected, parameters)
    state = load_state(root)
    moved = migrate_beside_source(root, notebooks, state)
    if moved:
        print(f"moved the executed notebooks of {moved} from beside their sources to _build/executed/", flush=True)
    state.update(commit=commit_of(root), kernel=args.kernel)
    t_start = time.perf_counter()
    failed = _run_selected(root, args, notebooks, selected, parameters, state)
    state.setdefault("generated", _now())  # the time of the last notebook run: unchanged when all were cached
    save_state(root, state)
    report = write_report(root, notebooks, state)
    print(f"report: {report.relative_to(root)} (notebooks took {fmt_wall(time.perf_counter() - t_start)})")
    if failed is not None:
        print(failed.failure.format(), file=sys.stderr)
        return 1
    return 0 if args.no_build else _build(root, notebooks, state, full=args.force)
