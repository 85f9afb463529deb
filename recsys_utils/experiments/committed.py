"""Results committed with the book (``benchmarks/results/``): runs too large or too slow for a
cold execution of the book (benchmarks, the report's models on many users), read back by the
chapters.

:func:`committed_result` finds a file by name, so that a chapter never spells a relative path
and a notebook downloaded on its own still finds the results of the installed package.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

__all__ = ["RESULTS_DIR_ENV", "committed_result", "results_dirs"]

#: Environment variable naming a folder of committed results (searched first).
RESULTS_DIR_ENV = "RECSYS_RESULTS_DIR"

#: The repository's folder of committed results, beside the package in a checkout.
REPO_RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


def results_dirs() -> list[Path]:
    """Where :func:`committed_result` looks, in order: ``RECSYS_RESULTS_DIR`` (when set), the
    checkout's ``benchmarks/results``, and the copy shipped inside the installed package."""
    dirs = []
    if os.environ.get(RESULTS_DIR_ENV):
        dirs.append(Path(os.environ[RESULTS_DIR_ENV]))
    dirs.append(REPO_RESULTS)
    dirs.append(Path(str(resources.files("recsys_utils") / "results")))
    return dirs


def committed_result(name: str) -> Path:
    """The committed result file ``name`` (e.g. ``"batched_training.json"``).

    Raises:
        ValueError: ``name`` is not a plain file name.
        FileNotFoundError: naming every folder searched.
    """
    if not name or Path(name).name != name or name in (".", ".."):
        raise ValueError(f"name must be a file name without folders, got {name!r}")
    for folder in results_dirs():
        path = folder / name
        if path.is_file():
            return path
    searched = ", ".join(str(d) for d in results_dirs())
    raise FileNotFoundError(
        f"no committed result {name!r}; looked in: {searched} (set {RESULTS_DIR_ENV} to a folder holding it)"
    )
