"""Experiment files (TOML) and frame manifests (CSV).

An experiment file describes one UED measurement::

    [experiment]
    name = "pbse-attached-90K"
    manifest = "frames.csv"          # columns file,scan,delay_ps; paths relative to it
    time_zero_ps = 0.0               # nominal time zero [ps]

    [beam]
    energy_keV = 50.0                # electron kinetic energy [keV]

    [detector]
    camera_length_m = 0.45           # sample-detector distance [m]
    pixel_size_m = 5.0e-5            # [m]
    center_rc = [511.7, 512.2]       # optional (row, col) [px]; found if absent
    dark = "dark.npy"                # optional dark frame
    flat = "flat.npy"                # optional flat field
    mask = "mask.npy"                # optional user mask, True = valid pixel
    saturation = 65535               # optional saturation level [counts]; default for integer
                                     # frames: their type's largest value (65535 for uint16)
    gain = 1.0                       # optional counts per electron (shot-noise variance g·counts)
    read_noise_counts = 2.0          # optional read-noise σ per pixel [counts]

    [sample]
    material = "PbSe"                # built-in, or give [sample.structure]
    lattice_constant_angstrom = 6.12 # optional override [Å]
    temperature_K = 90.0
    fluence_mJ_cm2 = 3.6
    diameter_nm = 5.5
    pump_wavelength_nm = 800.0

    [reduce]                         # optional, all keys have defaults
    [analyze]                        # optional, all keys have defaults

Every key is checked: a misspelt key is an error that names the nearest valid
key. Relative paths are resolved against the experiment file's folder.
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import math
import os
import stat
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from uedflow.errors import ConfigError

__all__ = [
    "BeamConfig",
    "DetectorConfig",
    "SampleConfig",
    "ReduceConfig",
    "AnalyzeConfig",
    "read_text",
    "Experiment",
    "FrameRecord",
    "manifest_rows",
    "load_experiment",
    "experiment_from_dict",
    "read_manifest",
    "write_manifest",
    "experiment_to_toml",
]


@dataclass(frozen=True)
class BeamConfig:
    """Electron beam: kinetic energy [keV]."""

    energy_keV: float = 50.0


@dataclass(frozen=True)
class DetectorConfig:
    """Flat detector normal to the beam. Lengths in m, center in pixels (row, col)."""

    camera_length_m: float = 0.5
    pixel_size_m: float = 5.0e-5
    center_rc: tuple[float, float] | None = None
    dark: str | None = None
    flat: str | None = None
    mask: str | None = None
    saturation: float | None = None
    gain: float = 1.0
    read_noise_counts: float = 0.0


@dataclass(frozen=True)
class SampleConfig:
    """Sample: material (built-in name) or a structure description, conditions."""

    material: str = "PbSe"
    structure: dict[str, Any] | None = None
    lattice_constant_angstrom: float | None = None
    temperature_K: float = 300.0
    fluence_mJ_cm2: float | None = None
    diameter_nm: float | None = None
    pump_wavelength_nm: float = 800.0
    label: str | None = None


@dataclass(frozen=True)
class ReduceConfig:
    """Reduction options. s values in Å⁻¹."""

    s_range: tuple[float, float] | None = None
    n_bins: int = 600
    normalize_window: tuple[float, float] | None = None
    outlier_sigma: float = 5.0
    find_center: bool = True
    calibrate_camera_length: bool = False
    chunk_frames: int = 32


@dataclass(frozen=True)
class AnalyzeConfig:
    """Peak and kinetics analysis options. s in Å⁻¹, times in ps, T in K.

    ``irf_fwhm_ps`` is the instrument response FWHM (None: the reduced file's
    ``irf_fwhm_ps`` attribute, else 0.5 ps); ``kinetic_model`` is ``"exp"`` or
    ``"biexp"``; ``eta`` is ``"shared"`` (one pseudo-Voigt η for every ring) or
    ``"per-ring"`` (see :func:`uedflow.peaks.fit_powder_series`).
    """

    peaks: tuple[str, ...] | None = None
    shape: str = "pseudo-voigt"
    eta: str = "shared"
    background: str = "auto"
    qe_window_ps: tuple[float, float] = (40.0, 60.0)
    debye_temperature_K: float = 250.0
    bootstrap: int = 0
    irf_fwhm_ps: float | None = None
    kinetic_model: str = "exp"


@dataclass(frozen=True)
class Experiment:
    """A whole experiment file, paths resolved to absolute ones."""

    path: Path | None
    name: str
    manifest: Path
    beam: BeamConfig = field(default_factory=BeamConfig)
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    sample: SampleConfig = field(default_factory=SampleConfig)
    reduce: ReduceConfig = field(default_factory=ReduceConfig)
    analyze: AnalyzeConfig = field(default_factory=AnalyzeConfig)
    time_zero_ps: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON/TOML-safe nested dict (paths as strings, None dropped)."""
        out: dict[str, Any] = {
            "experiment": {"name": self.name, "manifest": str(self.manifest), "time_zero_ps": self.time_zero_ps}
        }
        for sec in ("beam", "detector", "sample", "reduce", "analyze"):
            d = {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(getattr(self, sec)).items()}
            out[sec] = {k: v for k, v in d.items() if v is not None}
        return out


_SECTIONS: dict[str, type] = {
    "beam": BeamConfig,
    "detector": DetectorConfig,
    "sample": SampleConfig,
    "reduce": ReduceConfig,
    "analyze": AnalyzeConfig,
}
_EXPERIMENT_KEYS = ("name", "manifest", "time_zero_ps")


def _unknown_key(where: str, key: str, valid: list[str], source: str) -> ConfigError:
    near = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    hint = f"did you mean {near[0]!r}?" if near else f"valid keys are {', '.join(valid)}"
    return ConfigError(f"{source}: unknown key {key!r} in [{where}]; {hint}")


def _coerce(value: Any, annotation: str, where: str, source: str) -> Any:
    """Convert a TOML value to the dataclass field type, or raise ConfigError."""
    if value is None:
        return None
    try:
        if "tuple[float, float]" in annotation:
            vals = tuple(float(v) for v in value)
            if len(vals) != 2:
                raise ValueError
            return vals
        if "tuple[str" in annotation:
            if isinstance(value, str):
                value = [value]
            return tuple(str(v) for v in value)
        if annotation.startswith("float"):
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if annotation.startswith("int"):
            if isinstance(value, bool) or int(value) != value:
                raise ValueError
            return int(value)
        if annotation.startswith("bool"):
            if not isinstance(value, bool):
                raise ValueError
            return value
        if annotation.startswith("str"):
            if not isinstance(value, str):
                raise ValueError
            return value
        if annotation.startswith("dict"):
            if not isinstance(value, dict):
                raise ValueError
            return value
    except (TypeError, ValueError):
        raise ConfigError(f"{source}: [{where}] has a value of the wrong type: {value!r} (expected {annotation})") from None
    return value


def _section(cls: type, data: dict[str, Any], where: str, source: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: [{where}] must be a table, got {data!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        if key not in fields:
            raise _unknown_key(where, key, list(fields), source)
        kwargs[key] = _coerce(value, str(fields[key].type), f"{where}.{key}", source)
    return cls(**kwargs)


def experiment_from_dict(data: dict[str, Any], *, base_dir: Path | None = None, source: str = "experiment") -> Experiment:
    """Build an :class:`Experiment` from a nested dict (the parsed TOML).

    Parameters
    ----------
    data : dict
        Sections ``experiment``, ``beam``, ``detector``, ``sample``, ``reduce``, ``analyze``.
    base_dir : Path, optional
        Folder that relative paths are relative to (default: current folder).
    source : str
        Name used in error messages (the file name).

    Raises
    ------
    ConfigError
        Unknown section or key (with the nearest valid one), wrong type, missing
        manifest, or values out of range.
    """
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    valid_sections = ["experiment", *_SECTIONS]
    for sec in data:
        if sec not in valid_sections:
            near = difflib.get_close_matches(sec, valid_sections, n=1, cutoff=0.5)
            hint = f"did you mean [{near[0]}]?" if near else f"valid sections are {', '.join(valid_sections)}"
            raise ConfigError(f"{source}: unknown section [{sec}]; {hint}")
    exp = data.get("experiment", {})
    if not isinstance(exp, dict):
        raise ConfigError(f"{source}: [experiment] must be a table, got {exp!r}")
    for key in exp:
        if key not in _EXPERIMENT_KEYS:
            raise _unknown_key("experiment", key, list(_EXPERIMENT_KEYS), source)
    if "manifest" not in exp:
        raise ConfigError(f"{source}: [experiment] needs 'manifest', the CSV listing the frames (file,scan,delay_ps)")
    time_zero = _coerce(exp.get("time_zero_ps", 0.0), "float", "experiment.time_zero_ps", source)
    if not math.isfinite(time_zero):
        raise ConfigError(f"{source}: experiment.time_zero_ps must be a finite delay in ps, got {time_zero}")
    sections = {sec: _section(cls, data.get(sec, {}), sec, source) for sec, cls in _SECTIONS.items()}
    det = sections["detector"]
    resolved = {k: str((base / v).resolve()) for k in ("dark", "flat", "mask") if (v := getattr(det, k))}
    det = dataclasses.replace(det, **resolved)
    sample, red, ana = sections["sample"], sections["reduce"], sections["analyze"]
    for name, value in (("beam.energy_keV", sections["beam"].energy_keV),
                        ("detector.camera_length_m", det.camera_length_m),
                        ("detector.pixel_size_m", det.pixel_size_m),
                        ("sample.temperature_K", sample.temperature_K),
                        ("sample.fluence_mJ_cm2", sample.fluence_mJ_cm2),
                        ("sample.diameter_nm", sample.diameter_nm),
                        ("sample.pump_wavelength_nm", sample.pump_wavelength_nm),
                        ("reduce.n_bins", red.n_bins), ("reduce.outlier_sigma", red.outlier_sigma),
                        ("reduce.chunk_frames", red.chunk_frames),
                        ("analyze.debye_temperature_K", ana.debye_temperature_K)):
        if value is not None and not value > 0:
            raise ConfigError(f"{source}: {name} must be positive, got {value}")
    for name, value in (("analyze.bootstrap", ana.bootstrap), ("analyze.irf_fwhm_ps", ana.irf_fwhm_ps)):
        if value is not None and not value >= 0:
            raise ConfigError(f"{source}: {name} must be >= 0, got {value}")
    if det.center_rc is not None and len(det.center_rc) != 2:
        raise ConfigError(f"{source}: detector.center_rc must be [row, col], got {det.center_rc}")
    return Experiment(
        path=None,
        name=str(exp.get("name", Path(source).stem)),
        manifest=(base / str(exp["manifest"])).resolve(),
        beam=sections["beam"],
        detector=det,
        sample=sections["sample"],
        reduce=sections["reduce"],
        analyze=sections["analyze"],
        time_zero_ps=time_zero,
    )


def read_text(path: Path, what: str) -> str:
    """The text of UTF-8 file ``path`` (a leading byte-order mark is dropped), read as ``what`` (for messages).

    Raises
    ------
    FileFormatError
        The file is not UTF-8 (a Latin-1 editor's ``é``, a binary file): the message names the line and the
        byte, and says how to fix it. OSError from opening the file passes through.
    """
    from uedflow.errors import FileFormatError

    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise FileFormatError(
            f"{what} {path} is not UTF-8 text: line {line}, byte {column} (offset {exc.start}) is "
            f"0x{data[exc.start]:02X}; save it as UTF-8 (e.g. `iconv -f latin1 -t utf-8 {path.name} > utf8-{path.name}` "
            "and use that file) or check that this is the right file") from None


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment TOML file.

    Raises
    ------
    FileFormatError
        The file is missing or is not valid TOML.
    ConfigError
        See :func:`experiment_from_dict`.
    """
    from uedflow.errors import FileFormatError

    path = Path(path)
    try:
        data = tomllib.loads(read_text(path, "experiment file"))
    except (FileNotFoundError, IsADirectoryError):
        raise FileFormatError(f"experiment file {path} does not exist; give the path of an experiment .toml") from None
    except tomllib.TOMLDecodeError as exc:
        raise FileFormatError(f"experiment file {path} is not valid TOML: {exc}") from None
    exp = experiment_from_dict(data, base_dir=path.parent, source=str(path))
    return dataclasses.replace(exp, path=path.resolve())


@dataclass(frozen=True)
class FrameRecord:
    """One manifest row: a frame file (absolute path), its scan and delay [ps].

    ``index`` selects one frame inside a multi-frame file (multi-page TIFF,
    3D HDF5 dataset or .npy stack); ``dataset`` names the HDF5 dataset.
    """

    file: Path
    scan: int
    delay_ps: float
    index: int | None = None
    dataset: str | None = None
    row: int = 0


def read_manifest(path: str | Path) -> list[FrameRecord]:
    """Read a frames manifest CSV.

    Required columns ``file,scan,delay_ps``; optional ``index`` (frame within a
    multi-frame file) and ``dataset`` (HDF5 dataset path). Paths are relative to
    the manifest's folder.

    Raises
    ------
    FileFormatError
        The manifest is missing or unreadable.
    ConfigError
        Missing columns, bad numbers, duplicate (scan, delay) rows, or a row
        pointing to a file that does not exist (the row number is named).
    """
    from uedflow.errors import FileFormatError

    path = Path(path)
    try:
        text = read_text(path, "manifest")
    except (FileNotFoundError, IsADirectoryError):
        raise FileFormatError(f"manifest {path} does not exist; [experiment] manifest must name a CSV of frames") from None
    reader = csv.DictReader(text.splitlines())
    cols = set(reader.fieldnames or [])
    missing = {"file", "scan", "delay_ps"} - cols
    if missing:
        raise ConfigError(f"manifest {path}: missing column(s) {', '.join(sorted(missing))}; the header must include file,scan,delay_ps")
    records = []
    seen: dict[tuple[int, float], int] = {}
    real_dirs: dict[str, Path] = {}
    for i, row in enumerate(reader, start=2):
        try:
            scan = int(row["scan"])
            delay = float(row["delay_ps"])
            index = int(row["index"]) if row.get("index") not in (None, "") else None
        except (TypeError, ValueError):
            raise ConfigError(f"manifest {path}, line {i}: scan must be an integer and delay_ps a number, got {row}") from None
        if delay != delay or abs(delay) == float("inf"):
            raise ConfigError(f"manifest {path}, line {i}: delay_ps is {delay}; give a finite delay in ps")
        key = (scan, delay)
        if key in seen:
            raise ConfigError(
                f"manifest {path}, line {i}: duplicate scan {scan} at delay {delay} ps (also line {seen[key]}); "
                "each (scan, delay) must appear once"
            )
        seen[key] = i
        file = _frame_path(path.parent, row["file"] or "", real_dirs)
        if file is None:
            file = (path.parent / (row["file"] or "")).resolve()
            if not row["file"] or not file.is_file():
                raise ConfigError(f"manifest {path}, line {i}: frame file {row['file']!r} does not exist (looked for {file})")
        records.append(FrameRecord(file, scan, delay, index, row.get("dataset") or None, i))
    if not records:
        raise ConfigError(f"manifest {path} lists no frames")
    return records


def _frame_path(folder: Path, name: str, real_dirs: dict[str, Path]) -> Path | None:
    """``(folder / name).resolve()`` when that is a regular file (not a symlink), else None.

    Each folder is resolved once (cached in ``real_dirs``), then one ``lstat`` checks the file:
    ``Path.resolve`` would ``lstat`` every component of every row. Symlinks, odd names and
    missing files return None, for the caller's exact (slow) path.
    """
    head, tail = os.path.split(name)
    if tail in ("", ".", ".."):
        return None
    real = real_dirs.get(head)
    if real is None:
        real = real_dirs[head] = Path(os.path.realpath(os.path.join(folder, head)))
    try:
        regular = stat.S_ISREG(os.lstat(os.path.join(real, tail)).st_mode)
    except OSError:
        return None
    return real / tail if regular else None


def write_manifest(path: str | Path, records: list[dict[str, Any]]) -> None:
    """Write a manifest CSV from dicts with keys file, scan, delay_ps[, index, dataset].

    ``file`` values are written as given (make them relative to ``path``'s folder).
    """
    cols = ["file", "scan", "delay_ps"] + [c for c in ("index", "dataset") if any(c in r for r in records)]
    with Path(path).open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        for r in records:
            w.writerow({c: r.get(c, "") for c in cols})


def manifest_rows(files: Sequence[str | Path], folder: str | Path, *, pattern: str | None = None) -> list[dict[str, Any]]:
    r"""Manifest rows (for :func:`write_manifest`) of frame files, sorted by scan and delay.

    Either every file holds one frame and its name gives scan and delay: ``pattern`` is a regular
    expression searched in the file name with the named groups ``delay`` (ps) or ``delay_fs`` (fs),
    and optionally ``scan`` (default 1), e.g. ``r"scan(?P<scan>\d+)_(?P<delay>[-+\d.]+)ps"``; or
    ``files`` is one iris-ued dataset and ``pattern`` is None: its patterns, at its ``time_points``,
    become scan 1. ``file`` values are relative to ``folder`` (where the manifest goes).

    Raises
    ------
    ConfigError
        No files, a bad pattern or one without a delay group, a name it does not match, a delay that is not a
        number, a file with several frames, or two files with the same scan and delay (both named).
    """
    import re

    from uedflow.io import frame_info, is_iris_file, read_iris
    from uedflow.io.frames import map_in_threads

    paths = [Path(f) for f in files]
    if not paths:
        raise ConfigError("no frame files given; name them (a shell glob such as raw/*.tif works)")
    folder = Path(folder).resolve()

    def rel(p: Path) -> str:
        return os.path.relpath(p.resolve(), folder)

    if pattern is None:
        if len(paths) == 1 and is_iris_file(paths[0]):
            return [{**r, "file": rel(paths[0])} for r in read_iris(paths[0]).manifest_records()]
        raise ConfigError("give --pattern, a regular expression whose named groups (?P<delay>...) [ps] or "
                          "(?P<delay_fs>...) [fs] and optionally (?P<scan>...) read scan and delay from the file "
                          "names; only one iris-ued file needs none")
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"pattern {pattern!r} is not a regular expression ({exc})") from None
    if not {"delay", "delay_fs"} & set(regex.groupindex):
        raise ConfigError(f"pattern {pattern!r} has no (?P<delay>...) or (?P<delay_fs>...) group")
    n_frames = dict(zip(paths, map_in_threads(lambda p: frame_info(p).n_frames, paths), strict=True))
    rows, seen = [], {}
    for p in paths:
        m = regex.search(p.name)
        if m is None:
            raise ConfigError(f"file name {p.name} does not match the pattern {pattern!r}; fix the pattern or leave "
                              "the file out")
        try:
            delay = float(m["delay"]) if "delay" in regex.groupindex else float(m["delay_fs"]) / 1000.0
            scan = int(m["scan"]) if "scan" in regex.groupindex else 1
        except (TypeError, ValueError):
            raise ConfigError(f"file name {p.name}: the pattern's groups {m.groupdict()} are not a number") from None
        if n_frames[p] != 1:
            raise ConfigError(f"{p} holds {n_frames[p]} frames; with a name pattern each file must hold one (write the "
                              "manifest with an index column for multi-frame files)")
        if (scan, delay) in seen:
            raise ConfigError(f"{seen[scan, delay].name} and {p.name} both give scan {scan}, delay {delay:g} ps; "
                              "fix the pattern or leave one out")
        seen[scan, delay] = p
        rows.append({"file": rel(p), "scan": scan, "delay_ps": delay})
    return sorted(rows, key=lambda r: (r["scan"], r["delay_ps"]))


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {v!r} to TOML")


def experiment_to_toml(data: dict[str, Any]) -> str:
    """Render a nested dict of sections as TOML text (the inverse of loading)."""
    lines = []
    for sec, table in data.items():
        lines.append(f"[{sec}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in table.items() if v is not None]
        lines.append("")
    return "\n".join(lines)
