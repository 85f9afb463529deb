"""Chapters 5 and 6's figures: every user, paired differences, rankings, positions."""

from __future__ import annotations

import math
from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from recsys_utils.plots.style import (
    NOT_LIKE,
    PANEL_HEIGHT_IN,
    POSITIVE,
    REFERENCE,
    book_style,
    label_bars,
    legend_above,
    legend_below,
    new_figure,
    single_axes,
)

#: Axis names of the metrics, with their scale.
METRIC_LABELS: dict[str, str] = {
    "accuracy": "accuracy (0-1)",
    "balanced_accuracy": "balanced accuracy (0-1)",
    "roc_auc": "ROC AUC (0-1)",
    "precision": "precision (0-1)",
    "ndcg": "NDCG (0-1)",
}
#: Bins of the histogram of paired differences.
DIFFERENCE_BINS: int = 41
#: Panels per row of :func:`metric_distributions`.
DISTRIBUTION_COLUMNS: int = 2


def metric_label(metric: str) -> str:
    """The axis name of ``metric`` (its :data:`METRIC_LABELS` entry, or the name spelt out)."""
    return METRIC_LABELS.get(metric, metric.replace("_", " "))


def metric_distributions(
    means: Mapping[str, pd.DataFrame], *, labels: Mapping[str, str] | None = None, title: str | None = None
) -> plt.Figure:
    """One panel per metric: the empirical CDF over users of each model's seed-averaged value.

    ``means`` maps a metric name to a ``(n_users, n_models)`` frame (e.g.
    :func:`recsys_utils.population.per_user_means`); ``NaN``s (undefined AUC) are left out.
    A curve further right is better; a vertical jump is many users with one value. Panels
    two to a row, one legend (``labels`` renames the models) under them.
    """
    labels = labels or {}
    n_rows = math.ceil(len(means) / DISTRIBUTION_COLUMNS)
    with book_style():
        fig, axes = new_figure(n_rows, DISTRIBUTION_COLUMNS, height=PANEL_HEIGHT_IN * n_rows + 0.6)
        flat = axes.ravel()
        legend: dict[str, object] = {}
        for ax, (metric, frame) in zip(flat, means.items()):
            for model in frame.columns:
                values = np.sort(frame[model].dropna().to_numpy())
                if not len(values):
                    continue
                (line,) = ax.step(
                    values,
                    100 * np.arange(1, len(values) + 1) / len(values),
                    where="post",
                    label=labels.get(model, model),
                )
                legend.setdefault(line.get_label(), line)
            ax.set_xlabel(f"held-out {metric_label(metric)}")
            ax.set_ylabel("users at or below (%)")
            ax.set_ylim(0, 100)
            ax.grid(True)
        for ax in flat[len(means) :]:
            fig.delaxes(ax)
        legend_below(fig, list(legend.values()), list(legend), n_cols=3)
        if title:
            fig.suptitle(title)
    return fig


def paired_differences(
    diffs: Mapping[str, np.ndarray], *, xlabel: str, ax: plt.Axes | None = None, title: str | None = None
) -> plt.Figure:
    """Histogram of per-user differences ``a - b`` for each named pair, with 0 marked and each
    pair's mean in its legend entry. ``diffs``: ``{name: (n_users,)}`` (``nan`` left out)."""
    with book_style():
        ax = single_axes(ax)
        finite = [np.asarray(d, dtype=float)[np.isfinite(d)] for d in diffs.values()]
        edges = np.histogram_bin_edges(np.concatenate(finite) if finite else [0.0], bins=DIFFERENCE_BINS)
        for (name, _), values in zip(diffs.items(), finite):
            ax.hist(
                values,
                bins=edges,
                histtype="step",
                linewidth=1.8,
                label=f"{name} (mean {values.mean():+.3f})",
            )
        ax.axvline(0, color=REFERENCE, linewidth=0.8)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("users (count)")
        legend_above(ax, title)
    return ax.figure


def difference_by_group(
    groups: Mapping[str, pd.DataFrame], *, ylabel: str, title: str | None = None
) -> plt.Figure:
    """One row per grouping (e.g. by number of ratings, by like rate): on the left the mean
    per-user difference in each group (bars, value written on each), on the right the share of
    users in the group where each model wins (lines, in percent, 50 % dotted).

    Each frame is :func:`recsys_utils.population.wins_by` output (index: the groups; columns
    ``mean_diff`` and ``..._wins`` shares).
    """
    with book_style():
        fig, axes = new_figure(len(groups), 2, height=(PANEL_HEIGHT_IN + 0.3) * len(groups) + 0.5)
        legend: dict[str, object] = {}
        for (left, right), (name, frame) in zip(axes, groups.items()):
            x = np.arange(len(frame))
            ticks = [str(i) for i in frame.index]
            diff = frame["mean_diff"].to_numpy(float)
            bars = left.bar(x, diff, color=np.where(diff >= 0, POSITIVE, NOT_LIKE))
            label_bars(left, bars, [f"{v:+.3f}" for v in diff])
            left.axhline(0, color=REFERENCE, linewidth=0.8)
            lim = float(np.nanmax(np.abs(diff))) if np.isfinite(diff).any() else 1.0
            left.set_ylim(-1.3 * lim - 1e-12, 1.3 * lim + 1e-12)
            left.set_ylabel(ylabel)
            for col, marker in zip([c for c in frame.columns if c.endswith("_wins")], "os^v"):
                (line,) = right.plot(
                    x,
                    100 * frame[col].to_numpy(float),
                    marker=marker,
                    label=f"users where {col.removesuffix('_wins')} wins",
                )
                legend.setdefault(line.get_label(), line)
            right.axhline(50, color=REFERENCE, ls=":", linewidth=0.8)
            right.set_ylim(0, 100)
            right.set_ylabel("users (%)")
            for ax in (left, right):
                ax.set_xticks(x, ticks)
                ax.set_xlabel(name)
        legend_below(fig, list(legend.values()), list(legend))
        if title:
            fig.suptitle(title)
    return fig


def ranking_bars(
    summary: pd.DataFrame,
    metric: str = "precision",
    *,
    ax: plt.Axes | None = None,
    ylabel: str | None = None,
    title: str | None = None,
) -> plt.Figure:
    """A bar per model of ``summary`` (rows: models; columns ``metric``, ``metric_min``,
    ``metric_max``, e.g. :func:`recsys_utils.evaluation.ranking.compare_rankings`), its value written on
    it, with the tie bounds drawn as an interval where the model's scores tie."""
    with book_style():
        ax = single_axes(ax)
        x = np.arange(len(summary))
        mid = summary[metric].to_numpy(float)
        ax.bar(x, mid, color=POSITIVE, alpha=0.85, label="expected over tie orders")
        top = mid
        if f"{metric}_min" in summary and f"{metric}_max" in summary:
            high_values = summary[f"{metric}_max"].to_numpy(float)
            low = mid - summary[f"{metric}_min"].to_numpy(float)
            bounds = ax.errorbar(
                x,
                mid,
                yerr=[low, high_values - mid],
                fmt="none",
                ecolor=REFERENCE,
                capsize=4,
                label="worst to best tie order",
            )
            for cap in bounds.lines[1]:  # Matplotlib leaves the caps in the cycle's first colour
                cap.set_color(REFERENCE)
            top = np.fmax(mid, high_values)
        for xi, v, t in zip(x, mid, top):
            ax.annotate(
                f"{v:.3f}", (xi, t), xytext=(0, 4), textcoords="offset points", ha="center", va="bottom"
            )
        ax.set_xticks(x, [str(m) for m in summary.index], rotation=20, ha="right")
        ax.set_ylabel(ylabel or metric_label(metric))
        ax.set_ylim(0, 1.3 * float(np.nanmax(top)) if len(top) and np.nanmax(top) > 0 else 1.0)
        legend_above(ax, title)
    return ax.figure


def position_effect(
    effect: pd.DataFrame, *, ylabel: str = "mean |change in p(like)|", title: str | None = None
) -> plt.Figure:
    """One line per model: how much flipping the flag at each position of the sequence moves
    the like probability (``ylabel``: the quantity, a probability difference).

    Args:
        effect: ``(n_positions, n_models)`` indexed by the 1-based position (e.g. the mean over
            users of :func:`recsys_utils.interpret.position_sensitivity`).
    """
    with book_style():
        ax = single_axes(ax=None)
        for model in effect.columns:
            ax.plot(effect.index, effect[model].to_numpy(float), marker="o", label=str(model))
        ax.set_xticks(list(effect.index))
        ax.set_xlabel("position in the sequence (1 = read first)")
        ax.set_ylabel(ylabel)
        legend_above(ax, title, n_cols=min(len(effect.columns), 4))
    return ax.figure
