"""Batched Levenberg–Marquardt: many small, independent least-squares problems at once.

All B problems share the abscissa and the model structure (one fit window of a
powder series, every delay and scan), so each iteration is a handful of numpy
operations on (B, N, P) arrays instead of B Python-level solver calls. Rows
that do not converge are refitted one by one with
:func:`scipy.optimize.least_squares` (trust-region reflective, bounded).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

__all__ = ["BatchLSQ", "batched_least_squares"]

ModelJac = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class BatchLSQ:
    """Raw output of :func:`batched_least_squares` (B problems, P parameters)."""

    x: np.ndarray  # (B, P)
    covariance: np.ndarray  # (B, P, P), scaled by max(1, chi2_red)
    chi2_red: np.ndarray  # (B,)
    n_valid: np.ndarray  # (B,) points used
    success: np.ndarray  # (B,) bool
    at_bound: np.ndarray  # (B, P) bool
    message: tuple[str, ...]


def _normal(jac: np.ndarray, resid: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    jw = jac * w[..., None]
    jt = jw.transpose(0, 2, 1)  # batched BLAS products: 5-10x faster than the equivalent einsum
    return jt @ jw, (jt @ resid[..., None])[..., 0]


def _solve_scaled(a: np.ndarray, g: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Solve (A + λ diag A) δ = g in Marquardt-scaled form, batched."""
    d = np.sqrt(np.maximum(np.einsum("bpp->bp", a), 1e-300))
    scaled = a / (d[:, :, None] * d[:, None, :])
    p = a.shape[1]
    scaled = scaled + (lam[:, None, None] + 1e-12) * np.eye(p)
    return np.linalg.solve(scaled, (g / d)[..., None])[..., 0] / d


def batched_least_squares(
    model_jac: ModelJac,
    x0: np.ndarray,
    y: np.ndarray,
    sigma: np.ndarray,
    *,
    lower: np.ndarray,
    upper: np.ndarray,
    max_iter: int = 60,
    rtol: float = 1e-8,
) -> BatchLSQ:
    """Minimise Σ ((y − f(x)) / σ)² for B independent rows with box bounds.

    Parameters
    ----------
    model_jac : callable
        ``model_jac(x) -> (f, J)`` with x (B, P), f (B, N), J (B, N, P).
    x0 : (B, P) ndarray
        Start values (clipped into the bounds).
    y, sigma : (B, N) ndarray
        Data and 1σ; points with NaN or non-positive σ are ignored.
    lower, upper : (B, P) or (P,) ndarray
        Bounds.

    Returns
    -------
    BatchLSQ
        Rows with too few points, or not converged even by the fallback, have
        ``success`` False and NaN covariance.
    """
    y = np.asarray(y, float)
    sigma = np.asarray(sigma, float)
    valid = np.isfinite(y) & np.isfinite(sigma) & (sigma > 0)
    w = np.where(valid, 1.0 / np.where(valid, sigma, 1.0), 0.0)
    y = np.where(valid, y, 0.0)
    nb, npar = x0.shape
    lower = np.broadcast_to(lower, x0.shape)
    upper = np.broadcast_to(upper, x0.shape)
    x = np.clip(x0, lower, upper)
    f, jac = model_jac(x)
    chi = np.sum(((y - f) * w) ** 2, axis=1)
    lam = np.full(nb, 1e-3)
    done = np.zeros(nb, bool)
    n_valid = valid.sum(axis=1)
    enough = n_valid > npar
    done |= ~enough
    for _ in range(max_iter):
        if done.all():
            break
        a, g = _normal(jac, (y - f) * w, w)
        step = _solve_scaled(a, g, lam)
        x_new = np.where(done[:, None], x, np.clip(x + step, lower, upper))
        f_new, jac_new = model_jac(x_new)
        chi_new = np.sum(((y - f_new) * w) ** 2, axis=1)
        accept = (chi_new <= chi) & ~done & np.isfinite(chi_new)
        small = ~done & (np.abs(chi - chi_new) <= rtol * np.maximum(chi, 1e-300))
        x = np.where(accept[:, None], x_new, x)
        f = np.where(accept[:, None], f_new, f)
        jac = np.where(accept[:, None, None], jac_new, jac)
        chi = np.where(accept, chi_new, chi)
        lam = np.where(accept, lam / 5.0, lam * 10.0)
        done |= small | (lam > 1e10)
    converged = done & enough & (lam <= 1e10)
    messages = ["converged"] * nb
    for b in np.flatnonzero(enough & ~converged):
        converged[b], messages[b], x[b] = _fallback(model_jac, x[b], y[b], w[b], lower[b], upper[b])
        f_b, jac_b = model_jac(x[b : b + 1])
        f[b], jac[b] = f_b[0], jac_b[0]
        chi[b] = np.sum(((y[b] - f[b]) * w[b]) ** 2)
    for b in np.flatnonzero(~enough):
        messages[b] = f"only {int(n_valid[b])} valid points for {npar} parameters"
    dof = np.maximum(n_valid - npar, 1)
    chi2_red = np.where(enough, chi / dof, np.nan)
    a, _ = _normal(jac, (y - f) * w, w)
    cov = np.full((nb, npar, npar), np.nan)
    if enough.any():
        cov[enough] = _inverse(a[enough]) * np.maximum(chi2_red[enough], 1.0)[:, None, None]
    span = np.where(np.isfinite(upper - lower), upper - lower, np.inf)
    tol = np.where(np.isfinite(span), 1e-7 * span, 1e-12 * np.maximum(np.abs(x), 1e-300))
    at_bound = (np.isfinite(lower) & ((x - lower) <= tol)) | (np.isfinite(upper) & ((upper - x) <= tol))
    x = np.where(enough[:, None], x, np.nan)
    return BatchLSQ(x, cov, chi2_red, n_valid, converged & enough, at_bound & enough[:, None], tuple(messages))


def _inverse(a: np.ndarray) -> np.ndarray:
    """Batched inverse of normal matrices after diagonal scaling (pseudo-inverse if one is singular)."""
    d = np.sqrt(np.maximum(np.einsum("bpp->bp", a), 1e-300))
    scaled = a / (d[:, :, None] * d[:, None, :])
    try:
        inv = np.linalg.inv(scaled)
    except np.linalg.LinAlgError:
        inv = np.linalg.pinv(scaled, hermitian=True)
    with np.errstate(over="ignore", invalid="ignore"):  # a degenerate fit: its covariance is inf/NaN, and flagged
        return inv / (d[:, :, None] * d[:, None, :])


def _fallback(
    model_jac: ModelJac, x0: np.ndarray, y: np.ndarray, w: np.ndarray, lower: np.ndarray, upper: np.ndarray
) -> tuple[bool, str, np.ndarray]:
    """One row with scipy's bounded trust-region solver."""

    def resid(p: np.ndarray) -> np.ndarray:
        return (model_jac(p[None])[0][0] - y) * w

    def jac(p: np.ndarray) -> np.ndarray:
        return model_jac(p[None])[1][0] * w[:, None]

    width = upper - lower
    eps = 1e-12 * np.where(np.isfinite(width), np.maximum(np.abs(width), 1.0), 1.0)
    start = np.clip(x0, lower + eps, upper - eps)
    res = least_squares(resid, start, jac=jac, bounds=(lower, upper), method="trf", x_scale="jac", max_nfev=100)
    return bool(res.success), f"least_squares fallback: {res.message}", res.x
