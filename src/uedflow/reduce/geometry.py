"""Detector geometry: electron wavelength and the exact pixel -> s mapping.

A flat detector normal to the beam at distance L (camera length) records the
electron scattered by 2θ at radius r = L tan 2θ from the beam center, so

.. math:: s = \\frac{2 \\sin\\theta}{\\lambda}, \\qquad 2\\theta = \\arctan(r / L)

with s = 1/d in Å⁻¹. No small-angle approximation is made.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from uedflow.constants import ELECTRON_MASS_KG, ELECTRON_REST_ENERGY_EV, ELEMENTARY_CHARGE_C, PLANCK_J_S
from uedflow.errors import GeometryError

__all__ = ["electron_wavelength_angstrom", "Geometry", "s_from_radius", "radius_from_s"]


def electron_wavelength_angstrom(energy_keV: float | np.ndarray) -> float | np.ndarray:
    """Relativistic de Broglie wavelength of electrons [Å].

    .. math:: \\lambda = \\frac{h}{\\sqrt{2 m_e e V (1 + e V / 2 m_e c^2)}}

    Parameters
    ----------
    energy_keV : float or ndarray
        Kinetic energy (accelerating voltage) [keV].

    Examples
    --------
    >>> round(electron_wavelength_angstrom(50.0), 5)  # 50 kV, as in the PbSe study
    0.05355
    >>> round(electron_wavelength_angstrom(200.0), 5)
    0.02508
    """
    e_v = np.asarray(energy_keV, dtype=float) * 1e3
    if np.any(e_v <= 0):
        raise GeometryError(f"electron energy must be positive (keV), got {energy_keV}")
    p = np.sqrt(2.0 * ELECTRON_MASS_KG * ELEMENTARY_CHARGE_C * e_v * (1.0 + e_v / (2.0 * ELECTRON_REST_ENERGY_EV)))
    lam = PLANCK_J_S / p * 1e10
    return float(lam) if np.ndim(lam) == 0 else lam


def s_from_radius(radius_m: np.ndarray | float, camera_length_m: float, wavelength_angstrom: float) -> np.ndarray:
    """s = 2 sin(θ)/λ [Å⁻¹] of a detector radius [m] (exact flat-detector geometry)."""
    two_theta = np.arctan2(np.asarray(radius_m, dtype=float), camera_length_m)
    return 2.0 * np.sin(0.5 * two_theta) / wavelength_angstrom


def radius_from_s(s: np.ndarray | float, camera_length_m: float, wavelength_angstrom: float) -> np.ndarray:
    """Detector radius [m] at which s [Å⁻¹] lands; the inverse of :func:`s_from_radius`."""
    x = np.asarray(s, dtype=float) * wavelength_angstrom / 2.0
    if np.any(np.abs(x) >= 1):
        raise GeometryError(f"s = {np.max(s)} Å⁻¹ cannot be reached with λ = {wavelength_angstrom} Å (2 sinθ/λ > 2/λ)")
    return camera_length_m * np.tan(2.0 * np.arcsin(x))


@dataclass(frozen=True)
class Geometry:
    """Detector geometry of one experiment.

    Parameters
    ----------
    shape : (int, int)
        Frame shape (rows, cols).
    center_rc : (float, float)
        Beam center (row, col) [px], pixel centers at integer coordinates.
    pixel_size_m : float
        Pixel pitch [m].
    camera_length_m : float
        Sample–detector distance [m].
    energy_keV : float
        Electron kinetic energy [keV].
    """

    shape: tuple[int, int]
    center_rc: tuple[float, float]
    pixel_size_m: float
    camera_length_m: float
    energy_keV: float

    def __post_init__(self) -> None:
        rows, cols = self.shape
        r0, c0 = self.center_rc
        if not (np.isfinite(r0) and np.isfinite(c0)) or not (-0.5 <= r0 <= rows - 0.5 and -0.5 <= c0 <= cols - 0.5):
            raise GeometryError(
                f"beam center (row, col) = ({r0}, {c0}) lies outside the {rows}x{cols} image; "
                "fix detector.center_rc or let uedflow find the center"
            )
        for name in ("pixel_size_m", "camera_length_m", "energy_keV"):
            if not getattr(self, name) > 0:
                raise GeometryError(f"{name} must be positive, got {getattr(self, name)}")

    @property
    def wavelength_angstrom(self) -> float:
        """Electron wavelength [Å]."""
        return float(electron_wavelength_angstrom(self.energy_keV))

    def radius_px(self) -> np.ndarray:
        """Distance of every pixel center from the beam center [px], shape ``self.shape``."""
        rows, cols = np.indices(self.shape, dtype=float)
        return np.hypot(rows - self.center_rc[0], cols - self.center_rc[1])

    def s_map(self) -> np.ndarray:
        """s = 1/d of every pixel center [Å⁻¹], shape ``self.shape``."""
        return s_from_radius(self.radius_px() * self.pixel_size_m, self.camera_length_m, self.wavelength_angstrom)

    def s_max(self) -> float:
        """Largest s seen anywhere on the detector [Å⁻¹]."""
        return float(self.s_map().max())
