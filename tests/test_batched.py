"""The batched per-user trainer: independence of users, agreement with Keras, bookkeeping.

The first test to run compiles the Numba kernels (tens of seconds on a cold cache); the rest
reuse them.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from recsys_utils.batched import (
    CELLS,
    REPORT_LSTM,
    Network,
    ParamLayout,
    init_weights,
    loss_and_gradient,
    train_users,
)
from recsys_utils.batched.inputs import draw_bits

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
    np.testing.assert_array_equal(w["bias"][:, u : 2 * u], 1.0)  # unit_forget_bias
    np.testing.assert_array_equal(np.delete(w["bias"], np.s_[u : 2 * u], axis=1), 0.0)
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
        alone = train_users(
            [Xs[i]], [ys[i]], [ids[i]], cell=cell, epochs=3, seed=7, n_threads=1, progress=False
        )
        for name, value in alone.user_weights(ids[i]).items():
            np.testing.assert_allclose(
                together.user_weights(ids[i])[name],
                value,
                rtol=0,
                atol=1e-6,
                err_msg=f"user {ids[i]}: {name}",
            )
        np.testing.assert_allclose(together.loss_history[i], alone.loss_history[0], atol=1e-6)
    # a subset in another order gives the same users too
    sub = [5, 0, 2]
    part = train_users(
        [Xs[i] for i in sub],
        [ys[i] for i in sub],
        [ids[i] for i in sub],
        cell=cell,
        epochs=3,
        seed=7,
        n_threads=2,
        progress=False,
    )
    for i in sub:
        np.testing.assert_allclose(
            part.weights["kernel"][part.index_of(ids[i])], together.weights["kernel"][i], atol=1e-6
        )
    # and the seed matters
    other = train_users(Xs[:1], ys[:1], ids[:1], cell=cell, epochs=3, seed=8, progress=False)
    assert not np.allclose(other.weights["kernel"][0], together.weights["kernel"][0])


def test_adam_steps_follow_each_users_batches():
    Xs, ys = _users(sizes=(7, 10, 23, 120))
    res = train_users(
        Xs + [np.zeros((0, 18), np.float32)],
        ys + [np.zeros(0, np.float32)],
        epochs=4,
        batch_size=10,
        progress=False,
    )
    np.testing.assert_array_equal(res.adam_steps, [4, 4, 12, 48, 0])
    assert res.loss_history.shape == (5, 4)
    assert np.all(res.loss_history[:4] > 0) and np.all(res.loss_history[4] == 0)
    # the user without rows keeps its initial weights
    init = init_weights([4], cell="modified")
    np.testing.assert_array_equal(res.weights["kernel"][4], init["kernel"][0])


def _keras_reference(cell, network=None):
    """The report's network in Keras with the book's cells, no dropout, and an embedding
    whose gradient is dense (one-hot @ E): the plain Adam the trainer implements.

    ``network=REPORT_LSTM`` gives the report's LSTM recommender
    (:func:`recsys_utils.models.sequence.build_lstm_recommender`: LSTM(100, sigmoid,
    sigmoid) -> Dense(1, sigmoid)) with the same embedding.

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

    net = network or Network(cell=cell)
    units = net.units or 18
    act = {"activation": net.activation, "recurrent_activation": net.recurrent_activation}
    recurrent = {
        "modified": lambda: ModifiedLSTM(units, **act),
        "nfg": lambda: ModifiedLSTM(units, variant="nfg", **act),
        "lstm": lambda: keras.layers.LSTM(units, **act),
        "gru": lambda: keras.layers.GRU(units, **act),
    }[net.cell]()
    output = keras2_hard_sigmoid if net.output_activation == "keras2_hard_sigmoid" else net.output_activation
    model = keras.Sequential(
        [keras.Input((18,)), OneHotEmbedding(200, 50), recurrent, keras.layers.Dense(1, activation=output)]
    )
    model.compile(loss="binary_crossentropy", optimizer=keras.optimizers.Adam())
    return model


def _initial(weights):
    """The Keras model's ``get_weights()`` as ``initial_weights`` for one user."""
    return {
        "embedding": weights[0][None, :2],
        "kernel": weights[1][None],
        "recurrent_kernel": weights[2][None],
        "bias": weights[3][None],
        "dense_kernel": weights[4][None, :, 0],
        "dense_bias": weights[5][None],
    }


#: The networks checked against Keras: the four cells in the report's modified recommender, and
#: the report's LSTM recommender (100 units > one 64-bit mask word, sigmoid output).
NETWORKS = {cell: Network(cell=cell) for cell in CELLS} | {"report-lstm": REPORT_LSTM}


@pytest.mark.parametrize("name", list(NETWORKS))
def test_matches_keras_fit_without_dropout(name):
    """Same initial weights, no dropout, no shuffling, 23 rows (batches 10, 10, 3), 4 epochs:
    every weight ends where Keras' ``fit`` puts it, within 2e-6 (float32 round-off: Keras
    and the kernels sum in different orders); the losses within 1e-6, the predictions within
    1e-6, or 3e-6 for the report's LSTM (its logit sums 100 products, so the weights'
    round-off moves its output more: 1.2e-6 measured)."""
    import keras

    net = replace(NETWORKS[name], dropout=0.0)
    X, y = (a[0] for a in _users(sizes=(23,), seed=3))
    keras.utils.set_random_seed(0)
    model = _keras_reference(net.cell, net)
    w0 = model.get_weights()
    ours = train_users(
        [X],
        [y],
        [1],
        network=net,
        epochs=4,
        batch_size=10,
        shuffle=False,
        initial_weights=_initial(w0),
        progress=False,
    )
    hist = model.fit(X, y, epochs=4, batch_size=10, shuffle=False, verbose=0)
    got = ours.keras_weights(1)
    names = ["embedding", "kernel", "recurrent_kernel", "bias", "dense_kernel", "dense_bias"]
    for wname, ref, mine, start in zip(names, model.get_weights(), got, w0):
        if wname == "embedding":
            ref, mine, start = ref[:2], mine[:2], start[:2]
        assert np.abs(ref - start).max() > 1e-3, f"{wname} did not move"
        np.testing.assert_allclose(mine, ref, rtol=0, atol=2e-6, err_msg=wname)
    np.testing.assert_allclose(ours.loss_history[0], hist.history["loss"], atol=1e-6)
    np.testing.assert_allclose(
        ours.predict_proba([X])[0],
        model.predict(X, verbose=0)[:, 0],
        atol=3e-6 if name == "report-lstm" else 1e-6,
    )


@pytest.mark.parametrize("name", list(NETWORKS))
def test_batch_gradient_with_dropout_matches_tensorflow(name):
    """One batch with given dropout masks: loss and gradient of every weight agree with
    TensorFlow's autodiff through the Keras layers, the same masks applied (for the report's
    LSTM, dropout is added here to check the two-word output masks of its 100 units)."""
    import keras
    import tensorflow as tf

    net = replace(NETWORKS[name], dropout=0.5)
    units = net.units or 18
    rng = np.random.default_rng(11)
    n, scale = 10, 2.0
    X, y = (a[0] for a in _users(sizes=(n,), seed=2))
    in_bits = rng.integers(0, 2**50, size=(n, 18), dtype=np.uint64)
    words = -(-units // 64)
    out_bits = rng.integers(0, 2**63, size=(n, words), dtype=np.uint64)
    out_bits[:, -1] &= np.uint64(2 ** (units - 64 * (words - 1)) - 1)
    in_mask = (in_bits[..., None] >> np.arange(50, dtype=np.uint64)) & np.uint64(1)
    j = np.arange(units)
    out_mask = (out_bits[:, j // 64] >> (j % 64).astype(np.uint64)) & np.uint64(1)

    keras.utils.set_random_seed(1)
    model = _keras_reference(net.cell, net)
    w = model.get_weights()
    with tf.GradientTape() as tape:
        e = model.layers[0](X) * (scale * in_mask.astype(np.float32))
        h = model.layers[1](e) * (scale * out_mask.astype(np.float32))
        loss = tf.reduce_mean(keras.losses.binary_crossentropy(y[:, None], model.layers[2](h)))
    ref = [tf.convert_to_tensor(g).numpy() for g in tape.gradient(loss, model.trainable_weights)]

    layout = net.layout(18)
    theta = layout.flatten(_initial(w))[0]
    ours_loss, ours = loss_and_gradient(X, y, theta, in_bits, out_bits, net)
    assert ours_loss == pytest.approx(float(loss), abs=1e-6)
    grads = layout.unflatten(ours[None])
    ref[0] = ref[0][:2]
    ref[4] = ref[4][:, 0]
    for (wname, g), r in zip(grads.items(), ref):
        assert np.abs(r).max() > 0, wname
        np.testing.assert_allclose(g[0], r, rtol=0, atol=1e-6 * max(1.0, np.abs(r).max()), err_msg=wname)


@pytest.mark.parametrize("name", list(NETWORKS))
def test_to_keras_gives_the_books_model_with_the_users_weights(name):
    net = NETWORKS[name]
    Xs, ys = _users(sizes=(31, 44), seed=5)
    res = train_users(Xs, ys, [21, 22], network=net, epochs=2, progress=False)
    assert res.network == replace(net, units=net.units or 18)
    model = res.to_keras(22)
    if name == "report-lstm":  # the book's build_lstm_recommender
        assert model.name == "lstm" and model.layers[1].units == 100
    np.testing.assert_allclose(model.predict(Xs[1], verbose=0)[:, 0], res.predict_proba(Xs)[1], atol=1e-6)
    # rows 2.. of the Keras embedding are the (unused) initial ones
    full = init_weights([22], cell=net.cell, units=net.units, embedding_input_dim=200)["embedding"][0]
    np.testing.assert_array_equal(model.get_weights()[0][2:], full[2:])


@pytest.mark.parametrize("rate", [0.5, 0.2])
def test_dropout_masks_keep_the_right_fraction(rate):
    threshold = np.uint64(round(rate * 2**32))
    state = np.array([12345], np.uint64)
    draws = np.array([draw_bits(state, 50, threshold, rate == 0.5) for _ in range(4000)], np.uint64)
    assert np.all(draws >> np.uint64(50) == 0)  # only units 0..49
    bits = (draws[:, None] >> np.arange(50, dtype=np.uint64)) & np.uint64(1)
    assert abs(bits.mean() - (1 - rate)) < 0.005  # ~7 standard errors
    assert np.all(np.abs(bits.mean(axis=0) - (1 - rate)) < 0.05)  # every unit
    assert draw_bits(state, 18, np.uint64(0), False) == 2**18 - 1  # rate 0


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
    with pytest.raises(TypeError, match="unknown training settings"):
        train_users(Xs, ys, unit=4, progress=False)
    with pytest.raises(ValueError, match="output_activation"):
        train_users(Xs, ys, output_activation="relu", progress=False)
    with pytest.raises(ValueError, match="embedding_dim"):
        train_users(Xs, ys, embedding_dim=65, progress=False)


def test_report_lstm_with_dropout_trains_every_unit():
    """100 units (two mask words): with dropout, each of the 100 dense weights moves, and users
    trained together equal users trained alone."""
    Xs, ys = _users(sizes=(20, 33), seed=4)
    net = replace(REPORT_LSTM, dropout=0.5)
    res = train_users(Xs, ys, [1, 2], network=net, epochs=3, progress=False)
    start = init_weights([1, 2], cell="lstm", units=100)["dense_kernel"]
    assert np.all(res.weights["dense_kernel"] != start)
    alone = train_users(Xs[1:], ys[1:], [2], network=net, epochs=3, n_threads=1, progress=False)
    np.testing.assert_array_equal(alone.weights["kernel"][0], res.weights["kernel"][1])


_FASTMATH_SCRIPT = """
import sys
import numpy as np
from recsys_utils.batched import FASTMATH, train_users
from recsys_utils.batched.loop import train_user

arrays = {}
for cell in sys.argv[2:]:
    rng = np.random.default_rng(0)
    Xs = [(rng.random((n, 18)) < 0.2).astype(np.float32) for n in (23, 41, 60)]
    ys = [(rng.random(len(X)) < 0.5).astype(np.float32) for X in Xs]
    res = train_users(Xs, ys, [1, 2, 3], cell=cell, epochs=5, progress=False)
    arrays[f"{cell}/proba"] = np.concatenate(res.predict_proba(Xs))
    arrays.update({f"{cell}/{name}": w for name, w in res.weights.items()})
np.savez(sys.argv[1], fastmath=FASTMATH, option=train_user.targetoptions["fastmath"], **arrays)
"""
#: The cells trained both ways: the report's (three gates) and the GRU (its own code path).
_FASTMATH_CELLS = ("modified", "gru")


@pytest.mark.slow
def test_fastmath_switch_moves_only_round_off(tmp_path):
    """``RECSYS_FASTMATH=0`` compiles strict IEEE arithmetic (a fresh compile: about half a
    minute, once for both cells); the trained weights and scores agree with the fastmath build
    within 1e-5 after 5 epochs (float32 round-off of reordered sums; measured up to 8e-7 on 19
    cases of 6 epochs)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    script = tmp_path / "train.py"
    script.write_text(_FASTMATH_SCRIPT)
    out = {}
    for flag in ("1", "0"):
        env = dict(os.environ, RECSYS_FASTMATH=flag, PYTHONPATH=str(root))
        path = tmp_path / f"fastmath{flag}.npz"
        subprocess.run(
            [sys.executable, str(script), str(path), *_FASTMATH_CELLS],
            env=env,
            check=True,
            cwd=root,
            timeout=900,
        )
        out[flag] = np.load(path)
    assert bool(out["1"]["fastmath"]) and bool(out["1"]["option"])
    assert not bool(out["0"]["fastmath"]) and not bool(out["0"]["option"])
    names = ["embedding", "kernel", "recurrent_kernel", "bias", "dense_kernel", "dense_bias", "proba"]
    for key in [f"{cell}/{name}" for cell in _FASTMATH_CELLS for name in names]:
        np.testing.assert_allclose(out["0"][key], out["1"][key], rtol=0, atol=1e-5, err_msg=key)
