"""Indexing rings of any crystal: composite rings, the scale scan, real data.

Real data (read in place, never copied): scikit-ued's ``bismuth.dm3`` (a textured Bi film: the c axis along the
beam shows the hk0 rings, whose s ratios √3 : 3 : √12 : √21 : 6 are those of a hexagonal net) calibrated with Bi
R-3m (a = 4.546 Å, c = 11.862 Å), and the shared VO2 powder profile, which monoclinic M1 indexes better than rutile.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from uedflow.cli import main
from uedflow.crystal import composite_rings, get_crystal, reflection_families
from uedflow.crystal.indexing import index_peaks
from uedflow.errors import CrystalError, GeometryError
from uedflow.io import read_frame
from uedflow.peaks.phases import rank_phases
from uedflow.reduce.calibrate import calibrate_geometry, radial_profile_px
from uedflow.reduce.center import find_center
from uedflow.reduce.geometry import Geometry

BISMUTH = Path(importlib.util.find_spec("skued").origin).parent / "io" / "tests" / "data" / "bismuth.dm3"
# shared/ beside the checkout (or beside the folder of git worktrees)
POWDER = next((p for p in (Path(__file__).resolve().parents[i] / "shared" / "reference-data" / "powder.npy"
                           for i in (2, 3)) if p.exists()), Path("shared/reference-data/powder.npy"))
A_BI, C_BI = 4.5460, 11.8622


def _hk0_s(h: int, k: int) -> float:
    return 2 / np.sqrt(3) * np.sqrt(h * h + h * k + k * k) / A_BI


def test_exactly_coincident_families_form_one_composite_ring_weighted_by_multiplicity():
    # fcc: (333) and (511) have the same s and |F| = 4 f (all odd): the ring is 8 : 24 of the two
    rings = composite_rings(reflection_families(get_crystal("Au"), 1.3), 0.0)
    ring = next(r for r in rings if "333" in r.label)
    assert ring.label == "333/511" and not ring.pure
    np.testing.assert_allclose(ring.weights, [0.25, 0.75], rtol=1e-9)
    assert ring.s_inv_angstrom == pytest.approx(np.sqrt(27) / 4.0782, rel=1e-12)
    assert all(r.pure for r in rings if r is not ring)


def test_index_peaks_finds_the_scale_and_a_textured_subset():
    """The hk0 rings of Bi alone (texture), seen at a 7 % wrong camera length, plus one stray peak."""
    true = np.array([_hk0_s(1, 1), _hk0_s(3, 0), _hk0_s(2, 2), _hk0_s(4, 1), _hk0_s(6, 0)])
    observed = np.r_[true / 1.07, 0.2]
    result = index_peaks(observed, get_crystal("Bi"), tolerance=0.003, scale_range=(0.85, 1.2))
    assert result.scale == pytest.approx(1.07, rel=1e-9)
    assert result.peaks[-1].ring is None and result.n_indexed == 5
    labels = [p.ring.label for p in result.peaks[:5]]
    assert labels[0] == "110" and labels[1] == "300" and "220" in labels[2] and "410" in labels[3]
    assert "600" in labels[4]
    with pytest.raises(CrystalError, match="positive"):
        index_peaks([], get_crystal("Bi"))


@pytest.fixture(scope="module")
def bismuth_frame():
    image = read_frame(BISMUTH).astype(float)
    return image, find_center(image).center_rc


def test_bismuth_dm3_is_indexed_as_bi_and_calibrates_the_camera_length(bismuth_frame):
    """Done-when: the real frame's rings indexed as Bi R-3m, L calibrated from them, every ring within 0.3 % in s."""
    image, center = bismuth_frame
    results = {}
    for nominal in (0.22, 0.3):  # the camera length is found from either side
        start = Geometry(image.shape, center, 1.12e-4, nominal, 90.0)  # 14 µm pixels binned 8x, 90 kV (DM3 tags)
        results[nominal] = calibrate_geometry(image, start, get_crystal("Bi"), search=0.2)
    cal = results[0.3]
    print("\n" + cal.report())
    residuals = {r.label: r.mean_rel_s for r in cal.rings}
    print("relative s residuals [%]:", {k: round(100 * v, 4) for k, v in residuals.items()})
    assert cal.success and len(cal.rings) >= 4
    assert all(abs(v) < 0.003 for v in residuals.values())
    labels = " ".join(residuals)
    for hk0 in ("110", "300", "410"):  # the fibre texture: hk0 rings, (012) and (104) nearly absent
        assert hk0 in labels.split("/") or hk0 in labels.replace("/", " ").split()
    assert results[0.22].geometry.camera_length_m == pytest.approx(cal.geometry.camera_length_m, rel=5e-4)
    # independent: the strongest ring's radius in a plain radial average is (110) at L tan 2θ
    radius, profile = radial_profile_px(image, cal.geometry.center_rc)
    r110 = radius[20 + int(np.nanargmax(profile[20:60]))]
    two_theta = 2 * np.arcsin(_hk0_s(1, 1) * cal.geometry.wavelength_angstrom / 2)
    assert cal.geometry.camera_length_m == pytest.approx(r110 * 1.12e-4 / np.tan(two_theta), rel=0.015)


def test_calibrate_cli_takes_a_non_cubic_standard(tmp_path, bismuth_frame):
    res = CliRunner().invoke(main, ["calibrate", str(BISMUTH), "--standard", "Bi", "--energy-keV", "90",
                                    "--pixel-size-m", "1.12e-4", "--camera-length-m", "0.25",
                                    "-o", str(tmp_path / "bi.poni")])
    assert res.exit_code == 0, res.output
    assert "110" in res.output and "pure" in res.output
    length = float(next(line.split("=")[1] for line in (tmp_path / "bi.toml").read_text().splitlines()
                        if line.startswith("camera_length_m")))
    assert length == pytest.approx(0.2528, rel=2e-3)
    res = CliRunner().invoke(main, ["calibrate", str(BISMUTH), "--standard", "Bi", "--lattice", "4.5",
                                    "--energy-keV", "90", "--pixel-size-m", "1.12e-4", "--camera-length-m", "0.25"])
    assert res.exit_code == 2 and "CIF" in res.output


def test_a_frame_without_rings_is_refused(bismuth_frame):
    image, center = bismuth_frame
    start = Geometry(image.shape, center, 1.12e-4, 0.25, 90.0)
    with pytest.raises(GeometryError):
        calibrate_geometry(np.zeros_like(image) + np.random.default_rng(0).normal(0, 1, image.shape), start,
                           get_crystal("Bi"), search=0.05)


@pytest.mark.skipif(not POWDER.exists(), reason="shared reference data not present")
def test_vo2_powder_is_monoclinic_m1_not_rutile():
    """Done-when: the real VO2 profile's peaks indexed; M1 (P2_1/c) indexes them better than rutile (P4_2/mnm)."""
    data = np.load(POWDER)
    s, intensity = 2 * data[0], data[1]  # the file's s is sinθ/λ = 1/(2d)
    ranked = rank_phases(s, intensity, ["VO2-R", "VO2-M1", "graphite", "CdSe-wurtzite"])
    for r in ranked:
        print("\n" + r.report())
    by_name = {r.crystal: r for r in ranked}
    m1, rutile = by_name["VO2-M1"], by_name["VO2-R"]
    print(f"\nfigure of merit: M1 {m1.figure_of_merit:.3f} ({m1.n_indexed}/{len(m1.peaks)} peaks), rutile "
          f"{rutile.figure_of_merit:.3f} ({rutile.n_indexed}/{len(rutile.peaks)})")
    assert ranked[0].crystal == "VO2-M1"
    assert m1.figure_of_merit < rutile.figure_of_merit - 0.1
    assert m1.n_indexed >= 15 and rutile.n_indexed <= m1.n_indexed - 2
    assert abs(m1.scale - 1) < 0.005  # the profile's s is calibrated
    # the M1 splitting of rutile's (101)/(111): peaks near s = 0.411 and 0.466 Å⁻¹ that rutile cannot place
    for s0 in (0.411, 0.466):
        m1_peak = min(m1.peaks, key=lambda p: abs(p.s_observed - s0))
        r_peak = min(rutile.peaks, key=lambda p: abs(p.s_observed - s0))
        assert m1_peak.ring is not None and r_peak.ring is None
    # wrong phases (also hexagonal, also many rings) do not index the pattern
    assert by_name["graphite"].figure_of_merit > rutile.figure_of_merit
    assert by_name["CdSe-wurtzite"].figure_of_merit > m1.figure_of_merit + 0.2


def test_crystal_cli_ranks_phases_on_a_profile(tmp_path):
    if not POWDER.exists():
        pytest.skip("shared reference data not present")
    res = CliRunner().invoke(main, ["crystal", "VO2-R", "VO2-M1", "--profile", str(POWDER), "--s-factor", "2"])
    assert res.exit_code == 0, res.output
    assert res.output.strip().splitlines()[-1].startswith("best: VO2-M1")
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((3, 3)))
    res = CliRunner().invoke(main, ["crystal", "VO2-R", "--profile", str(bad)])
    assert res.exit_code == 2 and "two rows or two columns" in res.output
