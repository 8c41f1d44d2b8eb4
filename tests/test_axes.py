"""Per-axis vibration from ring intensities, against structure factors of crystals with known anisotropic U_ij."""

import numpy as np
import pytest

from uedflow.crystal import Crystal, Site, composite_rings, get_crystal, reflection_families, structure_factors
from uedflow.dynamics.axes import allowed_u_basis, fit_axis_vibration
from uedflow.errors import InputError


def _with_u(crystal: Crystal, u_aniso: tuple[float, ...]) -> Crystal:
    """The same crystal with U_ij = ``u_aniso`` (U11, U22, U33, U12, U13, U23) [Å²] on every site."""
    sites = tuple(Site(s.element, s.xyz, s.occupancy, u_aniso=u_aniso, label=s.label) for s in crystal.sites)
    return Crystal(crystal.name, crystal.lattice, crystal.space_group, sites)


def _exact_ln_ratio(before: Crystal, after: Crystal, rings) -> np.ndarray:
    """ln(Σ M|F|² after / Σ M|F|² before) of each ring from the structure factors (diffpy-expanded U_ij)."""
    out = []
    for ring in rings:
        hkl = np.array([m.hkl for m in ring.members], float)
        mult = np.array([m.multiplicity for m in ring.members])
        out.append(np.log(np.sum(mult * np.abs(structure_factors(after, hkl)) ** 2)
                          / np.sum(mult * np.abs(structure_factors(before, hkl)) ** 2)))
    return np.array(out)


def _rings(crystal: Crystal, s_max: float, resolution: float):
    rings = composite_rings(reflection_families(crystal, s_max), resolution)
    members = [[m.hkl for m in r.members] for r in rings]
    weights = [[m.multiplicity * m.f2_angstrom2 for m in r.members] for r in rings]
    return rings, members, weights


def test_mos2_perp_and_par_recovered_exactly_with_composite_rings():
    mos2 = get_crystal("MoS2")
    perp, par = 1.3e-3, 2.6e-3
    hot = _with_u(mos2, (perp, perp, par, perp / 2, 0.0, 0.0))  # in-plane isotropic, c unique
    rings, members, weights = _rings(mos2, 1.0, 0.01)
    assert any(len(m) > 1 for m in members)
    y = _exact_ln_ratio(mos2, hot, rings)
    fit = fit_axis_vibration(mos2, members, y, np.full(y.size, 1e-4), weights)
    print("MoS2 axes fit:", fit.values[0], "truth", (perp, par))
    np.testing.assert_allclose(fit.values[0], [perp, par], rtol=1e-8)
    tensor = fit_axis_vibration(mos2, members, y, np.full(y.size, 1e-4), weights, mode="tensor")
    assert tensor.names == ("U11", "U33")
    np.testing.assert_allclose(tensor.values[0], [perp, par], rtol=1e-8)
    # one isotropic Δ⟨u²⟩ per ring is wrong for an anisotropic crystal: (00l) rings see only ⟨u_∥²⟩, (hk0) only ⟨u_⊥²⟩
    per_ring = dict(zip([r.label for r in rings], fit.ring_msd_angstrom2[0], strict=True))
    # the members' M|F|² weights matter: equal weights miss by ~3 % (⊥) and ~1 % (∥)
    equal = fit_axis_vibration(mos2, members, y, np.full(y.size, 1e-4))
    assert np.all(np.abs(equal.values[0] / [perp, par] - 1) > 5e-3)
    # a delay without usable rings is left NaN, the others fitted
    two = fit_axis_vibration(mos2, members, np.stack([np.full(y.size, np.nan), y]), np.full((2, y.size), 1e-4), weights)
    assert np.all(np.isnan(two.values[0])) and np.allclose(two.values[1], [perp, par], rtol=1e-8)
    assert per_ring["002"] == pytest.approx(par, rel=1e-6) and per_ring["110"] == pytest.approx(perp, rel=1e-6)


def test_monoclinic_tensor_components_recovered_exactly():
    vo2 = get_crystal("VO2-M1")
    names, basis = allowed_u_basis(vo2)
    assert names == ("U11", "U22", "U33", "U13")
    truth = (2.0e-3, 1.0e-3, 3.0e-3, 4.0e-4)
    hot = _with_u(vo2, (truth[0], truth[1], truth[2], 0.0, truth[3], 0.0))
    rings, members, weights = _rings(vo2, 0.7, 0.0)
    y = _exact_ln_ratio(vo2, hot, rings)
    fit = fit_axis_vibration(vo2, members, np.stack([0 * y, y]), np.full((2, y.size), 1e-4), weights, mode="tensor")
    np.testing.assert_allclose(fit.values, [np.zeros(4), truth], rtol=1e-8, atol=1e-12)


def test_hk0_rings_cannot_separate_the_axes():
    mos2 = get_crystal("MoS2")
    with pytest.raises(InputError, match="do not separate"):
        fit_axis_vibration(mos2, [[(1, 0, 0)], [(1, 1, 0)], [(2, 0, 0)]], np.full(3, -0.01), np.full(3, 1e-3))
    with pytest.raises(InputError, match="unknown"):
        fit_axis_vibration(mos2, [[(1, 0, 0)], [(0, 0, 2)]], np.full(2, -0.01), np.full(2, 1e-3), mode="iso")
