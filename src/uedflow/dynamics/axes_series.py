"""From a powder series of any crystal to strain and vibration per crystal axis, and their kinetics.

1. The rings: families of the crystal in the profile's s range (relative intensity ≥ ``min_intensity`` %),
   merged into composite rings within ``resolution`` [Å⁻¹] (:func:`~uedflow.crystal.composite_rings`). Every ring
   is fitted, those within 3 FWHM of each other jointly (:func:`uedflow.peaks.fit.fit_group`: pseudo-Voigt,
   polynomial background), at every delay; a ring with a neighbour closer than ``min_separation`` FWHM is then
   left out of the axis fits (their areas and centres trade off) but, fitted, it does not bias its neighbours.
2. Per ring: strain ε = c_ref/c(t) − 1 and ln(I/I0) = ln(A(t)/A_ref), the reference the mean over the delays before
   ``t0_guess_ps − irf_fwhm_ps``; σ from the fit errors (the reference's in quadrature).
3. Per delay: :func:`~uedflow.dynamics.lattice_strain.fit_lattice_strain` (Δa/a, Δc/c, ...) and
   :func:`~uedflow.dynamics.axes.fit_axis_vibration` (Δ⟨u_⊥²⟩, Δ⟨u_∥²⟩ or ΔU_ij), composite rings weighted by their
   members' intensity shares.
4. Kinetics: one exponential rise with a Gaussian IRF per trace and one shared time zero
   (:func:`~uedflow.dynamics.kinetics.fit_global`).
"""

from __future__ import annotations

import logging
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

log = logging.getLogger(__name__)


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


def _separated(rings: list[CompositeRing], fwhm: float, min_separation: float) -> np.ndarray:
    """Which rings have their neighbours at least ``min_separation`` FWHM away, (R,) bool."""
    s = np.array([r.s_inv_angstrom for r in rings])
    gap = np.diff(s)
    return np.minimum(np.append(np.inf, gap), np.append(gap, np.inf)) >= min_separation * fwhm


def _cell_strain(crystal: Crystal, members: list, ring_strain: np.ndarray, strain_err: np.ndarray,
                 weights: list) -> tuple[LatticeStrain, ...]:
    """:func:`~uedflow.dynamics.lattice_strain.fit_lattice_strain` at every delay; a delay with too few fitted
    rings is left NaN (logged), and only when no delay can be fitted the error is raised."""
    fits: list[LatticeStrain | None] = []
    first_error: InputError | None = None
    for d in range(len(ring_strain)):
        try:
            fits.append(fit_lattice_strain(crystal.lattice, crystal.space_group_number, members, ring_strain[d],
                                           strain_err[d], weights))
        except InputError as exc:
            fits.append(None)
            first_error = first_error or exc
    good = [f for f in fits if f is not None]
    if not good:
        raise first_error or InputError("no delay to fit the cell strain at")
    if len(good) < len(fits):
        log.warning("cell strain left out at %d of %d delays: %s", len(fits) - len(good), len(fits), first_error)
    k = len(good[0].names)
    blank = LatticeStrain(good[0].names, np.full(k, np.nan), np.full(k, np.nan), np.full((k, k), np.nan), np.nan,
                          np.full(len(members), np.nan))
    return tuple(f if f is not None else blank for f in fits)


def fit_crystal_rings(ds: xr.Dataset, rings: list[CompositeRing], fwhm_guess: float, before: np.ndarray, *,
                      half_window: float = 3.0, degree: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Centre [Å⁻¹], its 1σ, area and its 1σ of each ring at each delay, each (D, R).

    Rings within 3 FWHM are fitted jointly on a polynomial background of ``degree``, in a window of ``half_window``
    FWHM around the group that ends half-way to the next group. The pseudo-Voigt
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
        kw = {"degree": degree, "half_window": half_window, "limits": (lo, hi)}
        first = fit_group(s, y[before].mean(axis=0), np.sqrt(np.sum(e[before] ** 2, axis=0)) / before.sum(), peaks,
                          **kw)
        fit = fit_group(s, y, e, peaks, eta=[float(first.value("eta", p.label)[0]) for p in peaks], **kw)
        # σ scaled by the group's median χ²_red over the delays, not each delay's own: a misfit (background
        # curvature, a line shape the pseudo-Voigt misses) is nearly the same at every delay, and a per-delay
        # scale would tie each value's weight to its own noise (measured: Δa/a of mos2-flakes-300K 2-4 % high)
        chi2 = np.maximum(1.0, fit.chi2_red)
        rescale = np.sqrt(max(1.0, float(np.nanmedian(fit.chi2_red))) / chi2)
        for i in members:
            lab = rings[i].label
            out[:, :, i] = [fit.value("center", lab), fit.error("center", lab) * rescale, fit.value("area", lab),
                            fit.error("area", lab) * rescale]
            out[:, ~fit.success, i] = np.nan
    return out[0], out[1], out[2], out[3]


def analyze_axes_series(ds: xr.Dataset, crystal: Crystal, *, fwhm_guess: float, irf_fwhm_ps: float = 0.5,
                        t0_guess_ps: float = 0.0, resolution: float | None = None, min_intensity: float = 0.5,
                        min_separation: float = 1.2, mode: str = "axes", half_window: float = 3.0,
                        degree: int = 1) -> AxesSeries:
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
    half_window, degree : float, int
        Fit window around each ring group [FWHM] and degree of its background (:func:`fit_crystal_rings`).

    Raises
    ------
    InputError
        No delay before time zero, too few rings, or rings that cannot separate the axes.
    """
    s, delay = ds["s"].values, ds["delay"].values
    pad = 3.0 * fwhm_guess
    fams = [f for f in reflection_families(crystal, float(s[-1]) - pad, s_min=float(s[0]) + pad)
            if f.intensity >= 0.1 * min_intensity]
    every = composite_rings(fams, 0.5 * fwhm_guess if resolution is None else resolution)
    before = delay < t0_guess_ps - irf_fwhm_ps
    if not before.any():
        raise InputError(f"no delay before t0 - IRF ({t0_guess_ps - irf_fwhm_ps:g} ps) for the reference; "
                         "record delays before time zero")
    # every ring is fitted (a ring left out still shapes its neighbours' windows), the separated ones are used
    fitted = fit_crystal_rings(ds, every, fwhm_guess, before, half_window=half_window, degree=degree)
    strong = np.array([sum(m.intensity for m in r.members) >= min_intensity for r in every])
    keep = _separated(every, fwhm_guess, min_separation) & strong
    rings = [r for r, k in zip(every, keep, strict=True) if k]
    centre, centre_err, area, area_err = (x[:, keep] for x in fitted)
    # a ring whose area fits to zero (a weak ring under the noise) is left out, not propagated as ln 0
    area = np.where(area > 0, area, np.nan)
    usable = np.isfinite(area[before]).any(axis=0) & np.isfinite(centre[before]).any(axis=0)
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
    strain = _cell_strain(crystal, members, ring_strain, strain_err, weights)
    vibration = fit_axis_vibration(crystal, members, ln_ratio, ln_err, weights, mode=mode)
    names = strain[0].names + vibration.names
    values = np.vstack([np.array([f.values for f in strain]).T, vibration.values.T])
    errors = np.vstack([np.array([f.errors for f in strain]).T, vibration.errors.T])
    fits = fit_global(delay, values, errors, irf_fwhm_ps=irf_fwhm_ps, t0_guess_ps=t0_guess_ps)
    return AxesSeries(tuple(rings), delay, ring_strain, strain_err, ln_ratio, ln_err, strain, vibration,
                      dict(zip(names, fits, strict=True)))
