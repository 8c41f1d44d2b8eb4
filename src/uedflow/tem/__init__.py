"""TEM image analysis: FFT d-spacings and the (111)/(200) ratio, particle sizing."""

from uedflow.tem.fft import TemFFTResult, analyze_lattice_image, power_spectrum, radial_profile, read_image

__all__ = ["TemFFTResult", "analyze_lattice_image", "power_spectrum", "radial_profile", "read_image"]
