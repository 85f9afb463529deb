"""The synthetic twin's files in the formats of the later releases: ML-10M (``::``-separated
``.dat``, no users file) and ML-20M, ML-25M, ML-32M (CSV with a header line).

Both use half-star ratings, the genre names of those releases ("Children", "IMAX") and mark
some movies ``"(no genres listed)"``; titles are written in UTF-8 (some accented, some with
commas and quotes, which the CSV files quote).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recsys_utils.data.genres import ML1M_GENRES, NO_GENRES_LISTED

__all__ = ["MODERN_VARIANTS", "TwinArrays", "write_modern_files"]

#: The later releases the twin can imitate.
MODERN_VARIANTS: tuple[str, ...] = ("ml-10m", "ml-20m", "ml-25m", "ml-32m")
#: Share of movies tagged IMAX, of movies without genres, of ratings lowered by half a star.
_IMAX_SHARE, _NO_GENRE_SHARE, _HALF_STAR_SHARE = 0.04, 0.02, 0.3
_ENCODING = "utf-8"


@dataclass(frozen=True)
class TwinArrays:
    """What the generator drew, shared by every format.

    Attributes:
        ids: (n_movies,) movie ids.
        titles: n_movies titles ``"Name (Year)"``.
        flags: (n_movies, 18) bool genre flags in ML-1M's genre order.
        users, movies: (n,) user indices (0-based) and movie indices of each rating.
        stars: (n,) int ratings 1..5.
        stamps: (n,) int timestamps.
    """

    ids: np.ndarray
    titles: list[str]
    flags: np.ndarray
    users: np.ndarray
    movies: np.ndarray
    stars: np.ndarray
    stamps: np.ndarray


def _genre_fields(twin: TwinArrays, rng: np.random.Generator) -> list[str]:
    """Each movie's genres field in the later releases' vocabulary."""
    names = ["Children" if g == "Children's" else g for g in ML1M_GENRES]
    imax = rng.random(len(twin.ids)) < _IMAX_SHARE
    none = rng.random(len(twin.ids)) < _NO_GENRE_SHARE
    none[1] = True  # at least one movie of every twin has no genres
    fields = []
    for m, row in enumerate(twin.flags):
        genres = [n for n, f in zip(names, row) if f] + (["IMAX"] if imax[m] else [])
        fields.append(NO_GENRES_LISTED if none[m] else "|".join(sorted(genres)))
    return fields


def _half_stars(twin: TwinArrays, rng: np.random.Generator) -> list[str]:
    """Ratings as the files write them: ``"4.5"``; ML-10M writes whole stars as ``"4"``."""
    lowered = rng.random(len(twin.stars)) < _HALF_STAR_SHARE
    values = twin.stars - 0.5 * lowered
    return [f"{v:.1f}" for v in values]


def write_modern_files(out: Path, variant: str, twin: TwinArrays, seed: int) -> str:
    """Write ``variant``'s ratings and movies files into ``out``; return a README sentence."""
    rng = np.random.default_rng([seed, len(MODERN_VARIANTS)])
    genres = _genre_fields(twin, rng)
    ratings = _half_stars(twin, rng)
    if variant == "ml-10m":
        short = [r[:-2] if r.endswith(".0") else r for r in ratings]
        _write(
            out / "ratings.dat",
            "".join(
                f"{u + 1}::{twin.ids[m]}::{r}::{t}\n"
                for u, m, r, t in zip(twin.users, twin.movies, short, twin.stamps)
            ),
        )
        _write(
            out / "movies.dat",
            "".join(f"{twin.ids[m]}::{twin.titles[m]}::{genres[m]}\n" for m in range(len(twin.ids))),
        )
        return "ratings.dat and movies.dat in the MovieLens 10M format."
    _write(
        out / "ratings.csv",
        "userId,movieId,rating,timestamp\n"
        + "".join(
            f"{u + 1},{twin.ids[m]},{r},{t}\n"
            for u, m, r, t in zip(twin.users, twin.movies, ratings, twin.stamps)
        ),
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["movieId", "title", "genres"])
    for m in range(len(twin.ids)):
        writer.writerow([twin.ids[m], twin.titles[m], genres[m]])
    _write(out / "movies.csv", buffer.getvalue())
    return f"ratings.csv and movies.csv in the MovieLens {variant[3:].upper()} format."


def _write(path: Path, text: str) -> None:
    with path.open("w", encoding=_ENCODING, newline="\n") as fh:
        fh.write(text)
