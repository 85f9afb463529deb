"""Population runs sharded over users on a Dask cluster (recsys_utils.experiments.distributed),
and the store under concurrent writers.

The cluster test starts a real two-worker :class:`distributed.LocalCluster` of *processes*
(about 20 s here on 2 shared cores: start-up, imports, 3 epochs on the 60-user synthetic
twin) and checks that every user's results equal one process's for the same seeds.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys_utils.errors import BadArgumentError
from recsys_utils.experiments import POPULATION_SHARD, PopulationSpec, Store
from recsys_utils.experiments.distributed import (
    ClusterSpec,
    distributed_population_run,
    shard_users,
)
from recsys_utils.population import run_population, sample_users

pytest.importorskip("distributed")

SPEC = PopulationSpec(models=("modified", "majority"), seeds=(0, 1), epochs=3)


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "store", version="9.9", code="c0de")


# ------------------------------------------------------------------------- sharding
def test_shard_users_covers_every_user_once_with_balanced_work():
    users = np.arange(1, 41)
    counts = (users * 37) % 101 + 20
    shards = shard_users(users, counts, 4)
    assert len(shards) == 4
    assert sorted(np.concatenate(shards).tolist()) == users.tolist()
    assert all((np.diff(s) > 0).all() for s in shards)
    work = [int(counts[np.isin(users, s)].sum()) for s in shards]
    # greedy largest-first: no shard exceeds another by more than the largest single user
    assert max(work) - min(work) <= int(counts.max())
    assert [s.tolist() for s in shard_users(users[::-1], counts[::-1], 4)] == [s.tolist() for s in shards]


def test_shard_users_gives_fewer_shards_than_asked_for_few_users():
    assert [s.tolist() for s in shard_users([5, 3], [10, 30], 8)] == [[3], [5]]


@pytest.mark.parametrize(
    ("args", "argument"),
    [
        (([1, 2], [3, 4], 0), "n_shards"),
        (([1, 1], [3, 4], 2), "user_ids"),
        (([1, 2], [3], 2), "n_ratings"),
    ],
)
def test_shard_users_refuses_bad_arguments(args, argument):
    with pytest.raises(BadArgumentError) as err:
        shard_users(*args)
    assert err.value.argument == argument


# --------------------------------------------------------------------- bad arguments
@pytest.mark.parametrize(
    ("cluster", "argument"),
    [
        (ClusterSpec(n_workers=0), "n_workers"),
        (ClusterSpec(threads_per_worker=-1), "threads_per_worker"),
        (ClusterSpec(shards_per_worker=0), "shards_per_worker"),
        (ClusterSpec(processes="yes"), "processes"),
        (ClusterSpec(address=""), "address"),
    ],
)
def test_a_bad_cluster_is_refused_before_any_worker_starts(synthetic_ml1m, store, cluster, argument):
    with pytest.raises(BadArgumentError, match=argument) as err:
        distributed_population_run(synthetic_ml1m, [1, 2], SPEC, cluster=cluster, store=store)
    assert err.value.argument == argument
    assert not store.entries()


def test_bad_users_and_spec_are_refused(synthetic_ml1m, store):
    with pytest.raises(BadArgumentError, match="user_ids"):
        distributed_population_run(synthetic_ml1m, [], SPEC, store=store)
    with pytest.raises(BadArgumentError, match="users without ratings"):
        distributed_population_run(synthetic_ml1m, [1, 99_999], SPEC, store=store)
    with pytest.raises(BadArgumentError, match="spec.epochs"):
        distributed_population_run(synthetic_ml1m, [1], PopulationSpec(epochs=0), store=store)
    with pytest.raises(BadArgumentError, match="spec.seeds"):
        distributed_population_run(synthetic_ml1m, [1], PopulationSpec(seeds=()), store=store)


# ------------------------------------------------------------------------ a cluster
def test_two_worker_processes_give_the_single_process_results(synthetic_ml1m, store):
    from recsys_utils.batched import warm_cache

    # every process (this one and the workers) loads the kernels from Numba's cache: a
    # process that compiles them itself rounds differently in the last bits (batched.jit)
    warm_cache()
    users = sample_users(synthetic_ml1m)
    one = run_population(synthetic_ml1m, users, SPEC, progress=False)
    out = distributed_population_run(
        synthetic_ml1m, users, SPEC, cluster=ClusterSpec(n_workers=2), store=store, progress=False
    )
    pd.testing.assert_frame_equal(out.run.table, one.table)  # exact: same users, seeds, order
    assert out.n_workers == 2
    assert out.run.config["users_computed"] == 0  # the caller only gathered the workers' shards
    assert out.run.timings["stored"].all()
    # every user in exactly one shard, trained once per (model, seed), on both workers
    trained = sorted(u for s in out.shards for u in s.users)
    assert trained == sorted(users.tolist())
    assert sum(s.users_computed for s in out.shards) == len(users) * len(SPEC.models) * len(SPEC.seeds)
    assert len({s.worker for s in out.shards}) == 2
    assert all(s.peak_rss_mib > 0 and s.cpu_s > 0 for s in out.shards)
    # the store holds one shard per (shard, model, seed), all readable
    entries = store.entries(POPULATION_SHARD)
    assert len(entries) == len(out.shards) * len(SPEC.models) * len(SPEC.seeds)
    assert all(store.read_entry(e) is not None for e in entries)


# --------------------------------------------------------------- concurrent writers
def test_concurrent_writers_leave_every_entry_whole(store):
    """Eight writers put distinct entries and four race on one, while a reader lists."""
    errors: list[BaseException] = []

    def put(i: int, key: int) -> None:
        try:
            value = {"table": pd.DataFrame({"user_id": [key], "v": [float(key)]}), "i": i}
            store.put("population-shard", {"users": [key]}, value, data="f" * 32, compute_s=0.1)
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    def listen() -> None:
        try:
            for _ in range(50):
                for entry in store.entries():
                    assert entry.status == "ok"
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=put, args=(i, i)) for i in range(8)]
    threads += [threading.Thread(target=put, args=(100 + i, 99)) for i in range(4)]
    threads.append(threading.Thread(target=listen))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    entries = store.entries("population-shard")
    assert len(entries) == 9
    for entry in entries:
        value = store.read_entry(entry)
        assert value["table"]["user_id"].tolist() == entry.params["users"]
    assert not [p for p in (store.root / "population-shard").iterdir() if p.name.startswith(".tmp-")]
