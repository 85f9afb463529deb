"""Projections from measured costs (recsys_utils.experiments.scaling) and the committed
benchmark results' loader (recsys_utils.experiments.committed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from recsys_utils.errors import DataMissingError
from recsys_utils.experiments.committed import RESULTS_DIR_ENV, committed_json, results_dirs
from recsys_utils.experiments.scaling import (
    ML25M_SHAPE,
    estimated_user_steps,
    exact_user_steps,
    per_user_weights,
    projected_hours,
    width_factor,
)

ROOT = Path(__file__).resolve().parents[1]


def test_committed_results_are_found_beside_the_package():
    assert ROOT / "benchmarks" / "results" in [folder for _, folder in results_dirs()]
    assert committed_json("batched_training") == json.loads(
        (ROOT / "benchmarks" / "results" / "batched_training.json").read_text()
    )
    assert committed_json("batched_training.json")["epochs"] == 100


def test_the_results_folder_variable_comes_first(tmp_path, monkeypatch):
    (tmp_path / "batched_training.json").write_text('{"epochs": 7}')
    monkeypatch.setenv(RESULTS_DIR_ENV, str(tmp_path))
    assert committed_json("batched_training") == {"epochs": 7}
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ValueError, match="broken.json"):
        committed_json("broken")


def test_a_missing_or_bad_name_is_a_clear_error():
    with pytest.raises(DataMissingError, match=r"no_such\.json.*RECSYS_RESULTS_DIR"):
        committed_json("no_such")
    with pytest.raises(ValueError, match="file name"):
        committed_json("../etc/passwd")


def test_estimated_user_steps_match_the_exact_sum_on_a_realistic_spread():
    rng = np.random.default_rng(0)
    counts = 20 + rng.geometric(1 / 140, size=5000)  # >= 20 ratings each, long tail like MovieLens
    exact = exact_user_steps(counts, 0.65, 10)
    estimate = estimated_user_steps(int(counts.sum()), len(counts), 0.65, 10)
    assert abs(estimate - exact) / exact < 0.005
    assert exact_user_steps([10, 20, 3], 0.65, 10) == 1 + 2 + 1  # floor(6.5)=6, 13, 1 rows


def test_per_user_weights_follow_the_architecture():
    # embedding 2 x 50, kernel 50 x 3u, recurrent u x 3u, bias 3u, dense u + 1 (u = genres)
    for g in (18, 19):
        assert per_user_weights(g) == 2 * 50 + 50 * 3 * g + g * 3 * g + 3 * g + g + 1
    assert per_user_weights(18) == 3845


def test_projected_hours_divide_evenly_over_workers():
    assert projected_hours(100.0, 3.6e7, 1, 1, 1) == pytest.approx(1.0)
    assert projected_hours(100.0, 3.6e7, 100, 3, 30) == pytest.approx(10.0)
    assert width_factor(18) == 1.0 and width_factor(ML25M_SHAPE.genres) == pytest.approx((19 / 18) ** 2)


@pytest.mark.slow
def test_bench_scale_runs_end_to_end_on_the_synthetic_twin(synthetic_dir, tmp_path, monkeypatch):
    """benchmarks/bench_scale.py at tiny settings (its timings are not asserted)."""
    import runpy
    import sys

    out = tmp_path / "scale.json"
    args = ["--users", "12", "--epochs", "1", "--workers", "1", "2", "--data-dir", str(synthetic_dir)]
    monkeypatch.setattr(sys, "argv", ["bench_scale.py", *args, "--json", str(out)])
    runpy.run_path(str(ROOT / "benchmarks" / "bench_scale.py"), run_name="__main__")
    result = json.loads(out.read_text())
    assert [r["workers"] for r in result["runs"]] == [1, 2]
    assert result["identical_tables"] is True
    assert result["projection"]["label"] == "projected"
    assert set(result["projection"]["hours_by_workers"]) == {"1", "8", "32", "128"}
    assert result["mf"]["parameters"] == (result["mf"]["users"] + result["mf"]["movies"]) * 16
