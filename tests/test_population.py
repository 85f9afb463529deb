"""Many users, several seeds: sampling, splits, the population run, paired statistics."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest

from recsys_utils import population
from recsys_utils.data import MovieLens
from recsys_utils.evaluation import ranking_split
from recsys_utils.features import genre_matrix

matplotlib.use("Agg")


# ------------------------------------------------------------------------ sampling
def test_sample_users_is_fixed_sorted_and_a_subset(synthetic_ml1m: MovieLens):
    all_users = np.sort(synthetic_ml1m.ratings["user_id"].unique())
    a = population.sample_users(synthetic_ml1m, 10, seed=3)
    b = population.sample_users(synthetic_ml1m, 10, seed=3)
    c = population.sample_users(synthetic_ml1m, 10, seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert len(np.unique(a)) == 10 and np.all(np.diff(a) > 0)
    assert np.isin(a, all_users).all()
    np.testing.assert_array_equal(population.sample_users(synthetic_ml1m, None), all_users)
    np.testing.assert_array_equal(population.sample_users(synthetic_ml1m, 10_000), all_users)
    with pytest.raises(ValueError, match="n_users"):
        population.sample_users(synthetic_ml1m, 0)


def test_split_rows_match_the_ranking_split(synthetic_ml1m: MovieLens):
    """One trained network serves both protocols: the same seed gives the same train movies."""
    users = population.sample_users(synthetic_ml1m, 8, seed=0)
    datasets = population.movie_ordered_datasets(synthetic_ml1m, users)
    rows = population.split_rows(datasets, seed=5)
    split = ranking_split(synthetic_ml1m, seed=5)
    flags = genre_matrix(synthetic_ml1m.movies).astype(np.uint8)
    for i, (uid, ds) in enumerate(zip(rows.user_ids, datasets)):
        assert np.all(np.diff(ds.movie_ids) > 0)  # rows sorted by movie id
        train_movies = split.train_movies(uid)
        np.testing.assert_array_equal(rows.X_train[i], flags.loc[train_movies].to_numpy())
        assert len(rows.y_test[i]) == len(split.heldout_movies(uid))
        assert len(rows.y_train[i]) + len(rows.y_test[i]) == len(ds)


def test_held_out_metrics_and_logistic():
    y = np.array([1, 1, 0, 0], np.float32)
    m = population.held_out_metrics(y, np.array([0.9, 0.4, 0.6, 0.1]))
    assert m["accuracy"] == 0.5 and m["balanced_accuracy"] == 0.5
    assert m["roc_auc"] == 0.75 and m["predicted_like_share"] == 0.5
    empty = population.held_out_metrics(np.zeros(0), np.zeros(0))
    assert all(math.isnan(v) for v in empty.values())
    X = np.eye(18, dtype=np.uint8)[[0, 0, 1, 1, 0, 1]]
    constant = population.fit_logistic(X, np.ones(6, np.float32), X[:2])
    np.testing.assert_array_equal(constant, [1.0, 1.0])
    p = population.fit_logistic(X, np.array([1, 1, 0, 0, 1, 0], np.float32), X[[0, 2]])
    assert p[0] > 0.5 > p[1]


# --------------------------------------------------------------------- the run
@pytest.fixture(scope="module")
def small_run(synthetic_ml1m: MovieLens) -> population.PopulationRun:
    users = population.sample_users(synthetic_ml1m, 6, seed=1)
    spec = population.PopulationSpec(models=population.MODELS, seeds=(0, 1), epochs=2)
    return population.run_population(synthetic_ml1m, users, spec, keep_results=True, progress=False)


def test_run_population_table(small_run: population.PopulationRun):
    table = small_run.table
    assert len(table) == 6 * 2 * len(population.MODELS)
    assert set(table["model"]) == set(population.MODELS)
    assert not table.duplicated(["user_id", "seed", "model"]).any()
    majority = table[table["model"] == "majority"]
    both_classes = majority["roc_auc"].notna()
    assert both_classes.any()
    assert (majority.loc[both_classes, ["roc_auc", "balanced_accuracy"]] == 0.5).all().all()
    assert ((table["n_train"] + table["n_test"]) == table["n_ratings"]).all()
    recurrent = small_run.timings[small_run.timings["model"].isin(population.RECURRENT_MODELS)]
    assert (recurrent["user_steps"] > 0).all() and (recurrent["train_time_s"] > 0).all()
    assert set(small_run.results) == {(m, s) for m in population.RECURRENT_MODELS for s in (0, 1)}


def test_run_population_does_not_depend_on_the_other_users(
    synthetic_ml1m: MovieLens, small_run: population.PopulationRun
):
    users = np.sort(small_run.table["user_id"].unique())
    spec = population.PopulationSpec(models=("modified",), seeds=(1,), epochs=2)
    alone = population.run_population(synthetic_ml1m, users[::-1][:2], spec, progress=False)
    together = small_run.table.query("model == 'modified' and seed == 1").set_index("user_id")
    for _, row in alone.table.iterrows():
        ref = together.loc[row["user_id"]]
        for metric in ("accuracy", "balanced_accuracy", "predicted_like_share"):
            assert row[metric] == ref[metric]


def test_run_population_rejects_unknown_models(synthetic_ml1m: MovieLens):
    with pytest.raises(ValueError, match="unknown models"):
        population.run_population(synthetic_ml1m, [1], population.PopulationSpec(models=("transformer",)))
    with pytest.raises(ValueError, match="seeds"):
        population.run_population(synthetic_ml1m, [1], population.PopulationSpec(seeds=()))


def test_genre_scores_tie_movies_with_the_same_flags(
    synthetic_ml1m: MovieLens, small_run: population.PopulationRun
):
    result = small_run.results[("modified", 0)]
    scores = population.GenreScores(result, synthetic_ml1m)
    flags = genre_matrix(synthetic_ml1m.movies).astype(np.uint8)
    movies = flags.index.to_numpy()
    uid = int(result.user_ids[0])
    s = scores(uid, movies)
    direct = result.predict_proba([flags.to_numpy()] + [flags.to_numpy()[:0]] * (len(result.user_ids) - 1))[0]
    np.testing.assert_allclose(s, direct, rtol=0, atol=1e-6)
    key = flags.astype(str).agg("".join, axis=1)
    for _, group in pd.Series(s, index=key.to_numpy()).groupby(level=0):
        assert group.nunique() == 1
    with pytest.raises(KeyError, match="no trained network"):
        scores(10**6, movies)


# ------------------------------------------------------------------- statistics
def _table(diffs: list[float], a: str = "x", b: str = "y", seeds: int = 2) -> pd.DataFrame:
    rows = []
    for u, d in enumerate(diffs):
        for s in range(seeds):
            rows.append(
                {
                    "user_id": u,
                    "seed": s,
                    "model": a,
                    "accuracy": 0.5 + d,
                    "n_ratings": 10 * (u + 1),
                    "train_like_rate": u / len(diffs),
                }
            )
            rows.append(
                {
                    "user_id": u,
                    "seed": s,
                    "model": b,
                    "accuracy": 0.5,
                    "n_ratings": 10 * (u + 1),
                    "train_like_rate": u / len(diffs),
                }
            )
    return pd.DataFrame(rows)


def test_wins_by_groups_every_user_once():
    diffs = [0.1, -0.1, 0.0, 0.2, 0.3, -0.2, 0.0, 0.1, 0.1, 0.05]
    out = population.wins_by(_table(diffs), "x", "y", by="n_ratings", bins=2)
    assert out["users"].sum() == len(diffs) and len(out) == 2
    shares = out[["x_wins", "y_wins", "ties"]].sum(axis=1)
    np.testing.assert_allclose(shares, 1.0)
    assert out["mean_diff"].iloc[0] == pytest.approx(np.mean(diffs[:5]))
    edges = population.wins_by(_table(diffs), "x", "y", by="train_like_rate", bins=[0, 0.5, 1])
    assert edges["users"].tolist() == [6, 4]


def test_seed_agreement():
    out = population.seed_agreement(_table([0.1, 0.3]), "x", "y")
    np.testing.assert_allclose(out["difference"], [0.2, 0.2])
    assert out["users"].tolist() == [2, 2]


# ------------------------------------------------------------------------ plots
def test_population_plots(small_run: population.PopulationRun):
    from recsys_utils import plots

    means = {m: population.per_user_means(small_run.table, m) for m in population.METRICS}
    fig = plots.metric_distributions(means, labels=population.MODEL_LABELS)
    assert len(fig.axes) == 3
    groups = population.wins_by(small_run.table, "modified", "lstm", by="n_ratings", bins=2)
    fig = plots.difference_by_group({"ratings": groups}, ylabel="difference")
    assert fig.axes
    fig = plots.paired_differences({"a - b": np.array([0.1, -0.1, np.nan])}, xlabel="d")
    assert fig.axes[0].get_legend() is not None
    summary = pd.DataFrame(
        {"precision": [0.2, 0.1], "precision_min": [0.1, 0.1], "precision_max": [0.3, 0.1]},
        index=["genre", "mf"],
    )
    fig = plots.ranking_bars(summary)
    assert len(fig.axes[0].patches) == 2


# ------------------------------------------------------------------------ the trainer
def test_the_trainer_follows_the_device_unless_named(monkeypatch: pytest.MonkeyPatch):
    import recsys_utils.device as devmod

    monkeypatch.setenv("RECSYS_DEVICE", "cpu")
    assert population.PopulationSpec().resolved_trainer() == "numba"
    assert population.PopulationSpec(trainer="tf").resolved_trainer() == "tf"
    monkeypatch.setenv("RECSYS_DEVICE", "auto")
    monkeypatch.setattr(devmod, "visible_gpus", lambda: ["NVIDIA Test GPU"])
    assert population.PopulationSpec().resolved_trainer() == "tf"
    assert population.PopulationSpec(trainer="numba").resolved_trainer() == "numba"
    # the key of a stored shard names the trainer (their random numbers differ)
    assert population.PopulationSpec().shard_params("modified", 0)["trainer"] == "tf"
    assert population.PopulationSpec().shard_params("majority", 0)["trainer"] is None
    with pytest.raises(ValueError, match="trainer"):
        population.PopulationSpec(trainer="cuda")
    # resolved(): the trainer named once, for another process; nothing to name without a network
    assert population.PopulationSpec().resolved().trainer == "tf"
    assert population.PopulationSpec(models=("majority",)).resolved().trainer is None
    assert population.PopulationSpec(trainer="numba").resolved().trainer == "numba"


def test_both_trainers_give_the_same_run_without_randomness(synthetic_ml1m: MovieLens):
    """No dropout, no shuffling, the same initial weights: the Numba and TensorFlow trainers
    train the same networks, so a population run's held-out scores agree to float32 round-off
    (the metrics to 1e-6; accuracy exactly unless a score sits within round-off of 0.5)."""
    users = population.sample_users(synthetic_ml1m, 4, seed=2)
    runs = {
        name: population.run_population(
            synthetic_ml1m,
            users,
            population.PopulationSpec(
                models=("modified",),
                seeds=(1,),
                epochs=3,
                train_kw={"dropout": 0.0, "shuffle": False},
                trainer=name,
            ),
            progress=False,
        )
        for name in ("numba", "tf")
    }
    assert runs["numba"].config["trainer"] == "numba" and runs["tf"].config["trainer"] == "tf"
    a, b = (runs[n].table.set_index("user_id") for n in ("numba", "tf"))
    np.testing.assert_array_equal(a["n_test"], b["n_test"])
    for metric in ("accuracy", "balanced_accuracy", "roc_auc"):
        np.testing.assert_allclose(a[metric], b[metric], atol=1e-6, err_msg=metric)
