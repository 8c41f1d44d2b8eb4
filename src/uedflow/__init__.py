"""uedflow: ultrafast electron diffraction of nanocrystals, from frames to lattice dynamics.

Units everywhere: s = 1/d in Å⁻¹ (q = 2πs), lengths in Å (detector geometry in m),
times in ps, temperatures in K, energies in eV (beam energy in keV).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("uedflow")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
