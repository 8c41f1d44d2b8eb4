"""Debye model: mean-square displacement, heat capacity and energy of a lattice.

All functions are pure and vectorised over temperature. Temperatures in K,
masses in u (atomic mass units), displacements in Å, energies in eV.

The one-dimensional mean-square displacement of an atom of mass m in a Debye
solid of Debye temperature Θ, including zero-point motion, is

.. math::

    \\langle u_x^2 \\rangle = \\frac{3\\hbar^2}{m k_B \\Theta}
        \\Big[\\frac{\\Phi(x)}{x} + \\frac14\\Big], \\qquad x = \\Theta/T,
    \\qquad \\Phi(x) = \\frac1x \\int_0^x \\frac{t\\,dt}{e^t - 1},

so that the Debye–Waller exponent is B = 8π²⟨u_x²⟩ (Willis & Pryor, *Thermal
Vibrations in Crystallography*, 1975). It tends to 3ħ²T/(m k_B Θ²)
at T ≫ Θ (equipartition) and to 3ħ²/(4 m k_B Θ) at T = 0.

The Debye functions D_n(x) = (n/xⁿ)∫₀ˣ tⁿ/(eᵗ−1) dt are evaluated by a fixed
Gauss–Legendre rule on [0, min(x, 60)] (the integrand is smooth and the tail
beyond 60 is below 1e-20 of the integral), exact to ~1e-14.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import brentq

from uedflow.constants import ATOMIC_MASS_U, ATOMIC_MASS_UNIT_KG, BOLTZMANN_J_K, ELEMENTARY_CHARGE_C, HBAR_J_S
from uedflow.errors import InputError

__all__ = [
    "debye_function",
    "msd_debye_angstrom2",
    "msd_debye_derivative_angstrom2_per_K",
    "msd_per_atom_angstrom2",
    "msd_compound_angstrom2",
    "compound_mass_u",
    "heat_capacity_debye_kB",
    "energy_debye_eV",
    "temperature_from_msd",
    "TemperatureEstimate",
    "temperature_from_msd_with_error",
]

_X_CUT = 60.0
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(96)


def _check_positive(name: str, value: ArrayLike, unit: str, *, allow_zero: bool = False) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    bad = ~np.isfinite(arr) | ((arr < 0) if allow_zero else (arr <= 0))
    if np.any(bad):
        first = arr[bad].flat[0] if arr.ndim else float(arr)
        need = "non-negative" if allow_zero else "positive"
        raise InputError(f"{name} must be a finite {need} number of {unit}; got {float(first):g}")
    return arr


def _bose_integral(n: int, x: np.ndarray) -> np.ndarray:
    """∫₀ˣ tⁿ/(eᵗ−1) dt for each element of x ≥ 0 (Gauss–Legendre)."""
    xc = np.minimum(x, _X_CUT)[..., None]
    # nodes lie strictly inside (0, x), so t > 0 whenever x > 0
    t = np.maximum(0.5 * xc * (_NODES + 1.0), 1e-300)
    f = t ** (n - 1) * (t / np.expm1(t))
    return 0.5 * xc[..., 0] * (f @ _WEIGHTS)


def debye_function(n: int, x: ArrayLike) -> np.ndarray:
    """Debye function D_n(x) = (n/xⁿ) ∫₀ˣ tⁿ/(eᵗ−1) dt, with D_n(0) = 1.

    Parameters
    ----------
    n : int
        Order, >= 1 (D_1 = Φ of the Debye–Waller factor, D_3 gives the energy).
    x : array_like
        Θ/T, >= 0.

    Examples
    --------
    >>> round(float(debye_function(1, 1.0)), 6)   # tabulated D1(1) = 0.777505
    0.777505
    >>> round(float(debye_function(3, 1.0)), 6)   # tabulated D3(1) = 0.674416
    0.674416
    """
    if int(n) < 1:
        raise InputError(f"Debye function order n must be >= 1, got {n!r}")
    x = _check_positive("x = Θ/T", x, "(dimensionless)", allow_zero=True)
    small = x < 1e-8
    xs = np.where(small, 1.0, x)
    out = n * _bose_integral(n, xs) / xs**n
    # series D_n(x) ≈ 1 − n x / (2(n+1)) near 0
    return np.where(small, 1.0 - n * x / (2.0 * (n + 1)), out)


def _msd_scale_angstrom2(debye_temperature_K: np.ndarray, mass_u: np.ndarray) -> np.ndarray:
    """3ħ²/(m k_B Θ) in Å²."""
    m = mass_u * ATOMIC_MASS_UNIT_KG
    return 3.0 * HBAR_J_S**2 / (m * BOLTZMANN_J_K * debye_temperature_K) * 1e20


def msd_debye_angstrom2(temperature_K: ArrayLike, debye_temperature_K: ArrayLike, mass_u: ArrayLike) -> np.ndarray:
    """One-dimensional mean-square displacement ⟨u_x²⟩ of the Debye model [Å²].

    .. math::

        \\langle u_x^2 \\rangle = \\frac{3\\hbar^2}{m k_B \\Theta}
            \\Big[\\frac{D_1(\\Theta/T)}{\\Theta/T} + \\frac14\\Big]

    including zero-point motion (the 1/4 term); B = 8π²⟨u_x²⟩.

    Parameters
    ----------
    temperature_K : array_like
        Temperature T [K], >= 0 (T = 0 gives the zero-point value).
    debye_temperature_K : array_like
        Debye temperature Θ [K], > 0.
    mass_u : array_like
        Atomic mass [u], > 0. Arguments broadcast together.

    Returns
    -------
    ndarray
        ⟨u_x²⟩ [Å²].

    Examples
    --------
    >>> round(float(msd_debye_angstrom2(300.0, 250.0, 207.2)), 5)
    0.00344
    """
    T = _check_positive("temperature_K", temperature_K, "K", allow_zero=True)
    theta = _check_positive("debye_temperature_K", debye_temperature_K, "K")
    m = _check_positive("mass_u", mass_u, "u")
    T, theta, m = np.broadcast_arrays(T, theta, m)
    with np.errstate(divide="ignore"):
        x = np.where(T > 0, theta / np.where(T > 0, T, 1.0), np.inf)
    finite = np.isfinite(x)
    xf = np.where(finite, x, 1.0)
    thermal = np.where(finite, debye_function(1, xf) / xf, 0.0)
    return _msd_scale_angstrom2(theta, m) * (thermal + 0.25)


def msd_debye_derivative_angstrom2_per_K(
    temperature_K: ArrayLike, debye_temperature_K: ArrayLike, mass_u: ArrayLike
) -> np.ndarray:
    """d⟨u_x²⟩/dT of :func:`msd_debye_angstrom2` [Å²/K], analytic.

    With I(x) = ∫₀ˣ t/(eᵗ−1) dt and x = Θ/T,
    d⟨u²⟩/dT = (3ħ²/(m k_B Θ)) (x/T) [2 I(x)/x³ − 1/(x (eˣ − 1))].
    """
    T = _check_positive("temperature_K", temperature_K, "K")
    theta = _check_positive("debye_temperature_K", debye_temperature_K, "K")
    m = _check_positive("mass_u", mass_u, "u")
    T, theta, m = np.broadcast_arrays(T, theta, m)
    x = theta / T
    integral = _bose_integral(1, x)
    bracket = 2.0 * integral / x**3 - 1.0 / (x * np.expm1(np.minimum(x, 700.0)))
    return _msd_scale_angstrom2(theta, m) * bracket * x / T


def compound_mass_u(masses_u: ArrayLike, *, weights: ArrayLike | str = "mass") -> float:
    """Effective mass [u] so that the Debye ⟨u²⟩ of a compound is a weighted mean.

    The compound ⟨u²⟩ = Σ w_j ⟨u_j²⟩ / Σ w_j with ⟨u_j²⟩ ∝ 1/m_j (one Θ for all
    atoms) equals the single-atom formula at m_eff = Σ w_j / Σ (w_j/m_j).

    Parameters
    ----------
    masses_u : array_like
        Mass of each atom (or of each element, with matching weights) [u].
    weights : array_like or {"mass", "atom"}
        ``"mass"`` (default): w_j = m_j, giving the arithmetic mean mass;
        ``"atom"``: equal weights, the per-atom average (harmonic mean mass);
        or explicit weights, e.g. Z_j² for scattering-weighted averages.

    Examples
    --------
    >>> round(compound_mass_u([207.2, 78.971]), 3)          # PbSe, mass-weighted
    143.085
    >>> round(compound_mass_u([207.2, 78.971], weights="atom"), 3)
    114.357
    """
    m = _check_positive("masses_u", np.atleast_1d(masses_u), "u")
    if isinstance(weights, str):
        if weights not in ("mass", "atom"):
            raise InputError(f"weights must be 'mass', 'atom' or an array; got {weights!r}")
        w = m if weights == "mass" else np.ones_like(m)
    else:
        w = np.broadcast_to(np.asarray(weights, dtype=float), m.shape)
        if np.any(w < 0) or not np.any(w > 0):
            raise InputError(f"weights must be non-negative with a positive sum; got {w.tolist()}")
    return float(w.sum() / (w / m).sum())


def _masses_of(elements_or_masses: Any) -> np.ndarray:
    out = []
    for e in np.atleast_1d(np.asarray(elements_or_masses, dtype=object)):
        if isinstance(e, str):
            if e not in ATOMIC_MASS_U:
                raise InputError(f"unknown element {e!r}; known: {', '.join(sorted(ATOMIC_MASS_U))}")
            out.append(ATOMIC_MASS_U[e])
        else:
            out.append(float(e))
    return np.asarray(out)


def msd_per_atom_angstrom2(
    temperature_K: ArrayLike, debye_temperature_K: float, elements: Any
) -> np.ndarray:
    """⟨u_x²⟩ of each element or atom at each temperature [Å²], shape (n_T, n_atoms).

    Parameters
    ----------
    temperature_K : array_like
        Temperatures [K].
    debye_temperature_K : float
        Common Debye temperature [K].
    elements : sequence of str or float
        Element symbols (e.g. ``Structure.species`` or ``["Pb", "Se"]``) or masses [u].

    Examples
    --------
    >>> msd_per_atom_angstrom2([90.0, 300.0], 250.0, ["Pb", "Se"]).shape
    (2, 2)
    """
    T = np.atleast_1d(np.asarray(temperature_K, dtype=float))[:, None]
    return msd_debye_angstrom2(T, debye_temperature_K, _masses_of(elements)[None, :])


def msd_compound_angstrom2(
    temperature_K: ArrayLike, debye_temperature_K: ArrayLike, elements: Any, *, weights: ArrayLike | str = "mass"
) -> np.ndarray:
    """Weighted mean ⟨u_x²⟩ of a compound's atoms [Å²] (see :func:`compound_mass_u`).

    Examples
    --------
    >>> a = msd_compound_angstrom2(300.0, 250.0, ["Pb", "Se"])
    >>> b = msd_debye_angstrom2(300.0, 250.0, (207.2 + 78.971) / 2)
    >>> bool(abs(a - b) < 1e-15)
    True
    """
    return msd_debye_angstrom2(temperature_K, debye_temperature_K, compound_mass_u(_masses_of(elements), weights=weights))


def heat_capacity_debye_kB(temperature_K: ArrayLike, debye_temperature_K: ArrayLike) -> np.ndarray:
    """Debye heat capacity per atom at constant volume, in units of k_B.

    .. math::

        C_V / k_B = 3\\,[4 D_3(x) - 3x/(e^x - 1)], \\qquad x = \\Theta/T

    which tends to 3 (Dulong–Petit) at T ≫ Θ and to (12π⁴/5)(T/Θ)³ at T ≪ Θ.

    Examples
    --------
    >>> round(float(heat_capacity_debye_kB(1e5, 250.0)), 4)
    3.0
    """
    T = _check_positive("temperature_K", temperature_K, "K", allow_zero=True)
    theta = _check_positive("debye_temperature_K", debye_temperature_K, "K")
    T, theta = np.broadcast_arrays(T, theta)
    pos = T > 0
    x = np.where(pos, theta / np.where(pos, T, 1.0), 1.0)
    big = x > 700.0
    xs = np.where(big, 1.0, x)
    cv = 3.0 * (4.0 * debye_function(3, xs) - 3.0 * xs / np.expm1(xs))
    low_t = 12.0 * np.pi**4 / 5.0 / np.where(big, x, 1.0) ** 3
    return np.where(~pos, 0.0, np.where(big, low_t, cv))


def energy_debye_eV(temperature_K: ArrayLike, debye_temperature_K: ArrayLike) -> np.ndarray:
    """Thermal vibrational energy per atom above the zero-point energy [eV].

    U(T) = 3 k_B T D_3(Θ/T), so U(T2) − U(T1) = ∫ C_V dT exactly.

    Examples
    --------
    >>> kB_eV = 8.617333262e-05
    >>> round(float(energy_debye_eV(1e5, 250.0)) / (3 * kB_eV * 1e5), 3)   # → 3kT − 9kΘ/8
    0.999
    """
    T = _check_positive("temperature_K", temperature_K, "K", allow_zero=True)
    theta = _check_positive("debye_temperature_K", debye_temperature_K, "K")
    T, theta = np.broadcast_arrays(T, theta)
    pos = T > 0
    x = np.where(pos, theta / np.where(pos, T, 1.0), 1.0)
    kb_ev = BOLTZMANN_J_K / ELEMENTARY_CHARGE_C
    return np.where(pos, 3.0 * kb_ev * T * debye_function(3, x), 0.0)


def temperature_from_msd(
    delta_msd_angstrom2: ArrayLike, base_temperature_K: float, debye_temperature_K: float, mass_u: float
) -> np.ndarray:
    """Temperature [K] reached when ⟨u_x²⟩ rises by Δ⟨u²⟩ from a base temperature.

    Solves msd(T) = msd(T_base) + Δ⟨u²⟩ for T (the inverse of
    :func:`msd_debye_angstrom2`; monotonic, so the root is unique). A negative
    rise is allowed down to the zero-point value.

    Parameters
    ----------
    delta_msd_angstrom2 : array_like
        Rise of the one-dimensional MSD [Å²].
    base_temperature_K : float
        Temperature before excitation [K].
    debye_temperature_K : float
        Debye temperature [K].
    mass_u : float
        (Effective) atomic mass [u], e.g. :func:`compound_mass_u`.

    Raises
    ------
    InputError
        A rise that would need an MSD below the zero-point value, or NaN.

    Examples
    --------
    >>> d = msd_debye_angstrom2(240.0, 250.0, 143.1) - msd_debye_angstrom2(90.0, 250.0, 143.1)
    >>> round(float(temperature_from_msd(d, 90.0, 250.0, 143.1)), 6)
    240.0
    """
    delta = np.asarray(delta_msd_angstrom2, dtype=float)
    if not np.all(np.isfinite(delta)):
        raise InputError("delta_msd_angstrom2 contains NaN or infinite values; drop or fill them first")
    base = float(msd_debye_angstrom2(base_temperature_K, debye_temperature_K, mass_u))
    zero = float(msd_debye_angstrom2(0.0, debye_temperature_K, mass_u))
    target = base + delta
    if np.any(target <= zero):
        raise InputError(
            f"MSD rise {float(delta.min()):.3g} Å² from {base_temperature_K} K falls below the zero-point MSD "
            f"({zero:.3g} Å²); check the sign of delta_msd_angstrom2 or the Debye temperature"
        )
    out = np.empty(target.shape)
    for i, y in np.ndenumerate(target):
        # the high-temperature form bounds T from above; add headroom
        hi = max(2.0 * base_temperature_K, 10.0 * debye_temperature_K)
        while float(msd_debye_angstrom2(hi, debye_temperature_K, mass_u)) < y:
            hi *= 2.0
        out[i] = brentq(
            lambda t, y=y: float(msd_debye_angstrom2(t, debye_temperature_K, mass_u)) - y, 0.0, hi, xtol=1e-9
        )
    return out


@dataclass(frozen=True)
class TemperatureEstimate:
    """Lattice temperature from a Debye–Waller MSD rise, with 1σ errors.

    Attributes
    ----------
    temperature_K, temperature_err_K : ndarray
        Final temperature and its 1σ (linear propagation of the MSD error and,
        if given, of the Debye-temperature error).
    rise_K : ndarray
        temperature_K − base_temperature_K.
    base_temperature_K, debye_temperature_K, mass_u : float
        Inputs used.
    """

    temperature_K: np.ndarray
    temperature_err_K: np.ndarray
    rise_K: np.ndarray
    base_temperature_K: float
    debye_temperature_K: float
    mass_u: float

    def summary(self) -> dict[str, Any]:
        """JSON-safe dict of the estimate."""
        return {
            "temperature_K": np.asarray(self.temperature_K).tolist(),
            "temperature_err_K": np.asarray(self.temperature_err_K).tolist(),
            "rise_K": np.asarray(self.rise_K).tolist(),
            "base_temperature_K": self.base_temperature_K,
            "debye_temperature_K": self.debye_temperature_K,
            "mass_u": self.mass_u,
        }


def temperature_from_msd_with_error(
    delta_msd_angstrom2: ArrayLike,
    delta_msd_err_angstrom2: ArrayLike,
    base_temperature_K: float,
    debye_temperature_K: float,
    mass_u: float,
    *,
    debye_temperature_err_K: float = 0.0,
) -> TemperatureEstimate:
    """:func:`temperature_from_msd` with 1σ error propagation.

    σ_T² = (σ_Δ / (d⟨u²⟩/dT))² + (∂T/∂Θ · σ_Θ)², where ∂T/∂Θ is taken by a
    central difference (the inverse map depends on Θ through both the base and
    the final MSD).

    Examples
    --------
    >>> est = temperature_from_msd_with_error(0.004, 0.0005, 90.0, 250.0, 143.1)
    >>> bool(est.rise_K > 0 and est.temperature_err_K > 0)
    True
    """
    T = temperature_from_msd(delta_msd_angstrom2, base_temperature_K, debye_temperature_K, mass_u)
    sig = np.abs(np.broadcast_to(np.asarray(delta_msd_err_angstrom2, dtype=float), T.shape))
    var = (sig / msd_debye_derivative_angstrom2_per_K(T, debye_temperature_K, mass_u)) ** 2
    if debye_temperature_err_K > 0:
        h = 1e-3 * debye_temperature_K
        tp = temperature_from_msd(delta_msd_angstrom2, base_temperature_K, debye_temperature_K + h, mass_u)
        tm = temperature_from_msd(delta_msd_angstrom2, base_temperature_K, debye_temperature_K - h, mass_u)
        var = var + ((tp - tm) / (2 * h) * debye_temperature_err_K) ** 2
    return TemperatureEstimate(
        temperature_K=T,
        temperature_err_K=np.sqrt(var),
        rise_K=T - base_temperature_K,
        base_temperature_K=float(base_temperature_K),
        debye_temperature_K=float(debye_temperature_K),
        mass_u=float(mass_u),
    )
