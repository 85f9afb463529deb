"""Command line: ``python -m recsys_utils data|train|recommend|store`` (also ``recsys-utils``).

Examples::

    python -m recsys_utils data --dataset ml-1m --user 1
    python -m recsys_utils train --model modified-lstm --user 1 --protocol report --seed 0
    python -m recsys_utils train --model rbm --user 1 --epochs 3 --json   # with its history
    python -m recsys_utils train --model lstm --user 1 --device cpu       # or gpu, auto
    python -m recsys_utils recommend --model rbm --user 1 --top 10
    python -m recsys_utils store list          # the experiment store's entries
    python -m recsys_utils store clear --stale # remove entries this code would not use

``--model`` takes a model's name or any of its aliases (:mod:`recsys_utils.recommenders.registry`).
``train --json`` prints the result and the model's per-epoch ``history`` (loss and accuracy for
the Keras classifiers, the reconstruction error for the RBM, the train and test errors for the
autoencoder); ``recommend --json`` prints the list with titles, genres and scores.

``train --device auto|cpu|gpu`` (default: ``RECSYS_DEVICE``, else ``auto``) places the Keras
models on that device (``tf.device``) and sets ``RECSYS_DEVICE`` for the run, so that a
multi-user trainer chosen by :func:`recsys_utils.device.multi_user_trainer` follows it;
``gpu`` without a GPU is an error (exit code 5). The device used is printed (``--json``: the
``device`` and ``device_name`` fields).

The data folder comes from ``--data-dir``, else ``RECSYS_DATA_DIR``, else the cache, else
the official archive is downloaded and verified. A ``--data-dir`` or ``RECSYS_DATA_DIR``
that is missing or incomplete is an error, never a fallback to another copy.

Every argument is checked before anything is loaded (and, where the check needs the data,
before anything is trained). An error ends the command with one line on stderr and the exit
code of its family (:mod:`recsys_utils.errors`; the README lists them): 2 bad argument,
3 data missing, 4 data damaged, 5 environment refused (read-only folder, full disk, missing
permission), 1 unexpected (a bug), 130 interrupted. ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn

from recsys_utils.data.genres import GENRES_BY_DATASET, ML1M_GENRES, REPORT_GENRES
from recsys_utils.data.registry import DATASETS
from recsys_utils.device import DEVICE_CHOICES, DEVICE_ENV, Device, device_scope, resolve_device
from recsys_utils.errors import (
    EXIT_BAD_ARGUMENT,
    EXIT_INTERRUPTED,
    EXIT_UNEXPECTED,
    BadArgumentError,
    check_fraction,
    check_int,
    exit_code_for,
)
from recsys_utils.evaluation import PROTOCOLS, ClassificationResult
from recsys_utils.evaluation.protocols import MAX_SEED, MAX_VERBOSE
from recsys_utils.features import REPORT_TRAIN_FRACTION
from recsys_utils.recommenders import MODEL_NAMES
from recsys_utils.recommenders.registry import resolve as resolve_model

DATASET_NAMES: tuple[str, ...] = tuple(DATASETS)


def _quiet_tensorflow(command: str) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if command != "data":  # training may import TensorFlow: keep its start-up noise out
        from recsys_utils.environment import quiet_tensorflow

        quiet_tensorflow()


def _load(args: argparse.Namespace):
    from recsys_utils.data import load_movielens

    return load_movielens(args.dataset, data_dir=args.data_dir, download=not args.no_download)


def data_summary(data, user_id: int, train_fraction: float = REPORT_TRAIN_FRACTION) -> dict:
    """The counts that ``data`` prints: the dataset's, then the user's and their report split.

    Raises:
        BadArgumentError: ``train_fraction`` not strictly between 0 and 1.
        UnknownUserError: ``user_id`` not a user of ``data`` with ratings.
    """
    from recsys_utils.features import user_dataset

    train_fraction = check_fraction("train_fraction", train_fraction)
    user_id = data.require_user(user_id)
    vocabulary = GENRES_BY_DATASET[data.name]
    # ML-1M and ML-100K: the report's attribute order; later releases: their own genres
    ds = user_dataset(data, user_id, genres=REPORT_GENRES if vocabulary == ML1M_GENRES else vocabulary)
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
    print(
        f"{summary['dataset']}: {summary['ratings']:,} ratings, {summary['users']:,} users, "
        f"{summary['movies']:,} movies ({summary['rated_movies']:,} rated)"
    )
    print(
        f"user {u['user_id']}: {u['rows']} rows x {u['attributes']} genre attributes, "
        f"{u['likes']} likes (rating >= {u['like_threshold']})"
    )
    print(
        f"report split (first {s['train_fraction']:.0%} of rows in file order): "
        f"train {s['train_rows']} rows ({s['train_likes']} likes), "
        f"test {s['test_rows']} rows ({s['test_likes']} likes)"
    )


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
    print(
        f"ROC AUC            {_fmt(r.roc_auc, pct=False)}"
        + ("  (undefined: one class only)" if math.isnan(r.roc_auc) else "")
    )
    print(f"predicted likes    {_fmt(r.predicted_like_share)} of rows (threshold {r.threshold:g})")
    if r.fit_time_s is not None:
        per_epoch = (
            f", {r.time_per_epoch_s:.3f} s per epoch over {r.epochs} epochs" if r.time_per_epoch_s else ""
        )
        print(f"training time      {r.fit_time_s:.1f} s{per_epoch}")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (exit code 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_ARGUMENT, f"error: {message} (see '{self.prog} --help')\n")


def _model_name(name: str) -> str:
    """``--model``'s type: the registered name of a model name or alias."""
    try:
        return resolve_model(name).name
    except (KeyError, ValueError):
        raise argparse.ArgumentTypeError(
            f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)} (or an alias)"
        ) from None


def _json_value(x: Any) -> Any:
    """``x`` with NaN and infinities as ``None`` (strict JSON), recursively."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {str(k): _json_value(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_value(v) for v in x]
    return x


def _store_command(args: argparse.Namespace) -> int:
    from recsys_utils.experiments import Store, clear_store, list_store

    store = Store(args.store_dir) if args.store_dir else None
    if args.action == "list":
        print(list_store(store, args.experiment, as_json=args.json))
    else:
        print(clear_store(store, args.experiment, stale_only=args.stale))
    return 0


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="recsys_utils", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--dataset", default="ml-1m", choices=DATASET_NAMES)
        p.add_argument(
            "--data-dir",
            default=None,
            help="folder holding ml-1m/ (or the dataset named by --dataset; default: "
            "RECSYS_DATA_DIR, the cache, or download)",
        )
        p.add_argument("--no-download", action="store_true", help="fail instead of downloading")
        p.add_argument("--user", type=int, default=1, help="user id (default 1, the report's)")
        p.add_argument("--json", action="store_true", help="print one JSON object")
        p.add_argument(
            "--train-fraction",
            type=float,
            default=REPORT_TRAIN_FRACTION,
            help="share of the user's rows that train, strictly between 0 and 1",
        )
        p.add_argument(
            "--debug", action="store_true", help="on an error, show the traceback instead of one line"
        )

    p_data = sub.add_parser("data", help="dataset counts and one user's rows and report split")
    common(p_data)

    for name, help_ in (
        ("train", "train a model for one user and print its metrics"),
        ("recommend", "train a model for one user and print its top-N table"),
    ):
        p = sub.add_parser(name, help=help_)
        common(p)
        p.add_argument(
            "--model", required=True, type=_model_name, help=f"one of {', '.join(MODEL_NAMES)} (or an alias)"
        )
        p.add_argument("--seed", type=int, default=0, help=f"0 to {MAX_SEED}")
        p.add_argument("--epochs", type=int, default=None, help="1 or more (default: the report's)")
        p.add_argument(
            "--split",
            default="ordered",
            choices=("ordered", "random", "stratified"),
            help="ordered: the report's first-rows split; random: seeded, order-free",
        )
        p.add_argument("--verbose", type=int, default=0, help=f"0 to {MAX_VERBOSE}")
        if name == "train":
            p.add_argument("--protocol", default="report", choices=PROTOCOLS)
            p.add_argument(
                "--device",
                default=None,
                choices=DEVICE_CHOICES,
                help=f"where to train (default: ${DEVICE_ENV}, else auto: the GPU if TensorFlow sees one)",
            )
        else:
            p.add_argument("--top", type=int, default=10, help="1 or more")

    p_store = sub.add_parser("store", help="list or clear the experiment store (cached results)")
    p_store.add_argument("action", choices=("list", "clear"))
    p_store.add_argument("--experiment", default=None, help="only this experiment's entries")
    p_store.add_argument(
        "--stale", action="store_true", help="clear: only entries this version of the code would not use"
    )
    p_store.add_argument(
        "--store-dir", default=None, help="the store's folder (default: RECSYS_STORE_DIR, else the cache)"
    )
    p_store.add_argument("--json", action="store_true", help="list: one JSON object")
    p_store.add_argument(
        "--debug", action="store_true", help="on an error, show the traceback instead of one line"
    )
    return parser


def validate_args(args: argparse.Namespace) -> None:
    """Check every argument that needs no data (before anything is loaded).

    Raises:
        BadArgumentError: naming the argument and its allowed range.
    """
    check_int("--user", args.user, low=1)
    check_fraction("--train-fraction", args.train_fraction)
    if args.command == "data":
        return
    check_int("--seed", args.seed, low=0, high=MAX_SEED)
    if args.epochs is not None:
        check_int("--epochs", args.epochs, low=1)
    check_int("--verbose", args.verbose, low=0, high=MAX_VERBOSE)
    if args.command == "recommend":
        check_int("--top", args.top, low=1)


def validate_against_data(args: argparse.Namespace, data: Any) -> None:
    """Check the arguments that need the data (after loading, before any training).

    Raises:
        UnknownUserError: ``--user`` is not a user with ratings.
        BadArgumentError: ``--train-fraction`` leaves the user no training row, or ``--top``
            exceeds the movies the user has not rated.
    """
    user = data.require_user(args.user, "--user")
    if args.command == "data":
        return
    rated = data.ratings.loc[data.ratings["user_id"] == user, "movie_id"]
    n_rows = len(rated)
    if int(n_rows * args.train_fraction) < 1:
        raise BadArgumentError(
            "--train-fraction",
            args.train_fraction,
            f"leaves none of user {user}'s {n_rows} rows for training: expected a number "
            f"from {1 / n_rows:.4g} up to (not including) 1 for this user",
        )
    if args.command == "recommend":
        n_candidates = int((~data.movies["movie_id"].isin(rated)).sum())
        check_int("--top", args.top, low=1, high=n_candidates)


def _one_line(error: BaseException) -> str:
    if isinstance(error, KeyError) and len(error.args) == 1 and isinstance(error.args[0], str):
        text = error.args[0] if type(error) is KeyError else str(error)
    else:
        text = str(error) or type(error).__name__
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


@contextmanager
def _warnings_as_lines() -> Iterator[None]:
    """Show warnings as one ``warning: ...`` line each on stderr."""

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: Any = None,
        line: str | None = None,
    ) -> None:
        print(f"warning: {_one_line(Exception(str(message)))}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


@contextmanager
def _on_device(device: Device | None) -> Iterator[None]:
    """Run the block on ``device`` (``tf.device``, and ``RECSYS_DEVICE`` set to its kind, put
    back afterwards); nothing when ``device`` is ``None``."""
    if device is None:
        yield
        return
    saved = os.environ.get(DEVICE_ENV)
    os.environ[DEVICE_ENV] = device.kind
    try:
        with device_scope(device):
            yield
    finally:
        if saved is None:
            os.environ.pop(DEVICE_ENV, None)
        else:
            os.environ[DEVICE_ENV] = saved


def _run(args: argparse.Namespace) -> int:
    if args.command == "store":
        return _store_command(args)
    validate_args(args)
    # before the data is loaded: a GPU asked for and missing is an error
    device = resolve_device(args.device, argument="--device") if args.command == "train" else None
    data = _load(args)
    validate_against_data(args, data)
    if args.command == "data":
        summary = data_summary(data, args.user, args.train_fraction)
        print(json.dumps(summary)) if args.json else _print_data(summary)
        return 0
    from recsys_utils.evaluation import EvaluationSettings, evaluate_user

    protocol = getattr(args, "protocol", "held-out")
    settings = EvaluationSettings(
        protocols=(protocol,),
        split=args.split,
        train_fraction=args.train_fraction,
        seed=args.seed,
        epochs=args.epochs,
        verbose=args.verbose,
    )
    with _on_device(device):
        results, rec = evaluate_user(args.model, data, args.user, settings)
    if args.command == "train":
        result = results[protocol]
        history = {k: [float(v) for v in vs] for k, vs in (getattr(rec, "history", None) or {}).items()}
        where = {"device": device.kind, "device_name": device.name}
        if args.json:
            print(json.dumps(_json_value({**result.to_dict(), **where, "history": history})))
        else:
            _print_result(result)
            print(f"device             {device.kind} ({device.name})")
            for key, values in history.items():
                shown = ", ".join(f"{v:.4g}" for v in values[-3:])
                print(f"history {key:<22s}{len(values)} epochs, last: {shown}")
        return 0
    table = rec.recommend(args.top)
    if args.json:
        print(table.to_json(orient="records"))
    else:
        import pandas as pd

        with pd.option_context("display.max_colwidth", 60, "display.width", 160):
            print(
                f"top {args.top} unseen movies for user {args.user} by {args.model} "
                f"(seed {args.seed}; 'tied' = candidates sharing that score)"
            )
            print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return its exit code (see the module docstring)."""
    try:
        args = _build_parser().parse_args(argv)
    except SystemExit as exit_:  # --help, or a one-line usage error
        return int(exit_.code or 0) if not isinstance(exit_.code, str) else EXIT_BAD_ARGUMENT
    _quiet_tensorflow(args.command)
    try:
        with _warnings_as_lines():
            return _run(args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("error: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:  # one line and a documented code, whatever the error
        if args.debug:
            raise
        code = exit_code_for(err)
        message = _one_line(err)
        if code == EXIT_UNEXPECTED and isinstance(err, (KeyError, ValueError)):
            code = EXIT_BAD_ARGUMENT  # a check of a lower layer that names its argument
        elif code == EXIT_UNEXPECTED:
            message = (
                f"unexpected {type(err).__name__}: {message} (a bug: rerun with --debug "
                "for the traceback and please report it)"
            )
        print(f"error: {message}", file=sys.stderr)
        return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
