"""Fourier analysis of lattice-resolved TEM images (paper Figure 2).

Windowed 2D power spectrum → azimuthal average against spatial frequency
[nm⁻¹] → background-subtracted intensity in a window around each allowed
reflection of the structure (s = 1/d) → intensities normalised to (200) and
the (111)/(200) ratio, the oriented-attachment indicator (dots attached along
⟨100⟩ lie on a ⟨100⟩ zone axis, where {111} planes are not edge-on).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from uedflow.crystal import Structure, get_structure, reflections
from uedflow.errors import FileFormatError, InputError
from uedflow.io import read_frame

__all__ = ["read_image", "power_spectrum", "radial_profile", "TemFFTResult", "analyze_lattice_image"]


def read_image(path: str | Path) -> np.ndarray:
    """Read a grey-scale micrograph as float (M, N).

    TIFF via tifffile, PNG/JPEG/BMP via Pillow; colour images are
    averaged over channels. DM3/DM4 through :func:`uedflow.io.read_frame`
    (ncempy's reader). The pixel size is never taken from the file: pass it.

    Raises
    ------
    FileFormatError
        Missing file, unsupported suffix or not a 2D image.
    """
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(f"image {path} does not exist")
    suffix = path.suffix.lower()
    if suffix in (".dm3", ".dm4"):
        data = read_frame(path)  # uedflow's DM3/DM4 frame reader
    elif suffix in (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp", ".gif"):
        try:
            if suffix in (".tif", ".tiff"):
                import tifffile

                data = tifffile.imread(path)
            else:
                from PIL import Image

                with Image.open(path) as im:  # closes the file even when the image is broken
                    data = np.asarray(im.convert("RGBA") if im.mode in ("P", "PA") else im)
        except (OSError, ValueError, SyntaxError, struct.error) as exc:
            raise FileFormatError(
                f"cannot read image {path} ({exc}); the file is truncated or not a {suffix[1:].upper()} image — "
                "export it again"
            ) from None
    else:
        raise FileFormatError(f"{path.name}: unsupported image type {suffix!r}; use TIFF or PNG")
    data = np.asarray(data, dtype=float)
    if data.ndim == 3 and data.shape[-1] in (3, 4):
        data = data[..., :3].mean(axis=-1)
    if data.ndim != 2:
        raise FileFormatError(f"{path.name}: expected a 2D grey-scale image, got shape {data.shape}")
    bad = ~np.isfinite(data)
    if bad.any():
        raise FileFormatError(f"image {path} has {int(bad.sum())} NaN/inf pixel(s), first at (row, col) = "
                              f"{tuple(int(i) for i in np.argwhere(bad)[0])}; replace them before the analysis")
    return data


def power_spectrum(image: np.ndarray, *, window: str = "hann") -> np.ndarray:
    """|FFT|² of the mean-subtracted, windowed image, zero frequency at the centre.

    Parameters
    ----------
    image : (M, N) ndarray
    window : {"hann", "none"}
        Separable Hann window against edge streaks.
    """
    img = np.asarray(image, dtype=float)
    if img.ndim != 2 or min(img.shape) < 16:
        raise InputError(f"image must be 2D and at least 16×16 pixels, got shape {img.shape}")
    if not np.all(np.isfinite(img)):
        raise InputError("image contains NaN or infinite pixels")
    img = img - img.mean()
    if window == "hann":
        img = img * np.outer(np.hanning(img.shape[0]), np.hanning(img.shape[1]))
    elif window != "none":
        raise InputError(f"window must be 'hann' or 'none', got {window!r}")
    return np.abs(np.fft.fftshift(np.fft.fft2(img))) ** 2


def radial_profile(spectrum: np.ndarray, pixel_nm: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Azimuthal mean of a centred power spectrum against spatial frequency.

    Returns
    -------
    freq_nm_inv : ndarray
        Bin centres [nm⁻¹], spacing 1/(N pixel_nm) with N the larger image side.
    intensity : ndarray
        Mean power in each annulus.
    counts : ndarray
        Pixels in each annulus.
    """
    if not pixel_nm > 0:
        raise InputError(f"pixel_nm must be positive, got {pixel_nm!r}")
    m, n = spectrum.shape
    fy = (np.arange(m) - m // 2) / (m * pixel_nm)
    fx = (np.arange(n) - n // 2) / (n * pixel_nm)
    f = np.hypot(fy[:, None], fx[None, :])
    step = 1.0 / (max(m, n) * pixel_nm)
    idx = np.rint(f / step).astype(int).ravel()
    nbin = int(min(m, n) // 2)
    sel = idx < nbin
    counts = np.bincount(idx[sel], minlength=nbin)
    sums = np.bincount(idx[sel], weights=spectrum.ravel()[sel], minlength=nbin)
    return np.arange(nbin) * step, sums / np.maximum(counts, 1), counts


@dataclass(frozen=True)
class TemFFTResult:
    """Radial FFT analysis of one micrograph.

    Attributes
    ----------
    freq_nm_inv, intensity, background : ndarray
        Radial profile and the smooth background under the lattice peaks.
    reflections : list of dict
        One per expected reflection in range: ``hkl``, ``d_angstrom``,
        ``freq_nm_inv``, ``measured_freq_nm_inv`` / ``measured_d_angstrom``
        (centroid of the excess in the window), ``intensity`` (background-subtracted, integrated),
        ``intensity_err``, ``significant`` (intensity > 5σ and a maximum above the
        excess just outside the window, i.e. not a neighbour's tail), ``normalized`` (to 200).
    ratio_111_200, ratio_111_200_err : float
        (111)/(200) intensity ratio (NaN without a significant (200) peak).
    success : bool
        False with ``message`` "no peaks found" when none of the three
        lowest-order reflections is significant.
    """

    freq_nm_inv: np.ndarray = field(repr=False)
    intensity: np.ndarray = field(repr=False)
    background: np.ndarray = field(repr=False)
    reflections: list[dict[str, Any]]
    ratio_111_200: float
    ratio_111_200_err: float
    pixel_nm: float
    success: bool
    message: str

    def summary(self) -> dict[str, Any]:
        """JSON-safe dict (without the profile arrays)."""
        def clean(v: Any) -> Any:
            return None if isinstance(v, float) and not np.isfinite(v) else v

        return {
            "reflections": [{k: clean(v) for k, v in r.items()} for r in self.reflections],
            "ratio_111_200": clean(self.ratio_111_200),
            "ratio_111_200_err": clean(self.ratio_111_200_err),
            "pixel_nm": self.pixel_nm,
            "success": self.success,
            "message": self.message,
        }

    def report(self) -> str:
        """Text table of the identified d-spacings."""
        lines = ["hkl   d [Å]   f [1/nm]   d_meas [Å]   I/I(200)   significant"]
        for r in self.reflections:
            norm = "   n/a" if not np.isfinite(r["normalized"]) else f"{r['normalized']:6.3f}"
            lines.append(
                f"{r['hkl']:<5} {r['d_angstrom']:5.3f}   {r['freq_nm_inv']:7.3f}   {r['measured_d_angstrom']:8.3f}"
                f"     {norm}     {r['significant']}"
            )
        lines.append(f"(111)/(200) = {self.ratio_111_200:.3f} ± {self.ratio_111_200_err:.3f}")
        if self.message:
            lines.append(f"note: {self.message}")
        return "\n".join(lines)


def _background(freq: np.ndarray, prof: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Smooth lower envelope: log I = poly(log f) (degree 4), refitted without bins above it.

    Starts from the bins of ``mask`` and drops, at each of up to 30 passes,
    bins more than 2σ (robust) above the fit, so peaks and their tails fall
    out whether or not a reflection is expected there.
    """
    use = mask & (freq > 0) & (prof > 0)
    if use.sum() < 8:
        return np.zeros_like(prof)
    x, y = np.log(np.where(freq > 0, freq, 1.0)), np.log(np.where(prof > 0, prof, 1.0))
    fit_mask = use.copy()
    for _ in range(30):
        coef = np.polyfit(x[fit_mask], y[fit_mask], 4)
        resid = y - np.polyval(coef, x)
        r = resid[fit_mask]
        sigma = 1.4826 * np.median(np.abs(r - np.median(r)))
        new = use & (resid < 2.0 * sigma)
        if new.sum() < 8 or np.array_equal(new, fit_mask):
            break
        fit_mask = new
    return np.where(freq > 0, np.exp(np.polyval(coef, x)), 0.0)


def analyze_lattice_image(
    image: np.ndarray,
    pixel_nm: float,
    *,
    structure: str | Structure = "PbSe",
    window_rel: float = 0.04,
    f_min_nm_inv: float | None = None,
    s_max_inv_angstrom: float = 0.8,
) -> TemFFTResult:
    """d-spacing analysis of a lattice-resolved image: peaks, I/I(200), (111)/(200).

    Parameters
    ----------
    image : (M, N) ndarray
        Micrograph (any intensity scale).
    pixel_nm : float
        Pixel size [nm].
    structure : str or Structure
        Crystal whose reflections identify the peaks (``uedflow.crystal``).
    window_rel : float
        Half-width of the integration window around each reflection, relative
        to its frequency (default ±4 %).
    f_min_nm_inv : float, optional
        Ignore frequencies below this (default: 4 frequency bins).
    s_max_inv_angstrom : float
        Highest s = 1/d analysed [Å⁻¹] (also capped at 0.8 × Nyquist).

    Returns
    -------
    TemFFTResult
        Flagged ``success=False, message="no peaks found"`` when none of the
        three lowest-order reflections stands 5σ above the background (e.g. an
        image without lattice fringes).
    """
    st = get_structure(structure) if isinstance(structure, str) else structure
    spec = power_spectrum(image)
    freq, prof, counts = radial_profile(spec, pixel_nm)
    f_nyq = freq[-1]
    step = freq[1] - freq[0]
    f_lo = 4 * step if f_min_nm_inv is None else f_min_nm_inv
    # stay below 0.8 Nyquist: the window roll-off and the corners make the background unreliable there
    s_top = min(f_nyq / 10.0 * 0.8, s_max_inv_angstrom)
    refl = [r for r in reflections(st, s_top) if r.s_inv_angstrom * 10 > f_lo]
    if not refl:
        raise InputError(
            f"no reflection of {st.name} between {f_lo:.2f} and {f_nyq:.2f} nm⁻¹: the pixel size "
            f"{pixel_nm} nm cannot resolve its lattice (need pixel_nm < d/2)"
        )
    in_peak = np.zeros(freq.shape, bool)
    for r in refl:
        f0 = r.s_inv_angstrom * 10
        in_peak |= np.abs(freq - f0) <= max(window_rel * f0, 1.5 * step)
    bg = _background(freq, prof, freq > f_lo)
    # noise of an annulus mean falls as 1/sqrt(pixels): model sigma_bin = k bg / sqrt(counts), with k from
    # the robust scatter outside the peak windows; x2 in variance for the Hann window's bin correlation
    outside = ~in_peak & (freq > f_lo)
    scale = bg / np.sqrt(np.maximum(counts, 1))
    z = ((prof - bg) / np.where(scale > 0, scale, np.inf))[outside]
    k = 1.4826 * np.median(np.abs(z - np.median(z))) if z.size else np.inf
    sigma_bin = k * scale
    rows = []
    for r in refl:
        f0 = r.s_inv_angstrom * 10
        win = np.abs(freq - f0) <= max(window_rel * f0, 1.5 * step)
        excess = prof[win] - bg[win]
        val = float(np.sum(excess))
        # a peak rises above the excess just outside its window on both sides; a neighbour's tail does not
        idx = np.flatnonzero(win)
        outside_vals = [prof[i] - bg[i] for i in (idx[0] - 1, idx[-1] + 1) if 0 <= i < prof.size]
        is_peak = bool(np.all(excess.max() > np.asarray(outside_vals)))
        pos = np.clip(excess, 0, None)
        f_peak = float(np.sum(freq[win] * pos) / pos.sum()) if pos.sum() > 0 else float("nan")
        # plus a 2 % systematic floor on the background under the window (smooth-model misfit)
        err = float(np.sqrt(2.0 * np.sum(sigma_bin[win] ** 2) + (0.02 * np.sum(bg[win])) ** 2))
        rows.append({
            "hkl": r.label, "d_angstrom": r.d_angstrom, "freq_nm_inv": f0, "measured_freq_nm_inv": f_peak,
            "measured_d_angstrom": 10.0 / f_peak if f_peak > 0 else float("nan"), "intensity": val,
            "intensity_err": err, "significant": bool(val > 5 * err and is_peak),
        })
    ref200 = next((x for x in rows if x["hkl"] == "200" and x["significant"]), None)
    for x in rows:
        x["normalized"] = x["intensity"] / ref200["intensity"] if ref200 else float("nan")
    r111 = next((x for x in rows if x["hkl"] == "111"), None)
    if ref200 and r111:
        ratio = max(r111["intensity"], 0.0) / ref200["intensity"]
        ratio_err = float(np.hypot(r111["intensity_err"] / ref200["intensity"],
                                   ratio * ref200["intensity_err"] / ref200["intensity"]))
    else:
        ratio, ratio_err = float("nan"), float("nan")
    # lattice fringes always show one of the three lowest-order reflections; isolated high-order
    # "peaks" are texture of a non-lattice image
    found = any(x["significant"] for x in rows[:3])
    msg = "" if found else "no peaks found: none of the low-order reflections stands 5σ above the background"
    if found and ref200 is None:
        msg = "no significant (200) peak: intensities are not normalised"
    return TemFFTResult(freq, prof, bg, rows, float(ratio), ratio_err, float(pixel_nm), found, msg)
