"""The popularity baselines (:class:`recsys_utils.models.popularity.Popularity`) as recommenders.

- :class:`PopularityRecommender`: the classic one, the same list of *movies* for everyone, from
  the ratings it may see (movie identities);
- :class:`GenrePopularityRecommender`: popularity of a movie's *genre pattern* among training
  rows seen as the per-user genre networks see them (18 flags and a like/dislike label).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from recsys_utils import report
from recsys_utils.data.genres import REPORT_GENRES
from recsys_utils.features import genre_matrix
from recsys_utils.models.popularity import DEFAULT_PRIOR_WEIGHT, Kind, Popularity, like_share
from recsys_utils.recommenders.base import Recommender, TrainingRatings

if TYPE_CHECKING:  # pragma: no cover
    from recsys_utils.data import MovieLens

__all__ = ["GENRE_SCOPES", "GenrePopularityRecommender", "PopularityRecommender"]


class PopularityRecommender(Recommender):
    """Popularity of ``kind`` (``"like_share"`` by default: a movie's share of likes among the
    ratings it may see, shrunk towards the overall share by ``prior_weight`` pseudo-ratings;
    ``"likes"``, ``"ratings"``: counts; see :mod:`recsys_utils.models.popularity`).

    Per user: every visible rating (the user's held-out ones hidden), likes at
    ``like_rating``; a movie no one rated scores the prior (like share) or 0 (counts).
    Fitted once: every user's training ratings of the split, likes at
    ``split.like_threshold``, scored over ``split.movie_ids`` (unrated: zero counts).
    """

    name = "popularity"

    def __init__(
        self,
        kind: Kind = "like_share",
        *,
        prior_weight: float = DEFAULT_PRIOR_WEIGHT,
        like_rating: int = report.LIKE_RATING,
    ) -> None:
        super().__init__()
        self.model = Popularity(kind, prior_weight=prior_weight)
        self.kind, self.prior_weight, self.like_rating = kind, prior_weight, like_rating

    def _fit_user(self) -> None:
        r = self.visible_ratings()
        self.model.fit(r["movie_id"].to_numpy(), r["rating"].to_numpy() >= self.like_rating)

    def _fit_split(self, split: TrainingRatings) -> None:
        r = split.train
        self.model.fit(
            r["movie_id"].to_numpy(), r["rating"].to_numpy() >= split.like_threshold, universe=split.movie_ids
        )

    @property
    def scores_(self):
        """``pd.Series`` of every fitted movie's score (:attr:`Popularity.scores_`)."""
        return self.model.scores_

    def score_batch(
        self, user_ids: Sequence[int] | np.ndarray, movie_ids: Sequence[int] | np.ndarray
    ) -> np.ndarray:
        self._require_fit()
        row = self.model.score(movie_ids)
        return np.tile(row, (len(np.asarray(user_ids).reshape(-1)), 1))


#: Whose training rows a :class:`GenrePopularityRecommender` counts.
GENRE_SCOPES: tuple[str, ...] = ("user", "all")


class GenrePopularityRecommender(Recommender):
    """Popularity computed from what the per-user genre networks see: each training rating as
    its movie's 18 genre flags and a like/dislike label, never the movie's identity.

    A movie's score is the :class:`Popularity` (``kind``, ``"likes"`` by default) of its
    **genre pattern** (its row of flags) among the training rows of ``scope``:

    - ``"user"``: the user's own training rows, exactly the rows the user's network trains on
      (score = how many of the user's liked training movies have this very combination of
      genres);
    - ``"all"``: every user's training rows pooled (the same for every user).

    Movies with the same flags score the same (ties, as for the networks). Fitted once on a
    split (:meth:`Recommender.fit_split`); ``data`` gives each movie's genres.
    """

    def __init__(
        self,
        data: MovieLens,
        scope: str = "user",
        kind: Kind = "likes",
        *,
        prior_weight: float = DEFAULT_PRIOR_WEIGHT,
        genres: Sequence[str] = REPORT_GENRES,
    ) -> None:
        super().__init__()
        if scope not in GENRE_SCOPES:
            raise ValueError(f"scope must be one of {GENRE_SCOPES}, got {scope!r}")
        self.scope, self.kind, self.prior_weight = scope, kind, prior_weight
        self.name = f"genre popularity ({'own rows' if scope == 'user' else 'all rows'})"
        flags = genre_matrix(data.movies, genres).to_numpy(np.uint8)
        _, pattern = np.unique(flags, axis=0, return_inverse=True)
        self._pattern = pd.Series(pattern.reshape(-1), index=data.movies["movie_id"].to_numpy())
        self.n_patterns = int(pattern.max()) + 1 if len(pattern) else 0
        self._scores: np.ndarray | None = None  # (n_rows, n_patterns)
        self._row: dict[int, int] = {}

    def _fit_split(self, split: TrainingRatings) -> None:
        train = split.train
        patterns = self._pattern.loc[train["movie_id"].to_numpy()].to_numpy()
        liked = train["rating"].to_numpy() >= split.like_threshold
        universe = np.arange(self.n_patterns)
        if self.scope == "all":
            model = Popularity(self.kind, prior_weight=self.prior_weight).fit(
                patterns, liked, universe=universe
            )
            self._scores = model.score(universe)[None, :]
            self._row = {int(u): 0 for u in split.user_ids}
            return
        users = train["user_id"].to_numpy()
        self._row = {int(u): i for i, u in enumerate(split.user_ids)}
        rows = pd.Index(split.user_ids).get_indexer(users)
        shape = (len(split.user_ids), self.n_patterns)
        likes, counts = np.zeros(shape), np.zeros(shape)
        np.add.at(likes, (rows, patterns), liked.astype(np.float64))
        np.add.at(counts, (rows, patterns), 1.0)
        if self.kind == "likes":
            self._scores = likes
        elif self.kind == "ratings":
            self._scores = counts
        else:  # each user's own like share as the prior, as Popularity.fit on their rows
            prior = likes.sum(axis=1, keepdims=True) / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
            self._scores = like_share(likes, counts, prior, self.prior_weight)

    def score_batch(
        self, user_ids: Sequence[int] | np.ndarray, movie_ids: Sequence[int] | np.ndarray
    ) -> np.ndarray:
        self._require_fit()
        try:
            rows = [self._row[int(u)] for u in np.asarray(user_ids).reshape(-1)]
        except KeyError as err:
            raise KeyError(f"user {err.args[0]} is not in the split this model was fitted on") from None
        cols = self._pattern.reindex(np.asarray(movie_ids)).to_numpy()
        if np.isnan(cols).any():
            raise KeyError("movies without genres in movies.dat were asked for")
        return self._scores[np.asarray(rows)[:, None], cols.astype(np.int64)[None, :]]
