"""Texture check: March–Dollase ring factors vs Monte Carlo, fit recovery, bad input."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.spatial.transform import Rotation

from uedflow.crystal import get_structure
from uedflow.crystal.form_factors import powder_ring_intensities
from uedflow.errors import FitError, InputError
from uedflow.physics.texture import march_dollase, texture_check, texture_factor, texture_from_dynamics


def _mc_ring_factor(hkl, r, n, rng, eps=0.02):
    """Monte Carlo: draw crystal orientations with [001] ~ March–Dollase about z, count g with |ĝ_z| < eps."""
    # sample cos β on [0, 1] by rejection from the March–Dollase density
    pmax = max(march_dollase(np.array(0.0), r), march_dollase(np.array(1.0), r))
    c = np.empty(0)
    while c.size < n:
        cand = rng.uniform(0, 1, 4 * n)
        keep = rng.uniform(0, pmax, cand.size) < march_dollase(cand, r)
        c = np.concatenate([c, cand[keep]])
    c = c[:n]
    beta = np.arccos(c)
    # axis direction (β, random azimuth), then a random spin about the axis
    rot = Rotation.from_euler("zyz", np.stack([rng.uniform(0, 2 * np.pi, n), beta, rng.uniform(0, 2 * np.pi, n)], 1))
    g = np.array(hkl, float) / np.linalg.norm(hkl)
    # all equivalents by symmetry: average over the 48 cubic operations via random permutations/signs
    perms = np.array([rng.permutation(3) for _ in range(n)])
    signs = rng.choice([-1.0, 1.0], (n, 3))
    gv = signs * g[perms]
    gz = rot.apply(gv)[:, 2]
    return np.mean(np.abs(gz) < eps) / eps


@pytest.mark.parametrize("hkl, r", [((1, 1, 1), 0.5), ((2, 0, 0), 0.5), ((2, 2, 0), 0.5), ((3, 1, 1), 2.0)])
def test_ring_factor_matches_monte_carlo(hkl, r):
    rng = np.random.default_rng(11)
    mc = _mc_ring_factor(hkl, r, 300_000, rng)
    # binomial error of the count: 1/sqrt(n eps) ≈ 1.3 % at 300k draws, eps = 0.02 (+ O(eps²) bias)
    assert_allclose(texture_factor(hkl, r), mc, rtol=0.06)


def test_random_powder_is_one_and_strong_100_texture_kills_111():
    for h in ("111", "200", "220", "311", "222", "400"):
        assert_allclose(texture_factor(h, 1.0), 1.0, rtol=1e-12)
    assert texture_factor("111", 0.1) < 0.1
    assert texture_factor("200", 0.1) > 3


def test_fit_recovers_texture_from_simulated_rings():
    st = get_structure("PbSe")
    rings = {ref.label: val for ref, val in powder_ring_intensities(st, 0.67, lorentz=True)}
    rng = np.random.default_rng(2)
    true_r = 0.6
    meas = {h: v * texture_factor(h, true_r) * (1 + rng.normal(0, 0.03)) for h, v in rings.items()}
    err = {h: 0.03 * v for h, v in meas.items()}
    res = texture_check(meas, err, structure=st)
    assert res.success
    assert abs(res.r - true_r) < 3 * res.r_err and res.r_err < 0.05
    i111 = res.labels.index("111")
    assert res.texture_index[i111] < 0.95  # {111} weaker than in a random powder
    random_fit = texture_check(rings, structure=st)
    assert_allclose(random_fit.r, 1.0, atol=1e-3)
    assert_allclose(random_fit.texture_index, 1.0, rtol=1e-9)
    assert "March-Dollase" in res.report() and res.summary()["labels"][0] == "111"


def test_texture_from_the_ring_areas_before_time_zero_of_a_dynamics_dataset():
    """Areas before t0 (flagged fits and blends left out; later delays ignored) give back the texture, and the
    random powder carries the Debye-model ⟨u²⟩ at the sample temperature."""
    import xarray as xr

    from uedflow.physics.debye import msd_compound_angstrom2

    st = get_structure("PbSe")
    msd = float(msd_compound_angstrom2(90.0, 250.0, list(st.species)))
    rings = {ref.label: val for ref, val in powder_ring_intensities(st, 0.9, msd_angstrom2=msd, lorentz=True)}
    labels, true_r = [*rings, "333/511"], 0.6
    delay = np.array([-3.0, -2.0, -1.0, 1.0, 5.0, 10.0])
    rng = np.random.default_rng(4)
    area = np.array([[rings.get(h, 1.0) * texture_factor(h, true_r) if "/" not in h else 1.0] * delay.size
                     for h in labels]) * (1 + rng.normal(0, 0.01, (len(labels), delay.size)))
    area[:, delay > 0] *= 0.5  # after the pump: not used
    flag = np.zeros(area.shape, np.uint8)
    area[0, 0], flag[0, 0] = 10 * area[0, 0], 2  # a flagged fit: left out
    ds = xr.Dataset({"area": (("hkl", "delay"), area), "area_err": (("hkl", "delay"), 0.01 * area),
                     "fit_flag": (("hkl", "delay"), flag)}, coords={"hkl": labels, "delay": delay},
                    attrs={"material": "PbSe", "lattice_constant_angstrom": st.a_angstrom, "temperature_K": 90.0,
                           "debye_temperature_K": 250.0})
    res = texture_from_dynamics(ds, error_floor=0.02)
    assert "333/511" not in res.labels and len(res.labels) == len(rings) - 1
    assert abs(res.r - true_r) < 3 * res.r_err and res.r_err < 0.05
    assert_allclose(res.random_ratio, [rings[h] / rings["200"] for h in res.labels], rtol=1e-9)
    assert_allclose(res.measured_ratio_err / res.measured_ratio, np.sqrt(2) * 0.02, rtol=1e-9)  # the floor


def test_bad_inputs():
    with pytest.raises(InputError, match="reference"):
        texture_check({"111": 1.0, "220": 1.0, "311": 1.0})
    with pytest.raises(InputError, match="not allowed"):
        texture_check({"200": 1.0, "210": 1.0, "220": 1.0})
    with pytest.raises(FitError, match="at least two"):
        texture_check({"200": 1.0, "220": 1.0})
    with pytest.raises(InputError, match="positive"):
        texture_check({"200": 1.0, "220": -1.0, "111": 1.0})
    with pytest.raises(InputError, match="March-Dollase"):
        march_dollase(np.array(0.5), 0.0)
