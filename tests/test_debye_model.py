"""Debye model: Debye functions, MSD limits, an independent phonon-sum MSD, inverse, heat capacity."""

import json
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.integrate import quad

from uedflow.constants import ATOMIC_MASS_U, ATOMIC_MASS_UNIT_KG, BOLTZMANN_J_K, HBAR_J_S
from uedflow.errors import InputError
from uedflow.physics.debye import (
    compound_mass_u,
    debye_function,
    energy_debye_eV,
    heat_capacity_debye_kB,
    msd_compound_angstrom2,
    msd_debye_angstrom2,
    msd_debye_derivative_angstrom2_per_K,
    msd_per_atom_angstrom2,
    temperature_from_msd,
    temperature_from_msd_with_error,
)

REF = json.loads((Path(__file__).parent / "data" / "physics_reference.json").read_text())
M_PB = ATOMIC_MASS_U["Pb"]


@pytest.mark.parametrize("n", [1, 3])
def test_debye_function_tabulated(n):
    # Abramowitz & Stegun Table 27.1; tolerance = last printed digit
    for x, value in REF["debye_functions"][f"D{n}"].items():
        digits = len(str(value).split(".")[1])
        assert_allclose(debye_function(n, float(x)), value, atol=0.6 * 10.0**-digits)


def _msd_phonon_sum(T, theta, mass_u):
    """⟨u_x²⟩ = (1/3)(ħ/2m) ∫ g(ω) coth(ħω/2kT)/ω dω with the Debye g(ω) = 9ω²/ω_D³ (per atom)."""
    m = mass_u * ATOMIC_MASS_UNIT_KG
    wd = BOLTZMANN_J_K * theta / HBAR_J_S

    def f(w):
        return 9 * w / wd**3 / np.tanh(HBAR_J_S * w / (2 * BOLTZMANN_J_K * T))

    val, _ = quad(f, 0.0, wd, limit=200)
    return HBAR_J_S / (2 * m) * val / 3 * 1e20


@pytest.mark.parametrize("T", [5.0, 90.0, 250.0, 300.0, 1000.0])
def test_msd_equals_independent_phonon_sum(T):
    # different route (mode sum with coth) to the same Debye-model quantity
    assert_allclose(msd_debye_angstrom2(T, 250.0, M_PB), _msd_phonon_sum(T, 250.0, M_PB), rtol=1e-7)


def test_high_and_zero_temperature_limits():
    theta, m = 250.0, M_PB * ATOMIC_MASS_UNIT_KG
    T = 1e5
    high = 3 * HBAR_J_S**2 * T / (m * BOLTZMANN_J_K * theta**2) * 1e20
    # next term of the expansion is +(Θ/T)²/36 relative: 1e-7 here
    assert_allclose(msd_debye_angstrom2(T, theta, M_PB), high, rtol=1e-6)
    zero = 3 * HBAR_J_S**2 / (4 * m * BOLTZMANN_J_K * theta) * 1e20
    assert_allclose(msd_debye_angstrom2(0.0, theta, M_PB), zero, rtol=1e-12)
    # low-T expansion: c [1/4 + (π²/6)(T/Θ)²] (exponentially small corrections)
    assert_allclose(msd_debye_angstrom2(2.0, theta, M_PB), zero * (1 + 4 * np.pi**2 / 6 * (2 / theta) ** 2), rtol=1e-10)


def test_knight_pbse_vibrational_debye_temperatures():
    """Knight et al. (2022) fit U_iso(T) of PbSe with this model: Θ_Pb = 111 K, Θ_Se = 205 K."""
    ref = REF["pbse_vibrational_debye_temperatures"]
    u = msd_per_atom_angstrom2([10.0, 295.0], ref["theta_Pb_K"], ["Pb"])[:, 0]
    u_se = msd_per_atom_angstrom2([10.0, 295.0], ref["theta_Se_K"], ["Se"])[:, 0]
    # B = 8π²U at room temperature from their Θ: Pb 1.333 Å², Se 1.035 Å² (hand calculation with the
    # high-T series c[1/x − x/36·... ] agrees to 3 digits); their tabulated U_iso were not available to us
    assert_allclose(8 * np.pi**2 * u[1], 1.333, atol=0.002)
    assert_allclose(8 * np.pi**2 * u_se[1], 1.035, atol=0.002)
    # the heavier cation moves more (as observed), and ±1 K in Θ changes U(295 K) by ~1.8 %
    assert u[1] > u_se[1]
    du = msd_debye_angstrom2(295.0, ref["theta_Pb_K"] + 1, M_PB) / u[1] - 1
    assert -0.019 < du < -0.017


def test_compound_mass_weighting():
    masses = [M_PB, ATOMIC_MASS_U["Se"]]
    assert_allclose(compound_mass_u(masses), np.mean(masses))
    per_atom = msd_per_atom_angstrom2(150.0, 250.0, ["Pb", "Se"])[0]
    assert_allclose(msd_compound_angstrom2(150.0, 250.0, ["Pb", "Se"], weights="atom"), per_atom.mean())
    assert_allclose(msd_compound_angstrom2(150.0, 250.0, ["Pb", "Se"], weights=[82**2, 34**2]),
                    np.average(per_atom, weights=[82**2, 34**2]))
    with pytest.raises(InputError, match="weights"):
        compound_mass_u(masses, weights="bogus")


def test_derivative_matches_finite_difference():
    T = np.array([20.0, 90.0, 300.0, 2000.0])
    h = 1e-3
    fd = (msd_debye_angstrom2(T + h, 250.0, 143.0) - msd_debye_angstrom2(T - h, 250.0, 143.0)) / (2 * h)
    assert_allclose(msd_debye_derivative_angstrom2_per_K(T, 250.0, 143.0), fd, rtol=1e-6)


def test_inverse_roundtrip_and_errors():
    T = np.array([[95.0, 150.0], [240.0, 700.0]])
    delta = msd_debye_angstrom2(T, 250.0, 143.0) - msd_debye_angstrom2(90.0, 250.0, 143.0)
    assert_allclose(temperature_from_msd(delta, 90.0, 250.0, 143.0), T, rtol=1e-9)
    est = temperature_from_msd_with_error(delta[0, 1], 1e-4, 90.0, 250.0, 143.0)
    # linear propagation vs brute force: shift Δ by 1σ
    brute = temperature_from_msd(delta[0, 1] + 1e-4, 90.0, 250.0, 143.0) - 150.0
    assert_allclose(est.temperature_err_K, brute, rtol=0.02)
    withtheta = temperature_from_msd_with_error(delta[0, 1], 1e-4, 90.0, 250.0, 143.0, debye_temperature_err_K=20)
    assert withtheta.temperature_err_K > est.temperature_err_K
    assert est.summary()["rise_K"] == pytest.approx(60.0)
    with pytest.raises(InputError, match="zero-point"):
        temperature_from_msd(-1.0, 90.0, 250.0, 143.0)
    with pytest.raises(InputError, match="NaN"):
        temperature_from_msd(np.nan, 90.0, 250.0, 143.0)


def test_heat_capacity_and_energy():
    ref = REF["debye_heat_capacity"]["cv_over_3kB_at_T_equals_theta"]
    assert_allclose(heat_capacity_debye_kB(250.0, 250.0) / 3, ref, atol=1e-4)
    # T³ law at low temperature
    assert_allclose(heat_capacity_debye_kB(2.5, 250.0), 12 * np.pi**4 / 5 * 1e-6, rtol=1e-6)
    # U is the integral of C_V
    kb_ev = BOLTZMANN_J_K / 1.602176634e-19
    integral, _ = quad(lambda t: float(heat_capacity_debye_kB(t, 250.0)) * kb_ev, 90.0, 240.0)
    assert_allclose(energy_debye_eV(240.0, 250.0) - energy_debye_eV(90.0, 250.0), integral, rtol=1e-8)


@pytest.mark.parametrize("bad", [-1.0, np.nan])
def test_bad_inputs(bad):
    with pytest.raises(InputError, match="debye_temperature_K"):
        msd_debye_angstrom2(100.0, bad, 100.0)
    with pytest.raises(InputError, match="temperature_K"):
        msd_debye_angstrom2(bad, 250.0, 100.0)
