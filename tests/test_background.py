"""Background models: the robust baseline alone, and poly vs baseline on simulated series."""

import numpy as np
import pytest

from uedflow.config import AnalyzeConfig
from uedflow.crystal import get_structure
from uedflow.dynamics import analyze
from uedflow.errors import ConfigError, InputError
from uedflow.peaks import DEFAULT_BACKGROUND, polynomial_design, pseudo_voigt, resolve_background, robust_baseline
from uedflow.simulate import PeakDynamics, paper_dynamics, simulate_powder_series


def test_robust_baseline_recovers_smooth_background_under_peaks():
    rng = np.random.default_rng(0)
    s = np.linspace(0.1, 1.0, 900)
    background = 4.0 * np.exp(-s / 0.3) + 0.2 * s
    centers = [0.3, 0.45, 0.62, 0.8]
    peaks = sum(pseudo_voigt(s, 0.05, c, 0.02, 0.0) for c in centers)  # Gaussian: no tails outside windows
    profiles = background + peaks + rng.normal(0, 0.003, (4, s.size))
    base = robust_baseline(s, profiles, exclude=[(c - 0.04, c + 0.04) for c in centers])
    assert base.shape == profiles.shape
    # within the noise of a spline fit, also under the peaks
    assert np.abs(base - background).max() < 0.01


def test_robust_baseline_without_exclusions_clips_peaks():
    s = np.linspace(0.1, 1.0, 900)
    background = 2.0 - s
    y = background + pseudo_voigt(s, 0.05, 0.5, 0.02, 0.0)
    base = robust_baseline(s, y, knot_spacing=0.2)
    assert np.abs(base - background).max() < 0.02 * y.max()


def test_robust_baseline_needs_points():
    s = np.linspace(0, 1, 30)
    with pytest.raises(InputError, match="usable points"):
        robust_baseline(s, np.ones(30), exclude=[(-1, 2)])


def test_names_and_design():
    assert resolve_background("auto") == DEFAULT_BACKGROUND
    with pytest.raises(ConfigError, match="unknown"):
        resolve_background("spline-magic")
    d = polynomial_design(np.linspace(3, 5, 5), 2)
    np.testing.assert_allclose(d[:, 1], [-1, -0.5, 0, 0.5, 1])


def test_default_background_is_the_more_accurate_on_simulated_series():
    """Joint polynomial vs robust baseline on a simulated PbSe series (dense rings, time-dependent TDS):
    the default must recover the Δ⟨u²⟩ and strain amplitudes with the smaller error."""
    dyn = {f: PeakDynamics(**p) for f, p in paper_dynamics("individual", 90.0, 3.6).items()}
    delays = np.array([-5, -3, -1, -0.5, 0, 0.5, 1, 2, 3, 5, 8, 12, 20, 30, 40, 50, 60.0])
    ds, truth = simulate_powder_series(structure=get_structure("PbSe"), peaks=dyn, delays_ps=delays,
                                       s_grid=np.linspace(0.15, 0.95, 500), t0_ps=0.0, n_scans=2, seed=4,
                                       counts_per_bin=1e6, attrs={"temperature_K": 90.0})
    errors = {}
    for model in ("poly", "baseline"):
        try:
            out = analyze(ds, config=AnalyzeConfig(background=model, peaks=("200", "220", "222", "400")))
        except InputError:  # every fit flagged (e.g. χ²_red > 100): the model failed outright
            errors[model] = np.inf
            continue
        rel = [out["amplitude"].sel(observable=obs).values / [truth["peaks"][h][key] for h in out["hkl"].values] - 1
               for obs, key in (("msd", "msd_amplitude_angstrom2"), ("strain", "strain_amplitude"))]
        # a ring the model could not fit (NaN) counts as a 100 % error, not as a skipped ring
        errors[model] = float(np.sqrt(np.mean(np.square(np.nan_to_num(np.asarray(rel), nan=1.0)))))
    assert DEFAULT_BACKGROUND == min(errors, key=errors.get), errors
    assert errors[DEFAULT_BACKGROUND] < 0.03
