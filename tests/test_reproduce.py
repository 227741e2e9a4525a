"""The reproduce pipeline: failures are reported briefly, unchanged notebooks are cached, parameters reach the
notebooks, key numbers are collected, and the book build treats a broken reference as an error.

The notebooks here are tiny books written to tmp_path (``--root``), so no chapter of the real book runs.
"""
import json
import os
import textwrap
from pathlib import Path

import pytest

from inpaintlib import reproduce

HEADER = """\
# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---
"""
PARAMS = """
# %% tags=["parameters"]
scale = "ci"
seed = 0
data_root = None
"""


def make_book(root: Path, notebooks: dict[str, str]) -> None:
    """A minimal book at ``root`` whose toc lists ``notebooks`` (doc -> body after the parameters cell)."""
    (root / "_config.yml").write_text("title: test book\n")
    (root / "intro.md").write_text("# Test\n")
    chapters = "".join(f"  - file: {doc}\n" for doc in notebooks)
    (root / "_toc.yml").write_text(f"format: jb-book\nroot: intro\nchapters:\n{chapters}")
    for doc, body in notebooks.items():
        py = root / f"{doc}.py"
        py.parent.mkdir(parents=True, exist_ok=True)
        py.write_text(HEADER + PARAMS + textwrap.dedent(body))


@pytest.fixture
def run(monkeypatch, tmp_path, capsys):
    """Call ``reproduce.main`` on the tmp book without CI data; return (exit code, stdout, stderr)."""
    monkeypatch.setattr(reproduce, "prepare_data", lambda root: "not needed in this test")
    # Pin the library's hash: the real one changes whenever inpaintlib/ is edited, which would rerun everything.
    monkeypatch.setattr(reproduce, "library_hash", lambda root: "library-v1")
    monkeypatch.setenv("PATH", os.environ.get("PATH", ""))  # main() prepends the venv's bin; restore afterwards
    monkeypatch.setenv("TQDM_DISABLE", "1")

    def _run(*args: str):
        capsys.readouterr()
        code = reproduce.main(["--root", str(tmp_path), "--no-build", *args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return _run


def state_of(root: Path) -> dict:
    return json.loads((root / "_build" / "reproduce" / "state.json").read_text())["notebooks"]


def test_failing_notebook_is_reported_with_notebook_cell_and_error(tmp_path, run):
    make_book(tmp_path, {"notebooks/ch/01_fail": """
        # %%
        values = [1, 2, 3]

        # %%
        total = sum(values)
        raise ValueError(f"mask polarity looks inverted: {total} known pixels")
        """})
    code, out, err = run()
    assert code == 1
    assert "notebooks/ch/01_fail" in err
    assert "ValueError: mask polarity looks inverted: 6 known pixels" in err
    assert "total = sum(values)" in err                      # the failing cell's source
    line = (tmp_path / "notebooks/ch/01_fail.py").read_text().splitlines().index("total = sum(values)") + 1
    assert f"01_fail.py, line {line})" in err               # where that cell's code is in the .py source
    assert "Traceback" not in err and len(err.splitlines()) < 20  # a summary, not the log
    entry = state_of(tmp_path)["notebooks/ch/01_fail"]
    assert entry["status"] == "failed" and entry["error"]["ename"] == "ValueError"
    report = (tmp_path / "_build" / "reproduce" / "report.md").read_text()
    assert "| failed |" in report


def test_unchanged_notebooks_are_skipped_and_changed_ones_and_their_successors_rerun(tmp_path, run):
    probe = """
        # %%
        from pathlib import Path
        import numpy as np
        from inpaintlib.reproduce import record
        record("seen", f"{scale}/{seed}/{data_root}")
        record("cwd", Path.cwd().name)
        record("pi", np.float32(3.14159), digits=2)
        """
    make_book(tmp_path, {"notebooks/ch/01_a": probe, "notebooks/ch/02_b": probe})
    a, b = (tmp_path / "notebooks/ch/01_a.ipynb"), (tmp_path / "notebooks/ch/02_b.ipynb")

    code, out, _ = run()
    assert code == 0, out
    first = state_of(tmp_path)
    assert first["notebooks/ch/01_a"]["key_numbers"] == {"seen": "ci/0/None", "cwd": "ch", "pi": "3.14"}
    outputs = json.loads(a.read_text())["cells"][-1]["outputs"]
    assert outputs and not [o for o in outputs if o["output_type"] == "execute_result"]  # record() shows nothing
    assert out.count("running") == 2

    code, out, _ = run()
    assert code == 0 and out.count("cached") == 2 and "running" not in out
    assert state_of(tmp_path)["notebooks/ch/02_b"]["finished"] == first["notebooks/ch/02_b"]["finished"]

    py_b = tmp_path / "notebooks/ch/02_b.py"
    py_b.write_text(py_b.read_text() + '\n# %%\nrecord("extra", 7)\n')
    a_before = a.read_bytes()
    code, out, _ = run()
    assert code == 0
    assert "01_a: cached" in out and "02_b: running" in out
    assert a.read_bytes() == a_before
    assert state_of(tmp_path)["notebooks/ch/02_b"]["key_numbers"]["extra"] == "7"

    py_a = tmp_path / "notebooks/ch/01_a.py"
    py_a.write_text(py_a.read_text() + '\n# %%\nrecord("upstream_edit", 1)\n')
    code, out, _ = run()
    assert code == 0 and "01_a: running" in out and "02_b: running" in out  # 02_b reads what 01_a writes

    data = tmp_path / "data"
    code, out, _ = run("--scale", "demo", "--seed", "3", "--data-root", str(data))
    assert code == 0 and out.count("running") == 2
    entry = state_of(tmp_path)["notebooks/ch/01_a"]
    assert entry["key_numbers"]["seen"] == f"demo/3/{data.resolve()}"
    assert entry["scale"] == "demo" and entry["parameters"]["seed"] == 3
    nb = json.loads(b.read_text())
    assert any("injected-parameters" in c["metadata"].get("tags", []) for c in nb["cells"])
    report = (tmp_path / "_build" / "reproduce" / "report.md").read_text()
    assert "`demo`" in report and f"demo/3/{data.resolve()}" in report


def test_key_numbers_are_plain_text_glue_values_only():
    def glued(name, data):
        prefix = "application/papermill.record/"
        return {"output_type": "display_data", "metadata": {"scrapbook": {"name": name, "mime_prefix": prefix}},
                "data": {prefix + k: v for k, v in data.items()}}

    nb = {"cells": [
        {"cell_type": "markdown", "source": "x"},
        {"cell_type": "code", "outputs": [
            glued("psnr", {"text/plain": "27.5"}),
            glued("label", {"text/plain": "'ci scale'"}),
            glued("figure", {"image/png": "iVBOR", "text/plain": "<Figure>"}),
            {"output_type": "stream", "name": "stdout", "text": "27.5\n"},
        ]},
    ]}
    assert reproduce.key_numbers(nb) == {"psnr": "27.5", "label": "ci scale"}


def test_record_stores_numpy_scalars_as_python_numbers_and_rejects_arrays():
    np = pytest.importorskip("numpy")
    from inpaintlib import record as R

    assert R._plain(np.float64(2.5)) == 2.5 and type(R._plain(np.float64(2.5))) is float
    with pytest.raises(ValueError, match="scalar"):
        R.record("arr", np.zeros(3))
    with pytest.raises(ValueError, match="identifiers"):
        R.record("two words", 1)


def test_toc_notebooks_lists_notebook_pages_in_book_order(tmp_path):
    (tmp_path / "_toc.yml").write_text(textwrap.dedent("""\
        format: jb-book
        root: book/intro
        parts:
          - caption: B
            chapters:
              - file: book/b
                sections:
                  - file: notebooks/b/01_x
                  - file: notebooks/b/02_y.ipynb
          - caption: A
            chapters:
              - file: notebooks/a/01_z
              - file: book/report
        """))
    docs = [nb.doc for nb in reproduce.toc_notebooks(tmp_path)]
    assert docs == ["notebooks/b/01_x", "notebooks/b/02_y", "notebooks/a/01_z"]
    assert [nb.chapter for nb in reproduce.toc_notebooks(tmp_path)] == ["b", "b", "a"]


def test_unknown_chapter_is_refused(tmp_path, run):
    make_book(tmp_path, {"notebooks/ch/01_a": "\n# %%\nx = 1\n"})
    code, _, err = run("--chapter", "nope")
    assert code == 2 and "nope" in err and "ch" in err


def test_book_build_fails_on_a_broken_cross_reference(tmp_path):
    (tmp_path / "_config.yml").write_text("title: t\nexecute:\n  execute_notebooks: 'off'\n")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: other\n")
    (tmp_path / "other.md").write_text("# Other\n\nText.\n")
    (tmp_path / "intro.md").write_text("# Intro\n\nSee {doc}`other`.\n")
    assert reproduce.build_book(tmp_path) == 0
    (tmp_path / "intro.md").write_text("# Intro\n\nSee {doc}`no_such_page`.\n")
    assert reproduce.build_book(tmp_path) != 0
