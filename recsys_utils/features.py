"""From MovieLens frames to model inputs: per-user genre rows, splits, rating matrices.

The report (section 4.1, Appendix A) turns each movie a user rated into 18 binary
genre attributes ``a1..a18`` in its own column order (:data:`REPORT_GENRES`) and a
binary label ``like``. Its code then trains on the *first* 65 % of the user's rows in
file order and evaluates on the rest (its text says 70/30).

Everything here is pure pandas/NumPy and independent of TensorFlow.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from recsys_utils import report
from recsys_utils.data.genres import REPORT_GENRES

if TYPE_CHECKING:  # pragma: no cover
    import scipy.sparse

    from recsys_utils.data import MovieLens

#: Training fraction of the report's code (``int(len(dataset) * 0.65)``): our default.
REPORT_TRAIN_FRACTION: float = report.TRAIN_FRACTION
#: Training fraction the report's text states (section 4.1 and 5.2: "70-30").
REPORT_TEXT_TRAIN_FRACTION: float = report.TEXT_TRAIN_FRACTION
#: A rating at or above this counts as a like (the report's ``likes`` column).
LIKE_THRESHOLD: int = report.LIKE_RATING


def genre_matrix(movies: pd.DataFrame, genres: Sequence[str] = REPORT_GENRES) -> pd.DataFrame:
    """Binary genre attributes of every movie.

    Args:
        movies: the ``movies`` frame of :class:`recsys_utils.data.MovieLens`.
        genres: attribute order; the report's by default.

    Returns:
        A frame indexed by ``movie_id`` (file order) with one ``int8`` column per genre,
        shape ``(n_movies, len(genres))``.
    """
    split = movies["genres"].fillna("").astype(str).str.get_dummies(sep="|")
    unknown = sorted(set(split.columns) - set(genres))
    if unknown:
        raise ValueError(f"movies carry genres outside the attribute list: {unknown}")
    out = split.reindex(columns=list(genres), fill_value=0).astype(np.int8)
    out.index = pd.Index(movies["movie_id"].to_numpy(), name="movie_id")
    return out


@dataclass(frozen=True)
class Split:
    """Row indices of a train/test split of one user's rows.

    Attributes:
        train: ``(n_train,)`` int indices into the user's rows.
        test: ``(n_test,)`` int indices into the user's rows.
        kind: ``"ordered"`` (the report's: first rows train), ``"random"`` or ``"stratified"``
            (random within each class).
        train_fraction: the fraction asked for.
        seed: the seed of a random split, ``None`` for the ordered one.
    """

    train: np.ndarray
    test: np.ndarray
    kind: str
    train_fraction: float
    seed: int | None = None

    def describe(self) -> str:
        """One line saying which rows train and which test."""
        if self.kind == "ordered":
            how = f"first {len(self.train)} rows in file order train, last {len(self.test)} test"
        else:
            how = (
                f"{len(self.train)} train / {len(self.test)} test rows, {self.kind} "
                f"(rows sorted by movie id, then shuffled with seed {self.seed}"
                + (", cut class by class)" if self.kind == "stratified" else ")")
            )
        return f"{how} (train fraction {self.train_fraction:g})"


@dataclass(frozen=True)
class UserDataset:
    """One user's rated movies as the report's classifier sees them.

    Attributes:
        user_id: the MovieLens user id.
        movie_ids: ``(n,)`` int32, in the order of ``ratings.dat``.
        ratings: ``(n,)`` int8, the star ratings 1..5.
        X: ``(n, n_attributes)`` float32, binary genre attributes.
        y: ``(n,)`` float32, 1.0 for a like (rating >= ``like_threshold``), else 0.0.
        attributes: the genre name of each column of ``X``.
        like_threshold: the rating from which a movie counts as liked.
    """

    user_id: int
    movie_ids: np.ndarray
    ratings: np.ndarray
    X: np.ndarray
    y: np.ndarray
    attributes: tuple[str, ...] = REPORT_GENRES
    like_threshold: int = LIKE_THRESHOLD

    def __len__(self) -> int:
        return int(self.movie_ids.shape[0])

    @property
    def n_likes(self) -> int:
        return int(self.y.sum())

    def subset(self, index: np.ndarray) -> UserDataset:
        """The rows at ``index`` (an int array), in that order."""
        index = np.asarray(index, dtype=np.int64)
        return UserDataset(
            self.user_id,
            self.movie_ids[index],
            self.ratings[index],
            self.X[index],
            self.y[index],
            self.attributes,
            self.like_threshold,
        )

    def to_frame(self) -> pd.DataFrame:
        """The rows as the report's per-user table: movie_id, a1..a18 (named), rating, like."""
        frame = pd.DataFrame(self.X.astype(np.int8), columns=list(self.attributes))
        frame.insert(0, "movie_id", self.movie_ids)
        frame["rating"] = self.ratings
        frame["like"] = self.y.astype(np.int8)
        return frame

    def report_split(self, train_fraction: float = REPORT_TRAIN_FRACTION) -> Split:
        """The report's split: the first ``int(n * train_fraction)`` rows train, the rest test."""
        return ordered_split(len(self), train_fraction)

    def seeded_order(self, seed: int) -> np.ndarray:
        """This user's row indices in the seeded, file-order-free order of :func:`seeded_order`."""
        return seeded_order(self.movie_ids, self.user_id, seed)

    def random_split(self, train_fraction: float = REPORT_TRAIN_FRACTION, seed: int = 0) -> Split:
        """A seeded split that does not depend on the order of ``ratings.dat``.

        Rows are sorted by movie id, then shuffled by a generator seeded with
        ``(seed, user_id)``: the same user and seed give the same split whatever the
        file order and whichever other users are split alongside.
        """
        _check_fraction(train_fraction)
        shuffled = self.seeded_order(seed)
        n_train = int(len(self) * train_fraction)
        return Split(np.sort(shuffled[:n_train]), np.sort(shuffled[n_train:]), "random", train_fraction, seed)

    def stratified_split(self, train_fraction: float = REPORT_TRAIN_FRACTION, seed: int = 0) -> Split:
        """A seeded split that keeps each class's share in both parts (see :func:`stratified_cut`).

        Each class (like, dislike) is cut separately along :meth:`seeded_order`: the first
        :func:`stratified_train_count` rows of that class in the seeded order train. Like
        :meth:`random_split`, it depends neither on the order of ``ratings.dat`` nor on the
        other users.
        """
        _check_fraction(train_fraction)
        train, test = stratified_cut(self.y, self.seeded_order(seed), train_fraction)
        return Split(train, test, "stratified", train_fraction, seed)


def seeded_order(movie_ids: np.ndarray, user_id: int, seed: int) -> np.ndarray:
    """The one seeded permutation of a user's rows that ignores the order of ``ratings.dat``.

    Rows are sorted by movie id, then permuted by ``numpy.random.default_rng([seed, user_id])``:
    the same user and seed give the same order whatever the file order and whichever other
    users are processed alongside. Every random split, hold-out and subsample of a user's rows
    in the package is a prefix or a cut of this order.

    Args:
        movie_ids: ``(n,)`` the user's movie ids, in any order.
        user_id: the user (part of the generator's seed).
        seed: the split seed.

    Returns:
        ``(n,)`` int64 row indices into ``movie_ids``.
    """
    order = np.argsort(np.asarray(movie_ids), kind="stable")
    rng = np.random.default_rng([int(seed), int(user_id)])
    return order[rng.permutation(len(order))].astype(np.int64)


def sample_users(
    data: MovieLens, n_users: int | None = None, *, seed: int = 0, min_ratings: int = 1
) -> np.ndarray:
    """The one seeded sample of users: ``n_users`` ids with at least ``min_ratings`` ratings.

    The eligible ids are sorted and drawn without replacement by
    ``numpy.random.default_rng([seed, n_eligible])``, so the sample depends only on the seed
    and on which users are eligible. ``n_users=None`` (or the number of eligible users) gives
    every eligible user.

    Returns:
        ``(n_users,)`` int64 user ids, ascending.
    """
    if min_ratings < 1:
        raise ValueError(f"min_ratings must be at least 1, got {min_ratings!r}")
    counts = data.ratings.groupby("user_id").size()
    eligible = np.sort(counts.index[counts >= min_ratings].to_numpy(np.int64))
    if n_users is None or n_users == len(eligible):
        return eligible
    if n_users < 1:
        raise ValueError(f"n_users must be positive or None, got {n_users!r}")
    if n_users > len(eligible):
        raise ValueError(
            f"only {len(eligible)} users have at least {min_ratings} ratings; asked for n_users={n_users}"
        )
    rng = np.random.default_rng([int(seed), len(eligible)])
    return np.sort(rng.choice(eligible, size=int(n_users), replace=False)).astype(np.int64)


def _check_fraction(train_fraction: float) -> None:
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction must be strictly between 0 and 1, got {train_fraction!r}")


def ordered_split(n_rows: int, train_fraction: float = REPORT_TRAIN_FRACTION) -> Split:
    """The report's split of ``n_rows`` rows: ``int(n_rows * train_fraction)`` first rows train."""
    _check_fraction(train_fraction)
    n_train = int(n_rows * train_fraction)
    return Split(np.arange(n_train), np.arange(n_train, n_rows), "ordered", train_fraction)


def stratified_train_count(n_class: int, train_fraction: float) -> int:
    """How many of a class's ``n_class`` rows train in a stratified split.

    ``n_class * train_fraction`` rounded half up, kept between 1 and ``n_class - 1`` when the
    class has at least two rows (so it appears on both sides); a class of one row trains.
    """
    if n_class < 2:
        return int(n_class)
    return int(min(max(math.floor(n_class * train_fraction + 0.5), 1), n_class - 1))


def stratified_cut(y: np.ndarray, order: np.ndarray, train_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Cut ``order`` class by class: each class's first :func:`stratified_train_count` rows train.

    Args:
        y: ``(n,)`` 0/1 labels.
        order: ``(n,)`` a permutation of ``range(n)`` (e.g. :func:`seeded_order`).
        train_fraction: share of each class that trains.

    Returns:
        ``(train, test)``: ascending int64 row indices, together ``range(n)``.
    """
    y = np.asarray(y)
    order = np.asarray(order, dtype=np.int64)
    if y.shape != order.shape:
        raise ValueError(f"y {y.shape} and order {order.shape} must have the same shape")
    is_train = np.zeros(len(order), dtype=bool)
    labels = y[order]
    for value in np.unique(labels):
        rows = order[labels == value]
        is_train[rows[: stratified_train_count(len(rows), train_fraction)]] = True
    index = np.arange(len(order), dtype=np.int64)
    return index[is_train], index[~is_train]


def make_split(
    dataset: UserDataset,
    kind: Literal["ordered", "random", "stratified"] = "ordered",
    train_fraction: float = REPORT_TRAIN_FRACTION,
    seed: int = 0,
) -> Split:
    """Dispatch to :meth:`UserDataset.report_split`, :meth:`~UserDataset.random_split` or
    :meth:`~UserDataset.stratified_split`."""
    if kind == "ordered":
        return dataset.report_split(train_fraction)
    if kind == "random":
        return dataset.random_split(train_fraction, seed)
    if kind == "stratified":
        return dataset.stratified_split(train_fraction, seed)
    raise ValueError(f"split kind must be 'ordered', 'random' or 'stratified', got {kind!r}")


def _user_rows(data: MovieLens, user_id: int) -> pd.DataFrame:
    rows = data.ratings[data.ratings["user_id"] == user_id]
    if rows.empty:
        known = data.users["user_id"]
        raise KeyError(
            f"user {user_id} has no ratings in {data.name} (user ids run from {known.min()} to {known.max()})"
        )
    return rows


def user_dataset(
    data: MovieLens,
    user_id: int,
    *,
    like_threshold: int = LIKE_THRESHOLD,
    genres: Sequence[str] = REPORT_GENRES,
) -> UserDataset:
    """The report's per-user dataset: one row per rating of ``user_id``, in file order."""
    rows = _user_rows(data, user_id)
    attributes = genre_matrix(data.movies, genres)
    return _build(user_id, rows, attributes, like_threshold, tuple(genres))


def user_datasets(
    data: MovieLens,
    user_ids: Sequence[int] | None = None,
    *,
    like_threshold: int = LIKE_THRESHOLD,
    genres: Sequence[str] = REPORT_GENRES,
) -> list[UserDataset]:
    """:func:`user_dataset` for many users at once (every user by default), in one pass."""
    attributes = genre_matrix(data.movies, genres)
    ratings = data.ratings
    if user_ids is not None:
        wanted = pd.Index(np.asarray(user_ids))
        ratings = ratings[ratings["user_id"].isin(wanted)]
        missing = wanted.difference(pd.Index(ratings["user_id"].unique()))
        if len(missing):
            raise KeyError(f"users without ratings in {data.name}: {list(missing[:10])}")
    groups = {int(u): g for u, g in ratings.groupby("user_id", sort=True)}
    order = groups.keys() if user_ids is None else [int(u) for u in user_ids]
    return [_build(u, groups[u], attributes, like_threshold, tuple(genres)) for u in order]


def _build(
    user_id: int, rows: pd.DataFrame, attributes: pd.DataFrame, like_threshold: int, genres: tuple[str, ...]
) -> UserDataset:
    movie_ids = rows["movie_id"].to_numpy(np.int32)
    ratings = rows["rating"].to_numpy(np.int8)
    X = attributes.loc[movie_ids].to_numpy(np.float32)
    y = (ratings >= like_threshold).astype(np.float32)
    return UserDataset(int(user_id), movie_ids, ratings, X, y, genres, like_threshold)


def unseen_movies(data: MovieLens, user_id: int) -> pd.DataFrame:
    """Movies of ``movies.dat`` that ``user_id`` has not rated: the candidates to recommend."""
    seen = _user_rows(data, user_id)["movie_id"]
    return data.movies[~data.movies["movie_id"].isin(seen)].reset_index(drop=True)


@dataclass(frozen=True)
class RatingMatrix:
    """A user x movie matrix with the ids of its rows and columns.

    Attributes:
        values: ``(n_users, n_movies)`` float32, dense ndarray or ``scipy.sparse.csr_matrix``;
            0 where a user has not rated a movie.
        user_ids: ``(n_users,)`` int32, the user of each row.
        movie_ids: ``(n_movies,)`` int32, the movie of each column.
    """

    values: np.ndarray | scipy.sparse.csr_matrix
    user_ids: np.ndarray
    movie_ids: np.ndarray
    _row_of: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.values.shape)  # type: ignore[return-value]

    def row_index(self, user_id: int) -> int:
        """Row of ``user_id``; ``KeyError`` naming it if absent."""
        if not self._row_of:
            self._row_of.update({int(u): i for i, u in enumerate(self.user_ids)})
        try:
            return self._row_of[int(user_id)]
        except KeyError:
            raise KeyError(f"user {user_id} is not a row of this matrix") from None

    def column_index(self, movie_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Columns of ``movie_ids`` as an int array; ``KeyError`` naming any absent movie."""
        movie_ids = np.asarray(movie_ids)
        pos = np.searchsorted(self.movie_ids, movie_ids) if _is_sorted(self.movie_ids) else None
        if pos is None:
            lookup = pd.Index(self.movie_ids)
            pos = lookup.get_indexer(movie_ids)
        else:
            pos = np.clip(pos, 0, len(self.movie_ids) - 1)
            pos = np.where(self.movie_ids[pos] == movie_ids, pos, -1)
        if (pos < 0).any():
            raise KeyError(f"movies not in this matrix: {movie_ids[pos < 0][:10].tolist()}")
        return pos.astype(np.int64)


def _is_sorted(a: np.ndarray) -> bool:
    return bool(len(a) < 2 or np.all(a[1:] > a[:-1]))


def rating_matrix(
    ratings: pd.DataFrame,
    *,
    user_ids: Sequence[int] | np.ndarray | None = None,
    movie_ids: Sequence[int] | np.ndarray | None = None,
    scale: float = 1.0,
    sparse: bool = False,
    dtype: type = np.float32,
) -> RatingMatrix:
    """The user x movie rating matrix of ``ratings``.

    Args:
        ratings: a ratings frame (``user_id``, ``movie_id``, ``rating``).
        user_ids: rows, in this order; default every user in ``ratings``, sorted.
            Ratings of users not listed are dropped.
        movie_ids: columns, in this order; default every *rated* movie, sorted (ML-1M: 3,706,
            as the report's autoencoder's pivot table). The RBM uses every movie of
            ``movies.dat`` in file order instead (3,883). Ratings of movies not listed raise.
        scale: each rating is divided by it (the report's RBM uses 5).
        sparse: return a ``scipy.sparse.csr_matrix`` instead of a dense ndarray.

    Returns:
        A :class:`RatingMatrix` of shape ``(len(user_ids), len(movie_ids))``.
    """
    users = np.sort(ratings["user_id"].unique()) if user_ids is None else np.asarray(user_ids)
    movies = np.sort(ratings["movie_id"].unique()) if movie_ids is None else np.asarray(movie_ids)
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale!r}")
    rows = pd.Index(users).get_indexer(ratings["user_id"].to_numpy())
    keep = rows >= 0
    cols = pd.Index(movies).get_indexer(ratings["movie_id"].to_numpy()[keep])
    if (cols < 0).any():
        bad = ratings["movie_id"].to_numpy()[keep][cols < 0]
        raise KeyError(f"ratings for movies outside the matrix's columns: {np.unique(bad)[:10].tolist()}")
    vals = ratings["rating"].to_numpy()[keep].astype(dtype) / dtype(scale)
    shape = (len(users), len(movies))
    if sparse:
        import scipy.sparse

        values = scipy.sparse.csr_matrix((vals, (rows[keep], cols)), shape=shape, dtype=dtype)
    else:
        values = np.zeros(shape, dtype=dtype)
        values[rows[keep], cols] = vals
    return RatingMatrix(values, users.astype(np.int32), movies.astype(np.int32))
