"""``uedflow calibrate``: a calibrant's frame -> beam centre, camera length, ellipticity; a PONI file and the
``[detector]`` keys."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from uedflow.cli._common import check_output_file, refuse_overwriting_inputs

__all__ = ["calibrate_cmd"]


def _mean_frame(files: tuple[Path, ...], dark: Path | None) -> np.ndarray:
    """The mean of every frame of ``files`` (any format uedflow reads), minus ``dark``."""
    from uedflow.errors import InputError
    from uedflow.io import frame_info, load_image, read_frame

    total, n, shape = None, 0, None
    for path in files:
        info = frame_info(path)
        for i in range(info.n_frames):
            frame = read_frame(path, i).astype(float)
            if shape is not None and frame.shape != shape:
                raise InputError(f"frame {i} of {path} has shape {frame.shape}, the first frame {shape}; give frames "
                                 "of one detector")
            shape = frame.shape
            total = frame if total is None else total + frame
            n += 1
    image = total / n
    if dark is not None:
        d = load_image(dark, what="dark")
        if d.shape != image.shape:
            raise InputError(f"dark {dark} has shape {d.shape}, the frames {image.shape}; give a matching dark")
        image = image - d
    return image


@click.command("calibrate")
@click.argument("frames", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--standard", metavar="NAME|FILE.cif",
              help="Calibrant: a built-in material (Au, Al, Si, NaCl, Bi, graphite, MoS2, ...; see `uedflow crystal`) or "
                   "a CIF file. Non-cubic ones are indexed on the radial profile first (textured films work).")
@click.option("--lattice", "lattice_angstrom", type=float, metavar="Å",
              help="Lattice constant of a cubic standard [Å] (default: its tabulated value).")
@click.option("--d-spacings", metavar="D1,D2,...", help="Calibrant ring d spacings [Å] instead of --standard.")
@click.option("--energy-keV", "energy_keV", type=float, required=True, help="Electron energy [keV].")
@click.option("--pixel-size-m", type=float, required=True, help="Pixel pitch [m].")
@click.option("--camera-length-m", type=float, required=True, help="Nominal camera length [m] (searched ±--search).")
@click.option("--center", "center_rc", type=float, nargs=2, metavar="ROW COL",
              help="Starting beam centre [px] (default: found from the rings' symmetry).")
@click.option("--distortion", type=click.Choice(["ellipticity", "tilt", "none"]), default="ellipticity",
              show_default=True, help="Fitted with the centre and camera length.")
@click.option("--search", type=float, default=0.2, show_default=True,
              help="Relative range of the camera-length search.")
@click.option("--mask", type=click.Path(dir_okay=False, path_type=Path), help="Mask image, True/1 = valid pixel.")
@click.option("--dark", type=click.Path(dir_okay=False, path_type=Path), help="Dark frame subtracted first.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("calibration.poni"),
              show_default=True, help="PONI file to write; the [beam]/[detector] keys go beside it (.toml).")
def calibrate_cmd(frames: tuple[Path, ...], standard: str | None, lattice_angstrom: float | None,
                  d_spacings: str | None, energy_keV: float, pixel_size_m: float, camera_length_m: float,
                  center_rc: tuple[float, float] | None, distortion: str, search: float, mask: Path | None,
                  dark: Path | None, output: Path) -> None:
    """Fit the beam centre, camera length and ring ellipticity (or detector tilt) to the rings of a calibrant
    in FRAMES (their mean; any format uedflow reads), print each ring's residuals, and write a pyFAI PONI file
    and the matching [detector] keys.

    \b
    Examples:
      uedflow calibrate gold.tif --standard Au --energy-keV 50 --pixel-size-m 5e-5 --camera-length-m 0.3
      uedflow calibrate bismuth.dm3 --standard Bi --energy-keV 90 --pixel-size-m 1.12e-4 --camera-length-m 0.25
      uedflow calibrate cal.h5 --d-spacings 2.355,2.039,1.442 --energy-keV 90 --pixel-size-m 1.4e-5 \\
          --camera-length-m 0.5 --distortion tilt -o detector.poni
    """
    from uedflow.config import experiment_to_toml
    from uedflow.crystal import MATERIALS, get_crystal, get_structure
    from uedflow.errors import ConfigError
    from uedflow.io import atomic_path, load_image
    from uedflow.reduce.calibrate import calibrate_geometry
    from uedflow.reduce.center import find_center
    from uedflow.reduce.geometry import Geometry
    from uedflow.reduce.poni import write_poni

    if (standard is None) == (d_spacings is None):
        raise ConfigError("give the calibrant as either --standard NAME or --d-spacings D1,D2,... (Å)")
    if d_spacings is not None:
        try:
            calibrant = [float(v) for v in d_spacings.split(",")]
        except ValueError:
            raise ConfigError(f"--d-spacings {d_spacings!r} is not a comma-separated list of numbers (Å)") from None
    elif standard.lower() in {m.lower() for m in MATERIALS}:
        calibrant = get_structure(standard, a_angstrom=lattice_angstrom)
    else:
        if lattice_angstrom is not None:
            raise ConfigError(f"--lattice applies to the cubic standards ({', '.join(MATERIALS)}); for {standard} give "
                              "a CIF file with the cell you want")
        calibrant = get_crystal(standard)
    keys_path = output.with_suffix(".toml")
    for path in (output, keys_path):
        check_output_file(path)
        refuse_overwriting_inputs(path, [*frames, *(p for p in (mask, dark) if p)])
    image = _mean_frame(frames, dark)
    valid = None if mask is None else load_image(mask, what="mask").astype(bool)
    if valid is not None and valid.shape != image.shape:
        raise ConfigError(f"mask {mask} has shape {valid.shape}, the frames {image.shape}; give a matching mask")
    if center_rc is None:
        center_rc = find_center(image, mask=valid).center_rc
    start = Geometry(image.shape, tuple(center_rc), pixel_size_m, camera_length_m, energy_keV)
    cal = calibrate_geometry(image, start, calibrant, mask=valid, distortion=distortion, search=search)
    click.echo(cal.report())
    g = cal.geometry
    detector = {"camera_length_m": g.camera_length_m, "pixel_size_m": g.pixel_size_m, "center_rc": list(g.center_rc)}
    if distortion == "tilt":
        detector["tilt_rad"] = list(g.tilt_rad)
    else:
        detector |= {"ellipticity": g.ellipticity, "ellipse_angle_rad": g.ellipse_angle_rad}
    text = experiment_to_toml({"beam": {"energy_keV": energy_keV}, "detector": detector})
    output.parent.mkdir(parents=True, exist_ok=True)
    write_poni(output, g, note=f"uedflow calibrate {' '.join(p.name for p in frames)}: rms {cal.rms_px:.3f} px")
    with atomic_path(keys_path) as tmp:
        tmp.write_text(f"# uedflow calibrate: rms {cal.rms_px:.3f} px over {len(cal.rings)} rings; or use\n"
                       f"# [detector] poni = \"{output.name}\"\n{text}")
    click.echo(f"wrote {output} and {keys_path}")
    if not cal.success:
        click.echo(f"warning: {cal.message}", err=True)
