"""Mask generators stay in their parameter ranges; buckets, test sets and the Liu loader behave."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from inpaintlib import masks as M
from inpaintlib.papers.deepgin.masks import deepgin_masks
from inpaintlib.papers.msfef.masks import TABLE1_BUCKETS, msfef_rectangle_mask

SIZES = (32, 64)


def _ratio(m: np.ndarray) -> float:
    return 1.0 - float(m.mean(dtype=np.float64))


def _hole_bbox(m: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(m == 0)
    return ys.min(), ys.max(), xs.min(), xs.max()


@pytest.mark.parametrize("name", sorted(M.GENERATORS))
@pytest.mark.parametrize("size", [(32, 32), (64, 48), (256, 256)])
def test_every_generator_returns_a_binary_float32_valid_map_of_the_requested_size(name, size):
    h, w = size
    rng = np.random.default_rng(0)
    for _ in range(3 if h == 256 else 10):
        m = M.GENERATORS[name](h, w, rng)
        assert m.dtype == np.float32 and m.shape == (h, w)
        assert set(np.unique(m)) <= {0.0, 1.0}
        assert (m == 0).any(), f"{name} produced a mask without holes"
        assert (m == 1).any(), f"{name} produced an all-hole mask"


@pytest.mark.parametrize("name", sorted(set(M.GENERATORS) - {"center_box"}))
def test_generators_are_deterministic_given_the_seed_and_vary_with_it(name):
    g = M.GENERATORS[name]
    a = [g(64, 64, np.random.default_rng(7)) for _ in range(2)]
    assert np.array_equal(a[0], a[1])
    others = [g(64, 64, np.random.default_rng(s)) for s in range(8, 14)]
    assert any(not np.array_equal(a[0], o) for o in others)


def test_generators_reject_a_seed_instead_of_a_generator():
    with pytest.raises(ValueError, match="numpy.random.Generator"):
        M.aim_box_mask(64, 64, 0)


@pytest.mark.parametrize("h,w", [(32, 32), (64, 64), (64, 40), (256, 256)])
def test_box_mask_covers_a_quarter_of_the_image_inside_it(h, w):
    rng = np.random.default_rng(1)
    tops = set()
    for _ in range(500):
        m = M.box_mask(h, w, rng)
        y0, y1, x0, x1 = _hole_bbox(m)
        assert (m[y0:y1 + 1, x0:x1 + 1] == 0).all(), "hole is not one filled rectangle"
        bh, bw = y1 - y0 + 1, x1 - x0 + 1
        # sides round(h/2), round(w/2): area 25% up to rounding of one row/column
        assert abs(bh * bw - 0.25 * h * w) <= (h + w) / 2 + 1
        tops.add((y0, x0))
    assert len(tops) > 20, "box position is not random"


def test_center_box_is_centred():
    m = M.center_box_mask(64, 64)
    assert _hole_bbox(m) == (16, 47, 16, 47)


@pytest.mark.parametrize("h,w", [(32, 32), (64, 64), (64, 100)])
def test_aim_box_sides_are_30_to_70_percent_of_each_side(h, w):
    rng = np.random.default_rng(2)
    hs, ws = [], []
    for _ in range(2000):
        m = M.aim_box_mask(h, w, rng)
        y0, y1, x0, x1 = _hole_bbox(m)
        assert (m[y0:y1 + 1, x0:x1 + 1] == 0).all()
        hs.append((y1 - y0 + 1) / h)
        ws.append((x1 - x0 + 1) / w)
    assert min(hs) >= 0.3 and max(hs) <= 0.7 and min(ws) >= 0.3 and max(ws) <= 0.7
    # the whole range is used, not one value
    assert min(hs) < 0.35 and max(hs) > 0.65 and min(ws) < 0.35 and max(ws) > 0.65


@pytest.mark.parametrize("h,w", [(32, 32), (64, 64), (64, 128), (128, 64)])
def test_msfef_rectangle_height_is_between_0_1_and_0_25_of_the_image_height(h, w):
    rng = np.random.default_rng(3)
    heights, widths = [], []
    for _ in range(2000):
        m = msfef_rectangle_mask(h, w, rng)
        y0, y1, x0, x1 = _hole_bbox(m)
        assert (m[y0:y1 + 1, x0:x1 + 1] == 0).all() and (m == 0).sum() == (y1 - y0 + 1) * (x1 - x0 + 1)
        heights.append(y1 - y0 + 1)
        widths.append(x1 - x0 + 1)
    assert min(heights) >= 0.1 * h and max(heights) <= 0.25 * h
    assert min(widths) >= 0.1 * h - 1e-9 and max(widths) <= 0.25 * h  # width measured in heights (our choice)
    assert len(set(heights)) > 1


def test_brush_stroke_parameters_follow_deepfill_v2():
    for size in (64, 256):
        rng = np.random.default_rng(4)
        s = min(1.0, size / 256)
        r = math.sqrt(2) * size / 8
        n_strokes, n_vertices, widths = [], [], []
        for _ in range(400):
            strokes = M.brush_stroke_params(size, size, rng)
            n_strokes.append(len(strokes))
            for st in strokes:
                n_vertices.append(len(st["angles"]))
                widths.append(st["width"])
                assert len(st["points"]) == len(st["angles"]) + 1
                assert all(0 <= l <= 2 * r for l in st["lengths"])
                for i, a in enumerate(st["angles"]):
                    base = 2 * math.pi - a if i % 2 == 0 else a  # even moves turn by 2pi - angle
                    assert 2 * math.pi / 5 - 2 * math.pi / 15 - 1e-9 <= base <= 2 * math.pi / 5 + 2 * math.pi / 15 + 1e-9
                for x, y in st["points"]:
                    assert 0 <= x <= size - 1 and 0 <= y <= size - 1
        assert set(n_strokes) == {1, 2, 3}
        assert set(n_vertices) == set(range(4, 12))
        assert min(widths) >= max(1, int(12 * s)) and max(widths) < 40 * s


def test_brush_stroke_mask_is_its_parameters_drawn():
    a = M.brush_stroke_mask(64, 64, np.random.default_rng(5))
    b = M.draw_strokes(64, 64, M.brush_stroke_params(64, 64, np.random.default_rng(5)))
    assert np.array_equal(a, b)


def test_aim_free_form_parameters_follow_reference_and_scale_below_256():
    for size, (lmin, lmax, wmin, wmax) in {256: (10, 69, 10, 24), 512: (10, 69, 10, 24),
                                           64: (2, 17, 2, 6)}.items():
        rng = np.random.default_rng(6)
        n_strokes, n_segments, lengths, widths = set(), set(), [], []
        for _ in range(150):
            strokes = M.aim_free_form_params(size, size, rng)
            n_strokes.add(len(strokes))
            for st in strokes:
                n_segments.add(len(st["lengths"]))
                lengths += st["lengths"]
                widths.append(st["width"])
        assert n_strokes <= set(range(15, 24)) and len(n_strokes) >= 7
        assert n_segments == {1, 2, 3, 4, 5}
        assert min(lengths) >= lmin and max(lengths) <= lmax
        assert min(widths) >= wmin and max(widths) <= wmax


def test_cellular_automaton_is_blocky_at_its_grid_scale_and_dilated_with_a_cross():
    from scipy.ndimage import binary_dilation, generate_binary_structure
    rng = np.random.default_rng(7)
    for s in (2, 4, 8):
        raw = M.cellular_automaton_mask(64, 64, np.random.default_rng(s), scale=s, dilate=False)
        blocks = raw.reshape(64 // s, s, 64 // s, s)
        assert (blocks == blocks[:, :1, :, :1]).all(), f"not constant on {s}x{s} blocks"
        full = M.cellular_automaton_mask(64, 64, np.random.default_rng(s), scale=s)
        expect = binary_dilation(raw == 0, structure=generate_binary_structure(2, 1))
        assert np.array_equal(full == 0, expect)
    for _ in range(300):
        m = M.cellular_automaton_mask(64, 64, rng)
        assert set(np.unique(m)) <= {0.0, 1.0}


def test_cellular_automaton_applies_the_3x3_majority_vote_r_times_to_bernoulli_noise():
    # independent re-implementation of the rule in book/reference_implementations.md ("AIM 2020 masks"): count of
    # holes in the 3x3 window
    # (zero border) >= 5 keeps a hole; scale 1 means no upsampling and no dilation
    from scipy.ndimage import convolve
    for seed, r in [(0, 2), (1, 3), (2, 6)]:
        grid = (np.random.default_rng(seed).random((40, 48)) < 0.5).astype(int)
        for _ in range(r):
            grid = (convolve(grid, np.ones((3, 3), int), mode="constant", cval=0) >= 5).astype(int)
        m = M.cellular_automaton_mask(40, 48, np.random.default_rng(seed), scale=1, iterations=r)
        assert np.array_equal(m == 0, grid == 1)


def test_cellular_automaton_draws_scale_and_iterations_from_reference_ranges():
    # at 256 the block size of the undilated mask must be one of 1, 2, 4, 8 and all four occur
    seen = set()
    for seed in range(40):
        raw = M.cellular_automaton_mask(256, 256, np.random.default_rng(seed), dilate=False)
        for s in (8, 4, 2, 1):
            b = raw.reshape(256 // s, s, 256 // s, s)
            if (b == b[:, :1, :, :1]).all():
                seen.add(s)
                break
    assert seen == {1, 2, 4, 8}


def test_irregular_thickness_range():
    assert M.irregular_thickness(512, 512) == (3, 30)
    assert M.irregular_thickness(256, 256) == (3, 15)
    assert M.irregular_thickness(64, 64) == (1, 3)


def test_irregular_masks_spread_over_the_liu_range():
    rng = np.random.default_rng(9)
    r = np.array([_ratio(M.irregular_mask(64, 64, rng)) for _ in range(300)])
    assert r.min() > 0.01 and np.quantile(r, 0.95) <= 0.6
    counts = np.histogram(r, bins=[0.01, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6])[0]
    assert (counts > 20).all(), counts


@pytest.mark.parametrize("size", SIZES)
def test_sample_in_bucket_always_lands_in_the_bucket(size):
    rng = np.random.default_rng(10)
    for b, (lo, hi) in enumerate(M.BUCKETS):
        for _ in range(40 if size == 32 else 25):
            r = _ratio(M.sample_in_bucket(M.irregular_mask, b, size, size, rng))
            assert lo < r <= hi


def test_sample_in_bucket_works_by_rejection_for_other_generators_and_gives_up_loudly():
    rng = np.random.default_rng(11)
    for _ in range(50):
        r = _ratio(M.sample_in_bucket("aim_box", (0.2, 0.3), 64, 64, rng))
        assert 0.2 < r <= 0.3
    with pytest.raises(RuntimeError, match="no 64x64 mask"):
        M.sample_in_bucket(msfef_rectangle_mask, 5, 64, 64, rng, max_tries=20)


@pytest.mark.parametrize("generator, bucket, words", [
    ("irregular", 9, r"bucket 9 does not exist: there are 6 buckets, indices 0 to 5"),
    ("irregualr", 0, r"unknown mask generator 'irregualr'; known: \["),
    ("irregular", "(0.1,0.2]", r"an index into the buckets or a \(lo, hi\) pair"),
], ids=["bucket 9 of 6", "unknown generator", "a label"])
def test_sample_in_bucket_refuses_a_bucket_or_generator_that_does_not_exist(generator, bucket, words):
    with pytest.raises(ValueError, match=words):
        M.sample_in_bucket(generator, bucket, 32, 32, np.random.default_rng(0), max_tries=5)


def test_deepgin_masks_gives_box_ca_and_free_form_for_each_image():
    rng = np.random.default_rng(12)
    box, ca, ff = deepgin_masks(64, 64, rng)
    y0, y1, x0, x1 = _hole_bbox(box)
    assert (box == 0).sum() == (y1 - y0 + 1) * (x1 - x0 + 1)
    assert 0.3 * 64 <= y1 - y0 + 1 <= 0.7 * 64
    assert not np.array_equal(ca, ff)
    assert len(deepgin_masks(64, 64, rng, free_form="deepfill_v2")) == 3
    with pytest.raises(ValueError):
        deepgin_masks(64, 64, rng, free_form="nope")


def test_bucket_of_respects_the_closed_side():
    assert M.bucket_of(0.1) == 0 and M.bucket_of(0.1, closed="left") == 1
    assert M.bucket_of(0.6) == 5 and M.bucket_of(0.6, closed="left") is None
    assert M.bucket_of(0.01) is None and M.bucket_of(0.01, TABLE1_BUCKETS, closed="left") == 0
    assert M.bucket_of(0.5, TABLE1_BUCKETS, closed="left") is None
    assert M.bucket_of(0.75) is None
    assert M.bucket_label(0) == "(0.01,0.1]" and M.bucket_label(4, TABLE1_BUCKETS, "left") == "[0.4,0.5)"
    with pytest.raises(ValueError):
        M.bucket_of(0.3, closed="both")


def test_hole_ratio_and_to_tensor_check_the_valid_convention():
    m = np.ones((8, 8), np.float32)
    m[:2] = 0
    assert M.hole_ratio(m) == pytest.approx(0.25)
    t = M.to_tensor([m, np.ones((8, 8), np.float32)])
    assert t.shape == (2, 1, 8, 8) and t.dtype == torch.float32
    assert torch.allclose(M.hole_ratio(t), torch.tensor([0.25, 0.0]))
    with pytest.raises(ValueError, match="binary"):
        M.hole_ratio(m * 0.5)
    with pytest.raises(ValueError, match="binary"):
        M.to_tensor(m * 255)
    with pytest.raises(ValueError, match="boolean"):
        M.to_tensor(m > 0)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_a_0_255_image_is_refused_with_the_way_to_convert_it(dtype):
    m = np.full((8, 8), 255, dtype)
    m[:2] = 0
    for call in (M.to_tensor, M.hole_ratio):
        with pytest.raises(ValueError, match="0/255") as err:
            call(m)
        msg = str(err.value)
        assert "inpaintlib.inference.load_mask(path, convention=" in msg and "/ 255" in msg
        assert "1 = known pixel, 0 = hole" in msg


# ------------------------------------------------------------------ test sets on disk

@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("masks") / "set"
    return M.write_mask_testset(out, size=32, per_bucket=3, seed=0)


def test_written_test_set_reads_back_with_buckets_and_png_polarity(small_set):
    ts = M.MaskTestSet(small_set)
    assert len(ts) == 18
    for i in range(len(ts)):
        v, b = ts[i]
        assert v.shape == (1, 32, 32) and v.dtype == torch.float32
        lo, hi = M.BUCKETS[b]
        assert lo < 1 - float(v.mean()) <= hi
    assert ts.masks().shape == (18, 1, 32, 32)
    assert ts.masks(bucket=2).shape == (3, 1, 32, 32)
    assert sorted(ts.by_bucket()) == list(range(6))
    png = np.asarray(Image.open(small_set / ts.index[0]["file"]))
    v0, _ = ts[0]
    assert np.array_equal(png == 255, v0[0].numpy() == 1), "PNG 255 must mean known"
    assert set(json.loads((small_set / "manifest.json").read_text())["files"]) == {r["file"] for r in ts.index}


def test_rewriting_with_the_same_arguments_is_a_no_op(small_set):
    before = {p.name: p.stat().st_mtime_ns for p in small_set.iterdir()}
    M.write_mask_testset(small_set, size=32, per_bucket=3, seed=0)
    assert {p.name: p.stat().st_mtime_ns for p in small_set.iterdir()} == before


def test_same_seed_gives_identical_files_and_other_arguments_are_refused(small_set, tmp_path):
    again = M.write_mask_testset(tmp_path / "again", size=32, per_bucket=3, seed=0)
    a = json.loads((small_set / "manifest.json").read_text())["files"]
    b = json.loads((again / "manifest.json").read_text())["files"]
    assert a == b
    with pytest.raises(ValueError, match="other than a mask test set"):
        M.write_mask_testset(again, size=32, per_bucket=3, seed=1)
    assert not any(p.name.startswith(".again.tmp") for p in tmp_path.iterdir())


def test_modified_mask_file_is_refused_and_rewrite_repairs_it(tmp_path):
    out = M.write_mask_testset(tmp_path / "s", size=32, per_bucket=1, seed=3)
    f = out / "b0_00000.png"
    arr = np.asarray(Image.open(f)).copy()
    arr[0, 0] = 255 - arr[0, 0]
    Image.fromarray(arr).save(f)
    with pytest.raises(ValueError, match="sha256 of b0_00000.png"):
        M.MaskTestSet(out)
    with pytest.warns(UserWarning, match="rewriting"):
        M.write_mask_testset(out, size=32, per_bucket=1, seed=3)
    assert len(M.MaskTestSet(out)) == 6


def test_msfef_buckets_are_left_closed_in_a_written_set(tmp_path):
    out = M.write_mask_testset(tmp_path / "m", 32, 2, 0, buckets=TABLE1_BUCKETS, closed="left")
    ts = M.MaskTestSet(out)
    assert len(ts) == 10 and ts.label(0) == "[0.01,0.1)"
    for (lo, hi), r, b in zip([TABLE1_BUCKETS[i] for i in ts.bucket_ids], ts.hole_ratios, ts.bucket_ids):
        assert lo <= r < hi


# ------------------------------------------------------------------ Liu et al. loader

def _fake_liu(folder: Path, white_is_hole: bool, n_per_bucket: int = 2, size: int = 96) -> None:
    folder.mkdir(parents=True)
    k = 0
    for b in range(6):
        for _ in range(n_per_bucket):
            v = M.sample_in_bucket("irregular", b, size, size, np.random.default_rng([5, k]))
            hole = v == 0
            img = (hole if white_is_hole else ~hole).astype(np.uint8) * 255
            Image.fromarray(img).save(folder / f"{k:05d}.png")
            k += 1


def test_liu_loader_reads_the_right_polarity_and_resizes_binary(tmp_path):
    _fake_liu(tmp_path / "liu", white_is_hole=True)
    coll = M.load_liu_irregular_masks(tmp_path / "liu", polarity="white_is_hole", size=48)
    assert len(coll) == 12
    m = coll.masks()
    assert m.shape == (12, 1, 48, 48) and set(m.unique().tolist()) <= {0.0, 1.0}
    assert (coll.bucket_ids >= 0).all()
    # nearest-neighbour halving keeps the hole ratio close to the original bucket
    assert coll.counts()["(0.5,0.6]"] >= 1


def test_a_mask_of_another_size_is_refused_by_name_unless_size_is_given(tmp_path):
    # EdgeConnect's Places2 examples: one 600 x 512 mask among 256 x 256 ones (here 40 x 32 among 32 x 32)
    folder = tmp_path / "mixed"
    folder.mkdir()
    for k in range(4):
        v = M.sample_in_bucket("irregular", 2, 32, 32, np.random.default_rng(k))
        Image.fromarray((v == 0).astype(np.uint8) * 255).save(folder / f"{k:05d}.png")
    odd = np.zeros((40, 32), np.uint8)
    odd[5:15, 5:15] = 255
    Image.fromarray(odd).save(folder / "00002_big.png")
    with pytest.raises(ValueError) as err:
        M.load_liu_irregular_masks(folder, polarity="white_is_hole", check_polarity=False)
    msg = str(err.value)
    assert "00002_big.png" in msg and "40x32" in msg and "32x32" in msg and "size=" in msg
    coll = M.load_liu_irregular_masks(folder, polarity="white_is_hole", size=32, check_polarity=False)
    m = coll.masks()
    assert m.shape == (5, 1, 32, 32) and set(m.unique().tolist()) == {0.0, 1.0}
    # a collection built directly refuses the same at stacking time, and resizes with size=
    files = sorted(folder.iterdir())
    load = lambda p: (np.asarray(Image.open(p)) == 0).astype(np.float32)  # noqa: E731
    ratios = [0.1] * len(files)
    with pytest.raises(ValueError, match="00002_big.png is 40x32"):
        M.MaskCollection(files, load, ratios).masks()
    assert M.MaskCollection(files, load, ratios, size=16).masks().shape == (5, 1, 16, 16)


def test_liu_loader_rejects_the_wrong_polarity_and_requires_it_explicitly(tmp_path):
    _fake_liu(tmp_path / "liu", white_is_hole=True)
    with pytest.raises(ValueError, match="flip it"):
        M.load_liu_irregular_masks(tmp_path / "liu", polarity="white_is_valid")
    with pytest.raises(ValueError, match="explicitly"):
        M.load_liu_irregular_masks(tmp_path / "liu", polarity="auto")
    with pytest.raises(TypeError):
        M.load_liu_irregular_masks(tmp_path / "liu")  # polarity has no default


# ------------------------------------------------------------ one set of reading rules for both mask readers
def _write_kind(folder: Path, kind: str, n: int = 6, size: int = 48) -> list[np.ndarray]:
    """``n`` Liu-style masks (one per bucket, white = hole) written as ``kind``; returns their valid maps."""
    folder.mkdir(parents=True)
    out = []
    for k in range(n):
        v = M.sample_in_bucket("irregular", k % 6, size, size, np.random.default_rng([7, k]))
        white = v == 0
        path = folder / f"{k:05d}.png"
        if kind == "0/1 levels":
            Image.fromarray(white.astype(np.uint8)).save(path)
        elif kind == "alpha channel":  # black everywhere, the mask in the transparency
            a = np.zeros((size, size, 4), np.uint8)
            a[..., 3] = white * 255
            Image.fromarray(a, "RGBA").save(path)
        elif kind == "truncated":
            Image.fromarray(white.astype(np.uint8) * 255).save(path)
            path.write_bytes(path.read_bytes()[:60])
        out.append(v)
    return out


_READ_ERRORS = {
    "0/1 levels": None,  # read by their own full scale, not blamed on the polarity or read as "no hole"
    "alpha channel": r"00000.png has transparent pixels.*the mask is in the alpha channel",
    "truncated": r"mask file \S*00000.png is corrupt or truncated",
}


@pytest.mark.parametrize("kind", sorted(_READ_ERRORS))
def test_the_liu_loader_and_load_mask_read_mask_files_by_the_same_rules(tmp_path, kind):
    from inpaintlib.inference import load_mask

    error = _READ_ERRORS[kind]
    valid = _write_kind(tmp_path / "m", kind)
    readers = {"load_mask": lambda: load_mask(tmp_path / "m" / "00000.png", "255=hole", max_hole_ratio=None)}
    for check in (True, False):
        readers[f"liu check_polarity={check}"] = lambda check=check: M.load_liu_irregular_masks(
            tmp_path / "m", "white_is_hole", check_polarity=check).masks()
    for name, read in readers.items():
        if error is not None:
            with pytest.raises(ValueError, match=error):
                read()
            continue
        got = read()
        expected = torch.from_numpy(np.stack(valid[:len(got)]))[:, None]
        assert torch.equal(got, expected), name


_POLARITY_WORDS = {
    "liu, inverted": r"median mask makes \d+% of the image a hole.*flip it - did you mean polarity='white_is_hole'",
    "load_mask, inverted": r"makes \d+% of the image a hole.*flip it - did you mean convention='255=hole'",
    "liu, no hole in any mask": r"flipping the polarity \(polarity='white_is_hole'\) would not help",
}


@pytest.mark.parametrize("reader", sorted(_POLARITY_WORDS))
def test_one_polarity_check_and_message_serve_both_readers(tmp_path, reader):
    from inpaintlib.inference import MaskConventionWarning, load_mask

    words = _POLARITY_WORDS[reader]
    folder = tmp_path / "m"
    if reader == "liu, no hole in any mask":  # all white under white_is_valid: 0 % hole, 100 % if flipped
        folder.mkdir()
        for k in range(3):
            Image.fromarray(np.full((16, 16), 255, np.uint8)).save(folder / f"{k:05d}.png")
    else:
        _fake_liu(folder, white_is_hole=True, n_per_bucket=1, size=48)
    if reader.startswith("load_mask"):
        with pytest.warns(MaskConventionWarning, match=words):
            load_mask(folder / "00000.png", "255=known")
    else:
        with pytest.raises(ValueError, match=words):
            M.load_liu_irregular_masks(folder, polarity="white_is_valid")
