"""The one style of the book's figures: size, text, colours.

Every figure is drawn at the width of the book's text column (:data:`PAGE_WIDTH_IN`), so it is
shown at its natural size and its text (:data:`FONT_SIZE_PT`, every label, tick, legend and
title) reads at the size of the body text. Colours come from the Okabe-Ito palette, which
readers with any common colour-vision deficiency can tell apart; heatmaps use ColorBrewer's
diverging ``RdBu`` (negative red, positive blue, as the bars) or the sequential ``viridis``.
Figures stay vector (SVG, :func:`recsys_utils.environment.book_figures`).

Each plotting function draws inside :func:`book_style`, so a figure looks the same whatever
the notebook's own settings; :func:`apply` sets the style for a whole notebook (figures drawn
with Matplotlib directly).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np

#: Width of the book's text column in inches (about 670 px at 96 px per inch): every figure's.
PAGE_WIDTH_IN: float = 7.0
#: Size of every text of a figure, in points: 12 pt is 16 px, the body text, at natural size.
FONT_SIZE_PT: float = 12.0
#: Height of one row of panels, in inches.
PANEL_HEIGHT_IN: float = 3.2

#: Height of one legend entry, in points.
LEGEND_ROW_PT: float = 1.5 * FONT_SIZE_PT

#: The Okabe-Ito palette (Okabe and Ito 2008), safe for colour-blind readers.
OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky blue": "#56B4E9",
    "bluish green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish purple": "#CC79A7",
}
#: The order in which lines and bars of successive series take the palette's colours
#: (yellow, the faintest on white, last).
CYCLE: tuple[str, ...] = tuple(
    OKABE_ITO[c]
    for c in ("blue", "orange", "bluish green", "vermillion", "reddish purple", "sky blue", "black", "yellow")
)
#: Colours with a meaning, the same in every figure.
POSITIVE: str = OKABE_ITO["blue"]  # a value above zero, "pushes the score up"
NEGATIVE: str = OKABE_ITO["vermillion"]  # a value below zero
LIKE: str = OKABE_ITO["bluish green"]  # liked ratings
NOT_LIKE: str = "#999999"  # not liked, and anything neutral
REFERENCE: str = OKABE_ITO["black"]  # the report's printed values, zero lines, baselines
#: Colour maps: signed values (negative red, positive blue) and non-negative values.
DIVERGING_CMAP: str = "RdBu"
SEQUENTIAL_CMAP: str = "viridis"
#: Colour of heatmap cells that hold no value.
MISSING: str = "#eeeeee"

#: Matplotlib settings of :func:`book_style`.
RC: dict[str, Any] = {
    "font.size": FONT_SIZE_PT,
    "axes.titlesize": FONT_SIZE_PT,
    "axes.labelsize": FONT_SIZE_PT,
    "xtick.labelsize": FONT_SIZE_PT,
    "ytick.labelsize": FONT_SIZE_PT,
    "legend.fontsize": FONT_SIZE_PT,
    "legend.title_fontsize": FONT_SIZE_PT,
    "figure.titlesize": FONT_SIZE_PT,
    "figure.labelsize": FONT_SIZE_PT,
    "axes.prop_cycle": mpl.cycler(color=list(CYCLE)),
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "grid.alpha": 0.3,
    "legend.frameon": False,
    "lines.linewidth": 1.8,
    "lines.markersize": 5,
    "figure.figsize": (PAGE_WIDTH_IN, PANEL_HEIGHT_IN),
}


@contextmanager
def book_style() -> Iterator[None]:
    """Draw the figures made inside the block in the book's style (:data:`RC`)."""
    with mpl.rc_context(RC):
        yield


def apply() -> None:
    """Set the book's style for every later figure (e.g. in a notebook's first cell)."""
    mpl.rcParams.update(RC)


def new_figure(
    n_rows: int = 1, n_cols: int = 1, *, height: float | None = None, **subplots: Any
) -> tuple[plt.Figure, np.ndarray]:
    """A page-wide figure with ``(n_rows, n_cols)`` axes (always a 2-D array), laid out by
    Matplotlib's constrained layout; ``height`` in inches (default: :data:`PANEL_HEIGHT_IN`
    per row). Call it inside :func:`book_style`."""
    height = PANEL_HEIGHT_IN * n_rows if height is None else height
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(PAGE_WIDTH_IN, height), layout="constrained", squeeze=False, **subplots
    )
    return fig, axes


def single_axes(ax: plt.Axes | None, height: float = PANEL_HEIGHT_IN) -> plt.Axes:
    """``ax``, or the axes of a new page-wide figure ``height`` inches high."""
    if ax is not None:
        return ax
    return new_figure(height=height)[1][0, 0]


def label_bars(ax: plt.Axes, bars: Any, labels: Sequence[str], **text: Any) -> None:
    """Write ``labels`` at the end of ``bars`` (a bar container), in the figure's font size."""
    ax.bar_label(bars, labels=list(labels), padding=3, fontsize=FONT_SIZE_PT, **text)


def legend_below(fig: plt.Figure, handles: Sequence[Any], labels: Sequence[str], n_cols: int = 2) -> Any:
    """One legend for the whole figure, under its panels."""
    return fig.legend(handles, labels, loc="outside lower center", ncols=n_cols)


def thousands(axis: Any) -> None:
    """Write an axis' tick values compactly: ``1,500`` below ten thousand, ``250k`` above;
    at most six ticks."""
    axis.set_major_locator(mticker.MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
    axis.set_major_formatter(
        mticker.FuncFormatter(
            lambda value, _: f"{value / 1000:,.0f}k" if abs(value) >= 10_000 else f"{value:,.0f}"
        )
    )


def legend_above(ax: plt.Axes, title: str | None = None, n_cols: int = 1) -> None:
    """The axes' legend just above it, out of the data's way, and ``title`` above the legend."""
    legend = ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=n_cols)
    if title:
        n_rows = -(-len(legend.get_texts()) // n_cols)
        ax.set_title(title, pad=n_rows * LEGEND_ROW_PT + FONT_SIZE_PT)


def symmetric_limit(values: np.ndarray) -> float:
    """The largest ``|value|`` (``nan`` ignored), or 1 when there is none: the half-range of a
    scale centred on zero."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    return float(np.abs(finite).max()) if finite.size and np.abs(finite).max() > 0 else 1.0
