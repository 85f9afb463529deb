"""Parsers of the later MovieLens releases: ML-10M (``::``-separated ``.dat``) and ML-20M,
ML-25M, ML-32M (CSV with a header line, UTF-8).

They return the frames of the ML-1M parsers with two differences the releases impose:
``rating`` is float32 in half stars (0.5 .. 5.0), and there is no users file, so the users
frame (:func:`users_from_ratings`) holds only ``user_id``. The genre vocabulary is
:data:`~recsys_utils.data.genres.MODERN_GENRES`; ``"(no genres listed)"`` becomes ``""``.
Errors name the file and the 1-based line (the header is line 1 of a CSV file).
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from recsys_utils.data.genres import MODERN_GENRES, NO_GENRES_LISTED
from recsys_utils.data.parse import (
    RATING_COLUMNS,
    check_genres,
    check_rating_ids,
    check_rating_pairs,
)
from recsys_utils.data.table import (
    INT32_MAX,
    check_encoding,
    check_range,
    check_unique,
    first,
    read_table,
    shifted_lines,
)
from recsys_utils.errors import MovieLensFormatError

__all__ = [
    "CSV_MOVIES_HEADER",
    "CSV_RATINGS_HEADER",
    "HALF_STARS",
    "read_csv_movies",
    "read_csv_ratings",
    "read_ml10m_movies",
    "read_ml10m_ratings",
    "users_from_ratings",
]

#: The ratings of the later releases: half stars from 0.5 to 5.0.
HALF_STARS: tuple[float, ...] = tuple(k / 2 for k in range(1, 11))
CSV_RATINGS_HEADER = "userId,movieId,rating,timestamp"
CSV_MOVIES_HEADER = "movieId,title,genres"
_MOVIE_COLUMNS = ("movie_id", "title", "genres")


def _half_star_frame(path: Path, df: pd.DataFrame, header_lines: int = 0) -> pd.DataFrame:
    """Check ids, pairs and half-star ratings; return the typed ratings frame."""
    check_rating_ids(path, df)
    twice = df["rating"].to_numpy(np.float64) * 2
    bad = first((twice != np.round(twice)) | (twice < 1) | (twice > len(HALF_STARS)))
    if bad is not None:
        raise MovieLensFormatError(
            path, bad + 1, f"rating {df['rating'].iloc[bad]:g} is not a half star from 0.5 to 5.0"
        )
    check_rating_pairs(path, df, header_lines)
    return pd.DataFrame(
        {
            "user_id": df["user_id"].to_numpy(np.int32),
            "movie_id": df["movie_id"].to_numpy(np.int32),
            "rating": df["rating"].to_numpy(np.float32),
            "timestamp": df["timestamp"].to_numpy(np.int64),
        }
    )


def read_ml10m_ratings(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Parse ML-10M ``ratings.dat`` (``UserID::MovieID::Rating::Timestamp``, half stars).

    Returns:
        (n, 4) frame in file order: ``user_id`` int32, ``movie_id`` int32, ``rating`` float32
        (0.5 .. 5.0), ``timestamp`` int64.
    """
    path = Path(path)
    df = read_table(
        path, "::", RATING_COLUMNS, ("user_id", "movie_id", "timestamp"), float_columns=("rating",)
    )
    return _half_star_frame(path, df)


def read_csv_ratings(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Parse ``ratings.csv`` of ML-20M, ML-25M, ML-32M (header
    ``userId,movieId,rating,timestamp``); same frame as :func:`read_ml10m_ratings`."""
    path = Path(path)
    df = read_table(
        path,
        ",",
        RATING_COLUMNS,
        ("user_id", "movie_id", "timestamp"),
        float_columns=("rating",),
        encoding="utf-8",
        header=CSV_RATINGS_HEADER,
    )
    with shifted_lines(1):
        return _half_star_frame(path, df, header_lines=1)


def _movies_frame(path: Path, df: pd.DataFrame, header_lines: int = 0) -> pd.DataFrame:
    """Check ids and genres (row ``i`` = line ``i + 1``); map the no-genre mark to ``""``."""
    check_range(path, df, "movie_id", 1, INT32_MAX)
    check_unique(path, df, ["movie_id"], "movie id", header_lines)
    genres = df["genres"].astype(str)
    marked = genres.str.contains(NO_GENRES_LISTED, regex=False).to_numpy()
    alone = (genres == NO_GENRES_LISTED).to_numpy()
    bad = first(marked & ~alone)
    if bad is not None:
        raise MovieLensFormatError(
            path, bad + 1, f"{NO_GENRES_LISTED!r} must stand alone, got {genres.iloc[bad]!r}"
        )
    genres = genres.mask(alone, "")
    check_genres(path, genres, MODERN_GENRES)
    return pd.DataFrame(
        {
            "movie_id": df["movie_id"].to_numpy(np.int32),
            "title": df["title"].astype(str),
            "genres": genres.reset_index(drop=True),
        }
    )


def read_ml10m_movies(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Parse ML-10M ``movies.dat`` (``MovieID::Title (Year)::Genre|Genre``).

    The encoding of the official file could not be checked here: UTF-8 is used when the
    file is valid UTF-8, else latin-1 (latin-1 accents are never valid UTF-8).

    Returns:
        (n, 3) frame in file order: ``movie_id`` int32, ``title`` str, ``genres`` str.
    """
    path = Path(path)
    try:
        path.read_bytes().decode("utf-8")
        encoding = "utf-8"
    except UnicodeDecodeError:
        encoding = "latin-1"
    df = read_table(path, "::", _MOVIE_COLUMNS, ("movie_id",), encoding=encoding)
    return _movies_frame(path, df)


def read_csv_movies(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Parse ``movies.csv`` of ML-20M, ML-25M, ML-32M (header ``movieId,title,genres``;
    titles holding a comma or a quote are quoted, CSV style); frame of
    :func:`read_ml10m_movies`."""
    path = Path(path)
    raw = path.read_bytes().replace(b"\r\n", b"\n")
    if not raw.strip():
        raise MovieLensFormatError(path, 1, "file is empty")
    check_encoding(path, raw, "utf-8")
    header = raw.split(b"\n", 1)[0].decode("utf-8")
    if header != CSV_MOVIES_HEADER:
        raise MovieLensFormatError(
            path, 1, f"expected the header {CSV_MOVIES_HEADER!r}, found {header[:100]!r}"
        )
    try:
        df = pd.read_csv(
            io.BytesIO(raw), dtype=str, na_filter=False, skip_blank_lines=False, encoding="utf-8", engine="c"
        )
    except pd.errors.ParserError as err:
        found = re.search(r"line (\d+)", str(err))
        raise MovieLensFormatError(
            path, int(found.group(1)) if found else 1, f"not valid CSV: {err}"
        ) from None
    df.columns = list(_MOVIE_COLUMNS)
    with shifted_lines(1):
        short = first(df["genres"].isna().to_numpy() | (df["movie_id"] == "").to_numpy())
        if short is not None:
            raise MovieLensFormatError(path, short + 1, "expected 3 fields separated by ','")
        ids = df["movie_id"]
        bad = first(~ids.str.fullmatch(r"[0-9]{1,18}").fillna(False).astype(bool))
        if bad is not None:
            raise MovieLensFormatError(
                path, bad + 1, f"movie_id is not a non-negative integer: {ids.iloc[bad]!r}"
            )
        df["movie_id"] = ids.astype(np.int64)
        return _movies_frame(path, df, header_lines=1)


def users_from_ratings(ratings: pd.DataFrame) -> pd.DataFrame:
    """The users frame of a release without a users file: ``user_id`` int32 of every user
    with a rating, ascending."""
    return pd.DataFrame({"user_id": np.unique(ratings["user_id"].to_numpy()).astype(np.int32)})
