"""Index observed powder peaks with the rings of any crystal, and rank candidate phases.

The observed peak positions (s = 1/d in Å⁻¹, or any quantity proportional to it)
are matched to the crystal's rings after a scale factor c (s_true = c · s_obs,
an uncalibrated camera length) found by a scan over ``scale_range`` and refined
by weighted least squares on the matched peaks. Families closer than the
resolution form one composite ring (:func:`~uedflow.crystal.composite_rings`); a
ring is *pure* when it is one family. Any subset of the rings may be seen (a
textured film shows only some), so the match does not use intensities beyond
leaving out rings weaker than ``min_intensity``.

Figure of merit (lower is better): the prominence-weighted mean over the
observed peaks of min(max(|δ| / tolerance, p), 1), with δ = (c s_obs − s_ring) /
s_ring the relative misfit to the nearest ring and p the chance that a random
position there falls within the tolerance of a ring (the number of rings within
±5 tolerances, those closer than the tolerance counted once, divided by 5). An unindexed peak counts 1, and so does a match
where the rings are so dense that any position would match: a phase with many
rings cannot index its way to a good figure of merit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from uedflow.crystal.families import CompositeRing, composite_rings, reflection_families
from uedflow.crystal.general import Crystal
from uedflow.errors import CrystalError

__all__ = ["IndexedPeak", "PeakIndexing", "index_peaks", "index_solutions"]


@dataclass(frozen=True)
class IndexedPeak:
    """One observed peak.

    Attributes
    ----------
    s_observed : float
        Position after the scale, c · s_obs [Å⁻¹].
    ring : CompositeRing or None
        Nearest ring when within the tolerance, else None (unindexed).
    deviation : float
        (c s_obs − s_ring) / s_ring of the nearest ring (relative).
    prominence : float
        Weight of the peak in the figure of merit.
    """

    s_observed: float
    ring: CompositeRing | None
    deviation: float
    prominence: float


@dataclass(frozen=True)
class PeakIndexing:
    """Peaks indexed by one crystal (:func:`index_peaks`)."""

    crystal: str
    scale: float
    peaks: tuple[IndexedPeak, ...]
    tolerance: float
    figure_of_merit: float
    n_rings: int

    @property
    def n_indexed(self) -> int:
        """Number of peaks within the tolerance of a ring."""
        return sum(p.ring is not None for p in self.peaks)

    def summary(self) -> dict[str, object]:
        """JSON-safe description."""
        return {"crystal": self.crystal, "scale": self.scale, "figure_of_merit": self.figure_of_merit,
                "tolerance": self.tolerance, "n_rings": self.n_rings, "n_indexed": self.n_indexed,
                "peaks": [{"s_inv_angstrom": p.s_observed, "ring": p.ring.label if p.ring else None,
                           "pure": p.ring.pure if p.ring else None,
                           "weights": list(p.ring.weights) if p.ring else None,
                           "deviation": p.deviation} for p in self.peaks]}

    def report(self) -> str:
        """Text table: each peak, its ring (pure or composite with weights) and misfit."""
        lines = [f"{self.crystal}: {self.n_indexed}/{len(self.peaks)} peaks within {100 * self.tolerance:.2g} % of "
                 f"its {self.n_rings} rings, scale {self.scale:.5f}, figure of merit {self.figure_of_merit:.3f}",
                 f"{'s [1/Å]':>9} {'ring':>14} {'s_calc':>8} {'Δs/s [%]':>9}  kind"]
        for p in self.peaks:
            if p.ring is None:
                lines.append(f"{p.s_observed:9.4f} {'-':>14} {'':>8} {100 * p.deviation:+9.3f}  unindexed")
                continue
            kind = "pure" if p.ring.pure else "composite " + " ".join(
                f"{m.label}:{w:.2f}" for m, w in zip(p.ring.members, p.ring.weights, strict=True))
            lines.append(f"{p.s_observed:9.4f} {p.ring.label:>14} {p.ring.s_inv_angstrom:8.4f} "
                         f"{100 * p.deviation:+9.3f}  {kind}")
        return "\n".join(lines)


def _misfit(s_obs: np.ndarray, ring_s: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Relative misfit (c s_obs − s_ring)/s_ring to the nearest ring, shape (scales, peaks)."""
    pred = scale[:, None] * s_obs[None, :]
    j = np.clip(np.searchsorted(ring_s, pred), 1, len(ring_s) - 1)
    lo, hi = ring_s[j - 1], ring_s[j]
    return np.where(np.abs(pred - lo) / lo <= np.abs(pred - hi) / hi, (pred - lo) / lo, (pred - hi) / hi)


def _cost(s_obs: np.ndarray, ring_s: np.ndarray, scales: np.ndarray, weight: np.ndarray, tolerance: float
          ) -> np.ndarray:
    """Σ weight · max(|misfit| / tolerance, chance) per scale, at most 1 a peak: chance = (rings within ±5 tolerance,
    those closer than the tolerance counted once) / 5, the probability that a random position lies within the
    tolerance of a ring there, so a match where the rings are dense is worth little."""
    pred = scales[:, None] * s_obs[None, :]
    distinct = [ring_s[0]]  # rings closer than the tolerance cover one interval: count them once
    for v in ring_s[1:]:
        if v > distinct[-1] * (1 + tolerance):
            distinct.append(v)
    n_near = np.searchsorted(distinct, pred * (1 + 5 * tolerance)) - np.searchsorted(distinct, pred * (1 - 5 * tolerance))
    misfit = np.abs(_misfit(s_obs, ring_s, scales)) / tolerance
    return np.minimum(np.maximum(misfit, n_near / 5.0), 1.0) @ weight


def _refine(s_obs: np.ndarray, ring_s: np.ndarray, scale: float, weight: np.ndarray, tolerance: float) -> float:
    """Weighted least-squares scale c of c s_obs = s_ring over the peaks matched at ``scale`` (three rounds)."""
    for _ in range(3):
        dev = _misfit(s_obs, ring_s, np.array([scale]))[0]
        ok = np.abs(dev) < tolerance
        if not ok.any():
            break
        target = scale * s_obs[ok] / (1 + dev[ok])
        scale = float(np.sum(weight[ok] * s_obs[ok] * target) / np.sum(weight[ok] * s_obs[ok] ** 2))
    return scale


def index_peaks(s_peaks: Sequence[float] | np.ndarray, crystal: Crystal, *,
                prominence: Sequence[float] | np.ndarray | None = None, tolerance: float = 0.005,
                scale_range: tuple[float, float] = (0.97, 1.03), resolution: float = 0.0,
                min_intensity: float = 0.1) -> PeakIndexing:
    """Index observed peaks with the rings of ``crystal``.

    Parameters
    ----------
    s_peaks : sequence of float
        Observed peak positions [Å⁻¹, up to the unknown scale].
    crystal : Crystal
        Candidate phase.
    prominence : sequence of float, optional
        Weight of each peak (default 1).
    tolerance : float
        Relative misfit within which a peak is indexed.
    scale_range : (float, float)
        Range of the scale c scanned (``(1, 1)``: calibrated s).
    resolution : float
        Families closer than this [Å⁻¹] form one composite ring.
    min_intensity : float
        Rings weaker than this percentage of the strongest (kinematic m|F|²/s²) are not used.

    Raises
    ------
    CrystalError
        No peaks, or no ring in range.

    Examples
    --------
    >>> from uedflow.crystal import get_crystal
    >>> au = get_crystal("Au")
    >>> result = index_peaks([0.4247 / 1.01, 0.4904 / 1.01], au)
    >>> round(result.scale, 4), result.n_indexed
    (1.01, 2)
    """
    return index_solutions(s_peaks, crystal, prominence=prominence, tolerance=tolerance, scale_range=scale_range,
                           resolution=resolution, min_intensity=min_intensity)[0]


def index_solutions(s_peaks: Sequence[float] | np.ndarray, crystal: Crystal, *,
                    prominence: Sequence[float] | np.ndarray | None = None, tolerance: float = 0.005,
                    scale_range: tuple[float, float] = (0.97, 1.03), resolution: float = 0.0,
                    min_intensity: float = 0.1, n_solutions: int = 1) -> list[PeakIndexing]:
    """The ``n_solutions`` best indexings (distinct scales, best figure of merit first); arguments as
    :func:`index_peaks`."""
    s_obs = np.asarray(s_peaks, float)
    if s_obs.ndim != 1 or len(s_obs) == 0 or not np.all(np.isfinite(s_obs) & (s_obs > 0)):
        raise CrystalError(f"peak positions must be positive numbers of Å⁻¹, got {s_obs.tolist()}")
    weight = np.ones_like(s_obs) if prominence is None else np.asarray(prominence, float)
    lo, hi = scale_range
    rings = composite_rings(reflection_families(crystal, hi * s_obs.max() * (1 + 2 * tolerance)), resolution)
    strongest = max((r.intensity for r in rings), default=0.0)
    rings = [r for r in rings if r.intensity >= min_intensity / 100 * strongest]
    if not rings:
        raise CrystalError(f"{crystal.name} has no ring up to s = {hi * s_obs.max():.3f} Å⁻¹")
    ring_s = np.array([1e-9, *(r.s_inv_angstrom for r in rings), 1e9])  # sentinels keep searchsorted inside
    n = max(int(np.ceil(np.log(hi / lo) / (tolerance / 4))) + 1, 1)
    scales = np.geomspace(lo, hi, n)
    cost = _cost(s_obs, ring_s, scales, weight, tolerance)
    minima = [i for i in np.argsort(cost, kind="stable")
              if (i == 0 or cost[i] <= cost[i - 1]) and (i == n - 1 or cost[i] <= cost[i + 1])][:8]
    refined: list[float] = []
    inside = [c for c in (_refine(s_obs, ring_s, scales[i], weight, tolerance) for i in minima) if lo <= c <= hi]
    for c in sorted(inside, key=lambda c: _cost(s_obs, ring_s, np.array([c]), weight, tolerance)[0]):
        if all(abs(np.log(c / other)) > tolerance for other in refined):
            refined.append(c)
    out = []
    for best in (refined or [float(scales[minima[0]])])[:n_solutions]:
        dev = _misfit(s_obs, ring_s, np.array([best]))[0]
        peaks = []
        for sv, d, w in zip(s_obs * best, dev, weight, strict=True):
            ring = min(rings, key=lambda r: abs(sv - r.s_inv_angstrom)) if abs(d) < tolerance else None
            peaks.append(IndexedPeak(float(sv), ring, float(d), float(w)))
        fom = float(_cost(s_obs, ring_s, np.array([best]), weight, tolerance)[0] / np.sum(weight))
        out.append(PeakIndexing(crystal.name, float(best), tuple(peaks), tolerance, fom, len(rings)))
    return out
