"""Reduction speed: uedflow's batched sparse integration against pyFAI integrate1d, and end to end.

Prints, in one run on the same frames and geometry:

* frames/s of uedflow (operator built once, batches of 32 uint16 frames, one
  thread per core) and of pyFAI ``integrate1d`` with method
  ``("bbox", "csr", "cython")`` and with its default method, for 1024² and
  2048² frames, and the ratios; for a circular geometry (detector normal to the
  beam) and for a tilted detector with elliptical rings (pyFAI: the same tilt, it
  has no ellipticity), with the tilted/elliptical throughput and operator build
  time relative to the circular ones;
* per-frame beam centres (:mod:`uedflow.reduce.recenter`) on frames whose pattern walks ±3 px: their
  throughput against the fixed centre (measured alternately on the same frames) and against pyFAI;
* the memory-bandwidth bound: bytes per frame / measured numpy copy bandwidth;
* a ``--frames`` (default 1000) 1024² dataset of .npy files (chunks of 32
  frames, dark frame, saturation check at 65535) reduced end to end (read, dark, normalise, integrate, combine:
  ``reduce_experiment``) against just reading the same frames through the same
  lazy stack, with the page cache warm (frames already in memory: "reading" is a
  memory copy) and cold (the dataset's files dropped from the cache first: frames
  come from the disk); median of ``--repeats`` runs, with the time of each step
  (detector = sample frames, center and masks; operator; headers = waiting for
  the header check that runs alongside; pass = read + integrate all frames;
  combine).

Both integrators do the same work: bounding-box pixel splitting, no solid-angle
or polarisation correction, 600 bins in q (s = q/2π).

Usage: ``python benchmarks/bench_reduce.py [--frames N] [--sizes 1024 2048] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

N_BINS = 600
BATCH = 32


def copy_bandwidth_gbs() -> float:
    """Best of 5 numpy copies of a 256 MB array, counting read + write bytes [GB/s]."""
    src = np.ones(1 << 25)  # 256 MB
    dst = np.empty_like(src)
    best = np.inf
    for _ in range(5):
        t = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t)
    return 2 * src.nbytes / best / 1e9


#: detector geometries benchmarked: keyword arguments of Geometry
GEOMETRIES = {"circular": {}, "tilted+elliptical": {"tilt_rad": (0.03, -0.02, 0.0), "ellipticity": 0.01,
                                                    "ellipse_angle_rad": 0.4}}


def _geometry(n: int, kind: str = "circular"):
    from uedflow.reduce.geometry import Geometry

    return Geometry((n, n), (n / 2 - 0.3, n / 2 + 0.2), 5e-5 * 1024 / n, 0.45, 50.0, **GEOMETRIES[kind])


def _frames(n: int, count: int, seed: int = 0, kind: str = "circular", walk_px: float = 0.0) -> np.ndarray:
    """Poisson-noisy powder patterns (PbSe-like rings on a decaying background) with a beam block, uint16; with
    ``walk_px`` each frame's pattern is centred up to that many px away (uniform per axis), the block not."""
    import dataclasses

    from uedflow.crystal import get_structure, reflections

    rng = np.random.default_rng(seed)
    geom = _geometry(n, kind)
    rings = [(ref.s_inv_angstrom, 800 / ref.s_inv_angstrom) for ref in reflections(get_structure("PbSe"), 1.0)]
    block = np.hypot(*(np.indices(geom.shape) - np.array(geom.center_rc)[:, None, None])) < 20

    def clean(offset) -> np.ndarray:
        moved = dataclasses.replace(geom, center_rc=(geom.center_rc[0] + offset[0], geom.center_rc[1] + offset[1]))
        s = moved.s_map()
        img = 200 * np.exp(-s / 0.3)
        for s0, height in rings:
            img += height * np.exp(-0.5 * ((s - s0) / 0.004) ** 2)
        img[block] = 2.0
        return img

    if walk_px == 0:
        fixed = clean((0.0, 0.0))
        return np.stack([rng.poisson(fixed).astype(np.uint16) for _ in range(count)])
    return np.stack([rng.poisson(clean(rng.uniform(-walk_px, walk_px, 2))).astype(np.uint16) for _ in range(count)])


def _rate(fn, n_frames: int, min_time: float = 1.5) -> float:
    """Frames per second of ``fn()`` processing ``n_frames``, repeated for at least ``min_time`` s."""
    fn()  # warm-up (JIT, caches)
    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < min_time or done == 0:
        fn()
        done += n_frames
    return done / (time.perf_counter() - t0)


def bench_integration(n: int, bandwidth: float, kind: str = "circular", frames: np.ndarray | None = None
                      ) -> dict[str, float]:
    """frames/s of uedflow and pyFAI on n x n uint16 frames, geometry ``kind`` (:data:`GEOMETRIES`)."""
    from uedflow.reduce.integrate import build_operator, integrate_sums
    from uedflow.reduce.poni import poni_parameters

    geom = _geometry(n, kind)
    workers = os.cpu_count() or 1
    frames = _frames(n, BATCH * workers) if frames is None else frames
    build_operator(geom, n_bins=N_BINS)  # the first call loads the compiled kernels
    build_s = np.inf
    for _ in range(3):  # best of 3
        t = time.perf_counter()
        op = build_operator(geom, n_bins=N_BINS)
        build_s = min(build_s, time.perf_counter() - t)
    batches = [frames[i:i + BATCH] for i in range(0, len(frames), BATCH)]
    with ThreadPoolExecutor(workers) as pool:
        ours = _rate(lambda: list(pool.map(lambda b: integrate_sums(b, op), batches)), len(frames))
    out = {"uedflow": ours, "build_s": build_s, "bound": bandwidth * 1e9 / frames[0].nbytes}
    try:
        from pyFAI.integrator.azimuthal import AzimuthalIntegrator
    except ImportError:
        return out
    px = geom.pixel_size_m
    ai = AzimuthalIntegrator(pixel1=px, pixel2=px, **poni_parameters(geom))
    for name, method in (("pyFAI bbox/csr/cython", ("bbox", "csr", "cython")), ("pyFAI default", None)):
        kw = {} if method is None else {"method": method}
        few = frames[:4]
        out[name] = _rate(lambda kw=kw, few=few: [ai.integrate1d(f, N_BINS, unit="q_A^-1", correctSolidAngle=False, **kw)
                                                  for f in few], len(few))
    return out


def bench_recentering(n: int, kind: str = "tilted+elliptical") -> dict[str, float]:
    """frames/s of the fixed-centre and the per-frame-centre integration (:mod:`uedflow.reduce.recenter`) on the
    same n x n frames whose pattern walks ±3 px, one thread per core, measured alternately; and the rms error
    [px] of the centres found."""
    from uedflow.reduce.integrate import build_operator, integrate_sums
    from uedflow.reduce.recenter import recentering

    geom = _geometry(n, kind)
    workers = os.cpu_count() or 1
    frames = _frames(n, BATCH * workers, seed=1, kind=kind, walk_px=3.0)
    t = time.perf_counter()
    rc = recentering(geom, "per-frame", n_bins=N_BINS)
    build_s = time.perf_counter() - t
    op = build_operator(geom, n_bins=N_BINS, s_range=(rc.operator.s_edges[0], rc.operator.s_edges[-1]))
    batches = [frames[i:i + BATCH] for i in range(0, len(frames), BATCH)]

    def per_frame(b):
        return rc.apply(*integrate_sums(b, rc.operator))

    with ThreadPoolExecutor(workers) as pool:
        fixed, ours = [], []
        for _ in range(2):  # interleaved, so both see the same machine load
            fixed.append(_rate(lambda: list(pool.map(lambda b: integrate_sums(b, op), batches)), len(frames)))
            ours.append(_rate(lambda: list(pool.map(per_frame, batches)), len(frames)))
    # the alternatives measured against it: an operator built about each frame's centre, or each frame shifted
    # onto the fixed centre (bilinear) before the fixed operator
    from scipy.ndimage import shift

    t = time.perf_counter()
    build_operator(geom, n_bins=N_BINS)
    per_operator = time.perf_counter() - t
    t = time.perf_counter()
    for f in frames[:8]:
        shift(f.astype(np.float32), (0.37, -1.21), order=1)
    per_shift = (time.perf_counter() - t) / 8
    return {"fixed": max(fixed), "per-frame": max(ours), "build_s": build_s,
            "operator_per_frame": max(fixed) * per_operator / workers, "shift_per_frame": max(fixed) * per_shift / workers}


def _write_dataset(folder: Path, n_frames: int, n: int = 1024) -> Path:
    from uedflow.io import write_manifest

    geom = _geometry(n)
    pool = _frames(n, 8, seed=1)
    np.save(folder / "dark.npy", np.full((n, n), 2, np.uint16))
    rows = []
    for i in range(n_frames):
        name = f"f{i:05d}.npy"
        np.save(folder / name, pool[i % len(pool)])
        rows.append({"file": name, "scan": i // 20 + 1, "delay_ps": float(i % 20 - 5)})
    write_manifest(folder / "frames.csv", rows)
    path = folder / "experiment.toml"
    path.write_text(
        '[experiment]\nmanifest = "frames.csv"\n[beam]\nenergy_keV = 50.0\n'
        f"[detector]\ncamera_length_m = 0.45\npixel_size_m = {geom.pixel_size_m}\n"
        f'center_rc = [{geom.center_rc[0]}, {geom.center_rc[1]}]\ndark = "dark.npy"\nsaturation = 65535\n'
        f'[sample]\nmaterial = "PbSe"\n[reduce]\nn_bins = {N_BINS}\nchunk_frames = {BATCH}\n'
    )
    return path


def _evict(folder: Path) -> None:
    """Drop the dataset's files (only those) from the page cache, so the next read comes from the disk."""
    for path in folder.iterdir():
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fdatasync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


class _Timings(logging.Handler):
    """Collects the per-step wall times that ``reduce_experiment`` logs."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.laps: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        self.laps.update(getattr(record, "timings_s", {}))


def bench_end_to_end(n_frames: int, repeats: int = 3) -> dict[str, dict[str, float]]:
    """Median seconds to read all frames and to reduce them end to end, page cache warm and cold.

    "read" computes every chunk of the same lazy stack ``reduce_experiment`` uses (same chunks, threaded
    scheduler with one and with two threads per core, the faster counts), i.e. all file I/O and frame checks and
    nothing else. "cold" drops the dataset's files from the page cache before each run (the frames then come
    from the disk).
    """
    import dask

    from uedflow.config import load_experiment
    from uedflow.io import open_frames, read_manifest
    from uedflow.reduce import reduce_experiment

    timings = _Timings()
    logger = logging.getLogger("uedflow.reduce.pipeline")
    logger.addHandler(timings)
    logger.setLevel(logging.INFO)
    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        exp = load_experiment(_write_dataset(Path(tmp), n_frames))
        stack = open_frames(read_manifest(exp.manifest), chunk_frames=BATCH)
        reduce_experiment(exp)  # warm-up: imports and compiled kernels
        for cache in ("warm", "cold"):
            runs: list[dict[str, float]] = []
            for _ in range(repeats):
                read_s = np.inf
                for workers in (os.cpu_count() or 1, 2 * (os.cpu_count() or 1)):  # the faster read is the baseline
                    if cache == "cold":
                        _evict(Path(tmp))
                    t = time.perf_counter()
                    dask.compute(stack.data[:, 0, 0].sum(), scheduler="threads", num_workers=workers)
                    read_s = min(read_s, time.perf_counter() - t)
                if cache == "cold":
                    _evict(Path(tmp))
                t = time.perf_counter()
                reduce_experiment(exp)
                full_s = time.perf_counter() - t
                runs.append({"read_s": read_s, "reduce_s": full_s, "ratio": full_s / read_s} | timings.laps)
            out[cache] = {k: float(np.median([r[k] for r in runs])) for k in runs[0]}
    logger.removeHandler(timings)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1000, help="frames in the end-to-end dataset (default 1000)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048], help="frame sizes (default 1024 2048)")
    parser.add_argument("--repeats", type=int, default=3, help="end-to-end runs per cache state (default 3)")
    args = parser.parse_args(argv)
    bandwidth = copy_bandwidth_gbs()
    print(f"numpy copy bandwidth: {bandwidth:.1f} GB/s (read + write); {os.cpu_count()} cores")
    print(f"{'frame':>10} {'geometry':>17} {'uedflow f/s':>12} {'bbox/csr f/s':>13} {'default f/s':>12} "
          f"{'ratio best':>11} {'bound f/s':>10} {'of bound':>9} {'build s':>8}")
    for n in args.sizes:
        frames = _frames(n, BATCH * (os.cpu_count() or 1))
        rates = {}
        for kind in GEOMETRIES:
            r = rates[kind] = bench_integration(n, bandwidth, kind, frames)
            peers = [r[k] for k in ("pyFAI bbox/csr/cython", "pyFAI default") if k in r]
            best = max(peers) if peers else float("nan")
            print(f"{n:>5}x{n:<4} {kind:>17} {r['uedflow']:>12.1f} {r.get('pyFAI bbox/csr/cython', float('nan')):>13.1f} "
                  f"{r.get('pyFAI default', float('nan')):>12.1f} {r['uedflow'] / best:>10.2f}x "
                  f"{r['bound']:>10.0f} {r['uedflow'] / r['bound']:>8.1%} {r['build_s']:>8.2f}", flush=True)
        circ, tilt = rates["circular"], rates["tilted+elliptical"]
        print(f"{'':>10} tilted+elliptical / circular: throughput {tilt['uedflow'] / circ['uedflow']:.2f}x, operator "
              f"build {tilt['build_s'] / circ['build_s']:.2f}x", flush=True)
        rc = bench_recentering(n)
        best = max(tilt.get(k, float("nan")) for k in ("pyFAI bbox/csr/cython", "pyFAI default"))
        print(f"{'':>10} per-frame centre (tilted+elliptical, pattern walking ±3 px): {rc['per-frame']:.1f} f/s = "
              f"{rc['per-frame'] / rc['fixed']:.2f}x fixed centre ({rc['fixed']:.1f} f/s, target >= 0.5x), "
              f"{rc['per-frame'] / best:.1f}x pyFAI best; sector operator build {rc['build_s']:.2f} s; alternatives "
              f"per frame, in fixed-centre integrations: own operator {rc['operator_per_frame']:.0f}, bilinear shift "
              f"{rc['shift_per_frame']:.1f}", flush=True)
    print(f"end to end, {args.frames} frames 1024x1024 .npy, chunks of {BATCH}, median of {args.repeats} runs:")
    for cache, e in bench_end_to_end(args.frames, args.repeats).items():
        steps = ", ".join(f"{k} {e[k]:.2f}" for k in ("detector", "operator", "headers", "pass", "combine") if k in e)
        print(f"  page cache {cache}: read only {e['read_s']:.2f} s ({args.frames / e['read_s']:.0f} f/s), full "
              f"reduction {e['reduce_s']:.2f} s ({args.frames / e['reduce_s']:.0f} f/s), ratio {e['ratio']:.2f} "
              f"(target < 2)\n    steps [s]: {steps}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
