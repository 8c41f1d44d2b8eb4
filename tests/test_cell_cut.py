"""Nanocrystals cut from any cell: spheres, Wulff shapes, layered flakes; surface tags and per-facet dynamics."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from uedflow.crystal import get_crystal, get_structure
from uedflow.errors import ConfigError, InputError
from uedflow.simulate.atomistic import atomistic_series
from uedflow.simulate.cell_cut import (
    attach_cut,
    cartesian_basis,
    crystal_rings,
    cut_crystal,
    layer_spacing,
    neighbour_cutoff,
)
from uedflow.simulate.debye import debye_intensity
from uedflow.simulate.nanocrystal import attach, build_nanocrystal
from uedflow.simulate.pump import PeakDynamics


def _density(crystal) -> float:
    return len(crystal.species) / crystal.lattice.volume_angstrom3


def _fractions(nc) -> dict[str, float]:
    return {el: float(np.mean(nc.symbols == el)) for el in nc.elements}


@pytest.mark.parametrize("name", ["MoS2", "graphite", "Bi", "VO2-M1", "CdSe-wurtzite"])
def test_sphere_count_is_volume_times_density_with_the_cell_stoichiometry(name):
    crystal = get_crystal(name)
    nc = cut_crystal(crystal, 5.0, shape="sphere")
    expected = np.pi / 6 * 50.0**3 * _density(crystal)
    print(name, nc.n_atoms, expected)
    assert nc.n_atoms == pytest.approx(expected, rel=0.03)
    cell = {el: crystal.species.count(el) / len(crystal.species) for el in set(crystal.species)}
    for el, share in _fractions(nc).items():
        assert share == pytest.approx(cell[el], abs=0.015)
    assert np.all(np.linalg.norm(nc.positions, axis=1) <= 25.0 + 1e-6)
    assert 0.1 < nc.surface_fraction() < 0.5
    assert np.allclose(np.linalg.norm(nc.normal[nc.surface], axis=1), 1.0)


def test_mos2_flake_has_whole_layers_of_c_over_2():
    crystal = get_crystal("MoS2")
    c = crystal.lattice.c
    assert layer_spacing(crystal, "001") == pytest.approx(c / 2, rel=1e-12)  # (001) forbidden, (002) allowed
    nc = cut_crystal(crystal, 6.0, shape="flake", layers=3, direction="001")
    assert nc.info["thickness_angstrom"] == pytest.approx(3 * c / 2, rel=1e-9)
    z = nc.positions[:, 2]
    mo = nc.symbols == "Mo"
    planes_mo = np.unique(np.round(z[mo], 6))
    np.testing.assert_allclose(np.diff(planes_mo), c / 2, rtol=1e-9)
    assert len(planes_mo) == 3
    # every layer is a whole S-Mo-S sandwich: two S planes per Mo plane, symmetric about it
    planes_s = np.unique(np.round(z[~mo], 6))
    assert len(planes_s) == 6
    np.testing.assert_allclose(planes_s.reshape(3, 2).mean(axis=1), planes_mo, atol=1e-6)
    expected = np.pi * 30.0**2 * 3 * c / 2 * _density(crystal)
    assert nc.n_atoms == pytest.approx(expected, rel=0.04)
    assert _fractions(nc)["Mo"] == pytest.approx(1 / 3, abs=0.01)
    # the outer S planes are {001} surface (their interlayer neighbours are missing), the middle layer is not
    outer = np.abs(z) > np.abs(z).max() - 1e-6
    interior = (np.abs(z) < c / 4) & (np.hypot(nc.positions[:, 0], nc.positions[:, 1]) < 20.0)
    assert np.all(nc.surface[outer]) and not np.any(nc.surface[interior])
    top = nc.facet == nc.facet_names.index("{001}")
    rim = np.hypot(nc.positions[:, 0], nc.positions[:, 1]) > 30.0 - nc.info["neighbour_cutoff_angstrom"]
    assert np.all(nc.symbols[top & ~rim] == "S") and np.all(top[outer & ~rim])
    np.testing.assert_allclose(np.abs(nc.normal[top][:, 2]), 1.0)


def test_graphite_flake_layers():
    crystal = get_crystal("graphite")
    nc = cut_crystal(crystal, 4.0, shape="flake", layers=4)
    planes = np.unique(np.round(nc.positions[:, 2], 6))
    assert len(planes) == 4
    np.testing.assert_allclose(np.diff(planes), crystal.lattice.c / 2, rtol=1e-9)
    assert nc.n_atoms == pytest.approx(np.pi * 20.0**2 * 2 * crystal.lattice.c * _density(crystal), rel=0.04)


def test_neighbour_cutoff_reaches_across_the_van_der_waals_gap():
    # graphite: the in-plane shells (1.42, 2.46, 2.84 Å) are flat; the first shell surrounding an atom in 3D
    # holds the atom of the next layer above and below (c/2 = 3.355 Å for the A site, √(c²/4 + a²/3) for B)
    graphite = get_crystal("graphite")
    a, c = graphite.lattice.a, graphite.lattice.c
    assert neighbour_cutoff(graphite) == pytest.approx(1.02 * np.hypot(c / 2, a / np.sqrt(3)), rel=1e-3)
    assert neighbour_cutoff(get_crystal("Si")) == pytest.approx(1.02 * np.sqrt(3) / 4 * 5.431020511, rel=1e-3)


def test_wulff_with_equal_energies_is_the_cubic_tetradecahedron():
    # {100} and {111} planes at one distance: the tetradecahedron with h100 = h111, t = 1 - 1/√3
    gold = get_structure("Au")
    dot = build_nanocrystal(gold, 4.0, truncation=1 - 1 / np.sqrt(3))
    nc = cut_crystal(get_crystal(gold), 4.0, shape="wulff", facet_energies={"100": 1.0, "111": 1.0})
    assert nc.n_atoms == dot.n_atoms
    ours = np.round(nc.positions, 6)
    theirs = np.round(dot.positions, 6)
    np.testing.assert_allclose(ours[np.lexsort(ours.T)], theirs[np.lexsort(theirs.T)], atol=1e-6)
    assert nc.facet_counts() == {k: v for k, v in dot.facet_counts().items() if v}


def test_wulff_hexagonal_prism_volume_and_energy_ratio():
    crystal = get_crystal("MoS2")
    equal = cut_crystal(crystal, 6.0, shape="wulff", facet_energies={"100": 1.0, "001": 1.0})
    # a hexagonal prism of apothem h and half-height h: V = 4√3 h³ = volume of the 6 nm sphere
    h = (np.pi / 6 * 60.0**3 / (4 * np.sqrt(3))) ** (1 / 3)
    dist = equal.info["plane_distances_angstrom"]
    assert dist["{100}"] == pytest.approx(h, rel=1e-9) and dist["{001}"] == pytest.approx(h, rel=1e-9)
    flat = cut_crystal(crystal, 6.0, shape="wulff", facet_energies={"100": 1.0, "001": 0.5})
    dist = flat.info["plane_distances_angstrom"]
    assert dist["{001}"] / dist["{100}"] == pytest.approx(0.5, rel=1e-12)
    for nc in (equal, flat):
        assert nc.n_atoms == pytest.approx(np.pi / 6 * 60.0**3 * _density(crystal), rel=0.04)
        assert np.abs(nc.positions[:, 2]).max() <= nc.info["plane_distances_angstrom"]["{001}"] + 1e-6
    assert np.ptp(flat.positions[:, 2]) < 0.6 * np.ptp(equal.positions[:, 2])


def test_per_facet_dynamics_on_a_flake():
    nc = cut_crystal(get_crystal("graphite"), 2.0, shape="flake", layers=2)
    s = np.linspace(0.3, 1.2, 40)
    hot = PeakDynamics(msd_amplitude_angstrom2=0.02, msd_tau_ps=0.1)
    cold = PeakDynamics()
    base = atomistic_series(nc, s, np.array([50.0]), {"core": cold})
    faces = atomistic_series(nc, s, np.array([50.0]), {"core": cold, "{001}": hot})
    edges = atomistic_series(nc, s, np.array([50.0]), {"core": cold, "edge": hot})
    # heating only surface atoms lowers the pattern where pair terms are positive, and the two facets differ
    assert not np.allclose(faces, base) and not np.allclose(edges, base) and not np.allclose(faces, edges)
    with pytest.raises(ConfigError, match="unknown atom group"):
        atomistic_series(nc, s, np.array([0.0]), {"core": cold, "{111}": hot})


def test_bad_input():
    mos2 = get_crystal("MoS2")
    with pytest.raises(InputError, match="unknown shape"):
        cut_crystal(mos2, 3.0, shape="cube")
    with pytest.raises(InputError, match="facet_energies"):
        cut_crystal(mos2, 3.0, shape="wulff")
    with pytest.raises(InputError, match="enclose"):
        cut_crystal(mos2, 3.0, shape="wulff", facet_energies={"001": 1.0})
    with pytest.raises(InputError, match="layers"):
        cut_crystal(mos2, 3.0, shape="flake")
    with pytest.raises(InputError, match="attach_cut"):
        attach(cut_crystal(mos2, 2.0, shape="flake", layers=1), (2, 1, 1))


def _peak(s, y, s0, half=0.03):
    """Position [Å⁻¹] and height of the maximum of ``y`` within ``half`` of ``s0`` (parabola through the top 3)."""
    sel = np.nonzero(np.abs(s - s0) < half)[0]
    k = sel[np.argmax(y[sel])]
    a, b, c = y[k - 1], y[k], y[k + 1]
    off = 0.5 * (a - c) / (a - 2 * b + c)
    return s[k] + off * (s[1] - s[0]), b - 0.25 * (a - c) * off


def test_per_axis_expansion_and_vibration_of_a_flake():
    """Truth per axis on a 10-layer MoS2 flake. For a hexagonal cell s² = (4/3a²)(h² + hk + k²) + l²/c², so a ring
    moves by Δs/s = −[(1 − w) ε_a + w ε_c] and its pair terms decay by exp(−4π²s²[(1 − w) Δ_a + w Δ_c]), with
    w = (l/c)²/s² the share of s² along c (002: w = 1, 100: w = 0, 103: w = 0.31)."""
    crystal = get_crystal("MoS2")
    nc = cut_crystal(crystal, 3.0, shape="flake", layers=10)
    rings = crystal_rings(crystal, 0.7)
    s = np.linspace(0.1, 0.7, 601)
    cold = PeakDynamics()
    eps, dmsd = 0.01, 0.03
    strained = PeakDynamics(strain_amplitude=eps, strain_tau_ps=0.1)
    hot = PeakDynamics(msd_amplitude_angstrom2=dmsd, msd_tau_ps=0.1)
    kw = {"axis": (0, 0, 1), "reflections": rings, "irf_fwhm_ps": 0.1}
    after = np.array([50.0])
    self_term = atomistic_series(nc, s, np.array([0.0]), {"core": cold}, msd_static_angstrom2=50.0)[0]
    pair = {name: atomistic_series(nc, s, after, {"core": plane}, axis_groups={"core": along}, **kw)[0] - self_term
            for name, plane, along in (("before", cold, cold), ("c strain", cold, strained),
                                       ("a strain", strained, cold), ("c msd", cold, hot), ("a msd", hot, cold))}
    for hkl in ((0, 0, 2), (1, 0, 0), (1, 0, 3)):
        s0 = float(crystal.lattice.s_of(hkl))
        w = (hkl[2] / crystal.lattice.c) ** 2 / s0**2
        p0, h0 = _peak(s, pair["before"], s0)
        shifts = {k: _peak(s, pair[k], s0)[0] / p0 - 1 for k in ("c strain", "a strain")}
        ratios = {k: _peak(s, pair[k], s0)[1] / h0 for k in ("c msd", "a msd")}
        print(hkl, round(w, 3), shifts, ratios)
        assert shifts["c strain"] == pytest.approx(-w * eps, abs=0.05 * eps)
        assert shifts["a strain"] == pytest.approx(-(1 - w) * eps, abs=0.05 * eps)
        assert ratios["c msd"] == pytest.approx(np.exp(-4 * np.pi**2 * s0**2 * w * dmsd), rel=0.01)
        assert ratios["a msd"] == pytest.approx(np.exp(-4 * np.pi**2 * s0**2 * (1 - w) * dmsd), rel=0.01)
    with pytest.raises(ConfigError, match="axis_groups"):
        atomistic_series(nc, s, after, {"core": cold}, axis=(0, 0, 1))


def _ring_fwhm(nc, s, lo, hi):
    """FWHM [Å⁻¹] of the Debye pattern's ring between ``lo`` and ``hi`` above the straight line through its ends."""
    y = debye_intensity(nc.positions, nc.species, nc.elements, s)
    m = (s > lo) & (s < hi)
    z = y[m] - np.linspace(y[m][0], y[m][-1], int(m.sum()))
    above = np.flatnonzero(z > z.max() / 2)
    return s[m][above[-1]] - s[m][above[0]]


def test_attached_flakes_share_one_lattice():
    """MoS2 flakes attached along a are one crystal in-plane: the in-plane rings narrow with every flake added (a
    longer coherent length), the (002) ring, set by the unchanged thickness, does not."""
    mos2 = get_crystal("MoS2")
    flake = cut_crystal(mos2, 4.0, shape="flake", layers=3)
    models = {n: attach_cut(flake, mos2, (n, 1, 1)) if n > 1 else flake for n in (1, 2, 3)}
    shift = np.array(models[2].info["translations_angstrom"][1])
    assert np.allclose(shift, models[2].info["cells_per_copy"][0] * cartesian_basis(mos2)[0])
    s = np.linspace(0.1, 0.75, 1300)
    width = {n: {ring: _ring_fwhm(nc, s, *span) for ring, span in (("002", (0.12, 0.21)), ("110", (0.58, 0.69)))}
             for n, nc in models.items()}
    print(width)
    assert width[3]["110"] < 0.8 * width[2]["110"] < 0.8**2 * width[1]["110"]
    for n in (2, 3):
        assert width[n]["002"] == pytest.approx(width[1]["002"], rel=0.05)


def test_attachment_contact_atoms_become_core():
    mos2 = get_crystal("MoS2")
    flake = cut_crystal(mos2, 3.0, shape="flake", layers=3)
    pair = attach_cut(flake, mos2, (2, 1, 1))
    # shared sites are kept once: no two atoms closer than the crystal's shortest bond
    d, _ = cKDTree(pair.positions).query(pair.positions, k=2)
    assert d[:, 1].min() > 2.0
    shift = np.array(pair.info["translations_angstrom"][1])
    n_shared = len({tuple(p) for p in np.round(flake.positions, 3)} & {tuple(p) for p in np.round(flake.positions + shift, 3)})
    assert pair.n_atoms == 2 * flake.n_atoms - n_shared and n_shared > 0
    # atoms within one neighbour shell of the other copy lost their surface tag; far from the contact nothing changed
    cutoff = neighbour_cutoff(mos2)
    other = [cKDTree(pair.positions[pair.dot == 1 - k]) for k in (0, 1)]
    near = np.array([other[k].query(p)[0] < 0.5 * cutoff for p, k in zip(pair.positions, pair.dot, strict=True)])
    far = np.array([other[k].query(p)[0] > 2 * cutoff for p, k in zip(pair.positions, pair.dot, strict=True)])
    edge = pair.facet_names.index("edge")
    assert not np.any(pair.facet[near] == edge)
    single_edge = (flake.facet == edge).sum()
    assert (pair.facet[far] == edge).sum() < 2 * single_edge and (pair.facet[far] == edge).sum() > single_edge
    with pytest.raises(InputError, match="cut_crystal"):
        attach_cut(build_nanocrystal(get_structure("PbSe"), 3.0), mos2, (2, 1, 1))
    with pytest.raises(InputError, match="grid"):
        attach_cut(flake, mos2, (0, 1, 1))
