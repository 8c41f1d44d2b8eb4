"""Pump dynamics: time-dependent strain, Δ⟨u²⟩ and peak width after photoexcitation.

Every observable X of a reflection rises after time zero t0 as

.. math::

    X(t) = [A_1 (1 - e^{-(t-t_0)/\\tau_1}) + A_2 (1 - e^{-(t-t_0)/\\tau_2})]\\,\\Theta(t-t_0) \\ast G_{\\mathrm{IRF}}

(:func:`uedflow.dynamics.models.biexp_rise`, Gaussian IRF of FWHM ``irf_fwhm_ps``);
A₂ = 0 (the default) is the single exponential of the paper. Strain ε is
dimensionless (ε = −Δs/s, so s(t) = s0 / (1 + ε(t))), Δ⟨u²⟩ is the change of the
mean-square displacement projected on the scattering vector [Å²] and the width is
the change of the peak FWHM [Å⁻¹].

Reflections that are not one of the three principal directions (311, 420...)
get their dynamics from the ⟨100⟩, ⟨110⟩ and ⟨111⟩ values by *cubic-harmonic
interpolation*: each parameter p(n) = c0 + c4 K4(n) + c6 K6(n) with
K4 = n_x⁴ + n_y⁴ + n_z⁴ and K6 = n_x² n_y² n_z², the lowest-order direction
functions with cubic symmetry (a second-rank tensor property is isotropic in a
cubic crystal), solved exactly through the three principal values.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from uedflow.crystal import FAMILIES, direction_family, parse_hkl
from uedflow.dynamics.models import biexp_rise
from uedflow.errors import ConfigError

__all__ = ["PeakDynamics", "cubic_harmonic_weights", "interpolate_dynamics", "dynamics_for_reflections"]

_OBSERVABLES = ("strain", "msd", "width")


@dataclass(frozen=True)
class PeakDynamics:
    """Kinetic parameters of one reflection (or one direction family).

    Attributes
    ----------
    strain_amplitude : float
        Plateau strain ε = −Δs/s (dimensionless).
    strain_tau_ps : float
        Rise time of the strain [ps].
    msd_amplitude_angstrom2 : float
        Plateau Δ⟨u²⟩_s [Å²].
    msd_tau_ps : float
        Rise time of Δ⟨u²⟩_s [ps].
    width_amplitude : float
        Plateau FWHM change [Å⁻¹].
    width_tau_ps : float
        Rise time of the width change [ps].
    strain_amplitude2, msd_amplitude2_angstrom2, width_amplitude2 : float
        Amplitudes of an optional second (slow) exponential; 0 = single exponential.
    strain_tau2_ps, msd_tau2_ps, width_tau2_ps : float
        Its time constants [ps].
    """

    strain_amplitude: float = 0.0
    strain_tau_ps: float = 5.0
    msd_amplitude_angstrom2: float = 0.0
    msd_tau_ps: float = 5.0
    width_amplitude: float = 0.0
    width_tau_ps: float = 5.0
    strain_amplitude2: float = 0.0
    strain_tau2_ps: float = 100.0
    msd_amplitude2_angstrom2: float = 0.0
    msd_tau2_ps: float = 100.0
    width_amplitude2: float = 0.0
    width_tau2_ps: float = 100.0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not np.isfinite(value):
                raise ConfigError(f"peak dynamics: {f.name} must be a finite number, got {value}")
            if f.name.endswith("_ps") and value <= 0:
                raise ConfigError(f"peak dynamics: time constant {f.name} must be > 0 ps, got {value}")

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "peak dynamics") -> PeakDynamics:
        """Build from a dict of the attribute names; unknown keys are a :class:`ConfigError`."""
        names = {f.name for f in dataclasses.fields(cls)}
        bad = sorted(set(data) - names)
        if bad:
            raise ConfigError(f"{where}: unknown key(s) {bad}; valid keys are {', '.join(sorted(names))}")
        return cls(**{k: float(v) for k, v in data.items()})

    def _params(self, obs: str) -> tuple[float, float, float, float]:
        suffix = "_angstrom2" if obs == "msd" else ""
        return (getattr(self, f"{obs}_amplitude{suffix}"), getattr(self, f"{obs}_tau_ps"),
                getattr(self, f"{obs}_amplitude2{suffix}"), getattr(self, f"{obs}_tau2_ps"))

    def trajectory(self, observable: str, delay_ps: np.ndarray, *, t0_ps: float, irf_fwhm_ps: float) -> np.ndarray:
        """Value of ``observable`` (``"strain"``, ``"msd"`` or ``"width"``) at ``delay_ps`` [ps].

        Examples
        --------
        >>> d = PeakDynamics(strain_amplitude=1e-3, strain_tau_ps=5.0)
        >>> float(d.trajectory("strain", 1e4, t0_ps=0.0, irf_fwhm_ps=0.5))
        0.001
        """
        if observable not in _OBSERVABLES:
            raise ConfigError(f"observable must be one of {_OBSERVABLES}, got {observable!r}")
        a1, t1, a2, t2 = self._params(observable)
        return biexp_rise(np.asarray(delay_ps, dtype=float), a1, t1, a2, t2, t0_ps, irf_fwhm_ps)

    def truth(self) -> dict[str, float]:
        """The JSON-safe kinetic parameters in the truth.json vocabulary (second terms only if used)."""
        out = {
            "strain_amplitude": self.strain_amplitude, "strain_tau_ps": self.strain_tau_ps,
            "msd_amplitude_angstrom2": self.msd_amplitude_angstrom2, "msd_tau_ps": self.msd_tau_ps,
            "width_amplitude": self.width_amplitude, "width_tau_ps": self.width_tau_ps,
        }
        for obs in _OBSERVABLES:
            _, _, a2, t2 = self._params(obs)
            if a2 != 0.0:
                suffix = "_angstrom2" if obs == "msd" else ""
                out[f"{obs}_amplitude2{suffix}"] = a2
                out[f"{obs}_tau2_ps"] = t2
        return out


def cubic_harmonic_weights(hkl: tuple[int, int, int] | str) -> np.ndarray:
    """Weights (w100, w110, w111) with p(hkl) = Σ w_f p_f for a cubic-harmonic direction property.

    Examples
    --------
    >>> np.round(cubic_harmonic_weights("400"), 12).tolist(), np.round(cubic_harmonic_weights("222"), 12).tolist()
    ([1.0, 0.0, 0.0], [0.0, 0.0, 1.0])
    """
    n = np.asarray(parse_hkl(hkl), dtype=float)
    n /= np.linalg.norm(n)
    k4, k6 = float(np.sum(n**4)), float(np.prod(n**2))
    # rows: the three principal directions, columns: (1, K4, K6)
    basis = np.array([[1.0, 1.0, 0.0], [1.0, 0.5, 0.0], [1.0, 1.0 / 3.0, 1.0 / 27.0]])
    w = np.linalg.solve(basis.T, np.array([1.0, k4, k6]))
    return np.where(np.abs(w) < 1e-12, 0.0, w)


def interpolate_dynamics(family_dynamics: dict[str, PeakDynamics], hkl: tuple[int, int, int] | str) -> PeakDynamics:
    """Dynamics of ``hkl`` from those of the three principal families (cubic-harmonic interpolation).

    Time constants are interpolated like amplitudes and kept >= 0.1 ps.
    """
    missing = [f for f in FAMILIES if f not in family_dynamics]
    if missing:
        raise ConfigError(f"dynamics for families {missing} are needed to interpolate {hkl!r}")
    w = cubic_harmonic_weights(hkl)
    values = {}
    for f in dataclasses.fields(PeakDynamics):
        v = sum(wi * getattr(family_dynamics[fam], f.name) for wi, fam in zip(w, FAMILIES, strict=True))
        values[f.name] = max(v, 0.1) if f.name.endswith("_ps") else v
    return PeakDynamics(**values)


def dynamics_for_reflections(
    labels: list[str], peaks: dict[str, PeakDynamics], *, default: PeakDynamics | None = None
) -> list[PeakDynamics]:
    """Dynamics of each reflection label.

    ``peaks`` maps hkl labels (``"200"``) and/or family labels (``"<100>"``) to
    dynamics. A reflection takes, in order: its own entry; its family's entry;
    the cubic-harmonic interpolation of the three family entries (if all
    present); ``default``; else a static reflection (all zero).
    """
    by_hkl: dict[tuple[int, int, int], PeakDynamics] = {}
    fams: dict[str, PeakDynamics] = {}
    for key, dyn in peaks.items():
        if key.strip().startswith("<"):
            if key.strip() not in FAMILIES:
                raise ConfigError(f"unknown direction family {key!r}; use one of {', '.join(FAMILIES)} or an hkl")
            fams[key.strip()] = dyn
        else:
            by_hkl[parse_hkl(key)] = dyn
    unknown = sorted(set(by_hkl) - {parse_hkl(label) for label in labels})
    if unknown:
        raise ConfigError(f"dynamics given for reflection(s) {', '.join(''.join(map(str, h)) for h in unknown)} that "
                          f"the simulation does not contain (its rings: {', '.join(labels)}); fix or remove them")
    out = []
    for label in labels:
        hkl = parse_hkl(label)
        fam = direction_family(hkl)
        if hkl in by_hkl:
            out.append(by_hkl[hkl])
        elif fam in fams:
            out.append(fams[fam])
        elif all(f in fams for f in FAMILIES):
            out.append(interpolate_dynamics(fams, hkl))
        else:
            out.append(default or PeakDynamics())
    return out
