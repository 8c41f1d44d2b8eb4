"""Vibration per crystal axis: Δ⟨u²⟩ perpendicular and parallel to c, or the symmetry-allowed ΔU_ij, from all rings.

Convention (as :mod:`uedflow.crystal.vibration` and the rest of uedflow): ⟨u²⟩ is the mean-square displacement
*along one direction* [Å²]; an isotropic ⟨u²⟩ scales a ring's intensity by exp(−4π²⟨u²⟩s²), s = 1/d [Å⁻¹]. With a
displacement tensor U (Cartesian, Å²) the same factor is exp(−4π² sᵀ U s), s the reflection's reciprocal vector.

Two parametrisations of the change ΔU after the pump, the same for every atom:

* ``"axes"`` (hexagonal, trigonal and tetragonal crystals, unique axis c): ΔU = Δ⟨u_⊥²⟩ (1 − ĉĉᵀ) + Δ⟨u_∥²⟩ ĉĉᵀ,

  .. math:: \\ln\\frac{I}{I_0} = -4\\pi^2\\,(s_\\perp^2\\,\\Delta\\langle u_\\perp^2\\rangle
            + s_\\parallel^2\\,\\Delta\\langle u_\\parallel^2\\rangle),
            \\qquad s_\\parallel = l / c,\\; s_\\perp^2 = s^2 - s_\\parallel^2

  (the component of s = h a* + k b* + l c* along c is l/c in any cell, since a*·c = b*·c = 0 and c*·c = 1).
* ``"tensor"`` (any crystal): the CIF-convention ΔU_ij (U11, U22, U33, U12, U13, U23;
  :class:`~uedflow.crystal.lattice.Lattice`), ln(I/I0) = −4π² hᵀ N ΔU N h with N = diag(a*, b*, c*), restricted
  to the components the Laue group allows (ΔU = Lᵀ ΔU L for every operation L acting on Miller indices); the free
  parameters are the leading components of the reduced row-echelon basis (hexagonal: U11 and U33, with
  U22 = U11, U12 = U11/2, U13 = U23 = 0; cubic: U11).

A composite ring (members m at nearly one s, intensity weights w_m ∝ M_m|F_m|² of its members) follows
ln(I/I0) = ln Σ_m w_m e^{−4π² x_m·p} − ln Σ_m w_m, x_m the member's design row: the fit is a weighted Gauss–Newton
fit, exact (not linearised) for composite rings. Errors from the covariance scaled by max(1, χ²_red).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from uedflow.crystal.general import Crystal
from uedflow.errors import InputError

__all__ = ["AxisVibration", "vibration_design", "fit_axis_vibration", "allowed_u_basis"]

_FOUR_PI2 = 4.0 * np.pi**2
_U_NAMES = ("U11", "U22", "U33", "U12", "U13", "U23")
_U_INDEX = ((0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2))


def _sym(vec: np.ndarray) -> np.ndarray:
    """(6,) U11..U23 -> symmetric (3, 3)."""
    out = np.zeros((3, 3))
    for v, (i, j) in zip(vec, _U_INDEX, strict=True):
        out[i, j] = out[j, i] = v
    return out


def allowed_u_basis(crystal: Crystal) -> tuple[tuple[str, ...], np.ndarray]:
    """Names of the free ΔU_ij and the basis (K, 6) mapping them onto U11..U23 [Å²] (module docstring).

    Examples
    --------
    >>> from uedflow.crystal import get_crystal
    >>> names, basis = allowed_u_basis(get_crystal("MoS2"))
    >>> names, basis[0].round(3).tolist()
    (('U11', 'U33'), [1.0, 1.0, 0.0, 0.5, 0.0, 0.0])
    """
    n = crystal.lattice.reciprocal_lengths
    ops = crystal.laue_operations().astype(float)
    cols = []
    for k in range(6):
        beta = _sym(np.eye(6)[k]) * np.outer(n, n)  # hᵀ β h with β = N U N
        avg = np.mean([op.T @ beta @ op for op in ops], axis=0) / np.outer(n, n)
        cols.append([avg[i, j] for i, j in _U_INDEX])
    proj = np.array(cols).T  # (6, 6): symmetrised U of each unit component
    u, sv, _ = np.linalg.svd(proj)
    space = u[:, sv > 1e-9 * sv.max()].T  # (K, 6) orthonormal basis of the allowed U
    basis, pivots = space.copy(), []
    for r in range(len(basis)):  # reduced row echelon form: each parameter one named component
        col = next(c for c in range(6) if c not in pivots and np.any(np.abs(basis[r:, c]) > 1e-9))
        piv = r + int(np.argmax(np.abs(basis[r:, col])))
        basis[[r, piv]] = basis[[piv, r]]
        basis[r] /= basis[r, col]
        for q in range(len(basis)):
            if q != r:
                basis[q] -= basis[q, col] * basis[r]
        pivots.append(col)
    basis[np.abs(basis) < 1e-12] = 0.0
    return tuple(_U_NAMES[c] for c in pivots), basis


def vibration_design(crystal: Crystal, hkl: np.ndarray, mode: str = "axes") -> tuple[tuple[str, ...], np.ndarray]:
    """Parameter names and design rows x (M, K) [Å⁻²] with ln(I/I0) = −4π² x·p of reflections ``hkl`` (M, 3).

    ``mode="axes"``: x = (s_⊥², s_∥²); ``mode="tensor"``: x_k = hᵀ N B_k N h for the allowed basis B_k
    (:func:`allowed_u_basis`).

    Raises
    ------
    InputError
        Unknown mode.
    """
    h = np.asarray(hkl, float).reshape(-1, 3)
    lat = crystal.lattice
    if mode == "axes":
        s_par2 = (h[:, 2] / lat.c) ** 2
        return ("perp", "par"), np.stack([lat.s_of(h) ** 2 - s_par2, s_par2], axis=1)
    if mode == "tensor":
        names, basis = allowed_u_basis(crystal)
        n = lat.reciprocal_lengths
        betas = np.array([_sym(b) * np.outer(n, n) for b in basis])
        return names, np.einsum("mi,kij,mj->mk", h, betas, h)
    raise InputError(f"vibration mode {mode!r} is unknown; use 'axes' (⊥/∥ to c) or 'tensor' (ΔU_ij)")


@dataclass(frozen=True)
class AxisVibration:
    """Per-delay fit of the vibration parameters.

    Attributes
    ----------
    names : tuple of str
        ``("perp", "par")`` [Δ⟨u²⟩, Å²] or the free ΔU_ij names [Å²].
    values, errors : (D, K) ndarray
    covariance : (D, K, K) ndarray
    chi2_red : (D,) ndarray
    ring_msd_angstrom2 : (D, R) ndarray
        The per-ring effective Δ⟨u²⟩ = −ln(I/I0)/(4π²s²) the fit started from (s the ring's weighted mean).
    predicted : (D, R) ndarray
        ln(I/I0) the fit predicts.
    """

    names: tuple[str, ...]
    values: np.ndarray
    errors: np.ndarray
    covariance: np.ndarray
    chi2_red: np.ndarray
    ring_msd_angstrom2: np.ndarray
    predicted: np.ndarray

    def value(self, name: str) -> np.ndarray:
        """(D,) values of parameter ``name``."""
        return self.values[:, self.names.index(name)]

    def error(self, name: str) -> np.ndarray:
        """(D,) 1σ of parameter ``name``."""
        return self.errors[:, self.names.index(name)]


def _one_delay(y: np.ndarray, e: np.ndarray, rows: list[np.ndarray], wts: list[np.ndarray], k: int
               ) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """Gauss–Newton fit of one delay; returns (p, covariance, χ²_red, predicted ln ratio of all rings)."""
    ok = np.isfinite(y) & np.isfinite(e) & (e > 0)
    idx = np.flatnonzero(ok)
    p = np.zeros(k)

    def model(p: np.ndarray, r: int) -> tuple[float, np.ndarray]:
        expo = -_FOUR_PI2 * rows[r] @ p
        share = wts[r] * np.exp(expo - expo.max())
        share /= share.sum()
        return float(np.log(np.sum(wts[r] * np.exp(expo)) / wts[r].sum())), -_FOUR_PI2 * share @ rows[r]

    for _ in range(30):
        f, jac = zip(*(model(p, r) for r in idx), strict=True)
        a = np.array(jac) / e[idx, None]
        step, *_ = np.linalg.lstsq(a, (y[idx] - np.array(f)) / e[idx], rcond=None)
        p = p + step
        if np.all(np.abs(step) <= 1e-12 + 1e-10 * np.abs(p)):
            break
    f, jac = zip(*(model(p, r) for r in idx), strict=True)
    a = np.array(jac) / e[idx, None]
    dof = idx.size - k
    chi2 = float(np.sum(((y[idx] - np.array(f)) / e[idx]) ** 2) / dof) if dof > 0 else float("nan")
    cov = np.linalg.inv(a.T @ a) * (max(1.0, chi2) if np.isfinite(chi2) else 1.0)
    return p, cov, chi2, np.array([model(p, r)[0] for r in range(len(rows))])


def fit_axis_vibration(crystal: Crystal, rings: Sequence[Sequence[tuple[int, int, int]]], ln_ratio: np.ndarray,
                       ln_ratio_err: np.ndarray, weights: Sequence[Sequence[float]] | None = None, *,
                       mode: str = "axes") -> AxisVibration:
    """Fit Δ⟨u_⊥²⟩, Δ⟨u_∥²⟩ (or the allowed ΔU_ij) per delay to the rings' ln(I/I0) (module docstring).

    Parameters
    ----------
    crystal : Crystal
        The crystal before the pump (its cell gives s; its Laue group the allowed ΔU_ij).
    rings : sequence of sequences of (h, k, l)
        The member reflections of each ring.
    ln_ratio, ln_ratio_err : (R,) or (D, R) ndarray
        ln(I/I0) of each ring (per delay) and 1σ; NaN rings are left out of that delay.
    weights : sequence of sequences of float, optional
        Intensity weight (M|F|²) of each member of a composite ring (default equal).
    mode : {"axes", "tensor"}

    Raises
    ------
    InputError
        Fewer usable rings than parameters, or rings that cannot separate them (e.g. only hk0 rings, which say
        nothing along c).
    """
    y_all = np.atleast_2d(np.asarray(ln_ratio, float))
    e_all = np.broadcast_to(np.atleast_2d(np.asarray(ln_ratio_err, float)), y_all.shape)
    if y_all.shape[1] != len(rings):
        raise InputError(f"{y_all.shape[1]} ln(I/I0) values per delay for {len(rings)} rings")
    design = [vibration_design(crystal, np.asarray(m, float).reshape(-1, 3), mode) for m in rings]
    names = design[0][0]
    rows = [d[1] for d in design]
    wts = [np.ones(len(r)) if weights is None else np.asarray(weights[i], float) for i, r in enumerate(rows)]
    mean_rows = np.array([w @ r / w.sum() for w, r in zip(wts, rows, strict=True)])
    ok_any = np.any(np.isfinite(y_all) & np.isfinite(e_all) & (e_all > 0), axis=0)
    if ok_any.sum() < len(names) or np.linalg.matrix_rank(mean_rows[ok_any], tol=1e-9 * np.abs(mean_rows).max()
                                                          ) < len(names):
        raise InputError(f"the rings {[list(map(tuple, np.asarray(m).reshape(-1, 3).tolist())) for m in rings]} "
                         f"do not separate the vibration parameters {names} (e.g. only hk0 rings say nothing along c);"
                         " include rings with l ≠ 0 and rings with h or k ≠ 0")
    k, d = len(names), len(y_all)
    vals, cov, chi2, pred = np.full((d, k), np.nan), np.full((d, k, k), np.nan), np.full(d, np.nan), np.full(y_all.shape, np.nan)
    for i in range(d):
        ok = np.isfinite(y_all[i]) & np.isfinite(e_all[i]) & (e_all[i] > 0)
        if ok.sum() < k or np.linalg.matrix_rank(mean_rows[ok]) < k:
            continue  # this delay cannot be fitted: left NaN
        vals[i], cov[i], chi2[i], pred[i] = _one_delay(y_all[i], e_all[i], rows, wts, k)
    s2 = mean_rows.sum(axis=1) if mode == "axes" else np.array(
        [np.sum(w * crystal.lattice.s_of(np.asarray(m, float).reshape(-1, 3)) ** 2) / w.sum()
         for m, w in zip(rings, wts, strict=True)])
    return AxisVibration(names, vals, np.sqrt(np.einsum("dkk->dk", cov)), cov, chi2,
                         -y_all / (_FOUR_PI2 * s2[None, :]), pred)
