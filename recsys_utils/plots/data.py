"""Chapter 1's figures: what the ratings look like."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd

from recsys_utils.data.genres import REPORT_GENRES
from recsys_utils.features import LIKE_THRESHOLD, genre_matrix
from recsys_utils.plots.style import (
    LIKE,
    NOT_LIKE,
    POSITIVE,
    REFERENCE,
    book_style,
    label_bars,
    single_axes,
    thousands,
)

#: Bins of the ratings-per-user histogram (log-spaced).
RATINGS_PER_USER_BINS: int = 40
#: Ticks of a log-scaled count axis.
LOG_TICKS: tuple[int, ...] = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
#: Height of a bar chart with one bar per genre, in inches.
GENRE_CHART_HEIGHT_IN: float = 6.0


def like_share_by_genre(
    ratings: pd.DataFrame,
    movies: pd.DataFrame,
    genres: Sequence[str] = REPORT_GENRES,
    like_threshold: int = LIKE_THRESHOLD,
) -> pd.DataFrame:
    """Per genre attribute: movies, ratings, likes and like share, in attribute order.

    Args:
        ratings: a ratings frame (``movie_id``, ``rating``).
        movies: the movies frame (``movie_id``, ``genres``).

    Returns:
        ``(len(genres), 4)``: ``movies``, ``ratings`` and ``likes`` (a movie counts once for
        each of its genres) and ``like_share`` (``nan`` for a genre without ratings), indexed
        by ``attribute`` (the genre).
    """
    g = genre_matrix(movies, genres)
    per_movie = ratings.groupby("movie_id")["rating"].agg(
        ratings="size", likes=lambda r: int((r >= like_threshold).sum())
    )
    per_movie = per_movie.reindex(g.index, fill_value=0)
    flags = g.T.to_numpy(np.int64)  # (n_genres, n_movies); int64 so that the sums cannot overflow
    out = pd.DataFrame(
        {
            "movies": flags.sum(axis=1),
            "ratings": flags @ per_movie["ratings"].to_numpy(np.int64),
            "likes": flags @ per_movie["likes"].to_numpy(np.int64),
        },
        index=list(genres),
    )
    out["like_share"] = out["likes"] / out["ratings"].where(out["ratings"] > 0)
    out.index.name = "attribute"
    return out


def ratings_per_user(
    ratings: pd.DataFrame, ax: plt.Axes | None = None, mark_user: int | None = None, title: str | None = None
) -> plt.Figure:
    """Histogram of the number of ratings per user (log-spaced bins), one user marked.

    Args:
        ratings: a ratings frame (``user_id``); counted per user.
        ax: draw there instead of on a new page-wide figure.
        mark_user: a user whose count is drawn as a dashed line (with its value in the legend).
    """
    with book_style():
        ax = single_axes(ax)
        counts = ratings.groupby("user_id").size()
        low, high = max(int(counts.min()), 1), int(counts.max())
        bins = np.logspace(np.log10(low), np.log10(high), RATINGS_PER_USER_BINS)
        bins[0], bins[-1] = low, high  # exact ends: the fewest and most ratings stay counted
        ax.hist(counts, bins=bins, color=POSITIVE, alpha=0.85)
        ax.set_xscale("log")
        ax.set_xticks([t for t in LOG_TICKS if low <= t <= high] or [low, high])
        ax.xaxis.set_major_formatter(mticker.StrMethodFormatter("{x:,.0f}"))
        ax.minorticks_off()
        ax.set_xlabel("ratings per user (count, log scale)")
        ax.set_ylabel("users (count)")
        thousands(ax.yaxis)
        if mark_user is not None and mark_user in counts.index:
            ax.axvline(
                counts[mark_user],
                color=REFERENCE,
                ls="--",
                label=f"user {mark_user}: {counts[mark_user]} ratings",
            )
            ax.legend()
        if title:
            ax.set_title(title)
    return ax.figure


def rating_distribution(
    ratings: pd.DataFrame,
    ax: plt.Axes | None = None,
    like_threshold: int = LIKE_THRESHOLD,
    title: str | None = None,
) -> plt.Figure:
    """Bar chart of the share of each star rating, in percent, written on each bar; the
    ratings that count as a like in their own colour (and legend entry)."""
    with book_style():
        ax = single_axes(ax)
        share = 100 * ratings["rating"].value_counts(normalize=True).sort_index()
        liked = share.index >= like_threshold
        for mask, color, label in (
            (~liked, NOT_LIKE, f"not a like (< {like_threshold} stars)"),
            (liked, LIKE, f"a like (>= {like_threshold} stars)"),
        ):
            if mask.any():
                bars = ax.bar(share.index[mask].astype(str), share.to_numpy()[mask], color=color, label=label)
                label_bars(ax, bars, [f"{v:.0f}%" for v in share.to_numpy()[mask]])
        ax.set_xlabel("rating (stars)")
        ax.set_ylabel("share of ratings (%)")
        ax.set_ylim(0, 1.2 * float(share.max()) if len(share) else 1.0)
        ax.legend(loc="upper left")
        if title:
            ax.set_title(title)
    return ax.figure


def ratings_per_genre(
    table: pd.DataFrame,
    ax: plt.Axes | None = None,
    like_threshold: int = LIKE_THRESHOLD,
    title: str | None = None,
) -> plt.Figure:
    """Horizontal bars per genre attribute: liked and other ratings, the like share written at
    the end of each bar.

    Args:
        table: :func:`like_share_by_genre` output (columns ``ratings``, ``likes``,
            ``like_share``; one row per genre, drawn top to bottom in its order).
        like_threshold: the rating from which a movie is liked (for the legend).
    """
    with book_style():
        ax = single_axes(ax, height=GENRE_CHART_HEIGHT_IN)
        y = np.arange(len(table))[::-1]
        likes = table["likes"].to_numpy(float)
        others = table["ratings"].to_numpy(float) - likes
        ax.barh(y, likes, color=LIKE, label=f"liked (rating >= {like_threshold})")
        bars = ax.barh(y, others, left=likes, color=NOT_LIKE, label="not liked")
        label_bars(
            ax, bars, [f"{s:.0%}" if np.isfinite(s) else "" for s in table["like_share"].to_numpy(float)]
        )
        ax.set_yticks(y, [str(g) for g in table.index])
        ax.set_xlabel("ratings (count; a movie counts once per genre)")
        thousands(ax.xaxis)
        ax.set_xlim(0, 1.15 * float(table["ratings"].max()) if len(table) else 1.0)
        ax.legend(loc="lower right", title="share liked at bar end")
        if title:
            ax.set_title(title)
    return ax.figure
