"""Fetch or index the real datasets of the five papers and write ``ROOT/manifest.json``.

Usage::

    python -m data_prep.datasets NAME --root DIR [--download] [--allow-count-mismatch]
    python -m data_prep.datasets --list

``--download`` fetches the public archives of NAME (where the registry has a public URL) into
``DIR/downloads`` with ``urllib`` (resumable: a partial ``.part`` file is continued with an HTTP
Range request; the finished file is checked against its sha256 where the registry knows it and
renamed into place), and extracts them into ``DIR``. Without ``--download`` the images must
already be in ``DIR`` (the user copies or extracts them there). Either way the folder is then
indexed: images are found per split (by the split's folder names, or, for datasets the papers
split at random, by a seeded random split of all images), the counts are checked against the
registry (a mismatch raises an error listing expected and found counts), and ``manifest.json`` is
written atomically: ``{"name", "splits": {split: [relative paths]}, "counts", "list_sha256"}``.

``inpaintlib.data.open_dataset(NAME, DIR, split, size)`` reads that manifest.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from inpaintlib.data import list_images


@dataclass(frozen=True)
class Download:
    """One archive: ``url``, the file name to save it as, its sha256 (None when unknown) and the
    folder (relative to the dataset root) to extract it into."""
    url: str
    filename: str
    sha256: str | None = None
    extract_to: str = "."


@dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset comes from and how it is split.

    ``split_dirs``: split -> folder names (relative to the root; the first one found is used)
    holding that split's images. ``random_split``: split -> count for datasets without an official
    split; the test images are a seeded (``split_seed``) random choice among all images under the
    root, the rest is train. ``counts``: the expected number of images per split.
    """
    name: str
    title: str
    homepage: str
    access: str
    counts: dict[str, int]
    split_dirs: dict[str, tuple[str, ...]] = field(default_factory=dict)
    random_split: dict[str, int] = field(default_factory=dict)
    split_seed: int = 0
    downloads: tuple[Download, ...] = ()
    notes: str = ""
    used_by: str = ""

    def source_text(self) -> str:
        """One line saying where to get the data."""
        how = "public download (use --download)" if self.downloads else self.access
        return f"{self.title}: {how}; {self.homepage}"


REGISTRY: dict[str, DatasetSpec] = {}


def register(spec: DatasetSpec) -> DatasetSpec:
    REGISTRY[spec.name] = spec
    return spec


register(DatasetSpec(
    name="celeba_hq", title="CelebA-HQ (Karras et al., ICLR 2018)",
    homepage="https://github.com/tkarras/progressive_growing_of_gans",
    access="no direct public download: build it from CelebA (https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html) "
           "with the dataset tool of the progressive GAN repository, and put the 30,000 images in ROOT",
    counts={"train": 27000, "test": 3000}, random_split={"test": 3000},
    notes="DeepGIN Sect. 5.2: 'randomly split ... 27,000 images for training and 3,000 for testing'; "
          "the authors' split is not published, ours is a seeded random split",
    used_by="DeepGIN"))

register(DatasetSpec(
    name="places2", title="Places365-Standard, 256x256 (Zhou et al., TPAMI 2018)",
    homepage="http://places2.csail.mit.edu/download.html",
    access="public download from the Places2 site (small images, 256x256)",
    counts={"train": 1803460, "test": 36500},
    split_dirs={"train": ("data_256", "train", "train_256"), "test": ("val_256", "test", "val")},
    downloads=(
        Download("http://data.csail.mit.edu/places/places365/train_256_places365standard.tar",
                 "train_256_places365standard.tar"),
        Download("http://data.csail.mit.edu/places/places365/val_256.tar", "val_256.tar"),
    ),
    notes="the official validation set (36,500) serves as the test set, as in MSA-Net/PMRFN-style "
          "evaluations ('original train set and test set', MSA-Net Sect. 4)",
    used_by="MSA-Net, PMRFN"))

register(DatasetSpec(
    name="paris_streetview", title="Paris StreetView (Doersch et al. 2012; Pathak et al., CVPR 2016)",
    homepage="https://github.com/pathak22/context-encoder",
    access="request access from the Context Encoders authors (see the repository's README: the Paris "
           "StreetView data is shared on request), then put the train and test images in ROOT",
    counts={"train": 14900, "test": 100},
    split_dirs={"train": ("paris_train_original", "train"), "test": ("paris_eval_gt", "test", "eval")},
    used_by="PMRFN"))

register(DatasetSpec(
    name="ffhq", title="Flickr-Faces-HQ (Karras et al., CVPR 2019)",
    homepage="https://github.com/NVlabs/ffhq-dataset",
    access="download with the repository's download_ffhq.py (Google Drive, quota-limited) and put the "
           "70,000 images (images1024x1024) in ROOT",
    counts={"train": 69000, "test": 1000}, random_split={"test": 1000},
    notes="DeepGIN Sect. 6.2: 'randomly selected 1,000 images for the testing'; ours is a seeded random split",
    used_by="DeepGIN, CtxAttn"))

register(DatasetSpec(
    name="oxford_buildings", title="Oxford Buildings 5k (Philbin et al., CVPR 2007)",
    homepage="https://www.robots.ox.ac.uk/~vgg/data/oxbuildings/",
    access="public download (5k dataset images) from the Visual Geometry Group page",
    counts={"train": 4539, "test": 523}, random_split={"test": 523},
    downloads=(Download("https://www.robots.ox.ac.uk/~vgg/data/oxbuildings/oxbuild_images.tgz",
                        "oxbuild_images.tgz", extract_to="oxbuild_images"),),
    notes="DeepGIN Sect. 6.2: 'randomly selected 523 testing images'; ours is a seeded random split. "
          "If the archive URL has moved, download the 5k images from the homepage and index the folder",
    used_by="DeepGIN, CtxAttn"))

register(DatasetSpec(
    name="helen", title="Helen (Le et al., ECCV 2012)",
    homepage="http://www.ifp.illinois.edu/~vuongle2/helen/",
    access="download the training and test images from the Helen homepage and put them in ROOT/train "
           "(2,000) and ROOT/test (330)",
    counts={"train": 2000, "test": 330},
    split_dirs={"train": ("train",), "test": ("test",)},
    notes="MSFEF Sect. 4.1: 2,000 training and 330 test images",
    used_by="MSFEF"))

register(DatasetSpec(
    name="stanford_cars", title="Stanford Cars (Krause et al., 3dRR 2013)",
    homepage="https://ai.stanford.edu/~jkrause/cars/car_dataset.html",
    access="the original archives (cars_train.tgz, cars_test.tgz) have been offline since 2023 "
           "(pytorch/vision issue #7545); obtain a copy of the same 16,185 images and put them in "
           "ROOT/cars_train and ROOT/cars_test",
    counts={"train": 8144, "test": 8041},
    split_dirs={"train": ("cars_train", "train"), "test": ("cars_test", "test")},
    notes="MSFEF Sect. 4.1: 8,144 training and 8,041 test images",
    used_by="MSFEF"))

register(DatasetSpec(
    name="lsun_church", title="LSUN church_outdoor (Yu et al., 2015)",
    homepage="https://github.com/fyu/lsun",
    access="download church_outdoor_train_lmdb.zip and church_outdoor_val_lmdb.zip with the LSUN repository's "
           "download.py, export them to image files with its data.py ('export'), and put them in ROOT/train "
           "and ROOT/test (the LMDB archives themselves are not read here)",
    counts={"train": 126227, "test": 300},
    split_dirs={"train": ("church_outdoor_train", "train"), "test": ("church_outdoor_val", "test", "val")},
    notes="MSFEF Sect. 4.1: 'over 126,000 training images and 300 testing images' (the official val set)",
    used_by="MSFEF"))


# --------------------------------------------------------------------------------------------
# Downloading
# --------------------------------------------------------------------------------------------

def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download(url: str, dest: str | os.PathLike, sha256: str | None = None, *, progress: bool = True,
             chunk: int = 1 << 20) -> Path:
    """Download ``url`` to ``dest`` atomically and resumably.

    Bytes go to ``dest + ".part"``; an existing ``.part`` is continued with a ``Range`` request (a
    server that ignores it restarts the file). When complete the file is checked against ``sha256``
    (when given; a mismatch removes the partial file and raises ``ValueError``) and renamed to
    ``dest``. An existing ``dest`` with the right hash (or any existing ``dest`` when no hash is
    known) is kept and not fetched again.
    """
    dest = Path(dest)
    if dest.is_file() and (sha256 is None or sha256_file(dest) == sha256):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    req = urllib.request.Request(url, headers={"User-Agent": "inpaintlib-data-prep"})
    if have and url.lower().startswith(("http://", "https://")):
        req.add_header("Range", f"bytes={have}-")
    try:
        resp = urllib.request.urlopen(req, timeout=60)
    except Exception as e:  # noqa: BLE001 - re-raised with the URL and what to do
        raise RuntimeError(f"could not download {url}: {e}. Download it by hand to {dest} and re-run "
                           "without --download, or check the dataset's homepage for a new address") from e
    with resp:
        status = getattr(resp, "status", None) or resp.getcode()
        resumed = have > 0 and status == 206
        total = resp.headers.get("Content-Length")
        total = int(total) + (have if resumed else 0) if total is not None else None
        bar = None
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=total, initial=have if resumed else 0, unit="B", unit_scale=True, desc=dest.name)
        with open(part, "ab" if resumed else "wb") as f:
            while True:
                buf = resp.read(chunk)
                if not buf:
                    break
                f.write(buf)
                if bar is not None:
                    bar.update(len(buf))
        if bar is not None:
            bar.close()
    if total is not None and part.stat().st_size != total:
        raise RuntimeError(f"download of {url} stopped at {part.stat().st_size} of {total} bytes; "
                           "re-run to resume")
    if sha256 is not None:
        got = sha256_file(part)
        if got != sha256:
            part.unlink()
            raise ValueError(f"sha256 of {url} is {got}, expected {sha256}; the partial file was removed")
    os.replace(part, dest)
    return dest


def _safe_members_tar(tf: tarfile.TarFile, target: Path):
    for m in tf.getmembers():
        p = (target / m.name).resolve()
        if not str(p).startswith(str(target.resolve())) or m.issym() or m.islnk():
            raise ValueError(f"refusing archive member {m.name!r} (outside the target folder or a link)")
        yield m


def extract(archive: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Extract a tar(.gz/.bz2/.xz) or zip archive into ``target`` (members escaping it are refused).
    A marker file ``.extracted-<archive name>`` makes re-running a no-op."""
    archive, target = Path(archive), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    marker = target / f".extracted-{archive.name}"
    if marker.is_file():
        return target
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for n in zf.namelist():
                p = (target / n).resolve()
                if not str(p).startswith(str(target.resolve())):
                    raise ValueError(f"refusing archive member {n!r} (outside the target folder)")
            zf.extractall(target)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tf.extractall(target, members=list(_safe_members_tar(tf, target)), **extra)
    else:
        raise ValueError(f"{archive} is neither a tar nor a zip archive")
    marker.write_text("ok\n")
    return target


def fetch(spec: DatasetSpec, root: str | os.PathLike, progress: bool = True) -> None:
    """Download and extract every archive of ``spec`` into ``root``."""
    if not spec.downloads:
        raise ValueError(f"{spec.name} has no public download. {spec.access}. Then run "
                         f"`python -m data_prep.datasets {spec.name} --root {root}` without --download")
    root = Path(root)
    for d in spec.downloads:
        path = download(d.url, root / "downloads" / d.filename, d.sha256, progress=progress)
        extract(path, root / d.extract_to)


# --------------------------------------------------------------------------------------------
# Indexing
# --------------------------------------------------------------------------------------------

class CountMismatch(ValueError):
    """The images found do not match the registry's expected counts."""


def _find_split_dir(root: Path, names: Sequence[str]) -> Path | None:
    for n in names:
        for cand in (root / n, *sorted(root.glob(f"*/{n}"))):
            if cand.is_dir():
                return cand
    return None


def index_folder(spec: DatasetSpec, root: str | os.PathLike) -> dict[str, list[str]]:
    """Relative image paths per split for ``spec`` under ``root`` (sorted; downloads excluded)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} does not exist. Get {spec.name}: {spec.source_text()}")
    if spec.split_dirs:
        splits = {}
        for split, names in spec.split_dirs.items():
            d = _find_split_dir(root, names)
            if d is None:
                raise FileNotFoundError(
                    f"{spec.name}: no folder for split {split!r} under {root} (looked for {list(names)} at the top "
                    f"level and one level down). Get the data: {spec.source_text()}")
            rel = d.relative_to(root).as_posix()
            splits[split] = [f"{rel}/{f}" for f in list_images(d)]
        return splits
    files = [f for f in list_images(root) if not f.startswith("downloads/")]
    n_other = sum(spec.random_split.values())
    if len(files) < n_other:
        raise CountMismatch(_mismatch_text(spec, root, {"all": len(files)}))
    rng = np.random.default_rng(spec.split_seed)
    order = rng.permutation(len(files))
    splits, start = {}, 0
    for split, n in spec.random_split.items():
        splits[split] = sorted(files[i] for i in order[start:start + n])
        start += n
    splits["train"] = sorted(files[i] for i in order[start:])
    return {k: splits[k] for k in spec.counts}


def _mismatch_text(spec: DatasetSpec, root: Path, found: dict[str, int]) -> str:
    exp = ", ".join(f"{k}: {v}" for k, v in spec.counts.items())
    got = ", ".join(f"{k}: {v}" for k, v in found.items())
    return (f"{spec.name} at {root}: expected {exp} (total {sum(spec.counts.values())}); found {got}. "
            f"Check that the whole dataset is there ({spec.source_text()}), or pass --allow-count-mismatch "
            "to index a subset (numbers from it are not comparable with the papers')")


def _list_sha(files: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(files).encode()).hexdigest()


def write_manifest(spec: DatasetSpec, root: str | os.PathLike, splits: dict[str, list[str]],
                   allow_count_mismatch: bool = False) -> Path:
    """Check counts and write ``root/manifest.json`` atomically (temp file + rename)."""
    root = Path(root)
    counts = {k: len(v) for k, v in splits.items()}
    if counts != spec.counts and not allow_count_mismatch:
        raise CountMismatch(_mismatch_text(spec, root, counts))
    manifest = dict(format="inpaintlib-dataset", version=1, name=spec.name, title=spec.title,
                    source=spec.source_text(), counts=counts, expected_counts=dict(spec.counts),
                    complete=counts == spec.counts, split_seed=spec.split_seed if spec.random_split else None,
                    list_sha256={k: _list_sha(v) for k, v in splits.items()}, splits=splits)
    fd, tmp = tempfile.mkstemp(prefix=".manifest.", suffix=".json", dir=root)
    with os.fdopen(fd, "w") as f:
        json.dump(manifest, f, indent=1)
    os.replace(tmp, root / "manifest.json")
    return root / "manifest.json"


def prepare(name: str, root: str | os.PathLike, download: bool = False, allow_count_mismatch: bool = False,
            progress: bool = True) -> Path:
    """Download (optionally) and index dataset ``name`` under ``root``; returns the manifest path."""
    if name not in REGISTRY:
        raise ValueError(f"unknown dataset {name!r}; known: {sorted(REGISTRY)}")
    spec = REGISTRY[name]
    root = Path(root)
    if download:
        fetch(spec, root, progress=progress)
    splits = index_folder(spec, root)
    return write_manifest(spec, root, splits, allow_count_mismatch)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m data_prep.datasets", description=__doc__.split("\n\n")[0])
    ap.add_argument("name", nargs="?", choices=sorted(REGISTRY), help="dataset")
    ap.add_argument("--root", help="folder that holds (or will hold) the dataset")
    ap.add_argument("--download", action="store_true", help="fetch the public archives first (where they exist)")
    ap.add_argument("--allow-count-mismatch", action="store_true", help="index a subset; marked incomplete")
    ap.add_argument("--list", action="store_true", help="list the datasets and where to get them")
    args = ap.parse_args(argv)
    if args.list or args.name is None:
        for s in REGISTRY.values():
            counts = ", ".join(f"{k} {v:,}" for k, v in s.counts.items())
            print(f"{s.name:17s} {counts:28s} {s.source_text()}")
        return 0
    if not args.root:
        ap.error("--root is required")
    try:
        path = prepare(args.name, args.root, download=args.download,
                       allow_count_mismatch=args.allow_count_mismatch)
    except (FileNotFoundError, ValueError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    m = json.loads(Path(path).read_text())
    print(f"wrote {path}: " + ", ".join(f"{k} {v}" for k, v in m["counts"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
