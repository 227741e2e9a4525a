"""Tiny fake copies of the papers' datasets in their publishers' layouts, for tests (not a test file itself).

``make_fake_root(root, names=None, n_train=3, n_test=2)`` writes every dataset of ``inpaintlib.datasets.REGISTRY``
(or ``names``) under ``root/<name>/`` exactly as its publisher ships it (``LAYOUTS`` says how, one line each), with
8 x 8 images, and prepares each with ``data_prep.datasets.prepare(name, root/name, allow_count_mismatch=True)``, so
``inpaintlib.data.open_dataset(name, root/name, split, 256)`` works for ``"train"`` and ``"test"``.

* Datasets with an official split get ``n_train`` training and ``n_test`` test images (Places2: spread over two
  scene classes; CelebA: the last training image marked 1 = val in the partition file).
* Datasets the papers split at random (CelebA-HQ, FFHQ, Oxford Buildings) need more images than the held-out
  split: they get ``held-out + n_train`` images, so their test split has the registry's size (3,000 / 2,000 /
  1,000 / 523) and ``n_test`` does not apply. ``celeba_hq_28k`` is a symlink to the ``celeba_hq`` folder when both
  are written (one folder of images, two manifests), else a folder of its own.

``make_fake_masks(root, per_bucket=2, size=32)`` writes masks in the layout of NVIDIA's irregular mask test set
(``root/mask/testing_mask_dataset/NNNNN.png``, white = hole, file ``k`` in bucket ``k // 2000``) for
``inpaintlib.masks.nvidia_testset(root, allow_count_mismatch=True)``.

Images are encoded once per format and the same bytes written to every file; past 50 files in one folder set
(the random-split datasets' thousands) the files are hard links of the first, so all datasets together take about
half a second (``python tests/fake_datasets.py`` times it). Replace such a file rather than writing into it.
"""
from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
from PIL import Image

__all__ = ["LAYOUTS", "make_fake_root", "make_fake_masks", "write_dataset", "write_images", "image_bytes"]

#: dataset -> the publisher layout ``write_dataset`` writes (what ``data_prep.datasets`` indexes as shipped).
LAYOUTS = {
    "celeba_hq": "data1024x1024/00000.jpg ... (one folder; seeded random split)",
    "celeba_hq_28k": "a symlink to the celeba_hq folder (or the same layout)",
    "places2": "data_256/a/abbey/00000001.jpg ..., val_256/Places365_val_00000001.jpg ..., "
               "places365_train_standard.txt, places365_val.txt",
    "paris_streetview": "paris_train_original/*.JPG, paris_eval_gt/001_im.png ...",
    "celeba": "img_align_celeba/000001.jpg ..., list_eval_partition.txt",
    "ffhq": "images1024x1024/00000/00000.png ... (folders of 1,000; seeded random split)",
    "oxford_buildings": "oxbuild_images/all_souls_000000.jpg ... (seeded random split)",
    "helen": "helen_1/ ... helen_5/ (<id>_1.jpg), trainnames.txt, testnames.txt",
    "stanford_cars": "cars_train/00001.jpg ..., cars_test/00001.jpg ...",
    "lsun_church": "church_outdoor_train/<k0>/<k1>/.../<k5>/<key>.webp (LSUN data.py export), church_outdoor_val/...",
}

_ENCODED: dict[str, bytes] = {}


def image_bytes(fmt: str = "PNG", size: int = 8) -> bytes:
    """A ``size x size`` random RGB image encoded as ``fmt`` (``"PNG"``, ``"JPEG"``, ``"WEBP"``), cached."""
    key = f"{fmt}-{size}"
    if key not in _ENCODED:
        rng = np.random.default_rng(size)
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(buf, format=fmt)
        _ENCODED[key] = buf.getvalue()
    return _ENCODED[key]


def write_images(root: Path, rel_paths: Iterable[str], fmt: str = "JPEG", link_above: int = 50) -> list[str]:
    """Write the ``image_bytes(fmt)`` image to ``root / rel`` for every ``rel`` (folders made as needed); returns the
    paths. Past ``link_above`` files the rest are hard links of the first one (creating a file costs ~0.5 ms on some
    file systems, a link ~15 us); where linking fails they are written. Replace such a file (unlink it first)
    rather than writing into it, which would change every link."""
    data, made, out, first, can_link = image_bytes(fmt), set(), [], None, True
    for rel in rel_paths:
        p = root / rel
        if p.parent not in made:
            p.parent.mkdir(parents=True, exist_ok=True)
            made.add(p.parent)
        out.append(rel)
        if can_link and first is not None and len(out) > link_above:
            try:
                os.link(first, p)
                continue
            except OSError:
                can_link = False
        with open(p, "wb") as f:
            f.write(data)
        first = first or p
    return out


def _held_out(name: str) -> int:
    from inpaintlib.datasets import REGISTRY
    return sum(REGISTRY[name].random_split.values())


def _celeba_hq(d: Path, n_train: int, n_test: int, name: str = "celeba_hq") -> None:
    n = max(_held_out("celeba_hq"), _held_out(name)) + n_train
    write_images(d, (f"data1024x1024/{i:05d}.jpg" for i in range(n)), "JPEG")


def _places2(d: Path, n_train: int, n_test: int) -> None:
    classes = ("a/abbey", "b/bakery/shop")
    train = [f"{classes[i % 2]}/{i // 2 + 1:08d}.jpg" for i in range(n_train)]
    val = [f"Places365_val_{i + 1:08d}.jpg" for i in range(n_test)]
    write_images(d / "data_256", train, "JPEG")
    write_images(d / "val_256", val, "JPEG")
    (d / "places365_train_standard.txt").write_text("".join(f"/{t} {i % 2 * 39}\n" for i, t in enumerate(train)))
    (d / "places365_val.txt").write_text("".join(f"{v} {165 + i}\n" for i, v in enumerate(val)))


def _paris(d: Path, n_train: int, n_test: int) -> None:
    write_images(d, (f"paris_train_original/48.84{i:04d}_2.31{i:04d}_90_-004.JPG" for i in range(n_train)), "JPEG")
    write_images(d, (f"paris_eval_gt/{i + 1:03d}_im.png" for i in range(n_test)), "PNG")


def _celeba(d: Path, n_train: int, n_test: int) -> None:
    names = [f"{i + 1:06d}.jpg" for i in range(n_train + n_test)]
    write_images(d / "img_align_celeba", names, "JPEG")
    codes = ["0"] * n_train + ["2"] * n_test
    if n_train > 1:
        codes[n_train - 1] = "1"  # a validation image: trained on
    (d / "list_eval_partition.txt").write_text("".join(f"{n} {c}\n" for n, c in zip(names, codes)))


def _ffhq(d: Path, n_train: int, n_test: int) -> None:
    n = _held_out("ffhq") + n_train
    write_images(d, (f"images1024x1024/{i // 1000 * 1000:05d}/{i:05d}.png" for i in range(n)), "PNG")


def _oxford(d: Path, n_train: int, n_test: int) -> None:
    places = ("all_souls", "ashmolean", "balliol", "bodleian", "christ_church")
    n = _held_out("oxford_buildings") + n_train
    write_images(d, (f"oxbuild_images/{places[i % 5]}_{i:06d}.jpg" for i in range(n)), "JPEG")


def _helen(d: Path, n_train: int, n_test: int) -> None:
    train = [f"{100000 + 7 * i}_1" for i in range(n_train)]
    test = [f"{200000 + 7 * i}_1" for i in range(n_test)]
    write_images(d, (f"helen_{i % 4 + 1}/{n}.jpg" for i, n in enumerate(train)), "JPEG")
    write_images(d, (f"helen_5/{n}.jpg" for n in test), "JPEG")
    (d / "trainnames.txt").write_text("".join(f"{n}\n" for n in train))
    (d / "testnames.txt").write_text("".join(f"{n}\n" for n in test))


def _cars(d: Path, n_train: int, n_test: int) -> None:
    write_images(d, (f"cars_train/{i + 1:05d}.jpg" for i in range(n_train)), "JPEG")
    write_images(d, (f"cars_test/{i + 1:05d}.jpg" for i in range(n_test)), "JPEG")


def lsun_export_path(key: str) -> str:
    """Where LSUN's ``data.py export`` puts the image of ``key``: ``k0/k1/k2/k3/k4/k5/<key>.webp``."""
    return "/".join(key[:6]) + f"/{key}.webp"


def _lsun(d: Path, n_train: int, n_test: int) -> None:
    for folder, n in (("church_outdoor_train", n_train), ("church_outdoor_val", n_test)):
        keys = [hashlib.sha1(f"{folder}{i}".encode()).hexdigest() for i in range(n)]
        write_images(d / folder, (lsun_export_path(k) for k in keys), "WEBP")


_WRITERS: dict[str, Callable[[Path, int, int], None]] = {
    "celeba_hq": _celeba_hq, "places2": _places2, "paris_streetview": _paris, "celeba": _celeba, "ffhq": _ffhq,
    "oxford_buildings": _oxford, "helen": _helen, "stanford_cars": _cars, "lsun_church": _lsun,
}


def write_dataset(root: Path, name: str, n_train: int = 3, n_test: int = 2) -> Path:
    """Write the fake copy of ``name`` under ``root/name`` in its publisher layout (no manifest); returns the folder."""
    d = Path(root) / name
    if name == "celeba_hq_28k":
        hq = Path(root) / "celeba_hq"
        if hq.is_dir() and not d.exists():
            d.symlink_to("celeba_hq", target_is_directory=True)
            return d
        if d.is_symlink():
            return d
        _celeba_hq(d, n_train, n_test, name)
        return d
    if name not in _WRITERS:
        raise ValueError(f"no fake layout for dataset {name!r}; known: {sorted(_WRITERS) + ['celeba_hq_28k']}")
    d.mkdir(parents=True, exist_ok=True)
    _WRITERS[name](d, n_train, n_test)
    return d


def make_fake_root(root: Path, names: Iterable[str] | None = None, n_train: int = 3, n_test: int = 2) -> Path:
    """Write every dataset of ``REGISTRY`` (or ``names``) under ``root/<name>/`` in its publisher layout and prepare
    it (``allow_count_mismatch=True``); returns ``root``. ``open_dataset(name, root/name, split, 256)`` then works
    for train and test."""
    from data_prep.datasets import prepare
    from inpaintlib.datasets import REGISTRY

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    names = list(REGISTRY) if names is None else list(names)
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise ValueError(f"unknown datasets {unknown}; known: {sorted(REGISTRY)}")
    # celeba_hq first, so celeba_hq_28k can be a link to it
    for name in sorted(names, key=lambda n: n != "celeba_hq"):
        write_dataset(root, name, n_train, n_test)
        prepare(name, root / name, allow_count_mismatch=True, progress=False)
    return root


def make_fake_masks(root: Path, per_bucket: int = 2, size: int = 32) -> Path:
    """Write ``per_bucket`` masks per hole-ratio bucket in the layout of NVIDIA's irregular mask test set:
    ``root/mask/testing_mask_dataset/NNNNN.png`` with NNNNN = 2000 * bucket + k, 8-bit gray, **white (255) =
    hole**, the hole a band covering the middle of the bucket's ratio range. Returns ``root``."""
    from inpaintlib.buckets import BUCKETS

    folder = Path(root) / "mask" / "testing_mask_dataset"
    folder.mkdir(parents=True, exist_ok=True)
    for b, (lo, hi) in enumerate(BUCKETS):
        for k in range(per_bucket):
            m = np.zeros(size * size, np.uint8)
            m[k: k + int(round((lo + hi) / 2 * size * size))] = 255
            Image.fromarray(m.reshape(size, size)).save(folder / f"{b * 2000 + k:05d}.png")
    return Path(root)


if __name__ == "__main__":  # time it: python tests/fake_datasets.py
    import sys
    import tempfile
    import time

    sys.path.insert(0, os.fspath(Path(__file__).resolve().parents[1]))
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        make_fake_root(Path(tmp))
        print(f"make_fake_root, all datasets: {time.perf_counter() - t:.2f} s")
