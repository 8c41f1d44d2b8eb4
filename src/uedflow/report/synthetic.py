"""Small format-conforming stage datasets built from known kinetics.

They follow docs/formats.md exactly (``uedflow-dynamics`` and ``uedflow-reduced``
layouts, ``truth.json`` schema) and are used to test and preview the report
without running the reduction and analysis. Curves are the kinetic model
:func:`uedflow.dynamics.models.exp_rise` plus seeded Gaussian noise, so every
plotted number has a known value.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from uedflow.crystal import get_structure, reflections
from uedflow.dynamics.models import exp_rise
from uedflow.io.datasets import DYNAMICS_FORMAT, DYNAMICS_VERSION, REDUCED_FORMAT, REDUCED_VERSION

__all__ = ["OBSERVABLES", "synthetic_truth", "synthetic_dynamics", "synthetic_reduced", "synthetic_long_series"]

#: Observables of a dynamics file, in format order.
OBSERVABLES = ("strain", "msd", "width", "intensity")


def synthetic_truth(
    *, material: str = "PbSe", s_max: float = 0.62, tau_ps: float = 8.0, anisotropy: float = 0.0, seed: int = 0
) -> dict[str, Any]:
    """A ``truth.json``-style dict for the reflections of ``material`` up to ``s_max`` [Å⁻¹].

    ``anisotropy`` makes ⟨111⟩ peaks faster and larger and ⟨100⟩ ones slower and
    smaller by that relative amount (0 = isotropic).

    Examples
    --------
    >>> t = synthetic_truth(s_max=0.47)
    >>> sorted(t["peaks"])
    ['111', '200', '220']
    """
    rng = np.random.default_rng(seed)
    st = get_structure(material)
    peaks = {}
    for r in reflections(st, s_max):
        sign = {"<111>": 1.0, "<100>": -1.0}.get(r.family, 0.0)
        f = 1.0 + sign * anisotropy
        peaks[r.label] = {
            "family": r.family,
            "s0": r.s_inv_angstrom,
            "strain_amplitude": 1.0e-3 * (1.0 + 0.2 * rng.standard_normal() * anisotropy),
            "strain_tau_ps": tau_ps * 1.2,
            "msd_amplitude_angstrom2": 0.010 * f,
            "msd_tau_ps": tau_ps / f,
            "width_amplitude": 2.0e-4 * f,
            "width_tau_ps": tau_ps * 1.5,
        }
    return {"preset": "synthetic", "t0_ps": 0.0, "irf_fwhm_ps": 0.5, "temperature_K": 90.0,
            "fluence_mJ_cm2": 3.6, "peaks": peaks}


def _delays() -> np.ndarray:
    return np.concatenate([np.arange(-10.0, 0.0, 2.0), np.arange(0.0, 20.0, 1.0), np.arange(20.0, 62.0, 4.0)])


def synthetic_dynamics(
    truth: dict[str, Any], *, noise: float = 0.03, seed: int = 0, label: str = "synthetic", qe_window_ps=(40.0, 60.0),
    delays_ps: np.ndarray | None = None,
) -> xr.Dataset:
    """A ``uedflow-dynamics`` Dataset whose traces follow ``truth`` with relative noise ``noise``.

    The stored "fits" are the true kinetic parameters perturbed by their stated
    1σ errors (seeded), so the plotted fit values are known exactly. ``delays_ps``
    default: 36 delays from −10 to 60 ps.
    """
    rng = np.random.default_rng(seed)
    labels = list(truth["peaks"])
    p = [truth["peaks"][h] for h in labels]
    t = _delays() if delays_ps is None else np.asarray(delays_ps, float)
    t0, irf = float(truth["t0_ps"]), float(truth["irf_fwhm_ps"])
    s0 = np.array([q["s0"] for q in p])
    keys = {"strain": ("strain_amplitude", "strain_tau_ps"), "msd": ("msd_amplitude_angstrom2", "msd_tau_ps"),
            "width": ("width_amplitude", "width_tau_ps")}
    amp = np.zeros((len(p), 4))
    tau = np.zeros((len(p), 4))
    for j, obs in enumerate(OBSERVABLES[:3]):
        amp[:, j] = [q[keys[obs][0]] for q in p]
        tau[:, j] = [q[keys[obs][1]] for q in p]
    # intensity falls as exp(-4π²s²Δ⟨u²⟩): its kinetic amplitude is the plateau I/I0 − 1, same τ as msd
    amp[:, 3] = np.expm1(-4 * np.pi**2 * s0**2 * amp[:, 1])
    tau[:, 3] = tau[:, 1]
    amp_err, tau_err = 0.03 * np.abs(amp), 0.05 * tau
    amp_fit = amp + amp_err * rng.standard_normal(amp.shape)
    tau_fit = tau + tau_err * rng.standard_normal(tau.shape)
    true_curves = {obs: np.array([exp_rise(t, amp[i, j], tau[i, j], t0, irf) for i in range(len(p))])
                   for j, obs in enumerate(OBSERVABLES)}
    fit_curves = {obs: np.array([exp_rise(t, amp_fit[i, j], tau_fit[i, j], t0, irf) for i in range(len(p))])
                  for j, obs in enumerate(OBSERVABLES)}
    err = {obs: noise * np.abs(amp[:, j])[:, None] * np.ones_like(t) for j, obs in enumerate(OBSERVABLES)}
    val = {obs: true_curves[obs] + err[obs] * rng.standard_normal(err[obs].shape) for obs in OBSERVABLES}
    pd = ("peak", "delay")
    po = ("peak", "observable")
    area0 = 100.0 / s0**2
    fwhm0 = np.full_like(s0, 0.01)
    in_qe = (t >= qe_window_ps[0]) & (t <= qe_window_ps[1])
    families = [q["family"] for q in p]
    data = {
        "s0": ("peak", s0),
        "position": (pd, s0[:, None] * (1.0 - val["strain"])),
        "position_err": (pd, s0[:, None] * err["strain"]),
        "fwhm": (pd, fwhm0[:, None] + val["width"]),
        "fwhm_err": (pd, err["width"]),
        "area": (pd, area0[:, None] * (1.0 + val["intensity"])),
        "area_err": (pd, area0[:, None] * err["intensity"]),
        "fit_flag": (pd, np.zeros((len(p), t.size), np.uint8)),
        "strain": (pd, val["strain"]), "strain_err": (pd, err["strain"]),
        "width": (pd, val["width"]), "width_err": (pd, err["width"]),
        "intensity": (pd, 1.0 + val["intensity"]), "intensity_err": (pd, err["intensity"]),
        "msd": (pd, val["msd"]), "msd_err": (pd, err["msd"]),
        "amplitude": (po, amp_fit), "amplitude_err": (po, amp_err),
        "tau_ps": (po, tau_fit), "tau_err_ps": (po, tau_err),
        "t0_ps": (po, np.full(amp.shape, t0)), "t0_err_ps": (po, np.full(amp.shape, 0.05)),
        "irf_fwhm_ps": (po, np.full(amp.shape, irf)),
        "chi2_red": (po, np.ones(amp.shape)),
        "fit_success": (po, np.ones(amp.shape, np.uint8)),
        "msd_qe": ("peak", val["msd"][:, in_qe].mean(axis=1)),
        "msd_qe_err": ("peak", err["msd"][:, 0] / np.sqrt(in_qe.sum())),
        "strain_qe": ("peak", val["strain"][:, in_qe].mean(axis=1)),
        "strain_qe_err": ("peak", err["strain"][:, 0] / np.sqrt(in_qe.sum())),
    }
    for obs in OBSERVABLES:
        data[f"{obs}_fit"] = (pd, fit_curves[obs] + (obs == "intensity"))
    ds = xr.Dataset(data, coords={"hkl": ("peak", labels), "family": ("peak", families), "delay": t,
                                  "observable": list(OBSERVABLES)})
    ds.attrs.update({"format": DYNAMICS_FORMAT, "format_version": DYNAMICS_VERSION, "material": "PbSe", "sample_label": label,
                     "experiment_name": label, "temperature_K": float(truth.get("temperature_K", 90.0)),
                     "fluence_mJ_cm2": float(truth.get("fluence_mJ_cm2", np.nan)), "diameter_nm": 5.5,
                     "lattice_constant_angstrom": 6.12, "qe_window_ps": np.asarray(qe_window_ps, float),
                     "peak_shape": "pseudo-voigt", "background_model": "synthetic", "debye_temperature_K": 250.0})
    return ds


def synthetic_reduced(truth: dict[str, Any], *, n_s: int = 400, shape: tuple[int, int] = (96, 96), seed: int = 0,
                      label: str = "synthetic", delays_ps: np.ndarray | None = None) -> xr.Dataset:
    """A ``uedflow-reduced`` Dataset: Gaussian peaks on a decaying background, two scans.

    Peak positions shrink and intensities fall after time zero as ``truth`` says; delays as in
    :func:`synthetic_dynamics`.
    """
    rng = np.random.default_rng(seed)
    p = list(truth["peaks"].values())
    t = _delays() if delays_ps is None else np.asarray(delays_ps, float)
    s = np.linspace(0.1, max(q["s0"] for q in p) + 0.06, n_s)
    t0, irf = float(truth["t0_ps"]), float(truth["irf_fwhm_ps"])
    bg = 50.0 * np.exp(-s / 0.25)[None, :] * np.ones((t.size, 1))
    prof = bg.copy()
    for q in p:
        eps = exp_rise(t, q["strain_amplitude"], q["strain_tau_ps"], t0, irf)
        msd = exp_rise(t, q["msd_amplitude_angstrom2"], q["msd_tau_ps"], t0, irf)
        pos = q["s0"] * (1 - eps)
        height = 20.0 * np.exp(-4 * np.pi**2 * q["s0"] ** 2 * msd)
        prof += height[:, None] * np.exp(-0.5 * ((s[None, :] - pos[:, None]) / 0.004) ** 2)
    sig = 0.002 * prof
    scans = np.stack([prof + sig * rng.standard_normal(prof.shape) for _ in range(2)])
    before = t < 0
    ref = prof[before].mean(axis=0)
    rr, cc = np.indices(shape)
    r = np.hypot(rr - shape[0] / 2, cc - shape[1] / 2)
    ring = np.exp(-0.5 * ((r - 0.3 * shape[0]) / 2.0) ** 2)
    diff2d = -0.02 * ring + 0.001 * rng.standard_normal(shape)
    mask = np.ones(shape, np.uint8)
    mask[: shape[0] // 2 + 3, shape[1] // 2 - 3: shape[1] // 2 + 3] = 0  # beam block
    ds = xr.Dataset(
        {
            "intensity": (("delay", "s"), prof), "intensity_sigma": (("delay", "s"), sig / np.sqrt(2)),
            "intensity_scan": (("scan", "delay", "s"), scans), "intensity_scan_sigma": (("scan", "delay", "s"),
                                                                                           np.stack([sig, sig])),
            "reference": ("s", ref), "reference_sigma": ("s", sig[before].mean(axis=0) / np.sqrt(before.sum())),
            "differential": (("delay", "s"), prof - ref), "counts": ("s", np.full(n_s, 100)),
            "mask": (("row", "col"), mask), "diff_pattern": (("row", "col"), diff2d * mask),
            "frame_weight": (("scan", "delay"), np.ones((2, t.size))),
            "frame_rejected": (("scan", "delay"), np.zeros((2, t.size), np.uint8)),
        },
        coords={"s": s, "delay": t, "scan": [1, 2]},
        attrs={"format": REDUCED_FORMAT, "format_version": REDUCED_VERSION, "material": "PbSe", "sample_label": label,
               "experiment_name": label, "temperature_K": float(truth.get("temperature_K", 90.0)),
               "fluence_mJ_cm2": float(truth.get("fluence_mJ_cm2", np.nan)), "diameter_nm": 5.5,
               "lattice_constant_angstrom": 6.12, "electron_energy_keV": 50.0, "wavelength_angstrom": 0.0536,
               "camera_length_m": 0.45, "pixel_size_m": 5e-5, "center_rc": np.array([shape[0] / 2, shape[1] / 2]),
               "center_residual_px": 0.05},
    )
    return ds


def synthetic_long_series(n_delays: int = 2048, n_s: int = 1000, *, shape: tuple[int, int] = (1024, 1024),
                          seed: int = 1) -> tuple[xr.Dataset, xr.Dataset]:
    """A long reduced series (``n_delays`` from −10 to 200 ps × ``n_s`` bins on a ``shape`` detector) and its
    dynamics with a per-delay fitted profile and background: the worst case for the explorer's size."""
    truth = synthetic_truth(s_max=1.0, seed=seed)
    delays = np.linspace(-10.0, 200.0, n_delays)
    red = synthetic_reduced(truth, n_s=n_s, shape=shape, delays_ps=delays, seed=seed)
    dyn = synthetic_dynamics(truth, delays_ps=delays, seed=seed).assign_coords(s=red["s"].values)
    dyn["fit_model"] = (("delay", "s"), red["intensity"].values * 1.001)
    dyn["fit_background"] = (("delay", "s"), 0.5 * red["intensity"].values)
    return red, dyn
