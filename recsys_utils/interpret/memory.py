"""Memory and position: how far a flag's effect travels along the 18 positions, and whether a
genre's effect is about the genre or about where it sits in the sequence.

:func:`memory_profile` flips one flag and measures the change of ``h_t`` at every later step
(with ``f_t = 0`` the cell state does not carry over); :func:`decay_by_distance` summarises it.
:func:`position_sensitivity` measures each position's effect on the like probability for many
users of the batched trainer; :func:`attribution_by_order` retrains each user's model with the
genres in other orders and compares the occlusion effects per genre and per position.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from recsys_utils import report
from recsys_utils.data.genres import REPORT_GENRES
from recsys_utils.features import user_datasets
from recsys_utils.interpret.gates import CellWeights, cell_weights, trace_modified_lstm
from recsys_utils.interpret.models import Trainer, UserModels, train_user_models
from recsys_utils.interpret.occlusion import occlusion, with_flipped_copies

if TYPE_CHECKING:  # pragma: no cover
    import keras

    from recsys_utils.batched import BatchedResult
    from recsys_utils.data import MovieLens
    from recsys_utils.models.sequence import SequenceClassifier

#: Rows per user that :func:`attribution_by_order` trains on and explains, by default.
ATTRIBUTION_MAX_ROWS: int = 100


def memory_profile(model: keras.Model | SequenceClassifier | CellWeights, X: np.ndarray) -> np.ndarray:
    """How far along the sequence the effect of one flag travels.

    For each position ``s`` the flag at ``s`` of every row is flipped and the cell re-run:
    ``out[s, t]`` is the mean over rows and units of ``|h_t(flipped) - h_t|``, zero for
    ``t < s`` (a flag cannot act before it is read). With ``f_t = 0`` the cell state does not
    carry over, so the effect reaches step ``t > s`` only through ``h_{t-1}`` and the gates.

    Args:
        model: a modified-LSTM recommender (as
            :func:`recsys_utils.interpret.trace_modified_lstm` takes it).
        X: ``(n, T)`` 0/1 flags.

    Returns:
        ``(T, T)`` float64, rows = flipped position ``s``, columns = step ``t``.
    """
    w = cell_weights(model)
    X = np.asarray(X).astype(np.int64)
    T = X.shape[1]
    unnamed = [""] * T
    base = trace_modified_lstm(w, X, attributes=unnamed).h
    out = np.zeros((T, T))
    for s in range(T):
        Xs = X.copy()
        Xs[:, s] = 1 - Xs[:, s]
        h = trace_modified_lstm(w, Xs, attributes=unnamed).h
        out[s] = np.abs(h - base).mean(axis=(0, 2))
    return out


def decay_by_distance(profile: np.ndarray) -> pd.Series:
    """Mean over ``s`` of ``profile[s, s + d] / profile[s, s]`` for each distance ``d``.

    Args:
        profile: ``(T, T)`` a :func:`memory_profile`.

    Returns:
        ``(T,)`` indexed by ``d`` ("steps later"): the share of a flag's immediate effect on
        ``h`` that is left ``d`` steps later (1 at ``d = 0``); positions where the flag has no
        immediate effect are skipped (``nan`` when none is left).
    """
    T = profile.shape[0]
    out = {}
    for d in range(T):
        ratios = [profile[s, s + d] / profile[s, s] for s in range(T - d) if profile[s, s] > 0]
        out[d] = float(np.mean(ratios)) if ratios else math.nan
    return pd.Series(out, name="share of the effect left").rename_axis("steps later")


def position_sensitivity(result: BatchedResult, X_list: Sequence[np.ndarray]) -> np.ndarray:
    """How much each position of the sequence moves each user's score.

    For every user of ``result`` (a :func:`recsys_utils.batched.train_users` result) and each of
    their rows in ``X_list`` (``(n_u, d)`` 0/1, in ``result.user_ids`` order), every flag is
    flipped in turn (as :func:`recsys_utils.interpret.occlusion`); the mean absolute
    change of the like probability per flag is that user's sensitivity to the position.

    Returns:
        ``(n_users, d)`` float64; ``NaN`` rows for users with no rows.
    """
    d = result.layout.n_attributes
    batches = [
        with_flipped_copies(np.asarray(X, dtype=np.float32).reshape(-1, d)).astype(np.uint8) for X in X_list
    ]
    probs = result.predict_proba(batches)
    out = np.full((len(batches), d), np.nan)
    for i, (X, p) in enumerate(zip(X_list, probs)):
        n = len(X)
        if n:
            p = np.asarray(p, dtype=np.float64)
            out[i] = np.abs(p[n:].reshape(n, d) - p[:n, None]).mean(axis=0)
    return out


def attribution_by_order(
    data: MovieLens,
    user_ids: Sequence[int],
    orders: dict[str, Sequence[str]] | None = None,
    *,
    max_rows: int = ATTRIBUTION_MAX_ROWS,
    epochs: int = report.SEQUENCE_EPOCHS,
    batch_size: int = report.SEQUENCE_BATCH_SIZE,
    seed: int = 0,
    trainer: Trainer = "batched",
) -> tuple[pd.DataFrame, dict[str, UserModels]]:
    """Is a genre's effect about the genre or about where it sits in the sequence?

    Each user's model is trained once per attribute order (default: the report's order and
    its reverse) on the same rows (the first ``max_rows`` rows of the user's
    :func:`recsys_utils.features.seeded_order`), then explained by
    :func:`recsys_utils.interpret.occlusion` on those rows.

    Returns:
        A table with one row per (user, order, genre): ``user_id``, ``order``, ``genre``,
        ``position`` (1-based position of the genre in that order), ``rows`` (rows with the
        genre), ``mean_abs_effect`` (mean over the rows of ``|p(with) - p(without)|``) and
        ``mean_effect`` (the same, signed); and the trained models by order.
    """
    if orders is None:
        orders = {"report order": REPORT_GENRES, "reversed": tuple(reversed(REPORT_GENRES))}
    ids = [int(u) for u in user_ids]
    datasets = user_datasets(data, ids)
    rows_of = {ds.user_id: np.sort(ds.seeded_order(seed)[:max_rows]) for ds in datasets}
    out, models_by_order = [], {}
    for name, order in orders.items():
        cols = [REPORT_GENRES.index(g) for g in order]
        if sorted(cols) != list(range(len(REPORT_GENRES))):
            raise ValueError(f"order {name!r} is not a permutation of the 18 genres")
        X_list = [ds.X[rows_of[ds.user_id]][:, cols] for ds in datasets]
        y_list = [ds.y[rows_of[ds.user_id]] for ds in datasets]
        models = train_user_models(
            X_list, y_list, ids, trainer=trainer, epochs=epochs, batch_size=batch_size, seed=seed
        )
        models_by_order[name] = models
        for ds, X in zip(datasets, X_list):
            occ = occlusion(lambda Z, u=ds.user_id, m=models: m.predict_user(u, Z), X, tuple(order))
            eff = occ.effect
            for pos, genre in enumerate(order):
                out.append(
                    {
                        "user_id": ds.user_id,
                        "order": name,
                        "genre": genre,
                        "position": pos + 1,
                        "rows": int(X[:, pos].sum()),
                        "mean_abs_effect": float(np.abs(eff[:, pos]).mean()),
                        "mean_effect": float(eff[:, pos].mean()),
                    }
                )
    return pd.DataFrame(out), models_by_order
