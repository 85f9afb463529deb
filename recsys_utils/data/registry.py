"""The MovieLens releases the package knows: where to get each, its archive's checksums,
the files it needs, and the environment variables that say where data lives."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from recsys_utils.errors import BadArgumentError

__all__ = ["CACHE_DIR_ENV", "DATASETS", "DATA_DIR_ENV", "DatasetSpec", "get_spec"]

#: Environment variable naming a folder that holds ``ml-1m/`` and/or ``ml-100k/``.
DATA_DIR_ENV = "RECSYS_DATA_DIR"
#: Environment variable overriding the cache folder.
CACHE_DIR_ENV = "RECSYS_CACHE_DIR"


@dataclass(frozen=True)
class DatasetSpec:
    """One MovieLens release: where to get it, how to verify it, which files it needs.

    ``files`` maps the roles ``"ratings"``, ``"movies"`` and (where the release has one)
    ``"users"`` to file names in the dataset folder. ``size``, ``md5``, ``sha256`` are the
    official archive's (``None`` when unknown: not verified). ``title`` names the release in
    messages; ``archive_folder`` is the folder inside the archive when it is not ``name``
    (ML-10M's is ``ml-10M100K``); ``encoding`` is the files' text encoding (``None``: not
    known, latin-1 and UTF-8 both accepted).
    """

    name: str
    url: str
    files: Mapping[str, str]
    size: int | None = None
    md5: str | None = None
    sha256: str | None = None
    title: str = ""
    archive_folder: str = ""
    encoding: str | None = "latin-1"

    @property
    def folder_in_archive(self) -> str:
        """The folder that holds the files inside the official archive."""
        return self.archive_folder or self.name

    @property
    def expected(self) -> dict[str, Any]:
        """The known checks, as accepted by :func:`download_dataset`'s ``expected``."""
        return {"size": self.size, "md5": self.md5, "sha256": self.sha256}

    @property
    def label(self) -> str:
        """The release's name in messages, e.g. ``"MovieLens 1M"``."""
        return self.title or f"MovieLens {self.name!r}"


_CSV_FREE_FILES = MappingProxyType({"ratings": "ratings.dat", "movies": "movies.dat"})
_CSV_FILES = MappingProxyType({"ratings": "ratings.csv", "movies": "movies.csv"})

DATASETS: Mapping[str, DatasetSpec] = MappingProxyType(
    {
        "ml-1m": DatasetSpec(
            name="ml-1m",
            url="https://files.grouplens.org/datasets/movielens/ml-1m.zip",
            files=MappingProxyType({"ratings": "ratings.dat", "movies": "movies.dat", "users": "users.dat"}),
            size=5_917_549,
            md5="c4d9eecfca2ab87c1945afe126590906",
            sha256="a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
            title="MovieLens 1M",
        ),
        "ml-100k": DatasetSpec(
            name="ml-100k",
            url="https://files.grouplens.org/datasets/movielens/ml-100k.zip",
            files=MappingProxyType({"ratings": "u.data", "movies": "u.item", "users": "u.user"}),
            md5="0e33842e24a9c977be4e0107933c0723",
            title="MovieLens 100K",
        ),
        # The later releases: GroupLens publishes each archive's MD5 (``<url>.md5``); the values
        # below are those files' as quoted by several public projects (not fetched from
        # GroupLens here). Their sizes and SHA-256 are not published: not checked.
        "ml-10m": DatasetSpec(
            name="ml-10m",
            url="https://files.grouplens.org/datasets/movielens/ml-10m.zip",
            files=_CSV_FREE_FILES,
            md5="ce571fd55effeba0271552578f2648bd",
            title="MovieLens 10M",
            archive_folder="ml-10M100K",
            encoding=None,
        ),
        **{
            name: DatasetSpec(
                name=name,
                url=f"https://files.grouplens.org/datasets/movielens/{name}.zip",
                files=_CSV_FILES,
                md5=md5,
                title=f"MovieLens {name[3:].upper()}",
                encoding="utf-8",
            )
            for name, md5 in (
                ("ml-20m", "cd245b17a1ae2cc31bb14903e1204af3"),
                ("ml-25m", "6b51fb2759a8657d3bfcbfc42b592ada"),
                ("ml-32m", "d472be332d4daa821edc399621853b57"),
            )
        },
    }
)


def get_spec(name: str) -> DatasetSpec:
    """The registry entry for ``name``.

    Raises:
        BadArgumentError: an unknown name (the message lists the known ones).
    """
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise BadArgumentError(
            "name", name, f"unknown dataset name; known: {', '.join(sorted(DATASETS))}"
        ) from None
