"""``uedflow explore`` (the interactive explorer page) and ``uedflow watch`` (live reduction)."""

from __future__ import annotations

from pathlib import Path

import click

from uedflow.cli._common import check_output_file

__all__ = ["explore_cmd", "watch_cmd"]


@click.command("explore")
@click.argument("reduced", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("dynamics", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("explore.html"),
              show_default=True, help="HTML file to write (self-contained, opens offline).")
@click.option("--label", "labels", multiple=True, help="Name of each DYNAMICS file's sample, in order (repeat).")
def explore_cmd(reduced: Path, dynamics: tuple[Path, ...], output: Path, labels: tuple[str, ...]) -> None:
    """One offline HTML page to explore REDUCED.h5 and its DYNAMICS.h5 (then other samples' files).

    A delay slider (← → keys) over the profile, its fit, background and residual and ΔI(s); the 2D
    differential pattern; every ring's traces with 1σ and kinetic fits; diagnostics; samples side by
    side with their significance.

    \b
    Example:
      uedflow explore out/reduced.h5 out/dynamics.h5 other/dynamics.h5 -o explore.html
    """
    from uedflow.errors import InputError
    from uedflow.report.explorer import write_explorer

    if labels and len(labels) != len(dynamics):
        raise InputError(f"got {len(labels)} --label for {len(dynamics)} dynamics files; give one per file")
    check_output_file(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    path = write_explorer(reduced, list(dynamics), output, labels=list(labels) or None)
    click.echo(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


@click.command("watch")
@click.argument("experiment", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("live"),
              show_default=True, help="Folder of reduced.h5, dynamics.h5 and explore.html.")
@click.option("--pattern", metavar="REGEX", default=None,
              help="Take the frames from the file names in the manifest's folder (as `uedflow manifest --pattern`) "
                   "instead of the manifest's rows.")
@click.option("--every-frames", type=click.IntRange(min=1), default=1, show_default=True,
              help="Update after this many new frames...")
@click.option("--every", "every_s", type=click.FloatRange(min=0, min_open=True), default=10.0, show_default=True,
              metavar="SECONDS", help="...or this often while new frames arrive.")
@click.option("--poll", "poll_s", type=click.FloatRange(min=0, min_open=True), default=0.5, show_default=True,
              metavar="SECONDS", help="How often to look for new frames.")
@click.option("--stop-idle", "idle_stop_s", type=click.FloatRange(min=0), default=None, metavar="SECONDS",
              help="Stop after this long without a new frame (default: until Ctrl-C).")
@click.option("--no-analyze", is_flag=True, help="Only reduce (no peak and kinetic fits at each update).")
def watch_cmd(experiment: Path, out_dir: Path, pattern: str | None, every_frames: int, every_s: float, poll_s: float,
              idle_stop_s: float | None, no_analyze: bool) -> None:
    """Reduce EXPERIMENT's frames live as they land; refresh reduced.h5, dynamics.h5 and explore.html.

    Frames are the manifest's rows whose file is on disk (multi-frame HDF5/MIB files may grow), or
    with --pattern the files of the data folder. Stop with Ctrl-C; run it again to continue.

    \b
    Example:
      uedflow watch beamtime/experiment.toml -o live --every-frames 20
    """
    from uedflow.reduce.watch import watch_experiment

    def show(upd) -> None:
        click.echo(f"{upd.n_frames} frames: {upd.message}" + (f" -> {upd.explorer}" if upd.explorer else ""))

    watch_experiment(experiment, out_dir, pattern=pattern, every_frames=every_frames, every_s=every_s, poll_s=poll_s,
                     idle_stop_s=idle_stop_s, analyze=not no_analyze, on_update=show)
