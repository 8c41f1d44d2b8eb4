"""Indexing of powder rings: allowed hkl of the structure, calibration refinement, overlaps.

The observed ring positions are modelled as s_obs = √(h² + k² + l²) / a_eff + δ:
a_eff is the lattice constant as seen through the detector calibration (the
two cannot be separated without a standard) and δ an s-zero offset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.signal import find_peaks, peak_widths

from uedflow.crystal import Reflection, Structure, direction_family, hkl_label, parse_hkl, reflections
from uedflow.errors import CrystalError, InputError

__all__ = ["GROUP_HALF_WIDTH", "detect_peaks", "find_peaks_1d", "ring_family", "Ring", "Indexing", "candidate_rings", "refine_lattice", "group_overlapping", "index_profile"]


@dataclass(frozen=True)
class Ring:
    """One powder ring to fit.

    Attributes
    ----------
    hkl : tuple of int
    label : str
        e.g. ``"311"``; coincident reflections of different families are one ring labelled
        as a blend, ``"333/511"`` (its ``hkl`` is the first, (333)).
    family : str
        Direction family (``"<111>"``, ``"(311)"``...).
    s_expected : float
        Position from the (refined) lattice [Å⁻¹].
    fwhm_guess : float
        Starting FWHM [Å⁻¹].
    group : int
        Index of the group of overlapping rings fitted jointly.
    tied : bool
        A reflection too weak to fit on its own: it stays in the model (so that its
        intensity is not absorbed by its neighbours or the background) with its position
        and width held close to ``s_expected`` and ``fwhm_guess``, and is not reported.
    reported : bool
        False for rings only modelled: tied rings, unresolved shoulders of much stronger
        rings and rings too close to an end of the s range for a full fit window (the
        last two fitted freely, so that their own shape is right).
    """

    hkl: tuple[int, int, int]
    label: str
    family: str
    s_expected: float
    fwhm_guess: float
    group: int = 0
    tied: bool = False
    reported: bool = True


@dataclass(frozen=True)
class Indexing:
    """Rings of a powder profile, the refined calibration and the overlapping groups."""

    rings: tuple[Ring, ...]
    a_angstrom: float
    a_err_angstrom: float
    s_offset: float
    s_offset_err: float
    overlaps: tuple[tuple[str, str, float], ...] = field(default=())

    @property
    def groups(self) -> list[list[int]]:
        """Ring indices per group of jointly fitted rings."""
        out: dict[int, list[int]] = {}
        for i, r in enumerate(self.rings):
            out.setdefault(r.group, []).append(i)
        return list(out.values())

    def summary(self) -> dict[str, Any]:
        """JSON-safe description."""
        return {
            "rings": [r.label for r in self.rings],
            "families": [r.family for r in self.rings],
            "reported": [r.reported for r in self.rings],
            "tied": [r.tied for r in self.rings],
            "a_angstrom": self.a_angstrom,
            "a_err_angstrom": self.a_err_angstrom,
            "s_offset": self.s_offset,
            "s_offset_err": self.s_offset_err,
            "overlaps": [list(o) for o in self.overlaps],
        }

    def report(self) -> str:
        """Readable text."""
        lines = [f"a_eff = {self.a_angstrom:.4f} ± {self.a_err_angstrom:.4f} Å, s offset = "
                 f"{self.s_offset:+.5f} ± {self.s_offset_err:.5f} Å⁻¹"]
        lines += [f"  ({r.label}) {r.family:>7} s = {r.s_expected:.4f} Å⁻¹ group {r.group}"
                  + ("" if r.reported else (" (tied, not reported)" if r.tied else " (modelled, not reported)"))
                  for r in self.rings]
        lines += [f"  overlap: ({a})/({b}) {d:.4f} Å⁻¹ apart, fitted jointly" for a, b, d in self.overlaps]
        return "\n".join(lines)


def ring_family(
    hkl: tuple[int, int, int], structure: Structure, *, allowed: list[Reflection] | None = None
) -> str:
    """Direction family of a ring; rings where allowed reflections of different families
    coincide (e.g. (333)/(511) in rock salt) get their own label ``"(333/511)"`` so that no
    family average mixes them.

    Examples
    --------
    >>> from uedflow.crystal import get_structure
    >>> pbse = get_structure("PbSe")
    >>> ring_family((3, 3, 3), pbse), ring_family((2, 0, 0), pbse)
    ('(333/511)', '<100>')
    """
    n2 = sum(i * i for i in hkl)
    if allowed is None:
        s = np.sqrt(n2) / structure.a_angstrom
        allowed = reflections(structure, s * (1 + 1e-9), s_min=s * (1 - 1e-9))
    labels = [r.label for r in allowed if sum(i * i for i in r.hkl) == n2]
    if len({direction_family(lab) for lab in labels}) > 1:
        return "(" + "/".join(labels) + ")"
    return direction_family(hkl)


def _blend_label(hkl: tuple[int, int, int], family: str) -> str:
    """Ring label: ``"200"``; a blend of coincident reflections of different families is ``"333/511"``."""
    return family.strip("()") if "/" in family else hkl_label(hkl)


def candidate_rings(
    structure: Structure, s_min: float, s_max: float, *, peaks: list[str] | tuple[str, ...] | None = None
) -> list[tuple[tuple[int, int, int], float]]:
    """Allowed reflections (hkl, s) inside (s_min, s_max); coincident ones are one ring named by the first.

    With ``peaks`` given, exactly those (in s order); each must be allowed and inside the range
    (a coincident reflection such as (511) names its ring, (333)).

    Raises
    ------
    CrystalError
        A requested hkl is not an allowed reflection of the structure.
    InputError
        A requested ring lies outside the measured s range.
    """
    every = reflections(structure, max(s_max, 1e-3) * 4.0)
    merged: dict[tuple[int, int, int], tuple[tuple[int, int, int], float]] = {}  # hkl -> (ring hkl, s)
    first: tuple[tuple[int, int, int], float] | None = None
    for r in every:
        if first is None or abs(first[1] - r.s_inv_angstrom) >= 1e-9:
            first = (r.hkl, r.s_inv_angstrom)
        merged[r.hkl] = first
    rings = list(dict.fromkeys(merged.values()))
    if peaks is None:
        return [(h, s) for h, s in rings if s_min < s < s_max]
    out = []
    for p in peaks:
        hkl = parse_hkl(p)
        if hkl not in merged:
            options = ", ".join(hkl_label(h) for h, s in rings if s_min < s < s_max)
            raise CrystalError(
                f"reflection ({hkl_label(hkl)}) is not an allowed ring of {structure.name}; "
                f"allowed rings in the data range: {options}"
            )
        hkl, s = merged[hkl]
        if not s_min < s < s_max:
            raise InputError(
                f"ring ({hkl_label(hkl)}) at s = {s:.4f} Å⁻¹ is outside the fittable s range "
                f"{s_min:.4f}–{s_max:.4f} Å⁻¹ of the reduced data; drop it from --peaks or reduce a wider range"
            )
        out.append((hkl, s))
    return sorted(set(out), key=lambda t: t[1])


def refine_lattice(
    s_obs: np.ndarray, hkl: list[tuple[int, int, int]], *, sigma: np.ndarray | None = None
) -> tuple[float, float, float, float]:
    """Weighted fit s_obs = √N / a + δ; returns (a, a_err, δ, δ_err) [Å, Å⁻¹].

    With one ring only δ = 0 is assumed (and its error reported as NaN).

    Examples
    --------
    >>> a, a_err, d, d_err = refine_lattice(np.array([0.2830, 0.3268, 0.4622]), [(1, 1, 1), (2, 0, 0), (2, 2, 0)])
    >>> round(a, 2)
    6.12
    """
    s_obs = np.asarray(s_obs, float)
    root_n = np.sqrt([h * h + k * k + l * l for h, k, l in hkl])
    w = 1.0 / np.asarray(sigma, float) ** 2 if sigma is not None else np.ones_like(s_obs)
    if len(s_obs) == 1:
        return float(root_n[0] / s_obs[0]), float("nan"), 0.0, float("nan")
    design = np.column_stack([root_n, np.ones_like(root_n)])
    a_mat = design.T @ (design * w[:, None])
    coef = np.linalg.solve(a_mat, design.T @ (w * s_obs))
    resid = s_obs - design @ coef
    dof = len(s_obs) - 2
    scale = float(np.sum(w * resid**2) / dof) if dof > 0 else 1.0
    cov = np.linalg.inv(a_mat) * (scale if sigma is None or dof > 0 else 1.0)
    inv_a, delta = coef
    a = 1.0 / inv_a
    return float(a), float(np.sqrt(cov[0, 0]) * a * a), float(delta), float(np.sqrt(cov[1, 1]))


#: Rings closer than 2 × GROUP_HALF_WIDTH FWHMs are fitted jointly.
GROUP_HALF_WIDTH = 1.5


def group_overlapping(centers: np.ndarray, fwhm: np.ndarray, *, half_window: float = GROUP_HALF_WIDTH) -> np.ndarray:
    """Group index per ring: rings whose cores (± half_window × FWHM) overlap share a group.

    Examples
    --------
    >>> group_overlapping(np.array([0.30, 0.40, 0.50, 0.524]), np.full(4, 0.02)).tolist()
    [0, 1, 2, 2]
    """
    order = np.argsort(centers)
    groups = np.zeros(len(centers), int)
    g = 0
    for prev, cur in zip(order[:-1], order[1:], strict=True):
        if centers[cur] - half_window * fwhm[cur] > centers[prev] + half_window * fwhm[prev]:
            g += 1
        groups[cur] = g
    return groups


def find_peaks_1d(
    s: np.ndarray, profile: np.ndarray, *, noise: float, min_prominence: float = 5.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local maxima of a background-free profile more prominent than ``min_prominence`` × ``noise``.

    Returns
    -------
    positions, fwhm, prominence : ndarray
        Peak positions and widths at half prominence [unit of s], prominences [unit of profile].

    Examples
    --------
    >>> s = np.linspace(0, 1, 501)
    >>> pos, fwhm, _ = find_peaks_1d(s, np.exp(-0.5 * ((s - 0.4) / 0.01) ** 2), noise=0.01)
    >>> round(float(pos[0]), 3), round(float(fwhm[0]), 3)
    (0.4, 0.024)
    """
    y = np.nan_to_num(np.asarray(profile, float))
    idx, props = find_peaks(y, prominence=min_prominence * noise)
    if len(idx) == 0:
        return np.array([]), np.array([]), np.array([])
    widths = peak_widths(y, idx, rel_height=0.5)[0] * np.gradient(s)[idx]
    return s[idx], widths, props["prominences"]


def detect_peaks(s: np.ndarray, profile: np.ndarray, *, sigma: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Peaks of a powder profile over a robust baseline: (positions, FWHM [unit of s], prominences), those more
    prominent than 5 × the noise (the scatter of the data itself, or the median σ if larger).

    Examples
    --------
    >>> s = np.linspace(0.2, 1.0, 801)
    >>> y = 2 - s + np.exp(-0.5 * ((s - 0.5) / 0.01) ** 2) + np.random.default_rng(0).normal(0, 0.01, s.size)
    >>> pos, fwhm, prom = detect_peaks(s, y)
    >>> round(float(pos[np.argmax(prom)]), 3), round(float(fwhm[np.argmax(prom)]), 3)
    (0.5, 0.024)
    """
    from uedflow.peaks.background import robust_baseline

    s = np.asarray(s, float)
    profile = np.asarray(profile, float)
    flat = profile - robust_baseline(s, profile, knot_spacing=(s.max() - s.min()) / 6.0)
    # the scatter of the data itself, unless the given σ is larger: a σ that misses a detector's gain noise would
    # let noise maxima through, and their 1-2 bin widths would set every ring's expected width
    noise = 1.4826 * float(np.nanmedian(np.abs(np.diff(flat)))) / np.sqrt(2.0)
    if sigma is not None:
        noise = max(noise, float(np.nanmedian(sigma)))
    return find_peaks_1d(s, flat, noise=max(noise, 1e-12 * np.nanmax(np.abs(profile))))


def index_profile(
    s: np.ndarray,
    profile: np.ndarray,
    structure: Structure,
    *,
    sigma: np.ndarray | None = None,
    peaks: list[str] | tuple[str, ...] | None = None,
    half_window: float = 2.5,
) -> Indexing:
    """Find the rings of ``structure`` in a powder profile, refine a_eff and δ, group overlaps.

    Parameters
    ----------
    s : (N,) ndarray
        s [Å⁻¹], ascending.
    profile : (N,) ndarray
        Intensity (e.g. the reference before time zero), background included.
    structure : Structure
        Expected crystal; its lattice constant is the starting calibration.
    sigma : (N,) ndarray, optional
        1σ of the profile (for the detection threshold).
    peaks : sequence of str, optional
        Rings to report (``"111"``...); default: every allowed ring in the fittable range
        (the peak fits tie those too weak to fit). All other allowed reflections inside
        the s range are returned with ``reported`` False.
    half_window : float
        Fit window half-width in FWHMs: rings closer than this to the ends of the
        s range are only modelled, not ``reported``. Rings closer than 2 × GROUP_HALF_WIDTH FWHMs are grouped.

    Raises
    ------
    InputError
        No ring of the structure is found in the profile.
    """
    s = np.asarray(s, float)
    profile = np.asarray(profile, float)
    pos, widths, prom = detect_peaks(s, profile, sigma=sigma)
    if len(pos) == 0:
        raise InputError("no peaks found in the reference profile; is this a powder pattern with rings?")
    fwhm0 = float(np.median(widths))
    margin = half_window * fwhm0
    expected = candidate_rings(structure, s[0] + margin, s[-1] - margin)
    if not expected:
        raise InputError(
            f"no allowed ring of {structure.name} between s = {s[0]:.3f} and {s[-1]:.3f} Å⁻¹; check the material"
        )
    # calibration scale: the factor that matches most expected rings to detected maxima
    exp_s = np.array([e[1] for e in expected])
    scales = np.linspace(0.94, 1.06, 241)
    tol = 0.35 * fwhm0
    scores = [np.sum(np.min(np.abs(pos[None, :] - c * exp_s[:, None]), axis=1) < tol) for c in scales]
    best = scales[int(np.argmax(scores))]
    dist = np.abs(pos[None, :] - best * exp_s[:, None])
    match = np.argmin(dist, axis=1)
    matched = np.min(dist, axis=1) < tol
    # a detected maximum claimed by several rings (unresolved overlap): keep the closest only
    for j in set(match[matched]):
        claim = np.flatnonzero(matched & (match == j))
        matched[claim[np.argmin(dist[claim, j])]] = True
        matched[claim[claim != claim[np.argmin(dist[claim, j])]]] = False
    if matched.sum() >= 1:
        fwhm0 = float(np.median(widths[match[matched]]))  # the rings' own widths, not those of stray maxima
        hkls = [expected[i][0] for i in np.flatnonzero(matched)]
        a, a_err, off, off_err = refine_lattice(pos[match[matched]], hkls)
        if matched.sum() == 1:
            a = structure.a_angstrom / best
    else:
        a, a_err, off, off_err = structure.a_angstrom / best, float("nan"), 0.0, float("nan")
    refined = structure.with_lattice_constant(a)
    s_lo, s_hi = s[0] + margin - off, s[-1] - margin - off
    chosen = candidate_rings(refined, s_lo, s_hi, peaks=peaks)
    # every other allowed reflection inside the data stays in the model, not reported
    extra = [(h, sv) for h, sv in candidate_rings(refined, s[0] - off, s[-1] - off) if h not in dict(chosen)]
    reported = [True] * len(chosen) + [False] * len(extra)
    order = np.argsort([sv for _, sv in chosen + extra], kind="stable")
    chosen, reported = [(chosen + extra)[i] for i in order], [reported[i] for i in order]
    centers = np.array([sv + off for _, sv in chosen])
    width_at = np.full(len(centers), fwhm0)
    groups = group_overlapping(centers, width_at)
    allowed = reflections(refined, s[-1] + 1.0)
    families = [ring_family(h, refined, allowed=allowed) for h, _ in chosen]
    rings = tuple(
        Ring(h, _blend_label(h, fam), fam, float(c), float(w), int(g), reported=rep)
        for (h, _), fam, c, w, g, rep in zip(chosen, families, centers, width_at, groups, reported, strict=True)
    )
    overlaps = tuple(
        (r1.label, r2.label, r2.s_expected - r1.s_expected)
        for r1, r2 in zip(rings[:-1], rings[1:], strict=True)
        if r1.group == r2.group
    )
    return Indexing(rings, a, a_err, off, off_err, overlaps)
