"""The atomistic level for any uniaxial crystal: a cut of MoS2 pumped per axis, its Debye patterns analysed per axis.

The truth is what was imposed on the atoms (Δa/a, Δc/c, Δ⟨u_⊥²⟩, Δ⟨u_∥²⟩); the per-axis analysis reads them from
pseudo-Voigt fits of the finite crystal's rings, so the differences measure what finite size does to that analysis.
"""

import json

import numpy as np
import pytest

from uedflow.crystal import get_crystal
from uedflow.dynamics.axes_series import analyze_axes_series
from uedflow.dynamics.crystal_axes import is_axes
from uedflow.errors import ConfigError
from uedflow.pipeline import run_experiment
from uedflow.simulate import simulate_experiment
from uedflow.simulate.cell_cut import cut_crystal
from uedflow.simulate.crystal_atomistic import CrystalAtomisticModel
from uedflow.simulate.presets import get_preset
from uedflow.simulate.reduced import reduced_dataset

STRAIN = {"a": (2e-4, 1.0), "c": (9e-4, 1.0)}
MSD = {"perp": (1.3e-3, 1.0), "par": (2.6e-3, 1.0)}


def test_imposed_axes_recovered_from_the_debye_pattern_of_a_sphere():
    """Noise-free patterns of an 8 nm MoS2 sphere before and on the plateau: strain within 10 %, Δ⟨u²⟩ within 15 %
    (measured: a −6 %, c −3 %, ⊥ +11 %, ∥ −9 %: the finite crystal's ring tails under the pseudo-Voigt fits)."""
    mos2 = get_crystal("MoS2")
    model = CrystalAtomisticModel(cut_crystal(mos2, 8.0, shape="sphere"), mos2, STRAIN, MSD, s_max=1.25,
                                  fwhm=0.0129)
    s = np.linspace(0.1, 1.2, 1200)
    delays = np.array([-5.0, -4.0, -3.0, 50.0, 60.0, 70.0])
    prof = model.profiles(s, delays)
    scans = np.stack([prof, prof])
    ds = reduced_dataset(scans, 1e-4 * np.sqrt(scans), s, delays, np.ones((2, delays.size)), structure=mos2)
    res = analyze_axes_series(ds, mos2, fwhm_guess=0.0129, irf_fwhm_ps=0.5)
    strain, msd = res.strain[4].values, res.vibration.values[4]
    dev = {"a": strain[0] / 2e-4 - 1, "c": strain[1] / 9e-4 - 1, "perp": msd[0] / 1.3e-3 - 1,
           "par": msd[1] / 2.6e-3 - 1}
    print({k: f"{100 * v:+.1f} %" for k, v in dev.items()})
    assert abs(dev["a"]) < 0.10 and abs(dev["c"]) < 0.10
    assert abs(dev["perp"]) < 0.15 and abs(dev["par"]) < 0.15


def test_only_uniaxial_crystals():
    vo2 = get_crystal("VO2-M1")
    with pytest.raises(ConfigError, match="uniaxial"):
        CrystalAtomisticModel(cut_crystal(vo2, 1.5), vo2, {"a": (1e-4, 1.0)}, MSD, s_max=1.0)


def test_frames_of_a_pumped_sphere_run_end_to_end(tmp_path):
    """``level = "crystal"`` with ``[nanocrystal]``: frames of the Debye patterns of a 6 nm MoS2 sphere, reduced and
    analysed per axis like any measurement."""
    run = {**get_preset("mos2-flakes-300K"), "nanocrystal": {"shape": "sphere"}, "diameter_nm": 6.0,
           "delays_ps": [-4.0, -2.0, -1.0, 1.0, 3.0, 10.0, 30.0, 100.0]}
    folder = simulate_experiment(run, tmp_path / "sim", seed=0)
    truth = json.loads((folder / "truth.json").read_text())
    assert truth["level"] == "crystal" and truth["model"].startswith("atomistic")
    assert truth["nanocrystal"]["shape"] == "sphere" and truth["nanocrystal"]["n_atoms"] > 5000
    result = run_experiment(folder / "experiment.toml", tmp_path / "out")
    from uedflow.dynamics import open_dynamics

    dyn = open_dynamics(result.dynamics)
    assert is_axes(dyn) and list(dyn["trace"].values) == ["a", "c", "perp", "par"]
    assert np.isfinite(dyn["amplitude"].values).all() and "Recovered vs true" in result.report.read_text()
