"""Training time per epoch of the recurrent cells, side by side (chapter 6 quotes the output).

Three measurements, each interleaving the models in rotated orders within every round and
taking each model's ratio to the report's modified cell within the round
(:mod:`recsys_utils.timing`):

1. Keras, one user-sized fit: ``--rows`` rows (default 110) in batches of 10, as the report
   trains one user; framework overhead per step dominates;
2. Keras, a large fit: ``--big-rows`` rows (default 20,000) in batches of ``--big-batch``
   (default 256), where the cell's arithmetic dominates; on an NVIDIA GPU, ``lstm-cudnn`` and
   ``gru-cudnn`` (Keras' default activations) run cuDNN's fused kernels, while the report's
   activations keep ``lstm-same-size``, ``gru-same-size`` and our cells on Keras' generic loop;
3. the batched per-user trainer (:mod:`recsys_utils.batched`, CPU only), per user and epoch;
4. the batched trainer on the report's two recommenders as the report configured them
   (``modified-lstm``: 18 units, dropout 0.5; ``lstm``: 100 units, no dropout, sigmoid output),
   per user-step (one Adam update of one user's network).

Usage (from the repository root, with the project's environment)::

    python benchmarks/bench_cells.py [--rounds 5] [--json benchmarks/results/cells_cpu.json]

The JSON holds the device, the raw rows and a printable ``summary``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from recsys_utils.environment import device_info, quiet_tensorflow  # noqa: E402


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=6, help="Keras epochs per fit (1st dropped)")
    parser.add_argument("--rows", type=int, default=110)
    parser.add_argument("--big-rows", type=int, default=20_000)
    parser.add_argument("--big-batch", type=int, default=256)
    parser.add_argument("--big-epochs", type=int, default=3)
    parser.add_argument("--users", type=int, default=300, help="users of the batched runs")
    parser.add_argument("--batched-epochs", type=int, default=10)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)

    quiet_tensorflow()
    from recsys_utils import timing

    info = device_info()
    gpu = not info["device"].startswith("CPU only")
    print(
        f"device: {info['device']}; {info['cpu_cores']} CPU cores; "
        f"TensorFlow {info['tensorflow']}, Keras {info['keras']}; {platform.platform()}",
        flush=True,
    )
    models = tuple(timing.KERAS_TIMED)
    start = time.perf_counter()
    small = timing.keras_epoch_times(
        models, n_rows=args.rows, batch_size=10, epochs=args.epochs, rounds=args.rounds
    )
    big = timing.keras_epoch_times(
        models,
        n_rows=args.big_rows,
        batch_size=args.big_batch,
        epochs=max(args.big_epochs, 2),
        rounds=args.rounds,
    )
    batched = timing.batched_epoch_times(
        n_users=args.users, n_rows=args.rows, epochs=args.batched_epochs, rounds=args.rounds
    )
    report = timing.batched_step_times(
        n_users=args.users,
        n_rows=args.rows,
        schedule=timing.StepSchedule(epochs=args.batched_epochs, rounds=args.rounds),
    )
    where = "GPU" if gpu else "CPU"
    parts = [
        f"[1] Keras on {where}, {args.rows} rows in batches of 10 (one user), ms per epoch, "
        f"{args.rounds} interleaved rounds:",
        timing.summarize_epoch_times(small).round(3).to_string(),
        f"[2] Keras on {where}, {args.big_rows} rows in batches of {args.big_batch}, ms per epoch:",
        timing.summarize_epoch_times(big).round(3).to_string(),
        f"[3] batched trainer (CPU, {info['cpu_cores']} cores), {args.users} users of "
        f"{args.rows} rows, us per user-epoch:",
        timing.summarize_epoch_times(batched, "user_epoch_s", 1e6, "us").round(3).to_string(),
        f"[4] batched trainer, the report's two recommenders, {args.users} users of "
        f"{args.rows} rows, us per user-step (ratio: LSTM(100) over modified(18)):",
        timing.summarize_epoch_times(report, "user_step_s", 1e6, "us").round(3).to_string(),
    ]
    if gpu:
        parts.append(
            "On this GPU, lstm-cudnn and gru-cudnn may use cuDNN's fused kernels; the "
            "report's activations keep every other recurrent model on Keras' loop."
        )
    else:
        parts.append("No GPU: every recurrent model runs Keras' generic step loop on the CPU.")
    summary = "\n".join(parts)
    print(summary)
    print(f"total {time.perf_counter() - start:.0f} s")
    out = {
        "device": info["device"],
        "gpu": gpu,
        "info": info,
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "json"},
        "keras_small": small.to_dict(orient="records"),
        "keras_big": big.to_dict(orient="records"),
        "batched": batched.to_dict(orient="records"),
        "report_networks": report.to_dict(orient="records"),
        "summary": summary,
    }
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.json.with_suffix(".tmp")
        tmp.write_text(json.dumps(out, indent=1))
        tmp.replace(args.json)
    return out


if __name__ == "__main__":
    main()
