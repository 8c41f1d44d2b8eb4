"""A self-contained HTML report: summary, heating, figures with captions, fitted and true parameters.

The page has no external resources (figures are embedded as base64 PNG, CSS is
inline, no JavaScript), so it opens offline and can be mailed as one file. Each
figure is also saved as PNG and SVG in ``OUTDIR/figures/``. Everything is
written atomically.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from uedflow import __version__
from uedflow.dynamics.crystal_axes import is_axes
from uedflow.io.atomic import atomic_dir, atomic_path
from uedflow.report import figures as F
from uedflow.report import lattice as L
from uedflow.report import patterns as P
from uedflow.report.samples import Sample
from uedflow.report.tables import fit_rows, heating_rows, summary_rows, truth_rows

__all__ = ["FigureSpec", "ReportResult", "build_figures", "render_html", "report_folder", "save_figures",
           "write_report", "format_pm"]


@dataclass(frozen=True)
class FigureSpec:
    """One report figure: file stem, title, the Figure and a caption saying what was fitted."""

    key: str
    title: str
    figure: Figure = field(repr=False)
    caption: str


@dataclass(frozen=True)
class ReportResult:
    """Where a report was written: the HTML file and each figure's PNG and SVG."""

    html: Path
    figures: dict[str, tuple[Path, Path]]

    def summary(self) -> dict[str, Any]:
        """JSON-safe dict of the written paths."""
        return {"html": str(self.html), "figures": {k: [str(p) for p in v] for k, v in self.figures.items()}}


def format_pm(value: float, err: float | None = None) -> str:
    """``value ± err`` rounded to the error's second significant digit; scientific for tiny/huge values.

    Examples
    --------
    >>> format_pm(8.1234, 0.4567)
    '8.12 ± 0.46'
    >>> format_pm(1.0234e-3, 3.1e-5)
    '(1.023 ± 0.031)e-03'
    >>> format_pm(750.41573, 0.00024)
    '750.42 ± 0.00024'
    >>> format_pm(float("nan"))
    '—'
    """
    if value is None or not math.isfinite(value):
        return "—"
    scale = max(abs(value), abs(err) if err is not None and math.isfinite(err) else 0.0)
    exp = int(math.floor(math.log10(scale))) if scale > 0 else 0
    use_exp = exp < -2 or exp > 4
    f = 10.0 ** (-exp) if use_exp else 1.0
    if err is None or not math.isfinite(err) or err <= 0:
        body = f"{value * f:.4g}"
        return f"{body}e{exp:+03d}" if use_exp else body
    decimals = max(0, 1 - int(math.floor(math.log10(err * f))))
    # a degenerate fit can report an error far below the value's precision: cap at 5 significant digits
    cap = max(0, 4 - int(math.floor(math.log10(abs(value * f))))) if value else decimals
    if decimals > cap:
        body = f"{value * f:.{cap}f} ± {err * f:.2g}"
        return f"({body})e{exp:+03d}" if use_exp else body
    body = f"{value * f:.{decimals}f} ± {err * f:.{decimals}f}"
    return f"({body})e{exp:+03d}" if use_exp else body


def _window(ds: xr.Dataset) -> str:
    w = np.ravel(ds.attrs.get("qe_window_ps", (40.0, 60.0)))
    return f"{w[0]:g}–{w[-1]:g} ps"


def _fit_method(ds: xr.Dataset) -> str:
    shape = ds.attrs.get("peak_shape", "pseudo-Voigt")
    bg = ds.attrs.get("background_model", "smooth")
    irf = np.nanmedian(ds.irf_fwhm_ps.values) if "irf_fwhm_ps" in ds else math.nan
    irf_txt = f" convolved with a Gaussian instrument response of FWHM {irf:.2g} ps" if math.isfinite(irf) else ""
    model = ("biexponential rise" if ds.attrs.get("kinetic_model") == "biexp"
             else "single-exponential rise A[1 − exp(−(t − t₀)/τ)]")
    return (f"Peaks were fitted per delay with {shape} profiles on a {bg} background; each trace was fitted with a "
            f"{model}{irf_txt}.")


def build_figures(samples: Sequence[Sample], *, progress: Callable[[int, int], None] | None = None) -> list[FigureSpec]:
    """All report figures for ``samples`` (Figures 3, 4, S6, S7, S8, profiles, recovered vs true)."""
    dyn = [s.dynamics for s in samples]
    labels = [s.name for s in samples]
    method = _fit_method(dyn[0])
    jobs: list[tuple[str, str, Callable[[], Figure], str]] = [
        ("fig3_kinetics", "Figure 3 — peak positions and Δ⟨u²⟩ vs delay",
         lambda: F.figure_kinetics(dyn, labels=labels),
         "(a) Bragg peak positions s normalised to their mean before time zero, s/s₀ = 1 − ε, and (b) the change of "
         "mean-square displacement along each scattering vector, Δ⟨u²⟩_s = −ln(I/I₀)/(4π²s²), for the peaks of the "
         "principal direction families ⟨100⟩, ⟨110⟩, ⟨111⟩ (colours; markers by family; every ring is in the "
         f"fitted-parameter table), one column per sample, 1σ error bars. {method} Solid lines: "
         "those fits. Black dashed line: Δ⟨u²⟩_s averaged over all fitted peaks at each delay (weighted by 1/σ²). "
         "Hollow grey points: peak fits flagged as failed or at a bound."),
        ("fig4_quasi_equilibrium", "Figure 4 — quasi-equilibrium Δ⟨u²⟩ and time constants per peak",
         lambda: F.figure_quasi_equilibrium(dyn, labels=labels),
         f"(a) Δ⟨u²⟩_s averaged over the quasi-equilibrium window ({_window(dyn[0])}) and (b) the rise time τ of the "
         "single-exponential fit of Δ⟨u²⟩_s (peak-intensity dynamics) for each Bragg peak, one colour per sample; "
         "error bars are 1σ (window: standard error of the mean; τ: fit covariance scaled by χ²_red). Dashed lines "
         "guide the eye. Hollow points: kinetic fits that did not converge."),
        ("figS6_texture", "Figure S6 — ring intensities against a random powder",
         lambda: F.figure_texture(dyn, labels=labels),
         "Ring intensities before time zero (fitted peak areas, ratio to (200)) divided by the same ratio for a "
         "random powder of the crystal (kinematic electron scattering with the Debye-model ⟨u²⟩ at the sample "
         "temperature); 1 = random orientation, 1σ error bars. Dashed: the fitted March–Dollase fibre texture with "
         "⟨100⟩ along the beam (r = 1 random, r < 1 ⟨100⟩ preferred, as for attached dots lying flat); r in the "
         "legend, its error scaled by √χ²_red."),
        ("figS8_widths", "Figure S8 — peak width dynamics",
         lambda: F.figure_widths(dyn, labels=labels),
         "Change of each peak's fitted FWHM relative to before time zero (10⁻³ Å⁻¹), with 1σ error bars, and its "
         "single-exponential fit (lines), one panel per sample."),
    ]
    reduced = [(s.reduced, s.name) for s in samples if s.reduced is not None]
    if reduced:
        jobs.append(("figS7_differential_pattern", "Figure S7 — differential diffraction pattern",
                     lambda: P.figure_diff_pattern([r for r, _ in reduced], labels=[n for _, n in reduced]),
                     "Mean detector frame after time zero minus the mean before time zero (normalised units). Rings "
                     "lose intensity (blue, Debye–Waller) and move inwards (red inner edge, lattice expansion). "
                     "Masked pixels (beam block, bad pixels) are blank."))
    for k, s in enumerate(samples):
        if s.reduced is not None:
            jobs.append((f"profile_{k + 1}", f"Radial profile — {s.name}",
                         lambda s=s: P.figure_profile(s.reduced, s.dynamics, label=s.name),
                         "(a) Azimuthally integrated intensity before time zero (black, 1σ band) with the Bragg peaks "
                         "indexed at their fitted s₀ (dotted), the sum of the fitted peak profiles before time zero "
                         "(green) and the background under them (red dashed: data minus fitted peaks, unless the "
                         "analysis stored its background); (b) the "
                         f"differential profile ΔI(s) = I(s, t) − I(s, t<0) averaged over {_window(s.dynamics)}."))
    with_t = [s for s in samples if "lattice_temperature_msd_K" in s.dynamics]
    if with_t:
        jobs.append(("lattice_temperature", "Lattice temperature vs delay",
                     lambda: L.figure_lattice_temperature([s.dynamics for s in with_t], [s.name for s in with_t]),
                     "Lattice temperature from the direction-averaged Δ⟨u²⟩(t) through the Debye model (filled) and "
                     "from the direction-averaged strain through the bulk α(T) (hollow), 1σ statistical error bars, "
                     "shaded: with the direction spread as systematic. Dashed: final temperature of the heating model "
                     "(physics.heating, default cross-section); dotted: base temperature."))
    with_w = [s for s in samples if "wilson_json" in s.dynamics.attrs and "intensity_qe" in s.dynamics]
    if with_w:
        jobs.append(("wilson_plot", "Wilson plot: ln(I/I₀) vs s²",
                     lambda: L.figure_wilson([s.dynamics for s in with_w], [s.name for s in with_w]),
                     "Quasi-equilibrium ln(I/I₀) of every ring against s² with 1σ error bars, coloured by parity class "
                     "(all-even and all-odd hkl in rock salt), and each class's weighted line b − 4π²s²Δ⟨u²⟩: the "
                     "slope is the class's Δ⟨u²⟩, the intercept b at s = 0 should be 0 (a background, normalisation or "
                     "TDS error common to all rings moves it)."))
    simulated = [s for s in samples if s.truth is not None]
    if simulated:
        jobs.append(("truth_recovered", "Recovered vs true parameters (virtual experiment)",
                     lambda: P.figure_truth([s.dynamics for s in simulated], [s.truth for s in simulated],
                                            labels=[s.name for s in simulated]),
                     "(a) Fitted rise times τ against the simulator's true values for strain (hollow squares), "
                     "Δ⟨u²⟩ (circles) and width (triangles); the grey line is fitted = true. (b) Fitted/true kinetic "
                     "amplitudes per peak. Error bars: 1σ of the fits."))
    out = []
    for i, (key, title, make, caption) in enumerate(jobs):
        out.append(FigureSpec(key, title, make(), caption))
        if progress is not None:
            progress(i + 1, len(jobs))
    return out


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]], *, cls: str = "") -> str:
    head = "".join(f"<th>{html.escape(title)}</th>" for _, title in columns)
    body = []
    for r in rows:
        cells = "".join(f"<td>{html.escape(str(r.get(key, '')))}</td>" for key, _ in columns)
        body.append(f"<tr class='{'bad' if r.get('_bad') else ''}'>{cells}</tr>")
    return (f"<div class='tw'><table class='{cls}'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody>"
            "</table></div>")


_UNITS = {"strain": "", "msd": " Å²", "width": " Å⁻¹", "intensity": ""}


def _sys(value: float) -> str:
    """`` ± x (sys)`` for a positive systematic 1σ, else nothing."""
    return f" ± {value:.2g} (sys)" if math.isfinite(value) and value > 0 else ""


def _fits_html(ds: xr.Dataset) -> str:
    rows = []
    for r in fit_rows(ds):
        rows.append({"hkl": f"({r['hkl']})", "family": r["family"], "observable": r["observable"],
                     "amplitude": format_pm(r["amplitude"], r["amplitude_err"]) + _sys(r["amplitude_sys"])
                     + _UNITS.get(r["observable"], ""),
                     "tau": format_pm(r["tau_ps"], r["tau_err_ps"]) + _sys(r["tau_sys_ps"]), "t0": format_pm(r["t0_ps"], r["t0_err_ps"]),
                     "chi2": f"{r['chi2_red']:.2f}" if math.isfinite(r["chi2_red"]) else "—",
                     "ok": "yes" if r["success"] else "FAILED", "_bad": not r["success"]})
    left_out = json.loads(ds.attrs.get("left_out_json", "{}"))
    note = "".join(f"<p class='note'>Ring ({html.escape(lab)}) left out: {html.escape(why)}.</p>"
                   for lab, why in left_out.items())
    return _table(rows, [("hkl", "Peak"), ("family", "Family"), ("observable", "Observable"),
                         ("amplitude", "Amplitude ± 1σ stat (± sys)"), ("tau", "τ ± 1σ stat (± sys) (ps)"),
                         ("t0", "t₀ ± 1σ (ps)"),
                         ("chi2", "χ²_red"), ("ok", "Converged")]) + note


def _truth_html(ds: xr.Dataset, truth: dict[str, Any]) -> str:
    rows = []
    for r in truth_rows(ds, truth):
        bad = math.isfinite(r["pull"]) and abs(r["pull"]) > 3
        rows.append({"hkl": r["hkl"] if r["hkl"] == "all" else f"({r['hkl']})", "observable": r["observable"],
                     "parameter": r["parameter"], "true": f"{r['true']:.4g}",
                     "fitted": format_pm(r["fitted"], r["err"]) + _sys(r["sys"]),
                     "rel": f"{100 * r['rel_error']:+.1f} %" if math.isfinite(r["rel_error"]) else "—",
                     "pull": f"{r['pull']:+.2f}" if math.isfinite(r["pull"]) else "—", "_bad": bad})
    return _table(rows, [("hkl", "Peak"), ("observable", "Observable"), ("parameter", "Parameter"),
                         ("true", "True"), ("fitted", "Fitted ± 1σ stat (± sys)"), ("rel", "Deviation"),
                         ("pull", "(fit − true)/σ_total")])


def _with_sys(value: float, err: float, sys: float) -> str:
    """``value ± stat`` and, when known, ``± sys (sys)``."""
    return format_pm(value, err) + (f" ± {sys:.2g} (sys)" if math.isfinite(sys) and math.isfinite(value) else "")


def _noise_html(reduced: xr.Dataset | None) -> str:
    """The detector noise the reduction used and where it came from (given, or estimated from the frames)."""
    a = {} if reduced is None else reduced.attrs
    if "noise_source" not in a:
        return ""
    gain = format_pm(float(a["detector_gain"]), float(a.get("detector_gain_err", 0.0)) or None)
    read = format_pm(float(a["read_noise_counts"]), float(a.get("read_noise_err_counts", 0.0)) or None)
    return (f"; detector gain {gain} counts per electron, read noise {read} counts "
            f"({html.escape(str(a['noise_source']))})")


def _center_html(reduced: xr.Dataset | None) -> str:
    """The beam centre's walk when each frame was integrated about its own centre (reduced.h5 center_row/col)."""
    if reduced is None or "center_row" not in reduced:
        return ""
    spans = []
    for name, label in (("center_row", "row"), ("center_col", "column")):
        v = np.asarray(reduced[name].values, float)
        spans.append(f"{label} {np.nanmin(v):.2f}–{np.nanmax(v):.2f} px (rms {np.nanstd(v):.2f})")
    return (f"; beam centre {reduced.attrs.get('center_mode', 'per-frame')}: {', '.join(spans)}, each frame "
            "integrated about its own (trace in the explorer's diagnostics)")


def _summary_html(samples: Sequence[Sample]) -> str:
    rows = []
    for s in samples:
        sm = summary_rows(s.dynamics)
        rows.append({"name": s.name, "material": sm["material"], "T": format_pm(sm["temperature_K"]),
                     "fluence": format_pm(sm["fluence_mJ_cm2"]), "d": format_pm(sm["diameter_nm"]),
                     "peaks": sm["peaks"], "delays": sm["delays"],
                     "msd": _with_sys(sm["mean_msd_qe_angstrom2"], sm["mean_msd_qe_err_angstrom2"],
                                      sm["mean_msd_qe_sys_angstrom2"]),
                     "dT_msd": _with_sys(sm["temperature_rise_msd_K"], sm["temperature_rise_msd_err_K"],
                                         sm["temperature_rise_msd_sys_K"]),
                     "dT_strain": _with_sys(sm["temperature_rise_strain_K"], sm["temperature_rise_strain_err_K"],
                                            sm["temperature_rise_strain_sys_K"]),
                     "flags": f"{sm['flagged_peak_fits']} / {sm['failed_kinetic_fits']}"})
    return _table(rows, [("name", "Sample"), ("material", "Material"), ("T", "T (K)"), ("fluence", "Fluence (mJ/cm²)"),
                         ("d", "Diameter (nm)"), ("peaks", "Peaks"), ("delays", "Delays"),
                         ("msd", f"Direction-averaged Δ⟨u²⟩, {_window(samples[0].dynamics)} (Å²)"),
                         ("dT_msd", "ΔT from Δ⟨u²⟩ (K)"), ("dT_strain", "ΔT from strain (K)"),
                         ("flags", "Flagged peak fits / failed kinetic fits")])


def _comparison_html(comparison: Any) -> str:
    """Table of a :class:`uedflow.dynamics.CompareResult`: significant differences first, all rows folded."""
    rows = getattr(comparison, "rows", None)
    labels = list(getattr(comparison, "labels", ()))
    if rows is None or not labels:
        text = comparison.report() if hasattr(comparison, "report") else str(comparison)
        return f"<pre>{html.escape(text)}</pre>"
    cols = [("hkl", "Peak / family"), ("quantity", "Quantity")] + [(f"v{k}", lab) for k, lab in enumerate(labels)]
    cols += [(f"p{k}", f"p vs {labels[0]}") for k in range(1, len(labels))] + [("p_all", "p (all equal)")]

    def fmt(r: Any) -> dict[str, Any]:
        out = {"hkl": r.hkl if r.hkl.startswith("<") else f"({r.hkl})", "quantity": r.quantity, "_bad": r.significant,
               "p_all": f"{r.p_all:.2g}"}
        for k, (v, e) in enumerate(zip(r.values, r.errors, strict=True)):
            out[f"v{k}"] = format_pm(v, e) + (f" {r.unit}" if r.unit not in ("", "1") else "")
        for k in range(1, len(labels)):
            out[f"p{k}"] = f"{r.p[k]:.2g}" if k < len(r.p) else ""
        return out

    sig = [fmt(r) for r in rows if r.significant]
    alpha = getattr(comparison, "alpha", 0.05)
    head = (f"<p>{len(sig)} of {len(rows)} quantities differ significantly between the samples (Holm-corrected "
            f"α = {alpha:g}; p from z-tests of the 1σ errors, relative to the first sample). Highlighted rows are "
            "significant.</p>")
    body = _table(sig, cols) if sig else "<p>No significant differences.</p>"
    return head + body + f"<details><summary>All {len(rows)} compared quantities</summary>" + \
        _table([fmt(r) for r in rows], cols) + "</details>"


def _heating_html(samples: Sequence[Sample]) -> str:
    """One heating table, a column per sample (empty when no sample has fluence and diameter)."""
    per = {f"c{k}": {r["quantity"]: r for r in rows} for k, s in enumerate(samples)
           if (rows := heating_rows(s.dynamics))}
    if not per:
        return ""
    names = {f"c{k}": s.name for k, s in enumerate(samples)}
    quantities = list(dict.fromkeys(q for col in per.values() for q in col))
    rows, notes = [], []
    for q in quantities:
        values = {c: col[q]["value"] if q in col else "" for c, col in per.items()}
        if any(isinstance(v, str) and len(v) > 40 for v in values.values()):  # sources and notes: below the table
            notes += [f"{q.strip()}: {v}" for v in dict.fromkeys(values.values()) if v]
            continue
        row = {"quantity": q, "unit": next(col[q]["unit"] for col in per.values() if q in col)}
        row.update({c: f"{v:.4g}" if isinstance(v, float) else v for c, v in values.items()})
        rows.append(row)
    return ("<h2 id='heating'>Heating: pump fluence → lattice temperature</h2><p>Computed with "
            "uedflow.physics.heating.laser_heating from each sample's fluence, dot diameter and base temperature "
            "(800 nm pump, absorbed energy shared with the lattice via the Debye heat capacity).</p>"
            + _table(rows, [("quantity", "Quantity"), *[(c, names[c]) for c in per], ("unit", "Unit")])
            + "".join(f"<p class='meta'>{html.escape(n)}</p>" for n in notes))


_CSS = """
body{font-family:Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em}
h2{font-size:1.25em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.8em}
h3{font-size:1.05em} table{border-collapse:collapse;font-size:.85em;margin:.5em 0 1em}
th,td{border:1px solid #ddd;padding:.25em .55em;text-align:right} th{background:#f3f3f3}
td{white-space:nowrap} .tw{overflow-x:auto;max-width:100%}
td:first-child,th:first-child{text-align:left} tr.bad td{background:#fde8e8}
figure{margin:1.2em 0} figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.88em;color:#333;margin-top:.4em} .meta{color:#666;font-size:.85em}
nav a{margin-right:1em}
"""


def render_html(samples: Sequence[Sample], specs: Sequence[FigureSpec], png: dict[str, bytes], *,
                title: str = "uedflow report", comparison: Any = None, explorer: str | None = None) -> str:
    """The report page as one HTML string (figures from ``png``, keyed like ``specs``; ``explorer``, the
    relative address of the interactive explorer page, is linked from the top)."""
    link = (f"<p class='meta'>Interactive: <a id='explorer-link' href='{html.escape(explorer)}'>explore the data</a> "
            "(delay slider, every ring's traces, diagnostics; one offline page).</p>") if explorer else ""
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{_CSS}</style></head><body>",
             f"<h1>{html.escape(title)}</h1><p class='meta'>uedflow {html.escape(__version__)} · "
             f"{datetime.now(UTC).isoformat(timespec='seconds')} · {len(samples)} sample(s)</p>",
             "<nav><a href='#summary'>Summary</a><a href='#figures'>Figures</a><a href='#fits'>Fitted parameters</a>"
             + ("<a href='#truth'>Recovered vs true</a>" if any(s.truth for s in samples) else "")
             + (f"<a href='{html.escape(explorer)}'>Explorer</a>" if explorer else "") + "</nav>" + link,
             "<h2 id='summary'>Summary</h2>", _summary_html(samples),
             "<p>Units: s = 1/d in Å⁻¹, delays in ps, Δ⟨u²⟩ in Å², strain ε = −Δs/s dimensionless. "
             "Errors are 1σ.</p>"]
    if comparison is not None:
        parts += ["<h2 id='comparison'>Sample comparison</h2>", _comparison_html(comparison)]
    parts.append(_heating_html(samples))
    for sec in L.lattice_sections(samples, format_pm):
        parts.append(f"<h2 id='{sec.key}'>{html.escape(sec.title)}</h2>"
                     + "".join(f"<p>{html.escape(t)}</p>" for t in sec.text)
                     + "".join(_table(rows, cols) for rows, cols in sec.tables if rows))
    parts.append("<h2 id='figures'>Figures</h2>" + figures_html(specs, png))
    parts.append("<h2 id='fits'>Fitted kinetic parameters</h2>")
    for s in samples:
        parts += [f"<h3>{html.escape(s.name)}</h3>", _fits_html(s.dynamics)]
    if any(s.truth for s in samples):
        parts.append("<h2 id='truth'>Recovered vs true (virtual experiment)</h2><p>Rows with |pull| &gt; 3 are "
                     "highlighted.</p>")
        for s in samples:
            if s.truth:
                parts += [f"<h3>{html.escape(s.name)}</h3>", _truth_html(s.dynamics, s.truth)]
    parts.append("<h2 id='inputs'>Inputs</h2><ul>" + "".join(
        f"<li>{html.escape(s.name)}: {html.escape(s.source)}{_noise_html(s.reduced)}{_center_html(s.reduced)}</li>"
        for s in samples)
                 + "</ul></body></html>")
    return "\n".join(parts)


def figures_html(specs: Sequence[FigureSpec], png: dict[str, bytes]) -> str:
    """Each figure embedded as a base64 PNG with its title and caption."""
    return "".join(f"<figure id='{spec.key}'><h3>{html.escape(spec.title)}</h3>"
                   f"<img src='data:image/png;base64,{base64.b64encode(png[spec.key]).decode('ascii')}' "
                   f"alt='{html.escape(spec.title)}'><figcaption>{html.escape(spec.caption)}</figcaption></figure>"
                   for spec in specs)


def report_folder(out_dir: str | Path) -> Path:
    """``out_dir`` as a Path, created.

    Raises
    ------
    FileFormatError
        It exists and is a file.
    """
    from uedflow.errors import FileFormatError

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise FileFormatError(f"output folder {out} exists and is a file; choose another -o")
    out.mkdir(parents=True, exist_ok=True)
    return out


def save_figures(specs: Sequence[FigureSpec], out: Path, *, progress: Callable[[int, int], None] | None = None
                 ) -> tuple[dict[str, bytes], dict[str, tuple[Path, Path]]]:
    """Render every figure to PNG (kept for the page) and write ``out/figures/<key>.png|.svg`` atomically;
    ``progress(done, total)`` after each PNG. Returns the PNG bytes and the written paths by key."""
    png = {}
    for k, spec in enumerate(specs):
        png[spec.key] = _render(spec.figure, "png")
        if progress is not None:
            progress(k + 1, len(specs))
    written: dict[str, tuple[Path, Path]] = {}
    with atomic_dir(out / "figures") as tmp:
        for spec in specs:
            spec.figure.set_layout_engine("none")  # keep the layout of the PNG for the SVG instead of solving it again
            (tmp / f"{spec.key}.png").write_bytes(png[spec.key])
            (tmp / f"{spec.key}.svg").write_bytes(_render(spec.figure, "svg"))
            written[spec.key] = (out / "figures" / f"{spec.key}.png", out / "figures" / f"{spec.key}.svg")
    return png, written


def _render(fig: Figure, fmt: str) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    return buf.getvalue()


def write_report(samples: Sequence[Sample], out_dir: str | Path, *, title: str = "uedflow report",
                 comparison: Any = None, progress: Callable[[int, int], None] | None = None,
                 explorer: bool = True) -> ReportResult:
    """Write ``OUTDIR/report.html`` and ``OUTDIR/figures/<key>.png|.svg`` for ``samples``, and the interactive
    ``OUTDIR/explore.html`` it links to.

    Parameters
    ----------
    samples : sequence of Sample
        Analysed datasets (with their reduced data and truth when known).
    out_dir : str or Path
        Output folder (created; must not be a file).
    title : str
        Page title.
    comparison : optional
        Result of :func:`uedflow.dynamics.compare`, shown as a table.
    progress : callable, optional
        ``progress(done, total)`` over the figures.
    explorer : bool
        Also write the explorer (:func:`uedflow.report.explorer.write_explorer`) of the first sample's
        reduced data and every sample's dynamics.

    Raises
    ------
    FileFormatError
        ``out_dir`` exists and is a file.
    """
    from uedflow.errors import InputError

    if not samples:
        raise InputError("write_report got no datasets; give at least one dynamics.h5")
    if any(is_axes(s.dynamics) for s in samples):
        raise InputError("per-axis dynamics (a non-cubic crystal) are reported by uedflow.report.axes.write_axes_report")
    out = report_folder(out_dir)
    specs = build_figures(samples, progress=progress)
    png, written = save_figures(specs, out)
    if explorer:
        from uedflow.report.explorer import EXPLORER_NAME, write_explorer

        write_explorer(samples[0].reduced, [s.dynamics for s in samples], out / EXPLORER_NAME,
                       labels=[s.name for s in samples], compare=comparison is not None,
                       title=title.replace("report", "explorer"))
    page = render_html(samples, specs, png, title=title, comparison=comparison,
                       explorer=EXPLORER_NAME if explorer else None)
    with atomic_path(out / "report.html") as tmp:
        tmp.write_text(page, encoding="utf-8")
    return ReportResult(out / "report.html", written)
