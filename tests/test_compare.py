"""Sample comparison: real differences are found with the right sign; identical samples are not."""

import csv

import numpy as np
import pytest
from click.testing import CliRunner

from uedflow.cli import main
from uedflow.crystal import get_structure
from uedflow.dynamics import analyze, compare, write_dynamics
from uedflow.errors import ConfigError, InputError
from uedflow.simulate import PeakDynamics, paper_dynamics, simulate_powder_series

DELAYS = np.array([-5, -3, -1, -0.5, 0, 0.5, 1, 2, 3, 5, 8, 12, 20, 30, 40, 50, 60.0])


def _run(sample, seed, label):
    dyn = {f: PeakDynamics(**p) for f, p in paper_dynamics(sample, 90.0, 3.6).items()}
    ds, _ = simulate_powder_series(structure=get_structure("PbSe"), peaks=dyn, delays_ps=DELAYS,
                                   s_grid=np.linspace(0.15, 0.95, 500), n_scans=2, seed=seed, counts_per_bin=2e6,
                                   attrs={"temperature_K": 90.0, "sample_label": label})
    return analyze(ds)


@pytest.fixture(scope="module")
def runs():
    return {"individual": _run("individual", 1, "individual"), "attached": _run("attached", 2, "attached"),
            "individual-2": _run("individual", 3, "individual")}


def _row(result, hkl, quantity):
    return next(r for r in result.rows if r.hkl == hkl and r.quantity == quantity)


def test_paper_differences_are_significant_with_the_right_sign(runs):
    res = compare([runs["individual"], runs["attached"]])
    assert res.labels == ("individual", "attached")
    # attachment suppresses <100> and enhances <111> (paper, Fig. 3, 4a; the simulator's preset)
    r100, r111 = _row(res, "<100>", "msd qe"), _row(res, "<111>", "msd qe")
    assert r100.significant and r100.z[1] < 0
    assert r111.significant and r111.z[1] > 0
    s100, s111 = _row(res, "<100>", "strain qe"), _row(res, "<111>", "strain qe")
    assert s100.significant and s100.z[1] < 0 and s111.significant and s111.z[1] > 0
    tau111 = _row(res, "222", "msd tau")  # attached <111>: 4 ps vs 10 ps
    assert tau111.significant and tau111.values[1] < tau111.values[0]
    table = res.table()
    assert "<100>" in table and "*" in table
    assert res.summary()["n_rows"] == len(res.rows)


def test_identical_samples_show_no_significant_difference(runs):
    res = compare([runs["individual"], runs["individual-2"]], labels=["run 1", "run 2"])
    assert res.significant == ()
    z = np.array([r.z[1] for r in res.rows])
    z = z[np.isfinite(z)]
    assert len(z) > 30 and np.std(z) < 1.6  # honest errors: z ~ N(0, 1) when nothing differs


def test_three_datasets_and_bad_calls(runs):
    res = compare([runs["individual"], runs["attached"], runs["individual-2"]])
    assert len(res.labels) == 3 and len(set(res.labels)) == 3
    assert all(len(r.values) == 3 for r in res.rows)
    with pytest.raises(InputError, match="at least two"):
        compare([runs["individual"]])
    with pytest.raises(InputError, match="labels"):
        compare([runs["individual"], runs["attached"]], labels=["x"])
    for alpha in (-1.0, 0.0, 1.0, 2.0):
        with pytest.raises(ConfigError, match="strictly between 0 and 1"):
            compare([runs["individual"], runs["attached"]], alpha=alpha)


def test_cli_compare(runs, tmp_path):
    paths = []
    for name in ("individual", "attached"):
        (tmp_path / name).mkdir()
        paths.append(str(write_dynamics(runs[name], tmp_path / name / "dynamics.h5")))
    res = CliRunner().invoke(main, ["compare", *paths, "-o", str(tmp_path / "table.csv")])
    assert res.exit_code == 0, res.output
    assert "msd qe" in res.output and "differ significantly" in res.output
    # the Holm correction runs over every tested quantity, not over the significant rows printed (QA A6)
    n_tested = compare([runs["individual"], runs["attached"]]).n_tested
    n_sig = len(compare([runs["individual"], runs["attached"]]).significant)
    assert n_tested > n_sig > 0
    assert f"Holm-Bonferroni over {n_tested} tested quantities" in res.output
    assert f"{n_sig} of {n_tested} tested quantities differ significantly" in res.output
    res = CliRunner().invoke(main, ["compare", *paths, "--alpha", "2"])
    assert res.exit_code == 2 and "0<x<1" in res.output
    with (tmp_path / "table.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert {"hkl", "quantity", "individual", "attached_err", "z_attached", "significant"} <= set(rows[0])
