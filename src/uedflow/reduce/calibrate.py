"""Camera-length calibration from the known powder rings of the sample.

On a flat detector a ring of known s lands at radius r = L tan 2θ with
sin θ = sλ/2, so the radii measured for several reflections fix L by linear
least squares (L = Σ r t / Σ t², t = tan 2θ). The rings are first matched by
scanning L over ±``search`` of the nominal value for the best overlap of the
predicted radii with the ring peaks of the radial profile.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from uedflow.crystal import Crystal, Structure, reflections
from uedflow.crystal.indexing import PeakIndexing, index_solutions
from uedflow.errors import GeometryError
from uedflow.reduce.geometry import Geometry

__all__ = ["CalibrationResult", "GeometryCalibration", "RingResidual", "calibrant_rings", "calibrate_camera_length",
           "calibrate_geometry", "radial_profile_px"]


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


def _ring_filter(image: np.ndarray, center_rc: tuple[float, float], mask: np.ndarray | None
                 ) -> tuple[np.ndarray, np.ndarray, float]:
    """(radius [px], high-passed radial profile, largest usable radius [px]) of an image about a centre."""
    from scipy.ndimage import gaussian_filter1d

    radius, prof = radial_profile_px(np.asarray(image, float), center_rc, mask=mask)
    ok = np.isfinite(prof)
    if ok.sum() < 16:
        raise GeometryError("fewer than 16 radii hold valid pixels: no ring can be found; check the mask")
    prof = np.interp(radius, radius[ok], prof[ok])
    hp = prof - gaussian_filter1d(prof, 8.0)
    hp[: int(radius[ok][0]) + 3] = 0
    return radius, hp, float(radius[ok][-1] - 3)


def _scan_length(radius: np.ndarray, hp: np.ndarray, r_max: float, t: np.ndarray, geometry: Geometry,
                 search: float) -> float:
    """The camera length [m] within ±``search`` of the nominal one whose ring radii L·tan 2θ (``t``) best overlap
    the peaks of the high-passed profile ``hp``."""
    l0 = geometry.camera_length_m
    trial = np.linspace(l0 * (1 - search), l0 * (1 + search), 801)
    pred = trial[:, None] * t[None, :] / geometry.pixel_size_m
    score = np.where(pred < r_max, np.interp(pred, radius, hp, right=0.0), 0.0).sum(axis=1)
    return float(trial[np.argmax(score)])


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
    px, lam = geometry.pixel_size_m, geometry.wavelength_angstrom
    radius, hp, r_max = _ring_filter(image, geometry.center_rc, mask)
    s_edge = 2 * np.sin(0.5 * np.arctan(r_max * px / (geometry.camera_length_m * (1 - search)))) / lam
    refl = reflections(structure, s_edge)
    t = np.tan(2 * np.arcsin(np.array([r.s_inv_angstrom for r in refl]) * lam / 2))
    best = _scan_length(radius, hp, r_max, t, geometry, search)
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


@dataclass(frozen=True)
class RingResidual:
    """Fit residuals of one calibrant ring.

    Attributes
    ----------
    label : str
        Reflection(s) (``"111"``, ``"333/511"``) or ``"d=2.355"``.
    s_inv_angstrom : float
        Known s = 1/d of the ring [Å⁻¹].
    n_points : int
        Azimuthal sectors in which the ring was located.
    mean_px, rms_px : float
        Mean and RMS of the fitted minus measured ring radius over those sectors [px].
    mean_rel_s : float
        Mean over those sectors of s(measured point) / s_ring − 1 under the fitted geometry (relative).
    """

    label: str
    s_inv_angstrom: float
    n_points: int
    mean_px: float
    rms_px: float
    mean_rel_s: float = float("nan")


@dataclass(frozen=True)
class GeometryCalibration:
    """Detector geometry fitted to the rings of a calibrant (:func:`calibrate_geometry`).

    Attributes
    ----------
    geometry : Geometry
        Fitted centre, camera length and ellipticity (or tilt).
    stderr : dict of str to float
        1σ of the fitted parameters (``center_row_px``, ``center_col_px``, ``camera_length_m`` and
        ``ellipticity``, ``ellipse_angle_rad`` or ``rot1_rad``, ``rot2_rad``).
    rings : tuple of RingResidual
        Per-ring residuals.
    rms_px : float
        RMS radial residual over every ring point [px].
    success : bool
    message : str
    """

    geometry: Geometry
    stderr: dict[str, float]
    rings: tuple[RingResidual, ...]
    rms_px: float
    success: bool
    message: str
    indexing: PeakIndexing | None = None

    def summary(self) -> dict[str, object]:
        """JSON-safe dict."""
        g = self.geometry
        return {"center_rc": list(g.center_rc), "camera_length_m": g.camera_length_m, "tilt_rad": list(g.tilt_rad),
                "ellipticity": g.ellipticity, "ellipse_angle_rad": g.ellipse_angle_rad, "stderr": dict(self.stderr),
                "rings": [dataclasses.asdict(r) for r in self.rings], "rms_px": self.rms_px,
                "success": self.success, "message": self.message,
                "indexing": None if self.indexing is None else self.indexing.summary()}

    def report(self) -> str:
        """Text table: the fitted geometry and each ring's residuals."""
        g, e = self.geometry, self.stderr
        lines = [f"center (row, col)  {g.center_rc[0]:.3f} ± {e['center_row_px']:.3f}, "
                 f"{g.center_rc[1]:.3f} ± {e['center_col_px']:.3f} px",
                 f"camera length      {g.camera_length_m:.6f} ± {e['camera_length_m']:.6f} m"]
        if "ellipticity" in e:
            lines.append(f"ellipticity        {g.ellipticity:.5f} ± {e['ellipticity']:.5f} at "
                         f"{g.ellipse_angle_rad:.4f} ± {e['ellipse_angle_rad']:.4f} rad")
        if "rot1_rad" in e:
            lines.append(f"tilt rot1, rot2    {g.tilt_rad[0]:.5f} ± {e['rot1_rad']:.5f}, "
                         f"{g.tilt_rad[1]:.5f} ± {e['rot2_rad']:.5f} rad")
        if self.indexing is not None:
            lines.append("rings indexed on the radial profile at the scanned camera length:")
            lines.append(self.indexing.report())
        lines.append(f"{'ring':>10} {'s [1/Å]':>9} {'sectors':>7} {'mean [px]':>9} {'rms [px]':>8} {'Δs/s [%]':>9}")
        lines += [f"{r.label:>10} {r.s_inv_angstrom:9.5f} {r.n_points:7d} {r.mean_px:9.3f} {r.rms_px:8.3f} "
                  f"{100 * r.mean_rel_s:+9.4f}" for r in self.rings]
        lines.append(f"all rings: rms {self.rms_px:.3f} px — {self.message}")
        return "\n".join(lines)


def calibrant_rings(calibrant: Structure | Sequence[float], s_max: float) -> list[tuple[str, float]]:
    """(label, s [Å⁻¹]) of a calibrant's rings up to ``s_max``: a structure's reflections (families at one s
    joined, ``"333/511"``) or the rings of a list of d spacings [Å]. (A :class:`Crystal` of any space group is
    indexed on the data instead, see :func:`calibrate_geometry`.)"""
    if isinstance(calibrant, Structure):
        rings: dict[float, list[str]] = {}
        for ref in reflections(calibrant, s_max):
            rings.setdefault(round(ref.s_inv_angstrom, 9), []).append(ref.label)
        return [("/".join(labels), s) for s, labels in rings.items()]
    d = np.asarray(calibrant, float)
    if d.ndim != 1 or len(d) == 0 or not np.all(np.isfinite(d) & (d > 0)):
        raise GeometryError(f"calibrant d spacings must be positive numbers in Å, got {list(calibrant)}")
    return [(f"d={v:.4g}", 1.0 / v) for v in sorted(set(d.tolist()), reverse=True) if 1.0 / v <= s_max]


#: the parameters fitted besides the centre and camera length, per distortion model
_DISTORTIONS = {"none": (), "ellipticity": ("e_cos", "e_sin"), "tilt": ("rot1_rad", "rot2_rad")}


def _with_params(geometry: Geometry, x: np.ndarray, names: tuple[str, ...]) -> Geometry:
    """``geometry`` with the fitted parameters ``names`` (row, col[, L], distortion parameters) set to x."""
    p = dict(zip(names, map(float, x), strict=True))
    extra: dict[str, object] = {}
    if "e_cos" in p:
        extra = {"ellipticity": float(np.hypot(p["e_cos"], p["e_sin"])),
                 "ellipse_angle_rad": float(0.5 * np.arctan2(p["e_sin"], p["e_cos"]))}
    elif "rot1_rad" in p:
        extra = {"tilt_rad": (p["rot1_rad"], p["rot2_rad"], geometry.tilt_rad[2])}
    return dataclasses.replace(geometry, center_rc=(p["row"], p["col"]),
                               camera_length_m=p.get("L", geometry.camera_length_m), **extra)


def _residual(x: np.ndarray, geometry: Geometry, names: tuple[str, ...], rows: np.ndarray, cols: np.ndarray,
              ring_s: np.ndarray) -> np.ndarray:
    """Relative s misfit of ring points [1e-4] under the fit vector x."""
    return (_with_params(geometry, x, names).s_at(rows, cols) / ring_s - 1) * 1e4


def _ring_points(image: np.ndarray, valid: np.ndarray, geometry: Geometry, ring_s: np.ndarray, half_width_px: float,
                 n_sectors: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, cols, ring index) of ring points: in each azimuthal sector about the centre, the centroid (above half
    maximum, over a linear background) of the radial profile around each ring's radius predicted by ``geometry``."""
    r0, c0 = geometry.center_rc
    rr, cc = np.nonzero(valid)
    values = image[rr, cc]
    radius = np.hypot(rr - r0, cc - c0)
    phi = np.arctan2(rr - r0, cc - c0)
    sector = np.minimum(((phi + np.pi) / (2 * np.pi) * n_sectors).astype(np.int64), n_sectors - 1)
    phi_c = -np.pi + (np.arange(n_sectors) + 0.5) * 2 * np.pi / n_sectors
    ray = np.arange(0.0, radius.max() + 2.0, 0.25)
    s_ray = geometry.s_at(r0 + np.sin(phi_c)[:, None] * ray, c0 + np.cos(phi_c)[:, None] * ray)
    pred = np.array([[np.interp(s, row, ray, right=np.nan) for row in s_ray] for s in ring_s])  # (rings, sectors)
    step, out = 0.5, ([], [], [])
    for k, r_pred in enumerate(pred):
        near = np.abs(np.delete(pred, k, axis=0) - r_pred) if len(pred) > 1 else np.full((1, n_sectors), np.inf)
        w = float(np.clip(0.5 * np.nanmin(near, initial=np.inf), 3.0, half_width_px))
        wrap = np.concatenate([phi_c[-1:] - 2 * np.pi, phi_c, phi_c[:1] + 2 * np.pi])
        at = np.interp(phi, wrap, np.concatenate([r_pred[-1:], r_pred, r_pred[:1]]))
        sel = np.abs(radius - at) < w
        n_bins = int(np.ceil(2 * w / step))
        b = np.minimum(((radius[sel] - at[sel] + w) / step).astype(np.int64), n_bins - 1)
        key = sector[sel] * n_bins + b
        num = np.bincount(key, values[sel], minlength=n_sectors * n_bins).reshape(n_sectors, n_bins)
        den = np.bincount(key, minlength=n_sectors * n_bins).reshape(n_sectors, n_bins)
        delta = (np.arange(n_bins) + 0.5) * step - w
        edge = max(n_bins // 4, 2)
        for j in np.flatnonzero((den > 0).sum(axis=1) >= 0.8 * n_bins):
            ok = den[j] > 0
            prof = num[j, ok] / den[j, ok]
            x = delta[ok]
            outer = np.r_[np.arange(edge), np.arange(len(x) - edge, len(x))]
            slope, icpt = np.polyfit(x[outer], prof[outer], 1)
            y = prof - (slope * x + icpt)
            top = int(np.argmax(y))
            noise = np.std(y[outer]) + 1e-12 * abs(y[top])
            if not y[top] > 5 * noise or top < 1 or top > len(y) - 2:
                continue
            lo, hi = top, top
            while lo > 0 and y[lo - 1] > y[top] / 2:
                lo -= 1
            while hi < len(y) - 1 and y[hi + 1] > y[top] / 2:
                hi += 1
            if lo == 0 or hi == len(y) - 1:  # the ring is not inside the window
                continue
            d, h = x[top], (hi - lo + 2) * step / 2  # centroid in a window of about the FWHM, centred on itself
            for _ in range(6):
                w_in = np.clip((h - np.abs(x - d)) / step + 0.5, 0.0, 1.0) * y  # bins' overlap with the window
                if not np.sum(w_in) > 0:  # no positive signal left in the window: no ring here
                    d = np.nan
                    break
                d = float(np.sum(w_in * x) / np.sum(w_in))
            if not np.isfinite(d):
                continue
            rho = r_pred[j] + d
            out[0].append(r0 + rho * np.sin(phi_c[j]))
            out[1].append(c0 + rho * np.cos(phi_c[j]))
            out[2].append(k)
    return np.asarray(out[0]), np.asarray(out[1]), np.asarray(out[2], np.int64)


def calibrate_geometry(image: np.ndarray, geometry: Geometry, calibrant: Structure | Crystal | Sequence[float], *,
                       mask: np.ndarray | None = None, distortion: str = "ellipticity", search: float = 0.2,
                       fit_length: bool = True, n_sectors: int = 72) -> GeometryCalibration:
    """Fit the beam centre, camera length and ring ellipticity (or detector tilt) to a calibrant's rings.

    The camera length is first matched within ±``search`` (:func:`calibrate_camera_length`'s scan); then, twice,
    the rings are located in ``n_sectors`` azimuthal sectors (the centroid of each ring's radial profile) and the
    geometry is fitted by least squares to the known s of the points (:math:`(s(\\mathrm{point}) - s_k)/s_k`),
    points beyond 4 robust σ left out. The ellipticity is fitted as (e cos 2φ, e sin 2φ), smooth at e = 0.

    Parameters
    ----------
    image : (rows, cols) ndarray
        Calibrant frame (or the mean of a static series).
    geometry : Geometry
        Starting point: centre (e.g. :func:`~uedflow.reduce.center.find_center`), nominal camera length, pixel
        size and energy (fixed).
    calibrant : Structure, Crystal or sequence of float
        The calibrant's cubic structure (e.g. ``get_structure("Au")``), a crystal of any space group (e.g.
        ``get_crystal("Bi")``: the peaks of the radial profile are first indexed with its rings while the camera
        length is scanned, so a textured film that shows only some rings calibrates too; see ``indexing`` of the
        result), or its d spacings [Å].
    mask : (rows, cols) ndarray of bool, optional
        True = valid pixel.
    distortion : {"ellipticity", "tilt", "none"}
        What is fitted besides the centre and camera length; tilt and ellipticity both make rings elliptical
        and are not fitted together.
    search : float
        Relative range of the first camera-length scan (0: start from the nominal value).
    fit_length : bool
        Fit the camera length (False: keep the one given, e.g. when the rings are the sample's own and its
        lattice constant is not known well enough to calibrate with).
    n_sectors : int
        Azimuthal sectors in which each ring is located.

    Raises
    ------
    GeometryError
        An unknown ``distortion``, or fewer than 2 rings located.
    """
    if distortion not in _DISTORTIONS:
        raise GeometryError(f"distortion must be one of {', '.join(_DISTORTIONS)}, got {distortion!r}")
    image = np.asarray(image, float)
    valid = np.isfinite(image) if mask is None else np.isfinite(image) & np.asarray(mask, bool)
    px, lam = geometry.pixel_size_m, geometry.wavelength_angstrom
    radius, hp, r_max = _ring_filter(image, geometry.center_rc, valid)
    s_edge = 2 * np.sin(0.5 * np.arctan(r_max * px / (geometry.camera_length_m * (1 - search)))) / lam
    names = ("row", "col", *(("L",) if fit_length else ()), *_DISTORTIONS[distortion])
    if isinstance(calibrant, Crystal):
        results, errors = [], []
        for indexing in _index_profile_peaks(radius, hp, r_max, geometry, calibrant, search if fit_length else 0.0):
            rings = list(dict.fromkeys((p.ring.label, p.ring.s_inv_angstrom) for p in indexing.peaks if p.ring))
            start = dataclasses.replace(geometry, camera_length_m=geometry.camera_length_m / indexing.scale)
            try:
                fitted = _fit_rings(image, valid, start, rings, names, n_sectors, r_max)
            except GeometryError as exc:
                errors.append(str(exc))
                continue
            results.append(dataclasses.replace(fitted, indexing=indexing))
        if not results:
            raise GeometryError(f"no indexing of the rings with {calibrant.name} could be fitted: {errors[0]}")
        fom = min(res.indexing.figure_of_merit for res in results)
        return min((res for res in results if res.indexing.figure_of_merit <= fom + 0.05), key=lambda res: res.rms_px)
    rings = calibrant_rings(calibrant, s_edge)
    if search > 0 and fit_length:
        t = np.tan(2 * np.arcsin(np.array([s for _, s in rings]) * lam / 2))
        geometry = dataclasses.replace(geometry, camera_length_m=_scan_length(radius, hp, r_max, t, geometry, search))
    return _fit_rings(image, valid, geometry, rings, names, n_sectors, r_max)


def _fit_rings(image: np.ndarray, valid: np.ndarray, geometry: Geometry, rings: list[tuple[str, float]],
               names: tuple[str, ...], n_sectors: int, r_max: float) -> GeometryCalibration:
    """Locate ``rings`` in sectors and fit the parameters ``names`` of ``geometry`` to them, twice (a wide then a
    narrow ring window), leaving out points beyond 4 robust σ."""
    from scipy.optimize import least_squares

    ring_s = np.array([s for _, s in rings])
    e = geometry.ellipticity
    start = {"e_cos": e * np.cos(2 * geometry.ellipse_angle_rad), "e_sin": e * np.sin(2 * geometry.ellipse_angle_rad),
             "rot1_rad": geometry.tilt_rad[0], "rot2_rad": geometry.tilt_rad[1]}
    start |= {"row": geometry.center_rc[0], "col": geometry.center_rc[1], "L": geometry.camera_length_m}
    x = np.array([start[n] for n in names])
    scale = np.array([{"row": 1.0, "col": 1.0, "L": 1e-3 * geometry.camera_length_m}.get(n, 1e-3) for n in names])
    for half_width in (0.04 * r_max + 4.0, 8.0):
        rows, cols, k = _ring_points(image, valid, _with_params(geometry, x, names), ring_s, half_width, n_sectors)
        if len(np.unique(k)) < 2 or len(k) < 4 * len(names):
            raise GeometryError(f"{len(np.unique(k))} calibrant ring(s) located in {len(k)} sectors (need 2 rings and "
                                f"{4 * len(names)} sectors); check the "
                                "calibrant, energy, pixel size and nominal camera length (or widen the search)")
        keep = np.ones(len(k), bool)
        for _ in range(2):  # fit, leave out points beyond 4 robust σ, fit again
            fit = least_squares(_residual, x, x_scale=scale, method="lm",
                                args=(geometry, names, rows[keep], cols[keep], ring_s[k[keep]]))
            x = fit.x
            r = _residual(x, geometry, names, rows, cols, ring_s[k])
            keep = np.abs(r - np.median(r)) <= 4 * 1.4826 * np.median(np.abs(r - np.median(r))) + 1e-9
    fitted = _with_params(geometry, x, names)
    return _calibration_result(fitted, fit, x, names, rows[keep], cols[keep], k[keep], rings)


def _index_profile_peaks(radius: np.ndarray, hp: np.ndarray, r_max: float, geometry: Geometry, crystal: Crystal,
                         search: float) -> list[PeakIndexing]:
    """The 3 best indexings of the peaks of the high-passed radial profile ``hp`` with ``crystal``'s rings (any
    subset may show, as in a textured film), scanning the camera length within ±``search``: tolerance 0.6 % in s,
    families closer than a quarter pixel form composite rings. Of those within 0.05 of the best figure of merit,
    the one whose ring fit leaves the smallest RMS residual is kept.

    Raises
    ------
    GeometryError
        Fewer than two profile peaks could be indexed.
    """
    from scipy.signal import find_peaks

    inside = hp[: int(r_max)]
    noise = 1.4826 * float(np.median(np.abs(np.diff(inside)))) / np.sqrt(2.0)
    idx, props = find_peaks(inside, prominence=5 * noise)
    idx, prom = idx[idx >= 1], props["prominences"][idx >= 1]
    if len(idx) < 2:
        raise GeometryError(f"{len(idx)} ring(s) in the radial profile (need 2); check the mask, centre and frame")
    curv = inside[idx - 1] - 2 * inside[idx] + inside[np.minimum(idx + 1, len(inside) - 1)]
    r_peak = radius[idx] + np.where(curv < 0, 0.5 * (inside[idx - 1] - inside[np.minimum(idx + 1, len(inside) - 1)])
                                    / np.where(curv < 0, curv, -1.0), 0.0)
    px, lam, length = geometry.pixel_size_m, geometry.wavelength_angstrom, geometry.camera_length_m
    s_nominal = 2 * np.sin(0.5 * np.arctan(r_peak * px / length)) / lam
    found = [r for r in index_solutions(s_nominal, crystal, prominence=prom, tolerance=0.006, n_solutions=3,
                                        scale_range=(1 / (1 + search), 1 / (1 - search)),
                                        resolution=px / (4 * length * lam)) if r.n_indexed >= 2]
    if not found:
        raise GeometryError(f"fewer than 2 of the {len(idx)} profile rings match {crystal.name}'s rings within "
                            f"±{100 * search:.0f} % of the nominal camera length; check the material, energy, pixel "
                            "size and camera length (or widen the search)")
    return found


def _calibration_result(fitted: Geometry, fit, x: np.ndarray, names: tuple[str, ...], rows: np.ndarray,
                        cols: np.ndarray, k: np.ndarray, rings: list[tuple[str, float]]) -> GeometryCalibration:
    """Residuals in px (Δs over ds/dr along the ray from the centre) and parameter errors of a fit."""
    ring_s = np.array([s for _, s in rings])
    r0, c0 = fitted.center_rc
    rho = np.hypot(rows - r0, cols - c0)
    ur, uc = (rows - r0) / rho, (cols - c0) / rho
    ds_dr = fitted.s_at(rows + 0.5 * ur, cols + 0.5 * uc) - fitted.s_at(rows - 0.5 * ur, cols - 0.5 * uc)
    resid_px = (ring_s[k] - fitted.s_at(rows, cols)) / ds_dr  # fitted minus measured radius
    dof = max(len(k) - len(x), 1)
    cov = np.linalg.pinv(fit.jac.T @ fit.jac) * np.sum(fit.fun**2) / dof
    err = dict(zip(names, np.sqrt(np.clip(np.diag(cov), 0, None)).tolist(), strict=True))
    stderr = {"center_row_px": err["row"], "center_col_px": err["col"], "camera_length_m": err.get("L", 0.0)}
    if "e_cos" in err:
        i = names.index("e_cos")
        ec, es = x[i], x[i + 1]
        e = max(np.hypot(ec, es), 1e-12)
        g_e, g_a = np.array([ec, es]) / e, np.array([-es, ec]) / (2 * e * e)
        sub = cov[i:i + 2, i:i + 2]
        stderr |= {"ellipticity": float(np.sqrt(g_e @ sub @ g_e)), "ellipse_angle_rad": float(np.sqrt(g_a @ sub @ g_a))}
    elif "rot1_rad" in err:
        stderr |= {"rot1_rad": err["rot1_rad"], "rot2_rad": err["rot2_rad"]}
    rel_s = fitted.s_at(rows, cols) / ring_s[k] - 1
    per_ring = tuple(RingResidual(label, s, int(np.sum(k == i)), float(np.mean(resid_px[k == i])),
                                  float(np.sqrt(np.mean(resid_px[k == i] ** 2))), float(np.mean(rel_s[k == i])))
                     for i, (label, s) in enumerate(rings) if np.any(k == i))
    rms = float(np.sqrt(np.mean(resid_px**2)))
    ok = rms < 0.5 and len(per_ring) >= 2
    return GeometryCalibration(fitted, stderr, per_ring, rms, ok,
                               "ok" if ok else f"ring points scatter {rms:.2f} px about the fitted geometry")
