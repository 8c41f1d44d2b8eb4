"""Lattice dynamics: traces, kinetics with time zero and IRF, quasi-equilibrium, anisotropy, comparison."""

from uedflow.dynamics.analyze import DEFAULT_IRF_FWHM_PS, DYNAMICS_FORMAT, DYNAMICS_VERSION, analyze
from uedflow.dynamics.compare import CompareResult, CompareRow, compare
from uedflow.dynamics.io import open_dynamics, write_dynamics
from uedflow.dynamics.kinetics import MODELS, KineticsFit, fit_global, fit_kinetics, stack_fits
from uedflow.dynamics.models import FWHM_TO_SIGMA, biexp_rise, exp_rise
from uedflow.dynamics.summary import (
    LineFit,
    linear_fit,
    temperature_from_msd_rise,
    temperature_from_strain,
    window_average,
)
from uedflow.dynamics.traces import OBSERVABLES, Traces, compute_traces, family_average, weighted_mean

__all__ = [
    "DEFAULT_IRF_FWHM_PS",
    "DYNAMICS_FORMAT",
    "DYNAMICS_VERSION",
    "FWHM_TO_SIGMA",
    "MODELS",
    "OBSERVABLES",
    "CompareResult",
    "CompareRow",
    "KineticsFit",
    "LineFit",
    "Traces",
    "analyze",
    "biexp_rise",
    "compare",
    "compute_traces",
    "exp_rise",
    "family_average",
    "fit_global",
    "fit_kinetics",
    "linear_fit",
    "open_dynamics",
    "stack_fits",
    "temperature_from_msd_rise",
    "temperature_from_strain",
    "weighted_mean",
    "window_average",
    "write_dynamics",
]
