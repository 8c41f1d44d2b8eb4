"""Benchmark: uedflow's Debye scattering equation against debyecalculator (CPU), same atoms, same grid.

Run from an environment that has both packages, e.g.::

    python3 -m venv /tmp/benchvenv
    /tmp/benchvenv/bin/pip install debyecalculator torch==2.13.0
    /tmp/benchvenv/bin/pip install -e /work/main
    /tmp/benchvenv/bin/python benchmarks/bench_debye.py

Models: PbSe tetradecahedra of ~1k, ~3k (5.5 nm) and ~10k atoms, a 2x2 attached
cluster of 5.5 nm dots and (uedflow only) a 4x4 attached array of 6 nm dots
(> 50,000 atoms). Grid: 1,000 points, q = 1..10 Å⁻¹ (s = q/2π). Timings are the
best of ``--repeat`` runs after one warm-up (numba compilation excluded).

Accuracy is compared with constant (neutron) scattering lengths, which both
codes support (debyecalculator has no electron form factors), without thermal
damping: the maximum relative difference of the two patterns after matching
their overall scale. uedflow is timed twice: the exact FFT lattice histogram
(undistorted lattice models) and the general numba pair loop (any positions).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from uedflow.crystal import get_structure
from uedflow.simulate.debye import debye_intensity, lattice_step, pair_histogram
from uedflow.simulate.nanocrystal import attach, build_nanocrystal

__all__ = ["main"]

#: Coherent neutron scattering lengths [fm] (NIST neutron news 3, 29 (1992)).
NEUTRON_B_FM = {"Pb": 9.405, "Se": 7.970}


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


def _neutron_pattern(model, s: np.ndarray, step: float | None) -> np.ndarray:
    hist = pair_histogram(model.positions, model.species, lattice_step_angstrom=step)
    b = np.array([NEUTRON_B_FM[e] for e in model.elements])[:, None] * np.ones((1, len(s)))
    return hist.intensity(b, s)


def main(argv: list[str] | None = None) -> None:
    """Print the timing table (and accuracy) of uedflow vs debyecalculator."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--points", type=int, default=1000)
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
              "Install it in a separate venv: pip install debyecalculator torch==2.13.0")
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


if __name__ == "__main__":
    main()
