"""Checkpoints of the pass over the frames: an interrupted reduction resumes where it stopped.

A checkpoint is a folder (by default ``OUTPUT.partial`` beside the output file) holding

* ``state.json``: the key of the configuration and inputs it belongs to, the part files and
  the chunks they hold;
* ``part-K.npz``: the per-frame profiles (``sums``, ``var_sums``, ``totals``) and centres (``centers``,
  ``smoothing``) of the chunks finished between save K-1 and save K;
* ``raw-K.npy``: the (2, pixels) before/after-time-zero sums of the raw frames of every chunk
  finished by save K.

Every file is written under a temporary name, flushed to disk and renamed, ``state.json`` last,
so a save cut short (Ctrl-C, a killed job, a full disk, a node crash) leaves the previous save
intact. ``state.json`` holds the SHA-256 of every part, checked when the checkpoint is read: a
damaged part (truncated, zeroed, garbled) is deleted with one warning naming it and its chunks
are reduced again (their raw frames, already in ``raw-K.npy``, are taken out of it first); a
damaged ``raw-K.npy`` or ``state.json`` starts the pass afresh. A checkpoint whose key differs
(other frames, manifest, dark/flat/mask files, configuration or uedflow version) is discarded,
never mixed in.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import time
from pathlib import Path

import numpy as np

from uedflow.errors import FileFormatError
from uedflow.io.atomic import atomic_path, remove_stale

__all__ = ["PassCheckpoint", "checkpoint_folder", "chunk_rows", "discard"]

log = logging.getLogger(__name__)

_STATE = "state.json"
_PART = re.compile(r"part-(\d{5})\.npz")


def _sha256(path: Path) -> str:
    """SHA-256 (hex) of the whole file."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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
        #: chunks whose raw frames ``raw-K.npy`` holds but whose part was damaged: to be taken out and reduced again
        self.lost = np.zeros(0, int)
        self._parts: dict[str, list[int]] = {}
        self._raw: str | None = None
        self._sha: dict[str, str] = {}
        self._last = time.monotonic()
        state = self._read_state()
        if state is not None:
            self._parts, self._raw, self._sha = {k: list(v) for k, v in state["parts"].items()}, state["raw"], state["sha256"]
            self._check_parts()
            for chunks in self._parts.values():
                self.done[chunks] = True
            log.warning("resuming from checkpoint %s: %d of %d chunks are done", self.folder, self.done.sum(),
                        len(self.done))

    def _read_state(self) -> dict | None:
        path = self.folder / _STATE
        if not self.folder.exists():
            return None
        if not self.folder.is_dir():
            raise FileFormatError(f"checkpoint {self.folder} is a file, not a folder; move it away or choose "
                                  "another output name")
        for tmp in self.folder.glob(".*.tmp-*"):  # a save killed half-way (SIGKILL, node crash)
            remove_stale(self.folder / tmp.name.split(".tmp-")[0][1:])
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
            chunks = np.concatenate([np.zeros(0, int), *map(np.asarray, state["parts"].values())]).astype(int)
            damaged = not isinstance(state["sha256"], dict) or not (
                chunks.size == 0 or (chunks.min() >= 0 and chunks.max() < len(self.done)))
            valid = not damaged and state["key"] == self.key and state["n_chunks"] == len(self.done)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            valid, damaged, state = False, not isinstance(exc, FileNotFoundError), None
        if valid and self._intact(state["raw"], state["sha256"]):
            return state
        if valid:
            why = f"its raw sums {state['raw']} are damaged (checksum mismatch or missing)"
        elif damaged:
            why = f"its {path.name} is damaged"
        else:
            why = "it is incomplete or belongs to other inputs, configuration or uedflow version"
        log.warning("checkpoint %s: %s; starting afresh", self.folder, why)
        discard(self.folder)
        return None

    def _intact(self, name: str | None, sha: dict[str, str]) -> bool:
        """True when part file ``name`` (None: no file) exists and has the checksum in ``sha``."""
        if name is None:
            return True
        try:
            return _sha256(self.folder / name) == sha[name]
        except (OSError, KeyError):
            return False

    def _check_parts(self) -> None:
        """Delete the damaged parts (one warning each); their chunks go to :attr:`lost`."""
        lost = []
        for name in list(self._parts):
            if not self._intact(name, self._sha):
                chunks = self._parts.pop(name)
                (self.folder / name).unlink(missing_ok=True)
                log.warning("checkpoint part %s is damaged (checksum mismatch or missing): discarded, its %d "
                            "chunk(s) are reduced again", self.folder / name, len(chunks))
                lost.extend(chunks)
        self.lost = np.asarray(sorted(lost), int)

    def fill(self, sums: np.ndarray, var_sums: np.ndarray, totals: np.ndarray, centers: np.ndarray,
             smoothing: np.ndarray) -> np.ndarray | None:
        """Copy the saved rows into the (frames, bins) ``sums``/``var_sums``, (frames,) ``totals``/``smoothing``
        and (frames, 2) ``centers``; return the
        (2, pixels) raw before/after sums of the saved chunks (None when there are none).

        Raises
        ------
        FileFormatError
            A part file is missing or unreadable (remove the folder to start afresh).
        """
        raw = None
        try:
            for name in self._parts:
                with np.load(self.folder / name, allow_pickle=False) as part:
                    rows = chunk_rows(self.bounds, part["chunks"])
                    sums[rows], var_sums[rows], totals[rows] = part["sums"], part["var_sums"], part["totals"]
                    centers[rows], smoothing[rows] = part["centers"], part["smoothing"]
            if self._raw is not None:
                raw = np.load(self.folder / self._raw, allow_pickle=False)
        except (OSError, ValueError, KeyError, EOFError) as exc:
            raise FileFormatError(f"checkpoint {self.folder} is damaged ({exc}); remove the folder to reduce "
                                  "from the start") from None
        return raw

    def due(self) -> bool:
        """True when ``every_s`` seconds have passed since the last save (or since this object was made)."""
        return time.monotonic() - self._last >= self.every_s

    def save(self, done: np.ndarray, sums: np.ndarray, var_sums: np.ndarray, totals: np.ndarray,
             centers: np.ndarray, smoothing: np.ndarray, raw: np.ndarray) -> None:
        """Save the chunks ``done`` (chunks,) of bool: their rows of ``sums``/``var_sums``/``totals``/``centers``/
        ``smoothing`` not saved yet,
        and ``raw`` (2, pixels), the raw before/after sums of exactly those chunks."""
        new = np.flatnonzero(done & ~self.done)
        self._last = time.monotonic()
        if not new.size:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        k = 1 + max((int(_PART.fullmatch(n).group(1)) for n in self._parts), default=-1)  # type: ignore[union-attr]
        rows = chunk_rows(self.bounds, new)
        part, raw_name = f"part-{k:05d}.npz", f"raw-{k:05d}.npy"
        with atomic_path(self.folder / part) as tmp, tmp.open("wb") as fh:
            np.savez(fh, chunks=new, sums=sums[rows], var_sums=var_sums[rows], totals=totals[rows],
                     centers=centers[rows], smoothing=smoothing[rows])
        with atomic_path(self.folder / raw_name) as tmp, tmp.open("wb") as fh:
            np.save(fh, raw)
        parts = {**self._parts, part: new.tolist()}
        sha = {name: self._sha[name] for name in self._parts}
        sha[part], sha[raw_name] = _sha256(self.folder / part), _sha256(self.folder / raw_name)
        state = {"key": self.key, "n_chunks": len(self.done), "chunks": np.flatnonzero(done | self.done).tolist(),
                 "parts": parts, "raw": raw_name, "sha256": sha}
        with atomic_path(self.folder / _STATE) as tmp:
            tmp.write_text(json.dumps(state), encoding="utf-8")
        if self._raw is not None and self._raw != raw_name:
            (self.folder / self._raw).unlink(missing_ok=True)
        self._parts, self._raw, self._sha = parts, raw_name, sha
        self.done |= done
