"""Beam-center finding on powder patterns, robust to a beam block and hot pixels.

Two steps:

1. *Coarse*: a powder pattern is centro-symmetric, I(c + x) = I(c − x). The
   cross-correlation of the (masked, mean-free) image with its 180° rotation
   peaks at shift t = 2c − (N − 1); a parabola through the peak gives c to
   ~0.25 px. Masked pixels (beam block, hot pixels) are zero and do not vote.
2. *Refine*: minimise the scatter of valid pixels about their ring mean, with
   pixels split linearly between 1-px radial bins so the cost is smooth in the
   center; Nelder–Mead converges to a few hundredths of a pixel.

The residual reported is the center offset implied by the rings seen in 16
azimuthal sectors (radial shift δ_k of each sector's rings against the full
profile, fitted with δ_k = a cos φ_k + b sin φ_k; residual = hypot(a, b)), a
check independent of the optimiser.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from uedflow.errors import GeometryError

__all__ = ["CenterResult", "find_center", "symmetry_center", "ring_center_offset"]


@dataclass(frozen=True)
class CenterResult:
    """Found beam center.

    Attributes
    ----------
    center_rc : (float, float)
        (row, col) [px], pixel centres at integer coordinates.
    residual_px : float
        Center offset still implied by the rings over 16 sectors [px].
    success : bool
        False when the refinement did not converge or the ring check failed.
    message : str
    """

    center_rc: tuple[float, float]
    residual_px: float
    success: bool
    message: str

    def summary(self) -> dict[str, object]:
        """JSON-safe dict."""
        return {"center_rc": list(self.center_rc), "residual_px": self.residual_px, "success": self.success,
                "message": self.message}


def _valid(image: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    valid = np.isfinite(image)
    return valid if mask is None else valid & np.asarray(mask, bool)


def symmetry_center(image: np.ndarray, *, mask: np.ndarray | None = None) -> tuple[float, float]:
    """Center (row, col) [px] from the centro-symmetry of the pattern (step 1 above)."""
    valid = _valid(image, mask)
    if valid.sum() < 16:
        raise GeometryError("too few valid pixels to find the beam center; check the mask")
    img = np.where(valid, image - np.mean(image[valid]), 0.0)
    rows, cols = img.shape
    shape = (2 * rows, 2 * cols)
    f = np.fft.rfft2(img, shape)
    g = np.fft.rfft2(img[::-1, ::-1], shape)
    corr = np.fft.irfft2(f * np.conj(g), shape)
    i, j = np.unravel_index(np.argmax(corr), corr.shape)

    def parabola(a: float, b: float, c: float) -> float:
        den = a - 2 * b + c
        return 0.0 if den == 0 else 0.5 * (a - c) / den

    di = parabola(corr[i - 1, j], corr[i, j], corr[(i + 1) % shape[0], j])
    dj = parabola(corr[i, j - 1], corr[i, j], corr[i, (j + 1) % shape[1]])
    ti = (i + di + rows) % shape[0] - rows
    tj = (j + dj + cols) % shape[1] - cols
    return (float((rows - 1 + ti) / 2), float((cols - 1 + tj) / 2))


@numba.njit(nogil=True, cache=True)
def _scatter_sums(r0, c0, rr, cc, vals, n_bins):  # pragma: no cover - compiled
    """Σw, Σwv, Σwv² per 1-px radial bin, each pixel split linearly between its two bins."""
    sw, swv, swv2 = np.zeros(n_bins), np.zeros(n_bins), np.zeros(n_bins)
    for p in range(len(vals)):
        r = np.hypot(rr[p] - r0, cc[p] - c0)
        i = min(int(r), n_bins - 2)
        w1 = min(r - i, 1.0)
        v = vals[p]
        for j, w in ((i, 1.0 - w1), (i + 1, w1)):
            sw[j] += w
            swv[j] += w * v
            swv2[j] += w * v * v
    return sw, swv, swv2


def _radial_scatter(center: np.ndarray, rr: np.ndarray, cc: np.ndarray, vals: np.ndarray, n_bins: int) -> float:
    sw, swv, swv2 = _scatter_sums(float(center[0]), float(center[1]), rr, cc, vals, n_bins)
    ok = sw > 0
    return float(np.sum(swv2[ok] - swv[ok] ** 2 / sw[ok]))


@numba.njit(nogil=True, cache=True)
def _interp_grid(x, step, table):  # pragma: no cover - compiled
    """``np.interp(x, (arange(len(table)) + 0.5) * step, table)`` on that uniform grid, without a search."""
    out = np.empty(len(x))
    last = len(table) - 1
    for i in range(len(x)):
        u = x[i] / step - 0.5
        if u <= 0:
            out[i] = table[0]
        elif u >= last:
            out[i] = table[last]
        else:
            j = int(u)
            t = u - j
            out[i] = table[j] + t * (table[j + 1] - table[j])
    return out


def ring_center_offset(image: np.ndarray, center_rc: tuple[float, float], *, mask: np.ndarray | None = None,
                       n_sectors: int = 16) -> float:
    """Center offset [px] implied by the rings seen in ``n_sectors`` azimuthal sectors.

    Each sector's pixels are fitted with the full-circle radial profile shifted
    by δ_k (Gauss–Newton); the shifts are fitted with δ_k = a cos φ_k + b sin φ_k
    and hypot(a, b) is returned (NaN when fewer than 6 sectors have ring signal).
    """
    valid = _valid(image, mask)
    rr, cc = np.nonzero(valid)
    vals = image[rr, cc].astype(float)
    dr, dc = rr - center_rc[0], cc - center_rc[1]
    r = np.hypot(dr, dc)
    step = 0.5
    idx = (r / step).astype(np.int64)
    n = np.bincount(idx)
    grid = (np.arange(len(n)) + 0.5) * step
    prof = np.bincount(idx, vals, len(n)) / np.maximum(n, 1)
    ok = n > 0
    prof = np.interp(grid, grid[ok], prof[ok])
    slope = np.gradient(prof, step)
    sector = ((np.arctan2(dr, dc) + np.pi) / (2 * np.pi) * n_sectors).astype(int) % n_sectors
    # pixels grouped by sector with one stable (radix) sort instead of a selection per sector
    order = np.argsort(sector.astype(np.uint8 if n_sectors <= 256 else np.int64), kind="stable")
    ends = np.cumsum(np.bincount(sector, minlength=n_sectors))
    r, vals = r[order], vals[order]
    shifts, angles = [], []
    for k in range(n_sectors):
        first = ends[k - 1] if k else 0
        rk, vk = r[first:ends[k]], vals[first:ends[k]]
        d = _interp_grid(rk, step, slope)
        if len(rk) < 50 or np.sum(d * d) <= 0:
            continue
        delta = 0.0
        for _ in range(4):
            d = _interp_grid(rk - delta, step, slope)
            delta -= np.sum((vk - _interp_grid(rk - delta, step, prof)) * d) / np.sum(d * d)
        shifts.append(delta)
        angles.append(-np.pi + (k + 0.5) * 2 * np.pi / n_sectors)
    if len(shifts) < 6:
        return float("nan")
    a = np.column_stack([np.ones(len(angles)), np.cos(angles), np.sin(angles)])
    coef, *_ = np.linalg.lstsq(a, np.asarray(shifts), rcond=None)
    return float(np.hypot(coef[1], coef[2]))


def find_center(image: np.ndarray, *, mask: np.ndarray | None = None, guess: tuple[float, float] | None = None,
                r_min_px: float = 5.0) -> CenterResult:
    """Find the beam center of a powder pattern to sub-pixel precision.

    Parameters
    ----------
    image : (rows, cols) ndarray
        A frame or (better) the mean/median of several frames.
    mask : (rows, cols) ndarray of bool, optional
        True = valid. Mask the beam block and hot pixels if known; uedflow's
        automatic masks (:func:`uedflow.reduce.masks.auto_mask`) do.
    guess : (float, float), optional
        Starting (row, col); default from the symmetry of the pattern.
    r_min_px : float
        Pixels closer than this to the center are ignored in the refinement.

    Returns
    -------
    CenterResult

    Raises
    ------
    GeometryError
        No usable pixels, or the center lands outside the image.
    """
    from scipy.optimize import minimize

    image = np.asarray(image, float)
    valid = _valid(image, mask)
    start = np.asarray(guess if guess is not None else symmetry_center(image, mask=valid), float)
    rows, cols = image.shape
    rr, cc = np.nonzero(valid)
    vals = image[rr, cc]
    far = np.hypot(rr - start[0], cc - start[1]) >= r_min_px
    rr, cc, vals = rr[far].astype(float), cc[far].astype(float), vals[far]
    n_bins = int(np.hypot(rows, cols)) + 4
    simplex = np.array([start, start + [0.7, 0.0], start + [0.0, 0.7]])
    res = minimize(_radial_scatter, start, args=(rr, cc, vals, n_bins), method="Nelder-Mead",
                   options={"initial_simplex": simplex, "xatol": 5e-3, "fatol": np.inf, "maxiter": 400})
    center = (float(res.x[0]), float(res.x[1]))
    if not (-0.5 <= center[0] <= rows - 0.5 and -0.5 <= center[1] <= cols - 0.5):
        raise GeometryError(f"the beam center found, {center}, lies outside the {rows}x{cols} image; give detector.center_rc")
    residual = ring_center_offset(image, center, mask=valid)
    ok = bool(res.success) and bool(np.isfinite(residual))
    msg = "converged" if ok else f"refinement: {res.message}; ring check residual {residual}"
    return CenterResult(center, residual, ok, msg)
