"""Protocols for the like/dislike classifiers: which rows are scored, and one user's result.

Two protocols:

``report``
    What the report's code does (Appendix A): train on the first 65 % of a user's rows,
    then call ``model.evaluate`` on *all* of the user's rows, training rows included.
``held-out``
    Train on the training rows, score only the test rows the model never saw.

Every accuracy is reported next to what a majority-class predictor (the majority label
of the *training* rows, :func:`~recsys_utils.evaluation.metrics.majority_label`, predicted for
every row) scores on the same rows.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from recsys_utils.errors import check_choice, check_fraction, check_int
from recsys_utils.evaluation.metrics import (
    LIKE_SCORE_THRESHOLD,
    accuracy,
    balanced_accuracy,
    majority_label,
    predict_like,
    roc_auc,
)
from recsys_utils.features import REPORT_TRAIN_FRACTION, Split, make_split, user_dataset
from recsys_utils.recommenders import Recommender, make_recommender

if TYPE_CHECKING:  # pragma: no cover
    from recsys_utils.data import MovieLens

__all__ = [
    "Protocol",
    "PROTOCOLS",
    "evaluation_rows",
    "describe_rows",
    "ClassificationResult",
    "FitRecord",
    "score_rows",
    "SPLIT_KINDS",
    "EvaluationSettings",
    "evaluate_user",
]

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


@dataclass(frozen=True)
class FitRecord:
    """Which fit produced a set of scores, as a :class:`ClassificationResult` records it.

    Attributes:
        model: the model's name.
        user_id: whose rows.
        threshold: a score ``> threshold`` predicts a like (:func:`predict_like`).
        seed: the fit's seed, if any.
        fit_time_s: the fit's wall time.
        epoch_times_s: ``(epochs,)`` seconds per epoch, if the model trains by epochs.
    """

    model: str
    user_id: int
    threshold: float = LIKE_SCORE_THRESHOLD
    seed: int | None = None
    fit_time_s: float | None = None
    epoch_times_s: tuple[float, ...] = ()


def score_rows(
    fit: FitRecord, split: Split, protocol: Protocol, y: np.ndarray, scores: np.ndarray
) -> ClassificationResult:
    """Score a model's outputs on the rows a protocol selects.

    Args:
        fit: the model, user, like threshold and timings of the fit.
        split: the user's split.
        protocol: ``"report"`` or ``"held-out"``.
        y: ``(n,)`` the user's labels, all rows.
        scores: ``(n,)`` the model's scores for all rows (a like probability, or a predicted
            rating scaled so that ``fit.threshold`` separates like from dislike).
    """
    y_all, scores_all = np.asarray(y), np.asarray(scores)
    if y_all.shape != scores_all.shape:
        raise ValueError(f"y and scores must have one shape, got {y_all.shape} and {scores_all.shape}")
    base = majority_label(y_all[split.train])
    rows = evaluation_rows(split, protocol)
    y, scores = y_all[rows], scores_all[rows]
    pred = predict_like(scores, fit.threshold)
    epoch_times = list(fit.epoch_times_s)
    return ClassificationResult(
        model=fit.model,
        user_id=int(fit.user_id),
        protocol=protocol,
        rows=describe_rows(split, protocol),
        n_rows=len(rows),
        n_likes=int(np.sum(y)),
        accuracy=accuracy(y, pred),
        balanced_accuracy=balanced_accuracy(y, pred),
        roc_auc=roc_auc(y, scores),
        majority_accuracy=accuracy(y, np.full_like(pred, base)),
        predicted_like_share=float(pred.mean()),
        threshold=fit.threshold,
        seed=fit.seed,
        fit_time_s=fit.fit_time_s,
        time_per_epoch_s=float(np.mean(epoch_times)) if epoch_times else None,
        epochs=len(epoch_times) if epoch_times else None,
    )


#: Largest seed accepted (NumPy and TensorFlow take 32-bit seeds).
MAX_SEED = 2**32 - 1
#: Keras' verbosity levels.
MAX_VERBOSE = 2


#: Split kinds :func:`evaluate_user` knows (:func:`recsys_utils.features.make_split`).
SPLIT_KINDS: tuple[str, ...] = ("ordered", "random", "stratified")


@dataclass(frozen=True)
class EvaluationSettings:
    """How :func:`evaluate_user` splits, trains and scores; checked when made.

    Attributes:
        protocols: which rows are scored (:data:`PROTOCOLS`).
        split: :data:`SPLIT_KINDS`: ``"ordered"`` (the report's: first 65 % of the rows in
            file order train), ``"random"`` or ``"stratified"`` (seeded, file-order free).
        train_fraction: the share of the rows that trains (the report: 0.65).
        seed: the split's (random kinds) and the model's seed.
        epochs: the model's epochs (``None``: the report's).
        verbose: Keras' verbosity (0-2).

    Raises:
        recsys_utils.errors.BadArgumentError: naming the argument and its allowed range.
    """

    protocols: tuple[str, ...] = PROTOCOLS
    split: str = "ordered"
    train_fraction: float = REPORT_TRAIN_FRACTION
    seed: int = 0
    epochs: int | None = None
    verbose: int = 0

    def __post_init__(self) -> None:
        for protocol in self.protocols:
            check_choice("protocols", protocol, PROTOCOLS)
        check_choice("split", self.split, SPLIT_KINDS)
        check_fraction("train_fraction", self.train_fraction)
        check_int("seed", self.seed, low=0, high=MAX_SEED)
        if self.epochs is not None:
            check_int("epochs", self.epochs, low=1)
        check_int("verbose", self.verbose, low=0, high=MAX_VERBOSE)


def evaluate_user(
    model: str, data: MovieLens, user_id: int, settings: EvaluationSettings | None = None
) -> tuple[dict[str, ClassificationResult], Recommender]:
    """Train ``model`` (a name or alias of the registry with a per-user adapter) once for
    one user and score its like/dislike predictions; results carry the canonical name.

    The user's test rows (by ``settings.split``) are hidden from training for every model;
    each protocol then picks the rows scored (see the module docstring). The training is the
    same for both protocols, so one fit serves both. All four models are scored on the
    same rows of the same user.

    Args:
        model: a model name or alias (:mod:`recsys_utils.recommenders.registry`).
        data: MovieLens.
        user_id: the user.
        settings: protocols, split, seed, epochs, verbosity (default
            :class:`EvaluationSettings()`: both protocols, the report's ordered split, seed 0).

    Returns:
        ``{protocol: result}`` (each with the majority baseline on the same rows and the
        training time) and the fitted recommender (for its history and recommendations).
    """
    settings = settings or EvaluationSettings()
    dataset = user_dataset(data, user_id)
    user_split = make_split(dataset, settings.split, settings.train_fraction, settings.seed)
    rec = make_recommender(model, seed=settings.seed, epochs=settings.epochs, verbose=settings.verbose)
    rec.fit(data, user_id, heldout_movie_ids=dataset.movie_ids[user_split.test])
    scores = rec.score(dataset.movie_ids)
    fit = FitRecord(
        rec.name,
        int(user_id),
        rec.like_threshold,
        settings.seed,
        rec.fit_time_s,
        tuple(rec.epoch_times_s or ()),
    )
    results = {p: score_rows(fit, user_split, p, dataset.y, scores) for p in settings.protocols}
    return results, rec
