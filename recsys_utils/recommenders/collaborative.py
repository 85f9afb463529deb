"""Adapters of the models that read a user x movie rating matrix: the report's RBM and
autoencoder, and matrix factorisation.

Each is fitted either per user (the report's protocol: the user's held-out ratings hidden,
everything else visible) or once on every user's training ratings of a split (the ranking
protocol); the two protocols differ only where a comment says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from recsys_utils import report
from recsys_utils.features import rating_matrix
from recsys_utils.recommenders.base import Recommender, TrainingRatings

__all__ = [
    "RATING_LIKE_THRESHOLD",
    "RATING_SCALE",
    "RBMRecommender",
    "AutoencoderRecommender",
    "MFRecommender",
]

#: A predicted rating of this many stars or more counts as a like for the RBM and autoencoder.
RATING_LIKE_THRESHOLD: float = 3.5
#: The top of the star scale: the RBM's inputs and the per-user autoencoder's scores are
#: ratings divided by it.
RATING_SCALE: float = 5.0


def _columns(universe: np.ndarray, movie_ids: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column of each of ``movie_ids`` in ``universe`` and a mask of those found, ``(n,)`` each."""
    cols = pd.Index(universe).get_indexer(np.asarray(movie_ids))
    return np.where(cols >= 0, cols, 0), cols >= 0


class RBMRecommender(Recommender):
    """The report's RBM (:class:`recsys_utils.models.rbm.RBM`, Appendix A). Scores are the
    reconstruction of a user's visible row (rating/5); one of 0.7 (3.5 stars) or more
    predicts a like; movies outside the visible units get ``NaN``.

    Per user: visible units are every movie of ``movies.dat``; trained on the first
    ``n_train_users`` users (by id). The report means 1,500 users, but its loop appends one
    more before it stops; with 1,501 our first epoch's reconstruction error matches the
    printed 0.027124 to 5e-7 (with 1,500: 0.0286), so the default is the 1,501 that the
    report's run used. Fitted once: every split user's training row, over ``split.movie_ids``.
    ``rbm_kw`` go to :class:`~recsys_utils.models.rbm.RBM` (the report's settings by default).
    """

    name = "rbm"
    like_threshold = RATING_LIKE_THRESHOLD / RATING_SCALE

    def __init__(
        self,
        *,
        n_train_users: int | None = None,
        epochs: int = report.RBM_EPOCHS,
        seed: int = 0,
        verbose: int = 0,
        **rbm_kw: Any,
    ) -> None:
        super().__init__()
        self.n_train_users = report.RBM_LOOP_N_TRAIN_USERS if n_train_users is None else n_train_users
        self.epochs, self.seed, self.verbose, self.rbm_kw = epochs, seed, verbose, rbm_kw
        self.rbm = None
        self.matrix = None  # the rows it can score
        self._columns: pd.Index | None = None
        self._input: np.ndarray | None = None

    def _train(self, values: np.ndarray) -> None:
        from recsys_utils.models.params import split_params
        from recsys_utils.models.rbm import RBM, RBMParams

        params, rest = split_params(RBMParams, {"epochs": self.epochs, **self.rbm_kw})
        self.rbm = RBM(params, seed=self.seed, verbose=bool(self.verbose), **rest)
        self.rbm.fit(values)
        self.epoch_times_s = list(self.rbm.epoch_times_s)
        self.history = {"reconstruction_mse": list(self.rbm.errors_)}

    def _fit_user(self) -> None:
        data = self._require_data()
        visible = self.visible_ratings()
        movie_ids = data.movies["movie_id"].to_numpy()
        train_users = np.sort(data.users["user_id"].to_numpy())[: self.n_train_users]
        self._train(
            rating_matrix(visible, user_ids=train_users, movie_ids=movie_ids, scale=RATING_SCALE).values
        )
        self.fit_time_s = self.rbm.fit_time_s
        self.matrix = rating_matrix(visible, user_ids=[self.user_id], movie_ids=movie_ids, scale=RATING_SCALE)
        self._input = self.matrix.values
        self._columns = pd.Index(movie_ids)

    def _fit_split(self, split: TrainingRatings) -> None:
        self.matrix = rating_matrix(
            split.train, user_ids=split.user_ids, movie_ids=split.movie_ids, scale=RATING_SCALE
        )
        self._train(self.matrix.values)
        self._columns = pd.Index(split.movie_ids)

    def score_batch(
        self, user_ids: Sequence[int] | np.ndarray, movie_ids: Sequence[int] | np.ndarray
    ) -> np.ndarray:
        self._require_fit()
        rows = [self.matrix.row_index(u) for u in np.asarray(user_ids).reshape(-1)]
        recon = self.rbm.reconstruct(self.matrix.values[rows])
        cols, found = _columns(self.matrix.movie_ids, movie_ids)
        return np.where(found, recon[:, cols], np.nan).astype(np.float64)


class AutoencoderRecommender(Recommender):
    """The report's autoencoder (:class:`recsys_utils.models.autoencoder.RatingAutoencoder`,
    Appendix A) over the user x rated-movie matrix, raw ratings in, ratings out; movies no one
    rated are not columns and get ``NaN``.

    Per user: every user's visible row; trained on a seeded ``train_fraction`` (80 %) of the
    users, the rest give the test MSE, as the report's ``train_test_split``. Scores are the
    predicted ratings divided by 5 and clipped to [0, 1]; 0.7 (3.5 stars) or more predicts a
    like. Fitted once: every split user's training row, fed in a seeded shuffled order (the
    report shuffles users too), no test users; scores are the raw predicted ratings (no clip,
    so that no ties are made at the top). Its columns are the movies of the split's
    **training** ratings only (a movie rated only in held-out rows is no column and scores
    ``NaN``, ranked last), so nothing it fits depends on a held-out rating.
    ``on_epoch_end(epochs_done, recommender)`` is called after each epoch (a validation curve).
    ``ae_kw`` go to :class:`RatingAutoencoder`.
    """

    name = "autoencoder"
    like_threshold = RATING_LIKE_THRESHOLD / RATING_SCALE

    def __init__(
        self,
        *,
        epochs: int = report.AE_EPOCHS,
        batch_size: int = report.AE_BATCH_SIZE,
        seed: int = 0,
        verbose: int = 0,
        train_fraction: float = report.AE_TRAIN_FRACTION,
        on_epoch_end: Callable[[int, AutoencoderRecommender], None] | None = None,
        **ae_kw: Any,
    ) -> None:
        super().__init__()
        self.epochs, self.batch_size, self.seed, self.verbose = epochs, batch_size, seed, verbose
        self.on_epoch_end = on_epoch_end
        self.train_fraction, self.ae_kw = train_fraction, ae_kw
        self.autoencoder = None
        self.matrix = None
        self._input: np.ndarray | None = None
        self._scale: float | None = RATING_SCALE

    def _train(self, train: np.ndarray, test: np.ndarray | None) -> None:
        from recsys_utils.models.autoencoder import RatingAutoencoder

        self.autoencoder = RatingAutoencoder(**self.ae_kw)
        hook = None
        if self.on_epoch_end is not None:

            def hook(done: int) -> None:
                self.on_epoch_end(done, self)

        self.autoencoder.fit(
            train,
            test,
            epochs=self.epochs,
            batch_size=self.batch_size,
            seed=self.seed,
            verbose=self.verbose,
            on_epoch_end=hook,
        )
        self.epoch_times_s = list(self.autoencoder.epoch_times_s)
        self.history = {k: list(v) for k, v in self.autoencoder.history.items()}

    def _fit_user(self) -> None:
        from recsys_utils.models.autoencoder import split_users

        data = self._require_data()
        all_movies = np.sort(data.ratings["movie_id"].unique())
        self.matrix = rating_matrix(
            self.visible_ratings(), movie_ids=all_movies, user_ids=np.sort(data.ratings["user_id"].unique())
        )
        train_idx, test_idx = split_users(self.matrix.shape[0], self.train_fraction, seed=self.seed)
        values = self.matrix.values
        self._train(values[train_idx], values[test_idx])
        self.fit_time_s = self.autoencoder.fit_time_s
        self._input = values[[self.matrix.row_index(self.user_id)]]
        self._scale = RATING_SCALE

    def _fit_split(self, split: TrainingRatings) -> None:
        # Columns: movies with a training rating (not split.rated_movie_ids, which would make a
        # column of every movie rated only in held-out rows).
        trained_movies = np.unique(split.train["movie_id"].to_numpy()).astype(np.int32)
        self.matrix = rating_matrix(split.train, user_ids=split.user_ids, movie_ids=trained_movies)
        # The order users are fed to training (not a split of anyone's ratings).
        order = np.random.RandomState(self.seed).permutation(self.matrix.shape[0])
        self._train(self.matrix.values[order], None)
        self._scale = None

    def score_batch(
        self, user_ids: Sequence[int] | np.ndarray, movie_ids: Sequence[int] | np.ndarray
    ) -> np.ndarray:
        self._require_fit()
        rows = [self.matrix.row_index(u) for u in np.asarray(user_ids).reshape(-1)]
        predicted = np.asarray(self.autoencoder.predict(self.matrix.values[rows]))
        cols, found = _columns(self.matrix.movie_ids, movie_ids)
        if self._scale is not None:
            predicted = np.clip(predicted / self._scale, 0.0, 1.0)
        return np.where(found, predicted[:, cols], np.nan).astype(np.float64)


class MFRecommender(Recommender):
    """:class:`recsys_utils.models.mf.MatrixFactorization` (not in the report). Scores are
    predicted preferences (ALS: about 0..1, not probabilities); ``like_threshold`` 0.5.

    Per user: fitted on every visible rating (all users; the user's held-out ratings hidden),
    over every movie of ``movies.dat``. Fitted once: every split user's training ratings over
    ``split.movie_ids``, likes at ``split.like_threshold``. ``mf_kw`` go to the model.
    """

    name = "mf"

    def __init__(self, **mf_kw: Any) -> None:
        super().__init__()
        self.mf_kw = mf_kw
        self.mf = None

    def _fit_user(self) -> None:
        from recsys_utils.models.mf import MatrixFactorization, MFParams
        from recsys_utils.models.params import split_params

        data = self._require_data()
        params, rest = split_params(MFParams, self.mf_kw)
        self.mf = MatrixFactorization(params, **rest).fit(
            self.visible_ratings(),
            user_ids=np.sort(data.ratings["user_id"].unique()),
            movie_ids=data.movies["movie_id"].to_numpy(),
        )
        self.fit_time_s = self.mf.fit_time_s

    def _fit_split(self, split: TrainingRatings) -> None:
        from recsys_utils.models.mf import MatrixFactorization, MFParams
        from recsys_utils.models.params import split_params

        params, rest = split_params(MFParams, self.mf_kw)
        self.mf = MatrixFactorization(params, like_threshold=split.like_threshold, **rest)
        self.mf.fit(split.train, user_ids=split.user_ids, movie_ids=split.movie_ids)

    def score_batch(
        self, user_ids: Sequence[int] | np.ndarray, movie_ids: Sequence[int] | np.ndarray
    ) -> np.ndarray:
        self._require_fit()
        return self.mf.score_batch(np.asarray(user_ids).reshape(-1), movie_ids)
