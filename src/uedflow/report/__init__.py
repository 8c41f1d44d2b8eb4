"""Figures in the paper's style and a self-contained HTML report.

Figure functions take stage datasets (docs/formats.md) and return matplotlib
Figures; :func:`write_report` writes ``report.html`` plus every figure as PNG
and SVG.
"""

from uedflow.report.figures import figure_kinetics, figure_quasi_equilibrium, figure_texture, figure_widths
from uedflow.report.html import FigureSpec, ReportResult, build_figures, format_pm, render_html, write_report
from uedflow.report.patterns import figure_diff_pattern, figure_profile, figure_truth
from uedflow.report.samples import Sample, load_sample, read_truth
from uedflow.report.tables import fit_rows, heating_rows, summary_rows, truth_rows

__all__ = [
    "FigureSpec",
    "ReportResult",
    "Sample",
    "build_figures",
    "figure_diff_pattern",
    "figure_kinetics",
    "figure_profile",
    "figure_quasi_equilibrium",
    "figure_truth",
    "figure_texture",
    "figure_widths",
    "fit_rows",
    "format_pm",
    "heating_rows",
    "load_sample",
    "read_truth",
    "render_html",
    "summary_rows",
    "truth_rows",
    "write_report",
]
