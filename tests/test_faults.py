"""Fault injection: SIGKILL during checkpoint writes and training, NaN in the data, corrupt and wrong-type files for
every reader, changed inputs on resume, Ctrl-C on the pipeline. Every test here fails if its guarantee breaks.

Kills run in forked children (cheap: torch is already imported) that set one intra-op thread, as the parent does
for the runs it compares with, so bitwise comparisons do not depend on thread counts. The random instants come from
a seeded generator whose seed is printed in every failure message (``FAULT_SEED`` overrides it).
"""
from __future__ import annotations

import io
import json
import os
import random
import signal
import struct
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from inpaintlib import weights as W
from inpaintlib.train import TrainConfig, train

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="fault injection forks children (POSIX only)")
SEED = int(os.environ.get("FAULT_SEED", time.time_ns() % 100_000))


# ------------------------------------------------------------------------------------------------- helpers
class TinyNet(torch.nn.Module):
    def __init__(self, width: int = 8, dropout: float = 0.2):
        super().__init__()
        torch.manual_seed(0)
        self.c1 = torch.nn.Conv2d(4, width, 3, padding=1)
        self.drop = torch.nn.Dropout2d(dropout)
        self.c2 = torch.nn.Conv2d(width, 3, 3, padding=1)

    def forward(self, image, valid):
        x = torch.cat([image * valid, valid], 1)
        return torch.sigmoid(self.c2(self.drop(torch.relu(self.c1(x)))))


class Images(torch.utils.data.Dataset):
    def __init__(self, n: int = 12, nan_at: int | None = None, shift: float = 0.0):
        g = torch.Generator().manual_seed(5)
        self.x = F.interpolate(torch.rand(n, 3, 4, 4, generator=g), size=(16, 16), mode="bilinear",
                               align_corners=False).clamp(0, 1) * (1 - shift) + shift / 2
        if nan_at is not None:
            self.x[nan_at, 0, 3, 3] = float("nan")

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i]


def box_mask(h, w, rng, side: int = 6):
    m = np.ones((h, w), np.float32)
    y, x = rng.integers(0, h - side), rng.integers(0, w - side)
    m[y:y + side, x:x + side] = 0
    return m


class WeightedL1:
    """A loss with weights, declared through ``config`` so that a resume can compare them."""

    def __init__(self, hole: float = 1.0):
        self.config = {"hole": hole}

    def __call__(self, model, image, valid):
        out = model(image, valid)
        hole = ((out - image).abs() * (1 - valid)).mean()
        return (out - image).abs().mean() + self.config["hole"] * hole, {"hole_l1": hole}


CFG = TrainConfig(steps=10, batch_size=4, lr=1e-2, log_every=2, ckpt_every=3, seed=3, device="cpu")


def _train(out_dir, cfg=CFG, net=None, data=None, loss=None, masks=box_mask, **kw):
    net = net if net is not None else TinyNet()
    train(net, loss or WeightedL1(), data or Images(), masks, cfg, out_dir, progress=False, **kw)
    return net


def _forked(fn) -> int:
    """Run ``fn()`` in a forked child; return its pid (the child never returns into pytest)."""
    pid = os.fork()
    if pid == 0:  # child
        code = 1
        try:
            torch.set_num_threads(1)
            fn()
            code = 0
        finally:
            os._exit(code)
    return pid


def _kill_after(pid: int, delay: float) -> int:
    """SIGKILL ``pid`` after ``delay`` seconds (unless it finished); return its wait status."""
    deadline = time.monotonic() + delay
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.001)
    os.kill(pid, signal.SIGKILL)
    return os.waitpid(pid, 0)[1]


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


# ---------------------------------------------------------------------------------- checkpoint writes
def _writer(path: Path, first: int) -> None:
    """Save checkpoints ``first, first + 1, ...`` forever; tensors and metadata both encode the step."""
    step = first
    while True:
        n = 200_000 + 50_000 * (step % 3)  # the size changes too
        w = torch.from_numpy(np.full(n, float(step), np.float32))
        W.save_checkpoint(path, {"w": w}, {"step": step, "config": {"width": step}, "git_commit": "test"})
        step += 1


def test_sigkill_at_random_instants_of_checkpoint_writes_leaves_a_loadable_checkpoint(tmp_path):
    rng = random.Random(SEED)
    path = tmp_path / "ck.safetensors"
    W.save_checkpoint(path, {"w": torch.zeros(10)}, {"step": 0, "config": {"width": 0}, "git_commit": "test"})
    last, stale_sidecars, killed = 0, 0, 0
    for rep in range(40):
        pid = _forked(lambda: _writer(path, last + 1))
        status = _kill_after(pid, rng.uniform(0.0, 0.08))
        killed += os.WIFSIGNALED(status)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            tensors, meta = W.load_checkpoint(path)  # the old or a new checkpoint, never neither
        stale_sidecars += any("does not describe" in str(c.message) for c in caught)
        step = int(meta["step"])
        msg = f"FAULT_SEED={SEED}, repetition {rep}"
        assert step >= last, msg  # never older than what was already complete
        assert meta["config"] == {"width": step}, msg  # metadata and tensors are one unit
        assert bool((tensors["w"] == step).all()), msg
        last = step
    assert killed >= 30, f"FAULT_SEED={SEED}: only {killed} of 40 children were killed mid-run"
    # a new save cleans what interrupted saves left behind, and repairs the sidecar
    W.save_checkpoint(path, {"w": torch.ones(3)}, {"step": last + 1, "git_commit": "test"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.json", "ck.safetensors"]
    assert json.loads((tmp_path / "ck.json").read_text())["step"] == last + 1


@pytest.mark.parametrize("crash_at", ["first_replace", "second_replace", "fsync_dir"])
def test_a_crash_at_each_point_of_a_save_leaves_the_old_or_the_new_checkpoint(tmp_path, monkeypatch, crash_at):
    path = tmp_path / "m.safetensors"
    W.save_checkpoint(path, {"w": torch.zeros(5)}, {"step": 1, "git_commit": "t"})
    real_replace, calls = os.replace, []

    def replace(src, dst):
        calls.append(dst)
        if (crash_at == "first_replace" and len(calls) == 1) or (crash_at == "second_replace" and len(calls) == 2):
            raise KeyboardInterrupt  # stands for a kill: nothing after this line of the save runs
        return real_replace(src, dst)

    monkeypatch.setattr(W.os, "replace", replace)
    if crash_at == "fsync_dir":
        monkeypatch.setattr(W, "fsync_dir", lambda folder: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        W.save_checkpoint(path, {"w": torch.ones(5)}, {"step": 2, "git_commit": "t"})
    monkeypatch.undo()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tensors, meta = W.load_checkpoint(path)
    expected = 1 if crash_at == "first_replace" else 2
    assert meta["step"] == expected and float(tensors["w"][0]) == expected - 1


def _concurrent_saver(path: Path, who: int, n: int, start_at: float) -> None:
    """Child: save ``n`` checkpoints to ``path``; tensors and metadata both encode (writer, save)."""
    while time.time() < start_at:  # every writer starts at the same instant
        time.sleep(0.0005)
    for i in range(n):
        step = 1000 * who + i
        W.save_checkpoint(path, {"w": torch.full((2000,), float(step))}, {"step": step, "git_commit": "t"})


def test_concurrent_saves_to_one_path_all_succeed_and_the_last_one_wins_whole(tmp_path):
    path = tmp_path / "ck.safetensors"
    start_at = time.time() + 0.5
    pids = [_forked(lambda who=who: _concurrent_saver(path, who, 20, start_at)) for who in range(1, 5)]
    failed = [who for who, pid in enumerate(pids, 1) if os.waitpid(pid, 0)[1] != 0]
    assert not failed, f"writers {failed} of 4 failed (one writer's clean-up deleted another's temp file?)"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the sidecar describes the file: the two renames of a save are one unit
        tensors, meta = W.load_checkpoint(path)
    assert meta["step"] % 1000 == 19 and bool((tensors["w"] == meta["step"]).all())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.json", "ck.safetensors"]  # no temp file left


def test_hash_covers_config_tensors_and_header(tmp_path):
    path = tmp_path / "m.safetensors"
    W.save_checkpoint(path, {"w": torch.arange(8.0)}, {"config": {"width": 4}, "git_commit": "t"})
    data = path.read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    edited = data[:8 + n].replace(b'\\"width\\": 4', b'\\"width\\": 5') + data[8 + n:]
    assert edited != data
    path.write_bytes(edited)
    (tmp_path / "m.json").unlink()
    with pytest.raises(ValueError, match="content hash"):
        W.load_checkpoint(path)


# ------------------------------------------------------------------------------------------- training
def _train_killed(out_dir: Path, how: str, at: float) -> None:
    """Child: train, SIGKILL itself at step ``at`` (``loss``), at the ``at``-th os.replace of a checkpoint save
    (``replace``), or be killed by the parent after ``at`` seconds (``time``)."""
    if how == "loss":
        inner, calls = WeightedL1(), [0]

        def loss(model, image, valid):
            calls[0] += 1
            if calls[0] == at:
                os.kill(os.getpid(), signal.SIGKILL)
            return inner(model, image, valid)
        loss.config = inner.config
        _train(out_dir, loss=loss)
    elif how == "replace":
        real, calls = os.replace, [0]

        def replace(src, dst):
            calls[0] += 1
            if calls[0] == at:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(src, dst)
        os.replace = replace
        _train(out_dir)
    else:
        _train(out_dir)


def test_sigkill_at_random_training_steps_then_resume_is_bitwise_equal(tmp_path, one_thread):
    rng = random.Random(SEED)
    ref = _train(tmp_path / "ref")
    ref_log = [r for r in map(json.loads, (tmp_path / "ref" / "metrics.jsonl").read_text().splitlines())]
    n_saves = len(range(CFG.ckpt_every, CFG.steps, CFG.ckpt_every)) + 2  # periodic + final state + model
    faults = [("loss", rng.randint(1, CFG.steps)) for _ in range(2)]
    faults += [("replace", at) for at in rng.sample(range(1, 2 * n_saves + 1), 4)]
    faults += [("time", rng.uniform(0.05, 0.6)) for _ in range(2)]
    for k, (how, at) in enumerate(faults):
        out = tmp_path / f"run{k}"
        pid = _forked(lambda: _train_killed(out, how, at))
        _kill_after(pid, at if how == "time" else 60)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a stale sidecar is reported and ignored
            resumed = _train(out)
        msg = f"FAULT_SEED={SEED}: kill by {how} at {at}"
        assert _same_weights(ref, resumed), msg
        log = [r for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines())]
        assert [(r["step"], r["loss"]) for r in log] == [(r["step"], r["loss"]) for r in ref_log], msg
        assert sorted(p.name for p in out.iterdir()) == ["last.json", "last.safetensors", "metrics.jsonl",
                                                          "model.json", "model.safetensors"], msg


def test_nan_in_the_data_is_refused_and_the_last_good_checkpoint_survives(tmp_path):
    cfg = CFG.replace(steps=4, ckpt_every=2)
    _train(tmp_path, cfg)
    before = (tmp_path / "last.safetensors").read_bytes()
    with pytest.raises(ValueError, match="non-finite"):
        _train(tmp_path, cfg.replace(steps=8), data=_NanFrom(Images(), 5))
    assert (tmp_path / "last.safetensors").read_bytes() == before  # untouched, still the step-4 state
    assert W.load_checkpoint(tmp_path / "last.safetensors")[1]["step"] == 4


class _NanFrom(torch.utils.data.Dataset):
    """``base``, but every image has a NaN from the ``k``-th read on (the data goes bad mid-run)."""

    def __init__(self, base, k):
        self.base, self.k, self.reads = base, k, 0

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        self.reads += 1
        x = self.base[i].clone()
        if self.reads > self.k:
            x[0, 0, 0] = float("nan")
        return x


def test_diverging_weights_never_replace_a_good_checkpoint(tmp_path):
    cfg = CFG.replace(steps=2, ckpt_every=2, log_every=100)
    _train(tmp_path, cfg)
    good = W.load_checkpoint(tmp_path / "last.safetensors")[0]

    def poison(model, image, valid):  # from step 3 on the gradient is NaN: the weights become NaN
        out = model(image, valid)
        return (out - image).abs().mean() * torch.tensor(float("nan")), {}
    poison.config = WeightedL1().config  # the same declared loss: the resume itself is legitimate
    with pytest.raises(FloatingPointError, match="at step 4"):
        train(TinyNet(), poison, Images(), box_mask, cfg.replace(steps=6), tmp_path, progress=False)
    tensors, meta = W.load_checkpoint(tmp_path / "last.safetensors")
    assert meta["step"] == 2 and all(torch.equal(tensors[k], good[k]) for k in good)


@pytest.mark.parametrize("metrics, match", [
    ({"psnr": float("nan")}, r"eval_fn returned NaN for \['psnr'\] at step 2"),
    ({"psnr": 20.0, "l1": torch.tensor(float("nan"))}, r"eval_fn returned NaN for \['l1'\] at step 2"),
    ({"psnr": "high"}, r"eval_fn must return a dict of floats, got 'psnr': str"),
])
def test_an_eval_fn_returning_nan_or_no_number_fails_the_run_and_logs_nothing_of_it(tmp_path, metrics, match):
    cfg = CFG.replace(steps=4, eval_every=2, ckpt_every=2)
    with pytest.raises((FloatingPointError, ValueError), match=match):
        _train(tmp_path, cfg, eval_fn=lambda model: metrics)
    log = [json.loads(r) for r in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert log and not any(r["kind"] == "eval" for r in log)
    assert not (tmp_path / "last.safetensors").exists()  # the evaluation at step 2 comes before its checkpoint


# ------------------------------------------------------------------------------------------------ resume
@pytest.mark.parametrize("change, match", [
    (dict(net=TinyNet(width=6)), "model weights that do not fit"),
    (dict(loss=WeightedL1(hole=2.0)), r"the loss .*hole"),
    (dict(data=Images(n=13)), r"the dataset \(length 12 -> 13\)"),
    (dict(data=Images(shift=0.1)), r"the dataset \(same length, other images\)"),
    (dict(masks=lambda h, w, rng: box_mask(h, w, rng, side=5)), "the mask generator"),
])
def test_resume_refuses_changed_inputs_naming_them(tmp_path, change, match):
    _train(tmp_path, CFG.replace(steps=3))
    with pytest.raises((ValueError, RuntimeError), match=match):
        _train(tmp_path, CFG.replace(steps=6), **change)


def test_model_config_change_is_named(tmp_path):
    class Cfg(TinyNet):
        def __init__(self, width):
            super().__init__(8)
            import dataclasses
            self.config = dataclasses.make_dataclass("C", [("width", int)], frozen=True)(width)
    _train(tmp_path, CFG.replace(steps=3), net=Cfg(8))
    with pytest.raises(ValueError, match=r"the model config \(width: 8 -> 9\)"):
        _train(tmp_path, CFG.replace(steps=6), net=Cfg(9))


def test_resume_with_fewer_steps_than_done_is_refused(tmp_path):
    _train(tmp_path, CFG.replace(steps=4))
    with pytest.raises(ValueError, match="already trained for 4 steps, but steps=2"):
        _train(tmp_path, CFG.replace(steps=2))
    meta = W.read_sidecar(tmp_path / "model.safetensors")
    assert set(meta["run"]) == {"model_config", "loss", "dataset", "masks"} and meta["run"]["loss"] == {"hole": 1.0}


class _MustNotTrain(WeightedL1):
    """The loss of a run that must not train (the same declared ``config`` as :class:`WeightedL1`)."""

    def __call__(self, model, image, valid):
        raise AssertionError("the run trained again over a finished model")


@pytest.mark.parametrize("change, match", [
    (dict(), None),  # this run, finished: loaded, not trained again
    (dict(cfg=CFG.replace(steps=4, seed=4)), r"a different config \(seed: 3 -> 4\)"),
    (dict(loss=_MustNotTrain(hole=2.0)), r"different inputs: the loss .*hole"),
    (dict(cfg=CFG.replace(steps=6)), r"finished after 4 steps.*cannot be continued to steps=6: steps=4 loads it"),
    (dict(cfg=CFG.replace(steps=2)), r"finished after 4 steps.*cannot be cut back to steps=2"),
])
def test_resume_over_a_finished_model_without_its_training_state_deletes_nothing(tmp_path, change, match):
    cfg = CFG.replace(steps=4)
    trained = _train(tmp_path, cfg)
    for name in ("last.safetensors", "last.json"):  # people delete the larger training state
        (tmp_path / name).unlink()
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    kw = {"cfg": cfg, "loss": _MustNotTrain(), **change}
    if match is None:
        with pytest.warns(UserWarning, match="finished model .4 steps.: loaded it without training"):
            net = _train(tmp_path, net=TinyNet(), **kw)
        assert _same_weights(trained, net) and not net.training
    else:
        with pytest.raises(ValueError, match=match) as e:
            _train(tmp_path, net=TinyNet(), **kw)
        assert "Nothing was deleted: use another out_dir, or delete model.safetensors" in str(e.value)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_bool_masks_from_mask_fn_are_refused_like_to_tensor(tmp_path):
    with pytest.raises(ValueError, match="boolean"):
        _train(tmp_path, masks=lambda h, w, rng: box_mask(h, w, rng) > 0)


# ------------------------------------------------------------------------------------------------ inputs
def test_nan_and_inf_images_are_refused_at_the_entry_points():
    from inpaintlib import classical
    from inpaintlib._validate import check_image
    from inpaintlib.metrics import Protocol, evaluate

    img = torch.rand(1, 3, 16, 16)
    img[0, 1, 2, 3] = float("nan")
    valid = torch.from_numpy(box_mask(16, 16, np.random.default_rng(0)))[None, None]
    for call in (lambda: check_image(img), lambda: classical.mean_fill(img, valid),
                 lambda: evaluate(lambda x, v: x, img, valid, Protocol(metrics=("psnr",)))):
        with pytest.raises(ValueError, match="non-finite"):
            call()
    with pytest.raises(ValueError, match="non-finite"):
        check_image(torch.full((1, 3, 4, 4), float("inf")))


def test_evaluate_refuses_to_average_over_fewer_pairs_than_it_reports():
    from inpaintlib.metrics import Protocol, evaluate
    import inpaintlib.metrics.evaluation as E

    imgs = torch.rand(3, 3, 16, 16)
    masks = torch.stack([torch.from_numpy(box_mask(16, 16, np.random.default_rng(i)))[None] for i in range(3)])
    real = E._metric_values

    def one_nan(pred, gt, valid, protocol):
        vals = real(pred, gt, valid, protocol)
        vals["psnr"] = vals["psnr"].clone()
        vals["psnr"][0] = float("nan")
        return vals
    E._metric_values = one_nan
    try:
        with pytest.raises(ValueError, match="fewer pairs"):
            evaluate(lambda x, v: x, imgs, masks, Protocol(metrics=("psnr",)))
    finally:
        E._metric_values = real


def test_dtype_and_numpy_inputs_to_a_layer_are_refused_by_name():
    from inpaintlib.layers.partial_conv import PartialConv2d

    layer = PartialConv2d(3, 4, 3, padding=1)
    valid = torch.ones(1, 1, 8, 8)
    for dtype in (torch.float16, torch.float64):
        with pytest.raises(ValueError, match=f"dtype {dtype}.*float32"):
            layer(torch.rand(1, 3, 8, 8, dtype=dtype), valid)
    with pytest.raises(ValueError, match="ndarray"):
        layer(np.zeros((1, 3, 8, 8), np.float32), valid)


def _msfef_module():
    from inpaintlib.layers.multiscale_fusion import MSFEFModule
    return MSFEFModule(3, 4, stride=1)


def _partial_conv(multi_channel: bool = False):
    from inpaintlib.layers.partial_conv import PartialConv2d
    return PartialConv2d(3, 4, 3, padding=1, multi_channel=multi_channel)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("make, name, mask_channels", [
    (_partial_conv, "PartialConv2d", 1),
    (lambda: _partial_conv(multi_channel=True), "PartialConv2d", 3),
    (_msfef_module, "MSFEFModule: PartialConv2d", 1),
])
def test_a_non_finite_input_to_a_layer_in_eval_mode_is_refused_by_name(make, name, mask_channels, bad):
    from inpaintlib._validate import NonFiniteError

    layer = make().eval()
    x = torch.rand(2, 3, 8, 8)
    x[1, 2, 3, 4] = bad
    valid = torch.ones(1, mask_channels, 8, 8)
    valid[..., 2:5, 2:5] = 0
    with pytest.raises(NonFiniteError, match=f"^{name} input x holds 1 NaN/Inf values of 384 .e.g. {bad}.; expected "
                                             "finite features"):
        layer(x, valid)
    layer(torch.rand(2, 3, 8, 8), valid)  # finite input: unchanged
    layer(torch.full((2, 3, 8, 8), 3e38), valid)  # finite, though its sum overflows: not refused
    layer.train()(x, valid)  # training mode: the network's entry check and the loss check guard it (documented)


def test_16_bit_png_is_scaled_by_its_depth_and_exif_orientation_is_applied(tmp_path):
    from inpaintlib.data import load_image

    ramp = (np.linspace(0, 65535, 64).round().astype(np.uint16)[None].repeat(4, 0))
    Image.fromarray(ramp).save(tmp_path / "ramp16.png")
    x = load_image(tmp_path / "ramp16.png")
    assert torch.allclose(x[0, 0], torch.from_numpy(ramp[0] / 65535.0).float(), atol=1e-6)
    assert float((x == 1).float().mean()) < 0.05
    a = np.zeros((4, 8, 3), np.uint8)
    a[0, 0] = 255  # a white top-left pixel in the stored orientation
    im = Image.fromarray(a)
    exif = im.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    im.save(tmp_path / "rot.jpg", exif=exif, quality=100)
    y = load_image(tmp_path / "rot.jpg")
    assert tuple(y.shape) == (3, 8, 4)  # displayed upright: width and height swapped


def _bad_files(folder: Path, good: bytes, suffix: str) -> dict[str, Path]:
    out = {}
    for name, data in {"empty": b"", "garbage": os.urandom(300), "truncated": good[: len(good) // 2],
                       "json": b'{"not": "this"}'}.items():
        p = folder / f"{name}{suffix}"
        p.write_bytes(data)
        out[name] = p
    return out


def test_corrupt_truncated_and_wrong_type_files_name_the_file_for_every_reader(tmp_path):
    from inpaintlib.data import load_image
    from inpaintlib.inference import load_mask, load_model

    buf = io.BytesIO()
    Image.fromarray((np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)).save(buf, "PNG")
    readers = {"image": (load_image, buf.getvalue(), ".png"),
               "mask": (lambda p: load_mask(p, "255=known"), buf.getvalue(), ".png")}
    ck = tmp_path / "ok.safetensors"
    W.save_checkpoint(ck, {"w": torch.ones(1000)}, {"git_commit": "t"})
    readers["checkpoint"] = (W.load_checkpoint, ck.read_bytes(), ".safetensors")
    readers["model"] = (load_model, ck.read_bytes(), ".safetensors")
    probed = 0
    for kind, (read, good, suffix) in readers.items():
        folder = tmp_path / kind
        folder.mkdir()
        for name, p in _bad_files(folder, good, suffix).items():
            with pytest.raises((ValueError, FileNotFoundError)) as e:
                read(p)
            assert p.name in str(e.value), f"{kind}/{name}: {e.value}"
            probed += 1
    assert probed == 16


def test_malformed_json_manifests_and_sidecars_name_their_path(tmp_path):
    import safetensors.torch
    from inpaintlib.masks.testset import MaskTestSet

    for text in ("{oops", "[1, 2]", '{"checkpoints": [1]}', '{"checkpoints": [{"name": "x"}]}'):
        mf = tmp_path / "manifest.json"
        mf.write_text(text)
        with pytest.raises(ValueError, match="manifest.json"):
            W.Manifest(mf).verify("x")
    for text in ("{oops", "[1]", '{"format": "inpaintlib.masks/0"}'):
        ms = tmp_path / "masks"
        ms.mkdir(exist_ok=True)
        (ms / "manifest.json").write_text(text)
        with pytest.raises(ValueError, match="manifest.json"):
            MaskTestSet(ms)
    old = tmp_path / "old.safetensors"  # format 1: the metadata is only in the sidecar
    old.write_bytes(safetensors.torch.save({"w": torch.ones(2)}, metadata={"format": "pt"}))
    for text in ("{oops", "[1]"):
        (tmp_path / "old.json").write_text(text)
        with pytest.raises(ValueError, match="old.json"):
            W.load_checkpoint(old)


def test_a_training_state_passed_to_the_model_loader_is_refused_by_name(tmp_path):
    from inpaintlib.inference import load_model

    _train(tmp_path, CFG.replace(steps=2))
    with pytest.raises(ValueError, match="training-state checkpoint.*model.safetensors"):
        load_model(tmp_path / "last.safetensors")


def test_the_committed_format1_checkpoint_still_loads():
    root = Path(__file__).resolve().parents[1]
    path = root / "weights" / "msfef-ci-sample-scenes.safetensors"
    tensors, meta = W.load_checkpoint(path)
    assert meta["sha256"] == W.sha256_file(path) and tensors


# ------------------------------------------------------------------------------------------- pipeline
def test_ctrl_c_on_the_pipeline_prints_one_line_naming_the_notebook(tmp_path, monkeypatch, capsys):
    from inpaintlib import reproduce
    from inpaintlib.reproduce import cli

    (tmp_path / "_config.yml").write_text("title: t\n")
    (tmp_path / "intro.md").write_text("# T\n")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: notebooks/ch/01_a\n")
    (tmp_path / "notebooks" / "ch").mkdir(parents=True)
    (tmp_path / "notebooks" / "ch" / "01_a.py").write_text("# %%\nx = 1\n")
    monkeypatch.setattr(cli, "library_hash", lambda root: "lib")
    monkeypatch.setattr(cli, "ensure_kernel", lambda name: "python")

    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(cli, "run_notebook", interrupted)
    capsys.readouterr()
    code = reproduce.main(["--root", str(tmp_path), "--no-build"])
    err = capsys.readouterr().err
    assert code == 130
    assert err.strip().splitlines() == [err.strip()] and "notebooks/ch/01_a" in err and "interrupted" in err


def test_models_refuse_all_hole_masks_and_to_tensor_refuses_mixed_sizes():
    from inpaintlib.masks import to_tensor
    from inpaintlib.papers.msfef import MSFEFConfig, MSFEFNet

    net = MSFEFNet(MSFEFConfig.ci()).eval()
    with pytest.raises(ValueError, match="all-hole"):
        net(torch.rand(1, 3, 32, 32), torch.zeros(1, 1, 32, 32))
    with pytest.raises(ValueError, match=r"different shapes \[\(4, 4\), \(5, 4\)\]"):
        to_tensor([np.ones((4, 4), np.float32), np.ones((5, 4), np.float32)])


def test_data_prep_clis_report_unwritable_folders_in_one_line(tmp_path, capsys):
    from data_prep.make_masks import main as make_masks_main

    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    code = make_masks_main(["--size", "32", "--per-bucket", "1", "--out", str(blocker / "masks")])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("error: ") and "a_file" in err and "Traceback" not in err


def test_a_cell_timeout_is_reported_with_the_cell_that_timed_out(tmp_path):
    from inpaintlib.reproduce.execute import run_notebook

    py = tmp_path / "notebooks" / "ch" / "01_slow.py"
    py.parent.mkdir(parents=True)
    py.write_text("# ---\n# jupyter:\n#   kernelspec:\n#     display_name: Python 3\n#     language: python\n"
                  "#     name: python3\n# ---\n\n# %% tags=[\"parameters\"]\nscale = \"ci\"\n\n# %%\nx = 1\n\n"
                  "# %%\nimport time\ntime.sleep(60)\n")
    run = run_notebook(tmp_path, py, {}, timeout=2, output=tmp_path / "out.ipynb")
    assert not run.ok
    text = run.failure.format()
    assert "time.sleep(60)" in text and "01_slow.py, line 16" in text and "Timeout" in text


def test_batchnorm_on_a_batch_of_one_1x1_map_says_what_to_change(tmp_path):
    class Squeeze(TinyNet):
        def __init__(self):
            super().__init__()
            self.bn = torch.nn.BatchNorm2d(3)

        def forward(self, image, valid):
            return torch.sigmoid(self.bn(F.adaptive_avg_pool2d(super().forward(image, valid), 1))).expand_as(image)
    with pytest.raises(ValueError, match="step 1: .*raise batch_size"):
        _train(tmp_path, CFG.replace(batch_size=1), net=Squeeze())
