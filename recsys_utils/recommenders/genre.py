"""Genre-only adapters: the report's per-user classifiers, and the batched trainer's networks.

Both see a movie only through its 18 genre flags, so movies with the same flags score the same.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recsys_utils import report
from recsys_utils.data.genres import REPORT_GENRES
from recsys_utils.features import genre_matrix, user_dataset
from recsys_utils.recommenders.base import Recommender
from recsys_utils.recommenders.registry import resolve

if TYPE_CHECKING:  # pragma: no cover
    from recsys_utils.batched import BatchedResult
    from recsys_utils.data import MovieLens

__all__ = ["GenreSequenceRecommender", "GenreScores"]


class GenreSequenceRecommender(Recommender):
    """The report's per-user classifiers: 18 genre attributes in, like probability out.

    ``kind`` is any model name or alias with a Keras kind
    (:attr:`~recsys_utils.recommenders.registry.ModelSpec.sequence_kind`; ``"lstm"`` and
    ``"modified-lstm"`` are the report's two); per user only.
    """

    def __init__(
        self,
        kind: str = "modified-lstm",
        *,
        epochs: int = report.SEQUENCE_EPOCHS,
        batch_size: int = report.SEQUENCE_BATCH_SIZE,
        seed: int = 0,
        verbose: int = 0,
        **build_kw: Any,
    ) -> None:
        super().__init__()
        spec = resolve(kind)
        if spec.sequence_kind is None:
            raise ValueError(f"model {kind!r} is not a genre network with a Keras kind")
        self.name = spec.name
        self.kind, self.epochs, self.batch_size = spec.sequence_kind, epochs, batch_size
        self.seed, self.verbose, self.build_kw = seed, verbose, build_kw
        self.classifier = None
        self._genres: pd.DataFrame | None = None

    def _fit_user(self) -> None:
        from recsys_utils.models.sequence import SequenceClassifier

        data = self._require_data()
        ds = user_dataset(data, self.user_id)
        train = ~np.isin(ds.movie_ids, self.heldout_movie_ids)
        self._genres = genre_matrix(data.movies, ds.attributes)
        self.classifier = SequenceClassifier(
            self.kind, n_attributes=ds.X.shape[1], seed=self.seed, **self.build_kw
        )
        self.classifier.fit(
            ds.X[train], ds.y[train], epochs=self.epochs, batch_size=self.batch_size, verbose=self.verbose
        )
        self.fit_time_s = self.classifier.fit_time_s
        self.epoch_times_s = list(self.classifier.epoch_times_s)
        self.history = dict(self.classifier.history)

    def score_batch(
        self, user_ids: Sequence[int] | np.ndarray, movie_ids: Sequence[int] | np.ndarray
    ) -> np.ndarray:
        self._require_fit()
        n_rows = self._check_own_user(user_ids)
        X = self._genres.loc[np.asarray(movie_ids)].to_numpy(np.float32)
        row = np.asarray(self.classifier.predict_proba(X), dtype=np.float64).reshape(-1)
        return np.tile(row, (n_rows, 1))


class GenreScores(Recommender):
    """Every user's genre network from :func:`recsys_utils.batched.train_users`, already fitted
    (once, for many users), as a :class:`Recommender` for
    :func:`recsys_utils.evaluation.ranking.evaluate_ranking`.

    A genre-only model gives one score per distinct row of 18 flags (ML-1M: about 300), so
    the networks are run once per distinct row and the scores looked up per movie.
    """

    def __init__(
        self,
        result: BatchedResult,
        data: MovieLens,
        *,
        name: str | None = None,
        genres: Sequence[str] = REPORT_GENRES,
        n_threads: int | None = None,
    ) -> None:
        super().__init__()
        attributes = genre_matrix(data.movies, genres)
        patterns, inverse = np.unique(attributes.to_numpy(np.uint8), axis=0, return_inverse=True)
        self.name = name or str(result.config.get("cell", "genre model"))
        self.n_patterns = len(patterns)
        self._movie_col = pd.Series(inverse.reshape(-1), index=attributes.index)
        self._row = {int(u): i for i, u in enumerate(result.user_ids)}
        start = time.perf_counter()
        probs = result.predict_proba([patterns] * len(result.user_ids), n_threads=n_threads)
        self._scores = np.stack(probs) if probs else np.zeros((0, len(patterns)), np.float32)
        self.score_time_s = time.perf_counter() - start
        self.fit_time_s = result.train_time_s

    def _require_fit(self) -> None:
        """Built from trained networks: always fitted."""

    def score_batch(
        self, user_ids: Sequence[int] | np.ndarray, movie_ids: Sequence[int] | np.ndarray
    ) -> np.ndarray:
        rows = []
        for u in np.asarray(user_ids).reshape(-1):
            try:
                rows.append(self._row[int(u)])
            except KeyError:
                raise KeyError(f"user {u} has no trained network here") from None
        cols = self._movie_col.loc[np.asarray(movie_ids)].to_numpy()
        return self._scores[np.asarray(rows, dtype=np.int64)[:, None], cols[None, :]]

    def __call__(self, user_id: int, movie_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        return self.score_batch([user_id], movie_ids)[0]
