"""``uedflow crystal``: the rings a crystal gives (a CIF file or a built-in material), one row per family."""

from __future__ import annotations

import click

__all__ = ["crystal_cmd"]


@click.command("crystal")
@click.argument("material")
@click.option("--s-max", type=float, default=1.2, show_default=True, help="Largest s = 1/d [Å⁻¹].")
@click.option("--resolution", type=float, default=0.0, show_default=True,
              help="Families closer than this [Å⁻¹] are listed as one composite ring (0: every family alone).")
@click.option("--csv", "as_csv", is_flag=True, help="Comma-separated values instead of a table.")
@click.option("--write-cif", type=click.Path(dir_okay=False), help="Also write the crystal as a CIF file.")
def crystal_cmd(material: str, s_max: float, resolution: float, as_csv: bool, write_cif: str | None) -> None:
    """Reflection families of MATERIAL (a .cif file or a built-in name: Au, Al, Si, graphite, Bi, MoS2, VO2-M1,
    VO2-R, CdSe-wurtzite, PbSe, ...): h k l, d [Å], s = 1/d [Å⁻¹], multiplicity, |F|² [Å²] (electron scattering
    factors, per-site B/U) and the relative powder intensity m|F|²/s² (100 = strongest). With --resolution,
    families closer than that in s form composite rings; the last column says whether a ring is pure.

    \b
    Examples:
      uedflow crystal Bi --s-max 0.8
      uedflow crystal sample.cif --s-max 1.2 --csv > rings.csv
    """
    from pathlib import Path

    from uedflow.crystal import composite_rings, crystal_to_cif, get_crystal, reflection_families

    crystal = get_crystal(material)
    families = reflection_families(crystal, s_max)
    rings = composite_rings(families, resolution)
    header = ["ring", "h", "k", "l", "d_angstrom", "s_inv_angstrom", "multiplicity", "F2_angstrom2",
              "rel_intensity", "weight", "pure"]
    rows = [[str(i + 1), *map(str, f.hkl), f"{f.d_angstrom:.5f}", f"{f.s_inv_angstrom:.5f}", str(f.multiplicity),
             f"{f.f2_angstrom2:.4g}", f"{f.intensity:.2f}", f"{w:.3f}", "yes" if ring.pure else "no"]
            for i, ring in enumerate(rings) for f, w in zip(ring.members, ring.weights, strict=True)]
    if as_csv:
        click.echo(",".join(header))
        for row in rows:
            click.echo(",".join(row))
    else:
        lat = crystal.lattice
        click.echo(f"# {crystal.name}: {crystal.space_group_symbol} (No. {crystal.space_group_number}), "
                   f"a b c = {lat.a:.4f} {lat.b:.4f} {lat.c:.4f} Å, α β γ = {lat.alpha:g} {lat.beta:g} {lat.gamma:g}°, "
                   f"{len(crystal.species)} atoms per cell; {crystal.reference}")
        widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
        click.echo("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
        for row in rows:
            click.echo("  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)))
    if write_cif:
        Path(write_cif).write_text(crystal_to_cif(crystal))
        click.echo(f"wrote {write_cif}", err=True)
