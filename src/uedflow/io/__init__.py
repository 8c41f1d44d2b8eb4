"""Reading frames and writing outputs."""

from uedflow.io import vendor  # noqa: F401  (registers the DM3/DM4 and SIF readers)
from uedflow.io.atomic import atomic_dir, atomic_path, file_fingerprint, provenance
from uedflow.io.datasets import open_dataset, write_dataset
from uedflow.io.frames import FrameRecord, FrameStack, check_frame, open_frames, read_records
from uedflow.io.iris import IrisDataset, is_iris_file, read_iris
from uedflow.io.manifest import manifest_rows, read_manifest, write_manifest
from uedflow.io.mib import MibHeader, mib_header
from uedflow.io.readers import FrameInfo, FrameReader, frame_info, get_reader, load_image, read_frame, register_reader
from uedflow.io.text import read_text

__all__ = [
    "read_text",
    "FrameInfo",
    "FrameReader",
    "FrameRecord",
    "FrameStack",
    "IrisDataset",
    "MibHeader",
    "atomic_dir",
    "atomic_path",
    "check_frame",
    "file_fingerprint",
    "frame_info",
    "get_reader",
    "is_iris_file",
    "load_image",
    "manifest_rows",
    "mib_header",
    "open_dataset",
    "open_frames",
    "provenance",
    "read_frame",
    "read_iris",
    "read_manifest",
    "read_records",
    "register_reader",
    "write_dataset",
    "write_manifest",
]
