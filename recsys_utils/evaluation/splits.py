"""The ranking protocol's split: every user's ratings cut into training and held-out movies.

Protocol (:func:`ranking_split`)
--------------------------------
- **Split, per user, order-independent, stratified.** A user's rated movies are sorted by movie
  id and shuffled by a generator seeded with ``(seed, user_id)``; within the liked movies
  (rating ``>= like_threshold``) and within the others, the first 65 % (rounded half up) are
  *training* movies, the rest are *held out*. This is exactly
  :meth:`recsys_utils.features.UserDataset.stratified_split` (``train_fraction=0.65``), the
  split of the per-user networks of :mod:`recsys_utils.population`, so a user's split depends neither on the order of
  ``ratings.dat`` (users 3000+ of our ML-1M copy have no original order) nor on which other
  users are split alongside.
- **What models see.** Only training ratings, of every user. Collaborative models are fitted
  once on all users' training ratings and then score every user.
- **Candidates** of a user: every movie of ``movies.dat`` except that user's *training*
  movies (ML-1M: 3,883 minus about 65 % of their ratings). Held-out movies therefore compete
  with every movie the user never rated, as in a real recommendation list.
- **Relevant** movies: the user's held-out movies rated ``>= like_threshold`` (4 stars).
  Users with no relevant held-out movie are excluded from the averages and counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from recsys_utils.features import LIKE_THRESHOLD, REPORT_TRAIN_FRACTION, UserDataset

if TYPE_CHECKING:  # pragma: no cover
    from recsys_utils.data import MovieLens

__all__ = ["RankingSplit", "ranking_split", "time_split", "timestamped_users", "validation_split"]


@dataclass(frozen=True)
class RankingSplit:
    """A global per-user train / held-out split of the ratings, for ranking (module docstring).

    Attributes:
        train: ratings rows (``user_id``, ``movie_id``, ``rating``, ...) models may see,
            sorted by user then movie id (original index kept).
        heldout: the held-out ratings rows, same columns and order.
        movie_ids: ``(n_movies,)`` int32, every movie of ``movies.dat`` in file order: the
            candidate universe.
        user_ids: ``(n_users,)`` int32, every split user, ascending.
        train_fraction: share of each user's ratings used for training (0.65).
        seed: the split seed.
        like_threshold: a held-out rating ``>=`` this makes the movie relevant.
        kind: ``"random"`` (:func:`ranking_split`) or ``"time"`` (:func:`time_split`, the
            last ratings in time held out; ``seed`` is then -1).
    """

    train: pd.DataFrame
    heldout: pd.DataFrame
    movie_ids: np.ndarray
    user_ids: np.ndarray
    train_fraction: float
    seed: int
    like_threshold: int
    _train_movies: dict = field(default_factory=dict, repr=False, compare=False)
    _heldout: dict = field(default_factory=dict, repr=False, compare=False)
    _columns: dict = field(default_factory=dict, repr=False, compare=False)
    kind: str = "random"

    def train_movies(self, user_id: int) -> np.ndarray:
        """``(n_train,)`` the user's training movies, ascending movie id."""
        return self._lookup(self._train_movies, user_id)[0]

    def heldout_movies(self, user_id: int) -> np.ndarray:
        """``(n_heldout,)`` the user's held-out movies, ascending movie id."""
        return self._lookup(self._heldout, user_id)[0]

    def relevant(self, user_id: int) -> np.ndarray:
        """``(n_relevant,)`` held-out movies the user liked (rating >= ``like_threshold``)."""
        movies, ratings = self._lookup(self._heldout, user_id)
        return movies[ratings >= self.like_threshold]

    def candidates(self, user_id: int) -> np.ndarray:
        """``(n_candidates,)`` every movie but the user's training movies, in ``movie_ids``
        order (``movies.dat`` order: ascending movie id for MovieLens)."""
        return self.movie_ids[self.masks(user_id)[0]]

    def masks(self, user_id: int) -> tuple[np.ndarray, np.ndarray]:
        """``(candidate, relevant)``: two ``(n_movies,)`` bool masks over :attr:`movie_ids`."""
        train_cols, heldout_cols, liked = self._lookup(self._columns, user_id)
        candidate = np.ones(len(self.movie_ids), dtype=bool)
        candidate[train_cols] = False
        relevant = np.zeros(len(self.movie_ids), dtype=bool)
        relevant[heldout_cols[liked]] = True
        return candidate, relevant

    @property
    def rated_movie_ids(self) -> np.ndarray:
        """``(n_rated,)`` movies rated by anyone (train or held-out), ascending (ML-1M: 3,706):
        the columns of the report's autoencoder matrix."""
        both = np.concatenate([self.train["movie_id"].to_numpy(), self.heldout["movie_id"].to_numpy()])
        return np.unique(both).astype(np.int32)

    def _lookup(self, table: dict, user_id: int) -> tuple:
        try:
            return table[int(user_id)]
        except KeyError:
            raise KeyError(f"user {user_id} is not in this split") from None

    def describe(self) -> str:
        """One paragraph stating the protocol and the sizes."""
        n_rel = sum(int((r >= self.like_threshold).sum()) for _, r in self._heldout.values())
        how = (
            "ratings ordered by time, the last ones held out"
            if self.kind == "time"
            else f"ratings sorted by movie id and shuffled with seed ({self.seed}, user_id), stratified by like"
        )
        return (
            f"{len(self.user_ids)} users; per user, {how}: {len(self.train)} training ratings "
            f"({self.train_fraction:.0%}), {len(self.heldout)} held out; relevant = held-out "
            f"ratings >= {self.like_threshold} ({n_rel}); candidates = all "
            f"{len(self.movie_ids)} movies minus the user's training movies."
        )


def ranking_split(
    data: MovieLens,
    *,
    train_fraction: float = REPORT_TRAIN_FRACTION,
    seed: int = 0,
    like_threshold: int = LIKE_THRESHOLD,
    user_ids: Sequence[int] | np.ndarray | None = None,
) -> RankingSplit:
    """Split every user's ratings (or those of ``user_ids``) for ranking; see the module docstring.

    Each user's split is :meth:`UserDataset.stratified_split(train_fraction, seed)
    <recsys_utils.features.UserDataset.stratified_split>` of their ratings, so it does not
    depend on the file order of ``ratings.dat``.
    """
    ratings = _selected_ratings(data, user_ids)

    def train_mask(u: int, movies: np.ndarray, stars: np.ndarray, _times: np.ndarray) -> np.ndarray:
        split = _user_split(u, movies, stars, train_fraction, seed, like_threshold)
        mask = np.zeros(len(movies), dtype=bool)
        mask[split.train] = True
        return mask

    return _assemble(
        data, ratings, train_mask, (float(train_fraction), int(seed), int(like_threshold)), "random"
    )


def timestamped_users(data: MovieLens) -> np.ndarray:
    """``(n,)`` ascending ids of the users whose every rating has a timestamp (``> 0``).

    In the shared ML-1M copy users 3000+ carry timestamp 0 (no time, no original order); in
    ML-100K and the original ML-1M every user has real timestamps.
    """
    r = data.ratings
    bad = r.loc[~(r["timestamp"] > 0), "user_id"].unique()
    return np.setdiff1d(r["user_id"].unique(), bad).astype(np.int64)


def time_split(
    data: MovieLens,
    *,
    train_fraction: float = REPORT_TRAIN_FRACTION,
    like_threshold: int = LIKE_THRESHOLD,
    user_ids: Sequence[int] | np.ndarray | None = None,
) -> RankingSplit:
    """Time-ordered leave-last-out split: each user's **last** ratings in time are held out.

    Per user, ratings are ordered by ``(timestamp, movie_id)`` (the movie id breaks ties
    within a second, so the file order never matters); the first
    ``n_train = floor(n * train_fraction + 1/2)`` train (at least one, and at least one held
    out when ``n >= 2``), the rest are held out. Candidates and relevant movies are as in
    :func:`ranking_split`. The split has no seed (``RankingSplit.seed`` is -1) and
    ``kind == "time"``.

    Raises:
        ValueError: when a selected user has a rating without a timestamp (``<= 0`` or
            missing): their order in time is unknown. Pass ``user_ids`` from
            :func:`timestamped_users` (ML-1M in the shared copy: users 1-2999).
    """
    ratings = _selected_ratings(data, user_ids)
    stamps = ratings["timestamp"]
    untimed = np.unique(ratings.loc[~(stamps > 0), "user_id"].to_numpy())
    if untimed.size:
        raise ValueError(
            f"time_split: {untimed.size} users of {data.name} have ratings without a timestamp "
            f"(e.g. users {untimed[:5].tolist()}), so their order in time is unknown; pass "
            f"user_ids=timestamped_users(data) or a subset of it"
        )

    def train_mask(u: int, movies: np.ndarray, stars: np.ndarray, times: np.ndarray) -> np.ndarray:
        n = len(movies)
        n_train = int(np.floor(n * train_fraction + 0.5))
        n_train = max(1, min(n_train, n - 1)) if n >= 2 else n
        order = np.lexsort((movies, times))  # by time, then movie id
        mask = np.zeros(n, dtype=bool)
        mask[order[:n_train]] = True
        return mask

    return _assemble(data, ratings, train_mask, (float(train_fraction), -1, int(like_threshold)), "time")


def _selected_ratings(data: MovieLens, user_ids: Sequence[int] | np.ndarray | None) -> pd.DataFrame:
    """The ratings of ``user_ids`` (default all), sorted by user then movie id."""
    ratings = data.ratings
    if user_ids is not None:
        wanted = np.unique(np.asarray(user_ids))
        ratings = ratings[ratings["user_id"].isin(wanted)]
        missing = np.setdiff1d(wanted, ratings["user_id"].unique())
        if missing.size:
            raise KeyError(f"users without ratings in {data.name}: {missing[:10].tolist()}")
    return ratings.sort_values(["user_id", "movie_id"], kind="stable")


def _assemble(data: MovieLens, ratings: pd.DataFrame, train_mask, settings: tuple, kind: str) -> RankingSplit:
    """A :class:`RankingSplit` of ``ratings`` (sorted by user, movie id) where
    ``train_mask(user, movies (n,), stars (n,), timestamps (n,)) -> (n,) bool`` picks each
    user's training rows; ``settings`` is ``(train_fraction, seed, like_threshold)``."""
    train_fraction, seed, like_threshold = settings
    users = ratings["user_id"].to_numpy()
    movies = ratings["movie_id"].to_numpy(np.int32)
    stars = ratings["rating"].to_numpy(np.int8)
    times = (
        ratings["timestamp"].to_numpy(np.int64) if "timestamp" in ratings else np.zeros(len(users), np.int64)
    )
    universe = data.movies["movie_id"].to_numpy(np.int32)
    cols = pd.Index(universe).get_indexer(movies)
    if (cols < 0).any():
        missing = np.unique(movies[cols < 0])[:10].tolist()
        raise KeyError(f"ratings of movies missing from movies.dat: {missing}")
    uniq, starts = np.unique(users, return_index=True)
    bounds = np.append(starts, len(users))
    is_train = np.zeros(len(users), dtype=bool)
    train_movies: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    heldout: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    columns: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for u, a, b in zip(uniq.tolist(), bounds[:-1], bounds[1:]):
        mask = train_mask(u, movies[a:b], stars[a:b], times[a:b])
        is_train[a:b] = mask
        train_movies[u] = (movies[a:b][mask], stars[a:b][mask])
        heldout[u] = (movies[a:b][~mask], stars[a:b][~mask])
        columns[u] = (cols[a:b][mask], cols[a:b][~mask], stars[a:b][~mask] >= like_threshold)
    return RankingSplit(
        ratings[is_train],
        ratings[~is_train],
        universe,
        uniq.astype(np.int32),
        train_fraction,
        seed,
        like_threshold,
        train_movies,
        heldout,
        columns,
        kind,
    )


def _user_split(
    user_id: int,
    movie_ids: np.ndarray,
    ratings: np.ndarray,
    train_fraction: float,
    seed: int,
    like_threshold: int,
):
    """:meth:`UserDataset.stratified_split` of one user's rows (``movie_ids`` ``(n,)``), reused as is."""
    n = len(movie_ids)
    likes = (ratings >= like_threshold).astype(np.float32)
    rows = UserDataset(
        user_id, movie_ids, ratings, np.empty((n, 0), np.float32), likes, like_threshold=like_threshold
    )
    return rows.stratified_split(train_fraction, seed)


def validation_split(data: MovieLens, split: RankingSplit, *, seed: int = 0) -> RankingSplit:
    """The same protocol applied again to ``split.train`` only: a validation split for tuning.

    A random split is cut again with :func:`ranking_split` (``seed``); a time split with
    :func:`time_split` (the last training ratings in time validate). Held-out ratings of
    ``split`` are not seen: models tuned on the result never meet them.
    """
    inner = _TrainingView(data.name, split.train, data.movies)
    if split.kind == "time":
        return time_split(inner, train_fraction=split.train_fraction, like_threshold=split.like_threshold)
    return ranking_split(
        inner, train_fraction=split.train_fraction, seed=seed, like_threshold=split.like_threshold
    )


@dataclass(frozen=True)
class _TrainingView:
    """The parts of a MovieLens that a split reads, with only a split's training ratings."""

    name: str
    ratings: pd.DataFrame
    movies: pd.DataFrame
