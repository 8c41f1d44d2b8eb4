"""The explorer in headless Chromium: file size, time to open, time per slider step; against Plotly and Bokeh.

Prints, measured in one run:

* the demo's explorer (``uedflow demo``; ``--demo DIR`` reuses a finished one, else it is run into a
  temporary folder, a few minutes) and the explorer of a 2,048-delay × 1,000-bin series
  (:func:`uedflow.report.synthetic.synthetic_long_series`): size [MB], open [s] (navigation to drawn),
  slider step [ms] (redraw of every plot and the next frame painted; median and max over the delays);
* the same profile panel (I(s) over the reference with fit and background, ΔI, residual, one slider
  step per delay) built with Plotly (frames + slider, plotly.js inline) and with Bokeh (standalone,
  CustomJS slider, BokehJS inline), when installed: size, open, step, and the ratios to uedflow's
  whole explorer (which holds far more than the profile panel).

Chromium is Debian's ``/usr/bin/chromium`` (``make browser``), driven by Playwright.

Usage: ``python benchmarks/bench_explore.py [--demo DIR]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT = "new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)))"  # the frame is painted
STEPS = {
    "uedflow": ("document.body.dataset.ready === '1'", "uedflow.setDelay(i)"),
    "plotly": ("document.querySelector('.js-plotly-plot') && document.querySelector('.js-plotly-plot')._fullLayout",
               "await Plotly.animate(document.querySelector('.js-plotly-plot'), ['d' + i], "
               "{mode: 'immediate', frame: {duration: 0, redraw: true}, transition: {duration: 0}})"),
    "bokeh": ("window.Bokeh && Bokeh.documents.length && Bokeh.documents[0].get_model_by_name('delay')",
              "Bokeh.documents[0].get_model_by_name('delay').value = i"),
}


def measure(page, path: Path, kind: str, n_steps: int) -> dict[str, float]:
    """Size [MB], open [s] and slider step times [ms] of one page."""
    ready, step = STEPS[kind]
    t = time.perf_counter()
    page.goto(path.as_uri())
    page.wait_for_function(ready, timeout=120_000)
    page.evaluate(WAIT)
    opened = time.perf_counter() - t
    times = page.evaluate(f"""async () => {{ const t = [];
        for (let i = 0; i < {n_steps}; i++) {{ const a = performance.now(); {step}; await {WAIT}; t.push(performance.now() - a); }}
        return t; }}""")
    return {"MB": path.stat().st_size / 1e6, "open_s": opened, "step_ms_median": float(np.median(times)),
            "step_ms_max": float(np.max(times))}


def _profiles(reduced_path: Path, dynamics_path: Path) -> dict[str, np.ndarray]:
    from uedflow.dynamics import open_dynamics
    from uedflow.reduce import open_reduced

    red, dyn = open_reduced(reduced_path), open_dynamics(dynamics_path)
    return {"s": red["s"].values, "delay": red["delay"].values, "ref": red["reference"].values,
            "I": red["intensity"].values, "fit": dyn["fit_model"].values, "bg": dyn["fit_background"].values,
            "dI": red["differential"].values, "res": red["intensity"].values - dyn["fit_model"].values}


def plotly_page(p: dict[str, np.ndarray], out: Path) -> Path:
    """The profile panel with Plotly: one frame per delay, a slider that animates to it."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, row_heights=[0.5, 0.25, 0.25])
    s = p["s"]

    def traces(i: int) -> list:
        return [go.Scatter(x=s, y=p["I"][i], name="I(s)"), go.Scatter(x=s, y=p["fit"][i], name="fit"),
                go.Scatter(x=s, y=p["bg"][i], name="background"), go.Scatter(x=s, y=p["dI"][i], name="ΔI"),
                go.Scatter(x=s, y=p["res"][i], name="residual")]

    fig.add_trace(go.Scatter(x=s, y=p["ref"], name="reference"), row=1, col=1)
    for k, tr in enumerate(traces(0)):
        fig.add_trace(tr, row=(1, 1, 1, 2, 3)[k], col=1)
    fig.frames = [go.Frame(data=traces(i), traces=[1, 2, 3, 4, 5], name=f"d{i}") for i in range(len(p["delay"]))]
    fig.update_layout(sliders=[{"steps": [{"label": f"{d:g}", "method": "animate",
                                           "args": [[f"d{i}"], {"mode": "immediate", "frame": {"duration": 0}}]}
                                          for i, d in enumerate(p["delay"])]}], height=900)
    fig.write_html(out, include_plotlyjs=True, full_html=True)
    return out


def bokeh_page(p: dict[str, np.ndarray], out: Path) -> Path:
    """The profile panel with Bokeh: every delay's rows in one source, a CustomJS slider copies one row."""
    from bokeh.embed import file_html
    from bokeh.layouts import column
    from bokeh.models import ColumnDataSource, CustomJS, Slider
    from bokeh.plotting import figure
    from bokeh.resources import INLINE

    n = p["s"].size
    keys = ("I", "fit", "bg", "dI", "res")
    shown = ColumnDataSource({"s": p["s"], "ref": p["ref"], **{k: p[k][0] for k in keys}})
    every = ColumnDataSource({k: p[k].ravel() for k in keys})
    figs = [figure(height=h, width=1200) for h in (360, 220, 220)]
    for y in ("ref", "I", "fit", "bg"):
        figs[0].line("s", y, source=shown)
    figs[1].line("s", "dI", source=shown)
    figs[2].line("s", "res", source=shown)
    slider = Slider(start=0, end=len(p["delay"]) - 1, value=0, step=1, title="delay index", name="delay")
    slider.js_on_change("value", CustomJS(args={"shown": shown, "every": every, "n": n, "keys": list(keys)}, code="""
        const i = cb_obj.value, d = Object.assign({}, shown.data);
        for (const k of keys) d[k] = every.data[k].slice(i * n, (i + 1) * n);
        shown.data = d;"""))
    out.write_text(file_html(column(slider, *figs), INLINE, "bokeh profile"), encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--demo", type=Path, default=None, help="a finished `uedflow demo -o DIR` folder")
    args = ap.parse_args(argv)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("playwright is not installed (pip install -e '.[test]'); skipped")
        return
    from uedflow.report.explorer import write_explorer
    from uedflow.report.synthetic import synthetic_long_series

    tmp = Path(tempfile.mkdtemp(prefix="bench-explore-"))
    demo = args.demo
    if demo is None:
        from uedflow.pipeline import run_demo

        print("running uedflow demo (a few minutes)...", flush=True)
        demo = tmp / "demo"
        run_demo(demo)
    first = sorted(p for p in demo.iterdir() if (p / "reduced.h5").is_file())[0]
    t = time.perf_counter()
    red, dyn = synthetic_long_series()
    long_page = write_explorer(red, [dyn], tmp / "long.html")
    print(f"2048 x 1000 explorer written in {time.perf_counter() - t:.1f} s", flush=True)
    pages = {"demo explorer (uedflow)": (demo / "explore.html", "uedflow", None),
             "2048 x 1000 explorer (uedflow)": (long_page, "uedflow", None)}
    prof = _profiles(first / "reduced.h5", first / "dynamics.h5")
    for name, build in (("plotly", plotly_page), ("bokeh", bokeh_page)):
        try:
            pages[f"demo profile panel ({name})"] = (build(prof, tmp / f"{name}.html"), name, None)
        except ImportError:
            print(f"{name} is not installed; not compared")
    results = {}
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(str(tmp / "profile"), executable_path="/usr/bin/chromium",
                                                    headless=True, args=FLAGS, viewport={"width": 1300, "height": 900})
        page = ctx.new_page()
        errors: list[str] = []
        current = [""]
        page.on("pageerror", lambda e: errors.append(f"{current[0]}: {e}"))
        for name, (path, kind, _) in pages.items():
            current[0] = name
            n_steps = len(prof["delay"]) if "demo" in name else 100
            results[name] = measure(page, path, kind, n_steps)
        ctx.close()
    print(f"{'page':34s} {'size MB':>8s} {'open s':>7s} {'step ms (median / max)':>24s}")
    for name, r in results.items():
        print(f"{name:34s} {r['MB']:8.2f} {r['open_s']:7.2f} {r['step_ms_median']:11.1f} / {r['step_ms_max']:.1f}")
    ours = results["demo explorer (uedflow)"]
    for name, r in results.items():
        if "profile panel" in name:
            print(f"{name}: {r['MB'] / ours['MB']:.1f}x the size, {r['open_s'] / ours['open_s']:.1f}x the open time, "
                  f"{r['step_ms_median'] / ours['step_ms_median']:.1f}x the step time of uedflow's whole explorer")
    if errors:
        print("page errors:", errors)


if __name__ == "__main__":
    main()
