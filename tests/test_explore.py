"""Explorer data and page without a browser: thinning a long series, the page's size, the CLI."""

import json
import re

import numpy as np
from click.testing import CliRunner

from uedflow.cli import main
from uedflow.report.explorer import render_explorer, write_explorer
from uedflow.report.synthetic import synthetic_dynamics, synthetic_long_series, synthetic_reduced, synthetic_truth
from uedflow.report.views import explorer_data, unpack


def test_long_series_is_thinned_below_50_MB_and_shows_the_files_rows(tmp_path):
    red, dyn = synthetic_long_series()
    page = write_explorer(red, [dyn], tmp_path / "explore.html")
    size_mb = page.stat().st_size / 1e6
    print(f"2048 delays x 1000 bins: explorer {size_mb:.1f} MB")
    assert size_mb < 50
    text = page.read_text()
    assert re.search(r"Shown thinned: the slider steps through \d+ of 2048 delays", text)
    data = json.loads(re.search(r"<script type=application/json id=uedflow-data>(.*?)</script>", text, re.S)[1]
                      .replace("<\\/", "</"))
    prof = data["profile"]
    rows = np.array(prof["delay_index"])
    assert 256 < rows.size <= 512 and rows[0] == 0 and rows[-1] == 2047
    np.testing.assert_array_equal(prof["delay"], red["delay"].values[rows])
    np.testing.assert_array_equal(unpack(prof["intensity"]), red["intensity"].values[rows].astype(np.float32))
    np.testing.assert_array_equal(unpack(prof["fit_model"]), dyn["fit_model"].values[rows].astype(np.float32))
    assert unpack(data["pattern"]["diff"]).shape == (256, 256)  # 1024² averaged in 4×4 blocks
    trace = data["samples"][0]
    assert len(trace["delay"]) == 2048  # traces are never thinned
    np.testing.assert_array_equal(unpack(trace["strain"]), dyn["strain"].values.astype(np.float32))


def test_pattern_blocks_are_means_of_valid_pixels():
    t = synthetic_truth(s_max=0.5)
    red = synthetic_reduced(t, shape=(10, 10))
    data = explorer_data(red, max_px=5)
    diff, valid = unpack(data["pattern"]["diff"]), unpack(data["pattern"]["valid"])
    img, mask = red["diff_pattern"].values, red["mask"].values.astype(bool)
    block = img[2:4, 6:8][mask[2:4, 6:8]]
    assert diff.shape == (5, 5)
    np.testing.assert_allclose(diff[1, 3], block.mean() if block.size else np.nan, rtol=1e-6)
    np.testing.assert_allclose(valid[1, 3], mask[2:4, 6:8].mean(), rtol=1e-6)


def test_explore_cli(tmp_path):
    t = synthetic_truth(s_max=0.5)
    from uedflow.io import write_dataset

    write_dataset(synthetic_reduced(t), tmp_path / "reduced.h5", format="uedflow-reduced", version=1)
    for k in (1, 2):
        write_dataset(synthetic_dynamics(t, seed=k, label=f"s{k}"), tmp_path / f"d{k}.h5", format="uedflow-dynamics",
                      version=1)
    run = CliRunner().invoke
    res = run(main, ["explore", str(tmp_path / "reduced.h5"), str(tmp_path / "d1.h5"), str(tmp_path / "d2.h5"),
                     "-o", str(tmp_path / "x.html")])
    assert res.exit_code == 0, res.output
    page = (tmp_path / "x.html").read_text()
    assert "<table id=comparison>" in page and "http://" not in page and "https://" not in page
    res = run(main, ["explore", str(tmp_path / "reduced.h5"), str(tmp_path / "d1.h5"), "--label", "a", "--label", "b"])
    assert res.exit_code == 2 and "2 --label for 1 dynamics" in res.output
    res = run(main, ["explore", str(tmp_path / "missing.h5")])
    assert res.exit_code == 2 and "missing.h5" in res.output and "Traceback" not in res.output


def test_notebook_view_is_the_same_page():
    import html

    from uedflow import explore

    t = synthetic_truth(s_max=0.5)
    red, dyn = synthetic_reduced(t), synthetic_dynamics(t)
    shown = explore.show(red, dyn)._repr_html_()
    page = render_explorer(explorer_data(red, [dyn]))
    srcdoc = html.unescape(re.search(r'srcdoc="(.*?)"', shown, re.S)[1])
    assert srcdoc == page


def test_diagnostics_show_per_frame_centres_when_recorded_else_the_fixed_one():
    from uedflow.report.views import diagnostics_view

    t = synthetic_truth(s_max=0.5)
    red = synthetic_reduced(t)
    fixed = diagnostics_view(red)
    assert "center_row" not in fixed and fixed["center_rc"] == [48.0, 48.0]
    rng = np.random.default_rng(0)
    rows = 48.0 + 0.1 * rng.standard_normal((red.sizes["scan"], red.sizes["delay"]))
    red["center_row"] = (("delay", "scan"), rows.T, {"units": "px"})  # any dimension order
    red["center_col"] = (("scan", "delay"), rows - 1.0, {"units": "px"})
    red["frame_rejected"][1, 3] = 1
    red["frame_reject_reason"] = (("scan", "delay"), (red["frame_rejected"].values * 2).astype(np.uint8))
    view = diagnostics_view(red)
    np.testing.assert_array_equal(unpack(view["center_row"]), rows.astype(np.float32))
    np.testing.assert_array_equal(unpack(view["center_col"]), (rows - 1.0).astype(np.float32))
    assert view["rejected"] == [{"scan": 2, "delay_ps": float(red["delay"][3]),
                                 "reason": "outlier against the other scans"}]
