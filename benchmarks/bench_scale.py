"""Population runs on more than one CPU: shards of users on a local Dask cluster, and what that
projects to for MovieLens 25M.

Measured (on MovieLens 1M, this machine):

1. the report's modified recommender for ``--users`` sampled users (seed 0) at ``--epochs``
   epochs, one seed, trained as shards on a local cluster of ``--workers`` worker processes
   (one thread each; each run in a fresh, empty store, so every user is trained): the wall
   time of the shards, the trainer's time per user-step (one worker thread) and the workers'
   CPU time per user-step (not inflated by other processes sharing the CPUs), the speed-up
   over one worker, each worker's peak resident memory (``VmHWM``, see
   ``experiments.distributed.peak_rss_mib``), and whether every run
   gives the same per-user table;
2. one shared model for comparison: the matrix factorisation (``recsys_utils.models.mf``,
   implicit ALS, 16 factors, 15 sweeps, one thread) fitted on all ML-1M ratings;
3. the exact user-steps of one epoch of all ML-1M users against the estimate from totals
   (``recsys_utils.experiments.scaling.estimated_user_steps``), to check the estimate.

Projected (labelled so in the JSON and the book): the same training (100 epochs, one seed)
for ML-25M's 162,541 users and 25,000,095 ratings on N workers, from the measured CPU cost
per user-step of one worker, the estimated user-steps and a width factor for its 19 genres; the weights of every
user's network against the matrix factorisation's, and the factorisation's fit scaled by the
ratings. See ``recsys_utils.experiments.scaling`` for the arithmetic.

Usage::

    python benchmarks/bench_scale.py --json benchmarks/results/scale.json
    python benchmarks/bench_scale.py --users 40 --epochs 2 --workers 1 2 --no-mf   # a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from recsys_utils.data import load_movielens  # noqa: E402
from recsys_utils.experiments import PopulationSpec, Store  # noqa: E402
from recsys_utils.experiments.distributed import ClusterSpec, distributed_population_run  # noqa: E402
from recsys_utils.experiments.scaling import (  # noqa: E402
    ML1M_SHAPE,
    ML25M_SHAPE,
    estimated_user_steps,
    exact_user_steps,
    per_user_weights,
    projected_hours,
    width_factor,
)
from recsys_utils.population import sample_users  # noqa: E402

#: The report's training: 100 epochs, batches of 10, 65 % of a user's rows.
FULL_EPOCHS, BATCH_SIZE, TRAIN_FRACTION = 100, 10, 0.65
#: Workers the ML-25M time is projected for.
PROJECTED_WORKERS = (1, 8, 32, 128)
#: Bytes of one float32 weight, and the copies Adam keeps of each (weights, two moments).
_FLOAT_BYTES, _ADAM_COPIES = 4, 3


def measure_workers(data: Any, users: np.ndarray, epochs: int, n_workers: int) -> tuple[dict, pd.DataFrame]:
    """One distributed run on ``n_workers`` one-thread worker processes in an empty store."""
    spec = PopulationSpec(models=("modified",), seeds=(0,), epochs=epochs, trainer="numba")  # the CPU trainer
    with tempfile.TemporaryDirectory() as tmp:
        out = distributed_population_run(
            data,
            users,
            spec,
            cluster=ClusterSpec(n_workers=n_workers, threads_per_worker=1),
            store=Store(Path(tmp) / "store"),
            progress=False,
        )
    timings = out.run.timings
    train_s, steps = float(timings["train_time_s"].sum()), int(timings["user_steps"].sum())
    cpu_s = float(sum(s.cpu_s for s in out.shards))
    peaks: dict[str, float] = {}
    for shard in out.shards:
        peaks[shard.worker] = max(peaks.get(shard.worker, 0.0), shard.peak_rss_mib)
    row = {
        "workers": n_workers,
        "shards": len(out.shards),
        "wall_s": out.wall_s,
        "shards_s": out.shards_s,
        "train_s": train_s,
        "user_steps": steps,
        "us_per_user_step": 1e6 * train_s / steps,
        "cpu_s": cpu_s,
        "cpu_us_per_user_step": 1e6 * cpu_s / steps,
        "peak_rss_mib_per_worker": sorted(peaks.values()),
    }
    return row, out.run.table


def measure_mf(data: Any) -> dict[str, Any]:
    """The matrix factorisation fitted once on every ML-1M rating."""
    from recsys_utils.models.mf import MatrixFactorization

    model = MatrixFactorization().fit(data.ratings)
    return {
        "fit_s": float(model.fit_time_s),
        "factors": model.factors,
        "iterations": model.iterations,
        "users": len(model.user_ids_),
        "movies": len(model.movie_ids_),
        "parameters": int(model.user_factors_.size + model.item_factors_.size),
    }


def project(runs: list[dict], mf: dict | None) -> dict[str, Any]:
    """The ML-25M projection (module docstring) from the one-worker run's cost per step."""
    shape = ML25M_SHAPE
    # CPU time, not wall time: the cost on a worker that has its CPU to itself (this machine's
    # CPUs are shared, which inflates wall times; the CPU time includes each shard's reading)
    cost = next(r for r in runs if r["workers"] == 1)["cpu_us_per_user_step"]
    factor = width_factor(shape.genres)
    steps = estimated_user_steps(shape.ratings, shape.users, TRAIN_FRACTION, BATCH_SIZE)
    weights = per_user_weights(shape.genres)
    out: dict[str, Any] = {
        "label": "projected",
        "dataset": shape.name,
        "ratings": shape.ratings,
        "users": shape.users,
        "movies": shape.movies,
        "genres": shape.genres,
        "epochs": FULL_EPOCHS,
        "seeds": 1,
        "train_fraction": TRAIN_FRACTION,
        "batch_size": BATCH_SIZE,
        "cpu_us_per_user_step_measured": cost,
        "width_factor": factor,
        "user_steps_per_epoch": steps,
        "hours_by_workers": {
            str(n): projected_hours(cost * factor, steps, FULL_EPOCHS, 1, n) for n in PROJECTED_WORKERS
        },
        "per_user_weights": weights,
        "all_users_weights": weights * shape.users,
        "all_users_state_gib": weights * shape.users * _FLOAT_BYTES * _ADAM_COPIES / 2**30,
    }
    if mf is not None:
        out["mf_parameters"] = (shape.users + shape.movies) * mf["factors"]
        out["mf_fit_s"] = mf["fit_s"] * shape.ratings / ML1M_SHAPE.ratings
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--dataset", default="ml-1m")
    parser.add_argument("--no-mf", action="store_true", help="skip the matrix factorisation")
    parser.add_argument("--json", default=None, help="write the figures to this file")
    args = parser.parse_args(argv)
    if 1 not in args.workers:
        parser.error("--workers must include 1 (the projection starts from one worker's cost)")

    from recsys_utils.batched import warm_cache

    warm_cache()  # every worker loads the kernels from Numba's cache: same round-off everywhere
    data = load_movielens(args.dataset, data_dir=args.data_dir, download=False)
    users = sample_users(data, args.users, seed=0)
    counts = data.ratings.groupby("user_id").size()
    runs, tables = [], []
    for n in args.workers:
        row, table = measure_workers(data, users, args.epochs, n)
        runs.append(row)
        tables.append(table)
        print(
            f"{n} worker(s): shards {row['shards_s']:.1f} s (wall {row['wall_s']:.1f} s), "
            f"{row['us_per_user_step']:.0f} us per user-step ({row['cpu_us_per_user_step']:.0f} us "
            f"CPU), peak RSS per worker "
            f"{max(row['peak_rss_mib_per_worker']):.0f} MiB",
            flush=True,
        )
    base = runs[0]["shards_s"]
    for row in runs:
        row["speedup"] = base / row["shards_s"]
    mf = None if args.no_mf else measure_mf(data)
    exact = exact_user_steps(counts.to_numpy(), TRAIN_FRACTION, BATCH_SIZE)
    estimate = estimated_user_steps(int(counts.sum()), len(counts), TRAIN_FRACTION, BATCH_SIZE)
    result = {
        "label": "measured",
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "load_average": list(os.getloadavg()),
        },
        "sample": {
            "dataset": data.name,
            "users": len(users),
            "ratings": int(counts.loc[users].sum()),
            "epochs": args.epochs,
            "model": "modified",
            "seed": 0,
        },
        "runs": runs,
        "identical_tables": all(t.equals(tables[0]) for t in tables[1:]),
        "mf": mf,
        "steps_check": {
            "dataset": data.name,
            "users": len(counts),
            "ratings": int(counts.sum()),
            "exact": exact,
            "estimate": estimate,
            "relative_error": (estimate - exact) / exact,
        },
        "projection": project(runs, mf),
        "created": time.strftime("%Y-%m-%d", time.gmtime()),
    }
    hours = result["projection"]["hours_by_workers"]
    print("ML-25M, 100 epochs, projected: " + ", ".join(f"{n} workers {h:.1f} h" for n, h in hours.items()))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
