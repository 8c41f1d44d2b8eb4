"""Lazy frame stacks built from a manifest: one dask array, reads deferred and checked.

:func:`open_frames` reads only file headers: it checks that every manifest row
points to a readable frame of the same shape. Pixels are read when a chunk of
the dask array is computed, and each frame is checked then (NaN/inf pixels,
all-zero frames), with an error naming the file and manifest line.
"""

from __future__ import annotations

import functools
import os
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from uedflow.errors import FileFormatError, InputError
from uedflow.io.readers import FrameInfo, frame_info, read_frame

T = TypeVar("T")
R = TypeVar("R")

__all__ = ["FrameRecord", "FrameStack", "open_frames", "read_records", "check_frame", "prefetch", "Readahead", "map_in_threads",
           "chunk_bounds"]


@dataclass(frozen=True)
class FrameRecord:
    """One manifest row: a frame file (absolute path), its scan and delay [ps].

    ``index`` selects one frame inside a multi-frame file (multi-page TIFF,
    3D HDF5 dataset or .npy stack); ``dataset`` names the HDF5 dataset.
    """

    file: Path
    scan: int
    delay_ps: float
    index: int | None = None
    dataset: str | None = None
    row: int = 0


def _where(rec: FrameRecord) -> str:
    idx = f", frame {rec.index}" if rec.index is not None else ""
    return f"{rec.file}{idx} (manifest line {rec.row}, scan {rec.scan}, delay {rec.delay_ps} ps)"


def check_frame(frame: np.ndarray, rec: FrameRecord) -> np.ndarray:
    """Raise :class:`InputError` if ``frame`` has NaN/inf pixels or is all zero; return it."""
    if frame.dtype.kind == "f":
        bad = ~np.isfinite(frame)
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise InputError(
                f"frame {_where(rec)} has {int(bad.sum())} NaN/inf pixel(s), first at (row, col) = ({r}, {c}); "
                "replace them (e.g. by 0 and mask them) or drop the frame from the manifest"
            )
    if not (frame[len(frame) // 2].any() or frame.any()):  # a middle row first: one cheap look for most frames
        raise InputError(f"frame {_where(rec)} is all zero; the detector read-out failed — drop it from the manifest")
    return frame


#: files up to this size are announced to the kernel before they are read (see :func:`prefetch`)
_PREFETCH_MAX_BYTES = 64 << 20


def prefetch(records: Sequence[FrameRecord]) -> int:
    """Ask the OS to start reading the files of ``records`` into the page cache, without waiting.

    Reading a chunk's frames then finds them in memory, and the disk works while the
    CPU integrates. Best effort: files that vanished, are larger than 64 MB or whose file
    system refuses the advice are skipped. Returns the bytes announced.
    """
    if not hasattr(os, "posix_fadvise"):
        return 0
    announced = 0
    for path in dict.fromkeys(rec.file for rec in records):
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue  # reported when the frame itself is read
        try:
            size = os.fstat(fd).st_size
            if size <= _PREFETCH_MAX_BYTES:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
                announced += size
        except OSError:
            pass  # a file system without read-ahead advice: the frames are simply read when needed
        finally:
            os.close(fd)
    return announced


class Readahead:
    """Announces the files of the chunks to come (:func:`prefetch`) from a thread of its own.

    It walks the chunks of ``chunk_frames`` records in order and stays at most ``ahead_bytes``
    beyond the chunks already being read (reported with :meth:`started`), so the disk queue stays
    full while the readers integrate, and the page cache holds a bounded amount of not yet read
    frames. Started before the frames are needed (while center, masks and operator are computed),
    it fills the page cache with the first chunks. A blocked announcement (full disk queue) holds
    up this thread only. Use as a context manager and call :meth:`start`; leaving the context stops
    the thread. Chunks in ``skip`` (already reduced, e.g. kept in a checkpoint) are not announced.
    """

    def __init__(self, records: Sequence[FrameRecord], chunk_frames: int, ahead_bytes: int = 512 << 20, *,
                 skip: Sequence[int] = ()) -> None:
        self._records, self._chunk, self._ahead = tuple(records), chunk_frames, ahead_bytes
        self._skip = frozenset(int(c) for c in skip)
        self._next_read, self._stop = 0, False
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="uedflow-readahead", daemon=True)

    def __enter__(self) -> Readahead:
        return self

    def __exit__(self, *exc: object) -> None:
        with self._wake:
            self._stop = True
            self._wake.notify()
        if self._thread.is_alive():
            self._thread.join()

    def start(self) -> None:
        """Start announcing (once; later calls do nothing)."""
        if self._thread.ident is None:
            self._thread.start()

    def started(self, chunk: int) -> None:
        """Chunk number ``chunk`` (0-based) is being read: its files need no announcement any more."""
        with self._wake:
            self._next_read = max(self._next_read, chunk + 1)
            self._wake.notify()

    def _run(self) -> None:
        announced: list[int] = []  # bytes announced per chunk
        n_chunks = -(-len(self._records) // self._chunk)
        for c in range(n_chunks):
            with self._wake:
                while not self._stop and sum(announced[self._next_read:]) >= self._ahead:
                    self._wake.wait()
                if self._stop:
                    return
                # already read (announcing it would only cost a system call per file) or not to be read
                skip = c < self._next_read or c in self._skip
            a = c * self._chunk
            announced.append(0 if skip else prefetch(self._records[a:a + self._chunk]))


def read_records(records: Sequence[FrameRecord], shape: tuple[int, int], dtype: np.dtype | str, *,
                 then: Sequence[FrameRecord] = (), out: np.ndarray | None = None) -> np.ndarray:
    """Read and check the frames of ``records`` into one (n, rows, cols) array of ``dtype``.

    ``then``, the records read next, are prefetched first (:func:`prefetch`), so their
    disk reads overlap with the work done on these frames. ``out``, an (n, rows, cols)
    C-contiguous array of ``dtype``, receives the frames instead of a new array (a reused
    buffer spares the page faults of fresh memory).

    Raises
    ------
    FileFormatError
        A file vanished, is truncated or unreadable (named with its manifest line).
    InputError
        A frame has another shape, NaN/inf pixels, or is all zero.
    """
    prefetch(then)
    if out is None:
        out = np.empty((len(records), *shape), dtype=dtype)
    elif out.shape != (len(records), *shape) or out.dtype != np.dtype(dtype) or not out.flags.c_contiguous:
        raise InputError(f"read_records: out has shape {out.shape} and dtype {out.dtype}, the frames need a "
                         f"C-contiguous {(len(records), *shape)} array of {np.dtype(dtype)}")
    for i, rec in enumerate(records):
        try:
            frame = read_frame(rec.file, rec.index, rec.dataset, out=out[i])
        except FileFormatError as exc:
            raise FileFormatError(f"{exc} [manifest line {rec.row}]") from None
        except InputError as exc:
            raise InputError(f"{exc} [manifest line {rec.row}]") from None
        check_frame(frame, rec)
    return out


@dataclass(frozen=True)
class FrameStack:
    """Frames of one experiment as a lazy (frame, row, col) dask array.

    Attributes
    ----------
    data : dask.array.Array
        (n_frames, rows, cols), chunked along frames; computing a chunk reads its files.
    records : tuple of FrameRecord
        Manifest row of each frame, in manifest order.
    """

    data: object
    records: tuple[FrameRecord, ...]

    @property
    def shape(self) -> tuple[int, int]:
        """Frame shape (rows, cols)."""
        return tuple(self.data.shape[1:])  # type: ignore[attr-defined, return-value]

    @property
    def scan(self) -> np.ndarray:
        """Scan number of each frame."""
        return np.array([r.scan for r in self.records], dtype=int)

    @property
    def delay_ps(self) -> np.ndarray:
        """Delay of each frame [ps]."""
        return np.array([r.delay_ps for r in self.records], dtype=float)

    def to_xarray(self):
        """The stack as an ``xarray.DataArray`` (frame, row, col) with ``scan`` and ``delay`` coordinates."""
        import xarray as xr

        return xr.DataArray(self.data, dims=("frame", "row", "col"),
                            coords={"scan": ("frame", self.scan), "delay": ("frame", self.delay_ps)})

    def by_scan_delay(self):
        """A lazy (scan, delay, row, col) dask array; missing (scan, delay) pairs are NaN frames."""
        import dask.array as da

        scans, delays = np.unique(self.scan), np.unique(self.delay_ps)
        lookup = {(r.scan, r.delay_ps): i for i, r in enumerate(self.records)}
        blank = da.full(self.shape, np.nan, dtype=float)
        rows = []
        for s in scans:
            rows.append(da.stack([self.data[lookup[(s, d)]].astype(float) if (s, d) in lookup else blank for d in delays]))
        return da.stack(rows)


def _probe(rec: FrameRecord) -> FrameInfo:
    try:
        info = frame_info(rec.file, rec.dataset)
    except FileFormatError as exc:
        raise FileFormatError(f"{exc} [manifest line {rec.row}]") from None
    idx = rec.index or 0
    if not 0 <= idx < info.n_frames:
        raise FileFormatError(
            f"manifest line {rec.row}: {rec.file} holds {info.n_frames} frame(s), index {idx} is out of range; fix the index column"
        )
    return info


def map_in_threads(fn: Callable[[T], R], items: Sequence[T], *, threads: int = 2, tasks: int = 64) -> list[R]:
    """``[fn(x) for x in items]`` on ``threads`` threads, in about ``tasks`` batches, in order.

    For header reads: while one thread waits for the disk, the other parses. Two threads, not more:
    the parsing holds the GIL, and more threads queue for it. Measured header check of 20,000 small
    .npy files in the page cache: 1.4 s on one thread, 1.9-2.6 s on two, 3.1-3.9 s on eight; of
    1,000 files from a cold disk, whole reduction (median of 8): 2.22 s, 2.09 s and 2.18 s, and the
    centre/mask step running beside it slowed from 0.13 s to 0.23 s with eight. Batches, rather than
    one task per item, spare the pool's per-task locking (4.5 s of a 5.8 s check of 20,000 files).
    """
    size = max(1, -(-len(items) // tasks))
    batches = [items[i:i + size] for i in range(0, len(items), size)]
    with ThreadPoolExecutor(max(1, min(threads, len(batches)))) as pool:
        return [out for batch in pool.map(lambda b: [fn(x) for x in b], batches) for out in batch]


def chunk_bounds(n_frames: int, chunk_frames: int) -> np.ndarray:
    """First frame of each chunk of ``chunk_frames`` frames, then ``n_frames`` (the stack's chunking)."""
    return np.append(np.arange(0, n_frames, chunk_frames), n_frames)


def open_frames(records: Sequence[FrameRecord], *, chunk_frames: int = 16) -> FrameStack:
    """Build the lazy frame stack of a manifest, checking headers only.

    Parameters
    ----------
    records : sequence of FrameRecord
        Manifest rows (see :func:`uedflow.io.read_manifest`).
    chunk_frames : int
        Frames per dask chunk (one task reads and reduces one chunk).

    Raises
    ------
    FileFormatError
        A file is missing, unreadable, or an index is out of range.
    InputError
        Frames of different shapes (the first odd one is named).
    """
    import dask.array as da

    if not records:
        raise InputError("no frames to open: the manifest is empty")
    if chunk_frames < 1:
        raise InputError(f"chunk_frames must be >= 1, got {chunk_frames}")
    records = tuple(records)
    firsts: dict[tuple[Path, str | None], FrameRecord] = {}
    for rec in records:
        firsts.setdefault((rec.file, rec.dataset), rec)
    # header reads are small random I/O (slow from a cold disk): two threads keep one in flight while one parses
    infos = dict(zip(firsts, map_in_threads(_probe, list(firsts.values())), strict=True))
    first = None
    for rec in records:
        info = infos[(rec.file, rec.dataset)]
        if not 0 <= (rec.index or 0) < info.n_frames:
            _probe(rec)
        if first is None:
            first = (info, rec)
        elif info.shape != first[0].shape:
            raise InputError(
                f"frame {_where(rec)} has shape {info.shape} but {first[1].file} has {first[0].shape}; "
                "all frames must have the same shape"
            )
    assert first is not None
    shape, dtype = first[0].shape, np.result_type(*{i.dtype for i in infos.values()})
    # the graph is written directly: one task per chunk, its records bound in a partial so dask neither hashes
    # nor traverses them; each task prefetches the next chunk's files
    name = f"frames-{uuid.uuid4().hex}"
    bounds = chunk_bounds(len(records), chunk_frames)
    graph = {(name, i, 0, 0): (functools.partial(read_records, records[a:e], shape, dtype,
                                                 then=records[e:e + chunk_frames]),)
             for i, (a, e) in enumerate(zip(bounds[:-1], bounds[1:], strict=True))}
    chunks = (tuple(np.diff(bounds).tolist()), (shape[0],), (shape[1],))
    return FrameStack(da.Array(graph, name, chunks, dtype=dtype), records)
