"""Background under Bragg peaks: a polynomial fitted jointly with the peaks, or a robust baseline.

Two models, both applied per delay (the diffuse background changes after the pump):

``"poly"``
    A low-order polynomial in s over each fit window, fitted jointly with the
    peaks (:func:`polynomial_design` gives its design matrix).
``"baseline"``
    A smooth cubic B-spline through the whole profile, fitted by linear least
    squares to the points outside the peak windows with iterative asymmetric
    clipping of what is left of the peaks (:func:`robust_baseline`), and
    subtracted before the peak fits (which keep a local linear term for what
    the spline misses under the rings).

``"auto"`` is :data:`DEFAULT_BACKGROUND`, chosen by the comparison on simulated
powder profiles in ``tests/test_background.py``: the joint polynomial recovers
Δ⟨u²⟩ and strain amplitudes of PbSe within ~1 %, while the baseline, which has
almost no ring-free points to anchor it between the dense rings at s > 0.45 Å⁻¹,
leaves χ²_red in the hundreds there (it does well only for isolated rings).
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import BSpline

from uedflow.errors import ConfigError, InputError

__all__ = ["BACKGROUNDS", "DEFAULT_BACKGROUND", "resolve_background", "polynomial_design", "robust_baseline"]

#: Accepted background model names.
BACKGROUNDS = ("auto", "poly", "baseline")
#: What "auto" means (see module docstring and tests/test_background.py).
DEFAULT_BACKGROUND = "poly"


def resolve_background(name: str) -> str:
    """Check a background model name and resolve ``"auto"``.

    Examples
    --------
    >>> resolve_background("auto")
    'poly'
    """
    key = str(name).lower().strip()
    if key not in BACKGROUNDS:
        raise ConfigError(f"background model {name!r} is unknown; choose one of {', '.join(BACKGROUNDS)}")
    return DEFAULT_BACKGROUND if key == "auto" else key


def polynomial_design(x: np.ndarray, degree: int) -> np.ndarray:
    """Design matrix of a polynomial in x scaled to [-1, 1] over x's range.

    Parameters
    ----------
    x : (N,) ndarray
    degree : int
        Polynomial degree (>= 0).

    Returns
    -------
    (N, degree + 1) ndarray
        Columns 1, t, t², … with t = (x − mid) / half-range.

    Examples
    --------
    >>> polynomial_design(np.array([0.0, 1.0, 2.0]), 1).tolist()
    [[1.0, -1.0], [1.0, 0.0], [1.0, 1.0]]
    """
    x = np.asarray(x, dtype=float)
    mid = 0.5 * (x.max() + x.min())
    half = max(0.5 * (x.max() - x.min()), 1e-300)
    return np.vander((x - mid) / half, degree + 1, increasing=True)


def _spline_design(x: np.ndarray, knot_spacing: float) -> np.ndarray:
    """Cubic B-spline design matrix on uniform knots spanning x, (N, K)."""
    n_int = max(int(np.ceil((x.max() - x.min()) / knot_spacing)), 1)
    inner = np.linspace(x.min(), x.max(), n_int + 1)
    knots = np.concatenate([[inner[0]] * 3, inner, [inner[-1]] * 3])
    return BSpline.design_matrix(x, knots, 3).toarray()


def robust_baseline(
    s: np.ndarray,
    profiles: np.ndarray,
    *,
    exclude: list[tuple[float, float]] | None = None,
    knot_spacing: float | None = None,
    clip_sigma: float = 2.0,
    n_iter: int = 8,
) -> np.ndarray:
    """Smooth baseline under peaks: B-spline least squares with peak exclusion.

    Points inside the ``exclude`` windows are never used; of the rest, points
    more than ``clip_sigma`` residual standard deviations *above* the current
    baseline (remnants of peaks) are dropped and the fit repeated.

    Parameters
    ----------
    s : (N,) ndarray
        Scattering vector s [Å⁻¹], ascending.
    profiles : (N,) or (B, N) ndarray
        Intensities; NaN points are ignored.
    exclude : list of (float, float), optional
        s windows [Å⁻¹] holding peaks.
    knot_spacing : float, optional
        Distance between spline knots [Å⁻¹]; default 1/12 of the s range.
    clip_sigma : float
        One-sided clipping threshold.
    n_iter : int
        Clipping iterations.

    Returns
    -------
    ndarray
        Baseline, same shape as ``profiles``.

    Raises
    ------
    InputError
        Fewer usable points than spline coefficients.

    Examples
    --------
    >>> s = np.linspace(0.1, 1.0, 400)
    >>> y = 5 * np.exp(-s) + 3 * np.exp(-((s - 0.5) / 0.01) ** 2)
    >>> base = robust_baseline(s, y, exclude=[(0.46, 0.54)])
    >>> bool(np.max(np.abs(base - 5 * np.exp(-s))) < 1e-3)
    True
    """
    s = np.asarray(s, dtype=float)
    y = np.atleast_2d(np.asarray(profiles, dtype=float))
    spacing = knot_spacing or (s.max() - s.min()) / 12.0
    design = _spline_design(s, spacing)
    keep0 = np.ones(s.shape, bool)
    for lo, hi in exclude or []:
        keep0 &= ~((s >= lo) & (s <= hi))
    out = np.full(y.shape, np.nan)
    for b, row in enumerate(y):
        keep = keep0 & np.isfinite(row)
        if keep.sum() <= design.shape[1]:
            raise InputError(
                f"robust baseline: only {int(keep.sum())} usable points outside the peak windows for "
                f"{design.shape[1]} spline coefficients; use background='poly' or a wider s range"
            )
        for _ in range(n_iter):
            coef, *_ = np.linalg.lstsq(design[keep], row[keep], rcond=None)
            base = design @ coef
            resid = row - base
            scale = 1.4826 * np.median(np.abs(resid[keep]))
            new = keep & (resid < clip_sigma * max(scale, 1e-300))
            if new.sum() <= design.shape[1] or np.array_equal(new, keep):
                break
            keep = new
        out[b] = base
    return out.reshape(np.shape(profiles))
