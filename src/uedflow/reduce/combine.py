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
* **bursts** (any number of scans, when ``counts`` is given): each frame's
  profile is compared with the median of all frames of the 5 nearest delays (its
  own included, edges replicated: the median of a monotone series is the series
  itself, so real dynamics are not flagged), after a robust rescaling of the frame;
  (frame, s) points farther than ``outlier_sigma`` × max(Poisson σ, robust spread)
  and points saturated in that frame (NaN) are dropped, the frame's normalisation
  total is recomputed with those bins taken from the median, and a frame with more
  than half its bins dropped is rejected whole (an arcing burst, a saturated frame).

The reference is the mean over delays before time zero; differential
profiles are intensity − reference.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import binary_closing

from uedflow.errors import InputError

__all__ = ["PowderSeries", "frame_totals", "combine_scans"]

log = logging.getLogger(__name__)
_BURST_HALF_WINDOW = 2  # delays on each side in the running median of the burst check
_BURST_GAP_BINS = 14  # widest gap (s bins) closed inside a burst's flagged range


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
    points_flagged: np.ndarray | None = None

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


def _running_median(cube: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median over all scans of the 5 nearest delays (edges replicated) and the robust spread around it, (delay, s)."""
    h = _BURST_HALF_WINDOW
    padded = np.concatenate([np.repeat(cube[:, :1], h, axis=1), cube, np.repeat(cube[:, -1:], h, axis=1)], axis=1)
    n = cube.shape[1]
    pool = np.concatenate([padded[:, k:k + n] for k in range(2 * h + 1)], axis=0)
    median = np.median if np.isfinite(pool).all() else np.nanmedian  # no missing frame or point: 5x faster
    med = median(pool, axis=0)
    return med, 1.4826 * median(np.abs(pool - med), axis=0)


def _flag_bursts(cube: np.ndarray, cube_var: np.ndarray, present: np.ndarray, counts: np.ndarray, window: np.ndarray,
                 outlier_sigma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bursts and saturation in single frames (module docstring).

    ``cube``/``cube_var`` are the raw per-frame profiles (scan, delay, s) with NaN at saturated points,
    ``present`` (scan, delay) marks existing frames, ``counts`` the pixel weight of each bin and ``window``
    the bins of the normalisation window. Returns the dropped points (scan, delay, s), the rejected frames
    (scan, delay) and the corrected normalisation totals (scan, delay).
    """
    has_data = np.isfinite(cube).any(axis=(0, 1))
    win = window & (counts > 0)
    full = np.where(win, counts, 0.0)
    # a bin's noise is at least ~1 count² per pixel (read noise, digitisation), even where the signal is ~0
    floor = 1.0 / np.where(counts > 0, counts, np.nan)
    # first weights: window average over the bins that are not NaN, scaled to the whole window
    covered = np.nansum(np.where(np.isfinite(cube), full, 0.0), axis=-1)
    totals0 = np.nansum(cube * full, axis=-1) / np.where(covered > 0, covered, np.nan) * full.sum()
    weight = totals0 / np.nanmedian(totals0[present])
    ref, spread = _running_median(cube / weight[..., None])
    flagged = np.zeros(cube.shape, bool)
    for _ in range(2):  # robust per-frame rescaling, then again without the flagged bins (they bias the median)
        ratio = np.where(win & ~flagged, cube / weight[..., None] / ref, np.nan)
        weight = weight * _nanpercentile_last(ratio, 50)
        norm = cube / weight[..., None]
        scale = np.maximum(np.sqrt(cube_var + floor) / weight[..., None], spread)
        flagged = present[..., None] & has_data & (~np.isfinite(cube) | (np.abs(norm - ref) > outlier_sigma * scale))
    # a burst covers a range of s: close gaps inside it (ring crests, where real dynamics widen the spread)
    # and drop its edge bins, which hold a fraction of a burst pixel below the threshold
    flagged |= binary_closing(flagged, structure=np.ones((1, 1, _BURST_GAP_BINS + 1), bool))
    flagged[..., 1:] |= flagged[..., :-1]
    flagged[..., :-1] |= flagged[..., 1:]
    flagged &= has_data
    rejected = present & (flagged.sum(axis=-1) > 0.5 * has_data.sum())
    filled = np.where(flagged, ref * weight[..., None], cube)
    totals = np.where(present, np.nansum(filled * full, axis=-1), np.nan)
    return flagged, rejected, totals


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
    counts: np.ndarray | None = None,
    window: np.ndarray | None = None,
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
        Normalisation counts of each frame (:func:`frame_totals`), positive (NaN if a saturated point is in
        the window, recomputed when ``counts`` is given).
    outlier_sigma : float
        Robust z-score above which frames and points are rejected (``inf`` disables).
    time_zero_ps : float
        Subtracted from the delays; the reference is the mean over delays < 0.
    counts : (bins,) ndarray, optional
        Pixel weight of each bin (the operator's ``counts``): enables the burst and per-frame saturation
        check (module docstring), which recomputes the totals.
    window : (bins,) ndarray of bool, optional
        Bins of the normalisation window that gave ``totals`` (default: all).

    Raises
    ------
    InputError
        A frame with no counts in the window, or no delay before time zero.
    """
    intensity, variance = np.asarray(intensity, float), np.asarray(variance, float)
    totals = np.asarray(totals, float)
    scan, delay = np.asarray(scan), np.asarray(delay_ps, float) - time_zero_ps
    bad = ~(totals > 0) if counts is None else totals <= 0  # NaN: saturated in the window, recomputed
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"frame of scan {scan[i]} at delay {delay_ps[i]} ps has {totals[i]} counts in the normalisation "
                         "window; choose reduce.normalize_window where the frames have signal, or drop the frame")
    scans, si = np.unique(scan, return_inverse=True)
    delays, di = np.unique(delay, return_inverse=True)
    if not np.any(delays < 0):
        raise InputError(f"no delay before time zero ({time_zero_ps} ps): delays span {delays.min() + time_zero_ps}.."
                         f"{delays.max() + time_zero_ps} ps; the reference needs frames at negative delay — "
                         "add them or set experiment.time_zero_ps")
    cube = np.full((len(scans), len(delays), len(s)), np.nan)
    cube_var = np.full_like(cube, np.nan)
    cube[si, di] = intensity
    cube_var[si, di] = variance
    present = np.zeros(cube.shape[:2], bool)
    present[si, di] = True
    tot = np.full(present.shape, np.nan)
    tot[si, di] = totals
    flagged = np.zeros(cube.shape, bool)
    burst = np.zeros(present.shape, bool)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices (empty bins, missing scans) are expected
        if counts is not None:
            win = np.ones(len(s), bool) if window is None else np.asarray(window, bool)
            flagged, burst, tot = _flag_bursts(cube, cube_var, present, np.asarray(counts, float), win,
                                               outlier_sigma if np.isfinite(outlier_sigma) else np.inf)
            _log_bursts(flagged, burst, scans, delays + time_zero_ps)
        frame_weight = tot / np.median(tot[present & ~burst] if (present & ~burst).any() else tot[present])
        cube = np.where(flagged, np.nan, cube) / frame_weight[..., None]
        cube_var = cube_var / frame_weight[..., None] ** 2
        rejected = burst.copy()
        n_per_delay = (present & ~burst).sum(axis=0)
        if np.isfinite(outlier_sigma) and np.any(n_per_delay >= 3):
            med = np.nanmedian(cube, axis=0)
            # 90th percentile of |residual|/σ over s: a broad burst raises it, a single bad point does not
            dev = _nanpercentile_last(np.abs(cube - med) / np.sqrt(cube_var), 90)
            usable = present & ~burst & (n_per_delay >= 3)[None, :]
            vals = dev[usable]
            z = (dev - np.median(vals)) / max(1.4826 * np.median(np.abs(vals - np.median(vals))), 1e-12)
            rejected |= usable & (z > outlier_sigma)
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
        reference_sigma=reference_sigma, frame_weight=frame_weight, frame_rejected=rejected,
        n_points_rejected=n_points + int(flagged[~burst].sum()), points_flagged=flagged.sum(axis=-1),
    )


def _log_bursts(flagged: np.ndarray, burst: np.ndarray, scans: np.ndarray, delays_ps: np.ndarray) -> None:
    for k, d in zip(*np.nonzero(flagged.any(axis=-1)), strict=True):
        what = "frame rejected" if burst[k, d] else f"{int(flagged[k, d].sum())} s bins dropped"
        log.warning("scan %s, delay %g ps: burst or saturation in %d of %d s bins (%s)", scans[k], delays_ps[d],
                    int(flagged[k, d].sum()), flagged.shape[-1], what)
