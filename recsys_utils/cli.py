"""Command line: ``python -m recsys_utils data|train|recommend`` (also ``recsys-utils``).

Examples::

    python -m recsys_utils data --dataset ml-1m --user 1
    python -m recsys_utils train --model modified-lstm --user 1 --protocol report --seed 0
    python -m recsys_utils recommend --model rbm --user 1 --top 10

The data folder comes from ``--data-dir``, else ``RECSYS_DATA_DIR``, else the cache, else
the official archive is downloaded and verified.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import Sequence

from recsys_utils.evaluation import PROTOCOLS, ClassificationResult
from recsys_utils.features import REPORT_TRAIN_FRACTION
from recsys_utils.recommenders import MODEL_NAMES



def _quiet_tensorflow(command: str) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if command != "data":  # training may import TensorFlow: keep its start-up noise out
        from recsys_utils.environment import quiet_tensorflow

        quiet_tensorflow()


def _load(args: argparse.Namespace):
    from recsys_utils.data import load_movielens

    return load_movielens(args.dataset, data_dir=args.data_dir, download=not args.no_download)


def data_summary(data, user_id: int, train_fraction: float = REPORT_TRAIN_FRACTION) -> dict:
    """The counts that ``data`` prints: the dataset's, then the user's and their report split."""
    from recsys_utils.features import user_dataset

    ds = user_dataset(data, user_id)
    split = ds.report_split(train_fraction)
    return {
        "dataset": data.name,
        "ratings": int(len(data.ratings)),
        "users": int(len(data.users)),
        "movies": int(len(data.movies)),
        "rated_movies": int(data.ratings["movie_id"].nunique()),
        "user": {
            "user_id": int(user_id),
            "rows": len(ds),
            "likes": ds.n_likes,
            "like_threshold": ds.like_threshold,
            "attributes": len(ds.attributes),
            "report_split": {
                "train_fraction": train_fraction,
                "train_rows": int(len(split.train)),
                "train_likes": int(ds.y[split.train].sum()),
                "test_rows": int(len(split.test)),
                "test_likes": int(ds.y[split.test].sum()),
            },
        },
    }


def _print_data(summary: dict) -> None:
    u, s = summary["user"], summary["user"]["report_split"]
    print(f"{summary['dataset']}: {summary['ratings']:,} ratings, {summary['users']:,} users, "
          f"{summary['movies']:,} movies ({summary['rated_movies']:,} rated)")
    print(f"user {u['user_id']}: {u['rows']} rows x {u['attributes']} genre attributes, "
          f"{u['likes']} likes (rating >= {u['like_threshold']})")
    print(f"report split (first {s['train_fraction']:.0%} of rows in file order): "
          f"train {s['train_rows']} rows ({s['train_likes']} likes), "
          f"test {s['test_rows']} rows ({s['test_likes']} likes)")


def _fmt(x: float | None, pct: bool = True) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{100 * x:.2f} %" if pct else f"{x:.3f}"


def _print_result(r: ClassificationResult) -> None:
    print(f"model {r.model}, user {r.user_id}, protocol {r.protocol}, seed {r.seed}")
    print(f"rows scored: {r.rows}; {r.n_likes} of {r.n_rows} liked")
    print(f"accuracy           {_fmt(r.accuracy)}")
    print(f"majority baseline  {_fmt(r.majority_accuracy)}  (the training rows' majority label, same rows)")
    print(f"balanced accuracy  {_fmt(r.balanced_accuracy)}")
    print(f"ROC AUC            {_fmt(r.roc_auc, pct=False)}"
          + ("  (undefined: one class only)" if math.isnan(r.roc_auc) else ""))
    print(f"predicted likes    {_fmt(r.predicted_like_share)} of rows (threshold {r.threshold:g})")
    if r.fit_time_s is not None:
        per_epoch = (f", {r.time_per_epoch_s:.3f} s per epoch over {r.epochs} epochs"
                     if r.time_per_epoch_s else "")
        print(f"training time      {r.fit_time_s:.1f} s{per_epoch}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="recsys_utils", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--dataset", default="ml-1m", choices=("ml-1m", "ml-100k"))
        p.add_argument("--data-dir", default=None,
                       help="folder holding ml-1m/ (default: RECSYS_DATA_DIR, the cache, or download)")
        p.add_argument("--no-download", action="store_true", help="fail instead of downloading")
        p.add_argument("--user", type=int, default=1, help="user id (default 1, the report's)")
        p.add_argument("--json", action="store_true", help="print one JSON object")

    p_data = sub.add_parser("data", help="dataset counts and one user's rows and report split")
    common(p_data)
    p_data.add_argument("--train-fraction", type=float, default=REPORT_TRAIN_FRACTION)

    for name, help_ in (("train", "train a model for one user and print its metrics"),
                        ("recommend", "train a model for one user and print its top-N table")):
        p = sub.add_parser(name, help=help_)
        common(p)
        p.add_argument("--model", required=True, choices=MODEL_NAMES)
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--epochs", type=int, default=None, help="default: the report's")
        p.add_argument("--split", default="ordered", choices=("ordered", "random"),
                       help="ordered: the report's first-rows split; random: seeded, order-free")
        p.add_argument("--train-fraction", type=float, default=REPORT_TRAIN_FRACTION)
        p.add_argument("--verbose", type=int, default=0)
        if name == "train":
            p.add_argument("--protocol", default="report", choices=PROTOCOLS)
        else:
            p.add_argument("--top", type=int, default=10)

    args = parser.parse_args(argv)
    _quiet_tensorflow(args.command)
    from recsys_utils.data import DataUnavailableError, MovieLensFormatError

    try:
        data = _load(args)
        if args.command == "data":
            summary = data_summary(data, args.user, args.train_fraction)
            print(json.dumps(summary)) if args.json else _print_data(summary)
            return 0
        from recsys_utils.evaluation import evaluate_user

        protocol = getattr(args, "protocol", "held-out")
        results, rec = evaluate_user(args.model, data, args.user, protocols=(protocol,),
                                     split=args.split, train_fraction=args.train_fraction,
                                     seed=args.seed, epochs=args.epochs, verbose=args.verbose)
        if args.command == "train":
            result = results[protocol]
            print(json.dumps(result.to_dict())) if args.json else _print_result(result)
            return 0
        table = rec.recommend(args.top)
        if args.json:
            print(table.to_json(orient="records"))
        else:
            import pandas as pd

            with pd.option_context("display.max_colwidth", 60, "display.width", 160):
                print(f"top {args.top} unseen movies for user {args.user} by {args.model} "
                      f"(seed {args.seed}; 'tied' = candidates sharing that score)")
                print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
        return 0
    except (DataUnavailableError, MovieLensFormatError, KeyError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
