"""Top-k ranking evaluation for every model, exact under tied scores.

The report judges its models by like/dislike accuracy on one user; section 6.2 names
"improved evaluation metrics" as future work. This module ranks, for every user, all the
movies they did not train on and asks where the movies they liked in a held-out set land.

Protocol (:func:`ranking_split`)
--------------------------------
- **Split, per user, order-independent.** A user's rated movies are sorted by movie id and
  shuffled by a generator seeded with ``(seed, user_id)``; the first
  ``int(n * train_fraction)`` are *training* movies, the rest (35 % by default, rounded up)
  are *held out*. This is exactly :meth:`recsys_utils.features.UserDataset.random_split`
  (``train_fraction=0.65``), so a user's split depends neither on the order of
  ``ratings.dat`` (users 3000+ of our ML-1M copy have no original order) nor on which other
  users are split alongside.
- **What models see.** Only training ratings, of every user. Collaborative models are fitted
  once on all users' training ratings and then score every user.
- **Candidates** of a user: every movie of ``movies.dat`` except that user's *training*
  movies (ML-1M: 3,883 minus about 65 % of their ratings). Held-out movies therefore compete
  with every movie the user never rated, as in a real recommendation list.
- **Relevant** movies: the user's held-out movies rated ``>= like_threshold`` (4 stars).
  Users with no relevant held-out movie are excluded from the averages and counted.

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
order (ascending movie id), as :meth:`recsys_utils.recommenders.Recommender.recommend` does.
``NaN`` scores (a model that cannot score a movie) rank below every other score, tied.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Sequence, Union

import numpy as np
import pandas as pd

from recsys_utils.features import LIKE_THRESHOLD, REPORT_TRAIN_FRACTION, UserDataset, rating_matrix

if TYPE_CHECKING:  # pragma: no cover
    from recsys_utils.data import MovieLens

__all__ = [
    "METRICS",
    "TIES",
    "RankingSplit",
    "ranking_split",
    "ranking_metrics",
    "tie_block_at_cut",
    "evaluate_ranking",
    "RankingResult",
    "compare_rankings",
    "FitOnceRanker",
    "PopularityRanker",
    "RBMRanker",
    "AutoencoderRanker",
    "MFRanker",
    "RANKER_NAMES",
    "make_ranker",
]

#: Metric names, in table order.
METRICS: tuple[str, ...] = ("precision", "recall", "ndcg", "hit_rate")
#: Tie handling of :func:`ranking_metrics`.
TIES: tuple[str, ...] = ("expected", "optimistic", "pessimistic", "first")
Ties = Literal["expected", "optimistic", "pessimistic", "first"]


# ---------------------------------------------------------------------------- split
@dataclass(frozen=True)
class RankingSplit:
    """A global per-user train / held-out split of the ratings, for ranking (module docstring).

    Attributes:
        train: ratings rows (``user_id``, ``movie_id``, ``rating``, ...) models may see,
            sorted by user then movie id (original index kept).
        heldout: the held-out ratings rows, same columns and order.
        movie_ids: ``(n_movies,)`` int32, every movie of ``movies.dat`` in file order: the
            candidate universe.
        user_ids: ``(n_users,)`` int32, every split user, ascending.
        train_fraction: share of each user's ratings used for training (0.65).
        seed: the split seed.
        like_threshold: a held-out rating ``>=`` this makes the movie relevant.
    """

    train: pd.DataFrame
    heldout: pd.DataFrame
    movie_ids: np.ndarray
    user_ids: np.ndarray
    train_fraction: float
    seed: int
    like_threshold: int
    _train_movies: dict = field(default_factory=dict, repr=False, compare=False)
    _heldout: dict = field(default_factory=dict, repr=False, compare=False)
    _columns: dict = field(default_factory=dict, repr=False, compare=False)

    def train_movies(self, user_id: int) -> np.ndarray:
        """``(n_train,)`` the user's training movies, ascending movie id."""
        return self._lookup(self._train_movies, user_id)[0]

    def heldout_movies(self, user_id: int) -> np.ndarray:
        """``(n_heldout,)`` the user's held-out movies, ascending movie id."""
        return self._lookup(self._heldout, user_id)[0]

    def relevant(self, user_id: int) -> np.ndarray:
        """``(n_relevant,)`` held-out movies the user liked (rating >= ``like_threshold``)."""
        movies, ratings = self._lookup(self._heldout, user_id)
        return movies[ratings >= self.like_threshold]

    def candidates(self, user_id: int) -> np.ndarray:
        """``(n_candidates,)`` every movie but the user's training movies, in ``movie_ids``
        order (``movies.dat`` order: ascending movie id for MovieLens)."""
        return self.movie_ids[self.masks(user_id)[0]]

    def masks(self, user_id: int) -> tuple[np.ndarray, np.ndarray]:
        """``(candidate, relevant)``: two ``(n_movies,)`` bool masks over :attr:`movie_ids`."""
        train_cols, heldout_cols, liked = self._lookup(self._columns, user_id)
        candidate = np.ones(len(self.movie_ids), dtype=bool)
        candidate[train_cols] = False
        relevant = np.zeros(len(self.movie_ids), dtype=bool)
        relevant[heldout_cols[liked]] = True
        return candidate, relevant

    @property
    def rated_movie_ids(self) -> np.ndarray:
        """``(n_rated,)`` movies rated by anyone (train or held-out), ascending (ML-1M: 3,706):
        the columns of the report's autoencoder matrix."""
        both = np.concatenate([self.train["movie_id"].to_numpy(), self.heldout["movie_id"].to_numpy()])
        return np.unique(both).astype(np.int32)

    def _lookup(self, table: dict, user_id: int) -> tuple:
        try:
            return table[int(user_id)]
        except KeyError:
            raise KeyError(f"user {user_id} is not in this split") from None

    def describe(self) -> str:
        """One paragraph stating the protocol and the sizes."""
        n_rel = sum(int((r >= self.like_threshold).sum()) for _, r in self._heldout.values())
        return (f"{len(self.user_ids)} users; per user, ratings sorted by movie id and shuffled with "
                f"seed ({self.seed}, user_id): {len(self.train)} training ratings "
                f"({self.train_fraction:.0%}), {len(self.heldout)} held out; relevant = held-out "
                f"ratings >= {self.like_threshold} ({n_rel}); candidates = all "
                f"{len(self.movie_ids)} movies minus the user's training movies.")


def ranking_split(data: "MovieLens", *, train_fraction: float = REPORT_TRAIN_FRACTION, seed: int = 0,
                  like_threshold: int = LIKE_THRESHOLD,
                  user_ids: Sequence[int] | np.ndarray | None = None) -> RankingSplit:
    """Split every user's ratings (or those of ``user_ids``) for ranking; see the module docstring.

    Each user's split is :meth:`UserDataset.random_split(train_fraction, seed)
    <recsys_utils.features.UserDataset.random_split>` of their ratings, so it does not
    depend on the file order of ``ratings.dat``.
    """
    ratings = data.ratings
    if user_ids is not None:
        wanted = np.unique(np.asarray(user_ids))
        ratings = ratings[ratings["user_id"].isin(wanted)]
        missing = np.setdiff1d(wanted, ratings["user_id"].unique())
        if missing.size:
            raise KeyError(f"users without ratings in {data.name}: {missing[:10].tolist()}")
    ratings = ratings.sort_values(["user_id", "movie_id"], kind="stable")
    users = ratings["user_id"].to_numpy()
    movies = ratings["movie_id"].to_numpy(np.int32)
    stars = ratings["rating"].to_numpy(np.int8)
    universe = data.movies["movie_id"].to_numpy(np.int32)
    cols = pd.Index(universe).get_indexer(movies)
    if (cols < 0).any():
        missing = np.unique(movies[cols < 0])[:10].tolist()
        raise KeyError(f"ratings of movies missing from movies.dat: {missing}")
    uniq, starts = np.unique(users, return_index=True)
    bounds = np.append(starts, len(users))
    is_train = np.zeros(len(users), dtype=bool)
    train_movies: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    heldout: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    columns: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for u, a, b in zip(uniq.tolist(), bounds[:-1], bounds[1:]):
        split = _user_split(u, movies[a:b], stars[a:b], train_fraction, seed)
        mask = np.zeros(b - a, dtype=bool)
        mask[split.train] = True
        is_train[a:b] = mask
        train_movies[u] = (movies[a:b][mask], stars[a:b][mask])
        heldout[u] = (movies[a:b][~mask], stars[a:b][~mask])
        columns[u] = (cols[a:b][mask], cols[a:b][~mask], stars[a:b][~mask] >= like_threshold)
    return RankingSplit(ratings[is_train], ratings[~is_train], universe, uniq.astype(np.int32),
                        float(train_fraction), int(seed), int(like_threshold), train_movies, heldout,
                        columns)


def _user_split(user_id: int, movie_ids: np.ndarray, ratings: np.ndarray, train_fraction: float,
                seed: int):
    """:meth:`UserDataset.random_split` of one user's rows (``movie_ids`` ``(n,)``), reused as is."""
    n = len(movie_ids)
    rows = UserDataset(user_id, movie_ids, ratings, np.empty((n, 0), np.float32), np.zeros(n, np.float32))
    return rows.random_split(train_fraction, seed)


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


def _tie_blocks(s_head: np.ndarray, r_head: np.ndarray, k: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def _position_gains(starts: np.ndarray, sizes: np.ndarray, counts: np.ndarray, k: int, ties: Ties
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


def ranking_metrics(scores: np.ndarray, relevant: np.ndarray, k: int = 10, ties: Ties = "expected"
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


def _user_row(scores: np.ndarray, relevant: np.ndarray, k: int, ties: Ties, bounds: bool
              ) -> dict[str, float]:
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
Scores = Union["FitOnceRanker", ScoreFn, Mapping, pd.DataFrame, np.ndarray]


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
        out = {"model": self.model, "k": self.k, "ties": self.ties, "n_users": len(self.per_user),
               "n_excluded": len(self.excluded_user_ids)}
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
            raise ValueError(f"a score array must have shape (n_users, n_movies) = "
                             f"{(len(split.user_ids), len(split.movie_ids))}, got {scores.shape}")
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
    raise TypeError(f"scores must be a FitOnceRanker, a callable (user_id, movie_ids) -> scores, a "
                    f"mapping, a DataFrame or an array, got {type(scores).__name__}")


def _scores_in_batches(scores: object) -> bool:
    """Whether ``scores`` has a ``score_batch(user_ids, movie_ids)`` method (duck-typed: a
    :class:`FitOnceRanker` or any object with that method)."""
    return callable(getattr(scores, "score_batch", None))


def _batched(scores: "FitOnceRanker", split: RankingSplit, users: np.ndarray, batch: int):
    """Yield ``(user_id, scores over split.movie_ids)`` computing ``batch`` users at a time."""
    for s in range(0, len(users), batch):
        chunk = users[s:s + batch]
        block = np.asarray(scores.score_batch(chunk, split.movie_ids))
        if block.shape != (len(chunk), len(split.movie_ids)):
            raise ValueError(f"score_batch returned shape {block.shape}, expected "
                             f"{(len(chunk), len(split.movie_ids))} (users, split.movie_ids)")
        yield from zip(chunk.tolist(), block)


def evaluate_ranking(scores: Scores, split: RankingSplit, k: int = 10, *,
                     user_ids: Sequence[int] | np.ndarray | None = None, ties: Ties = "expected",
                     bounds: bool = True, model: str | None = None, batch_size: int = 512
                     ) -> RankingResult:
    """Rank every candidate of every user and score the top ``k`` (module docstring).

    Args:
        scores: one of
            - a fitted :class:`FitOnceRanker`, or any object with a method
              ``score_batch(user_ids (u,), movie_ids (m,)) -> (u, m)`` (called with
              ``batch_size`` users at a time and ``split.movie_ids``);
            - a callable ``(user_id, candidate_movie_ids (n,)) -> scores (n,)``;
            - a mapping ``user_id -> scores``: an array aligned with
              ``split.candidates(user_id)`` or a ``pd.Series`` indexed by movie id
              (missing movies get ``NaN``);
            - a ``pd.DataFrame`` indexed by user id with one column per movie id;
            - an ``(n_users, n_movies)`` array aligned with ``split.user_ids`` and
              ``split.movie_ids``.
            Higher is better; ``NaN`` ranks last.
        split: the :class:`RankingSplit` the model was trained on.
        k: list length.
        user_ids: users to evaluate; default every split user (for a mapping or a frame,
            those it holds).
        ties: tie mode of the main columns (``"expected"``, ``"first"``, ...).
        bounds: add ``*_min`` / ``*_max`` columns (pessimistic / optimistic tie-breaking).
        model: name in the result (default: the ranker's name, or ``"model"``).
        batch_size: users per :meth:`FitOnceRanker.score_batch` call.

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
    users = np.asarray(user_ids if user_ids is not None
                       else (covered if covered is not None else split.user_ids))
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
        row = {"user_id": u, "n_train": len(split.train_movies(u)),
               "n_heldout": len(split.heldout_movies(u)), "n_relevant": int(relevant.sum()),
               "n_candidates": len(relevant)}
        row.update(_user_row(s, relevant, k, ties, bounds))
        rows.append(row)
    per_user = pd.DataFrame(rows)
    name = model or getattr(scores, "name", None) or "model"
    return RankingResult(str(name), k, ties, per_user, np.asarray(excluded, dtype=np.int64),
                         time.perf_counter() - start, getattr(scores, "fit_time_s", None))


# -------------------------------------------------------------------------- rankers
class FitOnceRanker(ABC):
    """A model fitted once on all users' training ratings of a :class:`RankingSplit`.

    Subclasses implement :meth:`_fit` and :meth:`score_batch`. Instances are callables
    ``(user_id, movie_ids) -> scores``, so they plug into :func:`evaluate_ranking`.
    """

    name: str = "ranker"

    def __init__(self) -> None:
        self.split: RankingSplit | None = None
        self.fit_time_s: float | None = None

    def fit(self, split: RankingSplit) -> "FitOnceRanker":
        """Train on ``split.train`` (every user's training ratings); records ``fit_time_s``."""
        self.split = split
        start = time.perf_counter()
        self._fit(split)
        self.fit_time_s = time.perf_counter() - start
        return self

    @abstractmethod
    def _fit(self, split: RankingSplit) -> None:
        """Train on ``split.train``."""

    @abstractmethod
    def score_batch(self, user_ids: Sequence[int] | np.ndarray, movie_ids: Sequence[int] | np.ndarray
                    ) -> np.ndarray:
        """``(n_users, n_movies)`` float64 scores, higher is better (``NaN``: cannot score)."""

    def score(self, user_id: int, movie_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """``(n_movies,)`` scores of one user."""
        return self.score_batch([user_id], movie_ids)[0]

    __call__ = score

    def _require_fit(self) -> RankingSplit:
        if self.split is None:
            raise RuntimeError(f"{type(self).__name__}.fit() must be called before scoring")
        return self.split


def _columns(universe: np.ndarray, movie_ids: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column of each of ``movie_ids`` in ``universe`` and a mask of those found, ``(n,)`` each."""
    cols = pd.Index(universe).get_indexer(np.asarray(movie_ids))
    return np.where(cols >= 0, cols, 0), cols >= 0


class PopularityRanker(FitOnceRanker):
    """The same list for everyone, from the training ratings only.

    ``kind``: ``"likes"`` (number of training ratings >= ``like_threshold``; the usual
    most-popular baseline for liked items), ``"ratings"`` (number of training ratings) or
    ``"like_share"`` (``(likes + m * p) / (ratings + m)``, the formula of
    :class:`recsys_utils.recommenders.PopularityRecommender`, with ``m = prior_weight`` and
    ``p`` the overall like share). Movies without a training rating score 0 (``"like_share"``:
    ``p``).
    """

    name = "popularity"

    def __init__(self, kind: Literal["likes", "ratings", "like_share"] = "likes", *,
                 prior_weight: float = 10.0) -> None:
        super().__init__()
        if kind not in ("likes", "ratings", "like_share"):
            raise ValueError(f"kind must be 'likes', 'ratings' or 'like_share', got {kind!r}")
        self.kind, self.prior_weight = kind, prior_weight
        self.scores_: pd.Series | None = None

    def _fit(self, split: RankingSplit) -> None:
        r = split.train
        like = (r["rating"] >= split.like_threshold).astype(np.float64)
        stats = like.groupby(r["movie_id"]).agg(["sum", "count"]).reindex(split.movie_ids, fill_value=0)
        if self.kind == "likes":
            self.scores_ = stats["sum"].astype(np.float64)
        elif self.kind == "ratings":
            self.scores_ = stats["count"].astype(np.float64)
        else:
            p = float(like.mean())
            self.scores_ = (stats["sum"] + self.prior_weight * p) / (stats["count"] + self.prior_weight)

    def score_batch(self, user_ids: Sequence[int] | np.ndarray, movie_ids: Sequence[int] | np.ndarray
                    ) -> np.ndarray:
        self._require_fit()
        row = self.scores_.reindex(np.asarray(movie_ids)).to_numpy(np.float64)
        return np.tile(row, (len(np.asarray(user_ids)), 1))


class RBMRanker(FitOnceRanker):
    """The report's RBM (:class:`recsys_utils.models.rbm.RBM`) trained on every user.

    Visible units: every movie of ``movies.dat`` in file order, values rating/5 (0 when
    unrated), one row per split user in user-id order, training ratings only. A user's
    score is the reconstruction of their training row. ``rbm_kw`` go to :class:`RBM`
    (the report's settings by default: 30 hidden units, zero init, CD-1 on probabilities,
    batches of 150 with the report's batching).
    """

    name = "rbm"

    def __init__(self, *, epochs: int = 20, seed: int = 0, verbose: bool = False, **rbm_kw: Any) -> None:
        super().__init__()
        self.epochs, self.seed, self.verbose, self.rbm_kw = epochs, seed, verbose, rbm_kw
        self.rbm = None
        self.matrix = None

    def _fit(self, split: RankingSplit) -> None:
        from recsys_utils.models.rbm import RBM

        self.matrix = rating_matrix(split.train, user_ids=split.user_ids, movie_ids=split.movie_ids,
                                    scale=5.0)
        self.rbm = RBM(epochs=self.epochs, seed=self.seed, verbose=self.verbose, **self.rbm_kw)
        self.rbm.fit(self.matrix.values)

    def score_batch(self, user_ids: Sequence[int] | np.ndarray, movie_ids: Sequence[int] | np.ndarray
                    ) -> np.ndarray:
        self._require_fit()
        rows = [self.matrix.row_index(u) for u in np.asarray(user_ids)]
        recon = self.rbm.reconstruct(self.matrix.values[rows])
        cols, found = _columns(self.matrix.movie_ids, movie_ids)
        return np.where(found, recon[:, cols], np.nan).astype(np.float64)


class AutoencoderRanker(FitOnceRanker):
    """The report's autoencoder (:class:`recsys_utils.models.autoencoder.RatingAutoencoder`)
    trained on every user's training row.

    Columns: every movie anyone rated (ML-1M: 3,706, the report's pivot table), raw ratings,
    0 when unrated; rows: every split user, fed in a seeded shuffled order (the report
    shuffles users with ``train_test_split``). A user's score is the predicted rating of
    their training row; movies outside the columns get ``NaN`` (ranked last).
    ``ae_kw`` go to :class:`RatingAutoencoder` (the report's settings by default).
    """

    name = "autoencoder"

    def __init__(self, *, epochs: int = 30, batch_size: int = 100, seed: int = 0, verbose: int = 0,
                 **ae_kw: Any) -> None:
        super().__init__()
        self.epochs, self.batch_size, self.seed, self.verbose = epochs, batch_size, seed, verbose
        self.ae_kw = ae_kw
        self.autoencoder = None
        self.matrix = None

    def _fit(self, split: RankingSplit) -> None:
        from recsys_utils.models.autoencoder import RatingAutoencoder

        self.matrix = rating_matrix(split.train, user_ids=split.user_ids,
                                    movie_ids=split.rated_movie_ids)
        order = np.random.RandomState(self.seed).permutation(self.matrix.shape[0])
        self.autoencoder = RatingAutoencoder(**self.ae_kw)
        self.autoencoder.fit(self.matrix.values[order], None, epochs=self.epochs,
                             batch_size=self.batch_size, seed=self.seed, verbose=self.verbose)

    def score_batch(self, user_ids: Sequence[int] | np.ndarray, movie_ids: Sequence[int] | np.ndarray
                    ) -> np.ndarray:
        self._require_fit()
        rows = [self.matrix.row_index(u) for u in np.asarray(user_ids)]
        predicted = self.autoencoder.predict(self.matrix.values[rows])
        cols, found = _columns(self.matrix.movie_ids, movie_ids)
        return np.where(found, predicted[:, cols], np.nan).astype(np.float64)


class MFRanker(FitOnceRanker):
    """Matrix factorization (:class:`recsys_utils.models.mf.MatrixFactorization`) on every
    user's training ratings; ``mf_kw`` go to it."""

    name = "mf"

    def __init__(self, **mf_kw: Any) -> None:
        super().__init__()
        self.mf_kw = mf_kw
        self.mf = None

    def _fit(self, split: RankingSplit) -> None:
        from recsys_utils.models.mf import MatrixFactorization

        self.mf = MatrixFactorization(like_threshold=split.like_threshold, **self.mf_kw)
        self.mf.fit(split.train, user_ids=split.user_ids, movie_ids=split.movie_ids)

    def score_batch(self, user_ids: Sequence[int] | np.ndarray, movie_ids: Sequence[int] | np.ndarray
                    ) -> np.ndarray:
        self._require_fit()
        return self.mf.score_batch(user_ids, movie_ids)


#: Names accepted by :func:`make_ranker`.
RANKER_NAMES: tuple[str, ...] = ("popularity", "rbm", "autoencoder", "mf")


def make_ranker(name: str, **kw: Any) -> FitOnceRanker:
    """A fit-once ranker by name (one of :data:`RANKER_NAMES`); ``kw`` go to its class."""
    classes = {"popularity": PopularityRanker, "rbm": RBMRanker, "autoencoder": AutoencoderRanker,
               "mf": MFRanker}
    if name not in classes:
        raise ValueError(f"unknown ranker {name!r}; choose one of {', '.join(RANKER_NAMES)}")
    return classes[name](**kw)
