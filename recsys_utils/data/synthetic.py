"""A synthetic twin of MovieLens, written in the exact official file formats.

It serves the tests and offline demos: the files go through the same parsers as the real
data. The generator is deterministic per seed (byte-identical files) and realistic enough
for models to learn something:

- every user rates at least ``min_ratings`` movies (ML-1M's rule is 20), more for some;
- each user likes a few genres and dislikes a few others; a rating is a noisy function of
  the user's taste for the movie's genres, a user bias and a movie quality, cut at global
  quantiles so that ratings 1..5 come out in ML-1M's proportions (about 6 %, 11 %, 26 %,
  35 %, 22 %); so "liked or not" is learnable from genres;
- users watch popular movies and movies of their liked genres more often; about 5 % of the
  movies are never rated;
- ML-1M variant: movie ids are not contiguous, ``ratings.dat`` is grouped by user
  (ascending), and a user's ratings are in no particular movie order but with increasing
  timestamps; ML-100K variant: movie ids ``1..n`` and ``u.data`` ordered by timestamp,
  users interleaved (a user's timestamps increase in file order there too);
- some titles hold non-ASCII latin-1 characters, colons, commas and quotes.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import urllib.parse
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from recsys_utils.data.genres import ML1M_GENRES, ML100K_GENRES
from recsys_utils.data.registry import get_spec
from recsys_utils.data.synthetic_modern import MODERN_VARIANTS, TwinArrays, write_modern_files
from recsys_utils.data.synthetic_words import (
    _ACCENTED,
    _ADJECTIVES,
    _AGE_CODES,
    _AGE_WEIGHTS,
    _GENRE_WEIGHTS,
    _ML100K_OCCUPATIONS,
    _MONTHS,
    _NOUNS,
)
from recsys_utils.data.verify import SYNTHETIC_MARK, ReleaseFacts, format_facts_line
from recsys_utils.errors import BadArgumentError, check_choice, check_int

__all__ = [
    "ML1M_RATING_SHARES",
    "VARIANTS",
    "facts_of_folder",
    "write_synthetic_archive",
    "write_synthetic_movielens",
    "write_synthetic_readme",
]

#: Supported layouts.
VARIANTS: tuple[str, ...] = ("ml-1m", "ml-100k", *MODERN_VARIANTS)

#: Share of ratings 1..5 in ML-1M (1,000,209 ratings), which the generator reproduces.
ML1M_RATING_SHARES: tuple[float, ...] = (0.0562, 0.1075, 0.2613, 0.3489, 0.2261)

_ENCODING = "latin-1"
_T_START, _T_END = 956_703_932, 1_046_454_590  # ML-1M's first and last timestamps


def _check_args(variant: str, n_users: int, n_movies: int, min_ratings: int) -> int:
    """Validate the arguments; return the number of movies that get ratings."""
    check_choice("variant", variant, VARIANTS)
    for arg, value, low in (
        ("n_users", n_users, 1),
        ("n_movies", n_movies, 2),
        ("min_ratings", min_ratings, 1),
    ):
        check_int(arg, value, low=low)
    n_rated = n_movies - max(1, round(0.05 * n_movies))
    if min_ratings > n_rated:
        raise BadArgumentError(
            "min_ratings",
            min_ratings,
            f"exceeds the {n_rated} movies that get ratings out of n_movies={n_movies}; raise n_movies",
        )
    return n_rated


def _movie_ids(rng: np.random.Generator, variant: str, n_movies: int) -> np.ndarray:
    """(n_movies,) int64 ascending ids: contiguous for ML-100K, with gaps for ML-1M."""
    if variant == "ml-100k":
        return np.arange(1, n_movies + 1)
    span = int(n_movies * 1.35) + 2
    ids = np.sort(rng.choice(np.arange(2, span + 1), size=n_movies - 1, replace=False))
    return np.concatenate(([1], ids))


def _movie_genres(rng: np.random.Generator, n_movies: int) -> np.ndarray:
    """(n_movies, 18) bool genre flags in ML1M_GENRES order, 1..3 genres per movie."""
    flags = np.zeros((n_movies, len(ML1M_GENRES)), dtype=bool)
    p = _GENRE_WEIGHTS / _GENRE_WEIGHTS.sum()
    counts = rng.choice([1, 2, 3], size=n_movies, p=[0.5, 0.35, 0.15])
    for m, k in enumerate(counts):
        flags[m, rng.choice(len(ML1M_GENRES), size=k, replace=False, p=p)] = True
    return flags


def _titles(rng: np.random.Generator, n_movies: int) -> list[str]:
    """n_movies ML-style titles ``"Name (Year)"``; some accented, some with ':' / quotes."""
    titles = []
    for m in range(n_movies):
        adj, noun = rng.choice(_ADJECTIVES), rng.choice(_NOUNS)
        year = int(rng.integers(1919, 2001))
        style = rng.random()
        if m % 17 == 1 or style < 0.04:
            name = f"{rng.choice(_ACCENTED)} {noun}"
        elif style < 0.25:
            name = f"{adj} {noun}, The"
        elif style < 0.35:
            name = f"{noun}: The {adj} {rng.choice(_NOUNS)}"
        elif style < 0.40:
            name = f'"{adj}" {noun}s & Co.'
        else:
            name = f"{adj} {noun}"
        if m % 23 == 5:
            name += f" {m}"  # a digit in a title, as in "Se7en"-like names
        titles.append(f"{name} ({year})")
    return titles


def _ratings(
    rng: np.random.Generator, flags: np.ndarray, n_users: int, n_rated: int, min_ratings: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample who rates what and how.

    Returns:
        users (n,) int64 user indices 0..n_users-1, grouped by user ascending;
        movies (n,) int64 movie indices (into flags' rows), random order within a user;
        ratings (n,) int64 in 1..5.
    """
    n_movies, n_genres = flags.shape
    rated = np.sort(rng.choice(n_movies, size=n_rated, replace=False))
    quality = rng.normal(0.0, 0.3, size=n_movies)
    popularity = 1.0 / (rng.permutation(n_movies) + 8.0) ** 0.9
    genre_share = flags / flags.sum(axis=1, keepdims=True)  # (n_movies, 18)

    users, movies, scores = [], [], []
    for u in range(n_users):
        taste = rng.normal(0.0, 0.3, size=n_genres)
        order = rng.permutation(n_genres)
        taste[order[:3]] += 2.0  # liked genres
        taste[order[3:6]] -= 2.0  # disliked genres
        affinity = genre_share[rated] @ taste  # (n_rated,)
        weight = popularity[rated] * np.exp(0.3 * affinity)
        extra = int(rng.geometric(1.0 / (1.0 + 1.5 * min_ratings))) - 1
        k = min(n_rated, min_ratings + extra)
        chosen = rng.choice(n_rated, size=k, replace=False, p=weight / weight.sum())
        score = (
            rng.normal(0.0, 0.25) + quality[rated[chosen]] + affinity[chosen] + rng.normal(0.0, 0.45, size=k)
        )
        users.append(np.full(k, u))
        movies.append(rated[chosen])
        scores.append(score)
    score_all = np.concatenate(scores)
    cuts = np.quantile(score_all, np.cumsum(ML1M_RATING_SHARES)[:-1])
    stars = 1 + np.searchsorted(cuts, score_all, side="right")
    return np.concatenate(users), np.concatenate(movies), stars.astype(np.int64)


def _timestamps(rng: np.random.Generator, users: np.ndarray) -> np.ndarray:
    """(n,) int64 timestamps, increasing within each user (users grouped, ascending)."""
    n_users = int(users.max()) + 1
    start = rng.integers(_T_START, _T_END - 30_000_000, size=n_users)
    gaps = rng.integers(1, 4_000, size=len(users))
    out = np.empty(len(users), dtype=np.int64)
    for u in range(n_users):
        idx = np.flatnonzero(users == u)
        out[idx] = start[u] + np.cumsum(gaps[idx])
    return out


def _zip_code(rng: np.random.Generator) -> str:
    code = f"{int(rng.integers(0, 100_000)):05d}"
    return code + f"-{int(rng.integers(0, 10_000)):04d}" if rng.random() < 0.02 else code


def _write_lines(path: Path, lines: Sequence[str]) -> None:
    with path.open("w", encoding=_ENCODING, newline="\n") as fh:
        fh.write("\n".join(lines) + "\n")


def write_synthetic_movielens(
    folder: str | os.PathLike[str],
    *,
    variant: str = "ml-1m",
    n_users: int = 60,
    n_movies: int = 200,
    seed: int = 0,
    min_ratings: int = 20,
) -> Path:
    """Write a synthetic MovieLens release into ``<folder>/<variant>/``; return that folder.

    ML-1M layout: ``ratings.dat`` (``UserID::MovieID::Rating::Timestamp``), ``movies.dat``
    (``MovieID::Title (Year)::Genre|Genre``), ``users.dat``
    (``UserID::Gender::Age::Occupation::Zip-code``, ML-1M age codes and occupations 0..20).
    ML-100K layout: ``u.data`` (tab-separated), ``u.item`` (``|``-separated, 19 genre flags),
    ``u.user`` (``id|age|gender|occupation|zip``), plus ``u.genre`` and ``u.occupation``.
    Both latin-1. The later releases (``"ml-10m"``, ``"ml-20m"``, ``"ml-25m"``, ``"ml-32m"``):
    see ``recsys_utils.data.synthetic_modern`` (UTF-8, half stars, no users file).
    ``\\n`` line ends. Same arguments -> byte-identical files.

    Args:
        folder: parent folder (created if missing).
        variant: one of :data:`VARIANTS`.
        n_users: number of users (ids ``1..n_users``), each with >= ``min_ratings`` ratings.
        n_movies: number of movies; about 5 % (at least one) are never rated.
        seed: seed of the generator.
        min_ratings: minimum ratings per user; at most the number of rated movies.

    Raises:
        BadArgumentError: an unknown variant or an impossible size (a ``ValueError``).
    """
    n_rated = _check_args(variant, n_users, n_movies, min_ratings)
    rng = np.random.default_rng(seed)
    ids = _movie_ids(rng, variant, n_movies)
    flags = _movie_genres(rng, n_movies)
    titles = _titles(rng, n_movies)
    users, movies, stars = _ratings(rng, flags, n_users, n_rated, min_ratings)
    stamps = _timestamps(rng, users)

    out = Path(folder) / variant
    out.mkdir(parents=True, exist_ok=True)
    genre_names = np.array(ML1M_GENRES, dtype=object)
    if variant == "ml-1m":
        _write_lines(
            out / "ratings.dat",
            [f"{u + 1}::{ids[m]}::{r}::{t}" for u, m, r, t in zip(users, movies, stars, stamps)],
        )
        _write_lines(
            out / "movies.dat",
            [f"{ids[m]}::{titles[m]}::{'|'.join(genre_names[flags[m]])}" for m in range(n_movies)],
        )
        _write_lines(
            out / "users.dat",
            [
                f"{u}::{'M' if rng.random() < 0.72 else 'F'}::"
                f"{rng.choice(_AGE_CODES, p=np.array(_AGE_WEIGHTS) / sum(_AGE_WEIGHTS))}::"
                f"{int(rng.integers(0, 21))}::{_zip_code(rng)}"
                for u in range(1, n_users + 1)
            ],
        )
        readme = "ratings.dat, movies.dat, users.dat in the MovieLens 1M format."
    elif variant in MODERN_VARIANTS:
        readme = write_modern_files(
            out,
            variant,
            TwinArrays(
                ids=ids, titles=titles, flags=flags, users=users, movies=movies, stars=stars, stamps=stamps
            ),
            seed,
        )
    else:
        order = np.argsort(stamps, kind="stable")
        _write_lines(
            out / "u.data", [f"{users[i] + 1}\t{ids[movies[i]]}\t{stars[i]}\t{stamps[i]}" for i in order]
        )
        item_lines = []
        for m in range(n_movies):
            year = titles[m].rsplit("(", 1)[1].rstrip(")")
            day, month = int(rng.integers(1, 29)), _MONTHS[int(rng.integers(0, 12))]
            url = "http://us.imdb.com/M/title-exact?" + urllib.parse.quote(titles[m], encoding=_ENCODING)
            genre_flags = "|".join(["0"] + ["1" if f else "0" for f in flags[m]])
            item_lines.append(f"{ids[m]}|{titles[m]}|{day:02d}-{month}-{year}||{url}|{genre_flags}")
        _write_lines(out / "u.item", item_lines)
        _write_lines(
            out / "u.user",
            [
                f"{u}|{int(rng.integers(7, 74))}|{'M' if rng.random() < 0.71 else 'F'}|"
                f"{rng.choice(_ML100K_OCCUPATIONS)}|{_zip_code(rng)[:5]}"
                for u in range(1, n_users + 1)
            ],
        )
        _write_lines(out / "u.genre", [f"{g}|{i}" for i, g in enumerate(ML100K_GENRES)])
        _write_lines(out / "u.occupation", list(_ML100K_OCCUPATIONS))
        readme = "u.data, u.item, u.user in the MovieLens 100K format."
    write_synthetic_readme(
        out,
        variant,
        [
            f"(variant={variant}, n_users={n_users}, n_movies={n_movies}, seed={seed}, "
            f"min_ratings={min_ratings}).",
            "No real rating is in here. " + readme,
        ],
    )
    return out


def facts_of_folder(folder: str | os.PathLike[str], variant: str = "ml-1m") -> ReleaseFacts:
    """The facts (line counts, rated users and movies, MD5s) of the files in ``folder``,
    read with the package's parsers; what a synthetic twin's README records."""
    from recsys_utils.data.loader import PARSERS

    folder = Path(folder)
    spec = get_spec(variant)
    names = list(spec.files.values())
    raw = {name: (folder / name).read_bytes() for name in names}
    ratings = PARSERS[variant][0](folder / spec.files["ratings"])
    return ReleaseFacts(
        lines={name: data.count(b"\n") + (0 if data.endswith(b"\n") else 1) for name, data in raw.items()},
        rated_users=int(ratings["user_id"].nunique()),
        rated_movies=int(ratings["movie_id"].nunique()),
        md5={name: hashlib.md5(data, usedforsecurity=False).hexdigest() for name, data in raw.items()},
    )


def write_synthetic_readme(
    folder: str | os.PathLike[str], variant: str = "ml-1m", description: Sequence[str] = ()
) -> Path:
    """Write ``folder/README`` marking the folder as a synthetic twin, with its facts.

    The loader then checks the folder against these facts instead of the official
    release's (see ``recsys_utils.data.verify``). Tests that edit a twin's files on
    purpose call it again to record the edited files as the twin's own.
    """
    folder = Path(folder)
    check_choice("variant", variant, VARIANTS)
    facts = facts_of_folder(folder, variant)
    _write_lines(
        folder / "README",
        [
            f"{SYNTHETIC_MARK} written by recsys_utils.data.synthetic",
            *description,
            format_facts_line(facts),
        ],
    )
    return folder / "README"


def write_synthetic_archive(
    path: str | os.PathLike[str], *, variant: str = "ml-1m", **kw: int
) -> dict[str, int | str]:
    """Write a zip laid out like the official archive (``<variant>/ratings.dat``, ...).

    Deterministic: same arguments -> same bytes. ``kw`` goes to
    :func:`write_synthetic_movielens` (``n_users``, ``n_movies``, ``seed``, ``min_ratings``).

    Returns:
        ``{"size": bytes, "md5": hex, "sha256": hex}`` of the archive, the form
        :func:`recsys_utils.data.download_dataset` takes as ``expected``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    folder_in_archive = get_spec(variant).folder_in_archive
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_synthetic_movielens(tmp, variant=variant, **kw)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            directory = zipfile.ZipInfo(f"{folder_in_archive}/", date_time=(2003, 3, 1, 0, 0, 0))
            directory.external_attr = 0o40755 << 16 | 0x10
            zf.writestr(directory, b"")
            for file in sorted(folder.iterdir()):
                info = zipfile.ZipInfo(f"{folder_in_archive}/{file.name}", date_time=(2003, 3, 1, 0, 0, 0))
                info.external_attr = 0o100644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, file.read_bytes())
    data = buffer.getvalue()
    path.write_bytes(data)
    return {
        "size": len(data),
        "md5": hashlib.md5(data, usedforsecurity=False).hexdigest(),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
