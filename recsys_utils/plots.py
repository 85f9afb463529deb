"""The book's figures. Each function draws on a new or given Matplotlib axes and returns it."""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from recsys_utils.features import genre_matrix
from recsys_utils.genres import REPORT_GENRES


def _axes(ax: plt.Axes | None, size: tuple[float, float] = (7, 3.5)) -> plt.Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=size, layout="constrained")
    return ax


def ratings_per_user(ratings: pd.DataFrame, ax: plt.Axes | None = None,
                     mark_user: int | None = None) -> plt.Axes:
    """Histogram of the number of ratings per user (log-spaced bins)."""
    ax = _axes(ax)
    counts = ratings.groupby("user_id").size()
    bins = np.logspace(np.log10(max(counts.min(), 1)), np.log10(counts.max()), 40)
    ax.hist(counts, bins=bins, color="tab:blue", alpha=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("ratings per user (log scale)")
    ax.set_ylabel("users")
    if mark_user is not None and mark_user in counts.index:
        ax.axvline(counts[mark_user], color="tab:red", ls="--", label=f"user {mark_user}: {counts[mark_user]}")
        ax.legend()
    return ax


def ratings_per_genre(data_ratings: pd.DataFrame, movies: pd.DataFrame,
                      genres: Sequence[str] = REPORT_GENRES, like_threshold: int = 4,
                      ax: plt.Axes | None = None) -> plt.Axes:
    """Ratings per genre attribute (a movie counts once for each of its genres), split by like."""
    ax = _axes(ax, (8, 3.8))
    table = like_share_by_genre(data_ratings, movies, genres, like_threshold)
    ax.bar(table.index, table["likes"], label="liked (rating >= %d)" % like_threshold, color="tab:green")
    ax.bar(table.index, table["ratings"] - table["likes"], bottom=table["likes"], label="not liked",
           color="tab:gray")
    ax.set_ylabel("ratings")
    ax.tick_params(axis="x", rotation=60)
    ax.legend()
    return ax


def like_share_by_genre(ratings: pd.DataFrame, movies: pd.DataFrame,
                        genres: Sequence[str] = REPORT_GENRES, like_threshold: int = 4) -> pd.DataFrame:
    """Per genre attribute: movies, ratings, likes and like share, in attribute order."""
    g = genre_matrix(movies, genres)
    per_movie = ratings.groupby("movie_id")["rating"].agg(
        ratings="size", likes=lambda r: int((r >= like_threshold).sum()))
    per_movie = per_movie.reindex(g.index, fill_value=0)
    flags = g.T.to_numpy(np.int64)  # (n_genres, n_movies); int64 so that the sums cannot overflow
    out = pd.DataFrame({
        "movies": flags.sum(axis=1),
        "ratings": flags @ per_movie["ratings"].to_numpy(np.int64),
        "likes": flags @ per_movie["likes"].to_numpy(np.int64),
    }, index=list(genres))
    out["like_share"] = out["likes"] / out["ratings"].where(out["ratings"] > 0)
    out.index.name = "attribute"
    return out


def rating_distribution(ratings: pd.DataFrame, ax: plt.Axes | None = None,
                        like_threshold: int = 4) -> plt.Axes:
    """Bar chart of the share of each star rating, likes in green."""
    ax = _axes(ax, (5, 3))
    share = ratings["rating"].value_counts(normalize=True).sort_index()
    colors = ["tab:green" if r >= like_threshold else "tab:gray" for r in share.index]
    ax.bar(share.index.astype(str), share.to_numpy(), color=colors)
    ax.set_xlabel("rating (green: a like)")
    ax.set_ylabel("share of ratings")
    return ax


def training_curves(histories: Mapping[str, Mapping[str, Sequence[float]]],
                    keys: Sequence[str] = ("loss", "accuracy"), axes: Sequence[plt.Axes] | None = None,
                    ) -> Sequence[plt.Axes]:
    """One panel per key (e.g. loss, accuracy), one line per model, x = epoch (1-based)."""
    if axes is None:
        _, axes = plt.subplots(1, len(keys), figsize=(4.5 * len(keys), 3.2), layout="constrained",
                               squeeze=False)
        axes = axes[0]
    for ax, key in zip(axes, keys):
        for name, hist in histories.items():
            if key in hist:
                values = np.asarray(hist[key])
                ax.plot(np.arange(1, len(values) + 1), values, label=name)
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.legend()
    return axes


def curve_with_reference(values: Sequence[float], reference: Sequence[float] | None = None, *,
                         label: str, reference_label: str = "report (printed)",
                         ylabel: str = "", ax: plt.Axes | None = None, logy: bool = False) -> plt.Axes:
    """A per-epoch curve, with the report's printed values as markers where it printed them."""
    ax = _axes(ax, (6, 3.2))
    values = np.asarray(values)
    ax.plot(np.arange(1, len(values) + 1), values, label=label)
    if reference is not None:
        ref = np.asarray(reference)
        ax.plot(np.arange(1, len(ref) + 1), ref, "o", ms=4, color="tab:red", label=reference_label)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.legend()
    return ax


def metric_distributions(means: Mapping[str, pd.DataFrame], *,
                         labels: Mapping[str, str] | None = None,
                         size: tuple[float, float] = (12, 3.6)) -> plt.Figure:
    """One panel per metric: the empirical CDF over users of each model's seed-averaged value.

    ``means`` maps a metric name to a ``(n_users, n_models)`` frame (e.g.
    :func:`recsys_utils.population.per_user_means`); ``NaN``s (undefined AUC) are left out.
    A curve further right is better; a vertical jump is many users with one value.
    """
    labels = labels or {}
    fig, axes = plt.subplots(1, len(means), figsize=size, squeeze=False)
    for ax, (metric, frame) in zip(axes[0], means.items()):
        for model in frame.columns:
            values = np.sort(frame[model].dropna().to_numpy())
            if not len(values):
                continue
            ax.step(values, np.arange(1, len(values) + 1) / len(values), where="post",
                    label=labels.get(model, model))
        ax.set_xlabel(f"held-out {metric.replace('_', ' ')} (mean over seeds)")
        ax.set_ylabel("share of users at or below")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def paired_differences(diffs: Mapping[str, np.ndarray], *, xlabel: str,
                       ax: plt.Axes | None = None) -> plt.Axes:
    """Histogram of per-user differences ``a - b`` for each named pair, with 0 marked."""
    ax = _axes(ax)
    finite = [np.asarray(d, dtype=float)[np.isfinite(d)] for d in diffs.values()]
    edges = np.histogram_bin_edges(np.concatenate(finite) if finite else [0.0], bins=41)
    for (name, _), values in zip(diffs.items(), finite):
        ax.hist(values, bins=edges, histtype="step", linewidth=1.5,
                label=f"{name} (mean {values.mean():+.3f})")
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("users")
    ax.legend(fontsize=8)
    return ax


def difference_by_group(groups: Mapping[str, pd.DataFrame], *, ylabel: str,
                        size: tuple[float, float] = (11, 3.4)) -> plt.Figure:
    """One panel per grouping (e.g. by number of ratings, by like rate): the mean per-user
    difference in each group (bars) and the share of users where each model wins (lines).

    Each frame is :func:`recsys_utils.population.wins_by` output.
    """
    fig, axes = plt.subplots(1, len(groups), figsize=size, squeeze=False)
    for ax, (title, frame) in zip(axes[0], groups.items()):
        x = np.arange(len(frame))
        ax.bar(x, frame["mean_diff"], color="tab:blue", alpha=0.7, label="mean difference")
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xticks(x, [str(i) for i in frame.index], rotation=20, fontsize=8)
        ax.set_xlabel(title)
        ax.set_ylabel(ylabel)
        twin = ax.twinx()
        for col, style in zip([c for c in frame.columns if c.endswith("_wins")], ("-o", "--s")):
            twin.plot(x, frame[col], style, color="tab:red" if style == "-o" else "tab:gray",
                      label=f"share of users: {col.replace('_', ' ')}")
        twin.set_ylim(0, 1)
        twin.set_ylabel("share of users")
        handles = ax.get_legend_handles_labels()
        twin_handles = twin.get_legend_handles_labels()
        ax.legend(handles[0] + twin_handles[0], handles[1] + twin_handles[1], fontsize=7,
                  loc="upper left")
    fig.tight_layout()
    return fig


def ranking_bars(summary: pd.DataFrame, metric: str = "precision", *,
                 ax: plt.Axes | None = None) -> plt.Axes:
    """A bar per model of ``summary`` (rows: models; columns ``metric``, ``metric_min``,
    ``metric_max``, e.g. :func:`recsys_utils.ranking.compare_rankings`), with the tie bounds
    drawn as an interval where the model's scores tie."""
    ax = _axes(ax)
    x = np.arange(len(summary))
    mid = summary[metric].to_numpy(float)
    ax.bar(x, mid, color="tab:blue", alpha=0.75, label=f"{metric} (expected over tie orders)")
    if f"{metric}_min" in summary and f"{metric}_max" in summary:
        low = mid - summary[f"{metric}_min"].to_numpy(float)
        high = summary[f"{metric}_max"].to_numpy(float) - mid
        ax.errorbar(x, mid, yerr=[low, high], fmt="none", ecolor="black", capsize=4,
                    label="pessimistic .. optimistic tie order")
    ax.set_xticks(x, list(summary.index), rotation=20)
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_ylim(0, None)
    ax.legend(fontsize=8)
    return ax
