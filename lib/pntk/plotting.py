"""One figure style for the whole book, and the colours that mean the same thing on every page."""

from __future__ import annotations

import contextlib

import matplotlib as mpl
import numpy as np

from . import _validate

__all__ = ["STYLE", "style", "degree_color", "html_table", "RELU_COLOR", "TRUTH_COLOR"]

STYLE = {
    "figure.figsize": (6.4, 3.6),
    "figure.dpi": 110,
    "savefig.dpi": 110,
    "savefig.bbox": "tight",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.titlesize": "medium",
    "legend.frameon": False,
    "font.size": 10,
    "lines.linewidth": 1.8,
}

RELU_COLOR = "#4d4d4d"
"""The two-layer ReLU net (degree 1) is always drawn in dark grey."""
TRUTH_COLOR = "#000000"
"""Ground truth / exact values: black, dashed where it overlays a prediction."""


@contextlib.contextmanager
def style():
    """Context manager applying :data:`STYLE` to the figures created inside it."""
    with mpl.rc_context(STYLE):
        yield


def degree_color(degree: int, max_degree: int = 9):
    """Colour of a polynomial net of the given degree: dark grey for degree 1, then a viridis ramp."""
    degree = _validate.positive_int(degree, "degree")
    max_degree = _validate.positive_int(max_degree, "max_degree")
    if degree == 1:
        return RELU_COLOR
    cmap = mpl.colormaps["viridis"]
    return cmap(np.clip((degree - 2) / max(max_degree - 2, 1), 0, 1) * 0.9)


def html_table(corner: str, columns, rows, fmt="g"):
    """A table of numbers for a chapter page, as an ``IPython.display.HTML`` object.

    ``rows`` is a sequence of ``(label, values)`` pairs, one value per column;
    ``fmt`` is one format spec for every column or a list with one per column.
    A NaN prints as an en dash: the chapters use NaN for a quantity that does
    not exist (for example the decay exponent of a parity whose eigenvalues are
    all zero). Numbers never wrap inside a cell.
    """
    from IPython.display import HTML

    columns = [str(c) for c in columns]
    fmts = list(fmt) if isinstance(fmt, (list, tuple)) else [fmt] * len(columns)
    if len(fmts) != len(columns):
        raise ValueError(f"fmt must be one format or a list of {len(columns)} (one per column), got {len(fmts)}")
    rows = [(label, list(values)) for label, values in rows]
    for label, values in rows:
        if len(values) != len(columns):
            raise ValueError(f"rows: row {label!r} has {len(values)} values, expected {len(columns)} (one per column)")

    def cell(value, spec):
        if isinstance(value, (float, np.floating)) and np.isnan(value):
            return "&ndash;"
        return format(value, spec)

    head = "".join(f"<th>{c}</th>" for c in [corner, *columns])
    body = "".join(
        f"<tr><th>{label}</th>"
        + "".join(f'<td style="white-space:nowrap">{cell(v, f)}</td>' for v, f in zip(values, fmts))
        + "</tr>"
        for label, values in rows)
    return HTML(f"<table class='table'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
