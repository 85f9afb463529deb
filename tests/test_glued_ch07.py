"""Chapter 7's glued numbers against independent expectations.

The chapter's models (Keras for user 1, the batched trainer for the sample) take a minute to
retrain, so the cheap tests check what the conclusions rest on without retraining:

- the parameters: the glued ones are the notebook's (its parameters cell overlaid with
  ``notebooks/params.yml``);
- the sign-test p-values, recomputed with SciPy from the glued win counts (glued to 4 decimals:
  tolerance half a unit of the 4th decimal);
- ranges (probabilities and AUCs in [0, 1], shares left in [0, 100] and shrinking with the
  distance) and the relations the prose states (every genre negative, popularity ahead, the
  fallback between the two, ...);
- one identity: averaged over the ks, (fallback - model) - (fallback - popularity) is popularity
  minus the model's mean AUC, which must lie between the model's smallest and largest AUC (each
  glued value is rounded to 3 decimals: tolerance 2e-3).

The ``realdata`` tests redraw the sample with :func:`recsys_utils.features.sample_users` and
recount, with pandas and NumPy, the sample's sizes, user 1's rows, the held-out likes of the
cold-start protocol and the users with rating times.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml
from glued import NOTEBOOKS, glued, notebook_path
from scipy.stats import binomtest

from recsys_utils import features

G = glued("07")
P_TOL = 5e-5 + 1e-12  # p-values glued to 4 decimals
ROUND3_TOL = 2e-3  # a difference of two values each rounded to 3 decimals, plus one more
FIRST_USER_WITHOUT_TIME = 3000  # the shared copy's users 3000+ carry timestamp 0


def _parameters() -> dict:
    """The notebook's parameters as run: its parameters cell, overlaid by params.yml."""
    import json

    nb = json.loads(notebook_path("07").read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    params: dict = {}
    exec("".join(cell["source"]), {}, params)  # the cell is plain assignments of literals
    config = yaml.safe_load((NOTEBOOKS / "params.yml").read_text()) or {}
    params.update(config.get("common") or {})
    params.update(config.get("07_interpretability") or {})
    return params


PARAMS = _parameters()


def test_glued_parameters_are_the_notebooks() -> None:
    for name, key in (
        ("ch07_n_users", "n_users"),
        ("ch07_min_ratings", "min_ratings"),
        ("ch07_seed", "seed"),
        ("ch07_epochs", "epochs"),
        ("ch07_max_rows", "max_rows"),
        ("ch07_n_test", "n_test"),
        ("ch07_update_epochs", "update_epochs"),
        ("ch07_fallback_min_ratings", "fallback_min_ratings"),
    ):
        assert G[name] == PARAMS[key], name
    assert (G["ch07_k_first"], G["ch07_k_last"]) == (min(PARAMS["ks"]), max(PARAMS["ks"]))


def test_sign_tests_recomputed_from_the_counts() -> None:
    ps, pop_counts = [], []
    for k in PARAMS["ks"]:
        a, b = G[f"ch07_lstm_higher_k{k}"], G[f"ch07_pop_higher_k{k}"]
        assert a + b <= G["ch07_n_users"]
        p = binomtest(a, a + b, 0.5).pvalue
        assert G[f"ch07_sign_p_k{k}"] == pytest.approx(p, abs=P_TOL)
        ps.append(p)
        pop_counts.append(b)
    assert (G["ch07_pop_higher_min"], G["ch07_pop_higher_max"]) == (min(pop_counts), max(pop_counts))
    assert G["ch07_sign_p_max"] == pytest.approx(max(ps), abs=P_TOL)
    assert G["ch07_sign_p_min"] == pytest.approx(min(ps), abs=P_TOL)
    # "below popularity for most users at every k": a majority, significant at the 5 % level
    assert min(pop_counts) > G["ch07_n_users"] / 2
    assert max(ps) < 0.05


def test_user_1_occlusion_claims() -> None:
    assert (G["ch07_n_rows"], G["ch07_n_train"], G["ch07_n_likes"]) == (53, 34, 45)
    assert 0 <= G["ch07_p_min"] <= G["ch07_p_max"] <= 1
    assert 0 <= G["ch07_rows_predicted_like"] <= G["ch07_n_rows"]
    if G["ch07_rows_predicted_like"] == G["ch07_n_rows"]:  # "predicts a like for every row"
        assert G["ch07_p_min"] >= 0.5
    # "every genre lowers the score", growing with the place in the attribute order
    assert G["ch07_negative_genres"] == G["ch07_n_genres"] == 18
    assert G["ch07_place_spearman"] >= 0.9
    # the last attributes move it most; the two most frequent genres barely (< 1 pp)
    assert G["ch07_western_addition_pp"] < G["ch07_war_removal_pp"] < G["ch07_thriller_removal_pp"] < 0
    assert 0 <= G["ch07_frequent_max_pp"] < 1 < abs(G["ch07_thriller_removal_pp"])
    assert G["ch07_drama_rows"] + G["ch07_childrens_rows"] <= 2 * G["ch07_n_rows"]
    assert -1 <= G["ch07_agreement_spearman"] <= 1
    assert G["ch07_agreement_genres"] <= G["ch07_n_genres"]


def test_gate_and_memory_values() -> None:
    for name in ("ch07_input_negative_share", "ch07_output_negative_share"):
        assert 0 < G[name] < 1  # the tanh gates do go negative
    assert 0 < G["ch07_candidate_min"] < 1  # a sigmoid
    for prefix in ("ch07_decay_", "ch07_decay_median_"):
        values = [G[f"{prefix}{d}"] for d in (1, 3, 5)]
        assert 100 >= values[0] >= values[1] >= values[2] >= 0, prefix
    assert G["ch07_decay_q3_3"] >= G["ch07_decay_median_3"]


def test_order_experiment_claims() -> None:
    """Effects follow the positions: per-genre correlation negative, per-position high."""
    assert -1 <= G["ch07_rho_genre"] < 0 < 0.8 < G["ch07_rho_position"] <= 1
    assert G["ch07_last_first_report"] > 1 and G["ch07_last_first_reversed"] > 1


def test_cold_start_claims() -> None:
    assert G["ch07_test_total"] == G["ch07_n_users"] * G["ch07_n_test"]
    assert 0 < G["ch07_test_likes"] < G["ch07_test_total"]
    for name in (
        "pop_auc",
        "pop_acc",
        "pop_bacc",
        "lstm_auc_min",
        "lstm_auc_max",
        "lstm_bacc_min",
        "lstm_bacc_max",
        "lstm_acc_first",
        "lstm_acc_last",
        "majority_acc_first",
        "majority_acc_last",
    ):
        assert 0 <= G[f"ch07_{name}"] <= 1, name
    assert G["ch07_lstm_auc_min"] <= G["ch07_lstm_auc_max"] < G["ch07_pop_auc"]
    assert G["ch07_lstm_bacc_min"] <= G["ch07_lstm_bacc_max"] < G["ch07_pop_bacc"]
    assert max(G["ch07_lstm_acc_first"], G["ch07_lstm_acc_last"]) < G["ch07_pop_acc"]
    # the fallback helps against the model and loses against popularity
    assert G["ch07_fallback_vs_lstm_auc"] > 0 > G["ch07_fallback_vs_pop_auc"]
    mean_lstm_auc = G["ch07_pop_auc"] - (G["ch07_fallback_vs_lstm_auc"] - G["ch07_fallback_vs_pop_auc"])
    assert G["ch07_lstm_auc_min"] - ROUND3_TOL <= mean_lstm_auc <= G["ch07_lstm_auc_max"] + ROUND3_TOL


def test_update_claims() -> None:
    # user 1: every strategy predicts a like for every held-out movie, so accuracy is the share
    # of likes among those rows: a whole number of rows out of n_test
    assert G["ch07_u1_like_share_min"] == 1.0
    assert G["ch07_u1_acc_min"] == G["ch07_u1_acc_max"]
    assert G["ch07_u1_auc_min"] == G["ch07_u1_auc_max"]
    hits = G["ch07_u1_acc_max"] * G["ch07_u1_n_test"]
    assert hits == pytest.approx(round(hits), abs=1e-6)
    assert 1 <= G["ch07_n_update_users"] <= G["ch07_n_users"]
    for key in ("stale", "new", "old_new", "retrain"):
        assert 0 <= G[f"ch07_upd_acc_{key}"] <= 1 and 0 <= G[f"ch07_upd_auc_{key}"] <= 1
    assert 0 < G["ch07_upd_time_ratio"] < 1 and 0 < G["ch07_u1_time_ratio"] < 1  # "cheaper"


@pytest.fixture(scope="module")
def sample(real_ml1m) -> np.ndarray:
    return features.sample_users(
        real_ml1m, PARAMS["n_users"], seed=PARAMS["seed"], min_ratings=PARAMS["min_ratings"]
    )


@pytest.mark.realdata
def test_sample_is_features_sample_users(real_ml1m, sample: np.ndarray) -> None:
    counts = real_ml1m.ratings.groupby("user_id").size()
    assert len(sample) == len(set(sample.tolist())) == G["ch07_n_users"]
    assert (counts[sample] >= PARAMS["min_ratings"]).all()
    assert (G["ch07_sample_median"], G["ch07_sample_min"], G["ch07_sample_max"]) == (
        counts[sample].median(),
        counts[sample].min(),
        counts[sample].max(),
    )


@pytest.mark.realdata
def test_user_1_counts(real_ml1m) -> None:
    rows = real_ml1m.ratings[real_ml1m.ratings["user_id"] == PARAMS["user_id"]]
    assert G["ch07_n_rows"] == len(rows)
    assert G["ch07_n_likes"] == int((rows["rating"] >= 4).sum())
    assert G["ch07_n_train"] == int(len(rows) * 0.65)


@pytest.mark.realdata
def test_cold_start_held_out_likes(real_ml1m, sample: np.ndarray) -> None:
    """The held-out rows: the first n_test of each user's rows sorted by movie id and permuted
    by default_rng([seed, user]) (the documented seeded order), recounted here."""
    total = 0
    ratings = real_ml1m.ratings
    for user_id in sample:
        rows = ratings[ratings["user_id"] == user_id]
        order = np.argsort(rows["movie_id"].to_numpy(), kind="stable")
        order = order[np.random.default_rng([PARAMS["seed"], int(user_id)]).permutation(len(order))]
        total += int((rows["rating"].to_numpy()[order[: PARAMS["n_test"]]] >= 4).sum())
    assert G["ch07_test_likes"] == total


@pytest.mark.realdata
def test_update_users_have_rating_times(real_ml1m, sample: np.ndarray) -> None:
    """Section 5 uses the sampled users below 3000, all of whose ratings carry a real time."""
    chosen = sample[sample < FIRST_USER_WITHOUT_TIME]
    assert G["ch07_n_update_users"] == len(chosen)
    stamps = real_ml1m.ratings.groupby("user_id")["timestamp"].min()
    assert (stamps[chosen] > 0).all()
    assert not math.isnan(float(stamps[PARAMS["user_id"]])) and stamps[PARAMS["user_id"]] > 0
