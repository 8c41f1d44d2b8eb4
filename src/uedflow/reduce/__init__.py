"""Reduction: raw detector frames -> calibrated powder series I(delay, s) with errors."""

from uedflow.reduce.calibrate import CalibrationResult, calibrate_camera_length
from uedflow.reduce.center import CenterResult, find_center
from uedflow.reduce.combine import PowderSeries, combine_scans
from uedflow.reduce.geometry import Geometry, electron_wavelength_angstrom, radius_from_s, s_from_radius
from uedflow.reduce.integrate import RadialOperator, RadialProfiles, build_operator, integrate
from uedflow.reduce.masks import MaskResult, auto_mask
from uedflow.reduce.pipeline import REDUCED_FORMAT, REDUCED_VERSION, open_reduced, reduce_experiment, write_reduced

__all__ = [
    "REDUCED_FORMAT",
    "REDUCED_VERSION",
    "CalibrationResult",
    "CenterResult",
    "Geometry",
    "MaskResult",
    "PowderSeries",
    "RadialOperator",
    "RadialProfiles",
    "auto_mask",
    "build_operator",
    "calibrate_camera_length",
    "combine_scans",
    "electron_wavelength_angstrom",
    "find_center",
    "integrate",
    "open_reduced",
    "radius_from_s",
    "reduce_experiment",
    "s_from_radius",
    "write_reduced",
]
