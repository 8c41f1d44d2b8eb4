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
  where the first or last delay has a single frame at an s bin, its pool there is
  that frame and the frames of the two next delays, once each (replicated, a lone
  frame would be its own median: a burst at the first or last delay of a single
  scan was never caught; a step of a single scan between its first two or last
  two delays now looks like one: keep two delays before time zero);
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

import numba
import numpy as np

from uedflow.errors import InputError
from uedflow.reduce._order import kth_of_runs, median, percentile, percentile_split, sorted_mad, sorted_median

__all__ = ["PowderSeries", "frame_totals", "combine_scans"]

log = logging.getLogger(__name__)
_BURST_HALF_WINDOW = 2  # delays on each side in the running median of the burst check
_BURST_GAP_BINS = 14  # widest gap (s bins, even) closed inside a burst's flagged range


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
    frame_burst: np.ndarray | None = None

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


# compiled kernels; NaN marks a missing value (absent frame, saturated or empty bin) and is skipped


def _sorted_columns(cube: np.ndarray, weight: np.ndarray, out: np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The values of cube / weight over scans at each (delay, s), sorted (NaN last), (delay, s, scan), in ``out``
    if given, and how many are not NaN."""
    cols = np.empty(cube.shape[1:] + cube.shape[:1]) if out is None else out
    n_valid = np.empty(cube.shape[1:], np.int64)
    _columns(cube, weight, cols, n_valid)
    cols.sort(axis=-1)
    return cols, n_valid


@numba.njit(nogil=True, cache=True)
def _pool(n_valid, half, d, b, which, lengths):  # pragma: no cover - compiled
    """The delays whose frames at bin b make the pool of delay d (module docstring) into ``which``, their numbers
    of values into ``lengths``; returns (delays, values). Edges are replicated (the first delay counts half + 1
    times), except where an edge delay has a single frame at b: a lone frame would be its own median, so its pool
    holds each delay of the window once."""
    n_delay = n_valid.shape[0]
    m = 0
    if (d == 0 or d == n_delay - 1) and n_valid[d, b] < 2:
        for c in range(max(d - half, 0), min(d + half, n_delay - 1) + 1):
            which[m] = c
            m += 1
    else:
        for j in range(d - half, d + half + 1):
            which[m] = min(max(j, 0), n_delay - 1)
            m += 1
    n = 0
    for i in range(m):
        lengths[i] = n_valid[which[i], b]
        n += lengths[i]
    return m, n


@numba.njit(nogil=True, cache=True)
def _running_median(cols, n_valid, half, med):  # pragma: no cover - compiled
    """Median over all scans of the 2·half + 1 nearest delays (:func:`_pool`), (delay, s), from the sorted
    columns of :func:`_sorted_columns`."""
    n_delay, n_bin, n_scan = cols.shape
    values = cols.reshape(-1)
    which, starts, lengths, at = (np.empty(2 * half + 1, np.int64), np.empty(2 * half + 1, np.int64),
                                  np.empty(2 * half + 1, np.int64), np.empty(2 * half + 1, np.int64))
    for d in range(n_delay):
        for b in range(n_bin):
            m, n = _pool(n_valid, half, d, b, which, lengths)
            if n == 0:
                med[d, b] = np.nan
                continue
            for i in range(m):
                starts[i] = (which[i] * n_bin + b) * n_scan
            first, second = kth_of_runs(values, starts[:m], lengths[:m], (n - 1) // 2, at[:m])
            med[d, b] = first if n % 2 else (first + second) / 2.0


@numba.njit(nogil=True, cache=True)
def _running_spread(cols, n_valid, half, d, b, med, buf, which, lengths):  # pragma: no cover - compiled
    """1.4826 × the median absolute deviation from ``med`` of the pool of (d, b) (:func:`_pool`)."""
    m, _ = _pool(n_valid, half, d, b, which, lengths)
    n = 0
    for i in range(m):
        for j in range(lengths[i]):
            buf[n] = abs(cols[which[i], b, j] - med)
            n += not np.isnan(buf[n])  # inf − inf: skipped, as nanmedian does
    return 1.4826 * median(buf, n)


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _flag_frames(cube, cube_var, present, has_data, win, floor, ref, cols, n_valid, half, outlier_sigma, gap,
                 weight, flagged):  # pragma: no cover - compiled
    """Per frame: two rounds of robust rescaling (``weight``, updated) and flagging against ``ref`` (the running
    median of ``cols``; its spread is computed where the Poisson σ alone would flag), then :func:`_close_gaps`."""
    n_scan, n_delay, n_bin = cube.shape
    spread = np.full((n_delay, n_bin), -1.0)  # -1: not computed yet
    pool = np.empty((2 * half + 1) * n_scan)
    which, lengths = np.empty(2 * half + 1, np.int64), np.empty(2 * half + 1, np.int64)
    low, high, ratio, dist, sd, norm = (np.empty(n_bin), np.empty(n_bin), np.empty(n_bin), np.empty(n_bin),
                                        np.empty(n_bin), np.empty(n_bin))
    fl = np.zeros(n_bin, np.bool_)
    dilated = np.zeros(n_bin, np.bool_)
    near = np.empty(n_bin + 1, np.int64)
    for d in range(n_delay):
        for k in range(n_scan):
            flagged[k, d] = False
            if not present[k, d]:
                continue
            x, r = cube[k, d], ref[d]
            w = weight[k, d]
            fl[:] = False
            # branch-free loops of one operation each vectorise; x / w of one round is the next round's ratio × ref
            for b in range(n_bin):
                sd[b] = np.sqrt(cube_var[k, d, b] + floor[b])
                norm[b] = x[b] / w
            for _ in range(2):
                for b in range(n_bin):
                    q = norm[b] / r[b]
                    ratio[b] = q if win[b] & ~fl[b] else np.nan
                n_low = n_high = 0  # split at 1, near the median ratio
                for b in range(n_bin):
                    low[n_low] = high[n_high] = ratio[b]
                    n_low += ratio[b] < 1.0
                    n_high += ratio[b] >= 1.0
                w = w * percentile_split(low, n_low, high, n_high, 50.0)
                for b in range(n_bin):
                    norm[b] = x[b] / w
                    dist[b] = abs(norm[b] - r[b])
                    fl[b] = has_data[b] & (~np.isfinite(x[b]) | (dist[b] > outlier_sigma * (sd[b] / w)))
                for b in range(n_bin):
                    if fl[b] and np.isfinite(x[b]):  # beyond the Poisson σ: the spread decides
                        if spread[d, b] == -1.0:
                            spread[d, b] = _running_spread(cols, n_valid, half, d, b, r[b], pool, which, lengths)
                        fl[b] = dist[b] > outlier_sigma * spread[d, b]
            weight[k, d] = w
            if fl.any():
                _close_gaps(fl, has_data, gap, near, dilated, flagged[k, d])


@numba.njit(nogil=True, cache=True)
def _close_gaps(fl, has_data, gap, near, dilated, out):  # pragma: no cover - compiled
    """``fl`` closed by 2·gap + 1 bins (``scipy.ndimage.binary_closing``, zero border: fills gaps of up to 2·gap
    bins), one bin added on each side of every flagged range, within ``has_data``, into ``out``."""
    n_bin = len(fl)
    near[0] = 0
    for b in range(n_bin):
        near[b + 1] = near[b] + fl[b]
    for b in range(n_bin):
        dilated[b] = near[min(b + gap + 1, n_bin)] > near[max(b - gap, 0)]
    for b in range(n_bin):
        near[b + 1] = near[b] + dilated[b]
    for b in range(n_bin):
        out[b] = fl[b] or (b >= gap and b + gap < n_bin and near[b + gap + 1] - near[b - gap] == 2 * gap + 1)
    prev = False
    for b in range(n_bin):
        cur = out[b]
        out[b] = (prev or cur or (b + 1 < n_bin and out[b + 1])) and has_data[b]
        prev = cur


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _frame_deviation(cube, cube_var, cols, n_valid, out):  # pragma: no cover - compiled
    """Per frame, the 90th percentile over s of |cube − median over scans| / σ, into ``out`` (scan, delay)."""
    n_scan, n_delay, n_bin = cube.shape
    buf, z, med = np.empty(n_bin), np.empty(n_bin), np.empty(n_bin)
    for d in range(n_delay):
        for b in range(n_bin):
            med[b] = sorted_median(cols[d, b], n_valid[d, b])
        for k in range(n_scan):
            for b in range(n_bin):
                z[b] = abs(cube[k, d, b] - med[b]) / np.sqrt(cube_var[k, d, b])
            n = 0
            for b in range(n_bin):
                buf[n] = z[b]
                n += not np.isnan(z[b])
            out[k, d] = percentile(buf, n, 90.0)


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _average_scans(cube, cube_var, cols, n_valid, rejected, outlier_sigma, mean, sigma):  # pragma: no cover
    """Mean over the kept scans at each (delay, s) after dropping the points farther than ``outlier_sigma`` ×
    max(robust σ, √median variance) from their median (if ≥ 3 points), and its σ (:func:`_excess_scaled_sigma`);
    returns the number of points dropped. ``cols``/``n_valid``: :func:`_sorted_columns` of cube.
    Sums run over the scans in order, as numpy's ``nanmean``/``nanstd``/``nansum`` over axis 0 do."""
    n_scan, n_delay, n_bin = cube.shape
    vals = np.empty(n_scan)
    centre, limit = np.empty(n_bin), np.empty(n_bin)
    total, var_total, squares = np.empty(n_bin), np.empty(n_bin), np.empty(n_bin)
    count = np.empty(n_bin, np.int64)
    dropped = 0
    for d in range(n_delay):
        any_rejected = rejected[:, d].any()
        for b in range(n_bin):
            run, n = cols[d, b], n_valid[d, b]
            if any_rejected:  # the sorted column holds the rejected frames: sort the others afresh
                n = 0
                for k in range(n_scan):
                    if not rejected[k, d] and not np.isnan(cube[k, d, b]):
                        vals[n] = cube[k, d, b]
                        n += 1
                run = np.sort(vals[:n])
            centre[b], limit[b] = np.nan, np.inf
            if n >= 3 and np.isfinite(outlier_sigma):
                m = sorted_median(run, n)
                robust = 1.4826 * sorted_mad(run, n, m)
                centre[b] = m
                if not max(abs(run[0] - m), abs(run[n - 1] - m)) <= outlier_sigma * robust:
                    # some point is beyond the robust limit: the Poisson floor decides (a NaN limit drops none)
                    nv = 0
                    for k in range(n_scan):
                        vals[nv] = cube_var[k, d, b]
                        nv += not np.isnan(vals[nv])
                    poisson = np.sqrt(median(vals, nv))
                    limit[b] = outlier_sigma * (np.nan if np.isnan(robust) or np.isnan(poisson) else max(robust, poisson))
        total[:], var_total[:], squares[:], count[:] = 0.0, 0.0, 0.0, 0
        for k in range(n_scan):
            if rejected[k, d]:
                continue
            for b in range(n_bin):
                x = cube[k, d, b]
                keep = not np.isnan(x) and not abs(x - centre[b]) > limit[b]
                dropped += not np.isnan(x) and not keep
                total[b] += x if keep else 0.0
                var_total[b] += cube_var[k, d, b] if keep else 0.0
                count[b] += keep
        for b in range(n_bin):
            mean[d, b] = total[b] / count[b]
        for k in range(n_scan):
            if rejected[k, d]:
                continue
            for b in range(n_bin):
                x = cube[k, d, b]
                dx = x - mean[d, b]
                squares[b] += dx * dx if not np.isnan(x) and not abs(x - centre[b]) > limit[b] else 0.0
        _excess_scaled_sigma(squares, var_total, count, sigma[d])
    return dropped


#: s bins pooled to measure the scan scatter against the detector noise (:func:`_excess_scaled_sigma`)
EXCESS_BLOCK = 32


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _excess_scaled_sigma(squares, var_total, count, out):  # pragma: no cover - compiled
    """σ of the mean over scans of each bin: the detector-noise σ √(Σ var)/n, scaled by the excess scatter over
    scans where the bins of its block of :data:`EXCESS_BLOCK` show one.

    The scatter of n points about their mean measures the noise with n − 1 degrees of freedom: alone, with 2 scans
    (1 degree of freedom), it is below a tenth of the true σ in 8 % of the bins, and a fit weights those bins ~100
    times too much. Pooled over a block, the ratio r = Σ squares / Σ (n − 1)·var/n has ~32(n − 1) degrees of
    freedom; σ² is multiplied by r where r exceeds 1 by more than 3 of its standard errors √(2/dof) (scan-to-scan
    noise the detector model does not hold: beam or pump fluctuations, a wrong gain), else left at the detector
    noise.
    """
    n_bin = len(out)
    for lo in range(0, n_bin, EXCESS_BLOCK):
        hi = min(lo + EXCESS_BLOCK, n_bin)
        num, den, dof = 0.0, 0.0, 0
        for b in range(lo, hi):
            n = count[b]
            if n >= 2 and var_total[b] > 0:
                num += squares[b]
                den += (n - 1) * var_total[b] / n
                dof += n - 1
        scale = 1.0
        if dof > 0 and den > 0 and num / den > 1.0 + 3.0 * np.sqrt(2.0 / dof):
            scale = num / den
        for b in range(lo, hi):
            out[b] = np.sqrt(var_total[b] * scale) / count[b]


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _normalise(cube, cube_var, flagged, weight, sigma):  # pragma: no cover - compiled
    """In place: cube / weight with the flagged points NaN, cube_var / weight²; its square root into ``sigma``
    (fresh arrays cost page faults: the work is in-place)."""
    n_scan, n_delay, n_bin = cube.shape
    for k in range(n_scan):
        for d in range(n_delay):
            w, w2 = weight[k, d], weight[k, d] ** 2
            for b in range(n_bin):  # separate branch-free loops vectorise
                cube[k, d, b] = cube[k, d, b] / w
            for b in range(n_bin):
                cube_var[k, d, b] = cube_var[k, d, b] / w2
            for b in range(n_bin):
                sigma[k, d, b] = np.sqrt(cube_var[k, d, b])
            for b in range(n_bin):
                if flagged[k, d, b]:
                    cube[k, d, b] = np.nan


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _columns(cube, weight, cols, n_valid):  # pragma: no cover - compiled
    """cube / weight transposed to (delay, s, scan) into ``cols``, and the number of values that are not NaN."""
    n_scan, n_delay, n_bin = cube.shape
    for d in range(n_delay):
        for b in range(n_bin):
            n = 0
            for k in range(n_scan):
                cols[d, b, k] = cube[k, d, b] / weight[k, d]
                n += not np.isnan(cols[d, b, k])
            n_valid[d, b] = n


def _window_sums(cube: np.ndarray, full: np.ndarray) -> np.ndarray:
    """``np.nansum(cube * full, axis=-1)`` (same summation), without nansum's masked copy."""
    prod = cube * full
    prod[np.isnan(prod)] = 0.0
    return prod.sum(axis=-1)


def _flag_bursts(cube: np.ndarray, cube_var: np.ndarray, present: np.ndarray, counts: np.ndarray, window: np.ndarray,
                 outlier_sigma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Bursts and saturation in single frames (module docstring).

    ``cube``/``cube_var`` are the raw per-frame profiles (scan, delay, s) with NaN at saturated points,
    ``present`` (scan, delay) marks existing frames, ``counts`` the pixel weight of each bin and ``window``
    the bins of the normalisation window. Returns the dropped points (scan, delay, s), the rejected frames
    (scan, delay), the corrected normalisation totals (scan, delay) and a spare (delay, s, scan) buffer.
    """
    finite = np.isfinite(cube)
    has_data = finite.any(axis=(0, 1))
    win = window & (counts > 0)
    full = np.where(win, counts, 0.0)
    # a bin's noise is at least ~1 count² per pixel (read noise, digitisation), even where the signal is ~0
    floor = 1.0 / np.where(counts > 0, counts, np.nan)
    # first weights: window average over the bins that are not NaN, scaled to the whole window
    covered = np.sum(np.where(finite, full, 0.0), axis=-1)
    sums = _window_sums(cube, full)
    totals0 = sums / np.where(covered > 0, covered, np.nan) * full.sum()
    weight = totals0 / np.nanmedian(totals0[present])
    pool = _sorted_columns(cube, weight)
    ref = np.empty(cube.shape[1:])
    _running_median(*pool, _BURST_HALF_WINDOW, ref)
    # robust per-frame rescaling, then again without the flagged bins (they bias the median); a burst covers a
    # range of s: close gaps inside it (ring crests, where real dynamics widen the spread) and drop its edge
    # bins, which hold a fraction of a burst pixel below the threshold
    flagged = np.empty(cube.shape, bool)
    _flag_frames(cube, cube_var, present, has_data, win, floor, ref, *pool, _BURST_HALF_WINDOW, outlier_sigma,
                 _BURST_GAP_BINS // 2, weight, flagged)
    rejected = present & (flagged.sum(axis=-1) > 0.5 * has_data.sum())
    totals = np.where(present, sums, np.nan)
    k, d = np.nonzero(flagged.any(axis=-1))  # their dropped bins are taken from the running median
    totals[k, d] = _window_sums(np.where(flagged[k, d], ref[d] * weight[k, d, None], cube[k, d]), full)
    return flagged, rejected, totals, pool[0]


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
    spare = None
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices (empty bins, missing scans) are expected
        if counts is not None:
            win = np.ones(len(s), bool) if window is None else np.asarray(window, bool)
            flagged, burst, tot, spare = _flag_bursts(cube, cube_var, present, np.asarray(counts, float), win,
                                                      outlier_sigma if np.isfinite(outlier_sigma) else np.inf)
            _log_bursts(flagged, burst, scans, delays + time_zero_ps)
        frame_weight = tot / np.median(tot[present & ~burst] if (present & ~burst).any() else tot[present])
        cube_sigma = np.empty_like(cube)
        _normalise(cube, cube_var, flagged, frame_weight, cube_sigma)
        rejected = burst.copy()
        cols = _sorted_columns(cube, np.ones(present.shape), spare)  # the burst check's buffer, reused
        n_per_delay = (present & ~burst).sum(axis=0)
        if np.isfinite(outlier_sigma) and np.any(n_per_delay >= 3):
            # 90th percentile of |residual|/σ over s: a broad burst raises it, a single bad point does not
            dev = np.empty(present.shape)
            _frame_deviation(cube, cube_var, *cols, dev)
            usable = present & ~burst & (n_per_delay >= 3)[None, :]
            vals = dev[usable]
            z = (dev - np.median(vals)) / max(1.4826 * np.median(np.abs(vals - np.median(vals))), 1e-12)
            rejected |= usable & (z > outlier_sigma)
        mean, sigma = np.empty(cube.shape[1:]), np.empty(cube.shape[1:])
        n_points = _average_scans(cube, cube_var, *cols, rejected, float(outlier_sigma), mean, sigma)
        before = delays < 0
        reference = np.nanmean(mean[before], axis=0)
        reference_sigma = np.sqrt(np.nansum(sigma[before] ** 2, axis=0)) / np.sum(np.isfinite(mean[before]), axis=0)
    return PowderSeries(
        s=np.asarray(s, float), delay_ps=delays, scans=scans, intensity=mean, intensity_sigma=sigma,
        intensity_scan=cube, intensity_scan_sigma=cube_sigma, reference=reference,
        reference_sigma=reference_sigma, frame_weight=frame_weight, frame_rejected=rejected,
        n_points_rejected=n_points + int(flagged[~burst].sum()), points_flagged=flagged.sum(axis=-1),
        frame_burst=burst,
    )


def _log_bursts(flagged: np.ndarray, burst: np.ndarray, scans: np.ndarray, delays_ps: np.ndarray) -> None:
    for k, d in zip(*np.nonzero(flagged.any(axis=-1)), strict=True):
        what = "frame rejected" if burst[k, d] else f"{int(flagged[k, d].sum())} s bins dropped"
        log.warning("scan %s, delay %g ps: burst or saturation in %d of %d s bins (%s)", scans[k], delays_ps[d],
                    int(flagged[k, d].sum()), flagged.shape[-1], what)
