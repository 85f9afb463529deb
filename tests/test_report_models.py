"""The report's two recommenders on many users: the committed run and the code that reads it.

- The file format: written atomically, read back equal, bad files refused with the file named.
- ``report_models_for`` reads the committed file only when it covers the asked data, users,
  seeds and epochs, and trains otherwise (synthetic twin).
- The committed run (``benchmarks/results/report_models.json``, real ML-1M): its provenance is
  complete, its users are chapter 05's sample, and a seeded random subset of its users,
  retrained from scratch here, gives the same numbers. Tolerance: row counts, the held-out
  like rate and the majority class exactly (pure arithmetic on the split); a network's
  accuracy within one held-out row (``1 / n_test``), because the kernels are compiled with
  fastmath for the machine's CPU, so a score within a few ulps of 0.5 may fall on the other
  side on another CPU.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from recsys_utils.experiments import report_models as rm
from recsys_utils.experiments.committed import committed_result
from recsys_utils.experiments.fingerprint import data_fingerprint
from recsys_utils.population import sample_users

#: Seed of the random subset of committed users retrained by the slow test.
RECOMPUTE_SEED = 2026
N_RECOMPUTED = 3


@pytest.fixture(scope="module")
def tiny_rows(synthetic_ml1m):
    users = sample_users(synthetic_ml1m, 3, seed=0)
    rows, seconds = rm.report_model_rows(synthetic_ml1m, users, [0], epochs=2)
    return users, rows, seconds


def test_rows_hold_every_model_user_and_seed(tiny_rows):
    users, rows, seconds = tiny_rows
    assert list(rows.columns) == list(rm.REPORT_MODEL_COLUMNS)
    assert len(rows) == len(users) * len(rm.REPORT_MODEL_SPECS)
    assert set(rows["model"]) == set(rm.REPORT_MODEL_SPECS) == set(seconds)
    assert not rows.duplicated(["user_id", "seed", "model"]).any()
    # the same split for every model: the same row counts per user
    assert (rows.groupby("user_id")[["n_train", "n_test"]].nunique() == 1).all().all()


def test_the_lstm_model_is_the_reports_lstm_recommender():
    from recsys_utils.batched import REPORT_LSTM
    from recsys_utils.batched.config import resolve

    # what the population run trains for ("lstm", settings): train_users(cell=..., **settings)
    # on its default network, every field compared (units, activations, dropout, output, ...)
    cell, settings = rm.REPORT_MODEL_SPECS["report-lstm"]
    network, _ = resolve(None, None, {"cell": cell, **settings})
    assert network == REPORT_LSTM
    assert settings["units"] == 100 and settings["dropout"] == 0.0
    assert rm.REPORT_MODEL_SPECS["report-modified"] == ("modified", {})


def test_a_written_file_reads_back_equal(tiny_rows, tmp_path):
    _, rows, _ = tiny_rows
    path = rm.write_report_models(tmp_path / "r.json", rows, {"epochs": 2, "seeds": [0]})
    back, provenance = rm.read_report_models(path)
    pd.testing.assert_frame_equal(back, rows, check_dtype=False)
    assert provenance["epochs"] == 2 and "written" in provenance and "package_version" in provenance
    assert not list(tmp_path.glob("*.tmp"))
    json.loads(path.read_text())  # strict JSON: NaN written as null


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda b: b.update(format=99), "format"),
        (lambda b: b.update(columns=b["columns"][:-1]), "columns"),
        (lambda b: b["rows"].append(list(b["rows"][0])), "twice"),
        (lambda b: b["rows"][0].__setitem__(2, "transformer"), "unknown models"),
    ],
)
def test_a_bad_file_is_refused_with_its_name(tiny_rows, tmp_path, change, match):
    _, rows, _ = tiny_rows
    path = rm.write_report_models(tmp_path / "r.json", rows, {})
    body = json.loads(path.read_text())
    change(body)
    path.write_text(json.dumps(body))
    with pytest.raises(ValueError, match=match) as err:
        rm.read_report_models(path)
    assert "r.json" in str(err.value)


def test_a_file_that_does_not_cover_the_request_is_not_used(synthetic_ml1m, tmp_path, monkeypatch):
    """Chapter 05's smoke run (the synthetic twin) trains instead of reading ML-1M's file."""
    users = sample_users(synthetic_ml1m, 2, seed=1)
    rows, where = rm.report_models_for(synthetic_ml1m, users, [0], epochs=2)
    assert "trained here" in where and set(rows["user_id"]) == set(users)
    # the same request served from a file that covers it
    rm.write_report_models(
        tmp_path / rm.REPORT_MODELS_FILE,
        rows,
        {"epochs": 2, "seeds": [0], "data_fingerprint": data_fingerprint(synthetic_ml1m)},
    )
    monkeypatch.setenv("RECSYS_RESULTS_DIR", str(tmp_path))
    again, where = rm.report_models_for(synthetic_ml1m, users, [0], epochs=2)
    assert "read from the committed" in where
    pd.testing.assert_frame_equal(again, rows, check_dtype=False)
    # other epochs: not covered
    _, where = rm.report_models_for(synthetic_ml1m, users, [0], epochs=1)
    assert "trained here" in where


def test_the_trainer_reaches_every_population_run(synthetic_ml1m, tiny_rows, monkeypatch):
    """``trainer="tf"`` (the GPU path) is what every model's population run is asked to use
    (both trainers are compared on one run in tests/test_population.py); a file says which
    trainer made each run, the Numba one when it does not say."""
    users, rows, _ = tiny_rows
    asked = []

    def recording(data, user_ids, spec, **kw):
        asked.append(spec.trainer)
        return real(data, user_ids, replace(spec, trainer="numba"), **kw)

    real = rm.run_population
    monkeypatch.setattr(rm, "run_population", recording)
    again, _ = rm.report_model_rows(synthetic_ml1m, users, [0], epochs=2, trainer="tf")
    assert asked == ["tf"] * len(rm.REPORT_MODEL_SPECS)
    pd.testing.assert_frame_equal(again, rows)  # the same rows as without the recording
    assert rm.run_trainer({}) == "numba" and rm.run_trainer({"trainer": "tf"}) == "tf"
    assert "tf trainer" in rm.describe_provenance({"trainer": "tf", "seeds": [0]}, "x")


@pytest.fixture(scope="module")
def two_runs(synthetic_ml1m, tiny_rows):
    """Two runs of the same users: seed 0 (``tiny_rows``) and seed 1, each with its provenance."""
    users, rows0, _ = tiny_rows
    rows1, _ = rm.report_model_rows(synthetic_ml1m, users, [1], epochs=2)
    shared = {"dataset": "synthetic", "data_fingerprint": "f", "users": 3, "sample_seed": 0, "epochs": 2}
    return (
        (rows0, {**shared, "seeds": [0], "command": "run a", "commit": "a" * 40}),
        (rows1, {**shared, "seeds": [1], "command": "run b", "commit": "b" * 40}),
    )


def test_runs_of_the_same_users_join_into_one_file(two_runs, tmp_path):
    rows, provenance = rm.merge_report_models(two_runs)
    assert provenance["seeds"] == [0, 1] and len(rows) == len(two_runs[0][0]) + len(two_runs[1][0])
    assert [run["command"] for run in provenance["parts"]] == ["run a", "run b"]
    path = rm.write_report_models(tmp_path / "joined.json", rows, provenance)
    back, back_provenance = rm.read_report_models(path)
    pd.testing.assert_frame_equal(back, rows, check_dtype=False)
    # a joined file joins again (its parts are kept, not nested)
    more = two_runs[1][0].assign(seed=2)
    again, provenance = rm.merge_report_models(
        [(back, back_provenance), (more, {**two_runs[1][1], "seeds": [2]})]
    )
    assert provenance["seeds"] == [0, 1, 2] and len(provenance["parts"]) == 3
    text = rm.describe_provenance(provenance, "joined")
    assert "made in 3 runs" in text and "`run a`" in text and "`run b`" in text


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda rows, prov: (rows, {**prov, "epochs": 3}), "epochs"),
        (lambda rows, prov: (rows, {**prov, "data_fingerprint": "g"}), "data_fingerprint"),
        (lambda rows, prov: (rows.assign(seed=0), prov), r"seeds \[0\]"),
        (lambda rows, prov: (rows[rows["user_id"] != rows["user_id"].iloc[0]], prov), "different users"),
    ],
)
def test_runs_that_are_not_one_sample_are_not_joined(two_runs, change, match):
    with pytest.raises(ValueError, match=match):
        rm.merge_report_models([two_runs[0], change(*two_runs[1])])


# ------------------------------------------------------------------ the committed run
@pytest.fixture(scope="module")
def committed():
    return rm.read_report_models(committed_result(rm.REPORT_MODELS_FILE))


@pytest.mark.realdata
def test_the_committed_run_says_how_where_and_on_what_it_was_made(committed, real_ml1m):
    rows, provenance = committed
    runs = rm.provenance_parts(provenance)  # one run, or the runs the file joins
    for run in runs:
        for key in ("command", "commit", "device", "written", "package_version", "train_seconds", "threads"):
            assert run.get(key), key
        assert len(run["commit"]) == 40 and not run["commit"].endswith("dirty")
        assert set(run["seeds"]) <= set(provenance["seeds"])
    assert sorted(s for run in runs for s in run["seeds"]) == provenance["seeds"]
    assert provenance["data_fingerprint"] == data_fingerprint(real_ml1m)
    users = sample_users(real_ml1m, provenance["users"], seed=provenance["sample_seed"])
    assert set(rows["user_id"]) == set(users.tolist())
    assert sorted(rows["seed"].unique().tolist()) == provenance["seeds"]
    assert len(rows) == len(users) * len(provenance["seeds"]) * len(rm.REPORT_MODEL_SPECS)
    # derived numbers only: no ratings, no movie ids
    assert set(rows.columns) == set(rm.REPORT_MODEL_COLUMNS)


@pytest.mark.realdata
@pytest.mark.slow
def test_a_random_subset_of_the_committed_users_retrains_to_the_same_numbers(committed, real_ml1m):
    rows, provenance = committed
    rng = np.random.default_rng(RECOMPUTE_SEED)
    users = np.sort(rng.choice(np.unique(rows["user_id"]), size=N_RECOMPUTED, replace=False))
    # one seed of each run the file joins (each made by its own command, commit and trainer)
    runs = rm.provenance_parts(provenance)
    seeds = [int(rng.choice(run["seeds"])) for run in runs]
    fresh = pd.concat(
        [
            rm.report_model_rows(
                real_ml1m, users, [seed], epochs=provenance["epochs"], trainer=rm.run_trainer(run)
            )[0]
            for seed, run in zip(seeds, runs)
        ],
        ignore_index=True,
    )
    stored = rows[rows["user_id"].isin(users) & rows["seed"].isin(seeds)]
    merged = stored.merge(fresh, on=["user_id", "seed", "model"], suffixes=("_file", "_now"))
    assert len(merged) == len(stored) == N_RECOMPUTED * len(seeds) * len(rm.REPORT_MODEL_SPECS)
    for _, r in merged.iterrows():
        assert (r["n_train_file"], r["n_test_file"]) == (r["n_train_now"], r["n_test_now"])
        assert r["test_like_rate_file"] == pytest.approx(r["test_like_rate_now"], abs=1e-6)
        tolerance = 1e-12 if r["model"] == "majority" else 1 / r["n_test_now"] + 1e-12
        assert abs(r["accuracy_file"] - r["accuracy_now"]) <= tolerance, (r["user_id"], r["model"])
        if r["model"] == "majority" and not math.isnan(r["roc_auc_now"]):
            assert r["roc_auc_file"] == r["roc_auc_now"] == 0.5
