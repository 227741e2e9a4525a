"""PMRFN's inpainting priorities and priority-guided mask update (Sect. 4.2.1, Eqs. 5-8) on constructed cases
whose answer is known, and the chapter's training-free figures."""
import math

import numpy as np
import pytest
import torch

from inpaintlib.layers import PartialConv2d, maxpool_mask_update
from inpaintlib.layers.priority import (PriorityMaskUpdate, border_normal, common_priority, contextual_residue,
                                        contour_striking, feature_gradient, hole_border, inpainting_priority,
                                        priority_mask_update)
from inpaintlib.masks import irregular_mask, to_tensor

H = W = 32


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """The priority and mask convolutions are tiny: on 2 threads they run many times slower than on 1."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def grid(h=H, w=W):
    yy, xx = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
    return xx, yy


def image(t):
    return t[None, None].expand(1, 3, *t.shape).clone()


def right_half_hole(h=H, w=W):
    v = torch.ones(1, 1, h, w)
    v[..., w // 2:] = 0
    return v


def random_valid(seed, n=3, size=W):
    rng = np.random.default_rng(seed)
    return to_tensor([irregular_mask(size, size, rng, hole_range=(0.1, 0.5)) for _ in range(n)])


def test_common_priority_counts_known_neighbours_with_borders_as_holes():
    v = torch.ones(1, 1, 5, 5)
    v[..., 2, 2] = 0
    c = common_priority(v)
    assert c[0, 0, 2, 2] == 8  # a one-pixel hole sees its 8 known neighbours
    assert c[0, 0, 0, 0] == 4  # a corner sees 4 pixels: outside the image counts as hole
    assert torch.equal(hole_border(v), 1 - v)


def test_straight_vertical_hole_edge_gives_a_horizontal_normal_pointing_into_the_known_region():
    v = right_half_hole()
    n = border_normal(v)
    border = hole_border(v)[0, 0] > 0
    assert border.sum() == H and bool(border[:, W // 2].all())  # the border is the first hole column
    nb = n[0][:, border]
    assert torch.allclose(nb[0], torch.full((H,), -1.0)) and torch.allclose(nb[1], torch.zeros(H))


def test_straight_horizontal_hole_edge_gives_a_vertical_normal():
    v = right_half_hole().transpose(2, 3)  # hole = bottom half
    n = border_normal(v)
    assert torch.allclose(n[0, :, H // 2, :], torch.tensor([0.0, -1.0]).view(2, 1).expand(2, W))
    assert torch.equal(n[0, :, 3, :], torch.zeros(2, W))  # no normal far from the border


@pytest.mark.parametrize("gradient", ["known", "zero_filled"])
def test_stripes_running_into_the_hole_strike_and_stripes_along_the_border_do_not(gradient):
    xx, yy = grid()
    v = right_half_hole()
    border = hole_border(v) > 0
    into = image(0.5 + 0.4 * torch.sin(1.3 * yy))  # edges perpendicular to the (vertical) border
    along = image(0.5 + 0.4 * torch.sin(1.3 * xx))  # edges parallel to it
    s_into = contour_striking(into, v, gradient=gradient)[border]
    s_along = contour_striking(along, v, gradient=gradient)[border]
    assert s_into.mean() > 0.05  # ("zero_filled" averages over a window two-thirds hole: about a third of "known")
    assert s_along.abs().max() < 1e-6


def test_contour_striking_is_the_vertical_slope_on_a_vertical_border_whatever_the_hole_holds():
    xx, yy = grid()
    v = right_half_hole()
    lin = image(0.01 * xx + 0.02 * yy)
    noisy = lin * v + torch.rand(1, 3, H, W) * (1 - v)  # the hole's content must not matter
    border = hole_border(v) > 0
    s = contour_striking(noisy, v)[border]
    assert torch.allclose(s, torch.full_like(s, 0.02), atol=1e-6)  # |n . (-gy, gx)| = |gy|
    g = feature_gradient(noisy, v)
    assert torch.allclose(g[0, 1][border[0, 0]], torch.full((H,), 0.02), atol=1e-6)


def test_known_pixel_gradients_and_priorities_never_see_the_hole_content():
    v = random_valid(8)
    x = torch.rand(3, 3, W, W, generator=torch.Generator().manual_seed(2))
    other = x * v + torch.rand(3, 3, W, W, generator=torch.Generator().manual_seed(3)) * (1 - v)
    assert torch.equal(feature_gradient(x, v), feature_gradient(other, v))
    for residue in (False, True):
        assert torch.equal(inpainting_priority(x, v, residue=residue), inpainting_priority(other, v, residue=residue))


def test_known_and_zero_filled_gradients_agree_away_from_the_hole_and_differ_beside_it():
    xx, yy = grid()
    v = torch.ones(1, 1, H, W)
    v[..., 10:20, 12:22] = 0
    x = image(0.5 + 0.3 * torch.sin(0.4 * xx + 0.3 * yy))
    gk = feature_gradient(x, v, gradient="known")
    gz = feature_gradient(x, v, gradient="zero_filled")
    far = 1 - torch.nn.functional.max_pool2d(1 - v, 5, 1, 2)  # no hole within 2 pixels
    far[..., [0, -1], :] = 0
    far[..., :, [0, -1]] = 0  # nor the image frame (one-sided there, replicated edges for Prewitt)
    far = far[0, 0] > 0
    assert torch.allclose(gk[0][:, far], gz[0][:, far], atol=1e-6)
    border = hole_border(v)[0, 0] > 0
    assert (gk - gz)[0][:, border].abs().max() > 0.05


def test_contextual_residue_of_a_constant_is_zero_with_and_without_a_hole():
    c = torch.full((1, 3, H, W), 0.7)
    v = random_valid(0, n=1)
    assert contextual_residue(c).abs().max() < 1e-6
    assert contextual_residue(c, v).abs().max() < 1e-6  # mask-normalised resampling: the hole does not leak
    assert contextual_residue(c, v, masked=False).abs().max() > 0.1  # as written, the hole's zeros leak in


def test_contextual_residue_of_a_linear_image_is_zero_away_from_the_frame_and_the_hole():
    xx, yy = grid()
    lin = image(0.01 * xx + 0.02 * yy)
    r = contextual_residue(lin)
    assert r[..., 2:-2, 2:-2].abs().max() < 1e-6
    assert r.abs().max() > 1e-3  # bilinear resampling clamps at the frame
    v = torch.ones(1, 1, H, W)
    v[..., 12:20, 12:20] = 0
    rm = contextual_residue(lin, v)
    assert rm[..., 2:8, 2:-2].abs().max() < 1e-6 and rm[..., 24:-2, 2:-2].abs().max() < 1e-6
    assert torch.equal(rm * (1 - v), torch.zeros_like(rm))


def test_inpainting_priority_is_zero_off_the_border_and_the_product_of_eq6_on_it():
    xx, yy = grid()
    v = random_valid(1, n=2)
    x = image(0.5 + 0.4 * torch.sin(0.7 * yy + 0.2 * xx)).expand(2, -1, -1, -1)
    q = inpainting_priority(x, v, residue=False)
    off = hole_border(v) == 0
    assert torch.equal(q[off], torch.zeros_like(q[off]))
    expect = common_priority(v) * contour_striking(x, v)
    on = ~off
    assert torch.allclose(q[on], expect[on])


def test_only_border_pixels_above_the_threshold_become_valid():
    # Stripes running into the hole in the top half, a flat image in the bottom half: only the top half of the
    # border has a priority, so with delta = 0.5 only (part of) the top half of the border fills, in one column.
    xx, yy = grid()
    stripes = torch.where(yy < H // 2, 0.5 + 0.4 * torch.sin(1.3 * yy), torch.full_like(yy, 0.5))
    v = right_half_hole()
    q = inpainting_priority(image(stripes), v, residue=False)
    new = priority_mask_update(v, q, delta=0.5)
    filled = (new - v)[0, 0] > 0
    border = hole_border(v)[0, 0] > 0
    assert filled.any() and not (filled & ~border).any()
    assert not filled[H // 2 + 1:].any()  # the flat half (zero priority) waits
    q_max = q.max()
    assert torch.equal(filled, border & (q[0, 0] >= 0.5 * q_max))
    assert filled.sum() < border.sum() // 2


def test_one_update_fills_only_hole_border_pixels_and_never_unfills_a_known_pixel():
    v = random_valid(2)
    x = torch.rand(3, 3, W, W, generator=torch.Generator().manual_seed(0))
    for residue in (False, True):
        q = inpainting_priority(x, v, residue=residue)
        for delta in (0.25, 0.5, 0.9, 1.0):
            new = priority_mask_update(v, q, delta)
            assert bool((new >= v).all())  # a known pixel stays known
            assert bool(((new - v) <= hole_border(v)).all())  # only border pixels change
            per_image = (new - v).flatten(1).sum(1)
            assert bool((per_image >= 1).all())  # the pixel at q_max always fills: the hole always shrinks


@pytest.mark.parametrize("delta", [0.0, -math.inf])
def test_threshold_zero_is_the_plain_partial_convolution_update(delta):
    v = random_valid(3)
    x = torch.rand(3, 3, W, W, generator=torch.Generator().manual_seed(1))
    q = inpainting_priority(x, v, residue=True)
    new = priority_mask_update(v, q, delta)
    assert torch.equal(new, maxpool_mask_update(v))
    _, pconv_valid = PartialConv2d(3, 4, 3, padding=1)(x * v, v)
    assert torch.equal(new, pconv_valid)


@pytest.mark.parametrize("residue", [False, True])  # Eq. 7's branch and Eq. 8's (residue of a constant: rounding)
@pytest.mark.parametrize("value", [0.3, 0.7, 17.0])
def test_a_flat_image_falls_back_to_the_plain_update(residue, value):
    v = random_valid(4, n=2)
    q = inpainting_priority(torch.full((2, 3, W, W), value), v, residue=residue)
    assert q.abs().max() == 0
    assert torch.equal(priority_mask_update(v, q, 0.5), maxpool_mask_update(v))


def test_update_refuses_bad_arguments():
    v = right_half_hole()
    q = torch.zeros_like(v)
    with pytest.raises(ValueError, match="delta must be <= 1"):
        priority_mask_update(v, q, delta=1.5)
    with pytest.raises(ValueError, match="shape"):
        priority_mask_update(v, q[..., :-1])
    with pytest.raises(ValueError, match="non-negative"):
        priority_mask_update(v, q - 1)
    with pytest.raises(ValueError, match="binary"):
        priority_mask_update(v * 0.5, q)
    with pytest.raises(ValueError, match="gradient must be one of"):
        feature_gradient(torch.rand(1, 3, 8, 8), gradient="sobel")


def test_priority_module_matches_the_functions_and_carries_no_gradient():
    v = random_valid(5, n=2)
    x = torch.rand(2, 4, W, W, requires_grad=True)
    new, q = PriorityMaskUpdate(residue=True)(x, v)
    assert not new.requires_grad and not q.requires_grad
    assert torch.equal(q, inpainting_priority(x.detach(), v, residue=True))
    assert torch.equal(new, priority_mask_update(v, q, 0.5))


def test_residue_gradients_pick_out_texture_that_plain_gradients_share_with_structure():
    from inpaintlib.papers.pmrfn.figures import texture_measure
    xx, yy = grid(128, 128)
    structure = 0.2 + 0.6 * torch.sigmoid((xx - 96) / 3.0)  # a smooth edge that survives at low resolution
    texture = 0.05 * torch.sin(2.0 * xx + 1.1 * yy) * (xx < 48)  # fine texture on the left only
    m = texture_measure(image((structure + texture).clamp(0, 1)), low_size=16)
    assert m["texture_share_residue"] > 0.95
    assert m["texture_share_plain"] < 0.7
    assert m["texture_share_gain"] > 0.3


def test_priority_update_never_shrinks_the_hole_faster_than_partial_convolution():
    from inpaintlib.papers.pmrfn.figures import mask_shrinkage
    xx, yy = grid(64, 64)
    img = image(0.5 + 0.3 * torch.sin(0.5 * xx) * torch.cos(0.3 * yy))
    v = random_valid(6, n=1, size=64)
    f = mask_shrinkage(img, v, n_stages=2, updates_per_stage=3)
    piv = f.pivot_table(index=["level", "stage"], columns="rule", values="hole_ratio")
    plain, prio = piv["partial conv (Eq. 1)"], piv["priority (Eq. 5)"]
    assert sorted(f["size"].unique()) == [8, 16, 32, 64]
    assert (prio >= plain - 1e-12).all()
    assert (prio.xs(0, level="stage") == plain.xs(0, level="stage")).all()
    assert (prio.groupby(level="level").diff().dropna() < 0).all()  # it shrinks at every stage
    same = mask_shrinkage(img, v, n_stages=2, updates_per_stage=3, delta=0.0)
    piv0 = same.pivot_table(index=["level", "stage"], columns="rule", values="hole_ratio")
    assert np.allclose(piv0["partial conv (Eq. 1)"], piv0["priority (Eq. 5)"])


def test_priority_panels_return_every_training_free_panel_and_consistent_numbers():
    from inpaintlib.papers.pmrfn.figures import priority_figure, priority_panels
    xx, yy = grid(64, 64)
    img = image(0.5 + 0.3 * torch.sin(0.5 * xx) * torch.cos(0.3 * yy))
    v = random_valid(7, n=1, size=64)
    r = priority_panels(img, v, low_size=8)
    p, n = r["panels"], r["numbers"]
    assert set(p) == set("abcdfghijk")
    assert p["b"].shape == (64, 64, 3) and p["f"].shape == (8, 8) and p["j"].shape == (64, 64)
    assert 0 < n["selected_h"] <= n["border_pixels"] and 0 < n["selected_f"] <= n["border_pixels_low"]
    assert n["high_both"] <= min(n["high_common"], n["high_striking"])
    assert 0 <= n["jaccard_h_j"] <= 1
    fig = priority_figure(r, img, v)
    assert len(fig.axes) == 10


# ------------------------------------------------------------------------------------------------ the network
def _tiny(**kw):
    import dataclasses
    from inpaintlib.papers.pmrfn import PMRFNConfig
    kw.setdefault("n_stages", 3)
    return dataclasses.replace(PMRFNConfig.ci(), image_size=32, widths=(4, 4, 8, 8), stem_width=4, head_width=4,
                               **kw)


def _net(seed=0, **kw):
    from inpaintlib.papers.pmrfn import PMRFNNet
    torch.manual_seed(seed)
    return PMRFNNet(_tiny(**kw)).eval()


def test_network_shapes_branch_resolutions_and_side_outputs():
    net = _net()
    img, v = torch.rand(2, 3, 32, 32), random_valid(1, n=2)
    t = net.trace(img, v)
    xs, vs = t["branches"]
    assert [x.shape[-1] for x in xs] == [32, 16, 8, 4] and [x.shape[1] for x in xs] == [4, 4, 8, 8]
    assert [m.shape[-1] for m in vs] == [32, 16, 8, 4]
    assert len(t["stages"]) == 3 and t["attention"].shape == (2, 16, 16)
    assert torch.allclose(t["attention"].sum(-1), torch.ones(2, 16))  # Eq. 3: softmax over j
    out, side = net(img, v, return_side=True)
    assert out.shape == (2, 3, 32, 32) and (out >= 0).all() and (out <= 1).all()
    assert {k: s.shape[-1] for k, s in side.items()} == {2: 16, 1: 8, 0: 4}
    with pytest.raises(ValueError, match="multiples of 8"):
        net(torch.rand(1, 3, 36, 36), torch.ones(1, 1, 36, 36))
    with pytest.raises(ValueError):
        net(img, 1 - v + 0.5)


def test_paper_config_is_hrnet_w32_with_six_stages_and_four_blocks():
    from inpaintlib.papers.pmrfn import MODEL, PMRFNConfig
    p = PMRFNConfig.paper()
    assert p.widths == (32, 64, 128, 256) and p.n_stages == 6 and p.blocks_per_stage == 4 and p.delta == 0.5
    assert MODEL.size_multiple(PMRFNConfig.ci()) == 8 and PMRFNConfig.ci().image_size % 8 == 0
    with pytest.raises(ValueError):
        PMRFNConfig(mrf_removed=6)


def test_hole_never_enters_the_network():
    net = _net()
    img, v = torch.rand(1, 3, 32, 32), random_valid(2, n=1)
    other = torch.where(v.bool().expand_as(img), img, torch.rand_like(img))
    with torch.no_grad():
        assert torch.equal(net(img, v), net(other, v))


def test_table2_flags_really_change_the_graph():
    from inpaintlib.layers import PartialConv2d as PC
    from inpaintlib.papers.pmrfn import TABLE2_FLAGS, MaskAwareFusion, PMRFNNet, table2_variant
    base = _tiny(n_stages=6)
    img, v = torch.rand(1, 3, 32, 32), random_valid(3, n=1)
    outs = {}
    for name in TABLE2_FLAGS:
        cfg = table2_variant(base, name)
        torch.manual_seed(0)
        net = PMRFNNet(cfg).eval()
        fusions = [f for f in net.fusions if isinstance(f, MaskAwareFusion)]
        n_pc = sum(isinstance(m, PC) for m in net.modules())
        if name in ("HRNet", "w/o PConv"):
            assert n_pc == 0 and net.stem.conv.in_channels == 4  # plain convs, mask as input
        else:
            assert n_pc > 0 and net.stem.conv.in_channels == 3
        assert (net.arf is None) == (name in ("HRNet", "w/o ARF"))
        removed = int(name[-1]) if name.startswith("w/o MRF") else 0
        assert len(fusions) == 5 - removed
        assert all(f.masked for f in fusions) == (name != "HRNet")
        with torch.no_grad():
            outs[name] = net(img, v)
    names = list(outs)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not torch.allclose(outs[a], outs[b]), (a, b)


def test_mrf_averages_only_over_the_sources_valid_at_each_pixel():
    """Eq. 9 on a hand example: two branches, identity paths; where both are valid the mean, where one is valid its
    value, where none is valid 0 and a hole."""
    from inpaintlib.papers.pmrfn import MaskAwareFusion
    f = MaskAwareFusion((1, 1))
    with torch.no_grad():
        f.paths[0][1].weight.fill_(1.0)
        f.paths[0][1].bias.zero_()
    fine = torch.tensor([[2.0, 4.0], [6.0, 8.0]])[None, None]
    coarse = torch.tensor([[10.0]])[None, None]
    v_fine = torch.tensor([[1.0, 0.0], [1.0, 0.0]])[None, None]
    for v_coarse, expect, known in ((torch.ones(1, 1, 1, 1), [[6.0, 10.0], [8.0, 10.0]], 1.0),
                                    (torch.zeros(1, 1, 1, 1), [[2.0, 0.0], [6.0, 0.0]], [[1.0, 0.0], [1.0, 0.0]])):
        xs, vs = f([fine, coarse], [v_fine, v_coarse])
        assert torch.allclose(xs[0][0, 0], torch.tensor(expect))
        assert torch.equal(vs[0][0, 0], torch.as_tensor(known).expand(2, 2))


def test_priority_pconv_fills_a_subset_of_plain_partial_convolution_and_the_hole_shrinks():
    from inpaintlib.papers.pmrfn import PriorityPConv
    torch.manual_seed(0)
    prio = PriorityPConv(3, 4, "priority", residue=True)
    plain = PriorityPConv(3, 4, "pconv", residue=True)
    plain.conv.load_state_dict(prio.conv.state_dict())
    xx, yy = grid()
    x, v = image(0.5 + 0.3 * torch.sin(0.7 * xx + 0.2 * yy)), random_valid(4, n=1)
    out_q, v_q = prio(x, v)
    out_p, v_p = plain(x, v)
    assert (v_q <= v_p).all() and (v_q >= v).all() and v_q.sum() > v.sum() and v_q.sum() < v_p.sum()
    assert torch.equal(out_q, out_p * v_q)  # the pixels Eq. 5 keeps as holes carry no features


def test_hole_shrinks_stage_by_stage_inside_the_network_and_slower_with_priorities():
    img, v = torch.rand(1, 3, 32, 32), random_valid(5, n=1)
    holes = {}
    for prio in (True, False):
        t = _net(priority=prio).trace(img, v)
        holes[prio] = [[1 - float(m.mean()) for m in st["blocks"][1]] for st in t["stages"]]
        finest = [h[0] for h in holes[prio]]
        assert all(b <= a for a, b in zip(finest, finest[1:]))
    assert holes[True][0][0] > holes[False][0][0]  # after stage 1, at 32 px
    assert holes[True][0][0] < 1 - float(v.mean())


def test_losses_follow_eqs_11_to_15_and_the_recipe_keeps_the_printed_betas():
    from inpaintlib.papers.pmrfn import (PAPER_BETAS, PAPER_LOSS_WEIGHTS, build_discriminator, d_loss, pmrfn_loss,
                                         pmrfn_training)
    paper = pmrfn_training("paper")
    assert paper.train.betas == PAPER_BETAS == (0.001, 0.99) and paper.train.lr == 1e-4 and paper.train.batch_size == 4
    assert PAPER_LOSS_WEIGHTS == {"rec": 20.0, "mrec": 20.0, "adv": 1.0}
    net = _net()
    disc = build_discriminator(pmrfn_training("ci"), 0)
    img, v = torch.rand(2, 3, 32, 32), random_valid(8, n=2)
    loss, terms = pmrfn_loss(net, disc, img, v)
    assert set(terms) >= {"rec", "mrec", "mrec_0", "mrec_1", "mrec_2", "adv", "loss"}
    expect = 20 * terms["rec"] + 20 * terms["mrec"] + terms["adv"]
    assert torch.allclose(loss.detach(), expect) and torch.allclose(terms["mrec"], terms["mrec_0"] + terms["mrec_1"]
                                                                   + terms["mrec_2"])
    loss.backward()
    assert net.head[0].weight.grad is not None
    dl, dterms = d_loss(net, disc, img, v)
    assert dl.item() > 0 and "d_adv" in dterms


def test_ci_ablation_runs_every_table2_row_on_32px_crops_with_the_ci_network():
    import dataclasses

    from inpaintlib.papers.pmrfn import (CI_ABLATION_ROWS, TABLE2_FLAGS, PMRFNConfig, PMRFNNet, ablation_config,
                                         ablation_recipe, table2_variant)
    assert set(CI_ABLATION_ROWS) == set(TABLE2_FLAGS) and len(CI_ABLATION_ROWS) == 7  # every row (issue 10)
    cfg = ablation_config("ci")
    assert cfg.image_size == 32 and cfg.image_size % cfg.size_multiple == 0  # the lowest branch is 4 x 4
    assert dataclasses.replace(cfg, image_size=64) == PMRFNConfig.ci()  # only the crop changes
    assert ablation_config("paper") == PMRFNConfig.paper()
    rec = ablation_recipe("ci")
    assert (rec.train.steps, rec.train.batch_size, rec.train.eval_every) == (30, 4, None)
    img, v = torch.rand(1, 3, 32, 32), random_valid(5, n=1)
    for name in ("HRNet", "Full-Fledged"):
        with torch.no_grad():
            assert PMRFNNet(table2_variant(cfg, name)).eval()(img, v).shape == (1, 3, 32, 32)


def test_table2_repeats_are_found_in_any_metric_and_counted_by_significant_digits():
    from inpaintlib.chapter import repeated_values
    from inpaintlib.papers.pmrfn import tables

    rep = tables.table2_repeats()
    psnr = rep[rep.metric == "psnr"].iloc[0]
    assert set(psnr.rows.split("; ")) == {"w/o ARF", "w/o MRF 3"} and psnr["significant digits"] == 5
    made_up = {"fid": {"a": (7.5, 1.0), "b": (7.5, 2.0), "c": (7.25, 3.0)}}
    found = repeated_values(made_up, ["x", "y"])
    assert found[["bucket", "value", "significant digits", "rows"]].values.tolist() == [["x", 7.5, 2, "a; b"]]
