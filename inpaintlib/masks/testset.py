"""The fixed, seeded mask test sets on disk: writing them (:func:`write_mask_testset`, :func:`cached_testset`) and
reading them back verified (:class:`MaskTestSet`).

A test set stores PNGs with **255 = known (valid), 0 = hole**, the same polarity as the ``valid`` map, an
``index.csv`` and a ``manifest.json`` holding the parameters and the sha256 of every file.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
import uuid
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from ..buckets import BUCKETS, bucket_label, check_closed
from ..files import sha256_bytes, sha256_file
from ..paths import data_dir
from .collection import MaskCollection, _read_png_gray
from .generators import GENERATORS, sample_in_bucket

__all__ = ["MANIFEST_FORMAT", "PNG_CONVENTION", "write_mask_testset", "cached_testset", "MaskTestSet"]

MANIFEST_FORMAT = "inpaintlib-mask-testset"
PNG_CONVENTION = "PNG, 8-bit grayscale: 255 = known (valid), 0 = hole"
_INDEX_FIELDS = ["file", "hole_ratio", "bucket", "label", "touches_border"]


def _save_png(path: Path, valid: np.ndarray) -> None:
    from PIL import Image
    Image.fromarray((valid * 255).astype(np.uint8), mode="L").save(path, format="PNG", optimize=False)


def _touches_border(valid: np.ndarray) -> bool:
    return bool((valid[0] == 0).any() or (valid[-1] == 0).any() or (valid[:, 0] == 0).any() or (valid[:, -1] == 0).any())


def _testset_params(size, per_bucket, seed, buckets, generator, closed) -> dict:
    return dict(size=int(size), per_bucket=int(per_bucket), seed=int(seed),
                buckets=[[float(lo), float(hi)] for lo, hi in buckets], closed=closed, generator=generator)


def _manifest_matches(out_dir: Path, params: dict) -> bool:
    """True when ``out_dir`` holds a complete test set made with ``params`` whose files verify."""
    mf = out_dir / "manifest.json"
    if not mf.is_file():
        return False
    try:
        m = json.loads(mf.read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(m, dict) or m.get("format") != MANIFEST_FORMAT or m.get("params") != params:
        return False
    files = dict(m.get("files", {}))
    files["index.csv"] = m.get("index_sha256")
    return all((out_dir / f).is_file() and sha256_file(out_dir / f) == h for f, h in files.items())


def _refuse_other_contents(out_dir: Path, params: dict) -> None:
    """A non-empty ``out_dir`` that does not verify: refuse it unless it is a damaged set with ``params``."""
    if not (out_dir.exists() and any(out_dir.iterdir())):
        return
    try:
        same = json.loads((out_dir / "manifest.json").read_text()).get("params") == params
    except (OSError, ValueError):
        same = False
    if not same:
        raise ValueError(f"{out_dir} already holds something other than a mask test set made with {params}; "
                         "choose another folder or delete it")
    warnings.warn(f"mask test set in {out_dir} failed verification; rewriting it", stacklevel=3)


def _write_set(folder: Path, params: dict, buckets: Sequence[tuple[float, float]], progress: bool) -> None:
    """Draw every mask of the set into ``folder`` with its index and manifest."""
    size, seed, closed = params["size"], params["seed"], params["closed"]
    gen = GENERATORS[params["generator"]]
    rows, files = [], {}
    jobs = [(i, k) for i in range(len(buckets)) for k in range(params["per_bucket"])]
    if progress:
        from tqdm.auto import tqdm
        jobs = tqdm(jobs, desc=f"masks {size}px")
    for i, k in jobs:
        m = sample_in_bucket(gen, i, size, size, np.random.default_rng([seed, i, k]), buckets=buckets, closed=closed)
        name = f"b{i}_{k:05d}.png"
        _save_png(folder / name, m)
        files[name] = sha256_file(folder / name)
        rows.append(dict(file=name, hole_ratio=f"{1.0 - float(m.mean(dtype=np.float64)):.6f}", bucket=i,
                         label=bucket_label(i, buckets, closed), touches_border=int(_touches_border(m))))
    with open(folder / "index.csv", "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=_INDEX_FIELDS)
        wr.writeheader()
        wr.writerows(rows)
    manifest = dict(format=MANIFEST_FORMAT, version=1, convention=PNG_CONVENTION, params=params,
                    files=files, index_sha256=sha256_file(folder / "index.csv"))
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))


def write_mask_testset(out_dir: str | os.PathLike, size: int, per_bucket: int, seed: int,
                       buckets: Sequence[tuple[float, float]] = BUCKETS, generator: str = "irregular",
                       closed: str = "right", progress: bool = False) -> Path:
    """Write a fixed, seeded mask test set: ``per_bucket`` masks of ``size x size`` per hole-ratio bucket.

    Files: ``b{bucket}_{k:05d}.png`` (PNG_CONVENTION: **255 = known, 0 = hole**), ``index.csv``
    (``file, hole_ratio, bucket, label, touches_border``) and ``manifest.json`` (the parameters,
    the sha256 of every file and of the index). Mask ``k`` of bucket ``i`` comes from
    ``np.random.default_rng([seed, i, k])``, so the set does not depend on the write order.

    The set is written to a temporary sibling folder and renamed into place. Re-running with the
    same arguments is a no-op when the manifest matches and every file verifies; a folder made
    with other arguments is refused (``ValueError``); a damaged set with the same arguments is
    rewritten. Returns ``out_dir``.
    """
    check_closed(closed)
    if generator not in GENERATORS:
        raise ValueError(f"unknown generator {generator!r}; choose from {sorted(GENERATORS)}")
    if int(per_bucket) < 1:
        raise ValueError(f"per_bucket must be >= 1, got {per_bucket}")
    out_dir = Path(out_dir)
    params = _testset_params(size, per_bucket, seed, buckets, generator, closed)
    if _manifest_matches(out_dir, params):
        return out_dir
    _refuse_other_contents(out_dir, params)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        _write_set(tmp, params, buckets, progress)
        _replace_dir(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    if not _manifest_matches(out_dir, params):  # a concurrent writer with other arguments won the race
        raise RuntimeError(f"{out_dir} does not verify after writing")
    return out_dir


def cached_testset(size: int, per_bucket: int, seed: int = 0, generator: str = "irregular",
                   buckets: Sequence[tuple[float, float]] = BUCKETS, closed: str = "right",
                   label: str | None = None) -> Path:
    """The fixed, seeded mask test set for these arguments under ``inpaintlib.paths.data_dir()/masks/<name>``,
    written on first use (a no-op afterwards; see :func:`write_mask_testset`). ``label`` names the bucket set in
    the folder name (default: ``"liu"`` for Liu et al.'s buckets, else a short hash of the edges). Returns the
    folder; load it with ``MaskTestSet(path)``."""
    if label is None:
        label = ("liu" if (tuple(map(tuple, buckets)), closed) == (BUCKETS, "right")
                 else f"{closed}-{sha256_bytes(repr((tuple(map(tuple, buckets)), closed)).encode())[:8]}")
    out = data_dir() / "masks" / f"{generator}-{label}-{int(size)}px-{int(per_bucket)}pb-seed{int(seed)}"
    return write_mask_testset(out, size, per_bucket, seed, buckets=buckets, generator=generator, closed=closed)


def _replace_dir(src: Path, dst: Path) -> None:
    """Move ``src`` to ``dst``; an existing ``dst`` is moved aside first and removed afterwards."""
    old = None
    if dst.exists():
        old = dst.with_name(f".{dst.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(dst, old)
    try:
        os.replace(src, dst)
    except OSError:
        # Another process put a set in place between our check and the rename; keep theirs.
        if not (dst / "manifest.json").is_file():
            raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _verified_manifest(root: Path) -> dict:
    """``root/manifest.json``, after checking that every file it lists is there with its sha256."""
    mf = root / "manifest.json"
    if not mf.is_file():
        raise FileNotFoundError(f"{root} has no manifest.json; write a mask test set with "
                                "inpaintlib.masks.write_mask_testset or `python -m data_prep.make_masks`")
    try:
        m = json.loads(mf.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{mf} is not valid JSON ({e}); regenerate the set with write_mask_testset") from None
    if not isinstance(m, dict) or m.get("format") != MANIFEST_FORMAT:
        raise ValueError(f"{mf} is not an inpaintlib mask test set manifest (expected an object with "
                         f"format={MANIFEST_FORMAT!r})")
    if not isinstance(m.get("files"), dict) or not isinstance(m.get("index_sha256"), str) or "params" not in m:
        raise ValueError(f"{mf} lacks 'files' (an object), 'index_sha256' or 'params'; regenerate the set with "
                         "write_mask_testset")
    for name, digest in [*m["files"].items(), ("index.csv", m["index_sha256"])]:
        p = root / name
        if not p.is_file():
            raise ValueError(f"mask test set {root}: {name} is missing (listed in manifest.json)")
        if sha256_file(p) != digest:
            raise ValueError(f"mask test set {root}: sha256 of {name} does not match manifest.json; "
                             "the file was modified - regenerate the set with write_mask_testset")
    return m


class MaskTestSet(MaskCollection):
    """A test set written by ``write_mask_testset``; refuses files whose sha256 does not match the
    manifest (``ValueError``) and non-binary PNGs. All masks are loaded (and checked) at once."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.manifest = _verified_manifest(self.root)
        with open(self.root / "index.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        self.params = self.manifest["params"]
        self.index = rows
        self._cache: dict[Path, np.ndarray] = {}
        for r in rows:
            p = self.root / r["file"]
            a = _read_png_gray(p)
            if not np.isin(a, (0, 255)).all():
                raise ValueError(f"{p} is not binary (values other than 0 and 255); {PNG_CONVENTION}")
            self._cache[p] = (a == 255).astype(np.float32)
        super().__init__([self.root / r["file"] for r in rows], self._cache.__getitem__,
                         [float(r["hole_ratio"]) for r in rows], [tuple(b) for b in self.params["buckets"]],
                         self.params["closed"], [int(r["bucket"]) for r in rows])
