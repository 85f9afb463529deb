"""The one adapter: an estimator of ``recsys_utils.models`` behind fit / score / recommend.

A :class:`Recommender` is fitted in one of two ways:

**per user** (:meth:`Recommender.fit`), as in the report (section 4.1: "each model is designed
for an individual user"): ``fit(data, user_id, heldout_movie_ids=())`` trains for one user,
hiding that user's ratings of the held-out movies from everything the model sees (their own
rows and, for the collaborative models, the rating matrix). ``score(movie_ids)`` then scores
that user.

**fitted once** (:meth:`Recommender.fit_split`) on every user's training ratings of a split
(:class:`TrainingRatings`, e.g. :class:`recsys_utils.evaluation.splits.RankingSplit`), then scores
any of its users: ``score(movie_ids, user_id=u)``, or ``model(u, movie_ids)``, which plugs
into :func:`recsys_utils.evaluation.ranking.evaluate_ranking`.

Either way the one scoring primitive is :meth:`Recommender.score_batch` ``(user_ids (u,),
movie_ids (m,)) -> (u, m)`` float64, higher is better, ``NaN`` where the model cannot score a
movie. A score ``> like_threshold`` predicts a like (:func:`recsys_utils.evaluation.metrics.predict_like`):
0.5 for the classifiers; 0.7 of the rating/5 scale, i.e. 3.5 stars, for the RBM and the
autoencoder.

Genre-only models give movies with the same genres the same score: :meth:`Recommender.recommend`
breaks such ties by movie id and reports how many candidates share each listed score.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from recsys_utils.data import MovieLens

__all__ = ["DEFAULT_LIKE_THRESHOLD", "Recommender", "TrainingRatings", "rank_table"]

#: A score above this predicts a like, for models whose score is a like probability.
DEFAULT_LIKE_THRESHOLD: float = 0.5


class TrainingRatings(Protocol):
    """Every user's training ratings, what a fitted-once model may see.

    :class:`recsys_utils.evaluation.splits.RankingSplit` is one.

    Attributes:
        train: ratings rows (``user_id``, ``movie_id``, ``rating``) the model may see.
        user_ids: ``(n_users,)`` the users to fit (rows), ascending.
        movie_ids: ``(n_movies,)`` every candidate movie (columns).
        like_threshold: a rating at or above this is a like.
        rated_movie_ids: ``(n_rated,)`` movies rated by anyone, ascending.
    """

    train: pd.DataFrame
    user_ids: np.ndarray
    movie_ids: np.ndarray
    like_threshold: int

    @property
    def rated_movie_ids(self) -> np.ndarray: ...  # pragma: no cover


def rank_table(movie_ids: np.ndarray, scores: np.ndarray, top: int) -> pd.DataFrame:
    """The ``top`` best of ``movie_ids (n,)`` by ``scores (n,)`` (ties by movie id, ``NaN``
    dropped): columns ``rank``, ``movie_id``, ``score``, ``tied`` (how many candidates have
    exactly this score)."""
    if top < 1:
        raise ValueError(f"top must be at least 1, got {top}")
    table = pd.DataFrame({"movie_id": np.asarray(movie_ids), "score": np.asarray(scores)})
    table = table.dropna(subset=["score"])
    table["tied"] = table.groupby("score")["movie_id"].transform("size")
    table = table.sort_values(["score", "movie_id"], ascending=[False, True]).head(top)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table.reset_index(drop=True)


class Recommender:
    """Base of every adapter (module docstring). Subclasses implement :meth:`_fit_user` and/or
    :meth:`_fit_split`, and :meth:`score_batch`.

    Attributes:
        name: the model's canonical name (:mod:`recsys_utils.recommenders.registry`).
        like_threshold: a score above it predicts a like.
        fit_time_s, epoch_times_s, history: of the last fit.
    """

    name: str = "recommender"
    like_threshold: float = DEFAULT_LIKE_THRESHOLD

    def __init__(self) -> None:
        self.data: MovieLens | None = None
        self.user_id: int | None = None
        self.heldout_movie_ids: np.ndarray = np.empty(0, dtype=np.int32)
        self.split: TrainingRatings | None = None
        self.fit_time_s: float | None = None
        self.epoch_times_s: list[float] = []
        self.history: dict[str, list[float]] = {}

    # ------------------------------------------------------------------ per user
    def fit(
        self, data: MovieLens, user_id: int, heldout_movie_ids: Sequence[int] | np.ndarray = ()
    ) -> Recommender:
        """Train for ``user_id`` alone, hiding their ratings of ``heldout_movie_ids``."""
        self.data, self.user_id, self.split = data, int(user_id), None
        self.heldout_movie_ids = np.asarray(heldout_movie_ids, dtype=np.int32)
        rated = data.ratings.loc[data.ratings["user_id"] == user_id, "movie_id"].to_numpy()
        unknown = np.setdiff1d(self.heldout_movie_ids, rated)
        if unknown.size:
            raise ValueError(f"held-out movies not rated by user {user_id}: {unknown[:10].tolist()}")
        self.fit_time_s, self.epoch_times_s = None, []
        start = time.perf_counter()
        self._fit_user()
        if self.fit_time_s is None or not self.epoch_times_s:
            self.fit_time_s = time.perf_counter() - start
        return self

    def _fit_user(self) -> None:
        """Train on ``self.data`` for ``self.user_id`` (held-out ratings hidden)."""
        raise NotImplementedError(f"{type(self).__name__} has no per-user protocol; use fit_split")

    def visible_ratings(self) -> pd.DataFrame:
        """Per user: every rating the model may see (all but the user's held-out ones)."""
        data = self._require_data()
        r = data.ratings
        hidden = (r["user_id"] == self.user_id) & r["movie_id"].isin(self.heldout_movie_ids)
        return r[~hidden]

    # ---------------------------------------------------------------- fitted once
    def fit_split(self, split: TrainingRatings) -> Recommender:
        """Train once on ``split.train`` (every user's training ratings); records ``fit_time_s``."""
        self.data, self.user_id, self.split = None, None, split
        self.epoch_times_s = []
        start = time.perf_counter()
        self._fit_split(split)
        self.fit_time_s = time.perf_counter() - start
        return self

    def _fit_split(self, split: TrainingRatings) -> None:
        """Train on ``split.train``."""
        raise NotImplementedError(f"{type(self).__name__} has no fitted-once protocol; use fit")

    # -------------------------------------------------------------------- scoring
    def score_batch(
        self, user_ids: Sequence[int] | np.ndarray, movie_ids: Sequence[int] | np.ndarray
    ) -> np.ndarray:
        """``(n_users, n_movies)`` float64 scores, higher is better (``NaN``: cannot score)."""
        raise NotImplementedError  # pragma: no cover

    def score(self, movie_ids: Sequence[int] | np.ndarray, user_id: int | None = None) -> np.ndarray:
        """``(n_movies,)`` scores of ``user_id`` (default: the user of a per-user fit)."""
        self._require_fit()
        if user_id is None:
            if self.user_id is None:
                raise ValueError(f"{type(self).__name__} was fitted once for many users: pass user_id")
            user_id = self.user_id
        return self.score_batch([user_id], movie_ids)[0]

    def __call__(self, user_id: int, movie_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """``score(movie_ids, user_id)``, as :func:`recsys_utils.evaluation.ranking.evaluate_ranking`
        calls a score function."""
        return self.score(movie_ids, user_id)

    def _require_fit(self) -> None:
        if self.data is None and self.split is None:
            raise RuntimeError(f"{type(self).__name__}.fit() or .fit_split() must be called before scoring")

    def _require_data(self) -> MovieLens:
        if self.data is None:
            raise RuntimeError(f"{type(self).__name__}.fit() (per user) must be called first")
        return self.data

    def _check_own_user(self, user_ids: Sequence[int] | np.ndarray) -> int:
        """For per-user-only models: the number of rows asked, all of which must be the fitted
        user's."""
        users = np.asarray(user_ids).reshape(-1)
        if self.user_id is None or (users != self.user_id).any():
            raise KeyError(
                f"{type(self).__name__} was fitted for user {self.user_id} only, "
                f"asked for {np.unique(users)[:10].tolist()}"
            )
        return len(users)

    def recommend(self, top: int = 10, user_id: int | None = None) -> pd.DataFrame:
        """The ``top`` movies the user has not rated (fitted once: has no training rating
        of), best first.

        Args:
            top: list length.
            user_id: the user; only for a model fitted once (a per-user fit has its user).

        Returns:
            Columns ``rank``, ``movie_id``, ``title``, ``genres`` (per user only), ``score``,
            and ``tied`` (how many candidates have exactly this score: genre-only models tie
            a lot).
        """
        if top < 1:
            raise ValueError(f"top must be at least 1, got {top}")
        if self.split is not None:
            if user_id is None:
                raise ValueError(f"{type(self).__name__} was fitted once for many users: pass user_id")
            train = self.split.train
            seen = train.loc[train["user_id"] == user_id, "movie_id"].to_numpy()
            candidates = self.split.movie_ids[~np.isin(self.split.movie_ids, seen)]
            return rank_table(candidates, self.score(candidates, user_id), top)
        data = self._require_data()
        if user_id is not None and user_id != self.user_id:
            raise KeyError(f"{type(self).__name__} was fitted for user {self.user_id} only")
        rated = data.ratings.loc[data.ratings["user_id"] == self.user_id, "movie_id"]
        candidates = data.movies[~data.movies["movie_id"].isin(rated)]
        table = rank_table(
            candidates["movie_id"].to_numpy(), self.score(candidates["movie_id"].to_numpy()), top
        )
        info = candidates.set_index("movie_id")[["title", "genres"]]
        table = table.join(info, on="movie_id")
        return table[["rank", "movie_id", "title", "genres", "score", "tied"]]
