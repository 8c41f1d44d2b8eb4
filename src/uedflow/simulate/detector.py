"""Detector model: render a powder profile I(s) onto 2D frames with realistic imperfections.

Each pixel receives the profile averaged over its area (``pixel_subsamples``² points at their exact s,
:meth:`uedflow.reduce.geometry.Geometry.s_at`, linear interpolation of the 1D profile), as a real pixel integrates
what falls on it; the default (1) samples the pixel centre only, which keeps the PbSe presets' frames (rings of
≥ 4 pixels) as they were. Rings about two pixels wide move differently on centre samples: on noise-free frames of
the ``bi-film-300K`` preset (rings of 0.008 Å⁻¹ on 0.0044 Å⁻¹ pixels) the plateau Δa/a reads 0.14 % high from
centre samples, 0.04 % from 3 × 3 points; the crystal presets use 3.
The profile is scaled by one fixed incident-dose factor:
the *reference* (unpumped) profile collects ``electrons_per_frame`` electrons on
the frame, and any other profile collects in proportion to its own scattering, so
a frame is never renormalised to a fixed total (that would rescale the rings by
whatever the pump does to the total scattering, which truth.json does not
describe). Electron counts are Poisson (``shot_noise``), multiplied by the gain (a random gain per
electron with ``multiplication_noise``: twice the Poisson variance),
plus a dark offset with Gaussian read noise. Hot pixels carry a large constant dark current (present in
the dark frame too), the beam block (a disc on the beam center and its holder
arm, a rod towards the right-hand edge) receives only ``block_pedestal`` of the electrons (scattered and
transmitted), and values saturate at ``saturation``. The beam centre of each frame can walk
(``center_walk_px``, a smooth random walk over the acquisition), jitter from frame to frame
(``center_jitter_px``) and be kicked by the pump (``center_kick_px``, decaying with ``center_kick_tau_ps``
after time zero): the pattern moves, the detector and its beam block do not. Pixel solid-angle and obliquity factors (cos³2θ, < 1 % at the
angles of UED) are neglected.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from uedflow.errors import GeometryError, InputError
from uedflow.reduce.geometry import Geometry

__all__ = ["DetectorModel"]


@dataclass(frozen=True)
class DetectorModel:
    """A detector and its imperfections.

    Parameters
    ----------
    geometry : Geometry
        Frame shape, beam center (row, col) [px], pixel size [m], camera length [m], energy [keV].
    dark_level : float
        Mean dark offset [counts].
    read_noise : float
        Gaussian read noise σ [counts].
    gain : float
        Counts per electron.
    hot_pixel_fraction : float
        Fraction of pixels with a large dark current.
    hot_pixel_level : float
        Extra dark current of hot pixels [counts].
    beam_block_radius_px : float
        Radius of the beam block disc [px]; 0 for none.
    beam_block_arm_px : float
        Half width of the block's holder arm [px]; 0 for none.
    block_margin_px : int
        Width of the block's penumbra left out of the mask file (:meth:`valid_mask`) [px], as a user
        masks it; those pixels still receive electrons.
    saturation : float
        Largest recordable value [counts].
    block_pedestal : float
        Fraction of the electrons that reach the pixels under the beam block (0: none).
    center_walk_px : float
        Largest excursion of the beam centre's slow walk over the acquisition, per axis [px].
    center_jitter_px : float
        Frame-to-frame rms jitter of the beam centre, per axis [px].
    center_kick_px : float
        Deflection of the beam centre just after time zero [px], decaying as exp(−t/``center_kick_tau_ps``).
    center_kick_tau_ps : float
        Decay time of the kick [ps].
    center_kick_angle_rad : float
        Direction of the kick, from +column towards +row [rad].
    texture : float
        Amplitude of an azimuthal cos 4φ modulation (preferred orientation); 0 for a random powder.
    shot_noise : bool
        Poisson electron counts; ``False`` renders the expected counts (noise-free validation runs).
    multiplication_noise : bool
        Each electron's gain is random (exponential of mean ``gain``, as in an EMCCD or MCP): the variance
        of a count c is 2·gain·c, twice the Poisson one.
    pixel_subsamples : int
        Points per pixel side over which the profile is averaged (1: the pixel centre only).
    seed : int
        Seed of the detector's fixed defects (hot pixel positions) and dark frame.
    """

    geometry: Geometry
    dark_level: float = 100.0
    read_noise: float = 2.0
    gain: float = 1.0
    hot_pixel_fraction: float = 2e-4
    hot_pixel_level: float = 3000.0
    beam_block_radius_px: float = 18.0
    beam_block_arm_px: float = 4.0
    block_margin_px: int = 3
    block_pedestal: float = 0.0
    center_walk_px: float = 0.0
    center_jitter_px: float = 0.0
    center_kick_px: float = 0.0
    center_kick_tau_ps: float = 3.0
    center_kick_angle_rad: float = 0.0
    saturation: float = 65535.0
    texture: float = 0.0
    shot_noise: bool = True
    multiplication_noise: bool = False
    pixel_subsamples: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("dark_level", "read_noise", "gain", "hot_pixel_fraction", "hot_pixel_level",
                     "beam_block_radius_px", "beam_block_arm_px", "block_margin_px", "block_pedestal",
                     "center_walk_px", "center_jitter_px", "center_kick_px", "center_kick_tau_ps"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0):
                raise InputError(f"detector {name} must be a finite number >= 0, got {value}")
        if self.block_pedestal > 1:
            raise InputError(f"detector block_pedestal must be a fraction in [0, 1], got {self.block_pedestal}")
        if int(self.pixel_subsamples) != self.pixel_subsamples or self.pixel_subsamples < 1:
            raise InputError(f"detector pixel_subsamples must be an integer >= 1, got {self.pixel_subsamples}")
        if not 0 <= self.texture < 1:
            raise InputError(f"detector texture must be in [0, 1), got {self.texture}")

    @cached_property
    def s_map(self) -> np.ndarray:
        """s of every pixel [Å⁻¹]."""
        return self.geometry.s_map()

    @cached_property
    def blocked(self) -> np.ndarray:
        """True where the beam block shadows the detector."""
        rows, cols = np.indices(self.geometry.shape, dtype=float)
        r0, c0 = self.geometry.center_rc
        disc = np.hypot(rows - r0, cols - c0) <= self.beam_block_radius_px
        arm = (np.abs(rows - r0) <= self.beam_block_arm_px) & (cols >= c0)
        return disc | arm if self.beam_block_arm_px > 0 else disc

    @cached_property
    def hot_pixels(self) -> np.ndarray:
        """Boolean map of hot pixels (fixed by ``seed``)."""
        rng = np.random.default_rng([self.seed, 7])
        return rng.random(self.geometry.shape) < self.hot_pixel_fraction

    def valid_mask(self) -> np.ndarray:
        """True = usable pixel (not blocked or within ``block_margin_px`` of the block, not hot)."""
        from scipy.ndimage import binary_dilation

        margin = int(self.block_margin_px)
        block = binary_dilation(self.blocked, iterations=margin) if margin and self.blocked.any() else self.blocked
        return ~block & ~self.hot_pixels

    def visible_s_range(self) -> tuple[float, float]:
        """(smallest, largest) s on unblocked pixels [Å⁻¹]."""
        s = self.s_map[~self.blocked]
        return float(s.min()), float(s.max())

    def check_sees(self, ring_s: np.ndarray) -> None:
        """Raise :class:`GeometryError` unless at least one ring s [Å⁻¹] falls on the unblocked detector."""
        lo, hi = self.visible_s_range()
        if not np.any((np.asarray(ring_s) > lo) & (np.asarray(ring_s) < hi)):
            raise GeometryError(
                f"no diffraction ring falls on the detector: it sees s = {lo:.3f}..{hi:.3f} Å⁻¹ but the rings are "
                f"at s = {np.round(np.asarray(ring_s)[:4], 3).tolist()}... Å⁻¹; shorten camera_length_m, "
                "enlarge the frame or move the beam center"
            )

    def pixel_density(self, s_nodes: np.ndarray) -> np.ndarray:
        """Valid pixels per unit s [1/Å⁻¹] at ``s_nodes`` (increasing, uniform): the weight of I(s) in the
        total counts of a frame over :meth:`valid_mask` (what ``uedflow reduce`` normalises by).

        Examples
        --------
        >>> det = DetectorModel(Geometry((64, 64), (31.5, 31.5), 1e-4, 0.3, 50.0), beam_block_radius_px=0,
        ...                      beam_block_arm_px=0, hot_pixel_fraction=0)
        >>> s = np.linspace(0.0, 1.0, 501)
        >>> int(round(float(np.trapezoid(det.pixel_density(s), s))))
        4096
        """
        s_nodes = np.asarray(s_nodes, dtype=float)
        step = s_nodes[1] - s_nodes[0]
        edges = np.concatenate([s_nodes - 0.5 * step, [s_nodes[-1] + 0.5 * step]])
        return np.histogram(self.s_map[self.valid_mask()], bins=edges)[0] / step

    def expected_electrons(self, s: np.ndarray, intensity: np.ndarray, electrons_per_frame: float, *,
                           reference: np.ndarray | None = None, center_offset: tuple[float, float] = (0.0, 0.0)
                           ) -> np.ndarray:
        """Mean electrons per pixel for the profile ``intensity(s)``.

        ``electrons_per_frame`` is the incident dose expressed as the electrons the
        ``reference`` profile (default: ``intensity`` itself) puts on the frame; a
        profile that scatters more or less than the reference collects
        proportionally more or fewer electrons. ``center_offset`` (row, col) [px] moves the pattern's centre
        (not the beam block).
        """
        if not electrons_per_frame > 0:
            raise InputError(f"electrons_per_frame (dose) must be positive, got {electrons_per_frame}")
        img = self._render(s, intensity, center_offset)
        norm = img.sum() if reference is None else self._render(s, reference).sum()
        return img * (electrons_per_frame / norm)

    def _pixel_mean(self, geo: Geometry, s: np.ndarray, intensity: np.ndarray) -> np.ndarray:
        """The profile I(s) averaged over every pixel (``pixel_subsamples``² points per pixel)."""
        n = int(self.pixel_subsamples)
        if n == 1:
            return np.interp(self.s_map if geo is self.geometry else geo.s_map(), s, intensity)
        offsets = (np.arange(n) + 0.5) / n - 0.5
        rows = np.arange(geo.shape[0], dtype=float)[:, None]
        cols = np.arange(geo.shape[1], dtype=float)[None, :]
        img = np.zeros(geo.shape)
        for dr in offsets:
            for dc in offsets:
                img += np.interp(geo.s_at(rows + dr, cols + dc), s, intensity)
        return img / n**2

    def _render(self, s: np.ndarray, intensity: np.ndarray, center_offset: tuple[float, float] = (0.0, 0.0)
                ) -> np.ndarray:
        geo = self.geometry
        if any(center_offset):
            geo = dataclasses.replace(geo, center_rc=(geo.center_rc[0] + center_offset[0],
                                                      geo.center_rc[1] + center_offset[1]))
        img = self._pixel_mean(geo, s, intensity)
        if self.texture > 0:
            rows, cols = np.indices(geo.shape, dtype=float)
            phi = np.arctan2(rows - geo.center_rc[0], cols - geo.center_rc[1])
            img *= 1.0 + self.texture * np.cos(4.0 * phi)
        img[self.blocked] *= self.block_pedestal
        return img

    def beam_walk(self, n_frames: int) -> np.ndarray:
        """Beam-centre offsets (n_frames, 2) (row, col) [px] of the walk and jitter, frames in acquisition order
        (fixed by ``seed``): a Brownian path over all frames, its drift removed, scaled to a largest excursion of
        ``center_walk_px`` per axis, plus white jitter of ``center_jitter_px`` rms."""
        out = np.zeros((n_frames, 2))
        rng = np.random.default_rng([self.seed, 13])
        if self.center_walk_px > 0 and n_frames > 1:
            path = np.cumsum(rng.standard_normal((n_frames, 2)), axis=0)
            path -= np.linspace(0, 1, n_frames)[:, None] * (path[-1] - path[0]) + path[0]
            path -= path.mean(axis=0)
            out += path * (self.center_walk_px / np.maximum(np.abs(path).max(axis=0), 1e-12))
        if self.center_jitter_px > 0:
            out += self.center_jitter_px * rng.standard_normal(out.shape)
        return out

    def beam_kick(self, delay_ps: np.ndarray) -> np.ndarray:
        """The pump's deflection (…, 2) (row, col) [px] at delays ``delay_ps`` after time zero [ps]:
        ``center_kick_px``·exp(−t/``center_kick_tau_ps``) for t > 0 along ``center_kick_angle_rad``."""
        delay_ps = np.asarray(delay_ps, float)
        tau = max(self.center_kick_tau_ps, 1e-9)
        kick = np.where(delay_ps > 0, self.center_kick_px * np.exp(-np.clip(delay_ps, 0, None) / tau), 0.0)
        return kick[..., None] * np.array([np.sin(self.center_kick_angle_rad), np.cos(self.center_kick_angle_rad)])

    def dark_frame(self, *, n_average: int = 16) -> np.ndarray:
        """A dark frame (mean of ``n_average`` exposures without beam) [counts], float32."""
        rng = np.random.default_rng([self.seed, 11])
        base = self.dark_level + self.hot_pixel_level * self.hot_pixels
        noise = rng.standard_normal(self.geometry.shape) * self.read_noise / np.sqrt(n_average)
        return (base + noise).astype(np.float32)

    def expose(self, electrons: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One recorded frame [counts], uint16: Poisson(electrons)·gain (each electron's gain random with
        ``multiplication_noise``) + dark + read noise, saturated."""
        if self.shot_noise and self.multiplication_noise:
            counts = rng.gamma(rng.poisson(electrons).astype(np.float64), self.gain)
        else:
            counts = (rng.poisson(electrons).astype(np.float64) if self.shot_noise else np.array(electrons, float)) * self.gain
        counts += self.dark_level + self.hot_pixel_level * self.hot_pixels
        counts += rng.standard_normal(counts.shape) * self.read_noise
        return np.clip(np.rint(counts), 0, min(self.saturation, 65535)).astype(np.uint16)
