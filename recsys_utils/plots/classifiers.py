"""Chapters 2 and 3's comparison figures: one user's accuracy under each protocol, and the
rating models' predicted ratings against the actual ones."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from recsys_utils.plots.style import (
    CYCLE,
    REFERENCE,
    book_style,
    label_bars,
    legend_above,
    legend_below,
    new_figure,
    single_axes,
)
from recsys_utils.recommenders.collaborative import RATING_LIKE_THRESHOLD

#: Horizontal spread of the dots of one model (or one star rating), in category widths.
STRIP_WIDTH: float = 0.3
#: Sideways offset between the row sets of one star in :func:`predicted_vs_actual`.
PART_OFFSET: float = 0.2
#: Markers of the row sets of :func:`predicted_vs_actual`, in order.
PART_MARKERS: tuple[str, ...] = ("o", "x", "s", "^")


def _strip(n: int, centre: float, width: float = STRIP_WIDTH) -> np.ndarray:
    """``n`` x positions spread evenly over ``width`` around ``centre`` (a strip plot)."""
    return centre + (np.linspace(-width / 2, width / 2, n) if n > 1 else np.zeros(n))


def accuracy_by_protocol(
    per_seed: pd.DataFrame, *, models: Sequence[str] | None = None, title: str | None = None
) -> plt.Figure:
    """One dot per seed: each model's accuracy (in percent) under each protocol, next to the
    majority baseline of that protocol (a dotted segment, the mean over seeds).

    Args:
        per_seed: one row per (seed, model, protocol) with columns ``model``, ``protocol``,
            ``accuracy`` and ``majority`` (the majority baseline's accuracy), both 0-1.
        models: the models to draw, in order (default: first-seen order).
    """
    protocols = list(dict.fromkeys(per_seed["protocol"]))
    models = list(models or dict.fromkeys(per_seed["model"]))
    step = STRIP_WIDTH + 0.05
    with book_style():
        ax = single_axes(None)
        for i, model in enumerate(models):
            for j, protocol in enumerate(protocols):
                values = per_seed.loc[
                    (per_seed["model"] == model) & (per_seed["protocol"] == protocol), "accuracy"
                ]
                centre = j + (i - (len(models) - 1) / 2) * step
                ax.plot(
                    _strip(len(values), centre, STRIP_WIDTH / 2),
                    100 * values.to_numpy(float),
                    "o",
                    color=CYCLE[i % len(CYCLE)],
                    alpha=0.8,
                    label=model if j == 0 else None,
                )
        base = per_seed.groupby("protocol", sort=False)["majority"].mean()
        for j, protocol in enumerate(protocols):
            ax.hlines(
                100 * base[protocol],
                j - 0.45,
                j + 0.45,
                color=REFERENCE,
                ls=":",
                label="majority baseline" if j == 0 else None,
            )
        ax.set_xticks(range(len(protocols)), protocols)
        ax.set_ylabel("accuracy (%)")
        legend_above(ax, title, n_cols=len(models) + 1)
    return ax.figure


def predicted_vs_actual(
    scores: pd.DataFrame,
    columns: Sequence[str],
    *,
    like_threshold: float = RATING_LIKE_THRESHOLD,
    rating_label: str = "actual rating (stars)",
    title: str | None = None,
) -> plt.Figure:
    """One panel per model: its predicted rating of each of a user's rows against the actual
    rating (dots spread sideways within a star, each row set beside the other), one marker per
    row set, the like threshold dotted.

    Args:
        scores: one row per rated movie with columns ``rating`` (1-5), ``part`` (e.g.
            ``"train"`` / ``"test"``) and one predicted rating (1-5 scale) per model.
        columns: the model columns to draw, one panel each.
        like_threshold: a predicted rating above it is a predicted like.
    """
    parts = list(dict.fromkeys(scores["part"]))
    with book_style():
        fig, axes = new_figure(1, len(columns), height=3.6, sharey=True)
        for ax, column in zip(axes[0], columns):
            for k, part in enumerate(parts):
                sub = scores[scores["part"] == part].sort_values(["rating", column])
                x = np.empty(len(sub))
                offset = (k - (len(parts) - 1) / 2) * PART_OFFSET
                for rating, rows in sub.groupby("rating").indices.items():
                    x[rows] = _strip(len(rows), float(rating) + offset, STRIP_WIDTH / 2)
                ax.plot(
                    x,
                    sub[column].to_numpy(float),
                    PART_MARKERS[k % len(PART_MARKERS)],
                    color=CYCLE[k % len(CYCLE)],
                    alpha=0.8,
                    label=f"{part} rows",
                )
            ax.axhline(like_threshold, color=REFERENCE, ls=":", label=f"like threshold ({like_threshold:g})")
            ax.set_xticks(range(1, 6))
            ax.set_xlabel(rating_label)
            ax.set_title(column)
        axes[0, 0].set_ylabel("predicted rating (stars)")
        handles, labels = axes[0, 0].get_legend_handles_labels()
        legend_below(fig, handles, labels, n_cols=len(labels))
        if title:
            fig.suptitle(title)
    return fig


def grouped_bars(
    values: pd.DataFrame,
    *,
    ylabel: str,
    baseline: tuple[float, str] | None = None,
    decimals: int = 1,
    ymax: float | None = None,
    title: str | None = None,
) -> plt.Figure:
    """Bars grouped by row (e.g. one group per model), one bar per column (e.g. the report's
    figure and ours under each protocol), each labelled with its value; a missing value leaves
    a gap.

    Args:
        values: ``(n_groups, n_series)``; the index names the groups, the columns the series.
        baseline: ``(value, label)``: a dotted horizontal line across the groups.
        decimals: digits of the bar labels.
    """
    n_series = values.shape[1]
    width = 0.8 / n_series
    x = np.arange(len(values))
    with book_style():
        ax = single_axes(None)
        for j, column in enumerate(values.columns):
            heights = values[column].to_numpy(float)
            bars = ax.bar(
                x + (j - (n_series - 1) / 2) * width,
                np.nan_to_num(heights),
                width,
                label=column,
                color=CYCLE[j % len(CYCLE)],
            )
            label_bars(ax, bars, ["" if np.isnan(h) else f"{h:.{decimals}f}" for h in heights], rotation=90)
        if baseline is not None:
            ax.axhline(baseline[0], color=REFERENCE, ls=":", label=baseline[1])
        ax.set_xticks(x, list(values.index))
        ax.set_ylabel(ylabel)
        top = np.nanmax(values.to_numpy(float)) if ymax is None else ymax
        ax.set_ylim(0, top * 1.25)
        legend_above(ax, title, n_cols=2)
    return ax.figure
