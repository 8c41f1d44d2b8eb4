"""Write a whole virtual UED experiment folder: experiment.toml, frames.csv, frames, dark, mask, truth.json.

The folder is what ``uedflow reduce`` reads (docs/formats.md): per scan one
``.npy`` stack of uint16 frames in acquisition order (delays visited in a random
order), listed in ``frames.csv`` with ``file,scan,delay_ps,index``. Delays in the
manifest are stage delays relative to ``[experiment] time_zero_ps`` (nominal, 0);
the true time zero (``t0_ps``) and everything else the analysis should recover is
in ``truth.json``.

A run description is a dict (a preset from :data:`~uedflow.simulate.presets.PRESETS`
or a TOML file with the same keys; ``preset = "name"`` starts from a preset):

========================  =====================================================
``name``                  experiment name
``material``              built-in material or a structure description dict
``temperature_K``         base temperature [K]
``fluence_mJ_cm2``        pump fluence [mJ/cm²]
``diameter_nm``           dot diameter [nm] (Scherrer width)
``t0_ps``, ``irf_fwhm_ps``  true time zero and IRF FWHM [ps]
``delays_ps``             list of delays [ps]
``n_scans``               number of scans
``electrons_per_frame``   dose [electrons/frame], > 0: what the unpumped pattern puts on a frame
                          (pumped frames collect in proportion to their scattering)
``dose_jitter``           relative frame-to-frame dose scatter
``t0_jitter_ps``          scan-to-scan time-zero scatter [ps]
``detector``              shape, center_rc, pixel_size_m, camera_length_m, energy_keV, optionally
                          tilt_rad, ellipticity, ellipse_angle_rad (:class:`~uedflow.reduce.geometry.Geometry`),
                          and any :class:`~uedflow.simulate.detector.DetectorModel` option (beam walk and
                          kick, gain noise, beam-block pedestal...)
``experiment``            sections merged over the experiment.toml written for the analysis, e.g.
                          ``{detector = {center = "per-frame", gain = "auto"}}``; ``"auto"`` leaves a key
                          out (uedflow then finds it: centre, gain, read noise, ellipticity...)
``dynamics``              ``{sample = "individual" | "attached" | "attached-300K"}``
                          (paper values) and/or ``peaks = {"<100>" = {...}, "200" = {...}}``
                          of :class:`~uedflow.simulate.pump.PeakDynamics` keys;
                          atomistic level: ``groups = {core = {...}, "{111}" = {...}}``
                          and ``normal_fraction = {"{111}" = 0.5}``
``level``                 ``"phenomenological"`` (default), ``"atomistic"`` or ``"crystal"`` (any crystal,
                          strain per cell parameter and vibration per axis,
                          :mod:`uedflow.simulate.crystal_series`; ``material`` a built-in crystal or CIF
                          path, ``dynamics`` the keys strain_amplitudes, strain_tau_ps, msd_amplitudes,
                          msd_tau_ps of :func:`~uedflow.simulate.crystal_series.build_crystal_model`;
                          with ``nanocrystal`` = {shape, layers, direction, facet_energies, surface_layers,
                          grid} the Debye pattern of that cut of a uniaxial crystal,
                          :mod:`uedflow.simulate.crystal_atomistic`)
``nanocrystal``           atomistic level: shape, truncation, grid ([nx, ny, nz]
                          dots fused along ⟨100⟩), surface_layers, termination_111
``debye_temperatures_K``  optional ``{Pb = 110.0, Se = 250.0}``: each element vibrates with its own
                          Debye temperature (:mod:`uedflow.simulate.vibration`); default one
                          mean-mass ⟨u²⟩ for every atom
``tds_halo``              phenomenological level: strength of the one-phonon TDS halo under each
                          ring, 0 to 1 (default 1, :mod:`uedflow.simulate.phenomenological`); the
                          atomistic level has none (uncorrelated displacements), so its
                          experiment.toml sets ``[analyze] tds_correction = false``, as does h = 0
========================  =====================================================
"""

from __future__ import annotations

import dataclasses
import json
import logging
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from uedflow.config import _unknown_key, experiment_to_toml
from uedflow.crystal import Crystal, Structure, get_crystal, get_structure, reflection_families, reflections
from uedflow.errors import ConfigError, FileFormatError, InputError
from uedflow.io import read_text, write_manifest
from uedflow.io.atomic import atomic_dir
from uedflow.reduce.geometry import Geometry
from uedflow.simulate.atomistic import AtomisticModel
from uedflow.simulate.cell_cut import attach_cut, cut_crystal
from uedflow.simulate.crystal_atomistic import CrystalAtomisticModel
from uedflow.simulate.crystal_series import (
    AXIS_KINETICS_KEYS,
    CrystalSeriesModel,
    axis_kinetics,
    build_crystal_model,
)
from uedflow.simulate.detector import DetectorModel
from uedflow.simulate.nanocrystal import attach, build_nanocrystal
from uedflow.simulate.phenomenological import SCHERRER_K, PowderModel, build_powder_model
from uedflow.simulate.presets import (
    DEBYE_TEMPERATURE_K,
    PBSE_MASS_U,
    get_preset,
    paper_dynamics,
    temperature_rise_K,
)
from uedflow.simulate.pump import PeakDynamics
from uedflow.simulate.vibration import ElementVibration, element_vibration

__all__ = ["simulate_experiment", "load_run_config"]

log = logging.getLogger(__name__)

_GEOMETRY_KEYS = ("shape", "center_rc", "pixel_size_m", "camera_length_m", "energy_keV")
_DISTORTION_KEYS = ("tilt_rad", "ellipticity", "ellipse_angle_rad")
#: ``[nanocrystal]`` keys of the crystal level (:func:`~uedflow.simulate.cell_cut.cut_crystal`), besides ``grid``
_CUT_KEYS = ("shape", "layers", "direction", "facet_energies", "surface_layers")
_RUN_KEYS = {"preset", "name", "level", "material", "temperature_K", "fluence_mJ_cm2", "diameter_nm", "label",
             "t0_ps", "irf_fwhm_ps", "delays_ps", "n_scans", "electrons_per_frame", "dose_jitter",
             "t0_jitter_ps", "detector", "dynamics", "time_zero_ps", "eta", "instrument_fwhm", "nanocrystal",
             "debye_temperatures_K", "tds_halo", "experiment"}


def load_run_config(path: str | Path) -> dict[str, Any]:
    """Read a run description TOML (see module docstring); ``preset = NAME`` entries are merged over that preset."""
    path = Path(path)
    try:
        data = tomllib.loads(read_text(path, "simulation config"))
    except (FileNotFoundError, IsADirectoryError):
        raise FileFormatError(f"simulation config {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise FileFormatError(f"simulation config {path} is not valid TOML: {exc}") from None
    return _resolve(data)


def _resolve(config: dict[str, Any]) -> dict[str, Any]:
    bad = sorted(set(config) - _RUN_KEYS)
    if bad:
        raise ConfigError(f"simulation config: unknown key(s) {bad}; valid keys are {', '.join(sorted(_RUN_KEYS))}")
    base = get_preset(config["preset"]) if "preset" in config else {}
    merged = {**base, **{k: v for k, v in config.items() if k != "preset"}}
    for sec in ("detector", "dynamics", "experiment"):
        merged[sec] = {**base.get(sec, {}), **config.get(sec, {})}
    return merged


def _peak_dynamics(cfg: dict[str, Any]) -> dict[str, PeakDynamics]:
    dyn = cfg.get("dynamics", {})
    bad = sorted(set(dyn) - {"sample", "peaks", "groups", "normal_fraction"})
    if bad:
        raise ConfigError(f"simulation config: unknown key(s) {bad} in [dynamics]; use 'sample' and/or 'peaks'")
    peaks: dict[str, dict[str, float]] = {}
    if "sample" in dyn:
        peaks.update(paper_dynamics(dyn["sample"], float(cfg["temperature_K"]), float(cfg["fluence_mJ_cm2"])))
    for key, values in dyn.get("peaks", {}).items():
        peaks[key] = {**peaks.get(key, {}), **values}
    if not peaks:
        raise ConfigError("simulation config: [dynamics] needs 'sample' or 'peaks'")
    return {k: PeakDynamics.from_dict(v, where=f"dynamics.peaks.{k}") for k, v in peaks.items()}


def _vibration(cfg: dict[str, Any], structure: Structure) -> ElementVibration | None:
    """Per-element vibration of ``debye_temperatures_K`` (None without it)."""
    thetas = cfg.get("debye_temperatures_K")
    if thetas is None:
        return None
    if not isinstance(thetas, dict):
        raise ConfigError(f"simulation config: debye_temperatures_K must be a table element -> K, got {thetas!r}")
    base = float(cfg["temperature_K"])
    return element_vibration(structure, thetas, temperature_K=base,
                             rise_K=temperature_rise_K(base, float(cfg["fluence_mJ_cm2"])),
                             reference_debye_K=DEBYE_TEMPERATURE_K, reference_mass_u=PBSE_MASS_U)


def _atomistic_model(cfg: dict[str, Any], structure: Structure, *, s_max: float, msd0: float) -> AtomisticModel:
    """The atomistic level: a dot or assembly (``[nanocrystal]`` shape, truncation, grid, surface_layers,
    termination_111)
    pumped per atom group (``[dynamics.groups]``, optional ``[dynamics.normal_fraction]``)."""
    nc_cfg = dict(cfg.get("nanocrystal", {}))
    grid = nc_cfg.pop("grid", [1, 1, 1])
    bad = sorted(set(nc_cfg) - {"shape", "truncation", "surface_layers", "termination_111"})
    if bad:
        raise ConfigError(f"simulation config: unknown [nanocrystal] key(s) {bad}; use shape, truncation, grid, "
                          "surface_layers, termination_111")
    dot = build_nanocrystal(structure, float(cfg.get("diameter_nm", 5.5)), **nc_cfg)
    nc = attach(dot, tuple(grid)) if tuple(grid) != (1, 1, 1) else dot
    dyn = cfg.get("dynamics", {})
    groups = {k: PeakDynamics.from_dict(v, where=f"dynamics.groups.{k}") for k, v in dyn.get("groups", {}).items()}
    if "core" not in groups:
        raise ConfigError("simulation config: the atomistic level needs [dynamics.groups.core] (and optionally "
                          "'{100}', '{110}', '{111}' groups)")
    return AtomisticModel(nc, structure, groups, s_max, t0_ps=float(cfg.get("t0_ps", 0.0)),
                          irf_fwhm_ps=float(cfg.get("irf_fwhm_ps", 0.5)), msd_static_angstrom2=msd0,
                          normal_fraction=dict(dyn.get("normal_fraction", {})), vibration=_vibration(cfg, structure))


def _crystal_model(cfg: dict[str, Any], crystal: Crystal, s_range: tuple[float, float]
                   ) -> CrystalSeriesModel | CrystalAtomisticModel:
    """The crystal level: rings of any crystal with strain per cell parameter and vibration per axis
    (``[dynamics]`` keys of :func:`~uedflow.simulate.crystal_series.build_crystal_model`); FWHM from
    ``diameter_nm`` (Scherrer) and ``instrument_fwhm`` [Å⁻¹] in quadrature. With ``[nanocrystal]`` (keys of
    :func:`~uedflow.simulate.cell_cut.cut_crystal` and ``grid`` for :func:`~uedflow.simulate.cell_cut.attach_cut`)
    the Debye pattern of that cut instead (:mod:`uedflow.simulate.crystal_atomistic`)."""
    dyn = dict(cfg.get("dynamics", {}))
    bad = sorted(set(dyn) - set(AXIS_KINETICS_KEYS))
    if bad or not dyn:
        raise ConfigError(f"simulation config: the crystal level takes [dynamics] keys {', '.join(AXIS_KINETICS_KEYS)}; "
                          f"got {bad or 'none'}")
    unused = sorted({"debye_temperatures_K", "tds_halo"} & set(cfg))
    if unused:
        raise ConfigError(f"simulation config: {unused} apply to the PbSe levels, not to level = 'crystal'")
    diameter = float(cfg.get("diameter_nm", 5.5))
    fwhm = float(np.hypot(SCHERRER_K / (10.0 * diameter), float(cfg.get("instrument_fwhm", 0.008))))
    kinetics = {k: dict(dyn.get(k, {})) for k in AXIS_KINETICS_KEYS}
    timing = {"t0_ps": float(cfg.get("t0_ps", 0.0)), "irf_fwhm_ps": float(cfg.get("irf_fwhm_ps", 0.5))}
    if "nanocrystal" in cfg:
        cut = dict(cfg["nanocrystal"])
        grid = tuple(cut.pop("grid", (1, 1, 1)))
        bad = sorted(set(cut) - set(_CUT_KEYS))
        if bad:
            raise ConfigError(f"simulation config: unknown [nanocrystal] key(s) {bad} for level = 'crystal'; use "
                              f"{', '.join(_CUT_KEYS)}, grid")
        nc = cut_crystal(crystal, diameter, **cut)
        nc = attach_cut(nc, crystal, grid) if grid != (1, 1, 1) else nc
        strain, msd = axis_kinetics(crystal, *kinetics.values())
        return CrystalAtomisticModel(nc, crystal, strain, msd, s_max=1.02 * s_range[1], fwhm=fwhm, **timing)
    pad = 3.0 * fwhm
    return build_crystal_model(crystal, s_range=(s_range[0] + pad, s_range[1] - pad), **kinetics,
                               fwhm_inv_angstrom=fwhm, eta=float(cfg.get("eta", 0.3)), background=1.0, **timing)


def _detector(cfg: dict[str, Any], seed: int) -> DetectorModel:
    det = dict(cfg.get("detector", {}))
    missing = [k for k in _GEOMETRY_KEYS if k not in det]
    if missing:
        raise ConfigError(f"simulation config: [detector] misses {missing}")
    geo = Geometry(shape=tuple(int(v) for v in det.pop("shape")), center_rc=tuple(float(v) for v in det.pop("center_rc")),
                   pixel_size_m=float(det.pop("pixel_size_m")), camera_length_m=float(det.pop("camera_length_m")),
                   energy_keV=float(det.pop("energy_keV")), tilt_rad=tuple(map(float, det.pop("tilt_rad", (0, 0, 0)))),
                   ellipticity=float(det.pop("ellipticity", 0.0)),
                   ellipse_angle_rad=float(det.pop("ellipse_angle_rad", 0.0)))
    valid = [f.name for f in dataclasses.fields(DetectorModel) if f.name not in ("geometry", "seed")]
    for key in sorted(det):
        if key not in valid:
            raise _unknown_key("detector", key, [*_GEOMETRY_KEYS, *_DISTORTION_KEYS, *valid], "simulation config")
    return DetectorModel(geo, seed=seed, **det)


def simulate_experiment(
    preset: str | dict[str, Any],
    out_dir: str | Path,
    *,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Run a virtual UED experiment and write its folder.

    Parameters
    ----------
    preset : str or dict
        A preset name (:data:`~uedflow.simulate.presets.PRESETS`) or a run
        description dict (module docstring; may contain ``preset``).
    out_dir : str or Path
        Output folder; written atomically (nothing is left on failure). An
        existing folder is replaced only if it is empty or an earlier simulation
        (holds ``truth.json``).
    seed : int
        Random seed (noise, jitter, delay order, detector defects).
    progress : callable, optional
        ``progress(done, total)`` after each frame.

    Returns
    -------
    Path
        The folder, containing experiment.toml, frames.csv, scan_XX.npy, dark.npy,
        mask.npy and truth.json.

    Raises
    ------
    ConfigError, InputError, GeometryError, CrystalError
        Unknown preset or key, negative dose, diameter below one cell, a detector
        that sees no ring, unknown material or element.
    FileFormatError
        ``out_dir`` is a file, or a folder with other content than a simulation.
    """
    out_dir = Path(out_dir).resolve()
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / "truth.json").is_file():
        raise FileFormatError(f"output folder {out_dir} is not empty and holds no earlier simulation (truth.json); "
                              "it would be replaced — choose a new folder with -o")
    cfg = get_preset(preset) if isinstance(preset, str) else _resolve(preset)
    level = cfg.get("level", "phenomenological")
    if level not in ("phenomenological", "atomistic", "crystal"):
        raise ConfigError(f"level must be 'phenomenological', 'atomistic' or 'crystal', got {level!r}")
    structure = get_crystal(cfg["material"]) if level == "crystal" else get_structure(cfg.get("material", "PbSe"))
    dose = float(cfg.get("electrons_per_frame", 1e7))
    if not dose > 0:
        raise InputError(f"electrons_per_frame (dose) must be positive, got {dose}")
    for key in ("irf_fwhm_ps", "dose_jitter", "t0_jitter_ps"):
        if key in cfg and not float(cfg[key]) >= 0:
            raise ConfigError(f"simulation config: {key} must be >= 0, got {cfg[key]!r}")
    try:
        delays = np.asarray(cfg["delays_ps"], dtype=float)
    except (TypeError, ValueError):
        bad = cfg["delays_ps"]
        raise ConfigError(f"simulation config: delays_ps must be a list of numbers [ps], got {bad!r}") from None
    n_scans = int(cfg.get("n_scans", 2))
    distinct = delays.ndim == 1 and len(set(delays.tolist())) == len(delays) and np.isfinite(delays).all()
    if n_scans < 1 or not distinct or len(delays) < 2:
        raise ConfigError("simulation config: need n_scans >= 1 and >= 2 distinct, finite delays_ps")
    detector = _detector(cfg, seed)
    s_lo, s_hi = detector.visible_s_range()
    s_max = max(2.0, 1.1 * s_hi)
    rings = reflection_families(structure, s_max) if level == "crystal" else reflections(structure, s_max)
    detector.check_sees(np.array([r.s_inv_angstrom for r in rings]))
    from uedflow.physics.debye import msd_debye_angstrom2

    # the PbSe levels: one mean-mass ⟨u²⟩ of the base temperature (the crystal level takes the crystal's own U_ij)
    msd0 = float(msd_debye_angstrom2(float(cfg["temperature_K"]), DEBYE_TEMPERATURE_K, PBSE_MASS_U))
    if level == "crystal":
        model = _crystal_model(cfg, structure, (s_lo, s_hi))
    elif level == "atomistic":
        model = _atomistic_model(cfg, structure, s_max=s_hi * 1.02, msd0=msd0)
    else:
        model = build_powder_model(
            structure, _peak_dynamics(cfg), s_max=s_hi * 1.02, diameter_nm=float(cfg.get("diameter_nm", 5.5)),
            instrument_fwhm=float(cfg.get("instrument_fwhm", 0.008)), eta=float(cfg.get("eta", 0.3)),
            msd_static_angstrom2=msd0, t0_ps=float(cfg.get("t0_ps", 0.0)),
            irf_fwhm_ps=float(cfg.get("irf_fwhm_ps", 0.5)), vibration=_vibration(cfg, structure),
            tds_halo=float(cfg.get("tds_halo", 1.0)),
        )
    rng = np.random.default_rng(seed)
    s_grid = np.linspace(max(s_lo * 0.9, 1e-3), s_hi * 1.01, 1200 if hasattr(model, "nanocrystal") else 3000)
    if isinstance(model, PowderModel | CrystalSeriesModel):  # conserve the total scattering this detector records
        model = dataclasses.replace(model, pixel_density=(s_grid, detector.pixel_density(s_grid)))
    # the incident dose: the unpumped pattern collects electrons_per_frame; pumped frames are not renormalised
    reference = model.profiles(s_grid, np.array([delays.min() - 1e3]), t0_ps=model.t0_ps)[0]
    t0s = model.t0_ps + float(cfg.get("t0_jitter_ps", 0.0)) * rng.standard_normal(n_scans)
    total = n_scans * len(delays)
    walk = detector.beam_walk(total).reshape(n_scans, len(delays), 2)
    records, acquisition = [], []
    with atomic_dir(out_dir) as tmp:
        for k in range(n_scans):
            order = rng.permutation(len(delays))
            prof = model.profiles(s_grid, delays[order], t0_ps=float(t0s[k]))
            doses = np.clip(1.0 + float(cfg.get("dose_jitter", 0.0)) * rng.standard_normal(len(delays)), 0.05, None)
            stack = np.empty((len(delays), *detector.geometry.shape), dtype=np.uint16)
            centers = walk[k] + detector.beam_kick(delays[order] - t0s[k])
            for i in range(len(delays)):
                electrons = detector.expected_electrons(s_grid, prof[i], dose * doses[i], reference=reference,
                                                        center_offset=tuple(centers[i]))
                stack[i] = detector.expose(electrons, rng)
                if progress is not None:
                    progress(k * len(delays) + i + 1, total)
            name = f"scan_{k:02d}.npy"
            np.save(tmp / name, stack)
            records += [{"file": name, "scan": k, "delay_ps": float(delays[j]), "index": i} for i, j in enumerate(order)]
            acquisition.append({"scan": k, "t0_ps": float(t0s[k]), "delay_order_ps": delays[order].tolist(),
                                "dose_factor": doses.tolist(),
                                "center_rc": (centers + np.asarray(detector.geometry.center_rc)).tolist()})
        write_manifest(tmp / "frames.csv", records)
        np.save(tmp / "dark.npy", detector.dark_frame())
        np.save(tmp / "mask.npy", detector.valid_mask())
        (tmp / "experiment.toml").write_text(experiment_to_toml(_merge_sections(_experiment_sections(cfg, detector),
                                                                                cfg.get("experiment", {}))))
        truth = model.truth(delays) if level == "crystal" else model.truth()
        truth.update(_truth_extras(cfg, detector, seed, acquisition))
        (tmp / "truth.json").write_text(json.dumps(truth, indent=1))
    log.info("wrote virtual experiment %s (%d frames)", out_dir, total)
    return Path(out_dir)


def _experiment_sections(cfg: dict[str, Any], det: DetectorModel) -> dict[str, dict[str, Any]]:
    geo = det.geometry
    sample = {"material": cfg.get("material", "PbSe"), "temperature_K": float(cfg["temperature_K"]),
              "fluence_mJ_cm2": float(cfg["fluence_mJ_cm2"]), "diameter_nm": float(cfg.get("diameter_nm", 5.5)),
              "label": str(cfg.get("label", cfg.get("name", "simulated")))}
    if str(sample["material"]).lower().endswith(".cif"):
        sample["cif"] = str(Path(sample.pop("material")).resolve())
    elif isinstance(sample["material"], dict):
        sample["structure"] = sample.pop("material")
        sample["material"] = sample["structure"].get("name", "custom")
    return {
        "experiment": {"name": str(cfg.get("name", "simulated")), "manifest": "frames.csv",
                       "time_zero_ps": float(cfg.get("time_zero_ps", 0.0))},
        "beam": {"energy_keV": geo.energy_keV},
        "detector": {"camera_length_m": geo.camera_length_m, "pixel_size_m": geo.pixel_size_m, "dark": "dark.npy",
                     # the effective gain: a random gain per electron doubles the variance per count
                     "mask": "mask.npy", "saturation": float(det.saturation),
                     "gain": float(det.gain) * (2.0 if det.multiplication_noise else 1.0),
                     "read_noise_counts": float(det.read_noise),
                     **({"tilt_rad": list(geo.tilt_rad)} if any(geo.tilt_rad) else {}),
                     **({"ellipticity": geo.ellipticity, "ellipse_angle_rad": geo.ellipse_angle_rad}
                        if geo.ellipticity else {})},
        "sample": sample,
        # the IRF is a known instrument property: analyze fits with the true one
        # the atomistic and crystal levels (and tds_halo = 0) make no one-phonon halo to correct
        "analyze": {"irf_fwhm_ps": float(cfg.get("irf_fwhm_ps", 0.5)),
                    "tds_correction": cfg.get("level", "phenomenological") == "phenomenological"
                    and float(cfg.get("tds_halo", 1.0)) > 0,
                    **({"element_debye_temperatures_K": {k: float(v) for k, v in cfg["debye_temperatures_K"].items()}}
                       if cfg.get("debye_temperatures_K") else {})},
    }


def _merge_sections(sections: dict[str, dict[str, Any]], overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``overrides`` (section -> keys) merged over the experiment file's ``sections``; "auto" removes a key."""
    out = {name: dict(keys) for name, keys in sections.items()}
    for name, keys in overrides.items():
        if not isinstance(keys, dict):
            raise ConfigError(f"simulation config: experiment.{name} must be a table of keys, got {keys!r}")
        section = out.setdefault(name, {})
        for key, value in keys.items():
            if value == "auto":
                section.pop(key, None)
            else:
                section[key] = value
    return out


def _truth_extras(cfg: dict[str, Any], det: DetectorModel, seed: int, acquisition: list[dict]) -> dict[str, Any]:
    geo = det.geometry
    return {
        "preset": str(cfg.get("name", "custom")), "level": str(cfg.get("level", "phenomenological")),
        "seed": int(seed),
        "temperature_K": float(cfg["temperature_K"]), "fluence_mJ_cm2": float(cfg["fluence_mJ_cm2"]),
        "diameter_nm": float(cfg.get("diameter_nm", 5.5)), "electrons_per_frame": float(cfg["electrons_per_frame"]),
        "center_rc": list(geo.center_rc), "camera_length_m": geo.camera_length_m, "pixel_size_m": geo.pixel_size_m,
        "energy_keV": geo.energy_keV, "time_zero_ps": float(cfg.get("time_zero_ps", 0.0)),
        "scans": acquisition, "config": cfg,
    }
