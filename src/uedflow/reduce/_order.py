"""Compiled order statistics on small buffers, equal to numpy's (median, MAD, percentile) to the last bit.

Building blocks of the robust statistics of :mod:`uedflow.reduce.combine`, called
from its numba kernels: selection in an unsorted scratch buffer
(:func:`select`, :func:`median`, :func:`percentile`, which reorder it), and the
median and median absolute deviation of an already sorted run
(:func:`sorted_median`, :func:`sorted_mad`), kept sorted as values enter and
leave it (:func:`merge`, :func:`remove`). The loops are branch-free where the
data decide (partition, merge): random data cost no branch mispredictions.
NaN is not handled here: callers pass only the values that are not missing.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["select", "median", "percentile", "percentile_split", "sorted_median", "sorted_mad", "kth_of_runs"]


@numba.njit(nogil=True, cache=True)
def select(buf, n, k):  # pragma: no cover - compiled
    """k-th smallest (0-based) of ``buf[:n]``; leaves ``buf[:k] <= buf[k] <= buf[k+1:n]``.

    Quickselect with a median-of-three pivot and a three-way partition in two branch-free
    passes (below the pivot, then equal to it): runs of equal values end the search at once.
    """
    lo, hi = 0, n - 1
    while lo < hi:
        a, b, c = buf[lo], buf[(lo + hi) >> 1], buf[hi]
        pivot = max(min(a, b), min(max(a, b), c))
        below = lo
        for i in range(lo, hi + 1):
            x = buf[i]
            buf[i] = buf[below]
            buf[below] = x
            below += x < pivot
        if k < below:
            hi = below - 1
            continue
        equal = below
        for i in range(below, hi + 1):
            x = buf[i]
            buf[i] = buf[equal]
            buf[equal] = x
            equal += x == pivot
        if k < equal:
            return pivot
        lo = equal
    return buf[k]


@numba.njit(nogil=True, cache=True)
def median(buf, n):  # pragma: no cover - compiled
    """``np.median(buf[:n])`` (NaN if n = 0); reorders ``buf``."""
    if n == 0:
        return np.nan
    k = n // 2
    upper = select(buf, n, k)
    if n % 2:
        return upper
    return (buf[:k].max() + upper) / 2.0


@numba.njit(nogil=True, cache=True)
def percentile(buf, n, q):  # pragma: no cover - compiled
    """``np.percentile(buf[:n], q)``, linear interpolation with numpy's formula (NaN if n = 0); reorders ``buf``."""
    if n == 0:
        return np.nan
    pos = (n - 1) * (q / 100.0)
    lo = int(np.floor(pos))
    a = select(buf, n, lo)
    b = buf[lo + 1:n].min() if lo + 1 < n else a
    t = pos - lo
    if t >= 0.5:
        return b - (b - a) * (1 - t)
    return a + (b - a) * t


@numba.njit(nogil=True, cache=True)
def _kth_of_split(lower, n_lower, upper, n_upper, k):  # pragma: no cover - compiled
    if k < n_lower:
        return lower[:n_lower].max() if k == n_lower - 1 else select(lower, n_lower, k)
    k -= n_lower
    return upper[:n_upper].min() if k == 0 else select(upper, n_upper, k)


@numba.njit(nogil=True, cache=True)
def percentile_split(lower, n_lower, upper, n_upper, q):  # pragma: no cover - compiled
    """:func:`percentile` of the values ``lower[:n_lower]`` and ``upper[:n_upper]``, each of the first below each
    of the second (split by a guess of the result: when the guess is good, the order statistics are the largest
    of one part or the smallest of the other, found in one pass); reorders both."""
    n = n_lower + n_upper
    if n == 0:
        return np.nan
    pos = (n - 1) * (q / 100.0)
    lo = int(np.floor(pos))
    a = _kth_of_split(lower, n_lower, upper, n_upper, lo)
    b = _kth_of_split(lower, n_lower, upper, n_upper, lo + 1) if lo + 1 < n else a
    t = pos - lo
    if t >= 0.5:
        return b - (b - a) * (1 - t)
    return a + (b - a) * t


@numba.njit(nogil=True, cache=True)
def sorted_median(run, n):  # pragma: no cover - compiled
    """``np.median(run[:n])`` of a sorted run (NaN if n = 0)."""
    if n == 0:
        return np.nan
    if n % 2:
        return run[n // 2]
    return (run[n // 2 - 1] + run[n // 2]) / 2.0


@numba.njit(nogil=True, cache=True)
def _kth_deviation(run, n, m, k):  # pragma: no cover - compiled
    """k-th smallest |run[i] − m| of a sorted run: the k + 1 values nearest to m are a window of the run, the one
    whose farther end is nearest (the window's far end moves from its left to its right end at one start)."""
    lo, hi = 0, n - 1 - k
    while lo < hi:
        mid = (lo + hi) >> 1
        if abs(run[mid + k] - m) >= abs(run[mid] - m):
            hi = mid
        else:
            lo = mid + 1
    best = max(abs(run[lo] - m), abs(run[lo + k] - m))
    if lo > 0:
        best = min(best, max(abs(run[lo - 1] - m), abs(run[lo - 1 + k] - m)))
    return best


@numba.njit(nogil=True, cache=True)
def sorted_mad(run, n, m):  # pragma: no cover - compiled
    """``np.median(np.abs(run[:n] - m))`` of a sorted run, for a finite m, in O(log n) (NaN if n = 0)."""
    if n == 0:
        return np.nan
    if n % 2:
        return _kth_deviation(run, n, m, n // 2)
    return (_kth_deviation(run, n, m, n // 2 - 1) + _kth_deviation(run, n, m, n // 2)) / 2.0


@numba.njit(nogil=True, cache=True)
def kth_of_runs(values, starts, lengths, k, at):  # pragma: no cover - compiled
    """(k-th, (k+1)-th) smallest (0-based) of the union of the sorted runs
    ``values[starts[i]:starts[i] + lengths[i]]`` (a run may be listed more than once), without merging them;
    k + 1 must not exceed the total length; the second value is ``inf`` when k is the last.

    Each round drops the first ``step`` values of the run whose ``step``-th value is smallest, with
    ``step`` = k // (runs not exhausted): at most k − 1 values of the union precede them, so the k-th is not
    among them. ``at`` is scratch, like ``starts``.
    """
    m = len(starts)
    left = 0
    for i in range(m):
        at[i] = starts[i]
        left += lengths[i] > 0
    while k > 0:
        step = max(1, k // left)
        best, pick, take = np.inf, -1, 0
        for i in range(m):
            t = min(step, starts[i] + lengths[i] - at[i])
            if t > 0 and (pick < 0 or values[at[i] + t - 1] < best):
                best, pick, take = values[at[i] + t - 1], i, t
        at[pick] += take
        k -= take
        left -= at[pick] == starts[pick] + lengths[pick]
    first, pick = np.inf, -1
    for i in range(m):
        if at[i] < starts[i] + lengths[i] and (pick < 0 or values[at[i]] < first):
            first, pick = values[at[i]], i
    at[pick] += 1
    second = np.inf
    for i in range(m):
        if at[i] < starts[i] + lengths[i]:
            second = min(second, values[at[i]])
    return first, second
