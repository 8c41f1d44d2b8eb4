"""Virtual UED experiment: nanocrystals, Debye scattering, pump dynamics, detector frames."""

from uedflow.simulate.detector import DetectorModel
from uedflow.simulate.experiment import load_run_config, simulate_experiment
from uedflow.simulate.phenomenological import (
    PowderModel,
    build_powder_model,
    pseudo_voigt,
    reduced_dataset,
    simulate_powder_series,
)
from uedflow.simulate.presets import PRESETS, get_preset, paper_dynamics
from uedflow.simulate.pump import PeakDynamics, cubic_harmonic_weights, dynamics_for_reflections, interpolate_dynamics

__all__ = [
    "DetectorModel",
    "PRESETS",
    "get_preset",
    "load_run_config",
    "paper_dynamics",
    "simulate_experiment",
    "PeakDynamics",
    "PowderModel",
    "build_powder_model",
    "cubic_harmonic_weights",
    "dynamics_for_reflections",
    "interpolate_dynamics",
    "pseudo_voigt",
    "reduced_dataset",
    "simulate_powder_series",
]
