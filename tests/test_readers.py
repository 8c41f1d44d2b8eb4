"""Frame readers (TIFF, HDF5, .npy, iris-ued) and the lazy frame stack with its input checks."""

import h5py
import numpy as np
import pytest
import tifffile

from uedflow.errors import FileFormatError, InputError
from uedflow.io import (
    FrameInfo,
    FrameReader,
    frame_info,
    get_reader,
    open_frames,
    read_frame,
    read_iris,
    read_manifest,
    register_reader,
    write_manifest,
)


@pytest.fixture
def rng():
    return np.random.default_rng(7)


@pytest.fixture
def stack(rng):
    return rng.integers(1, 60000, size=(3, 12, 10)).astype(np.uint16)


def test_npy_single_and_stack(tmp_path, stack):
    np.save(tmp_path / "one.npy", stack[0])
    np.save(tmp_path / "many.npy", stack)
    assert frame_info(tmp_path / "one.npy") == FrameInfo(1, (12, 10), np.dtype(np.uint16))
    assert frame_info(tmp_path / "many.npy").n_frames == 3
    np.testing.assert_array_equal(read_frame(tmp_path / "many.npy", 2), stack[2])
    with pytest.raises(FileFormatError, match="out of range"):
        read_frame(tmp_path / "many.npy", 3)


def test_tiff_single_and_multipage(tmp_path, stack):
    tifffile.imwrite(tmp_path / "one.tif", stack[0])
    tifffile.imwrite(tmp_path / "multi.tiff", stack, photometric="minisblack")
    np.testing.assert_array_equal(read_frame(tmp_path / "one.tif"), stack[0])
    info = frame_info(tmp_path / "multi.tiff")
    assert (info.n_frames, info.shape) == (3, (12, 10))
    np.testing.assert_array_equal(read_frame(tmp_path / "multi.tiff", 1), stack[1])


def test_tiff_codec_without_its_package_is_named(tmp_path, stack):
    """An LZW TIFF (its Compression tag patched, as writing LZW itself needs imagecodecs) names the package."""
    path = tmp_path / "lzw.tif"
    tifffile.imwrite(path, stack[0], compression="zlib")
    with tifffile.TiffFile(path) as tif:
        offset = tif.pages[0].tags["Compression"].valueoffset
    raw = bytearray(path.read_bytes())
    raw[offset:offset + 2] = (5).to_bytes(2, "little")  # 5 = LZW
    path.write_bytes(bytes(raw))
    try:
        import imagecodecs  # noqa: F401
    except ImportError:
        with pytest.raises(FileFormatError, match=r"lzw.tif is LZW-compressed, which needs the imagecodecs package"):
            read_frame(path)
    else:
        pytest.skip("imagecodecs is installed: LZW is readable")


def test_hdf5_named_and_single_dataset(tmp_path, stack):
    with h5py.File(tmp_path / "a.h5", "w") as fh:
        fh["entry/data"] = stack
    with h5py.File(tmp_path / "b.h5", "w") as fh:
        fh["x"] = stack
        fh["y"] = stack[0]
    np.testing.assert_array_equal(read_frame(tmp_path / "a.h5", 2), stack[2])
    np.testing.assert_array_equal(read_frame(tmp_path / "b.h5", 0, "y"), stack[0])
    with pytest.raises(FileFormatError, match="name one in a 'dataset' manifest column"):
        read_frame(tmp_path / "b.h5")
    with pytest.raises(FileFormatError, match="no dataset 'z'"):
        read_frame(tmp_path / "b.h5", 0, "z")


def test_hdf5_compressed_as_detectors_write_it(tmp_path, stack):
    """Eiger/Jungfrau-style compression filters are decoded without the caller importing hdf5plugin (a fresh
    interpreter reads them): frames equal the originals."""
    import subprocess
    import sys

    import hdf5plugin

    filters = {"bitshuffle-lz4": hdf5plugin.Bitshuffle(cname="lz4"), "lz4": hdf5plugin.LZ4(),
               "blosc-zstd": hdf5plugin.Blosc(cname="zstd", shuffle=hdf5plugin.Blosc.BITSHUFFLE),
               "zstd": hdf5plugin.Zstd()}
    for codec, flt in filters.items():
        with h5py.File(tmp_path / f"{codec}.h5", "w") as fh:
            fh.create_dataset("entry/data/data", data=stack, chunks=(1, *stack.shape[1:]), **flt)
    code = ("import sys, numpy as np; from uedflow.io import frame_info, read_frame; "
            "print([(frame_info(p).n_frames, int(np.asarray([read_frame(p, i) for i in range(3)], np.int64).sum())) "
            "for p in sys.argv[1:]])")
    out = subprocess.run([sys.executable, "-c", code, *(str(tmp_path / f"{c}.h5") for c in filters)],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == str([(3, int(stack.astype(np.int64).sum()))] * len(filters))


def test_hdf5_filter_that_cannot_be_decoded_is_named(tmp_path, stack):
    path = tmp_path / "odd.h5"
    with h5py.File(path, "w") as fh:  # filter 32767: no plugin provides it
        ds = fh.create_dataset("data", shape=stack.shape, chunks=(1, 12, 10), dtype=stack.dtype, compression=32767,
                               allow_unknown_filter=True)
        for i, frame in enumerate(stack):
            ds.id.write_direct_chunk((i, 0, 0), frame.tobytes())
    with pytest.raises(FileFormatError, match=r"dataset /data of .*odd.h5 is compressed with an HDF5 filter .*cannot "
                                              r"decode: .*id 32767.*install the plugin"):
        read_frame(path, 1)


@pytest.mark.parametrize(("depth", "dtype", "high"), [("U08", np.uint8, 255), ("U16", np.uint16, 4095),
                                                     ("U32", np.uint32, 1 << 24)])
def test_merlin_mib_frames_match_the_pixels_and_rosettasciio(tmp_path, rng, depth, dtype, high):
    from _ringsynth import write_mib

    frames = rng.integers(0, high, size=(4, 48, 64)).astype(dtype)
    path = tmp_path / "run.mib"
    write_mib(path, frames, depth)
    assert frame_info(path) == FrameInfo(4, (48, 64), np.dtype(dtype))
    got = np.array([read_frame(path, i) for i in range(4)])
    np.testing.assert_array_equal(got, frames)
    assert got.dtype == dtype and got.dtype.isnative
    out = np.empty((48, 64), dtype)
    np.testing.assert_array_equal(read_frame(path, 3, out=out), frames[3])
    rsciio = pytest.importorskip("rsciio.quantumdetector")  # the HyperSpy reader, raw file order (GPL: run only)
    np.testing.assert_array_equal(got, np.asarray(rsciio.load_mib_data(str(path), navigation_shape=(4,))))


@pytest.mark.parametrize(("spoil", "match"), [
    ("truncate", r"run.mib is truncated: .* 3 whole frames"),
    ("raw", r"run.mib holds R64 frames; .*save the run in counting mode"),
    ("not-mib", r"run.mib is not a Merlin .mib file"),
    ("frame-size", r"frame 1 of Merlin file .*run.mib has no 'MQ1' header"),
])
def test_bad_mib_files_are_one_clear_error(tmp_path, rng, spoil, match):
    from _ringsynth import write_mib

    frames = rng.integers(0, 4095, size=(4, 48, 64)).astype(np.uint16)
    path = tmp_path / "run.mib"
    write_mib(path, frames)
    raw = path.read_bytes()
    size = len(raw) // 4
    if spoil == "truncate":
        raw = raw[:-100]
    elif spoil == "raw":
        raw = raw.replace(b",U16,", b",R64,")
    elif spoil == "not-mib":
        raw = b"XX" + raw[2:]
    elif spoil == "frame-size":  # frame 0 one byte short, frame 1 one longer: sizes add up, offsets do not
        raw = raw[:size - 1] + raw[size:2 * size] + b"\0" + raw[2 * size:]
    path.write_bytes(raw)
    with pytest.raises(FileFormatError, match=match):
        read_frame(path, 1)


def test_iris_layout_is_sniffed_and_converted(tmp_path, stack):
    path = tmp_path / "run.hdf5"
    with h5py.File(path, "w") as fh:
        fh["processed/intensity"] = np.moveaxis(stack, 0, -1)  # iris-ued stores (rows, cols, N)
        fh["time_points"] = np.array([-1.0, 0.5, 3.0])
        mask = np.ones((12, 10), bool)
        mask[0, 0] = False
        fh["valid_mask"] = mask
        fh.attrs["energy"] = 90.0
        fh.attrs["camera_length"] = 0.25
        fh.attrs["center"] = (5.0, 4.0)
    assert get_reader(path).name == "iris-ued"
    np.testing.assert_array_equal(read_frame(path, 1), stack[1])
    ds = read_iris(path)
    np.testing.assert_array_equal(ds.frames.compute(), stack)
    np.testing.assert_array_equal(ds.delay_ps, [-1.0, 0.5, 3.0])
    assert not ds.valid_mask[0, 0] and ds.valid_mask.sum() == 119
    assert ds.metadata["energy_keV"] == 90.0 and ds.metadata["camera_length_m"] == 0.25
    assert ds.manifest_records()[2] == {"file": "run.hdf5", "scan": 1, "delay_ps": 3.0, "index": 2}


def test_registry_adds_a_format_in_one_place(tmp_path):
    def info(path, dataset):
        return FrameInfo(1, (2, 2), np.dtype(float))

    def read(path, index, dataset):
        return np.full((2, 2), float(path.read_text()))

    register_reader(FrameReader("text", (".txtframe",), info, read))
    (tmp_path / "a.txtframe").write_text("4.5")
    np.testing.assert_array_equal(read_frame(tmp_path / "a.txtframe"), np.full((2, 2), 4.5))
    with pytest.raises(FileFormatError, match="supported suffixes"):
        get_reader(tmp_path / "a.unknown")


def _manifest(tmp_path, names):
    write_manifest(tmp_path / "frames.csv", [{"file": n, "scan": 1, "delay_ps": float(i)} for i, n in enumerate(names)])
    return read_manifest(tmp_path / "frames.csv")


def test_lazy_stack_reads_in_chunks(tmp_path, stack):
    for i, f in enumerate(stack):
        np.save(tmp_path / f"f{i}.npy", f)
    fs = open_frames(_manifest(tmp_path, [f"f{i}.npy" for i in range(3)]), chunk_frames=2)
    assert fs.data.chunks[0] == (2, 1) and fs.shape == (12, 10)
    np.testing.assert_array_equal(fs.data.compute(), stack)
    assert fs.to_xarray().dims == ("frame", "row", "col")
    cube = fs.by_scan_delay()
    assert cube.shape == (1, 3, 12, 10)
    np.testing.assert_array_equal(cube[0, 2].compute(), stack[2])


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda p, s: np.save(p / "bad.npy", s[0, :5]), InputError, "has shape"),
        (lambda p, s: np.save(p / "bad.npy", np.where(np.eye(12, 10) > 0, np.nan, 1.0)), InputError, "NaN/inf"),
        (lambda p, s: np.save(p / "bad.npy", np.zeros((12, 10), np.uint16)), InputError, "all zero"),
        (lambda p, s: (p / "bad.npy").write_bytes(b"\x93NUMPY garbage"), FileFormatError, "bad.npy"),
    ],
    ids=["shape", "nan", "zero", "garbage"],
)
def test_bad_frames_name_the_file_and_row(tmp_path, stack, make, error, match):
    np.save(tmp_path / "good.npy", stack[0])
    make(tmp_path, stack)
    with pytest.raises(error, match=match) as info:
        open_frames(_manifest(tmp_path, ["good.npy", "bad.npy"])).data.compute()
    assert "bad.npy" in str(info.value) and "line 3" in str(info.value)


def test_truncated_npy(tmp_path, stack):
    np.save(tmp_path / "good.npy", stack[0])
    np.save(tmp_path / "cut.npy", stack[0])
    raw = (tmp_path / "cut.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(FileFormatError, match=r"cut\.npy.*line 3"):
        open_frames(_manifest(tmp_path, ["good.npy", "cut.npy"]))


def test_manifest_rows_index_into_hdf5_and_iris_files(tmp_path, stack):
    with h5py.File(tmp_path / "data.h5", "w") as fh:
        fh["a"] = stack
        fh["b"] = stack[::-1]
    with h5py.File(tmp_path / "iris.hdf5", "w") as fh:
        fh["processed/intensity"] = np.moveaxis(stack, 0, -1)
        fh["time_points"] = np.arange(3.0)
    rows = [{"file": "data.h5", "scan": 1, "delay_ps": 0.0, "index": 2, "dataset": "b"},
            {"file": "iris.hdf5", "scan": 1, "delay_ps": 1.0, "index": 1, "dataset": ""}]
    write_manifest(tmp_path / "frames.csv", rows)
    fs = open_frames(read_manifest(tmp_path / "frames.csv"))
    np.testing.assert_array_equal(fs.data.compute(), stack[[0, 1]])
    rows[1]["index"] = 5
    write_manifest(tmp_path / "frames.csv", rows)
    with pytest.raises(FileFormatError, match="manifest line 3.*index 5 is out of range"):
        open_frames(read_manifest(tmp_path / "frames.csv"))


def test_truncated_multipage_tiff_is_one_clean_error(tmp_path, stack, caplog):
    big = np.tile(stack, (4, 8, 8))  # 12 pages of 96x80
    tifffile.imwrite(tmp_path / "cut.tif", big)
    raw = (tmp_path / "cut.tif").read_bytes()
    (tmp_path / "cut.tif").write_bytes(raw[: len(raw) // 2])
    np.save(tmp_path / "good.npy", big[0])
    with caplog.at_level("DEBUG"), pytest.raises(FileFormatError, match=r"cut\.tif"):
        open_frames(_manifest(tmp_path, ["good.npy"] + ["cut.tif"])).data.compute()
    assert not [r for r in caplog.records if r.name.startswith("tifffile")], caplog.text


def test_iris_sniff_reads_the_signature_before_opening(tmp_path, stack, monkeypatch):
    from uedflow.io import iris

    (tmp_path / "fake.h5").write_bytes(b"not hdf5" * 100)
    path = tmp_path / "block.h5"
    with h5py.File(path, "w", userblock_size=512) as fh:  # the signature after a user block
        fh["processed/intensity"] = np.moveaxis(stack, 0, -1)
    assert iris.is_iris_file(path)
    for name in ("File", "is_hdf5"):
        monkeypatch.setattr(h5py, name, lambda *a, **k: pytest.fail("h5py opened a file without the HDF5 signature"))
    assert not iris.is_iris_file(tmp_path / "fake.h5") and not iris.is_iris_file(tmp_path / "missing.h5")


def _until(cond, timeout=10.0):
    import time

    end = time.monotonic() + timeout
    while not cond() and time.monotonic() < end:
        time.sleep(0.005)
    return cond()


def test_prefetch_announces_the_bytes_of_small_files_only(tmp_path, stack, monkeypatch):
    import uedflow.io.frames as frames

    np.save(tmp_path / "a.npy", stack[0])
    np.save(tmp_path / "b.npy", stack)
    recs = _manifest(tmp_path, ["a.npy", "a.npy", "b.npy"])
    size_a, size_b = (tmp_path / "a.npy").stat().st_size, (tmp_path / "b.npy").stat().st_size
    assert frames.prefetch(recs) == size_a + size_b  # a.npy twice in the manifest, announced once
    monkeypatch.setattr(frames, "_PREFETCH_MAX_BYTES", size_a)
    assert frames.prefetch(recs) == size_a
    (tmp_path / "a.npy").unlink()
    assert frames.prefetch(recs) == 0  # a vanished file is left to the read that reports it


def test_readahead_keeps_a_bounded_distance_ahead_of_the_readers(monkeypatch):
    from pathlib import Path

    import uedflow.io.frames as frames
    from uedflow.io import FrameRecord

    calls = []
    monkeypatch.setattr(frames, "prefetch", lambda recs: calls.append([r.file.name for r in recs]) or 100 * len(recs))
    records = [FrameRecord(Path(f"f{i}.npy"), 1, float(i)) for i in range(20)]  # chunks of 2: 10 chunks, 200 bytes each
    chunk = lambda c: [f"f{2 * c}.npy", f"f{2 * c + 1}.npy"]  # noqa: E731
    with frames.Readahead(records, 2, ahead_bytes=600) as ahead:
        assert not calls  # nothing before start
        ahead.start()
        assert _until(lambda: len(calls) == 3)
        assert not _until(lambda: len(calls) > 3, timeout=0.2)  # 600 bytes ahead: it waits
        assert calls == [chunk(0), chunk(1), chunk(2)]
        ahead.started(0)  # chunk 0 is being read: one more chunk may be announced
        assert _until(lambda: len(calls) == 4) and calls[3] == chunk(3)
        ahead.started(5)  # the readers overtook it: chunks 4 and 5 are skipped
        assert _until(lambda: len(calls) == 7)
        assert not _until(lambda: len(calls) > 7, timeout=0.2)
        assert calls[4:] == [chunk(6), chunk(7), chunk(8)]
    assert not ahead._thread.is_alive()  # leaving the context stops the waiting thread
    ahead.start()  # a second start does nothing
    assert len(calls) == 7
    calls.clear()
    with frames.Readahead(records, 2, ahead_bytes=600, skip=[0, 2, 3]) as ahead:  # e.g. kept in a checkpoint
        ahead.start()
        assert _until(lambda: len(calls) == 3) and not _until(lambda: len(calls) > 3, timeout=0.2)
        assert calls == [chunk(1), chunk(4), chunk(5)]


def test_map_in_threads_keeps_order_and_raises_the_first_error():
    from uedflow.io.frames import map_in_threads

    items = list(range(1000))
    assert map_in_threads(lambda x: x * x, items) == [x * x for x in items]
    assert map_in_threads(str, [7]) == ["7"] and map_in_threads(str, []) == []

    def bad(x):
        if x == 500:
            raise FileFormatError(f"frame {x} is broken")
        return x

    with pytest.raises(FileFormatError, match="frame 500 is broken"):
        map_in_threads(bad, items)
