"""Run every notebook of the book with papermill, write the reproduction report, build the book.

Usage (inside the project's environment; ``make book`` runs the first line)::

    python -m inpaintlib.reproduce                                   # every notebook at ci scale, then the book
    python -m inpaintlib.reproduce --scale demo --chapter msfef      # one chapter at demo scale
    python -m inpaintlib.reproduce --scale paper --chapter msfef --data-root /data
    python -m inpaintlib.reproduce --no-build                        # run the notebooks, skip jupyter-book
    python -m inpaintlib.reproduce --force                           # ignore the cache, run everything again

What one run does, in order:

1. makes sure the Jupyter kernel (``--kernel``, default ``python3``) exists and runs *this* interpreter; when it is
   missing it is installed into ``sys.prefix`` (``ipykernel install --sys-prefix``), so in a virtual environment
   the notebooks run with the environment's Python;
2. prepares the CI data (``data_prep.make_masks.ensure_ci_masks()``: the fixed, seeded mask test sets);
3. reads ``_toc.yml`` and, for every page under ``notebooks/`` in book order (only the chapters named with
   ``--chapter``, the folder name under ``notebooks/``): converts the jupytext source ``NN_name.py`` to
   ``NN_name.ipynb`` and executes that ``.ipynb`` in place with papermill (working directory = the notebook's
   folder; parameters ``scale``, ``seed`` and ``data_root`` injected after the ``parameters`` cell). tqdm
   progress bars inside the notebooks are off (``TQDM_DISABLE=1`` unless already set): the executed notebooks are
   the book's pages;
4. writes ``_build/reproduce/state.json`` (hashes, status, timings, key numbers) and the report
   ``_build/reproduce/report.md``, which the committed page ``book/report.md`` includes;
5. builds the book into ``_build/html`` with ``jupyter-book build . -W --keep-going -q`` (notebook execution is off
   in ``_config.yml``: the book shows the outputs papermill produced). ``--no-build`` skips this step.

Caching: a notebook is skipped when its ``.py`` source, the sources of the earlier notebooks of its chapter (they
produce the checkpoints and tables it reads), the parameters, and the library (every ``.py`` under ``inpaintlib/``
and ``data_prep/`` except this module) hash to what the last successful run recorded, and its executed ``.ipynb``
is still the file that run wrote. ``--force`` runs everything selected again.

A failing notebook stops the run with exit status 1. The message names the notebook, the failing cell (its index,
its line in the ``.py`` source and its first lines) and the error's name and message; the executed ``.ipynb``
keeps the full traceback.

Key numbers (the numbers the report lists for each notebook) -- the one convention
----------------------------------------------------------------------------------
A key number is a value *glued* in the notebook with myst-nb's ``glue`` under a name, with a plain-text display
(a number or a short string). Write it with the helper of this module, which turns numpy/torch scalars into
plain Python numbers first (so the report reads ``27.31``, not ``np.float32(27.31)``)::

    from inpaintlib.reproduce import record
    record("psnr_db_msfef", table.loc["all", "psnr"], digits=2)   # shows nothing; stored in the notebook

``record(name, value)`` is ``myst_nb.glue(name, value, display=False)``, so the same value can also be pasted
into the notebook's markdown with ``{glue:}`name``` (or ``{glue:text}`name:.2f```). Values glued directly with
``myst_nb.glue`` count too, when their display is plain text only; glued figures, tables and markdown are not key
numbers. After execution the pipeline reads them from the executed ``.ipynb``: outputs whose metadata carries
``scrapbook.name`` (how myst-nb stores glued values, mime ``application/papermill.record/text/plain``).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inpaintlib.record import record  # noqa: F401  (re-exported for old notebooks)

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_ROOT = PACKAGE_DIR.parent
STATE_DIR = Path("_build") / "reproduce"
SCALES = ("ci", "demo", "paper")
GLUE_PREFIX = "application/papermill.record/"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


# --------------------------------------------------------------------------------------------------------------------
# The key-number helper used inside notebooks
# --------------------------------------------------------------------------------------------------------------------
def key_numbers(notebook: dict) -> dict[str, str]:
    """The key numbers of an executed notebook (nbformat dict): glued values whose display is plain text only."""
    found: dict[str, str] = {}
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        for out in cell.get("outputs", []):
            meta = out.get("metadata") or {}
            scrap = meta.get("scrapbook")
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


# --------------------------------------------------------------------------------------------------------------------
# The book's notebooks
# --------------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Notebook:
    """One notebook page of ``_toc.yml``: ``doc`` is its path without suffix, relative to the book root."""

    doc: str

    @property
    def chapter(self) -> str:
        return Path(self.doc).parts[1]

    @property
    def stem(self) -> str:
        return Path(self.doc).name

    def py(self, root: Path) -> Path:
        return root / f"{self.doc}.py"

    def ipynb(self, root: Path) -> Path:
        return root / f"{self.doc}.ipynb"


def _toc_files(node: Any) -> list[str]:
    files: list[str] = []
    if isinstance(node, dict):
        if isinstance(node.get("file"), str):
            files.append(node["file"])
        for key in ("root", "parts", "chapters", "sections", "subtrees", "entries"):
            value = node.get(key)
            if isinstance(value, str) and key == "root":
                files.append(value)
            elif value is not None:
                files.extend(_toc_files(value))
    elif isinstance(node, list):
        for item in node:
            files.extend(_toc_files(item))
    return files


def toc_notebooks(root: Path) -> list[Notebook]:
    """Every page of ``<root>/_toc.yml`` under ``notebooks/``, in book order."""
    import yaml

    toc_path = root / "_toc.yml"
    if not toc_path.is_file():
        raise FileNotFoundError(f"no _toc.yml in {root}: is this the book's root?")
    toc = yaml.safe_load(toc_path.read_text())
    docs = []
    for f in _toc_files(toc):
        f = re.sub(r"\.(py|ipynb|md)$", "", f.strip("/"))
        if f.startswith("notebooks/") and f not in docs:
            docs.append(f)
    return [Notebook(d) for d in docs]


# --------------------------------------------------------------------------------------------------------------------
# Hashes, git, kernel, data
# --------------------------------------------------------------------------------------------------------------------
def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def library_hash(root: Path) -> str:
    """sha256 over every ``.py`` of the library (``inpaintlib/``) and of ``<root>/data_prep/`` (path + content).

    This module is left out: the pipeline's own code does not change what a notebook computes."""
    h = hashlib.sha256()
    for base in (PACKAGE_DIR, root / "data_prep"):
        if not base.is_dir():
            continue
        for p in sorted(base.rglob("*.py")):
            if "__pycache__" in p.parts or p == Path(__file__).resolve():
                continue
            h.update(f"{base.name}/{p.relative_to(base).as_posix()}\0".encode())
            h.update(p.read_bytes())
            h.update(b"\0")
    return h.hexdigest()


def git_commit(root: Path) -> str:
    """``git rev-parse --short=12 HEAD`` plus ``+dirty`` when tracked files differ; a note when there is no commit."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True,
                              text=True, timeout=30)
        if head.returncode != 0:
            return "no commit yet"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=30)
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown (git unavailable)"


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
        ksm = KernelSpecManager()
        spec = ksm.get_kernel_spec(name)
    exe = spec.argv[0] if spec.argv else ""
    generic = {"python", f"python{sys.version_info[0]}", f"python{sys.version_info[0]}.{sys.version_info[1]}"}
    if exe in generic:
        return sys.executable
    if os.path.abspath(exe) == os.path.abspath(sys.executable):
        return sys.executable
    raise RuntimeError(
        f"the Jupyter kernel {name!r} ({spec.resource_dir}) runs {exe}, not this environment's interpreter "
        f"{sys.executable}.\nFix: {sys.executable} -m ipykernel install --sys-prefix --name inpaintlib "
        f"and pass --kernel inpaintlib (or remove the other kernelspec)."
    )


def prepare_data(root: Path) -> str:
    """Build the CI data (fixed mask test sets) with ``data_prep.make_masks.ensure_ci_masks()``; idempotent."""
    sys.path.insert(0, str(root))
    cwd = os.getcwd()
    try:
        os.chdir(root)  # inpaintlib.paths finds the book root by walking up from the working directory
        try:
            from data_prep.make_masks import ensure_ci_masks
        except ImportError as exc:
            raise RuntimeError(f"cannot prepare the CI data (data_prep.make_masks): {exc}") from exc
        out = ensure_ci_masks()
        return str(out) if out is not None else "ok"
    finally:
        os.chdir(cwd)
        if sys.path and sys.path[0] == str(root):
            sys.path.pop(0)


# --------------------------------------------------------------------------------------------------------------------
# Running one notebook
# --------------------------------------------------------------------------------------------------------------------
@dataclass
class Failure:
    notebook: str
    cell_index: int | None
    cell_line: int | None
    cell_source: str
    ename: str
    evalue: str

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
        parts.append(f"  full traceback in the executed notebook {self.notebook}.ipynb")
        return "\n".join(parts)


def _source_line(py: Path, cell_source: str) -> int | None:
    """Line (1-based) of the .py source where the failing cell's first non-empty line appears."""
    first = next((ln for ln in cell_source.splitlines() if ln.strip()), None)
    if first is None or not py.is_file():
        return None
    for i, ln in enumerate(py.read_text().splitlines(), start=1):
        if ln.rstrip() == first.rstrip():
            return i
    return None


def py_to_ipynb(py: Path, ipynb: Path, kernel: str) -> None:
    """Convert the jupytext percent source to a fresh, unexecuted ``.ipynb`` with a kernelspec."""
    import jupytext

    nb = jupytext.read(py)
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": "Python 3", "language": "python"}
    nb.metadata.setdefault("jupytext", {})["formats"] = "ipynb,py:percent"
    jupytext.write(nb, ipynb, fmt="ipynb")


def run_notebook(root: Path, nb: Notebook, parameters: dict, kernel: str, timeout: float | None,
                 progress: bool) -> tuple[float, Failure | None]:
    """Convert and execute one notebook in place; return (wall seconds, failure or None)."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    py, ipynb = nb.py(root), nb.ipynb(root)
    py_to_ipynb(py, ipynb, kernel)
    t0 = time.perf_counter()
    try:
        pm.execute_notebook(str(ipynb), str(ipynb), parameters=parameters, kernel_name=kernel, cwd=str(py.parent),
                            log_output=False, progress_bar=progress, execution_timeout=timeout)
    except PapermillExecutionError as exc:
        src = exc.source if isinstance(exc.source, str) else "".join(exc.source or [])
        return time.perf_counter() - t0, Failure(nb.doc, exc.cell_index, _source_line(py, src), src,
                                                 _ANSI.sub("", str(exc.ename)), _ANSI.sub("", str(exc.evalue)))
    except Exception as exc:  # kernel died, cell timeout, bad parameters: report it the same way
        return time.perf_counter() - t0, Failure(nb.doc, None, None, "", type(exc).__name__,
                                                 _ANSI.sub("", str(exc)))
    return time.perf_counter() - t0, None


# --------------------------------------------------------------------------------------------------------------------
# State and report
# --------------------------------------------------------------------------------------------------------------------
def load_state(root: Path) -> dict:
    path = root / STATE_DIR / "state.json"
    if path.is_file():
        try:
            state = json.loads(path.read_text())
            if isinstance(state, dict) and isinstance(state.get("notebooks"), dict):
                return state
        except json.JSONDecodeError:
            pass
    return {"notebooks": {}}


def save_state(root: Path, state: dict) -> None:
    path = root / STATE_DIR / "state.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(state, indent=1))  # insertion order: key numbers stay in notebook order
    os.replace(tmp, path)


def cache_key(nb: Notebook, chapter_before: list[Notebook], sources: dict[str, str], parameters: dict,
              lib: str) -> dict:
    """What a run of ``nb`` depends on. ``sources`` maps every notebook to the hash of its ``.py``, taken once
    at the start of the run, so an edit made while the run goes on makes the next run execute again."""
    return {
        "source": sources[nb.doc],
        "upstream": [sources[u.doc] for u in chapter_before if sources.get(u.doc)],
        "parameters": json.loads(json.dumps(parameters, sort_keys=True)),
        "library": lib,
    }


def is_cached(root: Path, nb: Notebook, entry: dict | None, key: dict) -> bool:
    if not entry or entry.get("status") != "ok" or entry.get("key") != key:
        return False
    ipynb = nb.ipynb(root)
    return ipynb.is_file() and _sha256_file(ipynb) == entry.get("ipynb_sha256")


def _md(text: Any) -> str:
    """Inline code for a table cell (pipes and backticks made harmless)."""
    s = str(text).replace("\n", " ").replace("|", "\\|").replace("`", "'")
    return f"`{s}`" if s else ""


def _fmt_wall(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _short_commit(commit: str) -> str:
    head, _, rest = commit.partition("+")
    return head[:8] + ("+" + rest if rest else "") if re.fullmatch(r"[0-9a-f]{7,40}", head) else commit


def render_report(root: Path, notebooks: list[Notebook], state: dict) -> str:
    """The report's markdown: a summary table of every notebook, then each notebook's run and key numbers."""
    entries = state.get("notebooks", {})
    lines = [
        f"Generated by `python -m inpaintlib.reproduce` on {state.get('generated', '?')} "
        f"(git commit `{state.get('commit', '?')}`, Python {sys.version.split()[0]}, kernel "
        f"`{state.get('kernel', '?')}`).",
        "",
        "Each row is the last run of the notebook by the pipeline. Numbers from a `ci` or `demo` run are labelled "
        "with that scale and do not reproduce the papers' numbers; only a `paper`-scale run on the paper's "
        "dataset can. The sections below the table give each run's parameters and key numbers.",
        "",
        "| notebook | status | scale | wall time | commit | key numbers |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for nb in notebooks:
        e = entries.get(nb.doc)
        short = nb.doc.removeprefix("notebooks/")
        if e is None:
            lines.append(f"| {_md(short)} | not run | | | | |")
            continue
        has_page = e.get("status") == "ok" and nb.ipynb(root).is_file()
        name = f"{{doc}}`{short} </{nb.doc}>`" if has_page else _md(short)
        lines.append(
            f"| {name} | {e.get('status', '?')} | {_md(e.get('scale', ''))} "
            f"| {_fmt_wall(e.get('wall_s')).replace(' ', chr(0xA0))} | {_md(_short_commit(e.get('commit', '')))} "
            f"| {len(e.get('key_numbers', {}))} |"
        )
    lines += ["", "## Runs and key numbers", "",
              "The parameters of each run and the values the notebook recorded (`inpaintlib.reproduce.record`), "
              "at the scale shown."]
    for nb in notebooks:
        e = entries.get(nb.doc)
        lines += ["", f"### {nb.doc.removeprefix('notebooks/')}", ""]
        if e is None:
            lines.append("Not run by the pipeline yet.")
            continue
        params = ", ".join(f"{k}={v!r}" for k, v in e.get("parameters", {}).items())
        lines.append(f"Status {e.get('status')}, scale `{e.get('scale')}`, parameters {_md(params)}, "
                     f"wall time {_fmt_wall(e.get('wall_s'))}, git commit {_md(e.get('commit', ''))}, "
                     f"finished {e.get('finished', '?')}.")
        if e.get("status") != "ok" and e.get("error"):
            err = e["error"]
            lines += ["", f"Error: {_md(err.get('ename', ''))} {_md(err.get('evalue', '')[:300])} "
                          f"in cell {err.get('cell_index')}."]
        numbers = e.get("key_numbers", {})
        if numbers:
            lines += ["", f"| key number ({_md(e.get('scale'))} scale) | value |", "| --- | --- |"]
            lines += [f"| {_md(k)} | {_md(v)} |" for k, v in numbers.items()]
        else:
            lines += ["", "No key numbers recorded."]
    return "\n".join(lines) + "\n"


def write_report(root: Path, notebooks: list[Notebook], state: dict) -> Path:
    path = root / STATE_DIR / "report.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(root, notebooks, state))
    return path


# --------------------------------------------------------------------------------------------------------------------
# Book build
# --------------------------------------------------------------------------------------------------------------------
def jupyter_book_command() -> list[str]:
    exe = Path(sys.executable).with_name("jupyter-book")
    if exe.is_file():
        return [str(exe)]
    found = shutil.which("jupyter-book")
    if found:
        return [found]
    raise RuntimeError("jupyter-book is not installed in this environment (pip install 'inpaintlib[book]')")


def build_book(root: Path, full: bool = False) -> int:
    """``jupyter-book build <root> -W --keep-going`` into ``<root>/_build/html``, emptied first so that pages of
    removed notebooks do not linger (Sphinx rewrites every page from its cached doctrees); ``full`` also rereads
    every source (``--all``). Returns the exit status."""
    html = root / "_build" / "html"
    if html.is_dir():
        shutil.rmtree(html)
    cmd = jupyter_book_command() + ["build", str(root), "--builder", "html", "-W", "--keep-going", "-q"]
    if full:
        cmd.append("--all")
    print("$ " + " ".join(cmd), flush=True)
    return subprocess.run(cmd, cwd=root).returncode


# --------------------------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m inpaintlib.reproduce", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", choices=SCALES, default="ci", help="scale of every notebook (default: ci)")
    ap.add_argument("--chapter", action="extend", nargs="+", default=[], metavar="NAME",
                    help="run only these chapters (folders under notebooks/, e.g. foundations msfef). Default: all")
    ap.add_argument("--data-root", default=None, metavar="DIR", help="root of the prepared real datasets "
                    "(passed to the notebooks as data_root; needed at paper scale)")
    ap.add_argument("--seed", type=int, default=0, help="seed passed to every notebook (default: 0)")
    ap.add_argument("--no-build", action="store_true", help="run the notebooks and write the report, skip the book")
    ap.add_argument("--force", action="store_true", help="run the selected notebooks even when cached")
    ap.add_argument("--kernel", default="python3", help="Jupyter kernel name (default: python3; installed into "
                    "sys.prefix when missing)")
    ap.add_argument("--timeout", type=float, default=None, metavar="S",
                    help="per-cell execution timeout in seconds (default: none)")
    ap.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                    help="papermill's per-cell progress bar (default: on in a terminal, off in CI)")
    ap.add_argument("--root", default=None, help=argparse.SUPPRESS)  # a book root other than the repository's
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    root = Path(args.root).resolve() if args.root else DEFAULT_ROOT
    notebooks = toc_notebooks(root)
    chapters = sorted({nb.chapter for nb in notebooks}, key=[nb.chapter for nb in notebooks].index)
    unknown = [c for c in args.chapter if c not in chapters]
    if unknown:
        print(f"unknown chapter(s) {unknown}; the book's chapters are {chapters}", file=sys.stderr)
        return 2
    selected = [nb for nb in notebooks if not args.chapter or nb.chapter in args.chapter]
    missing = [nb.doc + ".py" for nb in selected if not nb.py(root).is_file()]
    if missing:
        print(f"_toc.yml lists notebooks whose source is missing: {missing}", file=sys.stderr)
        return 2
    if args.scale == "paper" and not args.data_root:
        print("note: --scale paper without --data-root: notebooks that need a real dataset will say where "
              "to get it", file=sys.stderr)
    progress = args.progress if args.progress is not None else (sys.stderr.isatty() and not os.environ.get("CI"))
    data_root = str(Path(args.data_root).expanduser().resolve()) if args.data_root else None
    parameters = {"scale": args.scale, "seed": args.seed, "data_root": data_root}

    # The kernel inherits this environment: put the interpreter's bin folder first on PATH, so that anything a
    # notebook starts (``python``, ``jupytext``) is the environment's.
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    # The executed notebooks are the book's pages: tqdm progress bars would only add noise to them.
    os.environ.setdefault("TQDM_DISABLE", "1")
    try:
        interpreter = ensure_kernel(args.kernel)
        data = prepare_data(root)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"kernel {args.kernel!r} -> {interpreter}; CI data: {data}", flush=True)

    state = load_state(root)
    commit = git_commit(root)
    lib = library_hash(root)
    sources = {nb.doc: _sha256_file(nb.py(root)) if nb.py(root).is_file() else "" for nb in notebooks}
    state.update(commit=commit, kernel=args.kernel)
    failure: Failure | None = None
    t_start = time.perf_counter()
    for i, nb in enumerate(selected, start=1):
        before = [u for u in notebooks[: notebooks.index(nb)] if u.chapter == nb.chapter]
        key = cache_key(nb, before, sources, parameters, lib)
        entry = state["notebooks"].get(nb.doc)
        label = f"[{i}/{len(selected)}] {nb.doc}"
        if not args.force and is_cached(root, nb, entry, key):
            print(f"{label}: cached (unchanged since {entry.get('finished')})", flush=True)
            continue
        print(f"{label}: running at scale {args.scale} ...", flush=True)
        wall, failure = run_notebook(root, nb, parameters, args.kernel, args.timeout, progress)
        ipynb = nb.ipynb(root)
        numbers = {}
        if ipynb.is_file():
            numbers = key_numbers(json.loads(ipynb.read_text()))
        state["notebooks"][nb.doc] = {
            "status": "failed" if failure else "ok",
            "wall_s": round(wall, 2),
            "scale": args.scale,
            "parameters": parameters,
            "commit": commit,
            "finished": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "key": key,
            "ipynb_sha256": _sha256_file(ipynb) if ipynb.is_file() else None,
            "key_numbers": numbers,
            "error": None if failure is None else {"ename": failure.ename, "evalue": failure.evalue[:2000],
                                                   "cell_index": failure.cell_index},
        }
        state["generated"] = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        save_state(root, state)
        if failure:
            break
        print(f"{label}: ok in {_fmt_wall(wall)} ({len(numbers)} key numbers)", flush=True)

    state["generated"] = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    save_state(root, state)
    report = write_report(root, notebooks, state)
    print(f"report: {report.relative_to(root)} (notebooks took {_fmt_wall(time.perf_counter() - t_start)})")
    if failure:
        print(failure.format(), file=sys.stderr)
        return 1
    if args.no_build:
        return 0
    not_ready = [nb.doc for nb in notebooks
                 if not nb.ipynb(root).is_file() or state["notebooks"].get(nb.doc, {}).get("status") != "ok"]
    if not_ready:
        print("cannot build the book: these notebooks have no successful run by the pipeline yet: "
              f"{not_ready}\nrun `python -m inpaintlib.reproduce` without --chapter (or with their chapters), "
              "or pass --no-build", file=sys.stderr)
        return 1
    t0 = time.perf_counter()
    rc = build_book(root, full=args.force)
    if rc != 0:
        print(f"error: jupyter-book build failed (exit {rc}); the warnings above are errors (-W)", file=sys.stderr)
        return rc
    print(f"book: {(root / '_build' / 'html' / 'index.html')} (built in {_fmt_wall(time.perf_counter() - t0)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
