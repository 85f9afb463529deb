"""The synthetic MovieLens twin: format, determinism, and the properties tests rely on."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from recsys_utils.data import MovieLens, download_dataset, load_movielens
from recsys_utils.data.genres import ML1M_GENRES, MODERN_GENRES
from recsys_utils.data.synthetic import (
    ML1M_RATING_SHARES,
    write_synthetic_archive,
    write_synthetic_movielens,
)

ML1M_FILES = ("ratings.dat", "movies.dat", "users.dat")
ML100K_FILES = ("u.data", "u.item", "u.user")


def _bytes(folder: Path, names: tuple[str, ...]) -> dict[str, bytes]:
    return {n: (folder / n).read_bytes() for n in names}


@pytest.mark.parametrize(("variant", "names"), [("ml-1m", ML1M_FILES), ("ml-100k", ML100K_FILES)])
def test_deterministic_per_seed(tmp_path: Path, variant: str, names: tuple[str, ...]) -> None:
    a = write_synthetic_movielens(tmp_path / "a", variant=variant, n_users=20, n_movies=80)
    b = write_synthetic_movielens(tmp_path / "b", variant=variant, n_users=20, n_movies=80)
    c = write_synthetic_movielens(tmp_path / "c", variant=variant, n_users=20, n_movies=80, seed=1)
    assert a == tmp_path / "a" / variant
    assert _bytes(a, names) == _bytes(b, names)
    differ = [n for n in names if (a / n).read_bytes() != (c / n).read_bytes()]
    assert differ == list(names)


def test_archive_is_deterministic_and_laid_out_like_the_official_one(tmp_path: Path) -> None:
    info = write_synthetic_archive(tmp_path / "one.zip", n_users=10, n_movies=40)
    again = write_synthetic_archive(tmp_path / "two.zip", n_users=10, n_movies=40)
    assert info == again
    assert set(info) == {"size", "md5", "sha256"}
    assert info["size"] == (tmp_path / "one.zip").stat().st_size
    with zipfile.ZipFile(tmp_path / "one.zip") as zf:
        names = set(zf.namelist())
    assert {f"ml-1m/{n}" for n in ML1M_FILES} <= names
    assert all(n.startswith("ml-1m/") for n in names)


def test_min_ratings_per_user(tmp_path: Path) -> None:
    write_synthetic_movielens(tmp_path, n_users=40, n_movies=120, min_ratings=25, seed=5)
    ml = load_movielens("ml-1m", data_dir=tmp_path)
    per_user = ml.ratings.groupby("user_id").size()
    assert len(per_user) == 40
    assert per_user.min() >= 25
    assert per_user.max() > 25  # not all at the minimum


def test_genres_valid_and_every_genre_used(synthetic_ml1m: MovieLens) -> None:
    used = [g for s in synthetic_ml1m.movies["genres"] for g in s.split("|")]
    assert set(used) <= set(ML1M_GENRES)
    assert len(set(used)) >= 15
    assert (synthetic_ml1m.movies["genres"] != "").all()


def test_rating_distribution_close_to_ml1m(synthetic_ml1m: MovieLens) -> None:
    shares = synthetic_ml1m.ratings["rating"].value_counts(normalize=True).sort_index()
    assert shares.index.tolist() == [1, 2, 3, 4, 5]
    np.testing.assert_allclose(shares.to_numpy(), ML1M_RATING_SHARES, atol=0.02)


def test_ml1m_shape_of_the_files(synthetic_ml1m: MovieLens, synthetic_dir: Path) -> None:
    ml = synthetic_ml1m
    ids = ml.movies["movie_id"].to_numpy()
    assert (np.diff(ids) > 0).all()  # movies.dat in id order
    assert ids[-1] > len(ids)  # ids with gaps, like ML-1M
    rated = set(ml.ratings["movie_id"])
    assert 0 < len(set(ids) - rated) < 0.2 * len(ids)  # some movies never rated
    assert ml.ratings["user_id"].is_monotonic_increasing  # grouped by user
    sorted_users = 0
    for _, group in ml.ratings.groupby("user_id", sort=False):
        assert group["timestamp"].is_monotonic_increasing
        assert group["timestamp"].is_unique
        sorted_users += group["movie_id"].is_monotonic_increasing
    assert sorted_users == 0  # a user's movies are not listed in id order
    assert set(ml.users["age"]) <= {1, 18, 25, 35, 45, 50, 56}
    assert ml.users["occupation"].between(0, 20).all()
    assert set(ml.users["gender"]) == {"M", "F"}
    raw = (synthetic_dir / "ml-1m" / "movies.dat").read_bytes()
    assert any(b >= 0x80 for b in raw)  # latin-1 titles, as in ML-1M
    assert any(not t.isascii() for t in ml.movies["title"])
    assert ml.movies["title"].str.fullmatch(r".+ \(\d{4}\)").all()


def test_ml100k_variant_loads(tmp_path: Path) -> None:
    write_synthetic_movielens(tmp_path, variant="ml-100k", n_users=25, n_movies=90, seed=2)
    ml = load_movielens("ml-100k", data_dir=tmp_path)
    assert ml.movies["movie_id"].tolist() == list(range(1, 91))
    assert ml.ratings.groupby("user_id").size().min() >= 20
    assert not ml.ratings["user_id"].is_monotonic_increasing  # users interleaved
    for _, group in ml.ratings.groupby("user_id"):
        assert group["timestamp"].is_monotonic_increasing


def _genre_spread(ratings, movies) -> np.ndarray:
    """Per user: max - min over genres (with >= 4 ratings) of the share of 4-5 ratings."""
    r = ratings.merge(movies, on="movie_id")
    r = r.assign(genre=r["genres"].str.split("|"), liked=r["rating"] >= 4).explode("genre")
    spread = []
    for _, group in r.groupby("user_id"):
        rates = group.groupby("genre")["liked"].agg(["mean", "size"])
        rates = rates[rates["size"] >= 4]["mean"]
        if len(rates) >= 2:
            spread.append(rates.max() - rates.min())
    return np.asarray(spread)


def test_genres_carry_signal(synthetic_ml1m: MovieLens) -> None:
    """Per user, the share of liked (4-5) ratings differs between genres far more than
    when the user's ratings are shuffled over their movies: genres predict liking."""
    ml = synthetic_ml1m
    rng = np.random.default_rng(0)
    shuffled = ml.ratings.copy()
    shuffled["rating"] = shuffled.groupby("user_id")["rating"].transform(
        lambda s: rng.permutation(s.to_numpy())
    )
    real, control = _genre_spread(ml.ratings, ml.movies), _genre_spread(shuffled, ml.movies)
    assert len(real) >= 50
    assert np.median(real) > np.median(control) + 0.15


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"variant": "ml-99m"}, "variant"),
        ({"n_users": 0}, "n_users"),
        ({"n_movies": 30, "min_ratings": 29}, "min_ratings"),
        ({"min_ratings": 0}, "min_ratings"),
    ],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        write_synthetic_movielens(tmp_path, **kwargs)


# --------------------------------------------------------------------------- later releases


@pytest.mark.parametrize("variant", ["ml-10m", "ml-20m", "ml-25m", "ml-32m"])
def test_later_release_twins_in_their_exact_formats(tmp_path: Path, variant: str) -> None:
    folder = write_synthetic_movielens(tmp_path, variant=variant, n_users=25, n_movies=90)
    ml = load_movielens(variant, data_dir=tmp_path, download=False)
    csv = variant != "ml-10m"
    ratings_file, movies_file = ("ratings.csv", "movies.csv") if csv else ("ratings.dat", "movies.dat")
    assert sorted(p.name for p in folder.iterdir()) == sorted(["README", ratings_file, movies_file])
    ratings_lines = (folder / ratings_file).read_text(encoding="utf-8").splitlines()
    movies_text = (folder / movies_file).read_bytes().decode("utf-8")  # UTF-8, not latin-1
    if csv:
        assert ratings_lines[0] == "userId,movieId,rating,timestamp"
        assert movies_text.startswith("movieId,title,genres\n")
        assert all(len(line.split(",")) == 4 for line in ratings_lines)
        assert all(line.split(",")[2] in {f"{k / 2:.1f}" for k in range(1, 11)} for line in ratings_lines[1:])
        assert '"' in movies_text  # titles with commas or quotes are quoted
    else:
        assert all(len(line.split("::")) == 4 for line in ratings_lines)
        stars = {line.split("::")[2] for line in ratings_lines}
        assert "4" in stars and "3.5" in stars and "4.0" not in stars
    assert len(ml.ratings) == len(ratings_lines) - csv
    assert [str(t) for t in ml.ratings.dtypes] == ["int32", "int32", "float32", "int64"]
    assert set(np.unique(ml.ratings["rating"] * 2)) <= set(range(1, 11))
    assert (ml.ratings["rating"] % 1 == 0.5).any()
    assert list(ml.users.columns) == ["user_id"] and len(ml.users) == 25
    genres = {g for s in ml.movies["genres"] for g in s.split("|") if g}
    assert genres <= set(MODERN_GENRES) and {"IMAX", "Children"} <= genres
    assert "(no genres listed)" in movies_text and (ml.movies["genres"] == "").any()
    assert any(not t.isascii() for t in ml.movies["title"])


def test_ml10m_archive_holds_ml_10M100K(tmp_path: Path) -> None:
    """The official ML-10M archive's folder is ml-10M100K/; the cache folder is ml-10m/."""
    info = write_synthetic_archive(tmp_path / "ml-10m.zip", variant="ml-10m", n_users=10, n_movies=40)
    with zipfile.ZipFile(tmp_path / "ml-10m.zip") as zf:
        assert {n.split("/")[0] for n in zf.namelist()} == {"ml-10M100K"}
    body = (tmp_path / "ml-10m.zip").read_bytes()

    class Response(io.BytesIO):
        headers = {"Content-Length": str(len(body))}

    folder = download_dataset(
        "ml-10m",
        url="https://x.invalid/ml-10m.zip",
        cache=tmp_path / "cache",
        expected=info,
        progress=False,
        opener=lambda request, timeout: Response(body),
    )
    assert folder == tmp_path / "cache" / "ml-10m"
    assert len(load_movielens("ml-10m", data_dir=folder, download=False).users) == 10
