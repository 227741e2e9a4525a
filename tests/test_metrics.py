"""Metrics: SSIM against scikit-image, PSNR/L1 from their definitions, the Frechet distance in closed form, and the
evaluation protocol (composite, buckets, mask checks)."""
import math
import re

import numpy as np
import pandas as pd
import pytest
import torch
from skimage import data as skdata
from skimage.metrics import structural_similarity

from inpaintlib import metrics as M


def _sk_ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    """scikit-image reference on one image (C x H x W, C = 1 -> 2-D)."""
    x, y = a.double().numpy(), b.double().numpy()
    kw = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1)
    if x.shape[0] == 1:
        return structural_similarity(x[0], y[0], **kw)
    return structural_similarity(x, y, channel_axis=0, **kw)


def _natural(h, w, gray=False):
    if gray:
        img = skdata.camera()[200 : 200 + h, 150 : 150 + w] / 255.0
        return torch.tensor(img, dtype=torch.float32)[None, None]
    img = skdata.astronaut()[60 : 60 + h, 180 : 180 + w] / 255.0
    return torch.tensor(img, dtype=torch.float32).permute(2, 0, 1)[None]


def _box_valid(n, h, w, boxes):
    v = torch.ones(n, 1, h, w)
    for i, (y0, y1, x0, x1) in enumerate(boxes):
        v[i, :, y0:y1, x0:x1] = 0
    return v


@pytest.mark.parametrize("size", [(11, 11), (17, 30), (64, 48)])
@pytest.mark.parametrize("channels", [3, 1])
def test_ssim_matches_skimage_on_random_images(size, channels):
    g = torch.Generator().manual_seed(sum(size) + channels)
    a = torch.rand(3, channels, *size, generator=g)
    b = (a + 0.3 * (torch.rand(a.shape, generator=g) - 0.5)).clamp(0, 1)
    b[2] = torch.rand(b[2].shape, generator=g)  # unrelated image: low SSIM
    ours = M.ssim(a, b)
    ref = torch.tensor([_sk_ssim(a[i], b[i]) for i in range(3)], dtype=torch.float32)
    assert ours.shape == (3,)
    torch.testing.assert_close(ours, ref, atol=1e-4, rtol=0)


@pytest.mark.parametrize("gray", [False, True])
def test_ssim_matches_skimage_on_natural_images(gray):
    a = _natural(96, 80, gray=gray)
    g = torch.Generator().manual_seed(1)
    blurred = torch.nn.functional.avg_pool2d(a, 3, stride=1, padding=1, count_include_pad=False)
    noisy = (a + 0.08 * torch.randn(a.shape, generator=g)).clamp(0, 1)
    for b in (blurred, noisy):
        assert abs(float(M.ssim(a, b)[0]) - _sk_ssim(a[0], b[0])) < 1e-4


def test_ssim_gray_option_is_ssim_of_bt601_luma():
    a = _natural(40, 40)
    b = (a * 0.8 + 0.1).clamp(0, 1)
    w = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    ya, yb = (a * w).sum(1, keepdim=True), (b * w).sum(1, keepdim=True)
    assert abs(float(M.ssim(a, b, gray=True)[0]) - _sk_ssim(ya[0], yb[0])) < 1e-4
    assert abs(float(M.ssim(a, b, gray=True)[0]) - float(M.ssim(a, b)[0])) > 1e-4  # it is a different protocol


def test_ssim_identical_is_one_and_small_images_are_refused():
    a = _natural(20, 20)
    torch.testing.assert_close(M.ssim(a, a), torch.ones(1))
    with pytest.raises(ValueError, match="at least 11"):
        M.ssim(a[..., :10, :], a[..., :10, :])


def test_psnr_of_constant_error_follows_definition():
    a = torch.full((2, 3, 16, 16), 0.5)
    e = torch.tensor([0.1, 0.01]).view(2, 1, 1, 1)
    got = M.psnr(a, a + e)
    expected = torch.tensor([10 * math.log10(1 / 0.1**2), 10 * math.log10(1 / 0.01**2)])  # 20 dB and 40 dB
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=0)
    assert math.isinf(float(M.psnr(a, a)[0]))
    # data range 255 on 8-bit-style values gives the same number
    torch.testing.assert_close(M.psnr(a * 0.5, (a + e) * 0.5, data_range=0.5), expected, atol=1e-4, rtol=0)


def test_psnr_region_scores_only_selected_pixels():
    a = torch.zeros(1, 3, 8, 8)
    b = a.clone()
    b[..., :4, :] = 0.1  # error only in the top half
    top = torch.zeros(1, 1, 8, 8)
    top[..., :4, :] = 1
    assert abs(float(M.psnr(a, b, region=top)[0]) - 20.0) < 1e-4
    assert math.isinf(float(M.psnr(a, b, region=1 - top)[0]))
    assert abs(float(M.mse(a, b)[0]) - 0.005) < 1e-7


def test_l1_variants():
    gt = torch.full((1, 3, 10, 10), 0.5)
    pred = gt.clone()
    valid = torch.ones(1, 1, 10, 10)
    valid[..., :5, :] = 0  # half the image is hole
    pred[..., :5, :] = 0.7  # error 0.2 in the hole only
    assert abs(float(M.l1_percent(pred, gt)[0]) - 10.0) < 1e-4  # 0.2 on half the pixels -> 10 %
    assert abs(float(M.l1_hole_percent(pred, gt, valid)[0]) - 20.0) < 1e-4
    assert abs(float(M.l1_relative_percent(gt, pred)[0]) - 100 * 0.1 / 0.5) < 1e-4  # sum|d| / sum gt


@pytest.mark.parametrize("pred_value, region", [(0.0, None), (0.3, None), (0.3, "top half")])
def test_l1_relative_of_an_all_black_ground_truth_is_refused_naming_the_image(pred_value, region):
    gt = torch.rand(3, 3, 10, 10) * 0.5 + 0.25
    gt[1] = 0  # all black
    if region is not None:
        gt[2, :, :5] = 0  # black where scored, bright elsewhere
        region = torch.zeros(3, 1, 10, 10)
        region[..., :5, :] = 1
    pred = torch.full_like(gt, pred_value)
    black = "[1, 2]" if region is not None else "[1]"
    with pytest.raises(ValueError, match=r"sum of the ground truth, which is 0 .*image\(s\) " + re.escape(black)
                       + ".*l1_percent"):
        M.l1_relative_percent(gt, pred, region=region)


def test_frechet_distance_matches_closed_form_for_gaussians():
    rng = np.random.default_rng(0)
    d = 5
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    a, b = rng.uniform(0.1, 2, d), rng.uniform(0.1, 2, d)
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))  # commuting covariances: same eigenvectors
    s1, s2 = q @ np.diag(a) @ q.T, q @ np.diag(b) @ q.T
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert abs(M.frechet_distance(mu1, s1, mu2, s2) - expected) < 1e-8
    # one dimension: (m1 - m2)^2 + (sd1 - sd2)^2
    assert abs(M.frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) - (4.0 + 1.0)) < 1e-10
    # a singular covariance is fine, and the distance of a Gaussian to itself is 0
    s = np.outer(a, a)
    assert abs(M.frechet_distance(mu1, s, mu1, s)) < 1e-6 * np.trace(s)


def test_frechet_distance_of_sampled_features_approaches_truth():
    rng = np.random.default_rng(1)
    f1 = rng.normal(0, 1, size=(20000, 3))
    f2 = rng.normal(1, 2, size=(20000, 3))
    fd = M.frechet_distance(*M.feature_statistics(f1), *M.feature_statistics(f2))
    assert abs(fd - (3 * 1 + 3 * 1)) < 0.15  # |mu|^2 = 3, sum (1 - 2)^2 = 3


def test_optional_networks_report_unavailability_without_crashing():
    ok, reason = M.lpips_available()
    assert isinstance(ok, bool) and isinstance(reason, str)
    a = torch.rand(1, 3, 16, 16)
    if not ok:
        assert reason
        assert M.lpips_distance(a, a) is None
    ok, reason = M.fid_available()
    if not ok:
        assert reason
        assert M.fid(a, a) is None


def _images(n=3, h=32, w=32):
    g = torch.Generator().manual_seed(3)
    base = torch.linspace(0, 1, w).view(1, 1, 1, w).expand(n, 3, h, w)
    return (0.7 * base + 0.3 * torch.rand(n, 3, h, w, generator=g)).contiguous()


def _masks(h=32, w=32):
    # hole ratios 0.0625, 0.25, 0.5 -> Liu buckets (0.01,0.1], (0.2,0.3], (0.4,0.5]
    return _box_valid(3, h, w, [(0, 8, 0, 8), (0, 16, 0, 16), (0, 16, 0, 32)])


def test_evaluate_table_has_requested_buckets_and_protocol_text():
    images, masks = _images(), _masks()
    proto = M.Protocol(buckets=((0.01, 0.1), (0.1, 0.3), (0.3, 0.6)), closed="left")
    res = M.evaluate(lambda x, v: x, images, masks, proto)
    assert list(res.table.columns) == ["[0.01,0.1)", "[0.1,0.3)", "[0.3,0.6)", "all"]
    assert list(res.table.index) == ["psnr", "ssim", "l1", "n"]
    assert res.table.loc["n"].tolist() == [1, 1, 1, 3]
    assert isinstance(res.per_image, pd.DataFrame) and len(res.per_image) == 3  # cycle pairing: max(N, M)
    md = res.to_markdown()
    assert proto.describe() in md and "[0.1,0.3)" in md and "PSNR (dB)" in md
    assert "[0.01,0.1)" in proto.describe()
    # the bigger the hole, the worse the zero-filled prediction
    psnrs = res.table.loc["psnr", ["[0.01,0.1)", "[0.1,0.3)", "[0.3,0.6)"]].to_numpy()
    assert np.all(np.diff(psnrs) < 0)


@pytest.mark.parametrize("container", ["tensors", "(image, label) tuples"])
def test_evaluate_names_images_of_different_sizes_and_the_fix(container):
    imgs = [_images(n=1)[0], _images(n=1, h=40, w=36)[0], _images(n=1)[0]]
    items = imgs if container == "tensors" else [(x, i) for i, x in enumerate(imgs)]
    with pytest.raises(ValueError, match=r"the images have different sizes, so they cannot be stacked into one batch: "
                                         r"found 3 x 32 x 32 \(2 images\), 3 x 40 x 36 \(1 image\); image 1 is "
                                         r"3 x 40 x 36\. evaluate scores every image at the masks' size \(32x32\)"):
        M.evaluate(lambda x, v: x, items, _masks())


def test_evaluate_all_pairing_and_given_buckets():
    images, masks = _images(n=2), _masks()
    res = M.evaluate(lambda x, v: x, images, masks, M.Protocol(pairing="all"), mask_buckets=[0, 0, 5])
    assert len(res.per_image) == 6
    assert set(zip(res.per_image["image"], res.per_image["mask"])) == {(i, j) for i in range(2) for j in range(3)}
    assert res.table.loc["n", "(0.01,0.1]"] == 4 and res.table.loc["n", "(0.5,0.6]"] == 2
    assert np.isnan(res.table.loc["psnr", "(0.2,0.3]"])  # requested bucket, no mask in it


def test_composite_protocol_ignores_garbage_in_known_pixels():
    images, masks = _images(), _masks()
    g = torch.Generator().manual_seed(5)

    def honest(x, v):
        return x + (1 - v) * 0.5  # grey in the hole, true known pixels

    def garbage(x, v):
        return (1 - v) * 0.5 + v * torch.rand(x.shape, generator=g)  # same hole, random known pixels

    for proto in (M.Protocol(), M.Protocol(region="hole", l1="hole")):
        a = M.evaluate(honest, images, masks, proto).per_image
        b = M.evaluate(garbage, images, masks, proto).per_image
        pd.testing.assert_frame_equal(a, b)
    # without the composite, whole-image scores see the garbage, hole-only scores do not
    raw = M.Protocol(composite=False)
    assert (M.evaluate(garbage, images, masks, raw).per_image["psnr"]
            < M.evaluate(honest, images, masks, raw).per_image["psnr"] - 1).all()
    raw_hole = M.Protocol(composite=False, region="hole", l1="hole")
    pd.testing.assert_series_equal(M.evaluate(garbage, images, masks, raw_hole).per_image["psnr"],
                                   M.evaluate(honest, images, masks, raw_hole).per_image["psnr"])


def test_evaluate_accepts_a_dataset_of_tuples():
    images, masks = _images(), _masks()
    ds = [(images[i], 0) for i in range(3)]
    a = M.evaluate(lambda x, v: x, ds, masks).per_image
    b = M.evaluate(lambda x, v: x, images, masks).per_image
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize(
    "bad, match",
    [
        (torch.ones(3, 1, 32, 32), "no hole"),
        (torch.zeros(3, 1, 32, 32), "all-hole"),
        (torch.ones(3, 32, 32), "shape"),
        (torch.full((3, 1, 32, 32), 0.5), "binary"),
    ],
)
def test_evaluate_rejects_bad_masks(bad, match):
    with pytest.raises(ValueError, match=match):
        M.evaluate(lambda x, v: x, _images(), bad)


def test_evaluate_rejects_mask_of_wrong_size_and_bad_predict():
    with pytest.raises(ValueError, match="spatial size"):
        M.evaluate(lambda x, v: x, _images(), _box_valid(1, 16, 16, [(0, 4, 0, 4)]))
    with pytest.raises(ValueError, match="predict"):
        M.evaluate(lambda x, v: x[:, :1], _images(), _masks())


def test_protocol_rejects_unknown_settings():
    with pytest.raises(ValueError):
        M.Protocol(region="border")
    with pytest.raises(ValueError):
        M.Protocol(l1="median")
    with pytest.raises(ValueError):
        M.Protocol(metrics=("psnr", "fid"))
