"""Frame manifests (CSV): one row per frame, ``file,scan,delay_ps[,index,dataset]``.

A manifest lists the frames of an experiment; :func:`read_manifest` turns it into
:class:`FrameRecord` objects for :func:`uedflow.io.open_frames`, :func:`manifest_rows`
builds one from frame files, :func:`write_manifest` writes it.
"""

from __future__ import annotations

import csv
import os
import re
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from uedflow.errors import ConfigError, FileFormatError
from uedflow.io.frames import FrameRecord, map_in_threads
from uedflow.io.iris import is_iris_file, read_iris
from uedflow.io.readers import frame_info
from uedflow.io.text import read_text

__all__ = ["read_manifest", "write_manifest", "manifest_rows"]


def read_manifest(path: str | Path) -> list[FrameRecord]:
    """Read a frames manifest CSV.

    Required columns ``file,scan,delay_ps``; optional ``index`` (frame within a
    multi-frame file) and ``dataset`` (HDF5 dataset path). Paths are relative to
    the manifest's folder. A static pattern (or static series) needs no delays:
    without ``delay_ps`` every frame is at delay 0, and without ``scan`` each row is
    its own scan (1, 2, ...).

    Raises
    ------
    FileFormatError
        The manifest is missing or unreadable.
    ConfigError
        Missing columns, bad numbers, duplicate (scan, delay) rows, or a row
        pointing to a file that does not exist (the row number is named).
    """
    path = Path(path)
    try:
        text = read_text(path, "manifest")
    except (FileNotFoundError, IsADirectoryError):
        raise FileFormatError(f"manifest {path} does not exist; [experiment] manifest must name a CSV of frames") from None
    reader = csv.DictReader(text.splitlines())
    cols = set(reader.fieldnames or [])
    missing = {"file", "scan", "delay_ps"} - cols
    near = [c for c in cols if "delay" in c.lower()] if "delay_ps" in missing else []
    if near or (missing and missing != {"delay_ps"} and missing != {"scan", "delay_ps"}):
        raise ConfigError(f"manifest {path}: missing column(s) {', '.join(sorted(missing))}"
                          f"{' (found ' + ', '.join(near) + ')' if near else ''}; the header must include "
                          "file,scan,delay_ps (or only file[,scan] for a static pattern)")
    records = []
    seen: dict[tuple[int, float], int] = {}
    real_dirs: dict[str, Path] = {}
    for i, row in enumerate(reader, start=2):
        try:  # no delay_ps column: a static pattern (delay 0), each row its own scan unless a scan column says
            scan = int(row["scan"]) if "scan" in cols else i - 1
            delay = float(row["delay_ps"]) if "delay_ps" in cols else 0.0
            index = int(row["index"]) if row.get("index") not in (None, "") else None
        except (TypeError, ValueError):
            raise ConfigError(f"manifest {path}, line {i}: scan must be an integer and delay_ps a number, got {row}") from None
        if delay != delay or abs(delay) == float("inf"):
            raise ConfigError(f"manifest {path}, line {i}: delay_ps is {delay}; give a finite delay in ps")
        key = (scan, delay)
        if key in seen:
            raise ConfigError(
                f"manifest {path}, line {i}: duplicate scan {scan} at delay {delay} ps (also line {seen[key]}); "
                "each (scan, delay) must appear once"
            )
        seen[key] = i
        file = _frame_path(path.parent, row["file"] or "", real_dirs)
        if file is None:
            file = (path.parent / (row["file"] or "")).resolve()
            if not row["file"] or not file.is_file():
                raise ConfigError(f"manifest {path}, line {i}: frame file {row['file']!r} does not exist (looked for {file})")
        records.append(FrameRecord(file, scan, delay, index, row.get("dataset") or None, i))
    if not records:
        raise ConfigError(f"manifest {path} lists no frames")
    return records


def _frame_path(folder: Path, name: str, real_dirs: dict[str, Path]) -> Path | None:
    """``(folder / name).resolve()`` when that is a regular file (not a symlink), else None.

    Each folder is resolved once (cached in ``real_dirs``), then one ``lstat`` checks the file:
    ``Path.resolve`` would ``lstat`` every component of every row. Symlinks, odd names and
    missing files return None, for the caller's exact (slow) path.
    """
    head, tail = os.path.split(name)
    if tail in ("", ".", ".."):
        return None
    real = real_dirs.get(head)
    if real is None:
        real = real_dirs[head] = Path(os.path.realpath(os.path.join(folder, head)))
    try:
        regular = stat.S_ISREG(os.lstat(os.path.join(real, tail)).st_mode)
    except OSError:
        return None
    return real / tail if regular else None


def write_manifest(path: str | Path, records: list[dict[str, Any]]) -> None:
    """Write a manifest CSV from dicts with keys file, scan, delay_ps[, index, dataset].

    ``file`` values are written as given (make them relative to ``path``'s folder).
    """
    cols = ["file", "scan", "delay_ps"] + [c for c in ("index", "dataset") if any(c in r for r in records)]
    with Path(path).open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        for r in records:
            w.writerow({c: r.get(c, "") for c in cols})


def manifest_rows(files: Sequence[str | Path], folder: str | Path, *, pattern: str | None = None) -> list[dict[str, Any]]:
    r"""Manifest rows (for :func:`write_manifest`) of frame files, sorted by scan and delay.

    Either every file holds one frame and its name gives scan and delay: ``pattern`` is a regular
    expression searched in the file name with the named groups ``delay`` (ps) or ``delay_fs`` (fs),
    and optionally ``scan`` (default 1), e.g. ``r"scan(?P<scan>\d+)_(?P<delay>[-+\d.]+)ps"``; or
    ``files`` is one iris-ued dataset and ``pattern`` is None: its patterns, at its ``time_points``,
    become scan 1. ``file`` values are relative to ``folder`` (where the manifest goes).

    Raises
    ------
    ConfigError
        No files, a bad pattern or one without a delay group, a name it does not match, a delay that is not a
        number, a file with several frames, or two files with the same scan and delay (both named).
    """
    paths = [Path(f) for f in files]
    if not paths:
        raise ConfigError("no frame files given; name them (a shell glob such as raw/*.tif works)")
    folder = Path(folder).resolve()

    def rel(p: Path) -> str:
        return os.path.relpath(p.resolve(), folder)

    if pattern is None:
        if len(paths) == 1 and is_iris_file(paths[0]):
            return [{**r, "file": rel(paths[0])} for r in read_iris(paths[0]).manifest_records()]
        raise ConfigError("give --pattern, a regular expression whose named groups (?P<delay>...) [ps] or "
                          "(?P<delay_fs>...) [fs] and optionally (?P<scan>...) read scan and delay from the file "
                          "names; only one iris-ued file needs none")
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"pattern {pattern!r} is not a regular expression ({exc})") from None
    if not {"delay", "delay_fs"} & set(regex.groupindex):
        raise ConfigError(f"pattern {pattern!r} has no (?P<delay>...) or (?P<delay_fs>...) group")
    n_frames = dict(zip(paths, map_in_threads(lambda p: frame_info(p).n_frames, paths), strict=True))
    rows, seen = [], {}
    for p in paths:
        m = regex.search(p.name)
        if m is None:
            raise ConfigError(f"file name {p.name} does not match the pattern {pattern!r}; fix the pattern or leave "
                              "the file out")
        try:
            delay = float(m["delay"]) if "delay" in regex.groupindex else float(m["delay_fs"]) / 1000.0
            scan = int(m["scan"]) if "scan" in regex.groupindex else 1
        except (TypeError, ValueError):
            raise ConfigError(f"file name {p.name}: the pattern's groups {m.groupdict()} are not a number") from None
        if n_frames[p] != 1:
            raise ConfigError(f"{p} holds {n_frames[p]} frames; with a name pattern each file must hold one (write the "
                              "manifest with an index column for multi-frame files)")
        if (scan, delay) in seen:
            raise ConfigError(f"{seen[scan, delay].name} and {p.name} both give scan {scan}, delay {delay:g} ps; "
                              "fix the pattern or leave one out")
        seen[scan, delay] = p
        rows.append({"file": rel(p), "scan": scan, "delay_ps": delay})
    return sorted(rows, key=lambda r: (r["scan"], r["delay_ps"]))
