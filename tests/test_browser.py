"""The report as a person sees it: rendered by headless Chromium, every figure loads and shows something.

Chromium (Debian package ``chromium``; ``make test`` installs it where it can)
is run offline on a copy of the report with a small probe script appended; the
script reports, for every <img>, its decoded size and the fraction of
non-white pixels, and the test reads that back from the dumped DOM.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from uedflow.report import Sample, write_report
from uedflow.report.synthetic import synthetic_dynamics, synthetic_reduced, synthetic_truth

_CANDIDATES = (os.environ.get("UEDFLOW_CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium",
               shutil.which("chromium-browser"), shutil.which("google-chrome"))
CHROMIUM = next((p for p in _CANDIDATES if p and Path(p).is_file()), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not found (install Debian's `chromium` "
                                                         "package or set UEDFLOW_CHROMIUM=/path/to/chrome)")

#: fraction of an <img>'s pixels that are not white (drawn on a canvas)
INK = """
function ink(img) {
  const c = document.createElement("canvas");
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  if (!c.width || !c.height) return 0;
  const g = c.getContext("2d");
  g.drawImage(img, 0, 0);
  const d = g.getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i] < 200 || d[i + 1] < 200 || d[i + 2] < 200) n++;
  return n / (c.width * c.height);
}
"""

PROBE = """
<script>
""" + INK + """
window.addEventListener("load", () => {
  const out = [...document.images].map((img) => {
    return {alt: img.alt, w: img.naturalWidth, h: img.naturalHeight, shown: img.width, complete: img.complete, ink: ink(img)};
  });
  const pre = document.createElement("pre");
  pre.id = "uedflow-probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'chromium-profile'}", "--hide-scrollbars", "--window-size=1200,3000"]
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=90, check=False)


def _probe(html_path: Path, script: str, tmp_path: Path):
    """Run ``script`` (which writes JSON into <pre id="uedflow-probe">) on a copy of the page; return its JSON."""
    probe = tmp_path / "probed.html"
    probe.write_text(html_path.read_text(encoding="utf-8").replace("</body>", script + "</body>"), encoding="utf-8")
    res = _chromium(tmp_path, "--virtual-time-budget=10000", "--dump-dom", probe.as_uri())
    m = re.search(r'<pre id="uedflow-probe">(.*?)</pre>', res.stdout, re.S)
    assert m, f"probe did not run; chromium exit {res.returncode}: {res.stderr[-2000:]}"
    return json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("browser")
    t = synthetic_truth(s_max=0.5, seed=3)
    sample = Sample(synthetic_dynamics(t, seed=3, label="individual"), synthetic_reduced(t, shape=(64, 64)), t)
    return write_report([sample], out / "report")


def test_every_figure_loads_and_is_not_blank(report, tmp_path):
    images = _probe(report.html, PROBE, tmp_path)
    assert len(images) == len(report.figures) == 7  # Figures 3, 4, S6, S8, S7, radial profile, recovered vs true
    for img in images:
        assert img["complete"] and img["w"] > 300 and img["h"] > 200, img
        assert img["shown"] > 300, f"{img['alt']} is displayed too small: {img['shown']} px"
        assert 0.02 < img["ink"] < 0.9, f"{img['alt']}: {img['ink']:.1%} of pixels are not white"


SECTIONS_PROBE = """
<script>
""" + INK + """
window.addEventListener("load", () => {
  const ids = ["heating-check", "lattice-temperature", "global-kinetics", "wilson", "elements", "anisotropy", "fluence"];
  const out = {};
  for (const id of ids) {
    const h = document.getElementById(id);
    if (!h) continue;
    let rows = 0, el = h.nextElementSibling;
    while (el && el.tagName !== "H2") { rows += el.querySelectorAll("tbody tr").length; el = el.nextElementSibling; }
    out[id] = {rows, height: h.getBoundingClientRect().height, text: h.textContent};
  }
  out.figures = {};
  for (const key of ["lattice_temperature", "wilson_plot"]) {
    const img = document.querySelector(`#${key} img`);
    out.figures[key] = img ? {w: img.naturalWidth, shown: img.width, complete: img.complete, ink: ink(img)} : null;
  }
  const pre = document.createElement("pre");
  pre.id = "uedflow-probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""


@pytest.fixture(scope="module")
def analysed_report(tmp_path_factory):
    """Two analysed virtual experiments at different fluences: every lattice-level section has data."""
    import numpy as np

    from uedflow.crystal import get_structure
    from uedflow.dynamics import analyze
    from uedflow.simulate import PeakDynamics, get_preset, paper_dynamics, simulate_powder_series

    samples = []
    for seed, fluence in ((1, 2.4), (2, 3.6)):
        dyn = {f: PeakDynamics(**p) for f, p in paper_dynamics("attached", 90.0, fluence).items()}
        ds, truth = simulate_powder_series(
            structure=get_structure("PbSe"), peaks=dyn, delays_ps=np.array(get_preset("small")["delays_ps"]),
            s_grid=np.linspace(0.15, 0.6, 200), t0_ps=0.35, irf_fwhm_ps=0.5, n_scans=2, seed=seed,
            counts_per_bin=1e6, attrs={"temperature_K": 90.0, "fluence_mJ_cm2": fluence, "diameter_nm": 5.5,
                                       "sample_label": f"{fluence:g} mJ/cm2"})
        samples.append(Sample(analyze(ds), ds, truth))
    return write_report(samples, tmp_path_factory.mktemp("browser") / "lattice", explorer=False)


def test_lattice_sections_are_shown_with_their_tables_and_figures(analysed_report, tmp_path):
    found = _probe(analysed_report.html, SECTIONS_PROBE, tmp_path)
    # heating: one row per sample; kinetics: 4 models x 2 samples; fluence: 2 points + 3 fitted quantities
    expected = {"heating-check": 2, "lattice-temperature": 6, "global-kinetics": 8, "wilson": 4, "elements": 4, "anisotropy": 18,
                "fluence": 5}
    for key, n in expected.items():
        assert key in found and found[key]["height"] > 0, (key, found.keys())
        assert found[key]["rows"] >= n, (key, found[key])
    for key, fig in found["figures"].items():
        assert fig and fig["complete"] and fig["w"] > 300 and fig["shown"] > 300 and 0.02 < fig["ink"] < 0.9, (key, fig)


def test_screenshot_of_report(report, tmp_path):
    shot = tmp_path / "report.png"
    res = _chromium(tmp_path, f"--screenshot={shot}", report.html.as_uri())
    assert shot.is_file(), res.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
