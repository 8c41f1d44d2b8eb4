"""Center finding with a beam block and hot pixels, automatic masks."""


import numpy as np
import pytest

from _ringsynth import pbse_rings, ring_image
from uedflow.errors import GeometryError
from uedflow.reduce.center import find_center, ring_center_offset, symmetry_center
from uedflow.reduce.geometry import Geometry
from uedflow.reduce.masks import MaskResult, auto_mask


def _frames(rng, center, *, n=4, shape=(256, 256)):
    """Noisy ring frames with a beam block (disk + stick), 30 hot and 30 dead pixels."""
    g = Geometry(shape, center, 5e-5, 0.45, 50.0)
    clean = ring_image(g, pbse_rings())
    frames = rng.poisson(clean, size=(n, *shape)).astype(float)
    rr, cc = np.indices(shape)
    block = (np.hypot(rr - center[0], cc - center[1]) < 14) | ((np.abs(rr - center[0]) < 3) & (cc > center[1]))
    frames[:, block] = rng.poisson(1.0, (n, int(block.sum())))
    hot = (rng.integers(0, shape[0], 30), rng.integers(0, shape[1], 30))
    dead = (rng.integers(0, shape[0], 30), rng.integers(0, shape[1], 30))
    frames[:, hot[0], hot[1]] = 60000.0
    frames[:, dead[0], dead[1]] = 0.0
    return frames, block, hot, dead


@pytest.mark.parametrize("center", [(128.3, 127.6), (120.85, 140.2), (135.5, 118.1)])
def test_center_within_0p2_px_with_block_and_hot_pixels(center):
    rng = np.random.default_rng(int(center[0] * 10))
    frames, *_ = _frames(rng, center)
    pre = auto_mask(frames)  # hot/dead only: the center is not known yet
    image = np.median(frames, axis=0)
    low = image < 0.2 * np.median(image[pre.valid])
    res = find_center(image, mask=pre.valid & ~low)
    assert res.success
    assert np.hypot(res.center_rc[0] - center[0], res.center_rc[1] - center[1]) < 0.2  # issue 2 requirement
    assert res.residual_px < 0.1
    assert res.summary()["center_rc"] == list(res.center_rc)


def test_symmetry_center_is_a_good_start():
    rng = np.random.default_rng(3)
    frames, block, *_ = _frames(rng, (118.2, 133.7), n=1)
    r, c = symmetry_center(frames[0], mask=~block & (frames[0] < 50000))
    assert abs(r - 118.2) < 1.0 and abs(c - 133.7) < 1.0


def test_auto_mask_finds_block_hot_dead_and_saturated():
    rng = np.random.default_rng(5)
    center = (127.4, 129.9)
    frames, block, hot, dead = _frames(rng, center, n=5)
    frames[2, 10, 20] = 65535.0  # saturated once
    m = auto_mask(frames, center, saturation=65535)
    assert m.hot[hot].all() and m.dead[dead].all() and m.saturated[10, 20]
    assert m.beam_block[block].mean() > 0.99  # the block, grown by 2 px
    outside = ~block & (np.hypot(*(np.indices(block.shape) - np.array(center)[:, None, None])) > 20)
    assert m.beam_block[outside].mean() < 0.01
    flagged = (m.hot | m.dead | m.saturated) & ~block
    assert flagged.sum() <= 61 + 6  # 61 planted; at most ~1e-4 of the 65k pixels flagged wrongly (block rim, edges)
    assert not m.valid[hot].any() and m.summary()["hot"] == int(m.hot.sum())


def test_user_mask_and_errors():
    none = np.zeros((4, 4), bool)
    user = np.ones((4, 4), bool)
    user[1, 1] = False
    hot = none.copy()
    hot[2, 3] = True
    m = MaskResult.assemble(none, hot, none, none, user)
    assert m.valid.sum() == 14 and not m.valid[1, 1] and not m.valid[2, 3]
    with pytest.raises(GeometryError, match="too few valid pixels"):
        find_center(np.ones((8, 8)), mask=np.zeros((8, 8), bool))


@pytest.mark.parametrize("offset", [(0.0, 0.0), (0.5, 0.0), (-0.3, 0.4)])
def test_ring_residual_measures_a_known_offset(offset):
    center = (126.3, 129.8)
    frames, block, *_ = _frames(np.random.default_rng(8), center, n=1)
    wrong = (center[0] + offset[0], center[1] + offset[1])
    res = ring_center_offset(frames[0], wrong, mask=~block & (frames[0] > 0) & (frames[0] < 50000))
    assert res == pytest.approx(np.hypot(*offset), abs=0.05)


def test_hot_pixels_of_the_simulator_and_no_ring_crests(tmp_path):
    """The simulator's detector knows its hot pixels: exactly those are found, none on the sharp (200)/(220) crests."""
    import json

    from uedflow.io import read_manifest, read_records
    from uedflow.reduce.masks import median_peak, pixel_defects
    from uedflow.simulate import simulate_experiment
    from uedflow.simulate.detector import DetectorModel

    folder = simulate_experiment("small", tmp_path / "small")
    truth = json.loads((folder / "truth.json").read_text())
    det = dict(truth["config"]["detector"])
    geometry = Geometry(tuple(det["shape"]), tuple(det["center_rc"]), det["pixel_size_m"], det["camera_length_m"],
                        det["energy_keV"])
    model = DetectorModel(geometry, seed=truth["seed"])
    records = read_manifest(folder / "frames.csv")
    frames = read_records(records[::3], geometry.shape, np.uint16)
    _, hot, _ = pixel_defects(*median_peak(frames), saturation=65535)
    assert model.hot_pixels.sum() >= 5
    np.testing.assert_array_equal(hot, model.hot_pixels)
