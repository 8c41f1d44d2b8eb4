"""Built-in crystals of common UED samples, from their literature cells, and :func:`get_crystal`.

Each entry gives the space group, the room-temperature cell (Å, degrees) and
the asymmetric unit, with its reference. R groups are in the hexagonal
setting. No displacement parameters are tabulated (B = 0); a CIF with B or
U_ij can be read instead (:func:`~uedflow.crystal.read_cif`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from uedflow.crystal.general import Crystal, Site
from uedflow.crystal.lattice import Lattice
from uedflow.crystal.structures import MATERIALS, Structure, get_structure
from uedflow.errors import CrystalError

__all__ = ["CRYSTALS", "builtin_crystal", "get_crystal", "sample_crystal", "sample_structure"]

_T = 1.0 / 3.0

#: name -> (space group, (a, b, c, α, β, γ), asymmetric unit [(element, (x, y, z))], reference)
CRYSTALS: dict[str, tuple[str, tuple[float, ...], tuple[tuple[str, tuple[float, float, float]], ...], str]] = {
    "Au": ("Fm-3m", (4.0782,) * 3 + (90.0,) * 3, (("Au", (0.0, 0.0, 0.0)),),
           "a = 4.0782 Å at 298 K: R. W. G. Wyckoff, Crystal Structures vol. 1, 2nd ed. (Wiley, 1963)"),
    "Al": ("Fm-3m", (4.0495,) * 3 + (90.0,) * 3, (("Al", (0.0, 0.0, 0.0)),),
           "a = 4.0495 Å at 298 K: Wyckoff, Crystal Structures vol. 1 (1963)"),
    "Si": ("Fd-3m", (5.431020511,) * 3 + (90.0,) * 3, (("Si", (0.0, 0.0, 0.0)),),
           "a = 5.431020511 Å at 22.5 °C: CODATA 2018 (E. Tiesinga et al., Rev. Mod. Phys. 93, 025010 (2021))"),
    "graphite": ("P63/mmc", (2.464, 2.464, 6.711, 90.0, 90.0, 120.0),
                 (("C", (0.0, 0.0, 0.25)), ("C", (_T, 2 * _T, 0.25))),
                 "hexagonal graphite: Y. Trucano and R. Chen, Nature 258, 136 (1975)"),
    "Bi": ("R-3m", (4.5460, 4.5460, 11.8622, 90.0, 90.0, 120.0), (("Bi", (0.0, 0.0, 0.23407)),),
           "Bi at 298 K, hexagonal setting: P. Cucka and C. S. Barrett, Acta Cryst. 15, 865 (1962)"),
    "MoS2": ("P63/mmc", (3.1604, 3.1604, 12.295, 90.0, 90.0, 120.0),
             (("Mo", (_T, 2 * _T, 0.25)), ("S", (_T, 2 * _T, 0.6210))),
             "2H-MoS2: P. G. Bronsema, J. L. de Boer and F. Jellinek, Z. Anorg. Allg. Chem. 540, 15 (1986)"),
    "VO2-M1": ("P21/c", (5.7517, 4.5378, 5.3825, 90.0, 122.646, 90.0),
               (("V", (0.23947, 0.97894, 0.02646)), ("O", (0.10616, 0.21185, 0.20859)),
                ("O", (0.40051, 0.70258, 0.29884))),
               "monoclinic M1 VO2 at 298 K: J. M. Longo and P. Kierkegaard, Acta Chem. Scand. 24, 420 (1970)"),
    "VO2-R": ("P42/mnm", (4.5546, 4.5546, 2.8514, 90.0, 90.0, 90.0),
              (("V", (0.0, 0.0, 0.0)), ("O", (0.3001, 0.3001, 0.0))),
              "rutile VO2 at 360 K: D. B. McWhan et al., Phys. Rev. B 10, 490 (1974)"),
    "CdSe-wurtzite": ("P63mc", (4.299, 4.299, 7.010, 90.0, 90.0, 120.0),
                      (("Cd", (_T, 2 * _T, 0.0)), ("Se", (_T, 2 * _T, 0.375))),
                      "wurtzite CdSe: a, c from powder diffraction file JCPDS 08-0459; ideal u = 3/8"),
}

#: other names (lower case, no dashes) of the built-in crystals
_ALIASES = {"c": "graphite", "vo2": "vo2m1", "m1vo2": "vo2m1", "vo2rutile": "vo2r", "rutilevo2": "vo2r",
            "cdsew": "cdsewurtzite", "wurtzitecdse": "cdsewurtzite", "2hmos2": "mos2"}


def _key(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "").replace(" ", "")


def builtin_crystal(name: str) -> Crystal:
    """A built-in crystal of :data:`CRYSTALS` (name case- and dash-insensitive, e.g. ``"vo2-m1"``)."""
    names = {_key(k): k for k in CRYSTALS}
    key = names.get(_ALIASES.get(_key(name), _key(name)))
    if key is None:
        raise CrystalError(f"unknown material {name!r}; built-in crystals are {', '.join(CRYSTALS)} and the cubic "
                           f"{', '.join(k for k in MATERIALS if k not in CRYSTALS)}; or give a CIF file")
    group, cell, sites, ref = CRYSTALS[key]
    return Crystal(key, Lattice(*cell), group, tuple(Site(el, xyz) for el, xyz in sites), ref)


def get_crystal(material: str | Path | dict[str, Any] | Structure | Crystal) -> Crystal:
    """Any description of a crystal as a :class:`Crystal`.

    Parameters
    ----------
    material : str, Path, dict, Structure or Crystal
        A CIF file (path ending in ``.cif``), a built-in name of :data:`CRYSTALS` (``"Bi"``, ``"VO2-M1"``...) or of
        the cubic :data:`~uedflow.crystal.MATERIALS` (``"PbSe"``), a cubic structure description (see
        :func:`~uedflow.crystal.get_structure`), or a Structure/Crystal.

    Raises
    ------
    CrystalError
        Unknown material; unreadable CIF.

    Examples
    --------
    >>> get_crystal("Bi").space_group_symbol, len(get_crystal("Bi").species)
    ('R-3m', 6)
    """
    from uedflow.crystal.cif import read_cif

    if isinstance(material, Crystal):
        return material
    if isinstance(material, Structure):
        return Crystal.from_structure(material)
    if isinstance(material, Path) or (isinstance(material, str) and material.lower().endswith(".cif")):
        return read_cif(Path(material))
    if isinstance(material, str) and _key(material) not in {_key(k) for k in MATERIALS if k not in CRYSTALS}:
        return builtin_crystal(material)
    return Crystal.from_structure(get_structure(material))


def sample_structure(sample: Any) -> Structure:
    """The cubic structure of an experiment's ``[sample]`` (a :class:`~uedflow.config.SampleConfig`): its ``cif``
    file if given, else its ``structure`` description or built-in ``material``, with ``lattice_constant_angstrom``
    overriding the lattice constant.

    Raises
    ------
    CrystalError
        A non-cubic crystal (the time-resolved chain indexes cubic crystals; ``uedflow crystal`` and
        ``uedflow calibrate`` take any), an unknown material or an unreadable CIF.
    """
    a = sample.lattice_constant_angstrom
    if sample.cif:
        from uedflow.crystal.cif import read_cif

        structure = read_cif(sample.cif).to_structure()
        return structure if a is None else structure.with_lattice_constant(a)
    if isinstance(sample.material, str) and sample.structure is None and _key(sample.material) in {
            _key(k) for k in CRYSTALS if k not in MATERIALS}:
        return builtin_crystal(sample.material).to_structure()  # raises: not cubic
    return get_structure(sample.structure or sample.material, a_angstrom=a)


def sample_crystal(sample: Any) -> Structure | Crystal:
    """The crystal of an experiment's ``[sample]``: its cubic :class:`Structure` when it is cubic (what
    :func:`sample_structure` gives), else the general :class:`Crystal` of its ``cif`` file or built-in
    ``material`` (for the reduction: calibration from its rings, and the reduced file's description).

    Raises
    ------
    CrystalError
        An unknown material or an unreadable CIF.
    """
    try:
        return sample_structure(sample)
    except CrystalError:
        if sample.cif:
            return get_crystal(Path(sample.cif))
        if isinstance(sample.material, str) and sample.structure is None:
            return get_crystal(sample.material)
        raise
