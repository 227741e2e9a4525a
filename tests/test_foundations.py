"""The Foundations chapter's analyses: each check its notebooks generate a sentence from gives the right answer on
cases where the answer is known."""
import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
import torch

from inpaintlib import foundations as F
from inpaintlib import metrics as Q
from inpaintlib.buckets import BUCKETS, bucket_labels
from inpaintlib.classical import exemplar_inpaint, mean_fill


def test_whole_minus_hole_psnr_gap_is_predicted_by_the_mask_alone(make_images, make_valid):
    image = make_images(3, 16, 16)
    valid = make_valid(3, 16, 16, [(2, 9, 3, 11), (12, 14, 0, 16)])
    for output in (mean_fill(image * valid, valid), torch.rand(image.shape, generator=torch.Generator().manual_seed(5))):
        comp = valid * image + (1 - valid) * output
        gap = Q.psnr(comp, image) - Q.psnr(comp, image, region=1 - valid)
        torch.testing.assert_close(gap.double(), F.dilution_gap_db(valid), atol=1e-4, rtol=0)


def test_bucket_uniformity_tells_an_even_spread_from_a_lopsided_one():
    even = np.concatenate([np.linspace(lo + 0.005, hi, 50) for lo, hi in BUCKETS])
    u = F.bucket_uniformity(even)
    assert list(u["counts"]) == [50] * 6 and u["outside"] == 0 and u["p_value"] > 0.5
    lopsided = np.concatenate([np.full(250, 0.05), np.full(50, 0.35), np.full(20, 0.9)])
    v = F.bucket_uniformity(lopsided)
    assert v["p_value"] < 1e-6 and v["outside"] == pytest.approx(20 / 320) and v["shares"][0] == pytest.approx(250 / 320)


def test_hole_ratio_table_shares_and_extremes():
    t = F.hole_ratio_table({"a": np.array([0.05, 0.15, 0.95, 0.15])})
    assert list(t.columns) == ["mean", "max", *bucket_labels(), "outside"]
    row = t.loc["a"]
    assert row["mean"] == pytest.approx(0.325) and row["max"] == 0.95
    assert row["(0.1,0.2]"] == 0.5 and row["outside"] == 0.25
    assert row[bucket_labels()].sum() + row["outside"] == pytest.approx(1.0)


def test_hole_ratios_are_seeded_and_come_from_each_generator():
    gens = F.generators({"half": lambda h, w, rng: np.vstack([np.zeros((h // 2, w)), np.ones((h - h // 2, w))])})
    assert list(gens)[:len(F.GALLERY)] == list(F.GALLERY) and "half" in gens
    r1, r2 = F.hole_ratios(gens, 32, 5, seed=3), F.hole_ratios(gens, 32, 5, seed=3)
    assert all(np.array_equal(r1[k], r2[k]) for k in gens)
    assert np.all(r1["half"] == 0.5) and np.all(r1["center_box"] == pytest.approx(0.25, abs=0.02))


def test_rises_names_every_step_that_does_not_fall():
    assert F.rises(pd.Series([30.0, 25.0, 20.0], index=list("abc"))) == []
    assert F.rises(pd.Series([30.0, 31.0, 20.0, 20.0], index=list("abcd"))) == [("a", "b"), ("c", "d")]
    assert F.rises(pd.Series([30.0, np.nan, 20.0], index=list("abc"))) == []


def _results(make_images, make_valid, noise: float):
    """Mean fill and a near-perfect method on 8 images x 8 masks (cycle pairing: mask k with image k, one batch),
    with two masks in each of three buckets."""
    images = make_images(8, 16, 16)
    boxes = [(0, 4, 0, 4), (4, 8, 4, 8), (0, 8, 0, 8), (8, 16, 0, 8), (0, 8, 0, 12), (4, 12, 4, 16),
             (0, 12, 0, 12), (4, 16, 4, 16)]  # hole ratios 1/16, 1/16, 1/4, 1/4, 3/8, 3/8, 9/16, 9/16
    masks = torch.cat([make_valid(1, 16, 16, b) for b in boxes])
    near = (images + noise * torch.randn(images.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    methods = {"mean fill": mean_fill, "near truth": lambda x, v: near}
    proto = Q.Protocol(metrics=("psnr",), buckets=((0.0, 0.2), (0.2, 0.5), (0.5, 0.6)))
    return {k: Q.evaluate(fn, images, masks, proto, batch_size=8) for k, fn in methods.items()}


def test_paired_winners_and_the_generated_sentence_agree_with_the_numbers(make_images, make_valid):
    results = _results(make_images, make_valid, noise=0.01)
    win = F.paired_winners(results, "psnr")
    assert list(win["best"]) == ["near truth"] * 3 and win["clear"].all() and (win["margin"] > 10).all()
    text = F.describe_by_bucket(results, "ci")
    assert text.startswith("At ci scale, the best mean PSNR per bucket goes to near truth")
    assert f"{results['near truth'].table.loc['psnr', 'all']:.2f} dB" in text


def test_known_patch_counts_are_the_fully_known_windows(make_valid):
    valid = torch.cat([make_valid(1, 8, 8, boxes=()), make_valid(1, 8, 8, (0, 8, 0, 4)), make_valid(1, 8, 8, (0, 8, 0, 8))])
    assert F.known_patch_counts(valid, 3).tolist() == [36, 12, 0]  # 6x6 windows; right half: 2 columns x 6 rows


def test_texture_ratio_is_one_for_the_truth_and_zero_for_a_flat_fill(make_images, make_valid):
    image, valid = make_images(2, 16, 16), make_valid(2, 16, 16, (3, 12, 3, 12))
    assert F.texture_ratio(image, image, valid) == pytest.approx(1.0)
    assert F.texture_ratio(torch.full_like(image, 0.5), image, valid) == pytest.approx(0.0)


def test_exemplar_trace_terms_description_and_figures():
    g = torch.Generator().manual_seed(0)
    image = torch.linspace(0, 1, 24).repeat(24, 1).expand(1, 3, 24, 24) * 0.8 + 0.2 * torch.rand(1, 3, 24, 24, generator=g)
    one, box = F.box_example(image.contiguous())
    assert box[0, 0, 8:16, 6:18].sum() == 0 and box.sum() == 24 * 24 - 8 * 12
    ex = exemplar_inpaint(one * box, box, patch_size=5, record_every=1)
    trace = ex.traces[0]
    terms = F.target_terms(trace)
    assert len(terms) == len(trace.iterations) and terms["confidence"].iloc[0] == pytest.approx(trace.target_confidence[0])
    np.testing.assert_allclose(terms["priority"], terms["confidence"] * terms["data"], rtol=1e-5)
    assert F.describe_fill(trace).startswith(f"The fill took {trace.n_iters} iterations.")
    maps = F.exemplar_maps_figure(trace, n_steps=3)
    assert sum(len(ax.images) for ax in maps.axes) == 9  # 3 terms x 3 moments (colour bars hold no image)
    assert len(F.fill_order_figure(one * box, trace, ex.output).axes) == 4  # 3 panels + 1 colour bar


def test_bucket_sample_pairs_each_mask_with_the_image_evaluate_uses(make_images, make_valid):
    images = make_images(3, 8, 8)
    masks = torch.cat([make_valid(1, 8, 8, (0, k + 1, 0, 8)) for k in range(5)])
    x, v = F.bucket_sample(images, masks, [0, 1, 0, 1, 1], bucket=1, n=2)
    assert torch.equal(v, masks[[1, 3]]) and torch.equal(x, images[[1, 0]])  # mask k with image k mod 3


def test_validation_verdicts_accept_a_valid_mask_and_explain_the_rest(make_valid):
    v = F.validation_verdicts({"ok": make_valid(1, 4, 4, (0, 2, 0, 2)), "soft": torch.full((1, 1, 4, 4), 0.5)})
    assert v["ok"] == "accepted" and v["soft"].startswith("ValueError:") and "binary" in v["soft"]


def test_frechet_bias_falls_with_the_sample_size():
    fd = F.frechet_bias((50, 500), dim=8, seed=0)
    assert list(fd.index) == [50, 500] and fd.iloc[0] > fd.iloc[1] > 0


def test_protocol_table_rows_and_the_mean_fill_whole_vs_hole_order(make_images, make_valid):
    image, valid = make_images(2, 16, 16), make_valid(2, 16, 16, (4, 12, 4, 12))
    t = F.protocol_table(image, valid, {"mean fill": mean_fill(image * valid, valid)})
    assert len(t) == 9 and list(t.columns) == ["mean fill"]
    assert t.loc["PSNR whole (composite)", "mean fill"] > t.loc["PSNR hole only", "mean fill"]
    assert t.loc["L1 % hole", "mean fill"] > t.loc["L1 % whole", "mean fill"]
