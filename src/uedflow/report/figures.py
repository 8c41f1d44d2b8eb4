"""Figures of the lattice dynamics in the paper's layout (Figures 3, 4 and S8).

Every function takes ``uedflow-dynamics`` datasets (docs/formats.md) and returns
a :class:`matplotlib.figure.Figure`; nothing is computed here that is not in
the files, so what is plotted is what was fitted. Data points carry their 1σ
error bars; lines are the stored kinetic fit curves (``<obs>_fit``). Points of
peak fits flagged as failed (``fit_flag != 0``) are drawn hollow in grey, never
dropped silently.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from uedflow.crystal import FAMILIES
from uedflow.report.style import (
    FAMILY_MARKERS,
    new_figure,
    paper_style,
    peak_colors,
    robust_ylim,
    sample_colors,
    sample_label,
)

__all__ = [
    "MSD_LABEL",
    "figure_kinetics",
    "figure_quasi_equilibrium",
    "figure_texture",
    "figure_widths",
    "labels_for",
    "peak_mean",
    "peak_order",
    "ring_colors",
    "shown_peaks",
]

MSD_LABEL = r"$\Delta\langle u^2\rangle_s$ (Å$^2$)"
DELAY_LABEL = "Pump–probe delay (ps)"
#: Width changes are plotted in units of 1e-3 Å⁻¹.
WIDTH_SCALE = 1e3


def labels_for(datasets: Sequence[xr.Dataset], labels: Sequence[str] | None) -> list[str]:
    """Display labels: the given ones, else each dataset's sample label."""
    if labels is not None:
        if len(labels) != len(datasets):
            raise ValueError(f"got {len(labels)} labels for {len(datasets)} datasets; give one label per dataset")
        return list(labels)
    return [sample_label(ds, f"sample {i + 1}") for i, ds in enumerate(datasets)]


def peak_order(datasets: Sequence[xr.Dataset]) -> list[str]:
    """hkl labels of all datasets, ordered by s0 (first occurrence wins)."""
    s_of: dict[str, float] = {}
    for ds in datasets:
        for h, s in zip(ds.hkl.values, ds.s0.values, strict=True):
            s_of.setdefault(str(h), float(s))
    return sorted(s_of, key=s_of.__getitem__)


def ring_colors(datasets: Sequence[xr.Dataset], peaks: Sequence[str] | None = None) -> dict[str, str]:
    """Colour per hkl label, the same in every figure of a report.

    The rings drawn in Figure 3 (:func:`shown_peaks` with ``peaks``) take the
    first colours of the cycle, so no two of them share one; the other rings
    follow in order of s0 [Å⁻¹].
    """
    order = peak_order(datasets)
    shown = {str(ds.hkl.values[i]) for ds in datasets for i in shown_peaks(ds, peaks)}
    return peak_colors([h for h in order if h in shown] + order)


def peak_mean(ds: xr.Dataset, var: str) -> np.ndarray:
    """Inverse-variance weighted mean of ``var`` over peaks at each delay (flagged fits excluded)."""
    val, err = ds[var].values, ds[f"{var}_err"].values
    good = (ds.fit_flag.values == 0) if "fit_flag" in ds else np.ones(val.shape, bool)
    w = np.where(good & np.isfinite(val) & np.isfinite(err) & (err > 0), 1.0 / np.where(err > 0, err, 1.0) ** 2, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(w.sum(axis=0) > 0, (w * np.nan_to_num(val)).sum(axis=0) / w.sum(axis=0), np.nan)


def _peak_name(ds: xr.Dataset, i: int) -> str:
    hkl, fam = str(ds.hkl.values[i]), str(ds.family.values[i])
    return f"({hkl})" if fam.startswith("(") else f"({hkl}) {fam}"


def _trace(ax: Axes, ds: xr.Dataset, i: int, values: np.ndarray, errors: np.ndarray, fit: np.ndarray | None,
           color: str) -> None:
    """Data with error bars (good fits filled, flagged hollow grey) and the fit curve of peak ``i``."""
    t = ds.delay.values
    good = ds.fit_flag.values[i] == 0 if "fit_flag" in ds else np.ones(t.size, bool)
    marker = FAMILY_MARKERS.get(str(ds.family.values[i]), "D")
    ax.errorbar(t[good], values[good], yerr=errors[good], fmt=marker, color=color, ms=3, lw=0.8,
                label=_peak_name(ds, i), gid=f"data:{ds.hkl.values[i]}")
    if (~good).any():
        ax.plot(t[~good], values[~good], marker, mfc="none", color="0.55", ms=3, gid=f"flagged:{ds.hkl.values[i]}")
    if fit is not None:
        ax.plot(t, fit, "-", color=color, lw=1.1, gid=f"fit:{ds.hkl.values[i]}")


def _panel_width(datasets: Sequence[xr.Dataset]) -> float:
    """Panel width [in]: 3.2 per column, at least 5 in overall so the legend below fits."""
    return max(3.2, 5.0 / len(datasets))


def _figure_legend(fig: Figure, axes: Sequence[Axes], n_columns: int) -> None:
    """One legend below all panels, each label once (peaks differ between samples)."""
    seen: dict[str, object] = {}
    for ax in axes:
        for handle, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(lab, handle)
    fig.legend(list(seen.values()), list(seen), loc="outside lower center", ncol=min(len(seen), 3 * n_columns))


def shown_peaks(ds: xr.Dataset, peaks: Sequence[str] | None = None) -> list[int]:
    """Indices of the peaks to draw, ordered by s0.

    ``peaks`` (hkl labels) selects them explicitly; by default the rings of the
    principal direction families (⟨100⟩, ⟨110⟩, ⟨111⟩), as in the paper's
    Figure 3, or every ring when none of those was fitted.
    """
    order = [int(i) for i in np.argsort(ds.s0.values)]
    hkl = [str(h) for h in ds.hkl.values]
    if peaks is not None:
        return [i for i in order if hkl[i] in set(peaks)]
    principal = [i for i in order if str(ds.family.values[i]) in FAMILIES]
    return principal or order


def figure_kinetics(datasets: Sequence[xr.Dataset], *, labels: Sequence[str] | None = None,
                    peaks: Sequence[str] | None = None) -> Figure:
    """Paper Figure 3: (a) normalised peak positions s/s₀ and (b) Δ⟨u²⟩_s vs delay, per peak.

    One column per dataset. In (a) the line is 1 − ε_fit (ε = −Δs/s, single
    exponential with IRF); in (b) the line is the Δ⟨u²⟩ fit and the black dashed
    line the average of Δ⟨u²⟩_s over all peaks (drawn or not) at each delay.

    Parameters
    ----------
    datasets : sequence of xarray.Dataset
        ``uedflow-dynamics`` datasets (e.g. individual and attached dots).
    labels : sequence of str, optional
        Column titles; default the datasets' sample labels.
    peaks : sequence of str, optional
        hkl labels to draw; default see :func:`shown_peaks`.
    """
    names = labels_for(datasets, labels)
    colors = ring_colors(datasets, peaks)
    with paper_style():
        fig, axes = new_figure(2, len(datasets), width_in=_panel_width(datasets), height_in=2.3, sharex=True,
                               sharey="row")
        for col, (ds, name) in enumerate(zip(datasets, names, strict=True)):
            ax_a, ax_b = axes[0][col], axes[1][col]
            s0 = ds.s0.values[:, None]
            for i in shown_peaks(ds, peaks):
                c = colors[str(ds.hkl.values[i])]
                _trace(ax_a, ds, i, ds.position.values[i] / s0[i], ds.position_err.values[i] / s0[i],
                       1.0 - ds.strain_fit.values[i] if "strain_fit" in ds else None, c)
                _trace(ax_b, ds, i, ds.msd.values[i], ds.msd_err.values[i],
                       ds.msd_fit.values[i] if "msd_fit" in ds else None, c)
            ax_b.plot(ds.delay.values, peak_mean(ds, "msd"), "--", color="k", lw=1.2, label="mean over peaks",
                      gid="mean")
            robust_ylim(ax_a, [ds.position.values / s0] + ([1.0 - ds.strain_fit.values] if "strain_fit" in ds else []))
            robust_ylim(ax_b, [ds.msd.values] + ([ds.msd_fit.values] if "msd_fit" in ds else []))
            ax_a.set_title(name)
            ax_a.axhline(1.0, color="0.7", lw=0.6, zorder=0)
            ax_b.axhline(0.0, color="0.7", lw=0.6, zorder=0)
            ax_b.set_xlabel(DELAY_LABEL)
        axes[0][0].set_ylabel(r"Peak position $s/s_0$")
        axes[1][0].set_ylabel(MSD_LABEL)
        _figure_legend(fig, [ax for row in axes for ax in row], len(datasets))
        for j, row in enumerate(axes):
            row[0].text(-0.22, 1.0, "ab"[j], transform=row[0].transAxes, fontweight="bold", va="top")
    return fig


def figure_quasi_equilibrium(datasets: Sequence[xr.Dataset], *, labels: Sequence[str] | None = None,
                             observable: str = "msd") -> Figure:
    """Paper Figure 4: (a) quasi-equilibrium Δ⟨u²⟩_s and (b) rise time τ per peak, one series per dataset.

    (a) is ``msd_qe ± msd_qe_err`` (mean over the quasi-equilibrium window);
    (b) is ``tau_ps ± tau_err_ps`` of the single-exponential fit of
    ``observable`` (default Δ⟨u²⟩, i.e. the peak-intensity dynamics as in the
    paper). Peaks are ordered by s; error bars are 1σ. Unsuccessful kinetic fits
    are drawn hollow.
    """
    names = labels_for(datasets, labels)
    order = peak_order(datasets)
    x_of = {h: k for k, h in enumerate(order)}
    cols = sample_colors(len(datasets))
    n = len(datasets)
    with paper_style():
        fig, axes = new_figure(1, 2, width_in=3.3, height_in=2.5)
        ax_a, ax_b = axes[0]
        for k, (ds, name, c) in enumerate(zip(datasets, names, cols, strict=True)):
            x = np.array([x_of[str(h)] for h in ds.hkl.values]) + 0.12 * (k - (n - 1) / 2)
            ax_a.errorbar(x, ds.msd_qe.values, yerr=ds.msd_qe_err.values, fmt="o", color=c, label=name,
                          gid=f"msd_qe:{k}")
            sel = {"observable": observable}
            tau, err = ds.tau_ps.sel(sel).values, ds.tau_err_ps.sel(sel).values
            ok = ds.fit_success.sel(sel).values.astype(bool) if "fit_success" in ds else np.ones(tau.size, bool)
            ax_b.errorbar(x[ok], tau[ok], yerr=err[ok], fmt="o", color=c, label=name, gid=f"tau:{k}")
            if (~ok).any():
                ax_b.errorbar(x[~ok], tau[~ok], yerr=err[~ok], fmt="o", mfc="none", color=c, gid=f"tau_failed:{k}")
            for ax in (ax_a, ax_b):  # guide to the eye, as the paper's dashed curves
                ax.plot(np.sort(x), (ds.msd_qe.values if ax is ax_a else tau)[np.argsort(x)], "--", color=c, lw=0.7,
                        alpha=0.6)
        window = datasets[0].attrs.get("qe_window_ps", (40.0, 60.0))
        w = np.ravel(window)
        ax_a.set_ylabel(MSD_LABEL + f", {w[0]:g}–{w[-1]:g} ps")
        ax_b.set_ylabel(r"Time constant $\tau$ (ps)")
        robust_ylim(ax_a, [ds.msd_qe.values for ds in datasets], q=(5.0, 95.0))
        robust_ylim(ax_b, [ds.tau_ps.sel(observable=observable).values for ds in datasets], q=(5.0, 95.0))
        for ax, tag in ((ax_a, "a"), (ax_b, "b")):
            ax.set_xticks(range(len(order)), [f"({h})" for h in order], rotation=60 if len(order) > 6 else 0)
            ax.set_xlabel("Bragg peak")
            ax.text(-0.2, 1.0, tag, transform=ax.transAxes, fontweight="bold", va="top")
        ax_a.legend(loc="best")
    return fig


def figure_widths(datasets: Sequence[xr.Dataset], *, labels: Sequence[str] | None = None) -> Figure:
    """Paper Figure S8: change of peak FWHM vs delay per peak, with its exponential fit; one column per dataset."""
    names = labels_for(datasets, labels)
    colors = ring_colors(datasets)
    with paper_style():
        fig, axes = new_figure(1, len(datasets), width_in=_panel_width(datasets), height_in=2.5, sharey=True)
        for col, (ds, name) in enumerate(zip(datasets, names, strict=True)):
            ax = axes[0][col]
            for i in np.argsort(ds.s0.values):
                fit = ds.width_fit.values[i] * WIDTH_SCALE if "width_fit" in ds else None
                _trace(ax, ds, i, ds.width.values[i] * WIDTH_SCALE, ds.width_err.values[i] * WIDTH_SCALE, fit,
                       colors[str(ds.hkl.values[i])])
            ax.axhline(0.0, color="0.7", lw=0.6, zorder=0)
            robust_ylim(ax, [ds.width.values * WIDTH_SCALE])
            ax.set_title(name)
            ax.set_xlabel(DELAY_LABEL)
        axes[0][0].set_ylabel(r"$\Delta$FWHM ($10^{-3}$ Å$^{-1}$)")
        _figure_legend(fig, axes[0], len(datasets))
    return fig


def figure_texture(datasets: Sequence[xr.Dataset], *, labels: Sequence[str] | None = None,
                   axis: str = "100") -> Figure:
    """Paper Figure S6: ring intensities before time zero relative to a random powder, per sample.

    Each point is a ring's texture index (measured intensity ratio to (200) over the random-powder
    ratio, 1 = random, 1σ error bars), from :func:`uedflow.physics.texture.texture_from_dynamics`;
    the dashed lines are the fitted March–Dollase fibre texture with ⟨``axis``⟩ along the beam, whose
    r is in the legend. A sample whose check cannot run (no (200) ring, too few rings) is named in
    the panel instead.
    """
    from uedflow.errors import UedflowError
    from uedflow.physics.texture import texture_from_dynamics

    names = labels_for(datasets, labels)
    order = peak_order(datasets)
    x_of = {h: k for k, h in enumerate(order)}
    cols, n = sample_colors(len(datasets)), len(datasets)
    with paper_style():
        fig, axes = new_figure(1, 1, width_in=3.6, height_in=2.5)
        ax = axes[0][0]
        skipped = []
        for k, (ds, name, c) in enumerate(zip(datasets, names, cols, strict=True)):
            try:
                res = texture_from_dynamics(ds, axis=axis)
            except UedflowError as exc:
                skipped.append(f"{name}: {exc}")
                continue
            x = np.array([x_of[h] for h in res.labels]) + 0.12 * (k - (n - 1) / 2)
            err = res.measured_ratio_err / res.random_ratio
            ax.errorbar(x, res.texture_index, yerr=err, fmt="o", color=c, gid=f"texture:{k}",
                        label=f"{name}: r = {res.r:.2f} ± {res.r_err:.2f}")
            ax.plot(x, res.fitted_ratio / res.random_ratio, "--", color=c, lw=0.8, gid=f"texture_fit:{k}")
        ax.axhline(1.0, color="0.6", lw=0.6, zorder=0)
        if skipped:
            ax.text(0.02, 0.02, "\n".join(skipped), transform=ax.transAxes, fontsize=6, va="bottom")
        ax.set_xticks(range(len(order)), [f"({h})" for h in order], rotation=60 if len(order) > 6 else 0)
        ax.set_xlabel("Bragg peak")
        ax.set_ylabel("Intensity / random powder\n(ratio to (200))")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", title=f"<{axis}> along the beam")
    return fig
