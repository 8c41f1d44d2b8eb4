"""Pair-distance moments and sinc sums against brute-force double-precision Debye sums."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import pdist

from uedflow.crystal import get_crystal
from uedflow.simulate.cell_cut import cut_crystal
from uedflow.simulate.debye import pair_histogram
from uedflow.simulate.pair_kernels import bin_moments, sinc_sums

#: Bin width [Å] and q grid [Å⁻¹] of the benchmark (benchmarks/bench_debye.py).
WIDTH = 0.04
Q = np.linspace(1.0, 10.0, 1000)


def _brute_pair_sums(pos: np.ndarray, group: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Σ_{i<j} sinc(q r_ij) per group pair (a <= b), in float64, shape (P, n_q)."""
    g = int(group.max()) + 1
    i, j = np.triu_indices(len(pos), 1)
    r = np.linalg.norm(pos[i] - pos[j], axis=1)
    a, b = np.minimum(group[i], group[j]), np.maximum(group[i], group[j])
    rows = []
    for ga in range(g):
        for gb in range(ga, g):
            sel = r[(a == ga) & (b == gb)]
            rows.append(np.sinc(np.outer(q, sel) / np.pi).sum(axis=1))
    return np.array(rows)


def _intensity(sums: np.ndarray, group: np.ndarray, b: np.ndarray) -> np.ndarray:
    """I = Σ_i b_i² + 2 Σ_(a<=b) b_a b_b S_ab for constant scattering lengths b per group."""
    g = len(b)
    pairs = np.array([(x, y) for x in range(g) for y in range(x, g)])
    return np.sum(b[group] ** 2) + 2.0 * (b[pairs[:, 0]] * b[pairs[:, 1]]) @ sums


@pytest.fixture(scope="module")
def models():
    """A thermal and an undisplaced MoS2 sphere, a random 3-species cluster (uniform density, 1.9 Å apart)."""
    rng = np.random.default_rng(11)
    nc = cut_crystal(get_crystal("MoS2"), 2.5, shape="sphere")
    mos2 = (nc.positions + 0.07 * rng.standard_normal(nc.positions.shape), nc.species.astype(np.int64))
    pts = rng.uniform(-12.0, 12.0, (4000, 3))
    pts = pts[np.linalg.norm(pts, axis=1) < 12.0]
    keep = [0]
    for k in range(1, len(pts)):
        if len(keep) < 400 and np.min(np.linalg.norm(pts[keep] - pts[k], axis=1)) > 1.9:
            keep.append(k)
    cluster = (pts[keep], rng.integers(0, 3, len(keep)))
    lattice = (nc.positions, nc.species.astype(np.int64))
    return {"MoS2 sphere": mos2, "3-species cluster": cluster, "undisplaced MoS2 sphere": lattice}


@pytest.mark.parametrize("name", ["MoS2 sphere", "3-species cluster", "undisplaced MoS2 sphere"])
def test_benchmark_settings_against_brute_force(models, name):
    """w = 0.04 Å on the 1000-point q = 1..10 Å⁻¹ grid: intensity within 1e-4 (the benchmark requires 1e-3).

    The undisplaced sphere has coherent shells (all distances of a shell at one offset from its bin centre): the
    fourth-order expansion with the bins' variances makes them exact to fifth order.
    """
    pos, group = models[name]
    assert 300 < len(pos) < 700
    b = np.array([6.715, 2.847, 5.8])[: group.max() + 1]
    ref_sums = _brute_pair_sums(pos, group, Q)
    hist = pair_histogram(pos, group, bin_width=WIDTH)
    ours = hist.pair_sums(Q / (2 * np.pi))
    ref = _intensity(ref_sums, group, b)
    err = np.max(np.abs(_intensity(ours, group, b) / ref - 1))
    print(name, len(pos), f"max relative error {err:.2e}")
    assert err < 1e-4
    # and each group pair's sum within 1e-4 of its pair count
    assert np.max(np.abs(ours - ref_sums) / hist.counts.sum(axis=1)[:, None]) < 1e-4


def test_direct_path_on_a_non_uniform_grid(models):
    """A non-uniform grid is summed bin by bin about the bin means (second order): same accuracy."""
    pos, group = models["3-species cluster"]
    q = np.sort(np.random.default_rng(2).uniform(0.0, 10.0, 300))
    counts, mean_r, var_r = bin_moments(pos, group, 3, WIDTH, 600)
    ours = sinc_sums(counts, mean_r, var_r, q / (2 * np.pi))
    b = np.array([6.715, 2.847, 5.8])
    ref = _intensity(_brute_pair_sums(pos, group, q), group, b)
    assert np.max(np.abs(_intensity(ours, group, b) / ref - 1)) < 1e-4


def _fifth_order_bound(q: np.ndarray, delta: float, c: float) -> np.ndarray:
    """|error| of one pair at δ = r - c from the bin centre c: 1.1 (q|δ|)⁵/120 (1 + 5/x + ... + 120/x⁵) / x, x = qc."""
    x = np.maximum(q * c, 1e-12)
    poly = 1 + 5 / x + 20 / x**2 + 60 / x**3 + 120 / x**4 + 120 / x**5
    return 1.1 * (q * abs(delta)) ** 5 / 120 * poly / x


def test_fifth_order_bound_per_pair():
    """One pair anywhere in its bin (a coherent shell, σ = 0): the expansion is exact to fourth order."""
    rng = np.random.default_rng(4)
    q = np.linspace(0.0, 10.0, 501)
    for r in np.concatenate([rng.uniform(0.3, 80.0, 60), [1.3 - 1e-9, 1.32, 2.0 * WIDTH - 1e-9]]):
        k = int(r / WIDTH)
        counts = np.zeros((1, k + 1))
        counts[0, k] = 1.0
        ours = sinc_sums(counts, counts * r, np.zeros_like(counts), q / (2 * np.pi), bin_width=WIDTH)[0]
        bound = _fifth_order_bound(q, r - (k + 0.5) * WIDTH, (k + 0.5) * WIDTH)
        if k < 32:  # near bins: about the pair's own distance, exact for one pair (series sinc below x = 0.01)
            bound = np.full_like(q, 1e-9)
        assert np.all(np.abs(ours - np.sinc(q * r / np.pi)) <= bound + 1e-12), r


def test_zero_q_and_grid_offsets():
    """q = 0 gives the pair count; a grid starting at 0 and one starting off the bin grid agree with brute force."""
    rng = np.random.default_rng(8)
    pos = rng.uniform(-8.0, 8.0, (150, 3))
    group = rng.integers(0, 2, 150)
    for q in (np.linspace(0.0, 6.0, 301), np.linspace(0.37, 9.1, 257)):
        hist = pair_histogram(pos, group, bin_width=0.02)
        ours = hist.pair_sums(q / (2 * np.pi))
        ref = _brute_pair_sums(pos, group, q)
        assert np.max(np.abs(ours - ref) / hist.counts.sum(axis=1)[:, None]) < 2e-5
    np.testing.assert_allclose(ours[:, 0] if q[0] == 0 else hist.pair_sums(np.array([0.0, 0.1, 0.2]))[:, 0],
                               hist.counts.sum(axis=1), rtol=1e-12)


@pytest.mark.parametrize(("sizes", "shared"), [((130, 130), 130 * 130), ((1, 4200), 4200)])
def test_packed_counts_overflow_is_redone(sizes, shared):
    """Atoms on two points: more than 2^12 pairs (the packed count) share one bin, over many rows (two clusters of
    130: the window of rows is halved) or within one row (1 + 4200 atoms: the row is redone in pieces)."""
    rng = np.random.default_rng(1)
    pos = np.repeat(np.array([[0.0, 0.0, 0.0], [3.0, 1.0, 0.5]]), sizes, axis=0)
    pos += 1e-4 * rng.standard_normal(pos.shape)
    n = len(pos)
    group = np.zeros(n, dtype=np.int64)
    counts, mean_r, var_r = bin_moments(pos, group, 1, WIDTH, 100)
    r = pdist(pos)
    np.testing.assert_array_equal(counts[0], np.bincount((r / WIDTH).astype(int), minlength=100))
    k = int(np.sqrt(9 + 1 + 0.25) / WIDTH)
    assert counts[0, k] == shared
    far = r[r > 1]
    assert abs(mean_r[0, k] - far.mean()) < 1e-5
    assert abs(var_r[0, k] - far.var()) < 1e-6
    q = np.linspace(1.0, 10.0, 200)
    ours = sinc_sums(counts, mean_r, var_r, q / (2 * np.pi), bin_width=WIDTH)[0]
    near = r[r <= 1]
    exact = np.sinc(np.outer(q, far) / np.pi).sum(axis=1) + np.sinc(np.outer(q, near[:: max(1, len(near) // 1000)])
                                                                    / np.pi).mean(axis=1) * len(near)
    bound = shared * _fifth_order_bound(q, far.mean() - (k + 0.5) * WIDTH, (k + 0.5) * WIDTH)  # one shell
    quantisation = len(r) * (0.5 * (q * WIDTH) ** 2 / 8192 + q * WIDTH / 131072)  # per pair: u² and u rounding
    assert np.all(np.abs(ours - exact) <= bound + quantisation)
