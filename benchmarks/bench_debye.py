"""Benchmark: uedflow's Debye scattering equation against debyecalculator (CPU), same atoms, same grid.

Run from an environment that has both packages, e.g.::

    python3 -m venv /tmp/benchvenv
    /tmp/benchvenv/bin/pip install "debyecalculator>=1.1" torch
    /tmp/benchvenv/bin/pip install -e /work/main
    /tmp/benchvenv/bin/python benchmarks/bench_debye.py

(``make bench`` installs both through the ``[bench]`` extra.)

Models: PbSe tetradecahedra of ~1k, ~3k (5.5 nm) and ~10k atoms, a 2x2 attached
cluster of 5.5 nm dots and (uedflow only) a 4x4 attached array of 6 nm dots
(> 50,000 atoms). Grid: 1,000 points, q = 1..10 Å⁻¹ (s = q/2π). Timings are the
best of ``--repeat`` runs after one warm-up (numba compilation excluded).

Accuracy is compared with constant (neutron) scattering lengths, which both
codes support (debyecalculator has no electron form factors), without thermal
damping: the maximum relative difference of the two patterns after matching
their overall scale. uedflow is timed twice: the exact FFT lattice histogram
(undistorted lattice models) and the general numba pair loop (any positions).

General (non-lattice) path, second table: spheres of 2H-MoS2 (any cell,
:func:`~uedflow.simulate.cell_cut.cut_crystal`) of ~3k, ~10k and ~20k atoms,
each atom displaced by a Gaussian thermal snapshot (σ = 0.07 Å per axis), so no
lattice shortcut applies. Reference, in the same run: debyecalculator in float64
(its grid pair sum, stated ~1e-10 from the exact sum) and uedflow with 0.002 Å
bins; their agreement is printed (~1e-5: uedflow's single-precision
distances). Timed, each as the whole pattern from positions: uedflow with the
bin width :data:`GENERAL_BIN_ANGSTROM` (error terms in
:mod:`uedflow.simulate.pair_kernels`: the bins' third central moments, ~w³) and
debyecalculator on CPU in float32 (its default) and float64; each with its
maximum relative error against the reference (after matching debyecalculator's
overall scale, a factor 1/2 in its normalisation). "vs best" is the ratio to
the faster of the two debyecalculator settings (both meet 1e-3). The three
codes run interleaved, ``--repeat`` rounds (more for small models: ~5 s per
model), best of each after a warm-up run. Run it on an otherwise idle machine:
with another busy process on the 2 cores, numba's OpenMP threads spin at the
end of a parallel region while their partner waits for a core (the 3k-atom
pair loop then takes ~36 ms instead of ~4 ms); OMP_WAIT_POLICY=PASSIVE avoids
that at ~1.5 ms per call on an idle machine.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from uedflow.crystal import get_crystal, get_structure
from uedflow.simulate.cell_cut import cut_crystal
from uedflow.simulate.debye import debye_intensity, lattice_step, pair_histogram
from uedflow.simulate.nanocrystal import attach, build_nanocrystal

__all__ = ["main"]

#: Coherent neutron scattering lengths [fm] (NIST neutron news 3, 29 (1992)).
NEUTRON_B_FM = {"Pb": 9.405, "Se": 7.970, "Mo": 6.715, "S": 2.847}
#: Histogram bin of the timed general path [Å]: measured max relative error ~3e-5 on these spheres (1.8e-4
#: undisplaced), growing as ~w³ (5e-4 at 0.08 Å); the pair loop's speed hardly depends on w.
GENERAL_BIN_ANGSTROM = 0.04
#: Diameters [nm] of the MoS2 spheres of the general-path table (~3k, ~10k, ~20k atoms).
GENERAL_DIAMETERS_NM = (4.7, 7.0, 8.8)


def _models() -> list[tuple[str, object]]:
    pbse = get_structure("PbSe")
    dot55 = build_nanocrystal(pbse, 5.5)
    return [
        ("dot 3.8 nm", build_nanocrystal(pbse, 3.8)),
        ("dot 5.5 nm", dot55),
        ("dot 8.3 nm", build_nanocrystal(pbse, 8.3)),
        ("2x2 attached 5.5 nm", attach(dot55, (2, 2, 1))),
        ("4x4 attached 6 nm", attach(build_nanocrystal(pbse, 6.0), (4, 4, 1))),
    ]


def _best(fn, repeat: int) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def _neutron_pattern(model, s: np.ndarray, step: float | None, *, positions: np.ndarray | None = None,
                     bin_width: float = 0.01) -> np.ndarray:
    pos = model.positions if positions is None else positions
    hist = pair_histogram(pos, model.species, lattice_step_angstrom=step, bin_width=bin_width)
    b = np.array([NEUTRON_B_FM[e] for e in model.elements])[:, None] * np.ones((1, len(s)))
    return hist.intensity(b, s)


def _max_rel(pattern: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """Scale matching ``pattern`` to ``reference`` and the maximum relative difference after it."""
    scale = float(np.dot(pattern, reference) / np.dot(pattern, pattern))
    return scale, float(np.max(np.abs(scale * pattern - reference) / np.abs(reference)))


def general_table(q: np.ndarray, repeat: int, calculator) -> None:
    """Time the general (non-lattice) path against debyecalculator on thermally displaced MoS2 spheres."""
    import torch

    s = q / (2 * np.pi)
    mos2 = get_crystal("MoS2")
    rng = np.random.default_rng(0)
    print(f"\ngeneral (non-lattice) path: MoS2 spheres, thermal snapshot σ = 0.07 Å; uedflow bin "
          f"{GENERAL_BIN_ANGSTROM} Å; errors: max relative vs the float64 reference")
    print(f"{'atoms':>7s} {'uedflow':>9s} {'dc f32':>8s} {'dc f64':>8s} {'ratio f32':>10s} {'ratio f64':>10s} "
          f"{'vs best':>8s} {'err uedflow':>12s} {'err dc f32':>11s} {'ref agree':>10s}")
    for diameter in GENERAL_DIAMETERS_NM:
        model = cut_crystal(mos2, diameter, shape="sphere")
        pos = model.positions + 0.07 * rng.standard_normal(model.positions.shape)
        symbols = list(model.symbols)
        calcs = [calculator(qmin=float(q[0]), qmax=float(q[-1]) + 1e-9, qstep=float(q[1] - q[0]), biso=0.0,
                            device="cpu", radiation_type="neutron", dtype=dt) for dt in (torch.float32, torch.float64)]
        runs = [lambda c=c, a=symbols, x=pos: np.asarray(c.iq((a, x))[1], dtype=float)[: len(q)] for c in calcs]
        runs.append(lambda m=model, x=pos: _neutron_pattern(m, s, None, positions=x, bin_width=GENERAL_BIN_ANGSTROM))
        warm = [_best(run, 1) for run in runs]
        times = [t for t, _ in warm]
        for _ in range(max(repeat, int(5.0 / sum(times)))):  # interleaved: the codes see the same machine load
            times = [min(t, _best(run, 1)[0]) for t, run in zip(times, runs, strict=True)]
        (t32, t64, t_ours), (dc32, dc64, ours) = times, [out for _, out in warm]
        fine = _neutron_pattern(model, s, None, positions=pos, bin_width=0.002)[: len(dc64)]
        _, agree = _max_rel(fine, dc64)
        _, err_ours = _max_rel(ours[: len(fine)], fine)
        _, err_dc = _max_rel(dc32, dc64)
        print(f"{model.n_atoms:7d} {t_ours:8.4f}s {t32:7.3f}s {t64:7.3f}s {t32 / t_ours:9.1f}x {t64 / t_ours:9.1f}x "
              f"{min(t32, t64) / t_ours:7.1f}x {err_ours:12.1e} {err_dc:11.1e} {agree:10.1e}", flush=True)


def main(argv: list[str] | None = None) -> None:
    """Print the timing table (and accuracy) of uedflow vs debyecalculator."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--general-only", action="store_true", help="only the general (non-lattice) path table")
    args = parser.parse_args(argv)
    q = np.linspace(1.0, 10.0, args.points)
    s = q / (2 * np.pi)
    pbse = get_structure("PbSe")
    step = lattice_step(pbse.positions, pbse.a_angstrom)
    try:
        import torch
        from debyecalculator import DebyeCalculator
    except ImportError as exc:
        DebyeCalculator = None  # noqa: N806
        print(f"debyecalculator not importable ({exc}); timing uedflow only. "
              "Install it: pip install -e '.[bench]' (debyecalculator, torch)")
    if args.general_only and DebyeCalculator is not None:
        general_table(q, args.repeat, DebyeCalculator)
        return
    models = _models()
    warm = models[0][1]
    debye_intensity(warm.positions, warm.species, warm.elements, s, lattice_step_angstrom=step)
    debye_intensity(warm.positions, warm.species, warm.elements, s)
    print(f"grid: {len(q)} points, q = {q[0]}..{q[-1]} 1/Å; threads: numba/torch = 2 cores")
    print(f"{'model':24s} {'atoms':>7s} {'uedflow FFT':>12s} {'uedflow loop':>13s} {'debyecalc':>10s} "
          f"{'ratio FFT':>10s} {'ratio loop':>11s} {'max rel diff':>13s}")
    for name, m in models:
        t_fft, _ = _best(lambda m=m: debye_intensity(m.positions, m.species, m.elements, s,
                                                     lattice_step_angstrom=step), args.repeat)
        big = m.n_atoms > 20000
        t_loop, _ = _best(lambda m=m: debye_intensity(m.positions, m.species, m.elements, s), 1)
        t_dc, diff = np.nan, np.nan
        if DebyeCalculator is not None and not big:
            calc = DebyeCalculator(qmin=float(q[0]), qmax=float(q[-1]) + 1e-9, qstep=float(q[1] - q[0]),
                                   biso=0.0, device="cpu", radiation_type="neutron", dtype=torch.float64)
            symbols = list(np.asarray(m.elements)[m.species])
            calc.iq((symbols, m.positions))  # warm-up
            t_dc, res = _best(lambda calc=calc, symbols=symbols, m=m: calc.iq((symbols, m.positions)), args.repeat)
            i_dc = np.asarray(res[1], dtype=float)[: len(q)]
            ours = _neutron_pattern(m, s, step)[: len(i_dc)]
            scale = np.dot(ours, i_dc) / np.dot(ours, ours)
            diff = float(np.max(np.abs(scale * ours - i_dc) / np.abs(i_dc)))
        dc = f"{t_dc:9.3f}s {t_dc / t_fft:9.1f}x {t_dc / t_loop:10.1f}x {diff:13.2e}" if t_dc == t_dc else (
            f"{'-':>10s} {'-':>10s} {'-':>11s} {'-':>13s}")
        print(f"{name:24s} {m.n_atoms:7d} {t_fft:11.3f}s {t_loop:12.3f}s {dc}")
    if DebyeCalculator is not None:
        general_table(q, args.repeat, DebyeCalculator)


if __name__ == "__main__":
    main()
