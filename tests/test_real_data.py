"""Real UED data from scikit-ued's tutorials (see ../shared/reference-data/README.md).

* tseries1.npy: a measured Bragg-peak intensity trace; our kinetic fit must agree
  with an independent scipy.optimize.curve_fit of the same model.
* powder.npy: a measured VO2 powder profile (background already removed); a known
  smooth background is added and must be recovered by the robust baseline, and
  the peaks found afterwards must be those of the original profile.
"""

from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import curve_fit

from uedflow.dynamics import fit_kinetics
from uedflow.dynamics.models import exp_rise
from uedflow.peaks import Ring, find_peaks_1d, fit_group, robust_baseline

DATA = Path(__file__).parents[2] / "shared" / "reference-data"
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="shared/reference-data is not beside the checkout")


def test_tseries1_fit_agrees_with_curve_fit():
    t, y = np.load(DATA / "tseries1.npy")
    irf = 0.3
    ours = fit_kinetics(t, y, irf_fwhm_ps=irf, t0_guess_ps=0.0)
    assert ours.success
    popt, pcov = curve_fit(lambda tt, c, a, tau, t0: c + exp_rise(tt, a, tau, t0, irf), t, y,
                           p0=[1.0, -0.015, 2.0, 0.0])
    names = ("offset", "amplitude", "tau_ps", "t0_ps")
    for i, name in enumerate(names):
        err = np.sqrt(pcov[i, i])
        assert abs(ours.value(name) - popt[i]) < 0.02 * err, name
        assert ours.error(name) == pytest.approx(err, rel=0.02), name
    # the physics: a ~1.6 % drop of the Bragg intensity within a couple of ps
    assert -0.02 < ours.value("amplitude") < -0.012
    assert 0.1 < ours.value("tau_ps") < 5.0


@pytest.fixture(scope="module")
def powder():
    s, y = np.load(DATA / "powder.npy")
    background = 6.0 * np.exp(-(s - 0.11) / 0.15) + 0.8
    return s, y, background


def test_powder_background_is_recovered(powder):
    s, y, background = powder
    noise = 1.4826 * np.median(np.abs(np.diff(y))) / np.sqrt(2)
    pos, fwhm, _ = find_peaks_1d(s, y, noise=noise, min_prominence=20)
    windows = [(p - 1.5 * w, p + 1.5 * w) for p, w in zip(pos, fwhm, strict=False)]
    base = robust_baseline(s, y + background, exclude=windows, knot_spacing=0.06)
    # the recovered background differs from the added one by no more than the
    # baseline residue of the original profile itself (a few % of the strongest ring)
    err = base - background
    assert np.median(np.abs(err)) < 0.03 * y.max()
    assert np.abs(err).max() < 0.15 * y.max()


def test_powder_peaks_survive_background_removal(powder):
    s, y, background = powder
    noise = 1.4826 * np.median(np.abs(np.diff(y))) / np.sqrt(2)
    ref_pos, fwhm, _ = find_peaks_1d(s, y, noise=noise, min_prominence=20)
    windows = [(p - 1.5 * w, p + 1.5 * w) for p, w in zip(ref_pos, fwhm, strict=False)]
    flat = y + background - robust_baseline(s, y + background, exclude=windows, knot_spacing=0.06)
    pos, _, _ = find_peaks_1d(s, flat, noise=noise, min_prominence=20)
    ds = s[1] - s[0]
    matched = [np.min(np.abs(pos - p)) <= 1.5 * ds for p in ref_pos]
    assert len(ref_pos) >= 8 and all(matched)


def test_real_peak_fit_agrees_with_curve_fit(powder):
    """The strongest real ring, fitted by our batched fit and by scipy's curve_fit (same model)."""
    s, y, _ = powder
    ring = Ring((1, 1, 0), "110", "<110>", 0.303, 0.02)
    sigma = np.full(s.size, 0.05)
    fit = fit_group(s, y[None], sigma[None], [ring], shape="gaussian", degree=1, half_window=2.5)
    sel = (s >= fit.window[0]) & (s <= fit.window[1])
    x = s[sel]
    mid, half = 0.5 * (x[0] + x[-1]), 0.5 * (x[-1] - x[0])

    def model(xx, area, center, w, b0, b1):
        return area * np.exp(-4 * np.log(2) * ((xx - center) / w) ** 2) * np.sqrt(4 * np.log(2) / np.pi) / w + (
            b0 + b1 * (xx - mid) / half)

    p0 = [fit.value("area", "110")[0] * 0.9, 0.302, 0.018, 0.0, 0.0]
    popt, pcov = curve_fit(model, x, y[sel], p0=p0, sigma=sigma[sel])
    for i, name in enumerate(("area", "center", "fwhm")):
        assert fit.value(name, "110")[0] == pytest.approx(popt[i], abs=0.05 * np.sqrt(pcov[i, i])), name
        assert fit.error(name, "110")[0] == pytest.approx(np.sqrt(pcov[i, i]), rel=0.03), name
