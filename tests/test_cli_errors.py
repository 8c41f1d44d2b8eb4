"""The command line as a user meets it with bad input: one ``error:`` line, exit 2, no traceback, no output.

Every test here reproduces a problem found by running ``uedflow`` by hand (QA pass);
the data are tiny synthetic images or the ``small`` preset.
"""

import signal
from pathlib import Path

import click
import numpy as np
import pytest
import tifffile
from click.testing import CliRunner

import uedflow.cli as cli
from uedflow.cli import main
from uedflow.tem.synthetic import render_lattice_image


def _fails_cleanly(args, *needles):
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2, res.output
    assert not isinstance(res.exception, SystemExit) or res.exception.code == 2
    assert "Traceback" not in res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.output
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def test_expansion_negative_temperature_names_the_value_not_an_array():
    line = _fails_cleanly(["physics", "expansion", "--temperature", "-90", "--strain", "1e-3"],
                          "base_temperature_K", "-90")
    assert "[" not in line and len(line) < 200


def test_expansion_nan_strain_is_one_error_without_numpy_warning():
    _fails_cleanly(["physics", "expansion", "--temperature", "90", "--strain", "nan"], "strain", "nan")


def test_expansion_impossible_contraction_says_what_to_check():
    _fails_cleanly(["physics", "expansion", "--temperature", "90", "--strain", "-1e-3"], "-0.001", "sign")


def test_debye_negative_temperature_message_has_no_numpy_repr():
    line = _fails_cleanly(["physics", "debye", "--temperature", "-90", "--debye-temperature", "250"], "-90")
    assert "np.float64" not in line


@pytest.fixture(scope="module")
def lattice_tif(tmp_path_factory):
    path = tmp_path_factory.mktemp("tem") / "lattice.tif"
    tifffile.imwrite(path, render_lattice_image((128, 128), n_dots=2).astype(np.float32))
    return path


@pytest.mark.parametrize("sub", ["fft", "size"])
@pytest.mark.parametrize("name, content", [("cut.tif", None), ("junk.tif", b"garbage"), ("junk.png", b"xx\n"),
                                           ("cut.png", "png")])
def test_tem_unreadable_image_is_a_clean_error(tmp_path, lattice_tif, sub, name, content):
    img = tmp_path / name
    if content is None:
        img.write_bytes(lattice_tif.read_bytes()[:20_000])
    elif content == "png":
        from PIL import Image

        Image.fromarray(np.zeros((64, 64), np.uint8) + 7).save(tmp_path / "ok.png")
        img.write_bytes((tmp_path / "ok.png").read_bytes()[:60])
    else:
        img.write_bytes(content)
    out = tmp_path / "out"
    _fails_cleanly(["tem", sub, str(img), "--pixel-nm", "0.05", "-o", str(out)], "cannot read image", str(img))
    assert not out.exists()


def test_tem_nan_image_names_the_file_and_pixel(tmp_path, lattice_tif):
    img = tifffile.imread(lattice_tif)
    img[5, 7] = np.nan
    path = tmp_path / "nan.tif"
    tifffile.imwrite(path, img)
    _fails_cleanly(["tem", "fft", str(path), "--pixel-nm", "0.05", "-o", str(tmp_path / "o")], str(path), "(5, 7)")
    assert not (tmp_path / "o").exists()


@pytest.fixture(scope="module")
def small_sim(tmp_path_factory):
    from uedflow.simulate import simulate_experiment

    return simulate_experiment("small", tmp_path_factory.mktemp("sim") / "small", seed=0)


@pytest.mark.parametrize("command", ["run", "demo"])
def test_output_folder_below_a_file_is_a_clean_error(tmp_path, small_sim, command):
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    args = ["run", str(small_sim / "experiment.toml")] if command == "run" else ["demo", "--preset", "small"]
    _fails_cleanly([*args, "-o", str(afile / "sub"), "-q"], "cannot create output folder", str(afile / "sub"))


def test_ctrl_c_swallowed_by_compiled_code_still_exits_130(monkeypatch):
    @click.command("swallow")
    def swallow_cmd():
        try:  # what a ctypes/numba callback does with the KeyboardInterrupt of a Ctrl-C
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:
            pass
        click.echo("finished")

    monkeypatch.setattr(cli, "swallow_cmd", swallow_cmd, raising=False)
    monkeypatch.setitem(cli._COMMANDS, "swallow", ("uedflow.cli", "swallow_cmd", "test"))
    before = signal.getsignal(signal.SIGINT)
    res = CliRunner().invoke(main, ["swallow"])
    assert res.exit_code == 130, res.output
    assert "interrupted" in res.output
    assert signal.getsignal(signal.SIGINT) is before


def test_simulate_negative_seed_is_a_usage_error(tmp_path):
    res = CliRunner().invoke(main, ["simulate", "--preset", "small", "--seed", "-1", "-o", str(tmp_path / "s")])
    assert res.exit_code == 2 and "--seed" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("body, needles", [
    ('delays_ps = "abc"', ("delays_ps", "'abc'")),
    ('delays_ps = [-1.0, "nan", 2.0]', ("finite delays_ps",)),
    ("irf_fwhm_ps = -0.5", ("irf_fwhm_ps", "-0.5")),
    ("dose_jitter = -0.1", ("dose_jitter", "-0.1")),
    ('[dynamics]\nsample = "foo"', ("'foo'", "individual, attached")),
    ("[dynamics.peaks.999]\nmsd_amplitude_angstrom2 = 0.01", ("999", "200")),
    ("[detector]\ncamera_lenght_m = 0.3", ("'camera_lenght_m'", "did you mean 'camera_length_m'")),
])
def test_simulate_bad_run_config_is_a_clean_error(tmp_path, body, needles):
    cfg = tmp_path / "run.toml"
    cfg.write_text(f'preset = "small"\n{body}\n')
    out = tmp_path / "sim"
    _fails_cleanly(["simulate", "--config", str(cfg), "-o", str(out), "-q"], *needles)
    assert not out.exists()


@pytest.mark.parametrize("old, new, needle", [
    ("temperature_K = 90.0", "temperature_K = -90.0", "sample.temperature_K must be positive"),
    ("fluence_mJ_cm2 = 3.6", "fluence_mJ_cm2 = -3.6", "sample.fluence_mJ_cm2 must be positive"),
    ("[analyze]", "[analyze]\nbootstrap = -3", "analyze.bootstrap must be >= 0"),
])
def test_reduce_rejects_impossible_experiment_values(tmp_path, small_sim, old, new, needle):
    text = (small_sim / "experiment.toml").read_text()
    assert old in text
    exp = tmp_path / "experiment.toml"
    exp.write_text(text.replace(old, new).replace('"frames.csv"', f'"{small_sim / "frames.csv"}"'))
    out = tmp_path / "r.h5"
    _fails_cleanly(["reduce", str(exp), "-o", str(out), "-q"], str(exp), needle)
    assert not out.exists()


def test_failed_run_prints_its_error_once_and_logs_it(tmp_path, small_sim):
    import subprocess
    import sys

    rows = (small_sim / "frames.csv").read_text().splitlines()
    keep = [rows[0]] + [r for r in rows[1:] if float(r.split(",")[2]) >= 0]  # no delay before time zero
    (tmp_path / "frames.csv").write_text("\n".join(keep).replace("scan_0", f"{small_sim}/scan_0") + "\n")
    text = (small_sim / "experiment.toml").read_text()
    for name in ("dark.npy", "mask.npy"):
        text = text.replace(f'"{name}"', f'"{small_sim / name}"')
    (tmp_path / "experiment.toml").write_text(text)
    out = tmp_path / "out"
    uedflow = str(Path(sys.executable).with_name("uedflow"))
    proc = subprocess.run([uedflow, "run", str(tmp_path / "experiment.toml"), "-o", str(out),
                           "-q"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "before time zero" in lines[0], proc.stderr
    assert "failed: " in (out / "uedflow.log").read_text()
    assert not (out / "reduced.h5").exists()


def test_misspelt_subcommand_gets_a_suggestion():
    res = CliRunner().invoke(main, ["reduse", "x.toml"])
    assert res.exit_code == 2 and "did you mean 'reduce'" in res.output


@pytest.mark.parametrize("command", ["reduce", "simulate", "run", "report", "demo", "tem", "physics"])
def test_help_shows_an_example(command):
    sub = {"tem": ["tem", "fft"], "physics": ["physics", "heating"]}.get(command, [command])
    res = CliRunner().invoke(main, [*sub, "--help"])
    assert res.exit_code == 0
    assert "Example" in res.output and f"uedflow {' '.join(sub)} " in res.output


def test_wrong_stage_file_names_the_command_that_makes_the_right_one(tmp_path):
    import xarray as xr

    path = tmp_path / "dynamics.h5"
    ds = xr.Dataset({"x": ("peak", np.zeros(2))}, attrs={"format": "uedflow-dynamics", "format_version": 1})
    ds.to_netcdf(path, engine="h5netcdf")
    _fails_cleanly(["analyze", str(path), "-o", str(tmp_path / "d2.h5")], str(path), "`uedflow reduce EXPERIMENT.toml`")
    assert not (tmp_path / "d2.h5").exists()


def test_demo_runs_a_preset_given_twice_once(tmp_path, monkeypatch):
    import types

    import uedflow.pipeline as pipeline
    import uedflow.simulate

    simulated, folders = [], []
    monkeypatch.setattr(uedflow.simulate, "simulate_experiment", lambda preset, data, **kw: simulated.append(preset))
    monkeypatch.setattr(pipeline, "load_experiment", lambda path: path)
    monkeypatch.setattr(pipeline, "_run_set", lambda exps, names, out, **kw: folders.extend(names)
                        or types.SimpleNamespace(runs=(), report=None, stages=()))
    pipeline.run_demo(tmp_path / "demo", presets=("small", "small"))
    assert simulated == ["small"] and folders == ["small"]


@pytest.fixture(scope="module")
def particles_tif(tmp_path_factory):
    from uedflow.tem.synthetic import render_particle_image

    path = tmp_path_factory.mktemp("tem") / "particles.tif"
    tifffile.imwrite(path, np.asarray(render_particle_image((256, 256), n_particles=40)[0], dtype=np.float32))
    return path


def test_tem_size_negative_min_diameter_is_an_error(tmp_path, particles_tif):
    _fails_cleanly(["tem", "size", str(particles_tif), "--pixel-nm", "0.5", "--min-diameter-nm", "-1", "-o",
                    str(tmp_path / "o")], "min_diameter_nm", "-1")
    assert not (tmp_path / "o").exists()


def test_tem_size_inverted_contrast_is_flagged_not_a_silent_number(tmp_path, particles_tif):
    res = CliRunner().invoke(main, ["tem", "size", str(particles_tif), "--pixel-nm", "0.5", "--bright-particles",
                                    "-o", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert "warning: the foreground covers" in res.output and "substrate" in res.output
    ok = CliRunner().invoke(main, ["tem", "size", str(particles_tif), "--pixel-nm", "0.5", "-o", str(tmp_path / "p")])
    assert ok.exit_code == 0 and "warning" not in ok.output


@pytest.mark.parametrize("target", ["frames.csv", "experiment.toml", "scan_00.npy", "dark.npy"])
def test_reduce_refuses_to_overwrite_its_own_input(small_sim, target):
    before = (small_sim / target).read_bytes()
    _fails_cleanly(["reduce", str(small_sim / "experiment.toml"), "-o", str(small_sim / target), "-q"],
                   "is an input of this command")
    assert (small_sim / target).read_bytes() == before


def test_simulate_never_replaces_a_folder_of_other_files(tmp_path):
    (tmp_path / "thesis.txt").write_text("precious")
    _fails_cleanly(["simulate", "--preset", "small", "-o", str(tmp_path), "-q"], "not empty", str(tmp_path))
    assert [p.name for p in tmp_path.iterdir()] == ["thesis.txt"]
