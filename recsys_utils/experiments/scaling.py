"""How far a population run's measured cost carries: projections to larger releases and more
workers, from a measured cost per user-step (``benchmarks/bench_scale.py``).

Everything here is arithmetic on counts; nothing trains. The results are *projections* and
are labelled so wherever they are shown.

- **Work.** A user with ``n`` ratings trains on ``floor(f n)`` rows (``f`` the training
  fraction) in ``ceil(floor(f n) / b)`` optimizer steps per epoch (batch ``b``). Summed over
  users, with the remainders spread evenly, that is about
  ``f R / b + U ((b - 1) / (2 b) - 1 / (2 b))`` user-steps per epoch for ``R`` ratings and
  ``U`` users (:func:`estimated_user_steps`; on ML-1M within a fraction of a percent of the
  exact sum, which the benchmark records).
- **Cost per step.** The measured CPU time of one user-step on a one-thread worker, times
  ``(G / 18) ** 2`` for a release with ``G`` genres: a user's sequence has ``G`` steps and the
  report's cell ``G`` units (the input products grow with both; the recurrent ones faster).
- **Workers.** The work divided evenly among ``N`` workers of one thread each (no start-up,
  no imbalance): a lower bound on the wall time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "ML1M_SHAPE",
    "ML25M_SHAPE",
    "ReleaseShape",
    "estimated_user_steps",
    "exact_user_steps",
    "per_user_weights",
    "projected_hours",
    "width_factor",
]

#: Genres of ML-1M: the width the per-step cost is measured at.
MEASURED_GENRES = 18
_US_PER_HOUR = 3.6e9


@dataclass(frozen=True)
class ReleaseShape:
    """The published size of a MovieLens release.

    Attributes:
        name: the release (``"ml-25m"``).
        ratings: its ratings.
        users: its users (each with at least 20 ratings).
        movies: movies in its movies file.
        genres: its genre vocabulary's size (the per-user rows' width).
    """

    name: str
    ratings: int
    users: int
    movies: int
    genres: int


#: MovieLens 1M (its README): 1,000,209 ratings, 6,040 users, 3,883 movies, 18 genres.
ML1M_SHAPE = ReleaseShape("ml-1m", 1_000_209, 6_040, 3_883, 18)
#: MovieLens 25M (its README): 25,000,095 ratings, 162,541 users, 62,423 movies, 19 genres.
ML25M_SHAPE = ReleaseShape("ml-25m", 25_000_095, 162_541, 62_423, 19)


def exact_user_steps(n_ratings: Sequence[int] | np.ndarray, train_fraction: float, batch_size: int) -> int:
    """``sum_u ceil(floor(f n_u) / b)``: the user-steps of one epoch over users with
    ``n_ratings`` ``(n_users,)`` ratings."""
    n_train = np.floor(np.asarray(n_ratings, np.float64) * train_fraction)
    return int(np.ceil(n_train / batch_size).sum())


def estimated_user_steps(n_ratings: int, n_users: int, train_fraction: float, batch_size: int) -> float:
    """The user-steps of one epoch from totals alone (module docstring)."""
    per_user = (batch_size - 1) / (2 * batch_size) - 1 / (2 * batch_size)
    return train_fraction * n_ratings / batch_size + n_users * per_user


def width_factor(genres: int) -> float:
    """The cost of a user-step at ``genres`` genres relative to ML-1M's 18 (module docstring)."""
    return (genres / MEASURED_GENRES) ** 2


def projected_hours(
    us_per_user_step: float, user_steps_per_epoch: float, epochs: int, seeds: int, workers: int
) -> float:
    """Hours of ``epochs`` epochs and ``seeds`` seeds of ``user_steps_per_epoch`` at
    ``us_per_user_step`` each, spread evenly over ``workers`` one-thread workers."""
    return us_per_user_step * user_steps_per_epoch * epochs * seeds / workers / _US_PER_HOUR


def per_user_weights(genres: int) -> int:
    """The trained weights of one user's network (the report's modified recommender) over
    ``genres`` genre steps (two embedding rows are trained: the flags are 0/1)."""
    from recsys_utils.batched import REPORT_MODIFIED

    return int(REPORT_MODIFIED.layout(genres).size)
