"""Reduction: raw detector frames -> calibrated powder series I(delay, s) with errors."""

from uedflow.reduce.calibrate import CalibrationResult, GeometryCalibration, calibrate_camera_length, calibrate_geometry
from uedflow.reduce.center import CenterResult, find_center
from uedflow.reduce.combine import PowderSeries, combine_scans
from uedflow.reduce.geometry import Geometry, electron_wavelength_angstrom, radius_from_s, s_from_radius
from uedflow.reduce.integrate import RadialOperator, RadialProfiles, build_operator, integrate
from uedflow.reduce.masks import MaskResult, auto_mask
from uedflow.reduce.pipeline import REDUCED_FORMAT, REDUCED_VERSION, open_reduced, reduce_experiment, write_reduced
from uedflow.reduce.poni import read_poni, write_poni

__all__ = [
    "REDUCED_FORMAT",
    "REDUCED_VERSION",
    "CalibrationResult",
    "CenterResult",
    "Geometry",
    "GeometryCalibration",
    "MaskResult",
    "PowderSeries",
    "RadialOperator",
    "RadialProfiles",
    "auto_mask",
    "build_operator",
    "calibrate_camera_length",
    "calibrate_geometry",
    "combine_scans",
    "electron_wavelength_angstrom",
    "find_center",
    "integrate",
    "open_reduced",
    "radius_from_s",
    "read_poni",
    "reduce_experiment",
    "s_from_radius",
    "write_poni",
    "write_reduced",
]
