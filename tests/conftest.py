"""Shared fixtures: a synthetic MovieLens 1M twin and, when configured, the real data.

TensorFlow is deliberately not imported here (it is slow to import).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from recsys_utils.data import DataUnavailableError, MovieLens, load_movielens
from recsys_utils.data.synthetic import write_synthetic_movielens


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding ``ml-1m/`` in the exact MovieLens 1M format (60 users, 200 movies,
    seed 0; see :func:`recsys_utils.data.synthetic.write_synthetic_movielens`)."""
    root = tmp_path_factory.mktemp("synthetic-movielens")
    write_synthetic_movielens(root)
    return root


@pytest.fixture(scope="session")
def synthetic_ml1m(synthetic_dir: Path) -> MovieLens:
    """The synthetic ML-1M twin, loaded with :func:`recsys_utils.data.load_movielens`."""
    return load_movielens("ml-1m", data_dir=synthetic_dir, download=False)


@pytest.fixture(scope="session")
def real_ml1m() -> MovieLens:
    """Real MovieLens 1M from ``RECSYS_DATA_DIR`` or the cache (never downloaded here).

    Skips with a reason when the data is not configured.
    """
    try:
        return load_movielens("ml-1m", download=False)
    except DataUnavailableError as err:
        first_line = str(err).splitlines()[0]
        pytest.skip(
            f"real MovieLens 1M not available ({first_line}); set RECSYS_DATA_DIR "
            "to a folder holding ml-1m/ to run this test"
        )
