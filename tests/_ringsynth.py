"""Test helper: render powder rings onto detector frames with a known geometry."""

from __future__ import annotations

import dataclasses

import numpy as np

from uedflow.reduce.geometry import Geometry

__all__ = ["ring_image", "PBSE_RINGS"]

#: (hkl, relative amplitude) of PbSe rings used in the tests
PBSE_RINGS = (("111", 0.4), ("200", 1.0), ("220", 0.7), ("311", 0.3), ("222", 0.25), ("400", 0.15))


def ring_image(
    geometry: Geometry,
    rings: list[tuple[float, float]],
    *,
    width: float = 0.006,
    background: float = 20.0,
    scale: float = 1000.0,
    oversample: int = 3,
) -> np.ndarray:
    """Noise-free frame: a smooth background plus Gaussian rings, averaged over sub-pixels.

    Parameters
    ----------
    rings : list of (s0 [Å⁻¹], amplitude)
    width : float
        Gaussian σ of each ring [Å⁻¹].
    """
    rows, cols = geometry.shape
    off = (np.arange(oversample) + 0.5) / oversample - 0.5
    out = np.zeros(geometry.shape)
    for dr in off:
        for dc in off:
            g = dataclasses.replace(geometry, center_rc=(geometry.center_rc[0] - dr, geometry.center_rc[1] - dc))
            s = g.s_map()
            img = background * np.exp(-s / 0.5)
            for s0, amp in rings:
                img = img + scale * amp * np.exp(-0.5 * ((s - s0) / width) ** 2)
            out += img
    return out / oversample**2


def pbse_rings(a_angstrom: float = 6.12) -> list[tuple[float, float]]:
    """(s0, amplitude) of the PbSe rings of :data:`PBSE_RINGS` for lattice constant ``a``."""
    from uedflow.crystal import s_of_hkl

    return [(s_of_hkl(hkl, a_angstrom), amp) for hkl, amp in PBSE_RINGS]


def write_mib(path, frames: np.ndarray, depth: str = "U16", header_bytes: int = 384) -> None:
    """Write (n, rows, cols) ``frames`` as a Merlin .mib file: per frame an ASCII header of ``header_bytes``
    (fields as the Merlin software writes them, zero-padded) and the big-endian pixels."""
    rows, cols = frames.shape[1:]
    big = {"U08": ">u1", "U16": ">u2", "U32": ">u4"}[depth]
    with open(path, "wb") as fh:
        for i, frame in enumerate(frames, start=1):
            head = (f"MQ1,{i:06d},{header_bytes:05d},01,{cols:04d},{rows:04d},{depth},   1x1,01,"
                    "2020-05-18 16:51:49.971626,0.001000,0,0,0,1.200000E+2,5.110000E+2,0.000000E+0,0.000000E+0,"
                    "0.000000E+0,0.000000E+0,0.000000E+0,0.000000E+0,3RX,175,511,000,000,000,000,000,000,125,255,"
                    "125,125,100,100,082,100,087,030,128,004,255,129,128,176,168,511,511,MQ1A,"
                    "2020-05-18T14:51:49.971626178Z,1000000ns,12,").encode()
            fh.write(head.ljust(header_bytes, b"\x00"))
            fh.write(frame.astype(big).tobytes())


def write_experiment(
    folder,
    *,
    geometry: Geometry,
    delays=(-2.0, -1.0, 1.0, 2.0, 5.0),
    n_scans: int = 3,
    seed: int = 0,
    drop: float = 0.05,
    fmt: str = "npy",
    extra_toml: str = "",
    center_in_toml: bool = False,
    block: bool = True,
    detector_toml: str = "",
):
    """Write a small virtual experiment (frames, frames.csv, experiment.toml) into ``folder``.

    After time zero every ring loses the fraction ``drop`` of its amplitude.
    Frames are Poisson-noisy uint16 with a beam block (disk + stick) of low counts.
    ``detector_toml`` adds [detector] keys. Returns the experiment file path.
    """
    import tifffile

    from uedflow.io import write_manifest

    rng = np.random.default_rng(seed)
    rings = pbse_rings()
    before = ring_image(geometry, rings)
    after = ring_image(geometry, [(s0, a * (1 - drop)) for s0, a in rings])
    rr, cc = np.indices(geometry.shape)
    r0, c0 = geometry.center_rc
    blocked = (np.hypot(rr - r0, cc - c0) < 12) | ((np.abs(rr - r0) < 3) & (cc > c0))
    rows = []
    for scan in range(1, n_scans + 1):
        for d in delays:
            img = rng.poisson(after if d > 0 else before).astype(np.uint16)
            if block:
                img[blocked] = rng.poisson(1.0, int(blocked.sum())) + 1
            name = f"s{scan}_d{d:+.1f}.{fmt}"
            if fmt == "npy":
                np.save(folder / name, img)
            elif fmt == "mib":
                write_mib(folder / name, img[None])
            else:
                tifffile.imwrite(folder / name, img)
            rows.append({"file": name, "scan": scan, "delay_ps": d})
    write_manifest(folder / "frames.csv", rows)
    center = f"center_rc = [{r0}, {c0}]\n" if center_in_toml else ""
    text = (
        '[experiment]\nname = "synthetic"\nmanifest = "frames.csv"\n'
        f"[beam]\nenergy_keV = {geometry.energy_keV}\n"
        f"[detector]\ncamera_length_m = {geometry.camera_length_m}\npixel_size_m = {geometry.pixel_size_m}\n{center}"
        f"{detector_toml}"
        '[sample]\nmaterial = "PbSe"\ntemperature_K = 90.0\n'
        f"{extra_toml}"
    )
    path = folder / "experiment.toml"
    path.write_text(text)
    return path
