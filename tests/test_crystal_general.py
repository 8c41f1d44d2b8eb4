"""Crystals of any space group: built-ins, CIF reading/writing, reflection families, `uedflow crystal`.

Independent truths: the cubic rules of the existing cubic code, analytic hexagonal and monoclinic d-spacings, the
Debye–Waller factor of an anisotropic U in closed form, and scikit-ued/crystals (GPL: called here only as a peer)
computing structure factors of the same COD CIF files, read in place from the installed crystals package.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from uedflow.crystal import (
    CRYSTALS,
    Crystal,
    Lattice,
    Site,
    crystal_to_cif,
    get_crystal,
    get_structure,
    parse_cif,
    read_cif,
    reflection_families,
    reflections,
    structure_factors,
)
from uedflow.errors import CrystalError, InputError


def _cod_cif(name: str) -> str:
    crystals = pytest.importorskip("crystals")
    return os.path.join(os.path.dirname(crystals.__file__), "cifs", f"{name}.cif")


@pytest.mark.parametrize("name", ["Au", "Al", "Si"])
def test_cubic_builtins_follow_the_cubic_rules(name):
    crystal = get_crystal(name)
    fams = reflection_families(crystal, 1.5)
    cubic = reflections(get_structure(name, a_angstrom=crystal.lattice.a), 1.5)
    assert [(f.hkl, f.multiplicity) for f in fams] == [(r.hkl, r.multiplicity) for r in cubic]
    np.testing.assert_allclose([f.s_inv_angstrom for f in fams], [r.s_inv_angstrom for r in cubic], rtol=1e-12)


@pytest.mark.parametrize("name", ["PbSe", "CdSe"])
def test_cubic_structures_convert_with_their_space_group(name):
    structure = get_structure(name)
    crystal = get_crystal(structure)
    assert crystal.space_group_symbol == {"PbSe": "Fm-3m", "CdSe": "F-43m"}[name]
    assert len(crystal.sites) == 2 and len(crystal.species) == 8
    fams = reflection_families(crystal, 1.0)
    assert [(f.hkl, f.multiplicity) for f in fams] == [(r.hkl, r.multiplicity) for r in reflections(structure, 1.0)]
    back = crystal.to_structure()
    assert back.a_angstrom == structure.a_angstrom and sorted(back.species) == sorted(structure.species)
    with pytest.raises(CrystalError, match="not cubic"):
        get_crystal("Bi").to_structure()


@pytest.mark.parametrize("name", ["graphite", "Bi", "MoS2", "CdSe-wurtzite"])
def test_hexagonal_d_spacings_are_analytic(name):
    crystal = get_crystal(name)
    a, c = crystal.lattice.a, crystal.lattice.c
    for f in reflection_families(crystal, 1.2):
        h, k, l = f.hkl
        s2 = 4.0 / 3.0 * (h * h + h * k + k * k) / a**2 + l * l / c**2
        assert f.s_inv_angstrom == pytest.approx(np.sqrt(s2), rel=1e-12)


def test_monoclinic_d_spacings_are_analytic():
    crystal = get_crystal("VO2-M1")
    a, b, c, beta = crystal.lattice.a, crystal.lattice.b, crystal.lattice.c, np.radians(crystal.lattice.beta)
    fams = reflection_families(crystal, 1.0)
    for f in fams:
        h, k, l = f.hkl
        s2 = (h * h / a**2 + k * k * np.sin(beta) ** 2 / b**2 + l * l / c**2 - 2 * h * l * np.cos(beta) / (a * c))
        assert f.s_inv_angstrom == pytest.approx(np.sqrt(s2 / np.sin(beta) ** 2), rel=1e-12)
    # P2_1/c extinctions (h0l: l odd, 0k0: k odd) and 2/m multiplicities (2 on the axes/mirror, else 4)
    for f in fams:
        h, k, l = f.hkl
        assert not (k == 0 and l % 2) and not (h == l == 0 and k % 2)
        assert f.multiplicity == (2 if k == 0 or (h == 0 and l == 0) else 4)


def test_hexagonal_and_rhombohedral_rules():
    graphite = {f.hkl: f.multiplicity for f in reflection_families(get_crystal("graphite"), 1.0)}
    assert graphite[(0, 0, 2)] == 2 and graphite[(1, 0, 0)] == 6 and graphite[(1, 0, 1)] == 12
    assert (0, 0, 1) not in graphite and (0, 0, 3) not in graphite  # 6_3 screw: 00l with l odd absent
    assert all(l % 2 == 0 for (h, k, l) in graphite if h == k)  # c glide: hhl with l odd absent
    for f in reflection_families(get_crystal("Bi"), 1.2):  # R centring (obverse): -h + k + l = 3n
        h, k, l = f.hkl
        assert (-h + k + l) % 3 == 0


@pytest.mark.parametrize("name", ["Bi", "vo2-m1", "vo2-rutile", "C"])
def test_structure_factors_match_scikit_ued(name):
    skued = pytest.importorskip("skued")
    import crystals

    path = _cod_cif(name)
    peer = crystals.Crystal.from_cif(path)
    ours = read_cif(path)
    assert len(ours.species) == len(peer)
    s_max = 1.0
    hkl = ours.lattice.hkl_within(s_max)
    f_peer = np.array([abs(skued.structure_factor(peer, *h))[0] for h in hkl])
    sum_f = np.array([sum(skued.affe(a, 2 * np.pi * s) for a in peer) for s in ours.lattice.s_of(hkl)])
    allowed = f_peer > 1e-3 * sum_f  # COD coordinates such as 0.333 leave 1e-5 of forbidden reflections
    fams = reflection_families(ours, s_max)
    assert sum(f.multiplicity for f in fams) == allowed.sum()
    # same |F| up to the form-factor parameterisation (Lobato vs Kirkland, ~1 %), no Debye-Waller on either side
    ratio = np.abs(structure_factors(ours, hkl[allowed], debye_waller=False)) / f_peer[allowed]
    assert np.all(np.abs(ratio - 1) < 0.03), (ratio.min(), ratio.max())


def test_anisotropic_debye_waller_in_closed_form():
    # COD graphite: U11 = U22 = 2 U12 = 0.0031 Å² on both sites -> in-plane <u²> = U11; along c U33 = 0.016 (C1)
    # and 0.017 Å² (C2), and every atom scatters (00l) with l even in phase: the mean of the two factors
    graphite = read_cif(_cod_cif("C"))
    hkl = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 2], [0, 0, 4]])
    s = graphite.lattice.s_of(hkl)
    ratio = np.abs(structure_factors(graphite, hkl)) / np.abs(structure_factors(graphite, hkl, debye_waller=False))
    along_c = 0.5 * (np.exp(-2 * np.pi**2 * 0.016 * s[2:] ** 2) + np.exp(-2 * np.pi**2 * 0.017 * s[2:] ** 2))
    np.testing.assert_allclose(ratio, np.r_[np.exp(-2 * np.pi**2 * 0.0031 * s[:2] ** 2), along_c], rtol=1e-9)


def test_u_is_rotated_onto_equivalent_sites():
    # rutile O at 4f (x, x, 0) with U12 != 0: the 4_2 images carry -U12; unrotated U would break the 4/mmm
    # equivalence of (h k l) and (k -h l) and split the families
    plain = get_crystal("VO2-R")
    o = Site("O", (0.3001, 0.3001, 0.0), u_aniso=(0.01, 0.01, 0.004, 0.005, 0.0, 0.0))
    crystal = Crystal("VO2-R", plain.lattice, "P42/mnm", (Site("V", (0, 0, 0), b_iso_angstrom2=0.5), o))
    u12 = sorted(crystal.u_cif[np.array(crystal.species) == "O"][:, 0, 1].tolist())
    np.testing.assert_allclose(u12, [-0.005, -0.005, 0.005, 0.005])
    with_u = reflection_families(crystal, 1.0)
    assert [(f.hkl, f.multiplicity) for f in with_u] == [(f.hkl, f.multiplicity)
                                                        for f in reflection_families(plain, 1.0)]
    pair = np.array([[3, 1, 1], [1, -3, 1]])
    f = np.abs(structure_factors(crystal, pair))
    assert f[0] == pytest.approx(f[1], rel=1e-12)
    # the same cell with the generator's U copied unrotated onto every O site breaks the equivalence
    sites = [Site(el, tuple(p), u_aniso=(0.01, 0.01, 0.004, 0.005, 0.0, 0.0) if el == "O" else None,
                  b_iso_angstrom2=0.5 if el == "V" else 0.0)
             for el, p in zip(crystal.species, crystal.positions, strict=True)]
    unrotated = np.abs(structure_factors(Crystal("P1 copy", plain.lattice, "P1", tuple(sites)), pair))
    assert abs(unrotated[0] / unrotated[1] - 1) > 1e-3


def test_bad_cells_are_refused():
    with pytest.raises(CrystalError, match="positive"):
        Lattice(0, 3, 3)
    with pytest.raises(CrystalError, match="between 0 and 180"):
        Lattice(3, 3, 3, 90, 90, 180)
    with pytest.raises(CrystalError, match="do not form a cell"):
        Lattice(3, 3, 3, 30, 30, 90)
    with pytest.raises(CrystalError, match="occupancy"):
        Site("Si", (0, 0, 0), occupancy=1.5)


@pytest.mark.parametrize("name", [*CRYSTALS, "PbSe"])
def test_cif_round_trip_gives_identical_reflections(name):
    crystal = get_crystal(name)
    back = parse_cif(crystal_to_cif(crystal), name=name)
    assert back.space_group_number == crystal.space_group_number
    a, b = reflection_families(crystal, 1.2), reflection_families(back, 1.2)
    assert [(f.hkl, f.multiplicity) for f in a] == [(f.hkl, f.multiplicity) for f in b]
    np.testing.assert_allclose([f.s_inv_angstrom for f in b], [f.s_inv_angstrom for f in a], rtol=1e-13)
    np.testing.assert_allclose([f.f2_angstrom2 for f in b], [f.f2_angstrom2 for f in a], rtol=1e-10)


def test_cif_round_trip_keeps_occupancy_b_and_u(tmp_path):
    lat = Lattice(4.0, 4.0, 6.0, 90, 90, 120)
    crystal = Crystal("test", lat, "P63/mmc", (
        Site("Mo", (1 / 3, 2 / 3, 0.25), occupancy=0.9, b_iso_angstrom2=0.4),
        Site("S", (1 / 3, 2 / 3, 0.62), u_aniso=(0.01, 0.01, 0.03, 0.005, 0.0, 0.0))))
    path = tmp_path / "x.cif"
    path.write_text(crystal_to_cif(crystal))
    back = read_cif(path)
    np.testing.assert_allclose(back.u_cif, crystal.u_cif, atol=1e-15)
    np.testing.assert_allclose(back.occupancies, crystal.occupancies)
    a, b = reflection_families(crystal, 1.0), reflection_families(back, 1.0)
    np.testing.assert_allclose([f.f2_angstrom2 for f in b], [f.f2_angstrom2 for f in a], rtol=1e-10)


def test_bad_inputs_are_clear(tmp_path):
    with pytest.raises(InputError, match="not found"):
        get_crystal(str(tmp_path / "missing.cif"))
    bad = tmp_path / "bad.cif"
    bad.write_text("data_x\n_cell_length_a 3\n")
    with pytest.raises(CrystalError, match="bad.cif"):
        read_cif(bad)
    with pytest.raises(CrystalError, match="unknown material"):
        get_crystal("unobtainium")
    with pytest.raises(CrystalError, match="space group"):
        Crystal("x", Lattice(3, 3, 3), "Q99", (Site("Si", (0, 0, 0)),))


def test_crystal_cli_lists_families(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-m", "uedflow", "crystal", "Bi", "--s-max", "0.45", "--csv",
                          "--write-cif", str(tmp_path / "bi.cif")], capture_output=True, text=True, env=env, check=True)
    rows = [line.split(",")[1:] for line in out.stdout.strip().splitlines()]  # first column: the material
    assert rows[0][:7] == ["ring", "h", "k", "l", "d_angstrom", "s_inv_angstrom", "multiplicity"]
    assert {line.split(",")[0] for line in out.stdout.strip().splitlines()[1:]} == {"Bi"}
    assert [tuple(map(int, r[1:4])) for r in rows[1:]] == [(0, 0, 3), (1, 0, 1), (0, 1, 2), (1, 0, 4), (1, 1, 0)]
    assert float(rows[3][8]) == 100.0  # (012) is bismuth's strongest ring
    assert float(rows[5][5]) == pytest.approx(2 / 4.546, rel=1e-3)  # (110): s = 2/a
    fams = reflection_families(read_cif(tmp_path / "bi.cif"), 0.45)
    assert [f.hkl for f in fams] == [tuple(map(int, r[1:4])) for r in rows[1:]]


def test_sample_cif_in_the_experiment_file(tmp_path):
    from uedflow.config import load_experiment
    from uedflow.crystal import sample_structure

    (tmp_path / "cif").mkdir()
    (tmp_path / "cif" / "pbse.cif").write_text(crystal_to_cif(get_crystal(get_structure("PbSe"))))
    (tmp_path / "bi.cif").write_text(crystal_to_cif(get_crystal("Bi")))
    head = '[experiment]\nmanifest = "frames.csv"\n[beam]\nenergy_keV = 90\n[sample]\n'
    (tmp_path / "a.toml").write_text(head + 'cif = "cif/pbse.cif"\nlattice_constant_angstrom = 6.2\n')
    exp = load_experiment(tmp_path / "a.toml")
    assert exp.sample.cif == str(tmp_path / "cif" / "pbse.cif")
    got, want = sample_structure(exp.sample), get_structure("PbSe", a_angstrom=6.2)
    assert got.a_angstrom == 6.2 and sorted(got.species) == sorted(want.species)
    assert [(r.hkl, r.multiplicity) for r in reflections(got, 1.0)] == [(r.hkl, r.multiplicity)
                                                                       for r in reflections(want, 1.0)]
    (tmp_path / "b.toml").write_text(head + 'cif = "bi.cif"\n')
    with pytest.raises(CrystalError, match="not cubic"):
        sample_structure(load_experiment(tmp_path / "b.toml").sample)
    (tmp_path / "c.toml").write_text(head + 'material = "graphite"\n')
    with pytest.raises(CrystalError, match="not cubic"):
        sample_structure(load_experiment(tmp_path / "c.toml").sample)
