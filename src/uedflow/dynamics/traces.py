"""Traces: per-peak observables relative to the mean before time zero, with propagated errors.

For a ring at reference position s₀ (mean before time zero), with centre s(t),
FWHM w(t) and integrated intensity I(t):

.. math::

    \\varepsilon = -\\frac{s - s_0}{s_0}, \\quad \\Delta w = w - w_0, \\quad
    \\frac{I}{I_0}, \\quad \\Delta\\langle u^2\\rangle_s = -\\frac{\\ln(I/I_0)}{4\\pi^2 s_0^2}

Point errors propagate the per-delay 1σ only; the error of the reference
(common to every delay of a trace, a constant offset) is reported separately
as ``reference_err`` and absorbed in the kinetic fits by a free baseline.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from uedflow.errors import InputError

__all__ = ["OBSERVABLES", "Traces", "compute_traces", "weighted_mean", "family_average"]

#: Observables of every ring, in file order (docs/formats.md).
OBSERVABLES = ("strain", "msd", "width", "intensity")
_FOUR_PI2 = 4.0 * np.pi**2
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Traces:
    """Observables of P rings at D delays.

    Attributes
    ----------
    delay : (D,) ndarray
        Delays [ps].
    s0, s0_err, fwhm0, area0 : (P,) ndarray
        Reference position [Å⁻¹] (and its 1σ), FWHM [Å⁻¹] and area before time zero.
    values, errors : dict of str to (P, D) ndarray
        ``strain`` (1), ``msd`` [Å²], ``width`` [Å⁻¹], ``intensity`` (I/I0); NaN where the fit was flagged.
    reference_err : dict of str to (P,) ndarray
        1σ of the common offset each trace inherits from its reference.
    """

    delay: np.ndarray
    s0: np.ndarray
    s0_err: np.ndarray
    fwhm0: np.ndarray
    area0: np.ndarray
    values: dict[str, np.ndarray]
    errors: dict[str, np.ndarray]
    reference_err: dict[str, np.ndarray]

    def summary(self) -> dict[str, Any]:
        """JSON-safe summary (reference values and NaN counts)."""
        return {
            "n_peaks": int(self.s0.size),
            "n_delays": int(self.delay.size),
            "s0": self.s0.tolist(),
            "n_nan": {k: int(np.isnan(v).sum()) for k, v in self.values.items()},
        }


def weighted_mean(values: np.ndarray, errors: np.ndarray, *, axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """Inverse-variance weighted mean and its 1σ, ignoring NaN; the error is
    inflated by √χ²_red when the points scatter more than their errors say.

    Examples
    --------
    >>> m, e = weighted_mean(np.array([1.0, 3.0]), np.array([1.0, 1.0]))
    >>> float(m), round(float(e), 4)
    (2.0, 1.0)
    """
    values, errors = np.broadcast_arrays(np.asarray(values, float), np.asarray(errors, float))
    ok = np.isfinite(values) & np.isfinite(errors) & (errors > 0)
    w = np.where(ok, 1.0 / np.where(ok, errors, 1.0) ** 2, 0.0)
    sw = w.sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(sw > 0, (w * np.where(ok, values, 0.0)).sum(axis=axis) / np.where(sw > 0, sw, 1.0), np.nan)
        n = ok.sum(axis=axis)
        resid = np.where(ok, values - np.expand_dims(mean, axis), 0.0)
        chi2_red = np.where(n > 1, (w * resid**2).sum(axis=axis) / np.maximum(n - 1, 1), 1.0)
        err = np.where(sw > 0, np.sqrt(1.0 / np.where(sw > 0, sw, 1.0) * np.maximum(chi2_red, 1.0)), np.nan)
    return mean, err


def compute_traces(
    delay: np.ndarray,
    position: np.ndarray,
    position_err: np.ndarray,
    fwhm: np.ndarray,
    fwhm_err: np.ndarray,
    area: np.ndarray,
    area_err: np.ndarray,
    *,
    flag: np.ndarray | None = None,
    reference_before_ps: float = 0.0,
    labels: Sequence[str] | None = None,
) -> Traces:
    """Observables relative to the mean of the delays before ``reference_before_ps``.

    Parameters
    ----------
    delay : (D,) ndarray
        Delays [ps].
    position, position_err, fwhm, fwhm_err, area, area_err : (P, D) ndarray
        Fitted peak parameters and 1σ (s and FWHM in Å⁻¹).
    flag : (P, D) ndarray, optional
        Non-zero marks a flagged fit; those points become NaN.
    reference_before_ps : float
        Delays strictly below this [ps] form the reference.
    labels : sequence of str, optional
        Ring labels (hkl) of the P rows, to name rings in warnings.

    Raises
    ------
    InputError
        No delay before ``reference_before_ps``, or no ring with a valid reference point
        (a single ring without one gets NaN traces).

    Examples
    --------
    >>> t = np.array([-1.0, 1.0])
    >>> tr = compute_traces(t, np.array([[0.5, 0.499]]), np.full((1, 2), 1e-4), np.full((1, 2), 0.02),
    ...                     np.full((1, 2), 1e-4), np.array([[1.0, 0.9]]), np.full((1, 2), 0.01))
    >>> round(float(tr.values["strain"][0, 1]), 6), round(float(tr.values["intensity"][0, 1]), 6)
    (0.002004, 0.9)
    """
    delay = np.asarray(delay, float)
    before = delay < reference_before_ps
    if not before.any():
        raise InputError(
            f"no delay before time zero ({reference_before_ps} ps): the earliest delay is {delay.min():g} ps; "
            "traces are relative to the mean before time zero, so measure some negative delays"
        )
    arrays = [np.array(a, float, copy=True) for a in (position, position_err, fwhm, fwhm_err, area, area_err)]
    if flag is not None:
        bad = np.asarray(flag) != 0
        for a in arrays:
            a[bad] = np.nan
    pos, pos_e, fw, fw_e, ar, ar_e = arrays
    ref = {}
    for name, v, e in (("s", pos, pos_e), ("w", fw, fw_e), ("a", ar, ar_e)):
        ref[name] = weighted_mean(v[:, before], e[:, before], axis=1)
    s0, s0_err = ref["s"]
    if not np.any(np.isfinite(s0)):
        raise InputError("no ring has a valid fit before time zero; cannot form a reference for any trace")
    if not np.all(np.isfinite(s0)):
        rows = np.flatnonzero(~np.isfinite(s0)).tolist()
        names = [f"({labels[i]})" for i in rows] if labels is not None else [f"row {i}" for i in rows]
        log.warning("rings %s have no valid fit before time zero (every fit flagged): their traces are NaN",
                    ", ".join(names))
    w0, w0_err = ref["w"]
    a0, a0_err = ref["a"]
    s0c, a0c = s0[:, None], a0[:, None]
    ratio = ar / a0c
    with np.errstate(invalid="ignore", divide="ignore"):
        log_ratio = np.where(ratio > 0, np.log(np.where(ratio > 0, ratio, 1.0)), np.nan)
    values = {
        "strain": s0c / pos - 1.0,  # -Δs/s = Δd/d0 exactly
        "msd": -log_ratio / (_FOUR_PI2 * s0c**2),
        "width": fw - w0[:, None],
        "intensity": ratio,
    }
    errors = {
        "strain": pos_e * s0c / pos**2,
        "msd": (ar_e / ar) / (_FOUR_PI2 * s0c**2),
        "width": fw_e,
        "intensity": ar_e / a0c,
    }
    reference_err = {
        "strain": s0_err / s0,
        "msd": (a0_err / a0) / (_FOUR_PI2 * s0**2),
        "width": w0_err,
        "intensity": a0_err / a0,
    }
    return Traces(delay, s0, s0_err, w0, a0, values, errors, reference_err)


def family_average(
    families: list[str] | tuple[str, ...], values: np.ndarray, errors: np.ndarray, *, names: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean over the rings of each direction family.

    Parameters
    ----------
    families : sequence of str
        Family of each of P rings.
    values, errors : (P, ...) ndarray
    names : tuple of str
        Families to report (rows of the output; NaN where a family has no ring).

    Returns
    -------
    mean, err : (len(names), ...) ndarray
    """
    fam = np.asarray(families)
    values = np.asarray(values, float)
    shape = (len(names),) + values.shape[1:]
    mean, err = np.full(shape, np.nan), np.full(shape, np.nan)
    for i, name in enumerate(names):
        rows = fam == name
        if rows.any():
            mean[i], err[i] = weighted_mean(values[rows], np.asarray(errors, float)[rows], axis=0)
    return mean, err
