"""The whole chain in one call: (simulate →) reduce → analyze → report, skipping what is up to date.

Each stage records, in ``OUTDIR/.uedflow-state/<stage>.json``, a hash of its
configuration and of its inputs' fingerprints (:func:`uedflow.io.file_fingerprint`;
frame files by size and modification time, so checking a terabyte run stays
cheap) together with the fingerprints of what it wrote. A stage runs again only
when that hash changes, an output is missing or was modified, or ``force=True``.
Every run appends to ``OUTDIR/uedflow.log``.

Layout of ``OUTDIR`` for one experiment: ``reduced.h5``, ``dynamics.h5``,
``traces.csv``, ``fits.csv``, ``report.html``, ``explore.html``, ``figures/``. Several
experiments go to one sub-folder each (named after the experiment), with one
combined ``report.html`` on top when compared.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uedflow import __version__
from uedflow.config import Experiment, load_experiment
from uedflow.errors import FileFormatError, InputError, UedflowError
from uedflow.stages import STATE_DIR, StageRecord, run_stage, stage_key

__all__ = [
    "PAPER_PRESETS",
    "STATE_DIR",
    "RunResult",
    "RunSet",
    "StageRecord",
    "report_files",
    "run_demo",
    "run_experiment",
    "run_many",
]

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None] | None

#: Presets of the virtual experiment that mirror the paper (individual/attached dots, 90/300 K).
PAPER_PRESETS = ("pbse-individual-90K", "pbse-attached-90K", "pbse-attached-300K")
_TICKS = 1000  # resolution of the overall progress bar


@dataclass(frozen=True)
class RunResult:
    """Outcome of :func:`run_experiment`: the files of each stage and what ran."""

    out_dir: Path
    reduced: Path
    dynamics: Path
    report: Path | None
    stages: tuple[StageRecord, ...]
    seconds: float

    @property
    def ran(self) -> tuple[str, ...]:
        """Names of the stages that ran (the others were up to date)."""
        return tuple(s.name for s in self.stages if s.ran)

    def summary(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {"out_dir": str(self.out_dir), "reduced": str(self.reduced), "dynamics": str(self.dynamics),
                "report": str(self.report) if self.report else None, "seconds": round(self.seconds, 3),
                "stages": [{"name": s.name, "ran": s.ran, "seconds": round(s.seconds, 3)} for s in self.stages]}


@dataclass(frozen=True)
class RunSet:
    """Outcome of :func:`run_many` / :func:`run_demo`: one :class:`RunResult` per experiment and the report."""

    runs: tuple[RunResult, ...]
    report: Path | None
    seconds: float
    stages: tuple[StageRecord, ...] = ()

    @property
    def ran(self) -> tuple[str, ...]:
        """Stages that ran, as ``folder:stage`` (per experiment) or ``stage`` (simulation, combined report)."""
        inner = tuple(f"{r.out_dir.name}:{s}" for r in self.runs for s in r.ran)
        return tuple(s.name for s in self.stages if s.ran and ":" in s.name) + inner + \
            tuple(s.name for s in self.stages if s.ran and ":" not in s.name)

    def summary(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {"report": str(self.report) if self.report else None, "seconds": round(self.seconds, 3),
                "runs": [r.summary() for r in self.runs], "ran": list(self.ran)}


# -- progress -----------------------------------------------------------------------------------------------------


class _Steps:
    """Map the progress of step k of n onto one overall ``callback(done, total)``."""

    def __init__(self, callback: Progress, n: int) -> None:
        self.callback, self.n = callback, max(n, 1)

    def step(self, k: int) -> Callable[[int, int], None]:
        def update(done: int, total: int) -> None:
            if self.callback is not None:
                frac = min(max(done / total, 0.0), 1.0) if total else 1.0
                self.callback(int(_TICKS * (k + frac) / self.n), _TICKS)

        return update

    def sub(self, k: int, n: int) -> _Steps:
        """Steps 0..n-1 inside step k (for nested runs)."""
        return _Steps(self.step(k), n)


@contextlib.contextmanager
def _logging_to(out_dir: Path) -> Iterator[None]:
    """Append uedflow's log records (INFO and up) to ``OUTDIR/uedflow.log`` for the duration."""
    logger = logging.getLogger("uedflow")
    if any(getattr(h, "_uedflow_run", False) for h in logger.handlers):  # nested run: already logging
        yield
        return
    handler = logging.FileHandler(out_dir / "uedflow.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    handler._uedflow_run = True  # type: ignore[attr-defined]
    console = _ToRoot(logger.getEffectiveLevel())
    saved = (logger.level, logger.propagate)
    logger.setLevel(min(logging.INFO, logger.getEffectiveLevel()))
    logger.propagate = False  # the file gets INFO; the console keeps its own level through _ToRoot
    logger.addHandler(handler)
    logger.addHandler(console)
    try:
        yield
    except BaseException as exc:
        logger.removeHandler(console)  # to the log file only: the command line prints the error once itself
        log.error("failed: %s", exc or type(exc).__name__)
        raise
    finally:
        logger.removeHandler(handler)
        logger.removeHandler(console)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
        handler.close()


class _ToRoot(logging.Handler):
    """Forward records at or above the level the caller had configured to the root handlers (console)."""

    def emit(self, record: logging.LogRecord) -> None:
        for h in logging.getLogger().handlers:
            if record.levelno >= h.level:
                h.handle(record)


def _prepare_out_dir(out_dir: str | Path) -> Path:
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise FileFormatError(f"output folder {out} exists and is a file; choose another -o")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FileFormatError(f"cannot create output folder {out} ({exc.strerror}); choose another -o") from None
    return out


# -- stages -------------------------------------------------------------------------------------------------------


def _truth_of(exp: Experiment) -> Path | None:
    if exp.path is None:
        return None
    truth = exp.path.parent / "truth.json"
    return truth if truth.is_file() else None


def run_experiment(experiment_path: str | Path, out_dir: str | Path, *, scheduler: str | None = None,
                   progress: Progress = None, force: bool = False, report: bool = True) -> RunResult:
    """Reduce, analyse and report one experiment, skipping stages whose inputs have not changed.

    Parameters
    ----------
    experiment_path : str or Path
        Experiment TOML file (see :mod:`uedflow.config`).
    out_dir : str or Path
        Output folder (created); gets ``reduced.h5``, ``dynamics.h5`` (+ CSVs),
        ``report.html``, ``figures/``, ``uedflow.log``.
    scheduler : str, optional
        ``dask.distributed`` scheduler address for the reduction; default local threads.
    progress : callable, optional
        ``progress(done, total)`` over the whole run.
    force : bool
        Run every stage even if up to date.
    report : bool
        Write the report (``False`` when a combined report is made instead).

    Raises
    ------
    ConfigError, FileFormatError
        Bad experiment file (the key and the nearest valid one are named),
        missing inputs, or ``out_dir`` is a file. Nothing is written then.
    """
    from uedflow.reduce.pipeline import reduce_inputs

    exp = load_experiment(experiment_path)
    inputs, frames = reduce_inputs(exp)
    out = _prepare_out_dir(out_dir)
    steps = _Steps(progress, 3 if report else 2)
    t0 = time.perf_counter()
    with _logging_to(out):
        log.info("run %s -> %s (uedflow %s)", exp.path, out, __version__)
        records = [_reduce_stage(exp, out, inputs, frames, scheduler, steps.step(0), force)]
        records.append(_analyze_stage(exp, out, steps.step(1), force))
        reduced, dynamics = out / "reduced.h5", out / "dynamics.h5"
        if report:
            from uedflow.report import load_sample

            def work() -> None:
                sample = load_sample(dynamics, reduced_path=reduced, truth_path=_truth_of(exp), label=_label(exp))
                _write_report([sample], out, title=f"uedflow report — {exp.name}", progress=steps.step(2))

            truth = _truth_of(exp)
            key = stage_key("report", {"name": exp.name}, [dynamics, reduced, *([truth] if truth else [])])
            records.append(run_stage(out, "report", key, [out / "report.html", out / "figures", out / "explore.html"], work, force=force))
        steps.step(len(records) - 1)(1, 1)
        result = RunResult(out, reduced, dynamics, out / "report.html" if report else None, tuple(records),
                           time.perf_counter() - t0)
        log.info("finished: %s", json.dumps(result.summary()))
    return result


def _reduce_stage(exp: Experiment, out: Path, inputs: list[Path], frames: list[Path], scheduler: str | None,
                  progress: Callable[[int, int], None], force: bool) -> StageRecord:
    from uedflow.reduce import reduce_experiment, write_reduced
    from uedflow.reduce.checkpoint import checkpoint_folder, discard
    from uedflow.reduce.pipeline import reduce_config

    key = stage_key("reduce", reduce_config(exp), inputs, frames)
    reduced = out / "reduced.h5"

    def work() -> None:
        ds = reduce_experiment(exp, scheduler=scheduler, progress=progress, checkpoint=checkpoint_folder(reduced))
        write_reduced(ds, reduced, experiment=exp)
        discard(checkpoint_folder(reduced))

    return run_stage(out, "reduce", key, [reduced], work, force=force)


def _analyze_stage(exp: Experiment, out: Path, progress: Callable[[int, int], None], force: bool) -> StageRecord:
    from uedflow.dynamics import analyze, write_dynamics
    from uedflow.reduce import open_reduced

    reduced = out / "reduced.h5"
    config = dataclasses.asdict(exp.analyze)
    key = stage_key("analyze", config, [reduced])

    def work() -> None:
        ds = analyze(open_reduced(reduced), config=exp.analyze, progress=progress)
        write_dynamics(ds, out / "dynamics.h5", config=config, inputs=[reduced])

    outputs = [out / "dynamics.h5", out / "traces.csv", out / "fits.csv"]
    return run_stage(out, "analyze", key, outputs, work, force=force)


def _write_report(samples: Sequence[Any], out: Path, *, title: str, comparison: Any = None,
                  progress: Callable[[int, int], None] | None = None) -> Path:
    from uedflow.dynamics.crystal_axes import is_axes
    from uedflow.report import write_report
    from uedflow.report.axes import write_axes_report

    if any(is_axes(s.dynamics) for s in samples):  # non-cubic: per-axis report
        return write_axes_report(samples, out, title=title, progress=progress).html
    return write_report(samples, out, title=title, comparison=comparison, progress=progress).html


def _compare(samples: Sequence[Any]) -> Any:
    """:func:`uedflow.dynamics.compare` of the samples, or None (logged) when it cannot be made."""
    from uedflow.dynamics.crystal_axes import is_axes

    if len(samples) < 2:
        return None
    if any(is_axes(s.dynamics) for s in samples):
        log.warning("comparison skipped: the ring-by-ring comparison is for cubic samples")
        return None
    try:
        from uedflow.dynamics import compare
    except ImportError:
        log.warning("uedflow.dynamics.compare is not available; report without the comparison table")
        return None
    try:
        return compare([s.dynamics for s in samples], labels=[s.name for s in samples])
    except UedflowError as exc:
        log.warning("comparison skipped: %s", exc)
        return None


def _folder_names(names: Sequence[str]) -> list[str]:
    """File-system-safe, unique folder names for experiments."""
    out: list[str] = []
    for name in names:
        base = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "experiment"
        cand, k = base, 2
        while cand in out:
            cand, k = f"{base}-{k}", k + 1
        out.append(cand)
    return out


def run_many(experiment_paths: Sequence[str | Path], out_dir: str | Path, *, compare: bool = True,
             scheduler: str | None = None, progress: Progress = None, force: bool = False,
             title: str = "uedflow report") -> RunSet:
    """Run several experiments into ``OUTDIR/<name>/``; with ``compare``, one combined ``OUTDIR/report.html``.

    Every experiment file is checked before anything runs. Without ``compare``
    each experiment gets its own report in its folder.
    """
    if not experiment_paths:
        raise InputError("no experiment files given; pass one or more EXPERIMENT.toml")
    exps = [load_experiment(p) for p in experiment_paths]  # fail early, before any output
    out = _prepare_out_dir(out_dir)
    return _run_set(exps, _folder_names([e.name for e in exps]), out, compare=compare, scheduler=scheduler,
                    progress=progress, force=force, title=title)


def _label(exp: Experiment) -> str:
    return exp.sample.label or exp.name


def _run_set(exps: Sequence[Experiment], folders: Sequence[str], out: Path, *, compare: bool, scheduler: str | None,
             progress: Progress, force: bool, title: str) -> RunSet:
    steps = _Steps(progress, len(exps) + (1 if compare else 0))
    t0 = time.perf_counter()
    runs = [run_experiment(e.path, out / n, scheduler=scheduler, progress=steps.step(k), force=force,
                           report=not compare) for k, (e, n) in enumerate(zip(exps, folders, strict=True))]
    report, stages = None, ()
    if compare:
        with _logging_to(out):
            rec = _combined_report(runs, [_label(e) for e in exps], [_truth_of(e) for e in exps], out,
                                   title=title, progress=steps.step(len(exps)), force=force)
        report, stages = out / "report.html", (rec,)
    return RunSet(tuple(runs), report, time.perf_counter() - t0, stages)


def _combined_report(runs: Sequence[RunResult], labels: Sequence[str], truths: Sequence[Path | None], out: Path, *,
                     title: str, progress: Callable[[int, int], None], force: bool) -> StageRecord:
    from uedflow.report import load_sample

    def work() -> None:
        samples = [load_sample(r.dynamics, reduced_path=r.reduced, truth_path=t, label=lab)
                   for r, t, lab in zip(runs, truths, labels, strict=True)]
        _write_report(samples, out, title=title, comparison=_compare(samples), progress=progress)

    inputs = [p for r, t in zip(runs, truths, strict=True) for p in (r.dynamics, r.reduced, t) if p is not None]
    key = stage_key("report", {"labels": list(labels), "title": title}, inputs)
    return run_stage(out, "report", key, [out / "report.html", out / "figures", out / "explore.html"], work, force=force)


def report_files(dynamics_paths: Sequence[str | Path], out_dir: str | Path, *, labels: Sequence[str] | None = None,
                 compare: bool = True, progress: Progress = None) -> Path:
    """The report of already analysed ``dynamics.h5`` files (``uedflow report``); returns ``report.html``.

    The reduced data and truth of each file are found beside it (see
    :func:`uedflow.report.load_sample`).
    """
    from uedflow.report import load_sample

    if not dynamics_paths:
        raise InputError("no dynamics files given; pass one or more dynamics.h5 written by `uedflow analyze`")
    if labels is not None and len(labels) != len(dynamics_paths):
        raise InputError(f"got {len(labels)} labels for {len(dynamics_paths)} files; give one label per file")
    samples = [load_sample(p, label=labels[k] if labels else None) for k, p in enumerate(dynamics_paths)]
    out = _prepare_out_dir(out_dir)
    with _logging_to(out):
        return _write_report(samples, out, title="uedflow report", comparison=_compare(samples) if compare else None,
                             progress=progress)


def run_demo(out_dir: str | Path, *, presets: Sequence[str] = PAPER_PRESETS, seed: int = 0,
             progress: Progress = None, force: bool = False) -> RunSet:
    """Simulate the paper's virtual experiments and run each end to end; one report in ``OUTDIR/report.html``.

    Each preset gets ``OUTDIR/<preset>/`` with the simulated frames in ``data/``
    and the stage outputs beside them. Re-running skips what is up to date.

    Parameters
    ----------
    out_dir : str or Path
        Output folder.
    presets : sequence of str
        Virtual-experiment presets (default the paper's three).
    seed : int
        Seed of the simulated noise.
    progress : callable, optional
        ``progress(done, total)`` over the whole demo.
    force : bool
        Re-run every stage.
    """
    from uedflow.simulate import get_preset, simulate_experiment

    if not presets:
        raise InputError("run_demo got no presets; give at least one, e.g. 'small'")
    presets = list(dict.fromkeys(presets))  # a preset given twice is run once
    for preset in presets:  # unknown names fail here, before any output
        get_preset(preset)
    out = _prepare_out_dir(out_dir)
    steps = _Steps(progress, 2)
    sim_steps = steps.sub(0, len(presets))
    t0 = time.perf_counter()
    exp_files, simulated = [], []
    with _logging_to(out):
        for k, preset in enumerate(presets):
            data = out / preset / "data"
            data.parent.mkdir(exist_ok=True)

            def work(preset: str = preset, data: Path = data, k: int = k) -> None:
                simulate_experiment(preset, data, seed=seed, progress=sim_steps.step(k))  # writes atomically

            key = stage_key("simulate", {"preset": preset, "seed": seed}, [])
            rec = run_stage(out / preset, "simulate", key, [data / "experiment.toml", data / "truth.json"], work,
                             force=force)
            simulated.append(dataclasses.replace(rec, name=f"{preset}:simulate"))
            exp_files.append(data / "experiment.toml")
    exps = [load_experiment(p) for p in exp_files]
    result = _run_set(exps, list(presets), out, compare=True, scheduler=None, progress=steps.step(1), force=force,
                      title="uedflow demo — virtual PbSe quantum-dot UED experiment")
    return RunSet(result.runs, result.report, time.perf_counter() - t0, (*simulated, *result.stages))
