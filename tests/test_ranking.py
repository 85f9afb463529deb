"""Ranking split, tie-aware top-k metrics, evaluate_ranking and the fitted-once recommenders."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from recsys_utils.data import MovieLens
from recsys_utils.evaluation.ranking import (
    METRICS,
    RankingResult,
    compare_rankings,
    evaluate_ranking,
    ranking_metrics,
    tie_block_at_cut,
)
from recsys_utils.evaluation.splits import ranking_split, time_split, timestamped_users, validation_split
from recsys_utils.features import stratified_train_count, user_dataset
from recsys_utils.recommenders import (
    PopularityRecommender,
    RBMRecommender,
    Recommender,
    make_ranker,
)


# ------------------------------------------------------------------ hand-computed metrics
def test_metrics_by_hand_untied():
    # ranks 1..5; relevant at ranks 1 and 3; k = 3
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    relevant = np.array([1, 0, 1, 0, 0], bool)
    got = ranking_metrics(scores, relevant, k=3)
    idcg = 1 + 1 / math.log2(3)
    assert got["precision"] == pytest.approx(2 / 3)
    assert got["recall"] == pytest.approx(1.0)
    assert got["ndcg"] == pytest.approx((1 + 1 / math.log2(4)) / idcg)
    assert got["hit_rate"] == 1.0


def test_metrics_by_hand_recall_denominator_is_all_relevant():
    # 4 relevant, k = 2, one of them at rank 2: recall 1/4 (not 1/min(k, R) = 1/2)
    scores = np.arange(6, 0, -1, dtype=float)
    relevant = np.array([0, 1, 1, 1, 1, 0], bool)
    got = ranking_metrics(scores, relevant, k=2)
    assert got["precision"] == pytest.approx(0.5)
    assert got["recall"] == pytest.approx(0.25)
    assert got["ndcg"] == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    assert got["hit_rate"] == 1.0


def test_no_hit_and_no_relevant():
    scores = np.array([3.0, 2.0, 1.0])
    got = ranking_metrics(scores, np.array([0, 0, 1], bool), k=2)
    assert got == {"precision": 0.0, "recall": 0.0, "ndcg": 0.0, "hit_rate": 0.0}
    assert all(math.isnan(v) for v in ranking_metrics(scores, np.zeros(3, bool), k=2).values())


def test_untied_scores_all_tie_modes_agree():
    rng = np.random.default_rng(1)
    scores = rng.permutation(50).astype(float)
    relevant = rng.random(50) < 0.2
    modes = [
        ranking_metrics(scores, relevant, k=10, ties=t)
        for t in ("expected", "optimistic", "pessimistic", "first")
    ]
    for m in METRICS:
        assert {round(d[m], 12) for d in modes} == {round(modes[0][m], 12)}


def test_hit_probability_of_a_straddling_block_is_hypergeometric():
    # a block of 5 tied movies, 1 relevant, cut at k = 2: P(hit) = 2/5
    got = ranking_metrics(np.zeros(5), np.array([1, 0, 0, 0, 0], bool), k=2)
    assert got["hit_rate"] == pytest.approx(2 / 5)
    assert got["precision"] == pytest.approx((2 / 5) / 2)
    # block of 6 with 2 relevant, first 3 drawn: P(no hit) = C(4,3)/C(6,3) = 4/20
    got = ranking_metrics(np.ones(6), np.array([0, 1, 0, 0, 1, 0], bool), k=3)
    assert got["hit_rate"] == pytest.approx(1 - 4 / 20)


def test_nan_scores_rank_last():
    scores = np.array([np.nan, 0.1, 0.2])
    relevant = np.array([1, 0, 0], bool)
    assert ranking_metrics(scores, relevant, k=2)["hit_rate"] == 0.0
    assert ranking_metrics(scores, relevant, k=3)["precision"] == pytest.approx(1 / 3)


def test_k_larger_than_candidate_list():
    got = ranking_metrics(np.array([2.0, 1.0]), np.array([0, 1], bool), k=10)
    assert got["precision"] == pytest.approx(1 / 10)  # precision divides by k, always
    assert got["recall"] == 1.0
    assert got["ndcg"] == pytest.approx(1 / math.log2(3))


def test_first_mode_keeps_input_order_inside_ties():
    scores = np.array([1.0, 1.0, 1.0, 0.0])
    relevant = np.array([0, 0, 1, 0], bool)
    assert ranking_metrics(scores, relevant, k=1, ties="first")["hit_rate"] == 0.0
    assert ranking_metrics(scores, relevant, k=1, ties="optimistic")["hit_rate"] == 1.0
    assert ranking_metrics(scores, relevant, k=1, ties="pessimistic")["hit_rate"] == 0.0
    assert ranking_metrics(scores, relevant, k=1)["hit_rate"] == pytest.approx(1 / 3)


def test_tie_block_at_cut():
    assert tie_block_at_cut(np.array([5.0, 4.0, 3.0, 2.0]), k=2) == 1
    assert tie_block_at_cut(np.array([5.0, 4.0, 4.0, 4.0, 1.0]), k=2) == 3
    assert tie_block_at_cut(np.array([np.nan, np.nan, 1.0]), k=2) == 2


def _brute_force(scores: np.ndarray, relevant: np.ndarray, k: int) -> dict[str, list[float]]:
    """Every metric under every order of the candidates consistent with the scores."""
    out: dict[str, list[float]] = {m: [] for m in METRICS}
    for perm in itertools.permutations(range(len(scores))):
        perm = np.array(perm)
        order = perm[np.argsort(-scores[perm], kind="stable")]  # a random tie-break
        # strictly decreasing fake scores reproduce this exact order
        fake = np.empty(len(scores))
        fake[order] = np.arange(len(scores), 0, -1)
        for m, v in ranking_metrics(fake, relevant, k).items():
            out[m].append(v)
    return out


def test_fully_tied_list_equals_random_ranking_expectation():
    scores = np.zeros(6)
    relevant = np.array([1, 0, 0, 1, 0, 0], bool)
    brute = _brute_force(scores, relevant, k=3)
    got = ranking_metrics(scores, relevant, k=3)
    for m in METRICS:
        assert got[m] == pytest.approx(np.mean(brute[m]), abs=1e-12)
    # random ranking: precision = R / n, recall = k / n
    assert got["precision"] == pytest.approx(2 / 6)
    assert got["recall"] == pytest.approx(3 / 6)
    # bounds are the extremes over all tie-breakings
    for m in METRICS:
        assert ranking_metrics(scores, relevant, 3, "pessimistic")[m] == pytest.approx(min(brute[m]))
        assert ranking_metrics(scores, relevant, 3, "optimistic")[m] == pytest.approx(max(brute[m]))


@pytest.mark.parametrize("case", range(6))
def test_partially_tied_lists_match_brute_force(case):
    rng = np.random.default_rng(case)
    n = 6
    scores = rng.integers(0, 3, n).astype(float)  # 3 levels: many ties
    relevant = rng.random(n) < 0.4
    relevant[rng.integers(n)] = True
    k = int(rng.integers(1, n + 1))
    brute = _brute_force(scores, relevant, k)
    got = ranking_metrics(scores, relevant, k)
    for m in METRICS:
        assert got[m] == pytest.approx(np.mean(brute[m]), abs=1e-12), (m, scores, relevant, k)
        assert ranking_metrics(scores, relevant, k, "pessimistic")[m] == pytest.approx(min(brute[m]))
        assert ranking_metrics(scores, relevant, k, "optimistic")[m] == pytest.approx(max(brute[m]))


def test_bad_arguments():
    with pytest.raises(ValueError, match="k must be"):
        ranking_metrics(np.ones(3), np.ones(3, bool), k=0)
    with pytest.raises(ValueError, match="ties"):
        ranking_metrics(np.ones(3), np.ones(3, bool), ties="random")
    with pytest.raises(ValueError, match="one length"):
        ranking_metrics(np.ones(3), np.ones(2, bool))


# --------------------------------------------------------------------------- the split
@pytest.fixture(scope="module")
def split(synthetic_ml1m: MovieLens):
    return ranking_split(synthetic_ml1m, seed=3)


def test_split_matches_user_dataset_stratified_split(synthetic_ml1m, split):
    for u in split.user_ids[:10]:
        ds = user_dataset(synthetic_ml1m, int(u))
        ref = ds.stratified_split(0.65, seed=3)
        np.testing.assert_array_equal(split.train_movies(u), np.sort(ds.movie_ids[ref.train]))
        np.testing.assert_array_equal(split.heldout_movies(u), np.sort(ds.movie_ids[ref.test]))
        n_likes = int(ds.y.sum())
        expected_train = stratified_train_count(n_likes, 0.65) + stratified_train_count(
            len(ds) - n_likes, 0.65
        )
        assert len(split.train_movies(u)) == expected_train


def test_split_does_not_depend_on_file_order_or_other_users(synthetic_ml1m, split):
    shuffled = synthetic_ml1m.ratings.sample(frac=1.0, random_state=7).reset_index(drop=True)
    other = ranking_split(
        MovieLens(
            synthetic_ml1m.name, synthetic_ml1m.path, shuffled, synthetic_ml1m.movies, synthetic_ml1m.users
        ),
        seed=3,
    )
    subset = ranking_split(synthetic_ml1m, seed=3, user_ids=split.user_ids[5:9])
    for u in split.user_ids[5:9]:
        np.testing.assert_array_equal(split.heldout_movies(u), other.heldout_movies(u))
        np.testing.assert_array_equal(split.heldout_movies(u), subset.heldout_movies(u))
    assert not np.array_equal(
        split.heldout_movies(split.user_ids[0]),
        ranking_split(synthetic_ml1m, seed=4).heldout_movies(split.user_ids[0]),
    )


def test_split_candidates_relevant_and_frames(synthetic_ml1m, split):
    r = synthetic_ml1m.ratings
    assert len(split.train) + len(split.heldout) == len(r)
    all_movies = synthetic_ml1m.movies["movie_id"].to_numpy()
    for u in split.user_ids[:10]:
        train, held = split.train_movies(u), split.heldout_movies(u)
        assert not np.intersect1d(train, held).size
        cand = split.candidates(u)
        np.testing.assert_array_equal(cand, np.setdiff1d(all_movies, train))
        assert np.isin(held, cand).all()
        mine = r[(r["user_id"] == u) & r["movie_id"].isin(held)]
        np.testing.assert_array_equal(split.relevant(u), np.sort(mine.loc[mine["rating"] >= 4, "movie_id"]))
        cmask, rmask = split.masks(u)
        np.testing.assert_array_equal(all_movies[rmask], split.relevant(u))
        assert cmask.sum() == len(cand)
    assert "candidates = all" in split.describe()
    with pytest.raises(KeyError, match="not in this split"):
        split.candidates(10**6)


# ------------------------------------------------------------------- evaluate_ranking
def _oracle(split):
    return lambda u, cand: np.isin(cand, split.relevant(u)).astype(float)


def test_oracle_scores_are_perfect(split):
    res = evaluate_ranking(_oracle(split), split, k=5, model="oracle")
    pu = res.per_user
    assert (pu["ndcg"] == 1.0).all() and (pu["hit_rate"] == 1.0).all()
    np.testing.assert_allclose(pu["precision"], np.minimum(5, pu["n_relevant"]) / 5)
    np.testing.assert_allclose(pu["recall"], np.minimum(5, pu["n_relevant"]) / pu["n_relevant"])
    assert res.summary["ndcg"] == 1.0 and res.summary["n_users"] == len(pu)


def test_users_without_relevant_items_are_excluded_and_counted(split):
    res = evaluate_ranking(_oracle(split), split)
    no_rel = [int(u) for u in split.user_ids if len(split.relevant(u)) == 0]
    assert sorted(res.excluded_user_ids.tolist()) == no_rel
    assert res.summary["n_excluded"] == len(no_rel)
    assert len(res.per_user) + len(no_rel) == len(split.user_ids)


def test_every_score_input_gives_the_same_result(split):
    rng = np.random.default_rng(0)
    table = rng.integers(0, 4, (len(split.user_ids), len(split.movie_ids))).astype(float)  # ties
    frame = pd.DataFrame(table, index=split.user_ids, columns=split.movie_ids)
    row = {int(u): i for i, u in enumerate(split.user_ids)}
    col = pd.Index(split.movie_ids)

    def fn(u, cand):
        return table[row[u], col.get_indexer(cand)]

    arrays = {int(u): fn(int(u), split.candidates(u)) for u in split.user_ids}
    series = {int(u): frame.loc[u] for u in split.user_ids}

    class Batched:  # any object with score_batch, not a Recommender
        def score_batch(self, users, movies):
            return np.stack([fn(int(u), movies) for u in users])

    inputs = (fn, table, frame, arrays, series, Batched())
    results = [evaluate_ranking(x, split, k=5, batch_size=4) for x in inputs]
    for other in results[1:]:
        pd.testing.assert_frame_equal(results[0].per_user, other.per_user)
    assert (results[0].per_user["cut_tie_size"] > 1).all()
    pu = results[0].per_user
    for m in METRICS:
        assert (pu[f"{m}_min"] <= pu[m] + 1e-12).all() and (pu[m] <= pu[f"{m}_max"] + 1e-12).all()


def test_mapping_defaults_to_its_users_and_bad_inputs_raise(split):
    users = [int(u) for u in split.user_ids[:8] if len(split.relevant(u))][:3]
    scores = {u: np.zeros(len(split.candidates(u))) for u in users}
    res = evaluate_ranking(scores, split)
    assert res.per_user["user_id"].tolist() == users
    with pytest.raises(ValueError, match="one per candidate"):
        evaluate_ranking({users[0]: np.zeros(3)}, split)
    with pytest.raises(KeyError, match="not in the split"):
        evaluate_ranking(_oracle(split), split, user_ids=[10**6])
    with pytest.raises(ValueError, match="shape"):
        evaluate_ranking(np.zeros((2, 2)), split)
    with pytest.raises(TypeError):
        evaluate_ranking(42, split)


# ----------------------------------------------------------------------------- rankers
def test_popularity_counts_training_likes_only(split):
    pop = PopularityRecommender("likes").fit_split(split)
    liked = split.train[split.train["rating"] >= 4]["movie_id"].value_counts()
    movies = split.movie_ids[:20]
    expected = liked.reindex(movies, fill_value=0).to_numpy(float)
    np.testing.assert_array_equal(pop.score(movies, split.user_ids[0]), expected)
    counts = PopularityRecommender("ratings").fit_split(split).score(movies, split.user_ids[0])
    n_ratings = split.train["movie_id"].value_counts().reindex(movies, fill_value=0)
    np.testing.assert_array_equal(counts, n_ratings)
    share = PopularityRecommender("like_share").fit_split(split).score(movies, split.user_ids[0])
    assert ((share > 0) & (share < 1)).all()
    res = evaluate_ranking(pop, split)
    assert res.model == "popularity" and res.fit_time_s is not None
    assert 0 < res.summary["hit_rate"] <= 1


def test_rbm_ranker_trains_on_training_ratings_of_every_user(split):
    rbm = RBMRecommender(epochs=2, batch_size=10, init="normal").fit_split(split)
    values = rbm.matrix.values
    assert values.shape == (len(split.user_ids), len(split.movie_ids))
    assert np.count_nonzero(values) == len(split.train)  # held-out ratings are not in it
    u = int(split.user_ids[0])
    row = values[rbm.matrix.row_index(u)]
    held_cols = pd.Index(split.movie_ids).get_indexer(split.heldout_movies(u))
    assert (row[held_cols] == 0).all()
    s = rbm.score_batch(split.user_ids[:3], split.movie_ids)
    assert s.shape == (3, len(split.movie_ids)) and ((s > 0) & (s < 1)).all()
    np.testing.assert_allclose(s[0], rbm.rbm.reconstruct(row[None])[0], rtol=1e-6)
    res = evaluate_ranking(rbm, split, batch_size=7)
    assert len(rbm.rbm.errors_) == 2 and np.isfinite(res.summary["ndcg"])


def test_fit_once_ranker_contract(split):
    with pytest.raises(RuntimeError, match="fit"):
        PopularityRecommender().score(split.movie_ids, 1)
    with pytest.raises(ValueError, match="unknown ranker"):
        make_ranker("svd")
    with pytest.raises(ValueError, match="unknown ranker"):
        make_ranker("lstm")  # a per-user model only
    assert isinstance(make_ranker("popularity", kind="ratings"), Recommender)
    # the ranking protocol's defaults, and the per-user protocol refused by a fitted-once fit
    assert make_ranker("popularity").model.kind == "likes"
    assert make_ranker("rbm").epochs == 20 and make_ranker("autoencoder").epochs == 30
    pop = make_ranker("popularity").fit_split(split)
    with pytest.raises(ValueError, match="pass user_id"):
        pop.score(split.movie_ids)
    np.testing.assert_array_equal(
        pop(split.user_ids[0], split.movie_ids[:5]), pop.score(split.movie_ids[:5], split.user_ids[0])
    )
    u = int(split.user_ids[0])
    top = pop.recommend(5, user_id=u)
    assert top["rank"].tolist() == [1, 2, 3, 4, 5] and top["score"].is_monotonic_decreasing
    assert not np.isin(top["movie_id"], split.train_movies(u)).any()
    assert top["score"].iloc[0] == pop.score(split.candidates(u), u).max()
    with pytest.raises(ValueError, match="pass user_id"):
        pop.recommend(5)


@pytest.mark.slow
def test_autoencoder_ranker_scores_training_columns_only(split):
    pytest.importorskip("tensorflow")
    ae = make_ranker("autoencoder", epochs=1, batch_size=20, n_hidden=8).fit_split(split)
    trained = np.unique(split.train["movie_id"])
    assert ae.matrix.shape == (len(split.user_ids), len(trained))
    assert np.count_nonzero(ae.matrix.values) == len(split.train)
    s = ae.score(split.movie_ids, split.user_ids[0])
    no_column = ~np.isin(split.movie_ids, trained)
    assert no_column.any() and np.isnan(s[no_column]).all() and np.isfinite(s[~no_column]).all()
    res = evaluate_ranking(ae, split)
    assert isinstance(res, RankingResult) and np.isfinite(res.summary["precision"])


def test_compare_rankings_table(split):
    a = evaluate_ranking(_oracle(split), split, model="oracle")
    b = evaluate_ranking(PopularityRecommender().fit_split(split), split)
    table = compare_rankings([a, b])
    assert list(table.index) == ["oracle", "popularity"]
    assert table.loc["oracle", "ndcg"] == 1.0 > table.loc["popularity", "ndcg"]
    assert {"precision", "recall", "ndcg", "hit_rate", "n_excluded", "fit_time_s"} <= set(table.columns)


# ------------------------------------------------------------------------ real ML-1M
@pytest.mark.realdata
def test_real_ml1m_protocol_sizes_and_popularity(real_ml1m):
    split = ranking_split(real_ml1m)
    assert len(split.user_ids) == 6040 and len(split.movie_ids) == 3883
    # per user and class, 65 % rounded half up train, each class of 2+ rows on both sides
    per_class = real_ml1m.ratings.groupby(["user_id", real_ml1m.ratings["rating"] >= 4]).size().to_numpy()
    n_train = np.where(per_class < 2, per_class, np.clip(np.floor(per_class * 0.65 + 0.5), 1, per_class - 1))
    assert len(split.train) == int(n_train.sum()) and len(split.train) + len(split.heldout) == 1_000_209
    likes_1 = int((real_ml1m.ratings.query("user_id == 1")["rating"] >= 4).sum())
    train_1 = round(likes_1 * 0.65 + 1e-9) + round((53 - likes_1) * 0.65 + 1e-9)
    assert len(split.heldout_movies(1)) == 53 - train_1
    assert len(split.candidates(1)) == 3883 - train_1
    assert len(split.rated_movie_ids) == 3706
    users = split.user_ids[::10]  # a tenth of the users keeps this test fast
    res = evaluate_ranking(PopularityRecommender("likes").fit_split(split), split, user_ids=users)
    assert res.summary["n_users"] + res.summary["n_excluded"] == len(users)
    assert 0.15 < res.summary["precision"] < 0.3 and 0.6 < res.summary["hit_rate"] < 0.85
    # a genre-only score ties whole blocks of movies at the cut
    from recsys_utils.features import genre_matrix

    genres = genre_matrix(real_ml1m.movies).to_numpy(float)
    weights = np.linspace(1.0, 2.0, genres.shape[1])
    by_genre = pd.Series(genres @ weights, index=real_ml1m.movies["movie_id"].to_numpy())
    tied = evaluate_ranking(lambda u, cand: by_genre.reindex(cand).to_numpy(), split, user_ids=users[:50])
    assert tied.per_user["cut_tie_size"].median() > 1
    assert (tied.per_user["ndcg_min"] <= tied.per_user["ndcg_max"]).all()


# ------------------------------------------------------------- time split, validation, leaks
def _with_ratings(data: MovieLens, ratings: pd.DataFrame) -> MovieLens:
    return MovieLens(data.name, data.path, ratings.reset_index(drop=True), data.movies, data.users)


def test_time_split_holds_out_each_users_last_ratings(synthetic_ml1m):
    s = time_split(synthetic_ml1m)
    assert s.kind == "time" and s.seed == -1
    r = synthetic_ml1m.ratings
    for u in s.user_ids[:15]:
        own = r[r["user_id"] == u].sort_values(["timestamp", "movie_id"], kind="stable")
        n_train = int(np.floor(len(own) * 0.65 + 0.5))
        np.testing.assert_array_equal(s.train_movies(u), np.sort(own["movie_id"].to_numpy()[:n_train]))
        np.testing.assert_array_equal(s.heldout_movies(u), np.sort(own["movie_id"].to_numpy()[n_train:]))
        last_train = own["timestamp"].to_numpy()[n_train - 1]
        assert (own["timestamp"].to_numpy()[n_train:] >= last_train).all()
    assert len(s.train) + len(s.heldout) == len(r)


def test_time_split_ignores_file_order(synthetic_ml1m):
    shuffled = _with_ratings(synthetic_ml1m, synthetic_ml1m.ratings.sample(frac=1.0, random_state=1))
    a, b = time_split(synthetic_ml1m), time_split(shuffled)
    for u in a.user_ids:
        np.testing.assert_array_equal(a.heldout_movies(u), b.heldout_movies(u))


def test_time_split_refuses_users_without_timestamps(synthetic_ml1m):
    r = synthetic_ml1m.ratings.copy()
    late = r["user_id"] >= 50  # as users 3000+ of the shared ML-1M copy: timestamp 0
    r.loc[late, "timestamp"] = 0
    data = _with_ratings(synthetic_ml1m, r)
    with pytest.raises(ValueError, match="without a timestamp.*timestamped_users"):
        time_split(data)
    with pytest.raises(ValueError, match="users \\[50"):
        time_split(data, user_ids=[1, 50])
    ok = timestamped_users(data)
    assert ok.max() < 50 and len(ok) == r.loc[~late, "user_id"].nunique()
    assert set(time_split(data, user_ids=ok).user_ids) == set(ok)


@pytest.mark.parametrize("kind", ["random", "time"])
def test_validation_split_uses_training_ratings_only(synthetic_ml1m, kind):
    outer = ranking_split(synthetic_ml1m, seed=2) if kind == "random" else time_split(synthetic_ml1m)
    inner = validation_split(synthetic_ml1m, outer, seed=7)
    assert inner.kind == outer.kind
    both = pd.concat([inner.train, inner.heldout])
    assert len(both) == len(outer.train)
    keys = lambda f: set(zip(f["user_id"], f["movie_id"]))  # noqa: E731
    assert keys(both) == keys(outer.train) and not keys(both) & keys(outer.heldout)


def _changed_heldout(data: MovieLens, split) -> MovieLens:
    """``data`` with every held-out rating of ``split`` changed (stars flipped, and one movie
    that no one rated replacing a held-out movie), training ratings and their times unchanged."""
    r = data.ratings.copy()
    held = r.set_index(["user_id", "movie_id"]).index.isin(
        split.heldout.set_index(["user_id", "movie_id"]).index
    )
    r.loc[held, "rating"] = (6 - r.loc[held, "rating"]).astype(r["rating"].dtype)
    unrated = np.setdiff1d(data.movies["movie_id"], r["movie_id"])
    first = np.flatnonzero(held)[0]
    user = r.loc[first, "user_id"]
    assert unrated.size and unrated[0] not in r.loc[r["user_id"] == user, "movie_id"].to_numpy()
    r.loc[first, "movie_id"] = unrated[0]
    return _with_ratings(data, r)


@pytest.mark.slow
def test_autoencoder_ranker_does_not_see_heldout_ratings(synthetic_ml1m):
    """Changing every held-out rating (and making a held-out movie one that no one else rated)
    leaves the autoencoder's scores unchanged: it fits on training rows only. Before its
    columns were taken from the training rows, the held-out-only movie added a column, and
    every score changed."""
    pytest.importorskip("tensorflow")
    a = time_split(synthetic_ml1m)
    changed = _changed_heldout(synthetic_ml1m, a)
    b = time_split(changed)
    pd.testing.assert_frame_equal(a.train.reset_index(drop=True), b.train.reset_index(drop=True))
    assert not a.heldout.reset_index(drop=True).equals(b.heldout.reset_index(drop=True))
    assert len(np.setdiff1d(b.rated_movie_ids, a.rated_movie_ids)) == 1  # the new held-out-only movie
    kw = {"epochs": 2, "batch_size": 20, "n_hidden": 8, "seed": 1}
    users = a.user_ids[:10]
    sa = make_ranker("autoencoder", **kw).fit_split(a).score_batch(users, a.movie_ids)
    sb = make_ranker("autoencoder", **kw).fit_split(b).score_batch(users, a.movie_ids)
    np.testing.assert_array_equal(sa, sb)


def test_popularity_rankers_do_not_see_heldout_ratings(synthetic_ml1m):
    from recsys_utils.recommenders.popularity import GenrePopularityRecommender

    a = time_split(synthetic_ml1m)
    changed = _changed_heldout(synthetic_ml1m, a)
    b = time_split(changed)
    users = a.user_ids[:10]
    for make in (
        lambda d: PopularityRecommender("likes"),
        lambda d: GenrePopularityRecommender(d, "user"),
        lambda d: GenrePopularityRecommender(d, "all"),
    ):
        sa = make(synthetic_ml1m).fit_split(a).score_batch(users, a.movie_ids)
        sb = make(changed).fit_split(b).score_batch(users, a.movie_ids)
        np.testing.assert_array_equal(sa, sb)


def test_genre_popularity_counts_the_users_liked_genre_patterns(synthetic_ml1m, split):
    from recsys_utils.features import genre_matrix
    from recsys_utils.recommenders.popularity import GenrePopularityRecommender

    own = GenrePopularityRecommender(synthetic_ml1m, "user").fit_split(split)
    pooled = GenrePopularityRecommender(synthetic_ml1m, "all").fit_split(split)
    flags = genre_matrix(synthetic_ml1m.movies)
    u = int(split.user_ids[4])
    movies, stars = split._train_movies[u]
    liked = flags.loc[movies[stars >= 4]].to_numpy()
    for m in split.movie_ids[:40]:
        row = flags.loc[m].to_numpy()
        expected = int((liked == row).all(axis=1).sum())
        assert own.score([m], user_id=u)[0] == expected
    train = split.train
    all_liked = flags.loc[train.loc[train["rating"] >= 4, "movie_id"]].to_numpy()
    m = split.movie_ids[0]
    assert pooled.score([m], user_id=u)[0] == int((all_liked == flags.loc[m].to_numpy()).all(axis=1).sum())
    np.testing.assert_array_equal(
        pooled.score(split.movie_ids, u), pooled.score(split.movie_ids, split.user_ids[0])
    )


@pytest.mark.parametrize("kind", ["likes", "ratings", "like_share"])
def test_genre_popularity_own_rows_is_popularity_of_the_users_patterns(synthetic_ml1m, split, kind):
    from recsys_utils.models.popularity import Popularity
    from recsys_utils.recommenders.popularity import GenrePopularityRecommender

    rec = GenrePopularityRecommender(synthetic_ml1m, "user", kind).fit_split(split)
    pattern = rec._pattern
    for u in split.user_ids[:5]:
        movies, stars = split._train_movies[int(u)]
        ref = Popularity(kind).fit(
            pattern.loc[movies].to_numpy(), stars >= 4, universe=np.arange(rec.n_patterns)
        )
        expected = ref.score(pattern.loc[split.movie_ids].to_numpy())
        np.testing.assert_allclose(rec.score(split.movie_ids, int(u)), expected, rtol=1e-12)


def test_autoencoder_track_errors_off_trains_the_same_parameters():
    pytest.importorskip("tensorflow")
    from recsys_utils.models.autoencoder import RatingAutoencoder

    R = np.random.default_rng(0).integers(0, 6, size=(40, 30)).astype(np.float32)
    seen = []
    a = RatingAutoencoder(8).fit(R, epochs=3, batch_size=10, seed=2)
    b = RatingAutoencoder(8, track_errors=False).fit(
        R, epochs=3, batch_size=10, seed=2, on_epoch_end=seen.append
    )
    for name, w in a.get_weights().items():
        np.testing.assert_array_equal(w, b.get_weights()[name])
    assert seen == [1, 2, 3] and list(b.history) == ["loss"] and b.history["loss"] == a.history["loss"]
