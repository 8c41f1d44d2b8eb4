"""Explore stage files interactively: the explorer page, and the same views in a Jupyter notebook.

>>> from uedflow import explore  # doctest: +SKIP
>>> explore.show("out/reduced.h5", "out/dynamics.h5")  # doctest: +SKIP

:func:`show` embeds the page written by :func:`write` (the same data-to-view functions,
:mod:`uedflow.report.views`, and the same drawing code), so notebook and file never differ.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import xarray as xr

from uedflow.report.explorer import load_stage_files, render_explorer, write_explorer
from uedflow.report.views import explorer_data

__all__ = ["ExplorerView", "show", "write", "page"]

write = write_explorer


def page(reduced: str | Path | xr.Dataset | None, dynamics: str | Path | xr.Dataset | Sequence[Any] = (), *,
         labels: Sequence[str] | None = None, title: str = "uedflow explorer", **thin: int) -> str:
    """The explorer page of reduced and dynamics files or datasets, as an HTML string."""
    if isinstance(dynamics, str | Path | xr.Dataset):
        dynamics = [dynamics]
    red, dyn = load_stage_files(reduced, dynamics)
    return render_explorer(explorer_data(red, dyn, labels=labels, title=title, **thin))


class ExplorerView:
    """The explorer in a notebook cell: Jupyter renders any object with ``_repr_html_`` (no IPython import)."""

    def __init__(self, page_html: str, height_px: int) -> None:
        self.page, self.height_px = page_html, height_px

    def _repr_html_(self) -> str:
        doc = html.escape(self.page, quote=True)
        return f'<iframe srcdoc="{doc}" style="width:100%;height:{self.height_px}px;border:0"></iframe>'


def show(reduced: str | Path | xr.Dataset | None, dynamics: str | Path | xr.Dataset | Sequence[Any] = (), *,
         labels: Sequence[str] | None = None, height_px: int = 900, **thin: int) -> ExplorerView:
    """Show the explorer in a Jupyter notebook: the page of :func:`page` in a frame of the cell's output.

    Parameters
    ----------
    reduced : path or xarray.Dataset or None
        reduced.h5 or its dataset.
    dynamics : path, dataset or sequence of them
        dynamics.h5 of the same data first, then other samples to overlay.
    labels : sequence of str, optional
        Sample names.
    height_px : int
        Height of the frame in the notebook [px].
    **thin
        ``max_delays``, ``max_bins``, ``max_px`` (see :func:`uedflow.report.views.explorer_data`).
    """
    return ExplorerView(page(reduced, dynamics, labels=labels, **thin), height_px)
