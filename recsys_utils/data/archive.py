"""Archives: size and checksums, and a safe extraction into the cache."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from recsys_utils.data.cache import move_aside, refusals
from recsys_utils.data.registry import DatasetSpec
from recsys_utils.errors import ArchiveError, BadArgumentError, ChecksumMismatchError, DataWarning

__all__ = [
    "CHECK_KINDS",
    "check_expected",
    "extract_archive",
    "file_digests",
    "missing_files",
    "verify_digests",
]

#: The checks an archive can be held to, in the order they are compared.
CHECK_KINDS: tuple[str, ...] = ("size", "md5", "sha256")
#: Bytes read at a time when hashing or downloading.
CHUNK_BYTES = 1 << 16


def missing_files(folder: Path, spec: DatasetSpec) -> list[str]:
    """The files of ``spec`` that ``folder`` lacks (all of them when it does not exist)."""
    return [f for f in spec.files.values() if not (folder / f).is_file()]


def check_expected(expected: Mapping[str, Any]) -> dict[str, Any]:
    """``expected`` with every key of :data:`CHECK_KINDS` (missing ones ``None``).

    Raises:
        BadArgumentError: an unknown key.
    """
    unknown = set(expected) - set(CHECK_KINDS)
    if unknown:
        raise BadArgumentError(
            "expected", dict(expected), f"unknown keys {sorted(unknown)}; allowed: 'size', 'md5', 'sha256'"
        )
    return {k: expected.get(k) for k in CHECK_KINDS}


def file_digests(path: Path) -> dict[str, Any]:
    """``{"size": bytes, "md5": hex, "sha256": hex}`` of a file."""
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            md5.update(chunk)
            sha.update(chunk)
            size += len(chunk)
    return {"size": size, "md5": md5.hexdigest(), "sha256": sha.hexdigest()}


def verify_digests(got: Mapping[str, Any], expected: Mapping[str, Any], path: Path, source: str = "") -> None:
    """Compare ``got`` with the known values of ``expected``.

    Raises:
        ~recsys_utils.errors.ChecksumMismatchError: the first check that differs, naming both values.
    """
    for kind in CHECK_KINDS:
        want = expected.get(kind)
        if want is None:
            continue
        have = got[kind]
        if isinstance(want, str):
            want = want.lower()
        if have != want:
            raise ChecksumMismatchError(path, kind, want, have, source)


def extract_archive(archive: Path, cache: Path, spec: DatasetSpec, checks: Mapping[str, Any]) -> Path:
    """Verify ``archive`` against ``checks``, extract its dataset folder (``<name>/``, or
    ML-10M's ``ml-10M100K/``) into ``<cache>/<name>/`` through a temporary folder; return
    that folder.

    An incomplete ``<cache>/<name>/`` in the way is moved aside (never deleted). Call it
    while holding the cache's lock.

    Raises:
        ~recsys_utils.errors.ChecksumMismatchError, ~recsys_utils.errors.ArchiveError: the archive is bad (it
            is left where it is: the caller decides whether to delete or move it aside).
        ~recsys_utils.errors.EnvironmentRefusedError: the cache cannot be written (nothing half-written is
            left).
    """
    name = spec.name
    target = cache / name
    if any(v is not None for v in checks.values()):
        with refusals(archive, "read the archive"):
            digests = file_digests(archive)
        verify_digests(digests, checks, archive)
    with refusals(cache, "create a temporary folder in the cache"):
        tmp_dir = Path(tempfile.mkdtemp(prefix=f".{name}-extract-", dir=cache))
    try:
        with refusals(cache, "extract the archive into the cache folder"):
            _extract_members(archive, tmp_dir, spec)
            if target.exists() and not missing_files(target, spec):
                return target  # already complete (e.g. a process without a lock)
            if target.exists():
                moved = move_aside(target, "incomplete")
                warnings.warn(
                    f"the incomplete folder {target} was moved aside to {moved} (nothing in it was deleted)",
                    DataWarning,
                    stacklevel=3,
                )
            os.replace(tmp_dir / spec.folder_in_archive, target)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return target


def _extract_members(archive: Path, dest: Path, spec: DatasetSpec) -> None:
    """Extract every member under ``<folder in archive>/`` of ``archive`` into ``dest``."""
    name = spec.folder_in_archive
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [i for i in zf.infolist() if i.filename.startswith(f"{name}/")]
            present = {i.filename for i in members}
            missing = [f for f in spec.files.values() if f"{name}/{f}" not in present]
            if missing:
                raise ArchiveError(
                    f"archive {archive} lacks {', '.join(f'{name}/{m}' for m in missing)}", archive
                )
            for info in members:
                rel = Path(info.filename)
                if rel.is_absolute() or ".." in rel.parts:
                    raise ArchiveError(f"archive {archive}: unsafe member name {info.filename!r}", archive)
            bad = zf.testzip()
            if bad is not None:
                raise ArchiveError(f"archive {archive} is corrupt: bad CRC in member {bad!r}", archive)
            zf.extractall(dest, members=members)
    except ArchiveError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError) as err:
        raise ArchiveError(
            f"archive {archive} is corrupt or truncated: {type(err).__name__}: {err}", archive
        ) from err
