"""Behaviour of DeepGIN's blocks and network (Li et al. 2020, Sect. 4.1, Figs. 2-3, Table 1)."""
from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from inpaintlib.layers.nonlocal_attention import NonLocalBlock
from inpaintlib.layers.resblocks import DilatedResBlock, SPDResBlock, StandardResBlock, resnet_block
from inpaintlib.papers.deepgin import (PAPER_TABLE1, PAPER_TABLE1_PARAMS, TABLE1_VARIANTS, DeepGINConfig,
                                       DeepGINDiscriminator, DeepGINNet, hinge_d_loss, hinge_g_loss,
                                       table1_parameter_string)
from inpaintlib.registry import build_model, paper_model

#: Our parameter counts of Table 1's variants, exact (the paper prints them rounded to 1e3).
EXACT_COUNTS = {
    "StdResBlk (Coarse only)": 8_167_843,
    "StdResBlk": 40_849_990,
    "StdResBlk-SA": 41_375_558,
    "StdResBlk-MSSA": 42_892_134,
    "DilatedResBlk-MSSA": 42_892_134,
    "SPDResBlk-MSSA": 42_892_134,
    "SPDResBlk-MSSA-BP": 42_930_186,
}


def _meta_net(cfg: DeepGINConfig) -> DeepGINNet:
    with torch.device("meta"):  # shapes and counts without allocating or computing
        return DeepGINNet(cfg)


def _valid(n=2, size=64, box=(10, 40, 20, 50)):
    v = torch.ones(n, 1, size, size)
    r0, r1, c0, c1 = box
    v[..., r0:r1, c0:c1] = 0
    return v


# ------------------------------------------------------------------------------------------------ Table 1
def test_table1_lists_the_seven_variants_in_order():
    assert list(TABLE1_VARIANTS) == list(PAPER_TABLE1_PARAMS) == list(PAPER_TABLE1)


@pytest.mark.parametrize("name", list(TABLE1_VARIANTS))
def test_table1_parameter_count_matches_the_printed_digits(name):
    n = _meta_net(DeepGINConfig.variant(name)).num_parameters()
    assert table1_parameter_string(n) == PAPER_TABLE1_PARAMS[name]
    assert n == EXACT_COUNTS[name]


def test_variants_differ_only_in_their_switches():
    full = DeepGINConfig.variant("SPDResBlk-MSSA-BP")
    assert full == DeepGINConfig.paper()
    std = DeepGINConfig.variant("StdResBlk")
    assert set(std.changes_from_paper()) == {"block", "attention", "back_projection"}
    ci_std = DeepGINConfig.variant("StdResBlk", base=DeepGINConfig.ci())
    assert ci_std.refine_widths == DeepGINConfig.ci().refine_widths and ci_std.block == "standard"
    with pytest.raises(ValueError, match="unknown Table 1 variant"):
        DeepGINConfig.variant("SPDResBlk-XL")


# ----------------------------------------------------------------------------------------------- blocks
@pytest.mark.parametrize("channels,dilations", [(256, (1, 2, 3, 4, 5, 6, 8, 10)), (512, (2, 3, 4, 5)), (16, (1, 3))])
def test_spd_block_has_exactly_the_parameters_of_a_standard_block(channels, dilations):
    with torch.device("meta"):
        spd, std = SPDResBlock(channels, dilations), StandardResBlock(channels)
        dil = DilatedResBlock(channels)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(spd) == count(std) == count(dil)
    branches = spd.first.branches
    assert [b.dilation[0] for b in branches] == list(dilations)
    assert all(b.in_channels == channels and b.out_channels == channels // len(dilations) for b in branches)


def test_spd_block_with_unit_dilations_is_a_standard_block_with_its_first_conv_split_by_output_channels():
    torch.manual_seed(0)
    std = StandardResBlock(8)
    spd = SPDResBlock(8, dilations=(1, 1, 1, 1))
    with torch.no_grad():
        for k, b in enumerate(spd.first.branches):
            b.weight.copy_(std.first.weight[2 * k:2 * k + 2])
            b.bias.copy_(std.first.bias[2 * k:2 * k + 2])
        spd.conv2.load_state_dict(std.conv2.state_dict())
    x = torch.randn(2, 8, 12, 12)
    torch.testing.assert_close(spd(x), std(x))


def test_spd_block_refuses_a_width_that_does_not_split_equally():
    with pytest.raises(ValueError, match="cannot be split equally"):
        SPDResBlock(30, (1, 2, 3, 4))
    with pytest.raises(ValueError, match="block kind"):
        resnet_block("deformable", 8)


def _reach(block: nn.Module, size: int = 41) -> int:
    """Largest distance (in pixels, Chebyshev) from the centre at which an input pixel changes the centre output."""
    x = torch.randn(1, block.channels, size, size, requires_grad=True)
    block(x)[0, :, size // 2, size // 2].sum().backward()
    ys, xs = torch.nonzero(x.grad.abs().sum(dim=(0, 1)) > 0, as_tuple=True)
    return int(torch.maximum((ys - size // 2).abs(), (xs - size // 2).abs()).max())


def test_spd_block_reaches_as_far_as_its_largest_dilation_and_a_standard_block_two_pixels():
    torch.manual_seed(0)
    assert _reach(StandardResBlock(8, padding_mode="zeros")) == 2
    assert _reach(DilatedResBlock(8, padding_mode="zeros")) == 3
    assert _reach(SPDResBlock(8, (1, 2, 3, 4, 5, 6, 8, 10), padding_mode="zeros")) == 11


def test_non_local_block_starts_as_identity_and_its_attention_rows_sum_to_one():
    torch.manual_seed(0)
    x = torch.randn(2, 8, 5, 6)
    blk = NonLocalBlock(8)
    assert blk.inner_channels == 4
    torch.testing.assert_close(blk(x), x)
    a = blk.attention(x)
    assert a.shape == (2, 30, 30)
    torch.testing.assert_close(a.sum(-1), torch.ones(2, 30))
    assert not torch.allclose(NonLocalBlock(8, zero_init=False)(x), x)


# ------------------------------------------------------------------------------------------------ shapes
def test_ci_forward_returns_all_outputs_with_their_shapes_and_trains():
    torch.manual_seed(0)
    net = DeepGINNet(DeepGINConfig.ci())
    image, valid = torch.rand(2, 3, 64, 64), _valid()
    out = net(image, valid, return_all=True)
    assert out.output.shape == out.coarse.shape == out.before_bp.shape == (2, 3, 64, 64)
    assert out.lowres.shape == (2, 3, 16, 16) and out.bp_weight.shape == (2, 1, 64, 64)
    assert bool(((out.bp_weight > 0) & (out.bp_weight < 1)).all())
    loss = (out.output - image).abs().mean() + (out.coarse - image).abs().mean() + out.lowres.abs().mean()
    loss.backward()
    assert all(p.grad is not None for n, p in net.named_parameters() if not n.endswith("out.weight"))
    torch.testing.assert_close(net(image, valid), out.output)


def test_ci_forward_is_cheap_enough_for_a_cpu_notebook():
    net = DeepGINNet(DeepGINConfig.ci())
    with FlopCounterMode(display=False) as fc:
        net(torch.rand(1, 3, 64, 64), _valid(1))
    assert fc.get_total_flops() < 0.25e9  # about 0.18 GFLOP per 64 px image


def test_back_projection_composites_the_known_pixels_then_adds_the_weighted_residual():
    # the authors' code: C = M * I_out' + (1 - M) * I, I_out = C + w * up4(I_lr - down4(C)), bilinear, aligned corners
    torch.manual_seed(0)
    net = DeepGINNet(DeepGINConfig.ci())
    image, valid = torch.rand(2, 3, 64, 64), _valid()
    with torch.no_grad():
        o = net(image, valid, return_all=True)
    assert torch.equal(o.before_bp * valid, image * valid)
    down = torch.nn.functional.interpolate(o.before_bp, size=(16, 16), mode="bilinear", align_corners=True)
    up = torch.nn.functional.interpolate(o.lowres - down, size=(64, 64), mode="bilinear", align_corners=True)
    torch.testing.assert_close(o.output, o.before_bp + o.bp_weight * up)
    assert float((o.output - o.before_bp).abs().max()) > 1e-3  # the residual is not nothing at initialisation


def test_paper_config_shapes_and_multi_scale_attention_at_16_32_64():
    net = _meta_net(DeepGINConfig.paper())
    seen = []
    for m in net.modules():
        if isinstance(m, NonLocalBlock):
            m.register_forward_hook(lambda mod, inp, out: seen.append((out.shape[1], out.shape[-1])))
    with torch.device("meta"):
        coarse, none = net.coarse(torch.empty(1, 4, 256, 256))
        out, extras = net.refine(torch.empty(1, 4, 256, 256), torch.empty(1, 3, 256, 256),
                                 torch.empty(1, 1, 256, 256))
    assert coarse.shape == out.shape == (1, 3, 256, 256) and none == {}
    assert extras["lowres"].shape == (1, 3, 64, 64)
    assert sorted(seen) == [(64, 64), (128, 32), (512, 16)]  # (channels, side): SA at 16, 32 and 64 px


def test_coarse_only_variant_returns_the_coarse_output():
    torch.manual_seed(0)
    cfg = DeepGINConfig.variant("StdResBlk (Coarse only)", base=DeepGINConfig.ci())
    net = DeepGINNet(cfg)
    assert net.refine is None and cfg.size_multiple == 8
    out = net(torch.rand(1, 3, 24, 24), _valid(1, 24, (4, 12, 4, 12)), return_all=True)
    assert out.output is out.coarse and out.lowres is None


# -------------------------------------------------------------------------------------------- known pixels
def test_hole_content_never_reaches_the_network():
    torch.manual_seed(0)
    net = DeepGINNet(DeepGINConfig.ci())
    image, valid = torch.rand(2, 3, 64, 64), _valid()
    other = image * valid + torch.rand_like(image) * (1 - valid)  # same known pixels, different hole content
    torch.testing.assert_close(net(image, valid), net(other, valid), rtol=0, atol=0)


def test_g1_sees_holes_filled_with_one_and_the_hole_channel_and_the_composite_keeps_known_pixels():
    torch.manual_seed(0)
    net = DeepGINNet(DeepGINConfig.ci())
    image, valid = torch.rand(2, 3, 64, 64), _valid()
    seen = {}
    net.coarse.stem.register_forward_hook(lambda m, inp, out: seen.update(g1=inp[0]))
    net.refine.stem.register_forward_hook(lambda m, inp, out: seen.update(g2=inp[0]))
    comp = net.composite(image, valid)
    g1 = seen["g1"]
    assert torch.equal(g1[:, 3:], 1 - valid)  # M: 1 = hole (Sect. 3)
    assert torch.equal(g1[:, :3], image * valid + (1 - valid))  # I_in: holes filled with 1 (authors' code)
    assert torch.equal(seen["g2"][:, 3:], 1 - valid)
    assert torch.equal(comp * valid, image * valid)
    assert float(comp.detach().min()) >= 0 and float(comp.detach().max()) <= 1


def test_g2_input_is_the_raw_coarse_output_or_with_the_authors_option_the_composite():
    torch.manual_seed(0)
    image, valid = torch.rand(1, 3, 64, 64), _valid(1)
    for mode in ("coarse", "composite"):
        net = DeepGINNet(dataclasses.replace(DeepGINConfig.ci(), g2_input=mode))
        seen = {}
        net.refine.stem.register_forward_hook(lambda m, inp, out: seen.update(x=inp[0]))
        out = net(image, valid, return_all=True)
        rgb = seen["x"][:, :3]
        if mode == "coarse":
            assert torch.equal(rgb, out.coarse)
        else:
            assert torch.equal(rgb * valid, image * valid) and torch.equal(rgb * (1 - valid), out.coarse * (1 - valid))


def test_bad_masks_and_sizes_are_refused_with_the_convention_named():
    net = DeepGINNet(DeepGINConfig.ci())
    image = torch.rand(1, 3, 64, 64)
    with pytest.raises(ValueError, match="1 = known"):
        net(image, torch.full((1, 1, 64, 64), 0.5))
    with pytest.raises(ValueError, match="multiples of 16"):
        net(torch.rand(1, 3, 40, 40), torch.ones(1, 1, 40, 40))
    with pytest.raises(ValueError, match="block must be"):
        dataclasses.replace(DeepGINConfig.ci(), block="gated")


# -------------------------------------------------------------------------------------- registry and D
def test_registry_rebuilds_the_network_from_a_json_config():
    cfg = dataclasses.replace(DeepGINConfig.ci(), g2_input="composite", block="dilated")
    as_json = json.loads(json.dumps(dataclasses.asdict(cfg)))  # tuples become lists, as in a sidecar
    torch.manual_seed(1)
    net = build_model("deepgin", as_json)
    assert isinstance(net, DeepGINNet) and net.config == cfg
    torch.manual_seed(1)
    ref = DeepGINNet(cfg)
    for (k, a), (k2, b) in zip(ref.state_dict().items(), net.state_dict().items()):
        assert k == k2 and torch.equal(a, b)
    spec = paper_model("deepgin")
    assert spec.size_multiple(DeepGINConfig.paper()) == 16


def test_discriminators_see_input_and_image_at_two_scales_with_spectral_norm():
    torch.manual_seed(0)
    d = DeepGINDiscriminator()
    a, b = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
    outs = d(a, b)
    assert [o.shape for o in outs] == [(2, 256, 19, 19), (2, 256, 11, 11)]  # ~H/4 and ~H/8 (padding 2 adds 1 a layer)
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 8 and all(hasattr(c, "parametrizations") for c in convs)
    with pytest.raises(ValueError):
        d(a, b[:, :, :32])
    real, fake = [torch.full((1, 1, 2, 2), 2.0)], [torch.full((1, 1, 2, 2), -2.0)]
    assert float(hinge_d_loss(real, fake)) == 0.0  # both beyond the margin
    assert float(hinge_d_loss(fake, real)) == 6.0  # relu(1 + 2) + relu(1 + 2)
    assert float(hinge_g_loss(real)) == -2.0


def test_table1_steps_are_the_added_parts():
    groups = {name: _meta_net(DeepGINConfig.variant(name)).parameter_groups() for name in TABLE1_VARIANTS}
    for name, g in groups.items():
        assert sum(g.values()) == EXACT_COUNTS[name]
    assert groups["StdResBlk-SA"]["G2 SA (bottleneck)"] == 525_568  # one non-local block on 512 channels
    assert groups["StdResBlk-MSSA"]["G2 MSSA skips and mixing"] == 1_516_576
    # the authors' layout: I_lr = 3x3 128 -> 32, 3x3 32 -> 3; the weight map = 3x3 32 -> 1 on the full-size features
    assert groups["SPDResBlk-MSSA-BP"]["G2 back projection"] == (9 * 128 * 32 + 32) + (9 * 32 * 3 + 3) + (9 * 32 + 1)
    assert "G2 encoder" not in groups["StdResBlk (Coarse only)"]


def test_smaller_initialisation_scales_the_resblocks_or_with_the_authors_option_every_conv():
    torch.manual_seed(0)
    image, valid = torch.rand(1, 3, 64, 64), _valid(1)
    base = dataclasses.replace(DeepGINConfig.ci(), output_bias=0.0)  # the paper's zero biases
    def heads(cfg):  # what the networks' RGB heads give (G2's output itself is composited with the known pixels)
        o = DeepGINNet(cfg)(image, valid, return_all=True)
        return torch.cat([o.coarse.flatten(), o.lowres.flatten()])

    with torch.no_grad():
        ours = heads(base)
        theirs = heads(dataclasses.replace(base, init_scope="all"))
        grey = heads(dataclasses.replace(base, init_scope="all", output_bias=0.5))
    assert float(ours.std()) > 1e-3
    assert float(theirs.abs().max()) < 1e-5  # ~11 plain convs each x 0.1: the signal starts vanishingly small
    assert torch.allclose(grey, torch.full_like(grey, 0.5), atol=1e-4)  # ci's RGB heads start at mid-grey


def test_architecture_table_lists_every_parameter_once_with_output_sizes():
    from inpaintlib.papers.deepgin import architecture_table

    rows = architecture_table(DeepGINConfig.paper())
    assert sum(r["parameters"] for r in rows) == EXACT_COUNTS["SPDResBlk-MSSA-BP"]
    by_name = {r["layer"]: r for r in rows}
    assert by_name["refine.lr_head.2"]["output size"] == "64x64"  # I_lr at 1/4
    assert by_name["refine.bp_weight_head"]["output size"] == "256x256"  # the weight map at full size
    assert [r["dilation"] for r in rows if r["layer"].startswith("coarse.blocks.0.first")] == [1, 2, 3, 4, 5, 6, 8, 10]


def test_receptive_fields_show_the_reach_and_the_gaps_of_dilation():
    from inpaintlib.papers.deepgin.receptive_field import block_stack, gradient_support, theoretical_support

    std, dil, spd = (block_stack(k, 2) for k in ("standard", "dilated", "spd"))
    t_std, t_dil, t_spd = (theoretical_support(s) for s in (std, dil, spd))
    assert t_std.shape == (9, 9) and bool(t_std.all())  # two 3x3+3x3 blocks: a full 9x9 square
    assert t_dil.shape == (13, 13) and bool(t_dil.all())  # the undilated second conv fills dilation 2's gaps
    assert t_spd.shape == (45, 45)  # reach 2 x (10 + 1)
    one_spd = theoretical_support(block_stack("spd", 1))
    assert 0.5 < float(one_spd.float().mean()) < 0.6  # one 8-rate SPD block: gaps (e.g. offset (10, 3))
    assert not bool(one_spd[11 + 10, 11 + 3]) and bool(one_spd[11 + 10, 11 + 1])
    assert 0.85 < float(t_spd.float().mean()) < 0.9 and bool(theoretical_support(block_stack("spd", 6)).all())
    g = gradient_support(spd)
    c = g.shape[-1] // 2
    r = t_spd.shape[-1] // 2
    assert bool((g[c - r:c + r + 1, c - r:c + r + 1][~t_spd] == 0).all())  # nothing outside the theoretical support
    assert float(g[c - r:c + r + 1, c - r:c + r + 1][t_spd].gt(0).float().mean()) > 0.9


# ------------------------------------------------------------------------------------------ recipe, losses
def test_recipe_paper_values_and_ci_changes():
    from inpaintlib.papers.deepgin import PAPER_LOSS_WEIGHTS, changes_from_paper, deepgin_training

    p = deepgin_training("paper")
    assert PAPER_LOSS_WEIGHTS == {"hole": 5.0, "valid": 1.0, "adv": 0.001, "perceptual": 0.05, "style": 80.0,
                                  "tv": 0.1}
    assert (p.train.lr, p.train.d_lr, p.train.betas[0], p.train.batch_size) == (1e-4, 4e-4, 0.5, 12)
    assert p.warmup_steps * 10 == p.train.steps == 100 * 27_000 // 4
    # Sect. 5.1: the initial rates for 10 of the 100 main epochs, then linearly to zero
    assert (p.train.lr_schedule, p.train.decay_start) == ("linear", 0.1)
    assert p.train.lr_factor(p.train.steps // 10 - 1) == 1.0 and p.train.lr_factor(p.train.steps - 1) < 1e-3
    ci = deepgin_training("ci")
    assert ci.train.lr_schedule == "constant"  # changed at ci: 50 adversarial steps
    changed = changes_from_paper(ci)
    assert "train.steps" in changed and "vgg_backbone" in changed
    assert changed["loss_weights"] == (PAPER_LOSS_WEIGHTS, {**PAPER_LOSS_WEIGHTS, "style": 0.0})  # only style differs
    with pytest.raises(ValueError, match="scale"):
        deepgin_training("huge")


def _tiny_recipe(**kw):
    from inpaintlib.papers.deepgin import deepgin_training

    from inpaintlib.papers.deepgin import PAPER_LOSS_WEIGHTS

    return dataclasses.replace(deepgin_training("ci"), **{"loss_weights": dict(PAPER_LOSS_WEIGHTS), **kw})


def test_loss_terms_of_eq7_and_the_warmup_uses_l1_only():
    from inpaintlib.papers.deepgin import DeepGINLoss
    from inpaintlib.papers.deepgin.recipe import WARMUP_WEIGHTS

    torch.manual_seed(0)
    net, x, v = DeepGINNet(DeepGINConfig.ci()), torch.rand(2, 3, 64, 64), _valid(2)
    disc = DeepGINDiscriminator(widths=(8, 8, 8, 8))
    loss, terms = DeepGINLoss(_tiny_recipe(), disc=disc)(net, x, v)
    assert set(terms) == {"l1_coarse", "l1_out", "l1_lr", "adv", "perceptual", "style", "tv", "loss"}
    w = {"hole": 5.0, "valid": 1.0, "adv": 0.001, "perceptual": 0.05, "style": 80.0, "tv": 0.1}
    expect = (terms["l1_coarse"] + terms["l1_out"] + terms["l1_lr"] + w["adv"] * terms["adv"]
              + w["perceptual"] * terms["perceptual"] + w["style"] * terms["style"] + w["tv"] * terms["tv"])
    assert torch.allclose(loss.detach(), expect, rtol=1e-5)
    wl, wt = DeepGINLoss(_tiny_recipe(), WARMUP_WEIGHTS)(net, x, v)
    assert set(wt) == {"l1_coarse", "l1_out", "l1_lr", "loss"} and wl.requires_grad


def test_l1_of_eq1_weights_the_hole_five_times():
    from inpaintlib.papers.deepgin.recipe import l1_eq1

    gt, v = torch.zeros(1, 3, 8, 8), torch.ones(1, 1, 8, 8)
    v[..., :4, :] = 0  # half hole
    out = torch.ones_like(gt)
    assert float(l1_eq1(out, gt, v, 5.0)) == pytest.approx(0.5 * 5 + 0.5 * 1)


def test_discriminator_loss_sees_real_and_completed_images():
    from inpaintlib.papers.deepgin import DeepGINDLoss

    torch.manual_seed(0)
    net, disc = DeepGINNet(DeepGINConfig.ci()), DeepGINDiscriminator(widths=(8, 8, 8, 8))
    loss, terms = DeepGINDLoss()(net, disc, torch.rand(2, 3, 64, 64), _valid(2))
    loss.backward()
    assert set(terms) == {"real", "fake"} and all(p.grad is not None for p in disc.parameters())
    assert all(p.grad is None for p in net.parameters())  # the generator is frozen in the D step


# ------------------------------------------------------------------------------------------------ test time
@pytest.mark.parametrize("factor", [1, 2, 3])
def test_subimage_split_round_trip_is_exact_and_polyphase(factor):
    from inpaintlib.papers.deepgin import merge_subimages, split_subimages

    x = torch.rand(2, 3, 12, 18)
    s = split_subimages(x, factor)
    assert s.shape == (2 * factor ** 2, 3, 12 // factor, 18 // factor)
    assert torch.equal(merge_subimages(s, factor), x)
    i, j = factor - 1, 0  # sub-image (i, j) of image 1
    assert torch.equal(s[factor ** 2 + i * factor + j], x[1, :, i::factor, j::factor])
    with pytest.raises(ValueError, match="multiples"):
        split_subimages(torch.rand(1, 3, 7, 8), 2)


def test_subimage_predict_of_an_identity_is_the_identity_at_any_size():
    from inpaintlib.papers.deepgin import subimage_predict

    x = torch.rand(1, 3, 100, 130)
    v = torch.ones(1, 1, 100, 130)
    seen = []

    def ident(img, val):
        seen.append(img.shape)
        return img
    assert torch.equal(subimage_predict(ident, x, v, size=50), x)
    assert seen[0][0] == 9  # factor round(130 / 50) = 3 -> 9 sub-images


def test_ensemble_of_an_equivariant_map_equals_the_map_and_undoes_each_transform():
    from inpaintlib.papers.deepgin import ENSEMBLE_TRANSFORMS, ensemble_predict

    x, v = torch.rand(2, 3, 16, 16), _valid(2, 16, (2, 9, 3, 12))
    assert torch.allclose(ensemble_predict(lambda i, m: i * m, x, v), x * v)
    for fwd, inv in ENSEMBLE_TRANSFORMS.values():
        assert torch.equal(inv(fwd(x)), x)
    # a map that is not equivariant (adds a ramp along x) is averaged over the five orientations
    ramp = torch.arange(16.0).expand(16, 16)
    out = ensemble_predict(lambda i, m: i + ramp, x, v)
    assert not torch.allclose(out, x + ramp)


def test_ci_ablation_runs_all_seven_table1_variants_in_the_warmup_stage():
    from inpaintlib.papers.deepgin import TABLE1_VARIANTS
    from inpaintlib.papers.deepgin.ablation import (CI_ABLATION_BATCH, CI_ABLATION_STEPS, CI_VARIANTS,
                                                    ablation_recipe)

    assert list(CI_VARIANTS) == list(TABLE1_VARIANTS) and len(CI_VARIANTS) == 7  # every Table 1 row (issue 9)
    recipe, adversarial = ablation_recipe("ci")
    assert not adversarial and recipe.warmup_steps == CI_ABLATION_STEPS and recipe.train.batch_size == CI_ABLATION_BATCH
    assert ablation_recipe("paper")[1]  # larger scales run both stages


def test_ci_main_stage_runs_at_the_papers_rates_after_a_faster_warm_up_and_demo_keeps_one_rate():
    from inpaintlib.papers.deepgin.recipe import CI_LR, changes_from_paper, deepgin_training

    ci, demo, paper = deepgin_training("ci"), deepgin_training("demo"), deepgin_training("paper")
    assert ci.train.lr == CI_LR and ci.main_lr == paper.train.lr == 1e-4  # Sect. 5.1's rate in the main stage
    assert demo.main_lr is None and demo.train.lr == CI_LR  # as the shipped demo model was trained
    assert "main_lr" in changes_from_paper(ci)


# ------------------------------------------------------------------------- Sect. 5.1: training batch formation
class _WholeImages(torch.utils.data.Dataset):
    """``n`` smooth random training images of 520 x 500 px (whole images, not yet resized), one per item."""

    def __init__(self, n: int = 3, h: int = 520, w: int = 500):
        g = torch.Generator().manual_seed(7)
        low = torch.rand(n, 3, 6, 6, generator=g)
        self.x = nn.functional.interpolate(low, size=(h, w), mode="bilinear", align_corners=False).clamp(0, 1)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i]


def _phases_of_the_512_resize(image: torch.Tensor) -> list[torch.Tensor]:
    """The four sub-images of Sect. 5.1, built by hand: the 512 x 512 resize's pixels ``[i::2, j::2]``."""
    from inpaintlib.data import resize_image

    x = resize_image(image, 512)
    return [x[:, i::2, j::2] for i in range(2) for j in range(2)]


def test_sect51_sub_image_is_one_polyphase_phase_of_the_512_resize():
    import numpy as np

    from inpaintlib.papers.deepgin import SubSampledImages, deepgin_subimage

    image = _WholeImages(1)[0]
    phases = _phases_of_the_512_resize(image)
    drawn = set()
    for s in range(12):
        out = deepgin_subimage(image, np.random.default_rng(s))
        k = int(np.random.default_rng(s).integers(0, 4))  # the phase (i, j) = divmod(k, 2) drawn from the same rng
        assert out.shape == (3, 256, 256) and torch.equal(out, phases[k])
        drawn.add(k)
    assert drawn == {0, 1, 2, 3}  # every phase is drawn, not a crop of one corner
    ds = SubSampledImages(_WholeImages(3), seed=1)
    for i in range(3):
        assert torch.equal(ds[i], ds[i])  # the same sub-image for the same index (exact resume)
        assert any(torch.equal(ds[i], p) for p in _phases_of_the_512_resize(_WholeImages(3)[i]))


def _record_batches(monkeypatch):
    """The ``(image, valid)`` batches DeepGIN's generator loss sees during training."""
    from inpaintlib.papers.deepgin import recipe as R

    seen, real = [], R.DeepGINLoss.__call__

    def spy(self, model, image, valid):
        seen.append((image.detach().clone(), valid.detach().clone()))
        return real(self, model, image, valid)
    monkeypatch.setattr(R.DeepGINLoss, "__call__", spy)
    return seen


def test_a_paper_batch_holds_each_image_three_times_under_the_three_mask_types(tmp_path, monkeypatch):
    import numpy as np

    from inpaintlib.masks import aim_box_mask, aim_free_form_mask, brush_stroke_mask, cellular_automaton_mask
    from inpaintlib.papers.deepgin import deepgin_training, train_deepgin

    paper = deepgin_training("paper")
    assert (paper.batch_formation, paper.free_form, paper.train.batch_size) == ("sect51", "deepfill_v2", 12)
    seen = _record_batches(monkeypatch)
    # the paper recipe at 2 images x 3 types, one warm-up update; a ci-sized network (the batches do not depend on it)
    recipe = dataclasses.replace(deepgin_training("paper", steps=1, batch_size=6, device="cpu", log_every=1,
                                                  eval_every=None, ckpt_every=None), warmup_steps=1)
    data = _WholeImages(3)
    train_deepgin(DeepGINConfig.ci(), recipe, data, tmp_path, progress=False, resume=False, adversarial=False)
    (image, valid), = seen
    assert image.shape == (6, 3, 256, 256) and valid.shape == (6, 1, 256, 256)
    for j in range(2):  # image j of the update: elements 3j, 3j+1, 3j+2
        group = image[3 * j:3 * j + 3]
        assert torch.equal(group[0], group[1]) and torch.equal(group[0], group[2])
        assert any(torch.equal(group[0], p) for x in data.x for p in _phases_of_the_512_resize(x))
        # the three types, rebuilt from the image's seeded generator ([seed, step, image], inpaintlib.train)
        rng = np.random.default_rng([recipe.train.seed, 0, j])
        box, ca, ff = (aim_box_mask(256, 256, rng), cellular_automaton_mask(256, 256, rng),
                       brush_stroke_mask(256, 256, rng))
        for m, expected in enumerate((box, ca, ff)):
            assert np.array_equal(valid[3 * j + m, 0].numpy(), expected)
        rows, cols = np.nonzero(box == 0)  # the rectangle: its hole fills its bounding box, sides 30-70%
        assert (box[rows.min():rows.max() + 1, cols.min():cols.max() + 1] == 0).all()
        assert 0.3 * 256 - 1 <= rows.max() - rows.min() + 1 <= 0.7 * 256 + 1
        rng = np.random.default_rng([recipe.train.seed, 0, j])
        for gen in (aim_box_mask, cellular_automaton_mask):
            gen(256, 256, rng)
        assert not np.array_equal(ff, aim_free_form_mask(256, 256, rng))  # DeepFill v2's strokes, not AIM's
    assert not torch.equal(image[0], image[3])


def test_ci_and_demo_keep_their_crops_and_one_aim_mask_per_image(tmp_path, monkeypatch):
    from inpaintlib.chapter import run_context
    from inpaintlib.data import SampleScenes
    from inpaintlib.masks import GENERATORS
    from inpaintlib.papers.deepgin import EveryMaskType, SubSampledImages, deepgin_training, train_deepgin
    from inpaintlib.papers.deepgin import recipe as R
    from inpaintlib.papers.deepgin.recipe import changes_from_paper

    for scale in ("ci", "demo"):
        r = deepgin_training(scale)
        assert (r.batch_formation, r.free_form, r.train_load_size) == ("crop", "aim", None)
        changed = changes_from_paper(r)
        assert changed["batch_formation"] == ("sect51", "crop") and changed["free_form"] == ("deepfill_v2", "aim")
    with pytest.raises(ValueError, match="free_form"):
        dataclasses.replace(deepgin_training("ci"), free_form="brush")
    import numpy as np

    from inpaintlib.papers.deepgin.masks import one_mask_type
    for s in range(6):  # one type per image: AIM's draw, with the free-form generator chosen
        assert np.array_equal(one_mask_type(32, 32, np.random.default_rng(s), "aim"),
                              GENERATORS["aim"](32, 32, np.random.default_rng(s)))
    # what reaches the training loop: ci the dataset itself and inpaintlib.masks.aim_mask, as before; paper the
    # Sect. 5.1 sub-images and every mask type
    calls = []

    def record(build, loss_fn, dataset, mask_fn, config, out_dir, **kw):
        calls.append((dataset, mask_fn, config.batch_size))
        return build(), None
    monkeypatch.setattr(R, "train_model", record)
    data = _WholeImages(2)
    train_deepgin(DeepGINConfig.ci(), deepgin_training("ci"), data, tmp_path, adversarial=False)
    train_deepgin(DeepGINConfig.ci(), deepgin_training("paper"), data, tmp_path, adversarial=False)
    (ci_data, ci_masks, ci_batch), (paper_data, paper_masks, paper_batch) = calls
    assert ci_data is data and ci_masks is GENERATORS["aim"] and ci_batch == 8
    assert isinstance(paper_data, SubSampledImages) and paper_data.base is data and paper_batch == 12
    assert paper_masks == EveryMaskType("deepfill_v2") and paper_masks.masks_per_image == 3
    # ci's training set is the 64 px sample-scene crops it always was
    monkeypatch.setenv("INPAINTLIB_DATA", str(tmp_path / "data"))
    d = run_context("deepgin", "ci", masks_per_bucket=1, test_images=1).split()
    assert repr(d.train) == repr(SampleScenes("train", 64, seed=0)) and d.train[0].shape == (3, 64, 64)


def test_the_paper_scale_training_notebook_path_trains_on_whole_512_px_images(tmp_path, monkeypatch):
    """03_training at paper scale with the paper-scale smoke run's knobs (batch 1): the run context opens the
    training images whole at 512 px, and the training function cuts a sub-image and masks it (one warm-up update; a
    ci-sized network, cheap enough for a unit test; the paper network runs in the smoke run)."""
    import sys
    from pathlib import Path

    from inpaintlib.chapter import run_context
    from inpaintlib.papers.deepgin import describe, train_deepgin

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from fake_datasets import make_fake_root

    monkeypatch.setenv("INPAINTLIB_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("INPAINTLIB_ARTIFACTS", str(tmp_path / "artifacts"))
    root = make_fake_root(tmp_path / "datasets", names=("celeba_hq",))
    run = run_context("deepgin", "paper", data_root=root, smoke=True, device="cpu", max_steps=1, warmup_steps=1,
                      batch_size=1, datasets=1, vgg_backbone="random")
    recipe = run.cap(run.recipe)
    assert recipe.train_load_size == 512 and "polyphase 256 px" in describe(run.config, recipe)
    seen = _record_batches(monkeypatch)
    splits = run.data()
    d = splits["celeba_hq"]
    assert d.train[0].shape == (3, 512, 512) and d.test_images.shape[-1] == 256
    out = train_deepgin(DeepGINConfig.ci(), recipe, d.train, run.out("celeba_hq"), **d.training_eval(),
                        resume=run.resume, progress=False, adversarial=False)
    (image, valid), = seen
    assert image.shape == (1, 3, 256, 256) and valid.shape == (1, 1, 256, 256)
    assert out["warmup"][1].train["loss"].notna().all()


def test_back_projection_count_is_derived_from_the_layout_and_fits_table1s_printed_step():
    from inpaintlib.papers.deepgin.architecture import bp_derivation

    bp = bp_derivation()
    assert bp["derived"] == bp["model"] == (9 * 128 * 32 + 32) + (9 * 32 * 3 + 3) + (9 * 32 + 1)
    assert bp["lo"] <= bp["derived"] <= bp["hi"] and "lies inside" in bp["text"]
