"""The interactive explorer: one self-contained HTML file (data and JavaScript inline, no network).

The page draws the views of :mod:`uedflow.report.views` with ``explorer.js``, a few hundred lines of
plain canvas drawing: chosen over Plotly and Bokeh by measurement (benchmarks/bench_explore.py; the
numbers are in the commit that added it). It opens from a USB stick with no server.
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import xarray as xr

from uedflow.io.atomic import atomic_path
from uedflow.report.views import explorer_data

__all__ = ["render_explorer", "write_explorer", "load_stage_files", "EXPLORER_NAME"]

log = logging.getLogger(__name__)

#: File name of the explorer beside report.html.
EXPLORER_NAME = "explore.html"

_CSS = """
body{font:14px sans-serif;margin:1em auto;max-width:1240px;color:#222}h1{font-size:1.4em}h2{font-size:1.15em;
border-bottom:1px solid #ccc;margin-top:1.6em}canvas{border:1px solid #eee;max-width:100%}
.row{display:flex;flex-wrap:wrap;gap:8px}.note{color:#666;font-size:.9em}#tip{position:absolute;display:none;
background:#fffbe6;border:1px solid #caa;padding:3px 6px;font-size:12px;pointer-events:none;white-space:nowrap}
table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ddd;padding:2px 6px;text-align:right}
tr.sig{background:#fde2e2}.scroll{max-height:320px;overflow-y:auto}#slider{width:60%}.bar{position:sticky;top:0;background:#fff;padding:6px 0;z-index:2}
"""


def _section_profiles(data: dict[str, Any]) -> str:
    p = data["profile"]
    if p is None:
        return ""
    note = f"<p class=note>Shown thinned: {html.escape(p['note'])}.</p>" if p["note"] else ""
    residual = "<canvas id=residual width=1200 height=200></canvas>" if "fit_model" in p else (
        "<p class=note>No peak fit yet (give dynamics.h5 to see the fit, background and residual).</p>")
    return f"""<h2 id=profiles>Profiles at the chosen delay</h2>
<div class=bar><input id=slider type=range min=0 value=0 step=1> <b id=delay-label></b>
<span class=note>(← → keys step; click a ring label to show its traces)</span></div>{note}
<canvas id=profile width=1200 height=360></canvas><canvas id=differential width=1200 height=240></canvas>{residual}"""


def _section_patterns(data: dict[str, Any]) -> str:
    pt = data["pattern"]
    if pt is None:
        return ""
    h, w = pt["diff"]["shape"]
    scale = max(1, 400 // max(h, w))
    note = f" Thinned: {html.escape(pt['note'])}." if pt["note"] else ""
    return f"""<h2 id=patterns>2D differential pattern</h2><p class=note>Left: measured mean frame after minus before
time zero, with the mask (grey) and the beam centre (+). Right: ΔI(s) at the chosen delay mapped onto the detector
through each pixel's s (the reduction keeps 2D frames only as the after−before mean).{note}</p>
<div class=row><canvas id=pattern-measured width={w * scale} height={h * scale}></canvas>
<canvas id=pattern-delay width={w * scale} height={h * scale}></canvas></div>"""


def _section_traces(data: dict[str, Any]) -> str:
    if not data["samples"]:
        note = data.get("traces_note") or "No dynamics file given: traces appear once the series is analysed."
        return f"<h2 id=traces>Traces</h2><p class=note>{html.escape(note)}</p>"
    canvases = "".join(f"<canvas id=trace-{o} width=600 height=300></canvas>" for o in ("strain", "msd", "width",
                                                                                        "intensity"))
    labels = ", ".join(html.escape(s["label"]) for s in data["samples"])
    return f"""<h2 id=traces>Traces per ring</h2><p>Ring <select id=ring></select>
<label><input id=scans type=checkbox> per-scan traces</label> <span class=note>Samples: {labels}. Points ± 1σ,
lines the kinetic fits (dotted: flagged); hover a point for its value, σ and τ.</span></p><div class=row>{canvases}</div>"""


def _section_comparison(data: dict[str, Any]) -> str:
    c = data["comparison"]
    if c is None:
        return ""
    return f"""<h2 id=samples>Samples side by side</h2><p class=note>The chosen ring (and its direction family) in each
sample; z and p against {html.escape(c['labels'][0])}; significant after the Holm correction at α = {c['alpha']:g}
(uedflow compare).</p><table id=comparison></table>"""


def _section_diagnostics(data: dict[str, Any]) -> str:
    return """<h2 id=diagnostics>Diagnostics</h2><p id=center-text class=note></p><div class=row>
<canvas id=center-row width=600 height=240></canvas><canvas id=center-col width=600 height=240></canvas>
<canvas id=dose width=600 height=240></canvas><canvas id=chi2 width=600 height=240></canvas></div>
<div class=row><div><h3>Rejected frames</h3><table id=rejected></table></div>
<div><h3>Kinetic fits</h3><div class=scroll><table id=kinetic-chi2></table></div></div></div>"""


def render_explorer(data: dict[str, Any], *, refresh_s: float | None = None) -> str:
    """The explorer page of :func:`uedflow.report.views.explorer_data` output, as one HTML string.

    ``refresh_s`` makes the page reload itself from disk that often (live mode); the chosen delay and
    ring survive the reload.
    """
    script = resources.files("uedflow.report").joinpath("explorer.js").read_text(encoding="utf-8")
    blob = json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    refresh = f" data-refresh-s={refresh_s:g}" if refresh_s else ""  # explorer.js reloads, keeping delay and ring
    title = html.escape(data["title"])
    live = f" <span class=note>(live: reloads every {refresh_s:g} s)</span>" if refresh_s else ""
    body = "".join(f(data) for f in (_section_profiles, _section_patterns, _section_traces, _section_comparison,
                                     _section_diagnostics))
    return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{title}</title>"
            f"<style>{_CSS}</style></head><body{refresh}><h1>{title}{live}</h1>{body}<div id=tip></div>"
            f"<script type=application/json id=uedflow-data>{blob}</script><script>{script}</script></body></html>")


def load_stage_files(reduced: str | Path | xr.Dataset | None,
                     dynamics: Sequence[str | Path | xr.Dataset] = ()) -> tuple[xr.Dataset | None, list[xr.Dataset]]:
    """Open reduced.h5 and dynamics.h5 files (format-checked); datasets pass through."""
    from uedflow.dynamics import open_dynamics
    from uedflow.reduce import open_reduced

    red = open_reduced(reduced) if isinstance(reduced, str | Path) else reduced
    dyn = [open_dynamics(d) if isinstance(d, str | Path) else d for d in dynamics]
    return red, dyn


def write_explorer(reduced: str | Path | xr.Dataset | None, dynamics: Sequence[str | Path | xr.Dataset] = (),
                   out: str | Path = EXPLORER_NAME, *, labels: Sequence[str] | None = None, compare: bool = True,
                   refresh_s: float | None = None, title: str = "uedflow explorer", traces_note: str | None = None,
                   **thin: int) -> Path:
    """Write the explorer of a reduced file and any dynamics files to ``out`` (atomically).

    Parameters
    ----------
    reduced : path or xarray.Dataset or None
        reduced.h5 (its profiles, 2D pattern and diagnostics).
    dynamics : sequence of path or xarray.Dataset
        dynamics.h5 of the same data first, then any other samples to overlay.
    out : path
        The HTML file.
    labels : sequence of str, optional
        Sample names (default each file's ``sample_label``).
    compare : bool
        With several dynamics files, add the significance table of :func:`uedflow.dynamics.compare`.
    refresh_s : float, optional
        Live mode: the page reloads itself this often [s].
    title : str
        Page title.
    traces_note : str, optional
        What the traces section says when no dynamics file is given.
    **thin
        ``max_delays``, ``max_bins``, ``max_px`` of :func:`uedflow.report.views.explorer_data`.
    """
    from uedflow.errors import UedflowError

    red, dyn = load_stage_files(reduced, dynamics)
    comparison = None
    if compare and len(dyn) > 1:
        from uedflow.dynamics import compare as compare_datasets

        try:
            comparison = compare_datasets(dyn, labels=list(labels) if labels else None)
        except UedflowError as exc:
            log.warning("explorer without the comparison: %s", exc)
    data = explorer_data(red, dyn, labels=labels, comparison=comparison, title=title, **thin)
    data["traces_note"] = traces_note
    out = Path(out)
    with atomic_path(out) as tmp:
        tmp.write_text(render_explorer(data, refresh_s=refresh_s), encoding="utf-8")
    return out
