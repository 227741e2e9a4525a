"""Figures: each function returns a Figure with the expected panels (Agg, no display); colour coding and tables."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure

from inpaintlib import viz


def test_inpaint_grid_has_one_row_per_sample_and_paints_the_hole(make_images, make_valid):
    image, valid = make_images(3), make_valid(3, boxes=(4, 10, 5, 12))
    out = torch.rand(image.shape, generator=torch.Generator().manual_seed(1))
    fig = viz.inpaint_grid({"image": image, "valid": valid, "net": out, "mean": out * 0.5}, n=2)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2 * (1 + 2 * 2 + 1)  # input | (raw, composite) x 2 methods | ground truth
    titles = [ax.get_title() for ax in fig.axes[:6]]
    assert titles == ["input (hole)", "net", "net\ncomposite", "mean", "mean\ncomposite", "ground truth"]
    shown = fig.axes[0].images[0].get_array()
    np.testing.assert_allclose(np.asarray(shown[6, 6]), viz.HOLE_COLOR)  # a hole pixel is magenta
    fig2 = viz.inpaint_grid({"image": image, "valid": valid, "out": out}, n=5, show_raw=False)
    assert len(fig2.axes) == 3 * 3
    with pytest.raises(ValueError, match="valid"):
        viz.inpaint_grid({"image": image, "out": out})


def test_figures_are_registered_with_pyplot_for_plt_show():
    fig = viz.mask_strip([np.ones((4, 4))])
    assert fig.number in plt.get_fignums()


def test_feature_grid_shows_n_channels():
    feats = torch.randn(1, 20, 8, 8)
    assert len(viz.feature_grid(feats, n=16).axes) == 16
    assert len(viz.feature_grid(feats[0, :5], n=16).axes) == 5


def test_heatmap_overlay_and_show_image(make_images):
    image = make_images(1)
    fig = viz.heatmap_overlay(image, torch.rand(4, 4), alpha=0.4)
    assert isinstance(fig, Figure) and len(fig.axes) == 1 and len(fig.axes[0].images) == 2
    assert fig.axes[0].images[1].get_array().shape == (16, 16)  # resized to the image
    assert len(viz.show_image(image[0], title="x").axes) == 1


def test_mask_strip_one_panel_per_mask_with_hole_ratio_titles():
    masks = [torch.ones(1, 1, 16, 16), np.zeros((8, 8)), np.eye(4)]
    fig = viz.mask_strip(masks)
    assert len(fig.axes) == 3
    assert [ax.get_title() for ax in fig.axes] == ["hole 0%", "hole 100%", "hole 75%"]
    with pytest.raises(ValueError):
        viz.mask_strip(masks, titles=["a"])


def test_learning_curves_from_records_and_frame():
    records = [{"step": s, "loss": 1 / (s + 1), "psnr": s * 0.1} for s in range(10)]
    records.append({"step": 10, "psnr": 2.0})  # an eval-only record
    fig = viz.learning_curves(records, keys=["loss", "psnr"])
    assert len(fig.axes) == 2
    assert len(fig.axes[0].lines[0].get_xdata()) == 10 and len(fig.axes[1].lines[0].get_xdata()) == 11
    assert len(viz.learning_curves(pd.DataFrame(records)).axes) == 2
    with pytest.raises(ValueError):
        viz.learning_curves(records, keys=["nope"])


def _table(offset=0.0):
    cols = ["(0.01,0.1]", "(0.1,0.2]", "all"]
    return pd.DataFrame({c: [30.0 - i + offset, 0.9 - 0.1 * i, 5.0 + i, 4.0] for i, c in enumerate(cols)},
                        index=["psnr", "ssim", "l1", "n"])


def test_results_table_puts_paper_numbers_beside_ours_with_labels():
    ours = _table()
    paper = _table(offset=3).drop(columns=["all"]).drop(index=["n"])
    t = viz.results_table(ours, paper, scale_label="ci", paper_table="Table 1")
    assert list(t.columns) == ["(0.01,0.1]", "(0.1,0.2]", "all"]
    assert list(t.index[:2]) == [("psnr", "ours (ci scale)"), ("psnr", "paper, Table 1")]  # side by side
    assert t.loc[("psnr", "paper, Table 1"), "(0.01,0.1]"] == 33.0
    assert t.loc[("psnr", "ours (ci scale)"), "(0.01,0.1]"] == 30.0
    assert np.isnan(t.loc[("psnr", "paper, Table 1"), "all"]) and np.isnan(t.loc[("n", "paper, Table 1"), "all"])
    md = viz.results_table(ours, paper, scale_label="ci", paper_table="Table 1", as_markdown=True)
    assert "| PSNR (dB) | paper, Table 1 | 33.00 | 32.00 | - |" in md
    with pytest.raises(ValueError, match="paper_table"):
        viz.results_table(ours, paper)
    alone = viz.results_table(ours, None, scale_label="demo")
    assert set(alone.index.get_level_values("source")) == {"ours (demo scale)"} and len(alone) == 4


def test_bucket_bars_one_panel_per_metric_one_bar_per_method_and_bucket():
    fig = viz.bucket_bars({"a": _table(), "b": _table(1.0)}, metrics=["psnr", "ssim"])
    assert len(fig.axes) == 2
    assert len(fig.axes[0].patches) == 2 * 2  # 2 methods x 2 buckets ("all" left out)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["a", "b"]  # one legend, below the panels
    assert not fig.axes[0].get_legend()
    assert len(viz.bucket_bars(_table()).axes) == 3  # psnr, ssim, l1 ("n" left out)


def test_figures_wider_than_the_page_are_scaled_down_to_it_keeping_their_shape():
    wide = viz.bucket_bars(_table(), size=(4.0, 3.0))  # 3 panels x 4 in = 12 in asked
    w, h = wide.get_size_inches()
    assert w == pytest.approx(viz.PAGE_WIDTH) and h == pytest.approx(3.0 * viz.PAGE_WIDTH / 12.0)
    narrow = viz.show_image(np.zeros((4, 4)))  # 3 in: unchanged
    assert tuple(narrow.get_size_inches()) == pytest.approx((3.0, 3.0))


def test_mask_gallery_one_row_per_label_hole_titles_and_blank_cells_for_short_rows(make_valid):
    full = make_valid(1, 8, 8, (0, 4, 0, 8))  # hole: top half
    fig = viz.mask_gallery({"a": [full, full, np.ones((8, 8))], "b": [np.zeros((8, 8))]})
    axes = np.array(fig.axes).reshape(2, 3)
    assert [ax.get_title() for ax in axes[0]] == ["50%", "50%", "0%"]
    assert axes[0, 0].get_ylabel() == "a" and axes[1, 0].get_ylabel() == "b"
    assert axes[1, 0].get_title() == "100%" and not axes[1, 1].axison and not axes[1, 2].axison
    assert [ax.get_title() for ax in viz.mask_gallery({"a": [full]}, hole_titles=False).axes] == [""]
    with pytest.raises(ValueError, match="non-empty"):
        viz.mask_gallery({"a": []})


def test_compact_table_rounds_per_row_formats_percent_and_nan_and_keeps_the_numbers():
    t = _table()
    t.loc["ssim", "all"] = np.nan
    shown = viz.compact_table(t, "caption", digits={"psnr": 1, "ssim": 3, "n": 0})
    cells = shown.data  # the formatted text the page shows
    assert cells.loc["psnr", "(0.01,0.1]"] == "30.0" and cells.loc["ssim", "(0.1,0.2]"] == "0.800"
    assert cells.loc["n", "all"] == "4" and cells.loc["l1", "all"] == "7.000"  # rows not named: 3 decimals
    assert cells.loc["ssim", "all"] == "n/a"
    assert t.loc["psnr", "(0.01,0.1]"] == 30.0  # the frame itself is not rounded
    html = shown.to_html()
    assert "caption" in html and "font-size: 0.8em" in html
    pct = viz.compact_table(pd.Series({"a": 0.125, "b": 1.0}, name="share"), digits=0, percent=True, transpose=True)
    assert list(pct.data.columns) == ["a", "b"] and list(pct.data.iloc[0]) == ["12%", "100%"]
    multi = pd.concat({"x": t, "y": t}, names=["method", "metric"]).swaplevel()
    assert viz.compact_table(multi, digits={"psnr": 0}).data.loc[("psnr", "y"), "(0.1,0.2]"] == "29"
    near_zero = viz.compact_table(pd.Series({"a": -0.0004, "b": -0.01, "c": -0.004}, name="d"), digits=2).data["d"]
    assert list(near_zero) == ["0.00", "-0.01", "0.00"]  # never "-0.00"
    assert viz.compact_table(pd.Series({"a": -0.004}), digits=0, percent=True).data.iloc[0, 0] == "0%"


def test_middlebury_colorwheel_has_55_colours_in_six_segments():
    wheel = viz.middlebury_colorwheel()
    assert wheel.shape == (55, 3)
    np.testing.assert_allclose(wheel[0], [1, 0, 0])  # red
    np.testing.assert_allclose(wheel[15], [1, 1, 0])  # yellow after RY = 15
    np.testing.assert_allclose(wheel[21], [0, 1, 0])  # green after YG = 6
    np.testing.assert_allclose(wheel[25], [0, 1, 1])  # cyan after GC = 4
    np.testing.assert_allclose(wheel[36], [0, 0, 1])  # blue after CB = 11
    np.testing.assert_allclose(wheel[49], [1, 0, 1])  # magenta after BM = 13


def test_flow_to_color_white_at_zero_saturated_at_max_and_direction_dependent():
    off = np.zeros((3, 3, 2))
    off[0, 0] = (1, 0)  # +x
    off[0, 1] = (-1, 0)  # -x
    off[0, 2] = (0, 0.5)  # half length
    col = viz.flow_to_color(off)
    assert col.shape == (3, 3, 3) and col.min() >= 0 and col.max() <= 1
    np.testing.assert_allclose(col[1, 1], [1, 1, 1])  # zero offset is white
    assert np.abs(col[0, 0] - col[0, 1]).max() > 0.5  # opposite directions, different hues
    assert col[0, 0].min() < 0.1  # full length: fully saturated
    assert 0.3 < col[0, 2].min() < 0.7  # half length: half saturated
    # channel-first tensor input in (dy, dx) order gives the same colours
    t = torch.tensor(off[..., ::-1].copy()).permute(2, 0, 1)
    np.testing.assert_allclose(viz.flow_to_color(t, order="yx"), col)
    assert viz.flow_legend(32).shape == (32, 32, 3)
