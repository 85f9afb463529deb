"""Chapter 1's glued numbers against independent expectations.

The cheap tests check the committed values against each other and against the report's own
numbers (:mod:`recsys_utils.report`); the ``realdata`` tests recount them from the MovieLens 1M
files with plain pandas, without the package's features (user datasets, genre matrices). Counts
must match exactly; percentages are glued rounded to 2 (1) decimals, hence the tolerances of half
a unit in the last place.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from glued import glued

from recsys_utils import report

G = glued("01")
LIKE = 4  # a like is a rating of 4 or 5 stars (report section 5.1)
PCT_2DP = 0.005 + 1e-9  # half a unit of the 2nd decimal: the glued percentages are rounded to 2
PCT_1DP = 0.05 + 1e-9


def test_user_split_adds_up() -> None:
    assert G["ch01_train_rows"] + G["ch01_test_rows"] == G["ch01_user_rows"]
    assert G["ch01_train_likes"] + G["ch01_test_likes"] == G["ch01_user_likes"]
    assert G["ch01_train_rows"] == int(G["ch01_user_rows"] * G["ch01_train_fraction_pct"] / 100)
    assert G["ch01_train_fraction_pct"] + G["ch01_test_fraction_pct"] == 100
    assert G["ch01_user_ratings"] == G["ch01_user_rows"]  # figure's marked user = the table
    assert G["ch01_rows_shown"] <= 15  # the page shows a short head of the table


def test_percentages_are_the_counts() -> None:
    for pct, num, den in (
        ("ch01_user_like_pct", "ch01_user_likes", "ch01_user_rows"),
        ("ch01_train_like_pct", "ch01_train_likes", "ch01_train_rows"),
        ("ch01_test_like_pct", "ch01_test_likes", "ch01_test_rows"),
    ):
        assert G[pct] == pytest.approx(100 * G[num] / G[den], abs=PCT_2DP)


def test_conclusions_against_the_report() -> None:
    # "all test rows are likes": a constant predictor is right on every test row
    assert G["ch01_test_likes"] == G["ch01_test_rows"]
    # the report's LSTM accuracy is the share of likes over all rows (84.91 %)
    assert G["ch01_report_lstm_pct"] == report.RESULTS["lstm"].accuracy_pct
    assert G["ch01_user_like_pct"] == pytest.approx(G["ch01_report_lstm_pct"], abs=PCT_2DP)
    # the training accuracy printed at every logged epoch, for both models, is the train like share
    printed = {acc for epochs in report.PRINTED_EPOCHS.values() for _, acc in epochs.values()}
    assert printed == {G["ch01_report_printed_train_acc"]}
    assert 100 * G["ch01_report_printed_train_acc"] == pytest.approx(G["ch01_train_like_pct"], abs=PCT_2DP)
    assert G["ch01_train_fraction_pct"] == round(100 * report.TRAIN_FRACTION)
    # random splits are not all likes (the prose contrasts them with the ordered split)
    assert G["ch01_random_test_likes_min"] <= G["ch01_random_test_likes_max"] < G["ch01_test_rows"]


@pytest.fixture(scope="module")
def ratings(real_ml1m) -> pd.DataFrame:
    return real_ml1m.ratings


@pytest.mark.realdata
def test_dataset_counts(real_ml1m, ratings: pd.DataFrame) -> None:
    per_user = ratings.groupby("user_id").size()
    assert G["ch01_ratings"] == len(ratings) == 1_000_209
    assert G["ch01_users"] == ratings["user_id"].nunique() == 6_040
    assert G["ch01_movies"] == len(real_ml1m.movies) == 3_883
    assert G["ch01_rated_movies"] == ratings["movie_id"].nunique() == 3_706
    assert (G["ch01_min_per_user"], G["ch01_median_per_user"], G["ch01_max_per_user"]) == (
        per_user.min(),
        per_user.median(),
        per_user.max(),
    )
    assert G["ch01_like_share_pct"] == pytest.approx(100 * (ratings["rating"] >= LIKE).mean(), abs=PCT_2DP)


@pytest.mark.realdata
def test_genre_rows(real_ml1m) -> None:
    genre_sets = real_ml1m.movies["genres"].map(lambda s: frozenset(g for g in s.split("|") if g))
    sizes = genre_sets.map(len)
    assert G["ch01_distinct_rows"] == genre_sets.nunique() == 301
    assert G["ch01_one_or_two_pct"] == pytest.approx(100 * sizes.isin([1, 2]).mean(), abs=PCT_1DP)


@pytest.mark.realdata
def test_user_1_rows_in_file_order(ratings: pd.DataFrame) -> None:
    """User 1's 53 rows, 45 likes; the report's split: first 34 rows (26 likes), last 19 (19)."""
    rows = ratings[ratings["user_id"] == G["ch01_user_id"]]  # file order
    liked = (rows["rating"] >= LIKE).to_numpy()
    n_train = int(len(rows) * G["ch01_train_fraction_pct"] / 100)
    assert (G["ch01_user_rows"], G["ch01_user_likes"]) == (len(rows), liked.sum()) == (53, 45)
    assert (G["ch01_train_rows"], G["ch01_train_likes"]) == (n_train, liked[:n_train].sum()) == (34, 26)
    assert (
        (G["ch01_test_rows"], G["ch01_test_likes"])
        == (len(rows) - n_train, liked[n_train:].sum())
        == (19, 19)
    )


@pytest.mark.realdata
def test_random_splits(ratings: pd.DataFrame) -> None:
    """The documented rule: sort by movie id, permute with default_rng([seed, user]); seeds 0-2."""
    user_id = G["ch01_user_id"]
    rows = ratings[ratings["user_id"] == user_id]
    liked = (rows["rating"] >= LIKE).to_numpy()
    order = np.argsort(rows["movie_id"].to_numpy(), kind="stable")
    n_train = G["ch01_train_rows"]
    test_likes = [
        int(liked[order[np.random.default_rng([seed, user_id]).permutation(len(order))][n_train:]].sum())
        for seed in range(3)
    ]
    assert (G["ch01_random_test_likes_min"], G["ch01_random_test_likes_max"]) == (
        min(test_likes),
        max(test_likes),
    )
