"""The one popularity score: how much a movie is liked by everyone, the same list for every user.

Arrays in, arrays out: :class:`Popularity` is fitted on the ``(movie_id, liked)`` pairs of the
ratings a model may see and scores any movie. Three kinds:

``"like_share"``
    ``(likes + m * p) / (ratings + m)``: the movie's share of likes, shrunk towards the
    overall like share ``p`` by ``m = prior_weight`` pseudo-ratings (10 by default), so that
    a movie with one like does not top the list. A movie without a rating scores ``p``.
``"likes"``
    the number of likes (the usual most-popular baseline for liked items); 0 when unrated.
``"ratings"``
    the number of ratings; 0 when unrated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

__all__ = ["KINDS", "DEFAULT_PRIOR_WEIGHT", "Popularity", "like_share"]

#: Kinds of :class:`Popularity`.
KINDS: tuple[str, ...] = ("like_share", "likes", "ratings")
#: Pseudo-ratings at the overall like share in ``"like_share"``.
DEFAULT_PRIOR_WEIGHT: float = 10.0

Kind = Literal["like_share", "likes", "ratings"]


def like_share(
    likes: np.ndarray | pd.Series,
    ratings: np.ndarray | pd.Series,
    prior: float,
    prior_weight: float = DEFAULT_PRIOR_WEIGHT,
) -> np.ndarray | pd.Series:
    """The shrunk like share ``(likes + prior_weight * prior) / (ratings + prior_weight)``,
    elementwise over ``(n,)`` counts."""
    return (likes + prior_weight * prior) / (ratings + prior_weight)


class Popularity:
    """A movie's popularity among the ratings it was fitted on (module docstring).

    :meth:`fit` sets the attributes below.

    Attributes:
        scores_: ``pd.Series`` of float64 scores indexed by movie id: the rated movies
            (ascending), or ``universe`` in its order when given.
        prior_: the overall like share ``p`` of the fitted ratings.
    """

    def __init__(self, kind: Kind = "like_share", *, prior_weight: float = DEFAULT_PRIOR_WEIGHT) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if prior_weight < 0:
            raise ValueError(f"prior_weight must be non-negative, got {prior_weight!r}")
        self.kind, self.prior_weight = kind, float(prior_weight)
        self.scores_: pd.Series | None = None
        self.prior_: float | None = None

    def fit(
        self,
        movie_ids: np.ndarray | Sequence[int],
        liked: np.ndarray | Sequence[bool],
        *,
        universe: np.ndarray | Sequence[int] | None = None,
    ) -> Popularity:
        """Count each movie's ratings and likes.

        Args:
            movie_ids: ``(n,)`` the movie of each visible rating.
            liked: ``(n,)`` whether that rating is a like (0/1 or bool).
            universe: ``(n_movies,)`` movies to score, in order (unrated ones get zero counts);
                default the rated movies, ascending.
        """
        movie_ids = np.asarray(movie_ids)
        like = pd.Series(np.asarray(liked, dtype=np.float64), index=movie_ids)
        if like.shape[0] != movie_ids.shape[0]:
            raise ValueError(
                f"movie_ids and liked must have one length, got {movie_ids.shape} and {np.shape(liked)}"
            )
        self.prior_ = float(like.mean()) if len(like) else 0.0
        stats = like.groupby(level=0).agg(["sum", "count"])
        if universe is not None:
            stats = stats.reindex(np.asarray(universe), fill_value=0)
        if self.kind == "likes":
            self.scores_ = stats["sum"].astype(np.float64)
        elif self.kind == "ratings":
            self.scores_ = stats["count"].astype(np.float64)
        else:
            self.scores_ = like_share(stats["sum"], stats["count"], self.prior_, self.prior_weight)
        return self

    @property
    def unrated_score(self) -> float:
        """The score of a movie outside the fitted ones: ``p`` for ``"like_share"``, else 0."""
        return float(self.prior_) if self.kind == "like_share" else 0.0

    def score(self, movie_ids: np.ndarray | Sequence[int]) -> np.ndarray:
        """``(n,)`` float64 scores of ``movie_ids`` (:attr:`unrated_score` for movies not fitted)."""
        if self.scores_ is None:
            raise RuntimeError("Popularity.fit() must be called before scoring")
        return self.scores_.reindex(np.asarray(movie_ids)).fillna(self.unrated_score).to_numpy(np.float64)
