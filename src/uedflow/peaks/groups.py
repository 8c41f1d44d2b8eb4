"""Joint fits of groups of overlapping rings, the machinery under :func:`uedflow.peaks.fit_powder_series`.

Rings are fitted in groups (rings closer than :data:`~uedflow.peaks.indexing.GROUP_HALF_WIDTH` FWHMs share
one fit and one background polynomial); each group is fitted once, then again with the tails of the other
groups' peaks subtracted. :func:`profile_model` rebuilds the fitted profile from the group fits.
"""

from __future__ import annotations

import numpy as np

from uedflow.peaks.background import polynomial_design
from uedflow.peaks.fit import PeakFit, fit_group
from uedflow.peaks.indexing import GROUP_HALF_WIDTH, Ring
from uedflow.peaks.lineshapes import SHAPES, pseudo_voigt

__all__ = ["fit_rings", "peaks_model", "profile_model"]


def peaks_model(s: np.ndarray, fit: PeakFit, eta: dict[str, float]) -> np.ndarray:
    """(B, N) sum of the fitted peaks of one group (no background), NaN-free."""
    total = np.zeros((fit.values.shape[0], s.size))
    for lab in fit.labels:
        e = fit.value("eta", lab)[:, None] if f"eta_{lab}" in fit.param_names else eta[lab]
        total += np.nan_to_num(pseudo_voigt(s, fit.value("area", lab)[:, None], fit.value("center", lab)[:, None],
                                            fit.value("fwhm", lab)[:, None], e))
    return total


def fit_rings(
    s: np.ndarray,
    prof: np.ndarray,
    sig: np.ndarray,
    rings: tuple[Ring, ...],
    *,
    shape: str,
    eta: dict[str, float] | None,
    degree: int | str | None,
    start: dict[int, np.ndarray] | None = None,
    half_window: float,
) -> dict[int, PeakFit]:
    """Fit every group; then refit each with the tails of the other groups' peaks subtracted."""
    groups = _groups(rings)
    limits = _limits(rings, groups)

    def run(profiles: dict[int, np.ndarray], first: dict[int, np.ndarray] | None) -> dict[int, PeakFit]:
        out = {}
        for g, idx in groups.items():
            members = [rings[i] for i in idx]
            out[g] = fit_group(s, profiles[g], sig, members, shape=shape, degree=degree, half_window=half_window,
                               limits=limits[g],
                               eta=None if eta is None else [eta[r.label] for r in members],
                               start=None if first is None else first[g])
        return out

    fits = run(dict.fromkeys(groups, prof), start)
    if len(groups) == 1:
        return fits
    fixed = SHAPES[shape]  # η of a Gaussian/Lorentzian; None for a pseudo-Voigt (then η is fitted or given)
    models = {g: peaks_model(s, f, eta or dict.fromkeys(f.labels, fixed)) for g, f in fits.items()}
    total = sum(models.values())
    cleaned = {g: prof - (total - models[g]) for g in groups}
    return run(cleaned, {g: np.nan_to_num(f.values) for g, f in fits.items()})


def _limits(rings: tuple[Ring, ...], groups: dict[int, list[int]]) -> dict[int, tuple[float, float]]:
    """Fit-window limits of each group: 1.5 FWHM short of the nearest ring of another group."""
    out = {}
    for g, idx in groups.items():
        others = [r for r in rings if r.group != g]
        first, last = rings[idx[0]], rings[idx[-1]]
        below = [r.s_expected + GROUP_HALF_WIDTH * r.fwhm_guess for r in others if r.s_expected < first.s_expected]
        above = [r.s_expected - GROUP_HALF_WIDTH * r.fwhm_guess for r in others if r.s_expected > last.s_expected]
        lo = max(below, default=-np.inf)
        hi = min(above, default=np.inf)
        out[g] = (min(lo, first.s_expected - GROUP_HALF_WIDTH * first.fwhm_guess),
                  max(hi, last.s_expected + GROUP_HALF_WIDTH * last.fwhm_guess))
    return out


def _groups(rings: tuple[Ring, ...]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for i, r in enumerate(rings):
        out.setdefault(r.group, []).append(i)
    return out


def profile_model(s: np.ndarray, fits: dict[int, PeakFit], rows: int, eta: dict[str, float],
                   baseline: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """(rows, s) fitted profile (every group's peaks plus the local background) and the background alone.

    Inside each group's window the background is that group's polynomial (plus the ``baseline`` subtracted
    before the fits); the peaks of every group add up everywhere. NaN outside every window.
    """
    peaks = sum(peaks_model(s, f, eta)[:rows] for f in fits.values())
    bg = np.full((rows, s.size), np.nan)
    for f in fits.values():
        n_bg = sum(n.startswith("bg") for n in f.param_names)
        inside = (s >= f.window[0]) & (s <= f.window[1])
        poly = f.values[:rows, -n_bg:] @ polynomial_design(s[inside], n_bg - 1).T if n_bg and inside.any() else 0.0
        bg[:, inside] = poly + (baseline[:rows, inside] if np.ndim(baseline) else baseline)
    return peaks + bg, bg
