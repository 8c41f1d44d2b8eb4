"""``uedflow manifest``: scan and delay read from frame-file names (or an iris-ued file) make a valid manifest."""

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from _ringsynth import write_experiment
from uedflow.cli import main
from uedflow.io import read_manifest
from uedflow.reduce.geometry import Geometry

PATTERN = r"s(?P<scan>\d+)_d(?P<delay>[-+\d.]+)\.npy"


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    folder = tmp_path_factory.mktemp("exp")
    write_experiment(folder, geometry=Geometry((32, 40), (15.5, 19.5), 5e-5, 0.45, 50.0), block=False)
    return folder


def _key(records):
    return sorted((r.file.resolve(), r.scan, r.delay_ps, r.index) for r in records)


def test_manifest_from_file_names_equals_the_written_one(frames, tmp_path):
    out = tmp_path / "elsewhere" / "frames.csv"  # paths become relative to the manifest's own folder
    files = sorted(str(p) for p in frames.glob("*.npy"))
    res = CliRunner().invoke(main, ["manifest", *files, "--pattern", PATTERN, "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "15 frames, scans 1, 2, 3, delays -2 to 5 ps (5 distinct)" in res.output
    assert _key(read_manifest(out)) == _key(read_manifest(frames / "frames.csv"))
    assert out.read_text().splitlines()[1].startswith("../../")


def test_delay_in_femtoseconds_and_default_scan(frames, tmp_path):
    names = {"shot_t-1500fs.npy": -1.5, "shot_t+250fs.npy": 0.25}
    src = sorted(frames.glob("*.npy"))[0]
    for name in names:
        (tmp_path / name).write_bytes(src.read_bytes())
    res = CliRunner().invoke(main, ["manifest", *(str(tmp_path / n) for n in names),
                                    "--pattern", r"_t(?P<delay_fs>[-+\d]+)fs", "-o", str(tmp_path / "m.csv")])
    assert res.exit_code == 0, res.output
    rows = read_manifest(tmp_path / "m.csv")
    assert [(r.file.name, r.scan, r.delay_ps) for r in rows] == [("shot_t-1500fs.npy", 1, -1.5),
                                                                 ("shot_t+250fs.npy", 1, 0.25)]


def test_iris_dataset_needs_no_pattern(tmp_path):
    path = tmp_path / "run.hdf5"
    with h5py.File(path, "w") as fh:
        fh["processed/intensity"] = np.ones((12, 10, 3), np.uint16)
        fh["time_points"] = np.array([-1.0, 0.5, 3.0])
    res = CliRunner().invoke(main, ["manifest", str(path), "-o", str(tmp_path / "m.csv")])
    assert res.exit_code == 0, res.output
    assert [(r.scan, r.delay_ps, r.index) for r in read_manifest(tmp_path / "m.csv")] == [
        (1, -1.0, 0), (1, 0.5, 1), (1, 3.0, 2)]


@pytest.mark.parametrize(("case", "match"), [
    ("no-match", "does not match the pattern"),
    ("duplicate", "both give scan 1, delay -2 ps"),
    ("multi-frame", "holds 2 frames; with a name pattern each file must hold one"),
    ("no-delay-group", "has no (?P<delay>...) or (?P<delay_fs>...) group"),
    ("no-pattern", "give --pattern"),
    ("bad-regex", "is not a regular expression"),
])
def test_bad_names_are_one_clear_error_and_no_file(frames, tmp_path, case, match):
    files = sorted(frames.glob("*.npy"))
    pattern = PATTERN
    if case == "no-match":
        (tmp_path / "notes.npy").write_bytes(files[0].read_bytes())
        files = [*files, tmp_path / "notes.npy"]
    elif case == "duplicate":  # scan 01 and scan 1 are the same scan
        (tmp_path / "s01_d-2.0.npy").write_bytes(files[0].read_bytes())
        files = [*files, tmp_path / "s01_d-2.0.npy"]
    elif case == "multi-frame":
        np.save(tmp_path / "s9_d+1.0.npy", np.ones((2, 32, 40), np.uint16))
        files = [tmp_path / "s9_d+1.0.npy"]
    elif case == "no-delay-group":
        pattern = r"s(?P<scan>\d+)"
    elif case == "bad-regex":
        pattern = r"s(?P<scan>\d+"
    out = tmp_path / "m.csv"
    args = ["manifest", *map(str, files), "-o", str(out)] + ([] if case == "no-pattern" else ["--pattern", pattern])
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2 and match in res.output, res.output
    assert not out.exists()
