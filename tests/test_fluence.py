"""Fluence series on the virtual experiment: ΔT slope vs the simulated truth, model choice, heating model, CLI."""

import numpy as np
import pytest
from click.testing import CliRunner

from uedflow.cli import main
from uedflow.crystal import get_structure
from uedflow.dynamics import analyze, write_dynamics
from uedflow.dynamics.fluence import fluence_series
from uedflow.errors import InputError
from uedflow.physics.heating import laser_heating
from uedflow.simulate import PeakDynamics, get_preset, paper_dynamics, simulate_powder_series
from uedflow.simulate.presets import temperature_rise_K

FLUENCES = (1.2, 2.4, 3.6, 4.8)  # the fluence presets (pbse-attached-90K-<F>mJ)


def _analysed(fluence, seed):
    dyn = {f: PeakDynamics(**p) for f, p in paper_dynamics("attached", 90.0, fluence).items()}
    ds, _ = simulate_powder_series(
        structure=get_structure("PbSe"), peaks=dyn, delays_ps=np.array(get_preset("pbse-attached-90K")["delays_ps"]),
        s_grid=np.linspace(0.15, 0.75, 300), t0_ps=0.35, irf_fwhm_ps=0.5, n_scans=2, seed=seed, counts_per_bin=2e6,
        attrs={"temperature_K": 90.0, "irf_fwhm_ps": 0.5, "fluence_mJ_cm2": fluence, "diameter_nm": 5.5,
               "sample_label": f"{fluence:g} mJ/cm2"})
    return analyze(ds)


@pytest.fixture(scope="module")
def series_data():
    return [_analysed(f, seed=10 + i) for i, f in enumerate(FLUENCES)]


def test_temperature_rise_slope_and_saturation_against_the_simulated_truth(series_data):
    series = fluence_series(series_data)
    f = series.fluence_mJ_cm2
    truth = np.array([temperature_rise_K(90.0, x) for x in f])
    err = series.errors["rise_msd_K"]
    true_slope = float(np.sum(f * truth / err**2) / np.sum(f * f / err**2))  # same weights as the fit
    fit = series.fits["rise_msd_K"]
    assert abs(fit.slope / true_slope - 1) < 0.10
    np.testing.assert_allclose(series.values["rise_msd_K"], truth, rtol=0.05)
    # the Debye heat capacity grows from 90 K: ΔT is sub-linear in fluence, and the fit says so
    assert fit.chosen == "saturating" and fit.delta_bic > 2
    # Δ⟨u²⟩ time constants are carried per point; the heating model gives its own (smaller) prediction
    assert np.all(np.isfinite(series.values["msd_tau_ps"]))
    model = [laser_heating(x, 5.5, 90.0).rise_K for x in f]
    np.testing.assert_allclose(series.model_rise_K, model)
    assert series.model_slope_K_per_mJ_cm2 < 0.8 * fit.slope  # the presets impose the paper's larger ΔT


def test_cli_fluence_prints_fits_and_writes_csv(series_data, tmp_path):
    paths = []
    for i, ds in enumerate(series_data):
        (tmp_path / f"f{i}").mkdir()
        paths.append(str(write_dynamics(ds, tmp_path / f"f{i}" / "dynamics.h5")))
    res = CliRunner().invoke(main, ["fluence", *paths, "-o", str(tmp_path / "fluence.csv")])
    assert res.exit_code == 0, res.output
    assert "ΔT from Δ⟨u²⟩: slope" in res.output and "heating model:" in res.output
    rows = (tmp_path / "fluence.csv").read_text().splitlines()
    assert rows[0].startswith("sample,fluence_mJ_cm2,msd_amplitude,msd_amplitude_err,msd_amplitude_sys") and len(rows) == 5


def test_one_fluence_or_two_temperatures_is_not_a_series(series_data):
    with pytest.raises(InputError, match="two or more datasets at different fluences"):
        fluence_series([series_data[0], series_data[0]])
    hot = series_data[1].copy()
    hot.attrs["temperature_K"] = 300.0
    with pytest.raises(InputError, match="one base temperature"):
        fluence_series([series_data[0], hot])
