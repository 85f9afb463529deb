"""The benchmark results committed with the book (``benchmarks/results/*.json``), found from
a chapter wherever it runs.

A chapter downloaded on its own cannot rely on a path relative to itself; it asks for a
result by name and :func:`committed_result` looks, in order, in the folder named by
``RECSYS_RESULTS_DIR`` and in the repository's ``benchmarks/results`` next to the installed
package (an editable install or a checkout).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["RESULTS_DIR_ENV", "committed_result", "results_dirs"]

#: Environment variable naming a folder of benchmark results (``scale.json``, ...).
RESULTS_DIR_ENV = "RECSYS_RESULTS_DIR"
#: The results folder relative to the repository root.
_REPO_RESULTS = Path("benchmarks") / "results"


def results_dirs() -> list[Path]:
    """The folders searched, in order: ``RECSYS_RESULTS_DIR`` (when set), then the
    repository's ``benchmarks/results`` beside the package."""
    folders = []
    env = os.environ.get(RESULTS_DIR_ENV, "").strip()
    if env:
        folders.append(Path(env).expanduser())
    folders.append(Path(__file__).resolve().parents[2] / _REPO_RESULTS)
    return folders


def committed_result(name: str) -> dict[str, Any]:
    """The committed benchmark result ``name`` (``"scale"`` or ``"scale.json"``), parsed.

    Raises:
        FileNotFoundError: no such file in any folder of :func:`results_dirs` (the message
            names the file and says how to point at a folder that holds it).
        ValueError: a name with a folder in it, or a file that is not valid JSON.
    """
    if not isinstance(name, str) or not name or Path(name).name != name:
        raise ValueError(f"name must be a file name such as 'scale' or 'scale.json', got {name!r}")
    file = name if name.endswith(".json") else f"{name}.json"
    for folder in results_dirs():
        path = folder / file
        if path.is_file():
            try:
                return json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as err:
                raise ValueError(f"{file} of the benchmark results is not valid JSON: {err}") from None
    raise FileNotFoundError(
        f"no benchmark result {file} in the book's benchmarks/results; set {RESULTS_DIR_ENV} to "
        "a folder holding it (the repository's benchmarks/results)"
    )
