"""Reading frames and writing outputs."""

from uedflow.io.atomic import atomic_dir, atomic_path, file_fingerprint, provenance

__all__ = ["atomic_dir", "atomic_path", "file_fingerprint", "provenance"]
