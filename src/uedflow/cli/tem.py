"""``uedflow tem``: FFT d-spacing analysis and particle sizing of TEM images."""

from __future__ import annotations

import csv
from pathlib import Path

import click

from uedflow.io.atomic import atomic_path

__all__ = ["tem_group"]


@click.group("tem")
def tem_group() -> None:
    """TEM image analysis: FFT d-spacings and (111)/(200) ratio, particle sizing."""


def _outputs(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)


@tem_group.command("fft", short_help="FFT d-spacings and the (111)/(200) ratio.")
@click.argument("image", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--pixel-nm", type=float, required=True, help="Pixel size [nm].")
@click.option("--material", default="PbSe", show_default=True, help="Crystal whose reflections identify peaks.")
@click.option("-o", "--output", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Output folder (fft.png, fft_peaks.csv).")
def fft_cmd(image: Path, pixel_nm: float, material: str, out: Path) -> None:
    """Radially integrated FFT of a lattice image, peaks as d-spacings, (111)/(200).

    IMAGE is a TIFF, PNG or DM3/DM4 lattice-resolved micrograph.

    \b
    Example:
      uedflow tem fft dots.tif --pixel-nm 0.05 -o tem-fft
    """
    from uedflow.tem.fft import analyze_lattice_image, read_image

    res = analyze_lattice_image(read_image(image), pixel_nm, structure=material)
    _outputs(out)
    with atomic_path(out / "fft_peaks.csv") as tmp, tmp.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["hkl", "d_angstrom", "freq_nm_inv", "measured_d_angstrom", "intensity", "intensity_err",
                    "normalized_to_200", "significant"])
        for r in res.reflections:
            w.writerow([r["hkl"], f"{r['d_angstrom']:.5f}", f"{r['freq_nm_inv']:.5f}", f"{r['measured_d_angstrom']:.5f}",
                        f"{r['intensity']:.6g}", f"{r['intensity_err']:.6g}", f"{r['normalized']:.6g}",
                        int(r["significant"])])
    _plot_fft(res, out / "fft.png")
    click.echo(res.report())
    if not res.success:
        click.echo(f"warning: {res.message}", err=True)


def _plot_fft(res, path: Path) -> None:  # noqa: ANN001
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    sel = res.freq_nm_inv > 4 * res.freq_nm_inv[1]
    ax.semilogy(res.freq_nm_inv[sel], res.intensity[sel], lw=1, label="radial FFT")
    ax.semilogy(res.freq_nm_inv[sel], res.background[sel], lw=0.8, ls="--", label="background")
    for r in res.reflections:
        if r["significant"]:
            ax.axvline(r["freq_nm_inv"], color="0.6", lw=0.6)
            ax.text(r["freq_nm_inv"], ax.get_ylim()[1], r["hkl"], rotation=90, va="top", fontsize=7)
    ax.set_xlabel("spatial frequency (nm$^{-1}$)")
    ax.set_ylabel("power (a.u.)")
    ax.set_title(f"(111)/(200) = {res.ratio_111_200:.3f}" if res.success else res.message[:60], fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


@tem_group.command("size", short_help="Particle diameters and substrate coverage.")
@click.argument("image", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--pixel-nm", type=float, required=True, help="Pixel size [nm].")
@click.option("--bright-particles", is_flag=True, help="Particles brighter than the substrate (dark field/HAADF).")
@click.option("--min-diameter-nm", type=float, default=1.0, show_default=True,
              help="Smaller objects are ignored as noise [nm].")
@click.option("-o", "--output", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Output folder (sizes.png, sizes.csv).")
def size_cmd(image: Path, pixel_nm: float, bright_particles: bool, min_diameter_nm: float, out: Path) -> None:
    """Segment particles: diameter distribution (mean ± std) and substrate coverage.

    IMAGE is a low-magnification TIFF or PNG micrograph (dark particles on a bright substrate by default).

    \b
    Example:
      uedflow tem size overview.tif --pixel-nm 0.5 -o tem-size
    """
    from uedflow.tem.fft import read_image
    from uedflow.tem.sizing import size_particles

    img = read_image(image)
    res = size_particles(img, pixel_nm, dark_particles=not bright_particles, min_diameter_nm=min_diameter_nm)
    _outputs(out)
    with atomic_path(out / "sizes.csv") as tmp, tmp.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["particle", "diameter_nm"])
        for i, d in enumerate(res.diameters_nm):
            w.writerow([i + 1, f"{d:.4f}"])
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a0, a1) = plt.subplots(1, 2, figsize=(8, 3.5))
    a0.imshow(img, cmap="gray")
    a0.contour(res.labels > 0, levels=[0.5], colors="r", linewidths=0.5)
    a0.set_axis_off()
    if res.diameters_nm.size:
        a1.hist(res.diameters_nm, bins="auto")
    a1.set_xlabel("diameter (nm)")
    a1.set_title(f"{res.mean_nm:.2f} ± {res.std_nm:.2f} nm, coverage {res.coverage:.0%}", fontsize=8)
    fig.tight_layout()
    with atomic_path(out / "sizes.png") as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    click.echo(
        f"particles: {res.diameters_nm.size}  diameter: {res.mean_nm:.2f} ± {res.std_nm:.2f} nm  "
        f"coverage: {res.coverage:.1%}"
    )
    if not res.success:
        click.echo(f"warning: {res.message}", err=True)
