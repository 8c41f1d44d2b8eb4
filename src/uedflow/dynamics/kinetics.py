"""Kinetic fits: exponential rises with time zero and Gaussian IRF, single or global.

Each trace y(t) is modelled as

.. math::

    y(t) = c + A\\,[1 - e^{-(t - t_0)/\\tau}]\\,\\Theta(t - t_0) \\ast G_{\\mathrm{IRF}}

(:func:`uedflow.dynamics.models.exp_rise`; ``model="biexp"`` adds a second
rise A₂, τ₂ sharing t₀). The free baseline c absorbs the uncertainty of the
reference before time zero, so the amplitude error includes it. A global fit
shares t₀ across traces. Errors are 1σ from the covariance scaled by χ²_red.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import least_squares

from uedflow.dynamics.models import biexp_rise, exp_rise
from uedflow.errors import ConfigError, FitError

__all__ = ["KineticsFit", "fit_kinetics", "fit_global", "stack_fits", "time_resolution_ps", "MODELS"]

#: Kinetic models and their per-trace parameters (t0_ps is shared and listed last).
MODELS: dict[str, tuple[str, ...]] = {
    "exp": ("offset", "amplitude", "tau_ps"),
    "biexp": ("offset", "amplitude", "tau_ps", "amplitude2", "tau2_ps"),
}


@dataclass(frozen=True)
class KineticsFit:
    """Result of a kinetic fit of one trace.

    Attributes
    ----------
    model : str
        ``"exp"`` or ``"biexp"``.
    param_names : tuple of str
        e.g. ``("offset", "amplitude", "tau_ps", "t0_ps")``.
    values, stderr : (K,) ndarray
        Best values and 1σ (covariance scaled by χ²_red). Amplitudes and offset
        in the unit of the trace, times in ps.
    covariance : (K, K) ndarray
    chi2_red : float
    success : bool
        False when the solver failed, a parameter hit a bound, a time constant exceeds
        the delay range after t0 or is shorter than the time resolution
        (:func:`time_resolution_ps`), the parameters are not determined (ill-conditioned),
        or the trace had too few points.
    message : str
    irf_fwhm_ps : float
        Instrument response used [ps].
    n_points : int
        Points used.
    bootstrap_stderr : (K,) ndarray or None
        1σ from a bootstrap over scans, when one was run.
    """

    model: str
    param_names: tuple[str, ...]
    values: np.ndarray
    stderr: np.ndarray
    covariance: np.ndarray
    chi2_red: float
    success: bool
    message: str
    irf_fwhm_ps: float
    n_points: int
    bootstrap_stderr: np.ndarray | None = field(default=None)

    def value(self, name: str) -> float:
        """Best value of parameter ``name``."""
        return float(self.values[self.param_names.index(name)])

    def error(self, name: str) -> float:
        """1σ of parameter ``name`` (covariance)."""
        return float(self.stderr[self.param_names.index(name)])

    def curve(self, delay_ps: np.ndarray) -> np.ndarray:
        """The fitted model at ``delay_ps`` [ps] (NaN if the fit has no values)."""
        p = dict(zip(self.param_names, self.values, strict=True))
        return _model(np.asarray(delay_ps, float), self.model, p, self.irf_fwhm_ps)

    def shift(self, delay_ps: np.ndarray, change: np.ndarray, errors: np.ndarray) -> np.ndarray:
        """First-order change of every parameter when the trace changes by ``change`` at ``delay_ps``.

        Δp = (JᵀWJ)⁻¹ JᵀW Δy with the model's Jacobian J at the fitted values (central differences)
        and W = 1/``errors``²: what refitting the changed trace would give, for small changes, at the
        cost of 2K model evaluations. NaN points are ignored; NaN for a fit without values.
        """
        t, dy, e = (np.asarray(a, float) for a in (delay_ps, change, errors))
        ok = np.isfinite(dy) & np.isfinite(e) & (e > 0)
        if not (np.all(np.isfinite(self.values)) and ok.sum() > len(self.values)):
            return np.full(len(self.values), np.nan)
        p0 = dict(zip(self.param_names, self.values, strict=True))
        jac = np.empty((int(ok.sum()), len(self.values)))
        for c, name in enumerate(self.param_names):
            h = 1e-6 * max(abs(p0[name]), 1e-2)
            plus, minus = {**p0, name: p0[name] + h}, {**p0, name: p0[name] - h}
            jac[:, c] = (_model(t[ok], self.model, plus, self.irf_fwhm_ps)
                         - _model(t[ok], self.model, minus, self.irf_fwhm_ps)) / (2 * h)
        return np.linalg.lstsq(jac / e[ok, None], dy[ok] / e[ok], rcond=None)[0]

    def summary(self) -> dict[str, Any]:
        """JSON-safe dict of values, errors and fit statistics."""
        out: dict[str, Any] = {n: float(v) for n, v in zip(self.param_names, self.values, strict=True)}
        out.update({f"{n}_err": float(e) for n, e in zip(self.param_names, self.stderr, strict=True)})
        if self.bootstrap_stderr is not None:
            out.update({f"{n}_boot_err": float(e) for n, e in zip(self.param_names, self.bootstrap_stderr, strict=True)})
        out.update(model=self.model, chi2_red=float(self.chi2_red), success=bool(self.success),
                   message=self.message, irf_fwhm_ps=self.irf_fwhm_ps, n_points=self.n_points)
        return out

    def report(self) -> str:
        """Readable text report."""
        lines = [f"{self.model} rise, IRF {self.irf_fwhm_ps:g} ps, {self.n_points} points, "
                 f"chi2_red = {self.chi2_red:.3g}, {'ok' if self.success else 'FLAGGED'}: {self.message}"]
        for i, n in enumerate(self.param_names):
            boot = "" if self.bootstrap_stderr is None else f" (bootstrap ± {self.bootstrap_stderr[i]:.3g})"
            lines.append(f"  {n:>10} = {self.values[i]:.6g} ± {self.stderr[i]:.3g}{boot}")
        return "\n".join(lines)


def _model(t: np.ndarray, model: str, p: dict[str, float], irf: float) -> np.ndarray:
    if model == "exp":
        return p["offset"] + exp_rise(t, p["amplitude"], p["tau_ps"], p["t0_ps"], irf)
    return p["offset"] + biexp_rise(t, p["amplitude"], p["tau_ps"], p["amplitude2"], p["tau2_ps"], p["t0_ps"], irf)


def _start(t: np.ndarray, y: np.ndarray, w: np.ndarray, model: str, t0: float, irf: float, span: float) -> list[float]:
    """Grid over τ with the linear parameters (offset, amplitude) solved exactly; best χ² wins."""
    taus = np.geomspace(max(0.05, span / 500), span, 40)
    rise = np.array([exp_rise(t, 1.0, tau, t0, irf) for tau in taus])
    # weighted 2x2 normal equations of y ≈ c + a·rise for every τ at once
    ww = w * w
    s1, sy = ww.sum(), (ww * y).sum()
    sr, srr, sry = (ww * rise).sum(1), (ww * rise * rise).sum(1), (ww * rise * y).sum(1)
    det = np.where(np.abs(s1 * srr - sr * sr) > 0, s1 * srr - sr * sr, np.inf)
    a = (s1 * sry - sr * sy) / det
    c = (sy - a * sr) / s1
    chi = ((c[:, None] + a[:, None] * rise - y) ** 2 * ww).sum(1)
    i = int(np.nanargmin(np.where(np.isfinite(chi), chi, np.inf)))
    best = [float(c[i]), float(a[i]), float(taus[i])]
    if model == "biexp":
        c, a, tau = best
        best = [c, 0.7 * a, tau, 0.3 * a, min(5.0 * tau, span)]
    return best


def fit_global(
    delay_ps: np.ndarray,
    values: np.ndarray,
    errors: np.ndarray | None = None,
    *,
    model: str = "exp",
    irf_fwhm_ps: float = 0.5,
    t0_ps: float | None = None,
    t0_guess_ps: float = 0.0,
) -> tuple[KineticsFit, ...]:
    """Fit P traces at once with one shared time zero.

    Parameters
    ----------
    delay_ps : (D,) ndarray
        Delays [ps].
    values, errors : (P, D) ndarray
        Traces and 1σ (NaN points ignored); ``errors=None`` means equal weights,
        the scale then comes from the scatter (χ²_red).
    model : str
        ``"exp"`` (default) or ``"biexp"``.
    irf_fwhm_ps : float
        Gaussian instrument-response FWHM [ps] (fixed).
    t0_ps : float, optional
        Fix time zero at this value [ps] instead of fitting it.
    t0_guess_ps : float
        Start value of t0 [ps].

    Returns
    -------
    tuple of KineticsFit
        One per trace, sharing ``t0_ps`` (value and error of the global fit).
        Traces with too few points are returned flagged (success False, NaN values).

    Raises
    ------
    FitError
        No trace has enough points (at least one before and three after time zero,
        and more points than parameters).

    Examples
    --------
    >>> t = np.linspace(-5, 50, 60)
    >>> fit = fit_global(t, exp_rise(t, 2.0, 8.0, 0.3, 0.5)[None], np.full((1, 60), 1e-3))[0]
    >>> round(fit.value("tau_ps"), 3), round(fit.value("t0_ps"), 3)
    (8.0, 0.3)
    """
    if model not in MODELS:
        raise ConfigError(f"kinetic model {model!r} is unknown; choose one of {', '.join(MODELS)}")
    t = np.asarray(delay_ps, float)
    y_all = np.atleast_2d(np.asarray(values, float))
    e_all = np.ones_like(y_all) if errors is None else np.atleast_2d(np.asarray(errors, float))
    names = MODELS[model]
    k = len(names)
    t0_start = t0_guess_ps if t0_ps is None else t0_ps
    ok_pts = np.isfinite(y_all) & np.isfinite(e_all) & (e_all > 0)
    usable = np.array([
        (m.sum() > k + 1) and np.any(t[m] < t0_start) and np.sum(t[m] > t0_start) >= 3 for m in ok_pts
    ])
    if not usable.any():
        raise FitError(
            f"no trace can be fitted with the {model} model: each needs more than {k + 1} valid points, "
            f"at least one before time zero ({t0_start:g} ps) and three after; check for NaN traces or too few delays"
        )
    span = float(t.max() - t0_start)
    rows = np.flatnonzero(usable)
    w = [1.0 / e_all[r, ok_pts[r]] for r in rows]
    ts = [t[ok_pts[r]] for r in rows]
    ys = [y_all[r, ok_pts[r]] for r in rows]
    x0 = [p for r in range(len(rows)) for p in _start(ts[r], ys[r], w[r], model, t0_start, irf_fwhm_ps, span)]
    free_t0 = t0_ps is None
    lo_one = [-np.inf, -np.inf, 0.02] + ([-np.inf, 0.02] if model == "biexp" else [])
    hi_one = [np.inf, np.inf, 20.0 * span] + ([np.inf, 20.0 * span] if model == "biexp" else [])
    lower = lo_one * len(rows) + ([t.min()] if free_t0 else [])
    upper = hi_one * len(rows) + ([t.max()] if free_t0 else [])
    x0 = np.clip(np.array(x0 + ([t0_start] if free_t0 else [])), np.array(lower) + 1e-12, np.array(upper) - 1e-12)

    def unpack(x: np.ndarray, r: int) -> dict[str, float]:
        p = dict(zip(names, x[r * k : (r + 1) * k], strict=True))
        p["t0_ps"] = x[-1] if free_t0 else float(t0_ps)
        return p

    def resid(x: np.ndarray) -> np.ndarray:
        return np.concatenate([(_model(ts[r], model, unpack(x, r), irf_fwhm_ps) - ys[r]) * w[r]
                               for r in range(len(rows))])

    def jac(x: np.ndarray) -> np.ndarray:
        """Offset and amplitudes analytically (the model is linear in them), τ and t0 by central differences."""
        sizes = [len(v) for v in ts]
        out = np.zeros((sum(sizes), x.size))
        start = 0
        for r in range(len(rows)):
            sl = slice(start, start + sizes[r])
            p = unpack(x, r)
            cols = list(range(r * k, (r + 1) * k)) + ([x.size - 1] if free_t0 else [])
            for c, name in zip(cols, (*names, "t0_ps"), strict=False):
                if name == "offset":
                    out[sl, c] = w[r]
                elif name.startswith("amplitude"):
                    tau = p["tau2_ps" if name == "amplitude2" else "tau_ps"]
                    out[sl, c] = exp_rise(ts[r], 1.0, tau, p["t0_ps"], irf_fwhm_ps) * w[r]
                else:
                    h = 1e-6 * max(abs(x[c]), 1e-2)
                    xp, xm = x.copy(), x.copy()
                    xp[c] += h
                    xm[c] -= h
                    out[sl, c] = (_model(ts[r], model, unpack(xp, r), irf_fwhm_ps)
                                  - _model(ts[r], model, unpack(xm, r), irf_fwhm_ps)) * w[r] / (2 * h)
            start += sizes[r]
        return out

    # the Jacobian is dense and has a few hundred columns at most: the exact trust-region solver converges in
    # tens of evaluations where LSMR crept for hundreds (a 91-parameter fit: 0.5 s against > 5 s)
    res = least_squares(resid, x0, jac=jac, bounds=(lower, upper), method="trf", x_scale="jac", max_nfev=300,
                        tr_solver="exact")
    n_pts = sum(len(v) for v in ts)
    chi2_global = float(np.sum(res.fun**2) / max(n_pts - res.x.size, 1))
    hess = res.jac.T @ res.jac
    cov = _inverse(hess)
    span_b = np.array(upper) - np.array(lower)
    tol = np.where(np.isfinite(span_b), 1e-6 * np.where(np.isfinite(span_b), span_b, 1.0), 0.0)
    at_bound = np.isfinite(span_b) & ((res.x - np.array(lower) <= tol) | (np.array(upper) - res.x <= tol))
    ctx = _Context(res, hess, cov, at_bound, names, free_t0, t0_ps, model, irf_fwhm_ps, ok_pts, chi2_global,
                   ts, ys, w, rows, span, errors is not None)
    return tuple(_one(ctx, r) for r in range(y_all.shape[0]))


def _inverse(hess: np.ndarray) -> np.ndarray:
    """Inverse of a normal matrix after diagonal scaling; a near-null direction keeps its
    (huge) variance instead of being truncated away as a pseudo-inverse would."""
    d = np.sqrt(np.maximum(np.diag(hess), 1e-300))
    try:
        inv = np.linalg.inv(hess / d[:, None] / d[None, :])
    except np.linalg.LinAlgError:
        return np.full(hess.shape, np.inf)
    return inv / d[:, None] / d[None, :]


@dataclass(frozen=True)
class _Context:
    """Everything :func:`_one` needs from a global fit."""

    res: Any
    hess: np.ndarray
    cov: np.ndarray
    at_bound: np.ndarray
    names: tuple[str, ...]
    free_t0: bool
    t0_fixed: float | None
    model: str
    irf: float
    ok_pts: np.ndarray
    chi2_global: float
    ts: list
    ys: list
    w: list
    rows: np.ndarray
    span: float
    weighted: bool = True


def time_resolution_ps(delay_ps: np.ndarray, *, t0_ps: float, irf_fwhm_ps: float) -> float:
    """Shortest rise time a delay series resolves [ps]: the larger of the IRF FWHM and the delay step at t0.

    A rise faster than both is a step to the data (at most one delay falls on it, and the
    IRF blurs it to its own width), so its τ is not measured; :func:`fit_global` flags such
    fits. The step at t0 is the smallest spacing of the first four delays from t0 − IRF on.

    Examples
    --------
    >>> time_resolution_ps(np.array([-4.0, -1, 0, 1, 2, 4, 8]), t0_ps=0.3, irf_fwhm_ps=0.5)
    1.0
    """
    t = np.sort(np.asarray(delay_ps, float))
    steps = np.diff(t[t >= t0_ps - irf_fwhm_ps][:4])
    step = float(steps[steps > 0].min()) if np.any(steps > 0) else 0.0
    return max(float(irf_fwhm_ps), step)


#: Largest condition number of a trace's (diagonally scaled) normal matrix whose parameters count as determined.
_MAX_CONDITION = 1e10


def _one(c: _Context, row: int) -> KineticsFit:
    """The KineticsFit of trace ``row`` out of a global fit.

    Its covariance block is scaled by max(1, the trace's own χ²_red) (the shared t0 by the global
    one), so a noisier trace does not borrow the precision of the others, and a trace that scatters
    less than its σ says keeps the error its σ gives (a χ²_red < 1 from a few points is no evidence
    of better data: scaling by it shrank errors by up to 45 %). Unweighted fits (no σ) take the
    scale from the scatter alone.
    """
    all_names = (*c.names, "t0_ps")
    k = len(c.names)
    if row not in c.rows:
        nan = np.full(len(all_names), np.nan)
        return KineticsFit(c.model, all_names, nan, nan.copy(), np.full((k + 1, k + 1), np.nan), float("nan"), False,
                           f"too few valid points ({int(c.ok_pts[row].sum())}) around time zero", c.irf,
                           int(c.ok_pts[row].sum()))
    r = int(np.flatnonzero(c.rows == row)[0])
    x = c.res.x
    idx = list(range(r * k, (r + 1) * k)) + ([x.size - 1] if c.free_t0 else [])
    vals = np.append(x[idx[:k]], x[-1] if c.free_t0 else c.t0_fixed)
    p = dict(zip(all_names, vals, strict=True))
    n_r = len(c.ts[r])
    dof = n_r - k - (1.0 / len(c.rows) if c.free_t0 else 0.0)
    chi_trace = float(np.sum(((_model(c.ts[r], c.model, p, c.irf) - c.ys[r]) * c.w[r]) ** 2) / max(dof, 1.0))
    chi2 = np.array([chi_trace] * k + ([c.chi2_global] if c.free_t0 else []))
    scale = np.sqrt(np.maximum(1.0, chi2) if c.weighted else chi2)  # unweighted: the scatter is the only scale
    sub = c.cov[np.ix_(idx, idx)] * scale[:, None] * scale[None, :]
    if not c.free_t0:
        sub = np.pad(sub, ((0, 1), (0, 1)))
    stderr = np.sqrt(np.maximum(np.diag(sub), 0.0))
    block = c.hess[np.ix_(idx, idx)]
    d = np.sqrt(np.maximum(np.diag(block), 1e-300))
    condition = float(np.linalg.cond(block / d[:, None] / d[None, :]))
    bounded = [all_names[j] for j, i in enumerate(idx) if c.at_bound[i]]
    too_slow = [n for n in all_names if n.startswith("tau") and p[n] > c.span]
    resolution = time_resolution_ps(c.ts[r], t0_ps=p["t0_ps"], irf_fwhm_ps=c.irf)
    too_fast = [n for n in all_names if n.startswith("tau") and p[n] < resolution]
    success = bool(c.res.success) and not bounded and not too_slow and not too_fast and condition < _MAX_CONDITION
    if too_slow:
        message = f"{', '.join(too_slow)} longer than the delay range after t0 ({c.span:.3g} ps): not measured"
    elif too_fast:
        message = (f"{', '.join(too_fast)} shorter than the time resolution ({resolution:.3g} ps: the larger of the "
                   "IRF FWHM and the delay step at t0): not resolved")
    elif bounded:
        message = f"parameter(s) at a bound: {', '.join(bounded)}"
    elif condition >= _MAX_CONDITION:
        message = "parameters not determined by the data (e.g. τ much longer than the delay range)"
        stderr = np.where(np.arange(stderr.size) < k, np.inf, stderr)
    else:
        message = c.res.message
    return KineticsFit(c.model, all_names, vals, stderr, sub, chi_trace, success, message, c.irf, n_r)


def fit_kinetics(
    delay_ps: np.ndarray,
    values: np.ndarray,
    errors: np.ndarray | None = None,
    *,
    model: str = "exp",
    irf_fwhm_ps: float = 0.5,
    t0_ps: float | None = None,
    t0_guess_ps: float = 0.0,
) -> KineticsFit:
    """Fit one trace with an exponential rise (see :func:`fit_global` for the parameters).

    Raises
    ------
    FitError
        Too few valid points (see :func:`fit_global`).
    """
    vals = np.asarray(values, float)[None]
    errs = None if errors is None else np.asarray(errors, float)[None]
    return fit_global(delay_ps, vals, errs, model=model, irf_fwhm_ps=irf_fwhm_ps, t0_ps=t0_ps,
                      t0_guess_ps=t0_guess_ps)[0]


def stack_fits(fits: Sequence[KineticsFit]) -> dict[str, np.ndarray]:
    """Arrays (one entry per fit) of amplitude, tau_ps, t0_ps, their errors, chi2_red and success."""
    out: dict[str, list[float]] = {k: [] for k in ("amplitude", "amplitude_err", "tau_ps", "tau_err_ps", "t0_ps",
                                                   "t0_err_ps", "chi2_red", "success")}
    for f in fits:
        for name, key in (("amplitude", "amplitude"), ("tau_ps", "tau"), ("t0_ps", "t0")):
            out[name].append(f.value(name))
            out["amplitude_err" if key == "amplitude" else f"{key}_err_ps"].append(f.error(name))
        out["chi2_red"].append(f.chi2_red)
        out["success"].append(float(f.success))
    return {k: np.array(v) for k, v in out.items()}
