"""Verified download of an official archive into the cache, and the filling of the cache.

:func:`fill_cache` is the one place that writes a dataset into the cache: under the cache's
lock it sweeps leftovers of killed runs, extracts a cached archive, or downloads one (to a
temporary name, verified before it is renamed into place). A cached archive that fails
verification is moved aside and, when downloading is allowed, fetched again, once.
"""

from __future__ import annotations

import http.client
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recsys_utils.data.archive import (
    CHUNK_BYTES,
    check_expected,
    extract_archive,
    missing_files,
    verify_digests,
)
from recsys_utils.data.cache import (
    CacheLock,
    cache_dir,
    ensure_cache,
    move_aside,
    refusals,
    sweep_temporary,
)
from recsys_utils.data.registry import CACHE_DIR_ENV, DATA_DIR_ENV, DatasetSpec, get_spec
from recsys_utils.errors import (
    ArchiveError,
    BadArgumentError,
    ChecksumMismatchError,
    DataUnavailableError,
    DataWarning,
)

__all__ = ["Fetch", "download_dataset", "fill_cache", "how_to"]

#: ``opener(request, timeout=...)`` -> a response (a context manager with ``headers`` and
#: ``read(n)``), as :func:`urllib.request.urlopen`; tests pass a local one.
Opener = Callable[..., Any]
#: Errors of the network or the server while fetching.
_NETWORK_ERRORS = (urllib.error.URLError, http.client.HTTPException, OSError)


@dataclass(frozen=True)
class Fetch:
    """Where and how to download an archive.

    Attributes:
        url: ``http``/``https`` address of the archive.
        progress: show a tqdm progress bar.
        timeout: socket timeout in seconds.
        opener: replaces :func:`urllib.request.urlopen` (tests).
    """

    url: str
    progress: bool = True
    timeout: float = 60.0
    opener: Opener | None = None


def how_to(spec: DatasetSpec, cache: Path) -> str:
    """How to provide ``spec``'s files by hand (the tail of "data missing" messages)."""
    files = ", ".join(spec.files.values())
    return (
        f"Provide MovieLens {spec.name!r} in one of these ways:\n"
        f"  1. set {DATA_DIR_ENV} to a folder holding '{spec.name}/' ({files}) as extracted "
        f"from the official archive {spec.url};\n"
        f"  2. pass data_dir=<that folder, or the '{spec.name}' folder itself>, "
        f"e.g. load_movielens({spec.name!r}, data_dir=...) (command line: --data-dir);\n"
        f"  3. place the official archive as {cache / (spec.name + '.zip')} "
        f"(set {CACHE_DIR_ENV} to use another cache folder); it is verified and "
        f"extracted on first use."
    )


def download_dataset(
    name: str = "ml-1m",
    *,
    url: str | None = None,
    cache: str | os.PathLike[str] | None = None,
    expected: Mapping[str, Any] | None = None,
    progress: bool = True,
    timeout: float = 60.0,
    opener: Opener | None = None,
) -> Path:
    """Download, verify and extract dataset ``name`` into the cache; return its folder.

    Steps: if ``<cache>/<name>/`` is complete it is returned; else, holding the cache's
    lock, leftovers of killed runs are swept; if ``<cache>/<name>.zip`` exists (e.g. placed
    by hand) it is verified and extracted, and if it is damaged it is moved aside and fetched
    again (once, with a :class:`DataWarning` saying so); else the archive is streamed (with a
    progress bar) to a temporary file in the cache, its size and checksums are verified, it
    is renamed to ``<cache>/<name>.zip`` and extracted through a temporary folder.

    Args:
        name: a key of :data:`DATASETS`.
        url: overrides the official URL (``http``/``https``), e.g. a mirror or a test server.
        cache: the cache folder (default :func:`cache_dir`); created if missing.
        expected: ``{"size": int, "md5": str, "sha256": str}``, any value ``None`` or
            absent meaning "not checked"; default: the registry's values for ``name``.
        progress: show a tqdm progress bar.
        timeout: socket timeout in seconds (> 0).
        opener: replaces :func:`urllib.request.urlopen` (tests).

    Raises:
        BadArgumentError: an unknown name, a URL that is not http(s), unknown ``expected``
            keys, a timeout that is not a positive number.
        ~recsys_utils.errors.DataUnavailableError: no network, HTTP error, or interrupted transfer; its
            message says how to provide the files by hand. Nothing is left in the cache.
        ~recsys_utils.errors.ChecksumMismatchError: the download differs from ``expected`` (names both
            values). Nothing is left in the cache.
        ~recsys_utils.errors.ArchiveError: the downloaded archive is corrupt or lacks the dataset's files; it
            is removed.
        ~recsys_utils.errors.EnvironmentRefusedError: the cache cannot be written (read-only, full, no
            permission).
    """
    spec = get_spec(name)
    url = url or spec.url
    if not isinstance(url, str) or urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise BadArgumentError("url", url, "only http:// and https:// URLs are supported")
    checks = check_expected(spec.expected if expected is None else expected)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise BadArgumentError("timeout", timeout, "expected a number of seconds > 0")
    cache_path = Path(cache).expanduser() if cache is not None else cache_dir()
    folder = cache_path / name
    if not missing_files(folder, spec):
        return folder
    return fill_cache(
        spec, cache_path, checks, Fetch(url=url, progress=progress, timeout=timeout, opener=opener)
    )


def fill_cache(spec: DatasetSpec, cache: Path, checks: Mapping[str, Any], fetch: Fetch | None) -> Path:
    """Put ``spec``'s extracted files into ``<cache>/<name>/``; return that folder.

    Uses ``<cache>/<name>.zip`` when present (verified against ``checks``), else downloads
    it when ``fetch`` is given. See the module docstring.

    Raises:
        ~recsys_utils.errors.ChecksumMismatchError, ~recsys_utils.errors.ArchiveError: a cached archive is
            damaged and ``fetch`` is ``None`` (it was moved aside: the message says where), or the download is
            bad.
        ~recsys_utils.errors.DataUnavailableError: nothing to extract and ``fetch`` is ``None``, or the
            download failed.
        ~recsys_utils.errors.EnvironmentRefusedError: the cache cannot be written.
    """
    name = spec.name
    ensure_cache(cache)
    with CacheLock(cache, name):
        folder = cache / name
        if not missing_files(folder, spec):
            return folder  # another process filled it while we waited
        sweep_temporary(cache, name)
        archive = cache / f"{name}.zip"
        if archive.is_file():
            try:
                return extract_archive(archive, cache, spec, checks)
            except ArchiveError as err:
                moved = move_aside(archive, "damaged")
                if fetch is None:
                    raise _noted(
                        err,
                        f" (it was moved aside to {moved}; allow a download to "
                        "fetch a fresh copy, or put a good copy in its place)",
                    ) from err
                warnings.warn(
                    f"{err}: moved aside to {moved}; fetching a fresh copy from {fetch.url}",
                    DataWarning,
                    stacklevel=3,
                )
        elif fetch is None:
            raise DataUnavailableError(
                f"MovieLens {name!r} is not available locally and download=False.\n" + how_to(spec, cache)
            )
        return _download(spec, cache, checks, fetch)


def _noted(err: ArchiveError, note: str) -> ArchiveError:
    if isinstance(err, ChecksumMismatchError):
        return ChecksumMismatchError(err.path or "", err.kind, err.expected, err.got, err.source, note=note)
    return ArchiveError(f"{err}{note}", err.path)


def _download(spec: DatasetSpec, cache: Path, checks: Mapping[str, Any], fetch: Fetch) -> Path:
    """Fetch the archive to a temporary file, verify it, rename it into place, extract it."""
    name = spec.name
    archive = cache / f"{name}.zip"
    with refusals(cache, "create a temporary file in the cache folder"):
        fd, tmp_name = tempfile.mkstemp(prefix=f".{name}-", suffix=".zip.part", dir=cache)
        os.close(fd)
    tmp = Path(tmp_name)
    try:
        got = _fetch(fetch, tmp, spec, cache)
        verify_digests(got, checks, tmp, source=fetch.url)
        with refusals(archive, "move the downloaded archive into place as"):
            os.replace(tmp, archive)
    finally:
        tmp.unlink(missing_ok=True)
    try:
        return extract_archive(archive, cache, spec, {})
    except ArchiveError:
        archive.unlink(missing_ok=True)  # we wrote it: it goes
        raise


def _fetch(fetch: Fetch, dest: Path, spec: DatasetSpec, cache: Path) -> dict[str, Any]:
    """Stream ``fetch.url`` into ``dest``; return its size, md5 and sha256.

    Raises:
        ~recsys_utils.errors.DataUnavailableError: the network or the server failed (with :func:`how_to`).
        ~recsys_utils.errors.EnvironmentRefusedError: ``dest`` cannot be written (e.g. the disk is full).
    """
    import hashlib

    from tqdm import tqdm

    def unavailable(err: BaseException) -> DataUnavailableError:
        return DataUnavailableError(
            f"could not download MovieLens {spec.name!r} from {fetch.url}: "
            f"{_describe_network_error(err)}\n" + how_to(spec, cache)
        )

    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    size = 0
    request = urllib.request.Request(fetch.url, headers={"User-Agent": "recsys-utils"})
    opener = fetch.opener or urllib.request.urlopen
    try:
        response = opener(request, timeout=fetch.timeout)
    except _NETWORK_ERRORS as err:
        raise unavailable(err) from err
    with response, refusals(dest, "write the download to"):
        length = response.headers.get("Content-Length")
        total = int(length) if length and str(length).isdigit() else None
        with (
            dest.open("wb") as out,
            tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                disable=not fetch.progress,
                desc=fetch.url.rsplit("/", 1)[-1] or fetch.url,
            ) as bar,
        ):
            while True:
                try:
                    chunk = response.read(CHUNK_BYTES)
                except _NETWORK_ERRORS as err:
                    raise unavailable(err) from err
                if not chunk:
                    break
                out.write(chunk)
                md5.update(chunk)
                sha.update(chunk)
                size += len(chunk)
                bar.update(len(chunk))
    if total is not None and size != total:
        raise unavailable(http.client.IncompleteRead(b"", total - size))
    return {"size": size, "md5": md5.hexdigest(), "sha256": sha.hexdigest()}


def _describe_network_error(err: BaseException) -> str:
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    if isinstance(err, urllib.error.URLError):
        return f"{err.reason}"
    if isinstance(err, http.client.IncompleteRead):
        return (
            f"transfer interrupted ({len(err.partial)} bytes in the last read, {err.expected} bytes missing)"
        )
    return f"{type(err).__name__}: {err}"
