"""Automatic pixel masks: beam block, dead, hot and saturated pixels (True = valid).

All decisions use robust statistics over a sample of frames:

* **saturated**: reached the saturation level in any sampled frame;
* **dead**: zero in every sampled frame, or far below its neighbourhood;
* **hot**: the median frame exceeds its 3×3 median-filtered neighbourhood by
  more than ``n_sigma`` times the larger of the robust (MAD) scatter of those
  residuals and the Poisson noise;
* **beam block**: the low-count region (3×3 mean of the median frame below
  ``block_fraction`` of the median pixel) connected to the beam center,
  grown by ``grow_px``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

__all__ = ["MaskResult", "pixel_defects", "beam_block", "auto_mask", "median_peak"]


@dataclass(frozen=True)
class MaskResult:
    """Automatic masks, each (rows, cols) bool with True = *flagged* pixel, and ``valid`` (True = usable)."""

    valid: np.ndarray
    beam_block: np.ndarray
    dead: np.ndarray
    hot: np.ndarray
    saturated: np.ndarray

    @classmethod
    def assemble(cls, dead: np.ndarray, hot: np.ndarray, saturated: np.ndarray, beam_block: np.ndarray,
                 user_mask: np.ndarray | None = None) -> MaskResult:
        """Combine flagged pixels and an optional user mask (True = valid) into one result."""
        bad = dead | hot | saturated | beam_block
        if user_mask is not None:
            bad |= ~np.asarray(user_mask, bool)
        return cls(~bad, beam_block, dead, hot, saturated)

    def summary(self) -> dict[str, int]:
        """Number of pixels flagged per reason (JSON-safe)."""
        return {k: int(getattr(self, k).sum()) for k in ("beam_block", "dead", "hot", "saturated")} | {
            "valid": int(self.valid.sum())}


@numba.njit(nogil=True, cache=True, fastmath=True)
def _median_peak(frames):  # pragma: no cover - compiled
    """Per-pixel median and max: blocks of 512 pixels sorted by a branchless compare-exchange network
    (insertion order) run across the pixels of the block, which the compiler vectorises."""
    n, n_pix = frames.shape
    median, peak = np.empty(n_pix), np.empty(n_pix)
    block = 512
    buf = np.empty((n, block))
    for p0 in range(0, n_pix, block):
        m = min(block, n_pix - p0)
        for i in range(n):
            for q in range(m):
                buf[i, q] = frames[i, p0 + q]
        for i in range(1, n):
            for j in range(i, 0, -1):
                lo, hi = buf[j - 1], buf[j]
                for q in range(m):
                    a, b = lo[q], hi[q]
                    lo[q] = min(a, b)
                    hi[q] = max(a, b)
        for q in range(m):
            median[p0 + q] = buf[n // 2, q] if n % 2 else 0.5 * (buf[n // 2 - 1, q] + buf[n // 2, q])
            peak[p0 + q] = buf[n - 1, q]
    return median, peak


def median_peak(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel median and maximum of a few finite frames (n, rows, cols), as float64 (rows, cols) images.

    Equal to ``np.median(frames, axis=0)`` and ``frames.max(axis=0)``, several times faster for a
    small n (a sample of frames). NaN pixels are not supported: the frames must be checked first.

    Examples
    --------
    >>> m, p = median_peak(np.array([[[1, 5]], [[3, 2]], [[2, 9]]], np.uint16))
    >>> m.tolist(), p.tolist()
    ([[2.0, 5.0]], [[3.0, 9.0]])
    """
    frames = np.asarray(frames)
    median, peak = _median_peak(frames.reshape(len(frames), -1))
    return median.reshape(frames.shape[1:]), peak.reshape(frames.shape[1:])


def pixel_defects(median: np.ndarray, peak: np.ndarray, *, saturation: float | None = None, n_sigma: float = 8.0
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dead, hot and saturated pixels (True = flagged) from the median and maximum of a sample of frames.

    Parameters
    ----------
    median, peak : (rows, cols) ndarray
        Per-pixel median and maximum over a few frames spread over the run.
    saturation : float, optional
        Detector saturation level [counts].
    n_sigma : float
        Threshold in robust standard deviations.
    """
    med = np.ascontiguousarray(median, float)
    saturated = peak >= saturation if saturation is not None else np.zeros(med.shape, bool)
    local, second = _median3_second(med)
    resid = med - local
    mad = 1.4826 * np.median(np.abs(resid - np.median(resid)))
    noise = np.maximum(mad, np.sqrt(np.maximum(local, 1.0)))
    # hot: an isolated spike, above even the second-brightest of its 8 neighbours. The 3x3 median alone
    # flags the crest of a sharp ring (its radial neighbours are darker), but a crest pixel always has
    # neighbours along the ring that are about as bright.
    hot = (resid > n_sigma * noise) & (med - second > n_sigma * noise)
    dead = (peak <= 0) | ((resid < -n_sigma * noise) & (med < 0.2 * local))
    return dead, hot, saturated


@numba.njit(nogil=True, cache=True, inline="always")
def _sort2(a, b):  # pragma: no cover - compiled
    return min(a, b), max(a, b)


@numba.njit(nogil=True, cache=True)
def _median3_second_padded(edge, refl):  # pragma: no cover - compiled
    """3x3 median of ``edge`` and second-largest of the 8 neighbours in ``refl`` (both padded by one pixel)."""
    rows, cols = edge.shape[0] - 2, edge.shape[1] - 2
    median = np.empty((rows, cols))
    second = np.empty((rows, cols))
    for r in range(rows):
        for c in range(cols):
            p0, p1, p2 = edge[r, c], edge[r, c + 1], edge[r, c + 2]
            p3, p4, p5 = edge[r + 1, c], edge[r + 1, c + 1], edge[r + 1, c + 2]
            p6, p7, p8 = edge[r + 2, c], edge[r + 2, c + 1], edge[r + 2, c + 2]
            # median of nine with 19 compare-exchanges (Paeth's network)
            p1, p2 = _sort2(p1, p2)
            p4, p5 = _sort2(p4, p5)
            p7, p8 = _sort2(p7, p8)
            p0, p1 = _sort2(p0, p1)
            p3, p4 = _sort2(p3, p4)
            p6, p7 = _sort2(p6, p7)
            p1, p2 = _sort2(p1, p2)
            p4, p5 = _sort2(p4, p5)
            p7, p8 = _sort2(p7, p8)
            p0, p3 = _sort2(p0, p3)
            p5, p8 = _sort2(p5, p8)
            p4, p7 = _sort2(p4, p7)
            p3, p6 = _sort2(p3, p6)
            p1, p4 = _sort2(p1, p4)
            p2, p5 = _sort2(p2, p5)
            p4, p7 = _sort2(p4, p7)
            p4, p2 = _sort2(p4, p2)
            p6, p4 = _sort2(p6, p4)
            p4, p2 = _sort2(p4, p2)
            median[r, c] = p4
            first_max, second_max = -np.inf, -np.inf
            for dr in range(3):
                for dc in range(3):
                    if dr == 1 and dc == 1:
                        continue
                    y = refl[r + dr, c + dc]
                    second_max = max(second_max, min(first_max, y))
                    first_max = max(first_max, y)
            second[r, c] = second_max
    return median, second


def _median3_second(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """3x3 median (edges: nearest, as ``scipy.ndimage.median_filter(size=3, mode="nearest")``) and the
    second-largest of the 8 neighbours (edges: reflected) of every pixel: an isolated spike is above both."""
    refl = np.pad(image, 1, mode="reflect") if min(image.shape) > 1 else np.pad(image, 1, mode="edge")
    return _median3_second_padded(np.pad(image, 1, mode="edge"), refl)


def beam_block(image: np.ndarray, center_rc: tuple[float, float], *, invalid: np.ndarray | None = None,
               block_fraction: float = 0.2, grow_px: int = 2) -> np.ndarray:
    """Low-count region connected to the beam center (True = blocked).

    Parameters
    ----------
    image : (rows, cols) ndarray
        Median (or mean) frame.
    center_rc : (float, float)
        Beam center (row, col) [px].
    invalid : (rows, cols) ndarray of bool, optional
        Bright defects (hot/saturated pixels), ignored when judging "low".
    """
    from scipy.ndimage import binary_dilation, label, uniform_filter

    img = np.asarray(image, float)
    good = np.ones(img.shape, bool) if invalid is None else ~invalid
    level = np.median(img[good])
    filled = np.where(good, img, level)
    low = uniform_filter(filled, size=3, mode="nearest") < block_fraction * level
    labels, _ = label(low)
    r0, c0 = (int(round(v)) for v in center_rc)
    rows, cols = img.shape
    win = labels[max(r0 - 3, 0):min(r0 + 4, rows), max(c0 - 3, 0):min(c0 + 4, cols)]
    ids = np.unique(win[win > 0])
    block = np.isin(labels, ids) if ids.size else np.zeros(img.shape, bool)
    return binary_dilation(block, iterations=grow_px) if grow_px and block.any() else block


def auto_mask(frames: np.ndarray, center_rc: tuple[float, float] | None = None, *, saturation: float | None = None,
              user_mask: np.ndarray | None = None, n_sigma: float = 8.0) -> MaskResult:
    """All automatic masks of a (n, rows, cols) sample of frames, combined with a user mask.

    Parameters
    ----------
    frames : (n, rows, cols) ndarray
        A few frames spread over the run (raw counts, dark not subtracted).
    center_rc : (float, float), optional
        Beam center; without it no beam-block mask is made.
    saturation : float, optional
        Detector saturation level [counts].
    user_mask : (rows, cols) ndarray of bool, optional
        True = valid.

    Examples
    --------
    >>> img = np.full((1, 32, 32), 100.0); img[0, 5, 7] = 5000.0; img[0, 14:18, 14:18] = 0.5
    >>> m = auto_mask(img, (15.5, 15.5))
    >>> bool(m.hot[5, 7]), bool(m.beam_block[15, 15]), bool(m.valid[25, 25])
    (True, True, True)
    """
    frames = np.asarray(frames)
    if frames.ndim == 2:
        frames = frames[None]
    median = np.median(frames, axis=0)
    dead, hot, saturated = pixel_defects(median, frames.max(axis=0), saturation=saturation, n_sigma=n_sigma)
    # dead pixels are low like the beam block: only bright defects are left out when judging "low"
    block = (beam_block(median, center_rc, invalid=hot | saturated) if center_rc is not None
             else np.zeros(median.shape, bool))
    return MaskResult.assemble(dead, hot, saturated, block, user_mask)
