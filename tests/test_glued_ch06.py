"""The numbers chapter 6 states, checked against independent expectations.

Chapter 6 glues every number its prose quotes (``tests/glued.py`` reads them from the committed
notebook) and, without showing them, the per-user seed-averaged metrics of its six models
(``ch06_per_user_<metric>``, ``None`` where undefined) and each user's first-seed accuracy with
the number of held-out rows (``ch06_first_seed_accuracy``). The tests below:

- check that chapter 6 uses chapter 5's users and, for the models both run, chapter 5's
  per-user results (one sample, read back from the store);
- recompute every exploratory test of its table with scipy's Wilcoxon signed-rank test
  (normal approximation, tie correction, zero differences split) and Holm's adjustment over the
  whole family with a loop written here;
- check intervals against estimates and the position probe's glued ratio;
- (slow, real data) train a seeded random subset of users again from scratch with
  :func:`recsys_utils.population.run_population` (not the store) for the models trained in this
  chapter and compare their per-user accuracies.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from tests.glued import glued, holm_loop, notebook_params

ROUND_OFF = 1e-12
P_RTOL = 1e-6
N_RECOMPUTED = 6
RECOMPUTE_SEED = 20261204
METRICS = ("accuracy", "balanced_accuracy", "roc_auc")
PAIRS = [(m, "modified") for m in ("nfg", "gru", "logistic")] + [
    ("logistic", m) for m in ("nfg", "lstm", "gru", "majority")
]


def params(stem: str = "06_ablation") -> dict:
    return notebook_params(stem)


def g() -> dict:
    return glued("06")


def differences(a: str, b: str, metric: str) -> np.ndarray:
    """``a - b`` per user where both are defined (round-off set to 0)."""
    per_user = g()[f"ch06_per_user_{metric}"]
    pairs = [(x, y) for x, y in zip(per_user[a], per_user[b]) if x is not None and y is not None]
    d = np.array([x - y for x, y in pairs], dtype=float)
    return np.where(np.abs(d) < ROUND_OFF, 0.0, d)


# ------------------------------------------------------------------------------ one sample
def test_the_same_users_and_seeds_as_chapter_5():
    for key in ("n_users", "sample_seed", "seeds", "epochs"):
        assert params()[key] == params("05_every_user")[key], key
    assert g()["ch06_per_user_accuracy"]["user_id"] == glued("05")["ch05_per_user_accuracy"]["user_id"]


def test_shared_models_are_chapter_5s_runs():
    """The runs chapter 6 reads back are chapter 5's: the same per-user accuracies."""
    ch05 = glued("05")["ch05_per_user_accuracy"]
    ch06 = g()["ch06_per_user_accuracy"]
    for model in ("modified", "lstm", "majority"):
        assert ch06[model] == pytest.approx(ch05[model], abs=1e-12), model
    first05, first06 = glued("05")["ch05_first_seed_accuracy"], g()["ch06_first_seed_accuracy"]
    assert first06["n_test"] == first05["n_test"]
    assert first06["logistic"] == pytest.approx(first05["logistic"], abs=1e-12)


def test_means_are_the_means_of_the_per_user_values():
    for metric in METRICS:
        per_user = g()[f"ch06_per_user_{metric}"]
        for model in ("modified", "nfg", "lstm", "gru", "logistic", "majority"):
            values = [v for v in per_user[model] if v is not None]
            assert g()[f"ch06_mean_{metric}_{model}"] == pytest.approx(np.mean(values), abs=1e-12)


# ------------------------------------------------------------------------------ tests
def test_every_p_value_matches_scipy():
    for a, b in PAIRS:
        for metric in METRICS:
            d = differences(a, b, metric)
            expected = stats.wilcoxon(d, zero_method="zsplit", correction=False, method="approx").pvalue
            got = g()[f"ch06_{a}_vs_{b}_{metric}_p"]
            assert got == pytest.approx(expected, rel=P_RTOL, abs=1e-300), (a, b, metric)


def test_holm_over_the_whole_family_matches_a_recomputation():
    names = [f"ch06_{a}_vs_{b}_{m}" for a, b in PAIRS for m in METRICS]
    assert len(names) == g()["ch06_n_tests"] == 21
    raw = [g()[f"{n}_p"] for n in names]
    adjusted = [g()[f"{n}_p_holm"] for n in names]
    assert adjusted == pytest.approx(holm_loop(raw), rel=1e-12)
    assert all(h >= p for h, p in zip(adjusted, raw))


def test_estimates_are_hodges_lehmann_shifts_inside_their_intervals():
    for a, b in PAIRS:
        for metric in METRICS:
            name = f"ch06_{a}_vs_{b}_{metric}"
            d = differences(a, b, metric)
            walsh = np.add.outer(d, d)[np.triu_indices(len(d))] / 2
            assert g()[f"{name}_est"] == pytest.approx(float(np.median(walsh)), abs=1e-12)
            assert g()[f"{name}_ci_low"] <= g()[f"{name}_est"] <= g()[f"{name}_ci_high"]
            assert -1 <= g()[f"{name}_r"] <= 1


def test_dropped_counts_are_consistent():
    n_seeds = len(params()["seeds"])
    assert 0 <= g()["ch06_auc_nan_user_seeds"] <= g()["ch06_n_users"] * n_seeds
    assert n_seeds * g()["ch06_auc_users_dropped"] <= g()["ch06_auc_nan_user_seeds"]
    defined = sum(v is not None for v in g()["ch06_per_user_roc_auc"]["modified"])
    assert defined == g()["ch06_n_users"] - g()["ch06_auc_users_dropped"]


def test_weights():
    assert (g()["ch06_weights_modified"], g()["ch06_weights_lstm"]) == (3726, 4968)
    assert 0 < g()["ch06_network_size_ratio"] < 1


# ------------------------------------------------------------------------------ real data
@pytest.mark.slow
@pytest.mark.realdata
def test_a_random_subset_of_users_recomputed_from_scratch(real_ml1m):
    """The models this chapter trains (f = 1 and GRU) and the logistic regression, for a seeded
    random subset of users, first seed, retrained with ``run_population`` (no store).

    Tolerance as in ``tests/test_glued_ch05.py``: the logistic regression to round-off; a
    network's accuracy within one held-out row (``1 / n_test``), the most a float32 score at
    0.5 that moves in its last digits (fastmath, cached or in-process compilation) can change.
    """
    from recsys_utils.population import PopulationSpec, run_population

    first = g()["ch06_first_seed_accuracy"]
    rng = np.random.default_rng(RECOMPUTE_SEED)
    picks = sorted(rng.choice(len(first["user_id"]), size=N_RECOMPUTED, replace=False))
    users = [first["user_id"][i] for i in picks]
    spec = PopulationSpec(
        models=("nfg", "gru", "logistic"), seeds=(first["seed"],), epochs=params()["epochs"]
    )
    run = run_population(real_ml1m, users, spec, progress=False)
    for i, user in zip(picks, users):
        rows = run.table[run.table["user_id"] == user].set_index("model")
        n_test = first["n_test"][i]
        assert int(rows["n_test"].iloc[0]) == n_test
        assert rows.loc["logistic", "accuracy"] == pytest.approx(first["logistic"][i], abs=1e-9)
        for model in ("nfg", "gru"):
            assert abs(rows.loc[model, "accuracy"] - first[model][i]) <= 1 / n_test + 1e-9, (user, model)
