"""data_prep: dataset registry, download, indexing and manifests, and the mask test-set CLI."""
from __future__ import annotations

import hashlib
import io
import json
import tarfile

import numpy as np
import pytest
from PIL import Image

from data_prep import datasets as DS
from data_prep import make_masks as MM
from inpaintlib import data as D
from inpaintlib import masks as M


def _write_images(folder, n, start=0, ext="png"):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + n):
        Image.fromarray(np.full((12, 10, 3), i % 256, np.uint8)).save(folder / f"{i:04d}.{ext}")


def test_registry_covers_the_papers_datasets_with_counts_and_a_source():
    expected = {"celeba_hq", "places2", "paris_streetview", "ffhq", "oxford_buildings", "helen",
                "stanford_cars", "lsun_church"}
    assert expected <= set(DS.REGISTRY)
    assert DS.REGISTRY["helen"].counts == {"train": 2000, "test": 330}
    assert DS.REGISTRY["stanford_cars"].counts == {"train": 8144, "test": 8041}
    for spec in DS.REGISTRY.values():
        assert spec.downloads or "ROOT" in spec.access, f"{spec.name}: say where to put the images"
        assert spec.homepage.startswith("http") and spec.homepage in spec.source_text()
        for d in spec.downloads:
            assert d.url.startswith(("http://", "https://"))


@pytest.fixture
def tiny_helen(monkeypatch):
    spec = DS.DatasetSpec(name="helen", title="Helen (test copy)", homepage="http://www.ifp.illinois.edu/~vuongle2/helen/",
                          access="download from the homepage", counts={"train": 5, "test": 3},
                          split_dirs={"train": ("train",), "test": ("test",)})
    monkeypatch.setitem(DS.REGISTRY, "helen", spec)
    return spec


def test_indexing_a_folder_with_split_dirs_writes_a_manifest_open_dataset_reads(tmp_path, tiny_helen):
    _write_images(tmp_path / "train", 5)
    _write_images(tmp_path / "test", 3, start=100, ext="jpg")
    path = DS.prepare("helen", tmp_path)
    m = json.loads(path.read_text())
    assert m["counts"] == {"train": 5, "test": 3} and m["complete"]
    assert m["splits"]["test"] == ["test/0100.jpg", "test/0101.jpg", "test/0102.jpg"]
    assert m["list_sha256"]["train"] == hashlib.sha256("\n".join(m["splits"]["train"]).encode()).hexdigest()
    ds = D.open_dataset("helen", tmp_path, "test", 8)
    assert len(ds) == 3 and ds[0].shape == (3, 8, 8)


def test_count_mismatch_lists_expected_and_found(tmp_path, tiny_helen):
    _write_images(tmp_path / "train", 4)
    _write_images(tmp_path / "test", 3)
    with pytest.raises(DS.CountMismatch) as e:
        DS.prepare("helen", tmp_path)
    msg = str(e.value)
    assert "expected train: 5, test: 3" in msg and "found train: 4, test: 3" in msg
    assert not (tmp_path / "manifest.json").exists()
    DS.prepare("helen", tmp_path, allow_count_mismatch=True)
    assert json.loads((tmp_path / "manifest.json").read_text())["complete"] is False


def test_missing_split_folder_says_where_to_get_the_data(tmp_path, tiny_helen):
    _write_images(tmp_path / "train", 5)
    with pytest.raises(FileNotFoundError, match="split 'test'.*ifp.illinois.edu"):
        DS.prepare("helen", tmp_path)


def test_random_split_is_seeded_disjoint_and_complete(tmp_path, monkeypatch):
    spec = DS.DatasetSpec(name="oxford_buildings", title="Oxford (test copy)", homepage="https://example.org",
                          access="", counts={"train": 9, "test": 3}, random_split={"test": 3})
    monkeypatch.setitem(DS.REGISTRY, spec.name, spec)
    _write_images(tmp_path / "oxbuild_images", 12)
    first = json.loads(DS.prepare(spec.name, tmp_path).read_text())["splits"]
    again = json.loads(DS.prepare(spec.name, tmp_path).read_text())["splits"]
    assert first == again
    assert not set(first["train"]) & set(first["test"])
    assert len(set(first["train"]) | set(first["test"])) == 12


def _tgz_of_images(path, layout):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name in layout:
            img = io.BytesIO()
            Image.fromarray(np.zeros((6, 6, 3), np.uint8)).save(img, format="PNG")
            info = tarfile.TarInfo(name)
            info.size = img.tell()
            img.seek(0)
            tf.addfile(info, img)
    path.write_bytes(buf.getvalue())
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_download_from_a_file_url_checks_sha_extracts_and_indexes(tmp_path, monkeypatch):
    archive = tmp_path / "src" / "fake.tgz"
    archive.parent.mkdir()
    sha = _tgz_of_images(archive, [f"train/{i}.png" for i in range(4)] + [f"test/{i}.png" for i in range(2)])
    spec = DS.DatasetSpec(name="fake", title="fake", homepage="https://example.org", access="",
                          counts={"train": 4, "test": 2}, split_dirs={"train": ("train",), "test": ("test",)},
                          downloads=(DS.Download(archive.as_uri(), "fake.tgz", sha),))
    monkeypatch.setitem(DS.REGISTRY, "fake", spec)
    root = tmp_path / "root"
    (root / "downloads").mkdir(parents=True)
    (root / "downloads" / "fake.tgz.part").write_bytes(b"stale partial bytes")  # an interrupted earlier run
    assert DS.main(["fake", "--root", str(root), "--download"]) == 0
    assert (root / "downloads" / "fake.tgz").read_bytes() == archive.read_bytes()
    assert not (root / "downloads" / "fake.tgz.part").exists()
    assert json.loads((root / "manifest.json").read_text())["counts"] == {"train": 4, "test": 2}
    # a second run does not fetch again (the source may be gone)
    archive.unlink()
    assert DS.main(["fake", "--root", str(root), "--download"]) == 0


def test_download_with_a_wrong_sha_leaves_no_file(tmp_path):
    src = tmp_path / "a.bin"
    src.write_bytes(b"x" * 1000)
    dest = tmp_path / "out" / "a.bin"
    with pytest.raises(ValueError, match="sha256"):
        DS.download(src.as_uri(), dest, sha256="0" * 64, progress=False)
    assert not dest.exists() and not dest.with_name("a.bin.part").exists()


def test_extract_refuses_members_outside_the_target(tmp_path):
    evil = tmp_path / "evil.tar"
    with tarfile.open(evil, "w") as tf:
        info = tarfile.TarInfo("../escape.txt")
        info.size = 1
        tf.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(ValueError, match="refusing"):
        DS.extract(evil, tmp_path / "t")
    assert not (tmp_path / "escape.txt").exists()


def test_download_flag_on_a_request_only_dataset_explains_how_to_get_it(tmp_path, capsys):
    assert DS.main(["paris_streetview", "--root", str(tmp_path), "--download"]) == 1
    err = capsys.readouterr().err
    assert "no public download" in err and "request access" in err


def test_make_masks_cli_writes_a_test_set_and_ensure_ci_masks_uses_the_data_dir(tmp_path, monkeypatch):
    out = tmp_path / "cli"
    assert MM.main(["--size", "32", "--per-bucket", "2", "--seed", "1", "--out", str(out)]) == 0
    ts = M.MaskTestSet(out)
    assert len(ts) == 12 and ts.params["seed"] == 1
    monkeypatch.setenv("INPAINTLIB_DATA", str(tmp_path / "data"))
    p = MM.ensure_ci_masks(size=32, per_bucket=2, seed=1)
    assert p == tmp_path / "data" / "masks" / "irregular-liu-32px-2pb-seed1"
    assert json.loads((p / "manifest.json").read_text())["files"] == ts.manifest["files"]
    assert MM.ensure_ci_masks(size=32, per_bucket=2, seed=1) == p
    msfef = MM.ensure_ci_masks(size=32, per_bucket=1, seed=0, buckets="msfef")
    assert M.MaskTestSet(msfef).closed == "left"


def test_interrupted_http_download_resumes_with_a_range_request(tmp_path):
    import http.server
    import threading

    payload = bytes(range(256)) * 40
    seen_ranges = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server API
            rng = self.headers.get("Range")
            seen_ranges.append(rng)
            start = int(rng.split("=")[1].rstrip("-")) if rng else 0
            self.send_response(206 if rng else 200)
            self.send_header("Content-Length", str(len(payload) - start))
            self.end_headers()
            self.wfile.write(payload[start:])

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        dest = tmp_path / "blob.bin"
        dest.with_name("blob.bin.part").write_bytes(payload[:1000])  # what an interrupted run left
        url = f"http://127.0.0.1:{server.server_address[1]}/blob.bin"
        DS.download(url, dest, hashlib.sha256(payload).hexdigest(), progress=False)
    finally:
        server.shutdown()
    assert seen_ranges == ["bytes=1000-"]
    assert dest.read_bytes() == payload


def test_two_splits_of_one_folder_keep_their_own_manifests(tmp_path, monkeypatch):
    """CelebA-HQ is split 27K/3K by DeepGIN and 28K/2K by MSA-Net: one folder of images serves both."""
    from inpaintlib.data import open_dataset

    real = DS.REGISTRY
    assert (real["celeba_hq"].counts, real["celeba_hq_28k"].counts) == ({"train": 27000, "test": 3000},
                                                                          {"train": 28000, "test": 2000})
    assert real["celeba_hq"].manifest != real["celeba_hq_28k"].manifest
    for name, n_test, manifest in (("celeba_hq", 3, "manifest.json"), ("celeba_hq_28k", 2, "manifest_28k.json")):
        monkeypatch.setitem(DS.REGISTRY, name, DS.DatasetSpec(
            name=name, title="test copy", homepage="https://example.org", access="ROOT",
            counts={"train": 10 - n_test, "test": n_test}, random_split={"test": n_test}, manifest=manifest))
    _write_images(tmp_path / "imgs", 10)
    DS.prepare("celeba_hq", tmp_path)
    (tmp_path.parent / "link28k").symlink_to(tmp_path)
    DS.prepare("celeba_hq_28k", tmp_path.parent / "link28k")
    assert {p.name for p in tmp_path.glob("manifest*.json")} == {"manifest.json", "manifest_28k.json"}
    assert len(open_dataset("celeba_hq", tmp_path, "test", 8)) == 3
    assert len(open_dataset("celeba_hq_28k", tmp_path.parent / "link28k", "test", 8)) == 2
    assert len(open_dataset("celeba_hq_28k", tmp_path, "train", 8)) == 8
