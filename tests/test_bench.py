"""The bench's quality protocol (fixed mask sets, pairwise ranking, demo gain), publishing a demo checkpoint, and the
your-image helpers: bookkeeping on small hand-made inputs whose right answer is known."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from inpaintlib.bench import quality as Q
from inpaintlib.bench import yours


def _pairs(means: dict[str, float], n: int = 6, noise: float = 0.01, bucket: str = "b", seed: int = 0) -> pd.DataFrame:
    """Per-pair PSNRs of methods with the given means (small noise, shared across methods: a paired design)."""
    rng = np.random.default_rng(seed)
    shared = rng.normal(0, 3, n)
    rows = []
    for name, m in means.items():
        method, ckpt = (name.split(":") + ["-"])[:2]
        for k in range(n):
            rows.append(dict(method=method, checkpoint=ckpt, mask_set="irregular", bucket=bucket, image=k, mask=k,
                             psnr=m + shared[k] + rng.normal(0, noise), ssim=0.5, l1=1.0))
    return pd.DataFrame(rows)


def test_mask_sets_are_fixed_and_hold_what_the_protocol_says():
    a, b = Q.mask_sets(size=32, per_bucket=2, per_type=2), Q.mask_sets(size=32, per_bucket=2, per_type=2)
    assert set(a) == {"irregular", "centre box", "DeepGIN types"}
    for name in a:
        assert torch.equal(a[name][0], b[name][0]) and a[name][1] == b[name][1]  # seeded: the same masks twice
    irregular, ids = a["irregular"]
    assert irregular.shape == (12, 1, 32, 32) and sorted(set(ids)) == list(range(6))
    box = a["centre box"][0][0, 0]
    assert (box == 0).sum() == 16 * 16 and box[8:24, 8:24].sum() == 0  # the 25% centre square is the hole
    typed, labels = a["DeepGIN types"]
    assert labels == ["box", "cellular automaton", "free-form"] * 2 and typed.shape[0] == 6


def test_ranking_says_cannot_tell_only_where_the_paired_difference_is_within_two_standard_errors():
    pairs = _pairs({"A": 30.0, "B": 29.0, "C:ci": 28.995})
    rank = Q.ranking(pairs, "irregular").loc["b"]
    assert rank["ranking"] in ("A > B ≈ C (ci)", "A > C (ci) ≈ B")  # B and C: 0.005 dB apart, noise 0.01
    assert (rank["clear"], rank["cannot_tell"]) == (1, 1)
    assert Q.leader(rank["ranking"]) == "A"
    # L1 is better when lower: the order flips
    low = _pairs({"A": 1.0, "B": 3.0}).assign(l1=lambda f: f["psnr"])
    assert Q.ranking(low, "irregular", "l1").loc["b", "ranking"].startswith("A >")


def test_crops_of_one_photograph_count_once_in_the_standard_error():
    # 4 photographs x 6 crops: B trails A by 1 dB on three photographs and leads by 0.6 on the fourth; within a
    # photograph the difference hardly varies. Over the 24 pairs that looks certain; over 4 photographs it is not.
    rng = np.random.default_rng(0)
    rows = []
    for k in range(24):
        photo = k % 4
        base = rng.normal(25, 3)
        for name, shift in (("A", 0.0), ("B", -1.0 if photo < 3 else 0.6)):
            rows.append(dict(method=name, checkpoint="-", mask_set="irregular", bucket="b", image=k, mask=k,
                             photo=f"p{photo}", psnr=base + shift + rng.normal(0, 0.01), ssim=0.5, l1=1.0))
    pairs = pd.DataFrame(rows)
    assert Q.ranking(pairs.drop(columns="photo"), "irregular").loc["b", "ranking"] == "A > B"  # pairs as if independent
    assert Q.ranking(pairs, "irregular").loc["b", "ranking"] == "A ≈ B"  # by photograph: cannot tell
    summ = Q.summary(pairs).set_index(["method", "bucket", "metric"])
    assert summ.loc[("B", "b", "psnr"), "n"] == 24 and summ.loc[("B", "b", "psnr"), "n_photos"] == 4
    per_photo = pairs[pairs.method == "B"].groupby("photo")["psnr"].mean()
    assert summ.loc[("B", "b", "psnr"), "se"] == pytest.approx(per_photo.std(ddof=1) / 2)
    assert Q.test_sources()[:4] == Q.test_sources()[4:8]  # item i is a crop of photograph i mod 4 (SampleScenes)


def test_summary_and_demo_gain_are_computed_on_the_same_pairs():
    pairs = pd.concat([_pairs({"Net:ci": 20.0, "Net:demo": 21.5}, bucket="b0"),
                       _pairs({"Net:ci": 18.0, "Net:demo": 17.0}, bucket="b1", seed=1)])
    gain = Q.demo_gain(pairs)
    assert gain.loc["Net", "b0"] == pytest.approx(1.5, abs=0.05) and gain.loc["Net", "b1"] == pytest.approx(-1, abs=0.05)
    summ = Q.summary(pairs)
    row = summ[(summ.method == "Net") & (summ.checkpoint == "ci") & (summ.bucket == "all") & (summ.metric == "psnr")]
    assert int(row["n"].iloc[0]) == 12
    assert float(row["mean"].iloc[0]) == pytest.approx(pairs[pairs.checkpoint == "ci"]["psnr"].mean())
    assert Q.demo_gain(pairs[pairs.checkpoint == "ci"]).empty  # no demo model: nothing to compare


def test_exemplar_gives_nan_where_no_source_patch_exists_and_summary_drops_it():
    image = torch.rand(2, 3, 16, 16)
    valid = torch.ones(2, 1, 16, 16)
    valid[0, :, 2:14, 2:14] = 0  # no fully known 5x5 patch is left
    valid[1, :, 6:9, 6:9] = 0
    out = Q._exemplar(image * valid, valid)
    assert torch.isnan(out[0]).all() and not torch.isnan(out[1]).any()


def test_publish_demo_copies_the_checkpoint_and_writes_a_complete_manifest_entry(tmp_path):
    from inpaintlib.reproduce.demo import demo_name, publish_demo
    from inpaintlib.weights import Manifest, save_checkpoint

    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "manifest.json").write_text(json.dumps({"schema_version": 1, "checkpoints": []}))
    ckpt = tmp_path / "run" / "model.safetensors"
    ckpt.parent.mkdir()
    save_checkpoint(ckpt, torch.nn.Conv2d(3, 3, 3), meta={"paper": "msanet", "model": "MSANet", "scale": "demo",
                                                         "config": {"image_size": 64}, "step": 40,
                                                         "metrics": {"test_psnr": 23.456789}})
    entry = publish_demo(tmp_path, "msanet", ckpt, wall_s=61.0, threads=1, cpu_s=58.5)
    man = Manifest(tmp_path / "weights" / "manifest.json")
    assert man.names() == [demo_name("msanet")] and man.verify(demo_name("msanet"))
    saved = man.find(demo_name("msanet"))
    assert saved["training"]["steps"] == 40 and saved["training"]["image_size"] == 64
    assert saved["training"]["cpu_s"] == 58.5 and saved["training"]["command"].endswith("demo msanet --threads 1")
    assert saved["metrics"] == {"test_psnr": 23.4568} and entry["sha256"] == saved["sha256"]
    with pytest.raises(ValueError, match="unknown chapter"):
        publish_demo(tmp_path, "lama", ckpt, 1.0, 1, None)
    # a first stage beside the model (DeepGIN's warm-up) is counted in the steps
    save_checkpoint(ckpt.parent / "warmup" / "model.safetensors", torch.nn.Conv2d(3, 3, 1), meta={"step": 15})
    again = publish_demo(tmp_path, "msanet", ckpt, wall_s=61.0, threads=1, cpu_s=None)
    assert again["training"]["steps"] == 55 and again["training"]["warmup_steps"] == 15
    assert len(Manifest(tmp_path / "weights" / "manifest.json")) == 1  # replaced, not added twice


def test_your_image_names_resolve_and_bad_names_are_refused():
    image, valid = yours.sample_pair(size=32)
    assert image.shape == (1, 3, 32, 32) and set(valid.unique().tolist()) == {0.0, 1.0}
    out = yours.run_all("mean_fill, biharmonic", image, valid)
    assert list(out) == ["mean_fill", "biharmonic"]
    assert torch.equal(out["biharmonic"][valid.expand_as(image).bool()], image[valid.expand_as(image).bool()])
    with pytest.raises(ValueError, match="unknown method 'lama'"):
        yours.resolve("lama")


def test_a_checkpoint_over_the_limit_is_published_in_float16_and_loads_into_the_float32_network(tmp_path,
                                                                                              monkeypatch):
    import inpaintlib.reproduce.demo as D
    from inpaintlib.chapter import load_trained
    from inpaintlib.papers.ctxattn import CtxAttnConfig, CtxAttnNet
    from inpaintlib.weights import load_checkpoint, save_checkpoint

    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "manifest.json").write_text(json.dumps({"schema_version": 1, "checkpoints": []}))
    cfg = CtxAttnConfig.ci()
    torch.manual_seed(0)
    net = CtxAttnNet(cfg).eval()
    ckpt = tmp_path / "run" / "model.safetensors"
    save_checkpoint(ckpt, net, meta={"paper": "ctxattn", "model": "CtxAttnNet", "scale": "demo", "config": cfg,
                                     "step": 7, "git_commit": "abc1234"})
    monkeypatch.setattr(D, "MAX_BYTES", ckpt.stat().st_size - 1)
    entry = D.publish_demo(tmp_path, "ctxattn", ckpt, wall_s=1.0, threads=1, cpu_s=1.0)
    dst = tmp_path / entry["file"]
    tensors, meta = load_checkpoint(dst)
    assert meta["stored_dtype"] == "float16" and meta["git_commit"] == "abc1234" and entry["commit"] == "abc1234"
    assert all(t.dtype == torch.float16 for t in tensors.values() if t.is_floating_point())
    assert dst.stat().st_size < 0.6 * ckpt.stat().st_size
    loaded = load_trained(dst)
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    x, v = torch.rand(1, 3, 64, 64), torch.ones(1, 1, 64, 64)
    v[..., 20:40, 20:40] = 0
    with torch.no_grad():
        assert (loaded(x, v) - net(x, v)).abs().max() < 1e-2  # float16 rounding of the weights only
    monkeypatch.setattr(D, "MAX_BYTES", 10)
    with pytest.raises(ValueError, match="even in float16"):
        D.publish_demo(tmp_path, "ctxattn", ckpt, wall_s=1.0, threads=1, cpu_s=1.0)
