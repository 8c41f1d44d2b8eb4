"""Static patterns: one real frame (bismuth.dm3, read in place) or a static series reduces to I(s) with σ."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from test_beam_stop import REFERENCE, polygon_mask
from uedflow.cli import main
from uedflow.config import load_experiment
from uedflow.crystal import parse_cif
from uedflow.dynamics import analyze
from uedflow.errors import CrystalError, InputError
from uedflow.io import read_frame, read_manifest
from uedflow.peaks.series import structure_of
from uedflow.reduce import open_reduced, reduce_experiment

BISMUTH = Path(importlib.util.find_spec("skued").origin).parent / "io" / "tests" / "data" / "bismuth.dm3"
TOML = """[experiment]
name = "bismuth-static"
manifest = "frames.csv"
[beam]
energy_keV = 90.0
[detector]
camera_length_m = 0.3
pixel_size_m = 1.4e-4
[reduce]
n_bins = 120
"""


def _experiment(folder: Path, manifest: str) -> Path:
    (folder / "frames.csv").write_text(manifest)
    (folder / "experiment.toml").write_text(TOML)
    return folder / "experiment.toml"


def test_one_real_frame_reduces_through_the_cli_to_a_static_profile(tmp_path):
    """`uedflow reduce` on a manifest of one DM3 frame and no delays: a static reduced.h5 whose I(s) is the mean of
    the valid pixels in each ring (a plain numpy average, to 1 %), with a Poisson σ, and whose mask covers the
    hand-drawn beam stop (≥ 95 %) losing < 1 % of the other pixels."""
    exp = _experiment(tmp_path, f"file\n{BISMUTH}\n")
    res = CliRunner().invoke(main, ["reduce", str(exp), "-o", str(tmp_path / "reduced.h5"), "--quiet"])
    assert res.exit_code == 0, res.output
    ds = open_reduced(tmp_path / "reduced.h5")
    assert ds.attrs["static"] == 1 and ds.sizes["delay"] == 1 and float(ds.delay[0]) == 0.0
    assert np.isnan(ds.differential).all()
    mask = ds["mask"].values.astype(bool)
    stop = polygon_mask(json.loads(REFERENCE.read_text())["polygon_rc"], mask.shape)
    assert (~mask)[stop].mean() >= 0.95 and (~mask)[~stop].mean() < 0.01

    frame = read_frame(BISMUTH).astype(float)
    row, col = ds.attrs["center_rc"]
    s_px = np.hypot(*np.ogrid[-row:frame.shape[0] - row, -col:frame.shape[1] - col])  # radius [px]
    s = ds.s.values
    theta = np.arctan(s_px * ds.attrs["pixel_size_m"] / ds.attrs["camera_length_m"])
    s_map = 2 * np.sin(theta / 2) / ds.attrs["wavelength_angstrom"]
    edges = np.concatenate(([1.5 * s[0] - 0.5 * s[1]], (s[1:] + s[:-1]) / 2, [1.5 * s[-1] - 0.5 * s[-2]]))
    b = np.digitize(s_map[mask], edges) - 1
    inside = (b >= 0) & (b < len(s))
    n = np.bincount(b[inside], minlength=len(s))
    mean = np.bincount(b[inside], frame[mask][inside], minlength=len(s)) / np.maximum(n, 1)
    full = n >= 60
    intensity, sigma = ds.intensity.values[0], ds.intensity_sigma.values[0]
    np.testing.assert_allclose(intensity[full], mean[full], rtol=1e-2)  # sub-pixel splitting on the sharp ring
    # Poisson: at most the σ of a plain mean of the bin's pixels; split pixels share counts between bins (less)
    ratio = sigma[full] / np.sqrt(intensity[full] / ds["counts"].values[full])
    assert 0.7 < ratio.min() and ratio.max() <= 1.0


def test_a_non_cubic_sample_reduces_and_calibrates_from_its_own_rings(tmp_path):
    """`[sample] material = "Bi"` (trigonal): the real frame reduces, the camera length is calibrated from the Bi
    rings (the calibrate CLI's 0.2528 m from the same frame), the strongest ring sits at Bi (110) within 0.3 % in
    s, the file carries the crystal as CIF, and the cubic time-resolved chain says what to use instead."""
    (tmp_path / "frames.csv").write_text(f"file\n{BISMUTH}\n")
    toml = TOML.replace("pixel_size_m = 1.4e-4", "pixel_size_m = 1.12e-4").replace(
        "[reduce]", '[sample]\nmaterial = "Bi"\n[reduce]\ncalibrate_camera_length = true')
    (tmp_path / "experiment.toml").write_text(toml.replace("n_bins = 120", "n_bins = 300"))
    res = CliRunner().invoke(main, ["reduce", str(tmp_path / "experiment.toml"), "-o", str(tmp_path / "bi.h5"),
                                    "--quiet"])
    assert res.exit_code == 0, res.output
    ds = open_reduced(tmp_path / "bi.h5")
    assert ds.attrs["camera_length_m"] == pytest.approx(0.2528, rel=2e-3)
    bi = parse_cif(ds.attrs["crystal_cif"])
    assert bi.space_group_symbol == "R-3m" and bi.lattice.c == pytest.approx(11.8622)
    s110 = bi.lattice.s_of((1, 1, 0))
    near = np.flatnonzero(np.abs(ds.s.values - s110) < 0.1 * s110)
    j = near[np.argmax(ds.intensity.values[0][near])]
    y0, y1, y2 = ds.intensity.values[0][j - 1:j + 2]  # the vertex of the parabola through the top three bins
    peak = ds.s.values[j] + 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2) * float(ds.s[1] - ds.s[0])
    print(f"Bi (110): profile peak {peak:.4f}, expected {s110:.4f} Å⁻¹")
    assert peak == pytest.approx(s110, rel=3e-3)
    with pytest.raises(CrystalError, match="not cubic.*analyze_axes_series"):
        structure_of(ds)


def test_a_static_series_without_delays_averages_its_frames(tmp_path):
    """Three frames at one delay (no delay column): I(s) is their mean, σ the standard error over them."""
    frame = read_frame(BISMUTH).astype(np.float32)
    rng = np.random.default_rng(2)
    for i in range(3):
        np.save(tmp_path / f"f{i}.npy", frame + rng.normal(0, 0.3, frame.shape).astype(np.float32))
    exp = load_experiment(_experiment(tmp_path, "file\nf0.npy\nf1.npy\nf2.npy\n"))
    assert [r.scan for r in read_manifest(exp.manifest)] == [1, 2, 3]
    ds = reduce_experiment(exp)
    assert ds.attrs["static"] == 1 and ds.sizes["scan"] == 3 and ds.sizes["delay"] == 1
    per_scan = ds.intensity_scan.values[:, 0]
    good = np.isfinite(per_scan).all(axis=0)
    assert good.sum() > 60
    np.testing.assert_allclose(ds.intensity.values[0][good], per_scan[:, good].mean(axis=0), rtol=1e-6)
    with pytest.raises(InputError, match="static pattern"):
        analyze(ds)


def test_a_delay_series_still_needs_frames_after_time_zero(tmp_path):
    np.save(tmp_path / "a.npy", read_frame(BISMUTH))
    np.save(tmp_path / "b.npy", read_frame(BISMUTH))
    exp = load_experiment(_experiment(tmp_path, "file,scan,delay_ps\na.npy,1,-2\nb.npy,1,-1\n"))
    with pytest.raises(Exception, match="no frame after time zero"):
        reduce_experiment(exp)
