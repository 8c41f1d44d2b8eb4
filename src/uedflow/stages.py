"""Stage state: run a pipeline stage only when its configuration or inputs changed.

Each stage records, in ``OUTDIR/.uedflow-state/<stage>.json``, a hash of its
configuration and of its inputs' fingerprints (:func:`uedflow.io.file_fingerprint`;
frame files by size and modification time, so checking a terabyte run stays
cheap) together with the fingerprints of what it wrote.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from uedflow import __version__
from uedflow.errors import FileFormatError
from uedflow.io.atomic import atomic_path, file_fingerprint

__all__ = ["STATE_DIR", "StageRecord", "run_stage", "stage_key"]

log = logging.getLogger(__name__)

#: Folder (inside OUTDIR) of the per-stage state files.
STATE_DIR = ".uedflow-state"


@dataclass(frozen=True)
class StageRecord:
    """One stage of a run: its name, whether it ran or was up to date, wall time [s], outputs."""

    name: str
    ran: bool
    seconds: float
    outputs: tuple[Path, ...]


def _stat(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def stage_key(stage: str, config: Any, inputs: Sequence[Path], stat_inputs: Sequence[Path] = ()) -> str:
    """Hash of the stage, uedflow version, configuration and input fingerprints."""
    missing = [p for p in [*inputs, *stat_inputs] if not p.is_file()]
    if missing:
        raise FileFormatError(f"stage {stage}: input {missing[0]} does not exist; run the stage that makes it "
                              "or fix the path")
    blob = {"stage": stage, "version": __version__, "config": config,
            "inputs": {str(p): file_fingerprint(p) for p in inputs},
            "stat": {str(p): _stat(p) for p in stat_inputs}}
    return hashlib.sha256(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()


def _state_file(out_dir: Path, stage: str) -> Path:
    return out_dir / STATE_DIR / f"{stage}.json"


def _up_to_date(out_dir: Path, stage: str, key: str) -> bool:
    try:
        state = json.loads(_state_file(out_dir, stage).read_text())
    except (OSError, json.JSONDecodeError):
        return False
    if state.get("key") != key:
        return False
    outputs = state.get("outputs", {})
    return bool(outputs) and all(Path(p).exists() and _fingerprint(Path(p)) == fp for p, fp in outputs.items())


def _fingerprint(path: Path) -> str:
    """Fingerprint of an output file, or of a folder's listing and sizes."""
    if path.is_dir():
        listing = sorted((str(p.relative_to(path)), p.stat().st_size) for p in path.rglob("*") if p.is_file())
        return hashlib.sha256(json.dumps(listing).encode()).hexdigest()
    return file_fingerprint(path)


def run_stage(out_dir: Path, stage: str, key: str, outputs: Sequence[Path], work: Callable[[], None], *,
              force: bool) -> StageRecord:
    """Run ``work`` unless the state file says ``outputs`` were made from the same ``key``.

    Parameters
    ----------
    out_dir : Path
        Run folder holding ``STATE_DIR``.
    stage : str
        Stage name (one state file per stage).
    key : str
        :func:`stage_key` of the stage's configuration and inputs.
    outputs : sequence of Path
        Files or folders the stage writes; a missing or modified one makes it run again.
    work : callable
        Does the stage's work.
    force : bool
        Run even when up to date.
    """
    if not force and _up_to_date(out_dir, stage, key):
        log.info("%s: up to date, skipped", stage)
        return StageRecord(stage, False, 0.0, tuple(outputs))
    log.info("%s: running", stage)
    t = time.perf_counter()
    work()
    seconds = time.perf_counter() - t
    state = {"key": key, "outputs": {str(p): _fingerprint(p) for p in outputs if p.exists()},
             "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"), "seconds": round(seconds, 3),
             "uedflow_version": __version__}
    (out_dir / STATE_DIR).mkdir(exist_ok=True)
    with atomic_path(_state_file(out_dir, stage)) as tmp:
        tmp.write_text(json.dumps(state, indent=1))
    log.info("%s: done in %.2f s", stage, seconds)
    return StageRecord(stage, True, seconds, tuple(outputs))
