"""Masks on disk as a dataset: :class:`MaskCollection` (hole ratios, buckets, lazy decoding) and the loaders of
Liu et al.'s irregular mask test set: :func:`nvidia_testset` (the release as NVIDIA ships it, buckets from the file
order) and :func:`load_liu_irregular_masks` (any folder of such masks, buckets from the measured hole ratios).

Every mask of a collection must have the same size. A folder holding one mask of another size (EdgeConnect's
Places2 examples have one 600 x 512 mask among 256 x 256 ones) is refused by file name, unless ``size=`` is given:
then every mask is resized to ``size x size`` with nearest neighbour, which keeps it binary.
"""
from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from .._validate import check_valid
from ..buckets import BUCKETS, bucket_label, bucket_of, check_closed
from .reading import bright_map, inverted_message, read_mask_values

__all__ = ["MaskCollection", "LIU_POLARITIES", "load_liu_irregular_masks", "nvidia_testset", "NVIDIA_TESTSET_COUNT",
           "NVIDIA_TESTSET_PER_BUCKET", "NVIDIA_TESTSET_FOLDERS", "nvidia_testset_names"]

LIU_POLARITIES = ("white_is_hole", "white_is_valid")


def _read_png_gray(path: Path) -> np.ndarray:
    """The grey levels of a fixed test set's own PNG (:class:`~.testset.MaskTestSet`); masks made elsewhere are read
    by :mod:`.reading`'s rules."""
    from PIL import Image
    with Image.open(path) as im:
        if im.mode not in ("L", "1", "P", "RGB", "RGBA", "LA", "I", "I;16"):
            raise ValueError(f"{path}: unsupported image mode {im.mode}")
        return np.asarray(im.convert("L"))


def _resize_nearest(valid: np.ndarray, size: int) -> np.ndarray:
    """A 0/1 ``float32`` map resized to ``size x size`` with nearest neighbour (so it stays binary)."""
    from PIL import Image
    if valid.shape == (size, size):
        return valid
    im = Image.fromarray((valid * 255).astype(np.uint8)).resize((size, size), resample=Image.NEAREST)
    return (np.asarray(im) > 127).astype(np.float32)


def _check_one_size(files: Sequence[Path], shapes: Sequence[tuple[int, ...]]) -> None:
    """Refuse masks of different sizes, naming the first that differs from the most common size."""
    if not shapes:
        return
    expected = Counter(shapes).most_common(1)[0][0]
    odd = [(f, s) for f, s in zip(files, shapes) if s != expected]
    if not odd:
        return
    f, s = odd[0]
    count = f" ({len(odd)} of {len(shapes)} masks differ)" if len(odd) > 1 else ""
    raise ValueError(
        f"mask {f} is {s[0]}x{s[1]} (height x width) but the other masks are {expected[0]}x{expected[1]}{count}; "
        f"pass size=<side> (e.g. size={expected[0]}) to resize every mask to side x side with nearest neighbour "
        "(masks stay binary), or remove the file")


class MaskCollection(torch.utils.data.Dataset):
    """A list of masks with their hole ratios and buckets; masks are decoded lazily.

    ``loader(path)`` returns a ``float32`` ``(H, W)`` valid map (1 = known, 0 = hole). ``hole_ratios=None``
    measures them (decoding every mask once, one at a time) and then refuses masks of different sizes by name.
    ``size``: resize every mask to ``size x size`` with nearest neighbour when it has another size.

    ``__getitem__(i) -> (valid 1 x H x W float tensor, bucket index or -1)``; ``masks(bucket=None)``
    gives an ``N x 1 x H x W`` tensor (all masks or one bucket); ``by_bucket()`` a dict
    ``bucket -> tensor``.
    """

    def __init__(self, files: Sequence[Path], loader: Callable[[Path], np.ndarray],
                 hole_ratios: Sequence[float] | None, buckets: Sequence[tuple[float, float]] = BUCKETS,
                 closed: str = "right", bucket_ids: Sequence[int] | None = None, *, size: int | None = None):
        self.files = [Path(f) for f in files]
        self._loader = loader
        self.size = None if size is None else int(size)
        if hole_ratios is None:
            hole_ratios = self._measure()
        self.hole_ratios = np.asarray(hole_ratios, dtype=np.float64)
        self.buckets = tuple(tuple(b) for b in buckets)
        self.closed = check_closed(closed)
        if bucket_ids is None:
            bucket_ids = [-1 if (b := bucket_of(r, self.buckets, closed)) is None else b for r in self.hole_ratios]
        self.bucket_ids = np.asarray(bucket_ids, dtype=np.int64)

    def _measure(self) -> list[float]:
        ratios, shapes = [], []
        for i in range(len(self.files)):
            v = self._valid(i)
            ratios.append(1.0 - float(v.mean(dtype=np.float64)))
            shapes.append(v.shape)
        _check_one_size(self.files, shapes)
        return ratios

    def __len__(self) -> int:
        return len(self.files)

    def _valid(self, i: int) -> np.ndarray:
        v = self._loader(self.files[i])
        return v if self.size is None else _resize_nearest(v, self.size)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        v = torch.from_numpy(self._valid(i))[None]
        return v, int(self.bucket_ids[i])

    def label(self, bucket: int) -> str:
        return bucket_label(bucket, self.buckets, self.closed)

    def masks(self, bucket: int | None = None) -> torch.Tensor:
        """``N x 1 x H x W`` valid tensor of all masks, or of those in ``bucket``."""
        idx = range(len(self)) if bucket is None else np.flatnonzero(self.bucket_ids == bucket).tolist()
        if not idx:
            raise ValueError(f"no masks in bucket {bucket}")
        arrays = [self._valid(i) for i in idx]
        _check_one_size([self.files[i] for i in idx], [a.shape for a in arrays])
        out = torch.from_numpy(np.stack(arrays))[:, None]
        return check_valid(out, name="masks")

    def by_bucket(self) -> dict[int, torch.Tensor]:
        """``{bucket index: N_b x 1 x H x W tensor}`` for every non-empty bucket."""
        return {b: self.masks(b) for b in range(len(self.buckets)) if (self.bucket_ids == b).any()}

    def counts(self) -> dict[str, int]:
        """Number of masks per bucket label (and ``"outside"`` when any fall outside every bucket)."""
        out = {self.label(b): int((self.bucket_ids == b).sum()) for b in range(len(self.buckets))}
        if (self.bucket_ids < 0).any():
            out["outside"] = int((self.bucket_ids < 0).sum())
        return out


#: Liu polarity -> True when the bright level marks the hole (``"white_is_hole"`` is ``"255=hole"``).
_WHITE_IS_HOLE = {"white_is_hole": True, "white_is_valid": False}


def _liu_loader(polarity: str) -> Callable[[Path], np.ndarray]:
    """Read by :mod:`.reading`'s rules (alpha refused, 0/1 and 16-bit files by their own full scale), then
    re-binarised at half the full scale (127 in 8-bit files); a colour file is read by its luma."""
    white_is_hole = _WHITE_IS_HOLE[polarity]

    def load(path: Path) -> np.ndarray:
        white = bright_map(read_mask_values(path, colour="luma"), f"mask file {path}", threshold=0.5)
        return (~white if white_is_hole else white).astype(np.float32)
    return load


def load_liu_irregular_masks(folder: str | os.PathLike, polarity: str, size: int | None = None, *,
                             buckets: Sequence[tuple[float, float]] = BUCKETS, closed: str = "right",
                             limit: int | None = None, check_polarity: bool = True) -> MaskCollection:
    """The NVIDIA irregular mask test set of Liu et al. (12,000 PNGs, 512 x 512) from ``folder``.

    ``polarity`` must be given: ``"white_is_hole"`` or ``"white_is_valid"``. Masks are read by the rules of
    :func:`inpaintlib.inference.load_mask` (:mod:`inpaintlib.masks.reading`: 0/1, 0/255 and 16-bit files each by
    their own full scale, a mask in an alpha channel refused by name), re-binarised at half the full scale (127 in
    8-bit files; a colour file by its luma) and, when ``size`` is given, resized to ``size x size`` with nearest
    neighbour. Without ``size`` every mask must have the same size; one of another size is refused by name.
    Hole ratios and buckets are computed on the loaded masks. With ``check_polarity`` a wrong polarity is
    rejected with a ``ValueError`` (the shared polarity check, :func:`~inpaintlib.masks.reading.inverted_message`)
    when the median hole ratio exceeds 0.6 (outside every Liu bucket) or more than half of the masks fall outside
    every bucket; the message names the other polarity when flipping would help. ``limit`` loads only the first
    ``limit`` files (sorted). Masks are decoded lazily.
    """
    if polarity not in LIU_POLARITIES:
        raise ValueError(f"polarity must be given explicitly as one of {LIU_POLARITIES}, got {polarity!r}")
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp"))
    if limit is not None:
        files = files[:limit]
    if not files:
        raise FileNotFoundError(f"no mask images (png/jpg/bmp) under {folder}")
    coll = MaskCollection(files, _liu_loader(polarity), None, buckets, closed, size=size)
    if check_polarity:
        other = LIU_POLARITIES[1 - LIU_POLARITIES.index(polarity)]
        msg = inverted_message(coll.hole_ratios, read_with=f"polarity={polarity!r}", flipped=f"polarity={other!r}",
                               where=f"the {len(coll)} masks in {folder}", buckets=buckets, closed=closed,
                               accept="To keep them as read, pass check_polarity=False")
        if msg:
            raise ValueError(msg)
    return coll


#: NVIDIA's irregular mask test set (Liu et al., ECCV 2018): 12,000 PNGs, 2,000 per hole-ratio bucket of
#: :data:`~inpaintlib.buckets.BUCKETS` in file order (00000-01999 = (0.01,0.1], ..., 10000-11999 = (0.5,0.6]).
NVIDIA_TESTSET_COUNT = 12000
NVIDIA_TESTSET_PER_BUCKET = 2000
#: Where the set may sit under the folder given to :func:`nvidia_testset`: the release's ``test_mask.zip``
#: extracts to ``mask/testing_mask_dataset/``.
NVIDIA_TESTSET_FOLDERS = ("mask/testing_mask_dataset", "testing_mask_dataset", ".")
NVIDIA_TESTSET_SOURCE = ("NVIDIA's irregular mask test set (test_mask.zip, "
                         "https://nv-adlr.github.io/publication/partialconv-inpainting), extracted as shipped")


def nvidia_testset_names() -> list[str]:
    """The file names of the release in order: ``00000.png`` ... ``11999.png``."""
    return [f"{i:05d}.png" for i in range(NVIDIA_TESTSET_COUNT)]


def _find_nvidia_folder(root: Path) -> Path | None:
    cands = [root / f for f in NVIDIA_TESTSET_FOLDERS] + sorted(root.glob("*/mask/testing_mask_dataset"))
    for d in cands:  # the first that holds a file named like the release's (five digits, .png)
        if d.is_dir() and any(p.suffix == ".png" and p.stem.isdigit() and len(p.stem) == 5 for p in d.iterdir()):
            return d
    return None


def nvidia_testset(root: str | os.PathLike, size: int | None = None, *, allow_count_mismatch: bool = False,
                   measure: bool = True) -> MaskCollection:
    """NVIDIA's irregular mask test set (Liu et al., ECCV 2018) as the release ships it, in the library's convention.

    ``root`` is the folder ``test_mask.zip`` was extracted into (``root/mask/testing_mask_dataset/00000.png`` ...
    ``11999.png``), or ``mask/`` or ``testing_mask_dataset/`` itself. In those PNGs **white (255) marks the hole**;
    the masks come back as valid maps (**1 = known, 0 = hole**, read as :func:`load_liu_irregular_masks` reads
    them) and, with ``size``, resized to ``size x size`` with nearest neighbour. Bucket ids come from the file order: file ``k`` is in bucket
    ``k // 2000`` of :data:`~inpaintlib.buckets.BUCKETS` (``(lo, hi]``). All 12,000 files must be there; a missing
    one raises ``FileNotFoundError`` naming the first few and how many, unless ``allow_count_mismatch`` (then the
    files that are there are read, each keeping the bucket of its number). ``measure`` computes every mask's hole
    ratio once (decoding each file; ``hole_ratios`` is NaN without it). Masks are decoded lazily.
    """
    from ..buckets import BUCKETS

    root = Path(root)
    folder = _find_nvidia_folder(root) if root.is_dir() else None
    if folder is None:
        raise FileNotFoundError(f"no NVIDIA irregular mask test set under {root} (looked for "
                                f"{', '.join(f + '/00000.png' for f in NVIDIA_TESTSET_FOLDERS)}); get "
                                f"{NVIDIA_TESTSET_SOURCE}")
    present = {p.name for p in folder.iterdir()}
    files, bucket_ids, missing = [], [], []
    for i, name in enumerate(nvidia_testset_names()):
        if name in present:
            files.append(folder / name)
            bucket_ids.append(i // NVIDIA_TESTSET_PER_BUCKET)
        else:
            missing.append(name)
    if not files or (missing and not allow_count_mismatch):
        more = f" and {len(missing) - 5:,} more" if len(missing) > 5 else ""
        hint = "" if not files else "; pass allow_count_mismatch=True to read the ones that are there"
        raise FileNotFoundError(
            f"{folder}: {len(missing):,} of the {NVIDIA_TESTSET_COUNT:,} masks of NVIDIA's irregular mask test set are "
            f"missing: {', '.join(missing[:5])}{more}. Get {NVIDIA_TESTSET_SOURCE}{hint}")
    ratios = None if measure else [float("nan")] * len(files)
    return MaskCollection(files, _liu_loader("white_is_hole"), ratios, BUCKETS, "right", bucket_ids, size=size)
