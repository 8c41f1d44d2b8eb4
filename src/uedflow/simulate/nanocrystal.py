"""Atomistic nanocrystals: tetradecahedra, spheres, cubes and oriented-attached assemblies.

Shapes (all centred on an atom of the first basis site):

* ``"tetradecahedron"`` — a truncated octahedron bounded by {111} planes at
  distance h111 and {100} planes at h100 = √3 h111 (1 − t). The truncation ratio
  t runs from 0 (octahedron) through 1/3 (the Archimedean truncated octahedron)
  to 0.5 (largest {100} facets this builder allows).
* ``"sphere"`` and ``"cube"`` (edge = diameter... see below).

``diameter_nm`` is the equivalent-sphere diameter D (a polyhedron of the same
volume as a sphere of diameter D, as TEM sizing of faceted dots reports); for a
truncated octahedron V = (4/3) c³ (1 − 3t³) with c = √3 h111.

Every atom is tagged *core* or *surface* (fewer nearest neighbours than in the
bulk, within ``surface_layers`` neighbour shells of the outside) and, if
surface, by the facet family ({100}, {110}, {111}) whose bounding plane it lies
closest to, with that facet's outward unit normal. Oriented attachment fuses
identical dots along ⟨100⟩: their centres are 2·x_max apart (x_max = outermost
{100} atomic plane) so the two facet planes coincide, the duplicate plane is
removed, and re-tagging turns the shared facet atoms into core atoms.

In rock salt every {111} atomic plane holds one element only, so a tetradecahedron's {111}
facets are terminated by whichever element the cut leaves outside. ``termination_111``
chooses it: the outermost {111} layer is removed where it holds the other element (real PbSe
dots are Pb-rich, their {111} facets Pb-terminated and capped by oleate).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from uedflow.crystal import Structure
from uedflow.errors import InputError

__all__ = ["Nanocrystal", "FACETS", "build_nanocrystal", "attach", "size_distribution"]

#: Facet codes of :attr:`Nanocrystal.facet`.
FACETS = ("core", "{100}", "{110}", "{111}")
_SHAPES = ("tetradecahedron", "sphere", "cube")
_DIRS = {
    1: np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], dtype=float),
    2: np.array([[a, b, 0] for a in (1, -1) for b in (1, -1)] + [[a, 0, b] for a in (1, -1) for b in (1, -1)]
                + [[0, a, b] for a in (1, -1) for b in (1, -1)], dtype=float) / np.sqrt(2),
    3: np.array([[a, b, c] for a in (1, -1) for b in (1, -1) for c in (1, -1)], dtype=float) / np.sqrt(3),
}


@dataclass(frozen=True)
class Nanocrystal:
    """An atomistic model.

    Attributes
    ----------
    positions : (N, 3) ndarray
        Cartesian positions [Å].
    species : (N,) ndarray of int
        Index into ``elements`` of each atom.
    elements : tuple of str
        Element symbols.
    surface : (N,) ndarray of bool
        True for surface atoms.
    facet : (N,) ndarray of int8
        Index into ``facet_names`` (0 = core).
    normal : (N, 3) ndarray
        Outward unit normal of the facet of surface atoms, zeros for core atoms.
    dot : (N,) ndarray of int
        Index of the dot each atom belongs to (assemblies).
    info : dict
        Shape parameters (JSON-safe).
    facet_names : tuple of str
        Name of each facet code, ``"core"`` first (:data:`FACETS` for the cubic shapes; the families of the
        bounding planes, e.g. ``"{001}"``, for cuts of any cell, :mod:`uedflow.simulate.cell_cut`).
    site : (N,) ndarray of int or None
        Site of the crystal's cell each atom occupies (cuts of any cell; None for the cubic shapes).
    """

    positions: np.ndarray = field(repr=False)
    species: np.ndarray = field(repr=False)
    elements: tuple[str, ...]
    surface: np.ndarray = field(repr=False)
    facet: np.ndarray = field(repr=False)
    normal: np.ndarray = field(repr=False)
    dot: np.ndarray = field(repr=False)
    info: dict[str, Any] = field(default_factory=dict)
    facet_names: tuple[str, ...] = FACETS
    site: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_atoms(self) -> int:
        """Number of atoms."""
        return int(len(self.positions))

    @property
    def symbols(self) -> np.ndarray:
        """Element symbol of every atom, shape (N,)."""
        return np.asarray(self.elements)[self.species]

    def surface_fraction(self) -> float:
        """Fraction of atoms tagged surface."""
        return float(self.surface.mean())

    def facet_counts(self) -> dict[str, int]:
        """Number of atoms per facet code name."""
        return {name: int(np.sum(self.facet == k)) for k, name in enumerate(self.facet_names)}

    def summary(self) -> dict[str, Any]:
        """JSON-safe description."""
        return {"n_atoms": self.n_atoms, "elements": list(self.elements), "n_dots": int(self.dot.max()) + 1,
                "surface_fraction": self.surface_fraction(), "facets": self.facet_counts(),
                **json.loads(json.dumps(self.info, default=float))}


def _plane_distances(shape: str, radius: float, truncation: float) -> dict[int, float]:
    """Distance from the centre of the bounding planes of each facet family code."""
    if shape == "sphere":
        return {1: radius, 2: radius, 3: radius}
    if shape == "cube":
        return {1: radius}
    c = radius  # octahedron vertex distance
    return {1: c * (1.0 - truncation), 3: c / np.sqrt(3.0)}


def _shape_size(shape: str, diameter: float, truncation: float) -> float:
    """Radius parameter of ``shape`` with the volume of a sphere of ``diameter`` [Å]."""
    volume = np.pi / 6.0 * diameter**3
    if shape == "sphere":
        return diameter / 2.0
    if shape == "cube":
        return 0.5 * volume ** (1.0 / 3.0)
    return (3.0 * volume / (4.0 * (1.0 - 3.0 * truncation**3))) ** (1.0 / 3.0)


def _lattice_block(structure: Structure, half: float) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    a = structure.a_angstrom
    n = int(np.ceil(half / a)) + 1
    cells = np.stack(np.meshgrid(*[np.arange(-n, n + 1)] * 3, indexing="ij"), axis=-1).reshape(-1, 3)
    frac = structure.positions - structure.positions[0]
    pos = (cells[:, None, :] + frac[None, :, :]).reshape(-1, 3) * a
    elements = structure.elements
    idx = np.array([elements.index(e) for e in structure.species])
    return pos, np.tile(idx, len(cells)), elements


def _inside(pos: np.ndarray, planes: dict[int, float], shape: str) -> np.ndarray:
    eps = 1e-6
    if shape == "sphere":
        return np.linalg.norm(pos, axis=1) <= planes[1] + eps
    ok = np.max(np.abs(pos), axis=1) <= planes[1] + eps
    if 3 in planes:
        ok &= np.sum(np.abs(pos), axis=1) / np.sqrt(3.0) <= planes[3] + eps
    return ok


def _tag(pos: np.ndarray, centres: np.ndarray, dot: np.ndarray, planes: dict[int, float],
         nn_distance: float, layers: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Surface flag, facet code and facet normal of every atom."""
    tree = cKDTree(pos)
    counts = np.array([len(x) for x in tree.query_ball_point(pos, nn_distance * 1.1)]) - 1
    surface = counts < counts.max()
    for _ in range(layers - 1):
        near = tree.query_ball_point(pos[surface], nn_distance * 1.1)
        grown = surface.copy()
        grown[np.unique(np.concatenate([np.asarray(x, dtype=int) for x in near]))] = True
        surface = grown
    rel = pos - centres[dot]
    best = np.full(len(pos), np.inf)
    facet = np.zeros(len(pos), dtype=np.int8)
    normal = np.zeros_like(pos)
    for code, h in planes.items():
        proj = rel @ _DIRS[code].T
        k = np.argmax(proj, axis=1)
        gap = h - proj[np.arange(len(pos)), k]
        better = gap < best - 1e-9
        best[better] = gap[better]
        facet[better] = code
        normal[better] = _DIRS[code][k[better]]
    facet[~surface] = 0
    normal[~surface] = 0.0
    return surface, facet, normal


def build_nanocrystal(
    structure: Structure,
    diameter_nm: float,
    *,
    shape: str = "tetradecahedron",
    truncation: float = 1.0 / 3.0,
    surface_layers: int = 1,
    termination_111: str | None = None,
) -> Nanocrystal:
    """Build one atomistic dot.

    Parameters
    ----------
    structure : Structure
        Cubic crystal (e.g. ``get_structure("PbSe")``).
    diameter_nm : float
        Equivalent-sphere diameter [nm].
    shape : {"tetradecahedron", "sphere", "cube"}
        Particle shape.
    truncation : float
        Truncation ratio t of the tetradecahedron, 0 (octahedron) .. 0.5.
    surface_layers : int
        Neighbour shells counted as surface (1 = under-coordinated atoms only).
    termination_111 : str, optional
        Element of the outermost {111} atomic layer of a tetradecahedron (e.g. ``"Pb"``); default:
        whatever the cut leaves.

    Raises
    ------
    InputError
        Unknown shape, truncation outside [0, 0.5], a diameter smaller than one unit cell, or a
        ``termination_111`` that is not an element of the crystal or whose {111} layers mix elements,
        or on a shape without {111} facets.

    Examples
    --------
    >>> from uedflow.crystal import get_structure
    >>> nc = build_nanocrystal(get_structure("PbSe"), 3.0)
    >>> 300 < nc.n_atoms < 600, 0.3 < nc.surface_fraction() < 0.8
    (True, True)
    """
    if shape not in _SHAPES:
        raise InputError(f"unknown nanocrystal shape {shape!r}; choose one of {', '.join(_SHAPES)}")
    if not 0.0 <= truncation <= 0.5:
        raise InputError(f"truncation must be in [0, 0.5] (0 octahedron, 1/3 regular), got {truncation}")
    diameter = float(diameter_nm) * 10.0
    if not diameter >= structure.a_angstrom:
        raise InputError(
            f"diameter {diameter_nm} nm is smaller than one unit cell of {structure.name} "
            f"({structure.a_angstrom / 10:.3f} nm); give the diameter in nm"
        )
    if surface_layers < 1:
        raise InputError(f"surface_layers must be >= 1, got {surface_layers}")
    radius = _shape_size(shape, diameter, truncation)
    planes = _plane_distances(shape, radius, truncation)
    pos, species, elements = _lattice_block(structure, max(planes.values()))
    keep = _inside(pos, planes, shape)
    pos, species = pos[keep], species[keep]
    if termination_111 is not None:
        pos, species = _terminate_111(pos, species, elements, termination_111, shape)
    nn = _nearest_neighbour_distance(structure)
    dot = np.zeros(len(pos), dtype=np.int32)
    surface, facet, normal = _tag(pos, np.zeros((1, 3)), dot, planes, nn, surface_layers)
    info = {"shape": shape, "diameter_nm": float(diameter_nm), "truncation": float(truncation),
            "termination_111": termination_111,
            "material": structure.name, "a_angstrom": structure.a_angstrom,
            "plane_distances_angstrom": {FACETS[k]: float(v) for k, v in planes.items()},
            "surface_layers": int(surface_layers)}
    return Nanocrystal(pos, species, elements, surface, facet, normal, dot, info)


def _terminate_111(pos: np.ndarray, species: np.ndarray, elements: tuple[str, ...], element: str,
                   shape: str) -> tuple[np.ndarray, np.ndarray]:
    """Remove the outermost {111} layer where it is not ``element`` (see the module docstring)."""
    if shape != "tetradecahedron":
        raise InputError(f"termination_111 needs {{111}} facets; a {shape} has none (use a tetradecahedron)")
    if element not in elements:
        raise InputError(f"termination_111 {element!r} is not an element of the crystal ({', '.join(elements)})")
    depth = np.sum(np.abs(pos), axis=1) / np.sqrt(3.0)  # distance to the nearest {111} plane family through 0
    outer = depth > depth.max() - 1e-3
    kinds = set(species[outer].tolist())
    if len(kinds) != 1:
        raise InputError("the outermost {111} layer mixes elements; termination_111 applies to rock salt "
                         "(one element per {111} plane)")
    if elements[kinds.pop()] == element:
        return pos, species
    return pos[~outer], species[~outer]


def _nearest_neighbour_distance(structure: Structure) -> float:
    cell = structure.positions
    shifts = np.stack(np.meshgrid(*[np.arange(-1, 2)] * 3, indexing="ij"), axis=-1).reshape(-1, 3)
    others = (cell[None, :, :] + shifts[:, None, :]).reshape(-1, 3)
    d = np.linalg.norm((others[:, None, :] - cell[None, :, :]) * structure.a_angstrom, axis=-1)
    return float(d[d > 1e-6].min())


def attach(dot: Nanocrystal, grid: tuple[int, int, int], *, surface_layers: int | None = None) -> Nanocrystal:
    """Oriented attachment of copies of ``dot`` on a grid fused along ⟨100⟩.

    Parameters
    ----------
    dot : Nanocrystal
        A single dot from :func:`build_nanocrystal`.
    grid : (int, int, int)
        Dots along x, y, z: (2, 1, 1) a dimer, (n, 1, 1) a chain, (n, m, 1) a
        square 2D array.

    Examples
    --------
    >>> from uedflow.crystal import get_structure
    >>> single = build_nanocrystal(get_structure("PbSe"), 3.0)
    >>> dimer = attach(single, (2, 1, 1))
    >>> dimer.n_atoms < 2 * single.n_atoms and dimer.surface_fraction() < single.surface_fraction()
    True
    """
    if dot.facet_names != FACETS or "plane_distances_angstrom" not in dot.info:
        raise InputError(f"attach fuses cubic dots of build_nanocrystal along <100>; a {dot.info.get('shape')} cut "
                         f"of {dot.info.get('material')} attaches with uedflow.simulate.cell_cut.attach_cut")
    g = tuple(int(v) for v in grid)
    if len(g) != 3 or min(g) < 1:
        raise InputError(f"grid must be three positive integers (dots along x, y, z), got {grid}")
    period = 2.0 * float(np.max(dot.positions[:, 0]))
    centres = np.stack(np.meshgrid(*[np.arange(n) for n in g], indexing="ij"), axis=-1).reshape(-1, 3) * period
    pos = (centres[:, None, :] + dot.positions[None, :, :]).reshape(-1, 3)
    species = np.tile(dot.species, len(centres))
    owner = np.repeat(np.arange(len(centres), dtype=np.int32), dot.n_atoms)
    # atoms of the shared facet planes appear twice: keep the first copy
    key = np.round(pos / 1e-3).astype(np.int64)
    _, first = np.unique(key, axis=0, return_index=True)
    first.sort()
    pos, species, owner = pos[first], species[first], owner[first]
    layers = surface_layers or int(dot.info.get("surface_layers", 1))
    planes = {int(FACETS.index(k)): v for k, v in dot.info["plane_distances_angstrom"].items()}
    nn = float(np.min(cKDTree(dot.positions).query(dot.positions[:50], k=2)[0][:, 1]))
    surface, facet, normal = _tag(pos, centres, owner, planes, nn, layers)
    info = {**dot.info, "assembly_grid": list(g), "period_angstrom": period}
    return Nanocrystal(pos, species, dot.elements, surface, facet, normal, owner, info)


def size_distribution(mean_nm: float, std_nm: float, *, n_points: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Diameters [nm] and weights of a Gaussian size distribution (Gauss–Hermite nodes).

    Averages ⟨g(D)⟩ over D ~ N(mean, std) as Σ w_k g(D_k), exact for polynomials of
    degree < 2 n_points. Weights sum to 1.

    Examples
    --------
    >>> d, w = size_distribution(5.5, 0.6, n_points=3)
    >>> round(float(np.sum(w * d)), 6), round(float(np.sqrt(np.sum(w * (d - 5.5) ** 2))), 6)
    (5.5, 0.6)
    """
    if not mean_nm > 0 or std_nm < 0 or n_points < 1:
        raise InputError(f"size distribution needs mean > 0, std >= 0, n_points >= 1; got {mean_nm}, {std_nm}, {n_points}")
    x, w = np.polynomial.hermite_e.hermegauss(n_points)
    d = mean_nm + std_nm * x
    if np.any(d <= 0):
        raise InputError(f"size distribution {mean_nm} ± {std_nm} nm reaches non-positive diameters; narrow it")
    return d, w / w.sum()
