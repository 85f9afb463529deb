"""Every user's own recommender, several seeds, and paired statistics between models.

The report trains one network for one user (user 1) once, and reads a 2-point accuracy gap as
a win for its modified cell. This module runs the same per-user experiment for many users and
seeds, on an order-independent held-out split, and says how sure one can be of a difference.

Protocol (:func:`run_population`)
---------------------------------
- **Rows.** A user's rows are their ratings as the report builds them (18 genre flags in the
  report's attribute order, like = rating >= 4), **sorted by movie id**, so nothing depends
  on the order of ``ratings.dat`` (users 3000+ of our ML-1M copy have no original order).
- **Split, per seed.** :meth:`recsys_utils.features.UserDataset.stratified_split` with the
  seed: 65 % of a user's likes and 65 % of their dislikes train (rounded half up, each class
  on both sides when it has two rows or more), the rest is held out; the same seed gives the
  same split as
  :func:`recsys_utils.evaluation.splits.ranking_split`, so one trained network serves both the
  like/dislike metrics here and the ranking metrics of :mod:`recsys_utils.evaluation.ranking`.
- **Models.** The recurrent recommenders are trained by :func:`recsys_utils.batched.train_users`
  (on a GPU by its TensorFlow twin, :func:`recsys_utils.batched_tf.train_users`: see
  :class:`PopulationSpec`'s ``trainer``) (the report's modified-LSTM architecture: Embedding(200, 50) -> Dropout(0.5) -> cell(18)
  -> Dropout(0.5) -> Dense(1, Keras 2 hard sigmoid), Adam, 100 epochs, batch 10) with the cell
  swapped: ``"modified"`` (the report's, f = 0), ``"nfg"`` (f = 1), ``"lstm"``, ``"gru"``.
  The seed sets the split, the initial weights, the shuffles and the dropout masks.
  ``"logistic"`` is an L2-regularised logistic regression on the 18 flags (scikit-learn,
  ``C = 1``, no recurrence); ``"majority"`` predicts the majority label of the user's training
  rows (ties: like) with a constant score.
- **Metrics, on each user's held-out rows only**
  (:func:`~recsys_utils.evaluation.metrics.held_out_metrics_defined`). Accuracy (like iff
  score > 0.5, as Keras' ``accuracy`` metric), balanced accuracy (the mean recall of the two
  classes; 0.5 for a constant prediction) and ROC AUC, both ``NaN`` when the held-out rows
  hold one class only (a user with fewer than two rows of a class).

Statistics
----------
:mod:`recsys_utils.evaluation.paired` (per-user means, per-seed agreement, wins by group;
re-exported here) and the statistical plan of :mod:`recsys_utils.evaluation.plan`.
Model names resolve through :mod:`recsys_utils.recommenders.registry`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recsys_utils import features, report
from recsys_utils.evaluation.metrics import METRICS, held_out_metrics_defined, majority_label
from recsys_utils.evaluation.paired import (
    per_user_means,
    seed_agreement,
    wins_by,
)
from recsys_utils.features import REPORT_TRAIN_FRACTION, UserDataset, user_datasets
from recsys_utils.models.logistic import fit_logistic
from recsys_utils.recommenders.genre import GenreScores
from recsys_utils.recommenders.registry import CELL_NAMES, POPULATION_KEYS, label, population_key

if TYPE_CHECKING:  # pragma: no cover
    from recsys_utils.batched import BatchedResult
    from recsys_utils.data import MovieLens

__all__ = [
    "RECURRENT_MODELS",
    "OTHER_MODELS",
    "MODELS",
    "MODEL_LABELS",
    "METRICS",
    "sample_users",
    "movie_ordered_datasets",
    "SeedRows",
    "split_rows",
    "fit_logistic",
    "held_out_metrics",
    "PopulationRun",
    "PopulationSpec",
    "run_population",
    "per_user_means",
    "seed_agreement",
    "wins_by",
    "GenreScores",
]

#: Models :func:`run_population` knows, by their names in its tables
#: (:data:`recsys_utils.recommenders.registry.POPULATION_KEYS`): the batched cells, then the
#: two non-recurrent ones. Any alias of the registry is accepted too (``"report"``,
#: ``"modified-lstm"`` -> ``"modified"``).
RECURRENT_MODELS: tuple[str, ...] = CELL_NAMES
OTHER_MODELS: tuple[str, ...] = tuple(m for m in POPULATION_KEYS if m not in CELL_NAMES)
MODELS: tuple[str, ...] = POPULATION_KEYS

#: Names for tables and figures (the registry's labels).
MODEL_LABELS: dict[str, str] = {m: label(m) for m in MODELS}

#: :func:`recsys_utils.evaluation.metrics.held_out_metrics_defined` under its old name:
#: accuracy, balanced accuracy, ROC AUC (both ``NaN`` for a one-class held-out set) and predicted
#: like share of held-out ``scores (n,)`` against ``y (n,)`` (like iff score > 0.5,
#: :func:`~recsys_utils.evaluation.metrics.predict_like`).
held_out_metrics = held_out_metrics_defined


# ------------------------------------------------------------------------------ users
def sample_users(data: MovieLens, n_users: int | None = None, *, seed: int = 0) -> np.ndarray:
    """:func:`recsys_utils.features.sample_users` of every user with a rating: ``n_users``
    ids, ascending; every user when ``None`` or at least the number of users."""
    n_all = data.ratings["user_id"].nunique()
    if n_users is not None and n_users >= n_all:
        n_users = None
    return features.sample_users(data, n_users, seed=seed)


def movie_ordered_datasets(data: MovieLens, user_ids: Sequence[int] | np.ndarray) -> list[UserDataset]:
    """:func:`recsys_utils.features.user_datasets` with each user's rows sorted by movie id."""
    return [
        ds.subset(np.argsort(ds.movie_ids, kind="stable"))
        for ds in user_datasets(data, [int(u) for u in user_ids])
    ]


@dataclass
class SeedRows:
    """Every user's train and held-out rows for one split seed (lists aligned with ``user_ids``).

    ``X_*`` are ``(n, 18)`` uint8 flags, ``y_*`` ``(n,)`` float32 labels (1 = like).
    """

    seed: int
    user_ids: np.ndarray
    X_train: list[np.ndarray]
    y_train: list[np.ndarray]
    X_test: list[np.ndarray]
    y_test: list[np.ndarray]

    @property
    def user_steps(self) -> int:
        """Optimizer steps of one epoch of every user at the report's batch size (10)."""
        return int(sum(math.ceil(len(y) / report.SEQUENCE_BATCH_SIZE) for y in self.y_train))


def split_rows(
    datasets: Sequence[UserDataset], seed: int, train_fraction: float = REPORT_TRAIN_FRACTION
) -> SeedRows:
    """Split every user's rows with :meth:`UserDataset.stratified_split` ``(train_fraction, seed)``."""
    rows = SeedRows(seed, np.array([ds.user_id for ds in datasets], np.int64), [], [], [], [])
    for ds in datasets:
        split = ds.stratified_split(train_fraction, seed)
        X = ds.X.astype(np.uint8)
        rows.X_train.append(X[split.train])
        rows.y_train.append(ds.y[split.train])
        rows.X_test.append(X[split.test])
        rows.y_test.append(ds.y[split.test])
    return rows


@dataclass
class PopulationRun:
    """What :func:`run_population` measured.

    Attributes:
        table: one row per (user, seed, model): ``user_id``, ``seed``, ``model``,
            ``n_ratings``, ``n_train``, ``n_test``, ``train_like_rate``, ``test_like_rate``,
            the :data:`METRICS` and ``predicted_like_share``.
        timings: one row per (model, seed): ``train_time_s`` (wall, compilation excluded),
            ``users``, ``user_steps`` and ``us_per_user_step``.
        results: ``{(model, seed): BatchedResult}`` of the recurrent models (kept when
            ``keep_results``), e.g. to rank movies with :class:`GenreScores`.
        config: the settings.
    """

    table: pd.DataFrame
    timings: pd.DataFrame
    results: dict[tuple[str, int], BatchedResult] = field(default_factory=dict, repr=False)
    config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PopulationSpec:
    """What a population run trains: the settings of :func:`run_population` that change its
    results (threads, progress and printing do not).

    Attributes:
        models: names from :data:`MODELS` (or registry aliases of them).
        seeds: one split and one training per seed.
        epochs: epochs of the recurrent models (the report: 100).
        train_fraction: the share of each user's rows that trains (0.65).
        train_kw: extra settings of :func:`recsys_utils.batched.train_users` (fields of its
            ``Network`` or ``Training``, e.g. ``{"units": 100}``), JSON-able values only.
        trainer: the multi-user trainer of the recurrent models, ``"numba"`` or ``"tf"``
            (:data:`recsys_utils.device.TRAINERS`); default ``None``, the one that suits the
            device of ``RECSYS_DEVICE`` (:func:`recsys_utils.device.trainer_name`: Numba on a
            CPU, TensorFlow on a GPU). The two draw different random numbers (the same
            networks and training, results equal in distribution), so the trainer is part of
            what a stored run is keyed by.
    """

    models: tuple[str, ...] = ("modified", "lstm", "majority")
    seeds: tuple[int, ...] = (0, 1, 2)
    epochs: int = report.SEQUENCE_EPOCHS
    train_fraction: float = REPORT_TRAIN_FRACTION
    train_kw: dict[str, Any] = field(default_factory=dict)
    trainer: str | None = None

    def __post_init__(self) -> None:
        from recsys_utils.device import TRAINERS

        if self.trainer is not None and self.trainer not in TRAINERS:
            raise ValueError(f"trainer must be one of {TRAINERS} or None, got {self.trainer!r}")

    def resolved_trainer(self) -> str:
        """``trainer``, or the one that suits the device when it is ``None`` (which, for
        ``RECSYS_DEVICE=auto``, asks TensorFlow for its GPUs)."""
        if self.trainer is not None:
            return self.trainer
        from recsys_utils.device import trainer_name

        return trainer_name()

    def resolved(self) -> PopulationSpec:
        """This spec with its trainer named (:meth:`resolved_trainer`) when a model is recurrent:
        what to hand to another process (a worker must train with the caller's trainer, and
        need not import TensorFlow to find it)."""
        try:
            keys = {population_key(m) for m in self.models}
        except ValueError:  # an unknown model: run_population refuses it, naming the models
            return self
        if self.trainer is not None or not keys & set(RECURRENT_MODELS):
            return self
        return replace(self, trainer=self.resolved_trainer())

    def shard_params(self, model: str, seed: int) -> dict[str, Any]:
        """The settings every stored shard of ``model`` and ``seed`` shares (the experiment
        store's population runs): the logistic and majority models ignore the epochs and the
        training keywords."""
        recurrent = model in RECURRENT_MODELS
        return {
            "model": model,
            "seed": int(seed),
            "train_fraction": float(self.train_fraction),
            "epochs": int(self.epochs) if recurrent else None,
            "train_kw": dict(self.train_kw) if recurrent else {},
            "trainer": self.resolved_trainer() if recurrent else None,
        }


def run_population(
    data: MovieLens,
    user_ids: Sequence[int] | np.ndarray,
    spec: PopulationSpec | None = None,
    *,
    keep_results: bool = False,
    n_threads: int | None = None,
    progress: bool = True,
    verbose: bool = False,
) -> PopulationRun:
    """Train and score every model of ``spec`` for every user and seed (module docstring).

    Args:
        data: MovieLens (ML-1M or the synthetic twin).
        user_ids: ``(n_users,)`` users, e.g. from :func:`sample_users`.
        spec: the models, seeds, epochs, training fraction and training settings (default
            :class:`PopulationSpec()`: the report's modified cell, the LSTM cell and the
            majority class, seeds 0-2, 100 epochs, 65 % training rows).
        keep_results: keep the trained recurrent networks in :attr:`PopulationRun.results`.
        n_threads, progress: passed to the multi-user trainer (``spec.trainer``: by default
            :func:`recsys_utils.batched.train_users` on a CPU)
            (``progress``: a tqdm bar per training, on stderr).
        verbose: print one line per (seed, model) when it is done, on stdout (the notebooks'
            progress report: a bar's redraws would fill a committed notebook).
    """
    from recsys_utils.device import multi_user_trainer

    spec = spec or PopulationSpec()
    seeds, epochs, train_fraction, train_kw = spec.seeds, spec.epochs, spec.train_fraction, spec.train_kw
    try:
        models = [population_key(m) for m in spec.models]
    except ValueError as err:
        raise ValueError(
            f"unknown models in {list(spec.models)}; expected names from {MODELS} ({err})"
        ) from None
    if not len(seeds):
        raise ValueError("seeds must name at least one seed")
    trainer = spec.resolved_trainer() if set(models) & set(RECURRENT_MODELS) else None
    train_users = multi_user_trainer(trainer=trainer) if trainer else None
    datasets = movie_ordered_datasets(data, user_ids)
    n_ratings = np.array([len(ds) for ds in datasets])
    records: list[pd.DataFrame] = []
    timings: list[dict[str, Any]] = []
    kept: dict[tuple[str, int], BatchedResult] = {}
    for seed in seeds:
        rows = split_rows(datasets, int(seed), train_fraction)
        base = pd.DataFrame(
            {
                "user_id": rows.user_ids,
                "seed": int(seed),
                "n_ratings": n_ratings,
                "n_train": [len(y) for y in rows.y_train],
                "n_test": [len(y) for y in rows.y_test],
                "train_like_rate": [float(y.mean()) if len(y) else math.nan for y in rows.y_train],
                "test_like_rate": [float(y.mean()) if len(y) else math.nan for y in rows.y_test],
            }
        )
        for model in models:
            start = time.perf_counter()
            if model in RECURRENT_MODELS:
                result = train_users(
                    rows.X_train,
                    rows.y_train,
                    rows.user_ids,
                    cell=model,
                    epochs=epochs,
                    seed=int(seed),
                    n_threads=n_threads,
                    progress=progress,
                    **train_kw,
                )
                scores = result.predict_proba(rows.X_test, n_threads=n_threads)
                train_time = result.train_time_s
                if keep_results:
                    kept[(model, int(seed))] = result
            elif model == "logistic":
                scores = [fit_logistic(X, y, Xt) for X, y, Xt in zip(rows.X_train, rows.y_train, rows.X_test)]
                train_time = time.perf_counter() - start
            else:
                scores = [
                    np.full(len(yt), float(majority_label(y)), np.float32)
                    for y, yt in zip(rows.y_train, rows.y_test)
                ]
                train_time = time.perf_counter() - start
            metrics = pd.DataFrame([held_out_metrics(y, s) for y, s in zip(rows.y_test, scores)])
            records.append(pd.concat([base.assign(model=model), metrics], axis=1))
            steps = rows.user_steps * epochs if model in RECURRENT_MODELS else 0
            timings.append(
                {
                    "model": model,
                    "seed": int(seed),
                    "users": len(rows.user_ids),
                    "train_time_s": train_time,
                    "user_steps": steps,
                    "us_per_user_step": 1e6 * train_time / steps if steps else math.nan,
                }
            )
            if verbose:
                print(
                    f"seed {seed}: {model} done for {len(rows.user_ids)} users ({train_time:.1f} s)",
                    flush=True,
                )
    table = pd.concat(records, ignore_index=True)
    first = ["user_id", "seed", "model"]
    table = table[first + [c for c in table.columns if c not in first]]
    config = {
        "models": list(models),
        "seeds": [int(s) for s in seeds],
        "epochs": epochs,
        "train_fraction": train_fraction,
        "n_users": len(datasets),
        "trainer": trainer,
        **train_kw,
    }
    return PopulationRun(table, pd.DataFrame(timings), kept, config)
