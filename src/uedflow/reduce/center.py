"""Beam-center finding on powder patterns, robust to a beam block and hot pixels.

Two steps:

1. *Coarse*: a powder pattern is centro-symmetric, I(c + x) = I(c − x). The
   autoconvolution Σ_x I(x) I(u − x) of the (masked, mean-free) image, i.e. its
   cross-correlation with its 180° rotation, peaks at u = 2c; a parabola through
   the peak gives c to ~0.25 px. Masked pixels (beam block, hot pixels) are zero
   and do not vote.
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
    import scipy.fft

    valid = _valid(image, mask)
    if valid.sum() < 16:
        raise GeometryError("too few valid pixels to find the beam center; check the mask")
    img = np.where(valid, image - np.mean(image[valid]), 0.0).astype(np.float32)
    rows, cols = img.shape
    shape = (2 * rows, 2 * cols)
    # I(c + x) = I(c − x): the autoconvolution Σ_x I(x) I(u − x) peaks at u = 2c (zero-padded: no wrap-around)
    f = scipy.fft.rfft2(img, shape)
    conv = scipy.fft.irfft2(f * f, shape)
    i, j = np.unravel_index(np.argmax(conv), conv.shape)

    def parabola(a: float, b: float, c: float) -> float:
        den = float(a) - 2 * float(b) + float(c)
        return 0.0 if den == 0 else 0.5 * (float(a) - float(c)) / den

    di = parabola(conv[i - 1, j], conv[i, j], conv[(i + 1) % shape[0], j])
    dj = parabola(conv[i, j - 1], conv[i, j], conv[i, (j + 1) % shape[1]])
    return (float((i + di) / 2), float((j + dj) / 2))


@numba.njit(nogil=True, cache=True)
def _scatter_sums(r0, c0, rr, cc, vals, sums):  # pragma: no cover - compiled
    """Σw and Σwv per 1-px radial bin into ``sums`` (n_bins, 2), each pixel split linearly between its two bins."""
    sums[:] = 0.0
    n_bins = len(sums)
    for p in range(len(vals)):
        dr, dc = rr[p] - r0, cc[p] - c0
        r = np.sqrt(dr * dr + dc * dc)
        i = min(int(r), n_bins - 2)
        w1 = min(r - i, 1.0)
        v = vals[p]
        sums[i, 0] += 1.0 - w1
        sums[i, 1] += (1.0 - w1) * v
        sums[i + 1, 0] += w1
        sums[i + 1, 1] += w1 * v


@numba.njit(nogil=True, cache=True)
def _far_pixels(image, valid, r0, c0, r_min, rr, cc, vals):  # pragma: no cover - compiled
    """Row, column and value of the ``valid`` pixels at least ``r_min`` from (r0, c0), in row-major order, into
    the first entries of ``rr``, ``cc``, ``vals``; returns their number."""
    n = 0
    for r in range(image.shape[0]):
        for c in range(image.shape[1]):
            if valid[r, c] and (r - r0) ** 2 + (c - c0) ** 2 >= r_min * r_min:
                rr[n], cc[n], vals[n] = r, c, image[r, c]
                n += 1
    return n


def _radial_scatter(center: np.ndarray, rr: np.ndarray, cc: np.ndarray, vals: np.ndarray, sums: np.ndarray,
                    sum_v2: float) -> float:
    """Σ w (v − ring mean)² over the radial bins: Σv² − Σ_bins (Σwv)²/Σw, as Σ_bins Σwv² = Σv² (weights sum to 1)."""
    _scatter_sums(float(center[0]), float(center[1]), rr, cc, vals, sums)
    ok = sums[:, 0] > 0
    return float(sum_v2 - np.sum(sums[ok, 1] ** 2 / sums[ok, 0]))


_STEP = 0.5  # radial bin of the ring check [px]


@numba.njit(nogil=True, cache=True, inline="always")
def _interp2(x, table, other):  # pragma: no cover - compiled
    """``np.interp(x, grid, table)`` and the same of ``other``, on the grid ``(arange(len(table)) + 0.5) * _STEP``
    (uniform: no search)."""
    u = x / _STEP - 0.5
    last = len(table) - 1
    if u <= 0:
        return table[0], other[0]
    if u >= last:
        return table[last], other[last]
    j = int(u)
    t = u - j
    return table[j] + t * (table[j + 1] - table[j]), other[j] + t * (other[j + 1] - other[j])


@numba.njit(nogil=True, cache=True, inline="always")
def _atan01(a):  # pragma: no cover - compiled
    """arctan(a) for a in [0, 1], |error| < 2e-8 rad (Abramowitz & Stegun 4.4.49)."""
    a2 = a * a
    return a * (1.0 + a2 * (-0.3333314528 + a2 * (0.1999355085 + a2 * (-0.1420889944 + a2 * (
        0.1065626393 + a2 * (-0.0752896400 + a2 * (0.0429096138 + a2 * (-0.0161657367 + a2 * 0.0028662257))))))))


@numba.njit(nogil=True, cache=True)
def _sector_row(dr, c0, n_sectors, stride, out):  # pragma: no cover - compiled
    """``int((arctan2(dr, c - c0) + π) / 2π · n_sectors) % n_sectors`` for the columns c = 0, stride, ... of one
    row, from a polynomial arctan (a loop the compiler vectorises); -1 marks the few pixels within its error of
    a sector edge, for :func:`_sector_exact`. So every pixel lands where ``np.arctan2`` puts it."""
    for m in range(len(out)):
        dc = m * stride - c0
        ax, ay = abs(dc), abs(dr)
        big = max(ax, ay)
        t = _atan01(min(ax, ay) / big if big > 0 else 0.0)
        t = 0.5 * np.pi - t if ay > ax else t
        t = np.pi - t if dc < 0 else t
        t = -t if dr < 0 else t
        u = (t + np.pi) / (2 * np.pi) * n_sectors
        edge = u - np.floor(u)
        k = int(u)  # u is in [0, n_sectors]: n_sectors is sector 0
        k = k - n_sectors if k >= n_sectors else k
        out[m] = -1 if min(edge, 1.0 - edge) < 1e-6 * n_sectors else k


@numba.njit(nogil=True, cache=True)
def _sector_exact(dr, dc, n_sectors):  # pragma: no cover - compiled
    k = int((np.arctan2(dr, dc) + np.pi) / (2 * np.pi) * n_sectors)
    return k - n_sectors if k >= n_sectors else k


@numba.njit(nogil=True, cache=True)
def _ring_pixels(image, valid, r0, c0, n_sectors, stride, radius, value, sector, counts, sums):  # pragma: no cover
    """Radius, value and sector of every finite ``valid`` pixel of every ``stride``-th row and column (in row-major
    order) into the first entries of ``radius``, ``value``, ``sector``; pixel count and value sum per
    ``_STEP``-wide radial bin; returns the number of pixels and of bins used."""
    rows, cols = image.shape
    n, top = 0, 0
    row_sector = np.empty((cols + stride - 1) // stride, np.int64)
    for r in range(0, rows, stride):
        dr = r - r0
        _sector_row(dr, c0, n_sectors, stride, row_sector)
        for m in range(len(row_sector)):
            c = m * stride
            v = np.float64(image[r, c])
            if not (valid[r, c] and np.isfinite(v)):
                continue
            dc = c - c0
            rad = np.sqrt(dr * dr + dc * dc)
            b = int(rad / _STEP)
            counts[b] += 1
            sums[b] += v
            top = max(top, b + 1)
            k = row_sector[m]
            radius[n], value[n], sector[n] = rad, v, k if k >= 0 else _sector_exact(dr, dc, n_sectors)
            n += 1
    return n, top


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _sector_shifts(radius, value, sector, prof, slope, n_sectors):  # pragma: no cover - compiled
    """Radial shift δ_k of each sector's pixels against the profile (4 Gauss–Newton steps, all sectors in each
    pass over the pixels); NaN for sectors of fewer than 50 pixels or no ring slope."""
    delta = np.zeros(n_sectors)
    used = np.zeros(n_sectors, np.int64)
    for p in range(len(radius)):
        used[sector[p]] += 1
    for it in range(4):
        num, den = np.zeros(n_sectors), np.zeros(n_sectors)
        # pixels come in runs of one sector (along a row): sums kept in registers over a run
        k, run_num, run_den, shift = sector[0], 0.0, 0.0, delta[sector[0]]
        for p in range(len(radius)):
            if sector[p] != k:
                num[k] += run_num
                den[k] += run_den
                k, run_num, run_den, shift = sector[p], 0.0, 0.0, delta[sector[p]]
            d, f = _interp2(radius[p] - shift, slope, prof)
            run_num += (value[p] - f) * d
            run_den += d * d
        num[k] += run_num
        den[k] += run_den
        for k in range(n_sectors):
            used[k] = used[k] if it else used[k] >= 50 and den[k] > 0
            delta[k] -= num[k] / den[k] if used[k] else 0.0
    return np.where(used > 0, delta, np.nan)


def ring_center_offset(image: np.ndarray, center_rc: tuple[float, float], *, mask: np.ndarray | None = None,
                       n_sectors: int = 16, max_pixels: int | None = 1 << 18) -> float:
    """Center offset [px] implied by the rings seen in ``n_sectors`` azimuthal sectors.

    Each sector's pixels are fitted with the full-circle radial profile shifted
    by δ_k (Gauss–Newton); the shifts are fitted with δ_k = a cos φ_k + b sin φ_k
    and hypot(a, b) is returned (NaN when fewer than 6 sectors have ring signal).
    With more than ``max_pixels`` valid pixels, only every s-th row and column is
    used (s the smallest stride leaving at most about ``max_pixels``): on a
    1024² frame, a quarter of its pixels give the offset within ~1e-3 px of all
    of them, far below the 0.1 px that matters; ``None`` uses every pixel.
    """
    image = np.asarray(image)
    if image.dtype.kind not in "uif":
        image = image.astype(float)
    valid = np.ones(image.shape, bool) if mask is None else np.asarray(mask, bool)
    n_valid = image.size if mask is None else np.count_nonzero(valid)
    stride = 1 if max_pixels is None or n_valid <= max_pixels else int(np.ceil(np.sqrt(n_valid / max_pixels)))
    rows, cols = image.shape
    far = np.hypot(max(center_rc[0], rows - 1 - center_rc[0]), max(center_rc[1], cols - 1 - center_rc[1]))
    if not np.isfinite(far):
        raise GeometryError(f"ring_center_offset: the center {tuple(center_rc)} is not finite; give a (row, col) in px")
    n_bins = int(far / _STEP) + 2
    counts, sums = np.zeros(n_bins, np.int64), np.zeros(n_bins)
    size = -(-rows // stride) * -(-cols // stride)
    radius, value = np.empty(size), np.empty(size)
    sector = np.empty(size, np.uint8 if n_sectors <= 256 else np.int64)
    n_pix, top = _ring_pixels(image, valid, float(center_rc[0]), float(center_rc[1]), n_sectors, stride, radius,
                              value, sector, counts, sums)
    if n_pix == 0:
        return float("nan")
    counts, sums = counts[:top], sums[:top]
    grid = (np.arange(top) + 0.5) * _STEP
    ok = counts > 0
    prof = np.interp(grid, grid[ok], sums[ok] / counts[ok])
    slope = np.gradient(prof, _STEP) if top > 1 else np.zeros(1)
    shifts = _sector_shifts(radius[:n_pix], value[:n_pix], sector[:n_pix], prof, slope, n_sectors)
    used = np.isfinite(shifts)
    if used.sum() < 6:
        return float("nan")
    angles = -np.pi + (np.flatnonzero(used) + 0.5) * 2 * np.pi / n_sectors
    a = np.column_stack([np.ones(len(angles)), np.cos(angles), np.sin(angles)])
    coef, *_ = np.linalg.lstsq(a, shifts[used], rcond=None)
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
    rr, cc, vals = (np.empty(np.count_nonzero(valid)) for _ in range(3))
    n = _far_pixels(image, valid, float(start[0]), float(start[1]), float(r_min_px), rr, cc, vals)
    rr, cc, vals = rr[:n], cc[:n], vals[:n]
    sums = np.empty((int(np.hypot(rows, cols)) + 4, 2))
    simplex = np.array([start, start + [0.7, 0.0], start + [0.0, 0.7]])
    res = minimize(_radial_scatter, start, args=(rr, cc, vals, sums, float(np.sum(vals * vals))), method="Nelder-Mead",
                   options={"initial_simplex": simplex, "xatol": 5e-3, "fatol": np.inf, "maxiter": 400})
    center = (float(res.x[0]), float(res.x[1]))
    if not (-0.5 <= center[0] <= rows - 0.5 and -0.5 <= center[1] <= cols - 0.5):
        raise GeometryError(f"the beam center found, {center}, lies outside the {rows}x{cols} image; give detector.center_rc")
    residual = ring_center_offset(image, center, mask=valid)
    ok = bool(res.success) and bool(np.isfinite(residual))
    msg = "converged" if ok else f"refinement: {res.message}; ring check residual {residual}"
    return CenterResult(center, residual, ok, msg)
