"""Global kinetics: all rings at once with one time zero and one fitted IRF; model choice by AIC/BIC.

Four models of the rise of a per-ring observable y_k(t) (e.g. Δ⟨u²⟩_s), each with a free
offset c_k per ring, convolved with one Gaussian IRF of fitted FWHM (held near the instrument's
nominal value by a Gaussian prior) and sharing t0:

* ``exp``: c_k + A_k (1 − e^{−x/τ_k}), x = t − t0 (3 per ring + t0, IRF);
* ``exp_shared``: c_k + A_k (1 − e^{−x/τ_g}) with one τ_g per group of traces (e.g. one for every
  ring's Δ⟨u²⟩, one for every ring's strain): isotropic kinetics, the null hypothesis of the
  paper's direction-dependent time constants (2 per ring + one τ per group, t0, IRF);
* ``biexp``: c_k + A_k (1 − e^{−x/τ_k}) + B_k (1 − e^{−x/τ'_k}) (5 per ring + t0, IRF);
* ``bottleneck``: carriers → strongly coupled (hot) phonons → the whole lattice, two
  sequential first-order steps (a linearised three-temperature model). The hot-phonon
  step τ_h is a property of the material and shared by every ring; each ring's lattice
  mode rises with its own τ_k:
  c_k + A_k [1 − (τ_k e^{−x/τ_k} − τ_h e^{−x/τ_h}) / (τ_k − τ_h)]
  = c_k + A_k [τ_k/(τ_k − τ_h)] (1 − e^{−x/τ_k}) − A_k [τ_h/(τ_k − τ_h)] (1 − e^{−x/τ_h})
  (3 per ring + τ_h, t0, IRF); its delayed, sigmoid onset is what a single exponential cannot follow.

With χ² = Σ ((model − y)/σ)², n points and k parameters, AIC = χ² + 2k and BIC = χ² + k ln n
(Gaussian errors, σ taken as given). The preferred model has the lowest BIC; ΔAIC, ΔBIC and the
Akaike weights e^{−ΔAIC/2}/Σ are the printed evidence (ΔBIC > 10: very strong, Kass & Raftery 1995).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import least_squares

from uedflow.dynamics.kinetics import fit_global
from uedflow.dynamics.models import exp_rise
from uedflow.errors import ConfigError, FitError

__all__ = ["GLOBAL_MODELS", "GlobalFit", "ModelSelection", "bottleneck_rise", "evidence_table", "fit_global_model",
           "select_model"]

#: Global models and their per-ring parameters; shared parameters follow (``tau_ps[<group>]`` for exp_shared,
#: ``tau_hot_ps`` for bottleneck, then t0, IRF).
GLOBAL_MODELS: dict[str, tuple[str, ...]] = {
    "exp": ("offset", "amplitude", "tau_ps"),
    "exp_shared": ("offset", "amplitude"),
    "biexp": ("offset", "amplitude", "tau_ps", "amplitude2", "tau2_ps"),
    "bottleneck": ("offset", "amplitude", "tau_ps"),
}


def bottleneck_rise(t: np.ndarray, amplitude: float, tau_ps: float, tau_hot_ps: float, t0_ps: float,
                    irf_fwhm_ps: float) -> np.ndarray:
    """Lattice response of two sequential steps (τ_hot then τ) [unit of ``amplitude``], IRF-convolved.

    Examples
    --------
    >>> round(float(bottleneck_rise(np.array(1e6), 2.0, 5.0, 1.0, 0.0, 0.5)[()]), 6)
    2.0
    >>> bool(bottleneck_rise(np.array([0.5]), 1.0, 5.0, 2.0, 0.0, 0.0)[0] < exp_rise(0.5, 1.0, 5.0))
    True
    """
    th = tau_hot_ps if abs(tau_ps - tau_hot_ps) > 1e-6 * tau_ps else tau_ps * (1.0 + 1e-4)
    d = tau_ps - th
    return (exp_rise(t, amplitude * tau_ps / d, tau_ps, t0_ps, irf_fwhm_ps)
            - exp_rise(t, amplitude * th / d, th, t0_ps, irf_fwhm_ps))


@dataclass(frozen=True)
class GlobalFit:
    """One global model fitted to P traces.

    ``ring`` maps parameter name to (P,) values and ``ring_err`` to 1σ; ``shared`` and ``shared_err``
    hold t0_ps, irf_fwhm_ps (and tau_hot_ps). 1σ from the covariance scaled by max(1, χ²_red).
    """

    model: str
    ring: dict[str, np.ndarray]
    ring_err: dict[str, np.ndarray]
    shared: dict[str, float]
    shared_err: dict[str, float]
    chi2: float
    n_points: int
    n_params: int
    success: bool
    message: str
    curves: np.ndarray = field(repr=False)

    @property
    def aic(self) -> float:
        """χ² + 2k."""
        return self.chi2 + 2.0 * self.n_params

    @property
    def bic(self) -> float:
        """χ² + k ln n."""
        return self.chi2 + self.n_params * float(np.log(self.n_points))

    def summary(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {"model": self.model, "chi2": self.chi2, "chi2_red": self.chi2 / max(self.n_points - self.n_params, 1),
                "n_points": self.n_points, "n_params": self.n_params, "aic": self.aic, "bic": self.bic,
                "success": self.success, "message": self.message,
                "shared": {k: [v, self.shared_err[k]] for k, v in self.shared.items()},
                "ring": {k: [[float(a), float(b)] for a, b in zip(v, self.ring_err[k], strict=True)]
                         for k, v in self.ring.items()}}


def _curve(model: str, t: np.ndarray, p: np.ndarray, shared: dict[str, float], group: str) -> np.ndarray:
    t0, irf = shared["t0_ps"], shared["irf_fwhm_ps"]
    if model == "exp":
        return p[0] + exp_rise(t, p[1], p[2], t0, irf)
    if model == "exp_shared":
        return p[0] + exp_rise(t, p[1], shared[f"tau_ps[{group}]"], t0, irf)
    if model == "biexp":
        return p[0] + exp_rise(t, p[1], p[2], t0, irf) + exp_rise(t, p[3], p[4], t0, irf)
    return p[0] + bottleneck_rise(t, p[1], p[2], shared["tau_hot_ps"], t0, irf)


def _start(t: np.ndarray, y: np.ndarray, e: np.ndarray, model: str, irf: float, t0_guess: float,
           groups: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
    """Per-ring start values from the single-exponential fit with the IRF fixed at its nominal value."""
    fits = fit_global(t, y, e, model="exp", irf_fwhm_ps=irf, t0_guess_ps=t0_guess)
    base = np.array([[f.value("offset"), f.value("amplitude"), f.value("tau_ps")] for f in fits])
    ok = np.isfinite(base).all(axis=1)
    base[~ok] = [0.0, 0.0, 5.0]
    base[:, 2] = np.clip(base[:, 2], 0.1, 5.0 * np.ptp(t))
    t0 = next((f.value("t0_ps") for f in fits if np.isfinite(f.value("t0_ps"))), t0_guess)
    shared = {"t0_ps": t0, "irf_fwhm_ps": max(irf, 0.1)}
    if model == "biexp":
        base = np.column_stack([base[:, 0], 0.6 * base[:, 1], 0.5 * base[:, 2], 0.4 * base[:, 1], 2.0 * base[:, 2]])
    elif model == "exp_shared":
        shared = {**{f"tau_ps[{g}]": float(np.median(base[groups == g, 2])) for g in dict.fromkeys(groups)}, **shared}
        base = base[:, :2]
    elif model == "bottleneck":
        shared = {"tau_hot_ps": float(max(0.5, 0.2 * np.nanmedian(base[:, 2]))), **shared}
    return base, shared


def fit_global_model(delay_ps: np.ndarray, values: np.ndarray, errors: np.ndarray, *, model: str,
                     irf_guess_ps: float = 0.5, t0_guess_ps: float = 0.0, irf_prior_ps: float = 0.1,
                     groups: list[str] | tuple[str, ...] | None = None) -> GlobalFit:
    """Fit ``model`` (see :data:`GLOBAL_MODELS`) to P traces with shared t0 and IRF FWHM [ps].

    Parameters
    ----------
    delay_ps : (D,) ndarray
    values, errors : (P, D) ndarray
        Traces and 1σ; rings with fewer valid points than 2 + per-ring parameters are left out (NaN).
    model : str
    irf_guess_ps, t0_guess_ps : float
        Start values [ps]; ``irf_guess_ps`` is also the instrument's nominal IRF FWHM.
    irf_prior_ps : float
        1σ [ps] of the nominal IRF FWHM: the fitted FWHM is constrained by a Gaussian prior (one
        extra residual, not counted in χ²). Without it a wide IRF and a late t0 mimic the delayed
        onset of the bottleneck model.
    groups : sequence of str, optional
        Group name of each trace (e.g. "msd", "strain") for the shared τ of ``exp_shared``; default one group.

    Raises
    ------
    ConfigError
        Unknown model.
    FitError
        No trace can be fitted.
    """
    if model not in GLOBAL_MODELS:
        raise ConfigError(f"global kinetic model {model!r} is unknown; choose one of {', '.join(GLOBAL_MODELS)}")
    t = np.asarray(delay_ps, float)
    y, e = np.atleast_2d(np.asarray(values, float)), np.atleast_2d(np.asarray(errors, float))
    k = len(GLOBAL_MODELS[model])
    ok = np.isfinite(y) & np.isfinite(e) & (e > 0)
    rows = np.flatnonzero(ok.sum(axis=1) > k + 2)
    if rows.size == 0:
        raise FitError(f"global {model} fit: no trace has more than {k + 2} valid points")
    group = np.array(list(groups) if groups is not None else ["all"] * y.shape[0], dtype=object)
    if group.size != y.shape[0]:
        raise ConfigError(f"{group.size} group names for {y.shape[0]} traces")
    start, shared0 = _start(t, np.where(ok, y, np.nan)[rows], np.where(ok, e, np.nan)[rows], model, irf_guess_ps,
                            t0_guess_ps, group[rows])
    names = list(shared0)
    span = float(np.ptp(t))
    lo_ring = {"offset": -np.inf, "amplitude": -np.inf, "amplitude2": -np.inf, "tau_ps": 0.05, "tau2_ps": 0.05}
    lo_shared = {"tau_hot_ps": 0.05, "t0_ps": t.min(), "irf_fwhm_ps": 0.05}
    hi_shared = {"tau_hot_ps": span, "t0_ps": t.max(), "irf_fwhm_ps": 5.0}
    lo = [lo_ring[n] for n in GLOBAL_MODELS[model]] * rows.size + [lo_shared.get(n, 0.05) for n in names]
    hi = [np.inf if not n.startswith("tau") else 20.0 * span for n in GLOBAL_MODELS[model]] * rows.size + [
        hi_shared.get(n, 20.0 * span) for n in names]
    x0 = np.clip(np.concatenate([start.ravel(), [shared0[n] for n in names]]), np.array(lo) + 1e-9,
                 np.array(hi) - 1e-9)

    def unpack(x: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
        return x[: rows.size * k].reshape(rows.size, k), dict(zip(names, x[rows.size * k:], strict=True))

    def resid(x: np.ndarray) -> np.ndarray:
        p, sh = unpack(x)
        prior = (sh["irf_fwhm_ps"] - irf_guess_ps) / irf_prior_ps
        return np.concatenate([((_curve(model, t, p[i], sh, group[r]) - y[r]) / e[r])[ok[r]]
                               for i, r in enumerate(rows)] + [[prior]])

    # each ring's residuals depend on its own parameters and the shared ones only: grouped finite differences
    sizes = ok[rows].sum(axis=1)
    sparsity = np.zeros((int(sizes.sum()) + 1, x0.size), dtype=bool)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    for i in range(rows.size):
        sparsity[offsets[i]:offsets[i + 1], i * k:(i + 1) * k] = True
    sparsity[:, rows.size * k:] = True
    res = least_squares(resid, x0, bounds=(lo, hi), method="trf", x_scale="jac", max_nfev=400,
                        jac_sparsity=sparsity, tr_solver="lsmr")
    n_pts, n_par = int(ok[rows].sum()), int(res.x.size)
    chi2 = float(np.sum(res.fun[:-1] ** 2))
    scale = max(1.0, chi2 / max(n_pts - n_par, 1))
    try:
        jac = res.jac.toarray() if hasattr(res.jac, "toarray") else res.jac
        cov = np.linalg.pinv(jac.T @ jac) * scale
        err = np.sqrt(np.maximum(np.diag(cov), 0.0))
    except np.linalg.LinAlgError:
        err = np.full(res.x.size, np.nan)
    p, sh = unpack(res.x)
    pe, she = unpack(err)
    ring = {n: np.full(y.shape[0], np.nan) for n in GLOBAL_MODELS[model]}
    ring_err = {n: np.full(y.shape[0], np.nan) for n in GLOBAL_MODELS[model]}
    for j, n in enumerate(GLOBAL_MODELS[model]):
        ring[n][rows], ring_err[n][rows] = p[:, j], pe[:, j]
    curves = np.full(y.shape, np.nan)
    for i, r in enumerate(rows):
        curves[r] = _curve(model, t, p[i], sh, group[r])
    tol = 1e-6 * (np.array(hi) - np.array(lo))
    bounded = np.isfinite(tol) & ((res.x - lo <= tol) | (np.array(hi) - res.x <= tol))
    msg = res.message if not bounded.any() else f"{int(bounded.sum())} parameter(s) at a bound"
    return GlobalFit(model, ring, ring_err, {n: float(v) for n, v in sh.items()},
                     {n: float(v) for n, v in she.items()}, chi2, n_pts, n_par, bool(res.success) and not bounded.any(),
                     msg, curves)


def evidence_table(evidence: dict[str, dict[str, float]], chosen: str) -> str:
    """Text table of :meth:`ModelSelection.evidence` (also from its JSON form) and the choice."""
    lines = ["model        k    chi2       AIC        BIC    dAIC    dBIC  w_AIC"]
    for m, v in evidence.items():
        lines.append(f"{m:<10} {int(v['n_params']):3d} {v['chi2']:9.1f} {v['aic']:9.1f} {v['bic']:9.1f} "
                     f"{v['delta_aic']:7.1f} {v['delta_bic']:7.1f} {v['akaike_weight']:6.3f}")
    best_aic = min(evidence, key=lambda m: evidence[m]["aic"])
    lines.append(f"chosen (lowest BIC): {chosen}" + (f"; AIC prefers {best_aic}" if best_aic != chosen else "; AIC agrees"))
    return "\n".join(lines)


@dataclass(frozen=True)
class ModelSelection:
    """Every model's global fit and the choice by BIC, with ΔAIC, ΔBIC and Akaike weights."""

    fits: dict[str, GlobalFit]
    chosen: str

    def evidence(self) -> dict[str, dict[str, float]]:
        """Per model: χ², k, AIC, BIC, ΔAIC, ΔBIC (to the best) and the Akaike weight."""
        aic = {m: f.aic for m, f in self.fits.items()}
        bic = {m: f.bic for m, f in self.fits.items()}
        a0, b0 = min(aic.values()), min(bic.values())
        w = {m: np.exp(-(a - a0) / 2) for m, a in aic.items()}
        tot = sum(w.values())
        return {m: {"chi2": f.chi2, "n_params": f.n_params, "n_points": f.n_points, "aic": aic[m], "bic": bic[m],
                    "delta_aic": aic[m] - a0, "delta_bic": bic[m] - b0, "akaike_weight": float(w[m] / tot)}
                for m, f in self.fits.items()}

    def report(self) -> str:
        """Text table of the evidence and the choice."""
        return evidence_table(self.evidence(), self.chosen)

    def summary(self) -> dict[str, Any]:
        """JSON-safe dict: the choice, the evidence and every fit."""
        return {"chosen": self.chosen, "evidence": self.evidence(),
                "fits": {m: f.summary() for m, f in self.fits.items()}}


def select_model(delay_ps: np.ndarray, values: np.ndarray, errors: np.ndarray, *,
                 models: tuple[str, ...] = tuple(GLOBAL_MODELS), irf_guess_ps: float = 0.5,
                 t0_guess_ps: float = 0.0, irf_prior_ps: float = 0.1,
                 groups: list[str] | tuple[str, ...] | None = None) -> ModelSelection:
    """Fit every model in ``models`` globally and choose by BIC (see the module docstring).

    Raises
    ------
    FitError
        No model could be fitted.
    """
    fits = {}
    for m in models:
        try:
            fits[m] = fit_global_model(delay_ps, values, errors, model=m, irf_guess_ps=irf_guess_ps,
                                       t0_guess_ps=t0_guess_ps, irf_prior_ps=irf_prior_ps, groups=groups)
        except FitError:
            continue
    if not fits:
        raise FitError("global kinetics: no model could be fitted")
    return ModelSelection(fits, min(fits, key=lambda m: fits[m].bic))
