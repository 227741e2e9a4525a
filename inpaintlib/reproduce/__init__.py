"""Run every notebook of the book with papermill, write the reproduction report, build the book.

Usage (inside the project's environment; ``make book`` runs the first line)::

    python -m inpaintlib.reproduce                                   # every notebook at ci scale, then the book
    python -m inpaintlib.reproduce --scale demo --chapter msfef      # one chapter at demo scale
    python -m inpaintlib.reproduce --scale paper --chapter msfef --data-root /data
    python -m inpaintlib.reproduce --chapter msfef --param max_steps=2   # extra papermill parameters
    python -m inpaintlib.reproduce --no-build                        # run the notebooks, skip jupyter-book
    python -m inpaintlib.reproduce --force                           # ignore the cache, run everything again

What one run does, in order:

1. makes sure the Jupyter kernel (``--kernel``, default ``python3``) exists and runs *this* interpreter; when it is
   missing it is installed into ``sys.prefix`` (``ipykernel install --sys-prefix``), so in a virtual environment
   the notebooks run with the environment's Python;
2. reads ``_toc.yml`` and, for every page under ``notebooks/`` in book order (only the chapters named with
   ``--chapter``, the folder name under ``notebooks/``): converts the jupytext source ``NN_name.py`` to
   ``_build/executed/notebooks/<chapter>/NN_name.ipynb`` and executes that in place with papermill (working
   directory = the source's folder, as in JupyterLab; parameters ``scale``, ``seed``, ``data_root`` and every
   ``--param`` injected after the ``parameters`` cell). tqdm progress bars inside the notebooks are off
   (``TQDM_DISABLE=1`` unless already set): the executed notebooks are the book's pages;
3. writes ``_build/reproduce/state.json`` (hashes, status, timings, parameters, key numbers) and the report
   ``_build/reproduce/report.md``, which the committed page ``book/report.md`` includes;
4. stages the book in ``_build/site/`` (``_config.yml``, ``_toc.yml``, ``book/``, the executed notebooks at the
   paths ``_toc.yml`` names, the report) and builds it into ``_build/html`` with ``jupyter-book build _build/site
   --path-output . -W --keep-going -q`` (notebook execution is off in ``_config.yml``: the book shows the outputs
   papermill produced). ``--no-build`` skips this step; it refuses to build while a notebook page has no successful
   run whose executed notebook is unchanged.

No data preparation step: every notebook builds the fixed mask test sets it needs on first use
(``inpaintlib.masks.cached_testset``, idempotent and written atomically under ``inpaintlib.paths.data_dir()``),
so a notebook opened in JupyterLab or run by hand with papermill needs no step of this pipeline either.

Where the executed notebooks go, and why (JupyterLab before and after ``make book``)
------------------------------------------------------------------------------------
``jupytext.toml`` pairs every ``notebooks/<chapter>/NN_name.py`` with ``NN_name.ipynb`` *beside it*: that pair is
what JupyterLab reads and writes when someone opens the notebook (inputs from the ``.py``, outputs from the
``.ipynb``). Jupytext's contents manager refuses to open a pair whose ``.ipynb`` is more recent than the ``.py``
(by more than ``outdated_text_notebook_margin``, 1 s) *and* whose inputs differ from the ``.py``'s: it cannot tell
which side holds the user's latest edit, and taking the ``.py`` could overwrite cells edited in the ``.ipynb``. A
notebook executed by papermill is exactly such a file (newer; an injected-parameters cell and papermill metadata),
so executing in place beside the source made every notebook unopenable after ``make book``.

Hence: the pipeline never writes under ``notebooks/``. The executed notebooks are outputs and live in
``_build/executed/`` (mirroring ``notebooks/``), the book is built from a staged copy that puts them at the paths
``_toc.yml`` names (so page URLs, cross-references and the ``.ipynb`` suffix the launch buttons need are as
before), and ``notebooks/`` holds only the sources and whatever JupyterLab pairs there. Opening, editing and running
a chapter in JupyterLab is the same before and after ``make book``, and a build never overwrites a notebook a user
has open. The executed notebooks carry no jupytext pairing; they open in JupyterLab as plain notebooks (to look at
the outputs the website shows). Executed notebooks that an earlier version wrote beside the sources are moved to
``_build/executed/`` when provably unedited (their sha256 is the recorded one). The GitHub workflow publishes the
executed notebooks, in place of the ``.py`` sources, on the branch the launch buttons open (see
``.github/workflows/book.yml``). Other options were rejected: keeping them beside the sources with the check
disabled (``outdated_text_notebook_margin = inf``) would show outputs of, say, a ``demo`` run under a parameters
cell saying ``ci`` and silently prefer the ``.py`` over real edits made to an ``.ipynb`` by other editors;
stripping the injected cell to make the pair consistent would hide the parameters the outputs came from.

Caching
-------
A notebook is skipped when its ``.py`` source, the sources of the earlier notebooks of its chapter (they produce
the checkpoints and tables it reads), the parameters (``--param`` ones included), and the library (every file under
``inpaintlib/`` and ``data_prep/`` except caches, ``*.md`` and this package) hash to what the last successful run
recorded, and its executed ``.ipynb`` is still the file that run wrote. ``--force`` runs everything selected again.

A failing notebook stops the run with exit status 1. The message names the notebook, the failing cell (its index,
its line in the ``.py`` source and its first lines) and the error's name and message; the executed ``.ipynb``
keeps the full traceback.

From Python (tests, scripts)
----------------------------
:func:`run_notebook` runs one notebook the same way, with any parameters, into any file, without touching the
pipeline's state or the book::

    from inpaintlib.reproduce import run_notebook
    run = run_notebook(ROOT, "notebooks/msfef/02_training", {"scale": "paper", "max_steps": 2,
                       "data_root": str(fake)}, output=tmp_path / "02_training.ipynb",
                       env={"INPAINTLIB_ARTIFACTS": str(tmp_path / "artifacts")}, timeout=600)
    assert run.ok, run.failure.format()
    run.key_numbers          # {"name": "text", ...}, read back from the executed notebook

Key numbers
-----------
A key number is a value glued in the notebook with :func:`inpaintlib.record.record` (or myst-nb's ``glue`` with a
plain-text display); the pipeline reads them back from the executed notebooks (:func:`key_numbers`) into the state
and the report. Notebooks import :mod:`inpaintlib.record`, never this package.
"""
from __future__ import annotations

from .book import SITE_DIR, build_book, jupyter_book_command, stage_book
from .cli import main, parse_args, parse_param
from .execute import Failure, Run, ensure_kernel, key_numbers, py_to_notebook, run_notebook
from .report import render_report, write_report
from .state import cache_key, is_cached, library_hash, load_state, save_state
from .toc import EXECUTED_DIR, STATE_DIR, Notebook, _toc_files, toc_notebooks, toc_pages

__all__ = ["EXECUTED_DIR", "SITE_DIR", "STATE_DIR", "Failure", "Notebook", "Run", "build_book", "cache_key",
           "ensure_kernel", "is_cached", "jupyter_book_command", "key_numbers", "library_hash", "load_state",
           "main", "parse_args", "parse_param", "py_to_notebook", "render_report", "run_notebook", "save_state",
           "stage_book", "toc_notebooks", "toc_pages", "write_report", "_toc_files"]
