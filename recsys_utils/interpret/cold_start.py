"""New users with few ratings (report 6.1: the recommender cannot serve a new user).

:func:`cold_start_experiment` trains the recommender on ``k`` ratings per user and scores a
fixed held-out set, next to the popularity and majority baselines, for one or more training
seeds. The ``k`` ratings are either the user's first ``k`` in time and the held-out set their
last ratings (``order="time"``, a new user as they arrive; users with rating times only, see
:mod:`recsys_utils.interpret.timed`), or a seeded random subset and a seeded random held-out
set (``order="random"``). :func:`apply_fallback` adds the rule "popularity until the user has
``N`` ratings"; the summaries (:func:`seed_means`, :func:`summarize_by_k`,
:func:`cold_start_table`, :func:`fallback_effect`, :func:`paired_wins`) turn the per-user rows
into the chapter's tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from recsys_utils import report
from recsys_utils.evaluation import classification_metrics, majority_label
from recsys_utils.features import UserDataset, user_datasets
from recsys_utils.interpret.models import Trainer, train_user_models
from recsys_utils.interpret.timed import time_order, time_orders

if TYPE_CHECKING:  # pragma: no cover
    from recsys_utils.data import MovieLens

#: Model names in the tables of :func:`cold_start_experiment`.
COLD_START_MODELS: tuple[str, ...] = ("modified LSTM", "popularity", "majority of k")
#: Held-out rows per user in :func:`cold_start_experiment`, by default.
COLD_START_TEST_ROWS: int = 20
#: The metrics of the cold-start tables, in order.
COLD_START_METRICS: tuple[str, ...] = ("accuracy", "balanced_accuracy", "roc_auc")
#: How the k training rows and the held-out rows are chosen (see :func:`cold_start_experiment`).
ColdStartOrder = Literal["random", "time"]
COLD_START_ORDERS: tuple[str, ...] = ("random", "time")


def cold_start_split(ds: UserDataset, n_test: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A fixed test set and a pool of training rows for the few-ratings experiment.

    The first ``n_test`` rows of the user's :func:`recsys_utils.features.seeded_order` are the
    test rows; the others, in that order, are the pool: a model "with k ratings" trains on
    ``pool[:k]`` (so the k-row sets are nested and do not depend on the largest k).

    Returns:
        ``pool`` ``(n - n_test,)`` and ``test`` ``(n_test,)`` row indices.
    """
    if not 0 < n_test < len(ds):
        raise ValueError(f"user {ds.user_id} has {len(ds)} rows; cannot hold out {n_test}")
    order = ds.seeded_order(seed)
    return order[n_test:], order[:n_test]


def first_k_split(
    data: MovieLens, ds: UserDataset, n_test: int, order: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A new user as they arrive: the pool is the user's ratings in time order, the test rows
    their last ``n_test`` ratings (:func:`recsys_utils.interpret.time_order`).

    A model "with k ratings" trains on ``pool[:k]``, the user's first ``k`` ratings, and is
    scored on ratings the user gave later. Only users with rating times are accepted.

    Args:
        order: the user's :func:`~recsys_utils.interpret.time_order` when already
            computed (by :func:`~recsys_utils.interpret.time_orders`).

    Returns:
        ``pool`` ``(n - n_test,)`` (earliest first) and ``test`` ``(n_test,)`` row indices.
    """
    if not 0 < n_test < len(ds):
        raise ValueError(f"user {ds.user_id} has {len(ds)} rows; cannot hold out {n_test}")
    order = time_order(data, ds) if order is None else np.asarray(order, np.int64)
    return order[: len(ds) - n_test], order[len(ds) - n_test :]


def popularity_scores(data: MovieLens, user_id: int, movie_ids: np.ndarray) -> np.ndarray:
    """``(n,)`` popularity scores of ``movie_ids`` for a user none of whose ratings is known.

    ``recsys_utils.recommenders.PopularityRecommender`` fitted with every rating of the
    user hidden: each movie's (shrunk) like share among the other users.
    """
    from recsys_utils.recommenders import PopularityRecommender

    own = data.ratings.loc[data.ratings["user_id"] == user_id, "movie_id"].to_numpy()
    rec = PopularityRecommender().fit(data, user_id, heldout_movie_ids=own)
    return rec.score(np.asarray(movie_ids))


def cold_start_experiment(
    data: MovieLens,
    user_ids: Sequence[int],
    ks: Sequence[int],
    *,
    n_test: int = COLD_START_TEST_ROWS,
    seeds: Sequence[int] = (0,),
    epochs: int = report.SEQUENCE_EPOCHS,
    batch_size: int = report.SEQUENCE_BATCH_SIZE,
    trainer: Trainer = "batched",
    order: ColdStartOrder = "random",
) -> pd.DataFrame:
    """Train the recommender on only ``k`` ratings per user and score a fixed held-out set.

    Protocol, per user and seed: ``order="time"`` (:func:`first_k_split`): the test rows are
    the user's last ``n_test`` ratings in time, the model "with k ratings" trains on the
    user's first ``k`` (the same rows for every seed; only users with rating times,
    :func:`recsys_utils.interpret.check_timed_users`). ``order="random"``
    (:func:`cold_start_split`): ``n_test`` test rows and a pool drawn by the seed, the model
    trains on the first ``k`` pool rows. A fresh model per k (``epochs``, ``batch_size``,
    the seed's initial weights) is scored on the test rows. Compared on the same rows:

    - ``popularity``: :func:`popularity_scores`, needing no rating of the user (so it is the
      same at every k);
    - ``majority of k``: the majority label of the k rows (ties: like) for every test row; a
      constant score, so its ROC AUC is 0.5.

    Scores become like/dislike by the package's one rule,
    :func:`recsys_utils.evaluation.metrics.predict_like` (a score above 0.5 predicts a like).

    Returns:
        One row per (user, seed, k, model): ``user_id``, ``seed``, ``k``, ``model``,
        ``n_test``, ``test_likes``, ``train_likes``, ``accuracy``, ``balanced_accuracy``,
        ``roc_auc`` (``nan`` when the test rows hold one class), ``predicted_like_share``.
    """
    ids = [int(u) for u in user_ids]
    ks = sorted({int(k) for k in ks})
    if not ks or ks[0] < 1:
        raise ValueError(f"ks must be positive, got {ks}")
    if order not in COLD_START_ORDERS:
        raise ValueError(f"order must be one of {COLD_START_ORDERS}, got {order!r}")
    if not len(seeds):
        raise ValueError("seeds must name at least one seed")
    datasets = user_datasets(data, ids)
    in_time = time_orders(data, datasets) if order == "time" else {}  # checks the users first
    pop_cache: dict[tuple[int, tuple[int, ...]], np.ndarray] = {}
    frames = []
    for seed in seeds:
        splits = {}
        for ds in datasets:
            pool, test = (
                first_k_split(data, ds, n_test, in_time[ds.user_id])
                if order == "time"
                else cold_start_split(ds, n_test, int(seed))
            )
            if len(pool) < ks[-1]:
                raise ValueError(
                    f"user {ds.user_id} has {len(ds)} rows: fewer than n_test + max(k) = {n_test + ks[-1]}"
                )
            splits[ds.user_id] = (pool, test)
            key = (ds.user_id, tuple(int(t) for t in test))
            if key not in pop_cache:
                pop_cache[key] = popularity_scores(data, ds.user_id, ds.movie_ids[test])
        pop = {
            ds.user_id: pop_cache[(ds.user_id, tuple(int(t) for t in splits[ds.user_id][1]))]
            for ds in datasets
        }
        frames.append(_score_ks(datasets, splits, pop, ks, int(seed), (trainer, epochs, batch_size)))
    return pd.concat(frames, ignore_index=True)


def _score_ks(
    datasets: list[UserDataset],
    splits: dict[int, tuple[np.ndarray, np.ndarray]],
    pop: dict[int, np.ndarray],
    ks: list[int],
    seed: int,
    training: tuple[Trainer, int, int],
) -> pd.DataFrame:
    """One seed of :func:`cold_start_experiment`: train per k, score the three models."""
    trainer, epochs, batch_size = training
    ids = [ds.user_id for ds in datasets]
    rows = []
    for k in ks:
        X_train = [ds.X[splits[ds.user_id][0][:k]] for ds in datasets]
        y_train = [ds.y[splits[ds.user_id][0][:k]] for ds in datasets]
        models = train_user_models(
            X_train, y_train, ids, trainer=trainer, epochs=epochs, batch_size=batch_size, seed=seed
        )
        preds = models.predict([ds.X[splits[ds.user_id][1]] for ds in datasets])
        for ds, y_k, p in zip(datasets, y_train, preds):
            test = splits[ds.user_id][1]
            y = ds.y[test]
            base = {
                "user_id": ds.user_id,
                "seed": seed,
                "k": k,
                "n_test": len(test),
                "test_likes": int(y.sum()),
                "train_likes": int(y_k.sum()),
            }
            maj = np.full(len(test), float(majority_label(y_k)))
            for name, scores in zip(COLD_START_MODELS, (p, pop[ds.user_id], maj)):
                rows.append({**base, "model": name, **classification_metrics(y, scores)})
    return pd.DataFrame(rows)


def seed_means(results: pd.DataFrame, metrics: Sequence[str] = COLD_START_METRICS) -> pd.DataFrame:
    """Each user's metrics averaged over the seeds (``nan`` skipped): one row per (user, k,
    model), in first-seen model order; tables without a ``seed`` column are returned as they are."""
    if "seed" not in results.columns:
        return results
    order = list(dict.fromkeys(results["model"]))
    keys = ["user_id", "k", "model"]
    out = results.groupby(keys, sort=False)[list(metrics)].mean().reset_index()
    out["model"] = pd.Categorical(out["model"], categories=order)
    out = out.sort_values(["model", "k", "user_id"], kind="stable")
    out["model"] = out["model"].astype(str)
    return out.reset_index(drop=True)


def _rule_name(min_ratings: int) -> str:
    return f"fallback (N={min_ratings})"


def apply_fallback(
    results: pd.DataFrame,
    min_ratings: int,
    *,
    model: str = COLD_START_MODELS[0],
    fallback: str = COLD_START_MODELS[1],
) -> pd.DataFrame:
    """Add the rule "``fallback`` while the user has fewer than ``min_ratings`` ratings, then
    ``model``" to a :func:`cold_start_experiment` table (rows named ``"fallback (N=...)"``)."""
    keys = ["user_id", "seed", "k"] if "seed" in results.columns else ["user_id", "k"]
    a = results[results["model"] == fallback].set_index(keys)
    b = results[results["model"] == model].set_index(keys)
    chosen = pd.concat(
        [a[a.index.get_level_values("k") < min_ratings], b[b.index.get_level_values("k") >= min_ratings]]
    ).reset_index()
    chosen["model"] = _rule_name(min_ratings)
    return pd.concat([results, chosen[results.columns]], ignore_index=True)


def summarize_by_k(results: pd.DataFrame, metric: str = "roc_auc") -> pd.DataFrame:
    """Mean of ``metric`` over users (each user's seed mean first, :func:`seed_means`): rows
    ``k``, columns models (first-seen order)."""
    order = list(dict.fromkeys(results["model"]))
    results = seed_means(results, [metric])
    table = results.pivot_table(index="k", columns="model", values=metric, aggfunc="mean")
    return table[order]


def cold_start_table(results: pd.DataFrame, metrics: Sequence[str] = COLD_START_METRICS) -> pd.DataFrame:
    """Means over users: one row per (metric, model), one column per k."""
    parts = {metric: summarize_by_k(results, metric).T for metric in metrics}
    table = pd.concat(parts, names=["metric", "model"])
    table.columns.name = "k"
    return table


def fallback_effect(
    results: pd.DataFrame,
    min_ratings: int,
    *,
    model: str = COLD_START_MODELS[0],
    fallback: str = COLD_START_MODELS[1],
    metrics: Sequence[str] = COLD_START_METRICS,
) -> pd.DataFrame:
    """The fallback rule's gain over always ``model`` and over always ``fallback``.

    ``results`` must hold the rule's rows (:func:`apply_fallback`). Each entry is the mean over
    the ks of (mean over users of the rule's metric - that of the other).
    """
    rule = _rule_name(min_ratings)
    out = {}
    for metric in metrics:
        t = summarize_by_k(results, metric)
        out[metric] = {
            f"{rule} - always {model}": float((t[rule] - t[model]).mean()),
            f"{rule} - always {fallback}": float((t[rule] - t[fallback]).mean()),
        }
    return pd.DataFrame(out)


def paired_wins(results: pd.DataFrame, a: str, b: str, metric: str = "roc_auc") -> pd.DataFrame:
    """Per k: for how many users ``a`` scores higher than ``b`` on ``metric`` (each user's seed
    mean, :func:`seed_means`; ties and ``nan`` apart), and the mean difference ``a - b``.

    Args:
        results: a :func:`cold_start_experiment` table (columns ``user_id``, ``k``, ``model``
            and ``metric``).

    Returns:
        One row per k: ``users`` (with both values defined), ``"{a} higher"``,
        ``"{b} higher"`` and ``mean difference``.
    """
    results = seed_means(results, [metric])
    x = results[results["model"] == a].set_index(["user_id", "k"])[metric]
    y = results[results["model"] == b].set_index(["user_id", "k"])[metric]
    diff = (x - y).dropna()
    by_k = diff.groupby(level="k")
    return pd.DataFrame(
        {
            "users": by_k.size(),
            f"{a} higher": by_k.apply(lambda d: int((d > 0).sum())),
            f"{b} higher": by_k.apply(lambda d: int((d < 0).sum())),
            "mean difference": by_k.mean(),
        }
    )
