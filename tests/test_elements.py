"""Δ⟨u²⟩ per element through the structure factor: the physics, both simulator levels, the joint fit."""

import json

import numpy as np
import pytest

from uedflow.config import AnalyzeConfig, experiment_from_dict, load_experiment
from uedflow.crystal import electron_scattering_factor, get_structure, structure_factor
from uedflow.crystal.vibration import ring_partials
from uedflow.dynamics import analyze
from uedflow.dynamics.analyze import _flag_wrong_sign
from uedflow.errors import ConfigError
from uedflow.physics.debye import msd_debye_angstrom2
from uedflow.reduce.pipeline import reduce_experiment
from uedflow.simulate import PeakDynamics, get_preset, paper_dynamics, simulate_experiment, simulate_powder_series
from uedflow.simulate.atomistic import atomistic_series
from uedflow.simulate.debye import lattice_step
from uedflow.simulate.nanocrystal import build_nanocrystal
from uedflow.simulate.presets import DEBYE_TEMPERATURE_K, PBSE_MASS_U
from uedflow.simulate.vibration import element_vibration

PBSE = get_structure("PbSe")
MASS = {"Pb": 207.2, "Se": 78.971}
ODD = ("111", "311", "331", "333/511")


def _isotropic():
    """The individual dots' ⟨100⟩ dynamics for every direction (one Δ⟨u_e²⟩ per element is then the exact truth)."""
    p = paper_dynamics("individual", 90.0, 3.6)["<100>"]
    return {f: dict(p) for f in ("<100>", "<110>", "<111>")}


def test_ring_partials_reproduce_the_structure_factor_and_the_odd_rings_that_gain():
    labels = ["111", "200", "220", "311", "331", "333/511"]
    rp = ring_partials(PBSE, labels)
    # one ⟨u²⟩ for both elements: Σ_m M_m |F_m|² of the existing structure factor, blends summed over members
    expect = [8 * abs(structure_factor(PBSE, "111", msd_angstrom2=0.004)) ** 2,
              6 * abs(structure_factor(PBSE, "200", msd_angstrom2=0.004)) ** 2,
              12 * abs(structure_factor(PBSE, "220", msd_angstrom2=0.004)) ** 2,
              24 * abs(structure_factor(PBSE, "311", msd_angstrom2=0.004)) ** 2,
              24 * abs(structure_factor(PBSE, "331", msd_angstrom2=0.004)) ** 2,
              8 * abs(structure_factor(PBSE, "333", msd_angstrom2=0.004)) ** 2
              + 24 * abs(structure_factor(PBSE, "511", msd_angstrom2=0.004)) ** 2]
    np.testing.assert_allclose(rp.intensity(np.array([0.004, 0.004])), expect, rtol=1e-12)
    # a common Debye temperature (Se then vibrates 2.6x more than Pb), 90 -> 240 K: the hand calculation
    # I/I0 = 1.006, 1.015, 1.019 of (111), (311), (331) — the odd rings gain intensity on heating
    u = {t: np.array([msd_debye_angstrom2(t, 250.0, MASS[e]) for e in PBSE.elements]) for t in (90.0, 240.0)}
    ratio = dict(zip(labels, rp.ratio(u[90.0], u[240.0] - u[90.0]), strict=True))
    for lab, value in (("111", 1.006), ("311", 1.015), ("331", 1.019)):
        assert ratio[lab] == pytest.approx(value, abs=6e-4), lab
    assert ratio["200"] < 1 and ratio["220"] < 1
    w = rp.element_weights(u[90.0])
    np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-12)
    assert rp.may_rise(u[90.0]).tolist() == [lab in ODD for lab in labels]


def test_atomistic_level_renders_each_element_in_the_debye_sum():
    """The Debye sum with per-atom Debye–Waller factors e^{-2π²(u_i+u_j)s²}, brute force over all pairs."""
    nc = build_nanocrystal(PBSE, 2.0)
    vib = element_vibration(PBSE, {"Pb": 120.0, "Se": 220.0}, temperature_K=90.0, rise_K=150.0,
                            reference_debye_K=DEBYE_TEMPERATURE_K, reference_mass_u=PBSE_MASS_U)
    s = np.linspace(0.2, 0.7, 60)
    dmsd = 0.005
    got = atomistic_series(nc, s, [1e4], {"core": PeakDynamics(msd_amplitude_angstrom2=dmsd, msd_tau_ps=2.0)},
                           vibration=vib, lattice_step_angstrom=lattice_step(PBSE.positions, PBSE.a_angstrom))[0]
    sym = np.array(nc.symbols)
    u = np.array([vib.static(e) + vib.k(e) * dmsd for e in sym])
    f = np.array([electron_scattering_factor(e, s) for e in sym])  # (N, n_s)
    r = np.linalg.norm(nc.positions[:, None] - nc.positions[None], axis=-1)
    iu = np.triu_indices(len(sym), 1)
    expect = np.sum(f**2, axis=0)
    for k, sk in enumerate(s):
        a = f[:, k] * np.exp(-2 * np.pi**2 * u * sk * sk)
        expect[k] += 2 * np.sum(a[iu[0]] * a[iu[1]] * np.sinc(2 * sk * r[iu]))
    np.testing.assert_allclose(got, expect, rtol=1e-6)
    assert vib.k("Pb") > vib.k("Se")  # Θ_Pb = 120 K: lead vibrates more than selenium here


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    """The ``small`` preset at frame level with Θ_Pb = 120 K, Θ_Se = 220 K, isotropic dynamics, reduced and analysed."""
    cfg = get_preset("small")
    cfg.update(electrons_per_frame=2e8, debye_temperatures_K={"Pb": 120.0, "Se": 220.0},
               dynamics={"peaks": _isotropic()})
    out = simulate_experiment(cfg, tmp_path_factory.mktemp("elements") / "run", seed=1)
    exp = load_experiment(out / "experiment.toml")
    return json.loads((out / "truth.json").read_text()), analyze(reduce_experiment(exp).load(), config=exp.analyze)


def test_joint_fit_recovers_each_element_where_one_value_per_ring_cannot(frames):
    truth, dyn = frames
    em = json.loads(dyn.attrs["element_msd_json"])["elements"]
    true = truth["peaks"]["200"]["element_msd_amplitude_angstrom2"]
    for el in ("Pb", "Se"):
        v = em[el]
        assert v["amplitude"] == pytest.approx(true[el], rel=0.10), (el, v, true)
        assert abs(v["amplitude"] - true[el]) < 3 * v["amplitude_err"], (el, v, true)
        assert abs(v["tau_ps"] - truth["peaks"]["200"]["msd_tau_ps"]) < 3 * v["tau_err_ps"], el
        assert v["temperature_rise_K"] == pytest.approx(150.0, rel=0.03), el  # each element's own Debye model
    # the paper's one-Δ⟨u²⟩-per-ring reading of the odd rings is what the structure factor predicts for
    # each (> 30 % above the mass-weighted vibration), and their weighted mean is significantly off it ...
    mean = sum(MASS[e] * true[e] for e in MASS) / sum(MASS.values())
    j = list(dyn["observable"].values).index("msd")
    labels = list(map(str, dyn["hkl"].values))
    amps, errs = [], []
    for lab in ("111", "311", "331"):
        i = labels.index(lab)
        amps.append(float(dyn["amplitude"][i, j]))
        errs.append(np.hypot(float(dyn["amplitude_err"][i, j]), float(dyn["amplitude_sys"][i, j])))
        effective = truth["peaks"][lab]["msd_amplitude_angstrom2"]
        assert effective / mean - 1 > 0.30 and abs(amps[-1] - effective) < 3 * errs[-1], (lab, amps[-1], effective)
    w = 1.0 / np.square(errs)
    odd, odd_err = float(np.sum(w * amps) / w.sum()), float(np.sqrt(1.0 / w.sum()))
    assert odd / mean - 1 > 0.25 and odd - mean > 2 * odd_err, (odd, odd_err, mean)
    assert float(dyn["element_msd_corr"].sel(delay=50.0)) < 0.9


def test_odd_rings_that_gain_intensity_are_measurements_not_wrong_signs():
    """A common Debye temperature: Se vibrates 2.6x more than Pb and the odd rings' Δ⟨u²⟩_s is negative."""
    vib = element_vibration(PBSE, {"Pb": 250.0, "Se": 250.0}, temperature_K=90.0, rise_K=150.0,
                            reference_debye_K=DEBYE_TEMPERATURE_K, reference_mass_u=PBSE_MASS_U)
    peaks = {f: PeakDynamics(**p) for f, p in _isotropic().items()}
    ds, truth = simulate_powder_series(
        structure=PBSE, peaks=peaks, delays_ps=np.array(get_preset("pbse-individual-90K")["delays_ps"]),
        s_grid=np.linspace(0.15, 0.95, 500), t0_ps=0.35, irf_fwhm_ps=0.5, n_scans=3, seed=1, counts_per_bin=1e7,
        attrs={"temperature_K": 90.0, "irf_fwhm_ps": 0.5}, vibration=vib)
    out = analyze(ds, config=AnalyzeConfig(element_debye_temperatures_K={"Pb": 250.0, "Se": 250.0}))
    j = list(out["observable"].values).index("msd")
    labels = list(map(str, out["hkl"].values))
    odd = [labels.index(lab) for lab in ("111", "311")]
    amp = out["amplitude"].values[:, j]
    assert np.all(amp[odd] < 0) and np.all(out["fit_success"].values[odd, j] == 1)
    for i in odd:
        assert amp[i] == pytest.approx(truth["peaks"][labels[i]]["msd_amplitude_angstrom2"], rel=0.15)
    # the sign rule without the structure factor would throw such a measurement away (here: (111) among the even
    # rings, as on a detector reaching further out, where even rings outnumber odd ones)
    rows = [labels.index(lab) for lab in ("111", "200", "220", "222", "400", "420", "422")]
    sub = tuple(labels[i] for i in rows)
    for may_rise, kept in ((None, 0), (ring_partials(PBSE, sub).may_rise(vib.msd_static_angstrom2), 1)):
        success = out["fit_success"].values[rows].astype(float)
        _flag_wrong_sign(out["amplitude"].values[rows], success, sub, may_rise)
        assert success[0, j] == kept and np.all(success[1:, j] == 1)
    em = json.loads(out.attrs["element_msd_json"])["elements"]
    true = truth["peaks"]["200"]["element_msd_amplitude_angstrom2"]
    for el in ("Pb", "Se"):
        assert em[el]["amplitude"] == pytest.approx(true[el], rel=0.10), el
        assert abs(em[el]["amplitude"] - true[el]) < 3 * em[el]["amplitude_err"], el
    assert true["Se"] / true["Pb"] == pytest.approx(MASS["Pb"] / MASS["Se"], rel=0.02)


def test_bad_per_element_debye_temperatures_are_one_clear_error():
    with pytest.raises(ConfigError, match="one Debye temperature"):
        element_vibration(PBSE, {"Pb": 120.0}, temperature_K=90.0, rise_K=150.0, reference_debye_K=250.0,
                          reference_mass_u=PBSE_MASS_U)
    with pytest.raises(ConfigError, match="element_debye_temperatures_K.Se"):
        experiment_from_dict({"experiment": {"manifest": "frames.csv"},
                              "analyze": {"element_debye_temperatures_K": {"Pb": 120.0, "Se": -3.0}}})
