"""From a powder series of any crystal to strain and vibration per crystal axis, and their kinetics.

1. The rings: families of the crystal in the profile's s range (relative intensity ≥ ``min_intensity`` %),
   merged into composite rings within ``resolution`` [Å⁻¹] (:func:`~uedflow.crystal.composite_rings`). A ring with
   a neighbour closer than ``min_separation`` FWHM is left out (their areas and centres trade off); rings within
   3 FWHM of each other are fitted jointly (:func:`uedflow.peaks.fit.fit_group`: pseudo-Voigt, polynomial
   background) at every delay.
2. Per ring: strain ε = c_ref/c(t) − 1 and ln(I/I0) = ln(A(t)/A_ref), the reference the mean over the delays before
   ``t0_guess_ps − irf_fwhm_ps``; σ from the fit errors (the reference's in quadrature).
3. Per delay: :func:`~uedflow.dynamics.lattice_strain.fit_lattice_strain` (Δa/a, Δc/c, ...) and
   :func:`~uedflow.dynamics.axes.fit_axis_vibration` (Δ⟨u_⊥²⟩, Δ⟨u_∥²⟩ or ΔU_ij), composite rings weighted by their
   members' intensity shares.
4. Kinetics: one exponential rise with a Gaussian IRF per trace and one shared time zero
   (:func:`~uedflow.dynamics.kinetics.fit_global`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from uedflow.crystal import CompositeRing, Crystal, composite_rings, reflection_families
from uedflow.dynamics.axes import AxisVibration, fit_axis_vibration
from uedflow.dynamics.kinetics import KineticsFit, fit_global
from uedflow.dynamics.lattice_strain import LatticeStrain, fit_lattice_strain
from uedflow.errors import InputError
from uedflow.peaks.fit import fit_group
from uedflow.peaks.indexing import Ring

__all__ = ["AxesSeries", "fit_crystal_rings", "analyze_axes_series"]


@dataclass(frozen=True)
class AxesSeries:
    """Per-ring and per-axis results of :func:`analyze_axes_series`.

    Attributes
    ----------
    rings : tuple of CompositeRing
        The fitted rings.
    delay_ps : (D,) ndarray
    ring_strain, ring_strain_err : (D, R) ndarray
        ε = −Δs/s of each ring (dimensionless).
    ln_ratio, ln_ratio_err : (D, R) ndarray
        ln(I/I0) of each ring.
    strain : tuple of LatticeStrain
        Cell-parameter strain per delay.
    vibration : AxisVibration
        Per-axis Δ⟨u²⟩ [Å²] per delay (and the per-ring effective values).
    kinetics : dict
        Trace name (``"a"``, ``"c"``, ``"perp"``, ``"par"``...) -> KineticsFit.
    """

    rings: tuple[CompositeRing, ...]
    delay_ps: np.ndarray
    ring_strain: np.ndarray
    ring_strain_err: np.ndarray
    ln_ratio: np.ndarray
    ln_ratio_err: np.ndarray
    strain: tuple[LatticeStrain, ...]
    vibration: AxisVibration
    kinetics: dict[str, KineticsFit]

    def strain_trace(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(value, 1σ) per delay of cell parameter ``name`` (``"a"``, ``"c"``...)."""
        k = self.strain[0].names.index(name)
        return np.array([f.values[k] for f in self.strain]), np.array([f.errors[k] for f in self.strain])


def _select(rings: list[CompositeRing], fwhm: float, min_separation: float) -> list[CompositeRing]:
    """Rings whose neighbours are at least ``min_separation`` FWHM away."""
    s = np.array([r.s_inv_angstrom for r in rings])
    gap = np.diff(s)
    left, right = np.append(np.inf, gap), np.append(gap, np.inf)
    return [r for r, lo, hi in zip(rings, left, right, strict=True) if min(lo, hi) >= min_separation * fwhm]


def fit_crystal_rings(ds: xr.Dataset, rings: list[CompositeRing], fwhm_guess: float, before: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Centre [Å⁻¹], its 1σ, area and its 1σ of each ring at each delay, each (D, R).

    Rings within 3 FWHM are fitted jointly; each group's window ends half-way to the next group. The pseudo-Voigt
    mixing η of each ring is fitted once to the mean profile of the delays ``before`` (bool, (D,)) and then held.
    """
    s = ds["s"].values
    y, e = ds["intensity"].values, ds["intensity_sigma"].values
    pos = np.array([r.s_inv_angstrom for r in rings])
    groups: list[list[int]] = []
    for i in range(len(rings)):
        if groups and pos[i] - pos[groups[-1][-1]] < 3.0 * fwhm_guess:
            groups[-1].append(i)
        else:
            groups.append([i])
    out = np.full((4, y.shape[0], len(rings)), np.nan)
    for g, members in enumerate(groups):
        lo = 0.5 * (pos[groups[g - 1][-1]] + pos[members[0]]) if g else -np.inf
        hi = 0.5 * (pos[members[-1]] + pos[groups[g + 1][0]]) if g + 1 < len(groups) else np.inf
        peaks = [Ring(rings[i].members[0].hkl, rings[i].label, rings[i].label, float(pos[i]), fwhm_guess)
                 for i in members]
        kw = {"degree": 1, "half_window": 3.0, "limits": (lo, hi)}
        first = fit_group(s, y[before].mean(axis=0), np.sqrt(np.sum(e[before] ** 2, axis=0)) / before.sum(), peaks,
                          **kw)
        fit = fit_group(s, y, e, peaks, eta=[float(first.value("eta", p.label)[0]) for p in peaks], **kw)
        for i in members:
            lab = rings[i].label
            out[:, :, i] = [fit.value("center", lab), fit.error("center", lab), fit.value("area", lab),
                            fit.error("area", lab)]
            out[:, ~fit.success, i] = np.nan
    return out[0], out[1], out[2], out[3]


def analyze_axes_series(ds: xr.Dataset, crystal: Crystal, *, fwhm_guess: float, irf_fwhm_ps: float = 0.5,
                        t0_guess_ps: float = 0.0, resolution: float | None = None, min_intensity: float = 0.5,
                        min_separation: float = 1.2, mode: str = "axes") -> AxesSeries:
    """Per-ring strain and ln(I/I0) -> per-axis strain and vibration per delay -> kinetics (module docstring).

    Parameters
    ----------
    ds : xarray.Dataset
        ``uedflow-reduced`` layout: ``intensity`` and ``intensity_sigma`` (delay, s), s [Å⁻¹], delay [ps].
    crystal : Crystal
        The sample before the pump.
    fwhm_guess : float
        Ring FWHM [Å⁻¹] (start value and the scale of the grouping).
    irf_fwhm_ps, t0_guess_ps : float
        IRF FWHM and time-zero start [ps].
    resolution : float, optional
        Families closer than this [Å⁻¹] are one composite ring (default FWHM/2).
    min_intensity, min_separation : float
        Smallest relative family intensity [%]; smallest gap to a neighbouring ring [FWHM].
    mode : {"axes", "tensor"}
        See :func:`~uedflow.dynamics.axes.fit_axis_vibration`.

    Raises
    ------
    InputError
        No delay before time zero, too few rings, or rings that cannot separate the axes.
    """
    s, delay = ds["s"].values, ds["delay"].values
    pad = 3.0 * fwhm_guess
    fams = [f for f in reflection_families(crystal, float(s[-1]) - pad, s_min=float(s[0]) + pad)
            if f.intensity >= min_intensity]
    rings = _select(composite_rings(fams, 0.5 * fwhm_guess if resolution is None else resolution), fwhm_guess,
                    min_separation)
    before = delay < t0_guess_ps - irf_fwhm_ps
    if not before.any():
        raise InputError(f"no delay before t0 - IRF ({t0_guess_ps - irf_fwhm_ps:g} ps) for the reference; "
                         "record delays before time zero")
    centre, centre_err, area, area_err = fit_crystal_rings(ds, rings, fwhm_guess, before)
    # a ring whose area fits to zero (a weak ring under the noise) is left out, not propagated as ln 0
    area = np.where(area > 0, area, np.nan)
    usable = np.isfinite(np.nanmean(area[before], axis=0)) & np.isfinite(np.nanmean(centre[before], axis=0))
    if usable.sum() < len(rings):
        rings = [r for r, k in zip(rings, usable, strict=True) if k]
        centre, centre_err, area, area_err = (x[:, usable] for x in (centre, centre_err, area, area_err))
    n_ref = before.sum()
    c_ref, a_ref = np.nanmean(centre[before], axis=0), np.nanmean(area[before], axis=0)
    c_ref_err = np.sqrt(np.nansum(centre_err[before] ** 2, axis=0)) / n_ref
    a_ref_err = np.sqrt(np.nansum(area_err[before] ** 2, axis=0)) / n_ref
    ring_strain = c_ref / centre - 1.0
    strain_err = (c_ref / centre) * np.hypot(centre_err / centre, c_ref_err / c_ref)
    ln_ratio = np.log(area / a_ref)
    ln_err = np.hypot(area_err / area, a_ref_err / a_ref)
    members = [[m.hkl for m in r.members] for r in rings]
    weights = [list(r.weights) for r in rings]
    strain = tuple(fit_lattice_strain(crystal.lattice, crystal.space_group_number, members, ring_strain[d],
                                      strain_err[d], weights) for d in range(delay.size))
    vibration = fit_axis_vibration(crystal, members, ln_ratio, ln_err, weights, mode=mode)
    names = strain[0].names + vibration.names
    values = np.vstack([np.array([f.values for f in strain]).T, vibration.values.T])
    errors = np.vstack([np.array([f.errors for f in strain]).T, vibration.errors.T])
    fits = fit_global(delay, values, errors, irf_fwhm_ps=irf_fwhm_ps, t0_guess_ps=t0_guess_ps)
    return AxesSeries(tuple(rings), delay, ring_strain, strain_err, ln_ratio, ln_err, strain, vibration,
                      dict(zip(names, fits, strict=True)))
