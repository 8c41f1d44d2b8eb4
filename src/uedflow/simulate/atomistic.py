"""Atomistic pump dynamics: per-atom-group expansion and Δ⟨u²⟩ trajectories, Debye pattern per delay.

Atoms are grouped by their tag: ``"core"`` or a surface facet family
(``"{100}"``, ``"{110}"``, ``"{111}"``). Each group g follows a
:class:`~uedflow.simulate.pump.PeakDynamics` (its ``strain`` and ``msd``
trajectories; width is not used): at delay t its atoms move radially from
their dot's centre, r → c + (r − c)(1 + ε_g(t)), and their mean-square
displacement grows by Δ⟨u²⟩_g(t). A fraction ``normal_fraction[g]`` of 3Δ⟨u²⟩
can be put along the facet normal (anisotropic: U = Δ(1 − f) I + 3Δ f n nᵀ, the
trace is kept). With per-element vibration (:mod:`uedflow.simulate.vibration`) an atom of element e
has ⟨u_e²⟩_0 + k_e Δ⟨u²⟩_g(t) instead. When all groups share one strain, the pair histogram is computed
once and its distances scaled; otherwise it is recomputed per delay (numba pair
loop).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from uedflow.crystal import Reflection, Structure, electron_scattering_factor
from uedflow.crystal import reflections as allowed_reflections
from uedflow.errors import ConfigError
from uedflow.simulate.debye import grouped_intensity, lattice_step, pair_histogram
from uedflow.simulate.nanocrystal import Nanocrystal
from uedflow.simulate.pump import PeakDynamics
from uedflow.simulate.vibration import ElementVibration

__all__ = ["AtomisticModel", "atomistic_series"]


def _dot_centres(nc: Nanocrystal) -> np.ndarray:
    n_dots = int(nc.dot.max()) + 1
    return np.array([nc.positions[nc.dot == k].mean(axis=0) for k in range(n_dots)])


def atomistic_series(
    nanocrystal: Nanocrystal,
    s: np.ndarray,
    delays_ps: np.ndarray,
    groups: dict[str, PeakDynamics],
    *,
    t0_ps: float = 0.0,
    irf_fwhm_ps: float = 0.5,
    msd_static_angstrom2: float = 0.0,
    normal_fraction: dict[str, float] | None = None,
    reflections: list[Reflection] | None = None,
    bin_width: float = 0.01,
    lattice_step_angstrom: float | None = None,
    vibration: ElementVibration | None = None,
    axis: np.ndarray | tuple[float, float, float] | None = None,
    axis_groups: dict[str, PeakDynamics] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Debye patterns I(delay, s) of a pumped atomistic model.

    Parameters
    ----------
    nanocrystal : Nanocrystal
        The model (single dot or assembly).
    s : (n_s,) ndarray
        [Å⁻¹].
    delays_ps : (n_delay,) ndarray
        [ps].
    groups : dict
        ``"core"`` and facet names of ``nanocrystal.facet_names`` (``"{100}"``...) -> PeakDynamics; a missing
        group takes ``"core"``'s dynamics (``"core"`` is required).
    t0_ps, irf_fwhm_ps : float
        Time zero and IRF FWHM [ps].
    msd_static_angstrom2 : float
        ⟨u²⟩ of every atom before the pump [Å²].
    normal_fraction : dict, optional
        Group -> fraction (0..1) of the Δ⟨u²⟩ trace along the facet normal.
    reflections : list of Reflection, optional
        Needed when ``normal_fraction`` makes displacements anisotropic.
    bin_width : float
        Histogram bin for strained (off-lattice) models [Å]; their bins use the distance
        averaged over all group pairs (:meth:`~uedflow.simulate.debye.PairHistogram.pooled`).
    lattice_step_angstrom : float, optional
        Grid step of the unstrained model (exact FFT histograms when all groups share one strain).
    vibration : ElementVibration, optional
        Per-element static ⟨u²⟩ and share of Δ⟨u²⟩ (replaces ``msd_static_angstrom2``).
    axis : (3,) array, optional
        Cartesian direction (e.g. the c axis of a layered crystal, (0, 0, 1) for a flake of
        :func:`~uedflow.simulate.cell_cut.cut_crystal`). With it, ``groups`` give the strain and Δ⟨u²⟩
        perpendicular to the axis and ``axis_groups`` those along it: positions move as
        r → c + ε_⊥ (r − c)_⊥ + ε_∥ (r − c)_∥ and U = ⟨u²⟩_0 I + Δ_⊥ (I − a aᵀ) + Δ_∥ a aᵀ (per-axis truth).
        Anisotropic U need ``reflections`` (:func:`~uedflow.simulate.cell_cut.crystal_rings`).
    axis_groups : dict, optional
        Along-axis dynamics per group (``"core"`` required; a missing group takes ``"core"``'s).
    progress : callable, optional
        ``progress(done, total)`` per delay.

    Returns
    -------
    (n_delay, n_s) ndarray
    """
    if "core" not in groups:
        raise ConfigError(f"atomistic dynamics need a 'core' group; got {sorted(groups)}")
    names = nanocrystal.facet_names
    bad = sorted(set(groups) - set(names)) + sorted(set(normal_fraction or {}) - set(names))
    if bad:
        raise ConfigError(f"unknown atom group(s) {bad}; use {', '.join(names)}")
    delays = np.atleast_1d(np.asarray(delays_ps, dtype=float))
    kw = {"t0_ps": t0_ps, "irf_fwhm_ps": irf_fwhm_ps}
    codes = list(range(len(names)))
    dyn = [groups.get(names[c], groups["core"]) for c in codes]
    strain = np.array([[d.trajectory("strain", t, **kw) for d in dyn] for t in delays])  # (n_delay, n_code)
    dmsd = np.array([[d.trajectory("msd", t, **kw) for d in dyn] for t in delays])
    frac = np.array([(normal_fraction or {}).get(names[c], 0.0) for c in codes])
    if np.any((frac < 0) | (frac > 1)):
        raise ConfigError(f"normal_fraction values must be in [0, 1], got {normal_fraction}")
    nn = nanocrystal.normal[:, :, None] * nanocrystal.normal[:, None, :]
    rel = nanocrystal.positions - _dot_centres(nanocrystal)[nanocrystal.dot]
    a_strain, a_msd, along, ax = _axis_trajectories(axis, axis_groups, names, delays, kw, normal_fraction, rel)
    # fixed atom groups (element, facet, facet normal): every atom of a group moves alike at every delay
    key = nanocrystal.facet[:, None] * 10.0
    if np.any(frac > 0):
        key = np.concatenate([key, nn.reshape(-1, 9)], axis=1)
    _, cls = np.unique(np.round(key, 9), axis=0, return_inverse=True)
    _, rep, group = np.unique(nanocrystal.species * (cls.max() + 1) + cls.ravel(), return_index=True,
                              return_inverse=True)  # rep: one representative atom per group
    group = group.ravel()
    gel = [nanocrystal.elements[e] for e in nanocrystal.species[rep]]
    gfacet, gnn = nanocrystal.facet[rep], nn[rep]
    if vibration is None:
        g_static, g_scale = np.full(len(rep), msd_static_angstrom2), np.ones(len(rep))
    else:
        g_static = np.array([vibration.static(e) for e in gel])
        g_scale = np.array([vibration.k(e) for e in gel])
    uniform = np.allclose(strain, strain[:, :1]) and ax is None
    hist0 = None
    out = np.empty((len(delays), len(np.atleast_1d(s))))
    for k in range(len(delays)):
        d, f = dmsd[k, gfacet] * g_scale, frac[gfacet]
        gmsd = (g_static + d * (1 - f))[:, None, None] * np.eye(3) + (3 * d * f)[:, None, None] * gnn
        if ax is not None:
            gmsd += ((a_msd[k, gfacet] * g_scale - d)[:, None, None]) * np.outer(ax, ax)
            pos = (nanocrystal.positions + (rel - along) * strain[k, nanocrystal.facet][:, None]
                   + along * a_strain[k, nanocrystal.facet][:, None])
            hist = pair_histogram(pos, group, n_groups=len(rep), bin_width=bin_width).pooled()
        elif uniform:
            if hist0 is None:
                hist0 = pair_histogram(nanocrystal.positions, group, n_groups=len(rep), bin_width=bin_width,
                                       lattice_step_angstrom=lattice_step_angstrom)
            hist = hist0.scaled(1.0 + strain[k, 0])
        else:
            pos = nanocrystal.positions + rel * strain[k, nanocrystal.facet][:, None]
            hist = pair_histogram(pos, group, n_groups=len(rep), bin_width=bin_width).pooled()
        out[k] = grouped_intensity(hist, gel, gmsd, s, reflections=reflections)
        if progress is not None:
            progress(k + 1, len(delays))
    return out


def _axis_trajectories(axis: Any, axis_groups: dict[str, PeakDynamics] | None, names: tuple[str, ...],
                       delays: np.ndarray, kw: dict[str, float], normal_fraction: dict[str, float] | None,
                       rel: np.ndarray) -> tuple[Any, Any, Any, Any]:
    """Along-axis strain and Δ⟨u²⟩ (n_delay, n_code), the along-axis part of ``rel`` and the unit axis (all None
    without an axis)."""
    if axis is None:
        if axis_groups:
            raise ConfigError("axis_groups need an axis (the Cartesian direction they act along)")
        return None, None, None, None
    ax = np.asarray(axis, dtype=float)
    if ax.shape != (3,) or not np.linalg.norm(ax) > 0:
        raise ConfigError(f"axis must be a non-zero Cartesian 3-vector, got {axis}")
    if not axis_groups or "core" not in axis_groups:
        raise ConfigError("an axis needs axis_groups with a 'core' entry (the along-axis dynamics)")
    if normal_fraction:
        raise ConfigError("normal_fraction and axis are exclusive; give the along-axis Δ⟨u²⟩ in axis_groups")
    if set(axis_groups) - set(names):
        raise ConfigError(f"unknown atom group(s) {sorted(set(axis_groups) - set(names))}; use {', '.join(names)}")
    ax = ax / np.linalg.norm(ax)
    dyn = [axis_groups.get(n, axis_groups["core"]) for n in names]
    strain = np.array([[d.trajectory("strain", t, **kw) for d in dyn] for t in delays])
    msd = np.array([[d.trajectory("msd", t, **kw) for d in dyn] for t in delays])
    return strain, msd, (rel @ ax)[:, None] * ax, ax


@dataclass(frozen=True)
class AtomisticModel:
    """A pumped atomistic model with the interface of :class:`~uedflow.simulate.phenomenological.PowderModel`
    (``profiles``, ``truth``, ``s0``), for virtual experiments at the atomistic level.

    Profiles are Debye intensities per atom (the Laue and thermal diffuse
    scattering come out of the Debye sum) plus the same smooth substrate term as
    the phenomenological model.
    """

    nanocrystal: Nanocrystal
    structure: Structure
    groups: dict[str, PeakDynamics]
    s_max: float
    t0_ps: float = 0.0
    irf_fwhm_ps: float = 0.5
    msd_static_angstrom2: float = 0.0
    normal_fraction: dict[str, float] = field(default_factory=dict)
    substrate_level: float = 0.05
    substrate_decay: float = 0.25
    vibration: ElementVibration | None = None

    @property
    def reflections(self) -> list[Reflection]:
        """Allowed reflections up to ``s_max``."""
        return allowed_reflections(self.structure, self.s_max)

    @property
    def lattice_step(self) -> float:
        """Grid step of the structure's atoms [Å]."""
        return lattice_step(self.structure.positions, self.structure.a_angstrom)

    @property
    def s0(self) -> np.ndarray:
        """Reflection positions before the pump [Å⁻¹]."""
        return np.array([r.s_inv_angstrom for r in self.reflections])

    def profiles(self, s: np.ndarray, delay_ps: np.ndarray, *, t0_ps: float | None = None) -> np.ndarray:
        """Noise-free I(s) per atom at each delay, shape (n_delay, n_s)."""
        s = np.asarray(s, dtype=float)
        out = atomistic_series(self.nanocrystal, s, delay_ps, self.groups,
                               t0_ps=self.t0_ps if t0_ps is None else t0_ps, irf_fwhm_ps=self.irf_fwhm_ps,
                               msd_static_angstrom2=self.msd_static_angstrom2, normal_fraction=self.normal_fraction,
                               reflections=self.reflections, lattice_step_angstrom=self.lattice_step,
                               vibration=self.vibration) / self.nanocrystal.n_atoms
        return out + self.baseline(s) - self._mean_f2(s)

    def _mean_f2(self, s: np.ndarray) -> np.ndarray:
        """Σ_i f_i(s)² / N, the self (Laue) term per atom."""
        counts = np.bincount(self.nanocrystal.species, minlength=len(self.nanocrystal.elements))
        return sum(c * electron_scattering_factor(e, s) ** 2
                   for c, e in zip(counts, self.nanocrystal.elements, strict=True)) / self.nanocrystal.n_atoms

    def baseline(self, s: np.ndarray) -> np.ndarray:
        """The part of :meth:`profiles` that no pair term contributes: self term plus substrate."""
        s = np.asarray(s, dtype=float)
        f2_0 = float(self._mean_f2(np.zeros(1))[0])
        return self._mean_f2(s) + self.substrate_level * f2_0 * np.exp(-s / self.substrate_decay)

    def truth(self) -> dict[str, Any]:
        """Group dynamics and, per hkl, the *effective* plateau strain and Δ⟨u²⟩ measured on noise-free
        patterns after removing the self and substrate terms (centroid shift and peak-height Debye–Waller
        ratio of the pair sum, ±0.9 FWHM window: the values the Debye–Waller formula returns, which include
        e.g. the form-factor change under strain; only for
        reflections alone in that window, ``resolved``), with time constants averaged over the groups
        weighted by their atom counts (exact when all groups share τ)."""
        refs = self.reflections
        diameter = 10.0 * float(self.nanocrystal.info.get("diameter_nm", 5.0))
        half = 0.6 * 0.94 / diameter
        # fine local grids (401 points over ±1.5·half) around every reflection, evaluated in one call
        local = np.linspace(-1.5 * half, 1.5 * half, 401)
        s = np.concatenate([r.s_inv_angstrom + local for r in refs])
        before, after = self.profiles(s, np.array([self.t0_ps - 1e3, self.t0_ps + 1e5])) - self.baseline(s)
        names = self.nanocrystal.facet_names
        counts = np.bincount(self.nanocrystal.facet, minlength=len(names)).astype(float)
        dyn = [self.groups.get(names[c], self.groups["core"]) for c in range(len(names))]
        tau = {obs: float(np.sum(counts * [getattr(d, f"{obs}_tau_ps") for d in dyn]) / counts.sum())
               for obs in ("strain", "msd")}
        peaks = {}
        s_all = np.array([r.s_inv_angstrom for r in refs])
        for k, ref in enumerate(refs):
            win = slice(k * len(local), (k + 1) * len(local))
            entry = {"family": ref.family, "s0": ref.s_inv_angstrom, "multiplicity": ref.multiplicity,
                     "resolved": bool(np.sum(np.abs(s_all - ref.s_inv_angstrom) < 3 * half) == 1)}
            if entry["resolved"]:  # effective values only where no other ring shares the window
                c0, h0 = _peak(s[win], before[win])
                c1, h1 = _peak(s[win], after[win])
                # weak rings on the diffuse scattering (PbSe 111) give no reliable value
                entry["resolved"] = bool(h0 > 0.05 * float(self.baseline(ref.s_inv_angstrom)) and h1 > 0)
            if entry["resolved"]:
                entry.update({
                    "strain_amplitude": c0 / c1 - 1.0, "strain_tau_ps": tau["strain"],
                    "msd_amplitude_angstrom2": -np.log(h1 / h0) / (4 * np.pi**2 * ref.s_inv_angstrom**2),
                    "msd_tau_ps": tau["msd"],
                })
            peaks[ref.label] = entry
        return {"t0_ps": self.t0_ps, "irf_fwhm_ps": self.irf_fwhm_ps, "level": "atomistic",
                "msd_static_angstrom2": self.msd_static_angstrom2,
                "groups": {k: v.truth() for k, v in self.groups.items()}, "normal_fraction": self.normal_fraction,
                "nanocrystal": self.nanocrystal.summary(), "peaks": peaks,
                **({"elements": self.vibration.truth()} if self.vibration is not None else {})}


def _peak(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Centroid (above half maximum) [Å⁻¹] and height of the pair-sum peak ``y(x)`` in a window."""
    if not y.max() > 0:
        return float("nan"), 0.0
    top = y >= 0.5 * y.max()
    return float(np.sum(x[top] * y[top]) / np.sum(y[top])), float(y.max())
