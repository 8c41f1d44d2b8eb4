"""`uedflow demo` from Python, one stage at a time (notebook style: run cell by cell).

Simulates the paper's three PbSe quantum-dot experiments (individual dots at
90 K, attached dots at 90 K and 300 K), reduces the frames, analyses the
lattice dynamics and writes the comparison report — the same files as
``uedflow demo -o demo-py``. Usage::

    .venv/bin/python examples/demo_from_python.py [OUTDIR]
"""

# %% set-up
import sys
from pathlib import Path

from uedflow.config import load_experiment
from uedflow.dynamics import analyze, compare, write_dynamics
from uedflow.pipeline import PAPER_PRESETS, run_demo
from uedflow.reduce import reduce_experiment, write_reduced
from uedflow.report import Sample, figure_quasi_equilibrium, write_report
from uedflow.report.samples import read_truth
from uedflow.simulate import simulate_experiment

out = Path(sys.argv[1] if len(sys.argv) > 1 else "demo-py")
out.mkdir(exist_ok=True)

# %% 1. the virtual experiment: frames, manifest, experiment.toml and truth.json per preset
folders = {p: simulate_experiment(p, out / p / "data", seed=0) for p in PAPER_PRESETS}

# %% 2. reduce: frames -> I(delay, s) with errors; 3. analyse: peaks -> strain, Δ⟨u²⟩, τ
samples = []
for preset, folder in folders.items():
    exp = load_experiment(folder / "experiment.toml")
    reduced = reduce_experiment(exp)
    write_reduced(reduced, out / preset / "reduced.h5", experiment=exp)
    dynamics = analyze(reduced, config=exp.analyze)
    write_dynamics(dynamics, out / preset / "dynamics.h5")
    samples.append(Sample(dynamics, reduced, read_truth(folder / "truth.json"), label=exp.sample.label))
    tau = dynamics.tau_ps.sel(observable="msd")
    print(preset, dict(zip(dynamics.hkl.values.tolist(), tau.values.round(1).tolist(), strict=True)))
    # lattice temperature at 10 ps from Δ⟨u²⟩ and from strain; the global model chosen by BIC
    print(f"  T(10 ps) = {float(dynamics.lattice_temperature_msd_K.sel(delay=10.0)):.0f} K (Δ⟨u²⟩), "
          f"{float(dynamics.lattice_temperature_strain_K.sel(delay=10.0)):.0f} K (strain); "
          f"global kinetics: {dynamics.attrs['kinetic_model_chosen']}, t0 = {dynamics.attrs['global_t0_ps']:.3f} ps")

# %% 4. compare the samples peak by peak and write the report (HTML + PNG/SVG figures)
comparison = compare([s.dynamics for s in samples], labels=[s.name for s in samples])
print(comparison.report())
result = write_report(samples, out, title="uedflow demo from Python", comparison=comparison)
print("report:", result.html)

# %% a fluence series (the pbse-attached-90K-<F>mJ presets, analysed the same way) is one call:
# from uedflow.dynamics.fluence import fluence_series; print(fluence_series([...dynamics...]).table())

# %% any figure is one call on the datasets, e.g. the paper's Figure 4
figure_quasi_equilibrium([s.dynamics for s in samples]).savefig(out / "figure4.png")

# %% or all of the above, with stage skipping, in one call (what `uedflow demo` runs)
print(run_demo(out / "one-call").summary()["report"])
