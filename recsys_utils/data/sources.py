"""Where a dataset's files come from: the resolution order of :func:`resolve_dataset_dir`.

1. the ``data_dir`` argument (command line: ``--data-dir``): either the dataset folder
   itself (holding e.g. ``ratings.dat``, ``movies.dat``, ``users.dat``) or a folder holding
   ``<name>/``;
2. the environment variable ``RECSYS_DATA_DIR``: a folder holding ``ml-1m/`` and/or
   ``ml-100k/`` as extracted from the official archives (or a dataset folder itself, when it
   is named ``<name>``);
3. the cache, :func:`cache_dir`: an extracted ``<cache>/<name>/``, or an archive
   ``<cache>/<name>.zip`` put there by hand, verified and extracted on first use;
4. a download of the official archive (``download=True`` only), verified before it is kept.

A folder named by 1 or 2 that is missing or lacks the dataset is an error saying what is
missing: another copy is never used in its place.
"""

from __future__ import annotations

import os
from pathlib import Path

from recsys_utils.data.archive import missing_files
from recsys_utils.data.cache import cache_dir
from recsys_utils.data.download import download_dataset, fill_cache, how_to
from recsys_utils.data.registry import DATA_DIR_ENV, get_spec
from recsys_utils.errors import DataUnavailableError

__all__ = ["dataset_files_present", "resolve_dataset_dir"]


def dataset_files_present(folder: str | os.PathLike[str], name: str = "ml-1m") -> bool:
    """Whether ``folder`` holds every file dataset ``name`` needs."""
    return not missing_files(Path(folder), get_spec(name))


def _from_folder(folder: Path, name: str, what: str) -> Path:
    """``folder`` or ``folder/<name>``, whichever holds the dataset; else an error naming
    what is missing. ``what`` names the setting in the message."""
    spec = get_spec(name)
    if not folder.is_dir():
        state = "is not a folder" if folder.exists() else "does not exist"
        raise DataUnavailableError(f"{what}: {folder} {state}")
    nested = folder / name
    if not nested.is_dir() and (folder / spec.folder_in_archive).is_dir():
        nested = folder / spec.folder_in_archive  # e.g. ML-10M extracted as ml-10M100K/
    if nested.is_dir():
        missing = missing_files(nested, spec)
        if not missing:
            return nested
        raise DataUnavailableError(f"{what}: {nested} lacks {', '.join(missing)}")
    if not missing_files(folder, spec):
        return folder
    held = [f for f in spec.files.values() if (folder / f).is_file()]
    if held:
        raise DataUnavailableError(
            f"{what}: {folder} lacks {', '.join(missing_files(folder, spec))} "
            f"(give the '{name}' folder itself, or a folder holding '{name}/')"
        )
    raise DataUnavailableError(
        f"{what}: {folder} holds no '{name}/' folder and none of its files ({', '.join(spec.files.values())})"
    )


def resolve_dataset_dir(
    name: str = "ml-1m", data_dir: str | os.PathLike[str] | None = None, download: bool = True
) -> Path:
    """Find (or fetch) the folder holding dataset ``name``'s files.

    Order: ``data_dir`` argument > ``RECSYS_DATA_DIR`` > cache (extracted folder, then a
    cached archive) > download (only when ``download`` is true). See the module docstring.

    Raises:
        BadArgumentError: an unknown name.
        ~recsys_utils.errors.DataUnavailableError: ``data_dir`` or ``RECSYS_DATA_DIR`` is missing or lacks the
            dataset (the message says what is missing), or nothing is found and downloading
            is off or fails.
        ~recsys_utils.errors.ChecksumMismatchError, ~recsys_utils.errors.ArchiveError: a cached or downloaded
            archive is bad.
        ~recsys_utils.errors.EnvironmentRefusedError: the cache cannot be written.
    """
    spec = get_spec(name)
    if data_dir is not None:
        return _from_folder(Path(data_dir).expanduser(), name, f"data_dir={str(data_dir)!r}")

    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return _from_folder(
            Path(env).expanduser(), name, f"{DATA_DIR_ENV}={env!r} (unset it to use the cache)"
        )

    cache = cache_dir()
    folder = cache / name
    if not missing_files(folder, spec):
        return folder
    if download:
        return download_dataset(name, cache=cache)
    if (cache / f"{name}.zip").is_file():
        return fill_cache(spec, cache, spec.expected, fetch=None)
    raise DataUnavailableError(
        f"MovieLens {name!r} is not available locally and download=False.\n" + how_to(spec, cache)
    )
