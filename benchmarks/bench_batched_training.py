"""Per-user training at scale: one Keras ``fit`` per user vs the multi-user trainers.

Trains one of the report's two recommenders (``--network``; BCE, Adam, 100 epochs, batch 10)
on MovieLens 1M, one network per user, in one process:

- ``modified-lstm`` (default): Embedding(200, 50) -> Dropout(0.5) -> ModifiedLSTM(18) ->
  Dropout(0.5) -> Dense(1, hard sigmoid) (``--cell`` swaps its recurrent cell);
- ``lstm``: Embedding(200, 50) -> LSTM(100, sigmoid, sigmoid) -> Dense(1, sigmoid).

Steps:

1. the naive loop, one Keras model and ``fit`` per user, on K users (``--naive-users``);
2. the batched trainer on the same K users;
3. the batched trainer on all users (or ``--users N`` of them): ``--backend numba`` (default,
   :func:`recsys_utils.batched.train_users`, CPU), ``tf`` (:func:`recsys_utils.batched_tf.train_users`
   on ``--device``, default ``RECSYS_DEVICE``) or ``both`` (the two on the same users, their
   seconds and ratio side by side).

Each user's rows are their ratings (genre flags in the report's order, like = rating >= 4),
split order-independently (sorted by movie id, then shuffled with ``(seed, user_id)``;
65 % train), as ``UserDataset.random_split`` does: users 3000+ have no original file order.

Prints per-user times, their ratio, the naive loop's projected time for all users, the
batched time for all users, peak memory, and held-out accuracy against the per-user
majority-class baseline.  ``--json PATH`` also writes the figures.

Usage::

    python benchmarks/bench_batched_training.py                # all 6,040 users, K = 20
    python benchmarks/bench_batched_training.py --users 300 --naive-users 5 --epochs 20
    python benchmarks/bench_batched_training.py --network lstm --users 50 --naive-users 0
    python benchmarks/bench_batched_training.py --backend both --users 200 --naive-users 0 \
        --epochs 10 --json benchmarks/results/batched_backends.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from recsys_utils.batched import CELLS, REPORT_NETWORKS, train_users  # noqa: E402
from recsys_utils.data import DATA_DIR_ENV, load_movielens  # noqa: E402
from recsys_utils.device import DEVICE_CHOICES, DEVICE_ENV, resolve_device  # noqa: E402
from recsys_utils.features import user_datasets  # noqa: E402

TARGET_S = 300.0  # the goal: all 6,040 users in 300 s on 2 CPU cores
TARGET_GPU_S = 30.0  # the TensorFlow trainer's goal: all 6,040 users in 30 s on one GPU
BACKENDS = {"numba": ("numba",), "tf": ("tf",), "both": ("numba", "tf")}


def rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB (Linux: ru_maxrss in KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def load_users(
    data_dir: str | None, seed: int, train_fraction: float = 0.65
) -> dict[int, dict[str, np.ndarray]]:
    """Every user's train and test rows: ``{user_id: {"X_train" (n, 18), "y_train" (n,), ...}}``."""
    data = load_movielens("ml-1m", data_dir=data_dir, download=False)
    out = {}
    for ds in user_datasets(data):
        split = ds.random_split(train_fraction, seed=seed)
        out[ds.user_id] = {
            "X_train": ds.X[split.train],
            "y_train": ds.y[split.train],
            "X_test": ds.X[split.test],
            "y_test": ds.y[split.test],
        }
    return out


def n_steps(n_rows: int, epochs: int, batch_size: int = 10) -> int:
    """Optimizer steps of one user's training: ``epochs * ceil(n_rows / batch_size)``."""
    return epochs * math.ceil(n_rows / batch_size)


def accuracy_summary(
    users: list[int], rows: dict[int, dict[str, np.ndarray]], probas: list[np.ndarray]
) -> dict[str, float]:
    """Mean per-user held-out accuracy (like iff p > 0.5) vs each user's majority class."""
    acc, base, hits, total = [], [], 0, 0
    for uid, p in zip(users, probas):
        r = rows[uid]
        y = r["y_test"]
        if not len(y):
            continue
        pred = p > 0.5
        majority = r["y_train"].mean() > 0.5 if len(r["y_train"]) else True
        acc.append(float(np.mean(pred == (y > 0.5))))
        base.append(float(np.mean((y > 0.5) == majority)))
        hits += int(np.sum(pred == (y > 0.5)))
        total += len(y)
    return {
        "users": len(acc),
        "mean_accuracy": float(np.mean(acc)),
        "mean_majority_baseline": float(np.mean(base)),
        "pooled_accuracy": hits / max(total, 1),
        "users_beating_baseline": float(np.mean(np.array(acc) > np.array(base))),
    }


def run_naive(
    users: list[int],
    rows: dict[int, dict[str, np.ndarray]],
    epochs: int,
    seed: int,
    kind: str = "modified-lstm",
) -> dict[str, Any]:
    """One Keras model of ``kind`` and ``fit`` per user (the book's ``SequenceClassifier``)."""
    from recsys_utils.models.sequence import SequenceClassifier

    times, fit_times, probas = [], [], []
    for uid in users:
        r = rows[uid]
        start = time.perf_counter()
        clf = SequenceClassifier(kind, seed=seed)
        clf.fit(r["X_train"], r["y_train"], epochs=epochs, batch_size=10)
        times.append(time.perf_counter() - start)
        fit_times.append(clf.fit_time_s)
        probas.append(clf.predict_proba(r["X_test"]))
        print(f"  naive user {uid:5d}: {len(r['y_train']):4d} train rows, {times[-1]:6.1f} s", flush=True)
    return {"times_s": times, "fit_times_s": fit_times, "probas": probas}


def run_all_users(
    batched: Any,
    backend: str,
    users: list[int],
    rows: dict[int, dict[str, np.ndarray]],
    steps: dict[int, int],
    cpus: int,
    n_all: int,
) -> dict[str, Any]:
    """Step 3: train ``users`` with ``batched`` (one backend); print and return the figures."""
    print(f"\n[3] batched trainer ({backend}) on {len(users)} users")
    rss_before = rss_mib()
    cpu_start, load_start = time.process_time(), os.getloadavg()[0]
    res, probas = batched(users)
    cpu_s = time.process_time() - cpu_start  # includes the (short) predictions
    load_end = os.getloadavg()[0]
    state_mib = 3 * sum(w.nbytes for w in res.weights.values()) / 2**20
    user_steps = sum(steps[u] for u in users)
    print(
        f"    time: {res.train_time_s:.1f} s ({res.train_time_s / len(users) * 1e3:.1f} ms per user, "
        f"{1e6 * res.train_time_s / user_steps:.0f} us per user-step; "
        f"+ {res.compile_time_s:.1f} s compile)"
    )
    print(
        f"    process CPU time: {cpu_s:.1f} s ({cpu_s / cpus:.1f} s per CPU); "
        f"1-min load average {load_start:.1f} before, {load_end:.1f} after "
        f"(above {cpus} means other processes shared the CPUs)"
    )
    if len(users) == n_all:
        goal = TARGET_S if backend == "numba" else TARGET_GPU_S
        verdict = "within" if res.train_time_s <= goal else "above"
        print(f"    all users in {res.train_time_s:.0f} s: {verdict} the goal of {goal:.0f} s")
    print(
        f"    peak RSS: {rss_mib():.0f} MiB (before this run {rss_before:.0f} MiB; "
        f"weights + Adam moments: {state_mib:.0f} MiB)"
    )
    acc = accuracy_summary(users, rows, probas)
    print(
        f"    held-out accuracy: mean over users {acc['mean_accuracy']:.4f} vs majority "
        f"baseline {acc['mean_majority_baseline']:.4f} (pooled {acc['pooled_accuracy']:.4f}; "
        f"{100 * acc['users_beating_baseline']:.0f} % of users beat their baseline)"
    )
    return {
        "users": len(users),
        "train_s": res.train_time_s,
        "compile_s": res.compile_time_s,
        "cpu_s": cpu_s,
        "load_average": [load_start, load_end],
        "per_user_step_us": 1e6 * res.train_time_s / user_steps,
        "peak_rss_mib": rss_mib(),
        "state_mib": state_mib,
        "accuracy": acc,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir",
        default=os.environ.get(DATA_DIR_ENV),
        help=f"folder holding ml-1m/ (default: ${DATA_DIR_ENV}, else the cache)",
    )
    parser.add_argument(
        "--users", default="all", help="'all' or how many users to sample (seeded) for the batched run"
    )
    parser.add_argument(
        "--naive-users", type=int, default=20, help="users trained by the naive Keras loop (0: skip it)"
    )
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--network",
        default="modified-lstm",
        choices=sorted(REPORT_NETWORKS),
        help="which of the report's recommenders to train",
    )
    parser.add_argument(
        "--cell",
        default=None,
        choices=CELLS,
        help="recurrent cell of the batched runs (default: the network's; "
        "the naive loop keeps the network's)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="batched trainer threads (default: all CPUs of this process)",
    )
    parser.add_argument(
        "--backend",
        default="numba",
        choices=sorted(BACKENDS),
        help="multi-user trainer of steps 2 and 3: numba (CPU), tf (TensorFlow, on --device) "
        "or both (step 3 runs the two on the same users)",
    )
    parser.add_argument(
        "--device",
        default=None,
        choices=DEVICE_CHOICES,
        help=f"device of the tf backend (default: ${DEVICE_ENV}, else auto)",
    )
    parser.add_argument(
        "--tf-groups",
        type=int,
        default=1,
        help="tf backend: train the users in this many groups by size (each padded to its own "
        "largest user; one compilation each)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    # the device of the TensorFlow trainer (the Numba one always runs on the CPU)
    device = resolve_device(args.device if args.backend != "numba" else "cpu", argument="--device")

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"machine: {platform.processor() or platform.machine()}, {cpus} CPUs; "
        f"python {platform.python_version()}; epochs {args.epochs}; seed {args.seed}; "
        f"network {args.network}" + (f" (cell {args.cell})" if args.cell else "")
    )
    print(f"backend {args.backend}; device {device.kind}: {device.name}")
    start = time.perf_counter()
    rows = load_users(args.data_dir, args.seed)
    all_ids = sorted(rows)
    rng = np.random.default_rng(args.seed)
    if args.users == "all":
        users = all_ids
    else:
        users = sorted(rng.choice(all_ids, size=min(int(args.users), len(all_ids)), replace=False).tolist())
    naive_users = (
        sorted(rng.choice(users, size=min(args.naive_users, len(users)), replace=False).tolist())
        if args.naive_users
        else []
    )
    steps = {u: n_steps(len(rows[u]["y_train"]), args.epochs) for u in all_ids}
    print(
        f"data: {len(all_ids)} users, {sum(len(r['y_train']) for r in rows.values()):,} "
        f"train rows, {sum(steps.values()):,} optimizer steps for all users "
        f"({time.perf_counter() - start:.1f} s to load and split)"
    )
    network = REPORT_NETWORKS[args.network]
    cell = args.cell or network.cell
    out: dict[str, Any] = {
        "epochs": args.epochs,
        "seed": args.seed,
        "cpus": cpus,
        "network": args.network,
        "cell": cell,
        "n_users_total": len(all_ids),
        "backend": args.backend,
        "tf_groups": args.tf_groups,
        "cpu": resolve_device("cpu").name,
        **device.to_dict(),
    }

    backends = BACKENDS[args.backend]

    def batched(ids: list[int], backend: str = backends[0]) -> Any:
        if backend == "tf":
            from recsys_utils.batched_tf import TFOptions
            from recsys_utils.batched_tf import train_users as train

            extra: dict[str, Any] = {"options": TFOptions(device=device.kind, groups=args.tf_groups)}
        else:
            train, extra = train_users, {"n_threads": args.threads}
        res = train(
            [rows[u]["X_train"] for u in ids],
            [rows[u]["y_train"] for u in ids],
            ids,
            network=network,
            cell=cell,
            epochs=args.epochs,
            seed=args.seed,
            progress=False,
            **extra,
        )
        probas = res.predict_proba([rows[u]["X_test"] for u in ids])
        return res, probas

    if naive_users:
        k = len(naive_users)
        print(f"\n[1] naive loop: one Keras fit per user, {k} users")
        naive = run_naive(naive_users, rows, args.epochs, args.seed, args.network)
        naive_total = float(np.sum(naive["times_s"]))
        print(f"[2] batched trainer on the same {k} users")
        res_k, probas_k = batched(naive_users)
        s_k = np.array([steps[u] for u in naive_users], dtype=float)
        # projection: per-user time = a + b * steps, fitted on the K users
        b, a = np.polyfit(s_k, naive["times_s"], 1) if k >= 2 else (naive_total / s_k.sum(), 0)
        projected = float(sum(a + b * steps[u] for u in all_ids))
        by_steps = naive_total * sum(steps.values()) / s_k.sum()
        out["naive"] = {
            "users": naive_users,
            "total_s": naive_total,
            "per_user_s": naive_total / k,
            "per_step_ms": 1e3 * naive_total / s_k.sum(),
            "projected_all_users_s": projected,
            "projected_all_users_by_steps_s": by_steps,
            "accuracy": accuracy_summary(naive_users, rows, naive["probas"]),
        }
        out["batched_same_users"] = {
            "total_s": res_k.train_time_s,
            "per_user_s": res_k.train_time_s / k,
            "compile_s": res_k.compile_time_s,
            "accuracy": accuracy_summary(naive_users, rows, probas_k),
        }
        out["speedup_same_users"] = naive_total / res_k.train_time_s
        print(
            f"    naive:   {naive_total:8.1f} s  = {naive_total / k:7.2f} s per user "
            f"({1e3 * naive_total / s_k.sum():.2f} ms per step)"
        )
        print(
            f"    batched: {res_k.train_time_s:8.2f} s  = {res_k.train_time_s / k:7.3f} s per user "
            f"(+ {res_k.compile_time_s:.1f} s JIT compile/load, once per process)"
        )
        print(f"    ratio naive / batched: {out['speedup_same_users']:.0f}x")
        print(
            f"    naive loop projected to all {len(all_ids)} users: {projected / 3600:.1f} h "
            f"(fit a + b * steps), {by_steps / 3600:.1f} h (scaled by steps)"
        )

    for backend in backends:
        out["batched" if backend == "numba" else "batched_tf"] = run_all_users(
            lambda ids, b=backend: batched(ids, b), backend, users, rows, steps, cpus, len(all_ids)
        )
    if len(backends) == 2:
        nb_s, tf_s = out["batched"]["train_s"], out["batched_tf"]["train_s"]
        out["backends"] = {"numba_s": nb_s, "tf_s": tf_s, "ratio_numba_over_tf": nb_s / tf_s}
        print(
            f"\n    side by side on {len(users)} users: numba {nb_s:.1f} s (CPU, {cpus} CPUs), "
            f"tf {tf_s:.1f} s ({device.kind}: {device.name}); ratio numba / tf {nb_s / tf_s:.2f} "
            f"(compile: numba {out['batched']['compile_s']:.1f} s, tf {out['batched_tf']['compile_s']:.1f} s)"
        )
    if naive_users:
        na, ba = out["naive"]["accuracy"], out["batched_same_users"]["accuracy"]
        print(
            f"    same {len(naive_users)} users: naive Keras {na['mean_accuracy']:.4f}, "
            f"batched ({backends[0]}) {ba['mean_accuracy']:.4f}, baseline {na['mean_majority_baseline']:.4f}"
        )
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=float))
        print(f"\nwrote {args.json}")
    return out


if __name__ == "__main__":
    main()
