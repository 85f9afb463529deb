"""Users whose rating times are known, and their rows in the order they rated them.

Time-ordered experiments (a new user's first k ratings, ratings that arrive after a model was
trained) need each rating's real time. The book's copy of MovieLens 1M keeps the original
times and file order for users 1 to 2999 only (users 3000 and above carry timestamp 0 there),
so every time-ordered experiment of the package is restricted to users below
:data:`FIRST_USER_WITHOUT_TIME`, whatever copy is loaded: results are then the same on the
original archive and on that copy. :func:`check_timed_users` enforces it with an error naming
the users; :func:`sample_timed_users` draws among the allowed users and
:func:`time_order` sorts a user's rows by time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from recsys_utils.errors import BadArgumentError
from recsys_utils.features import UserDataset, sample_users

if TYPE_CHECKING:  # pragma: no cover
    from recsys_utils.data import MovieLens

#: The first user id whose rating times are not used (timestamp 0 in the book's ML-1M copy).
FIRST_USER_WITHOUT_TIME: int = 3000
#: How many offending users an error message names.
SHOWN_USERS: int = 10

__all__ = [
    "FIRST_USER_WITHOUT_TIME",
    "check_timed_users",
    "sample_timed_users",
    "time_order",
    "time_orders",
    "timed_user_ids",
]


def check_timed_users(
    data: MovieLens, user_ids: Sequence[int] | np.ndarray, argument: str = "user_ids"
) -> None:
    """Refuse users whose rating times a time-ordered experiment may not use.

    Args:
        data: the loaded MovieLens release.
        user_ids: ``(n_users,)`` the users of the experiment.
        argument: the argument's name in the message.

    Raises:
        BadArgumentError: a user id at or above :data:`FIRST_USER_WITHOUT_TIME` (their times
            are missing from the book's MovieLens 1M copy), or a user with a rating whose
            timestamp is not positive (no real time); the message names the users.
    """
    ids = np.asarray(user_ids, dtype=np.int64).reshape(-1)
    late = ids[ids >= FIRST_USER_WITHOUT_TIME]
    if len(late):
        raise BadArgumentError(
            argument,
            late[:SHOWN_USERS].tolist(),
            f"time-ordered experiments use only users 1 to {FIRST_USER_WITHOUT_TIME - 1}: the "
            f"book's MovieLens 1M copy has no rating times for users {FIRST_USER_WITHOUT_TIME} "
            f"and above (given: {len(late)} of them)",
        )
    ratings = data.ratings[data.ratings["user_id"].isin(ids)]
    untimed = np.unique(ratings.loc[ratings["timestamp"] <= 0, "user_id"].to_numpy(np.int64))
    if len(untimed):
        raise BadArgumentError(
            argument,
            untimed[:SHOWN_USERS].tolist(),
            f"these users have ratings without a time (timestamp <= 0) in {data.name}; "
            f"time-ordered experiments need every rating's time (given: {len(untimed)} such users)",
        )


def timed_user_ids(data: MovieLens, min_ratings: int = 1) -> np.ndarray:
    """``(n,)`` int64, ascending: the users below :data:`FIRST_USER_WITHOUT_TIME` with at
    least ``min_ratings`` ratings, every one of them with a positive timestamp."""
    ratings = data.ratings[data.ratings["user_id"] < FIRST_USER_WITHOUT_TIME]
    per_user = ratings.groupby("user_id")["timestamp"].agg(["size", "min"])
    keep = (per_user["size"] >= min_ratings) & (per_user["min"] > 0)
    return np.sort(per_user.index[keep].to_numpy(np.int64))


def sample_timed_users(
    data: MovieLens, n_users: int | None, *, seed: int = 0, min_ratings: int = 1
) -> np.ndarray:
    """:func:`recsys_utils.features.sample_users` among :func:`timed_user_ids` only.

    The one seeded sampling rule of the package, applied to the ratings of the users whose
    times are known: ``(n_users,)`` int64 ids, ascending.
    """
    allowed = timed_user_ids(data, min_ratings)
    if not len(allowed):
        raise BadArgumentError(
            "min_ratings", min_ratings, f"no user below {FIRST_USER_WITHOUT_TIME} has that many timed ratings"
        )
    timed = dataclasses.replace(data, ratings=data.ratings[data.ratings["user_id"].isin(allowed)])
    return sample_users(timed, n_users, seed=seed, min_ratings=min_ratings)


def time_order(data: MovieLens, ds: UserDataset) -> np.ndarray:
    """``(n,)`` int64 row indices of ``ds`` in the order its user rated them.

    Rows are sorted by timestamp, ties (ratings given in the same second) by movie id, so the
    order does not depend on the file's line order.

    Raises:
        BadArgumentError: the user is not allowed in a time-ordered experiment
            (:func:`check_timed_users`).
        ValueError: ``ds`` does not hold the user's ratings in file order.
    """
    check_timed_users(data, [ds.user_id], argument="user_id")
    return time_orders(data, [ds])[ds.user_id]


def time_orders(data: MovieLens, datasets: Sequence[UserDataset]) -> dict[int, np.ndarray]:
    """:func:`time_order` of many users at once (one pass over the ratings):
    ``{user_id: (n_u,) row indices}``.

    Raises:
        BadArgumentError: as :func:`check_timed_users`, naming every refused user.
        ValueError: a dataset does not hold its user's ratings in file order.
    """
    ids = [ds.user_id for ds in datasets]
    check_timed_users(data, ids)
    ratings = data.ratings[data.ratings["user_id"].isin(ids)]
    groups = {int(u): g for u, g in ratings.groupby("user_id", sort=False)}
    out = {}
    for ds in datasets:
        rows = groups[ds.user_id]
        if not np.array_equal(rows["movie_id"].to_numpy(np.int32), ds.movie_ids):
            raise ValueError(
                f"user {ds.user_id}: the dataset's rows are not the user's ratings in file order"
            )
        out[ds.user_id] = np.lexsort((ds.movie_ids, rows["timestamp"].to_numpy(np.int64))).astype(np.int64)
    return out
