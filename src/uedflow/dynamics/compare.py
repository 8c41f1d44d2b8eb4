"""Compare analysed datasets (samples, temperatures, fluences) ring by ring, with significance.

For every ring present in the datasets and every quantity (kinetic amplitude
and τ of strain, Δ⟨u²⟩ and width; quasi-equilibrium strain and Δ⟨u²⟩; and the
same per direction family), each dataset is compared with the first one:

.. math::

    z = \\frac{x_i - x_0}{\\sqrt{\\sigma_i^2 + \\sigma_0^2}}, \\qquad p = 2\\,[1 - \\Phi(|z|)]

With more than two datasets a χ² test of consistency across all of them is
added. A difference is called significant when its p-value stays below
``alpha`` after the Holm–Bonferroni correction over every test in the table.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from scipy import stats

from uedflow.errors import ConfigError, InputError
from uedflow.io import atomic_path

__all__ = ["CompareRow", "CompareResult", "compare"]

#: (variable, observable or None, label, unit)
_QUANTITIES = (
    ("amplitude", "strain", "strain amplitude", "1"),
    ("tau_ps", "strain", "strain tau", "ps"),
    ("amplitude", "msd", "msd amplitude", "Å²"),
    ("tau_ps", "msd", "msd tau", "ps"),
    ("amplitude", "width", "width amplitude", "1/Å"),
    ("tau_ps", "width", "width tau", "ps"),
    ("strain_qe", None, "strain qe", "1"),
    ("msd_qe", None, "msd qe", "Å²"),
)
_ERR = {"amplitude": ("amplitude_err", "amplitude_boot_err"), "tau_ps": ("tau_err_ps", "tau_boot_err_ps")}


@dataclass(frozen=True)
class CompareRow:
    """One quantity of one ring (or family) across datasets; z and p relative to the first dataset."""

    hkl: str
    family: str
    quantity: str
    unit: str
    values: tuple[float, ...]
    errors: tuple[float, ...]
    z: tuple[float, ...]
    p: tuple[float, ...]
    p_all: float
    significant: bool


@dataclass(frozen=True)
class CompareResult:
    """Table of differences between datasets."""

    labels: tuple[str, ...]
    rows: tuple[CompareRow, ...]
    alpha: float
    n_tested: int

    @property
    def significant(self) -> tuple[CompareRow, ...]:
        """Rows whose difference is significant after the Holm correction."""
        return tuple(r for r in self.rows if r.significant)

    def summary(self) -> dict[str, Any]:
        """JSON-safe summary."""
        return {
            "labels": list(self.labels),
            "alpha": self.alpha,
            "n_rows": len(self.rows),
            "n_tested": self.n_tested,
            "significant": [
                {"hkl": r.hkl, "quantity": r.quantity, "values": list(r.values), "errors": list(r.errors),
                 "z": list(r.z), "p": list(r.p)}
                for r in self.significant
            ],
        }

    def table(self) -> str:
        """Readable fixed-width table (one row per ring × quantity)."""
        head = f"{'hkl':>6} {'family':>7} {'quantity':<16}" + "".join(f" {lab[:22]:>24}" for lab in self.labels)
        head += "".join(f" {'z(' + lab[:8] + ')':>12}" for lab in self.labels[1:]) + f" {'p':>9}  sig"
        lines = [head, "-" * len(head)]
        for r in self.rows:
            vals = "".join(f" {_pm(v, e):>24}" for v, e in zip(r.values, r.errors, strict=True))
            zs = "".join(f" {z:>12.2f}" for z in r.z[1:])
            p = r.p_all if len(self.labels) > 2 else (r.p[1] if len(r.p) > 1 else float("nan"))
            lines.append(f"{r.hkl:>6} {r.family:>7} {r.quantity:<16}{vals}{zs} {p:>9.2g}  {'*' if r.significant else ''}")
        lines.append(f"* significant at alpha = {self.alpha} after Holm-Bonferroni over {self.n_tested} tested quantities; "
                     f"z relative to {self.labels[0]!r}")
        return "\n".join(lines)

    def report(self) -> str:
        """The table."""
        return self.table()

    def to_csv(self, path: str | Path) -> Path:
        """Write the table as CSV (atomically): one row per ring × quantity."""
        path = Path(path)
        cols = ["hkl", "family", "quantity", "unit"]
        for lab in self.labels:
            cols += [f"{lab}", f"{lab}_err"]
        cols += [f"z_{lab}" for lab in self.labels[1:]] + [f"p_{lab}" for lab in self.labels[1:]]
        cols += ["p_all", "significant"]
        with atomic_path(path) as tmp, tmp.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(cols)
            for r in self.rows:
                vals = [x for pair in zip(r.values, r.errors, strict=True) for x in pair]
                w.writerow([r.hkl, r.family, r.quantity, r.unit, *vals, *r.z[1:], *r.p[1:], r.p_all,
                            int(r.significant)])
        return path


def _pm(v: float, e: float) -> str:
    if not np.isfinite(v):
        return "-"
    return f"{v:.4g} ± {e:.2g}"


def _value(ds: xr.Dataset, var: str, obs: str | None, hkl: str, *, family: bool) -> tuple[float, float]:
    """Value and 1σ of one quantity of ring (or family) ``hkl``; NaN if absent or failed."""
    dim, coord = ("direction", "direction") if family else ("peak", "hkl")
    if family:
        var = {"tau_ps": "family_tau_ps"}.get(var, f"family_{var}")
        if var == "family_amplitude":
            return float("nan"), float("nan")
    if var not in ds or coord not in ds.coords:
        return float("nan"), float("nan")
    names = [str(h) for h in ds[coord].values]
    if hkl not in names:
        return float("nan"), float("nan")
    i = names.index(hkl)
    sel = {dim: i} | ({"observable": list(map(str, ds["observable"].values)).index(obs)} if obs else {})
    value = float(ds[var].isel(sel))
    if family:
        err = float(ds[var.replace("_ps", "_err_ps") if var.endswith("_ps") else f"{var}_err"].isel(sel))
    elif obs is None:
        err = float(ds[f"{var}_err"].isel(sel))
    else:
        cov_name, boot_name = _ERR[var]
        err = float(ds[cov_name].isel(sel))
        if boot_name in ds:
            err = float(np.fmax(err, float(ds[boot_name].isel(sel))))
        if "fit_success" in ds and not int(ds["fit_success"].isel(sel)):
            return float("nan"), float("nan")
    return value, err


def compare(datasets: list[xr.Dataset], *, labels: list[str] | None = None, alpha: float = 0.05) -> CompareResult:
    """Compare analysed datasets ring by ring.

    Parameters
    ----------
    datasets : list of xarray.Dataset
        Two or more ``uedflow-dynamics`` datasets (from :func:`uedflow.dynamics.analyze`
        or :func:`uedflow.dynamics.open_dynamics`); the first is the reference.
    labels : list of str, optional
        Names; default each dataset's ``sample_label`` attribute, else "A", "B"...
    alpha : float
        Significance level (family-wise, Holm–Bonferroni).

    Returns
    -------
    CompareResult

    Raises
    ------
    InputError
        Fewer than two datasets, labels of the wrong length, or no ring in common.
    ConfigError
        ``alpha`` not in (0, 1).
    """
    if len(datasets) < 2:
        raise InputError(f"compare needs at least two datasets, got {len(datasets)}")
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"significance level alpha = {alpha} must lie strictly between 0 and 1 (e.g. 0.05)")
    if labels is None:
        labels = [str(d.attrs.get("sample_label") or chr(65 + i)) for i, d in enumerate(datasets)]
        if len(set(labels)) < len(labels):
            labels = [f"{lab} [{chr(65 + i)}]" for i, lab in enumerate(labels)]
    if len(labels) != len(datasets):
        raise InputError(f"{len(labels)} labels for {len(datasets)} datasets; give one label per dataset")
    rings: dict[str, str] = {}
    for d in datasets:
        for h, f in zip(d["hkl"].values, d["family"].values, strict=True):
            rings.setdefault(str(h), str(f))
    common = [h for h in rings if all(h in [str(x) for x in d["hkl"].values] for d in datasets)]
    if not common:
        raise InputError("the datasets have no ring (hkl) in common; nothing to compare")
    entries = [(h, rings[h], False) for h in rings]  # ring order of the first dataset (by s)
    fams = [str(f) for f in datasets[0]["direction"].values] if "direction" in datasets[0].coords else []
    entries += [(f, f, True) for f in fams]
    raw = []
    for hkl, fam, is_family in entries:
        for var, obs, name, unit in _QUANTITIES:
            pairs = [_value(d, var, obs, hkl, family=is_family) for d in datasets]
            if sum(np.isfinite(v) for v, _ in pairs) < 2:
                continue
            raw.append((hkl, fam, name, unit, pairs))
    tests = []
    for _, _, _, _, pairs in raw:
        v, e = np.array(pairs).T
        z = (v - v[0]) / np.sqrt(e**2 + e[0] ** 2)
        p = 2.0 * stats.norm.sf(np.abs(z))
        ok = np.isfinite(v) & np.isfinite(e) & (e > 0)
        if ok.sum() >= 2:
            w = 1.0 / e[ok] ** 2
            mean = np.sum(w * v[ok]) / w.sum()
            p_all = float(stats.chi2.sf(np.sum(w * (v[ok] - mean) ** 2), ok.sum() - 1))
        else:
            p_all = float("nan")
        tests.append((z, p, p_all))
    p_used = np.array([t[2] if len(datasets) > 2 else t[1][1] for t in tests])
    sig = _holm(p_used, alpha)
    rows = tuple(
        CompareRow(h, f, n, u, tuple(float(x) for x, _ in pairs), tuple(float(e) for _, e in pairs),
                   tuple(float(x) for x in z), tuple(float(x) for x in p), p_all, bool(s))
        for (h, f, n, u, pairs), (z, p, p_all), s in zip(raw, tests, sig, strict=True)
    )
    return CompareResult(tuple(labels), rows, alpha, int(np.isfinite(p_used).sum()))


def _holm(p: np.ndarray, alpha: float) -> np.ndarray:
    """Holm–Bonferroni: which hypotheses are rejected at family-wise level alpha (NaN never)."""
    out = np.zeros(p.size, bool)
    finite = np.flatnonzero(np.isfinite(p))
    order = finite[np.argsort(p[finite])]
    m = order.size
    for k, i in enumerate(order):
        if p[i] > alpha / (m - k):
            break
        out[i] = True
    return out
