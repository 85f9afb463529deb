"""The cache folder: where it is, its lock, and how it heals.

Rules the cache keeps:

- everything is written under a temporary name (``.<name>-*.zip.part`` for a download,
  ``.<name>-extract-*`` for an extraction) and renamed into place once complete and verified;
- one process at a time fills the cache for a dataset: :class:`CacheLock` holds an exclusive
  lock on ``<cache>/.<name>.lock`` (``fcntl.flock``; where that is missing, no lock is taken);
- under the lock, temporary files left by a killed run are swept (:func:`sweep_temporary`):
  no run that is still alive can own them;
- the package deletes only files it wrote: its temporary files, and a download it made that
  failed verification. Anything else in the way (a damaged archive, an incomplete dataset
  folder) is moved aside under a dated name (:func:`move_aside`) and the user told so.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

from recsys_utils.data.registry import CACHE_DIR_ENV, DATA_DIR_ENV
from recsys_utils.errors import DataWarning, EnvironmentRefusedError

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "CacheLock",
    "cache_dir",
    "ensure_cache",
    "move_aside",
    "refused",
    "sweep_temporary",
    "temporary_patterns",
]

#: What the user can do when the cache cannot be written.
CACHE_HINT = (
    f"set {CACHE_DIR_ENV} to a writable folder with free space, or {DATA_DIR_ENV} "
    "to a folder holding the extracted data"
)


def cache_dir() -> Path:
    """The cache folder: ``RECSYS_CACHE_DIR``, else ``$XDG_CACHE_HOME/recsys_utils``,
    else ``~/.cache/recsys_utils``. It is not created here."""
    env = os.environ.get(CACHE_DIR_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "recsys_utils"


def refused(path: Path, action: str, err: OSError) -> EnvironmentRefusedError:
    """The error for an operating-system refusal while working on the cache."""
    if isinstance(err, EnvironmentRefusedError):
        return err
    return EnvironmentRefusedError(path, action, err, CACHE_HINT)


def ensure_cache(cache: Path) -> Path:
    """Create the cache folder if needed.

    Raises:
        ~recsys_utils.errors.EnvironmentRefusedError: it cannot be created (read-only, no permission, disk
            full).
    """
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise refused(cache, "create the cache folder", err) from err
    return cache


class CacheLock:
    """Exclusive lock on ``<cache>/.<name>.lock`` while one process fills the cache.

    A second process waits (saying so once) until the first is done; it then finds the
    dataset in place. The lock file itself is left in the cache (removing it would race).
    """

    def __init__(self, cache: Path, name: str) -> None:
        self.path = cache / f".{name}.lock"
        self._fd: int | None = None

    def __enter__(self) -> CacheLock:
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise refused(self.path, "create the cache's lock file", err) from err
        if fcntl is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                warnings.warn(
                    f"waiting for another process filling the cache ({self.path})", DataWarning, stacklevel=2
                )
                fcntl.flock(self._fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            if fcntl is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def temporary_patterns(name: str) -> tuple[str, str]:
    """Glob patterns of the temporary download file and extraction folder of ``name``."""
    return f".{name}-*.zip.part", f".{name}-extract-*"


def sweep_temporary(cache: Path, name: str) -> list[Path]:
    """Remove the temporary files of ``name`` left in ``cache`` by killed runs.

    Call it only while holding :class:`CacheLock`: then no live run owns them. Only names
    matching :func:`temporary_patterns` are touched. Returns what was removed.
    """
    removed = []
    for pattern in temporary_patterns(name):
        for path in sorted(cache.glob(pattern)):
            try:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
            except FileNotFoundError:
                continue
            except OSError as err:
                raise refused(path, "remove the leftover temporary file", err) from err
            removed.append(path)
    if removed:
        warnings.warn(
            f"removed {len(removed)} temporary file(s) left in {cache} by an "
            f"interrupted run: {', '.join(p.name for p in removed)}",
            DataWarning,
            stacklevel=2,
        )
    return removed


def move_aside(path: Path, why: str) -> Path:
    """Rename ``path`` to ``<path>.<why>-<UTC time>`` (never deleting it); return the new name."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = path.with_name(f"{path.name}.{why}-{stamp}")
    counter = 1
    while target.exists():
        counter += 1
        target = path.with_name(f"{path.name}.{why}-{stamp}-{counter}")
    try:
        os.replace(path, target)
    except OSError as err:
        raise refused(path, "move aside", err) from err
    return target


@contextlib.contextmanager
def refusals(path: Path, action: str) -> Iterator[None]:
    """Turn an ``OSError`` raised inside the block into :class:`EnvironmentRefusedError`."""
    try:
        yield
    except EnvironmentRefusedError:
        raise
    except OSError as err:
        raise refused(path, action, err) from err
