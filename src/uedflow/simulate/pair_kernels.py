"""Numba kernels of the Debye pair sum: pair-distance moments per bin, and second-order sinc sums.

Binning. Atoms are sorted by group, so for an atom i the partners j > i of one
group are contiguous and fill one histogram row. Distances to all j > i are
computed in one vectorised single-precision loop (coordinates about the centre
of the model: |error| < 1e-7 × extent, 1e-5 Å for a 100 Å model); each pair then
adds (1, u, u²) to its bin k = ⌊r/w⌋, u = r/w − k ∈ [0, 1) in double precision
(three adjacent doubles, one cache line). Rows of atoms are split into blocks of
equal pair counts, one per thread.

Sums. A bin with n pairs, mean r̄ and variance σ² of its distances contributes

.. math:: \\sum_{pairs} \\operatorname{sinc}(q r) = n \\left[\\operatorname{sinc}(q\\bar r)
          + \\tfrac12 q^2 \\sigma^2 \\operatorname{sinc}''(q\\bar r)\\right] + O(n\\, q^3 \\mu_3)

(sinc x = sin x / x, q = 2πs [Å⁻¹]): the error is third order in q·w, ~(qw)³/300
relative for a smooth density of distances, and zero for a bin holding one
distance. On a uniform q grid, e^{iqr̄} is advanced by a rotation per grid point
(no sin/cos per point).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["bin_moments", "sinc_sums"]


@numba.njit(parallel=True, fastmath=True, cache=True)
def _moment_kernel(x, y, z, group, start, pair_index, inv_w, n_bins, row_start):  # pragma: no cover - numba
    n = x.shape[0]
    n_groups = len(start) - 1
    n_blocks = len(row_start) - 1
    n_pairs = n_groups * (n_groups + 1) // 2
    out = np.zeros((n_blocks, n_pairs, n_bins, 3))
    for b in numba.prange(n_blocks):
        hist = out[b]
        buf = np.empty(n, dtype=np.float32)
        for i in range(row_start[b], row_start[b + 1]):
            xi, yi, zi = x[i], y[i], z[i]
            for j in range(i + 1, n):  # vectorised: single-precision distances
                dx = x[j] - xi
                dy = y[j] - yi
                dz = z[j] - zi
                buf[j] = np.sqrt(dx * dx + dy * dy + dz * dz)
            gi = group[i]
            for gj in range(gi, n_groups):
                row = hist[pair_index[gi, gj]]
                for j in range(max(i + 1, start[gj]), start[gj + 1]):
                    v = np.float64(buf[j]) * inv_w
                    k = int(v)
                    u = v - k
                    row[k, 0] += 1.0
                    row[k, 1] += u
                    row[k, 2] += u * u
    total = np.zeros((n_pairs, n_bins, 3))
    for b in range(n_blocks):
        total += out[b]
    return total


def bin_moments(positions: np.ndarray, group: np.ndarray, n_groups: int, bin_width: float, n_bins: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Count, mean distance [Å] and distance variance [Å²] of the pairs i < j in each bin, per group pair.

    Parameters
    ----------
    positions : (N, 3) ndarray
        [Å].
    group : (N,) ndarray of int
        Group 0..G-1 of each atom.
    n_groups : int
        G.
    bin_width : float
        [Å].
    n_bins : int
        Bins (> largest distance / ``bin_width``).

    Returns
    -------
    counts, mean_r, var_r : (P, n_bins) ndarrays
        P = G(G+1)/2 group pairs in the order (0,0), (0,1), ..., (1,1), ...
    """
    order = np.argsort(group, kind="stable")
    pos = positions[order] - positions.mean(axis=0)
    grp = np.ascontiguousarray(group[order], dtype=np.int64)
    start = np.searchsorted(grp, np.arange(n_groups + 1)).astype(np.int64)
    pair_index = np.zeros((n_groups, n_groups), dtype=np.int64)
    p = 0
    for a in range(n_groups):
        for b in range(a, n_groups):
            pair_index[a, b] = pair_index[b, a] = p
            p += 1
    n = len(pos)
    cum = np.cumsum(np.arange(n - 1, -1, -1, dtype=np.float64))
    blocks = numba.get_num_threads()
    row_start = np.searchsorted(cum, np.linspace(0, cum[-1], blocks + 1)[1:-1])
    row_start = np.unique(np.concatenate([[0], row_start, [n]])).astype(np.int64)
    x, y, z = (np.ascontiguousarray(pos[:, k], dtype=np.float32) for k in range(3))
    m = _moment_kernel(x, y, z, grp, start, pair_index, 1.0 / bin_width, int(n_bins), row_start)
    counts = m[..., 0]
    safe = np.maximum(counts, 1.0)
    mu = m[..., 1] / safe
    mean_r = np.where(counts > 0, (np.arange(n_bins)[None, :] + mu) * bin_width, 0.0)
    var_r = np.where(counts > 0, np.maximum(m[..., 2] / safe - mu * mu, 0.0) * bin_width**2, 0.0)
    return counts, mean_r, var_r


@numba.njit(parallel=True, fastmath=False, cache=True)
def _sinc_kernel(counts, mean_r, var_r, q, uniform, chunks):  # pragma: no cover - numba
    n_rows, n_bins = counts.shape
    n_q = len(q)
    part = np.zeros((n_rows * chunks, n_q))
    dq = q[1] - q[0] if n_q > 1 else 0.0
    for t in numba.prange(n_rows * chunks):
        p = t // chunks
        c = t % chunks
        acc = part[t]
        for b in range(c * n_bins // chunks, (c + 1) * n_bins // chunks):
            n = counts[p, b]
            if n == 0.0:
                continue
            r = mean_r[p, b]
            half_var = 0.5 * var_r[p, b]
            cr, sr = np.cos(q[0] * r), np.sin(q[0] * r)
            cd, sd = np.cos(dq * r), np.sin(dq * r)
            for k in range(n_q):
                if not uniform:
                    cr, sr = np.cos(q[k] * r), np.sin(q[k] * r)
                x = q[k] * r
                if x < 1e-2:
                    sinc = 1.0 - x * x / 6.0
                    d2 = -1.0 / 3.0 + x * x / 10.0
                else:
                    inv = 1.0 / x
                    sinc = sr * inv
                    d2 = -sinc + 2.0 * (sinc - cr) * inv * inv
                acc[k] += n * (sinc + half_var * q[k] * q[k] * d2)
                cr, sr = cr * cd - sr * sd, sr * cd + cr * sd
    out = np.zeros((n_rows, n_q))
    for t in range(n_rows * chunks):
        out[t // chunks] += part[t]
    return out


def sinc_sums(counts: np.ndarray, mean_r: np.ndarray, var_r: np.ndarray, s: np.ndarray) -> np.ndarray:
    """S_p(s) = Σ_bins n [sinc(q r̄) + ½ q² σ² sinc''(q r̄)], q = 2πs, per histogram row, shape (P, n_s).

    Parameters
    ----------
    counts, mean_r, var_r : (P, B) ndarrays
        Pairs, mean distance [Å] and distance variance [Å²] of each bin (see :func:`bin_moments`).
    s : (n_s,) ndarray
        [Å⁻¹]; a uniform grid is summed by rotation (no sin/cos per point).
    """
    q = 2.0 * np.pi * np.ascontiguousarray(s, dtype=np.float64)
    uniform = bool(len(q) > 2 and np.allclose(np.diff(q), q[1] - q[0], rtol=1e-9, atol=0.0))
    return _sinc_kernel(np.ascontiguousarray(counts, dtype=np.float64), np.ascontiguousarray(mean_r, dtype=np.float64),
                        np.ascontiguousarray(var_r, dtype=np.float64), q, uniform,
                        max(1, 2 * numba.get_num_threads() // max(1, len(counts))))
