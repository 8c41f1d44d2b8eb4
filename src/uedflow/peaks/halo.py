"""How the peak fits answer a TDS halo: the linear response of every ring's area and centre.

A one-phonon TDS halo under a ring (:mod:`uedflow.physics.tds`) is partly taken by the peak fit for
the ring (and its neighbours), partly by the background. :func:`halo_response` measures it with the
fitting procedure itself: the reference model profile is refitted once as is and once per reported
ring with that ring's halo added (2 % of its area); the changes of the fitted areas and centres per
unit halo amount are the response matrices R_A, R_c (reported ring × halo ring). A halo of amounts H
then moves the fitted areas by R_A·H and the centres by R_c·H (:mod:`uedflow.dynamics.tds`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from uedflow.physics.tds import debye_radius_s, halo_profile

__all__ = ["halo_response"]

#: Halo added per reported ring, as a fraction of the ring's area (small: the response is linear).
_PROBE = 0.02


def halo_response(s: np.ndarray, base: np.ndarray, sigma: np.ndarray, reported: list[Any], fit_of: dict[str, Any],
                  refit: Callable[[np.ndarray, np.ndarray], dict[str, tuple[np.ndarray, np.ndarray]]], *,
                  n_atoms_per_cell: int, cell_volume_angstrom3: float) -> tuple[np.ndarray, np.ndarray]:
    """(R_A, R_c), each (P, P): d(area_i)/dH_j [1] and d(centre_i)/dH_j [Å⁻¹ per unit area] (module docstring).

    Parameters
    ----------
    s : (N,) ndarray
        [Å⁻¹].
    base, sigma : (N,) ndarray
        The fitted reference profile (rings and background) and its 1σ.
    reported : list of Ring
        The P reported rings.
    fit_of : dict
        Ring label -> its reference PeakFit (area, centre, FWHM).
    refit : callable
        ``refit(profiles (B, N), sigma (B, N))`` -> {label: (area (B,), centre (B,))}: the series' own fit.
    n_atoms_per_cell, cell_volume_angstrom3
        For the Debye radius.
    """
    s_debye = debye_radius_s(n_atoms_per_cell, cell_volume_angstrom3)
    rows, amounts = [base], []
    for r in reported:
        f = fit_of[r.label]
        area, center, fwhm = (float(f.value(p, r.label)[0]) for p in ("area", "center", "fwhm"))
        shape = halo_profile(s, center, fwhm, s_debye)
        inside = float(np.trapezoid(shape, s))
        amount = _PROBE * area / inside if inside > 0 and np.isfinite(area) and area > 0 else 0.0
        amounts.append(amount)
        rows.append(base + amount * shape)
    prof = np.array(rows)
    out = refit(prof, np.broadcast_to(sigma, prof.shape).copy())
    amounts_arr = np.array(amounts)
    safe = np.where(amounts_arr > 0, amounts_arr, np.inf)
    r_area = np.array([(out[r.label][0][1:] - out[r.label][0][0]) / safe for r in reported])
    r_center = np.array([(out[r.label][1][1:] - out[r.label][1][0]) / safe for r in reported])
    return r_area, r_center
