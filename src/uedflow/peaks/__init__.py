"""Bragg-peak analysis of powder profiles: line shapes, background, indexing, joint fits."""

from uedflow.peaks.background import (
    BACKGROUNDS,
    DEFAULT_BACKGROUND,
    polynomial_design,
    resolve_background,
    robust_baseline,
)
from uedflow.peaks.fit import (
    FLAG_AT_BOUND,
    FLAG_FAILED,
    FLAG_NO_DATA,
    FLAG_POOR_FIT,
    POOR_FIT_CHI2,
    POOR_FIT_MISFIT,
    PeakFit,
    auto_degree,
    check_shape,
    fit_group,
)
from uedflow.peaks.indexing import (
    Indexing,
    Ring,
    candidate_rings,
    find_peaks_1d,
    group_overlapping,
    index_profile,
    refine_lattice,
    ring_family,
)
from uedflow.peaks.lineshapes import SHAPES, gaussian, lorentzian, pseudo_voigt, shape_and_jacobian
from uedflow.peaks.series import PeakSeries, fit_powder_series, structure_of

__all__ = [
    "BACKGROUNDS",
    "DEFAULT_BACKGROUND",
    "FLAG_AT_BOUND",
    "FLAG_FAILED",
    "FLAG_NO_DATA",
    "FLAG_POOR_FIT",
    "POOR_FIT_CHI2",
    "POOR_FIT_MISFIT",
    "Indexing",
    "PeakFit",
    "PeakSeries",
    "Ring",
    "SHAPES",
    "auto_degree",
    "candidate_rings",
    "check_shape",
    "fit_group",
    "find_peaks_1d",
    "fit_powder_series",
    "gaussian",
    "group_overlapping",
    "index_profile",
    "lorentzian",
    "polynomial_design",
    "pseudo_voigt",
    "refine_lattice",
    "resolve_background",
    "ring_family",
    "robust_baseline",
    "shape_and_jacobian",
    "structure_of",
]
