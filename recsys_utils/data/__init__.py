"""Where MovieLens comes from, how it is verified, and how its files are parsed.

Modules, each one concern:

- ``recsys_utils.data.registry``: the releases (URL, archive checksums, files) and the
  environment variables ``RECSYS_DATA_DIR`` and ``RECSYS_CACHE_DIR``;
- ``recsys_utils.data.sources``: the resolution order (``data_dir`` argument >
  ``RECSYS_DATA_DIR`` > cache > download); a folder named by the first two that is missing
  or incomplete is an error, never a silent fallback;
- ``recsys_utils.data.cache``, ``recsys_utils.data.archive``,
  ``recsys_utils.data.download``: the cache (lock, sweep of leftovers, moving aside
  instead of deleting), archive verification and safe extraction, verified download;
- ``recsys_utils.data.verify``: what each release fixes (line counts, numbers of users,
  movies and ratings; file checksums, compared as a warning only);
- ``recsys_utils.data.table``, ``recsys_utils.data.parse``: the parsers;
- ``recsys_utils.data.loader``: :func:`load_movielens` and :class:`MovieLens`;
- ``recsys_utils.data.genres``: genre vocabularies;
- ``recsys_utils.data.synthetic``: the synthetic twin in the exact file formats.

Nothing half-written is ever left in the cache, and every error belongs to a family of
``recsys_utils.errors`` (data missing, data damaged, bad argument, environment refused).
"""

from __future__ import annotations

from recsys_utils.data.archive import missing_files
from recsys_utils.data.cache import cache_dir
from recsys_utils.data.download import download_dataset
from recsys_utils.data.genres import ML1M_GENRES, ML100K_GENRES, REPORT_GENRES
from recsys_utils.data.loader import MovieLens, load_movielens
from recsys_utils.data.parse import (
    ML1M_AGE_CODES,
    ML1M_OCCUPATIONS,
    read_ml100k_movies,
    read_ml100k_ratings,
    read_ml100k_users,
    read_movies,
    read_ratings,
    read_users,
)
from recsys_utils.data.registry import CACHE_DIR_ENV, DATA_DIR_ENV, DATASETS, DatasetSpec
from recsys_utils.data.sources import dataset_files_present, resolve_dataset_dir
from recsys_utils.data.verify import RELEASE_FACTS, ReleaseFacts
from recsys_utils.errors import (
    ArchiveError,
    ChecksumMismatchError,
    DataDamagedError,
    DataMissingError,
    DataUnavailableError,
    DataWarning,
    EnvironmentRefusedError,
    MovieLensFormatError,
)

__all__ = [
    "ArchiveError",
    "CACHE_DIR_ENV",
    "ChecksumMismatchError",
    "DATASETS",
    "DATA_DIR_ENV",
    "DataDamagedError",
    "DataMissingError",
    "DataUnavailableError",
    "DataWarning",
    "DatasetSpec",
    "EnvironmentRefusedError",
    "ML100K_GENRES",
    "ML1M_AGE_CODES",
    "ML1M_GENRES",
    "ML1M_OCCUPATIONS",
    "MovieLens",
    "MovieLensFormatError",
    "RELEASE_FACTS",
    "REPORT_GENRES",
    "ReleaseFacts",
    "cache_dir",
    "dataset_files_present",
    "download_dataset",
    "load_movielens",
    "missing_files",
    "read_ml100k_movies",
    "read_ml100k_ratings",
    "read_ml100k_users",
    "read_movies",
    "read_ratings",
    "read_users",
    "resolve_dataset_dir",
]
