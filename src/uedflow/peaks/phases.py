"""Which candidate phase indexes a powder profile best (e.g. monoclinic M1 vs rutile VO2).

The peaks of the profile (:func:`~uedflow.peaks.indexing.detect_peaks`) are
indexed with the rings of each candidate crystal
(:func:`~uedflow.crystal.indexing.index_peaks`: a common scale within
``scale_range`` for an imperfect calibration, families closer than a quarter of the
median peak width forming composite rings) and the candidates ranked by the
figure of merit (prominence-weighted misfit, penalising matches where a
phase's rings are so dense that any position would match).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from uedflow.crystal import Crystal, Structure, get_crystal
from uedflow.crystal.indexing import PeakIndexing, index_peaks
from uedflow.errors import InputError
from uedflow.peaks.indexing import detect_peaks

__all__ = ["rank_phases"]


def rank_phases(s: np.ndarray, profile: np.ndarray, candidates: Sequence[str | Path | Structure | Crystal], *,
                sigma: np.ndarray | None = None, tolerance: float = 0.005,
                scale_range: tuple[float, float] = (0.97, 1.03)) -> list[PeakIndexing]:
    """Index the peaks of a powder profile with each candidate and rank them, best (lowest figure of merit) first.

    Parameters
    ----------
    s : (N,) ndarray
        s = 1/d [Å⁻¹], ascending.
    profile : (N,) ndarray
        Intensity (a smooth background is removed first).
    candidates : sequence
        Phases: built-in names, CIF paths, Structures or Crystals (see :func:`~uedflow.crystal.get_crystal`).
    sigma : (N,) ndarray, optional
        1σ of the profile (detection threshold).
    tolerance : float
        Relative misfit within which a peak is indexed.
    scale_range : (float, float)
        Range of the common scale factor of s scanned per phase.

    Returns
    -------
    list of PeakIndexing
        One per candidate, best first; ``report()`` of each says which peaks are indexed, by pure or composite
        rings.

    Raises
    ------
    InputError
        No peaks in the profile, or no candidates.
    """
    if not candidates:
        raise InputError("rank_phases needs at least one candidate phase")
    s = np.asarray(s, float)
    pos, widths, prom = detect_peaks(s, np.asarray(profile, float), sigma=sigma)
    if len(pos) == 0:
        raise InputError("no peaks found in the profile; is this a powder pattern with rings?")
    resolution = 0.25 * float(np.median(widths))
    results = [index_peaks(pos, get_crystal(c), prominence=prom, tolerance=tolerance, scale_range=scale_range,
                           resolution=resolution) for c in candidates]
    return sorted(results, key=lambda r: r.figure_of_merit)
