"""``uedflow analyze`` for any crystal: a reduced series of a non-cubic sample to strain per cell parameter and
vibration per axis, as a ``uedflow-dynamics`` dataset (attribute ``analysis = "axes"``).

The reduced file names the crystal (``crystal_cif``, written by ``uedflow reduce`` for any ``[sample]``); the
ring FWHM the fits start from is measured on the mean profile before time zero (the median width of the most
prominent maxima, :func:`uedflow.peaks.indexing.detect_peaks`); then :func:`~uedflow.dynamics.axes_series.
analyze_axes_series` fits the rings, the cell strain and the per-axis Δ⟨u²⟩ of every delay and their kinetics.
The systematic 1σ of each kinetic amplitude and τ adds in quadrature half the differences of two variants of the
analysis: fit windows ``WINDOW_VARIANT`` times wider (as for cubic rings, :mod:`uedflow.dynamics.systematics`) and
quadratic instead of linear backgrounds (the Laue and thermal diffuse scattering under a ring, ∝ f²(s), is curved
and its thermal part grows after the pump: on noise-free ``mos2-flakes-300K`` profiles with the physical
background the linear one reads Δ⟨u_⊥²⟩ 1.8 % high, the quadratic one 0.5 %; the quadratic one costs precision).

Layout (docs/formats.md): coordinates ``delay`` [ps], ``ring`` (composite-ring labels), ``trace`` (cell
parameters then vibration axes: ``a``, ``c``, ``perp``, ``par``...), ``param``/``param2`` (the cell parameters);
per ring ``ring_s`` [Å⁻¹], ``ring_members`` (``"hkl:weight ..."``), ``ring_pure``, ``ring_strain``,
``ln_ratio`` (ring, delay) with ``*_err``; per trace ``value``/``value_err`` (trace, delay) [dimensionless for
lengths, degrees for angles, Å² for Δ⟨u²⟩], ``trace_unit``, and the kinetics ``offset``, ``amplitude``,
``tau_ps``, ``t0_ps`` (each with ``*_err``), ``amplitude_sys``, ``tau_sys_ps``, ``chi2_red``, ``fit_success``; ``strain_covariance`` (delay, param, param2).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr

from uedflow.config import AnalyzeConfig
from uedflow.crystal.cif import parse_cif
from uedflow.dynamics.axes_series import AxesSeries, analyze_axes_series
from uedflow.dynamics.systematics import WINDOW_VARIANT
from uedflow.errors import InputError, UedflowError
from uedflow.peaks.indexing import detect_peaks

__all__ = ["analyze_crystal", "axes_dataset", "axes_rows", "axes_summary", "is_axes", "ring_fwhm", "UNIT_TEXT"]

log = logging.getLogger(__name__)

#: Attributes of the reduced file carried into the dynamics file.
_SAMPLE_ATTRS = ("material", "crystal_cif", "temperature_K", "fluence_mJ_cm2", "diameter_nm", "sample_label",
                 "experiment_name", "electron_energy_keV", "camera_length_m")
#: Kinetic parameter -> the dataset variable of its 1σ.
_KINETICS = {"offset": "offset_err", "amplitude": "amplitude_err", "tau_ps": "tau_err_ps", "t0_ps": "t0_err_ps"}
#: ``trace_unit`` -> its suffix in text.
UNIT_TEXT = {"1": "", "degree": " °", "angstrom2": " Å²"}


def is_axes(ds: xr.Dataset) -> bool:
    """True for a dynamics dataset of the per-axis analysis (any crystal)."""
    return ds.attrs.get("analysis") == "axes"


def ring_fwhm(reduced: xr.Dataset, before: np.ndarray, n_peaks: int = 5) -> float:
    """Median FWHM [Å⁻¹] of the ``n_peaks`` most prominent maxima of the mean profile of the delays ``before``.

    Raises
    ------
    InputError
        No maximum found.
    """
    s = reduced["s"].values
    y = np.nanmean(reduced["intensity"].values[before], axis=0)
    pos, fwhm, prominence = detect_peaks(s, np.nan_to_num(y, nan=float(np.nanmedian(y))))
    if len(pos) == 0:
        raise InputError("no diffraction ring found in the mean profile before time zero; check the reduction")
    top = np.argsort(prominence)[::-1][:n_peaks]
    return float(np.median(fwhm[top]))


def analyze_crystal(reduced: xr.Dataset, config: AnalyzeConfig, irf_fwhm_ps: float,
                    progress: Callable[[int], None] | None = None) -> xr.Dataset:
    """Per-axis analysis of a reduced series of any crystal (module docstring).

    Parameters
    ----------
    reduced : xarray.Dataset
        ``uedflow-reduced`` data with a ``crystal_cif`` attribute.
    config : AnalyzeConfig
        Uses ``qe_window_ps`` only for the record; the ring fits are pseudo-Voigt with a linear background.
    irf_fwhm_ps : float
        Instrument response FWHM [ps].
    progress : callable, optional
        ``progress(2)`` when done (the two steps of :func:`uedflow.dynamics.analyze`).

    Raises
    ------
    InputError
        No delay before time zero, too few rings, or rings that cannot separate the axes.
    """
    crystal = parse_cif(str(reduced.attrs["crystal_cif"]), name=str(reduced.attrs.get("material", "crystal")),
                        source="the reduced file's crystal_cif")
    before = reduced["delay"].values < -irf_fwhm_ps
    if not before.any():
        raise InputError(f"no delay before -IRF ({-irf_fwhm_ps:g} ps) for the reference; record delays before time "
                         "zero")
    fwhm = ring_fwhm(reduced, before)
    log.info("per-axis analysis of %s (%s): ring FWHM %.4f 1/Å from the data", crystal.name,
             crystal.space_group_symbol, fwhm)
    series = analyze_axes_series(reduced, crystal, fwhm_guess=fwhm, irf_fwhm_ps=irf_fwhm_ps)
    if progress is not None:
        progress(1)
    half_diff = []
    for variant in ({"half_window": 3.0 * WINDOW_VARIANT}, {"degree": 2}):
        try:
            alt = analyze_axes_series(reduced, crystal, fwhm_guess=fwhm, irf_fwhm_ps=irf_fwhm_ps, **variant)
        except UedflowError as exc:
            log.warning("no systematic from the fit variant %s (it fits nothing: %s)", variant, exc)
            continue
        half_diff.append({n: np.array([0.5 * abs(alt.kinetics[n].value(k) - f.value(k)) for k in ("amplitude", "tau_ps")])
                          for n, f in series.kinetics.items()})
    sys = {n: tuple(np.sqrt(sum(h[n] ** 2 for h in half_diff))) if half_diff else (0.0, 0.0) for n in series.kinetics}
    if progress is not None:
        progress(2)
    return axes_dataset(series, reduced, config, irf_fwhm_ps=irf_fwhm_ps, fwhm=fwhm,
                        space_group=crystal.space_group_symbol, systematic=sys)


def axes_dataset(series: AxesSeries, reduced: xr.Dataset, config: AnalyzeConfig, *, irf_fwhm_ps: float,
                 fwhm: float, space_group: str, systematic: dict[str, tuple[float, float]] | None = None
                 ) -> xr.Dataset:
    """The ``uedflow-dynamics`` dataset of a per-axis analysis (layout in the module docstring); ``systematic``:
    trace -> systematic 1σ of (amplitude, τ [ps])."""
    n_strain = len(series.strain[0].names)
    names = [*series.strain[0].names, *series.vibration.names]
    values = np.vstack([np.array([f.values for f in series.strain]).T, series.vibration.values.T])
    errors = np.vstack([np.array([f.errors for f in series.strain]).T, series.vibration.errors.T])
    units = ["degree" if n in ("alpha", "beta", "gamma") else "1" for n in names[:n_strain]]
    units += ["angstrom2"] * (len(names) - n_strain)
    kin = {k: np.array([series.kinetics[n].value(k) for n in names]) for k in _KINETICS}
    kin_err = {e: np.array([series.kinetics[n].error(k) for n in names]) for k, e in _KINETICS.items()}
    sys = np.array([(systematic or {}).get(n, (0.0, 0.0)) for n in names]).reshape(len(names), 2)
    members = [" ".join(f"{''.join(map(str, m.hkl))}:{w:.3f}" for m, w in zip(r.members, r.weights, strict=True))
               for r in series.rings]
    ring_s = np.array([r.s_inv_angstrom for r in series.rings])
    data: dict[str, Any] = {
        "ring_s": (("ring",), ring_s, {"units": "1/angstrom"}),
        "ring_members": (("ring",), np.array(members, dtype=object)),
        "ring_pure": (("ring",), np.array([r.pure for r in series.rings], dtype=np.uint8)),
        "ring_strain": (("ring", "delay"), series.ring_strain.T),
        "ring_strain_err": (("ring", "delay"), series.ring_strain_err.T),
        "ln_ratio": (("ring", "delay"), series.ln_ratio.T),
        "ln_ratio_err": (("ring", "delay"), series.ln_ratio_err.T),
        "ring_msd": (("ring", "delay"), series.vibration.ring_msd_angstrom2.T, {"units": "angstrom2"}),
        "value": (("trace", "delay"), values),
        "value_err": (("trace", "delay"), errors),
        "trace_unit": (("trace",), np.array(units, dtype=object)),
        "strain_covariance": (("delay", "param", "param2"), np.array([f.covariance for f in series.strain])),
        **{k: (("trace",), v) for k, v in {**kin, **kin_err}.items()},
        "amplitude_sys": (("trace",), sys[:, 0]),
        "tau_sys_ps": (("trace",), sys[:, 1]),
        "chi2_red": (("trace",), np.array([series.kinetics[n].chi2_red for n in names])),
        "fit_success": (("trace",), np.array([series.kinetics[n].success for n in names], dtype=np.uint8)),
    }
    attrs = {k: reduced.attrs[k] for k in _SAMPLE_ATTRS if k in reduced.attrs}
    attrs.update(analysis="axes", space_group=space_group, ring_fwhm_inv_angstrom=fwhm, irf_fwhm_ps=irf_fwhm_ps,
                 kinetic_model="exp", qe_window_ps=np.asarray(config.qe_window_ps, float),
                 strain_parameters=json.dumps(list(series.strain[0].names)),
                 vibration_parameters=json.dumps(list(series.vibration.names)))
    coords = {"delay": ("delay", series.delay_ps, {"units": "ps"}),
              "ring": ("ring", np.array([r.label for r in series.rings], dtype=object)),
              "trace": ("trace", np.array(names, dtype=object)),
              "param": ("param", np.array(names[:n_strain], dtype=object)),
              "param2": ("param2", np.array(names[:n_strain], dtype=object))}
    return xr.Dataset(data, coords=coords, attrs=attrs)


def axes_rows(ds: xr.Dataset) -> tuple[list[tuple], list[tuple]]:
    """traces.csv and fits.csv rows of a per-axis dataset, in the columns of the cubic files: the ``hkl`` column
    holds the ring label or the trace name, ``family`` says ``ring`` or ``axis``."""
    delay = ds["delay"].values
    traces = [(str(r), "ring", float(delay[d]), obs, float(ds[obs].values[i, d]), float(ds[f"{obs}_err"].values[i, d]))
              for i, r in enumerate(ds["ring"].values) for obs in ("ring_strain", "ln_ratio")
              for d in range(delay.size)]
    traces += [(str(n), "axis", float(delay[d]), f"value [{ds['trace_unit'].values[i]}]", float(ds["value"].values[i, d]),
                float(ds["value_err"].values[i, d])) for i, n in enumerate(ds["trace"].values) for d in range(delay.size)]
    nan = float("nan")
    fits = []
    for i, n in enumerate(ds["trace"].values):
        ok = bool(ds["fit_success"].values[i])
        fits.append((str(n), "axis", "strain" if ds["trace_unit"].values[i] != "angstrom2" else "msd",
                     *(float(ds[c].values[i]) for c in ("amplitude", "amplitude_err", "tau_ps", "tau_err_ps", "t0_ps",
                                                        "t0_err_ps", "chi2_red")),
                     int(ok), nan, nan, nan, float(ds["amplitude_sys"].values[i]), float(ds["tau_sys_ps"].values[i]),
                     "" if ok else "kinetic fit failed or rejected"))
    return traces, fits


def axes_summary(ds: xr.Dataset) -> str:
    """A few lines for the terminal: the rings and each axis's kinetics (amplitude and τ with 1σ)."""
    pure = ds["ring_pure"].values.astype(bool)
    lines = [f"{ds.attrs.get('material', '')} ({ds.attrs.get('space_group', '')}): {pure.size} rings "
             f"({', '.join(map(str, ds['ring'].values))}; {int((~pure).sum())} composite), "
             f"ring FWHM {float(ds.attrs['ring_fwhm_inv_angstrom']):.4f} 1/Å",
             "per axis (exponential rise, Gaussian IRF, shared t0):"]
    for i, name in enumerate(ds["trace"].values):
        unit = UNIT_TEXT[str(ds["trace_unit"].values[i])]
        what = "Δ⟨u²⟩" if unit == " Å²" else "strain"
        flag = "" if ds["fit_success"].values[i] else "  (fit flagged)"
        lines.append(f"  {name:6s} {what:7s} {float(ds['amplitude'].values[i]):.3e} ± "
                     f"{float(ds['amplitude_err'].values[i]):.1e} ± {float(ds['amplitude_sys'].values[i]):.1e} (sys)"
                     f"{unit}   τ = {float(ds['tau_ps'].values[i]):.2f} ± {float(ds['tau_err_ps'].values[i]):.2f} ± "
                     f"{float(ds['tau_sys_ps'].values[i]):.2f} (sys) ps{flag}")
    return "\n".join(lines)
