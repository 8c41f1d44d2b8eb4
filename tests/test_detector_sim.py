"""Detector rendering and the virtual experiment folder."""

from __future__ import annotations

import json

import numpy as np
import pytest

from uedflow.config import load_experiment
from uedflow.errors import ConfigError, GeometryError, InputError
from uedflow.io import read_manifest
from uedflow.reduce.geometry import Geometry
from uedflow.simulate import simulate_experiment
from uedflow.simulate.detector import DetectorModel

GEO = Geometry(shape=(128, 128), center_rc=(60.3, 66.8), pixel_size_m=1.5e-4, camera_length_m=0.3, energy_keV=50.0)


def test_render_follows_profile_and_dose():
    det = DetectorModel(GEO, beam_block_radius_px=8, beam_block_arm_px=2)
    s = np.linspace(0.0, 2.0, 2001)
    profile = 1.0 + np.exp(-0.5 * ((s - 0.4) / 0.01) ** 2)
    img = det.expected_electrons(s, profile, 1e6)
    assert img.sum() == pytest.approx(1e6)
    assert np.all(img[det.blocked] == 0)
    # ratio of two unblocked pixels equals the profile ratio at their s (flat-detector geometry)
    smap = GEO.s_map()
    free = ~det.blocked
    ring = free & (np.abs(smap - 0.4) < 0.0005)
    far = free & (np.abs(smap - 0.6) < 0.005)
    assert img[ring].mean() / img[far].mean() == pytest.approx(np.interp(0.4, s, profile) / np.interp(0.6, s, profile),
                                                               rel=0.02)


def test_exposure_noise_dark_and_hot_pixels():
    det = DetectorModel(GEO, dark_level=100.0, read_noise=2.0, gain=1.0, hot_pixel_fraction=1e-3, seed=4)
    rng = np.random.default_rng(0)
    electrons = np.full(GEO.shape, 400.0)
    frame = det.expose(electrons, rng).astype(float)
    dark = det.dark_frame()
    ok = ~det.hot_pixels
    signal = frame[ok] - dark[ok]
    assert signal.mean() == pytest.approx(400.0, rel=0.01)
    assert signal.var() == pytest.approx(400.0 + 4.0, rel=0.08)  # Poisson + read noise
    assert det.hot_pixels.sum() > 0 and np.all(dark[det.hot_pixels] > 1000)
    assert frame.max() <= 65535


def test_bad_detector_input():
    det = DetectorModel(GEO)
    with pytest.raises(InputError, match="dose"):
        det.expected_electrons(np.linspace(0, 1, 10), np.ones(10), -5.0)
    far = DetectorModel(Geometry((64, 64), (31.5, 31.5), 1e-5, 5.0, 50.0), beam_block_radius_px=3)
    with pytest.raises(GeometryError, match="no diffraction ring"):
        far.check_sees(np.array([0.28, 0.33, 0.46]))
    with pytest.raises(InputError):
        DetectorModel(GEO, read_noise=-1.0)


def test_small_preset_folder(tmp_path):
    out = simulate_experiment("small", tmp_path / "run", seed=3)
    exp = load_experiment(out / "experiment.toml")
    records = read_manifest(exp.manifest)
    truth = json.loads((out / "truth.json").read_text())
    delays = sorted(truth["config"]["delays_ps"])
    assert len(records) == len(truth["scans"]) * len(delays)
    per_scan = {}
    for r in records:
        per_scan.setdefault(r.scan, []).append((r.index, r.delay_ps))
    for rows in per_scan.values():
        order = [d for _, d in sorted(rows)]
        assert sorted(order) == delays and order != delays  # all delays, visited in random order
    stack = np.load(out / "scan_00.npy")
    assert stack.dtype == np.uint16 and stack.shape[1:] == tuple(truth["config"]["detector"]["shape"])
    assert exp.detector.dark and exp.sample.temperature_K == truth["temperature_K"]
    assert truth["peaks"]["200"]["family"] == "<100>" and truth["t0_ps"] == 0.35
    mask = np.load(out / "mask.npy")
    assert mask.dtype == bool and 0.8 < mask.mean() < 1.0
    # same seed, same data
    again = simulate_experiment("small", tmp_path / "run2", seed=3)
    np.testing.assert_array_equal(np.load(again / "scan_01.npy"), np.load(out / "scan_01.npy"))


def test_failed_run_leaves_nothing(tmp_path):
    with pytest.raises(InputError, match="dose"):
        simulate_experiment({"preset": "small", "electrons_per_frame": -1.0}, tmp_path / "bad")
    with pytest.raises(GeometryError, match="no diffraction ring"):
        simulate_experiment({"preset": "small", "detector": {"camera_length_m": 20.0}}, tmp_path / "bad")
    with pytest.raises(ConfigError, match="unknown"):
        simulate_experiment({"preset": "small", "fluense": 1.0}, tmp_path / "bad")
    assert not (tmp_path / "bad").exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("termination", [None, "Pb"])
def test_atomistic_level_folder(tmp_path, termination):
    """The atomistic level writes a complete folder; a core expansion shifts the all-even rings by its strain.
    (On a Pb-terminated dot the weak (111) ring, which the Pb excess of the unstrained surface dominates,
    shifts by only ~40 % of it.)"""
    shape = {"shape": "tetradecahedron"} | ({"termination_111": termination} if termination else {})
    run = {"preset": "small", "name": "atomistic", "level": "atomistic", "diameter_nm": 4.0,
           "delays_ps": [-3.0, 1.0, 20.0], "n_scans": 1, "nanocrystal": shape,
           "dynamics": {"groups": {"core": {"strain_amplitude": 2e-3, "strain_tau_ps": 5.0,
                                            "msd_amplitude_angstrom2": 4e-3, "msd_tau_ps": 3.0}}}}
    out = simulate_experiment(run, tmp_path / "at", seed=1)
    truth = json.loads((out / "truth.json").read_text())
    assert truth["level"] == "atomistic" and truth["nanocrystal"]["n_dots"] == 1
    assert truth["nanocrystal"]["termination_111"] == termination
    resolved = {k: v for k, v in truth["peaks"].items() if v["resolved"] and int(k[0]) % 2 == 0}
    assert {"200", "220"} <= set(resolved)
    for v in resolved.values():  # a uniform expansion is recovered from the peak shift
        assert v["strain_amplitude"] == pytest.approx(2e-3, rel=0.06)
    assert len(read_manifest(load_experiment(out / "experiment.toml").manifest)) == 3
    with pytest.raises(ConfigError, match="core"):
        simulate_experiment({**run, "dynamics": {"groups": {}}}, tmp_path / "bad")
