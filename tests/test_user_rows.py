"""Per-user rows grouped once (recsys_utils.user_rows), on the synthetic ML-1M and ML-25M twins."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recsys_utils.data import load_movielens
from recsys_utils.data.genres import MODERN_GENRES, REPORT_GENRES
from recsys_utils.data.synthetic import write_synthetic_movielens
from recsys_utils.features import user_dataset, user_datasets
from recsys_utils.user_rows import group_user_rows, release_genres


@pytest.fixture(scope="module")
def twin_ml25m(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("synthetic-ml25m")
    write_synthetic_movielens(root, variant="ml-25m")
    return load_movielens("ml-25m", data_dir=Path(root), download=False)


def test_release_genres_follow_each_release():
    assert release_genres("ml-1m") == REPORT_GENRES
    assert len(release_genres("ml-25m")) == 19
    assert {"IMAX", "Children"} <= set(release_genres("ml-32m"))
    with pytest.raises(KeyError, match="ml-7m"):
        release_genres("ml-7m")


def test_ml1m_rows_equal_user_datasets(synthetic_ml1m):
    rows = group_user_rows(synthetic_ml1m)
    expected = user_datasets(synthetic_ml1m)
    assert rows.user_ids.tolist() == [ds.user_id for ds in expected]
    for got, want in zip(rows.datasets(), expected):
        assert got.attributes == want.attributes == REPORT_GENRES
        np.testing.assert_array_equal(got.movie_ids, want.movie_ids)  # file order kept
        np.testing.assert_array_equal(got.ratings, want.ratings)
        np.testing.assert_array_equal(got.X, want.X)
        np.testing.assert_array_equal(got.y, want.y)


def test_ml25m_twin_rows_have_the_release_width_and_half_stars(twin_ml25m):
    rows = group_user_rows(twin_ml25m)
    n_ratings = len(twin_ml25m.ratings)
    assert rows.flags.shape == (len(twin_ml25m.movies), 19)
    assert rows.attributes == MODERN_GENRES
    assert int(rows.n_ratings.sum()) == n_ratings
    assert len(rows) == twin_ml25m.ratings["user_id"].nunique()
    # memory linear in the ratings: flat per-rating arrays plus one flag row per movie, no
    # users x movies matrix (the twin's would be 60 x 200 x 4 bytes)
    per_rating = rows.movie_rows.itemsize + rows.ratings.itemsize
    assert rows.nbytes <= per_rating * n_ratings + rows.flags.nbytes + 16 * (len(rows) + 1) + 4 * len(
        rows.movie_ids
    )
    ds = rows.dataset(int(rows.user_ids[3]))
    ref = user_dataset(twin_ml25m, ds.user_id, genres=MODERN_GENRES)
    np.testing.assert_array_equal(ds.movie_ids, ref.movie_ids)
    np.testing.assert_array_equal(ds.X, ref.X)
    np.testing.assert_array_equal(ds.y, ref.y)  # like = rating >= 4, half stars included
    assert ds.X.shape == (len(ref), 19)
    halves = twin_ml25m.ratings["rating"].to_numpy()
    assert (rows.ratings % 1 == 0.5).any() and np.isin(rows.ratings, halves).all()
    # a movie marked "(no genres listed)" has a row of zeros
    bare = twin_ml25m.movies["genres"].fillna("") == ""
    assert bare.any() and not rows.flags[bare.to_numpy()].any()
    assert "IMAX" in rows.attributes and rows.flags[:, rows.attributes.index("IMAX")].any()


def test_unknown_user_and_genre_errors_are_clear(twin_ml25m):
    rows = group_user_rows(twin_ml25m)
    with pytest.raises(KeyError, match="user 999999"):
        rows.dataset(999_999)
    with pytest.raises(ValueError, match="IMAX"):
        group_user_rows(twin_ml25m, genres=REPORT_GENRES)
