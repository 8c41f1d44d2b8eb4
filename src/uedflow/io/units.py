"""Units and long names of the variables of the stage files (docs/formats.md), given when a file is written.

:func:`uedflow.io.write_dataset` gives every data variable and coordinate of a stage file the
``units`` and ``long_name`` of its entry here, unless the variable carries its own. A variable
with neither its own attributes nor an entry is reported (a :class:`UserWarning`, an error in the
tests), so a variable added to a stage file gets its entry here. Units are UDUNITS-like
strings; ``"1"`` marks a dimensionless number (ratios, flags, labels, counters).
"""

from __future__ import annotations

import warnings

import xarray as xr

__all__ = ["REDUCED_UNITS", "DYNAMICS_UNITS", "annotate"]

_NORM = "counts/pixel (normalised)"
_AREA = "counts/pixel (normalised) * 1/angstrom"
_DELAY = ("ps", "pump-probe delay relative to time zero")
_SCAN = ("1", "scan number")

#: variable -> (units, long_name) of reduced.h5
REDUCED_UNITS: dict[str, tuple[str, str]] = {
    "s": ("1/angstrom", "s = 1/d, bin centre"),
    "delay": _DELAY,
    "scan": _SCAN,
    "intensity": (_NORM, "normalised powder intensity I(s), mean over scans"),
    "intensity_sigma": (_NORM, "1-sigma of intensity"),
    "intensity_scan": (_NORM, "normalised powder intensity of each scan"),
    "intensity_scan_sigma": (_NORM, "Poisson 1-sigma of intensity_scan"),
    "reference": (_NORM, "mean intensity before time zero"),
    "reference_sigma": (_NORM, "1-sigma of reference"),
    "differential": (_NORM, "intensity minus reference"),
    "counts": ("1", "valid pixels in the s bin"),
    "mask": ("1", "1 = valid pixel, 0 = masked"),
    "diff_pattern": (_NORM, "mean frame after time zero minus mean frame before"),
    "frame_weight": ("1", "normalisation factor applied to the frame"),
    "frame_rejected": ("1", "1 = frame rejected whole"),
    "center_row": ("px", "beam centre row of the frame ([detector] center per-scan or per-frame)"),
    "center_col": ("px", "beam centre column of the frame ([detector] center per-scan or per-frame)"),
}

#: observable -> (units, what it is) of dynamics.h5
_OBSERVABLES = {
    "strain": ("1", "lattice strain -ds/s"),
    "msd": ("angstrom^2", "mean-square displacement change"),
    "width": ("1/angstrom", "FWHM change relative to t<0"),
    "intensity": ("1", "peak intensity I/I0"),
}
_BY_OBSERVABLE = "unit of the observable (strain 1, msd angstrom^2, width 1/angstrom, intensity 1)"


def _observable_entries() -> dict[str, tuple[str, str]]:
    out = {}
    for obs, (unit, what) in _OBSERVABLES.items():
        for prefix, scope in (("", ""), ("family_", " averaged over the direction family")):
            out[f"{prefix}{obs}"] = (unit, what + scope)
            out[f"{prefix}{obs}_err"] = (unit, f"1-sigma of {what}{scope}")
            out[f"{prefix}{obs}_qe"] = (unit, f"{what}{scope}, quasi-equilibrium mean")
            out[f"{prefix}{obs}_qe_err"] = (unit, f"1-sigma of the quasi-equilibrium {what}{scope}")
        for prefix, scope in (("", ""), ("family_", ", mean over the direction family")):
            out[f"{prefix}{obs}_sys"] = (unit, f"systematic 1-sigma of {what} (TDS-halo correction, fit window{scope})")
            out[f"{prefix}{obs}_qe_sys"] = (unit, f"systematic 1-sigma of the quasi-equilibrium {what}{scope}")
        out[f"{obs}_reference_err"] = (unit, f"1-sigma offset of {what} from its t<0 reference")
        out[f"{obs}_fit"] = (unit, f"fitted kinetic curve of {what}")
    return out


#: variable -> (units, long_name) of dynamics.h5
DYNAMICS_UNITS: dict[str, tuple[str, str]] = {
    "hkl": ("1", "reflection (ring) label"),
    "family": ("1", "reflection family of the ring"),
    "delay": _DELAY,
    "observable": ("1", "observable name"),
    "direction": ("1", "crystal direction family"),
    "scan": _SCAN,
    "s0": ("1/angstrom", "peak position before time zero"),
    "s0_err": ("1/angstrom", "1-sigma of s0"),
    "eta": ("1", "pseudo-Voigt Lorentzian fraction"),
    "position": ("1/angstrom", "fitted peak centre"),
    "position_err": ("1/angstrom", "1-sigma of position"),
    "position_scatter_err": ("1/angstrom", "standard error of position over scans"),
    "fwhm": ("1/angstrom", "fitted peak FWHM"),
    "fwhm_err": ("1/angstrom", "1-sigma of fwhm"),
    "fwhm_scatter_err": ("1/angstrom", "standard error of fwhm over scans"),
    "area": (_AREA, "integrated peak intensity"),
    "area_err": (_AREA, "1-sigma of area"),
    "area_scatter_err": (_AREA, "standard error of area over scans"),
    "peak_chi2_red": ("1", "reduced chi-square of the peak fit"),
    "fit_flag": ("1", "peak-fit flag bits (1 failed, 2 at bound, 4 no data, 8 bad model)"),
    "scan_position": ("1/angstrom", "fitted peak centre of each scan"),
    "scan_fwhm": ("1/angstrom", "fitted peak FWHM of each scan"),
    "scan_area": (_AREA, "integrated peak intensity of each scan"),
    "scan_fit_flag": ("1", "peak-fit flag bits of each scan"),
    "irf_fwhm_ps": ("ps", "instrument response FWHM"),
    "amplitude": (_BY_OBSERVABLE, "kinetic amplitude"),
    "amplitude_err": (_BY_OBSERVABLE, "1-sigma of amplitude"),
    "amplitude_boot_err": (_BY_OBSERVABLE, "bootstrap 1-sigma of amplitude"),
    "tau_ps": ("ps", "rise time constant"),
    "tau_err_ps": ("ps", "1-sigma of tau_ps"),
    "tau_boot_err_ps": ("ps", "bootstrap 1-sigma of tau_ps"),
    "t0_ps": ("ps", "fitted time zero"),
    "t0_err_ps": ("ps", "1-sigma of t0_ps"),
    "t0_boot_err_ps": ("ps", "bootstrap 1-sigma of t0_ps"),
    "chi2_red": ("1", "reduced chi-square of the kinetic fit"),
    "fit_success": ("1", "1 = kinetic fit usable"),
    "family_tau_ps": ("ps", "weighted mean rise time of the direction family"),
    "family_tau_err_ps": ("ps", "1-sigma of family_tau_ps"),
    **_observable_entries(),
    "wilson_class": ("1", "class of rings of one Wilson line: all, or even / odd hkl in rock salt"),
    "wilson_msd": ("angstrom^2", "Wilson Delta<u^2>: slope of ln(I/I0) vs -4 pi^2 s^2 over the class's rings"),
    "wilson_msd_err": ("angstrom^2", "1-sigma of wilson_msd"),
    "wilson_intercept": ("1", "Wilson intercept ln(I/I0) at s = 0 (background/TDS diagnostic, 0 if none)"),
    "wilson_intercept_err": ("1", "1-sigma of wilson_intercept"),
    "wilson_chi2_red": ("1", "reduced chi-square of the Wilson line"),
    "wilson_deviation": ("angstrom^2", "ring's quasi-equilibrium Delta<u^2>_s minus its class's Wilson value"),
    "wilson_deviation_err": ("angstrom^2", "1-sigma of wilson_deviation"),
    "amplitude_sys": (_BY_OBSERVABLE, "systematic 1-sigma of amplitude (TDS-halo correction, fit window)"),
    "tau_sys_ps": ("ps", "systematic 1-sigma of tau (TDS-halo correction, fit window)"),
    "element": ("1", "chemical element"),
    "element_msd": ("angstrom^2", "Delta<u_e^2> of each element, joint structure-factor fit of all rings' I/I0"),
    "element_msd_err": ("angstrom^2", "1-sigma of element_msd (covariance scaled by max(1, chi2_red))"),
    "element_msd_fit": ("angstrom^2", "kinetic fit (exponential rise with the IRF) of element_msd"),
    "element_msd_corr": ("1", "correlation coefficient of the first two elements' Delta<u^2> at each delay"),
    "element_msd_chi2_red": ("1", "reduced chi-square of the per-element fit at each delay"),
    "global_msd_fit": ("angstrom^2", "Delta<u^2>_s curve of the chosen global kinetic model"),
    "global_strain_fit": ("1", "strain curve of the chosen global kinetic model"),
    # the per-axis analysis of any crystal (uedflow.dynamics.crystal_axes)
    "ring": ("1", "composite ring label (families within half a FWHM)"),
    "trace": ("1", "cell parameter (a, c...) or vibration axis (perp, par or U_ij)"),
    "param": ("1", "cell parameter"),
    "param2": ("1", "cell parameter"),
    "ring_s": ("1/angstrom", "s of the ring before the pump"),
    "ring_members": ("1", "member families hkl:intensity share"),
    "ring_pure": ("1", "1 if the ring is one family"),
    "ring_strain": ("1", "ring strain -ds/s"),
    "ring_strain_err": ("1", "1-sigma of ring_strain"),
    "ln_ratio": ("1", "ln(I/I0) of the ring area"),
    "ln_ratio_err": ("1", "1-sigma of ln_ratio"),
    "ring_msd": ("angstrom^2", "per-ring effective Delta<u^2> = -ln(I/I0)/(4 pi^2 s^2)"),
    "value": ("see trace_unit", "cell strain (lengths relative, angles in degrees) or Delta<u^2> along the axis"),
    "value_err": ("see trace_unit", "1-sigma of value"),
    "trace_unit": ("1", "unit of value and amplitude: 1, degree or angstrom2"),
    "strain_covariance": ("1", "covariance of the cell strain at each delay"),
    "offset": ("see trace_unit", "kinetic baseline before time zero"),
    "offset_err": ("see trace_unit", "1-sigma of offset"),
    **{f"lattice_temperature_{o}{suffix}": ("K", f"{what} lattice temperature from the direction-averaged {src}")
       for o, src, sys in (("msd", "Delta<u^2> (Debye model)", "direction spread"),
                           ("strain", "strain (bulk alpha(T))", "direction spread and the 5 % of alpha(T)"))
       for suffix, what in (("_K", "the"), ("_err_K", "statistical 1-sigma of the"),
                            ("_sys_K", f"systematic 1-sigma ({sys}) of the"))},
}


def annotate(ds: xr.Dataset, table: dict[str, tuple[str, str]], *, where: str) -> xr.Dataset:
    """Give every variable and coordinate of ``ds`` (in place) the ``units``/``long_name`` of ``table`` it lacks.

    Variables left without either are named in one :class:`UserWarning` (``where`` names the file).
    """
    missing = []
    for name, var in ds.variables.items():
        units, long_name = table.get(str(name), (None, None))
        if "units" not in var.attrs and units is not None:
            var.attrs["units"] = units
        if "long_name" not in var.attrs and long_name is not None:
            var.attrs["long_name"] = long_name
        if not {"units", "long_name"} <= set(var.attrs):
            missing.append(str(name))
    if missing:
        warnings.warn(f"{where}: variable(s) {', '.join(missing)} have no units or long_name; give them their "
                      "attributes or an entry in uedflow.io.units", UserWarning, stacklevel=3)
    return ds
