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
