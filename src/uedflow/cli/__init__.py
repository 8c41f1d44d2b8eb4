"""The ``uedflow`` command line: one group, one module per subcommand.

Subcommands are imported only when run, so ``uedflow --help`` is fast. Every
:class:`~uedflow.errors.UedflowError` is printed as one line on stderr, without
a traceback, and the command exits with status 2.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import logging
import signal
import sys
import threading

import click

from uedflow import __version__
from uedflow.errors import UedflowError

__all__ = ["main"]

#: name -> (module, attribute, one-line help)
_COMMANDS: dict[str, tuple[str, str, str]] = {
    "manifest": ("uedflow.cli.manifest", "manifest_cmd", "Frame files -> the frames manifest (scan and delay from names)."),
    "calibrate": ("uedflow.cli.calibrate", "calibrate_cmd", "Calibrant frame -> centre, camera length, ellipticity; PONI."),
    "crystal": ("uedflow.cli.crystal", "crystal_cmd", "Rings of a crystal (CIF or built-in): hkl, d, s, multiplicity, |F|²."),
    "reduce": ("uedflow.cli.reduce", "reduce_cmd", "Detector frames -> calibrated powder series I(delay, s) (HDF5)."),
    "simulate": ("uedflow.cli.simulate", "simulate_cmd", "Virtual UED experiment: write frames, manifest and ground truth."),
    "analyze": ("uedflow.cli.analyze", "analyze_cmd", "Powder series -> peak fits, strain, MSD and time constants."),
    "compare": ("uedflow.cli.analyze", "compare_cmd", "Compare analysed datasets peak by peak, with significance."),
    "fluence": ("uedflow.cli.analyze", "fluence_cmd", "Fluence series: amplitude, τ and ΔT vs fluence, fitted, vs the heating model."),
    "physics": ("uedflow.cli.physics", "physics_group", "Heating, Debye model, thermal expansion and texture check."),
    "tem": ("uedflow.cli.tem", "tem_group", "TEM image analysis: FFT d-spacings, particle sizing."),
    "report": ("uedflow.cli.run", "report_cmd", "Figures and an HTML report from analysed data."),
    "explore": ("uedflow.cli.explore", "explore_cmd", "One offline HTML page to explore reduced and analysed data."),
    "watch": ("uedflow.cli.explore", "watch_cmd", "Live reduction as frames land, with a self-refreshing explorer."),
    "run": ("uedflow.cli.run", "run_cmd", "Whole chain: reduce -> analyze -> report, skipping unchanged stages."),
    "demo": ("uedflow.cli.run", "demo_cmd", "Run the paper's virtual experiments end to end and write the report."),
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [n for n in _COMMANDS if self._available(n)]

    @staticmethod
    def _available(name: str) -> bool:
        return importlib.util.find_spec(_COMMANDS[name][0]) is not None

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in _COMMANDS or not self._available(name):
            return None
        module, attr, _ = _COMMANDS[name]
        return getattr(importlib.import_module(module), attr)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            near = difflib.get_close_matches(name, self.list_commands(ctx), n=1)
            if near:
                ctx.fail(f"No such command {name!r}; did you mean {near[0]!r}?")
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(n, _COMMANDS[n][2]) for n in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> object:
        interrupted: list[int] = []

        def on_signal(signum: int, frame: object) -> None:
            interrupted.append(signum)
            raise KeyboardInterrupt

        # Ctrl-C (SIGINT) and a batch scheduler's stop (SIGTERM, e.g. a SLURM time limit) unwind the command like
        # an exception: temporary files are removed and a reduction saves its checkpoint. Remember the signal even
        # when compiled code (numba, ctypes callbacks) swallows the KeyboardInterrupt.
        handled = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous = signal.getsignal(sig)
                if previous not in (None, signal.SIG_IGN):
                    handled[sig] = previous
                    signal.signal(sig, on_signal)
        try:
            result = super().invoke(ctx)
        except UedflowError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            sig = signal.Signals(interrupted[0] if interrupted else signal.SIGINT)
            click.echo(f"interrupted ({sig.name}): no half-written output was kept", err=True)
            sys.exit(128 + sig)
        finally:
            for sig, previous in handled.items():
                signal.signal(sig, previous)
        if interrupted:
            click.echo(f"interrupted ({signal.Signals(interrupted[0]).name}): the signal arrived inside compiled "
                       "code, which finished first; the outputs written are complete", err=True)
            sys.exit(128 + interrupted[0])
        return result


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="uedflow")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def main(verbose: int) -> None:
    """uedflow: ultrafast electron diffraction of nanocrystals.

    Raw detector frames (or the built-in virtual experiment) in; lattice
    expansion, Debye-Waller mean-square displacement and thermalization time
    constants per crystal direction out, with error bars, figures and a report.

    Units: s = 1/d in 1/Å (q = 2πs), delays in ps, MSD in Å², temperatures in K.

    Start with `uedflow demo -o demo-out`, or `uedflow run EXPERIMENT.toml -o OUT`.
    """
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
