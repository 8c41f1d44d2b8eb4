"""Fault injection: damaged checkpoints, a process killed at each stage boundary, lost cluster workers.

Every case ends in a correct result, or in one clear line and a non-zero exit; the rerun then completes
with output identical to an uninterrupted run.
"""

import json
import multiprocessing
import os
import shutil
import signal

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from _ringsynth import write_experiment
from uedflow.cli import main
from uedflow.config import load_experiment
from uedflow.errors import ClusterError
from uedflow.reduce import reduce_experiment
from uedflow.reduce.checkpoint import checkpoint_folder
from uedflow.reduce.geometry import Geometry

GEOM = Geometry((128, 136), (62.7, 69.6), 1e-4, 0.45, 50.0)
REDUCE = "[reduce]\nn_bins = 96\ns_range = [0.12, 0.5]\nnormalize_window = [0.12, 0.26]\nchunk_frames = 4\n"


def _cli(*args):
    return CliRunner().invoke(main, [*map(str, args), "--quiet"])


def _identical(a_path, b_path):
    """The data of two stage files are identical (provenance attributes such as the creation time aside)."""
    with xr.open_dataset(a_path, engine="h5netcdf") as a, xr.open_dataset(b_path, engine="h5netcdf") as b:
        assert set(a.variables) == set(b.variables)
        for name in a.variables:
            np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=f"{a_path.name}:{name}")


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    """An experiment of 15 small frames in 4 chunks, its uninterrupted reduction and a checkpoint of all chunks."""
    root = tmp_path_factory.mktemp("faults")
    path = write_experiment(root, geometry=GEOM, extra_toml=REDUCE)
    res = _cli("reduce", path, "-o", root / "whole.h5")
    assert res.exit_code == 0, res.output
    reduce_experiment(load_experiment(path), checkpoint=root / "saved", checkpoint_every_s=0.0)
    return path, root / "whole.h5", root / "saved"


def _damage(path, how):
    data = path.read_bytes()
    if how == "truncate":
        path.write_bytes(data[:len(data) // 2])
    elif how == "zero":
        path.write_bytes(b"")
    else:  # garble: flip bytes in the middle, size unchanged
        mid = len(data) // 2
        path.write_bytes(data[:mid] + bytes(b ^ 0x5A for b in data[mid:mid + 64]) + data[mid + 64:])


@pytest.mark.parametrize("how", ["truncate", "zero", "garble"])
@pytest.mark.parametrize("part", ["part-*.npz", "raw-*.npy", "state.json"])
def test_a_damaged_checkpoint_part_is_discarded_named_and_recomputed(experiment, tmp_path, caplog, part, how):
    path, whole, saved = experiment
    out = tmp_path / "r.h5"
    folder = checkpoint_folder(out)
    shutil.copytree(saved, folder)
    victim = sorted(folder.glob(part))[0]
    _damage(victim, how)
    res = _cli("reduce", path, "-o", out)
    assert res.exit_code == 0, res.output
    warned = [r.getMessage() for r in caplog.records if victim.name in r.getMessage()]
    assert len(warned) == 1 and "damaged" in warned[0], caplog.text
    _identical(out, whole)
    assert not folder.exists()


# -- a process killed at each stage boundary (subprocess + signal) --------------------------------------------------

def _hook(where, die):
    """Make the uedflow command line call ``die`` at ``where``: after a stage (``stage:NAME``), after the first
    checkpoint save (``save``), or with a stage file written but not yet renamed into place (``write``)."""
    if where.startswith("stage:"):
        import uedflow.pipeline as target
        name, wrapped = "run_stage", target.run_stage

        def hooked(out_dir, stage, *a, **k):
            rec = wrapped(out_dir, stage, *a, **k)
            if stage == where[6:]:
                die()
            return rec
    elif where == "save":
        from uedflow.reduce.checkpoint import PassCheckpoint as target
        name, wrapped = "save", target.save

        def hooked(self, *a, **k):
            wrapped(self, *a, **k)
            if self.done.any():
                die()
    else:
        target, name, wrapped = xr.Dataset, "to_netcdf", xr.Dataset.to_netcdf

        def hooked(self, *a, **k):
            wrapped(self, *a, **k)
            die()
    setattr(target, name, hooked)


def _killed(tmp_path, where, sig, *args):
    """Run ``uedflow ARGS`` in a child process (forked: imports and compiled kernels are there already) that sends
    itself ``sig`` at ``where``; return (exit code, negative for the signal that ended it; its output)."""
    log = tmp_path / "child-output.txt"

    def child():
        _hook(where, lambda: os.kill(os.getpid(), sig))
        res = _cli(*args)
        log.write_text(res.output)
        os._exit(res.exit_code)

    proc = multiprocessing.get_context("fork").Process(target=child)
    proc.start()
    proc.join(120)
    if proc.exitcode is None:
        proc.kill()
        pytest.fail(f"uedflow {args} hangs")
    return proc.exitcode, log.read_text() if log.exists() else ""


@pytest.mark.parametrize(("where", "sig"), [("save", signal.SIGKILL), ("save", signal.SIGTERM),
                                            ("write", signal.SIGKILL)])
def test_reduce_killed_mid_pass_or_mid_write_reruns_to_the_same_output(experiment, tmp_path, caplog, where, sig):
    path, whole, _ = experiment
    out = tmp_path / "r.h5"
    code, output = _killed(tmp_path, where, sig, "reduce", path, "-o", out, "--checkpoint-every", 1e-9)
    if sig == signal.SIGTERM:  # handled: one clear line, the progress kept
        assert code == 128 + sig and output.strip().splitlines() == [
            "interrupted (SIGTERM): no half-written output was kept"]
    else:
        assert code == -sig
    assert not out.exists()
    stale = list(tmp_path.glob(".r.h5.tmp-*"))
    assert len(stale) == (where == "write")
    res = _cli("reduce", path, "-o", out)
    assert res.exit_code == 0, res.output
    _identical(out, whole)
    assert not list(tmp_path.glob(".r.h5.*")) and not checkpoint_folder(out).exists()
    if stale:
        assert f"removed {stale[0]}" in caplog.text


def test_run_killed_at_each_stage_boundary_resumes_there_with_the_same_output(small_demo, tmp_path):
    """``uedflow run`` SIGKILLed right after the reduce stage, the rerun SIGKILLed right after the analyze stage,
    the next rerun completes: each skips the stages already done, and the outputs equal an uninterrupted run's."""
    toml, whole = small_demo / "small" / "data" / "experiment.toml", small_demo / "small"
    out = tmp_path / "out"
    states = {}
    for stage in ("reduce", "analyze"):
        code, _ = _killed(tmp_path, f"stage:{stage}", signal.SIGKILL, "run", toml, "-o", out)
        assert code == -signal.SIGKILL and not (out / "report.html").exists()
        assert all((out / ".uedflow-state" / f"{s}.json").read_text() == text for s, text in states.items())
        states[stage] = (out / ".uedflow-state" / f"{stage}.json").read_text()
    res = _cli("run", toml, "-o", out)
    assert res.exit_code == 0, res.output
    assert all((out / ".uedflow-state" / f"{s}.json").read_text() == text for s, text in states.items())
    for name in ("reduced.h5", "dynamics.h5"):
        _identical(out / name, whole / name)
    assert (out / "report.html").is_file()


# -- lost workers on a dask.distributed LocalCluster (loopback only) ----------------------------------------------

@pytest.fixture
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, host="127.0.0.1",
                                  protocol="tcp", dashboard_address="127.0.0.1:0") as c:
        yield c


def _kill_workers(cluster, n):
    for name in list(cluster.workers)[:n]:
        worker = cluster.workers.pop(name)
        cluster.sync(worker.close, timeout=5, executor_wait=False)


def test_a_killed_worker_is_replaced_by_the_other_and_the_result_is_identical(experiment, tmp_path, cluster):
    path, whole, _ = experiment
    exp = load_experiment(path)
    killed = []

    def kill_one(done, total):
        if done >= 1 and not killed:
            killed.append(_kill_workers(cluster, 1))

    ds = reduce_experiment(exp, scheduler=cluster.scheduler_address, progress=kill_one)
    assert killed
    with xr.open_dataset(whole, engine="h5netcdf") as ref:
        for name in ("intensity", "intensity_scan", "reference", "frame_weight", "diff_pattern"):
            np.testing.assert_array_equal(ds[name].values, ref[name].values, err_msg=name)


def test_losing_the_last_worker_stops_with_one_line_keeps_progress_and_resumes_locally(experiment, tmp_path,
                                                                                       cluster):
    path, whole, _ = experiment
    exp = load_experiment(path)
    folder = tmp_path / "r.h5.partial"

    def kill_all(done, total):
        if done >= 1:
            _kill_workers(cluster, len(cluster.workers))

    with pytest.raises(ClusterError, match=r"no worker for 1 s.*chunks done, kept in .*r.h5.partial: rerun"):
        reduce_experiment(exp, scheduler=cluster.scheduler_address, progress=kill_all, checkpoint=folder,
                          checkpoint_every_s=3600, worker_wait_s=1.0)
    assert json.loads((folder / "state.json").read_text())["chunks"]
    res = _cli("reduce", path, "-o", tmp_path / "r.h5")  # resumed on local threads
    assert res.exit_code == 0, res.output
    _identical(tmp_path / "r.h5", whole)


def test_a_cluster_without_workers_is_one_clear_line_and_exit_2(experiment, tmp_path, cluster):
    path, _, _ = experiment
    _kill_workers(cluster, 2)
    res = _cli("reduce", path, "-o", tmp_path / "r.h5", "--scheduler", cluster.scheduler_address,
               "--worker-wait", 0.5)
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: the Dask cluster has had no worker for 0.5 s"), lines
    assert "rerun the same command to resume" in lines[0] and not (tmp_path / "r.h5").exists()
