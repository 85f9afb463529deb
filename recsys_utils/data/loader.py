"""Loading a MovieLens release: find it, check it against its release's facts, parse it,
cross-check the files, and look users up."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from recsys_utils.data import parse, parse_modern
from recsys_utils.data.registry import get_spec
from recsys_utils.data.sources import resolve_dataset_dir
from recsys_utils.data.table import first
from recsys_utils.data.verify import check_counts, check_files, facts_for
from recsys_utils.errors import (
    BadArgumentError,
    EnvironmentRefusedError,
    MovieLensFormatError,
    UnknownUserError,
    check_int,
)

__all__ = ["PARSERS", "MovieLens", "load_movielens"]

#: Release -> (ratings parser, movies parser, users parser or ``None`` when the release has
#: no users file: its users frame is then :func:`~recsys_utils.data.parse_modern.users_from_ratings`).
PARSERS = {
    "ml-1m": (parse.read_ratings, parse.read_movies, parse.read_users),
    "ml-100k": (parse.read_ml100k_ratings, parse.read_ml100k_movies, parse.read_ml100k_users),
    "ml-10m": (parse_modern.read_ml10m_ratings, parse_modern.read_ml10m_movies, None),
    **{
        name: (parse_modern.read_csv_ratings, parse_modern.read_csv_movies, None)
        for name in ("ml-20m", "ml-25m", "ml-32m")
    },
}


@dataclass(frozen=True, eq=False)
class MovieLens:
    """One loaded MovieLens release (see ARCHITECTURE.md for the frames' schemas).

    Compared by identity (``eq=False``): the frames are not compared element-wise.

    Attributes:
        name: a key of ``recsys_utils.data.DATASETS`` (``"ml-1m"``, ``"ml-100k"``, ...).
        path: the folder read.
        ratings: (n_ratings, 4) ``user_id``, ``movie_id``, ``rating`` (int8 stars for ML-1M
            and ML-100K, float32 half stars for the later releases), ``timestamp``.
        movies: (n_movies, 3) ``movie_id``, ``title``, ``genres``.
        users: (n_users, 5) ``user_id``, ``gender``, ``age``, ``occupation``, ``zip_code``;
            (n_users, 1) ``user_id`` only for the releases without a users file.
    """

    name: str
    path: Path
    ratings: pd.DataFrame = field(repr=False)
    movies: pd.DataFrame = field(repr=False)
    users: pd.DataFrame = field(repr=False)

    def __repr__(self) -> str:
        return (
            f"MovieLens(name={self.name!r}, path={str(self.path)!r}, "
            f"ratings={len(self.ratings)}, movies={len(self.movies)}, "
            f"users={len(self.users)})"
        )

    def require_user(self, user_id: int, argument: str = "user_id") -> int:
        """``user_id`` as an int when it is a user of this release with at least one rating.

        Args:
            user_id: the id to check.
            argument: the argument's name in the message (the command line passes
                ``"--user"``).

        Raises:
            BadArgumentError: not an integer >= 1.
            UnknownUserError: no such user, or a user without ratings (a ``KeyError`` too).
        """
        user_id = check_int(argument, user_id, low=1)
        known = self.users["user_id"]
        if not (known == user_id).any():
            raise UnknownUserError(
                argument,
                user_id,
                f"no such user in {self.name} (user ids run from "
                f"{known.min()} to {known.max()}, {len(known):,} users)",
            )
        if not (self.ratings["user_id"] == user_id).any():
            raise UnknownUserError(argument, user_id, f"user {user_id} has no ratings in {self.name}")
        return user_id


def _check_references(path: Path, ratings: pd.DataFrame, col: str, known: pd.Series, source: str) -> None:
    unknown = ~ratings[col].isin(known.to_numpy()).to_numpy()
    bad = first(unknown)
    if bad is not None:
        raise MovieLensFormatError(
            path, bad + 1, f"{col} {int(ratings[col].iloc[bad])} does not appear in {source}"
        )


def load_movielens(
    name: str = "ml-1m", data_dir: str | os.PathLike[str] | None = None, download: bool = True
) -> MovieLens:
    """Find (see :func:`resolve_dataset_dir`), verify, parse and cross-check a release.

    Before parsing, each file is checked against what its release fixes (line counts, a
    final line end; see ``recsys_utils.data.verify``); after parsing, the numbers of
    ratings, users, movies, rated users and rated movies. Every rating must refer to a movie
    of the movies file and a user of the users file.

    Raises:
        BadArgumentError: an unknown name, or ``download`` not a bool.
        ~recsys_utils.errors.DataUnavailableError: the data is missing (see :func:`resolve_dataset_dir`).
        ~recsys_utils.errors.MovieLensFormatError: a malformed, truncated or re-encoded file (names file and
            line), or a rating whose movie or user is not listed.
        ~recsys_utils.errors.DataDamagedError: counts that differ from the release's.
        ~recsys_utils.errors.EnvironmentRefusedError: a file cannot be read (permission) or the cache written.
    """
    spec = get_spec(name)
    if not isinstance(download, bool):
        raise BadArgumentError("download", download, "expected True or False")
    if data_dir is not None and not isinstance(data_dir, (str, os.PathLike)):
        raise BadArgumentError("data_dir", data_dir, "expected a folder path or None")
    folder = resolve_dataset_dir(name, data_dir=data_dir, download=download)
    read_r, read_m, read_u = PARSERS[name]
    ratings_path = folder / spec.files["ratings"]
    try:
        source, facts = facts_for(folder, spec)
        if facts is not None:
            check_files(folder, spec, facts, source)
        ratings = read_r(ratings_path)
        movies = read_m(folder / spec.files["movies"])
        users = (
            read_u(folder / spec.files["users"])
            if read_u is not None
            else parse_modern.users_from_ratings(ratings)
        )
    except EnvironmentRefusedError:
        raise
    except OSError as err:
        raise EnvironmentRefusedError(
            err.filename or folder, "read", err, "check that the file is readable"
        ) from err
    _check_references(ratings_path, ratings, "movie_id", movies["movie_id"], spec.files["movies"])
    if "users" in spec.files:
        _check_references(ratings_path, ratings, "user_id", users["user_id"], spec.files["users"])
    if facts is not None:
        check_counts(folder, spec, facts, source, {"ratings": ratings, "movies": movies, "users": users})
    return MovieLens(name=name, path=folder, ratings=ratings, movies=movies, users=users)
