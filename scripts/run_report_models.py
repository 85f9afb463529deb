"""Train the report's two recommenders, as the report configured them, on a sample of users (or
every user) over several seeds, and write the derived per-user numbers with their provenance.

Usage (from the repository root, MovieLens 1M through ``RECSYS_DATA_DIR`` or the cache)::

    python scripts/run_report_models.py --users 500 --seeds 0 1 2
    python scripts/run_report_models.py --users all --seeds 0 1 2 --out benchmarks/results/report_models_all.json
    python scripts/run_report_models.py --merge runs/a.json runs/b.json --out benchmarks/results/report_models.json

``--merge`` trains nothing: it joins files of the same users made separately (for example
more seeds, run later) into one, each run's provenance kept (``merge_report_models``).

Writes ``benchmarks/results/report_models.json`` by default (see
:mod:`recsys_utils.experiments.report_models`: derived numbers only, never ratings). The users
are :func:`recsys_utils.features.sample_users` with ``--sample-seed``: chapter 05's sample for
the same size and seed. On two CPU cores the report's LSTM(100) takes about 1 s per user and
seed, the modified network about a tenth of that.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = Path("benchmarks/results/report_models.json")


def _commit() -> str:
    """The checkout's commit, with ``-dirty`` when tracked files differ from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("-dirty" if dirty else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", default="500", help="how many sampled users, or 'all' (default 500)")
    parser.add_argument("--sample-seed", type=int, default=0, help="seed of the user sample (default 0)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="split and training seeds")
    parser.add_argument("--epochs", type=int, default=100, help="epochs (the report: 100)")
    parser.add_argument(
        "--trainer",
        choices=["numba", "tf"],
        default=None,
        help="multi-user trainer (default: the one that suits RECSYS_DEVICE: numba on a CPU, tf on a GPU)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output file (default {DEFAULT_OUT})")
    parser.add_argument(
        "--merge", type=Path, nargs="+", metavar="FILE", help="join these files into --out; train nothing"
    )
    args = parser.parse_args(argv)
    if args.merge:
        return merge(args.merge, args.out)
    if args.users != "all" and not (args.users.isdigit() and int(args.users) > 0):
        parser.error(f"--users must be a positive number or 'all', got {args.users!r}")

    commit = _commit()  # the code this run imports: recorded before anything else changes
    sys.path.insert(0, str(ROOT))
    from recsys_utils.batched import warm_cache
    from recsys_utils.data import load_movielens
    from recsys_utils.device import trainer_name
    from recsys_utils.environment import device_info
    from recsys_utils.experiments.fingerprint import data_fingerprint
    from recsys_utils.experiments.report_models import report_model_rows, write_report_models
    from recsys_utils.population import sample_users

    warm_cache()  # the kernels every process loads (see recsys_utils.batched.jit)
    data = load_movielens("ml-1m")
    n_users = None if args.users == "all" else int(args.users)
    users = sample_users(data, n_users, seed=args.sample_seed)
    print(f"{len(users)} users, seeds {args.seeds}, {args.epochs} epochs", flush=True)
    start = time.perf_counter()
    trainer = args.trainer or trainer_name()  # recorded: the two trainers draw different numbers
    rows, seconds = report_model_rows(
        data, users, args.seeds, epochs=args.epochs, progress=True, trainer=trainer
    )
    out = args.out if args.out.is_absolute() else ROOT / args.out
    argv_shown = ["python", "scripts/run_report_models.py", *(argv if argv is not None else sys.argv[1:])]
    provenance = {
        "command": shlex.join(argv_shown),
        "commit": commit,
        "dataset": "ml-1m",
        "data_fingerprint": data_fingerprint(data),
        "users": "all" if n_users is None else n_users,
        "sample_seed": args.sample_seed,
        "seeds": list(args.seeds),
        "epochs": args.epochs,
        "trainer": trainer,
        "device": device_info(),
        "threads": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "train_seconds": seconds,
        "wall_seconds": round(time.perf_counter() - start, 1),
    }
    write_report_models(out, rows, provenance)
    print(f"wrote {len(rows)} rows to {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out.name}")
    return 0


def merge(files: list[Path], out: Path) -> int:
    """Join report-models files of the same users into ``out`` (see the module docstring)."""
    sys.path.insert(0, str(ROOT))
    from recsys_utils.experiments.report_models import (
        merge_report_models,
        read_report_models,
        write_report_models,
    )

    rows, provenance = merge_report_models([read_report_models(f) for f in files])
    provenance["joined_by"] = shlex.join(
        ["python", "scripts/run_report_models.py", "--merge", *(f.name for f in files), "--out", out.name]
    )
    out = out if out.is_absolute() else ROOT / out
    write_report_models(out, rows, provenance)
    print(
        f"joined {len(files)} files ({len(provenance['parts'])} runs, seeds {provenance['seeds']}): {len(rows)} rows"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
