"""``uedflow reduce``: detector frames -> reduced.h5."""

from __future__ import annotations

from pathlib import Path

import click

from uedflow.cli._common import check_output_file, progress, quiet_option, refuse_overwriting_inputs

__all__ = ["reduce_cmd"]


@click.command("reduce")
@click.argument("experiment", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("reduced.h5"),
              show_default=True, help="Output HDF5 file (written atomically).")
@click.option("--scheduler", metavar="ADDRESS", default=None,
              help="dask.distributed scheduler address (e.g. tcp://10.0.0.5:8786); default: local threads.")
@click.option("--checkpoint-every", "checkpoint_every", type=click.FloatRange(min=0), default=60.0,
              show_default=True, metavar="SECONDS",
              help="Save the progress to OUTPUT.partial/ this often (0: never); a rerun resumes from it.")
@click.option("--worker-wait", "worker_wait", type=click.FloatRange(min=0), default=300.0, show_default=True,
              metavar="SECONDS", help="With --scheduler: stop (progress kept) when the cluster has had no worker "
              "this long.")
@click.option("--memory", "memory_mb", type=click.IntRange(min=1), default=None, metavar="MB",
              help="Bound on the frame buffers of all reading threads [MB]; default a quarter of the memory.")
@quiet_option
def reduce_cmd(experiment: Path, output: Path, scheduler: str | None, checkpoint_every: float, worker_wait: float,
               memory_mb: int | None, quiet: bool) -> None:
    """Reduce the frames of EXPERIMENT (a .toml file) to a calibrated powder series I(delay, s).

    s = 1/d in 1/Å, delays in ps. EXPERIMENT names the frames manifest (CSV: file,scan,delay_ps),
    the beam energy, the detector geometry and the sample; see docs/formats.md.

    An interrupted reduction (Ctrl-C, SIGTERM from a batch scheduler) keeps the chunks of
    frames it finished in OUTPUT.partial/; the same command then resumes there. The folder
    is removed once OUTPUT is written.

    \b
    Example:
      uedflow reduce sim/experiment.toml -o reduced.h5
    """
    from uedflow.config import load_experiment
    from uedflow.reduce import reduce_experiment, write_reduced
    from uedflow.reduce.checkpoint import checkpoint_folder, discard
    from uedflow.reduce.pipeline import reduce_inputs

    exp = load_experiment(experiment)
    refuse_overwriting_inputs(output, [experiment, *(p for group in reduce_inputs(exp) for p in group)])
    check_output_file(output)
    folder = checkpoint_folder(output) if checkpoint_every > 0 else None
    with progress("reduce", quiet=quiet, unit="chunk") as bar:
        ds = reduce_experiment(exp, scheduler=scheduler, progress=bar, checkpoint=folder,
                               checkpoint_every_s=checkpoint_every, worker_wait_s=worker_wait,
                               memory_budget_bytes=None if memory_mb is None else memory_mb << 20)
    output.parent.mkdir(parents=True, exist_ok=True)
    write_reduced(ds, output, experiment=exp)
    if folder is not None:
        discard(folder)
    if not quiet:
        click.echo(f"wrote {output}: {ds.sizes['delay']} delays x {ds.sizes['scan']} scans x {ds.sizes['s']} s bins, "
                   f"center (row, col) = ({ds.attrs['center_rc'][0]:.2f}, {ds.attrs['center_rc'][1]:.2f}) px")
