"""The TensorFlow multi-user trainer (``recsys_utils.batched_tf``) against the Numba one.

Both train the same per-user networks. With ``dropout=0``, ``shuffle=False`` and the same
initial weights there is no randomness left, so the two must end at the same weights up to
float32 round-off; with dropout their random streams differ, so they must agree in
distribution. Most tests run TensorFlow's graph without XLA (``jit_compile=False``: the same
operations, compiled in seconds instead of tens of seconds on this CPU); one runs the XLA path
that a GPU uses.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from recsys_utils.batched import REPORT_LSTM, REPORT_MODIFIED, Network, init_weights, train_users
from recsys_utils.batched_tf import TFOptions, pad_users
from recsys_utils.batched_tf import train_users as train_users_tf

SIZES = (20, 33, 47, 58, 7)  # rows of the synthetic users: not multiples of 10, one below 10
IDS = [11, 12, 13, 14, 15]

#: Agreement of the two trainers without randomness (4 epochs of 1 to 6 batches).
#: Both do the same float32 arithmetic in different orders: the Numba kernels sum the input
#: projection from tables of 4-unit subset sums, fuse loops, use fastmath and Eigen's rational
#: tanh; TensorFlow sums each einsum in its own order (XLA may fuse and reorder again). Each
#: operation then differs by a few units in the last place (float32: 1.2e-7 relative). Adam's
#: update ``lr * m / (sqrt(v) + eps)`` normalises the gradient: where a gradient is a sum of
#: nearly cancelling terms (close to 0, so with a large relative round-off) a step can differ
#: by a few thousandths of ``lr`` (1e-3).  Measured over 4 to 24 steps: at most 6e-8
#: (modified), 1.2e-7 (report's LSTM), 2.8e-6 (GRU: the update-gate bias of the 7-row user).
#: The tolerance is 0.5 % of one Adam step, 5e-6: a wrong gate, bias, mask, or a skipped or
#: extra Adam step moves weights by a sizeable part of a step (1e-4 and more) and fails.
WEIGHT_ATOL = 5e-6
#: Losses (means of 20-58 cross-entropies near 0.7) and predictions (probabilities).
OUTPUT_ATOL = 1e-6


def _users(sizes=SIZES, seed=0):
    """Synthetic users: ``X`` ``(n, 18)`` 0/1 genre flags, ``y`` ``(n,)`` random likes."""
    rng = np.random.default_rng(seed)
    Xs = [(rng.random((n, 18)) < 0.2).astype(np.float32) for n in sizes]
    ys = [(rng.random(n) < 0.5).astype(np.float32) for n in sizes]
    return Xs, ys


def _rule_users(n_users, n_rows, seed):
    """Users who like half of their rows, those whose last 3 flags are each set with
    probability 0.8 (the other rows: every flag with probability 0.2). The last steps are the
    ones the recurrent networks remember best, so 10 epochs learn the rule."""
    rng = np.random.default_rng(seed)
    Xs, ys = [], []
    for _ in range(n_users):
        y = (rng.random(n_rows) < 0.5).astype(np.float32)
        X = (rng.random((n_rows, 18)) < 0.2).astype(np.float32)
        X[:, -RULE_FLAGS:] = y[:, None] * (rng.random((n_rows, RULE_FLAGS)) < 0.8)
        Xs.append(X)
        ys.append(y)
    return Xs, ys


RULE_FLAGS = 3


def _both(net: Network, jit_compile: bool, **kw):
    Xs, ys = _users()
    w0 = init_weights(IDS, cell=net.cell, seed=5, units=net.units)
    common = dict(network=net, epochs=4, shuffle=False, initial_weights=w0, progress=False, **kw)
    ref = train_users(Xs, ys, IDS, **common)
    got = train_users_tf(Xs, ys, IDS, options=TFOptions(jit_compile=jit_compile), **common)
    return Xs, w0, ref, got


NETWORKS = {
    "modified": replace(REPORT_MODIFIED, dropout=0.0),
    "report-lstm": REPORT_LSTM,
    "nfg": Network(cell="nfg", dropout=0.0),
    "gru": Network(cell="gru", dropout=0.0),
}


@pytest.mark.parametrize("name", list(NETWORKS))
def test_matches_the_numba_trainer_without_randomness(name):
    """Same initial weights, no dropout, no shuffling: every user's trained weights, Adam
    step count, loss per epoch and predictions equal the Numba trainer's (see WEIGHT_ATOL)."""
    Xs, w0, ref, got = _both(NETWORKS[name], jit_compile=False)
    np.testing.assert_array_equal(got.adam_steps, ref.adam_steps)
    np.testing.assert_array_equal(got.adam_steps, [4 * -(-n // 10) for n in SIZES])
    for wname, w in ref.weights.items():
        assert np.abs(w - w0[wname]).max() > 1e-3, f"{wname} did not move"
        np.testing.assert_allclose(got.weights[wname], w, rtol=0, atol=WEIGHT_ATOL, err_msg=wname)
    np.testing.assert_allclose(got.loss_history, ref.loss_history, rtol=0, atol=OUTPUT_ATOL)
    for p_tf, p_nb in zip(got.predict_proba(Xs), ref.predict_proba(Xs)):
        np.testing.assert_allclose(p_tf, p_nb, rtol=0, atol=OUTPUT_ATOL)
    assert got.config == ref.config and got.layout == ref.layout


def test_xla_path_matches_the_numba_trainer():
    """The path a GPU runs: each epoch one XLA-compiled function (``jit_compile=True``)."""
    _, _, ref, got = _both(NETWORKS["modified"], jit_compile=True)
    for wname, w in ref.weights.items():
        np.testing.assert_allclose(got.weights[wname], w, rtol=0, atol=WEIGHT_ATOL, err_msg=wname)
    np.testing.assert_allclose(got.loss_history, ref.loss_history, rtol=0, atol=OUTPUT_ATOL)
    assert got.compile_time_s > 0


def test_padded_batches_leave_a_user_untouched():
    """A user trained among larger users (padded to their number of batches, dropout and
    shuffling on) ends where it ends trained alone: padding steps nothing, and its random
    stream is its own."""
    Xs, ys = _users()
    kw = dict(epochs=3, progress=False, seed=2)
    graph = TFOptions(jit_compile=False)
    together = train_users_tf(Xs, ys, IDS, options=graph, **kw)
    alone = train_users_tf(Xs[-1:], ys[-1:], IDS[-1:], options=graph, **kw)
    assert together.adam_steps[-1] == alone.adam_steps[0] == 3
    for wname, w in alone.weights.items():
        np.testing.assert_allclose(together.weights[wname][-1], w[0], rtol=0, atol=1e-6, err_msg=wname)
    # trained in groups (the largest users first, each group padded to its own largest)
    grouped = train_users_tf(Xs, ys, IDS, options=TFOptions(jit_compile=False, groups=3), **kw)
    np.testing.assert_array_equal(grouped.adam_steps, together.adam_steps)
    np.testing.assert_allclose(grouped.loss_history, together.loss_history, rtol=0, atol=1e-6)
    for wname, w in together.weights.items():
        np.testing.assert_allclose(grouped.weights[wname], w, rtol=0, atol=1e-6, err_msg=wname)
    # and dropout and shuffling do act: another seed trains other weights
    other = train_users_tf(Xs[-1:], ys[-1:], IDS[-1:], **dict(kw, seed=3))
    assert np.abs(other.weights["kernel"] - alone.weights["kernel"]).max() > 1e-5


@pytest.mark.parametrize("name", ["modified", "report-lstm"])
def test_batch_gradient_with_given_dropout_masks_matches_the_numba_kernel(name):
    """One batch of two users, with the same dropout masks given to both: the loss and the
    gradient of every weight agree with the Numba kernel's hand-written backward pass
    (``recsys_utils.batched.loss_and_gradient``), for the input and output masks (100 units:
    two 64-bit mask words for the report's LSTM)."""
    import tensorflow as tf

    from recsys_utils.batched import loss_and_gradient
    from recsys_utils.batched_tf.network import NetSpec, batch_objective

    net = replace(NETWORKS[name], dropout=0.5)
    spec = NetSpec.of(net, 18)
    layout = net.layout(18)
    n, u, scale = 10, spec.units, np.float32(2.0)
    rng = np.random.default_rng(4)
    Xs, ys = _users(sizes=(n, n), seed=6)
    w0 = init_weights([1, 2], cell=net.cell, units=net.units)
    in_mask = rng.random((2, n, 18, 50)) < 0.5
    out_mask = rng.random((2, n, u)) < 0.5
    w = {k: tf.constant(v) for k, v in w0.items()}
    with tf.GradientTape() as tape:
        tape.watch(w)
        _, sums = batch_objective(
            spec,
            w,
            (tf.constant(np.stack(Xs).astype(np.uint8)), tf.constant(np.stack(ys)), tf.ones((2, n))),
            (tf.constant(scale * in_mask), tf.constant(scale * out_mask)),
        )
        objective = tf.reduce_sum(sums / n)
    grads = {k: g.numpy() for k, g in tape.gradient(objective, w).items()}
    bit = np.uint64(1) << np.arange(64, dtype=np.uint64)
    for i in range(2):
        in_bits = (in_mask[i].astype(np.uint64) * bit[:50]).sum(axis=-1, dtype=np.uint64)
        words = [out_mask[i][:, j : j + 64] for j in range(0, u, 64)]
        out_bits = np.stack(
            [(m.astype(np.uint64) * bit[: m.shape[1]]).sum(-1, dtype=np.uint64) for m in words], 1
        )
        theta = layout.flatten({k: v[i : i + 1] for k, v in w0.items()})[0]
        loss, grad = loss_and_gradient(Xs[i], ys[i], theta, in_bits, out_bits, net)
        assert float(sums[i]) / n == pytest.approx(loss, abs=1e-6)
        for wname, g in layout.unflatten(grad[None]).items():
            assert np.abs(g).max() > 0, wname
            np.testing.assert_allclose(
                grads[wname][i], g[0], rtol=0, atol=1e-6 * max(1.0, np.abs(g).max()), err_msg=wname
            )


def test_with_dropout_agrees_with_the_numba_trainer_in_distribution():
    """With the report's dropout (0.5) and shuffling the two trainers draw different random
    numbers; on 100 synthetic users with a learnable rule both learn it, and their mean
    held-out accuracy and the median over users of the last epoch's loss and of the mean
    loss over the epochs agree.

    Medians, not means: with a hard-sigmoid output a user whose outputs saturate on the
    wrong side stops learning (the clipped output passes no gradient) and their loss runs
    to 16 (-log 1e-7); this happens to about one user in a few hundred in either trainer and
    would dominate a mean. Tolerances, from 8 seeds of the Numba trainer on these data
    (measured): the mean accuracy spreads by about 0.002 (standard deviation) around 0.986,
    the median last-epoch loss by 0.0022 around 0.025, the median of the users' mean losses
    over the epochs by 0.004 around 0.175; the bounds are about 4 standard deviations of the
    difference of two independent runs. Without dropout the last two medians are 0.012 and
    0.139: a trainer that ignored dropout would fail the second bound."""
    Xs, ys = _rule_users(100, 60, seed=9)
    Xt, yt = _rule_users(100, 40, seed=10)
    ids = list(range(100, 200))
    kw = dict(epochs=10, learning_rate=1e-2, progress=False)
    ref = train_users(Xs, ys, ids, **kw)
    got = train_users_tf(Xs, ys, ids, options=TFOptions(jit_compile=False), **kw)

    def accuracy(res):
        return float(np.mean([np.mean((p > 0.5) == (y > 0.5)) for p, y in zip(res.predict_proba(Xt), yt)]))

    acc_ref, acc_tf = accuracy(ref), accuracy(got)
    assert acc_ref > 0.95 and acc_tf > 0.95, (acc_ref, acc_tf)  # the majority class is about 0.5
    assert abs(acc_tf - acc_ref) < 0.012, (acc_ref, acc_tf)
    last_ref, last_tf = np.median(ref.loss_history[:, -1]), np.median(got.loss_history[:, -1])
    assert abs(last_tf - last_ref) < 0.012, (last_ref, last_tf)
    mean_ref, mean_tf = np.median(ref.loss_history.mean(1)), np.median(got.loss_history.mean(1))
    assert abs(mean_tf - mean_ref) < 0.02, (mean_ref, mean_tf)
    # the weights differ (other random streams), so the agreement above is not a copy
    assert np.abs(got.weights["kernel"] - ref.weights["kernel"]).max() > 1e-3


def test_pad_users_and_bad_input():
    Xs, ys = _users(sizes=(3, 12))
    X, Y, n = pad_users(Xs, ys, 10, 18)
    assert X.shape == (2, 20, 18) and Y.shape == (2, 20) and list(n) == [3, 12]
    np.testing.assert_array_equal(X[0, :3], Xs[0])
    assert not X[0, 3:].any() and not Y[0, 3:].any()
    with pytest.raises(ValueError, match="user #1"):
        train_users_tf(Xs, [ys[0], ys[1][:-1]], progress=False)
    with pytest.raises(ValueError, match="initial_weights"):
        train_users_tf(Xs, ys, initial_weights=init_weights([0]), progress=False)
    with pytest.raises(ValueError, match="groups must be >= 1"):
        train_users_tf(Xs, ys, options=TFOptions(groups=0), progress=False)
    with pytest.raises(TypeError, match="unknown training settings"):
        train_users_tf(Xs, ys, not_a_setting=1, progress=False)
    empty = train_users_tf(Xs[:1], ys[:1], epochs=0, progress=False)
    assert empty.adam_steps[0] == 0 and empty.loss_history.shape == (1, 0)
