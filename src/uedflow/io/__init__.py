"""Reading frames and writing outputs."""

from uedflow.io.atomic import atomic_dir, atomic_path, file_fingerprint, provenance
from uedflow.io.datasets import open_dataset, write_dataset

__all__ = ["atomic_dir", "atomic_path", "file_fingerprint", "open_dataset", "provenance", "write_dataset"]
