"""Beam centre per frame (reduce.recenter): each frame integrated about its own centre, found from its rings.

Truth: frames rendered about a known, moved centre on a tilted detector with elliptical rings; the profile of the
same pattern about the fixed centre; Poisson noise of known variance.
"""

import dataclasses

import numpy as np
import pytest

from uedflow.reduce.geometry import Geometry
from uedflow.reduce.integrate import build_operator, integrate_sums
from uedflow.reduce.recenter import recentering

GEOM = Geometry((384, 384), (189.3, 196.8), 7e-5, 0.3, 50.0, tilt_rad=(0.02, -0.01, 0.0), ellipticity=0.01,
                ellipse_angle_rad=0.5)
RINGS = (0.283, 0.327, 0.462, 0.542, 0.566, 0.654, 0.712, 0.731)  # PbSe s [Å⁻¹]
S_NODES = np.linspace(0.0, 2.0, 20000)
PROFILE = 50.0 + sum(2000.0 * np.exp(-0.5 * ((S_NODES - s0) / 0.007) ** 2) for s0 in RINGS)
OFFSETS = [(0.0, 0.0), (0.4, -0.2), (3.0, 0.0), (2.0, -2.0), (-1.3, 2.6)]


def _frame(offset, geometry=GEOM):
    moved = dataclasses.replace(geometry, center_rc=(geometry.center_rc[0] + offset[0],
                                                     geometry.center_rc[1] + offset[1]))
    return np.interp(moved.s_map(), S_NODES, PROFILE)


@pytest.fixture(scope="module")
def ops():
    mask = np.ones(GEOM.shape, bool)
    rr, cc = np.indices(GEOM.shape)
    mask[(np.abs(rr - 189.3) < 8) & (cc > 190)] = False  # a beam stop on a rod to the edge
    mask[np.hypot(rr - 189.3, cc - 196.8) < 20] = False
    rc = recentering(GEOM, "per-frame", mask=mask, n_bins=600)
    op = build_operator(GEOM, mask=mask, n_bins=600, s_range=(rc.operator.s_edges[0], rc.operator.s_edges[-1]))
    return rc, op


def test_the_sector_operator_adds_up_to_the_fixed_one(ops):
    rc, op = ops
    k = rc.operator.n_sectors
    np.testing.assert_allclose(rc.operator.counts.reshape(k, -1).sum(axis=0), op.counts, rtol=1e-12, atol=1e-9)
    frame = _frame((0.0, 0.0))[None]
    sectors, _ = integrate_sums(frame, rc.operator)
    fixed, _ = integrate_sums(frame, op)
    np.testing.assert_allclose(sectors.reshape(1, k, -1).sum(axis=1), fixed, rtol=1e-9)


def test_each_frame_is_integrated_about_its_own_centre(ops):
    """Noise-free frames moved by up to 3.6 px: the centre is found to 1e-3 px and the profile is the unmoved one
    within 0.7 % of a ring's peak (a beam stop on a rod, tilt, ellipticity); about the fixed centre the rings are off by up to 46 % of the peak."""
    rc, op = ops
    reference = integrate_sums(_frame((0.0, 0.0))[None], op)[0][0] / op.counts
    frames = np.stack([_frame(d) for d in OFFSETS])
    sums, var = integrate_sums(frames, rc.operator)
    out, out_var, centers, _ = rc.apply(sums, var)
    np.testing.assert_allclose(centers - np.asarray(GEOM.center_rc), OFFSETS, atol=1e-3)
    fixed = integrate_sums(frames, op)[0] / op.counts
    ok = op.counts > 0
    err = np.abs(out / op.counts - reference)[:, ok].max(axis=1) / 2000.0
    err_fixed = np.abs(fixed - reference)[:, ok].max(axis=1) / 2000.0
    assert err.max() < 0.01, err
    assert err_fixed[2:].min() > 0.3, err_fixed  # the correction is needed
    # and each of its second-order parts: the mean radial shift dᵀHd/2, and the sharpening for the pixels' spread
    for part in (dataclasses.replace(rc, derivatives=np.concatenate([rc.derivatives[:2], 0 * rc.derivatives[2:]])),
                 dataclasses.replace(rc, spread=0 * rc.spread)):
        assert (np.abs(part.apply(sums, var)[0] / op.counts - reference)[:, ok].max() / 2000.0) > 0.01
    # ring areas (what the peak fits measure) agree to 1e-3
    for s0 in RINGS[:6]:
        near = ok & (np.abs(op.s - s0) < 0.02)
        areas = (out / op.counts)[:, near].sum(axis=1) - 50.0 * near.sum()
        np.testing.assert_allclose(areas, reference[near].sum() - 50.0 * near.sum(), rtol=1e-3)


def test_per_scan_takes_one_centre_per_scan(ops):
    rc, _ = ops
    frames = np.stack([_frame(d) for d in OFFSETS[:4]])
    sums, var = integrate_sums(frames, rc.operator)
    per_scan = dataclasses.replace(rc, per_scan=True)
    _, _, centers, _ = per_scan.apply(sums, var, np.array([0, 0, 1, 1]))
    np.testing.assert_allclose(centers[0], centers[1])
    np.testing.assert_allclose(centers[2] - np.asarray(GEOM.center_rc), np.mean(OFFSETS[2:4], axis=0), atol=1e-3)


def test_the_variance_of_the_recentred_profiles_is_measured(ops):
    """Poisson frames at fixed offsets: the scatter of a bin across 30 noise realisations is the reported variance
    times the measured smoothing (within 10 %); shifting averages neighbouring bins, so the reported variance
    alone is too large for one bin at a fractional shift."""
    rc, op = ops
    rng = np.random.default_rng(3)
    expected = _frame((1.1, 0.7))
    frames = rng.poisson(np.broadcast_to(expected, (30, *GEOM.shape))).astype(np.float64)
    sums, var = integrate_sums(frames, rc.operator)
    out, out_var, centers, smoothing = rc.apply(sums, var)
    np.testing.assert_allclose(centers - np.asarray(GEOM.center_rc), np.tile([1.1, 0.7], (30, 1)), atol=0.02)
    ok = (op.counts > 20) & (op.s > 0.25) & (op.s < 0.75)
    scatter = out[:, ok].var(axis=0, ddof=1)
    ratio = np.median(scatter / (out_var[:, ok].mean(axis=0) * smoothing.mean()))
    assert 0.9 < ratio < 1.1, (ratio, smoothing.mean())
    assert smoothing.mean() < 0.97


def test_a_frame_without_rings_keeps_the_fixed_centre(ops):
    rc, op = ops
    flat = np.full((1, *GEOM.shape), 100.0)
    sums, var = integrate_sums(flat, rc.operator)
    out, _, centers, _ = rc.apply(sums, var)
    np.testing.assert_allclose(centers[0], GEOM.center_rc)
    np.testing.assert_allclose(out[0], integrate_sums(flat, op)[0][0], rtol=1e-7)
