"""The committed benchmark results (``benchmarks/results/*.json``), wherever the book runs.

A chapter that quotes a measurement made once by ``benchmarks/`` (the batched trainer's speed,
the cells' relative cost, the book's runtime) reads the committed JSON file instead of
recomputing it. A chapter downloaded from the book, or run on Binder or Colab after
``pip install``, has no ``../benchmarks`` next to it, so :func:`committed_result` looks in
three places, in this order:

1. the folder named by ``RECSYS_RESULTS_DIR`` (results of your own benchmark runs);
2. ``benchmarks/results/`` of the repository the package is imported from (a clone, an
   editable install);
3. the copy shipped inside the wheel (``recsys_utils/committed_results/``, mapped from
   ``benchmarks/results`` in ``pyproject.toml``).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from recsys_utils.errors import BadArgumentError, DataMissingError

#: Environment variable naming a folder of result files that takes precedence.
RESULTS_DIR_ENV = "RECSYS_RESULTS_DIR"
#: ``benchmarks/results`` of the repository holding this package (absent in a wheel install).
#:
#: :meta hide-value:
REPOSITORY_RESULTS_DIR = Path(__file__).resolve().parents[2] / "benchmarks" / "results"
#: The copy of ``benchmarks/results/*.json`` that the wheel ships inside the package.
#:
#: :meta hide-value:
PACKAGED_RESULTS_DIR = Path(__file__).resolve().parents[1] / "committed_results"
#: The suffix tried when a name is given without one (``"book_runtime"``).
RESULT_SUFFIX = ".json"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def results_dirs() -> list[tuple[str, Path]]:
    """The folders :func:`committed_result` searches, in order, each with how it was chosen."""
    dirs: list[tuple[str, Path]] = []
    env = os.environ.get(RESULTS_DIR_ENV)
    if env:
        dirs.append((RESULTS_DIR_ENV, Path(env).expanduser()))
    dirs.append(("the repository's benchmarks/results", REPOSITORY_RESULTS_DIR))
    dirs.append(("the installed package's committed_results", PACKAGED_RESULTS_DIR))
    return dirs


def committed_result(name: str) -> Path:
    """The path of the committed result file ``name`` (e.g. ``"book_runtime.json"``).

    Args:
        name: a file name of ``benchmarks/results`` (no folder); without a suffix,
            ``.json`` is added.

    Returns:
        The first existing file among ``$RECSYS_RESULTS_DIR/name``,
        ``<repository>/benchmarks/results/name`` and the wheel's copy.

    Raises:
        recsys_utils.errors.BadArgumentError: ``name`` is empty or names a folder (``/``, ``..``).
        recsys_utils.errors.DataMissingError: no such file in any of these places; the message
            lists them.
    """
    if not isinstance(name, str) or not _NAME_RE.match(name) or ".." in name:
        raise BadArgumentError(
            "name", name, "a file name of benchmarks/results such as 'book_runtime.json' (no folder)"
        )
    filename = name if Path(name).suffix else name + RESULT_SUFFIX
    looked = []
    for why, folder in results_dirs():
        path = folder / filename
        if path.is_file():
            return path
        looked.append(f"{path} ({why})")
    raise DataMissingError(
        f"no committed result {filename!r}; looked in: "
        + "; ".join(looked)
        + f". Set {RESULTS_DIR_ENV} to a folder holding it, or run the benchmark in benchmarks/."
    )


def committed_json(name: str) -> dict[str, Any]:
    """The committed result ``name`` (:func:`committed_result`) read as JSON.

    Raises:
        recsys_utils.errors.BadArgumentError: as :func:`committed_result`.
        recsys_utils.errors.DataMissingError: as :func:`committed_result`.
        ValueError: the file is not valid JSON (naming the file).
    """
    path = committed_result(name)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} of the committed results is not valid JSON: {err}") from None
