"""The book build: the site's sources are staged in ``_build/site/`` (the narrative pages and the executed notebooks,
never the ``.py`` sources or JupyterLab's files) and jupyter-book renders them into ``_build/html``."""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from inpaintlib.files import atomic_write_text, unlink_quiet

from .toc import EXECUTED_DIR, STATE_DIR, toc_notebooks, toc_pages

__all__ = ["SITE_DIR", "build_book", "jupyter_book_command", "site_stamp", "stage_book"]

#: The staged book root (relative to the repository root) that jupyter-book builds.
SITE_DIR = Path("_build") / "site"
#: Folders of the repository copied into the staged root when they exist (pages, bibliography, static files, and the
#: library, whose source the chapter pages show with ``literalinclude`` from ``../inpaintlib/...``).
BOOK_FOLDERS = ("book", "_static", "_templates", "inpaintlib")
PAGE_SUFFIXES = (".md", ".ipynb", ".rst", ".myst")
#: The book tools whose versions are part of the build stamp.
BOOK_TOOLS = ("jupyter-book", "sphinx", "myst-nb", "sphinx-book-theme")


def jupyter_book_command() -> list[str]:
    exe = Path(sys.executable).with_name("jupyter-book")
    if exe.is_file():
        return [str(exe)]
    found = shutil.which("jupyter-book")
    if found:
        return [found]
    raise RuntimeError("jupyter-book is not installed in this environment (pip install 'inpaintlib[book]')")


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    else:
        shutil.copy2(src, dst)  # keeps the modification time: Sphinx rereads only what changed


def stage_book(root: Path, executed: Path | None = None) -> Path:
    """Assemble the book's sources in ``<root>/_build/site`` (emptied first) and return that folder.

    It holds ``_config.yml``, ``_toc.yml``, the folders :data:`BOOK_FOLDERS`, every other page ``_toc.yml`` names
    outside ``notebooks/``, the executed notebooks (from ``executed``, default ``<root>/_build/executed``) at the
    paths ``_toc.yml`` names, and the report at ``_build/reproduce/report.md`` so that ``book/report.md``'s
    include (``../_build/reproduce/report.md``) finds it. Raises ``FileNotFoundError`` naming any notebook page
    without an executed notebook."""
    root = Path(root)
    executed = Path(executed) if executed is not None else root / EXECUTED_DIR
    missing = [nb.doc for nb in toc_notebooks(root) if not (executed / f"{nb.doc}.ipynb").is_file()]
    if missing:
        raise FileNotFoundError(f"no executed notebook in {executed} for the pages {missing}")
    site = root / SITE_DIR
    if site.exists():
        shutil.rmtree(site)
    site.mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml", *BOOK_FOLDERS):
        if (root / name).exists():
            _copy(root / name, site / name)
    for page in toc_pages(root):
        if page.startswith("notebooks/"):
            _copy(executed / f"{page}.ipynb", site / f"{page}.ipynb")
            continue
        for suffix in PAGE_SUFFIXES:
            src = root / f"{page}{suffix}"
            if src.is_file() and not (site / f"{page}{suffix}").exists():
                _copy(src, site / f"{page}{suffix}")
    report = root / STATE_DIR / "report.md"
    if report.is_file():
        _copy(report, site / STATE_DIR / "report.md")
    return site


def site_stamp(site: Path) -> str:
    """sha256 over the staged book (every file's path and content) and the versions of :data:`BOOK_TOOLS`."""
    h = hashlib.sha256()
    for tool in BOOK_TOOLS:
        try:
            h.update(f"{tool}=={metadata.version(tool)}\0".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{tool} missing\0".encode())
    for p in sorted(site.rglob("*")):
        if p.is_file():
            h.update(f"{p.relative_to(site).as_posix()}\0".encode())
            h.update(p.read_bytes())
            h.update(b"\0")
    return h.hexdigest()


def build_book(root: Path, full: bool = False, executed: Path | None = None) -> int:
    """Stage the book (:func:`stage_book`) and build it with ``jupyter-book build _build/site --path-output <root>
    -W --keep-going`` into ``<root>/_build/html``, emptied first so that pages of removed notebooks do not linger
    (Sphinx rewrites every page from its cached doctrees); ``full`` also rereads every source (``--all``).

    The build is skipped when the staged book and the book tools are exactly those of the last successful build
    and its ``index.html`` is still there (``_build/reproduce/book.sha256``); ``full`` builds anyway. Returns the
    exit status (2 when a notebook page has no executed notebook)."""
    root = Path(root)
    try:
        site = stage_book(root, executed)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    html = root / "_build" / "html"
    stamp, stamp_file = site_stamp(site), root / STATE_DIR / "book.sha256"
    if not full and (html / "index.html").is_file() and stamp_file.is_file() and stamp_file.read_text() == stamp:
        print("book: unchanged since the last build (same pages, notebooks, report and tools)", flush=True)
        return 0
    unlink_quiet(stamp_file)
    if html.is_dir():
        shutil.rmtree(html)
    cmd = jupyter_book_command() + ["build", str(site), "--path-output", str(root), "--builder", "html", "-W",
                                    "--keep-going", "-q"]
    if full:
        cmd.append("--all")
    print("$ " + " ".join(cmd), flush=True)
    rc = subprocess.run(cmd, cwd=root).returncode
    if rc == 0:
        stamp_file.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(stamp_file, stamp)
    return rc
