"""Per-user genre rows, splits and rating matrices (recsys_utils.features)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_utils import features as F
from recsys_utils.data.genres import REPORT_GENRES


def test_genre_matrix_follows_the_report_column_order():
    movies = pd.DataFrame(
        {"movie_id": [10, 3], "title": ["a", "b"], "genres": ["Animation|Children's|Comedy", ""]}
    )
    g = F.genre_matrix(movies)
    assert list(g.columns) == list(REPORT_GENRES)
    assert list(g.index) == [10, 3]
    # Comedy is a3, Children's a5, Animation a13 in the report's order.
    assert np.flatnonzero(g.loc[10].to_numpy()).tolist() == [2, 4, 12]
    assert g.loc[3].sum() == 0


def test_genre_matrix_rejects_unknown_genres():
    movies = pd.DataFrame({"movie_id": [1], "title": ["a"], "genres": ["Comedy|Space Opera"]})
    with pytest.raises(ValueError, match="Space Opera"):
        F.genre_matrix(movies)


def test_user_dataset_keeps_file_order_and_labels(synthetic_ml1m):
    data = synthetic_ml1m
    user = int(data.ratings["user_id"].iloc[0])
    ds = F.user_dataset(data, user)
    rows = data.ratings[data.ratings["user_id"] == user]
    assert ds.movie_ids.tolist() == rows["movie_id"].tolist()
    assert ds.X.shape == (len(rows), 18) and ds.X.dtype == np.float32
    assert set(np.unique(ds.X)) <= {0.0, 1.0}
    assert ds.y.tolist() == (rows["rating"] >= 4).astype(float).tolist()
    frame = ds.to_frame()
    assert list(frame.columns) == ["movie_id", *REPORT_GENRES, "rating", "like"]
    # Each row's attributes are the movie's genres.
    movies = data.movies.set_index("movie_id")
    for mid, row in zip(ds.movie_ids[:5], ds.X[:5]):
        names = {REPORT_GENRES[i] for i in np.flatnonzero(row)}
        assert names == set(filter(None, movies.loc[mid, "genres"].split("|")))


def test_like_threshold_is_configurable(synthetic_ml1m):
    user = int(synthetic_ml1m.ratings["user_id"].iloc[0])
    strict = F.user_dataset(synthetic_ml1m, user, like_threshold=5)
    assert strict.y.tolist() == (strict.ratings >= 5).astype(float).tolist()
    assert strict.n_likes <= F.user_dataset(synthetic_ml1m, user).n_likes


def test_report_split_takes_the_first_rows():
    split = F.ordered_split(53)
    assert split.train.tolist() == list(range(34)) and split.test.tolist() == list(range(34, 53))
    text = F.ordered_split(53, F.REPORT_TEXT_TRAIN_FRACTION)
    assert len(text.train) == 37 and len(text.test) == 16
    with pytest.raises(ValueError, match="train_fraction"):
        F.ordered_split(10, 1.0)


def test_random_split_ignores_row_order_and_is_seeded(synthetic_ml1m):
    user = int(synthetic_ml1m.ratings["user_id"].iloc[0])
    ds = F.user_dataset(synthetic_ml1m, user)
    shuffled = ds.subset(np.random.default_rng(7).permutation(len(ds)))
    a, b = ds.random_split(seed=3), shuffled.random_split(seed=3)
    assert sorted(ds.movie_ids[a.test]) == sorted(shuffled.movie_ids[b.test])
    assert len(a.train) == int(len(ds) * 0.65)
    assert np.intersect1d(a.train, a.test).size == 0
    assert len(a.train) + len(a.test) == len(ds)
    other = ds.random_split(seed=4)
    assert sorted(ds.movie_ids[other.test]) != sorted(ds.movie_ids[a.test])


def test_user_datasets_matches_one_at_a_time(synthetic_ml1m):
    users = synthetic_ml1m.users["user_id"].tolist()[:5]
    many = F.user_datasets(synthetic_ml1m, users)
    for ds in many:
        one = F.user_dataset(synthetic_ml1m, ds.user_id)
        np.testing.assert_array_equal(one.X, ds.X)
        np.testing.assert_array_equal(one.movie_ids, ds.movie_ids)
    with pytest.raises(KeyError):
        F.user_dataset(synthetic_ml1m, 10**6)


def test_unseen_movies_are_the_complement(synthetic_ml1m):
    user = int(synthetic_ml1m.ratings["user_id"].iloc[0])
    unseen = F.unseen_movies(synthetic_ml1m, user)
    rated = set(F.user_dataset(synthetic_ml1m, user).movie_ids.tolist())
    assert not rated & set(unseen["movie_id"])
    assert len(unseen) + len(rated) == len(synthetic_ml1m.movies)


def test_rating_matrix_dense_and_sparse_agree():
    ratings = pd.DataFrame({"user_id": [2, 1, 2, 9], "movie_id": [30, 10, 10, 20], "rating": [5, 3, 4, 1]})
    m = F.rating_matrix(ratings)
    assert m.user_ids.tolist() == [1, 2, 9] and m.movie_ids.tolist() == [10, 20, 30]
    np.testing.assert_array_equal(m.values, [[3, 0, 0], [4, 0, 5], [0, 1, 0]])
    s = F.rating_matrix(ratings, sparse=True, scale=5.0)
    np.testing.assert_allclose(s.values.toarray(), m.values / 5.0)
    sub = F.rating_matrix(ratings, user_ids=[2], movie_ids=[30, 10, 20, 40])
    np.testing.assert_array_equal(sub.values, [[5, 4, 0, 0]])
    assert sub.row_index(2) == 0 and sub.column_index([20, 30]).tolist() == [2, 0]
    with pytest.raises(KeyError):
        F.rating_matrix(ratings, movie_ids=[10, 20])
    with pytest.raises(KeyError):
        m.row_index(5)


@pytest.mark.realdata
def test_user_1_is_the_reports_dataset(real_ml1m):
    ds = F.user_dataset(real_ml1m, 1)
    assert ds.X.shape == (53, 18)
    split = ds.report_split()
    assert (len(split.train), len(split.test)) == (34, 19)
    # The report's training log shows acc 0.7647 = 26/34 for a constant "like" predictor.
    assert ds.y[split.train].sum() == 26 and ds.y[split.test].sum() == 19
    assert ds.n_likes == 45  # 45/53 = 84.91 %, the report's LSTM accuracy
    assert ds.movie_ids[0] == 1193


@pytest.mark.realdata
def test_real_rating_matrices_have_the_report_shapes(real_ml1m):
    ae = F.rating_matrix(real_ml1m.ratings)
    assert ae.shape == (6040, 3706)
    rbm = F.rating_matrix(
        real_ml1m.ratings,
        user_ids=np.arange(1, 1501),
        movie_ids=real_ml1m.movies["movie_id"].to_numpy(),
        scale=5.0,
    )
    assert rbm.shape == (1500, 3883) and rbm.values.max() == 1.0


# ------------------------------------------------------------------- one rule each
def test_seeded_order_ignores_file_order_and_is_the_one_permutation():
    movie_ids = np.array([50, 10, 40, 30, 20])
    order = F.seeded_order(movie_ids, user_id=7, seed=3)
    assert sorted(order.tolist()) == list(range(5))
    sorted_ids = np.sort(movie_ids)
    expected = sorted_ids[np.random.default_rng([3, 7]).permutation(5)]
    np.testing.assert_array_equal(movie_ids[order], expected)
    shuffled = movie_ids[[4, 2, 0, 3, 1]]
    np.testing.assert_array_equal(shuffled[F.seeded_order(shuffled, 7, 3)], expected)
    assert not np.array_equal(movie_ids[F.seeded_order(movie_ids, 8, 3)], expected)


def test_random_split_is_a_cut_of_the_seeded_order(synthetic_ml1m):
    ds = F.user_dataset(synthetic_ml1m, 2)
    split = ds.random_split(0.65, seed=4)
    order = ds.seeded_order(4)
    n_train = int(len(ds) * 0.65)
    np.testing.assert_array_equal(split.train, np.sort(order[:n_train]))
    np.testing.assert_array_equal(split.test, np.sort(order[n_train:]))


def test_sample_users_is_the_one_seeded_sampler(synthetic_ml1m):
    counts = synthetic_ml1m.ratings.groupby("user_id").size()
    eligible = np.sort(counts.index[counts >= 40].to_numpy())
    a = F.sample_users(synthetic_ml1m, 5, seed=2, min_ratings=40)
    expected = np.sort(np.random.default_rng([2, len(eligible)]).choice(eligible, 5, replace=False))
    np.testing.assert_array_equal(a, expected)
    assert np.all(np.diff(a) > 0) and np.isin(a, eligible).all()
    np.testing.assert_array_equal(F.sample_users(synthetic_ml1m, None, min_ratings=40), eligible)
    with pytest.raises(ValueError, match="only"):
        F.sample_users(synthetic_ml1m, len(eligible) + 1, min_ratings=40)
    with pytest.raises(ValueError, match="min_ratings"):
        F.sample_users(synthetic_ml1m, 5, min_ratings=0)


@pytest.mark.parametrize("fraction", [0.5, 0.65, 0.8])
def test_stratified_split_keeps_each_class_share_and_cuts_the_seeded_order(synthetic_ml1m, fraction):
    for ds in F.user_datasets(synthetic_ml1m, [1, 2, 3, 4, 5]):
        split = ds.stratified_split(fraction, seed=3)
        assert split.kind == "stratified"
        assert np.array_equal(np.sort(np.concatenate([split.train, split.test])), np.arange(len(ds)))
        order = ds.seeded_order(3)
        for value in (0.0, 1.0):
            in_class = order[ds.y[order] == value]
            n_train = F.stratified_train_count(len(in_class), fraction)
            # the class's first n_train rows of the seeded order train, the rest test
            assert set(in_class[:n_train]) == set(split.train) & set(in_class)
            assert set(in_class[n_train:]) == set(split.test) & set(in_class)
            if len(in_class) >= 2:
                assert 1 <= n_train <= len(in_class) - 1
                assert abs(n_train - len(in_class) * fraction) <= 0.5


def test_stratified_train_count_rounds_half_up_and_keeps_both_sides():
    assert F.stratified_train_count(0, 0.65) == 0
    assert F.stratified_train_count(1, 0.65) == 1
    assert F.stratified_train_count(2, 0.65) == 1  # 1.3 -> 1
    assert F.stratified_train_count(2, 0.99) == 1  # kept below n: one row held out
    assert F.stratified_train_count(3, 0.01) == 1  # kept above 0: one row trains
    assert F.stratified_train_count(10, 0.65) == 7  # 6.5 rounds half up
    assert F.stratified_train_count(20, 0.65) == 13


def test_stratified_cut_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        F.stratified_cut(np.zeros(3), np.arange(4), 0.5)
