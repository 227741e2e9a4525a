"""Datasets and transforms: the offline "sample scenes", image folders and prepared real datasets.

Images come out as float32 ``3 x size x size`` tensors in [0, 1] (a DataLoader stacks them to
``N x 3 x H x W``). Every random choice (crop position, scale jitter, flip) is drawn from a
generator seeded by ``(seed, index)`` (and the epoch for ``ImageFolder.set_epoch``), so the same
index gives the same crop in any DataLoader worker and in any order.

Sample scenes (book/conventions.md, "Data with no download"): the photographs that ship inside the wheels of
scikit-image (``skimage.data``), scikit-learn (``load_sample_images``) and matplotlib
(``cbook.get_sample_data``). The split is by source photograph; the test photographs are never
cropped for training. See ``SAMPLE_PHOTOS`` and ``EXCLUDED_PHOTOS`` for the lists and reasons.
"""
from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .datasets import REGISTRY

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")

# --------------------------------------------------------------------------------------------
# Sample scenes
# --------------------------------------------------------------------------------------------


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load():
        import skimage.data
        return getattr(skimage.data, name)()
    return load


def _motorcycle_left() -> np.ndarray:
    import skimage.data
    return skimage.data.stereo_motorcycle()[0]


def _sklearn(filename: str) -> Callable[[], np.ndarray]:
    def load():
        from sklearn.datasets import load_sample_image
        return load_sample_image(filename)
    return load


def _matplotlib(filename: str) -> Callable[[], np.ndarray]:
    def load():
        from matplotlib import cbook
        from PIL import Image
        with cbook.get_sample_data(filename) as f:
            return np.asarray(Image.open(f).convert("RGB"))
    return load


#: name -> (package, loader, split). All files ship inside the installed wheels (no download).
#: Gray photographs are replicated to three channels.
SAMPLE_PHOTOS: dict[str, tuple[str, Callable[[], np.ndarray], str]] = {
    # train: 12 photographs
    "astronaut": ("scikit-image", _skimage("astronaut"), "train"),            # 512x512 colour portrait
    "rocket": ("scikit-image", _skimage("rocket"), "train"),                  # 427x640 colour
    "motorcycle": ("scikit-image", _motorcycle_left, "train"),                # 500x741 colour (stereo left view)
    "immunohistochemistry": ("scikit-image", _skimage("immunohistochemistry"), "train"),  # 512x512 colour
    "hubble_deep_field": ("scikit-image", _skimage("hubble_deep_field"), "train"),        # 872x1000 colour
    "flower": ("scikit-learn", _sklearn("flower.jpg"), "train"),             # 427x640 colour
    "camera": ("scikit-image", _skimage("camera"), "train"),                  # 512x512 gray
    "coins": ("scikit-image", _skimage("coins"), "train"),                    # 303x384 gray
    "moon": ("scikit-image", _skimage("moon"), "train"),                      # 512x512 gray
    "brick": ("scikit-image", _skimage("brick"), "train"),                    # 512x512 gray texture
    "grass": ("scikit-image", _skimage("grass"), "train"),                    # 512x512 gray texture
    "gravel": ("scikit-image", _skimage("gravel"), "train"),                  # 512x512 gray texture
    # test: 4 colour photographs, one per kind (animal, still life, building scene, portrait)
    "chelsea": ("scikit-image", _skimage("chelsea"), "test"),                 # 300x451 colour (cat)
    "coffee": ("scikit-image", _skimage("coffee"), "test"),                   # 400x600 colour
    "china": ("scikit-learn", _sklearn("china.jpg"), "test"),                # 427x640 colour
    "grace_hopper": ("matplotlib", _matplotlib("grace_hopper.jpg"), "test"),  # 600x512 colour
}

#: Shipped images deliberately left out, with the reason.
EXCLUDED_PHOTOS = {
    "stereo_motorcycle right view": "same scene as 'motorcycle' (the left view); one view only",
    "retina": "fundus photograph, about a third of it is the black surround",
    "colorwheel, logo, text, page, horse, chessboard, phantom, checkerboard": "synthetic or binary, not photographs",
    "cell, microaneurysms, clock, lfw_subset": "tiny, blurred or not natural scenes",
    "Minduka_Present_Blue_Pack.png, logo2.png (matplotlib)": "128 px product shot with alpha / a logo",
}

_PHOTO_CACHE: dict[str, np.ndarray] = {}


def load_sample_photo(name: str) -> np.ndarray:
    """The photograph ``name`` of ``SAMPLE_PHOTOS`` as a uint8 ``H x W x 3`` array (cached)."""
    if name not in SAMPLE_PHOTOS:
        raise ValueError(f"unknown sample photo {name!r}; choose from {sorted(SAMPLE_PHOTOS)}")
    if name not in _PHOTO_CACHE:
        a = np.asarray(SAMPLE_PHOTOS[name][1]())
        if a.ndim == 2:
            a = np.repeat(a[:, :, None], 3, axis=2)
        a = a[:, :, :3]
        if a.dtype != np.uint8:
            a = (np.clip(a.astype(np.float64), 0, 1) * 255).round().astype(np.uint8) if a.max() <= 1 else a.astype(np.uint8)
        _PHOTO_CACHE[name] = np.ascontiguousarray(a)
    return _PHOTO_CACHE[name]


def _to_chw_float(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(a, dtype=np.uint8, copy=True)).permute(2, 0, 1).float().div_(255.0)


def _resize_uint8(a: np.ndarray, size: int) -> np.ndarray:
    """Resize a uint8 ``H x W x 3`` array to ``size x size`` with PIL's antialiased bilinear filter."""
    from PIL import Image
    if a.shape[:2] == (size, size):
        return a
    return np.asarray(Image.fromarray(np.ascontiguousarray(a)).resize((size, size), Image.BILINEAR))


def resize_image(image: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Resize a ``C x H x W`` float image to ``size`` (int = square) with antialiased bilinear
    interpolation, clamped to [0, 1]. (Images only - masks are resized with nearest neighbour.)"""
    hw = (size, size) if isinstance(size, int) else tuple(size)
    if tuple(image.shape[-2:]) == hw:
        return image
    out = F.interpolate(image[None], size=hw, mode="bilinear", align_corners=False, antialias=True)[0]
    return out.clamp_(0, 1)


def _crop(image: torch.Tensor, top: int, left: int, h: int, w: int) -> torch.Tensor:
    return image[:, top:top + h, left:left + w]


def center_crop(image: torch.Tensor, size: int) -> torch.Tensor:
    """Central ``size x size`` crop of a ``C x H x W`` image (needs H, W >= size)."""
    h, w = image.shape[-2:]
    if h < size or w < size:
        raise ValueError(f"image {h}x{w} is smaller than the crop {size}x{size}")
    return _crop(image, (h - size) // 2, (w - size) // 2, size, size)


def random_crop(image: torch.Tensor, size: int, rng: np.random.Generator) -> torch.Tensor:
    """A uniform random ``size x size`` crop of a ``C x H x W`` image (needs H, W >= size)."""
    h, w = image.shape[-2:]
    if h < size or w < size:
        raise ValueError(f"image {h}x{w} is smaller than the crop {size}x{size}")
    return _crop(image, int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1)), size, size)


def resize_short_side(image: torch.Tensor, size: int) -> torch.Tensor:
    """Resize so that the shorter side equals ``size``, keeping the aspect ratio."""
    h, w = image.shape[-2:]
    s = size / min(h, w)
    return resize_image(image, (max(size, round(h * s)), max(size, round(w * s))))


def resize_or_crop(image: torch.Tensor, size: int = 256, rng: np.random.Generator | None = None) -> torch.Tensor:
    """Shorter side resized to ``size``, then a ``size x size`` crop: random with ``rng``, central
    without. An image already ``size x size`` (Places2's 256 x 256 release) passes unchanged."""
    image = resize_short_side(image, size)
    return random_crop(image, size, rng) if rng is not None else center_crop(image, size)


def resize_or_crop_256(image: torch.Tensor, rng: np.random.Generator | None = None) -> torch.Tensor:
    """``resize_or_crop`` at 256 (the training and test size of MSA-Net, PMRFN and MSFEF)."""
    return resize_or_crop(image, 256, rng)


def hflip(image: torch.Tensor) -> torch.Tensor:
    return image.flip(-1)


def item_rng(seed: int, index: int, *extra: int) -> np.random.Generator:
    """The per-item generator ``default_rng([seed, index, *extra])`` used by every dataset here."""
    return np.random.default_rng([int(seed), int(index), *map(int, extra)])


class SampleScenes(torch.utils.data.Dataset):
    """Crops of the photographs shipped with scikit-image, scikit-learn and matplotlib.

    ``split="train"``: item ``i`` picks a training photograph uniformly, a square crop whose side is
    ``U(0.25, 1)`` of the photo's shorter side at a uniform position (scale jitter), resizes it to
    ``size`` (antialiased) and flips it horizontally with probability 0.5; all from
    ``item_rng(seed, i)``. ``length`` is the epoch length (default 1024). With ``augment=False``
    the crop side is fixed at 0.625 of the shorter side and there is no flip.

    ``split="test"``: a fixed set of crops, independent of ``seed`` so every run is scored on the
    same images: item ``i`` is crop ``k = i // P`` of test photograph ``i % P`` (``P`` test
    photos); crop 0 is the central square of the full shorter side, crop ``k > 0`` a square of
    ``U(0.4, 1)`` of the shorter side at a position from ``item_rng(TEST_SEED, photo, k)``; no flip.
    ``length`` defaults to 4 crops per photo.

    Items are ``3 x size x size`` float32 tensors in [0, 1].
    """

    TRAIN_DEFAULT_LENGTH = 1024
    TEST_CROPS_PER_PHOTO = 4
    TEST_SEED = 20240601

    def __init__(self, split: str, size: int, length: int | None = None, seed: int = 0, augment: bool | None = None):
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        if augment and split == "test":
            raise ValueError("the test split is a fixed set of crops; augment=True is only for split='train'")
        if int(size) < 8:
            raise ValueError(f"size must be >= 8, got {size}")
        self.split, self.size, self.seed = split, int(size), int(seed)
        self.augment = (split == "train") if augment is None else bool(augment)
        self.photo_names = self.photos(split)
        n = len(self.photo_names)
        self.length = int(length) if length is not None else (
            self.TRAIN_DEFAULT_LENGTH if split == "train" else self.TEST_CROPS_PER_PHOTO * n)
        if self.length < 1:
            raise ValueError(f"length must be >= 1, got {length}")

    @staticmethod
    def photos(split: str) -> list[str]:
        """Names of the photographs in ``split`` ("train" or "test"), in a fixed order."""
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        return [k for k, v in SAMPLE_PHOTOS.items() if v[2] == split]

    @staticmethod
    def sources(split: str | None = None) -> dict[str, str]:
        """``{photo name: package it ships in}`` for ``split`` (or all)."""
        return {k: v[0] for k, v in SAMPLE_PHOTOS.items() if split is None or v[2] == split}

    def __len__(self) -> int:
        return self.length

    def crop_spec(self, index: int) -> dict:
        """Which photo, crop box (top, left, side) and flip item ``index`` uses."""
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for {self.length} items")
        if self.split == "train":
            rng = item_rng(self.seed, index)
            p = int(rng.integers(0, len(self.photo_names)))
            frac = rng.uniform(0.25, 1.0) if self.augment else 0.625
        else:
            p, k = index % len(self.photo_names), index // len(self.photo_names)
            rng = item_rng(self.TEST_SEED, p, k)
            frac = 1.0 if k == 0 else rng.uniform(0.4, 1.0)
        name = self.photo_names[p]
        h, w = load_sample_photo(name).shape[:2]
        side = max(1, min(h, w, int(round(frac * min(h, w)))))
        if self.split == "test" and frac == 1.0:
            top, left = (h - side) // 2, (w - side) // 2
        else:
            top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        flip = bool(self.augment and rng.random() < 0.5)
        return dict(photo=name, top=top, left=left, side=side, flip=flip)

    def __getitem__(self, index: int) -> torch.Tensor:
        if index < 0:
            index += self.length
        spec = self.crop_spec(index)
        a = load_sample_photo(spec["photo"])
        t, l, s = spec["top"], spec["left"], spec["side"]
        img = _to_chw_float(_resize_uint8(a[t:t + s, l:l + s], self.size))
        return hflip(img).contiguous() if spec["flip"] else img

    def images(self) -> torch.Tensor:
        """All items stacked: ``len x 3 x size x size`` (for the fixed test split)."""
        return torch.stack([self[i] for i in range(self.length)])

    def __repr__(self) -> str:
        return (f"SampleScenes(split={self.split!r}, size={self.size}, length={self.length}, seed={self.seed}, "
                f"augment={self.augment}, photos={self.photo_names})")


# --------------------------------------------------------------------------------------------
# Image folders and prepared datasets
# --------------------------------------------------------------------------------------------

def list_images(root: str | os.PathLike) -> list[str]:
    """Image files under ``root`` (recursive; jpg/jpeg/png/bmp/webp/tif), as sorted POSIX paths
    relative to ``root``; hidden files and folders are skipped."""
    root = Path(root)
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in filenames:
            if not f.startswith(".") and f.lower().endswith(IMAGE_EXTENSIONS):
                out.append((Path(dirpath) / f).relative_to(root).as_posix())
    return sorted(out)


def _high_depth_to_rgb(im, path) -> torch.Tensor:
    """A 16-bit (``I;16*``, ``I``) or float (``F``) grey image, scaled by its bit depth, as 3 x H x W in [0, 1]."""
    a = np.asarray(im).astype(np.float64)
    if im.mode == "F":
        if not np.isfinite(a).all() or a.min() < 0 or a.max() > 1:
            raise ValueError(f"image file {path} is a float image with values outside [0, 1] (or NaN/Inf); "
                             "expected 8- or 16-bit images, or floats in [0, 1]")
    else:
        if a.min() < 0 or a.max() > 65535:
            raise ValueError(f"image file {path} has integer values outside 0..65535 (mode {im.mode}); expected "
                             "an 8- or 16-bit image")
        a = a / 65535.0
    t = torch.from_numpy(a.astype(np.float32))
    return t.unsqueeze(0).expand(3, -1, -1).contiguous()


def load_image(path: str | os.PathLike) -> torch.Tensor:
    """An image file as a ``3 x H x W`` float32 tensor in [0, 1]: gray and RGBA converted to RGB, 16-bit grey
    scaled by 65535 (not clipped to 8 bits), the EXIF orientation applied. A missing, unreadable, corrupt or
    truncated file raises an error naming it."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file {path} does not exist")
    try:
        with Image.open(path) as im:
            im.load()
            im = ImageOps.exif_transpose(im)
            if im.mode.startswith("I") or im.mode == "F":
                return _high_depth_to_rgb(im, path)
            return _to_chw_float(np.asarray(im.convert("RGB")))
    except UnidentifiedImageError:
        raise ValueError(f"image file {path} is not an image PIL can read (wrong type or corrupt header)") from None
    except (OSError, SyntaxError, struct.error, Image.DecompressionBombError) as e:
        raise ValueError(f"image file {path} is corrupt or truncated ({type(e).__name__}: {e})") from None


FOLDER_MODES = ("resize", "center_crop", "random_crop", "resize_or_crop")


class ImageFolder(torch.utils.data.Dataset):
    """Images under ``root`` (recursive, sorted, or the given ``files``), each made ``3 x size x size``.

    ``mode``:
      * ``"resize"`` - resized to ``size x size`` (aspect ratio not kept);
      * ``"center_crop"`` / ``"resize_or_crop"`` - shorter side to ``size``, central crop (``resize_or_crop``);
      * ``"random_crop"`` - shorter side to ``size``, random crop.
    ``transform(image, rng) -> image``, when given, replaces the mode: any other resize or crop (a paper's own,
    e.g. ``inpaintlib.papers.deepgin.deepgin_subimage``); it must return ``3 x size x size``.
    ``flip`` (default: on for ``"random_crop"`` and for a ``transform``, which receives the item's generator; off
    otherwise) flips horizontally with probability 0.5. Random
    choices come from ``item_rng(seed, index, epoch)``; ``set_epoch`` changes the epoch.
    """

    def __init__(self, root: str | os.PathLike, size: int, mode: str = "resize", *, seed: int = 0,
                 flip: bool | None = None, files: Sequence[str] | None = None,
                 transform: Callable[[torch.Tensor, np.random.Generator], torch.Tensor] | None = None):
        if mode not in FOLDER_MODES:
            raise ValueError(f"mode must be one of {FOLDER_MODES}, got {mode!r}")
        if transform is not None and not callable(transform):
            raise ValueError(f"transform must be a callable transform(image, rng) -> image, got {transform!r}")
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"size must be a positive integer (the side of the square images), got {size!r}")
        self.root, self.size, self.mode, self.seed = Path(root), int(size), mode, int(seed)
        self.transform = transform
        self.random = transform is not None or mode == "random_crop"
        self.flip = self.random if flip is None else bool(flip)
        self.files = list(files) if files is not None else list_images(self.root)
        if not self.files:
            raise FileNotFoundError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) under {self.root}")
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Draw different random crops for the same index in a new epoch."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.files)

    def path(self, index: int) -> Path:
        return self.root / self.files[index]

    def _resize_or_crop(self, index: int, img: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        if self.transform is not None:
            out = self.transform(img, rng)
            if not isinstance(out, torch.Tensor) or tuple(out.shape) != (3, self.size, self.size):
                got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                raise ValueError(f"transform returned {got} for {self.path(index)}; expected a "
                                 f"3 x {self.size} x {self.size} tensor")
            return out
        if self.mode == "resize":
            return resize_image(img, self.size)
        return resize_or_crop(img, self.size, rng if self.mode == "random_crop" else None)

    def __getitem__(self, index: int) -> torch.Tensor:
        img = load_image(self.path(index))
        rng = item_rng(self.seed, index, self.epoch)
        img = self._resize_or_crop(index, img, rng)
        if self.flip and rng.random() < 0.5:
            img = hflip(img)
        return img.contiguous()


class DatasetNotPrepared(FileNotFoundError):
    """A real dataset is missing or was not indexed by ``python -m data_prep.datasets``."""


def _source_text(name: str) -> str:
    spec = REGISTRY.get(name)
    return spec.source_text() if spec is not None else f"unknown dataset; known: {sorted(REGISTRY)}"


def open_dataset(name: str, root: str | os.PathLike, split: str, size: int, mode: str | None = None,
                 seed: int = 0) -> ImageFolder:
    """A real dataset prepared by ``python -m data_prep.datasets NAME --root ROOT``.

    Reads ``ROOT/manifest.json`` (or the spec's ``manifest`` name: split -> relative file list), checks the
    dataset name and split,
    and returns an ``ImageFolder`` over that split. ``mode`` defaults to ``"random_crop"`` for the
    training split and ``"center_crop"`` otherwise. Raises ``DatasetNotPrepared`` naming where to get
    the data and the command that prepares it.
    """
    root = Path(root)
    mf = root / (REGISTRY[name].manifest if name in REGISTRY else "manifest.json")
    cmd = f"python -m data_prep.datasets {name} --root {root}"
    if not mf.is_file():
        raise DatasetNotPrepared(
            f"dataset {name!r} is not prepared at {root} (no {mf.name}).\n"
            f"  Get the data: {_source_text(name)}\n"
            f"  Then run: {cmd}   (add --download where a public URL exists)")
    try:
        m = json.loads(mf.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{mf} is not valid JSON ({e}); it was truncated or edited: re-run {cmd}") from None
    splits = m.get("splits") if isinstance(m, dict) else None
    if not isinstance(splits, dict) or not all(isinstance(v, list) for v in splits.values()):
        raise ValueError(f"{mf} is not a dataset manifest: expected a JSON object with \"name\" and \"splits\" "
                         f"(split -> list of files), got {type(m).__name__}"
                         + (f" with keys {sorted(m)}" if isinstance(m, dict) else "") + f"; re-run {cmd}")
    if m.get("name") != name:
        raise ValueError(f"{mf} describes dataset {m.get('name')!r}, not {name!r}")
    if split not in splits:
        raise ValueError(f"dataset {name!r} at {root} has splits {sorted(splits)}, not {split!r}")
    if mode is None:
        mode = "random_crop" if split == "train" else "center_crop"
    files = splits[split]
    bad = [f for f in files if not isinstance(f, str)]
    if bad:
        raise ValueError(f"{mf}: split {split!r} lists {len(bad)} entries that are not file names (e.g. {bad[0]!r}); "
                         f"re-run {cmd}")
    missing = [f for f in files if not os.path.isfile(root / f)]  # one stat per file
    if missing:
        more = f" and {len(missing) - 5:,} more" if len(missing) > 5 else ""
        raise DatasetNotPrepared(f"{root}: {len(missing):,} of the {len(files):,} files that {mf.name} lists for "
                                 f"split {split!r} are missing: {', '.join(missing[:5])}{more}; restore them or "
                                 f"re-run: {cmd}")
    return ImageFolder(root, size, mode, seed=seed, files=files)


__all__ = [
    "SAMPLE_PHOTOS", "EXCLUDED_PHOTOS", "SampleScenes", "load_sample_photo", "ImageFolder", "open_dataset",
    "DatasetNotPrepared", "list_images", "load_image", "resize_image", "resize_short_side", "center_crop",
    "random_crop", "resize_or_crop", "resize_or_crop_256", "hflip", "item_rng", "FOLDER_MODES",
]
