"""Detector gain and read noise estimated from the frames themselves.

Phosphor, MCP and EMCCD detectors multiply each electron by a random gain: the variance of a pixel's
count c is g·c + σ_r² with an *effective* gain g that includes the excess-noise factor (≈ 2 for an
EMCCD), several times the Poisson value a nominal gain gives, plus the read noise σ_r. When the
experiment file does not give them, :func:`estimate_noise` measures both from the frames before time
zero, which all record the same unpumped pattern: each frame's s-bin sums are scaled to a common total
(the dose), and over the s bins the variance between frames, v_j, is fitted as

    v_j = g · I_j · Σ_p w_jp²/f_p + σ_r² · Σ_p (w_jp/f_p)²,

I_j the bin's mean count per pixel (the variance-vs-mean method of detector characterisation, with the
many pixels of each ring bin as the repeated measurement), by weighted least squares (weights from the
χ² distribution of a sample variance, iterated once), with σ_r² ≥ 0.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from uedflow.config import DetectorConfig
from uedflow.errors import InputError
from uedflow.reduce.integrate import RadialOperator

__all__ = ["NoiseEstimate", "estimate_noise", "detector_noise", "operator_noise"]

log = logging.getLogger(__name__)

#: Fewest frames before time zero the estimate is made from.
MIN_FRAMES = 3


@dataclass(frozen=True)
class NoiseEstimate:
    """Effective gain [counts per electron, excess noise included] and read noise σ_r [counts], with 1σ."""

    gain: float
    gain_err: float
    read_noise_counts: float
    read_noise_err: float
    n_frames: int
    method: str


def estimate_noise(sums: np.ndarray, totals: np.ndarray, reference: np.ndarray, counts: np.ndarray,
                   per_count: np.ndarray, floor: np.ndarray, *, smooth_only: bool = False) -> NoiseEstimate:
    """Gain and read noise from the frames marked ``reference`` (module docstring).

    Parameters
    ----------
    sums : (B, n_bins) ndarray
        Dark-subtracted weighted pixel sums of every frame (:func:`uedflow.reduce.integrate.integrate_sums`).
    totals : (B,) ndarray
        Frame totals (the dose normalisation).
    reference : (B,) bool ndarray
        Frames of one unchanging pattern (before time zero).
    counts, per_count, floor : (n_bins,) ndarray
        Σ_p w_jp, Σ_p w_jp²/f_p and Σ_p (w_jp/f_p)² of the operator.
    smooth_only : bool
        Use only the smoother half of the bins (smallest |I'| + |I''| relative to I) inside the largest whole ring
        (most pixels per bin; beyond it the frame's edge moves through the sectors): frames integrated about
        their own centres keep a residual ring-shape scatter of ~0.2 % of a ring's peak at 3 px offsets, many
        times the shot noise of a bright ring (on the beamline preset, truth 6, the gain reads 9.8 from all bins and
        7.6 from the smooth ones).

    Raises
    ------
    InputError
        Fewer than :data:`MIN_FRAMES` usable reference frames, or no bin with a measured variance.
    """
    ref = np.asarray(reference, bool) & np.isfinite(totals) & (np.asarray(totals) > 0)
    if ref.sum() < MIN_FRAMES:
        raise InputError(f"the detector noise is estimated from frames before time zero; {int(ref.sum())} found, "
                         f"{MIN_FRAMES} needed — give detector.gain and detector.read_noise_counts instead")
    x = sums[ref] * (np.mean(totals[ref]) / totals[ref])[:, None]
    k = int(ref.sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        level = np.nanmean(x, axis=0) / counts
        var = np.nanvar(x, axis=0, ddof=1)
    a = np.column_stack([np.maximum(level, 0.0) * per_count, floor])
    ok = np.isfinite(var) & np.all(np.isfinite(a), axis=1) & (counts > 0) & (var > 0)
    if smooth_only:
        rough = (np.abs(np.gradient(level)) + np.abs(np.gradient(np.gradient(level)))) / np.abs(level)
        ok &= rough <= np.nanmedian(np.where(ok, rough, np.nan))
        ok &= np.arange(len(counts)) <= np.argmax(counts)  # whole rings: beyond, the frame edge cuts the sectors
    if ok.sum() < 3:
        raise InputError("no s bin with a measured frame-to-frame variance; give detector.gain and "
                         "detector.read_noise_counts")
    a, var = a[ok], var[ok]
    model = var.copy()
    for _ in range(3):  # a sample variance of k frames has relative σ √(2/(k−1)) of its expectation
        w = np.sqrt((k - 1) / 2.0) / np.maximum(model, 1e-300)
        coef, *_ = np.linalg.lstsq(a * w[:, None], var * w, rcond=None)
        if coef[1] < 0:  # no read noise measurable: fit the gain alone
            coef = np.array([np.linalg.lstsq(a[:, :1] * w[:, None], var * w, rcond=None)[0][0], 0.0])
        if not coef[0] > 0:
            raise InputError("the scatter between the frames before time zero does not grow with the counts (the "
                             "frames differ by more than noise); give detector.gain and detector.read_noise_counts")
        model = a @ coef
    cov = np.linalg.pinv((a * w[:, None]).T @ (a * w[:, None]))
    gain, r2 = float(coef[0]), float(coef[1])
    r = float(np.sqrt(max(r2, 0.0)))
    r_err = float(np.sqrt(cov[1, 1]) / (2 * r)) if r > 0 else float(np.sqrt(np.sqrt(cov[1, 1])))
    return NoiseEstimate(gain, float(np.sqrt(cov[0, 0])), r, r_err, k,
                         f"variance vs mean over {int(ok.sum())} s bins of {k} dose-normalised frames before time zero")


#: Gain and read noise [counts] of the operator when the experiment file gives none (rescaled once estimated).
_OP_NOISE = (1.0, 0.0)


def operator_noise(det: DetectorConfig) -> tuple[float, float]:
    """(gain, read noise [counts]) to build the integration operator with: the given ones, else 1 and 0."""
    return (_OP_NOISE[0] if det.gain is None else det.gain,
            _OP_NOISE[1] if det.read_noise_counts is None else det.read_noise_counts)


def detector_noise(det: DetectorConfig, res: Any, op: RadialOperator, reference: np.ndarray) -> dict[str, object]:
    """reduced.h5 root attributes on the detector noise (docs/formats.md).

    Estimates what ``det`` does not give (:func:`estimate_noise` on the frames marked ``reference``) and
    recomputes the frames' variances ``res.var_sums`` (in place; ``res`` a pass result with ``sums``,
    ``var_sums``, ``totals``, ``smoothing``) with it. Too few reference frames: Poisson with the operator's values, said so.
    """
    if det.gain is not None and det.read_noise_counts is not None:
        return {"detector_gain": det.gain, "detector_gain_err": 0.0, "read_noise_counts": det.read_noise_counts,
                "read_noise_err_counts": 0.0, "noise_source": "given in the experiment file"}
    g_op, r_op = operator_noise(det)
    per_count = op.variance_per_count / g_op
    floor = op.variance_floor / r_op**2 if r_op > 0 else _unit_floor(op)
    # frames integrated about their own centres average neighbouring bins: their scatter is that much smaller
    recentred = bool(np.all(np.isfinite(res.centers)))
    smooth = float(np.mean(res.smoothing[reference])) if np.any(reference) else 1.0
    try:
        est = estimate_noise(res.sums, res.totals, reference, op.counts, per_count * smooth, floor * smooth,
                             smooth_only=recentred)
    except InputError as exc:  # degrade: Poisson counting with the operator's defaults, said in the file
        log.warning("detector noise not estimated (%s); σ assumes gain %g, read noise %g counts", exc, g_op, r_op)
        return {"detector_gain": g_op, "detector_gain_err": float("nan"), "read_noise_counts": r_op,
                "read_noise_err_counts": float("nan"), "noise_source": f"assumed, not estimated: {exc}"}
    gain = est.gain if det.gain is None else det.gain
    read = est.read_noise_counts if det.read_noise_counts is None else det.read_noise_counts
    with np.errstate(invalid="ignore", divide="ignore"):
        level = np.where(op.counts > 0, res.sums / np.where(op.counts > 0, op.counts, 1.0), 0.0)
    res.var_sums = gain * np.maximum(level, 0.0) * per_count + read**2 * floor
    log.info("detector noise estimated: gain %.3g ± %.2g counts per electron, read noise %.3g ± %.2g counts (%s)",
             est.gain, est.gain_err, est.read_noise_counts, est.read_noise_err, est.method)
    return {"detector_gain": gain, "detector_gain_err": est.gain_err if det.gain is None else 0.0,
            "read_noise_counts": read, "read_noise_err_counts": est.read_noise_err if det.read_noise_counts is None
            else 0.0, "noise_source": f"estimated: {est.method}"}


def _unit_floor(op) -> np.ndarray:
    """Σ_p (w_jp/f_p)² of the operator (its read-noise variance per unit σ_r²)."""
    w = op.weights.astype(np.float64)
    return np.bincount(op.bins, weights=w * w, minlength=op.n_bins)[: op.n_bins]
