"""The batched per-user trainer: independence of users, agreement with Keras, bookkeeping.

The first test to run compiles the Numba kernels (tens of seconds on a cold cache); the rest
reuse them.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from recsys_utils import batched
from recsys_utils.batched import CELLS, ParamLayout, init_weights, train_users

SIZES = (20, 33, 47, 58, 71, 86, 104, 120)  # rows of the synthetic users (not multiples of 10)


def _users(sizes=SIZES, seed=0, rule=False):
    """Synthetic users: ``X`` ``(n, 18)`` 0/1 genre flags, ``y`` ``(n,)`` likes."""
    rng = np.random.default_rng(seed)
    Xs, ys = [], []
    for n in sizes:
        X = (rng.random((n, 18)) < 0.2).astype(np.float32)
        if rule:  # like = the first flag, set in half of the rows
            X[:, 0] = rng.random(n) < 0.5
        y = X[:, 0] if rule else (rng.random(n) < 0.5).astype(np.float32)
        Xs.append(X)
        ys.append(y.astype(np.float32))
    return Xs, ys


def test_layout_flatten_roundtrip():
    for cell in CELLS:
        layout = ParamLayout(cell)
        w = init_weights([3, 5], cell=cell)
        assert {k: v.shape[1:] for k, v in w.items()} == layout.shapes
        flat = layout.flatten(w)
        assert flat.shape == (2, layout.size)
        back = layout.unflatten(flat)
        for name in w:
            np.testing.assert_array_equal(back[name], w[name])


def test_init_weights_are_keras_like_and_per_user():
    w = init_weights([1, 2], cell="lstm", seed=4)
    u, k = 18, 72
    assert w["recurrent_kernel"].shape == (2, u, k)
    # orthogonal (18, 72): orthonormal rows
    rk = w["recurrent_kernel"][0].astype(np.float64)
    np.testing.assert_allclose(rk @ rk.T, np.eye(u), atol=1e-5)
    limit = math.sqrt(6 / (50 + k))
    assert np.abs(w["kernel"]).max() <= limit
    assert np.abs(w["embedding"]).max() <= 0.05
    np.testing.assert_array_equal(w["bias"][:, u:2 * u], 1.0)  # unit_forget_bias
    np.testing.assert_array_equal(np.delete(w["bias"], np.s_[u:2 * u], axis=1), 0.0)
    # a user's draw depends on (seed, user) only
    alone = init_weights([2], cell="lstm", seed=4)
    for name in w:
        np.testing.assert_array_equal(alone[name][0], w[name][1])
    assert not np.array_equal(w["kernel"][0], w["kernel"][1])
    full = init_weights([2], cell="lstm", seed=4, embedding_input_dim=200)["embedding"][0]
    assert full.shape == (200, 50)
    np.testing.assert_array_equal(full[:2], alone["embedding"][0])


@pytest.mark.parametrize("cell", ["modified", "gru"])
def test_users_trained_together_match_users_trained_alone(cell):
    Xs, ys = _users()
    ids = [11, 12, 13, 14, 15, 16, 17, 18]
    together = train_users(Xs, ys, ids, cell=cell, epochs=3, seed=7, progress=False)
    # alone, one by one, in reverse order and on one thread
    for i in reversed(range(len(ids))):
        alone = train_users([Xs[i]], [ys[i]], [ids[i]], cell=cell, epochs=3, seed=7,
                            n_threads=1, progress=False)
        for name, value in alone.user_weights(ids[i]).items():
            np.testing.assert_allclose(together.user_weights(ids[i])[name], value,
                                       rtol=0, atol=1e-6, err_msg=f"user {ids[i]}: {name}")
        np.testing.assert_allclose(together.loss_history[i], alone.loss_history[0], atol=1e-6)
    # a subset in another order gives the same users too
    sub = [5, 0, 2]
    part = train_users([Xs[i] for i in sub], [ys[i] for i in sub], [ids[i] for i in sub],
                       cell=cell, epochs=3, seed=7, n_threads=2, progress=False)
    for i in sub:
        np.testing.assert_allclose(part.weights["kernel"][part.index_of(ids[i])],
                                   together.weights["kernel"][i], atol=1e-6)
    # and the seed matters
    other = train_users(Xs[:1], ys[:1], ids[:1], cell=cell, epochs=3, seed=8, progress=False)
    assert not np.allclose(other.weights["kernel"][0], together.weights["kernel"][0])


def test_adam_steps_follow_each_users_batches():
    Xs, ys = _users(sizes=(7, 10, 23, 120))
    res = train_users(Xs + [np.zeros((0, 18), np.float32)], ys + [np.zeros(0, np.float32)],
                      epochs=4, batch_size=10, progress=False)
    np.testing.assert_array_equal(res.adam_steps, [4, 4, 12, 48, 0])
    assert res.loss_history.shape == (5, 4)
    assert np.all(res.loss_history[:4] > 0) and np.all(res.loss_history[4] == 0)
    # the user without rows keeps its initial weights
    init = init_weights([4], cell="modified")
    np.testing.assert_array_equal(res.weights["kernel"][4], init["kernel"][0])


def _keras_reference(cell):
    """The report's network in Keras with the book's cells, no dropout, and an embedding
    whose gradient is dense (one-hot @ E): the plain Adam the trainer implements.

    (Keras 3's ``Embedding`` hands Adam sparse gradients, and its TF backend squares them per
    lookup before summing duplicates, so the embedding's second moment differs from plain
    Adam's; Keras 2, which the report used, densified first.)
    """
    import keras

    from recsys_utils.cells import ModifiedLSTM
    from recsys_utils.models.sequence import keras2_hard_sigmoid

    class OneHotEmbedding(keras.layers.Embedding):
        def call(self, inputs):
            onehot = keras.ops.one_hot(keras.ops.cast(inputs, "int32"), self.input_dim)
            return keras.ops.matmul(onehot, self.embeddings)

    act = {"activation": "sigmoid", "recurrent_activation": "tanh"}
    recurrent = {
        "modified": lambda: ModifiedLSTM(18, **act),
        "nfg": lambda: ModifiedLSTM(18, variant="nfg", **act),
        "lstm": lambda: keras.layers.LSTM(18, **act),
        "gru": lambda: keras.layers.GRU(18, **act),
    }[cell]()
    model = keras.Sequential([keras.Input((18,)), OneHotEmbedding(200, 50), recurrent,
                              keras.layers.Dense(1, activation=keras2_hard_sigmoid)])
    model.compile(loss="binary_crossentropy", optimizer=keras.optimizers.Adam())
    return model


@pytest.mark.parametrize("cell", CELLS)
def test_matches_keras_fit_without_dropout(cell):
    """Same initial weights, no dropout, no shuffling, 23 rows (batches 10, 10, 3), 4 epochs:
    every weight ends where Keras' ``fit`` puts it."""
    import keras

    X, y = (a[0] for a in _users(sizes=(23,), seed=3))
    keras.utils.set_random_seed(0)
    model = _keras_reference(cell)
    w0 = model.get_weights()
    init = {"embedding": w0[0][None, :2], "kernel": w0[1][None],
            "recurrent_kernel": w0[2][None], "bias": w0[3][None],
            "dense_kernel": w0[4][None, :, 0], "dense_bias": w0[5][None]}
    ours = train_users([X], [y], [1], cell=cell, epochs=4, batch_size=10, dropout=0.0,
                       shuffle=False, initial_weights=init, progress=False)
    hist = model.fit(X, y, epochs=4, batch_size=10, shuffle=False, verbose=0)
    got = ours.keras_weights(1)
    names = ["embedding", "kernel", "recurrent_kernel", "bias", "dense_kernel", "dense_bias"]
    for name, ref, mine, start in zip(names, model.get_weights(), got, w0):
        if name == "embedding":
            ref, mine, start = ref[:2], mine[:2], start[:2]
        assert np.abs(ref - start).max() > 1e-3, f"{name} did not move"
        np.testing.assert_allclose(mine, ref, rtol=0, atol=2e-6, err_msg=name)
    np.testing.assert_allclose(ours.loss_history[0], hist.history["loss"], atol=1e-6)
    np.testing.assert_allclose(ours.predict_proba([X])[0],
                               model.predict(X, verbose=0)[:, 0], atol=1e-6)


@pytest.mark.parametrize("cell", CELLS)
def test_batch_gradient_with_dropout_matches_tensorflow(cell):
    """One batch with given dropout masks: loss and gradient of every weight agree with
    TensorFlow's autodiff through the Keras layers, the same masks applied."""
    import keras
    import tensorflow as tf

    rng = np.random.default_rng(11)
    n, scale = 10, 2.0
    X, y = (a[0] for a in _users(sizes=(n,), seed=2))
    in_bits = rng.integers(0, 2**50, size=(n, 18), dtype=np.uint64)
    out_bits = rng.integers(0, 2**18, size=n, dtype=np.uint64)
    in_mask = ((in_bits[..., None] >> np.arange(50, dtype=np.uint64)) & np.uint64(1))
    out_mask = ((out_bits[:, None] >> np.arange(18, dtype=np.uint64)) & np.uint64(1))

    keras.utils.set_random_seed(1)
    model = _keras_reference(cell)
    w = model.get_weights()
    with tf.GradientTape() as tape:
        e = model.layers[0](X) * (scale * in_mask.astype(np.float32))
        h = model.layers[1](e) * (scale * out_mask.astype(np.float32))
        loss = tf.reduce_mean(keras.losses.binary_crossentropy(y[:, None], model.layers[2](h)))
    ref = [tf.convert_to_tensor(g).numpy() for g in tape.gradient(loss, model.trainable_weights)]

    layout = ParamLayout(cell)
    theta = layout.flatten({"embedding": w[0][None, :2], "kernel": w[1][None],
                            "recurrent_kernel": w[2][None], "bias": w[3][None],
                            "dense_kernel": w[4][None, :, 0], "dense_bias": w[5][None]})[0]
    act, ract = batched._activation("sigmoid"), batched._activation("tanh")
    out_p = batched._output_activation("keras2_hard_sigmoid")
    ours_loss, ours = batched._loss_grad(X.astype(np.uint8), y, theta, in_bits, out_bits,
                                         batched._CELL_CODE[cell], 18, 50, np.float32(scale),
                                         act, ract, out_p)
    assert ours_loss == pytest.approx(float(loss), abs=1e-6)
    grads = layout.unflatten(ours[None])
    ref[0] = ref[0][:2]
    ref[4] = ref[4][:, 0]
    for (name, g), r in zip(grads.items(), ref):
        assert np.abs(r).max() > 0, name
        np.testing.assert_allclose(g[0], r, rtol=0, atol=1e-6 * max(1.0, np.abs(r).max()),
                                   err_msg=name)


@pytest.mark.parametrize("cell", CELLS)
def test_to_keras_gives_the_books_model_with_the_users_weights(cell):
    Xs, ys = _users(sizes=(31, 44), seed=5)
    res = train_users(Xs, ys, [21, 22], cell=cell, epochs=2, progress=False)
    model = res.to_keras(22)
    np.testing.assert_allclose(model.predict(Xs[1], verbose=0)[:, 0],
                               res.predict_proba(Xs)[1], atol=1e-6)
    # rows 2.. of the Keras embedding are the (unused) initial ones
    full = init_weights([22], cell=cell, embedding_input_dim=200)["embedding"][0]
    np.testing.assert_array_equal(model.get_weights()[0][2:], full[2:])


@pytest.mark.parametrize("rate", [0.5, 0.2])
def test_dropout_masks_keep_the_right_fraction(rate):
    threshold = np.uint64(round(rate * 2**32))
    state = np.array([12345], np.uint64)
    draws = np.array([batched._draw_bits(state, 50, threshold, rate == 0.5)
                      for _ in range(4000)], np.uint64)
    assert np.all(draws >> np.uint64(50) == 0)  # only units 0..49
    bits = (draws[:, None] >> np.arange(50, dtype=np.uint64)) & np.uint64(1)
    assert abs(bits.mean() - (1 - rate)) < 0.005  # ~7 standard errors
    assert np.all(np.abs(bits.mean(axis=0) - (1 - rate)) < 0.05)  # every unit
    assert batched._draw_bits(state, 18, np.uint64(0), False) == 2**18 - 1  # rate 0


def test_training_with_dropout_learns_a_simple_rule():
    """Like = the first genre flag (half the rows): the networks learn it, dropout and all
    (with a larger learning rate than the report's, to keep the test short)."""
    Xs, ys = _users(sizes=(100, 100, 100, 100), seed=9, rule=True)
    res = train_users(Xs, ys, [1, 2, 3, 4], epochs=50, learning_rate=1e-2, progress=False)
    assert np.all(res.loss_history[:, -1] < res.loss_history[:, 0] - 0.1)
    acc = [np.mean((p > 0.5) == (y > 0.5)) for y, p in zip(ys, res.predict_proba(Xs))]
    assert np.mean(acc) >= 0.9, acc  # the majority class is about 0.5


def test_rejects_bad_input():
    Xs, ys = _users(sizes=(12,))
    with pytest.raises(ValueError, match="0/1"):
        train_users([Xs[0] * 2], ys, progress=False)
    with pytest.raises(ValueError, match="unique"):
        train_users(Xs * 2, ys * 2, [1, 1], progress=False)
    with pytest.raises(ValueError, match="cell"):
        train_users(Xs, ys, cell="rnn", progress=False)
    with pytest.raises(ValueError, match="rows"):
        train_users(Xs, [ys[0][:5]], progress=False)
    with pytest.raises(ValueError, match="dropout"):
        train_users(Xs, ys, dropout=1.0, progress=False)
