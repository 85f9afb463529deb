"""One modified-LSTM recommender per user, trained with Keras or the batched trainer, and
continued on newly arrived rows.

Per-user models are trained either with Keras
(:class:`recsys_utils.models.sequence.SequenceClassifier`, ``trainer="keras"``) or with the
compiled batched trainer of :mod:`recsys_utils.batched` (``trainer="batched"``: the same network
and training procedure, many users at once, fast enough for the report's 100 epochs on samples
of users; on a GPU, ``RECSYS_DEVICE`` picks its TensorFlow twin,
:func:`recsys_utils.device.multi_user_trainer`). :class:`UserModels` hides which one trained them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from recsys_utils import report
from recsys_utils.interpret.gates import CellWeights, batched_cell_weights, cell_weights

if TYPE_CHECKING:  # pragma: no cover
    from recsys_utils.batched import BatchedResult
    from recsys_utils.models.sequence import SequenceClassifier

Trainer = Literal["keras", "batched"]
#: The trainers of :func:`train_user_models`.
TRAINERS: tuple[str, ...] = ("keras", "batched")
#: Epochs of an update on newly arrived rows (:func:`update_classifier`), by default.
UPDATE_EPOCHS: int = 10


@dataclass
class UserModels:
    """One trained modified-LSTM recommender per user, whichever trainer trained them.

    Attributes:
        trainer: ``"keras"`` or ``"batched"``.
        user_ids: ``(n_users,)``.
        classifiers: with ``"keras"``, one :class:`SequenceClassifier` per user.
        batched: with ``"batched"``, the :class:`recsys_utils.batched.BatchedResult`.
        fit_time_s: wall time of the training (all users), in seconds.
        settings: epochs, batch_size, seed.
        user_times_s: with ``"keras"``, each user's training time (the batched trainer runs
            users side by side and has only the total).
        user_first_epoch_s: with ``"keras"``, the time of each user's first epoch, which
            includes Keras' one-off preparation of the training step.
    """

    trainer: str
    user_ids: np.ndarray
    classifiers: list[SequenceClassifier] | None
    batched: BatchedResult | None
    fit_time_s: float
    settings: dict[str, Any]
    user_times_s: list[float] | None = None
    user_first_epoch_s: list[float] | None = None

    def predict(self, X_list: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Like probabilities (dropout off): one ``(n_u, d)`` array per user -> ``(n_u,)``."""
        if len(X_list) != len(self.user_ids):
            raise ValueError(f"{len(X_list)} X arrays for {len(self.user_ids)} users")
        if self.trainer == "keras":
            return [
                np.asarray(c.predict_proba(X), dtype=np.float64) for c, X in zip(self.classifiers, X_list)
            ]
        return [
            np.asarray(p, dtype=np.float64)
            for p in self.batched.predict_proba([np.asarray(X) for X in X_list], n_threads=1)
        ]

    def predict_user(self, user_id: int, X: np.ndarray) -> np.ndarray:
        """Like probabilities of one user's model for ``X`` ``(n, d)``: ``(n,)``."""
        i = self._index(user_id)
        X = np.asarray(X, dtype=np.float32)
        X_list = [X if j == i else np.zeros((0, X.shape[1]), np.float32) for j in range(len(self.user_ids))]
        return self.predict(X_list)[i]

    def state(self) -> list[list[np.ndarray]] | None:
        """Keras: each classifier's :func:`classifier_state`; batched: ``None`` (its updates
        never change a trained result)."""
        if self.trainer == "keras":
            return [classifier_state(c) for c in self.classifiers]
        return None

    def restore(self, state: list[list[np.ndarray]] | None) -> None:
        """Undo the in-place updates made since :meth:`state` (Keras)."""
        if self.trainer == "keras":
            for clf, s in zip(self.classifiers, state):
                restore_classifier_state(clf, s)

    def cell_weights(self, user_id: int) -> CellWeights:
        """One user's weights as :class:`CellWeights` (for
        :func:`recsys_utils.interpret.trace_modified_lstm`)."""
        if self.trainer == "keras":
            return cell_weights(self.classifiers[self._index(user_id)])
        return batched_cell_weights(self.batched, int(user_id))

    def _index(self, user_id: int) -> int:
        found = np.flatnonzero(self.user_ids == int(user_id))
        if not len(found):
            raise KeyError(f"user {user_id} has no model here (users: {self.user_ids.tolist()})")
        return int(found[0])


def train_user_models(
    X_list: Sequence[np.ndarray],
    y_list: Sequence[np.ndarray],
    user_ids: Sequence[int],
    *,
    trainer: Trainer = "batched",
    epochs: int = report.SEQUENCE_EPOCHS,
    batch_size: int = report.SEQUENCE_BATCH_SIZE,
    seed: int = 0,
) -> UserModels:
    """Train the report's modified-LSTM recommender for each user.

    Args:
        X_list: one ``(n_u, 18)`` 0/1 array per user; y_list: one ``(n_u,)`` 0/1 array.
        user_ids: the users (the batched trainer seeds each user's stream with it).
        trainer: ``"keras"`` (one :class:`SequenceClassifier` per user, seeded with ``seed``)
            or ``"batched"`` (the multi-user trainer that suits ``RECSYS_DEVICE``,
            :func:`recsys_utils.device.multi_user_trainer`: the Numba one on a CPU, the
            TensorFlow one on a GPU; seeded with ``(seed, user_id)``).
        epochs, batch_size: as the report (100, 10).
    """
    ids = np.asarray(user_ids, dtype=np.int64)
    if not (len(X_list) == len(y_list) == len(ids)):
        raise ValueError("X_list, y_list and user_ids must have one length")
    settings = {"epochs": epochs, "batch_size": batch_size, "seed": seed}
    if trainer == "keras":
        from recsys_utils.models.sequence import SequenceClassifier

        classifiers, times = [], []
        for X, y in zip(X_list, y_list):
            clf = SequenceClassifier("modified-lstm", n_attributes=np.shape(X)[1], seed=seed)
            clf.fit(X, y, epochs=epochs, batch_size=batch_size)
            classifiers.append(clf)
            times.append(float(clf.fit_time_s))
        return UserModels(
            "keras",
            ids,
            classifiers,
            None,
            float(sum(times)),
            settings,
            times,
            [_first_epoch(c) for c in classifiers],
        )
    if trainer == "batched":
        from recsys_utils.device import multi_user_trainer

        res = multi_user_trainer()(
            list(X_list),
            list(y_list),
            ids,
            cell="modified",
            epochs=epochs,
            batch_size=batch_size,
            seed=seed,
            progress=False,
        )
        return UserModels("batched", ids, None, res, res.train_time_s, settings)
    raise ValueError(f"trainer must be one of {TRAINERS}, got {trainer!r}")


def _first_epoch(classifier: SequenceClassifier) -> float:
    return float(classifier.epoch_times_s[0]) if classifier.epoch_times_s else math.nan


def classifier_state(classifier: SequenceClassifier) -> list[np.ndarray]:
    """A snapshot of everything a further ``fit`` changes: the model's variables (weights and
    the dropout layers' random-generator states) and the optimizer's (Adam's step count and
    moments). Restore it with :func:`restore_classifier_state`."""
    model = classifier.model
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    return [np.array(v.numpy()) for v in list(model.variables) + list(model.optimizer.variables)]


def restore_classifier_state(classifier: SequenceClassifier, state: list[np.ndarray]) -> None:
    """Put a classifier back into the state of :func:`classifier_state` (same compiled model,
    so no training function is rebuilt)."""
    model = classifier.model
    variables = list(model.variables) + list(model.optimizer.variables)
    if len(variables) != len(state):
        raise ValueError(f"state has {len(state)} arrays, the classifier {len(variables)} variables")
    for v, value in zip(variables, state):
        v.assign(value)


def update_classifier(
    classifier: SequenceClassifier,
    X_new: np.ndarray,
    y_new: np.ndarray,
    *,
    epochs: int = UPDATE_EPOCHS,
    batch_size: int = report.SEQUENCE_BATCH_SIZE,
    X_old: np.ndarray | None = None,
    y_old: np.ndarray | None = None,
) -> float:
    """Update a trained classifier with newly arrived rows, without retraining from scratch.

    The same compiled model keeps training (its weights and Adam's state carry over) for
    ``epochs`` epochs on the new rows ``X_new`` ``(m, d)``, ``y_new`` ``(m,)``, or on the new
    rows and the old ones when ``X_old``/``y_old`` are given (a replay that guards against
    drifting away from what the old rows taught). The classifier is changed in place.

    Returns:
        The wall time of the update, in seconds.
    """
    X = np.asarray(X_new, dtype=np.float32)
    y = np.asarray(y_new, dtype=np.float32).reshape(-1)
    if (X_old is None) != (y_old is None):
        raise ValueError("give both X_old and y_old, or neither")
    if X_old is not None:
        X = np.concatenate([np.asarray(X_old, dtype=np.float32), X])
        y = np.concatenate([np.asarray(y_old, dtype=np.float32).reshape(-1), y])
    if len(X) == 0:
        return 0.0
    classifier.fit(X, y, epochs=epochs, batch_size=batch_size)
    return float(classifier.fit_time_s)


def update_user_models(
    models: UserModels,
    X_list: Sequence[np.ndarray],
    y_list: Sequence[np.ndarray],
    *,
    epochs: int = UPDATE_EPOCHS,
    seed: int | None = None,
) -> UserModels:
    """Continue training every user's model on ``X_list``/``y_list`` for ``epochs`` epochs.

    Keras: :func:`update_classifier` on each classifier, so Adam's state carries over; the
    classifiers are updated **in place** (the returned object holds the same ones: take
    :meth:`UserModels.state` first to go back). Batched: the multi-user trainer that suits
    ``RECSYS_DEVICE`` (:func:`recsys_utils.device.multi_user_trainer`) started from the trained
    weights (Adam's moments restart from zero there), with random stream ``seed`` (default: the training seed + 1); ``models`` is left as it was.
    """
    batch_size = int(models.settings["batch_size"])
    if models.trainer == "keras":
        times = [
            update_classifier(clf, X, y, epochs=epochs, batch_size=batch_size)
            for clf, X, y in zip(models.classifiers, X_list, y_list)
        ]
        return UserModels(
            "keras",
            models.user_ids,
            models.classifiers,
            None,
            float(sum(times)),
            {**models.settings, "epochs": epochs},
            times,
            [_first_epoch(c) for c in models.classifiers],
        )
    from recsys_utils.device import multi_user_trainer

    seed = int(models.settings["seed"]) + 1 if seed is None else seed
    res = multi_user_trainer()(
        list(X_list),
        list(y_list),
        models.user_ids,
        cell="modified",
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        progress=False,
        initial_weights=models.batched.weights,
    )
    return UserModels(
        "batched",
        models.user_ids,
        None,
        res,
        res.train_time_s,
        {**models.settings, "epochs": epochs, "seed": seed},
    )
