"""Strain per cell parameter from ring shifts, against exactly strained cells (s from the strained metric)."""

import numpy as np
import pytest

from uedflow.crystal.lattice import Lattice
from uedflow.dynamics.lattice_strain import fit_lattice_strain, free_parameters
from uedflow.errors import InputError

HEX = Lattice(2.464, 2.464, 6.711, 90, 90, 120)  # graphite, P6_3/mmc (194)
MONO = Lattice(5.75, 4.53, 5.38, 90, 122.6, 90)  # VO2 M1, P2_1/c (14)
HEX_RINGS = [(1, 0, 0), (0, 0, 2), (1, 0, 1), (1, 0, 2), (1, 1, 0), (1, 0, 3), (1, 1, 2), (0, 0, 4), (2, 0, 1)]


def _ring_strain(before: Lattice, after: Lattice, rings):
    """ε = s_before/s_after − 1 of each ring's first member (exact, not linearised)."""
    return np.array([before.s_of(r[0]) / after.s_of(r[0]) - 1.0 for r in rings])


def test_hexagonal_in_plane_and_out_of_plane_strain_are_recovered():
    """Graphite-like anisotropy: a tiny in-plane and a large out-of-plane expansion, with noise."""
    rings = [[h] for h in HEX_RINGS]
    truth = (2e-4, 3e-3)
    after = Lattice(HEX.a * (1 + truth[0]), HEX.b * (1 + truth[0]), HEX.c * (1 + truth[1]), 90, 90, 120)
    rng = np.random.default_rng(1)
    err = np.full(len(rings), 5e-5)
    fit = fit_lattice_strain(HEX, 194, rings, _ring_strain(HEX, after, rings) + err * rng.standard_normal(len(rings)),
                             err)
    assert fit.names == ("a", "c")
    pulls = (fit.values - truth) / fit.errors
    assert np.all(np.abs(pulls) < 3), pulls
    assert fit.errors[0] < 0.2 * truth[1] and 0.3 < fit.chi2_red < 3


def test_monoclinic_beta_and_lengths_without_noise():
    rings = [[h] for h in [(1, 0, 0), (0, 1, 1), (1, 1, 0), (0, 0, 2), (2, 0, 0), (-1, 1, 1), (1, 1, 1), (0, 2, 0),
                            (-2, 1, 1), (2, 1, 0), (-1, 0, 2), (0, 1, 2)]]
    after = Lattice(MONO.a * 1.002, MONO.b * 0.999, MONO.c * 1.004, 90, MONO.beta + 0.05, 90)
    fit = fit_lattice_strain(MONO, 14, rings, _ring_strain(MONO, after, rings), np.full(len(rings), 1e-6))
    assert fit.names == ("a", "b", "c", "beta")
    np.testing.assert_allclose(fit.values, [0.002, -0.001, 0.004, 0.05], rtol=0.02, atol=2e-5)


def test_cubic_reduces_to_the_weighted_mean_ring_strain():
    rings = [[(1, 1, 1)], [(2, 0, 0)], [(2, 2, 0)]]
    strain, err = np.array([1.0e-3, 1.2e-3, 0.9e-3]), np.array([1e-4, 2e-4, 1e-4])
    fit = fit_lattice_strain(Lattice.cubic(6.12), 225, rings, strain, err)
    w = 1 / err**2
    assert fit.values[0] == pytest.approx(np.sum(w * strain) / w.sum(), rel=1e-6)


def test_composite_ring_and_clear_errors():
    # a composite ring enters with its members' weighted row: two members of equal s stay exact
    rings = [[h] for h in HEX_RINGS[:5]] + [[(1, 0, 3), (1, 1, 2)]]
    after = Lattice(HEX.a * 1.001, HEX.b * 1.001, HEX.c * 1.003, 90, 90, 120)
    exact = np.append(_ring_strain(HEX, after, rings[:5]), np.average(
        [HEX.s_of(h) / after.s_of(h) - 1 for h in rings[5]], weights=[2.0, 1.0]))
    fit = fit_lattice_strain(HEX, 194, rings, exact, np.full(6, 1e-6), weights=[[1.0]] * 5 + [[2.0, 1.0]])
    np.testing.assert_allclose(fit.values, [0.001, 0.003], rtol=0.01)
    with pytest.raises(InputError, match="do not separate"):  # hk0 rings only: c is not measured
        fit_lattice_strain(HEX, 194, [[(1, 0, 0)], [(1, 1, 0)], [(2, 0, 0)]], np.full(3, 1e-3), np.full(3, 1e-4))
    with pytest.raises(InputError, match="1-230"):
        free_parameters(0)


def test_rhombohedral_axes_tie_lengths_and_angles():
    bi = Lattice(4.746, 4.746, 4.746, 57.23, 57.23, 57.23)  # Bi, R-3m on rhombohedral axes
    rings = [[h] for h in [(1, 1, 1), (1, 1, 0), (1, 0, 0), (2, 1, 1), (1, 1, -1), (2, 1, 0), (2, 2, 1), (2, 0, 0)]]
    after = Lattice(4.746 * 1.001, 4.746 * 1.001, 4.746 * 1.001, 57.25, 57.25, 57.25)
    fit = fit_lattice_strain(bi, 166, rings, _ring_strain(bi, after, rings), np.full(len(rings), 1e-6))
    assert fit.names == ("a", "alpha")
    np.testing.assert_allclose(fit.values, [0.001, 0.02], rtol=0.02)
