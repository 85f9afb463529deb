"""Protocols, metrics and baselines (recsys_utils.evaluation)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recsys_utils import evaluation as E
from recsys_utils.features import ordered_split


def test_metrics_on_hand_made_examples():
    y = np.array([1, 1, 1, 0])
    assert E.accuracy(y, [1, 1, 1, 1]) == 0.75
    assert E.balanced_accuracy(y, [1, 1, 1, 1]) == 0.5
    assert E.balanced_accuracy(y, [1, 0, 1, 0]) == pytest.approx((2 / 3 + 1) / 2)
    assert E.roc_auc(y, [0.9, 0.8, 0.7, 0.1]) == 1.0
    assert E.roc_auc(y, [0.5, 0.5, 0.5, 0.5]) == 0.5
    assert E.roc_auc(y, [0.1, 0.2, 0.3, 0.9]) == 0.0
    assert math.isnan(E.roc_auc([1, 1], [0.2, 0.3]))
    with pytest.raises(ValueError):
        E.accuracy([1, 0], [1])


def test_roc_auc_agrees_with_sklearn():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    s = np.round(rng.random(200), 1)  # many ties
    assert E.roc_auc(y, s) == pytest.approx(roc_auc_score(y, s))


def test_protocol_rows():
    split = ordered_split(10)
    assert E.evaluation_rows(split, "report").tolist() == list(range(10))
    assert E.evaluation_rows(split, "held-out").tolist() == [6, 7, 8, 9]
    assert "all 10 rows" in E.describe_rows(split, "report")
    with pytest.raises(ValueError, match="protocol"):
        E.evaluation_rows(split, "test")


def test_score_rows_reports_the_majority_baseline_of_the_training_rows():
    split = ordered_split(10)  # 6 train rows, 4 test rows
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1], dtype=float)  # training majority: dislike
    scores = np.linspace(0, 1, 10)
    held = E.score_rows("m", 1, split, "held-out", y, scores)
    assert held.n_rows == 4 and held.majority_accuracy == 0.0
    assert held.accuracy == 1.0 and math.isnan(held.roc_auc)
    rep = E.score_rows("m", 1, split, "report", y, scores)
    assert rep.n_rows == 10 and rep.majority_accuracy == 0.4
    assert rep.roc_auc == 1.0
    assert rep.to_dict()["roc_auc"] == 1.0 and held.to_dict()["roc_auc"] is None


def test_exact_fraction_flags_impossible_accuracies():
    assert E.exact_fraction(0.8491, 53) == (45, True)
    k, possible = E.exact_fraction(0.8691, 53)
    assert k == 46 and not possible
