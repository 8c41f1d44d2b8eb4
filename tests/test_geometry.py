"""Geometry: pixel -> s against pyFAI, the relativistic wavelength, camera-length calibration."""


import dataclasses

import numpy as np
import pytest

from _ringsynth import pbse_rings, ring_image
from uedflow.crystal import get_structure
from uedflow.errors import GeometryError
from uedflow.reduce.calibrate import calibrate_camera_length
from uedflow.reduce.geometry import Geometry, electron_wavelength_angstrom, radius_from_s, s_from_radius


def _pyfai_integrator(g: Geometry):
    """pyFAI's AzimuthalIntegrator of a tilted geometry; the test checks with pyFAI's own getFit2D that its direct
    beam point and distance are the geometry's."""
    pytest.importorskip("pyFAI")
    from pyFAI.detectors import Detector
    from pyFAI.integrator.azimuthal import AzimuthalIntegrator

    rot1, rot2, rot3 = g.tilt_rad
    # pyFAI's PONI of a direct beam at (row, col) = c [px, pixel centres at +0.5] and direct distance L
    return AzimuthalIntegrator(
        dist=g.camera_length_m * np.cos(rot1) * np.cos(rot2),
        poni1=(g.center_rc[0] + 0.5) * g.pixel_size_m - g.camera_length_m * np.sin(rot2),
        poni2=(g.center_rc[1] + 0.5) * g.pixel_size_m + g.camera_length_m * np.cos(rot2) * np.sin(rot1),
        rot1=rot1, rot2=rot2, rot3=rot3, detector=Detector(g.pixel_size_m, g.pixel_size_m, max_shape=g.shape),
        wavelength=g.wavelength_angstrom * 1e-10)


@pytest.mark.parametrize("tilt", [(0.0, 0.0, 0.0), (0.05, -0.08, 0.3), (-0.2, 0.15, -1.0)])
def test_s_map_matches_pyfai_on_tilted_off_centre_geometry(tilt):
    g = Geometry((120, 160), (20.3, 131.8), 7.5e-5, 0.3, 90.0, tilt_rad=tilt)
    ai = _pyfai_integrator(g)
    fit2d = ai.getFit2D()  # pyFAI's own direct-beam point: our centre (its pixel corners at integers)
    assert (fit2d["centerY"] - 0.5, fit2d["centerX"] - 0.5) == pytest.approx(g.center_rc, abs=1e-9)
    assert fit2d["directDist"] / 1e3 == pytest.approx(g.camera_length_m, rel=1e-12)
    rows, cols = np.indices(g.shape)
    s = g.s_map()
    # pyFAI's q(d1, d2) [1/nm] and 2θ(d1, d2) [rad] of every pixel centre, in float64
    np.testing.assert_allclose(s, ai.qFunction(rows, cols) / 10 / (2 * np.pi), rtol=1e-6, atol=0)
    np.testing.assert_allclose(s, 2 * np.sin(ai.tth(rows, cols) / 2) / g.wavelength_angstrom, rtol=1e-6, atol=0)
    # the cached arrays pyFAI integrates with hold pixel positions in float32: 1e-6 from 20 px off the centre
    far = g.radius_px() > 20
    q_array = ai.center_array(g.shape, unit="q_A^-1") / (2 * np.pi)
    np.testing.assert_allclose(s[far], q_array[far], rtol=1e-6, atol=0)
    if any(tilt[:2]):  # the tilt matters: ignoring it is off by far more
        flat = Geometry(g.shape, g.center_rc, g.pixel_size_m, g.camera_length_m, g.energy_keV).s_map()
        assert np.max(np.abs(flat / s - 1)) > 3e-3


def test_ellipticity_stretches_rings_along_its_axis():
    # e = 0.02 at 30°: a point 40 px along the major axis sits at the s of a point 40 / 1.02 px across it
    g = Geometry((200, 200), (100.0, 100.0), 5e-5, 0.5, 50.0, ellipticity=0.02, ellipse_angle_rad=np.pi / 6)
    major, minor = np.array([np.sin(np.pi / 6), np.cos(np.pi / 6)]), np.array([np.cos(np.pi / 6), -np.sin(np.pi / 6)])
    r = 40.0
    s_major = g.s_at(100 + r * major[0], 100 + r * major[1])
    s_minor = g.s_at(100 + r / 1.02 * minor[0], 100 + r / 1.02 * minor[1])
    assert s_major == pytest.approx(s_minor, rel=1e-12)
    # the geometric-mean radius keeps the circular s (area-preserving stretch): r sqrt(1.02) along, r/sqrt(1.02) across
    circ = Geometry(g.shape, g.center_rc, 5e-5, 0.5, 50.0).s_at(100 + r, 100.0)
    assert g.s_at(100 + r * np.sqrt(1.02) * major[0], 100 + r * np.sqrt(1.02) * major[1]) == pytest.approx(circ, rel=1e-12)


@pytest.mark.parametrize("kwargs", [{"tilt_rad": (0.0, 0.9, 0.0)}, {"tilt_rad": (0.0, 0.1)}, {"ellipticity": -1.0},
                                    {"ellipse_angle_rad": float("nan")}])
def test_bad_tilt_or_ellipticity_is_one_clear_error(kwargs):
    with pytest.raises(GeometryError, match="tilt_rad|ellipticity"):
        Geometry((64, 64), (31.5, 31.5), 5e-5, 0.5, 50.0, **kwargs)


def test_wavelength_reference_values():
    # 100 kV and 300 kV electron wavelengths as tabulated for TEMs: 0.03701 Å and 0.01969 Å
    assert electron_wavelength_angstrom(100.0) == pytest.approx(0.037014, rel=1e-4)
    assert electron_wavelength_angstrom(300.0) == pytest.approx(0.019687, rel=1e-4)


def test_radius_roundtrip_exact_geometry():
    s = np.linspace(0.05, 1.5, 20)
    r = radius_from_s(s, 0.45, 0.0536)
    np.testing.assert_allclose(s_from_radius(r, 0.45, 0.0536), s, rtol=1e-12)
    # not the small-angle approximation: at s = 1.5 Å⁻¹ it is off by > 0.1 %
    assert abs(r[-1] / (0.45 * 0.0536 * s[-1]) - 1) > 1e-3


@pytest.mark.parametrize("true_length", [0.43, 0.47])
def test_camera_length_from_pbse_rings(true_length):
    rng = np.random.default_rng(1)
    truth = Geometry((300, 300), (149.6, 150.2), 1e-4, true_length, 50.0)
    image = rng.poisson(ring_image(truth, pbse_rings(), width=0.004)).astype(float)
    nominal = Geometry(truth.shape, truth.center_rc, 1e-4, 0.45, 50.0)
    cal = calibrate_camera_length(image, nominal, get_structure("PbSe"))
    assert cal.success and len(cal.rings) >= 4
    assert cal.camera_length_m == pytest.approx(true_length, rel=2e-3)
    assert abs(cal.camera_length_m - true_length) < 5 * cal.stderr_m + 1e-4


def test_calibration_without_rings_fails_clearly():
    g = Geometry((100, 100), (50.0, 50.0), 5e-5, 0.45, 50.0)
    with pytest.raises(GeometryError, match="need 2 or more"):
        calibrate_camera_length(np.full((100, 100), 10.0), g, get_structure("PbSe"))


def test_poni_written_by_uedflow_gives_pyfai_the_same_s(tmp_path):
    pytest.importorskip("pyFAI")
    import pyFAI

    from uedflow.reduce.poni import read_poni, write_poni

    g = Geometry((90, 110), (61.2, 30.7), 1e-4, 0.25, 120.0, tilt_rad=(-0.07, 0.11, 0.4), ellipticity=0.013,
                 ellipse_angle_rad=0.3)
    path = write_poni(tmp_path / "det.poni", g)
    ai = pyFAI.load(str(path))
    rows, cols = np.indices(g.shape)
    tilted = dataclasses.replace(g, ellipticity=0.0)  # pyFAI has no ellipticity: it reads the tilted geometry
    np.testing.assert_allclose(tilted.s_map(), ai.qFunction(rows, cols) / 10 / (2 * np.pi), rtol=1e-6, atol=0)
    back = read_poni(path, energy_keV=120.0)
    assert back.shape == g.shape and back.tilt_rad == pytest.approx(g.tilt_rad, abs=1e-15)
    assert back.center_rc == pytest.approx(g.center_rc, abs=1e-9)
    assert (back.camera_length_m, back.ellipticity, back.ellipse_angle_rad) == pytest.approx(
        (g.camera_length_m, g.ellipticity, g.ellipse_angle_rad), rel=1e-12)


def test_poni_written_by_pyfai_is_read(tmp_path):
    g = Geometry((100, 120), (40.4, 77.9), 5.5e-5, 0.6, 30.0, tilt_rad=(0.12, -0.05, 2.0))
    ai = _pyfai_integrator(g)
    ai.write(str(tmp_path / "pyfai.poni"))
    from uedflow.reduce.poni import read_poni

    back = read_poni(tmp_path / "pyfai.poni", energy_keV=30.0)
    rows, cols = np.indices(g.shape)
    np.testing.assert_allclose(back.s_map(), ai.qFunction(rows, cols) / 10 / (2 * np.pi), rtol=1e-6, atol=0)
    assert back.center_rc == pytest.approx(g.center_rc, abs=1e-6)
    with pytest.raises(GeometryError, match="beam.energy_keV"):
        read_poni(tmp_path / "pyfai.poni", energy_keV=50.0)
    with pytest.raises(GeometryError, match="100x120 frames"):
        read_poni(tmp_path / "pyfai.poni", energy_keV=30.0, shape=(100, 100))


@pytest.mark.parametrize(("text", "match"), [
    ("Distance: 0.1\nPoni1: 0.01\n", "has no poni2, rot1"),
    ("Distance: x\n", "not a number"),
    ('Detector_config: {"orientation": 2, "pixel1": 1e-4, "pixel2": 1e-4}\n', "orientation 2"),
])
def test_bad_poni_is_one_clear_error(tmp_path, text, match):
    from uedflow.errors import FileFormatError
    from uedflow.reduce.poni import read_poni

    (tmp_path / "bad.poni").write_text(text)
    with pytest.raises(FileFormatError, match=match):
        read_poni(tmp_path / "bad.poni", energy_keV=50.0)
    with pytest.raises(FileFormatError, match="does not exist"):
        read_poni(tmp_path / "none.poni", energy_keV=50.0)
