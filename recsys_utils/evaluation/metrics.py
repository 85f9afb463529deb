"""Classification metrics and the rules every model is scored by, each written once.

- **Like rule** (:func:`predict_like`): a score strictly above 0.5 predicts a like, as Keras'
  ``binary_accuracy``; every accuracy in the package goes through it.
- **Majority tie rule** (:func:`majority_label`): the majority label of the *training* rows,
  ties going to like.
- **Metrics** (:func:`classification_metrics`): accuracy, balanced accuracy, ROC AUC (``NaN``
  for one class) and the predicted like share of one user's rows.
- **Metrics that mean one thing** (:func:`held_out_metrics_defined`): balanced
  accuracy and AUC are ``NaN`` when the scored rows hold one class only, and
  :func:`dropped_counts` says how many users and user-seeds each metric then drops. The
  chapters adopt it later; :func:`classification_metrics` keeps today's outputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = [
    "LIKE_SCORE_THRESHOLD",
    "METRICS",
    "accuracy",
    "balanced_accuracy",
    "roc_auc",
    "predict_like",
    "classification_metrics",
    "majority_label",
    "exact_fraction",
    "held_out_metrics_defined",
    "dropped_counts",
]

#: A like probability strictly above this predicts a like (Keras' ``binary_accuracy`` rule).
LIKE_SCORE_THRESHOLD: float = 0.5
#: The per-user metrics of the like/dislike classifiers, in table order.
METRICS: tuple[str, ...] = ("accuracy", "balanced_accuracy", "roc_auc")
_ALL_KEYS: tuple[str, ...] = METRICS + ("predicted_like_share",)


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Share of equal labels. ``y_true``, ``y_pred``: ``(n,)`` 0/1."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.size == 0:
        raise ValueError(f"need two non-empty arrays of one shape, got {y_true.shape} and {y_pred.shape}")
    return float(np.mean(y_true.astype(int) == y_pred.astype(int)))


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean of the recall of each class present in ``y_true`` (0.5 for a constant predictor
    when both classes are present; the one class's recall, 0 or 1, when only one is)."""
    y_true, y_pred = np.asarray(y_true).astype(int), np.asarray(y_pred).astype(int)
    recalls = [np.mean(y_pred[y_true == c] == c) for c in np.unique(y_true)]
    return float(np.mean(recalls))


def roc_auc(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve, ``nan`` when only one class is present (it is undefined).

    Ties count one half (the Mann-Whitney statistic), so a constant score gives 0.5.
    """
    y_true = np.asarray(y_true).astype(int)
    scores = np.asarray(scores, dtype=np.float64)
    n_pos, n_neg = int(y_true.sum()), int((1 - y_true).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    return float((ranks[y_true == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def predict_like(scores: np.ndarray, threshold: float = LIKE_SCORE_THRESHOLD) -> np.ndarray:
    """The one rule from scores to like/dislike: ``score > threshold`` (as Keras' accuracy).

    Args:
        scores: ``(n,)`` like probabilities (or ratings scaled so that ``threshold``
            separates like from dislike).

    Returns:
        ``(n,)`` int8, 1 for a predicted like.
    """
    return (np.asarray(scores, dtype=np.float64) > threshold).astype(np.int8)


def classification_metrics(
    y: np.ndarray, scores: np.ndarray, threshold: float = LIKE_SCORE_THRESHOLD
) -> dict[str, float]:
    """Accuracy, balanced accuracy, ROC AUC and predicted like share of ``scores (n,)``
    against the 0/1 labels ``y (n,)``, predictions by :func:`predict_like`; every value is
    ``NaN`` when ``n == 0``."""
    y_int = np.asarray(y).astype(int)
    if y_int.size == 0:
        return {k: math.nan for k in _ALL_KEYS}
    pred = predict_like(scores, threshold)
    return {
        "accuracy": accuracy(y_int, pred),
        "balanced_accuracy": balanced_accuracy(y_int, pred),
        "roc_auc": roc_auc(y_int, scores),
        "predicted_like_share": float(pred.mean()),
    }


def held_out_metrics_defined(y: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """:func:`classification_metrics` where each metric means one thing on every user.

    Balanced accuracy (a mean of per-class recalls) and ROC AUC are only defined when the
    scored rows hold both classes: for a one-class held-out set both are ``NaN`` (where
    :func:`classification_metrics` gives a balanced accuracy of 0 or 1). Accuracy and the
    predicted like share are unchanged. No options: the like rule is :func:`predict_like`.

    Args:
        y: ``(n,)`` 0/1 labels of the scored rows.
        scores: ``(n,)`` like probabilities.
    """
    out = classification_metrics(y, scores)
    y_int = np.asarray(y).astype(int)
    if y_int.size and len(np.unique(y_int)) < 2:
        out["balanced_accuracy"] = math.nan
        out["roc_auc"] = math.nan
    return out


def dropped_counts(table: pd.DataFrame, metrics: Sequence[str] = METRICS) -> pd.DataFrame:
    """How many user-seeds and users each metric drops, per model.

    Args:
        table: one row per (user, seed, model) with columns ``user_id``, ``seed``, ``model``
            and the ``metrics`` (e.g. :attr:`recsys_utils.population.PopulationRun.table`).

    Returns:
        One row per (model, metric): ``user_seeds`` (rows), ``nan_user_seeds`` (rows whose
        value is ``NaN``), ``users``, ``users_partly_nan`` (users with some but not all seeds
        ``NaN``: their seed mean uses fewer seeds) and ``users_dropped`` (every seed ``NaN``:
        no seed mean at all).
    """
    rows = []
    for model, part in table.groupby("model", sort=False):
        for metric in metrics:
            nan = part[metric].isna()
            per_user = nan.groupby(part["user_id"]).agg(["sum", "size"])
            rows.append(
                {
                    "model": model,
                    "metric": metric,
                    "user_seeds": int(len(part)),
                    "nan_user_seeds": int(nan.sum()),
                    "users": int(len(per_user)),
                    "users_partly_nan": int(
                        ((per_user["sum"] > 0) & (per_user["sum"] < per_user["size"])).sum()
                    ),
                    "users_dropped": int((per_user["sum"] == per_user["size"]).sum()),
                }
            )
    return pd.DataFrame(rows)


def majority_label(y_train: np.ndarray) -> int:
    """The one majority rule: the more frequent label of the training rows ``(n,)`` 0/1.

    Ties go to 1, "like" (so does a user without training rows).
    """
    y_train = np.asarray(y_train)
    return int(2 * np.sum(y_train) >= y_train.size)


def exact_fraction(value: float, n: int) -> tuple[int, bool]:
    """The count ``k`` of ``n`` closest to ``value * n``, and whether ``k / n`` rounds to ``value``.

    Used to check whether a printed accuracy can be an accuracy over ``n`` rows at all
    (the report's 86.91 % over 53 rows cannot: 46/53 is 86.79 %).
    """
    k = int(round(value * n))
    return k, round(k / n, 4) == round(value, 4)
