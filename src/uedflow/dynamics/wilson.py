"""Global Wilson analysis: ln(I/I0) vs s² over all rings at each delay.

A Debye–Waller factor common to all rings makes

.. math::

    \\ln\\frac{I_k(t)}{I_{0,k}} = b(t) - 4\\pi^2 s_k^2\\,\\Delta\\langle u^2\\rangle(t),

a straight line in s² [Å⁻²] (s = 1/d). At each delay a weighted line through all rings gives one
Δ⟨u²⟩(t) [Å²] (the slope) and an intercept b(t): b ≠ 0 beyond its error is an s-independent
intensity change, the signature of a background or normalisation error or of thermal diffuse
scattering moved under the peaks, not of atomic vibration. In a two-element rock-salt crystal the
all-odd rings scatter as |f_A e^{−W_A} − f_B e^{−W_B}|² and the all-even ones as the sum, so the
two parity classes get separate lines ("even", "odd"); a one-element or other structure has one ("all").

Per ring, the deviation of its quasi-equilibrium Δ⟨u²⟩ from its class's line, with its
significance z = deviation / σ, says which families vibrate more or less than the average.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from uedflow.crystal import parse_hkl
from uedflow.dynamics.summary import linear_fit, window_mask

__all__ = ["WilsonResult", "parity_classes", "wilson_analysis"]

_FOUR_PI2 = 4.0 * np.pi**2


def parity_classes(labels: tuple[str, ...] | list[str], n_species: int) -> tuple[str, ...]:
    """Class of each ring: "even"/"odd" (all-even / all-odd hkl) with two or more species, else "all".

    Blends ("333/511") take the class of their first reflection; a mixed-parity hkl is "all".

    Examples
    --------
    >>> parity_classes(["111", "200", "333/511"], 2)
    ('odd', 'even', 'odd')
    """
    if n_species < 2:
        return tuple("all" for _ in labels)
    out = []
    for lab in labels:
        h = [abs(int(v)) % 2 for v in parse_hkl(str(lab).split("/")[0])]
        out.append("even" if not any(h) else "odd" if all(h) else "all")
    return tuple(out)


@dataclass(frozen=True)
class WilsonResult:
    """Wilson lines per class and delay, and per-ring deviations in the quasi-equilibrium window.

    Attributes
    ----------
    classes : tuple of str
        Class names (rows of the (class, delay) arrays).
    ring_class : tuple of str
        Class of each ring.
    msd, msd_err : (C, D) ndarray
        Δ⟨u²⟩(t) [Å²] of each class and 1σ (scaled by √max(χ²_red, 1)).
    intercept, intercept_err : (C, D) ndarray
        b(t) = ln(I/I0) at s = 0 and 1σ (dimensionless).
    chi2_red : (C, D) ndarray
    msd_qe, msd_qe_err, intercept_qe, intercept_qe_err : (C,) ndarray
        The same from the quasi-equilibrium mean of ln(I/I0) [Å², 1].
    deviation, deviation_err : (P,) ndarray
        Ring's quasi-equilibrium Δ⟨u²⟩_s minus its class's Wilson Δ⟨u²⟩ [Å²], and 1σ.
    """

    classes: tuple[str, ...]
    ring_class: tuple[str, ...]
    msd: np.ndarray
    msd_err: np.ndarray
    intercept: np.ndarray
    intercept_err: np.ndarray
    chi2_red: np.ndarray
    msd_qe: np.ndarray
    msd_qe_err: np.ndarray
    intercept_qe: np.ndarray
    intercept_qe_err: np.ndarray
    deviation: np.ndarray
    deviation_err: np.ndarray

    def summary(self, labels: tuple[str, ...] | list[str]) -> dict[str, Any]:
        """JSON-safe dict: per class the quasi-equilibrium line, per ring the deviation and its z."""
        z = self.deviation / np.where(self.deviation_err > 0, self.deviation_err, np.nan)
        return {
            "classes": {c: {"msd_qe_angstrom2": float(self.msd_qe[i]), "msd_qe_err_angstrom2": float(self.msd_qe_err[i]),
                            "intercept_qe": float(self.intercept_qe[i]),
                            "intercept_qe_err": float(self.intercept_qe_err[i])}
                        for i, c in enumerate(self.classes)},
            "rings": {str(lab): {"class": self.ring_class[k], "deviation_angstrom2": float(self.deviation[k]),
                                 "deviation_err_angstrom2": float(self.deviation_err[k]), "z": float(z[k])}
                      for k, lab in enumerate(labels)},
        }


def _line(s0: np.ndarray, y: np.ndarray, ye: np.ndarray) -> tuple[float, float, float, float, float]:
    """(Δ⟨u²⟩, σ, b, σ_b, χ²_red) of y = b − 4π² s² Δ⟨u²⟩."""
    f = linear_fit(-_FOUR_PI2 * s0**2, y, ye)
    return f.slope, f.slope_err, f.intercept, f.intercept_err, f.chi2_red


def wilson_analysis(
    delay_ps: np.ndarray, s0: np.ndarray, intensity: np.ndarray, intensity_err: np.ndarray,
    labels: tuple[str, ...] | list[str], *, n_species: int, window_ps: tuple[float, float] = (40.0, 60.0),
) -> WilsonResult:
    """Wilson lines ln(I/I0) vs s² per delay and parity class (see the module docstring).

    Parameters
    ----------
    delay_ps : (D,) ndarray
        Delays [ps].
    s0 : (P,) ndarray
        Ring positions [Å⁻¹].
    intensity, intensity_err : (P, D) ndarray
        I/I0 and 1σ (NaN where a fit was flagged).
    labels : sequence of str
        hkl of each ring (for the parity class).
    n_species : int
        Number of distinct elements of the structure.
    window_ps : (float, float)
        Quasi-equilibrium window [ps].

    Returns
    -------
    WilsonResult
        NaN where a class has fewer than two rings at a delay.
    """
    s0 = np.asarray(s0, float)
    inten, ierr = np.asarray(intensity, float), np.asarray(intensity_err, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        y = np.where(inten > 0, np.log(np.where(inten > 0, inten, 1.0)), np.nan)
        ye = ierr / inten
    ring_class = parity_classes(labels, n_species)
    classes = tuple(dict.fromkeys(ring_class))
    n_c, n_d = len(classes), y.shape[1]
    per_delay = np.full((5, n_c, n_d), np.nan)
    qe = np.full((5, n_c), np.nan)
    sel = window_mask(delay_ps, window_ps)
    from uedflow.dynamics.traces import weighted_mean

    y_qe, ye_qe = weighted_mean(y[:, sel], ye[:, sel], axis=1)
    dev, dev_err = np.full(s0.size, np.nan), np.full(s0.size, np.nan)
    for c, name in enumerate(classes):
        rows = np.array([rc == name for rc in ring_class])
        for d in range(n_d):
            per_delay[:, c, d] = _line(s0[rows], y[rows, d], ye[rows, d])
        qe[:, c] = _line(s0[rows], y_qe[rows], ye_qe[rows])
        ring_msd = -(y_qe[rows] - qe[2, c]) / (_FOUR_PI2 * s0[rows] ** 2)
        dev[rows] = ring_msd - qe[0, c]
        dev_err[rows] = np.hypot(ye_qe[rows] / (_FOUR_PI2 * s0[rows] ** 2), qe[1, c])
    return WilsonResult(classes, ring_class, per_delay[0], per_delay[1], per_delay[2], per_delay[3], per_delay[4],
                        qe[0], qe[1], qe[2], qe[3], dev, dev_err)
