"""JupyterLab opens, saves and runs every chapter notebook, on a fresh checkout and after the book is built.

A real ``jupyter lab`` server (this environment's, with jupytext's contents manager, as a user starts it) is started
on 127.0.0.1 with a token, a temporary runtime and config dir and ``--ServerApp.root_dir`` = the checkout, and
driven through its REST API the way JupyterLab's front end drives it:

* every chapter source ``notebooks/<chapter>/NN_name.py`` opens as a notebook (200, ``type == "notebook"``, cells),
  and so does any ``.ipynb`` beside it; after the build, so do the executed notebooks under ``_build/executed/``,
  with their outputs;
* an edit saved (PUT) to a copy of a chapter notebook under ``_build/`` (paired by ``jupytext.toml`` like the
  original) reaches the ``.py``, writes the paired ``.ipynb``, and reads back;
* a kernel started for a chapter notebook (a session, as JupyterLab opens one) runs the notebook's first code cell
  over the kernel's websocket, in the notebook's folder and with this environment's Python.

Why it matters: papermill's executed notebook written beside the ``.py`` made jupytext refuse to open the pair
(``inpaintlib.reproduce`` explains the layout that avoids it); each test also shows that the check detects that
refusal, on a scratch copy. The server is stopped at the end, also on failure, with bounded waits.
"""
from __future__ import annotations

import contextlib
import difflib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[1]

requests = pytest.importorskip("requests")
websocket = pytest.importorskip("websocket")  # websocket-client (the dev extra)
pytest.importorskip("jupyterlab")

START_TIMEOUT = 120  # s: two shared CPU cores; the server usually answers within 10 s
HTTP_TIMEOUT = 60
KERNEL_TIMEOUT = 120


def chapter_sources(root: Path) -> list[str]:
    """Every chapter notebook source, relative to ``root``."""
    found = sorted(p.relative_to(root).as_posix() for p in root.glob("notebooks/*/[0-9][0-9]_*.py"))
    assert found, f"no chapter notebooks under {root / 'notebooks'}"
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running ``jupyter lab`` server: ``get``/``put``/``post``/``delete`` on its REST API."""

    def __init__(self, base: str, token: str, log: Path):
        self.base, self.token, self.log = base, token, log
        self.headers = {"Authorization": f"token {token}"}

    def request(self, method: str, path: str, **kw) -> requests.Response:
        return requests.request(method, self.base + path, headers=self.headers, timeout=HTTP_TIMEOUT, **kw)

    def open_notebook(self, path: str) -> dict:
        """The model JupyterLab asks for when it opens ``path`` as a notebook; asserts it is one, with cells."""
        r = self.request("GET", f"/api/contents/{path}", params={"type": "notebook", "content": 1, "hash": 1})
        assert r.status_code == 200, f"JupyterLab cannot open {path}: HTTP {r.status_code}\n{r.text[:3000]}"
        model = r.json()
        assert model["type"] == "notebook", (path, model["type"])
        cells = model["content"]["cells"]
        assert cells and any(c["cell_type"] == "code" for c in cells), f"{path} opened with no code cells"
        return model

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.is_file() else ""


@contextlib.contextmanager
def jupyter_lab(root: Path, tmp: Path) -> Iterator[Server]:
    """Start ``jupyter lab`` on 127.0.0.1 serving ``root``; stop it (and its kernels) on exit, even on failure."""
    port, token = _free_port(), uuid.uuid4().hex
    for d in ("runtime", "config"):
        (tmp / d).mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp / "runtime"), JUPYTER_CONFIG_DIR=str(tmp / "config"),
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={root}", "--ServerApp.allow_remote_access=False"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # containers and CI machines often run as root
    log = tmp / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    server = Server(f"http://127.0.0.1:{port}", token, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert proc.poll() is None, f"jupyter lab exited with {proc.returncode}:\n{server.tail()}"
            with contextlib.suppress(requests.ConnectionError, requests.Timeout):
                if server.request("GET", "/api/status").status_code == 200:
                    break
            assert time.monotonic() < deadline, f"jupyter lab did not answer in {START_TIMEOUT} s:\n{server.tail()}"
            time.sleep(0.5)
        yield server
    finally:
        _stop(proc, server)


def _stop(proc: subprocess.Popen, server: Server) -> None:
    """Shut the kernels down, then the server: SIGTERM, then SIGKILL to its process group after 20 s."""
    if proc.poll() is None:
        with contextlib.suppress(Exception):
            for k in server.request("GET", "/api/kernels").json():
                server.request("DELETE", f"/api/kernels/{k['id']}")
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _copy_for_editing(root: Path, src: str) -> tuple[Path, str]:
    """A copy of the chapter source ``src`` under ``<root>/_build/`` at ``.../notebooks/<chapter>/``, so that
    ``jupytext.toml`` pairs it exactly like the original; returns (scratch folder, its path for the server)."""
    scratch = root / "_build" / f"jupyterlab-check-{uuid.uuid4().hex[:8]}"
    dst = scratch / src
    dst.parent.mkdir(parents=True)
    shutil.copy2(root / src, dst)
    return scratch, dst.relative_to(root).as_posix()


def check_edit_and_save(server: Server, root: Path, src: str) -> None:
    """Open a copy of ``src``, edit a markdown cell, save (PUT), and read the edit back from both files."""
    scratch, path = _copy_for_editing(root, src)
    try:
        model = server.open_notebook(path)
        content = model["content"]
        marker = f"Edited in the JupyterLab check {uuid.uuid4().hex[:6]}."
        md = next(c for c in content["cells"] if c["cell_type"] == "markdown")
        md["source"] = md["source"] + "\n\n" + marker
        r = server.request("PUT", f"/api/contents/{path}",
                           data=json.dumps({"type": "notebook", "format": "json", "content": content}))
        assert r.status_code == 200, f"saving {path} failed: HTTP {r.status_code}\n{r.text[:3000]}"
        saved = (root / path).read_text()
        assert marker in saved, "the edit did not reach the .py source"
        removed = [ln for ln in difflib.ndiff((root / src).read_text().splitlines(), saved.splitlines())
                   if ln.startswith("- ")]
        assert not removed, f"saving dropped lines of the source: {removed[:5]}"
        assert "papermill" not in saved and "injected-parameters" not in saved
        pair = path.removesuffix(".py") + ".ipynb"
        assert (root / pair).is_file(), "jupytext did not write the paired .ipynb beside the .py"
        for p in (path, pair):
            cells = server.open_notebook(p)["content"]["cells"]
            assert any(marker in c["source"] for c in cells), f"the saved edit is not in {p} when reopened"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _execute(ws, code: str, expressions: dict[str, str]) -> dict:
    """Send an execute_request over the kernel's websocket; return the execute_reply's content."""
    msg_id, session = uuid.uuid4().hex, uuid.uuid4().hex
    ws.send(json.dumps({
        "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test", "session": session,
                   "version": "5.3", "date": ""},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": True, "user_expressions": expressions,
                    "allow_stdin": False, "stop_on_error": True},
    }))
    errors, deadline = [], time.monotonic() + KERNEL_TIMEOUT
    while time.monotonic() < deadline:
        msg = json.loads(ws.recv())
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "error":
            errors.append(f"{msg['content']['ename']}: {msg['content']['evalue']}")
        if msg["msg_type"] == "execute_reply":
            assert msg["content"]["status"] == "ok", f"the cell failed: {errors or msg['content']}"
            return msg["content"]
    raise AssertionError(f"no execute_reply within {KERNEL_TIMEOUT} s")


def check_first_code_cell_runs(server: Server, root: Path, src: str) -> None:
    """Start a kernel for ``src`` as JupyterLab does (a session) and run its first code cell."""
    cell = next(c for c in server.open_notebook(src)["content"]["cells"] if c["cell_type"] == "code")
    r = server.request("POST", "/api/sessions", data=json.dumps(
        {"path": src, "name": Path(src).name, "type": "notebook", "kernel": {"name": "python3"}}))
    assert r.status_code == 201, f"cannot start a kernel for {src}: HTTP {r.status_code}\n{r.text[:2000]}"
    session = r.json()
    ws_url = f"ws://127.0.0.1:{server.base.rsplit(':', 1)[1]}/api/kernels/{session['kernel']['id']}/channels"
    ws = websocket.create_connection(ws_url, header=[f"Authorization: token {server.token}"],
                                     timeout=KERNEL_TIMEOUT)
    try:
        expressions = {"cwd": "__import__('os').getcwd()", "prefix": "__import__('sys').prefix"}
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            expressions["scale"] = "scale"  # every parameters cell defaults to scale = "ci"
        reply = _execute(ws, cell["source"], expressions)
    finally:
        ws.close()
        server.request("DELETE", f"/api/sessions/{session['id']}")
    assert reply["execution_count"] >= 1
    values = {k: v.get("data", {}).get("text/plain", v) for k, v in reply["user_expressions"].items()}
    assert Path(values["cwd"].strip("'")) == (root / src).parent, "the kernel does not run in the notebook's folder"
    assert Path(values["prefix"].strip("'")) == Path(sys.prefix), "the kernel does not run this environment's Python"
    if "scale" in values:
        assert values["scale"] == "'ci'", f"the parameters cell of {src} sets scale = {values['scale']}"


def check_refusal_is_detected(server: Server, root: Path, src: str) -> None:
    """The failure this module guards against is real and caught: a papermill-style executed ``.ipynb`` (an
    injected cell, written after the ``.py``) beside a copy of ``src`` makes jupytext refuse to open the pair."""
    import jupytext

    scratch, path = _copy_for_editing(root, src)
    try:
        nb = jupytext.read(root / path)
        nb.cells.insert(1, jupytext.reads('seed = 1', fmt="py:percent").cells[0])
        nb.cells[1].metadata["tags"] = ["injected-parameters"]
        ipynb = root / (path.removesuffix(".py") + ".ipynb")
        jupytext.write(nb, ipynb, fmt="ipynb")
        t = (root / path).stat().st_mtime
        os.utime(ipynb, (t + 60, t + 60))
        r = server.request("GET", f"/api/contents/{path}", params={"type": "notebook", "content": 1})
        assert r.status_code == 400 and "more recent than" in r.text, (r.status_code, r.text[:500])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def fresh_checkout(dst: Path) -> Path:
    """The repository as a fresh clone of this working tree would have it: tracked and untracked-but-not-ignored
    files only (no ``_build``, no executed notebooks, no ``.venv``)."""
    res = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                         capture_output=True, timeout=60)
    if res.returncode != 0:
        pytest.skip("not a git checkout: cannot make a fresh copy")
    for rel in filter(None, res.stdout.decode().split("\0")):
        src = ROOT / rel
        if src.is_file() and not src.is_symlink():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)
    return dst


def check_checkout(root: Path, tmp: Path, executed: list[Path] = ()) -> None:
    """Every check of this module against the checkout ``root``: open every chapter source (and any ``.ipynb``
    beside it, which must not be a papermill output), open every ``executed`` notebook with its outputs, save an
    edit to a copy, run a first code cell, and show that the refusal of an out-of-date pair would be caught."""
    sources = chapter_sources(root)
    with jupyter_lab(root, tmp) as server:
        for src in sources:
            server.open_notebook(src)
            beside = root / (src.removesuffix(".py") + ".ipynb")
            if beside.is_file():  # JupyterLab's own pair of the .py, if someone saved it: opens too
                meta = json.loads(beside.read_text()).get("metadata", {})
                assert "papermill" not in meta, f"an executed notebook was written beside the source: {beside}"
                server.open_notebook(beside.relative_to(root).as_posix())
        for p in executed:  # the website's pages open in JupyterLab, with their outputs
            cells = server.open_notebook(p.relative_to(root).as_posix())["content"]["cells"]
            assert any(c.get("outputs") for c in cells if c["cell_type"] == "code"), f"{p} has no outputs"
        check_edit_and_save(server, root, sources[0])
        check_first_code_cell_runs(server, root, sources[0])
        check_refusal_is_detected(server, root, sources[0])


def test_jupyterlab_opens_saves_and_runs_every_chapter_notebook_on_a_fresh_checkout(tmp_path):
    root = fresh_checkout(tmp_path / "checkout")
    assert not list(root.glob("notebooks/**/*.ipynb")) and not (root / "_build").exists()
    check_checkout(root, tmp_path / "jupyter")


@pytest.mark.book
def test_jupyterlab_opens_saves_and_runs_every_chapter_notebook_after_the_book_is_built(built_book, tmp_path):
    from inpaintlib.reproduce import toc_notebooks

    executed = [nb.executed(ROOT) for nb in toc_notebooks(ROOT)]
    assert all(p.is_file() for p in executed), "the build left no executed notebook for some pages"
    check_checkout(ROOT, tmp_path / "jupyter", executed)
