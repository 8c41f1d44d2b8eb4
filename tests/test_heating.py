"""Laser heating: photon counting, cross-section model, Debye energy balance, the paper's numbers."""

import json
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from uedflow.errors import CrystalError, InputError
from uedflow.physics.heating import (
    absorption_cross_section_cm2,
    atoms_per_dot,
    bulk_optical_constants,
    laser_heating,
    photons_per_cm2,
    temperature_rise_debye,
)

PAPER = json.loads((Path(__file__).parent / "data" / "physics_reference.json").read_text())["paper"]
NK = json.loads((Path(__file__).parent / "data" / "physics_reference.json").read_text())["pbse_optical_constants_800nm"]


def test_paper_conditions_with_50_excitons():
    """Yue et al. 2024: 3.6 mJ/cm², 800 nm, 5.5 nm PbSe at 90 K, Θ_D = 250 K, ~50 excitons → ~150 K."""
    r = laser_heating(
        PAPER["fluence_mJ_cm2"], PAPER["diameter_nm"], PAPER["base_temperature_K"],
        wavelength_nm=PAPER["wavelength_nm"], debye_temperature_K=PAPER["debye_temperature_K"],
        excitons_per_dot=PAPER["excitons_per_dot"],
    )
    assert 100.0 < r.rise_K < 200.0
    # energy conservation: heat = 50 × 1.5498 eV, stored by 3040 atoms with the Debye U(T)
    assert_allclose(r.energy_per_dot_eV, 50 * 1.23984198 / 0.8, rtol=1e-6)
    assert round(r.n_atoms) == 3040
    # Debye C_V(T) < 3k_B so ΔT exceeds the Dulong-Petit estimate, but is below constant C_V(90 K)
    assert r.rise_dulong_petit_K < r.rise_K < r.rise_constant_cv_K
    assert "excitons/dot" in r.message
    text = r.table()
    for needle in ("3.6 mJ/cm²", "800 nm", "5.5 nm", "90.0 K", "250.0 K", "50.0", "temperature rise"):
        assert needle in text
    assert json.dumps(r.summary())


def test_photons_and_atoms():
    # 3.6 mJ/cm² of 1.5498 eV photons
    assert_allclose(photons_per_cm2(3.6, 800.0), 3.6e-3 / (1.549802 * 1.602176634e-19), rtol=1e-6)
    # rock salt: 8 atoms per a³
    assert_allclose(atoms_per_dot("PbSe", 10.0), np.pi / 6 * 1000 * 8 / 0.612**3, rtol=1e-12)


def test_cross_section_model_limits():
    n, k, src = bulk_optical_constants("PbSe", 800.0)
    assert_allclose([n, k], [NK["n"], NK["k"]], atol=2e-3)
    assert "Suzuki" in src
    # σ ∝ d³ and, for a non-absorbing host of index 1, σ = V (2π/λ) |3/(ε+2)|² Im ε
    s1 = absorption_cross_section_cm2("PbSe", 4.0, 800.0, host_index=1.0)
    s2 = absorption_cross_section_cm2("PbSe", 8.0, 800.0, host_index=1.0)
    assert_allclose(s2 / s1, 8.0, rtol=1e-12)
    eps = complex(n, k) ** 2
    expected = np.pi / 6 * (4e-7) ** 3 * 2 * np.pi / 800e-7 * abs(3 / (eps + 2)) ** 2 * eps.imag
    assert_allclose(s1, expected, rtol=1e-12)
    # larger host index → stronger local field → larger σ (the ligand shell matters ×3)
    assert absorption_cross_section_cm2("PbSe", 5.5, 800.0, host_index=1.45) > 2.5 * absorption_cross_section_cm2(
        "PbSe", 5.5, 800.0, host_index=1.0)


def test_model_excitons_near_paper():
    # bulk-ε model in an oleate shell (n_s 1.45): ~44 excitons/dot vs the paper's ~50
    r = laser_heating(3.6, 5.5, 90.0)
    assert 35 < r.excitons_per_dot < 55
    assert r.fraction_excited > 0.999


def test_user_overrides_and_ligands():
    r = laser_heating(1.0, 5.0, 90.0, cross_section_cm2=1e-15)
    assert_allclose(r.excitons_per_dot, 1e-15 * photons_per_cm2(1.0, 800.0))
    with_lig = laser_heating(1.0, 5.0, 90.0, cross_section_cm2=1e-15, ligands_per_nm2=3.0,
                             ligand_heat_capacity_J_mol_K=300.0)
    assert with_lig.rise_K < r.rise_K and with_lig.ligand_heat_capacity_eV_per_K > 0
    lower = laser_heating(1.0, 5.0, 90.0, cross_section_cm2=1e-15, energy_per_exciton_eV=0.8)
    assert_allclose(lower.energy_per_dot_eV, r.excitons_per_dot * 0.8)


def test_temperature_rise_inverts_energy():
    from uedflow.physics.debye import energy_debye_eV

    dt = temperature_rise_debye(25.0, 1000, 90.0, 250.0)
    assert_allclose(1000 * (energy_debye_eV(90 + dt, 250.0) - energy_debye_eV(90.0, 250.0)), 25.0, rtol=1e-9)
    assert temperature_rise_debye(0.0, 1000, 90.0, 250.0) == 0.0


@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        (dict(fluence_mJ_cm2=-3.6), InputError, "fluence"),
        (dict(diameter_nm=-5.5), InputError, "diameter"),
        (dict(diameter_nm=0.0), InputError, "diameter"),
        (dict(material="Unobtainium"), CrystalError, "unknown material"),
        (dict(material="PbS"), InputError, "Debye temperature"),
        (dict(material="PbS", debye_temperature_K=220.0), InputError, "optical constants"),
        (dict(wavelength_nm=2000.0), InputError, "outside the tabulated range"),
        (dict(excitons_per_dot=-1.0), InputError, "excitons"),
    ],
)
def test_bad_inputs(kwargs, err, match):
    args = dict(fluence_mJ_cm2=3.6, diameter_nm=5.5, base_temperature_K=90.0)
    args.update(kwargs)
    with pytest.raises(err, match=match):
        laser_heating(args.pop("fluence_mJ_cm2"), args.pop("diameter_nm"), args.pop("base_temperature_K"), **args)
