"""Tables of the report as plain rows (lists of dicts): fits, recovered vs true, heating.

The same rows feed the HTML tables, the figures and the CSV files, so a number
shown twice is the same number.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import xarray as xr

from uedflow.errors import UedflowError

__all__ = ["TRUTH_KEYS", "fit_rows", "truth_rows", "heating_rows", "summary_rows", "HEATING_FIELDS"]

log = logging.getLogger(__name__)

#: truth.json keys (amplitude, τ) per dynamics observable (docs/formats.md).
TRUTH_KEYS = {
    "strain": ("strain_amplitude", "strain_tau_ps"),
    "msd": ("msd_amplitude_angstrom2", "msd_tau_ps"),
    "width": ("width_amplitude", "width_tau_ps"),
}


def _f(x: Any) -> float:
    try:
        return float(np.asarray(x).reshape(-1)[0])
    except (TypeError, ValueError, IndexError):
        return math.nan


def fit_rows(ds: xr.Dataset) -> list[dict[str, Any]]:
    """One row per peak × observable: the content of ``fits.csv`` read from a dynamics dataset.

    Keys: hkl, family, observable, amplitude, amplitude_err, amplitude_sys, tau_ps, tau_err_ps, tau_sys_ps,
    t0_ps, t0_err_ps, chi2_red, success (bool); the systematic 1σ are 0 where the file has none.
    Peaks are ordered by s.
    """
    names = ("amplitude", "amplitude_err", "amplitude_sys", "tau_ps", "tau_err_ps", "tau_sys_ps", "t0_ps",
             "t0_err_ps", "chi2_red")
    shape = (ds.sizes["peak"], ds.sizes["observable"])
    arrays = {v: ds[v].transpose("peak", "observable").values.astype(float) if v in ds else
              np.full(shape, 0.0 if v.endswith(("_sys", "_sys_ps")) else math.nan) for v in names}
    success = ds.fit_success.transpose("peak", "observable").values.astype(bool) if "fit_success" in ds \
        else np.ones(shape, bool)
    hkl, family, observables = ds.hkl.values, ds.family.values, ds.observable.values
    rows = []
    for i in np.argsort(ds.s0.values):
        for j, obs in enumerate(observables):
            row: dict[str, Any] = {"hkl": str(hkl[i]), "family": str(family[i]), "observable": str(obs)}
            row.update({v: float(arrays[v][i, j]) for v in names})
            row["success"] = bool(success[i, j])
            rows.append(row)
    return rows


def truth_rows(ds: xr.Dataset, truth: dict[str, Any]) -> list[dict[str, Any]]:
    """Recovered vs true kinetic parameters for every peak and observable present in both.

    Rows: hkl, family, observable, parameter ("amplitude" or "tau_ps"), true,
    fitted, err (statistical 1σ), sys (systematic 1σ), rel_error ((fitted − true)/true) and pull
    ((fitted − true)/σ_total, σ_total = √(err² + sys²));
    plus one row per observable-averaged t0 against ``truth["t0_ps"]``.
    """
    peaks = truth.get("peaks", {})
    rows = []
    for row in fit_rows(ds):
        t = peaks.get(row["hkl"])
        if t is None or row["observable"] not in TRUTH_KEYS:
            continue
        for param, key, err_key, sys_key in (
                ("amplitude", TRUTH_KEYS[row["observable"]][0], "amplitude_err", "amplitude_sys"),
                ("tau_ps", TRUTH_KEYS[row["observable"]][1], "tau_err_ps", "tau_sys_ps")):
            true = _f(t.get(key))
            if not math.isfinite(true) or true == 0:
                continue
            fitted, err, sys = row[param], row[err_key], row[sys_key]
            total = math.hypot(err, sys) if math.isfinite(sys) else err
            rows.append({"hkl": row["hkl"], "family": row["family"], "observable": row["observable"],
                         "parameter": param, "true": true, "fitted": fitted, "err": err, "sys": sys,
                         "rel_error": (fitted - true) / true,
                         "pull": (fitted - true) / total if total > 0 else math.nan})
    if "t0_ps" in truth and "t0_ps" in ds:
        t0 = ds.t0_ps.values
        w = 1.0 / np.square(ds.t0_err_ps.values) if "t0_err_ps" in ds else np.ones_like(t0)
        ok = np.isfinite(t0) & np.isfinite(w) & (w > 0)
        if ok.any():
            mean = float(np.sum(t0[ok] * w[ok]) / np.sum(w[ok]))
            err = float(np.sqrt(1.0 / np.sum(w[ok])))
            true = float(truth["t0_ps"])
            rows.append({"hkl": "all", "family": "", "observable": "all", "parameter": "t0_ps", "true": true,
                         "fitted": mean, "err": err, "sys": 0.0, "rel_error": math.nan,
                         "pull": (mean - true) / err if err > 0 else math.nan})
    return rows


def summary_rows(ds: xr.Dataset) -> dict[str, Any]:
    """Headline numbers of one dataset: peaks, delays, mean Δ⟨u²⟩ in the window, ΔT estimates."""
    msd = ds.msd_qe.values if "msd_qe" in ds else np.array([math.nan])
    out = {
        "peaks": int(ds.sizes.get("peak", 0)),
        "delays": int(ds.sizes.get("delay", 0)),
        "delay_range_ps": (float(ds.delay.min()), float(ds.delay.max())) if "delay" in ds else None,
        # the analysis' direction-averaged mean when stored, else the plain mean over peaks
        "mean_msd_qe_angstrom2": _f(ds.attrs["msd_qe_mean_angstrom2"]) if "msd_qe_mean_angstrom2" in ds.attrs
        else float(np.nanmean(msd)) if np.isfinite(msd).any() else math.nan,
        "mean_msd_qe_err_angstrom2": _f(ds.attrs.get("msd_qe_mean_err_angstrom2", math.nan)),
        "mean_msd_qe_sys_angstrom2": _f(ds.attrs.get("msd_qe_mean_sys_angstrom2", math.nan)),
        "failed_kinetic_fits": int((ds.fit_success.values == 0).sum()) if "fit_success" in ds else 0,
        "flagged_peak_fits": int((ds.fit_flag.values != 0).sum()) if "fit_flag" in ds else 0,
    }
    out["material"] = str(ds.attrs.get("material", ""))
    for key in ("temperature_K", "fluence_mJ_cm2", "diameter_nm", "temperature_rise_msd_K",
                "temperature_rise_msd_err_K", "temperature_rise_msd_sys_K", "temperature_rise_strain_K",
                "temperature_rise_strain_err_K", "temperature_rise_strain_sys_K"):
        out[key] = _f(ds.attrs.get(key, math.nan))
    return out


#: Rows of the heating table: HeatingResult field, label, unit.
HEATING_FIELDS = (
    ("fluence_mJ_cm2", "Pump fluence", "mJ/cm²"),
    ("wavelength_nm", "Pump wavelength", "nm"),
    ("diameter_nm", "Dot diameter", "nm"),
    ("photons_per_cm2", "Photons per area", "cm⁻²"),
    ("cross_section_cm2", "Absorption cross-section", "cm²"),
    ("cross_section_source", "  source", ""),
    ("excitons_per_dot", "Excitons per dot ⟨N⟩", ""),
    ("energy_per_dot_eV", "Heat per dot", "eV"),
    ("n_atoms", "Atoms per dot", ""),
    ("base_temperature_K", "Base temperature", "K"),
    ("debye_temperature_K", "Debye temperature", "K"),
    ("rise_K", "Lattice temperature rise (Debye C_V)", "K"),
    ("final_temperature_K", "Final temperature", "K"),
    ("rise_dulong_petit_K", "Rise if C = 3k_B (Dulong–Petit)", "K"),
    ("message", "Note", ""),
)


def heating_rows(ds: xr.Dataset) -> list[dict[str, Any]] | None:
    """The heating calculation (fluence → excitons per dot → ΔT) for a dataset's sample.

    Uses :func:`uedflow.physics.heating.laser_heating` with the sample's
    fluence, diameter, base temperature, material and Debye temperature
    (800 nm pump). Returns rows (quantity, value, unit), or ``None`` when the
    physics module is absent or the sample has no fluence or diameter.
    """
    try:
        from uedflow.physics.heating import laser_heating
    except ImportError:
        return None
    fluence, diameter, temp, theta = (_f(ds.attrs.get(k)) for k in
                                      ("fluence_mJ_cm2", "diameter_nm", "temperature_K", "debye_temperature_K"))
    if not all(math.isfinite(v) and v > 0 for v in (fluence, diameter, temp)):
        return None
    try:
        result = laser_heating(fluence, diameter, temp, material=str(ds.attrs.get("material", "PbSe")),
                               debye_temperature_K=theta if math.isfinite(theta) and theta > 0 else None)
    except UedflowError as exc:
        log.warning("heating table skipped: %s", exc)
        return None
    summary = result.summary()
    return [{"quantity": label, "value": summary[key], "unit": unit} for key, label, unit in HEATING_FIELDS
            if key in summary and summary[key] not in ("", None)]
