"""Quasi-equilibrium averages, anisotropy slopes and the lattice temperature.

* Quasi-equilibrium: the inverse-variance mean of one ring's trace over a delay
  window (default 40–60 ps, the paper's Figure 4a; the delays share one truth),
  its error combined with the error of the reference before time zero. Means
  over rings are direction-averaged (:mod:`uedflow.dynamics.temperature`).
* Anisotropy: weighted straight-line fits of a per-ring quantity against s, with
  the slope's 1σ, and the Δ⟨u²⟩ vs 1/τ relation across rings; differences between
  direction families are in :mod:`uedflow.dynamics.lattice`.
* Lattice temperature: from Δ⟨u²⟩ through the Debye model
  (:mod:`uedflow.physics.debye`), and from strain through the bulk thermal
  expansion coefficient α(T) (:mod:`uedflow.physics.expansion`), both with 1σ.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from uedflow.dynamics.traces import weighted_mean
from uedflow.errors import ConfigError, InputError

__all__ = ["window_mask", "window_average", "LineFit", "linear_fit", "temperature_from_msd_rise", "temperature_from_strain"]

log = logging.getLogger(__name__)


def window_mask(delay_ps: np.ndarray, window_ps: tuple[float, float]) -> np.ndarray:
    """(D,) bool: the delays inside ``window_ps`` (inclusive) [ps].

    Raises
    ------
    ConfigError
        An empty or reversed window, or one holding no delay.

    Examples
    --------
    >>> window_mask(np.array([0.0, 40.0, 50.0]), (40.0, 60.0)).tolist()
    [False, True, True]
    """
    delay_ps = np.asarray(delay_ps, float)
    lo, hi = (float(v) for v in window_ps)
    if not hi > lo:
        raise ConfigError(f"quasi-equilibrium window {lo:g} {hi:g} ps must be (start, end) with end > start; "
                          "give e.g. --qe-window 40 60")
    sel = (delay_ps >= lo) & (delay_ps <= hi)
    if not sel.any():
        raise ConfigError(
            f"quasi-equilibrium window {lo:g}-{hi:g} ps holds no delay (delays span {delay_ps.min():g} to "
            f"{delay_ps.max():g} ps); choose --qe-window inside the measured range"
        )
    return sel


def window_average(
    delay_ps: np.ndarray, values: np.ndarray, errors: np.ndarray, reference_err: np.ndarray, *,
    window_ps: tuple[float, float] = (40.0, 60.0),
) -> tuple[np.ndarray, np.ndarray]:
    """Mean of each trace over the delays inside ``window_ps`` (inclusive) [ps].

    Parameters
    ----------
    delay_ps : (D,) ndarray
    values, errors : (P, D) ndarray
    reference_err : (P,) ndarray
        1σ of the trace's reference offset, added in quadrature.
    window_ps : (float, float)

    Returns
    -------
    mean, err : (P,) ndarray

    Raises
    ------
    ConfigError
        An empty or reversed window, or one holding no delay.
    """
    sel = window_mask(delay_ps, window_ps)
    mean, err = weighted_mean(values[:, sel], errors[:, sel], axis=1)
    return mean, np.sqrt(err**2 + np.nan_to_num(reference_err) ** 2)


@dataclass(frozen=True)
class LineFit:
    """Weighted straight line y = intercept + slope·x, 1σ errors scaled by √max(χ²_red, 1)."""

    slope: float
    slope_err: float
    intercept: float
    intercept_err: float
    chi2_red: float
    n_points: int

    @property
    def z(self) -> float:
        """Significance of a non-zero slope, slope / slope_err."""
        return self.slope / self.slope_err if self.slope_err > 0 else float("nan")

    def summary(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {k: float(v) for k, v in self.__dict__.items()} | {"z": float(self.z)}


def linear_fit(x: np.ndarray, y: np.ndarray, y_err: np.ndarray, *, x_err: np.ndarray | None = None) -> LineFit:
    """Weighted least-squares line through (x, y ± y_err [, x ± x_err]).

    With x errors the effective variance σ² = σ_y² + (slope·σ_x)² is iterated.
    Fewer than two valid points give NaN (a LineFit, not an exception).

    Examples
    --------
    >>> f = linear_fit(np.array([0.0, 1.0, 2.0]), np.array([1.0, 3.0, 5.0]), np.ones(3))
    >>> round(f.slope, 6), round(f.intercept, 6)
    (2.0, 1.0)
    """
    x, y, ye = (np.asarray(a, float) for a in (x, y, y_err))
    xe = np.zeros_like(x) if x_err is None else np.asarray(x_err, float)
    ok = np.isfinite(x) & np.isfinite(y) & np.isfinite(ye) & (ye > 0) & np.isfinite(xe)
    n = int(ok.sum())
    if n < 2 or np.ptp(x[ok]) == 0:
        return LineFit(*(float("nan"),) * 5, n)
    x, y, ye, xe = x[ok], y[ok], ye[ok], xe[ok]
    slope = 0.0
    for _ in range(5 if x_err is not None else 1):
        w = 1.0 / (ye**2 + (slope * xe) ** 2)
        a = np.array([[w.sum(), (w * x).sum()], [(w * x).sum(), (w * x * x).sum()]])
        cov = np.linalg.inv(a)
        intercept, slope = cov @ np.array([(w * y).sum(), (w * x * y).sum()])
    chi2_red = float(np.sum(w * (y - intercept - slope * x) ** 2) / (n - 2)) if n > 2 else float("nan")
    scale = max(chi2_red, 1.0) if np.isfinite(chi2_red) else 1.0
    return LineFit(float(slope), float(np.sqrt(cov[1, 1] * scale)), float(intercept),
                   float(np.sqrt(cov[0, 0] * scale)), chi2_red, n)


def temperature_from_msd_rise(
    msd_rise_angstrom2: float, msd_err_angstrom2: float, *, base_temperature_K: float, debye_temperature_K: float,
    mass_u: float,
) -> tuple[float, float]:
    """Lattice temperature rise ΔT [K] and 1σ from a Debye–Waller Δ⟨u²⟩ [Å²] (Debye model).

    Uses :func:`uedflow.physics.debye.temperature_from_msd_with_error`; returns
    (NaN, NaN) when the rise is not finite or not physical.
    """
    if not (np.isfinite(msd_rise_angstrom2) and np.isfinite(msd_err_angstrom2)):
        return float("nan"), float("nan")
    from uedflow.physics.debye import temperature_from_msd_with_error

    try:
        est = temperature_from_msd_with_error(msd_rise_angstrom2, msd_err_angstrom2, base_temperature_K,
                                              debye_temperature_K, mass_u)
    except InputError as exc:
        log.warning("no Debye temperature from Δ⟨u²⟩ = %.3g Å²: %s", msd_rise_angstrom2, exc)
        return float("nan"), float("nan")
    return float(est.rise_K), float(est.temperature_err_K)


def temperature_from_strain(
    strain: float, strain_err: float, *, base_temperature_K: float, material: str
) -> tuple[float, float]:
    """Lattice temperature rise ΔT [K] and 1σ from a strain ε = exp(∫α dT) − 1.

    Inverts the bulk α(T) of :mod:`uedflow.physics.expansion`; σ_T = σ_ε / (α(T)(1 + ε)).
    Returns (NaN, NaN) when the material has no expansion model or the strain
    is not finite or not physical.
    """
    if not (np.isfinite(strain) and np.isfinite(strain_err)):
        return float("nan"), float("nan")
    from uedflow.physics.expansion import linear_expansion_coefficient
    from uedflow.physics.expansion import temperature_from_strain as invert

    try:
        final = float(invert(strain, base_temperature_K, material))
        alpha = float(linear_expansion_coefficient(final, material))
    except InputError as exc:
        log.warning("no temperature from strain %.3g: %s", strain, exc)
        return float("nan"), float("nan")
    return final - base_temperature_K, float(strain_err / (alpha * (1.0 + strain)))
