"""Strain per lattice parameter: Δa/a, Δb/b, Δc/c (and angles) from the shifts of all rings at once.

A ring's strain ε = −Δs/s = Δd/d is, to first order, linear in the changes of the cell parameters the
crystal system leaves free,

.. math::

    \\varepsilon_r = \\sum_k J_{rk}\\, x_k, \\qquad J_{rk} = \\frac{\\partial \\ln d_r}{\\partial x_k},

with x = (Δa/a, Δb/b, Δc/c) for the lengths (tied as the system ties them: b = a in tetragonal and
hexagonal cells, a = b = c in cubic and rhombohedral ones) and x = Δα, Δβ, Δγ [degrees] for the free
angles (β in monoclinic cells, unique axis b; α = β = γ on rhombohedral axes; all three in triclinic ones). J comes from
:meth:`uedflow.crystal.lattice.Lattice.s_of` by central differences. The x follow by weighted least
squares with their covariance (scaled by max(1, χ²_red)); a composite ring (several reflections at one
s within the resolution) enters with the weighted mean of its members' rows. For a cubic crystal the
one parameter is the weighted mean strain of the rings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from uedflow.crystal.lattice import Lattice
from uedflow.errors import InputError

__all__ = ["LatticeStrain", "free_parameters", "fit_lattice_strain", "strained_lattice"]

_LENGTHS = ("a", "b", "c")


def free_parameters(space_group_number: int) -> tuple[str, ...]:
    """Cell parameters a strain can change independently, by crystal system of the space group (1–230).

    Examples
    --------
    >>> free_parameters(225), free_parameters(194), free_parameters(14)
    (('a',), ('a', 'c'), ('a', 'b', 'c', 'beta'))
    """
    n = int(space_group_number)
    if not 1 <= n <= 230:
        raise InputError(f"space group number must be 1-230, got {n}")
    if n >= 195:
        return ("a",)
    if n >= 75:  # tetragonal, trigonal (hexagonal axes), hexagonal
        return ("a", "c")
    if n >= 16:
        return ("a", "b", "c")
    if n >= 3:
        return ("a", "b", "c", "beta")
    return ("a", "b", "c", "alpha", "beta", "gamma")


def _tied(name: str, names: tuple[str, ...]) -> tuple[str, ...]:
    """The cell parameters that change with free parameter ``name``."""
    if name == "a" and "c" not in names:  # cubic, rhombohedral axes
        return ("a", "b", "c")
    if name == "a" and "b" not in names:  # tetragonal, hexagonal
        return ("a", "b")
    if name == "alpha" and "beta" not in names:  # rhombohedral axes: α = β = γ
        return ("alpha", "beta", "gamma")
    return (name,)


def strained_lattice(lattice: Lattice, names: tuple[str, ...], x: np.ndarray) -> Lattice:
    """The cell with relative length changes / angle changes [degrees] ``x`` of the free parameters ``names``
    (:func:`free_parameters`; tied parameters change together)."""
    p = dict(zip(("a", "b", "c", "alpha", "beta", "gamma"), lattice.parameters, strict=True))
    for name, v in zip(names, x, strict=True):
        for t in _tied(name, names):
            p[t] = p[t] * (1.0 + v) if t in _LENGTHS else p[t] + v
    return Lattice(**p)


@dataclass(frozen=True)
class LatticeStrain:
    """Fitted changes of the free cell parameters.

    Attributes
    ----------
    names : tuple of str
        Parameters: lengths as relative changes Δa/a (dimensionless), angles as changes [degrees].
    values, errors : (K,) ndarray
    covariance : (K, K) ndarray
    chi2_red : float
    predicted : (R,) ndarray
        Ring strains the fit predicts.
    """

    names: tuple[str, ...]
    values: np.ndarray
    errors: np.ndarray
    covariance: np.ndarray
    chi2_red: float
    predicted: np.ndarray


def fit_lattice_strain(lattice: Lattice, space_group_number: int, rings: Sequence[Sequence[tuple[int, int, int]]],
                       strain: np.ndarray, strain_err: np.ndarray,
                       weights: Sequence[Sequence[float]] | None = None) -> LatticeStrain:
    """Fit the free cell-parameter changes to ring strains (module docstring).

    Parameters
    ----------
    lattice : Lattice
        The cell before the pump.
    space_group_number : int
        Its space group (1–230), which decides the free parameters (:func:`free_parameters`).
    rings : sequence of sequences of (h, k, l)
        The reflections of each ring (one for a pure ring).
    strain, strain_err : (R,) ndarray
        ε = −Δs/s of each ring and 1σ (NaN rings are left out).
    weights : sequence of sequences of float, optional
        Intensity weight of each member of a composite ring (default equal).

    Raises
    ------
    InputError
        Fewer usable rings than free parameters, or rings that do not determine them.
    """
    names = free_parameters(space_group_number)
    if names == ("a", "c") and np.isclose(lattice.a, lattice.c) and not np.isclose(lattice.alpha, 90.0):
        names = ("a", "alpha")  # a trigonal cell on rhombohedral axes
    y, e = np.asarray(strain, float), np.asarray(strain_err, float)
    jac = np.zeros((len(rings), len(names)))
    for k in range(len(names)):
        h = np.zeros(len(names))
        h[k] = 1e-6 if names[k] in _LENGTHS else 1e-4
        plus, minus = strained_lattice(lattice, names, h), strained_lattice(lattice, names, -h)
        for r, members in enumerate(rings):
            hkl = np.asarray(members, float).reshape(-1, 3)
            w = np.ones(len(hkl)) if weights is None else np.asarray(weights[r], float)
            # ln d = −ln s, per member, weighted over the ring's members
            dlnd = -(np.log(plus.s_of(hkl)) - np.log(minus.s_of(hkl))) / (2 * h[k])
            jac[r, k] = float(np.sum(w * dlnd) / w.sum())
    ok = np.isfinite(y) & np.isfinite(e) & (e > 0)
    if ok.sum() < len(names):
        raise InputError(f"{int(ok.sum())} rings with a strain for {len(names)} free cell parameters {names}; "
                         "fit more rings")
    a = jac[ok] / e[ok, None]
    if np.linalg.matrix_rank(a) < len(names):
        raise InputError(f"the rings do not separate the cell parameters {names} (e.g. only hk0 rings for c); "
                         "include rings with other indices")
    x, *_ = np.linalg.lstsq(a, y[ok] / e[ok], rcond=None)
    dof = int(ok.sum()) - len(names)
    chi2 = float(np.sum((a @ x - y[ok] / e[ok]) ** 2) / dof) if dof > 0 else float("nan")
    cov = np.linalg.inv(a.T @ a) * (max(1.0, chi2) if np.isfinite(chi2) else 1.0)
    return LatticeStrain(names, x, np.sqrt(np.diag(cov)), cov, chi2, jac @ x)
