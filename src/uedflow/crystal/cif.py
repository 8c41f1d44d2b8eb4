"""Crystallographic Information Files: read any CIF into a :class:`Crystal`, write a Crystal as CIF.

Reading goes through diffpy.structure's CIF parser (PyCifRW underneath): the
cell, the space group (from the listed symmetry operations, else its name or
number), and the asymmetric unit with occupancies and U_iso/B_iso or U_ij/B_ij.
Writing gives the cell, the space group with every symmetry operation, and
the asymmetric unit, so that reading the text back gives the same crystal.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from uedflow.crystal.general import Crystal, Site, element_symbol
from uedflow.errors import CrystalError, InputError

__all__ = ["read_cif", "parse_cif", "crystal_to_cif"]


def read_cif(path: str | Path) -> Crystal:
    """The first structure of a CIF file as a :class:`Crystal` named after the file.

    Raises
    ------
    InputError
        The file does not exist.
    CrystalError
        The file is not a readable CIF with a cell, a space group and atom sites.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"CIF file {path} not found; give the path of a .cif file or a built-in material name")
    return parse_cif(path.read_text(errors="replace"), name=path.stem, source=str(path))


def parse_cif(text: str, *, name: str = "cif", source: str = "CIF text") -> Crystal:
    """A :class:`Crystal` from CIF text (see :func:`read_cif`); ``source`` names it in errors."""
    from diffpy.structure import StructureFormatError
    from diffpy.structure.parsers import getParser

    from uedflow.crystal.lattice import Lattice

    parser = getParser("cif")
    try:
        stru = parser.parse(text)
    except (StructureFormatError, ValueError, KeyError, IndexError) as exc:
        raise CrystalError(f"{source} is not a readable CIF ({exc}); it needs _cell_length_a..._cell_angle_gamma, "
                           "the space group (name, number or _space_group_symop_operation_xyz) and an _atom_site "
                           "loop with fractional coordinates") from None
    if stru is None or not parser.asymmetric_unit:
        raise CrystalError(f"{source} has no _atom_site_label loop: no atoms to build the crystal from")
    lattice = Lattice(*stru.lattice.abcABG())
    unit_iso = lattice.u_isotropic(1.0)
    sites = []
    for atom in parser.asymmetric_unit:
        u = np.asarray(atom.U, float)
        u_iso = float(np.trace(u @ np.linalg.inv(unit_iso))) / 3.0
        iso = np.allclose(u, u_iso * unit_iso, atol=1e-9)
        sites.append(Site(element_symbol(atom.element or atom.label), tuple(atom.xyz), float(atom.occupancy),
                          8 * np.pi**2 * u_iso if iso else 0.0,
                          None if iso else (u[0, 0], u[1, 1], u[2, 2], u[0, 1], u[0, 2], u[1, 2]), atom.label))
    return Crystal(name, lattice, parser.spacegroup, tuple(sites), f"read from {source}")


def _xyz(rot: np.ndarray, shift: np.ndarray) -> str:
    """A symmetry operation as CIF text, e.g. ``-x+y,y,-z+1/2``."""
    rows = []
    for r, t in zip(np.rint(rot).astype(int), shift, strict=True):
        terms = "".join(f"{'+' if c > 0 else '-'}{'' if abs(c) == 1 else abs(c)}{v}"
                        for c, v in zip(r, "xyz", strict=True) if c)
        frac = Fraction(float(t) % 1.0).limit_denominator(24)
        rows.append((terms + (f"+{frac}" if frac else "")).lstrip("+"))
    return ",".join(rows)


def crystal_to_cif(crystal: Crystal) -> str:
    """CIF text of a crystal: cell, space group with its symmetry operations, asymmetric unit with occupancies and
    U_iso (or U_ij) [Å²]. Floats are written exactly (Python's shortest round-trip repr).

    Examples
    --------
    >>> from uedflow.crystal import get_crystal
    >>> "_space_group_IT_number 166" in crystal_to_cif(get_crystal("Bi"))
    True
    """
    lat = crystal.lattice
    lines = [f"data_{''.join(c if c.isalnum() else '_' for c in crystal.name)}",
             "_audit_creation_method 'uedflow'",
             f"_chemical_name_common '{crystal.name}'"]
    if crystal.reference:
        lines.append(f"_publ_section_title '{crystal.reference.replace(chr(39), '')}'")
    for key, value in zip(("length_a", "length_b", "length_c", "angle_alpha", "angle_beta", "angle_gamma"),
                          lat.parameters, strict=True):
        lines.append(f"_cell_{key} {float(value)!r}")
    lines += [f"_space_group_name_H-M_alt '{crystal.space_group_symbol}'",
              f"_space_group_IT_number {crystal.space_group_number}",
              "loop_", "_space_group_symop_operation_xyz"]
    lines += [f"'{_xyz(op.R, op.t)}'" for op in crystal.space_group.iter_symops()]
    lines += ["loop_", *(f"_atom_site_{k}" for k in ("label", "type_symbol", "fract_x", "fract_y", "fract_z",
                                                     "occupancy", "U_iso_or_equiv", "adp_type"))]
    labels = [s.label for s in crystal.sites]
    if len(set(labels)) < len(labels):
        labels = [f"{s.label}{i + 1}" for i, s in enumerate(crystal.sites)]
    aniso = []
    for label, site in zip(labels, crystal.sites, strict=True):
        u = site.u_cif(lat)
        u_eq = float(np.trace(u @ np.linalg.inv(lat.u_isotropic(1.0)))) / 3.0
        kind = "Uiso" if site.u_aniso is None else "Uani"
        x, y, z = site.xyz
        lines.append(f"{label} {site.element} {x!r} {y!r} {z!r} {site.occupancy!r} {u_eq!r} {kind}")
        if site.u_aniso is not None:
            aniso.append(f"{label} " + " ".join(repr(v) for v in site.u_aniso))
    if aniso:
        lines += ["loop_", "_atom_site_aniso_label",
                  *(f"_atom_site_aniso_U_{ij}" for ij in ("11", "22", "33", "12", "13", "23")), *aniso]
    return "\n".join(lines) + "\n"
