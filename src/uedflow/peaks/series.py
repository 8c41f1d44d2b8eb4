"""Peak fits of a whole reduced powder series: every ring, every delay, every scan.

Procedure (see :func:`fit_powder_series`):

1. index the reference profile (before time zero) against the structure;
2. fit the reference with free line shapes; every allowed reflection inside the
   s range stays in the model, but when the rings were not chosen by the user,
   rings too weak to fit (area < 5σ) or whose fit is flagged are tied (position
   and width held near the lattice position and the median width), and neither
   they, unresolved shoulders of much stronger rings, nor rings too close to an
   end of the s range are reported;
3. fix the pseudo-Voigt mixing η of each ring to its reference value and fit
   the combined profile of every delay and the profile of every scan and delay,
   all at once per group, starting from the reference fit;
4. report per (ring, delay) the combined-fit values with their covariance
   errors, and the scan-to-scan standard error of the mean.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from uedflow.crystal import Structure, get_structure
from uedflow.errors import ConfigError, CrystalError, FileFormatError, InputError
from uedflow.peaks.background import resolve_background, robust_baseline
from uedflow.peaks.fit import PeakFit, check_shape
from uedflow.peaks.groups import fit_rings, profile_model
from uedflow.peaks.halo import halo_response
from uedflow.peaks.indexing import GROUP_HALF_WIDTH, Indexing, Ring, group_overlapping, index_profile, refine_lattice

__all__ = ["PeakSeries", "fit_powder_series", "structure_of", "ETA_MODES"]

#: Fit window half-width beyond the outer rings of a group [FWHM].
DEFAULT_HALF_WINDOW = 2.5
#: Ways to set the pseudo-Voigt η of the rings (see :func:`fit_powder_series`).
ETA_MODES = ("shared", "per-ring")

log = logging.getLogger(__name__)
_REQUIRED = ("intensity", "intensity_sigma")
_MIN_SIGNIFICANCE = 5.0
_SHOULDER_SEPARATION = 0.75
_SHOULDER_RATIO = 3.0


@dataclass(frozen=True)
class PeakSeries:
    """Fitted rings of a powder series.

    Arrays are (peak, delay) unless noted; ``scan_*`` arrays are (scan, peak, delay).
    Positions and FWHMs in Å⁻¹, areas in intensity × Å⁻¹. ``*_err`` are 1σ from
    the χ²-scaled covariance of the fit to the combined profile; ``*_scatter_err``
    the standard error of the mean over scans (NaN with fewer than 2 good scans).
    ``model`` and ``model_background`` (delay, s) are the fitted profile (every ring, reported or
    not, plus background) and the background alone, NaN outside the fit windows.
    ``halo_area_response`` and ``halo_center_response`` (peak, peak) are how the fitted areas and
    centres move per unit TDS halo of each ring (:func:`uedflow.peaks.halo.halo_response`).
    """

    labels: tuple[str, ...]
    families: tuple[str, ...]
    delay: np.ndarray
    scans: np.ndarray
    position: np.ndarray
    position_err: np.ndarray
    fwhm: np.ndarray
    fwhm_err: np.ndarray
    area: np.ndarray
    area_err: np.ndarray
    chi2_red: np.ndarray
    flag: np.ndarray
    position_scatter_err: np.ndarray
    fwhm_scatter_err: np.ndarray
    area_scatter_err: np.ndarray
    scan_position: np.ndarray
    scan_fwhm: np.ndarray
    scan_area: np.ndarray
    scan_flag: np.ndarray
    eta: np.ndarray
    indexing: Indexing
    shape: str
    background: str
    left_out: tuple[tuple[str, str], ...] = ()
    model: np.ndarray | None = None
    model_background: np.ndarray | None = None
    halo_area_response: np.ndarray | None = None
    halo_center_response: np.ndarray | None = None

    def summary(self) -> dict[str, Any]:
        """JSON-safe summary."""
        return {
            "peaks": list(self.labels),
            "families": list(self.families),
            "n_delays": int(self.delay.size),
            "n_scans": int(self.scans.size),
            "n_flagged": int((self.flag != 0).sum()),
            "shape": self.shape,
            "background": self.background,
            "eta": [float(e) for e in self.eta],
            "indexing": self.indexing.summary(),
            "left_out": dict(self.left_out),
        }

    def report(self) -> str:
        """Readable text report."""
        lines = [f"{len(self.labels)} rings × {self.delay.size} delays × {self.scans.size} scans, "
                 f"{self.shape} peaks, {self.background} background; {int((self.flag != 0).sum())} flagged fits"]
        lines.append(self.indexing.report())
        for i, lab in enumerate(self.labels):
            lines.append(f"  ({lab}) s0 = {np.nanmean(self.position[i]):.5f} Å⁻¹, FWHM = "
                         f"{np.nanmean(self.fwhm[i]):.5f} Å⁻¹, η = {self.eta[i]:.2f}, "
                         f"median chi2_red = {np.nanmedian(self.chi2_red[i]):.2f}")
        return "\n".join(lines)


def structure_of(reduced: xr.Dataset) -> Structure:
    """The crystal structure recorded in a reduced dataset's attributes.

    Raises
    ------
    CrystalError
        Neither ``structure_json`` nor a known ``material`` attribute, or a non-cubic crystal (``crystal_cif``).
    """
    attrs = reduced.attrs
    if attrs.get("crystal_cif"):
        raise CrystalError(f"the sample {attrs.get('material', '')} is not cubic: the ring-by-ring analysis "
                           "indexes cubic crystals; uedflow.dynamics.analyze (uedflow analyze) analyses this series "
                           "per cell parameter and axis (uedflow.dynamics.axes_series.analyze_axes_series)")
    a = attrs.get("lattice_constant_angstrom")
    a = float(a) if a is not None and np.isfinite(float(a)) else None
    if attrs.get("structure_json"):
        return get_structure(json.loads(attrs["structure_json"]), a_angstrom=a)
    if attrs.get("material"):
        return get_structure(str(attrs["material"]), a_angstrom=a)
    raise CrystalError("reduced data has no 'structure_json' or 'material' attribute; cannot index the rings")


def _check(reduced: xr.Dataset) -> None:
    missing = [v for v in _REQUIRED if v not in reduced]
    if missing or "s" not in reduced.coords or "delay" not in reduced.coords:
        raise FileFormatError(
            f"reduced data lacks {', '.join(missing) or 's/delay coordinates'}; give a uedflow-reduced file "
            "written by `uedflow reduce`"
        )
    if reduced.sizes["s"] < 10:
        raise InputError(f"reduced data has only {reduced.sizes['s']} s bins; at least 10 are needed to fit peaks")
    if not np.any(np.isfinite(reduced["intensity"].values)):
        raise InputError("reduced data: intensity is all NaN; nothing to fit")


def _reference(reduced: xr.Dataset, sig: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reference profile (before time zero) and its 1σ from the per-delay σ ``sig`` (delay, s).

    The σ is propagated from the σ the combined profiles are weighted with (Poisson
    per scan when scans are present), not taken from ``reference_sigma``: with 2-3
    scans that standard error scatters by a factor 10 from bin to bin (some bins near
    zero), which wrecks the weights of the reference fit.
    """
    before = reduced["delay"].values < 0
    if "reference" in reduced and np.isfinite(reduced["reference"].values).any():
        ref = reduced["reference"].values.astype(float)
    elif before.any():
        ref = np.nanmean(reduced["intensity"].values[before], axis=0)
    else:
        raise InputError("reduced data has no delay before time zero, so there is no reference profile")
    rows = sig[before] if before.any() else sig
    ok = np.isfinite(rows)
    n = np.maximum(ok.sum(axis=0), 1)
    return ref, np.sqrt((np.where(ok, rows, 0.0) ** 2).sum(axis=0)) / n


def _reference_fit(s, ref, ref_sig, indexing: Indexing, shape, degree, wanted: set[str], half_window: float):
    """Fit the reference; tie insignificant or flagged rings (unless in ``wanted``); regroup; refit.

    A tied ring stays in the model at its lattice position with the median width of the
    fitted rings: dropping it would hand its intensity (and its change after the pump) to
    its neighbours and the background, e.g. PbSe (533) 0.012 Å⁻¹ from (622). Unresolved
    shoulders of much stronger rings stay free in the model but are not reported.
    """
    rings = indexing.rings
    kw = {"shape": shape, "eta": None, "degree": degree, "half_window": half_window}
    left_out: dict[str, str] = {}
    for _ in range(3):
        fits = fit_rings(s, ref[None], ref_sig[None], rings, **kw)
        fit_of = {lab: f for f in fits.values() for lab in f.labels}
        area = np.array([fit_of[r.label].value("area", r.label)[0] for r in rings])
        area_err = np.array([fit_of[r.label].error("area", r.label)[0] for r in rings])
        good = np.array([fit_of[r.label].flags(r.label)[0] == 0 and not r.tied for r in rings])
        edge = np.array([not r.reported and not r.tied for r in rings])
        significant = np.isfinite(area) & (area > _MIN_SIGNIFICANCE * np.nan_to_num(area_err, nan=np.inf))
        keep = good & ~edge & significant
        shoulder = keep & _shoulders(np.array([r.s_expected for r in rings]),
                                     np.array([r.fwhm_guess for r in rings]), area)
        wants = np.array([r.label in wanted for r in rings])
        edge |= shoulder & ~wants
        keep = (keep & ~edge) | wants
        for i, r in enumerate(rings):
            if r.reported and not keep[i]:
                left_out[r.label] = ("an unresolved shoulder of a stronger ring" if shoulder[i] else
                                     fit_of[r.label].reason(r.label) or
                                     f"area {area[i]:.3g} below {_MIN_SIGNIFICANCE:g} sigma (1 sigma {area_err[i]:.3g})")
        if not keep.any():
            raise InputError(_nothing_fitted(left_out))
        centers = np.array([fit_of[r.label].value("center", r.label)[0] for r in rings])
        widths = np.array([fit_of[r.label].value("fwhm", r.label)[0] for r in rings])
        fitted = keep | edge
        centers = np.where(np.isfinite(centers) & fitted, centers, [r.s_expected for r in rings])
        width_tied = float(np.nanmedian(widths[keep])) if np.isfinite(widths[keep]).any() else None
        widths = np.where(np.isfinite(widths) & fitted, widths, [width_tied or r.fwhm_guess for r in rings])
        groups = group_overlapping(centers, widths)
        new = tuple(
            dataclasses.replace(r, s_expected=float(c), fwhm_guess=float(w), group=int(g), tied=not f,
                                reported=bool(k and r.reported))
            for r, c, w, g, k, f in zip(rings, centers, widths, groups, keep, fitted, strict=True)
        )
        newly = [r.label for r, k in zip(rings, keep, strict=True) if not k and r.reported]
        if newly:
            log.info("rings too weak, unresolved or poorly fitted, kept in the model but not reported: %s",
                     ", ".join(newly))
        stable = not newly and all(a.group == b.group for a, b in zip(new, rings, strict=True))
        rings = new
        if stable:
            break
    return rings, fit_rings(s, ref[None], ref_sig[None], rings, **kw), left_out


def _nothing_fitted(left_out: dict[str, str]) -> str:
    """The error when no ring of the reference profile could be fitted: why, ring by ring, and what to try."""
    why = "; ".join(f"({lab}) {reason}" for lab, reason in list(left_out.items())[:6])
    more = f" and {len(left_out) - 6} more" if len(left_out) > 6 else ""
    return (f"no ring could be fitted in the reference profile: {why or 'no ring found'}{more}. Try: "
            "analyze.shape = \"gaussian\" (fewer free parameters), analyze.background = \"baseline\", analyze.peaks "
            "naming the strongest rings, or check the reduction (beam centre, camera length, ring ellipticity: "
            "broad or split rings) and the dose (a noisy reference)")


def _shoulders(centers: np.ndarray, fwhm: np.ndarray, area: np.ndarray) -> np.ndarray:
    """Rings closer than _SHOULDER_SEPARATION FWHM to a ring _SHOULDER_RATIO times stronger.

    Such an unresolved shoulder (PbSe (531) next to (600)/(442), (533) next to (622)) is
    kept in the model, but its own area change trades off against its neighbour's: on
    simulated series its Δ⟨u²⟩ comes out 10–20 % low, so it is not reported.
    """
    a = np.nan_to_num(area, nan=0.0)
    near = np.abs(centers[:, None] - centers[None, :]) < _SHOULDER_SEPARATION * fwhm[:, None]
    return (near & (a[None, :] > _SHOULDER_RATIO * a[:, None])).any(axis=1)


def fit_powder_series(
    reduced: xr.Dataset,
    *,
    peaks: list[str] | tuple[str, ...] | None = None,
    shape: str = "pseudo-voigt",
    background: str = "auto",
    structure: Structure | None = None,
    half_window: float = DEFAULT_HALF_WINDOW,
    eta: str = "shared",
    progress: Callable[[int, int], None] | None = None,
) -> PeakSeries:
    """Fit every ring of a reduced powder series at every delay and in every scan.

    Parameters
    ----------
    reduced : xarray.Dataset
        A ``uedflow-reduced`` dataset (docs/formats.md).
    peaks : sequence of str, optional
        Rings to report (``["111", "200"]``); default every allowed ring whose fit before
        time zero is good (not flagged) with an area above 5σ.
        The other rings are still fitted, so that their tails do not bias the chosen ones.
    shape : str
        ``"pseudo-voigt"`` (default), ``"gaussian"`` or ``"lorentzian"``.
    background : str
        ``"auto"``, ``"poly"`` or ``"baseline"`` (see :mod:`uedflow.peaks.background`).
    structure : Structure, optional
        Overrides the structure recorded in the file.
    half_window : float
        Fit window half-width beyond the outer rings [FWHM].
    eta : str
        Pseudo-Voigt mixing η, fitted on the reference profile and then held at every delay:
        ``"shared"`` (default), one η for every ring, the inverse-variance mean of the rings' own
        values; ``"per-ring"``, each ring its own. Within a fit window a ring's Lorentzian tails and
        the background polynomial trade off, the more so where rings crowd (high s): on simulated
        PbSe with one true η = 0.3, per-ring η falls from 0.28 to 0.15 towards s = 1.1 Å⁻¹ and the
        areas there come out 3–12 % low; shared, they are within 1–3 %. Nanocrystal rings are
        broadened by size and by the instrument, both nearly the same at every s, hence the default.
    progress : callable, optional
        ``progress(done, total)`` when the fits are done.

    Returns
    -------
    PeakSeries

    Raises
    ------
    FileFormatError, InputError, CrystalError
        Missing variables, all-NaN data, unknown or out-of-range rings.
    """
    _check(reduced)
    shape = check_shape(shape)
    background = resolve_background(background)
    if eta not in ETA_MODES:
        raise ConfigError(f"analyze.eta {eta!r} is unknown; choose one of {', '.join(ETA_MODES)}")
    structure = structure or structure_of(reduced)
    s = reduced["s"].values.astype(float)
    prof = reduced["intensity"].values.astype(float)
    sig = reduced["intensity_sigma"].values.astype(float)
    has_scans = "intensity_scan" in reduced and "scan" in reduced.dims
    scans = reduced["scan"].values if has_scans else np.array([], int)
    if has_scans:
        scan_prof = reduced["intensity_scan"].transpose("scan", "delay", "s").values.astype(float)
        scan_sig = reduced["intensity_scan_sigma"].transpose("scan", "delay", "s").values.astype(float)
        sig = _propagated_sigma(scan_prof, scan_sig, sig)
        prof_all = np.concatenate([prof, scan_prof.reshape(-1, s.size)])
        sig_all = np.concatenate([sig, scan_sig.reshape(-1, s.size)])
    else:
        prof_all, sig_all = prof, sig
    ref, ref_sig = _reference(reduced, sig)
    # every ring is fitted (neighbours shape each other's windows); the requested ones are reported
    wanted = {r.label for r in index_profile(s, ref, structure, sigma=ref_sig, peaks=peaks,
                                             half_window=half_window).rings if r.reported} if peaks is not None else set()
    indexing = index_profile(s, ref, structure, sigma=ref_sig, half_window=half_window)
    degree: str | int | None = "auto"
    baseline: np.ndarray | float = 0.0
    if background == "baseline":
        windows = [(r.s_expected - 2 * GROUP_HALF_WIDTH * r.fwhm_guess, r.s_expected + 2 * GROUP_HALF_WIDTH * r.fwhm_guess)
                   for r in indexing.rings]
        # knots no closer than a ring window, so the spline cannot rise into the rings
        spacing = max((s[-1] - s[0]) / 12.0, 8 * GROUP_HALF_WIDTH * float(np.median([r.fwhm_guess for r in indexing.rings])))
        ref = ref - robust_baseline(s, ref, exclude=windows, knot_spacing=spacing)
        baseline = robust_baseline(s, prof_all, exclude=windows, knot_spacing=spacing)
        prof_all = prof_all - baseline
        degree = 1  # a local linear term absorbs what the global spline misses under the rings
    rings, ref_fits, left_out = _reference_fit(s, ref, ref_sig, indexing, shape, degree, wanted, half_window)
    fit_of = {lab: f for f in ref_fits.values() for lab in f.labels}
    eta_values = np.array([fit_of[r.label].value("eta", r.label)[0] if shape == "pseudo-voigt" else
                           (0.0 if shape == "gaussian" else 1.0) for r in rings])
    if shape == "pseudo-voigt" and eta == "shared":
        eta_values[:] = _shared_eta(eta_values, np.array([fit_of[r.label].error("eta", r.label)[0] for r in rings]),
                                    np.array([r.reported for r in rings]))
    centers = np.array([fit_of[r.label].value("center", r.label)[0] for r in rings])
    center_err = np.array([fit_of[r.label].error("center", r.label)[0] for r in rings])
    ok = np.isfinite(centers) & np.isfinite(center_err) & (center_err > 0) & np.array([r.reported for r in rings])
    if ok.any():
        a, a_err, off, off_err = refine_lattice(centers[ok], [r.hkl for r, k in zip(rings, ok, strict=True) if k],
                                                sigma=center_err[ok])
        indexing = Indexing(rings, a, a_err, off, off_err, _overlaps(rings))
    else:
        indexing = dataclasses.replace(indexing, rings=rings, overlaps=_overlaps(rings))
    n_rows = prof_all.shape[0]
    eta_of = {r.label: float(e) for r, e in zip(rings, eta_values, strict=True)}
    ref_start = {g: _strip_eta(f, shape) for g, f in ref_fits.items()}

    def fit_all(profiles: np.ndarray, sigmas: np.ndarray) -> dict:
        """Every group fitted to ``profiles`` with the fixed η, from the reference fit."""
        return fit_rings(s, profiles, sigmas, rings, shape=shape, degree=degree, half_window=half_window, eta=eta_of,
                         start={g: np.repeat(v, len(profiles), axis=0) for g, v in ref_start.items()})

    fits = fit_all(prof_all, sig_all)
    out = {k: np.full((len(rings), n_rows), np.nan) for k in
           ("center", "center_err", "fwhm", "fwhm_err", "area", "area_err", "chi2")}
    flags = np.zeros((len(rings), n_rows), np.uint8)
    for i, r in enumerate(rings):
        fit = fits[r.group]
        for p in ("center", "fwhm", "area"):
            out[p][i] = fit.value(p, r.label)
            out[f"{p}_err"][i] = fit.error(p, r.label)
        out["chi2"][i] = fit.chi2_red
        flags[i] = fit.flags(r.label)
    sel = [i for i, r in enumerate(rings) if (r.label in wanted if wanted else r.reported)]

    def refit(profiles: np.ndarray, sigmas: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        got = fit_all(profiles, sigmas)
        return {r.label: (got[r.group].value("area", r.label), got[r.group].value("center", r.label)) for r in rings}

    base = np.nan_to_num(profile_model(s, ref_fits, 1, eta_of, 0.0)[0][0])
    r_area, r_center = halo_response(s, base, ref_sig, [rings[i] for i in sel], fit_of, refit,
                                     n_atoms_per_cell=len(structure.species),
                                     cell_volume_angstrom3=structure.cell_volume_angstrom3)
    if progress is not None:
        progress(1, 1)
    nd = prof.shape[0]
    model, model_bg = profile_model(s, fits, nd, eta_of, baseline)
    scan_shape = (len(rings), scans.size, nd)

    def split(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return a[:, :nd], np.moveaxis(a[:, nd:].reshape(scan_shape), 1, 0)

    (pos, scan_pos), (fw, scan_fw), (ar, scan_ar) = split(out["center"]), split(out["fwhm"]), split(out["area"])
    flag, scan_flag = split(flags)
    scatter = {k: _scatter(v, scan_flag) for k, v in (("p", scan_pos), ("f", scan_fw), ("a", scan_ar))}
    n_bad = int((flag[sel] != 0).sum())
    if n_bad:
        log.warning("%d of %d peak fits flagged (failed or at a bound); they are excluded from the traces",
                    n_bad, flag[sel].size)
    return PeakSeries(
        labels=tuple(rings[i].label for i in sel), families=tuple(rings[i].family for i in sel),
        delay=reduced["delay"].values.astype(float), scans=scans,
        position=pos[sel], position_err=split(out["center_err"])[0][sel], fwhm=fw[sel],
        fwhm_err=split(out["fwhm_err"])[0][sel], area=ar[sel], area_err=split(out["area_err"])[0][sel],
        chi2_red=split(out["chi2"])[0][sel], flag=flag[sel], position_scatter_err=scatter["p"][sel],
        fwhm_scatter_err=scatter["f"][sel], area_scatter_err=scatter["a"][sel], scan_position=scan_pos[:, sel],
        scan_fwhm=scan_fw[:, sel], scan_area=scan_ar[:, sel], scan_flag=scan_flag[:, sel],
        eta=eta_values[sel], indexing=indexing, shape=shape, background=background,
        left_out=() if wanted else tuple(left_out.items()),
        model=model, model_background=model_bg, halo_area_response=r_area, halo_center_response=r_center,
    )


def _shared_eta(eta: np.ndarray, eta_err: np.ndarray, reported: np.ndarray) -> float:
    """Inverse-variance mean of the η of the reported rings (their median if no η has an error)."""
    ok = reported & np.isfinite(eta) & np.isfinite(eta_err) & (eta_err > 0)
    if not ok.any():
        return float(np.nanmedian(eta[reported] if reported.any() else eta))
    w = 1.0 / eta_err[ok] ** 2
    shared = float(np.clip(np.sum(w * eta[ok]) / np.sum(w), 0.0, 1.0))
    log.info("pseudo-Voigt eta shared by every ring: %.3f (rings alone: %.3f-%.3f)", shared, eta[ok].min(),
             eta[ok].max())
    return shared


def _propagated_sigma(scan_prof: np.ndarray, scan_sig: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """1σ of the scan mean from the per-scan (Poisson) σ: √Σσ²/n.

    The combined profiles are weighted with it rather than with ``intensity_sigma``
    (a standard error over scans, whose bin-to-bin noise with 2–3 scans would
    scramble the weights); excess scatter is still accounted for, by the χ²
    scaling of each covariance and by the scan-to-scan errors.
    """
    ok = np.isfinite(scan_prof) & np.isfinite(scan_sig)
    n = ok.sum(axis=0)
    var = np.where(ok, scan_sig, 0.0) ** 2
    return np.where(n > 0, np.sqrt(var.sum(axis=0)) / np.maximum(n, 1), fallback)


def _overlaps(rings: tuple[Ring, ...]) -> tuple[tuple[str, str, float], ...]:
    return tuple((a.label, b.label, b.s_expected - a.s_expected)
                 for a, b in zip(rings[:-1], rings[1:], strict=True) if a.group == b.group)


def _strip_eta(fit: PeakFit, shape: str) -> np.ndarray:
    """Reference-fit values without the η columns (η is fixed in the series fits)."""
    keep = [i for i, n in enumerate(fit.param_names) if not n.startswith("eta_")]
    vals = fit.values[:, keep] if shape == "pseudo-voigt" else fit.values
    return np.nan_to_num(vals)


def _scatter(values: np.ndarray, flags: np.ndarray) -> np.ndarray:
    """Standard error of the mean over scans (axis 0) of good fits; NaN with < 2 scans."""
    good = (flags == 0) & np.isfinite(values)
    n = good.sum(axis=0)
    v = np.where(good, values, 0.0)
    mean = v.sum(axis=0) / np.maximum(n, 1)
    var = np.where(good, (values - mean) ** 2, 0.0).sum(axis=0) / np.maximum(n - 1, 1)
    return np.where(n >= 2, np.sqrt(var / np.maximum(n, 1)), np.nan)
