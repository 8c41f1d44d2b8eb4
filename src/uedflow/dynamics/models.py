"""Kinetic models: exponential rises with time zero and a Gaussian instrument response.

Pure, vectorised functions of delay t [ps]. The instrument response function
(IRF) is a Gaussian of full width at half maximum ``irf_fwhm`` [ps]; the
convolution is analytic (erfc form), evaluated with ``erfcx`` so it never
overflows, and reduces to the bare step model when ``irf_fwhm == 0``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import erf, erfcx

__all__ = ["exp_rise", "biexp_rise", "FWHM_TO_SIGMA"]

#: σ = FWHM × FWHM_TO_SIGMA for a Gaussian.
FWHM_TO_SIGMA = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))


def exp_rise(
    t: np.ndarray, amplitude: float = 1.0, tau: float = 1.0, t0: float = 0.0, irf_fwhm: float = 0.0
) -> np.ndarray:
    """Single-exponential rise after time zero, convolved with a Gaussian IRF.

    .. math::

        f(t) = A\\,\\Theta(t - t_0)\\,[1 - e^{-(t - t_0)/\\tau}] \\ast G_\\sigma(t)

    which evaluates, with x = t − t0 and σ = FWHM / (2√(2 ln 2)), to

    .. math::

        f = \\frac{A}{2}\\Big[1 + \\mathrm{erf}\\frac{x}{\\sigma\\sqrt2}\\Big]
          - \\frac{A}{2}\\, e^{-x/\\tau + \\sigma^2/2\\tau^2}\\,
            \\mathrm{erfc}\\frac{\\sigma^2/\\tau - x}{\\sigma\\sqrt2}

    Parameters
    ----------
    t : ndarray
        Delays [ps].
    amplitude : float
        Plateau value A (unit of the observable).
    tau : float
        Rise time constant [ps], > 0.
    t0 : float
        Time zero [ps].
    irf_fwhm : float
        FWHM of the Gaussian instrument response [ps]; 0 for none.

    Examples
    --------
    >>> float(exp_rise(1e6, amplitude=2.0, tau=5.0))
    2.0
    >>> round(float(exp_rise(5.0, tau=5.0)), 6)  # 1 - 1/e
    0.632121
    """
    t = np.asarray(t, dtype=float)
    tau = max(float(tau), 1e-12)
    x = t - t0
    sigma = abs(float(irf_fwhm)) * FWHM_TO_SIGMA
    if sigma < 1e-12:
        return np.where(x > 0, amplitude * -np.expm1(-np.maximum(x, 0.0) / tau), 0.0)
    root2s = np.sqrt(2.0) * sigma
    z = (sigma * sigma / tau - x) / root2s
    # exp(-x/τ + σ²/2τ²) erfc(z) == erfcx(z) exp(-x²/2σ²); use that form where z >= 0
    # and the direct form (erfc(z) <= 2, exponent small) where z < 0.
    with np.errstate(over="ignore", under="ignore"):
        tail_pos = erfcx(np.maximum(z, 0.0)) * np.exp(-(x * x) / (2 * sigma * sigma))
        expo = np.minimum(-x / tau + sigma * sigma / (2 * tau * tau), 700.0)
        tail_neg = np.exp(expo) * (2.0 - erfcx(np.maximum(-z, 0.0)) * np.exp(-np.minimum(z * z, 700.0)))
    tail = np.where(z >= 0, tail_pos, tail_neg)
    return 0.5 * amplitude * (1.0 + erf(x / root2s)) - 0.5 * amplitude * tail


def biexp_rise(
    t: np.ndarray,
    amplitude1: float = 1.0,
    tau1: float = 1.0,
    amplitude2: float = 0.0,
    tau2: float = 10.0,
    t0: float = 0.0,
    irf_fwhm: float = 0.0,
) -> np.ndarray:
    """Sum of two exponential rises sharing t0 and the IRF (see :func:`exp_rise`).

    Examples
    --------
    >>> float(biexp_rise(1e6, 1.0, 1.0, 0.5, 20.0))
    1.5
    """
    return exp_rise(t, amplitude1, tau1, t0, irf_fwhm) + exp_rise(t, amplitude2, tau2, t0, irf_fwhm)
