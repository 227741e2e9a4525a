"""The bench's cost bookkeeping (``inpaintlib.bench.cost``, ``.layers``, ``.speedups``): counts, file reading and
the benchmark scripts' output format. Never their timings: those are measured, not asserted."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from inpaintlib.bench import cost
from inpaintlib.bench.layers import LiuPartialConv2d, liu_partial_conv
from inpaintlib.cost import num_parameters
from inpaintlib.layers import PartialConv2d
from inpaintlib.registry import build_model, paper_model


@pytest.mark.parametrize("multi_channel", [False, True], ids=["single_mask", "per_channel_mask"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("k,stride,padding", [(3, 1, 1), (5, 2, 2), (7, 2, 3)])
def test_liu_reference_formulation_equals_partial_conv(multi_channel, bias, k, stride, padding):
    gen = torch.Generator().manual_seed(k + stride)
    layer = PartialConv2d(4, 6, k, stride=stride, padding=padding, bias=bias, multi_channel=multi_channel).double()
    ref = LiuPartialConv2d(4, 6, k, stride=stride, padding=padding, bias=bias, multi_channel=multi_channel).double()
    ref.load_state_dict(layer.state_dict())
    x = torch.randn(2, 4, 17, 16, generator=gen, dtype=torch.float64)
    valid = (torch.rand(2, 4 if multi_channel else 1, 17, 16, generator=gen) > 0.4).double()
    valid[1, :, :9, :9] = 0  # all-hole windows
    out, new_valid = layer(x, valid)
    ref_out, ref_valid = ref(x, valid)
    torch.testing.assert_close(out, ref_out, rtol=1e-6, atol=1e-7)  # the reference's 1e-8 in sum(1)/(sum(M)+1e-8)
    assert torch.equal(new_valid, ref_valid.expand_as(new_valid))


def test_liu_formulation_gives_exact_zero_in_all_hole_windows():
    w, b = torch.randn(3, 2, 3, 3), torch.full((3,), 5.0)
    out, new = liu_partial_conv(torch.randn(1, 2, 6, 6), torch.zeros(1, 1, 6, 6), w, b, 1, 1)
    assert bool((out == 0).all()) and bool((new == 0).all())


def test_cost_table_counts_the_parameters_of_the_built_model():
    table = cost.cost_table(("ci",), size=64, papers=("msanet", "ctxattn"))
    for paper in ("msanet", "ctxattn"):
        cfg = paper_model(paper).config_cls.ci()
        row = table.loc[(cost.LABELS[paper], "ci")]
        assert row["parameters"] == num_parameters(build_model(paper, dataclasses.asdict(cfg)))
        assert 0 < row["gmacs_kernels"] <= row["gmacs"]


def test_training_rate_leaves_out_the_first_window_and_windows_with_an_evaluation():
    recs = [{"kind": "train", "step": 10, "time": 100.0},  # first window: warm-up, left out
            {"kind": "train", "step": 20, "time": 101.0},
            {"kind": "train", "step": 30, "time": 102.0},
            {"kind": "eval", "step": 30, "time": 150.0},  # 48 s of evaluation inside the window 30 -> 40
            {"kind": "train", "step": 40, "time": 151.0},
            {"kind": "train", "step": 50, "time": 152.0}]
    r = cost.training_rate(recs, batch=4)
    assert r["steps"] == 50
    assert r["images_per_s"] == pytest.approx(4 * 30 / 3.0)  # windows 10->20 excluded, 30->40 excluded


def test_paper_figures_label_each_figure_with_its_hardware():
    t = cost.paper_figures()
    msa = t.loc[("MSA-Net", "test time per image")]
    assert "0.026" in msa["paper's figure"] and "Titan XP" in msa["paper's hardware"]
    assert any("2080Ti" in h for h in t.loc["DeepGIN"]["paper's hardware"])
    assert set(t.index.get_level_values(0)) == set(cost.LABELS.values())


def test_quality_vs_cost_joins_the_quality_table_with_the_cost_table(tmp_path, monkeypatch):
    import pandas as pd

    monkeypatch.setenv("INPAINTLIB_ARTIFACTS", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="01_quality"):
        cost.quality_vs_cost(pd.DataFrame(), scale="ci")
    d = tmp_path / "ci" / "bench"
    d.mkdir(parents=True)
    pd.DataFrame([("MSA-Net", "ci", "irregular", "all", "psnr", 21.0, 0.3),
                  ("MSA-Net", "ci", "irregular", "all", "ssim", 0.7, 0.01),
                  ("MSA-Net", "ci", "irregular", "10-20%", "psnr", 25.0, 0.3),
                  ("mean fill", "-", "irregular", "all", "psnr", 18.0, 0.2)],
                 columns=["method", "checkpoint", "mask_set", "bucket", "metric", "mean", "se"]
                 ).to_csv(d / "quality.csv", index=False)
    table = pd.DataFrame([{"network": "MSA-Net", "config": "ci", "parameters": 10, "gmacs": 1.5,
                           "gmacs_kernels": 1.0}]).set_index(["network", "config"])
    q = cost.quality_vs_cost(table, scale="ci")
    assert list(q.index) == [("MSA-Net", "ci"), ("mean fill", "-")]
    assert q.loc[("MSA-Net", "ci"), "mean"] == 21.0 and q.loc[("MSA-Net", "ci"), "gmacs"] == 1.5
    assert pd.isna(q.loc[("mean fill", "-"), "gmacs"])


def test_layer_benchmark_quick_mode_writes_json_with_positive_ratios(tmp_path):
    from inpaintlib.bench import layers

    out = tmp_path / "layers.json"
    layers.main(["--quick", "--repeats", "1", "--warmup", "0", "--threads", "1", "--out", str(out)])
    data = json.loads(out.read_text())
    for key in ("cpu", "cores", "threads", "torch", "date", "command", "pconv", "distinctive"):
        assert key in data
    assert data["quick"] and data["command"].startswith("python -m inpaintlib.bench.layers --quick")
    assert {r["network"] for r in data["pconv"]} == {"msfef", "pmrfn"}
    assert all(r["pconv_over_conv"] > 0 and r["liu_over_conv"] > 0 and r["layers"] >= 1 for r in data["pconv"])
    assert len(data["distinctive"]) == 5
    assert all(r["ratio"] > 0 and r["per_mac_ratio"] > 0 and r["plain_gmacs"] > 0 for r in data["distinctive"])


@pytest.mark.parametrize("name,keys", [("layers", ("pconv", "distinctive", "cpu", "threads", "command")),
                                       ("speedups", ("rows", "cpu", "threads", "command")),
                                       ("paper_configs", ("networks", "cpu", "threads", "command"))])
def test_committed_measurements_have_their_machine_facts(name, keys):
    data = cost.measured(name)
    if not data:
        pytest.skip(f"notebooks/bench/measured/{name}.json not written yet")
    assert all(k in data for k in keys)
    assert not data.get("quick"), "a --quick smoke run must not be committed as a measurement"


def test_layer_totals_weight_each_shape_by_its_number_of_layers():
    from inpaintlib.bench.layers import layer_tables, layers_finding

    row = dict(liu_ms=3.0, pconv_over_conv=1.0, liu_over_conv=1.0, pconv_over_liu=1.0)
    data = {"pconv": [{**row, "network": "pmrfn", "shape": "a", "layers": 3, "conv_ms": 1.0, "pconv_ms": 1.0},
                      {**row, "network": "pmrfn", "shape": "b", "layers": 1, "conv_ms": 10.0, "pconv_ms": 20.0}],
            "distinctive": [{"layer": "x", "ratio": 2.0, "per_mac_ratio": 1.5}]}
    per_shape, totals, distinctive = layer_tables(data)
    assert totals.loc["pmrfn", "pconv_over_conv"] == pytest.approx((3 * 1 + 20) / (3 * 1 + 10))
    assert totals.loc["pmrfn", "layers"] == 4
    assert "not met" in layers_finding(totals, per_shape, distinctive)


def test_speedup_table_shows_failures_as_text_and_speedups_as_numbers():
    from inpaintlib.bench.speedups import speedup_table, speedups_finding

    rows = [{"paper": "msanet", "task": "inference", "variant": "channels_last", "eager_s": 1.0, "variant_s": 0.5,
             "speedup": 2.0, "first_call_s": 0.6},
            {"paper": "msanet", "task": "inference", "variant": "compile", "eager_s": 1.0, "variant_s": None,
             "speedup": None, "first_call_s": None, "error": "no compiler"}]
    t = speedup_table({"rows": rows})
    assert t.loc[("MSA-Net", "inference"), "channels_last speedup"] == 2.0
    assert t.loc[("MSA-Net", "inference"), "compile speedup"].startswith("failed")
    text = speedups_finding(t, data={"rows": rows})
    assert "channels_last for MSA-Net inference (2.00x)" in text
    assert "Failed: compile for MSA-Net inference (`no compiler`)" in text
    rows[1]["error"] = "exit 1: torch._inductor.exc.InductorError: LoweringException: TypeError: cannot determine"
    assert speedup_table({"rows": rows}).loc[("MSA-Net", "inference"), "compile speedup"] == "failed (InductorError)"


def test_adoption_finding_checks_each_networks_memory_format_against_the_measurement():
    from inpaintlib.bench.speedups import adoption_finding, speedup_table

    def rows(paper, inference, train):
        return [{"paper": paper, "task": t, "variant": "channels_last", "eager_s": 1.0, "variant_s": 1.0 / v,
                 "speedup": v, "first_call_s": 0.1} for t, v in (("inference", inference), ("train_step", train))]

    t = speedup_table({"rows": rows("pmrfn", 1.2, 1.3) + rows("msfef", 1.1, 0.9)})
    ok = adoption_finding(t, {"pmrfn": "channels_last", "msfef": "contiguous_format"})
    assert "PMRFN runs in channels_last (channels_last 1.20x inference, 1.30x training: as measured)" in ok
    assert "MSFEF runs in contiguous_format (channels_last 1.10x inference, 0.90x training: as measured)" in ok
    stale = adoption_finding(t, {"pmrfn": "contiguous_format", "msanet": "channels_last"})
    assert "PMRFN runs in contiguous_format" in stale and "no longer supports" in stale
    assert "MSA-Net runs in channels_last (channels_last not measured)" in stale


def test_speedups_run_keeps_the_rows_of_variants_it_does_not_measure_again(tmp_path, monkeypatch):
    import json

    from inpaintlib.bench import speedups

    monkeypatch.setattr(speedups, "_child", lambda paper, task, variant, *a: {
        "paper": paper, "task": task, "variant": variant, "speedup": 1.5, "error": None})
    out = tmp_path / "speedups.json"
    speedups.run(papers=("msfef",), tasks=("inference",), variants=("channels_last",), out=out)
    first = json.loads(out.read_text())
    assert len(first["rows"]) == 1 and first["complete"] is False
    speedups.run(variants=("compile",), out=out)  # every network and task, compile only
    data = json.loads(out.read_text())
    assert ("channels_last", "msfef", "inference") in {(r["variant"], r["paper"], r["task"]) for r in data["rows"]}
    assert len(data["rows"]) == 1 + len(speedups.PAPERS) * len(speedups.TASKS) and data["complete"] is False
    speedups.run(variants=("channels_last",), out=out)
    assert json.loads(out.read_text())["complete"] is True


def test_budget_settings_are_ci_s_network_a_wider_one_and_the_shipped_one_at_the_other_size():
    from inpaintlib.bench.budget import OTHER_SIZE, settings, shipped_setting
    from inpaintlib.registry import paper_model

    for paper in OTHER_SIZE:
        spec = paper_model(paper).config_cls
        demo, s = spec.demo(), settings(paper)
        assert s["ci network"] == type(demo)(**{**spec.ci().__dict__, "image_size": demo.image_size})
        assert s[shipped_setting(paper)] == demo
        wide = s["wider network"]
        assert wide.image_size == demo.image_size and wide != s["ci network"]
        with torch.device("meta"):  # parameter counts without allocating
            n_wide, n_ci = (sum(p.numel() for p in paper_model(paper).network_cls(c).parameters())
                            for c in (wide, s["ci network"]))
        assert n_wide > n_ci
        other = s[f"{OTHER_SIZE[paper]} px"]
        assert other.image_size != demo.image_size and other == type(other)(
            **{**demo.__dict__, "image_size": other.image_size})
    assert shipped_setting("pmrfn") == shipped_setting("ctxattn") == "ci network"
    assert shipped_setting("msanet") == "wider network"


def test_budget_finding_names_the_best_setting_and_how_far_behind_the_shipped_one_is():
    from inpaintlib.bench.budget import budget_agreement, budget_finding, budget_table

    def row(paper, setting, psnr):
        return {"paper": paper, "setting": setting, "image_size": 64, "parameters": 10, "units": 100,
                "train_cpu_s": 200.0, "psnr_all": psnr, "psnr_by_bucket": {"(0.01,0.1]": psnr + 1}}

    # MSFEF ships its wider network, PMRFN ci's network
    data = {"rows": [row("msfef", "wider network", 20.0), row("msfef", "ci network", 21.0), row("msfef", "64 px", 19.0),
                     row("pmrfn", "wider network", 22.0), row("pmrfn", "ci network", 21.95), row("pmrfn", "32 px", 21.0)]}
    t = budget_table(data)
    assert t.loc[("MSFEF", "wider network"), "shipped"] and t.loc[("PMRFN", "ci network"), "shipped"]
    assert not t.loc[("PMRFN", "wider network"), "shipped"] and not t.loc[("MSFEF", "64 px"), "shipped"]
    assert t.loc[("MSFEF", "wider network"), "behind best (dB)"] == pytest.approx(1.0)
    assert t.loc[("PMRFN", "wider network"), "behind best (dB)"] == 0
    text = budget_finding(t)
    assert "MSFEF: ci network (21.00 dB), the shipped wider network 1.00 dB behind" in text
    assert "PMRFN: wider network (22.00 dB), the shipped ci network 0.05 dB behind" in text
    assert budget_agreement(t) == (1, 2) and "for 1 of 2 networks" in text




def test_demo_choice_reads_training_facts_by_sha256_and_refuses_an_unlisted_checkpoint(tmp_path):
    from inpaintlib.bench.demo_choice import training_info
    from inpaintlib.weights import save_checkpoint

    ckpt = tmp_path / "m.safetensors"
    save_checkpoint(ckpt, {"w": torch.ones(3)}, {"paper": "pmrfn"})
    import hashlib

    sha = hashlib.sha256(ckpt.read_bytes()).hexdigest()
    man = tmp_path / "manifest.json"
    man.write_text(json.dumps({"checkpoints": [
        {"name": "other", "sha256": "0" * 64, "training": {"steps": 1}},
        {"name": "this", "sha256": sha, "commit": "abc", "training": {"steps": 5000, "cpu_s": 1500.0, "wall_s": 1600.0}},
    ]}))
    info = training_info(ckpt, man)
    assert info == {"sha256": sha, "steps": 5000, "cpu_s": 1500.0, "wall_s": 1600.0, "commit": "abc"}
    man.write_text(json.dumps({"checkpoints": [{"name": "other", "sha256": "0" * 64}]}))
    with pytest.raises(ValueError, match="no entry of .* has its sha256"):
        training_info(ckpt, man)


def test_demo_choice_finding_says_whether_the_shipped_setting_is_ahead_and_in_how_many_buckets():
    from inpaintlib.bench.demo_choice import choice_finding, choice_table

    def row(paper, setting, sha, psnr, buckets):
        return {"paper": paper, "setting": setting, "sha256": sha, "parameters": 10, "steps": 100, "cpu_s": 1500.0,
                "psnr_all": psnr, "psnr_by_bucket": dict(zip(["(0.01,0.1]", "(0.1,0.2]"], buckets))}

    data = {"rows": [row("pmrfn", "ci network", "a", 25.0, [30.0, 26.0]),
                     row("pmrfn", "wider network", "b", 23.5, [29.0, 26.5]),
                     row("ctxattn", "ci network", "c", 24.0, [30.0, 25.0]),
                     row("ctxattn", "wider network", "d", 24.2, [30.5, 25.5])]}
    t = choice_table(data, shipped={"a", "d"})
    text = choice_finding(t)
    assert "PMRFN: the shipped ci network (100 updates, 25 CPU min) scores 25.00 dB, 1.50 dB ahead of the wider " \
           "network" in text and "ahead in 1 of 2 buckets" in text
    assert "CtxAttn: the shipped wider network" in text and "0.20 dB ahead of the ci network" in text
    t2 = choice_table(data, shipped={"a", "b"})
    assert "PMRFN: 2 settings, 2 shipped; no comparison" in choice_finding(t2)


def test_the_readme_and_intro_name_the_networks_whose_demo_is_ci_s_network():
    from inpaintlib.bench.budget import PAPERS, shipped_setting
    from inpaintlib.bench.cost import LABELS
    from inpaintlib.paths import repo_root

    names = " and ".join(LABELS[p] for p in PAPERS if shipped_setting(p) == "ci network")
    assert names, "no network ships ci's own network as its demo"
    for doc in ("README.md", "book/intro.md", "weights/README.md", "notebooks/bench/01_quality.py"):
        text = " ".join((repo_root() / doc).read_text(encoding="utf-8").split())
        assert f"{names}: ci's own network" in text or f"ci's own network for {names}" in text or \
            f"{names} with ci's own network" in text, doc


def test_demo_choice_reads_a_former_checkpoint_and_its_sidecar_from_git_history(tmp_path):
    from inpaintlib.bench.demo_choice import _local
    from inpaintlib.paths import repo_root
    from inpaintlib.weights import read_sidecar

    name = "weights/msfef-ci-sample-scenes.safetensors"  # unchanged since it was committed
    got = _local(f"git:HEAD:{name}", tmp_path)
    assert got.read_bytes() == (repo_root() / name).read_bytes()
    assert read_sidecar(got)["paper"] == "msfef"  # the sidecar came along
    assert _local("weights/manifest.json", tmp_path) == Path("weights/manifest.json")
    with pytest.raises(ValueError, match="git show 0000000:weights"):
        _local("git:0000000:weights/manifest.json", tmp_path)


def test_budget_run_keeps_other_rows_and_the_commands_that_measured_them(tmp_path, monkeypatch):
    from inpaintlib.bench import budget

    monkeypatch.setattr(budget, "_row", lambda paper, label, cfg, cpu_s, seed, work: {
        "paper": paper, "setting": label, "psnr_all": 20.0, "units": 1, "train_cpu_s": cpu_s})
    out = tmp_path / "budget.json"
    budget.run(papers=("msfef",), out=out, command="first")
    first = json.loads(out.read_text())
    assert {r["setting"] for r in first["rows"]} == set(budget.settings("msfef")) and first["complete"] is False
    budget.run(papers=("msfef",), out=out, command="second", only=("64 px",))
    data = json.loads(out.read_text())
    assert data["command"] == "first, then second" and len(data["rows"]) == 3
    assert [r["setting"] for r in data["rows"]][-1] == "64 px"
    budget.run(papers=("msfef",), out=out, command="third")  # every row again: only this command measured them
    assert json.loads(out.read_text())["command"] == "third"
