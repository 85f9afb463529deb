"""The parsing core: a separator-delimited file read into a DataFrame, vectorised, with
every offence reported as a :class:`MovieLensFormatError` naming the file and line.

Besides the field checks, a file in another encoding than its release's is refused with a
clear message: a byte-order mark, a NUL byte (UTF-16), non-ASCII text that is valid UTF-8
where the release is latin-1 (ML-1M's and ML-100K's accented titles are not valid UTF-8), or
text that is not valid UTF-8 where the release is UTF-8 (ML-20M and later).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsys_utils.errors import MovieLensFormatError

__all__ = [
    "INT32_MAX",
    "check_allowed",
    "check_encoding",
    "check_range",
    "check_unique",
    "first",
    "read_table",
    "shifted_lines",
]

INT32_MAX = int(np.iinfo(np.int32).max)
#: Longest excerpt of a line quoted in a message.
_SHOWN_CHARS = 100
_BYTE_ORDER_MARKS = ((b"\xef\xbb\xbf", "UTF-8"), (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"))


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
    text = raw[starts[index] : end].decode("latin-1")
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


def first(mask: np.ndarray | pd.Series) -> int | None:
    """Index of the first true entry of ``mask``, or ``None``."""
    hits = np.flatnonzero(np.asarray(mask, dtype=bool))
    return int(hits[0]) if len(hits) else None


def _line_of(raw: bytes, offset: int) -> int:
    """1-based line of byte ``offset`` in ``raw``."""
    return raw.count(b"\n", 0, offset) + 1


def check_encoding(path: Path, raw: bytes, encoding: str | None = "latin-1") -> None:
    """Refuse byte-order marks and NUL bytes; then, for a latin-1 release, text that is valid
    UTF-8 (the latin-1 accents of the MovieLens files are not), and for a UTF-8 release,
    text that is not valid UTF-8. ``encoding=None``: either is accepted."""
    for mark, name in _BYTE_ORDER_MARKS:
        if raw.startswith(mark):
            raise MovieLensFormatError(
                path,
                1,
                f"the file starts with a {name} byte-order mark: it is not the "
                f"{encoding or 'plain'} text of the release (re-encode it without one)",
            )
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise MovieLensFormatError(
            path,
            _line_of(raw, nul),
            "NUL byte: the file is not plain text (UTF-16 or "
            f"binary?); re-encode it to {encoding or 'UTF-8'}",
        )
    if encoding is None or raw.isascii():
        return
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as err:
        if encoding == "utf-8":
            raise MovieLensFormatError(
                path,
                _line_of(raw, err.start),
                f"byte {raw[err.start]:#04x} is not UTF-8: the release's files are UTF-8 (re-encode it)",
            ) from None
        return  # latin-1 accents are not valid UTF-8: the release's own encoding
    if encoding == "utf-8":
        return
    offset = int(np.flatnonzero(np.frombuffer(raw, np.uint8) >= 0x80)[0])
    line = _line_of(raw, offset)
    text = raw.split(b"\n")[line - 1].decode("utf-8")[:_SHOWN_CHARS]
    raise MovieLensFormatError(
        path,
        line,
        f"the file is UTF-8 encoded ({text!r}); MovieLens files are latin-1: re-encode it to latin-1",
    )


@contextmanager
def shifted_lines(offset: int) -> Iterator[None]:
    """Add ``offset`` to the line of a :class:`MovieLensFormatError` raised in the block
    (for files whose first line is a header)."""
    try:
        yield
    except MovieLensFormatError as err:
        if offset == 0 or err.path is None:
            raise
        raise MovieLensFormatError(err.path, err.line + offset, err.reason) from None


def read_table(
    path: Path,
    sep: str,
    columns: Sequence[str],
    int_columns: Sequence[str] = (),
    *,
    float_columns: Sequence[str] = (),
    encoding: str = "latin-1",
    header: str | None = None,
) -> pd.DataFrame:
    """Parse a separator-delimited file into a DataFrame.

    Checks, with the 1-based line of the first offence: the encoding, the ``header`` line
    (when given), empty file or line, stray ``\\r``, field count, that ``int_columns`` hold
    plain decimal integers (``[0-9]+``) and ``float_columns`` plain decimals. Integer columns
    come back as int64, float columns as float64, the others as str. Row ``i`` of the result
    is line ``i + 1`` of the file (``i + 2`` with a header).
    """
    raw = _read_bytes(path)
    check_encoding(path, raw, encoding)
    if header is None:
        return _read_body(path, raw, sep, columns, int_columns, float_columns, encoding)
    first_line, _, body = raw.partition(b"\n")
    if first_line.decode(encoding, errors="replace") != header:
        raise MovieLensFormatError(
            path,
            1,
            f"expected the header {header!r}, found "
            f"{first_line[:_SHOWN_CHARS].decode(encoding, errors='replace')!r}",
        )
    if not body:
        raise MovieLensFormatError(path, 2, "no rows after the header")
    with shifted_lines(1):
        return _read_body(path, body, sep, columns, int_columns, float_columns, encoding)


def _read_body(
    path: Path,
    raw: bytes,
    sep: str,
    columns: Sequence[str],
    int_columns: Sequence[str],
    float_columns: Sequence[str],
    encoding: str,
) -> pd.DataFrame:
    original = raw
    if len(sep) > 1:
        if b"\t" in raw:
            starts = _line_starts(np.frombuffer(raw, np.uint8))
            line = int(np.searchsorted(starts, raw.index(b"\t"), side="right"))
            raise MovieLensFormatError(
                path, line, f"unexpected tab character in {_line_at(raw, starts, line - 1)!r}"
            )
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
    empty = first(ends == starts)
    if empty is not None:
        raise MovieLensFormatError(path, empty + 1, "empty line")
    counts = (
        np.bincount(
            np.searchsorted(starts, np.flatnonzero(arr == sep_byte), side="right") - 1, minlength=n_lines
        )
        + 1
    )
    bad = first(counts != len(columns))
    if bad is not None:
        text = original.split(b"\n")[bad].decode(encoding, errors="replace")
        text = text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."
        raise MovieLensFormatError(
            path,
            bad + 1,
            f"expected {len(columns)} fields separated by {sep!r}, found {counts[bad]}: {text!r}",
        )

    def parse(dtype: Any) -> pd.DataFrame:
        return pd.read_csv(
            io.BytesIO(raw),
            sep="\t" if len(sep) > 1 else sep,
            header=None,
            names=list(columns),
            dtype=dtype,
            quoting=csv.QUOTE_NONE,
            na_filter=False,
            skip_blank_lines=False,
            engine="c",
            encoding=encoding,
        )

    int_columns, float_columns = list(int_columns), list(float_columns)
    if len(int_columns) + len(float_columns) == len(columns):
        # Fast path: only digits (and points) and separators may appear; the C parser reads.
        allowed = b"0123456789\n" + bytes([sep_byte]) + (b"." if float_columns else b"")
        leftover = raw.translate(None, allowed)
        if not leftover:
            dtypes = {c: ("int64" if c in int_columns else "float64") for c in columns}
            try:
                df = parse(dtypes)
            except (ValueError, OverflowError):
                df = None
            if df is not None and len(df) == n_lines:
                return df
    df = parse(str)
    if len(df) != n_lines:  # pragma: no cover - guarded by the checks above
        raise MovieLensFormatError(path, min(len(df), n_lines) + 1, "could not split the file into lines")
    for col in int_columns:
        values = df[col]
        bad = first(~values.str.fullmatch(r"[0-9]{1,18}").fillna(False).astype(bool))
        if bad is not None:
            raise MovieLensFormatError(
                path, bad + 1, f"{col} is not a non-negative integer: {values.iloc[bad]!r}"
            )
        df[col] = values.astype(np.int64)
    for col in float_columns:
        values = df[col]
        bad = first(~values.str.fullmatch(r"[0-9]{1,9}(\.[0-9]{1,9})?").fillna(False).astype(bool))
        if bad is not None:
            raise MovieLensFormatError(
                path, bad + 1, f"{col} is not a non-negative decimal: {values.iloc[bad]!r}"
            )
        df[col] = values.astype(np.float64)
    return df


def check_range(path: Path, df: pd.DataFrame, col: str, lo: int, hi: int) -> None:
    """Every value of integer column ``col`` lies in ``lo..hi``."""
    values = df[col].to_numpy()
    bad = first((values < lo) | (values > hi))
    if bad is not None:
        raise MovieLensFormatError(path, bad + 1, f"{col} {values[bad]} outside the allowed range {lo}..{hi}")


def check_allowed(path: Path, df: pd.DataFrame, col: str, allowed: Sequence[Any]) -> None:
    """Every value of column ``col`` is one of ``allowed``."""
    bad = first(~df[col].isin(list(allowed)).to_numpy())
    if bad is not None:
        shown = ", ".join(map(str, allowed))
        value = df[col].iloc[bad]
        value = value.item() if isinstance(value, np.generic) else value
        raise MovieLensFormatError(path, bad + 1, f"{col} {value!r} is not one of {shown}")


def check_unique(path: Path, df: pd.DataFrame, cols: list[str], what: str, header_lines: int = 0) -> None:
    """No two rows share the values of ``cols``; the error names both lines (the second
    through its position; the first, in the message, counting ``header_lines`` more)."""
    dup = df.duplicated(cols, keep="first").to_numpy()
    bad = first(dup)
    if bad is not None:
        key = tuple(df[c].iloc[bad] for c in cols)
        key_text = ", ".join(f"{c}={k}" for c, k in zip(cols, key))
        seen = first((df[cols] == pd.Series(key, index=cols)).all(axis=1).to_numpy())
        raise MovieLensFormatError(
            path,
            bad + 1,
            f"duplicate {what} ({key_text}), first seen on line {(seen or 0) + 1 + header_lines}",
        )
