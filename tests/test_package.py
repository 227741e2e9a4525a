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


def test_artifact_dir_is_under_the_book_root(tmp_path, monkeypatch):
    (tmp_path / "_config.yml").write_text("title: t\n")
    (tmp_path / "notebooks" / "x").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "notebooks" / "x")
    monkeypatch.delenv("INPAINTLIB_ARTIFACTS", raising=False)
    d = paths.artifact_dir("msfef", "ci")
    assert d == tmp_path / "_build" / "artifacts" / "ci" / "msfef" and d.is_dir()


def test_unknown_scale_is_rejected():
    with pytest.raises(ValueError, match="scale must be one of"):
        paths.artifact_dir("msfef", "huge")
