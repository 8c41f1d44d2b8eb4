"""The whole lattice-dynamics analysis: reduced powder series -> dynamics dataset.

:func:`analyze` chains the peak fits (:func:`uedflow.peaks.fit_powder_series`),
the traces, the global kinetic fits (one t0 shared by every ring and observable), an optional
bootstrap over scans, quasi-equilibrium averages, family averages, and the lattice-level
results of :mod:`uedflow.dynamics.lattice` (direction-averaged means, anisotropy, lattice
temperature vs delay, Wilson analysis, global kinetics with model choice), and returns the
``uedflow-dynamics`` dataset of docs/formats.md. :func:`write_dynamics` / :func:`open_dynamics` store and read it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr

from uedflow.config import AnalyzeConfig
from uedflow.crystal import FAMILIES
from uedflow.crystal.vibration import mass_weighted, ring_partials
from uedflow.dynamics.crystal_axes import analyze_crystal
from uedflow.dynamics.elements import element_static_msd
from uedflow.dynamics.kinetics import KineticsFit, fit_global, stack_fits
from uedflow.dynamics.lattice import add_lattice_results
from uedflow.dynamics.summary import linear_fit, window_average, window_mask
from uedflow.dynamics.systematics import WINDOW_VARIANT, combine_sys, difference_sys
from uedflow.dynamics.tds import HALO_UNCERTAINTY, correct_halo
from uedflow.dynamics.traces import OBSERVABLES, Traces, compute_traces, family_average
from uedflow.errors import ConfigError, FileFormatError, FitError, InputError, UedflowError
from uedflow.io.datasets import DYNAMICS_FORMAT, DYNAMICS_VERSION, REDUCED_FORMAT, REDUCED_VERSION
from uedflow.peaks import PeakSeries, fit_powder_series, structure_of
from uedflow.peaks.series import DEFAULT_HALF_WINDOW

__all__ = ["analyze", "DYNAMICS_FORMAT", "DYNAMICS_VERSION", "MIN_DELAYS", "DEFAULT_IRF_FWHM_PS"]

log = logging.getLogger(__name__)
#: Fewest delays a kinetic fit is attempted with.
MIN_DELAYS = 6
#: IRF FWHM [ps] when neither the caller nor the reduced file gives one (``irf_fwhm_ps`` attribute).
DEFAULT_IRF_FWHM_PS = 0.5
_SAMPLE_ATTRS = ("material", "structure_json", "lattice_constant_angstrom", "temperature_K", "fluence_mJ_cm2",
                 "diameter_nm", "electron_energy_keV", "wavelength_angstrom", "camera_length_m", "pixel_size_m",
                 "center_rc", "center_residual_px", "sample_label", "experiment_name")


def _check_reduced(reduced: xr.Dataset) -> None:
    fmt = reduced.attrs.get("format")
    if fmt is not None and fmt != REDUCED_FORMAT:
        raise FileFormatError(f"analyze needs a {REDUCED_FORMAT} dataset, got format {fmt!r}; run `uedflow reduce` first")
    version = reduced.attrs.get("format_version")
    if version is not None and int(version) != REDUCED_VERSION:
        raise FileFormatError(f"reduced dataset is version {version}; this uedflow reads version {REDUCED_VERSION} "
                              "— reduce again")
    if "delay" not in reduced.coords:
        raise FileFormatError("reduced dataset has no 'delay' coordinate; give a uedflow-reduced file")
    if int(reduced.attrs.get("static", 0)):
        raise InputError("reduced dataset is a static pattern (every frame at one delay): there is no time dependence "
                         "to analyze; reduce a delay series, with frames before and after time zero")
    delay = reduced["delay"].values
    if not np.any(delay < 0):
        raise InputError(
            f"reduced dataset has no delay before time zero (earliest {delay.min():g} ps); the traces need a "
            "reference before the pump — include negative delays"
        )
    if delay.size < MIN_DELAYS:
        raise InputError(f"reduced dataset has {delay.size} delays; a kinetic fit needs at least {MIN_DELAYS}")


def _effective_errors(ps: PeakSeries) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-point 1σ of position, FWHM and area: the covariance error, scaled up per ring when the
    scans scatter more than it says.

    The factor is the pooled ratio √mean((σ_scatter/σ_cov)²) over all delays of the ring
    (D·(n_scans − 1) degrees of freedom, so stable even with two scans); it is never below 1.
    """
    out = []
    for cov, scatter in ((ps.position_err, ps.position_scatter_err), (ps.fwhm_err, ps.fwhm_scatter_err),
                         (ps.area_err, ps.area_scatter_err)):
        ratio2 = np.where(np.isfinite(scatter) & (cov > 0), (scatter / np.where(cov > 0, cov, 1.0)) ** 2, np.nan)
        n = np.isfinite(ratio2).sum(axis=1)
        pooled = np.where(n > 0, np.sqrt(np.nansum(ratio2, axis=1) / np.maximum(n, 1)), 1.0)
        out.append(cov * np.maximum(pooled, 1.0)[:, None])
    return out[0], out[1], out[2]


#: Observables whose kinetic fits share one time zero (intensity is the same data as msd,
#: so it is fitted afterwards with that t0 fixed, and reports its error).
_T0_OBSERVABLES = ("strain", "msd", "width")


def _kinetics(traces: Traces, *, irf: float, model: str) -> dict[str, tuple[KineticsFit, ...] | None]:
    """Global fits with one t0 for every ring and observable (the pump arrives once)."""
    n = traces.s0.size
    stacked = [np.concatenate([traces.values[o] for o in _T0_OBSERVABLES]),
               np.concatenate([traces.errors[o] for o in _T0_OBSERVABLES])]
    out: dict[str, tuple[KineticsFit, ...] | None] = dict.fromkeys(OBSERVABLES)
    try:
        fits = fit_global(traces.delay, *stacked, model=model, irf_fwhm_ps=irf)
    except FitError as exc:
        log.warning("no kinetic fit: %s", exc)
        return out
    for j, obs in enumerate(_T0_OBSERVABLES):
        out[obs] = fits[j * n : (j + 1) * n]
    shared = next((f for f in fits if np.isfinite(f.value("t0_ps"))), None)
    if shared is None:
        return out
    t0, t0_err = shared.value("t0_ps"), shared.error("t0_ps")
    try:
        fixed = fit_global(traces.delay, traces.values["intensity"], traces.errors["intensity"], model=model,
                           irf_fwhm_ps=irf, t0_ps=t0)
    except FitError as exc:
        log.warning("no kinetic fit of intensity: %s", exc)
        return out
    out["intensity"] = tuple(dataclasses.replace(f, stderr=np.where(np.arange(f.stderr.size) == f.stderr.size - 1,
                                                                    t0_err, f.stderr)) for f in fixed)
    return out


def _bootstrap(ps: PeakSeries, errs, *, n: int, irf: float, model: str, seed: int, progress) -> dict[str, np.ndarray]:
    """1σ of amplitude, tau, t0 (peak, observable) from resampling scans with replacement."""
    n_scans = ps.scans.size
    shape = (len(ps.labels), len(OBSERVABLES))
    draws = {k: [] for k in ("amplitude", "tau_ps", "t0_ps")}
    rng = np.random.default_rng(seed)
    good = ps.scan_flag == 0
    for b in range(n):
        pick = rng.integers(0, n_scans, n_scans)
        w = good[pick].astype(float)
        cnt = w.sum(axis=0)

        def mean(a: np.ndarray, w=w, cnt=cnt, pick=pick) -> np.ndarray:
            return np.where(cnt > 0, np.nansum(np.where(w > 0, a[pick], 0.0), axis=0) / np.maximum(cnt, 1), np.nan)

        try:
            tr = compute_traces(ps.delay, mean(ps.scan_position), errs[0], mean(ps.scan_fwhm), errs[1],
                                mean(ps.scan_area), errs[2])
        except InputError:
            continue
        fits = _kinetics(tr, irf=irf, model=model)
        for key in draws:
            arr = np.full(shape, np.nan)
            for j, obs in enumerate(OBSERVABLES):
                if fits[obs] is not None:
                    arr[:, j] = [f.value(key) if f.success else np.nan for f in fits[obs]]
            draws[key].append(arr)
        if progress is not None:
            progress(b + 1, n)
    out = {}
    for key, vals in draws.items():
        stack = np.array(vals) if vals else np.full((1, *shape), np.nan)
        cnt = np.isfinite(stack).sum(axis=0)
        mu = np.where(cnt > 0, np.nansum(np.nan_to_num(stack), axis=0) / np.maximum(cnt, 1), np.nan)
        var = np.nansum(np.where(np.isfinite(stack), (stack - mu) ** 2, 0.0), axis=0) / np.maximum(cnt - 1, 1)
        out[key] = np.where(cnt >= 2, np.sqrt(var), np.nan)
    return out


def analyze(
    reduced: xr.Dataset,
    *,
    config: AnalyzeConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
    seed: int = 0,
) -> xr.Dataset:
    """Lattice dynamics of a reduced powder series.

    Parameters
    ----------
    reduced : xarray.Dataset
        ``uedflow-reduced`` dataset (docs/formats.md), e.g. from
        ``uedflow.io.open_dataset(path, format="uedflow-reduced", version=1)``.
    config : AnalyzeConfig, optional
        Rings, line shape, background, quasi-equilibrium window [ps], Debye
        temperature [K], number of bootstrap resamplings over scans, kinetic
        model (``"exp"`` or ``"biexp"``) and instrument response FWHM [ps]
        (default the reduced file's ``irf_fwhm_ps`` attribute, else
        :data:`DEFAULT_IRF_FWHM_PS`).
    progress : callable, optional
        ``progress(done, total)``.
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    xarray.Dataset
        The dynamics dataset (format ``uedflow-dynamics``, version 1).

    Raises
    ------
    FileFormatError
        Not a uedflow-reduced dataset, or another version.
    InputError
        No delay before time zero, too few delays, all-NaN data, rings outside the s range.
    CrystalError
        Unknown hkl.
    """
    cfg = config or AnalyzeConfig()
    _check_reduced(reduced)
    irf = float(cfg.irf_fwhm_ps if cfg.irf_fwhm_ps is not None else reduced.attrs.get("irf_fwhm_ps", DEFAULT_IRF_FWHM_PS))
    model = cfg.kinetic_model
    if model not in ("exp", "biexp"):
        raise ConfigError(f"analyze.kinetic_model must be 'exp' or 'biexp', got {model!r}")
    if cfg.bootstrap < 0:
        raise ConfigError(f"analyze.bootstrap must be >= 0 resamplings, got {cfg.bootstrap}")
    if not irf >= 0:
        raise ConfigError(f"the IRF FWHM must be >= 0 ps, got {irf}; give --irf or analyze.irf_fwhm_ps")
    if reduced.attrs.get("crystal_cif"):  # any crystal: strain per cell parameter and vibration per axis
        if cfg.bootstrap or cfg.peaks or cfg.kinetic_model != "exp":
            log.warning("%s is not cubic: the per-axis analysis fits every ring with one exponential per axis "
                        "(bootstrap, peaks and kinetic_model are not used)", reduced.attrs.get("material", "the sample"))
        return analyze_crystal(reduced, cfg, irf, progress=lambda done: progress(done, 2) if progress else None)
    window_mask(reduced["delay"].values, cfg.qe_window_ps)  # a bad window fails before the fits, not after
    total = 2 + cfg.bootstrap

    def step(done: int) -> None:
        if progress is not None:
            progress(done, total)

    ps_raw = fit_powder_series(reduced, peaks=cfg.peaks, shape=cfg.shape, background=cfg.background, eta=cfg.eta)
    u0, may_rise = _static_msd(reduced, cfg, ps_raw.labels)
    ps = correct_halo(ps_raw, u0, may_rise=may_rise) if cfg.tds_correction else ps_raw
    step(1)
    errs, traces = _traces_of(ps)
    for obs in ("strain", "msd"):
        dead = [lab for lab, row in zip(ps.labels, traces.values[obs], strict=True) if not np.isfinite(row).any()]
        if dead:
            log.warning("%s trace of ring(s) %s is all NaN (every fit flagged)", obs, ", ".join(dead))
    fits = _kinetics(traces, irf=irf, model=model)
    syst = _systematics(reduced, cfg, ps_raw, ps, traces, fits, u0, may_rise)
    step(2)
    boot = None
    if cfg.bootstrap > 0 and ps.scans.size >= 2:
        boot = _bootstrap(ps, errs, n=cfg.bootstrap, irf=irf, model=model, seed=seed,
                          progress=lambda d, n: step(2 + d))
    return _to_dataset(reduced, cfg, ps, traces, fits, boot, irf, model, syst, may_rise)


def _traces_of(series: PeakSeries) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], Traces]:
    """(effective 1σ of position, FWHM, area; the traces) of a peak series."""
    errs = _effective_errors(series)
    return errs, compute_traces(series.delay, series.position, errs[0], series.fwhm, errs[1], series.area, errs[2],
                                flag=series.flag, labels=series.labels)


def _static_msd(reduced: xr.Dataset, cfg: AnalyzeConfig, labels: tuple[str, ...]) -> tuple[float, np.ndarray]:
    """(⟨u²⟩ before the pump [Å²], rings that may gain intensity on heating).

    ⟨u²⟩ is the mass-weighted mean over the atoms of each element's Debye value at the base temperature
    (300 K if unknown): the centre-of-mass motion of the acoustic phonons that make the TDS halos. The rings
    that may rise have a negative element weight in the structure factor
    (:meth:`uedflow.crystal.vibration.RingPartials.may_rise`).
    """
    structure = structure_of(reduced)
    base_t = float(reduced.attrs.get("temperature_K", np.nan))
    msd0, _ = element_static_msd(structure, base_t if np.isfinite(base_t) and base_t > 0 else 300.0,
                                 cfg.debye_temperature_K, cfg.element_debye_temperatures_K)
    return mass_weighted(structure, msd0), ring_partials(structure, labels).may_rise(msd0)


def _systematics(reduced: xr.Dataset, cfg: AnalyzeConfig, ps_raw: PeakSeries, ps: PeakSeries, traces: Traces, fits,
                 u0: float, may_rise: np.ndarray) -> dict[str, Any]:
    """Systematic 1σ of :mod:`uedflow.dynamics.systematics`: the halo correction and the fit window."""
    n, nd = len(ps.labels), ps.delay.size
    parts = []
    if ps is not ps_raw:
        raw = _traces_of(ps_raw)[1]
        parts.append(difference_sys(traces, fits, ps.labels, raw, ps_raw.labels, factor=HALO_UNCERTAINTY,
                                    window_ps=cfg.qe_window_ps))
    mean_only = reduced.drop_vars([v for v in reduced.data_vars if "scan" in reduced[v].dims])
    try:
        alt = fit_powder_series(mean_only, peaks=cfg.peaks, shape=cfg.shape, background=cfg.background, eta=cfg.eta,
                                half_window=WINDOW_VARIANT * DEFAULT_HALF_WINDOW)
    except UedflowError as exc:
        log.warning("no fit-window systematic (the wider window fits nothing: %s)", exc)
        return combine_sys(parts, n, nd)
    alt = correct_halo(alt, u0, may_rise=_rise_of(alt.labels, ps.labels, may_rise)) if cfg.tds_correction else alt
    alt_traces = _traces_of(alt)[1]
    parts.append(difference_sys(traces, fits, ps.labels, alt_traces, alt.labels, factor=0.5,
                                window_ps=cfg.qe_window_ps))
    return combine_sys(parts, n, nd)


def _rise_of(labels: tuple[str, ...], ref_labels: tuple[str, ...], ref_rise: np.ndarray) -> np.ndarray:
    """``ref_rise`` (per ``ref_labels``) for ``labels`` (False where absent)."""
    lookup = dict(zip(ref_labels, np.asarray(ref_rise, bool), strict=True))
    return np.array([lookup.get(lab, False) for lab in labels])


def _family_mean(families: tuple[str, ...], values: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """Plain mean of ``values`` (P, ...) over the rings of each family in ``names``."""
    fam = np.asarray(families)
    return np.array([np.nanmean(values[fam == n], axis=0) if np.any(fam == n) else np.full(values.shape[1:], np.nan)
                     for n in names])


def _kinetic_arrays(fits, traces: Traces, labels: tuple[str, ...], may_rise: np.ndarray) -> dict[str, np.ndarray]:
    names = ("amplitude", "amplitude_err", "tau_ps", "tau_err_ps", "t0_ps", "t0_err_ps", "chi2_red", "success")
    out = {k: np.full((len(labels), len(OBSERVABLES)), np.nan) for k in names}
    curves = {}
    for j, obs in enumerate(OBSERVABLES):
        curves[obs] = np.full((len(labels), traces.delay.size), np.nan)
        if fits[obs] is None:
            out["success"][:, j] = 0
            continue
        st = stack_fits(fits[obs])
        for k in names:
            out[k][:, j] = st[k]
        curves[obs] = np.array([f.curve(traces.delay) for f in fits[obs]])
    _flag_wrong_sign(out["amplitude"], out["success"], labels, may_rise)
    out["curves"] = curves  # type: ignore[assignment]
    return out


def _flag_wrong_sign(amplitude: np.ndarray, success: np.ndarray, labels: tuple[str, ...],
                     may_rise: np.ndarray | None = None) -> None:
    """Unflag (success = 0, in place) kinetic fits whose amplitude sign opposes the other rings'.

    Heating moves every ring the same way (expansion: strain > 0; Debye–Waller:
    Δ⟨u²⟩ > 0, I/I0 < 1), so when at least 3 good fits of strain, Δ⟨u²⟩ or I/I0 agree
    on a sign by a 2/3 majority, a good fit of the opposite sign is a fit of noise or of
    a distorted trace (e.g. a weak or blended ring), not a measurement (QA: a (400)
    Δ⟨u²⟩ of −0.0017 Å² with τ = 1.1 ps passed as a success where the truth was
    +0.0017 Å², 8 ps). The width is exempt: its sign is not fixed by heating. A
    material with negative expansion along some directions would trip the strain rule;
    the warning names the rings. Rings in ``may_rise`` (a negative element weight in the
    structure factor, :meth:`uedflow.crystal.vibration.RingPartials.may_rise`: the all-odd rings
    of rock salt) may gain intensity on heating: their Δ⟨u²⟩ and I/I0 neither vote nor get flagged.
    """
    rise = np.zeros(len(labels), bool) if may_rise is None else np.asarray(may_rise, bool)
    for j, obs in enumerate(OBSERVABLES):
        if obs == "width":
            continue
        good = (success[:, j] > 0) & np.isfinite(amplitude[:, j])
        if obs in ("msd", "intensity"):
            good &= ~rise
        sign = np.sign(amplitude[good, j])
        if sign.size < 3 or abs(sign.sum()) < sign.size / 3:
            continue
        wrong = good & (np.sign(amplitude[:, j]) == -np.sign(sign.sum()))
        if wrong.any():
            success[wrong, j] = 0
            log.warning("%s kinetic fits of %s flagged: amplitude of the opposite sign to the other rings'",
                        obs, ", ".join(f"({labels[i]})" for i in np.flatnonzero(wrong)))


def _to_dataset(reduced, cfg, ps: PeakSeries, traces: Traces, fits, boot, irf: float, model: str,
                syst: dict[str, Any], may_rise: np.ndarray) -> xr.Dataset:
    pk, dl, ob = "peak", "delay", "observable"
    structure = structure_of(reduced)
    base_t = float(reduced.attrs.get("temperature_K", np.nan))
    kin = _kinetic_arrays(fits, traces, ps.labels, may_rise)
    curves = kin.pop("curves")
    data: dict[str, Any] = {
        "s0": (pk, traces.s0), "s0_err": (pk, traces.s0_err), "eta": (pk, ps.eta),
        "position": ((pk, dl), ps.position), "position_err": ((pk, dl), ps.position_err),
        "position_scatter_err": ((pk, dl), ps.position_scatter_err),
        "fwhm": ((pk, dl), ps.fwhm), "fwhm_err": ((pk, dl), ps.fwhm_err),
        "fwhm_scatter_err": ((pk, dl), ps.fwhm_scatter_err),
        "area": ((pk, dl), ps.area), "area_err": ((pk, dl), ps.area_err),
        "area_scatter_err": ((pk, dl), ps.area_scatter_err),
        "peak_chi2_red": ((pk, dl), ps.chi2_red), "fit_flag": ((pk, dl), ps.flag.astype(np.uint8)),
        "irf_fwhm_ps": ((pk, ob), np.full((len(ps.labels), len(OBSERVABLES)), irf)),
    }
    if ps.model is not None:
        data["fit_model"] = (("delay", "s"), ps.model)
        data["fit_background"] = (("delay", "s"), ps.model_background)
    if ps.scans.size:
        for name, arr in (("scan_position", ps.scan_position), ("scan_fwhm", ps.scan_fwhm),
                          ("scan_area", ps.scan_area)):
            data[name] = (("scan", pk, dl), arr)
        data["scan_fit_flag"] = (("scan", pk, dl), ps.scan_flag.astype(np.uint8))
    for obs in OBSERVABLES:
        data[obs] = ((pk, dl), traces.values[obs])
        data[f"{obs}_err"] = ((pk, dl), traces.errors[obs])
        data[f"{obs}_reference_err"] = (pk, traces.reference_err[obs])
        data[f"{obs}_fit"] = ((pk, dl), curves[obs])
    for k, v in kin.items():
        data[k] = ((pk, ob), v.astype(np.uint8) if k == "success" else v)
    data["fit_success"] = data.pop("success")
    if boot is not None:
        data["amplitude_boot_err"] = ((pk, ob), boot["amplitude"])
        data["tau_boot_err_ps"] = ((pk, ob), boot["tau_ps"])
        data["t0_boot_err_ps"] = ((pk, ob), boot["t0_ps"])
    qe = {}
    for obs in OBSERVABLES:
        qe[obs] = window_average(traces.delay, traces.values[obs], traces.errors[obs], traces.reference_err[obs],
                                 window_ps=cfg.qe_window_ps)
        data[f"{obs}_qe"], data[f"{obs}_qe_err"] = (pk, qe[obs][0]), (pk, qe[obs][1])
        data[f"{obs}_qe_sys"], data[f"{obs}_sys"] = (pk, syst["qe"][obs]), ((pk, dl), syst["traces"][obs])
    data["amplitude_sys"], data["tau_sys_ps"] = ((pk, ob), syst["amplitude"]), ((pk, ob), syst["tau_ps"])
    fam_names = tuple(f for f in FAMILIES if f in ps.families)
    fd = "direction"
    for obs in OBSERVABLES:
        m, e = family_average(ps.families, traces.values[obs], traces.errors[obs], names=fam_names)
        data[f"family_{obs}"], data[f"family_{obs}_err"] = ((fd, dl), m), ((fd, dl), e)
        m, e = family_average(ps.families, *qe[obs], names=fam_names)
        data[f"family_{obs}_qe"], data[f"family_{obs}_qe_err"] = (fd, m), (fd, e)
        # systematics are common to a family's rings: their plain mean, not reduced by averaging
        data[f"family_{obs}_sys"] = ((fd, dl), _family_mean(ps.families, syst["traces"][obs], fam_names))
        data[f"family_{obs}_qe_sys"] = (fd, _family_mean(ps.families, syst["qe"][obs], fam_names))
    good = kin["success"] > 0
    tau = np.where(good, kin["tau_ps"], np.nan)
    m, e = family_average(ps.families, tau, np.where(good, kin["tau_err_ps"], np.nan), names=fam_names)
    data["family_tau_ps"], data["family_tau_err_ps"] = ((fd, ob), m), ((fd, ob), e)
    coords = {"hkl": (pk, list(ps.labels)), "family": (pk, list(ps.families)), "delay": traces.delay,
              "s": reduced["s"].values,
              "observable": list(OBSERVABLES), fd: list(fam_names)}
    if ps.scans.size:
        coords["scan"] = ps.scans
    ds = xr.Dataset(data, coords=coords)
    ds["delay"].attrs["units"] = "ps"
    ds["s"].attrs.update(units="1/angstrom", long_name="s = 1/d")
    if "fit_model" in ds:
        unit = reduced["intensity"].attrs.get("units", "counts/pixel (normalised)")
        ds["fit_model"].attrs.update(units=unit, long_name="fitted profile: every ring plus background, per delay")
        ds["fit_background"].attrs.update(units=unit, long_name="fitted background under the rings, per delay")
    ds.attrs.update(_attrs(reduced, cfg, ps, traces, qe, kin, irf, model))
    add_lattice_results(ds, traces=traces, labels=ps.labels, structure=structure,
                        base_temperature_K=base_t, debye_temperature_K=float(cfg.debye_temperature_K),
                        window_ps=tuple(cfg.qe_window_ps), irf_fwhm_ps=irf,
                        element_debye_K=cfg.element_debye_temperatures_K,
                        debye_rel_err=float(cfg.debye_temperature_rel_err))
    return ds


def _attrs(reduced, cfg, ps: PeakSeries, traces: Traces, qe, kin, irf, model) -> dict[str, Any]:
    attrs: dict[str, Any] = {k: reduced.attrs[k] for k in _SAMPLE_ATTRS if k in reduced.attrs}
    attrs.update(
        qe_window_ps=np.asarray(cfg.qe_window_ps, float), peak_shape=ps.shape, peak_eta=cfg.eta,
        background_model=ps.background,
        debye_temperature_K=float(cfg.debye_temperature_K), kinetic_model=model, irf_fwhm_ps=irf,
        bootstrap=int(cfg.bootstrap), lattice_constant_refined_angstrom=ps.indexing.a_angstrom,
        lattice_constant_refined_err_angstrom=ps.indexing.a_err_angstrom, s_offset=ps.indexing.s_offset,
        s_offset_err=ps.indexing.s_offset_err, overlaps_json=json.dumps([list(o) for o in ps.indexing.overlaps]),
        left_out_json=json.dumps(dict(ps.left_out)),
    )
    j_msd, j_strain = OBSERVABLES.index("msd"), OBSERVABLES.index("strain")
    good = kin["success"] > 0
    analyses = {
        "msd_qe_vs_s": linear_fit(traces.s0, *qe["msd"]),
        "strain_qe_vs_s": linear_fit(traces.s0, *qe["strain"]),
        "msd_tau_vs_s": linear_fit(traces.s0, np.where(good[:, j_msd], kin["tau_ps"][:, j_msd], np.nan),
                                   kin["tau_err_ps"][:, j_msd]),
        "strain_tau_vs_s": linear_fit(traces.s0, np.where(good[:, j_strain], kin["tau_ps"][:, j_strain], np.nan),
                                      kin["tau_err_ps"][:, j_strain]),
    }
    tau_m, tau_e = kin["tau_ps"][:, j_msd], kin["tau_err_ps"][:, j_msd]
    inv_tau = np.where(good[:, j_msd], 1.0 / tau_m, np.nan)
    analyses["msd_qe_vs_inv_tau"] = linear_fit(inv_tau, *qe["msd"], x_err=tau_e / tau_m**2)
    for name, fit in analyses.items():
        attrs[f"{name}_slope"], attrs[f"{name}_slope_err"] = fit.slope, fit.slope_err
    attrs["anisotropy_json"] = json.dumps({k: v.summary() for k, v in analyses.items()})
    attrs["summary_json"] = json.dumps(ps.summary(), default=float)
    return attrs
