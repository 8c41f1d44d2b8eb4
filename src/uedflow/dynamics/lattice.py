"""Lattice-level results of one analysis, added to the dynamics dataset.

* direction-averaged quasi-equilibrium Δ⟨u²⟩ and strain, with the direction spread as systematic
  (:mod:`uedflow.dynamics.temperature`), and the temperature rise from each;
* the lattice temperature vs delay from Δ⟨u²⟩(t) and from strain(t);
* anisotropy as differences between direction families with their significance, and a χ² test
  of isotropy (not a slope against a category index);
* the global Wilson analysis (:mod:`uedflow.dynamics.wilson`);
* Δ⟨u²⟩ per element from all rings through the structure factor, with its kinetics and the
  temperature rise of each element (:mod:`uedflow.dynamics.elements`);
* the static-vs-nonequilibrium expansion ratio per direction: the strain a static heating to the
  Debye–Waller temperature would give (bulk α(T)) over the measured quasi-equilibrium strain;
* global kinetics of every ring's Δ⟨u²⟩ and strain with model choice (:mod:`uedflow.dynamics.global_kinetics`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from itertools import combinations
from typing import Any

import numpy as np
import xarray as xr
from scipy.stats import chi2 as chi2_dist

from uedflow.constants import ATOMIC_MASS_U
from uedflow.dynamics.elements import element_static_msd, fit_element_msd
from uedflow.dynamics.global_kinetics import select_model
from uedflow.dynamics.temperature import (
    DEBYE_TEMPERATURE_REL_ERR,
    DirectionMean,
    direction_mean,
    invert_mean,
    lattice_temperature,
    msd_model_variants,
    msd_temperature,
)
from uedflow.dynamics.traces import family_average
from uedflow.dynamics.wilson import wilson_analysis
from uedflow.errors import FitError, InputError

__all__ = ["direction_differences", "expansion_ratios", "add_lattice_results"]

log = logging.getLogger(__name__)


def direction_differences(names: tuple[str, ...], values: np.ndarray, errors: np.ndarray) -> dict[str, Any]:
    """Pairwise differences between direction families with 1σ and z, and the χ² of isotropy.

    Examples
    --------
    >>> d = direction_differences(("<100>", "<111>"), np.array([1.0, 2.0]), np.array([0.3, 0.4]))
    >>> round(d["pairs"]["<111> - <100>"]["z"], 3), round(d["isotropy_p"], 4)
    (2.0, 0.0455)
    """
    v, e = np.asarray(values, float), np.asarray(errors, float)
    pairs = {}
    for i, j in combinations(range(len(names)), 2):
        diff, err = v[j] - v[i], float(np.hypot(e[i], e[j]))
        pairs[f"{names[j]} - {names[i]}"] = {"difference": float(diff), "err": err,
                                             "z": float(diff / err) if err > 0 else float("nan")}
    ok = np.isfinite(v) & np.isfinite(e) & (e > 0)
    out: dict[str, Any] = {"pairs": pairs, "isotropy_chi2": float("nan"), "isotropy_dof": int(ok.sum()) - 1,
                           "isotropy_p": float("nan")}
    if ok.sum() >= 2:
        w = 1.0 / e[ok] ** 2
        mean = float(np.sum(w * v[ok]) / w.sum())
        c2 = float(np.sum(w * (v[ok] - mean) ** 2))
        out.update(isotropy_chi2=c2, isotropy_p=float(chi2_dist.sf(c2, ok.sum() - 1)))
    return out


def expansion_ratios(names: tuple[str, ...], strain_qe: np.ndarray, strain_qe_err: np.ndarray, *,
                     rise_K: float, rise_err_K: float, base_temperature_K: float, material: str) -> dict[str, Any]:
    """Static / nonequilibrium strain per direction (the paper's "~20 % less under static heating" is 0.8).

    The static strain is the bulk thermal strain from T0 to T0 + ΔT with ΔT from Δ⟨u²⟩
    (α(T) of :mod:`uedflow.physics.expansion`, ±5 %); returns {} without a finite ΔT or expansion model.
    """
    from uedflow.physics.expansion import ALPHA_REL_ERR, nonequilibrium_to_static_ratio, thermal_strain

    if not (np.isfinite(rise_K) and rise_K > 0 and np.isfinite(base_temperature_K)):
        return {}
    try:
        static = float(thermal_strain(base_temperature_K + rise_K, base_temperature_K, material))
    except InputError:
        return {}
    alpha = static / rise_K
    out = {}
    for name, s, e in zip(names, strain_qe, strain_qe_err, strict=True):
        if np.isfinite(s) and s > 0:
            out[name] = nonequilibrium_to_static_ratio(float(s), float(e), alpha, ALPHA_REL_ERR * alpha, rise_K,
                                                       rise_err_K if np.isfinite(rise_err_K) else 0.0).summary()
    return out


def _mean(ds: xr.Dataset, name: str) -> DirectionMean:
    """Direction mean of ``name`` (with ``_err``); the systematic part is the direction spread and, in quadrature,
    the mean over directions of the families' own systematic 1σ (``name`` + ``_sys``, when present)."""
    mean = direction_mean(ds[name].values, ds[f"{name}_err"].values)
    key = f"{name}_sys"
    if key not in ds:
        return mean
    own = np.nanmean(ds[key].values, axis=0)
    return dataclasses.replace(mean, sys_err=np.hypot(np.nan_to_num(mean.sys_err), np.nan_to_num(own)))


def _rise(mean: DirectionMean, invert: Any, base_t: float, *, model_rel_err: float = 0.0, variants: Any = (),
          **kw: Any) -> tuple[float, float, float]:
    """(ΔT, stat σ, sys σ) [K] of a direction-averaged quasi-equilibrium value."""
    temp, stat, sys = invert_mean(invert, mean, model_rel_err=model_rel_err, variants=variants,
                                  base_temperature_K=base_t, **kw)
    return float(np.ravel(temp)[0] - base_t), float(np.ravel(stat)[0]), float(np.ravel(sys)[0])


def add_lattice_results(ds: xr.Dataset, *, traces: Any, labels: tuple[str, ...], structure: Any,
                        base_temperature_K: float, debye_temperature_K: float, window_ps: tuple[float, float],
                        irf_fwhm_ps: float, element_debye_K: dict[str, float] | None = None,
                        debye_rel_err: float = DEBYE_TEMPERATURE_REL_ERR) -> None:
    """Add the results of the module docstring to ``ds`` (variables and root attributes, in place).

    ``ds`` must hold the family traces and quasi-equilibrium values (``family_<obs>``, ``family_<obs>_qe``)
    and the per-ring kinetic results of :func:`uedflow.dynamics.analyze.analyze`. ``element_debye_K``
    maps elements to their own Debye temperature [K] (others take ``debye_temperature_K``);
    ``debye_rel_err`` is the relative 1σ of every Debye temperature (a systematic of each ΔT from Δ⟨u²⟩).
    """
    from uedflow.dynamics.temperature import strain_temperature
    from uedflow.physics.debye import compound_mass_u
    from uedflow.physics.expansion import ALPHA_REL_ERR

    names = tuple(str(d) for d in ds["direction"].values)
    mass = compound_mass_u(structure.masses_u)
    qe = {o: _mean(ds, f"family_{o}_qe") for o in ("msd", "strain")}
    attrs: dict[str, Any] = {}
    for o, key in (("msd", "msd_qe_mean_angstrom2"), ("strain", "strain_qe_mean")):
        stem = key.removesuffix("_angstrom2")
        unit = "_angstrom2" if o == "msd" else ""
        attrs[key], attrs[f"{stem}_err{unit}"], attrs[f"{stem}_sys{unit}"] = (
            float(qe[o].value), float(qe[o].stat_err), float(qe[o].sys_err))
    rises = {"msd": (np.nan,) * 3, "strain": (np.nan,) * 3}
    if np.isfinite(base_temperature_K):
        variants = msd_model_variants(debye_temperature_K, structure.masses_u, rel_err=debye_rel_err)
        rises["msd"] = _rise(qe["msd"], msd_temperature, base_temperature_K, variants=variants,
                             debye_temperature_K=debye_temperature_K, mass_u=mass)
        rises["strain"] = _rise(qe["strain"], strain_temperature, base_temperature_K, material=structure.name,
                                model_rel_err=ALPHA_REL_ERR)
        tl = lattice_temperature(
            ds["delay"].values,
            _mean(ds, "family_msd"), _mean(ds, "family_strain"),
            base_temperature_K=base_temperature_K, debye_temperature_K=debye_temperature_K, mass_u=mass,
            msd_variants=variants,
            material=structure.name)
        for o in ("msd", "strain"):
            ds[f"lattice_temperature_{o}_K"] = ("delay", getattr(tl, f"{o}_K"))
            ds[f"lattice_temperature_{o}_err_K"] = ("delay", getattr(tl, f"{o}_stat_err_K"))
            ds[f"lattice_temperature_{o}_sys_K"] = ("delay", getattr(tl, f"{o}_sys_err_K"))
    for o in ("msd", "strain"):
        (attrs[f"temperature_rise_{o}_K"], attrs[f"temperature_rise_{o}_err_K"],
         attrs[f"temperature_rise_{o}_sys_K"]) = rises[o]
    j_msd = list(ds["observable"].values).index("msd")
    attrs["direction_differences_json"] = json.dumps({
        "msd_qe": direction_differences(names, ds["family_msd_qe"].values, ds["family_msd_qe_err"].values),
        "strain_qe": direction_differences(names, ds["family_strain_qe"].values, ds["family_strain_qe_err"].values),
        "msd_tau": direction_differences(names, ds["family_tau_ps"].values[:, j_msd],
                                         ds["family_tau_err_ps"].values[:, j_msd]),
    })
    attrs["expansion_ratio_json"] = json.dumps(expansion_ratios(
        names, ds["family_strain_qe"].values, ds["family_strain_qe_err"].values, rise_K=rises["msd"][0],
        rise_err_K=float(np.hypot(rises["msd"][1], rises["msd"][2])), base_temperature_K=base_temperature_K,
        material=structure.name))
    _wilson(ds, traces, labels, structure, window_ps, attrs)
    _elements(ds, traces, labels, structure, base_temperature_K, debye_temperature_K, element_debye_K, window_ps,
              irf_fwhm_ps, debye_rel_err, attrs)
    _global_kinetics(ds, traces, irf_fwhm_ps, attrs)
    ds.attrs.update(attrs)


def _wilson(ds: xr.Dataset, traces: Any, labels: tuple[str, ...], structure: Any, window_ps, attrs: dict) -> None:
    w = wilson_analysis(traces.delay, traces.s0, traces.values["intensity"], traces.errors["intensity"], labels,
                        n_species=len(structure.elements), window_ps=window_ps)
    ds.coords["wilson_class"] = list(w.classes)
    for name in ("msd", "msd_err", "intercept", "intercept_err", "chi2_red"):
        ds[f"wilson_{name}"] = (("wilson_class", "delay"), getattr(w, name))
    ds["wilson_deviation"] = ("peak", w.deviation)
    ds["wilson_deviation_err"] = ("peak", w.deviation_err)
    summary = w.summary(labels)
    # per direction family: the weighted mean of its rings' deviations (does ⟨111⟩ vibrate more than the average?)
    names = tuple(str(d) for d in ds["direction"].values)
    dev, err = family_average(ds["family"].values, w.deviation, w.deviation_err, names=names)
    summary["families"] = {n: {"deviation_angstrom2": float(d), "deviation_err_angstrom2": float(e),
                               "z": float(d / e) if e > 0 else float("nan")} for n, d, e in zip(names, dev, err, strict=True)}
    attrs["wilson_json"] = json.dumps(summary)


def _elements(ds: xr.Dataset, traces: Any, labels: tuple[str, ...], structure: Any, base_t: float, theta: float,
              element_theta: dict[str, float] | None, window_ps, irf: float, rel_err: float, attrs: dict) -> None:
    """Δ⟨u_e²⟩(t) per element (joint structure-factor fit), its kinetics and each element's ΔT."""
    if len(structure.elements) < 2:
        return
    known = np.isfinite(base_t)
    msd0, thetas = element_static_msd(structure, base_t if known else 300.0, theta, element_theta)
    t0 = ds["t0_ps"].values[np.isfinite(ds["t0_ps"].values)]
    em = fit_element_msd(traces.delay, labels, traces.values["intensity"], traces.errors["intensity"], structure,
                         msd0, window_ps=window_ps, irf_fwhm_ps=irf, t0_guess_ps=float(t0[0]) if t0.size else 0.0)
    ds.coords["element"] = list(em.elements)
    for name, value in (("element_msd", em.msd), ("element_msd_err", em.msd_err), ("element_msd_fit", em.curves)):
        ds[name] = (("element", "delay"), value)
    ds["element_msd_corr"] = ("delay", em.corr)
    ds["element_msd_chi2_red"] = ("delay", em.chi2_red)
    summary = em.summary()
    summary["static_from"] = f"Debye model at {base_t if known else 300.0:g} K" + ("" if known else " (no base T)")
    for e, el in enumerate(em.elements):
        entry = summary["elements"][el]
        entry["debye_temperature_K"] = float(thetas[e])
        rise = (np.nan,) * 3
        if known:  # the element's own Debye temperature and mass; its ±rel_err as the systematic
            th = float(thetas[e])
            rise = _rise(DirectionMean(em.qe[e:e + 1], em.qe_err[e:e + 1], np.zeros(1), np.ones(1, int)),
                         msd_temperature, base_t, variants=(({"debye_temperature_K": th * (1 - rel_err)},
                                                             {"debye_temperature_K": th * (1 + rel_err)}),),
                         debye_temperature_K=th, mass_u=ATOMIC_MASS_U[el])
        entry["temperature_rise_K"], entry["temperature_rise_err_K"], entry["temperature_rise_sys_K"] = rise
    attrs["element_msd_json"] = json.dumps(summary)


def _global_kinetics(ds: xr.Dataset, traces: Any, irf: float, attrs: dict) -> None:
    """Every ring's Δ⟨u²⟩ and strain in one fit per model (shared t0, IRF, and τ_hot for the bottleneck)."""
    t0 = ds["t0_ps"].values[np.isfinite(ds["t0_ps"].values)]
    n = traces.s0.size
    values = np.concatenate([traces.values["msd"], traces.values["strain"]])
    errors = np.concatenate([traces.errors["msd"], traces.errors["strain"]])
    try:
        sel = select_model(traces.delay, values, errors, irf_guess_ps=max(irf, 0.1),
                           t0_guess_ps=float(t0[0]) if t0.size else 0.0, groups=["msd"] * n + ["strain"] * n)
    except FitError as exc:
        log.warning("no global kinetics: %s", exc)
        return
    best = sel.fits[sel.chosen]
    ds["global_msd_fit"] = (("peak", "delay"), best.curves[:n])
    ds["global_strain_fit"] = (("peak", "delay"), best.curves[n:])
    attrs.update(kinetics_selection_json=json.dumps(sel.summary(), default=float), kinetic_model_chosen=sel.chosen,
                 global_t0_ps=best.shared["t0_ps"], global_t0_err_ps=best.shared_err["t0_ps"],
                 global_irf_fwhm_ps=best.shared["irf_fwhm_ps"], global_irf_fwhm_err_ps=best.shared_err["irf_fwhm_ps"])
    log.info("global kinetics of Δ⟨u²⟩ and strain:\n%s", sel.report())
