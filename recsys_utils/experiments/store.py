"""The on-disk store of experiment results (see the package docstring for the design).

Layout of the store's folder::

    <store>/<experiment name>/<key>/manifest.json   name, params, data fingerprint, version,
                                                    code digest, date, compute time, and the
                                                    SHA-256 and size of each file below
    <store>/<experiment name>/<key>/result.json     the result's document (strict JSON)
    <store>/<experiment name>/<key>/arrays.npz      its arrays (never object arrays)
    <store>/<experiment name>/<key>.lock            held while the entry is computed
    <store>/<experiment name>/.tmp-<key>-<pid>-<n>/ an entry being written (renamed when done)

An entry is visible only once complete: it is written to a temporary folder beside its final
place, its files flushed to disk, its manifest written last, and the folder renamed. Reading
checks the manifest, that the folder holds exactly its files, their sizes and SHA-256, and
loads the arrays with ``allow_pickle=False``; an entry failing any check is removed and
recomputed with a :class:`StoreWarning`, never used.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import shutil
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from recsys_utils.experiments.codec import decode, encode
from recsys_utils.experiments.fingerprint import data_fingerprint, entry_key

if TYPE_CHECKING:  # pragma: no cover
    from recsys_utils.data import MovieLens

#: Environment variable naming the store's folder.
STORE_DIR_ENV = "RECSYS_STORE_DIR"
#: The package's cache folder variable (the store is its ``experiments/`` subfolder).
CACHE_DIR_ENV = "RECSYS_CACHE_DIR"
#: Layout version of the entries, part of every key: changing the layout orphans old entries.
STORE_FORMAT = 1
#: A temporary folder older than this (seconds) is from a killed writer and is swept.
STALE_TEMP_S = 3600.0

MANIFEST = "manifest.json"
RESULT_FILE = "result.json"
ARRAYS_FILE = "arrays.npz"
_ENTRY_FILES = frozenset({MANIFEST, RESULT_FILE, ARRAYS_FILE})
_KEY_RE = re.compile(r"^[0-9a-f]{32}$")
_TEMP_RE = re.compile(r"^\.tmp-[0-9a-f]{32}-\d+-[0-9a-f]+$")
_LOCK_RE = re.compile(r"^[0-9a-f]{32}\.lock$")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_HASH_CHUNK = 1 << 20


class StoreWarning(UserWarning):
    """A stored entry was damaged (and is recomputed) or a result could not be stored."""


class DamagedEntry(Exception):
    """An entry failed a check on read (the message says which)."""


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


def code_digest() -> str:
    """SHA-256 (16 hex digits) of the package's Python sources.

    ``recsys_utils.__version__`` does not change between commits, so a key holding only the
    version would hand back a result computed by older code; the digest makes every change of
    the package's code a new key (the cost: after any edit, everything is computed again).
    """
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_HASH_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_bytes(path: Path, write: Callable[[Any], None]) -> None:
    with open(path, "xb") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())


def _is_own_entry(path: Path) -> bool:
    """A folder the store wrote: its name is a key and it holds only the store's files."""
    return (path.is_dir() and bool(_KEY_RE.match(path.name))
            and all(p.name in _ENTRY_FILES and p.is_file() for p in path.iterdir()))


class Store:
    """A folder of experiment results, each keyed by name, parameters, data and code.

    Args:
        root: the folder (created when the first entry is written); default
            :func:`default_store_dir`.
        version: the version in every key; default ``recsys_utils.__version__``.
        code: the code digest in every key; default :func:`code_digest`.
    """

    def __init__(self, root: str | os.PathLike[str] | None = None, *,
                 version: str | None = None, code: str | None = None) -> None:
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

    def key(self, name: str, params: dict[str, Any], data: MovieLens | str | None = None
            ) -> str:
        """The entry key of ``name`` with ``params`` on ``data`` (a MovieLens, an already
        computed fingerprint, or ``None`` for an experiment that reads no data)."""
        return entry_key(self.check_name(name), params, self._fingerprint(data),
                         f"{self.version}+{self.code}", STORE_FORMAT)

    @staticmethod
    def _fingerprint(data: MovieLens | str | None) -> str | None:
        if data is None or isinstance(data, str):
            return data
        return data_fingerprint(data)

    def entry_path(self, name: str, key: str) -> Path:
        return self.root / name / key

    # ------------------------------------------------------------------------ reading
    def _read(self, path: Path, name: str, key: str) -> Any:
        """The decoded result of the entry at ``path``; :class:`DamagedEntry` if any check
        fails, :class:`FileNotFoundError` if there is no entry."""
        if not path.is_dir():
            raise FileNotFoundError(path)
        try:
            manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DamagedEntry(f"no {MANIFEST} (a partial entry)") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise DamagedEntry(f"unreadable {MANIFEST}: {err}") from None
        if not isinstance(manifest, dict) or manifest.get("format") != STORE_FORMAT \
                or manifest.get("key") != key or manifest.get("name") != name:
            raise DamagedEntry(f"{MANIFEST} does not describe entry {name}/{key}")
        files = manifest.get("files")
        if not isinstance(files, dict):
            raise DamagedEntry(f"{MANIFEST} lists no files")
        present = {p.name for p in path.iterdir()} - {MANIFEST}
        if present != set(files):
            raise DamagedEntry(f"files {sorted(present)} differ from the manifest's "
                               f"{sorted(files)}")
        for fname, meta in files.items():
            fpath = path / fname
            if fpath.stat().st_size != meta.get("bytes") or _sha256(fpath) != meta.get("sha256"):
                raise DamagedEntry(f"{fname} differs from its size or SHA-256 in {MANIFEST}")
        try:
            document = json.loads((path / RESULT_FILE).read_text(encoding="utf-8"),
                                  parse_constant=_refuse_constant)
            with np.load(path / ARRAYS_FILE, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except (OSError, ValueError, UnicodeDecodeError, EOFError) as err:
            # ValueError includes "Object arrays cannot be loaded when allow_pickle=False".
            raise DamagedEntry(f"unreadable result: {err}") from None
        try:
            return decode(document, arrays)
        except (KeyError, TypeError, ValueError) as err:
            raise DamagedEntry(f"result does not decode: {err}") from None

    def get(self, name: str, params: dict[str, Any], data: MovieLens | str | None = None,
            ) -> Any:
        """The stored result; :class:`KeyError` when there is none, :class:`DamagedEntry`
        when the entry fails a check (it is left in place: :meth:`cached` replaces it)."""
        key = self.key(name, params, data)
        try:
            return self._read(self.entry_path(name, key), name, key)
        except FileNotFoundError:
            raise KeyError(f"no stored {name} entry with these parameters ({key})") from None

    # ------------------------------------------------------------------------ writing
    def _write(self, name: str, key: str, params: dict[str, Any], fingerprint: str | None,
               document: Any, arrays: dict[str, np.ndarray], compute_s: float) -> Path:
        """Write one entry atomically (module docstring); returns its path."""
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        self._sweep(folder)
        final = folder / key
        temp = folder / f".tmp-{key}-{os.getpid()}-{os.urandom(4).hex()}"
        temp.mkdir()
        try:
            text = json.dumps(document, allow_nan=False, separators=(",", ":"))
            _write_bytes(temp / RESULT_FILE, lambda h: h.write(text.encode("utf-8")))
            _write_bytes(temp / ARRAYS_FILE, lambda h: np.savez(h, **arrays))
            files = {f: {"sha256": _sha256(temp / f), "bytes": (temp / f).stat().st_size}
                     for f in (RESULT_FILE, ARRAYS_FILE)}
            manifest = {"format": STORE_FORMAT, "name": name, "key": key,
                        "params": json.loads(json.dumps(params, default=_plain_default)),
                        "data": fingerprint, "version": self.version, "code": self.code,
                        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(),
                        "compute_s": round(compute_s, 3), "files": files}
            manifest_text = json.dumps(manifest, indent=1, sort_keys=True)
            _write_bytes(temp / MANIFEST, lambda h: h.write(manifest_text.encode("utf-8")))
            try:
                os.rename(temp, final)
            except OSError:
                if not final.is_dir():
                    raise
                shutil.rmtree(temp)  # another writer got there first: keep theirs
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
        return final

    def _sweep(self, folder: Path, max_age_s: float = STALE_TEMP_S) -> int:
        """Remove temporary folders of killed writers (older than ``max_age_s``)."""
        removed = 0
        now = time.time()
        for path in folder.iterdir():
            if _TEMP_RE.match(path.name) and path.is_dir():
                try:
                    if now - path.stat().st_mtime >= max_age_s:
                        shutil.rmtree(path)
                        removed += 1
                except OSError:
                    pass
        return removed

    @contextmanager
    def _lock(self, name: str, key: str) -> Iterator[None]:
        """Hold an exclusive lock on ``name``/``key`` (POSIX ``flock``; elsewhere no lock:
        writes stay atomic, a second process may compute the same entry in vain)."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            yield
            return
        folder = self.root / name
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(folder / f"{key}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:  # a read-only store: compute without a lock (the write warns)
            yield
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    # ------------------------------------------------------------------ the main entry
    def cached(self, name: str, params: dict[str, Any], compute: Callable[[], Any], *,
               data: MovieLens | str | None = None) -> Cached:
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
            return Cached(self._read(path, name, key), False)
        except (FileNotFoundError, DamagedEntry):
            pass
        with self._lock(name, key):
            return self._cached_locked(name, key, params, fingerprint, compute)

    def _cached_locked(self, name: str, key: str, params: dict[str, Any],
                       fingerprint: str | None, compute: Callable[[], Any]) -> Cached:
        path = self.entry_path(name, key)
        try:
            return Cached(self._read(path, name, key), False)
        except FileNotFoundError:
            pass
        except DamagedEntry as err:
            warnings.warn(f"stored result {path} is damaged ({err}); computing it again",
                          StoreWarning, stacklevel=4)
            _remove_entry(path)
        start = time.perf_counter()
        value = compute()
        elapsed = time.perf_counter() - start
        document, arrays = encode(value)
        try:
            self._write(name, key, params, fingerprint, document, arrays, elapsed)
        except OSError as err:
            warnings.warn(f"could not store {name} in {self.root} ({err}); the result is "
                          "used but will be computed again next time", StoreWarning,
                          stacklevel=4)
        return Cached(decode(document, arrays), True)

    # --------------------------------------------------------------- listing, clearing
    def _entry_dirs(self, name: str | None = None) -> Iterator[Path]:
        if not self.root.is_dir():
            return
        folders = [self.root / self.check_name(name)] if name else sorted(self.root.iterdir())
        for folder in folders:
            if folder.is_dir() and _NAME_RE.match(folder.name):
                for path in sorted(folder.iterdir()):
                    if _is_own_entry(path):
                        yield path

    def entries(self, name: str | None = None) -> list[EntryInfo]:
        """Every entry (of experiment ``name`` only, if given), sorted by name then date."""
        out = []
        for path in self._entry_dirs(name):
            size = sum(p.stat().st_size for p in path.iterdir())
            try:
                manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
                created = _dt.datetime.fromisoformat(manifest["created"])
                out.append(EntryInfo(path.parent.name, path.name, path, size, created,
                                     manifest.get("compute_s"), manifest.get("params", {}),
                                     manifest.get("data"), manifest.get("version"), "ok"))
            except (OSError, ValueError, KeyError, TypeError):
                out.append(EntryInfo(path.parent.name, path.name, path, size, None, None, {},
                                     None, None, "damaged"))
        epoch = _dt.datetime.min.replace(tzinfo=_dt.timezone.utc)
        return sorted(out, key=lambda e: (e.name, e.created or epoch, e.key))

    def find(self, name: str, data: MovieLens | str | None, match: dict[str, Any]
             ) -> list[EntryInfo]:
        """Entries of ``name`` on ``data`` with this store's version and code whose
        parameters include ``match`` (equal values), oldest first. Used to gather the
        per-user shards of a population run (:mod:`recsys_utils.experiments.population_runs`)."""
        fingerprint = self._fingerprint(data)
        want = json.loads(json.dumps(match, default=_plain_default))
        found = []
        for entry in self.entries(name):
            if entry.status != "ok" or entry.data != fingerprint:
                continue
            if self.key(name, entry.params, fingerprint) != entry.key:
                continue  # another version or code digest
            if all(entry.params.get(k) == v for k, v in want.items()):
                found.append(entry)
        return found

    def discard(self, entry: EntryInfo, reason: str) -> None:
        """Remove a damaged entry (its own files only), with a :class:`StoreWarning`."""
        warnings.warn(f"stored result {entry.path} is damaged ({reason}); it is not used",
                      StoreWarning, stacklevel=3)
        with self._lock(entry.name, entry.key):
            if entry.path.is_dir():
                _remove_entry(entry.path)

    def read_entry(self, entry: EntryInfo) -> Any:
        """The verified result of a listed entry (:class:`DamagedEntry` if a check fails)."""
        return self._read(entry.path, entry.name, entry.key)

    def clear(self, name: str | None = None) -> tuple[int, int]:
        """Remove the store's entries (of experiment ``name`` only, if given), its lock files
        and temporary folders, and the experiment folders left empty; files and folders the
        store did not write stay. Returns ``(entries removed, bytes freed)``."""
        count = freed = 0
        for path in list(self._entry_dirs(name)):
            freed += sum(p.stat().st_size for p in path.iterdir())
            shutil.rmtree(path)
            count += 1
        if not self.root.is_dir():
            return count, freed
        folders = [self.root / name] if name else list(self.root.iterdir())
        for folder in folders:
            if not (folder.is_dir() and _NAME_RE.match(folder.name)):
                continue
            self._sweep(folder, max_age_s=0.0)
            for path in folder.iterdir():
                if _LOCK_RE.match(path.name) and path.is_file():
                    path.unlink()
            if not any(folder.iterdir()):
                folder.rmdir()
        return count, freed


def _remove_entry(path: Path) -> None:
    """Delete an entry's own files; a folder still holding other files is renamed aside
    (``damaged-<key>-<time>``), never deleted with them."""
    for fname in _ENTRY_FILES:
        (path / fname).unlink(missing_ok=True)
    try:
        path.rmdir()
    except OSError:
        path.rename(path.with_name(f"damaged-{path.name}-{int(time.time())}"))


def _refuse_constant(token: str) -> Any:
    raise ValueError(f"non-standard JSON constant {token} (the store writes strict JSON)")


def _plain_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


_DEFAULT: dict[str, Store] = {}


def default_store() -> Store:
    """The store of :func:`default_store_dir` (one object per folder and process)."""
    root = default_store_dir()
    key = str(root)
    if key not in _DEFAULT:
        _DEFAULT[key] = Store(root)
    return _DEFAULT[key]


def cached(name: str, params: dict[str, Any], compute: Callable[[], Any], *,
           data: MovieLens | str | None = None, store: Store | None = None) -> Cached:
    """:meth:`Store.cached` on ``store`` (default :func:`default_store`)."""
    return (store or default_store()).cached(name, params, compute, data=data)
