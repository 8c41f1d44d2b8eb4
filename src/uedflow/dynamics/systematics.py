"""Systematic errors of the per-ring results, reported beside the statistical ones.

Each source is an alternative analysis whose difference from the nominal one is a systematic 1σ:

* the TDS-halo correction (:mod:`uedflow.dynamics.tds`): ``HALO_UNCERTAINTY`` (50 %) of the change
  the correction makes;
* the fit window: the fits repeated with windows ``WINDOW_VARIANT`` (1.4) times wider around each ring
  group (more background, more of the neighbours' tails), with the same halo correction, on the
  scan-mean profiles only; half the difference of the two results. (The other background model of
  :mod:`uedflow.peaks.background`, a global spline, is no fair alternative: under TDS halos it misreads
  Δ⟨u²⟩ of the high-s rings by factors, and its difference would say nothing about the nominal fit.)

The parts add in quadrature; every trace point, kinetic amplitude and τ, and quasi-equilibrium value
gets one (``<obs>_sys``, ``amplitude_sys``, ``tau_sys_ps``, ``<obs>_qe_sys`` in dynamics.h5).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from uedflow.dynamics.summary import window_average
from uedflow.dynamics.traces import OBSERVABLES, Traces

__all__ = ["difference_sys", "combine_sys", "no_sys", "WINDOW_VARIANT"]

#: Fit-window width of the alternative analysis, relative to the nominal one.
WINDOW_VARIANT = 1.4


def no_sys(n_rings: int, n_delay: int) -> dict[str, Any]:
    """All-zero systematic errors (the layout of :func:`difference_sys`)."""
    shape = (n_rings, len(OBSERVABLES))
    return {"traces": {o: np.zeros((n_rings, n_delay)) for o in OBSERVABLES},
            "qe": {o: np.zeros(n_rings) for o in OBSERVABLES},
            "amplitude": np.zeros(shape), "tau_ps": np.zeros(shape)}


def difference_sys(traces: Traces, fits: dict, labels: tuple[str, ...], other: Traces,
                   other_labels: tuple[str, ...], *, factor: float, window_ps: tuple[float, float]) -> dict[str, Any]:
    """``factor`` × |nominal − alternative| of every trace point, quasi-equilibrium value, kinetic amplitude and τ.

    The kinetic parameters of the alternative are the nominal fit's first-order response to the change of
    its trace (:meth:`uedflow.dynamics.kinetics.KineticsFit.shift`), not a refit. Rings are matched by label;
    a ring the alternative lacks (or could not fit) gets 0.
    """
    out = no_sys(len(labels), traces.delay.size)
    rows = [(i, other_labels.index(lab)) for i, lab in enumerate(labels) if lab in other_labels]
    if not rows:
        return out
    mine, theirs = (np.array(v) for v in zip(*rows, strict=True))

    def diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return factor * np.abs(np.nan_to_num(a[mine] - b[theirs]))

    for j, obs in enumerate(OBSERVABLES):
        out["traces"][obs][mine] = diff(traces.values[obs], other.values[obs])
        qe = [window_average(t.delay, t.values[obs], t.errors[obs], t.reference_err[obs], window_ps=window_ps)[0]
              for t in (traces, other)]
        out["qe"][obs][mine] = diff(*qe)
        if fits.get(obs) is None:
            continue
        for i, k in zip(mine, theirs, strict=True):
            fit = fits[obs][i]
            dp = fit.shift(traces.delay, other.values[obs][k] - traces.values[obs][i], traces.errors[obs][i])
            for key in ("amplitude", "tau_ps"):
                out[key][i, j] = factor * abs(np.nan_to_num(dp[fit.param_names.index(key)]))
    return out


def combine_sys(parts: list[dict[str, Any]], n_rings: int, n_delay: int) -> dict[str, Any]:
    """The parts added in quadrature."""
    out = no_sys(n_rings, n_delay)
    for p in parts:
        for key in ("amplitude", "tau_ps"):
            out[key] = np.hypot(out[key], p[key])
        for key in ("traces", "qe"):
            for obs in OBSERVABLES:
                out[key][obs] = np.hypot(out[key][obs], p[key][obs])
    return out
