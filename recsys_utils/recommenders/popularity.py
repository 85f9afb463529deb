"""The popularity baseline (:class:`recsys_utils.models.popularity.Popularity`) as a recommender:
the same list for everyone, from the ratings it may see."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recsys_utils import report
from recsys_utils.models.popularity import DEFAULT_PRIOR_WEIGHT, Kind, Popularity
from recsys_utils.recommenders.base import Recommender, TrainingRatings

__all__ = ["PopularityRecommender"]


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
