"""``uedflow physics``: laser heating, Debye-model and thermal-expansion calculators."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["physics_group"]


@click.group("physics")
def physics_group() -> None:
    """Heating, Debye model, thermal-expansion and texture calculators."""


@physics_group.command("heating", short_help="Excitons per dot and lattice temperature rise.")
@click.option("--fluence", type=float, required=True, help="Pump fluence [mJ/cm²].")
@click.option("--diameter", type=float, required=True, help="Dot diameter [nm].")
@click.option("--temperature", type=float, required=True, help="Base temperature [K].")
@click.option("--wavelength", type=float, default=800.0, show_default=True, help="Pump wavelength [nm].")
@click.option("--material", default="PbSe", show_default=True, help="Dot material (PbSe or PbS cross-sections).")
@click.option("--debye-temperature", type=float, default=None, help="Debye temperature [K] (default per material).")
@click.option("--cross-section", type=float, default=None, help="Absorption cross-section per dot [cm²].")
@click.option("--excitons", type=float, default=None, help="Excitons per dot, overriding σ × photons.")
@click.option("--host-index", type=float, default=None, show_default=True,
              help="Refractive index around the dot (local-field factor; default 1.45, an oleate shell).")
def heating_cmd(fluence: float, diameter: float, temperature: float, wavelength: float, material: str,
                debye_temperature: float | None, cross_section: float | None, excitons: float | None,
                host_index: float | None) -> None:
    """Excitons per dot and lattice temperature rise (Debye heat capacity).

    \b
    Example (the paper's conditions):
      uedflow physics heating --fluence 3.6 --diameter 5.5 --temperature 90
    """
    from uedflow.physics.heating import DEFAULT_HOST_INDEX, laser_heating

    res = laser_heating(
        fluence, diameter, temperature, wavelength_nm=wavelength, material=material,
        debye_temperature_K=debye_temperature, cross_section_cm2=cross_section, excitons_per_dot=excitons,
        host_index=DEFAULT_HOST_INDEX if host_index is None else host_index,
    )
    click.echo(res.table())


@physics_group.command("debye", short_help="⟨u²⟩(T), B factor and heat capacity (Debye model).")
@click.option("--temperature", type=float, multiple=True, required=True, help="Temperature [K] (repeatable).")
@click.option("--debye-temperature", type=float, required=True, help="Debye temperature [K].")
@click.option("--material", default="PbSe", show_default=True, help="Material whose atoms to use.")
def debye_cmd(temperature: tuple[float, ...], debye_temperature: float, material: str) -> None:
    """⟨u²⟩ per element and mass-weighted, B = 8π²⟨u²⟩, C_V per atom.

    \b
    Example:
      uedflow physics debye --temperature 90 --temperature 240 --debye-temperature 250
    """
    import numpy as np

    from uedflow.crystal import get_structure
    from uedflow.physics.debye import heat_capacity_debye_kB, msd_compound_angstrom2, msd_per_atom_angstrom2

    st = get_structure(material)
    els = list(st.elements)
    per = msd_per_atom_angstrom2(list(temperature), debye_temperature, els)
    comp = msd_compound_angstrom2(np.asarray(temperature), debye_temperature, list(st.species))
    head = "T [K]   " + "   ".join(f"<u²>_{e} [Å²]" for e in els) + "   <u²>_mass-wt [Å²]   B_mass-wt [Å²]   C_V [k_B]"
    click.echo(head)
    for i, t in enumerate(temperature):
        cols = "   ".join(f"{v:12.5f}" for v in per[i])
        cv = float(heat_capacity_debye_kB(t, debye_temperature))
        click.echo(f"{t:7.1f} {cols}   {comp[i]:17.5f}   {8 * np.pi**2 * comp[i]:14.4f}   {cv:9.4f}")


@physics_group.command("expansion", short_help="Lattice temperature from a measured strain.")
@click.option("--temperature", type=float, required=True, help="Base temperature [K].")
@click.option("--strain", type=float, required=True, help="Measured strain Δa/a (fraction, not per cent).")
@click.option("--material", default="PbSe", show_default=True, help="PbSe or PbS (bulk α(T) model).")
def expansion_cmd(temperature: float, strain: float, material: str) -> None:
    """Lattice temperature from a strain with the bulk α(T) model.

    \b
    Example:
      uedflow physics expansion --temperature 90 --strain 1.2e-3
    """
    from uedflow.physics.expansion import EXPANSION_MODELS, linear_expansion_coefficient, temperature_from_strain

    t = float(temperature_from_strain(strain, temperature, material))
    click.echo(f"alpha({temperature:g} K) = {float(linear_expansion_coefficient(temperature, material)) * 1e6:.2f}e-6 /K")
    click.echo(f"strain {strain:.3e} from {temperature:g} K -> {t:.1f} K (rise {t - temperature:.1f} K)")
    click.echo(f"source: {EXPANSION_MODELS[next(k for k in EXPANSION_MODELS if k.lower() == material.lower())][2]}")


@physics_group.command("texture", short_help="Ring-intensity texture check against a random powder.")
@click.argument("dynamics", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--axis", default="100", show_default=True, help="Candidate crystal axis along the beam (hkl).")
@click.option("--reference", default="200", show_default=True, help="Ring the intensity ratios are taken to.")
@click.option("--msd", type=float, default=None,
              help="⟨u²⟩ [Å²] of the random powder (default: Debye model at the sample temperature).")
@click.option("--error-floor", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Smallest relative 1σ of a ring area (e.g. 0.02 for line-shape and background errors).")
def texture_cmd(dynamics: Path, axis: str, reference: str, msd: float | None, error_floor: float) -> None:
    """Compare the ring intensities before time zero in DYNAMICS (dynamics.h5) with a random powder
    (the paper's Figure S6) and fit a March–Dollase fibre texture (r = 1: random; r < 1: AXIS along the
    beam, as for dots attached along it and lying flat).

    \b
    Example:
      uedflow physics texture out/dynamics.h5 --axis 100
    """
    from uedflow.dynamics import open_dynamics
    from uedflow.physics.texture import texture_from_dynamics

    click.echo(texture_from_dynamics(open_dynamics(dynamics), axis=axis, reference=reference,
                                     msd_angstrom2=msd, error_floor=error_floor).report())
