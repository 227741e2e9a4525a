"""Running one notebook: the Jupyter kernel, the jupytext source converted for papermill, its execution into the
executed copy, the failure summary and the key numbers read back from the result."""
from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from .toc import Notebook

__all__ = ["Failure", "Run", "ensure_kernel", "key_numbers", "py_to_notebook", "run_notebook"]

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
#: Seconds a notebook's kernel may take to start (papermill's default is 60). On a machine whose cores are all busy
#: (the test session runs the book, the smoke run and the thread check side by side on 2 cores) a kernel once took
#: longer than 60 s to answer, and the notebook failed before its first cell.
KERNEL_START_TIMEOUT = 600


def ensure_kernel(name: str = "python3") -> str:
    """Make sure the kernelspec ``name`` exists and starts this interpreter; return the interpreter it runs.

    A missing kernelspec is installed into ``sys.prefix`` (the virtual environment). jupyter_client replaces an
    ``argv[0]`` of ``python``/``python3`` by the running interpreter, so such a spec is accepted; a spec naming a
    different interpreter is refused with the command that fixes it.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    ksm = KernelSpecManager()
    try:
        spec = ksm.get_kernel_spec(name)
    except NoSuchKernel:
        from ipykernel.kernelspec import install

        install(kernel_name=name, prefix=sys.prefix, display_name=f"Python 3 ({name})")
        spec = KernelSpecManager().get_kernel_spec(name)
    exe = spec.argv[0] if spec.argv else ""
    generic = {"python", f"python{sys.version_info[0]}", f"python{sys.version_info[0]}.{sys.version_info[1]}"}
    if exe in generic or os.path.abspath(exe) == os.path.abspath(sys.executable):
        return sys.executable
    raise RuntimeError(
        f"the Jupyter kernel {name!r} ({spec.resource_dir}) runs {exe}, not this environment's interpreter "
        f"{sys.executable}.\nFix: {sys.executable} -m ipykernel install --sys-prefix --name inpaintlib "
        f"and pass --kernel inpaintlib (or remove the other kernelspec)."
    )


def key_numbers(notebook: dict) -> dict[str, str]:
    """The key numbers of an executed notebook (nbformat dict): glued values whose display is plain text only
    (see :mod:`inpaintlib.record`)."""
    found: dict[str, str] = {}
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        for out in cell.get("outputs", []):
            scrap = (out.get("metadata") or {}).get("scrapbook")
            if not scrap or "name" not in scrap:
                continue
            prefix = scrap.get("mime_prefix", "")
            data = {k[len(prefix):]: v for k, v in (out.get("data") or {}).items() if k.startswith(prefix)}
            if set(data) != {"text/plain"}:
                continue  # a glued figure, table or markdown: shown in the page, not a key number
            text = data["text/plain"]
            text = "".join(text) if isinstance(text, list) else str(text)
            if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
                text = text[1:-1]
            found[scrap["name"]] = text
    return found


@dataclass
class Failure:
    """Where and why a notebook failed: enough to fix it without opening the executed notebook."""

    notebook: str
    cell_index: int | None
    cell_line: int | None
    cell_source: str
    ename: str
    evalue: str
    output: str = ""  # the executed notebook that keeps the full traceback

    def format(self, max_lines: int = 8) -> str:
        where = f"cell {self.cell_index}" if self.cell_index is not None else "during execution"
        if self.cell_line:
            where += f" ({self.notebook}.py, line {self.cell_line})"
        lines = self.cell_source.splitlines()
        shown = "\n".join("      " + ln for ln in lines[:max_lines])
        if len(lines) > max_lines:
            shown += f"\n      ... ({len(lines) - max_lines} more lines)"
        evalue = self.evalue.strip()
        if evalue.count("\n") > 15:
            evalue = "\n".join(evalue.splitlines()[:15]) + "\n..."
        parts = [f"FAILED: {self.notebook}", f"  in {where}:"]
        if shown:
            parts.append(shown)
        parts.append(f"  {self.ename}: {evalue}")
        parts.append(f"  full traceback in the executed notebook {self.output or self.notebook + '.ipynb'}")
        return "\n".join(parts)


@dataclass
class Run:
    """The result of :func:`run_notebook`."""

    notebook: str
    output: Path
    parameters: dict
    wall_s: float
    failure: Failure | None = None
    key_numbers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.failure is None


def _source_line(py: Path, cell_source: str) -> int | None:
    """Line (1-based) of the .py source where the failing cell's first non-empty line appears."""
    first = next((ln for ln in cell_source.splitlines() if ln.strip()), None)
    if first is None or not py.is_file():
        return None
    for i, ln in enumerate(py.read_text().splitlines(), start=1):
        if ln.rstrip() == first.rstrip():
            return i
    return None


def py_to_notebook(py: Path, kernel: str) -> Any:
    """The jupytext percent source as a fresh, unexecuted nbformat notebook with a kernelspec.

    The jupytext pairing is dropped from its metadata: the executed copy is an output, paired with nothing."""
    import jupytext

    nb = jupytext.read(py)
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": "Python 3", "language": "python"}
    jt = nb.metadata.get("jupytext")
    if isinstance(jt, dict):
        jt.pop("formats", None)
        if not jt:
            nb.metadata.pop("jupytext")
    return nb


@contextlib.contextmanager
def kernel_environment(extra: Mapping[str, str] | None = None) -> Iterator[None]:
    """The environment the kernel inherits, for the duration of one run (restored afterwards).

    This interpreter's bin folder goes first on ``PATH`` (anything a notebook starts, ``python`` or ``jupytext``,
    is the environment's); tqdm progress bars are off (``TQDM_DISABLE=1`` unless set: the executed notebooks are
    the book's pages); ``extra`` is added on top."""
    saved = dict(os.environ)
    try:
        os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
        os.environ.setdefault("TQDM_DISABLE", "1")
        os.environ.update({k: str(v) for k, v in (extra or {}).items()})
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_notebook(root: Path, nb: Notebook | str | Path, parameters: Mapping[str, Any], kernel: str = "python3",
                 timeout: float | None = None, progress: bool = False, output: Path | None = None,
                 env: Mapping[str, str] | None = None) -> Run:
    """Execute one notebook of the book with papermill; return a :class:`Run` (wall time, failure or None,
    the executed file, its key numbers).

    ``nb`` is a :class:`Notebook`, a doc name (``"notebooks/msfef/02_training"``) or the path of its ``.py``.
    ``parameters`` are injected after the notebook's ``parameters`` cell (e.g. ``{"scale": "paper",
    "max_steps": 2}``). The executed notebook goes to ``output`` (default: the pipeline's copy,
    ``_build/executed/notebooks/...``; tests that must not disturb the book pass a path of their own): the
    unexecuted conversion is written there and executed in place; the source ``.py`` is never written. The working
    directory is the source's folder, as in JupyterLab. ``env`` adds environment variables for the kernel (e.g.
    ``{"INPAINTLIB_ARTIFACTS": tmp}``). ``timeout`` is per cell, in seconds. A missing kernelspec ``kernel`` is
    installed into this environment (:func:`ensure_kernel`).
    """
    import nbformat
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    root = Path(root)
    nb = Notebook.of(nb, root)
    py = nb.py(root)
    out = Path(output) if output is not None else nb.executed(root)
    out.parent.mkdir(parents=True, exist_ok=True)
    ensure_kernel(kernel)
    failure = None
    t0 = time.perf_counter()
    nbformat.write(py_to_notebook(py, kernel), str(out))  # papermill then executes it in place
    with kernel_environment(env):
        try:
            pm.execute_notebook(str(out), str(out), parameters=dict(parameters),
                                kernel_name=kernel, cwd=str(py.parent), log_output=False, progress_bar=progress,
                                execution_timeout=timeout, start_timeout=KERNEL_START_TIMEOUT)
        except PapermillExecutionError as exc:
            src = exc.source if isinstance(exc.source, str) else "".join(exc.source or [])
            failure = Failure(nb.doc, exc.cell_index, _source_line(py, src), src, _ANSI.sub("", str(exc.ename)),
                              _ANSI.sub("", str(exc.evalue)))
        except Exception as exc:  # kernel died, cell timeout, bad parameters: report it the same way
            index, src = _running_cell(out)
            failure = Failure(nb.doc, index, _source_line(py, src) if src else None, src, type(exc).__name__,
                              _ANSI.sub("", str(exc)))
    wall = time.perf_counter() - t0
    if failure is not None:
        failure.output = _display_path(out, root)
    numbers = key_numbers(json.loads(out.read_text())) if out.is_file() else {}
    return Run(nb.doc, out, dict(parameters), wall, failure, numbers)


def _running_cell(out: Path) -> tuple[int | None, str]:
    """The cell papermill was running when execution stopped without an error of its own (a cell timeout, a dead
    kernel): the last cell papermill started, ``(index, source)``, or ``(None, "")`` when none started."""
    try:
        cells = json.loads(out.read_text()).get("cells", [])
    except (OSError, ValueError, AttributeError):
        return None, ""
    started = [i for i, c in enumerate(cells) if (c.get("metadata", {}).get("papermill") or {}).get("start_time")]
    if not started:
        return None, ""
    src = cells[started[-1]].get("source", "")
    return started[-1], src if isinstance(src, str) else "".join(src)


def _display_path(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)
