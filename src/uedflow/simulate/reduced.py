"""The ``uedflow-reduced`` layout (docs/formats.md) of simulated per-scan profiles, skipping the detector."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import xarray as xr

from uedflow.crystal import Crystal, Structure

__all__ = ["reduced_dataset"]


def reduced_dataset(
    scans: np.ndarray, sigma: np.ndarray, s: np.ndarray, delays: np.ndarray, weights: np.ndarray, *,
    structure: Structure | Crystal, attrs: dict[str, Any] | None = None, mask: np.ndarray | None = None,
    diff_pattern: np.ndarray | None = None,
) -> xr.Dataset:
    """Assemble per-scan profiles (scan, delay, s) into the ``uedflow-reduced`` layout (docs/formats.md).

    A non-cubic :class:`~uedflow.crystal.Crystal` is described by its name, space group and cell
    (``structure_json``) and its ``a`` as ``lattice_constant_angstrom``."""
    n = scans.shape[0]
    mean = scans.mean(axis=0)
    msig = np.sqrt(np.sum(sigma**2, axis=0)) / n
    before = delays < 0
    reference = mean[before].mean(axis=0)
    reference_sigma = np.sqrt(np.sum(msig[before] ** 2, axis=0)) / before.sum()
    if mask is None:
        mask = np.ones((1, 1), dtype=np.uint8)
    if diff_pattern is None:
        diff_pattern = np.zeros(mask.shape)
    ds = xr.Dataset(
        {
            "intensity": (("delay", "s"), mean),
            "intensity_sigma": (("delay", "s"), msig),
            "intensity_scan": (("scan", "delay", "s"), scans),
            "intensity_scan_sigma": (("scan", "delay", "s"), sigma),
            "reference": (("s",), reference),
            "reference_sigma": (("s",), reference_sigma),
            "differential": (("delay", "s"), mean - reference),
            "counts": (("s",), np.ones(len(s), dtype=np.int64)),
            "mask": (("row", "col"), mask.astype(np.uint8)),
            "diff_pattern": (("row", "col"), diff_pattern),
            "frame_weight": (("scan", "delay"), weights),
            "frame_rejected": (("scan", "delay"), np.zeros(weights.shape, dtype=np.uint8)),
        },
        coords={"s": s, "delay": delays, "scan": np.arange(n)},
    )
    ds["s"].attrs["units"] = "1/angstrom"
    ds["delay"].attrs["units"] = "ps"
    ds.attrs.update({
        "material": structure.name, "structure_json": json.dumps(_summary(structure)),
        "lattice_constant_angstrom": float(structure.lattice.a if isinstance(structure, Crystal) else structure.a_angstrom), "temperature_K": float("nan"),
        "fluence_mJ_cm2": float("nan"), "diameter_nm": float("nan"), "electron_energy_keV": float("nan"),
        "wavelength_angstrom": float("nan"), "camera_length_m": float("nan"), "pixel_size_m": float("nan"),
        "center_rc": np.array([np.nan, np.nan]), "center_residual_px": float("nan"), "sample_label": "",
        "experiment_name": "simulated",
    })
    ds.attrs.update(attrs or {})
    return ds


def _summary(structure: Structure | Crystal) -> dict[str, Any]:
    """JSON-safe description of the sample (a Crystal: name, space group, cell [Å, degrees])."""
    if isinstance(structure, Crystal):
        return {"name": structure.name, "space_group": structure.space_group_symbol,
                "cell": list(structure.lattice.parameters)}
    return structure.summary()
