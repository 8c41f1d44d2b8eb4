"""The virtual experiment of a real instrument (preset ``pbse-attached-90K-beamline``), analysed as a user would.

The beam centre walks ±3 px over the scans and is kicked 3 px after time zero (decaying in 3 ps), the rings are
1 % elliptical, the detector multiplies each electron by a random gain (variance 2x Poisson) and adds read
noise, the beam stop sits on a rod with a 5 % pedestal; the experiment file gives none of it (centre per frame,
ellipticity fitted, gain and read noise estimated). Truth: truth.json, including the centre of every frame.
"""

import dataclasses
import json

import numpy as np
import pytest

from uedflow.config import load_experiment
from uedflow.dynamics import analyze
from uedflow.reduce.pipeline import reduce_experiment
from uedflow.simulate import simulate_experiment
from uedflow.simulate.presets import get_preset

#: issue 13's bars: (observable, quantity) -> largest |fit/truth − 1|
BARS = {("strain", "amplitude"): 0.05, ("strain", "tau"): 0.10, ("msd", "amplitude"): 0.10, ("msd", "tau"): 0.15}
#: the strong rings of PbSe the Δ⟨u²⟩ bars are tested on (s ≥ 0.45 Å⁻¹)
STRONG = ("220", "420", "422")
KEYS = {"msd": ("msd_amplitude_angstrom2", "msd_tau_ps"), "strain": ("strain_amplitude", "strain_tau_ps")}


def _table(dyn, truth):
    """{(hkl, obs, quantity): (fit/truth − 1, pull with σ_total, σ_stat/truth)} of every single-family ring."""
    out, obs_names = {}, list(dyn["observable"].values)
    for k, hkl in enumerate(map(str, dyn["hkl"].values)):
        if "/" in hkl:
            continue
        for obs, (amp_key, tau_key) in KEYS.items():
            j = obs_names.index(obs)
            for q, key, err, sys in (("amplitude", amp_key, "amplitude_err", "amplitude_sys"),
                                     ("tau", tau_key, "tau_err_ps", "tau_sys_ps")):
                value, true = float(dyn["tau_ps" if q == "tau" else "amplitude"][k, j]), truth["peaks"][hkl][key]
                sigma = float(np.hypot(dyn[err][k, j], dyn[sys][k, j]))
                out[(hkl, obs, q)] = (value / true - 1, (value - true) / sigma, float(dyn[err][k, j]) / abs(true))
    return out


def _tested(table, s0):
    """The entries the bars apply to: Δ⟨u²⟩ on rings s ≥ 0.45 Å⁻¹, and only where the fit's statistical σ is below
    half the bar (the dose measures the ring to better than the bar; a ring measured to ±30 % cannot test a 10 %
    bar, the pulls test it)."""
    return {key: v for key, v in table.items()
            if (key[1] == "strain" or s0[key[0]] >= 0.45) and v[2] <= BARS[key[1:]] / 2}


@pytest.fixture(scope="module")
def beamline(tmp_path_factory):
    folder = simulate_experiment(get_preset("pbse-attached-90K-beamline"), tmp_path_factory.mktemp("bl") / "run",
                                 seed=1)
    exp = load_experiment(folder / "experiment.toml")
    truth = json.loads((folder / "truth.json").read_text())
    runs = {}
    # uncorrected, the blurred rings fail most fits, and each failure costs a fallback solver: the strong rings only
    for name, detector, reduce, peaks in (
            ("corrected", exp.detector, exp.reduce, None),
            ("uncorrected", dataclasses.replace(exp.detector, center="fixed"),
             dataclasses.replace(exp.reduce, fit_distortion="none"), STRONG)):
        reduced = reduce_experiment(dataclasses.replace(exp, detector=detector, reduce=reduce)).load()
        runs[name] = (reduced, analyze(reduced, config=dataclasses.replace(exp.analyze, peaks=peaks)))
    return truth, exp, runs


def test_the_experiment_file_knows_none_of_the_instrument(beamline):
    truth, exp, _ = beamline
    det = exp.detector
    assert det.center == "per-frame" and det.gain is None and det.read_noise_counts is None
    assert det.ellipticity == 0 and exp.reduce.fit_distortion == "ellipticity"
    assert truth["config"]["detector"]["multiplication_noise"] and truth["config"]["detector"]["center_walk_px"] == 3


def test_the_centre_trace_follows_the_walk_and_the_kick(beamline):
    truth, exp, runs = beamline
    reduced = runs["corrected"][0]
    true = np.full((reduced.sizes["scan"], reduced.sizes["delay"], 2), np.nan)
    for scan in truth["scans"]:
        for delay, center in zip(scan["delay_order_ps"], scan["center_rc"], strict=True):
            true[scan["scan"], int(np.argmin(np.abs(reduced.delay.values - delay)))] = center
    found = np.stack([reduced.center_row.values, reduced.center_col.values], axis=-1)
    rms = np.sqrt(np.mean((found - true) ** 2, axis=(0, 1)))
    print("centre trace rms error (row, col) [px]:", rms, "; the walk spans", np.ptp(true, axis=(0, 1)))
    assert np.all(rms < 0.1)
    assert np.all(np.ptp(true, axis=(0, 1)) > 4)  # the trace is not trivially flat


def test_lattice_dynamics_within_the_bars_of_issue_13(beamline):
    truth, _, runs = beamline
    reduced, dyn = runs["corrected"]
    table = _table(dyn, truth)
    s0 = dict(zip(map(str, dyn["hkl"].values), dyn["s0"].values, strict=True))
    tested = _tested(table, s0)
    for key, (rel, pull, rel_sigma) in sorted(table.items()):
        print(key, f"s0 {s0[key[0]]:.3f}  fit/truth−1 {rel:+.3f}  pull {pull:+.2f}  σ_stat/truth {rel_sigma:.3f}",
              "tested" if key in tested else "")
    worst = max(table.items(), key=lambda kv: abs(kv[1][1]))
    assert abs(worst[1][1]) <= 3, worst
    strong = {key[0] for key in tested if key[1] == "msd"}
    assert set(STRONG) <= strong, strong
    for key, (rel, _, _) in tested.items():
        assert abs(rel) <= BARS[key[1:]], (key, rel)
    scan_t0 = np.mean([scan["t0_ps"] for scan in truth["scans"]])
    assert abs(float(np.median(dyn["t0_ps"].values)) - scan_t0) < 0.1
    assert 5.0 < reduced.attrs["detector_gain"] < 8.0  # truth 6 (gain 3, variance 2x Poisson)
    # fitted to each sample frame: the median of the walking frames reads 0.0079
    assert reduced.attrs["ellipticity"] == pytest.approx(0.01, rel=0.02)


def test_without_the_corrections_the_same_frames_miss(beamline):
    truth, _, runs = beamline
    table = _table(runs["corrected"][1], truth)
    s0 = dict(zip(map(str, runs["corrected"][1]["hkl"].values), runs["corrected"][1]["s0"].values, strict=True))
    tested = {key: v for key, v in _tested(table, s0).items() if key[0] in STRONG}
    raw = _table(runs["uncorrected"][1], truth)
    missed = [key for key in tested if key not in raw or abs(raw[key][0]) > BARS[key[1:]]]
    print("uncorrected misses", len(missed), "of", len(tested), missed)
    assert len(missed) >= len(tested) // 2


def test_the_report_states_the_centre_walk(beamline):
    from uedflow.report.html import _center_html

    reduced = beamline[2]["corrected"][0]
    text = _center_html(reduced)
    lo, hi = float(reduced.center_row.min()), float(reduced.center_row.max())
    assert f"row {lo:.2f}–{hi:.2f} px" in text and "per-frame" in text
    assert _center_html(beamline[2]["uncorrected"][0]) == ""
