"""``uedflow crystal``: the rings a crystal gives (a CIF file or a built-in material), one row per family."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
import numpy as np

if TYPE_CHECKING:
    from uedflow.crystal import Crystal

__all__ = ["crystal_cmd"]


def _read_profile(path: str, s_factor: float) -> tuple[np.ndarray, np.ndarray]:
    """(s [Å⁻¹], intensity) from a .npy array (2, N) or (N, 2), or a two-column text file; s times ``s_factor``."""
    from uedflow.errors import InputError

    try:
        data = np.load(path) if path.endswith(".npy") else np.loadtxt(path, delimiter=None if "," not in
                                                                       open(path).readline() else ",")
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the profile {path} ({exc}); give a .npy array of rows s, I or a "
                         "two-column text file") from None
    data = np.asarray(data, float)
    if data.ndim != 2 or 2 not in data.shape:
        raise InputError(f"profile {path} has shape {data.shape}; give two rows or two columns: s [Å⁻¹], I")
    s, y = data if data.shape[0] == 2 else data.T
    return s * s_factor, y


@click.command("crystal")
@click.argument("materials", nargs=-1, required=True)
@click.option("--s-max", type=float, default=1.2, show_default=True, help="Largest s = 1/d [Å⁻¹].")
@click.option("--resolution", type=float, default=0.0, show_default=True,
              help="Families closer than this [Å⁻¹] are listed as one composite ring (0: every family alone).")
@click.option("--csv", "as_csv", is_flag=True, help="Comma-separated values instead of a table.")
@click.option("--write-cif", type=click.Path(dir_okay=False), help="Also write the (first) crystal as a CIF file.")
@click.option("--profile", type=click.Path(exists=True, dir_okay=False),
              help="A powder profile (s, I): index its peaks with each MATERIAL and rank them by figure of merit.")
@click.option("--s-factor", type=float, default=1.0, show_default=True,
              help="Multiply the profile's s by this (2 for profiles in sinθ/λ).")
def crystal_cmd(materials: tuple[str, ...], s_max: float, resolution: float, as_csv: bool, write_cif: str | None,
                profile: str | None, s_factor: float) -> None:
    """Reflection families of each MATERIAL (a .cif file or a built-in name: Au, Al, Si, graphite, Bi, MoS2, VO2-M1,
    VO2-R, CdSe-wurtzite, PbSe, ...): h k l, d [Å], s = 1/d [Å⁻¹], multiplicity, |F|² [Å²] (electron scattering
    factors, per-site B/U) and the relative powder intensity m|F|²/s² (100 = strongest). With --resolution,
    families closer than that in s form composite rings; the last column says whether a ring is pure. With
    --profile, the profile's peaks are indexed with each MATERIAL instead and the phases ranked.

    \b
    Examples:
      uedflow crystal Bi --s-max 0.8
      uedflow crystal sample.cif --s-max 1.2 --csv > rings.csv
      uedflow crystal VO2-M1 VO2-R --profile powder.npy --s-factor 2
    """
    from pathlib import Path

    from uedflow.crystal import crystal_to_cif, get_crystal

    crystals = [get_crystal(m) for m in materials]
    if profile is not None:
        from uedflow.peaks.phases import rank_phases

        ranked = rank_phases(*_read_profile(profile, s_factor), crystals)
        for r in ranked:
            click.echo(r.report() + "\n")
        click.echo(f"best: {ranked[0].crystal} (figure of merit {ranked[0].figure_of_merit:.3f}; lower is better)")
    else:
        for i, crystal in enumerate(crystals):
            _print_families(crystal, s_max, resolution, as_csv, header=i == 0 or not as_csv)
    if write_cif:
        Path(write_cif).write_text(crystal_to_cif(crystals[0]))
        click.echo(f"wrote {write_cif}", err=True)


def _print_families(crystal: Crystal, s_max: float, resolution: float, as_csv: bool, *, header: bool) -> None:
    """The table (or CSV rows, with the header line if ``header``) of one crystal's families."""
    from uedflow.crystal import composite_rings, reflection_families

    families = reflection_families(crystal, s_max)
    rings = composite_rings(families, resolution)
    columns = ["ring", "h", "k", "l", "d_angstrom", "s_inv_angstrom", "multiplicity", "F2_angstrom2",
              "rel_intensity", "weight", "pure"]
    rows = [[str(i + 1), *map(str, f.hkl), f"{f.d_angstrom:.5f}", f"{f.s_inv_angstrom:.5f}", str(f.multiplicity),
             f"{f.f2_angstrom2:.4g}", f"{f.intensity:.2f}", f"{w:.3f}", "yes" if ring.pure else "no"]
            for i, ring in enumerate(rings) for f, w in zip(ring.members, ring.weights, strict=True)]
    if as_csv:
        if header:
            click.echo(",".join(["material", *columns]))
        for row in rows:
            click.echo(",".join([crystal.name, *row]))
    else:
        lat = crystal.lattice
        click.echo(f"# {crystal.name}: {crystal.space_group_symbol} (No. {crystal.space_group_number}), "
                   f"a b c = {lat.a:.4f} {lat.b:.4f} {lat.c:.4f} Å, α β γ = {lat.alpha:g} {lat.beta:g} {lat.gamma:g}°, "
                   f"{len(crystal.species)} atoms per cell; {crystal.reference}")
        widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(columns)]
        click.echo("  ".join(h.rjust(w) for h, w in zip(columns, widths, strict=True)))
        for row in rows:
            click.echo("  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)))
