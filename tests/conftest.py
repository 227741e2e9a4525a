"""Fixtures shared by the test files: the session's book build, seeded random images, ``valid`` masks with box holes,
and closing figures.

``make_images`` and ``make_valid`` are factories (fixtures that return a function), so a test asks for the sizes it
needs: ``image = make_images(2, 16, 16)``, ``valid = make_valid(2, 16, 16, (4, 10, 5, 12))``.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Callable, Sequence

import pytest
import torch

Box = tuple[int, int, int, int]
ROOT = Path(__file__).resolve().parents[1]


#: The knobs of the paper-scale smoke run (``inpaintlib.chapter.KNOBS``): one step per training (the bill then times a
#: single step, warm-up included), batch 1 (2 for MSFEF, whose batch norm needs two images at its 1x1 bottleneck),
#: each chapter's first dataset (and DeepGIN's first Table 2 test set), one ablation variant besides those a notebook
#: compares by name (MSFEF's and MSA-Net's two; a user's smoke run trains two), a random VGG (no weights can be
#: downloaded).
PAPER_SMOKE_PARAMS = {"max_steps": 1, "warmup_steps": 1, "batch_size": {"msfef": 2, "*": 1}, "datasets": 1,
                      "variants": 1, "vgg_backbone": "random"}
_PAPER_SMOKE: dict = {}


def _start_paper_smoke() -> None:
    """Start the whole book at paper scale (``python -m inpaintlib.reproduce --scale paper --smoke``) on fake copies
    of every dataset in its publisher's layout, in the background: it runs beside the rest of the session (the unit
    tests leave a core idle) and ``paper_smoke`` waits for it."""
    import json
    import os
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from fake_datasets import make_fake_masks, make_fake_root

    tmp = Path(tempfile.mkdtemp(prefix="paper-smoke-"))
    data = make_fake_root(tmp / "datasets")
    make_fake_masks(data / "irregular_masks")
    # NHWC: PMRFN's paper network, the run's slowest, measured about a fifth faster in it on this CPU (DeepGIN and
    # CtxAttn run in it anyway; MSFEF and MSA-Net do not adopt a memory format)
    env = {**os.environ, "INPAINTLIB_ARTIFACTS": str(tmp / "artifacts"), "INPAINTLIB_DATA": str(tmp / "data"),
           "TQDM_DISABLE": "1", "INPAINTLIB_MEMORY_FORMAT": "channels_last"}
    cmd = [sys.executable, "-m", "inpaintlib.reproduce", "--scale", "paper", "--data-root", str(data), "--smoke",
           "--jobs", "2", "--threads", "1", "--no-progress"]
    for k, v in PAPER_SMOKE_PARAMS.items():
        cmd += ["--param", f"{k}={v if isinstance(v, str) else json.dumps(v)}"]
    out, err = open(tmp / "stdout.txt", "w"), open(tmp / "stderr.txt", "w")
    _PAPER_SMOKE.update(tmp=tmp, data=data, artifacts=tmp / "artifacts", stdout=tmp / "stdout.txt",
                        stderr=tmp / "stderr.txt", files=(out, err), t0=__import__("time").perf_counter(),
                        proc=subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=err, text=True,
                                             start_new_session=True))


#: The thread check's second run (``tests/test_spread.py``): the training and evaluation notebooks again with two
#: threads and NHWC, in the background from collection on (like the smoke run). Its threads wait passively
#: (``OMP_WAIT_POLICY=PASSIVE``): they share the cores with other processes, and a spinning OpenMP thread would take
#: a core from them while it waits. The wait policy changes no result, only how a waiting thread waits.
THREAD_CHECK_SETTINGS = {"threads": 2, "memory_format": "channels_last"}
_THREAD_CHECK: dict = {}


def _start_thread_check() -> None:
    import os
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="thread-check-"))
    code = ("import json, sys\n"
            "from inpaintlib.reproduce import claims, spread\n"
            f"runs = spread.run_variants({{'threads2': {THREAD_CHECK_SETTINGS!r}}}, claims.claim_notebooks(), jobs=1,"
            " workdir=sys.argv[1])\n"
            "open(sys.argv[2], 'w').write(json.dumps(runs['threads2']))\n")
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "TQDM_DISABLE": "1"}
    log = open(tmp / "log.txt", "w")
    _THREAD_CHECK.update(tmp=tmp, result=tmp / "run.json", files=(log,), t0=__import__("time").perf_counter(),
                         proc=subprocess.Popen([sys.executable, "-c", code, str(tmp / "work"), str(tmp / "run.json")],
                                               cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
                                               start_new_session=True))


def pytest_collection_modifyitems(session, config, items) -> None:
    """The unit tests first, then those that read the paper-scale smoke run, then the book's (marked ``book``), each
    group in file order: a test that waits for a background run comes after every test that need not wait."""
    def group(item) -> int:
        if item.get_closest_marker("book") is not None:
            return 2
        return 1 if "paper_smoke" in getattr(item, "fixturenames", ()) else 0

    items.sort(key=group)  # stable: file order within a group


def pytest_configure(config) -> None:
    """One torch thread in the test process: the unit tests run beside the paper-scale smoke run's two single-thread
    lanes, and a second thread here would only wait for a core (OpenMP threads spin while they wait). The notebook
    runs set their own thread counts."""
    torch.set_num_threads(1)


def pytest_collection_finish(session) -> None:
    """Start the three long runs as soon as the tests that read them are collected: the paper-scale smoke run, the
    thread check's second run and the book at CI scale. They run beside the unit tests and each other (all single-
    threaded but the thread check, whose threads wait passively), so no core idles while one of them finishes."""
    if any("paper_smoke" in getattr(item, "fixturenames", ()) for item in session.items):
        _start_paper_smoke()
    if any("thread_check_run" in getattr(item, "fixturenames", ()) for item in session.items):
        _start_thread_check()
    if any("built_book" in getattr(item, "fixturenames", ()) for item in session.items):
        _start_book()


def _stop(proc) -> None:
    """Kill a background run and everything it started (its own process group) when the session ends first."""
    import os
    import signal

    if proc is not None and proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def pytest_sessionfinish(session, exitstatus) -> None:
    """Stop the background runs that are still going (a failure, -x, Ctrl-C) and remove their folders (the smoke
    run's holds fake datasets and paper-size checkpoints, several GB): each session starts its own."""
    import shutil

    for run in (_PAPER_SMOKE, _THREAD_CHECK, _BOOK):
        _stop(run.get("proc"))
        for f in run.get("files", ()):
            f.close()
        if run.get("tmp") is not None:
            shutil.rmtree(run["tmp"], ignore_errors=True)


@pytest.fixture(scope="session")
def paper_smoke() -> dict:
    """The paper-scale smoke run started at collection: waits for it; ``returncode``, ``stdout``, ``stderr``, the
    ``artifacts`` folder, the fake ``data`` root, the ``smoke`` output folder and the run's ``wall_s``."""
    import time

    if "proc" not in _PAPER_SMOKE:
        _start_paper_smoke()
    proc = _PAPER_SMOKE["proc"]
    proc.wait()
    for f in _PAPER_SMOKE["files"]:
        f.close()
    wall = time.perf_counter() - _PAPER_SMOKE["t0"]
    return {"returncode": proc.returncode, "stdout": _PAPER_SMOKE["stdout"].read_text(),
            "stderr": _PAPER_SMOKE["stderr"].read_text(), "artifacts": _PAPER_SMOKE["artifacts"],
            "data": _PAPER_SMOKE["data"], "smoke": ROOT / "_build" / "smoke", "wall_s": wall}


@pytest.fixture(scope="session")
def thread_check_run() -> dict:
    """The thread check's second run started at collection (:data:`THREAD_CHECK_SETTINGS`): waits for it; the
    :func:`inpaintlib.reproduce.spread.run_variant` result (``key_numbers``, ``failed``, ``error``, ``wall_s``) with
    ``settings`` and the process's ``returncode`` and ``log``."""
    import json

    if "proc" not in _THREAD_CHECK:
        _start_thread_check()
    proc = _THREAD_CHECK["proc"]
    proc.wait()
    _THREAD_CHECK["files"][0].flush()
    log = (_THREAD_CHECK["tmp"] / "log.txt").read_text()
    if proc.returncode != 0 or not _THREAD_CHECK["result"].exists():
        return {"returncode": proc.returncode, "log": log, "failed": "the run itself", "error": log[-4000:],
                "key_numbers": {}, "settings": THREAD_CHECK_SETTINGS, "wall_s": None}
    return {**json.loads(_THREAD_CHECK["result"].read_text()), "returncode": 0, "log": log}


_BOOK: dict = {}


def _start_book() -> None:
    """Start the pipeline (the same command as ``make book``) in the background: every notebook at CI scale (cached
    when unchanged), the report, the book build. It writes only the checkout's ``_build`` folders that no unit test
    reads (the unit tests build their own books in temporary folders)."""
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="ci-book-"))
    out, err = open(tmp / "stdout.txt", "w"), open(tmp / "stderr.txt", "w")
    _BOOK.update(tmp=tmp, files=(out, err), proc=subprocess.Popen(
        [sys.executable, "-m", "inpaintlib.reproduce", "--scale", "ci", "--timeout", "1800"],
        cwd=ROOT, stdout=out, stderr=err, text=True, start_new_session=True))


@pytest.fixture(scope="session")
def built_book() -> Path:
    """The pipeline at CI scale, started when the session was collected: waits for it and returns the HTML
    folder (fails with the run's output when it failed)."""
    if "proc" not in _BOOK:
        _start_book()
    proc = _BOOK["proc"]
    proc.wait()
    for f in _BOOK["files"]:
        f.close()
    if proc.returncode != 0:
        pytest.fail(f"python -m inpaintlib.reproduce --scale ci failed (exit {proc.returncode}):\n"
                    f"{(_BOOK['tmp'] / 'stderr.txt').read_text()[-4000:]}\n"
                    f"{(_BOOK['tmp'] / 'stdout.txt').read_text()[-3000:]}")
    return ROOT / "_build" / "html"


@pytest.fixture
def make_images() -> Callable[..., torch.Tensor]:
    """``make_images(n=2, h=16, w=16, c=3, seed=0, dtype=torch.float32)``: uniform random ``N x C x H x W`` images in
    [0, 1] from their own seeded generator (the same arguments give the same images)."""

    def make(n: int = 2, h: int = 16, w: int = 16, c: int = 3, seed: int = 0,
             dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(seed), dtype=dtype)

    return make


@pytest.fixture
def make_valid() -> Callable[..., torch.Tensor]:
    """``make_valid(n=2, h=16, w=16, boxes=(top, bottom, left, right), dtype=torch.float32)``: an ``N x 1 x H x W``
    ``valid`` mask (1 = known, 0 = hole) with the same box hole(s) ``[top:bottom, left:right]`` in every sample;
    ``boxes`` is one box or a sequence of boxes (``()`` for no hole)."""

    def make(n: int = 2, h: int = 16, w: int = 16, boxes: Box | Sequence[Box] = (4, 10, 5, 12),
             dtype: torch.dtype = torch.float32) -> torch.Tensor:
        valid = torch.ones(n, 1, h, w, dtype=dtype)
        for top, bottom, left, right in ([boxes] if boxes and isinstance(boxes[0], int) else boxes):
            valid[..., top:bottom, left:right] = 0
        return valid

    return make


@pytest.fixture(autouse=True)
def _close_figures():
    """Close every matplotlib figure a test left open (only when the test imported pyplot)."""
    yield
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close("all")


@pytest.fixture
def one_thread():
    """Torch on one thread for the test (runs compared bit for bit with a child process on one thread)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
