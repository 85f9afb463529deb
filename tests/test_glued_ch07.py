"""Chapter 7's glued numbers against independent expectations.

The chapter's networks take minutes to retrain, so the cheap tests check what the conclusions
rest on without retraining, from the per-user values the chapter glues next to its tests:

- the parameters: the glued ones are the notebook's (its parameters cell overlaid with
  ``notebooks/params.yml``);
- the statistics, recomputed here from the glued per-user values with SciPy and plain loops
  (Hodges-Lehmann as the median of the Walsh averages written out; Wilcoxon p-values with
  ``scipy.stats.wilcoxon``; Holm by :func:`glued.holm_loop`; TOST as two one-sided SciPy
  signed-rank tests): estimates glued to 2 or 3 decimals within half a unit of the last decimal,
  p-values (glued in full) within a relative 1e-6 (the normal approximation with tie correction
  written two ways);
- the relations the prose states (the effects follow the positions, every cell above an even
  spread, popularity ahead of the model, the fallback between the two, ...).

The ``realdata`` tests redraw the samples with the package's sampling rule written out here
(``numpy.random.default_rng([seed, n_eligible])`` over the sorted eligible ids) and recount, with
pandas, user 1's rows, the held-out likes of the time-ordered cold start (each user's last
ratings by timestamp, ties by movie id) and that every time-ordered user is below 3000.
"""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from glued import NOTEBOOKS, glued, holm_loop, notebook_run_parameters
from scipy.stats import wilcoxon

G = glued("07")
ROUND2_TOL = 5e-3 + 1e-12  # a value glued to 2 decimals
ROUND3_TOL = 5e-4 + 1e-12  # a value glued to 3 decimals
P_REL = 1e-6  # p-values glued in full, recomputed another way
FIRST_USER_WITHOUT_TIME = 3000  # the shared copy's users 3000+ carry timestamp 0
CELLS = ("modified", "nfg", "lstm", "gru")
STRATEGIES = ("initial model (stale)", "update: new rows", "update: old + new rows", "retrain from scratch")


PARAMS = notebook_run_parameters("07")


def hodges_lehmann(d: np.ndarray) -> float:
    """Median of the Walsh averages (d_i + d_j) / 2, i <= j, written out."""
    walsh = [(d[i] + d[j]) / 2.0 for i in range(len(d)) for j in range(i, len(d))]
    return float(np.median(walsh))


def wilcoxon_p(d: np.ndarray) -> float:
    """Two-sided signed-rank p: zeros split, normal approximation with ties (n > 50 or ties)."""
    return float(wilcoxon(d, zero_method="zsplit", method="approx", correction=False).pvalue)


def tost_p(d: np.ndarray, margin: float) -> float:
    lower = wilcoxon(d + margin, zero_method="zsplit", alternative="greater").pvalue
    upper = wilcoxon(d - margin, zero_method="zsplit", alternative="less").pvalue
    return float(max(lower, upper))


def _array(name: str, key: str) -> np.ndarray:
    return np.asarray(G[name][key], dtype=np.float64)


def test_glued_parameters_are_the_notebooks() -> None:
    for name, key in (
        ("ch07_n_sample", "n_sample"),
        ("ch07_sample_seed", "sample_seed"),
        ("ch07_n_probe", "n_probe"),
        ("ch07_n_timed", "n_timed"),
        ("ch07_min_ratings", "min_ratings"),
        ("ch07_seed", "seed"),
        ("ch07_epochs", "epochs"),
        ("ch07_max_rows", "max_rows"),
        ("ch07_n_test", "n_test"),
        ("ch07_update_epochs", "update_epochs"),
        ("ch07_fallback_min_ratings", "fallback_min_ratings"),
    ):
        assert G[name] == PARAMS[key], name
    assert G["ch07_seeds"] == list(PARAMS["seeds"]) and G["ch07_n_seeds"] == len(PARAMS["seeds"])
    assert G["ch07_user_seeds_n"] == len(PARAMS["user_seeds"])
    assert (G["ch07_k_first"], G["ch07_k_last"], G["ch07_n_ks"]) == (
        min(PARAMS["ks"]),
        max(PARAMS["ks"]),
        len(PARAMS["ks"]),
    )
    # the sample shares chapter 05's users and seeds, whose networks it reads back
    ch05 = yaml.safe_load((NOTEBOOKS / "params.yml").read_text())["05_every_user"]
    assert (PARAMS["n_sample"], PARAMS["sample_seed"], PARAMS["seeds"]) == (
        ch05["n_users"],
        ch05["sample_seed"],
        ch05["seeds"],
    )


def test_user_1_occlusion_claims() -> None:
    assert (G["ch07_n_rows"], G["ch07_n_train"], G["ch07_n_likes"]) == (53, 34, 45)
    assert 0 <= G["ch07_p_min"] <= G["ch07_p_max"] <= 1
    if G["ch07_rows_predicted_like"] == G["ch07_n_rows"]:  # "predicts a like for every row"
        assert G["ch07_p_min"] >= 0.5
    # "every genre lowers the score", growing with the place in the attribute order
    assert G["ch07_negative_genres"] == G["ch07_n_genres"] == 18
    assert G["ch07_place_spearman"] >= 0.9
    assert G["ch07_western_addition_pp"] < G["ch07_war_removal_pp"] < G["ch07_thriller_removal_pp"] < 0
    assert 0 <= G["ch07_frequent_max_pp"] < 1 < abs(G["ch07_thriller_removal_pp"])
    # ... and the same over the seeds ("does not depend on the seed")
    assert G["ch07_user_seed_negative_min"] <= G["ch07_user_seed_negative_max"] <= 18
    assert 0.8 <= G["ch07_user_seed_place_min"] <= G["ch07_user_seed_place_max"] <= 1


def test_gate_and_memory_values() -> None:
    for name in ("ch07_input_negative_share", "ch07_output_negative_share"):
        assert 0 < G[name] < 1  # the tanh gates do go negative
    assert 0 < G["ch07_candidate_min"] < 1  # a sigmoid
    for prefix in ("ch07_decay_", "ch07_decay_median_"):
        values = [G[f"{prefix}{d}"] for d in (1, 3, 5)]
        assert 100 >= values[0] >= values[1] >= values[2] >= 0, prefix
    assert G["ch07_decay_q3_3"] >= G["ch07_decay_median_3"]


def test_order_tests_recomputed() -> None:
    """Hodges-Lehmann locations of the per-user correlations and the Holm family of 3."""
    genre = _array("ch07_rho_per_user", "rho_genre")  # nan: a user whose effects are constant
    position = _array("ch07_rho_per_user", "rho_position")
    assert len(genre) == G["ch07_n_probe"]
    assert np.isfinite(genre).sum() == G["ch07_rho_users"]
    diff = (position - genre)[np.isfinite(position - genre)]
    genre, position = genre[np.isfinite(genre)], position[np.isfinite(position)]
    assert G["ch07_rho_genre"] == pytest.approx(hodges_lehmann(genre), abs=ROUND2_TOL)
    assert G["ch07_rho_position"] == pytest.approx(hodges_lehmann(position), abs=ROUND2_TOL)
    assert G["ch07_rho_diff"] == pytest.approx(hodges_lehmann(diff), abs=ROUND2_TOL)
    holm = holm_loop([wilcoxon_p(genre), wilcoxon_p(position), wilcoxon_p(diff)])
    for key, p in zip(("genre", "position", "diff"), holm):
        assert G[f"ch07_rho_{key}_p_holm"] == pytest.approx(p, rel=P_REL, abs=1e-15), key
        assert G[f"ch07_rho_{key}_low"] <= G[f"ch07_rho_{key}"] <= G[f"ch07_rho_{key}_high"]
    # "the effects stay with the positions and not with the genres"
    assert G["ch07_rho_diff_low"] > 0 and G["ch07_rho_diff_p_holm"] < 0.05
    assert G["ch07_rho_position_low"] > G["ch07_rho_genre_high"]


def test_position_tests_recomputed() -> None:
    """Each cell's share of the last 3 positions against 3/18, and the report's cell against
    each other cell: the family of 7, Holm-adjusted together."""
    even = 3 / 18
    assert G["ch07_even_share"] == pytest.approx(even, abs=ROUND3_TOL)
    # nan: a network whose like probability no flip moves (no sensitivity to share)
    shares = {c: _array("ch07_share_per_user", c) for c in CELLS}
    assert len(shares["modified"]) == G["ch07_n_probe"]
    assert np.isfinite(shares["modified"]).sum() == G["ch07_share_users"]
    ps = []
    for c in CELLS:
        v = shares[c][np.isfinite(shares[c])]
        assert len(v) >= 0.9 * G["ch07_n_probe"], c  # nearly every user has one
        assert G[f"ch07_share_{c}"] == pytest.approx(hodges_lehmann(v), abs=ROUND3_TOL), c
        ps.append(wilcoxon_p(v - even))
        # "every cell puts far more than an even share on the last three positions"
        assert G[f"ch07_share_{c}_low"] > even, c
    others = [c for c in CELLS if c != "modified"]
    tosts = []
    for c in others:
        d = shares["modified"] - shares[c]
        d = d[np.isfinite(d)]
        assert G[f"ch07_share_diff_{c}"] == pytest.approx(hodges_lehmann(d), abs=ROUND3_TOL), c
        ps.append(wilcoxon_p(d))
        tosts.append(tost_p(d, G["ch07_share_margin"]))
    holm = holm_loop(ps)
    for c, p, t in zip(others, holm[len(CELLS) :], tosts):
        assert G[f"ch07_share_diff_{c}_p_holm"] == pytest.approx(p, rel=P_REL, abs=1e-15), c
        assert G[f"ch07_share_diff_{c}_tost_p"] == pytest.approx(t, rel=P_REL, abs=1e-15), c
    assert G["ch07_share_p_holm_max"] == pytest.approx(max(holm), rel=P_REL)
    diffs = [G[f"ch07_share_diff_{c}"] for c in others]
    assert (G["ch07_share_diff_min"], G["ch07_share_diff_max"]) == (min(diffs), max(diffs))
    # "the report's cell concentrates more: every interval above 0"
    assert all(G[f"ch07_share_diff_{c}_low"] > 0 for c in others)


def test_cold_start_claims() -> None:
    assert G["ch07_test_total"] == G["ch07_n_timed"] * G["ch07_n_test"]
    assert 0 < G["ch07_test_likes"] < G["ch07_test_total"]
    for name in ("pop_auc", "pop_acc", "lstm_auc_min", "lstm_auc_max", "lstm_acc_first", "lstm_acc_last"):
        assert 0 <= G[f"ch07_{name}"] <= 1, name
    # "below popularity at every k": every shift negative, every interval below 0, Holm p < 0.05
    assert G["ch07_lstm_auc_min"] <= G["ch07_lstm_auc_max"] < G["ch07_pop_auc"]
    assert G["ch07_cold_auc_diff_min"] <= G["ch07_cold_auc_diff_max"] < 0
    assert G["ch07_cold_auc_high_max"] < 0 and G["ch07_cold_auc_p_holm_max"] < 0.05
    # "as good as the majority of k, and no better": equivalent within the margin at every k
    assert G["ch07_cold_majority_equivalent"] == G["ch07_n_ks"]
    assert (
        -G["ch07_margin"]
        < G["ch07_cold_majority_diff_min"]
        <= G["ch07_cold_majority_diff_max"]
        < G["ch07_margin"]
    )
    # accuracy against popularity: ahead at the last k, not distinguished at the first
    assert G["ch07_cold_acc_diff_first"] <= 0 and G["ch07_cold_acc_p_holm_first"] >= 0.05
    assert G["ch07_cold_acc_diff_last"] < 0 and G["ch07_cold_acc_p_holm_last"] < 0.05
    # the fallback helps against the model and loses against popularity
    assert G["ch07_fallback_vs_lstm_auc"] > 0 > G["ch07_fallback_vs_pop_auc"]


def test_cold_start_auc_at_the_last_k_recomputed() -> None:
    lstm = _array("ch07_cold_auc_per_user_k_last", "lstm")
    pop = _array("ch07_cold_auc_per_user_k_last", "popularity")
    d = lstm - pop
    assert len(d) >= G["ch07_cold_auc_users_min"]
    assert (
        G["ch07_cold_auc_diff_min"] - ROUND3_TOL
        <= hodges_lehmann(d)
        <= G["ch07_cold_auc_diff_max"] + ROUND3_TOL
    )
    assert G[f"ch07_cold_auc_diff_k{G['ch07_k_last']}"] == pytest.approx(hodges_lehmann(d), abs=ROUND3_TOL)
    assert int((d < 0).sum()) >= G["ch07_cold_auc_pop_wins_min"]


def test_update_tests_recomputed() -> None:
    """Each strategy minus retraining on accuracy: HL shift and TOST within the margin."""
    acc = {s: _array("ch07_upd_accuracy_per_user", s) for s in STRATEGIES}
    assert len(acc[STRATEGIES[0]]) == G["ch07_n_timed"]
    margin = G["ch07_margin"]
    for s, key in zip(STRATEGIES[:3], ("stale", "new", "old_new")):
        d = acc[s] - acc[STRATEGIES[3]]
        d = np.where(np.abs(d) < 1e-12, 0.0, d)
        assert G[f"ch07_upd_acc_{key}_diff"] == pytest.approx(hodges_lehmann(d), abs=ROUND3_TOL), key
        assert G[f"ch07_upd_acc_{key}_tost_p"] == pytest.approx(tost_p(d, margin), rel=P_REL, abs=1e-15), key
        assert G[f"ch07_upd_acc_{key}_equivalent"] == (tost_p(d, margin) <= 0.05), key
        assert G[f"ch07_upd_acc_{key}_low"] <= G[f"ch07_upd_acc_{key}_diff"] <= G[f"ch07_upd_acc_{key}_high"]
        mean = float(np.mean(acc[s]))
        assert G[f"ch07_upd_acc_{key}"] == pytest.approx(mean, abs=ROUND3_TOL), key
    # "not shown to be as good as retraining, and none shown different"
    assert G["ch07_upd_equivalent_count"] == 0 and G["ch07_upd_tests"] == 6
    assert G["ch07_upd_p_holm_min"] >= 0.05
    # "every interval runs from about zero to a loss larger than the margin"
    for key in ("stale", "new", "old_new"):
        for mk in ("acc", "auc"):
            assert G[f"ch07_upd_{mk}_{key}_low"] < -G["ch07_margin"] < G[f"ch07_upd_{mk}_{key}_high"], (
                mk,
                key,
            )
    for key in ("stale", "new", "old_new"):
        assert G[f"ch07_upd_acc_{key}"] <= G["ch07_upd_acc_retrain"]  # "the means lean towards retraining"
    # user 1: every model predicts a like for every held-out movie, so one accuracy for all,
    # a whole number of rows out of n_test
    assert G["ch07_u1_like_share_min"] == 1.0 and G["ch07_u1_acc_min"] == G["ch07_u1_acc_max"]
    hits = G["ch07_u1_acc_max"] * G["ch07_u1_n_test"]
    assert hits == pytest.approx(round(hits), abs=2e-3 * G["ch07_u1_n_test"])
    assert 0 < G["ch07_upd_time_ratio"] < 1 and 0 < G["ch07_u1_time_ratio"] < 1  # "cheaper"


def _sample(ids: np.ndarray, n: int, seed: int) -> np.ndarray:
    """The package's sampling rule, written out: sorted eligible ids, default_rng([seed, n_eligible])."""
    ids = np.sort(ids)
    if n >= len(ids):
        return ids
    return np.sort(np.random.default_rng([seed, len(ids)]).choice(ids, size=n, replace=False))


@pytest.mark.realdata
def test_probe_users_are_a_random_subset_of_chapter_05s_sample(real_ml1m) -> None:
    counts = real_ml1m.ratings.groupby("user_id").size()
    users = _sample(counts.index.to_numpy(np.int64), PARAMS["n_sample"], PARAMS["sample_seed"])
    rng = np.random.default_rng(PARAMS["sample_seed"])
    probe = np.sort(rng.choice(users, size=PARAMS["n_probe"], replace=False))
    assert G["ch07_probe_users"] == probe.tolist()
    assert (G["ch07_probe_median"], G["ch07_probe_min"], G["ch07_probe_max"]) == (
        counts[probe].median(),
        counts[probe].min(),
        counts[probe].max(),
    )
    assert G["ch07_share_per_user"]["user_id"] == probe.tolist()


@pytest.mark.realdata
def test_timed_users_have_real_times_and_are_below_3000(real_ml1m) -> None:
    r = real_ml1m.ratings
    per_user = r.groupby("user_id")["timestamp"].agg(["size", "min"])
    eligible = per_user.index[
        (per_user.index < FIRST_USER_WITHOUT_TIME)
        & (per_user["size"] >= PARAMS["min_ratings"])
        & (per_user["min"] > 0)
    ].to_numpy(np.int64)
    timed = _sample(eligible, PARAMS["n_timed"], PARAMS["sample_seed"])
    assert G["ch07_timed_users"] == timed.tolist()
    assert max(G["ch07_timed_users"]) < FIRST_USER_WITHOUT_TIME
    assert G["ch07_upd_accuracy_per_user"]["user_id"] == timed.tolist()


@pytest.mark.realdata
def test_cold_start_held_out_likes_are_the_last_ratings(real_ml1m) -> None:
    """The held-out rows: each user's last n_test ratings by timestamp (ties: movie id)."""
    r = real_ml1m.ratings
    rows = r[r["user_id"].isin(G["ch07_timed_users"])].sort_values(["user_id", "timestamp", "movie_id"])
    last = rows.groupby("user_id").tail(PARAMS["n_test"])
    assert G["ch07_test_likes"] == int((last["rating"] >= 4).sum())


@pytest.mark.realdata
def test_user_1_counts(real_ml1m) -> None:
    rows = real_ml1m.ratings[real_ml1m.ratings["user_id"] == PARAMS["user_id"]]
    assert G["ch07_n_rows"] == len(rows)
    assert G["ch07_n_likes"] == int((rows["rating"] >= 4).sum())
    assert G["ch07_n_train"] == int(len(rows) * 0.65)
