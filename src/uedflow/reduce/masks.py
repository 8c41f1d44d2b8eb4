"""Automatic pixel masks: beam block, dead, hot and saturated pixels (True = valid).

All decisions use robust statistics over a sample of frames:

* **saturated**: reached the saturation level in any sampled frame;
* **dead**: zero in every sampled frame, or far below its neighbourhood;
* **hot**: the median frame exceeds its 3×3 median-filtered neighbourhood by
  more than ``n_sigma`` times the larger of the robust (MAD) scatter of those
  residuals and the Poisson noise;
* **beam block**: the dark region connected to the beam center (a stop and its
  rod, also where it is only a few counts below its surroundings; see :func:`beam_block`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

__all__ = ["MaskResult", "pixel_defects", "beam_block", "auto_mask", "median_peak", "exact_median", "user_mask"]


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
        return cls(valid_pixels(dead, hot, saturated, beam_block, user_mask=user_mask), beam_block, dead, hot,
                   saturated)

    def summary(self) -> dict[str, int]:
        """Number of pixels flagged per reason (JSON-safe)."""
        return {k: int(np.count_nonzero(getattr(self, k))) for k in ("beam_block", "dead", "hot", "saturated",
                                                                      "valid")}


@numba.njit(nogil=True, cache=True)
def _unflagged(flagged, user, out):  # pragma: no cover - compiled
    for i in range(len(out)):
        bad = False
        for f in flagged:
            bad |= f[i]
        if user is None:
            out[i] = not bad
        else:
            out[i] = (not bad) & user[i]


def valid_pixels(*flagged: np.ndarray, user_mask: np.ndarray | None = None) -> np.ndarray:
    """Pixels flagged by none of the ``flagged`` masks (True = flagged) and valid in ``user_mask`` (True =
    valid), in one pass.

    Examples
    --------
    >>> valid_pixels(np.array([True, False, False]), np.array([False, False, True])).tolist()
    [False, True, False]
    """
    shape = np.shape(flagged[0])
    out = np.empty(shape, bool)
    user = None if user_mask is None else np.ascontiguousarray(user_mask, bool).reshape(-1)
    _unflagged(tuple(np.ascontiguousarray(f, bool).reshape(-1) for f in flagged), user, out.reshape(-1))
    return out


_BLOCK = 256  # pixels sorted together: the (n, 256) buffer stays in L1 and the fixed width lets the loops vectorise


@numba.njit(nogil=True, cache=True, inline="always")
def _sort_block(buf, p0, m, median, peak):  # pragma: no cover - compiled
    """Sort each column of ``buf`` (n, _BLOCK) by a compare-exchange network (insertion order) run across the
    block, and write the median and maximum of its first ``m`` columns to ``median``, ``peak`` from ``p0`` on."""
    n = buf.shape[0]
    for i in range(1, n):
        for j in range(i, 0, -1):
            for q in range(_BLOCK):
                a, b = buf[j - 1, q], buf[j, q]
                buf[j - 1, q] = min(a, b)
                buf[j, q] = max(a, b)
    for q in range(m):
        median[p0 + q] = 0.5 * (np.float64(buf[(n - 1) // 2, q]) + np.float64(buf[n // 2, q]))
        peak[p0 + q] = buf[n - 1, q]


@numba.njit(nogil=True, cache=True)
def _median_peak(frames, median, peak):  # pragma: no cover - compiled
    """Per-pixel median and max of ``frames`` (n, n_pix) into ``median`` and ``peak``, sorting blocks of
    pixels in the frames' own dtype (16 uint16 pixels per vector instruction)."""
    n, n_pix = frames.shape
    buf = np.empty((n, _BLOCK), frames.dtype)
    full = n_pix // _BLOCK
    for block in range(full):
        for i in range(n):
            for q in range(_BLOCK):
                buf[i, q] = frames[i, block * _BLOCK + q]
        _sort_block(buf, block * _BLOCK, _BLOCK, median, peak)
    p0 = full * _BLOCK
    if p0 < n_pix:  # the last, partial block, padded with its last pixel
        for i in range(n):
            for q in range(_BLOCK):
                buf[i, q] = frames[i, p0 + min(q, n_pix - p0 - 1)]
        _sort_block(buf, p0, n_pix - p0, median, peak)


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
    frames = np.ascontiguousarray(frames)
    if frames.dtype.kind not in "uif":
        frames = frames.astype(float)
    median, peak = np.empty(frames.shape[1:]), np.empty(frames.shape[1:])  # numpy's allocator: huge pages
    if median.size:
        _median_peak(frames.reshape(len(frames), -1), median.reshape(-1), peak.reshape(-1))
    return median, peak


_BUCKETS = 4096


@numba.njit(nogil=True, cache=True, inline="always")
def _bucket(x, lo, scale):  # pragma: no cover - compiled
    """Bin of ``x`` in [lo, lo + _BUCKETS / scale]; values outside (of masked pixels) are clipped to the ends."""
    return max(min(int((x - lo) * scale), _BUCKETS - 1), 0)


@numba.njit(nogil=True, cache=True, inline="always")
def _ok(valid, k):  # pragma: no cover - compiled
    if valid is None:
        return True
    return valid[k]


@numba.njit(nogil=True, cache=True)
def _histogram(values, valid, lo, scale, counts):  # pragma: no cover - compiled
    counts[:] = 0
    for k in range(len(values)):
        counts[_bucket(values[k], lo, scale)] += _ok(valid, k)


@numba.njit(nogil=True, cache=True)
def _collect(values, valid, lo, scale, bucket, size):  # pragma: no cover - compiled
    """The ``size`` valid values of one bucket, branch-free (every value is stored, the count moves on a match)."""
    keep = np.empty(size + 1)
    m = 0
    for k in range(len(values)):
        keep[m] = values[k]
        m += _ok(valid, k) & (_bucket(values[k], lo, scale) == bucket)
    return keep[:size]


@numba.njit(nogil=True, cache=True)
def _select_round(values, valid, i, j, counts):  # pragma: no cover - compiled
    """One round of :func:`_middle_pair`: (done, rank-i value, rank-j value, candidates left, their i, j)."""
    lo, hi = np.inf, -np.inf
    for k in range(len(values)):
        lo = min(lo, values[k] if _ok(valid, k) else np.inf)
        hi = max(hi, values[k] if _ok(valid, k) else -np.inf)
    scale = _BUCKETS / (hi - lo) if hi > lo else 0.0
    if lo == hi:
        return True, lo, lo, values[:0], i, j
    if len(values) <= 64 or not 0 < scale < np.inf:  # few left, or a range too wide or narrow to divide
        ordered = np.sort(values[np.array([_ok(valid, k) for k in range(len(values))])])
        return True, ordered[i], ordered[j], values[:0], i, j
    _histogram(values, valid, lo, scale, counts)
    bi, bj = -1, -1
    for b in range(_BUCKETS):
        if bi < 0 and i < counts[b]:
            bi = b
            if j < counts[b]:
                bj = b
                break
        elif bi < 0:
            i, j = i - counts[b], j - counts[b]
        elif counts[b]:  # j is the first value of the next non-empty bucket
            bj = b
            break
    if bi != bj:
        return (True, _collect(values, valid, lo, scale, bi, counts[bi]).max(),
                _collect(values, valid, lo, scale, bj, counts[bj]).min(), values[:0], i, j)
    return False, lo, hi, _collect(values, valid, lo, scale, bi, counts[bi]), i, j


@numba.njit(nogil=True, cache=True)
def _middle_pair(values, valid):  # pragma: no cover - compiled
    """The two middle order statistics (equal for an odd count; NaN for none) of the finite ``values[valid]``
    (1-D arrays; ``valid`` None: all), by bucket selection: each round histograms the candidates into
    ``_BUCKETS`` equal bins between their minimum and maximum (a monotone map: a bin holds a contiguous run of
    ranks) and keeps the bin holding both ranks, until the candidates are few or all equal; ranks in two bins
    are the maximum of the first and the minimum of the second. The loops are branch-free: ties, and a median
    bin holding half of the values, cost no mispredictions."""
    n = len(values) if valid is None else np.sum(valid)
    if n == 0:
        return np.nan, np.nan
    counts = np.empty(_BUCKETS, np.int64)
    done, a, b, left, i, j = _select_round(values, valid, (n - 1) // 2, n // 2, counts)
    while not done:
        done, a, b, left, i, j = _select_round(left, None, i, j, counts)
    return a, b


def exact_median(values: np.ndarray, valid: np.ndarray | None = None) -> float:
    """``np.median(values[valid])`` of finite values (NaN for none), without sorting or copying the values.
    For a million values a few times faster than ``np.median``, ties or not.

    Examples
    --------
    >>> exact_median(np.array([4.0, 1.0, 3.0, 2.0]))
    2.5
    >>> exact_median(np.array([[4.0, 1.0], [3.0, 2.0]]), np.array([[True, True], [False, True]]))
    2.0
    """
    values = np.ascontiguousarray(values, float).reshape(-1)
    a, b = _middle_pair(values, None if valid is None else np.ascontiguousarray(valid, bool).reshape(-1))
    return float((a + b) / 2)


def pixel_defects(median: np.ndarray, peak: np.ndarray, *, saturation: float | None = None, n_sigma: float = 8.0
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dead, hot and saturated pixels (True = flagged) from the median and maximum of a sample of frames.

    Parameters
    ----------
    median, peak : (rows, cols) ndarray
        Per-pixel median and maximum over a few frames spread over the run (finite).
    saturation : float, optional
        Detector saturation level [counts].
    n_sigma : float
        Threshold in robust standard deviations.
    """
    med = np.ascontiguousarray(median, float)
    peak = np.ascontiguousarray(peak)
    local, dev = np.empty(med.shape), np.empty(med.shape)
    dead, hot, saturated = np.empty(med.shape, bool), np.empty(med.shape, bool), np.empty(med.shape, bool)
    if not med.size:
        return dead, hot, saturated
    _median3(med, local, dev)
    _abs_dev(dev, exact_median(dev))
    mad = 1.4826 * exact_median(dev)
    _flag_defects(med, peak, local, mad, n_sigma, np.inf if saturation is None else saturation, dead, hot, saturated)
    return dead, hot, saturated


@numba.njit(nogil=True, cache=True, inline="always")
def _sort3(a, b, c):  # pragma: no cover - compiled
    a, b = min(a, b), max(a, b)
    b, c = min(b, c), max(b, c)
    return min(a, b), max(a, b), c


@numba.njit(nogil=True, cache=True)
def _sorted_columns(image, up, mid, down, left, right, lo, md, hi):  # pragma: no cover - compiled
    """Sorted (lo, md, hi) of each column of rows (up, mid, down), at 1..cols; the padding columns 0 and
    cols + 1 repeat columns ``left`` and ``right``."""
    cols = image.shape[1]
    for c in range(cols):
        lo[c + 1], md[c + 1], hi[c + 1] = _sort3(image[up, c], image[mid, c], image[down, c])
    lo[0], md[0], hi[0] = lo[left + 1], md[left + 1], hi[left + 1]
    lo[cols + 1], md[cols + 1], hi[cols + 1] = lo[right + 1], md[right + 1], hi[right + 1]


@numba.njit(nogil=True, cache=True)
def _median3(med, local, resid):  # pragma: no cover - compiled
    """3x3 median ``local`` (edges: nearest, as ``scipy.ndimage.median_filter(size=3, mode="nearest")``) and
    ``resid = med - local``."""
    rows, cols = med.shape
    lo, md, hi = np.empty(cols + 2), np.empty(cols + 2), np.empty(cols + 2)
    for r in range(rows):
        # the median of nine is the median of (max of the column minima, median of the medians, min of the maxima)
        _sorted_columns(med, max(r - 1, 0), r, min(r + 1, rows - 1), 0, cols - 1, lo, md, hi)
        for c in range(cols):
            local[r, c] = _sort3(max(max(lo[c], lo[c + 1]), lo[c + 2]), _sort3(md[c], md[c + 1], md[c + 2])[1],
                                 min(min(hi[c], hi[c + 1]), hi[c + 2]))[1]
            resid[r, c] = med[r, c] - local[r, c]


@numba.njit(nogil=True, cache=True)
def _abs_dev(values, center):  # pragma: no cover - compiled
    """``values = |values - center|`` in place."""
    for i in range(values.size):
        values.flat[i] = abs(values.flat[i] - center)


@numba.njit(nogil=True, cache=True)
def _flag_defects(med, peak, local, mad, n_sigma, saturation, dead, hot, saturated):  # pragma: no cover - compiled
    """``dead``, ``hot`` and ``saturated`` of :func:`pixel_defects`, with the second-largest of the 8 neighbours
    of each pixel (edges: reflected; nearest for a single row or column)."""
    rows, cols = med.shape
    reflect = min(rows, cols) > 1
    lo, md, hi = np.empty(cols + 2), np.empty(cols + 2), np.empty(cols + 2)
    for r in range(rows):
        up, down = (r - 1 if r > 0 else 1, r + 1 if r < rows - 1 else rows - 2) if reflect else (
            max(r - 1, 0), min(r + 1, rows - 1))
        _sorted_columns(med, up, r, down, 1 if reflect else 0, cols - 2 if reflect else cols - 1, lo, md, hi)
        for c in range(cols):
            # from the top two of the left column, of the right one and of (up, down): the middle one of the
            # three tops, unless the runner-up of the largest top's own pair is larger
            a, b = med[up, c], med[down, c]
            second = max(_sort3(hi[c], hi[c + 2], max(a, b))[1], max(max(md[c], md[c + 2]), min(a, b)))
            m, x = med[r, c], med[r, c] - local[r, c]
            noise = n_sigma * max(mad, np.sqrt(max(local[r, c], 1.0)))
            # hot: an isolated spike, above even the second-brightest of its 8 neighbours. The 3x3 median alone
            # flags the crest of a sharp ring (its radial neighbours are darker), but a crest pixel always has
            # neighbours along the ring that are about as bright.
            hot[r, c] = (x > noise) & (m - second > noise)
            dead[r, c] = (peak[r, c] <= 0) | ((x < -noise) & (m < 0.2 * local[r, c]))
            saturated[r, c] = peak[r, c] >= saturation


def _ring_level(image: np.ndarray, good: np.ndarray, center_rc: tuple[float, float], q: float) -> np.ndarray:
    """Each pixel's ``q`` quantile of the ``good`` pixels of its 1 px wide ring about ``center_rc`` (NaN: none)."""
    rows, cols = image.shape
    ring = np.hypot(*np.ogrid[-center_rc[0]:rows - center_rc[0], -center_rc[1]:cols - center_rc[1]]).astype(np.int64)
    values, rings = image[good], ring[good]
    order = np.lexsort((values, rings))
    counts = np.bincount(rings, minlength=int(ring.max()) + 1)
    first = np.cumsum(counts) - counts
    level = np.full(len(counts), np.nan)
    has = counts > 0
    level[has] = values[order][first[has] + ((counts[has] - 1) * q).astype(np.int64)]
    return level[ring]


def _touching(region: np.ndarray, window: tuple[slice, slice]) -> np.ndarray:
    """The 4-connected parts of ``region`` that reach into ``window``."""
    from scipy import ndimage as ndi

    labels, _ = ndi.label(region)
    ids = np.unique(labels[window])
    return np.isin(labels, ids[ids > 0])


def beam_block(image: np.ndarray, center_rc: tuple[float, float], *, invalid: np.ndarray | None = None,
               block_fraction: float = 0.5, grow_px: int = 1) -> np.ndarray:
    """The beam stop and its rod: the dark region connected to the beam center (True = blocked).

    A pixel is dark when its 3x3 mean, above the dark level (the 0.5 % quantile of the 3x3 means:
    the stop itself, or the detector's offset), is below ``block_fraction`` of its ring's level (the
    75 % quantile of the pixels at its distance from the center: the stop shades a small part of a
    ring) and at least 4 noise σ of a 3x3 mean. So a rod far from the center, only a few counts
    below its surroundings on a detector with an offset, is found as well as a stop near it. The
    dark region touching the center is opened by a 5 px disc (a thin dark strip along a dim image
    edge does not carry it away; a stop narrower than that is kept as found), its holes (hot pixels)
    are filled, and it is grown by ``grow_px`` (the half-shaded edge).

    Parameters
    ----------
    image : (rows, cols) ndarray
        Median (or mean) frame (finite).
    center_rc : (float, float)
        Beam center (row, col) [px].
    invalid : (rows, cols) ndarray of bool, optional
        Bright defects (hot/saturated pixels), ignored when judging "dark".
    block_fraction : float
        "Dark": below this fraction of the ring's level, both above the dark level.
    grow_px : int
        The region is grown by this many pixels (4-connected steps).
    """
    from scipy import ndimage as ndi

    img = np.asarray(image, float)
    good = np.ones(img.shape, bool) if invalid is None else ~np.asarray(invalid, bool)
    if not good.any():
        return np.zeros(img.shape, bool)
    mean3 = ndi.uniform_filter(np.where(good, img, exact_median(img, good)), 3, mode="nearest")
    dark = float(np.percentile(mean3[good], 0.5))
    resid = (img - mean3)[good]
    noise = 1.4826 * float(np.median(np.abs(resid - np.median(resid)))) / 3.0  # σ of a 3x3 mean
    level = np.nan_to_num(_ring_level(img, good, center_rc, 0.75), nan=dark)
    low = mean3 - dark < np.maximum(block_fraction * (level - dark), 4.0 * noise)
    r0, c0 = (int(round(v)) for v in center_rc)
    window = (slice(max(r0 - 3, 0), max(r0 + 4, 0)), slice(max(c0 - 3, 0), max(c0 + 4, 0)))
    block = _touching(low, window)
    opened = _touching(ndi.binary_opening(block, np.hypot(*np.ogrid[-2:3, -2:3]) <= 2), window)
    block = ndi.binary_fill_holes(opened if opened.any() else block)
    return ndi.binary_dilation(block, iterations=grow_px) if grow_px and block.any() else block


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
    median, peak = median_peak(frames)
    dead, hot, saturated = pixel_defects(median, peak, saturation=saturation, n_sigma=n_sigma)
    # dead pixels are low like the beam block: only bright defects are left out when judging "low"
    block = (beam_block(median, center_rc, invalid=hot | saturated) if center_rc is not None
             else np.zeros(median.shape, bool))
    return MaskResult.assemble(dead, hot, saturated, block, user_mask)


def user_mask(shape: tuple[int, int], *, valid: np.ndarray | None = None, masked: np.ndarray | None = None,
              polygons: tuple[tuple[tuple[float, float], ...], ...] = ()) -> np.ndarray | None:
    """The user's mask (True = valid pixel) from a mask image, a pyFAI/fabio mask and polygons, or None for none.

    Parameters
    ----------
    shape : (int, int)
        Frame shape (rows, cols).
    valid : (rows, cols) ndarray, optional
        uedflow's convention: non-zero = valid pixel (``[detector] mask``).
    masked : (rows, cols) ndarray, optional
        pyFAI's convention: non-zero = masked pixel (``[detector] pyfai_mask``).
    polygons : tuple of polygons
        Each at least 3 (row, col) vertices [px]; pixels whose centre is inside are masked.

    Examples
    --------
    >>> user_mask((4, 5), polygons=(((-0.5, -0.5), (-0.5, 1.5), (1.5, 1.5), (1.5, -0.5)),)).astype(int)
    array([[0, 0, 1, 1, 1],
           [0, 0, 1, 1, 1],
           [1, 1, 1, 1, 1],
           [1, 1, 1, 1, 1]])
    """
    from skimage.draw import polygon2mask

    if valid is None and masked is None and not polygons:
        return None
    out = np.ones(shape, bool) if valid is None else np.asarray(valid) != 0
    if masked is not None:
        out &= np.asarray(masked) == 0
    for poly in polygons:
        out &= ~polygon2mask(shape, np.asarray(poly, float))
    return out
