"""Parsers of the MovieLens files, each returning the frames of ``ARCHITECTURE.md``.

Rows come in file order with index ``0..n-1``. Parsing is vectorised (a few hundred
milliseconds for the 1,000,209 lines of ML-1M's ``ratings.dat``) and rejects bad input with
:class:`MovieLensFormatError`, whose message names the file and the 1-based line.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from recsys_utils.data.genres import ML1M_GENRES, ML100K_GENRES
from recsys_utils.data.table import (
    INT32_MAX,
    check_allowed,
    check_range,
    check_unique,
    first,
    read_table,
)
from recsys_utils.errors import MovieLensFormatError

__all__ = [
    "ML1M_AGE_CODES",
    "ML1M_OCCUPATIONS",
    "RATING_COLUMNS",
    "check_genres",
    "check_rating_ids",
    "check_rating_pairs",
    "read_ml100k_movies",
    "read_ml100k_ratings",
    "read_ml100k_users",
    "read_movies",
    "read_ratings",
    "read_users",
]

#: ML-1M's age codes (README: 1 "Under 18", 18 "18-24", ..., 56 "56+").
ML1M_AGE_CODES: tuple[int, ...] = (1, 18, 25, 35, 45, 50, 56)
#: ML-1M's occupation codes 0..20.
ML1M_OCCUPATIONS: range = range(21)
#: Oldest age accepted in ML-100K's ``u.user``.
ML100K_MAX_AGE = 150
_RATING_MIN, _RATING_MAX = 1, 5


def check_rating_ids(path: Path, df: pd.DataFrame) -> None:
    """User and movie ids within 1..2**31-1."""
    for col in ("user_id", "movie_id"):
        check_range(path, df, col, 1, INT32_MAX)


def check_rating_pairs(path: Path, df: pd.DataFrame, header_lines: int = 0) -> None:
    """No (user, movie) pair twice (the error names both lines)."""
    key = (df["user_id"].to_numpy(np.int64) << 32) | df["movie_id"].to_numpy(np.int64)
    if pd.Series(key).duplicated().any():  # fast pre-check; the helper finds the line
        check_unique(path, df, ["user_id", "movie_id"], "rating", header_lines)


def _ratings_frame(path: Path, df: pd.DataFrame) -> pd.DataFrame:
    check_rating_ids(path, df)
    check_range(path, df, "rating", _RATING_MIN, _RATING_MAX)
    check_rating_pairs(path, df)
    return pd.DataFrame(
        {
            "user_id": df["user_id"].to_numpy(np.int32),
            "movie_id": df["movie_id"].to_numpy(np.int32),
            "rating": df["rating"].to_numpy(np.int8),
            "timestamp": df["timestamp"].to_numpy(np.int64),
        }
    )


RATING_COLUMNS = ("user_id", "movie_id", "rating", "timestamp")


# --------------------------------------------------------------------------- ML-1M parsers


def read_ratings(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Parse ML-1M ``ratings.dat`` (``UserID::MovieID::Rating::Timestamp``, latin-1).

    Returns:
        DataFrame of n rows (file order, index 0..n-1): ``user_id`` int32, ``movie_id`` int32,
        ``rating`` int8 (1..5), ``timestamp`` int64.

    Raises:
        ~recsys_utils.errors.MovieLensFormatError: wrong field count, non-integer value, rating outside 1..5,
            id outside 1..2**31-1, duplicate (user, movie) pair.
    """
    path = Path(path)
    return _ratings_frame(path, read_table(path, "::", RATING_COLUMNS, RATING_COLUMNS))


def check_genres(path: Path, genres: pd.Series, vocabulary: tuple[str, ...] = ML1M_GENRES) -> None:
    """Every non-empty genres string is ``|``-separated names of ``vocabulary`` without
    repeats; row ``i`` of ``genres`` is line ``i + 1``."""
    valid = set(vocabulary)
    parts = genres.str.split("|")
    exploded = parts[genres != ""].explode()
    unknown = ~exploded.isin(valid)
    if unknown.any():
        row = int(exploded.index[first(unknown.to_numpy())])
        bad = exploded[unknown].iloc[0]
        raise MovieLensFormatError(
            path, row + 1, f"unknown genre {bad!r} in {genres.iloc[row]!r}; valid: {'|'.join(vocabulary)}"
        )
    pairs = pd.DataFrame({"row": exploded.index.to_numpy(), "genre": exploded.to_numpy()})
    repeated = first(pairs.duplicated().to_numpy())
    if repeated is not None:
        row = int(pairs["row"].iloc[repeated])
        raise MovieLensFormatError(path, row + 1, f"repeated genre in {genres.iloc[row]!r}")


def read_movies(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Parse ML-1M ``movies.dat`` (``MovieID::Title (Year)::Genre|Genre``, latin-1).

    Returns:
        DataFrame of n rows (file order): ``movie_id`` int32, ``title`` str, ``genres`` str
        (pipe-separated ML-1M genre names, ``""`` when none).

    Raises:
        ~recsys_utils.errors.MovieLensFormatError: wrong field count, non-integer id, unknown or repeated
            genre, duplicate movie id.
    """
    path = Path(path)
    df = read_table(path, "::", ("movie_id", "title", "genres"), ("movie_id",))
    check_range(path, df, "movie_id", 1, INT32_MAX)
    check_unique(path, df, ["movie_id"], "movie id")
    check_genres(path, df["genres"])
    return pd.DataFrame(
        {
            "movie_id": df["movie_id"].to_numpy(np.int32),
            "title": df["title"].astype(str),
            "genres": df["genres"].astype(str),
        }
    )


def read_users(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Parse ML-1M ``users.dat`` (``UserID::Gender::Age::Occupation::Zip-code``, latin-1).

    Returns:
        DataFrame of n rows (file order): ``user_id`` int32, ``gender`` str (``M``/``F``),
        ``age`` int16 (an ML-1M age code 1, 18, 25, 35, 45, 50, 56), ``occupation`` int16
        (0..20), ``zip_code`` str.

    Raises:
        ~recsys_utils.errors.MovieLensFormatError: wrong field count, non-integer value, gender not M/F,
            unknown age or occupation code, duplicate user id.
    """
    path = Path(path)
    df = read_table(
        path, "::", ("user_id", "gender", "age", "occupation", "zip_code"), ("user_id", "age", "occupation")
    )
    check_range(path, df, "user_id", 1, INT32_MAX)
    check_unique(path, df, ["user_id"], "user id")
    check_allowed(path, df, "gender", ("M", "F"))
    check_allowed(path, df, "age", ML1M_AGE_CODES)
    check_range(path, df, "occupation", ML1M_OCCUPATIONS.start, ML1M_OCCUPATIONS.stop - 1)
    return pd.DataFrame(
        {
            "user_id": df["user_id"].to_numpy(np.int32),
            "gender": df["gender"].astype(str),
            "age": df["age"].to_numpy(np.int16),
            "occupation": df["occupation"].to_numpy(np.int16),
            "zip_code": df["zip_code"].astype(str),
        }
    )


# --------------------------------------------------------------------------- ML-100K parsers


def read_ml100k_ratings(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Parse ML-100K ``u.data`` (tab-separated ``user item rating timestamp``).

    Returns the same schema as :func:`read_ratings`.
    """
    path = Path(path)
    return _ratings_frame(path, read_table(path, "\t", RATING_COLUMNS, RATING_COLUMNS))


_ML100K_ITEM_COLUMNS = ("movie_id", "title", "release_date", "video_release_date", "imdb_url") + tuple(
    f"g_{g}" for g in ML100K_GENRES
)


def read_ml100k_movies(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Parse ML-100K ``u.item`` (``|``-separated, latin-1: id, title, release date, video
    release date, IMDb URL, then 19 genre flags in :data:`ML100K_GENRES` order).

    Returns the schema of :func:`read_movies`: ``genres`` joins the flagged genres in
    :data:`ML1M_GENRES` order; the flag "unknown" is dropped (so it may be ``""``).

    Raises:
        ~recsys_utils.errors.MovieLensFormatError: wrong field count, non-integer id, a flag other than 0/1,
            duplicate movie id.
    """
    path = Path(path)
    df = read_table(path, "|", _ML100K_ITEM_COLUMNS, ("movie_id",))
    check_range(path, df, "movie_id", 1, INT32_MAX)
    check_unique(path, df, ["movie_id"], "movie id")
    flag_cols = [f"g_{g}" for g in ML100K_GENRES]
    flags = df[flag_cols].to_numpy(dtype=object)
    bad_cell = ~np.isin(flags, ["0", "1"])
    if bad_cell.any():
        row, col = np.argwhere(bad_cell)[0]
        raise MovieLensFormatError(
            path, int(row) + 1, f"genre flag {ML100K_GENRES[col]!r} must be 0 or 1, got {flags[row, col]!r}"
        )
    on = flags[:, 1:] == "1"  # drop "unknown"; the rest is ML1M_GENRES order
    names = np.array(ML1M_GENRES, dtype=object)
    genres = ["|".join(names[mask]) for mask in on]
    return pd.DataFrame(
        {
            "movie_id": df["movie_id"].to_numpy(np.int32),
            "title": df["title"].astype(str),
            "genres": pd.Series(genres, dtype=str),
        }
    )


def read_ml100k_users(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Parse ML-100K ``u.user`` (``id|age|gender|occupation|zip``).

    Returns the schema of :func:`read_users` with ``occupation`` a str (e.g. ``"writer"``)
    and ``age`` the age in years (int16).
    """
    path = Path(path)
    df = read_table(path, "|", ("user_id", "age", "gender", "occupation", "zip_code"), ("user_id", "age"))
    check_range(path, df, "user_id", 1, INT32_MAX)
    check_unique(path, df, ["user_id"], "user id")
    check_allowed(path, df, "gender", ("M", "F"))
    check_range(path, df, "age", 0, ML100K_MAX_AGE)
    return pd.DataFrame(
        {
            "user_id": df["user_id"].to_numpy(np.int32),
            "gender": df["gender"].astype(str),
            "age": df["age"].to_numpy(np.int16),
            "occupation": df["occupation"].astype(str),
            "zip_code": df["zip_code"].astype(str),
        }
    )
