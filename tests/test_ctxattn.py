"""Behaviour of the contextual attention layer (Yu et al. 2018; Charef & Ouqour 2024, Fig. 2, Eq. 1) and of the
CtxAttn chapter's network, critics and recipe."""
from __future__ import annotations

import pytest
import torch

from inpaintlib.layers import ContextualAttention

DISPLACEMENT = (12, 12)  # copy = source shifted by this (a multiple of rate)


def _copy_paste_scene(seed: int = 0):
    """Random texture; the block at rows/cols 4..15 copied to 16..27; a hole at rows/cols 20..23 inside the copy."""
    g = torch.Generator().manual_seed(seed)
    img = torch.rand(1, 3, 32, 32, generator=g)
    dy, dx = DISPLACEMENT
    img[..., 4 + dy:16 + dy, 4 + dx:16 + dx] = img[..., 4:16, 4:16]
    valid = torch.ones(1, 1, 32, 32)
    valid[..., 20:24, 20:24] = 0
    return img, valid


def test_copy_paste_attention_points_to_the_source_block_and_hard_attention_reconstructs_it_exactly():
    img, valid = _copy_paste_scene()
    layer = ContextualAttention(rate=2, fuse=False, hard=True)
    out, d = layer(img, img * valid, valid, return_details=True)
    hole = valid[0, 0] == 0
    assert torch.allclose(out[0][:, hole], img[0][:, hole], atol=1e-5)
    # the low-resolution positions over the hole (rows/cols 10..11) point back by the displacement
    off = d.offsets[0, :, 10:12, 10:12]
    assert torch.equal(off[0], torch.full((2, 2), -float(DISPLACEMENT[0])))
    assert torch.equal(off[1], torch.full((2, 2), -float(DISPLACEMENT[1])))


def test_copy_paste_offsets_survive_fuse_and_the_soft_reconstruction_is_close():
    img, valid = _copy_paste_scene(1)
    out, d = ContextualAttention(rate=2, fuse=True, softmax_scale=50.0, exclusion="neg_inf")(
        img, img * valid, valid, return_details=True)
    assert torch.equal(d.offsets[0, :, 10:12, 10:12], torch.full((2, 2, 2), -12.0))
    hole = valid[0, 0] == 0
    assert (out[0][:, hole] - img[0][:, hole]).abs().mean() < 0.05


@pytest.mark.parametrize("exclusion", ["zero", "neg_inf"])
def test_patches_that_touch_the_hole_get_no_weight(exclusion):
    img, valid = _copy_paste_scene()
    _, d = ContextualAttention(exclusion=exclusion)(img, img, valid, return_details=True)  # hole content visible
    unusable = d.usable[0] == 0
    assert unusable.sum() > 0 and (d.attention[0][:, unusable] == 0).all()
    # a hole position matches itself best (identical content, as well as the source), but itself is excluded
    h, w = d.grid
    p = 10 * w + 10
    assert torch.isclose(d.fused[0, p, p], d.fused[0, p].max())
    assert d.attention[0, p, p] == 0 and d.attention[0, p].argmax() == (10 - 6) * w + (10 - 6)


def test_zero_exclusion_leaves_missing_mass_and_neg_inf_exclusion_sums_to_one():
    img, valid = _copy_paste_scene()
    img = img * 0.02  # weak features: a nearly flat softmax, so the excluded patches' exp(0) mass shows
    _, dz = ContextualAttention(exclusion="zero")(img, img * valid, valid, return_details=True)
    _, dn = ContextualAttention(exclusion="neg_inf")(img, img * valid, valid, return_details=True)
    assert torch.allclose(dn.attention.sum(-1), torch.ones(1, 256), atol=1e-5)
    assert (dz.attention.sum(-1) < 1 - 1e-4).all() and dz.attention.sum(-1).mean() < 0.999


def test_no_usable_patch_gives_zero_weights_not_nan():
    x = torch.rand(1, 4, 8, 8)
    for exclusion in ("zero", "neg_inf"):
        out, d = ContextualAttention(exclusion=exclusion)(x, x, torch.zeros(1, 1, 8, 8), return_details=True)
        assert torch.isfinite(out).all() and (d.attention == 0).all() and (out == 0).all()


def test_fuse_sums_the_scores_of_matching_neighbours():
    layer = ContextualAttention(fuse=True, fuse_k=3)
    h, w = 3, 4
    s = torch.randn(2, h * w, h * w)
    got = layer._fuse(s, h, w)
    s4 = s.reshape(2, h, w, h, w)
    want = torch.zeros_like(s4)
    for fy in range(h):
        for fx in range(w):
            for by in range(h):
                for bx in range(w):
                    for dy in (-1, 0, 1):
                        for dx in (-1, 0, 1):
                            a, b, c, e = fy + dy, fx + dx, by + dy, bx + dx
                            if 0 <= a < h and 0 <= b < w and 0 <= c < h and 0 <= e < w:
                                want[:, fy, fx, by, bx] += s4[:, a, b, c, e]
    assert torch.allclose(got, want.reshape(2, h * w, h * w), atol=1e-5)


@pytest.mark.parametrize("rate", [1, 2, 4])
def test_output_has_the_input_shape_and_details_the_matching_grid(rate):
    x = torch.rand(2, 5, 16, 24)
    valid = torch.ones(2, 1, 16, 24)
    valid[:, :, 4:10, 6:14] = 0
    out, d = ContextualAttention(rate=rate)(x, None, valid, return_details=True)
    h, w = 16 // rate, 24 // rate
    assert out.shape == x.shape and d.grid == (h, w)
    assert d.attention.shape == (2, h * w, h * w) and d.offsets.shape == (2, 2, h, w)


def test_gradients_reach_foreground_and_background():
    f = torch.rand(1, 4, 16, 16, requires_grad=True)
    b = torch.rand(1, 4, 16, 16, requires_grad=True)
    valid = torch.ones(1, 1, 16, 16)
    valid[..., 4:10, 4:10] = 0
    ContextualAttention()(f, b, valid).square().sum().backward()
    assert f.grad.abs().sum() > 0 and b.grad.abs().sum() > 0
    assert torch.isfinite(f.grad).all() and torch.isfinite(b.grad).all()


def test_bad_inputs_are_refused_with_a_clear_message():
    x = torch.rand(1, 3, 15, 16)
    with pytest.raises(ValueError, match="multiples of rate"):
        ContextualAttention(rate=2)(x, x, torch.ones(1, 1, 15, 16))
    with pytest.raises(ValueError, match="binary"):
        ContextualAttention()(torch.rand(1, 3, 16, 16), None, torch.full((1, 1, 16, 16), 0.5))
    with pytest.raises(ValueError, match="exclusion"):
        ContextualAttention(exclusion="mask")


# ------------------------------------------------------------------------------------- losses and critics
def test_spatial_discount_is_gamma_to_the_distance_from_the_known_region():
    from inpaintlib.losses import spatial_discount

    v = torch.ones(1, 1, 12, 12)
    v[..., 2:9, 3:10] = 0  # 7 x 7 hole
    w = spatial_discount(v, gamma=0.5)[0, 0]
    assert (w[v[0, 0] == 1] == 0).all()
    assert w[2, 3] == 1 and w[3, 4] == 0.5 and w[5, 6] == 0.5 ** 3  # centre of the 7 x 7 hole: distance 4


def test_gradient_penalty_is_zero_for_a_unit_gradient_critic_and_ignores_pixels_outside_the_weight():
    from inpaintlib.losses import gradient_penalty

    real, fake = torch.rand(3, 3, 8, 8), torch.rand(3, 3, 8, 8)
    lin = torch.zeros(3, 8, 8)
    lin[0, 0, 0] = 1.0  # D(x) = x[0, 0, 0]: gradient of norm 1 at one pixel

    def critic(x):
        return (x * lin).flatten(1).sum(1)
    assert gradient_penalty(critic, real, fake) < 1e-8
    hole = torch.ones(3, 1, 8, 8)
    hole[..., 0, 0] = 0  # the only pixel with gradient is outside the weight: norm 0, penalty 1
    assert torch.isclose(gradient_penalty(critic, real, fake, hole), torch.tensor(1.0))


def test_wgan_losses_are_differences_of_mean_scores():
    from inpaintlib.losses import wgan_d_loss, wgan_g_loss

    r, f = torch.tensor([2.0, 4.0]), torch.tensor([1.0, 0.0])
    assert wgan_d_loss([r, r], [f, f]) == 2 * (0.5 - 3.0)
    assert wgan_g_loss(f) == -0.5


def test_wgan_critic_has_the_reference_layers_and_one_score_per_image():
    from inpaintlib.layers import WGANCritic

    c = WGANCritic(3, (4, 8, 16), input_size=32)
    convs = [m for m in c.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [m.kernel_size for m in convs] == [(5, 5)] * 3 and all(m.stride == (2, 2) for m in convs)
    assert c(torch.rand(2, 3, 32, 32)).shape == (2,)
    with pytest.raises(ValueError, match="expects"):
        c(torch.rand(2, 3, 16, 16))


def test_hole_crops_contain_the_hole_and_keep_images_differentiable():
    from inpaintlib.papers.ctxattn import hole_crops

    v = torch.ones(2, 1, 32, 32)
    v[0, :, 2:6, 25:31] = 0
    v[1, :, 10:30, 0:5] = 0
    img = torch.rand(2, 3, 32, 32, requires_grad=True)
    crop, hole = hole_crops(v, 16, img)
    assert crop.shape == (2, 3, 16, 16) and hole.shape == (2, 1, 16, 16)
    assert torch.allclose(hole.flatten(1).sum(1) > 0, torch.tensor([True, True]))
    crop.sum().backward()
    assert img.grad.abs().sum() > 0


# ------------------------------------------------------------------------------------------- network
from inpaintlib.papers.ctxattn import (CtxAttnConfig, CtxAttnNet, ctxattn_training, build_critic,  # noqa: E402
                                       critic_loss, generator_loss)
from inpaintlib.papers.ctxattn import architecture as A  # noqa: E402


def _batch(n=2, s=64):
    x = torch.rand(n, 3, s, s)
    v = torch.ones(n, 1, s, s)
    v[..., s // 4:s // 2, s // 3:2 * s // 3] = 0
    return x, v


def test_paper_configuration_parameter_count_is_pinned():
    # DeepFill v1's layout (book/reference_implementations.md), c = 32, dilations 2/4/8/16, summed by hand from
    # k*k*in*out + out per convolution: coarse 1,448,227 + dilated branch 880,480 + attention branch 695,968 (4c from
    # its second stride-2 convolution on) + decoder 576,867. The paper prints no count.
    net = CtxAttnNet(CtxAttnConfig.paper())
    assert net.num_parameters() == 1_448_227 + 880_480 + 695_968 + 576_867 == 3_601_542
    derived = A.parameter_derivation(net).groupby(level="stage", sort=False)["parameters"].sum()
    assert derived.to_dict() == {"1 coarse": 1_448_227, "2 conv branch": 880_480, "2 attention branch": 695_968,
                                 "2 decoder": 576_867}
    widths = {r["layer"]: r["out"] for r in net.architecture_table()}
    assert (widths["r_conv4"], widths["r_att4"]) == (64, 128)  # the branches differ at their second stride 2


def test_generator_returns_both_stages_in_unit_range_and_keeps_known_pixels_in_the_composite():
    torch.manual_seed(0)
    net = CtxAttnNet(CtxAttnConfig.ci())
    x, v = _batch()
    st = net(x, v, return_stages=True)
    for k in ("coarse", "refined", "output"):
        assert st[k].shape == x.shape and st[k].min() >= 0 and st[k].max() <= 1
    assert st["attention"].grid == (8, 8)  # 64 px -> 16 x 16 features -> 8 x 8 matching grid
    comp = net.composite(x, v)
    assert torch.equal(comp[v.expand_as(x) == 1], x[v.expand_as(x) == 1])


def test_holes_never_enter_the_generator():
    torch.manual_seed(0)
    net = CtxAttnNet(CtxAttnConfig.ci())
    x, v = _batch()
    y = x.clone()
    y[(v == 0).expand_as(y)] = torch.rand(int((v == 0).sum()) * 3)
    assert torch.allclose(net(x, v), net(y, v))


@pytest.mark.parametrize("change,has_attention", [({"refine": False}, False), ({"attention": False}, False),
                                                  ({"ca_fuse": False}, True), ({"ca_exclusion": "neg_inf"}, True)])
def test_ablation_switches_build_working_networks(change, has_attention):
    import dataclasses

    net = CtxAttnNet(dataclasses.replace(CtxAttnConfig.ci(), **change))
    st = net(*_batch(1), return_stages=True)
    assert (st["attention"] is not None) == has_attention and st["output"].shape == (1, 3, 64, 64)
    names = [r["layer"] for r in net.architecture_table()]
    assert ("contextual attention" in names) == has_attention


def test_bad_sizes_and_masks_are_refused():
    net = CtxAttnNet(CtxAttnConfig.ci())
    with pytest.raises(ValueError, match="multiples of 8"):
        net(torch.rand(1, 3, 60, 60), torch.ones(1, 1, 60, 60))
    with pytest.raises(ValueError, match="binary"):
        net(torch.rand(1, 3, 64, 64), torch.full((1, 1, 64, 64), 0.5))


def test_one_generator_and_one_critic_step_give_finite_losses_and_gradients():
    torch.manual_seed(0)
    rec = ctxattn_training("ci")
    net, critic = CtxAttnNet(CtxAttnConfig.ci()), build_critic(rec, 1)
    x, v = _batch()
    d_loss, d_terms = critic_loss(net, critic, x, v, rec.losses)
    d_loss.backward()
    assert set(d_terms) == {"wasserstein", "gp"} and torch.isfinite(d_loss)
    assert all(p.grad is not None for p in critic.parameters()) and all(p.grad is None for p in net.parameters())
    loss, terms = generator_loss(net, critic, x, v, rec.losses)
    loss.backward()
    assert {"l1_hole_coarse", "l1_hole_refined", "l1_known_coarse", "l1_known_refined", "g_adversarial"} <= set(terms)
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


def test_recipe_scales_change_only_what_they_say_and_register_the_model():
    from inpaintlib.papers.ctxattn import changes_from_paper
    from inpaintlib.registry import build_model

    p = ctxattn_training("paper").train
    assert (p.lr, p.betas, p.batch_size) == (1e-4, (0.5, 0.9), 16)
    assert p.d_steps == 5  # DeepFill v1: 5 critic updates per generator update (book/reference_implementations.md)
    ci = changes_from_paper(ctxattn_training("ci"))
    assert ci["train.d_steps"] == (5, 1)  # changed at ci: cost
    assert ctxattn_training("demo").train.d_steps == 1  # demo derives from ci
    assert "train.betas" not in ci and "losses.gamma" not in ci and "train.steps" in ci
    net = build_model("ctxattn", {"image_size": 64, "base_channels": 8, "dilations": [2, 4, 8]})
    assert isinstance(net, CtxAttnNet) and net.config == CtxAttnConfig.ci()


def test_paper_table1_claims_are_checked_against_the_table():
    from inpaintlib.papers.ctxattn import table1_checks

    t = table1_checks()
    assert (t["margin"] > 0).all()  # "Proposed" is best in every cell, as the text says
    psnr = t[t.metric == "PSNR"].set_index("mask")["margin"]
    assert psnr["40-50%"] < psnr["10-20%"]  # ... but not "especially at larger mask sizes" in PSNR


def test_copy_paste_figure_reports_exact_hard_reconstruction_on_a_photograph_like_texture():
    import matplotlib

    matplotlib.use("Agg")
    from inpaintlib.papers.ctxattn import figures as F

    g = torch.Generator().manual_seed(3)
    base = torch.nn.functional.avg_pool2d(torch.rand(1, 3, 66, 66, generator=g), 3, 1)  # smooth, 64 x 64
    img, valid = F.copy_paste_scene(base, (4, 4), (32, 36), 24, hole=8)
    _, num = F.copy_paste_figure(img, valid, (28, 32))
    assert num["hard_offset_share"] == 1.0 and num["hard_max_error"] < 1e-5


def test_nearest_mask_downsampling_can_miss_a_thin_stroke_that_any_pooling_excludes():
    x = torch.rand(1, 3, 16, 16)
    valid = torch.ones(1, 1, 16, 16)
    valid[..., 7, :] = 0  # a one-pixel stroke on an odd row: nearest (every 2nd row) never sees it
    _, dn = ContextualAttention(mask_downsample="nearest")(x, x, valid, return_details=True)
    _, da = ContextualAttention(mask_downsample="any")(x, x, valid, return_details=True)
    assert dn.usable.sum() == 64 and da.usable.sum() < 64


# ------------------------------------------------------------------------------------------- chapter helpers
def test_ci_recipe_keeps_the_critics_on_and_lists_each_ci_change():
    from inpaintlib.papers.ctxattn import changes_from_paper

    rec = ctxattn_training("ci")
    ch = changes_from_paper(rec)
    assert rec.adversarial  # the main ci run trains with the critics (issue 11)
    assert ch["losses.adversarial"] == (0.001, rec.losses.adversarial) and rec.losses.adversarial < 0.001
    assert ch["critic.base"] == (64, rec.critic.base) and ch["critic.image_size"] == (256, 64)
    assert {"losses.hole", "losses.known", "losses.gp", "losses.gamma"}.isdisjoint(ch)


def test_option_effects_show_neg_inf_sums_to_one_and_zero_masking_loses_mass_on_weak_features():
    import matplotlib

    matplotlib.use("Agg")
    from inpaintlib.papers.ctxattn import figures as F

    g = torch.Generator().manual_seed(0)
    img = torch.nn.functional.avg_pool2d(torch.rand(1, 3, 34, 34, generator=g), 3, 1)
    valid = torch.ones(1, 1, 32, 32)
    valid[..., 12:20, 12:20] = 0
    t = F.option_effects(img, valid, (8, 8))
    mass = t["mean weight mass over hole rows"]
    assert abs(mass["-inf masking"] - 1) < 1e-5 and abs(t.iloc[-1]["mean weight mass over hole rows"] - 1) < 1e-5
    assert t.iloc[-2]["mean weight mass over hole rows"] < 0.99  # zero-masking, weak features
    assert t.loc["hard (one-hot argmax)", "query peak weight"] == 1.0
    assert t.loc["softmax scale 100", "query peak weight"] > t.loc["softmax scale 1", "query peak weight"]


def test_attention_usage_counts_idle_hole_positions_per_bucket():
    from inpaintlib.papers.ctxattn import figures as F, table1_protocol

    torch.manual_seed(0)
    net = CtxAttnNet(CtxAttnConfig.ci()).eval()
    img = torch.rand(2, 3, 64, 64)
    small, big = torch.ones(1, 1, 64, 64), torch.ones(1, 1, 64, 64)
    small[..., 20:44, 20:44] = 0  # 14% hole: a box with usable patches all around
    big[..., 8:40, 0:58] = 0  # 45% hole
    u = F.attention_usage(net, img, torch.cat([small, big]), table1_protocol())
    assert list(u.index) == ["10-20%", "40-50%"]
    assert u.loc["10-20%", "hole rows with weight"] == 1.0
    assert u.loc["40-50%", "usable patches"] < u.loc["10-20%", "usable patches"]


def test_parameter_table_adds_up_and_follows_the_ablation_switches():
    import dataclasses

    from inpaintlib.papers.ctxattn import architecture as A

    net = CtxAttnNet(CtxAttnConfig.ci())
    t = A.parameter_table(net)
    assert t["parameters"].sum() == net.num_parameters() and t.loc["stage 2: contextual attention layer",
                                                                   "parameters"] == 0
    coarse = CtxAttnNet(dataclasses.replace(CtxAttnConfig.ci(), refine=False))
    assert list(A.parameter_table(coarse).index) == ["stage 1: coarse network"]


def test_ablation_verdict_compares_only_with_the_full_network_and_respects_the_spread():
    import pandas as pd

    from inpaintlib.papers.ctxattn import ablation_verdict

    rows = []
    for seed, noise in enumerate((0.0, 0.1)):
        for b in ("a", "b"):
            rows += [{"variant": "full", "seed": seed, "metric": "psnr", "bucket": b, "value": 20 + noise},
                     {"variant": "worse", "seed": seed, "metric": "psnr", "bucket": b, "value": 18 + noise},
                     {"variant": "same", "seed": seed, "metric": "psnr", "bucket": b, "value": 20 - noise}]
    v = ablation_verdict(pd.DataFrame(rows), "full", ["a", "b"])
    assert len(v.pairs) == 2 and set(v.pairs.a) | set(v.pairs.b) == {"full", "worse", "same"}
    verdicts = dict(zip(v.pairs.b, v.pairs.verdict))
    assert verdicts["worse"] == "agrees" and verdicts["same"] == "cannot tell at this scale"


def test_table1_frames_put_ours_and_the_papers_in_the_same_shape():
    import pandas as pd

    from inpaintlib.papers.ctxattn.evaluation import table1_frames

    labels = ["(0.1,0.2]", "(0.4,0.5]"]
    tab = pd.DataFrame(1.0, index=["psnr", "ssim", "l1", "n"], columns=labels + ["all"])
    ours, paper = table1_frames({"x": tab}, labels)
    assert list(ours.columns) == list(paper.columns) == ["10-20%", "40-50%"]
    assert set(ours.index.get_level_values(0)) == {"PSNR", "SSIM", "L1 (%)"}
    assert paper.loc[("PSNR", "Proposed (paper)"), "40-50%"] == 25.15
