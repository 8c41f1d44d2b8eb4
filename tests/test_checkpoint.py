"""An interrupted reduction keeps its finished chunks and resumes from them, to the same result."""

import json
import os
import signal
import threading

import numpy as np
import pytest
from click.testing import CliRunner

import uedflow.io.frames as frames_module
from _ringsynth import write_experiment
from uedflow.cli import main
from uedflow.config import load_experiment
from uedflow.errors import InputError
from uedflow.reduce import open_reduced, reduce_experiment
from uedflow.reduce.checkpoint import checkpoint_folder
from uedflow.reduce.geometry import Geometry

GEOM = Geometry((256, 272), (125.4, 139.3), 5e-5, 0.45, 50.0)
REDUCE = "[reduce]\nn_bins = 160\ns_range = [0.12, 0.5]\nnormalize_window = [0.12, 0.26]\nchunk_frames = 4\n"
CHUNK = 4  # 15 frames: chunks 0-3, the last of 3 frames


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    path = write_experiment(tmp_path_factory.mktemp("exp"), geometry=GEOM, extra_toml=REDUCE)
    exp = load_experiment(path)
    return path, exp, reduce_experiment(exp)


def _pass_reads(monkeypatch, *, stop_from_frame: int | None = None, stop=None) -> list[int]:
    """Record the manifest rows the pass reads (its reads fill a reused buffer: ``out=``); from frame
    ``stop_from_frame`` on, a read calls ``stop`` (default: raises KeyboardInterrupt, as Ctrl-C would)."""
    read, rows = frames_module.read_records, []

    def interrupt():
        raise KeyboardInterrupt

    def spy(records, *args, **kwargs):
        if "out" in kwargs:
            first = records[0].row - 2  # manifest line 2 is frame 0
            if stop_from_frame is not None and first >= stop_from_frame:
                (stop or interrupt)()
            rows.extend(r.row - 2 for r in records)
        return read(records, *args, **kwargs)

    monkeypatch.setattr(frames_module, "read_records", spy)
    return rows


def _same(a, b):
    for name in ("intensity", "intensity_sigma", "intensity_scan", "reference", "frame_weight"):
        np.testing.assert_allclose(a[name].values, b[name].values, rtol=1e-12, err_msg=name)
    np.testing.assert_allclose(a.diff_pattern.values, b.diff_pattern.values, rtol=1e-9, atol=1e-12)


def test_interrupted_pass_resumes_without_rereading_and_gives_the_same_result(dataset, tmp_path, monkeypatch):
    _, exp, whole = dataset
    folder = tmp_path / "r.h5.partial"
    _pass_reads(monkeypatch, stop_from_frame=2 * CHUNK)
    with pytest.raises(KeyboardInterrupt):
        reduce_experiment(exp, checkpoint=folder)
    assert json.loads((folder / "state.json").read_text())["chunks"] == [0, 1]
    monkeypatch.undo()
    rows = _pass_reads(monkeypatch)
    resumed = reduce_experiment(exp, checkpoint=folder)
    assert sorted(rows) == list(range(2 * CHUNK, 15))  # chunks 0 and 1 came from the checkpoint
    _same(resumed, whole)


def test_periodic_saves_hold_every_finished_chunk(dataset, tmp_path, monkeypatch):
    _, exp, whole = dataset
    folder = tmp_path / "ckpt"
    reduce_experiment(exp, checkpoint=folder, checkpoint_every_s=0.0)  # a save after every chunk
    state = json.loads((folder / "state.json").read_text())
    assert state["chunks"] == [0, 1, 2, 3] and len(list(folder.glob("raw-*.npy"))) == 1
    rows = _pass_reads(monkeypatch)
    _same(reduce_experiment(exp, checkpoint=folder), whole)
    assert rows == []  # nothing left to read


def test_a_cluster_run_interrupted_resumes_on_local_threads(dataset, tmp_path):
    distributed = pytest.importorskip("distributed")
    _, exp, whole = dataset
    folder = tmp_path / "ckpt"

    def stop(done, total):
        if done >= 1:
            raise KeyboardInterrupt

    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, host="127.0.0.1",
                                  protocol="tcp", dashboard_address=":0") as cluster:
        with pytest.raises(KeyboardInterrupt):
            reduce_experiment(exp, scheduler=cluster.scheduler_address, progress=stop, checkpoint=folder)
    assert len(json.loads((folder / "state.json").read_text())["chunks"]) == 1
    _same(reduce_experiment(exp, checkpoint=folder), whole)


def test_checkpoint_of_other_inputs_is_discarded(dataset, tmp_path, monkeypatch, caplog):
    path, exp, whole = dataset
    folder = tmp_path / "ckpt"
    reduce_experiment(exp, checkpoint=folder, checkpoint_every_s=0.0)
    other = path.with_name("other.toml")  # beside the manifest it names
    other.write_text(path.read_text().replace("chunk_frames = 4", "chunk_frames = 4\noutlier_sigma = 6.0"))
    rows = _pass_reads(monkeypatch)
    reduce_experiment(load_experiment(other), checkpoint=folder)
    assert "starting afresh" in caplog.text and sorted(rows) == list(range(15))


def test_cli_keeps_progress_on_ctrl_c_and_resumes(dataset, tmp_path, monkeypatch):
    path, _, whole = dataset
    out = tmp_path / "r.h5"
    _pass_reads(monkeypatch, stop_from_frame=3 * CHUNK)
    res = CliRunner().invoke(main, ["reduce", str(path), "-o", str(out), "--quiet"])
    assert res.exit_code == 130 and not out.exists()
    assert json.loads((checkpoint_folder(out) / "state.json").read_text())["chunks"] == [0, 1, 2]
    monkeypatch.undo()
    rows = _pass_reads(monkeypatch)
    res = CliRunner().invoke(main, ["reduce", str(path), "-o", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    assert sorted(rows) == list(range(3 * CHUNK, 15)) and not checkpoint_folder(out).exists()
    _same(open_reduced(out), whole)


def test_cli_saves_the_checkpoint_when_a_batch_scheduler_stops_it(dataset, tmp_path, monkeypatch):
    """SIGTERM (a SLURM time limit, ``kill``) is handled like Ctrl-C: progress kept, exit 128 + 15."""
    path, _, _ = dataset
    out = tmp_path / "r.h5"

    first = threading.Lock()

    def term():
        if first.acquire(blocking=False):  # one signal (a second, like a second Ctrl-C, would cut the save short)
            os.kill(os.getpid(), signal.SIGTERM)
        raise OSError("frame read cut short")  # these chunks do not finish; the signal stops the command

    _pass_reads(monkeypatch, stop_from_frame=CHUNK, stop=term)
    before = signal.getsignal(signal.SIGTERM)
    res = CliRunner().invoke(main, ["reduce", str(path), "-o", str(out), "--quiet"])
    assert res.exit_code == 143, res.output
    assert "interrupted (SIGTERM)" in res.output and not out.exists()
    assert json.loads((checkpoint_folder(out) / "state.json").read_text())["chunks"] == [0]
    assert signal.getsignal(signal.SIGTERM) is before


def test_uedflow_run_resumes_its_reduction(dataset, tmp_path, monkeypatch):
    from uedflow.pipeline import run_experiment

    path, _, whole = dataset
    out = tmp_path / "out"
    _pass_reads(monkeypatch, stop_from_frame=2 * CHUNK)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(path, out, report=False)
    assert json.loads((out / "reduced.h5.partial" / "state.json").read_text())["chunks"] == [0, 1]
    monkeypatch.undo()
    rows = _pass_reads(monkeypatch)
    with pytest.raises(InputError, match="at least 6"):  # the reduction completes; 5 delays are too few to analyse
        run_experiment(path, out, report=False)
    assert sorted(rows) == list(range(2 * CHUNK, 15)) and not (out / "reduced.h5.partial").exists()
    _same(open_reduced(out / "reduced.h5"), whole)
