"""Behaviour of MSA-Net's layers, network, loss and tables (Qin et al. 2021, Sect. 3, Tables 1-6)."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from inpaintlib.layers.attention import (CBAM, AugmentedChannelAttention, FusingSpatialAttention, SCAAttention,
                                         SEBlock)
from inpaintlib.layers.multiscale_attention import MSAU
from inpaintlib.papers.msanet import (TABLE_VARIANTS, VARIANTS, MSANet, MSANetConfig, checks, gram, msanet_loss,
                                      msanet_training, table1_counts, variant_config)
from inpaintlib.registry import build_model, paper_model


def _valid(n, s, box):
    v = torch.ones(n, 1, s, s)
    r0, r1, c0, c1 = box
    v[..., r0:r1, c0:c1] = 0
    return v


def test_table1_parameter_counts_are_reproduced_exactly_with_input_width_128_and_no_bias():
    counts = table1_counts()
    assert counts["msau"] == {"structure": 221_184, "total": 221_184, "maps": 192}  # printed 221K / 221K
    assert counts["inception_v1"] == {"structure": 240_128, "total": 338_432, "maps": 512}  # printed 240K / 338K
    assert counts["inception_v3"] == {"structure": 268_032, "total": 326_400, "maps": 304}  # printed 268K / 326K
    assert checks.table1_counts(counts)["matches"].all()


def test_table1_counts_do_not_match_with_biases():
    assert not checks.table1_counts(table1_counts(bias=True))["matches"].all()


def test_msau_branch_masks_grow_with_the_dilation_rate():
    unit = MSAU(8, 16, 8, branch_channels=4)
    valid = _valid(1, 64, (8, 56, 8, 56))
    _, out_valid, parts = unit(torch.rand(1, 8, 64, 64), valid, return_parts=True)
    known = [m.mean().item() for m in parts["branch_valid"]]
    assert known == sorted(known) and known[0] < known[-1]  # rate 8 reaches furthest into the hole
    assert torch.equal(out_valid, torch.stack(parts["branch_valid"]).amax(0))
    assert torch.all(parts["branches"][0][parts["branch_valid"][0].expand_as(parts["branches"][0]) == 0] == 0)


@pytest.mark.parametrize("block", [lambda c: FusingSpatialAttention(c), lambda c: AugmentedChannelAttention(c),
                                   lambda c: CBAM(c), lambda c: SEBlock(c), lambda c: SCAAttention(c)])
def test_attention_blocks_keep_the_shape(block):
    x = torch.randn(2, 16, 12, 12)
    assert block(16)(x).shape == x.shape


def test_literal_attention_reading_uses_unsquashed_weights():
    torch.manual_seed(0)
    ca = AugmentedChannelAttention(8, squash=False)
    x = torch.randn(1, 8, 8, 8)
    w = ca.weights(x)
    assert (w < 0).any() or (w > 1).any()  # Eq. 8 has no sigmoid: weights are not confined to (0, 1)
    assert torch.allclose(ca(x), x * w)


def test_network_outputs_an_image_and_rejects_a_hole_map():
    cfg = MSANetConfig.ci()
    net = MSANet(cfg).eval()
    x, v = torch.rand(2, 3, 64, 64), _valid(2, 64, (16, 40, 16, 40))
    out = net(x, v)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    with pytest.raises(ValueError):
        net(x, (1 - v).long())
    with pytest.raises(ValueError, match="multiples of 8"):
        net(torch.rand(1, 3, 60, 60), torch.ones(1, 1, 60, 60))


def test_hole_content_never_reaches_the_output():
    torch.manual_seed(0)
    net = MSANet(MSANetConfig.ci()).eval()
    v = _valid(1, 64, (20, 44, 20, 44))
    a = torch.rand(1, 3, 64, 64)
    b = a.clone()
    b[..., 20:44, 20:44] = torch.rand(1, 3, 24, 24)
    assert torch.allclose(net(a, v), net(b, v))


def test_no_mum_flag_changes_the_output():
    torch.manual_seed(0)
    cfg = MSANetConfig.ci()
    a = MSANet(cfg).eval()
    b = MSANet(dataclasses.replace(cfg, use_mum=False)).eval()
    b.load_state_dict(a.state_dict())
    x, v = torch.rand(1, 3, 64, 64), _valid(1, 64, (10, 50, 10, 50))
    assert not torch.allclose(a(x, v), b(x, v))


def test_every_ablation_variant_builds_and_runs():
    cfg = MSANetConfig.ci()
    x, v = torch.rand(1, 3, 64, 64), _valid(1, 64, (16, 40, 16, 40))
    sizes = {}
    for name in VARIANTS:
        net = MSANet(variant_config(cfg, name)).eval()
        assert net(x, v).shape == x.shape
        sizes[name] = net.num_parameters()
    assert sizes["MSA-Net"] > sizes["C-A + S-A"] > sizes["MUM, no attention"]
    assert all(v in VARIANTS for t in TABLE_VARIANTS.values() for v in t.values())


def test_loss_has_the_three_terms_of_eq16_and_reaches_only_the_output_through_the_loss_network():
    torch.manual_seed(0)
    net = MSANet(MSANetConfig.ci())
    x, v = torch.rand(2, 3, 64, 64), _valid(2, 64, (16, 40, 16, 40))
    loss, terms = msanet_loss(net, x, v)
    assert set(terms) == {"l2", "perceptual", "style", "loss"}
    expected = terms["l2"] + 0.001 * terms["perceptual"] + 250 * terms["style"]
    assert torch.allclose(loss.detach(), expected)
    loss.backward()
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)


def test_the_loss_network_is_frozen_so_feature_terms_reach_the_weights_only_through_the_output():
    import copy

    import torch.nn.functional as F
    from inpaintlib.papers.msanet import LOSS_FEATURES

    torch.manual_seed(0)
    net = MSANet(MSANetConfig.ci())
    x, v = torch.rand(2, 3, 64, 64), _valid(2, 64, (16, 40, 16, 40))
    params = list(net.parameters())
    w = {"l2": 0.0, "perceptual": 1.0, "style": 100.0}  # the feature terms alone
    loss, _ = msanet_loss(net, x, v, w)
    got = torch.autograd.grad(loss, params, allow_unused=True)

    def feature_terms(loss_net):  # Eq. 12 and Eq. 15 on the filled image, features by ``loss_net``
        out = net(x, v)
        ones = torch.ones_like(v)
        _, f_gt = loss_net(x, ones, return_features=True, check=False)
        _, f_out = loss_net(v * x + (1 - v) * out, ones, return_features=True, check=False)
        return (sum(F.mse_loss(f_out[k], f_gt[k].detach()) for k in LOSS_FEATURES)
                + w["style"] * sum((gram(f_out[k]) - gram(f_gt[k].detach())).abs().mean() for k in LOSS_FEATURES))

    frozen = torch.autograd.grad(feature_terms(copy.deepcopy(net).requires_grad_(False)), params, allow_unused=True)
    live = torch.autograd.grad(feature_terms(net), params, allow_unused=True)  # the loss network trained too

    def close(a, b):
        return all((p is None and q is None) or (p is not None and q is not None and torch.allclose(p, q, atol=1e-7))
                   for p, q in zip(a, b))
    assert close(got, frozen)
    assert not close(got, live)  # the two readings differ here, so the first assertion can tell them apart


def test_gram_is_normalised_by_hwc():
    f = torch.ones(1, 2, 3, 4)
    assert torch.allclose(gram(f), torch.full((1, 2, 2), 12 / 24))


def test_registry_builds_msanet_and_scales_change_only_size_and_widths():
    assert paper_model("msanet").size_multiple(MSANetConfig.ci()) == 8
    assert isinstance(build_model("msanet", dataclasses.asdict(MSANetConfig.ci())), MSANet)
    changed = set(MSANetConfig.ci().changes_from_paper())
    assert changed <= {"image_size", "fe_widths", "msau_mid", "msau_out", "branch_channels", "iru_widths"}
    assert msanet_training("paper").train.lr == 3e-4 and msanet_training("paper").train.batch_size == 16


def test_paper_configuration_parameter_count():
    assert MSANet(MSANetConfig.paper()).num_parameters() == 3_787_590


def test_repeated_rows_tie_tables_2_to_5_together():
    rep = checks.repeated_rows()
    assert len(rep) == 3
    assert "Table 2 'MSAG' = Table 3 'No-MUM'" in set(rep["printed as"])


def test_table6_cells_where_msanet_is_not_best():
    miss = checks.table6_not_best()
    assert set(zip(miss.dataset, miss.metric, miss.column)) == {
        ("Places2", "SSIM", "Fixed"), ("CelebA", "PSNR", "(0.01, 0.1]"), ("CelebA", "PSNR", "(0.1, 0.2]")}


def test_two_stage_training_refines_at_the_papers_second_rate(tmp_path):
    """Sect. 4: train at 3e-4, then refine at 1e-4: the first 80% of the steps in ``stage1``, the rest after it."""
    import json

    from inpaintlib.data import SampleScenes
    from inpaintlib.papers.msanet import msanet_training, train_msanet

    cfg = dataclasses.replace(MSANetConfig.ci(), image_size=32)
    recipe = msanet_training("paper", steps=5, batch_size=2, log_every=1, eval_every=None, ckpt_every=None,
                             device="cpu")
    model, history = train_msanet(cfg, recipe, SampleScenes("train", 32, length=8), tmp_path, progress=False)
    stage1 = json.loads((tmp_path / "stage1" / "model.json").read_text())
    final = json.loads((tmp_path / "model.json").read_text())
    assert (stage1["step"], stage1["train_config"]["lr"]) == (4, 3e-4)
    assert (final["step"], final["train_config"]["lr"]) == (1, 1e-4)
    from safetensors.torch import load_file

    w1, w2 = load_file(tmp_path / "stage1" / "model.safetensors"), load_file(tmp_path / "model.safetensors")
    assert any(not torch.equal(w1[k], w2[k]) for k in w1)  # the refinement stage changed the weights
