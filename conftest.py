"""Repository-level pytest configuration: the notebook checks (nbval).

``make test`` runs ``pytest tests notebooks --nbval-lax``: every notebook is re-executed and
the outputs of the cells tagged ``nbval-check-output`` (dataset facts, results tables at a
stated rounding) are compared with the committed ones, timings masked by
``tests/nbval_sanitize.cfg``. The committed outputs come from real MovieLens 1M, so the
notebooks are only checked when it is configured (``RECSYS_DATA_DIR`` or the cache);
otherwise they are skipped with that reason, and ``tests/test_notebooks.py`` still executes
every notebook on synthetic data.

``RECSYS_REQUIRE_REALDATA=1`` (set by ``.ci/run``) makes the run strict: the session stops at
once with a clear message when MovieLens 1M is not configured, and any test that would skip
(real data, browser, MathJax copy, a missing package) fails instead, with its reason.
"""

from __future__ import annotations

import os

import pytest

# Keep TensorFlow's start-up noise out of the kernels nbval starts (they inherit this).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("PYTHONWARNINGS", "ignore")


REQUIRE_ENV = "RECSYS_REQUIRE_REALDATA"


def _strict() -> bool:
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0")


def _real_data_reason() -> str | None:
    from recsys_utils.data import DataUnavailableError, resolve_dataset_dir

    try:
        resolve_dataset_dir("ml-1m", download=False)
    except DataUnavailableError:
        return (
            "the notebooks' committed outputs come from real MovieLens 1M, which is not "
            "configured: set RECSYS_DATA_DIR to a folder holding ml-1m/"
        )
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    notebook_items = [item for item in items if str(item.path).endswith(".ipynb")]
    if not notebook_items:
        return
    reason = _real_data_reason()
    if reason:
        for item in notebook_items:
            item.add_marker(pytest.mark.skip(reason=reason))
        return
    # The committed outputs were computed with the batched trainer's kernels loaded from
    # Numba's cache; compile them there first, so that the kernels nbval starts load them too.
    from recsys_utils.batched import warm_cache

    warm_cache()


def pytest_sessionstart(session: pytest.Session) -> None:
    if _strict():
        reason = _real_data_reason()
        if reason:
            pytest.exit(f"{REQUIRE_ENV}=1 but {reason}", returncode=3)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if _strict() and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped, but {REQUIRE_ENV}=1 requires every test to run: {reason}"
