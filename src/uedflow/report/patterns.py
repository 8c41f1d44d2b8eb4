"""Figures of the reduced data and of the validation: differential pattern (Figure S7),
radial profile with indexed peaks and background, and recovered vs true parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from uedflow.report.figures import labels_for, ring_colors
from uedflow.report.style import new_figure, paper_style, robust_ylim
from uedflow.report.tables import truth_rows

__all__ = ["figure_diff_pattern", "figure_profile", "figure_truth", "fitted_peaks", "late_window"]


def figure_diff_pattern(reduced: Sequence[xr.Dataset], *, labels: Sequence[str] | None = None) -> Figure:
    """Paper Figure S7: mean pattern after time zero minus mean before, one panel per dataset.

    Masked pixels (``mask == 0``) are blank; the colour scale is symmetric at the
    99.5th percentile of |ΔI| over valid pixels (blue: intensity lost, red: gained).
    """
    names = labels_for(reduced, labels)
    with paper_style():
        fig, axes = new_figure(1, len(reduced), width_in=3.0, height_in=2.7)
        for ax, ds, name in zip(axes[0], reduced, names, strict=True):
            img = np.asarray(ds.diff_pattern.values, float)
            valid = ds.mask.values.astype(bool) & np.isfinite(img) if "mask" in ds else np.isfinite(img)
            shown = np.where(valid, img, np.nan)
            vmax = float(np.nanpercentile(np.abs(shown), 99.5)) if valid.any() else 1.0
            im = ax.imshow(shown, cmap="RdBu_r", vmin=-vmax, vmax=vmax, origin="upper", interpolation="nearest",
                           gid="diff_pattern")
            ax.set_title(name)
            ax.set_xlabel("Column (px)")
            ax.set_ylabel("Row (px)")
            fig.colorbar(im, ax=ax, shrink=0.85, label=r"$\Delta I$ (after − before $t_0$, normalised)")
    return fig


def late_window(ds: xr.Dataset, window_ps: Sequence[float] | None = None) -> np.ndarray:
    """Boolean mask over ``ds.delay`` of the quasi-equilibrium window (else the last quarter of delays)."""
    t = ds.delay.values
    if window_ps is not None:
        sel = (t >= window_ps[0]) & (t <= window_ps[-1])
        if sel.any():
            return sel
    return t >= np.quantile(t[t > 0], 0.75) if (t > 0).any() else t >= t.max()


def _stored_background(reduced: xr.Dataset, dynamics: xr.Dataset | None) -> np.ndarray | None:
    """A background stored by the analysis (or reduction) on the reduced s grid, mean before time zero."""
    for ds in (dynamics, reduced):
        if ds is None:
            continue
        for name in ("fit_background", "background_reference", "reference_background", "background"):
            if name in ds and "s" in ds[name].dims:
                bg = ds[name]
                if "delay" in bg.dims:
                    bg = bg.where(bg.delay < 0, drop=True).mean("delay")
                return bg.interp(s=reduced.s.values).values
    return None


def fitted_peaks(dynamics: xr.Dataset, s: np.ndarray) -> np.ndarray:
    """Sum of the fitted Bragg peaks before time zero on the grid ``s`` [Å⁻¹].

    Each peak is the line shape of the analysis (``peak_shape``; pseudo-Voigt with
    its fitted mixing ``eta`` when stored) with the mean area, centre and FWHM of
    its fits at delays < 0 (flagged fits excluded).
    """
    from uedflow.peaks.lineshapes import pseudo_voigt

    shape = str(dynamics.attrs.get("peak_shape", "pseudo-voigt")).lower()
    default_eta = {"gaussian": 0.0, "lorentzian": 1.0}.get(shape, 0.5)
    before = dynamics.delay.values < 0
    good = (dynamics.fit_flag.values == 0) if "fit_flag" in dynamics else np.ones(dynamics.position.shape, bool)
    total = np.zeros_like(s, dtype=float)
    for i in range(dynamics.sizes["peak"]):
        sel = before & good[i]
        if not sel.any():
            continue
        area, center, fwhm = (float(np.nanmean(dynamics[v].values[i, sel])) for v in ("area", "position", "fwhm"))
        eta = float(dynamics.eta.values[i]) if "eta" in dynamics and shape.startswith("pseudo") else default_eta
        if all(np.isfinite([area, center, fwhm, eta])):
            total += pseudo_voigt(s, area, center, fwhm, eta)
    return total


def figure_profile(reduced: xr.Dataset, dynamics: xr.Dataset | None = None, *, label: str | None = None) -> Figure:
    """Radial profile before time zero with indexed peaks and fitted background (a), and ΔI(s) late (b).

    (a) ``reference`` ± ``reference_sigma``; vertical ticks at each fitted peak's
    s₀ labelled (hkl); the fitted peaks (:func:`fitted_peaks`) and the
    background: the one the analysis stored, else the data minus the fitted peaks.
    (b) ``differential`` averaged over the quasi-equilibrium window, with its 1σ band.
    """
    name = label or labels_for([reduced], None)[0]
    s = reduced.s.values
    window = np.ravel(dynamics.attrs["qe_window_ps"]) if dynamics is not None and "qe_window_ps" in dynamics.attrs \
        else None
    late = late_window(reduced, window)
    with paper_style():
        fig, axes = new_figure(2, 1, width_in=6.4, height_in=2.2, sharex=True)
        ax_a, ax_b = axes[0][0], axes[1][0]
        ref = reduced.reference.values
        ax_a.plot(s, ref, "-", color="k", lw=1.0, label=r"$I(s)$, $t < t_0$", gid="reference")
        if "reference_sigma" in reduced:
            sig = reduced.reference_sigma.values
            ax_a.fill_between(s, ref - sig, ref + sig, color="0.6", alpha=0.5, lw=0)
        bg = _stored_background(reduced, dynamics)
        if bg is not None:
            ax_a.plot(s, bg, "--", color="#c8322d", lw=1.0, label="fitted background", gid="background")
        if dynamics is not None and {"area", "position", "fwhm"} <= set(dynamics.data_vars):
            peaks = fitted_peaks(dynamics, s)
            if bg is None:
                ax_a.plot(s, ref - peaks, "--", color="#c8322d", lw=1.0, label="background (data − fitted peaks)",
                          gid="background")
            ax_a.plot(s, peaks + (bg if bg is not None else 0.0), "-", color="#2a9d4b", lw=0.8, alpha=0.8,
                      label="fitted peaks" + (" + background" if bg is not None else ""), gid="peaks")
        if dynamics is not None:
            colors = ring_colors([dynamics])
            top = np.nanmax(ref)
            for h, s0 in zip(dynamics.hkl.values, dynamics.s0.values, strict=True):
                ax_a.axvline(s0, color=colors[str(h)], lw=0.8, ls=":", gid=f"peak:{h}")
                ax_a.text(s0, top * 1.02, f"({h})", rotation=90, ha="center", va="bottom", fontsize=6.5,
                          color=colors[str(h)])
            ax_a.set_ylim(top=top * 1.25)
        ax_a.set_ylabel("Intensity (normalised)")
        ax_a.set_title(name)
        ax_a.legend(loc="center right")
        diff = reduced.differential.values[late].mean(axis=0)
        ax_b.plot(s, diff, "-", color="#1f5fbf", lw=1.0, gid="differential",
                  label=rf"$\Delta I(s)$, {reduced.delay.values[late].min():g}–{reduced.delay.values[late].max():g} ps")
        if "intensity_sigma" in reduced:
            err = np.sqrt((reduced.intensity_sigma.values[late] ** 2).sum(axis=0)) / late.sum()
            ax_b.fill_between(s, diff - err, diff + err, color="#1f5fbf", alpha=0.3, lw=0)
        ax_b.axhline(0.0, color="0.6", lw=0.6)
        ax_b.set_xlabel(r"$s = 1/d$ (Å$^{-1}$)")
        ax_b.set_ylabel(r"$\Delta I$ (normalised)")
        ax_b.legend(loc="best")
    return fig


def figure_truth(datasets: Sequence[xr.Dataset], truths: Sequence[dict[str, Any]], *,
                 labels: Sequence[str] | None = None) -> Figure:
    """Recovered vs true (virtual experiment): τ (a) and amplitude ratio fitted/true (b), 1σ error bars.

    Parameters
    ----------
    datasets : sequence of xarray.Dataset
        Dynamics of simulated experiments.
    truths : sequence of dict
        Their ``truth.json`` contents, in the same order.
    """
    names = labels_for(datasets, labels)
    markers = {"strain": "s", "msd": "o", "width": "^"}
    obs_label = {"strain": "strain", "msd": r"$\Delta\langle u^2\rangle$", "width": "width"}
    with paper_style():
        fig, axes = new_figure(1, 2, width_in=3.3, height_in=2.7)
        ax_a, ax_b = axes[0]
        lo, hi = np.inf, -np.inf
        taus, ratios = [], []
        for k, (ds, truth, name) in enumerate(zip(datasets, truths, names, strict=True)):
            rows = truth_rows(ds, truth)
            color = f"C{k}"
            for obs, m in markers.items():
                tau = [r for r in rows if r["observable"] == obs and r["parameter"] == "tau_ps"]
                amp = [r for r in rows if r["observable"] == obs and r["parameter"] == "amplitude"]
                if tau:
                    x = np.array([r["true"] for r in tau])
                    taus.append([r["fitted"] for r in tau])
                    ax_a.errorbar(x, taus[-1], yerr=[r["err"] for r in tau], fmt=m, color=color,
                                  mfc="none" if obs == "strain" else color, label=f"{name}: {obs_label[obs]}",
                                  gid=f"tau:{k}:{obs}")
                    lo, hi = min(lo, x.min()), max(hi, x.max())
                if amp:
                    ratios.append([r["fitted"] / r["true"] for r in amp])
                    ax_b.errorbar(np.arange(len(amp)) + 0.1 * k, ratios[-1],
                                  yerr=[r["err"] / abs(r["true"]) for r in amp], fmt=m, color=color,
                                  mfc="none" if obs == "strain" else color, gid=f"amp:{k}:{obs}")
                    if k == 0 and obs == "msd":
                        ax_b.set_xticks(np.arange(len(amp)), [f"({r['hkl']})" for r in amp],
                                        rotation=60 if len(amp) > 6 else 0)
        if np.isfinite(lo):
            span = np.array([lo * 0.8, hi * 1.2])
            ax_a.plot(span, span, "-", color="0.5", lw=0.8, label="fitted = true", gid="identity")
        ax_a.set_xlabel(r"True $\tau$ (ps)")
        ax_a.set_ylabel(r"Fitted $\tau$ (ps)")
        robust_ylim(ax_a, taus, q=(5.0, 95.0))
        robust_ylim(ax_b, ratios, q=(5.0, 95.0))
        fig.legend(*ax_a.get_legend_handles_labels(), loc="outside lower center", ncol=3, fontsize=6)
        ax_b.axhline(1.0, color="0.5", lw=0.8)
        ax_b.set_xlabel("Bragg peak")
        ax_b.set_ylabel("Fitted / true amplitude")
    return fig
