"""Tests of recsys_utils.interpret: occlusion, the NumPy gate trace, memory, cold start, updates.

The figures of these results are tested in tests/test_plots.py."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from recsys_utils import interpret as I
from recsys_utils.data import MovieLens
from recsys_utils.data.genres import REPORT_GENRES
from recsys_utils.features import sample_users, user_dataset

keras = pytest.importorskip("keras")

from recsys_utils.models.sequence import SequenceClassifier  # noqa: E402


def _logistic(w: np.ndarray, b: float):
    return lambda X: 1.0 / (1.0 + np.exp(-(np.asarray(X, dtype=np.float64) @ w + b)))


def _randomized_classifier(seed: int = 0, **build_kw) -> SequenceClassifier:
    """A modified-LSTM recommender with every weight random (bias included), not trained."""
    clf = SequenceClassifier("modified-lstm", seed=seed, **build_kw)
    rng = np.random.default_rng(seed)
    clf.model.set_weights(
        [rng.normal(0.0, 0.6, size=w.shape).astype("float32") for w in clf.model.get_weights()]
    )
    return clf


def _flags(n: int, seed: int = 0, d: int = 18) -> np.ndarray:
    return (np.random.default_rng(seed).random((n, d)) < 0.3).astype(np.float32)


# --- occlusion -------------------------------------------------------------------------------


def test_occlusion_of_a_linear_model_is_exact():
    """For p = w.x + b, switching flag j on raises p by exactly w_j, on every row."""
    w = np.linspace(-0.02, 0.03, 18)
    X = _flags(7)
    occ = I.occlusion(lambda Z: 0.4 + np.asarray(Z, dtype=np.float64) @ w, X)
    np.testing.assert_allclose(occ.effect, np.broadcast_to(w, X.shape), atol=1e-12)
    present = X.astype(bool)
    np.testing.assert_allclose(occ.removal[present], np.broadcast_to(w, X.shape)[present], atol=1e-12)
    assert np.isnan(occ.removal[~present]).all()
    assert np.isnan(occ.addition[present]).all()
    np.testing.assert_allclose(occ.base, 0.4 + X @ w, atol=1e-12)


def test_occlusion_calls_predict_once_and_checks_inputs():
    calls = []

    def predict(Z):
        calls.append(Z.shape)
        return np.zeros(len(Z))

    I.occlusion(predict, _flags(4))
    assert calls == [(4 * 19, 18)]
    with pytest.raises(ValueError):
        I.occlusion(predict, np.full((2, 18), 0.5))
    with pytest.raises(ValueError):
        I.occlusion(predict, np.zeros((2, 5)))


def test_genre_attributions_counts_and_agreement():
    X = np.zeros((6, 18), np.float32)
    X[:4, 0] = 1  # Action: rows 0..3
    X[2:, 2] = 1  # Comedy: rows 2..5
    y = np.array([1, 1, 1, 0, 0, 0], np.float32)
    w = np.zeros(18)
    w[0], w[2] = 0.5, -0.5
    table = I.genre_attributions(I.occlusion(_logistic(w, 0.0), X), y)
    assert table.loc["Action", "rows"] == 4 and table.loc["Comedy", "rows"] == 4
    assert table.loc["Action", "like_share"] == pytest.approx(0.75)
    assert table.loc["Comedy", "like_share"] == pytest.approx(0.25)
    assert table.loc["Action", "like_share_vs_all"] == pytest.approx(0.25)
    assert np.isnan(table.loc["Horror", "like_share"])
    assert np.isnan(table.loc["Horror", "removal_mean"])
    assert table.loc["Action", "removal_mean"] > 0 > table.loc["Comedy", "removal_mean"]
    # Only two genres have rows: too few for a rank correlation.
    assert np.isnan(I.attribution_agreement(table, min_rows=1)["spearman"])
    with pytest.raises(ValueError):
        I.genre_attributions(I.occlusion(_logistic(w, 0.0), X), y[:3])


def test_attribution_agreement_is_positive_when_the_model_follows_the_data():
    rng = np.random.default_rng(1)
    X = (rng.random((400, 18)) < 0.3).astype(np.float32)
    w = np.linspace(-1.5, 1.5, 18)
    y = (rng.random(400) < _logistic(w, 0.0)(X)).astype(np.float32)
    table = I.genre_attributions(I.occlusion(_logistic(w, 0.0), X), y)
    agreement = I.attribution_agreement(table, min_rows=5)
    assert agreement["genres"] == 18
    assert agreement["spearman"] > 0.8


# --- the cell in NumPy -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["modified-lstm", "nfg-lstm"])
def test_trace_matches_keras(kind):
    clf = _randomized_classifier(seed=3) if kind == "modified-lstm" else None
    if clf is None:
        clf = SequenceClassifier(kind, seed=3)
        rng = np.random.default_rng(3)
        clf.model.set_weights(
            [rng.normal(0.0, 0.6, size=w.shape).astype("float32") for w in clf.model.get_weights()]
        )
    X = _flags(25, seed=4)
    trace = I.trace_modified_lstm(clf, X)
    layers = clf.model.layers
    emb = next(layer for layer in layers if isinstance(layer, keras.layers.Embedding))
    from recsys_utils.cells import ModifiedLSTM

    rnn = next(layer for layer in layers if isinstance(layer, ModifiedLSTM))
    h_keras = np.asarray(rnn(emb(X), training=False))
    assert trace.h.shape == (25, 18, 18)
    np.testing.assert_allclose(trace.h[:, -1], h_keras, atol=1e-5)
    np.testing.assert_allclose(trace.probability, clf.predict_proba(X), atol=1e-5)
    # The whole sequence of outputs too.
    seq = ModifiedLSTM.from_config({**rnn.get_config(), "return_sequences": True})
    seq.build((None, 18, 50))
    seq.set_weights(rnn.get_weights())
    np.testing.assert_allclose(trace.h, np.asarray(seq(emb(X))), atol=1e-5)
    if kind == "modified-lstm":  # f_t = 0: the cell state is the input gate times the candidate
        np.testing.assert_allclose(trace.c, trace.i * trace.c_candidate, atol=1e-12)
    else:  # f_t = 1: the cell state accumulates
        np.testing.assert_allclose(trace.c, np.cumsum(trace.i * trace.c_candidate, axis=1), atol=1e-10)


def test_trace_summary_and_means():
    clf = _randomized_classifier(seed=5)
    trace = I.trace_modified_lstm(clf, _flags(10, seed=1))
    assert trace.mean_by_position("o").shape == (18, 18)
    summary = trace.summary()
    assert list(summary.index) == list(I.GATES.values())
    # tanh gates (the report's recurrent activation) can be negative, the sigmoid candidate not.
    assert summary.loc[I.GATES["c_candidate"], "min"] > 0
    with pytest.raises(KeyError):
        trace.gate("f")


def test_memory_profile_without_recurrence_has_no_memory():
    """f_t = 0 and a zero recurrent kernel: a flag acts at its own step and nowhere later."""
    clf = _randomized_classifier(seed=6)
    X = _flags(12, seed=2)
    profile = I.memory_profile(clf, X)
    assert profile.shape == (18, 18)
    assert np.all(profile[np.tri(18, k=-1, dtype=bool)] == 0)  # nothing before the flag is read
    assert np.all(np.diag(profile) > 0)
    assert (np.triu(profile, k=1) > 0).any()  # with recurrence, some memory
    w = I.cell_weights(clf)
    no_rec = dataclasses.replace(w, recurrent_kernel=np.zeros_like(w.recurrent_kernel))
    flat = I.memory_profile(no_rec, X)
    assert np.all(np.diag(flat) > 0)
    np.testing.assert_array_equal(np.triu(flat, k=1), 0.0)
    decay = I.decay_by_distance(flat)
    assert decay.iloc[0] == pytest.approx(1.0) and decay.iloc[1:].max() == 0.0
    # With f_t = 1 (the NFG variant) the cell state carries the flag even without recurrence.
    nfg = I.memory_profile(dataclasses.replace(no_rec, variant="nfg"), X)
    assert (nfg[np.triu_indices(18, k=1)] > 0).all()


def test_cell_weights_rejects_other_models():
    with pytest.raises(ValueError):
        I.cell_weights(SequenceClassifier("lstm", seed=0))


# --- cold start ------------------------------------------------------------------------------


def _reordered(data: MovieLens, seed: int) -> MovieLens:
    """The same data with ratings.dat's rows shuffled."""
    perm = np.random.default_rng(seed).permutation(len(data.ratings))
    return dataclasses.replace(data, ratings=data.ratings.iloc[perm].reset_index(drop=True))


def test_the_sample_of_users_is_seeded_and_eligible(synthetic_ml1m):
    """Chapter 7 samples its users with features.sample_users (interpret has no sampler)."""
    assert not hasattr(I, "sample_users") and not hasattr(I, "seeded_order")
    a = sample_users(synthetic_ml1m, 5, min_ratings=40, seed=0)
    np.testing.assert_array_equal(a, sample_users(synthetic_ml1m, 5, min_ratings=40, seed=0))
    counts = synthetic_ml1m.ratings.groupby("user_id").size()
    assert (counts[a] >= 40).all() and len(set(a)) == 5 and np.all(np.diff(a) > 0)
    assert not np.array_equal(a, sample_users(synthetic_ml1m, 5, min_ratings=40, seed=1))
    with pytest.raises(ValueError):
        sample_users(synthetic_ml1m, 500, min_ratings=40)


def test_cold_start_split_is_a_cut_of_the_seeded_order(synthetic_ml1m):
    ds = user_dataset(synthetic_ml1m, 3)
    pool, test = I.cold_start_split(ds, 7, seed=2)
    np.testing.assert_array_equal(np.concatenate([test, pool]), ds.seeded_order(2))


def test_cold_start_split_is_disjoint_and_order_independent(synthetic_ml1m):
    ds = user_dataset(synthetic_ml1m, 1)
    pool, test = I.cold_start_split(ds, 10, seed=0)
    assert len(test) == 10 and len(pool) == len(ds) - 10
    assert not set(pool) & set(test)
    shuffled = user_dataset(_reordered(synthetic_ml1m, 3), 1)
    pool2, test2 = I.cold_start_split(shuffled, 10, seed=0)
    np.testing.assert_array_equal(np.sort(ds.movie_ids[test]), np.sort(shuffled.movie_ids[test2]))
    np.testing.assert_array_equal(ds.movie_ids[pool[:5]], shuffled.movie_ids[pool2[:5]])
    with pytest.raises(ValueError):
        I.cold_start_split(ds, len(ds), seed=0)


def test_popularity_scores_ignore_the_users_own_ratings(synthetic_ml1m):
    ds = user_dataset(synthetic_ml1m, 2)
    scores = I.popularity_scores(synthetic_ml1m, 2, ds.movie_ids)
    r = synthetic_ml1m.ratings
    others = r[r["user_id"] != 2]
    like = (others["rating"] >= 4).astype(float)
    p = like.mean()
    stats = like.groupby(others["movie_id"]).agg(["sum", "count"])
    expected = ((stats["sum"] + 10 * p) / (stats["count"] + 10)).reindex(ds.movie_ids).fillna(p)
    np.testing.assert_allclose(scores, expected.to_numpy(), rtol=1e-12)


@pytest.mark.parametrize("trainer", ["keras", "batched"])
def test_cold_start_experiment(synthetic_ml1m, trainer):
    users = sample_users(synthetic_ml1m, 1 if trainer == "keras" else 3, min_ratings=40, seed=0)
    res = I.cold_start_experiment(
        synthetic_ml1m, users, [10, 5], n_test=12, seeds=[0], epochs=2, trainer=trainer
    )
    assert len(res) == len(users) * 2 * len(I.COLD_START_MODELS)
    assert (res["seed"] == 0).all()
    assert set(res["k"]) == {5, 10} and (res["n_test"] == 12).all()
    pop = res[res["model"] == "popularity"].pivot(index="user_id", columns="k", values="accuracy")
    np.testing.assert_array_equal(pop[5], pop[10])  # needs no rating of the user
    maj = res[res["model"] == "majority of k"]
    assert np.allclose(maj["roc_auc"].dropna(), 0.5)
    assert res["accuracy"].between(0, 1).all()
    with_fallback = I.apply_fallback(res, 10)
    fb = with_fallback[with_fallback["model"] == "fallback (N=10)"].set_index(["user_id", "k"])
    for (user, k), row in fb.iterrows():
        source = "popularity" if k < 10 else "modified LSTM"
        ref = res[(res["model"] == source) & (res["user_id"] == user) & (res["k"] == k)]
        assert row["accuracy"] == ref["accuracy"].item()
    summary = I.summarize_by_k(with_fallback, "accuracy")
    assert list(summary.index) == [5, 10] and "fallback (N=10)" in summary.columns
    table = I.cold_start_table(with_fallback)
    assert table.loc[("accuracy", "popularity"), 5] == pytest.approx(summary.loc[5, "popularity"])
    effect = I.fallback_effect(with_fallback, 10)
    gain = (summary["fallback (N=10)"] - summary["modified LSTM"]).mean()
    assert effect.loc["fallback (N=10) - always modified LSTM", "accuracy"] == pytest.approx(gain)
    wins = I.paired_wins(res, "modified LSTM", "popularity", "accuracy")
    assert (wins["modified LSTM higher"] + wins["popularity higher"] <= wins["users"]).all()
    with pytest.raises(ValueError):
        I.cold_start_experiment(synthetic_ml1m, users, [500], n_test=12, epochs=1, trainer=trainer)


# --- updates ---------------------------------------------------------------------------------


def test_update_continues_the_same_training_and_state_restores_it(synthetic_ml1m):
    ds = user_dataset(synthetic_ml1m, 1)
    clf = SequenceClassifier("modified-lstm", seed=0)
    clf.fit(ds.X[:20], ds.y[:20], epochs=2, batch_size=10)
    steps = int(clf.model.optimizer.iterations.numpy())
    assert steps == 4
    state = I.classifier_state(clf)
    before = [w.copy() for w in clf.model.get_weights()]
    seconds = I.update_classifier(clf, ds.X[20:40], ds.y[20:40], epochs=3, batch_size=10)
    assert seconds > 0
    assert int(clf.model.optimizer.iterations.numpy()) == steps + 6  # Adam carried on
    assert any(not np.array_equal(a, b) for a, b in zip(before, clf.model.get_weights()))
    first = clf.predict_proba(ds.X)
    I.restore_classifier_state(clf, state)
    assert int(clf.model.optimizer.iterations.numpy()) == steps
    for a, b in zip(before, clf.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    # The same update from the restored state gives the same model (dropout streams included).
    I.update_classifier(clf, ds.X[20:40], ds.y[20:40], epochs=3, batch_size=10)
    np.testing.assert_allclose(clf.predict_proba(ds.X), first, atol=1e-6)
    I.update_classifier(
        clf, ds.X[20:30], ds.y[20:30], X_old=ds.X[:20], y_old=ds.y[:20], epochs=1, batch_size=10
    )
    assert int(clf.model.optimizer.iterations.numpy()) == steps + 6 + 3
    with pytest.raises(ValueError):
        I.update_classifier(clf, ds.X[:2], ds.y[:2], X_old=ds.X[:2])
    with pytest.raises(ValueError):
        I.restore_classifier_state(clf, state[:-1])


def test_arrival_split_is_time_ordered(synthetic_ml1m):
    ds = user_dataset(synthetic_ml1m, 1)
    split = I.arrival_split(synthetic_ml1m, ds, test_fraction=0.3, initial_fraction=0.5)
    parts = [split.initial, split.new, split.test]
    assert sum(map(len, parts)) == len(ds)
    assert len(np.unique(np.concatenate(parts))) == len(ds)
    assert len(split.test) == round(0.3 * len(ds))
    assert len(split.initial) == int(0.5 * (len(ds) - len(split.test)))
    stamps = synthetic_ml1m.ratings.loc[synthetic_ml1m.ratings["user_id"] == 1, "timestamp"].to_numpy()
    assert stamps[split.initial].max() <= stamps[split.new].min()
    assert stamps[split.new].max() <= stamps[split.test].min()  # the test rows are the future
    capped = I.arrival_split(synthetic_ml1m, ds, max_rows=20)
    kept = np.concatenate([capped.initial, capped.new, capped.test])
    np.testing.assert_array_equal(kept, I.time_order(synthetic_ml1m, ds)[:20])
    assert (len(capped.initial), len(capped.new), len(capped.test)) == (7, 7, 6)


def _renumbered(data: MovieLens, user: int, new_id: int) -> MovieLens:
    r = data.ratings.copy()
    r.loc[r["user_id"] == user, "user_id"] = new_id
    return dataclasses.replace(data, ratings=r)


def test_time_ordered_experiments_refuse_users_without_times(synthetic_ml1m):
    from recsys_utils.errors import BadArgumentError

    late = _renumbered(synthetic_ml1m, 2, I.FIRST_USER_WITHOUT_TIME)
    with pytest.raises(BadArgumentError, match=r"users 1 to 2999.*\[3000\]|\[3000\].*users 1 to 2999"):
        I.check_timed_users(late, [1, I.FIRST_USER_WITHOUT_TIME])
    for call in (
        lambda: I.cold_start_experiment(late, [1, 3000], [5], n_test=5, epochs=1, order="time"),
        lambda: I.update_experiment(late, [3000], trainer="batched", epochs=1),
        lambda: I.arrival_split(late, user_dataset(late, 3000)),
        lambda: I.first_k_split(late, user_dataset(late, 3000), 5),
    ):
        with pytest.raises(BadArgumentError, match="3000"):
            call()
    r = synthetic_ml1m.ratings.copy()
    r.loc[(r["user_id"] == 5) & (r.index % 2 == 0), "timestamp"] = 0
    untimed = dataclasses.replace(synthetic_ml1m, ratings=r)
    with pytest.raises(BadArgumentError, match=r"without a time.*|\[5\]"):
        I.check_timed_users(untimed, [4, 5])
    I.check_timed_users(untimed, [4])  # the others pass
    assert 5 not in I.timed_user_ids(untimed) and 4 in I.timed_user_ids(untimed)
    assert 2 not in I.timed_user_ids(late) and 3000 not in I.timed_user_ids(late)


def test_sample_timed_users_is_sample_users_among_timed_users(synthetic_ml1m):
    late = _renumbered(synthetic_ml1m, 2, 4000)
    allowed = I.timed_user_ids(late, min_ratings=40)
    counts = late.ratings.groupby("user_id").size()
    assert set(allowed) == {u for u in counts.index if u < 3000 and counts[u] >= 40}
    a = I.sample_timed_users(late, 5, seed=0, min_ratings=40)
    assert len(a) == 5 and set(a) <= set(allowed) and np.all(np.diff(a) > 0)
    np.testing.assert_array_equal(a, I.sample_timed_users(late, 5, seed=0, min_ratings=40))
    # the package's sampling rule: the eligible ids, default_rng([seed, n_eligible])
    rng = np.random.default_rng([0, len(allowed)])
    np.testing.assert_array_equal(a, np.sort(rng.choice(allowed, size=5, replace=False)))


def test_first_k_split_is_the_users_ratings_in_time(synthetic_ml1m):
    ds = user_dataset(synthetic_ml1m, 3)
    pool, test = I.first_k_split(synthetic_ml1m, ds, 8)
    rows = synthetic_ml1m.ratings[synthetic_ml1m.ratings["user_id"] == 3]
    by_time = rows.assign(row=np.arange(len(rows))).sort_values(["timestamp", "movie_id"])["row"].to_numpy()
    np.testing.assert_array_equal(np.concatenate([pool, test]), by_time)
    np.testing.assert_array_equal(I.time_orders(synthetic_ml1m, [ds])[3], by_time)
    assert len(test) == 8
    # the same rows whatever the file order
    shuffled = _reordered(synthetic_ml1m, 1)
    ds2 = user_dataset(shuffled, 3)
    pool2, test2 = I.first_k_split(shuffled, ds2, 8)
    np.testing.assert_array_equal(ds.movie_ids[test], ds2.movie_ids[test2])
    np.testing.assert_array_equal(ds.movie_ids[pool], ds2.movie_ids[pool2])


def test_cold_start_in_time_order_with_seeds(synthetic_ml1m):
    users = [1, 3]
    res = I.cold_start_experiment(
        synthetic_ml1m, users, [5, 10], n_test=8, seeds=[0, 1], epochs=1, order="time"
    )
    assert len(res) == 2 * 2 * 2 * len(I.COLD_START_MODELS)
    assert set(res["seed"]) == {0, 1}
    for u in users:
        ds = user_dataset(synthetic_ml1m, u)
        _, test = I.first_k_split(synthetic_ml1m, ds, 8)
        assert (res.loc[res["user_id"] == u, "test_likes"] == int(ds.y[test].sum())).all()
    pop = res[res["model"] == "popularity"]
    assert pop.groupby("user_id")["accuracy"].nunique().eq(1).all()  # seed- and k-free
    means = I.seed_means(res)
    assert len(means) == len(res) // 2
    lstm = res[res["model"] == "modified LSTM"]
    expected = lstm.groupby(["user_id", "k"])["accuracy"].mean()
    got = means[means["model"] == "modified LSTM"].set_index(["user_id", "k"])["accuracy"]
    pd.testing.assert_series_equal(got.sort_index(), expected.sort_index(), check_names=False)
    with pytest.raises(ValueError, match="order"):
        I.cold_start_experiment(synthetic_ml1m, users, [5], n_test=8, epochs=1, order="file")


@pytest.mark.parametrize("trainer", ["keras", "batched"])
def test_update_experiment(synthetic_ml1m, trainer):
    users = [1] if trainer == "keras" else [1, 2]  # Keras: one user keeps the test short
    seeds = [0] if trainer == "keras" else [0, 1]
    res = I.update_experiment(
        synthetic_ml1m,
        users,
        trainer=trainer,
        epochs=2,
        update_epochs=1,
        seeds=seeds,
        protocol=I.ArrivalProtocol(max_rows=40),
    )
    assert len(res) == len(users) * len(seeds) * len(I.UPDATE_STRATEGIES)
    assert list(dict.fromkeys(res["strategy"])) == list(I.UPDATE_STRATEGIES)
    assert (res["model"] == res["strategy"]).all()
    by = res[res["seed"] == 0].set_index(["user_id", "strategy"])
    for user in users:
        n_all = by.loc[(user, "retrain from scratch"), "rows_trained"]
        assert by.loc[(user, "update: old + new rows"), "rows_trained"] == n_all
        assert (
            by.loc[(user, "initial model (stale)"), "rows_trained"]
            + by.loc[(user, "update: new rows"), "rows_trained"]
        ) == n_all
        assert n_all + by.loc[(user, "retrain from scratch"), "n_test"] == 40
    assert (res["time_s"] > 0).all()


def test_batched_weights_trace_like_the_batched_predictions(synthetic_ml1m):
    ds = user_dataset(synthetic_ml1m, 4)
    models = I.train_user_models([ds.X], [ds.y], [4], trainer="batched", epochs=2, seed=0)
    trace = I.trace_modified_lstm(models.cell_weights(4), ds.X)
    np.testing.assert_allclose(trace.probability, models.predict([ds.X])[0], atol=1e-5)
    np.testing.assert_allclose(models.predict_user(4, ds.X[:3]), trace.probability[:3], atol=1e-5)


def test_attribution_by_order_follows_the_reordering(synthetic_ml1m):
    table, models = I.attribution_by_order(synthetic_ml1m, [1, 2], max_rows=30, epochs=2, trainer="batched")
    assert set(models) == {"report order", "reversed"}
    assert len(table) == 2 * 2 * 18
    rev = table[table["order"] == "reversed"].set_index(["user_id", "genre"])
    rep = table[table["order"] == "report order"].set_index(["user_id", "genre"])
    assert (rep["position"] + rev.loc[rep.index, "position"] == 19).all()
    assert (rep["rows"] == rev.loc[rep.index, "rows"]).all()
    assert (table["mean_abs_effect"] >= table["mean_effect"].abs() - 1e-12).all()
    with pytest.raises(ValueError):
        I.attribution_by_order(synthetic_ml1m, [1], {"bad": REPORT_GENRES[:5]}, epochs=1)


def test_unknown_trainer():
    with pytest.raises(ValueError):
        I.train_user_models([_flags(3)], [np.ones(3)], [1], trainer="sklearn")
    assert isinstance(
        I.summarize_by_k(pd.DataFrame({"k": [1], "model": ["a"], "roc_auc": [0.5]})), pd.DataFrame
    )


def test_user_models_name_a_missing_user(synthetic_ml1m):
    ds = user_dataset(synthetic_ml1m, 4)
    models = I.train_user_models([ds.X[:20]], [ds.y[:20]], [4], trainer="batched", epochs=1)
    with pytest.raises(KeyError, match="user 5"):
        models.predict_user(5, ds.X[:2])


def test_position_sensitivity_is_the_occlusion_of_each_user(synthetic_ml1m):
    """position_sensitivity flips the flags as occlusion does: same mean |effect| per flag."""
    dss = [user_dataset(synthetic_ml1m, u) for u in (1, 2)]
    models = I.train_user_models(
        [d.X[:30] for d in dss], [d.y[:30] for d in dss], [1, 2], trainer="batched", epochs=1
    )
    X_list = [dss[0].X[:6], np.zeros((0, 18), np.float32)]
    sens = I.position_sensitivity(models.batched, X_list)
    assert sens.shape == (2, 18) and np.isnan(sens[1]).all()
    occ = I.occlusion(lambda Z: models.predict_user(1, Z), X_list[0])
    np.testing.assert_allclose(sens[0], np.abs(occ.effect).mean(axis=0), atol=1e-6)


# --- positions and inference ------------------------------------------------------------------


def test_position_shares():
    s = np.array([[1.0] * 18, [0.0] * 15 + [1.0, 1.0, 2.0], [0.0] * 18])
    shares = I.position_shares(s)
    np.testing.assert_allclose(shares[:2], [3 / 18, 1.0])
    assert np.isnan(shares[2])
    np.testing.assert_allclose(I.position_shares(s[1:2], n_last=1), [0.5])
    with pytest.raises(ValueError):
        I.position_shares(-s)
    with pytest.raises(ValueError):
        I.position_shares(s, n_last=19)


def test_position_table_and_order_effects(synthetic_ml1m):
    dss = [user_dataset(synthetic_ml1m, u) for u in (1, 2)]
    X_train, y_train = [d.X[:30] for d in dss], [d.y[:30] for d in dss]
    X_probe = [d.X[30:40] for d in dss]
    models = I.train_user_models(X_train, y_train, [1, 2], trainer="batched", epochs=2, seed=3)
    table = I.position_table({("modified", 3): models.batched}, {3: X_probe})
    assert len(table) == 2 and set(table["seed"]) == {3}
    sens = I.position_sensitivity(models.batched, X_probe)
    np.testing.assert_allclose(table[[f"p{j}" for j in range(1, 19)]].to_numpy(), sens)
    np.testing.assert_allclose(table["last_share"], I.position_shares(sens))

    effects = I.order_effects(models.batched, X_train, y_train, X_probe, epochs=2)
    assert len(effects) == 2 * 2 * 18
    rep = effects[effects["order"] == "report order"].set_index(["user_id", "genre"])
    rev = effects[effects["order"] == "reversed"].set_index(["user_id", "genre"])
    assert (rep["position"] + rev.loc[rep.index, "position"] == 19).all()
    np.testing.assert_allclose(rep["mean_abs_effect"].to_numpy(), sens.reshape(-1))
    # the twin: trained on the reversed columns with the same seed and settings
    twin = I.train_user_models(
        [X[:, ::-1] for X in X_train], y_train, [1, 2], trainer="batched", epochs=2, seed=3
    )
    twin_sens = I.position_sensitivity(twin.batched, [X[:, ::-1] for X in X_probe])
    got = rev.reset_index().sort_values(["user_id", "position"])["mean_abs_effect"].to_numpy()
    np.testing.assert_allclose(got, twin_sens.reshape(-1), atol=1e-12)

    rho = I.order_correlations(effects.assign(seed=3))
    assert list(rho.columns) == ["user_id", "seed", "rho_genre", "rho_position"] and len(rho) == 2
    from scipy.stats import spearmanr

    u1 = effects[effects["user_id"] == 1]
    a = u1[u1["order"] == "report order"].set_index("position")["mean_abs_effect"]
    b = u1[u1["order"] == "reversed"].set_index("position")["mean_abs_effect"]
    assert rho.loc[0, "rho_position"] == pytest.approx(spearmanr(a, b.loc[a.index]).statistic)


def test_one_sample_and_compare_family():
    from scipy.stats import wilcoxon

    rng = np.random.default_rng(0)
    v = 0.3 + rng.normal(0, 0.05, size=25)
    out = I.one_sample(np.append(v, np.nan), 0.2, margin=0.02)
    assert out["n"] == 25 and out["n_dropped"] == 1
    assert out["ci_low"] <= out["estimate"] <= out["ci_high"]
    walsh = [(v[i] + v[j]) / 2 for i in range(25) for j in range(i, 25)]
    assert out["estimate"] == pytest.approx(np.median(walsh))
    assert out["p_value"] == pytest.approx(wilcoxon(v - 0.2).pvalue, rel=1e-6)
    assert not out["equivalent"]  # 0.3 is far outside 0.2 +/- 0.02

    users = np.arange(1, 31)
    rows = []
    for s in (0, 1):
        for u in users:
            base = rng.random()
            rows += [
                {"user_id": u, "seed": s, "model": "a", "m": base + 0.1},
                {"user_id": u, "seed": s, "model": "b", "m": base},
                {"user_id": u, "seed": s, "model": "c", "m": base + rng.normal(0, 0.001)},
            ]
    table = pd.DataFrame(rows)
    from recsys_utils.evaluation import StatisticalPlan

    plan = StatisticalPlan(primary=("a", "b", "m"), margins={"m": 0.01})
    fam = I.compare_family([("a-b", table, "a", "b", "m"), ("c-b", table, "c", "b", "m")], plan)
    assert list(fam["comparison"]) == ["a-b", "c-b"] and (fam["role"] == "exploratory").all()
    p = fam["p_value"].to_numpy()
    expected = np.minimum(1, np.maximum.accumulate(np.sort(p) * np.array([2, 1])))[np.argsort(np.argsort(p))]
    np.testing.assert_allclose(fam["p_holm"], expected)
    assert fam.loc[0, "estimate"] == pytest.approx(0.1) and not fam.loc[0, "equivalent"]
    assert bool(fam.loc[1, "equivalent"])
    with pytest.raises(ValueError):
        I.compare_family([], plan)
