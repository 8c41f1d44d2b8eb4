"""Experiment files (TOML); their frame manifests (CSV) are read by :mod:`uedflow.io.manifest`.

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
    center = "per-frame"             # optional "fixed" (default) | "per-scan" | "per-frame": integrate each
                                     # frame about its own centre (beam walk, pump kick); trace in reduced.h5
    tilt_rad = [0.01, -0.02, 0.0]    # optional pyFAI rot1, rot2, rot3 [rad]; default none
    ellipticity = 0.004              # optional ring axis ratio − 1 (lens/fibre distortion); default 0
    ellipse_angle_rad = 0.6          # optional major-axis angle from +col towards +row [rad]
    poni = "detector.poni"           # optional pyFAI PONI file: centre, distance, pixel, tilt
    dark = "dark.npy"                # optional dark frame
    flat = "flat.npy"                # optional flat field
    mask = "mask.npy"                # optional user mask, True = valid pixel (any frame format, PNG)
    pyfai_mask = "mask.edf"          # optional pyFAI/fabio mask, non-zero = masked (.edf, .msk, any frame format)
    mask_polygons = [[[0, 90], [0, 110], [150, 110], [150, 90]]]  # optional, (row, col) vertices [px]: masked
    saturation = 65535               # optional saturation level [counts]; default for integer
                                     # frames: their type's largest value (65535 for uint16)
    gain = 1.0                       # optional counts per electron (shot-noise variance g·counts); both
    read_noise_counts = 2.0          # optional read-noise σ [counts]; without them: estimated from the frames

    [sample]
    material = "PbSe"                # built-in, or give [sample.structure]
    # cif = "PbSe.cif"               # optional: the crystal from a CIF file (overrides material/structure)
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

import dataclasses
import difflib
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from uedflow.errors import ConfigError
from uedflow.io.text import read_text

__all__ = [
    "BeamConfig",
    "DetectorConfig",
    "SampleConfig",
    "ReduceConfig",
    "AnalyzeConfig",
    "Experiment",
    "load_experiment",
    "experiment_from_dict",
    "experiment_to_toml",
]


@dataclass(frozen=True)
class BeamConfig:
    """Electron beam: kinetic energy [keV]."""

    energy_keV: float = 50.0


#: values of ``[detector] center``: one centre for the run, one per scan, or one per frame
CENTER_MODES = ("fixed", "per-scan", "per-frame")


@dataclass(frozen=True)
class DetectorConfig:
    """Flat detector, optionally tilted, rings optionally elliptical. Lengths in m, center in pixels (row, col),
    angles in rad (see :class:`uedflow.reduce.geometry.Geometry`). ``poni`` gives the centre, distance, pixel size
    and tilt from a pyFAI PONI file instead of ``center_rc``/``tilt_rad``/``camera_length_m``/``pixel_size_m``."""

    camera_length_m: float = 0.5
    pixel_size_m: float = 5.0e-5
    center_rc: tuple[float, float] | None = None
    center: str = "fixed"
    tilt_rad: tuple[float, float, float] | None = None
    ellipticity: float = 0.0
    ellipse_angle_rad: float = 0.0
    poni: str | None = None
    dark: str | None = None
    flat: str | None = None
    mask: str | None = None
    pyfai_mask: str | None = None
    mask_polygons: tuple[tuple[tuple[float, float], ...], ...] = ()
    saturation: float | None = None
    gain: float | None = None
    read_noise_counts: float | None = None


@dataclass(frozen=True)
class SampleConfig:
    """Sample: material (built-in name), a structure description or a CIF file (``cif``, which wins), conditions."""

    material: str = "PbSe"
    structure: dict[str, Any] | None = None
    cif: str | None = None
    lattice_constant_angstrom: float | None = None
    temperature_K: float = 300.0
    fluence_mJ_cm2: float | None = None
    diameter_nm: float | None = None
    pump_wavelength_nm: float = 800.0
    label: str | None = None


@dataclass(frozen=True)
class ReduceConfig:
    """Reduction options. s values in Å⁻¹. ``fit_distortion`` (``"none"``, ``"ellipticity"`` or ``"tilt"``) fits
    the rings' ellipticity or the detector tilt, with the centre, to the sample's own rings before integrating."""

    s_range: tuple[float, float] | None = None
    n_bins: int = 600
    normalize_window: tuple[float, float] | None = None
    outlier_sigma: float = 5.0
    find_center: bool = True
    calibrate_camera_length: bool = False
    fit_distortion: str = "none"
    chunk_frames: int = 32


@dataclass(frozen=True)
class AnalyzeConfig:
    """Peak and kinetics analysis options. s in Å⁻¹, times in ps, T in K.

    ``irf_fwhm_ps`` is the instrument response FWHM (None: the reduced file's
    ``irf_fwhm_ps`` attribute, else 0.5 ps); ``kinetic_model`` is ``"exp"`` or
    ``"biexp"``; ``eta`` is ``"shared"`` (one pseudo-Voigt η for every ring) or
    ``"per-ring"`` (see :func:`uedflow.peaks.fit_powder_series`); ``element_debye_temperatures_K``
    (e.g. ``{Pb = 110, Se = 250}``) gives elements their own Debye temperature in the per-element
    Δ⟨u²⟩ fit and temperatures (others take ``debye_temperature_K``); ``debye_temperature_rel_err``
    is the relative 1σ of those Debye temperatures, a systematic of every temperature from Δ⟨u²⟩;
    ``tds_correction`` removes the one-phonon TDS halo the peak fits take for the rings
    (:mod:`uedflow.dynamics.tds`; half the correction is reported as a systematic error).
    """

    peaks: tuple[str, ...] | None = None
    shape: str = "pseudo-voigt"
    eta: str = "shared"
    background: str = "auto"
    qe_window_ps: tuple[float, float] = (40.0, 60.0)
    debye_temperature_K: float = 250.0
    element_debye_temperatures_K: dict[str, float] | None = None
    debye_temperature_rel_err: float = 0.10
    tds_correction: bool = True
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
        if annotation.startswith("tuple[tuple["):  # polygons: lists of at least 3 (row, col) vertices
            polygons = tuple(tuple((float(r), float(c)) for r, c in poly) for poly in value)
            if any(len(poly) < 3 for poly in polygons):
                raise ValueError
            return polygons
        if "tuple[float," in annotation:
            vals = tuple(float(v) for v in value)
            if len(vals) != annotation.split("]")[0].count("float"):
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
    resolved = {k: str((base / v).resolve()) for k in ("dark", "flat", "mask", "pyfai_mask", "poni")
                if (v := getattr(det, k))}
    if det.poni and (det.center_rc is not None or det.tilt_rad is not None):
        raise ConfigError(f"{source}: detector.poni gives the centre and tilt; remove detector.center_rc and tilt_rad")
    det = dataclasses.replace(det, **resolved)
    sample, red, ana = sections["sample"], sections["reduce"], sections["analyze"]
    if sample.cif:
        sample = dataclasses.replace(sample, cif=str((base / sample.cif).resolve()))
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
    for el, theta in (ana.element_debye_temperatures_K or {}).items():
        if isinstance(theta, bool) or not isinstance(theta, int | float) or not theta > 0:
            raise ConfigError(f"{source}: analyze.element_debye_temperatures_K.{el} must be a positive number of K, "
                              f"got {theta!r}")
    if not 0 <= ana.debye_temperature_rel_err < 1:
        raise ConfigError(f"{source}: analyze.debye_temperature_rel_err must be in [0, 1), got "
                          f"{ana.debye_temperature_rel_err}")
    for name, value in (("analyze.bootstrap", ana.bootstrap), ("analyze.irf_fwhm_ps", ana.irf_fwhm_ps)):
        if value is not None and not value >= 0:
            raise ConfigError(f"{source}: {name} must be >= 0, got {value}")
    if red.fit_distortion not in ("none", "ellipticity", "tilt"):
        raise ConfigError(f"{source}: reduce.fit_distortion must be \"none\", \"ellipticity\" or \"tilt\", got "
                          f"{red.fit_distortion!r}")
    if det.center not in CENTER_MODES:
        raise ConfigError(f"{source}: detector.center must be one of {', '.join(map(repr, CENTER_MODES))}, got "
                          f"{det.center!r}")
    if det.center_rc is not None and len(det.center_rc) != 2:
        raise ConfigError(f"{source}: detector.center_rc must be [row, col], got {det.center_rc}")
    return Experiment(
        path=None,
        name=str(exp.get("name", Path(source).stem)),
        manifest=(base / str(exp["manifest"])).resolve(),
        beam=sections["beam"],
        detector=det,
        sample=sample,
        reduce=sections["reduce"],
        analyze=sections["analyze"],
        time_zero_ps=time_zero,
    )



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
