"""Every data variable and coordinate of every stage file carries ``units`` and ``long_name``."""

import numpy as np
import pytest
import xarray as xr

from uedflow.io import write_dataset
from uedflow.io.datasets import REDUCED_FORMAT, REDUCED_VERSION


def test_every_variable_of_every_stage_file_of_a_run_has_units_and_long_name(small_demo):
    files = sorted(small_demo.rglob("*.h5"))
    assert {f.name for f in files} >= {"reduced.h5", "dynamics.h5"}
    walked, bad = 0, []
    for path in files:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            for name, var in ds.variables.items():
                walked += 1
                units, long_name = var.attrs.get("units"), var.attrs.get("long_name")
                if not (isinstance(units, str) and units and isinstance(long_name, str) and long_name):
                    bad.append(f"{path.name}:{name}")
    assert not bad, bad
    assert walked >= 90  # 15 variables of reduced.h5, 75 of dynamics.h5
    with xr.open_dataset(small_demo / "small" / "dynamics.h5", engine="h5netcdf") as ds:
        assert ds.msd.attrs["units"] == "angstrom^2" and ds.tau_ps.attrs["units"] == "ps"
        assert ds.s0.attrs["units"] == "1/angstrom" and ds.strain.attrs["units"] == "1"


def test_a_variable_without_units_is_reported_when_written(tmp_path):
    ds = xr.Dataset({"counts": ("s", np.ones(3)), "new_thing": ("s", np.zeros(3))}, coords={"s": np.arange(3.0)})
    with pytest.warns(UserWarning, match=r"new_thing have no units.*uedflow.io.units"):
        write_dataset(ds, tmp_path / "r.h5", format=REDUCED_FORMAT, version=REDUCED_VERSION)
    ds["new_thing"].attrs.update(units="K", long_name="a temperature")
    write_dataset(ds, tmp_path / "r.h5", format=REDUCED_FORMAT, version=REDUCED_VERSION)  # no warning
    with xr.open_dataset(tmp_path / "r.h5", engine="h5netcdf") as back:
        assert back.counts.attrs["units"] == "1" and back.new_thing.attrs["units"] == "K"
