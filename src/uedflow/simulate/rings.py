"""Powder rings on a detector: the pseudo-Voigt profile, ring totals on the valid pixels, the first-order TDS shape.

What the virtual experiments need to conserve the total scattering a detector records: the intensity the
Debye–Waller factor removes from the rings reappears as thermal diffuse scattering (Warren, *X-ray
Diffraction*, §11.4), so frame totals do not change with delay (what ``uedflow reduce`` assumes when it
normalises frames).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from uedflow.crystal import electron_scattering_factor

__all__ = ["pseudo_voigt", "detector_ring_totals", "static_diffuse", "tds_shape"]


def pseudo_voigt(s: np.ndarray, center: np.ndarray, fwhm: np.ndarray, eta: float) -> np.ndarray:
    """Area-normalised pseudo-Voigt profile(s) [1/Å⁻¹].

    .. math:: P = \\eta \\frac{w/2\\pi}{(s-c)^2 + w^2/4} + (1-\\eta)\\frac{2\\sqrt{\\ln 2}}{w\\sqrt\\pi} e^{-4\\ln2 (s-c)^2/w^2}

    ``center`` and ``fwhm`` broadcast against ``s``.

    Examples
    --------
    >>> s = np.linspace(-1, 1, 20001)
    >>> round(float(np.trapezoid(pseudo_voigt(s, 0.0, 0.01, 0.0), s)), 6)
    1.0
    """
    x = np.asarray(s, dtype=float) - center
    w = np.maximum(np.asarray(fwhm, dtype=float), 1e-9)
    lor = (w / (2 * np.pi)) / (x * x + 0.25 * w * w)
    gau = (2.0 * np.sqrt(np.log(2.0) / np.pi) / w) * np.exp(-4.0 * np.log(2.0) * x * x / (w * w))
    return eta * lor + (1.0 - eta) * gau


def detector_ring_totals(pixel_density: tuple[np.ndarray, np.ndarray], centre: np.ndarray, area: np.ndarray,
                         fwhm: np.ndarray | float, eta: float) -> np.ndarray:
    """Ring intensities on the detector's valid pixels, W_k = A_k ∫ P_k(s) N(s) ds, shape (n_delay, n_peak).

    Parameters
    ----------
    pixel_density : (nodes, density)
        Uniform s nodes [Å⁻¹] and the valid pixels per unit s N(s) at them.
    centre, area : (n_delay, n_peak) ndarray
        Ring centres [Å⁻¹] and areas.
    fwhm : (n_delay, n_peak) ndarray or float
        FWHM [Å⁻¹].
    eta : float
        Pseudo-Voigt mixing.
    """
    nodes, density = pixel_density
    width = np.broadcast_to(np.asarray(fwhm, dtype=float), centre.shape)
    out = np.empty(centre.shape)
    for k in range(centre.shape[1]):
        prof = pseudo_voigt(nodes[None, :], centre[:, k, None], width[:, k, None], eta)
        out[:, k] = area[:, k] * np.trapezoid(prof * density, nodes, axis=1)
    return out


def tds_shape(s: np.ndarray, pixel_density: tuple[np.ndarray, np.ndarray], species: Sequence[str],
              msd_angstrom2: Sequence[float]) -> np.ndarray:
    """First-order TDS shape g(s) = d/d⟨u²⟩ Σ_j f_j²(1 − e^{−4π²⟨u_j²⟩s²}), normalised to ∫ g N ds = 1.

    Parameters
    ----------
    s : ndarray
        [Å⁻¹].
    pixel_density : (nodes, density)
        As in :func:`detector_ring_totals`.
    species, msd_angstrom2 : sequences
        Element and static ⟨u²⟩ [Å²] (along one direction) of every atom of the cell.
    """
    nodes, density = pixel_density

    def g(x: np.ndarray) -> np.ndarray:
        c = 4.0 * np.pi**2 * x * x
        return sum(electron_scattering_factor(el, x) ** 2 * c * np.exp(-c * u)
                   for el, u in zip(species, msd_angstrom2, strict=True))

    return g(np.asarray(s, dtype=float)) / np.trapezoid(g(nodes) * density, nodes)


def static_diffuse(s: np.ndarray, species: Sequence[str], msd_angstrom2: Sequence[float]) -> np.ndarray:
    """Laue monotonic plus static thermal diffuse scattering per cell, Σ_j f_j²(s) (2 − e^{−4π²⟨u_j²⟩s²}).

    Parameters
    ----------
    s : ndarray
        [Å⁻¹].
    species, msd_angstrom2 : sequences
        Element and ⟨u²⟩ [Å²] (along one direction) of every atom of the cell.
    """
    s = np.asarray(s, dtype=float)
    return sum(electron_scattering_factor(el, s) ** 2 * (1.0 - np.expm1(-4.0 * np.pi**2 * u * s * s))
               for el, u in zip(species, msd_angstrom2, strict=True))
