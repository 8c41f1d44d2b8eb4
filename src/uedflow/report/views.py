"""Data-to-view functions: stage files (reduced.h5, dynamics.h5) -> what a plot shows.

One place for the numbers the interactive views draw, shared by the HTML explorer
(:mod:`uedflow.report.explorer`) and the notebook views (:func:`uedflow.explore.show`);
the static report's matplotlib figures read the same stage variables (e.g. the stored
``fit_background``) but do not go through these functions yet. Each function returns a JSON-safe dict; arrays are
:func:`pack`-ed as little-endian float32 in base64 (NaN kept), so a page holds
them at 5.3 bytes per number and JavaScript reads them as a ``Float32Array``.

What a screen cannot show is thinned, and each view says how in its ``note``:
profiles keep at most ``max_delays`` delays (every k-th, so the values shown are the
file's own) and ``max_bins`` s bins (block means); the 2D pattern is block-averaged
to at most ``max_px`` pixels a side. Traces (rings × delays) are never thinned.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from uedflow.dynamics.traces import OBSERVABLES, compute_traces
from uedflow.errors import InputError
from uedflow.reduce.geometry import Geometry

__all__ = ["pack", "unpack", "thin_delays", "block_mean", "profile_view", "pattern_view", "trace_view",
           "diagnostics_view", "comparison_view", "explorer_data", "OBSERVABLE_UNITS"]

#: (label, unit) of each trace observable (uedflow.dynamics.traces).
OBSERVABLE_UNITS = {"strain": ("strain ε", "1"), "msd": ("Δ⟨u²⟩", "Å²"), "width": ("Δ FWHM", "1/Å"),
                    "intensity": ("I/I₀", "1")}
#: Reasons a frame was left out, by the code of ``frame_reject_reason`` in reduced.h5 (docs/formats.md).
REJECT_REASONS = {1: "burst or saturation over most of the profile", 2: "outlier against the other scans"}


def pack(a: np.ndarray) -> dict[str, Any]:
    """A float array as ``{"f32": base64 of little-endian float32, "shape": [...]}``.

    Examples
    --------
    >>> unpack(pack(np.array([[1.5, np.nan]]))).tolist()
    [[1.5, nan]]
    """
    a = np.asarray(a, dtype="<f4")
    return {"f32": base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii"), "shape": list(a.shape)}


def unpack(d: dict[str, Any]) -> np.ndarray:
    """Inverse of :func:`pack` (float32 values)."""
    return np.frombuffer(base64.b64decode(d["f32"]), dtype="<f4").reshape(d["shape"])


def thin_delays(n: int, most: int) -> np.ndarray:
    """Indices of at most ``most`` of ``n`` delays: every k-th, always the last.

    Examples
    --------
    >>> thin_delays(10, 4).tolist()
    [0, 3, 6, 9]
    >>> thin_delays(3, 4).tolist()
    [0, 1, 2]
    """
    if n <= most:
        return np.arange(n)
    step = int(np.ceil((n - 1) / (most - 1)))
    return np.unique(np.append(np.arange(0, n, step), n - 1))


def block_mean(a: np.ndarray, factor: int, axis: int = -1) -> np.ndarray:
    """Mean over consecutive blocks of ``factor`` along ``axis`` (NaN ignored; a short last block kept).

    Examples
    --------
    >>> block_mean(np.array([1.0, 3.0, np.nan, 5.0, 7.0]), 2).tolist()
    [2.0, 5.0, 7.0]
    """
    if factor <= 1:
        return np.asarray(a, float)
    a = np.moveaxis(np.asarray(a, float), axis, -1)
    n = a.shape[-1]
    pad = -n % factor
    a = np.concatenate([a, np.full((*a.shape[:-1], pad), np.nan)], axis=-1)
    blocks = a.reshape(*a.shape[:-1], -1, factor)
    ok = np.isfinite(blocks)
    cnt = ok.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(cnt > 0, np.where(ok, blocks, 0.0).sum(axis=-1) / cnt, np.nan)
    return np.moveaxis(out, -1, axis)


def profile_view(reduced: xr.Dataset, dynamics: xr.Dataset | None = None, *, max_delays: int = 512,
                 max_bins: int = 1200) -> dict[str, Any]:
    """The azimuthal profiles of the delay slider: I(s) per delay over the reference, ΔI(s), fit and background.

    Parameters
    ----------
    reduced : xarray.Dataset
        ``uedflow-reduced`` dataset.
    dynamics : xarray.Dataset, optional
        ``uedflow-dynamics`` dataset; gives the fitted profile and background per delay (``fit_model``,
        ``fit_background``) and the ring positions.
    max_delays, max_bins : int
        Most delays (every k-th kept) and s bins (block means) in the view.

    Returns
    -------
    dict
        ``s`` [Å⁻¹], ``delay`` [ps], ``delay_index`` (rows of the file kept), packed (delay, s) arrays
        ``intensity``, ``sigma``, ``differential`` (and ``fit_model``, ``fit_background``), ``reference``,
        ``rings`` (hkl, s0 [Å⁻¹]) and a ``note`` on the thinning.
    """
    delay = reduced["delay"].values.astype(float)
    keep = thin_delays(delay.size, max_delays)
    factor = int(np.ceil(reduced.sizes["s"] / max_bins))

    def rows(a: np.ndarray) -> dict[str, Any]:
        return pack(block_mean(np.asarray(a, float)[keep], factor))

    out: dict[str, Any] = {
        "s": block_mean(reduced["s"].values, factor).tolist(), "delay": delay[keep].tolist(),
        "delay_index": keep.tolist(), "n_delays": int(delay.size),
        "intensity": rows(reduced["intensity"].values), "sigma": rows(reduced["intensity_sigma"].values),
        "differential": rows(reduced["differential"].values),
        "reference": pack(block_mean(reduced["reference"].values, factor)),
        "units": reduced["intensity"].attrs.get("units", ""), "rings": [], "note": "",
    }
    notes = []
    if keep.size < delay.size:
        notes.append(f"the slider steps through {keep.size} of {delay.size} delays (one in {keep[1] - keep[0]}; "
                     "traces show all)")
    if factor > 1:
        notes.append(f"profiles are means of {factor} adjacent s bins ({reduced.sizes['s']} in the file)")
    out["note"] = "; ".join(notes)
    if dynamics is not None:
        same_grid = dynamics.sizes.get("s") == reduced.sizes["s"] and np.array_equal(
            dynamics["delay"].values, delay)  # (a live view may pair new profiles with the last fits)
        if "fit_model" in dynamics and same_grid:
            out["fit_model"] = rows(dynamics["fit_model"].values)
            out["fit_background"] = rows(dynamics["fit_background"].values)
        out["rings"] = [{"hkl": str(h), "s0": _num(s0)} for h, s0 in zip(dynamics["hkl"].values,
                                                                           dynamics["s0"].values, strict=True)]
    return out


def pattern_view(reduced: xr.Dataset, *, max_px: int = 256) -> dict[str, Any]:
    """The 2D differential pattern (after minus before time zero), its mask and beam centre, and the s of
    every (block-averaged) pixel so a viewer can map ΔI(s) of one delay onto the detector.

    Returns
    -------
    dict
        ``diff`` (packed, NaN where masked), ``valid`` (packed fraction of valid pixels per block),
        ``s_map`` (packed, [Å⁻¹]), ``factor`` (pixels per block side), ``center_rc`` [px, file pixels],
        ``shape`` of the file's frames and a ``note``.
    """
    diff = reduced["diff_pattern"].values.astype(float)
    valid = reduced["mask"].values.astype(bool)
    shape = diff.shape
    factor = int(np.ceil(max(shape) / max_px))
    a = reduced.attrs
    center = tuple(float(c) for c in np.asarray(a["center_rc"], float))
    geo = Geometry(shape, center, float(a["pixel_size_m"]), float(a["camera_length_m"]),
                   float(a["electron_energy_keV"]))

    def down(img: np.ndarray) -> np.ndarray:
        return block_mean(block_mean(img, factor, axis=0), factor, axis=1)

    frac = down(valid.astype(float))
    return {"diff": pack(down(np.where(valid, diff, np.nan))), "valid": pack(frac), "s_map": pack(down(geo.s_map())),
            "factor": factor, "center_rc": list(center), "shape": list(shape),
            "note": f"blocks of {factor}×{factor} pixels averaged ({shape[0]}×{shape[1]} in the file)" if factor > 1
            else ""}


def _scan_traces(dyn: xr.Dataset) -> dict[str, np.ndarray] | None:
    """Per-scan observables (scan, peak, delay) from the per-scan peak fits, or None without them."""
    if "scan_position" not in dyn:
        return None
    out: dict[str, list[np.ndarray]] = {o: [] for o in OBSERVABLES}
    delay = dyn["delay"].values
    for k in range(dyn.sizes["scan"]):
        flag = dyn["scan_fit_flag"].values[k]
        one = np.ones_like(dyn["scan_position"].values[k])  # equal weights: the reference is the plain mean
        try:
            tr = compute_traces(delay, dyn["scan_position"].values[k], one, dyn["scan_fwhm"].values[k], one,
                                dyn["scan_area"].values[k], one, flag=flag)
        except InputError:  # a scan without a usable reference is shown empty
            tr = None
        for o in OBSERVABLES:
            out[o].append(tr.values[o] if tr is not None else np.full(one.shape, np.nan))
    return {o: np.array(v) for o, v in out.items()}


def trace_view(dynamics: xr.Dataset, *, label: str = "") -> dict[str, Any]:
    """Every ring's traces (strain, Δ⟨u²⟩, width, I/I₀ vs delay) with 1σ, the kinetic fit curve and τ.

    Returns
    -------
    dict
        ``label``, ``delay`` [ps], ``rings``: list of {hkl, family, s0 [Å⁻¹], and per observable: packed
        ``value``, ``err``, ``fit`` (peak, delay rows), ``tau_ps``, ``tau_err_ps``, ``amplitude``,
        ``amplitude_err``, ``chi2_red``, ``success``}; ``scans`` and packed per-scan values
        ``scan_<observable>`` (scan, peak, delay) when the file has per-scan fits.
    """
    obs_index = {str(o): j for j, o in enumerate(dynamics["observable"].values)}
    per_scan = _scan_traces(dynamics)

    def kin(name: str, i: int, j: int) -> float | None:
        return _num(float(dynamics[name].values[i, j])) if name in dynamics else None

    rings = []
    for i, hkl in enumerate(dynamics["hkl"].values):
        ring: dict[str, Any] = {"hkl": str(hkl), "family": str(dynamics["family"].values[i]),
                                "s0": _num(dynamics["s0"].values[i])}
        for o in OBSERVABLES:
            j = obs_index[o]
            ring[o] = {"tau_ps": kin("tau_ps", i, j), "tau_err_ps": kin("tau_err_ps", i, j),
                       "amplitude": kin("amplitude", i, j), "amplitude_err": kin("amplitude_err", i, j),
                       "chi2_red": kin("chi2_red", i, j), "success": bool(dynamics["fit_success"].values[i, j])}
        rings.append(ring)
    out: dict[str, Any] = {"label": label or str(dynamics.attrs.get("sample_label", "")),
                           "delay": dynamics["delay"].values.astype(float).tolist(), "rings": rings,
                           "observables": {o: list(OBSERVABLE_UNITS[o]) for o in OBSERVABLES}}
    for o in OBSERVABLES:
        out[o] = pack(dynamics[o].values)
        out[f"{o}_err"] = pack(dynamics[f"{o}_err"].values)
        out[f"{o}_fit"] = pack(dynamics[f"{o}_fit"].values)
        if per_scan is not None:
            out[f"scan_{o}"] = pack(per_scan[o])
    out["scans"] = dynamics["scan"].values.tolist() if per_scan is not None else []
    return out


def diagnostics_view(reduced: xr.Dataset | None, dynamics: xr.Dataset | None = None) -> dict[str, Any]:
    """Beam centre per scan and frame (or the one fixed centre), dose per frame, rejected frames and why,
    and the χ²/dof of every peak fit and kinetic fit.

    Returns
    -------
    dict
        ``scans``, ``delay`` [ps]; ``center_row``/``center_col`` (packed (scan, delay) [px]) when the reduced
        file has per-frame centres, else ``center_rc`` [px]; ``dose`` (packed (scan, delay) frame weight, 1 =
        median frame); ``rejected``: list of {scan, delay_ps, reason}; ``peak_chi2`` (packed (peak, delay)),
        ``kinetic_chi2`` (rows of hkl, observable, χ²/dof, success).
    """
    out: dict[str, Any] = {}
    if reduced is not None:
        scans, delay = reduced["scan"].values, reduced["delay"].values.astype(float)
        out.update(scans=scans.tolist(), delay=delay.tolist(), dose=pack(reduced["frame_weight"].values),
                   center_rc=[float(c) for c in np.asarray(reduced.attrs["center_rc"], float)])
        if "center_row" in reduced and "center_col" in reduced:
            out["center_row"] = pack(reduced["center_row"].transpose("scan", "delay").values)
            out["center_col"] = pack(reduced["center_col"].transpose("scan", "delay").values)
        rejected = reduced["frame_rejected"].values.astype(bool)
        reason = (reduced["frame_reject_reason"].values if "frame_reject_reason" in reduced
                  else np.zeros(rejected.shape, int))
        out["rejected"] = [{"scan": int(scans[k]), "delay_ps": float(delay[d]),
                            "reason": REJECT_REASONS.get(int(reason[k, d]), "rejected (reason not recorded)")}
                           for k, d in zip(*np.nonzero(rejected), strict=True)]
    if dynamics is not None:
        out["hkl"] = [str(h) for h in dynamics["hkl"].values]
        out["peak_delay"] = dynamics["delay"].values.astype(float).tolist()
        if "peak_chi2_red" in dynamics:
            out["peak_chi2"] = pack(dynamics["peak_chi2_red"].values)
        out["kinetic_chi2"] = [
            {"hkl": str(h), "observable": str(o), "chi2_red": _num(dynamics["chi2_red"].values[i, j]),
             "success": bool(dynamics["fit_success"].values[i, j])}
            for i, h in enumerate(dynamics["hkl"].values) for j, o in enumerate(dynamics["observable"].values)]
    return out


def _num(x: float) -> float | None:
    """A float for JSON: None for NaN and inf."""
    return float(x) if np.isfinite(x) else None


def comparison_view(comparison: Any) -> dict[str, Any] | None:
    """Rows of :func:`uedflow.dynamics.compare` (value ± σ per sample, z, p, significant), or None."""
    if comparison is None:
        return None
    num = _num
    return {"labels": list(comparison.labels), "alpha": comparison.alpha,
            "rows": [{"hkl": r.hkl, "quantity": r.quantity, "unit": r.unit, "values": [num(v) for v in r.values],
                      "errors": [num(e) for e in r.errors], "z": [num(z) for z in r.z], "p": [num(p) for p in r.p],
                      "significant": bool(r.significant)} for r in comparison.rows]}


def explorer_data(reduced: xr.Dataset | None, dynamics: Sequence[xr.Dataset] = (), *,
                  labels: Sequence[str] | None = None, comparison: Any = None, max_delays: int = 512,
                  max_bins: int = 1200, max_px: int = 256, title: str = "uedflow explorer") -> dict[str, Any]:
    """Everything the explorer shows, from one reduced dataset and any number of dynamics datasets.

    The first dynamics dataset belongs to ``reduced`` (its fits are drawn on the profiles and its
    diagnostics shown); the others are further samples whose traces are overlaid.
    """
    labels = list(labels) if labels else [str(d.attrs.get("sample_label", f"sample {k + 1}"))
                                          for k, d in enumerate(dynamics)]
    first = dynamics[0] if dynamics else None
    return {
        "title": title,
        "profile": profile_view(reduced, first, max_delays=max_delays, max_bins=max_bins) if reduced is not None
        else None,
        "pattern": pattern_view(reduced, max_px=max_px) if reduced is not None and "diff_pattern" in reduced else None,
        "samples": [trace_view(d, label=lab) for d, lab in zip(dynamics, labels, strict=True)],
        "diagnostics": diagnostics_view(reduced, first),
        "comparison": comparison_view(comparison),
    }
