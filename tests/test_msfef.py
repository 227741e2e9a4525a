"""Behaviour of the MSFEF module and network (Sarkar et al. 2023, Sect. 3.2, Fig. 2, Table 2)."""
from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from inpaintlib.layers import MSFEFModule, PartialConv2d
from inpaintlib.papers.msfef import MSFEFConfig, MSFEFNet


def _hole_mask(n, h, w, box):
    v = torch.ones(n, 1, h, w)
    r0, r1, c0, c1 = box
    v[..., r0:r1, c0:c1] = 0
    return v


def _mask_update_reference(valid, k, stride):
    """Eq. 2 written independently: a window is valid if it holds any known pixel; borders are holes."""
    p = k // 2
    return (F.max_pool2d(F.pad(valid, (p, p, p, p), value=0.0), k, stride) > 0).float()


def test_msfef_output_is_zero_where_the_3x3_branch_mask_is_zero():
    torch.manual_seed(0)
    mod = MSFEFModule(4, 6, stride=2)
    x = torch.randn(2, 4, 32, 32)
    valid = _hole_mask(2, 32, 32, (6, 26, 6, 26))
    out, new_valid, branches = mod(x, valid, return_branches=True)
    m3, m7 = branches[3][1], branches[7][1]
    ring = (m3 == 0) & (m7 == 1)  # reached by the 7x7 branch but not by the 3x3 branch
    assert ring.any(), "test needs positions that only the larger kernels reach"
    # the 7x7 branch does respond there, so the zeros come from the gating, not from the branch
    assert branches[7][0].abs().sum(dim=1, keepdim=True)[ring].min() > 0
    assert torch.all(out.abs().sum(dim=1, keepdim=True)[m3 == 0] == 0)
    assert out.abs().sum(dim=1, keepdim=True)[m3 == 1].min() > 0


def test_msfef_output_mask_equals_the_3x3_partial_convolution_mask():
    torch.manual_seed(1)
    mod = MSFEFModule(3, 5, stride=2)
    valid = (torch.rand(1, 1, 40, 40) > 0.85).float()
    _, new_valid = mod(torch.rand(1, 3, 40, 40), valid)
    assert torch.equal(new_valid, _mask_update_reference(valid, 3, 2))
    assert not torch.equal(new_valid, _mask_update_reference(valid, 7, 2))  # the choice of branch matters


def test_msfef_fusion_weights_are_learnable_and_shaped_1xCx1x1():
    mod = MSFEFModule(3, 7, stride=1)
    ws = list(mod.fusion)
    assert len(ws) == 3 and all(w.shape == (1, 7, 1, 1) and w.requires_grad for w in ws)
    params = {id(p) for p in mod.parameters()}
    assert all(id(w) in params for w in ws)
    x, valid = torch.rand(2, 3, 12, 12), _hole_mask(2, 12, 12, (3, 8, 3, 8))
    out, _ = mod(x, valid)
    out.square().sum().backward()
    assert all(w.grad is not None and w.grad.abs().sum() > 0 for w in ws)
    # fused output is the weighted sum of the branch outputs, gated by the 3x3 mask (Sect. 3.2.2)
    with torch.no_grad():
        for w, s in zip(mod.fusion, (0.5, -1.0, 2.0)):
            w.fill_(s)
        out, m3, br = mod(x, valid, return_branches=True)
        expected = (0.5 * br[3][0] - 1.0 * br[5][0] + 2.0 * br[7][0]) * m3
    assert torch.allclose(out, expected, atol=1e-6)


def test_no_msfef_flag_gives_single_3x3_pconv_stages_of_the_same_width():
    cfg = dataclasses.replace(MSFEFConfig.ci(), use_msfef=False)
    net, ref = MSFEFNet(cfg), MSFEFNet(MSFEFConfig.ci())
    assert not any(isinstance(m, MSFEFModule) for m in net.modules())
    assert len(ref.msfef_modules()) == 4
    for a, b in zip(net.encoder, ref.encoder):
        assert isinstance(a.conv, PartialConv2d) and a.conv.kernel_size == (3, 3) and a.conv.stride == (2, 2)
        assert a.conv.out_channels == b.conv.out_channels and a.conv.in_channels == b.conv.in_channels
    s = cfg.image_size
    x, valid = torch.rand(2, 3, s, s), _hole_mask(2, s, s, (s // 4, s // 2, s // 4, s // 2))
    assert net(x, valid).shape == (2, 3, s, s)


def test_paper_config_has_table2_shapes():
    cfg = MSFEFConfig.paper()
    assert cfg.image_size == 256 and cfg.depth == 8 and cfg.n_msfef == 4
    assert cfg.encoder_widths == (64, 128, 256, 512, 512, 512, 512, 512)
    assert cfg.decoder_widths == (512, 512, 512, 512, 256, 128, 64, 3)
    # the paper's geometry, with narrow widths so the 256x256 forward is cheap
    small = MSFEFNet(dataclasses.replace(cfg, encoder_widths=(4, 6, 8, 8, 8, 8, 8, 8))).eval()
    x, valid = torch.rand(1, 3, 256, 256), _hole_mask(1, 256, 256, (60, 180, 40, 200))
    stages = small.encode(x, valid)
    assert [tuple(s["features"].shape[-2:]) for s in stages] == [(256 // 2 ** i,) * 2 for i in range(1, 9)]
    assert [s["name"] for s in stages] == [f"MSFEF{i}" for i in range(1, 5)] + [f"PConv{i}" for i in range(1, 5)]
    assert small(x, valid).shape == (1, 3, 256, 256)
    # full widths: decoder input channels = upsampled + skip (Table 2, Concat1..Concat8)
    net = MSFEFNet(cfg)
    ins = [(d.in_channels, d.skip_channels, d.conv.out_channels) for d in net.decoder]
    assert ins == [(512, 512, 512), (512, 512, 512), (512, 512, 512), (512, 512, 512),
                   (512, 256, 256), (256, 128, 128), (128, 64, 64), (64, 3, 3)]
    norms = [type(s.norm).__name__ for s in net.encoder]
    assert norms == ["InstanceNorm2d"] * 7 + ["BatchNorm2d"]


def test_paper_parameter_count_equals_the_sum_from_table2():
    # Table 2 (appendix) typed in here: (kernels, in channels, out channels, norm)
    enc = [((7, 5, 3), 3, 64, "IN"), ((7, 5, 3), 64, 128, "IN"), ((7, 5, 3), 128, 256, "IN"),
           ((7, 5, 3), 256, 512, "IN"), ((3,), 512, 512, "IN"), ((3,), 512, 512, "IN"), ((3,), 512, 512, "IN"),
           ((3,), 512, 512, "BN")]
    dec = [((3,), 1024, 512, "BN")] * 4 + [((3,), 768, 256, "BN"), ((3,), 384, 128, "BN"),
                                           ((3,), 192, 64, "BN"), ((3,), 67, 3, None)]
    expected = 0
    for ks, cin, cout, norm in enc + dec:
        expected += sum(k * k * cin * cout + cout for k in ks)  # weights + bias per branch (Eq. 1)
        if len(ks) > 1:
            expected += len(ks) * cout  # one 1x1xC fusion weight per branch (Sect. 3.2.2)
        if norm:
            expected += 2 * cout  # affine IN/BN (our choice: norm_affine=True)
    assert MSFEFNet(MSFEFConfig.paper()).num_parameters() == expected


def test_ci_config_forward_backward():
    torch.manual_seed(0)
    cfg = MSFEFConfig.ci()
    net = MSFEFNet(cfg)
    s = cfg.image_size
    x, valid = torch.rand(2, 3, s, s), _hole_mask(2, s, s, (s // 4, s // 2, s // 8, s // 2))
    out = net(x, valid)
    assert out.shape == (2, 3, s, s) and torch.isfinite(out).all()
    ((out - x) ** 2).mean().backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    for name in ("image_size", "encoder_widths"):
        assert name in cfg.changes_from_paper()
    assert set(cfg.changes_from_paper()) <= {"image_size", "encoder_widths"}


def test_hole_content_does_not_reach_the_output():
    torch.manual_seed(0)
    net = MSFEFNet(MSFEFConfig.ci()).eval()
    s = net.config.image_size
    x, valid = torch.rand(1, 3, s, s), _hole_mask(1, s, s, (4, 20, 6, 24))
    y = x.clone()
    y[valid.expand_as(y) == 0] = torch.rand(int((valid == 0).sum()) * 3)
    with torch.no_grad():
        assert torch.allclose(net(x, valid), net(y, valid), atol=1e-6)


@pytest.mark.parametrize("bad", ["soft", "shape", "size", "channels", "notmultiple", "hole_map_int"])
def test_bad_inputs_raise_value_error(bad):
    net = MSFEFNet(MSFEFConfig.ci())
    s = net.config.image_size
    x, valid = torch.rand(1, 3, s, s), _hole_mask(1, s, s, (4, 12, 4, 12))
    if bad == "soft":
        valid = valid * 0.5 + 0.25
    elif bad == "shape":
        valid = valid.expand(1, 3, s, s)
    elif bad == "size":
        valid = valid[..., :-2, :-2]
    elif bad == "channels":
        x = torch.rand(1, 4, s, s)
    elif bad == "notmultiple":
        x, valid = x[..., :s - 4, :s - 4], valid[..., :s - 4, :s - 4]
    elif bad == "hole_map_int":
        valid = (1 - valid).long()
    with pytest.raises(ValueError):
        net(x, valid)


@pytest.mark.parametrize("call", ["forward", "encode"])
def test_a_batch_of_one_in_training_mode_names_the_batchnorm_stage_and_the_fix(call):
    net = MSFEFNet(MSFEFConfig.ci()).train()  # the deepest map is 1x1 with BatchNorm (Table 2)
    s = net.config.image_size
    x, valid = torch.rand(1, 3, s, s), _hole_mask(1, s, s, (4, 12, 4, 12))
    with pytest.raises(ValueError, match=r"training mode cannot run a batch of 1 32x32 image: its stage \S+ has "
                                         r"BatchNorm on a 1x1 map.*batch_size >= 2.*model.eval\(\)"):
        getattr(net, call)(x, valid)
    with torch.no_grad():
        assert net.eval()(x, valid).shape == (1, 3, s, s)  # a single image is fine for inference


def test_paper_recipe_carries_the_papers_values_and_ci_changes_are_listed():
    from inpaintlib.papers.msfef import changes_from_paper, msfef_training

    paper = msfef_training("paper")
    assert paper.loss_weights == {"valid": 1.0, "hole": 6.0, "perceptual": 0.01, "style": 120.0}  # Sect. 4.2 item 6
    assert paper.train.batch_size == 32 and paper.train.lr == 3e-3 and paper.train.lr_schedule == "plateau"
    assert paper.train.weight_decay > 0 and paper.vgg_backbone == "imagenet"
    assert paper.vgg_layers == ("pool1", "pool2", "pool3") and paper.pixel_loss == "mse"
    assert paper.train.steps == 120 * 63  # 120 epochs of 2000 Helen images at batch 32
    ci = msfef_training("ci")
    changed = changes_from_paper(ci)
    assert changed["vgg_backbone"] == ("imagenet", "random")
    assert "loss_weights" not in changed
    assert changed["train.lr"] == (3e-3, 1e-3)  # ci: constant 1e-3 stands in for the plateau-reduced rate
    assert changed["train.lr_schedule"] == ("plateau", "constant")


def test_multi_rectangle_masks_reach_the_drawn_hole_ratio_with_paper_sized_rectangles():
    import numpy as np

    from inpaintlib.papers.msfef import msfef_multi_rectangle_mask

    rng = np.random.default_rng(0)
    ratios = []
    for _ in range(30):
        v = msfef_multi_rectangle_mask(64, 64, rng, hole_range=(0.3, 0.4))
        assert v.dtype == np.float32 and set(np.unique(v)) <= {0.0, 1.0}
        ratios.append(1 - v.mean())
    assert min(ratios) >= 0.3 and max(ratios) < 0.3 + 0.25 * 0.25 + 0.1
    one = msfef_multi_rectangle_mask(64, 64, np.random.default_rng(1), hole_range=(0.0, 1e-6))
    rows, cols = np.where(one == 0)  # a single rectangle: sides between 0.1 and 0.25 of the height
    assert 7 <= np.ptp(rows) + 1 <= 16 and 7 <= np.ptp(cols) + 1 <= 16


def test_recipe_for_dataset_counts_epochs_at_paper_scale_and_caps_steps():
    from inpaintlib.papers.msfef import msfef_training, recipe_for_dataset

    paper = msfef_training("paper")
    r = recipe_for_dataset(paper, 8144)  # Stanford Cars: 120 epochs of 8144 images at batch 32 (Sect. 4.1, 4.2)
    assert r.train.steps == 120 * 255 and r.train.eval_every == 255
    capped = recipe_for_dataset(paper, 8144, max_steps=3)
    assert capped.train.steps == 3 and capped.train.log_every <= 3 and capped.train.ckpt_every <= 3
    ci = msfef_training("ci")
    assert recipe_for_dataset(ci, 10).train.steps == ci.train.steps  # ci keeps its fixed steps


def test_table1_checks_find_the_printed_repeats_and_a_psnr_below_its_l2_bound():
    from inpaintlib.papers.msfef import checks

    rep = checks.repeated_cells()
    psnr_rep = rep[rep.metric == "PSNR"]
    # The paper prints identical PSNR for "No Style" and "No perceptual, no style" in buckets 2-5.
    assert sum("No Style + MSFEF" in r and "No perceptual, no style + MSFEF" in r for r in psnr_rep.rows) == 4
    made_up = {"L2": {"a": (0.0100,), "b": (0.0100,)}, "PSNR": {"a": (20.0,), "b": (19.0,)}}
    l2 = checks.psnr_vs_l2(made_up)  # 10 log10(1 / 0.01005) = 19.978: 20.0 is fine, 19.0 is not
    assert l2.set_index("row").consistent.to_dict() == {"a": True, "b": False}


def test_psnr_vs_l2_is_two_sided_and_takes_the_allowance_as_a_parameter():
    import math

    from inpaintlib.papers.msfef import checks

    # L2 0.0100 printed to 4 decimals: PSNR must lie in [10 log10(1/0.01005), 10 log10(1/0.00995) + allowance]
    low, top = 10 * math.log10(1 / 0.01005), 10 * math.log10(1 / 0.00995)  # 19.978, 20.022
    made_up = {"L2": {"low": (0.0100,), "fine": (0.0100,), "high": (0.0100,)},
               "PSNR": {"low": (low - 0.01,), "fine": (20.1,), "high": (top + 0.5,)}}
    got = checks.psnr_vs_l2(made_up, allowance_db=0.19).set_index("row")
    assert got.verdict.to_dict() == {"low": "below the lower bound", "fine": "consistent",
                                     "high": "above the upper allowance"}
    assert got.consistent.to_dict() == {"low": False, "fine": True, "high": False}
    assert got.loc["fine", "lowest PSNR allowed"] == pytest.approx(low)
    assert got.loc["fine", "highest PSNR allowed"] == pytest.approx(top + 0.19)
    assert got.loc["high", "gap needed"] == pytest.approx(0.5)
    # a larger allowance lets the high cell through; the low cell stays below whatever the allowance
    wide = checks.psnr_vs_l2(made_up, allowance_db=0.6).set_index("row")
    assert wide.verdict.to_dict() == {"low": "below the lower bound", "fine": "consistent", "high": "consistent"}


def test_default_jensen_allowance_is_the_largest_deviation_of_the_reference_rows_of_table1():
    import inspect
    import math

    from inpaintlib.papers.msfef import PAPER_TABLE1, checks

    prov = checks.jensen_allowance()
    # reference rows: no PSNR cell printed identically in another row of the same bucket
    psnr = PAPER_TABLE1["PSNR"]
    repeated = {r for r in psnr for i, v in enumerate(psnr[r]) if any(psnr[o][i] == v for o in psnr if o != r)}
    assert prov["rows"] == [r for r in psnr if r not in repeated]
    assert "All loss + No MSFEF" not in prov["rows"]  # its [0.01,0.1) PSNR repeats "No perceptual, no style"
    deviations = [p - 10 * math.log10(1 / l2) for r in prov["rows"]
                  for l2, p in zip(PAPER_TABLE1["L2"][r], psnr[r])]
    assert prov["allowance_db"] == pytest.approx(max(map(abs, deviations)))
    # the default is that number rounded up to 0.01 dB, and it is the default of every check that takes one
    assert checks.JENSEN_ALLOWANCE_DB == math.ceil(prov["allowance_db"] * 100) / 100
    for fn in (checks.psnr_vs_l2, checks.beaten_cells, checks.table1_findings):
        assert inspect.signature(fn).parameters["allowance_db"].default == checks.JENSEN_ALLOWANCE_DB


def test_table1_no_msfef_row_sits_above_its_l2_and_its_psnr_win_does_not_survive():
    import math

    from inpaintlib.papers.msfef import PAPER_TABLE1, checks

    h, allow, row = checks.L2_HALF_UNIT, checks.JENSEN_ALLOWANCE_DB, "All loss + No MSFEF"
    l2s, psnrs = PAPER_TABLE1["L2"][row], PAPER_TABLE1["PSNR"][row]
    above = [p > 10 * math.log10(1 / (l2 - h)) + allow for l2, p in zip(l2s, psnrs)]
    assert all(above), above  # a fact about the printed table, computed here from its cells
    got = checks.psnr_vs_l2()
    assert (got[got.row == row].verdict == "above the upper allowance").all()
    # the one cell where it beats "All loss + MSFEF": PSNR [0.1,0.2); its own L2 caps it below what MSFEF's allows
    beaten = checks.beaten_cells()
    assert list(zip(beaten.metric, beaten.bucket)) == [("PSNR", 1)]
    mine = 10 * math.log10(1 / (l2s[1] - h)) + allow
    msfef = 10 * math.log10(1 / (PAPER_TABLE1["L2"]["All loss + MSFEF"][1] + h))
    assert psnrs[1] > PAPER_TABLE1["PSNR"]["All loss + MSFEF"][1] and mine < msfef
    assert not beaten.survives[0] and beaten["allowance needed"][0] == pytest.approx(msfef - mine + allow)
    text = checks.table1_findings()["text"]
    assert "does not survive its own L2" in text and f'"{row}" (all five buckets)' in text


def test_jensen_gap_is_mean_psnr_minus_psnr_of_the_mean_mse():
    import math

    import pandas as pd

    from inpaintlib.papers.msfef import checks

    mses = [0.01, 0.0001]  # per-image PSNRs 20 and 40 dB
    table = pd.DataFrame({"b": [30.0, sum(mses) / 2], "same": [20.0, 0.01]}, index=["psnr", "mse"])
    gap = checks.jensen_gap(table)
    assert gap["b"] == pytest.approx(30 - 10 * math.log10(2 / sum(mses)))  # 7.03 dB
    assert gap["same"] == pytest.approx(0.0, abs=1e-12)  # equal per-image errors: no gap
