"""Camera-length calibration from the known powder rings of the sample.

On a flat detector a ring of known s lands at radius r = L tan 2θ with
sin θ = sλ/2, so the radii measured for several reflections fix L by linear
least squares (L = Σ r t / Σ t², t = tan 2θ). The rings are first matched by
scanning L over ±``search`` of the nominal value for the best overlap of the
predicted radii with the ring peaks of the radial profile.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from uedflow.crystal import Structure, reflections
from uedflow.errors import GeometryError
from uedflow.reduce.geometry import Geometry

__all__ = ["CalibrationResult", "calibrate_camera_length", "radial_profile_px"]


@dataclass(frozen=True)
class CalibrationResult:
    """Calibrated camera length.

    Attributes
    ----------
    camera_length_m, stderr_m : float
        Fitted camera length and its 1σ [m].
    rings : tuple of str
        Reflections used.
    residual_px : float
        RMS difference of measured and fitted ring radii [px].
    """

    camera_length_m: float
    stderr_m: float
    rings: tuple[str, ...]
    residual_px: float
    success: bool
    message: str

    def summary(self) -> dict[str, object]:
        """JSON-safe dict."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}


def radial_profile_px(image: np.ndarray, center_rc: tuple[float, float], *, mask: np.ndarray | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Mean of valid pixels in 1-px radius bins: (radius [px], intensity)."""
    valid = np.isfinite(image) if mask is None else np.isfinite(image) & mask
    rows, cols = np.nonzero(valid)
    r = np.hypot(rows - center_rc[0], cols - center_rc[1])
    idx = np.rint(r).astype(np.int64)
    n = np.bincount(idx)
    prof = np.bincount(idx, image[rows, cols]) / np.maximum(n, 1)
    prof[n == 0] = np.nan
    return np.arange(len(prof), dtype=float), prof


def calibrate_camera_length(image: np.ndarray, geometry: Geometry, structure: Structure, *,
                            mask: np.ndarray | None = None, search: float = 0.2) -> CalibrationResult:
    """Fit the camera length to the rings of ``structure`` seen in ``image``.

    Parameters
    ----------
    image : (rows, cols) ndarray
        Mean or median frame (dark subtracted).
    geometry : Geometry
        Center, pixel size, energy and the nominal camera length.
    structure : Structure
        The sample; its allowed reflections give the ring s values.
    mask : ndarray of bool, optional
        True = valid.
    search : float
        Relative range scanned around the nominal camera length.

    Raises
    ------
    GeometryError
        Fewer than two rings can be located.
    """
    from scipy.ndimage import gaussian_filter1d

    radius, prof = radial_profile_px(np.asarray(image, float), geometry.center_rc, mask=mask)
    ok = np.isfinite(prof)
    prof = np.interp(radius, radius[ok], prof[ok])
    hp = prof - gaussian_filter1d(prof, 8.0)
    hp[: int(radius[ok][0]) + 3] = 0
    px, lam, l0 = geometry.pixel_size_m, geometry.wavelength_angstrom, geometry.camera_length_m
    r_max = radius[ok][-1] - 3
    s_edge = 2 * np.sin(0.5 * np.arctan(r_max * px / (l0 * (1 - search)))) / lam
    refl = reflections(structure, s_edge)
    t = np.tan(2 * np.arcsin(np.array([r.s_inv_angstrom for r in refl]) * lam / 2))
    trial = np.linspace(l0 * (1 - search), l0 * (1 + search), 801)
    pred = trial[:, None] * t[None, :] / px
    score = np.where(pred < r_max, np.interp(pred, radius, hp, right=0.0), 0.0).sum(axis=1)
    best = trial[np.argmax(score)]
    used, r_obs, t_obs = [], [], []
    for ref, tk in zip(refl, t, strict=True):
        rp = best * tk / px
        lo, hi = int(rp - 4), int(rp + 5)
        if lo < 3 or hi >= len(hp) - 1:
            continue
        seg = np.clip(hp[lo:hi], 0, None)
        if seg.sum() <= 0 or seg.max() < 3 * np.std(hp[hp != 0]) * 0.1:
            continue
        r_obs.append(float(np.sum(seg * radius[lo:hi]) / seg.sum()))
        t_obs.append(tk)
        used.append(ref.label)
    if len(used) < 2:
        raise GeometryError(
            f"camera-length calibration found {len(used)} ring(s) of {structure.name}; need 2 or more — "
            "check the sample material and energy, or set reduce.calibrate_camera_length = false")
    r_m, tt = np.asarray(r_obs) * px, np.asarray(t_obs)
    cam = float(np.sum(r_m * tt) / np.sum(tt * tt))
    resid = r_m - cam * tt
    dof = max(len(tt) - 1, 1)
    stderr = float(np.sqrt(np.sum(resid**2) / dof / np.sum(tt * tt)))
    rms_px = float(np.sqrt(np.mean(resid**2)) / px)
    ok_fit = rms_px < 1.0
    return CalibrationResult(cam, stderr, tuple(used), rms_px, ok_fit,
                             "ok" if ok_fit else f"ring radii scatter {rms_px:.2f} px about the fit")
