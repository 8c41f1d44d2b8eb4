"""Report figures show the data they claim to: values read back from the Axes equal the file's numbers."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from uedflow.crystal import FAMILIES
from uedflow.report import (
    figure_diff_pattern,
    figure_kinetics,
    figure_profile,
    figure_quasi_equilibrium,
    figure_texture,
    figure_truth,
    figure_widths,
    truth_rows,
)
from uedflow.report.figures import WIDTH_SCALE, shown_peaks
from uedflow.report.synthetic import synthetic_dynamics, synthetic_reduced, synthetic_truth


@pytest.fixture(scope="module")
def data():
    t_ind = synthetic_truth(tau_ps=8.0, seed=1)
    t_att = synthetic_truth(tau_ps=6.0, anisotropy=0.3, seed=2)
    d_ind = synthetic_dynamics(t_ind, seed=3, label="individual")
    d_att = synthetic_dynamics(t_att, seed=4, label="attached")
    d_att["fit_flag"][1, 20] = 2  # one flagged peak fit must be shown hollow, not dropped
    d_att["fit_success"][0, 1] = 0  # one failed kinetic fit
    return {"truths": [t_ind, t_att], "dyn": [d_ind, d_att], "red": synthetic_reduced(t_att, seed=5)}


def _container(ax, gid):
    """The errorbar container whose data line has ``gid``."""
    for c in ax.containers:
        if c.lines[0].get_gid() == gid:
            return c
    raise AssertionError(f"no errorbar {gid!r}; have {[c.lines[0].get_gid() for c in ax.containers]}")


def _errorbar(ax, gid):
    """(x, y, yerr) of the errorbar whose data line has ``gid``."""
    c = _container(ax, gid)
    x, y = c.lines[0].get_data()
    yerr = np.array([(s[1, 1] - s[0, 1]) / 2 for s in c.lines[2][0].get_segments()])
    return np.asarray(x, float), np.asarray(y, float), yerr


def _line(ax, gid):
    lines = [ln for ln in ax.get_lines() if ln.get_gid() == gid]
    assert len(lines) == 1, f"expected one line {gid!r}, found {len(lines)}"
    return [np.asarray(a) for a in lines[0].get_data()]


def test_figure4_plots_fitted_tau_and_qe_msd_with_errors(data):
    dyn = data["dyn"]
    fig = figure_quasi_equilibrium(dyn, labels=["ind", "att"])
    ax_a, ax_b = fig.axes[:2]
    for k, ds in enumerate(dyn):
        ok = ds.fit_success.sel(observable="msd").values.astype(bool)
        _, tau, tau_err = _errorbar(ax_b, f"tau:{k}")
        assert_allclose(tau, ds.tau_ps.sel(observable="msd").values[ok])
        assert_allclose(tau_err, ds.tau_err_ps.sel(observable="msd").values[ok])
        x, msd, msd_err = _errorbar(ax_a, f"msd_qe:{k}")
        assert_allclose(msd, ds.msd_qe.values)
        assert_allclose(msd_err, ds.msd_qe_err.values)
        # x positions put each peak under its own (hkl) tick
        ticks = [t.get_text() for t in ax_a.get_xticklabels()]
        assert [ticks[int(round(v))] for v in x] == [f"({h})" for h in ds.hkl.values]
    _, tau_bad, _ = _errorbar(ax_b, "tau_failed:1")
    assert_allclose(tau_bad, [dyn[1].tau_ps.values[0, 1]])
    # the synthetic "fits" sit near the true τ (independent truth)
    t = data["truths"][1]["peaks"]
    assert_allclose(dyn[1].tau_ps.sel(observable="msd").values,
                    [t[h]["msd_tau_ps"] for h in dyn[1].hkl.values], rtol=0.2)
    assert ax_b.get_ylabel() == r"Time constant $\tau$ (ps)"
    assert "Å" in ax_a.get_ylabel()


def test_figure3_positions_msd_fits_and_mean(data):
    dyn = data["dyn"]
    fig = figure_kinetics(dyn)
    ax = fig.axes  # row-major: a(ind), a(att), b(ind), b(att)
    for col, ds in enumerate(dyn):
        good = ds.fit_flag.values == 0
        shown = shown_peaks(ds)
        assert {str(ds.family.values[i]) for i in shown} <= set(FAMILIES)
        for i, h in enumerate(ds.hkl.values):
            if i not in shown:
                assert f"data:{h}" not in [c.lines[0].get_gid() for c in ax[col].containers]
                continue
            t, y, err = _errorbar(ax[col], f"data:{h}")
            assert_allclose(t, ds.delay.values[good[i]])
            assert_allclose(y, (ds.position.values[i] / ds.s0.values[i])[good[i]])
            assert_allclose(err, (ds.position_err.values[i] / ds.s0.values[i])[good[i]])
            _, fit = _line(ax[col], f"fit:{h}")
            assert_allclose(fit, 1.0 - ds.strain_fit.values[i])
            _, msd, _ = _errorbar(ax[2 + col], f"data:{h}")
            assert_allclose(msd, ds.msd.values[i][good[i]])
        _, mean = _line(ax[2 + col], "mean")
        w = np.where(good, 1.0 / ds.msd_err.values**2, 0.0)
        assert_allclose(mean, (w * ds.msd.values).sum(0) / w.sum(0))
    _, flagged = _line(ax[1], f"flagged:{dyn[1].hkl.values[1]}")
    assert_allclose(flagged, [dyn[1].position.values[1, 20] / dyn[1].s0.values[1]])
    assert [a.get_title() for a in ax[:2]] == ["individual, 90 K", "attached, 90 K"]
    assert ax[2].get_xlabel() == "Pump–probe delay (ps)"
    assert fig.legends and "mean over peaks" in [t.get_text() for t in fig.legends[0].get_texts()]


def test_figure3_rings_have_distinct_colours_shared_with_the_other_figures():
    """With more rings than colours, the drawn principal-family rings still get one colour each,
    and each ring keeps its colour in Figure S8."""
    ds = synthetic_dynamics(synthetic_truth(s_max=1.2, seed=6), seed=7)
    shown = [str(ds.hkl.values[i]) for i in shown_peaks(ds)]
    assert len(ds.hkl) > 14 and {"111", "444"} <= set(shown)
    fig3 = figure_kinetics([ds])
    colour3 = {h: _container(fig3.axes[0], f"data:{h}").lines[0].get_color() for h in shown}
    assert len(set(colour3.values())) == len(shown)
    s8 = figure_widths([ds]).axes[0]
    assert all(_container(s8, f"data:{h}").lines[0].get_color() == c for h, c in colour3.items())


def test_figureS6_plots_the_texture_check_of_each_sample(data):
    from uedflow.physics.texture import texture_from_dynamics

    dyn = data["dyn"]
    ax = figure_texture(dyn, labels=["ind", "att"]).axes[0]
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    for k, ds in enumerate(dyn):
        res = texture_from_dynamics(ds)
        x, index, err = _errorbar(ax, f"texture:{k}")
        assert_allclose(index, res.measured_ratio / res.random_ratio)
        assert_allclose(err, res.measured_ratio_err / res.random_ratio)
        assert [ticks[int(round(v))] for v in x] == [f"({h})" for h in res.labels]
        assert_allclose(_line(ax, f"texture_fit:{k}")[1], res.fitted_ratio / res.random_ratio)
    assert [t.get_text() for t in ax.get_legend().get_texts()][0].startswith("ind: r = ")
    no_200 = dyn[0].isel(peak=[str(h) != "200" for h in dyn[0].hkl.values])
    blank = figure_texture([no_200]).axes[0]  # no reference ring: named, not a crash
    assert "200" in blank.texts[0].get_text() and not blank.containers


def test_figureS8_width_in_scaled_units(data):
    ds = data["dyn"][0]
    ax = figure_widths([ds]).axes[0]
    for i, h in enumerate(ds.hkl.values):
        _, y, err = _errorbar(ax, f"data:{h}")
        assert_allclose(y, ds.width.values[i] * WIDTH_SCALE)
        assert_allclose(_line(ax, f"fit:{h}")[1], ds.width_fit.values[i] * WIDTH_SCALE)
    assert "10^{-3}" in ax.get_ylabel()


def test_figureS7_shows_diff_pattern_with_mask_blank(data):
    red = data["red"]
    fig = figure_diff_pattern([red])
    (im,) = fig.axes[0].get_images()
    arr = np.ma.filled(im.get_array().astype(float), np.nan)
    valid = red.mask.values.astype(bool)
    assert_allclose(arr[valid], red.diff_pattern.values[valid])
    assert np.isnan(arr[~valid]).all()
    lo, hi = im.get_clim()
    assert lo == -hi > -np.inf and hi > 0


def test_profile_peaks_at_fitted_s0_and_late_differential(data):
    red, dyn = data["red"], data["dyn"][1]
    red = red.assign(background=(("delay", "s"), 0.5 * red.intensity.values))
    fig = figure_profile(red, dyn)
    ax_a, ax_b = fig.axes
    assert_allclose(_line(ax_a, "reference")[1], red.reference.values)
    assert_allclose(_line(ax_a, "background")[1], 0.5 * red.intensity.values[red.delay.values < 0].mean(0))
    for h, s0 in zip(dyn.hkl.values, dyn.s0.values, strict=True):
        assert_allclose(_line(ax_a, f"peak:{h}")[0], [s0, s0])
    late = (red.delay.values >= 40) & (red.delay.values <= 60)
    assert_allclose(_line(ax_b, "differential")[1], red.differential.values[late].mean(0))
    assert ax_b.get_xlabel() == r"$s = 1/d$ (Å$^{-1}$)"


def test_truth_figure_points_are_fitted_vs_true(data):
    dyn, truths = data["dyn"], data["truths"]
    fig = figure_truth(dyn, truths, labels=["ind", "att"])
    ax_a, ax_b = fig.axes
    for k in range(2):
        rows = [r for r in truth_rows(dyn[k], truths[k]) if r["observable"] == "msd"]
        x, y, err = _errorbar(ax_a, f"tau:{k}:msd")
        tau = [r for r in rows if r["parameter"] == "tau_ps"]
        assert_allclose(x, [r["true"] for r in tau])
        assert_allclose(y, dyn[k].tau_ps.sel(observable="msd").values[np.argsort(dyn[k].s0.values)])
        _, ratio, _ = _errorbar(ax_b, f"amp:{k}:msd")
        amp = [r for r in rows if r["parameter"] == "amplitude"]
        assert_allclose(ratio, [r["fitted"] / r["true"] for r in amp])
        assert np.all(np.abs(ratio - 1) < 0.15)


def test_labels_must_match_datasets(data):
    with pytest.raises(ValueError, match="one label per dataset"):
        figure_kinetics(data["dyn"], labels=["only one"])


def test_fitted_peaks_leave_the_true_background():
    """Gaussian peaks with the generator's area, centre and FWHM subtract to its analytic background."""
    from uedflow.report.patterns import fitted_peaks

    t = synthetic_truth(s_max=0.47)
    red, dyn = synthetic_reduced(t, n_s=2000), synthetic_dynamics(t)
    sigma, height = 0.004, 20.0  # synthetic_reduced's peaks
    before = dyn.delay.values < 0
    dyn["area"][:, before] = height * sigma * np.sqrt(2 * np.pi)
    dyn["fwhm"][:, before] = 2 * np.sqrt(2 * np.log(2)) * sigma
    dyn["position"][:, before] = dyn.s0.values[:, None]
    dyn.attrs["peak_shape"] = "gaussian"
    s = red.s.values
    bg = red.reference.values - fitted_peaks(dyn, s)
    assert_allclose(bg, 50.0 * np.exp(-s / 0.25), atol=0.01 * height)
    ax = figure_profile(red, dyn).axes[0]
    assert_allclose(_line(ax, "background")[1], bg)
