"""dynamics.h5 with traces.csv and fits.csv beside it (docs/formats.md)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from uedflow.dynamics.analyze import DYNAMICS_FORMAT, DYNAMICS_VERSION
from uedflow.dynamics.crystal_axes import axes_rows, is_axes
from uedflow.dynamics.traces import OBSERVABLES
from uedflow.io import atomic_path, open_dataset, write_dataset

__all__ = ["write_dynamics", "open_dynamics", "TRACES_COLUMNS", "FITS_COLUMNS"]

TRACES_COLUMNS = ("hkl", "family", "delay_ps", "observable", "value", "err")
FITS_COLUMNS = ("hkl", "family", "observable", "amplitude", "amplitude_err", "tau_ps", "tau_err_ps", "t0_ps",
                "t0_err_ps", "chi2_red", "success", "amplitude_boot_err", "tau_boot_err_ps", "t0_boot_err_ps",
                "amplitude_sys", "tau_sys_ps", "note")


def _fmt(v: Any) -> str:
    if isinstance(v, float | np.floating):
        return "nan" if not np.isfinite(v) else f"{float(v):.10g}"
    return str(v)


def _write_csv(path: Path, columns: tuple[str, ...], rows: list[tuple]) -> None:
    with atomic_path(path) as tmp, tmp.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(columns)
        w.writerows([[_fmt(v) for v in row] for row in rows])


def write_dynamics(
    ds: xr.Dataset, out_path: str | Path, *, config: dict[str, Any] | None = None,
    inputs: list[str | Path] | None = None,
) -> Path:
    """Write dynamics.h5 (atomically) and ``traces.csv`` / ``fits.csv`` in the same folder.

    Parameters
    ----------
    ds : xarray.Dataset
        Output of :func:`uedflow.dynamics.analyze` (per ring, or per axis for a non-cubic crystal:
        :mod:`uedflow.dynamics.crystal_axes`).
    out_path : str or Path
        The HDF5 file, e.g. ``out/dynamics.h5``.
    config, inputs
        Provenance (see :func:`uedflow.io.provenance`).

    Returns
    -------
    Path
        The HDF5 file.
    """
    out_path = Path(out_path)
    write_dataset(ds, out_path, format=DYNAMICS_FORMAT, version=DYNAMICS_VERSION, config=config, inputs=inputs)
    if is_axes(ds):
        traces, fits = axes_rows(ds)
        _write_csv(out_path.with_name("traces.csv"), TRACES_COLUMNS, traces)
        _write_csv(out_path.with_name("fits.csv"), FITS_COLUMNS, fits)
        return out_path
    hkl = [str(h) for h in ds["hkl"].values]
    fam = [str(f) for f in ds["family"].values]
    delay = ds["delay"].values
    val = {obs: ds[obs].values for obs in OBSERVABLES}
    err = {obs: ds[f"{obs}_err"].values for obs in OBSERVABLES}
    rows = [
        (hkl[i], fam[i], float(delay[d]), obs, float(val[obs][i, d]), float(err[obs][i, d]))
        for i in range(len(hkl)) for obs in OBSERVABLES for d in range(delay.size)
    ]
    _write_csv(out_path.with_name("traces.csv"), TRACES_COLUMNS, rows)
    obs_list = [str(o) for o in ds["observable"].values]
    nan = np.full((len(hkl), len(obs_list)), np.nan)
    cols = {c: (ds[c].values if c in ds else nan) for c in FITS_COLUMNS[3:] if c != "success"}
    success = ds["fit_success"].values
    rows = [
        (hkl[i], fam[i], obs, *(float(cols[c][i, j]) for c in FITS_COLUMNS[3:10]), int(success[i, j]),
         *(float(cols[c][i, j]) for c in FITS_COLUMNS[11:16]), "" if success[i, j] else "kinetic fit failed or rejected")
        for i in range(len(hkl)) for j, obs in enumerate(obs_list)
    ]
    # rings that could not be fitted before time zero: one row each, with the reason
    rows += [(lab, "", "", *[float("nan")] * 7, 0, *[float("nan")] * 5, f"left out: {why}")
             for lab, why in json.loads(ds.attrs.get("left_out_json", "{}")).items()]
    _write_csv(out_path.with_name("fits.csv"), FITS_COLUMNS, rows)
    return out_path


def open_dynamics(path: str | Path) -> xr.Dataset:
    """Open a dynamics.h5 file (checks format ``uedflow-dynamics`` version 1; loads into memory).

    Raises
    ------
    FileFormatError
        Missing, unreadable, or another format or version.
    """
    return open_dataset(path, format=DYNAMICS_FORMAT, version=DYNAMICS_VERSION)
