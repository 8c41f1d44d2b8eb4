"""Crystals of any space group: a cell, a space group and the sites of its asymmetric unit.

The asymmetric unit is expanded to the full cell, and the anisotropic
displacements U_ij rotated onto the symmetry-equivalent sites, by
diffpy.structure (BSD-3; chosen by measurement: gemmi's expansion leaves U_ij
of equivalent sites unrotated). Cubic :class:`~uedflow.crystal.Structure`
objects convert both ways (:meth:`Crystal.from_structure`,
:meth:`Crystal.to_structure`).

Units: lengths Å, angles degrees, B and U_ij Å² (B = 8π² U), s = 1/d in Å⁻¹.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from uedflow.constants import ATOMIC_NUMBER
from uedflow.crystal.lattice import Lattice
from uedflow.crystal.structures import Structure
from uedflow.errors import CrystalError

__all__ = ["Site", "Crystal", "space_group"]

#: cubic space groups tried, highest order first, when a cubic Structure is converted
_CUBIC_GROUPS = ("Fm-3m", "Fd-3m", "Im-3m", "F-43m", "Pm-3m", "P1")


def space_group(identifier: Any) -> Any:
    """diffpy.structure's space group for a number (1–230), a symbol (``"P21/c"``, ``"P42/mnm"``, ``"R-3m"``: R
    groups in the hexagonal setting; ``"R-3m:R"`` the rhombohedral one) or an existing diffpy SpaceGroup.

    Raises
    ------
    CrystalError
        Unknown identifier.
    """
    from diffpy.structure.spacegroups import GetSpaceGroup

    if hasattr(identifier, "symop_list"):
        return identifier
    key = str(identifier).replace(" ", "").replace("_", "")
    if key.startswith("R") and not key.endswith(":R"):
        key = "H" + key[1:].removesuffix(":H")  # diffpy's name of the hexagonal setting
    try:
        return GetSpaceGroup(key.removesuffix(":R"))
    except ValueError:
        raise CrystalError(f"unknown space group {identifier!r}; give its number (1-230) or Hermann-Mauguin symbol, "
                           "e.g. 'P21/c', 'P42/mnm', 'R-3m', 'P63mc'") from None


def element_symbol(text: str) -> str:
    """Element of a CIF type symbol or label: ``"V4+"`` -> ``"V"``, ``"Bi1"`` -> ``"Bi"``.

    Raises
    ------
    CrystalError
        No known element at the start of ``text``.
    """
    m = re.match(r"([A-Za-z])([a-z]?)", text.strip())
    if m:
        for candidate in (m.group(1).upper() + m.group(2), m.group(1).upper()):
            if candidate in ATOMIC_NUMBER:
                return candidate
    raise CrystalError(f"site {text!r}: no known element symbol; known elements are {', '.join(sorted(ATOMIC_NUMBER))}")


@dataclass(frozen=True)
class Site:
    """One site of the asymmetric unit.

    Parameters
    ----------
    element : str
        Element symbol (``"Bi"``).
    xyz : tuple of float
        Fractional coordinates.
    occupancy : float
        Site occupancy, 0 < occupancy <= 1.
    b_iso_angstrom2 : float
        Isotropic Debye–Waller B = 8π²⟨u²⟩ [Å²], used when ``u_aniso`` is None.
    u_aniso : tuple of 6 float, optional
        Anisotropic U11, U22, U33, U12, U13, U23 [Å²] (CIF convention).
    label : str
        Site label (defaults to the element).
    """

    element: str
    xyz: tuple[float, float, float]
    occupancy: float = 1.0
    b_iso_angstrom2: float = 0.0
    u_aniso: tuple[float, float, float, float, float, float] | None = None
    label: str = ""

    def __post_init__(self) -> None:
        if self.element not in ATOMIC_NUMBER:
            raise CrystalError(f"site {self.label or self.element!r}: unknown element {self.element!r}")
        if not 0 < self.occupancy <= 1:
            raise CrystalError(f"site {self.label or self.element!r}: occupancy must be in (0, 1], got {self.occupancy}")
        if not self.b_iso_angstrom2 >= 0:
            raise CrystalError(f"site {self.label or self.element!r}: B must be >= 0 Å², got {self.b_iso_angstrom2}")
        object.__setattr__(self, "xyz", tuple(float(v) for v in self.xyz))
        if self.u_aniso is not None:
            object.__setattr__(self, "u_aniso", tuple(float(v) for v in self.u_aniso))
        object.__setattr__(self, "label", self.label or self.element)

    def u_cif(self, lattice: Lattice) -> np.ndarray:
        """U_ij [Å²] (3, 3), CIF convention; isotropic B -> U = B / 8π² along every direction."""
        if self.u_aniso is None:
            return lattice.u_isotropic(self.b_iso_angstrom2 / (8 * np.pi**2))
        u11, u22, u33, u12, u13, u23 = self.u_aniso
        return np.array([[u11, u12, u13], [u12, u22, u23], [u13, u23, u33]])


@dataclass(frozen=True, eq=False)
class Crystal:
    """A crystal of any space group.

    Parameters
    ----------
    name : str
        Label (``"Bi"``).
    lattice : Lattice
        The cell.
    space_group : str, int or diffpy SpaceGroup
        See :func:`space_group`.
    sites : tuple of Site
        The asymmetric unit.
    reference : str
        Where the cell and positions come from.

    Attributes
    ----------
    species : tuple of str
        Element of every atom of the expanded cell (N).
    positions : (N, 3) ndarray
        Their fractional coordinates in [0, 1).
    occupancies : (N,) ndarray
    u_cif : (N, 3, 3) ndarray
        Their U_ij [Å²] (CIF convention), rotated onto each equivalent site.
    """

    name: str
    lattice: Lattice
    space_group: Any
    sites: tuple[Site, ...]
    reference: str = ""
    species: tuple[str, ...] = field(init=False, repr=False)
    positions: np.ndarray = field(init=False, repr=False)
    occupancies: np.ndarray = field(init=False, repr=False)
    u_cif: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        from diffpy.structure.symmetryutilities import ExpandAsymmetricUnit

        if not self.sites:
            raise CrystalError(f"crystal {self.name!r} has no sites")
        object.__setattr__(self, "sites", tuple(self.sites))
        object.__setattr__(self, "space_group", space_group(self.space_group))
        core_u = [s.u_cif(self.lattice) for s in self.sites]
        eau = ExpandAsymmetricUnit(self.space_group, [np.array(s.xyz) for s in self.sites], core_u, eps=1e-4)
        counts = [len(p) for p in eau.expandedpos]
        object.__setattr__(self, "species", tuple(s.element for s, n in zip(self.sites, counts, strict=True)
                                                  for _ in range(n)))
        object.__setattr__(self, "positions", np.mod(np.vstack([np.asarray(p) for p in eau.expandedpos]), 1.0))
        object.__setattr__(self, "occupancies", np.repeat([s.occupancy for s in self.sites], counts))
        object.__setattr__(self, "u_cif", np.concatenate([np.asarray(u).reshape(-1, 3, 3) for u in eau.expandedUijs]))

    @property
    def space_group_symbol(self) -> str:
        """Hermann–Mauguin symbol (``"R-3m"`` for the hexagonal setting too)."""
        name = self.space_group.short_name
        return "R" + name[1:] if name.startswith("H") else name

    @property
    def space_group_number(self) -> int:
        """International Tables number (1–230)."""
        return int(self.space_group.number) % 1000

    @property
    def atomic_numbers(self) -> np.ndarray:
        """Atomic number of each atom of the expanded cell, shape (N,)."""
        return np.array([ATOMIC_NUMBER[e] for e in self.species])

    def laue_operations(self) -> np.ndarray:
        """The distinct rotations of the Laue group acting on Miller indices (h' = Rᵀ h), shape (K, 3, 3)."""
        rots = {tuple(np.rint(op.R).astype(int).T.ravel()) for op in self.space_group.iter_symops()}
        rots |= {tuple(-v for v in r) for r in rots}
        return np.array(sorted(rots)).reshape(-1, 3, 3)

    @classmethod
    def from_structure(cls, structure: Structure) -> Crystal:
        """A cubic :class:`Structure` as a Crystal: its space group is the highest-order one of Fm-3m, Fd-3m,
        Im-3m, F-43m, Pm-3m that maps the cell onto itself (else P1), its asymmetric unit found from that."""
        lattice = Lattice.cubic(structure.a_angstrom)
        atoms = [Site(el, tuple(p)) for el, p in zip(structure.species, structure.positions, strict=True)]
        for symbol in _CUBIC_GROUPS:
            group = space_group(symbol)
            unit: list[Site] = []
            for atom in atoms:
                if not unit or not _covered(atom, unit, group):
                    unit.append(atom)
            candidate = cls(structure.name, lattice, group, tuple(unit), "uedflow cubic structure")
            if len(candidate.species) == len(atoms) and _same_cell(candidate, structure):
                return candidate
        raise AssertionError("P1 always reproduces the cell")  # pragma: no cover

    def to_structure(self) -> Structure:
        """The cubic :class:`Structure` of this crystal (for the cubic analysis chain).

        Raises
        ------
        CrystalError
            The cell is not cubic, or a site is partly occupied.
        """
        if not self.lattice.is_cubic:
            raise CrystalError(f"{self.name} ({self.space_group_symbol}, cell {self.lattice.parameters}) is not cubic; "
                               "the ring-by-ring dynamics analysis handles cubic crystals only, while `uedflow crystal` "
                               "and `uedflow calibrate` take any crystal")
        if np.any(self.occupancies < 1):
            raise CrystalError(f"{self.name} has partly occupied sites; the cubic analysis chain needs full occupancy")
        return Structure(self.name, float(self.lattice.a), self.species, self.positions)


def _covered(atom: Site, unit: list[Site], group: Any) -> bool:
    """True when ``atom`` is a symmetry image of a same-element site of ``unit``."""
    x = np.array(atom.xyz)
    for site in unit:
        if site.element != atom.element:
            continue
        for op in group.iter_symops():
            d = op(np.array(site.xyz)) - x
            if np.all(np.abs(d - np.rint(d)) < 1e-4):
                return True
    return False


def _same_cell(crystal: Crystal, structure: Structure) -> bool:
    """True when the expanded crystal has exactly the atoms of ``structure`` (same elements at same positions)."""
    for el, p in zip(crystal.species, crystal.positions, strict=True):
        d = structure.positions - p
        hit = np.all(np.abs(d - np.rint(d)) < 1e-4, axis=1) & (np.array(structure.species) == el)
        if not hit.any():
            return False
    return True
