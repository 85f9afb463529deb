"""Parsers, validation errors and the data-resolution order of recsys_utils.data."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys_utils.data import (
    DATASETS,
    DataUnavailableError,
    MovieLens,
    MovieLensFormatError,
    cache_dir,
    load_movielens,
    read_ml100k_movies,
    read_ml100k_ratings,
    read_ml100k_users,
    read_movies,
    read_ratings,
    read_users,
    resolve_dataset_dir,
    sources,
)
from recsys_utils.data.genres import ML1M_GENRES
from recsys_utils.data.parse_modern import (
    read_csv_movies,
    read_csv_ratings,
    read_ml10m_movies,
    read_ml10m_ratings,
)
from recsys_utils.data.synthetic import write_synthetic_movielens, write_synthetic_readme

# --------------------------------------------------------------------------- helpers

GOOD_RATINGS = ["1::10::5::978300760", "1::20::3::978302109", "2::10::4::978301968"]
GOOD_MOVIES = [
    "10::Toy Story (1995)::Animation|Children's|Comedy",
    "20::Misérables, Les (1995)::Drama|Musical",
    "30::Star Wars: Episode IV - A New Hope (1977)::Action|Adventure",
]
GOOD_USERS = ["1::F::1::10::48067", "2::M::56::16::70072-1234"]


def write(folder: Path, name: str, lines: list[str]) -> Path:
    """Write ``lines`` (latin-1, ``\\n``) to ``folder/name``; return the path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    return path


def ml1m_folder(root: Path, ratings=GOOD_RATINGS, movies=GOOD_MOVIES, users=GOOD_USERS) -> Path:
    """A hand-made ML-1M-format folder, marked as a synthetic twin with its own facts (a
    folder without that README is held to the official release's line counts)."""
    folder = root / "ml-1m"
    write(folder, "ratings.dat", ratings)
    write(folder, "movies.dat", movies)
    write(folder, "users.dat", users)
    write_synthetic_readme(folder)
    return folder


def assert_located(
    err: pytest.ExceptionInfo[MovieLensFormatError], path: Path, line: int, *words: str
) -> None:
    """The error names the file and the 1-based line, in attributes and message."""
    exc = err.value
    assert exc.path == path
    assert exc.line == line
    message = str(exc)
    assert f"{path}, line {line}:" in message
    for word in words:
        assert word in message, (word, message)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No RECSYS_DATA_DIR; an empty private cache. Returns the cache folder."""
    monkeypatch.delenv("RECSYS_DATA_DIR", raising=False)
    cache = tmp_path / "cache"
    monkeypatch.setenv("RECSYS_CACHE_DIR", str(cache))
    return cache


# --------------------------------------------------------------------------- parsers


def test_synthetic_frames_follow_the_contract(synthetic_ml1m: MovieLens, synthetic_dir: Path) -> None:
    ml = synthetic_ml1m
    assert ml.name == "ml-1m" and ml.path == synthetic_dir / "ml-1m"
    assert list(ml.ratings.columns) == ["user_id", "movie_id", "rating", "timestamp"]
    assert [str(t) for t in ml.ratings.dtypes] == ["int32", "int32", "int8", "int64"]
    assert list(ml.movies.columns) == ["movie_id", "title", "genres"]
    assert ml.movies["movie_id"].dtype == np.int32
    assert list(ml.users.columns) == ["user_id", "gender", "age", "occupation", "zip_code"]
    assert [str(ml.users[c].dtype) for c in ("user_id", "age", "occupation")] == ["int32", "int16", "int16"]
    for frame in (ml.ratings, ml.movies, ml.users):
        assert frame.index.equals(pd.RangeIndex(len(frame)))
    assert len(ml.users) == 60 and len(ml.movies) == 200
    assert "ratings=" in repr(ml) and "ml-1m" in repr(ml)


def test_parsers_match_a_plain_python_reading(synthetic_dir: Path) -> None:
    """Values, counts and file order agree with a line-by-line split of the files."""
    folder = synthetic_dir / "ml-1m"
    for reader, name, n in (
        (read_ratings, "ratings.dat", 4),
        (read_movies, "movies.dat", 3),
        (read_users, "users.dat", 5),
    ):
        text = (folder / name).read_bytes().decode("latin-1")
        rows = [line.split("::") for line in text.splitlines()]
        assert all(len(r) == n for r in rows)
        frame = reader(folder / name)
        assert len(frame) == len(rows)
        expected = pd.DataFrame(rows, columns=frame.columns)
        for col in frame.columns:
            got = frame[col].astype(str).tolist()
            assert got == expected[col].tolist(), (name, col)


def test_latin1_titles_are_decoded(tmp_path: Path) -> None:
    movies = read_movies(write(tmp_path, "movies.dat", GOOD_MOVIES))
    assert movies["title"].tolist()[1] == "Misérables, Les (1995)"
    assert movies["title"].tolist()[2].startswith("Star Wars: Episode IV")
    assert movies["genres"].tolist()[0] == "Animation|Children's|Comedy"


def test_crlf_line_ends_and_missing_final_newline_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "ratings.dat"
    path.write_bytes("\r\n".join(GOOD_RATINGS).encode())
    ratings = read_ratings(path)
    assert ratings["timestamp"].tolist() == [978300760, 978302109, 978301968]


def test_users_parsed(tmp_path: Path) -> None:
    users = read_users(write(tmp_path, "users.dat", GOOD_USERS))
    assert users["gender"].tolist() == ["F", "M"]
    assert users["age"].tolist() == [1, 56]
    assert users["zip_code"].tolist() == ["48067", "70072-1234"]


def test_movie_without_genres_is_empty_string(tmp_path: Path) -> None:
    movies = read_movies(write(tmp_path, "movies.dat", ["5::Nothing (2000)::"]))
    assert movies["genres"].tolist() == [""]


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        ("3::30::4", ["expected 4 fields", "found 3"]),
        ("3::30::4::5::6", ["expected 4 fields", "found 5"]),
        ("3::x30::4::978300000", ["movie_id", "'x30'"]),
        ("3::30.5::4::978300000", ["movie_id", "'30.5'"]),
        ("3::1e3::4::978300000", ["movie_id", "'1e3'"]),
        ("3::-30::4::978300000", ["movie_id", "'-30'"]),
        ("3::::4::978300000", ["movie_id", "''"]),
        ("abc::30::4::978300000", ["user_id", "'abc'"]),
        ("3::30::6::978300000", ["rating 6", "1..5"]),
        ("3::30::0::978300000", ["rating 0", "1..5"]),
        ("3::30::4::99999999999999999999", ["timestamp"]),
        ("", ["empty line"]),
        ("3\t30::4::978300000", ["tab"]),
    ],
)
def test_bad_rating_line_is_located(tmp_path: Path, bad: str, words: list[str]) -> None:
    path = write(tmp_path, "ratings.dat", GOOD_RATINGS[:2] + [bad] + GOOD_RATINGS[2:])
    with pytest.raises(MovieLensFormatError) as err:
        read_ratings(path)
    assert_located(err, path, 3, *words)


def test_error_on_the_last_line_of_a_large_file(tmp_path: Path) -> None:
    lines = [f"{u}::{m}::{1 + (u + m) % 5}::9" for u in range(1, 201) for m in range(1, 51)]
    path = write(tmp_path, "ratings.dat", lines + ["7::7::7::7"])
    with pytest.raises(MovieLensFormatError) as err:
        read_ratings(path)
    assert_located(err, path, len(lines) + 1, "rating 7")


def test_duplicate_rating_names_both_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "ratings.dat", GOOD_RATINGS + ["1::20::1::978309999"])
    with pytest.raises(MovieLensFormatError) as err:
        read_ratings(path)
    assert_located(err, path, 4, "duplicate rating", "line 2")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "ratings.dat"
    path.write_bytes(b"\n")
    with pytest.raises(MovieLensFormatError) as err:
        read_ratings(path)
    assert_located(err, path, 1, "empty")


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        ("40::Heat (1995)::Action|Thriler", ["unknown genre 'Thriler'"]),
        ("40::Heat (1995)::Action||Crime", ["unknown genre ''"]),
        ("40::Heat (1995)::Action|Crime|Action", ["repeated genre"]),
        ("20::Heat (1995)::Action", ["duplicate movie id", "movie_id=20", "line 2"]),
        ("40::Heat (1995)", ["expected 3 fields", "found 2"]),
        ("4O::Heat (1995)::Action", ["movie_id", "'4O'"]),
    ],
)
def test_bad_movie_line_is_located(tmp_path: Path, bad: str, words: list[str]) -> None:
    path = write(tmp_path, "movies.dat", GOOD_MOVIES + [bad])
    with pytest.raises(MovieLensFormatError) as err:
        read_movies(path)
    assert_located(err, path, 4, *words)


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        ("3::X::25::1::00000", ["gender 'X'"]),
        ("3::M::17::1::00000", ["age 17"]),
        ("3::M::25::21::00000", ["occupation 21"]),
        ("1::M::25::1::00000", ["duplicate user id"]),
        ("3::M::25::1", ["expected 5 fields"]),
    ],
)
def test_bad_user_line_is_located(tmp_path: Path, bad: str, words: list[str]) -> None:
    path = write(tmp_path, "users.dat", GOOD_USERS + [bad])
    with pytest.raises(MovieLensFormatError) as err:
        read_users(path)
    assert_located(err, path, 3, *words)


def test_rating_for_unknown_movie_is_located(tmp_path: Path) -> None:
    folder = ml1m_folder(tmp_path, ratings=GOOD_RATINGS + ["2::99::4::978300000"])
    with pytest.raises(MovieLensFormatError) as err:
        load_movielens("ml-1m", data_dir=tmp_path, download=False)
    assert_located(err, folder / "ratings.dat", 4, "movie_id 99", "movies.dat")


def test_rating_by_unknown_user_is_located(tmp_path: Path) -> None:
    folder = ml1m_folder(tmp_path, ratings=["1::10::5::1", "9::10::4::2"])
    with pytest.raises(MovieLensFormatError) as err:
        load_movielens("ml-1m", data_dir=folder, download=False)
    assert_located(err, folder / "ratings.dat", 2, "user_id 9", "users.dat")


def test_format_error_is_a_value_error_and_pickles(tmp_path: Path) -> None:
    exc = MovieLensFormatError(tmp_path / "x.dat", 7, "bad")
    assert isinstance(exc, ValueError)
    again = pickle.loads(pickle.dumps(exc))
    assert (again.path, again.line, str(again)) == (exc.path, 7, str(exc))


# --------------------------------------------------------------------------- ML-100K


def test_ml100k_synthetic_maps_to_the_same_schema(tmp_path: Path) -> None:
    folder = write_synthetic_movielens(tmp_path, variant="ml-100k", n_users=15, n_movies=60)
    ml = load_movielens("ml-100k", data_dir=tmp_path, download=False)
    assert ml.path == folder and len(ml.users) == 15 and len(ml.movies) == 60
    assert [str(t) for t in ml.ratings.dtypes] == ["int32", "int32", "int8", "int64"]
    assert ml.users["occupation"].map(type).eq(str).all()
    # genres rebuilt from the flags, in ML1M_GENRES order
    items = (folder / "u.item").read_bytes().decode("latin-1").splitlines()
    for line, genres in zip(items, ml.movies["genres"]):
        flags = line.split("|")[5:]
        assert genres == "|".join(g for g, f in zip(ML1M_GENRES, flags[1:]) if f == "1")
    # ratings in file order
    first = (folder / "u.data").read_text().splitlines()[0].split("\t")
    assert ml.ratings.iloc[0].tolist() == [int(v) for v in first]


def test_ml100k_item_flags_and_unknown_genre(tmp_path: Path) -> None:
    url = "http://us.imdb.com/M/title-exact?x"
    good = [f"1|Toy Story (1995)|01-Jan-1995||{url}|0|0|0|1|1|1" + "|0" * 13, "267|unknown||||1" + "|0" * 18]
    movies = read_ml100k_movies(write(tmp_path, "u.item", good))
    assert movies["genres"].tolist() == ["Animation|Children's|Comedy", ""]
    assert movies["title"].tolist() == ["Toy Story (1995)", "unknown"]
    bad = write(tmp_path, "u.item", good + ["3|X (1990)|||u|0|2" + "|0" * 17])
    with pytest.raises(MovieLensFormatError) as err:
        read_ml100k_movies(bad)
    assert_located(err, bad, 3, "'Action'", "0 or 1")
    short = write(tmp_path, "u.item", good + ["3|X (1990)|||u|0"])
    with pytest.raises(MovieLensFormatError) as err:
        read_ml100k_movies(short)
    assert_located(err, short, 3, "expected 24 fields")


def test_ml100k_ratings_and_users(tmp_path: Path) -> None:
    ratings = read_ml100k_ratings(write(tmp_path, "u.data", ["196\t242\t3\t881250949"]))
    assert ratings.iloc[0].tolist() == [196, 242, 3, 881250949]
    users = read_ml100k_users(write(tmp_path, "u.user", ["1|24|M|technician|85711", "2|53|F|other|T8H1N"]))
    assert users["occupation"].tolist() == ["technician", "other"]
    assert users["zip_code"].tolist() == ["85711", "T8H1N"]
    bad = write(tmp_path, "u.data", ["196\t242\t3\t881250949", "196::242::3::881250949"])
    with pytest.raises(MovieLensFormatError) as err:
        read_ml100k_ratings(bad)
    assert_located(err, bad, 2, "expected 4 fields")


# --------------------------------------------------------------------------- resolution


def test_cache_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RECSYS_CACHE_DIR", str(tmp_path / "c"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv("RECSYS_CACHE_DIR")
    assert cache_dir() == tmp_path / "x" / "recsys_utils"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "recsys_utils"


def test_argument_beats_env_and_cache(
    clean_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    arg, env = ml1m_folder(tmp_path / "arg"), ml1m_folder(tmp_path / "env")
    ml1m_folder(clean_env)
    monkeypatch.setenv("RECSYS_DATA_DIR", str(tmp_path / "env"))
    assert resolve_dataset_dir("ml-1m", data_dir=tmp_path / "arg") == arg  # parent folder
    assert resolve_dataset_dir("ml-1m", data_dir=str(arg)) == arg  # the folder itself
    assert resolve_dataset_dir("ml-1m") == env


def test_env_beats_cache_and_never_falls_through(
    clean_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ml1m_folder(clean_env)
    (tmp_path / "env").mkdir()
    monkeypatch.setenv("RECSYS_DATA_DIR", str(tmp_path / "env"))
    with pytest.raises(DataUnavailableError) as err:  # env lacks ml-1m: not the cache
        resolve_dataset_dir("ml-1m", download=False)
    message = str(err.value)
    assert "RECSYS_DATA_DIR" in message and "holds no 'ml-1m/' folder" in message
    assert "ratings.dat" in message
    env = ml1m_folder(tmp_path / "env")
    assert resolve_dataset_dir("ml-1m", download=False) == env


def test_env_naming_a_missing_folder_is_an_error(
    clean_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ml1m_folder(clean_env)
    monkeypatch.setenv("RECSYS_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(DataUnavailableError, match="nowhere does not exist"):
        resolve_dataset_dir("ml-1m", download=False)


def test_env_pointing_at_the_dataset_folder_itself(
    clean_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = ml1m_folder(tmp_path)
    monkeypatch.setenv("RECSYS_DATA_DIR", str(env))
    assert resolve_dataset_dir("ml-1m", download=False) == env


def test_incomplete_env_dataset_is_an_error(
    clean_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = ml1m_folder(tmp_path)
    (folder / "users.dat").unlink()
    monkeypatch.setenv("RECSYS_DATA_DIR", str(tmp_path))
    with pytest.raises(DataUnavailableError, match="users.dat"):
        resolve_dataset_dir("ml-1m", download=False)


def test_data_dir_lacking_files_names_folder_and_files(clean_env: Path, tmp_path: Path) -> None:
    folder = tmp_path / "somewhere" / "ml-1m"
    write(folder, "ratings.dat", GOOD_RATINGS)
    with pytest.raises(DataUnavailableError) as err:
        resolve_dataset_dir("ml-1m", data_dir=tmp_path / "somewhere")
    message = str(err.value)
    assert str(folder) in message and "movies.dat" in message and "users.dat" in message
    assert "ratings.dat" not in message.split("lacks")[1]


def test_download_is_the_last_resort(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, Path]] = []

    def fake_download(name: str, *, cache: Path) -> Path:
        calls.append((name, cache))
        return ml1m_folder(cache)

    monkeypatch.setattr(sources, "download_dataset", fake_download)
    assert resolve_dataset_dir("ml-1m") == clean_env / "ml-1m"
    assert calls == [("ml-1m", clean_env)]
    # now cached: no second download
    assert resolve_dataset_dir("ml-1m") == clean_env / "ml-1m"
    assert len(calls) == 1


def test_offline_without_download_says_how_to_provide_data(clean_env: Path) -> None:
    with pytest.raises(DataUnavailableError) as err:
        load_movielens("ml-1m", download=False)
    message = str(err.value)
    for needle in (
        "RECSYS_DATA_DIR",
        "ml-1m/",
        "data_dir=",
        DATASETS["ml-1m"].url,
        str(clean_env / "ml-1m.zip"),
        "RECSYS_CACHE_DIR",
    ):
        assert needle in message, needle
    assert not clean_env.exists()  # nothing created


def test_unknown_dataset_name() -> None:
    with pytest.raises(ValueError, match="ml-99m.*known: ml-100k, ml-10m, ml-1m, ml-20m, ml-25m, ml-32m"):
        resolve_dataset_dir("ml-99m", download=False)


def test_registry_holds_the_official_checksums() -> None:
    spec = DATASETS["ml-1m"]
    assert spec.size == 5_917_549
    assert spec.md5 == "c4d9eecfca2ab87c1945afe126590906"
    assert spec.sha256.startswith("a6898adb50b9")
    assert dict(spec.files) == {"ratings": "ratings.dat", "movies": "movies.dat", "users": "users.dat"}
    assert DATASETS["ml-100k"].md5 == "0e33842e24a9c977be4e0107933c0723"
    assert DATASETS["ml-100k"].size is None


def test_synthetic_copy_loads_identically_from_env(
    synthetic_dir: Path,
    clean_env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    synthetic_ml1m: MovieLens,
) -> None:
    shutil.copytree(synthetic_dir / "ml-1m", tmp_path / "data" / "ml-1m")
    monkeypatch.setenv("RECSYS_DATA_DIR", str(tmp_path / "data"))
    ml = load_movielens(download=False)
    pd.testing.assert_frame_equal(ml.ratings, synthetic_ml1m.ratings)
    pd.testing.assert_frame_equal(ml.movies, synthetic_ml1m.movies)
    pd.testing.assert_frame_equal(ml.users, synthetic_ml1m.users)


# --------------------------------------------------------------------------- real data


@pytest.mark.realdata
def test_real_ml1m_counts(real_ml1m: MovieLens) -> None:
    ml = real_ml1m
    assert len(ml.ratings) == 1_000_209
    assert len(ml.users) == 6_040
    assert len(ml.movies) == 3_883
    assert ml.ratings["movie_id"].nunique() == 3_706
    assert ml.ratings["user_id"].nunique() == 6_040
    user1 = ml.ratings[ml.ratings["user_id"] == 1]
    assert len(user1) == 53
    assert user1.iloc[0][["movie_id", "rating"]].tolist() == [1193, 5]
    assert ml.movies.loc[ml.movies["movie_id"] == 1, "genres"].item() == "Animation|Children's|Comedy"
    assert "Misérables, Les (1995)" in set(ml.movies["title"])


@pytest.mark.realdata
def test_real_ml100k_counts(real_ml1m: MovieLens) -> None:
    # real_ml1m only ensures the real data is configured; ML-100K sits next to it.
    try:
        ml = load_movielens("ml-100k", download=False)
    except DataUnavailableError as err:
        pytest.skip(f"real MovieLens 100K not available next to ML-1M: {err}")
    assert len(ml.ratings) == 100_000
    assert len(ml.users) == 943
    assert len(ml.movies) == 1_682
    assert ml.users["occupation"].nunique() == 21


# --------------------------------------------------------------------------- later releases

CSV_RATINGS = [
    "userId,movieId,rating,timestamp",
    "1,10,4.0,1112486027",
    "1,20,3.5,1112484676",
    "2,10,0.5,1112484819",
]
CSV_MOVIES = [
    "movieId,title,genres",
    "10,Toy Story (1995),Adventure|Animation|Children|IMAX",
    '20,"American President, The (1995)",Comedy|Drama',
    '30,"""Great"" Performances: Cats (1998)",(no genres listed)',
    "40,Amélie (2001),Comedy|Romance",
]


def write_utf8(folder: Path, name: str, lines: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    return path


def test_csv_ratings_and_movies_parse(tmp_path: Path) -> None:
    ratings = read_csv_ratings(write_utf8(tmp_path, "ratings.csv", CSV_RATINGS))
    assert ratings["rating"].tolist() == [4.0, 3.5, 0.5]
    assert [str(t) for t in ratings.dtypes] == ["int32", "int32", "float32", "int64"]
    movies = read_csv_movies(write_utf8(tmp_path, "movies.csv", CSV_MOVIES))
    assert movies["title"].tolist() == [
        "Toy Story (1995)",
        "American President, The (1995)",
        '"Great" Performances: Cats (1998)',
        "Amélie (2001)",
    ]
    assert movies["genres"].tolist() == [
        "Adventure|Animation|Children|IMAX",
        "Comedy|Drama",
        "",
        "Comedy|Romance",
    ]


@pytest.mark.parametrize(
    ("lines", "line", "words"),
    [
        (["userId,movieId,rating"] + CSV_RATINGS[1:], 1, ["expected the header"]),
        (CSV_RATINGS + ["3,10,4.25,1"], 5, ["rating 4.25", "half star"]),
        (CSV_RATINGS + ["3,10,5.5,1"], 5, ["rating 5.5"]),
        (CSV_RATINGS + ["3,10,0,1"], 5, ["rating 0"]),
        (CSV_RATINGS + ["3,10,4.0"], 5, ["expected 4 fields"]),
        (CSV_RATINGS + ["1,20,4.0,1"], 5, ["duplicate rating", "first seen on line 3"]),
    ],
)
def test_bad_csv_ratings_are_located(tmp_path: Path, lines: list[str], line: int, words: list[str]) -> None:
    path = write_utf8(tmp_path, "ratings.csv", lines)
    with pytest.raises(MovieLensFormatError) as err:
        read_csv_ratings(path)
    assert_located(err, path, line, *words)


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        ("50,Heat, The (1995),Action", ["not valid CSV"]),
        ("50,Heat (1995),Action|Children's", ['unknown genre "Children\'s"']),
        ("50,Heat (1995),Action|(no genres listed)", ["must stand alone"]),
        ("5O,Heat (1995),Action", ["movie_id", "'5O'"]),
        ("20,Heat (1995),Action", ["duplicate movie id", "first seen on line 3"]),
    ],
)
def test_bad_csv_movies_are_located(tmp_path: Path, bad: str, words: list[str]) -> None:
    path = write_utf8(tmp_path, "movies.csv", CSV_MOVIES + [bad])
    with pytest.raises(MovieLensFormatError) as err:
        read_csv_movies(path)
    assert_located(err, path, 6, *words)


def test_latin1_movies_csv_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "movies.csv"
    path.write_bytes(("\n".join(CSV_MOVIES) + "\n").encode("latin-1"))
    with pytest.raises(MovieLensFormatError) as err:
        read_csv_movies(path)
    assert_located(err, path, 5, "is not UTF-8")


def test_ml10m_files_parse_in_either_encoding(tmp_path: Path) -> None:
    ratings = read_ml10m_ratings(
        write(tmp_path, "ratings.dat", ["1::122::5::838985046", "1::185::4.5::838983525"])
    )
    assert ratings["rating"].tolist() == [5.0, 4.5]
    lines = ["1::Toy Story (1995)::Adventure|Children", "2::Amélie (2001)::(no genres listed)"]
    for encode in ("utf-8", "latin-1"):
        path = tmp_path / f"movies-{encode}.dat"
        path.write_bytes(("\n".join(lines) + "\n").encode(encode))
        movies = read_ml10m_movies(path)
        assert movies["title"].tolist()[1] == "Amélie (2001)"
        assert movies["genres"].tolist() == ["Adventure|Children", ""]


def test_later_release_checksums_are_in_the_registry() -> None:
    assert {name: DATASETS[name].md5 for name in ("ml-10m", "ml-20m", "ml-25m", "ml-32m")} == {
        "ml-10m": "ce571fd55effeba0271552578f2648bd",
        "ml-20m": "cd245b17a1ae2cc31bb14903e1204af3",
        "ml-25m": "6b51fb2759a8657d3bfcbfc42b592ada",
        "ml-32m": "d472be332d4daa821edc399621853b57",
    }
    assert DATASETS["ml-10m"].folder_in_archive == "ml-10M100K"
    assert DATASETS["ml-25m"].url.endswith("/ml-25m.zip")


def test_later_release_facts_are_checked(tmp_path: Path) -> None:
    """Without a synthetic README a folder is held to the release's published counts."""
    folder = tmp_path / "ml-25m"
    write_utf8(folder, "ratings.csv", CSV_RATINGS)
    write_utf8(folder, "movies.csv", CSV_MOVIES)
    with pytest.raises(MovieLensFormatError, match="official MovieLens 25M release has 25,000,096"):
        load_movielens("ml-25m", data_dir=tmp_path, download=False)
    write_synthetic_readme(folder, "ml-25m")
    ml = load_movielens("ml-25m", data_dir=tmp_path, download=False)
    assert ml.users["user_id"].tolist() == [1, 2]
