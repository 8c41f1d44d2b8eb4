"""Checkpoints of the pass over the frames: an interrupted reduction resumes where it stopped.

A checkpoint is a folder (by default ``OUTPUT.partial`` beside the output file) holding

* ``state.json``: the key of the configuration and inputs it belongs to, the part files and
  the chunks they hold;
* ``part-K.npz``: the per-frame profiles (``sums``, ``var_sums``, ``totals``) of the chunks
  finished between save K-1 and save K;
* ``raw-K.npy``: the (2, pixels) before/after-time-zero sums of the raw frames of every chunk
  finished by save K.

Every file is written under a temporary name and renamed, ``state.json`` last, so a save cut
short (Ctrl-C, a killed job, a full disk) leaves the previous save intact. A checkpoint whose
key differs (other frames, manifest, dark/flat/mask files, configuration or uedflow version)
is discarded, never mixed in.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path

import numpy as np

from uedflow.errors import FileFormatError
from uedflow.io.atomic import atomic_path

__all__ = ["PassCheckpoint", "checkpoint_folder", "chunk_rows", "discard"]

log = logging.getLogger(__name__)

_STATE = "state.json"


def checkpoint_folder(output: str | Path) -> Path:
    """Default checkpoint folder of a reduction written to ``output``: ``OUTPUT.partial`` beside it."""
    output = Path(output)
    return output.with_name(output.name + ".partial")


def chunk_rows(bounds: np.ndarray, chunks) -> np.ndarray:
    """Frame numbers (rows) of ``chunks``, in their order; ``bounds`` holds each chunk's first frame, then the total."""
    return np.concatenate([np.arange(bounds[c], bounds[c + 1]) for c in chunks])


def discard(folder: str | Path) -> None:
    """Delete a checkpoint folder (once the reduction's output is written); nothing happens if it is absent."""
    shutil.rmtree(folder, ignore_errors=True)


class PassCheckpoint:
    """Saved progress of one pass: which chunks are finished, and their results.

    Parameters
    ----------
    folder : Path
        Checkpoint folder (created on the first save).
    key : str
        Fingerprint of everything the pass result depends on (see :func:`uedflow.stages.stage_key`).
    bounds : (chunks + 1,) ndarray of int
        First frame of each chunk, then the number of frames.
    every_s : float
        Seconds between saves (:meth:`due`).

    Attributes
    ----------
    done : (chunks,) ndarray of bool
        Chunks whose results the folder holds (read from a matching ``state.json``).
    """

    def __init__(self, folder: str | Path, key: str, bounds: np.ndarray, *, every_s: float = 60.0) -> None:
        self.folder, self.key, self.bounds, self.every_s = Path(folder), key, np.asarray(bounds), float(every_s)
        self.done = np.zeros(len(self.bounds) - 1, bool)
        self._parts: list[str] = []
        self._raw: str | None = None
        self._last = time.monotonic()
        state = self._read_state()
        if state is not None:
            self.done[np.asarray(state["chunks"], int)] = True
            self._parts, self._raw = list(state["parts"]), state["raw"]

    def _read_state(self) -> dict | None:
        path = self.folder / _STATE
        if not self.folder.exists():
            return None
        if not self.folder.is_dir():
            raise FileFormatError(f"checkpoint {self.folder} is a file, not a folder; move it away or choose "
                                  "another output name")
        try:
            state = json.loads(path.read_text())
            chunks = np.asarray(state["chunks"], int)
            valid = state["key"] == self.key and state["n_chunks"] == len(self.done) and (
                chunks.size == 0 or (chunks.min() >= 0 and chunks.max() < len(self.done)))
        except (OSError, ValueError, KeyError, TypeError):
            valid, state = False, None
        if valid:
            log.warning("resuming from checkpoint %s: %d of %d chunks are done", self.folder, len(state["chunks"]),
                        len(self.done))
            return state
        log.warning("checkpoint %s is incomplete or belongs to other inputs, configuration or uedflow version; "
                    "starting afresh", self.folder)
        discard(self.folder)
        return None

    def fill(self, sums: np.ndarray, var_sums: np.ndarray, totals: np.ndarray) -> np.ndarray | None:
        """Copy the saved rows into the (frames, bins) ``sums``/``var_sums`` and (frames,) ``totals``; return the
        (2, pixels) raw before/after sums of the saved chunks (None when there are none).

        Raises
        ------
        FileFormatError
            A part file is missing or unreadable (remove the folder to start afresh).
        """
        raw = None
        try:
            for name in self._parts:
                with np.load(self.folder / name) as part:
                    rows = chunk_rows(self.bounds, part["chunks"])
                    sums[rows], var_sums[rows], totals[rows] = part["sums"], part["var_sums"], part["totals"]
            if self._raw is not None:
                raw = np.load(self.folder / self._raw)
        except (OSError, ValueError, KeyError) as exc:
            raise FileFormatError(f"checkpoint {self.folder} is damaged ({exc}); remove the folder to reduce "
                                  "from the start") from None
        return raw

    def due(self) -> bool:
        """True when ``every_s`` seconds have passed since the last save (or since this object was made)."""
        return time.monotonic() - self._last >= self.every_s

    def save(self, done: np.ndarray, sums: np.ndarray, var_sums: np.ndarray, totals: np.ndarray,
             raw: np.ndarray) -> None:
        """Save the chunks ``done`` (chunks,) of bool: their rows of ``sums``/``var_sums``/``totals`` not saved yet,
        and ``raw`` (2, pixels), the raw before/after sums of exactly those chunks."""
        new = np.flatnonzero(done & ~self.done)
        self._last = time.monotonic()
        if not new.size:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        k = len(self._parts)
        rows = chunk_rows(self.bounds, new)
        part, raw_name = f"part-{k:05d}.npz", f"raw-{k:05d}.npy"
        with atomic_path(self.folder / part) as tmp, tmp.open("wb") as fh:
            np.savez(fh, chunks=new, sums=sums[rows], var_sums=var_sums[rows], totals=totals[rows])
        with atomic_path(self.folder / raw_name) as tmp, tmp.open("wb") as fh:
            np.save(fh, raw)
        state = {"key": self.key, "n_chunks": len(self.done), "parts": [*self._parts, part], "raw": raw_name,
                 "chunks": np.flatnonzero(done | self.done).tolist()}
        with atomic_path(self.folder / _STATE) as tmp:
            tmp.write_text(json.dumps(state))
        if self._raw is not None:
            (self.folder / self._raw).unlink(missing_ok=True)
        self._parts, self._raw = state["parts"], raw_name
        self.done |= done
