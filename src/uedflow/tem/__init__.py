"""TEM image analysis: FFT d-spacings and the (111)/(200) ratio, particle sizing, synthetic images."""

from uedflow.tem.fft import TemFFTResult, analyze_lattice_image, power_spectrum, radial_profile, read_image
from uedflow.tem.sizing import SizingResult, size_particles
from uedflow.tem.synthetic import render_lattice_image, render_particle_image

__all__ = [
    "SizingResult",
    "TemFFTResult",
    "analyze_lattice_image",
    "power_spectrum",
    "radial_profile",
    "read_image",
    "render_lattice_image",
    "render_particle_image",
    "size_particles",
]
