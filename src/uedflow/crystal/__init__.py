"""Cubic crystallography: structures, allowed reflections, direction families."""

from uedflow.crystal.form_factors import (
    LOBATO_PARAMETERS,
    electron_scattering_factor,
    powder_ring_intensities,
    structure_factor,
)
from uedflow.crystal.reflections import (
    FAMILIES,
    Reflection,
    direction_family,
    hkl_label,
    multiplicity,
    parse_hkl,
    reflections,
    s_of_hkl,
)
from uedflow.crystal.structures import MATERIALS, PROTOTYPES, Structure, get_structure, structure_from_prototype

__all__ = [
    "LOBATO_PARAMETERS",
    "electron_scattering_factor",
    "powder_ring_intensities",
    "structure_factor",
    "FAMILIES",
    "MATERIALS",
    "PROTOTYPES",
    "Reflection",
    "Structure",
    "direction_family",
    "get_structure",
    "hkl_label",
    "multiplicity",
    "parse_hkl",
    "reflections",
    "s_of_hkl",
    "structure_from_prototype",
]
