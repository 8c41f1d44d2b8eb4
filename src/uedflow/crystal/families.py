"""Reflection families of any crystal, and composite powder rings of overlapping families.

For every hkl with s = 1/d ≤ s_max (s² = hᵀ G* h, Å⁻¹) the kinematic electron
structure factor

.. math:: F(hkl) = \\sum_j o_j f_{e,j}(s)\\, e^{2\\pi i\\, h\\cdot x_j}\\, e^{-2\\pi^2 h^T N U_j N h}

is summed over the expanded cell (occupancy o_j, Lobato–Van Dyck f_e, CIF
U_ij). A reflection is systematically absent when F vanishes by symmetry in the
expanded cell (exact for every space group, centring and glide). Equivalent
reflections are the images of hkl under the Laue group of the space group that
have the same d and |F|² (so a cell given with too high a symmetry cannot merge
reflections that differ). The relative powder intensity of a family is
m |F|² / s² (the area over s of its ring in the orientation-averaged profile,
see :func:`~uedflow.crystal.powder_ring_intensities`), 100 for the strongest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from uedflow.crystal.form_factors import electron_scattering_factor
from uedflow.crystal.general import Crystal
from uedflow.crystal.reflections import hkl_label
from uedflow.errors import CrystalError

__all__ = ["ReflectionFamily", "CompositeRing", "reflection_families", "composite_rings", "structure_factors"]


@dataclass(frozen=True)
class ReflectionFamily:
    """One family of symmetry-equivalent reflections.

    Attributes
    ----------
    hkl : tuple of int
        Representative (most indices non-negative, then the largest).
    multiplicity : int
        Number of equivalent reflections.
    d_angstrom, s_inv_angstrom : float
        d [Å] and s = 1/d [Å⁻¹].
    f2_angstrom2 : float
        |F|² of one reflection [Å²] (electron scattering factors in Å).
    intensity : float
        Relative powder intensity m |F|² / s², 100 for the strongest family of the list.
    """

    hkl: tuple[int, int, int]
    multiplicity: int
    d_angstrom: float
    s_inv_angstrom: float
    f2_angstrom2: float
    intensity: float

    @property
    def label(self) -> str:
        """``"012"``; ``"1 -1 0"`` style with spaces when an index is negative or ≥ 10."""
        if min(self.hkl) < 0:
            return " ".join(str(i) for i in self.hkl)
        return hkl_label(self.hkl)


@dataclass(frozen=True)
class CompositeRing:
    """Powder ring made of families closer than the resolution.

    Attributes
    ----------
    label : str
        ``"104/110"`` (its members' labels).
    s_inv_angstrom : float
        Intensity-weighted mean s [Å⁻¹].
    members : tuple of ReflectionFamily
    weights : tuple of float
        Each member's share of the ring's intensity (sum 1).
    intensity : float
        Sum of the members' relative intensities.
    """

    label: str
    s_inv_angstrom: float
    members: tuple[ReflectionFamily, ...]
    weights: tuple[float, ...]
    intensity: float

    @property
    def pure(self) -> bool:
        """True when the ring is one family only."""
        return len(self.members) == 1


def structure_factors(crystal: Crystal, hkl: np.ndarray, *, debye_waller: bool = True) -> np.ndarray:
    """Complex F [Å] of reflections ``hkl`` (M, 3), see the module docstring."""
    hkl = np.asarray(hkl, float).reshape(-1, 3)
    s = crystal.lattice.s_of(hkl)
    f = np.zeros((len(hkl), len(crystal.species)))
    for el in set(crystal.species):
        cols = [i for i, e in enumerate(crystal.species) if e == el]
        f[:, cols] = electron_scattering_factor(el, s)[:, None]
    f *= crystal.occupancies[None, :]
    if debye_waller:
        f *= np.exp(-crystal.lattice.debye_waller_exponent(hkl, crystal.u_cif))
    return np.sum(f * np.exp(2j * np.pi * hkl @ crystal.positions.T), axis=1)


def _representative(members: np.ndarray) -> tuple[int, int, int]:
    """The member with the fewest negative indices, then the largest (h, k, l)."""
    best = min(members.tolist(), key=lambda m: (sum(v < 0 for v in m), [-v for v in m]))
    return (int(best[0]), int(best[1]), int(best[2]))


def reflection_families(crystal: Crystal, s_max: float, *, s_min: float = 0.0) -> list[ReflectionFamily]:
    """Families of allowed reflections with s_min < s ≤ s_max [Å⁻¹], ordered by s.

    Examples
    --------
    >>> from uedflow.crystal import get_crystal
    >>> [(f.label, f.multiplicity) for f in reflection_families(get_crystal("Au"), 0.6)]
    [('111', 8), ('200', 6)]
    """
    lattice = crystal.lattice
    hkl = lattice.hkl_within(s_max)
    s = lattice.s_of(hkl)
    keep = s > s_min
    hkl, s = hkl[keep], s[keep]
    f_plain = np.abs(structure_factors(crystal, hkl, debye_waller=False))
    f_el = {el: electron_scattering_factor(el, s) for el in set(crystal.species)}
    scale = sum(o * f_el[el] for el, o in zip(crystal.species, crystal.occupancies, strict=True))
    allowed = f_plain > 1e-6 * scale
    hkl, s = hkl[allowed], s[allowed]
    f2 = np.abs(structure_factors(crystal, hkl)) ** 2
    index = {tuple(h): i for i, h in enumerate(hkl.tolist())}
    done = np.zeros(len(hkl), bool)
    ops = crystal.laue_operations()
    out: list[tuple[tuple[int, int, int], int, float, float]] = []
    for i in np.lexsort((-f2, s)):
        if done[i]:
            continue
        images = {tuple(v) for v in (ops @ hkl[i]).tolist()}
        same = [j for j in (index.get(v) for v in images) if j is not None and not done[j]
                and abs(s[j] - s[i]) <= 1e-9 * s[i] and abs(f2[j] - f2[i]) <= 1e-6 * f2[i] + 1e-12]
        done[same] = True
        out.append((_representative(hkl[same]), len(same), float(s[i]), float(f2[i])))
    if not out:
        return []
    out.sort(key=lambda fam: (round(fam[2], 10), fam[0]))
    power = np.array([m * f / (sv * sv) for _, m, sv, f in out])
    power = 100.0 * power / power.max()
    return [ReflectionFamily(h, m, 1.0 / sv, sv, f, float(p)) for (h, m, sv, f), p in zip(out, power, strict=True)]


def composite_rings(families: Sequence[ReflectionFamily], resolution: float) -> list[CompositeRing]:
    """Group families whose s lie within ``resolution`` [Å⁻¹] of their neighbour into composite rings (families at
    the same s, such as (333) and (511) of a cubic crystal, always share a ring).

    Examples
    --------
    >>> from uedflow.crystal import get_crystal
    >>> rings = composite_rings(reflection_families(get_crystal("Bi"), 0.45), 0.02)
    >>> [(r.label, r.pure) for r in rings]
    [('003/101', False), ('012', True), ('104/110', False)]
    """
    if not resolution >= 0:
        raise CrystalError(f"ring resolution must be >= 0 Å⁻¹, got {resolution}")
    fams = sorted(families, key=lambda f: (round(f.s_inv_angstrom, 10), f.hkl))
    groups: list[list[ReflectionFamily]] = []
    for fam in fams:
        if groups and fam.s_inv_angstrom - groups[-1][-1].s_inv_angstrom <= resolution + 1e-9 * fam.s_inv_angstrom:
            groups[-1].append(fam)
        else:
            groups.append([fam])
    out = []
    for g in groups:
        w = np.array([f.intensity for f in g])
        total = float(w.sum())
        weights = w / total if total > 0 else np.full(len(g), 1.0 / len(g))
        s = float(np.sum(weights * [f.s_inv_angstrom for f in g]))
        out.append(CompositeRing("/".join(f.label for f in g), s, tuple(g), tuple(weights.tolist()), total))
    return out
