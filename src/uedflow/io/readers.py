"""Frame readers that register themselves: TIFF, HDF5 (with hdf5plugin's compression filters) and ``.npy``
(Merlin ``.mib`` and iris-ued files: :mod:`uedflow.io.mib`, :mod:`uedflow.io.iris`).

A reader is a :class:`FrameReader` registered with :func:`register_reader`.
It is chosen by *sniffing* first (a reader may claim a file by looking inside
it, e.g. the iris-ued layout), then by the file suffix. Adding a format means
adding one module that calls :func:`register_reader`; nothing else changes.

Every reader answers two questions about a file: its :class:`FrameInfo`
(number of frames, frame shape, dtype — read from the header only) and the
pixels of frame ``index``.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from uedflow.errors import FileFormatError, InputError

__all__ = ["FrameInfo", "FrameReader", "register_reader", "get_reader", "read_frame", "frame_info", "load_image",
           "h5_open"]


@dataclass(frozen=True)
class FrameInfo:
    """What a frame file holds: ``n_frames`` frames of ``shape`` (rows, cols) and ``dtype``."""

    n_frames: int
    shape: tuple[int, int]
    dtype: np.dtype


@dataclass(frozen=True)
class FrameReader:
    """A registered file format.

    Parameters
    ----------
    name : str
        Format name used in messages.
    suffixes : tuple of str
        Lower-case file suffixes this reader handles (``".tif"``).
    info : callable
        ``info(path, dataset) -> FrameInfo``.
    read : callable
        ``read(path, index, dataset) -> (rows, cols) ndarray``.
    sniff : callable, optional
        ``sniff(path) -> bool``; claims a file regardless of suffix.
    read_into : callable, optional
        ``read_into(path, index, dataset, out) -> bool``: read the frame straight into ``out``
        (rows, cols); returns False when it cannot (e.g. another dtype), then ``read`` is used.
    trust_suffix : bool
        Files with these suffixes are this reader's without asking the sniffers (a sniffer opens and
        reads the file: for a run of thousands of ``.npy`` frames that cost more than their headers).
    """

    name: str
    suffixes: tuple[str, ...]
    info: Callable[[Path, str | None], FrameInfo]
    read: Callable[[Path, int, str | None], np.ndarray]
    sniff: Callable[[Path], bool] | None = None
    read_into: Callable[[Path, int, str | None, np.ndarray], bool] | None = None
    trust_suffix: bool = False


_READERS: list[FrameReader] = []


def register_reader(reader: FrameReader) -> FrameReader:
    """Add ``reader`` to the registry (the newest registration wins on ties)."""
    _READERS.insert(0, reader)
    return reader


def get_reader(path: str | Path) -> FrameReader:
    """The reader for ``path``: one that trusts its suffix (``.npy``), else the first sniffer that claims it, else by suffix.

    Raises
    ------
    FileFormatError
        No reader knows this kind of file.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    for reader in _READERS:
        if reader.trust_suffix and suffix in reader.suffixes:
            return reader
    for reader in _READERS:
        if reader.sniff is not None and _safe_sniff(reader, path):
            return reader
    for reader in _READERS:
        if suffix in reader.suffixes:
            return reader
    known = sorted({s for r in _READERS for s in r.suffixes})
    raise FileFormatError(f"no reader for frame file {path} (suffix {suffix!r}); supported suffixes: {', '.join(known)}")


def _safe_sniff(reader: FrameReader, path: Path) -> bool:
    try:
        return bool(reader.sniff(path))  # type: ignore[misc]
    except Exception:  # a sniffer that cannot open the file simply does not claim it
        return False


def frame_info(path: str | Path, dataset: str | None = None) -> FrameInfo:
    """Header information of a frame file (no pixels are read).

    Raises
    ------
    FileFormatError
        Missing, unreadable or truncated file, or not a 2D/3D image.
    """
    path = Path(path)
    reader = get_reader(path)
    try:
        info = reader.info(path, dataset)
    except FileFormatError:
        raise
    except Exception as exc:
        raise FileFormatError(f"cannot read {reader.name} frame file {path}: {exc}; check that the file is complete") from None
    return info


def read_frame(path: str | Path, index: int | None = None, dataset: str | None = None, *,
               out: np.ndarray | None = None) -> np.ndarray:
    """Read one frame (rows, cols) in its stored dtype.

    Parameters
    ----------
    path : str or Path
        Frame file.
    index : int, optional
        Frame within a multi-frame file (default 0).
    dataset : str, optional
        HDF5 dataset path (default: the only 2D/3D dataset in the file).
    out : (rows, cols) ndarray, optional
        C-contiguous buffer to fill (one read, no copy, where the format allows); returned.

    Raises
    ------
    FileFormatError
        Missing, unreadable or truncated file, or ``index`` out of range.
    InputError
        The frame does not have the shape of ``out``.
    """
    path = Path(path)
    reader = get_reader(path)
    try:
        if out is not None and reader.read_into is not None and reader.read_into(path, int(index or 0), dataset, out):
            return out
        frame = np.asarray(reader.read(path, int(index or 0), dataset))
    except FileFormatError:
        raise
    except Exception as exc:
        raise FileFormatError(
            f"cannot read frame {index or 0} of {reader.name} file {path}: {exc}; the file may be truncated or corrupt"
        ) from None
    if frame.ndim != 2:
        raise FileFormatError(f"frame {index or 0} of {path} has shape {frame.shape}; frames must be 2D images")
    if out is None:
        return frame
    if frame.shape != out.shape:
        raise InputError(f"frame {index or 0} of {path} has shape {frame.shape}, the others {out.shape}; "
                         "all frames must match")
    out[...] = frame
    return out


def load_image(path: str | Path, *, what: str = "image") -> np.ndarray:
    """Read a single 2D image (dark, flat or mask file) as a numpy array."""
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(f"{what} file {path} does not exist; fix the path in [detector]")
    return read_frame(path)


def _check_index(path: Path, index: int, n: int) -> None:
    if not 0 <= index < n:
        raise FileFormatError(f"{path} holds {n} frame(s); frame index {index} is out of range (0..{n - 1})")


def _shape3(path: Path, shape: tuple[int, ...], dtype: np.dtype) -> FrameInfo:
    if len(shape) == 2:
        return FrameInfo(1, (int(shape[0]), int(shape[1])), np.dtype(dtype))
    if len(shape) == 3:
        return FrameInfo(int(shape[0]), (int(shape[1]), int(shape[2])), np.dtype(dtype))
    raise FileFormatError(f"{path} holds an array of shape {shape}; frames must be 2D, or a 3D (frame, row, col) stack")


# --- .npy -------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _parse_npy_header(raw: bytes) -> tuple[tuple[int, ...], np.dtype, int, bool]:
    """(shape, dtype, data offset, fortran order) of the raw header bytes (identical headers are parsed once)."""
    fh = io.BytesIO(raw)
    version = np.lib.format.read_magic(fh)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran, dtype = read(fh)
    return tuple(shape), dtype, fh.tell(), fortran


def _npy_header(path: Path, fh: io.RawIOBase | None = None) -> tuple[tuple[int, ...], np.dtype, int, bool]:
    """(shape, dtype, data offset, fortran order) from the .npy header; checks the file is complete.

    ``fh``, the file already open (unbuffered, at its start), spares a second open.
    """
    if fh is None:
        with path.open("rb", buffering=0) as fh:
            return _npy_header(path, fh)
    raw = fh.read(12)
    if raw[:6] == b"\x93NUMPY" and len(raw) == 12:  # magic, version, header length (2 bytes in v1, else 4)
        end = 10 + int.from_bytes(raw[8:10], "little") if raw[6] == 1 else 12 + int.from_bytes(raw[8:12], "little")
        raw = raw[:end] + fh.read(max(end - 12, 0))
    size = os.fstat(fh.fileno()).st_size
    shape, dtype, offset, fortran = _parse_npy_header(raw)
    need = offset + int(np.prod(shape)) * dtype.itemsize
    if size < need:
        raise FileFormatError(f".npy file {path} is truncated: {size} bytes, the header promises {need}; write it again")
    return shape, dtype, offset, fortran


def _npy_info(path: Path, dataset: str | None) -> FrameInfo:
    shape, dtype, _, _ = _npy_header(path)
    return _shape3(path, shape, dtype)


def _npy_read(path: Path, index: int, dataset: str | None) -> np.ndarray:
    shape, dtype, offset, fortran = _npy_header(path)
    info = _shape3(path, shape, dtype)
    _check_index(path, index, info.n_frames)
    if fortran or dtype.hasobject:
        arr = np.load(path, mmap_mode="r")
        return np.array(arr if arr.ndim == 2 else arr[index])
    count = info.shape[0] * info.shape[1]
    # one read straight into the frame buffer: no memory map, no extra copy
    return np.fromfile(path, dtype=dtype, count=count, offset=offset + index * count * dtype.itemsize).reshape(info.shape)


def _npy_read_into(path: Path, index: int, dataset: str | None, out: np.ndarray) -> bool:
    with path.open("rb", buffering=0) as fh:  # one open; one read from the file straight into the caller's buffer
        shape, dtype, offset, fortran = _npy_header(path, fh)
        info = _shape3(path, shape, dtype)
        _check_index(path, index, info.n_frames)
        if fortran or dtype != out.dtype or info.shape != out.shape or not out.flags.c_contiguous:
            return False
        fh.seek(offset + index * out.nbytes)
        if fh.readinto(memoryview(out).cast("B")) != out.nbytes:
            raise FileFormatError(f".npy file {path} is truncated; write it again")
    return True


register_reader(FrameReader("NumPy", (".npy",), _npy_info, _npy_read, read_into=_npy_read_into, trust_suffix=True))


# --- TIFF -------------------------------------------------------------------------------------------------


class _QuietTifffile(logging.Filter):
    """Drops tifffile's own log records (e.g. "invalid page offset") while a read is under way: a truncated
    file gives one clear FileFormatError instead."""

    def __init__(self) -> None:
        super().__init__()
        self._active = 0
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        return False  # attached only while a read is under way

    @contextlib.contextmanager
    def reading(self):  # noqa: ANN201
        with self._lock:
            if self._active == 0:
                logging.getLogger("tifffile").addFilter(self)
            self._active += 1
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1
                if self._active == 0:
                    logging.getLogger("tifffile").removeFilter(self)


_QUIET_TIFF = _QuietTifffile()


def _tiff_info(path: Path, dataset: str | None) -> FrameInfo:
    import tifffile

    with _QUIET_TIFF.reading(), tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        return _shape3(path, tuple(series.shape), series.dtype)


def _tiff_read(path: Path, index: int, dataset: str | None) -> np.ndarray:
    import tifffile

    with _QUIET_TIFF.reading(), tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        n = 1 if len(series.shape) == 2 else series.shape[0]
        _check_index(path, index, n)
        try:
            if len(tif.pages) >= n:
                return tif.pages[index].asarray()
            return series.asarray()[index]
        except (KeyError, ValueError) as exc:
            if "imagecodecs" not in str(exc):
                raise
            raise FileFormatError(f"TIFF {path} is {tif.pages[0].compression.name}-compressed, which needs the "
                                  "imagecodecs package: pip install 'uedflow[codecs]' (or imagecodecs)") from None


register_reader(FrameReader("TIFF", (".tif", ".tiff"), _tiff_info, _tiff_read))


# --- HDF5 -------------------------------------------------------------------------------------------------


def _h5_dataset(fh, path: Path, dataset: str | None):
    import h5py

    if dataset is not None:
        if dataset not in fh or not isinstance(fh[dataset], h5py.Dataset):
            raise FileFormatError(f"{path} has no dataset {dataset!r}; fix the 'dataset' column of the manifest")
        return fh[dataset]
    found: list[str] = []
    fh.visititems(lambda name, obj: found.append(name) if isinstance(obj, h5py.Dataset) and obj.ndim in (2, 3) else None)
    if len(found) != 1:
        raise FileFormatError(
            f"{path} holds {len(found)} 2D/3D datasets ({', '.join(found[:5])}); name one in a 'dataset' manifest column"
        )
    return fh[found[0]]


def h5_open(path: str | Path):
    """``h5py.File(path, "r")`` with the compression filters of ``hdf5plugin`` (bitshuffle, LZ4, Blosc, Zstd, ...:
    what detectors such as Eiger and Jungfrau write) registered."""
    import h5py
    import hdf5plugin  # noqa: F401  (importing registers the filters)

    return h5py.File(path, "r")


def _h5_info(path: Path, dataset: str | None) -> FrameInfo:
    with h5_open(path) as fh:
        ds = _h5_dataset(fh, path, dataset)
        return _shape3(path, ds.shape, ds.dtype)


def _h5_read(path: Path, index: int, dataset: str | None) -> np.ndarray:
    with h5_open(path) as fh:
        ds = _h5_dataset(fh, path, dataset)
        if ds.ndim == 2:
            _check_index(path, index, 1)
            where = ()
        else:
            _check_index(path, index, ds.shape[0])
            where = index
        try:
            return ds[where]
        except OSError:
            missing = _missing_filters(ds)
            if not missing:
                raise
            raise FileFormatError(f"dataset {ds.name} of {path} is compressed with an HDF5 filter this installation "
                                  f"cannot decode: {', '.join(missing)}; install the plugin that provides it, or save "
                                  "the frames uncompressed or gzip-compressed") from None


def _missing_filters(ds) -> list[str]:
    """'name (id N)' of each filter of HDF5 dataset ``ds`` that no registered plugin decodes."""
    import h5py

    plist = ds.id.get_create_plist()
    out = []
    for i in range(plist.get_nfilters()):
        code, _, _, name = plist.get_filter(i)
        if not h5py.h5z.filter_avail(code):
            out.append(f"{name.decode(errors='replace') or 'unnamed'} (id {code})")
    return out


register_reader(FrameReader("HDF5", (".h5", ".hdf5", ".hdf", ".nxs"), _h5_info, _h5_read))
