"""Geometry: pixel -> s against pyFAI, the relativistic wavelength, camera-length calibration."""


import numpy as np
import pytest

from _ringsynth import pbse_rings, ring_image
from uedflow.crystal import get_structure
from uedflow.errors import GeometryError
from uedflow.reduce.calibrate import calibrate_camera_length
from uedflow.reduce.geometry import Geometry, electron_wavelength_angstrom, radius_from_s, s_from_radius


def test_s_map_matches_pyfai_q():
    pytest.importorskip("pyFAI")
    from pyFAI.integrator.azimuthal import AzimuthalIntegrator

    g = Geometry((64, 80), (20.3, 51.8), 7.5e-5, 0.3, 90.0)
    ai = AzimuthalIntegrator(dist=0.3, pixel1=7.5e-5, pixel2=7.5e-5, poni1=20.8 * 7.5e-5, poni2=52.3 * 7.5e-5,
                             wavelength=g.wavelength_angstrom * 1e-10)
    q_nm = ai.qArray(g.shape)  # pyFAI's q is in 1/nm
    np.testing.assert_allclose(g.s_map(), q_nm / 10 / (2 * np.pi), rtol=2e-5)  # pyFAI works in float32


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
