"""Exceptions raised by uedflow.

Every error derives from :class:`UedflowError` and from the built-in exception
that best describes it, so callers can catch either. Messages name the input,
the bad value and the fix; the CLI prints them without a traceback and exits 2.
"""

from __future__ import annotations

__all__ = [
    "UedflowError",
    "InputError",
    "ConfigError",
    "FileFormatError",
    "GeometryError",
    "CrystalError",
    "FitError",
    "ClusterError",
]


class UedflowError(Exception):
    """Base class of every error uedflow raises on purpose."""


class InputError(UedflowError, ValueError):
    """Bad data values or shapes (NaN pixels, wrong shape, negative dose...)."""


class ConfigError(UedflowError, ValueError):
    """Bad experiment file, manifest or option (unknown key, missing value...)."""


class FileFormatError(UedflowError, OSError):
    """A file is missing, unreadable, truncated or not in the expected layout."""


class GeometryError(UedflowError, ValueError):
    """Detector geometry that cannot work (center off the image, no ring seen...)."""


class CrystalError(UedflowError, ValueError):
    """Unknown material, element or reflection, or a non-cubic cell."""


class FitError(UedflowError, RuntimeError):
    """A fit that cannot be attempted at all (too few points, all NaN...)."""


class ClusterError(UedflowError, RuntimeError):
    """A ``dask.distributed`` cluster that lost its workers (none left for too long, tasks killing workers)."""
