"""uedflow's HDF5 stage files: xarray Datasets written with h5netcdf, checked on read.

Every stage file carries ``format`` and ``format_version`` root attributes
(see docs/formats.md), so a file from another tool or another version is
rejected with a clear message instead of being misread.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np
import xarray as xr

from uedflow.errors import FileFormatError
from uedflow.io.atomic import atomic_path, provenance
from uedflow.io.units import DYNAMICS_UNITS, REDUCED_UNITS, annotate

__all__ = ["write_dataset", "open_dataset", "REDUCED_FORMAT", "REDUCED_VERSION", "DYNAMICS_FORMAT", "DYNAMICS_VERSION"]

#: Format name and version of ``reduced.h5`` (written by ``uedflow reduce``; docs/formats.md).
REDUCED_FORMAT = "uedflow-reduced"
REDUCED_VERSION = 1
#: Format name and version of ``dynamics.h5`` (written by ``uedflow analyze``; docs/formats.md).
DYNAMICS_FORMAT = "uedflow-dynamics"
DYNAMICS_VERSION = 1
#: units and long names of each format's variables (:mod:`uedflow.io.units`)
_UNITS = {REDUCED_FORMAT: REDUCED_UNITS, DYNAMICS_FORMAT: DYNAMICS_UNITS}


def _attr_safe(value: Any) -> Any:
    """HDF5-storable attribute value (None -> "", bools -> int, tuples -> arrays)."""
    if value is None:
        return ""
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, list | tuple):
        return np.asarray(value)
    return value


def _scalar(value: Any) -> Any:
    """A plain Python scalar from an HDF5 attribute (bytes, 1-element arrays)."""
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(()).item()
    return value.decode() if isinstance(value, bytes) else value


def write_dataset(
    ds: xr.Dataset,
    path: str | Path,
    *,
    format: str,
    version: int,
    config: dict[str, Any] | None = None,
    inputs: list[str | Path] | None = None,
) -> Path:
    """Write ``ds`` atomically to HDF5 (NetCDF4 via h5netcdf) with format and provenance attrs.

    Every variable and coordinate gets the ``units`` and ``long_name`` of its format's table in
    :mod:`uedflow.io.units` unless it has its own; one left without is named in a warning.

    Parameters
    ----------
    ds : xarray.Dataset
        The data; its own attrs are kept.
    path : str or Path
        Output file.
    format, version : str, int
        Stage format name (e.g. ``"uedflow-reduced"``) and version.
    config, inputs
        Passed to :func:`uedflow.io.atomic.provenance`.

    Returns
    -------
    Path
        The written file.
    """
    path = Path(path)
    out = annotate(ds.copy(), _UNITS.get(format, {}), where=f"{format} file {path}")
    out.attrs = {k: _attr_safe(v) for k, v in {**ds.attrs, **provenance(config, inputs)}.items()}
    out.attrs["format"] = format
    out.attrs["format_version"] = int(version)
    with atomic_path(path) as tmp:
        out.to_netcdf(tmp, engine="h5netcdf", invalid_netcdf=True)
    return path


#: the command that writes each stage file, named in error messages
_WRITTEN_BY = {REDUCED_FORMAT: "`uedflow reduce EXPERIMENT.toml`", DYNAMICS_FORMAT: "`uedflow analyze REDUCED.h5`"}


def open_dataset(path: str | Path, *, format: str, version: int) -> xr.Dataset:
    """Open a stage file, checking that it is ``format`` at ``version``; loads it into memory.

    Raises
    ------
    FileFormatError
        Missing, truncated or non-HDF5 file, or another format/version; the
        message says which command makes the right file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(f"{path} does not exist")
    try:
        with h5py.File(path, "r") as fh:
            found = fh.attrs.get("format")
            found_version = fh.attrs.get("format_version")
    except OSError as exc:
        raise FileFormatError(f"{path} is not a readable HDF5 file ({exc}); it may be truncated — write it again") from None
    found, found_version = _scalar(found), _scalar(found_version)
    if found != format:
        raise FileFormatError(
            f"{path} is not a {format} file (format attribute: {found!r}); "
            f"make it with {_WRITTEN_BY.get(format, f'the uedflow command that writes {format}')}"
        )
    if found_version is None or int(found_version) != version:
        raise FileFormatError(
            f"{path} is {format} version {found_version}, this uedflow reads version {version}; "
            "re-run the stage that wrote it with this uedflow"
        )
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        return ds.load()
