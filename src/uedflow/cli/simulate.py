"""``uedflow simulate``: write a virtual UED experiment folder."""

from __future__ import annotations

from pathlib import Path

import click

from uedflow.cli._common import progress, quiet_option

__all__ = ["simulate_cmd"]


@click.command("simulate")
@click.option("--preset", "preset", default=None, help="Preset name (see --list).")
@click.option("-o", "--output", "output", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (new, empty, or an earlier simulation, which is replaced).")
@click.option("--config", "config", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Run description TOML (may start from a preset with preset = NAME).")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0), help="Random seed (>= 0).")
@click.option("--list", "list_presets", is_flag=True, help="List the presets and exit.")
@quiet_option
def simulate_cmd(preset: str | None, output: Path | None, config: Path | None, seed: int, list_presets: bool,
                 quiet: bool) -> None:
    """Virtual UED experiment: frames, manifest, experiment.toml and truth.json.

    \b
    Example:
      uedflow simulate --preset pbse-attached-90K -o sim-attached
    """
    from uedflow.errors import ConfigError
    from uedflow.simulate import PRESETS, load_run_config, simulate_experiment

    if list_presets:
        for name, cfg in PRESETS.items():
            click.echo(f"{name:28s} {cfg.get('label', '')}")
        return
    if output is None:
        raise ConfigError("give an output folder with -o DIR")
    if config is not None:
        run = load_run_config(config)
        if preset is not None:
            run = {**run, "preset": preset} if "preset" not in run else run
    elif preset is not None:
        run = preset
    else:
        raise ConfigError("give --preset NAME or --config FILE (uedflow simulate --list shows the presets)")
    with progress("simulate", quiet=quiet, unit="frame") as cb:
        path = simulate_experiment(run, output, seed=seed, progress=cb)
    if not quiet:
        click.echo(f"wrote {path}")
