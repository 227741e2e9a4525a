"""Files: the one owner of hashing, atomic writes and the git commit.

Every module that hashes a file (checkpoints, mask test sets, datasets, the pipeline's cache), writes a file that
must never be seen half-written, or stamps an output with the commit that made it, uses these functions.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["sha256_file", "sha256_bytes", "git_commit", "atomic_write_bytes", "atomic_write_text", "write_temp",
           "unlink_quiet", "fsync_dir", "stale_temps", "folder_lock"]

#: A temp file of a writer still alive on this machine is left alone unless it is older than this (its pid reused)
STALE_TEMP_S = 24 * 3600


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def git_commit(cwd: str | os.PathLike | None = None) -> str:
    """``git rev-parse HEAD`` of the repository holding ``cwd`` (default: this package), or ``"unknown"``."""
    cwd = Path(cwd) if cwd is not None else Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = out.stdout.strip()
    if out.returncode != 0 or len(commit) < 7:
        return "unknown"
    return commit


def fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_temp(folder: Path, stem: str, data: bytes) -> Path:
    """Write ``data`` to a new temporary file in ``folder``, flush and fsync it; remove it on failure.

    The file is ``.{stem}.{pid}-{random}.tmp``: unique per writer, and it names the process writing it, so that
    :func:`stale_temps` never takes the temp file of a save still running in another process for a leftover."""
    fd, tmp = tempfile.mkstemp(prefix=f".{stem}.{os.getpid()}-", suffix=".tmp", dir=folder)
    try:
        os.fchmod(fd, 0o666 & ~umask())  # mkstemp makes 0600 files; give the usual permissions
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        unlink_quiet(Path(tmp))
        raise
    return Path(tmp)


def _process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (a zombie counts as dead; unknown counts as alive)."""
    if pid == os.getpid():
        return True
    if os.name != "posix":
        return True  # no cheap test: such temp files are left to the age limit
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: alive, another user's
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[-1].split()[0] != b"Z"  # killed but not yet reaped: gone
    except (OSError, IndexError):
        return True


def stale_temps(folder: Path, stem: str) -> list[Path]:
    """The temp files of ``stem`` in ``folder`` (from :func:`write_temp`) that no running writer owns: those of a
    process that no longer runs on this machine, older than :data:`STALE_TEMP_S`, or named the way
    ``mkstemp`` alone named them (written before the writer's pid was part of the name). The temp files of a
    save running right now in another process are not among them."""
    found = []
    for p in folder.glob(f".{_glob_escape(stem)}.*.tmp"):
        middle = p.name[len(stem) + 2:-len(".tmp")]
        m = re.fullmatch(r"(\d+)-[a-z0-9_]+", middle)
        if m is None:
            if re.fullmatch(r"[a-z0-9_]{8}", middle):  # an older writer's name: no owner to ask
                found.append(p)
            continue  # the temp file of another checkpoint whose name starts with this one's
        try:
            old = time.time() - p.stat().st_mtime > STALE_TEMP_S
        except FileNotFoundError:  # its writer just renamed it
            continue
        if old or not _process_alive(int(m.group(1))):
            found.append(p)
    return found


def _glob_escape(name: str) -> str:
    """``name`` with the glob metacharacters ``*?[`` taken literally."""
    return re.sub(r"([*?[])", r"[\1]", name)


@contextlib.contextmanager
def folder_lock(folder: Path):
    """An exclusive advisory lock (``flock``) on ``folder`` while the block runs, so that the few renames of one
    save are not interleaved with another process's. Where the lock is not available (no ``fcntl``, a file system
    that refuses ``flock`` on a folder) the block runs unlocked."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:
            pass
        yield
    finally:
        os.close(fd)  # releases the lock


def umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def unlink_quiet(p: Path) -> None:
    try:
        p.unlink()
    except FileNotFoundError:
        pass


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, fsync, ``os.replace``)."""
    path = Path(path)
    tmp = write_temp(path.parent, path.name, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        unlink_quiet(tmp)
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))
