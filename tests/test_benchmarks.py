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
    """The prose of chapter 5 and the introduction repeat the committed benchmark's figures."""
    import re

    report = (ROOT / "benchmarks" / "results" / "batched_training.txt").read_text()
    wall = re.search(r"\[3\] batched trainer on 6040 users\n\s+time: (\d+)\.\d s", report)
    hours = re.search(r"projected to all 6040 users: (\d+)\.\d h", report)
    ratio = re.search(r"ratio naive / batched: (\d+)x", report)
    assert wall and hours and ratio, "benchmarks/results/batched_training.txt changed format"
    nb = json.loads((ROOT / "notebooks" / "05_every_user.ipynb").read_text())
    prose = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    intro = (ROOT / "book" / "intro.md").read_text()
    for text in (prose, intro):
        assert f"({wall.group(1)} s" in text
        assert f"about {hours.group(1)} hours" in text
    assert f"about {round(int(ratio.group(1)), -1)}" in prose
