"""One entry of the store on disk: written atomically, checked on read, locked, removed.

Layout of the store's folder::

    <store>/<experiment name>/<key>/manifest.json   name, key, params, data fingerprint,
                                                    version, code digest, date, compute time,
                                                    and the SHA-256 and size of each file below
    <store>/<experiment name>/<key>/result.json     the result's document (strict JSON)
    <store>/<experiment name>/<key>/arrays.npz      its arrays (never object arrays)
    <store>/<experiment name>/<key>.lock            held while the entry is computed
    <store>/<experiment name>/.tmp-<key>-<pid>-<n>/ an entry being written (renamed when done)

An entry is visible only once complete: it is written to a temporary folder beside its final
place, its files flushed to disk, its manifest written last, and the folder renamed. Reading
checks the manifest, that the folder holds exactly its files, their sizes and SHA-256, and
loads the arrays with ``allow_pickle=False`` (an object array, which needs pickle, is
refused); an entry failing any check raises :class:`DamagedEntry`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from recsys_utils.experiments.codec import decode

#: Layout version of the entries, part of every key: changing the layout orphans old entries.
STORE_FORMAT = 1
#: A temporary folder older than this (seconds) is from a killed writer and is swept.
STALE_TEMP_S = 3600.0

MANIFEST = "manifest.json"
RESULT_FILE = "result.json"
ARRAYS_FILE = "arrays.npz"
ENTRY_FILES = frozenset({MANIFEST, RESULT_FILE, ARRAYS_FILE})
KEY_RE = re.compile(r"^[0-9a-f]{32}$")
TEMP_RE = re.compile(r"^\.tmp-[0-9a-f]{32}-\d+-[0-9a-f]+$")
LOCK_RE = re.compile(r"^[0-9a-f]{32}\.lock$")
_HASH_CHUNK = 1 << 20


class DamagedEntry(Exception):
    """An entry failed a check on read (the message says which)."""


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's bytes, in hex."""
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


def is_own_entry(path: Path) -> bool:
    """A folder the store wrote: its name is a key and it holds only the store's files
    (``False`` for one that another process removes meanwhile)."""
    try:
        return (
            path.is_dir()
            and bool(KEY_RE.match(path.name))
            and all(p.name in ENTRY_FILES and p.is_file() for p in path.iterdir())
        )
    except FileNotFoundError:
        return False


def write_entry(
    folder: Path, key: str, manifest: dict[str, Any], document: Any, arrays: dict[str, np.ndarray]
) -> Path:
    """Write ``folder/key`` atomically (module docstring): ``document`` as strict JSON,
    ``arrays`` as ``.npz``, then ``manifest`` with each file's SHA-256 and size added.
    Returns the entry's path; nothing is visible if it fails (:class:`OSError` raised)."""
    folder.mkdir(parents=True, exist_ok=True)
    sweep_temporary(folder)
    final = folder / key
    temp = folder / f".tmp-{key}-{os.getpid()}-{os.urandom(4).hex()}"
    temp.mkdir()
    try:
        text = json.dumps(document, allow_nan=False, separators=(",", ":"))
        _write_bytes(temp / RESULT_FILE, lambda h: h.write(text.encode("utf-8")))
        _write_bytes(temp / ARRAYS_FILE, lambda h: np.savez(h, **arrays))
        files = {
            f: {"sha256": sha256_file(temp / f), "bytes": (temp / f).stat().st_size}
            for f in (RESULT_FILE, ARRAYS_FILE)
        }
        manifest_text = json.dumps(
            {**manifest, "key": key, "format": STORE_FORMAT, "files": files}, indent=1, sort_keys=True
        )
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


def read_manifest(path: Path) -> dict[str, Any]:
    """An entry's manifest (:class:`DamagedEntry` if missing or unreadable)."""
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DamagedEntry(f"no {MANIFEST} (a partial entry)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DamagedEntry(f"unreadable {MANIFEST}: {err}") from None
    if not isinstance(manifest, dict):
        raise DamagedEntry(f"{MANIFEST} is not an object")
    return manifest


def read_entry(path: Path, name: str, key: str) -> Any:
    """The decoded result of the entry at ``path``; :class:`DamagedEntry` if any check fails,
    :class:`FileNotFoundError` if there is no entry."""
    if not path.is_dir():
        raise FileNotFoundError(path)
    manifest = read_manifest(path)
    if manifest.get("format") != STORE_FORMAT or manifest.get("key") != key or manifest.get("name") != name:
        raise DamagedEntry(f"{MANIFEST} does not describe entry {name}/{key}")
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise DamagedEntry(f"{MANIFEST} lists no files")
    present = {p.name for p in path.iterdir()} - {MANIFEST}
    if present != set(files):
        raise DamagedEntry(f"files {sorted(present)} differ from the manifest's {sorted(files)}")
    for fname, meta in files.items():
        fpath = path / fname
        if fpath.stat().st_size != meta.get("bytes") or sha256_file(fpath) != meta.get("sha256"):
            raise DamagedEntry(f"{fname} differs from its size or SHA-256 in {MANIFEST}")
    try:
        document = json.loads(
            (path / RESULT_FILE).read_text(encoding="utf-8"), parse_constant=_refuse_constant
        )
        with np.load(path / ARRAYS_FILE, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, UnicodeDecodeError, EOFError) as err:
        # ValueError includes "Object arrays cannot be loaded when allow_pickle=False".
        raise DamagedEntry(f"unreadable result: {err}") from None
    try:
        return decode(document, arrays)
    except (KeyError, TypeError, ValueError) as err:
        raise DamagedEntry(f"result does not decode: {err}") from None


def remove_entry(path: Path) -> None:
    """Delete an entry's own files; a folder still holding other files is renamed aside
    (``damaged-<key>-<time>``), never deleted with them."""
    for fname in ENTRY_FILES:
        (path / fname).unlink(missing_ok=True)
    try:
        path.rmdir()
    except OSError:
        path.rename(path.with_name(f"damaged-{path.name}-{int(time.time())}"))


def sweep_temporary(folder: Path, max_age_s: float = STALE_TEMP_S) -> int:
    """Remove the temporary folders of killed writers (older than ``max_age_s``) in
    ``folder``; returns how many."""
    removed = 0
    now = time.time()
    for path in folder.iterdir():
        if TEMP_RE.match(path.name) and path.is_dir():
            try:
                if now - path.stat().st_mtime >= max_age_s:
                    shutil.rmtree(path)
                    removed += 1
            except OSError:
                pass
    return removed


@contextmanager
def entry_lock(folder: Path, key: str) -> Iterator[None]:
    """Hold an exclusive lock on ``folder/key.lock`` (POSIX ``flock``, released when the
    process dies). Without ``fcntl`` (Windows), or in a folder that cannot be written, no lock
    is taken: writes stay atomic, and a second process may compute the same entry in vain."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
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


def remove_free_lock(path: Path) -> bool:
    """Delete a lock file unless a process holds it (then it stays); returns whether it
    was deleted."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no locks are taken
        path.unlink(missing_ok=True)
        return True
    fd = os.open(path, os.O_RDWR)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        path.unlink(missing_ok=True)
        return True
    finally:
        os.close(fd)


def _refuse_constant(token: str) -> Any:
    raise ValueError(f"non-standard JSON constant {token} (the store writes strict JSON)")
