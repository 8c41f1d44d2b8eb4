"""Synthetic TEM images with known answers: lattice-fringe images and particle fields.

Lattice images: each dot is a disk filled with the Fourier components of its
crystal that lie (nearly) in the image plane. A reflection g of a dot rotated
by R contributes cos(2π g⊥·r + φ) with weight exp(−(g_z D / 2)²), g_z being the
component of R g along the beam and D the dot diameter — the shape-function
(excitation-error) tolerance of a small crystal. Dots viewed along ⟨100⟩ thus
show {200} and {220} fringes but no {111}; randomly oriented dots show {111}
too. This is a kinematic, phase-object-free caricature of HRTEM, sufficient to
test FFT d-spacing analysis where the truth is the set of g used.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.spatial.transform import Rotation

from uedflow.crystal import Structure, get_structure, reflections
from uedflow.errors import InputError

__all__ = ["render_lattice_image", "render_particle_image", "random_dot_positions"]


def random_dot_positions(
    shape: tuple[int, int], diameter_px: np.ndarray, *, rng: np.random.Generator, gap_px: float = 2.0,
    max_tries: int = 500_000,
) -> np.ndarray:
    """Non-overlapping disk centres (row, col) by random sequential addition, shape (n, 2).

    Disks are placed in the given order; once ``max_tries`` candidate positions
    in total have been used up, the remaining disks are dropped, so the
    placed disks are the first ``n`` of ``diameter_px``.
    """
    diameter_px = np.asarray(diameter_px, dtype=float)
    centers = np.empty((diameter_px.size, 2))
    radii = np.empty(diameter_px.size)
    n = tries = 0
    for d in diameter_px:
        r = d / 2
        placed = False
        while tries < max_tries and not placed:
            # test a batch of candidates against all placed disks at once
            batch = rng.uniform([r, r], [shape[0] - r, shape[1] - r], size=(64, 2))
            tries += 64
            dist = np.hypot(*(batch[:, None, :] - centers[None, :n, :]).transpose(2, 0, 1))
            ok = np.all(dist > radii[None, :n] + r + gap_px, axis=1)
            if ok.any():
                centers[n], radii[n] = batch[np.argmax(ok)], r
                n += 1
                placed = True
        if not placed:
            break
    return centers[:n]


def _g_vectors(structure: Structure, s_max: float) -> tuple[np.ndarray, np.ndarray]:
    """All allowed (h, k, l)/a with s <= s_max [Å⁻¹] and a family weight, (M, 3) and (M,)."""
    gs, ws = [], []
    for ref in reflections(structure, s_max):
        # weight falls with s like an electron scattering factor; all families visible
        w = 1.0 / (1.0 + (ref.s_inv_angstrom / 0.3) ** 2)
        for p in set(itertools.permutations(ref.hkl)):
            for sg in itertools.product((1, -1), repeat=3):
                v = tuple(a * b for a, b in zip(sg, p, strict=True))
                if v > (0, 0, 0) or all(x == 0 for x in v):
                    continue  # keep one of each ±g pair (cos is even)
                gs.append(np.asarray(v, float) / structure.a_angstrom)
                ws.append(w)
    return np.asarray(gs), np.asarray(ws)


def render_lattice_image(
    shape: tuple[int, int] = (512, 512),
    *,
    pixel_nm: float = 0.05,
    material: str | Structure = "PbSe",
    diameter_nm: float = 5.5,
    n_dots: int = 12,
    orientation: str = "100",
    noise: float = 0.05,
    seed: int = 0,
) -> np.ndarray:
    """A lattice-fringe image of spherical dots, float (M, N), mean ~0.

    Parameters
    ----------
    shape : (int, int)
        Image size (rows, cols).
    pixel_nm : float
        Pixel size [nm]; must resolve the fringes (< d/2).
    material : str or Structure
        Crystal of the dots.
    diameter_nm : float
        Dot diameter [nm].
    n_dots : int
        Dots to place (fewer if they do not fit without overlap).
    orientation : {"100", "110", "random"}
        Every dot viewed along [001] or [110] with a random in-plane rotation,
        or every dot uniformly randomly oriented.
    noise : float
        Gaussian noise standard deviation relative to the fringe amplitude.
    seed : int
        Seed of ``np.random.default_rng``.

    Examples
    --------
    >>> render_lattice_image((64, 64), n_dots=1, diameter_nm=2.0).shape
    (64, 64)
    """
    if orientation not in ("100", "110", "random"):
        raise InputError(f"orientation must be '100', '110' or 'random', got {orientation!r}")
    if pixel_nm <= 0 or diameter_nm <= 0:
        raise InputError(f"pixel_nm and diameter_nm must be positive, got {pixel_nm!r}, {diameter_nm!r}")
    rng = np.random.default_rng(seed)
    st = get_structure(material) if isinstance(material, str) else material
    nyquist = 1.0 / (2 * pixel_nm * 10)  # Å⁻¹
    g, w = _g_vectors(st, min(nyquist * 0.95, 0.6))
    d_ang = diameter_nm * 10
    img = np.zeros(shape)
    centers = random_dot_positions(shape, np.full(n_dots, diameter_nm / pixel_nm), rng=rng)
    rows, cols = np.indices(shape, dtype=float)
    pix_ang = pixel_nm * 10
    base = {"100": Rotation.identity(), "110": Rotation.from_euler("x", 45, degrees=True)}
    for c in centers:
        inplane = Rotation.from_euler("z", rng.uniform(0, 360), degrees=True)
        R = Rotation.random(random_state=rng) if orientation == "random" else inplane * base[orientation]
        gr = R.apply(g)
        weight = w * np.exp(-((gr[:, 2] * d_ang / 2) ** 2))
        keep = weight > 1e-3
        r0, r1 = int(max(c[0] - d_ang / pix_ang / 2 - 1, 0)), int(min(c[0] + d_ang / pix_ang / 2 + 2, shape[0]))
        c0, c1 = int(max(c[1] - d_ang / pix_ang / 2 - 1, 0)), int(min(c[1] + d_ang / pix_ang / 2 + 2, shape[1]))
        rr, cc = rows[r0:r1, c0:c1], cols[r0:r1, c0:c1]
        inside = np.hypot(rr - c[0], cc - c[1]) <= d_ang / pix_ang / 2
        phase = rng.uniform(0, 2 * np.pi, keep.sum())
        y, x = (rr[inside] - c[0]) * pix_ang, (cc[inside] - c[1]) * pix_ang
        arg = 2 * np.pi * (np.outer(y, gr[keep, 0]) + np.outer(x, gr[keep, 1])) + phase
        patch = img[r0:r1, c0:c1]
        patch[inside] += np.cos(arg) @ weight[keep]
    return img + rng.normal(0.0, noise, shape)


def render_particle_image(
    shape: tuple[int, int] = (512, 512),
    *,
    pixel_nm: float = 0.5,
    diameter_nm: float = 5.5,
    diameter_std_nm: float = 0.6,
    n_particles: int = 150,
    gap_nm: float = 0.75,
    contrast: float = 1.0,
    noise: float = 0.1,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Low-magnification bright-field image: dark disks on a bright substrate.

    ``gap_nm`` is the smallest edge-to-edge distance between particles (0:
    particles may touch, as in a dense monolayer).

    Returns
    -------
    image : (M, N) ndarray
        1 − contrast inside particles, 1 outside, plus Gaussian noise.
    diameters_nm : ndarray
        True diameters of the particles actually placed.

    Examples
    --------
    >>> img, d = render_particle_image((128, 128), n_particles=5)
    >>> img.shape, len(d) <= 5
    ((128, 128), True)
    """
    rng = np.random.default_rng(seed)
    diam = np.clip(rng.normal(diameter_nm, diameter_std_nm, n_particles), 0.2 * diameter_nm, None)
    centers = random_dot_positions(shape, diam / pixel_nm, rng=rng, gap_px=gap_nm / pixel_nm)
    diam = diam[: len(centers)]  # placement is in order, the first len(centers) that fit
    img = np.ones(shape)
    for c, d in zip(centers, diam, strict=True):
        rad = d / pixel_nm / 2
        r0, c0 = int(max(c[0] - rad - 1, 0)), int(max(c[1] - rad - 1, 0))
        rr, cc = np.ogrid[r0 : int(min(c[0] + rad + 2, shape[0])), c0 : int(min(c[1] + rad + 2, shape[1]))]
        img[rr, cc] -= contrast * (np.hypot(rr - c[0], cc - c[1]) <= rad)
    return img + rng.normal(0.0, noise, shape), diam
