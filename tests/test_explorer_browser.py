"""The explorer as a person uses it, in headless Chromium driven by Playwright.

A small simulated experiment is reduced and analysed; its explorer page is opened offline, the
slider is moved to three delays (and stepped with the arrow keys), and what each plot drew is read
back from the page and compared with reduced.h5 and dynamics.h5 to float32 precision (the page
stores float32). Hovering a trace point must show that point's σ; a click on a ring label brings
up that ring's traces. The page must log no console error and make no request but its own file.
"""

import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from uedflow.config import load_experiment
from uedflow.dynamics import analyze, open_dynamics, write_dynamics
from uedflow.reduce import open_reduced, reduce_experiment, write_reduced
from uedflow.report.explorer import write_explorer
from uedflow.simulate import simulate_experiment

playwright = pytest.importorskip("playwright.sync_api", reason="playwright (pip, the [test] extra) is not installed")
_CANDIDATES = (os.environ.get("UEDFLOW_CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium",
               shutil.which("chromium-browser"))
CHROMIUM = next((p for p in _CANDIDATES if p and Path(p).is_file()), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not found (install Debian's `chromium` "
                                                         "package with `make browser`, or set UEDFLOW_CHROMIUM)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def stage_files(tmp_path_factory):
    out = tmp_path_factory.mktemp("explore")
    simulate_experiment("small", out / "data", seed=2)
    exp = load_experiment(out / "data" / "experiment.toml")
    write_reduced(reduce_experiment(exp), out / "reduced.h5", experiment=exp)
    write_dynamics(analyze(open_reduced(out / "reduced.h5"), config=exp.analyze), out / "dynamics.h5")
    html = write_explorer(out / "reduced.h5", [out / "dynamics.h5", out / "dynamics.h5"], out / "explore.html",
                          labels=["run A", "run B"])
    return open_reduced(out / "reduced.h5"), open_dynamics(out / "dynamics.h5"), html


@pytest.fixture(scope="module")
def page(stage_files, tmp_path_factory):
    """The opened explorer, with the console errors and the requests it made."""
    html = stage_files[2]
    with playwright.sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(str(tmp_path_factory.mktemp("profile")), executable_path=CHROMIUM,
                                                   headless=True, args=FLAGS, viewport={"width": 1300, "height": 900})
        pg = ctx.new_page()
        errors, requests = [], []
        pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.on("request", lambda r: requests.append(r.url))
        pg.goto(html.as_uri())
        pg.wait_for_selector("body[data-ready='1']", timeout=30_000)
        yield pg, errors, requests, html
        ctx.close()


def _plotted(pg, plot_id):
    return {s["name"]: s for s in pg.evaluate(f"window.uedflowPlots[{plot_id!r}].series")}


def _f32(a):
    return np.asarray(a, np.float32).astype(float)


def _same(js, ref):
    """Equal to float32 precision (the page's storage); NaN where the file has NaN (JSON gives None)."""
    got = np.array([np.nan if v is None else v for v in js], float)
    np.testing.assert_array_equal(got, _f32(ref))


def test_slider_shows_the_files_values_at_three_delays(page, stage_files):
    pg, errors, _, _ = page
    red, dyn, _ = stage_files
    n = red.sizes["delay"]
    for i in (0, n // 2, n - 1):
        pg.locator("#slider").fill(str(i))
        assert pg.evaluate("uedflow.state.delay") == i
        d = float(red["delay"][i])
        prof = _plotted(pg, "profile")
        _same(prof["reference"]["y"], red["reference"].values)
        _same(prof[f"I(s) at {pg.evaluate(f'({d}).toPrecision(4)')} ps"]["y"], red["intensity"].values[i])
        _same(prof["fit"]["y"], dyn["fit_model"].values[i])
        _same(prof["background"]["y"], dyn["fit_background"].values[i])
        np.testing.assert_array_equal(prof["reference"]["x"], red["s"].values)  # s and delays: float64 in JSON
        diff = _plotted(pg, "differential")["ΔI(s) ± 1σ"]
        _same(diff["y"], red["differential"].values[i])
        _same(diff["err"], red["intensity_sigma"].values[i])
        res = _plotted(pg, "residual")["residual ± 1σ"]
        _same(res["y"], _f32(red["intensity"].values[i]) - _f32(dyn["fit_model"].values[i]))
        assert pg.evaluate("document.getElementById('trace-strain')._spec.vline") == pytest.approx(d)
    pg.locator("#profile").click(position={"x": 5, "y": 5})  # focus off the slider; the keys step the delay
    pg.keyboard.press("ArrowLeft")
    assert pg.evaluate("uedflow.state.delay") == n - 2
    assert errors == []


def test_traces_equal_dynamics_and_hover_shows_sigma(page, stage_files):
    pg, errors, _, _ = page
    _, dyn, _ = stage_files
    k = 1
    pg.select_option("#ring", str(k))
    hkl = str(dyn["hkl"].values[k])
    for obs in ("strain", "msd", "width", "intensity"):
        series = pg.evaluate(f"window.uedflowPlots['trace-{obs}'].series")
        pts, fit = series[0], series[1]
        assert pts["name"] == f"run A ({hkl})"
        _same(pts["y"], dyn[obs].values[k])
        _same(pts["err"], dyn[f"{obs}_err"].values[k])
        _same(fit["y"], dyn[f"{obs}_fit"].values[k])
        _same(series[2]["y"], dyn[obs].values[k])  # run B: the same file, overlaid
    pg.locator("#trace-strain").scroll_into_view_if_needed()
    i = int(np.flatnonzero(np.isfinite(dyn["strain"].values[k]))[-1])
    x, y = pg.evaluate(f"window.uedflowPlots['trace-strain'].pixel(0, {i})")
    pg.mouse.move(x, y)
    tip = pg.inner_text("#tip")
    m = re.search(r"strain ε = (\S+) ± (\S+)\s+at (\S+) ps; τ = (\S+) ± (\S+) ps", tip)
    assert m, tip
    assert hkl in tip and "run A" in tip
    np.testing.assert_allclose(float(m[1]), dyn["strain"].values[k, i], rtol=1e-3)
    np.testing.assert_allclose(float(m[2]), dyn["strain_err"].values[k, i], rtol=1e-3)
    np.testing.assert_allclose(float(m[4]), dyn["tau_ps"].sel(observable="strain").values[k], rtol=1e-3)
    assert errors == []


def test_per_scan_traces(page, stage_files):
    """Ticking "per-scan traces" overlays each scan's strain, s̄₀/s − 1 (= Δd/d₀) of that scan's own fits."""
    pg, errors, _, _ = page
    _, dyn, _ = stage_files
    k = 0
    pg.select_option("#ring", str(k))
    pg.check("#scans")
    series = {s["name"]: s for s in pg.evaluate("window.uedflowPlots['trace-strain'].series")}
    before = dyn["delay"].values < 0
    for q, scan in enumerate(dyn["scan"].values):
        pos = np.where(dyn["scan_fit_flag"].values[q, k] == 0, dyn["scan_position"].values[q, k], np.nan)
        ref = np.nanmean(pos[before])
        np.testing.assert_allclose(np.array(series[f"scan {scan}"]["y"], float), ref / pos - 1.0, rtol=1e-5,
                                   atol=1e-9)
    pg.uncheck("#scans")
    assert errors == []


def test_click_on_a_ring_shows_its_traces_and_comparison(page, stage_files):
    pg, errors, requests, html = page
    _, dyn, _ = stage_files
    k = dyn.sizes["peak"] - 1
    pg.locator("#profile").scroll_into_view_if_needed()
    x, y = pg.evaluate(f"window.uedflowPlots.profile.at({float(dyn['s0'].values[k])}, 0)")
    top = pg.locator("#profile").bounding_box()["y"]
    pg.mouse.click(x, top + 30)  # the ring labels sit at the top of the profile
    assert pg.evaluate("uedflow.state.ring") == k
    assert pg.input_value("#ring") == str(k)
    assert pg.evaluate("window.uedflowPlots['trace-msd'].series[0].name") == f"run A ({dyn['hkl'].values[k]})"
    table = pg.inner_text("#comparison")
    assert "run B" in table and str(dyn["hkl"].values[k]) in table
    assert errors == []
    assert requests == [html.as_uri()]


def test_live_page_reloads_and_keeps_the_delay_and_ring(page, stage_files, tmp_path):
    """`uedflow watch` writes the page with a reload period: new data shows, the chosen delay and ring stay."""
    pg = page[0].context.new_page()
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    live = write_explorer(stage_files[2].with_name("reduced.h5"), [stage_files[2].with_name("dynamics.h5")],
                          tmp_path / "live.html", refresh_s=1)
    pg.goto(live.as_uri())
    pg.wait_for_selector("body[data-ready='1']")
    pg.evaluate("uedflow.setDelay(3); uedflow.setRing(2)")
    first = pg.evaluate("performance.timeOrigin")
    pg.wait_for_function(f"performance.timeOrigin !== {first} && document.body.dataset.ready === '1'",
                         timeout=15_000)
    assert pg.evaluate("[uedflow.state.delay, uedflow.state.ring, +document.getElementById('slider').value]") == [3, 2, 3]
    assert errors == []
    pg.close()
