"""Per-user rows of the large MovieLens releases (ML-10M to ML-32M), built by grouping the
ratings once: no users x movies matrix, no frame per user, memory linear in the ratings.

:func:`recsys_utils.features.user_datasets` builds one pandas group per user and the
report's 18 attributes; that suits ML-1M's 6,040 users. ML-25M has 162,541 users and 19
genres ("Children", "IMAX"): :func:`group_user_rows` sorts the 25 M ratings by user once into
flat arrays (:class:`UserRows`), and a user's :class:`~recsys_utils.features.UserDataset` is
a slice of them with its genre attributes looked up in the movies' flag table, the width
following the release's vocabulary (:func:`release_genres`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from recsys_utils.data.genres import GENRES_BY_DATASET, ML1M_GENRES, REPORT_GENRES
from recsys_utils.features import LIKE_THRESHOLD, UserDataset, genre_matrix

if TYPE_CHECKING:  # pragma: no cover
    from recsys_utils.data import MovieLens

__all__ = ["UserRows", "group_user_rows", "release_genres"]


def release_genres(name: str) -> tuple[str, ...]:
    """The genre attributes of release ``name``'s per-user rows: the report's 18 in its
    order for ML-1M and ML-100K, the release's own vocabulary for the later ones (ML-10M to
    ML-32M: 19 genres, "Children" and "IMAX"; a movie marked "(no genres listed)" gets a row
    of zeros).

    Raises:
        KeyError: an unknown release (naming the known ones).
    """
    try:
        vocabulary = GENRES_BY_DATASET[name]
    except KeyError:
        raise KeyError(f"no genre vocabulary for {name!r}; known: {sorted(GENRES_BY_DATASET)}") from None
    return REPORT_GENRES if vocabulary == ML1M_GENRES else vocabulary


@dataclass(frozen=True)
class UserRows:
    """Every user's rated movies, grouped once: the per-user rows of a large release without
    a users x movies matrix and without one frame per user.

    The ratings are sorted by user once (stable, so each user's rows keep file order) and
    kept as flat arrays; a user's rows are a slice, and their genre attributes are looked up
    in the movies' flag table when asked for. Memory: 8 bytes per rating (a 4-byte movie row
    and the rating; 5 with ML-1M's int8 stars) plus ``n_movies x n_attributes`` bytes and 8 per
    user, linear in the ratings (ML-25M: about 0.2 GB).

    Attributes:
        user_ids: ``(n_users,)`` int64, ascending: the users with at least one rating.
        offsets: ``(n_users + 1,)`` int64: user ``user_ids[i]``'s ratings are
            ``offsets[i]:offsets[i + 1]`` of the arrays below.
        movie_rows: ``(n_ratings,)`` int32, each rating's row in ``movie_ids`` and ``flags``.
        ratings: ``(n_ratings,)`` the ratings (int8 stars, or float32 half stars for the
            later releases: kept, not truncated).
        movie_ids: ``(n_movies,)`` int32, the movies file's ids in file order.
        flags: ``(n_movies, n_attributes)`` uint8 genre attributes of each movie.
        attributes: the genre of each column of ``flags``.
        like_threshold: the rating from which a movie counts as liked.
    """

    user_ids: np.ndarray
    offsets: np.ndarray
    movie_rows: np.ndarray
    ratings: np.ndarray
    movie_ids: np.ndarray
    flags: np.ndarray
    attributes: tuple[str, ...]
    like_threshold: float = LIKE_THRESHOLD

    def __len__(self) -> int:
        return int(self.user_ids.shape[0])

    @property
    def n_ratings(self) -> np.ndarray:
        """``(n_users,)`` int64, each user's number of ratings."""
        return np.diff(self.offsets)

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays."""
        arrays = (self.user_ids, self.offsets, self.movie_rows, self.ratings, self.movie_ids, self.flags)
        return int(sum(a.nbytes for a in arrays))

    def position(self, user_id: int) -> int:
        """The index of ``user_id`` in :attr:`user_ids`; ``KeyError`` naming it if absent."""
        i = int(np.searchsorted(self.user_ids, int(user_id)))
        if i == len(self.user_ids) or self.user_ids[i] != int(user_id):
            raise KeyError(f"user {user_id} has no ratings in these rows")
        return i

    def dataset(self, user_id: int) -> UserDataset:
        """``user_id``'s :class:`UserDataset`: one row per rating, in file order (the rows
        :func:`user_dataset` gives with the same ``genres``; ratings keep half stars)."""
        i = self.position(user_id)
        cut = slice(int(self.offsets[i]), int(self.offsets[i + 1]))
        rows = self.movie_rows[cut]
        ratings = self.ratings[cut]
        return UserDataset(
            int(user_id),
            self.movie_ids[rows],
            ratings,
            self.flags[rows].astype(np.float32),
            (ratings >= self.like_threshold).astype(np.float32),
            self.attributes,
            self.like_threshold,
        )

    def datasets(self, user_ids: Sequence[int] | np.ndarray | None = None) -> list[UserDataset]:
        """:meth:`dataset` of each of ``user_ids`` (every user by default), in that order."""
        ids = self.user_ids if user_ids is None else np.asarray(user_ids).reshape(-1)
        return [self.dataset(int(u)) for u in ids]


def group_user_rows(
    data: MovieLens,
    *,
    genres: Sequence[str] | None = None,
    like_threshold: float = LIKE_THRESHOLD,
) -> UserRows:
    """Group ``data``'s ratings by user once (see :class:`UserRows`).

    Args:
        data: any MovieLens release (ML-1M ... ML-32M, or a synthetic twin).
        genres: the attribute columns; default :func:`release_genres` of ``data.name``
            (ML-1M: 18 in the report's order; ML-10M and later: 19).
        like_threshold: the rating from which a movie counts as liked.

    Raises:
        ValueError: a movie with a genre outside ``genres`` (from :func:`genre_matrix`).
        KeyError: a rating of a movie not in the movies file (naming it).
    """
    attributes = tuple(release_genres(data.name) if genres is None else genres)
    table = genre_matrix(data.movies, attributes)
    movie_ids = table.index.to_numpy(np.int32)
    users = data.ratings["user_id"].to_numpy(np.int64)
    order = np.argsort(users, kind="stable")
    sorted_users = users[order]
    user_ids, starts = np.unique(sorted_users, return_index=True)
    movie_rows = pd.Index(movie_ids).get_indexer(data.ratings["movie_id"].to_numpy()[order])
    if (movie_rows < 0).any():
        bad = data.ratings["movie_id"].to_numpy()[order][movie_rows < 0]
        raise KeyError(f"ratings of movies not in {data.name}'s movies file: {np.unique(bad)[:10].tolist()}")
    return UserRows(
        user_ids=user_ids.astype(np.int64),
        offsets=np.append(starts, len(users)).astype(np.int64),
        movie_rows=movie_rows.astype(np.int32),
        ratings=data.ratings["rating"].to_numpy()[order],
        movie_ids=movie_ids,
        flags=table.to_numpy(np.uint8),
        attributes=attributes,
        like_threshold=like_threshold,
    )
