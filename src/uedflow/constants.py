"""Physical constants in uedflow's unit system, with their source.

Values are CODATA 2018 (exact where the SI defines them), as tabulated by
:mod:`scipy.constants`; they are restated here so the unit of each is explicit.
"""

from __future__ import annotations

__all__ = [
    "PLANCK_J_S",
    "SPEED_OF_LIGHT_M_S",
    "ELECTRON_MASS_KG",
    "ELEMENTARY_CHARGE_C",
    "BOLTZMANN_J_K",
    "AVOGADRO_PER_MOL",
    "HBAR_J_S",
    "ATOMIC_MASS_UNIT_KG",
    "ELECTRON_REST_ENERGY_EV",
    "ATOMIC_MASS_U",
    "ATOMIC_NUMBER",
]

PLANCK_J_S = 6.62607015e-34  # exact (SI 2019)
HBAR_J_S = PLANCK_J_S / (2.0 * 3.141592653589793)
SPEED_OF_LIGHT_M_S = 299792458.0  # exact
ELEMENTARY_CHARGE_C = 1.602176634e-19  # exact
BOLTZMANN_J_K = 1.380649e-23  # exact
AVOGADRO_PER_MOL = 6.02214076e23  # exact
ELECTRON_MASS_KG = 9.1093837015e-31  # CODATA 2018
ATOMIC_MASS_UNIT_KG = 1.66053906660e-27  # CODATA 2018
ELECTRON_REST_ENERGY_EV = 510998.95000  # CODATA 2018, m_e c^2 in eV

#: Standard atomic weights [u] (IUPAC 2021, abridged values) of the elements
#: uedflow builds structures from.
ATOMIC_MASS_U: dict[str, float] = {
    "H": 1.008, "C": 12.011, "N": 14.007, "O": 15.999, "Na": 22.990,
    "Mg": 24.305, "Al": 26.982, "Si": 28.085, "S": 32.06, "Cl": 35.45,
    "Ti": 47.867, "V": 50.942, "Cr": 51.996, "Fe": 55.845, "Ni": 58.693,
    "Cu": 63.546, "Zn": 65.38, "Ga": 69.723, "Ge": 72.630, "As": 74.922,
    "Se": 78.971, "Mo": 95.95, "Ag": 107.87, "Cd": 112.41, "In": 114.82, "Sn": 118.71,
    "Sb": 121.76, "Te": 127.60, "Cs": 132.91, "Pt": 195.08, "Au": 196.97, "Pb": 207.2,
    "Bi": 208.98,
}

#: Atomic numbers of the same elements.
ATOMIC_NUMBER: dict[str, int] = {
    "H": 1, "C": 6, "N": 7, "O": 8, "Na": 11, "Mg": 12, "Al": 13, "Si": 14,
    "S": 16, "Cl": 17, "Ti": 22, "V": 23, "Cr": 24, "Fe": 26, "Ni": 28,
    "Cu": 29, "Zn": 30, "Ga": 31, "Ge": 32, "As": 33, "Se": 34, "Mo": 42, "Ag": 47,
    "Cd": 48, "In": 49, "Sn": 50, "Sb": 51, "Te": 52, "Cs": 55, "Pt": 78, "Au": 79,
    "Pb": 82, "Bi": 83,
}
