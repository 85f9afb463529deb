"""Where MovieLens comes from, how it is verified, and how its files are parsed.

Resolution order
----------------
:func:`load_movielens` (through :func:`resolve_dataset_dir`) looks for a dataset
``name`` (``"ml-1m"`` or ``"ml-100k"``) in this order and uses the first hit:

1. the ``data_dir`` argument: either the dataset folder itself (holding e.g.
   ``ratings.dat``, ``movies.dat``, ``users.dat``) or a folder holding ``<name>/``.
   If it is given but lacks the files, that is an error (nothing else is tried);
2. the environment variable ``RECSYS_DATA_DIR``: a folder holding ``ml-1m/`` and/or
   ``ml-100k/`` as extracted from the official archives (or a dataset folder itself,
   when it is named ``<name>``). If it lacks this dataset, the next places are tried;
   if ``RECSYS_DATA_DIR/<name>/`` exists but lacks files, that is an error;
3. the cache, :func:`cache_dir` (``RECSYS_CACHE_DIR``, else
   ``$XDG_CACHE_HOME/recsys_utils``, else ``~/.cache/recsys_utils``): an extracted
   ``<cache>/<name>/``, or an archive ``<cache>/<name>.zip`` put there by hand,
   which is verified and extracted on first use;
4. a download of the official archive from GroupLens (``download=True`` only), verified
   (size, MD5, SHA-256 as far as known) before it is kept in the cache and extracted.

Nothing half-written is ever left in the cache: downloads and extractions go to
temporary names inside the cache folder and are renamed only once complete and verified.

Parsing
-------
The parsers return the DataFrames of ``ARCHITECTURE.md`` (rows in file order, index
``0..n-1``). They parse vectorised (a few hundred milliseconds for the 1,000,209 lines of
ML-1M's ``ratings.dat``) and reject bad input with :class:`MovieLensFormatError`, whose
message names the file and the 1-based line.
"""

from __future__ import annotations

import csv
import hashlib
import http.client
import io
import os
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from recsys_utils.genres import ML1M_GENRES, ML100K_GENRES

__all__ = [
    "ArchiveError",
    "ChecksumMismatchError",
    "DATASETS",
    "DataUnavailableError",
    "DatasetSpec",
    "MovieLens",
    "MovieLensFormatError",
    "cache_dir",
    "dataset_files_present",
    "download_dataset",
    "load_movielens",
    "read_ml100k_movies",
    "read_ml100k_ratings",
    "read_ml100k_users",
    "read_movies",
    "read_ratings",
    "read_users",
    "resolve_dataset_dir",
]

#: Environment variable naming a folder that holds ``ml-1m/`` and/or ``ml-100k/``.
DATA_DIR_ENV = "RECSYS_DATA_DIR"
#: Environment variable overriding the cache folder.
CACHE_DIR_ENV = "RECSYS_CACHE_DIR"

_INT32_MAX = int(np.iinfo(np.int32).max)
_CHUNK = 1 << 16

#: ML-1M's age codes (README: 1 "Under 18", 18 "18-24", ..., 56 "56+").
ML1M_AGE_CODES: tuple[int, ...] = (1, 18, 25, 35, 45, 50, 56)
#: ML-1M's occupation codes 0..20.
ML1M_OCCUPATIONS: range = range(21)


# --------------------------------------------------------------------------- errors


class MovieLensFormatError(ValueError):
    """A MovieLens file does not follow the documented format.

    Attributes:
        path: the offending file.
        line: the 1-based line number in that file.
        reason: what is wrong, without the location.
    """

    def __init__(self, path: str | os.PathLike[str], line: int, reason: str) -> None:
        self.path = Path(path)
        self.line = int(line)
        self.reason = reason
        super().__init__(f"{self.path}, line {self.line}: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:  # keep picklable (multiprocessing)
        return (type(self), (self.path, self.line, self.reason))


class DataUnavailableError(RuntimeError):
    """A dataset is neither available locally nor downloadable (offline, or ``download=False``).

    The message says how to provide the files.
    """


class ArchiveError(ValueError):
    """A (downloaded or hand-placed) archive is corrupt, truncated or not laid out as expected."""


class ChecksumMismatchError(ArchiveError):
    """An archive's size or checksum differs from the expected value.

    Attributes:
        path: the file checked (for a download: the temporary file, already deleted).
        kind: ``"size"``, ``"md5"`` or ``"sha256"``.
        expected, got: the two values compared.
    """

    def __init__(self, path: str | os.PathLike[str], kind: str, expected: Any, got: Any,
                 source: str = "", note: str = "") -> None:
        self.path = Path(path)
        self.kind = kind
        self.expected = expected
        self.got = got
        where = f" downloaded from {source}" if source else f" {self.path}"
        super().__init__(
            f"archive{where} failed verification: {kind} expected {expected}, got {got}{note}"
        )


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class DatasetSpec:
    """One MovieLens release: where to get it, how to verify it, which files it needs.

    ``files`` maps the roles ``"ratings"``, ``"movies"``, ``"users"`` to file names in the
    dataset folder. ``size``, ``md5``, ``sha256`` are the official archive's (``None`` when
    unknown: not verified).
    """

    name: str
    url: str
    files: Mapping[str, str]
    size: int | None = None
    md5: str | None = None
    sha256: str | None = None

    @property
    def expected(self) -> dict[str, Any]:
        """The known checks, as accepted by :func:`download_dataset`'s ``expected``."""
        return {"size": self.size, "md5": self.md5, "sha256": self.sha256}


DATASETS: Mapping[str, DatasetSpec] = MappingProxyType({
    "ml-1m": DatasetSpec(
        name="ml-1m",
        url="https://files.grouplens.org/datasets/movielens/ml-1m.zip",
        files=MappingProxyType(
            {"ratings": "ratings.dat", "movies": "movies.dat", "users": "users.dat"}),
        size=5_917_549,
        md5="c4d9eecfca2ab87c1945afe126590906",
        sha256="a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
    ),
    "ml-100k": DatasetSpec(
        name="ml-100k",
        url="https://files.grouplens.org/datasets/movielens/ml-100k.zip",
        files=MappingProxyType(
            {"ratings": "u.data", "movies": "u.item", "users": "u.user"}),
        md5="0e33842e24a9c977be4e0107933c0723",
    ),
})


def _spec(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(
            f"unknown dataset name {name!r}; known: {', '.join(sorted(DATASETS))}") from None


# --------------------------------------------------------------------------- locations


def cache_dir() -> Path:
    """The cache folder: ``RECSYS_CACHE_DIR``, else ``$XDG_CACHE_HOME/recsys_utils``,
    else ``~/.cache/recsys_utils``. It is not created here."""
    env = os.environ.get(CACHE_DIR_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "recsys_utils"


def _missing_files(folder: Path, spec: DatasetSpec) -> list[str]:
    return [f for f in spec.files.values() if not (folder / f).is_file()]


def dataset_files_present(folder: str | os.PathLike[str], name: str = "ml-1m") -> bool:
    """Whether ``folder`` holds every file dataset ``name`` needs."""
    return not _missing_files(Path(folder), _spec(name))


def _how_to(spec: DatasetSpec, cache: Path) -> str:
    files = ", ".join(spec.files.values())
    return (
        f"Provide MovieLens {spec.name!r} in one of these ways:\n"
        f"  1. set {DATA_DIR_ENV} to a folder holding '{spec.name}/' ({files}) as extracted "
        f"from the official archive {spec.url};\n"
        f"  2. pass data_dir=<that folder, or the '{spec.name}' folder itself>, "
        f"e.g. load_movielens({spec.name!r}, data_dir=...);\n"
        f"  3. place the official archive as {cache / (spec.name + '.zip')} "
        f"(set {CACHE_DIR_ENV} to use another cache folder); it is verified and "
        f"extracted on first use."
    )


def resolve_dataset_dir(name: str = "ml-1m",
                        data_dir: str | os.PathLike[str] | None = None,
                        download: bool = True) -> Path:
    """Find (or fetch) the folder holding dataset ``name``'s files.

    Order: ``data_dir`` argument > ``RECSYS_DATA_DIR`` > cache (extracted folder, then a
    hand-placed archive) > download (only when ``download`` is true). See the module
    docstring.

    Raises:
        DataUnavailableError: ``data_dir`` lacks the files, ``RECSYS_DATA_DIR/<name>``
            exists but is incomplete, or nothing is found and downloading is off or fails.
        ChecksumMismatchError, ArchiveError: a cached or downloaded archive is bad.
    """
    spec = _spec(name)
    if data_dir is not None:
        folder = Path(data_dir).expanduser()
        for candidate in (folder, folder / name):
            if not _missing_files(candidate, spec):
                return candidate
        nested = folder / name
        looked = nested if nested.is_dir() else folder
        raise DataUnavailableError(
            f"data_dir={str(data_dir)!r} does not hold MovieLens {name!r}: "
            f"{looked} lacks {', '.join(_missing_files(looked, spec))} "
            f"(give the '{name}' folder itself, or a folder holding '{name}/')"
        )

    env = os.environ.get(DATA_DIR_ENV)
    if env:
        root = Path(env).expanduser()
        nested = root / name
        if nested.is_dir():
            missing = _missing_files(nested, spec)
            if missing:
                raise DataUnavailableError(
                    f"{DATA_DIR_ENV}={env!r}: {nested} lacks {', '.join(missing)}")
            return nested
        if root.name == name and not _missing_files(root, spec):
            return root

    cache = cache_dir()
    folder = cache / name
    if not _missing_files(folder, spec):
        return folder
    if (cache / f"{name}.zip").is_file():
        return _extract_archive(cache / f"{name}.zip", cache, spec, spec.expected,
                                remove_on_error=False)
    if not download:
        raise DataUnavailableError(
            f"MovieLens {name!r} is not available locally and download=False.\n"
            + _how_to(spec, cache))
    return download_dataset(name, cache=cache)


# --------------------------------------------------------------------------- download


def _check_expected(expected: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(expected) - {"size", "md5", "sha256"}
    if unknown:
        raise ValueError(f"expected: unknown keys {sorted(unknown)}; "
                         f"allowed: 'size', 'md5', 'sha256'")
    return {k: expected.get(k) for k in ("size", "md5", "sha256")}


def _file_digests(path: Path) -> dict[str, Any]:
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            md5.update(chunk)
            sha.update(chunk)
            size += len(chunk)
    return {"size": size, "md5": md5.hexdigest(), "sha256": sha.hexdigest()}


def _verify(got: Mapping[str, Any], expected: Mapping[str, Any], path: Path,
            source: str = "") -> None:
    for kind in ("size", "md5", "sha256"):
        want = expected.get(kind)
        if want is None:
            continue
        have = got[kind]
        if isinstance(want, str):
            want = want.lower()
        if have != want:
            raise ChecksumMismatchError(path, kind, want, have, source)


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def _fetch(url: str, dest: Path, *, progress: bool, timeout: float) -> dict[str, Any]:
    """Stream ``url`` into ``dest``; return its size, md5 and sha256.

    Raises DataUnavailableError-worthy exceptions unchanged (caller wraps them).
    """
    from tqdm import tqdm

    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    size = 0
    request = urllib.request.Request(url, headers={"User-Agent": "recsys-utils"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        with dest.open("wb") as out, tqdm(total=total, unit="B", unit_scale=True,
                                          unit_divisor=1024, disable=not progress,
                                          desc=url.rsplit("/", 1)[-1] or url) as bar:
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                md5.update(chunk)
                sha.update(chunk)
                size += len(chunk)
                bar.update(len(chunk))
        if total is not None and size != total:
            raise http.client.IncompleteRead(b"", total - size)
    return {"size": size, "md5": md5.hexdigest(), "sha256": sha.hexdigest()}


def download_dataset(name: str = "ml-1m", *, url: str | None = None,
                     cache: str | os.PathLike[str] | None = None,
                     expected: Mapping[str, Any] | None = None,
                     progress: bool = True, timeout: float = 60.0) -> Path:
    """Download, verify and extract dataset ``name`` into the cache; return its folder.

    Steps: if ``<cache>/<name>/`` is complete it is returned; else if ``<cache>/<name>.zip``
    exists (e.g. placed by hand) it is verified and extracted; else the archive is streamed
    (with a progress bar) to a temporary file in the cache, its size and checksums are
    verified, it is renamed to ``<cache>/<name>.zip``, extracted into a temporary folder and
    that folder renamed to ``<cache>/<name>/``.

    Args:
        name: a key of :data:`DATASETS`.
        url: overrides the official URL (``http``/``https``), e.g. a mirror or a test server.
        cache: the cache folder (default :func:`cache_dir`); created if missing.
        expected: ``{"size": int, "md5": str, "sha256": str}``, any value ``None`` or
            absent meaning "not checked"; default: the registry's values for ``name``.
        progress: show a tqdm progress bar.
        timeout: socket timeout in seconds.

    Raises:
        DataUnavailableError: no network, HTTP error, or interrupted transfer; its message
            says how to provide the files by hand. Nothing is left in the cache.
        ChecksumMismatchError: the download differs from ``expected`` (names both values).
            Nothing is left in the cache.
        ArchiveError: the archive is corrupt or lacks the dataset's files. A downloaded
            archive is removed; a hand-placed one is kept (the message says so).
    """
    spec = _spec(name)
    url = url or spec.url
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"url={url!r}: only http:// and https:// URLs are supported")
    checks = _check_expected(spec.expected if expected is None else expected)
    cache_path = Path(cache).expanduser() if cache is not None else cache_dir()
    cache_path.mkdir(parents=True, exist_ok=True)

    folder = cache_path / name
    if not _missing_files(folder, spec):
        return folder
    archive = cache_path / f"{name}.zip"
    if archive.is_file():
        return _extract_archive(archive, cache_path, spec, checks, remove_on_error=False)

    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}-", suffix=".zip.part", dir=cache_path)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        try:
            got = _fetch(url, tmp, progress=progress, timeout=timeout)
        except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
            reason = _describe_network_error(err)
            raise DataUnavailableError(
                f"could not download MovieLens {name!r} from {url}: {reason}\n"
                + _how_to(spec, cache_path)) from err
        _verify(got, checks, tmp, source=url)
        os.replace(tmp, archive)
    finally:
        _unlink_quietly(tmp)
    return _extract_archive(archive, cache_path, spec, {}, remove_on_error=True)


def _describe_network_error(err: BaseException) -> str:
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    if isinstance(err, urllib.error.URLError):
        return f"{err.reason}"
    if isinstance(err, http.client.IncompleteRead):
        return (f"transfer interrupted ({len(err.partial)} bytes in the last read, "
                f"{err.expected} bytes missing)")
    return f"{type(err).__name__}: {err}"


def _extract_archive(archive: Path, cache: Path, spec: DatasetSpec,
                     checks: Mapping[str, Any], *, remove_on_error: bool) -> Path:
    """Verify ``archive`` against ``checks``, extract ``<name>/`` from it into
    ``<cache>/<name>/`` through a temporary folder; return that folder."""
    name = spec.name
    target = cache / name
    keep_note = ("" if remove_on_error else
                 f" (the archive {archive} was left in place: delete or replace it)")
    try:
        if any(v is not None for v in checks.values()):
            _verify(_file_digests(archive), checks, archive)
        tmp_dir = Path(tempfile.mkdtemp(prefix=f".{name}-extract-", dir=cache))
        try:
            _extract_members(archive, tmp_dir, spec)
            if target.exists() and not _missing_files(target, spec):
                return target  # another process finished first
            if target.exists():
                shutil.rmtree(target)  # an incomplete leftover inside our own cache
            os.replace(tmp_dir / name, target)
        finally:
            shutil.rmtree(tmp_dir, ignore_errors=True)
    except ChecksumMismatchError as err:
        if remove_on_error:
            _unlink_quietly(archive)
            raise
        raise ChecksumMismatchError(err.path, err.kind, err.expected, err.got,
                                    note=keep_note) from None
    except ArchiveError as err:
        if remove_on_error:
            _unlink_quietly(archive)
            raise
        raise ArchiveError(f"{err}{keep_note}") from err.__cause__
    return target


def _extract_members(archive: Path, dest: Path, spec: DatasetSpec) -> None:
    """Extract every member under ``<name>/`` of ``archive`` into ``dest``."""
    name = spec.name
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [i for i in zf.infolist() if i.filename.startswith(f"{name}/")]
            present = {i.filename for i in members}
            missing = [f for f in spec.files.values() if f"{name}/{f}" not in present]
            if missing:
                raise ArchiveError(
                    f"archive {archive} lacks {', '.join(f'{name}/{m}' for m in missing)}")
            for info in members:
                rel = Path(info.filename)
                if rel.is_absolute() or ".." in rel.parts:
                    raise ArchiveError(f"archive {archive}: unsafe member name {info.filename!r}")
            bad = zf.testzip()
            if bad is not None:
                raise ArchiveError(f"archive {archive} is corrupt: bad CRC in member {bad!r}")
            zf.extractall(dest, members=members)
    except ArchiveError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError) as err:
        raise ArchiveError(
            f"archive {archive} is corrupt or truncated: {type(err).__name__}: {err}") from err


# --------------------------------------------------------------------------- parsing core


def _read_bytes(path: Path) -> bytes:
    raw = path.read_bytes().replace(b"\r\n", b"\n").rstrip(b"\n")
    if not raw:
        raise MovieLensFormatError(path, 1, "file is empty")
    return raw


def _line_starts(arr: np.ndarray) -> np.ndarray:
    """Start offsets of every line of a ``\\n``-separated buffer (no trailing newline)."""
    newlines = np.flatnonzero(arr == 10)
    return np.concatenate(([0], newlines + 1))


def _line_at(raw: bytes, starts: np.ndarray, index: int) -> str:
    end = starts[index + 1] - 1 if index + 1 < len(starts) else len(raw)
    text = raw[starts[index]:end].decode("latin-1")
    return text if len(text) <= 100 else text[:97] + "..."


def _first(mask: np.ndarray | pd.Series) -> int | None:
    hits = np.flatnonzero(np.asarray(mask, dtype=bool))
    return int(hits[0]) if len(hits) else None


def _read_table(path: Path, sep: str, columns: Sequence[str],
                int_columns: Sequence[str] = ()) -> pd.DataFrame:
    """Parse a separator-delimited latin-1 file into a DataFrame.

    Checks, with the 1-based line of the first offence: empty file or line, stray ``\\r``,
    field count, and that ``int_columns`` hold plain decimal integers (``[0-9]+``).
    Integer columns come back as int64, the others as str.
    """
    raw = original = _read_bytes(path)
    if len(sep) > 1:
        if b"\t" in raw:
            starts = _line_starts(np.frombuffer(raw, np.uint8))
            line = int(np.searchsorted(starts, raw.index(b"\t"), side="right"))
            raise MovieLensFormatError(path, line, "unexpected tab character in "
                                       f"{_line_at(raw, starts, line - 1)!r}")
        raw = raw.replace(sep.encode("latin-1"), b"\t")
        sep_byte = 9
    else:
        sep_byte = ord(sep)
    arr = np.frombuffer(raw, np.uint8)
    starts = _line_starts(arr)
    n_lines = len(starts)
    if b"\r" in raw:
        line = int(np.searchsorted(starts, raw.index(b"\r"), side="right"))
        raise MovieLensFormatError(path, line, "stray carriage return (\\r) inside a line")
    ends = np.append(starts[1:] - 1, len(raw))
    empty = _first(ends == starts)
    if empty is not None:
        raise MovieLensFormatError(path, empty + 1, "empty line")
    counts = np.bincount(np.searchsorted(starts, np.flatnonzero(arr == sep_byte),
                                         side="right") - 1, minlength=n_lines) + 1
    bad = _first(counts != len(columns))
    if bad is not None:
        text = original.split(b"\n")[bad].decode("latin-1")
        text = text if len(text) <= 100 else text[:97] + "..."
        raise MovieLensFormatError(
            path, bad + 1,
            f"expected {len(columns)} fields separated by {sep!r}, found {counts[bad]}: {text!r}")

    def parse(dtype: Any) -> pd.DataFrame:
        return pd.read_csv(io.BytesIO(raw), sep="\t" if len(sep) > 1 else sep, header=None,
                           names=list(columns), dtype=dtype, quoting=csv.QUOTE_NONE,
                           na_filter=False, skip_blank_lines=False, engine="c",
                           encoding="latin-1")

    int_columns = list(int_columns)
    if len(int_columns) == len(columns):
        # Fast path: only digits and separators may appear, then the C parser reads ints.
        leftover = raw.translate(None, b"0123456789\n" + bytes([sep_byte]))
        if not leftover:
            try:
                df = parse("int64")
            except (ValueError, OverflowError):
                df = None
            if df is not None and len(df) == n_lines:
                return df
    df = parse(str)
    if len(df) != n_lines:  # pragma: no cover - guarded by the checks above
        raise MovieLensFormatError(path, min(len(df), n_lines) + 1,
                                   "could not split the file into lines")
    for col in int_columns:
        values = df[col]
        bad = _first(~values.str.fullmatch(r"[0-9]{1,18}").fillna(False).astype(bool))
        if bad is not None:
            raise MovieLensFormatError(path, bad + 1,
                                       f"{col} is not a non-negative integer: {values.iloc[bad]!r}")
        df[col] = values.astype(np.int64)
    return df


def _check_range(path: Path, df: pd.DataFrame, col: str, lo: int, hi: int) -> None:
    values = df[col].to_numpy()
    bad = _first((values < lo) | (values > hi))
    if bad is not None:
        raise MovieLensFormatError(path, bad + 1,
                                   f"{col} {values[bad]} outside the allowed range {lo}..{hi}")


def _check_allowed(path: Path, df: pd.DataFrame, col: str, allowed: Sequence[Any]) -> None:
    bad = _first(~df[col].isin(list(allowed)).to_numpy())
    if bad is not None:
        shown = ", ".join(map(str, allowed))
        value = df[col].iloc[bad]
        value = value.item() if isinstance(value, np.generic) else value
        raise MovieLensFormatError(path, bad + 1, f"{col} {value!r} is not one of {shown}")


def _check_unique(path: Path, df: pd.DataFrame, cols: list[str], what: str) -> None:
    dup = df.duplicated(cols, keep="first").to_numpy()
    bad = _first(dup)
    if bad is not None:
        key = tuple(df[c].iloc[bad] for c in cols)
        key_text = ", ".join(f"{c}={k}" for c, k in zip(cols, key))
        first = _first((df[cols] == pd.Series(key, index=cols)).all(axis=1).to_numpy())
        raise MovieLensFormatError(path, bad + 1,
                                   f"duplicate {what} ({key_text}), first seen on line "
                                   f"{(first or 0) + 1}")


def _ratings_frame(path: Path, df: pd.DataFrame) -> pd.DataFrame:
    for col in ("user_id", "movie_id"):
        _check_range(path, df, col, 1, _INT32_MAX)
    _check_range(path, df, "rating", 1, 5)
    key = (df["user_id"].to_numpy(np.int64) << 32) | df["movie_id"].to_numpy(np.int64)
    if pd.Series(key).duplicated().any():  # fast pre-check; the helper finds the line
        _check_unique(path, df, ["user_id", "movie_id"], "rating")
    return pd.DataFrame({
        "user_id": df["user_id"].to_numpy(np.int32),
        "movie_id": df["movie_id"].to_numpy(np.int32),
        "rating": df["rating"].to_numpy(np.int8),
        "timestamp": df["timestamp"].to_numpy(np.int64),
    })


_RATING_COLUMNS = ("user_id", "movie_id", "rating", "timestamp")


# --------------------------------------------------------------------------- ML-1M parsers


def read_ratings(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Parse ML-1M ``ratings.dat`` (``UserID::MovieID::Rating::Timestamp``, latin-1).

    Returns:
        DataFrame of n rows (file order, index 0..n-1): ``user_id`` int32, ``movie_id`` int32,
        ``rating`` int8 (1..5), ``timestamp`` int64.

    Raises:
        MovieLensFormatError: wrong field count, non-integer value, rating outside 1..5,
            id outside 1..2**31-1, duplicate (user, movie) pair.
    """
    path = Path(path)
    return _ratings_frame(path, _read_table(path, "::", _RATING_COLUMNS, _RATING_COLUMNS))


def _genre_check(path: Path, genres: pd.Series) -> None:
    """Every non-empty genres string is ``|``-separated ML-1M genre names without repeats."""
    valid = set(ML1M_GENRES)
    parts = genres.str.split("|")
    exploded = parts[genres != ""].explode()
    unknown = ~exploded.isin(valid)
    if unknown.any():
        row = int(exploded.index[_first(unknown.to_numpy())])
        bad = exploded[unknown].iloc[0]
        raise MovieLensFormatError(path, row + 1, f"unknown genre {bad!r} in "
                                   f"{genres.iloc[row]!r}; valid: {'|'.join(ML1M_GENRES)}")
    pairs = pd.DataFrame({"row": exploded.index.to_numpy(), "genre": exploded.to_numpy()})
    repeated = _first(pairs.duplicated().to_numpy())
    if repeated is not None:
        row = int(pairs["row"].iloc[repeated])
        raise MovieLensFormatError(path, row + 1, f"repeated genre in {genres.iloc[row]!r}")


def read_movies(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Parse ML-1M ``movies.dat`` (``MovieID::Title (Year)::Genre|Genre``, latin-1).

    Returns:
        DataFrame of n rows (file order): ``movie_id`` int32, ``title`` str, ``genres`` str
        (pipe-separated ML-1M genre names, ``""`` when none).

    Raises:
        MovieLensFormatError: wrong field count, non-integer id, unknown or repeated genre,
            duplicate movie id.
    """
    path = Path(path)
    df = _read_table(path, "::", ("movie_id", "title", "genres"), ("movie_id",))
    _check_range(path, df, "movie_id", 1, _INT32_MAX)
    _check_unique(path, df, ["movie_id"], "movie id")
    _genre_check(path, df["genres"])
    return pd.DataFrame({
        "movie_id": df["movie_id"].to_numpy(np.int32),
        "title": df["title"].astype(str),
        "genres": df["genres"].astype(str),
    })


def read_users(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Parse ML-1M ``users.dat`` (``UserID::Gender::Age::Occupation::Zip-code``, latin-1).

    Returns:
        DataFrame of n rows (file order): ``user_id`` int32, ``gender`` str (``M``/``F``),
        ``age`` int16 (an ML-1M age code 1, 18, 25, 35, 45, 50, 56), ``occupation`` int16
        (0..20), ``zip_code`` str.

    Raises:
        MovieLensFormatError: wrong field count, non-integer value, gender not M/F, unknown
            age or occupation code, duplicate user id.
    """
    path = Path(path)
    df = _read_table(path, "::", ("user_id", "gender", "age", "occupation", "zip_code"),
                     ("user_id", "age", "occupation"))
    _check_range(path, df, "user_id", 1, _INT32_MAX)
    _check_unique(path, df, ["user_id"], "user id")
    _check_allowed(path, df, "gender", ("M", "F"))
    _check_allowed(path, df, "age", ML1M_AGE_CODES)
    _check_range(path, df, "occupation", ML1M_OCCUPATIONS.start, ML1M_OCCUPATIONS.stop - 1)
    return pd.DataFrame({
        "user_id": df["user_id"].to_numpy(np.int32),
        "gender": df["gender"].astype(str),
        "age": df["age"].to_numpy(np.int16),
        "occupation": df["occupation"].to_numpy(np.int16),
        "zip_code": df["zip_code"].astype(str),
    })


# --------------------------------------------------------------------------- ML-100K parsers


def read_ml100k_ratings(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Parse ML-100K ``u.data`` (tab-separated ``user item rating timestamp``).

    Returns the same schema as :func:`read_ratings`.
    """
    path = Path(path)
    return _ratings_frame(path, _read_table(path, "\t", _RATING_COLUMNS, _RATING_COLUMNS))


_ML100K_ITEM_COLUMNS = ("movie_id", "title", "release_date", "video_release_date",
                        "imdb_url") + tuple(f"g_{g}" for g in ML100K_GENRES)


def read_ml100k_movies(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Parse ML-100K ``u.item`` (``|``-separated, latin-1: id, title, release date, video
    release date, IMDb URL, then 19 genre flags in :data:`ML100K_GENRES` order).

    Returns the schema of :func:`read_movies`: ``genres`` joins the flagged genres in
    :data:`ML1M_GENRES` order; the flag "unknown" is dropped (so it may be ``""``).

    Raises:
        MovieLensFormatError: wrong field count, non-integer id, a flag other than 0/1,
            duplicate movie id.
    """
    path = Path(path)
    df = _read_table(path, "|", _ML100K_ITEM_COLUMNS, ("movie_id",))
    _check_range(path, df, "movie_id", 1, _INT32_MAX)
    _check_unique(path, df, ["movie_id"], "movie id")
    flag_cols = [f"g_{g}" for g in ML100K_GENRES]
    flags = df[flag_cols].to_numpy(dtype=object)
    bad_cell = ~np.isin(flags, ["0", "1"])
    if bad_cell.any():
        row, col = np.argwhere(bad_cell)[0]
        raise MovieLensFormatError(
            path, int(row) + 1, f"genre flag {ML100K_GENRES[col]!r} must be 0 or 1, "
            f"got {flags[row, col]!r}")
    on = flags[:, 1:] == "1"  # drop "unknown"; the rest is ML1M_GENRES order
    names = np.array(ML1M_GENRES, dtype=object)
    genres = ["|".join(names[mask]) for mask in on]
    return pd.DataFrame({
        "movie_id": df["movie_id"].to_numpy(np.int32),
        "title": df["title"].astype(str),
        "genres": pd.Series(genres, dtype=str),
    })


def read_ml100k_users(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Parse ML-100K ``u.user`` (``id|age|gender|occupation|zip``).

    Returns the schema of :func:`read_users` with ``occupation`` a str (e.g. ``"writer"``)
    and ``age`` the age in years (int16).
    """
    path = Path(path)
    df = _read_table(path, "|", ("user_id", "age", "gender", "occupation", "zip_code"),
                     ("user_id", "age"))
    _check_range(path, df, "user_id", 1, _INT32_MAX)
    _check_unique(path, df, ["user_id"], "user id")
    _check_allowed(path, df, "gender", ("M", "F"))
    _check_range(path, df, "age", 0, 150)
    return pd.DataFrame({
        "user_id": df["user_id"].to_numpy(np.int32),
        "gender": df["gender"].astype(str),
        "age": df["age"].to_numpy(np.int16),
        "occupation": df["occupation"].astype(str),
        "zip_code": df["zip_code"].astype(str),
    })


_PARSERS = {
    "ml-1m": (read_ratings, read_movies, read_users),
    "ml-100k": (read_ml100k_ratings, read_ml100k_movies, read_ml100k_users),
}


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True, eq=False)
class MovieLens:
    """One loaded MovieLens release (see ARCHITECTURE.md for the frames' schemas).

    Compared by identity (``eq=False``): the frames are not compared element-wise.

    Attributes:
        name: ``"ml-1m"`` or ``"ml-100k"``.
        path: the folder read.
        ratings: (n_ratings, 4) ``user_id``, ``movie_id``, ``rating``, ``timestamp``.
        movies: (n_movies, 3) ``movie_id``, ``title``, ``genres``.
        users: (n_users, 5) ``user_id``, ``gender``, ``age``, ``occupation``, ``zip_code``.
    """

    name: str
    path: Path
    ratings: pd.DataFrame = field(repr=False)
    movies: pd.DataFrame = field(repr=False)
    users: pd.DataFrame = field(repr=False)

    def __repr__(self) -> str:
        return (f"MovieLens(name={self.name!r}, path={str(self.path)!r}, "
                f"ratings={len(self.ratings)}, movies={len(self.movies)}, "
                f"users={len(self.users)})")


def _check_references(path: Path, ratings: pd.DataFrame, col: str, known: pd.Series,
                      source: str) -> None:
    unknown = ~ratings[col].isin(known.to_numpy()).to_numpy()
    bad = _first(unknown)
    if bad is not None:
        raise MovieLensFormatError(
            path, bad + 1, f"{col} {int(ratings[col].iloc[bad])} does not appear in {source}")


def load_movielens(name: str = "ml-1m", data_dir: str | os.PathLike[str] | None = None,
                   download: bool = True) -> MovieLens:
    """Find (see :func:`resolve_dataset_dir`), parse and cross-check a MovieLens release.

    Besides each parser's checks, every rating must refer to a movie of the movies file
    and a user of the users file (else :class:`MovieLensFormatError` naming the ratings
    file and line).
    """
    spec = _spec(name)
    folder = resolve_dataset_dir(name, data_dir=data_dir, download=download)
    read_r, read_m, read_u = _PARSERS[name]
    ratings_path = folder / spec.files["ratings"]
    ratings = read_r(ratings_path)
    movies = read_m(folder / spec.files["movies"])
    users = read_u(folder / spec.files["users"])
    _check_references(ratings_path, ratings, "movie_id", movies["movie_id"],
                      spec.files["movies"])
    _check_references(ratings_path, ratings, "user_id", users["user_id"], spec.files["users"])
    return MovieLens(name=name, path=folder, ratings=ratings, movies=movies, users=users)
