"""Joint multi-peak fits of one group of overlapping rings, vectorised over many profiles.

A group (one ring, or rings whose windows overlap such as PbSe (311)/(222)) is
fitted in the window [first centre − k·FWHM, last centre + k·FWHM] with, per
ring, area, centre and FWHM (and the pseudo-Voigt mixing η when it is free),
plus the coefficients of a polynomial background when the background is fitted
jointly. All B profiles (delays × scans) are fitted at once by
:func:`uedflow.peaks._lm.batched_least_squares`; 1σ errors come from the
covariance scaled by max(1, reduced χ²).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from uedflow.errors import ConfigError
from uedflow.peaks._lm import batched_least_squares
from uedflow.peaks.background import polynomial_design
from uedflow.peaks.indexing import Ring
from uedflow.peaks.lineshapes import SHAPES, pseudo_voigt, shape_and_jacobian

__all__ = [
    "PeakFit",
    "auto_degree",
    "fit_group",
    "FLAG_FAILED",
    "FLAG_AT_BOUND",
    "FLAG_NO_DATA",
    "FLAG_POOR_FIT",
    "POOR_FIT_CHI2",
    "POOR_FIT_MISFIT",
    "check_shape",
]

#: Bits of a fit flag: the solver failed, a parameter ended at a bound, no data,
#: and a fit the model does not describe (χ²_red above :data:`POOR_FIT_CHI2` *and*
#: an rms residual above :data:`POOR_FIT_MISFIT` of the tallest peak).
FLAG_FAILED = 1
FLAG_AT_BOUND = 2
FLAG_NO_DATA = 4
FLAG_POOR_FIT = 8
#: χ²_red above which a peak fit is flagged as not describing the data (line-shape
#: mismatch of a few % already gives χ²_red ~ 10 at high counts; 100 means the model fails).
POOR_FIT_CHI2 = 100.0
#: rms residual / tallest fitted peak above which a fit with χ²_red > POOR_FIT_CHI2 is flagged.
#: At high counts (strong rings, σ ~ 0.1 % of the signal) a sub-percent line-shape mismatch
#: (e.g. the pixel footprint smoothing a narrow ring) already gives χ²_red in the hundreds
#: without biasing the fitted values beyond a few %; a fit that misses a ring or a feature
#: of the profile leaves residuals of 5-30 % of the peak.
POOR_FIT_MISFIT = 0.03
_PEAK_PARAMS = ("area", "center", "fwhm", "eta")
#: A tied ring's centre stays within ± this × its FWHM guess (room for a 0.4 % strain at s = 1 Å⁻¹)
#: and its FWHM within these factors of the guess, so that a weak ring cannot run away into a neighbour.
_TIED_CENTER = 0.25
_TIED_WIDTH = (0.8, 1.25)
#: FWHM bounds of a free ring, × its expected FWHM (the median of the profile's peaks): wide enough for rings that
#: an elliptical detector or strain broadens several times more at high s than at low s
_FREE_WIDTH = (0.25, 8.0)
_PARAM_WORDS = {"area": "area", "center": "position", "fwhm": "width"}


def check_shape(shape: str) -> str:
    """Normalise a line-shape name (``gaussian``, ``lorentzian``, ``pseudo-voigt``).

    Examples
    --------
    >>> check_shape("Pseudo_Voigt")
    'pseudo-voigt'
    """
    key = str(shape).lower().replace("_", "-").replace(" ", "-")
    key = {"pv": "pseudo-voigt", "pseudovoigt": "pseudo-voigt", "voigt": "pseudo-voigt"}.get(key, key)
    if key not in SHAPES:
        raise ConfigError(f"peak shape {shape!r} is unknown; choose one of {', '.join(SHAPES)}")
    return key


@dataclass(frozen=True)
class PeakFit:
    """Joint fit of one group of rings to B profiles.

    Attributes
    ----------
    labels : tuple of str
        Ring labels, e.g. ``("311", "222")``.
    param_names : tuple of str
        ``area_311``, ``center_311``, ``fwhm_311``, [``eta_311``], …, ``bg0``, ``bg1``…
    values, stderr : (B, P) ndarray
        Best values and 1σ (covariance scaled by χ²_red). Units: area in
        intensity × Å⁻¹, centre and FWHM in Å⁻¹.
    covariance : (B, P, P) ndarray
    chi2_red : (B,) ndarray
    success : (B,) bool ndarray
    at_bound : (B, P) bool ndarray
    message : tuple of str
    window : (float, float)
        Fitted s range [Å⁻¹].
    misfit : (B,) ndarray
        rms residual over the window divided by the height of the tallest fitted peak.
    """

    labels: tuple[str, ...]
    param_names: tuple[str, ...]
    values: np.ndarray
    stderr: np.ndarray
    covariance: np.ndarray
    chi2_red: np.ndarray
    success: np.ndarray
    at_bound: np.ndarray
    message: tuple[str, ...]
    window: tuple[float, float]
    misfit: np.ndarray

    def _col(self, name: str) -> int:
        try:
            return self.param_names.index(name)
        except ValueError:
            raise KeyError(f"no parameter {name!r}; parameters are {', '.join(self.param_names)}") from None

    def value(self, param: str, label: str) -> np.ndarray:
        """(B,) values of ``param`` (area, center, fwhm, eta) of ring ``label``."""
        return self.values[:, self._col(f"{param}_{label}")]

    def error(self, param: str, label: str) -> np.ndarray:
        """(B,) 1σ of ``param`` of ring ``label``."""
        return self.stderr[:, self._col(f"{param}_{label}")]

    def flags(self, label: str) -> np.ndarray:
        """(B,) uint8 flags of ring ``label`` (FLAG_FAILED | FLAG_AT_BOUND | FLAG_NO_DATA | FLAG_POOR_FIT)."""
        cols = [self._col(f"{p}_{label}") for p in ("area", "center", "fwhm")]
        out = np.where(self.success, 0, FLAG_FAILED).astype(np.uint8)
        out |= np.where(self.at_bound[:, cols].any(axis=1), FLAG_AT_BOUND, 0).astype(np.uint8)
        out |= np.where(np.isfinite(self.values[:, cols]).all(axis=1), 0, FLAG_NO_DATA).astype(np.uint8)
        poor = (self.chi2_red > POOR_FIT_CHI2) & ~(self.misfit <= POOR_FIT_MISFIT)
        out |= np.where(poor, FLAG_POOR_FIT, 0).astype(np.uint8)
        return out

    def reason(self, label: str, row: int = 0) -> str:
        """Why the fit of ring ``label`` to profile ``row`` is flagged, in words ("" when it is not)."""
        flag = int(self.flags(label)[row])
        words = []
        if flag & FLAG_FAILED:
            words.append(f"the solver failed ({self.message[row]})")
        if flag & FLAG_NO_DATA:
            words.append("no data in its window")
        if flag & FLAG_AT_BOUND:
            at = [w for p, w in _PARAM_WORDS.items() if self.at_bound[row, self._col(f"{p}_{label}")]]
            words.append(f"its {' and '.join(at)} at a bound of the fit")
        if flag & FLAG_POOR_FIT:
            words.append(f"the model does not describe the data (reduced chi2 {self.chi2_red[row]:.3g})")
        return "; ".join(words)

    def summary(self) -> dict[str, Any]:
        """JSON-safe summary: per parameter median value and error, fit statistics."""
        return {
            "labels": list(self.labels),
            "n_profiles": int(self.values.shape[0]),
            "n_success": int(self.success.sum()),
            "n_at_bound": int(self.at_bound.any(axis=1).sum()),
            "chi2_red_median": float(np.nanmedian(self.chi2_red)) if np.isfinite(self.chi2_red).any() else None,
            "window": list(self.window),
            "params": {
                n: {"value": _nanmedian(self.values[:, i]), "stderr": _nanmedian(self.stderr[:, i])}
                for i, n in enumerate(self.param_names)
            },
        }

    def report(self) -> str:
        """Readable text report (first profile and fit statistics)."""
        sm = self.summary()
        lines = [
            f"group ({')/('.join(self.labels)}), s window {self.window[0]:.4f}-{self.window[1]:.4f} 1/Å: "
            f"{sm['n_success']}/{sm['n_profiles']} fits converged, {sm['n_at_bound']} at a bound, "
            f"median chi2_red = {sm['chi2_red_median']}"
        ]
        lines += [f"  {n:>14} = {p['value']:.6g} ± {p['stderr']:.2g}" for n, p in sm["params"].items()]
        return "\n".join(lines)


def _nanmedian(a: np.ndarray) -> float:
    return float(np.nanmedian(a)) if np.isfinite(a).any() else float("nan")


def auto_degree(window: float, fwhm: float) -> int:
    """Background polynomial degree for a fit window: 2 up to 6 FWHM wide, 3 up to 10, else 4.

    Wide windows (groups of rings, or windows between distant neighbours) need
    more freedom to follow the curvature of the diffuse background; tests on
    simulated series (tests/test_background.py) show a fixed quadratic biasing
    areas by a few % in windows of 10+ FWHM.

    Examples
    --------
    >>> auto_degree(0.1, 0.02), auto_degree(0.3, 0.02)
    (2, 4)
    """
    ratio = window / max(fwhm, 1e-300)
    return 2 if ratio <= 6.0 else (3 if ratio <= 10.0 else 4)


def _make_model(x: np.ndarray, n_peaks: int, eta_fixed: np.ndarray | None, design: np.ndarray | None):
    """model_jac(params) for ``n_peaks`` pseudo-Voigts (+ polynomial background) at x."""
    per = 3 if eta_fixed is not None else 4
    n_bg = 0 if design is None else design.shape[1]

    def model_jac(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        nb = p.shape[0]
        value = np.zeros((nb, x.size))
        jac = np.empty((nb, x.size, p.shape[1]))
        for k in range(n_peaks):
            q = p[:, k * per : (k + 1) * per]
            eta = np.full((nb, 1), eta_fixed[k]) if eta_fixed is not None else q[:, 3:4]
            v, j = shape_and_jacobian(x, q[:, 0:1], q[:, 1:2], q[:, 2:3], eta)
            value += v
            jac[:, :, k * per : (k + 1) * per] = j[..., :per]
        if n_bg:
            value += p[:, -n_bg:] @ design.T
            jac[:, :, -n_bg:] = design
        return value, jac

    return model_jac


def fit_group(
    s: np.ndarray,
    profiles: np.ndarray,
    sigma: np.ndarray,
    rings: Sequence[Ring],
    *,
    shape: str = "pseudo-voigt",
    eta: Sequence[float] | None = None,
    degree: int | str | None = "auto",
    start: np.ndarray | None = None,
    half_window: float = 2.5,
    limits: tuple[float, float] | None = None,
) -> PeakFit:
    """Fit rings jointly to B profiles.

    Parameters
    ----------
    s : (N,) ndarray
        s [Å⁻¹], ascending.
    profiles, sigma : (B, N) ndarray
        Intensities and their 1σ (NaN points ignored).
    rings : sequence of Ring
        The group; ``s_expected`` and ``fwhm_guess`` give start values and bounds
        (centre within ± FWHM/2, FWHM within 0.25–8 × the guess; for ``tied`` rings
        ± FWHM/4 and 0.8–1.25 ×).
    shape : str
        ``"pseudo-voigt"`` (η fitted unless ``eta`` is given), ``"gaussian"`` or ``"lorentzian"``.
    eta : sequence of float, optional
        Fixed pseudo-Voigt mixing per ring (e.g. from the fit before time zero).
    degree : int, "auto" or None
        Degree of the joint polynomial background; ``"auto"`` picks it from the
        window width (:func:`auto_degree`); None for no background (profiles
        already background-subtracted).
    start : (B, P) ndarray, optional
        Start values in ``param_names`` order (e.g. a previous fit).
    half_window : float
        Window half-width beyond the outer rings, in FWHMs.
    limits : (float, float), optional
        s range [Å⁻¹] the window is clipped to (to keep neighbouring rings out).

    Returns
    -------
    PeakFit
    """
    shape = check_shape(shape)
    s = np.asarray(s, float)
    profiles = np.atleast_2d(np.asarray(profiles, float))
    sigma = np.broadcast_to(np.asarray(sigma, float), profiles.shape)
    centers = np.array([r.s_expected for r in rings])
    widths = np.array([r.fwhm_guess for r in rings])
    lo = float(np.min(centers - half_window * widths))
    hi = float(np.max(centers + half_window * widths))
    if limits is not None:
        lo, hi = max(lo, limits[0]), min(hi, limits[1])
    sel = (s >= lo) & (s <= hi)
    x = s[sel]
    y = profiles[:, sel]
    err = sigma[:, sel]
    fixed_eta = SHAPES[shape]
    eta_fixed = (
        np.asarray(eta, float) if eta is not None else (None if fixed_eta is None else np.full(len(rings), fixed_eta))
    )
    if degree == "auto":
        degree = auto_degree(hi - lo, float(np.mean(widths)))
    design = None if degree is None else polynomial_design(x, int(degree))
    names = [f"{p}_{r.label}" for r in rings for p in _PEAK_PARAMS[: 3 if eta_fixed is not None else 4]]
    names += [f"bg{i}" for i in range(0 if design is None else design.shape[1])]
    per = 3 if eta_fixed is not None else 4
    lower, upper = np.full(len(names), -np.inf), np.full(len(names), np.inf)
    for k, r in enumerate(rings):
        dc, w_lo, w_hi = (_TIED_CENTER, _TIED_WIDTH[0], _TIED_WIDTH[1]) if r.tied else (0.5, *_FREE_WIDTH)
        lower[k * per : k * per + 3] = [0.0, r.s_expected - dc * r.fwhm_guess, w_lo * r.fwhm_guess]
        upper[k * per : k * per + 3] = [np.inf, r.s_expected + dc * r.fwhm_guess, w_hi * r.fwhm_guess]
        if per == 4:
            lower[k * per + 3], upper[k * per + 3] = 0.0, 1.0
    x0 = start if start is not None else _guess(x, y, err, rings, per, design)
    model_jac = _make_model(x, len(rings), eta_fixed, design)
    out = batched_least_squares(model_jac, np.array(x0, float), y, err, lower=lower, upper=upper)
    stderr = np.sqrt(np.maximum(np.einsum("bpp->bp", out.covariance), 0.0))
    n_bg = 0 if design is None else design.shape[1]
    full = model_jac(out.x)[0]
    peaks_only = model_jac(np.concatenate([out.x[:, : out.x.shape[1] - n_bg], np.zeros((out.x.shape[0], n_bg))], 1))[0]
    res2 = (y - full) ** 2
    n_ok = np.isfinite(res2).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rms = np.sqrt(np.where(np.isfinite(res2), res2, 0.0).sum(axis=1) / n_ok)
        misfit = rms / np.max(peaks_only, axis=1, initial=0.0)
    return PeakFit(
        labels=tuple(r.label for r in rings),
        param_names=tuple(names),
        values=out.x,
        stderr=stderr,
        covariance=out.covariance,
        chi2_red=out.chi2_red,
        success=out.success,
        at_bound=out.at_bound,
        message=out.message,
        window=(float(x[0]) if x.size else lo, float(x[-1]) if x.size else hi),
        misfit=misfit,
    )


def _guess(
    x: np.ndarray, y: np.ndarray, err: np.ndarray, rings: Sequence[Ring], per: int, design: np.ndarray | None
) -> np.ndarray:
    """Start values: centres and widths as expected, areas and background by linear least squares."""
    nb = y.shape[0]
    eta0 = 0.5 if per == 4 else 0.0
    shapes = [pseudo_voigt(x, 1.0, r.s_expected, r.fwhm_guess, eta0) for r in rings]
    basis = np.column_stack(shapes + ([] if design is None else [design]))
    w = np.where(np.isfinite(y) & np.isfinite(err) & (err > 0), 1.0 / np.where(err > 0, err, 1.0), 0.0)
    yw = np.nan_to_num(y) * w
    a = np.einsum("nk,bn,nl->bkl", basis, w * w, basis) + 1e-12 * np.eye(basis.shape[1])
    coef = np.linalg.solve(a, np.einsum("nk,bn->bk", basis, yw * w)[..., None])[..., 0]
    x0 = []
    for k, r in enumerate(rings):
        area = np.maximum(coef[:, k], 1e-3 * np.abs(coef[:, : len(rings)]).max(axis=1) + 1e-300)
        x0 += [area, np.full(nb, r.s_expected), np.full(nb, r.fwhm_guess)] + ([np.full(nb, eta0)] if per == 4 else [])
    if design is not None:
        x0 += list(coef[:, len(rings) :].T)
    return np.column_stack(x0)
