"""Which positions of the 18-flag sequence a trained network reads, per user, seed and cell.

Two probes on the networks of the batched trainer (e.g. the stored networks of a
:func:`recsys_utils.experiments.population_run` with ``keep_results=True``):

- :func:`position_shares`: from :func:`recsys_utils.interpret.position_sensitivity` (the mean
  absolute change of the like probability when the flag at one position is flipped), the share
  of a user's total sensitivity that falls on the last positions (``1 / 6`` for the last three
  if every position weighed the same);
- :func:`order_effects` and :func:`order_correlations`: each user's network is trained again
  on the same rows and seed with the genres in another order (default reversed); if the
  effects belong to the genres, the per-genre effects of the two orders agree, if they belong
  to the positions, the per-position effects do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from recsys_utils import report
from recsys_utils.data.genres import REPORT_GENRES
from recsys_utils.interpret.memory import position_sensitivity

if TYPE_CHECKING:  # pragma: no cover
    from recsys_utils.batched import BatchedResult

#: Positions counted as "the last ones" by :func:`position_shares`, by default.
LAST_POSITIONS: int = 3
#: Names of the two orders of :func:`order_effects`.
REPORT_ORDER, REVERSED_ORDER = "report order", "reversed"

__all__ = [
    "LAST_POSITIONS",
    "REPORT_ORDER",
    "REVERSED_ORDER",
    "order_correlations",
    "order_effects",
    "position_shares",
    "position_table",
]


def position_shares(sensitivity: np.ndarray, n_last: int = LAST_POSITIONS) -> np.ndarray:
    """Share of each user's total position sensitivity on the last ``n_last`` positions.

    Args:
        sensitivity: ``(n_users, d)`` non-negative, a
            :func:`~recsys_utils.interpret.position_sensitivity`.
        n_last: how many of the last positions count (``1 <= n_last <= d``).

    Returns:
        ``(n_users,)`` in ``[0, 1]``; ``nan`` for a user whose total is 0 or undefined.
        ``n_last / d`` if every position weighed the same.
    """
    s = np.asarray(sensitivity, dtype=np.float64)
    if s.ndim != 2 or not 1 <= n_last <= s.shape[1]:
        raise ValueError(f"need (n_users, d) sensitivities and 1 <= n_last <= d, got {s.shape}, {n_last}")
    if (s < 0).any():
        raise ValueError("sensitivities must be non-negative")
    total = s.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = s[:, -n_last:].sum(axis=1) / total
    return np.where(total > 0, share, np.nan)


def position_table(
    results: dict[tuple[str, int], BatchedResult],
    X_by_seed: dict[int, Sequence[np.ndarray]],
    n_last: int = LAST_POSITIONS,
) -> pd.DataFrame:
    """Position sensitivity and last-position share of every (cell, seed) network.

    Args:
        results: ``{(model, seed): BatchedResult}`` (users in one order for every entry).
        X_by_seed: ``{seed: [(n_u, d) rows per user]}``, the rows each seed's networks are
            probed on (e.g. their held-out rows), in the results' user order.
        n_last: as :func:`position_shares`.

    Returns:
        One row per (user, seed, model): ``user_id``, ``seed``, ``model``, ``last_share``
        and ``p1`` ... ``p{d}`` (the mean absolute change of the like probability for a flip
        at each position).
    """
    frames = []
    for (model, seed), result in results.items():
        sens = position_sensitivity(result, X_by_seed[seed])
        frame = pd.DataFrame(sens, columns=[f"p{j + 1}" for j in range(sens.shape[1])])
        frame.insert(0, "last_share", position_shares(sens, n_last))
        frame.insert(0, "model", model)
        frame.insert(0, "seed", int(seed))
        frame.insert(0, "user_id", np.asarray(result.user_ids, np.int64))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def order_effects(
    report_result: BatchedResult,
    X_train: Sequence[np.ndarray],
    y_train: Sequence[np.ndarray],
    X_probe: Sequence[np.ndarray],
    *,
    order: Sequence[str] | None = None,
    epochs: int = report.SEQUENCE_EPOCHS,
    batch_size: int = report.SEQUENCE_BATCH_SIZE,
) -> pd.DataFrame:
    """Occlusion effects per genre and position of a network and of its reordered twin.

    ``report_result`` (cell ``"modified"``, genres in the report's order, seed ``s``) was
    trained on ``X_train``/``y_train``; the twin is trained here on the same rows, with the
    same seed, epochs and batch size and the trainer that suits ``RECSYS_DEVICE`` (as a
    population run's), the columns permuted to ``order`` (default: reversed).
    Both are probed on ``X_probe`` (:func:`~recsys_utils.interpret.position_sensitivity`).

    Returns:
        One row per (user, order, genre): ``user_id``, ``order`` (:data:`REPORT_ORDER` or
        :data:`REVERSED_ORDER`), ``genre``, ``position`` (1-based, in that order) and
        ``mean_abs_effect`` (mean over the probe rows of ``|p(flipped) - p|``).
    """
    from recsys_utils.device import multi_user_trainer

    order = tuple(reversed(REPORT_GENRES)) if order is None else tuple(order)
    cols = [REPORT_GENRES.index(g) for g in order]
    if sorted(cols) != list(range(len(REPORT_GENRES))):
        raise ValueError("order must be a permutation of the 18 genres")
    seed = int(report_result.config["seed"])
    twin = multi_user_trainer()(
        [np.asarray(X)[:, cols] for X in X_train],
        list(y_train),
        report_result.user_ids,
        cell=report_result.layout.cell,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        progress=False,
    )
    ids = np.asarray(report_result.user_ids, np.int64)
    parts = []
    for name, result, genres, X_list in (
        (REPORT_ORDER, report_result, REPORT_GENRES, X_probe),
        (REVERSED_ORDER, twin, order, [np.asarray(X)[:, cols] for X in X_probe]),
    ):
        sens = position_sensitivity(result, X_list)
        n, d = sens.shape
        parts.append(
            pd.DataFrame(
                {
                    "user_id": np.repeat(ids, d),
                    "order": name,
                    "genre": np.tile(np.asarray(genres, dtype=object), n),
                    "position": np.tile(np.arange(1, d + 1), n),
                    "mean_abs_effect": sens.reshape(-1),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def order_correlations(effects: pd.DataFrame) -> pd.DataFrame:
    """Per user (and seed, when the table has one): Spearman correlations between the two
    orders of an :func:`order_effects` table, of the effects per genre (``rho_genre``) and per
    position (``rho_position``); ``nan`` when a user's effects are constant."""
    from scipy.stats import spearmanr

    keys = ["user_id", "seed"] if "seed" in effects.columns else ["user_id"]
    rows = []
    for key, sub in effects.groupby(keys, sort=True):
        rep = sub[sub["order"] == REPORT_ORDER]
        rev = sub[sub["order"] == REVERSED_ORDER]
        by = {}
        for what in ("genre", "position"):
            a = rep.set_index(what)["mean_abs_effect"]
            b = rev.set_index(what)["mean_abs_effect"].reindex(a.index)
            constant = a.nunique() < 2 or b.nunique() < 2
            by[f"rho_{what}"] = np.nan if constant else float(spearmanr(a, b).statistic)
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(keys, (int(k) for k in key))), **by})
    return pd.DataFrame(rows)
