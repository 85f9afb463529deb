"""Tests of the report's autoencoder recommender (recsys_utils.models.autoencoder)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from recsys_utils.models.autoencoder import (
    REPORT_PRINTED_HISTORY,
    RatingAutoencoder,
    heldout_rmse,
    holdout_ratings,
    split_users,
)


def _low_rank_ratings(
    n_users: int = 200, n_items: int = 40, rank: int = 2, density: float = 0.6, seed: int = 0
):
    """Ratings 1..5 from a rank-``rank`` model, a ``density`` share observed, 0 elsewhere."""
    rng = np.random.default_rng(seed)
    U = rng.normal(size=(n_users, rank))
    V = rng.normal(size=(n_items, rank))
    full = np.clip(np.round(3 + U @ V.T), 1, 5)
    return (full * (rng.random((n_users, n_items)) < density)).astype(np.float32)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# ------------------------------------------------------------------- shapes
def test_shapes_history_and_batches():
    R = _low_rank_ratings(250, 30)
    model = RatingAutoencoder(n_hidden=8).fit(R[:230], R[230:], epochs=3, batch_size=100)
    assert model.n_batches_ == 2  # int(230 / 100): the last 30 users are dropped
    P = model.predict(R[:7])
    assert P.shape == (7, 30) and P.dtype == np.float32
    assert model.predict(R[:0]).shape == (0, 30)
    w = model.get_weights()
    assert w["W1"].shape == (30, 8) and w["b1"].shape == (8,)
    assert w["W2"].shape == (8, 30) and w["b2"].shape == (30,)
    for key in ("loss", "train_mse", "test_mse", "train_observed_mse", "test_observed_mse"):
        assert len(model.history[key]) == 3 and all(np.isfinite(model.history[key]))
    assert len(model.epoch_times_s) == 3 and model.fit_time_s >= sum(model.epoch_times_s) > 0
    assert model.history["train_mse"][-1] == pytest.approx(
        np.mean((model.predict(R[:230]) - R[:230]) ** 2), rel=1e-4
    )
    assert model.mse(R[230:]) == pytest.approx(model.history["test_mse"][-1], rel=1e-6)
    assert "test_mse" not in RatingAutoencoder(n_hidden=4).fit(R, epochs=1).history
    with pytest.raises(ValueError):
        model.predict(np.zeros((2, 29), np.float32))
    with pytest.warns(RuntimeWarning, match="no full batch"):
        empty = RatingAutoencoder(n_hidden=4).fit(R[:50], epochs=1, batch_size=100, seed=2)
    assert empty.n_batches_ == 0 and empty.history["loss"] == [0.0]
    untrained = RatingAutoencoder(n_hidden=4).fit(R[:50], epochs=0, seed=2).get_weights()
    np.testing.assert_array_equal(empty.get_weights()["W1"], untrained["W1"])


def test_initialisation_is_standard_normal_weights_and_biases():
    R = _low_rank_ratings(100, 300)
    w = RatingAutoencoder(n_hidden=64).fit(R, epochs=0).get_weights()
    for key in ("W1", "W2"):  # 19,200 draws each
        assert abs(w[key].mean()) < 0.05 and abs(w[key].std() - 1.0) < 0.05, key
    for key in ("b1", "b2"):  # biases are drawn too, not zero (64 and 300 draws)
        assert abs(w[key].mean()) < 0.5 and abs(w[key].std() - 1.0) < 0.3, key


# ------------------------------------------------------------------ training
def test_one_batch_step_matches_numpy_adagrad():
    R = _low_rank_ratings(20, 12, seed=3)
    init = RatingAutoencoder(n_hidden=5).fit(R, epochs=0, batch_size=20, seed=4).get_weights()
    model = RatingAutoencoder(n_hidden=5).fit(R, epochs=1, batch_size=20, seed=4)
    x = R.astype(np.float64)
    W1, b1, W2, b2 = (init[k].astype(np.float64) for k in ("W1", "b1", "W2", "b2"))
    h = _sigmoid(x @ W1 + b1)
    out = h @ W2 + b2
    d_out = 2 * (out - x) / x.size
    d_pre = (d_out @ W2.T) * h * (1 - h)
    grads = {"W1": x.T @ d_pre, "b1": d_pre.sum(0), "W2": h.T @ d_out, "b2": d_out.sum(0)}
    after = model.get_weights()
    for k, p in zip(("W1", "b1", "W2", "b2"), (W1, b1, W2, b2)):
        acc = 0.1 + grads[k] ** 2  # TF1 Adagrad: accumulator starts at 0.1, no epsilon
        np.testing.assert_allclose(after[k], p - 0.1 * grads[k] / np.sqrt(acc), rtol=1e-4, atol=1e-5)
    assert model.history["loss"] == pytest.approx([np.mean((out - x) ** 2)], rel=1e-4)


@pytest.mark.parametrize("loss", ["all", "observed"])
def test_hand_written_gradients_match_gradient_tape(loss):
    import tensorflow as tf

    R = _low_rank_ratings(16, 10, seed=5)
    model = RatingAutoencoder(n_hidden=6, loss=loss).fit(R, epochs=0, batch_size=16)
    value, grads = model.loss_and_gradients(R)
    w = {k: tf.Variable(v) for k, v in model.get_weights().items()}
    x = tf.constant(R)
    with tf.GradientTape() as tape:
        out = tf.matmul(tf.sigmoid(tf.matmul(x, w["W1"]) + w["b1"]), w["W2"]) + w["b2"]
        sq = tf.square(out - x)
        if loss == "all":
            ref = tf.reduce_mean(sq)
        else:
            mask = tf.cast(x != 0, tf.float32)
            ref = tf.reduce_sum(sq * mask) / tf.reduce_sum(mask)
    ref_grads = tape.gradient(ref, w)
    assert value == pytest.approx(float(ref), rel=1e-5)
    for k in w:
        np.testing.assert_allclose(grads[k], ref_grads[k].numpy(), rtol=1e-4, atol=1e-6)


def test_loss_falls_on_low_rank_matrix():
    R = _low_rank_ratings(300, 40)
    tr, te = split_users(len(R), seed=1)
    model = RatingAutoencoder(n_hidden=16).fit(R[tr], R[te], epochs=15, batch_size=20)
    h = model.history
    assert h["train_mse"][-1] < 0.5 * h["train_mse"][0]
    assert h["test_mse"][-1] < 0.7 * h["test_mse"][0]
    assert h["loss"][-1] < h["loss"][0]


def test_observed_loss_ignores_unobserved_entries():
    R = _low_rank_ratings(30, 12, density=0.5, seed=2)
    R[:, 3] = 0.0  # column 3: nobody rated it
    for loss, should_change in (("observed", False), ("all", True)):
        model = RatingAutoencoder(n_hidden=5, loss=loss).fit(R, epochs=1, batch_size=10)
        value, grads = model.loss_and_gradients(R)
        if loss == "observed":
            assert np.all(grads["b2"][3] == 0.0) and np.all(grads["W2"][:, 3] == 0.0)
            # the observed loss is the mean squared error on rated entries only
            mask = R != 0
            assert value == pytest.approx(np.mean((model.predict(R)[mask] - R[mask]) ** 2), rel=1e-4)
        b2 = model.get_weights()["b2"]
        b2[3] += 10.0  # move every prediction of the unrated column
        model.set_weights({"b2": b2})
        moved, _ = model.loss_and_gradients(R)
        assert (moved != pytest.approx(value, rel=1e-6)) is should_change


def test_training_is_deterministic_per_seed():
    R = _low_rank_ratings(120, 20)
    a = RatingAutoencoder(n_hidden=8).fit(R, epochs=3, batch_size=30, seed=7)
    b = RatingAutoencoder(n_hidden=8).fit(R, epochs=3, batch_size=30, seed=7)
    c = RatingAutoencoder(n_hidden=8).fit(R, epochs=3, batch_size=30, seed=8)
    assert a.history == b.history
    for k, v in a.get_weights().items():
        np.testing.assert_array_equal(v, b.get_weights()[k])
    assert a.history["train_mse"] != c.history["train_mse"]


def test_batches_are_dropped_as_in_the_report():
    R = _low_rank_ratings(250, 15)
    other = R.copy()
    other[200:] = _low_rank_ratings(50, 15, seed=9)  # rows beyond int(250 / 100) * 100
    a = RatingAutoencoder(n_hidden=4).fit(R, epochs=2, batch_size=100)
    b = RatingAutoencoder(n_hidden=4).fit(other, epochs=2, batch_size=100)
    assert a.n_batches_ == b.n_batches_ == 2
    assert a.history["loss"] == b.history["loss"]
    for k, v in a.get_weights().items():
        np.testing.assert_array_equal(v, b.get_weights()[k])
    full = RatingAutoencoder(n_hidden=4).fit(other, epochs=2, batch_size=100, drop_last=False)
    assert full.n_batches_ == 3 and full.history["loss"] != b.history["loss"]


def test_keras_style_epsilon_changes_little():
    R = _low_rank_ratings(60, 10)
    tf1 = RatingAutoencoder(n_hidden=4).fit(R, epochs=2, batch_size=20)
    keras_like = RatingAutoencoder(n_hidden=4, epsilon=1e-7).fit(R, epochs=2, batch_size=20)
    assert keras_like.history["train_mse"] == pytest.approx(tf1.history["train_mse"], rel=1e-4)


# ------------------------------------------------------- splits and held out
def test_split_users_matches_sklearn_train_test_split():
    from sklearn.model_selection import train_test_split

    for n, seed in ((6040, 0), (6040, 3), (943, 1), (11, 5)):
        tr, te = split_users(n, 0.8, seed)
        sk_tr, sk_te = train_test_split(np.arange(n), train_size=0.8, random_state=seed)
        np.testing.assert_array_equal(tr, sk_tr)
        np.testing.assert_array_equal(te, sk_te)
    tr, te = split_users(6040)
    assert (len(tr), len(te)) == (4832, 1208)
    assert np.array_equal(np.sort(np.concatenate([tr, te])), np.arange(6040))
    assert not np.array_equal(tr, np.sort(tr))  # shuffled order, as sklearn returns
    with pytest.raises(ValueError):
        split_users(10, 1.0)


def test_heldout_rmse_by_hand():
    R_input = np.array([[5, 0, 3], [0, 4, 0]], np.float32)
    R_held = np.array([[0, 2, 0], [1, 0, 0]], np.float32)
    pred = np.array([[9, 3, 9], [3, 9, 9]], np.float32)  # errors at held-out entries: 1 and 2
    assert heldout_rmse(pred, R_input, R_held) == pytest.approx(np.sqrt((1 + 4) / 2))
    assert heldout_rmse(pred, R_input, R_held, clip=(1, 2.5)) == pytest.approx(np.sqrt((0.25 + 1.5**2) / 2))

    class Echo:
        def predict(self, R):
            return R + 1.0  # sees the input with the held-out entries hidden (0): predicts 1

    assert heldout_rmse(Echo(), R_input, R_held) == pytest.approx(np.sqrt((1 + 0) / 2))
    with pytest.raises(ValueError, match="leak"):
        heldout_rmse(pred, R_input + R_held, R_held)
    assert np.isnan(heldout_rmse(pred, R_input, np.zeros_like(R_held)))


def test_holdout_ratings_partitions_the_ratings():
    R = _low_rank_ratings(50, 20)
    R_in, R_out = holdout_ratings(R, 0.2, seed=1)
    np.testing.assert_array_equal(R_in + R_out, R)
    assert not np.any((R_in != 0) & (R_out != 0))
    assert (R_out != 0).sum() == round(0.2 * (R != 0).sum())
    again, _ = holdout_ratings(R, 0.2, seed=1)
    np.testing.assert_array_equal(again, R_in)
    model = RatingAutoencoder(n_hidden=8, loss="observed").fit(R_in, epochs=5, batch_size=10)
    assert np.isfinite(heldout_rmse(model, R_in, R_out))


# ------------------------------------------------------------------ real data
def _ml1m_ratings_matrix() -> np.ndarray:
    """The report's ``pivot_table(...).fillna(0)``: 6,040 users x 3,706 rated movies, raw ratings."""
    import pandas as pd

    root = os.environ.get("RECSYS_DATA_DIR")
    if not root:
        pytest.skip("RECSYS_DATA_DIR is not set: real MovieLens 1M is not available")
    path = next(
        (p for p in (Path(root) / "ml-1m" / "ratings.dat", Path(root) / "ratings.dat") if p.is_file()), None
    )
    if path is None:
        pytest.skip(f"no ml-1m/ratings.dat under RECSYS_DATA_DIR={root}")
    r = pd.read_csv(path, sep=":", header=None, usecols=[0, 2, 4], names=["u", "m", "r"])
    users, items = np.unique(r["u"].to_numpy()), np.unique(r["m"].to_numpy())
    R = np.zeros((len(users), len(items)), np.float32)
    R[np.searchsorted(users, r["u"].to_numpy()), np.searchsorted(items, r["m"].to_numpy())] = r[
        "r"
    ].to_numpy()
    return R


@pytest.mark.realdata
@pytest.mark.slow
def test_real_ml1m_first_epochs_match_the_report_magnitudes():
    R = _ml1m_ratings_matrix()
    assert R.shape == (6040, 3706)
    tr, te = split_users(len(R))
    model = RatingAutoencoder().fit(R[tr], R[te], epochs=3)
    h = model.history
    assert model.n_batches_ == 48
    printed = REPORT_PRINTED_HISTORY
    for key in ("train_mse", "test_mse", "loss"):
        # same magnitude as printed (57.7 / 58.0 / 3966 at epoch 0), and falling each epoch
        assert 0.8 * printed[key][0] < h[key][0] < 1.25 * printed[key][0], key
        assert all(b < a for a, b in zip(h[key], h[key][1:])), key
        assert h[key][2] < 1.25 * printed[key][2], key
