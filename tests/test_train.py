"""The training loop: learning, exact resume, logs, evaluation, discriminator step, config errors."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from inpaintlib import weights as W
from inpaintlib.train import History, TrainConfig, choose_device, train


class TinyNet(torch.nn.Module):
    def __init__(self, seed: int = 0, dropout: float = 0.0):
        super().__init__()
        torch.manual_seed(seed)
        self.c1 = torch.nn.Conv2d(4, 8, 3, padding=1)
        self.drop = torch.nn.Dropout2d(dropout)
        self.c2 = torch.nn.Conv2d(8, 3, 3, padding=1)

    def forward(self, image, valid):
        x = torch.cat([image * valid, valid], 1)
        return torch.sigmoid(self.c2(self.drop(torch.relu(self.c1(x)))))


class TinyD(torch.nn.Module):
    def __init__(self, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.c = torch.nn.Conv2d(3, 1, 4, stride=2, padding=1)

    def forward(self, x):
        return self.c(x)


class Images(torch.utils.data.Dataset):
    """16 smooth random 16x16 images (upsampled 4x4 noise), deterministic per index."""

    def __init__(self, n: int = 16, size: int = 16):
        g = torch.Generator().manual_seed(123)
        low = torch.rand(n, 3, 4, 4, generator=g)
        self.x = F.interpolate(low, size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i]


def box_mask(h, w, rng):
    m = np.ones((h, w), np.float32)
    y, x = rng.integers(0, h - 6), rng.integers(0, w - 6)
    m[y:y + 6, x:x + 6] = 0
    return m


def l1_loss(model, image, valid):
    out = model(image, valid)
    hole = ((out - image).abs() * (1 - valid)).mean()
    return (out - image).abs().mean(), {"hole_l1": hole}


def _cfg(**kw):
    base = dict(steps=12, batch_size=4, lr=1e-2, log_every=1, ckpt_every=5, seed=3, device="cpu")
    base.update(kw)
    return TrainConfig(**base)


def _params(m):
    return {k: v.clone() for k, v in m.state_dict().items()}


def _assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_choose_device_auto_and_explicit():
    assert choose_device("cpu").type == "cpu"
    auto = choose_device("auto")
    assert auto.type == ("cuda" if torch.cuda.is_available() else auto.type)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            choose_device("cuda")


@pytest.mark.parametrize("bad", [dict(steps=0), dict(batch_size=0), dict(batch_size=-2), dict(lr_schedule="cosine"),
                                 dict(lr=0.0), dict(betas=(0.9, 1.5)), dict(log_every=0), dict(plateau_mode="up")])
def test_bad_config_raises(bad):
    with pytest.raises(ValueError):
        TrainConfig(**bad)


@pytest.mark.parametrize("field", ["weight_decay", "min_lr"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1e-3, "0.1"])
def test_non_finite_or_negative_rates_are_refused_with_the_expected_form(field, value):
    with pytest.raises(ValueError, match=f"TrainConfig.{field} must be a finite number >= 0, got {value!r}"):
        TrainConfig(**{field: value})


@pytest.mark.parametrize("mask_fn, match", [
    (lambda h, w, rng: np.full((h, w), 0.5, np.float32), "non-binary"),
    (lambda h, w, rng: np.ones((h + 1, w), np.float32), "shape"),
    (lambda h, w, rng: torch.ones(h, w), "numpy"),
])
def test_bad_masks_raise(tmp_path, mask_fn, match):
    with pytest.raises(ValueError, match=match):
        train(TinyNet(), l1_loss, Images(), mask_fn, _cfg(steps=2), tmp_path, progress=False)


class MixedSizes(Images):
    """Images of two sizes (a folder of photos without a transform to one size)."""

    def __getitem__(self, i):
        return self.x[i] if i % 2 else F.interpolate(self.x[i:i + 1], size=(24, 20))[0]


_BAD_RUNS = {
    "a dataset of mixed sizes": r"the dataset's images have different sizes, so they cannot be stacked into one "
                                r"batch: found 3 x 16 x 16 \(8 images\), 3 x 24 x 20 \(8 images\); item \d+ of the "
                                r"batch is 3 x 24 x 20.*give the dataset a transform to one size, e\.g\. "
                                r"inpaintlib\.data\.ImageFolder",
    "out_dir is a file": r"out_dir \S+run is a file: train writes .* into a folder",
    "out_dir is below a file": r"out_dir \S+run/sub is below \S+run, which is a file",
}


@pytest.mark.parametrize("case", sorted(_BAD_RUNS))
def test_a_run_that_cannot_stack_its_batch_or_write_its_folder_names_why(tmp_path, case):
    out = tmp_path / "run" / ("sub" if "below" in case else "")
    if "out_dir" in case:
        (tmp_path / "run").write_text("a file, not a folder")
    with pytest.raises((ValueError, NotADirectoryError), match=_BAD_RUNS[case]):
        train(TinyNet(), l1_loss, MixedSizes() if "sizes" in case else Images(), box_mask,
              _cfg(steps=1, batch_size=16), out, progress=False)  # one batch holds every image: both sizes
    if "out_dir" in case:
        assert (tmp_path / "run").read_text() == "a file, not a folder"


def test_plateau_on_eval_metric_needs_eval_fn(tmp_path):
    cfg = _cfg(lr_schedule="plateau", plateau_metric="psnr", eval_every=2)
    with pytest.raises(ValueError, match="eval_fn"):
        train(TinyNet(), l1_loss, Images(), box_mask, cfg, tmp_path, progress=False)


def test_training_reduces_loss_and_returns_eval_mode(tmp_path):
    model = TinyNet(0)
    hist = train(model, l1_loss, Images(), box_mask, _cfg(steps=30, ckpt_every=None), tmp_path, progress=False)
    losses = hist.train["loss"].to_numpy()
    assert len(losses) == 30
    assert losses[-5:].mean() < 0.75 * losses[:3].mean()
    assert not model.training
    _, meta = W.load_checkpoint(tmp_path / "model.safetensors")
    assert meta["step"] == 30 and meta["train_config"]["steps"] == 30
    assert set(hist.train.columns) >= {"step", "time", "lr", "loss", "hole_l1"}


def _run_killed_and_resumed(tmp_path, cfg, kill_at, model_seed=0):
    calls = {"n": 0}

    def loss_that_dies(model, image, valid):
        calls["n"] += 1
        if calls["n"] == kill_at:
            raise KeyboardInterrupt("simulated kill")
        return l1_loss(model, image, valid)

    with pytest.raises(KeyboardInterrupt):
        train(TinyNet(model_seed, dropout=0.2), loss_that_dies, Images(), box_mask, cfg, tmp_path, progress=False)
    assert (tmp_path / "last.safetensors").is_file()
    torch.manual_seed(999)  # the resumed process has a different global RNG state
    resumed = TinyNet(model_seed + 1, dropout=0.2)  # and a different initialisation
    hist = train(resumed, l1_loss, Images(), box_mask, cfg, tmp_path, progress=False)
    return resumed, hist


def test_killed_run_resumes_to_identical_weights_and_log(tmp_path):
    # Each part of the saved state must matter: plateau on the running training loss in "max" mode with
    # patience 1 (the falling loss never "improves", so the lr halves on a rhythm set by the scheduler's
    # counters); dropout (torch RNG state); ckpt_every not a multiple of log_every (log accumulator).
    cfg = _cfg(steps=12, log_every=2, ckpt_every=5, lr_schedule="plateau", plateau_mode="max", plateau_patience=1,
               plateau_factor=0.5)
    ref = TinyNet(0, dropout=0.2)
    ref_hist = train(ref, l1_loss, Images(), box_mask, cfg, tmp_path / "ref", progress=False)
    resumed, hist = _run_killed_and_resumed(tmp_path / "run", cfg, kill_at=9)
    _assert_same_weights(_params(ref), _params(resumed))
    steps = [r["step"] for r in hist.train_records]
    assert steps == [2, 4, 6, 8, 10, 12]  # records written after the step-5 checkpoint were not duplicated
    assert [r["loss"] for r in hist.train_records] == [r["loss"] for r in ref_hist.train_records]
    assert [r["lr"] for r in hist.train_records] == [r["lr"] for r in ref_hist.train_records]
    assert len({r["lr"] for r in hist.train_records}) > 1  # the schedule did act


def test_two_calls_equal_one_call(tmp_path):
    cfg = _cfg(steps=10, ckpt_every=None, eval_every=4)
    # an eval_fn that draws from the global torch RNG must not shift the training's dropout masks
    ev = lambda m: {"score": float(sum(p.sum() for p in m.parameters())) + float(torch.rand(1))}
    ref = TinyNet(0, dropout=0.2)
    train(ref, l1_loss, Images(), box_mask, cfg, tmp_path / "ref", eval_fn=ev, progress=False)
    part = TinyNet(0, dropout=0.2)
    train(part, l1_loss, Images(), box_mask, cfg.replace(steps=6), tmp_path / "run", eval_fn=ev, progress=False)
    hist = train(part, l1_loss, Images(), box_mask, cfg, tmp_path / "run", eval_fn=ev, progress=False)
    _assert_same_weights(_params(ref), _params(part))
    assert [r["step"] for r in hist.train_records] == list(range(1, 11))
    assert [r["step"] for r in hist.eval_records] == [4, 6, 8, 10]  # 6: the end of the first call


def test_eval_records_and_final_metrics(tmp_path):
    seen_modes = []

    def eval_fn(model):
        seen_modes.append(model.training)
        x = Images().x[:4]
        valid = torch.from_numpy(np.stack([box_mask(16, 16, np.random.default_rng(i)) for i in range(4)]))[:, None]
        out = model(x, valid)
        mse = float(((out - x) ** 2).mean())
        return {"psnr": 10 * np.log10(1 / mse)}

    model = TinyNet(0)
    hist = train(model, l1_loss, Images(), box_mask, _cfg(steps=10, eval_every=5), tmp_path, eval_fn=eval_fn,
                 progress=False)
    assert list(hist.eval["step"]) == [5, 10]
    assert "psnr" in hist.eval.columns and "psnr" not in hist.train.columns
    assert seen_modes == [False, False]
    assert hist.final_metrics["psnr"] == pytest.approx(hist.eval["psnr"].iloc[-1])
    _, meta = W.load_checkpoint(tmp_path / "model.safetensors")
    assert meta["metrics"] == hist.final_metrics
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 12 and all(json.loads(s)["kind"] in ("train", "eval") for s in lines)
    assert len(hist.frame()) == 12


def test_completed_run_is_not_trained_again(tmp_path):
    cfg = _cfg(steps=6)
    trained = TinyNet(0)
    train(trained, l1_loss, Images(), box_mask, cfg, tmp_path, progress=False)

    def must_not_run(model, image, valid):
        raise AssertionError("training ran again")

    fresh = TinyNet(5)
    hist = train(fresh, must_not_run, Images(), box_mask, cfg, tmp_path, progress=False)
    _assert_same_weights(_params(trained), _params(fresh))  # the finished weights were loaded
    assert hist.steps_done == 6 and not fresh.training


def test_resume_false_starts_over_and_other_config_is_refused(tmp_path):
    train(TinyNet(0), l1_loss, Images(), box_mask, _cfg(steps=4), tmp_path, progress=False)
    with pytest.raises(ValueError, match="seed"):
        train(TinyNet(0), l1_loss, Images(), box_mask, _cfg(steps=4, seed=4), tmp_path, progress=False)
    hist = train(TinyNet(0), l1_loss, Images(), box_mask, _cfg(steps=3, seed=4), tmp_path, resume=False,
                 progress=False)
    assert [r["step"] for r in hist.train_records] == [1, 2, 3]


def test_discriminator_step_runs_and_updates_d(tmp_path):
    D = TinyD(0)
    d_before = _params(D)

    def d_loss_fn(model, disc, image, valid):
        with torch.no_grad():
            fake = model(image, valid)
        real_s, fake_s = disc(image), disc(fake)
        loss = F.relu(1 - real_s).mean() + F.relu(1 + fake_s).mean()  # hinge
        return loss, {"real": real_s.mean(), "fake": fake_s.mean()}

    def g_loss(model, image, valid):
        out = model(image, valid)
        comp = valid * image + (1 - valid) * out
        adv = -D(comp).mean()
        rec = (out - image).abs().mean()
        assert not any(p.requires_grad for p in D.parameters())  # D is frozen in the generator step
        return rec + 0.01 * adv, {"adv": adv}

    model = TinyNet(0)
    g_before = _params(model)
    hist = train(model, g_loss, Images(), box_mask, _cfg(steps=5, d_lr=2e-2, d_betas=(0.5, 0.999)), tmp_path,
                 discriminator=D, d_loss_fn=d_loss_fn, progress=False)
    assert not torch.equal(d_before["c.weight"], D.state_dict()["c.weight"])
    assert not torch.equal(g_before["c1.weight"], model.state_dict()["c1.weight"])
    cols = set(hist.train.columns)
    assert {"d_loss", "d_real", "d_fake", "adv", "d_lr"} <= cols
    assert hist.train["d_lr"].iloc[0] == 2e-2
    tensors, _ = W.load_checkpoint(tmp_path / "last.safetensors")
    assert torch.equal(tensors["d.c.weight"], D.state_dict()["c.weight"])
    assert any(k.startswith("d_optim.") for k in tensors)


def test_history_reads_log_back(tmp_path):
    hist = train(TinyNet(0), l1_loss, Images(), box_mask, _cfg(steps=4, log_every=2), tmp_path, progress=False)
    again = History(tmp_path)
    assert again.records == hist.records and len(again.train) == 2
    with open(tmp_path / "metrics.jsonl", "a") as f:
        f.write('{"kind": "train", "st')  # a line cut short by a kill is skipped
    assert len(History(tmp_path / "metrics.jsonl")) == 2


def test_plateau_on_eval_metric_lowers_lr_down_to_min_lr(tmp_path):
    cfg = _cfg(steps=8, eval_every=2, lr=1e-2, lr_schedule="plateau", plateau_metric="score", plateau_mode="max",
               plateau_patience=0, plateau_factor=0.5, min_lr=4e-3)
    hist = train(TinyNet(0), l1_loss, Images(), box_mask, cfg, tmp_path, eval_fn=lambda m: {"score": 1.0},
                 progress=False)
    # eval at 2 sets the best score; no improvement at 4 and 6 halves the lr, floored at min_lr
    assert [r["lr"] for r in hist.train_records] == pytest.approx([1e-2] * 4 + [5e-3] * 2 + [4e-3] * 2)


def test_dataloader_workers_do_not_change_the_data(tmp_path):
    a, b = TinyNet(0), TinyNet(0)
    train(a, l1_loss, Images(), box_mask, _cfg(steps=4), tmp_path / "w0", progress=False)
    train(b, l1_loss, Images(), box_mask, _cfg(steps=4, num_workers=2), tmp_path / "w2", progress=False)
    _assert_same_weights(_params(a), _params(b))


def test_linear_schedule_decays_both_rates_to_zero_and_resumes_exactly(tmp_path):
    # DeepGIN Sect. 5.1: constant, then a linear decay to zero; the rate is a function of the step alone.
    cfg = _cfg(steps=10, log_every=1, ckpt_every=4, lr=1e-2, lr_schedule="linear", decay_start=0.6)
    ref = TinyNet(0, dropout=0.2)
    ref_hist = train(ref, l1_loss, Images(), box_mask, cfg, tmp_path / "ref", progress=False)
    lrs = [r["lr"] for r in ref_hist.train_records]
    assert lrs[:6] == [1e-2] * 6  # updates 0..5 (logged at steps 1..6) before 0.6 * 10
    assert lrs[6:] == pytest.approx([1e-2 * 4 / 4, 1e-2 * 3 / 4, 1e-2 * 2 / 4, 1e-2 * 1 / 4])
    resumed, hist = _run_killed_and_resumed(tmp_path / "run", cfg, kill_at=7)
    _assert_same_weights(_params(ref), _params(resumed))
    assert [r["lr"] for r in hist.train_records] == lrs


def test_d_steps_updates_the_discriminator_that_many_times_per_generator_step(tmp_path):
    calls = {"d": 0, "g": 0}

    def d_loss_fn(model, disc, image, valid):
        calls["d"] += 1
        return F.relu(1 - disc(image)).mean(), {}

    def g_loss(model, image, valid):
        calls["g"] += 1
        return l1_loss(model, image, valid)

    cfg = _cfg(steps=4, d_steps=3, lr_schedule="linear", d_lr=4e-2)
    hist = train(TinyNet(0), g_loss, Images(), box_mask, cfg, tmp_path, discriminator=TinyD(0), d_loss_fn=d_loss_fn,
                 progress=False)
    assert (calls["g"], calls["d"]) == (4, 12)
    assert hist.train["d_lr"].iloc[0] == 4e-2 and hist.train["d_lr"].iloc[-1] == pytest.approx(4e-2 / 4)
    with pytest.raises(ValueError, match="d_steps"):
        _cfg(d_steps=0)
    with pytest.raises(ValueError, match="decay_start"):
        _cfg(decay_start=1.0)


# ------------------------------------------------------------------------- several masks per image (a mask source)
class ThreeBands:
    """A mask source with ``masks_per_image = 3``: mask ``m`` of an image holds a 4-row band at row ``4 m + r``, ``r``
    drawn once per image from its generator (so the three masks of one image share ``r``)."""

    masks_per_image = 3

    def __call__(self, h, w, rng):
        r = int(rng.integers(0, 4))
        out = np.ones((3, h, w), np.float32)
        for m in range(3):
            out[m, 4 * m + r:4 * m + r + 4] = 0
        return out


def _step_batches(ds, mask_fn, cfg, world):
    """Every rank's ``(images, valid)`` of every update, as the loop forms them, concatenated over the ranks."""
    from types import SimpleNamespace

    from inpaintlib.train.batches import StepBatches, collate, masks_per_image, prepare_batch

    k = masks_per_image(mask_fn)
    per_rank = [list(StepBatches(len(ds), cfg.batch_size, cfg.seed, 0, cfg.steps, r, world, k)) for r in range(world)]
    out = []
    for t in range(cfg.steps):
        parts = [prepare_batch(collate([ds[i] for i in per_rank[r][t]]), mask_fn, cfg, t,
                               SimpleNamespace(rank=r, world=world, device=torch.device("cpu")))
                 for r in range(world)]
        out.append(tuple(torch.cat(p) for p in zip(*parts)))
    return out


@pytest.mark.parametrize("batch_size", [6, 4, 1])
def test_a_mask_source_of_three_masks_shows_each_image_under_each_of_its_masks(batch_size):
    ds, src, cfg = Images(), ThreeBands(), _cfg(steps=3, batch_size=batch_size)
    g = -(-batch_size // 3)  # images per update
    steps = _step_batches(ds, src, cfg, world=1)
    perm = np.random.default_rng([cfg.seed, 0]).permutation(len(ds))
    for t, (images, valid) in enumerate(steps):
        assert images.shape[0] == valid.shape[0] == batch_size
        for e in range(batch_size):  # element e: image e // 3 of the step under its mask e % 3
            j, m = divmod(e, 3)
            assert torch.equal(images[e], ds[int(perm[t * g + j])])
            assert np.array_equal(valid[e, 0].numpy(), src(16, 16, np.random.default_rng([cfg.seed, t, j]))[m])
    if batch_size % 2 == 0:  # two processes see the same elements, each its contiguous half
        for one, two in zip(steps, _step_batches(ds, src, cfg, world=2)):
            assert all(torch.equal(a, b) for a, b in zip(one, two))


def test_a_mask_source_trains_and_its_bad_masks_per_image_or_shape_is_refused(tmp_path):
    seen = []

    def loss(model, image, valid):
        seen.append(int(image.shape[0]))
        return l1_loss(model, image, valid)
    train(TinyNet(), loss, Images(), ThreeBands(), _cfg(steps=2, batch_size=6), tmp_path / "ok", progress=False)
    assert seen == [6, 6]

    class Bad(ThreeBands):
        masks_per_image = 0
    with pytest.raises(ValueError, match="masks_per_image"):
        train(TinyNet(), l1_loss, Images(), Bad(), _cfg(steps=1), tmp_path / "bad", progress=False)

    class Flat(ThreeBands):
        def __call__(self, h, w, rng):
            return super().__call__(h, w, rng)[0]
    with pytest.raises(ValueError, match=r"\(3, 16, 16\)"):
        train(TinyNet(), l1_loss, Images(), Flat(), _cfg(steps=1), tmp_path / "flat", progress=False)
