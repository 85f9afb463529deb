"""One epoch of every user's training as one compiled TensorFlow function.

An epoch: each user's rows in a fresh random order (or in the given order), cut into batches
of ``batch_size`` rows, the last one smaller; users are padded to the largest user's number of
batches, and a user's padded batches change nothing (no Adam step: weights, moments and step
count stay).  Per batch: dropout masks, the loss of the real rows, its gradient (autodiff),
and Keras' Adam update (``alpha = lr * sqrt(1 - b2^t) / (1 - b1^t)``, ``m += (g - m)(1 - b1)``,
``v += (g^2 - v)(1 - b2)``, ``w -= alpha m / (sqrt(v) + eps)``) with each user's own step
count, as the Numba kernel ``recsys_utils.batched.loop`` does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from recsys_utils.batched.config import Training
from recsys_utils.batched_tf.network import NetSpec, batch_objective
from recsys_utils.batched_tf.streams import (
    SALT_INPUT,
    SALT_ORDER,
    SALT_OUTPUT,
    keep_mask,
    row_order,
    step_keys,
)

#: A user's weights, or Adam moments: ``{name: (U, *shape)}`` as in ``ParamLayout``.
Weights = dict[str, tf.Tensor]


@dataclass(frozen=True)
class AdamSpec:
    """Adam's settings as plain numbers (hashable: it keys the compiled functions)."""

    learning_rate: float
    beta_1: float
    beta_2: float
    epsilon: float
    batch_size: int
    shuffle: bool

    @classmethod
    def of(cls, training: Training) -> AdamSpec:
        return cls(
            float(training.learning_rate),
            float(training.beta_1),
            float(training.beta_2),
            float(training.epsilon),
            int(training.batch_size),
            bool(training.shuffle),
        )


def adam_update(
    adam: AdamSpec, state: tuple[Weights, Weights, Weights, tf.Tensor], grads: Weights, active: tf.Tensor
) -> tuple[Weights, Weights, Weights, tf.Tensor]:
    """Keras' Adam step for the users where ``active`` ``(U,)`` bool is set; the others keep
    their weights, moments and step count.  ``state``: ``(weights, m, v, steps (U,) int64)``."""
    w, m, v, steps = state
    new_steps = steps + tf.cast(active, tf.int64)
    t = tf.cast(new_steps, tf.float64)
    b1, b2 = tf.constant(adam.beta_1, tf.float64), tf.constant(adam.beta_2, tf.float64)
    alpha64 = adam.learning_rate * tf.sqrt(1.0 - tf.pow(b2, t)) / (1.0 - tf.pow(b1, t))
    alpha = tf.cast(alpha64, tf.float32)  # (U,), as the kernel's F32(...)
    one_m_b1, one_m_b2 = np.float32(1.0 - adam.beta_1), np.float32(1.0 - adam.beta_2)
    eps = np.float32(adam.epsilon)
    out_w, out_m, out_v = {}, {}, {}
    for name, wi in w.items():
        g = grads[name]
        mi = m[name] + (g - m[name]) * one_m_b1
        vi = v[name] + (g * g - v[name]) * one_m_b2
        ai = tf.reshape(alpha, (-1,) + (1,) * (len(wi.shape) - 1))
        on = tf.reshape(active, (-1,) + (1,) * (len(wi.shape) - 1))
        out_w[name] = tf.where(on, wi - mi * ai / (tf.sqrt(vi) + eps), wi)
        out_m[name] = tf.where(on, mi, m[name])
        out_v[name] = tf.where(on, vi, v[name])
    return out_w, out_m, out_v, new_steps


def _masks(spec: NetSpec, keys: tf.Tensor, batch_size: int) -> tuple[tf.Tensor | None, tf.Tensor | None]:
    """The input ``(U, B, T, d)`` and output ``(U, B, u)`` dropout multipliers of one batch
    from its keys ``(U,)`` (``None`` without dropout)."""
    if spec.dropout == 0.0:
        return None, None
    shape_in = (batch_size, spec.n_attributes, spec.embedding_dim)
    return (
        keep_mask(step_keys(keys, 0, SALT_INPUT), shape_in, spec.dropout),
        keep_mask(step_keys(keys, 0, SALT_OUTPUT), (batch_size, spec.units), spec.dropout),
    )


def _epoch_batches(
    adam: AdamSpec, data: tuple[tf.Tensor, tf.Tensor, tf.Tensor], epoch_keys: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """The epoch's batches, batch-major: ``x`` ``(NB, U, B, T)``, ``y`` and ``rows``
    ``(NB, U, B)`` from ``X`` ``(U, S, T)``, ``Y`` ``(U, S)`` (``S = NB * B`` slots) and
    ``n_rows`` ``(U,)``."""
    X, Y, n_rows = data
    n_users, n_slots, n_steps = X.shape
    bsz = adam.batch_size
    n_batches = n_slots // bsz
    if adam.shuffle:
        order = row_order(step_keys(epoch_keys, 0, SALT_ORDER), n_rows, n_slots)
        X = tf.gather(X, order, batch_dims=1)
        Y = tf.gather(Y, order, batch_dims=1)
    x = tf.transpose(tf.reshape(X, (n_users, n_batches, bsz, n_steps)), (1, 0, 2, 3))
    y = tf.transpose(tf.reshape(Y, (n_users, n_batches, bsz)), (1, 0, 2))
    slots = tf.reshape(tf.range(n_slots, dtype=tf.int32), (n_batches, 1, bsz))
    rows = tf.cast(slots < n_rows[None, :, None], tf.float32)
    return x, y, rows


@functools.lru_cache(maxsize=16)
def epoch_function(spec: NetSpec, adam: AdamSpec, jit_compile: bool) -> Callable[..., tuple]:
    """The compiled epoch for ``spec`` and ``adam`` (one per distinct pair, cached).

    The returned function takes ``(weights, m, v, steps, X, Y, n_rows, keys, epoch,
    n_batches)``: the state (``{name: (U, *shape)}`` float32 dicts, ``steps`` ``(U,)`` int64),
    the padded rows ``X`` ``(U, S, T)`` uint8 and ``Y`` ``(U, S)`` float32, the real row
    counts ``n_rows`` ``(U,)`` int32, the users' keys ``(U,)`` uint32, the epoch (scalar
    int32) and how many of the ``S / B`` batches to run (scalar int32; 0 compiles without
    training).  It returns the new state and each user's sum of row losses ``(U,)``.
    """

    def run(w, m, v, steps, X, Y, n_rows, keys, epoch, n_batches):  # noqa: ANN001, ANN202
        epoch_keys = step_keys(keys, epoch, SALT_ORDER)
        x, y, rows = _epoch_batches(adam, (X, Y, n_rows), epoch_keys)

        def body(b, w, m, v, steps, loss_sum):  # noqa: ANN001, ANN202
            masks = _masks(spec, step_keys(epoch_keys, b + 1, SALT_INPUT), adam.batch_size)
            with tf.GradientTape() as tape:
                tape.watch(w)
                objective, sums = batch_objective(spec, w, (x[b], y[b], rows[b]), masks)
            grads = tape.gradient(objective, w)
            active = tf.reduce_sum(rows[b], axis=1) > 0.0
            w, m, v, steps = adam_update(adam, (w, m, v, steps), grads, active)
            return b + 1, w, m, v, steps, loss_sum + sums

        # an explicit while loop: its trip count is a run-time value (XLA would compile a
        # tf.range loop once per count)
        loop = (tf.constant(0), w, m, v, steps, tf.zeros(tf.shape(n_rows), tf.float32))
        _, w, m, v, steps, loss_sum = tf.while_loop(lambda b, *_: b < n_batches, body, loop)
        return w, m, v, steps, loss_sum

    return tf.function(run, jit_compile=jit_compile)
