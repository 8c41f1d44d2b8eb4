"""Atomic output: write to a temporary sibling, rename into place on success.

An interrupted or failed run never leaves a half-written file or folder under
the final name.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from uedflow.errors import FileFormatError

__all__ = ["atomic_path", "atomic_dir", "provenance", "file_fingerprint"]


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
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
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
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old)
        else:
            os.replace(tmp, path)
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
