"""Electron scattering factors and structure factors against independent references.

References: scikit-ued's ``affe`` / ``structure_factor`` (Kirkland parameterisation,
GPL: called here only as a reference), the exact Mott–Bethe large-s limit, and
analytic structure factors of simple lattices.
"""

from __future__ import annotations

import numpy as np
import pytest

from uedflow.constants import ATOMIC_NUMBER
from uedflow.crystal import (
    LOBATO_PARAMETERS,
    MATERIALS,
    electron_scattering_factor,
    get_structure,
    powder_ring_intensities,
    structure_factor,
)
from uedflow.errors import CrystalError

BOHR_ANGSTROM = 0.529177210903  # CODATA 2018
MATERIAL_ELEMENTS = sorted({el for _, els, _, _ in MATERIALS.values() for el in els} | {"Te", "Cd", "O"})


def test_all_material_elements_have_parameters():
    assert {"Pb", "Se", "S", "Te", "Cd", "Na", "Cl", "Au", "Si", "O"} <= set(LOBATO_PARAMETERS)
    assert set(ATOMIC_NUMBER) <= set(LOBATO_PARAMETERS)


@pytest.mark.parametrize("element", sorted(LOBATO_PARAMETERS))
def test_mott_bethe_tail(element):
    # f_e(s) -> Z / (2 pi^2 a0 s^2) for s -> infinity (s = 1/d); checks every coefficient pair
    s = 1.0e4
    expected = ATOMIC_NUMBER[element] / (2 * np.pi**2 * BOHR_ANGSTROM * s**2)
    assert electron_scattering_factor(element, s) == pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize("element", MATERIAL_ELEMENTS)
def test_against_kirkland_via_skued(element):
    skued = pytest.importorskip("skued")
    s = np.linspace(0.0, 2.0, 81)
    ours = electron_scattering_factor(element, s)
    # skued.affe takes |G| = 4 pi sin(theta)/lambda = 2 pi s; Kirkland and Lobato agree to ~2 %
    ref = skued.affe(element, 2 * np.pi * s)
    np.testing.assert_allclose(ours, ref, rtol=0.025)


def test_structure_factors_match_skued():
    skued = pytest.importorskip("skued")
    crystals = pytest.importorskip("crystals")
    for name in ("PbSe", "CdSe", "NaCl"):
        st = get_structure(name)
        cr = crystals.Crystal([crystals.Atom(e, c) for e, c in zip(st.species, st.positions, strict=True)],
                              lattice_vectors=np.eye(3) * st.a_angstrom)
        for hkl in [(1, 1, 1), (2, 0, 0), (2, 2, 0), (3, 1, 1), (2, 2, 2), (4, 0, 0), (3, 3, 1)]:
            ref = complex(np.asarray(skued.structure_factor(cr, *hkl)).ravel()[0])
            ours = structure_factor(st, hkl)
            # tolerance relative to sum_j |f_j|: differences like f_Cd - f_Se in (200) amplify the
            # parameterisations' ~1 % differences
            s = np.sqrt(np.dot(hkl, hkl)) / st.a_angstrom
            scale = sum(float(electron_scattering_factor(el, s)) for el in st.species)
            assert abs(ours - ref) <= 0.015 * scale, (name, hkl, ours, ref)


def test_fcc_and_rocksalt_analytic():
    au = get_structure("Au")
    s111 = np.sqrt(3) / au.a_angstrom
    assert structure_factor(au, (1, 1, 1)) == pytest.approx(4 * electron_scattering_factor("Au", s111))
    pbse = get_structure("PbSe")
    s200 = 2 / pbse.a_angstrom
    f = 4 * (electron_scattering_factor("Pb", s200) + electron_scattering_factor("Se", s200))
    assert structure_factor(pbse, "200").real == pytest.approx(f)
    s111 = np.sqrt(3) / pbse.a_angstrom
    f = 4 * (electron_scattering_factor("Pb", s111) - electron_scattering_factor("Se", s111))
    assert structure_factor(pbse, "111").real == pytest.approx(f)


def test_debye_waller_and_ring_intensities():
    pbse = get_structure("PbSe")
    u2 = 0.02
    rings = dict((r.label, (r, v)) for r, v in powder_ring_intensities(pbse, 0.7))
    rings_dw = dict((r.label, v) for r, v in powder_ring_intensities(pbse, 0.7, msd_angstrom2=u2))
    for label, (ref, value) in rings.items():
        assert rings_dw[label] / value == pytest.approx(np.exp(-4 * np.pi**2 * u2 * ref.s_inv_angstrom**2))
        assert value == pytest.approx(ref.multiplicity * abs(structure_factor(pbse, ref.hkl)) ** 2)
    assert rings["200"][0].multiplicity == 6 and rings["111"][0].multiplicity == 8
    lor = dict((r.label, v) for r, v in powder_ring_intensities(pbse, 0.7, lorentz=True))
    assert lor["220"] == pytest.approx(rings["220"][1] / rings["220"][0].s_inv_angstrom ** 2)


def test_bad_input():
    with pytest.raises(CrystalError, match="Xx"):
        electron_scattering_factor("Xx", 0.1)
    with pytest.raises(CrystalError, match="msd"):
        structure_factor(get_structure("PbSe"), "200", msd_angstrom2=-1)
