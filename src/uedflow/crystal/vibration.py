"""Ring intensities with one mean-square displacement per element (Debye–Waller through |F|²).

A ring's intensity is Σ_m M_m |F_m|² over its member reflections m (multiplicity M_m) with

.. math::

    F_m = \\sum_e G_{e,m}\\, e^{-2\\pi^2 \\langle u_e^2\\rangle s^2},
    \\qquad G_{e,m} = f_e(s) \\sum_{j \\in e} e^{2\\pi i\\, h_m \\cdot x_j},

s = 1/d [Å⁻¹] and ⟨u_e²⟩ the one-dimensional mean-square displacement of element e [Å²]. In rock
salt the all-even rings have G_A + G_B, the all-odd ones G_A − G_B: heating that moves the two
elements differently changes the odd rings differently from the even ones, and an odd ring may
even *gain* intensity. One Δ⟨u²⟩ per ring (−ln(I/I0)/(4π²s²)) is then an *effective* value, not
the vibration of any atom. :class:`RingPartials` evaluates the exact ratio and the element weights
that say which rings may rise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from uedflow.constants import ATOMIC_MASS_U
from uedflow.crystal.form_factors import electron_scattering_factor
from uedflow.crystal.reflections import multiplicity, parse_hkl
from uedflow.crystal.structures import Structure
from uedflow.errors import CrystalError

__all__ = ["RingPartials", "ring_partials", "mass_weighted"]

_TWO_PI2 = 2.0 * np.pi**2


@dataclass(frozen=True)
class RingPartials:
    """Per-element partial structure factors of a set of rings.

    Attributes
    ----------
    labels : tuple of str
        Ring labels; a blend of families at one s is written ``"333/511"``.
    elements : tuple of str
        Element of each column of ``partials``.
    s : (R,) ndarray
        Ring position s = 1/d [Å⁻¹].
    partials : (R, M, E) complex ndarray
        G_{e,m} of member m of ring r (zero-padded to the largest number of members M) [Å].
    weights : (R, M) ndarray
        Multiplicity of each member (0 for padding).
    """

    labels: tuple[str, ...]
    elements: tuple[str, ...]
    s: np.ndarray
    partials: np.ndarray
    weights: np.ndarray

    def intensity(self, msd_angstrom2: np.ndarray) -> np.ndarray:
        """Σ_m M_m |F_m|² [Å²] for ⟨u_e²⟩ [Å²] of shape (E,) (all rings) or (..., R, E) -> (R,) or (..., R)."""
        u = np.asarray(msd_angstrom2, dtype=float)
        if u.ndim == 1:
            u = u[None, :]
        if u.shape[-2:] not in ((1, len(self.elements)), (self.s.size, len(self.elements))):
            raise CrystalError(f"need ⟨u²⟩ of shape (E,) or (..., R, E) for E = {len(self.elements)} elements "
                               f"and R = {self.s.size} rings; got shape {np.shape(msd_angstrom2)}")
        dw = np.exp(-_TWO_PI2 * u * self.s[:, None] ** 2)  # (..., R, E)
        amp = np.einsum("rme,...re->...rm", self.partials, dw)
        return np.einsum("rm,...rm->...r", self.weights, np.abs(amp) ** 2)

    def ratio(self, msd0_angstrom2: np.ndarray, dmsd_angstrom2: np.ndarray) -> np.ndarray:
        """I/I0 of every ring when ⟨u_e²⟩ goes from ``msd0`` (E,) to ``msd0 + dmsd`` ((E,) or (..., R, E)) [Å²]."""
        u0 = np.asarray(msd0_angstrom2, dtype=float)
        return self.intensity(u0 + np.asarray(dmsd_angstrom2, dtype=float)) / self.intensity(u0)

    def element_weights(self, msd0_angstrom2: np.ndarray) -> np.ndarray:
        """w_{r,e} = −∂ln I_r/∂⟨u_e²⟩ / (4π² s_r²), shape (R, E): the first-order share of each element.

        The weights of a ring sum to 1; one Δ⟨u²⟩ for all elements gives Δ⟨u²⟩_eff = Σ_e w_e Δ⟨u_e²⟩.
        A negative weight (the all-odd rings of rock salt: F ∝ G_A − G_B) means the ring can gain
        intensity on heating when that element vibrates more than the others.
        """
        u0 = np.asarray(msd0_angstrom2, dtype=float)
        dw = np.exp(-_TWO_PI2 * u0[None, :] * self.s[:, None] ** 2)
        terms = self.partials * dw[:, None, :]
        amp = terms.sum(axis=2)
        share = np.einsum("rm,rme->re", self.weights, np.real(terms * np.conj(amp)[:, :, None]))
        return share / np.einsum("rm,rm->r", self.weights, np.abs(amp) ** 2)[:, None]

    def may_rise(self, msd0_angstrom2: np.ndarray) -> np.ndarray:
        """(R,) bool: rings with a negative element weight, whose intensity may rise on heating."""
        return np.any(self.element_weights(msd0_angstrom2) < -1e-9, axis=1)


def mass_weighted(structure: Structure, per_element: np.ndarray) -> float:
    """Mass-weighted mean over the atoms of the cell of a value given per element of ``structure.elements``
    (e.g. ⟨u_e²⟩: the centre-of-mass motion that acoustic phonons carry).

    Examples
    --------
    >>> from uedflow.crystal import get_structure
    >>> round(mass_weighted(get_structure("PbSe"), np.array([1.0, 0.0])), 3)  # Pb share of the mass
    0.724
    """
    mass = np.array([ATOMIC_MASS_U[e] * structure.species.count(e) for e in structure.elements])
    return float(np.sum(mass * np.asarray(per_element, float)) / mass.sum())


def ring_partials(structure: Structure, labels: tuple[str, ...] | list[str]) -> RingPartials:
    """The :class:`RingPartials` of ``structure`` for rings labelled ``"200"`` or ``"333/511"``.

    Examples
    --------
    >>> from uedflow.crystal import get_structure
    >>> rp = ring_partials(get_structure("PbSe"), ["111", "200"])
    >>> w = rp.element_weights(np.array([0.005, 0.005]))
    >>> bool(w[0, 0] > 1 and w[0, 1] < 0), bool(np.all(w[1] > 0)), np.round(w.sum(axis=1), 6).tolist()
    (True, True, [1.0, 1.0])
    """
    elements = structure.elements
    members = [[parse_hkl(part) for part in str(lab).split("/")] for lab in labels]
    n_m = max((len(m) for m in members), default=1)
    parts = np.zeros((len(labels), n_m, len(elements)), dtype=complex)
    weights = np.zeros((len(labels), n_m))
    s = np.empty(len(labels))
    species = np.array(structure.species)
    for r, hkls in enumerate(members):
        for m, hkl in enumerate(hkls):
            s_m = float(np.linalg.norm(hkl)) / structure.a_angstrom
            if m == 0:
                s[r] = s_m
            elif abs(s_m - s[r]) > 1e-9 * s[r]:
                raise CrystalError(f"ring {labels[r]!r}: its members are at different s; a blend is one d-spacing")
            phase = np.exp(2j * np.pi * (structure.positions @ np.asarray(hkl, dtype=float)))
            for e, el in enumerate(elements):
                parts[r, m, e] = float(electron_scattering_factor(el, s_m)) * phase[species == el].sum()
            weights[r, m] = multiplicity(hkl)
    return RingPartials(tuple(str(v) for v in labels), elements, s, parts, weights)
