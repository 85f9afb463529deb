"""Matrix-factorization baseline (``implicit``'s ALS / BPR) and its ranking adapter."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("implicit")

from recsys_utils.evaluation import roc_auc  # noqa: E402
from recsys_utils.evaluation.ranking import evaluate_ranking  # noqa: E402
from recsys_utils.evaluation.splits import ranking_split  # noqa: E402
from recsys_utils.models.mf import MatrixFactorization, MFParams, interaction_matrix  # noqa: E402
from recsys_utils.models.params import split_params  # noqa: E402
from recsys_utils.recommenders import MFRecommender, make_ranker  # noqa: E402


def _frame(rows: list[tuple[int, int, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["user_id", "movie_id", "rating"])


def test_interaction_matrix_by_hand():
    r = _frame([(1, 10, 5), (1, 20, 3), (2, 20, 4), (2, 30, 1), (3, 10, 2)])
    users, movies = np.array([1, 2, 3]), np.array([10, 20, 30])
    likes = interaction_matrix(r, users, movies).toarray()
    np.testing.assert_array_equal(likes, [[1, 0, 0], [0, 1, 0], [0, 0, 0]])
    rated = interaction_matrix(r, users, movies, feedback="rated").toarray()
    np.testing.assert_array_equal(rated, [[1, 1, 0], [0, 1, 1], [1, 0, 0]])
    assert interaction_matrix(r, np.array([2]), movies).shape == (1, 3)  # other users dropped
    with pytest.raises(KeyError, match="outside the columns"):
        interaction_matrix(r, users, np.array([10, 20]))
    with pytest.raises(ValueError, match="feedback"):
        interaction_matrix(r, users, movies, feedback="stars")


def _two_taste_groups(seed: int = 0) -> pd.DataFrame:
    """40 users, 30 movies: users 1..20 like movies 0..14, users 21..40 like 15..29; each
    user rates a random 60 % of their block 5 stars and a random 20 % of the other 1 star."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(1, 41):
        own = np.arange(15) if u <= 20 else np.arange(15, 30)
        other = np.setdiff1d(np.arange(30), own)
        rows += [(u, int(m), 5) for m in own if rng.random() < 0.6]
        rows += [(u, int(m), 1) for m in other if rng.random() < 0.2]
    return _frame(rows)


@pytest.mark.parametrize("algorithm", ["als", "bpr"])
def test_recovers_planted_taste_groups(algorithm):
    r = _two_taste_groups()
    params = MFParams(algorithm, factors=4, iterations=30 if algorithm == "als" else 200, learning_rate=0.05)
    mf = MatrixFactorization(params, seed=0).fit(r)
    aucs = []
    for u in range(1, 41):
        unseen = np.setdiff1d(np.arange(30), r.loc[r["user_id"] == u, "movie_id"])
        own = (unseen < 15) if u <= 20 else (unseen >= 15)
        if own.all() or not own.any():
            continue
        aucs.append(roc_auc(own.astype(int), mf.score(u, unseen)))
    assert np.mean(aucs) > 0.9


@pytest.mark.parametrize("algorithm", ["als", "bpr"])
def test_fit_is_deterministic_per_seed(algorithm):
    r = _two_taste_groups(1)
    a = MatrixFactorization(MFParams(algorithm, factors=8), seed=3).fit(r)
    b = MatrixFactorization(MFParams(algorithm, factors=8), seed=3).fit(r)
    c = MatrixFactorization(MFParams(algorithm, factors=8), seed=4).fit(r)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)
    assert not np.array_equal(a.item_factors_, c.item_factors_)


def test_scores_are_factor_dot_products_and_unknowns_handled():
    r = _two_taste_groups(2)
    movies = np.arange(35)  # 30..34: no feedback, still scored
    mf = MatrixFactorization(MFParams(factors=5), seed=0).fit(r, movie_ids=movies)
    assert mf.user_factors_.shape == (40, 5) and mf.item_factors_.shape == (35, 5)
    s = mf.score_batch([3, 7], [0, 31, 999])
    expected = mf.user_factors_[[2, 6]].astype(float) @ mf.item_factors_[[0, 31]].T.astype(float)
    np.testing.assert_allclose(s[:, :2], expected, rtol=1e-6)
    assert np.isnan(s[:, 2]).all()
    assert mf.fit_time_s is not None and mf.fit_time_s >= 0
    with pytest.raises(KeyError, match="users not in"):
        mf.score(999, [0])
    with pytest.raises(RuntimeError, match="fit"):
        MatrixFactorization().score(1, [0])
    with pytest.raises(ValueError, match="algorithm"):
        MFParams("svd")


def test_feedback_choice_changes_the_model():
    r = _two_taste_groups(3)
    likes = MatrixFactorization(MFParams(factors=4), seed=0).fit(r)
    rated = MatrixFactorization(MFParams(factors=4), seed=0, feedback="rated").fit(r)
    assert not np.allclose(likes.item_factors_, rated.item_factors_)


def test_one_user_recommender_hides_heldout_ratings(synthetic_ml1m):
    data = synthetic_ml1m
    u = int(data.ratings["user_id"].iloc[0])
    mine = data.ratings[data.ratings["user_id"] == u]
    held = mine["movie_id"].to_numpy()[:5]
    rec = MFRecommender(factors=6, seed=0).fit(data, u, heldout_movie_ids=held)
    visible = data.ratings[~((data.ratings["user_id"] == u) & data.ratings["movie_id"].isin(held))]
    ref = MatrixFactorization(MFParams(factors=6), seed=0).fit(
        visible,
        user_ids=np.sort(data.ratings["user_id"].unique()),
        movie_ids=data.movies["movie_id"].to_numpy(),
    )
    np.testing.assert_array_equal(rec.score(held), ref.score(u, held))
    top = rec.recommend(5)
    assert len(top) == 5 and not top["movie_id"].isin(mine["movie_id"]).any()


def test_mf_ranker_in_the_ranking_protocol(synthetic_ml1m):
    split = ranking_split(synthetic_ml1m, seed=0)
    ranker = make_ranker("mf", factors=8, seed=0).fit_split(split)
    u = int(split.user_ids[0])
    np.testing.assert_array_equal(ranker.score(split.movie_ids, u), ranker.mf.score(u, split.movie_ids))
    res = evaluate_ranking(ranker, split)
    assert res.model == "mf" and np.isfinite(res.summary["ndcg"]) and res.fit_time_s > 0
    assert (res.per_user["cut_tie_size"] == 1).all()  # real-valued scores: no ties


def test_settings_split_into_hyperparameters_and_the_rest():
    params, rest = split_params(MFParams, {"factors": 4, "algorithm": "bpr", "seed": 3, "feedback": "rated"})
    assert params == MFParams("bpr", factors=4) and rest == {"seed": 3, "feedback": "rated"}
    assert (params.resolved_iterations, params.resolved_regularization) == (100, 0.01)
    assert (MFParams().resolved_iterations, MFParams().resolved_regularization) == (15, 0.5)
    with pytest.raises(ValueError, match="factors"):
        MFParams(factors=0)
