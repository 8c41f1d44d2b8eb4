"""Geometry calibration from calibrant rings: centre, camera length, ellipticity or tilt against the rendering truth;
integration with the fitted geometry against the circular one."""

import dataclasses

import numpy as np
import pytest
from scipy.optimize import curve_fit

from _ringsynth import ring_image
from uedflow.crystal import get_structure, reflections
from uedflow.errors import GeometryError
from uedflow.reduce.calibrate import calibrant_rings, calibrate_geometry
from uedflow.reduce.geometry import Geometry
from uedflow.reduce.integrate import build_operator, integrate

AU = get_structure("Au")
#: Au rings (s, amplitude falling with s) and their Gaussian σ [1/Å]
RINGS = [(r.s_inv_angstrom, 1.0 / np.sqrt(1 + i)) for i, r in enumerate(reflections(AU, 2.0))]
WIDTH = 0.004


def _frame(truth: Geometry, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.poisson(ring_image(truth, RINGS, width=WIDTH, scale=300.0, background=50.0)).astype(float)


@pytest.fixture(scope="module")
def elliptical():
    truth = Geometry((512, 512), (251.3, 262.7), 5e-5, 0.30, 50.0, ellipticity=0.012, ellipse_angle_rad=0.7)
    image = _frame(truth)
    start = Geometry(truth.shape, (252.5, 261.0), 5e-5, 0.29, 50.0)  # 2 px and 3 % off, circular
    return truth, image, calibrate_geometry(image, start, AU)


def test_ellipticity_centre_and_length_recovered(elliptical):
    truth, _, cal = elliptical
    g, err = cal.geometry, cal.stderr
    assert cal.success and cal.rms_px < 0.05  # Poisson noise only: the ring points scatter ~0.02 px
    assert g.center_rc == pytest.approx(truth.center_rc, abs=0.01)
    assert g.camera_length_m == pytest.approx(truth.camera_length_m, rel=2e-5)
    assert g.ellipticity == pytest.approx(truth.ellipticity, abs=1e-4)
    assert g.ellipse_angle_rad == pytest.approx(truth.ellipse_angle_rad, abs=5e-3)
    for name, value, true in (("center_row_px", g.center_rc[0], truth.center_rc[0]),
                              ("center_col_px", g.center_rc[1], truth.center_rc[1]),
                              ("camera_length_m", g.camera_length_m, truth.camera_length_m),
                              ("ellipticity", g.ellipticity, truth.ellipticity)):
        assert abs(value - true) < 4 * err[name] + 1e-9, name
    assert [r.label for r in cal.rings[:4]] == ["111", "200", "220", "311"]
    assert all(r.rms_px < 0.05 and abs(r.mean_px) < 0.03 for r in cal.rings if r.n_points >= 16)
    assert "111" in cal.report() and cal.summary()["rings"][0]["n_points"] >= 60


def test_rings_sharp_and_in_place_only_with_the_fitted_ellipticity(elliptical):
    truth, image, cal = elliptical
    circular = calibrate_geometry(image, dataclasses.replace(cal.geometry, ellipticity=0.0), AU, distortion="none",
                                  search=0)
    assert circular.rms_px > 20 * cal.rms_px  # a circle cannot follow an elliptical ring

    s220 = RINGS[2][0]

    def ring_fit(geometry):
        """Gaussian σ and centre [1/Å] of the 220 ring integrated with ``geometry``."""
        op = build_operator(geometry, n_bins=240, s_range=(s220 - 0.03, s220 + 0.03))
        y = integrate(image, op).intensity[0]

        def model(s, a, s0, sig, b0, b1):
            return a * np.exp(-0.5 * ((s - s0) / sig) ** 2) + b0 + b1 * (s - s220)

        p, _ = curve_fit(model, op.s, y, p0=(y.max() - y.min(), s220, 0.003, y.min(), 0.0))
        return abs(p[2]), p[1]

    width_true, s_true = ring_fit(truth)
    width_fit, s_fit = ring_fit(cal.geometry)
    width_circ, s_circ = ring_fit(circular.geometry)
    assert width_true == pytest.approx(WIDTH, rel=0.1)  # σ of the rendered ring plus the pixel's own width
    assert width_fit == pytest.approx(width_true, rel=0.01) and s_fit == pytest.approx(s220, rel=2e-5)
    assert width_circ > 1.2 * width_true  # without the ellipticity the ring is smeared over ±0.6 % in s


def test_tilt_recovered():
    truth = Geometry((512, 512), (251.3, 262.7), 5e-5, 0.30, 50.0, tilt_rad=(0.06, -0.04, 0.0))
    start = Geometry(truth.shape, (252.0, 262.0), 5e-5, 0.31, 50.0)
    cal = calibrate_geometry(_frame(truth, seed=1), start, AU, distortion="tilt")
    g = cal.geometry
    assert cal.success and cal.rms_px < 0.1
    assert g.center_rc == pytest.approx(truth.center_rc, abs=0.02)
    assert g.camera_length_m == pytest.approx(truth.camera_length_m, rel=1e-4)
    assert g.tilt_rad[:2] == pytest.approx(truth.tilt_rad[:2], abs=2e-3)
    for i in range(2):
        assert abs(g.tilt_rad[i] - truth.tilt_rad[i]) < 4 * cal.stderr[f"rot{i + 1}_rad"]


def test_d_spacings_and_bad_calibrants():
    assert calibrant_rings([2.0, 1.0, 4.0], 0.6) == [("d=4", 0.25), ("d=2", 0.5)]
    si = calibrant_rings(get_structure("Si"), 1.2)
    assert ("333/511", pytest.approx(np.sqrt(27) / 5.431)) in si  # one ring where two families coincide
    with pytest.raises(GeometryError, match="d spacings"):
        calibrant_rings([2.0, -1.0], 1.0)
    g = Geometry((128, 128), (63.5, 63.5), 5e-5, 0.3, 50.0)
    with pytest.raises(GeometryError, match="distortion"):
        calibrate_geometry(np.ones((128, 128)), g, AU, distortion="spline")
    with pytest.raises(GeometryError, match="ring"):
        calibrate_geometry(np.random.default_rng(0).poisson(50.0, (128, 128)).astype(float), g, AU)


@pytest.mark.parametrize("fmt", ["tif", "mib"])
def test_cli_calibrate_writes_poni_and_detector_keys(tmp_path, elliptical, fmt):
    import tomllib

    import tifffile
    from click.testing import CliRunner

    from _ringsynth import write_mib
    from uedflow.cli import main
    from uedflow.config import experiment_from_dict
    from uedflow.reduce.poni import read_poni

    truth, image, _ = elliptical
    frames = np.stack([image, _frame(truth, seed=5)]).astype(np.uint16)  # a static series of two frames, one file
    path = tmp_path / f"gold.{fmt}"
    tifffile.imwrite(path, frames) if fmt == "tif" else write_mib(path, frames)
    args = ["calibrate", str(path), "--standard", "Au", "--energy-keV", "50", "--pixel-size-m", "5e-5", "--camera-length-m", "0.29",
            "-o", str(tmp_path / "out" / "gold.poni")]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert "220" in res.output and "rms" in res.output and "wrote" in res.output
    keys = tomllib.loads((tmp_path / "out" / "gold.toml").read_text())
    det = experiment_from_dict({"experiment": {"manifest": "x.csv"}, **keys}).detector  # valid [detector] keys
    assert det.center_rc == pytest.approx(truth.center_rc, abs=0.02)
    assert det.ellipticity == pytest.approx(0.012, abs=2e-4) and det.camera_length_m == pytest.approx(0.3, rel=1e-4)
    g = read_poni(tmp_path / "out" / "gold.poni", energy_keV=50.0)
    assert g.center_rc == pytest.approx(det.center_rc, abs=1e-9) and g.ellipticity == pytest.approx(det.ellipticity)
    bad = CliRunner().invoke(main, args[:2] + ["--energy-keV", "50", "--pixel-size-m", "5e-5", "--camera-length-m", "1"])
    assert bad.exit_code == 2 and "--standard NAME or --d-spacings" in bad.output


def test_reduction_fits_the_ellipticity_to_the_sample_rings(tmp_path):
    from _ringsynth import write_experiment
    from uedflow.config import load_experiment
    from uedflow.reduce import reduce_experiment

    truth = Geometry((256, 272), (125.4, 139.3), 5e-5, 0.45, 50.0, ellipticity=0.015, ellipse_angle_rad=-0.5)
    reduce = "[reduce]\nn_bins = 160\ns_range = [0.12, 0.5]\nchunk_frames = 4\n"
    path = write_experiment(tmp_path, geometry=truth, delays=(-1.0, 1.0), n_scans=2,
                            extra_toml=reduce + 'fit_distortion = "ellipticity"\n')
    ds = reduce_experiment(load_experiment(path))
    assert ds.attrs["ellipticity"] == pytest.approx(0.015, abs=1e-3)
    assert ds.attrs["ellipse_angle_rad"] == pytest.approx(-0.5, abs=0.05)
    assert np.hypot(*(np.asarray(ds.attrs["center_rc"]) - truth.center_rc)) < 0.1
    assert ds.attrs["camera_length_m"] == 0.45  # the sample's rings do not calibrate the length unless asked


def test_reduction_with_a_poni_file(tmp_path):
    from _ringsynth import write_experiment
    from uedflow.config import load_experiment
    from uedflow.crystal import s_of_hkl
    from uedflow.errors import ConfigError
    from uedflow.reduce import reduce_experiment
    from uedflow.reduce.poni import write_poni

    truth = Geometry((256, 272), (125.4, 139.3), 5e-5, 0.45, 50.0, tilt_rad=(0.08, -0.06, 0.0))
    write_poni(tmp_path / "det.poni", truth)
    reduce = "[reduce]\nn_bins = 400\ns_range = [0.2, 0.4]\nchunk_frames = 4\n"
    path = write_experiment(tmp_path, geometry=truth, delays=(-1.0, 1.0), n_scans=2, extra_toml=reduce,
                            detector_toml='poni = "det.poni"\n')
    ds = reduce_experiment(load_experiment(path))
    assert tuple(ds.attrs["center_rc"]) == pytest.approx(truth.center_rc, abs=1e-9)
    assert tuple(ds.attrs["tilt_rad"]) == pytest.approx(truth.tilt_rad, abs=1e-12)
    s, ref = ds.s.values, ds.reference.values
    for hkl in ("111", "200"):  # each ring peaks at its s (bins of 0.0005 1/Å), as rendered on the tilted detector
        s0 = s_of_hkl(hkl, 6.12)
        near = np.abs(s - s0) < 0.01
        assert abs(s[near][np.argmax(ref[near])] - s0) <= 0.0005
    path.write_text(path.read_text().replace('poni = "det.poni"', 'poni = "det.poni"\ncenter_rc = [1.0, 2.0]'))
    with pytest.raises(ConfigError, match="remove detector.center_rc"):
        load_experiment(path)
