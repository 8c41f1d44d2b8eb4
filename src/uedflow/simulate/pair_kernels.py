"""Numba kernels of the Debye pair sum: pair-distance moments per bin, and their sinc sums.

Binning. Atoms are sorted by group, so for an atom i the partners j > i of one
group are contiguous and fill one histogram row. Distances to the partners are
computed in vectorised single-precision chunks of :data:`_CHUNK`, from
coordinates about the centre of the model in units of the bin width w (scaled in
double precision: no scale error; |error| < 1e-7 × extent, 1e-5 Å for a 100 Å
model). Each pair falls in bin k = ⌊r/w⌋ at u = r/w − k ∈ [0, 1) and adds one 64-bit
integer word to its bin: the count (bits 52–63), rint(65536 u) (bits 24–51) and
rint(4096 u²) (bits 0–23), so the scattered part of the loop is one integer add
per pair (~2e9 pairs/s on 2 cores). Rounding half to even keeps the quantisation
unbiased; it changes a pair's term by at most q w/131072 + ½ (q w)²/8192
(1.3e-5 at q = 10 Å⁻¹, w = 0.04 Å), with random signs. The words of a window
of rows are unpacked into double-precision moments before a bin holds 2^12
pairs. An overflow is detected exactly: a bin with fewer than 2^12 pairs unpacks
exactly (no field can carry), one with more unpacks a count below its true
count (the 12-bit field wraps), so the unpacked counts fall short of the pairs
of the window; the window is then redone with half the rows (a single row in
pieces of fewer than 2^12 pairs). Rows of atoms are split into blocks of equal
pair counts, one per thread.

Sums. On a uniform q grid the sum over a bin of centre c is expanded in the
distances δ = r − c about the centre, to fourth order:

.. math:: \\sum_{pairs} \\frac{e^{iqr}}{r} = \\frac{e^{iqc}}{c} \\sum_{pairs}
          \\frac{e^{iq\\delta}}{1 + \\delta/c}
          = e^{iqc} \\sum_{l=0}^{4} \\frac{(iq)^l}{l!} \\sum_{m=l}^{4} \\frac{(-1)^{m-l} P_m}{c^{m-l+1}} + R,

with P_m = Σ δ^m from the bin's count n, mean offset d = r̄ − c and variance σ²,
closed as for a symmetric spread of Gaussian kurtosis: P_3 = n(d³ + 3dσ²),
P_4 = n(d⁴ + 6d²σ² + 3σ⁴); Σ sinc(q r) = Im(·)/q. The five sums over bins,
Σ_b A_b e^{iqc_b} on uniform bins c_b and uniform q, are chirp-z transforms
(Bluestein: three FFTs), O((B + n_q) log(B + n_q)) instead of O(B n_q).

Error. (1) The closure: q³ n μ₃/6 times the third derivative of sinc at q r̄,
from each bin's third central moment μ₃ (the error of a second-order expansion
about the bin mean; zero for a single distance or a symmetric spread), plus
q⁴ n (μ₄ − 3σ⁴)/24. (2) The truncation R: per pair at most
1.1 (q|δ|)⁵/120 (1 + 5/x + 20/x² + 60/x³ + 120/x⁴ + 120/x⁵)/x of the sinc term,
x = qc (2.7e-6/x for |δ| = w/2 = 0.02 Å at q = 10 Å⁻¹). (3) The quantisation
above. Measured against float64 sums on the 1000-point grid q = 1..10 Å⁻¹ with
w = 0.04 Å, the maximum relative error of I(q) is 2.4e-5 to 3.1e-5 for thermal
MoS2 spheres of 3k–20k atoms (σ = 0.07 Å, benchmarks/bench_debye.py), 1.8e-4
for the undisplaced 3k sphere and ≤ 2.2e-5 for 400–460-atom models, thermal or
undisplaced (tests); it grows as ~w³ (5e-4 at w = 0.08 Å on the thermal
spheres).

Bins with c < :data:`_NEAR_BINS` w (where 1/(1 + δ/c) converges slowly) and
non-uniform grids are summed bin by bin, to second order about each bin's mean
distance:

.. math:: \\sum_{pairs} \\operatorname{sinc}(q r) = n \\left[\\operatorname{sinc}(q\\bar r)
          + \\tfrac12 q^2 \\sigma^2 \\operatorname{sinc}''(q\\bar r)\\right] + O(n\\, q^3 \\mu_3)

(sinc x = sin x / x, q = 2πs [Å⁻¹]).
"""

from __future__ import annotations

import numba
import numpy as np
import scipy.fft as sfft

__all__ = ["bin_moments", "sinc_sums"]

#: Partners per vectorised chunk of a row (the chunk's bins and words stay in L1).
_CHUNK = 512
#: Bit offsets and scales of the packed word: count << 52 | round(65536 u) << 24 | round(4096 u²).
_COUNT_SHIFT, _U_SHIFT, _U_SCALE, _U2_SCALE = 52, 24, 65536.0, 4096.0
#: A bin holds fewer pairs than this between two unpackings (the 12-bit count field).
_CAPACITY = 1 << 12
#: Bins whose centre lies below this many bin widths are summed directly (not by chirp-z).
_NEAR_BINS = 32


@numba.njit(cache=True)  # IEEE arithmetic (no fastmath): u = v - k must not be reassociated
def _accumulate(x, y, z, group, start, pair_index, i0, i1, j_lo, j_hi, packed, kbuf, wbuf):  # pragma: no cover
    """Add the words of the pairs (i, j), i0 <= i < i1, max(i + 1, j_lo) <= j < j_hi, to ``packed``; the pair count.

    x, y, z are in units of the bin width.
    """
    n_groups = len(start) - 1
    w32 = wbuf.view(np.uint32)  # the words as little-endian 32-bit halves: 16 pairs per 512-bit vector
    n_added = 0
    for i in range(i0, i1):
        xi, yi, zi = x[i], y[i], z[i]
        gi = group[i]
        for gj in range(gi, n_groups):
            row = packed[pair_index[gi, gj]]
            for c0 in range(max(i + 1, start[gj], j_lo), min(start[gj + 1], j_hi), _CHUNK):
                m = min(_CHUNK, min(start[gj + 1], j_hi) - c0)
                xs, ys, zs = x[c0:], y[c0:], z[c0:]
                for jj in range(m):  # vectorised (offsets from 0: no gathers)
                    dx = xs[jj] - xi
                    dy = ys[jj] - yi
                    dz = zs[jj] - zi
                    v = np.sqrt(dx * dx + dy * dy + dz * dz)
                    k = np.int32(v)
                    u = v - np.float32(k)
                    a = np.uint32(np.int32(np.rint(u * np.float32(_U_SCALE))))  # half to even: unbiased
                    a2 = np.uint32(np.int32(np.rint(u * u * np.float32(_U2_SCALE))))
                    kbuf[jj] = np.uint32(k)
                    w32[2 * jj] = (a << np.uint32(_U_SHIFT)) + a2  # low half (a2 < 2^24: no carry)
                    w32[2 * jj + 1] = (a >> np.uint32(32 - _U_SHIFT)) + np.uint32(1 << (_COUNT_SHIFT - 32))
                for jj in range(m):
                    row[kbuf[jj]] += wbuf[jj]
                n_added += m
    return n_added


@numba.njit(cache=True)
def _unpack(packed, moments, n_added):  # pragma: no cover - numba
    """Add ``packed`` to the (count, Σu, Σu²) ``moments`` and clear it; False (nothing added) if a count wrapped."""
    n_rows, n_bins = packed.shape
    total = 0
    for p in range(n_rows):
        for b in range(n_bins):
            total += np.int64(packed[p, b] >> np.uint64(_COUNT_SHIFT))
    ok = total == n_added
    u_mask = (np.uint64(1) << np.uint64(_COUNT_SHIFT - _U_SHIFT)) - np.uint64(1)
    u2_mask = (np.uint64(1) << np.uint64(_U_SHIFT)) - np.uint64(1)
    for p in range(n_rows):
        for b in range(n_bins):
            word = packed[p, b]
            if ok and word != 0:
                moments[p, b, 0] += np.float64(word >> np.uint64(_COUNT_SHIFT))
                moments[p, b, 1] += np.float64((word >> np.uint64(_U_SHIFT)) & u_mask) / _U_SCALE
                moments[p, b, 2] += np.float64(word & u2_mask) / _U2_SCALE
            packed[p, b] = 0
    return ok


@numba.njit(parallel=True, cache=True)
def _moment_kernel(x, y, z, group, start, pair_index, n_bins, row_start, window):  # pragma: no cover
    n = x.shape[0]
    n_groups = len(start) - 1
    n_blocks = len(row_start) - 1
    n_pairs = n_groups * (n_groups + 1) // 2
    out = np.zeros((n_blocks, n_pairs, n_bins, 3))
    for b in numba.prange(n_blocks):
        packed = np.zeros((n_pairs, n_bins), dtype=np.uint64)
        kbuf = np.empty(_CHUNK, dtype=np.uint32)
        wbuf = np.empty(_CHUNK, dtype=np.uint64)
        i0, rows = row_start[b], window
        while i0 < row_start[b + 1]:
            i1 = min(i0 + rows, row_start[b + 1])
            added = _accumulate(x, y, z, group, start, pair_index, i0, i1, 0, n, packed, kbuf, wbuf)
            if _unpack(packed, out[b], added):
                i0 = i1
            elif i1 - i0 > 1:  # a bin overflowed: redo with half the rows (from here on)
                rows = (i1 - i0) // 2
            else:  # one row overflowed a bin: redo it in pieces of fewer than 2^12 pairs
                for j0 in range(i0 + 1, n, _CAPACITY - 1):
                    added = _accumulate(x, y, z, group, start, pair_index, i0, i1, j0,
                                        min(j0 + _CAPACITY - 1, n), packed, kbuf, wbuf)
                    _unpack(packed, out[b], added)
                i0 = i1
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
        w [Å]; bin k holds the distances [k w, (k + 1) w).
    n_bins : int
        Bins (> largest distance / ``bin_width``).

    Returns
    -------
    counts, mean_r, var_r : (P, n_bins) ndarrays
        P = G(G+1)/2 group pairs in the order (0,0), (0,1), ..., (1,1), ...
    """
    order = np.argsort(group, kind="stable")
    pos = (positions[order] - positions.mean(axis=0)) / bin_width
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
    # rows per unpacking: a bin then holds ~2^11 pairs if the densest bin has 2x the mean n/n_bins per row
    window = max(1, (_CAPACITY // 4) * int(n_bins) // n)
    x, y, z = (np.ascontiguousarray(pos[:, k], dtype=np.float32) for k in range(3))
    m = _moment_kernel(x, y, z, grp, start, pair_index, int(n_bins), row_start, window)
    counts = m[..., 0]
    safe = np.maximum(counts, 1.0)
    mu = m[..., 1] / safe
    mean_r = np.where(counts > 0, (np.arange(n_bins)[None, :] + mu) * bin_width, 0.0)
    var_r = np.where(counts > 0, np.maximum(m[..., 2] / safe - mu * mu, 0.0) * bin_width**2, 0.0)
    return counts, mean_r, var_r


@numba.njit(parallel=True, fastmath=False, cache=True)
def _sinc_kernel(counts, mean_r, var_r, q, chunks):  # pragma: no cover - numba
    n_rows, n_bins = counts.shape
    n_q = len(q)
    part = np.zeros((n_rows * chunks, n_q))
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
            for k in range(n_q):
                x = q[k] * r
                if x < 1e-2:
                    sinc = 1.0 - x * x / 6.0
                    d2 = -1.0 / 3.0 + x * x / 10.0
                else:
                    inv = 1.0 / x
                    sinc = np.sin(x) * inv
                    d2 = -sinc + 2.0 * (sinc - np.cos(x)) * inv * inv
                acc[k] += n * (sinc + half_var * q[k] * q[k] * d2)
    out = np.zeros((n_rows, n_q))
    for t in range(n_rows * chunks):
        out[t // chunks] += part[t]
    return out


def _direct_sums(counts: np.ndarray, mean_r: np.ndarray, var_r: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Σ_bins n [sinc(q r̄) + ½ q² σ² sinc''(q r̄)] per row, bin by bin (non-empty bins only)."""
    cols = np.nonzero(counts.any(axis=0))[0]
    if len(cols) == 0:
        return np.zeros((len(counts), len(q)))
    take = (np.ascontiguousarray(a[:, cols], dtype=np.float64) for a in (counts, mean_r, var_r))
    return _sinc_kernel(*take, q, max(1, 2 * numba.get_num_threads() // max(1, len(counts))))


def _chirp_z(x: np.ndarray, m: int, theta: float, phi: float) -> np.ndarray:
    """X_k = Σ_n x_n e^{i(φ + θk) n}, k < m, per row of x: Bluestein's chirp-z transform, nk = (n² + k² - (k - n)²)/2."""
    n = x.shape[-1]
    size = sfft.next_fast_len(n + m - 1)
    j = np.arange(max(n, m), dtype=np.float64)
    chirp = np.exp(0.5j * theta * j * j)
    kernel = np.zeros(size, dtype=complex)
    kernel[:m] = np.conj(chirp[:m])
    kernel[size - n + 1:] = np.conj(chirp[1:n][::-1])
    a = sfft.fft(x * np.exp(1j * (phi + 0.5 * theta * j[:n]) * j[:n]), size)
    return sfft.ifft(a * sfft.fft(kernel))[..., :m] * chirp[:m]


def _chirp_sums(counts: np.ndarray, mean_r: np.ndarray, var_r: np.ndarray, q: np.ndarray, w: float) -> np.ndarray:
    """Σ_pairs sinc(q r) per row on a uniform q grid: fourth-order expansion about the bin centres, by chirp-z."""
    n_rows, n_bins = counts.shape
    near = min(_NEAR_BINS, n_bins)
    out = _direct_sums(counts[:, :near], mean_r[:, :near], var_r[:, :near], q)
    if near == n_bins:
        return out
    c = (np.arange(near, n_bins) + 0.5) * w
    n = counts[:, near:]
    d = np.where(n > 0, mean_r[:, near:] - c, 0.0)
    var = var_r[:, near:]
    # P_m = Σ δ^m about the centre: δ = d + ξ, ξ of mean 0, variance σ², no skew and Gaussian kurtosis
    p = [n, n * d, n * (d * d + var), n * d * (d * d + 3 * var), n * (d**4 + 6 * d * d * var + 3 * var * var)]
    # A_l = Σ_{m>=l} (-1/c)^(m-l) P_m / c, the coefficient of (iq)^l / l! in Σ e^{iqδ} / (c + δ): A_l = (P_l - A_l+1) / c
    a = [p[-1] / c]
    for pm in p[-2::-1]:
        a.insert(0, (pm - a[0]) / c)
    weights = np.concatenate(a)
    dq = q[1] - q[0]
    f = _chirp_z(weights, len(q), dq * w, q[0] * w).reshape(len(p), n_rows, len(q))
    series = f[-1]
    for k in range(len(p) - 2, -1, -1):  # Σ_l (iq)^l / l! F_l by Horner
        series = f[k] + (1j * q / (k + 1)) * series
    series *= np.exp(1j * q * c[0])
    zero = q == 0.0
    return out + np.where(zero, n.sum(axis=1)[:, None], np.imag(series) / np.where(zero, 1.0, q))


def sinc_sums(counts: np.ndarray, mean_r: np.ndarray, var_r: np.ndarray, s: np.ndarray, bin_width: float = 0.0
              ) -> np.ndarray:
    """S_p(s) = Σ_pairs sinc(q r) per histogram row from the bin moments, q = 2πs, shape (P, n_s).

    Parameters
    ----------
    counts, mean_r, var_r : (P, B) ndarrays
        Pairs, mean distance [Å] and distance variance [Å²] of each bin (see :func:`bin_moments`).
    s : (n_s,) ndarray
        [Å⁻¹].
    bin_width : float
        w [Å] of bins k = [k w, (k + 1) w) (as from :func:`bin_moments`): on a uniform grid the sums are then
        chirp-z transforms of moments about the bin centres. 0: any bins, summed bin by bin about their means.
    """
    q = 2.0 * np.pi * np.ascontiguousarray(s, dtype=np.float64)
    uniform = bool(len(q) > 2 and np.allclose(np.diff(q), q[1] - q[0], rtol=1e-9, atol=0.0) and q[1] > q[0])
    if uniform and bin_width > 0 and q[0] >= 0:
        return _chirp_sums(np.asarray(counts, dtype=float), np.asarray(mean_r, dtype=float),
                           np.asarray(var_r, dtype=float), q, float(bin_width))
    return _direct_sums(counts, mean_r, var_r, q)
