"""Vendor frame files (Gatan DM3/DM4, Merlin MIB, Andor SIF): pixel values against peer readers run here,
one clear error for damaged files, and fuzzing (a damaged file gives the right frame or a UedflowError).

The real files are scikit-ued's test data (GPL), read in place from its installed package, never copied.
"""

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from uedflow.errors import FileFormatError, UedflowError
from uedflow.io import frame_info, open_frames, read_frame, read_manifest, write_manifest

SKUED_DATA = Path(importlib.util.find_spec("skued").origin).parent / "io" / "tests" / "data"
FUZZ = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _peer(fn, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the GPL references' own deprecation chatter
        return fn(*args)


@pytest.mark.parametrize("name", ["bismuth.dm3", "bismuth.dm4"])
def test_dm_pixels_are_the_peer_readers_bytes_read_unsigned(name):
    """rosettasciio and scikit-ued read bismuth.dm3/.dm4 as signed bytes (−100…−5); the same bytes unsigned are
    the counts (a dark level of 156), and uedflow returns exactly those."""
    from rsciio.digitalmicrograph import file_reader
    from skued import diffread

    path = SKUED_DATA / name
    ours = read_frame(path)
    assert frame_info(path).dtype == ours.dtype == np.uint8 and ours.shape == (256, 256)
    for peer in (_peer(file_reader, str(path))[0]["data"], _peer(diffread, str(path))):
        assert peer.dtype == np.int8 and peer.max() < 0  # every byte has its top bit set: read signed, all negative
        np.testing.assert_array_equal(ours.astype(int), peer.astype(int) + 256)


def test_dm3_and_dm4_of_one_frame_agree_and_reduce_through_open_frames(tmp_path):
    write_manifest(tmp_path / "frames.csv", [{"file": str(SKUED_DATA / n), "scan": 1, "delay_ps": float(i)}
                                             for i, n in enumerate(["bismuth.dm3", "bismuth.dm4"])])
    stack = open_frames(read_manifest(tmp_path / "frames.csv")).data.compute()
    assert stack.dtype == np.uint8 and stack.shape == (2, 256, 256)
    np.testing.assert_array_equal(stack[0], stack[1])


@pytest.mark.parametrize("name", ["test.mib", "test_multi.mib"])
def test_mib_pixels_match_rosettasciio_and_scikit_ued(name):
    from rsciio.quantumdetector import load_mib_data
    from skued import mibread

    path = SKUED_DATA / name
    info = frame_info(path)
    ours = np.stack([read_frame(path, i) for i in range(info.n_frames)])
    rsc = np.asarray(_peer(load_mib_data, str(path))).reshape(ours.shape)
    sk = np.asarray(_peer(mibread, str(path)))
    sk = sk.reshape(ours.shape) if sk.ndim == 2 else np.moveaxis(sk, -1, 0)
    assert ours.max() > ours.min()
    np.testing.assert_array_equal(ours, rsc)
    np.testing.assert_array_equal(ours, sk)


def sif_bytes(frames: np.ndarray) -> bytes:
    """An Andor SIF file of float32 ``frames`` (n, rows, cols): version 65559, the layout Andor Solis writes
    (header lines as sif_parser documents them, line by line), then the pixels, little-endian, row by row."""
    n, rows, cols = frames.shape
    name, user = b"C:\\data\\uedflow test.sif", b"\x00" * 16
    return b"".join([
        b"Andor Technology Multi-Channel File\n65538 1\n",
        b"65559 0 0 1 1254330082 -100 \x00 \x00 \x00 \x05 \x00 0 1 1.02968 1.02962 1 \x00 1.02962 1e-07 0 1 1000 0 "
        b"2e-08 1e-08 0 0 \x04 \x00 1 0 4 0 0 0 0 0 1 0 0 1 5e-07 0 5.1 3425 1 1 -999 0 0 1 0 0 -1 4 12 30003 0 0 1 8\n",
        b"DU897_BV \n", f" {cols} {rows} {len(name)}\n".encode(), name, b" \n",
        f"65538 {len(user)}\n".encode(), user, b"\n",
        b"65538 \x01 \x01 \x03 \x00 0 0\n65540 0 0 500 0 0 1200 1200\n0 10\n0 0 0 0 0  0 0 0 0 0 0 10\n0 SR303i\n0 10\n"
        b"0 10\n0 0 \n65536 1 500 200\n5 SR163\n65539 \x01 \x00 \x01 \x00 \x01 \x00\n0 1 0 0\n0 1 0 0\n0 1 0 0\n0\n16\n"
        b"16\n12\nPixel number6\nCounts12\nPixel number",
        f"65538 1 {rows} {cols} 1 {n} 1 {n * rows * cols} {rows * cols}\n65538 1 {rows} {cols} 1 1 1 0\n".encode(),
        b"".join(f"{1000 * i:10d}\n".encode() for i in range(n)),
        np.ascontiguousarray(frames, "<f4").tobytes(),
    ])


@pytest.fixture(scope="module")
def sif_frames():
    rng = np.random.default_rng(3)
    return (rng.poisson(400.0, size=(3, 48, 40)) + rng.random((3, 48, 40))).astype(np.float32)


def test_sif_frames_are_read_exactly(tmp_path, sif_frames):
    path = tmp_path / "series.sif"
    path.write_bytes(sif_bytes(sif_frames))
    info = frame_info(path)
    assert (info.n_frames, info.shape, info.dtype) == (3, (48, 40), np.float32)
    for i in range(3):
        np.testing.assert_array_equal(read_frame(path, i), sif_frames[i])
    with pytest.raises(FileFormatError, match="out of range"):
        read_frame(path, 3)


@pytest.mark.parametrize("suffix", [".dm3", ".dm4", ".sif"])
def test_a_truncated_or_foreign_vendor_file_is_one_clear_error(tmp_path, suffix, sif_frames):
    raw = sif_bytes(sif_frames) if suffix == ".sif" else (SKUED_DATA / f"bismuth{suffix}").read_bytes()
    bad = tmp_path / f"bad{suffix}"
    for content in (raw[: len(raw) // 2], raw[:40], b"not a detector frame\n" * 10, b""):
        bad.write_bytes(content)
        with pytest.raises(FileFormatError) as err:
            read_frame(bad)
        msg = str(err.value)
        assert str(bad) in msg and "\n" not in msg and ("truncated" in msg or "damaged" in msg)


def _damage(raw: bytes, data) -> tuple[bytes, int | None, list[tuple[int, int]]]:
    """A truncated copy of ``raw`` (then the cut) or one with a few bytes set (then the changes)."""
    if data.draw(st.booleans()):
        cut = data.draw(st.integers(0, len(raw) - 1))
        return raw[:cut], cut, []
    changes = data.draw(st.lists(st.tuples(st.integers(0, len(raw) - 1), st.integers(0, 255)), min_size=1, max_size=4))
    out = bytearray(raw)
    for pos, value in changes:
        out[pos] = value
    return bytes(out), None, changes


def _check_damaged(path: Path, raw: bytes, frame: np.ndarray, data, *, compressed: bool = False) -> None:
    """Reading a damaged copy of ``raw`` (whose frame 0 is ``frame``) gives a UedflowError or the right frame:
    the original after a cut that left the pixels whole, the original with the changed pixel bytes otherwise
    (``compressed``: pixels not stored as such, any 2D frame of the right shape after a change)."""
    damaged, cut, changes = _damage(raw, data)
    path.write_bytes(damaged)
    try:
        got = read_frame(path)
    except UedflowError:
        return
    assert got.ndim == 2
    start = raw.find(frame.tobytes())
    stop = start + frame.nbytes
    if cut is not None:
        np.testing.assert_array_equal(got, frame)
    elif compressed:
        assert got.shape == frame.shape
    elif all(start <= p < stop for p, _ in changes) and got.shape == frame.shape:
        want = bytearray(frame.tobytes())
        for p, v in changes:
            want[p - start] = v
        np.testing.assert_array_equal(got, np.frombuffer(bytes(want), frame.dtype).reshape(frame.shape))


@pytest.fixture(scope="module")
def dm3():
    return (SKUED_DATA / "bismuth.dm3").read_bytes(), read_frame(SKUED_DATA / "bismuth.dm3")


@FUZZ
@given(data=st.data())
def test_fuzz_damaged_dm3(tmp_path, dm3, data):
    _check_damaged(tmp_path / "fuzz.dm3", *dm3, data)


@FUZZ
@given(data=st.data())
def test_fuzz_damaged_sif(tmp_path, sif_frames, data):
    _check_damaged(tmp_path / "fuzz.sif", sif_bytes(sif_frames[:1]), sif_frames[0], data)


@pytest.fixture(scope="module")
def mask_files(tmp_path_factory):
    """A PNG (Pillow) and an EDF (fabio, pyFAI's mask format) of one small frame, as bytes."""
    from fabio.edfimage import EdfImage
    from PIL import Image

    frame = np.random.default_rng(5).integers(0, 255, (24, 20)).astype(np.uint8)
    folder = tmp_path_factory.mktemp("masks")
    Image.fromarray(frame).save(folder / "m.png")
    EdfImage(data=frame).write(str(folder / "m.edf"))
    return frame, (folder / "m.png").read_bytes(), (folder / "m.edf").read_bytes()


@FUZZ
@given(data=st.data())
def test_fuzz_damaged_png(tmp_path, mask_files, data):
    frame, png, _ = mask_files
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow warns of odd chunks before it fails on them
        _check_damaged(tmp_path / "fuzz.png", png, frame, data, compressed=True)


@FUZZ
@given(data=st.data())
def test_fuzz_damaged_edf(tmp_path, mask_files, data):
    frame, _, edf = mask_files
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fabio logs and warns about a damaged header before it fails
        _check_damaged(tmp_path / "fuzz.edf", edf, frame, data)
