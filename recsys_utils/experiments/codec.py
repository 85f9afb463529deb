"""Results as plain data: one JSON document and one NumPy ``.npz`` of arrays, no pickle.

:func:`encode` walks a result and returns ``(document, arrays)``: ``document`` is strict JSON
(no ``NaN`` literal) and ``arrays`` maps names (``"a0"``, ``"a1"``, ...) to NumPy arrays that
:func:`numpy.savez` writes without pickling (no ``object`` dtype). :func:`decode` inverts it.

What can be stored, and what comes back:

- ``None``, ``bool``, ``int``, ``str``: themselves.
- ``float``: itself, ``NaN`` and ``+-inf`` included (written as ``{"__float__": "nan"}``).
- NumPy scalars: the Python scalar of the same kind (``np.float32(0.5)`` -> ``0.5``).
- ``list`` and ``tuple``: a ``list``.
- ``dict``: a ``dict``; keys may be ``str``, ``int``, ``float``, ``bool``, ``None`` or tuples
  of those (a tuple key comes back as a tuple), e.g. ``{("lstm", 0): ...}``.
- ``numpy.ndarray`` of a numeric, boolean, fixed-width string (``U``/``S``) or ``datetime64``
  dtype: an equal array of the same dtype and shape.
- ``pandas.DataFrame`` and ``pandas.Series``: one array per column (string and mixed
  columns as JSON lists), with the index (a ``RangeIndex`` is rebuilt as one), column names
  and dtypes; ``category`` columns come back as ``category``.

Anything else raises :class:`TypeError` naming where in the result it was found.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

#: Keys of the marker objects in the JSON document (a user dict using one of them as a key
#: is written in the ``__items__`` form, so it cannot be mistaken for a marker).
_MARKERS = ("__float__", "__array__", "__frame__", "__series__", "__items__", "__tuple__")

#: Array dtype kinds written to ``.npz`` as they are (``O``, object, never: it needs pickle).
_NPZ_KINDS = frozenset("biufcUSM")


class _Encoder:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def array(self, values: np.ndarray, where: str) -> dict[str, str]:
        if values.dtype.kind not in _NPZ_KINDS:
            raise TypeError(
                f"{where}: arrays of dtype {values.dtype} cannot be stored "
                "without pickle; convert them to numbers or strings"
            )
        name = f"a{len(self.arrays)}"
        self.arrays[name] = np.ascontiguousarray(values)
        return {"__array__": name}

    def column(self, values: pd.Series, where: str) -> dict[str, Any]:
        """One column: ``{"dtype": str, "values": array-ref or JSON list, ...}``."""
        dtype = values.dtype
        if isinstance(dtype, pd.CategoricalDtype):
            return {
                "dtype": "category",
                "ordered": bool(dtype.ordered),
                "categories": self.value(list(dtype.categories), f"{where}.categories"),
                "codes": self.array(values.cat.codes.to_numpy(), where),
            }
        arr = values.to_numpy()
        if arr.dtype.kind in _NPZ_KINDS and arr.dtype.kind != "U":
            return {"dtype": str(dtype), "values": self.array(arr, where)}
        return {
            "dtype": str(dtype),
            "values": [self.value(v, f"{where}[{i}]") for i, v in enumerate(arr.tolist())],
        }

    def index(self, index: pd.Index, where: str) -> dict[str, Any]:
        if isinstance(index, pd.RangeIndex):
            return {
                "range": [int(index.start), int(index.stop), int(index.step)],
                "name": self.value(index.name, where),
            }
        if isinstance(index, pd.MultiIndex):
            raise TypeError(f"{where}: a MultiIndex cannot be stored; reset_index() first")
        return {"name": self.value(index.name, where), **self.column(pd.Series(index), f"{where}.index")}

    def frame(self, frame: pd.DataFrame, where: str) -> dict[str, Any]:
        if isinstance(frame.columns, pd.MultiIndex) or not frame.columns.is_unique:
            raise TypeError(f"{where}: columns must be unique and flat to be stored")
        return {
            "__frame__": {
                "columns": [self.value(c, f"{where}.columns") for c in frame.columns],
                "data": [
                    self.column(frame.iloc[:, i], f"{where}[{c!r}]") for i, c in enumerate(frame.columns)
                ],
                "index": self.index(frame.index, f"{where}.index"),
            }
        }

    def key(self, key: Any, where: str) -> Any:
        if isinstance(key, tuple):
            return {"__tuple__": [self.key(k, where) for k in key]}
        if key is None or isinstance(key, (str, bool, int, float, np.integer, np.floating)):
            return self.value(key, where)
        raise TypeError(f"{where}: dict key {key!r} of type {type(key).__name__} cannot be stored")

    def value(self, obj: Any, where: str = "result") -> Any:
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, (int, np.integer)) and not isinstance(obj, np.bool_):
            return int(obj)
        if isinstance(obj, np.bool_):
            return bool(obj)
        if isinstance(obj, (float, np.floating)):
            x = float(obj)
            return x if math.isfinite(x) else {"__float__": repr(x)}
        if isinstance(obj, np.ndarray):
            return self.array(obj, where)
        if isinstance(obj, pd.DataFrame):
            return self.frame(obj, where)
        if isinstance(obj, pd.Series):
            frame = self.frame(obj.to_frame(name="values"), where)["__frame__"]
            return {"__series__": {**frame, "name": self.value(obj.name, f"{where}.name")}}
        if isinstance(obj, (list, tuple)):
            return [self.value(v, f"{where}[{i}]") for i, v in enumerate(obj)]
        if isinstance(obj, dict):
            if all(isinstance(k, str) and k not in _MARKERS for k in obj):
                return {k: self.value(v, f"{where}[{k!r}]") for k, v in obj.items()}
            return {
                "__items__": [[self.key(k, where), self.value(v, f"{where}[{k!r}]")] for k, v in obj.items()]
            }
        raise TypeError(
            f"{where}: a {type(obj).__name__} cannot be stored as plain data "
            "(use numbers, strings, lists, dicts, NumPy arrays or DataFrames)"
        )


def encode(result: Any) -> tuple[Any, dict[str, np.ndarray]]:
    """``result`` -> ``(document, arrays)``: a JSON-ready document and ``{name: array}``.

    Raises:
        TypeError: a part of ``result`` cannot be stored without pickle (message says where).
    """
    enc = _Encoder()
    document = enc.value(result)
    return document, enc.arrays


class _Decoder:
    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays

    def array(self, ref: dict[str, str]) -> np.ndarray:
        name = ref["__array__"]
        if name not in self.arrays:
            raise ValueError(f"the document refers to array {name!r}, which is not stored")
        return self.arrays[name]

    def column(self, spec: dict[str, Any]) -> pd.Series:
        if spec["dtype"] == "category":
            categories = self.value(spec["categories"])
            return pd.Series(
                pd.Categorical.from_codes(self.array(spec["codes"]), categories, ordered=spec["ordered"])
            )
        values = spec["values"]
        if isinstance(values, dict):
            return pd.Series(self.array(values), dtype=spec["dtype"])
        decoded = [self.value(v) for v in values]
        try:
            return pd.Series(decoded, dtype=spec["dtype"])
        except (TypeError, ValueError):
            return pd.Series(decoded, dtype=object)

    def index(self, spec: dict[str, Any]) -> pd.Index:
        name = self.value(spec["name"])
        if "range" in spec:
            return pd.RangeIndex(*spec["range"], name=name)
        return pd.Index(self.column(spec), name=name)

    def frame(self, spec: dict[str, Any]) -> pd.DataFrame:
        columns = [self.value(c) for c in spec["columns"]]
        index = self.index(spec["index"])
        data = {i: self.column(col).set_axis(index) for i, col in enumerate(spec["data"])}
        frame = pd.DataFrame(data, index=index)
        frame.columns = pd.Index(columns, dtype=object if not columns else None)
        return frame

    def key(self, key: Any) -> Any:
        if isinstance(key, dict) and "__tuple__" in key:
            return tuple(self.key(k) for k in key["__tuple__"])
        return self.value(key)

    def value(self, obj: Any) -> Any:
        if isinstance(obj, list):
            return [self.value(v) for v in obj]
        if not isinstance(obj, dict):
            return obj
        if len(obj) == 1:
            ((marker, payload),) = obj.items()
            if marker == "__float__":
                return float(payload)
            if marker == "__array__":
                return self.array(obj)
            if marker == "__frame__":
                return self.frame(payload)
            if marker == "__series__":
                series = self.frame(payload).iloc[:, 0]
                return series.rename(self.value(payload["name"]))
            if marker == "__items__":
                return {self.key(k): self.value(v) for k, v in payload}
        return {k: self.value(v) for k, v in obj.items()}


def decode(document: Any, arrays: dict[str, np.ndarray]) -> Any:
    """Invert :func:`encode`: the result from its document and arrays."""
    return _Decoder(arrays).value(document)
