"""``uedflow run``, ``uedflow report`` and ``uedflow demo``: thin wrappers of :mod:`uedflow.pipeline`."""

from __future__ import annotations

import time
from pathlib import Path

import click

from uedflow.cli._common import progress, quiet_option

__all__ = ["run_cmd", "report_cmd", "demo_cmd"]

_out_option = click.option("-o", "--out", "out_dir", required=True, type=click.Path(path_type=Path),
                           help="Output folder (created; report.html, figures/, stage files, uedflow.log).")
_force_option = click.option("--force", is_flag=True, help="Run every stage even if its inputs did not change.")


def _done(report: Path | None, ran: list[str], seconds: float, quiet: bool) -> None:
    if quiet:
        return
    click.echo(f"stages run: {', '.join(ran) if ran else 'none (all up to date)'}; {seconds:.1f} s")
    if report is not None:
        click.echo(f"report: {report}")


@click.command("run")
@click.argument("experiments", nargs=-1, required=True, type=click.Path(path_type=Path))
@_out_option
@click.option("--compare", is_flag=True,
              help="One combined report comparing the experiments (e.g. individual vs attached dots).")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="dask.distributed scheduler address for the reduction (default: local threads).")
@_force_option
@quiet_option
def run_cmd(experiments: tuple[Path, ...], out_dir: Path, compare: bool, scheduler: str | None, force: bool,
            quiet: bool) -> None:
    """Reduce, analyse and report EXPERIMENT.toml (one or more) into OUT.

    Stages whose inputs have not changed since the last run into OUT are
    skipped. Several experiments go to one sub-folder each.

    \b
    Example:
      uedflow run individual.toml attached.toml --compare -o beamtime-report
    """
    from uedflow.pipeline import run_experiment, run_many

    with progress("uedflow run", quiet=quiet) as cb:
        if len(experiments) == 1 and not compare:
            res = run_experiment(experiments[0], out_dir, scheduler=scheduler, progress=cb, force=force)
            ran, report, seconds = [s.name for s in res.stages if s.ran], res.report, res.seconds
        else:
            many = run_many(list(experiments), out_dir, compare=compare, scheduler=scheduler, progress=cb,
                            force=force)
            ran, report, seconds = list(many.ran), many.report, many.seconds
    _done(report, ran, seconds, quiet)
    if report is None and not quiet and len(experiments) > 1:
        for r in many.runs:
            click.echo(f"report: {r.report}")


@click.command("report")
@click.argument("dynamics", nargs=-1, required=True, type=click.Path(path_type=Path))
@_out_option
@click.option("--label", "labels", multiple=True, help="Display name per file, in order (repeat the option).")
@quiet_option
def report_cmd(dynamics: tuple[Path, ...], out_dir: Path, labels: tuple[str, ...], quiet: bool) -> None:
    """Figures and an HTML report from analysed DYNAMICS.h5 file(s).

    reduced.h5 and truth.json are picked up from beside each file when present.

    \b
    Example:
      uedflow report individual/dynamics.h5 attached/dynamics.h5 --label individual --label attached -o rep
    """
    from uedflow.pipeline import report_files

    t = time.perf_counter()
    with progress("uedflow report", quiet=quiet, unit="fig") as cb:
        path = report_files(list(dynamics), out_dir, labels=list(labels) or None, progress=cb)
    _done(path, ["report"], time.perf_counter() - t, quiet)


@click.command("demo")
@_out_option
@click.option("--preset", "presets", multiple=True, metavar="NAME",
              help="Virtual-experiment preset (repeat); default the paper's three.")
@_force_option
@quiet_option
def demo_cmd(out_dir: Path, presets: tuple[str, ...], force: bool, quiet: bool) -> None:
    """Simulate the paper's PbSe quantum-dot experiments and run them end to end into OUT.

    Individual dots at 90 K, attached dots at 90 K and 300 K: frames are
    simulated, reduced, analysed and compared in OUT/report.html (about 3 minutes on 2 cores).

    \b
    Example:
      uedflow demo -o demo-out
    """
    from uedflow.pipeline import PAPER_PRESETS, run_demo

    with progress("uedflow demo", quiet=quiet) as cb:
        res = run_demo(out_dir, presets=presets or PAPER_PRESETS, progress=cb, force=force)
    _done(res.report, list(res.ran), res.seconds, quiet)
