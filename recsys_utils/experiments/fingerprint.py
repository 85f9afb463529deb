"""What a stored result depends on, as short strings: the data's fingerprint, the parameters'
canonical JSON and the entry's key.

The data fingerprint is a content hash of the three MovieLens frames that does not depend on
the order of their rows (a copy of ML-1M may hold the official rows in another
order): each row is hashed on its own (:func:`pandas.util.hash_pandas_object`, 64 bits per
row, all columns), the row hashes are sorted, and SHA-256 is taken over the sorted hashes
together with each frame's name, column names, dtypes and length. Any changed value changes
its row's hash and so the fingerprint. On ML-1M (1,000,209 ratings) it takes about 0.1 s and
is computed once per :class:`~recsys_utils.data.MovieLens` object (cached by identity; a
frame modified in place after the first call is not seen: load the data again instead).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import weakref
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from recsys_utils.data import MovieLens

#: Frames of a :class:`~recsys_utils.data.MovieLens` that the fingerprint covers.
FINGERPRINT_FRAMES: tuple[str, ...] = ("ratings", "movies", "users")
#: Hex digits kept of the SHA-256 digests used as fingerprints and keys (128 bits).
DIGEST_HEX_CHARS = 32

_FINGERPRINTS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def frame_digest(frame: pd.DataFrame) -> hashlib._Hash:
    """SHA-256 over a frame's columns, dtypes, length and sorted per-row hashes (row order
    does not matter, every value does)."""
    digest = hashlib.sha256()
    header = {
        "columns": [str(c) for c in frame.columns],
        "dtypes": [str(t) for t in frame.dtypes],
        "rows": len(frame),
    }
    digest.update(json.dumps(header, sort_keys=True).encode())
    row_hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy(np.uint64)
    digest.update(np.sort(row_hashes).tobytes())
    return digest


def data_fingerprint(data: MovieLens) -> str:
    """The content fingerprint of a MovieLens release (module docstring), 32 hex digits.

    Cached per object: the second call on the same object returns at once.
    """
    try:
        return _FINGERPRINTS[data]
    except (KeyError, TypeError):
        pass
    digest = hashlib.sha256()
    for name in FINGERPRINT_FRAMES:
        frame = getattr(data, name, None)
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(
                f"data has no DataFrame {name!r}: expected a MovieLens "
                f"(recsys_utils.data.load_movielens), got {type(data).__name__}"
            )
        digest.update(name.encode())
        digest.update(frame_digest(frame).digest())
    fingerprint = digest.hexdigest()[:DIGEST_HEX_CHARS]
    with contextlib.suppress(TypeError):  # not weak-referenceable: computed again next time
        _FINGERPRINTS[data] = fingerprint
    return fingerprint


def _plain(value: Any, where: str) -> Any:
    """``value`` with NumPy scalars and arrays as Python numbers and lists, tuples as lists."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(float(value)):
            raise ValueError(f"parameter {where} is {value!r}: keys need finite numbers")
        return float(value)
    if isinstance(value, np.ndarray):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value.tolist())]
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"parameter {where}: keys must be strings, got {k!r}")
            out[k] = _plain(v, f"{where}.{k}")
        return out
    raise TypeError(
        f"parameter {where} is a {type(value).__name__}: parameters must be "
        "numbers, strings, booleans, None, lists or dicts of them"
    )


def canonical_params(params: dict[str, Any]) -> str:
    """The parameters as canonical JSON: sorted keys, no spaces, NumPy values as Python's,
    tuples as lists (so ``(0, 1)`` and ``[0, 1]`` give one key)."""
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict, got {type(params).__name__}")
    return json.dumps(_plain(params, "params"), sort_keys=True, separators=(",", ":"), allow_nan=False)


def entry_key(
    name: str, params: dict[str, Any], fingerprint: str | None, version: str, store_format: int
) -> str:
    """The entry's key: SHA-256 (32 hex digits) of the name, the canonical parameters, the
    data fingerprint (``None`` for an experiment that reads no data), the package version and
    the store's format."""
    blob = json.dumps(
        {
            "name": name,
            "params": json.loads(canonical_params(params)),
            "data": fingerprint,
            "version": version,
            "format": store_format,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:DIGEST_HEX_CHARS]


def user_rows_fingerprint(data: MovieLens, user_id: int) -> str:
    """A hash of one user's ``(movie_id, rating)`` rows *in file order* (16 hex digits).

    The per-user fits of the report split a user's rows by their order in ``ratings.dat``,
    which :func:`data_fingerprint` deliberately ignores; their entries add this to their
    parameters so that a copy holding the same rows in another order is not mistaken for one
    whose stored split is valid.
    """
    rows = data.ratings.loc[data.ratings["user_id"] == int(user_id), ["movie_id", "rating"]]
    hashes = pd.util.hash_pandas_object(rows, index=False).to_numpy(np.uint64)
    return hashlib.sha256(hashes.tobytes()).hexdigest()[:16]
