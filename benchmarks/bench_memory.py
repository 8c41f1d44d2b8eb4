"""Peak memory of the pass over the frames: against frame count, frame size, and threads under a memory budget.

Each configuration runs in a fresh process (its peak RSS, ``ru_maxrss``, is then its own): the frames
(uint16, one .npy file read again for every frame, so the disk plays no part) go through
:func:`uedflow.reduce.execute.run_pass` on local threads with chunks of ``--chunk`` frames. Printed:

* peak RSS and its growth during the pass ("pass") against the number of frames (1024² frames) and
  against the frame size: the buffers do not grow with the number of frames;
* on 2048² frames, 4 threads against 16 threads (a 4-core against a 16-core node), with the memory budget
  ``--budget`` MB and without one: with the budget the two differ by less than the budget (the
  ``uedflow reduce --memory`` option; the default budget is a quarter of the machine's memory).

Usage: ``python benchmarks/bench_memory.py [--budget 512] [--chunk 4]``
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def child(n: int, frames: int, chunk: int, threads: int, budget_mb: float | None, folder: Path) -> dict:
    """Run the pass in this process; return its peak RSS [MB] before and after, and the threads used."""
    from uedflow.io import FrameRecord
    from uedflow.io.frames import open_frames
    from uedflow.reduce.execute import local_threads, run_pass
    from uedflow.reduce.geometry import Geometry
    from uedflow.reduce.integrate import build_operator

    path = folder / f"frame{n}.npy"
    if not path.exists():
        np.save(path, np.random.default_rng(0).poisson(50.0, (n, n)).astype(np.uint16) + 1)
    geometry = Geometry((n, n), (n / 2 - 0.3, n / 2 + 0.2), 5e-5 * 1024 / n, 0.45, 50.0)
    op = build_operator(geometry, n_bins=300)
    records = [FrameRecord(path.resolve(), i % 4, float(i // 4 - 1), row=i + 2) for i in range(frames)]
    stack = open_frames(records, chunk_frames=chunk)
    budget = None if budget_mb is None else int(budget_mb * 2**20)
    before = _peak_mb()
    run_pass(stack, op, window=np.ones(len(op.counts), bool), delay_ps=stack.delay_ps, memory_budget_bytes=budget,
             threads=threads)
    return {"before": before, "peak": _peak_mb(),
            "threads": local_threads(chunk, (n, n), np.uint16, budget, threads)}


def _measure(folder: Path, n: int, frames: int, chunk: int, threads: int, budget_mb: float | None) -> dict:
    args = [sys.executable, __file__, "--child", json.dumps([n, frames, chunk, threads, budget_mb, str(folder)])]
    out = subprocess.run(args, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=512.0, help="memory budget [MB] (default 512)")
    parser.add_argument("--chunk", type=int, default=4, help="frames per chunk (default 4)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        n, frames, chunk, threads, budget_mb, folder = json.loads(args.child)
        print(json.dumps(child(n, frames, chunk, threads, budget_mb, Path(folder))))
        return 0
    with tempfile.TemporaryDirectory(prefix="uedflow-bench-memory-") as tmp:
        folder = Path(tmp)

        def row(label, n, frames, threads, budget):
            r = _measure(folder, n, frames, args.chunk, threads, budget)
            print(f"{label:>24} {n:>5}² {frames:>7} {r['threads']:>8} {r['peak']:>9.0f} {r['peak'] - r['before']:>8.0f}",
                  flush=True)
            return r

        print(f"peak RSS [MB] of the pass over uint16 frames, chunks of {args.chunk} frames")
        print(f"{'':>24} {'frame':>6} {'frames':>7} {'threads':>8} {'peak RSS':>9} {'pass':>8}")
        for frames in (32, 128, 512):
            row("frame count, 4 threads", 1024, frames, 4, args.budget)
        for n in (512, 1024, 2048):
            row("frame size, 4 threads", n, 64, 4, args.budget)
        runs = {}
        for budget in (args.budget, None):
            for threads in (4, 16):
                name = f"{threads} wanted, " + (f"budget {budget:.0f} MB" if budget else "no budget")
                runs[budget, threads] = row(name, 2048, 64, threads, budget if budget else 1e9)
        for budget in (args.budget, None):
            diff = runs[budget, 16]["peak"] - runs[budget, 4]["peak"]
            verdict = (f"{'<' if diff < budget else '>='} the budget of {budget:.0f} MB" if budget else
                       f"(would be {'<' if diff < args.budget else '>='} {args.budget:.0f} MB)")
            print(f"2048² frames, 16 threads - 4 threads, {'budget' if budget else 'no budget'}: peak RSS "
                  f"{diff:+.0f} MB {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
