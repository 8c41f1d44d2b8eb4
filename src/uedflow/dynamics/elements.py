"""Δ⟨u²⟩ per element from all rings at once, through the structure factor.

At each delay the ring intensity ratios I/I0 are fitted with one Δ⟨u_e²⟩ per element e [Å²]
(:class:`uedflow.crystal.vibration.RingPartials`):

.. math::

    \\frac{I_r(t)}{I_{0,r}} = \\frac{\\sum_m M_m |\\sum_e G_{e,m} e^{-2\\pi^2 (\\langle u_e^2\\rangle_0
        + \\Delta\\langle u_e^2\\rangle(t)) s_r^2}|^2}{\\sum_m M_m |\\sum_e G_{e,m}
        e^{-2\\pi^2 \\langle u_e^2\\rangle_0 s_r^2}|^2}

by weighted least squares (covariance scaled by max(1, χ²_red)), so that in rock salt the
all-odd rings (G_A − G_B) and the all-even ones (G_A + G_B) separate the two elements. The static
⟨u_e²⟩_0 come from the Debye model at the base temperature with each element's mass and Debye
temperature; they only weigh the elements' shares and matter little. A kinetic fit (shared t0, IRF)
of each element's trace gives its amplitude and τ. The per-ring Δ⟨u²⟩_s = −ln(I/I0)/(4π²s²) of
:mod:`uedflow.dynamics.traces` stays: it is the paper's *effective* per-ring value, which for the
odd rings of a two-element crystal is not the vibration of any atom.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import least_squares

from uedflow.crystal import Structure
from uedflow.crystal.vibration import RingPartials, ring_partials
from uedflow.dynamics.kinetics import fit_global, stack_fits
from uedflow.dynamics.summary import window_mask
from uedflow.dynamics.traces import weighted_mean
from uedflow.errors import FitError

__all__ = ["ElementMsd", "element_static_msd", "fit_element_msd"]

log = logging.getLogger(__name__)

_FOUR_PI2 = 4.0 * np.pi**2


def element_static_msd(structure: Structure, temperature_K: float, debye_temperature_K: float,
                       element_debye_K: dict[str, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(⟨u_e²⟩_0 [Å²], Θ_e [K]) of each element of ``structure`` (Debye model, the element's own mass).

    ``element_debye_K`` maps element -> Debye temperature [K]; others take ``debye_temperature_K``.
    """
    from uedflow.constants import ATOMIC_MASS_U
    from uedflow.physics.debye import msd_debye_angstrom2

    theta = np.array([float((element_debye_K or {}).get(e, debye_temperature_K)) for e in structure.elements])
    mass = np.array([ATOMIC_MASS_U[e] for e in structure.elements])
    return np.asarray(msd_debye_angstrom2(temperature_K, theta, mass), dtype=float), theta


@dataclass(frozen=True)
class ElementMsd:
    """Δ⟨u_e²⟩(t) per element and its kinetics.

    Attributes
    ----------
    elements : tuple of str
    msd0 : (E,) ndarray
        Static ⟨u_e²⟩_0 the fit used [Å²].
    msd, msd_err : (E, D) ndarray
        Δ⟨u_e²⟩ per delay and 1σ [Å²] (NaN where fewer rings than elements + 1 were fitted).
    corr : (D,) ndarray
        Correlation coefficient of the first two elements (NaN with one element).
    chi2_red : (D,) ndarray
    qe, qe_err : (E,) ndarray
        The same from the quasi-equilibrium means of I/I0 [Å²]; ``qe_corr`` their correlation.
    amplitude, amplitude_err, tau_ps, tau_err_ps, t0_ps, t0_err_ps, success : (E,) ndarray
        Kinetic fit of each element's trace (exponential rise with the IRF, shared t0).
    curves : (E, D) ndarray
        The fitted kinetic curves [Å²].
    """

    elements: tuple[str, ...]
    msd0: np.ndarray
    msd: np.ndarray
    msd_err: np.ndarray
    corr: np.ndarray
    chi2_red: np.ndarray
    qe: np.ndarray
    qe_err: np.ndarray
    qe_corr: float
    kinetics: dict[str, np.ndarray]
    curves: np.ndarray

    def summary(self) -> dict[str, Any]:
        """JSON-safe per-element quasi-equilibrium and kinetic values."""
        out: dict[str, Any] = {"qe_correlation": self.qe_corr, "elements": {}}
        for e, el in enumerate(self.elements):
            out["elements"][el] = {
                "msd_static_angstrom2": float(self.msd0[e]), "msd_qe_angstrom2": float(self.qe[e]),
                "msd_qe_err_angstrom2": float(self.qe_err[e]),
                **{k: float(v[e]) for k, v in self.kinetics.items()},
            }
        return out


def _fit_one(rp: RingPartials, msd0: np.ndarray, ratio: np.ndarray, err: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, float]:
    """(Δ⟨u_e²⟩, covariance scaled by max(1, χ²_red), χ²_red) at one delay."""
    n_e = msd0.size
    ok = np.isfinite(ratio) & np.isfinite(err) & (err > 0)
    if ok.sum() < n_e + 1:
        return np.full(n_e, np.nan), np.full((n_e, n_e), np.nan), np.nan
    sub = RingPartials(tuple(np.array(rp.labels)[ok]), rp.elements, rp.s[ok], rp.partials[ok], rp.weights[ok])
    y, e = ratio[ok], err[ok]
    i0 = sub.intensity(msd0)

    def resid(x: np.ndarray) -> np.ndarray:
        return (sub.intensity(msd0 + x) / i0 - y) / e

    def jac(x: np.ndarray) -> np.ndarray:
        r = sub.intensity(msd0 + x) / i0
        return -(_FOUR_PI2 * sub.s**2 * r)[:, None] * sub.element_weights(msd0 + x) / e[:, None]

    res = least_squares(resid, np.zeros(n_e), jac=jac, x_scale=1e-3, method="lm")
    dof = y.size - n_e
    chi2_red = float(np.sum(res.fun**2) / dof)
    jtj = res.jac.T @ res.jac
    if np.linalg.cond(jtj) > 1e12:  # the rings do not tell the elements apart (equal weights)
        return np.full(n_e, np.nan), np.full((n_e, n_e), np.nan), chi2_red
    return res.x, np.linalg.inv(jtj) * max(1.0, chi2_red), chi2_red


def _corr(cov: np.ndarray) -> float:
    if cov.shape[0] < 2 or not np.all(np.isfinite(np.diag(cov))):
        return float("nan")
    return float(cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1]))


def fit_element_msd(
    delay_ps: np.ndarray, labels: tuple[str, ...] | list[str], intensity: np.ndarray, intensity_err: np.ndarray,
    structure: Structure, msd0_angstrom2: np.ndarray, *, window_ps: tuple[float, float] = (40.0, 60.0),
    irf_fwhm_ps: float = 0.5, t0_guess_ps: float = 0.0,
) -> ElementMsd:
    """Fit Δ⟨u_e²⟩ per element and delay from the rings' I/I0 (module docstring).

    Parameters
    ----------
    delay_ps : (D,) ndarray
        Delays [ps].
    labels : sequence of str
        hkl of each ring (``"333/511"`` for a blend).
    intensity, intensity_err : (P, D) ndarray
        I/I0 of each ring and 1σ (NaN where the peak fit was flagged).
    structure : Structure
        The crystal.
    msd0_angstrom2 : (E,) ndarray
        Static ⟨u_e²⟩_0 per element of ``structure.elements`` [Å²] (:func:`element_static_msd`).
    window_ps : (float, float)
        Quasi-equilibrium window [ps].
    irf_fwhm_ps, t0_guess_ps : float
        IRF FWHM and time-zero start value of the kinetic fits [ps].

    Returns
    -------
    ElementMsd
    """
    rp = ring_partials(structure, labels)
    msd0 = np.asarray(msd0_angstrom2, dtype=float)
    ratio, err = np.asarray(intensity, float), np.asarray(intensity_err, float)
    n_e, n_d = msd0.size, ratio.shape[1]
    msd, msd_err = np.full((n_e, n_d), np.nan), np.full((n_e, n_d), np.nan)
    corr, chi2 = np.full(n_d, np.nan), np.full(n_d, np.nan)
    for d in range(n_d):
        x, cov, chi2[d] = _fit_one(rp, msd0, ratio[:, d], err[:, d])
        msd[:, d], msd_err[:, d], corr[d] = x, np.sqrt(np.diag(cov)), _corr(cov)
    sel = window_mask(delay_ps, window_ps)
    y_qe, e_qe = weighted_mean(ratio[:, sel], err[:, sel], axis=1)
    qe, cov_qe, _ = _fit_one(rp, msd0, y_qe, e_qe)
    names = ("amplitude", "amplitude_err", "tau_ps", "tau_err_ps", "t0_ps", "t0_err_ps", "success")
    kinetics = {k: np.full(n_e, np.nan) for k in names}
    curves = np.full((n_e, n_d), np.nan)
    try:
        fits = fit_global(delay_ps, msd, msd_err, irf_fwhm_ps=irf_fwhm_ps, t0_guess_ps=t0_guess_ps)
        st = stack_fits(fits)
        kinetics = {k: st[k] for k in names}
        curves = np.array([f.curve(np.asarray(delay_ps, float)) for f in fits])
    except FitError as exc:
        log.warning("no kinetic fit of the per-element Δ⟨u²⟩: %s", exc)
    return ElementMsd(rp.elements, msd0, msd, msd_err, corr, chi2, qe, np.sqrt(np.diag(cov_qe)),
                      _corr(cov_qe), kinetics, curves)
