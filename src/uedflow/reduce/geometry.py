"""Detector geometry: electron wavelength and the exact pixel -> s mapping.

A flat detector normal to the beam at distance L (camera length) records the
electron scattered by 2θ at radius r = L tan 2θ from the beam center, so

.. math:: s = \\frac{2 \\sin\\theta}{\\lambda}, \\qquad 2\\theta = \\arctan(r / L)

with s = 1/d in Å⁻¹. No small-angle approximation is made. A tilted detector
(pyFAI's rot1, rot2, rot3) and elliptical rings (lens or fibre-optic distortion)
are part of the same :class:`Geometry`; its pixel -> s map is one vectorised
function, :func:`s_at_offset`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from uedflow.constants import ELECTRON_MASS_KG, ELECTRON_REST_ENERGY_EV, ELEMENTARY_CHARGE_C, PLANCK_J_S
from uedflow.errors import GeometryError

__all__ = ["electron_wavelength_angstrom", "Geometry", "s_at_offset", "s_from_radius", "radius_from_s"]


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
    """Detector geometry of one experiment: beam centre, distance, pixel pitch, tilt, ellipticity, energy.

    A pixel maps to s in two steps (:func:`s_at_offset`, one vectorised function used by the integration
    operator and the simulator alike):

    1. *Ellipticity* (lens / fibre-optic distortion, in the detector plane). A circle of radius r about the
       beam centre is recorded as an ellipse with semi-axes :math:`r\\sqrt{1+e}` along the axis at angle φ
       and :math:`r/\\sqrt{1+e}` across it (axis ratio 1 + e, area kept), φ measured from the +column axis
       towards +row. Offsets from the beam centre are undistorted with the inverse stretch. Any affine
       distortion about any point acts so on offsets from the observed centre, so the centre can move
       from frame to frame (``dataclasses.replace(geometry, center_rc=...)``).
    2. *Tilt*, pyFAI's rotations rot1, rot2, rot3 [rad] of the detector about the sample
       (axis 1 = rows, 2 = columns, 3 = beam): with u the undistorted offset [m] from the direct-beam
       point, the sample-to-pixel vector is :math:`t = L\\hat z + u_1 M_{:,1} + u_2 M_{:,2}` (M pyFAI's
       rotation matrix) and :math:`\\tan 2\\theta = |t_\\perp| / t_3`, :math:`s = 2\\sin\\theta/\\lambda`.
       rot3 turns the detector about the beam and leaves s unchanged (kept for PONI files).

    With no tilt and e = 0 this is the flat detector normal to the beam, 2θ = arctan(r/L).
    :meth:`to_poni` / :meth:`from_poni` convert to and from pyFAI's PONI description.

    Parameters
    ----------
    shape : (int, int)
        Frame shape (rows, cols).
    center_rc : (float, float)
        Direct-beam position (row, col) [px], pixel centres at integer coordinates.
    pixel_size_m : float
        Pixel pitch [m] (square pixels).
    camera_length_m : float
        Distance from the sample to the direct-beam point on the detector [m] (pyFAI's and Fit2D's
        "direct distance"; the perpendicular distance when the detector is not tilted).
    energy_keV : float
        Electron kinetic energy [keV].
    tilt_rad : (float, float, float)
        pyFAI rot1, rot2, rot3 [rad]; default no tilt.
    ellipticity : float
        e = (major / minor axis) − 1 of the recorded rings (0.01: 1 % elliptical); > −1.
    ellipse_angle_rad : float
        Angle φ of the major axis from the +column axis towards +row [rad].

    Examples
    --------
    >>> g = Geometry((256, 256), (127.0, 130.0), 5e-5, 0.5, 50.0, ellipticity=0.02)
    >>> s = g.s_at([127.0, 147.0], [150.0, 130.0])  # 20 px along the major (column) axis and across it
    >>> round(float(s[1] / s[0]), 4)  # the ring is 1.02 times wider along columns than along rows
    1.02
    """

    shape: tuple[int, int]
    center_rc: tuple[float, float]
    pixel_size_m: float
    camera_length_m: float
    energy_keV: float
    tilt_rad: tuple[float, float, float] = (0.0, 0.0, 0.0)
    ellipticity: float = 0.0
    ellipse_angle_rad: float = 0.0

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
        tilt = tuple(float(v) for v in self.tilt_rad)
        if len(tilt) != 3 or not all(np.isfinite(tilt)) or max(abs(tilt[0]), abs(tilt[1])) >= np.pi / 4:
            raise GeometryError(f"tilt_rad must be pyFAI's [rot1, rot2, rot3] in radians with |rot1|, |rot2| < π/4, "
                                f"got {self.tilt_rad}; fix detector.tilt_rad")
        object.__setattr__(self, "tilt_rad", tilt)
        if not (np.isfinite(self.ellipticity) and self.ellipticity > -1 and np.isfinite(self.ellipse_angle_rad)):
            raise GeometryError(f"ellipticity must be > -1 (axis ratio − 1) with a finite angle, got "
                                f"{self.ellipticity} at {self.ellipse_angle_rad} rad; fix detector.ellipticity")

    @property
    def wavelength_angstrom(self) -> float:
        """Electron wavelength [Å]."""
        return float(electron_wavelength_angstrom(self.energy_keV))

    def kernel_params(self) -> np.ndarray:
        """The 8 numbers :func:`s_at_offset` needs (undistortion matrix × pixel pitch, tilt, distance, 1/λ)."""
        k = np.sqrt(1.0 + self.ellipticity)
        major = np.array([np.sin(self.ellipse_angle_rad), np.cos(self.ellipse_angle_rad)])  # (row, col)
        minor = np.array([major[1], -major[0]])
        undistort = (np.outer(major, major) / k + np.outer(minor, minor) * k) * self.pixel_size_m
        rot1, rot2, _ = self.tilt_rad
        return np.array([*undistort.ravel(), np.sin(rot2), -np.cos(rot2) * np.sin(rot1), self.camera_length_m,
                         1.0 / self.wavelength_angstrom])

    def s_at(self, rows: np.ndarray | float, cols: np.ndarray | float) -> np.ndarray:
        """s [Å⁻¹] at detector positions (rows, cols) [px] (any broadcastable shapes)."""
        rows, cols = np.asarray(rows, float), np.asarray(cols, float)
        return s_at_offset(rows - self.center_rc[0], cols - self.center_rc[1], self.kernel_params())

    def radius_px(self) -> np.ndarray:
        """Distance of every pixel center from the beam center [px], shape ``self.shape`` (no distortion)."""
        rows, cols = np.indices(self.shape, dtype=float)
        return np.hypot(rows - self.center_rc[0], cols - self.center_rc[1])

    def s_map(self) -> np.ndarray:
        """s = 1/d of every pixel center [Å⁻¹], shape ``self.shape``."""
        rows, cols = self.shape
        return self.s_at(np.arange(rows, dtype=float)[:, None], np.arange(cols, dtype=float)[None, :])

    def s_max(self) -> float:
        """Largest s seen anywhere on the detector [Å⁻¹]."""
        return float(self.s_map().max())


def s_at_offset(dr, dc, params):
    """s = 2 sin(θ)/λ [Å⁻¹] at offsets (dr, dc) [px] from the beam centre; the pixel → s map of :class:`Geometry`.

    Plain arithmetic on scalars or arrays, so the same function runs vectorised in numpy and compiled in the
    integration kernels (numba). With ``params`` = :meth:`Geometry.kernel_params` (U, a, b, L, 1/λ):

    .. math:: u = U (dr, dc), \\quad w = a u_1 + b u_2, \\quad t_3 = L + w, \\quad
              \\rho^2 = |u|^2 - w^2, \\quad n = \\sqrt{\\rho^2 + t_3^2}, \\quad
              s = \\frac{\\rho}{\\lambda \\sqrt{n (n + t_3) / 2}}

    (u: undistorted offset in the detector plane [m]; ρ, t₃: distances across and along the beam [m];
    the last form of 2 sin θ = √(2(1 − t₃/n)) has no cancellation at small angles).
    """
    u1 = params[0] * dr + params[1] * dc
    u2 = params[2] * dr + params[3] * dc
    w = params[4] * u1 + params[5] * u2
    t3 = params[6] + w
    rho2 = np.maximum(u1 * u1 + u2 * u2 - w * w, 0.0)
    n = np.sqrt(rho2 + t3 * t3)
    return np.sqrt(rho2) / np.sqrt(0.5 * n * (n + t3)) * params[7]
