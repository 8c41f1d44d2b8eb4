"""Combine frame profiles into a powder series: normalise, reject outliers, average scans.

Per frame i the normalisation factor is its dark-subtracted total count in an
s window divided by the median total over frames (so normalised profiles keep
counts-per-pixel units). Outliers are rejected robustly, then scans averaged:

* **frames**: each frame's 90th percentile over s of |residual|/σ against the
  median profile of its delay (Poisson σ) is compared with all frames; a robust z-score (median/MAD) above
  ``outlier_sigma`` rejects the frame (e.g. an arcing burst). Needs ≥ 3 scans
  at a delay.
* **points**: at each (delay, s), values farther than ``outlier_sigma`` robust
  σ from the median over scans are dropped (≥ 3 scans).

The reference is the mean over delays before time zero; differential
profiles are intensity − reference.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from uedflow.errors import InputError

__all__ = ["PowderSeries", "frame_totals", "combine_scans"]


@dataclass(frozen=True)
class PowderSeries:
    """Combined powder series (see docs/formats.md, reduced.h5, for each array)."""

    s: np.ndarray
    delay_ps: np.ndarray
    scans: np.ndarray
    intensity: np.ndarray
    intensity_sigma: np.ndarray
    intensity_scan: np.ndarray
    intensity_scan_sigma: np.ndarray
    reference: np.ndarray
    reference_sigma: np.ndarray
    frame_weight: np.ndarray
    frame_rejected: np.ndarray
    n_points_rejected: int

    @property
    def differential(self) -> np.ndarray:
        """intensity − reference, (delay, s)."""
        return self.intensity - self.reference

    def summary(self) -> dict[str, object]:
        """JSON-safe overview."""
        return {"n_delays": int(len(self.delay_ps)), "n_scans": int(len(self.scans)), "n_bins": int(len(self.s)),
                "frames_rejected": int(self.frame_rejected.sum()), "points_rejected": self.n_points_rejected}


def frame_totals(sums: np.ndarray, s: np.ndarray, *, window: tuple[float, float] | None = None) -> np.ndarray:
    """Dark-subtracted total counts of each frame in the s window [Å⁻¹] (default: all bins).

    ``sums`` is (frames, bins), from :func:`uedflow.reduce.integrate.integrate_sums`.
    """
    if window is None:
        sel = np.ones(len(s), bool)
    else:
        sel = (s >= window[0]) & (s <= window[1])
        if not sel.any():
            raise InputError(f"reduce.normalize_window {window} Å⁻¹ contains no s bin (s spans {s[0]:.4g}..{s[-1]:.4g})")
    return np.asarray(sums)[:, sel].sum(axis=1)


def _nanpercentile_last(x: np.ndarray, q: float) -> np.ndarray:
    """``np.nanpercentile(x, q, axis=-1)`` (linear interpolation), vectorised instead of one call per row."""
    x = np.sort(x, axis=-1)  # NaN sort last
    n = np.sum(~np.isnan(x), axis=-1)
    pos = np.maximum(n - 1, 0) * (q / 100.0)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, np.maximum(n - 1, 0))
    a = np.take_along_axis(x, lo[..., None], axis=-1)[..., 0]
    b = np.take_along_axis(x, hi[..., None], axis=-1)[..., 0]
    t = pos - lo
    with np.errstate(invalid="ignore"):  # inf - inf -> NaN, as numpy's own interpolation gives
        value = np.where(t >= 0.5, b - (b - a) * (1 - t), a + (b - a) * t)
    return np.where(n > 0, value, np.nan)


def _robust_sigma(x: np.ndarray, axis: int) -> np.ndarray:
    med = np.nanmedian(x, axis=axis, keepdims=True)
    return 1.4826 * np.nanmedian(np.abs(x - med), axis=axis)


def combine_scans(
    intensity: np.ndarray,
    variance: np.ndarray,
    scan: np.ndarray,
    delay_ps: np.ndarray,
    s: np.ndarray,
    *,
    totals: np.ndarray,
    outlier_sigma: float = 5.0,
    time_zero_ps: float = 0.0,
) -> PowderSeries:
    """Normalise, reject outliers and average frame profiles over scans.

    Parameters
    ----------
    intensity, variance : (frames, bins) ndarray
        Per-frame mean profiles and their Poisson variance.
    scan, delay_ps : (frames,) ndarray
        Scan number and nominal delay [ps] of each frame; (scan, delay) pairs unique.
    s : (bins,) ndarray
        Bin centres [Å⁻¹].
    totals : (frames,) ndarray
        Normalisation counts of each frame (:func:`frame_totals`), positive.
    outlier_sigma : float
        Robust z-score above which frames and points are rejected (``inf`` disables).
    time_zero_ps : float
        Subtracted from the delays; the reference is the mean over delays < 0.

    Raises
    ------
    InputError
        A frame with no counts in the window, or no delay before time zero.
    """
    intensity, variance = np.asarray(intensity, float), np.asarray(variance, float)
    totals = np.asarray(totals, float)
    scan, delay = np.asarray(scan), np.asarray(delay_ps, float) - time_zero_ps
    if np.any(~(totals > 0)):
        i = int(np.argmin(np.where(np.isfinite(totals), totals, -np.inf)))
        raise InputError(f"frame of scan {scan[i]} at delay {delay_ps[i]} ps has {totals[i]} counts in the normalisation "
                         "window; choose reduce.normalize_window where the frames have signal, or drop the frame")
    scans, si = np.unique(scan, return_inverse=True)
    delays, di = np.unique(delay, return_inverse=True)
    if not np.any(delays < 0):
        raise InputError(f"no delay before time zero ({time_zero_ps} ps): delays span {delays.min() + time_zero_ps}.."
                         f"{delays.max() + time_zero_ps} ps; the reference needs frames at negative delay — "
                         "add them or set experiment.time_zero_ps")
    weight = totals / np.median(totals)
    norm = intensity / weight[:, None]
    norm_var = variance / weight[:, None] ** 2
    cube = np.full((len(scans), len(delays), len(s)), np.nan)
    cube_var = np.full_like(cube, np.nan)
    cube[si, di] = norm
    cube_var[si, di] = norm_var
    frame_weight = np.full((len(scans), len(delays)), np.nan)
    frame_weight[si, di] = weight
    rejected = np.zeros(frame_weight.shape, bool)
    present = np.isfinite(frame_weight)
    n_per_delay = present.sum(axis=0)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices (empty bins, missing scans) are expected
        if np.isfinite(outlier_sigma) and np.any(n_per_delay >= 3):
            med = np.nanmedian(cube, axis=0)
            # 90th percentile of |residual|/σ over s: a broad burst raises it, a single bad point does not
            dev = _nanpercentile_last(np.abs(cube - med) / np.sqrt(cube_var), 90)
            usable = present & (n_per_delay >= 3)[None, :]
            vals = dev[usable]
            z = (dev - np.median(vals)) / max(1.4826 * np.median(np.abs(vals - np.median(vals))), 1e-12)
            rejected = usable & (z > outlier_sigma)
        kept = np.where(rejected[:, :, None], np.nan, cube)
        n_points = 0
        if np.isfinite(outlier_sigma):
            n_ok = np.sum(np.isfinite(kept), axis=0)
            med = np.nanmedian(kept, axis=0)
            scatter = np.maximum(_robust_sigma(kept, 0), np.sqrt(np.nanmedian(cube_var, axis=0)))
            out = (np.abs(kept - med) > outlier_sigma * scatter) & (n_ok >= 3)
            n_points = int(out.sum())
            kept = np.where(out, np.nan, kept)
        n = np.sum(np.isfinite(kept), axis=0)
        mean = np.nanmean(kept, axis=0)
        sem = np.nanstd(kept, axis=0, ddof=1) / np.sqrt(n)
        kept_var = np.where(np.isfinite(kept), cube_var, np.nan)
        poisson = np.sqrt(np.nansum(kept_var, axis=0)) / n
        sigma = np.where(n >= 2, sem, poisson)
        before = delays < 0
        reference = np.nanmean(mean[before], axis=0)
        reference_sigma = np.sqrt(np.nansum(sigma[before] ** 2, axis=0)) / np.sum(np.isfinite(mean[before]), axis=0)
    return PowderSeries(
        s=np.asarray(s, float), delay_ps=delays, scans=scans, intensity=mean, intensity_sigma=sigma,
        intensity_scan=cube, intensity_scan_sigma=np.sqrt(cube_var), reference=reference,
        reference_sigma=reference_sigma, frame_weight=frame_weight, frame_rejected=rejected, n_points_rejected=n_points,
    )
