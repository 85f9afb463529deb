"""The store: a folder of experiment entries, keyed by name, parameters, data and code.

:meth:`Store.cached` is the one way in: it reads a valid entry or computes, stores and returns
the result. How one entry is laid out, written and checked: :mod:`~recsys_utils.experiments.entry`.
"""

from __future__ import annotations

import ast
import datetime as _dt
import hashlib
import json
import os
import re
import shutil
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from recsys_utils.experiments.codec import decode, encode
from recsys_utils.experiments.entry import (
    LOCK_RE,
    STORE_FORMAT,
    DamagedEntry,
    entry_lock,
    is_own_entry,
    read_entry,
    read_manifest,
    remove_entry,
    remove_free_lock,
    sweep_temporary,
    write_entry,
)
from recsys_utils.experiments.fingerprint import canonical_params, data_fingerprint, entry_key

if TYPE_CHECKING:  # pragma: no cover
    from recsys_utils.data import MovieLens

#: Environment variable naming the store's folder.
STORE_DIR_ENV = "RECSYS_STORE_DIR"
#: The package's cache folder variable (the store is its ``experiments/`` subfolder).
CACHE_DIR_ENV = "RECSYS_CACHE_DIR"
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


class StoreWarning(UserWarning):
    """A stored entry was damaged (and is recomputed) or a result could not be stored."""


class Cached(NamedTuple):
    """What :meth:`Store.cached` returns: the result and whether it was computed now."""

    value: Any
    computed: bool


@dataclass(frozen=True)
class EntryInfo:
    """One stored entry, as :meth:`Store.entries` lists it.

    ``bytes`` is the total size of its files, ``created`` the UTC time it was written,
    ``compute_s`` how long its computation took; ``status`` is ``"ok"`` when its manifest
    reads (the files' checksums are checked on use, not here) and ``"damaged"`` otherwise.
    """

    name: str
    key: str
    path: Path
    bytes: int
    created: _dt.datetime | None
    compute_s: float | None
    params: dict[str, Any]
    data: str | None
    version: str | None
    status: str


def default_store_dir() -> Path:
    """``RECSYS_STORE_DIR``, else ``<RECSYS_CACHE_DIR>/experiments``, else
    ``$XDG_CACHE_HOME/recsys_utils/experiments``, else ``~/.cache/recsys_utils/experiments``."""
    env = os.environ.get(STORE_DIR_ENV)
    if env:
        return Path(env).expanduser()
    cache = os.environ.get(CACHE_DIR_ENV)
    if cache:
        return Path(cache).expanduser() / "experiments"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "recsys_utils" / "experiments"


#: The parts of the package whose code decides what an experiment computes (paths relative to
#: the package). The command line, figures, interpretation helpers, the book's Sphinx hook and
#: the store's listing are left out: editing them must not make every result stale.
COMPUTING_CODE: tuple[str, ...] = (
    "batched",
    "cells.py",
    "data",
    "errors.py",
    "evaluation",
    "features.py",
    "models",
    "population.py",
    "recommenders",
    "report.py",
    "experiments/codec.py",
    "experiments/population_runs.py",
    "experiments/ranking_runs.py",
    "experiments/user_fits.py",
)


def _code_without_docstrings(source: bytes) -> bytes:
    """The syntax tree of a module, without docstrings, comments or layout (``ast.dump``)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, include_attributes=False).encode()


def code_digest() -> str:
    """SHA-256 (16 hex digits) of the code that computes results (:data:`COMPUTING_CODE`).

    ``recsys_utils.__version__`` does not change between commits, so a key holding only the
    version would hand back a result computed by older code; the digest makes every change of
    that code a new key (the cost: after such an edit, everything is computed again). It hashes
    each module's syntax tree without docstrings, so editing documentation, comments or layout
    keeps the stored results.
    """
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for part in COMPUTING_CODE:
        path = root / part
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            digest.update(file.relative_to(root).as_posix().encode())
            digest.update(_code_without_docstrings(file.read_bytes()))
    return digest.hexdigest()[:16]


class Store:
    """A folder of experiment results, each keyed by name, parameters, data and code.

    Args:
        root: the folder (created when the first entry is written); default
            :func:`default_store_dir`.
        version: the version in every key; default ``recsys_utils.__version__``.
        code: the code digest in every key; default :func:`code_digest`.
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        version: str | None = None,
        code: str | None = None,
    ) -> None:
        if version is None:
            from recsys_utils import __version__ as version
        self.root = Path(root).expanduser() if root is not None else default_store_dir()
        self.version = str(version)
        self.code = code_digest() if code is None else str(code)

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r}, version={self.version!r}, code={self.code!r})"

    # ------------------------------------------------------------------ keys and paths
    @staticmethod
    def check_name(name: str) -> str:
        """``name`` if it is a valid experiment name (lower-case letters, digits, ``._-``)."""
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise ValueError(f"experiment name must match {_NAME_RE.pattern}, got {name!r}")
        return name

    def key(self, name: str, params: dict[str, Any], data: MovieLens | str | None = None) -> str:
        """The entry key of ``name`` with ``params`` on ``data`` (a MovieLens, an already
        computed fingerprint, or ``None`` for an experiment that reads no data)."""
        return entry_key(
            self.check_name(name),
            params,
            self._fingerprint(data),
            f"{self.version}+{self.code}",
            STORE_FORMAT,
        )

    @staticmethod
    def _fingerprint(data: MovieLens | str | None) -> str | None:
        if data is None or isinstance(data, str):
            return data
        return data_fingerprint(data)

    def entry_path(self, name: str, key: str) -> Path:
        return self.root / name / key

    def get(
        self,
        name: str,
        params: dict[str, Any],
        data: MovieLens | str | None = None,
    ) -> Any:
        """The stored result; :class:`KeyError` when there is none, :class:`DamagedEntry`
        when the entry fails a check (it is left in place: :meth:`cached` replaces it)."""
        key = self.key(name, params, data)
        try:
            return read_entry(self.entry_path(name, key), name, key)
        except FileNotFoundError:
            raise KeyError(f"no stored {name} entry with these parameters ({key})") from None

    # ------------------------------------------------------------------ the main entry
    def cached(
        self,
        name: str,
        params: dict[str, Any],
        compute: Callable[[], Any],
        *,
        data: MovieLens | str | None = None,
    ) -> Cached:
        """The result of ``compute()`` for ``name`` with ``params`` on ``data``: read from the
        store when a valid entry exists, else computed (under a lock, so two processes
        compute it once), stored and returned.

        The value returned after a computation is the stored form (decoded from what was
        written: tuples as lists, NumPy scalars as Python numbers), so a cold and a warm run
        give equal objects. A damaged entry is removed and recomputed with a
        :class:`StoreWarning`; a store that cannot be written (read-only, full disk) gives a
        :class:`StoreWarning` and the computed value.

        Args:
            name: the experiment's name (lower-case letters, digits, ``._-``).
            params: everything the result depends on besides the data and the code (JSON-able).
            compute: called with no arguments; its progress output is its own.
            data: the MovieLens the computation reads (its fingerprint enters the key), an
                already computed fingerprint, or ``None``.
        """
        fingerprint = self._fingerprint(data)
        key = self.key(name, params, fingerprint)
        path = self.entry_path(name, key)
        try:
            return Cached(read_entry(path, name, key), False)
        except (FileNotFoundError, DamagedEntry):
            pass
        with entry_lock(self.root / name, key):
            return self._cached_locked(name, key, params, fingerprint, compute, None)

    def put(
        self,
        name: str,
        params: dict[str, Any],
        value: Any,
        *,
        data: MovieLens | str | None = None,
        compute_s: float = 0.0,
    ) -> Cached:
        """Store ``value``, computed elsewhere in ``compute_s`` seconds, unless a valid entry
        exists (then that one is returned, ``computed=False``); see :meth:`cached`."""
        fingerprint = self._fingerprint(data)
        key = self.key(name, params, fingerprint)
        with entry_lock(self.root / name, key):
            return self._cached_locked(name, key, params, fingerprint, lambda: value, compute_s)

    def _cached_locked(
        self,
        name: str,
        key: str,
        params: dict[str, Any],
        fingerprint: str | None,
        compute: Callable[[], Any],
        compute_s: float | None,
    ) -> Cached:
        path = self.entry_path(name, key)
        try:
            return Cached(read_entry(path, name, key), False)
        except FileNotFoundError:
            pass
        except DamagedEntry as err:
            warnings.warn(
                f"stored result {path} is damaged ({err}); computing it again", StoreWarning, stacklevel=4
            )
            remove_entry(path)
        start = time.perf_counter()
        value = compute()
        elapsed = time.perf_counter() - start if compute_s is None else compute_s
        document, arrays = encode(value)
        manifest = {
            "name": name,
            "params": json.loads(canonical_params(params)),
            "data": fingerprint,
            "version": self.version,
            "code": self.code,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(),
            "compute_s": round(elapsed, 3),
        }
        try:
            write_entry(self.root / name, key, manifest, document, arrays)
        except OSError as err:
            warnings.warn(
                f"could not store {name} in {self.root} ({err}); the result is "
                "used but will be computed again next time",
                StoreWarning,
                stacklevel=4,
            )
        return Cached(decode(document, arrays), True)

    # --------------------------------------------------------------- listing, clearing
    def _entry_dirs(self, name: str | None = None) -> Iterator[Path]:
        if not self.root.is_dir():
            return
        folders = [self.root / self.check_name(name)] if name else sorted(self.root.iterdir())
        for folder in folders:
            if folder.is_dir() and _NAME_RE.match(folder.name):
                for path in sorted(folder.iterdir()):
                    if is_own_entry(path):
                        yield path

    def entries(self, name: str | None = None) -> list[EntryInfo]:
        """Every entry (of experiment ``name`` only, if given), sorted by name then date; one
        removed by another process while listed is left out (writers rename entries in whole)."""
        out = []
        for path in self._entry_dirs(name):
            try:
                size = sum(p.stat().st_size for p in path.iterdir())
            except FileNotFoundError:  # removed by another process while listed
                continue
            try:
                manifest = read_manifest(path)
                created = _dt.datetime.fromisoformat(manifest["created"])
                out.append(
                    EntryInfo(
                        path.parent.name,
                        path.name,
                        path,
                        size,
                        created,
                        manifest.get("compute_s"),
                        manifest.get("params", {}),
                        manifest.get("data"),
                        manifest.get("version"),
                        "ok",
                    )
                )
            except (DamagedEntry, ValueError, KeyError, TypeError):
                out.append(
                    EntryInfo(path.parent.name, path.name, path, size, None, None, {}, None, None, "damaged")
                )
        epoch = _dt.datetime.min.replace(tzinfo=_dt.timezone.utc)
        return sorted(out, key=lambda e: (e.name, e.created or epoch, e.key))

    def find(self, name: str, data: MovieLens | str | None, match: dict[str, Any]) -> list[EntryInfo]:
        """Entries of ``name`` on ``data`` with this store's version and code whose
        parameters include ``match`` (equal values), oldest first. Used to gather the
        per-user shards of a population run (``recsys_utils.experiments.population_runs``)."""
        fingerprint = self._fingerprint(data)
        want = json.loads(canonical_params(match))
        found = []
        for entry in self.entries(name):
            if entry.data != fingerprint or not self.is_current(entry):
                continue
            if all(entry.params.get(k) == v for k, v in want.items()):
                found.append(entry)
        return found

    def is_current(self, entry: EntryInfo) -> bool:
        """Whether this store (its version and code digest) would use ``entry``: ``False``
        for an entry of another version or code, or with an unreadable manifest."""
        if entry.status != "ok":
            return False
        try:
            return self.key(entry.name, entry.params, entry.data) == entry.key
        except (TypeError, ValueError):
            return False

    def discard(self, entry: EntryInfo, reason: str) -> None:
        """Remove a damaged entry (its own files only), with a :class:`StoreWarning`."""
        warnings.warn(
            f"stored result {entry.path} is damaged ({reason}); it is not used", StoreWarning, stacklevel=3
        )
        with entry_lock(self.root / entry.name, entry.key):
            if entry.path.is_dir():
                remove_entry(entry.path)

    def read_entry(self, entry: EntryInfo) -> Any:
        """The verified result of a listed entry (:class:`DamagedEntry` if a check fails)."""
        return read_entry(entry.path, entry.name, entry.key)

    def clear(self, name: str | None = None, *, stale_only: bool = False) -> tuple[int, int]:
        """Remove the store's entries (of experiment ``name`` only, if given; with
        ``stale_only``, only those :meth:`is_current` rejects: other versions or code, damaged
        manifests), the lock files no process holds, the temporary folders of killed writers,
        and the experiment folders left empty. Files and folders the store did not write
        stay. Returns ``(entries removed, bytes freed)``."""
        count = freed = 0
        for entry in self.entries(name):
            if stale_only and self.is_current(entry):
                continue
            freed += sum(p.stat().st_size for p in entry.path.iterdir())
            shutil.rmtree(entry.path)
            count += 1
        if not self.root.is_dir():
            return count, freed
        folders = [self.root / name] if name else list(self.root.iterdir())
        for folder in folders:
            if not (folder.is_dir() and _NAME_RE.match(folder.name)):
                continue
            sweep_temporary(folder)
            for path in folder.iterdir():
                if LOCK_RE.match(path.name) and path.is_file():
                    remove_free_lock(path)
            if not any(folder.iterdir()):
                folder.rmdir()
        return count, freed


_DEFAULT: dict[str, Store] = {}


def default_store() -> Store:
    """The store of :func:`default_store_dir` (one object per folder and process)."""
    root = default_store_dir()
    key = str(root)
    if key not in _DEFAULT:
        _DEFAULT[key] = Store(root)
    return _DEFAULT[key]


def cached(
    name: str,
    params: dict[str, Any],
    compute: Callable[[], Any],
    *,
    data: MovieLens | str | None = None,
    store: Store | None = None,
) -> Cached:
    """:meth:`Store.cached` on ``store`` (default :func:`default_store`)."""
    return (store or default_store()).cached(name, params, compute, data=data)
