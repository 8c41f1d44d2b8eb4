"""Virtual UED experiment: nanocrystals, Debye scattering, pump dynamics, detector frames.

Two levels share one folder writer (:func:`simulate_experiment`): the fast
phenomenological one (per-hkl strain, Δ⟨u²⟩ and width trajectories applied to a
kinematic powder pattern, exact ground truth) and the atomistic one (Debye
scattering of a pumped atomistic dot or assembly).
"""

from uedflow.simulate.atomistic import AtomisticModel, atomistic_series
from uedflow.simulate.cell_cut import cut_crystal
from uedflow.simulate.crystal_series import CRYSTAL_PRESETS, simulate_crystal_series
from uedflow.simulate.debye import (
    PairHistogram,
    debye_intensity,
    grouped_intensity,
    lattice_step,
    pair_histogram,
    size_averaged_pattern,
)
from uedflow.simulate.detector import DetectorModel
from uedflow.simulate.experiment import load_run_config, simulate_experiment
from uedflow.simulate.nanocrystal import FACETS, Nanocrystal, attach, build_nanocrystal, size_distribution
from uedflow.simulate.phenomenological import (
    PowderModel,
    build_powder_model,
    pseudo_voigt,
    simulate_powder_series,
)
from uedflow.simulate.presets import PRESETS, get_preset, paper_dynamics
from uedflow.simulate.pump import PeakDynamics, cubic_harmonic_weights, dynamics_for_reflections, interpolate_dynamics
from uedflow.simulate.reduced import reduced_dataset

__all__ = [
    "CRYSTAL_PRESETS",
    "FACETS",
    "PRESETS",
    "AtomisticModel",
    "DetectorModel",
    "Nanocrystal",
    "PairHistogram",
    "PeakDynamics",
    "PowderModel",
    "atomistic_series",
    "attach",
    "build_nanocrystal",
    "cut_crystal",
    "build_powder_model",
    "cubic_harmonic_weights",
    "debye_intensity",
    "dynamics_for_reflections",
    "get_preset",
    "grouped_intensity",
    "interpolate_dynamics",
    "lattice_step",
    "load_run_config",
    "pair_histogram",
    "paper_dynamics",
    "pseudo_voigt",
    "reduced_dataset",
    "simulate_crystal_series",
    "simulate_experiment",
    "simulate_powder_series",
    "size_averaged_pattern",
    "size_distribution",
]
