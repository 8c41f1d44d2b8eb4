"""Azimuthal integration against pyFAI, Poisson variance against Monte Carlo, dark/flat handling."""


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _ringsynth import pbse_rings, ring_image
from uedflow.errors import GeometryError, InputError
from uedflow.reduce.geometry import Geometry
from uedflow.reduce.integrate import build_operator, integrate, integrate_sums

GEOM = Geometry((300, 320), (151.3, 160.7), 5e-5, 0.45, 50.0)
S_RANGE = (0.05, 0.45)


@pytest.fixture
def rng():
    return np.random.default_rng(11)


@pytest.fixture(scope="module")
def image():
    return ring_image(GEOM, pbse_rings())


@pytest.fixture(scope="module")
def mask():
    m = np.ones(GEOM.shape, bool)
    m[135:170, 145:180] = False  # beam block
    m[151:155, 160:] = False  # its stick
    return m


def _pyfai(img, mask, n_bins, method):
    pytest.importorskip("pyFAI")
    from pyFAI.integrator.azimuthal import AzimuthalIntegrator

    px = GEOM.pixel_size_m
    # pyFAI puts pixel centres at (i + 0.5) * pixel from the detector corner; uedflow at integer i
    ai = AzimuthalIntegrator(dist=GEOM.camera_length_m, pixel1=px, pixel2=px, poni1=(GEOM.center_rc[0] + 0.5) * px,
                             poni2=(GEOM.center_rc[1] + 0.5) * px, wavelength=GEOM.wavelength_angstrom * 1e-10)
    kw = {} if method is None else {"method": method}
    res = ai.integrate1d(img, n_bins, unit="q_A^-1", radial_range=tuple(2 * np.pi * np.array(S_RANGE)),
                         mask=(~mask).astype(np.int8), correctSolidAngle=False, **kw)
    return res.radial / (2 * np.pi), res.intensity


@pytest.mark.parametrize("method", [None, ("bbox", "csr", "cython")], ids=["default", "bbox-csr"])
def test_agrees_with_pyfai(image, mask, method):
    n_bins = 220
    s_ref, i_ref = _pyfai(image, mask, n_bins, method)
    op = build_operator(GEOM, mask=mask, n_bins=n_bins, s_range=S_RANGE)
    prof = integrate(image, op)
    np.testing.assert_allclose(prof.s, s_ref, rtol=1e-6)
    # away from the mask edge: bins whose pixels are all far from masked pixels / the image border
    from scipy.ndimage import binary_erosion

    core = binary_erosion(mask, iterations=3)
    core[:3], core[-3:], core[:, :3], core[:, -3:] = False, False, False, False
    edge = build_operator(GEOM, mask=core, n_bins=n_bins, s_range=S_RANGE).counts
    away = (edge > 0.9 * prof.counts) & (prof.counts > 0)
    assert away.sum() > 120
    rel = np.abs(prof.intensity[0, away] / i_ref[away] - 1)
    assert rel.max() < 5e-3  # issue 2: within 0.5 % per bin


def test_batch_equals_single_and_csr(rng, image, mask):
    op = build_operator(GEOM, mask=mask, n_bins=150, s_range=S_RANGE)
    frames = rng.poisson(image, size=(5, *GEOM.shape)).astype(np.uint16)
    batch = integrate(frames, op)
    one = integrate(frames[3].astype(float), op)
    np.testing.assert_allclose(batch.intensity[3], one.intensity[0], rtol=1e-10)
    sums = op.to_csr() @ frames[3].ravel().astype(float)
    np.testing.assert_allclose(sums / op.counts, one.intensity[0], rtol=1e-6)


def test_poisson_variance_matches_scatter(rng, image):
    op = build_operator(GEOM, n_bins=120, s_range=S_RANGE)
    frames = rng.poisson(image, size=(400, *GEOM.shape))
    prof = integrate(frames, op)
    measured = prof.intensity.var(axis=0, ddof=1)
    predicted = prof.variance.mean(axis=0)
    # sampling error of a variance from 400 draws is ~7 %; the median over bins is much tighter
    assert np.median(measured / predicted) == pytest.approx(1.0, abs=0.03)


def test_gain_and_read_noise_variance_matches_scatter(rng, image):
    """Counts = g·Poisson(electrons·f) + dark + N(0, σ_r²), with a flat: the predicted variance against the scatter."""
    gain, read_noise, dark = 2.5, 6.0, 100.0
    flat = rng.uniform(0.7, 1.3, GEOM.shape)
    electrons = 0.05 * image  # a few electrons per pixel: the read noise matters
    op = build_operator(GEOM, n_bins=120, s_range=S_RANGE, flat=flat, dark=np.full(GEOM.shape, dark), gain=gain,
                        read_noise=read_noise)
    frames = gain * rng.poisson(electrons * flat, size=(400, *GEOM.shape)) + dark
    frames += rng.normal(0.0, read_noise, frames.shape)
    prof = integrate(frames, op)
    ratio = prof.intensity.var(axis=0, ddof=1) / prof.variance.mean(axis=0)
    assert np.median(ratio) == pytest.approx(1.0, abs=0.03)
    shot_only = integrate(frames, build_operator(GEOM, n_bins=120, s_range=S_RANGE, flat=flat, dark=np.full(GEOM.shape, dark)))
    assert np.median(prof.intensity.var(axis=0, ddof=1) / shot_only.variance.mean(axis=0)) > 1.5  # what it fixes


def test_dark_and_flat(rng, image):
    dark = rng.uniform(90, 110, GEOM.shape)
    flat = rng.uniform(0.8, 1.2, GEOM.shape)
    raw = image * flat + dark
    plain = integrate(image, build_operator(GEOM, n_bins=100, s_range=S_RANGE))
    corrected = integrate(raw, build_operator(GEOM, n_bins=100, s_range=S_RANGE, flat=flat, dark=dark))
    np.testing.assert_allclose(corrected.intensity, plain.intensity, rtol=1e-6)  # float32 weights


def test_bad_arguments():
    with pytest.raises(GeometryError, match="s_range"):
        build_operator(GEOM, s_range=(0.5, 0.1))
    with pytest.raises(GeometryError, match="no valid pixel"):
        build_operator(GEOM, s_range=(5.0, 6.0))
    with pytest.raises(InputError, match="mask has shape"):
        build_operator(GEOM, mask=np.ones((3, 3), bool))
    with pytest.raises(InputError, match="read_noise_counts"):
        build_operator(GEOM, read_noise=-1.0)


@settings(max_examples=25, deadline=None)
@given(r0=st.floats(0, 39), c0=st.floats(0, 47), n_bins=st.integers(5, 80), seed=st.integers(0, 1000))
def test_counts_are_conserved_and_constants_preserved(r0, c0, n_bins, seed):
    """Each pixel's weights sum to 1: splitting moves counts between bins but never loses or adds any."""
    geom = Geometry((40, 48), (r0, c0), 1e-4, 0.3, 50.0)
    op = build_operator(geom, n_bins=n_bins)
    frame = np.random.default_rng(seed).poisson(50.0, geom.shape)
    sums, _ = integrate_sums(frame[None], op)
    assert sums.sum() == pytest.approx(frame.sum(), rel=1e-6)
    assert op.counts.sum() == pytest.approx(frame.size, rel=1e-9)
    flat = integrate(np.full(geom.shape, 3.0), op).intensity[0]
    np.testing.assert_allclose(flat[op.counts > 0], 3.0, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.uint16, np.int32, np.float32, np.float64, np.uint8])
@pytest.mark.parametrize("n_frames", [1, 13, 40])
def test_kernel_equals_sparse_product_and_group_sums(rng, dtype, n_frames):
    """The vector kernel (8 x 8 shuffles, 32-frame register sums) against scipy's CSR product on an odd shape
    (pixel count not a multiple of 8 or of the block), odd batch sizes and every dtype a reader can return."""
    geom = Geometry((37, 53), (18.2, 25.9), 1e-4, 0.3, 50.0)
    mask = rng.random(geom.shape) > 0.1
    op = build_operator(geom, mask=mask, n_bins=30, dark=rng.uniform(0, 3, geom.shape))
    frames = rng.integers(0, 200, (n_frames, *geom.shape)).astype(dtype)
    group = rng.integers(-1, 3, n_frames)
    frames.reshape(n_frames, -1)[np.arange(n_frames), rng.integers(0, frames[0].size, n_frames)] = 201 + np.arange(n_frames)
    group_sums, peak = np.zeros((3, frames[0].size)), np.zeros(n_frames)
    sums, _ = integrate_sums(frames, op, group=group, group_sums=group_sums, frame_max=peak)
    flat = frames.reshape(n_frames, -1).astype(float)
    np.testing.assert_allclose(sums, (op.to_csr() @ flat.T).T - op.dark_sum, rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(peak, flat.max(axis=1))
    for g in range(3):
        np.testing.assert_array_equal(group_sums[g], flat[group == g].sum(axis=0))


def test_operator_built_on_two_threads_equals_one_thread(rng, monkeypatch):
    """A large image's operator is built in two halves and merged: every array equals the one-thread build (the
    per-bin sums to rounding: they add the halves' sums)."""
    import importlib

    module = importlib.import_module("uedflow.reduce.integrate")  # the package exports a function of that name

    geom = Geometry((600, 640), (301.3, 290.8), 5e-5, 0.45, 50.0)
    kw = {"mask": rng.random(geom.shape) > 0.05, "dark": rng.uniform(0, 5, geom.shape),
          "flat": rng.uniform(0.8, 1.2, geom.shape), "n_bins": 300, "read_noise": 2.0}
    two = build_operator(geom, **kw)
    monkeypatch.setattr(module, "_PARALLEL_PIXELS", geom.shape[0] * geom.shape[1] + 1)
    one = build_operator(geom, **kw)
    for name, value in vars(one).items():
        np.testing.assert_allclose(getattr(two, name), value, rtol=1e-13, atol=0, err_msg=name)
