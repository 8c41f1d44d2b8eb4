"""pyFAI PONI files: read and write a :class:`~uedflow.reduce.geometry.Geometry`.

pyFAI describes a detector by the point of normal incidence (PONI): the foot of the
perpendicular from the sample on the detector plane, at ``Poni1``, ``Poni2`` [m] from the
first pixel's corner along rows and columns, the perpendicular ``Distance`` [m] and the
rotations ``Rot1``, ``Rot2``, ``Rot3`` [rad]. uedflow keeps the direct-beam point and the
distance to it, so that a per-frame centre is one field; with M pyFAI's rotation matrix
(:math:`M_{31} = \\sin r_2`, :math:`M_{32} = -\\cos r_2 \\sin r_1`, :math:`M_{33} = \\cos r_1 \\cos r_2`)
and L the direct distance,

.. math:: d = L \\cos r_1 \\cos r_2, \\qquad
          \\mathrm{poni}_1 = p (r_c + \\tfrac12) - L \\sin r_2, \\qquad
          \\mathrm{poni}_2 = p (c_c + \\tfrac12) + L \\cos r_2 \\sin r_1

(pyFAI's pixel centres sit at +½ pixel). pyFAI has no elliptical distortion: it is written as
two extra lines, ``uedflow_ellipticity`` and ``uedflow_ellipse_angle_rad``, which pyFAI ignores
and uedflow reads back. Files of ``poni_version`` 1 to 3 are read; detector orientations other
than pyFAI's default (3), spline distortion files and parallax correction are refused.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from uedflow.errors import FileFormatError, GeometryError
from uedflow.reduce.geometry import Geometry, electron_wavelength_angstrom

__all__ = ["poni_parameters", "read_poni", "write_poni"]

_ANGSTROM_M = 1e-10


def poni_parameters(geometry: Geometry) -> dict[str, float]:
    """pyFAI's ``dist``, ``poni1``, ``poni2`` [m], ``rot1``, ``rot2``, ``rot3`` [rad], ``wavelength`` [m] of a geometry."""
    rot1, rot2, rot3 = geometry.tilt_rad
    length, px = geometry.camera_length_m, geometry.pixel_size_m
    return {"dist": length * math.cos(rot1) * math.cos(rot2),
            "poni1": px * (geometry.center_rc[0] + 0.5) - length * math.sin(rot2),
            "poni2": px * (geometry.center_rc[1] + 0.5) + length * math.cos(rot2) * math.sin(rot1),
            "rot1": rot1, "rot2": rot2, "rot3": rot3, "wavelength": geometry.wavelength_angstrom * _ANGSTROM_M}


def write_poni(path: str | Path, geometry: Geometry, *, note: str = "") -> Path:
    """Write ``geometry`` as a pyFAI PONI file (version 2.1, a generic ``Detector`` of the frame's pixels).

    The file is written atomically. ``note`` becomes a comment line.
    """
    from uedflow import __version__
    from uedflow.io.atomic import atomic_path

    p = poni_parameters(geometry)
    config = {"pixel1": geometry.pixel_size_m, "pixel2": geometry.pixel_size_m, "max_shape": list(geometry.shape),
              "orientation": 3}
    lines = ["# Nota: C-Order, 1 refers to the Y axis, 2 to the X axis",
             f"# Written by uedflow {__version__}" + (f": {note}" if note else ""),
             "poni_version: 2.1", "Detector: Detector", f"Detector_config: {json.dumps(config)}",
             f"Distance: {p['dist']!r}", f"Poni1: {p['poni1']!r}", f"Poni2: {p['poni2']!r}",
             f"Rot1: {p['rot1']!r}", f"Rot2: {p['rot2']!r}", f"Rot3: {p['rot3']!r}", f"Wavelength: {p['wavelength']!r}",
             "# elliptical distortion (not in pyFAI, which ignores these two lines)",
             f"uedflow_ellipticity: {geometry.ellipticity!r}",
             f"uedflow_ellipse_angle_rad: {geometry.ellipse_angle_rad!r}"]
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return path


def _read_keys(path: Path) -> dict[str, str]:
    """The ``key: value`` lines of a PONI file (keys lower case, the last one wins, comments skipped)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise FileFormatError(f"PONI file {path} does not exist; give the path of a pyFAI .poni file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FileFormatError(f"PONI file {path} cannot be read as text ({exc}); give a pyFAI .poni file") from None
    keys = {}
    for line in text.splitlines():
        if ":" in line and not line.lstrip().startswith("#"):
            key, value = line.split(":", 1)
            keys[key.strip().lower()] = value.strip()
    return keys


def read_poni(path: str | Path, *, energy_keV: float, shape: tuple[int, int] | None = None,
              pixel_size_m: float | None = None) -> Geometry:
    """Read a pyFAI PONI file into a :class:`Geometry`.

    Parameters
    ----------
    path : str or Path
        The ``.poni`` file.
    energy_keV : float
        Electron energy [keV]; a ``Wavelength`` in the file must agree with it to 0.1 %.
    shape : (int, int), optional
        Frame shape (rows, cols); default: the file's ``max_shape``. Both given, they must agree.
    pixel_size_m : float, optional
        Pixel pitch [m] when the file names a pyFAI detector without pixel sizes.

    Raises
    ------
    FileFormatError
        Missing file, missing or non-numeric keys, unsupported detector orientation, spline or parallax.
    GeometryError
        Non-square pixels, a wavelength other than the beam energy's, a shape mismatch, or a direct beam
        outside the frame.
    """
    path = Path(path)
    keys = _read_keys(path)

    def number(*names: str) -> float | None:
        for name in names:
            if name in keys and keys[name].lower() != "none":
                try:
                    return float(keys[name])
                except ValueError:
                    raise FileFormatError(f"PONI file {path}: {name} = {keys[name]!r} is not a number") from None
        return None

    try:
        config = json.loads(keys.get("detector_config", "{}") or "{}")
    except json.JSONDecodeError as exc:
        raise FileFormatError(f"PONI file {path}: Detector_config is not JSON ({exc})") from None
    if config.get("orientation", 3) not in (0, 3):
        raise FileFormatError(f"PONI file {path}: detector orientation {config['orientation']} is not supported; "
                              "save the calibration with pyFAI's default orientation 3")
    if keys.get("splinefile", "none").lower() != "none" or config.get("splineFile"):
        raise FileFormatError(f"PONI file {path} uses a spline distortion file, which uedflow does not read; "
                              "calibrate with uedflow calibrate (ellipticity) instead")
    if keys.get("parallax", "false").lower() == "true":
        raise FileFormatError(f"PONI file {path} asks for pyFAI's parallax correction, which uedflow does not apply")
    values = {name: number(name) for name in ("poni1", "poni2", "rot1", "rot2", "rot3")}
    values["dist"] = number("distance", "dist")
    missing = [k for k, v in values.items() if v is None]
    if missing:
        raise FileFormatError(f"PONI file {path} has no {', '.join(missing)}; give a complete pyFAI .poni file")
    pixel1 = config.get("pixel1", number("pixelsize1")) or pixel_size_m
    pixel2 = config.get("pixel2", number("pixelsize2")) or pixel_size_m
    if pixel1 is None or pixel2 is None:
        raise FileFormatError(f"PONI file {path} names detector {keys.get('detector')!r} without its pixel size; "
                              "set detector.pixel_size_m")
    if not math.isclose(pixel1, pixel2, rel_tol=1e-9):
        raise GeometryError(f"PONI file {path} has non-square pixels ({pixel1} x {pixel2} m); uedflow needs square "
                            "pixels")
    file_shape = tuple(config["max_shape"]) if config.get("max_shape") else None
    if shape is not None and file_shape is not None and tuple(shape) != file_shape:
        raise GeometryError(f"PONI file {path} is for {file_shape[0]}x{file_shape[1]} frames, the frames are "
                            f"{shape[0]}x{shape[1]}; give the PONI of this detector")
    shape = shape or file_shape
    if shape is None:
        raise FileFormatError(f"PONI file {path} does not give the frame shape (Detector_config max_shape)")
    wavelength = number("wavelength")
    lam = electron_wavelength_angstrom(energy_keV) * _ANGSTROM_M
    if wavelength is not None and not math.isclose(wavelength, lam, rel_tol=1e-3):
        raise GeometryError(f"PONI file {path} has wavelength {wavelength:.6g} m, the beam energy {energy_keV} keV "
                            f"gives {lam:.6g} m; set beam.energy_keV to the calibration's energy")
    rot1, rot2 = values["rot1"], values["rot2"]
    length = values["dist"] / (math.cos(rot1) * math.cos(rot2))
    center = ((values["poni1"] + length * math.sin(rot2)) / pixel1 - 0.5,
              (values["poni2"] - length * math.cos(rot2) * math.sin(rot1)) / pixel1 - 0.5)
    try:
        return Geometry(tuple(int(v) for v in shape), center, float(pixel1), length, energy_keV,
                        tilt_rad=(rot1, rot2, values["rot3"]), ellipticity=number("uedflow_ellipticity") or 0.0,
                        ellipse_angle_rad=number("uedflow_ellipse_angle_rad") or 0.0)
    except GeometryError as exc:
        raise GeometryError(f"PONI file {path}: {exc}") from None
