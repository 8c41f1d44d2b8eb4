"""Vendor frame files: Gatan DigitalMicrograph (``.dm3``, ``.dm4``), Andor SIF (``.sif``), ESRF EDF and fit2d
masks (``.edf``, ``.msk``, through fabio when it is installed: pyFAI's mask files) and common images (``.png``,
``.bmp``, ``.jpg``, through Pillow: masks drawn in an image editor; colour images are read as grey levels).

Both are read by maintained, permissively licensed readers: DM3/DM4 by ncempy's ``io/dm.py`` (ncempy's
``io`` module is MIT-licensed; the rest of ncempy is GPL, so the module is loaded on its own, without
``import ncempy``) and SIF by ``sif_parser`` (BSD-3). Measured on scikit-ued's ``bismuth.dm3``/``.dm4`` (256² frames):
ncempy 22–26 ms per frame (10 ms from its memory map, which a damaged file leaves
unclosable), rosettasciio 13 ms (GPL-3: tests only); fabio (MIT) and the ``dm4``
package (MIT) cannot read either file.

Gatan's 8-bit *signed* type (DataType 9) is read as unsigned bytes: detector counts are never
negative, and cameras (and converters) that write 8-bit frames store unsigned bytes under that
tag. ``bismuth.dm3`` is such a file: its pixels are 156–251 counts, which a literal reading
turns into −100…−5. A DM file holding a 3D stack gives one frame per slice; the thumbnail that
DigitalMicrograph stores first is skipped. SIF pixels are 32-bit floats, one frame per kinetic
series image (several sub-images are stacked vertically, as Andor's software shows them).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from uedflow.errors import FileFormatError
from uedflow.io.readers import FrameInfo, FrameReader, _check_index, register_reader

__all__: list[str] = []

#: numpy dtype of each Gatan image DataType that holds counts (9, signed bytes, read as unsigned: see above)
_DM_DTYPES = {1: "<i2", 2: "<f4", 6: "u1", 7: "<i4", 9: "u1", 10: "<u2", 11: "<u4", 12: "<f8", 39: "<i8", 40: "<u8"}


@functools.cache
def _ncempy_dm():  # noqa: ANN202
    """ncempy's ``io/dm.py`` (MIT) loaded on its own: ``import ncempy`` would also load its GPL modules."""
    spec = importlib.util.find_spec("ncempy")  # finds the package without importing it
    if spec is None or spec.origin is None:
        raise FileFormatError("reading DM3/DM4 files needs the ncempy package: pip install ncempy")
    dm_spec = importlib.util.spec_from_file_location("uedflow.io._ncempy_dm", Path(spec.origin).parent / "io" / "dm.py")
    module = importlib.util.module_from_spec(dm_spec)
    dm_spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def _dm_image(path: Path) -> Iterator[tuple[object, FrameInfo]]:
    """The open ``ncempy`` file and the :class:`FrameInfo` of its image (the thumbnail skipped)."""
    dm = _ncempy_dm()
    try:  # from the file, not ncempy's memory map: a file it fails to parse leaves views that block closing the map
        fh = dm.fileDM(path, on_memory=False)
    except FileNotFoundError:
        raise FileFormatError(f"DM file {path} does not exist; fix the path") from None
    except Exception as exc:
        raise _dm_error(path, exc) from None
    with fh:
        if fh.numObjects == 0:
            raise FileFormatError(f"DM file {path} holds no image; export the diffraction frame again")
        i = 0 if fh.numObjects == 1 else 1  # ncempy's own rule: a file of several objects starts with the thumbnail
        code = int(fh.dataType[i])
        if code not in _DM_DTYPES:
            raise FileFormatError(f"DM file {path} holds an image of Gatan DataType {code} (complex, RGB or packed), "
                                  "not detector counts; save the frame as a real-valued image")
        if fh.zSize2[i] > 1 or fh.dataShape[i] < 2:
            raise FileFormatError(f"DM file {path} holds a {fh.dataShape[i]}D dataset; frames must be 2D images or a "
                                  "3D stack of them")
        info = FrameInfo(int(fh.zSize[i]), (int(fh.ySize[i]), int(fh.xSize[i])), np.dtype(_DM_DTYPES[code]))
        yield fh, info


def _dm_error(path: Path, exc: Exception) -> FileFormatError:
    return FileFormatError(f"{path} is not a readable DM3/DM4 file ({type(exc).__name__}: {exc}); it may be truncated "
                           "or damaged: copy or export it again from DigitalMicrograph")


def _dm_info(path: Path, dataset: str | None) -> FrameInfo:
    with _dm_image(path) as (_, info):
        return info


def _dm_read(path: Path, index: int, dataset: str | None) -> np.ndarray:
    with _dm_image(path) as (fh, info):
        _check_index(path, index, info.n_frames)
        try:
            data = fh.getSlice(0, index)["data"] if info.n_frames > 1 else fh.getDataset(0)["data"]
        except Exception as exc:
            raise _dm_error(path, exc) from None
        data = np.asarray(data)
        if data.size != info.shape[0] * info.shape[1] or data.dtype.itemsize != info.dtype.itemsize:
            raise FileFormatError(f"DM file {path} is truncated or damaged: frame {index} has {data.size} pixels of "
                                  f"{data.dtype}, its header promises {info.shape} of {info.dtype}; copy it again")
        return data.view(info.dtype).reshape(info.shape)


register_reader(FrameReader("Gatan DigitalMicrograph", (".dm3", ".dm4"), _dm_info, _dm_read))


class _WholeReads(io.BufferedReader):
    """A file whose ``read(n)`` returns n bytes or raises: ``sif_parser`` reads a header word by word until a
    space, and at the end of a truncated file would wait for one forever."""

    def read(self, n: int | None = -1) -> bytes:
        if n is not None and n > 0 and n > os.fstat(self.fileno()).st_size - self.tell():
            raise EOFError("the file ends inside its header")
        return super().read(n)


def _sif_frames(path: Path) -> np.ndarray:
    """The SIF file's frames as a read-only (n, rows, cols) float32 memory map (nothing read yet)."""
    import sif_parser

    try:
        with _WholeReads(io.FileIO(path, "rb")) as fh:
            data, _ = sif_parser.np_open(fh, lazy="memmap")
    except FileNotFoundError:
        raise FileFormatError(f"SIF file {path} does not exist; fix the path") from None
    except Exception as exc:
        raise FileFormatError(f"{path} is not a readable Andor SIF file ({type(exc).__name__}: {exc}); it may be "
                              "truncated or damaged: save it again from Andor Solis") from None
    if data.ndim != 3 or 0 in data.shape:
        raise FileFormatError(f"SIF file {path} holds frames of shape {data.shape[1:]}; it needs at least one image")
    return data


def _sif_info(path: Path, dataset: str | None) -> FrameInfo:
    data = _sif_frames(path)
    return FrameInfo(int(data.shape[0]), (int(data.shape[1]), int(data.shape[2])), np.dtype(np.float32))


def _sif_read(path: Path, index: int, dataset: str | None) -> np.ndarray:
    data = _sif_frames(path)
    _check_index(path, index, len(data))
    return np.array(data[index], dtype=np.float32)


register_reader(FrameReader("Andor SIF", (".sif",), _sif_info, _sif_read))


def _image_read(path: Path, index: int, dataset: str | None) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as img:
        _check_index(path, index, getattr(img, "n_frames", 1))
        img.seek(index)
        return np.asarray(img if img.mode in ("1", "L", "I", "I;16", "F") else img.convert("L"))


def _image_info(path: Path, dataset: str | None) -> FrameInfo:
    from PIL import Image

    with Image.open(path) as img:
        first = _image_read(path, 0, dataset)
        return FrameInfo(int(getattr(img, "n_frames", 1)), first.shape, first.dtype)


register_reader(FrameReader("image (Pillow)", (".png", ".bmp", ".jpg", ".jpeg", ".gif"), _image_info, _image_read))


class _FabioErrors(logging.Handler):
    """fabio's ERROR records, per reading thread: fabio pads a truncated EDF with zeros and only logs that."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: dict[int, list[str]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread in self.seen:
            self.seen[record.thread].append(record.getMessage())

    @contextlib.contextmanager
    def watch(self) -> Iterator[list[str]]:
        me = threading.get_ident()
        self.seen[me] = []
        try:
            yield self.seen[me]
        finally:
            del self.seen[me]


_FABIO_ERRORS = _FabioErrors()


def _fabio_read(path: Path, index: int, dataset: str | None) -> np.ndarray:
    try:
        import fabio
    except ImportError:
        raise FileFormatError(f"reading {path} needs the fabio package: pip install fabio") from None
    if _FABIO_ERRORS not in logging.getLogger("fabio").handlers:
        logging.getLogger("fabio").addHandler(_FABIO_ERRORS)  # (fabio's warnings then stay off the console too)
    with _FABIO_ERRORS.watch() as errors, fabio.open(str(path)) as img:
        _check_index(path, index, img.nframes)
        data = np.asarray((img if index == 0 else img.getframe(index)).data)
    if errors:
        raise FileFormatError(f"{path} is truncated or damaged ({errors[0]}); write it again")
    return data


def _fabio_info(path: Path, dataset: str | None) -> FrameInfo:
    import fabio

    first = _fabio_read(path, 0, dataset)
    with fabio.open(str(path)) as img:
        return FrameInfo(int(img.nframes), first.shape, first.dtype)


register_reader(FrameReader("EDF/fit2d (fabio)", (".edf", ".msk"), _fabio_info, _fabio_read))
