"""Atomistic virtual experiment of a uniaxial crystal (hexagonal, trigonal, tetragonal): a cut of any cell
(:func:`~uedflow.simulate.cell_cut.cut_crystal`: flake, sphere, Wulff shape; attached copies with
:func:`~uedflow.simulate.cell_cut.attach_cut`) pumped per crystal axis.

At delay t every atom moves as r → c + (1 + ε_a(t)) (r − c)_⊥ + (1 + ε_c(t)) (r − c)_∥ about its dot's centre
(⊥: in the basal plane, ∥: along c) and its displacement tensor grows by Δ⟨u_⊥²⟩(t) in the plane and Δ⟨u_∥²⟩(t)
along c, each an exponential rise with the IRF (:func:`~uedflow.simulate.atomistic.atomistic_series` with an
axis). The pattern is the Debye sum of the model (finite size, surface, the rings' own shapes, Laue and
thermal diffuse scattering of uncorrelated displacements), per atom. The truth is what was imposed: Δa/a =
ε_a, Δc/c = ε_c and the two Δ⟨u²⟩, the quantities :func:`~uedflow.dynamics.axes_series.analyze_axes_series`
recovers; a peak-fit analysis of the finite crystal's rings may differ from them by finite-size effects, which
is what this level tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from uedflow.crystal import Crystal, composite_rings, reflection_families
from uedflow.errors import ConfigError
from uedflow.simulate.atomistic import atomistic_series
from uedflow.simulate.cell_cut import cartesian_basis, crystal_rings
from uedflow.simulate.debye import Ring
from uedflow.simulate.nanocrystal import Nanocrystal
from uedflow.simulate.pump import PeakDynamics

__all__ = ["CrystalAtomisticModel"]


@dataclass(frozen=True)
class CrystalAtomisticModel:
    """A pumped cut of a uniaxial crystal with the interface of the other virtual-experiment models
    (``profiles``, ``truth``, ``t0_ps``).

    Attributes
    ----------
    nanocrystal : Nanocrystal
        The cut (or attached cuts) of ``crystal``.
    crystal : Crystal
        Uniaxial: α = β = 90°, a = b.
    strain : dict
        ``"a"``, ``"c"`` -> (Δx/x plateau, τ [ps]).
    msd : dict
        ``"perp"``, ``"par"`` -> (Δ⟨u²⟩ plateau [Å²] along one direction, τ [ps]).
    s_max : float
        Largest s of the patterns [Å⁻¹] (the rings whose Debye–Waller directions are needed).
    t0_ps, irf_fwhm_ps : float
        Time zero and IRF FWHM [ps].
    fwhm : float
        Ring FWHM [Å⁻¹] the truth groups composite rings with (half of it).
    """

    nanocrystal: Nanocrystal
    crystal: Crystal
    strain: dict[str, tuple[float, float]]
    msd: dict[str, tuple[float, float]]
    s_max: float
    t0_ps: float = 0.0
    irf_fwhm_ps: float = 0.5
    fwhm: float = 0.012

    def __post_init__(self) -> None:
        lat = self.crystal.lattice
        if not (abs(lat.alpha - 90) < 1e-6 and abs(lat.beta - 90) < 1e-6 and abs(lat.a - lat.b) < 1e-6 * lat.a):
            raise ConfigError(f"the atomistic crystal level pumps uniaxial crystals (a = b, α = β = 90°); "
                              f"{self.crystal.name} has cell {lat.parameters}")

    @cached_property
    def axis(self) -> np.ndarray:
        """Unit Cartesian c direction of the cut."""
        c = cartesian_basis(self.crystal)[2]
        return c / np.linalg.norm(c)

    @cached_property
    def rings(self) -> list[Ring]:
        """Rings with the Cartesian directions of their members (the anisotropic Debye–Waller factors)."""
        return crystal_rings(self.crystal, self.s_max)

    def _groups(self, plane: bool) -> dict[str, PeakDynamics]:
        (sa, st), (ma, mt) = (self.strain["a"], self.msd["perp"]) if plane else (self.strain["c"], self.msd["par"])
        return {"core": PeakDynamics(strain_amplitude=sa, strain_tau_ps=st, msd_amplitude_angstrom2=ma, msd_tau_ps=mt)}

    def profiles(self, s: np.ndarray, delay_ps: np.ndarray, *, t0_ps: float | None = None) -> np.ndarray:
        """Noise-free I(s) per atom at each delay, shape (n_delay, n_s)."""
        u0 = float(np.mean(np.trace(self.crystal.u_cif, axis1=1, axis2=2)) / 3.0)
        return atomistic_series(self.nanocrystal, np.asarray(s, float), delay_ps, self._groups(True),
                                t0_ps=self.t0_ps if t0_ps is None else t0_ps, irf_fwhm_ps=self.irf_fwhm_ps,
                                msd_static_angstrom2=u0, reflections=self.rings, axis=self.axis,
                                axis_groups=self._groups(False)) / self.nanocrystal.n_atoms

    def truth(self, delay_ps: np.ndarray) -> dict[str, Any]:
        """The imposed kinetics per axis and the composite rings (members and weights) up to ``s_max``."""
        rings = composite_rings(reflection_families(self.crystal, self.s_max), 0.5 * self.fwhm)
        return {"t0_ps": self.t0_ps, "irf_fwhm_ps": self.irf_fwhm_ps, "fwhm_inv_angstrom": self.fwhm,
                "crystal": self.crystal.name, "model": "atomistic (Debye sum of the cut)",
                "strain": {k: {"amplitude": a, "tau_ps": tau} for k, (a, tau) in self.strain.items()},
                "msd": {k: {"amplitude_angstrom2": a, "tau_ps": tau} for k, (a, tau) in self.msd.items()},
                "delay_ps": np.atleast_1d(delay_ps).tolist(), "nanocrystal": self.nanocrystal.summary(),
                "rings": [{"label": r.label, "members": [list(m.hkl) for m in r.members], "weights": list(r.weights),
                           "s0": r.s_inv_angstrom} for r in rings],
                "conventions": {"strain": "positions scale by (1 + strain_a) in the basal plane and (1 + strain_c) "
                                          "along c about each dot's centre",
                                "msd": "displacement tensor grows by dmsd_perp in the plane and dmsd_par along c "
                                       "[Angstrom^2, along one direction]",
                                "kinetics": "A (1 - exp(-(t - t0)/tau)) for t > t0 convolved with a Gaussian IRF"}}
