"""Live mode: frames land in a folder from a background thread while `watch` runs.

At the end the watched reduced.h5 must equal the batch `uedflow reduce` of the same frames, every
frame must be in a written reduction within 5 s of landing, and a restarted watch continues
(reduces nothing again) instead of starting over.
"""

import os
import shutil
import threading
import time

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from uedflow.cli import main
from uedflow.config import load_experiment
from uedflow.dynamics import open_dynamics
from uedflow.io import manifest_rows, read_manifest, write_manifest
from uedflow.reduce import open_reduced, reduce_experiment
from uedflow.reduce.watch import watch_experiment
from uedflow.simulate import simulate_experiment

PATTERN = r"scan(?P<scan>\d+)_(?P<delay>[-+\d.]+)ps\.npy$"
PROVENANCE = {"created_utc", "config_json", "inputs_json"}


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    """The small virtual experiment, split into one file per frame (in acquisition order) to be landed."""
    sim = tmp_path_factory.mktemp("sim")
    simulate_experiment("small", sim, seed=1)
    # a fresh environment compiles the numba kernels on the first reduction (~8 s, then cached on disk); a
    # beamtime's watch has done so long before the frames of interest land
    reduce_experiment(load_experiment(sim / "experiment.toml"))
    records = read_manifest(sim / "frames.csv")
    stacks = {}
    out = []
    for r in records:
        stack = stacks.setdefault(r.file, np.load(r.file))
        out.append((f"scan{r.scan}_{r.delay_ps:g}ps.npy", stack[r.index]))
    return sim, out


def _landing(sim, folder):
    folder.mkdir()
    for name in ("experiment.toml", "dark.npy", "mask.npy"):
        shutil.copy(sim / name, folder / name)
    return folder / "experiment.toml"


def test_watch_equals_batch_and_updates_within_5_s(frames, tmp_path):
    sim, stack = frames
    exp = _landing(sim, tmp_path / "data")
    landed: list[float] = []

    def acquire():
        for name, frame in stack:
            time.sleep(0.4)
            np.save(tmp_path / "data" / name, frame)  # written in place: the watcher must skip it until complete
            landed.append(time.monotonic())

    updates = []
    writer = threading.Thread(target=acquire)
    writer.start()
    try:
        watch_experiment(exp, tmp_path / "live", pattern=PATTERN, every_frames=1, poll_s=0.2, idle_stop_s=3.0,
                         analyze=False, on_update=lambda u: updates.append((time.monotonic(), u)))
    finally:
        writer.join()
    assert len(landed) == len(stack) == 20
    written = [(t, u.n_frames) for t, u in updates if u.reduced is not None]
    assert written and written[-1][1] == 20
    first = min(n for _, n in written)  # the frames before it cannot be reduced alone (no delay after time zero)
    late = []
    for k in range(first - 1, len(landed)):
        t_update = next(t for t, n in written if n >= k + 1)
        late.append(t_update - landed[k])
    print(f"watch: {len(written)} updates; frame-to-update latency max {max(late):.2f} s, median "
          f"{np.median(late):.2f} s")
    assert max(late) < 5.0

    write_manifest(tmp_path / "data" / "frames.csv",
                   manifest_rows(sorted((tmp_path / "data").glob("scan*.npy")), tmp_path / "data", pattern=PATTERN))
    res = CliRunner().invoke(main, ["reduce", str(exp), "-o", str(tmp_path / "batch.h5"), "-q"])
    assert res.exit_code == 0, res.output
    live, batch = open_reduced(tmp_path / "live" / "reduced.h5"), open_reduced(tmp_path / "batch.h5")
    xr.testing.assert_identical(live.drop_attrs(), batch.drop_attrs())
    for key in set(batch.attrs) - PROVENANCE:
        np.testing.assert_array_equal(live.attrs[key], batch.attrs[key], err_msg=key)

    # stopped and restarted: nothing new, so nothing is reduced again and the output stays
    mtime = os.stat(tmp_path / "live" / "reduced.h5").st_mtime_ns
    assert watch_experiment(exp, tmp_path / "live", pattern=PATTERN, poll_s=0.1, idle_stop_s=0.5, analyze=False) == []
    assert os.stat(tmp_path / "live" / "reduced.h5").st_mtime_ns == mtime


def test_watch_manifest_rows_of_frames_still_to_come(frames, tmp_path):
    """Manifest mode: rows whose frame is not on disk yet are left for later; an update adds them."""
    sim, stack = frames
    exp = _landing(sim, tmp_path / "data")
    rows = [{"file": name, "scan": int(name[4]), "delay_ps": float(name.split("_")[1][:-6])} for name, _ in stack]
    write_manifest(tmp_path / "data" / "frames.csv", rows)
    for name, frame in stack[:12]:
        np.save(tmp_path / "data" / name, frame)
    first = watch_experiment(exp, tmp_path / "live", poll_s=0.1, idle_stop_s=0.3, analyze=True)
    assert [(u.n_frames, u.message[:8]) for u in first] == [(12, "reduced"), (12, "analysed")]
    assert int(np.isfinite(open_reduced(first[0].reduced)["intensity_scan"][:, :, 0]).sum()) == 12
    for name, frame in stack[12:]:
        np.save(tmp_path / "data" / name, frame)
    again = watch_experiment(exp, tmp_path / "live", poll_s=0.1, idle_stop_s=0.3, analyze=True)
    assert [(u.n_frames, u.message[:8]) for u in again] == [(20, "reduced"), (20, "analysed")]
    assert int(np.isfinite(open_reduced(again[0].reduced)["intensity_scan"][:, :, 0]).sum()) == 20
    assert open_dynamics(again[-1].dynamics).sizes["delay"] == open_reduced(again[0].reduced).sizes["delay"]
    page = (tmp_path / "live" / "explore.html").read_text()
    assert "data-refresh-s=5" in page and "(20 frames)" in page


def test_watch_frames_appended_to_one_hdf5_file(frames, tmp_path):
    """The detector appends each frame to one HDF5 dataset; the manifest names (file, index) ahead of time."""
    import h5py

    sim, stack = frames
    exp = _landing(sim, tmp_path / "data")
    h5 = tmp_path / "data" / "run.h5"
    rows = [{"file": "run.h5", "scan": int(name[4]), "delay_ps": float(name.split("_")[1][:-6]), "index": k,
             "dataset": "/entry/data"} for k, (name, _) in enumerate(stack)]
    write_manifest(tmp_path / "data" / "frames.csv", rows)
    shape = stack[0][1].shape

    def append(k: int, frame: np.ndarray) -> None:
        with h5py.File(h5, "a") as f:  # opened, grown by one frame, closed
            d = f.require_dataset("/entry/data", shape=(0, *shape), maxshape=(None, *shape), dtype=frame.dtype,
                                  chunks=(1, *shape)) if "/entry/data" not in f else f["/entry/data"]
            d.resize(k + 1, axis=0)
            d[k] = frame

    def acquire():
        for k, (_, frame) in enumerate(stack):
            time.sleep(0.3)
            for _ in range(200):
                try:  # in one process HDF5 refuses to open a file for writing while the watcher reads it
                    append(k, frame)
                    break
                except OSError:
                    time.sleep(0.05)

    writer = threading.Thread(target=acquire)
    writer.start()
    try:
        updates = watch_experiment(exp, tmp_path / "live", every_frames=5, poll_s=0.2, idle_stop_s=2.0, analyze=False)
    finally:
        writer.join()
    assert [u.n_frames for u in updates if u.reduced is not None][-1] == 20
    res = CliRunner().invoke(main, ["reduce", str(exp), "-o", str(tmp_path / "batch.h5"), "-q"])
    assert res.exit_code == 0, res.output
    xr.testing.assert_identical(open_reduced(tmp_path / "live" / "reduced.h5").drop_attrs(),
                                open_reduced(tmp_path / "batch.h5").drop_attrs())


def test_watch_cli(frames, tmp_path):
    sim, stack = frames
    exp = _landing(sim, tmp_path / "data")
    for name, frame in stack:
        np.save(tmp_path / "data" / name, frame)
    out = tmp_path / "live"
    run = CliRunner().invoke
    res = run(main, ["watch", str(exp), "-o", str(out), "--pattern", PATTERN, "--stop-idle", "0.3", "--no-analyze"])
    assert res.exit_code == 0, res.output
    assert f"20 frames: reduced -> {out / 'explore.html'}" in res.output
    res = run(main, ["watch", str(exp), "-o", str(out), "--pattern", "scan(", "--stop-idle", "0"])
    assert res.exit_code == 2 and "is not a regular expression" in res.output and "Traceback" not in res.output
