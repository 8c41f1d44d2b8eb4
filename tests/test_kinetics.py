"""Kinetic fits: recovery, honest error bars (pull widths), global t0, skued reference, bad input."""

import numpy as np
import pytest

from uedflow.dynamics import fit_global, fit_kinetics
from uedflow.dynamics.kinetics import time_resolution_ps
from uedflow.dynamics.models import exp_rise
from uedflow.errors import FitError

DELAYS = np.array([-5, -3, -2, -1, -0.5, 0, 0.5, 1, 1.5, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60.0])


def test_recovers_parameters_exactly_without_noise():
    y = 0.3 + exp_rise(DELAYS, 2e-3, 7.5, 0.35, 0.5)
    fit = fit_kinetics(DELAYS, y, np.full(DELAYS.size, 1e-6), irf_fwhm_ps=0.5)
    assert fit.success
    assert fit.value("tau_ps") == pytest.approx(7.5, rel=1e-6)
    assert fit.value("amplitude") == pytest.approx(2e-3, rel=1e-6)
    assert fit.value("t0_ps") == pytest.approx(0.35, abs=1e-6)
    np.testing.assert_allclose(fit.curve(DELAYS), y, atol=1e-9)
    assert "tau_ps" in fit.report() and fit.summary()["success"] is True


def test_pull_distribution_is_consistent_with_reported_sigma():
    """Over 30 noisy realisations the normalised residuals (fit − truth)/σ have unit width."""
    rng = np.random.default_rng(3)
    truth = {"amplitude": 0.01, "tau_ps": 8.0, "t0_ps": 0.2}
    clean = exp_rise(DELAYS, 0.01, 8.0, 0.2, 0.5)
    noise = 6e-4
    pulls = {k: [] for k in truth}
    for _ in range(30):
        fit = fit_kinetics(DELAYS, clean + rng.normal(0, noise, DELAYS.size), np.full(DELAYS.size, noise))
        assert fit.success
        for k, v in truth.items():
            pulls[k].append((fit.value(k) - v) / fit.error(k))
    for k, p in pulls.items():
        assert 0.7 < np.std(p) < 1.5, (k, np.std(p))
        assert abs(np.mean(p)) < 0.6, (k, np.mean(p))


def test_global_fit_shares_t0_and_matches_truth():
    rng = np.random.default_rng(5)
    taus, amps = [5.0, 9.0, 14.0], [1.0, 2.0, 1.5]
    y = np.array([exp_rise(DELAYS, a, t, 0.4, 0.5) for a, t in zip(amps, taus, strict=False)]) + rng.normal(0, 0.01, (3, DELAYS.size))
    fits = fit_global(DELAYS, y, np.full(y.shape, 0.01))
    assert len({f.value("t0_ps") for f in fits}) == 1
    assert fits[0].value("t0_ps") == pytest.approx(0.4, abs=0.1)
    for f, tau in zip(fits, taus, strict=False):
        assert abs(f.value("tau_ps") - tau) < max(0.1 * tau, 2 * f.error("tau_ps"))


def test_biexponential_recovery():
    t = np.linspace(-5, 200, 120)
    y = exp_rise(t, 1.0, 2.0, 0.0, 0.3) + exp_rise(t, 0.5, 40.0, 0.0, 0.3)
    fit = fit_kinetics(t, y, np.full(t.size, 1e-5), model="biexp", irf_fwhm_ps=0.3)
    assert fit.value("tau_ps") == pytest.approx(2.0, rel=1e-3)
    assert fit.value("tau2_ps") == pytest.approx(40.0, rel=1e-3)
    assert fit.value("amplitude2") == pytest.approx(0.5, rel=1e-3)


def test_fixed_t0_and_unweighted():
    y = exp_rise(DELAYS, 1.0, 6.0, 0.0, 0.5) + np.random.default_rng(1).normal(0, 0.01, DELAYS.size)
    fit = fit_kinetics(DELAYS, y, t0_ps=0.0)
    assert fit.value("t0_ps") == 0.0 and fit.error("t0_ps") == 0.0
    assert fit.value("tau_ps") == pytest.approx(6.0, rel=0.1)
    assert fit.error("tau_ps") > 0


def test_against_scikit_ued_exponential_with_irf():
    """exp_rise equals skued's exponential convolved with its Gaussian IRF (reference only)."""
    skued = pytest.importorskip("skued")
    t = np.arange(-20.0, 60.0, 0.02)

    @skued.with_irf(0.8)
    def rise(time, tzero, amp, tconst):
        # skued's decay I0 e^{-(t-t0)/τ} + O with I0 = -A, O = A is a rise A(1 - e^{-(t-t0)/τ}), 0 before t0
        return skued.exponential(time, tzero, -amp, tconst, offset=amp)

    ref = rise(t, 1.3, 2.0, 4.0)
    ours = exp_rise(t, 2.0, 4.0, 1.3, 0.8)
    inner = (t > -10) & (t < 40)  # away from the ends of the numerical convolution
    np.testing.assert_allclose(ours[inner], ref[inner], atol=1e-4)  # skued convolves on the sampled grid


@pytest.mark.parametrize(
    "delays, values",
    [
        (np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]), np.arange(6.0)),  # nothing before time zero
        (DELAYS, np.full(DELAYS.size, np.nan)),  # all NaN
        (DELAYS[:4], np.zeros(4)),  # too few points
    ],
)
def test_unfittable_traces_raise(delays, values):
    with pytest.raises(FitError, match="no trace can be fitted"):
        fit_kinetics(delays, values, np.ones(delays.size))


def test_one_bad_trace_in_a_global_fit_is_flagged_not_fatal():
    y = np.array([exp_rise(DELAYS, 1.0, 5.0, 0.0, 0.5), np.full(DELAYS.size, np.nan)])
    good, bad = fit_global(DELAYS, y, np.full(y.shape, 1e-3))
    assert good.success and not bad.success
    assert np.isnan(bad.value("tau_ps")) and "too few" in bad.message


def test_rise_faster_than_the_time_resolution_is_flagged():
    """QA D3: a τ below both the IRF and the delay step at t0 is a step to the data, not a measurement."""
    t = np.array([-4.0, -1.0, 0.0, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 50.0])  # the small preset's delays
    rng = np.random.default_rng(11)
    err = np.full(t.size, 1e-4)
    fast = exp_rise(t, 2e-3, 0.3, 0.35, 0.5) + rng.normal(0, 1e-4, t.size)
    slow = exp_rise(t, 2e-3, 8.0, 0.35, 0.5) + rng.normal(0, 1e-4, t.size)
    fits = fit_global(t, np.array([fast, slow]), np.array([err, err]), irf_fwhm_ps=0.5)
    assert time_resolution_ps(t, t0_ps=0.35, irf_fwhm_ps=0.5) == 1.0
    assert fits[0].value("tau_ps") < 1.0 and not fits[0].success and "time resolution" in fits[0].message
    assert fits[1].success and fits[1].value("tau_ps") == pytest.approx(8.0, rel=0.1)
    # delays 0.25 ps apart and a 0.2 ps IRF resolve a 0.5 ps rise
    dense = np.arange(-2.0, 10.0, 0.25)
    fit = fit_kinetics(dense, exp_rise(dense, 2e-3, 0.5, 0.35, 0.2) + rng.normal(0, 2e-5, dense.size),
                       np.full(dense.size, 2e-5), irf_fwhm_ps=0.2)
    assert fit.success and fit.value("tau_ps") == pytest.approx(0.5, rel=0.1)


def test_errors_scale_by_chi2_only_upwards_like_curve_fit():
    """σ too large (χ²_red < 1): the error its σ gives (curve_fit absolute_sigma=True); too small: scaled up
    by √χ²_red (curve_fit absolute_sigma=False). Scaling by χ²_red < 1 shrank errors by up to 45 %."""
    from scipy.optimize import curve_fit

    rng = np.random.default_rng(7)
    clean = exp_rise(DELAYS, 0.01, 8.0, 0.2, 0.5)
    for noise, sigma, absolute in ((3e-4, 9e-4, True), (9e-4, 3e-4, False)):
        y = clean + rng.normal(0, noise, DELAYS.size)
        fit = fit_kinetics(DELAYS, y, np.full(DELAYS.size, sigma))
        _, pcov = curve_fit(lambda t, c, a, tau, t0: c + exp_rise(t, a, tau, t0, 0.5), DELAYS, y,
                            p0=[0.0, 0.01, 8.0, 0.2], sigma=np.full(DELAYS.size, sigma), absolute_sigma=absolute)
        np.testing.assert_allclose([fit.error(k) for k in ("offset", "amplitude", "tau_ps", "t0_ps")],
                                   np.sqrt(np.diag(pcov)), rtol=0.02)
        assert (fit.chi2_red < 1) == absolute


def test_first_order_shift_matches_a_refit():
    """KineticsFit.shift (the systematic errors' response to a changed trace) against fitting the changed trace."""
    rng = np.random.default_rng(2)
    clean = exp_rise(DELAYS, 0.01, 8.0, 0.2, 0.5)
    sigma = np.full(DELAYS.size, 2e-4)
    y = clean + rng.normal(0, 2e-4, DELAYS.size)
    fit = fit_kinetics(DELAYS, y, sigma)
    change = 0.04 * exp_rise(DELAYS, 0.01, 5.0, 0.2, 0.5)  # a 4 % larger plateau, reached faster
    refit = fit_kinetics(DELAYS, y + change, sigma)
    dp = fit.shift(DELAYS, change, sigma)
    for name in ("amplitude", "tau_ps"):
        i = fit.param_names.index(name)
        assert dp[i] == pytest.approx(refit.value(name) - fit.value(name), rel=0.05), name
