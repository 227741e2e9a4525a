"""data_prep indexes every dataset as its publisher ships it (file lists, nested folders, .webp, LMDB exports), names
what is missing, still checks the counts; and NVIDIA's irregular mask test set is read as shipped."""
from __future__ import annotations

import hashlib
import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from data_prep import datasets as DS
from fake_datasets import (image_bytes, lsun_export_path, make_fake_masks, make_fake_root, write_dataset,
                           write_images)
from inpaintlib import data as D
from inpaintlib import masks as M
from inpaintlib.datasets import REGISTRY


def _files(root: Path, rels, fmt: str = "JPEG") -> None:
    write_images(root, rels, fmt)


def _prepare(name: str, root: Path) -> dict:
    path = DS.prepare(name, root, allow_count_mismatch=True, progress=False)
    return json.loads(path.read_text())


def _opens(name: str, root: Path, split: str, n: int) -> None:
    ds = D.open_dataset(name, root, split, 64)
    assert len(ds) == n and ds[0].shape == (3, 64, 64) and ds[len(ds) - 1].shape == (3, 64, 64)


# ---------------------------------------------------------------------------------------------------------------
# Every dataset at once, as tests/fake_datasets.py writes them
# ---------------------------------------------------------------------------------------------------------------

def test_make_fake_root_writes_and_prepares_every_dataset_in_its_publisher_layout(tmp_path):
    make_fake_root(tmp_path)
    assert (tmp_path / "celeba_hq_28k").is_symlink()
    for name, spec in REGISTRY.items():
        m = json.loads((tmp_path / name / spec.manifest).read_text())
        held = sum(spec.random_split.values())
        n_train = 3 + (1000 if name == "celeba_hq_28k" else 0)  # the 3,003 images of celeba_hq, split 2K / rest
        assert m["counts"] == ({"train": n_train, "test": held} if held else {"train": 3, "test": 2}), name
        assert m["complete"] is False
        for split in ("train", "test"):
            assert D.open_dataset(name, tmp_path / name, split, 256)[0].shape == (3, 256, 256)
    assert all(f.endswith(".webp") for f in json.loads((tmp_path / "lsun_church/manifest.json").read_text())
               ["splits"]["train"])


@pytest.mark.parametrize("name", ["paris_streetview", "stanford_cars", "lsun_church", "places2", "celeba", "helen"])
def test_the_count_check_still_fires_on_a_complete_looking_subset(tmp_path, name):
    write_dataset(tmp_path, name)
    with pytest.raises(DS.CountMismatch, match=f"expected train: {REGISTRY[name].counts['train']}"):
        DS.prepare(name, tmp_path / name, progress=False)
    assert not (tmp_path / name / "manifest.json").exists()


# ---------------------------------------------------------------------------------------------------------------
# CelebA: img_align_celeba/ + list_eval_partition.txt
# ---------------------------------------------------------------------------------------------------------------

def _celeba(root: Path, codes: str, missing=(), folder: str = "img_align_celeba", part: str = "list_eval_partition.txt",
            csv: bool = False) -> list[str]:
    names = [f"{i + 1:06d}.jpg" for i in range(len(codes))]
    _files(root / folder, [n for n in names if n not in missing])
    lines = [f"{n},{c}" if csv else f"{n} {c}" for n, c in zip(names, codes)]
    (root / part).parent.mkdir(parents=True, exist_ok=True)
    (root / part).write_text(("image_id,partition\n" if csv else "") + "\n".join(lines) + "\n")
    return names


def test_celeba_is_split_by_its_partition_file_with_val_in_train(tmp_path):
    _celeba(tmp_path, "0012200")
    m = _prepare("celeba", tmp_path)
    assert m["splits"]["train"] == [f"img_align_celeba/{i:06d}.jpg" for i in (1, 2, 3, 6, 7)]
    assert m["splits"]["test"] == ["img_align_celeba/000004.jpg", "img_align_celeba/000005.jpg"]
    _opens("celeba", tmp_path, "train", 5)
    _opens("celeba", tmp_path, "test", 2)


def test_celeba_names_the_images_its_partition_lists_but_are_missing(tmp_path):
    missing = [f"{i:06d}.jpg" for i in (2, 5, 6, 7, 8, 9, 10)]
    _celeba(tmp_path, "0120120120", missing=missing)
    with pytest.raises(DS.MissingFiles) as e:
        DS.prepare("celeba", tmp_path, progress=False)
    msg = str(e.value)
    assert "7 of the 10 images list_eval_partition.txt lists are missing" in msg
    assert "img_align_celeba/000002.jpg, img_align_celeba/000005.jpg" in msg and "and 2 more" in msg
    assert "--allow-count-mismatch" in msg
    assert DS.main(["celeba", "--root", str(tmp_path)]) == 1  # the CLI reports it as an error
    m = _prepare("celeba", tmp_path)  # what is there
    assert m["splits"] == {"train": ["img_align_celeba/000001.jpg", "img_align_celeba/000004.jpg"],
                           "test": ["img_align_celeba/000003.jpg"]}


def test_celeba_google_drive_and_kaggle_copies_and_the_old_sorted_layout(tmp_path):
    drive = tmp_path / "drive"  # the Drive folders: Img/img_align_celeba/, Eval/list_eval_partition.txt
    _celeba(drive, "0022", folder="Img/img_align_celeba", part="Eval/list_eval_partition.txt")
    assert _prepare("celeba", drive)["counts"] == {"train": 2, "test": 2}
    kaggle = tmp_path / "kaggle"  # img_align_celeba/img_align_celeba/ and a CSV with a header
    _celeba(kaggle, "012", folder="img_align_celeba/img_align_celeba", part="list_eval_partition.csv", csv=True)
    assert _prepare("celeba", kaggle)["splits"]["test"] == ["img_align_celeba/img_align_celeba/000003.jpg"]
    old = tmp_path / "old"  # sorted by hand into train/ and test/ (the former instructions)
    _files(old, ["train/000001.jpg", "train/000002.jpg", "test/000003.jpg"])
    assert _prepare("celeba", old)["counts"] == {"train": 2, "test": 1}
    _opens("celeba", old, "test", 1)
    lone = tmp_path / "lone"
    _files(lone, ["img_align_celeba/000001.jpg"])
    with pytest.raises(FileNotFoundError, match="not list_eval_partition.txt"):
        DS.prepare("celeba", lone, progress=False)


def test_celeba_partition_file_with_a_bad_line_is_named(tmp_path):
    _celeba(tmp_path, "01")
    with open(tmp_path / "list_eval_partition.txt", "a") as f:
        f.write("000003.jpg 7\n")
    with pytest.raises(ValueError, match="list_eval_partition.txt, line 3"):
        DS.prepare("celeba", tmp_path, progress=False)


# ---------------------------------------------------------------------------------------------------------------
# Places365-Standard: data_256/, val_256/, optional file lists
# ---------------------------------------------------------------------------------------------------------------

def test_places2_file_lists_select_the_images_and_name_missing_ones(tmp_path):
    write_dataset(tmp_path, "places2")
    root = tmp_path / "places2"
    _files(root, ["data_256/c/canyon/00000001.jpg"])  # not in the list: not indexed
    m = _prepare("places2", root)
    assert m["splits"]["train"] == ["data_256/a/abbey/00000001.jpg", "data_256/a/abbey/00000002.jpg",
                                    "data_256/b/bakery/shop/00000001.jpg"]
    _opens("places2", root, "train", 3)
    (root / "val_256/Places365_val_00000002.jpg").unlink()
    with pytest.raises(DS.MissingFiles, match="1 of the 5 images places365_train_standard.txt and places365_val.txt"
                                              r" lists are missing \(test: 1 of 2\): val_256/Places365_val_00000002"):
        DS.prepare("places2", root, progress=False)
    assert _prepare("places2", root)["splits"]["test"] == ["val_256/Places365_val_00000001.jpg"]


def test_places2_without_file_lists_indexes_the_folders(tmp_path):
    _files(tmp_path, ["data_256/a/abbey/00000001.jpg", "data_256/z/zen_garden/00000001.jpg",
                      "val_256/Places365_val_00000001.jpg"])
    assert _prepare("places2", tmp_path)["counts"] == {"train": 2, "test": 1}
    _opens("places2", tmp_path, "test", 1)


# ---------------------------------------------------------------------------------------------------------------
# LSUN church_outdoor: data.py export (nested one-character folders of .webp), --flat, or the LMDB databases
# ---------------------------------------------------------------------------------------------------------------

def _keys(n: int, salt: str) -> list[str]:
    return [hashlib.sha1(f"{salt}{i}".encode()).hexdigest() for i in range(n)]


def test_lsun_exported_webp_in_nested_and_flat_folders(tmp_path):
    _files(tmp_path, (f"church_outdoor_train/{lsun_export_path(k)}" for k in _keys(3, "t")), "WEBP")
    _files(tmp_path, (f"church_outdoor_val/{k}.webp" for k in _keys(2, "v")), "WEBP")  # data.py export --flat
    m = _prepare("lsun_church", tmp_path)
    k = sorted(_keys(3, "t"))[0]
    assert m["splits"]["train"][0] == f"church_outdoor_train/{'/'.join(k[:6])}/{k}.webp"
    assert len(m["splits"]["train"][0].split("/")) == 8
    _opens("lsun_church", tmp_path, "train", 3)
    _opens("lsun_church", tmp_path, "test", 2)
    assert D.load_image(tmp_path / m["splits"]["test"][0]).shape == (3, 8, 8)


def test_lsun_lmdb_without_the_lmdb_package_says_to_export_or_install_it(tmp_path, monkeypatch, capsys):
    for split in ("train", "val"):
        (tmp_path / f"church_outdoor_{split}_lmdb").mkdir()
        (tmp_path / f"church_outdoor_{split}_lmdb" / "data.mdb").write_bytes(b"")
    monkeypatch.setitem(sys.modules, "lmdb", None)  # import lmdb -> ImportError
    assert DS.main(["lsun_church", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "church_outdoor_train_lmdb is an LMDB database" in err
    assert "data.py export" in err and "pip install lmdb" in err


class _FakeLmdb(types.ModuleType):
    """Enough of the lmdb package to read a database of (key, webp bytes) pairs, sorted by key like LMDB."""

    def __init__(self, dbs: dict[str, dict[bytes, bytes]]):
        super().__init__("lmdb")
        self.dbs = dbs

    def open(self, path, **kw):  # noqa: A003 - lmdb's API
        items = sorted(self.dbs[Path(path).name].items())

        class Txn:
            def __enter__(self):
                return self

            def __exit__(self, *a):
                return False

            def cursor(self):
                return iter(items)

        class Env:
            def begin(self, write=False):
                return Txn()

            def close(self):
                pass

        return Env()


def test_lsun_lmdb_is_exported_in_the_layout_of_lsun_data_py_when_lmdb_is_installed(tmp_path, monkeypatch):
    dbs = {f"church_outdoor_{s}_lmdb": {k.encode(): image_bytes("WEBP") for k in _keys(n, s)}
           for s, n in (("train", 3), ("val", 2))}
    for name in dbs:
        (tmp_path / name).mkdir()
    monkeypatch.setitem(sys.modules, "lmdb", _FakeLmdb(dbs))
    m = _prepare("lsun_church", tmp_path)
    assert m["splits"]["train"] == sorted(f"church_outdoor_train/{lsun_export_path(k)}" for k in _keys(3, "train"))
    assert m["counts"] == {"train": 3, "test": 2}
    assert not list(tmp_path.glob(".*partial"))
    _opens("lsun_church", tmp_path, "test", 2)
    dbs["bad_lmdb"] = {b"../x": b""}  # a key that would escape the folder is refused
    with pytest.raises(ValueError, match="not a plain name"):
        DS.export_lsun_lmdb(tmp_path / "bad_lmdb", tmp_path / "bad")


# ---------------------------------------------------------------------------------------------------------------
# Stanford Cars, Helen, Paris StreetView
# ---------------------------------------------------------------------------------------------------------------

def test_stanford_cars_as_shipped_and_nested_one_level_deeper(tmp_path):
    _files(tmp_path, ["cars_train/cars_train/00001.jpg", "cars_train/cars_train/00002.jpg",
                      "cars_test/cars_test/00001.jpg"])
    m = _prepare("stanford_cars", tmp_path)
    assert m["splits"]["train"] == ["cars_train/cars_train/00001.jpg", "cars_train/cars_train/00002.jpg"]
    _opens("stanford_cars", tmp_path, "test", 1)


def test_helen_is_split_by_its_name_lists_across_the_zip_folders(tmp_path):
    write_dataset(tmp_path, "helen")
    root = tmp_path / "helen"
    m = _prepare("helen", root)
    assert m["splits"]["train"] == ["helen_1/100000_1.jpg", "helen_2/100007_1.jpg", "helen_3/100014_1.jpg"]
    _opens("helen", root, "test", 2)
    (root / "helen_2/100007_1.jpg").unlink()
    with pytest.raises(DS.MissingFiles, match=r"1 of the 5 images .* \(train: 1 of 3\): 100007_1 \(trainnames.txt\)"):
        DS.prepare("helen", root, progress=False)
    (root / "testnames.txt").unlink()
    with pytest.raises(FileNotFoundError, match="found trainnames.txt but not testnames.txt"):
        DS.prepare("helen", root, progress=False)


def test_paris_streetview_as_shipped(tmp_path):
    write_dataset(tmp_path, "paris_streetview")
    assert _prepare("paris_streetview", tmp_path / "paris_streetview")["counts"] == {"train": 3, "test": 2}
    _opens("paris_streetview", tmp_path / "paris_streetview", "train", 3)


def test_a_missing_split_folder_beside_an_archive_says_to_extract_it(tmp_path):
    _files(tmp_path, ["paris_train_original/a.JPG"])
    (tmp_path / "paris_eval_gt.zip").write_bytes(b"PK")
    with pytest.raises(FileNotFoundError, match=r"split 'test'.*Found archives \['paris_eval_gt.zip'\]"):
        DS.prepare("paris_streetview", tmp_path, progress=False)


# ---------------------------------------------------------------------------------------------------------------
# Random splits of one image folder: FFHQ, CelebA-HQ, Oxford Buildings
# ---------------------------------------------------------------------------------------------------------------

def test_ffhq_indexes_images1024x1024_only_not_thumbnails_or_downloads(tmp_path):
    rels = [f"images1024x1024/{i // 1000 * 1000:05d}/{i:05d}.png" for i in range(1004)]
    _files(tmp_path, rels, "PNG")
    _files(tmp_path, [f"thumbnails128x128/00000/{i:05d}.png" for i in range(5)] + ["downloads/x.png"], "PNG")
    m = _prepare("ffhq", tmp_path)
    assert m["counts"] == {"train": 4, "test": 1000}
    assert sorted(m["splits"]["train"] + m["splits"]["test"]) == rels
    _opens("ffhq", tmp_path, "train", 4)
    flat = tmp_path / "flat"  # thumbnails only
    _files(flat, [f"thumbnails128x128/{i:05d}.png" for i in range(1002)], "PNG")
    assert _prepare("ffhq", flat)["counts"] == {"train": 2, "test": 1000}


def test_celeba_hq_indexes_only_the_image_folder_of_celebamask_hq(tmp_path):
    root = tmp_path / "CelebAMask-HQ"
    _files(root, [f"CelebA-HQ-img/{i}.jpg" for i in range(3002)])
    _files(root, ["CelebAMask-HQ-mask-anno/0/00000_hair.png", "CelebAMask-HQ-mask-anno/0/00000_skin.png"], "PNG")
    m = _prepare("celeba_hq", tmp_path)
    assert m["counts"] == {"train": 2, "test": 3000}
    assert all(f.startswith("CelebAMask-HQ/CelebA-HQ-img/") for f in m["splits"]["train"] + m["splits"]["test"])
    _opens("celeba_hq", tmp_path, "train", 2)
    pgan = tmp_path / "pgan"  # progressive GAN naming, split 28K/2K from the same folder
    _files(pgan, [f"data1024x1024/img{i:05d}.png" for i in range(2001)] + ["stray.png"], "PNG")
    assert _prepare("celeba_hq_28k", pgan)["counts"] == {"train": 1, "test": 2000}


def test_oxford_buildings_oxbuild_images(tmp_path):
    write_dataset(tmp_path, "oxford_buildings")
    m = _prepare("oxford_buildings", tmp_path / "oxford_buildings")
    assert m["counts"] == {"train": 3, "test": 523} and m["splits"]["train"][0].startswith("oxbuild_images/")


def test_every_access_text_says_to_put_the_archives_in_root_as_shipped():
    for spec in REGISTRY.values():
        assert "ROOT" in spec.access and "move the images" not in spec.access, spec.name
    assert "list_eval_partition.txt" in REGISTRY["celeba"].access
    assert "trainnames.txt" in REGISTRY["helen"].access
    assert "data.py export" in REGISTRY["lsun_church"].access and "lmdb" in REGISTRY["lsun_church"].access
    assert any(d.filename == "filelist_places365-standard.tar" for d in REGISTRY["places2"].downloads)


# ---------------------------------------------------------------------------------------------------------------
# NVIDIA's irregular mask test set
# ---------------------------------------------------------------------------------------------------------------

def test_nvidia_testset_reads_white_as_hole_with_buckets_from_the_file_order(tmp_path):
    make_fake_masks(tmp_path, per_bucket=2, size=32)
    coll = M.nvidia_testset(tmp_path, allow_count_mismatch=True)
    assert [f.name for f in coll.files][:3] == ["00000.png", "00001.png", "02000.png"]
    assert coll.bucket_ids.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    m = coll.masks()
    assert m.shape == (12, 1, 32, 32) and set(m.unique().tolist()) == {0.0, 1.0}
    for r, b in zip(coll.hole_ratios, coll.bucket_ids):
        assert M.BUCKETS[b][0] < r <= M.BUCKETS[b][1]  # white = hole: the hole ratio falls in the file's bucket
    assert float(m[0].mean()) == pytest.approx(1 - coll.hole_ratios[0])  # 1 = known
    # the folder itself, resized, without measuring
    small = M.nvidia_testset(tmp_path / "mask" / "testing_mask_dataset", size=16, allow_count_mismatch=True,
                             measure=False)
    assert small.masks(5).shape == (2, 1, 16, 16) and np.isnan(small.hole_ratios).all()


def test_nvidia_testset_checks_the_count_and_names_missing_masks(tmp_path):
    make_fake_masks(tmp_path, per_bucket=1)
    with pytest.raises(FileNotFoundError, match=r"11,994 of the 12,000 masks .* missing: 00001.png, 00002.png, "
                                                r"00003.png, 00004.png, 00005.png and 11,989 more"):
        M.nvidia_testset(tmp_path)
    with pytest.raises(FileNotFoundError, match="test_mask.zip"):
        M.nvidia_testset(tmp_path / "nothing")
    assert M.NVIDIA_TESTSET_COUNT == 6 * M.NVIDIA_TESTSET_PER_BUCKET == len(M.nvidia_testset_names()) == 12000
