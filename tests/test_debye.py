"""Debye scattering equation: exactness against the brute-force double sum, Debye–Waller recovery."""

from __future__ import annotations

import numpy as np
import pytest

from uedflow.crystal import electron_scattering_factor, get_crystal, get_structure, reflection_families, reflections
from uedflow.errors import InputError
from uedflow.simulate.cell_cut import cut_crystal
from uedflow.simulate.debye import debye_intensity, lattice_step, pair_histogram, size_averaged_pattern
from uedflow.simulate.nanocrystal import build_nanocrystal

PBSE = get_structure("PbSe")
STEP = lattice_step(PBSE.positions, PBSE.a_angstrom)


def _brute_force(pos, symbols, s, msd):
    """I(s) = sum_i f_i^2 + sum_{i != j} f_i D_i f_j D_j sinc(2 pi s r_ij), as a direct double sum."""
    f = np.array([electron_scattering_factor(e, s) for e in symbols])  # (N, n_s)
    a = f * np.exp(-2 * np.pi**2 * np.asarray(msd)[:, None] * s**2)
    d = np.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=-1)
    out = np.array([a[:, k] @ np.sinc(2 * sk * d) @ a[:, k] for k, sk in enumerate(s)])
    return out - np.sum(a**2, axis=0) + np.sum(f**2, axis=0)


def test_exact_against_brute_force_disordered_model():
    rng = np.random.default_rng(3)
    nc = build_nanocrystal(PBSE, 2.5)
    pos = nc.positions + 0.05 * rng.standard_normal(nc.positions.shape)  # static disorder: off-lattice
    msd = np.where(nc.surface, 0.02, 0.008)
    s = np.linspace(0.02, 1.5, 150)
    ours = debye_intensity(pos, nc.species, nc.elements, s, msd_angstrom2=msd, bin_width=0.01)
    ref = _brute_force(pos, nc.symbols, s, msd)
    assert np.max(np.abs(ours / ref - 1)) < 1e-3


@pytest.mark.parametrize(("name", "shape", "kw"), [
    ("MoS2", "flake", {"layers": 2}),
    ("VO2-M1", "sphere", {}),
    ("Bi", "wulff", {"facet_energies": {"001": 1.0, "012": 1.1}}),
])
def test_general_crystal_against_brute_force(name, shape, kw):
    """Non-cubic cells, thermal snapshot (per-atom displacements) and per-atom ⟨u²⟩: the histogram path."""
    rng = np.random.default_rng(5)
    nc = cut_crystal(get_crystal(name), 2.4 if name == "Bi" else 1.8, shape=shape, **kw)
    assert 150 < nc.n_atoms < 700
    msd = np.where(nc.surface, 0.02, 0.006) * (1 + (nc.species == 0))
    pos = nc.positions + np.sqrt(msd)[:, None] * rng.standard_normal(nc.positions.shape)
    s = np.linspace(0.02, 1.5, 150)
    ours = debye_intensity(pos, nc.species, nc.elements, s, msd_angstrom2=msd)
    ref = _brute_force(pos, nc.symbols, s, msd)
    print(name, nc.n_atoms, np.max(np.abs(ours / ref - 1)))
    assert np.max(np.abs(ours / ref - 1)) < 1e-3


@pytest.mark.parametrize(("name", "layers"), [("MoS2", 5), ("graphite", 8)])
def test_flake_peaks_at_the_allowed_reflections(name, layers):
    """Maxima of s² I(s) of a 5 nm flake lie at the s of the crystal's allowed reflection families."""
    crystal = get_crystal(name)
    nc = cut_crystal(crystal, 5.0, shape="flake", layers=layers)
    s = np.linspace(0.1, 1.0, 1801)
    y = s**2 * debye_intensity(nc.positions, nc.species, nc.elements, s, msd_angstrom2=0.003)
    fams = reflection_families(crystal, 1.05, s_min=0.05)
    thickness = nc.info["thickness_angstrom"]  # the smallest dimension: the widest size broadening, ~1/L
    maxima = s[1:-1][(y[1:-1] > y[:-2]) & (y[1:-1] > y[2:])]
    checked = []
    for f in fams:
        others = [g for g in fams if g is not f and g.intensity > 0.2 * f.intensity]
        isolated = min((abs(g.s_inv_angstrom - f.s_inv_angstrom) for g in others), default=1.0) > 1.0 / thickness
        if f.intensity < 3 or not isolated or not 0.12 < f.s_inv_angstrom < 0.98:
            continue
        gap = maxima[np.argmin(np.abs(maxima - f.s_inv_angstrom))] - f.s_inv_angstrom
        checked.append((f.label, round(float(gap), 5)))
        assert abs(gap) < 0.2 / thickness, (f.label, gap)
    print(name, "s_peak - s_hkl [1/Å]:", checked)
    assert len(checked) >= 5


def test_lattice_fft_histogram_exact():
    nc = build_nanocrystal(PBSE, 3.0, shape="sphere")
    s = np.linspace(0.05, 1.2, 120)
    msd = np.where(nc.surface, 0.015, 0.005)
    fast = debye_intensity(nc.positions, nc.species, nc.elements, s, msd_angstrom2=msd, lattice_step_angstrom=STEP)
    ref = _brute_force(nc.positions, nc.symbols, s, msd)
    np.testing.assert_allclose(fast, ref, rtol=1e-8)
    h = pair_histogram(nc.positions, nc.species, lattice_step_angstrom=STEP)
    assert h.counts.sum() == nc.n_atoms * (nc.n_atoms - 1) / 2


def _peak_height(s, intensity, s0, half):
    m = (s >= s0 - half) & (s <= s0 + half)
    x, y = s[m], intensity[m]
    return np.max(y - np.interp(x, [x[0], x[-1]], [y[0], y[-1]]))


def test_debye_waller_recovers_projected_anisotropic_msd():
    # surface atoms vibrate more along their facet normal: U = 0.006 I + 0.015 n n^T (Å^2)
    # 7 nm: the powder peak height weights atoms by their coherent partners (core-biased), an effect of
    # order (surface fraction) x (surface excess), which stays below 4 % from this size on
    nc = build_nanocrystal(PBSE, 7.0)
    tensors = np.repeat(0.006 * np.eye(3)[None], nc.n_atoms, axis=0)
    n = nc.normal[nc.surface]
    tensors[nc.surface] += 0.015 * n[:, :, None] * n[:, None, :]
    s = np.linspace(0.2, 0.75, 1101)
    refs = reflections(PBSE, 0.8)
    i0 = debye_intensity(nc.positions, nc.species, nc.elements, s, lattice_step_angstrom=STEP)
    i1 = debye_intensity(nc.positions, nc.species, nc.elements, s, msd_angstrom2=tensors, reflections=refs,
                         lattice_step_angstrom=STEP)
    for ref in refs:
        if ref.label not in ("111", "200", "220", "400"):
            continue
        s0 = ref.s_inv_angstrom
        # input displacement projected on s, averaged over the ring's equivalent directions and over the
        # atoms with their structure-factor weights f_i cos(2 pi h.x_i) (Pb/Se differ, surfaces are polar)
        dirs = np.array([p for p in _star(ref.hkl)], dtype=float)
        dirs /= np.linalg.norm(dirs, axis=1)[:, None]
        projected = np.einsum("di,nij,dj->n", dirs, tensors, dirs) / len(dirs)
        f = np.array([float(electron_scattering_factor(e, s0)) for e in nc.symbols])
        w = f * np.cos(2 * np.pi * nc.positions @ np.array(ref.hkl, float) / PBSE.a_angstrom)
        expected = np.sum(w * projected) / np.sum(w)
        half = 0.015 if ref.label == "111" else 0.02
        ratio = _peak_height(s, i1, s0, half) / _peak_height(s, i0, s0, half)
        recovered = -np.log(ratio) / (4 * np.pi**2 * s0**2)
        assert recovered == pytest.approx(expected, rel=0.05), ref.label


def _star(hkl):
    import itertools

    return {tuple(sg * v for sg, v in zip(signs, p, strict=True))
            for p in itertools.permutations(hkl) for signs in itertools.product((1, -1), repeat=3)}


def test_size_average_and_scherrer_width():
    s = np.linspace(0.28, 0.38, 401)
    single = size_averaged_pattern(PBSE, s, diameter_nm=3.0)
    nc = build_nanocrystal(PBSE, 3.0)
    direct = debye_intensity(nc.positions, nc.species, nc.elements, s, lattice_step_angstrom=STEP) / nc.n_atoms
    np.testing.assert_allclose(single, direct, rtol=1e-10)
    widths = []
    for d in (4.0, 8.0):
        i = size_averaged_pattern(PBSE, s, diameter_nm=d, std_nm=0.1 * d, n_points=3)
        base = np.interp(s, [s[0], s[-1]], [i[0], i[-1]])
        y = i - base
        k = np.argmax(y)
        above = s[y >= y[k] / 2]
        widths.append(above.max() - above.min())
    # Scherrer: FWHM ~ K / D, so doubling D halves the width (within 15 %)
    assert widths[0] / widths[1] == pytest.approx(2.0, rel=0.15)


def test_bad_input():
    nc = build_nanocrystal(PBSE, 2.0)
    s = np.linspace(0.1, 1, 10)
    with pytest.raises(InputError, match="msd"):
        debye_intensity(nc.positions, nc.species, nc.elements, s, msd_angstrom2=np.ones(3))
    tensors = np.repeat(np.diag([0.01, 0.0, 0.0])[None], nc.n_atoms, axis=0)
    with pytest.raises(InputError, match="reflections"):
        debye_intensity(nc.positions, nc.species, nc.elements, s, msd_angstrom2=tensors)
