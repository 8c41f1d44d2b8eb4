"""Direction-averaged means and the lattice temperature vs delay, from Δ⟨u²⟩ and, independently, from strain.

Rings of different directions differ in truth (anisotropic vibration and expansion), so an
inverse-variance mean over rings is dominated by the most precise ring and reads *its*
direction. Here every quantity is first averaged within each direction family
(⟨100⟩, ⟨110⟩, ⟨111⟩; :func:`uedflow.dynamics.traces.family_average`) and the families are
then given equal weight:

* value = plain mean of the n direction means;
* statistical 1σ = √(Σ σ_d²) / n;
* systematic 1σ = the spread of the directions, std_d / √n (ddof = 1): how far an
  isotropic reading can be from any one direction's.

The lattice temperature T(t) at each delay follows from the direction-averaged Δ⟨u²⟩(t)
through the Debye model (:func:`uedflow.physics.debye.temperature_from_msd_with_error`,
θ_D and the mean atomic mass), and independently from the direction-averaged strain ε(t)
through the bulk α(T) of :mod:`uedflow.physics.expansion` (the same α(T) the simulator uses),
σ_T = σ_ε / (α(T)(1 + ε)); the ±5 % of that α(T) model adds 5 % of the rise to the systematic σ.
The temperature from Δ⟨u²⟩ carries two model systematics (:func:`msd_model_variants`): the Debye
temperature (±10 % by default, ``analyze.debye_temperature_rel_err``: literature values of one compound
scatter that much; Θ_D 200 K instead of 250 K moves ΔT by ~40 %) and the mass weighting of a compound
(the mass-weighted mean mass against the per-atom one), each as half the difference of the two
readings, added in quadrature. Strain lags Δ⟨u²⟩ (acoustic expansion needs the sound transit
across the dot), so the two T(t) agree only once both have risen.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from uedflow.errors import InputError
from uedflow.physics.expansion import ALPHA_REL_ERR

__all__ = ["DirectionMean", "direction_mean", "LatticeTemperature", "invert_mean", "lattice_temperature",
           "msd_model_variants", "msd_temperature", "strain_temperature", "DEBYE_TEMPERATURE_REL_ERR"]

#: Default relative 1σ of a Debye temperature taken from the literature.
DEBYE_TEMPERATURE_REL_ERR = 0.10

Variants = tuple[tuple[dict[str, float], dict[str, float]], ...]


def msd_model_variants(debye_temperature_K: float, masses_u: np.ndarray, *,
                       rel_err: float = DEBYE_TEMPERATURE_REL_ERR) -> Variants:
    """Pairs of :func:`msd_temperature` keyword overrides bracketing its model inputs (module docstring):
    Θ_D (1 ∓ ``rel_err``), and the per-atom mean mass against the mass-weighted one."""
    from uedflow.physics.debye import compound_mass_u

    theta = float(debye_temperature_K)
    return (({"debye_temperature_K": theta * (1.0 - rel_err)}, {"debye_temperature_K": theta * (1.0 + rel_err)}),
            ({"mass_u": compound_mass_u(masses_u, weights="atom")}, {"mass_u": compound_mass_u(masses_u)}))

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DirectionMean:
    """Equal-weight mean over direction families with its statistical and systematic 1σ (arrays over delay,
    or scalars); ``n_directions`` families with a finite value entered."""

    value: np.ndarray
    stat_err: np.ndarray
    sys_err: np.ndarray
    n_directions: np.ndarray

    @property
    def total_err(self) -> np.ndarray:
        """Statistical and systematic 1σ in quadrature."""
        return np.hypot(self.stat_err, self.sys_err)

    def summary(self) -> dict[str, Any]:
        """JSON-safe dict (scalars only)."""
        return {"value": float(self.value), "stat_err": float(self.stat_err), "sys_err": float(self.sys_err),
                "total_err": float(self.total_err), "n_directions": int(self.n_directions)}


def direction_mean(values: np.ndarray, errors: np.ndarray) -> DirectionMean:
    """Equal-weight mean over the first axis (directions), ignoring NaN.

    Parameters
    ----------
    values, errors : (n_dir, ...) ndarray
        Per-direction means and their 1σ (unit of the quantity).

    Examples
    --------
    >>> m = direction_mean(np.array([1.0, 2.0, 3.0]), np.array([0.3, 0.3, 0.3]))
    >>> float(m.value), round(float(m.stat_err), 4), round(float(m.sys_err), 4)
    (2.0, 0.1732, 0.5774)
    """
    v, e = (np.asarray(a, float) for a in (values, errors))
    ok = np.isfinite(v) & np.isfinite(e)
    n = ok.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, np.where(ok, v, 0.0).sum(axis=0) / np.maximum(n, 1), np.nan)
        stat = np.where(n > 0, np.sqrt(np.where(ok, e * e, 0.0).sum(axis=0)) / np.maximum(n, 1), np.nan)
        var = np.where(ok, (v - mean) ** 2, 0.0).sum(axis=0) / np.maximum(n - 1, 1)
        sys = np.where(n > 1, np.sqrt(var / np.maximum(n, 1)), 0.0)
    return DirectionMean(mean, stat, np.where(n > 0, sys, np.nan), n)


def msd_temperature(msd_angstrom2: np.ndarray, msd_err_angstrom2: np.ndarray, *, base_temperature_K: float,
                    debye_temperature_K: float, mass_u: float) -> tuple[np.ndarray, np.ndarray]:
    """Lattice temperature [K] and 1σ from Δ⟨u²⟩ [Å²] per point (Debye model); NaN where not invertible."""
    from uedflow.physics.debye import temperature_from_msd_with_error

    m, e = (np.atleast_1d(np.asarray(a, float)) for a in (msd_angstrom2, msd_err_angstrom2))
    temp, err = np.full(m.shape, np.nan), np.full(m.shape, np.nan)
    for i in np.flatnonzero(np.isfinite(m) & np.isfinite(e)):
        try:
            est = temperature_from_msd_with_error(m[i], e[i], base_temperature_K, debye_temperature_K, mass_u)
        except InputError:
            continue
        temp[i], err[i] = float(est.temperature_K), float(est.temperature_err_K)
    return temp, err


def strain_temperature(strain: np.ndarray, strain_err: np.ndarray, *, base_temperature_K: float,
                       material: str) -> tuple[np.ndarray, np.ndarray]:
    """Lattice temperature [K] and 1σ from strain ε = Δa/a per point (bulk α(T)); NaN where not invertible."""
    from uedflow.physics.expansion import linear_expansion_coefficient, temperature_from_strain

    s, e = (np.atleast_1d(np.asarray(a, float)) for a in (strain, strain_err))
    temp, err = np.full(s.shape, np.nan), np.full(s.shape, np.nan)
    for i in np.flatnonzero(np.isfinite(s) & np.isfinite(e)):
        try:
            temp[i] = float(temperature_from_strain(s[i], base_temperature_K, material))
            err[i] = e[i] / (float(linear_expansion_coefficient(temp[i], material)) * (1.0 + s[i]))
        except InputError:
            temp[i] = np.nan
    return temp, err


@dataclass(frozen=True)
class LatticeTemperature:
    """T(t) [K] from Δ⟨u²⟩ and from strain, each with statistical and systematic (direction spread) 1σ."""

    delay_ps: np.ndarray
    msd_K: np.ndarray
    msd_stat_err_K: np.ndarray
    msd_sys_err_K: np.ndarray
    strain_K: np.ndarray
    strain_stat_err_K: np.ndarray
    strain_sys_err_K: np.ndarray


def invert_mean(invert: Any, mean: DirectionMean, *, model_rel_err: float = 0.0, variants: Variants = (),
                **kw: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(T, statistical σ, systematic σ) [K] of a direction mean through ``invert`` (:func:`msd_temperature` or
    :func:`strain_temperature`, keywords ``kw`` with ``base_temperature_K``).

    The direction spread maps through the same local slope as the statistical σ; a relative error
    ``model_rel_err`` of the conversion itself (e.g. the ±5 % of the bulk α(T)) adds
    ``model_rel_err`` × |T − T0| in quadrature to the systematic σ; each pair of keyword overrides in
    ``variants`` (:func:`msd_model_variants`) adds half the difference of its two readings.
    """
    temp, stat = invert(mean.value, mean.stat_err, **kw)
    _, per_unit = invert(mean.value, np.ones_like(mean.value), **kw)
    sys2 = (per_unit * mean.sys_err) ** 2 + (model_rel_err * (temp - kw["base_temperature_K"])) ** 2
    for low, high in variants:
        half = 0.5 * (invert(mean.value, mean.stat_err, **{**kw, **high})[0]
                      - invert(mean.value, mean.stat_err, **{**kw, **low})[0])
        sys2 = sys2 + np.where(np.isfinite(half), half, 0.0) ** 2
    return temp, stat, np.sqrt(sys2)


def lattice_temperature(
    delay_ps: np.ndarray, msd: DirectionMean, strain: DirectionMean, *, base_temperature_K: float,
    debye_temperature_K: float, mass_u: float, material: str, msd_variants: Variants = (),
) -> LatticeTemperature:
    """T(t) from direction-averaged Δ⟨u²⟩(t) [Å²] and strain ε(t) (see the module docstring).

    Raises
    ------
    InputError
        A non-finite or non-positive base temperature.
    """
    if not (np.isfinite(base_temperature_K) and base_temperature_K > 0):
        raise InputError(f"base temperature must be a positive number of K, got {base_temperature_K!r}; "
                         "give the sample temperature ([sample] temperature_K)")
    tm = invert_mean(msd_temperature, msd, variants=msd_variants, base_temperature_K=base_temperature_K,
                     debye_temperature_K=debye_temperature_K, mass_u=mass_u)
    try:
        ts = invert_mean(strain_temperature, strain, model_rel_err=ALPHA_REL_ERR, base_temperature_K=base_temperature_K,
                         material=material)
    except InputError as exc:  # no expansion model for this material
        log.warning("no temperature from strain: %s", exc)
        ts = tuple(np.full(np.shape(strain.value), np.nan) for _ in range(3))
    return LatticeTemperature(np.asarray(delay_ps, float), *tm, *ts)
