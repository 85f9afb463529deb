"""The benchmark scripts run end to end on tiny settings (their timings are not asserted)."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(script: str, args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", [script] + args)
    runpy.run_path(str(ROOT / "benchmarks" / script), run_name="__main__")


@pytest.mark.slow
def test_bench_cells_writes_its_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    out = tmp_path / "cells.json"
    _run(
        "bench_cells.py",
        [
            "--rounds",
            "1",
            "--epochs",
            "2",
            "--rows",
            "20",
            "--big-rows",
            "64",
            "--big-batch",
            "32",
            "--big-epochs",
            "2",
            "--users",
            "2",
            "--batched-epochs",
            "1",
            "--json",
            str(out),
        ],
        monkeypatch,
    )
    result = json.loads(out.read_text())
    assert {"device", "gpu", "keras_small", "keras_big", "batched", "report_networks", "summary"} <= set(
        result
    )
    models = {row["model"] for row in result["keras_small"]}
    assert {"modified-lstm", "lstm-same-size", "lstm-cudnn", "logistic"} <= models
    assert "ratio_to_modified" in result["summary"]
    assert {row["model"] for row in result["report_networks"]} == {"modified-lstm", "lstm"}


@pytest.mark.slow
@pytest.mark.parametrize("network", ["modified-lstm", "lstm"])
def test_bench_batched_training_on_the_synthetic_twin(
    synthetic_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, network: str
):
    out = tmp_path / "batched.json"
    _run(
        "bench_batched_training.py",
        [
            "--data-dir",
            str(synthetic_dir),
            "--users",
            "6",
            "--naive-users",
            "1",
            "--epochs",
            "1",
            "--network",
            network,
            "--json",
            str(out),
        ],
        monkeypatch,
    )
    result = json.loads(out.read_text())
    assert result["batched"]["users"] == 6
    assert result["network"] == network
    assert result["cell"] == ("lstm" if network == "lstm" else "modified")
    assert result["speedup_same_users"] > 0


def test_chapter_5_quotes_the_committed_benchmark():
    """Chapter 5 glues the committed benchmark's figures (benchmarks/results/batched_training.json)
    and its prose quotes those names: the values in the book are the measured ones."""
    from tests.glued import glued

    bench = json.loads((ROOT / "benchmarks" / "results" / "batched_training.json").read_text())
    g = glued("05")
    assert g["ch05_bench_cpus"] == bench["cpus"]
    assert g["ch05_bench_speedup"] == pytest.approx(bench["speedup_same_users"])
    assert g["ch05_bench_all_users_s"] == pytest.approx(bench["batched"]["train_s"])
    assert g["ch05_bench_naive_projected_h"] == pytest.approx(bench["naive"]["projected_all_users_s"] / 3600)
    assert g["ch05_bench_us_per_user_step"] == pytest.approx(bench["batched"]["per_user_step_us"])
    nb = json.loads((ROOT / "notebooks" / "05_every_user.ipynb").read_text())
    prose = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    for name in ("ch05_bench_speedup", "ch05_bench_all_users_min", "ch05_bench_naive_projected_h"):
        assert name in prose, f"chapter 5 no longer quotes {name}"
