"""Per-element vibration of the virtual experiment: each element its own Debye temperature.

Without it every atom of the simulator has one ⟨u²⟩ (the mean-mass Debye value). With
``debye_temperatures_K = {Pb = 110, Se = 250}`` in the run description each element e gets its
own static ⟨u_e²⟩_0 = ⟨u²⟩_Debye(T0; Θ_e, m_e) and, after the pump, Δ⟨u_e²⟩(t) = k_e · Δ⟨u²⟩(t),
where Δ⟨u²⟩(t) is the trajectory of the ring or atom group (:class:`~uedflow.simulate.pump.PeakDynamics`,
whose amplitude is the mean-mass Debye rise) and

    k_e = [⟨u²⟩(T0 + ΔT; Θ_e, m_e) − ⟨u²⟩(T0; Θ_e, m_e)] / [⟨u²⟩(T0 + ΔT; Θ, m̄) − ⟨u²⟩(T0; Θ, m̄)]

the element's share of the same temperature rise ΔT (Θ = 250 K, m̄ the mean mass: the reference
of :mod:`uedflow.simulate.presets`). Both levels render it through the structure factor: the
phenomenological one with :class:`~uedflow.crystal.vibration.RingPartials`, the atomistic one per
atom in the Debye sum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from uedflow.crystal import Structure
from uedflow.errors import ConfigError

__all__ = ["ElementVibration", "element_vibration"]


@dataclass(frozen=True)
class ElementVibration:
    """Static ⟨u_e²⟩_0 [Å²] and dynamic scale k_e of each element (module docstring)."""

    elements: tuple[str, ...]
    debye_temperature_K: np.ndarray
    msd_static_angstrom2: np.ndarray
    scale: np.ndarray

    def static(self, element: str) -> float:
        """⟨u²⟩_0 of ``element`` [Å²]."""
        return float(self.msd_static_angstrom2[self.elements.index(element)])

    def k(self, element: str) -> float:
        """Δ⟨u_e²⟩ / Δ⟨u²⟩ of ``element``."""
        return float(self.scale[self.elements.index(element)])

    def truth(self) -> dict[str, Any]:
        """JSON-safe per-element inputs for truth.json."""
        return {el: {"debye_temperature_K": float(t), "msd_static_angstrom2": float(u), "msd_scale": float(k)}
                for el, t, u, k in zip(self.elements, self.debye_temperature_K, self.msd_static_angstrom2,
                                       self.scale, strict=True)}


def element_vibration(structure: Structure, debye_temperatures_K: dict[str, float], *, temperature_K: float,
                      rise_K: float, reference_debye_K: float, reference_mass_u: float) -> ElementVibration:
    """The :class:`ElementVibration` of ``structure`` at base temperature T0 and rise ΔT [K].

    Raises
    ------
    ConfigError
        An element missing from or foreign to the structure, or a non-positive Debye temperature.
    """
    from uedflow.dynamics.elements import element_static_msd
    from uedflow.physics.debye import msd_debye_angstrom2

    elements = structure.elements
    given = {str(k): v for k, v in debye_temperatures_K.items()}
    if set(given) != set(elements):
        raise ConfigError(f"debye_temperatures_K needs one Debye temperature [K] per element of {structure.name} "
                          f"({', '.join(elements)}); got {sorted(given)}")
    theta = np.array([float(given[e]) for e in elements])
    if not np.all(theta > 0):
        raise ConfigError(f"debye_temperatures_K must be positive [K], got {given}")
    if not rise_K > 0:
        raise ConfigError(f"per-element vibration needs a positive temperature rise, got {rise_K} K")
    t0, t1 = float(temperature_K), float(temperature_K) + float(rise_K)
    static, _ = element_static_msd(structure, t0, reference_debye_K, given)
    rise = element_static_msd(structure, t1, reference_debye_K, given)[0] - static
    ref = float(msd_debye_angstrom2(t1, reference_debye_K, reference_mass_u)
                - msd_debye_angstrom2(t0, reference_debye_K, reference_mass_u))
    return ElementVibration(elements, theta, static, rise / ref)
