"""Thermal expansion: bulk α(T), strain ↔ temperature, static-heating fits, the paper's ~20 % ratio."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.integrate import quad

from uedflow.errors import FitError, InputError
from uedflow.physics.expansion import (
    fit_static_expansion,
    linear_expansion_coefficient,
    nonequilibrium_to_static_ratio,
    temperature_from_strain,
    thermal_strain,
)


def test_alpha_published_room_temperature_and_lower_at_90K():
    assert_allclose(linear_expansion_coefficient(295.0) * 1e6, 19.4, rtol=1e-12)  # handbook value the model is scaled to
    a90 = float(linear_expansion_coefficient(90.0))
    assert 14e-6 < a90 < 18e-6
    assert linear_expansion_coefficient(5.0) < 1e-6  # vanishes as T³
    with pytest.raises(InputError, match="expansion"):
        linear_expansion_coefficient(100.0, "Kryptonite")


def test_strain_is_integral_of_alpha_and_inverts():
    integral, _ = quad(lambda t: float(linear_expansion_coefficient(t)), 90.0, 240.0)
    assert_allclose(thermal_strain(240.0, 90.0), np.expm1(integral), rtol=1e-10)
    T = np.array([100.0, 240.0, 400.0])
    assert_allclose(temperature_from_strain(thermal_strain(T, 90.0), 90.0), T, rtol=1e-9)
    assert_allclose(temperature_from_strain(2e-3, 90.0, alpha_per_K=2e-5), 90.0 + np.log1p(2e-3) / 2e-5)
    with pytest.raises(InputError, match="per cent"):
        temperature_from_strain(1.0, 90.0)


def test_static_fit_recovers_alpha_with_honest_errors():
    rng = np.random.default_rng(3)
    T = np.linspace(90.0, 300.0, 8)
    true = np.array([24e-6, 18e-6, 15e-6])
    sig = 2e-4
    n_rep, hits = 200, 0
    for _ in range(n_rep):
        A = 6.1 * (1 + true[:, None] * (T - 90.0)) + rng.normal(0, sig, (3, T.size))
        fit = fit_static_expansion(T, A, sig, labels=["200", "220", "222"])
        hits += np.abs(fit.alpha_per_K - true) < fit.alpha_err_per_K
    # 1σ intervals cover ~68 % of repeats (binomial sd for 600 trials ≈ 1.9 %)
    coverage = hits.sum() / (3 * n_rep)
    assert 0.62 < coverage < 0.74
    assert_allclose(fit.chi2_red, 1.0, atol=1.0)
    assert "200" in fit.report() and fit.summary()["success"]


def test_static_fit_without_errors_and_bad_input():
    T = [90.0, 200.0, 300.0]
    exact = [[6.1 * (1 + 2e-5 * (t - 90.0)) for t in T]]
    fit = fit_static_expansion(T, exact)
    assert_allclose(fit.alpha_per_K, 2e-5, rtol=1e-9)
    assert fit.alpha_err_per_K[0] < 1e-12
    two = fit_static_expansion([90.0, 300.0], [[6.1, 6.12]])
    assert not two.success and "errors undefined" in two.message
    with pytest.raises(FitError, match="two distinct"):
        fit_static_expansion([90.0], [[6.1]])
    with pytest.raises(InputError, match="n_peaks"):
        fit_static_expansion([90.0, 100.0], [[6.1, 6.1, 6.1]])


def test_paper_ratio_twenty_percent():
    """Yue et al. 2024: static expansion along <100> ~20 % below the nonequilibrium one."""
    r = nonequilibrium_to_static_ratio(1.5e-3, 0.1e-3, 12e-6, 1e-6, 100.0, 10.0)
    assert_allclose(r.ratio, 0.8)
    assert_allclose(r.deficit, 0.2)
    # relative errors add in quadrature: (1/15, 1/12, 1/10)
    assert_allclose(r.ratio_err, 0.8 * np.sqrt((1 / 15) ** 2 + (1 / 12) ** 2 + 0.1**2), rtol=1e-12)
    with pytest.raises(InputError):
        nonequilibrium_to_static_ratio(0.0, 0.0, 1e-5, 0.0, 100.0)
