"""`import inpaintlib` and every module work without torchvision and lpips (as on the CI machine)."""
import subprocess
import sys
from pathlib import Path

import pytest

from inpaintlib import paths

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(
    ".".join(p.relative_to(ROOT).with_suffix("").parts)
    for p in (ROOT / "inpaintlib").rglob("*.py")
    if p.name != "__main__.py"
)


def test_every_module_imports_with_torchvision_and_lpips_unimportable():
    # Setting sys.modules[name] = None makes `import name` raise ImportError, whatever is installed.
    code = (
        "import sys, importlib\n"
        "for name in ('torchvision', 'lpips', 'pytorch_fid'):\n"
        "    sys.modules[name] = None\n"
        f"for m in {MODULES!r}:\n"
        "    importlib.import_module(m.removesuffix('.__init__'))\n"
        "print('ok')\n"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "ok" in res.stdout


def test_artifact_dir_is_under_the_checkout_whatever_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("INPAINTLIB_ARTIFACTS", raising=False)
    monkeypatch.delenv("INPAINTLIB_ROOT", raising=False)
    d = paths.artifact_dir("msfef", "ci", create=False)
    assert d == ROOT / "_build" / "artifacts" / "ci" / "msfef"
    assert list(tmp_path.iterdir()) == []  # looking a path up creates nothing in the working directory


def test_artifact_dir_follows_inpaintlib_root_and_creates_only_when_asked(tmp_path, monkeypatch):
    monkeypatch.setenv("INPAINTLIB_ROOT", str(tmp_path))
    monkeypatch.delenv("INPAINTLIB_ARTIFACTS", raising=False)
    d = paths.artifact_dir("msfef", "ci", create=False)
    assert d == tmp_path / "_build" / "artifacts" / "ci" / "msfef" and not d.exists()
    assert paths.artifact_dir("msfef", "ci").is_dir()


def test_unknown_scale_is_rejected():
    with pytest.raises(ValueError, match="scale must be one of"):
        paths.artifact_dir("msfef", "huge")
