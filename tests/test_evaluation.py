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
    held = E.score_rows(E.FitRecord("m", 1), split, "held-out", y, scores)
    assert held.n_rows == 4 and held.majority_accuracy == 0.0
    assert held.accuracy == 1.0 and math.isnan(held.roc_auc)
    rep = E.score_rows(E.FitRecord("m", 1), split, "report", y, scores)
    assert rep.n_rows == 10 and rep.majority_accuracy == 0.4
    assert rep.roc_auc == 1.0
    assert rep.to_dict()["roc_auc"] == 1.0 and held.to_dict()["roc_auc"] is None


def test_exact_fraction_flags_impossible_accuracies():
    assert E.exact_fraction(0.8491, 53) == (45, True)
    k, possible = E.exact_fraction(0.8691, 53)
    assert k == 46 and not possible


# ------------------------------------------------------------------- one rule each
def test_like_rule_is_strictly_above_one_half():
    """The one like rule (Keras' binary accuracy): a score of exactly 0.5 is a dislike."""
    scores = np.array([0.0, 0.49, 0.5, np.nextafter(0.5, 1.0), 1.0])
    np.testing.assert_array_equal(E.predict_like(scores), [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(E.predict_like(scores, threshold=0.7), [0, 0, 0, 0, 1])
    m = E.classification_metrics(np.array([0, 1]), np.array([0.5, 0.5]))
    assert m["accuracy"] == 0.5 and m["predicted_like_share"] == 0.0


def test_majority_rule_ties_go_to_like():
    assert E.majority_label([0, 0, 1]) == 0
    assert E.majority_label([1, 1, 0]) == 1
    assert E.majority_label([1, 0]) == 1 and E.majority_label([0, 1, 1, 0]) == 1
    assert E.majority_label(np.zeros(0)) == 1  # no training rows: like


def test_held_out_metrics_defined_only_for_two_classes():
    y, s = np.array([1, 1, 0, 0]), np.array([0.9, 0.4, 0.6, 0.1])
    assert E.held_out_metrics_defined(y, s) == E.classification_metrics(y, s)
    one = E.held_out_metrics_defined(np.ones(3), np.array([0.9, 0.2, 0.8]))
    assert one["accuracy"] == pytest.approx(2 / 3) and one["predicted_like_share"] == pytest.approx(2 / 3)
    assert math.isnan(one["balanced_accuracy"]) and math.isnan(one["roc_auc"])
    # today's function still gives 1 or 0 there: the outputs of the chapters do not move yet
    assert E.classification_metrics(np.ones(3), np.array([0.9, 0.2, 0.8]))[
        "balanced_accuracy"
    ] == pytest.approx(2 / 3)
    assert all(math.isnan(v) for v in E.held_out_metrics_defined(np.zeros(0), np.zeros(0)).values())


def test_dropped_counts_per_model_and_metric():
    import pandas as pd

    nan = math.nan
    table = pd.DataFrame(
        {
            "user_id": [1, 1, 2, 2, 3, 3] * 2,
            "seed": [0, 1] * 6,
            "model": ["a"] * 6 + ["b"] * 6,
            "roc_auc": [0.6, nan, nan, nan, 0.7, 0.8, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5],
            "accuracy": [0.5] * 12,
        }
    )
    out = E.dropped_counts(table, ["roc_auc", "accuracy"]).set_index(["model", "metric"])
    assert out.loc[("a", "roc_auc")].tolist() == [6, 3, 3, 1, 1]
    assert out.loc[("b", "roc_auc"), "nan_user_seeds"] == 0
    assert out.loc[("a", "accuracy"), "users_dropped"] == 0
