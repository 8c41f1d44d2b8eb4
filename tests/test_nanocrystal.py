"""Atomistic nanocrystal builder: shapes, surface/facet tags, oriented attachment."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from uedflow.crystal import get_structure
from uedflow.errors import InputError
from uedflow.simulate.nanocrystal import FACETS, attach, build_nanocrystal, size_distribution

PBSE = get_structure("PbSe")
NN = PBSE.a_angstrom / 2


def _coordination(pos):
    tree = cKDTree(pos)
    return np.array([len(x) for x in tree.query_ball_point(pos, NN * 1.1)]) - 1


@pytest.mark.parametrize("shape", ["tetradecahedron", "sphere", "cube"])
def test_atom_count_matches_volume_and_stoichiometry(shape):
    nc = build_nanocrystal(PBSE, 5.5, shape=shape)
    # equal volume to a 5.5 nm sphere: N ~ 8 atoms per a^3
    expected = 8 * (np.pi / 6 * 55.0**3) / PBSE.a_angstrom**3
    assert nc.n_atoms == pytest.approx(expected, rel=0.12)
    n_pb = np.sum(nc.symbols == "Pb")
    # polar {111} facets are terminated by one element, so tetradecahedra are off-stoichiometric
    assert abs(2 * n_pb - nc.n_atoms) <= (0.1 if shape == "tetradecahedron" else 0.03) * nc.n_atoms
    # surface atoms are exactly the under-coordinated ones (rock salt bulk: 6 neighbours)
    coord = _coordination(nc.positions)
    np.testing.assert_array_equal(nc.surface, coord < 6)
    assert np.all(nc.facet[~nc.surface] == 0) and np.all(nc.facet[nc.surface] > 0)
    assert np.allclose(np.linalg.norm(nc.normal[nc.surface], axis=1), 1.0)


def test_tetradecahedron_geometry_and_facets():
    nc = build_nanocrystal(PBSE, 5.5, truncation=1 / 3)
    planes = nc.info["plane_distances_angstrom"]
    assert np.max(np.abs(nc.positions)) <= planes["{100}"] + 1e-6
    assert np.max(np.sum(np.abs(nc.positions), axis=1)) / np.sqrt(3) <= planes["{111}"] + 1e-6
    # regular truncated octahedron: h100 / h111 = 2 / sqrt(3)
    assert planes["{100}"] / planes["{111}"] == pytest.approx(2 / np.sqrt(3))
    proj111 = np.sum(np.abs(nc.positions), axis=1) / np.sqrt(3)
    outer111 = proj111 > proj111.max() - 0.1
    assert len(set(nc.symbols[outer111])) == 1  # polar {111} facets: a single-element layer
    counts = nc.facet_counts()
    assert counts["{100}"] > 0 and counts["{111}"] > 0 and counts["{110}"] == 0
    # {100} facet atoms lie on the outermost {100} planes, their normals point outwards
    f100 = nc.facet == FACETS.index("{100}")
    proj = np.sum(nc.positions[f100] * nc.normal[f100], axis=1)
    assert np.all(proj > planes["{100}"] - PBSE.a_angstrom)
    # an octahedron-like dot (t small) has relatively fewer {100} facet atoms
    sharp = build_nanocrystal(PBSE, 5.5, truncation=0.1).facet_counts()
    assert sharp["{100}"] / sharp["{111}"] < counts["{100}"] / counts["{111}"]


def test_cube_has_only_100_facets_and_sphere_radius():
    cube = build_nanocrystal(PBSE, 4.0, shape="cube").facet_counts()
    assert cube["{110}"] == cube["{111}"] == 0 and cube["{100}"] > 0
    sphere = build_nanocrystal(PBSE, 4.0, shape="sphere")
    assert np.max(np.linalg.norm(sphere.positions, axis=1)) <= 20.0 + 1e-6
    assert np.max(np.linalg.norm(sphere.positions, axis=1)) > 20.0 - NN


def test_dimer_fuses_shared_100_facet():
    single = build_nanocrystal(PBSE, 5.5)
    dimer = attach(single, (2, 1, 1))
    x_max = single.positions[:, 0].max()
    facet_plane = np.sum(np.isclose(single.positions[:, 0], x_max))
    assert dimer.n_atoms == 2 * single.n_atoms - facet_plane
    interface = np.isclose(dimer.positions[:, 0], x_max)
    # the shared facet atoms are fully coordinated now, hence core
    assert interface.sum() == facet_plane and not np.any(dimer.surface[interface & (np.hypot(dimer.positions[:, 1], dimer.positions[:, 2]) < 8)])
    assert dimer.surface_fraction() < single.surface_fraction()
    np.testing.assert_array_equal(dimer.surface, _coordination(dimer.positions) < 6)
    assert set(np.unique(dimer.dot)) == {0, 1}


def test_chain_and_50k_atom_array():
    single = build_nanocrystal(PBSE, 6.0)
    chain = attach(single, (3, 1, 1))
    assert chain.info["assembly_grid"] == [3, 1, 1]
    array = attach(single, (4, 4, 1))
    assert int(array.dot.max()) + 1 == 16 and array.n_atoms >= 50_000
    # fewer {100} facet atoms per dot than isolated dots (attached facets disappear)
    assert array.facet_counts()["{100}"] / 16 < single.facet_counts()["{100}"]


@pytest.mark.parametrize("element", ["Pb", "Se"])
def test_111_facets_terminated_by_the_chosen_element(element):
    """Every {111} plane of rock salt is one element: the outermost {111} layer is the chosen one, and
    Pb termination makes the dot Pb-rich (as colloidal PbSe dots are); the cut's own termination is
    left as built."""
    def outer_111(dot):
        depth = np.abs(dot.positions).sum(axis=1)
        return set(dot.symbols[depth > depth.max() - 1e-3])

    st = get_structure("PbSe")
    plain = build_nanocrystal(st, 5.5)
    nc = build_nanocrystal(st, 5.5, termination_111=element)
    assert outer_111(nc) == {element}
    n = {e: int((nc.symbols == e).sum()) for e in ("Pb", "Se")}
    if outer_111(plain) == {element}:
        np.testing.assert_array_equal(nc.positions, plain.positions)
    else:  # one {111} layer (and its edges) fewer, all of the other element
        assert nc.n_atoms < plain.n_atoms and n[element] == int((plain.symbols == element).sum())
    assert (n["Pb"] > n["Se"]) == (element == "Pb")
    assert nc.info["termination_111"] == element


def test_termination_needs_111_facets_of_one_element():
    with pytest.raises(InputError, match="a sphere has none"):
        build_nanocrystal(get_structure("PbSe"), 4.0, shape="sphere", termination_111="Pb")
    with pytest.raises(InputError, match="'Au' is not an element"):
        build_nanocrystal(get_structure("PbSe"), 4.0, termination_111="Au")
    cu3au = get_structure({"species": ["Au", "Cu", "Cu", "Cu"], "positions": [[0, 0, 0], [0, .5, .5], [.5, 0, .5],
                                                                            [.5, .5, 0]], "a_angstrom": 3.75})
    with pytest.raises(InputError, match="mixes elements"):
        build_nanocrystal(cu3au, 3.0, termination_111="Au")


def test_size_distribution_moments():
    d, w = size_distribution(5.5, 0.6, n_points=5)
    assert np.sum(w) == pytest.approx(1.0)
    assert np.sum(w * d) == pytest.approx(5.5)
    assert np.sum(w * (d - 5.5) ** 2) == pytest.approx(0.36)
    assert np.sum(w * (d - 5.5) ** 4) == pytest.approx(3 * 0.6**4)


def test_bad_input():
    with pytest.raises(InputError, match="smaller than one unit cell"):
        build_nanocrystal(PBSE, 0.3)
    with pytest.raises(InputError, match="shape"):
        build_nanocrystal(PBSE, 3.0, shape="pyramid")
    with pytest.raises(InputError, match="truncation"):
        build_nanocrystal(PBSE, 3.0, truncation=0.9)
    with pytest.raises(InputError, match="grid"):
        attach(build_nanocrystal(PBSE, 3.0), (0, 1, 1))
