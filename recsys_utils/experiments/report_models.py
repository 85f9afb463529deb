"""The report's two recommenders, each as the report configured it, on many users: a run too
large for the book's cold execution, done once by a script and committed as derived numbers.

The report compares its *LSTM recommender* (Keras' LSTM with 100 units, sigmoid activations,
no dropout, sigmoid output) with its *modified recommender* (the f = 0 cell with 18 units, two
Dropout(0.5), tanh candidate, Keras 2 hard-sigmoid output) on user 1 only. Both are trained
here by the multi-user trainer (:mod:`recsys_utils.batched`: ``REPORT_LSTM`` and
``REPORT_MODIFIED``, each equal to one-user Keras training within float32 round-off, tested in
``tests/test_batched.py``) on every user of a sample and several seeds, under the protocol of
:mod:`recsys_utils.population` (rows sorted by movie id, the stratified 65/35 split, held-out
metrics). The LSTM(100) costs about nine times the modified network per step, so all users and
seeds take hours on two CPU cores: ``scripts/run_report_models.py`` runs it and writes one JSON
file of **derived numbers only** (per user, seed and model: row counts, the held-out like rate
and the held-out metrics; never a rating) with its provenance (command, commit, date, machine,
package version, data fingerprint, timings). Chapter 05 reads that file; a test recomputes a
random subset of its users from scratch and compares.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recsys_utils import __version__, report
from recsys_utils.batched.config import REPORT_LSTM, REPORT_MODIFIED
from recsys_utils.population import PopulationSpec, run_population

if TYPE_CHECKING:  # pragma: no cover
    from recsys_utils.data import MovieLens

__all__ = [
    "REPORT_MODEL_SPECS",
    "REPORT_MODEL_COLUMNS",
    "report_model_rows",
    "write_report_models",
    "read_report_models",
    "merge_report_models",
    "provenance_parts",
    "report_models_for",
    "run_trainer",
]

#: The committed file chapter 05 reads (:func:`recsys_utils.experiments.committed.committed_result`).
REPORT_MODELS_FILE = "report_models.json"

#: The report's LSTM recommender as settings of the batched trainer: the fields in which
#: ``recsys_utils.batched.REPORT_LSTM`` differs from ``REPORT_MODIFIED`` (the population run's
#: default network), the cell aside (the population run's ``"lstm"`` model sets it). Plain
#: data, so that it can be stored.
REPORT_LSTM_SETTINGS: dict[str, Any] = {
    f.name: getattr(REPORT_LSTM, f.name)
    for f in fields(REPORT_LSTM)
    if f.name != "cell" and getattr(REPORT_LSTM, f.name) != getattr(REPORT_MODIFIED, f.name)
}

#: How each model of the file is trained, by its name in the file: the report's modified
#: recommender (the population run's ``"modified"`` model *is* ``REPORT_MODIFIED``), its LSTM
#: recommender, and the majority class of each user's training rows.
REPORT_MODEL_SPECS: dict[str, tuple[str, dict[str, Any]]] = {
    "report-modified": ("modified", {}),
    "report-lstm": ("lstm", REPORT_LSTM_SETTINGS),
    "majority": ("majority", {}),
}

#: The per-row columns of the file (derived numbers only).
REPORT_MODEL_COLUMNS: tuple[str, ...] = (
    "user_id",
    "seed",
    "model",
    "n_train",
    "n_test",
    "test_like_rate",
    "accuracy",
    "balanced_accuracy",
    "roc_auc",
    "predicted_like_share",
)

#: The file's format version (a reader refuses another).
FORMAT = 1


def _in_file_order(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` sorted by model (in :data:`REPORT_MODEL_SPECS` order), seed and user."""
    order = {name: i for i, name in enumerate(REPORT_MODEL_SPECS)}
    return rows.sort_values(
        ["model", "seed", "user_id"], key=lambda c: c.map(order) if c.name == "model" else c
    ).reset_index(drop=True)


def report_model_rows(
    data: MovieLens,
    user_ids: Sequence[int] | np.ndarray,
    seeds: Sequence[int],
    *,
    epochs: int = report.SEQUENCE_EPOCHS,
    progress: bool = False,
    trainer: str | None = None,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Train the models of :data:`REPORT_MODEL_SPECS` for ``user_ids`` and ``seeds``.

    ``trainer``: the multi-user trainer, ``"numba"`` or ``"tf"`` (default: the one that suits
    ``RECSYS_DEVICE``, see :class:`~recsys_utils.population.PopulationSpec`); a file records
    it, as the two draw different random numbers.

    Returns:
        ``(rows, seconds)``: one row per (user, seed, model) with :data:`REPORT_MODEL_COLUMNS`,
        sorted by model, seed and user; and the training seconds of each model (all seeds).
    """
    tables, seconds = [], {}
    for name, (model, settings) in REPORT_MODEL_SPECS.items():
        spec = PopulationSpec(
            models=(model,),
            seeds=tuple(int(s) for s in seeds),
            epochs=epochs,
            train_kw=settings,
            trainer=trainer,
        )
        run = run_population(data, user_ids, spec, progress=progress)
        tables.append(run.table.assign(model=name))
        seconds[name] = float(run.timings["train_time_s"].sum())
    return _in_file_order(pd.concat(tables, ignore_index=True)[list(REPORT_MODEL_COLUMNS)]), seconds


def _plain(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        return _plain(value.item())
    return value


def write_report_models(path: str | Path, rows: pd.DataFrame, provenance: dict[str, Any]) -> Path:
    """Write ``rows`` (:func:`report_model_rows`) and ``provenance`` as one strict-JSON file,
    atomically (a temporary file renamed into place). ``NaN`` is written as ``null``."""
    missing = [c for c in REPORT_MODEL_COLUMNS if c not in rows.columns]
    if missing:
        raise ValueError(f"rows lack the columns {missing}")
    path = Path(path)
    body = {
        "format": FORMAT,
        "provenance": {
            "written": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "package_version": __version__,
            **provenance,
        },
        "columns": list(REPORT_MODEL_COLUMNS),
        "rows": [
            [_plain(v) for v in row] for row in rows[list(REPORT_MODEL_COLUMNS)].itertuples(index=False)
        ],
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(body, allow_nan=False, separators=(",", ":")) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def read_report_models(path: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The rows and provenance of a file written by :func:`write_report_models`.

    Raises:
        ValueError: naming the file when it is not such a file (format, columns, duplicates).
    """
    path = Path(path)
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not JSON ({err})") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise ValueError(f"{path}: not a report-models file of format {FORMAT}")
    if body.get("columns") != list(REPORT_MODEL_COLUMNS):
        raise ValueError(f"{path}: columns {body.get('columns')} differ from {list(REPORT_MODEL_COLUMNS)}")
    rows = pd.DataFrame(body["rows"], columns=body["columns"])
    for column in ("test_like_rate", "accuracy", "balanced_accuracy", "roc_auc", "predicted_like_share"):
        rows[column] = rows[column].astype(float)
    if rows.duplicated(["user_id", "seed", "model"]).any():
        raise ValueError(f"{path}: a (user, seed, model) appears twice")
    unknown = sorted(set(rows["model"]) - set(REPORT_MODEL_SPECS))
    if unknown:
        raise ValueError(f"{path}: unknown models {unknown}")
    return rows, body["provenance"]


def _covers(
    rows: pd.DataFrame, provenance: dict[str, Any], data: MovieLens, users, seeds, epochs: int
) -> bool:
    from recsys_utils.experiments.fingerprint import data_fingerprint

    if provenance.get("epochs") != int(epochs) or not set(int(s) for s in seeds) <= set(
        provenance.get("seeds", [])
    ):
        return False
    if not set(int(u) for u in users) <= set(rows["user_id"].astype(int)):
        return False
    return provenance.get("data_fingerprint") == data_fingerprint(data)


#: What the runs joined by :func:`merge_report_models` must share.
SHARED_PROVENANCE: tuple[str, ...] = ("dataset", "data_fingerprint", "users", "sample_seed", "epochs")


def provenance_parts(provenance: dict[str, Any]) -> list[dict[str, Any]]:
    """The runs a file's rows come from: its ``parts`` when it joins several
    (:func:`merge_report_models`), else the file's own provenance."""
    return list(provenance.get("parts") or [provenance])


def merge_report_models(
    parts: Sequence[tuple[pd.DataFrame, dict[str, Any]]],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Join runs of the same users made separately (for example more seeds, run later) into one
    file's rows and provenance.

    Args:
        parts: ``(rows, provenance)`` of each run (:func:`read_report_models`); a part that is
            itself a join contributes its own parts.

    Returns:
        The rows of every part (sorted as :func:`report_model_rows` sorts them) and a provenance
        with the fields the runs share (:data:`SHARED_PROVENANCE`), ``seeds`` (all of them) and
        ``parts`` (each run's own provenance: command, commit, device, date, timings).

    Raises:
        ValueError: when the runs differ in a shared field or in their users, or share a seed.
    """
    if not parts:
        raise ValueError("nothing to merge")
    runs = [run for _, provenance in parts for run in provenance_parts(provenance)]
    first = parts[0][1]
    for _, provenance in parts[1:]:
        for key in SHARED_PROVENANCE:
            if provenance.get(key) != first.get(key):
                raise ValueError(
                    f"the runs differ in {key!r}: {first.get(key)!r} and {provenance.get(key)!r}"
                )
    users = set(parts[0][0]["user_id"].astype(int))
    seen: set[int] = set()
    for rows, _ in parts:
        if set(rows["user_id"].astype(int)) != users:
            raise ValueError("the runs hold different users: they are not one sample")
        seeds = set(rows["seed"].astype(int))
        if seeds & seen:
            raise ValueError(f"seeds {sorted(seeds & seen)} appear in more than one run")
        seen |= seeds
    rows = _in_file_order(pd.concat([r for r, _ in parts], ignore_index=True))
    provenance = {key: first.get(key) for key in SHARED_PROVENANCE}
    provenance["seeds"] = sorted(seen)
    provenance["parts"] = runs
    return rows, provenance


def run_trainer(run: dict[str, Any]) -> str:
    """The multi-user trainer of one run of a file (:func:`provenance_parts`): its recorded
    ``trainer``, else ``"numba"`` (the only trainer before the field was recorded)."""
    return str(run.get("trainer") or "numba")


def _describe_run(run: dict[str, Any]) -> str:
    device = run.get("device") or {}
    seconds = run.get("train_seconds") or {}
    times = ", ".join(f"{name} {sec:.0f} s" for name, sec in seconds.items() if sec >= 1)
    return (
        f"seeds {run.get('seeds')} run by `{run.get('command')}` at commit {str(run.get('commit'))[:12]} "
        f"(package {run.get('package_version')}; {run_trainer(run)} trainer) on "
        f"{device.get('device', 'an unrecorded device')} with "
        f"{run.get('threads')} thread{'' if run.get('threads') == 1 else 's'}, {str(run.get('written', ''))[:10]}; "
        f"training time {times or 'not recorded'}"
    )


def describe_provenance(provenance: dict[str, Any], source: str) -> str:
    """One paragraph: where the rows come from, what was run, on what and when (each run, when
    the file joins several)."""
    runs = provenance_parts(provenance)
    made = "; ".join(_describe_run(run) for run in runs)
    if len(runs) > 1:
        made = f"made in {len(runs)} runs: {made}"
    return (
        f"{source}: {provenance.get('users')} users (sample seed {provenance.get('sample_seed')}), seeds "
        f"{provenance.get('seeds')}, {provenance.get('epochs')} epochs; {made}"
    )


def report_models_for(
    data: MovieLens,
    user_ids: Sequence[int] | np.ndarray,
    seeds: Sequence[int],
    epochs: int = report.SEQUENCE_EPOCHS,
) -> tuple[pd.DataFrame, str]:
    """The rows of :data:`REPORT_MODEL_SPECS` for ``user_ids`` and ``seeds``: read from the
    committed file when it covers them (same data fingerprint, epochs, seeds and users), else
    trained here (:func:`report_model_rows`; hours for many users on a CPU).

    Returns:
        ``(rows, where)``: the rows of the asked users and seeds, and a paragraph saying where
        they come from (:func:`describe_provenance`).
    """
    from recsys_utils.errors import DataMissingError
    from recsys_utils.experiments.committed import committed_result

    try:
        rows, provenance = read_report_models(committed_result(REPORT_MODELS_FILE))
    except DataMissingError:
        rows, provenance = None, {}
    if rows is not None and _covers(rows, provenance, data, user_ids, seeds, epochs):
        wanted = rows["user_id"].isin([int(u) for u in user_ids]) & rows["seed"].isin([int(s) for s in seeds])
        return rows[wanted].reset_index(drop=True), describe_provenance(
            provenance, f"read from the committed {REPORT_MODELS_FILE}"
        )
    rows, seconds = report_model_rows(data, user_ids, seeds, epochs=epochs)
    provenance = {
        "users": len(user_ids),
        "sample_seed": "-",
        "seeds": [int(s) for s in seeds],
        "epochs": int(epochs),
        "command": "report_models_for (in this process)",
        "package_version": __version__,
        "train_seconds": seconds,
    }
    return rows, describe_provenance(provenance, f"trained here ({REPORT_MODELS_FILE} does not cover them)")
