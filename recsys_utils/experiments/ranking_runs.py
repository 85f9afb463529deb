"""Ranking experiments (chapter 08), stored: one model ranked on one split, and its tuning.

A **ranking run** (experiment ``"ranking-run"``) fits one model on a split's training ratings
(:mod:`recsys_utils.evaluation.splits`) and stores each evaluated user's top-``k`` metrics
(:func:`recsys_utils.evaluation.ranking.evaluate_ranking`), the fit's time and history. A
**tuning run** (``"ranking-tuning"``) does the same for every configuration of a grid on the
split's *validation* split (:func:`~recsys_utils.evaluation.splits.validation_split`: the same
protocol applied to the training ratings only), so no held-out rating chooses a setting.

Models (:data:`RANKERS`): the fitted-once recommenders of
:func:`recsys_utils.recommenders.make_ranker` (``popularity``, ``mf``, ``rbm``,
``autoencoder``), the two genre popularities
(:class:`~recsys_utils.recommenders.popularity.GenrePopularityRecommender`: ``genre-pop-own``,
``genre-pop-all``) and the per-user genre networks (``modified``, ``lstm``). A random split's
networks are those of :func:`~recsys_utils.experiments.population_run` (same users and seed:
the population split is the ranking split), passed in as ``networks``; for a time split they
are trained here on the split's training rows (18 flags, like = 4-5 stars), with the report's
settings and ``epochs``.

The key of an entry: the split (kind, seed, training fraction, users), the model and its
settings, the evaluated users and ``k``, the kind of device the process runs on
(``RECSYS_DEVICE``, :mod:`recsys_utils.device`: the networks train with the trainer that suits
it and the autoencoder runs on it, and a GPU's last digits are not a CPU's), the data
fingerprint and the package's code digest (every entry of the store carries it; this module is
one of the files it covers).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recsys_utils.device import resolve_device
from recsys_utils.evaluation.ranking import evaluate_ranking
from recsys_utils.evaluation.splits import RankingSplit, ranking_split, time_split, validation_split
from recsys_utils.experiments.store import Store, default_store
from recsys_utils.features import REPORT_TRAIN_FRACTION

if TYPE_CHECKING:  # pragma: no cover
    from recsys_utils.batched import BatchedResult
    from recsys_utils.data import MovieLens

__all__ = [
    "RANKING_RUN",
    "RANKING_TUNING",
    "RANKERS",
    "NETWORK_RANKERS",
    "SplitSpec",
    "RankingRun",
    "make_split",
    "make_model",
    "ranking_run",
    "tune_ranker",
    "network_scores",
    "RankingFamily",
    "ranking_family",
]

RANKING_RUN = "ranking-run"
RANKING_TUNING = "ranking-tuning"
#: The per-user genre networks (trained per user, not fitted once).
NETWORK_RANKERS: tuple[str, ...] = ("modified", "lstm")
#: Every model name :func:`ranking_run` accepts.
RANKERS: tuple[str, ...] = (
    *NETWORK_RANKERS,
    "genre-pop-own",
    "genre-pop-all",
    "popularity",
    "mf",
    "rbm",
    "autoencoder",
)
#: The autoencoder's validation curve is read every this many epochs (and at each grid point).
CURVE_EVERY = 5


#: Seed of the inner (validation) split of a random split, distinct from the split seeds.
VALIDATION_SEED_OFFSET = 1000


@dataclass(frozen=True)
class SplitSpec:
    """Which split: ``kind`` ``"random"`` (:func:`ranking_split`, with ``seed``) or ``"time"``
    (:func:`time_split`); ``user_ids`` the users split (``None``: every user; a time split of
    the shared ML-1M copy needs users with timestamps)."""

    kind: str = "random"
    seed: int = 0
    train_fraction: float = REPORT_TRAIN_FRACTION
    user_ids: tuple[int, ...] | None = None

    def params(self) -> dict[str, Any]:
        users = None if self.user_ids is None else [int(u) for u in self.user_ids]
        seed = int(self.seed) if self.kind == "random" else None
        return {"kind": self.kind, "seed": seed, "train_fraction": float(self.train_fraction), "users": users}


def make_split(data: MovieLens, spec: SplitSpec) -> RankingSplit:
    """The :class:`RankingSplit` of ``spec``."""
    if spec.kind == "random":
        return ranking_split(data, train_fraction=spec.train_fraction, seed=spec.seed, user_ids=spec.user_ids)
    if spec.kind == "time":
        return time_split(data, train_fraction=spec.train_fraction, user_ids=spec.user_ids)
    raise ValueError(f"split kind must be 'random' or 'time', got {spec.kind!r}")


@dataclass
class RankingRun:
    """One model ranked on one split (module docstring).

    Attributes:
        per_user: :attr:`RankingResult.per_user` (one row per evaluated user with a relevant
            held-out movie) plus ``model`` and ``split`` columns.
        excluded_user_ids: ``(n,)`` evaluated users without a relevant held-out movie.
        fit_time_s: seconds of the fit as measured when computed (``None`` for networks
            read from a population run).
        history: the fit's per-epoch history (``{"validation_ndcg": ...}`` for a tuning curve).
        computed: whether it ran in this call (``False``: read from the store).
    """

    model: str
    per_user: pd.DataFrame
    excluded_user_ids: np.ndarray
    fit_time_s: float | None
    history: dict[str, list[float]] = field(default_factory=dict)
    computed: bool = False


def make_model(name: str, data: MovieLens, settings: dict[str, Any], seed: int):
    """An unfitted fitted-once recommender ``name`` with ``settings`` (``seed`` for those that
    draw random numbers)."""
    from recsys_utils.recommenders import make_ranker
    from recsys_utils.recommenders.popularity import GenrePopularityRecommender

    if name in ("genre-pop-own", "genre-pop-all"):
        return GenrePopularityRecommender(data, "user" if name == "genre-pop-own" else "all", **settings)
    if name == "popularity":
        return make_ranker("popularity", **settings)
    if name in ("mf", "rbm", "autoencoder"):
        return make_ranker(name, seed=seed, **settings)
    raise ValueError(f"unknown ranker {name!r}; choose one of {RANKERS}")


def network_scores(
    data: MovieLens, split: RankingSplit, users: np.ndarray, cell: str, epochs: int, seed: int
):
    """Train ``cell``'s per-user genre network on each of ``users``' training rows of ``split``
    (with the multi-user trainer that suits ``RECSYS_DEVICE``,
    :func:`recsys_utils.device.multi_user_trainer`) and wrap them for ranking
    (:class:`~recsys_utils.recommenders.GenreScores`)."""
    from recsys_utils.device import multi_user_trainer
    from recsys_utils.population import movie_ordered_datasets
    from recsys_utils.recommenders import GenreScores

    X, y = [], []
    for ds in movie_ordered_datasets(data, users):
        train = np.isin(ds.movie_ids, split.train_movies(ds.user_id))
        X.append(ds.X[train].astype(np.uint8))
        y.append(ds.y[train])
    result = multi_user_trainer()(
        X, y, np.asarray(users, np.int64), cell=cell, epochs=epochs, seed=seed, progress=False
    )
    return GenreScores(result, data, name=cell)


def _evaluate(model: Any, split: RankingSplit, users: np.ndarray, k: int, name: str) -> dict[str, Any]:
    result = evaluate_ranking(model, split, k, user_ids=users, model=name)
    history = {str(h): [float(x) for x in v] for h, v in (getattr(model, "history", None) or {}).items()}
    fit = getattr(model, "fit_time_s", None)
    return {
        "per_user": result.per_user,
        "excluded": np.asarray(result.excluded_user_ids, np.int64),
        "fit_time_s": None if fit is None else float(fit),
        "history": history,
    }


def ranking_run(
    data: MovieLens,
    split: SplitSpec,
    model: str,
    users: Sequence[int] | np.ndarray,
    *,
    settings: dict[str, Any] | None = None,
    k: int = 10,
    networks: BatchedResult | None = None,
    store: Store | None = None,
) -> RankingRun:
    """Rank with ``model`` (``settings``) fitted on ``split``'s training ratings; evaluate
    ``users``; stored (module docstring).

    ``networks``: for ``modified`` / ``lstm`` on a random split, the population run's trained
    networks of that seed (required there: the store key then says they came from it);
    on a time split the networks are trained here (``settings["epochs"]``, default 100).
    """
    settings = dict(settings or {})
    users = np.asarray(users, np.int64)
    if model not in RANKERS:
        raise ValueError(f"unknown ranker {model!r}; choose one of {RANKERS}")
    from_population = model in NETWORK_RANKERS and split.kind == "random"
    if from_population and networks is None:
        raise ValueError(f"{model} on a random split ranks with the population run's networks: pass networks")
    params = {
        "split": split.params(),
        "model": model,
        "settings": settings,
        "users": [int(u) for u in users],
        "k": int(k),
        "networks": "population-run" if from_population else None,
        "device": resolve_device().kind,
    }

    def compute() -> dict[str, Any]:
        from recsys_utils.recommenders import GenreScores

        s = make_split(data, split)
        if from_population:
            fitted = GenreScores(networks, data, name=model)
        elif model in NETWORK_RANKERS:
            fitted = network_scores(data, s, users, model, int(settings.get("epochs", 100)), int(split.seed))
        else:
            fitted = make_model(model, data, settings, int(split.seed)).fit_split(s)
        return _evaluate(fitted, s, users, k, model)

    stored = (store or default_store()).cached(RANKING_RUN, params, compute, data=data)
    value = stored.value
    per_user = value["per_user"].assign(model=model, split=_split_label(split))
    return RankingRun(
        model, per_user, np.asarray(value["excluded"]), value["fit_time_s"], value["history"], stored.computed
    )


def _split_label(split: SplitSpec) -> str:
    return f"random, seed {split.seed}" if split.kind == "random" else "time"


def tune_ranker(
    data: MovieLens,
    split: SplitSpec,
    model: str,
    grid: Sequence[dict[str, Any]],
    users: Sequence[int] | np.ndarray,
    *,
    k: int = 10,
    metric: str = "ndcg",
    store: Store | None = None,
) -> pd.DataFrame:
    """Each configuration of ``grid`` fitted on the validation split of ``split`` and scored
    on ``users`` (mean ``metric`` at ``k``); stored as one entry.

    For the autoencoder, configurations that differ only in ``epochs`` are read off one
    training run, the validation metric read every :data:`CURVE_EVERY` epochs and at each
    grid point (``table.attrs["curve"]``: ``"epoch (...)"`` and ``"validation_<metric> (...)"``
    lists per group of settings).

    Returns:
        One row per configuration: its settings (``settings``, a dict), ``metric`` mean over
        the users with a relevant validation movie, ``n_users``, ``n_excluded``, and
        ``best`` (True for the first configuration with the highest mean).
    """
    users = np.asarray(users, np.int64)
    params = {
        "split": split.params(),
        "model": model,
        "grid": [dict(g) for g in grid],
        "users": [int(u) for u in users],
        "k": int(k),
        "metric": metric,
        "device": resolve_device().kind,
    }

    def compute() -> dict[str, Any]:
        outer = make_split(data, split)
        inner = validation_split(data, outer, seed=int(split.seed) + VALIDATION_SEED_OFFSET)
        kept = np.intersect1d(users, inner.user_ids)
        rows, curve = [], {}
        if model == "autoencoder":
            rows, curve = _autoencoder_grid(data, inner, grid, kept, k, metric, int(split.seed))
        else:
            for g in grid:
                fitted = make_model(model, data, dict(g), int(split.seed)).fit_split(inner)
                res = evaluate_ranking(fitted, inner, k, user_ids=kept, bounds=False)
                rows.append(_grid_row(g, res, metric))
        return {"table": pd.DataFrame(rows), "curve": curve}

    value = (store or default_store()).cached(RANKING_TUNING, params, compute, data=data).value
    table = value["table"]
    table.insert(0, "settings", [dict(g) for g in grid])
    table["best"] = np.arange(len(table)) == int(np.nanargmax(table[metric].to_numpy()))
    table.attrs["curve"] = {str(h): [float(x) for x in v] for h, v in value["curve"].items()}
    return table


def _grid_row(g: dict[str, Any], res: Any, metric: str) -> dict[str, Any]:
    return {
        "label": ", ".join(f"{a}={b}" for a, b in g.items()) or "defaults",
        metric: float(res.per_user[metric].mean()) if len(res.per_user) else float("nan"),
        "n_users": int(len(res.per_user)),
        "n_excluded": int(len(res.excluded_user_ids)),
    }


def _autoencoder_grid(
    data: MovieLens,
    inner: RankingSplit,
    grid: Sequence[dict[str, Any]],
    users: np.ndarray,
    k: int,
    metric: str,
    seed: int,
) -> tuple[list[dict[str, Any]], dict[str, list[float]]]:
    """Autoencoder configurations grouped by everything but ``epochs``: one run per group to
    the largest epoch count, the validation metric read after every epoch."""
    rows: list[dict[str, Any] | None] = [None] * len(grid)
    curve: dict[str, list[float]] = {}
    groups: dict[str, list[int]] = {}
    for i, g in enumerate(grid):
        rest = {a: b for a, b in g.items() if a != "epochs"}
        groups.setdefault(repr(sorted(rest.items())), []).append(i)
    for members in groups.values():
        rest = {a: b for a, b in grid[members[0]].items() if a != "epochs"}
        wanted = {int(grid[i].get("epochs", 30)): i for i in members}
        at: list[float] = []
        values: list[float] = []
        results: dict[int, Any] = {}

        def on_epoch_end(done: int, rec: Any, at=at, values=values, results=results, wanted=wanted) -> None:
            if done % CURVE_EVERY and done not in wanted and done != 1:
                return
            res = evaluate_ranking(rec, inner, k, user_ids=users, bounds=False)
            at.append(float(done))
            values.append(float(res.per_user[metric].mean()))
            if done in wanted:
                results[done] = res

        model = make_model(
            "autoencoder", data, {**rest, "epochs": max(wanted), "on_epoch_end": on_epoch_end}, seed
        )
        model.fit_split(inner)
        label = ", ".join(f"{a}={b}" for a, b in rest.items()) or "defaults"
        curve[f"epoch ({label})"] = at
        curve[f"validation_{metric} ({label})"] = values
        for epochs, i in wanted.items():
            rows[i] = _grid_row(grid[i], results[epochs], metric)
    return [r for r in rows if r is not None], curve


@dataclass
class RankingFamily:
    """Every model ranked on every split of one family (e.g. three random seeds).

    Attributes:
        table: one row per (split, model, evaluated user with a relevant held-out movie):
            ``user_id``, ``seed`` (the split seed; -1 for a time split), ``model``, the
            ranking metrics and counts of :attr:`RankingResult.per_user`.
        excluded: one row per (split, model): ``seed``, ``model``, ``users`` evaluated,
            ``excluded`` (no relevant held-out movie), ``fit_time_s`` and ``computed``.
        histories: ``{(model, seed): history}`` of each fit.
    """

    table: pd.DataFrame
    excluded: pd.DataFrame
    histories: dict[tuple[str, int], dict[str, list[float]]] = field(default_factory=dict)


def ranking_family(
    data: MovieLens,
    splits: Sequence[SplitSpec],
    models: dict[str, dict[str, Any]],
    users: Sequence[int] | np.ndarray,
    *,
    k: int = 10,
    networks: dict[tuple[str, int], BatchedResult] | None = None,
    store: Store | None = None,
) -> RankingFamily:
    """:func:`ranking_run` of each model (``{name: settings}``) on each split, evaluated on
    ``users`` (those in the split); ``networks[(cell, seed)]`` for the genre networks on a
    random split."""
    rows, counts, histories = [], [], {}
    networks = networks or {}
    for split in splits:
        seed = int(split.seed) if split.kind == "random" else -1
        kept = np.asarray(users, np.int64)
        if split.user_ids is not None:
            kept = np.intersect1d(kept, np.asarray(split.user_ids, np.int64))
        for name, settings in models.items():
            run = ranking_run(
                data,
                split,
                name,
                kept,
                settings=settings,
                k=k,
                networks=networks.get((name, seed)),
                store=store,
            )
            rows.append(run.per_user.assign(seed=seed))
            histories[(name, seed)] = run.history
            counts.append(
                {
                    "seed": seed,
                    "model": name,
                    "users": len(kept),
                    "excluded": len(run.excluded_user_ids),
                    "fit_time_s": run.fit_time_s,
                    "computed": run.computed,
                }
            )
    table = pd.concat(rows, ignore_index=True)
    first = ["user_id", "seed", "model"]
    table = table[first + [c for c in table.columns if c not in first]]
    return RankingFamily(table, pd.DataFrame(counts), histories)
