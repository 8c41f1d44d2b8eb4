"""Helpers shared by the subcommands: progress bars and common options."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

__all__ = ["progress", "quiet_option", "refuse_overwriting_inputs", "check_output_file", "ProgressCallback"]

#: Library functions report progress as ``callback(done, total)``.
ProgressCallback = Callable[[int, int], None]

quiet_option = click.option("-q", "--quiet", is_flag=True, help="No progress bar.")


@contextmanager
def progress(desc: str, *, quiet: bool = False, unit: str = "it") -> Iterator[ProgressCallback]:
    """A ``callback(done, total)`` that draws a tqdm bar on a terminal.

    Silent with ``quiet=True`` or when stderr is not a terminal (logs, CI).
    """
    if quiet or not sys.stderr.isatty():
        yield lambda done, total: None
        return
    from tqdm import tqdm

    bar = tqdm(desc=desc, unit=unit, file=sys.stderr, leave=False, dynamic_ncols=True)
    try:

        def update(done: int, total: int) -> None:
            if bar.total != total:
                bar.total = total
            bar.n = done
            bar.refresh()

        yield update
    finally:
        bar.close()


def refuse_overwriting_inputs(output: str | Path, inputs: Iterable[str | Path]) -> None:
    """Raise :class:`~uedflow.errors.ConfigError` if ``output`` is one of the command's ``inputs``.

    An atomic write would otherwise silently replace the input (frames, manifest, reduced file) by the result.
    """
    from uedflow.errors import ConfigError

    out = Path(output).resolve()
    for path in inputs:
        if Path(path).resolve() == out:
            raise ConfigError(f"output {output} is an input of this command ({path}); write the result elsewhere "
                              "with -o")


def check_output_file(output: str | Path) -> None:
    """Raise :class:`~uedflow.errors.ConfigError` before any work if ``output`` could not be written.

    Missing folders on its path are fine (they are made when the file is written); a file in their
    place or a folder without write permission is the error (click's ``dir_okay=False`` already
    refuses a folder as the file).
    """
    import os

    from uedflow.errors import ConfigError

    output = Path(output)
    existing = next(p for p in output.parents if p.exists())
    if not existing.is_dir():
        raise ConfigError(f"cannot write {output}: {existing} is a file, not a directory; give -o a path in a directory")
    if not os.access(existing, os.W_OK):
        raise ConfigError(f"cannot write {output}: no permission to write in {existing}; choose another -o")
