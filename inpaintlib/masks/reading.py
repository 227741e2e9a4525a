"""The one set of rules for reading a mask file, shared by every reader of masks made elsewhere:
:func:`inpaintlib.inference.load_mask` / :func:`~inpaintlib.inference.as_valid` (one mask, in a stated convention)
and :func:`inpaintlib.masks.load_liu_irregular_masks` / :func:`~inpaintlib.masks.nvidia_testset` (a folder of
them, in a stated polarity).

* :func:`read_mask_values` - a file -> its grey levels (``H x W``): 1-bit, 8-bit and 16-bit grey; RGB read as grey
  when its channels are equal (or, for readers that accept it, by luma); a palette is expanded; an alpha channel
  that is not fully opaque is refused with a message that says where the mask probably is (a mask is read from its
  grey level, never from transparency); a truncated or unreadable file is refused by name.
* :func:`bright_map` - grey levels -> the boolean map of the bright level. The full scale is detected per file
  (:func:`full_scale`): 0/1, 0/255 and 0/65535 data are all read correctly. Without a threshold the values must be
  exactly two levels; with ``threshold=t`` a value is bright when ``>= t`` times the full scale (``t = 0.5`` is the
  Liu loader's "re-binarise at 127" on 8-bit files).
* :func:`inverted_message` - the polarity check and its message: more than ``max_hole_ratio`` of the image a hole
  (the median mask for a set; and, with buckets, more than half of the masks outside every bucket) names the other
  polarity when flipping would help and says so when it would not.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..buckets import bucket_labels, bucket_of

__all__ = ["CONVENTIONS", "DEFAULT_MAX_HOLE_RATIO", "FULL_SCALES", "bright_is_hole", "other_convention",
           "check_max_hole_ratio", "read_mask_values", "full_scale", "bright_map", "inverted_message"]

#: Convention name -> True when the bright (non-zero) level marks the hole. Keys are lower case, no spaces.
CONVENTIONS: dict[str, bool] = {
    "255=hole": True, "white=hole": True, "1=hole": True,
    "255=known": False, "white=known": False, "1=known": False,
}
_OPPOSITE = {"hole": "known", "known": "hole"}
#: The full scales a mask file may use: 0/1, 8-bit 0/255, 16-bit 0/65535.
FULL_SCALES = (1, 255, 65535)

#: A hole larger than this fraction of the image is more often a polarity mix-up than a real request (and it is
#: the upper edge of Liu et al.'s last bucket).
DEFAULT_MAX_HOLE_RATIO = 0.6


def bright_is_hole(convention) -> bool:
    """True when ``convention`` (e.g. ``"255=hole"``) makes the bright level the hole; ``ValueError`` otherwise."""
    key = str(convention).strip().lower().replace(" ", "") if convention is not None else ""
    if key not in CONVENTIONS:
        raise ValueError(f"unknown mask convention {convention!r}: say which level marks the hole, "
                         "'255=hole' (white = hole, as in DeepFill's and LaMa's mask files) or '255=known' "
                         f"(white = known pixels to keep); accepted names: {sorted(CONVENTIONS)}")
    return CONVENTIONS[key]


def other_convention(convention: str) -> str:
    """The opposite polarity of ``convention`` (``"255=hole"`` -> ``"255=known"``)."""
    level, _, meaning = str(convention).strip().lower().replace(" ", "").partition("=")
    return f"{level}={_OPPOSITE[meaning]}"


def check_max_hole_ratio(max_hole_ratio: float | None) -> float | None:
    """``max_hole_ratio`` if it is ``None`` or a fraction in (0, 1); else a ``ValueError``."""
    if max_hole_ratio is None:
        return None
    if isinstance(max_hole_ratio, bool) or not isinstance(max_hole_ratio, (int, float, np.number)) \
            or not 0 < float(max_hole_ratio) < 1:
        raise ValueError(f"max_hole_ratio must be a fraction of the image in (0, 1) (default "
                         f"{DEFAULT_MAX_HOLE_RATIO}), or None to skip the polarity check; got {max_hole_ratio!r}")
    return float(max_hole_ratio)


# -------------------------------------------------------------------------------------------------- files
def _alpha_refusal(path: Path, im) -> str:
    alpha = np.asarray(im.getchannel("A"))
    colour = np.asarray(im.convert("RGB" if im.mode == "RGBA" else "L"))
    uniform = bool((colour == colour.reshape(-1, *colour.shape[2:])[0]).all())
    where = (" Its grey/colour channels hold one value everywhere, so the mask is in the alpha channel: save that "
             "channel as a grey PNG (PIL: Image.open(path).getchannel('A').save(...))" if uniform else
             " Save it as a grey PNG without alpha")
    return (f"mask file {path} has transparent pixels (mode {im.mode}, alpha from {int(alpha.min())} to "
            f"{int(alpha.max())}): masks are read from their grey level, not from the alpha channel.{where}")


def read_mask_values(path: str | Path, *, colour: str = "refuse") -> np.ndarray:
    """The grey levels of a mask file as an ``H x W`` array (dtype as stored: bool, uint8, uint16, int32, float).

    ``colour="refuse"``: an RGB file is read as grey only when its three channels are equal at every pixel;
    ``colour="luma"``: one whose channels differ (a JPEG's chroma noise) is converted to grey by PIL's luma.
    ``FileNotFoundError`` for a missing file, ``ValueError`` naming the file for everything else."""
    from PIL import Image, UnidentifiedImageError

    if colour not in ("refuse", "luma"):
        raise ValueError(f"colour must be 'refuse' or 'luma', got {colour!r}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"mask file {path} does not exist")
    try:
        im = Image.open(path)
        im.load()
    except UnidentifiedImageError as e:
        raise ValueError(f"mask file {path} is not an image PIL can read") from e
    except (OSError, SyntaxError) as e:
        raise ValueError(f"mask file {path} is corrupt or truncated ({type(e).__name__}: {e})") from None
    with im:
        if im.mode == "P":
            im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        elif im.mode == "PA":
            im = im.convert("RGBA")
        if im.mode in ("LA", "RGBA"):
            if int(np.asarray(im.getchannel("A")).min()) < 255:
                raise ValueError(_alpha_refusal(path, im))
            im = im.convert("L" if im.mode == "LA" else "RGB")
        if im.mode not in ("1", "L", "RGB", "I", "F") and not im.mode.startswith("I;16"):
            raise ValueError(f"mask file {path} has image mode {im.mode}; expected a grey (8- or 16-bit) or RGB PNG")
        values = np.asarray(im)
        if values.ndim == 3 and not bool((values == values[..., :1]).all()):
            if colour == "refuse":
                raise ValueError(f"mask file {path} is a colour image (its R, G, B channels differ); an RGB mask is "
                                 "read as grey only when the three channels are equal at every pixel")
            values = np.asarray(im.convert("L"))
    return values[..., 0] if values.ndim == 3 else values


def full_scale(values: np.ndarray) -> int:
    """The full scale of mask data: the smallest of 1, 255 and 65535 that is at least its largest value."""
    top = float(values.max()) if values.size else 0.0
    return next((s for s in FULL_SCALES if top <= s), FULL_SCALES[-1])


def bright_map(values: np.ndarray, where: str, threshold: float | None) -> np.ndarray:
    """Boolean map of the bright level. Without ``threshold`` the values must be exactly two levels, 0 and one of
    1, 255 or 65535; with it, a value is bright when ``>= threshold * full scale``."""
    if values.dtype == np.bool_:
        return values.copy()
    if threshold is not None:
        if isinstance(threshold, bool) or not 0 < threshold < 1:
            raise ValueError(f"threshold must be a fraction of the full scale in (0, 1), got {threshold}")
        return values >= threshold * full_scale(values)
    levels = np.unique(values)
    nonzero = [float(v) for v in levels if v != 0]
    if len(levels) > 2 or len(nonzero) > 1 or (nonzero and nonzero[0] not in FULL_SCALES):
        shown = ", ".join(f"{float(v):g}" for v in levels[:6]) + (", ..." if len(levels) > 6 else "")
        raise ValueError(
            f"{where} has {len(levels)} distinct values ({shown}); a mask must have exactly two levels, 0 and 255 "
            "(or 0 and 1, or 0 and 65535 in 16-bit files). Grey edges come from JPEG compression or from resizing "
            "with bilinear interpolation: save masks as PNG, resize them with nearest neighbour, or binarise "
            "explicitly with threshold=0.5 (--mask-threshold 0.5 on the command line)")
    return values != 0


# ------------------------------------------------------------------------------------------------ polarity
def _judge(ratios: np.ndarray, max_hole_ratio: float, buckets, closed: str) -> tuple[float, float | None, bool]:
    med = float(np.median(ratios))
    outside = None if buckets is None else float(np.mean([bucket_of(r, buckets, closed) is None for r in ratios]))
    return med, outside, med > max_hole_ratio or (outside is not None and outside > 0.5)


def inverted_message(hole_ratios: float | Sequence[float], *, read_with: str, flipped: str, where: str,
                     accept: str, max_hole_ratio: float = DEFAULT_MAX_HOLE_RATIO,
                     buckets: Sequence[tuple[float, float]] | None = None, closed: str = "right") -> str | None:
    """The polarity check of every mask reader: a message when the masks read with ``read_with`` (e.g.
    ``"convention='255=known'"``) look inverted, else ``None``.

    One mask (``hole_ratios`` a number) looks inverted when its hole exceeds ``max_hole_ratio`` of the image; a set
    when its median mask does, or, with ``buckets``, when more than half of the masks fall outside every bucket.
    The message names ``flipped`` (the other polarity) when flipping fixes that, and says that it would not help
    otherwise (then the files themselves are the problem); ``accept`` says how to keep the masks as they are."""
    ratios = np.atleast_1d(np.asarray(hole_ratios, dtype=np.float64))
    med, outside, bad = _judge(ratios, max_hole_ratio, buckets, closed)
    if not bad:
        return None
    one = ratios.size == 1
    labels = "" if buckets is None else " " + ", ".join(bucket_labels(buckets, closed))
    found = (f"{where} read with {read_with} makes {med:.0%} of the image a hole" if one else
             f"{where} read with {read_with}: the median mask makes {med:.0%} of the image a hole")
    found += f" (more than {max_hole_ratio:.0%})" if med > max_hole_ratio else ""
    if outside is not None and (outside > 0.5 or not one):
        found += f" and {outside:.0%} of the masks fall outside every bucket{labels}"
    fmed, foutside, fbad = _judge(1.0 - ratios, max_hole_ratio, buckets, closed)
    after = f"{fmed:.0%} a hole" + ("" if foutside is None else f", {foutside:.0%} outside every bucket")
    if not fbad:
        return (f"{found}; masks from other codebases often use the opposite polarity: flip it - did you mean "
                f"{flipped}? (it would make {after}). {accept}")
    return (f"{found}; flipping the polarity ({flipped}) would not help ({after}), so the files are not what a "
            "mask reader expects: a mask is read from its grey level (0 and full scale: 1, 255 or 65535), not from "
            f"an alpha channel or a colour; check the files. {accept}")
