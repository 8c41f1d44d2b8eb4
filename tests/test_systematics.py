"""Honest error bars on a held-out set: PbS nanocrystals with a one-phonon TDS halo that follows the lattice.

The set is independent of the PbSe presets the analysis was developed on (another material, lattice and
seed); its halo is the physical first-order TDS (:mod:`uedflow.physics.tds`). σ_total is the statistical
1σ and the systematic one (half the TDS-halo correction) in quadrature.
"""

import dataclasses

import numpy as np
import pytest

from uedflow.config import AnalyzeConfig
from uedflow.crystal import get_structure
from uedflow.dynamics import analyze
from uedflow.physics.debye import compound_mass_u, msd_debye_angstrom2
from uedflow.simulate import PeakDynamics, get_preset, paper_dynamics, simulate_powder_series

PBS = get_structure("PbS")
OBS = (("msd", "msd_amplitude_angstrom2", "msd_tau_ps"), ("strain", "strain_amplitude", "strain_tau_ps"))


def _held_out(halo: float, seed: int = 11):
    dyn = {f: PeakDynamics(**p) for f, p in paper_dynamics("individual", 90.0, 3.6).items()}
    return simulate_powder_series(
        structure=PBS, peaks=dyn, delays_ps=np.array(get_preset("pbse-individual-90K")["delays_ps"]),
        s_grid=np.linspace(0.15, 1.0, 550), t0_ps=0.35, irf_fwhm_ps=0.5, n_scans=3, seed=seed, counts_per_bin=1e7,
        attrs={"temperature_K": 90.0, "irf_fwhm_ps": 0.5}, tds_halo=halo,
        msd_static_angstrom2=float(msd_debye_angstrom2(90.0, 250.0, compound_mass_u(PBS.masses_u))))


def _pulls(out, truth):
    """{(hkl, obs, quantity): (fit/truth − 1, pull with σ_total, pull with σ_stat)} of every single-family ring."""
    res = {}
    obs_names = list(out["observable"].values)
    for k, hkl in enumerate(map(str, out["hkl"].values)):
        if "/" in hkl:  # a blend has no single-family truth
            continue
        true = truth["peaks"][hkl]
        for obs, amp_key, tau_key in OBS:
            j = obs_names.index(obs)
            for name, key, err, sys in (("amplitude", amp_key, "amplitude_err", "amplitude_sys"),
                                        ("tau", tau_key, "tau_err_ps", "tau_sys_ps")):
                value = float(out["tau_ps" if name == "tau" else "amplitude"][k, j])
                stat, syst = float(out[err][k, j]), float(out[sys][k, j])
                res[(hkl, obs, name)] = (value / true[key] - 1, (value - true[key]) / np.hypot(stat, syst),
                                         (value - true[key]) / stat)
    return res


@pytest.fixture(scope="module")
def held_out():
    ds, truth = _held_out(1.0)
    return ds, truth, analyze(ds)


def test_every_pull_is_within_three_total_sigma_on_the_held_out_set(held_out):
    ds, truth, out = held_out
    pulls = _pulls(out, truth)
    assert {"111", "200"} <= {k[0] for k in pulls}
    worst = max(pulls.items(), key=lambda kv: abs(kv[1][1]))
    assert abs(worst[1][1]) <= 3, worst
    s0 = dict(zip(map(str, out["hkl"].values), out["s0"].values, strict=True))
    for (hkl, obs, name), (rel, _, _) in pulls.items():
        if obs == "msd" and name == "amplitude" and s0[hkl] >= 0.45:
            assert abs(rel) < 0.10, (hkl, rel)
    # statistical and systematic parts are reported separately (and the systematic is not empty)
    assert float(out["amplitude_sys"].sel(observable="msd").max()) > 0
    assert np.all(out["msd_qe_sys"].values >= 0) and "msd_qe_err" in out


def test_without_the_halo_correction_the_same_data_miss(held_out):
    """The correction is needed: uncorrected, Δ⟨u²⟩ reads 6-11 % low, many σ away (the fit-window systematic
    alone does not cover it)."""
    ds, truth, out = held_out
    raw = analyze(ds, config=dataclasses.replace(AnalyzeConfig(), tds_correction=False))
    pulls = _pulls(raw, truth)
    msd = [v for k, v in pulls.items() if k[1] == "msd" and k[2] == "amplitude"]
    assert np.median([rel for rel, _, _ in msd]) < -0.05
    assert sum(abs(p) > 3 for _, p, _ in msd) >= 5
    msd_sys = [np.median(d["amplitude_sys"].sel(observable="msd").values) for d in (raw, out)]
    assert msd_sys[0] < msd_sys[1]  # no correction, no correction systematic: only the fit window's


@pytest.mark.parametrize("halo", [0.6, 0.0])
def test_a_halo_unlike_the_model_is_covered_by_the_systematic_error(halo):
    """The correction assumes the whole first-order TDS (Debye model) sits in the halos; with 60 % of it, or
    none, the residual bias stays inside σ_total (it is half the correction)."""
    ds, truth = _held_out(halo, seed=12)
    pulls = _pulls(analyze(ds), truth)
    worst = max(pulls.items(), key=lambda kv: abs(kv[1][1]))
    assert abs(worst[1][1]) <= 3, worst
