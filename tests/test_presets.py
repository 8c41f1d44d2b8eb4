"""Presets mirror the paper's qualitative findings; CLI and end-to-end compatibility with reduce."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from uedflow.cli import main
from uedflow.errors import ConfigError
from uedflow.physics.debye import msd_debye_angstrom2
from uedflow.simulate import PRESETS, get_preset, paper_dynamics
from uedflow.simulate.presets import DEBYE_TEMPERATURE_K, PBSE_MASS_U, temperature_rise_K

FAMS = ("<100>", "<110>", "<111>")


def _values(sample, temperature, fluence, key):
    dyn = paper_dynamics(sample, temperature, fluence)
    return np.array([dyn[f][key] for f in FAMS])


def test_heating_calibration_matches_paper():
    assert temperature_rise_K(90.0, 3.6) == pytest.approx(150.0)  # paper: ~150 K at 3.6 mJ/cm^2
    assert temperature_rise_K(300.0, 3.6) < 150.0  # larger heat capacity at 300 K
    rises = [temperature_rise_K(90.0, f) for f in (1.2, 2.4, 3.6, 4.8)]
    assert np.all(np.diff(rises) > 0)
    msd = _values("individual", 90.0, 3.6, "msd_amplitude_angstrom2")
    debye = msd_debye_angstrom2(240.0, DEBYE_TEMPERATURE_K, PBSE_MASS_U) - msd_debye_angstrom2(
        90.0, DEBYE_TEMPERATURE_K, PBSE_MASS_U)
    assert msd.mean() == pytest.approx(float(debye), rel=0.02)


def test_strain_uses_the_expansion_the_analysis_inverts():
    """One α(T): the mean preset strain inverts to the imposed ΔT through physics.expansion; the constant
    room-temperature α the presets once used (19.4e-6/K) would read 5 % hot from 90 K."""
    from uedflow.physics.expansion import temperature_from_strain

    for sample, t0 in (("individual", 90.0), ("attached-300K", 300.0)):
        eps = _values(sample, t0, 3.6, "strain_amplitude").mean()
        assert float(temperature_from_strain(eps, t0)) - t0 == pytest.approx(temperature_rise_K(t0, 3.6), rel=5e-3)
    old = 19.4e-6 * 150.0
    assert float(temperature_from_strain(old, 90.0)) - 90.0 > 1.04 * 150.0


def test_paper_trends():
    ind_msd = _values("individual", 90.0, 3.6, "msd_amplitude_angstrom2")
    att_msd = _values("attached", 90.0, 3.6, "msd_amplitude_angstrom2")
    hot_msd = _values("attached-300K", 300.0, 3.6, "msd_amplitude_angstrom2")
    # individual: nearly isotropic msd; attached: larger along <111>, smaller along <100>; same mean
    assert np.ptp(ind_msd) / ind_msd.mean() < 0.05
    assert att_msd[2] > ind_msd[2] and att_msd[0] < ind_msd[0]
    assert att_msd.mean() == pytest.approx(ind_msd.mean(), rel=0.05)
    # individual dots expand most along <100>; attached: more along <111>, less along <100>
    ind_eps = _values("individual", 90.0, 3.6, "strain_amplitude")
    att_eps = _values("attached", 90.0, 3.6, "strain_amplitude")
    assert np.argmax(ind_eps) == 0 and att_eps[2] > ind_eps[2] and att_eps[0] < ind_eps[0]
    # attached: faster and more anisotropic tau, <111> fastest; 300 K and high fluence smear it out
    ind_tau = _values("individual", 90.0, 3.6, "msd_tau_ps")
    att_tau = _values("attached", 90.0, 3.6, "msd_tau_ps")
    hot_tau = _values("attached-300K", 300.0, 3.6, "msd_tau_ps")
    assert att_tau.mean() < ind_tau.mean() and np.argmin(att_tau) == 2 and np.ptp(att_tau) > np.ptp(ind_tau)
    assert np.ptp(hot_tau) < np.ptp(att_tau) and np.ptp(hot_msd) / hot_msd.mean() < np.ptp(att_msd) / att_msd.mean()
    assert np.ptp(_values("attached", 90.0, 4.8, "msd_tau_ps")) < np.ptp(att_tau)


def test_preset_registry():
    assert {"pbse-individual-90K", "pbse-attached-90K", "pbse-attached-300K", "small"} <= set(PRESETS)
    assert sum(name.startswith("pbse-attached-90K-") for name in PRESETS) >= 3
    p = get_preset("small")
    p["n_scans"] = 99
    assert PRESETS["small"]["n_scans"] != 99  # a copy
    with pytest.raises(ConfigError, match="unknown preset"):
        get_preset("pbse-nope")


def test_cli_list_run_and_errors(tmp_path):
    runner = CliRunner()
    res = runner.invoke(main, ["simulate", "--list"])
    assert res.exit_code == 0 and "pbse-attached-300K" in res.output
    res = runner.invoke(main, ["simulate", "--preset", "nope", "-o", str(tmp_path / "x")])
    assert res.exit_code == 2 and "unknown preset" in res.output and not (tmp_path / "x").exists()
    cfg = tmp_path / "run.toml"
    cfg.write_text('preset = "small"\nname = "custom"\ndelays_ps = [-2.0, 0.0, 1.0, 5.0, 20.0]\n'
                   '[dynamics.peaks."<111>"]\nmsd_amplitude_angstrom2 = 0.01\n')
    res = runner.invoke(main, ["simulate", "--config", str(cfg), "-o", str(tmp_path / "run"), "--seed", "2", "-q"])
    assert res.exit_code == 0, res.output
    truth = json.loads((tmp_path / "run" / "truth.json").read_text())
    assert truth["preset"] == "custom" and truth["peaks"]["222"]["msd_amplitude_angstrom2"] == 0.01


def test_small_preset_is_accepted_by_reduce(tmp_path):
    pytest.importorskip("uedflow.cli.reduce")
    runner = CliRunner()
    assert runner.invoke(main, ["simulate", "--preset", "small", "-o", str(tmp_path / "sim"), "-q"]).exit_code == 0
    res = runner.invoke(main, ["reduce", str(tmp_path / "sim" / "experiment.toml"), "-o", str(tmp_path / "r.h5"), "-q"])
    assert res.exit_code == 0, res.output
    import xarray as xr

    truth = json.loads((tmp_path / "sim" / "truth.json").read_text())
    with xr.open_dataset(tmp_path / "r.h5", engine="h5netcdf") as ds:
        assert ds.attrs["format"] == "uedflow-reduced"
        np.testing.assert_allclose(np.asarray(ds.attrs["center_rc"], float), truth["center_rc"], atol=0.5)
        assert sorted(ds.delay.values.tolist()) == sorted(truth["config"]["delays_ps"])
