"""iris-ued HDF5 datasets: reader registration and conversion to uedflow frames.

An iris-ued ``DiffractionDataset`` stores the time-resolved patterns as
``/processed/intensity`` with shape (rows, cols, N), the delays as
``/time_points`` [ps], the valid-pixel mask as ``/valid_mask`` (True = valid)
and experimental parameters as root attributes (``energy`` [keV],
``camera_length`` [m], ``pixel_width`` [m], ``center`` (row, col) [px], ...).

Importing this module registers a reader that claims such files by looking
inside them, so a manifest row ``file=run.hdf5, index=k`` reads the k-th
pattern whatever the suffix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from uedflow.errors import FileFormatError
from uedflow.io.readers import FrameInfo, FrameReader, h5_open, register_reader

__all__ = ["IrisDataset", "read_iris", "is_iris_file"]

_INTENSITY = "processed/intensity"

#: iris-ued root attribute -> uedflow name (with unit)
_ATTRS = {
    "energy": "energy_keV",
    "camera_length": "camera_length_m",
    "pixel_width": "pixel_size_m",
    "center": "center_rc",
    "fluence": "fluence_mJ_cm2",
    "temperature": "temperature_K",
    "pump_wavelength": "pump_wavelength_nm",
    "time_zero_shift": "time_zero_shift_ps",
}


_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _has_hdf5_signature(path: Path) -> bool:
    """The 8-byte HDF5 signature at offset 0 or after a user block (512, 1024, 2048... bytes), read cheaply."""
    try:
        with open(path, "rb") as fh:
            offset = 0
            while True:
                fh.seek(offset)
                head = fh.read(8)
                if head == _HDF5_SIGNATURE:
                    return True
                if len(head) < 8 or offset >= 1 << 20:
                    return False
                offset = 512 if offset == 0 else 2 * offset
    except OSError:
        return False


def is_iris_file(path: str | Path) -> bool:
    """True when ``path`` is an HDF5 file with the iris-ued ``/processed/intensity`` layout."""
    path = Path(path)
    if not _has_hdf5_signature(path):
        return False
    with h5_open(path) as fh:
        return _INTENSITY in fh and fh[_INTENSITY].ndim == 3


def _iris_info(path: Path, dataset: str | None) -> FrameInfo:
    with h5_open(path) as fh:
        rows, cols, n = fh[_INTENSITY].shape
        return FrameInfo(int(n), (int(rows), int(cols)), np.dtype(fh[_INTENSITY].dtype))


def _iris_read(path: Path, index: int, dataset: str | None) -> np.ndarray:
    with h5_open(path) as fh:
        ds = fh[_INTENSITY]
        if not 0 <= index < ds.shape[2]:
            raise FileFormatError(f"iris-ued file {path} holds {ds.shape[2]} patterns; index {index} is out of range")
        return ds[:, :, index]


register_reader(FrameReader("iris-ued", (), _iris_info, _iris_read, sniff=is_iris_file))


@dataclass(frozen=True)
class IrisDataset:
    """An iris-ued dataset as uedflow frames and metadata.

    Attributes
    ----------
    frames : dask.array.Array
        (N, rows, cols) patterns, read lazily one per task.
    delay_ps : (N,) ndarray
        Pump–probe delay of each pattern [ps].
    valid_mask : (rows, cols) ndarray of bool
        True = valid pixel (all True if the file has none).
    metadata : dict
        Root attributes, known ones renamed with units (``energy_keV``,
        ``camera_length_m``, ``pixel_size_m``, ``center_rc``...), others as stored.
    """

    path: Path
    frames: Any
    delay_ps: np.ndarray
    valid_mask: np.ndarray
    metadata: dict[str, Any] = field(default_factory=dict)

    def manifest_records(self) -> list[dict[str, Any]]:
        """Manifest rows (file, scan, delay_ps, index) that read this dataset's patterns as scan 1."""
        return [{"file": self.path.name, "scan": 1, "delay_ps": float(t), "index": i} for i, t in enumerate(self.delay_ps)]


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def read_iris(path: str | Path) -> IrisDataset:
    """Open an iris-ued HDF5 dataset as lazy frames plus delays, mask and metadata.

    Raises
    ------
    FileFormatError
        The file is missing or lacks ``/processed/intensity`` or ``/time_points``,
        or their lengths differ.
    """
    import dask
    import dask.array as da

    path = Path(path)
    if not path.is_file():
        raise FileFormatError(f"iris-ued file {path} does not exist")
    if not is_iris_file(path):
        raise FileFormatError(f"{path} is not an iris-ued dataset (no 3D /{_INTENSITY}); export it from iris again")
    with h5_open(path) as fh:
        if "time_points" not in fh:
            raise FileFormatError(f"iris-ued file {path} has no /time_points; it cannot be used without delays")
        delays = np.asarray(fh["time_points"][()], dtype=float).ravel()
        rows, cols, n = fh[_INTENSITY].shape
        dtype = fh[_INTENSITY].dtype
        mask = np.asarray(fh["valid_mask"][()], dtype=bool) if "valid_mask" in fh else np.ones((rows, cols), bool)
        meta = {_ATTRS.get(k, k): _plain(v) for k, v in fh.attrs.items()}
    if len(delays) != n:
        raise FileFormatError(f"iris-ued file {path}: {len(delays)} time points but {n} patterns")
    read = dask.delayed(_iris_read, pure=True)
    frames = da.stack([da.from_delayed(read(path, i, None), (rows, cols), dtype) for i in range(n)]) if n else None
    return IrisDataset(path, frames, delays, mask, meta)
