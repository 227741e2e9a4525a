"""Every scale's code path runs: the MSFEF training notebook at ``paper`` scale (the paper's network at 256 px, the
paper's three datasets in their real folder layouts, faked in a temporary folder) and at ``demo`` scale, each with
the notebook's smoke-test knobs (a step cap, a small batch, one test mask per bucket, a random VGG because no
weights can be downloaded here). Slow (minutes): marked ``book`` like the other notebook runs."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
#: dataset -> (train folder, test folder): the layouts data_prep.datasets indexes (inpaintlib.datasets.REGISTRY).
LAYOUTS = {"helen": ("train", "test"), "stanford_cars": ("cars_train", "cars_test"),
           "lsun_church": ("church_outdoor_train", "church_outdoor_val")}


def _fake_dataset(root: Path, name: str, n_train: int = 3, n_test: int = 2) -> None:
    from data_prep.datasets import prepare

    rng = np.random.default_rng(len(name))
    for folder, n in zip(LAYOUTS[name], (n_train, n_test)):
        (root / name / folder).mkdir(parents=True)
        for i in range(n):
            h, w = int(rng.integers(260, 320)), int(rng.integers(260, 340))  # larger than 256, not square
            Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(root / name / folder / f"{i}.jpg")
    prepare(name, root / name, allow_count_mismatch=True, progress=False)


def _run_training_notebook(tmp_path: Path, monkeypatch, **parameters) -> dict:
    import jupytext
    import papermill as pm

    monkeypatch.setenv("INPAINTLIB_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.setenv("INPAINTLIB_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("TQDM_DISABLE", "1")
    src = ROOT / "notebooks" / "msfef" / "02_training.py"
    nb = jupytext.read(src)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    jupytext.write(nb, tmp_path / "in.ipynb")
    pm.execute_notebook(tmp_path / "in.ipynb", tmp_path / "out.ipynb", parameters=parameters, kernel_name="python3",
                        cwd=str(src.parent), progress_bar=False)
    return json.loads((tmp_path / "out.ipynb").read_text())


def _sidecar(tmp_path: Path, scale: str, run: str) -> dict:
    return json.loads((tmp_path / "artifacts" / scale / "msfef" / run / "model.json").read_text())


@pytest.mark.book
def test_training_notebook_runs_at_paper_scale_on_the_papers_datasets(tmp_path, monkeypatch):
    data = tmp_path / "datasets"
    for name in LAYOUTS:
        _fake_dataset(data, name)
    _run_training_notebook(tmp_path, monkeypatch, scale="paper", data_root=str(data), max_steps=1, batch_size=2,
                           masks_per_bucket=1, vgg_backbone="random")
    for name in LAYOUTS:  # one run per dataset of Sect. 4.1, each with the paper's network at 256 px
        meta = _sidecar(tmp_path, "paper", name)
        assert meta["paper"] == "msfef" and meta["scale"] == "paper" and meta["step"] == 1
        assert meta["config"]["image_size"] == 256 and len(meta["config"]["encoder_widths"]) == 8
        assert meta["train_config"]["batch_size"] == 2 and meta["train_config"]["lr"] == 3e-3


@pytest.mark.book
def test_training_notebook_runs_at_demo_scale(tmp_path, monkeypatch):
    _run_training_notebook(tmp_path, monkeypatch, scale="demo", max_steps=2, batch_size=2, masks_per_bucket=1,
                           vgg_backbone="random")
    meta = _sidecar(tmp_path, "demo", "sample_scenes")
    assert meta["scale"] == "demo" and meta["step"] == 2 and meta["config"]["image_size"] == 128
