"""Crystallography: cubic structures and crystals of any space group (CIF), reflections, form factors."""

from uedflow.crystal.cif import crystal_to_cif, parse_cif, read_cif
from uedflow.crystal.families import (
    CompositeRing,
    ReflectionFamily,
    composite_rings,
    reflection_families,
    structure_factors,
)
from uedflow.crystal.form_factors import (
    LOBATO_PARAMETERS,
    electron_scattering_factor,
    powder_ring_intensities,
    structure_factor,
)
from uedflow.crystal.general import Crystal, Site, space_group
from uedflow.crystal.lattice import Lattice
from uedflow.crystal.materials import CRYSTALS, get_crystal, sample_crystal, sample_structure
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
    "CRYSTALS",
    "CompositeRing",
    "Crystal",
    "FAMILIES",
    "Lattice",
    "MATERIALS",
    "PROTOTYPES",
    "Reflection",
    "ReflectionFamily",
    "Site",
    "Structure",
    "composite_rings",
    "crystal_to_cif",
    "direction_family",
    "get_crystal",
    "get_structure",
    "hkl_label",
    "multiplicity",
    "parse_cif",
    "parse_hkl",
    "read_cif",
    "reflection_families",
    "reflections",
    "s_of_hkl",
    "sample_crystal",
    "sample_structure",
    "space_group",
    "structure_factors",
    "structure_from_prototype",
]
