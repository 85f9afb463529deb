"""The common interface over the four models and the baseline (recsys_utils.recommenders)."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_utils.evaluation import EvaluationSettings, evaluate_user
from recsys_utils.features import user_dataset
from recsys_utils.recommenders import (
    AutoencoderRecommender,
    GenreSequenceRecommender,
    PopularityRecommender,
    RBMRecommender,
    make_recommender,
)

USER = 1


@pytest.fixture(scope="module")
def heldout(synthetic_ml1m):
    ds = user_dataset(synthetic_ml1m, USER)
    return ds.movie_ids[ds.report_split().test]


def _check_recommendations(rec, data, top=7):
    table = rec.recommend(top)
    rated = set(data.ratings.loc[data.ratings["user_id"] == USER, "movie_id"])
    assert list(table.columns) == ["rank", "movie_id", "title", "genres", "score", "tied"]
    assert len(table) == top and table["rank"].tolist() == list(range(1, top + 1))
    assert not rated & set(table["movie_id"]), "recommended a movie the user already rated"
    assert table["score"].is_monotonic_decreasing
    # Ties are broken by movie id, and 'tied' counts candidates with exactly that score.
    for _score, group in table.groupby("score"):
        assert group["movie_id"].is_monotonic_increasing
    candidates = data.movies[~data.movies["movie_id"].isin(rated)]["movie_id"].to_numpy()
    all_scores = rec.score(candidates)
    first = table.iloc[0]
    assert first["tied"] == int(np.sum(all_scores == first["score"]))
    return table


def test_sequence_recommender_hides_heldout_rows(synthetic_ml1m, heldout):
    rec = GenreSequenceRecommender("modified-lstm", epochs=2, seed=0)
    rec.fit(synthetic_ml1m, USER, heldout_movie_ids=heldout)
    ds = user_dataset(synthetic_ml1m, USER)
    n_train = len(ds) - len(heldout)
    # Keras saw exactly the training rows: batches per epoch = ceil(n_train / 10).
    assert rec.classifier.model.optimizer.iterations.numpy() == 2 * int(np.ceil(n_train / 10))
    scores = rec.score(ds.movie_ids)
    assert scores.shape == (len(ds),) and np.all((scores >= 0) & (scores <= 1))
    assert len(rec.epoch_times_s) == 2 and rec.fit_time_s > 0
    with pytest.raises(KeyError, match="fitted for user"):  # a per-user model scores its user only
        rec.score(ds.movie_ids, user_id=USER + 1)
    table = _check_recommendations(rec, synthetic_ml1m)
    # Genre-only scores: movies with identical genres score identically.
    g = table.groupby("genres")["score"].nunique()
    assert (g == 1).all()


def test_rbm_recommender_trains_without_the_heldout_ratings(synthetic_ml1m, heldout):
    rec = RBMRecommender(n_train_users=40, epochs=3, seed=0, batch_size=10)
    rec.fit(synthetic_ml1m, USER, heldout_movie_ids=heldout)
    visible = rec.visible_ratings()
    mine = visible[visible["user_id"] == USER]
    assert not set(heldout) & set(mine["movie_id"])
    cols = rec._columns.get_indexer(heldout)
    assert np.all(rec._input[0, cols] == 0), "held-out ratings leaked into the user's input"
    errors = rec.history["reconstruction_mse"]
    assert len(errors) == 3 and errors[-1] < errors[0], "the RBM did not train"
    assert rec.like_threshold == pytest.approx(0.7)
    _check_recommendations(rec, synthetic_ml1m)


def test_autoencoder_recommender(synthetic_ml1m, heldout):
    rec = AutoencoderRecommender(epochs=3, seed=0, batch_size=8)
    rec.fit(synthetic_ml1m, USER, heldout_movie_ids=heldout)
    cols = rec.matrix.column_index(heldout)
    assert np.all(rec._input[0, cols] == 0)
    assert set(rec.history) >= {"train_mse", "test_mse"}
    assert rec.history["train_mse"][-1] < rec.history["train_mse"][0], "the autoencoder did not train"
    s = rec.score(heldout)
    assert np.all((s >= 0) & (s <= 1))
    _check_recommendations(rec, synthetic_ml1m)


def test_popularity_baseline_prefers_liked_movies(synthetic_ml1m):
    rec = PopularityRecommender().fit(synthetic_ml1m, USER)
    r = synthetic_ml1m.ratings
    share = (r["rating"] >= 4).groupby(r["movie_id"]).mean()
    counts = r.groupby("movie_id").size()
    well = share[(counts >= 10)]
    best, worst = well.idxmax(), well.idxmin()
    assert rec.score([best])[0] > rec.score([worst])[0]
    _check_recommendations(rec, synthetic_ml1m)


def test_fit_rejects_heldout_movies_the_user_did_not_rate(synthetic_ml1m):
    rated = set(synthetic_ml1m.ratings.loc[synthetic_ml1m.ratings["user_id"] == USER, "movie_id"])
    other = next(m for m in synthetic_ml1m.movies["movie_id"] if m not in rated)
    with pytest.raises(ValueError, match="not rated by user"):
        PopularityRecommender().fit(synthetic_ml1m, USER, heldout_movie_ids=[other])
    with pytest.raises(RuntimeError, match="fit"):
        PopularityRecommender().score([1])
    with pytest.raises(ValueError, match="unknown model"):
        make_recommender("svd")


def test_evaluate_user_scores_both_protocols_from_one_fit(synthetic_ml1m):
    results, rec = evaluate_user("lstm", synthetic_ml1m, USER, EvaluationSettings(epochs=1, seed=0))
    ds = user_dataset(synthetic_ml1m, USER)
    split = ds.report_split()
    assert results["report"].n_rows == len(ds)
    assert results["held-out"].n_rows == len(split.test)
    # The majority baseline is the training rows' majority label, on the scored rows.
    majority = int(ds.y[split.train].mean() >= 0.5)
    assert results["held-out"].majority_accuracy == pytest.approx(np.mean(ds.y[split.test] == majority))
    assert results["report"].fit_time_s == results["held-out"].fit_time_s == rec.fit_time_s


def test_popularity_formula_is_written_once():
    """models.popularity holds the one formula; both protocols of the adapter use it."""
    from recsys_utils.models.popularity import Popularity

    movies, liked = np.array([1, 1, 1, 2]), np.array([1, 1, 0, 0])
    share = Popularity().fit(movies, liked)  # overall like share p = 0.5, m = 10
    np.testing.assert_allclose(share.score([1, 2, 3]), [7 / 13, 5 / 11, 0.5])
    np.testing.assert_allclose(
        Popularity("like_share").fit(movies, liked, universe=[1, 2, 3]).score([3]), [0.5]
    )
    np.testing.assert_array_equal(Popularity("likes").fit(movies, liked).score([1, 2, 3]), [2, 0, 0])
    np.testing.assert_array_equal(Popularity("ratings").fit(movies, liked).score([2, 1]), [1, 3])
    with pytest.raises(ValueError, match="kind"):
        Popularity("stars")


def test_popularity_recommender_per_user_uses_the_estimator(synthetic_ml1m, heldout):
    from recsys_utils.models.popularity import Popularity

    rec = PopularityRecommender().fit(synthetic_ml1m, USER, heldout_movie_ids=heldout)
    visible = rec.visible_ratings()
    ref = Popularity().fit(visible["movie_id"].to_numpy(), visible["rating"].to_numpy() >= 4)
    movies = synthetic_ml1m.movies["movie_id"].to_numpy()
    np.testing.assert_array_equal(rec.score(movies), ref.score(movies))
    np.testing.assert_array_equal(rec(USER, movies[:3]), ref.score(movies[:3]))
