"""User masks: polygons in the experiment file, mask images (True = valid) and pyFAI/fabio masks (1 = masked)."""

import json
import tomllib

import numpy as np
import pytest
from PIL import Image

from test_beam_stop import REFERENCE, polygon_mask
from test_static import BISMUTH, TOML
from uedflow.config import experiment_from_dict, experiment_to_toml, load_experiment
from uedflow.errors import ConfigError
from uedflow.io import read_frame
from uedflow.reduce import reduce_experiment
from uedflow.reduce.masks import user_mask

POLYGON = json.loads(REFERENCE.read_text())["polygon_rc"]


def _toml_polygons(polygons) -> str:
    return "mask_polygons = " + json.dumps(polygons) + "\n"


def test_polygons_in_the_experiment_file_mask_what_matplotlib_says_is_inside(tmp_path):
    (tmp_path / "frames.csv").write_text(f"file\n{BISMUTH}\n")
    text = TOML.replace("[detector]\n", "[detector]\n" + _toml_polygons([POLYGON, [[199.5, -0.5], [255.5, -0.5], [255.5, 8.5]]]))
    (tmp_path / "e.toml").write_text(text)
    exp = load_experiment(tmp_path / "e.toml")
    assert len(exp.detector.mask_polygons) == 2
    again = experiment_from_dict(tomllib.loads(experiment_to_toml(exp.to_dict())), base_dir=tmp_path)
    assert again.detector.mask_polygons == exp.detector.mask_polygons
    got = user_mask((256, 256), polygons=exp.detector.mask_polygons)
    want = ~polygon_mask(POLYGON, (256, 256)) & ~polygon_mask([[199.5, -0.5], [255.5, -0.5], [255.5, 8.5]], (256, 256))
    np.testing.assert_array_equal(got, want)
    (tmp_path / "e.toml").write_text(TOML.replace("[detector]\n", "[detector]\n" + _toml_polygons([[[0, 0], [1, 1]]])))
    with pytest.raises(ConfigError, match="mask_polygons"):
        load_experiment(tmp_path / "e.toml")


def test_mask_files_in_both_conventions(tmp_path):
    """A PNG drawn in an image editor (white = valid), a pyFAI EDF and a fit2d .msk (1 = masked) as fabio — the
    library pyFAI reads them with — writes them."""
    from fabio.edfimage import EdfImage
    from fabio.fit2dmaskimage import Fit2dMaskImage

    rng = np.random.default_rng(1)
    masked = rng.random((40, 52)) < 0.1
    Image.fromarray(np.where(masked, 0, 255).astype(np.uint8)).convert("RGB").save(tmp_path / "valid.png")
    EdfImage(data=masked.astype(np.uint8)).write(str(tmp_path / "pyfai.edf"))
    Fit2dMaskImage(data=masked.astype(np.uint8)).write(str(tmp_path / "fit2d.msk"))
    np.testing.assert_array_equal(user_mask(masked.shape, valid=read_frame(tmp_path / "valid.png")), ~masked)
    for name in ("pyfai.edf", "fit2d.msk"):
        np.testing.assert_array_equal(user_mask(masked.shape, masked=read_frame(tmp_path / name)), ~masked)
    assert user_mask(masked.shape) is None


def test_reduction_uses_every_user_mask(tmp_path):
    """bismuth.dm3 with the stop drawn as a polygon and the dark lower-left corner in a pyFAI mask: both are masked
    in reduced.h5, besides the automatic masks."""
    from fabio.edfimage import EdfImage

    corner = np.zeros((256, 256), np.uint8)
    corner[200:, :10] = 1
    EdfImage(data=corner).write(str(tmp_path / "corner.edf"))
    (tmp_path / "frames.csv").write_text(f"file\n{BISMUTH}\n")
    keys = 'pyfai_mask = "corner.edf"\n' + _toml_polygons([POLYGON])
    (tmp_path / "e.toml").write_text(TOML.replace("[detector]\n", "[detector]\n" + keys))
    ds = reduce_experiment(load_experiment(tmp_path / "e.toml"))
    valid = ds["mask"].values.astype(bool)
    assert not valid[polygon_mask(POLYGON, valid.shape)].any() and not valid[corner > 0].any()
    assert valid.mean() > 0.9 and read_frame(BISMUTH).shape == valid.shape
