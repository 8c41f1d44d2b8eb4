"""Pump dynamics: kinetic trajectories, direction interpolation, atomistic time series."""

from __future__ import annotations

import numpy as np
import pytest

from uedflow.crystal import electron_scattering_factor, get_structure, reflections
from uedflow.dynamics.models import biexp_rise, exp_rise
from uedflow.errors import ConfigError
from uedflow.simulate.atomistic import atomistic_series
from uedflow.simulate.nanocrystal import build_nanocrystal
from uedflow.simulate.pump import (
    PeakDynamics,
    cubic_harmonic_weights,
    dynamics_for_reflections,
    interpolate_dynamics,
)

PBSE = get_structure("PbSe")


def test_trajectories_follow_the_kinetic_models():
    t = np.linspace(-5, 60, 131)
    d = PeakDynamics(strain_amplitude=2e-3, strain_tau_ps=7.0, msd_amplitude_angstrom2=0.01, msd_tau_ps=3.0,
                     msd_amplitude2_angstrom2=0.004, msd_tau2_ps=40.0, width_amplitude=5e-4, width_tau_ps=12.0)
    np.testing.assert_allclose(d.trajectory("strain", t, t0_ps=0.3, irf_fwhm_ps=0.5), exp_rise(t, 2e-3, 7.0, 0.3, 0.5))
    np.testing.assert_allclose(d.trajectory("msd", t, t0_ps=0.3, irf_fwhm_ps=0.5),
                               biexp_rise(t, 0.01, 3.0, 0.004, 40.0, 0.3, 0.5))
    assert d.trajectory("width", 1e4, t0_ps=0, irf_fwhm_ps=0) == pytest.approx(5e-4)
    truth = d.truth()
    assert truth["msd_amplitude2_angstrom2"] == 0.004 and "strain_amplitude2" not in truth
    with pytest.raises(ConfigError, match="tau"):
        PeakDynamics(strain_tau_ps=0.0)
    with pytest.raises(ConfigError, match="unknown key"):
        PeakDynamics.from_dict({"strain_amplitud": 1.0})


def test_cubic_harmonic_interpolation():
    np.testing.assert_allclose(cubic_harmonic_weights("200"), [1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(cubic_harmonic_weights("440"), [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(cubic_harmonic_weights("333"), [0, 0, 1], atol=1e-12)
    fams = {"<100>": PeakDynamics(msd_amplitude_angstrom2=1.0), "<110>": PeakDynamics(msd_amplitude_angstrom2=2.0),
            "<111>": PeakDynamics(msd_amplitude_angstrom2=3.0)}
    # a property linear in K4 = sum n^4 (no K6 term): p = c0 + c4 K4 through the <100>, <110> values
    fams_k4 = {"<100>": PeakDynamics(msd_amplitude_angstrom2=1.0), "<110>": PeakDynamics(msd_amplitude_angstrom2=0.5),
               "<111>": PeakDynamics(msd_amplitude_angstrom2=1 / 3)}
    n = np.array([3, 1, 1]) / np.sqrt(11)
    assert interpolate_dynamics(fams_k4, "311").msd_amplitude_angstrom2 == pytest.approx(np.sum(n**4))
    assert sum(cubic_harmonic_weights("420")) == pytest.approx(1.0)
    dyn = dynamics_for_reflections(["111", "200", "311", "222"], {**fams, "222": PeakDynamics(msd_amplitude_angstrom2=9)})
    assert [d.msd_amplitude_angstrom2 for d in dyn][:2] == [3.0, 1.0] and dyn[3].msd_amplitude_angstrom2 == 9
    assert dynamics_for_reflections(["311"], {"<100>": fams["<100>"]})[0] == PeakDynamics()


def test_atomistic_uniform_msd_is_exact_debye_waller():
    nc = build_nanocrystal(PBSE, 3.0)
    s = np.linspace(0.25, 0.7, 200)
    groups = {"core": PeakDynamics(msd_amplitude_angstrom2=0.01, msd_tau_ps=2.0)}
    series = atomistic_series(nc, s, [-10.0, 1e4], groups, t0_ps=0.0, irf_fwhm_ps=0.3)
    self_term = sum(electron_scattering_factor(e, s) ** 2 for e in nc.symbols)
    # the pair part of the Debye sum is damped by exp(-4 pi^2 u^2 s^2) exactly, the self part not at all
    np.testing.assert_allclose((series[1] - self_term) / (series[0] - self_term),
                               np.exp(-4 * np.pi**2 * 0.01 * s**2), rtol=1e-9)


def test_atomistic_strain_shifts_peaks_and_groups_differ():
    nc = build_nanocrystal(PBSE, 4.0)
    s = np.linspace(0.30, 0.36, 1201)
    eps = 3e-3
    series = atomistic_series(nc, s, [-5.0, 500.0], {"core": PeakDynamics(strain_amplitude=eps, strain_tau_ps=5.0)})
    self_term = sum(electron_scattering_factor(e, s) ** 2 for e in nc.symbols)

    def centroid(i):
        y = i - self_term
        m = y > 0.5 * y.max()
        return np.sum(s[m] * y[m]) / np.sum(y[m])

    assert centroid(series[0]) / centroid(series[1]) == pytest.approx(1 + eps, abs=2e-4)
    # surface-only expansion (non-uniform: recomputed histograms) shifts the peak less
    surf = atomistic_series(nc, s, [500.0], {"core": PeakDynamics(), "{111}": PeakDynamics(strain_amplitude=eps),
                                            "{100}": PeakDynamics(strain_amplitude=eps)})
    shift = centroid(series[0]) / centroid(surf[0]) - 1
    assert 0 < shift < eps
    aniso = atomistic_series(nc, s, [500.0], {"core": PeakDynamics(msd_amplitude_angstrom2=0.01)},
                             normal_fraction={"{111}": 1.0}, reflections=reflections(PBSE, 0.5))
    assert np.all(np.isfinite(aniso))
    with pytest.raises(ConfigError, match="core"):
        atomistic_series(nc, s, [0.0], {"{111}": PeakDynamics()})


def test_phenomenological_series_truth_is_exact():
    from uedflow.simulate.phenomenological import build_powder_model, pseudo_voigt, simulate_powder_series

    peaks = {"<100>": PeakDynamics(2e-3, 8.0, 0.012, 6.0, 1e-3, 10.0),
             "<110>": PeakDynamics(1.5e-3, 8.0, 0.010, 5.0), "<111>": PeakDynamics(1e-3, 9.0, 0.014, 4.0)}
    model = build_powder_model(PBSE, peaks, s_max=0.8, t0_ps=0.4, irf_fwhm_ps=0.5)
    truth = model.truth()
    assert truth["peaks"]["200"]["strain_amplitude"] == 2e-3 and truth["peaks"]["222"]["msd_tau_ps"] == 4.0
    centre, area, fwhm = model.peak_state(np.array([-5.0, 1e4]))
    k = model.labels.index("400")
    assert centre[1, k] == pytest.approx(model.s0[k] / (1 + 2e-3))
    assert -np.log(area[1, k] / area[0, k]) / (4 * np.pi**2 * model.s0[k] ** 2) == pytest.approx(0.012)
    assert fwhm[1, k] - fwhm[0, k] == pytest.approx(1e-3)
    s = np.linspace(-1, 1, 40001)
    assert np.trapezoid(pseudo_voigt(s, 0.0, 0.02, 0.3), s) == pytest.approx(1.0, abs=2e-3)  # Lorentz tails
    delays = np.array([-5.0, -2.0, 0.0, 2.0, 10.0, 60.0])
    ds, tr = simulate_powder_series(structure=PBSE, peaks=peaks, delays_ps=delays, s_grid=np.linspace(0.2, 0.8, 500),
                                    n_scans=2, counts_per_bin=1e6, seed=1, t0_ps=0.4)
    for var in ("intensity", "intensity_sigma", "intensity_scan", "reference", "differential", "mask", "frame_weight"):
        assert var in ds
    assert ds.intensity.dims == ("delay", "s") and tr["t0_ps"] == 0.4
    # Poisson noise at the stated level: scan-to-scan differences / sigma ~ N(0, 2)
    z = (ds.intensity_scan[0] - ds.intensity_scan[1]) / np.hypot(ds.intensity_scan_sigma[0], ds.intensity_scan_sigma[1])
    assert float(z.std()) == pytest.approx(1.0, rel=0.05)
