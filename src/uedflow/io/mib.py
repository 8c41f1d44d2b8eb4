"""Quantum Detectors Merlin (Medipix3) ``.mib`` frame files.

A ``.mib`` file is a run of frames, each an ASCII header followed by its pixels. The header is
comma separated and starts ``MQ1,<frame number>,<header bytes>,<chips>,<columns>,<rows>,<depth>,
<layout>,...``; the pixels are big-endian unsigned integers of that depth (``U08``, ``U16``,
``U32``, ``U64``), row by row, already assembled into one image for multi-chip (quad) detectors.
Every frame of a file has the same header size and shape, so frame *i* starts at *i* × (header +
pixel bytes). Rows come in file order (as ``rsciio``'s ``load_mib_data`` gives them; HyperSpy's
file reader shows them upside down), so masks and centres refer to that order. Raw read-out
(``R64``, the chips' counters before the Merlin software unscrambles them) and 1-bit frames are
not decoded: save in counting mode (or convert) instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from uedflow.errors import FileFormatError
from uedflow.io.readers import FrameInfo, FrameReader, register_reader

__all__ = ["MibHeader", "mib_header"]

_DEPTHS = {"U08": ">u1", "U16": ">u2", "U32": ">u4", "U64": ">u8"}
_MAX_HEADER = 4096


@dataclass(frozen=True)
class MibHeader:
    """Layout of a ``.mib`` file: header bytes per frame, image (rows, cols), big-endian pixel dtype, frames."""

    header_bytes: int
    shape: tuple[int, int]
    dtype: np.dtype
    n_frames: int

    @property
    def native(self) -> np.dtype:
        """The pixel dtype in this machine's byte order (frames are returned in it)."""
        return self.dtype.newbyteorder("=")

    @property
    def frame_bytes(self) -> int:
        """Bytes from one frame's header to the next."""
        return self.header_bytes + self.shape[0] * self.shape[1] * self.dtype.itemsize


def mib_header(path: str | Path) -> MibHeader:
    """Read the first frame header of a ``.mib`` file and check the file holds whole frames.

    Raises
    ------
    FileFormatError
        Not a Merlin file, an unsupported pixel depth (raw ``R64``, 1-bit), or a truncated file.
    """
    path = Path(path)
    with path.open("rb") as fh:
        head = fh.read(_MAX_HEADER)
    fields = head.split(b",")
    if not head.startswith(b"MQ1,") or len(fields) < 8:
        raise FileFormatError(f"{path} is not a Merlin .mib file (its frames start with 'MQ1,')")
    try:
        header_bytes, cols, rows = int(fields[2]), int(fields[4]), int(fields[5])
        depth = fields[6].decode("ascii").strip()
    except (ValueError, UnicodeDecodeError):
        raise FileFormatError(f"Merlin file {path} has an unreadable frame header {head[:80]!r}") from None
    if depth not in _DEPTHS:
        raise FileFormatError(f"Merlin file {path} holds {depth} frames; uedflow reads counting-mode depths "
                              f"({', '.join(_DEPTHS)}): save the run in counting mode, or convert raw (R64) "
                              "frames with the Merlin software")
    if not 0 < header_bytes <= _MAX_HEADER or rows <= 0 or cols <= 0:
        raise FileFormatError(f"Merlin file {path} has a bad frame header {head[:80]!r}")
    dtype = np.dtype(_DEPTHS[depth])
    frame_bytes = header_bytes + rows * cols * dtype.itemsize
    size = path.stat().st_size
    n, extra = divmod(size, frame_bytes)
    if extra or n == 0:
        raise FileFormatError(f"Merlin file {path} is truncated: {size} bytes are {n} whole frames of "
                              f"{frame_bytes} bytes and {extra} more; copy it again")
    return MibHeader(header_bytes, (rows, cols), dtype, n)


def _mib_info(path: Path, dataset: str | None) -> FrameInfo:
    h = mib_header(path)
    return FrameInfo(h.n_frames, h.shape, h.native)


def _read(path: Path, h: MibHeader, index: int, out: np.ndarray) -> np.ndarray:
    """Frame ``index`` of the file ``h`` describes, into ``out`` (rows, cols) of ``h.native``."""
    if not 0 <= index < h.n_frames:
        raise FileFormatError(f"Merlin file {path} holds {h.n_frames} frames; index {index} is out of range")
    with path.open("rb", buffering=0) as fh:
        fh.seek(index * h.frame_bytes)
        if fh.read(4) != b"MQ1,":
            raise FileFormatError(f"frame {index} of Merlin file {path} has no 'MQ1' header: the file is corrupt or "
                                  "its frames differ in size")
        fh.seek(index * h.frame_bytes + h.header_bytes)
        if fh.readinto(memoryview(out).cast("B")) != out.nbytes:
            raise FileFormatError(f"Merlin file {path} is truncated; copy it again")
    if not h.dtype.isnative:
        out.byteswap(inplace=True)  # big-endian in the file
    return out


def _mib_read(path: Path, index: int, dataset: str | None) -> np.ndarray:
    h = mib_header(path)
    return _read(path, h, index, np.empty(h.shape, h.native))


def _mib_read_into(path: Path, index: int, dataset: str | None, out: np.ndarray) -> bool:
    h = mib_header(path)
    if out.dtype != h.native or out.shape != h.shape or not out.flags.c_contiguous:
        return False
    _read(path, h, index, out)
    return True


register_reader(FrameReader("Merlin MIB", (".mib",), _mib_info, _mib_read, read_into=_mib_read_into,
                            trust_suffix=True))
