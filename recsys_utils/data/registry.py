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

    ``files`` maps the roles ``"ratings"``, ``"movies"``, ``"users"`` to file names in the
    dataset folder. ``size``, ``md5``, ``sha256`` are the official archive's (``None`` when
    unknown: not verified). ``title`` names the release in messages.
    """

    name: str
    url: str
    files: Mapping[str, str]
    size: int | None = None
    md5: str | None = None
    sha256: str | None = None
    title: str = ""

    @property
    def expected(self) -> dict[str, Any]:
        """The known checks, as accepted by :func:`download_dataset`'s ``expected``."""
        return {"size": self.size, "md5": self.md5, "sha256": self.sha256}

    @property
    def label(self) -> str:
        """The release's name in messages, e.g. ``"MovieLens 1M"``."""
        return self.title or f"MovieLens {self.name!r}"


DATASETS: Mapping[str, DatasetSpec] = MappingProxyType({
    "ml-1m": DatasetSpec(
        name="ml-1m",
        url="https://files.grouplens.org/datasets/movielens/ml-1m.zip",
        files=MappingProxyType(
            {"ratings": "ratings.dat", "movies": "movies.dat", "users": "users.dat"}),
        size=5_917_549,
        md5="c4d9eecfca2ab87c1945afe126590906",
        sha256="a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
        title="MovieLens 1M",
    ),
    "ml-100k": DatasetSpec(
        name="ml-100k",
        url="https://files.grouplens.org/datasets/movielens/ml-100k.zip",
        files=MappingProxyType(
            {"ratings": "u.data", "movies": "u.item", "users": "u.user"}),
        md5="0e33842e24a9c977be4e0107933c0723",
        title="MovieLens 100K",
    ),
})


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
