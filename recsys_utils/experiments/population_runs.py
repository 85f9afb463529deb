"""Population runs (:func:`recsys_utils.population.run_population`) stored per user, so that
a chapter asking for other users reuses every user already trained.

A user's result does not depend on which other users are trained with them (each user has
their own weights and random streams, see :mod:`recsys_utils.batched`; the logistic and
majority models are fitted per user), so results are stored in **shards**: one entry
(experiment ``"population-shard"``) per (model, seed, settings, set of users) computed
together, holding one table row per user (and, when asked, each user's trained network).

:func:`population_run` answers a request (users x models x seeds) by gathering, for every
(model, seed), the requested users from the stored shards with the same model, seed and
settings, then computing only the users no shard holds (one
:func:`~recsys_utils.population.run_population` call per seed and set of missing users) and
storing them as new shards. Chapter 06 thus reuses chapter 05's users for the models and
seeds they share, and a superset or an overlapping sample trains only the users not seen.

The settings of a shard: the model, the seed, the training fraction, and for the recurrent
models the epochs and the extra training keywords (the logistic and majority models ignore
both). ``n_threads``, ``progress`` and ``verbose`` do not change results and are not part of
it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recsys_utils.experiments.fingerprint import canonical_params
from recsys_utils.experiments.store import DamagedEntry, EntryInfo, Store, default_store
from recsys_utils.population import RECURRENT_MODELS, PopulationRun, PopulationSpec, run_population

if TYPE_CHECKING:  # pragma: no cover
    from recsys_utils.data import MovieLens

#: The experiment's name in the store.
POPULATION_SHARD = "population-shard"


@dataclass
class _Shard:
    """One stored shard, read: its table indexed by user id, its timing and networks."""

    entry: EntryInfo | None
    table: pd.DataFrame
    timing: dict[str, Any]
    network: dict[str, Any] | None
    stored: bool


def _network_payload(result: Any) -> dict[str, Any]:
    """A :class:`~recsys_utils.batched.BatchedResult` as plain data."""
    return {
        "user_ids": np.asarray(result.user_ids, np.int64),
        "weights": {name: np.asarray(w) for name, w in result.weights.items()},
        "adam_steps": np.asarray(result.adam_steps),
        "loss_history": np.asarray(result.loss_history),
        "train_time_s": float(result.train_time_s),
        "compile_time_s": float(result.compile_time_s),
        "config": dict(result.config),
        "layout": asdict(result.layout),
    }


def _shard_payload(run: PopulationRun, model: str, seed: int, keep_results: bool) -> dict[str, Any]:
    table = run.table[(run.table["model"] == model) & (run.table["seed"] == seed)]
    timing = run.timings[(run.timings["model"] == model) & (run.timings["seed"] == seed)]
    network = None
    if keep_results and model in RECURRENT_MODELS:
        network = _network_payload(run.results[(model, seed)])
    return {
        "table": table.sort_values("user_id").reset_index(drop=True),
        "timing": {k: v for k, v in timing.iloc[0].to_dict().items() if k not in ("model", "seed")},
        "network": network,
    }


def _as_shard(payload: dict[str, Any], entry: EntryInfo | None, stored: bool) -> _Shard:
    return _Shard(
        entry,
        payload["table"].set_index("user_id", drop=False),
        payload["timing"],
        payload["network"],
        stored,
    )


def _stored_shards(
    store: Store, candidates: list[EntryInfo], params: dict[str, Any], users: np.ndarray, need_network: bool
) -> list[_Shard]:
    """The verified shards among ``candidates`` with these ``params`` that hold some of
    ``users`` (newest first, and only as many as cover the users)."""
    want = json.loads(canonical_params(params))
    left = {int(u) for u in users}
    shards = []
    for entry in reversed(candidates):  # newest first
        if not left:
            break
        if any(entry.params.get(k) != v for k, v in want.items()):
            continue
        if need_network and not entry.params.get("networks"):
            continue
        held = set(entry.params.get("users", ()))
        if not held & left:
            continue
        try:
            shards.append(_as_shard(store.read_entry(entry), entry, True))
        except DamagedEntry as err:
            store.discard(entry, reason=str(err))
            continue
        left -= held
    return shards


def _assign(users: np.ndarray, shards: list[_Shard]) -> tuple[dict[int, int], list[int]]:
    """``({user: index of the first shard holding them}, [users no shard holds])``."""
    owner: dict[int, int] = {}
    for i, shard in enumerate(shards):
        for u in shard.table.index:
            owner.setdefault(int(u), i)
    wanted = [int(u) for u in users]
    return {u: owner[u] for u in wanted if u in owner}, [u for u in wanted if u not in owner]


def _network(shards: list[_Shard], owner: dict[int, int], users: np.ndarray) -> Any:
    """The :class:`~recsys_utils.batched.BatchedResult` of ``users`` (in that order) from the
    networks of the shards that hold them."""
    from recsys_utils.batched import BatchedResult, ParamLayout

    position = [
        {int(u): i for i, u in enumerate(shard.network["user_ids"])} if shard.network is not None else {}
        for shard in shards
    ]
    rows = []  # (the network holding a user, the user's row in it), in ``users`` order
    for u in users:
        i = owner[int(u)]
        rows.append((shards[i].network, position[i][int(u)]))
    first = rows[0][0]
    used = {id(net): net for net, _ in rows}.values()
    return BatchedResult(
        user_ids=np.asarray(users, np.int64),
        layout=ParamLayout(**first["layout"]),
        weights={name: np.stack([net["weights"][name][i] for net, i in rows]) for name in first["weights"]},
        adam_steps=np.array([net["adam_steps"][i] for net, i in rows]),
        loss_history=np.stack([net["loss_history"][i] for net, i in rows]),
        train_time_s=float(sum(net["train_time_s"] for net in used)),
        compile_time_s=float(sum(net["compile_time_s"] for net in used)),
        config=dict(first["config"]),
    )


def population_run(
    data: MovieLens,
    user_ids: Sequence[int] | np.ndarray,
    spec: PopulationSpec | None = None,
    *,
    keep_results: bool = False,
    store: Store | None = None,
    n_threads: int | None = None,
    progress: bool = False,
    verbose: bool = False,
    compute: Callable[..., PopulationRun] = run_population,
) -> PopulationRun:
    """:func:`~recsys_utils.population.run_population` of ``spec`` for ``user_ids``, each
    user, model and seed computed once per store (module docstring).

    Args:
        data: MovieLens (its fingerprint is part of every shard's key).
        user_ids: ``(n_users,)`` distinct user ids.
        spec: models, seeds, epochs, training fraction and training keywords (default
            :class:`PopulationSpec()`, the defaults of ``run_population``).
        keep_results: also store and return each recurrent model's trained networks
            (:attr:`PopulationRun.results`, ``{(model, seed): BatchedResult}`` in ``user_ids``
            order); shards stored without networks then do not count as holding a user.
        store: default :func:`~recsys_utils.experiments.default_store`.
        n_threads, progress, verbose: passed to ``compute`` for the users computed.
        compute: the function that trains (tests pass a fake with its signature).

    Returns:
        A :class:`~recsys_utils.population.PopulationRun` whose ``table`` holds, in the order
        ``run_population`` gives them (seed, then model, then ``user_ids``), the same rows as
        one ``run_population`` call; its ``timings`` has one row per (model, seed, shard used):
        ``users`` (in the shard), ``users_used``, ``train_time_s``, ``user_steps``,
        ``us_per_user_step`` (as measured when the shard was computed) and ``stored`` (read
        from the store, or computed in this call); ``config`` adds ``users_computed``, the
        number of (user, model, seed) trainings done in this call.
    """
    spec = (spec or PopulationSpec()).resolved()  # the trainer named once, for every shard
    users = np.asarray(user_ids, dtype=np.int64).reshape(-1)
    if len(np.unique(users)) != len(users):
        raise ValueError("user_ids must be distinct")
    if not len(users):
        raise ValueError("user_ids must name at least one user")
    if not spec.seeds:
        raise ValueError("spec.seeds must name at least one seed")
    store = store or default_store()
    candidates = store.find(POPULATION_SHARD, data, {})
    shards: dict[tuple[str, int], list[_Shard]] = {}
    missing: dict[tuple[str, int], list[int]] = {}
    for seed in spec.seeds:
        for model in spec.models:
            need_network = keep_results and model in RECURRENT_MODELS
            found = _stored_shards(store, candidates, spec.shard_params(model, seed), users, need_network)
            shards[(model, int(seed))] = found
            missing[(model, int(seed))] = _assign(users, found)[1]
    computed = _compute_missing(
        data,
        spec,
        missing,
        shards,
        store,
        keep_results,
        {"n_threads": n_threads, "progress": progress, "verbose": verbose},
        compute,
    )
    return _assemble(users, spec, shards, keep_results, computed)


def _compute_missing(
    data: MovieLens,
    spec: PopulationSpec,
    missing: dict[tuple[str, int], list[int]],
    shards: dict[tuple[str, int], list[_Shard]],
    store: Store,
    keep_results: bool,
    run_kw: dict[str, Any],
    compute: Callable[..., PopulationRun],
) -> int:
    """Train the missing users (one call per seed and set of users), store them as shards and
    add them to ``shards``; returns the number of (user, model, seed) trainings."""
    done = 0
    for seed in spec.seeds:
        groups: dict[tuple[int, ...], list[str]] = {}
        for model in spec.models:
            todo = missing[(model, int(seed))]
            if todo:
                groups.setdefault(tuple(todo), []).append(model)
        for todo, models in groups.items():
            run = compute(
                data,
                np.asarray(todo, np.int64),
                replace(spec, models=tuple(models), seeds=(int(seed),)),
                keep_results=keep_results,
                **run_kw,
            )
            for model in models:
                payload = _shard_payload(run, model, int(seed), keep_results)
                params = {
                    **spec.shard_params(model, seed),
                    "users": sorted(todo),
                    "networks": payload["network"] is not None,
                }
                stored = store.put(
                    POPULATION_SHARD,
                    params,
                    payload,
                    data=data,
                    compute_s=float(payload["timing"].get("train_time_s", 0.0)),
                )
                shards[(model, int(seed))].append(_as_shard(stored.value, None, False))
                done += len(todo)
    return done


def _assemble(
    users: np.ndarray,
    spec: PopulationSpec,
    shards: dict[tuple[str, int], list[_Shard]],
    keep_results: bool,
    computed: int,
) -> PopulationRun:
    tables, timings, results = [], [], {}
    for seed in spec.seeds:
        for model in spec.models:
            found = shards[(model, int(seed))]
            owner, left = _assign(users, found)
            if left:  # pragma: no cover - _compute_missing stored them
                raise RuntimeError(f"users {left[:5]} of {model}/{seed} were not computed")
            parts = [
                found[i].table.loc[[u for u, o in owner.items() if o == i]]
                for i in sorted(set(owner.values()))
            ]
            tables.append(pd.concat(parts).loc[users])
            for i in sorted(set(owner.values())):
                used = sum(1 for o in owner.values() if o == i)
                timings.append(
                    {
                        "model": model,
                        "seed": int(seed),
                        **{
                            k: found[i].timing.get(k, math.nan)
                            for k in ("users", "train_time_s", "user_steps", "us_per_user_step")
                        },
                        "users_used": used,
                        "stored": found[i].stored,
                    }
                )
            if keep_results and model in RECURRENT_MODELS:
                results[(model, int(seed))] = _network(found, owner, users)
    table = pd.concat(tables, ignore_index=True)
    config = {
        "models": list(spec.models),
        "seeds": [int(s) for s in spec.seeds],
        "epochs": spec.epochs,
        "train_fraction": spec.train_fraction,
        "n_users": len(users),
        "trainer": spec.trainer,  # named by resolved() when a model is recurrent
        **spec.train_kw,
        "users_computed": computed,
    }
    return PopulationRun(table, pd.DataFrame(timings), results, config)
