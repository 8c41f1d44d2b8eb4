"""Beam centre per frame: each frame integrated about its own centre, found from its own rings.

The beam pointing walks by pixels over hours of scans, and the pump deflects it for a few ps around time
zero. A frame integrated about a centre d px away from its own sees each ring at radius r ± d cos φ: the
ring is broadened by the azimuthal average (a 3 px offset more than doubles the width of a 2 px ring).

Method (chosen by measurement, see ``benchmarks/bench_reduce.py``): the integration operator also splits the
detector into K azimuthal sectors about the fixed centre (:func:`~uedflow.reduce.integrate.build_operator`
with ``n_sectors``; the same pixel splitting, so the K sector profiles add up exactly to the fixed-centre
profile). A centre offset d = (Δrow, Δcol) moves the profile of sector k by m_k = g_k·d + dᵀH_k d/2 in s,
with g and H the first and second derivatives of s with the centre (tilt and ellipticity included),
averaged over the sector's pixels in each bin. The second order is a mean radial shift d²/4r that no
dipole fit sees: left out, a 3 px offset reads as a strain of 5e-4 on the (111) ring. Anything the pump does
to the pattern (strain, Debye–Waller, widths) changes every sector alike. For each frame, Gauss–Newton
iterations find the d for which the shifted sector profiles have no dipole about their own mean M(s):

.. math:: \\min_d \\sum_{k,j} w_{kj}\\,[P_k(s_j - m_{kj}(d)) - M(s_j)]^2,
          \\qquad \\text{step from } P_k - M \\approx M'(s)\\,(g_k + H_k d)\\cdot\\delta d

(w = 1/σ² of the sector bin, on the bins of the rings' flanks). The frame's profile is the sum of its shifted
sector profiles, each sharpened by P − v·P''/2 for what linear interpolation (v = t(1 − t) bins²) and the
pixels' spread about the sector's mean shift (v = dᵀC_k d) blur, so it is integrated about its own centre,
row + Δrow, col + Δcol, which is recorded as the centre trace. The frame is its own reference, so nothing has
to be known before the pass (one pass, any scheduler), and a static azimuthal structure (texture, a
flat-field error) has no dipole along M'(s) to first order. Measured on noise-free frames moved by up to
3.6 px on a tilted detector with elliptical rings and a beam stop on a rod: centres to 1e-3 px, profiles
within 0.7 % of a ring's peak of the unmoved frame (about the fixed centre: 46 %).

Measured against it (``bench_reduce``, 1024² frames): building an operator about each frame's centre costs
~200 fixed-centre integrations per frame, shifting each frame onto the fixed centre (bilinear) ~20 and smooths
the pixel noise; the sector operator and the per-frame fit run at 0.5–0.8x the fixed-centre throughput.

``"per-scan"`` takes the median of the offsets found in the frames of one scan (within each chunk of frames
the pass reads, ``reduce.chunk_frames``) and corrects them all by it: less noise on the centre for dim
frames, no following of a transient kick.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numba
import numpy as np

from uedflow.errors import GeometryError
from uedflow.reduce.calibrate import calibrate_geometry
from uedflow.reduce.geometry import Geometry
from uedflow.reduce.integrate import RadialOperator, build_operator

__all__ = ["Recentering", "recentering", "distortion_from_frames", "N_SECTORS"]

#: azimuthal sectors of the per-frame centre
N_SECTORS = 16
#: Gauss–Newton iterations per frame
_ITERATIONS = 8
#: images of white pixel noise that measure the smoothing of the shifted profiles
_NOISE_IMAGES = 2
#: Gauss–Newton stops once a step is below this [px]
_TOLERANCE_PX = 1e-3
#: largest centre step of one iteration [px]
_MAX_STEP_PX = 4.0


@dataclass(frozen=True)
class Recentering:
    """A sector operator and its centre gradients: integrates frames about their own centres.

    Attributes
    ----------
    operator : RadialOperator
        Sector operator (``n_sectors`` > 1) of the fixed geometry.
    derivatives : (5, n_sectors, n_bins) ndarray
        ∂s/∂(centre row, centre col) [s bins per px] and the second derivatives (rr, rc, cc) [s bins per px²]
        of each sector bin (means over its pixels): the shift of the bin for a centre offset d is
        g·d + dᵀ·H·d/2 (the second order is a mean radial shift d²/4r, 5e-4 in s at 3 px and r = 65 px).
    spread : (3, n_sectors, n_bins) ndarray
        Covariance (rr, rc, cc) of that derivative over the bin's pixels [(s bins per px)²]: a centre offset d
        leaves the pixels of a sector bin spread by dᵀ·C·d in bins² about the shifted mean.
    noise_sums, noise_var : (n_sectors, n_bins, R) ndarray
        Sector sums of R images of unit white pixel noise, and their variance Σ w².
    center_rc : (float, float)
        The fixed centre (row, col) [px] the offsets are measured from.
    per_scan : bool
        One offset per scan (and chunk) instead of per frame.
    """

    operator: RadialOperator
    derivatives: np.ndarray
    spread: np.ndarray
    noise_sums: np.ndarray
    noise_var: np.ndarray
    center_rc: tuple[float, float]
    per_scan: bool = False

    @property
    def n_bins(self) -> int:
        """Number of s bins of the profiles."""
        return self.operator.n_bins

    def apply(self, sums: np.ndarray, var_sums: np.ndarray, scan: np.ndarray | None = None,
              smoothing_for: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Profiles about each frame's own centre.

        Parameters
        ----------
        sums, var_sums : (B, n_sectors * n_bins) ndarray
            Sector sums of B frames and their variances (:func:`~uedflow.reduce.integrate.integrate_sums` with
            :attr:`operator`).
        scan : (B,) ndarray of int, optional
            Scan of each frame (used by ``per_scan``).
        smoothing_for : (B,) ndarray of bool, optional
            Frames whose ``smoothing`` is wanted (the noise estimate uses the frames before time zero; it costs
            two more shifts per frame); default all. The others get 1.

        Returns
        -------
        sums, var_sums : (B, n_bins) ndarray
            Weighted pixel sums about each frame's centre and their variances (the fixed operator's
            normalisation: divide by its ``counts``). The variances are those of the sector bins interpolated
            alike: right for sums over many bins (a peak), above a single bin's scatter.
        centers : (B, 2) ndarray
            Each frame's centre (row, col) [px].
        smoothing : (B,) ndarray
            A single bin's variance over ``var_sums`` (below 1: interpolation averages neighbouring bins, which
            share pixels), measured by shifting :attr:`noise_sums` alike; for the detector-noise estimate from
            the scatter between frames.
        """
        k, n = self.operator.n_sectors, self.n_bins
        b = len(sums)
        # frame-last (K, n, B): integrate_sums's layout, so no copy
        sums = np.ascontiguousarray(np.asarray(sums, np.float64).T).reshape(k, n, b)
        var_sums = np.ascontiguousarray(np.asarray(var_sums, np.float64).T).reshape(k, n, b)
        counts, deriv, spread = self.operator.counts.reshape(k, n), self.derivatives, self.spread
        offset = np.zeros((b, 2))
        _estimate(sums, var_sums, counts, deriv, offset, _ITERATIONS, _MAX_STEP_PX)
        if self.per_scan and scan is not None:
            for s in np.unique(scan):
                offset[scan == s] = np.median(offset[scan == s], axis=0)
        out, out_var = np.empty((b, n)), np.empty((b, n))
        _combine(sums, var_sums, counts, deriv, spread, offset, out, out_var)
        # the same shifts applied to pure pixel noise: how much of ``out_var`` a single bin's scatter keeps
        smoothing, n_images = np.ones(b), self.noise_sums.shape[2]
        for i in np.flatnonzero(np.ones(b, bool) if smoothing_for is None else smoothing_for):
            n_out, n_var = np.empty((n_images, n)), np.empty((n_images, n))
            _combine(self.noise_sums, self.noise_var, counts, deriv, spread, np.repeat(offset[i:i + 1], n_images, axis=0),
                     n_out, n_var)
            smoothing[i] = np.sum(n_out**2) / np.sum(n_var)
        return out, out_var, offset + np.asarray(self.center_rc, float), smoothing


@numba.njit(cache=True, nogil=True)
def _profiles(s, v, b, counts, p, pv, ok):  # pragma: no cover - compiled
    """Frame b's sector profiles p = s/counts (K, n), their variances pv and where both are usable
    (``s``, ``v``: (K, n, B) sums and variances)."""
    k_sec, n = counts.shape
    for k in range(k_sec):
        for j in range(n):
            c = counts[k, j]
            ok[k, j] = False
            if c > 0:
                p[k, j], pv[k, j] = s[k, j, b] / c, v[k, j, b] / (c * c)
                ok[k, j] = math.isfinite(p[k, j]) and math.isfinite(pv[k, j]) and pv[k, j] > 0


@numba.njit(cache=True, nogil=True)
def _move(deriv, d0, d1, use, move, jac):  # pragma: no cover - compiled
    """Shift of the sector bins j where ``use`` [bins] for the centre offset d: g·d + dᵀ·H·d/2, and its Jacobian
    g + H·d (2, K, n) (``deriv``: g_r, g_c, H_rr, H_rc, H_cc in bins per px and per px²)."""
    k_sec, n = move.shape
    for k in range(k_sec):
        for j in range(n):
            if not use[j]:
                continue
            g0, g1, h00, h01, h11 = deriv[0, k, j], deriv[1, k, j], deriv[2, k, j], deriv[3, k, j], deriv[4, k, j]
            move[k, j] = g0 * d0 + g1 * d1 + 0.5 * (h00 * d0 * d0 + 2 * h01 * d0 * d1 + h11 * d1 * d1)
            jac[0, k, j], jac[1, k, j] = g0 + h00 * d0 + h01 * d1, g1 + h01 * d0 + h11 * d1


@numba.njit(cache=True, nogil=True)
def _shift(p, pv, ok, move, use, value, var, frac, good):  # pragma: no cover - compiled
    """Sector profiles at bins j − move (linear interpolation; bins j where ``use``): values, their variances
    interpolated alike (``var``; what a sum over many bins sees), the fraction t and where both neighbours are
    usable."""
    k_sec, n = p.shape
    for k in range(k_sec):
        for j in range(n):
            good[k, j] = False
            if not use[j]:
                continue
            x = j - move[k, j]
            i = int(math.floor(x))
            if 0 <= i < n - 1 and ok[k, i] and ok[k, i + 1]:
                t = x - i
                value[k, j], var[k, j] = (1 - t) * p[k, i] + t * p[k, i + 1], (1 - t) * pv[k, i] + t * pv[k, i + 1]
                frac[k, j], good[k, j] = t, True


@numba.njit(cache=True, nogil=True)
def _mean(value, good, counts, use, mean):  # pragma: no cover - compiled
    """Azimuthal mean (pixel-weighted) of the usable sector values at bins ``use``."""
    k_sec, n = value.shape
    for j in range(n):
        if use[j]:
            num = den = 0.0
            for k in range(k_sec):
                if good[k, j]:
                    num += counts[k, j] * value[k, j]
                    den += counts[k, j]
            mean[j] = num / den if den > 0 else 0.0


@numba.njit(cache=True, nogil=True)
def _ring_bins(p, pv, ok, counts, use, sel):  # pragma: no cover - compiled
    """Bins that carry the centre information: ``sel`` where the azimuthal mean's slope² / variance is above
    1 % of its largest value (the rings' flanks), ``use`` those and their neighbours."""
    k_sec, n = counts.shape
    mean, var = np.zeros(n), np.zeros(n)
    for j in range(n):
        c = cv = 0.0
        for k in range(k_sec):
            if ok[k, j]:
                mean[j] += counts[k, j] * p[k, j]
                cv += counts[k, j] ** 2 * pv[k, j]
                c += counts[k, j]
        mean[j], var[j] = (mean[j] / c, cv / (c * c)) if c > 0 else (0.0, np.inf)
    score = np.zeros(n)
    for j in range(1, n - 1):
        score[j] = 0.25 * (mean[j + 1] - mean[j - 1]) ** 2 / var[j]
    top = score.max()
    use[:] = False
    for j in range(n):
        sel[j] = score[j] > 0.01 * top
        if sel[j]:
            use[j - 1] = use[j] = use[j + 1] = True


@numba.njit(cache=True, nogil=True)
def _estimate(sums, var_sums, counts, deriv, offset, iterations, max_step):  # pragma: no cover - compiled
    """Gauss–Newton centre offsets (B, 2) [px] of B frames (module docstring) from their (K, n, B) sector sums
    and variances, each started from the previous frame's; 0 for a frame without rings."""
    k_sec, n, b_n = sums.shape
    p, pv, value, var, scratch = np.zeros((5, k_sec, n))
    move, jac = np.zeros((k_sec, n)), np.zeros((2, k_sec, n))
    ok, good = np.zeros((k_sec, n), np.bool_), np.zeros((k_sec, n), np.bool_)
    use, sel = np.zeros(n, np.bool_), np.zeros(n, np.bool_)
    mean = np.zeros(n)
    d0 = d1 = 0.0
    for b in range(b_n):  # each frame starts from the previous one's centre (the beam walks slowly)
        _profiles(sums, var_sums, b, counts, p, pv, ok)
        _ring_bins(p, pv, ok, counts, use, sel)
        for _ in range(iterations):
            _move(deriv, d0, d1, use, move, jac)
            _shift(p, pv, ok, move, use, value, var, scratch, good)
            _mean(value, good, counts, use, mean)
            a00 = a01 = a11 = r0 = r1 = 0.0
            for j in range(n):
                if not sel[j]:
                    continue
                slope = 0.5 * (mean[j + 1] - mean[j - 1])
                for k in range(k_sec):
                    if good[k, j]:
                        w = 1.0 / var[k, j]
                        x0, x1 = slope * jac[0, k, j], slope * jac[1, k, j]
                        r = value[k, j] - mean[j]
                        a00 += w * x0 * x0
                        a01 += w * x0 * x1
                        a11 += w * x1 * x1
                        r0 += w * x0 * r
                        r1 += w * x1 * r
            det = a00 * a11 - a01 * a01
            if not det > 1e-12 * (a00 * a11 + 1e-300):
                d0 = d1 = 0.0
                break
            step0 = min(max((a11 * r0 - a01 * r1) / det, -max_step), max_step)
            step1 = min(max((a00 * r1 - a01 * r0) / det, -max_step), max_step)
            d0 += step0
            d1 += step1
            if abs(step0) + abs(step1) < _TOLERANCE_PX:
                break
        offset[b, 0], offset[b, 1] = d0, d1


@numba.njit(cache=True, nogil=True)
def _combine(sums, var_sums, counts, deriv, spread, offset, out, out_var):  # pragma: no cover - compiled
    """Sums (B, n) of the sector profiles shifted by ``offset`` and sharpened by their residual spread
    (v = dᵀ·C·d) and linear interpolation's t(1 − t) (P − v·P''/2, in bins), scaled to the full pixel count of
    each bin (a bin no shifted sector covers keeps its fixed-centre sum), and their variances; ``deriv`` as in
    :func:`_move`, ``spread`` in (bins per px)²."""
    k_sec, n, b_n = sums.shape
    p, pv, value, var, curve, frac, move = np.zeros((7, k_sec, n))
    jac = np.zeros((2, k_sec, n))
    ok, good = np.zeros((k_sec, n), np.bool_), np.zeros((k_sec, n), np.bool_)
    every = np.ones(n, np.bool_)
    for b in range(b_n):
        _profiles(sums, var_sums, b, counts, p, pv, ok)
        d0, d1 = offset[b, 0], offset[b, 1]
        _move(deriv, d0, d1, every, move, jac)
        _shift(p, pv, ok, move, every, value, var, frac, good)
        for k in range(k_sec):  # the curvature of the shifted profile, before it is sharpened in place
            for j in range(1, n - 1):
                curve[k, j] = (value[k, j + 1] - 2 * value[k, j] + value[k, j - 1]
                               if good[k, j - 1] and good[k, j] and good[k, j + 1] else 0.0)
            for j in range(1, n - 1):  # the pixels' spread about the shift and linear interpolation's t(1 − t)
                v = spread[0, k, j] * d0 * d0 + 2 * spread[1, k, j] * d0 * d1 + spread[2, k, j] * d1 * d1
                value[k, j] -= 0.5 * (v + frac[k, j] * (1 - frac[k, j])) * curve[k, j]
        for j in range(n):
            total = covered = s = v = 0.0
            for k in range(k_sec):
                total += counts[k, j]
                if good[k, j]:
                    covered += counts[k, j]
                    s += counts[k, j] * value[k, j]
                    v += counts[k, j] * counts[k, j] * var[k, j]
            if covered > 0:
                f = total / covered
                out[b, j], out_var[b, j] = s * f, v * f * f
            else:
                out[b, j] = out_var[b, j] = 0.0
                for k in range(k_sec):
                    out[b, j] += sums[k, j, b]
                    out_var[b, j] += var_sums[k, j, b]


def recentering(geometry: Geometry, mode: str, *, n_sectors: int = N_SECTORS, **operator_options
                ) -> Recentering:
    """The :class:`Recentering` of a geometry (``mode`` "per-frame" or "per-scan").

    ``operator_options`` go to :func:`~uedflow.reduce.integrate.build_operator` (mask, n_bins, s_range, flat,
    dark, gain, read_noise); give the same as the fixed operator's so the profiles share its bins.
    """
    op = build_operator(geometry, n_sectors=n_sectors, **operator_options)
    r0, c0 = geometry.center_rc

    def s_at(dr: float, dc: float) -> np.ndarray:
        return dataclasses.replace(geometry, center_rc=(r0 + dr, c0 + dc)).s_map().ravel()

    # central differences of s with the centre (steps of 1 px): ∂/∂row, ∂/∂col, ∂²/∂row², ∂²/∂row∂col, ∂²/∂col²
    s0, up, down, right, left = s_at(0, 0), s_at(1, 0), s_at(-1, 0), s_at(0, 1), s_at(0, -1)
    mixed = 0.25 * (s_at(1, 1) - s_at(1, -1) - s_at(-1, 1) + s_at(-1, -1))
    pixel = [0.5 * (up - down), 0.5 * (right - left), up - 2 * s0 + down, mixed, right - 2 * s0 + left]
    step = float(op.s_edges[1] - op.s_edges[0])
    pixel = [x / step for x in pixel]  # in s bins
    a = op.to_csr()
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = np.asarray(a.sum(axis=1)).ravel()
        mean = lambda x: np.where(norm > 0, a @ x / norm, 0.0)  # noqa: E731  (pixel-weighted mean per sector bin)
        deriv = np.stack([mean(x) for x in pixel])
        g_r, g_c = pixel[:2]
        spread = np.stack([np.maximum(mean(g_r**2) - deriv[0] ** 2, 0.0), mean(g_r * g_c) - deriv[0] * deriv[1],
                           np.maximum(mean(g_c**2) - deriv[1] ** 2, 0.0)])
    shape = (n_sectors, op.n_bins)
    noise = np.random.default_rng(0).standard_normal((_NOISE_IMAGES, a.shape[1]))
    noise_var = np.repeat(np.asarray(a.multiply(a).sum(axis=1)).reshape(*shape, 1), _NOISE_IMAGES, axis=2)
    return Recentering(op, deriv.reshape(5, *shape), spread.reshape(3, *shape), (a @ noise.T).reshape(*shape, -1),
                       noise_var, (float(r0), float(c0)), mode == "per-scan")


def distortion_from_frames(frames: np.ndarray, geometry: Geometry, calibrant, *, mask: np.ndarray | None,
                           distortion: str) -> Geometry:
    """The ring ellipticity (or detector tilt) and centre fitted to each frame on its own, combined by the median.

    The rings of the mean (or median) of frames whose centres walk are blurred unevenly, which biases the fit: on
    the beamline preset (±3 px walk, truth e = 0.0100) the median of 8 frames gives e = 0.0079, the frames one by
    one 0.0100 ± 0.0001.

    Parameters
    ----------
    frames : (n, rows, cols) ndarray
        Dark-subtracted frames.
    geometry : Geometry
        Starting geometry (centre, camera length kept).
    calibrant
        The sample's structure or crystal (:func:`~uedflow.reduce.calibrate.calibrate_geometry`).
    mask : ndarray of bool, optional
        True = valid pixel.
    distortion : {"ellipticity", "tilt"}

    Raises
    ------
    GeometryError
        No frame could be fitted.
    """
    fits = []
    for frame in frames:
        try:
            fits.append(calibrate_geometry(frame, geometry, calibrant, mask=mask, distortion=distortion,
                                           fit_length=False).geometry)
        except GeometryError:
            continue
    if not fits:
        raise GeometryError(f"no sample frame could be fitted for reduce.fit_distortion = {distortion!r}")
    center = tuple(float(c) for c in np.median([g.center_rc for g in fits], axis=0))
    if distortion == "tilt":
        return dataclasses.replace(geometry, center_rc=center,
                                   tilt_rad=tuple(float(x) for x in np.median([g.tilt_rad for g in fits], axis=0)))
    # the ellipse as (e cos 2φ, e sin 2φ): smooth at e = 0 and through φ = ±π/2
    cx, cy = np.median([(g.ellipticity * np.cos(2 * g.ellipse_angle_rad), g.ellipticity * np.sin(2 * g.ellipse_angle_rad))
                        for g in fits], axis=0)
    return dataclasses.replace(geometry, center_rc=center, ellipticity=float(np.hypot(cx, cy)),
                               ellipse_angle_rad=float(0.5 * np.arctan2(cy, cx)))
