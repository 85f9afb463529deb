"""The parsing core: a separator-delimited latin-1 file read into a DataFrame, vectorised,
with every offence reported as a :class:`MovieLensFormatError` naming the file and line.

Besides the field checks, a file in another encoding is refused with a clear message: a
byte-order mark, a NUL byte (UTF-16), or non-ASCII text that is valid UTF-8 (the MovieLens
files are latin-1, and their accented titles are not valid UTF-8).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsys_utils.errors import MovieLensFormatError

__all__ = ["INT32_MAX", "check_allowed", "check_encoding", "check_range", "check_unique", "first",
           "read_table"]

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
    text = raw[starts[index]:end].decode("latin-1")
    return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS - 3] + "..."


def first(mask: np.ndarray | pd.Series) -> int | None:
    """Index of the first true entry of ``mask``, or ``None``."""
    hits = np.flatnonzero(np.asarray(mask, dtype=bool))
    return int(hits[0]) if len(hits) else None


def _line_of(raw: bytes, offset: int) -> int:
    """1-based line of byte ``offset`` in ``raw``."""
    return raw.count(b"\n", 0, offset) + 1


def check_encoding(path: Path, raw: bytes) -> None:
    """Refuse byte-order marks, NUL bytes and UTF-8 text (MovieLens files are latin-1)."""
    for mark, encoding in _BYTE_ORDER_MARKS:
        if raw.startswith(mark):
            raise MovieLensFormatError(
                path, 1, f"the file starts with a {encoding} byte-order mark: it is not the "
                "latin-1 text of the release (re-encode it to latin-1)")
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise MovieLensFormatError(
            path, _line_of(raw, nul), "NUL byte: the file is not latin-1 text (UTF-16 or "
            "binary?); re-encode it to latin-1")
    if raw.isascii():
        return
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return  # latin-1 accents are not valid UTF-8: the release's own encoding
    offset = int(np.flatnonzero(np.frombuffer(raw, np.uint8) >= 0x80)[0])
    line = _line_of(raw, offset)
    text = raw.split(b"\n")[line - 1].decode("utf-8")[:_SHOWN_CHARS]
    raise MovieLensFormatError(
        path, line, f"the file is UTF-8 encoded ({text!r}); MovieLens files are latin-1: "
        "re-encode it to latin-1")


def read_table(path: Path, sep: str, columns: Sequence[str],
                int_columns: Sequence[str] = ()) -> pd.DataFrame:
    """Parse a separator-delimited latin-1 file into a DataFrame.

    Checks, with the 1-based line of the first offence: empty file or line, stray ``\\r``,
    field count, and that ``int_columns`` hold plain decimal integers (``[0-9]+``).
    Integer columns come back as int64, the others as str.
    """
    raw = original = _read_bytes(path)
    check_encoding(path, raw)
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
    empty = first(ends == starts)
    if empty is not None:
        raise MovieLensFormatError(path, empty + 1, "empty line")
    counts = np.bincount(np.searchsorted(starts, np.flatnonzero(arr == sep_byte),
                                         side="right") - 1, minlength=n_lines) + 1
    bad = first(counts != len(columns))
    if bad is not None:
        text = original.split(b"\n")[bad].decode("latin-1")
        text = text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS - 3] + "..."
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
        bad = first(~values.str.fullmatch(r"[0-9]{1,18}").fillna(False).astype(bool))
        if bad is not None:
            raise MovieLensFormatError(path, bad + 1,
                                       f"{col} is not a non-negative integer: {values.iloc[bad]!r}")
        df[col] = values.astype(np.int64)
    return df


def check_range(path: Path, df: pd.DataFrame, col: str, lo: int, hi: int) -> None:
    """Every value of integer column ``col`` lies in ``lo..hi``."""
    values = df[col].to_numpy()
    bad = first((values < lo) | (values > hi))
    if bad is not None:
        raise MovieLensFormatError(path, bad + 1,
                                   f"{col} {values[bad]} outside the allowed range {lo}..{hi}")


def check_allowed(path: Path, df: pd.DataFrame, col: str, allowed: Sequence[Any]) -> None:
    """Every value of column ``col`` is one of ``allowed``."""
    bad = first(~df[col].isin(list(allowed)).to_numpy())
    if bad is not None:
        shown = ", ".join(map(str, allowed))
        value = df[col].iloc[bad]
        value = value.item() if isinstance(value, np.generic) else value
        raise MovieLensFormatError(path, bad + 1, f"{col} {value!r} is not one of {shown}")


def check_unique(path: Path, df: pd.DataFrame, cols: list[str], what: str) -> None:
    """No two rows share the values of ``cols``; the error names both lines."""
    dup = df.duplicated(cols, keep="first").to_numpy()
    bad = first(dup)
    if bad is not None:
        key = tuple(df[c].iloc[bad] for c in cols)
        key_text = ", ".join(f"{c}={k}" for c, k in zip(cols, key))
        seen = first((df[cols] == pd.Series(key, index=cols)).all(axis=1).to_numpy())
        raise MovieLensFormatError(path, bad + 1,
                                   f"duplicate {what} ({key_text}), first seen on line "
                                   f"{(seen or 0) + 1}")


