"""Counter-based random numbers, one independent stream per user, as TensorFlow ops.

Every random decision of the TensorFlow trainer (a row order, a dropout mask) is a hash of
the user's key and of a counter naming the decision (epoch, batch, row, step, unit), so a user's
numbers do not depend on which other users are trained in the same call nor on the device
(the integer arithmetic is exact everywhere).  The streams differ from the Numba trainer's
SplitMix64 streams: the two trainers agree in distribution, not draw for draw.

The hash is Chris Wellons' ``lowbias32`` integer finaliser (full avalanche on 32 bits).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

#: The multipliers and shifts of ``lowbias32``.
_MUL1 = 0x7FEB352D
_MUL2 = 0x846CA68B
_SHIFT1, _SHIFT2, _SHIFT3 = 16, 15, 16
#: The golden-ratio increment (Weyl sequence) that spreads consecutive counters apart.
GOLDEN32 = 0x9E3779B9
#: Bits of a uniform float drawn from 32 random bits (float32 has a 24-bit significand).
UNIFORM_BITS = 24
#: Salts that keep the three kinds of decision in separate streams.
SALT_ORDER, SALT_INPUT, SALT_OUTPUT = 0x0051F15E, 0x1B873593, 0x2C1B3C6D


def _u32(value: int) -> tf.Tensor:
    return tf.constant(value & 0xFFFFFFFF, tf.uint32)


def mix32(x: tf.Tensor) -> tf.Tensor:
    """``lowbias32`` of every element of the uint32 tensor ``x`` (same shape)."""
    bw = tf.bitwise
    x = bw.bitwise_xor(x, bw.right_shift(x, _u32(_SHIFT1)))
    x = x * _u32(_MUL1)
    x = bw.bitwise_xor(x, bw.right_shift(x, _u32(_SHIFT2)))
    x = x * _u32(_MUL2)
    return bw.bitwise_xor(x, bw.right_shift(x, _u32(_SHIFT3)))


def user_keys(seed: int, user_ids: np.ndarray) -> np.ndarray:
    """``(n_users,)`` uint32: each user's key, from ``SeedSequence((seed, user_id, 2))`` (a
    stream apart from the Numba trainer's ``(seed, user_id, 0)`` and ``(seed, user_id, 1)``)."""
    return np.array(
        [np.random.SeedSequence([seed, int(u), 2]).generate_state(1, dtype=np.uint32)[0] for u in user_ids],
        dtype=np.uint32,
    )


def step_keys(keys: tf.Tensor, counter: tf.Tensor, salt: int) -> tf.Tensor:
    """``(n_users,)`` uint32: the keys of decision ``counter`` (a scalar, e.g. the global
    batch index) in the stream ``salt`` of each user's ``keys`` ``(n_users,)``."""
    c = tf.cast(counter, tf.uint32) * _u32(GOLDEN32) + _u32(salt)
    return mix32(tf.bitwise.bitwise_xor(keys, mix32(c)))


def bits(keys: tf.Tensor, shape: tuple[int, ...]) -> tf.Tensor:
    """``(n_users, *shape)`` uint32 random bits: element ``i`` (C order) of user ``n`` is
    ``mix32(keys[n] + GOLDEN32 * (i + 1))``."""
    size = int(np.prod(shape))
    index = tf.reshape(tf.range(1, size + 1, dtype=tf.int64), shape)
    counters = tf.cast(index, tf.uint32) * _u32(GOLDEN32)
    expand = tf.reshape(keys, (-1,) + (1,) * len(shape))
    return mix32(expand + counters[None])


def uniform(keys: tf.Tensor, shape: tuple[int, ...]) -> tf.Tensor:
    """``(n_users, *shape)`` float32 uniform on ``[0, 1)`` (24 random bits each)."""
    top = tf.bitwise.right_shift(bits(keys, shape), _u32(32 - UNIFORM_BITS))
    return tf.cast(top, tf.float32) * np.float32(2.0**-UNIFORM_BITS)


def keep_mask(keys: tf.Tensor, shape: tuple[int, ...], rate: float) -> tf.Tensor:
    """``(n_users, *shape)`` float32 dropout multipliers: ``1 / (1 - rate)`` where kept
    (probability ``1 - rate``), 0 where dropped."""
    scale = np.float32(1.0 / (1.0 - rate))
    return tf.where(uniform(keys, shape) >= np.float32(rate), scale, np.float32(0.0))


def row_order(keys: tf.Tensor, n_rows: tf.Tensor, n_slots: int) -> tf.Tensor:
    """``(n_users, n_slots)`` int32: a uniformly random order of each user's ``n_rows[n]`` real
    rows first, then the padding slots ``n_rows[n]..n_slots - 1`` in place.

    The real rows are sorted by 32 random bits each (a tie, about one chance in 4e9 per pair,
    keeps the rows' order), the padding after them.
    """
    slots = tf.range(n_slots, dtype=tf.int64)
    random_key = tf.cast(bits(keys, (n_slots,)), tf.int64)
    padding = tf.cast(slots[None, :] >= tf.cast(n_rows, tf.int64)[:, None], tf.int64)
    sort_key = tf.where(padding > 0, (1 << 32) + slots[None, :], random_key)
    return tf.argsort(sort_key, axis=1, stable=True, direction="ASCENDING")
