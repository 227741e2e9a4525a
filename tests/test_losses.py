"""Losses: pixel terms (MSFEF Sect. 3.3), perceptual/style (Eqs. 3-4), TV, adversarial, VGG, discriminator."""
from __future__ import annotations

import math
import urllib.error

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from inpaintlib.layers import PatchDiscriminator, VGGFeatures, WeightsUnavailableError, vgg_layer_names
from inpaintlib.losses import (
    PCONV_WEIGHTS,
    InpaintingLoss,
    feature_matching_loss,
    gram_matrix,
    hinge_d_loss,
    hinge_g_loss,
    masked_l1,
    masked_mse,
    nonsaturating_d_loss,
    nonsaturating_g_loss,
    perceptual_loss,
    style_loss,
    total_variation,
)

# VGG configurations D (16) and E (19), Simonyan & Zisserman 2015, Table 1; "M" = max-pool
PAPER_VGG = {
    "vgg16": [64, 64, "M", 128, 128, "M"] + [256] * 3 + ["M"] + [512] * 3 + ["M"] + [512] * 3 + ["M"],
    "vgg19": [64, 64, "M", 128, 128, "M"] + [256] * 4 + ["M"] + [512] * 4 + ["M"] + [512] * 4 + ["M"],
}
# parameter counts of torchvision's vgg16().features / vgg19().features (published model sizes minus classifier)
FEATURE_PARAMS = {"vgg16": 14_714_688, "vgg19": 20_024_384}


def _pair(seed=0, n=2, c=3, h=8, w=8):
    gen = torch.Generator().manual_seed(seed)
    gt = torch.rand(n, c, h, w, generator=gen)
    valid = torch.ones(n, 1, h, w)
    valid[:, :, 2:6, 3:7] = 0
    return gt, valid, gen


@pytest.fixture(scope="module")
def vgg16_random():
    return VGGFeatures("vgg16", ("relu1_2", "pool1", "pool2"), backbone="random", seed=0)


# ---------------------------------------------------------------- pixel terms
@pytest.mark.parametrize("fn", [masked_l1, masked_mse])
def test_pixel_terms_zero_for_identical_and_positive_otherwise(fn):
    gt, valid, gen = _pair()
    t = fn(gt.clone(), gt, valid)
    assert float(t["valid"]) == 0 and float(t["hole"]) == 0
    t = fn(torch.rand(gt.shape, generator=gen), gt, valid)
    assert float(t["valid"]) > 0 and float(t["hole"]) > 0


@pytest.mark.parametrize("fn, power", [(masked_l1, 1), (masked_mse, 2)])
def test_pixel_terms_are_normalised_by_chw_per_image(fn, power):
    # one hole pixel of one channel is off by 0.5 in image 0 of 2: L_hole = 0.5^p / (C*H*W), averaged over 2 images
    gt, valid, _ = _pair()
    out = gt.clone()
    out[0, 1, 3, 4] += 0.5  # (3, 4) is in the hole
    t = fn(out, gt, valid)
    c, h, w = gt.shape[1:]
    assert float(t["hole"]) == pytest.approx((0.5 ** power / (c * h * w)) / 2, rel=1e-5)
    assert float(t["valid"]) == 0
    t = fn(out, gt, valid, hole_weight=6.0, valid_weight=2.0)
    assert float(t["hole"]) == pytest.approx(6 * (0.5 ** power / (c * h * w)) / 2, rel=1e-5)


@pytest.mark.parametrize("fn", [masked_l1, masked_mse])
def test_changing_a_known_pixel_changes_only_the_valid_term_and_a_hole_pixel_only_the_hole_term(fn):
    gt, valid, gen = _pair()
    out = torch.rand(gt.shape, generator=gen)
    base = fn(out, gt, valid)
    known = out.clone()
    known[1, 0, 0, 0] += 0.3  # (0, 0) is known
    t = fn(known, gt, valid)
    assert float(t["valid"]) != float(base["valid"]) and float(t["hole"]) == float(base["hole"])
    hole = out.clone()
    hole[1, 2, 4, 4] += 0.3  # (4, 4) is in the hole
    t = fn(hole, gt, valid)
    assert float(t["hole"]) != float(base["hole"]) and float(t["valid"]) == float(base["valid"])


def test_pixel_terms_reject_bad_masks_and_shapes():
    gt, valid, _ = _pair()
    with pytest.raises(ValueError, match="binary"):
        masked_l1(gt, gt, valid * 0.5 + 0.25)
    with pytest.raises(ValueError, match="spatial size"):
        masked_l1(gt, gt, valid[..., :-1])
    with pytest.raises(ValueError, match="shape"):
        masked_mse(gt[:, :2], gt, valid)


# ---------------------------------------------------------------- Gram, perceptual, style
def test_gram_matrix_matches_the_formula():
    gen = torch.Generator().manual_seed(4)
    f = torch.randn(2, 3, 4, 5, generator=gen, dtype=torch.float64)
    g = gram_matrix(f)
    n, c, h, w = f.shape
    for b in range(n):
        for i in range(c):
            for j in range(c):
                direct = sum(float(f[b, i, y, x] * f[b, j, y, x]) for y in range(h) for x in range(w)) / (c * h * w)
                assert float(g[b, i, j]) == pytest.approx(direct, rel=1e-10, abs=1e-12)


def test_perceptual_and_style_are_zero_for_identical_features_and_match_their_formulas():
    gen = torch.Generator().manual_seed(5)
    fa = {"a": torch.rand(2, 4, 6, 6, generator=gen), "b": torch.rand(2, 8, 3, 3, generator=gen)}
    fb = {k: torch.rand(v.shape, generator=gen) for k, v in fa.items()}
    assert float(perceptual_loss(fa, {k: v.clone() for k, v in fa.items()})) == 0
    assert float(style_loss(fa, {k: v.clone() for k, v in fa.items()})) == 0
    # Eq. 3: ||Phi - Phi_gt||_1 / N_Phi per layer
    expected_p = sum(float((fa[k] - fb[k]).abs().sum()) / fa[k].numel() for k in fa)
    assert float(perceptual_loss(fa, fb)) == pytest.approx(expected_p, rel=1e-5)
    # Eq. 4: 1/(C*C) ||K (Phi^T Phi - Phi_gt^T Phi_gt)||_1, K = 1/(C H W), averaged over the batch
    expected_s = 0.0
    for k in fa:
        n, c, h, w = fa[k].shape
        for b in range(n):
            x, y = fa[k][b].reshape(c, -1), fb[k][b].reshape(c, -1)
            expected_s += float(((x @ x.T - y @ y.T) / (c * h * w)).abs().sum()) / (c * c) / n
    assert float(style_loss(fa, fb)) == pytest.approx(expected_s, rel=1e-5)
    # layer weights multiply each layer's term
    w_only_b = perceptual_loss(fa, fb, layer_weights=[0.0, 2.0])
    assert float(w_only_b) == pytest.approx(2 * float((fa["b"] - fb["b"]).abs().mean()), rel=1e-5)


# ---------------------------------------------------------------- total variation
def test_total_variation_is_zero_for_a_constant_image_and_counts_edges():
    img = torch.full((1, 1, 4, 5), 0.3)
    assert float(total_variation(img)) == 0
    img[..., 2:] = 0.8  # one vertical edge of height 4: horizontal differences 0.5 at 4 of 4*4 pairs
    assert float(total_variation(img)) == pytest.approx(0.5 * 4 / (4 * 4), rel=1e-5)


def test_total_variation_restricted_to_the_dilated_hole_ignores_far_pixels():
    valid = torch.ones(1, 1, 8, 8)
    valid[..., 3:5, 3:5] = 0  # P = rows/cols 2..5
    gen = torch.Generator().manual_seed(6)
    img = torch.rand(1, 3, 8, 8, generator=gen)
    base = float(total_variation(img, valid))
    far = img.clone()
    far[..., 0, 0] = 1 - far[..., 0, 0]
    far[..., 7, 7] = 1 - far[..., 7, 7]
    assert float(total_variation(far, valid)) == base  # outside P: no change
    near = img.clone()
    near[..., 2, 2] = 1 - near[..., 2, 2]  # in the dilation ring of the hole
    assert float(total_variation(near, valid)) != base
    # PConv Eq. 6 by hand: pairs with both ends in P, divided by C*H*W
    p = torch.zeros(8, 8, dtype=torch.bool)
    p[2:6, 2:6] = True
    s = 0.0
    for y in range(8):
        for x in range(8):
            if y + 1 < 8 and p[y, x] and p[y + 1, x]:
                s += float((img[0, :, y + 1, x] - img[0, :, y, x]).abs().sum())
            if x + 1 < 8 and p[y, x] and p[y, x + 1]:
                s += float((img[0, :, y, x + 1] - img[0, :, y, x]).abs().sum())
    assert base == pytest.approx(s / img.numel(), rel=1e-5)


# ---------------------------------------------------------------- VGG
@pytest.mark.parametrize("arch", ["vgg16", "vgg19"])
def test_vgg_state_dict_layout_equals_torchvision(arch):
    expected, i, in_ch = {}, 0, 3
    for v in PAPER_VGG[arch]:
        if v == "M":
            i += 1
        else:
            expected[f"features.{i}.weight"] = (v, in_ch, 3, 3)
            expected[f"features.{i}.bias"] = (v,)
            in_ch, i = v, i + 2  # conv, ReLU
    vgg = VGGFeatures(arch, ("pool1",), backbone="random")
    got = {k: tuple(t.shape) for k, t in vgg.state_dict().items()}
    assert got == expected
    assert list(got) == list(expected)
    assert sum(p.numel() for p in vgg.parameters()) == FEATURE_PARAMS[arch]
    names = vgg_layer_names(arch)
    assert len(names) == i and names[-1] == "pool5" and ("conv5_4" in names) == (arch == "vgg19")


def test_vgg_named_layers_shapes_and_early_stop(vgg16_random):
    x = torch.rand(2, 3, 32, 32)
    called = []
    hooks = [m.register_forward_hook(lambda *a, i=i: called.append(i)) for i, m in enumerate(vgg16_random.features)]
    try:
        f = vgg16_random(x)
    finally:
        for h in hooks:
            h.remove()
    assert list(f) == ["relu1_2", "pool1", "pool2"]
    assert f["relu1_2"].shape == (2, 64, 32, 32) and f["pool1"].shape == (2, 64, 16, 16)
    assert f["pool2"].shape == (2, 128, 8, 8)
    assert max(called) == 9  # pool2 is features[9]: nothing deeper runs
    with pytest.raises(ValueError, match="unknown"):
        VGGFeatures("vgg16", ("conv5_4",), backbone="random")


def test_vgg_normalises_with_imagenet_mean_std_and_conv_outputs_are_not_overwritten_by_relu():
    vgg = VGGFeatures("vgg16", ("conv1_1", "relu1_1"), backbone="random", seed=3)
    x = torch.rand(1, 3, 8, 8)
    f = vgg(x)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    conv = vgg.features[0]
    ref = nn.functional.conv2d((x - mean) / std, conv.weight, conv.bias, padding=1)
    torch.testing.assert_close(f["conv1_1"], ref)
    assert (f["conv1_1"] < 0).any()
    torch.testing.assert_close(f["relu1_1"], ref.clamp(min=0))


def test_vgg_is_frozen_but_differentiable_wrt_input(vgg16_random):
    assert all(not p.requires_grad for p in vgg16_random.parameters())
    vgg16_random.train()
    assert not vgg16_random.training
    x = torch.rand(1, 3, 16, 16, requires_grad=True)
    vgg16_random(x)["pool2"].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in vgg16_random.parameters())


def test_random_backbone_is_seeded_and_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    a = torch.rand(3)
    torch.manual_seed(123)
    v0 = VGGFeatures("vgg16", ("pool1",), backbone="random", seed=0)
    b = torch.rand(3)
    assert torch.equal(a, b)
    v0b = VGGFeatures("vgg16", ("pool1",), backbone="random", seed=0)
    v1 = VGGFeatures("vgg16", ("pool1",), backbone="random", seed=1)
    assert torch.equal(v0.features[0].weight, v0b.features[0].weight)
    assert not torch.equal(v0.features[0].weight, v1.features[0].weight)


@pytest.mark.parametrize("fmt", ["pth_full", "pth_features_only", "safetensors"])
def test_loading_a_local_state_dict_file_changes_features(tmp_path, fmt):
    source = VGGFeatures("vgg16", ("pool2",), backbone="random", seed=7)
    sd = source.state_dict()
    if fmt == "pth_full":  # a torchvision vgg16() state dict has a classifier too; it is ignored
        sd = {**sd, "classifier.0.weight": torch.zeros(4, 4), "classifier.0.bias": torch.zeros(4)}
        path = tmp_path / "vgg16_full.pth"
        torch.save(sd, path)
    elif fmt == "pth_features_only":  # vgg.features.state_dict(): keys without the prefix
        path = tmp_path / "features.pth"
        torch.save({k[len("features."):]: v for k, v in sd.items()}, path)
    else:
        from safetensors.torch import save_file

        path = tmp_path / "vgg16.safetensors"
        save_file({k: v.contiguous() for k, v in sd.items()}, str(path))
    loaded = VGGFeatures("vgg16", ("pool2",), backbone="imagenet", weights=path)
    default = VGGFeatures("vgg16", ("pool2",), backbone="random", seed=0)
    x = torch.rand(1, 3, 16, 16)
    torch.testing.assert_close(loaded(x)["pool2"], source(x)["pool2"])
    assert not torch.allclose(loaded(x)["pool2"], default(x)["pool2"])


def test_a_file_whose_content_does_not_match_the_hash_in_its_name_is_refused(tmp_path):
    path = tmp_path / "vgg16-00000000.pth"
    torch.save(VGGFeatures("vgg16", ("pool1",), backbone="random").state_dict(), path)
    with pytest.raises(ValueError, match="sha256"):
        VGGFeatures("vgg16", ("pool1",), backbone="imagenet", weights=path)


def test_wrong_state_dict_is_refused(tmp_path):
    path = tmp_path / "vgg19.pth"
    torch.save(VGGFeatures("vgg19", ("pool1",), backbone="random").state_dict(), path)
    with pytest.raises(ValueError, match="vgg16"):
        VGGFeatures("vgg16", ("pool1",), backbone="imagenet", weights=path)


def test_unavailable_imagenet_weights_raise_and_say_to_choose_random(monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(WeightsUnavailableError, match='backbone="random"'):
        VGGFeatures("vgg19", ("conv1_1",))
    with pytest.raises(WeightsUnavailableError, match="does not exist"):
        VGGFeatures("vgg16", ("pool1",), weights="/nonexistent/vgg16.pth")
    with pytest.raises(ValueError, match="random"):
        VGGFeatures("vgg16", ("pool1",), backbone="random", weights="/some/file.pth")


def test_imagenet_weights_come_from_the_official_url_with_weights_only_and_hash_check(monkeypatch):
    seen = {}
    sd = VGGFeatures("vgg16", ("pool1",), backbone="random", seed=5).state_dict()

    def fake(url, **kwargs):
        seen.update(url=url, **kwargs)
        return dict(sd)

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", fake)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: "/nonexistent-hub-dir")
    vgg = VGGFeatures("vgg16", ("pool1",))
    assert seen["url"] == "https://download.pytorch.org/models/vgg16-397923af.pth"
    assert seen["weights_only"] is True and seen["check_hash"] is True
    assert torch.equal(vgg.features[0].weight, sd["features.0.weight"])


# ---------------------------------------------------------------- discriminator and adversarial losses
def _conv_out(h, stride):
    return h // stride + 1  # 4x4 kernel, padding 2


@pytest.mark.parametrize("n_scales", [1, 2])
def test_patch_discriminator_output_shapes(n_scales):
    n_layers, h, w = 3, 40, 32
    d = PatchDiscriminator(6, base=8, n_layers=n_layers, n_scales=n_scales)
    logits, feats = d(torch.rand(2, 6, h, w), return_features=True)
    assert isinstance(logits, list) and len(logits) == n_scales and len(feats) == n_scales
    for s in range(n_scales):
        hh, ww = h, w
        for _ in range(s):  # avg-pool 3x3 stride 2 padding 1
            hh, ww = (hh - 1) // 2 + 1, (ww - 1) // 2 + 1
        for stride in [2] * n_layers + [1, 1]:
            hh, ww = _conv_out(hh, stride), _conv_out(ww, stride)
        assert logits[s].shape == (2, 1, hh, ww)
        assert len(feats[s]) == n_layers + 1
        assert [f.shape[1] for f in feats[s]] == [8, 16, 32, 64]
    assert len(d(torch.rand(1, 6, h, w))) == n_scales


def test_patch_discriminator_uses_spectral_norm_and_leaky_relu():
    d = PatchDiscriminator(3, base=8, n_layers=2, n_scales=2)
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 2 * (2 + 2)
    assert all(parametrize.is_parametrized(c, "weight") for c in convs)
    assert all(m.negative_slope == 0.2 for m in d.modules() if isinstance(m, nn.LeakyReLU))
    assert all(c.kernel_size == (4, 4) for c in convs)
    d.train()
    for _ in range(10):  # power iterations
        d(torch.rand(1, 3, 8, 8))
    for c in convs:  # the effective weight has spectral norm ~1
        assert float(torch.linalg.matrix_norm(c.weight.detach().flatten(1), ord=2)) == pytest.approx(1.0, abs=0.05)
    plain = PatchDiscriminator(3, base=8, n_layers=2, spectral_norm=False)
    assert not any(parametrize.is_parametrized(m) for m in plain.modules() if isinstance(m, nn.Conv2d))


def test_hinge_losses_at_known_logits():
    full = lambda v: torch.full((2, 1, 3, 3), float(v))  # noqa: E731
    assert float(hinge_d_loss(full(2.0), full(-1.5))) == 0  # both beyond the margin
    assert float(hinge_d_loss(full(0.5), full(0.5))) == pytest.approx(0.5 + 1.5)
    assert float(hinge_g_loss(full(0.5))) == pytest.approx(-0.5)
    # multi-scale: summed over discriminators (DeepGIN Eqs. 2-3)
    assert float(hinge_d_loss([full(0.5), full(0.0)], [full(0.5), full(0.0)])) == pytest.approx(2.0 + 2.0)
    assert float(hinge_g_loss([full(0.5), full(-1.0)])) == pytest.approx(-0.5 + 1.0)


def test_nonsaturating_losses_at_known_logits():
    full = lambda v: torch.full((2, 1, 3, 3), float(v))  # noqa: E731
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    assert float(nonsaturating_d_loss(full(0.0), full(0.0))) == pytest.approx(2 * math.log(2), rel=1e-6)
    a, b = 1.3, -0.4
    assert float(nonsaturating_d_loss(full(a), full(b))) == pytest.approx(-math.log(sig(a)) - math.log(1 - sig(b)),
                                                                         rel=1e-6)
    assert float(nonsaturating_g_loss(full(b))) == pytest.approx(-math.log(sig(b)), rel=1e-6)
    assert math.isfinite(float(nonsaturating_d_loss(full(-200.0), full(200.0))))  # stable far from 0
    assert float(nonsaturating_g_loss([full(b), full(a)])) == pytest.approx(-math.log(sig(b)) - math.log(sig(a)),
                                                                           rel=1e-6)


def test_feature_matching_is_zero_for_identical_features_and_positive_otherwise():
    d = PatchDiscriminator(3, base=8, n_layers=2, n_scales=2).eval()  # eval: no power iteration between calls
    x = torch.rand(1, 3, 32, 32)
    _, fr = d(x, return_features=True)
    _, ff = d(x.clone(), return_features=True)
    assert float(feature_matching_loss(fr, ff).detach()) == 0
    _, ff = d(torch.rand(1, 3, 32, 32), return_features=True)
    assert float(feature_matching_loss(fr, ff).detach()) > 0


# ---------------------------------------------------------------- InpaintingLoss
def test_inpainting_loss_terms_total_and_zero_for_identical(vgg16_random):
    gt, valid, gen = _pair(h=16, w=16)
    loss = InpaintingLoss(PCONV_WEIGHTS, vgg=vgg16_random)
    total, terms = loss(gt.clone(), gt, valid)
    assert set(terms) == {"valid", "hole", "perceptual", "style", "tv"}
    assert all(float(terms[k]) == 0 for k in ("valid", "hole", "perceptual", "style"))
    out = torch.rand(gt.shape, generator=gen, requires_grad=True)
    total, terms = loss(out, gt, valid)
    assert all(float(terms[k]) > 0 for k in terms)
    assert all(not t.requires_grad and t.dim() == 0 for t in terms.values())
    assert float(total.detach()) == pytest.approx(sum(PCONV_WEIGHTS[k] * float(terms[k]) for k in terms), rel=1e-5)
    total.backward()
    assert out.grad is not None and out.grad.abs().sum() > 0


def test_inpainting_loss_uses_the_composite(vgg16_random):
    # out differs from gt only on known pixels: the composite equals gt, so only the output half of Eq. 3 remains
    gt, valid, gen = _pair(h=16, w=16)
    out = torch.where(valid.bool(), torch.rand(gt.shape, generator=gen), gt)
    _, terms = InpaintingLoss({"perceptual": 1.0, "tv": 1.0}, vgg=vgg16_random)(out, gt, valid)
    expected = perceptual_loss(vgg16_random(out), vgg16_random(gt))
    assert float(terms["perceptual"]) == pytest.approx(float(expected), rel=1e-5)
    assert float(terms["tv"]) == pytest.approx(float(total_variation(gt, valid)), rel=1e-6)


def test_inpainting_loss_layer_weights_select_vgg_layers(vgg16_random):
    gt, valid, gen = _pair(h=16, w=16)
    out = torch.rand(gt.shape, generator=gen)
    comp = valid * gt + (1 - valid) * out
    loss = InpaintingLoss({"perceptual": 1.0, "style": 1.0}, vgg=vgg16_random,
                          perceptual_layer_weights=[0, 0, 2], style_layer_weights=[1, 0, 0])
    _, terms = loss(out, gt, valid)
    f_gt, f_out, f_comp = vgg16_random(gt), vgg16_random(out), vgg16_random(comp)
    p = 2 * sum(float((f["pool2"] - f_gt["pool2"]).abs().mean()) for f in (f_out, f_comp))
    s = sum(float((gram_matrix(f["relu1_2"]) - gram_matrix(f_gt["relu1_2"])).abs().mean()) for f in (f_out, f_comp))
    assert float(terms["perceptual"]) == pytest.approx(p, rel=1e-5)
    assert float(terms["style"]) == pytest.approx(s, rel=1e-5)
    with pytest.raises(ValueError, match="layers"):
        InpaintingLoss({"perceptual": 1.0}, vgg=vgg16_random, perceptual_layer_weights=[1, 1])


def test_inpainting_loss_weight_zero_skips_the_term_and_mse_option():
    gt, valid, gen = _pair()
    out = torch.rand(gt.shape, generator=gen)
    total, terms = InpaintingLoss({"valid": 1, "hole": 6, "perceptual": 0, "style": 0}, pixel="mse")(out, gt, valid)
    assert set(terms) == {"valid", "hole"}
    ref = masked_mse(out, gt, valid)
    assert float(terms["hole"]) == pytest.approx(float(ref["hole"]), rel=1e-6)
    assert float(total) == pytest.approx(float(ref["valid"] + 6 * ref["hole"]), rel=1e-6)


def test_inpainting_loss_configuration_errors():
    with pytest.raises(ValueError, match="VGG"):
        InpaintingLoss({"valid": 1, "perceptual": 0.05})
    with pytest.raises(ValueError, match="VGG"):
        InpaintingLoss({"style": 120})
    with pytest.raises(ValueError, match="unknown"):
        InpaintingLoss({"hole": 6, "adversarial": 1})
    with pytest.raises(ValueError, match="pixel"):
        InpaintingLoss({"hole": 6}, pixel="l3")
