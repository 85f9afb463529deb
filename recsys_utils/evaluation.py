"""Protocols, baselines and metrics shared by every model, notebook and the command line.

Two protocols for the like/dislike classifiers:

``report``
    What the report's code does (Appendix A): train on the first 65 % of a user's rows,
    then call ``model.evaluate`` on *all* of the user's rows, training rows included.
``held-out``
    Train on the training rows, score only the test rows the model never saw.

Every accuracy is reported next to what a majority-class predictor (the majority label
of the *training* rows, predicted for every row) scores on the same rows.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Literal, Sequence

import numpy as np

from recsys_utils.features import REPORT_TRAIN_FRACTION, Split, make_split, user_dataset

if TYPE_CHECKING:  # pragma: no cover
    from recsys_utils.data import MovieLens
    from recsys_utils.recommenders import Recommender

Protocol = Literal["report", "held-out"]
PROTOCOLS: tuple[str, ...] = ("report", "held-out")


def evaluation_rows(split: Split, protocol: Protocol) -> np.ndarray:
    """Indices of the user's rows that a protocol scores.

    ``report``: every row (train and test), as the report's ``model.evaluate(dataset, ...)``;
    ``held-out``: the test rows only.
    """
    if protocol == "report":
        return np.sort(np.concatenate([split.train, split.test]))
    if protocol == "held-out":
        return split.test
    raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")


def describe_rows(split: Split, protocol: Protocol) -> str:
    """Which rows a number is computed on, in words, for tables and the command line."""
    n = len(split.train) + len(split.test)
    if protocol == "report":
        return f"all {n} rows (the {len(split.train)} training rows included), as the report's code"
    return f"the {len(split.test)} held-out rows ({split.describe()})"


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Share of equal labels. ``y_true``, ``y_pred``: ``(n,)`` 0/1."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.size == 0:
        raise ValueError(f"need two non-empty arrays of one shape, got {y_true.shape} and {y_pred.shape}")
    return float(np.mean(y_true.astype(int) == y_pred.astype(int)))


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean of the recall of each class present in ``y_true`` (0.5 for a constant predictor)."""
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


#: A like probability strictly above this predicts a like (Keras' ``binary_accuracy`` rule).
LIKE_SCORE_THRESHOLD: float = 0.5


def predict_like(scores: np.ndarray, threshold: float = LIKE_SCORE_THRESHOLD) -> np.ndarray:
    """The one rule from scores to like/dislike: ``score > threshold`` (as Keras' accuracy).

    Args:
        scores: ``(n,)`` like probabilities (or ratings scaled so that ``threshold``
            separates like from dislike).

    Returns:
        ``(n,)`` int8, 1 for a predicted like.
    """
    return (np.asarray(scores, dtype=np.float64) > threshold).astype(np.int8)


def classification_metrics(y: np.ndarray, scores: np.ndarray,
                           threshold: float = LIKE_SCORE_THRESHOLD) -> dict[str, float]:
    """Accuracy, balanced accuracy, ROC AUC and predicted like share of ``scores (n,)``
    against the 0/1 labels ``y (n,)``, predictions by :func:`predict_like`; every value is
    ``NaN`` when ``n == 0``."""
    y_int = np.asarray(y).astype(int)
    if y_int.size == 0:
        return {k: math.nan for k in ("accuracy", "balanced_accuracy", "roc_auc",
                                      "predicted_like_share")}
    pred = predict_like(scores, threshold)
    return {"accuracy": accuracy(y_int, pred), "balanced_accuracy": balanced_accuracy(y_int, pred),
            "roc_auc": roc_auc(y_int, scores), "predicted_like_share": float(pred.mean())}


def majority_label(y_train: np.ndarray) -> int:
    """The more frequent label of the training rows (ties go to 1, "like")."""
    y_train = np.asarray(y_train)
    return int(y_train.mean() >= 0.5)


def exact_fraction(value: float, n: int) -> tuple[int, bool]:
    """The count ``k`` of ``n`` closest to ``value * n``, and whether ``k / n`` rounds to ``value``.

    Used to check whether a printed accuracy can be an accuracy over ``n`` rows at all
    (the report's 86.91 % over 53 rows cannot: 46/53 is 86.79 %).
    """
    k = int(round(value * n))
    return k, round(k / n, 4) == round(value, 4)


@dataclass
class ClassificationResult:
    """One model's like/dislike scores on one user's rows, with what it is compared to.

    ``rows`` says in words which rows the numbers are computed on.
    """

    model: str
    user_id: int
    protocol: str
    rows: str
    n_rows: int
    n_likes: int
    accuracy: float
    balanced_accuracy: float
    roc_auc: float
    majority_accuracy: float
    predicted_like_share: float
    threshold: float
    seed: int | None = None
    fit_time_s: float | None = None
    time_per_epoch_s: float | None = None
    epochs: int | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["roc_auc"] = None if math.isnan(self.roc_auc) else self.roc_auc
        return out


def score_rows(model: str, user_id: int, split: Split, protocol: Protocol, y: np.ndarray,
               scores: np.ndarray, *, threshold: float = LIKE_SCORE_THRESHOLD, seed: int | None = None,
               fit_time_s: float | None = None, epoch_times_s: list[float] | None = None,
               ) -> ClassificationResult:
    """Score a model's outputs on the rows a protocol selects.

    Args:
        model: the model's name.
        user_id: whose rows.
        split: the user's split.
        protocol: ``"report"`` or ``"held-out"``.
        y: ``(n,)`` the user's labels, all rows.
        scores: ``(n,)`` the model's scores for all rows (a like probability, or a predicted
            rating scaled so that ``threshold`` separates like from dislike).
        threshold: a score ``> threshold`` predicts a like (:func:`predict_like`).
    """
    y_all, scores_all = np.asarray(y), np.asarray(scores)
    if y_all.shape != scores_all.shape:
        raise ValueError(f"y and scores must have one shape, got {y_all.shape} and {scores_all.shape}")
    base = majority_label(y_all[split.train])
    rows = evaluation_rows(split, protocol)
    y, scores = y_all[rows], scores_all[rows]
    pred = predict_like(scores, threshold)
    return ClassificationResult(
        model=model, user_id=int(user_id), protocol=protocol, rows=describe_rows(split, protocol),
        n_rows=len(rows), n_likes=int(np.sum(y)), accuracy=accuracy(y, pred),
        balanced_accuracy=balanced_accuracy(y, pred), roc_auc=roc_auc(y, scores),
        majority_accuracy=accuracy(y, np.full_like(pred, base)),
        predicted_like_share=float(pred.mean()), threshold=threshold, seed=seed,
        fit_time_s=fit_time_s,
        time_per_epoch_s=float(np.mean(epoch_times_s)) if epoch_times_s else None,
        epochs=len(epoch_times_s) if epoch_times_s else None,
    )


def evaluate_user(model: str, data: "MovieLens", user_id: int, *,
                  protocols: Sequence[str] = PROTOCOLS,
                  split: Literal["ordered", "random"] = "ordered",
                  train_fraction: float = REPORT_TRAIN_FRACTION, seed: int = 0,
                  epochs: int | None = None, verbose: int = 0,
                  ) -> tuple[dict[str, ClassificationResult], "Recommender"]:
    """Train ``model`` once for one user and score its like/dislike predictions.

    The user's test rows (by ``split``) are hidden from training for every model; each
    protocol then picks the rows scored (see the module docstring). The training is the
    same for both protocols, so one fit serves both. All four models are scored on the
    same rows of the same user.

    Returns:
        ``{protocol: result}`` (each with the majority baseline on the same rows and the
        training time) and the fitted recommender (for its history and recommendations).
    """
    from recsys_utils.recommenders import make_recommender

    dataset = user_dataset(data, user_id)
    user_split = make_split(dataset, split, train_fraction, seed)
    rec = make_recommender(model, seed=seed, epochs=epochs, verbose=verbose)
    rec.fit(data, user_id, heldout_movie_ids=dataset.movie_ids[user_split.test])
    scores = rec.score(dataset.movie_ids)
    results = {p: score_rows(model, user_id, user_split, p, dataset.y, scores,
                             threshold=rec.like_threshold, seed=seed, fit_time_s=rec.fit_time_s,
                             epoch_times_s=rec.epoch_times_s)
               for p in protocols}
    return results, rec
