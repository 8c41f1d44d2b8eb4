"""Scan combination: normalisation, outlier frames and points, standard errors, reference."""

import numpy as np
import pytest

from uedflow.errors import InputError
from uedflow.reduce.combine import combine_scans, frame_totals

S = np.linspace(0.1, 0.6, 120)
DELAYS = np.array([-3.0, -1.0, 0.5, 2.0, 10.0])


def _profile(delay):
    drop = 0.0 if delay < 0 else 0.04 * (1 - np.exp(-delay / 2.0))
    return 50 * np.exp(-S / 0.3) + 400 * (1 - drop) * np.exp(-0.5 * ((S - 0.33) / 0.01) ** 2)


def _frames(rng, n_scans=6, noise=0.5):
    scan, delay, prof, gain = [], [], [], []
    for sc in range(1, n_scans + 1):
        for d in DELAYS:
            g = rng.uniform(0.7, 1.3)  # beam current drifts from frame to frame
            scan.append(sc)
            delay.append(d)
            gain.append(g)
            prof.append(g * (_profile(d) + rng.normal(0, noise, S.size)))
    prof = np.array(prof)
    var = np.full_like(prof, noise**2) * np.array(gain)[:, None] ** 2
    return np.array(scan), np.array(delay), prof, var, np.array(gain)


def test_normalisation_average_and_reference():
    rng = np.random.default_rng(2)
    scan, delay, prof, var, gain = _frames(rng)
    totals = frame_totals(prof, S)
    res = combine_scans(prof, var, scan, delay, S, totals=totals)
    # weights follow the beam-current gain (up to the common median scale)
    w = res.frame_weight[scan - 1, np.searchsorted(DELAYS, delay)]
    expected = gain * np.array([_profile(d).sum() for d in delay])  # gain x true total counts
    np.testing.assert_allclose(w / expected, np.median(w / expected), rtol=5e-3)  # noise on totals ~0.1 %
    # each frame is scaled to the median total: I / (T_i / median T) with T_i = gain_i * sum(profile)
    truth = np.array([_profile(d) / _profile(d).sum() for d in DELAYS]) * np.median(totals)
    scale = np.median(totals) / _profile(-1.0).sum()
    # σ is the frames' noise over sqrt(6) (their scatter shows no excess): (mean - truth)/σ is N(0, 1)
    z = (res.intensity - truth) / res.intensity_sigma
    assert np.mean(np.abs(z) < 4) > 0.99 and 0.92 < np.mean(np.abs(z) < 2) < 0.98
    assert np.median(res.intensity_sigma) == pytest.approx(0.5 / np.sqrt(6) * scale, rel=0.3)
    np.testing.assert_allclose(res.reference, np.nanmean(res.intensity[:2], axis=0))
    np.testing.assert_allclose(res.differential, res.intensity - res.reference)
    assert res.intensity_scan.shape == (6, 5, S.size) and not res.frame_rejected.any()


def test_arcing_frame_and_outlier_point_are_rejected():
    rng = np.random.default_rng(4)
    scan, delay, prof, var, _ = _frames(rng)
    burst = (scan == 3) & (delay == 2.0)
    prof[burst] += 60 * np.exp(-0.5 * ((S - 0.45) / 0.03) ** 2)  # arcing: a broad bright burst in one frame
    spike = (scan == 5) & (delay == -1.0)
    prof[spike, 70] += 40.0  # one bad point
    res = combine_scans(prof, var, scan, delay, S, totals=frame_totals(prof, S, window=(0.1, 0.3)))
    assert res.frame_rejected.sum() == 1 and res.frame_rejected[2, 3]
    assert not res.frame_burst.any()  # rejected as an outlier against the other scans (reduced.h5 reason 2)
    _, _, clean_prof, clean_var, _ = _frames(np.random.default_rng(4))  # the same frames without defects
    clean = combine_scans(clean_prof, clean_var, scan, delay, S, totals=frame_totals(clean_prof, S, window=(0.1, 0.3)))
    # with the burst rejected the delay-2 ps profile equals the clean one to within its error
    assert np.nanmax(np.abs(res.intensity[3] - clean.intensity[3]) / clean.intensity_sigma[3]) < 3
    assert res.n_points_rejected >= 1
    assert abs(res.intensity[1, 70] - clean.intensity[1, 70]) < 3 * clean.intensity_sigma[1, 70]


def test_errors():
    rng = np.random.default_rng(0)
    scan, delay, prof, var, _ = _frames(rng, n_scans=2)
    with pytest.raises(InputError, match="no delay before time zero"):
        combine_scans(prof, var, scan, delay, S, totals=frame_totals(prof, S), time_zero_ps=-5.0)
    bad = frame_totals(prof, S)
    bad[3] = 0.0
    with pytest.raises(InputError, match="counts in the normalisation window"):
        combine_scans(prof, var, scan, delay, S, totals=bad)
    with pytest.raises(InputError, match="contains no s bin"):
        frame_totals(prof, S, window=(2.0, 3.0))


def test_single_scan_uses_poisson_sigma():
    rng = np.random.default_rng(9)
    scan, delay, prof, var, _ = _frames(rng, n_scans=1)
    res = combine_scans(prof, var, scan, delay, S, totals=frame_totals(prof, S))
    np.testing.assert_allclose(res.intensity_sigma, res.intensity_scan_sigma[0])


def test_one_scan_burst_and_saturation_are_dropped_but_a_sharp_step_is_kept():
    """One scan: each frame is checked against the median of its neighbouring delays (a monotone step passes)."""
    rng = np.random.default_rng(11)
    delays = np.array([-4.0, -2.0, -1.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0])
    counts = np.full(S.size, 400.0)
    truth = np.array([_profile(d) * (1 - 0.3 * (d > 0)) for d in delays])  # a 30 % drop at time zero
    var = truth / counts  # Poisson variance of a bin mean
    prof = truth + rng.normal(0, np.sqrt(var))
    clean = combine_scans(prof, var, np.zeros(10), delays, S, totals=(prof * counts).sum(1), counts=counts)
    assert clean.n_points_rejected == 0 and not clean.frame_rejected.any()
    spoiled = prof.copy()
    spoiled[5, 40:70] += 30.0  # burst in one frame
    spoiled[7, 20:30] = np.nan  # saturated in one frame (NaN from the pass), total NaN
    totals = np.nansum(spoiled * counts, axis=1)
    totals[7] = np.nan
    res = combine_scans(spoiled, var, np.zeros(10), delays, S, totals=totals, counts=counts)
    assert not res.frame_rejected.any()
    assert np.isnan(res.intensity[5, 40:70]).all() and np.isnan(res.intensity[7, 20:30]).all()
    keep = np.isfinite(res.intensity)
    assert keep.sum() > 0.9 * keep.size
    pull = (res.intensity - clean.intensity)[keep] / clean.intensity_sigma[keep]
    assert np.max(np.abs(pull)) < 4  # the rescaled frames agree with the clean ones
    res = combine_scans(np.where(np.arange(10)[:, None] == 3, np.nan, prof), var, np.zeros(10), delays, S,
                        totals=np.where(np.arange(10) == 3, np.nan, (prof * counts).sum(1)), counts=counts)
    assert res.frame_rejected[0].tolist() == [False, False, False, True] + [False] * 6  # a saturated frame
    assert res.frame_burst[0].tolist() == res.frame_rejected[0].tolist()  # reduced.h5 reason 1: saturation/burst


@pytest.mark.parametrize("n_scans", [2, 3])
def test_sigma_of_few_scans_is_the_detector_noise_not_their_scatter(n_scans):
    """With 2 or 3 scans the scatter of each bin over scans has 1 or 2 degrees of freedom: used as σ it is below a
    tenth of the true σ in ~8 % (2 scans) of the bins, so (mean − truth)/σ has Cauchy-like tails."""
    rng = np.random.default_rng(7)
    scan, delay, prof, var, _ = _frames(rng, n_scans=n_scans)
    totals = frame_totals(prof, S)
    res = combine_scans(prof, var, scan, delay, S, totals=totals)
    truth = np.array([_profile(d) / _profile(d).sum() for d in DELAYS]) * np.median(totals)
    z = ((res.intensity - truth) / res.intensity_sigma).ravel()
    # the scatter-based σ of the same data: the tails it gives
    spread = np.nanstd(res.intensity_scan, axis=0, ddof=1) / np.sqrt(n_scans)
    z_scatter = ((res.intensity - truth) / spread).ravel()
    print(n_scans, "scans: |z| > 4 with the detector σ", np.mean(np.abs(z) > 4), "with the scatter",
          np.mean(np.abs(z_scatter) > 4))
    assert np.mean(np.abs(z) > 4) < 0.002 and 0.9 < np.std(z) < 1.1
    assert np.mean(np.abs(z_scatter) > 4) > 0.02


def test_excess_scan_scatter_scales_sigma():
    """Frames noisier than their stated variance (beam fluctuations the detector model does not hold): σ follows the
    measured scatter, pooled over 32 s bins."""
    rng = np.random.default_rng(8)
    scan, delay, prof, var, gain = _frames(rng, n_scans=4, noise=1.0)
    res = combine_scans(prof, var / 4.0, scan, delay, S, totals=frame_totals(prof, S))  # stated σ half the true
    truth = np.array([_profile(d) / _profile(d).sum() for d in DELAYS]) * np.median(frame_totals(prof, S))
    z = (res.intensity - truth) / res.intensity_sigma
    assert 0.8 < np.std(z) < 1.25

