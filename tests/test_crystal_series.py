"""Profile-level MoS2 flakes and Bi films: per-axis strain and vibration kinetics recovered from simulated ring
profiles."""

import numpy as np
import pytest

from uedflow.crystal import Crystal, Lattice, Site, get_crystal, structure_factors
from uedflow.dynamics.axes import fit_axis_vibration
from uedflow.dynamics.axes_series import analyze_axes_series
from uedflow.errors import InputError
from uedflow.simulate.crystal_series import CRYSTAL_PRESETS, simulate_crystal_series

DELAYS = np.concatenate([np.linspace(-5, -1, 5), np.linspace(-0.5, 10, 15), np.linspace(12, 120, 19)])
S_GRID = np.linspace(0.12, 1.1, 1400)


def _preset(name: str = "mos2-flakes-300K"):
    p = dict(CRYSTAL_PRESETS[name])
    return get_crystal(p.pop("crystal")), p


@pytest.mark.parametrize(("name", "rings"), [("mos2-flakes-300K", {"110", "002", "006"}),
                                             ("bi-film-300K", {"012", "104", "110"})])
def test_layered_and_trigonal_axes_kinetics_recovered(name, rings):
    mos2, p = _preset(name)
    ds, truth = simulate_crystal_series(mos2, DELAYS, S_GRID, seed=3, **p)
    res = analyze_axes_series(ds, mos2, fwhm_guess=p["fwhm_inv_angstrom"], irf_fwhm_ps=p["irf_fwhm_ps"])
    print(name, "rings", [r.label for r in res.rings])
    assert rings <= {r.label for r in res.rings}
    # per-ring values stay: the pure rings' strains at the last delay scatter about the truth's centroids as
    # their σ say (~15 rings: every |pull| < 3.5, P(false alarm) ~ 1 %; rms within 1.5)
    true_ring = {r["label"]: r for r in truth["rings"]}
    pulls = []
    for r, ring in enumerate(res.rings):
        if ring.pure:
            exact = true_ring[ring.label]["centroid"]
            pulls.append((res.ring_strain[-1, r] - (exact[0] / exact[-1] - 1)) / res.ring_strain_err[-1, r])
    print("ring pulls", np.round(pulls, 2))
    assert np.max(np.abs(pulls)) < 3.5 and np.sqrt(np.mean(np.square(pulls))) < 1.5
    # the tensor parametrisation of a hexagonal crystal is the same fit: U11 = Δ⟨u_⊥²⟩, U33 = Δ⟨u_∥²⟩
    members = [[m.hkl for m in ring.members] for ring in res.rings]
    tensor = fit_axis_vibration(mos2, members, res.ln_ratio, res.ln_ratio_err, [list(r.weights) for r in res.rings],
                                mode="tensor")
    np.testing.assert_allclose(tensor.values[6:], res.vibration.values[6:], rtol=1e-6)
    want = {**{k: (v["amplitude"], v["tau_ps"]) for k, v in truth["strain"].items()},
            **{k: (v["amplitude_angstrom2"], v["tau_ps"]) for k, v in truth["msd"].items()}}
    assert set(res.kinetics) == set(want) == {"a", "c", "perp", "par"}
    for name, fit in res.kinetics.items():
        amp, tau = want[name]
        pulls = [(fit.value("amplitude") - amp) / fit.error("amplitude"), (fit.value("tau_ps") - tau) / fit.error("tau_ps"),
                 (fit.value("t0_ps") - truth["t0_ps"]) / fit.error("t0_ps")]
        print(f"{name}: A = {fit.value('amplitude'):.4g} ± {fit.error('amplitude'):.2g} (truth {amp:.4g}), "
              f"τ = {fit.value('tau_ps'):.3g} ± {fit.error('tau_ps'):.2g} ps (truth {tau:.3g}), "
              f"t0 = {fit.value('t0_ps'):.3f} ± {fit.error('t0_ps'):.3f} ps; pulls {np.round(pulls, 2).tolist()}")
        assert fit.success
        assert fit.value("amplitude") == pytest.approx(amp, rel=0.10)
        assert fit.value("tau_ps") == pytest.approx(tau, rel=0.15)
        assert np.all(np.abs(pulls) <= 3.0)


def test_truth_centroids_follow_the_strained_cell():
    mos2, p = _preset()
    _, truth = simulate_crystal_series(mos2, np.array([-5.0, 1e4]), S_GRID, n_scans=1, **p)
    ea, ec = truth["strain"]["a"]["amplitude"], truth["strain"]["c"]["amplitude"]
    lat = mos2.lattice
    hot = Lattice(lat.a * (1 + ea), lat.b * (1 + ea), lat.c * (1 + ec), 90, 90, 120)
    for ring in truth["rings"]:
        if len(ring["members"]) == 1:
            hkl = ring["members"][0]
            assert ring["centroid"][0] == pytest.approx(float(lat.s_of(hkl)), rel=1e-12)
            assert ring["centroid"][1] == pytest.approx(float(hot.s_of(hkl)), rel=1e-12)
    # areas against structure factors of the crystal with the plateau ΔU on every atom (CIF U_ij, hexagonal)
    perp, par = truth["msd"]["perp"]["amplitude_angstrom2"], truth["msd"]["par"]["amplitude_angstrom2"]
    hot_sites = tuple(Site(s.element, s.xyz, u_aniso=(perp, perp, par, perp / 2, 0, 0)) for s in mos2.sites)
    hot_crystal = Crystal("hot", lat, mos2.space_group, hot_sites)
    for ring in truth["rings"]:
        hkl = np.array(ring["members"], float)
        mult = np.array([len({tuple(v) for v in (mos2.laue_operations() @ h).tolist()}) for h in hkl])
        want = np.sum(mult * np.abs(structure_factors(hot_crystal, hkl)) ** 2 / lat.s_of(hkl) ** 2) / np.sum(
            mult * np.abs(structure_factors(mos2, hkl)) ** 2 / lat.s_of(hkl) ** 2)
        assert ring["area"][1] / ring["area"][0] == pytest.approx(want, rel=1e-9), ring["label"]
    with pytest.raises(InputError, match="must be among"):
        simulate_crystal_series(mos2, DELAYS, S_GRID, **{**p, "strain_amplitudes": {"b": 1e-3}})


def test_a_delay_without_fitted_rings_is_left_out_not_fatal():
    mos2, p = _preset()
    ds, truth = simulate_crystal_series(mos2, DELAYS, S_GRID, seed=4, **p)
    ds["intensity"][12] = np.nan  # one delay lost (a corrupt frame)
    res = analyze_axes_series(ds, mos2, fwhm_guess=p["fwhm_inv_angstrom"], irf_fwhm_ps=p["irf_fwhm_ps"])
    a, a_err = res.strain_trace("a")
    assert np.isnan(a[12]) and np.isfinite(np.delete(a, 12)).all()
    fit = res.kinetics["c"]
    assert fit.success and fit.value("amplitude") == pytest.approx(truth["strain"]["c"]["amplitude"], rel=0.1)


def test_neighbours_left_out_of_the_axis_fits_are_still_fitted():
    """(102) of MoS2 sits 2 FWHM above the strong (100)/(101) pair, which is too close to use: fitted without that
    pair, (102)'s window takes the pair's tail, whose Debye–Waller decay differs, into its ln(I/I0) (measured: 2.8
    times the true decay); fitted with them it is within 10 % (9 %: the pair is 0.7 FWHM apart and trades area)."""
    from uedflow.crystal import composite_rings, reflection_families
    from uedflow.dynamics.axes_series import fit_crystal_rings

    mos2, p = _preset()
    ds, truth = simulate_crystal_series(mos2, DELAYS, S_GRID, seed=5, **{**p, "counts_per_bin": 1e9})
    rings = composite_rings(reflection_families(mos2, 0.45, s_min=0.3), 0.5 * p["fwhm_inv_angstrom"])
    k = [r.label for r in rings].index("102")
    before = ds["delay"].values < -1.0
    exact = next(r["area"] for r in truth["rings"] if r["label"] == "102")
    true_ln = np.log(exact[-1] / np.mean(np.array(exact)[before]))

    def ln_ratio(area: np.ndarray) -> float:
        return float(np.log(area[-1] / np.mean(area[before])))

    together = ln_ratio(fit_crystal_rings(ds, rings, p["fwhm_inv_angstrom"], before)[2][:, k])
    alone = ln_ratio(fit_crystal_rings(ds, [rings[k]], p["fwhm_inv_angstrom"], before)[2][:, 0])
    print(f"(102) ln(I/I0) at {DELAYS[-1]:g} ps: true {true_ln:.5f}, with its neighbours {together:.5f}, "
          f"without {alone:.5f}")
    assert together == pytest.approx(true_ln, rel=0.10)
    assert abs(alone / true_ln - 1) > 0.5
