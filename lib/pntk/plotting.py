"""One figure style for the whole book, and the colours that mean the same thing on every page."""

from __future__ import annotations

import contextlib

import matplotlib as mpl
import numpy as np

from . import _validate

__all__ = ["STYLE", "style", "degree_color", "RELU_COLOR", "TRUTH_COLOR"]

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
