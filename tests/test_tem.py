"""TEM: FFT d-spacings and (111)/(200) on synthetic and real images, particle sizing, CLI."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import tifffile
from click.testing import CliRunner
from numpy.testing import assert_allclose

from uedflow.cli import main
from uedflow.crystal import structure_from_prototype
from uedflow.errors import FileFormatError, InputError
from uedflow.tem.fft import analyze_lattice_image, read_image
from uedflow.tem.sizing import size_particles
from uedflow.tem.synthetic import render_lattice_image, render_particle_image


@pytest.fixture(scope="module")
def attached():
    return render_lattice_image((384, 384), orientation="100", n_dots=8, seed=1)


@pytest.fixture(scope="module")
def random_dots():
    return render_lattice_image((384, 384), orientation="random", n_dots=8, seed=1)


def test_100_zone_has_no_111_and_random_has(attached, random_dots):
    a = analyze_lattice_image(attached, 0.05)
    r = analyze_lattice_image(random_dots, 0.05)
    assert a.success and r.success
    sig_a = {x["hkl"] for x in a.reflections if x["significant"]}
    assert {"200", "220"} <= sig_a
    # {111} planes are never edge-on along <100>: only leakage from the (200) tail remains
    assert a.ratio_111_200 < 0.05
    assert r.ratio_111_200 > 0.15
    assert r.ratio_111_200 > 5 * a.ratio_111_200
    # the measured d-spacings are those rendered (PbSe a = 6.12 Å), to 1.5 %
    for x in a.reflections:
        if x["hkl"] in ("200", "220"):
            assert_allclose(x["measured_d_angstrom"], x["d_angstrom"], rtol=0.015)
    assert "(111)/(200)" in a.report()


def test_no_fringes_flagged():
    rng = np.random.default_rng(5)
    res = analyze_lattice_image(rng.normal(size=(256, 256)), 0.05)
    assert not res.success and "no peaks found" in res.message
    blurred = analyze_lattice_image(np.add.outer(np.arange(256.0), np.arange(256.0)) + rng.normal(0, 1, (256, 256)), 0.05)
    assert not blurred.success


def test_pixel_too_coarse_and_bad_images(tmp_path):
    with pytest.raises(InputError, match="pixel size"):
        analyze_lattice_image(np.zeros((64, 64)) + np.random.default_rng(0).normal(size=(64, 64)), 1.0)
    with pytest.raises(FileFormatError, match="does not exist"):
        read_image(tmp_path / "missing.tif")
    (tmp_path / "x.dm3").write_bytes(b"0")
    with pytest.raises(FileFormatError, match="not a readable DM3/DM4 file"):
        read_image(tmp_path / "x.dm3")


def _atomap_adf():
    spec = importlib.util.find_spec("atomap")
    if spec is None:
        return None
    path = Path(spec.submodule_search_locations[0]) / "tests" / "datasets" / "test_ADF_cropped.hdf5"
    return path if path.exists() else None


@pytest.mark.skipif(_atomap_adf() is None, reason="real micrograph ships with the atomap package (not installed)")
def test_real_adf_stem_micrograph_srtio3():
    """Real ADF-STEM image of SrTiO3 [001] shipped by atomap (0.0093 nm pixels, hyperspy HDF5)."""
    import h5py

    with h5py.File(_atomap_adf()) as fh:
        grp = fh["Experiments/__unnamed__"]
        img = grp["data"][()].astype(float)
        pixel_nm = float(grp["axis-0"].attrs["scale"])
    # projected perovskite: a simple-cubic lattice of columns, a = 3.905 Å
    st = structure_from_prototype("sc", ["Ti"], 3.905, name="SrTiO3")
    res = analyze_lattice_image(img, pixel_nm, structure=st, s_max_inv_angstrom=0.75)
    sig = {x["hkl"]: x for x in res.reflections if x["significant"]}
    assert res.success and {"100", "110", "200"} <= set(sig)
    # lattice constant from the measured (110) and (200) spacings within 2 %
    for hkl, n2 in (("110", 2), ("200", 4)):
        assert_allclose(sig[hkl]["measured_d_angstrom"] * np.sqrt(n2), 3.905, rtol=0.02)


@pytest.mark.parametrize("n, gap_nm, noise", [(150, 0.75, 0.1), (420, 0.0, 0.2)])
def test_particle_sizing_recovers_distribution(n, gap_nm, noise):
    # sparse field, and a dense one (~40 % coverage) where neighbours may touch and must be split
    img, d = render_particle_image((320, 320), pixel_nm=0.5, n_particles=n, gap_nm=gap_nm, noise=noise, seed=6)
    res = size_particles(img, 0.5)
    truth_cov = (np.pi / 4 * (d / 0.5) ** 2).sum() / img.size
    assert res.success
    # border particles are excluded; the rest are measured to ~pixel accuracy
    assert abs(res.mean_nm - d.mean()) < 0.15
    assert abs(res.std_nm - d.std(ddof=1)) < 0.15
    assert_allclose(res.coverage, truth_cov, rtol=0.03)
    flat = size_particles(np.ones((64, 64)), 0.5)
    assert not flat.success and "no particles" in flat.message


def test_cli_tem_and_physics(tmp_path, attached):
    tifffile.imwrite(tmp_path / "lattice.tif", attached.astype(np.float32))
    runner = CliRunner()
    out = runner.invoke(main, ["tem", "fft", str(tmp_path / "lattice.tif"), "--pixel-nm", "0.05", "-o", str(tmp_path / "o")])
    assert out.exit_code == 0, out.output
    assert (tmp_path / "o" / "fft.png").stat().st_size > 1000
    assert "200" in (tmp_path / "o" / "fft_peaks.csv").read_text()
    img, _ = render_particle_image((160, 160), n_particles=30, seed=2)
    tifffile.imwrite(tmp_path / "low.tif", img.astype(np.float32))
    out = runner.invoke(main, ["tem", "size", str(tmp_path / "low.tif"), "--pixel-nm", "0.5", "-o", str(tmp_path / "s")])
    assert out.exit_code == 0, out.output
    assert "coverage" in out.output and (tmp_path / "s" / "sizes.csv").exists()
    out = runner.invoke(main, ["physics", "heating", "--fluence", "3.6", "--diameter", "5.5", "--temperature", "90",
                               "--excitons", "50"])
    assert out.exit_code == 0 and "temperature rise" in out.output
    bad = runner.invoke(main, ["physics", "heating", "--fluence", "-1", "--diameter", "5.5", "--temperature", "90"])
    assert bad.exit_code == 2 and "fluence" in bad.output
    bad = runner.invoke(main, ["physics", "heating", "--fluence", "1", "--diameter", "5.5", "--temperature", "90",
                               "--material", "Xx"])
    assert bad.exit_code == 2 and "unknown material" in bad.output
