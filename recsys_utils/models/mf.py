"""A matrix-factorization baseline: the ``implicit`` library's ALS (or BPR) on likes.

Not in the report: a standard collaborative-filtering reference point for the ranking
chapter (:mod:`recsys_utils.evaluation.ranking`), fitted once on all users' training ratings.
A pure estimator (ratings in, score arrays out); its adapter is
``recsys_utils.recommenders.MFRecommender``.

Why ``implicit`` (Ben Frederickson's library, MIT licence): it installs from binary
wheels on Python 3.11 with NumPy 2, its CPU models are deterministic given
``random_state`` with one thread, and its models are built for *top-k ranking* of items
from positive feedback, which is what the ranking protocol measures (relevant = held-out
movies the user liked). An explicit-rating SVD (``scikit-surprise``) predicts stars and is
known to rank poorly when every unseen movie is a candidate; ``lightfm`` has no wheels.

The model
---------
- ``feedback="likes"`` (default): a user x movie 0/1 matrix with a 1 where the user rated
  the movie ``>= like_threshold``; ``"rated"``: a 1 for every rating (having watched a
  movie at all is evidence too).
- ``algorithm="als"``: weighted ALS for implicit feedback (Hu, Koren & Volinsky, 2008):
  preference 1 on the non-zero entries with confidence ``1 + alpha * value``, 0 elsewhere
  with confidence 1, L2 penalty ``regularization``; solved by conjugate gradient.
  ``algorithm="bpr"``: Bayesian personalised ranking (Rendle et al., 2009) by SGD.
- The score of (user, movie) is the dot product of their factors: a predicted preference
  (about 0..1 for ALS, not a probability; an unbounded ranking score for BPR).

Default hyper-parameters (ALS: 16 factors, ``alpha=5``, ``regularization=0.5``, 15
sweeps) are the best NDCG@10 of a small grid (factors 16/32/64/128, alpha 1/5/20,
regularization 0.05/0.5/5) on an *inner* split of the training ratings of
:func:`recsys_utils.evaluation.splits.ranking_split` (seed 0; inner split seed 1), so no held-out
rating chose them. BPR keeps the library's settings (100 epochs, learning rate 0.01,
regularization 0.01) and is not tuned.

Determinism: the factors are drawn from ``random_state=seed``; ``num_threads=1`` (the
default) and a one-thread BLAS during ``fit`` make a fit bit-identical per seed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from recsys_utils.features import LIKE_THRESHOLD

if TYPE_CHECKING:  # pragma: no cover
    import scipy.sparse

__all__ = [
    "ALGORITHMS",
    "FEEDBACK",
    "MFParams",
    "MatrixFactorization",
    "interaction_matrix",
]

#: Algorithms of :class:`MatrixFactorization`.
ALGORITHMS: tuple[str, ...] = ("als", "bpr")
#: Which ratings become positive feedback.
FEEDBACK: tuple[str, ...] = ("likes", "rated")


def interaction_matrix(
    ratings: pd.DataFrame,
    user_ids: np.ndarray,
    movie_ids: np.ndarray,
    *,
    feedback: Literal["likes", "rated"] = "likes",
    like_threshold: int = LIKE_THRESHOLD,
) -> scipy.sparse.csr_matrix:
    """The 0/1 user x movie feedback matrix the factorization is fitted on.

    Args:
        ratings: a ratings frame (``user_id``, ``movie_id``, ``rating``).
        user_ids: ``(n_users,)`` the rows, in order; ratings of other users are dropped.
        movie_ids: ``(n_movies,)`` the columns, in order; ratings of other movies raise.
        feedback: ``"likes"`` (1 where rating >= ``like_threshold``) or ``"rated"`` (1 for
            every rating).

    Returns:
        ``scipy.sparse.csr_matrix`` of shape ``(n_users, n_movies)``, float32.
    """
    import scipy.sparse

    if feedback not in FEEDBACK:
        raise ValueError(f"feedback must be one of {FEEDBACK}, got {feedback!r}")
    rows = pd.Index(user_ids).get_indexer(ratings["user_id"].to_numpy())
    cols = pd.Index(movie_ids).get_indexer(ratings["movie_id"].to_numpy())
    if ((cols < 0) & (rows >= 0)).any():
        bad = np.unique(ratings["movie_id"].to_numpy()[(cols < 0) & (rows >= 0)])
        raise KeyError(f"ratings for movies outside the columns: {bad[:10].tolist()}")
    keep = rows >= 0
    if feedback == "likes":
        keep &= ratings["rating"].to_numpy() >= like_threshold
    values = np.ones(int(keep.sum()), dtype=np.float32)
    shape = (len(user_ids), len(movie_ids))
    out = scipy.sparse.csr_matrix((values, (rows[keep], cols[keep])), shape=shape, dtype=np.float32)
    out.sum_duplicates()
    out.data[:] = 1.0  # a repeated (user, movie) rating still counts once
    return out


@dataclass(frozen=True)
class MFParams:
    """The factorisation's hyperparameters (checked when made).

    Attributes:
        algorithm: ``"als"`` (default) or ``"bpr"`` (module docstring).
        factors: latent dimensions.
        regularization: L2 penalty (``None``: 0.5 for ALS, 0.01 for BPR).
        iterations: ALS sweeps, or BPR epochs (``None``: 15, 100).
        alpha: ALS confidence scale (``1 + alpha`` on positive entries).
        learning_rate: BPR step size.
    """

    algorithm: Literal["als", "bpr"] = "als"
    factors: int = 16
    regularization: float | None = None
    iterations: int | None = None
    alpha: float = 5.0
    learning_rate: float = 0.01

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {self.algorithm!r}")
        if self.factors < 1:
            raise ValueError(f"factors must be positive, got {self.factors}")

    @property
    def resolved_regularization(self) -> float:
        """The L2 penalty used: the given one, else the algorithm's default."""
        if self.regularization is not None:
            return self.regularization
        return 0.5 if self.algorithm == "als" else 0.01

    @property
    def resolved_iterations(self) -> int:
        """The sweeps (ALS) or epochs (BPR) used: the given number, else the algorithm's default."""
        if self.iterations is not None:
            return self.iterations
        return 15 if self.algorithm == "als" else 100


class MatrixFactorization:
    """Users and movies as ``factors``-dimensional vectors whose dot product ranks movies.

    Args:
        params: the hyperparameters (:class:`MFParams`; default ALS with 16 factors).
        feedback: ``"likes"`` or ``"rated"`` (see :func:`interaction_matrix`).
        like_threshold: rating from which a movie counts as liked.
        seed: ``random_state`` of the factor initialisation (and BPR's sampling).
        num_threads: the library's threads; 1 (default) for a deterministic fit.

    :meth:`fit` sets the attributes below.

    Attributes:
        user_factors_: ``(n_users, d)`` float32 (BPR: ``d = factors + 1``, a column of
            ones meeting the item bias).
        item_factors_: ``(n_movies, d)`` float32.
        user_ids_: ``(n_users,)``, the user of each row.
        movie_ids_: ``(n_movies,)``, the movie of each column.
        fit_time_s: seconds of :meth:`fit`.
    """

    def __init__(
        self,
        params: MFParams | None = None,
        *,
        feedback: Literal["likes", "rated"] = "likes",
        like_threshold: int = LIKE_THRESHOLD,
        seed: int = 0,
        num_threads: int = 1,
    ) -> None:
        params = params or MFParams()
        if feedback not in FEEDBACK:
            raise ValueError(f"feedback must be one of {FEEDBACK}, got {feedback!r}")
        self.params = params
        self.algorithm, self.factors = params.algorithm, params.factors
        self.regularization = params.resolved_regularization
        self.iterations = params.resolved_iterations
        self.alpha, self.learning_rate = params.alpha, params.learning_rate
        self.feedback, self.like_threshold = feedback, like_threshold
        self.seed, self.num_threads = seed, num_threads
        self.user_factors_: np.ndarray | None = None
        self.item_factors_: np.ndarray | None = None
        self.user_ids_: np.ndarray | None = None
        self.movie_ids_: np.ndarray | None = None
        self.fit_time_s: float | None = None

    def _model(self):
        """A fresh ``implicit`` CPU model with this configuration (import it before limiting
        BLAS threads: libraries loaded later escape the limit)."""
        from implicit.cpu.als import AlternatingLeastSquares
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        if self.algorithm == "als":
            # the library's confidence is alpha * value; we pass values 1 + alpha and alpha 1
            return AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=1.0,
                iterations=self.iterations,
                num_threads=self.num_threads,
                random_state=self.seed,
            )
        return BayesianPersonalizedRanking(
            factors=self.factors,
            learning_rate=self.learning_rate,
            regularization=self.regularization,
            iterations=self.iterations,
            num_threads=self.num_threads,
            random_state=self.seed,
        )

    def fit(
        self,
        ratings: pd.DataFrame,
        *,
        user_ids: Sequence[int] | np.ndarray | None = None,
        movie_ids: Sequence[int] | np.ndarray | None = None,
    ) -> MatrixFactorization:
        """Fit on ``ratings`` (``user_id``, ``movie_id``, ``rating``).

        ``user_ids`` / ``movie_ids`` fix the rows and columns (default: every user and
        every movie in ``ratings``, sorted); a movie without feedback still gets factors
        (pulled to zero by the penalty), so it can be scored.
        """
        import implicit.cpu.als  # noqa: F401  (loads its BLAS before the thread limit below)
        from threadpoolctl import threadpool_limits

        start = time.perf_counter()
        self.user_ids_ = np.asarray(np.sort(ratings["user_id"].unique()) if user_ids is None else user_ids)
        self.movie_ids_ = np.asarray(
            np.sort(ratings["movie_id"].unique()) if movie_ids is None else movie_ids
        )
        matrix = interaction_matrix(
            ratings,
            self.user_ids_,
            self.movie_ids_,
            feedback=self.feedback,
            like_threshold=self.like_threshold,
        )
        if self.algorithm == "als":
            matrix.data[:] = 1.0 + self.alpha  # Hu et al.'s confidence 1 + alpha * r, r = 1
        with threadpool_limits(1, "blas"):
            model = self._model()
            model.fit(matrix, show_progress=False)
        self.user_factors_ = np.asarray(model.user_factors)
        self.item_factors_ = np.asarray(model.item_factors)
        self._row = pd.Index(self.user_ids_)
        self._col = pd.Index(self.movie_ids_)
        self.fit_time_s = time.perf_counter() - start
        return self

    def _require_fit(self) -> None:
        if self.user_factors_ is None:
            raise RuntimeError("MatrixFactorization.fit() must be called before scoring")

    def score_batch(
        self, user_ids: Sequence[int] | np.ndarray, movie_ids: Sequence[int] | np.ndarray
    ) -> np.ndarray:
        """``(n_users, n_movies)`` float64 dot products; ``NaN`` for movies not fitted.

        Raises ``KeyError`` for a user that was not a row of the fit.
        """
        self._require_fit()
        user_ids, movie_ids = np.asarray(user_ids), np.asarray(movie_ids)
        rows = self._row.get_indexer(user_ids)
        if (rows < 0).any():
            raise KeyError(f"users not in the fitted matrix: {user_ids[rows < 0][:10].tolist()}")
        cols = self._col.get_indexer(movie_ids)
        found = cols >= 0
        scores = self.user_factors_[rows].astype(np.float64) @ self.item_factors_[np.where(found, cols, 0)].T
        scores[:, ~found] = np.nan
        return scores

    def score(self, user_id: int, movie_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """``(n_movies,)`` scores of one user."""
        return self.score_batch([user_id], movie_ids)[0]
