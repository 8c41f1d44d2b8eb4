"""Fuzz every reader and parser: the only outcomes allowed are a correct result or one clear UedflowError.

Each frame reader gets valid files with their bytes truncated, overwritten or extended (headers most
often); the manifest and experiment parsers get structured and random text and bytes. Another
exception type, a hang (the alarm) or a file written beside the input fails the test. A new reader is
one more line in ``READERS``.
"""

import contextlib
import signal
from pathlib import Path

import h5py
import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _ringsynth import write_mib
from uedflow.config import Experiment, experiment_to_toml, load_experiment
from uedflow.errors import UedflowError
from uedflow.io import frame_info, read_frame, read_manifest

EXAMPLES = int(__import__("os").environ.get("FUZZ_N", 1000))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))
FRAMES = np.arange(2 * 6 * 5, dtype=np.uint16).reshape(2, 6, 5) + 1  # two small frames, no zero pixel


def _h5(path, frames):
    with h5py.File(path, "w") as fh:
        fh.create_dataset("entry/data", data=frames, chunks=(1, *frames.shape[1:]))


#: (reader, file suffix, writer of a valid file holding (n, rows, cols) frames); a new format is one line here
READERS = [
    ("npy", ".npy", lambda path, frames: np.save(path, frames)),
    ("tiff", ".tif", lambda path, frames: tifffile.imwrite(path, frames)),
    ("hdf5", ".h5", _h5),
    ("mib", ".mib", lambda path, frames: write_mib(path, frames)),
]


@contextlib.contextmanager
def _deadline(seconds=60):
    """Fail (instead of hanging) when the block takes longer than ``seconds``."""
    def hang(signum, frame):
        raise AssertionError(f"hang: more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _fuzz(inputs, path: Path, parse, check) -> int:
    """Write each example of ``inputs`` (bytes) to ``path`` and ``parse(path)`` it: a UedflowError of one line, or
    a result that passes ``check(data, result)``; nothing may appear beside ``path``. Returns the results seen."""
    files, tried, good = sorted(p.name for p in path.parent.iterdir() if p != path), [], []

    @FUZZ
    @given(data=inputs)
    def run(data):
        path.write_bytes(data)
        tried.append(1)
        try:
            result = parse(path)
        except UedflowError as exc:
            assert str(exc) and "\n" not in str(exc).strip()
        else:
            good.append(1)
            check(data, result)
        assert sorted(p.name for p in path.parent.iterdir()) == sorted([*files, path.name]), "wrote beside its input"

    with _deadline():
        run()
    assert len(tried) >= EXAMPLES
    return len(good)


_edits = st.lists(st.tuples(st.sampled_from(["cut", "put", "add"]), st.integers(0, 1 << 16), st.binary(max_size=8)),
                  min_size=1, max_size=4)


def _mutate(data: bytes, edits, header: int) -> bytes:
    """Apply (kind, where, what) edits; ``where`` falls in the first ``header`` bytes three times out of four."""
    for kind, where, what in edits:
        pos = where % (header if where % 4 else max(len(data), 1))
        if kind == "cut":
            data = data[:pos]
        elif kind == "put":
            data = data[:pos] + what + data[pos + len(what):]
        else:
            data = data[:pos] + what + data[pos:]
    return data


@pytest.mark.parametrize(("name", "suffix", "write"), READERS, ids=[r[0] for r in READERS])
def test_fuzzed_frame_files_give_frames_or_one_clear_error(name, suffix, write, tmp_path):
    folder = tmp_path
    path = folder / f"frame{suffix}"
    write(path, FRAMES)
    valid = path.read_bytes()

    def parse(path):
        info = frame_info(path)
        return info, [read_frame(path, i) for i in (0, info.n_frames - 1)]

    def check(data, result):
        info, frames = result
        assert all(f.shape == info.shape and f.ndim == 2 for f in frames)
        if data == valid:
            np.testing.assert_array_equal(frames[-1], FRAMES[-1])

    assert _fuzz(_edits.map(lambda e: _mutate(valid, e, header=512)), path, parse, check)


# -- manifest CSV ---------------------------------------------------------------------------------------------------

_cell = st.one_of(st.sampled_from(["a.npy", "b.npy", "missing.npy", "", "1", "-2.5", "nan", "inf", "1e400", "x"]),
                  st.integers(-3, 3).map(str), st.floats(allow_nan=True).map(str), st.text(max_size=6))
_columns = st.lists(st.sampled_from(["file", "scan", "delay_ps", "index", "dataset", "extra", "", "file"]),
                    min_size=0, max_size=6)


_row = st.tuples(st.sampled_from(["a.npy", "b.npy"]), st.integers(0, 3), st.sampled_from([-1.0, 0.0, 0.5, 2.0]))


@st.composite
def _manifest(draw):
    if draw(st.booleans()):  # well-formed header and rows (duplicates possible)
        cols = ["file", "scan", "delay_ps"]
        rows = [list(map(str, r)) for r in draw(st.lists(_row, min_size=1, max_size=4))]
    else:
        cols = draw(_columns)
        rows = draw(st.lists(st.lists(_cell, min_size=0, max_size=len(cols) + 1), max_size=5))
    text = "\n".join(",".join(r) for r in [cols, *rows]).encode()
    return draw(st.one_of(st.just(text), st.builds(lambda e: _mutate(text, e, 64), _edits)))


def test_fuzzed_manifests_give_records_or_one_clear_error(tmp_path):
    folder = tmp_path
    for name in ("a.npy", "b.npy"):
        np.save(folder / name, FRAMES[0])

    def check(data, records):
        assert records and all(r.file.is_file() and np.isfinite(r.delay_ps) for r in records)
        assert len({(r.scan, r.delay_ps) for r in records}) == len(records)

    assert _fuzz(_manifest(), folder / "frames.csv", read_manifest, check)  # some valid manifests were read


# -- experiment TOML ------------------------------------------------------------------------------------------------

VALID = {"experiment": {"name": "x", "manifest": "frames.csv", "time_zero_ps": 0.0},
         "beam": {"energy_keV": 50.0}, "detector": {"camera_length_m": 0.45, "pixel_size_m": 5e-5},
         "sample": {"material": "PbSe", "temperature_K": 90.0}, "reduce": {"n_bins": 200}}
_value = st.one_of(st.integers(-10, 10**6), st.floats(allow_nan=True), st.booleans(), st.text(max_size=8),
                   st.lists(st.floats(-2, 2), max_size=3), st.sampled_from(["PbSe", "frames.csv", "none.csv"]))
_keys = st.sampled_from(["name", "manifest", "time_zero_ps", "energy_keV", "camera_length_m", "pixel_size_m",
                         "center_rc", "material", "temperature_K", "n_bins", "s_range", "chunk_frames", "dark",
                         "typo_key", "fluence_mJ_cm2", "normalize_window", "outlier_sigma"])


@st.composite
def _experiment(draw):
    data = {sec: dict(table) for sec, table in VALID.items()}
    for _ in range(draw(st.integers(0, 3))):
        sec = draw(st.sampled_from([*VALID, "analyze", "bogus"]))
        data.setdefault(sec, {})[draw(_keys)] = draw(_value)
    if draw(st.booleans()):
        data.pop(draw(st.sampled_from(list(VALID))))
    text = experiment_to_toml(data).encode()
    return draw(st.one_of(st.just(text), st.builds(lambda e: _mutate(text, e, len(text)), _edits)))


def test_fuzzed_experiment_files_give_an_experiment_or_one_clear_error(tmp_path):
    folder = tmp_path

    def check(data, exp):
        assert isinstance(exp, Experiment) and exp.beam.energy_keV > 0

    assert _fuzz(_experiment(), folder / "experiment.toml", load_experiment, check)
