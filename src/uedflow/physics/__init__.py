"""Physics calculators: Debye model, laser heating, thermal expansion, texture."""

from uedflow.physics.debye import (
    TemperatureEstimate,
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

__all__ = [
    "TemperatureEstimate",
    "compound_mass_u",
    "debye_function",
    "energy_debye_eV",
    "heat_capacity_debye_kB",
    "msd_compound_angstrom2",
    "msd_debye_angstrom2",
    "msd_debye_derivative_angstrom2_per_K",
    "msd_per_atom_angstrom2",
    "temperature_from_msd",
    "temperature_from_msd_with_error",
]
