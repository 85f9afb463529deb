"""Top-k ranking evaluation for every model, exact under tied scores.

The report judges its models by like/dislike accuracy on one user; section 6.2 names
"improved evaluation metrics" as future work. This module ranks, for every user, all the
movies they did not train on and asks where the movies they liked in a held-out set land.

The protocol (which movies train, which are candidates, which are relevant) is
:func:`~recsys_utils.evaluation.splits.ranking_split`; models are fitted on its training
ratings (:meth:`recsys_utils.recommenders.base.Recommender.fit_split`).

Metrics at ``k`` (default 10), per user, then averaged over users
-------------------------------------------------------------------
With ``rel_i`` in {0, 1} the relevance at rank ``i = 1..k`` and ``R`` relevant movies:

- ``precision = sum(rel_i) / k``;
- ``recall = sum(rel_i) / R`` (the standard definition; a user with ``R > k`` cannot reach
  1, which the per-user table shows through ``n_relevant``);
- ``ndcg = DCG / IDCG`` with ``DCG = sum(rel_i / log2(i + 1))`` and
  ``IDCG = sum_{i <= min(k, R)} 1 / log2(i + 1)`` (binary relevance, log2 discount);
- ``hit_rate = 1`` if at least one relevant movie is in the top ``k``, else 0.

Ties
----
Genre-only models give every movie with the same 18 genre flags the same score (ML-1M has
about 301 distinct genre rows among 3,883 movies), so the top-``k`` cut usually falls inside
a block of tied movies, and any fixed tie-break (e.g. by movie id) is arbitrary. The default
is the **expected** metric under a uniformly random order within each tie block, computed
exactly:

- a block of ``m`` tied movies holding ``c`` relevant ones puts expected relevance ``c / m``
  at each of its positions; precision, recall and NDCG are linear in the relevance at each
  position, so plugging in these expectations gives their exact expectations;
- the hit rate is not linear: blocks wholly inside the top ``k`` are certain; in the block
  that straddles the cut, ``t`` of its ``m`` positions fall in the top ``k`` and the number of
  relevant movies among them is hypergeometric, so ``P(no hit there) = C(m - c, t) / C(m, t)``.

``*_min`` and ``*_max`` columns give the pessimistic and optimistic bounds (relevant movies
last, respectively first, inside each tie block); ``ties="first"`` breaks ties by candidate
order (ascending movie id), as :meth:`recsys_utils.recommenders.base.Recommender.recommend` does.
``NaN`` scores (a model that cannot score a movie) rank below every other score, tied.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Union

import numpy as np
import pandas as pd

from recsys_utils.evaluation.splits import RankingSplit

if TYPE_CHECKING:  # pragma: no cover
    from recsys_utils.recommenders import Recommender

__all__ = [
    "METRICS",
    "TIES",
    "ranking_metrics",
    "tie_block_at_cut",
    "evaluate_ranking",
    "RankingResult",
    "compare_rankings",
]

#: Metric names, in table order.
METRICS: tuple[str, ...] = ("precision", "recall", "ndcg", "hit_rate")
#: Tie handling of :func:`ranking_metrics`.
TIES: tuple[str, ...] = ("expected", "optimistic", "pessimistic", "first")
Ties = Literal["expected", "optimistic", "pessimistic", "first"]


# -------------------------------------------------------------------------- metrics
def _discounts(n: int) -> np.ndarray:
    """``(n,)`` the DCG discounts ``1 / log2(i + 1)`` of ranks ``i = 1..n``."""
    return 1.0 / np.log2(np.arange(2, n + 2))


def _ranked_head(scores: np.ndarray, relevant: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The candidates that can reach the top ``k``, by descending score.

    Args:
        scores: ``(n,)``; ``NaN`` counts as ``-inf``.
        relevant: ``(n,)`` bool.

    Returns:
        ``(s_head, r_head)``, each ``(h,)``: every candidate scoring at least the ``k``-th
        largest score (so the tie block at the cut is whole), sorted by descending score,
        ties in input order.
    """
    s = np.asarray(scores, dtype=np.float64)
    r = np.asarray(relevant, dtype=bool)
    if s.ndim != 1 or s.shape != r.shape:
        raise ValueError(f"scores and relevant must be 1-D of one length, got {s.shape} and {r.shape}")
    neg = np.where(np.isnan(s), np.inf, -s)  # ascending neg = descending score, NaN last
    k_eff = min(k, len(s))
    if 0 < k_eff < len(s):
        cut = np.partition(neg, k_eff - 1)[k_eff - 1]
        head = np.flatnonzero(neg <= cut)
    else:
        head = np.arange(len(s))
    order = head[np.argsort(neg[head], kind="stable")]
    return -neg[order], r[order]


def _tie_blocks(s_head: np.ndarray, r_head: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tie blocks of a descending score list (see :func:`_ranked_head`) that meet the first
    ``k`` positions.

    Returns ``(starts, sizes, n_relevant)``, each ``(n_blocks,)`` int: the first position,
    the length and the relevant count of each block; the last block may run past ``k``.
    """
    k_eff = min(k, len(s_head))
    if k_eff == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    # the block holding position k_eff - 1 ends at the last score equal to it
    end = int(np.searchsorted(-s_head, -s_head[k_eff - 1], side="right"))
    head = s_head[:end]
    starts = np.flatnonzero(np.r_[True, head[1:] != head[:-1]])
    sizes = np.diff(np.r_[starts, end])
    counts = np.add.reduceat(r_head[:end].astype(np.int64), starts)
    return starts, sizes, counts


def _position_gains(
    starts: np.ndarray, sizes: np.ndarray, counts: np.ndarray, k: int, ties: Ties
) -> tuple[np.ndarray, float]:
    """Relevance at each of the first ``k`` positions and the hit probability, per tie mode.

    Returns ``(gains, p_hit)``: ``gains`` ``(min(k, n),)`` float (0/1 for the bounds, the
    expectation ``c / m`` for ``"expected"``), ``p_hit`` in [0, 1].
    """
    end = int(starts[-1] + sizes[-1]) if len(starts) else 0
    k_eff = min(k, end)
    block = np.repeat(np.arange(len(starts)), sizes)  # (end,) block of each position
    offset = np.arange(end) - starts[block]
    if ties == "optimistic":
        gains = (offset < counts[block]).astype(np.float64)[:k_eff]
        return gains, float(gains.sum() > 0)
    if ties == "pessimistic":
        gains = (offset >= sizes[block] - counts[block]).astype(np.float64)[:k_eff]
        return gains, float(gains.sum() > 0)
    gains = (counts[block] / sizes[block])[:k_eff]
    last = len(starts) - 1
    if counts[:last].sum() > 0:  # a relevant movie in a block wholly inside the top k
        return gains, 1.0
    m, c, t = int(sizes[last]), int(counts[last]), k_eff - int(starts[last])
    return gains, 1.0 - _prob_no_hit(m, c, t)


def _prob_no_hit(m: int, c: int, t: int) -> float:
    """Hypergeometric ``P(X = 0)`` drawing ``t`` of ``m`` items of which ``c`` are relevant:
    ``C(m - c, t) / C(m, t)``."""
    if t > m - c:
        return 0.0
    i = np.arange(t)
    return float(np.prod((m - c - i) / (m - i)))


def _metrics_from_gains(gains: np.ndarray, p_hit: float, n_relevant: int, k: int) -> dict[str, float]:
    """The four metrics from the relevance (or expected relevance) at each rank, ``(<= k,)``."""
    hits = float(gains.sum())
    dcg = float(gains @ _discounts(len(gains)))
    idcg = float(_discounts(min(k, n_relevant)).sum())
    return {"precision": hits / k, "recall": hits / n_relevant, "ndcg": dcg / idcg, "hit_rate": p_hit}


def ranking_metrics(
    scores: np.ndarray, relevant: np.ndarray, k: int = 10, ties: Ties = "expected"
) -> dict[str, float]:
    """Precision, recall, NDCG and hit rate at ``k`` of one user's candidates.

    Args:
        scores: ``(n,)`` a score per candidate, higher is better; ``NaN`` ranks last.
        relevant: ``(n,)`` bool, which candidates are relevant.
        k: list length.
        ties: ``"expected"`` (exact expectation under random tie-breaking), ``"optimistic"``
            / ``"pessimistic"`` (relevant first / last inside tie blocks: the maximum /
            minimum over tie-breakings) or ``"first"`` (ties kept in input order).

    Returns:
        ``{"precision", "recall", "ndcg", "hit_rate"}``, all ``NaN`` when nothing is relevant.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if ties not in TIES:
        raise ValueError(f"ties must be one of {TIES}, got {ties!r}")
    n_relevant = int(np.asarray(relevant, dtype=bool).sum())
    s_head, r_head = _ranked_head(scores, relevant, k)
    if n_relevant == 0:
        return {m: float("nan") for m in METRICS}
    if ties == "first":
        gains = r_head[:k].astype(np.float64)
        return _metrics_from_gains(gains, float(gains.sum() > 0), n_relevant, k)
    gains, p_hit = _position_gains(*_tie_blocks(s_head, r_head, k), k, ties)
    return _metrics_from_gains(gains, p_hit, n_relevant, k)


def tie_block_at_cut(scores: np.ndarray, k: int = 10) -> int:
    """How many candidates share the score at rank ``k`` (1 when the cut is untied).

    ``scores``: ``(n,)``; ``NaN`` counts as ``-inf``.
    """
    s_head, r_head = _ranked_head(scores, np.zeros(len(scores), dtype=bool), k)
    _, sizes, _ = _tie_blocks(s_head, r_head, k)
    return int(sizes[-1]) if len(sizes) else 0


def _user_row(scores: np.ndarray, relevant: np.ndarray, k: int, ties: Ties, bounds: bool) -> dict[str, float]:
    """All metrics of one user (``ties`` mode, plus ``*_min`` / ``*_max`` when ``bounds``)."""
    n_relevant = int(relevant.sum())
    s_head, r_head = _ranked_head(scores, relevant, k)
    blocks = _tie_blocks(s_head, r_head, k)
    if ties == "first":
        gains = r_head[:k].astype(np.float64)
        row = _metrics_from_gains(gains, float(gains.sum() > 0), n_relevant, k)
    else:
        row = _metrics_from_gains(*_position_gains(*blocks, k, ties), n_relevant, k)
    if bounds:
        for suffix, mode in (("min", "pessimistic"), ("max", "optimistic")):
            values = _metrics_from_gains(*_position_gains(*blocks, k, mode), n_relevant, k)
            row.update({f"{m}_{suffix}": v for m, v in values.items()})
    row["cut_tie_size"] = float(blocks[1][-1]) if len(blocks[1]) else 0.0
    return row


# ------------------------------------------------------------------------ evaluation
ScoreFn = Callable[[int, np.ndarray], np.ndarray]
Scores = Union["Recommender", ScoreFn, Mapping, pd.DataFrame, np.ndarray]


@dataclass
class RankingResult:
    """Per-user ranking metrics of one model, and their averages.

    Attributes:
        model: the model's name.
        k: list length.
        ties: the tie mode of the main metric columns.
        per_user: one row per evaluated user: ``user_id``, ``n_train``, ``n_heldout``,
            ``n_relevant``, ``n_candidates``, the :data:`METRICS` (and their ``_min`` /
            ``_max`` tie bounds), ``cut_tie_size``.
        excluded_user_ids: ``(n_excluded,)`` users left out for having no relevant
            held-out movie.
        score_time_s: seconds spent scoring and computing metrics.
        fit_time_s: seconds the model took to fit, when known.
    """

    model: str
    k: int
    ties: str
    per_user: pd.DataFrame
    excluded_user_ids: np.ndarray
    score_time_s: float
    fit_time_s: float | None = None

    @property
    def summary(self) -> pd.Series:
        """Means over evaluated users of every metric column, with counts and times."""
        wanted = [f"{m}{sfx}" for m in METRICS for sfx in ("", "_min", "_max")] + ["cut_tie_size"]
        cols = [c for c in wanted if c in self.per_user.columns]
        out = {
            "model": self.model,
            "k": self.k,
            "ties": self.ties,
            "n_users": len(self.per_user),
            "n_excluded": len(self.excluded_user_ids),
        }
        out.update(self.per_user[cols].mean().to_dict())
        out.update({"fit_time_s": self.fit_time_s, "score_time_s": self.score_time_s})
        return pd.Series(out, name=self.model)


def compare_rankings(results: Sequence[RankingResult]) -> pd.DataFrame:
    """One row per model: its :attr:`RankingResult.summary`."""
    return pd.DataFrame([r.summary for r in results]).set_index("model")


def _as_score_fn(scores: Scores, split: RankingSplit) -> tuple[ScoreFn, np.ndarray | None]:
    """A per-user score function from any accepted input, and the users it covers (or None)."""
    if isinstance(scores, pd.DataFrame):
        return (lambda u, c: scores.loc[u].reindex(c).to_numpy(np.float64)), scores.index.to_numpy()
    if isinstance(scores, np.ndarray):
        if scores.shape != (len(split.user_ids), len(split.movie_ids)):
            raise ValueError(
                f"a score array must have shape (n_users, n_movies) = "
                f"{(len(split.user_ids), len(split.movie_ids))}, got {scores.shape}"
            )
        rows, cols = pd.Index(split.user_ids), pd.Index(split.movie_ids)
        return (lambda u, c: scores[rows.get_loc(u), cols.get_indexer(c)].astype(np.float64)), None
    if isinstance(scores, Mapping):

        def from_mapping(u: int, c: np.ndarray) -> np.ndarray:
            value = scores[u]
            if isinstance(value, pd.Series):
                return value.reindex(c).to_numpy(np.float64)
            return np.asarray(value, dtype=np.float64)

        return from_mapping, np.asarray(list(scores.keys()))
    if _scores_in_batches(scores):
        return (lambda u, c: scores.score_batch([u], c)[0]), None
    if callable(scores):
        return scores, None
    raise TypeError(
        f"scores must be a fitted Recommender, a callable (user_id, movie_ids) -> scores, a "
        f"mapping, a DataFrame or an array, got {type(scores).__name__}"
    )


def _scores_in_batches(scores: object) -> bool:
    """Whether ``scores`` has a ``score_batch(user_ids, movie_ids)`` method (duck-typed: a
    :class:`~recsys_utils.recommenders.base.Recommender` or any object with that method)."""
    return callable(getattr(scores, "score_batch", None))


def _batched(scores: Recommender, split: RankingSplit, users: np.ndarray, batch: int):
    """Yield ``(user_id, scores over split.movie_ids)`` computing ``batch`` users at a time."""
    for s in range(0, len(users), batch):
        chunk = users[s : s + batch]
        block = np.asarray(scores.score_batch(chunk, split.movie_ids))
        if block.shape != (len(chunk), len(split.movie_ids)):
            raise ValueError(
                f"score_batch returned shape {block.shape}, expected "
                f"{(len(chunk), len(split.movie_ids))} (users, split.movie_ids)"
            )
        yield from zip(chunk.tolist(), block)


def evaluate_ranking(
    scores: Scores,
    split: RankingSplit,
    k: int = 10,
    *,
    user_ids: Sequence[int] | np.ndarray | None = None,
    ties: Ties = "expected",
    bounds: bool = True,
    model: str | None = None,
    batch_size: int = 512,
) -> RankingResult:
    """Rank every candidate of every user and score the top ``k`` (module docstring).

    Args:
        scores: one of the following (higher is better; ``NaN`` ranks last):

            - a fitted :class:`~recsys_utils.recommenders.base.Recommender`, or any object with
              a method ``score_batch(user_ids (u,), movie_ids (m,)) -> (u, m)`` (called with
              ``batch_size`` users at a time and ``split.movie_ids``);
            - a callable ``(user_id, candidate_movie_ids (n,)) -> scores (n,)``;
            - a mapping ``user_id -> scores``: an array aligned with
              ``split.candidates(user_id)`` or a ``pd.Series`` indexed by movie id
              (missing movies get ``NaN``);
            - a ``pd.DataFrame`` indexed by user id with one column per movie id;
            - an ``(n_users, n_movies)`` array aligned with ``split.user_ids`` and
              ``split.movie_ids``.

        split: the :class:`RankingSplit` the model was trained on.
        k: list length.
        user_ids: users to evaluate; default every split user (for a mapping or a frame,
            those it holds).
        ties: tie mode of the main columns (``"expected"``, ``"first"``, ...).
        bounds: add ``*_min`` / ``*_max`` columns (pessimistic / optimistic tie-breaking).
        model: name in the result (default: the ranker's name, or ``"model"``).
        batch_size: users per ``score_batch`` call.

    Returns:
        A :class:`RankingResult`; users without a relevant held-out movie are excluded and
        listed in ``excluded_user_ids``.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if ties not in TIES:
        raise ValueError(f"ties must be one of {TIES}, got {ties!r}")
    start = time.perf_counter()
    fn, covered = _as_score_fn(scores, split)
    users = np.asarray(
        user_ids if user_ids is not None else (covered if covered is not None else split.user_ids)
    )
    unknown = np.setdiff1d(users, split.user_ids)
    if unknown.size:
        raise KeyError(f"users not in the split: {unknown[:10].tolist()}")
    if _scores_in_batches(scores):
        stream = _batched(scores, split, users, batch_size)
    else:
        stream = ((int(u), None) for u in users)
    rows, excluded = [], []
    for u, full_row in stream:
        candidate, relevant_all = split.masks(u)
        relevant = relevant_all[candidate]
        if not relevant.any():
            excluded.append(u)
            continue
        if full_row is None:
            s = np.asarray(fn(u, split.movie_ids[candidate]), dtype=np.float64).reshape(-1)
        else:
            s = np.asarray(full_row, dtype=np.float64)[candidate]
        if s.shape != relevant.shape:
            raise ValueError(f"user {u}: expected {len(relevant)} scores (one per candidate), got {s.shape}")
        row = {
            "user_id": u,
            "n_train": len(split.train_movies(u)),
            "n_heldout": len(split.heldout_movies(u)),
            "n_relevant": int(relevant.sum()),
            "n_candidates": len(relevant),
        }
        row.update(_user_row(s, relevant, k, ties, bounds))
        rows.append(row)
    per_user = pd.DataFrame(rows)
    name = model or getattr(scores, "name", None) or "model"
    return RankingResult(
        str(name),
        k,
        ties,
        per_user,
        np.asarray(excluded, dtype=np.int64),
        time.perf_counter() - start,
        getattr(scores, "fit_time_s", None),
    )
