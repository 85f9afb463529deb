"""Training time per epoch of the report's recommender with each recurrent cell, side by side.

The report times one training run per model ("1 min 20 s" for the LSTM, "1 min 14 s" for the
modified LSTM) and reads the 6-second gap as the modified cell being cheaper. One run per model
on a shared machine cannot separate a cell's cost from noise. :func:`keras_epoch_times` instead
trains every model on the same rows in interleaved rounds (round 1: A, B, C, ...; round 2 in a
rotated order; ...), drops each fit's first epoch (graph tracing), and reports the median epoch
time per model and its ratio to the modified cell *within each round*, so slow phases of the
machine hit all models alike.

Which kernels run (say so next to every number):

- ``"modified-lstm"``, ``"nfg-lstm"``: our :class:`recsys_utils.cells.ModifiedLSTMCell` inside
  Keras' generic ``RNN`` loop (one small matrix product per step, in a ``while`` loop); the
  same code on CPU and GPU;
- ``"lstm-same-size"``, ``"gru-same-size"``: Keras' ``LSTM`` / ``GRU`` with the report's
  activations (sigmoid for the candidate, tanh for the gates): not eligible for NVIDIA's fused
  cuDNN kernels (they need tanh / sigmoid), so they run Keras' generic loop too;
- ``"lstm-cudnn"``, ``"gru-cudnn"``: the same layers with Keras' default activations (tanh /
  sigmoid), which on a GPU run cuDNN's fused kernel and on a CPU the generic loop;
- ``"logistic"``: Dense(1) on the 18 flags, no recurrence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

#: The models :func:`keras_epoch_times` knows: ``name -> (kind, build keywords)``.
KERAS_TIMED: dict[str, tuple[str, dict[str, Any]]] = {
    "modified-lstm": ("modified-lstm", {}),
    "nfg-lstm": ("nfg-lstm", {}),
    "lstm-same-size": ("lstm-same-size", {}),
    "gru-same-size": ("gru-same-size", {}),
    "lstm-cudnn": ("lstm-same-size", {"activation": "tanh", "recurrent_activation": "sigmoid"}),
    "gru-cudnn": ("gru-same-size", {"activation": "tanh", "recurrent_activation": "sigmoid"}),
    "logistic": ("logistic", {}),
}


def _rotated(models: Sequence[str], round_: int) -> list[str]:
    """``models`` in the order of round ``round_``: rotated left by ``round_`` places."""
    k = round_ % len(models)
    return list(models[k:]) + list(models[:k])


def _with_ratios(frame: pd.DataFrame, column: str, reference: str) -> pd.DataFrame:
    """Add ``ratio_to_modified``: ``column`` over the ``reference`` model's in the same round
    (``NaN`` when the reference was not timed)."""
    ref = frame[frame["model"] == reference].set_index("round")[column]
    frame["ratio_to_modified"] = frame[column] / frame["round"].map(ref) if len(ref) else np.nan
    return frame


def synthetic_rows(n_rows: int, n_attributes: int = 18, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``X (n_rows, n_attributes)`` 0/1 flags (about 1.7 per row, as ML-1M's genres) and
    ``y (n_rows,)`` 0/1 labels: timing needs shapes, not meaning."""
    rng = np.random.default_rng(seed)
    X = (rng.random((n_rows, n_attributes)) < 1.7 / n_attributes).astype(np.float32)
    y = (rng.random(n_rows) < 0.58).astype(np.float32)
    return X, y


def keras_epoch_times(
    models: Sequence[str] = ("modified-lstm", "nfg-lstm", "lstm-same-size", "gru-same-size", "logistic"),
    *,
    n_rows: int = 110,
    batch_size: int = 10,
    epochs: int = 6,
    rounds: int = 3,
    seed: int = 0,
    X: np.ndarray | None = None,
    y: np.ndarray | None = None,
) -> pd.DataFrame:
    """Median seconds per training epoch of each Keras model, measured side by side.

    Args:
        models: names from :data:`KERAS_TIMED`.
        n_rows, batch_size: the rows of one epoch (default: 110 rows in batches of 10, a
            median ML-1M user's 65 % training share is about 62 rows).
        epochs: epochs per fit; the first is dropped (tracing and compilation).
        rounds: fits per model, interleaved in rotated orders.
        X, y: rows to train on ``(n, 18)``, ``(n,)``; default :func:`synthetic_rows`.

    Returns:
        One row per (round, model): ``round``, ``model``, ``epoch_s`` (median epoch time of
        that fit), ``ratio_to_modified`` (``epoch_s`` over the modified cell's in the same
        round; ``NaN`` if it was not timed).
    """
    from recsys_utils.models.sequence import SequenceClassifier

    unknown = [m for m in models if m not in KERAS_TIMED]
    if unknown:
        raise ValueError(f"unknown models {unknown}; expected names from {list(KERAS_TIMED)}")
    if epochs < 2:
        raise ValueError("epochs must be at least 2 (the first epoch is dropped)")
    if X is None or y is None:
        X, y = synthetic_rows(n_rows, seed=seed)
    rows = []
    for r in range(rounds):
        for name in _rotated(models, r):
            kind, kw = KERAS_TIMED[name]
            clf = SequenceClassifier(kind, n_attributes=X.shape[1], seed=seed, **kw)
            clf.fit(X, y, epochs=epochs, batch_size=batch_size)
            rows.append({"round": r, "model": name, "epoch_s": float(np.median(clf.epoch_times_s[1:]))})
    return _with_ratios(pd.DataFrame(rows), "epoch_s", "modified-lstm")


def summarize_epoch_times(
    frame: pd.DataFrame, column: str = "epoch_s", scale: float = 1e3, unit: str = "ms"
) -> pd.DataFrame:
    """Per model: the median of ``column`` over rounds (times ``scale``, e.g. seconds -> ms),
    its range, and the median ratio to the modified cell (ratios are taken within a round,
    then the median over rounds)."""
    out = frame.groupby("model", sort=False).agg(
        median=(column, "median"),
        low=(column, "min"),
        high=(column, "max"),
        ratio_to_modified=("ratio_to_modified", "median"),
        rounds=("round", "size"),
    )
    for col in ("median", "low", "high"):
        out[col] = out[col] * scale
    return out.rename(columns={"median": f"median_{unit}", "low": f"min_{unit}", "high": f"max_{unit}"})


def batched_epoch_times(
    cells: Sequence[str] = ("modified", "nfg", "lstm", "gru"),
    *,
    n_users: int = 200,
    n_rows: int = 110,
    epochs: int = 10,
    rounds: int = 3,
    seed: int = 0,
    n_threads: int | None = None,
) -> pd.DataFrame:
    """Seconds per user-epoch of :func:`recsys_utils.batched.train_users` for each cell, on
    ``n_users`` synthetic users of ``n_rows`` rows, interleaved in rotated orders.

    Returns one row per (round, cell): ``round``, ``model``, ``user_epoch_s`` (train time over
    ``n_users * epochs``), ``ratio_to_modified`` (within the round).
    """
    from recsys_utils.batched import train_users

    X, y = synthetic_rows(n_rows, seed=seed)
    Xs, ys = [X.astype(np.uint8)] * n_users, [y] * n_users
    rows = []
    for r in range(rounds):
        for cell in _rotated(cells, r):
            res = train_users(
                Xs, ys, cell=cell, epochs=epochs, seed=seed, progress=False, n_threads=n_threads
            )
            rows.append({"round": r, "model": cell, "user_epoch_s": res.train_time_s / (n_users * epochs)})
    return _with_ratios(pd.DataFrame(rows), "user_epoch_s", "modified")


@dataclass(frozen=True)
class StepSchedule:
    """How :func:`batched_step_times` trains each network: ``epochs`` per run, batches of
    ``batch_size`` rows, ``rounds`` interleaved rounds (the order rotates every round)."""

    epochs: int = 5
    batch_size: int = 10
    rounds: int = 3


def batched_step_times(
    networks: Sequence[str] = ("modified-lstm", "lstm"),
    *,
    users: tuple[Sequence[np.ndarray], Sequence[np.ndarray]] | None = None,
    n_users: int = 50,
    n_rows: int = 110,
    schedule: StepSchedule | None = None,
    seed: int = 0,
    n_threads: int | None = None,
) -> pd.DataFrame:
    """Seconds per user-step (one Adam update of one user's network, a batch of
    ``schedule.batch_size`` rows) of the report's recommenders in the batched trainer,
    interleaved in rotated orders.

    Args:
        networks: names of ``recsys_utils.batched.REPORT_NETWORKS`` (``"modified-lstm"``:
            18 units, dropout; ``"lstm"``: 100 units, no dropout).
        users: ``(X_list, y_list)``, the users' rows ``(n_u, 18)``, ``(n_u,)`` (e.g. real
            users' training rows); default ``n_users`` copies of :func:`synthetic_rows`
            (``n_rows`` rows).
        schedule: epochs, batch size and rounds (:class:`StepSchedule`; every run trains each
            network on all users).

    Returns:
        One row per (round, network): ``round``, ``model``, ``user_step_s`` (train time over
        the users' total Adam steps), ``ratio_to_modified`` (over ``"modified-lstm"``'s in
        the same round).
    """
    from recsys_utils.batched import REPORT_NETWORKS, train_users

    unknown = [n for n in networks if n not in REPORT_NETWORKS]
    if unknown:
        raise ValueError(f"unknown networks {unknown}; expected names from {list(REPORT_NETWORKS)}")
    schedule = schedule or StepSchedule()
    if users is None:
        X, y = synthetic_rows(n_rows, seed=seed)
        X_list, y_list = [X.astype(np.uint8)] * n_users, [y] * n_users
    else:
        X_list, y_list = users
    steps = sum(schedule.epochs * -(-len(y) // schedule.batch_size) for y in y_list)
    rows = []
    for r in range(schedule.rounds):
        for name in _rotated(networks, r):
            res = train_users(
                list(X_list),
                list(y_list),
                network=REPORT_NETWORKS[name],
                epochs=schedule.epochs,
                batch_size=schedule.batch_size,
                seed=seed,
                progress=False,
                n_threads=n_threads,
            )
            rows.append({"round": r, "model": name, "user_step_s": res.train_time_s / steps})
    return _with_ratios(pd.DataFrame(rows), "user_step_s", "modified-lstm")
