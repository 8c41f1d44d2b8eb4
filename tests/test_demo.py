"""End to end, as the README runs it: `uedflow demo` simulates, reduces, analyses and reports.

One paper preset (attached dots, 90 K) keeps it under a minute; the recovered
time constants are compared loosely with the simulator's truth (the analysis
tests check precision).
"""

import csv
import json

import numpy as np
from click.testing import CliRunner

from uedflow.cli import main
from uedflow.dynamics import open_dynamics
from uedflow.physics.texture import texture_from_dynamics
from uedflow.report import figure_quasi_equilibrium, fit_rows, truth_rows

PRESET = "pbse-attached-90K"
STRONG = ("200", "220", "222", "400", "422")  # rings with the best signal in the simulated patterns


def test_demo_end_to_end_and_rerun_skips(tmp_path):
    out = tmp_path / "demo-out"
    runner = CliRunner()
    res = runner.invoke(main, ["demo", "-o", str(out), "--preset", PRESET])
    assert res.exit_code == 0, res.output
    page = (out / "report.html").read_text(encoding="utf-8")
    assert f"report: {out / 'report.html'}" in res.output
    for key in ("fig3_kinetics", "fig4_quasi_equilibrium", "figS6_texture", "figS7_differential_pattern", "figS8_widths",
                "profile_1",
                "truth_recovered"):
        for ext in ("png", "svg"):
            assert (out / "figures" / f"{key}.{ext}").stat().st_size > 10_000
        assert f"id='{key}'" in page
    assert "href='explore.html'" in page and "uedflow-data" in (out / "explore.html").read_text(encoding="utf-8")
    run = out / PRESET
    assert {p.name for p in run.iterdir()} >= {"data", "reduced.h5", "dynamics.h5", "fits.csv", "traces.csv",
                                               "uedflow.log"}
    dyn = open_dynamics(run / "dynamics.h5")
    truth = json.loads((run / "data" / "truth.json").read_text())
    # the texture check of the paper's Figure S6 runs on the file (its numbers: tests/test_texture.py)
    res = runner.invoke(main, ["physics", "texture", str(run / "dynamics.h5")])
    assert res.exit_code == 0, res.output
    assert f"March-Dollase r = {texture_from_dynamics(dyn).r:.3f}" in res.output
    rows = [r for r in truth_rows(dyn, truth) if r["parameter"] == "tau_ps" and r["hkl"] in STRONG]
    for obs, tol in (("strain", 0.15), ("msd", 0.5)):
        rel = [abs(r["rel_error"]) for r in rows if r["observable"] == obs]
        assert len(rel) == len(STRONG), f"{obs}: strong rings missing from the analysis"
        assert np.median(rel) < tol, f"{obs} τ off the truth by {rel}"
    t0 = next(r for r in truth_rows(dyn, truth) if r["parameter"] == "t0_ps")
    assert abs(t0["fitted"] - truth["t0_ps"]) < 0.3
    # the report's parameter table is the content of fits.csv
    with (run / "fits.csv").open() as fh:
        csv_rows = {(r["hkl"], r["observable"]): r for r in csv.DictReader(fh) if r["observable"]}  # not left-out rings
    table = fit_rows(dyn)
    assert len(table) == len(csv_rows)
    for r in table:
        c = csv_rows[(r["hkl"], r["observable"])]
        np.testing.assert_allclose([r[k] for k in ("amplitude", "tau_ps", "tau_err_ps", "t0_ps")],
                                   [float(c[k]) for k in ("amplitude", "tau_ps", "tau_err_ps", "t0_ps")], rtol=1e-6)
    # the report's Figure 4 shows exactly the fitted τ of the file
    ax_tau = figure_quasi_equilibrium([dyn]).axes[1]
    (line,) = [c.lines[0] for c in ax_tau.containers if c.lines[0].get_gid() == "tau:0"]
    ok = dyn.fit_success.sel(observable="msd").values.astype(bool)
    np.testing.assert_allclose(np.asarray(line.get_ydata(), float), dyn.tau_ps.sel(observable="msd").values[ok])
    # unchanged inputs: nothing is recomputed
    again = runner.invoke(main, ["demo", "-o", str(out), "--preset", PRESET])
    assert again.exit_code == 0 and "none (all up to date)" in again.output
