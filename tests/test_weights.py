"""Checkpoint I/O (safetensors + JSON sidecar, atomic writes, hash check) and the weights manifest."""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
from pathlib import Path

import pytest
import torch

from inpaintlib import weights as W

ROOT = Path(__file__).resolve().parents[1]
ENTRY_FIELDS = {"name", "chapter", "model", "scale", "file", "sha256", "size", "sources", "metrics", "commit"}


@dataclasses.dataclass(frozen=True)
class TinyConfig:
    width: int = 4
    kernel: tuple = (3, 3)


class Tiny(torch.nn.Module):
    def __init__(self, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.config = TinyConfig()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(4)


def _files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def test_round_trip_keeps_tensors_and_meta(tmp_path):
    m = Tiny(1)
    path = tmp_path / "model.safetensors"
    side = W.save_checkpoint(path, m, {"config": m.config, "scale": "ci", "step": 7, "metrics": {"psnr": 21.5},
                                      "chapter": "foundations"})
    assert _files(tmp_path) == {"model.safetensors", "model.json"}
    tensors, meta = W.load_checkpoint(path)
    sd = m.state_dict()
    assert set(tensors) == set(sd)
    for k, v in sd.items():
        assert torch.equal(tensors[k], v), k
    assert meta == side
    assert meta["config"] == {"width": 4, "kernel": [3, 3]}
    assert (meta["scale"], meta["step"], meta["metrics"], meta["chapter"]) == ("ci", 7, {"psnr": 21.5}, "foundations")
    assert meta["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert meta["size"] == path.stat().st_size
    assert meta["library_version"] and meta["git_commit"]
    dt.datetime.fromisoformat(meta["created"].replace("Z", "+00:00"))
    # the sidecar is plain JSON on disk
    assert json.loads((tmp_path / "model.json").read_text())["sha256"] == meta["sha256"]


def test_load_into_restores_module_and_strict_rejects_other_keys(tmp_path):
    src, dst = Tiny(1), Tiny(2)
    W.save_checkpoint(tmp_path / "m.safetensors", src, {"step": 1})
    assert not torch.equal(src.conv.weight, dst.conv.weight)
    meta = W.load_into(dst, tmp_path / "m.safetensors")
    assert meta["step"] == 1
    assert torch.equal(src.conv.weight, dst.conv.weight)
    other = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3))
    with pytest.raises(RuntimeError):
        W.load_into(other, tmp_path / "m.safetensors")
    meta = W.load_into(other, tmp_path / "m.safetensors", strict=False)
    assert "0.weight" in meta["missing_keys"] and "conv.weight" in meta["unexpected_keys"]


def test_flipped_byte_is_refused_with_both_hashes(tmp_path):
    path = tmp_path / "m.safetensors"
    W.save_checkpoint(path, {"w": torch.arange(64, dtype=torch.float32)}, {})
    expected = W.read_sidecar(path)["sha256"]
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF  # inside the tensor data, so the file still parses
    path.write_bytes(bytes(data))
    actual = hashlib.sha256(bytes(data)).hexdigest()
    with pytest.raises(ValueError) as e:
        W.load_checkpoint(path)
    assert expected in str(e.value) and actual in str(e.value)
    tensors, _ = W.load_checkpoint(path, verify=False)  # explicit opt-out still works
    assert not torch.equal(tensors["w"], torch.arange(64, dtype=torch.float32))


def test_checkpoint_without_sidecar_loads_from_its_embedded_metadata(tmp_path):
    path = tmp_path / "m.safetensors"
    W.save_checkpoint(path, {"w": torch.ones(3)}, {"step": 5})
    (tmp_path / "m.json").unlink()
    assert W.load_checkpoint(path)[1]["step"] == 5  # the file alone is the checkpoint
    assert W.read_sidecar(path)["step"] == 5


def test_format1_checkpoint_without_sidecar_is_refused_when_verifying(tmp_path):
    import safetensors.torch

    path = tmp_path / "m.safetensors"
    path.write_bytes(safetensors.torch.save({"w": torch.ones(3)}, metadata={"format": "pt"}))
    with pytest.raises(ValueError, match="sidecar"):
        W.load_checkpoint(path)
    assert W.load_checkpoint(path, verify=False)[1] == {}


def test_edited_sidecar_config_is_refused(tmp_path):
    path = tmp_path / "m.safetensors"
    W.save_checkpoint(path, {"w": torch.ones(3)}, {"config": {"width": 4}})
    side = json.loads((tmp_path / "m.json").read_text())
    side["config"]["width"] = 8
    (tmp_path / "m.json").write_text(json.dumps(side))
    for read in (W.load_checkpoint, W.read_sidecar):
        with pytest.raises(ValueError, match=r"edited.*\['config'\]"):
            read(path)


def test_malformed_sidecar_names_its_path(tmp_path):
    import safetensors.torch

    path = tmp_path / "m.safetensors"
    path.write_bytes(safetensors.torch.save({"w": torch.ones(3)}, metadata={"format": "pt"}))
    (tmp_path / "m.json").write_text("{not json")
    with pytest.raises(ValueError, match="m.json is not valid JSON"):
        W.load_checkpoint(path)


def test_failed_write_leaves_no_partial_file_and_keeps_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    W.save_checkpoint(path, {"w": torch.zeros(1000)}, {"step": 1})
    before = (path.read_bytes(), (tmp_path / "m.json").read_bytes())

    real_fsync = os.fsync
    calls = {"n": 0}

    def failing_fsync(fd):  # the first temp file is written and flushed, then the "disk" fails
        calls["n"] += 1
        raise OSError("simulated disk failure")

    monkeypatch.setattr(W.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="simulated"):
        W.save_checkpoint(path, {"w": torch.ones(1000)}, {"step": 2})
    assert calls["n"] >= 1
    monkeypatch.setattr(W.os, "fsync", real_fsync)
    assert _files(tmp_path) == {"m.safetensors", "m.json"}  # no temp files left behind
    assert (path.read_bytes(), (tmp_path / "m.json").read_bytes()) == before
    tensors, meta = W.load_checkpoint(path)
    assert meta["step"] == 1 and torch.equal(tensors["w"], torch.zeros(1000))

    # failing while moving the sidecar into place: no temp file stays; the new file is the checkpoint and the
    # stale sidecar is ignored with a warning
    real_replace = os.replace

    def failing_second_replace(src, dst):
        if str(dst).endswith(".json"):
            raise OSError("simulated rename failure")
        return real_replace(src, dst)

    monkeypatch.setattr(W.os, "replace", failing_second_replace)
    with pytest.raises(OSError):
        W.save_checkpoint(path, {"w": torch.ones(1000)}, {"step": 3})
    monkeypatch.setattr(W.os, "replace", real_replace)
    assert _files(tmp_path) == {"m.safetensors", "m.json"}
    with pytest.warns(UserWarning, match="does not describe"):
        tensors, meta = W.load_checkpoint(path)
    assert meta["step"] == 3 and torch.equal(tensors["w"], torch.ones(1000))


def test_unserialisable_meta_fails_before_writing(tmp_path):
    with pytest.raises(TypeError):
        W.save_checkpoint(tmp_path / "m.safetensors", {"w": torch.ones(2)}, {"bad": object()})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_non_finite_weights_are_refused_unless_allowed(tmp_path, bad, dtype):
    w = torch.ones(10, dtype=dtype)
    w[3] = bad
    path = tmp_path / "m.safetensors"
    refused = r"refusing to save .*m.safetensors: 1 tensor\(s\) hold NaN or Inf \(e.g. \['w'\]\)"
    with pytest.raises(ValueError, match=refused):
        W.save_checkpoint(path, {"w": w, "n": torch.arange(3)}, {"git_commit": "t"})
    assert list(tmp_path.iterdir()) == []  # nothing written
    W.save_checkpoint(path, {"w": w}, {"git_commit": "t"}, allow_nonfinite=True)
    assert torch.equal(W.load_checkpoint(path)[0]["w"].isfinite(), w.isfinite())


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_metadata_is_written_as_json_null(tmp_path, value):
    import safetensors

    path = tmp_path / "m.safetensors"
    W.save_checkpoint(path, {"w": torch.ones(2)}, {"metrics": {"psnr": value, "l1": 1.5},
                                                   "history": [value, 2.0], "git_commit": "t"})
    strict = {"parse_constant": lambda c: pytest.fail(f"bare {c} in the JSON")}
    sidecar = json.loads((tmp_path / "m.json").read_text(), **strict)
    with safetensors.safe_open(path, "pt") as f:
        embedded = json.loads(f.metadata()["inpaintlib.meta"], **strict)
    for meta in (sidecar, embedded, W.load_checkpoint(path)[1]):
        assert meta["metrics"] == {"psnr": None, "l1": 1.5} and meta["history"] == [None, 2.0]


def test_shared_tensors_are_saved(tmp_path):
    lin = torch.nn.Linear(3, 3)
    tied = torch.nn.ModuleDict({"a": lin, "b": lin})  # tied weights share storage
    W.save_checkpoint(tmp_path / "t.safetensors", tied, {})
    tensors, _ = W.load_checkpoint(tmp_path / "t.safetensors")
    assert torch.equal(tensors["a.weight"], tensors["b.weight"])


def test_optimizer_and_scheduler_state_round_trip_exactly():
    m = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(m.parameters(), lr=0.1, betas=(0.5, 0.9))
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    m(torch.randn(4, 3)).sum().backward()
    opt.step()
    sched.step(1.0)
    sched.step(2.0)
    for obj, prefix in ((opt, "optim"), (sched, "sched")):
        sd = obj.state_dict()
        tensors, tree = W.flatten_state(sd, prefix)
        assert all(k.startswith(prefix + ".") for k in tensors)
        tree = json.loads(json.dumps(tree, allow_nan=False))  # strict JSON, no pickles
        back = W.unflatten_state(tree, tensors)
        assert _deep_equal(back, sd), prefix


def _deep_equal(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_deep_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_deep_equal(x, y) for x, y in zip(a, b))
    return a == b and type(a) is type(b)


def _two_sources(rel: str):
    return [{"type": "repository", "path": rel},
            {"type": "notebook", "notebook": "notebooks/foundations/02_training.py", "scale": "ci"}]


def _check_entry_schema(e: dict) -> None:
    assert ENTRY_FIELDS <= set(e), ENTRY_FIELDS - set(e)
    assert len(e["sources"]) >= 2 and len(e["sha256"]) == 64 and e["size"] > 0


def test_manifest_add_find_verify(tmp_path):
    (tmp_path / "weights").mkdir()
    ck = tmp_path / "weights" / "tiny_ci.safetensors"
    W.save_checkpoint(ck, Tiny(0), {"scale": "ci", "git_commit": "abc1234"})
    man = W.Manifest(tmp_path / "weights" / "manifest.json")
    assert len(man) == 0 and man.find("tiny") is None
    entry = man.add_entry("tiny", chapter="foundations", model="Tiny", scale="ci", file="weights/tiny_ci.safetensors",
                          sources=_two_sources("weights/tiny_ci.safetensors"), metrics={"psnr": 20.0})
    _check_entry_schema(entry)
    assert entry["sha256"] == W.sha256_file(ck) and entry["size"] == ck.stat().st_size
    assert entry["commit"] == "abc1234"
    again = W.Manifest(tmp_path / "weights" / "manifest.json")  # persisted
    assert len(again) == 1 and again.find("tiny") == entry
    assert again.verify("tiny") is True
    assert again.verify(entry, ck) is True
    with pytest.raises(ValueError, match="already"):
        again.add_entry("tiny", chapter="c", model="m", scale="ci", file="weights/tiny_ci.safetensors",
                        sources=_two_sources("weights/tiny_ci.safetensors"))
    with pytest.raises(ValueError, match="two sources"):
        again.add_entry("one", chapter="c", model="m", scale="ci", file="weights/tiny_ci.safetensors",
                        sources=_two_sources("weights/tiny_ci.safetensors")[:1])
    with pytest.raises(ValueError, match="https"):
        again.add_entry("u", chapter="c", model="m", scale="ci", file="weights/tiny_ci.safetensors",
                        sources=[{"type": "url", "url": "ftp://x"}, _two_sources("w")[1]])
    with pytest.raises(FileNotFoundError):
        again.verify(entry, tmp_path / "weights" / "missing.safetensors")
    data = bytearray(ck.read_bytes())
    data[-1] ^= 1  # same size, one bit different
    ck.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="sha256"):
        again.verify("tiny")
    ck.write_bytes(bytes(data) + b"x")
    with pytest.raises(ValueError, match="size"):
        again.verify("tiny")


def test_repository_manifest_lists_exactly_the_committed_checkpoints_and_each_verifies():
    man = W.Manifest()  # weights/manifest.json of this repository
    assert man.path == ROOT / "weights" / "manifest.json" and man.path.is_file()
    raw = json.loads(man.path.read_text())
    assert isinstance(raw["checkpoints"], list) and raw["schema_version"] == W.MANIFEST_SCHEMA_VERSION
    assert len(man) == len(raw["checkpoints"]) == len(set(man.names()))  # one entry per name
    for e in man:
        _check_entry_schema(e)
    # A checkpoint in weights/ is published only with its entry, and an entry that says the file is in the
    # repository must find it there: the two lists are equal, whatever their length.
    committed = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "weights").glob("*.safetensors"))
    in_repository = [e for e in man if any(src["type"] == "repository" for src in e["sources"])]
    assert sorted(e["file"] for e in in_repository) == committed
    verified = [e["name"] for e in in_repository if man.verify(e)]
    assert len(verified) == len(committed), (verified, committed)


def _edit_embedded_config(path: Path) -> None:
    """Change the config inside the header without updating the content hash (a hand-edited file)."""
    import struct

    from inpaintlib.ckpt_format import META_KEY, canonical

    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = json.loads(header["__metadata__"][META_KEY])
    meta["config"]["width"] = 8
    header["__metadata__"][META_KEY] = canonical(meta)
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data[8 + n:])


@pytest.mark.parametrize("damage", ["edited embedded config", "flipped tensor byte"])
@pytest.mark.parametrize("reader", ["read_sidecar", "Manifest.add_entry"])
def test_metadata_readers_and_the_manifest_refuse_a_checkpoint_that_does_not_verify(tmp_path, damage, reader):
    (tmp_path / "weights").mkdir()
    ck = tmp_path / "weights" / "tiny_ci.safetensors"
    W.save_checkpoint(ck, Tiny(0), {"config": TinyConfig(), "scale": "ci"})
    W.sidecar_path(ck).unlink()  # only the .safetensors travels: nothing else to compare with
    if damage == "edited embedded config":
        _edit_embedded_config(ck)
    else:
        data = bytearray(ck.read_bytes())
        data[-1] ^= 1
        ck.write_bytes(bytes(data))
    man = W.Manifest(tmp_path / "weights" / "manifest.json")
    with pytest.raises(ValueError, match=r"tiny_ci.safetensors is corrupt: its content hash"):
        if reader == "read_sidecar":
            W.read_sidecar(ck)
        else:
            man.add_entry("tiny", chapter="c", model="Tiny", scale="ci", file="weights/tiny_ci.safetensors",
                          sources=_two_sources("weights/tiny_ci.safetensors"))
    assert len(man) == 0 and not man.path.exists()
