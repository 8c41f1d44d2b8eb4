"""Fast phenomenological virtual experiment: per-hkl dynamics applied to a kinematic powder pattern.

The static pattern of a nanocrystal powder, per conventional cell, is

.. math::

    I(s) = \\sum_{hkl} \\frac{m |F_{hkl}|^2}{4\\pi s_{hkl}^2 V_c}\\, P(s; s_{hkl}, w_{hkl}, \\eta)
           + \\sum_j f_j^2(s)\\,\\big[1 + (1 - e^{-4\\pi^2 \\langle u^2\\rangle s^2})\\big] + B_{sub}(s)

— Bragg rings with the powder Lorentz factor (their integrated area over s in the
orientation-averaged Debye profile), area-normalised pseudo-Voigt profiles P of
FWHM w, the Laue monotonic diffuse scattering Σ f_j² and the thermal diffuse
scattering Σ f_j² (1 − e^{−4π²⟨u²⟩s²}) (Warren, *X-ray Diffraction*, §11.4), and a
smooth substrate term B_sub = b · Σ f_j²(0) · e^{−s/s_b}. F includes the static
Debye–Waller factor of the base temperature.

After the pump, reflection k follows its :class:`~uedflow.simulate.pump.PeakDynamics`
**exactly** (this is the ground truth written to truth.json):

* centre  s_k(t) = s0_k / (1 + ε_k(t))
* area    A_k(t) = A0_k · exp(−4π² Δ⟨u²⟩_k(t) s0_k²)   (s0, not s(t): the Lorentz
  factor is frozen so that −ln(A/A0)/(4π²s0²) returns Δ⟨u²⟩ exactly)
* FWHM    w_k(t) = w0_k + Δw_k(t)

With per-element vibration (:mod:`uedflow.simulate.vibration`) the area follows the structure
factor instead, A_k(t) = A0_k · I_k(⟨u_e²⟩_0 + k_e Δ⟨u²⟩_k(t)) / I_k(⟨u_e²⟩_0)
(:meth:`uedflow.crystal.vibration.RingPartials.ratio`), and truth.json gives per ring the *effective*
Δ⟨u²⟩_s = −ln(A/A0)/(4π²s0²) that the per-ring formula returns, next to each element's Δ⟨u_e²⟩.

Total scattering is conserved (the electrons the Debye–Waller factor removes from
the rings reappear as thermal diffuse scattering, Warren §11.4): after the pump the
diffuse term gains, with the first-order TDS shape g(s) ∝ f²(s) s² e^{−4π²⟨u²⟩s²},
exactly the ring intensity lost on the detector's valid pixels, Σ_k [W_k(before) − W_k(t)] with
W_k = ∫ A_k P_k N(s) ds and N(s) the valid pixels per unit s
(:attr:`PowderModel.pixel_density`; default a flat detector, N ∝ s). The frame total
therefore does not change with delay, which is what normalising frames by their
total counts (``uedflow reduce``) assumes; an earlier version drove the TDS with
the mean Δ⟨u²⟩ of the principal reflections, whose faster rise changed the total
by up to 7·10⁻⁴ and biased the Δ⟨u²⟩ time constants of frame-level data low.
With ``tds_halo`` = h > 0 (default 1) part of the TDS is a *halo* around every ring that follows the lattice
temperature: the one-phonon scattering of acoustic phonons (density ∝ 1/q² around each reciprocal
lattice point out to the Debye radius s_D = (3n/4π)^{1/3}, n the atom density), powder averaged,

    H_k(s, t) = h · A_k(t) · 4π² s_k² ⟨u²⟩_k(t) · s_k² g_k(s) / ∫ g_k s'² ds',
    g_k(s) = ln(s_D / √((s − s_k)² + w_k²/4)) / (s s_k)   for |s − s_k| < s_D,

with ⟨u²⟩_k(t) = ⟨u²⟩_0 + Δ⟨u²⟩_k(t): a logarithmic cusp under each ring whose area grows with the
temperature (h = 1 is the whole first-order TDS of the ring). The smooth TDS then gains only what the
halos do not (the frame total stays constant). A peak fit takes part of the cusp for the ring, which
biases Δ⟨u²⟩ low: the held-out set of the systematic-error tests.
Widths w0 combine Scherrer size broadening K/D (K = 0.94, D the diameter) and an
instrumental FWHM in quadrature.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import xarray as xr

from uedflow.crystal import Structure, electron_scattering_factor, powder_ring_intensities
from uedflow.crystal.vibration import RingPartials, mass_weighted, ring_partials
from uedflow.errors import InputError
from uedflow.physics.tds import debye_radius_s, halo_amount, halo_profile
from uedflow.simulate.pump import PeakDynamics, dynamics_for_reflections
from uedflow.simulate.reduced import reduced_dataset
from uedflow.simulate.rings import detector_ring_totals, pseudo_voigt, static_diffuse, tds_shape
from uedflow.simulate.vibration import ElementVibration

__all__ = [
    "PowderModel",
    "build_powder_model",
    "pseudo_voigt",
    "simulate_powder_series",
    "SCHERRER_K",
]

#: Scherrer constant for the FWHM of a sphere (Langford & Wilson, J. Appl. Cryst. 11, 102 (1978)).
SCHERRER_K = 0.94


@dataclass(frozen=True)
class PowderModel:
    """Static powder pattern plus per-reflection dynamics (see module docstring).

    Arrays have one entry per reflection, ordered by s. ``pixel_density`` is
    (s nodes [Å⁻¹], uniform; detector pixels per unit s at them), the weight with
    which the frame total counts I(s) (:meth:`~uedflow.simulate.detector.DetectorModel.pixel_density`);
    default a flat detector (∝ s).
    """

    structure: Structure
    labels: tuple[str, ...]
    families: tuple[str, ...]
    multiplicities: tuple[int, ...]
    s0: np.ndarray
    area0: np.ndarray
    fwhm0: np.ndarray
    dynamics: tuple[PeakDynamics, ...]
    eta: float = 0.3
    t0_ps: float = 0.0
    irf_fwhm_ps: float = 0.5
    msd_static_angstrom2: float = 0.0
    substrate_level: float = 0.05
    substrate_decay: float = 0.25
    pixel_density: tuple[np.ndarray, np.ndarray] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    vibration: ElementVibration | None = None
    tds_halo: float = 1.0

    def __post_init__(self) -> None:
        if self.pixel_density is None:  # a flat detector: pixels per unit s ∝ s, out to past the last ring
            nodes = np.linspace(0.0, float(self.s0.max() + 5.0 * self.fwhm0.max()), 4001)
            object.__setattr__(self, "pixel_density", (nodes, nodes.copy()))

    def _static_msd(self) -> list[float]:
        """⟨u²⟩_0 of each atom of the cell [Å²]."""
        if self.vibration is None:
            return [self.msd_static_angstrom2] * len(self.structure.species)
        return [self.vibration.static(el) for el in self.structure.species]

    def area_ratio(self, msd_angstrom2: np.ndarray) -> np.ndarray:
        """A_k(t)/A0_k for the rings' Δ⟨u²⟩_k(t) [Å²] of shape (n_delay, n_peak) (module docstring)."""
        if self.vibration is None:
            return np.exp(-4.0 * np.pi**2 * msd_angstrom2 * self.s0**2)
        vib = self.vibration
        return self._partials.ratio(vib.msd_static_angstrom2, np.asarray(msd_angstrom2)[..., None] * vib.scale)

    @cached_property
    def _partials(self) -> RingPartials:
        """Per-element structure factors of the rings (built once: every profile evaluation uses them)."""
        return ring_partials(self.structure, self.labels)

    def ring_totals(self, delay_ps: np.ndarray, *, t0_ps: float | None = None) -> np.ndarray:
        """Detector-weighted ring intensities W_k(t) = ∫ A_k P_k N(s) ds, shape (n_delay, n_peak)."""
        centre, area, fwhm = self.peak_state(delay_ps, t0_ps=t0_ps)
        return detector_ring_totals(self.pixel_density, centre, area, fwhm, self.eta)

    def _tds_shape(self, s: np.ndarray) -> np.ndarray:
        """First-order TDS shape of the cell, normalised on the detector (:func:`tds_shape`)."""
        return tds_shape(s, self.pixel_density, self.structure.species, self._static_msd())

    def diffuse(self, s: np.ndarray, delay_ps: np.ndarray, *, t0_ps: float | None = None) -> np.ndarray:
        """Laue + thermal diffuse + substrate background, shape (n_delay, n_s).

        The TDS gains exactly the detector-weighted ring intensity lost since before the pump (module docstring).
        """
        s = np.asarray(s, dtype=float)
        delay = np.atleast_1d(np.asarray(delay_ps, dtype=float))
        f2_0 = sum(float(electron_scattering_factor(el, 0.0)) ** 2 for el in self.structure.species)
        t0 = self.t0_ps if t0_ps is None else t0_ps
        before = self.ring_totals(np.array([t0 - 1e3]), t0_ps=t0)[0]
        lost = np.sum(before - self.ring_totals(delay, t0_ps=t0), axis=1)
        out = static_diffuse(s, self.structure.species, self._static_msd())
        out = out + self.substrate_level * f2_0 * np.exp(-s / self.substrate_decay)
        if self.tds_halo > 0:
            nodes, density = self.pixel_density
            w_halo = np.trapezoid(self._halo(nodes, np.append(t0 - 1e3, delay), t0) * density, nodes, axis=1)
            lost = lost - (w_halo[1:] - w_halo[0])
            out = out + self._halo(s, delay, t0)
        return out + lost[:, None] * self._tds_shape(s)

    def _halo(self, s: np.ndarray, delay: np.ndarray, t0: float) -> np.ndarray:
        """The one-phonon TDS halos H(s, t) of the module docstring, shape (n_delay, n_s)."""
        s_debye = debye_radius_s(len(self.structure.species), self.structure.cell_volume_angstrom3)
        kw = {"t0_ps": t0, "irf_fwhm_ps": self.irf_fwhm_ps}
        static, scale = self.msd_static_angstrom2, 1.0
        if self.vibration is not None:  # acoustic phonons move the cell's centre of mass: mass-weighted ⟨u²⟩
            v = self.vibration
            static, scale = (mass_weighted(self.structure, x) for x in (v.msd_static_angstrom2, v.scale))
        msd = static + scale * np.stack([d.trajectory("msd", delay, **kw) for d in self.dynamics], axis=1)
        centre, area, _ = self.peak_state(delay, t0_ps=t0)
        amount = self.tds_halo * halo_amount(area, self.s0, msd)
        out = np.zeros((delay.size, np.size(s)))
        for d in range(delay.size):  # the halo sits at the ring's reciprocal-lattice point: it moves with the strain
            for k in range(self.s0.size):
                out[d] += amount[d, k] * halo_profile(s, centre[d, k], self.fwhm0[k], s_debye)
        return out

    def peak_state(self, delay_ps: np.ndarray, *, t0_ps: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(centre [Å⁻¹], area, FWHM [Å⁻¹]) of every reflection, each shape (n_delay, n_peak)."""
        t = np.atleast_1d(np.asarray(delay_ps, dtype=float))
        t0 = self.t0_ps if t0_ps is None else t0_ps
        kw = {"t0_ps": t0, "irf_fwhm_ps": self.irf_fwhm_ps}
        strain = np.stack([d.trajectory("strain", t, **kw) for d in self.dynamics], axis=1)
        msd = np.stack([d.trajectory("msd", t, **kw) for d in self.dynamics], axis=1)
        width = np.stack([d.trajectory("width", t, **kw) for d in self.dynamics], axis=1)
        centre = self.s0 / (1.0 + strain)
        area = self.area0 * self.area_ratio(msd)
        return centre, area, self.fwhm0 + width

    def profiles(self, s: np.ndarray, delay_ps: np.ndarray, *, t0_ps: float | None = None) -> np.ndarray:
        """Noise-free I(s) at each delay, shape (n_delay, n_s), per conventional cell."""
        s = np.asarray(s, dtype=float)
        centre, area, fwhm = self.peak_state(delay_ps, t0_ps=t0_ps)
        out = self.diffuse(s, np.atleast_1d(delay_ps), t0_ps=t0_ps)
        for k in range(len(self.labels)):
            out += area[:, k, None] * pseudo_voigt(s[None, :], centre[:, k, None], fwhm[:, k, None], self.eta)
        return out

    def truth(self) -> dict[str, Any]:
        """truth.json content: global parameters and, per hkl, s0, family and kinetics."""
        peaks = {}
        for k, label in enumerate(self.labels):
            near = np.abs(self.s0 - self.s0[k]) < 0.5 * self.fwhm0[k]
            peaks[label] = {
                "family": self.families[k], "s0": float(self.s0[k]), "multiplicity": int(self.multiplicities[k]),
                "area0": float(self.area0[k]), "fwhm0": float(self.fwhm0[k]), **self.dynamics[k].truth(),
                "overlaps": [self.labels[j] for j in np.nonzero(near)[0] if j != k],
            }
        extra: dict[str, Any] = {}
        if self.vibration is not None:
            extra["elements"] = self.vibration.truth()
            plateau = np.array([[d.msd_amplitude_angstrom2 + d.msd_amplitude2_angstrom2 for d in self.dynamics]])
            effective = -np.log(self.area_ratio(plateau)[0]) / (4.0 * np.pi**2 * self.s0**2)
            for k, label in enumerate(self.labels):
                peaks[label]["msd_amplitude_angstrom2"] = float(effective[k])
                peaks[label]["element_msd_amplitude_angstrom2"] = {
                    el: float(plateau[0, k] * kk) for el, kk in zip(self.vibration.elements, self.vibration.scale,
                                                                    strict=True)}
        return {
            "t0_ps": self.t0_ps, "irf_fwhm_ps": self.irf_fwhm_ps, "peak_shape": "pseudo-voigt",
            "pseudo_voigt_eta": self.eta, "msd_static_angstrom2": self.msd_static_angstrom2,
            "conventions": {
                "strain": "s(t) = s0 / (1 + strain(t)); strain = -ds/s to first order",
                "msd": "area(t) = area0 * exp(-4 pi^2 msd(t) s0^2); with per-element vibration msd is the "
                       "effective per-ring value of the structure-factor ratio (element_msd_amplitude_angstrom2 "
                       "per element)",
                "width": "fwhm(t) = fwhm0 + width(t)  [1/Angstrom]",
                "diffuse": "the TDS gains the ring intensity lost on the detector's valid pixels: frame totals "
                           "do not change with delay (only with the incident dose, scans[].dose_factor)",
                "kinetics": "X(t) = A (1 - exp(-(t - t0)/tau)) for t > t0, convolved with a Gaussian IRF of FWHM irf_fwhm_ps",
            },
            **self.metadata,
            **extra,
            "peaks": peaks,
        }


def build_powder_model(
    structure: Structure,
    peaks: dict[str, PeakDynamics],
    *,
    s_max: float,
    diameter_nm: float = 5.5,
    instrument_fwhm: float = 0.008,
    eta: float = 0.3,
    msd_static_angstrom2: float = 0.0,
    t0_ps: float = 0.0,
    irf_fwhm_ps: float = 0.5,
    substrate_level: float = 0.05,
    default_dynamics: PeakDynamics | None = None,
    vibration: ElementVibration | None = None,
    tds_halo: float = 1.0,
) -> PowderModel:
    """Kinematic powder pattern of ``structure`` up to ``s_max`` with per-hkl dynamics.

    Parameters
    ----------
    structure : Structure
        The crystal.
    peaks : dict
        hkl or family label -> :class:`PeakDynamics` (see
        :func:`~uedflow.simulate.pump.dynamics_for_reflections`).
    s_max : float
        Largest s of the reflections [Å⁻¹].
    diameter_nm : float
        Crystallite diameter for the Scherrer width K/D [nm].
    instrument_fwhm : float
        Instrumental FWHM, added in quadrature [Å⁻¹].
    eta : float
        Pseudo-Voigt Lorentzian fraction, 0..1.
    msd_static_angstrom2 : float
        ⟨u²⟩ at the base temperature [Å²] (static Debye–Waller factor and TDS).
    t0_ps, irf_fwhm_ps : float
        Time zero and instrument-response FWHM [ps].
    substrate_level : float
        Substrate background at s = 0 relative to Σ f_j²(0).
    default_dynamics : PeakDynamics, optional
        For reflections that ``peaks`` does not cover.
    vibration : ElementVibration, optional
        Per-element ⟨u²⟩ (replaces ``msd_static_angstrom2``; module docstring).
    tds_halo : float
        Strength of the one-phonon TDS halos around the rings, 0 (none) to 1 (the default, the whole
        first-order TDS; module docstring).

    Raises
    ------
    InputError
        Non-positive diameter, negative widths or η outside [0, 1].
    """
    if not diameter_nm > 0:
        raise InputError(f"diameter_nm must be > 0 nm, got {diameter_nm}")
    if diameter_nm * 10.0 < structure.a_angstrom:
        raise InputError(
            f"diameter {diameter_nm} nm is smaller than one unit cell ({structure.a_angstrom / 10:.3f} nm); "
            "give the crystallite diameter in nm"
        )
    if instrument_fwhm < 0 or not 0.0 <= eta <= 1.0:
        raise InputError(f"instrument_fwhm must be >= 0 and eta in [0, 1]; got {instrument_fwhm}, {eta}")
    rings = powder_ring_intensities(structure, s_max, msd_angstrom2=msd_static_angstrom2, lorentz=True)
    if not rings:
        raise InputError(f"no reflection of {structure.name} below s_max = {s_max} Å⁻¹; raise s_max")
    refs = [r for r, _ in rings]
    labels = [r.label for r in refs]
    area0 = np.array([v for _, v in rings]) / (4.0 * np.pi * structure.cell_volume_angstrom3)
    if vibration is not None:
        rp = ring_partials(structure, labels)
        area0 = rp.intensity(vibration.msd_static_angstrom2) / rp.s**2 / (4.0 * np.pi * structure.cell_volume_angstrom3)
    size_fwhm = SCHERRER_K / (diameter_nm * 10.0)
    fwhm0 = np.full(len(refs), float(np.hypot(size_fwhm, instrument_fwhm)))
    return PowderModel(
        structure=structure,
        labels=tuple(labels),
        families=tuple(r.family for r in refs),
        multiplicities=tuple(r.multiplicity for r in refs),
        s0=np.array([r.s_inv_angstrom for r in refs]),
        area0=area0,
        fwhm0=fwhm0,
        dynamics=tuple(dynamics_for_reflections(labels, peaks, default=default_dynamics)),
        eta=float(eta),
        t0_ps=float(t0_ps),
        irf_fwhm_ps=float(irf_fwhm_ps),
        msd_static_angstrom2=float(msd_static_angstrom2),
        substrate_level=float(substrate_level),
        vibration=vibration,
        tds_halo=float(tds_halo),
    )


def _scan_profiles(
    model: PowderModel, s: np.ndarray, delays: np.ndarray, *, n_scans: int, counts_per_bin: float,
    dose_jitter: float, t0_jitter_ps: float, rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Noisy per-scan profiles normalised back to model units, their Poisson σ, the dose and t0 of each scan."""
    ref = model.profiles(s, np.array([delays.min() - 100.0]))[0]
    scale = counts_per_bin / ref.mean()
    doses = np.clip(1.0 + dose_jitter * rng.standard_normal((n_scans, len(delays))), 0.05, None)
    t0s = model.t0_ps + t0_jitter_ps * rng.standard_normal(n_scans)
    out = np.empty((n_scans, len(delays), len(s)))
    sig = np.empty_like(out)
    for k in range(n_scans):
        lam = model.profiles(s, delays, t0_ps=float(t0s[k])) * scale * doses[k][:, None]
        counts = rng.poisson(lam).astype(float)
        norm = scale * doses[k][:, None]
        out[k] = counts / norm
        sig[k] = np.sqrt(np.maximum(counts, 1.0)) / norm
    return out, sig, doses, t0s


def simulate_powder_series(
    *,
    structure: Structure,
    peaks: dict[str, PeakDynamics],
    delays_ps: np.ndarray,
    s_grid: np.ndarray,
    t0_ps: float = 0.0,
    irf_fwhm_ps: float = 0.5,
    n_scans: int = 3,
    counts_per_bin: float = 2.0e5,
    dose_jitter: float = 0.0,
    t0_jitter_ps: float = 0.0,
    diameter_nm: float = 5.5,
    instrument_fwhm: float = 0.008,
    eta: float = 0.3,
    msd_static_angstrom2: float = 0.0,
    substrate_level: float = 0.05,
    vibration: ElementVibration | None = None,
    tds_halo: float = 1.0,
    seed: int = 0,
    attrs: dict[str, Any] | None = None,
) -> tuple[xr.Dataset, dict[str, Any]]:
    """A reduced powder series I(delay, s) with Poisson noise, and its exact ground truth.

    Skips the detector: the result is what ``uedflow reduce`` would produce
    (docs/formats.md, ``uedflow-reduced``), in per-cell model units. Noise is
    Poisson with ``counts_per_bin`` mean counts per s-bin in the pre-pump
    profile of one scan, times a per-frame dose factor 1 + ``dose_jitter``·N(0,1);
    frames are normalised by their dose. ``intensity_sigma`` is the propagated
    Poisson σ of the scan mean (known exactly here).

    Parameters
    ----------
    structure : Structure
        The crystal.
    peaks : dict
        hkl or family label -> :class:`~uedflow.simulate.pump.PeakDynamics`.
    delays_ps : (n_delay,) ndarray
        Pump–probe delays [ps].
    s_grid : (n_s,) ndarray
        s bin centres [Å⁻¹], increasing.
    t0_ps, irf_fwhm_ps : float
        True time zero [ps] and IRF FWHM [ps].
    n_scans : int
        Scans (repeated delay sweeps), each with independent noise.
    counts_per_bin, dose_jitter, t0_jitter_ps : float
        Noise level, relative frame dose scatter, scan-to-scan time-zero scatter [ps].
    diameter_nm, instrument_fwhm, eta, msd_static_angstrom2, substrate_level, vibration, tds_halo
        See :func:`build_powder_model`.
    seed : int
        Seed of ``numpy.random.default_rng``.
    attrs : dict, optional
        Extra root attributes (sample metadata of the reduced format).

    Returns
    -------
    (xarray.Dataset, dict)
        The reduced-format dataset and the truth dict (truth.json format).

    Raises
    ------
    InputError
        Negative dose, fewer than one scan, bad s grid or delays.
    """
    delays = np.sort(np.asarray(delays_ps, dtype=float))
    s = np.asarray(s_grid, dtype=float)
    if counts_per_bin <= 0 or not np.isfinite(counts_per_bin):
        raise InputError(f"counts_per_bin (dose) must be positive, got {counts_per_bin}")
    if n_scans < 1:
        raise InputError(f"n_scans must be >= 1, got {n_scans}")
    if s.ndim != 1 or len(s) < 10 or np.any(np.diff(s) <= 0) or s[0] <= 0:
        raise InputError("s_grid must be an increasing 1D array of >= 10 positive values [Å⁻¹]")
    if delays.ndim != 1 or len(delays) < 2 or not np.any(delays < t0_ps):
        raise InputError("delays_ps must have >= 2 delays, some before time zero (for the reference)")
    model = build_powder_model(
        structure, peaks, s_max=float(s[-1]), diameter_nm=diameter_nm, instrument_fwhm=instrument_fwhm, eta=eta,
        msd_static_angstrom2=msd_static_angstrom2, t0_ps=t0_ps, irf_fwhm_ps=irf_fwhm_ps,
        substrate_level=substrate_level, vibration=vibration, tds_halo=tds_halo,
    )
    rng = np.random.default_rng(seed)
    scans, sig, doses, t0s = _scan_profiles(model, s, delays, n_scans=n_scans, counts_per_bin=counts_per_bin,
                                            dose_jitter=dose_jitter, t0_jitter_ps=t0_jitter_ps, rng=rng)
    ds = reduced_dataset(scans, sig, s, delays, doses, structure=structure, attrs=attrs)
    truth = model.truth()
    truth.update({"seed": int(seed), "n_scans": int(n_scans), "counts_per_bin": float(counts_per_bin),
                  "scan_t0_ps": t0s.tolist(), "level": "phenomenological"})
    return ds, truth
