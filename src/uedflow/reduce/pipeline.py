"""Experiment -> reduced powder series (reduced.h5): the public entry points of the stage.

:func:`reduce_experiment` chains the steps: manifest and frame headers are
checked, a sample of frames gives the center and the automatic masks (and
optionally the camera length), the pixel -> s operator is built once, one pass
over all frames integrates and normalises them (local threads, or a Dask cluster), and the scans are
combined. :func:`write_reduced` / :func:`open_reduced` store and load the
result in the ``uedflow-reduced`` format of docs/formats.md.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numba
import numpy as np
import xarray as xr

from uedflow.config import Experiment
from uedflow.crystal import Structure, crystal_to_cif, sample_crystal
from uedflow.errors import ConfigError, GeometryError, InputError, UedflowError
from uedflow.io import (
    FrameRecord,
    frame_info,
    load_image,
    open_dataset,
    open_frames,
    read_manifest,
    read_records,
    write_dataset,
)
from uedflow.io.datasets import REDUCED_FORMAT, REDUCED_VERSION
from uedflow.io.frames import Readahead, chunk_bounds, prefetch
from uedflow.reduce.calibrate import calibrate_camera_length, calibrate_geometry
from uedflow.reduce.center import find_center, ring_center_offset
from uedflow.reduce.checkpoint import PassCheckpoint
from uedflow.reduce.combine import PowderSeries, combine_scans
from uedflow.reduce.execute import WORKER_WAIT_S, PassResult, run_pass
from uedflow.reduce.geometry import Geometry
from uedflow.reduce.integrate import build_operator
from uedflow.reduce.masks import (
    MaskResult,
    beam_block,
    exact_median,
    median_peak,
    pixel_defects,
    user_mask,
    valid_pixels,
)
from uedflow.reduce.noise import detector_noise, operator_noise
from uedflow.reduce.poni import read_poni
from uedflow.reduce.recenter import distortion_from_frames, recentering
from uedflow.stages import stage_key

__all__ = ["reduce_experiment", "reduce_inputs", "reduce_config", "write_reduced", "open_reduced", "REDUCED_FORMAT",
           "REDUCED_VERSION"]

log = logging.getLogger(__name__)

_SAMPLE_FRAMES = 8
_MIN_BINS = 16


def _images(exp: Experiment, shape: tuple[int, int]) -> dict[str, np.ndarray | None]:
    det = exp.detector
    out: dict[str, np.ndarray | None] = {}
    for name in ("dark", "flat", "mask", "pyfai_mask"):
        path = getattr(det, name)
        img = load_image(path, what=f"detector.{name}") if path else None
        if img is not None and img.shape != shape:
            raise InputError(f"detector.{name} {path} has shape {img.shape}, the frames are {shape}; give a matching file")
        out[name] = img
    out["mask"] = user_mask(shape, valid=out["mask"], masked=out.pop("pyfai_mask"), polygons=det.mask_polygons)
    return out


def _center(exp: Experiment, image: np.ndarray, valid: np.ndarray) -> tuple[tuple[float, float], float]:
    rows, cols = image.shape
    if exp.detector.center_rc is not None or exp.detector.poni:
        center = _geometry(exp, (rows, cols), exp.detector.center_rc).center_rc
        return center, ring_center_offset(image, center, mask=valid)
    if not exp.reduce.find_center:
        log.warning("no detector.center_rc and reduce.find_center = false: using the image middle")
        return ((rows - 1) / 2, (cols - 1) / 2), float("nan")
    found = find_center(image, mask=valid)
    if not found.success:
        log.warning("center finding: %s", found.message)
    return found.center_rc, found.residual_px


def _geometry(exp: Experiment, shape: tuple[int, int], center_rc: tuple[float, float] | None) -> Geometry:
    """The experiment's detector geometry: from ``detector.poni`` (plus the ellipticity keys when set), else from
    the ``[detector]`` keys with this beam centre."""
    det = exp.detector
    ellipse = {"ellipticity": det.ellipticity, "ellipse_angle_rad": det.ellipse_angle_rad}
    if det.poni:
        geometry = read_poni(det.poni, energy_keV=exp.beam.energy_keV, shape=shape, pixel_size_m=det.pixel_size_m)
        return dataclasses.replace(geometry, **ellipse) if det.ellipticity else geometry
    return Geometry(shape, tuple(map(float, center_rc)), det.pixel_size_m, det.camera_length_m, exp.beam.energy_keV,
                    tilt_rad=det.tilt_rad or (0.0, 0.0, 0.0), **ellipse)


def _read_sample(records) -> np.ndarray:
    """A few frames spread over the run, (n, rows, cols), their format taken from their own headers."""
    pick = np.unique(np.linspace(0, len(records) - 1, min(_SAMPLE_FRAMES, len(records))).round().astype(int))
    chosen = [records[i] for i in pick]
    prefetch(chosen)  # the disk reads all of them at once while the headers are read
    infos = [frame_info(rec.file, rec.dataset) for rec in chosen]
    return read_records(chosen, infos[0].shape, np.result_type(*{i.dtype for i in infos}))


def _saturation_level(exp: Experiment, dtype: np.dtype | str) -> float | None:
    """Saturation level [counts] of frames of ``dtype``: ``detector.saturation`` if given, else the largest value
    of an integer type (a pixel there was clipped by the read-out), else None (float frames: not checked)."""
    if exp.detector.saturation is not None:
        return float(exp.detector.saturation)
    dtype = np.dtype(dtype)
    return float(np.iinfo(dtype).max) if dtype.kind in "ui" else None


def _detector(exp: Experiment, sample: np.ndarray, images, structure) -> tuple[Geometry, MaskResult, float]:
    """Center, automatic masks and (optionally) camera length from a sample of frames spread over the run."""
    shape = sample.shape[1:]
    median, peak = median_peak(sample)
    dead, hot, saturated = pixel_defects(median, peak, saturation=_saturation_level(exp, sample.dtype))
    if images["dark"] is not None:
        median -= images["dark"]
    usable = valid_pixels(dead, hot, saturated, user_mask=images["mask"])
    if np.count_nonzero(usable) < 16:
        det = exp.detector
        where = " and ".join([f"the mask file {p} (experiment.detector.{k})" for k in ("mask", "pyfai_mask")
                              if (p := getattr(det, k))] + ["experiment.detector.mask_polygons"] * bool(det.mask_polygons)
                             ) or "no user mask"
        raise GeometryError(f"only {np.count_nonzero(usable)} valid pixels with {where} and the automatic masks ("
                            f"{int(dead.sum())} dead, {int(hot.sum())} hot, {int(saturated.sum())} saturated): the beam "
                            "center cannot be found; a mask marks usable pixels with 1/True — check it is not inverted "
                            "or all zero")
    low = median < 0.2 * exact_median(median, usable)
    center, residual = _center(exp, median, valid_pixels(low, user_mask=usable))
    block = beam_block(median, center, invalid=hot | saturated)
    masks = MaskResult.assemble(dead, hot, saturated, block, images["mask"])
    log.info("center %s (residual %.3g px), masks %s", center, residual, masks.summary())
    geometry = _geometry(exp, shape, center)
    if exp.reduce.calibrate_camera_length and isinstance(structure, Structure):
        cal = calibrate_camera_length(median, geometry, structure, mask=masks.valid)
        log.info("camera length: %s", cal.summary())
        if not cal.success:
            log.warning("camera-length calibration: %s", cal.message)
        geometry = dataclasses.replace(geometry, camera_length_m=cal.camera_length_m)
    elif exp.reduce.calibrate_camera_length:  # any crystal: its rings indexed while the length is scanned
        fit = calibrate_geometry(median, geometry, structure, mask=masks.valid, distortion="none")
        log.info("camera length fitted to the sample's rings:\n%s", fit.report())
        geometry = dataclasses.replace(geometry, camera_length_m=fit.geometry.camera_length_m)
    if exp.reduce.fit_distortion != "none":
        try:
            if exp.detector.center != "fixed":  # the beam walks: frame by frame
                dark = 0.0 if images["dark"] is None else images["dark"]
                geometry = distortion_from_frames(sample - dark, geometry, structure, mask=masks.valid,
                                                  distortion=exp.reduce.fit_distortion)
                log.info("%s fitted to each sample frame: %s", exp.reduce.fit_distortion, geometry)
            else:
                fit = calibrate_geometry(median, geometry, structure, mask=masks.valid,
                                         distortion=exp.reduce.fit_distortion, fit_length=False)
                log.info("%s fitted to the sample's rings:\n%s", exp.reduce.fit_distortion, fit.report())
                if not fit.success:
                    log.warning("%s fit: %s", exp.reduce.fit_distortion, fit.message)
                geometry = fit.geometry
        except GeometryError as exc:  # degrade: integrate with the geometry as configured
            log.warning("reduce.fit_distortion: %s; integrating with the configured geometry", exc)
    return geometry, masks, residual


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _difference_image(raw_after, raw_before, n_after, n_before, tot_after, tot_before, scale, dark, flat, valid,
                      out):  # pragma: no cover - compiled
    """One pass of :func:`_diff_pattern` over the pixels (``dark``/``flat`` empty when not given)."""
    for i in range(len(out)):
        d = dark[i] if len(dark) else 0.0
        f = (flat[i] if flat[i] > 0 else np.nan) if len(flat) else 1.0
        diff = ((raw_after[i] - n_after * d) / tot_after - (raw_before[i] - n_before * d) / tot_before) * scale
        out[i] = diff / f if valid[i] else np.nan


def _diff_pattern(res: PassResult, dark: np.ndarray | None, flat: np.ndarray | None, median_total: float,
                  mask: np.ndarray) -> np.ndarray:
    """Mean frame after minus before time zero, each normalised by its mean total (scaled to the median total)."""
    if res.n_before == 0 or res.n_after == 0:
        return np.full(mask.shape, np.nan)
    out = np.empty(mask.shape)
    none = np.empty(0)
    _difference_image(res.raw_after, res.raw_before, float(res.n_after), float(res.n_before), float(res.tot_after),
                      float(res.tot_before), float(median_total), none if dark is None else np.ravel(dark),
                      none if flat is None else np.ravel(flat), np.ravel(mask), out.reshape(-1))
    return out


def _drop_rejected(res: PassResult, records, rejected: np.ndarray, delay: np.ndarray, shape, dtype) -> None:
    """Remove rejected frames from the before/after sums (re-reads only those frames)."""
    if not len(rejected):
        return
    for i in rejected:
        frame = read_records([records[i]], shape, dtype)[0].ravel()
        if delay[i] < 0:
            res.raw_before -= frame
            res.n_before -= 1
        elif delay[i] > 0:
            res.raw_after -= frame
            res.n_after -= 1
    kept = np.ones(len(delay), bool)
    kept[rejected] = False  # totals of rejected frames may be NaN (saturated): sum the others afresh
    res.tot_before = float(res.totals[kept & (delay < 0)].sum())
    res.tot_after = float(res.totals[kept & (delay > 0)].sum())


def _prepare(exp: Experiment, records, structure, clock: _Clock, readahead: Readahead | None):
    """Check every file's header in a thread (I/O bound) while sample frames give center, masks and operator.

    ``readahead`` is started once the sample frames are read (before, its reads would delay them). Returns
    the frame stack, the dark/flat/mask images, geometry, masks, center residual, operator and what integrates the
    frames (the operator, or with a per-scan or per-frame centre its :class:`~uedflow.reduce.recenter.Recentering`).
    """
    red = exp.reduce
    with ThreadPoolExecutor(1) as pool:
        headers = pool.submit(open_frames, records, chunk_frames=red.chunk_frames)
        try:
            sample = _read_sample(records)
            if readahead is not None:
                readahead.start()
            images = _images(exp, sample.shape[1:])
            geometry, masks, residual = _detector(exp, sample, images, structure)
            clock.lap("detector")
            gain, read_noise = operator_noise(exp.detector)
            options = {"mask": masks.valid, "n_bins": red.n_bins, "s_range": red.s_range, "flat": images["flat"],
                       "dark": images["dark"], "gain": gain, "read_noise": read_noise}
            op = integrator = build_operator(geometry, **options)
            if exp.detector.center != "fixed":  # the same bins, split in sectors (a per-frame centre)
                integrator = recentering(geometry, exp.detector.center,
                                         **{**options, "s_range": (op.s_edges[0], op.s_edges[-1])})
            clock.lap("operator")
        except UedflowError:
            headers.result()  # a bad file found by the full header check is the clearer error
            raise
        stack = headers.result()
        clock.lap("headers")
    return stack, images, geometry, masks, residual, op, integrator


def _check_pass(exp: Experiment, delay: np.ndarray, s: np.ndarray, static: bool = False) -> np.ndarray:
    """Raise unless there are delays before and after time zero (before only, ``static``) and s bins in the
    normalisation window; return the window (bins,) of bool."""
    red = exp.reduce
    if not np.any(delay < 0):
        raise InputError(f"manifest {exp.manifest}: no frame before time zero ({exp.time_zero_ps} ps; delays span "
                         f"{delay.min() + exp.time_zero_ps}..{delay.max() + exp.time_zero_ps} ps); the reference needs "
                         "negative delays — add such frames or set experiment.time_zero_ps")
    if not static and not np.any(delay > 0):
        raise ConfigError(f"manifest {exp.manifest}: no frame after time zero ({exp.time_zero_ps} ps; delays span "
                          f"{delay.min() + exp.time_zero_ps}..{delay.max() + exp.time_zero_ps} ps); check "
                          "experiment.time_zero_ps (it must lie inside the delay range) and the manifest's delay_ps")
    window = np.ones(len(s), bool) if red.normalize_window is None else (
        (s >= red.normalize_window[0]) & (s <= red.normalize_window[1]))
    if not window.any():
        raise InputError(f"reduce.normalize_window {red.normalize_window} Å⁻¹ holds no s bin (s spans {s[0]:.4g}..{s[-1]:.4g})")
    return window


def reduce_inputs(exp: Experiment, records: Sequence[FrameRecord] | None = None) -> tuple[list[Path], list[Path]]:
    """(fingerprinted inputs, frame files checked by size and mtime) of a reduction.

    The fingerprinted inputs are the manifest and the dark/flat/mask files; the frame files are
    too many to read, so their size and modification time stand for them. The experiment file
    itself is left out: its parsed content is the configuration. ``records``, the manifest already
    read, spares reading it again.
    """
    det = exp.detector
    files = [exp.manifest] + [Path(p) for p in (det.dark, det.flat, det.mask, det.pyfai_mask, det.poni) if p]
    frames = sorted({r.file for r in (read_manifest(exp.manifest) if records is None else records)})
    return files, frames


def reduce_config(exp: Experiment) -> dict:
    """The part of the experiment's configuration a reduction depends on (all but ``[analyze]``)."""
    return {k: v for k, v in exp.to_dict().items() if k != "analyze"}


def _checkpoint(exp: Experiment, folder: str | Path | None, every_s: float, records) -> PassCheckpoint | None:
    if folder is None:
        return None
    key = stage_key("reduce-pass", reduce_config(exp), *reduce_inputs(exp, records))
    return PassCheckpoint(folder, key, chunk_bounds(len(records), exp.reduce.chunk_frames), every_s=every_s)


def reduce_experiment(
    experiment: Experiment,
    *,
    scheduler: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every_s: float = 60.0,
    worker_wait_s: float = WORKER_WAIT_S,
    memory_budget_bytes: int | None = None,
) -> xr.Dataset:
    """Reduce an experiment's frames to the calibrated powder series of docs/formats.md (reduced.h5).

    Parameters
    ----------
    experiment : Experiment
        From :func:`uedflow.config.load_experiment`.
    scheduler : str, optional
        Address of a ``dask.distributed`` scheduler; default: local threads.
    progress : callable, optional
        ``progress(done, total)`` over frame chunks.
    checkpoint : str or Path, optional
        Folder where the pass over the frames saves its progress every ``checkpoint_every_s`` seconds and
        when it stops (error, Ctrl-C); if it holds a checkpoint of the same configuration and inputs, the
        chunks saved there are not read again. Remove it once the result is written
        (:func:`uedflow.reduce.checkpoint.discard`).
    checkpoint_every_s : float
        Seconds between checkpoint saves.
    worker_wait_s : float
        (``scheduler`` only) Seconds to wait while the cluster has no worker before the reduction stops
        (:class:`~uedflow.errors.ClusterError`), its progress kept in ``checkpoint``.
    memory_budget_bytes : int, optional
        (local threads) Bound on the read buffers of all threads; default a quarter of the machine's memory
        (:func:`uedflow.reduce.execute.local_threads`).

    Returns
    -------
    xarray.Dataset
        Variables ``intensity``, ``intensity_sigma``, ``intensity_scan``, ... on
        coordinates ``delay`` [ps], ``scan``, ``s`` [Å⁻¹], ``row``, ``col``.

    Raises
    ------
    ConfigError, FileFormatError, InputError, GeometryError, CrystalError
        Bad manifest rows, unreadable or inconsistent frames, NaN/inf or empty
        frames, a center off the image, an unknown material, no delay before t0.
    """
    exp, red = experiment, experiment.reduce
    if red.n_bins < _MIN_BINS:
        raise ConfigError(f"[reduce] n_bins = {red.n_bins} in {exp.path}: at least {_MIN_BINS} s bins are needed "
                          "to resolve the rings; use a few hundred (the default) or leave it out")
    clock = _Clock()
    structure = sample_crystal(exp.sample)
    records = read_manifest(exp.manifest)
    ckpt = _checkpoint(exp, checkpoint, checkpoint_every_s, records)
    skip = np.flatnonzero(ckpt.done) if ckpt is not None else ()
    # (local threads) a thread has the disk read the first chunks while center, masks and operator are computed,
    # then keeps ahead of the pass
    with Readahead(records, red.chunk_frames, skip=skip) if scheduler is None else contextlib.nullcontext() as ahead:
        stack, images, geometry, masks, residual, op, integrator = _prepare(exp, records, structure, clock, ahead)
        # one delay: a static pattern (or static series); every frame is then reference (delay -1 ps)
        static = bool(np.ptp(stack.delay_ps) == 0)
        t0 = stack.delay_ps[0] + 1.0 if static else exp.time_zero_ps
        delay = stack.delay_ps - t0
        window = _check_pass(exp, delay, op.s, static)
        res = run_pass(stack, integrator, window=window, delay_ps=delay, saturation=_saturation_level(exp, stack.data.dtype),
                       scheduler=scheduler, progress=progress, readahead=ahead, checkpoint=ckpt,
                       worker_wait_s=worker_wait_s, memory_budget_bytes=memory_budget_bytes)
    clock.lap("pass")
    for i in np.flatnonzero(res.totals <= 0):  # NaN: a saturated bin in the window, handled by combine_scans
        rec = records[i]
        raise InputError(f"frame {rec.file} (manifest line {rec.row}) has {res.totals[i]:.4g} counts in the normalisation "
                         "window after dark subtraction; check the dark file and reduce.normalize_window")
    noise = detector_noise(exp.detector, res, op, delay < 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.where(op.counts > 0, op.counts, np.nan)
        series = combine_scans(res.sums / c, res.var_sums / c**2, stack.scan, stack.delay_ps, op.s, totals=res.totals,
                               outlier_sigma=red.outlier_sigma, time_zero_ps=t0,
                               counts=op.counts, window=window)
    scan_idx = np.searchsorted(series.scans, stack.scan)
    delay_idx = np.searchsorted(series.delay_ps, delay)
    # frames with a burst or saturation leave the 2D pattern too (their profiles only lose the affected bins)
    spoiled = series.frame_rejected | (series.points_flagged > 0)
    _drop_rejected(res, records, np.flatnonzero(spoiled[scan_idx, delay_idx]), delay, stack.shape, stack.data.dtype)
    diff = _diff_pattern(res, images["dark"], images["flat"], float(np.nanmedian(res.totals)), masks.valid)
    if static:  # the frames' own delay, no differential: a static I(s)
        series = dataclasses.replace(series, delay_ps=series.delay_ps + t0 - exp.time_zero_ps)
    ds = _to_dataset(exp, structure, series, op.counts, masks.valid, diff, geometry, residual, static=static)
    if exp.detector.center != "fixed":
        _center_trace(ds, res.centers, scan_idx, delay_idx, exp.detector.center)
    ds.attrs.update(noise)
    clock.lap("combine")
    log.info("reduced %d frames in %.2f s: %s", len(records), sum(clock.laps.values()),
             ", ".join(f"{k} {v:.3f} s" for k, v in clock.laps.items()), extra={"timings_s": dict(clock.laps)})
    return ds


class _Clock:
    """Wall time of consecutive steps: ``lap(name)`` records the seconds since the previous lap."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = now - self._t
        self._t = now


def _to_dataset(exp: Experiment, structure, series: PowderSeries, counts, mask, diff, geometry: Geometry,
                residual: float, *, static: bool = False) -> xr.Dataset:
    sample, cubic = exp.sample, isinstance(structure, Structure)
    nan = float("nan")
    differential = np.full_like(series.intensity, np.nan) if static else series.differential
    ds = xr.Dataset(
        {
            "intensity": (("delay", "s"), series.intensity),
            "intensity_sigma": (("delay", "s"), series.intensity_sigma),
            "intensity_scan": (("scan", "delay", "s"), series.intensity_scan),
            "intensity_scan_sigma": (("scan", "delay", "s"), series.intensity_scan_sigma),
            "reference": (("s",), series.reference),
            "reference_sigma": (("s",), series.reference_sigma),
            "differential": (("delay", "s"), differential),
            "counts": (("s",), counts),
            "mask": (("row", "col"), mask.astype(np.uint8)),
            "diff_pattern": (("row", "col"), diff),
            "frame_weight": (("scan", "delay"), series.frame_weight),
            "frame_rejected": (("scan", "delay"), series.frame_rejected.astype(np.uint8)),
        },
        coords={"s": ("s", series.s, {"units": "1/angstrom", "long_name": "s = 1/d"}),
                "delay": ("delay", series.delay_ps, {"units": "ps"}),
                "scan": ("scan", series.scans.astype(np.int64))},
        attrs={
            "material": structure.name,
            # a cubic structure for the time-resolved chain, or any crystal as CIF text
            "structure_json": json.dumps(structure.summary()) if cubic else "",
            "crystal_cif": "" if cubic else crystal_to_cif(structure),
            "lattice_constant_angstrom": structure.a_angstrom if cubic else structure.lattice.a,
            "temperature_K": sample.temperature_K,
            "fluence_mJ_cm2": nan if sample.fluence_mJ_cm2 is None else sample.fluence_mJ_cm2,
            "diameter_nm": nan if sample.diameter_nm is None else sample.diameter_nm,
            "electron_energy_keV": exp.beam.energy_keV,
            "wavelength_angstrom": geometry.wavelength_angstrom,
            "camera_length_m": geometry.camera_length_m,
            "pixel_size_m": geometry.pixel_size_m,
            "center_rc": np.asarray(geometry.center_rc, float),
            "tilt_rad": np.asarray(geometry.tilt_rad, float), "ellipticity": geometry.ellipticity,
            "ellipse_angle_rad": geometry.ellipse_angle_rad,
            "center_residual_px": residual,
            "sample_label": sample.label or structure.name,
            "experiment_name": exp.name,
            "time_zero_ps": exp.time_zero_ps,
            "frames_rejected": int(series.frame_rejected.sum()),
            "points_rejected": series.n_points_rejected,
            "static": int(static),
        },
    )
    for name in ("intensity", "intensity_sigma", "intensity_scan", "intensity_scan_sigma", "reference",
                 "reference_sigma", "differential", "diff_pattern"):
        ds[name].attrs["units"] = "counts/pixel (normalised)"
    if series.frame_burst is not None:  # why each rejected frame was left out (CF flag convention)
        ds["frame_reject_reason"] = (("scan", "delay"), np.where(
            series.frame_burst, 1, np.where(series.frame_rejected, 2, 0)).astype(np.uint8), {
            "units": "1", "long_name": "reason a frame was rejected", "flag_values": np.array([0, 1, 2], np.uint8),
            "flag_meanings": "kept burst_or_saturation outlier_against_other_scans"})
    return ds


def _center_trace(ds: xr.Dataset, centers: np.ndarray, scan_idx: np.ndarray, delay_idx: np.ndarray, mode: str) -> None:
    """Add the beam centre of every frame as ``center_row``/``center_col`` (scan, delay) [px] (mean of the frames
    of a (scan, delay) point)."""
    shape = (ds.sizes["scan"], ds.sizes["delay"])
    n = np.zeros(shape)
    np.add.at(n, (scan_idx, delay_idx), 1.0)
    for i, name in enumerate(("center_row", "center_col")):
        total = np.zeros(shape)
        np.add.at(total, (scan_idx, delay_idx), centers[:, i])
        ds[name] = (("scan", "delay"), total / np.where(n > 0, n, np.nan))
    ds.attrs["center_mode"] = mode


def write_reduced(ds: xr.Dataset, path: str | Path, *, experiment: Experiment) -> Path:
    """Write a reduced dataset atomically, with provenance (config and input fingerprints).

    The inputs fingerprinted are the experiment file, the manifest, every
    frame file and the dark/flat/mask files.
    """
    files, frames = reduce_inputs(experiment)
    inputs = [p for p in (experiment.path, *files) if p] + frames
    return write_dataset(ds, path, format=REDUCED_FORMAT, version=REDUCED_VERSION, config=experiment.to_dict(),
                         inputs=inputs)


def open_reduced(path: str | Path) -> xr.Dataset:
    """Open a reduced.h5 file (checks format and version), loaded into memory."""
    return open_dataset(path, format=REDUCED_FORMAT, version=REDUCED_VERSION)
