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
from uedflow.physics.expansion import (
    ExpansionRatio,
    StaticExpansionFit,
    fit_static_expansion,
    linear_expansion_coefficient,
    nonequilibrium_to_static_ratio,
    temperature_from_strain,
    thermal_strain,
)
from uedflow.physics.heating import HeatingResult, absorption_cross_section_cm2, laser_heating
from uedflow.physics.texture import TextureResult, march_dollase, texture_check, texture_factor, texture_from_dynamics

__all__ = [
    "ExpansionRatio",
    "HeatingResult",
    "StaticExpansionFit",
    "TemperatureEstimate",
    "TextureResult",
    "absorption_cross_section_cm2",
    "compound_mass_u",
    "debye_function",
    "energy_debye_eV",
    "fit_static_expansion",
    "heat_capacity_debye_kB",
    "laser_heating",
    "linear_expansion_coefficient",
    "march_dollase",
    "msd_compound_angstrom2",
    "msd_debye_angstrom2",
    "msd_debye_derivative_angstrom2_per_K",
    "msd_per_atom_angstrom2",
    "nonequilibrium_to_static_ratio",
    "temperature_from_msd",
    "temperature_from_msd_with_error",
    "temperature_from_strain",
    "texture_check",
    "texture_factor",
    "texture_from_dynamics",
    "thermal_strain",
]
