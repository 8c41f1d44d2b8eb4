"""Laser heating of nanocrystals: fluence → excitons per dot → lattice temperature.

Chain (every step a pure function, units in the names):

1. photons per cm² = F / (h c / λ);
2. absorption cross-section σ of one dot at the pump wavelength. Unless given,
   it follows Moreels et al. (PbSe: Chem. Mater. 19, 6101 (2007); PbS: ACS Nano
   3, 3023 (2009)), who showed that well above the band gap σ = V μ_i with the
   *bulk* dielectric function ε = (n + ik)² screened by the local-field factor of
   a sphere in a host of refractive index n_s:

   .. math::

       \\sigma = V\\,\\frac{2\\pi}{\\lambda}\\,\\frac{1}{n_s}\\,
                 \\Big|\\frac{3 n_s^2}{\\varepsilon + 2 n_s^2}\\Big|^2\\,\\mathrm{Im}\\,\\varepsilon

   (bulk PbSe n, k: Suzuki, Sawai & Adachi, J. Appl. Phys. 77, 1249 (1995));
3. excitons per dot ⟨N⟩ = σ × photons per cm² (mean of a Poisson distribution;
   a fraction 1 − e^{−⟨N⟩} of the dots absorbs at least one photon);
4. heat per dot E = ⟨N⟩ × energy per exciton (by default the whole photon
   energy: Auger recombination and carrier cooling hand it all to the lattice);
5. lattice temperature from energy conservation with the Debye heat capacity,
   N_atoms [U(T₀ + ΔT) − U(T₀)] + C_ligand ΔT = E, solved for ΔT — not a
   constant heat capacity, which overestimates ΔT from a low base temperature.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Any

import numpy as np
from scipy.optimize import brentq

from uedflow.constants import AVOGADRO_PER_MOL, BOLTZMANN_J_K, ELEMENTARY_CHARGE_C, PLANCK_J_S, SPEED_OF_LIGHT_M_S
from uedflow.crystal import get_structure
from uedflow.errors import CrystalError, InputError
from uedflow.physics.debye import energy_debye_eV, heat_capacity_debye_kB

__all__ = [
    "HeatingResult",
    "laser_heating",
    "photon_energy_eV",
    "photons_per_cm2",
    "atoms_per_dot",
    "absorption_cross_section_cm2",
    "bulk_optical_constants",
    "temperature_rise_debye",
    "DEFAULT_DEBYE_TEMPERATURE_K",
    "DEFAULT_HOST_INDEX",
]

_KB_EV = BOLTZMANN_J_K / ELEMENTARY_CHARGE_C

#: Debye temperatures [K] used when none is given, with their source.
DEFAULT_DEBYE_TEMPERATURE_K: dict[str, tuple[float, str]] = {
    "PbSe": (250.0, "~250 K for 6 nm PbSe QDs as quoted by Yue et al., J. Phys. Chem. Lett. 15, 7667 (2024)"),
}

#: Refractive index n_s around a dot used by every cross-section calculation unless given: the oleate
#: ligand shell (oleic acid n ≈ 1.46), close to the C₂Cl₄/toluene (n ≈ 1.5) in which published
#: cross-sections are measured. A bare dot in vacuum (n_s = 1.0) absorbs about 2.7× less at 800 nm.
DEFAULT_HOST_INDEX = 1.45


def _positive(name: str, value: float, unit: str, fix: str = "") -> float:
    v = float(value)
    if not np.isfinite(v) or v <= 0:
        raise InputError(f"{name} must be a positive number of {unit}, got {value!r}{'; ' + fix if fix else ''}")
    return v


def photon_energy_eV(wavelength_nm: float) -> float:
    """Photon energy h c / λ [eV] of light of vacuum wavelength λ [nm].

    Examples
    --------
    >>> round(photon_energy_eV(800.0), 4)
    1.5498
    """
    lam = _positive("wavelength_nm", wavelength_nm, "nm")
    return PLANCK_J_S * SPEED_OF_LIGHT_M_S / (lam * 1e-9) / ELEMENTARY_CHARGE_C


def photons_per_cm2(fluence_mJ_cm2: float, wavelength_nm: float) -> float:
    """Incident photons per cm² of a pulse of fluence F [mJ/cm²].

    Examples
    --------
    >>> f"{photons_per_cm2(3.6, 800.0):.3e}"
    '1.450e+16'
    """
    f = _positive("fluence_mJ_cm2", fluence_mJ_cm2, "mJ/cm²", "give the pump fluence, e.g. --fluence 3.6")
    return f * 1e-3 / (photon_energy_eV(wavelength_nm) * ELEMENTARY_CHARGE_C)


def _material_structure(material: str):  # noqa: ANN202 - Structure
    try:
        return get_structure(material)
    except CrystalError as exc:
        raise CrystalError(f"heating: {exc}") from None


def atoms_per_dot(material: str, diameter_nm: float) -> float:
    """Number of atoms in a sphere of diameter d [nm] of the bulk crystal.

    N = (π d³ / 6) × (atoms per conventional cell) / a³; the rock-salt cell of
    PbSe (a = 6.12 Å) holds 8 atoms.

    Examples
    --------
    >>> round(atoms_per_dot("PbSe", 5.5))
    3040
    """
    d = _positive("diameter_nm", diameter_nm, "nm", "give the mean dot diameter from TEM")
    st = _material_structure(material)
    volume_nm3 = np.pi / 6.0 * d**3
    return float(volume_nm3 * len(st.species) / (st.a_angstrom / 10.0) ** 3)


def bulk_optical_constants(material: str, wavelength_nm: float) -> tuple[float, float, str]:
    """Bulk refractive index n and extinction k at λ [nm] (linear interpolation).

    Returns
    -------
    n, k : float
    source : str
        Citation of the tabulated data.

    Raises
    ------
    InputError
        No tabulated data for the material or the wavelength out of range.

    Examples
    --------
    >>> n, k, _ = bulk_optical_constants("PbSe", 800.0)
    >>> round(n, 3), round(k, 3)
    (5.195, 1.734)
    """
    table = json.loads(resources.files("uedflow.physics").joinpath("data/optical_constants.json").read_text())
    names = {k.lower(): k for k in table}
    if material.lower() not in names:
        raise InputError(
            f"no tabulated optical constants for {material!r} (available: {', '.join(table)}); "
            "give the absorption cross-section (--cross-section CM2) or bulk_nk=(n, k)"
        )
    entry = table[names[material.lower()]]
    lam = np.asarray(entry["wavelength_nm"])
    w = _positive("wavelength_nm", wavelength_nm, "nm")
    if not lam[0] <= w <= lam[-1]:
        raise InputError(
            f"wavelength {w} nm outside the tabulated range {lam[0]:.0f}-{lam[-1]:.0f} nm of {material}; "
            "give the absorption cross-section (--cross-section CM2) instead"
        )
    return float(np.interp(w, lam, entry["n"])), float(np.interp(w, lam, entry["k"])), entry["source"]


def absorption_cross_section_cm2(
    material: str,
    diameter_nm: float,
    wavelength_nm: float,
    *,
    host_index: float = DEFAULT_HOST_INDEX,
    bulk_nk: tuple[float, float] | None = None,
) -> float:
    """Absorption cross-section σ [cm²] of one spherical dot, bulk-ε local-field model.

    .. math::

        \\sigma = \\frac{\\pi d^3}{6}\\,\\frac{2\\pi}{\\lambda}\\,\\frac{1}{n_s}\\,
                  \\Big|\\frac{3 n_s^2}{\\varepsilon + 2 n_s^2}\\Big|^2\\,2nk

    Valid well above the band gap (Moreels et al. 2007, 2009), e.g. 800 nm pump
    (1.55 eV) on PbSe dots of gap ~0.7 eV.

    Parameters
    ----------
    material : str
        Built-in material with tabulated optical constants (PbSe), unless ``bulk_nk``.
    diameter_nm : float
        Dot diameter [nm].
    wavelength_nm : float
        Pump vacuum wavelength [nm].
    host_index : float
        Refractive index n_s around the dot (default :data:`DEFAULT_HOST_INDEX`, 1.45,
        an oleate ligand shell); 1.0 for bare dots in vacuum, 1.5 in C₂Cl₄ solution.
    bulk_nk : (float, float), optional
        Bulk (n, k) at the pump wavelength, overriding the table.

    Examples
    --------
    >>> f"{absorption_cross_section_cm2('PbSe', 5.5, 800.0):.2e}"
    '3.02e-15'
    >>> f"{absorption_cross_section_cm2('PbSe', 5.5, 800.0, host_index=1.0):.2e}"
    '1.11e-15'
    """
    d = _positive("diameter_nm", diameter_nm, "nm")
    lam = _positive("wavelength_nm", wavelength_nm, "nm")
    ns = _positive("host_index", host_index, "(refractive index)")
    n, k = bulk_nk if bulk_nk is not None else bulk_optical_constants(material, lam)[:2]
    eps = complex(n, k) ** 2
    em = ns * ns
    local_field2 = abs(3 * em / (eps + 2 * em)) ** 2
    mu_cm = 2 * np.pi / (lam * 1e-7) / ns * local_field2 * eps.imag
    volume_cm3 = np.pi / 6.0 * (d * 1e-7) ** 3
    return float(volume_cm3 * mu_cm)


def temperature_rise_debye(
    energy_eV: float,
    n_atoms: float,
    base_temperature_K: float,
    debye_temperature_K: float,
    *,
    extra_heat_capacity_eV_per_K: float = 0.0,
) -> float:
    """Temperature rise ΔT [K] that stores ``energy_eV`` in a Debye solid of n_atoms atoms.

    Solves n_atoms [U(T₀+ΔT) − U(T₀)] + C_extra ΔT = E with U the Debye energy
    per atom (:func:`~uedflow.physics.debye.energy_debye_eV`).

    Examples
    --------
    >>> dt = temperature_rise_debye(3 * 8.617333262e-05 * 100 * 1000, 1000, 1e4, 250.0)
    >>> round(dt, 1)   # Dulong-Petit limit: E = 3 N k ΔT
    100.0
    """
    e = float(energy_eV)
    if not np.isfinite(e) or e < 0:
        raise InputError(f"absorbed energy must be >= 0 eV, got {energy_eV!r}")
    n = _positive("n_atoms", n_atoms, "atoms")
    t0 = _positive("base_temperature_K", base_temperature_K, "K")
    theta = _positive("debye_temperature_K", debye_temperature_K, "K")
    if e == 0:
        return 0.0
    u0 = float(energy_debye_eV(t0, theta))

    def residual(dt: float) -> float:
        return n * (float(energy_debye_eV(t0 + dt, theta)) - u0) + extra_heat_capacity_eV_per_K * dt - e

    hi = e / (3 * n * _KB_EV) * 2 + 10.0
    while residual(hi) < 0:
        hi *= 2
    return float(brentq(residual, 0.0, hi, xtol=1e-9))


@dataclass(frozen=True)
class HeatingResult:
    """Laser heating of one nanocrystal, every input and intermediate kept.

    ``success`` is False (with ``message``) when the estimate is outside its
    validity (e.g. a pump photon below ~2 × the dot's band gap was not checked
    and the user gave no cross-section); numbers are still filled.
    """

    material: str
    diameter_nm: float
    fluence_mJ_cm2: float
    wavelength_nm: float
    base_temperature_K: float
    debye_temperature_K: float
    debye_temperature_source: str
    photon_energy_eV: float
    photons_per_cm2: float
    cross_section_cm2: float
    cross_section_source: str
    host_index: float
    excitons_per_dot: float
    excitons_source: str
    fraction_excited: float
    energy_per_exciton_eV: float
    energy_per_dot_eV: float
    n_atoms: float
    ligand_heat_capacity_eV_per_K: float
    rise_K: float
    final_temperature_K: float
    rise_dulong_petit_K: float
    rise_constant_cv_K: float
    heat_capacity_base_kB: float
    success: bool
    message: str

    def summary(self) -> dict[str, Any]:
        """JSON-safe dict of all fields."""
        return {k: (float(v) if isinstance(v, np.floating) else v) for k, v in asdict(self).items()}

    def table(self) -> str:
        """Plain-text table of inputs, intermediate values and the result."""
        rows = [
            ("material", self.material, ""),
            ("dot diameter", f"{self.diameter_nm:.3g}", "nm"),
            ("pump fluence", f"{self.fluence_mJ_cm2:.3g}", "mJ/cm²"),
            ("pump wavelength", f"{self.wavelength_nm:.4g}", "nm"),
            ("photon energy", f"{self.photon_energy_eV:.4f}", "eV"),
            ("photons per area", f"{self.photons_per_cm2:.3e}", "1/cm²"),
            ("absorption cross-section", f"{self.cross_section_cm2:.3e}", "cm²"),
            ("  source", self.cross_section_source, ""),
            ("excitons per dot <N>", f"{self.excitons_per_dot:.1f}", ""),
            ("  source", self.excitons_source, ""),
            ("dots excited (1-e^-N)", f"{self.fraction_excited:.3f}", ""),
            ("heat per exciton", f"{self.energy_per_exciton_eV:.4f}", "eV"),
            ("heat per dot", f"{self.energy_per_dot_eV:.1f}", "eV"),
            ("atoms per dot", f"{self.n_atoms:.0f}", ""),
            ("ligand heat capacity", f"{self.ligand_heat_capacity_eV_per_K:.3g}", "eV/K"),
            ("base temperature", f"{self.base_temperature_K:.1f}", "K"),
            ("Debye temperature", f"{self.debye_temperature_K:.1f}", "K"),
            ("  source", self.debye_temperature_source, ""),
            ("C_V(T0) per atom", f"{self.heat_capacity_base_kB:.3f}", "k_B"),
            ("temperature rise (Debye C_V)", f"{self.rise_K:.1f}", "K"),
            ("final temperature", f"{self.final_temperature_K:.1f}", "K"),
            ("rise if C = 3k_B (Dulong-Petit)", f"{self.rise_dulong_petit_K:.1f}", "K"),
            ("rise if C = C_V(T0) constant", f"{self.rise_constant_cv_K:.1f}", "K"),
        ]
        w0 = max(len(r[0]) for r in rows)
        lines = [f"{a:<{w0}}  {b} {c}".rstrip() for a, b, c in rows]
        if self.message:
            lines.append(f"note: {self.message}")
        return "\n".join(lines)


def laser_heating(
    fluence_mJ_cm2: float,
    diameter_nm: float,
    base_temperature_K: float,
    *,
    wavelength_nm: float = 800.0,
    material: str = "PbSe",
    debye_temperature_K: float | None = None,
    cross_section_cm2: float | None = None,
    excitons_per_dot: float | None = None,
    host_index: float = DEFAULT_HOST_INDEX,
    bulk_nk: tuple[float, float] | None = None,
    energy_per_exciton_eV: float | None = None,
    ligands_per_nm2: float = 0.0,
    ligand_heat_capacity_J_mol_K: float = 0.0,
) -> HeatingResult:
    """Excitons per dot and lattice temperature rise for a pump pulse.

    Parameters
    ----------
    fluence_mJ_cm2 : float
        Incident pump fluence [mJ/cm²], > 0.
    diameter_nm : float
        Dot diameter [nm], > 0.
    base_temperature_K : float
        Sample temperature before the pump [K].
    wavelength_nm : float
        Pump vacuum wavelength [nm] (default 800).
    material : str
        Built-in material (for lattice constant, atoms per dot, optical constants).
    debye_temperature_K : float, optional
        Debye temperature [K]; default from :data:`DEFAULT_DEBYE_TEMPERATURE_K`.
    cross_section_cm2 : float, optional
        Absorption cross-section per dot [cm²], overriding the bulk-ε model.
    excitons_per_dot : float, optional
        Mean excitons per dot, overriding σ × photons (e.g. the paper's ~50).
    host_index : float
        Refractive index around the dot for the local-field factor; default
        :data:`DEFAULT_HOST_INDEX` (1.45, the oleate ligand shell). 1.0 (bare dot
        in vacuum) gives about 2.7× fewer excitons.
    bulk_nk : (float, float), optional
        Bulk (n, k) at the pump wavelength, overriding the table.
    energy_per_exciton_eV : float, optional
        Heat deposited per exciton [eV]; default the photon energy (all of it
        ends in the lattice). Give hν − E_g for a lower bound.
    ligands_per_nm2, ligand_heat_capacity_J_mol_K : float
        Optional ligand shell: surface density [nm⁻²] and molar heat capacity
        [J/(mol K)] of the ligands, heated together with the core (constant C).

    Raises
    ------
    InputError
        Non-positive fluence, diameter, temperature; no optical data.
    CrystalError
        Unknown material.

    Examples
    --------
    >>> r = laser_heating(3.6, 5.5, 90.0, excitons_per_dot=50)
    >>> 100 < r.rise_K < 200
    True
    """
    fl = _positive("fluence_mJ_cm2", fluence_mJ_cm2, "mJ/cm²", "give the pump fluence, e.g. --fluence 3.6")
    d = _positive("diameter_nm", diameter_nm, "nm", "give the mean dot diameter from TEM")
    t0 = _positive("base_temperature_K", base_temperature_K, "K")
    st = _material_structure(material)
    if debye_temperature_K is None:
        if st.name not in DEFAULT_DEBYE_TEMPERATURE_K:
            raise InputError(
                f"no default Debye temperature for {st.name}; give debye_temperature_K (--debye-temperature)"
            )
        theta, theta_src = DEFAULT_DEBYE_TEMPERATURE_K[st.name]
    else:
        theta, theta_src = _positive("debye_temperature_K", debye_temperature_K, "K"), "user value"
    hv = photon_energy_eV(wavelength_nm)
    phot = photons_per_cm2(fl, wavelength_nm)
    messages = []
    if cross_section_cm2 is not None:
        sigma = _positive("cross_section_cm2", cross_section_cm2, "cm²")
        sigma_src = "user value"
    else:
        sigma = absorption_cross_section_cm2(st.name, d, wavelength_nm, host_index=host_index, bulk_nk=bulk_nk)
        nk_src = "user (n, k)" if bulk_nk is not None else bulk_optical_constants(st.name, wavelength_nm)[2]
        sigma_src = f"bulk-ε local-field model (Moreels 2007/2009), host n_s = {host_index:g}; n, k: {nk_src}"
    if excitons_per_dot is not None:
        n_exc = float(excitons_per_dot)
        if not np.isfinite(n_exc) or n_exc < 0:
            raise InputError(f"excitons_per_dot must be >= 0, got {excitons_per_dot!r}")
        exc_src = "user value"
        model_n = sigma * phot
        messages.append(f"σ×photons would give {model_n:.1f} excitons/dot")
    else:
        n_exc = sigma * phot
        exc_src = "σ × photons per cm²"
    e_exc = hv if energy_per_exciton_eV is None else float(energy_per_exciton_eV)
    if not 0 <= e_exc <= hv * (1 + 1e-12):
        raise InputError(f"energy_per_exciton_eV must lie in [0, {hv:.3f}] eV (the photon energy), got {e_exc!r}")
    energy = n_exc * e_exc
    n_atoms = atoms_per_dot(st.name, d)
    if ligands_per_nm2 < 0 or ligand_heat_capacity_J_mol_K < 0:
        raise InputError("ligands_per_nm2 and ligand_heat_capacity_J_mol_K must be >= 0")
    n_lig = ligands_per_nm2 * np.pi * d * d
    c_lig = n_lig * ligand_heat_capacity_J_mol_K / AVOGADRO_PER_MOL / ELEMENTARY_CHARGE_C
    rise = temperature_rise_debye(energy, n_atoms, t0, theta, extra_heat_capacity_eV_per_K=c_lig)
    rise_dp = energy / (3 * n_atoms * _KB_EV + c_lig)
    cv0 = float(heat_capacity_debye_kB(t0, theta))
    if n_exc > 0.3 * n_atoms:
        messages.append("more than 0.3 excitons per atom: the dot would melt or ablate; check inputs")
    return HeatingResult(
        material=st.name, diameter_nm=d, fluence_mJ_cm2=fl, wavelength_nm=float(wavelength_nm),
        base_temperature_K=t0, debye_temperature_K=theta, debye_temperature_source=theta_src,
        photon_energy_eV=hv, photons_per_cm2=phot, cross_section_cm2=sigma, cross_section_source=sigma_src,
        host_index=float(host_index), excitons_per_dot=n_exc, excitons_source=exc_src,
        fraction_excited=float(-np.expm1(-n_exc)), energy_per_exciton_eV=e_exc, energy_per_dot_eV=energy,
        n_atoms=n_atoms, ligand_heat_capacity_eV_per_K=c_lig, rise_K=rise, final_temperature_K=t0 + rise,
        rise_dulong_petit_K=rise_dp, rise_constant_cv_K=energy / (cv0 * n_atoms * _KB_EV + c_lig),
        heat_capacity_base_kB=cv0,
        success=n_exc <= 0.3 * n_atoms, message="; ".join(messages),
    )
