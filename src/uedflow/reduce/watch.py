"""Live reduction during a beamtime: reduce the frames that have landed, again as more land.

:func:`watch_experiment` polls the experiment's frames: the rows of its manifest whose file exists and
holds the frame (a multi-frame HDF5/MIB/npy file may still be growing), or, with ``pattern``, the files
of the data folder whose names give scan and delay (:func:`uedflow.config.manifest_rows`). When
``every_frames`` new frames have landed, or ``every_s`` seconds have passed with at least one, it
writes the frames seen so far to ``OUT/frames-landed.csv`` (in the order a batch manifest has) and
runs the same reduction as ``uedflow reduce`` on them, with the same checkpoint folder and atomic
write of ``OUT/reduced.h5``, and rewrites the explorer page (``explore.html``, reloading itself). The
peak and kinetic fits (``dynamics.h5``) of the newest reduction run meanwhile in a background process
and join the page when done. Once every frame has landed, ``reduced.h5`` is the batch reduction of the
same frames. Each update is one pass over every landed frame (a reduction is not resumed from the
previous one: the centre and masks come from frames spread over the whole run, so they change as it
grows). Stopped and restarted, it continues: frames already reduced are not counted as new, and the
next update covers them all.
"""

from __future__ import annotations

import csv
import logging
import multiprocessing
import os
import re
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from pathlib import Path

import xarray as xr

from uedflow.config import Experiment, load_experiment
from uedflow.errors import ConfigError, UedflowError
from uedflow.io import atomic_path, frame_info, manifest_rows, write_manifest

__all__ = ["WatchUpdate", "landed_rows", "watch_experiment"]

log = logging.getLogger(__name__)

LANDED = "frames-landed.csv"


@dataclass(frozen=True)
class WatchUpdate:
    """One update of a watch: when, how many frames, what was written, and why something was not."""

    time: float
    n_frames: int
    reduced: Path | None
    dynamics: Path | None
    explorer: Path | None
    message: str


class _Probe:
    """Frame counts of files by (path, dataset, size, mtime): a poll reads the header of new or changed files
    only, so watching a folder of thousands of frames stays cheap."""

    def __init__(self) -> None:
        self.n_frames: dict[tuple, int] = {}
        self.rows: tuple[tuple[Path, ...], list[dict]] = ((), [])

    def has_frame(self, path: Path, index: int | None, dataset: str | None) -> bool:
        """True when ``path`` exists and holds frame ``index`` (a growing multi-frame file may not yet)."""
        try:
            st = path.stat()
        except OSError:
            return False
        key = (path, dataset, st.st_size, st.st_mtime_ns)
        if key not in self.n_frames:
            try:
                self.n_frames[key] = frame_info(path, dataset).n_frames
            except (UedflowError, OSError):  # still being written
                return False
        return (index or 0) < self.n_frames[key]

    def pattern_rows(self, files: list[Path], folder: Path, pattern: str) -> list[dict]:
        """:func:`uedflow.config.manifest_rows` of ``files``, made again only when they change."""
        if tuple(files) != self.rows[0]:
            self.rows = (tuple(files), manifest_rows(files, folder, pattern=pattern) if files else [])
        return self.rows[1]


def landed_rows(exp: Experiment, *, pattern: str | None = None, probe: _Probe | None = None) -> list[dict]:
    """Manifest rows (file given absolute) of the frames that have landed, in batch-manifest order.

    Without ``pattern``: the rows of the experiment's manifest (which may name frames still to come)
    whose frame is on disk. With ``pattern``: every readable file of the manifest's folder whose name
    matches (see :func:`uedflow.config.manifest_rows`). ``probe`` remembers the files seen by earlier calls.
    """
    probe = probe or _Probe()
    folder = Path(exp.manifest).parent
    if pattern is not None:
        regex = re.compile(pattern)
        files = [folder / n for n in sorted(os.listdir(folder)) if regex.search(n)]
        rows = probe.pattern_rows([f for f in files if probe.has_frame(f, 0, None)], folder, pattern)
        return [{**r, "file": str((folder / r["file"]).resolve())} for r in rows]
    try:
        with open(exp.manifest, newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError:
        return []
    out = []
    for r in rows:
        path = (folder / (r.get("file") or "")).resolve()
        index = int(r["index"]) if r.get("index") not in (None, "") else None
        if r.get("file") and probe.has_frame(path, index, r.get("dataset") or None):
            out.append({**r, "file": str(path)})
    return out


def _reduce(exp: Experiment, rows: list[dict], out: Path) -> xr.Dataset:
    """Reduce the landed frames to OUT/reduced.h5, with the checkpoint and atomic write of ``uedflow reduce``."""
    from uedflow.reduce.checkpoint import checkpoint_folder, discard
    from uedflow.reduce.pipeline import reduce_experiment, write_reduced

    landed = out / LANDED
    with atomic_path(landed) as tmp:
        write_manifest(tmp, rows)
    sub = replace(exp, manifest=landed)
    reduced = out / "reduced.h5"
    ds = reduce_experiment(sub, checkpoint=checkpoint_folder(reduced))
    write_reduced(ds, reduced, experiment=sub)
    discard(checkpoint_folder(reduced))
    return ds


def _fit_pool() -> ProcessPoolExecutor:
    """One process for the fits: in a thread, their Python-level work would hold the GIL and starve the reductions."""
    return ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))


class _Live:
    """The outputs of a watch: the explorer of the newest reduction, and its peak and kinetic fits, which run
    in a background process so that reductions keep pace with the frames (a fit of the whole series takes
    longer than a reduction); the explorer shows the newest fits next to the newest profiles."""

    def __init__(self, exp: Experiment, out: Path, *, analyze: bool, refresh_s: float) -> None:
        from uedflow.report import explorer  # imported before frames land: it takes seconds on a busy machine

        self.page = explorer
        self.exp, self.out, self.analyze, self.refresh_s = exp, out, analyze, refresh_s
        self.pool = _fit_pool() if analyze else None
        self.running: tuple[Future, int] | None = None
        self.waiting: tuple[xr.Dataset, int] | None = None
        self.dynamics: Path | None = None
        self.n_reduced = 0

    def explorer(self) -> Path:
        return self.page.write_explorer(self.out / "reduced.h5", [self.dynamics] if self.dynamics else [],
                                        self.out / self.page.EXPLORER_NAME, refresh_s=self.refresh_s,
                                        title=f"uedflow live — {self.exp.name} ({self.n_reduced} frames)")

    def reduced(self, ds: xr.Dataset, n_frames: int) -> WatchUpdate:
        """A new reduction is on disk: show it, and fit it (now, or after the fit under way)."""
        self.n_reduced = n_frames
        if self.pool is not None:
            self.waiting = (ds, n_frames)
            self._start()
        return WatchUpdate(time.time(), n_frames, self.out / "reduced.h5", self.dynamics, self.explorer(), "reduced")

    def _start(self) -> None:
        if self.running is None and self.waiting is not None:
            from uedflow.dynamics import analyze

            ds, n = self.waiting
            self.running, self.waiting = (self.pool.submit(analyze, ds, config=self.exp.analyze), n), None

    def poll(self, *, wait: bool = False) -> WatchUpdate | None:
        """Write the fits once the background fit is done (``wait``: block for it); None while it runs."""
        if self.running is None or not (wait or self.running[0].done()):
            return None
        from uedflow.dynamics import write_dynamics

        future, n = self.running
        self.running = None
        try:
            self.dynamics = write_dynamics(future.result(), self.out / "dynamics.h5", inputs=[self.out / "reduced.h5"])
            message = f"analysed (fits of {n} frames)"
        except UedflowError as exc:
            message = f"not analysed yet ({exc})"
        except BrokenProcessPool as exc:  # the fitting process died (out of memory, killed): keep reducing
            log.warning("watch: the fitting process stopped (%s); fits of later reductions start a new one", exc)
            self.pool = _fit_pool()
            message = "not analysed (the fitting process stopped)"
        self._start()
        return WatchUpdate(time.time(), n, None, self.dynamics, self.explorer(), message)

    def abandon(self) -> None:
        """Stop without waiting for the fit under way."""
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> list[WatchUpdate]:
        """Finish the fits still to do (the last reduction's included)."""
        done = []
        while self.running is not None:
            done.append(self.poll(wait=True))
        if self.pool is not None:
            self.pool.shutdown()
        return done


def watch_experiment(
    experiment: str | Path | Experiment,
    out_dir: str | Path,
    *,
    pattern: str | None = None,
    every_frames: int = 1,
    every_s: float = 10.0,
    poll_s: float = 0.5,
    idle_stop_s: float | None = None,
    analyze: bool = True,
    refresh_s: float = 5.0,
    on_update: Callable[[WatchUpdate], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[WatchUpdate]:
    """Reduce an experiment's frames as they land, until stopped (Ctrl-C, ``should_stop``, or idle).

    Parameters
    ----------
    experiment : path or Experiment
        The experiment file (its manifest may list frames still to come).
    out_dir : path
        Folder of ``reduced.h5``, ``dynamics.h5``, ``explore.html`` and ``frames-landed.csv``.
    pattern : str, optional
        Read scan and delay from the names of the files in the manifest's folder instead of the manifest.
    every_frames : int
        Update after this many new frames...
    every_s : float
        ...or after this many seconds [s] with at least one new frame.
    poll_s : float
        Seconds between looks at the folder.
    idle_stop_s : float, optional
        Stop after this many seconds without a new frame (default: run until stopped).
    analyze : bool
        Also fit the peaks and kinetics at each update (once the series has enough delays).
    refresh_s : float
        The explorer page reloads itself this often [s].
    on_update : callable, optional
        Called with each :class:`WatchUpdate`.
    should_stop : callable, optional
        Polled; True ends the watch after the pending update.

    Returns
    -------
    list of WatchUpdate
        The updates made.
    """
    exp = experiment if isinstance(experiment, Experiment) else load_experiment(experiment)
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"watch: pattern {pattern!r} is not a regular expression ({exc})") from None
    if every_frames < 1 or not every_s > 0 or not poll_s > 0:
        raise ConfigError(f"watch: every_frames must be >= 1 and every_s, poll_s > 0 (got {every_frames}, {every_s}, "
                          f"{poll_s})")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    done = attempted = _already_reduced(out)
    probe = _Probe()
    live = _Live(exp, out, analyze=analyze, refresh_s=refresh_s)
    updates: list[WatchUpdate] = []

    def report(upd: WatchUpdate) -> None:
        updates.append(upd)
        log.info("watch: %d frames, %s", upd.n_frames, upd.message)
        if on_update is not None:
            on_update(upd)

    seen, last_new, last_update = done, time.monotonic(), time.monotonic()
    try:
        while True:
            rows = landed_rows(exp, pattern=pattern, probe=probe)
            now = time.monotonic()
            if len(rows) > seen:
                seen, last_new = len(rows), now
            stop = (should_stop is not None and should_stop()) or (
                idle_stop_s is not None and now - last_new >= idle_stop_s)
            if seen > done and (seen - attempted >= every_frames or now - last_update >= every_s or stop) and \
                    _spans_time_zero(rows, exp):
                attempted = len(rows)
                try:
                    report(live.reduced(_reduce(exp, rows, out), len(rows)))
                    done = len(rows)
                except UedflowError as exc:  # e.g. no frame after time zero yet: try again with more frames
                    report(WatchUpdate(time.time(), len(rows), None, None, None, f"waiting: {exc}"))
                last_update = time.monotonic()
                if not (stop and done < len(rows)):
                    continue
            fitted = live.poll()
            if fitted is not None:
                report(fitted)
            if stop:
                break
            time.sleep(poll_s)
    except BaseException:
        live.abandon()  # Ctrl-C: stop now; the reduction on disk is complete, its fits are not waited for
        raise
    for upd in live.close():
        report(upd)
    return updates


def _spans_time_zero(rows: list[dict], exp: Experiment) -> bool:
    """True when the landed frames have delays before and after time zero (else a reduction cannot be made)."""
    delays = [float(r["delay_ps"]) - exp.time_zero_ps for r in rows]
    return any(d < 0 for d in delays) and any(d > 0 for d in delays)


def _already_reduced(out: Path) -> int:
    """Frames in the last update's reduction (0 if there is none): a restarted watch continues from there."""
    landed, reduced = out / LANDED, out / "reduced.h5"
    if not (landed.is_file() and reduced.is_file() and reduced.stat().st_mtime >= landed.stat().st_mtime - 1):
        return 0
    with landed.open(newline="") as fh:
        return sum(1 for _ in csv.DictReader(fh))
