"""Atomic, durable output: write to a temporary sibling, flush it to disk, rename into place on success.

An interrupted or failed run never leaves a half-written file or folder under
the final name, and a crash of the machine right after the rename cannot either: the
file (every file of a folder) is fsynced before the rename, its folder after it. A
temporary sibling left by a process that was killed (``.NAME.tmp-PID``; SIGKILL, a
node crash) is removed by the next write of ``NAME`` from the same machine.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import logging
import os
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from uedflow.errors import FileFormatError

__all__ = ["atomic_path", "atomic_dir", "provenance", "file_fingerprint", "fsync_path", "remove_stale"]

log = logging.getLogger(__name__)


def fsync_path(path: str | Path) -> None:
    """Flush a file, or a folder's entries (after a rename or a new file in it), to the disk."""
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if Path(path).is_dir() else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    except OSError:  # a file system that cannot sync a folder (some network mounts): the file itself was synced
        pass
    finally:
        os.close(fd)


def _fsync_tree(folder: Path) -> None:
    for sub, _, files in os.walk(folder):
        for name in files:
            fsync_path(Path(sub) / name)
        fsync_path(sub)


def _temporary(path: Path, kind: str = "tmp") -> Path:
    return path.with_name(f".{path.name}.{kind}-{os.getpid()}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale(path: str | Path) -> list[Path]:
    """Remove the temporaries of ``path`` (``.NAME.tmp-PID``, ``.NAME.old-PID``) whose process is dead.

    Left by a process killed while writing ``path`` (SIGKILL, out of memory, a node crash). Those of a
    live process (another run writing the same output) are left alone. Returns the paths removed.
    """
    path = Path(path)
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(?:tmp|old)-(\d+)")
    removed = []
    for other in path.parent.glob(f".{glob.escape(path.name)}.*-*") if path.parent.is_dir() else ():
        match = pattern.fullmatch(other.name)
        if match is None or int(match.group(1)) == os.getpid() or _alive(int(match.group(1))):
            continue
        if other.is_dir():
            shutil.rmtree(other, ignore_errors=True)
        else:
            other.unlink(missing_ok=True)
        log.warning("removed %s, a temporary output left by process %s, which was killed while writing %s",
                    other, match.group(1), path)
        removed.append(other)
    return removed


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` on success.

    On any exception (including KeyboardInterrupt) the temporary file is removed
    and ``path`` is left as it was.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> with atomic_path(out) as tmp:
    ...     _ = tmp.write_text("done")
    >>> out.read_text()
    'done'
    """
    path = Path(path)
    if path.is_dir():
        raise FileFormatError(f"output {path} is a folder; give a file name")
    if not path.parent.exists():
        raise FileFormatError(f"cannot write {path}: folder {path.parent} does not exist")
    remove_stale(path)
    tmp = _temporary(path)
    try:
        yield tmp
        if tmp.exists():
            fsync_path(tmp)
        os.replace(tmp, path)
        fsync_path(path.parent)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | Path, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; move it to ``path`` on success.

    An existing folder at ``path`` is replaced only once the new one is complete
    (and only with ``overwrite=True``); an existing *file* there is an error.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FileFormatError(f"output folder {path} exists and is a file; choose another -o")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise FileFormatError(f"output folder {path} is not empty; choose another -o or pass --overwrite")
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path)
    tmp = _temporary(path)
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        yield tmp
        _fsync_tree(tmp)
        if path.exists():
            old = _temporary(path, "old")
            os.replace(path, old)
            os.replace(tmp, path)
            fsync_path(path.parent)
            shutil.rmtree(old)
        else:
            os.replace(tmp, path)
            fsync_path(path.parent)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def file_fingerprint(path: str | Path, *, block: int = 1 << 20) -> str:
    """SHA-256 of a file's size and its first and last ``block`` bytes.

    Cheap enough for terabyte datasets, and changes when a file is replaced,
    truncated or appended to. Files up to 2 × ``block`` are hashed whole.
    """
    path = Path(path)
    h = hashlib.sha256()
    size = path.stat().st_size
    h.update(str(size).encode())
    with path.open("rb") as fh:
        h.update(fh.read(block))
        if size > 2 * block:
            fh.seek(-block, os.SEEK_END)
        h.update(fh.read(block))
    return h.hexdigest()


def provenance(config: dict[str, Any] | None = None, inputs: list[str | Path] | None = None) -> dict[str, str]:
    """Attributes recording how an output was made.

    Returns
    -------
    dict
        ``uedflow_version``, ``created_utc``, ``config_json`` (the configuration
        as JSON) and ``inputs_json`` (a JSON object file → fingerprint, see
        :func:`file_fingerprint`). All values are strings, ready for HDF5 attrs.
    """
    from uedflow import __version__

    return {
        "uedflow_version": __version__,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "config_json": json.dumps(config or {}, default=str, sort_keys=True),
        "inputs_json": json.dumps({str(p): file_fingerprint(p) for p in (inputs or [])}, sort_keys=True),
    }
