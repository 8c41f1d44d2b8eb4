"""Compiled scan combination: order statistics equal numpy's, the burst closing equals scipy's, and single-scan
bursts at the first and last delay are caught (they used to be their own running median)."""

import numpy as np
import pytest
from scipy.ndimage import binary_closing

from uedflow.reduce._order import kth_of_runs, median, percentile, percentile_split, select, sorted_mad, sorted_median
from uedflow.reduce.combine import _close_gaps, _running_median, _sorted_columns, combine_scans


def _samples(rng):
    """Random, tie-heavy, constant and infinite-valued samples of several lengths."""
    for n in (1, 2, 3, 4, 7, 50, 251, 600):
        yield rng.normal(size=n)
        yield rng.integers(0, 4, n).astype(float)
        yield np.full(n, 2.5)
        x = rng.normal(size=n)
        x[rng.random(n) < 0.1] = np.inf
        yield x


def test_order_statistics_equal_numpy():
    rng = np.random.default_rng(0)
    for x in _samples(rng):
        n = len(x)
        buf = x.copy()
        k = int(rng.integers(0, n))
        assert select(buf, n, k) == np.sort(x)[k]
        assert np.all(buf[:k] <= buf[k]) and np.all(buf[k + 1:] >= buf[k])
        assert median(x.copy(), n) == np.median(x)
        run = np.sort(x)
        m = sorted_median(run, n)
        assert m == np.median(x)
        with np.errstate(invalid="ignore"):  # inf - inf in numpy's interpolation and deviations, as in ours
            for q in (50.0, 90.0, 37.5):
                np.testing.assert_array_equal(percentile(x.copy(), n, q), np.percentile(x, q))
                for guess in (np.median(x), x[0], -np.inf, np.inf):  # good, poor and useless splits
                    low, high = x[x < guess], x[x >= guess]
                    np.testing.assert_array_equal(percentile_split(low.copy(), len(low), high.copy(), len(high), q),
                                                  np.percentile(x, q))
            if np.isfinite(m):  # (an infinite median has NaN deviations: not a case the reduction meets)
                assert sorted_mad(run, n, m) == np.median(np.abs(x - m))
    assert np.isnan(median(np.empty(1), 0)) and np.isnan(sorted_median(np.empty(1), 0))


def test_kth_of_runs_equals_the_merged_order():
    rng = np.random.default_rng(1)
    for _ in range(200):
        lengths = rng.integers(0, 8, rng.integers(1, 6))
        runs = [np.sort(rng.integers(0, 5, n).astype(float) if rng.random() < 0.5 else rng.normal(size=n))
                for n in lengths]
        if lengths.sum() == 0:
            continue
        repeat = rng.integers(0, len(runs), 2)  # a run listed again (a replicated edge delay)
        order = list(range(len(runs))) + list(repeat)
        values = np.concatenate(runs + [np.zeros(1)])
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        starts = offsets[order].astype(np.int64)
        lens = lengths[order].astype(np.int64)
        merged = np.sort(np.concatenate([runs[i] for i in order]))
        k = int(rng.integers(0, len(merged)))
        first, second = kth_of_runs(values, starts, lens, k, np.empty(len(order), np.int64))
        assert first == merged[k] and second == (merged[k + 1] if k + 1 < len(merged) else np.inf)


def test_running_median_equals_numpy_on_the_replicated_pool():
    rng = np.random.default_rng(2)
    cube = rng.normal(size=(4, 9, 30))
    cube[rng.random(cube.shape) < 0.1] = np.nan
    cube[:, :, 5] = np.nan  # an empty bin
    med = np.empty(cube.shape[1:])
    _running_median(*_sorted_columns(cube, np.ones(cube.shape[:2])), 2, med)
    padded = np.concatenate([cube[:, :1], cube[:, :1], cube, cube[:, -1:], cube[:, -1:]], axis=1)
    pool = np.concatenate([padded[:, j:j + cube.shape[1]] for j in range(5)])
    with np.errstate(invalid="ignore"), pytest.warns(RuntimeWarning, match="All-NaN"):
        expected = np.nanmedian(pool, axis=0)
    several = np.sum(np.isfinite(cube), axis=0) >= 2  # an edge delay with a lone frame uses its pool once
    several[1:-1] = True
    np.testing.assert_array_equal(med[several], expected[several])


def test_gap_closing_equals_scipy():
    rng = np.random.default_rng(3)
    for n, p in [(600, 0.02), (600, 0.2), (40, 0.1), (10, 0.3)]:
        for _ in range(50):
            fl = rng.random(n) < p
            has_data = rng.random(n) > 0.05
            out = np.empty(n, bool)
            _close_gaps(fl, has_data, 7, np.empty(n + 1, np.int64), np.empty(n, bool), out)
            expected = fl | binary_closing(fl, structure=np.ones(15, bool))
            expected[1:] |= expected[:-1].copy()
            expected[:-1] |= expected[1:].copy()
            np.testing.assert_array_equal(out, expected & has_data)


# one scan of a small powder detector: 1-pixel bins around the centre, a ring that loses 10 % after time zero
SIDE = 160
DELAYS = np.array([-4.0, -2.0, -1.0, 0.5, 1.0, 2.0, 4.0, 8.0])
_r = np.hypot(*(np.indices((SIDE, SIDE)) - SIDE / 2))
BIN = np.minimum(_r.astype(int), SIDE // 2)  # the corners go to one dropped overflow bin
COUNTS = np.bincount(BIN.ravel())[:-1].astype(float)


def _image(delay):
    ring = 300 * np.exp(-0.5 * ((_r - 40) / 3) ** 2) * (0.9 if delay > 0 else 1.0)
    return 60 * np.exp(-_r / 50) + 20 + ring


def _profile(img):
    return np.bincount(BIN.ravel(), img.ravel())[:-1] / COUNTS


def _one_scan(rng, burst=False):
    """Bin-mean profiles of Poisson frames, their variance and totals; with a +3000-count 8x8-pixel burst
    (arcing) in the first and in the last frame."""
    prof, var = [], []
    excess = np.zeros((len(DELAYS), len(COUNTS)))
    for i, delay in enumerate(DELAYS):
        frame = rng.poisson(_image(delay)).astype(float)
        if burst and i in (0, len(DELAYS) - 1):
            block = np.zeros(frame.shape)
            block[100:108, 30:38] = 3000.0
            frame += block
            excess[i] = _profile(block)
        prof.append(_profile(frame))
        var.append(_profile(frame) / COUNTS)
    prof = np.array(prof)
    return prof, np.array(var), (prof * COUNTS).sum(axis=1), excess


def _combine(prof, var, totals):
    return combine_scans(prof, var, np.zeros(len(DELAYS)), DELAYS, np.arange(len(COUNTS)) * 0.01 + 0.05,
                         totals=totals, counts=COUNTS)


def test_single_scan_burst_at_first_and_last_delay_is_dropped():
    rng = np.random.default_rng(5)
    prof, var, totals, excess = _one_scan(rng, burst=True)
    res = _combine(prof, var, totals)
    truth = np.array([_profile(_image(d)) for d in DELAYS])
    truth_totals = (truth * COUNTS).sum(axis=1)
    for i in (0, len(DELAYS) - 1):
        sigma = np.sqrt(truth[i] / COUNTS)
        hit = excess[i] > 5 * sigma
        assert hit.sum() >= 8  # the burst spans several bins
        assert np.isnan(res.intensity[i, hit]).all()  # every bin the burst raised by > 5 σ is dropped
        assert not res.frame_rejected[0, i] and res.points_flagged[0, i] < 0.3 * len(COUNTS)
        # the kept bins, normalised with a total whose dropped bins come from the neighbours, match the truth
        expected = truth[i] * np.median(truth_totals) / truth_totals[i]
        kept = np.isfinite(res.intensity[i])
        pull = (res.intensity[i] - expected)[kept] / res.intensity_sigma[i, kept]
        assert np.max(np.abs(pull)) < 4.5 and np.mean(np.abs(pull) < 2) > 0.9
        weight = res.frame_weight[0, i] / (truth_totals[i] / np.median(truth_totals))
        assert weight == pytest.approx(1.0, abs=2e-3)  # ~2 σ of a total's Poisson noise and the filled bins


@pytest.mark.parametrize("seed", range(5))
def test_single_scan_without_burst_flags_nothing(seed):
    prof, var, totals, _ = _one_scan(np.random.default_rng(100 + seed))
    res = _combine(prof, var, totals)
    assert res.n_points_rejected == 0 and not res.frame_rejected.any()


@pytest.mark.parametrize("with_images", [True, False])
def test_diff_pattern_equals_the_numpy_formula(with_images):
    from uedflow.reduce.execute import PassResult
    from uedflow.reduce.pipeline import _diff_pattern

    rng = np.random.default_rng(7)
    shape = (40, 50)
    res = PassResult(np.zeros((1, 1)), np.zeros((1, 1)), np.ones(1), rng.uniform(1e3, 2e3, 2000),
                     rng.uniform(1e3, 2e3, 2000), 3.1e6, 4.7e6, 6, 9, np.full((1, 2), np.nan), np.ones(1))
    dark = rng.integers(0, 5, shape).astype(np.uint16) if with_images else None
    flat = rng.uniform(0.8, 1.2, shape) if with_images else None
    if with_images:
        flat[3, :7] = 0.0  # no response: NaN
    mask = rng.random(shape) > 0.1
    d = np.zeros(mask.size) if dark is None else dark.astype(float).ravel()
    diff = (((res.raw_after - 9 * d) / 4.7e6 - (res.raw_before - 6 * d) / 3.1e6) * 5.5e5).reshape(shape)
    if flat is not None:
        diff = diff / np.where(flat > 0, flat, np.nan)
    np.testing.assert_array_equal(_diff_pattern(res, dark, flat, 5.5e5, mask), np.where(mask, diff, np.nan))
