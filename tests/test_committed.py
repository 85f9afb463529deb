"""Committed results are found by name: RECSYS_RESULTS_DIR first, then the checkout."""

from __future__ import annotations

import pytest

from recsys_utils.experiments.committed import RESULTS_DIR_ENV, committed_result, results_dirs


def test_the_checkout_results_are_found_by_name(monkeypatch):
    monkeypatch.delenv(RESULTS_DIR_ENV, raising=False)
    path = committed_result("batched_training.json")
    assert path.is_file() and path.parent.name == "results" and path.parent.parent.name == "benchmarks"


def test_the_environment_folder_comes_first(monkeypatch, tmp_path):
    (tmp_path / "batched_training.json").write_text("{}")
    monkeypatch.setenv(RESULTS_DIR_ENV, str(tmp_path))
    assert results_dirs()[0] == tmp_path
    assert committed_result("batched_training.json") == tmp_path / "batched_training.json"


def test_a_missing_result_names_every_folder_searched(monkeypatch, tmp_path):
    monkeypatch.setenv(RESULTS_DIR_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError, match=RESULTS_DIR_ENV) as err:
        committed_result("no_such_result.json")
    assert str(tmp_path) in str(err.value) and "benchmarks" in str(err.value)


@pytest.mark.parametrize("name", ["", "..", "../README.md", "sub/x.json"])
def test_a_name_with_folders_is_refused(name):
    with pytest.raises(ValueError, match="file name"):
        committed_result(name)
