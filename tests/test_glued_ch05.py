"""The numbers chapter 5 states, checked against independent expectations.

Chapter 5 glues every number its prose quotes (``tests/glued.py`` reads them from the committed
notebook) and, without showing them, the per-user values behind its primary endpoint: each
user's held-out accuracy averaged over the seeds (``ch05_per_user_accuracy``) and each user's
accuracy in the first seed with the number of held-out rows (``ch05_first_seed_accuracy``).
The tests below:

- recompute the primary endpoint's test (scipy's Wilcoxon signed-rank test, normal
  approximation with the tie correction, zero differences split), its Hodges-Lehmann shift, its
  effect sizes and its equivalence test (scipy's one-sided signed-rank tests) from those per-user
  values, and check the interval against the estimate and the test;
- recompute Holm's adjustment of the exploratory table from its glued raw p-values (with a loop
  written here, not the package's);
- check counts that must add up (wins + ties = users; user-seeds = users x seeds; the dropped
  counts of balanced accuracy and AUC are the same rule);
- (slow, real data) train a seeded random subset of users again from scratch with
  :func:`recsys_utils.population.run_population` (not the store) and compare their per-user
  accuracies with the chapter's.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from tests.glued import NOTEBOOKS, ROOT, glued, holm_loop, notebook_params

#: Differences of seed-averaged accuracies below this are float round-off of equal values.
ROUND_OFF = 1e-12
#: Relative tolerance of a p-value recomputed by scipy from the same per-user values (the
#: same formula evaluated by another code path: only float round-off may differ).
P_RTOL = 1e-6
#: Users recomputed from scratch by the slow test, and the seed of their draw.
N_RECOMPUTED = 6
RECOMPUTE_SEED = 20261203
METRICS = ("accuracy", "balanced_accuracy", "roc_auc")
PAIRS = (("modified", "lstm"), ("modified", "majority"), ("lstm", "majority"))


def params() -> dict:
    return notebook_params("05_every_user")


def g() -> dict:
    return glued("05")


def primary_differences() -> np.ndarray:
    per_user = g()["ch05_per_user_accuracy"]
    d = np.asarray(per_user["modified"]) - np.asarray(per_user["lstm"])
    return np.where(np.abs(d) < ROUND_OFF, 0.0, d)


# ------------------------------------------------------------------------------ sample
def test_sample_size_and_seeds_are_the_parameters():
    assert g()["ch05_n_users"] == params()["n_users"]
    assert g()["ch05_n_seeds"] == len(params()["seeds"])
    assert len(g()["ch05_per_user_accuracy"]["user_id"]) == params()["n_users"]
    assert g()["ch05_user_seeds"] == params()["n_users"] * len(params()["seeds"])


def test_means_are_the_means_of_the_per_user_values():
    per_user = g()["ch05_per_user_accuracy"]
    for model in ("modified", "lstm", "majority"):
        assert g()[f"ch05_mean_accuracy_{model}"] == pytest.approx(np.mean(per_user[model]), abs=1e-12)


def test_per_user_accuracies_are_whole_rows():
    """An accuracy over n held-out rows is k / n; the seed mean of such is (sum k_s / n_s) / S."""
    first = g()["ch05_first_seed_accuracy"]
    for model in ("modified", "lstm", "logistic", "majority"):
        k = np.asarray(first[model]) * np.asarray(first["n_test"])
        assert np.allclose(k, np.round(k), atol=1e-6), model


# ------------------------------------------------------------------------------ primary
def test_primary_counts_add_up():
    d = primary_differences()
    assert g()["ch05_primary_n_users"] == len(d) == g()["ch05_n_users"]  # accuracy drops no one
    assert g()["ch05_primary_wins_modified"] == int((d > 0).sum())
    assert g()["ch05_primary_wins_lstm"] == int((d < 0).sum())
    assert g()["ch05_primary_ties"] == int((d == 0).sum())
    assert (
        g()["ch05_primary_wins_modified"] + g()["ch05_primary_wins_lstm"] + g()["ch05_primary_ties"]
    ) == g()["ch05_primary_n_users"]
    assert g()["ch05_primary_mean_diff"] == pytest.approx(d.mean(), abs=1e-12)


def test_primary_wilcoxon_p_matches_scipy():
    d = primary_differences()
    expected = stats.wilcoxon(d, zero_method="zsplit", correction=False, method="approx").pvalue
    assert g()["ch05_primary_p"] == pytest.approx(expected, rel=P_RTOL)


def test_primary_hodges_lehmann_shift_is_the_median_of_walsh_averages():
    d = primary_differences()
    walsh = np.add.outer(d, d)[np.triu_indices(len(d))] / 2
    assert g()["ch05_primary_hl"] == pytest.approx(float(np.median(walsh)), abs=1e-12)


def test_primary_interval_holds_the_estimate_and_agrees_with_the_test():
    lo, hi, hl, p = (g()[f"ch05_primary_{k}"] for k in ("ci_low", "ci_high", "hl", "p"))
    assert lo <= hl <= hi
    excludes_zero = lo > 0 or hi < 0
    assert excludes_zero == (p <= 0.05) or 0.0 in (lo, hi)


def test_primary_effect_sizes_match_a_recomputation():
    d = primary_differences()
    ranks = stats.rankdata(np.abs(d))
    r = (ranks[d > 0].sum() - ranks[d < 0].sum()) / (len(d) * (len(d) + 1) / 2)
    assert g()["ch05_primary_rank_biserial"] == pytest.approx(r, abs=1e-12)
    assert g()["ch05_primary_cohen_dz"] == pytest.approx(d.mean() / d.std(ddof=1), rel=1e-9)


def test_primary_equivalence_test_matches_scipy():
    d = primary_differences()
    margin = g()["ch05_margin"]
    assert margin == 0.01  # the margin the plan states before the results
    lower = stats.wilcoxon(d + margin, zero_method="zsplit", alternative="greater").pvalue
    upper = stats.wilcoxon(d - margin, zero_method="zsplit", alternative="less").pvalue
    assert g()["ch05_primary_tost_p"] == pytest.approx(max(lower, upper), rel=P_RTOL)
    assert g()["ch05_primary_equivalent"] == (max(lower, upper) <= 0.05)


def test_primary_endpoint_is_also_in_the_table_unadjusted():
    for key in ("est", "ci_low", "ci_high", "p"):
        table_key = f"ch05_modified_vs_lstm_accuracy_{key}"
        primary_key = {"est": "ch05_primary_hl"}.get(key, f"ch05_primary_{key}")
        assert g()[table_key] == pytest.approx(g()[primary_key], abs=1e-12)
    assert g()["ch05_modified_vs_lstm_accuracy_p_holm"] == g()["ch05_modified_vs_lstm_accuracy_p"]


# ------------------------------------------------------------- the report's two models
def claim_differences() -> np.ndarray:
    per_user = g()["ch05_claim_per_user_accuracy"]
    d = np.asarray(per_user["report-modified"]) - np.asarray(per_user["report-lstm"])
    return np.where(np.abs(d) < ROUND_OFF, 0.0, d)


def test_the_report_models_cover_the_chapters_users():
    assert g()["ch05_claim_per_user_accuracy"]["user_id"] == g()["ch05_per_user_accuracy"]["user_id"]
    assert g()["ch05_report_models_users"] == g()["ch05_n_users"]


def test_the_reports_modified_recommender_is_the_chapters_modified_network():
    """The committed run and the chapter's own run train the same network on the same splits:
    their seed-averaged accuracies agree user by user (within one held-out row of one seed on a
    few users: a score within a few ulps of 0.5 may fall on either side on another CPU)."""
    report_seeds = g()["ch05_report_seeds"]
    assert report_seeds == params()["report_seeds"] and set(report_seeds) <= set(params()["seeds"])
    committed = np.asarray(g()["ch05_claim_per_user_accuracy"]["report-modified"])
    assert g()["ch05_report_modified_mean_accuracy"] == pytest.approx(np.mean(committed), abs=1e-12)
    assert g()["ch05_report_models_same_share_pct"] >= 95.0
    if report_seeds == [g()["ch05_first_seed_accuracy"]["seed"]]:  # the first seed: compare user by user
        first = g()["ch05_first_seed_accuracy"]
        assert first["user_id"] == g()["ch05_claim_per_user_accuracy"]["user_id"]
        assert np.mean(np.abs(committed - np.asarray(first["modified"])) < ROUND_OFF) >= 0.95
        majority = np.asarray(g()["ch05_claim_per_user_accuracy"]["majority"])
        np.testing.assert_allclose(majority, first["majority"], atol=1e-12)
    elif sorted(report_seeds) == sorted(params()["seeds"]):  # every seed: compare the seed means
        here = g()["ch05_per_user_accuracy"]
        assert here["user_id"] == g()["ch05_claim_per_user_accuracy"]["user_id"]
        assert np.mean(np.abs(committed - np.asarray(here["modified"])) < ROUND_OFF) >= 0.95
        majority = np.asarray(g()["ch05_claim_per_user_accuracy"]["majority"])
        np.testing.assert_allclose(majority, here["majority"], atol=1e-12)


def test_claim_counts_test_and_effect_sizes_match_a_recomputation():
    d = claim_differences()
    assert g()["ch05_claim_wins_modified"] == int((d > 0).sum())
    assert g()["ch05_claim_wins_lstm"] == int((d < 0).sum())
    assert g()["ch05_claim_ties"] == int((d == 0).sum())
    assert g()["ch05_claim_mean_diff"] == pytest.approx(d.mean(), abs=1e-12)
    expected = stats.wilcoxon(d, zero_method="zsplit", correction=False, method="approx").pvalue
    assert g()["ch05_claim_p"] == pytest.approx(expected, rel=P_RTOL)
    walsh = np.add.outer(d, d)[np.triu_indices(len(d))] / 2
    assert g()["ch05_claim_hl"] == pytest.approx(float(np.median(walsh)), abs=1e-12)
    assert g()["ch05_claim_ci_low"] <= g()["ch05_claim_hl"] <= g()["ch05_claim_ci_high"]
    assert g()["ch05_claim_cohen_dz"] == pytest.approx(d.mean() / d.std(ddof=1), rel=1e-9)


def test_claim_equivalence_matches_scipy():
    d = claim_differences()
    margin = g()["ch05_margin"]
    lower = stats.wilcoxon(d + margin, zero_method="zsplit", alternative="greater").pvalue
    upper = stats.wilcoxon(d - margin, zero_method="zsplit", alternative="less").pvalue
    assert g()["ch05_claim_tost_p"] == pytest.approx(max(lower, upper), rel=P_RTOL)
    assert g()["ch05_claim_equivalent"] == (max(lower, upper) <= 0.05)


def test_the_words_on_the_reports_claim_match_its_values():
    """Chapter 05 and the introduction say the report's modified recommender is ahead ("right
    in direction"), that the test detects it, and that the two models are equivalent within the
    margin ("not in size"). A rerun that changed any of these would leave the words wrong."""
    assert g()["ch05_claim_mean_diff"] > 0
    assert g()["ch05_claim_wins_modified"] > g()["ch05_claim_wins_lstm"]
    assert g()["ch05_claim_p_holm"] < 0.05  # "a difference the test detects" (Holm, family of two)
    assert g()["ch05_claim_equivalent"] and g()["ch05_claim_tost_p"] < 0.001  # "TOST p < 0.001"
    chapter = (NOTEBOOKS / "05_every_user.ipynb").read_text(encoding="utf-8")
    intro = (ROOT / "book" / "intro.md").read_text(encoding="utf-8")
    assert "right in direction, negligible" in chapter and "right in direction, not in size" in intro


def test_the_two_confirmatory_p_values_are_holm_adjusted_together():
    raw = [g()["ch05_primary_p"], g()["ch05_claim_p"]]
    adjusted = [g()["ch05_primary_p_holm"], g()["ch05_claim_p_holm"]]
    assert adjusted == pytest.approx(holm_loop(raw), rel=1e-12)


# ------------------------------------------------------------------------------ exploratory
def test_exploratory_holm_matches_a_recomputation():
    rows = [(a, b, m) for a, b in PAIRS for m in METRICS if (a, b, m) != ("modified", "lstm", "accuracy")]
    raw = [g()[f"ch05_{a}_vs_{b}_{m}_p"] for a, b, m in rows]
    adjusted = [g()[f"ch05_{a}_vs_{b}_{m}_p_holm"] for a, b, m in rows]
    assert len(rows) == 8
    assert adjusted == pytest.approx(holm_loop(raw), rel=1e-12)
    assert all(h >= p for h, p in zip(adjusted, raw))


def test_exploratory_intervals_hold_their_estimates():
    for a, b in PAIRS:
        for m in METRICS:
            name = f"ch05_{a}_vs_{b}_{m}"
            assert g()[f"{name}_ci_low"] <= g()[f"{name}_est"] <= g()[f"{name}_ci_high"], name
            assert -1 <= g()[f"{name}_r"] <= 1


def test_modified_vs_majority_accuracy_matches_scipy():
    per_user = g()["ch05_per_user_accuracy"]
    d = np.asarray(per_user["modified"]) - np.asarray(per_user["majority"])
    d = np.where(np.abs(d) < ROUND_OFF, 0.0, d)
    expected = stats.wilcoxon(d, zero_method="zsplit", correction=False, method="approx").pvalue
    assert g()["ch05_modified_vs_majority_accuracy_p"] == pytest.approx(expected, rel=P_RTOL)


# ------------------------------------------------------------------------------ seeds, drops
def test_seed_differences_average_to_the_mean_difference():
    """Accuracy is defined for every user and seed, so the mean over seeds of the per-seed mean
    differences is the mean over users of the seed-averaged differences."""
    seeds = params()["seeds"]
    per_seed = [g()[f"ch05_seed{s}_acc_diff"] for s in seeds]
    assert np.mean(per_seed) == pytest.approx(g()["ch05_primary_mean_diff"], abs=1e-9)


def test_dropped_counts_are_consistent():
    # balanced accuracy and AUC are undefined by the same rule (a one-class held-out set)
    assert g()["ch05_bacc_nan_user_seeds"] == g()["ch05_auc_nan_user_seeds"]
    assert g()["ch05_bacc_users_dropped"] == g()["ch05_auc_users_dropped"]
    assert 0 <= g()["ch05_auc_nan_user_seeds"] <= g()["ch05_user_seeds"]
    n_seeds = g()["ch05_n_seeds"]
    # a dropped user has every seed undefined; a partly undefined user at least one
    assert (
        n_seeds * g()["ch05_auc_users_dropped"] + g()["ch05_auc_users_partly_nan"]
        <= g()["ch05_auc_nan_user_seeds"]
    )


def test_subgroup_and_interaction_p_values_are_probabilities():
    assert 0 < g()["ch05_interaction_p"] <= 1
    assert 0 <= g()["ch05_interaction_kruskal_p"] <= 1
    assert 0 <= g()["ch05_subgroup_min_p_holm"] <= 1


# ------------------------------------------------------------------------------ real data
@pytest.mark.realdata
def test_the_sample_is_the_seeded_sample(real_ml1m):
    from recsys_utils.population import sample_users

    users = sample_users(real_ml1m, params()["n_users"], seed=params()["sample_seed"])
    assert sorted(int(u) for u in users) == g()["ch05_per_user_accuracy"]["user_id"]


@pytest.mark.slow
@pytest.mark.realdata
def test_a_random_subset_of_users_recomputed_from_scratch(real_ml1m):
    """Train a seeded random subset of the chapter's users again, first seed only, with
    ``run_population`` directly (no store), and compare each user's held-out accuracy.

    Tolerance: the majority class and the logistic regression are deterministic and must agree
    to round-off. The networks' scores are float32 from a compiled kernel whose last digits
    depend on fastmath and on compiling in-process or loading Numba's cache
    (:mod:`recsys_utils.batched.jit`); a score that close to 0.5 may flip one prediction, so a
    network's accuracy may differ by at most one held-out row (``1 / n_test``).
    """
    from recsys_utils.population import PopulationSpec, run_population

    first = g()["ch05_first_seed_accuracy"]
    rng = np.random.default_rng(RECOMPUTE_SEED)
    picks = sorted(rng.choice(len(first["user_id"]), size=N_RECOMPUTED, replace=False))
    users = [first["user_id"][i] for i in picks]
    spec = PopulationSpec(
        models=("modified", "lstm", "logistic", "majority"), seeds=(first["seed"],), epochs=params()["epochs"]
    )
    run = run_population(real_ml1m, users, spec, progress=False)
    for i, user in zip(picks, users):
        rows = run.table[run.table["user_id"] == user].set_index("model")
        n_test = first["n_test"][i]
        assert int(rows["n_test"].iloc[0]) == n_test
        for model in ("logistic", "majority"):
            assert rows.loc[model, "accuracy"] == pytest.approx(first[model][i], abs=1e-9)
        for model in ("modified", "lstm"):
            assert abs(rows.loc[model, "accuracy"] - first[model][i]) <= 1 / n_test + 1e-9, (user, model)
    assert not math.isnan(run.table["accuracy"].mean())
