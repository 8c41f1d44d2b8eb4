"""The report of a per-axis analysis (any crystal, :mod:`uedflow.dynamics.crystal_axes`).

Figures: the cell strain and the Δ⟨u²⟩ of each axis against delay with their fitted rises (and the truth of a
virtual experiment), every ring's strain and ln(I/I0), and the mean profile before time zero with the indexed
rings (composite rings marked). Tables: the kinetics per axis, recovered vs true, and the rings with their
member families and intensity shares (which rings are pure). Same page layout and files as
:func:`uedflow.report.html.write_report` (report.html, figures/*.png|svg, and explore.html with the profiles of
every delay, the 2D pattern and the diagnostics).
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from matplotlib import colormaps
from matplotlib.figure import Figure

from uedflow import __version__
from uedflow.dynamics.crystal_axes import UNIT_TEXT, is_axes
from uedflow.dynamics.models import exp_rise
from uedflow.io.atomic import atomic_path
from uedflow.report.html import (
    _CSS,
    FigureSpec,
    ReportResult,
    _center_html,
    _noise_html,
    _sys,
    _table,
    figures_html,
    format_pm,
    report_folder,
    save_figures,
)
from uedflow.report.samples import Sample
from uedflow.report.style import new_figure, paper_style, sample_colors

__all__ = ["write_axes_report", "render_axes_html", "axes_truth_rows"]

def _fit_curve(ds: xr.Dataset, i: int, t: np.ndarray) -> np.ndarray:
    return float(ds["offset"].values[i]) + exp_rise(t, float(ds["amplitude"].values[i]), float(ds["tau_ps"].values[i]),
                                                   float(ds["t0_ps"].values[i]), float(ds.attrs["irf_fwhm_ps"]))


def _true_kinetics(truth: dict[str, Any] | None) -> dict[str, tuple[float, float]]:
    """Trace name -> (true amplitude, true τ [ps]) of a crystal-level virtual experiment."""
    if not truth:
        return {}
    out = {k: (float(v["amplitude"]), float(v["tau_ps"])) for k, v in truth.get("strain", {}).items()}
    out.update({k: (float(v["amplitude_angstrom2"]), float(v["tau_ps"])) for k, v in truth.get("msd", {}).items()})
    return out


def _figure_axes(samples: Sequence[Sample], unit: str, ylabel: str) -> Figure:
    names = list(dict.fromkeys(str(n) for s in samples for k, n in enumerate(s.dynamics["trace"].values)
                               if str(s.dynamics["trace_unit"].values[k]) == unit))
    fig, axes = new_figure(1, len(names), width_in=3.2, height_in=2.6)
    for ax, name in zip(axes[0], names, strict=True):
        for s, color in zip(samples, sample_colors(len(samples)), strict=True):
            ds = s.dynamics
            if name not in list(ds["trace"].values):
                continue
            i = list(ds["trace"].values).index(name)
            t = ds["delay"].values
            ax.errorbar(t, ds["value"].values[i], ds["value_err"].values[i], fmt="o", ms=3, color=color,
                        label=s.name)
            fine = np.linspace(t.min(), t.max(), 400)
            ax.plot(fine, _fit_curve(ds, i, fine), color=color, lw=1.2)
            true = _true_kinetics(s.truth).get(name)
            if true is not None:
                ax.plot(fine, float(ds["offset"].values[i]) + exp_rise(fine, true[0], true[1], float(s.truth["t0_ps"]),
                                                                      float(s.truth["irf_fwhm_ps"])),
                        color="k", ls="--", lw=0.9, label="truth")
        ax.set_title(name)
        ax.set_xlabel("delay (ps)")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=7)
    return fig


def _figure_rings(ds: xr.Dataset) -> Figure:
    fig, axes = new_figure(1, 2, width_in=3.6, height_in=2.8)
    t = ds["delay"].values
    order = np.argsort(ds["ring_s"].values)
    colors = [colormaps["viridis"](x) for x in np.linspace(0.0, 0.9, order.size)]  # by s: dark low, light high
    for ax, var, label in ((axes[0][0], "ring_strain", "ring strain −Δs/s"), (axes[0][1], "ln_ratio", "ln(I/I₀)")):
        for c, i in zip(colors, order, strict=True):
            ax.errorbar(t, ds[var].values[i], ds[f"{var}_err"].values[i], fmt=".-", ms=3, lw=0.6, color=c,
                        label=f"({ds['ring'].values[i]})")
        ax.set_xlabel("delay (ps)")
        ax.set_ylabel(label)
    axes[0][1].legend(fontsize=6, ncol=2)
    return fig


def _figure_profile(reduced: xr.Dataset, ds: xr.Dataset) -> Figure:
    fig, axes = new_figure(1, 1, width_in=7.0, height_in=2.8)
    ax = axes[0][0]
    before = reduced["delay"].values < -float(ds.attrs["irf_fwhm_ps"])
    s = reduced["s"].values
    y = np.nanmean(reduced["intensity"].values[before], axis=0)
    ax.plot(s, y, color="k", lw=0.8)
    pure = ds["ring_pure"].values.astype(bool)
    for i, (si, lab) in enumerate(zip(ds["ring_s"].values, ds["ring"].values, strict=True)):
        ax.axvline(si, color="#1f5fbf" if pure[i] else "#c8322d", lw=0.6, alpha=0.7)
        ax.text(si, 1.0, f" {lab}", rotation=90, va="top", ha="center", fontsize=6, transform=ax.get_xaxis_transform())
    ax.set_xlabel("s (Å⁻¹)")
    ax.set_ylabel("intensity before t₀")
    return fig


def _specs(samples: Sequence[Sample]) -> list[FigureSpec]:
    with paper_style():
        specs = [FigureSpec("axes_strain", "Cell strain per parameter", _figure_axes(samples, "1", "Δx/x"),
                            "Relative change of each free cell parameter, fitted at every delay to all ring shifts "
                            "(weighted least squares, composite rings by their members' intensity shares); lines: "
                            "one exponential rise with a Gaussian IRF and a shared t₀; dashed: truth."),
                 FigureSpec("axes_msd", "Δ⟨u²⟩ per axis", _figure_axes(samples, "angstrom2", "Δ⟨u²⟩ (Å²)"),
                            "Change of the mean-square displacement along one direction in-plane (perp) and along c "
                            "(par), fitted at every delay to the Debye–Waller decay ln(I/I₀) of all rings together.")]
        for k, s in enumerate(samples):
            specs.append(FigureSpec(f"rings_{k}", f"Rings — {s.name}", _figure_rings(s.dynamics),
                                    "Per-ring strain and ln(I/I₀) (pseudo-Voigt fits with a linear background)."))
            if s.reduced is not None:
                specs.append(FigureSpec(f"profile_{k}", f"Indexed rings — {s.name}",
                                        _figure_profile(s.reduced, s.dynamics),
                                        "Mean profile before time zero; blue: pure rings, red: composite rings "
                                        "(several families within half a FWHM)."))
    return specs


def _kinetics_rows(ds: xr.Dataset) -> list[dict[str, Any]]:
    rows = []
    for i, name in enumerate(ds["trace"].values):
        unit = UNIT_TEXT[str(ds["trace_unit"].values[i])]
        ok = bool(ds["fit_success"].values[i])
        rows.append({"trace": str(name), "what": "Δ⟨u²⟩" if unit == " Å²" else "strain",
                     "amplitude": format_pm(float(ds["amplitude"].values[i]), float(ds["amplitude_err"].values[i]))
                     + _sys(float(ds["amplitude_sys"].values[i])) + unit,
                     "tau": format_pm(float(ds["tau_ps"].values[i]), float(ds["tau_err_ps"].values[i]))
                     + _sys(float(ds["tau_sys_ps"].values[i])),
                     "t0": format_pm(float(ds["t0_ps"].values[i]), float(ds["t0_err_ps"].values[i])),
                     "chi2": f"{float(ds['chi2_red'].values[i]):.2f}", "ok": "yes" if ok else "FAILED", "_bad": not ok})
    return rows


def axes_truth_rows(ds: xr.Dataset, truth: dict[str, Any]) -> list[dict[str, Any]]:
    """Recovered vs true amplitude and τ per axis: true, fitted, σ (stat), sys, relative deviation and pull
    (σ_stat and sys in quadrature)."""
    rows = []
    for name, (amp, tau) in _true_kinetics(truth).items():
        if name not in list(ds["trace"].values):
            continue
        i = list(ds["trace"].values).index(name)
        for par, true, err, sys in (("amplitude", amp, "amplitude_err", "amplitude_sys"),
                                    ("tau_ps", tau, "tau_err_ps", "tau_sys_ps")):
            fit, sigma, s_sys = float(ds[par].values[i]), float(ds[err].values[i]), float(ds[sys].values[i])
            total = math.hypot(sigma, s_sys)
            rows.append({"trace": name, "parameter": par, "true": true, "fitted": fit, "err": sigma, "sys": s_sys,
                         "rel_error": fit / true - 1.0 if true else math.nan,
                         "pull": (fit - true) / total if total > 0 else math.nan})
    return rows


def _truth_table(ds: xr.Dataset, truth: dict[str, Any]) -> str:
    rows = [{"trace": r["trace"], "parameter": r["parameter"], "true": f"{r['true']:.4g}",
             "fitted": format_pm(r["fitted"], r["err"]) + _sys(r["sys"]), "rel": f"{100 * r['rel_error']:+.1f} %",
             "pull": f"{r['pull']:+.2f}", "_bad": abs(r["pull"]) > 3} for r in axes_truth_rows(ds, truth)]
    return _table(rows, [("trace", "Axis"), ("parameter", "Parameter"), ("true", "True"), ("fitted", "Fitted ± 1σ (± sys)"),
                         ("rel", "Deviation"), ("pull", "(fit − true)/σ_total")])


def _rings_table(ds: xr.Dataset) -> str:
    rows = []
    for i, lab in enumerate(ds["ring"].values):
        members = [m.split(":") for m in str(ds["ring_members"].values[i]).split()]
        rows.append({"ring": f"({lab})", "s": f"{float(ds['ring_s'].values[i]):.4f}",
                     "members": ", ".join(f"({h}) {100 * float(w):.0f} %" for h, w in members),
                     "pure": "pure" if ds["ring_pure"].values[i] else "composite"})
    return _table(rows, [("ring", "Ring"), ("s", "s (Å⁻¹)"), ("members", "Families (intensity share)"),
                         ("pure", "Pure?")])


def render_axes_html(samples: Sequence[Sample], specs: Sequence[FigureSpec], png: dict[str, bytes], *,
                     title: str, explorer: str | None = None) -> str:
    """The report page of per-axis samples as one HTML string (``explorer``: the explorer page's address)."""
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"
             f"<p class='meta'>uedflow {html.escape(__version__)} · {len(samples)} sample(s) · per-axis analysis "
             "(any crystal)</p>",
             (f"<p class='meta'>Interactive: <a id='explorer-link' href='{html.escape(explorer)}'>explore the "
              "data</a> (delay slider over the profiles, 2D pattern, diagnostics; one offline page).</p>"
              if explorer else ""),
             "<p>Units: s = 1/d in Å⁻¹, delays in ps, Δ⟨u²⟩ along one direction in Å² (perp: in the basal plane, "
             "par: along c), cell strain Δx/x dimensionless. Errors are 1σ.</p>",
             "<h2 id='fits'>Kinetics per axis</h2>"]
    for s in samples:
        ds = s.dynamics
        parts += [f"<h3>{html.escape(s.name)}: {html.escape(str(ds.attrs.get('material', '')))} "
                  f"({html.escape(str(ds.attrs.get('space_group', '')))}), ring FWHM "
                  f"{float(ds.attrs['ring_fwhm_inv_angstrom']):.4f} Å⁻¹</h3>",
                  _table(_kinetics_rows(ds), [("trace", "Axis"), ("what", "Observable"), ("amplitude", "Amplitude ± 1σ (± sys)"),
                                              ("tau", "τ ± 1σ (± sys) (ps)"), ("t0", "t₀ ± 1σ (ps)"), ("chi2", "χ²_red"),
                                              ("ok", "Converged")])]
    if any(s.truth for s in samples):
        parts.append("<h2 id='truth'>Recovered vs true (virtual experiment)</h2><p>Rows with |pull| &gt; 3 are "
                     "highlighted.</p>")
        parts += [f"<h3>{html.escape(s.name)}</h3>" + _truth_table(s.dynamics, s.truth) for s in samples if s.truth]
    parts.append("<h2 id='figures'>Figures</h2>" + figures_html(specs, png))
    parts.append("<h2 id='rings'>Rings</h2><p>Families closer than half a ring FWHM are one composite ring; its "
                 "strain and area are fitted with the members weighted by their intensity shares.</p>")
    parts += [f"<h3>{html.escape(s.name)}</h3>" + _rings_table(s.dynamics) for s in samples]
    parts.append("<h2 id='inputs'>Inputs</h2><ul>" + "".join(
        f"<li>{html.escape(s.name)}: {html.escape(s.source)}{_noise_html(s.reduced)}{_center_html(s.reduced)}</li>"
        for s in samples) + "</ul></body></html>")
    return "\n".join(parts)


def write_axes_report(samples: Sequence[Sample], out_dir: str | Path, *, title: str = "uedflow report",
                      progress: Callable[[int, int], None] | None = None) -> ReportResult:
    """Write ``OUTDIR/report.html`` and ``OUTDIR/figures/<key>.png|.svg`` for per-axis ``samples``.

    Raises
    ------
    InputError
        No samples, or a sample of the per-ring (cubic) analysis among them.
    FileFormatError
        ``out_dir`` exists and is a file.
    """
    from uedflow.errors import InputError

    if not samples or not all(is_axes(s.dynamics) for s in samples):
        raise InputError("write_axes_report takes per-axis dynamics files (non-cubic crystals) only; report cubic "
                         "samples with uedflow.report.write_report, in a report of their own")
    out = report_folder(out_dir)
    specs = _specs(samples)
    png, written = save_figures(specs, out, progress=progress)
    explorer = None
    if samples[0].reduced is not None:
        from uedflow.report.explorer import EXPLORER_NAME, write_explorer

        write_explorer(samples[0].reduced, [], out / EXPLORER_NAME, title=title.replace("report", "explorer"),
                       traces_note="The per-axis traces and their fits are in the report (report.html); here: the "
                                   "profiles at every delay, the 2D pattern and the diagnostics.")
        explorer = EXPLORER_NAME
    with atomic_path(out / "report.html") as tmp:
        tmp.write_text(render_axes_html(samples, specs, png, title=title, explorer=explorer), encoding="utf-8")
    return ReportResult(out / "report.html", written)
