"""Crystallography against textbook values (International Tables, rock-salt rules)."""

import numpy as np
import pytest

from uedflow.crystal import direction_family, get_structure, multiplicity, parse_hkl, reflections, s_of_hkl
from uedflow.errors import CrystalError


def test_rocksalt_reflections_all_even_or_all_odd():
    refl = reflections(get_structure("PbSe"), 1.0)
    for r in refl:
        parity = {i % 2 for i in r.hkl}
        assert len(parity) == 1, r.hkl
    labels = [r.label for r in refl][:8]
    assert labels == ["111", "200", "220", "311", "222", "400", "331", "420"]


def test_diamond_extinctions():
    labels = {r.label for r in reflections(get_structure("Si"), 0.8)}
    assert "111" in labels and "220" in labels
    assert "200" not in labels and "222" not in labels  # (222) forbidden in diamond


def test_s_values_and_spacing_of_311_222():
    a = 6.12
    assert s_of_hkl("200", a) == pytest.approx(2 / a)
    # the paper's close pair: (311) and (222) are 0.024 Å⁻¹ apart
    assert s_of_hkl("222", a) - s_of_hkl("311", a) == pytest.approx(0.0240, abs=5e-4)


@pytest.mark.parametrize(("hkl", "m"), [((1, 0, 0), 6), ((1, 1, 0), 12), ((1, 1, 1), 8), ((2, 1, 0), 24), ((3, 1, 1), 24), ((3, 2, 1), 48)])
def test_multiplicities(hkl, m):
    assert multiplicity(hkl) == m


def test_families_and_parsing():
    assert parse_hkl("(0 -2 0)") == (2, 0, 0)
    assert direction_family("440") == "<110>"
    assert direction_family((3, 3, 3)) == "<111>"
    assert direction_family("420") == "(420)"
    with pytest.raises(CrystalError, match="Miller"):
        parse_hkl("abc")


def test_unknown_material_names_the_fix():
    with pytest.raises(CrystalError, match="built-in materials"):
        get_structure("Unobtainium")


def test_custom_structure_and_noncubic_rejected():
    s = get_structure({"species": ["Au"] * 4, "positions": [[0, 0, 0], [0, .5, .5], [.5, 0, .5], [.5, .5, 0]], "a_angstrom": 4.078})
    assert [r.label for r in reflections(s, 0.9)] == ["111", "200", "220", "311", "222"]
    with pytest.raises(CrystalError, match="non-cubic"):
        get_structure({"species": ["Au"], "positions": [[0, 0, 0]], "a_angstrom": 4.0, "cell": [4, 4, 5, 90, 90, 90]})
    assert np.isclose(get_structure("PbS").a_angstrom, 5.94)
