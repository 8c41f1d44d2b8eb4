"""The HTML report: self-contained, every figure embedded and saved, tables equal the files' numbers."""

import base64
import json
import re

import numpy as np
import pytest

from uedflow.errors import FileFormatError, InputError
from uedflow.io import write_dataset
from uedflow.report import Sample, fit_rows, format_pm, heating_rows, load_sample, truth_rows, write_report
from uedflow.report.synthetic import synthetic_dynamics, synthetic_reduced, synthetic_truth


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("rep")
    t1, t2 = synthetic_truth(seed=1), synthetic_truth(anisotropy=0.3, seed=2)
    samples = [Sample(synthetic_dynamics(t1, seed=1, label="individual"), synthetic_reduced(t1), t1),
               Sample(synthetic_dynamics(t2, seed=2, label="attached"), None, None)]
    res = write_report(samples, out / "report", title="test report")
    return res, samples, res.html.read_text(encoding="utf-8")


def test_self_contained_and_every_figure_embedded(report):
    res, _, page = report
    # only data: URIs, in-page links and the explorer written beside the report
    assert not re.search(r"(src|href)\s*=\s*['\"](?!data:|#|explore\.html')", page)
    assert "href='explore.html'" in page and (res.html.parent / "explore.html").stat().st_size > 10_000
    assert "http://" not in page and "https://" not in page and "<script" not in page
    imgs = re.findall(r"<img src='data:image/png;base64,([^']+)'", page)
    assert len(imgs) == len(res.figures) == 7  # fig3, fig4, S6, S8, S7, one profile, truth
    for b64 in imgs:
        png = base64.b64decode(b64)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    for png, svg in res.figures.values():
        assert png.stat().st_size > 5000 and svg.read_text().lstrip().startswith("<?xml")
    assert not [p for p in res.html.parent.iterdir() if ".tmp-" in p.name]


def test_tables_show_fitted_and_true_numbers(report):
    _, samples, page = report
    ds = samples[0].dynamics
    rows = fit_rows(ds)
    assert len(rows) == ds.sizes["peak"] * 4
    r = next(r for r in rows if r["hkl"] == "200" and r["observable"] == "msd")
    i = list(ds.hkl.values).index("200")
    assert r["tau_ps"] == pytest.approx(float(ds.tau_ps.sel(observable="msd").values[i]))
    assert format_pm(r["tau_ps"], r["tau_err_ps"]) in page
    truth = samples[0].truth
    tr = [t for t in truth_rows(ds, truth) if t["hkl"] == "200" and t["observable"] == "msd"
          and t["parameter"] == "tau_ps"][0]
    assert tr["true"] == truth["peaks"]["200"]["msd_tau_ps"]
    assert abs(tr["rel_error"]) < 0.2 and abs(tr["pull"]) < 4
    assert "Recovered vs true" in page and page.count("<table") >= 4


def test_heating_table_uses_physics_module(report):
    physics = pytest.importorskip("uedflow.physics.heating")
    _, samples, page = report
    rows = heating_rows(samples[0].dynamics)
    rise = next(r["value"] for r in rows if r["quantity"].startswith("Lattice temperature rise"))
    ref = physics.laser_heating(3.6, 5.5, 90.0, material="PbSe", debye_temperature_K=250.0).rise_K
    assert rise == pytest.approx(ref)
    assert 50 < rise < 300
    assert f"{rise:.4g}" in page


def test_format_pm_rounds_to_error():
    assert format_pm(8.1234, 0.4567) == "8.12 ± 0.46"
    assert format_pm(123.4, 12.0) == "123 ± 12"
    assert format_pm(-2.5e-4, 1.2e-5) == "(-2.50 ± 0.12)e-04"


def test_bad_output_and_empty_input(tmp_path):
    t = synthetic_truth()
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(FileFormatError, match="is a file"):
        write_report([Sample(synthetic_dynamics(t))], f)
    with pytest.raises(InputError, match="at least one"):
        write_report([], tmp_path / "o")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_load_sample_finds_reduced_and_truth(tmp_path):
    t = synthetic_truth(s_max=0.45)
    exp_dir = tmp_path / "sim"
    exp_dir.mkdir()
    (exp_dir / "truth.json").write_text(json.dumps(t))
    (exp_dir / "experiment.toml").write_text("")
    run = tmp_path / "run"
    run.mkdir()
    red, dyn = synthetic_reduced(t), synthetic_dynamics(t)
    write_dataset(red, run / "reduced.h5", format="uedflow-reduced", version=1, inputs=[exp_dir / "experiment.toml"])
    write_dataset(dyn, run / "dynamics.h5", format="uedflow-dynamics", version=1, inputs=[run / "reduced.h5"])
    s = load_sample(run / "dynamics.h5")
    assert s.truth == t and s.reduced is not None
    np.testing.assert_allclose(s.reduced.reference.values, red.reference.values)
    np.testing.assert_allclose(s.dynamics.tau_ps.values, dyn.tau_ps.values)
    with pytest.raises(FileFormatError, match="not a uedflow-dynamics file"):
        load_sample(run / "reduced.h5")
    with pytest.raises(FileFormatError, match="does not exist"):
        load_sample(run / "missing.h5")
