"""The planning page's computations (``inpaintlib.bench.plan``): FLOPs counted on meta tensors against hand formulas,
the memory derivation against a hand count, the hours formula, and one row per chapter at the paper's batch and size.
"""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from inpaintlib.bench import plan as P


def _meta(*shape, grad=False):
    return torch.empty(*shape, device="meta", requires_grad=grad)


# ----------------------------------------------------------------------------------------------------- FLOPs
def test_conv_flops_match_the_hand_formula():
    n, c_in, c_out, k, h, w = 2, 3, 8, 3, 16, 20
    with torch.device("meta"):
        conv = nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False)
    forward = 2 * c_out * c_in * k * k * h * w * n  # 2 FLOPs per multiply-accumulate
    with P.counting():
        image_input = P.step_cost(lambda: conv(_meta(n, c_in, h, w)).sum(), exclude=list(conv.parameters()))
        inner = P.step_cost(lambda: conv(_meta(n, c_in, h, w, grad=True)).sum(), exclude=list(conv.parameters()))
    assert image_input.forward_flops == inner.forward_flops == forward
    assert image_input.backward_flops == forward  # the weight's gradient only: the input needs none
    assert inner.backward_flops == 2 * forward  # the weight's and the input's gradients: backward = 2 x forward


def test_linear_flops_and_saved_bytes_match_a_hand_count():
    with torch.device("meta"):
        net = nn.Sequential(nn.Linear(10, 20, bias=False), nn.Linear(20, 5, bias=False))
    with P.counting():
        c = P.step_cost(lambda: net(_meta(4, 10)).sum(), exclude=list(net.parameters()))
    assert c.forward_flops == 2 * (4 * 10 * 20 + 4 * 20 * 5)
    # backward: both weight gradients and the hidden layer's input gradient (the input x needs none)
    assert c.backward_flops == 2 * (4 * 10 * 20 + 4 * 20 * 5 + 4 * 5 * 20)
    # saved for backward: x (4 x 10) for the first weight's gradient, h (4 x 20) for the second's; weights excluded
    assert c.saved_bytes == 4 * (4 * 10 + 4 * 20)
    assert c.frozen_bytes == 0


def test_saved_bytes_count_each_storage_once_and_frozen_weights_apart():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(10, 20, bias=False), nn.Linear(10, 20, bias=False)

        def forward(self, x):
            return self.a(x) * self.b(x)

    with torch.device("meta"):
        net, frozen = Twice(), nn.Linear(20, 3, bias=False).requires_grad_(False)
    with P.counting():
        c = P.step_cost(lambda: frozen(net(_meta(4, 10))).sum(), exclude=list(net.parameters()))
    # x once (both layers save it) and both outputs (the product saves them); the frozen layer needs no input (it
    # has no weight gradient) but its weight (a transposed view of it), for its input's gradient: reported apart
    assert c.saved_bytes == 4 * (4 * 10 + 2 * 4 * 20)
    assert c.frozen_bytes == 4 * 20 * 3


def test_meta_counts_equal_real_counts_for_a_partial_convolution_with_holes():
    from inpaintlib.layers.partial_conv import PartialConv2d

    torch.manual_seed(0)
    image, valid = torch.rand(2, 3, 16, 16), torch.ones(2, 1, 16, 16)
    valid[..., 4:12, 4:12] = 0
    real = P.TotalFlopCounter()
    with real:
        PartialConv2d(3, 8, 3, 1, 1)(image, valid)[0].sum().backward()
    with torch.device("meta"):
        pconv = PartialConv2d(3, 8, 3, 1, 1)
    with P.counting():
        meta = P.step_cost(lambda: pconv(_meta(2, 3, 16, 16), _meta(2, 1, 16, 16))[0].sum(),
                           exclude=list(pconv.parameters()))
    assert meta.flops == real.get_total_flops() > 0


# ---------------------------------------------------------------------------------------------- memory, hours
def test_memory_formula():
    assert P.state_bytes(1000) == 16_000  # weight, gradient, Adam's two moments, float32
    assert P.peak_memory(1000, saved_bytes=480, frozen_bytes=100) == 16_000 + 480 + 100


def test_gpu_hours_formula():
    a100 = P.gpu_spec("NVIDIA A100 40GB")
    assert a100.peak_flops("fp16") == 312e12 and a100.peak_flops("fp32") == 19.5e12
    hours = P.gpu_hours(1000, 1e12, a100.peak_flops("fp16"), 0.4)
    assert hours == pytest.approx(1000 * 1e12 / (312e12 * 0.4) / 3600, rel=1e-12)
    assert P.gpu_hours(2000, 1e12, 312e12, 0.4) == pytest.approx(2 * hours)
    assert P.gpu_hours(1000, 1e12, 312e12, 0.2) == pytest.approx(2 * hours)
    for bad in (0, -0.1, 1.5):
        with pytest.raises(ValueError):
            P.gpu_hours(1000, 1e12, 312e12, bad)
    with pytest.raises(ValueError, match="unknown GPU"):
        P.gpu_spec("a toaster")


# --------------------------------------------------------------------------------------------- every chapter
@pytest.fixture(scope="module")
def plans():
    return {p["paper"]: p for p in P.plan(P.PAPERS, "NVIDIA A100 40GB", 0.4)}


@pytest.mark.parametrize("paper", P.PAPERS)
def test_every_chapter_is_counted_at_the_papers_batch_and_size(plans, paper):
    from inpaintlib.registry import paper_model

    p = plans[paper]
    assert p["error"] is None, p["error"]
    spec = P._package(paper).SPEC
    recipe, config = spec.recipe("paper"), paper_model(paper).config_cls.paper()
    assert p["image_size"] == config.image_size
    with torch.device("meta"):
        n_params = sum(t.numel() for t in paper_model(paper).network_cls(config).parameters())
    training = [r for r in p["runs"] if r["kind"] == "training"]
    assert [r["dataset"] for r in training] == list(recipe.datasets)
    for run in p["runs"]:
        assert run["flops"] > 0 and run["hours"] > 0 and run["hours_fp32"] > run["hours"]
        for st in run["stages"]:
            assert st["batch"] == recipe.train.batch_size and st["image_size"] == config.image_size
            assert st["g_params"] == n_params
            assert st["net_forward_flops"] > 0 and st["net_flops"] > 2 * st["net_forward_flops"] * 0.8
            assert st["g_step_flops"] >= st["net_flops"] * 0.99
            assert st["flops_per_step"] == st["g_step_flops"] + st["d_steps"] * st["d_step_flops"]
            assert st["peak_bytes"] > P.state_bytes(st["g_params"] + st["d_params"]) > 0
            assert (st["d_params"] > 0) == (st["d_steps"] > 0)
    main = training[0]["stages"][-1]
    assert main["d_steps"] == (recipe.train.d_steps if main["d_params"] else 0)
    ablation = [r for r in p["runs"] if r["kind"] == "ablation"]
    assert ablation and ablation[0]["runs"] == len(spec.ablation_variants["paper"]) * spec.ablation_seeds["paper"]


def test_schedules_follow_the_recipes(plans):
    from inpaintlib.datasets import REGISTRY
    from inpaintlib.papers import deepgin, msfef

    msfef_recipe = msfef.SPEC.recipe("paper")
    for run in (r for r in plans["msfef"]["runs"] if r["kind"] == "training"):
        n = REGISTRY[run["dataset"]].counts["train"]
        assert run["steps"] == msfef.recipe_for_dataset(msfef_recipe, n).train.steps
    dg = deepgin.SPEC.recipe("paper")
    stages = {st["stage"]: st for st in plans["deepgin"]["runs"][0]["stages"]}
    assert stages["warmup"]["steps"] == dg.warmup_steps and stages["main"]["steps"] == dg.train.steps
    assert stages["warmup"]["d_steps"] == 0 and stages["main"]["d_steps"] == dg.train.d_steps
    # hours = steps x FLOPs per step / (peak x utilisation) / 3600, summed over the stages
    a100 = P.gpu_spec("NVIDIA A100 40GB")
    run = plans["deepgin"]["runs"][0]
    expected = sum(P.gpu_hours(st["steps"], st["flops_per_step"], a100.peak_flops(run["precision"]), 0.4)
                   for st in run["stages"])
    assert run["hours"] == pytest.approx(expected)


def test_tables_and_findings(plans):
    a100 = P.gpu_spec("NVIDIA A100 40GB")
    ps = list(plans.values())
    for table in (P.schedule_table(ps), P.flops_table(ps), P.memory_table(ps, a100), P.hours_table(ps),
                  P.totals_table(ps)):
        assert not table.empty
    totals = P.totals_table(ps)
    assert totals.loc["all chapters", "GPU-hours"] == pytest.approx(totals["GPU-hours"].drop("all chapters").sum())
    assert not math.isnan(totals.loc["all chapters", "GPU-hours"])
    text = P.findings(ps, a100, 0.4)
    assert "GPU-hours" in text and "40%" in text
