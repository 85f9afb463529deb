"""Updating a trained model with new ratings vs retraining it (report 4.1: a recurrent model
can be updated easily).

:func:`arrival_split` cuts a user's ratings, in the order the user gave them, into those known
at first, those that arrive later and the latest ones, held out as the test (the future the
models must predict); :func:`update_experiment` compares keeping the first model, continuing
it on the new rows (:func:`recsys_utils.interpret.models.update_user_models`) and retraining
from scratch, for one or more training seeds. Only users with rating times are accepted
(:mod:`recsys_utils.interpret.timed`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from recsys_utils import report
from recsys_utils.evaluation import classification_metrics
from recsys_utils.features import UserDataset, user_datasets
from recsys_utils.interpret.models import (
    UPDATE_EPOCHS,
    Trainer,
    UserModels,
    train_user_models,
    update_user_models,
)
from recsys_utils.interpret.timed import check_timed_users, time_order, time_orders

if TYPE_CHECKING:  # pragma: no cover
    from recsys_utils.data import MovieLens

#: Share of a user's rows (the latest) held out for testing in :func:`arrival_split`, by default.
TEST_FRACTION: float = 0.3
#: Share of the other rows (the earliest) known when the model is first trained, by default.
INITIAL_FRACTION: float = 0.5
#: Strategies compared by :func:`update_experiment`, in table order.
UPDATE_STRATEGIES: tuple[str, ...] = (
    "initial model (stale)",
    "update: new rows",
    "update: old + new rows",
    "retrain from scratch",
)


@dataclass(frozen=True)
class ArrivalSplit:
    """A user's rows as they arrive: an initial batch, a later batch, then the test rows.

    Attributes:
        initial: ``(n_i,)`` row indices known when the model is first trained (the earliest).
        new: ``(n_n,)`` row indices that arrive afterwards (rated after the initial ones).
        test: ``(n_t,)`` held-out row indices, the latest (rated after all the others),
            never trained on.
    """

    initial: np.ndarray
    new: np.ndarray
    test: np.ndarray


def arrival_split(
    data: MovieLens,
    ds: UserDataset,
    *,
    test_fraction: float = TEST_FRACTION,
    initial_fraction: float = INITIAL_FRACTION,
    max_rows: int | None = None,
    order: np.ndarray | None = None,
) -> ArrivalSplit:
    """Split a user's rows, in the order the user rated them, into initial / new / test.

    The rows are put in time order (:func:`recsys_utils.interpret.time_order`: users
    with rating times only) and cut to the first ``max_rows`` (all when ``None``). Of these
    ``n`` rows the last ``max(1, round(test_fraction * n))`` are the test rows; of the ``m``
    earlier ones the first ``int(initial_fraction * m)`` are the initial batch, the rest
    arrive later. Nothing is random: every seed sees the same rows. ``order``: the user's
    time order when already computed (:func:`recsys_utils.interpret.time_orders`).
    """
    if not 0 < test_fraction < 1 or not 0 < initial_fraction < 1:
        raise ValueError("test_fraction and initial_fraction must be in (0, 1)")
    if max_rows is not None and max_rows < 3:
        raise ValueError(f"max_rows must be at least 3 or None, got {max_rows!r}")
    order = (time_order(data, ds) if order is None else np.asarray(order, np.int64))[:max_rows]
    n_test = max(1, int(round(test_fraction * len(order))))
    rest, test = order[: len(order) - n_test], order[len(order) - n_test :]
    n_init = int(initial_fraction * len(rest))
    if n_init < 1 or n_init >= len(rest):
        raise ValueError(f"user {ds.user_id}: too few rows ({len(order)}) for this split")
    return ArrivalSplit(rest[:n_init], rest[n_init:], test)


@dataclass(frozen=True)
class ArrivalProtocol:
    """The cut of :func:`arrival_split`: ``test_fraction`` (the latest rows held out),
    ``initial_fraction`` (of the other rows, the earliest, known at first) and ``max_rows``
    (each user's first rows in time used; ``None``: all)."""

    test_fraction: float = TEST_FRACTION
    initial_fraction: float = INITIAL_FRACTION
    max_rows: int | None = None


def update_experiment(
    data: MovieLens,
    user_ids: Sequence[int],
    *,
    trainer: Trainer = "keras",
    epochs: int = report.SEQUENCE_EPOCHS,
    update_epochs: int = UPDATE_EPOCHS,
    batch_size: int = report.SEQUENCE_BATCH_SIZE,
    seeds: Sequence[int] = (0,),
    protocol: ArrivalProtocol = ArrivalProtocol(),
) -> pd.DataFrame:
    """Compare updating a trained recommender with new ratings against retraining it.

    Protocol, per user (:func:`arrival_split` with ``protocol``; users with rating times
    only) and training seed: train on the initial rows for ``epochs`` epochs; then, from that
    model, (a) keep it as is, (b) continue on the new rows only for ``update_epochs`` epochs,
    (c) continue on the initial and new rows for ``update_epochs`` epochs; and (d) train a
    fresh model on the initial and new rows for ``epochs`` epochs. All four are scored on the
    same held-out rows (the user's latest), like/dislike by the package's one rule
    (:func:`recsys_utils.evaluation.metrics.predict_like`: a score above 0.5 predicts a like).

    Returns:
        One row per (user, seed, strategy): ``user_id``, ``seed``, ``strategy``, ``model``
        (the strategy again, for :mod:`recsys_utils.evaluation.plan`), ``rows_trained`` (rows
        the last step used), ``epochs``, ``n_test``, ``accuracy``, ``balanced_accuracy``,
        ``roc_auc``, ``predicted_like_share``, ``time_s`` (the wall time of that training
        step: the user's own with Keras, that of all the users together with the batched
        trainer; the initial training's for the stale model) and ``first_epoch_s`` (Keras: the
        first epoch's time, which for a new model includes preparing the training step;
        ``nan`` for the batched trainer).
    """
    ids = [int(u) for u in user_ids]
    if not len(seeds):
        raise ValueError("seeds must name at least one seed")
    check_timed_users(data, ids)
    datasets = user_datasets(data, ids)
    in_time = time_orders(data, datasets)
    splits = [
        arrival_split(
            data,
            ds,
            test_fraction=protocol.test_fraction,
            initial_fraction=protocol.initial_fraction,
            max_rows=protocol.max_rows,
            order=in_time[ds.user_id],
        )
        for ds in datasets
    ]
    frames = [
        _one_seed(datasets, splits, int(seed), (trainer, epochs, update_epochs, batch_size)) for seed in seeds
    ]
    return pd.concat(frames, ignore_index=True)


def _one_seed(
    datasets: list[UserDataset],
    splits: list[ArrivalSplit],
    seed: int,
    training: tuple[Trainer, int, int, int],
) -> pd.DataFrame:
    """One training seed of :func:`update_experiment`."""
    trainer, epochs, update_epochs, batch_size = training
    ids = [ds.user_id for ds in datasets]
    X_init = [ds.X[s.initial] for ds, s in zip(datasets, splits)]
    y_init = [ds.y[s.initial] for ds, s in zip(datasets, splits)]
    X_new = [ds.X[s.new] for ds, s in zip(datasets, splits)]
    y_new = [ds.y[s.new] for ds, s in zip(datasets, splits)]
    X_all = [np.concatenate([a, b]) for a, b in zip(X_init, X_new)]
    y_all = [np.concatenate([a, b]) for a, b in zip(y_init, y_new)]
    X_test = [ds.X[s.test] for ds, s in zip(datasets, splits)]

    initial = train_user_models(
        X_init, y_init, ids, trainer=trainer, epochs=epochs, batch_size=batch_size, seed=seed
    )
    stale = initial.predict(X_test)
    saved = initial.state()
    # Keras updates the models in place: predict after each update, then go back.
    on_new = update_user_models(initial, X_new, y_new, epochs=update_epochs)
    pred_new = on_new.predict(X_test)
    initial.restore(saved)
    on_all = update_user_models(initial, X_all, y_all, epochs=update_epochs)
    pred_all = on_all.predict(X_test)
    initial.restore(saved)
    fresh = train_user_models(
        X_all, y_all, ids, trainer=trainer, epochs=epochs, batch_size=batch_size, seed=seed
    )
    runs: list[tuple[str, UserModels, list[np.ndarray], list[int], int]] = [
        (UPDATE_STRATEGIES[0], initial, stale, [len(y) for y in y_init], epochs),
        (UPDATE_STRATEGIES[1], on_new, pred_new, [len(y) for y in y_new], update_epochs),
        (UPDATE_STRATEGIES[2], on_all, pred_all, [len(y) for y in y_all], update_epochs),
        (UPDATE_STRATEGIES[3], fresh, fresh.predict(X_test), [len(y) for y in y_all], epochs),
    ]
    rows = []
    for strategy, models, preds, n_rows, n_epochs in runs:
        times = models.user_times_s or [models.fit_time_s] * len(datasets)
        first = models.user_first_epoch_s or [math.nan] * len(datasets)
        for ds, s, p, n, t, t1 in zip(datasets, splits, preds, n_rows, times, first):
            y = ds.y[s.test]
            rows.append(
                {
                    "user_id": ds.user_id,
                    "seed": seed,
                    "strategy": strategy,
                    "model": strategy,
                    "rows_trained": n,
                    "epochs": n_epochs,
                    "n_test": len(y),
                    **classification_metrics(y, p),
                    "time_s": t,
                    "first_epoch_s": t1,
                }
            )
    return pd.DataFrame(rows)
