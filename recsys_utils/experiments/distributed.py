"""A population run sharded over users and trained on a Dask cluster.

One network per user means the work splits along users with nothing to exchange: a user's
trained network and metrics do not depend on which other users are trained in the same call
(their own weights, Adam state and random streams, see :mod:`recsys_utils.batched`). So a
population run for many users is cut into *shards* (sets of users), each worker trains its
shards with the one-process code path (:func:`~recsys_utils.experiments.population_run`, i.e.
:func:`~recsys_utils.population.run_population` and the batched trainer) and writes them to
the store as the per-user shards that path already stores; the caller then gathers every user
from the store with the same :func:`population_run`, which finds them all and trains nothing.
The result is the table one process would give for the same users, models and seeds.

Why Dask (``dask.distributed``) and not Ray: it installs from pip alone (pure Python, no
daemon, no separate runtime), a :class:`distributed.LocalCluster` starts in-process for the
tests and for one machine (worker processes or threads), and the same code reaches a
multi-machine cluster by giving its scheduler's address (``ClusterSpec(address=...)``). Ray
would bring a large binary wheel, a head-node daemon and its own object store, for a workload
that is a plain map over shards with no shared state.

The store must be a folder every worker can write and the caller read (one machine, or a
shared file system on a cluster). Its entries are written atomically (temporary folder, then
rename) under a per-entry lock (``flock``), so workers writing different shards, or even the
same one, never leave or read a half-written entry (``recsys_utils.experiments.entry``).

Shards are balanced by work: users are dealt, largest rating count first, to the shard with
the least work so far. More shards than workers (``shards_per_worker``) keep every worker busy
to the end and make the progress bar (over completed shards) move.
"""

from __future__ import annotations

import logging
import resource
import sys
import time
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from recsys_utils.errors import BadArgumentError, check_int
from recsys_utils.experiments.population_runs import PopulationSpec, population_run
from recsys_utils.experiments.store import Store, default_store
from recsys_utils.population import PopulationRun

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Iterator

    from recsys_utils.data import MovieLens

__all__ = [
    "ClusterSpec",
    "DistributedRun",
    "ShardReport",
    "distributed_population_run",
    "shard_users",
]

#: Shards per worker by default: enough for balance and progress, few enough to keep each
#: worker's batched trainer busy with many users at a time.
SHARDS_PER_WORKER = 4
_KIB_PER_MIB = 1024.0


@dataclass(frozen=True)
class ClusterSpec:
    """Where the shards run.

    Attributes:
        n_workers: workers of a local cluster (ignored with ``address``).
        threads_per_worker: threads of each worker; each shard's batched trainer uses as
            many (``n_threads``).
        processes: local workers as processes (``True``) or threads of this process.
        address: an existing Dask scheduler (``"tcp://host:8786"``); ``None`` starts a
            :class:`distributed.LocalCluster` for the run and closes it after.
        shards_per_worker: shards per worker (module docstring).
    """

    n_workers: int = 2
    threads_per_worker: int = 1
    processes: bool = True
    address: str | None = None
    shards_per_worker: int = SHARDS_PER_WORKER

    def checked(self) -> ClusterSpec:
        """This spec, after checking every field (:class:`BadArgumentError` naming it)."""
        check_int("n_workers", self.n_workers, low=1)
        check_int("threads_per_worker", self.threads_per_worker, low=1)
        check_int("shards_per_worker", self.shards_per_worker, low=1)
        if not isinstance(self.processes, bool):
            raise BadArgumentError("processes", self.processes, "expected True or False")
        if self.address is not None and not (isinstance(self.address, str) and self.address):
            raise BadArgumentError("address", self.address, "expected a scheduler address or None")
        return self


@dataclass(frozen=True)
class ShardReport:
    """What one worker did for one shard.

    Attributes:
        users: the shard's users (ascending).
        n_ratings: their ratings.
        users_computed: (user, model, seed) trainings done (0 when the store held them).
        wall_s: seconds the shard took on its worker (reading data, training, storing).
        cpu_s: CPU seconds of the worker's process meanwhile (user and system; with thread
            workers, of the whole process): unlike ``wall_s``, not inflated when other
            processes share the CPUs.
        peak_rss_mib: the worker process's peak resident memory so far, in MiB (with
            thread workers: the whole process's).
        worker: the worker's address.
    """

    users: tuple[int, ...]
    n_ratings: int
    users_computed: int
    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    worker: str


@dataclass
class DistributedRun:
    """A distributed population run.

    Attributes:
        run: the gathered :class:`PopulationRun` (what one process gives for the same users
            and spec).
        shards: one :class:`ShardReport` per shard, by first user.
        wall_s: seconds of the whole call (starting the cluster, training, gathering).
        shards_s: seconds from sending the data to the last shard done.
        n_workers: the cluster's workers.
    """

    run: PopulationRun
    shards: list[ShardReport]
    wall_s: float
    shards_s: float
    n_workers: int


def process_cpu_s() -> float:
    """CPU seconds (user + system) this process has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mib() -> float:
    """This process's peak resident set size so far, in MiB.

    On Linux, ``VmHWM`` of ``/proc/self/status``: the peak of this process's own address space.
    ``getrusage``'s ``ru_maxrss`` (the fallback elsewhere) keeps the high-water mark across
    ``fork`` and ``exec``, so a worker started from a large parent (one that imported
    TensorFlow, say) would report the parent's memory as its own.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / _KIB_PER_MIB  # kB
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (_KIB_PER_MIB * _KIB_PER_MIB) if sys.platform == "darwin" else peak / _KIB_PER_MIB


def shard_users(
    user_ids: Sequence[int] | np.ndarray, n_ratings: Sequence[int] | np.ndarray, n_shards: int
) -> list[np.ndarray]:
    """Cut users into at most ``n_shards`` shards of about equal work.

    Users are taken largest rating count first (ties: smaller id first) and each is given to
    the shard with the fewest ratings so far (ties: the lower shard), so the cut depends only
    on the users and their counts.

    Args:
        user_ids: ``(n_users,)`` distinct ids.
        n_ratings: ``(n_users,)`` each user's rating count (the work grows with it).
        n_shards: the most shards wanted (fewer when there are fewer users).

    Returns:
        Non-empty ``(n_i,)`` int64 arrays of ascending ids, together holding every user once.
    """
    n_shards = check_int("n_shards", n_shards, low=1)
    users = np.asarray(user_ids, np.int64).reshape(-1)
    counts = np.asarray(n_ratings, np.int64).reshape(-1)
    if len(users) != len(counts):
        raise BadArgumentError("n_ratings", f"{len(counts)} counts", f"one per user ({len(users)})")
    if len(np.unique(users)) != len(users):
        raise BadArgumentError("user_ids", "repeated ids", "user ids must be distinct")
    n_shards = min(n_shards, len(users))
    load = np.zeros(n_shards, np.int64)
    members: list[list[int]] = [[] for _ in range(n_shards)]
    for i in np.lexsort((users, -counts)):
        k = int(np.argmin(load))
        members[k].append(int(users[i]))
        load[k] += counts[i]
    return [np.sort(np.asarray(m, np.int64)) for m in members if m]


def _train_shard(
    data: MovieLens,
    users: np.ndarray,
    spec: PopulationSpec,
    store: Store,
    keep_results: bool,
    n_threads: int,
) -> ShardReport:
    """On a worker: one shard through :func:`population_run` (stored in ``store``)."""
    start, cpu_start = time.perf_counter(), process_cpu_s()
    run = population_run(
        data, users, spec, keep_results=keep_results, store=store, n_threads=n_threads, progress=False
    )
    try:
        from distributed import get_worker

        worker = get_worker().address
    except (ImportError, ValueError):  # pragma: no cover - called outside a worker
        worker = "local"
    n_ratings = int(run.table.drop_duplicates("user_id")["n_ratings"].sum())
    return ShardReport(
        tuple(int(u) for u in users),
        n_ratings,
        int(run.config["users_computed"]),
        time.perf_counter() - start,
        process_cpu_s() - cpu_start,
        peak_rss_mib(),
        worker,
    )


def _nothing_to_compute(*args: Any, **kwargs: Any) -> PopulationRun:
    raise RuntimeError(
        "the workers' shards are not in the caller's store: on a cluster the store must be a "
        "folder shared by every worker and the caller (RECSYS_STORE_DIR or Store(root))"
    )


@contextmanager
def _quiet_dask() -> Iterator[None]:
    """Dask's own log lines (e.g. a worker process slow to exit at shutdown, killed after a few
    seconds) at ERROR only, in this process, during the run: a notebook's output stays clean."""
    logger = logging.getLogger("distributed")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextmanager
def _client(cluster: ClusterSpec) -> Iterator[Any]:
    try:
        from distributed import Client, LocalCluster
    except ImportError as err:  # pragma: no cover - the optional extra is missing
        raise ImportError("distributed population runs need Dask: pip install 'recsys-utils[scale]'") from err
    if cluster.address is not None:
        with Client(cluster.address) as client:
            yield client
        return
    with (
        _quiet_dask(),
        LocalCluster(
            n_workers=cluster.n_workers,
            threads_per_worker=cluster.threads_per_worker,
            processes=cluster.processes,
            dashboard_address=None,
        ) as local,
        Client(local) as client,
    ):
        yield client


def _check_spec(spec: PopulationSpec) -> PopulationSpec:
    if not isinstance(spec, PopulationSpec):
        raise BadArgumentError("spec", spec, "expected a PopulationSpec")
    if not spec.seeds:
        raise BadArgumentError("spec.seeds", spec.seeds, "name at least one seed")
    if not spec.models:
        raise BadArgumentError("spec.models", spec.models, "name at least one model")
    check_int("spec.epochs", spec.epochs, low=1)
    return spec


def distributed_population_run(
    data: MovieLens,
    user_ids: Sequence[int] | np.ndarray,
    spec: PopulationSpec | None = None,
    *,
    cluster: ClusterSpec | None = None,
    keep_results: bool = False,
    store: Store | None = None,
    progress: bool = True,
) -> DistributedRun:
    """:func:`~recsys_utils.experiments.population_run` of ``spec`` for ``user_ids``, its
    shards trained on a Dask cluster (module docstring).

    Args:
        data: MovieLens; sent once to every worker.
        user_ids: ``(n_users,)`` distinct user ids with ratings.
        spec: models, seeds, epochs, training fraction (default ``PopulationSpec()``).
        cluster: the workers (default ``ClusterSpec()``: a local cluster of 2 processes).
        keep_results: also store and return the recurrent models' trained networks.
        store: a store every worker can write (default
            :func:`~recsys_utils.experiments.default_store`).
        progress: a tqdm bar over completed shards, on stderr.

    Returns:
        A :class:`DistributedRun`; its ``run`` equals, row for row, ``population_run`` (or
        ``run_population``) of the same users and spec in one process.

    Raises:
        BadArgumentError: a bad ``cluster`` field (e.g. ``n_workers=0``), ``spec`` or
            ``user_ids`` (empty, repeated, or users without ratings).
    """
    cluster = (cluster or ClusterSpec()).checked()
    # the trainer is named here, once: every worker trains with the caller's (a worker on
    # another host could resolve the device otherwise) and none imports TensorFlow to find it
    spec = _check_spec(spec or PopulationSpec()).resolved()
    users = np.asarray(user_ids, np.int64).reshape(-1)
    if not len(users):
        raise BadArgumentError("user_ids", list(users), "name at least one user")
    counts_by_user = data.ratings.groupby("user_id").size()
    absent = users[~np.isin(users, counts_by_user.index.to_numpy())]
    if len(absent):
        raise BadArgumentError("user_ids", absent[:5].tolist(), f"users without ratings in {data.name}")
    store = store or default_store()
    shards = shard_users(
        users,
        counts_by_user.loc[users].to_numpy(),
        cluster.n_workers * cluster.shards_per_worker,
    )
    start = time.perf_counter()
    reports: list[ShardReport] = []
    with _client(cluster) as client:
        from distributed import as_completed

        n_workers = len(client.scheduler_info(n_workers=-1)["workers"]) or cluster.n_workers
        sent = time.perf_counter()
        shared = client.scatter(data, broadcast=True)
        futures = [
            client.submit(
                _train_shard,
                shared,
                shard,
                spec,
                store,
                keep_results,
                cluster.threads_per_worker,
                pure=False,
            )
            for shard in shards
        ]
        bar = _bar(len(futures), progress)
        for future in as_completed(futures):
            reports.append(future.result())
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        shards_s = time.perf_counter() - sent
    run = population_run(
        data, users, spec, keep_results=keep_results, store=store, compute=_nothing_to_compute
    )
    reports.sort(key=lambda r: r.users[0])
    return DistributedRun(run, reports, time.perf_counter() - start, shards_s, n_workers)


def _bar(total: int, progress: bool) -> Any:
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"{total} shards", unit="shard")
