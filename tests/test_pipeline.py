"""Pipeline orchestration: stage skipping by input hash, logging, progress, bad input, CLI exit codes.

The stage functions are replaced by counting fakes that write format-conforming
files, so these tests check the orchestration alone (end to end: test_demo.py).
"""

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import uedflow.dynamics
import uedflow.reduce
import uedflow.report
from uedflow.cli import main
from uedflow.errors import ConfigError, FileFormatError
from uedflow.io import open_dataset, write_dataset
from uedflow.pipeline import STATE_DIR, run_experiment, run_many
from uedflow.report import ReportResult
from uedflow.report.synthetic import synthetic_dynamics, synthetic_reduced, synthetic_truth

TRUTH = synthetic_truth(s_max=0.47)


@pytest.fixture
def calls(monkeypatch):
    """Replace reduce/analyze/report by fakes; return the per-stage call counter."""
    n = {"reduce": 0, "analyze": 0, "report": 0}

    def reduce_experiment(exp, *, scheduler=None, progress=None, checkpoint=None):
        n["reduce"] += 1
        progress(1, 2)
        progress(2, 2)
        return synthetic_reduced(TRUTH, n_s=50, shape=(8, 8), label=exp.name)

    def write_reduced(ds, path, *, experiment):
        return write_dataset(ds, path, format="uedflow-reduced", version=1, inputs=[experiment.path])

    def analyze(ds, *, config=None, progress=None):
        n["analyze"] += 1
        return synthetic_dynamics(TRUTH, label=ds.attrs["sample_label"], qe_window_ps=config.qe_window_ps)

    def write_dynamics(ds, path, *, config=None, inputs=None):
        write_dataset(ds, path, format="uedflow-dynamics", version=1)
        for name in ("traces.csv", "fits.csv"):
            Path(path).with_name(name).write_text("hkl\n")

    def write_report(samples, out, *, title, comparison=None, progress=None):
        n["report"] += 1
        n["samples"] = [s.name for s in samples]
        (Path(out) / "figures").mkdir(exist_ok=True)
        (Path(out) / "figures" / "f.png").write_bytes(b"png")
        (Path(out) / "report.html").write_text(title)
        return ReportResult(Path(out) / "report.html", {})

    for mod, name, fn in ((uedflow.reduce, "reduce_experiment", reduce_experiment),
                          (uedflow.reduce, "write_reduced", write_reduced),
                          (uedflow.reduce, "open_reduced",
                           lambda p: open_dataset(p, format="uedflow-reduced", version=1)),
                          (uedflow.dynamics, "analyze", analyze), (uedflow.dynamics, "write_dynamics", write_dynamics),
                          (uedflow.report, "write_report", write_report)):
        monkeypatch.setattr(mod, name, fn, raising=False)
    return n


def _experiment(folder: Path, name: str = "exp", extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(2):
        np.save(folder / f"f{k}.npy", np.full((4, 4), k, np.uint16))
    (folder / "frames.csv").write_text("file,scan,delay_ps\nf0.npy,0,-1\nf1.npy,0,5\n")
    (folder / "truth.json").write_text(json.dumps(TRUTH))
    path = folder / "experiment.toml"
    path.write_text(f'[experiment]\nname = "{name}"\nmanifest = "frames.csv"\n[sample]\nlabel = "{name} dots"\n'
                    + extra)
    return path


def test_stages_skip_when_unchanged_and_rerun_what_changed(tmp_path, calls):
    exp = _experiment(tmp_path / "data")
    out = tmp_path / "out"
    ticks = []
    r1 = run_experiment(exp, out, progress=lambda d, t: ticks.append((d, t)))
    assert r1.ran == ("reduce", "analyze", "report") and calls["samples"] == ["exp dots"]
    assert ticks[-1][0] == ticks[-1][1] and all(b[0] >= a[0] for a, b in zip(ticks, ticks[1:], strict=False))
    assert {p.name for p in out.iterdir()} >= {"reduced.h5", "dynamics.h5", "fits.csv", "traces.csv", "report.html",
                                               "figures", "uedflow.log", STATE_DIR}
    assert run_experiment(exp, out).ran == ()
    # analysis options changed: analysis and report again, reduction kept
    exp.write_text(exp.read_text() + "[analyze]\nqe_window_ps = [30.0, 60.0]\n")
    assert run_experiment(exp, out).ran == ("analyze", "report")
    assert (calls["reduce"], calls["analyze"], calls["report"]) == (1, 2, 2)
    # a frame replaced on disk: everything again
    np.save(tmp_path / "data" / "f1.npy", np.full((4, 5), 7, np.uint16))
    assert run_experiment(exp, out).ran == ("reduce", "analyze", "report")
    # an output deleted or edited by hand: only the stage that made it
    (out / "report.html").unlink()
    assert run_experiment(exp, out).ran == ("report",)
    (out / "figures" / "f.png").write_bytes(b"edited by hand")
    assert run_experiment(exp, out).ran == ("report",)
    assert run_experiment(exp, out, force=True).ran == ("reduce", "analyze", "report")
    log = (out / "uedflow.log").read_text()
    assert log.count("reduce: up to date, skipped") == 4 and "analyze: done in" in log


def test_run_many_compares_in_one_report(tmp_path, calls):
    a = _experiment(tmp_path / "a", "individual")
    b = _experiment(tmp_path / "b", "attached")
    res = run_many([a, b], tmp_path / "out", compare=True)
    assert [r.out_dir.name for r in res.runs] == ["individual", "attached"]
    assert res.report == tmp_path / "out" / "report.html" and res.report.is_file()
    assert calls["report"] == 1 and calls["samples"] == ["individual dots", "attached dots"]
    assert all(r.report is None and r.dynamics.is_file() for r in res.runs)
    again = run_many([a, b], tmp_path / "out", compare=True)
    assert [r.ran for r in again.runs] == [(), ()] and calls["report"] == 1


def test_bad_input_writes_nothing(tmp_path, calls):
    exp = _experiment(tmp_path / "data")
    file_out = tmp_path / "taken"
    file_out.write_text("a file")
    with pytest.raises(FileFormatError, match="is a file"):
        run_experiment(exp, file_out)
    typo = _experiment(tmp_path / "typo", extra="[analyze]\nqe_windows_ps = [40.0, 60.0]\n")
    with pytest.raises(ConfigError, match="unknown key 'qe_windows_ps' in \\[analyze\\]; did you mean 'qe_window_ps'"):
        run_many([exp, typo], tmp_path / "never")
    (tmp_path / "data" / "f1.npy").unlink()
    with pytest.raises(ConfigError, match="line 3: frame file 'f1.npy' does not exist"):
        run_experiment(exp, tmp_path / "never")
    assert not (tmp_path / "never").exists() and file_out.read_text() == "a file"
    assert calls["reduce"] == 0


def test_cli_exit_codes_and_messages(tmp_path, calls):
    runner = CliRunner()
    exp = _experiment(tmp_path / "data")
    ok = runner.invoke(main, ["run", str(exp), "-o", str(tmp_path / "out"), "-q"])
    assert ok.exit_code == 0, ok.output
    again = runner.invoke(main, ["run", str(exp), "-o", str(tmp_path / "out")])
    assert again.exit_code == 0 and "none (all up to date)" in again.output
    (tmp_path / "file").write_text("")
    bad = runner.invoke(main, ["run", str(exp), "-o", str(tmp_path / "file")])
    assert bad.exit_code == 2 and "is a file" in bad.output and "Traceback" not in bad.output
    missing = runner.invoke(main, ["report", str(tmp_path / "nope.h5"), "-o", str(tmp_path / "rep")])
    assert missing.exit_code == 2 and "nope.h5 does not exist" in missing.output
    assert not (tmp_path / "rep").exists()
    noexp = runner.invoke(main, ["run", str(tmp_path / "missing.toml"), "-o", str(tmp_path / "o2")])
    assert noexp.exit_code == 2 and "missing.toml does not exist" in noexp.output
    preset = runner.invoke(main, ["demo", "-o", str(tmp_path / "o3"), "--preset", "pbse-atached-90K"])
    assert preset.exit_code == 2 and "unknown preset 'pbse-atached-90K'" in preset.output
    assert not (tmp_path / "o2").exists() and not (tmp_path / "o3").exists()
