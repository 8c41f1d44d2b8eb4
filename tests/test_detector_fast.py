"""The compiled detector-step kernels against plain numpy/scipy references of the same definitions."""

import os

import numpy as np
import pytest
from scipy.ndimage import median_filter

from _ringsynth import pbse_rings, ring_image
from uedflow.errors import ConfigError
from uedflow.io import read_manifest, write_manifest
from uedflow.reduce.center import ring_center_offset, symmetry_center
from uedflow.reduce.geometry import Geometry
from uedflow.reduce.masks import exact_median, median_peak, pixel_defects, valid_pixels


def _random_frames(rng, kind, n, shape):
    if kind == "poisson":
        return rng.poisson(rng.uniform(0, 50), (n, *shape)).astype(np.uint16)
    if kind == "ties":
        return rng.integers(0, 5, (n, *shape)).astype(np.int32)
    return rng.normal(50, 10, (n, *shape))


@pytest.mark.parametrize("kind", ["poisson", "ties", "float"])
def test_median_peak_is_numpy_median_and_max(kind):
    rng = np.random.default_rng(1)
    for n, shape in [(1, (3, 5)), (4, (17, 40)), (7, (33, 31)), (8, (1, 300))]:
        frames = _random_frames(rng, kind, n, shape)
        median, peak = median_peak(frames)
        np.testing.assert_array_equal(median, np.median(frames, axis=0))
        np.testing.assert_array_equal(peak, frames.max(axis=0))


def test_exact_median_is_numpy_median():
    rng = np.random.default_rng(2)
    for trial in range(200):
        n = int(rng.integers(1, 20000))
        values = [rng.normal(size=n), rng.integers(0, 5, n) / 2.0, np.exp(rng.normal(size=n) * 30),
                  np.concatenate([rng.normal(size=n), [1e300, -1e300]])][trial % 4]
        valid = rng.random(values.shape) < 0.7
        assert exact_median(values) == np.median(values)
        if valid.any():
            assert exact_median(values, valid) == np.median(values[valid])
    assert np.isnan(exact_median(np.ones(3), np.zeros(3, bool)))


def _reference_defects(median, peak, saturation, n_sigma):
    """The definitions of pixel_defects with scipy filters and numpy sliding windows."""
    local = median_filter(median, size=3, mode="nearest")
    pad = np.pad(median, 1, mode="reflect" if min(median.shape) > 1 else "edge")
    windows = np.lib.stride_tricks.sliding_window_view(pad, (3, 3)).reshape(*median.shape, 9)
    second = np.sort(np.delete(windows, 4, axis=-1), axis=-1)[..., -2]
    resid = median - local
    mad = 1.4826 * np.median(np.abs(resid - np.median(resid)))
    noise = np.maximum(mad, np.sqrt(np.maximum(local, 1.0)))
    hot = (resid > n_sigma * noise) & (median - second > n_sigma * noise)
    dead = (peak <= 0) | ((resid < -n_sigma * noise) & (median < 0.2 * local))
    return dead, hot, peak >= saturation


@pytest.mark.parametrize("kind", ["poisson", "ties", "float"])
def test_pixel_defects_match_the_scipy_reference(kind):
    rng = np.random.default_rng(3)
    for shape in [(1, 30), (2, 2), (25, 3), (40, 37)]:
        frames = _random_frames(rng, kind, 5, shape)
        frames[:, rng.integers(0, shape[0], 3), rng.integers(0, shape[1], 3)] = 3000
        median, peak = median_peak(frames)
        for n_sigma in (1.0, 3.0, 8.0):
            got = pixel_defects(median, peak, saturation=2999, n_sigma=n_sigma)
            for a, b in zip(got, _reference_defects(median, peak, 2999, n_sigma), strict=True):
                np.testing.assert_array_equal(a, b)


def test_valid_pixels():
    a, b = np.array([[True, False], [False, False]]), np.array([[False, False], [True, False]])
    user = np.array([[True, True], [True, False]])
    np.testing.assert_array_equal(valid_pixels(a, b), ~(a | b))
    np.testing.assert_array_equal(valid_pixels(a, b, user_mask=user), ~(a | b) & user)


def test_ring_check_on_a_strided_subsample_agrees_with_all_pixels():
    center = (250.3, 261.8)
    g = Geometry((512, 512), center, 5e-5, 0.45, 50.0)
    image = np.random.default_rng(5).poisson(ring_image(g, pbse_rings())).astype(float)
    for offset in [(0.0, 0.0), (0.3, -0.2)]:
        wrong = (center[0] + offset[0], center[1] + offset[1])
        full = ring_center_offset(image, wrong, max_pixels=None)
        assert ring_center_offset(image, wrong) == pytest.approx(full, abs=2e-3)  # 2x2 stride: 65k of 262k pixels
        assert full == pytest.approx(np.hypot(*offset), abs=0.02)


def test_symmetry_center_matches_the_float64_cross_correlation():
    g = Geometry((200, 240), (97.3, 131.6), 5e-5, 0.45, 50.0)
    image = np.random.default_rng(6).poisson(ring_image(g, pbse_rings())).astype(float)
    img = image - image.mean()
    shape = (400, 480)
    corr = np.fft.irfft2(np.fft.rfft2(img, shape) * np.conj(np.fft.rfft2(img[::-1, ::-1], shape)), shape)
    i, j = np.unravel_index(np.argmax(corr), shape)
    parabola = [0.5 * (a - c) / (a - 2 * b + c) for a, b, c in
                ((corr[i - 1, j], corr[i, j], corr[i + 1, j]), (corr[i, j - 1], corr[i, j], corr[i, j + 1]))]
    ref = [(n - 1 + (k + d + n) % (2 * n) - n) / 2 for n, k, d in zip((200, 240), (i, j), parabola, strict=True)]
    np.testing.assert_allclose(symmetry_center(image), ref, atol=1e-3)


def test_manifest_paths_are_resolved_like_path_resolve(tmp_path):
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    for name in ("a.npy", "sub/b.npy", "target.npy"):
        np.save(data / name, np.ones((2, 2)))
    os.symlink(data / "target.npy", data / "link.npy")
    os.symlink(data / "sub", data / "linkdir")
    names = ["a.npy", "sub/b.npy", "link.npy", "linkdir/b.npy", "sub/../a.npy", str(data / "target.npy")]
    write_manifest(data / "frames.csv", [{"file": f, "scan": 1, "delay_ps": float(i)} for i, f in enumerate(names)])
    records = read_manifest(data / "frames.csv")
    assert [r.file for r in records] == [(data / f).resolve() for f in names]
    write_manifest(data / "frames.csv", [{"file": "sub/missing.npy", "scan": 1, "delay_ps": 0.0}])
    with pytest.raises(ConfigError, match=r"line 2: frame file 'sub/missing.npy' does not exist \(looked for "):
        read_manifest(data / "frames.csv")
