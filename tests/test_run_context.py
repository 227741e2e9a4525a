"""The run context (``inpaintlib.chapter.run_context``): one place decides, per scale, the datasets, the recipe and
its step cap, resuming, the checkpoints and the ablation variants; and the bill a smoke run ends with."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from inpaintlib.chapter import KNOBS, SMOKE, run_context, slug
from inpaintlib.papers import papers

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fake_datasets import make_fake_root  # noqa: E402


@pytest.mark.parametrize("paper", papers())
def test_every_paper_declares_one_spec_and_gets_the_same_rules(paper):
    ci, demo, full = (run_context(paper, s) for s in ("ci", "demo", "paper"))
    assert ci.datasets == demo.datasets == full.datasets == ("sample_scenes",)  # no data_root: the sample scenes
    assert (ci.resume, demo.resume, full.resume) == (False, True, True)
    assert full.config == full.spec.config.paper() and ci.config == ci.spec.config.ci()
    assert full.size == full.config.image_size and full.n_seeds == 1 and ci.n_seeds >= 2
    with_data = run_context(paper, "paper", data_root="/nowhere")
    assert with_data.datasets == tuple(full.spec.recipe("paper").datasets) and with_data.dataset == with_data.datasets[0]
    assert run_context(paper, "ci", data_root="/nowhere").datasets == ("sample_scenes",)  # data_root: paper only
    assert set(full.variants()) <= set(full.spec.ablation_variants["paper"]) and full.variants()


@pytest.mark.parametrize("paper", papers())
def test_the_cap_keeps_the_papers_schedule_for_the_bill(paper):
    run = run_context(paper, "paper", smoke=True, batch_size=2)
    full = run.spec.recipe("paper")
    capped = run.cap(run.recipe)
    t = capped.train
    assert t.steps == SMOKE["max_steps"] and t.log_every == 1 and t.batch_size == 2
    assert t.schedule_steps == full.train.steps and t.schedule_batch == full.train.batch_size
    assert t.eval_every in (None, SMOKE["max_steps"]) and t.ckpt_every in (None, SMOKE["max_steps"])
    assert run.cap(capped).train.schedule_steps == full.train.steps  # capping twice keeps the first schedule
    if hasattr(full, "warmup_steps"):  # DeepGIN's warm-up stage is capped the same way
        assert capped.warmup_steps == SMOKE["warmup_steps"] and capped.warmup_schedule_steps == full.warmup_steps


def test_smoke_knobs_and_their_overrides():
    run = run_context("pmrfn", "paper", smoke=True, n_seeds=2, max_steps=5)
    assert run.knobs["masks_per_bucket"] == 1 and run.knobs["test_images"] == 1 and run.n_seeds == 2
    assert run.cap(run.recipe).train.steps == 5
    assert run.per_bucket == 1 and run_context("pmrfn", "paper").per_bucket == 50
    # an int keeps that many variants, always with the ones the notebook compares by name
    rows = run.variants(keep=("Full-Fledged",))
    assert len(rows) == SMOKE["variants"] and "Full-Fledged" in rows
    assert run_context("pmrfn", "ci", variants=["HRNet"]).variants() == ["HRNet"]
    with pytest.raises(ValueError, match="not among"):
        run_context("pmrfn", "ci", variants=["no such row"]).variants()
    with pytest.raises(TypeError, match="unknown knob"):
        run_context("pmrfn", "ci", max_step=3)
    with pytest.raises(ValueError, match="scale"):
        run_context("pmrfn", "full")
    assert set(SMOKE) <= set(KNOBS)
    per_chapter = {"msfef": 2, "*": 1}  # a knob as a mapping is per chapter, "*" for the others
    assert run_context("msfef", "paper", batch_size=per_chapter).knob("batch_size") == 2
    assert run_context("pmrfn", "paper", batch_size=per_chapter).knob("batch_size") == 1
    assert run_context("pmrfn", "paper", batch_size={"msfef": 2}).knob("batch_size") is None


def test_at_paper_scale_the_data_are_the_papers_datasets_and_a_subset_is_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("INPAINTLIB_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("INPAINTLIB_ARTIFACTS", str(tmp_path / "artifacts"))
    root = make_fake_root(tmp_path / "datasets", names=("helen", "ffhq", "oxford_buildings", "celeba_hq"))
    run = run_context("msfef", "paper", data_root=root, masks_per_bucket=1, test_images=1, datasets=["helen"])
    d = run.split()
    assert d.name == "helen" and d.test_images.shape == (1, 3, 256, 256) and len(d.masks) == 5  # Table 1's buckets
    assert run.photos("train", 64)[0].shape == (3, 64, 64)
    with pytest.raises(ValueError, match="not among"):
        run_context("msfef", "paper", data_root=root, datasets=["places2"]).datasets
    assert run_context("msfef", "paper", data_root=root, datasets=1).datasets == ("helen",)  # the first N
    deepgin = run_context("deepgin", "paper", data_root=root)
    assert deepgin.datasets_for("Table 2") == ("ffhq", "oxford_buildings")  # Sect. 6.2's test sets
    assert run_context("deepgin", "ci").datasets_for("Table 2") == ("sample_scenes",)
    with pytest.raises(FileNotFoundError, match="03_training"):  # the notebook that writes it, named
        deepgin.checkpoint()


def test_slug_is_one_rule_for_every_chapter():
    assert slug("All loss + MSFEF") == "all_loss_and_msfef"
    assert slug("full (fuse, scale 10, zero-masking)") == "full_fuse_scale_10_zero_masking"
    assert slug("w/o MRF 1") == "w_o_mrf_1" and slug("SPDResBlk-MSSA-BP") == "spdresblk_mssa_bp"


def _fake_run(folder: Path, steps: int, batch: int, schedule: int, schedule_batch: int, update_s: list[float],
              rss: float = 900.0) -> None:
    folder.mkdir(parents=True)
    (folder / "model.json").write_text(json.dumps({"train_config": {
        "steps": steps, "batch_size": batch, "schedule_steps": schedule, "schedule_batch": schedule_batch}}))
    recs = [{"kind": "train", "step": i + 1, "update_s": s, "peak_rss_mb": rss + i} for i, s in enumerate(update_s)]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))


def test_the_bill_projects_the_papers_schedule_from_the_timed_steps(tmp_path):
    from inpaintlib.reproduce.bill import bill, chapter_totals, write_bill

    base = tmp_path / "paper" / "pmrfn"
    _fake_run(base / "places2", 3, 4, 500000, 4, [9.0, 2.0, 4.0])  # first step (warm-up) left out: median of 2, 4
    _fake_run(base / "ablation" / "hrnet" / "seed0", 1, 2, 500000, 4, [5.0])
    _fake_run(base / "ablation" / "hrnet" / "seed0" / "warmup", 1, 2, 1000, 4, [1.0])  # a second stage, same run
    frame = bill(tmp_path, "paper", ["pmrfn", "msfef"])
    main = frame[~frame.ablation].iloc[0]
    assert main["s per step"] == 3.0 and main["timed steps"] == 2 and main["peak memory (MB)"] == 902.0
    assert main["projected hours"] == pytest.approx(500000 * 3.0 / 3600) and main["estimate"] == ""
    abl = frame[frame.ablation & (frame.run == "ablation/hrnet/seed0")].iloc[0]
    warm = frame[frame.run == "ablation/hrnet/seed0/warmup"].iloc[0]
    assert abl["projected hours"] == pytest.approx(500000 * 5.0 * 4 / 2 / 3600)
    assert "batch scaled linearly" in abl["estimate"] and "warm-up included" in abl["estimate"]
    totals = chapter_totals(frame, "paper").set_index("chapter")
    n_rows = len(run_context("pmrfn", "paper").spec.ablation_variants["paper"])  # one measured, all projected
    assert totals.loc["pmrfn", "ablation, every variant and seed (h)"] == pytest.approx(
        (abl["projected hours"] + warm["projected hours"]) * n_rows)  # both stages of the one (variant, seed) run
    path = write_bill(frame, tmp_path / "out", {"notebooks": {}}, {"scale": "paper"})
    assert "places2" in path.read_text() and pd.read_csv(tmp_path / "out" / "bill.csv").shape[0] == 3
