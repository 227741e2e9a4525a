"""Every scale's code path runs: the training notebooks of MSFEF, MSA-Net, DeepGIN, PMRFN and CtxAttn at ``paper``
scale (the paper's network at 256 px, the paper's datasets in their real folder layouts, faked in a temporary folder;
every dataset prepared and opened, one trained per chapter), CtxAttn's evaluation after its training (Fig. 3 at
512 px), and MSFEF's and MSA-Net's training notebooks at ``demo`` scale, each with the notebook's smoke-test knobs (a step cap, a small batch, one
test mask per bucket, one test photograph, a random VGG because no weights can be downloaded here). Slow (minutes):
marked ``book`` like the other notebook runs."""
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
#: MSA-Net's datasets (Sect. 4): Places2's official folders, and CelebA-HQ's 30,000 images in one folder, split
#: 28K/2K by a seeded draw (so the fake copy needs more than 2,000 images; tiny ones, scored on two).
MSANET_LAYOUTS = {"places2": ("data_256/a/abbey", "val_256"), "celeba_hq_28k": ("", "")}
#: DeepGIN's training set (Sect. 5.2): CelebA-HQ's 30,000 images in one folder, split 27K/3K by a seeded draw.
DEEPGIN_LAYOUTS = {"celeba_hq": ("", "")}
#: PMRFN's datasets (Sect. 5.1): Places2, Paris StreetView (the Context Encoders release's folders) and CelebA
#: (sorted into train/ and test/ by its official partition file).
PMRFN_LAYOUTS = {"places2": ("data_256/a/abbey", "val_256"),
                 "paris_streetview": ("paris_train_original", "paris_eval_gt"), "celeba": ("train", "test")}
#: CtxAttn's dataset (our choice, one of DeepFill v1's; the paper names none): Places2.
CTXATTN_LAYOUTS = {"places2": ("data_256/a/abbey", "val_256")}


def _photo(rng, path: Path, small: bool = False) -> None:
    h, w = (8, 8) if small else (int(rng.integers(260, 320)), int(rng.integers(260, 340)))  # not square
    Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path)


def _fake_dataset(root: Path, name: str, n_train: int = 3, n_test: int = 2, layouts=LAYOUTS) -> None:
    from data_prep.datasets import prepare
    from inpaintlib.datasets import REGISTRY

    rng = np.random.default_rng(len(name))
    held_out = sum(REGISTRY[name].random_split.values())
    if held_out:  # one folder split by a seeded draw (CelebA-HQ): more (tiny) images than the held-out split
        n_train, n_test = 0, held_out + 3
    for folder, n in zip(layouts[name], (n_train, n_test)):
        (root / name / folder).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            _photo(rng, root / name / folder / f"{folder.replace('/', '_')}{i}.png", small=n > 100)
    prepare(name, root / name, allow_count_mismatch=True, progress=False)


def _run_training_notebook(tmp_path: Path, monkeypatch, chapter: str = "msfef", notebook: str = "02_training.py",
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


def _sidecar(tmp_path: Path, scale: str, run: str, chapter: str = "msfef") -> dict:
    return json.loads((tmp_path / "artifacts" / scale / chapter / run / "model.json").read_text())


@pytest.mark.book
def test_training_notebook_runs_at_paper_scale_on_the_papers_datasets(tmp_path, monkeypatch):
    from inpaintlib.data import open_dataset

    data = tmp_path / "datasets"
    for name in LAYOUTS:  # every dataset of Sect. 4.1 prepared and opened at 256 px in its real layout
        _fake_dataset(data, name)
        assert open_dataset(name, data / name, "test", 256)[0].shape == (3, 256, 256)
    # One trained (each run costs minutes of CPU with the paper's network; the cells are the same for all three)
    _run_training_notebook(tmp_path, monkeypatch, scale="paper", data_root=str(data), datasets=["helen"],
                           max_steps=1, batch_size=2, masks_per_bucket=1, test_images=1, vgg_backbone="random")
    meta = _sidecar(tmp_path, "paper", "helen")  # the paper's network at 256 px
    assert meta["paper"] == "msfef" and meta["scale"] == "paper" and meta["step"] == 1
    assert meta["config"]["image_size"] == 256 and len(meta["config"]["encoder_widths"]) == 8
    assert meta["train_config"]["batch_size"] == 2 and meta["train_config"]["lr"] == 3e-3


@pytest.mark.book
def test_training_notebook_runs_at_demo_scale(tmp_path, monkeypatch):
    _run_training_notebook(tmp_path, monkeypatch, scale="demo", max_steps=2, batch_size=2, masks_per_bucket=1,
                           vgg_backbone="random")
    meta = _sidecar(tmp_path, "demo", "sample_scenes")
    from inpaintlib.papers.msfef import MSFEFConfig

    assert meta["scale"] == "demo" and meta["step"] == 2
    assert meta["config"]["image_size"] == MSFEFConfig.demo().image_size == 32  # ci's size, twice its widths
    assert meta["train_config"]["lr_schedule"] == "linear"  # the demo schedule (demo_schedule)


@pytest.mark.book
def test_msanet_training_notebook_runs_at_paper_scale_on_the_papers_datasets(tmp_path, monkeypatch):
    from inpaintlib.data import open_dataset

    data = tmp_path / "datasets"
    for name in MSANET_LAYOUTS:  # both datasets of Sect. 4 prepared and opened at 256 px
        _fake_dataset(data, name, layouts=MSANET_LAYOUTS)
        assert open_dataset(name, data / name, "test", 256)[0].shape == (3, 256, 256)
    # One trained (Places2; the cells are the same for both): the paper's network at 256 px and learning rate
    _run_training_notebook(tmp_path, monkeypatch, chapter="msanet", scale="paper", data_root=str(data),
                           datasets=["places2"], max_steps=2, batch_size=1, masks_per_bucket=1, test_images=1)
    meta = _sidecar(tmp_path, "paper", "places2", "msanet")
    assert meta["paper"] == "msanet" and meta["scale"] == "paper" and meta["config"]["image_size"] == 256
    assert meta["train_config"]["lr"] == 3e-4 and meta["step"] == 2 and meta["train_config"]["batch_size"] == 1
    manifest = json.loads((data / "celeba_hq_28k" / "manifest_28k.json").read_text())
    assert len(manifest["splits"]["test"]) == 2000 and len(manifest["splits"]["train"]) == 3


@pytest.mark.book
def test_msanet_training_notebook_runs_at_demo_scale(tmp_path, monkeypatch):
    _run_training_notebook(tmp_path, monkeypatch, chapter="msanet", scale="demo", max_steps=2, batch_size=2,
                           masks_per_bucket=1, test_images=1)
    meta = _sidecar(tmp_path, "demo", "sample_scenes", "msanet")
    assert meta["scale"] == "demo" and meta["config"]["image_size"] == 64 and meta["step"] == 2


@pytest.mark.book
def test_deepgin_training_notebook_runs_at_paper_scale_on_the_papers_dataset(tmp_path, monkeypatch):
    data = tmp_path / "datasets"
    _fake_dataset(data, "celeba_hq", layouts=DEEPGIN_LAYOUTS)
    _run_training_notebook(tmp_path, monkeypatch, chapter="deepgin", notebook="03_training.py", scale="paper",
                           data_root=str(data), warmup_steps=1, max_steps=1, batch_size=1, masks_per_bucket=1,
                           test_images=1, vgg_backbone="random")
    warm, final = (_sidecar(tmp_path, "paper", run, "deepgin") for run in ("celeba_hq/warmup", "celeba_hq"))
    for meta in (warm, final):  # both stages of Sect. 5.1, the full model (Table 1: 42.930M) at 256 px
        assert meta["paper"] == "deepgin" and meta["scale"] == "paper" and meta["step"] == 1
        assert meta["config"]["image_size"] == 256 and meta["config"]["refine_widths"] == [32, 64, 128, 256, 512]
        assert meta["config"]["block"] == "spd" and meta["config"]["n_blocks"] == 6
        assert meta["train_config"]["lr"] == 1e-4 and meta["train_config"]["batch_size"] == 1
    t = final["train_config"]  # the main stage: D at 4e-4, the rates decayed linearly after 10% of the steps
    assert t["d_lr"] == 4e-4 and t["lr_schedule"] == "linear" and t["decay_start"] == 0.1
    assert sum(1 for _ in (data / "celeba_hq").rglob("*.png")) == 3003


@pytest.mark.book
def test_pmrfn_training_notebook_runs_at_paper_scale_on_the_papers_datasets(tmp_path, monkeypatch):
    from inpaintlib.data import open_dataset

    data = tmp_path / "datasets"
    for name in PMRFN_LAYOUTS:
        _fake_dataset(data, name, layouts=PMRFN_LAYOUTS)
        assert open_dataset(name, data / name, "train", 256)[0].shape == (3, 256, 256)  # the layout indexes
    # One dataset trained (the paper's network costs seconds per 256 px forward on a CPU): Places2, Tables 1-2's.
    _run_training_notebook(tmp_path, monkeypatch, chapter="pmrfn", notebook="03_training.py", scale="paper",
                           data_root=str(data), datasets=["places2"], max_steps=1, batch_size=1, masks_per_bucket=1,
                           test_images=1)
    meta = _sidecar(tmp_path, "paper", "places2", "pmrfn")  # HRNet-W32 widths, six stages, at 256 px
    assert meta["paper"] == "pmrfn" and meta["scale"] == "paper" and meta["step"] == 1
    assert meta["config"]["image_size"] == 256 and meta["config"]["widths"] == [32, 64, 128, 256]
    t = meta["train_config"]  # Sect. 5.1 as printed: Adam 1e-4, betas (0.001, 0.99)
    assert t["lr"] == 1e-4 and t["betas"] == [0.001, 0.99] and t["batch_size"] == 1


@pytest.mark.book
def test_ctxattn_notebooks_run_at_paper_scale_on_places2_with_fig3_at_512_px(tmp_path, monkeypatch):
    from inpaintlib.reproduce.execute import key_numbers

    data = tmp_path / "datasets"
    _fake_dataset(data, "places2", layouts=CTXATTN_LAYOUTS)
    smoke = dict(scale="paper", data_root=str(data), masks_per_bucket=1, test_images=1)
    _run_training_notebook(tmp_path, monkeypatch, chapter="ctxattn", notebook="03_training.py", max_steps=1,
                           batch_size=1, **smoke)
    meta = _sidecar(tmp_path, "paper", "places2", "ctxattn")  # DeepFill v1's network (c = 32) at 256 px
    assert meta["paper"] == "ctxattn" and meta["scale"] == "paper" and meta["step"] == 1
    assert meta["config"]["image_size"] == 256 and meta["config"]["base_channels"] == 32
    t = meta["train_config"]  # DeepFill v1: Adam 1e-4 for G and the critics, 5 critic updates per G update
    assert t["lr"] == 1e-4 and t["d_lr"] == 1e-4 and t["d_steps"] == 5 and t["batch_size"] == 1
    # Then the evaluation on that checkpoint: Table I's buckets at 256 px and Fig. 3's layout at 512 px.
    out = _run_training_notebook(tmp_path, monkeypatch, chapter="ctxattn", notebook="06_evaluation.py", **smoke)
    keys = key_numbers(out)
    assert keys["ctxattn_fig3_size"] == "512" and "ctxattn_eval_ctxattn_psnr_all" in keys
    fig3 = next(c for c in out["cells"] if "ctxattn-512" in "".join(c["source"]))
    assert any("image/png" in o.get("data", {}) for o in fig3["outputs"])  # the figure was drawn
