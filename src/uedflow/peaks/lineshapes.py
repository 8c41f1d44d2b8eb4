"""Peak line shapes: pure, vectorised functions of s [Å⁻¹] with area, center and FWHM.

Every shape is normalised so that its integral over s equals ``area``; widths
are full widths at half maximum [Å⁻¹] and are guarded against zero (clipped to
:data:`TINY`). Parameters broadcast against ``x``, so a batch of B profiles is
evaluated at once with parameters of shape (B, 1) and ``x`` of shape (N,).
"""

from __future__ import annotations

import numpy as np

__all__ = ["gaussian", "lorentzian", "pseudo_voigt", "shape_and_jacobian", "SHAPES", "TINY"]

#: Smallest width used in a line shape [Å⁻¹]; guards against division by zero.
TINY = 1e-12
_LN2 = np.log(2.0)
_G_NORM = np.sqrt(4.0 * _LN2 / np.pi)

#: Line-shape names accepted by the peak fits, mapped to the pseudo-Voigt mixing
#: parameter they fix (None: η is fitted).
SHAPES: dict[str, float | None] = {"gaussian": 0.0, "lorentzian": 1.0, "pseudo-voigt": None}


def gaussian(x: np.ndarray, area: float = 1.0, center: float = 0.0, fwhm: float = 1.0) -> np.ndarray:
    """Area-normalised Gaussian.

    .. math::

        G(x) = A \\sqrt{\\frac{4\\ln 2}{\\pi}}\\,\\frac{1}{w}\\,
               \\exp\\Big[-4\\ln 2\\,\\frac{(x - c)^2}{w^2}\\Big]

    Parameters
    ----------
    x : ndarray
        Abscissa, e.g. s [Å⁻¹].
    area, center, fwhm : float or ndarray
        Integrated intensity A, centre c and full width at half maximum w (same unit as x).

    Examples
    --------
    >>> round(float(gaussian(0.5, fwhm=1.0) / gaussian(0.0, fwhm=1.0)), 6)
    0.5
    """
    w = np.maximum(np.abs(fwhm), TINY)
    d = (np.asarray(x, dtype=float) - center) / w
    return area * _G_NORM / w * np.exp(-4.0 * _LN2 * d * d)


def lorentzian(x: np.ndarray, area: float = 1.0, center: float = 0.0, fwhm: float = 1.0) -> np.ndarray:
    """Area-normalised Lorentzian (Cauchy).

    .. math::

        L(x) = \\frac{2A}{\\pi w}\\,\\frac{1}{1 + 4 (x - c)^2 / w^2}

    Examples
    --------
    >>> round(float(lorentzian(0.5, fwhm=1.0) / lorentzian(0.0, fwhm=1.0)), 6)
    0.5
    """
    w = np.maximum(np.abs(fwhm), TINY)
    d = (np.asarray(x, dtype=float) - center) / w
    return area * 2.0 / (np.pi * w) / (1.0 + 4.0 * d * d)


def pseudo_voigt(
    x: np.ndarray, area: float = 1.0, center: float = 0.0, fwhm: float = 1.0, eta: float = 0.5
) -> np.ndarray:
    """Pseudo-Voigt: η L + (1 − η) G with a common area, centre and FWHM.

    .. math::

        V(x) = \\eta\\,L(x; A, c, w) + (1 - \\eta)\\,G(x; A, c, w), \\quad 0 \\le \\eta \\le 1

    Examples
    --------
    >>> x = np.linspace(-50, 50, 200001)
    >>> round(float(np.trapezoid(pseudo_voigt(x, area=2.0, fwhm=0.3, eta=0.4), x)), 3)
    1.998
    """
    eta = np.clip(eta, 0.0, 1.0)
    return eta * lorentzian(x, area, center, fwhm) + (1.0 - eta) * gaussian(x, area, center, fwhm)


def shape_and_jacobian(
    x: np.ndarray, area: np.ndarray, center: np.ndarray, fwhm: np.ndarray, eta: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pseudo-Voigt values and analytic derivatives with respect to (area, center, fwhm, eta).

    Parameters
    ----------
    x : (N,) ndarray
        Abscissa.
    area, center, fwhm, eta : (B, 1) ndarray
        Parameters of B profiles (η = 0 Gaussian, 1 Lorentzian).

    Returns
    -------
    value : (B, N) ndarray
    jac : (B, N, 4) ndarray
        ∂V/∂area, ∂V/∂center, ∂V/∂fwhm, ∂V/∂eta.
    """
    w = np.maximum(np.abs(fwhm), TINY)
    d = x - center
    u2 = (d / w) ** 2
    g = _G_NORM / w * np.exp(-4.0 * _LN2 * u2)  # unit-area shapes
    lor_den = 1.0 + 4.0 * u2
    lo = 2.0 / (np.pi * w) / lor_den
    shape = eta * lo + (1.0 - eta) * g
    value = area * shape
    dg_dc = g * 8.0 * _LN2 * d / (w * w)
    dl_dc = lo * 8.0 * d / (w * w * lor_den)
    dg_dw = g * (-1.0 / w + 8.0 * _LN2 * d * d / w**3)
    dl_dw = lo * (-1.0 / w + 8.0 * d * d / (w**3 * lor_den))
    jac = np.stack(
        [
            shape,
            area * (eta * dl_dc + (1.0 - eta) * dg_dc),
            area * (eta * dl_dw + (1.0 - eta) * dg_dw),
            area * (lo - g),
        ],
        axis=-1,
    )
    return value, jac
