"""Allowed reflections of cubic structures: hkl, multiplicity, d and s = 1/d.

Conventions: s = 1/d = 2 sinθ/λ in Å⁻¹ (q = 2πs). A reflection is *allowed*
when its structure factor, with atomic numbers as scattering weights, does not
vanish by symmetry; this reproduces the systematic extinctions of every
structure (e.g. all-even/all-odd for rock salt, (222) absent in diamond).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import numpy as np

from uedflow.crystal.structures import Structure
from uedflow.errors import CrystalError

__all__ = [
    "Reflection",
    "reflections",
    "parse_hkl",
    "miller_indices",
    "hkl_label",
    "direction_family",
    "s_of_hkl",
    "multiplicity",
    "FAMILIES",
]

#: Principal direction families in the order uedflow reports them.
FAMILIES = ("<100>", "<110>", "<111>")


@dataclass(frozen=True)
class Reflection:
    """One family of symmetry-equivalent cubic reflections {hkl}.

    Attributes
    ----------
    hkl : tuple of int
        Canonical indices, h >= k >= l >= 0.
    multiplicity : int
        Number of equivalent (h, k, l) in the family (m-3m Laue class).
    d_angstrom : float
        Interplanar spacing [Å].
    s_inv_angstrom : float
        s = 1/d [Å⁻¹].
    family : str
        Direction family of the plane normal: ``"<100>"``, ``"<110>"``, ``"<111>"``,
        or the reflection's own label in parentheses for mixed ones, e.g. ``"(311)"``.
    """

    hkl: tuple[int, int, int]
    multiplicity: int
    d_angstrom: float
    s_inv_angstrom: float
    family: str

    @property
    def label(self) -> str:
        """Compact label, e.g. ``"200"``."""
        return hkl_label(self.hkl)


def miller_indices(value: str | tuple[int, ...] | list[int]) -> tuple[int, int, int]:
    """Parse Miller indices as given (order and signs kept, for any lattice).

    Accepts ``"001"``, ``"(0 0 1)"``, ``"1,-1,0"``, ``"-1 1 1"`` or a 3-sequence.

    Raises
    ------
    CrystalError
        The value cannot be read as three integers, or all are zero.

    Examples
    --------
    >>> miller_indices("(0 0 2)"), miller_indices("1 -1 0")
    ((0, 0, 2), (1, -1, 0))
    """
    if isinstance(value, str):
        text = value.strip().strip("(){}[]<>")
        parts = re.findall(r"-?\d+", text)
        if len(parts) == 1 and re.fullmatch(r"\d{3}", parts[0]):
            parts = list(parts[0])
    else:
        parts = list(value)
    try:
        idx = tuple(int(p) for p in parts)
    except (TypeError, ValueError):
        idx = ()
    if len(idx) != 3 or idx == (0, 0, 0):
        raise CrystalError(
            f"cannot read Miller indices from {value!r}; write them like '200', '2 0 0' or '(3,1,1)'"
        )
    return idx  # type: ignore[return-value]


def parse_hkl(value: str | tuple[int, ...] | list[int]) -> tuple[int, int, int]:
    """Parse Miller indices of a cubic family and return them in canonical order h >= k >= l >= 0.

    Accepts what :func:`miller_indices` accepts.

    Raises
    ------
    CrystalError
        The value cannot be read as three integers, or all are zero.

    Examples
    --------
    >>> parse_hkl("(0 0 2)")
    (2, 0, 0)
    """
    return tuple(sorted((abs(v) for v in miller_indices(value)), reverse=True))  # type: ignore[return-value]


def hkl_label(hkl: tuple[int, int, int]) -> str:
    """Label of a reflection: ``"200"``; indices of 10 or more are space separated."""
    if max(hkl) >= 10:
        return " ".join(str(i) for i in hkl)
    return "".join(str(i) for i in hkl)


def direction_family(hkl: tuple[int, int, int] | str) -> str:
    """Direction family of the plane normal of ``hkl``.

    Examples
    --------
    >>> direction_family("400"), direction_family("220"), direction_family("333"), direction_family("311")
    ('<100>', '<110>', '<111>', '(311)')
    """
    h, k, l = parse_hkl(hkl) if isinstance(hkl, str) else parse_hkl(tuple(hkl))
    if k == 0 and l == 0:
        return "<100>"
    if h == k and l == 0:
        return "<110>"
    if h == k == l:
        return "<111>"
    return f"({hkl_label((h, k, l))})"


def multiplicity(hkl: tuple[int, int, int]) -> int:
    """Number of symmetry-equivalent reflections of ``hkl`` in a cubic (m-3m) crystal."""
    perms = {p for p in itertools.permutations(hkl)}
    signed = set()
    for p in perms:
        for signs in itertools.product((1, -1), repeat=3):
            signed.add(tuple(s * i for s, i in zip(signs, p, strict=True)))
    return len(signed)


def s_of_hkl(hkl: tuple[int, int, int] | str, a_angstrom: float) -> float:
    """s = 1/d = sqrt(h² + k² + l²)/a [Å⁻¹] of a cubic reflection."""
    h, k, l = parse_hkl(hkl)
    return float(np.sqrt(h * h + k * k + l * l) / a_angstrom)


def _geometric_structure_factor(structure: Structure, hkl: np.ndarray) -> np.ndarray:
    """|Σ_j Z_j exp(2πi h·r_j)| for rows of ``hkl`` (M, 3)."""
    phase = np.exp(2j * np.pi * hkl @ structure.positions.T)
    return np.abs(phase @ structure.atomic_numbers.astype(float))


def reflections(structure: Structure, s_max: float, *, s_min: float = 0.0) -> list[Reflection]:
    """Allowed reflection families with s_min < s <= s_max, ordered by s.

    Parameters
    ----------
    structure : Structure
        The crystal.
    s_max : float
        Largest s = 1/d to include [Å⁻¹].
    s_min : float, optional
        Smallest s (exclusive) [Å⁻¹].

    Returns
    -------
    list of Reflection
        One entry per family {hkl}; families whose d coincide (e.g. (333)/(511))
        are separate entries at equal s.

    Examples
    --------
    >>> from uedflow.crystal import get_structure
    >>> [r.label for r in reflections(get_structure("PbSe"), 0.66)]
    ['111', '200', '220', '311', '222', '400']
    """
    if s_max <= 0:
        raise CrystalError(f"s_max must be positive (Å⁻¹), got {s_max}")
    n = int(np.floor(s_max * structure.a_angstrom)) + 1
    out = []
    for h in range(n + 1):
        for k in range(h + 1):
            for l in range(k + 1):
                if h == 0:
                    continue
                s = np.sqrt(h * h + k * k + l * l) / structure.a_angstrom
                if not (s_min < s <= s_max):
                    continue
                f = _geometric_structure_factor(structure, np.array([[h, k, l]], dtype=float))[0]
                if f < 1e-6 * structure.atomic_numbers.sum():
                    continue
                out.append(Reflection((h, k, l), multiplicity((h, k, l)), 1.0 / s, float(s), direction_family((h, k, l))))
    out.sort(key=lambda r: (r.s_inv_angstrom, r.hkl))
    return out
