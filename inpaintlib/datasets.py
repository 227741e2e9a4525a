"""The registry of real datasets: where each comes from, how it is split, how many images each split holds.

Pure data, read by the library (to say where to get a missing dataset) and by ``data_prep.datasets``, which
downloads or indexes a dataset and writes its ``manifest.json``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Download", "DatasetSpec", "REGISTRY", "register"]


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

    ``split_dirs``: split -> folder names (relative to the root, or one level down; the first one found is
    used) holding that split's images. ``random_split``: split -> count for datasets without an official
    split; the test images are a seeded (``split_seed``) random choice among all images under the
    root (or under the first of ``image_dirs`` found, when the spec names any), the rest is train.
    ``image_dirs``: for such datasets, the folders the publisher's archive holds the images in (at the
    root or one level down); when one is there only it is indexed, so other files a release ships beside
    it (thumbnails, segmentation masks) are not counted as images. ``counts``: the expected number of
    images per split. ``manifest``: the file name of the index ``data_prep.datasets`` writes in the root; two specs that split the same images
    differently (CelebA-HQ 27K/3K for DeepGIN, 28K/2K for MSA-Net) use different names, so one folder of
    images can serve both (the second root may be a symlink to the first).
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
    manifest: str = "manifest.json"
    image_dirs: tuple[str, ...] = ()

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
    access="no direct public download: build the 30,000 images from CelebA "
           "(https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html) with the dataset tool of the progressive GAN "
           "repository, or take them from CelebAMask-HQ (https://github.com/switchablenorms/CelebAMask-HQ), and put "
           "the folder in ROOT as it comes: ROOT/data1024x1024 (00000.jpg ... or img00000.png ...), "
           "ROOT/CelebA-HQ-img (0.jpg ... 29999.jpg) or the unzipped ROOT/CelebAMask-HQ; only that image folder "
           "is indexed (CelebAMask-HQ's mask annotations are not)",
    counts={"train": 27000, "test": 3000}, random_split={"test": 3000},
    image_dirs=("data1024x1024", "CelebA-HQ-img"),
    notes="DeepGIN Sect. 5.2: 'randomly split ... 27,000 images for training and 3,000 for testing'; "
          "the authors' split is not published, ours is a seeded random split",
    used_by="DeepGIN"))

register(DatasetSpec(
    name="celeba_hq_28k", title="CelebA-HQ (Karras et al., ICLR 2018), split 28,000 / 2,000",
    homepage="https://github.com/tkarras/progressive_growing_of_gans",
    access="the same 30,000 images as celeba_hq (no direct public download: build them from CelebA with the "
           "dataset tool of the progressive GAN repository, or take CelebAMask-HQ's CelebA-HQ-img), in ROOT as "
           "they come (ROOT/data1024x1024, ROOT/CelebA-HQ-img or ROOT/CelebAMask-HQ); ROOT may be a symlink to "
           "the celeba_hq folder",
    counts={"train": 28000, "test": 2000}, random_split={"test": 2000}, manifest="manifest_28k.json",
    image_dirs=("data1024x1024", "CelebA-HQ-img"),
    notes="MSA-Net Sect. 4: '28,000 images for training and 2,000 for testing'; the authors' split is not "
          "published, ours is a seeded random split",
    used_by="MSA-Net"))

register(DatasetSpec(
    name="places2", title="Places365-Standard, 256x256 (Zhou et al., TPAMI 2018)",
    homepage="http://places2.csail.mit.edu/download.html",
    access="public download from the Places2 site (small images, 256x256): extract "
           "train_256_places365standard.tar (data_256/a/abbey/00000001.jpg ...), val_256.tar "
           "(val_256/Places365_val_00000001.jpg ...) and filelist_places365-standard.tar "
           "(places365_train_standard.txt, places365_val.txt) into ROOT as shipped; with the file lists there, "
           "exactly the listed images are indexed and any missing one is named",
    counts={"train": 1803460, "test": 36500},
    split_dirs={"train": ("data_256", "data_256_standard", "train", "train_256"), "test": ("val_256", "test", "val")},
    downloads=(
        Download("http://data.csail.mit.edu/places/places365/train_256_places365standard.tar",
                 "train_256_places365standard.tar"),
        Download("http://data.csail.mit.edu/places/places365/val_256.tar", "val_256.tar"),
        Download("http://data.csail.mit.edu/places/places365/filelist_places365-standard.tar",
                 "filelist_places365-standard.tar"),
    ),
    notes="the official validation set (36,500) serves as the test set, as in MSA-Net/PMRFN-style "
          "evaluations ('original train set and test set', MSA-Net Sect. 4)",
    used_by="MSA-Net, PMRFN"))

register(DatasetSpec(
    name="paris_streetview", title="Paris StreetView (Doersch et al. 2012; Pathak et al., CVPR 2016)",
    homepage="https://github.com/pathak22/context-encoder",
    access="request access from the Context Encoders authors (see the repository's README: the Paris "
           "StreetView data is shared on request), then put its folders in ROOT as shipped: "
           "ROOT/paris_train_original (14,900) and ROOT/paris_eval_gt (100)",
    counts={"train": 14900, "test": 100},
    split_dirs={"train": ("paris_train_original", "train"), "test": ("paris_eval_gt", "test", "eval")},
    used_by="PMRFN"))

register(DatasetSpec(
    name="celeba", title="CelebA (Liu et al., ICCV 2015), aligned and cropped faces",
    homepage="https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html",
    access="download img_align_celeba.zip and list_eval_partition.txt from the homepage (Google Drive / Baidu) "
           "and put them in ROOT as shipped: ROOT/img_align_celeba/000001.jpg ... 202599.jpg and "
           "ROOT/list_eval_partition.txt (the Drive folders Img/ and Eval/ may be kept); the partition file "
           "splits the images (0, 1 = train, 2 = test), nothing is moved. Folders ROOT/train and ROOT/test "
           "sorted by hand still work",
    counts={"train": 182637, "test": 19962},
    split_dirs={"train": ("train",), "test": ("test",)},
    notes="PMRFN Sect. 5.1 trains and tests on CelebA without naming a split; ours is the official partition "
          "(train + val for training, test for testing)",
    used_by="PMRFN"))

register(DatasetSpec(
    name="ffhq", title="Flickr-Faces-HQ (Karras et al., CVPR 2019)",
    homepage="https://github.com/NVlabs/ffhq-dataset",
    access="download with the repository's download_ffhq.py (Google Drive, quota-limited) and put what it "
           "writes in ROOT as it is: ROOT/images1024x1024/00000/00000.png ... (70,000 images); only "
           "images1024x1024 is indexed when it is there (thumbnails128x128 otherwise), so thumbnails and "
           "downloads/ are not counted twice",
    counts={"train": 69000, "test": 1000}, random_split={"test": 1000},
    image_dirs=("images1024x1024", "thumbnails128x128"),
    notes="DeepGIN Sect. 6.2: 'randomly selected 1,000 images for the testing'; ours is a seeded random split",
    used_by="DeepGIN, CtxAttn"))

register(DatasetSpec(
    name="oxford_buildings", title="Oxford Buildings 5k (Philbin et al., CVPR 2007)",
    homepage="https://www.robots.ox.ac.uk/~vgg/data/oxbuildings/",
    access="public download (5k dataset images, oxbuild_images.tgz) from the Visual Geometry Group page; "
           "extract it into ROOT/oxbuild_images as shipped (all_souls_000000.jpg ..., 5,062 images)",
    counts={"train": 4539, "test": 523}, random_split={"test": 523},
    image_dirs=("oxbuild_images",),
    downloads=(Download("https://www.robots.ox.ac.uk/~vgg/data/oxbuildings/oxbuild_images.tgz",
                        "oxbuild_images.tgz", extract_to="oxbuild_images"),),
    notes="DeepGIN Sect. 6.2: 'randomly selected 523 testing images'; ours is a seeded random split. "
          "If the archive URL has moved, download the 5k images from the homepage and index the folder",
    used_by="DeepGIN, CtxAttn"))

register(DatasetSpec(
    name="helen", title="Helen (Le et al., ECCV 2012)",
    homepage="http://www.ifp.illinois.edu/~vuongle2/helen/",
    access="download helen_1.zip ... helen_5.zip, trainnames.txt and testnames.txt from the Helen homepage and "
           "put them in ROOT as shipped (the zips extracted to ROOT/helen_1 ... ROOT/helen_5); the name lists "
           "split the images (2,000 train, 330 test). Folders ROOT/train and ROOT/test sorted by hand still work",
    counts={"train": 2000, "test": 330},
    split_dirs={"train": ("train",), "test": ("test",)},
    notes="MSFEF Sect. 4.1: 2,000 training and 330 test images",
    used_by="MSFEF"))

register(DatasetSpec(
    name="stanford_cars", title="Stanford Cars (Krause et al., 3dRR 2013)",
    homepage="https://ai.stanford.edu/~jkrause/cars/car_dataset.html",
    access="the original archives (cars_train.tgz, cars_test.tgz) have been offline since 2023 "
           "(pytorch/vision issue #7545); obtain a copy of the same 16,185 images and put the folders in ROOT as "
           "shipped: ROOT/cars_train/00001.jpg ... and ROOT/cars_test/00001.jpg ... (copies that nest them one "
           "level deeper, ROOT/cars_train/cars_train/, work too)",
    counts={"train": 8144, "test": 8041},
    split_dirs={"train": ("cars_train", "train"), "test": ("cars_test", "test")},
    notes="MSFEF Sect. 4.1: 8,144 training and 8,041 test images",
    used_by="MSFEF"))

register(DatasetSpec(
    name="lsun_church", title="LSUN church_outdoor (Yu et al., 2015)",
    homepage="https://github.com/fyu/lsun",
    access="download church_outdoor_train_lmdb.zip and church_outdoor_val_lmdb.zip with the LSUN repository's "
           "download.py and unzip them in ROOT; then export each to image files with its data.py, "
           "'python data.py export ROOT/church_outdoor_train_lmdb --out_dir ROOT/church_outdoor_train' (and the "
           "same for val into ROOT/church_outdoor_val; nested one-character folders of .webp files, as data.py "
           "writes them, or --flat), or install the optional lmdb package and this command exports them itself",
    counts={"train": 126227, "test": 300},
    split_dirs={"train": ("church_outdoor_train", "train"), "test": ("church_outdoor_val", "test", "val")},
    notes="MSFEF Sect. 4.1: 'over 126,000 training images and 300 testing images' (the official val set)",
    used_by="MSFEF"))
