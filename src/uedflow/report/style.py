"""Paper-style figure defaults: sizes, fonts, colours per peak and per sample.

Figures are built on :class:`matplotlib.figure.Figure` directly (no pyplot, no
global state), so building them is thread-safe and needs no display.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import matplotlib as mpl
import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = [
    "FAMILY_MARKERS",
    "PAPER_RC",
    "new_figure",
    "paper_style",
    "peak_colors",
    "robust_ylim",
    "sample_colors",
    "sample_label",
]

#: rcParams of the report figures (journal column widths, inward ticks, no top/right clutter).
PAPER_RC = {
    "font.size": 8.0,
    "axes.labelsize": 8.0,
    "axes.titlesize": 8.5,
    "legend.fontsize": 7.0,
    "xtick.labelsize": 7.0,
    "ytick.labelsize": 7.0,
    "xtick.direction": "in",
    "ytick.direction": "in",
    "xtick.top": True,
    "ytick.right": True,
    "axes.linewidth": 0.8,
    "lines.linewidth": 1.2,
    "lines.markersize": 3.5,
    "errorbar.capsize": 2.0,
    "legend.frameon": False,
    "savefig.dpi": 150,
    "figure.dpi": 110,
    "svg.fonttype": "none",
    "svg.hashsalt": "uedflow",
}

#: Marker per direction family (mixed reflections get a diamond).
FAMILY_MARKERS = {"<100>": "s", "<110>": "^", "<111>": "o"}

# Paper Figure 4: attached 90 K blue, individual 90 K red, attached 300 K green.
_SAMPLE_CYCLE = ("#1f5fbf", "#c8322d", "#2a9d4b", "#8c54b4", "#e08a1e", "#3b3b3b")
_PEAK_CYCLE = ("#e08a1e", "#1f5fbf", "#2a9d4b", "#c8322d", "#8c54b4", "#7f5539", "#d45fa8", "#555555", "#17a2b8",
               "#b5b82c", "#0b3d75", "#f28e8c", "#6bd18f", "#9a9a9a")


@contextlib.contextmanager
def paper_style() -> Iterator[None]:
    """Context in which figures are drawn with :data:`PAPER_RC`."""
    with mpl.rc_context(PAPER_RC):
        yield


def new_figure(nrows: int, ncols: int, *, width_in: float = 3.4, height_in: float = 2.4,
               sharex: bool | str = False, sharey: bool | str = False) -> tuple[Figure, list[list]]:
    """A Figure with an ``nrows × ncols`` grid; panel size ``width_in × height_in`` inches.

    Returns the figure and a 2D list of Axes (always 2D, even for one panel).
    """
    fig = Figure(figsize=(width_in * ncols, height_in * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=sharex, sharey=sharey)
    return fig, [list(row) for row in axes]


def peak_colors(labels: Sequence[str]) -> dict[str, str]:
    """Colour per hkl label, stable across figures (order of first appearance)."""
    out: dict[str, str] = {}
    for lab in labels:
        if lab not in out:
            out[lab] = _PEAK_CYCLE[len(out) % len(_PEAK_CYCLE)]
    return out


def sample_colors(n: int) -> list[str]:
    """``n`` sample colours, the first three as in the paper's Figure 4."""
    return [_SAMPLE_CYCLE[i % len(_SAMPLE_CYCLE)] for i in range(n)]


def sample_label(ds: xr.Dataset, fallback: str = "sample") -> str:
    """Display name of a stage dataset: its ``sample_label`` (else experiment name) and temperature."""
    name = str(ds.attrs.get("sample_label") or ds.attrs.get("experiment_name") or fallback)
    temp = ds.attrs.get("temperature_K")
    try:
        temp = float(temp)
    except (TypeError, ValueError):
        return name
    return name if f"{temp:.0f}K" in name.replace(" ", "") or temp != temp else f"{name}, {temp:.0f} K"


def robust_ylim(ax: Axes, values: Sequence[np.ndarray], *, q: tuple[float, float] = (2.0, 98.0),
                pad: float = 0.5) -> int:
    """Clip the y-range to the ``q`` percentiles of ``values`` padded by ``pad`` × span, if points fall outside.

    A single wild point (a failed or ill-determined fit) then cannot flatten the
    other curves; the count of off-scale points is written in the panel.
    Returns that count (0: limits left to autoscale).
    """
    v = np.concatenate([np.ravel(np.asarray(a, float)) for a in values]) if len(values) else np.array([])
    v = v[np.isfinite(v)]
    if v.size < 5:
        return 0
    lo, hi = np.percentile(v, q)
    span = (hi - lo) or abs(hi) or 1.0
    lo, hi = lo - pad * span, hi + pad * span
    n_out = int(((v < lo) | (v > hi)).sum())
    if n_out:
        ax.set_ylim(lo, hi)
        ax.text(0.99, 0.02, f"{n_out} point(s) off scale", transform=ax.transAxes, ha="right", va="bottom",
                fontsize=6, color="0.35", gid="offscale")
    return n_out
