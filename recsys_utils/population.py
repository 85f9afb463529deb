"""Every user's own recommender, several seeds, and paired statistics between models.

The report trains one network for one user (user 1) once, and reads a 2-point accuracy gap as
a win for its modified cell. This module runs the same per-user experiment for many users and
seeds, on an order-independent held-out split, and says how sure one can be of a difference.

Protocol (:func:`run_population`)
---------------------------------
- **Rows.** A user's rows are their ratings as the report builds them (18 genre flags in the
  report's attribute order, like = rating >= 4), **sorted by movie id**, so nothing depends
  on the order of ``ratings.dat`` (users 3000+ of our ML-1M copy have no original order).
- **Split, per seed.** :meth:`recsys_utils.features.UserDataset.random_split` with the seed:
  65 % of a user's rows train, 35 % are held out; the same seed gives the same split as
  :func:`recsys_utils.ranking.ranking_split`, so one trained network serves both the
  like/dislike metrics here and the ranking metrics of :mod:`recsys_utils.ranking`.
- **Models.** The recurrent recommenders are trained by :func:`recsys_utils.batched.train_users`
  (the report's modified-LSTM architecture: Embedding(200, 50) -> Dropout(0.5) -> cell(18)
  -> Dropout(0.5) -> Dense(1, Keras 2 hard sigmoid), Adam, 100 epochs, batch 10) with the cell
  swapped: ``"modified"`` (the report's, f = 0), ``"nfg"`` (f = 1), ``"lstm"``, ``"gru"``.
  The seed sets the split, the initial weights, the shuffles and the dropout masks.
  ``"logistic"`` is an L2-regularised logistic regression on the 18 flags (scikit-learn,
  ``C = 1``, no recurrence); ``"majority"`` predicts the majority label of the user's training
  rows (ties: like) with a constant score.
- **Metrics, on each user's held-out rows only.** Accuracy (like iff score > 0.5, as Keras'
  ``accuracy`` metric), balanced accuracy (the mean recall of the classes present in the
  held-out rows; 0.5 for a constant prediction when both are present) and ROC AUC (``NaN`` when the held-out rows hold one class only).

Statistics (:func:`paired_comparison`)
--------------------------------------
Users are the independent units. A user's metric is first averaged over seeds, then the
two models are paired by user: the mean difference with a bootstrap 95 % interval (users
resampled), wins / losses / ties, the Wilcoxon signed-rank test (two-sided; users with a
zero difference are dropped, as in Wilcoxon's original test, and counted as ties) and two
effect sizes: the matched-pairs rank-biserial correlation ``r = (W+ - W-) / (W+ + W-)``
(from -1, *b* always better, to +1, *a* always better) and Cohen's ``d_z`` (mean difference
over the standard deviation of the differences).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recsys_utils.evaluation import balanced_accuracy, majority_label, roc_auc
from recsys_utils.features import (REPORT_TRAIN_FRACTION, UserDataset, genre_matrix,
                                   user_datasets)
from recsys_utils.genres import REPORT_GENRES

if TYPE_CHECKING:  # pragma: no cover
    from recsys_utils.batched import BatchedResult
    from recsys_utils.data import MovieLens

#: Models :func:`run_population` knows: the batched cells, then the two non-recurrent ones.
RECURRENT_MODELS: tuple[str, ...] = ("modified", "nfg", "lstm", "gru")
OTHER_MODELS: tuple[str, ...] = ("logistic", "majority")
MODELS: tuple[str, ...] = RECURRENT_MODELS + OTHER_MODELS

#: Names for tables and figures.
MODEL_LABELS: dict[str, str] = {
    "modified": "modified LSTM (f=0, report)",
    "nfg": "no forget gate (f=1)",
    "lstm": "standard LSTM",
    "gru": "GRU",
    "logistic": "logistic regression",
    "majority": "majority class",
}

METRICS: tuple[str, ...] = ("accuracy", "balanced_accuracy", "roc_auc")


# ------------------------------------------------------------------------------ users
def sample_users(data: "MovieLens", n_users: int | None = None, *, seed: int = 0) -> np.ndarray:
    """A fixed random sample of ``n_users`` user ids, ascending (every user if ``None`` or
    at least the number of users). The sample depends only on ``seed`` and the user ids."""
    users = np.sort(data.ratings["user_id"].unique())
    if n_users is None or n_users >= len(users):
        return users.astype(np.int64)
    if n_users < 1:
        raise ValueError(f"n_users must be positive or None, got {n_users!r}")
    rng = np.random.default_rng([seed, len(users)])
    return np.sort(rng.choice(users, size=int(n_users), replace=False)).astype(np.int64)


def movie_ordered_datasets(data: "MovieLens", user_ids: Sequence[int] | np.ndarray
                           ) -> list[UserDataset]:
    """:func:`recsys_utils.features.user_datasets` with each user's rows sorted by movie id."""
    return [ds.subset(np.argsort(ds.movie_ids, kind="stable"))
            for ds in user_datasets(data, [int(u) for u in user_ids])]


@dataclass
class SeedRows:
    """Every user's train and held-out rows for one split seed (lists aligned with ``user_ids``).

    ``X_*`` are ``(n, 18)`` uint8 flags, ``y_*`` ``(n,)`` float32 labels (1 = like).
    """

    seed: int
    user_ids: np.ndarray
    X_train: list[np.ndarray]
    y_train: list[np.ndarray]
    X_test: list[np.ndarray]
    y_test: list[np.ndarray]

    @property
    def user_steps(self) -> int:
        """Optimizer steps of one 100-epoch, batch-10 training of every user (per epoch x 100)."""
        return int(sum(math.ceil(len(y) / 10) for y in self.y_train))


def split_rows(datasets: Sequence[UserDataset], seed: int,
               train_fraction: float = REPORT_TRAIN_FRACTION) -> SeedRows:
    """Split every user's rows with :meth:`UserDataset.random_split` ``(train_fraction, seed)``."""
    rows = SeedRows(seed, np.array([ds.user_id for ds in datasets], np.int64), [], [], [], [])
    for ds in datasets:
        split = ds.random_split(train_fraction, seed)
        X = ds.X.astype(np.uint8)
        rows.X_train.append(X[split.train])
        rows.y_train.append(ds.y[split.train])
        rows.X_test.append(X[split.test])
        rows.y_test.append(ds.y[split.test])
    return rows


# ------------------------------------------------------------------------- models
def fit_logistic(X: np.ndarray, y: np.ndarray, X_new: np.ndarray, *, C: float = 1.0
                 ) -> np.ndarray:
    """Like probabilities ``(n_new,)`` of an L2 logistic regression fitted on ``X (n, 18)``, ``y``.

    A user whose training rows hold one class only gets that class's constant probability.
    """
    from sklearn.linear_model import LogisticRegression

    if len(np.unique(y)) < 2:
        return np.full(len(X_new), float(y[0]) if len(y) else 1.0, np.float32)
    model = LogisticRegression(C=C, max_iter=1000)
    model.fit(X, y.astype(int))
    return model.predict_proba(X_new)[:, 1].astype(np.float32)


def held_out_metrics(y: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Accuracy, balanced accuracy, ROC AUC and predicted like share of ``scores (n,)``
    against ``y (n,)`` (like iff score > 0.5); ``NaN`` for every metric when ``n == 0``."""
    if len(y) == 0:
        return {m: math.nan for m in METRICS + ("predicted_like_share",)}
    y_int = (np.asarray(y) > 0.5).astype(int)
    pred = (np.asarray(scores) > 0.5).astype(int)
    return {"accuracy": float(np.mean(pred == y_int)),
            "balanced_accuracy": balanced_accuracy(y_int, pred),
            "roc_auc": roc_auc(y_int, scores),
            "predicted_like_share": float(pred.mean())}


@dataclass
class PopulationRun:
    """What :func:`run_population` measured.

    Attributes:
        table: one row per (user, seed, model): ``user_id``, ``seed``, ``model``,
            ``n_ratings``, ``n_train``, ``n_test``, ``train_like_rate``, ``test_like_rate``,
            the :data:`METRICS` and ``predicted_like_share``.
        timings: one row per (model, seed): ``train_time_s`` (wall, compilation excluded),
            ``users``, ``user_steps`` and ``us_per_user_step``.
        results: ``{(model, seed): BatchedResult}`` of the recurrent models (kept when
            ``keep_results``), e.g. to rank movies with :class:`GenreScores`.
        config: the settings.
    """

    table: pd.DataFrame
    timings: pd.DataFrame
    results: dict[tuple[str, int], "BatchedResult"] = field(default_factory=dict, repr=False)
    config: dict[str, Any] = field(default_factory=dict)


def run_population(data: "MovieLens", user_ids: Sequence[int] | np.ndarray, *,
                   models: Sequence[str] = ("modified", "lstm", "majority"),
                   seeds: Sequence[int] = (0, 1, 2), epochs: int = 100,
                   train_fraction: float = REPORT_TRAIN_FRACTION, keep_results: bool = False,
                   n_threads: int | None = None, progress: bool = True,
                   verbose: bool = False, **train_kw: Any) -> PopulationRun:
    """Train and score every model of ``models`` for every user and seed (module docstring).

    Args:
        data: MovieLens (ML-1M or the synthetic twin).
        user_ids: ``(n_users,)`` users, e.g. from :func:`sample_users`.
        models: names from :data:`MODELS`.
        seeds: one split and one training per seed.
        epochs: epochs of the recurrent models (the report: 100).
        train_fraction: the share of each user's rows that trains (0.65).
        keep_results: keep the trained recurrent networks in :attr:`PopulationRun.results`.
        n_threads, progress, train_kw: passed to :func:`recsys_utils.batched.train_users`
            (``progress``: a tqdm bar per training, on stderr).
        verbose: print one line per (seed, model) when it is done, on stdout (the notebooks'
            progress report: a bar's redraws would fill a committed notebook).
    """
    from recsys_utils.batched import train_users

    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise ValueError(f"unknown models {unknown}; expected names from {MODELS}")
    if not len(seeds):
        raise ValueError("seeds must name at least one seed")
    datasets = movie_ordered_datasets(data, user_ids)
    n_ratings = np.array([len(ds) for ds in datasets])
    records: list[pd.DataFrame] = []
    timings: list[dict[str, Any]] = []
    kept: dict[tuple[str, int], BatchedResult] = {}
    for seed in seeds:
        rows = split_rows(datasets, int(seed), train_fraction)
        base = pd.DataFrame({
            "user_id": rows.user_ids, "seed": int(seed), "n_ratings": n_ratings,
            "n_train": [len(y) for y in rows.y_train], "n_test": [len(y) for y in rows.y_test],
            "train_like_rate": [float(y.mean()) if len(y) else math.nan for y in rows.y_train],
            "test_like_rate": [float(y.mean()) if len(y) else math.nan for y in rows.y_test]})
        for model in models:
            start = time.perf_counter()
            if model in RECURRENT_MODELS:
                result = train_users(rows.X_train, rows.y_train, rows.user_ids, cell=model,
                                     epochs=epochs, seed=int(seed), n_threads=n_threads,
                                     progress=progress, **train_kw)
                scores = result.predict_proba(rows.X_test, n_threads=n_threads)
                train_time = result.train_time_s
                if keep_results:
                    kept[(model, int(seed))] = result
            elif model == "logistic":
                scores = [fit_logistic(X, y, Xt) for X, y, Xt in
                          zip(rows.X_train, rows.y_train, rows.X_test)]
                train_time = time.perf_counter() - start
            else:
                scores = [np.full(len(yt), float(majority_label(y)) if len(y) else 1.0,
                                  np.float32) for y, yt in zip(rows.y_train, rows.y_test)]
                train_time = time.perf_counter() - start
            metrics = pd.DataFrame([held_out_metrics(y, s) for y, s in zip(rows.y_test, scores)])
            records.append(pd.concat([base.assign(model=model), metrics], axis=1))
            steps = rows.user_steps * epochs if model in RECURRENT_MODELS else 0
            timings.append({"model": model, "seed": int(seed), "users": len(rows.user_ids),
                            "train_time_s": train_time, "user_steps": steps,
                            "us_per_user_step": 1e6 * train_time / steps if steps else math.nan})
            if verbose:
                print(f"seed {seed}: {model} done for {len(rows.user_ids)} users "
                      f"({train_time:.1f} s)", flush=True)
    table = pd.concat(records, ignore_index=True)
    first = ["user_id", "seed", "model"]
    table = table[first + [c for c in table.columns if c not in first]]
    config = {"models": list(models), "seeds": [int(s) for s in seeds], "epochs": epochs,
              "train_fraction": train_fraction, "n_users": len(datasets), **train_kw}
    return PopulationRun(table, pd.DataFrame(timings), kept, config)


# ---------------------------------------------------------------------- statistics
def per_user_means(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """``(n_users, n_models)``: each user's ``metric`` averaged over seeds (``NaN``s skipped)."""
    if metric not in table.columns:
        raise KeyError(f"no column {metric!r} in the table")
    return table.pivot_table(index="user_id", columns="model", values=metric, aggfunc="mean")


@dataclass
class PairedComparison:
    """Model ``a`` against model ``b`` on one metric, users paired (module docstring)."""

    metric: str
    a: str
    b: str
    n_users: int
    n_dropped_nan: int
    mean_a: float
    mean_b: float
    mean_diff: float
    ci_low: float
    ci_high: float
    median_diff: float
    wins_a: int
    wins_b: int
    ties: int
    wilcoxon_statistic: float
    p_value: float
    rank_biserial: float
    cohen_dz: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """One sentence with the difference, its interval, the test and the effect size."""
        return (f"{self.metric}: {self.a} - {self.b} = {self.mean_diff:+.4f} "
                f"(95 % bootstrap CI {self.ci_low:+.4f} to {self.ci_high:+.4f}) over "
                f"{self.n_users} users; {self.a} better for {self.wins_a}, {self.b} for "
                f"{self.wins_b}, equal for {self.ties}; Wilcoxon p = {self.p_value:.3g}, "
                f"rank-biserial r = {self.rank_biserial:+.3f}, d_z = {self.cohen_dz:+.3f}")


def paired_comparison(table: pd.DataFrame, a: str, b: str, metric: str = "accuracy", *,
                      n_boot: int = 10_000, seed: int = 0) -> PairedComparison:
    """Compare models ``a`` and ``b`` of a :attr:`PopulationRun.table` on ``metric``.

    Each user's metric is averaged over seeds first; users where either mean is ``NaN``
    (e.g. ROC AUC with one class held out) are dropped and counted.
    """
    from scipy.stats import wilcoxon

    means = per_user_means(table, metric)
    for name in (a, b):
        if name not in means.columns:
            raise KeyError(f"model {name!r} is not in the table (models: {list(means.columns)})")
    pair = means[[a, b]]
    kept = pair.dropna()
    diff = (kept[a] - kept[b]).to_numpy(np.float64)
    if len(diff) == 0:
        raise ValueError(f"no user has a defined {metric} for both {a} and {b}")
    # Differences within float round-off of 0 (means over seeds) count as ties.
    diff = np.where(np.abs(diff) < 1e-12, 0.0, diff)
    rng = np.random.default_rng(seed)
    boot = diff[rng.integers(0, len(diff), size=(n_boot, len(diff)))].mean(axis=1)
    nonzero = diff[diff != 0]
    if len(nonzero):
        test = wilcoxon(nonzero, zero_method="wilcox", alternative="two-sided")
        stat, p = float(test.statistic), float(test.pvalue)
        from scipy.stats import rankdata

        ranks = rankdata(np.abs(nonzero))
        w_plus, w_minus = ranks[nonzero > 0].sum(), ranks[nonzero < 0].sum()
        r_rb = float((w_plus - w_minus) / (w_plus + w_minus))
    else:
        stat, p, r_rb = math.nan, 1.0, 0.0
    sd = diff.std(ddof=1) if len(diff) > 1 else math.nan
    return PairedComparison(
        metric=metric, a=a, b=b, n_users=len(diff), n_dropped_nan=len(pair) - len(kept),
        mean_a=float(kept[a].mean()), mean_b=float(kept[b].mean()), mean_diff=float(diff.mean()),
        ci_low=float(np.quantile(boot, 0.025)), ci_high=float(np.quantile(boot, 0.975)),
        median_diff=float(np.median(diff)), wins_a=int((diff > 0).sum()),
        wins_b=int((diff < 0).sum()), ties=int((diff == 0).sum()), wilcoxon_statistic=stat,
        p_value=p, rank_biserial=r_rb,
        cohen_dz=float(diff.mean() / sd) if sd and sd > 0 else math.nan)


def paired_table(table: pd.DataFrame, pairs: Sequence[tuple[str, str]],
                 metrics: Sequence[str] = METRICS, **kw: Any) -> pd.DataFrame:
    """:func:`paired_comparison` for every pair and metric, one row each."""
    return pd.DataFrame([paired_comparison(table, a, b, m, **kw).to_dict()
                         for a, b in pairs for m in metrics])


def seed_agreement(table: pd.DataFrame, a: str, b: str, metric: str = "accuracy"
                   ) -> pd.DataFrame:
    """Per seed: mean ``metric`` of ``a`` and ``b`` over users and the mean difference
    (does the sign of the difference survive a change of seed?)."""
    wide = table.pivot_table(index=["seed", "user_id"], columns="model", values=metric)
    wide = wide[[a, b]].dropna()
    out = wide.groupby(level="seed").mean()
    out["difference"] = out[a] - out[b]
    out["users"] = wide.groupby(level="seed").size()
    return out


def wins_by(table: pd.DataFrame, a: str, b: str, metric: str = "accuracy", *,
            by: str = "n_ratings", bins: int | Sequence[float] = 5) -> pd.DataFrame:
    """Where ``a`` beats ``b``: users grouped by ``by`` (a per-user column of the table, e.g.
    ``n_ratings`` or ``train_like_rate`` averaged over seeds), ``bins`` quantile groups or
    explicit edges. Per group: users, the two means, the mean difference and the shares of
    users where ``a`` wins, ``b`` wins, or they tie (seed-averaged metric)."""
    means = per_user_means(table, metric)[[a, b]].dropna()
    covariate = table.groupby("user_id")[by].mean().loc[means.index]
    if isinstance(bins, int):
        groups = pd.qcut(covariate, q=bins, duplicates="drop")
    else:
        groups = pd.cut(covariate, bins=list(bins), include_lowest=True)
    diff = means[a] - means[b]
    diff = diff.where(diff.abs() >= 1e-12, 0.0)
    frame = pd.DataFrame({"group": groups, "a": means[a], "b": means[b], "diff": diff})
    out = frame.groupby("group", observed=True).agg(
        users=("diff", "size"), mean_a=("a", "mean"), mean_b=("b", "mean"),
        mean_diff=("diff", "mean"),
        a_wins=("diff", lambda d: float((d > 0).mean())),
        b_wins=("diff", lambda d: float((d < 0).mean())),
        ties=("diff", lambda d: float((d == 0).mean())))
    out.index.name = by
    return out.rename(columns={"mean_a": f"mean_{a}", "mean_b": f"mean_{b}",
                               "a_wins": f"{a}_wins", "b_wins": f"{b}_wins"})


# -------------------------------------------------------------------------- ranking
class GenreScores:
    """Score candidate movies with each user's genre-only network, for
    :func:`recsys_utils.ranking.evaluate_ranking` (a callable ``(user_id, movie_ids) -> (n,)``).

    A genre-only model gives one score per distinct row of 18 flags (ML-1M: about 300), so
    the networks are run once per distinct row and the scores looked up per movie.
    """

    def __init__(self, result: "BatchedResult", data: "MovieLens", *, name: str | None = None,
                 genres: Sequence[str] = REPORT_GENRES, n_threads: int | None = None) -> None:
        attributes = genre_matrix(data.movies, genres)
        patterns, inverse = np.unique(attributes.to_numpy(np.uint8), axis=0, return_inverse=True)
        self.name = name or str(result.config.get("cell", "genre model"))
        self.n_patterns = len(patterns)
        self._movie_col = pd.Series(inverse.reshape(-1), index=attributes.index)
        self._row = {int(u): i for i, u in enumerate(result.user_ids)}
        start = time.perf_counter()
        probs = result.predict_proba([patterns] * len(result.user_ids), n_threads=n_threads)
        self._scores = np.stack(probs) if probs else np.zeros((0, len(patterns)), np.float32)
        self.score_time_s = time.perf_counter() - start
        self.fit_time_s = result.train_time_s

    def __call__(self, user_id: int, movie_ids: np.ndarray) -> np.ndarray:
        try:
            row = self._row[int(user_id)]
        except KeyError:
            raise KeyError(f"user {user_id} has no trained network here") from None
        return self._scores[row, self._movie_col.loc[np.asarray(movie_ids)].to_numpy()]

