"""Classical baselines: mean fill, biharmonic, and Criminisi et al.'s exemplar-based inpainting."""

import numpy as np
import pytest
import torch
from scipy import ndimage
from skimage import data as skdata

from inpaintlib.classical import biharmonic, exemplar_inpaint, mean_fill


def _box_valid(h, w, y0, y1, x0, x1, n=1):
    v = torch.ones(n, 1, h, w)
    v[..., y0:y1, x0:x1] = 0
    return v


def _smooth(n=2, h=32, w=32):
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    chans = [0.2 + 0.6 * xx, 0.5 + 0.3 * torch.sin(3 * yy), 0.3 + 0.4 * xx * yy]
    img = torch.stack(chans)[None].repeat(n, 1, 1, 1)
    if n > 1:
        img[1] = img[1].flip(-1)
    return img


def _photo(size=64):
    img = skdata.astronaut()[::8, ::8][:size, :size] / 255.0
    return torch.tensor(img, dtype=torch.float32).permute(2, 0, 1)[None]


@pytest.mark.parametrize("fill", [mean_fill, biharmonic])
def test_fill_keeps_known_pixels_and_beats_zero_fill_on_smooth_image(fill):
    img = _smooth()
    valid = _box_valid(32, 32, 10, 22, 8, 20)
    out = fill(img, valid)
    assert out.shape == img.shape
    known = valid.expand_as(img) == 1
    assert torch.equal(out[known], img[known])
    hole = ~known
    err = (out - img)[hole].abs().mean()
    err_zero = img[hole].abs().mean()
    assert err < 0.5 * err_zero
    assert float(out.min()) >= 0 and float(out.max()) <= 1


def test_mean_fill_uses_each_images_known_mean():
    img = torch.zeros(2, 3, 8, 8)
    img[0, 0] = 1.0
    img[1, 2, :4] = 1.0  # the top half of image 1's blue channel is 1; the hole is in the top half
    valid = _box_valid(8, 8, 0, 2, 0, 8, n=2)
    out = mean_fill(img, valid)
    torch.testing.assert_close(out[0, :, 0, 0], torch.tensor([1.0, 0.0, 0.0]))
    torch.testing.assert_close(out[1, :, 0, 0], torch.tensor([0.0, 0.0, 2 / 6]))  # 2 known rows of 6 are 1


def test_biharmonic_is_exact_on_a_linear_ramp():
    img = _smooth(n=1)
    ramp = img.clone()
    ramp[:, :] = torch.linspace(0.1, 0.9, 32).view(1, 1, 1, 32)
    out = biharmonic(ramp, _box_valid(32, 32, 10, 22, 8, 20))
    assert (out - ramp).abs().max() < 1e-3  # a linear function is biharmonic


@pytest.mark.parametrize("fn", [mean_fill, biharmonic, exemplar_inpaint])
def test_classical_functions_check_masks(fn):
    img = _smooth(n=1)
    with pytest.raises(ValueError, match="binary"):
        fn(img, torch.full((1, 1, 32, 32), 0.5))
    with pytest.raises(ValueError, match="all-hole"):
        fn(img, torch.zeros(1, 1, 32, 32))
    with pytest.raises(ValueError, match="spatial size"):
        fn(img, torch.ones(1, 1, 16, 16))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fn(img * 255, torch.ones(1, 1, 32, 32))


def test_exemplar_fills_hole_with_copies_of_known_pixels_only():
    img = _photo(48)
    valid = _box_valid(48, 48, 14, 34, 12, 36)
    res = exemplar_inpaint(img, valid, patch_size=9)
    out = res.output
    known = valid.expand_as(img) == 1
    assert torch.equal(out[known], img[known])  # known pixels unchanged
    tr = res.traces[0]
    assert tr.complete and (tr.fill_order[valid[0, 0].numpy() == 0] >= 0).all()  # hole fully filled
    # every filled colour is the colour of some pixel of the known region (exemplars are copied, never invented)
    known_colours = {tuple(c) for c in img[0].permute(1, 2, 0)[valid[0, 0] == 1].tolist()}
    filled = out[0].permute(1, 2, 0)[valid[0, 0] == 0].tolist()
    assert all(tuple(c) in known_colours for c in filled)
    # the source patch of each step lies in the original known region
    h = 4
    for sy, sx in tr.source:
        assert valid[0, 0, sy - h : sy + h + 1, sx - h : sx + h + 1].min() == 1


def test_exemplar_does_not_read_the_hole():
    img = _photo(40)
    valid = _box_valid(40, 40, 12, 26, 10, 30)
    a = exemplar_inpaint(img, valid, record_every=0).output
    b = exemplar_inpaint(img * valid, valid, record_every=0).output
    assert torch.equal(a, b)


def test_exemplar_maps_have_the_right_shapes_and_ranges():
    img = _photo(40)
    valid = _box_valid(40, 40, 12, 26, 10, 30)
    res = exemplar_inpaint(img, valid, record_every=2)
    tr = res.traces[0]
    t = len(tr.iterations)
    assert t == (tr.n_iters + 1) // 2 and list(tr.iterations) == list(range(0, tr.n_iters, 2))
    for maps in (res.confidence_maps, res.data_maps, res.priority_maps, res.fronts):
        assert maps.shape == (t, 40, 40)
    assert res.targets.shape == (t, 2) and res.sources.shape == (t, 2) and res.fill_order.shape == (40, 40)
    hole0 = valid[0, 0].numpy() == 0
    for c, d, p, f, (ty, tx) in zip(res.confidence_maps, res.data_maps, res.priority_maps, res.fronts, res.targets):
        assert f[ty, tx]  # the target is a front pixel
        assert np.all(f <= hole0)  # the front lies in the original hole
        np.testing.assert_array_equal(c[~hole0], 1.0)  # C = 1 on the source region
        assert np.all((c[f] > 0) & (c[f] < 1))  # a front pixel misses at least itself
        np.testing.assert_allclose(p, c * d * f, atol=1e-6)  # P = C * D on the front, 0 elsewhere
        assert p[ty, tx] == p.max()
        assert np.all(d[~f] == 0) and np.all(p[~f] == 0)


def test_exemplar_confidence_decays_from_the_rim_into_the_hole():
    """Filled pixels inherit C(p^) < 1, so confidence falls with depth into the hole (Criminisi Sec. III).

    The confidence of successive targets is NOT monotone (a front pixel gains confidence when a neighbouring patch
    is filled), so we test the decay with depth rather than along the iteration order.
    """
    img = _photo(48)
    valid = _box_valid(48, 48, 12, 36, 10, 38)
    tr = exemplar_inpaint(img, valid, record_every=0).traces[0]
    hole = valid[0, 0].numpy() == 0
    depth = ndimage.distance_transform_cdt(hole, metric="chessboard")
    c = tr.final_confidence
    assert np.all(c[hole] < 1) and np.all(c[hole] > 0)
    rim, mid, core = c[depth == 1].mean(), c[(depth >= 3) & (depth <= 5)].mean(), c[depth >= 8].mean()
    assert rim > mid > core


def test_exemplar_continues_a_straight_edge_exactly():
    """Data term: the isophote striking the front gets filled first, so the edge propagates through the hole."""
    img = torch.zeros(1, 3, 48, 48)
    img[..., 24:] = torch.tensor([0.9, 0.5, 0.2]).view(1, 3, 1, 1)
    img[..., :24] += torch.tensor([0.1, 0.2, 0.6]).view(1, 3, 1, 1)
    valid = _box_valid(48, 48, 14, 34, 12, 40)
    res = exemplar_inpaint(img, valid)
    ty, tx = res.targets[0]
    assert abs(tx - 23.5) <= 5  # first target: its patch sees the edge (radius 4 + central difference)
    flat = res.fronts[0] & (np.abs(np.arange(48) - 23.5) > 6)[None, :]
    assert np.all(res.data_maps[0][flat] == 0)  # no isophote on the flat parts of the front
    assert torch.equal(res.output, img)
    assert (mean_fill(img, valid) - img).abs().max() > 0.3


def test_exemplar_max_iters_stops_early_and_batch_is_per_image():
    img = torch.cat([_photo(32), _photo(32).flip(-1)])
    valid = _box_valid(32, 32, 10, 20, 10, 20)
    res = exemplar_inpaint(img, valid, max_iters=2)
    assert len(res.traces) == 2 and all(t.n_iters == 2 and not t.complete for t in res.traces)
    full = exemplar_inpaint(img, valid, record_every=0)
    single = exemplar_inpaint(img[1:], valid, record_every=0)
    assert torch.equal(full.output[1:], single.output)
    with pytest.raises(ValueError, match="patch_size"):
        exemplar_inpaint(img, valid, patch_size=8)


def test_exemplar_fills_every_pixel_of_a_64px_quarter_hole():
    # How long it takes is not asserted here (speed is measured by benchmarks, not tests).
    img = _photo(64)
    valid = _box_valid(64, 64, 16, 48, 16, 48)  # 25 % hole
    res = exemplar_inpaint(img, valid)
    tr = res.traces[0]
    assert tr.complete and (tr.fill_order[valid[0, 0].numpy() == 0] >= 0).all()
