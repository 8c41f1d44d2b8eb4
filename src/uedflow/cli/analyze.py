"""``uedflow analyze`` and ``uedflow compare``: thin wrappers around :mod:`uedflow.dynamics`."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click

from uedflow.cli._common import check_output_file, progress, quiet_option, refuse_overwriting_inputs

__all__ = ["analyze_cmd", "compare_cmd"]


def _peaks(value: str | None) -> tuple[str, ...] | None:
    if not value:
        return None
    return tuple(p.strip() for p in value.replace(";", ",").split(",") if p.strip())


@click.command("analyze")
@click.argument("reduced", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="dynamics.h5 to write (default: dynamics.h5 beside REDUCED); traces.csv and fits.csv go beside it.")
@click.option("--peaks", default=None, help="Rings to fit, e.g. 111,200,220 (default: every ring found).")
@click.option("--shape", type=click.Choice(["pseudo-voigt", "gaussian", "lorentzian"]), default=None,
              help="Peak shape (default pseudo-voigt).")
@click.option("--eta", type=click.Choice(["shared", "per-ring"]), default=None,
              help="Pseudo-Voigt η: one for every ring (default shared) or each ring its own.")
@click.option("--background", type=click.Choice(["auto", "poly", "baseline"]), default=None,
              help="Background model (default auto).")
@click.option("--qe-window", nargs=2, type=float, default=None, metavar="START END",
              help="Quasi-equilibrium window in ps (default 40 60).")
@click.option("--debye-temperature", type=click.FloatRange(min=0, min_open=True), default=None, help="Debye temperature in K (default 250).")
@click.option("--bootstrap", type=click.IntRange(min=0), default=None, help="Bootstrap resamplings over scans (default 0).")
@click.option("--irf", "irf_fwhm_ps", type=click.FloatRange(min=0), default=None, help="Instrument response FWHM in ps (default: the file's irf_fwhm_ps attribute, else 0.5).")
@click.option("--model", type=click.Choice(["exp", "biexp"]), default=None, help="Kinetic model (default exp).")
@quiet_option
def analyze_cmd(reduced, output, peaks, shape, eta, background, qe_window, debye_temperature, bootstrap, irf_fwhm_ps,
                model, quiet):
    """Fit the Bragg peaks of REDUCED (reduced.h5) and write strain, MSD and time constants.

    Cubic samples: per ring. Any other crystal: strain per cell parameter (Δa/a, Δc/c...) and Δ⟨u²⟩ per axis
    (in-plane / along c...) from all rings together, with their kinetics.
    """
    from uedflow.config import AnalyzeConfig
    from uedflow.dynamics import analyze, write_dynamics
    from uedflow.dynamics.crystal_axes import axes_summary, is_axes
    from uedflow.reduce import open_reduced

    if qe_window and not qe_window[1] > qe_window[0]:
        raise click.BadParameter(f"{qe_window[0]:g} {qe_window[1]:g}: END must be larger than START",
                                 param_hint="--qe-window")
    output = output or reduced.with_name("dynamics.h5")
    refuse_overwriting_inputs(output, [reduced])
    check_output_file(output)
    ds = open_reduced(reduced)
    changes = {k: v for k, v in {"peaks": _peaks(peaks), "shape": shape, "eta": eta, "background": background,
                                 "qe_window_ps": tuple(qe_window) if qe_window else None,
                                 "debye_temperature_K": debye_temperature, "bootstrap": bootstrap,
                                 "irf_fwhm_ps": irf_fwhm_ps, "kinetic_model": model}.items()
               if v is not None}
    cfg = dataclasses.replace(AnalyzeConfig(), **changes)
    with progress("analyze", quiet=quiet) as cb:
        out = analyze(ds, config=cfg, progress=cb)
    output.parent.mkdir(parents=True, exist_ok=True)
    write_dynamics(out, output, config=dataclasses.asdict(cfg), inputs=[reduced])
    if not quiet and is_axes(out):
        click.echo(f"{axes_summary(out)}\n-> {output}")
    elif not quiet:
        n_ok = int(out["fit_success"].sum())
        click.echo(f"{len(out['hkl'])} rings ({', '.join(map(str, out['hkl'].values))}), "
                   f"{n_ok}/{out['fit_success'].size} kinetic fits ok -> {output}")
        rise = out.attrs.get("temperature_rise_msd_K")
        err = out.attrs.get("temperature_rise_msd_err_K")
        sys = out.attrs.get("temperature_rise_msd_sys_K")
        click.echo(f"lattice temperature rise from MSD: {rise:.0f} ± {err:.0f} (stat) ± {sys:.0f} (sys) K")
        if "kinetics_selection_json" in out.attrs:
            from uedflow.dynamics.global_kinetics import evidence_table

            sel = json.loads(out.attrs["kinetics_selection_json"])
            click.echo(f"global kinetics of Δ⟨u²⟩ and strain (shared t0 {out.attrs['global_t0_ps']:.3f} ± "
                       f"{out.attrs['global_t0_err_ps']:.3f} ps, IRF {out.attrs['global_irf_fwhm_ps']:.2f} ps):")
            click.echo(evidence_table(sel["evidence"], sel["chosen"]))


@click.command("compare")
@click.argument("datasets", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the table as CSV.")
@click.option("--labels", default=None, help="Comma-separated names, one per dataset.")
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.05, show_default=True, help="Family-wise significance level.")
@click.option("--all", "show_all", is_flag=True, help="Print every row, not only the significant ones.")
def compare_cmd(datasets, output, labels, alpha, show_all):
    """Compare analysed DATASETS (dynamics.h5) ring by ring; the first is the reference."""
    from uedflow.dynamics import compare, open_dynamics
    from uedflow.dynamics.compare import CompareResult

    loaded = [open_dynamics(p) for p in datasets]
    names = [s.strip() for s in labels.split(",")] if labels else None
    result = compare(loaded, labels=names, alpha=alpha)
    shown = result if show_all else CompareResult(result.labels, result.significant, result.alpha, result.n_tested)
    click.echo(shown.table())
    if not show_all:
        click.echo(f"{len(result.significant)} of {result.n_tested} tested quantities differ significantly "
                   "(--all prints every row)")
    if output:
        result.to_csv(output)


@click.command("fluence")
@click.argument("datasets", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the points as CSV.")
@click.option("--labels", default=None, help="Comma-separated names, one per dataset.")
def fluence_cmd(datasets, output, labels):
    """Fit Δ⟨u²⟩, τ and ΔT vs pump fluence over analysed DATASETS (dynamics.h5, one per fluence).

    \b
    Example:
      uedflow fluence f1.2/dynamics.h5 f2.4/dynamics.h5 f3.6/dynamics.h5 f4.8/dynamics.h5 -o fluence.csv
    """
    from uedflow.dynamics import open_dynamics
    from uedflow.dynamics.fluence import fluence_series

    names = [s.strip() for s in labels.split(",")] if labels else [p.parent.name or p.stem for p in datasets]
    series = fluence_series([open_dynamics(p) for p in datasets], names)
    click.echo(series.table())
    if output:
        series.to_csv(output)
