"""Fluence series: Δ⟨u²⟩ amplitude, rise time and ΔT vs pump fluence, fitted and set against the heating model.

Each analysed dataset (dynamics.h5) gives one point per quantity at its ``fluence_mJ_cm2``:

* ``msd_amplitude`` — direction-averaged quasi-equilibrium Δ⟨u²⟩ [Å²];
* ``msd_tau_ps`` — equal-weight mean over directions of the per-family Δ⟨u²⟩ rise time [ps];
* ``rise_msd_K`` and ``rise_strain_K`` — the temperature rise from Δ⟨u²⟩ and from strain [K];

each with its statistical and systematic 1σ. The systematic part (the spread over directions) is
common to every fluence of one sample, a scale, not scatter: the fits weight by the statistical σ
and carry the systematic one as a relative error of the slope. Two models are fitted by weighted
least squares to the amplitude and the rises: ``linear`` y = k F (through the origin: no pump, no heating)
and ``saturating`` y = k F / (1 + F/F_sat) (absorption saturating or the heat capacity growing with T).
The lower BIC wins; ΔBIC is printed. The slope k [unit per mJ/cm²] is the initial slope of either.
The heating model (:func:`uedflow.physics.heating.laser_heating` with each dataset's diameter and base
temperature and the default cross-section) gives the predicted ΔT at each fluence and its slope.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from scipy.optimize import curve_fit

from uedflow.errors import InputError, UedflowError

__all__ = ["QUANTITIES", "FluenceFit", "FluenceSeries", "fluence_series"]

#: quantity -> (label, unit)
QUANTITIES: dict[str, tuple[str, str]] = {
    "msd_amplitude": ("Δ⟨u²⟩ quasi-equilibrium", "Å²"),
    "msd_tau_ps": ("Δ⟨u²⟩ rise time", "ps"),
    "rise_msd_K": ("ΔT from Δ⟨u²⟩", "K"),
    "rise_strain_K": ("ΔT from strain", "K"),
}
_FITTED = ("msd_amplitude", "rise_msd_K", "rise_strain_K")


def _attr(ds: xr.Dataset, key: str) -> float:
    try:
        return float(ds.attrs.get(key, math.nan))
    except (TypeError, ValueError):
        return math.nan


def _point(ds: xr.Dataset) -> dict[str, tuple[float, float, float]]:
    from uedflow.dynamics.temperature import direction_mean

    def total(key: str, err: str, sys: str) -> tuple[float, float, float]:
        return _attr(ds, key), _attr(ds, err), float(np.nan_to_num(_attr(ds, sys)))

    j = list(ds["observable"].values).index("msd")
    tau = direction_mean(ds["family_tau_ps"].values[:, j], ds["family_tau_err_ps"].values[:, j])
    return {
        "msd_amplitude": total("msd_qe_mean_angstrom2", "msd_qe_mean_err_angstrom2", "msd_qe_mean_sys_angstrom2"),
        "msd_tau_ps": (float(tau.value), float(tau.stat_err), float(tau.sys_err)),
        "rise_msd_K": total("temperature_rise_msd_K", "temperature_rise_msd_err_K", "temperature_rise_msd_sys_K"),
        "rise_strain_K": total("temperature_rise_strain_K", "temperature_rise_strain_err_K",
                               "temperature_rise_strain_sys_K"),
    }


@dataclass(frozen=True)
class FluenceFit:
    """Linear and saturating fits of one quantity vs fluence; ``chosen`` has the lower BIC.

    ``slope_err`` is statistical, ``slope_sys`` the points' median relative systematic σ times the slope.
    """

    quantity: str
    slope: float
    slope_err: float
    slope_sys: float
    chi2_linear: float
    saturation_mJ_cm2: float
    saturation_err_mJ_cm2: float
    slope_saturating: float
    chi2_saturating: float
    n_points: int
    chosen: str

    @property
    def delta_bic(self) -> float:
        """BIC(linear) − BIC(saturating): > 0 favours saturation."""
        return self.chi2_linear - self.chi2_saturating - math.log(max(self.n_points, 1))

    def summary(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {**{k: v for k, v in self.__dict__.items()}, "delta_bic": self.delta_bic}


def _fit(quantity: str, f: np.ndarray, y: np.ndarray, e: np.ndarray, sys: np.ndarray) -> FluenceFit | None:
    ok = np.isfinite(f) & np.isfinite(y) & np.isfinite(e) & (e > 0)
    f, y, e, rel_sys = f[ok], y[ok], e[ok], float(np.median(np.abs(sys[ok] / y[ok]))) if ok.any() else math.nan
    if f.size < 2:
        return None
    w = 1.0 / e**2
    k = float(np.sum(w * f * y) / np.sum(w * f * f))
    chi_lin = float(np.sum(w * (y - k * f) ** 2))
    k_err = float(math.sqrt(max(1.0, chi_lin / max(f.size - 1, 1)) / np.sum(w * f * f)))
    ks, fs, fs_err, chi_sat = k, math.inf, math.nan, chi_lin
    if f.size >= 3:
        try:
            p, cov = curve_fit(lambda x, a, b: a * x / (1.0 + x / b), f, y, p0=[k * 1.2, 3.0 * f.max()], sigma=e,
                               absolute_sigma=True, bounds=([-np.inf, 1e-3 * f.max()], [np.inf, 1e3 * f.max()]),
                               maxfev=2000)
            chi_sat = float(np.sum(w * (y - p[0] * f / (1 + f / p[1])) ** 2))
            ks, fs, fs_err = float(p[0]), float(p[1]), float(np.sqrt(cov[1, 1]))
        except (RuntimeError, ValueError):
            pass
    n = int(f.size)
    chosen = "saturating" if n >= 3 and chi_lin - chi_sat - math.log(n) > 0 else "linear"
    return FluenceFit(quantity, k, k_err, abs(k) * rel_sys, chi_lin, fs, fs_err, ks, chi_sat, n, chosen)


@dataclass(frozen=True)
class FluenceSeries:
    """Points (one per dataset, sorted by fluence) with statistical ``errors`` and systematic ``sys_errors``,
    fits and the heating model's ΔT at each fluence."""

    labels: tuple[str, ...]
    fluence_mJ_cm2: np.ndarray
    values: dict[str, np.ndarray]
    errors: dict[str, np.ndarray]
    sys_errors: dict[str, np.ndarray]
    fits: dict[str, FluenceFit]
    model_rise_K: np.ndarray

    @property
    def model_slope_K_per_mJ_cm2(self) -> float:
        """Heating-model ΔT per fluence, least squares through the origin over the measured fluences."""
        f, y = self.fluence_mJ_cm2, self.model_rise_K
        ok = np.isfinite(y)
        return float(np.sum(f[ok] * y[ok]) / np.sum(f[ok] ** 2)) if ok.any() else math.nan

    def summary(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {"labels": list(self.labels), "fluence_mJ_cm2": self.fluence_mJ_cm2.tolist(),
                "values": {k: v.tolist() for k, v in self.values.items()},
                "errors": {k: v.tolist() for k, v in self.errors.items()},
                "sys_errors": {k: v.tolist() for k, v in self.sys_errors.items()},
                "fits": {k: v.summary() for k, v in self.fits.items()},
                "model_rise_K": self.model_rise_K.tolist(), "model_slope_K_per_mJ_cm2": self.model_slope_K_per_mJ_cm2}

    def table(self) -> str:
        """Plain-text table of the points, the fits and the heating model."""
        w = max(6, *(len(lab) for lab in self.labels))
        head = f"{'sample':<{w}}  fluence    " + "  ".join(f"{q:>22}" for q in QUANTITIES) + "   model ΔT [K]"
        lines = [head]
        for i, lab in enumerate(self.labels):
            cells = "  ".join(f"{self.values[q][i]:>11.4g} ± {np.hypot(self.errors[q][i], self.sys_errors[q][i]):<8.2g}"
                              for q in QUANTITIES)
            lines.append(f"{lab:<{w}} {self.fluence_mJ_cm2[i]:8.3g}    {cells}   {self.model_rise_K[i]:8.1f}")
        for q, fit in self.fits.items():
            label, unit = QUANTITIES[q]
            lines.append(f"{label}: slope {fit.slope:.4g} ± {fit.slope_err:.2g} (stat) ± {fit.slope_sys:.2g} (sys) "
                         f"{unit} per mJ/cm² (linear, "
                         f"χ² {fit.chi2_linear:.1f}); saturating F_sat = {fit.saturation_mJ_cm2:.3g} mJ/cm² "
                         f"(χ² {fit.chi2_saturating:.1f}); ΔBIC(lin − sat) = {fit.delta_bic:.1f} → {fit.chosen}")
        lines.append(f"heating model: {self.model_slope_K_per_mJ_cm2:.4g} K per mJ/cm² "
                     "(physics.heating.laser_heating, default cross-section)")
        return "\n".join(lines)

    def to_csv(self, path: str | Path) -> Path:
        """One row per dataset: fluence, every quantity with its statistical and systematic 1σ, the heating-model ΔT."""
        path = Path(path)
        with path.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["sample", "fluence_mJ_cm2", *[c for q in QUANTITIES for c in (q, f"{q}_err", f"{q}_sys")],
                        "model_rise_K"])
            for i, lab in enumerate(self.labels):
                w.writerow([lab, self.fluence_mJ_cm2[i], *[v for q in QUANTITIES for v in
                                                             (self.values[q][i], self.errors[q][i], self.sys_errors[q][i])],
                            self.model_rise_K[i]])
        return path


def _model_rise(ds: xr.Dataset, fluence: float) -> float:
    from uedflow.physics.heating import laser_heating

    d, t0, theta = (_attr(ds, k) for k in ("diameter_nm", "temperature_K", "debye_temperature_K"))
    try:
        return laser_heating(fluence, d, t0, material=str(ds.attrs.get("material", "PbSe")),
                             debye_temperature_K=theta if theta > 0 else None).rise_K
    except UedflowError:
        return math.nan


def fluence_series(datasets: list[xr.Dataset], labels: list[str] | None = None) -> FluenceSeries:
    """Collect and fit a fluence series from analysed datasets (see the module docstring).

    Raises
    ------
    InputError
        Fewer than two datasets with a positive ``fluence_mJ_cm2``, two at the same fluence, or
        base temperatures that differ by more than 1 K.
    """
    labels = list(labels) if labels else [str(ds.attrs.get("sample_label") or f"dataset {i + 1}")
                                          for i, ds in enumerate(datasets)]
    if len(labels) != len(datasets):
        raise InputError(f"{len(labels)} labels for {len(datasets)} datasets; give one --labels name per file")
    flu = np.array([_attr(ds, "fluence_mJ_cm2") for ds in datasets])
    bad = [lab for lab, f in zip(labels, flu, strict=True) if not f > 0]
    if bad:
        raise InputError(f"no pump fluence in {', '.join(bad)}: give [sample] fluence_mJ_cm2 in the experiment "
                         "file and analyse again")
    if len(datasets) < 2 or np.unique(flu).size < flu.size:
        raise InputError(f"a fluence series needs two or more datasets at different fluences, got {flu.tolist()}")
    base = np.array([_attr(ds, "temperature_K") for ds in datasets])
    if np.nanmax(base) - np.nanmin(base) > 1.0:
        raise InputError(f"a fluence series needs one base temperature; got {base.tolist()} K for "
                         f"{', '.join(labels)}: give the datasets of one sample temperature")
    order = np.argsort(flu)
    pts = [_point(datasets[i]) for i in order]
    values = {q: np.array([p[q][0] for p in pts]) for q in QUANTITIES}
    errors = {q: np.array([p[q][1] for p in pts]) for q in QUANTITIES}
    sys_errors = {q: np.array([p[q][2] for p in pts]) for q in QUANTITIES}
    f = flu[order]
    fits = {q: fit for q in _FITTED if (fit := _fit(q, f, values[q], errors[q], sys_errors[q])) is not None}
    model = np.array([_model_rise(datasets[i], flu[i]) for i in order])
    return FluenceSeries(tuple(labels[i] for i in order), f, values, errors, sys_errors, fits, model)

