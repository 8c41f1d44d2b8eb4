"""Nanocrystals cut from the cell of any crystal: spheres, Wulff shapes and layered flakes.

The cell of a :class:`~uedflow.crystal.Crystal` is placed in Cartesian axes
with a along x and b in the xy plane (rows of the Cholesky factor of the
metric tensor G, so that a_i·a_j = G_ij). The plane (hkl) has the Cartesian
normal g = h·B, B the reciprocal basis (a_i·b_j = δ_ij, no 2π), and
|g| = s = 1/d [Å⁻¹] — valid for every crystal system.

Shapes (all centred on an atom of the first site):

* ``"sphere"`` of diameter D.
* ``"wulff"``: the Wulff construction. Every plane of a family {hkl} (its
  equivalents by the Laue group) lies at distance λγ_{hkl} from the centre, γ
  the facet energy given per family; λ makes the polyhedron's volume that of a
  sphere of diameter D (equivalent-sphere diameter, as for the cubic shapes).
* ``"flake"``: ``layers`` layers along the normal of the planes ``direction``
  (hkl), laterally a disc of diameter D. One layer is the repeat period of the
  atoms' projection on that normal, d_{hkl}/n₀ with n₀ the lowest order of
  (hkl) the space group allows (c/2 for 2H-MoS2 and graphite along (001));
  the cut lies in the middle of the widest gap of the projection (the van der
  Waals gap of a layered crystal), so whole layers are kept.

Surface atoms are tagged as by :func:`~uedflow.simulate.nanocrystal.build_nanocrystal`:
an atom is surface when it has fewer neighbours than its site has in the bulk,
within the shortest neighbour shell that surrounds every site of the cell in
3D (origin strictly inside the convex hull of the neighbour vectors; this
reaches across the van der Waals gap of layered crystals, so their outer
layers count as surface). A surface atom takes the facet whose bounding
surface it lies closest to (a family ``"{hkl}"``, ``"sphere"`` or ``"edge"``
for the rim of a flake) and its outward normal, so per-facet pump dynamics
(:mod:`uedflow.simulate.atomistic`) work on these models too.

Oriented attachment (:func:`attach_cut`): copies of a cut on a grid along the cell vectors, moved by whole
lattice translations so their lattices continue through the contacts, shared sites kept once.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.spatial import ConvexHull, HalfspaceIntersection, QhullError, cKDTree

from uedflow.crystal import Crystal
from uedflow.crystal.families import reflection_families, structure_factors
from uedflow.crystal.reflections import hkl_label, miller_indices
from uedflow.errors import InputError
from uedflow.simulate.debye import Ring
from uedflow.simulate.nanocrystal import Nanocrystal

__all__ = ["attach_cut", "cartesian_basis", "crystal_rings", "cut_crystal", "layer_spacing", "neighbour_cutoff"]

_SHAPES = ("sphere", "wulff", "flake")
_EPS = 1e-6


def cartesian_basis(crystal: Crystal) -> np.ndarray:
    """Cell vectors a, b, c as rows in Cartesian axes [Å] (a along x, b in the xy plane), shape (3, 3)."""
    return np.linalg.cholesky(crystal.lattice.metric)


def _normal(crystal: Crystal, hkl: np.ndarray) -> np.ndarray:
    """Cartesian g = h·B of Miller indices (..., 3) [Å⁻¹] (|g| = s)."""
    return np.asarray(hkl, float) @ np.linalg.inv(cartesian_basis(crystal)).T


def crystal_rings(crystal: Crystal, s_max: float) -> list[Ring]:
    """The allowed reflection families up to ``s_max`` [Å⁻¹] as rings with the Cartesian directions of their
    members (axes of :func:`cartesian_basis`, those of :func:`cut_crystal`), for anisotropic displacements.

    Examples
    --------
    >>> from uedflow.crystal import get_crystal
    >>> ring = crystal_rings(get_crystal("MoS2"), 0.2)[0]  # (002): along ±c
    >>> round(ring.s_inv_angstrom, 4), np.abs(ring.directions).round(6).tolist()
    (0.1627, [[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    """
    ops = crystal.laue_operations()
    rings = []
    for family in reflection_families(crystal, s_max):
        g = _normal(crystal, np.unique(ops @ np.array(family.hkl), axis=0))
        rings.append(Ring(family.s_inv_angstrom, g / np.linalg.norm(g, axis=1)[:, None]))
    return rings


def layer_spacing(crystal: Crystal, hkl: tuple[int, int, int] | str) -> float:
    """Repeat period of the atoms' projection on the normal of (hkl), d_{hkl}/n₀ [Å], n₀ the lowest allowed order.

    Examples
    --------
    >>> from uedflow.crystal import get_crystal
    >>> round(layer_spacing(get_crystal("MoS2"), "001"), 4)  # two S-Mo-S layers per c
    6.1475
    """
    h = np.array(miller_indices(hkl), float)
    for order in range(1, 13):
        f = structure_factors(crystal, order * h[None, :], debye_waller=False)
        if abs(f[0]) > 1e-6:
            return float(1.0 / crystal.lattice.s_of(order * h))
    raise InputError(f"no order n·({hkl}) up to 12 is allowed in {crystal.name}; choose another direction")


def _block(crystal: Crystal, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Cartesian positions [Å] (site 0 at the origin) and site index of every atom within ``radius`` + one cell."""
    basis = cartesian_basis(crystal)
    reach = np.linalg.norm(np.linalg.inv(basis), axis=0)  # |b_i|: fractional extent per Å along a_i
    n = [int(np.ceil(radius * r)) + 1 for r in reach]
    cells = np.stack(np.meshgrid(*(np.arange(-m, m + 1) for m in n), indexing="ij"), -1).reshape(-1, 3)
    frac = crystal.positions - crystal.positions[0]
    pos = ((cells[:, None, :] + frac[None, :, :]).reshape(-1, 3)) @ basis
    site = np.tile(np.arange(len(frac)), len(cells))
    near = np.linalg.norm(pos, axis=1) <= radius + np.linalg.norm(basis, axis=1).sum()
    return pos[near], site[near]


def _surrounds(vectors: np.ndarray) -> bool:
    """True when the origin lies strictly inside the convex hull of ``vectors`` (k, 3)."""
    if len(vectors) < 4:
        return False
    try:
        hull = ConvexHull(vectors)
    except QhullError:  # coplanar neighbours (a flat layer) do not surround
        return False
    return bool(np.all(hull.equations[:, 3] < -1e-6))


def neighbour_cutoff(crystal: Crystal) -> float:
    """Shortest neighbour distance [Å] (×1.02) within which every site of the cell is surrounded in 3D.

    Examples
    --------
    >>> from uedflow.crystal import get_crystal
    >>> round(neighbour_cutoff(get_crystal("Au")) / (4.0782 / 2 ** 0.5), 3)  # the 12 nearest neighbours
    1.02
    """
    pos, _ = _block(crystal, 12.0)
    centres = np.asarray(crystal.positions - crystal.positions[0]) @ cartesian_basis(crystal)
    need = 0.0
    for c in centres:
        d = np.linalg.norm(pos - c, axis=1)
        shells = np.unique(np.round(d[d > 1e-6], 3))
        r = next((r for r in shells if _surrounds(pos[(d > 1e-6) & (d <= r + 1e-3)] - c)), None)
        if r is None:
            raise InputError(f"no neighbour shell within 12 Å surrounds every site of {crystal.name}; check the cell")
        need = max(need, float(r))
    return 1.02 * need


def _bulk_counts(crystal: Crystal, cutoff: float) -> np.ndarray:
    """Neighbours within ``cutoff`` [Å] of every site in the infinite crystal, shape (n_sites,)."""
    pos, _ = _block(crystal, 2.0 * cutoff)
    centres = np.asarray(crystal.positions - crystal.positions[0]) @ cartesian_basis(crystal)
    return np.array([len(x) - 1 for x in cKDTree(pos).query_ball_point(centres, cutoff)])


def _planes(crystal: Crystal, energies: dict[Any, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Unit normals (P, 3), relative distances γ (P,) and family code (P,) of every Wulff plane, and family names."""
    normals, gamma, code, names = [], [], [], []
    ops = crystal.laue_operations()
    for k, (family, energy) in enumerate(energies.items()):
        h = np.array(miller_indices(family))
        if not float(energy) > 0:
            raise InputError(f"facet energy of {{{family}}} must be > 0 (any unit, only ratios matter), got {energy}")
        images = np.unique(ops @ h, axis=0)
        g = _normal(crystal, images)
        normals.append(g / np.linalg.norm(g, axis=1)[:, None])
        gamma.append(np.full(len(images), float(energy)))
        code.append(np.full(len(images), k + 1))
        names.append("{" + hkl_label(tuple(int(v) for v in h)) + "}")
    return np.vstack(normals), np.concatenate(gamma), np.concatenate(code), names


def _polyhedron(normals: np.ndarray, distances: np.ndarray) -> tuple[float, float]:
    """Volume [Å³] and largest vertex distance [Å] of {r: n_p·r ≤ h_p} (bounded, containing the origin)."""
    try:
        vertices = HalfspaceIntersection(np.column_stack([normals, -distances]), np.zeros(3)).intersections
        return float(ConvexHull(vertices).volume), float(np.linalg.norm(vertices, axis=1).max())
    except (QhullError, ValueError):
        raise InputError("the facet families do not enclose a finite shape; give families whose planes close "
                         "around the centre (e.g. {100} and {001} of a hexagonal crystal)") from None


def _nearest_facet(pos: np.ndarray, normals: np.ndarray, heights: np.ndarray, codes: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Code and outward normal of the plane closest to every atom."""
    k = np.argmax(pos @ normals.T - heights[None, :], axis=1)
    return codes[k], normals[k]


def _tag(pos: np.ndarray, site: np.ndarray, bulk: np.ndarray, cutoff: float, layers: int,
         code: np.ndarray, normal: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Surface flag, facet code and normal (see the module docstring)."""
    tree = cKDTree(pos)
    counts = np.array([len(x) for x in tree.query_ball_point(pos, cutoff)]) - 1
    surface = counts < bulk[site]
    for _ in range(layers - 1):
        near = tree.query_ball_point(pos[surface], cutoff)
        surface = surface.copy()
        surface[np.unique(np.concatenate([np.asarray(x, dtype=int) for x in near]))] = True
    facet = np.where(surface, code, 0).astype(np.int8)
    return surface, facet, np.where(surface[:, None], normal, 0.0)


_Cut = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str], dict[str, Any]]


def _sphere(crystal: Crystal, radius: float) -> _Cut:
    """Positions [Å], sites, facet codes, outward normals, facet names and shape info of a sphere of ``radius``."""
    pos, site = _block(crystal, radius)
    inside = np.linalg.norm(pos, axis=1) <= radius + _EPS
    pos, site = pos[inside], site[inside]
    r = np.linalg.norm(pos, axis=1)
    normal = np.divide(pos, r[:, None], out=np.zeros_like(pos), where=r[:, None] > 0)
    return pos, site, np.ones(len(pos), int), normal, ["sphere"], {}


def _wulff(crystal: Crystal, diameter: float, facet_energies: dict[Any, float] | None) -> _Cut:
    """As :func:`_sphere` for the Wulff shape of equivalent-sphere ``diameter`` [Å]."""
    if not facet_energies:
        raise InputError("a Wulff shape needs facet_energies, e.g. {'100': 1.0, '001': 1.2}")
    normals, gamma, codes, names = _planes(crystal, facet_energies)
    volume, reach = _polyhedron(normals, gamma)
    scale = (np.pi / 6 * diameter**3 / volume) ** (1 / 3)
    heights = scale * gamma
    pos, site = _block(crystal, scale * reach)
    inside = np.all(pos @ normals.T <= heights[None, :] + _EPS, axis=1)
    pos, site = pos[inside], site[inside]
    code, normal = _nearest_facet(pos, normals, heights, codes)
    info = {"plane_distances_angstrom": {names[c - 1]: float(h) for c, h in zip(codes, heights, strict=True)}}
    return pos, site, code, normal, names, info


def _flake(crystal: Crystal, diameter: float, layers: int | None, direction: tuple[int, int, int] | str) -> _Cut:
    """As :func:`_sphere` for ``layers`` whole layers along ``direction`` within a disc of ``diameter`` [Å], centred
    on the slab's mid-plane."""
    if layers is None or layers < 1:
        raise InputError(f"a flake needs layers >= 1 (number of layers along {direction}), got {layers}")
    hkl = miller_indices(direction)
    period = layer_spacing(crystal, hkl)
    g = _normal(crystal, np.array(hkl))
    n = g / np.linalg.norm(g)
    cell = np.asarray(crystal.positions - crystal.positions[0]) @ cartesian_basis(crystal) @ n
    levels = np.sort(np.mod(cell, period))
    gaps = np.diff(np.concatenate([levels, [levels[0] + period]]))
    cut = levels[np.argmax(gaps)] + 0.5 * gaps.max()  # middle of the widest gap
    low = cut + (np.floor(-layers / 2) - np.floor(cut / period)) * period
    thickness = layers * period
    pos, site = _block(crystal, float(np.hypot(diameter / 2, (layers + 2) * period)))
    z = pos @ n
    keep = (z > low) & (z < low + thickness) & (np.linalg.norm(pos - z[:, None] * n, axis=1) <= diameter / 2 + _EPS)
    pos, site = pos[keep] - (low + 0.5 * thickness) * n, site[keep]
    z = pos @ n
    radial = pos - z[:, None] * n
    rho = np.linalg.norm(radial, axis=1)
    rim = np.divide(radial, rho[:, None], out=np.zeros_like(pos), where=rho[:, None] > 0)
    face = thickness / 2 - np.abs(z) <= diameter / 2 - rho
    normal = np.where(face[:, None], np.where(z[:, None] >= 0, n, -n), rim)
    info = {"layers": int(layers), "direction": list(hkl), "layer_spacing_angstrom": period,
            "thickness_angstrom": round(thickness, 6)}
    return pos, site, np.where(face, 1, 2), normal, ["{" + hkl_label(hkl) + "}", "edge"], info


def cut_crystal(
    crystal: Crystal,
    diameter_nm: float,
    *,
    shape: str = "sphere",
    facet_energies: dict[Any, float] | None = None,
    layers: int | None = None,
    direction: tuple[int, int, int] | str = (0, 0, 1),
    surface_layers: int = 1,
) -> Nanocrystal:
    """Cut a nanocrystal from the cell of any crystal (see the module docstring).

    Parameters
    ----------
    crystal : Crystal
        Any crystal (``get_crystal("MoS2")``, a CIF...), fully occupied sites.
    diameter_nm : float
        Sphere diameter, equivalent-sphere diameter of the Wulff shape, or flake's lateral diameter [nm].
    shape : {"sphere", "wulff", "flake"}
    facet_energies : dict, optional
        Wulff shape: family (``"100"``, ``(0, 0, 1)``) -> facet energy (any unit, only ratios matter).
    layers : int, optional
        Flake: number of layers along ``direction``.
    direction : (h, k, l) or str
        Flake: Miller indices of the layer planes.
    surface_layers : int
        Neighbour shells counted as surface (1 = under-coordinated atoms only).

    Raises
    ------
    InputError
        Unknown shape, a missing ``facet_energies`` / ``layers``, non-positive sizes, partly occupied sites, or
        facet families that do not enclose a shape.

    Examples
    --------
    >>> from uedflow.crystal import get_crystal
    >>> flake = cut_crystal(get_crystal("MoS2"), 3.0, shape="flake", layers=2)
    >>> flake.info["thickness_angstrom"], sorted(flake.elements)
    (12.295, ['Mo', 'S'])
    """
    if shape not in _SHAPES:
        raise InputError(f"unknown shape {shape!r} for a cut of {crystal.name}; choose one of {', '.join(_SHAPES)}")
    if not diameter_nm > 0 or surface_layers < 1:
        raise InputError(f"diameter must be > 0 nm and surface_layers >= 1; got {diameter_nm}, {surface_layers}")
    if np.any(crystal.occupancies < 1):
        raise InputError(f"{crystal.name} has partly occupied sites; cut a fully ordered cell")
    diameter = 10.0 * float(diameter_nm)
    info: dict[str, Any] = {"shape": shape, "diameter_nm": float(diameter_nm), "material": crystal.name,
                            "cell": list(crystal.lattice.parameters), "space_group": crystal.space_group_symbol,
                            "surface_layers": int(surface_layers)}
    if shape == "sphere":
        pos, site, code, normal, names, extra = _sphere(crystal, diameter / 2)
    elif shape == "wulff":
        pos, site, code, normal, names, extra = _wulff(crystal, diameter, facet_energies)
    else:
        pos, site, code, normal, names, extra = _flake(crystal, diameter, layers, direction)
    info.update(extra)
    if len(pos) < 2:
        raise InputError(f"a {diameter_nm} nm {shape} of {crystal.name} holds fewer than 2 atoms; give the size in nm")
    cutoff = neighbour_cutoff(crystal)
    surface, facet, normal = _tag(pos, site, _bulk_counts(crystal, cutoff), cutoff, surface_layers, code, normal)
    elements = tuple(dict.fromkeys(crystal.species))
    species = np.array([elements.index(crystal.species[i]) for i in site])
    info["neighbour_cutoff_angstrom"] = cutoff
    return Nanocrystal(pos, species, elements, surface, facet, normal, np.zeros(len(pos), dtype=np.int32), info,
                       facet_names=("core", *names), site=site)


def attach_cut(dot: Nanocrystal, crystal: Crystal, grid: tuple[int, int, int]) -> Nanocrystal:
    """Oriented attachment of copies of a cut of any cell (:func:`cut_crystal`) on a grid along its cell vectors.

    Copy (i, j, k) is ``dot`` moved by the lattice translation i·n_a·a + j·n_b·b + k·n_c·c, n the largest whole
    number of cells within the dot's width along each cell vector: neighbouring copies overlap by less than a
    cell and their lattices continue through the contact (oriented attachment), so atoms the copies share sit on
    the same site and are kept once. An atom stays surface only if it was surface in its copy and still lacks
    neighbours (the contact's atoms become core); facets and normals are those of the copy.

    Parameters
    ----------
    dot : Nanocrystal
        A cut of ``crystal`` from :func:`cut_crystal`.
    crystal : Crystal
        Its crystal.
    grid : (int, int, int)
        Copies along a, b and c: (2, 1, 1) a dimer fused along a, (n, m, 1) an in-plane array of flakes.

    Raises
    ------
    InputError
        ``dot`` is not a cut of ``crystal``, or a grid that is not three positive integers.

    Examples
    --------
    >>> from uedflow.crystal import get_crystal
    >>> mos2 = get_crystal("MoS2")
    >>> flake = cut_crystal(mos2, 2.0, shape="flake", layers=1)
    >>> pair = attach_cut(flake, mos2, (2, 1, 1))
    >>> bool(pair.n_atoms < 2 * flake.n_atoms and pair.surface.sum() < 2 * flake.surface.sum())
    True
    """
    if dot.site is None or dot.info.get("material") != crystal.name:
        raise InputError(f"attach_cut fuses cuts of {crystal.name} made by cut_crystal; got a "
                         f"{dot.info.get('shape')} of {dot.info.get('material')}")
    g = tuple(int(v) for v in grid)
    if len(g) != 3 or min(g) < 1:
        raise InputError(f"grid must be three positive integers (copies along a, b, c), got {grid}")
    basis = cartesian_basis(crystal)
    length = np.linalg.norm(basis, axis=1)
    width = np.ptp(dot.positions @ (basis / length[:, None]).T, axis=0)
    cells = np.maximum(1, np.floor(width / length + 1e-6)).astype(int)
    index = np.stack(np.meshgrid(*[np.arange(n) for n in g], indexing="ij"), axis=-1).reshape(-1, 3)
    shifts = (index * cells) @ basis
    copies = len(shifts)
    pos = (shifts[:, None, :] + dot.positions[None, :, :]).reshape(-1, 3)
    _, first = np.unique(np.round(pos / 1e-3).astype(np.int64), axis=0, return_index=True)
    first.sort()
    site, owner = np.tile(dot.site, copies)[first], np.repeat(np.arange(copies, dtype=np.int32), dot.n_atoms)[first]
    was_surface, facet, normal = (np.tile(a, (copies,) + (1,) * (a.ndim - 1))[first]
                                  for a in (dot.surface, dot.facet, dot.normal))
    pos = pos[first]
    cutoff = neighbour_cutoff(crystal)
    layers = int(dot.info.get("surface_layers", 1))
    surface = was_surface & _tag(pos, site, _bulk_counts(crystal, cutoff), cutoff, layers, facet, normal)[0]
    info = {**dot.info, "assembly_grid": list(g), "cells_per_copy": cells.tolist(),
            "translations_angstrom": shifts.round(6).tolist()}
    return Nanocrystal(pos, np.tile(dot.species, copies)[first], dot.elements, surface,
                       np.where(surface, facet, 0).astype(np.int8), np.where(surface[:, None], normal, 0.0), owner,
                       info, facet_names=dot.facet_names, site=site)
