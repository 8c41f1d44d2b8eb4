"""What a report shows about one sample: its dynamics, reduced data and (simulated) truth.

:func:`load_sample` opens a ``dynamics.h5`` and finds the files that belong to
it: ``reduced.h5`` beside it or named in its provenance, and ``truth.json`` of
a virtual experiment beside the experiment file the reduction read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xarray as xr

from uedflow.dynamics import open_dynamics
from uedflow.errors import FileFormatError
from uedflow.reduce import open_reduced
from uedflow.report.style import sample_label

__all__ = ["Sample", "load_sample", "read_truth"]


@dataclass(frozen=True)
class Sample:
    """One analysed sample of a report.

    Attributes
    ----------
    dynamics : xarray.Dataset
        ``uedflow-dynamics`` data (docs/formats.md).
    reduced : xarray.Dataset or None
        The ``uedflow-reduced`` data it was analysed from, if available.
    truth : dict or None
        ``truth.json`` of a virtual experiment.
    label : str or None
        Display name; default from the dataset attributes.
    source : str
        Where the dynamics came from (shown in the report).
    """

    dynamics: xr.Dataset = field(repr=False)
    reduced: xr.Dataset | None = field(default=None, repr=False)
    truth: dict[str, Any] | None = field(default=None, repr=False)
    label: str | None = None
    source: str = ""

    @property
    def name(self) -> str:
        """Display name."""
        return self.label or sample_label(self.dynamics)


def read_truth(path: str | Path) -> dict[str, Any]:
    """Read a virtual experiment's ``truth.json``.

    Raises
    ------
    FileFormatError
        Missing or not JSON, or without a ``peaks`` table (``rings`` for the crystal level).
    """
    path = Path(path)
    try:
        truth = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileFormatError(f"truth file {path} does not exist") from None
    except json.JSONDecodeError as exc:
        raise FileFormatError(f"truth file {path} is not valid JSON ({exc})") from None
    if not isinstance(truth, dict) or not (isinstance(truth.get("peaks"), dict) or isinstance(truth.get("rings"), list)):
        raise FileFormatError(f"truth file {path} has no 'peaks' (or, for any crystal, 'rings') table; write it with "
                              "`uedflow simulate`")
    return truth


def _provenance_files(ds: xr.Dataset) -> list[Path]:
    """Files named in a stage file's ``inputs_json`` and ``config_json`` (manifest, experiment...)."""
    out: list[Path] = []
    for key in ("inputs_json", "config_json"):
        try:
            data = json.loads(str(ds.attrs.get(key, "{}")))
        except json.JSONDecodeError:
            continue
        stack: list[Any] = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                stack += [Path(k) for k in item if isinstance(k, str) and k.endswith((".h5", ".toml", ".csv"))]
                stack += list(item.values())
            elif isinstance(item, list):
                stack += item
            elif isinstance(item, str) and item.endswith((".h5", ".toml", ".csv")):
                out.append(Path(item))
            elif isinstance(item, Path):
                out.append(item)
    return out


def _find(candidates: list[Path], name: str | None = None, suffix: str | None = None) -> Path | None:
    for p in candidates:
        if (name is None or p.name == name) and (suffix is None or p.suffix == suffix) and p.is_file():
            return p
    return None


def load_sample(dynamics_path: str | Path, *, reduced_path: str | Path | None = None,
                truth_path: str | Path | None = None, label: str | None = None) -> Sample:
    """Open a dynamics file and the reduced data and truth that belong to it.

    Parameters
    ----------
    dynamics_path : str or Path
        A ``uedflow-dynamics`` file.
    reduced_path, truth_path : str or Path, optional
        Explicit files; by default ``reduced.h5`` beside the dynamics file (or the
        one named in its provenance) and ``truth.json`` beside the experiment file
        named in the reduced file's provenance (or beside the dynamics file).
    label : str, optional
        Display name.

    Raises
    ------
    FileFormatError
        A given file is missing or in the wrong format.
    """
    dynamics_path = Path(dynamics_path)
    dyn = open_dynamics(dynamics_path)
    if reduced_path is None:
        near = [dynamics_path.with_name("reduced.h5"), *_provenance_files(dyn)]
        reduced_path = _find([p for p in near if p.resolve() != dynamics_path.resolve()], suffix=".h5")
    reduced = open_reduced(reduced_path) if reduced_path is not None else None
    if truth_path is None:
        folders = [dynamics_path.parent] + [p.parent for p in _provenance_files(reduced)] if reduced is not None \
            else [dynamics_path.parent]
        truth_path = _find([f / "truth.json" for f in folders])
    truth = read_truth(truth_path) if truth_path is not None else None
    return Sample(dyn, reduced, truth, label, str(dynamics_path))
