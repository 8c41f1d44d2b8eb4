"""Cubic crystal structures: built-in materials and structures from a description.

All lengths are in Å; positions are fractional coordinates of the conventional
cubic cell.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from uedflow.constants import ATOMIC_MASS_U, ATOMIC_NUMBER
from uedflow.errors import CrystalError

__all__ = ["Structure", "structure_from_prototype", "get_structure", "MATERIALS", "PROTOTYPES"]

_FCC = np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])

#: Basis of each prototype: (site label, fractional positions) pairs. Site
#: labels "A" and "B" are replaced by the element names given.
PROTOTYPES: dict[str, list[tuple[str, np.ndarray]]] = {
    "rocksalt": [("A", _FCC), ("B", _FCC + [0.5, 0.0, 0.0])],
    "zincblende": [("A", _FCC), ("B", _FCC + 0.25)],
    "fcc": [("A", _FCC)],
    "bcc": [("A", np.array([[0, 0, 0], [0.5, 0.5, 0.5]]))],
    "sc": [("A", np.array([[0.0, 0.0, 0.0]]))],
    "diamond": [("A", np.vstack([_FCC, _FCC + 0.25]))],
    "cscl": [("A", np.array([[0.0, 0.0, 0.0]])), ("B", np.array([[0.5, 0.5, 0.5]]))],
}


@dataclass(frozen=True)
class Structure:
    """A cubic crystal structure.

    Parameters
    ----------
    name : str
        Label, e.g. ``"PbSe"``.
    a_angstrom : float
        Cubic lattice constant [Å].
    species : tuple of str
        Element symbol of each atom of the conventional cell, length N.
    positions : (N, 3) ndarray
        Fractional coordinates of those atoms, wrapped into [0, 1).
    """

    name: str
    a_angstrom: float
    species: tuple[str, ...]
    positions: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        pos = np.mod(np.asarray(self.positions, dtype=float), 1.0)
        if pos.ndim != 2 or pos.shape[1] != 3 or len(pos) != len(self.species):
            raise CrystalError(
                f"structure {self.name!r}: positions must be (N, 3) with one row per "
                f"species entry; got shape {pos.shape} for {len(self.species)} species"
            )
        if not np.isfinite(self.a_angstrom) or self.a_angstrom <= 0:
            raise CrystalError(
                f"structure {self.name!r}: lattice constant must be a positive number "
                f"of Å, got {self.a_angstrom!r}"
            )
        for el in self.species:
            if el not in ATOMIC_NUMBER:
                raise CrystalError(
                    f"structure {self.name!r}: unknown element {el!r}; known elements are "
                    f"{', '.join(sorted(ATOMIC_NUMBER))}"
                )
        object.__setattr__(self, "positions", pos)

    @property
    def elements(self) -> tuple[str, ...]:
        """Distinct elements, in order of first appearance."""
        return tuple(dict.fromkeys(self.species))

    @property
    def atomic_numbers(self) -> np.ndarray:
        """Atomic number of each atom of the cell, shape (N,)."""
        return np.array([ATOMIC_NUMBER[e] for e in self.species])

    @property
    def masses_u(self) -> np.ndarray:
        """Atomic mass of each atom of the cell [u], shape (N,)."""
        return np.array([ATOMIC_MASS_U[e] for e in self.species])

    @property
    def cell_volume_angstrom3(self) -> float:
        """Volume of the conventional cell [Å³]."""
        return float(self.a_angstrom**3)

    def with_lattice_constant(self, a_angstrom: float) -> Structure:
        """Return the same structure with another lattice constant [Å]."""
        return Structure(self.name, float(a_angstrom), self.species, self.positions)

    def summary(self) -> dict[str, Any]:
        """JSON-safe description (name, a, species, positions) that round-trips
        through :func:`get_structure`."""
        return {
            "name": self.name,
            "a_angstrom": self.a_angstrom,
            "species": list(self.species),
            "positions": self.positions.tolist(),
        }


def structure_from_prototype(
    prototype: str, elements: list[str] | tuple[str, ...], a_angstrom: float, *, name: str = ""
) -> Structure:
    """Build a cubic structure from a prototype name.

    Parameters
    ----------
    prototype : str
        One of :data:`PROTOTYPES` (``rocksalt``, ``zincblende``, ``fcc``, ``bcc``,
        ``sc``, ``diamond``, ``cscl``).
    elements : sequence of str
        Elements on sites A (and B), e.g. ``["Pb", "Se"]`` for rock salt PbSe.
    a_angstrom : float
        Lattice constant [Å].

    Examples
    --------
    >>> s = structure_from_prototype("rocksalt", ["Pb", "Se"], 6.12)
    >>> len(s.species)
    8
    """
    key = prototype.lower().replace("-", "").replace(" ", "").replace("_", "")
    if key not in PROTOTYPES:
        raise CrystalError(
            f"unknown structure prototype {prototype!r}; choose one of {', '.join(PROTOTYPES)} "
            "or give fractional positions"
        )
    sites = PROTOTYPES[key]
    labels = sorted({lab for lab, _ in sites})
    if len(elements) != len(labels):
        raise CrystalError(
            f"prototype {prototype!r} needs {len(labels)} element(s) (sites {', '.join(labels)}), "
            f"got {list(elements)}"
        )
    lookup = dict(zip(labels, elements, strict=True))
    species: list[str] = []
    positions = []
    for lab, pos in sites:
        species += [lookup[lab]] * len(pos)
        positions.append(pos)
    return Structure(name or "".join(elements), float(a_angstrom), tuple(species), np.vstack(positions))


#: Built-in materials: prototype, elements, room-temperature lattice constant [Å]
#: and the source of that constant.
MATERIALS: dict[str, tuple[str, tuple[str, ...], float, str]] = {
    "PbSe": ("rocksalt", ("Pb", "Se"), 6.12, "Yue et al., J. Phys. Chem. Lett. 15, 7667 (2024)"),
    "PbS": ("rocksalt", ("Pb", "S"), 5.94, "bulk galena, ICSD; Noda et al. (1987) 5.936 Å"),
    "PbTe": ("rocksalt", ("Pb", "Te"), 6.46, "bulk PbTe, 6.462 Å (Dalven 1969)"),
    "NaCl": ("rocksalt", ("Na", "Cl"), 5.64, "bulk halite, 5.640 Å"),
    "CdSe": ("zincblende", ("Cd", "Se"), 6.077, "zinc-blende CdSe, 6.077 Å"),
    "Au": ("fcc", ("Au",), 4.078, "bulk gold, 4.0782 Å"),
    "Si": ("diamond", ("Si",), 5.431, "bulk silicon, 5.4310 Å"),
    "Al": ("fcc", ("Al",), 4.0495, "bulk aluminium, 4.0495 Å at 298 K"),
}


def get_structure(material: str | dict[str, Any], *, a_angstrom: float | None = None) -> Structure:
    """Look up a built-in material or build a structure from a description.

    Parameters
    ----------
    material : str or dict
        A built-in name (see :data:`MATERIALS`, case-insensitive), or a dict with
        ``prototype`` and ``elements``, or with ``species`` and ``positions``
        (fractional), plus ``a_angstrom`` and optional ``name``.
    a_angstrom : float, optional
        Lattice constant [Å] overriding the built-in or described one.

    Raises
    ------
    CrystalError
        Unknown material, element or prototype; missing lattice constant.

    Examples
    --------
    >>> get_structure("PbSe").a_angstrom
    6.12
    """
    if isinstance(material, str):
        names = {k.lower(): k for k in MATERIALS}
        if material.lower() not in names:
            raise CrystalError(
                f"unknown material {material!r}; built-in materials are {', '.join(MATERIALS)}; "
                "for another cubic crystal give [sample.structure] with prototype/elements or "
                "species/positions and a_angstrom"
            )
        proto, elements, a0, _ = MATERIALS[names[material.lower()]]
        return structure_from_prototype(proto, elements, a_angstrom or a0, name=names[material.lower()])
    desc = dict(material)
    a = a_angstrom if a_angstrom is not None else desc.get("a_angstrom")
    if a is None:
        raise CrystalError("structure description needs a_angstrom (cubic lattice constant in Å)")
    if "prototype" in desc:
        return structure_from_prototype(
            desc["prototype"], desc.get("elements", []), a, name=desc.get("name", "")
        )
    if "species" in desc and "positions" in desc:
        cell = desc.get("cell")
        if cell is not None and not _is_cubic(cell):
            raise CrystalError(
                f"structure {desc.get('name', '')!r} has a non-cubic cell {cell}; uedflow handles "
                "cubic crystals only (a = b = c, all angles 90°)"
            )
        return Structure(desc.get("name", "custom"), float(a), tuple(desc["species"]), np.asarray(desc["positions"]))
    raise CrystalError(
        "structure description needs either 'prototype' and 'elements', or 'species' and "
        f"'positions'; got keys {sorted(desc)}"
    )


def _is_cubic(cell: Any) -> bool:
    """True when ``cell`` = [a, b, c, alpha, beta, gamma] describes a cubic cell."""
    a, b, c, al, be, ga = (float(x) for x in cell)
    return bool(np.allclose([b, c], a, rtol=1e-6) and np.allclose([al, be, ga], 90.0, atol=1e-6))
