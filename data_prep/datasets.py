"""Fetch or index the real datasets of the five papers and write ``ROOT/manifest.json``.

Usage::

    python -m data_prep.datasets NAME --root DIR [--download] [--allow-count-mismatch]
    python -m data_prep.datasets --list

``--download`` fetches the public archives of NAME (where the registry has a public URL) into
``DIR/downloads`` with ``urllib`` (resumable: a partial ``.part`` file is continued with an HTTP
Range request; the finished file is checked against its sha256 where the registry knows it and
renamed into place), and extracts them into ``DIR``. Without ``--download`` the images must
already be in ``DIR``, as the publisher ships them (the user extracts the archives there; nothing
is sorted by hand). Either way the folder is then indexed: images are found per split (from the
publisher's file lists where there are any - CelebA's partition file, Places365's file lists,
Helen's name lists -, by the split's folder names, or, for datasets the papers split at random, by
a seeded random split of the images of the release's image folder), files a list names but that
are missing are named in an error, the counts are checked against the registry (a mismatch raises
an error listing expected and found counts), and ``manifest.json`` is written atomically:
``{"name", "splits": {split: [relative paths]}, "counts", "list_sha256"}``. LSUN's LMDB databases
are exported to image folders first when the optional ``lmdb`` package is installed.

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


class MissingFiles(CountMismatch):
    """Images a publisher's file list names (CelebA's partition file, Places365's file lists, Helen's name
    lists, ...) are not under the root; the message names the first few and says how many."""


#: How many missing files an error names.
SHOW_MISSING = 5


def _find_split_dir(root: Path, names: Sequence[str]) -> Path | None:
    """The first folder of ``names`` at the root or one level down (``root/*/name``)."""
    for n in names:
        for cand in (root / n, *sorted(root.glob(f"*/{n}"))):
            if cand.is_dir():
                return cand
    return None


def _find_file(root: Path, names: Sequence[str]) -> Path | None:
    """The first file of ``names`` at the root or one level down (``root/*/name``, e.g. CelebA's ``Eval/``)."""
    for n in names:
        for cand in (root / n, *sorted(root.glob(f"*/{n}"))):
            if cand.is_file():
                return cand
    return None


def _rel(root: Path, d: Path) -> str:
    """``d`` relative to ``root`` as a POSIX prefix ending in ``/`` (``""`` for the root itself)."""
    rel = d.relative_to(root).as_posix()
    return "" if rel == "." else rel + "/"


def _images_under(root: Path, d: Path) -> list[str]:
    """Images under ``d`` (recursive, sorted) as paths relative to ``root``; ``downloads/`` of the root skipped."""
    pre = _rel(root, d)
    return [pre + f for f in list_images(d) if not (pre + f).startswith("downloads/")]


def _by_name(root: Path, folders: Sequence[Path]) -> dict[str, str]:
    """File name -> path relative to ``root`` for every image under ``folders`` (any depth), and the same
    for the name without its extension (so ``000001.jpg`` in a list also finds ``000001.png``). The
    first in sorted order wins where two folders hold the same name."""
    out: dict[str, str] = {}
    for d in folders:
        for rel in _images_under(root, d):
            name = rel.rsplit("/", 1)[-1]
            out.setdefault(name, rel)
            out.setdefault(name.rsplit(".", 1)[0], rel)
    return out


def _lookup(by_name: dict[str, str], name: str) -> str | None:
    return by_name.get(name) or by_name.get(name.rsplit(".", 1)[0])


def _read_lines(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, fields) of every non-empty line; commas count as separators (Kaggle's CSV copies)."""
    out = []
    with open(path, encoding="utf-8-sig") as f:
        for no, line in enumerate(f, 1):
            fields = line.replace(",", " ").split()
            if fields:
                out.append((no, fields))
    return out


def _check_missing(spec: DatasetSpec, root: Path, listed: dict[str, int], missing: dict[str, list[str]],
                   source: str, allow_missing: bool) -> None:
    """Raise ``MissingFiles`` naming the first ``SHOW_MISSING`` missing files, unless ``allow_missing``."""
    n = sum(len(v) for v in missing.values())
    if not n or allow_missing:
        return
    total = sum(listed.values())
    names = [m for v in missing.values() for m in v]
    per_split = ", ".join(f"{k}: {len(v):,} of {listed[k]:,}" for k, v in missing.items() if v)
    more = f" and {n - SHOW_MISSING:,} more" if n > SHOW_MISSING else ""
    raise MissingFiles(
        f"{spec.name} at {root}: {n:,} of the {total:,} images {source} lists are missing ({per_split}): "
        f"{', '.join(names[:SHOW_MISSING])}{more}. Put the archive contents in {root} as shipped "
        f"({spec.source_text()}), or pass --allow-count-mismatch to index the {total - n:,} that are there "
        "(numbers from a subset are not comparable with the papers')")


def _celeba(spec: DatasetSpec, root: Path, allow_missing: bool, progress: bool = False
            ) -> dict[str, list[str]] | None:
    """CelebA as shipped: ``img_align_celeba/`` and ``list_eval_partition.txt`` (0 train, 1 val, 2 test ->
    train = 0 and 1, test = 2). None when that layout is not there (the hand-sorted train/ + test/ is then used)."""
    part = _find_file(root, ("list_eval_partition.txt", "list_eval_partition.csv"))
    img = _find_split_dir(root, ("img_align_celeba", "img_align_celeba_png"))
    if part is None and img is None:
        return None
    has_split_dirs = all(_find_split_dir(root, names) for names in spec.split_dirs.values())
    by_name = _by_name(root, [img]) if img is not None else {}
    if part is None or not by_name:
        if has_split_dirs:
            return None
        what = "list_eval_partition.txt" if part is None else "the images of img_align_celeba (000001.jpg ...)"
        raise FileNotFoundError(f"celeba at {root}: found {img if part is None else part} but not {what}, at the "
                                f"top level or one level down. Get the data: {spec.source_text()}")
    code_split = {"0": "train", "1": "train", "2": "test"}
    splits: dict[str, list[str]] = {"train": [], "test": []}
    missing: dict[str, list[str]] = {"train": [], "test": []}
    listed = {"train": 0, "test": 0}
    for no, fields in _read_lines(part):
        if no == 1 and fields[-1] == "partition":  # the CSV copy's header
            continue
        if len(fields) != 2 or fields[1] not in code_split:
            raise ValueError(f"{part}, line {no}: expected '<image name> <0|1|2>', got {' '.join(fields)!r}")
        split = code_split[fields[1]]
        listed[split] += 1
        rel = _lookup(by_name, fields[0])
        if rel is None:
            missing[split].append(f"{_rel(root, img)}{fields[0]}")
        else:
            splits[split].append(rel)
    _check_missing(spec, root, listed, missing, part.name, allow_missing)
    return {k: sorted(v) for k, v in splits.items()}


#: Places365-Standard's file lists (filelist_places365-standard.tar): split -> list file; entries are paths
#: relative to the split's image folder (``/a/abbey/00000001.jpg 0`` in data_256, ``Places365_val_00000001.jpg
#: 165`` in val_256).
PLACES_FILE_LISTS = {"train": "places365_train_standard.txt", "test": "places365_val.txt"}


def _places2(spec: DatasetSpec, root: Path, allow_missing: bool, progress: bool = False
             ) -> dict[str, list[str]] | None:
    """Places365-Standard: ``data_256/`` and ``val_256/``, indexed from the file lists where they are there."""
    lists = {split: _find_file(root, (name,)) for split, name in PLACES_FILE_LISTS.items()}
    if not any(lists.values()):
        return None
    splits, missing, listed = {}, {}, {}
    for split, names in spec.split_dirs.items():
        d = _find_split_dir(root, names)
        if d is None:
            raise FileNotFoundError(
                f"{spec.name}: no folder for split {split!r} under {root} (looked for {list(names)} at the top level "
                f"and one level down). Get the data: {spec.source_text()}")
        lst = lists.get(split)
        if lst is None:
            splits[split] = _images_under(root, d)
            continue
        pre = _rel(root, d)
        present = set(_images_under(root, d))
        entries = [pre + fields[0].lstrip("/") for _, fields in _read_lines(lst)]
        listed[split] = len(entries)
        splits[split] = sorted(e for e in entries if e in present)
        missing[split] = [e for e in entries if e not in present]
    source = " and ".join(lists[s].name for s in listed)
    _check_missing(spec, root, listed, missing, source, allow_missing)
    return splits


#: Helen's name lists: split -> file of image names without extension (2,000 and 330 lines).
HELEN_NAME_LISTS = {"train": "trainnames.txt", "test": "testnames.txt"}


def _helen(spec: DatasetSpec, root: Path, allow_missing: bool, progress: bool = False
           ) -> dict[str, list[str]] | None:
    """Helen as shipped: ``helen_1/`` ... ``helen_5/`` (the extracted zips) and ``trainnames.txt``,
    ``testnames.txt``; images are found by name in the helen_* folders (anywhere under the root when
    there are none)."""
    lists = {split: _find_file(root, (name,)) for split, name in HELEN_NAME_LISTS.items()}
    if not any(lists.values()):
        return None
    if not all(lists.values()):
        have, lack = [[HELEN_NAME_LISTS[s] for s, p in lists.items() if (p is not None) == b] for b in (True, False)]
        raise FileNotFoundError(f"helen at {root}: found {', '.join(have)} but not {', '.join(lack)} (at the top level "
                                f"or one level down). Get the data: {spec.source_text()}")
    folders = sorted({p for p in (*root.glob("helen_*"), *root.glob("*/helen_*")) if p.is_dir()})
    by_name = _by_name(root, folders or [root])
    splits, missing, listed = {}, {}, {}
    for split, lst in lists.items():
        names = [fields[0] for _, fields in _read_lines(lst)]
        listed[split] = len(names)
        found = [(n, _lookup(by_name, n)) for n in names]
        splits[split] = sorted(r for _, r in found if r is not None)
        missing[split] = [f"{n} ({lst.name})" for n, r in found if r is None]
    _check_missing(spec, root, listed, missing, " and ".join(p.name for p in lists.values()), allow_missing)
    return splits


def _safe_key(key: bytes, db: Path) -> str:
    k = key.decode("ascii", errors="replace")
    if not k or not all(c.isalnum() or c in "-_" for c in k):
        raise ValueError(f"{db}: LMDB key {key[:60]!r} is not a plain name; export this database with LSUN's data.py")
    return k


def export_lsun_lmdb(db: str | os.PathLike, out_dir: str | os.PathLike, progress: bool = False) -> Path:
    """Write the images of an LSUN LMDB database as ``out_dir/<k0>/<k1>/.../<k5>/<key>.webp`` - the layout of
    ``python data.py export`` in the LSUN repository (the first six characters of the key as nested
    one-character folders; the stored bytes are WebP). Needs the optional ``lmdb`` package. Files go to a
    hidden sibling folder first, renamed to ``out_dir`` when complete."""
    db, out_dir = Path(db), Path(out_dir)
    try:
        import lmdb
    except ImportError:
        raise RuntimeError(
            f"{db} is an LMDB database and the lmdb package is not installed: export it to images with the LSUN "
            f"repository's data.py (python data.py export {db} --out_dir {out_dir}) and re-run, or "
            "`pip install lmdb` and re-run to have it exported here") from None
    if out_dir.exists():
        raise FileExistsError(f"{out_dir} already exists; remove it to export {db} again")
    tmp = out_dir.with_name(f".{out_dir.name}.partial")
    if tmp.exists():
        import shutil
        shutil.rmtree(tmp)
    env = lmdb.open(str(db), readonly=True, lock=False, readahead=False, max_readers=1)
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(desc=f"export {db.name}", unit="img")
    try:
        with env.begin(write=False) as txn:
            for key, val in txn.cursor():
                k = _safe_key(bytes(key), db)
                d = tmp.joinpath(*k[:6])
                d.mkdir(parents=True, exist_ok=True)
                (d / f"{k}.webp").write_bytes(bytes(val))
                if bar is not None:
                    bar.update()
    finally:
        env.close()
        if bar is not None:
            bar.close()
    tmp.mkdir(exist_ok=True)  # an empty database still gives a folder (the count check then says so)
    os.replace(tmp, out_dir)
    return out_dir


def _lsun_church(spec: DatasetSpec, root: Path, allow_missing: bool, progress: bool = False) -> None:
    """LSUN: a split whose exported folder is not there but whose ``<name>_lmdb`` database is gets exported
    (``export_lsun_lmdb``, needs ``lmdb``); the exported folders are then indexed by ``split_dirs``."""
    for names in spec.split_dirs.values():
        if _find_split_dir(root, names) is not None:
            continue
        db = _find_split_dir(root, [f"{n}_lmdb" for n in names])
        if db is not None:
            export_lsun_lmdb(db, db.with_name(db.name[:-len("_lmdb")]), progress=progress)
    return None


#: Datasets whose publisher ships a file list (or an archive format) that the folder names alone do not
#: cover: name -> indexer(spec, root, allow_missing, progress) returning the splits, or None to index by
#: ``split_dirs`` (LSUN's only exports its LMDB databases to image folders first).
PUBLISHER_LAYOUTS = {"celeba": _celeba, "places2": _places2, "helen": _helen, "lsun_church": _lsun_church}


def index_folder(spec: DatasetSpec, root: str | os.PathLike, *, allow_missing: bool = False,
                 progress: bool = False) -> dict[str, list[str]]:
    """Relative image paths per split for ``spec`` under ``root`` (sorted; ``downloads/`` excluded).

    The publisher's layout is read as shipped: file lists where the publisher has them (CelebA's
    ``list_eval_partition.txt``, Places365's ``places365_train_standard.txt`` / ``places365_val.txt``, Helen's
    ``trainnames.txt`` / ``testnames.txt``; ``PUBLISHER_LAYOUTS``), else the split folders (``split_dirs``),
    else a seeded random split of the images under the first ``image_dirs`` folder found (or the whole root).
    Files a list names but that are missing raise ``MissingFiles`` naming them, unless ``allow_missing``
    (then what is there is indexed)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} does not exist. Get {spec.name}: {spec.source_text()}")
    layout = PUBLISHER_LAYOUTS.get(spec.name)
    if layout is not None:
        splits = layout(spec, root, allow_missing, progress)
        if splits is not None:
            return {k: splits[k] for k in spec.counts}
    if spec.split_dirs:
        splits = {}
        for split, names in spec.split_dirs.items():
            d = _find_split_dir(root, names)
            if d is None:
                archives = sorted(p.name for p in root.iterdir() if p.is_file() and p.name.lower().endswith(
                    (".zip", ".tar", ".tgz", ".tar.gz", ".7z")))
                hint = f" Found archives {archives}: extract them into {root} first." if archives else ""
                raise FileNotFoundError(
                    f"{spec.name}: no folder for split {split!r} under {root} (looked for {list(names)} at the top "
                    f"level and one level down).{hint} Get the data: {spec.source_text()}")
            splits[split] = _images_under(root, d)
        return splits
    base = _find_split_dir(root, spec.image_dirs) if spec.image_dirs else None
    files = _images_under(root, base if base is not None else root)
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
    splits = index_folder(spec, root, allow_missing=allow_count_mismatch, progress=progress)
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
