"""``uedflow manifest``: frame files -> the frames manifest (CSV) an experiment file names."""

from __future__ import annotations

from pathlib import Path

import click

from uedflow.cli._common import check_output_file

__all__ = ["manifest_cmd"]


@click.command("manifest")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("frames.csv"),
              show_default=True, help="Manifest CSV to write (written atomically).")
@click.option("--pattern", metavar="REGEX", default=None,
              help="Regular expression on the file names with named groups (?P<delay>...) in ps or "
                   "(?P<delay_fs>...) in fs, and optionally (?P<scan>...). Not needed for one iris-ued file.")
def manifest_cmd(files: tuple[Path, ...], output: Path, pattern: str | None) -> None:
    """Write the frames manifest (file,scan,delay_ps) of FILES, one frame per file, reading scan and
    delay from the file names; or of the patterns of one iris-ued dataset.

    File paths in the manifest are relative to its folder.

    \b
    Examples:
      uedflow manifest raw/*.tif --pattern 'scan(?P<scan>\\d+)_t(?P<delay>[-+\\d.]+)ps' -o frames.csv
      uedflow manifest run.hdf5 -o frames.csv
    """
    from uedflow.io import atomic_path, manifest_rows, write_manifest

    check_output_file(output)
    rows = manifest_rows(files, output.parent, pattern=pattern)
    output.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(output) as tmp:
        write_manifest(tmp, rows)
    scans = sorted({r["scan"] for r in rows})
    delays = [r["delay_ps"] for r in rows]
    click.echo(f"wrote {output}: {len(rows)} frames, scans {', '.join(map(str, scans))}, delays "
               f"{min(delays):g} to {max(delays):g} ps ({len(set(delays))} distinct)")
