"""Inpaint your own image: mask files in a stated convention, image and mask kept together, padding to the network's
multiple, networks rebuilt from their sidecar, and the command ``python -m inpaintlib.inpaint``."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from inpaintlib import inference as INF
from inpaintlib.inpaint import main as inpaint_main
from inpaintlib.papers.msfef import MSFEFConfig, MSFEFNet
from inpaintlib.weights import save_checkpoint

REPO = Path(__file__).resolve().parent.parent
H, W = 600, 512  # the photograph: 600 rows, 512 columns


def _hole(h: int = H, w: int = W) -> np.ndarray:
    """Boolean hole map: a box and a one-pixel-wide line (thin holes are the ones resizing loses)."""
    hole = np.zeros((h, w), dtype=bool)
    hole[h // 6:h // 6 + h // 4, w // 10:w // 10 + w // 3] = True
    hole[h // 2:h // 2 + h // 5, w * 2 // 3] = True
    return hole


def _save(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
    im = Image.fromarray(array)
    (im.convert(mode) if mode else im).save(path)
    return path


def _photo(tmp_path: Path, h: int = H, w: int = W, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    return _save(tmp_path / "photo.png", (rng.random((h, w, 3)) * 255).astype(np.uint8))


@pytest.fixture(scope="module")
def ci_checkpoint(tmp_path_factory) -> Path:
    """A tiny untrained MSFEF network saved the way the registry expects (paper name + config in the sidecar)."""
    torch.manual_seed(0)
    net = MSFEFNet(MSFEFConfig.ci())
    path = tmp_path_factory.mktemp("ckpt") / "msfef_ci.safetensors"
    save_checkpoint(path, net, {"paper": "msfef", "config": net.config, "scale": "ci", "git_commit": "test"})
    return path


# ------------------------------------------------------------------------------------------------ mask files
def test_255_hole_mask_equals_the_inverted_mask_read_as_255_known(tmp_path):
    hole = _hole()
    a = INF.load_mask(_save(tmp_path / "a.png", hole.astype(np.uint8) * 255), convention="255=hole")
    b = INF.load_mask(_save(tmp_path / "b.png", (~hole).astype(np.uint8) * 255), convention="255=known")
    assert a.shape == (1, 1, H, W) and a.dtype == torch.float32
    assert torch.equal(a, b)
    assert torch.equal(a[0, 0], torch.from_numpy(~hole).float())  # 1 = known, 0 = hole


def test_16bit_1bit_grey_rgb_and_opaque_rgba_masks_read_like_the_8bit_file(tmp_path):
    hole = _hole(64, 48)
    ref = INF.load_mask(_save(tmp_path / "m8.png", hole.astype(np.uint8) * 255), "255=hole")
    files = [
        _save(tmp_path / "m16.png", hole.astype(np.uint16) * 65535),
        _save(tmp_path / "m1.png", hole),
        _save(tmp_path / "rgb.png", np.repeat(hole.astype(np.uint8)[..., None] * 255, 3, axis=2)),
        _save(tmp_path / "rgba.png", hole.astype(np.uint8) * 255, mode="RGBA"),
        _save(tmp_path / "m01.png", hole.astype(np.uint8)),  # 0/1 stored in an 8-bit PNG
    ]
    for f in files:
        assert torch.equal(INF.load_mask(f, "255=hole"), ref), f.name


def test_colour_and_transparent_masks_are_refused_with_the_rule(tmp_path):
    rgb = np.zeros((16, 16, 3), dtype=np.uint8)
    rgb[4:8, 4:8, 0] = 255  # red strokes on black
    with pytest.raises(ValueError, match="colour image"):
        INF.load_mask(_save(tmp_path / "red.png", rgb), "255=hole")
    rgba = np.full((16, 16, 4), 255, dtype=np.uint8)
    rgba[4:8, 4:8, 3] = 0
    with pytest.raises(ValueError, match="transparent"):
        INF.load_mask(_save(tmp_path / "alpha.png", rgba), "255=hole")


def test_mask_file_with_three_grey_levels_is_refused_and_threshold_binarises_it(tmp_path):
    m = np.zeros((32, 32), dtype=np.uint8)
    m[8:16, 8:16] = 255
    m[16:18, 8:16] = 128  # a soft edge, as bilinear resizing leaves
    path = _save(tmp_path / "soft.png", m)
    with pytest.raises(ValueError, match=r"3 distinct values \(0, 128, 255\).*threshold"):
        INF.load_mask(path, "255=hole")
    valid = INF.load_mask(path, "255=hole", threshold=0.5)
    assert float(valid[0, 0, 17, 10]) == 0 and float(valid[0, 0, 20, 10]) == 1
    assert set(valid.unique().tolist()) == {0.0, 1.0}


def test_the_convention_is_required_and_unknown_names_are_refused(tmp_path):
    path = _save(tmp_path / "m.png", _hole(32, 32).astype(np.uint8) * 255)
    with pytest.raises(TypeError):
        INF.load_mask(path)  # no default: the polarity is never guessed
    with pytest.raises(ValueError, match="'255=hole'.*'255=known'"):
        INF.load_mask(path, "hole")


def test_wrong_convention_warns_naming_the_other_convention(tmp_path):
    path = _save(tmp_path / "m.png", _hole().astype(np.uint8) * 255)  # white = hole, about 9 % of the image
    with pytest.warns(INF.MaskConventionWarning, match=r"did you mean convention='255=hole'"):
        INF.load_mask(path, "255=known")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        INF.load_mask(path, "255=hole")
        INF.load_mask(path, "255=known", max_hole_ratio=None)


def test_0_255_array_passed_as_a_valid_map_is_named_as_such():
    image = torch.rand(3, 32, 32)
    m = np.where(_hole(32, 32), 255, 0).astype(np.float32)
    with pytest.raises(ValueError, match=r"0/255.*8-bit mask file.*as_valid\(mask, convention='255=hole'\)"):
        INF.inpaint("mean_fill", image, torch.from_numpy(m))
    with pytest.raises(ValueError, match="boolean mask"):
        INF.inpaint("mean_fill", image, torch.from_numpy(_hole(32, 32)))
    assert torch.equal(INF.as_valid(m, "255=hole"), torch.from_numpy(~_hole(32, 32)).float()[None, None])


# ------------------------------------------------------------------------------------- pairing and transforms
def test_image_and_mask_of_different_sizes_are_refused_by_size():
    image, valid = torch.rand(3, H, W), torch.ones(1, 1, H // 2, W // 2)
    valid[..., 10:20, 10:20] = 0
    with pytest.raises(ValueError, match=r"image is 600x512 .* mask is 300x256.*resize_mask=True"):
        INF.inpaint("mean_fill", image, valid)
    img, v = INF.align_pair(image, valid, resize_mask=True)
    assert v.shape == (1, 1, H, W) and set(v.unique().tolist()) == {0.0, 1.0}
    assert bool((v[..., 20:40, 20:40] == 0).all())  # the hole moved with the resize


@pytest.mark.parametrize("size", [(37, 29), (150, 128), (1201, 1024)])
def test_transform_pair_keeps_holes_and_known_pixels_aligned(size):
    hole = torch.from_numpy(_hole())
    image = torch.zeros(1, 3, H, W)
    image[:, 0] = hole.float()  # red marks exactly the hole: it must never reach a known pixel
    image[:, 1] = torch.rand(H, W)
    valid = (~hole).float()[None, None]
    img, v = INF.transform_pair(image, valid, box=(30, 20, 540, 480), size=size)
    assert img.shape[-2:] == size and v.shape[-2:] == size
    assert set(v.unique().tolist()) <= {0.0, 1.0}
    assert float(img[:, 0][v[:, 0] == 1].max()) == 0  # no hole content in a known pixel
    assert bool((v[:, 0][img[:, 0] > 0.999] == 0).all())  # pixels fully inside the hole are holes
    assert bool(((v[0, 0, size[0] // 2 + 2:size[0] * 2 // 3] == 0).any(dim=1)).all())  # the thin line survives


def test_plan_resize_square_crop_and_max_side():
    assert INF.plan_resize(H, W, size=256) == ((44, 0, 512, 512), (256, 256))
    assert INF.plan_resize(H, W, max_side=300) == (None, (300, 256))
    assert INF.plan_resize(H, W, max_side=1000) == (None, None)


def test_pad_to_multiple_reflects_mask_with_image_and_crops_back():
    for h, w, m in ((37, 50, 16), (10, 12, 32), (64, 64, 32)):
        valid = torch.ones(1, 1, h, w)
        valid[..., : h // 3, : w // 4] = 0  # a hole touching the top-left border
        image = torch.rand(1, 3, h, w)
        image[:, 0] = valid[:, 0]  # channel 0 tells which source pixel a padded pixel copies
        ip, vp, pads = INF.pad_to_multiple(image, valid, m)
        assert ip.shape[-2] % m == 0 and ip.shape[-1] % m == 0 and vp.shape[-2:] == ip.shape[-2:]
        assert torch.equal(ip[:, 0:1], vp)  # padded pixels are known exactly where their source is known
        assert torch.equal(INF.crop_padding(ip, pads), image) and torch.equal(INF.crop_padding(vp, pads), valid)


_BAD_VALUES = {
    "load_mask(max_hole_ratio=2)": r"max_hole_ratio must be a fraction of the image in \(0, 1\).*got 2",
    "as_valid(max_hole_ratio=-0.5)": r"max_hole_ratio must be a fraction of the image in \(0, 1\).*got -0.5",
    "hole_ratio_message(max_hole_ratio=1.5)": r"max_hole_ratio must be a fraction of the image in \(0, 1\)",
    "transform_pair(size=(0, 10))": r"size must be a pair \(height, width\) of positive integers, got \(0, 10\)",
    "inpaint(work_size=0)": r"work_size must be 'train', 'native' or a positive integer, got 0",
}


@pytest.mark.parametrize("call", sorted(_BAD_VALUES))
def test_out_of_range_arguments_are_refused_naming_the_expected_form(tmp_path, call):
    hole = _hole(32, 32)
    path = _save(tmp_path / "m.png", hole.astype(np.uint8) * 255)
    image, valid = torch.rand(1, 3, 32, 32), torch.from_numpy(~hole).float()[None, None]
    run = {
        "load_mask(max_hole_ratio=2)": lambda: INF.load_mask(path, "255=hole", max_hole_ratio=2),
        "as_valid(max_hole_ratio=-0.5)": lambda: INF.as_valid(hole, "1=hole", max_hole_ratio=-0.5),
        "hole_ratio_message(max_hole_ratio=1.5)": lambda: INF.hole_ratio_message(valid, "255=hole", 1.5),
        "transform_pair(size=(0, 10))": lambda: INF.transform_pair(image, valid, size=(0, 10)),
        "inpaint(work_size=0)": lambda: INF.inpaint("mean_fill", image, valid, work_size=0),
    }[call]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", INF.MaskConventionWarning)
        with pytest.raises(ValueError, match=_BAD_VALUES[call]):
            run()


_BAD_OUTPUTS = {
    "numpy array": (lambda x, v: x.numpy(), r"returned a numpy.ndarray of shape \(1, 3, 32, 32\).*torch.from_numpy"),
    "half size": (lambda x, v: x[..., ::2, ::2], r"returned a tensor of shape \(1, 3, 16, 16\); it must return a "
                                                  r"torch.Tensor of its input image's shape \(1, 3, 32, 32\)"),
    "tuple": (lambda x, v: (x, v), r"returned a builtins.tuple; it must return a torch.Tensor"),
}


@pytest.mark.parametrize("output", sorted(_BAD_OUTPUTS))
def test_a_callable_returning_something_else_than_the_image_is_named(output):
    fn, words = _BAD_OUTPUTS[output]
    hole = _hole(32, 32)
    with pytest.raises(ValueError, match=words):
        INF.inpaint(fn, torch.rand(1, 3, 32, 32), torch.from_numpy(~hole).float()[None, None])


# ---------------------------------------------------------------------------------------------------- models
def test_600x512_image_through_a_ci_msfef_checkpoint_keeps_size_and_known_pixels(ci_checkpoint, tmp_path):
    model = INF.load_model(ci_checkpoint)
    assert INF.model_geometry(model) == (32, 32)
    assert INF.work_shape((H, W), "train", 32) == (32, 27)
    image = torch.rand(3, H, W, generator=torch.Generator().manual_seed(1))
    valid = torch.from_numpy(~_hole()).float()[None, None]
    model.train()
    for work_size in ("train", "native", 64):
        comp = INF.inpaint(model, image, valid, work_size=work_size)
        assert comp.shape == (3, H, W)
        known = valid[0].expand(3, H, W) == 1
        assert torch.equal(comp[known], image[known])
        assert bool(torch.isfinite(comp).all()) and float(comp.min()) >= 0 and float(comp.max()) <= 1
        assert not torch.equal(comp[~known], image[~known])  # the hole was filled, not copied
    assert model.training  # the caller's mode is restored


def test_classical_method_on_an_odd_size_keeps_known_pixels():
    image, valid = torch.rand(1, 3, 37, 41), torch.ones(1, 1, 37, 41)
    valid[..., 5:15, 7:20] = 0
    comp = INF.inpaint("mean_fill", image, valid)
    assert comp.shape == image.shape and torch.equal(comp[valid.expand_as(image) == 1], image[valid.expand_as(image) == 1])


def test_load_model_rebuilds_an_equal_network_from_another_directory_and_creates_nothing(ci_checkpoint, tmp_path,
                                                                                          monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    before = sorted(p for d in (elsewhere, ci_checkpoint.parent) for p in d.rglob("*"))
    model = INF.load_model(ci_checkpoint)
    torch.manual_seed(0)
    reference = MSFEFNet(MSFEFConfig.ci()).state_dict()
    state = model.state_dict()
    assert state.keys() == reference.keys() and all(torch.equal(state[k], reference[k]) for k in state)
    assert not model.training and model.config == MSFEFConfig.ci()
    assert sorted(p for d in (elsewhere, ci_checkpoint.parent) for p in d.rglob("*")) == before


def _copy_checkpoint(src: Path, dst: Path, **sidecar_changes) -> Path:
    """A format-1 copy (tensors without embedded metadata, metadata only in the sidecar), sidecar changed."""
    import hashlib

    import safetensors.torch
    from safetensors.torch import load as load_safetensors_bytes  # bytes -> tensors, no pickle

    dst.mkdir(parents=True, exist_ok=True)
    data = safetensors.torch.save(load_safetensors_bytes(src.read_bytes()), metadata={"format": "pt"})
    (dst / src.name).write_bytes(data)
    meta = json.loads(src.with_suffix(".json").read_text())
    for k, v in sidecar_changes.items():
        meta.pop(k, None) if v is None else meta.__setitem__(k, v)
    meta.update(sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    (dst / src.with_suffix(".json").name).write_text(json.dumps(meta))
    return dst / src.name


def test_load_model_reads_old_sidecars_and_refuses_unknown_or_missing_papers(ci_checkpoint, tmp_path):
    old = _copy_checkpoint(ci_checkpoint, tmp_path / "old", paper=None, chapter="msfef", model="MSFEFNet")
    assert isinstance(INF.load_model(old), MSFEFNet)
    with pytest.raises(ValueError, match="unknown paper 'nope'"):
        INF.load_model(_copy_checkpoint(ci_checkpoint, tmp_path / "unknown", paper="nope"))
    with pytest.raises(ValueError, match="names no paper"):
        INF.load_model(_copy_checkpoint(ci_checkpoint, tmp_path / "none", paper=None))
    lone = tmp_path / "lone"
    lone.mkdir()
    (lone / "m.safetensors").write_bytes(_copy_checkpoint(ci_checkpoint, tmp_path / "f1").read_bytes())
    with pytest.raises(FileNotFoundError, match="no sidecar m.json"):  # format 1: the metadata is only there
        INF.load_model(lone / "m.safetensors")
    (lone / "m2.safetensors").write_bytes(ci_checkpoint.read_bytes())  # format 2: the file alone is enough
    assert isinstance(INF.load_model(lone / "m2.safetensors"), MSFEFNet)


# --------------------------------------------------------------------------------------------------- command
def test_command_writes_the_composite_png_and_figure(ci_checkpoint, tmp_path):
    photo = _photo(tmp_path)
    mask = _save(tmp_path / "mask.png", _hole().astype(np.uint8) * 255)
    out, fig = tmp_path / "filled.png", tmp_path / "side_by_side.png"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-m", "inpaintlib.inpaint", "--image", str(photo), "--mask", str(mask),
                        "--mask-convention", "255=hole", "--checkpoint", str(ci_checkpoint), "--out", str(out),
                        "--figure", str(fig)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "ran at 32x27, padded to 32x32 (work size 'train')" in r.stdout
    got, src = np.asarray(Image.open(out)), np.asarray(Image.open(photo))
    assert got.shape == (H, W, 3)
    known = ~_hole()
    assert np.array_equal(got[known], src[known]) and not np.array_equal(got[~known], src[~known])
    assert Image.open(fig).size[0] > 0


def test_command_refuses_bad_input_with_exit_status_and_message(tmp_path, capsys):
    photo = _photo(tmp_path, 64, 48)
    mask = _save(tmp_path / "mask.png", _hole(64, 48).astype(np.uint8) * 255)
    small = _save(tmp_path / "small.png", _hole(32, 24).astype(np.uint8) * 255)
    out = tmp_path / "out.png"
    base = ["--image", str(photo), "--method", "mean_fill", "--out", str(out)]
    assert inpaint_main(base + ["--mask", str(mask), "--mask-convention", "255=known"]) == 1
    assert "did you mean convention='255=hole'" in capsys.readouterr().err and not out.exists()
    assert inpaint_main(base + ["--mask", str(small), "--mask-convention", "255=hole"]) == 1
    assert "image is 64x48 (height x width) but the mask is 32x24" in capsys.readouterr().err
    assert inpaint_main(base + ["--mask", str(small), "--mask-convention", "255=hole", "--resize-mask"]) == 0
    assert np.asarray(Image.open(out)).shape == (64, 48, 3)
    with pytest.raises(SystemExit) as e:
        inpaint_main(base + ["--mask", str(mask)])  # no --mask-convention
    assert e.value.code == 2


@pytest.mark.parametrize("out, figure, clash", [
    ("mask.png", None, "--out .*mask.png is the same file as --mask"),
    ("sub/../mask.png", None, "--out .*mask.png is the same file as --mask"),  # another spelling of the same file
    ("link.png", None, "--out .*link.png is the same file as --mask"),  # a symbolic link to the mask
    ("out.png", "out.png", "--figure .*out.png is the same file as --out"),
    ("out.png", "mask.png", "--figure .*mask.png is the same file as --mask"),
])
def test_command_refuses_outputs_that_would_overwrite_an_input_or_each_other(tmp_path, capsys, monkeypatch, out,
                                                                              figure, clash):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    photo = _photo(tmp_path, 64, 48)
    mask = _save(tmp_path / "mask.png", _hole(64, 48).astype(np.uint8) * 255)
    (tmp_path / "link.png").symlink_to(mask)
    before = mask.read_bytes()
    argv = ["--image", str(photo), "--mask", "mask.png", "--mask-convention", "255=hole", "--method", "mean_fill",
            "--out", out] + (["--figure", figure] if figure else [])
    assert inpaint_main(argv) == 1
    assert re.search(clash, capsys.readouterr().err)
    assert mask.read_bytes() == before and not (tmp_path / "out.png").exists()


def _nan_checkpoint(ci_checkpoint: Path, folder: Path) -> Path:
    """The ci checkpoint with one weight set to NaN, its hash valid (what a diverged run could have published)."""
    from inpaintlib.weights import load_checkpoint

    tensors, meta = load_checkpoint(ci_checkpoint)
    name = sorted(k for k in tensors if k.endswith("weight"))[0]
    tensors[name] = tensors[name].clone()
    tensors[name].view(-1)[0] = float("nan")
    path = folder / "diverged.safetensors"
    save_checkpoint(path, tensors, {"paper": "msfef", "config": meta["config"], "git_commit": "test"},
                    allow_nonfinite=True)
    return path


@pytest.mark.parametrize("source", ["checkpoint path", "loaded checkpoint", "network", "callable"])
def test_a_non_finite_output_is_refused_naming_its_source_instead_of_a_black_fill(ci_checkpoint, tmp_path, source):
    path = _nan_checkpoint(ci_checkpoint, tmp_path)
    image = torch.rand(3, 64, 48, generator=torch.Generator().manual_seed(1))
    valid = torch.from_numpy(~_hole(64, 48)).float()[None, None]

    def broken(x, v):
        return x * float("nan")
    method = {"checkpoint path": str(path), "loaded checkpoint": INF.load_model(path), "callable": broken}.get(source)
    if source == "network":  # built in code, the NaN weights never saved: named by class
        method = MSFEFNet(MSFEFConfig.ci()).eval()
        with torch.no_grad():
            next(method.parameters()).view(-1)[0] = float("nan")
    who = {"callable": "the callable .*broken produced NaN/Inf", "network": "the network MSFEFNet produced NaN/Inf"
           }.get(source, "the network of checkpoint .*diverged.safetensors produced NaN/Inf")
    with pytest.raises(ValueError, match=who) as e:
        INF.inpaint(method, image, valid)
    if source != "callable":
        assert "1 of its" in str(e.value) and "weight tensors hold NaN/Inf" in str(e.value)


def test_command_with_a_nan_checkpoint_fails_naming_it_and_writes_nothing(ci_checkpoint, tmp_path, capsys):
    path = _nan_checkpoint(ci_checkpoint, tmp_path)
    photo = _photo(tmp_path, 64, 48)
    mask = _save(tmp_path / "mask.png", _hole(64, 48).astype(np.uint8) * 255)
    out = tmp_path / "out.png"
    assert inpaint_main(["--image", str(photo), "--mask", str(mask), "--mask-convention", "255=hole",
                         "--checkpoint", str(path), "--out", str(out), "--device", "cpu"]) == 1
    err = capsys.readouterr().err
    assert "diverged.safetensors" in err and "NaN/Inf" in err and not out.exists()
