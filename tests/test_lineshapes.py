"""Line shapes: normalisation, FWHM, limits, analytic Jacobian, zero-width guard."""

import numpy as np
import pytest
from scipy import stats

from uedflow.peaks.lineshapes import gaussian, lorentzian, pseudo_voigt, shape_and_jacobian

SHAPES = {
    "gaussian": lambda x, a, c, w: gaussian(x, a, c, w),
    "lorentzian": lambda x, a, c, w: lorentzian(x, a, c, w),
    "pseudo-voigt": lambda x, a, c, w: pseudo_voigt(x, a, c, w, 0.37),
}


@pytest.mark.parametrize("name", SHAPES)
def test_area_center_and_fwhm(name):
    f = SHAPES[name]
    x = np.linspace(-100.0, 100.0, 400_001)
    y = f(x, 2.5, 0.3, 0.8)
    # Lorentzian tails beyond ±100 hold 2/π·(w/2)/400 of the area: include them analytically
    tail = {"gaussian": 0.0, "lorentzian": 1.0, "pseudo-voigt": 0.37}[name] * 2.5 * 2 / np.pi * 0.4 / 100
    assert np.trapezoid(y, x) + tail == pytest.approx(2.5, rel=2e-6)
    peak = f(np.array([0.3]), 2.5, 0.3, 0.8)[0]
    assert f(np.array([0.3 - 0.4, 0.3 + 0.4]), 2.5, 0.3, 0.8) == pytest.approx([peak / 2, peak / 2], rel=1e-12)


def test_against_scipy_distributions():
    x = np.linspace(-3, 3, 101)
    sigma = 0.7 / (2 * np.sqrt(2 * np.log(2)))
    np.testing.assert_allclose(gaussian(x, 1.0, 0.2, 0.7), stats.norm.pdf(x, 0.2, sigma), rtol=1e-12)
    np.testing.assert_allclose(lorentzian(x, 1.0, 0.2, 0.7), stats.cauchy.pdf(x, 0.2, 0.35), rtol=1e-12)
    np.testing.assert_allclose(pseudo_voigt(x, 1.0, 0.2, 0.7, 0.0), gaussian(x, 1.0, 0.2, 0.7))
    np.testing.assert_allclose(pseudo_voigt(x, 1.0, 0.2, 0.7, 1.0), lorentzian(x, 1.0, 0.2, 0.7))


def test_jacobian_matches_finite_differences():
    x = np.linspace(0.2, 0.4, 51)
    p = np.array([3.0, 0.31, 0.02, 0.4])
    _, jac = shape_and_jacobian(x, *(np.array([[v]]) for v in p))
    for k in range(4):
        h = 1e-7 * max(abs(p[k]), 1e-3)
        hi, lo = p.copy(), p.copy()
        hi[k] += h
        lo[k] -= h
        num = (shape_and_jacobian(x, *(np.array([[v]]) for v in hi))[0]
               - shape_and_jacobian(x, *(np.array([[v]]) for v in lo))[0]) / (2 * h)
        np.testing.assert_allclose(jac[0, :, k], num[0], rtol=1e-5, atol=1e-6 * np.abs(num).max())


@pytest.mark.parametrize("name", SHAPES)
def test_zero_width_is_guarded(name):
    y = SHAPES[name](np.linspace(-1, 1, 11), 1.0, 0.05, 0.0)
    assert np.all(np.isfinite(y))


def test_broadcasts_over_a_batch():
    x = np.linspace(0, 1, 7)
    areas = np.array([[1.0], [2.0]])
    y = pseudo_voigt(x, areas, 0.5, 0.1, 0.3)
    assert y.shape == (2, 7)
    np.testing.assert_allclose(y[1], 2 * y[0])
