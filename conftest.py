"""Repository-level pytest configuration: the notebook checks (nbval).

``make test`` runs ``pytest tests notebooks --nbval-lax``: every notebook is re-executed and
the outputs of the cells tagged ``nbval-check-output`` (dataset facts, results tables at a
stated rounding) are compared with the committed ones, timings masked by
``tests/nbval_sanitize.cfg``. The committed outputs come from real MovieLens 1M, so the
notebooks are only checked when it is configured (``RECSYS_DATA_DIR`` or the cache);
otherwise they are skipped with that reason, and ``tests/test_notebooks.py`` still executes
every notebook on synthetic data.
"""

from __future__ import annotations

import os

import pytest

# Keep TensorFlow's start-up noise out of the kernels nbval starts (they inherit this).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("PYTHONWARNINGS", "ignore")


def _real_data_reason() -> str | None:
    from recsys_utils.data import DataUnavailableError, resolve_dataset_dir

    try:
        resolve_dataset_dir("ml-1m", download=False)
    except DataUnavailableError:
        return ("the notebooks' committed outputs come from real MovieLens 1M, which is not "
                "configured: set RECSYS_DATA_DIR to a folder holding ml-1m/")
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    notebook_items = [item for item in items if str(item.path).endswith(".ipynb")]
    if not notebook_items:
        return
    reason = _real_data_reason()
    if reason:
        for item in notebook_items:
            item.add_marker(pytest.mark.skip(reason=reason))
