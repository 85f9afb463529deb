"""The statistical plan (recsys_utils.evaluation.statistics) against scipy and hand values."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from recsys_utils.evaluation import statistics as S


# ----------------------------------------------------------------- Hodges-Lehmann
def test_walsh_averages_and_hodges_lehmann_by_hand():
    np.testing.assert_array_equal(S.walsh_averages([1, 2, 3]), [1, 1.5, 2, 2, 2.5, 3])
    assert S.hodges_lehmann([1, 2, 3]) == 2.0
    # Walsh averages of (-1, 0, 4): -1, -0.5, 0, 1.5, 2, 4 -> median (0 + 1.5) / 2
    assert S.hodges_lehmann([-1, 0, 4]) == 0.75
    with pytest.raises(ValueError, match="finite"):
        S.hodges_lehmann([1.0, math.nan])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_wilcoxon_and_its_interval_invert_the_same_test(seed):
    d = np.random.default_rng(seed).normal(0.3, 1.0, 14)
    res = S.wilcoxon_hl(d)
    assert res.method == "exact" and res.n == 14 and res.n_zero == 0
    assert res.p_value == pytest.approx(stats.wilcoxon(d, method="exact").pvalue, rel=1e-12)
    assert res.ci_low <= res.hl_shift <= res.ci_high and res.agree
    # the interval is exactly the set of shifts the exact test does not reject
    gaps = np.diff(np.unique(S.walsh_averages(d))).min()
    eps = gaps / 10
    for end, inside in ((res.ci_low, res.ci_low + eps), (res.ci_high, res.ci_high - eps)):
        assert stats.wilcoxon(d - inside, method="exact").pvalue > 0.05
        outside = end - eps if end == res.ci_low else end + eps
        assert stats.wilcoxon(d - outside, method="exact").pvalue <= 0.05


def test_exact_interval_on_a_known_case():
    # n = 10 untied: P(W+ <= 8) = 25 / 1024 = 0.0244 <= 0.025 < P(W+ <= 9) = 33 / 1024, so the
    # two-sided 5 % test rejects when W+ <= 8 or W+ >= 47, and the 95 % interval runs from the
    # 9th to the 47th of the 55 Walsh averages
    d = np.array([1.5, -0.4, 2.2, 3.1, 0.7, 1.9, -1.3, 2.8, 0.2, 1.1])
    res = S.wilcoxon_hl(d)
    walsh = S.walsh_averages(d)
    assert (res.ci_low, res.ci_high) == (walsh[8], walsh[46])
    assert res.hl_shift == pytest.approx(np.median(walsh))


@pytest.mark.parametrize("seed", range(6))
def test_normal_wilcoxon_with_ties_and_zeros_matches_scipy_and_agrees(seed):
    d = np.random.default_rng(seed).integers(-2, 4, 60) / 3.0  # many ties and zeros
    res = S.wilcoxon_hl(d)
    assert res.method == "normal" and res.n == 60 and res.n_zero == int((d == 0).sum())
    ref = stats.wilcoxon(d, zero_method="zsplit", method="approx")
    assert res.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    excluded = res.ci_low > 0 or res.ci_high < 0
    assert res.agree and ((res.p_value <= 0.05) == excluded or 0.0 in (res.ci_low, res.ci_high))


# ----------------------------------------------------------- mean: permutation + bootstrap
def test_sign_flip_test_matches_scipy_permutation_test():
    d = np.array([0.3, -0.1, 0.25, 0.4, -0.05, 0.2, 0.15, 0.35])
    p, method = S.sign_flip_test(d)
    ref = stats.permutation_test(
        (d,), np.mean, permutation_type="samples", n_resamples=np.inf, alternative="two-sided"
    )
    assert method == "exact" and p == pytest.approx(ref.pvalue)
    big = np.random.default_rng(0).normal(0.0, 1.0, 40)
    p_mc, method = S.sign_flip_test(big, n_perm=4000, seed=1)
    assert method == "monte carlo" and p_mc == pytest.approx(stats.ttest_1samp(big, 0).pvalue, abs=0.05)


def test_mean_difference_bootstrap_resamples_users():
    diffs = [0.1, 0.2, -0.05, 0.0, 0.3, 0.15, 0.05, -0.1, 0.2, 0.1, 0.0, 0.25, 0.3, -0.2, 0.1, 0.05, 0.15]
    rows = [
        {"user_id": u, "seed": 0, "model": m, "accuracy": 0.5 + (d if m == "x" else 0)}
        for u, d in enumerate(diffs)
        for m in ("x", "y")
    ]
    table = pd.DataFrame(rows)
    d = S.paired_differences(table, "x", "y", "accuracy")
    res = S.mean_difference(d, n_resamples=2000, seed=5)
    # the percentile interval of 2,000 means of users drawn with replacement (the same draws)
    boot = np.asarray(diffs)[np.random.default_rng(5).integers(0, len(diffs), size=(2000, len(diffs)))].mean(
        axis=1
    )
    assert (res.ci_low, res.ci_high) == pytest.approx((np.quantile(boot, 0.025), np.quantile(boot, 0.975)))
    assert res.mean == pytest.approx(np.mean(diffs)) and res.method == "monte carlo"
    assert res.ci_low < res.mean < res.ci_high and 0 < res.p_value < 0.05


def test_paired_differences_average_seeds_and_drop_nan_users():
    table = pd.DataFrame(
        {
            "user_id": [1, 1, 2, 2, 3, 3] * 2,
            "seed": [0, 1] * 6,
            "model": ["a"] * 6 + ["b"] * 6,
            "auc": [0.6, 0.8, math.nan, math.nan, 0.5, 0.5] + [0.5] * 6,
        }
    )
    d = S.paired_differences(table, "a", "b", "auc")
    assert d.index.tolist() == [1, 3] and d.loc[1] == pytest.approx(0.2) and d.loc[3] == 0.0


# ---------------------------------------------------------------------- equivalence
def test_tost_on_the_mean_is_two_one_sided_t_tests():
    d = np.random.default_rng(3).normal(0.01, 0.05, 80)
    res = S.tost(d, 0.03)
    lower = stats.ttest_1samp(d, -0.03, alternative="greater").pvalue
    upper = stats.ttest_1samp(d, 0.03, alternative="less").pvalue
    assert (res.p_lower, res.p_upper) == (pytest.approx(lower), pytest.approx(upper))
    assert res.p_value == pytest.approx(max(lower, upper))
    # equivalent at 0.05 exactly when the 90 % t interval lies inside the margins
    ci = stats.t.interval(0.90, len(d) - 1, loc=d.mean(), scale=stats.sem(d))
    assert res.equivalent == (ci[0] > -0.03 and ci[1] < 0.03)
    assert not S.tost(d, 0.001).equivalent
    with pytest.raises(ValueError, match="margin"):
        S.tost(d, 0.0)


def test_tost_on_the_hodges_lehmann_shift():
    d = np.random.default_rng(4).normal(0.0, 0.05, 60)
    res = S.tost(d, 0.04, on="hl")
    lower = stats.wilcoxon(d + 0.04, zero_method="zsplit", alternative="greater").pvalue
    upper = stats.wilcoxon(d - 0.04, zero_method="zsplit", alternative="less").pvalue
    assert res.p_value == pytest.approx(max(lower, upper)) and res.equivalent
    assert res.estimate == pytest.approx(S.hodges_lehmann(d))


# ----------------------------------------------------------------------------- Holm
def test_holm_textbook_example():
    # p = 0.01, 0.04, 0.03, 0.005: sorted 0.005 x 4, 0.01 x 3, 0.03 x 2, 0.04 x 1 (then the
    # running maximum): 0.02, 0.03, 0.06, 0.06
    np.testing.assert_allclose(S.holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    out = S.holm([0.02, math.nan, 0.5, 0.001])
    assert math.isnan(out[1])
    np.testing.assert_allclose(out[[0, 2, 3]], [0.04, 0.5, 0.003])  # m = 3 defined p-values
    assert S.holm([0.6, 0.7])[0] == 1.0
    with pytest.raises(ValueError, match="p-values"):
        S.holm([1.2])


# ---------------------------------------------------------------------- interaction
def test_subgroup_interaction_against_full_enumeration():
    d = np.array([0.3, 0.25, 0.4, 0.1, -0.1, 0.0, 0.05, -0.2])
    groups = np.array(["a"] * 4 + ["b"] * 4)
    res = S.subgroup_interaction(d, groups, n_perm=20_000, seed=0)
    observed = abs(d[:4].mean() - d[4:].mean())
    splits = [np.isin(np.arange(8), c) for c in itertools.combinations(range(8), 4)]
    exact = np.mean([abs(d[m].mean() - d[~m].mean()) >= observed - 1e-12 for m in splits])
    assert res.p_value == pytest.approx(exact, abs=0.01)
    assert res.groups == ["a", "b"] and res.n == [4, 4]
    assert res.kruskal_p_value == pytest.approx(stats.kruskal(d[:4], d[4:]).pvalue)
    same = S.subgroup_interaction(
        np.random.default_rng(0).normal(size=90), np.repeat(["x", "y", "z"], 30), n_perm=2000
    )
    assert same.p_value > 0.05 and len(same.mean) == 3


# ---------------------------------------------------------------------- effect sizes
def test_effect_sizes_keep_tied_users():
    d = np.array([0.1, 0.2, -0.05, 0.0, 0.3, 0.15])
    # mid-ranks of |d| over all 6 users: 0 -> 1, 0.05 -> 2, 0.1 -> 3, 0.15 -> 4, 0.2 -> 5,
    # 0.3 -> 6; W+ = 3 + 5 + 6 + 4 = 18, W- = 2, the zero splits; n (n + 1) / 2 = 21
    out = S.effect_sizes(d)
    assert out["n"] == 6 and out["rank_biserial"] == pytest.approx(16 / 21)
    assert out["cohen_dz"] == pytest.approx(d.mean() / d.std(ddof=1))
    assert S.effect_sizes(np.zeros(4))["rank_biserial"] == 0.0
    assert math.isnan(S.effect_sizes(np.zeros(4))["cohen_dz"])


# ------------------------------------------------------------------------------ plan
def _run_table(n_users: int = 30, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        base = rng.uniform(0.5, 0.8)
        for s in range(3):
            for model, shift in (("modified", 0.02), ("lstm", 0.0), ("majority", -0.05)):
                rows.append(
                    {
                        "user_id": u,
                        "seed": s,
                        "model": model,
                        "accuracy": base + shift + rng.normal(0, 0.01),
                        "roc_auc": math.nan if (u == 0 and model == "lstm") else base + rng.normal(0, 0.02),
                    }
                )
    return pd.DataFrame(rows)


def test_plan_table_primary_endpoint_and_holm_family():
    from recsys_utils.evaluation.plan import StatisticalPlan, compare, plan_table

    table = _run_table()
    plan = StatisticalPlan(("modified", "lstm", "accuracy"), margins={"roc_auc": 0.05})
    assert "Primary endpoint: modified - lstm" in plan.describe()
    out = plan_table(table, [("modified", "lstm"), ("modified", "majority")], ["accuracy", "roc_auc"], plan)
    assert out["role"].tolist() == ["primary", "exploratory", "exploratory", "exploratory"]
    np.testing.assert_allclose(out["p_holm"].iloc[1:], S.holm(out["p_value"].iloc[1:]))
    assert out["p_holm"].iloc[0] == out["p_value"].iloc[0]
    first = out.iloc[0]
    d = S.paired_differences(table, "modified", "lstm", "accuracy")
    ref = S.wilcoxon_hl(d)
    assert (first["estimate"], first["ci_low"], first["p_value"]) == (ref.hl_shift, ref.ci_low, ref.p_value)
    assert first["ci_low"] > 0 and first["p_value"] < 0.05 and math.isnan(first["margin"])
    auc = out.iloc[1]
    assert auc["n_dropped"] == 1 and auc["n_users"] == 29
    assert auc["equivalent"] and auc["equivalence_p"] < 0.05
    mean_plan = StatisticalPlan(("modified", "lstm", "accuracy"), estimand="mean", n_resamples=500)
    row = compare(table, "modified", "lstm", "accuracy", mean_plan)
    assert row["estimate"] == pytest.approx(d.mean()) and row["ci_low"] < d.mean() < row["ci_high"]
    with pytest.raises(ValueError, match="margins"):
        StatisticalPlan(("a", "b", "accuracy"), margins={"accuracy": 0})
