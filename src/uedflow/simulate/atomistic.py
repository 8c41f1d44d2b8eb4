"""Atomistic pump dynamics: per-atom-group expansion and Δ⟨u²⟩ trajectories, Debye pattern per delay.

Atoms are grouped by their tag: ``"core"`` or a surface facet family
(``"{100}"``, ``"{110}"``, ``"{111}"``). Each group g follows a
:class:`~uedflow.simulate.pump.PeakDynamics` (its ``strain`` and ``msd``
trajectories; width is not used): at delay t its atoms move radially from
their dot's centre, r → c + (r − c)(1 + ε_g(t)), and their mean-square
displacement grows by Δ⟨u²⟩_g(t). A fraction ``normal_fraction[g]`` of 3Δ⟨u²⟩
can be put along the facet normal (anisotropic: U = Δ(1 − f) I + 3Δ f n nᵀ, the
trace is kept). When all groups share one strain, the pair histogram is computed
once and its distances scaled; otherwise it is recomputed per delay (numba pair
loop).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from uedflow.crystal import Reflection
from uedflow.errors import ConfigError
from uedflow.simulate.debye import grouped_intensity, pair_histogram
from uedflow.simulate.nanocrystal import FACETS, Nanocrystal
from uedflow.simulate.pump import PeakDynamics

__all__ = ["atomistic_series"]


def _dot_centres(nc: Nanocrystal) -> np.ndarray:
    n_dots = int(nc.dot.max()) + 1
    return np.array([nc.positions[nc.dot == k].mean(axis=0) for k in range(n_dots)])


def atomistic_series(
    nanocrystal: Nanocrystal,
    s: np.ndarray,
    delays_ps: np.ndarray,
    groups: dict[str, PeakDynamics],
    *,
    t0_ps: float = 0.0,
    irf_fwhm_ps: float = 0.5,
    msd_static_angstrom2: float = 0.0,
    normal_fraction: dict[str, float] | None = None,
    reflections: list[Reflection] | None = None,
    bin_width: float = 0.01,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Debye patterns I(delay, s) of a pumped atomistic model.

    Parameters
    ----------
    nanocrystal : Nanocrystal
        The model (single dot or assembly).
    s : (n_s,) ndarray
        [Å⁻¹].
    delays_ps : (n_delay,) ndarray
        [ps].
    groups : dict
        ``"core"``, ``"{100}"``, ``"{110}"``, ``"{111}"`` -> PeakDynamics; a missing
        group takes ``"core"``'s dynamics (``"core"`` is required).
    t0_ps, irf_fwhm_ps : float
        Time zero and IRF FWHM [ps].
    msd_static_angstrom2 : float
        ⟨u²⟩ of every atom before the pump [Å²].
    normal_fraction : dict, optional
        Group -> fraction (0..1) of the Δ⟨u²⟩ trace along the facet normal.
    reflections : list of Reflection, optional
        Needed when ``normal_fraction`` makes displacements anisotropic.
    bin_width : float
        Histogram bin for strained (off-lattice) models [Å].
    progress : callable, optional
        ``progress(done, total)`` per delay.

    Returns
    -------
    (n_delay, n_s) ndarray
    """
    if "core" not in groups:
        raise ConfigError(f"atomistic dynamics need a 'core' group; got {sorted(groups)}")
    bad = sorted(set(groups) - set(FACETS)) + sorted(set(normal_fraction or {}) - set(FACETS))
    if bad:
        raise ConfigError(f"unknown atom group(s) {bad}; use {', '.join(FACETS)}")
    delays = np.atleast_1d(np.asarray(delays_ps, dtype=float))
    kw = {"t0_ps": t0_ps, "irf_fwhm_ps": irf_fwhm_ps}
    codes = list(range(len(FACETS)))
    dyn = [groups.get(FACETS[c], groups["core"]) for c in codes]
    strain = np.array([[d.trajectory("strain", t, **kw) for d in dyn] for t in delays])  # (n_delay, n_code)
    dmsd = np.array([[d.trajectory("msd", t, **kw) for d in dyn] for t in delays])
    frac = np.array([(normal_fraction or {}).get(FACETS[c], 0.0) for c in codes])
    if np.any((frac < 0) | (frac > 1)):
        raise ConfigError(f"normal_fraction values must be in [0, 1], got {normal_fraction}")
    nn = nanocrystal.normal[:, :, None] * nanocrystal.normal[:, None, :]
    rel = nanocrystal.positions - _dot_centres(nanocrystal)[nanocrystal.dot]
    # fixed atom groups (element, facet, facet normal): every atom of a group moves alike at every delay
    key = np.concatenate([nanocrystal.facet[:, None] * 10.0, nn.reshape(-1, 9)], axis=1)
    _, cls = np.unique(np.round(key, 9), axis=0, return_inverse=True)
    _, rep, group = np.unique(nanocrystal.species * (cls.max() + 1) + cls.ravel(), return_index=True,
                              return_inverse=True)  # rep: one representative atom per group
    group = group.ravel()
    gel = [nanocrystal.elements[e] for e in nanocrystal.species[rep]]
    gfacet, gnn = nanocrystal.facet[rep], nn[rep]
    uniform = np.allclose(strain, strain[:, :1])
    hist0 = None
    out = np.empty((len(delays), len(np.atleast_1d(s))))
    for k in range(len(delays)):
        d, f = dmsd[k, gfacet], frac[gfacet]
        gmsd = (msd_static_angstrom2 + d * (1 - f))[:, None, None] * np.eye(3) + (3 * d * f)[:, None, None] * gnn
        if uniform:
            if hist0 is None:
                hist0 = pair_histogram(nanocrystal.positions, group, n_groups=len(rep), bin_width=bin_width)
            hist = _scaled(hist0, 1.0 + strain[k, 0])
        else:
            pos = nanocrystal.positions + rel * strain[k, nanocrystal.facet][:, None]
            hist = pair_histogram(pos, group, n_groups=len(rep), bin_width=bin_width)
        out[k] = grouped_intensity(hist, gel, gmsd, s, reflections=reflections)
        if progress is not None:
            progress(k + 1, len(delays))
    return out


def _scaled(hist, factor: float):
    """The histogram of the same model uniformly expanded by ``factor``."""
    from dataclasses import replace

    return replace(hist, mean_r=hist.mean_r * factor, bin_width=hist.bin_width * factor)
