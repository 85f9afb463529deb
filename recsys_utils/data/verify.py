"""What a release fixes, and the checks of a data folder against it before and after parsing.

Which facts apply to a folder:

- a folder whose ``README`` starts with :data:`SYNTHETIC_MARK` is a synthetic twin (see
  :mod:`recsys_utils.data.synthetic`): its README records its own facts on a ``facts:`` line;
- any other folder is taken for the official release of the name it is loaded as, and is
  checked against :data:`RELEASE_FACTS`.

Checks, in order:

1. before parsing (:func:`check_files`): each file's number of lines, and that its last
   line ends with a line end (every release's does: a file cut inside its last line keeps
   its line count but loses that end). A difference is a :class:`MovieLensFormatError`
   naming the file and the line where it departs from the release;
2. the MD5 of each file whose official checksum is known: a difference is only a
   :class:`DataWarning`, because an honest copy may hold the same lines in another order
   (a re-assembled copy of ML-1M may) or with other line ends;
3. after parsing (:func:`check_counts`): the numbers of ratings, users, movies, and of users
   and movies with at least one rating. A difference is a :class:`DataDamagedError`.

GroupLens publishes checksums of the archives only. The MD5s of extracted files below were
computed from files known to be original; that of ML-1M's
``ratings.dat`` is not known (an honest copy may order its lines differently), so it is not checked.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pandas as pd

from recsys_utils.data.registry import DatasetSpec
from recsys_utils.data.table import check_encoding
from recsys_utils.errors import DataDamagedError, DataWarning, MovieLensFormatError

__all__ = [
    "RELEASE_FACTS",
    "SYNTHETIC_MARK",
    "ReleaseFacts",
    "check_counts",
    "check_files",
    "facts_for",
    "format_facts_line",
]

#: First words of the README of a synthetic twin.
SYNTHETIC_MARK = "SYNTHETIC MovieLens-format data"
#: Prefix of the README line that records a synthetic twin's facts (JSON follows).
FACTS_PREFIX = "facts: "
_README = "README"


@dataclass(frozen=True)
class ReleaseFacts:
    """What a release fixes.

    Attributes:
        lines: file name -> number of lines (a CSV file's header included).
        rated_users: users with at least one rating.
        rated_movies: movies with at least one rating (``None``: not known, not checked).
        md5: file name -> MD5 of the file, where known (compared as a warning only).
        final_newline: whether every file ends with a line end (``None``: not known, not
            checked; then a file cut inside its last line is not caught by its line count).
    """

    lines: Mapping[str, int]
    rated_users: int
    rated_movies: int | None
    md5: Mapping[str, str] = field(default_factory=dict)
    final_newline: bool | None = True

    def to_json(self) -> str:
        return json.dumps(
            {
                "lines": dict(self.lines),
                "rated_users": self.rated_users,
                "rated_movies": self.rated_movies,
                "md5": dict(self.md5),
            },
            sort_keys=True,
        )


RELEASE_FACTS: Mapping[str, ReleaseFacts] = MappingProxyType(
    {
        "ml-1m": ReleaseFacts(
            lines=MappingProxyType({"ratings.dat": 1_000_209, "movies.dat": 3_883, "users.dat": 6_040}),
            rated_users=6_040,
            rated_movies=3_706,
            md5=MappingProxyType(
                {
                    "movies.dat": "ef9fd9ff8d1b33faf73e2122c371e910",
                    "users.dat": "681c0711d0d4548cd3d4718a49c2dcd8",
                }
            ),
        ),
        "ml-100k": ReleaseFacts(
            lines=MappingProxyType({"u.data": 100_000, "u.item": 1_682, "u.user": 943}),
            rated_users=943,
            rated_movies=1_682,
            md5=MappingProxyType(
                {
                    "u.data": "6e47046882bad158b0efbb84cd5cb987",
                    "u.item": "c9e7f390115d79079537301d5204f3f7",
                    "u.user": "1b53539edc13caad0282c8500608a319",
                }
            ),
        ),
        # The later releases: the numbers of ratings, movies and users their READMEs publish
        # (every user rated at least 20 movies). Not checked against the files here (they are
        # not in the copies checked): the number of rated movies and the final line ends are not
        # known, so they are not checked.
        "ml-10m": ReleaseFacts(
            lines=MappingProxyType({"ratings.dat": 10_000_054, "movies.dat": 10_681}),
            rated_users=71_567,
            rated_movies=None,
            final_newline=None,
        ),
        "ml-20m": ReleaseFacts(
            lines=MappingProxyType({"ratings.csv": 20_000_263 + 1, "movies.csv": 27_278 + 1}),
            rated_users=138_493,
            rated_movies=None,
            final_newline=None,
        ),
        "ml-25m": ReleaseFacts(
            lines=MappingProxyType({"ratings.csv": 25_000_095 + 1, "movies.csv": 62_423 + 1}),
            rated_users=162_541,
            rated_movies=None,
            final_newline=None,
        ),
        "ml-32m": ReleaseFacts(
            lines=MappingProxyType({"ratings.csv": 32_000_204 + 1, "movies.csv": 87_585 + 1}),
            rated_users=200_948,
            rated_movies=None,
            final_newline=None,
        ),
    }
)


def format_facts_line(facts: ReleaseFacts) -> str:
    """The README line that records ``facts`` (for synthetic twins)."""
    return FACTS_PREFIX + facts.to_json()


def _synthetic_facts(readme: Path) -> ReleaseFacts | None:
    for line in readme.read_text(encoding="latin-1").splitlines():
        if line.startswith(FACTS_PREFIX):
            try:
                raw = json.loads(line[len(FACTS_PREFIX) :])
                rated_movies = raw["rated_movies"]
                return ReleaseFacts(
                    lines=raw["lines"],
                    rated_users=int(raw["rated_users"]),
                    rated_movies=None if rated_movies is None else int(rated_movies),
                    md5=raw.get("md5", {}),
                )
            except (ValueError, KeyError, TypeError) as err:
                raise DataDamagedError(
                    f"{readme}: unreadable '{FACTS_PREFIX.strip()}' line ({type(err).__name__}: {err})",
                    readme,
                ) from None
    return None


def facts_for(folder: Path, spec: DatasetSpec) -> tuple[str, ReleaseFacts | None]:
    """Which facts apply to ``folder`` loaded as ``spec``, and their source in words.

    Returns ``(source, facts)``; ``facts`` is ``None`` for a synthetic twin whose README
    records none (nothing to check).
    """
    readme = folder / _README
    if readme.is_file():
        with readme.open("rb") as fh:
            head = fh.read(len(SYNTHETIC_MARK)).decode("latin-1")
        if head == SYNTHETIC_MARK:
            return f"the synthetic twin's {readme}", _synthetic_facts(readme)
    return f"the official {spec.label} release", RELEASE_FACTS.get(spec.name)


def check_files(folder: Path, spec: DatasetSpec, facts: ReleaseFacts, source: str) -> None:
    """Check each file's encoding, line count and final line end; warn on a known MD5 that
    differs.

    Raises:
        ~recsys_utils.errors.MovieLensFormatError: a file with fewer or more lines than ``facts`` fix, or
            whose last line has no line end (cut inside it); names the file and the line.
    """
    for name, want in facts.lines.items():
        path = folder / name
        raw = path.read_bytes()
        n_lines = raw.count(b"\n") + (0 if raw.endswith(b"\n") or not raw else 1)
        if not raw:
            raise MovieLensFormatError(path, 1, f"file is empty; {source} has {want:,} lines in {name}")
        check_encoding(path, raw, spec.encoding)  # before counting: UTF-16 has other line ends
        if facts.final_newline and not raw.endswith(b"\n"):
            raise MovieLensFormatError(
                path,
                n_lines,
                f"the last line has no line end: the file is truncated "
                f"({source} has {want:,} lines in {name}, each ending with a line end)",
            )
        if n_lines != want:
            where = min(n_lines, want) + 1
            short = "truncated or damaged" if n_lines < want else "damaged (lines added)"
            raise MovieLensFormatError(
                path, where, f"the file has {n_lines:,} lines where {source} has {want:,}: it is {short}"
            )
        known = facts.md5.get(name)
        if known:
            got = hashlib.md5(raw, usedforsecurity=False).hexdigest()
            if got != known.lower():
                warnings.warn(
                    f"{path}: MD5 {got} differs from {source}'s {known}; its {n_lines:,} "
                    "lines are all there, so it is used (a copy with another line order or "
                    "other line ends gives this)",
                    DataWarning,
                    stacklevel=3,
                )


def check_counts(
    folder: Path, spec: DatasetSpec, facts: ReleaseFacts, source: str, frames: Mapping[str, pd.DataFrame]
) -> None:
    """Check the parsed numbers of ratings, users, movies, rated users and rated movies.

    Args:
        frames: ``{"ratings": ..., "movies": ..., "users": ...}`` as parsed.

    Raises:
        ~recsys_utils.errors.DataDamagedError: a number that differs from ``facts``; names the file counted.
    """
    ratings = frames["ratings"]
    counted: list[tuple[str, str, Any, Any]] = []
    for role, name in spec.files.items():
        if name in facts.lines:
            header = 1 if name.endswith(".csv") else 0
            counted.append((name, role, len(frames[role]), facts.lines[name] - header))
    counted.append(
        (spec.files["ratings"], "users with a rating", int(ratings["user_id"].nunique()), facts.rated_users)
    )
    if facts.rated_movies is not None:
        counted.append(
            (
                spec.files["ratings"],
                "movies with a rating",
                int(ratings["movie_id"].nunique()),
                facts.rated_movies,
            )
        )
    for name, what, got, want in counted:
        if got != want:
            path = folder / name
            raise DataDamagedError(
                f"{path}: {got:,} {what} where {source} has {want:,}: the file is damaged", path
            )
