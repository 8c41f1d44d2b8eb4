"""Detector gain and read noise estimated from the frames, on gain-noise frames with a known truth."""

import numpy as np
import pytest

from uedflow.config import load_experiment
from uedflow.errors import InputError
from uedflow.reduce.noise import estimate_noise
from uedflow.reduce.pipeline import reduce_experiment
from uedflow.simulate import get_preset, simulate_experiment

GAIN, READ = 3.0, 6.0  # counts per electron (mean of an exponential per-electron gain) and read noise σ [counts]


def test_estimator_recovers_a_known_gain_and_read_noise():
    """Independent synthetic sums: variance g·I·Σw²/f + σ_r²·Σ(w/f)² per bin, dose-scaled frames."""
    rng = np.random.default_rng(4)
    n_bins, k = 400, 12
    counts = rng.uniform(50, 400, n_bins)  # valid pixels per bin (unit weights, flat 1: Σw²/f = Σ(w/f)² = counts)
    level = rng.uniform(2, 200, n_bins)  # counts per pixel
    dose = 1 + 0.03 * rng.standard_normal(k)
    var = 4.0 * level * counts + 25.0 * counts
    sums = dose[:, None] * (level * counts + rng.standard_normal((k, n_bins)) * np.sqrt(var))
    totals = sums.sum(axis=1)
    est = estimate_noise(sums, totals, np.ones(k, bool), counts, counts, counts)
    assert abs(est.gain - 4.0) < 3 * est.gain_err and est.gain_err < 0.15
    assert abs(est.read_noise_counts - 5.0) < 3 * est.read_noise_err
    with pytest.raises(InputError, match="detector.gain"):
        estimate_noise(sums[:2], totals[:2], np.ones(2, bool), counts, counts, counts)


@pytest.fixture(scope="module")
def gain_noise_run(tmp_path_factory):
    """The ``small`` preset with an EMCCD-like random gain per electron (variance 2·g·c) and read noise; the
    experiment file written without the detector's gain and read noise."""
    cfg = get_preset("small")
    cfg["detector"].update({"gain": GAIN, "read_noise": READ, "multiplication_noise": True})
    out = simulate_experiment(cfg, tmp_path_factory.mktemp("noise") / "run", seed=2)
    text = "\n".join(line for line in (out / "experiment.toml").read_text().splitlines()
                     if not line.startswith(("gain", "read_noise_counts")))
    (out / "experiment.toml").write_text(text + "\n")
    return out


def _residual_std(red):
    """Std of (scan − mean of scans)/σ over every delay and bin (σ scaled by √((n−1)/n) for the mean's share)."""
    x, sig = red["intensity_scan"].values, red["intensity_scan_sigma"].values
    n = x.shape[0]
    z = (x - x.mean(axis=0)) / (sig * np.sqrt((n - 1) / n))
    return float(np.nanstd(z[np.isfinite(z)]))


def test_noise_from_the_data_gives_unit_normalised_residuals(gain_noise_run):
    exp = load_experiment(gain_noise_run / "experiment.toml")
    assert exp.detector.gain is None and exp.detector.read_noise_counts is None
    red = reduce_experiment(exp).load()
    a = red.attrs
    assert a["noise_source"].startswith("estimated")
    # the effective gain includes the excess-noise factor 2 of the random per-electron gain
    assert abs(a["detector_gain"] - 2 * GAIN) < max(3 * a["detector_gain_err"], 0.1 * 2 * GAIN)
    assert 0.8 <= _residual_std(red) <= 1.25


def test_assumed_poisson_noise_misses_on_the_same_frames(gain_noise_run, tmp_path):
    """Without the estimate (gain 1, no read noise given): σ is √6 too small, the residuals say so."""
    text = (gain_noise_run / "experiment.toml").read_text().replace("[detector]\n", "[detector]\ngain = 1.0\n"
                                                                    "read_noise_counts = 0.0\n")
    (gain_noise_run / "poisson.toml").write_text(text)
    red = reduce_experiment(load_experiment(gain_noise_run / "poisson.toml")).load()
    assert red.attrs["noise_source"] == "given in the experiment file"
    assert _residual_std(red) > 1.8
