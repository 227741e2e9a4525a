"""The reproduce pipeline: failures are reported briefly, unchanged notebooks are cached, parameters (extra ones
included) reach the notebooks, key numbers are collected, executed notebooks stay out of ``notebooks/``, the book is
staged from the executed copies, and the book build treats a broken reference as an error.

The notebooks here are tiny books written to tmp_path (``--root``), so no chapter of the real book runs.
"""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from inpaintlib import reproduce
from inpaintlib.files import sha256_file
from inpaintlib.reproduce import cli, state as rstate

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
    """Call ``reproduce.main`` on the tmp book; return (exit code, stdout, stderr)."""
    # Pin the library's hash: the real one changes whenever inpaintlib/ is edited, which would rerun everything.
    monkeypatch.setattr(cli, "library_hash", lambda root: "library-v1")
    monkeypatch.setenv("TQDM_DISABLE", "1")

    def _run(*args: str):
        capsys.readouterr()
        code = reproduce.main(["--root", str(tmp_path), "--no-build", *args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return _run


def state_of(root: Path) -> dict:
    return json.loads((root / "_build" / "reproduce" / "state.json").read_text())["notebooks"]


def executed(root: Path, doc: str) -> Path:
    return root / "_build" / "executed" / f"{doc}.ipynb"


PROBE = """
    # %%
    from pathlib import Path
    import numpy as np
    from inpaintlib.record import record
    record("seen", f"{scale}/{seed}/{data_root}")
    record("cwd", Path.cwd().name)
    record("pi", np.float32(3.14159), digits=2)
    """


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
    assert "_build/executed/notebooks/ch/01_fail.ipynb" in err  # where the full traceback is


def test_unchanged_notebooks_are_skipped_and_changed_ones_and_their_successors_rerun(tmp_path, run):
    make_book(tmp_path, {"notebooks/ch/01_a": PROBE, "notebooks/ch/02_b": PROBE})
    a, b = executed(tmp_path, "notebooks/ch/01_a"), executed(tmp_path, "notebooks/ch/02_b")

    code, out, _ = run()
    assert code == 0, out
    first = state_of(tmp_path)
    assert first["notebooks/ch/01_a"]["key_numbers"] == {"seen": "ci/0/None", "cwd": "ch", "pi": "3.14"}
    outputs = json.loads(a.read_text())["cells"][-1]["outputs"]
    assert outputs and not [o for o in outputs if o["output_type"] == "execute_result"]  # record() shows nothing
    assert out.count("running") == 2
    # The sources' folder is left alone: an executed notebook beside the .py would make JupyterLab refuse the pair.
    assert sorted(p.name for p in (tmp_path / "notebooks/ch").iterdir()) == ["01_a.py", "02_b.py"]

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


def test_book_build_fails_on_a_broken_cross_reference_and_is_skipped_when_nothing_changed(tmp_path, capsys):
    (tmp_path / "_config.yml").write_text("title: t\nexecute:\n  execute_notebooks: 'off'\n")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: other\n")
    (tmp_path / "other.md").write_text("# Other\n\nText.\n")
    (tmp_path / "intro.md").write_text("# Intro\n\nSee {doc}`other`.\n")
    assert reproduce.build_book(tmp_path) == 0
    assert (tmp_path / "_build" / "html" / "intro.html").is_file()
    capsys.readouterr()
    assert reproduce.build_book(tmp_path) == 0 and "unchanged since the last build" in capsys.readouterr().out
    (tmp_path / "intro.md").write_text("# Intro\n\nSee {doc}`no_such_page`.\n")
    assert reproduce.build_book(tmp_path) != 0
    assert not (tmp_path / "_build" / "reproduce" / "book.sha256").exists()  # a failed build is never skipped


def test_extra_params_reach_the_notebook_are_part_of_the_cache_key_and_shown_in_the_report(tmp_path, run):
    make_book(tmp_path, {"notebooks/ch/01_a": """
        # %%
        from inpaintlib.record import record
        record("seen", f"{knobs!r}/{label!r}")
        """})
    code, out, err = run("--param", "max_steps=2", "--param", "label=fake data")
    assert code == 0, err
    entry = state_of(tmp_path)["notebooks/ch/01_a"]
    # a run knob (inpaintlib.chapter.KNOBS) goes into the notebook's knobs dict, 2 parsed as JSON; others as given
    assert entry["key_numbers"]["seen"] == "{'max_steps': 2}/'fake data'"
    assert entry["parameters"]["knobs"] == {"max_steps": 2} and entry["key"]["parameters"]["label"] == "fake data"
    report = (tmp_path / "_build" / "reproduce" / "report.md").read_text()
    assert "knobs={'max_steps': 2}" in report and "label='fake data'" in report

    code, out, _ = run("--param", "max_steps=2", "--param", "label=fake data")
    assert code == 0 and "cached" in out
    code, out, _ = run("--param", "max_steps=3", "--param", "label=fake data")
    assert code == 0 and "running" in out
    assert state_of(tmp_path)["notebooks/ch/01_a"]["key_numbers"]["seen"] == "{'max_steps': 3}/'fake data'"


def test_param_values_are_json_when_they_parse_else_strings_and_reserved_names_are_refused():
    import argparse

    assert reproduce.parse_param("max_steps=2") == ("max_steps", 2)
    assert reproduce.parse_param("lr=1e-3") == ("lr", 0.001)
    assert reproduce.parse_param("flags=[1, true, null]") == ("flags", [1, True, None])
    assert reproduce.parse_param("name=msfef") == ("name", "msfef")
    assert reproduce.parse_param('name="2"') == ("name", "2")
    assert reproduce.parse_param("path=/data/a=b") == ("path", "/data/a=b")
    for bad, why in [("max_steps", "NAME=VALUE"), ("two words=1", "identifier"), ("scale=demo", "--scale"),
                     ("data_root=/x", "--data-root")]:
        with pytest.raises(argparse.ArgumentTypeError, match=why):
            reproduce.parse_param(bad)


def test_run_notebook_writes_where_asked_with_extra_env_and_leaves_the_pipeline_state_alone(tmp_path):
    make_book(tmp_path, {"notebooks/ch/01_a": """
        # %%
        import os
        from inpaintlib.record import record
        record("where", os.environ.get("PROBE_VAR", "unset"))
        record("steps", max_steps)
        """})
    out = tmp_path / "elsewhere" / "run.ipynb"
    result = reproduce.run_notebook(tmp_path, "notebooks/ch/01_a", {"scale": "paper", "max_steps": 2},
                                    output=out, env={"PROBE_VAR": "set"})
    assert result.ok and result.output == out and out.is_file()
    assert result.key_numbers == {"where": "set", "steps": "2"}
    assert "PROBE_VAR" not in os.environ                           # the kernel's environment was restored
    assert not (tmp_path / "_build").exists()                     # no state, no executed copy of the book

    result = reproduce.run_notebook(tmp_path, tmp_path / "notebooks/ch/01_a.py", {"scale": "ci"}, output=out)
    assert not result.ok and result.failure.ename == "NameError" and "max_steps" in result.failure.evalue


def test_executed_notebooks_left_beside_the_sources_by_older_runs_move_out_only_when_unedited(tmp_path):
    docs = ["notebooks/ch/01_a", "notebooks/ch/02_b"]
    make_book(tmp_path, {d: "\n# %%\nx = 1\n" for d in docs})
    nbs = reproduce.toc_notebooks(tmp_path)
    for nb in nbs:
        nb.beside_source(tmp_path).write_text(f'{{"cells": [], "doc": "{nb.doc}"}}')
    state = {"notebooks": {nb.doc: {"status": "ok", "ipynb_sha256": sha256_file(nb.beside_source(tmp_path))}
                           for nb in nbs}}
    nbs[1].beside_source(tmp_path).write_text("edited in another editor")
    assert rstate.migrate_beside_source(tmp_path, nbs, state) == ["notebooks/ch/01_a"]
    assert not nbs[0].beside_source(tmp_path).exists() and nbs[0].executed(tmp_path).is_file()
    assert reproduce.is_cached(tmp_path, nbs[0], state["notebooks"]["notebooks/ch/01_a"])
    assert nbs[1].beside_source(tmp_path).read_text() == "edited in another editor"   # not ours to move


def test_the_staged_book_takes_notebook_pages_from_the_executed_copies_not_from_beside_the_sources(tmp_path):
    make_book(tmp_path, {"notebooks/ch/01_a": "\n# %%\nx = 1\n"})
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "references.bib").write_text("")
    (tmp_path / "notebooks/ch/01_a.ipynb").write_text("JupyterLab's pair of the .py")
    with pytest.raises(FileNotFoundError, match="notebooks/ch/01_a"):
        reproduce.stage_book(tmp_path)
    ex = tmp_path / "_build" / "executed" / "notebooks/ch/01_a.ipynb"
    ex.parent.mkdir(parents=True)
    ex.write_text("executed by the pipeline")
    (tmp_path / "_build" / "reproduce").mkdir(parents=True)
    (tmp_path / "_build" / "reproduce" / "report.md").write_text("report")
    site = reproduce.stage_book(tmp_path)
    assert site == tmp_path / "_build" / "site"
    assert (site / "notebooks/ch/01_a.ipynb").read_text() == "executed by the pipeline"
    assert not (site / "notebooks/ch/01_a.py").exists()
    for name in ("_config.yml", "_toc.yml", "intro.md", "book/references.bib", "_build/reproduce/report.md"):
        assert (site / name).is_file(), name


def test_library_hash_covers_the_library_and_data_prep_but_not_the_pipeline(tmp_path):
    files = [p.relative_to(rstate.LIBRARY_DIR).as_posix() for p in rstate._hashed_files(rstate.LIBRARY_DIR)]
    assert "paths.py" in files and "record.py" in files
    assert not [f for f in files if f.startswith("reproduce/") or "__pycache__" in f]
    (tmp_path / "data_prep").mkdir()
    (tmp_path / "data_prep" / "make.py").write_text("N = 1\n")
    (tmp_path / "data_prep" / "README.md").write_text("docs\n")
    h = reproduce.library_hash(tmp_path)
    (tmp_path / "data_prep" / "README.md").write_text("more docs\n")
    assert reproduce.library_hash(tmp_path) == h
    (tmp_path / "data_prep" / "make.py").write_text("N = 2\n")
    assert reproduce.library_hash(tmp_path) != h


def test_the_pipeline_imports_neither_data_prep_nor_the_notebooks_helpers():
    code = ("import sys, inpaintlib.reproduce, inpaintlib.reproduce.cli\n"
            "print([m for m in sys.modules if m.split('.')[0] == 'data_prep'])")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert res.returncode == 0 and res.stdout.strip() == "[]", res.stderr[-2000:]


LANE = """
    # %%
    import os, time, json
    from pathlib import Path
    from inpaintlib.record import record
    log = Path(data_root)
    start = time.time()
    time.sleep(2)
    (log / f"{Path.cwd().name}.json").write_text(json.dumps({"start": start, "end": time.time()}))
    record("threads", os.environ.get("OMP_NUM_THREADS", "unset"))
    """
READS_BOTH = """
    # %%
    from pathlib import Path
    from inpaintlib.record import record
    record("saw", ",".join(sorted(p.stem for p in Path(data_root).glob("*.json"))))
    """


def test_chapters_run_side_by_side_with_one_thread_and_the_bench_after_them(tmp_path, run):
    make_book(tmp_path, {"notebooks/a/01_a": LANE, "notebooks/b/01_b": LANE, "notebooks/bench/01_q": READS_BOTH})
    log = tmp_path / "log"
    log.mkdir()
    code, out, err = run("--jobs", "2", "--threads", "1", "--data-root", str(log))
    assert code == 0, err
    a, b = (json.loads((log / f"{c}.json").read_text()) for c in "ab")
    assert a["start"] < b["end"] and b["start"] < a["end"]  # the two chapters' notebooks overlapped in time
    st = state_of(tmp_path)
    assert st["notebooks/a/01_a"]["key_numbers"]["threads"] == "1" and st["notebooks/a/01_a"]["threads"] == 1
    assert st["notebooks/bench/01_q"]["key_numbers"]["saw"] == "a,b"  # the bench ran after both
    code, out, _ = run("--jobs", "2", "--threads", "2", "--data-root", str(log))
    assert code == 0 and out.count("running") == 3  # another thread count is another run (it moves the numbers)


def test_jobs_and_threads_must_be_positive_and_default_to_lanes_of_one_thread_at_ci_scale(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    ci = reproduce.parse_args([])
    assert (ci.jobs, ci.threads) == (4, 1)
    paper = reproduce.parse_args(["--scale", "paper"])
    assert (paper.jobs, paper.threads) == (1, None)
    for bad in (["--jobs", "0"], ["--threads", "-1"]):
        with pytest.raises(SystemExit):
            reproduce.parse_args(bad)


def test_a_smoke_run_runs_every_notebook_outside_the_book_state_and_ends_with_the_bill(tmp_path, run):
    make_book(tmp_path, {"notebooks/ch/01_a": """
        # %%
        from inpaintlib.record import record
        record("smoke", f"{smoke!r}/{knobs!r}")
        """})
    code, out, err = run("--smoke", "--param", "test_images=1")
    assert code == 0, err
    executed = tmp_path / "_build" / "smoke" / "executed" / "notebooks" / "ch" / "01_a.ipynb"
    assert executed.is_file() and "True/{'test_images': 1}" in executed.read_text()
    assert not (tmp_path / "_build" / "reproduce" / "state.json").exists()  # the book's state is left alone
    assert "Bill of the smoke run (ci scale)" in out and "No training run wrote a log" in out
    assert (tmp_path / "_build" / "smoke" / "bill.md").is_file()
    code, out, _ = run("--smoke", "--param", "test_images=1")
    assert code == 0 and "running" in out and "cached" not in out  # a dry run is never cached
