"""Stage files: round trip through h5py and xarray, atomic writes, format checks."""

import h5py
import numpy as np
import pytest
import xarray as xr

from uedflow.errors import FileFormatError
from uedflow.io import atomic_path, open_dataset, write_dataset


def _ds():
    ds = xr.Dataset({"intensity": (("delay", "s"), np.arange(6.0).reshape(2, 3))},
                    coords={"delay": [-1.0, 1.0], "s": [0.1, 0.2, 0.3]}, attrs={"center_rc": (1.0, 2.0), "note": None})
    for var in ds.variables.values():  # a stage file's variables carry units (write_dataset warns otherwise)
        var.attrs.update(units="1", long_name="test value")
    return ds


def test_roundtrip_and_h5py(tmp_path):
    p = write_dataset(_ds(), tmp_path / "r.h5", format="uedflow-test", version=1, config={"a": 1})
    with h5py.File(p) as fh:
        assert fh.attrs["format"] == "uedflow-test"
        np.testing.assert_array_equal(fh["intensity"][()], np.arange(6.0).reshape(2, 3))
    ds = open_dataset(p, format="uedflow-test", version=1)
    np.testing.assert_array_equal(ds.attrs["center_rc"], [1.0, 2.0])
    assert '"a": 1' in ds.attrs["config_json"]


def test_wrong_format_version_and_truncation(tmp_path):
    p = write_dataset(_ds(), tmp_path / "r.h5", format="uedflow-test", version=1)
    with pytest.raises(FileFormatError, match="not a uedflow-other file"):
        open_dataset(p, format="uedflow-other", version=1)
    with pytest.raises(FileFormatError, match="version 1, this uedflow reads version 2"):
        open_dataset(p, format="uedflow-test", version=2)
    bad = tmp_path / "cut.h5"
    bad.write_bytes(p.read_bytes()[:500])
    with pytest.raises(FileFormatError, match="truncated"):
        open_dataset(bad, format="uedflow-test", version=1)


def test_interrupted_write_leaves_nothing(tmp_path):
    out = tmp_path / "x.h5"
    with pytest.raises(KeyboardInterrupt), atomic_path(out) as tmp:
        tmp.write_text("half")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
