"""Sample scenes, image folders, transforms and the prepared-dataset entry point."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from inpaintlib import data as D
from inpaintlib.papers.deepgin import deepgin_subimage


def test_sample_photos_all_load_offline_as_rgb_uint8():
    for name in D.SAMPLE_PHOTOS:
        a = D.load_sample_photo(name)
        assert a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3
        assert min(a.shape[:2]) >= 256, f"{name} is too small for 256 crops without upsampling"
        assert a.std() > 5, f"{name} is nearly constant"


def test_train_and_test_photographs_are_disjoint_and_the_test_set_has_several_colour_photos():
    train, test = D.SampleScenes.photos("train"), D.SampleScenes.photos("test")
    assert not set(train) & set(test)
    assert len(test) >= 3 and len(train) >= 6
    for name in test:
        a = D.load_sample_photo(name).astype(int)
        assert np.abs(a[..., 0] - a[..., 1]).mean() > 2, f"test photo {name} is gray"
    # no two photos share pixels (e.g. both stereo views of one scene)
    small = {n: np.asarray(Image.fromarray(D.load_sample_photo(n)).resize((32, 32))).astype(float)
             for n in train + test}
    for a in train:
        for b in test:
            assert np.abs(small[a] - small[b]).mean() > 10, f"{a} and {b} look like the same picture"


def test_train_crops_come_only_from_train_photos_and_test_crops_only_from_test_photos():
    tr = D.SampleScenes("train", 32, length=200, seed=3)
    te = D.SampleScenes("test", 32)
    assert {tr.crop_spec(i)["photo"] for i in range(len(tr))} == set(D.SampleScenes.photos("train"))
    assert {te.crop_spec(i)["photo"] for i in range(len(te))} == set(D.SampleScenes.photos("test"))


def test_sample_scenes_items_are_float_crops_in_unit_range():
    ds = D.SampleScenes("train", 48, length=8)
    x = torch.stack([ds[i] for i in range(len(ds))])
    assert x.shape == (8, 3, 48, 48) and x.dtype == torch.float32
    assert float(x.min()) >= 0 and float(x.max()) <= 1
    assert x.std() > 0.02


def test_sample_scenes_are_deterministic_per_seed_and_index_in_any_order():
    a = D.SampleScenes("train", 32, length=20, seed=1)
    b = D.SampleScenes("train", 32, length=20, seed=1)
    c = D.SampleScenes("train", 32, length=20, seed=2)
    for i in (7, 3, 19, 0):
        assert torch.equal(a[i], b[i])
    assert torch.equal(torch.stack([a[i] for i in range(20)]), torch.stack([b[i] for i in reversed(range(20))]).flip(0))
    assert any(not torch.equal(a[i], c[i]) for i in range(20))
    assert not torch.equal(a[0], a[1])


def test_train_augmentation_flips_and_jitters_scale_but_test_split_is_fixed():
    tr = D.SampleScenes("train", 32, length=300)
    specs = [tr.crop_spec(i) for i in range(300)]
    flips = np.mean([s["flip"] for s in specs])
    assert 0.35 < flips < 0.65
    assert len({s["side"] for s in specs}) > 50
    no_aug = D.SampleScenes("train", 32, length=50, augment=False)
    assert not any(no_aug.crop_spec(i)["flip"] for i in range(50))
    te0, te1 = D.SampleScenes("test", 32, seed=0), D.SampleScenes("test", 32, seed=99)
    assert len(te0) == 4 * len(D.SampleScenes.photos("test"))
    assert all(torch.equal(te0[i], te1[i]) for i in range(len(te0)))  # independent of the training seed
    assert len({(s["photo"], s["top"], s["left"], s["side"]) for s in map(te0.crop_spec, range(len(te0)))}) == len(te0)
    with pytest.raises(ValueError, match="augment"):
        D.SampleScenes("test", 32, augment=True)


def test_sample_scenes_work_through_a_dataloader_with_workers_the_same_as_without():
    ds = D.SampleScenes("train", 16, length=6, seed=4)
    direct = torch.stack([ds[i] for i in range(6)])
    loaded = torch.cat(list(torch.utils.data.DataLoader(ds, batch_size=3, num_workers=2)))
    assert torch.equal(direct, loaded)


# ------------------------------------------------------------------ transforms

def test_resize_or_crop_256_keeps_aspect_and_crops_centre_without_rng():
    img = torch.zeros(3, 256, 512)
    img[:, :, 128:384] = 1.0
    out = D.resize_or_crop_256(img)
    assert out.shape == (3, 256, 256) and float(out.min()) == 1.0
    assert D.resize_or_crop_256(torch.rand(3, 400, 300), np.random.default_rng(0)).shape == (3, 256, 256)


# ------------------------------------------------------------------ folders

@pytest.fixture
def fake_folder(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "b" / "deep").mkdir(parents=True)
    (tmp_path / "a").mkdir()
    paths = ["a/x.png", "b/deep/y.jpg", "b/z.PNG", "top.jpeg"]
    for i, p in enumerate(paths):
        arr = rng.integers(0, 256, (40 + 10 * i, 60, 3), dtype=np.uint8)
        Image.fromarray(arr).save(tmp_path / p)
    (tmp_path / "notes.txt").write_text("not an image")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "a" / "gray.png")
    return tmp_path


def test_image_folder_finds_images_recursively_in_sorted_order(fake_folder):
    ds = D.ImageFolder(fake_folder, 32)
    assert ds.files == ["a/gray.png", "a/x.png", "b/deep/y.jpg", "b/z.PNG", "top.jpeg"]
    x = ds[0]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32


@pytest.mark.parametrize("mode", D.FOLDER_MODES)
def test_image_folder_modes_give_the_size_and_are_deterministic(fake_folder, mode):
    a = D.ImageFolder(fake_folder, 24, mode, seed=5, files=["a/x.png", "b/z.PNG"])
    b = D.ImageFolder(fake_folder, 24, mode, seed=5, files=["a/x.png", "b/z.PNG"])
    for i in range(2):
        assert a[i].shape == (3, 24, 24)
        assert torch.equal(a[i], b[i])
    if a.random:
        outs = []
        for e in range(6):
            a.set_epoch(e)
            outs.append(a[1])
        assert any(not torch.equal(outs[0], o) for o in outs[1:]), "new epochs should give new crops"


def test_image_folder_transform_replaces_the_mode_and_gets_the_item_rng(fake_folder):
    def crop(image, rng):  # DeepGIN's sub-image at a small size: resize to 2 x 24, random 24 x 24 polyphase phase
        return deepgin_subimage(image, rng, load_size=48, factor=2)

    ds = D.ImageFolder(fake_folder, 24, transform=crop, seed=3, files=["a/x.png", "b/z.PNG"])
    assert ds.random and ds.flip
    rng = D.item_rng(3, 1, 0)
    expected = crop(D.load_image(fake_folder / "b/z.PNG"), rng)
    if rng.random() < 0.5:
        expected = D.hflip(expected)
    assert torch.equal(ds[1], expected)
    wrong = D.ImageFolder(fake_folder, 24, transform=lambda im, rng: im, files=["a/x.png"])
    with pytest.raises(ValueError, match="3 x 24 x 24"):
        wrong[0]
    with pytest.raises(ValueError, match="callable"):
        D.ImageFolder(fake_folder, 24, transform="deepgin")


def test_image_folder_on_an_empty_folder_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="no images"):
        D.ImageFolder(tmp_path, 32)
    with pytest.raises(ValueError, match="mode"):
        D.ImageFolder(tmp_path, 32, mode="stretch")


def test_open_dataset_without_manifest_names_the_source_and_the_command(tmp_path):
    with pytest.raises(D.DatasetNotPrepared) as e:
        D.open_dataset("helen", tmp_path / "helen", "train", 64)
    msg = str(e.value)
    assert "python -m data_prep.datasets helen --root" in msg
    assert "ifp.illinois.edu" in msg


def test_open_dataset_reads_a_manifest_split(fake_folder):
    m = dict(name="helen", splits={"train": ["a/x.png", "b/z.PNG"], "test": ["top.jpeg"]})
    (fake_folder / "manifest.json").write_text(json.dumps(m))
    tr = D.open_dataset("helen", fake_folder, "train", 16)
    te = D.open_dataset("helen", fake_folder, "test", 16)
    assert len(tr) == 2 and len(te) == 1 and tr.mode == "random_crop" and te.mode == "center_crop"
    assert te[0].shape == (3, 16, 16)
    with pytest.raises(ValueError, match="splits"):
        D.open_dataset("helen", fake_folder, "val", 16)
    with pytest.raises(ValueError, match="not 'ffhq'"):
        D.open_dataset("ffhq", fake_folder, "train", 16)


_FILES = ["a/x.png", "gone/1.png", "b/deep/y.jpg", "gone/2.png", "gone/3.png", "gone/4.png", "gone/5.png",
          "gone/6.png", "b/z.PNG"]
_BAD_DATASETS = {  # manifest.json text (None: ImageFolder(size=0) instead) -> the error and its words
    "ImageFolder(size=0)": (None, ValueError, r"size must be a positive integer.*got 0"),
    "missing files in the middle of the list": (
        json.dumps({"name": "helen", "splits": {"train": _FILES}}), D.DatasetNotPrepared,
        r"6 of the 9 files that manifest.json lists for split 'train' are missing: gone/1.png, gone/2.png, "
        r"gone/3.png, gone/4.png, gone/5.png and 1 more; restore them or re-run: python -m data_prep.datasets helen"),
    "truncated manifest": ('{"name": "helen", "splits": {"train": ["a/x.pn', ValueError,
                           r"manifest.json is not valid JSON .*truncated or edited: re-run python -m data_prep"),
    "list-shaped manifest": (json.dumps(["a/x.png"]), ValueError, r"manifest.json is not a dataset manifest: "
                                                                  r"expected a JSON object with \"name\" and "
                                                                  r"\"splits\".*got list"),
}


@pytest.mark.parametrize("case", sorted(_BAD_DATASETS))
def test_a_bad_size_or_manifest_is_refused_naming_what_is_wrong(fake_folder, case):
    text, error, words = _BAD_DATASETS[case]
    with pytest.raises(error, match=words):
        if text is None:
            D.ImageFolder(fake_folder, 0)
        else:
            (fake_folder / "manifest.json").write_text(text)
            D.open_dataset("helen", fake_folder, "train", 16)
