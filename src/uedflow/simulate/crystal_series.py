"""Phenomenological powder series of any crystal with strain and vibration kinetics per crystal axis.

Every reflection family f of the crystal (:func:`~uedflow.crystal.reflection_families`) is a ring of
pseudo-Voigt shape (area-normalised, FWHM w, mixing η) that after the pump follows **exactly**

* centre  s_f(t) = s of the family in the strained cell, the free cell parameters (Δa/a, Δc/c, ... of
  :func:`~uedflow.dynamics.lattice_strain.free_parameters`) each rising as A (1 − e^{−(t−t0)/τ}) convolved with a
  Gaussian IRF (:func:`~uedflow.dynamics.models.exp_rise`);
* area    A_f(t) = A0_f · exp(−4π² (s_⊥² Δ⟨u_⊥²⟩(t) + s_∥² Δ⟨u_∥²⟩(t))), s_∥ = l/c and s_⊥ of the cell before the
  pump (:func:`~uedflow.dynamics.axes.vibration_design`; ⟨u²⟩ along one direction [Å²]), each Δ⟨u²⟩ an exp_rise;
* A0_f = M_f |F_f|² / (4π s_f² V_c): multiplicity, structure factor (with the crystal's own U_ij) and the powder
  Lorentz factor, per conventional cell.

On top sits a smooth background b · Σ_j f_j²(s)(2 − e^{−4π²⟨u_j²⟩s²}) (Laue and static thermal diffuse scattering,
⟨u_j²⟩ the crystal's own U_ii/3; b = 1 is the physical level), and the thermal diffuse scattering gains exactly the
ring intensity lost on the detector's valid pixels (``pixel_density``, :mod:`uedflow.simulate.rings`), so frame
totals do not change with delay. Noise: Poisson counts as in
:func:`~uedflow.simulate.phenomenological.simulate_powder_series`. The truth gives the kinetics and, per composite
ring (:func:`~uedflow.crystal.composite_rings`), its members, their weights and the exact area-weighted centroid
and total area at every delay.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from uedflow.crystal import Crystal, composite_rings, reflection_families
from uedflow.dynamics.axes import vibration_design
from uedflow.dynamics.lattice_strain import free_parameters, strained_lattice
from uedflow.dynamics.models import exp_rise
from uedflow.errors import InputError
from uedflow.simulate.phenomenological import _scan_profiles
from uedflow.simulate.reduced import reduced_dataset
from uedflow.simulate.rings import detector_ring_totals, pseudo_voigt, static_diffuse, tds_shape

__all__ = ["CrystalSeriesModel", "axis_kinetics", "build_crystal_model", "simulate_crystal_series", "CRYSTAL_PRESETS",
           "AXIS_KINETICS_KEYS"]

_MSD_NAMES = ("perp", "par")

#: Profile-level presets: keyword arguments of :func:`simulate_crystal_series` besides the delays and s grid.
#:
#: ``mos2-flakes-300K``: multilayer 2H-MoS2 flakes at 300 K heated by ΔT ≈ 100 K. Strain = thermal expansion over
#: ΔT with α_a ≈ 1.9·10⁻⁶ K⁻¹, α_c ≈ 8.6·10⁻⁶ K⁻¹ (2H-MoS2 near room temperature; El-Mahalawy & Evans,
#: J. Appl. Cryst. 9, 403 (1976)), rounded: Δa/a = 2·10⁻⁴, Δc/c = 9·10⁻⁴. Δ⟨u²⟩ ≈ ⟨u²⟩·ΔT/T at high temperature
#: from room-temperature displacements of order U⊥ ≈ 0.004 Å², U∥ ≈ 0.008 Å² (layered dichalcogenides vibrate most
#: across the layers): Δ⟨u_⊥²⟩ = 1.3·10⁻³ Å², Δ⟨u_∥²⟩ = 2.6·10⁻³ Å². Kinetics: in-plane lattice heating within
#: ~1-2 ps (electron-phonon coupling; femtosecond electron diffraction of MoS2, Mannebach et al., Nano Lett. 15, 6889
#: (2015)), out-of-plane (interlayer, low-frequency) modes and the c-axis expansion much slower, tens of ps;
#: the in-plane expansion follows the in-plane heating within a few ps. Time constants are illustrative choices in
#: those ranges, not fits to the papers.
#:
#: ``bi-film-300K``: a polycrystalline Bi film (trigonal R-3m, hexagonal axes) at 300 K heated by ΔT ≈ 50 K.
#: Strain = thermal expansion with α_⊥ ≈ 1.1·10⁻⁵ K⁻¹, α_∥ ≈ 1.6·10⁻⁵ K⁻¹ along c (bismuth's anisotropic
#: expansion near room temperature, rounded; the cell is the built-in one of P. Cucka and C. S. Barrett at 298 K):
#: Δa/a = 5.5·10⁻⁴, Δc/c = 8·10⁻⁴. Δ⟨u²⟩ ≈ ⟨u²⟩·ΔT/T from room-temperature ⟨u²⟩ of order 0.008-0.011 Å²
#: (B ≈ 0.7-0.9 Å²): Δ⟨u_⊥²⟩ = 1.4·10⁻³, Δ⟨u_∥²⟩ = 1.8·10⁻³ Å². Kinetics: the Debye–Waller decay of Bi films in
#: ultrafast electron diffraction takes a few ps at low fluence (e.g. Sciaini et al., Nature 458, 56 (2009)),
#: the expansion follows acoustically over tens of ps. Time constants are illustrative choices in those ranges.
#: The instrument and the noise of every preset: time zero and IRF [ps], pseudo-Voigt η, counts per s bin.
_INSTRUMENT = {"t0_ps": 0.3, "irf_fwhm_ps": 0.5, "eta": 0.3, "counts_per_bin": 2.0e5}
CRYSTAL_PRESETS: dict[str, dict[str, Any]] = {
    "bi-film-300K": {
        **_INSTRUMENT,
        "crystal": "Bi",
        "strain_amplitudes": {"a": 5.5e-4, "c": 8.0e-4},
        "strain_tau_ps": {"a": 12.0, "c": 18.0},
        "msd_amplitudes": {"perp": 1.4e-3, "par": 1.8e-3},
        "msd_tau_ps": {"perp": 3.0, "par": 4.0},
        "fwhm_inv_angstrom": 0.008,
    },
    "mos2-flakes-300K": {
        **_INSTRUMENT,
        "crystal": "MoS2",
        "strain_amplitudes": {"a": 2.0e-4, "c": 9.0e-4},
        "strain_tau_ps": {"a": 3.0, "c": 25.0},
        "msd_amplitudes": {"perp": 1.3e-3, "par": 2.6e-3},
        "msd_tau_ps": {"perp": 1.5, "par": 12.0},
        "fwhm_inv_angstrom": 0.012,
    },
}

#: The run-description keys of the per-axis kinetics (:func:`axis_kinetics`).
AXIS_KINETICS_KEYS = ("strain_amplitudes", "strain_tau_ps", "msd_amplitudes", "msd_tau_ps")


@dataclass(frozen=True)
class CrystalSeriesModel:
    """Rings of a crystal with per-axis kinetics (module docstring).

    Attributes
    ----------
    crystal : Crystal
    hkl : (F, 3) ndarray
        Representative reflection of each family (ordered by s).
    s0 : (F,) ndarray
        Their s before the pump [Å⁻¹].
    area0 : (F,) ndarray
        Their areas before the pump (per conventional cell).
    design : (F, 2) ndarray
        (s_⊥², s_∥²) [Å⁻²].
    strain : dict
        Free cell parameter -> (amplitude, τ [ps]).
    msd : dict
        ``"perp"``/``"par"`` -> (Δ⟨u²⟩ amplitude [Å²], τ [ps]).
    fwhm, eta, t0_ps, irf_fwhm_ps, background : float
        Ring FWHM [Å⁻¹], pseudo-Voigt mixing, time zero and IRF FWHM [ps], background level.
    """

    crystal: Crystal
    hkl: np.ndarray
    s0: np.ndarray
    area0: np.ndarray
    design: np.ndarray
    strain: dict[str, tuple[float, float]]
    msd: dict[str, tuple[float, float]]
    fwhm: float
    eta: float
    t0_ps: float
    irf_fwhm_ps: float
    background: float
    pixel_density: tuple[np.ndarray, np.ndarray] | None = None

    def __post_init__(self) -> None:
        if self.pixel_density is None:  # a flat detector: pixels per unit s ∝ s, out to past the last ring
            nodes = np.linspace(0.0, float(self.s0.max() + 5.0 * self.fwhm), 4001)
            object.__setattr__(self, "pixel_density", (nodes, nodes.copy()))

    def trajectories(self, delay_ps: np.ndarray, *, t0_ps: float | None = None
                     ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """The true strain (per free parameter) and Δ⟨u²⟩ [Å²] (perp, par) at each delay."""
        t = np.atleast_1d(np.asarray(delay_ps, float))
        t0 = self.t0_ps if t0_ps is None else t0_ps
        rise = {k: exp_rise(t, a, tau, t0, self.irf_fwhm_ps) for k, (a, tau) in (self.strain | self.msd).items()}
        return {k: rise[k] for k in self.strain}, {k: rise[k] for k in self.msd}

    def peak_state(self, delay_ps: np.ndarray, *, t0_ps: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(centre [Å⁻¹], area) of every family, each (n_delay, F)."""
        strain, msd = self.trajectories(delay_ps, t0_ps=t0_ps)
        names = free_parameters(self.crystal.space_group_number)
        x = np.stack([strain.get(n, np.zeros_like(msd["perp"])) for n in names], axis=1)
        centre = np.array([strained_lattice(self.crystal.lattice, names, xi).s_of(self.hkl) for xi in x])
        dmsd = np.stack([msd[n] for n in _MSD_NAMES], axis=1)
        return centre, self.area0 * np.exp(-4.0 * np.pi**2 * dmsd @ self.design.T)

    def profiles(self, s: np.ndarray, delay_ps: np.ndarray, *, t0_ps: float | None = None) -> np.ndarray:
        """Noise-free I(s) at each delay, (n_delay, n_s), per conventional cell."""
        s = np.asarray(s, float)
        centre, area = self.peak_state(delay_ps, t0_ps=t0_ps)
        msd0 = np.trace(self.crystal.u_cif, axis1=1, axis2=2) / 3.0
        t0 = self.t0_ps if t0_ps is None else t0_ps
        unpumped = self.peak_state(np.array([t0 - 1e3]), t0_ps=t0)
        before = detector_ring_totals(self.pixel_density, *unpumped, self.fwhm, self.eta)
        lost = np.sum(before - detector_ring_totals(self.pixel_density, centre, area, self.fwhm, self.eta), axis=1)
        out = (self.background * static_diffuse(s, self.crystal.species, msd0)
               + lost[:, None] * tds_shape(s, self.pixel_density, self.crystal.species, msd0))
        for f in range(self.s0.size):
            out += area[:, f, None] * pseudo_voigt(s[None, :], centre[:, f, None], self.fwhm, self.eta)
        return out

    def truth(self, delay_ps: np.ndarray, resolution: float | None = None) -> dict[str, Any]:
        """Kinetics, and per composite ring (families within ``resolution`` [Å⁻¹], default FWHM/2) its members,
        their weights and the exact centroid [Å⁻¹] and total area at each delay (nominal t0)."""
        resolution = 0.5 * self.fwhm if resolution is None else resolution
        fams = reflection_families(self.crystal, float(self.s0.max()) * 1.0001, s_min=float(self.s0.min()) * 0.9999)
        index = {tuple(int(v) for v in h): i for i, h in enumerate(self.hkl)}
        centre, area = self.peak_state(delay_ps)
        rings = []
        for ring in composite_rings([f for f in fams if f.hkl in index], resolution):
            cols = [index[m.hkl] for m in ring.members]
            total = area[:, cols].sum(axis=1)
            rings.append({"label": ring.label, "members": [list(m.hkl) for m in ring.members],
                          "weights": list(ring.weights), "s0": float(np.sum(np.array(ring.weights) * self.s0[cols])),
                          "centroid": (np.sum(area[:, cols] * centre[:, cols], axis=1) / total).tolist(),
                          "area": total.tolist()})
        return {"t0_ps": self.t0_ps, "irf_fwhm_ps": self.irf_fwhm_ps, "fwhm_inv_angstrom": self.fwhm,
                "pseudo_voigt_eta": self.eta, "crystal": self.crystal.name,
                "strain": {k: {"amplitude": a, "tau_ps": tau} for k, (a, tau) in self.strain.items()},
                "msd": {k: {"amplitude_angstrom2": a, "tau_ps": tau} for k, (a, tau) in self.msd.items()},
                "delay_ps": np.atleast_1d(delay_ps).tolist(), "rings": rings,
                "conventions": {"strain": "relative change of the cell parameter; a ring moves to s of the strained cell",
                                "msd": "area = area0 exp(-4 pi^2 (s_perp^2 dmsd_perp + s_par^2 dmsd_par)), s_par = l/c, "
                                       "<u^2> along one direction [Angstrom^2]",
                                "kinetics": "A (1 - exp(-(t - t0)/tau)) for t > t0 convolved with a Gaussian IRF"}}


def axis_kinetics(crystal: Crystal, strain_amplitudes: dict[str, float], strain_tau_ps: dict[str, float],
                  msd_amplitudes: dict[str, float], msd_tau_ps: dict[str, float]
                  ) -> tuple[dict[str, tuple[float, float]], dict[str, tuple[float, float]]]:
    """(amplitude, τ [ps]) per free cell parameter of ``crystal`` and per vibration axis (perp, par; a missing
    axis does not move).

    Raises
    ------
    InputError
        Strain keys that are not free cell parameters of the crystal's system, Δ⟨u²⟩ keys other than perp/par, or
        an amplitude without a τ > 0.
    """
    def pairs(amplitudes: dict[str, float], taus: dict[str, float], allowed: tuple[str, ...], what: str
              ) -> dict[str, tuple[float, float]]:
        bad = sorted(set(amplitudes) - set(allowed)) + sorted(set(amplitudes) - set(taus))
        if bad or any(not taus[k] > 0 for k in amplitudes):
            raise InputError(f"{what}: keys {sorted(amplitudes)} must be among {allowed}, each with a τ > 0 ps in "
                             f"the matching *_tau_ps dict (got τ {taus})")
        return {k: (float(amplitudes[k]), float(taus[k])) for k in allowed if k in amplitudes}

    strain = pairs(strain_amplitudes, strain_tau_ps, free_parameters(crystal.space_group_number), "strain")
    msd = pairs(msd_amplitudes, msd_tau_ps, _MSD_NAMES, "msd")
    return strain, {k: msd.get(k, (0.0, 1.0)) for k in _MSD_NAMES}


def build_crystal_model(crystal: Crystal, *, s_range: tuple[float, float], strain_amplitudes: dict[str, float],
                        strain_tau_ps: dict[str, float], msd_amplitudes: dict[str, float],
                        msd_tau_ps: dict[str, float], t0_ps: float = 0.0, irf_fwhm_ps: float = 0.5,
                        fwhm_inv_angstrom: float = 0.012, eta: float = 0.3, background: float = 0.02,
                        min_intensity: float = 0.05) -> CrystalSeriesModel:
    """The :class:`CrystalSeriesModel` of the families of ``crystal`` with s in ``s_range`` [Å⁻¹] and a relative
    intensity ≥ ``min_intensity`` (% of the strongest).

    Raises
    ------
    InputError
        Strain keys that are not free cell parameters of the crystal's system, Δ⟨u²⟩ keys other than
        perp/par, τ ≤ 0, a bad width or η, or no reflection in range.
    """
    if not fwhm_inv_angstrom > 0 or not 0.0 <= eta <= 1.0:
        raise InputError(f"fwhm_inv_angstrom must be > 0 and eta in [0, 1]; got {fwhm_inv_angstrom}, {eta}")
    strain, msd = axis_kinetics(crystal, strain_amplitudes, strain_tau_ps, msd_amplitudes, msd_tau_ps)
    fams = [f for f in reflection_families(crystal, s_range[1], s_min=s_range[0]) if f.intensity >= min_intensity]
    if not fams:
        raise InputError(f"no reflection of {crystal.name} in s = {s_range} Å⁻¹; widen the s grid")
    hkl = np.array([f.hkl for f in fams], float)
    s0 = np.array([f.s_inv_angstrom for f in fams])
    area0 = np.array([f.multiplicity * f.f2_angstrom2 for f in fams]) / (4 * np.pi * s0**2 * crystal.lattice.volume_angstrom3)
    return CrystalSeriesModel(crystal, hkl, s0, area0, vibration_design(crystal, hkl, "axes")[1], strain, msd,
                              float(fwhm_inv_angstrom), float(eta), float(t0_ps), float(irf_fwhm_ps), float(background))


def simulate_crystal_series(crystal: Crystal, delays_ps: np.ndarray, s_grid: np.ndarray, *,
                            strain_amplitudes: dict[str, float], strain_tau_ps: dict[str, float],
                            msd_amplitudes: dict[str, float], msd_tau_ps: dict[str, float], t0_ps: float = 0.0,
                            irf_fwhm_ps: float = 0.5, fwhm_inv_angstrom: float = 0.012, eta: float = 0.3,
                            background: float = 0.02, min_intensity: float = 0.05, ring_resolution: float | None = None,
                            n_scans: int = 2, counts_per_bin: float = 2.0e5, seed: int = 0,
                            ) -> tuple[xr.Dataset, dict[str, Any]]:
    """A reduced powder series I(delay, s) of ``crystal`` with Poisson noise, and its exact truth.

    Parameters
    ----------
    crystal : Crystal
    delays_ps : (n_delay,) ndarray
        Delays [ps], some before ``t0_ps``.
    s_grid : (n_s,) ndarray
        Increasing s bin centres [Å⁻¹]; families within 3 FWHM of its ends are left out.
    strain_amplitudes, strain_tau_ps : dict
        Free cell parameter (``"a"``, ``"c"``...) -> plateau Δx/x and rise time [ps].
    msd_amplitudes, msd_tau_ps : dict
        ``"perp"``/``"par"`` -> plateau Δ⟨u²⟩ [Å²] and rise time [ps].
    t0_ps, irf_fwhm_ps, fwhm_inv_angstrom, eta, background, min_intensity
        See :func:`build_crystal_model`.
    ring_resolution : float, optional
        Families closer than this [Å⁻¹] form one composite ring in the truth (default FWHM/2).
    n_scans, counts_per_bin, seed
        Noise as in :func:`~uedflow.simulate.phenomenological.simulate_powder_series`.

    Returns
    -------
    (xarray.Dataset, dict)
        The ``uedflow-reduced`` layout and the truth (:meth:`CrystalSeriesModel.truth`).
    """
    delays = np.sort(np.asarray(delays_ps, float))
    s = np.asarray(s_grid, float)
    if s.ndim != 1 or s.size < 10 or np.any(np.diff(s) <= 0) or s[0] <= 0:
        raise InputError("s_grid must be an increasing 1D array of >= 10 positive values [Å⁻¹]")
    if delays.size < 2 or not np.any(delays < t0_ps) or n_scans < 1 or not counts_per_bin > 0:
        raise InputError("need >= 2 delays with some before t0, n_scans >= 1 and counts_per_bin > 0")
    pad = 3.0 * fwhm_inv_angstrom
    model = build_crystal_model(crystal, s_range=(float(s[0]) + pad, float(s[-1]) - pad),
                                strain_amplitudes=strain_amplitudes, strain_tau_ps=strain_tau_ps,
                                msd_amplitudes=msd_amplitudes, msd_tau_ps=msd_tau_ps, t0_ps=t0_ps,
                                irf_fwhm_ps=irf_fwhm_ps, fwhm_inv_angstrom=fwhm_inv_angstrom, eta=eta,
                                background=background, min_intensity=min_intensity)
    scans, sig, doses, t0s = _scan_profiles(model, s, delays, n_scans=n_scans, counts_per_bin=counts_per_bin,
                                            dose_jitter=0.0, t0_jitter_ps=0.0, rng=np.random.default_rng(seed))
    ds = reduced_dataset(scans, sig, s, delays - t0_ps, doses, structure=crystal)
    ds = ds.assign_coords(delay=delays)  # reduced_dataset takes the reference before 0: shifted by t0 above
    truth = model.truth(delays, 0.5 * fwhm_inv_angstrom if ring_resolution is None else ring_resolution)
    truth.update({"seed": int(seed), "n_scans": int(n_scans), "counts_per_bin": float(counts_per_bin),
                  "level": "phenomenological-crystal"})
    return ds, truth
