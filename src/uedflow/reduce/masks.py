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


@numba.njit(nogil=True, cache=True)
def _median_peak(frames):  # pragma: no cover - compiled
    n, n_pix = frames.shape
    median, peak = np.empty(n_pix), np.empty(n_pix)
    buf = np.empty(n)
    for p in range(n_pix):
        for i in range(n):  # insertion sort of the pixel's n values
            x = np.float64(frames[i, p])
            j = i
            while j > 0 and buf[j - 1] > x:
                buf[j] = buf[j - 1]
                j -= 1
            buf[j] = x
        median[p] = buf[n // 2] if n % 2 else 0.5 * (buf[n // 2 - 1] + buf[n // 2])
        peak[p] = buf[n - 1]
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


@numba.njit(nogil=True, cache=True)
def _median3_second(image):  # pragma: no cover - compiled
    """3x3 median (edges: nearest, as ``scipy.ndimage.median_filter(size=3, mode="nearest")``) and the
    second-largest of the 8 neighbours (edges: reflected, as ``np.pad(mode="reflect")``) of every pixel."""
    rows, cols = image.shape
    median = np.empty((rows, cols))
    second = np.empty((rows, cols))
    buf = np.empty(9)
    for r in range(rows):
        for c in range(cols):
            k = 0
            first_max = -np.inf
            second_max = -np.inf
            for dr in range(-1, 2):
                rn = min(max(r + dr, 0), rows - 1)
                rf = -(r + dr) if r + dr < 0 else (2 * (rows - 1) - (r + dr) if r + dr >= rows else r + dr)
                for dc in range(-1, 2):
                    x = image[rn, min(max(c + dc, 0), cols - 1)]
                    j = k  # insertion sort of the nine values
                    while j > 0 and buf[j - 1] > x:
                        buf[j] = buf[j - 1]
                        j -= 1
                    buf[j] = x
                    k += 1
                    if dr == 0 and dc == 0:
                        continue
                    cf = -(c + dc) if c + dc < 0 else (2 * (cols - 1) - (c + dc) if c + dc >= cols else c + dc)
                    y = image[rf, cf]
                    if y > first_max:
                        second_max = first_max
                        first_max = y
                    elif y > second_max:
                        second_max = y
            median[r, c] = buf[4]
            second[r, c] = second_max
    return median, second


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
