"""Chapter 7's figures: occlusion, gates, memory along the sequence, cold start.

Each takes a result of :mod:`recsys_utils.interpret` and only aggregates it (means over rows,
users or seeds) to draw it. Probability differences are drawn in percentage points (pp).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from recsys_utils.data.genres import REPORT_GENRES
from recsys_utils.interpret.gates import GATES, GateTrace
from recsys_utils.interpret.occlusion import Occlusion
from recsys_utils.plots.population import metric_label
from recsys_utils.plots.style import (
    DIVERGING_CMAP,
    MISSING,
    NEGATIVE,
    PAGE_WIDTH_IN,
    POSITIVE,
    REFERENCE,
    SEQUENTIAL_CMAP,
    book_style,
    legend_below,
    new_figure,
    single_axes,
    symmetric_limit,
)

#: Probability differences are drawn in percentage points.
PERCENTAGE_POINTS: float = 100.0
#: Height of a chart with one row per genre, and of an 18 x 18 heatmap, in inches.
GENRE_CHART_HEIGHT_IN: float = 6.0
#: Height per rated movie of the occlusion heatmap, and its bounds, in inches.
OCCLUSION_ROW_IN: float = 0.1
OCCLUSION_HEIGHT_IN: tuple[float, float] = (4.5, 9.0)
#: Panels per row of the gate heatmaps.
GATE_COLUMNS: int = 3
#: Positions labelled on the axes of the gate heatmaps (1-based).
LABELLED_POSITIONS: tuple[int, ...] = (1, 6, 12, 18)


def _diverging(name: str = DIVERGING_CMAP) -> plt.Colormap:
    return plt.get_cmap(name).with_extremes(bad=MISSING)


def _heatmap(
    ax: plt.Axes, values: np.ndarray, cmap: Any, vmin: float | None = None, vmax: float | None = None
) -> Any:
    """Cells of ``values`` ``(n_rows, n_cols)`` as vector patches (not an embedded bitmap, so
    the figure stays plain SVG), row 0 at the top, invalid or masked cells in the colour map's
    "bad" colour."""
    cmap = plt.get_cmap(cmap) if isinstance(cmap, str) else cmap
    values = np.ma.masked_invalid(values)
    n_rows, n_cols = values.shape
    mesh = ax.pcolormesh(
        np.arange(n_cols + 1) - 0.5,
        np.arange(n_rows + 1) - 0.5,
        values,
        cmap=cmap,
        vmin=vmin,
        vmax=vmax,
        shading="flat",
    )
    ax.set_facecolor(cmap.get_bad())
    ax.set_xlim(-0.5, n_cols - 0.5)
    ax.set_ylim(n_rows - 0.5, -0.5)
    return mesh


def plot_genre_attributions(table: pd.DataFrame, title: str | None = None) -> plt.Figure:
    """Per genre, side by side: what the model does and what the data say.

    Left: the mean change of the like probability when the genre is removed from the movies
    that have it (``removal_mean``); right: the genre's like share minus the user's overall one
    (``like_share_vs_all``); both in percentage points, blue above zero and red below. Genres
    the user never rated (their row count is in the tick label) get no bar.

    Args:
        table: :func:`recsys_utils.interpret.genre_attributions` output.
    """
    y = np.arange(len(table))[::-1]
    columns = (
        ("removal_mean", "model: removing the genre", "change in p(like) (pp)"),
        ("like_share_vs_all", "data: like share vs all", "difference (pp)"),
    )
    with book_style():
        fig, axes = new_figure(1, 2, height=GENRE_CHART_HEIGHT_IN, sharey=True)
        for ax, (column, panel_title, xlabel) in zip(axes[0], columns):
            values = PERCENTAGE_POINTS * table[column].to_numpy(float)
            ax.barh(y, np.nan_to_num(values), color=np.where(values >= 0, POSITIVE, NEGATIVE))
            ax.axvline(0, color=REFERENCE, lw=0.8)
            lim = symmetric_limit(values)
            ax.set_xlim(-1.1 * lim, 1.1 * lim)
            ax.set_title(panel_title)
            ax.set_xlabel(xlabel)
        axes[0, 0].set_yticks(y, [f"{g} ({n})" for g, n in zip(table.index, table["rows"])])
        axes[0, 0].set_ylabel("genre (rated movies)")
        if title:
            fig.suptitle(title)
    return fig


def plot_occlusion_heatmap(occ: Occlusion, title: str | None = None) -> plt.Figure:
    """Heatmap rated movies (rows) x genres of the change in the like probability when the
    genre is removed, in percentage points; grey where the movie lacks the genre."""
    values = PERCENTAGE_POINTS * occ.removal
    low, high = OCCLUSION_HEIGHT_IN
    height = min(max(low, OCCLUSION_ROW_IN * len(occ.base) + 2.5), high)
    with book_style():
        ax = single_axes(None, height=height)
        lim = symmetric_limit(values)
        im = _heatmap(ax, values, _diverging(), -lim, lim)
        ax.set_xticks(np.arange(len(occ.attributes)), occ.attributes, rotation=90)
        ax.set_ylabel("rated movie (row)")
        ax.figure.colorbar(im, ax=ax, label="change in p(like) (pp)")
        if title:
            ax.set_title(title)
    return ax.figure


def plot_gate_heatmaps(
    trace: GateTrace, names: Sequence[str] = tuple(GATES), title: str | None = None
) -> plt.Figure:
    """One heatmap per gate: its mean over rows, units (rows) x positions (columns), on one
    colour scale centred on zero shared by every gate (one colour bar)."""
    means = [trace.mean_by_position(name) for name in names]
    T = trace.X.shape[1]
    n_rows = math.ceil(len(names) / GATE_COLUMNS)
    ticks = [p - 1 for p in LABELLED_POSITIONS if p <= T]
    with book_style():
        fig, axes = new_figure(n_rows, GATE_COLUMNS, height=2.9 * n_rows + 0.4, sharex=True, sharey=True)
        lim = max(symmetric_limit(m) for m in means) if means else 1.0
        im = None
        for ax, name, m in zip(axes.ravel(), names, means):
            im = _heatmap(ax, m, _diverging(), -lim, lim)
            ax.set_title(GATES[name])
            ax.set_xticks(ticks, [str(t + 1) for t in ticks])
            ax.set_yticks(ticks, [str(t + 1) for t in ticks])
        for i, ax in enumerate(axes.ravel()[len(names) :], start=len(names)):
            fig.delaxes(ax)
            axes.ravel()[i - GATE_COLUMNS].xaxis.set_tick_params(labelbottom=True)
        for ax in axes[:, 0]:
            ax.set_ylabel("unit")
        fig.supxlabel("position in the sequence (genre read, report's order)")
        if im is not None:
            fig.colorbar(im, ax=axes.ravel().tolist(), label="mean activation", shrink=0.8)
        if title:
            fig.suptitle(title)
    return fig


def plot_memory_profile(
    profile: np.ndarray, attributes: Sequence[str] = REPORT_GENRES, title: str | None = None
) -> plt.Figure:
    """Heatmap: flipped position (rows) x step (columns) of the mean ``|change of h_t|``
    (a :func:`recsys_utils.interpret.memory_profile`); grey before the flag is read."""
    T = profile.shape[0]
    with book_style():
        ax = single_axes(None, height=PAGE_WIDTH_IN - 0.5)
        cmap = plt.get_cmap(SEQUENTIAL_CMAP).with_extremes(bad=MISSING)
        masked = np.ma.masked_where(np.tri(T, k=-1, dtype=bool), profile)
        im = _heatmap(ax, masked, cmap)
        ax.set_xticks(np.arange(T), list(attributes), rotation=90)
        ax.set_yticks(np.arange(T), list(attributes))
        ax.set_xlabel("step t (genre read)")
        ax.set_ylabel("flag flipped at position s")
        ax.figure.colorbar(im, ax=ax, label="mean |h_t(flipped) - h_t|")
        if title:
            ax.set_title(title)
    return ax.figure


def plot_decay_by_distance(decay: pd.Series | pd.DataFrame, title: str | None = None) -> plt.Figure:
    """The share of a flag's immediate effect on ``h`` left ``d`` steps later, log scale.

    Args:
        decay: a :func:`recsys_utils.interpret.decay_by_distance` series (index: steps later),
            or a frame of them, one column per curve (e.g. per user or quartile).
    """
    frame = decay.to_frame() if isinstance(decay, pd.Series) else decay
    with book_style():
        ax = single_axes(None)
        for column in frame.columns:
            ax.plot(frame.index, 100 * frame[column].to_numpy(float), marker="o", label=str(column))
        ax.set_yscale("log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("steps after the flipped flag")
        ax.set_ylabel("effect on h left (%, log scale)")
        if len(frame.columns) > 1:
            ax.legend()
        if title:
            ax.set_title(title)
    return ax.figure


def plot_attribution_by_order(table: pd.DataFrame, title: str | None = None) -> plt.Figure:
    """Two panels, one above the other: the mean over users of ``mean_abs_effect`` by position
    and by genre, one line per order (a :func:`recsys_utils.interpret.attribution_by_order`
    table). Lines that coincide in the genre panel and differ in the position panel say the
    effect belongs to the genre."""
    with book_style():
        fig, axes = new_figure(2, 1, height=7.0)
        ax1, ax2 = axes[:, 0]
        for name in dict.fromkeys(table["order"]):
            sub = table[table["order"] == name]
            by_pos = sub.groupby("position")["mean_abs_effect"].mean()
            ax1.plot(by_pos.index, by_pos.to_numpy(), marker="o", label=str(name))
            by_genre = sub.groupby("genre")["mean_abs_effect"].mean().reindex(list(REPORT_GENRES))
            ax2.plot(np.arange(len(by_genre)), by_genre.to_numpy(), marker="o", label=str(name))
        ax1.set_xticks(np.arange(1, len(REPORT_GENRES) + 1))
        ax1.set_xlabel("position in the sequence (1 = read first)")
        ax2.set_xticks(np.arange(len(REPORT_GENRES)), REPORT_GENRES, rotation=60, ha="right")
        ax2.set_xlabel("genre (report's order)")
        for ax in (ax1, ax2):
            ax.set_ylabel("mean |change in p(like)|")
            ax.set_yscale("log")
        ax1.legend(title="attribute order")
        if title:
            fig.suptitle(title)
    return fig


def plot_cold_start(
    results: pd.DataFrame, metrics: Sequence[str] = ("accuracy", "roc_auc"), title: str | None = None
) -> plt.Figure:
    """One panel per metric: the mean over users vs k, one line per model (+/- 1 standard
    error of the mean as a band; the fallback rule dashed); one legend under the panels.

    Args:
        results: a :func:`recsys_utils.interpret.cold_start_experiment` table (with
            :func:`recsys_utils.interpret.apply_fallback` rows or not).
    """
    ks = sorted(results["k"].unique())
    models = list(dict.fromkeys(results["model"]))
    with book_style():
        fig, axes = new_figure(1, len(metrics), height=4.0)
        for ax, metric in zip(axes[0], metrics):
            for model in models:
                sub = results[results["model"] == model].groupby("k")[metric]
                mean, sem = sub.mean(), sub.sem()
                style = "--" if model.startswith("fallback") else "-"
                (line,) = ax.plot(mean.index, mean.to_numpy(), style, marker="o", label=model)
                ax.fill_between(mean.index, mean - sem, mean + sem, color=line.get_color(), alpha=0.15)
            ax.set_xscale("log", base=2)
            ax.set_xticks(ks, [str(k) for k in ks])
            ax.minorticks_off()
            ax.set_ylabel(f"held-out {metric_label(metric)}")
            ax.set_xlabel("k: user's ratings trained on")
        handles, labels = axes[0, 0].get_legend_handles_labels()
        legend_below(fig, handles, labels)
        if title:
            fig.suptitle(title)
    return fig
