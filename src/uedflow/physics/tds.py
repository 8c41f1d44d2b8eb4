"""One-phonon thermal diffuse scattering (TDS) around the powder rings: the halo under each peak.

First-order TDS of acoustic phonons concentrates around every reciprocal-lattice point G with a
density ∝ k_B T / (M ω²) ∝ 1/q² (q = Q − G, Debye model: ω ∝ q up to the Debye radius). Its total
near G is the Bragg intensity the Debye–Waller factor removed to first order, I_G · 2M_G with
2M_G = 4π² s_G² ⟨u²⟩ (s = 1/d [Å⁻¹], ⟨u²⟩ the one-dimensional mean-square displacement [Å²]).
Averaged over the orientations of a powder, a 1/q² density inside the Debye sphere (radius s_D,
(4π/3) s_D³ = atoms per unit volume) gives at |Q| = s

.. math::

    g_G(s) \\propto \\frac{1}{s\\, s_G} \\ln \\frac{s_D}{|s - s_G|}, \\qquad |s - s_G| < s_D,

a logarithmic cusp at the ring; the finite crystallite smooths it, |s − s_G| → √((s − s_G)² + w²/4)
with w the ring FWHM. In the orientation-averaged profile I(s) the ring's total TDS A_G·4π²s_G²·2M_G
(A_G the ring's area in I(s)) spreads as s_G² g_G(s) / ∫ g_G s'² ds', the :func:`halo_profile`: per
unit of A_G · 4π² s_G² ⟨u²⟩ (:func:`halo_amount`).

A peak fit takes the part of the cusp under the ring for the ring: as the lattice heats, ⟨u²⟩
grows and the halo with it, the ring loses less area than the Debye–Waller factor says, and
Δ⟨u²⟩ reads low (~8 % on PbS nanocrystals). :mod:`uedflow.dynamics.tds` corrects for it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["debye_radius_s", "halo_amount", "halo_profile"]


def debye_radius_s(n_atoms_per_cell: int, cell_volume_angstrom3: float) -> float:
    """Radius s_D [Å⁻¹] of the Debye sphere, (4π/3) s_D³ = N/V (s = 1/d).

    Examples
    --------
    >>> round(debye_radius_s(8, 6.12**3), 4)  # PbSe
    0.2027
    """
    return float((3.0 * n_atoms_per_cell / (4.0 * np.pi * cell_volume_angstrom3)) ** (1.0 / 3.0))


def halo_amount(area: np.ndarray, s_ring: np.ndarray, msd_angstrom2: np.ndarray) -> np.ndarray:
    """A · 4π² s² ⟨u²⟩: the amount of each ring's halo (module docstring), broadcasting its arguments."""
    return np.asarray(area) * 4.0 * np.pi**2 * np.asarray(s_ring) ** 2 * np.asarray(msd_angstrom2)


def halo_profile(s: np.ndarray, s_ring: float, fwhm: float, s_debye: float) -> np.ndarray:
    """The halo of one ring in the profile I(s) per unit :func:`halo_amount` [1/Å⁻¹] (module docstring).

    Examples
    --------
    >>> x = np.linspace(0.0, 0.8, 80001)
    >>> h = halo_profile(x, 0.33, 0.02, 0.2)
    >>> round(float(np.trapezoid(h * x**2, x)) / 0.33**2, 6), bool(abs(x[h.argmax()] - 0.33) < 0.01)
    (1.0, True)
    """
    def g(x: np.ndarray) -> np.ndarray:
        d = np.sqrt((x - s_ring) ** 2 + 0.25 * fwhm**2)
        return np.where(np.abs(x - s_ring) < s_debye, np.maximum(np.log(s_debye / d), 0.0), 0.0) / (
            np.maximum(x, 1e-6) * s_ring)

    grid = np.linspace(max(s_ring - s_debye, 0.0), s_ring + s_debye, 8001)
    return s_ring**2 * g(np.asarray(s, dtype=float)) / np.trapezoid(g(grid) * grid**2, grid)
