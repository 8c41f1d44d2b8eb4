"""Thermal expansion: bulk α(T), lattice temperature from strain, static-heating fits.

Bulk model. Knight et al. (Mater. Adv. 3, 2022, doi:10.1039/D1MA01093J) describe
the cell volume of PbSe from 10 to 500 K by a two-term Debye internal energy
with characteristic temperatures 104 K and 219 K and Grüneisen constants 1.79
and 2.28 (cation and anion sublattices, half of the modes each). The linear
expansion coefficient then follows the weighted heat capacities,

.. math::

    \\alpha(T) = \\alpha_{295}\\,\\frac{\\sum_i \\gamma_i C_V(T; \\Theta_i)}
                                     {\\sum_i \\gamma_i C_V(295\\,K; \\Theta_i)},

scaled to the room-temperature value α(295 K) = 19.4 × 10⁻⁶ K⁻¹ commonly
quoted for bulk PbSe (handbook compilations such as S. I. Novikova, *Thermal
Expansion of Solids*, 1974). For PbS the same shape is scaled to the commonly
quoted 20.3 × 10⁻⁶ K⁻¹. Treat both as ±5 % numbers and pass a measured
``alpha_per_K`` where precision matters.

Strain is ε = Δa/a = exp(∫α dT) − 1 ≈ ∫α dT between two temperatures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import brentq

from uedflow.errors import FitError, InputError
from uedflow.physics.debye import heat_capacity_debye_kB

__all__ = [
    "ALPHA_REL_ERR",
    "EXPANSION_MODELS",
    "linear_expansion_coefficient",
    "thermal_strain",
    "temperature_from_strain",
    "StaticExpansionFit",
    "fit_static_expansion",
    "ExpansionRatio",
    "nonequilibrium_to_static_ratio",
]

#: material -> (α at 295 K [1/K], ((Θ_i [K], γ_i), ...), source)
EXPANSION_MODELS: dict[str, tuple[float, tuple[tuple[float, float], ...], str]] = {
    "PbSe": (
        19.4e-6,
        ((104.0, 1.79), (219.0, 2.28)),
        "α(295 K) 19.4e-6/K (handbook value, e.g. Novikova 1974); T-shape: two-term Debye fit of Knight et al., Mater. Adv. 3 (2022)",
    ),
    "PbS": (
        20.3e-6,
        ((104.0, 1.79), (219.0, 2.28)),
        "α(295 K) 20.3e-6/K (handbook value); T-shape borrowed from PbSe (Knight et al. 2022)",
    ),
}


#: Relative 1σ of the bulk α(T) models above ("treat both as ±5 % numbers"): a systematic error of any
#: temperature read from strain through them.
ALPHA_REL_ERR = 0.05


def _model(material: str) -> tuple[float, tuple[tuple[float, float], ...], str]:
    names = {k.lower(): k for k in EXPANSION_MODELS}
    if material.lower() not in names:
        raise InputError(
            f"no thermal-expansion data for {material!r}; available: {', '.join(EXPANSION_MODELS)}. "
            "Give a measured expansion coefficient instead (alpha_per_K)"
        )
    return EXPANSION_MODELS[names[material.lower()]]


def linear_expansion_coefficient(temperature_K: ArrayLike, material: str = "PbSe") -> np.ndarray:
    """Bulk linear thermal expansion coefficient α(T) [1/K].

    Examples
    --------
    >>> round(float(linear_expansion_coefficient(295.0)) * 1e6, 2)
    19.4
    """
    a295, terms, _ = _model(material)
    T = _check_temperature("temperature_K", temperature_K)

    def shape(t: ArrayLike) -> np.ndarray:
        return sum(g * heat_capacity_debye_kB(t, th) for th, g in terms)

    return a295 * shape(T) / shape(295.0)


_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(48)


def _check_temperature(name: str, value: ArrayLike) -> np.ndarray:
    T = np.asarray(value, dtype=float)
    bad = ~np.isfinite(T) | (T < 0)
    if np.any(bad):
        raise InputError(f"{name} must be finite and >= 0 K, got {float(T[bad].flat[0]):g}")
    return T


def thermal_strain(temperature_K: ArrayLike, base_temperature_K: float, material: str = "PbSe") -> np.ndarray:
    """Linear strain Δa/a = exp(∫_{T₀}^{T} α dT) − 1 of the bulk crystal.

    Examples
    --------
    >>> f"{float(thermal_strain(240.0, 90.0)):.2e}"
    '2.77e-03'
    """
    T = _check_temperature("temperature_K", temperature_K)
    t0 = float(_check_temperature("base_temperature_K", base_temperature_K))
    mid, half = 0.5 * (T + t0), 0.5 * (T - t0)
    t = mid[..., None] + half[..., None] * _GL_NODES
    integral = half * (linear_expansion_coefficient(t, material) @ _GL_WEIGHTS)
    return np.expm1(integral)


def temperature_from_strain(
    strain: ArrayLike, base_temperature_K: float, material: str = "PbSe", *, alpha_per_K: float | None = None
) -> np.ndarray:
    """Lattice temperature [K] that produces a measured strain from T₀ (inverse of :func:`thermal_strain`).

    Parameters
    ----------
    strain : array_like
        ε = Δa/a (= −Δs/s of a Bragg peak).
    base_temperature_K : float
        Temperature before excitation [K].
    material : str
        Material of the bulk α(T) model.
    alpha_per_K : float, optional
        A constant expansion coefficient (e.g. from a static-heating fit)
        instead of the bulk model: T = T₀ + ln(1 + ε)/α.

    Examples
    --------
    >>> round(float(temperature_from_strain(thermal_strain(240.0, 90.0), 90.0)), 6)
    240.0
    """
    eps = np.asarray(strain, dtype=float)
    bad = ~(np.abs(eps) <= 0.1)
    if np.any(bad):
        raise InputError(
            f"strain must be finite with |strain| <= 0.1 (a fraction, not per cent; thermal strains are ~1e-3), "
            f"got {float(eps[bad].flat[0]):.3g}"
        )
    t0 = float(_check_temperature("base_temperature_K", base_temperature_K))
    if alpha_per_K is not None:
        if not alpha_per_K > 0:
            raise InputError(f"alpha_per_K must be positive, got {alpha_per_K!r}")
        return t0 + np.log1p(eps) / alpha_per_K
    out = np.empty(eps.shape)
    for i, e in np.ndenumerate(eps):
        lo, hi = 0.0, t0 + 100.0
        while float(thermal_strain(hi, t0, material)) < e:
            hi *= 2.0
        if float(thermal_strain(lo, t0, material)) > e:
            raise InputError(f"strain {e:.3g} is below the strain at 0 K from {t0} K (cooling below 0 K); check the "
                             "sign: strain = Δa/a is positive on heating")
        out[i] = brentq(lambda t, e=e: float(thermal_strain(t, t0, material)) - e, lo, hi, xtol=1e-9)
    return out


@dataclass(frozen=True)
class StaticExpansionFit:
    """Weighted linear fits a(T) = a_ref + b (T − T_ref) per peak; α = b / a_ref.

    Attributes (arrays over peaks unless noted)
    -------------------------------------------
    labels : tuple of str
    alpha_per_K, alpha_err_per_K : ndarray
    a_ref_angstrom, a_ref_err_angstrom : ndarray
        Lattice constant at T_ref and its 1σ.
    chi2_red : ndarray
        Reduced χ² (NaN with 2 points); errors are scaled by √χ²_red when no
        per-point errors were given.
    reference_temperature_K : float
    success : bool
    message : str
    """

    labels: tuple[str, ...]
    alpha_per_K: np.ndarray
    alpha_err_per_K: np.ndarray
    a_ref_angstrom: np.ndarray
    a_ref_err_angstrom: np.ndarray
    chi2_red: np.ndarray
    reference_temperature_K: float
    success: bool
    message: str

    def summary(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "labels": list(self.labels),
            "alpha_per_K": self.alpha_per_K.tolist(),
            "alpha_err_per_K": self.alpha_err_per_K.tolist(),
            "a_ref_angstrom": self.a_ref_angstrom.tolist(),
            "a_ref_err_angstrom": self.a_ref_err_angstrom.tolist(),
            "chi2_red": [None if not np.isfinite(c) else float(c) for c in self.chi2_red],
            "reference_temperature_K": self.reference_temperature_K,
            "success": self.success,
            "message": self.message,
        }

    def report(self) -> str:
        """Text table: α per peak in 10⁻⁶/K."""
        lines = [f"static expansion (T_ref = {self.reference_temperature_K:.1f} K)", "peak   alpha [1e-6/K]   a_ref [Å]"]
        for lab, a, e, a0 in zip(self.labels, self.alpha_per_K, self.alpha_err_per_K, self.a_ref_angstrom, strict=True):
            lines.append(f"{lab:<6} {a * 1e6:7.2f} ± {e * 1e6:5.2f}   {a0:.5f}")
        if self.message:
            lines.append(f"note: {self.message}")
        return "\n".join(lines)


def fit_static_expansion(
    temperature_K: ArrayLike,
    lattice_constant_angstrom: ArrayLike,
    lattice_constant_err_angstrom: ArrayLike | None = None,
    *,
    labels: list[str] | tuple[str, ...] | None = None,
    reference_temperature_K: float | None = None,
) -> StaticExpansionFit:
    """Expansion coefficient per peak from a static-heating series.

    Parameters
    ----------
    temperature_K : (n_T,) array_like
        Sample temperatures of the static patterns [K].
    lattice_constant_angstrom : (n_peaks, n_T) array_like
        Lattice constant from each peak (a = d √(h²+k²+l²)) at each temperature [Å].
    lattice_constant_err_angstrom : (n_peaks, n_T) array_like, optional
        1σ of each value; without it errors come from the scatter (χ²_red = 1).
    labels : sequence of str, optional
        Peak labels (e.g. ``["200", "220", "222"]``).
    reference_temperature_K : float, optional
        Temperature at which α = (da/dT)/a is quoted; default the lowest T.

    Raises
    ------
    FitError
        Fewer than two temperatures.

    Examples
    --------
    >>> T = [90.0, 150.0, 200.0, 300.0]
    >>> a = [[6.1 * (1 + 2e-5 * (t - 90.0)) for t in T]]
    >>> f = fit_static_expansion(T, a, labels=["200"])
    >>> round(float(f.alpha_per_K[0]) * 1e6, 3)
    20.0
    """
    T = np.asarray(temperature_K, dtype=float)
    A = np.atleast_2d(np.asarray(lattice_constant_angstrom, dtype=float))
    if T.ndim != 1 or A.shape[1] != T.size:
        raise InputError(
            f"lattice_constant_angstrom must be (n_peaks, n_T) with n_T = {T.size} temperatures; got {A.shape}"
        )
    if T.size < 2 or np.unique(T).size < 2:
        raise FitError(f"static expansion fit needs at least two distinct temperatures, got {T.tolist()}")
    if not (np.all(np.isfinite(T)) and np.all(np.isfinite(A))):
        raise InputError("temperatures and lattice constants must be finite; drop failed peak fits first")
    labels = tuple(labels) if labels is not None else tuple(str(i) for i in range(len(A)))
    if len(labels) != len(A):
        raise InputError(f"{len(labels)} labels for {len(A)} peaks")
    have_err = lattice_constant_err_angstrom is not None
    S = np.broadcast_to(np.asarray(lattice_constant_err_angstrom, dtype=float), A.shape) if have_err else np.ones_like(A)
    if have_err and np.any(~(S > 0)):
        raise InputError("lattice_constant_err_angstrom must be positive everywhere")
    tref = float(T.min() if reference_temperature_K is None else reference_temperature_K)
    X = np.stack([np.ones_like(T), T - tref], axis=1)
    n_pk = len(A)
    alpha, alpha_err, a0, a0_err, chi2 = (np.full(n_pk, np.nan) for _ in range(5))
    dof = T.size - 2
    for p in range(n_pk):
        w = 1.0 / S[p] ** 2
        cov = np.linalg.inv(X.T @ (X * w[:, None]))
        beta = cov @ (X.T @ (w * A[p]))
        resid = (A[p] - X @ beta) / S[p]
        chi2[p] = float(resid @ resid / dof) if dof > 0 else np.nan
        if not have_err:
            cov = cov * (chi2[p] if dof > 0 else np.nan)
        a0[p], slope = beta
        a0_err[p] = np.sqrt(cov[0, 0])
        alpha[p] = slope / a0[p]
        # α = b/a0: relative errors add with the b-a0 covariance
        alpha_err[p] = abs(alpha[p]) * np.sqrt(
            cov[1, 1] / slope**2 + cov[0, 0] / a0[p] ** 2 - 2 * cov[0, 1] / (slope * a0[p])
        ) if slope != 0 else np.sqrt(cov[1, 1]) / a0[p]
    ok = bool(np.all(np.isfinite(alpha_err)))
    msg = "" if ok else "errors undefined with two temperatures and no per-point errors; give errors or more points"
    return StaticExpansionFit(labels, alpha, alpha_err, a0, a0_err, chi2, tref, ok, msg)


@dataclass(frozen=True)
class ExpansionRatio:
    """Nonequilibrium strain compared with the static expectation α ΔT.

    ``ratio`` = static / nonequilibrium; ``deficit`` = 1 − ratio (the paper's
    "~20 % less under the static condition" is deficit ≈ 0.2 along ⟨100⟩).
    """

    ratio: float
    ratio_err: float
    deficit: float
    static_strain: float
    static_strain_err: float
    nonequilibrium_strain: float
    nonequilibrium_strain_err: float

    def summary(self) -> dict[str, float]:
        """JSON-safe dict."""
        return {k: float(v) for k, v in self.__dict__.items()}


def nonequilibrium_to_static_ratio(
    strain: float,
    strain_err: float,
    alpha_per_K: float,
    alpha_err_per_K: float,
    temperature_rise_K: float,
    temperature_rise_err_K: float = 0.0,
) -> ExpansionRatio:
    """Compare a quasi-equilibrium UED strain with α ΔT from static heating.

    Examples
    --------
    >>> r = nonequilibrium_to_static_ratio(1.2e-3, 0.0, 16e-6, 0.0, 60.0)
    >>> round(r.deficit, 3)
    0.2
    """
    if not strain > 0:
        raise InputError(f"nonequilibrium strain must be positive to form a ratio, got {strain!r}")
    static = alpha_per_K * temperature_rise_K
    static_err = abs(static) * np.hypot(
        alpha_err_per_K / alpha_per_K if alpha_per_K else 0.0,
        temperature_rise_err_K / temperature_rise_K if temperature_rise_K else 0.0,
    )
    ratio = static / strain
    ratio_err = abs(ratio) * np.hypot(static_err / static if static else 0.0, strain_err / strain)
    return ExpansionRatio(
        ratio=float(ratio), ratio_err=float(ratio_err), deficit=float(1 - ratio), static_strain=float(static),
        static_strain_err=float(static_err), nonequilibrium_strain=float(strain),
        nonequilibrium_strain_err=float(strain_err),
    )
