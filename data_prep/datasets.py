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
from pathlib import Path
from typing import Sequence

import numpy as np

from inpaintlib.data import list_images
from inpaintlib.datasets import REGISTRY, DatasetSpec, Download, register  # noqa: F401  (the registry)
from inpaintlib.files import sha256_file


# --------------------------------------------------------------------------------------------
# Downloading
# --------------------------------------------------------------------------------------------

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
    """Check counts and write ``root/<spec.manifest>`` (``manifest.json`` unless the spec names another)
    atomically (temp file + rename)."""
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
    os.replace(tmp, root / spec.manifest)
    return root / spec.manifest


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
    except (OSError, ValueError, RuntimeError) as e:  # OSError: e.g. an unwritable folder, named in e
        print(f"error: {e}", file=sys.stderr)
        return 1
    m = json.loads(Path(path).read_text())
    print(f"wrote {path}: " + ", ".join(f"{k} {v}" for k, v in m["counts"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
