"""Every scale's code path runs.

``paper``: every notebook of every chapter through the real pipeline command (``python -m inpaintlib.reproduce
--scale paper --data-root ROOT --smoke``) on fake copies of every dataset the five papers use, each in the layout its
publisher ships (``tests/fake_datasets.py``), with the papers' networks at the papers' image sizes and the smoke run's
caps (``conftest.PAPER_SMOKE_PARAMS``: one step per training, batch 1 (MSFEF 2), each chapter's first dataset, one test photograph
and one mask per bucket, one ablation variant (two where the notebook compares two by name), a random VGG because no weights can be downloaded here; the run starts
in the background when the session starts). Every dataset's layout is prepared and opened in
``tests/test_data_layouts.py``. The figures and tables read the checkpoints the paper-scale training notebooks wrote;
the run ends with the bill. ``demo``: MSFEF's training notebook with its knobs.
Slow (minutes): marked ``book`` like the other notebook runs."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _sidecar(artifacts: Path, scale: str, chapter: str, run: str) -> dict:
    return json.loads((artifacts / scale / chapter / run / "model.json").read_text())


@pytest.mark.book
def test_every_notebook_runs_at_paper_scale_on_the_papers_datasets_in_their_layouts(paper_smoke):
    from inpaintlib.reproduce.execute import key_numbers
    from inpaintlib.reproduce.toc import toc_notebooks

    assert paper_smoke["returncode"] == 0, paper_smoke["stdout"][-3000:] + paper_smoke["stderr"][-6000:]
    print(f"paper-scale smoke run: {paper_smoke['wall_s']:.0f} s beside the rest of the session")
    docs = [nb.doc for nb in toc_notebooks(ROOT)]
    executed = paper_smoke["smoke"] / "executed"
    for doc in docs:  # every notebook of the book ran (and is not cached from another run)
        assert (executed / f"{doc}.ipynb").is_file(), doc
        assert f"{doc}: ok" in paper_smoke["stdout"], doc
    art = paper_smoke["artifacts"]
    # The papers' networks at 256 px on the papers' datasets, one checkpoint per dataset of each training notebook.
    for chapter, runs in {"msfef": ("helen",), "msanet": ("places2",), "deepgin": ("celeba_hq", "celeba_hq/warmup"),
                          "pmrfn": ("places2",), "ctxattn": ("places2",)}.items():  # each chapter's first dataset
        for run in runs:
            meta = _sidecar(art, "paper", chapter, run)
            assert meta["paper"] == chapter and meta["scale"] == "paper" and meta["step"] == 1, (chapter, run)
            assert meta["config"]["image_size"] == 256, (chapter, run)
            t = meta["train_config"]
            assert t["batch_size"] == (2 if chapter == "msfef" else 1), (chapter, run)  # the per-chapter knob
            assert t["schedule_steps"] > t["steps"] and t["schedule_batch"] >= 4, (chapter, run)
    checks = {  # a few facts of each paper's configuration and recipe, read back from what was trained
        ("msfef", "helen"): lambda m: len(m["config"]["encoder_widths"]) == 8 and m["train_config"]["lr"] == 3e-3,
        ("msanet", "places2"): lambda m: m["train_config"]["lr"] == 3e-4,
        ("deepgin", "celeba_hq"): lambda m: m["config"]["refine_widths"] == [32, 64, 128, 256, 512]
        and m["config"]["block"] == "spd" and m["train_config"]["d_lr"] == 4e-4
        and m["train_config"]["lr_schedule"] == "linear",
        ("pmrfn", "places2"): lambda m: m["config"]["widths"] == [32, 64, 128, 256]
        and m["train_config"]["betas"] == [0.001, 0.99],
        ("ctxattn", "places2"): lambda m: m["config"]["base_channels"] == 32 and m["train_config"]["d_steps"] == 5,
    }
    for (chapter, run), ok in checks.items():
        assert ok(_sidecar(art, "paper", chapter, run)), (chapter, run)
    # The ablations trained the paper's network on the paper's first dataset: the one variant the knob asks for,
    # and MSFEF's and MSA-Net's second, which their notebooks compare by name (Table 4's pair; the MSFEF pair).
    for chapter, n in (("msfef", 2), ("msanet", 2), ("deepgin", 1), ("pmrfn", 1), ("ctxattn", 1)):
        variants = [p for p in (art / "paper" / chapter / "ablation").iterdir() if p.is_dir()]
        assert len(variants) == n, (chapter, variants)
    # Figures that need a trained paper-scale model read its checkpoint: CtxAttn's Fig. 3 at 512 px, on Places2.
    ev = json.loads((executed / "notebooks/ctxattn/06_evaluation.ipynb").read_text())
    assert key_numbers(ev)["ctxattn_fig3_size"] == "512"
    pm = json.loads((executed / "notebooks/pmrfn/06_evaluation.ipynb").read_text())
    assert "places2" in json.dumps(pm["cells"])  # scored on the paper's dataset, not the sample scenes


@pytest.mark.book
def test_the_smoke_run_ends_with_the_bill(paper_smoke):
    assert paper_smoke["returncode"] == 0, paper_smoke["stderr"][-3000:]
    assert "Bill of the smoke run (paper scale)" in paper_smoke["stdout"]
    bill = pd.read_csv(paper_smoke["smoke"] / "bill.csv")
    main = bill[~bill.ablation]
    assert set(main.chapter) == {"msfef", "msanet", "deepgin", "pmrfn", "ctxattn"}
    assert (bill["s per step"] > 0).all() and (bill["peak memory (MB)"] > 0).all()
    # The projection is the paper's schedule at the measured rate, scaled from batch 1 to the paper's batch.
    row = main[(main.chapter == "deepgin") & (main.run == "celeba_hq")].iloc[0]
    assert row["paper steps"] == 675000 and row["paper batch"] == 12 and row["batch"] == 1
    assert row["projected hours"] == pytest.approx(675000 * row["s per step"] * 12 / 1 / 3600, rel=1e-6)
    assert "batch scaled linearly" in row["estimate"]


def _run_training_notebook(tmp_path: Path, monkeypatch, chapter: str, notebook: str = "02_training.py",
                           **parameters) -> dict:
    import jupytext
    import papermill as pm

    monkeypatch.setenv("INPAINTLIB_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.setenv("INPAINTLIB_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("TQDM_DISABLE", "1")
    src = ROOT / "notebooks" / chapter / notebook
    nb = jupytext.read(src)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    jupytext.write(nb, tmp_path / "in.ipynb")
    pm.execute_notebook(tmp_path / "in.ipynb", tmp_path / "out.ipynb", parameters=parameters, kernel_name="python3",
                        cwd=str(src.parent), progress_bar=False)
    return json.loads((tmp_path / "out.ipynb").read_text())


@pytest.mark.book
def test_training_notebook_runs_at_demo_scale(tmp_path, monkeypatch):
    _run_training_notebook(tmp_path, monkeypatch, "msfef", scale="demo",
                           knobs={"max_steps": 2, "batch_size": 2, "masks_per_bucket": 1, "vgg_backbone": "random"})
    meta = _sidecar(tmp_path / "artifacts", "demo", "msfef", "sample_scenes")
    from inpaintlib.papers.msfef import MSFEFConfig

    assert meta["scale"] == "demo" and meta["step"] == 2
    assert meta["config"]["image_size"] == MSFEFConfig.demo().image_size == 32  # ci's size, twice its widths
    assert meta["train_config"]["lr_schedule"] == "linear"  # the demo schedule (demo_schedule)
