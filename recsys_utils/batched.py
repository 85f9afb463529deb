"""Train the report's per-user recommender for thousands of users at once, on CPU.

The report trains one small network *per user* (section 4.1: "each model is designed for an
individual user").  For all 6,040 users of MovieLens 1M, one Keras ``fit`` per user takes hours,
mostly in per-step framework overhead: a user's network has about 4,000 weights and a batch is
10 rows.  This module trains the same networks with a compiled (Numba) kernel that runs one
user's whole training loop -- forward pass, hand-written backward pass, Adam -- without leaving
machine code, and runs users side by side on all CPU cores.

The architecture is that of :func:`recsys_utils.models.sequence.build_modified_lstm_recommender`
(Appendix A's code)::

    (batch, 18) 0/1 flags -> Embedding(200, 50) -> Dropout(p) -> (batch, 18, 50)
      -> recurrent cell, 18 units, activation "sigmoid", recurrent_activation "tanh"
      -> Dropout(p) -> (batch, 18) -> Dense(1, hard sigmoid) -> (batch, 1)

with ``cell`` one of :data:`CELLS`: ``"modified"`` (the report's cell: gates i, C~, o and
``C_t = i_t * C~_t``), ``"nfg"`` (``C_t = C_{t-1} + i_t * C~_t``), ``"lstm"`` (Keras' ``LSTM``)
or ``"gru"`` (Keras' ``GRU``, ``reset_after=True``).  The hard sigmoid is Keras 2's by default
(``clip(0.2 x + 0.5, 0, 1)``, as the book's Keras model), or Keras 3's (see
:data:`OUTPUT_ACTIVATIONS`).  Training follows Keras' ``fit``: binary cross-entropy on the
clipped output, Adam (lr 1e-3, betas 0.9/0.999, eps 1e-7), mini-batches of ``batch_size`` rows drawn from a fresh permutation every epoch, the
last batch of an epoch smaller when the row count is not a multiple of ``batch_size`` (its loss
is the mean over its real rows), and Keras' initialisers (embedding ``uniform(-0.05, 0.05)``,
``glorot_uniform`` kernels, ``orthogonal`` recurrent kernels, zero biases, forget bias 1 for the
LSTM).

Independence of users (the key property)
----------------------------------------
Every user has their own weights, Adam moments and Adam step count, and their own random
stream: the initial weights come from a NumPy generator seeded with ``(seed, user_id, 0)`` and
the per-epoch permutations and dropout masks from a SplitMix64 stream seeded with
``(seed, user_id, 1)``.  Nothing is shared between users, so a user's trained network does not
depend on which other users are trained in the same call, nor on the number of threads (a test
checks this).  The random numbers differ from those Keras would draw (Keras' own
streams cannot be reproduced outside a Keras model), so results agree with Keras in
distribution; with ``dropout=0`` and ``shuffle=False`` and the same initial weights they agree
with a Keras ``fit`` to float32 round-off, which a test checks too.

One difference from Keras 3 remains, in the embedding's Adam state: Keras 3's ``Embedding``
hands Adam a sparse gradient (one slice per lookup) and its TensorFlow backend squares the
slices *before* summing the duplicates, so the second moment of an embedding row grows with
the sum of the squared per-lookup gradients.  This module uses plain Adam (the square of the
summed gradient), as Keras 2 -- which the report ran -- did.  The test compares against a Keras
model whose embedding gradient is dense.

What makes it fast
------------------
- the flags are 0/1, so only rows 0 and 1 of the embedding matter (the other 198 rows get no
  gradient and Adam never moves them): the kernel keeps 2 rows, ``(2, 50)``;
- the input dropout keeps a random subset of the 50 embedding units of each (row, step), so the
  input projection is ``b + sum_{k kept} s * E[x, k] * W[k]``: the kernel draws each mask as a
  64-bit word (with 0.5 dropout, the bits of one random number), takes it 4 bits at a time and
  adds 13 rows of per-batch tables holding the 16 subset sums of each group of 4 units, the
  input bias folded into the first group's rows (instead of a 50 x 54 product); backward, the
  gradients are binned the same way (code 0 included, so that one group's bins sum to the bias
  gradient) and spread back over the units;
- the input projections are written straight into the gate buffer, which the recurrent pass
  turns into gate activations in place (no copy, less memory to stream through the caches);
- backward, each row's gate gradients come from one fused loop per step, and the recurrent
  kernel's gradient is one pass over all (step, row) pairs after the loop over the steps
  (rather than one small product per step);
- weight rows are padded to whole SIMD vectors (54 -> 56) and the small products unrolled
  (several rows per pass over a vector, so that it is loaded and stored once per pass);
  the products with the recurrent kernel (``h_{t-1} U`` forward, ``dh`` backward) take two
  batch rows per pass, so that each kernel row is loaded once for both, and the recurrent
  kernel's gradient three of its rows per pass over the (step, row) pairs: fewer loads, and
  fuller vector loops (a lone 56-float loop leaves its last 24 floats to scalar code);
- ``tanh`` (and ``sigmoid(x) = 0.5 * tanh(x / 2) + 0.5``) is the rational approximation that
  Eigen (TensorFlow's CPU backend) uses, which vectorises (abs. error < 3e-7);
- each user's training loop runs in one call that releases the GIL; a thread pool runs users
  largest-first on all cores.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numba as nb
import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import keras

__all__ = [
    "CELLS",
    "OUTPUT_ACTIVATIONS",
    "BatchedResult",
    "ParamLayout",
    "init_weights",
    "predict_users",
    "train_users",
]

#: The recurrent cells the batched trainer implements.
CELLS: tuple[str, ...] = ("modified", "nfg", "lstm", "gru")
_CELL_CODE = {"modified": 0, "nfg": 1, "lstm": 2, "gru": 3}
_N_GATES = {"modified": 3, "nfg": 3, "lstm": 4, "gru": 3}
#: ``activation`` values supported, as ``(sc, sa, sb)`` with ``f(x) = sa * tanh(sc * x) + sb``.
_ACTIVATIONS = {"tanh": (1.0, 1.0, 0.0), "sigmoid": (0.5, 0.5, 0.5)}
#: Output activations, as ``(a, c, top)`` with ``p = clip(a * logit + c, 0, top) / top``:
#: Keras 3's ``hard_sigmoid`` is ``relu6(x + 3) / 6``; Keras 2's is ``clip(0.2 x + 0.5, 0, 1)``
#: (:func:`recsys_utils.models.sequence.keras2_hard_sigmoid`).
OUTPUT_ACTIVATIONS: dict[str, tuple[float, float, float]] = {
    "hard_sigmoid": (1.0, 3.0, 6.0),
    "keras2_hard_sigmoid": (0.2, 0.5, 1.0),
}

#: The arguments of :func:`recsys_utils.models.sequence.build_modified_lstm_recommender` that
#: build the Keras twin of each cell.
_KERAS_BUILD = {
    "modified": {"variant": "report"},
    "nfg": {"variant": "nfg"},
    "lstm": {"recurrent_layer": "lstm"},
    "gru": {"recurrent_layer": "gru"},
}

_F = np.float32
_EPS_BCE = _F(1e-7)  # keras.backend.epsilon(): the clip of the predicted probability
_ONE_MINUS_EPS_BCE = _F(1.0 - 1e-7)


# --------------------------------------------------------------------------------------------
# Parameter layout
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParamLayout:
    """Names and shapes of one user's weights, in their order in a flat float32 vector.

    The names and shapes are those of the Keras model's weights (in ``model.get_weights()``
    order), except the embedding, of which only rows 0 and 1 are trained:

    - ``embedding`` ``(2, embedding_dim)``;
    - ``kernel`` ``(embedding_dim, gates * units)``;
    - ``recurrent_kernel`` ``(units, gates * units)``;
    - ``bias`` ``(gates * units,)``, or ``(2, gates * units)`` for the GRU (input and
      recurrent biases, Keras' ``reset_after=True``);
    - ``dense_kernel`` ``(units,)`` (Keras: ``(units, 1)``), ``dense_bias`` ``(1,)``.

    Gate order within ``gates * units`` is Keras': i, c, o (modified, nfg), i, f, c, o (lstm),
    z, r, h (gru).
    """

    cell: str = "modified"
    n_attributes: int = 18
    embedding_dim: int = 50
    units: int = 18

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {CELLS}, got {self.cell!r}")

    @property
    def n_gates(self) -> int:
        return _N_GATES[self.cell]

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Each weight's shape (for one user), in the Keras model's order."""
        k = self.n_gates * self.units
        bias = (2, k) if self.cell == "gru" else (k,)
        return {
            "embedding": (2, self.embedding_dim),
            "kernel": (self.embedding_dim, k),
            "recurrent_kernel": (self.units, k),
            "bias": bias,
            "dense_kernel": (self.units,),
            "dense_bias": (1,),
        }

    @property
    def size(self) -> int:
        """The number of trained weights per user."""
        return sum(int(np.prod(s)) for s in self.shapes.values())

    def flatten(self, weights: dict[str, np.ndarray]) -> np.ndarray:
        """``{name: (n_users, *shape)}`` -> ``(n_users, size)`` float32 (C order)."""
        n = len(next(iter(weights.values())))
        parts = [np.asarray(weights[name], dtype=np.float32).reshape(n, -1)
                 for name in self.shapes]
        return np.ascontiguousarray(np.concatenate(parts, axis=1))

    def unflatten(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """``(n_users, size)`` -> ``{name: (n_users, *shape)}`` (copies)."""
        out, start = {}, 0
        for name, shape in self.shapes.items():
            stop = start + int(np.prod(shape))
            out[name] = flat[:, start:stop].reshape((len(flat),) + shape).copy()
            start = stop
        return out


# --------------------------------------------------------------------------------------------
# Initialisation (Keras' initialisers, drawn per user)
# --------------------------------------------------------------------------------------------


def _glorot_uniform(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    limit = math.sqrt(6.0 / (shape[0] + shape[1]))
    return rng.uniform(-limit, limit, size=shape)


def _orthogonal(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Keras' ``Orthogonal`` initializer (gain 1) for a 2-D shape."""
    rows, cols = shape
    a = rng.normal(size=(max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))
    return q.T if rows < cols else q


def init_weights(user_ids: Sequence[int], *, cell: str = "modified", seed: int = 0,
                 n_attributes: int = 18, embedding_dim: int = 50, units: int | None = None,
                 embedding_input_dim: int = 2) -> dict[str, np.ndarray]:
    """Keras-like initial weights for each user, drawn from a generator seeded ``(seed, user_id, 0)``.

    Args:
        user_ids: ``(n_users,)`` the users.
        cell: one of :data:`CELLS`.
        embedding_input_dim: how many embedding rows to return: 2 (what the trainer uses) or
            the Keras model's 200 (rows 2.. are never used by 0/1 inputs).  The first rows
            are the same whatever this is.

    Returns:
        ``{name: (n_users, *shape)}`` float32 as in :class:`ParamLayout`, with ``embedding``
        ``(n_users, embedding_input_dim, embedding_dim)``.
    """
    units = n_attributes if units is None else units
    layout = ParamLayout(cell, n_attributes, embedding_dim, units)
    k = layout.n_gates * units
    out: dict[str, list[np.ndarray]] = {name: [] for name in layout.shapes}
    for user_id in user_ids:
        rng = np.random.default_rng([seed, int(user_id), 0])
        # Always draw the Keras model's 200 rows so that rows 0 and 1 do not depend on
        # embedding_input_dim.
        emb = rng.uniform(-0.05, 0.05, size=(max(200, embedding_input_dim), embedding_dim))
        out["embedding"].append(emb[:embedding_input_dim])
        out["kernel"].append(_glorot_uniform(rng, (embedding_dim, k)))
        out["recurrent_kernel"].append(_orthogonal(rng, (units, k)))
        bias = np.zeros(layout.shapes["bias"])
        if cell == "lstm":  # Keras' unit_forget_bias=True
            bias[units:2 * units] = 1.0
        out["bias"].append(bias)
        out["dense_kernel"].append(_glorot_uniform(rng, (units, 1))[:, 0])
        out["dense_bias"].append(np.zeros(1))
    shapes = dict(layout.shapes, embedding=(embedding_input_dim, embedding_dim))
    return {name: np.asarray(v, dtype=np.float32).reshape((len(out[name]),) + shapes[name])
            for name, v in out.items()}


def _rng_state(seed: int, user_id: int) -> np.ndarray:
    """The SplitMix64 state ``(1,)`` uint64 of one user's training stream."""
    return np.random.SeedSequence([seed, int(user_id), 1]).generate_state(1, dtype=np.uint64)


# --------------------------------------------------------------------------------------------
# Numba kernels
# --------------------------------------------------------------------------------------------

_JIT = {"nogil": True, "fastmath": True, "error_model": "numpy", "cache": True}

# Eigen's rational approximation of tanh for float32 (TensorFlow's CPU tanh).
_TANH_CLAMP = _F(7.90531110763549805)
_A1, _A3, _A5, _A7, _A9, _A11, _A13 = (
    _F(4.89352455891786e-03), _F(6.37261928875436e-04), _F(1.48572235717979e-05),
    _F(5.12229709037114e-08), _F(-8.60467152213735e-11), _F(2.00018790482477e-13),
    _F(-2.76076847742355e-16))
_B0, _B2, _B4, _B6 = (_F(4.89352518554385e-03), _F(2.26843463243900e-03),
                      _F(1.18534705686654e-04), _F(1.19825839466702e-06))
_ZERO, _ONE = _F(0.0), _F(1.0)


@nb.njit(inline="always", **_JIT)
def _tanh(x):  # pragma: no cover - compiled
    x = min(max(x, -_TANH_CLAMP), _TANH_CLAMP)
    x2 = x * x
    p = ((((((_A13 * x2 + _A11) * x2 + _A9) * x2 + _A7) * x2 + _A5) * x2 + _A3) * x2 + _A1)
    q = (((_B6 * x2 + _B4) * x2 + _B2) * x2 + _B0)
    return x * p / q


@nb.njit(inline="always", **_JIT)
def _next(state):  # pragma: no cover - compiled
    """SplitMix64: advance ``state`` ``(1,)`` uint64 and return 64 random bits."""
    s = state[0] + np.uint64(0x9E3779B97F4A7C15)
    state[0] = s
    z = (s ^ (s >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@nb.njit(**_JIT)
def _unpack(theta, d, u, k, gru):  # pragma: no cover - compiled
    """Views of a flat weight vector in :class:`ParamLayout` order, with rows ``k`` wide.

    ``k`` is ``gates * units`` for the user-facing layout, or that rounded up to a multiple of
    8 for the kernel's padded working copy (full SIMD vectors, no loop remainders).
    """
    o1 = 2 * d
    o2 = o1 + d * k
    o3 = o2 + u * k
    nbias = 2 * k if gru else k
    o4 = o3 + nbias
    o5 = o4 + u
    emb = theta[0:o1].reshape((2, d))
    kernel = theta[o1:o2].reshape((d, k))
    rec = theta[o2:o3].reshape((u, k))
    b_in = theta[o3:o3 + k]
    b_rec = theta[o3 + k:o4] if gru else theta[o3:o3]  # empty unless GRU
    wd = theta[o4:o5]
    bd = theta[o5:o5 + 1]
    return emb, kernel, rec, b_in, b_rec, wd, bd


@nb.njit(**_JIT)
def _padded_size(d, u, kp, gru):  # pragma: no cover - compiled
    return 2 * d + d * kp + u * kp + (2 * kp if gru else kp) + u + 1


@nb.njit(**_JIT)
def _copy_padded(src, dst, d, u, k, kp, gru, to_padded):  # pragma: no cover - compiled
    """Copy weights between the flat layout (rows ``k`` wide) and the padded one (``kp``)."""
    if to_padded:
        a, ka, b, kb = src, k, dst, kp
    else:
        a, ka, b, kb = src, kp, dst, k
    ea, wa, ra, bia, bra, wda, bda = _unpack(a, d, u, ka, gru)
    eb, wb, rb, bib, brb, wdb, bdb = _unpack(b, d, u, kb, gru)
    eb[:] = ea
    wb[:, :k] = wa[:, :k]
    rb[:, :k] = ra[:, :k]
    bib[:k] = bia[:k]
    if gru:
        brb[:k] = bra[:k]
    wdb[:] = wda
    bdb[:] = bda


@nb.njit(**_JIT)
def _gate_params(cell, u, act_p, ract_p):  # pragma: no cover - compiled
    """``(3, Kp)``: the activation parameters of each (padded) gate column, LSTM family."""
    ng = 4 if cell == 2 else 3
    kp = (ng * u + 7) // 8 * 8
    out = np.zeros((3, kp), np.float32)
    out[1] = _ONE  # padding columns: tanh
    for g in range(ng):
        # the candidate is the 3rd block of the LSTM (i, f, c, o), the 2nd otherwise (i, c, o)
        p = act_p if g == (2 if cell == 2 else 1) else ract_p
        for j in range(u):
            for i in range(3):
                out[i, g * u + j] = p[i]
    return out


@nb.njit(**_JIT)
def _gemv_acc(out, coef, mat, n):  # pragma: no cover - compiled
    """``out += sum_{i < n} coef[i] * mat[i]``: rows ``mat[i]`` as long as ``out``.

    Unrolled by 6 so that ``out`` is loaded and stored once per 6 rows.
    """
    k = out.shape[0]
    i = 0
    while i + 6 <= n:
        c0, c1, c2, c3, c4, c5 = coef[i], coef[i + 1], coef[i + 2], coef[i + 3], coef[i + 4], \
            coef[i + 5]
        m0, m1, m2, m3, m4, m5 = mat[i], mat[i + 1], mat[i + 2], mat[i + 3], mat[i + 4], \
            mat[i + 5]
        for j in range(k):
            out[j] += (c0 * m0[j] + c1 * m1[j]) + (c2 * m2[j] + c3 * m3[j]) \
                + (c4 * m4[j] + c5 * m5[j])
        i += 6
    while i < n:
        c0 = coef[i]
        m0 = mat[i]
        for j in range(k):
            out[j] += c0 * m0[j]
        i += 1


@nb.njit(**_JIT)
def _gemv2_acc(out0, out1, coef0, coef1, mat, n):  # pragma: no cover - compiled
    """``out0 += sum_{i < n} coef0[i] * mat[i]`` and ``out1 += sum_{i < n} coef1[i] * mat[i]``.

    Four rows per pass, each loaded once for both outputs (half the traffic of two
    :func:`_gemv_acc`, and fuller vector loops).
    """
    k = out0.shape[0]
    i = 0
    while i + 4 <= n:
        a0, a1, a2, a3 = coef0[i], coef0[i + 1], coef0[i + 2], coef0[i + 3]
        b0, b1, b2, b3 = coef1[i], coef1[i + 1], coef1[i + 2], coef1[i + 3]
        m0, m1, m2, m3 = mat[i], mat[i + 1], mat[i + 2], mat[i + 3]
        for j in range(k):
            x0, x1, x2, x3 = m0[j], m1[j], m2[j], m3[j]
            out0[j] += (a0 * x0 + a1 * x1) + (a2 * x2 + a3 * x3)
            out1[j] += (b0 * x0 + b1 * x1) + (b2 * x2 + b3 * x3)
        i += 4
    while i < n:
        a0, b0 = coef0[i], coef1[i]
        m0 = mat[i]
        for j in range(k):
            out0[j] += a0 * m0[j]
            out1[j] += b0 * m0[j]
        i += 1


@nb.njit(**_JIT)
def _gemv3_acc(out0, out1, out2, coef0, coef1, coef2, mat, n):  # pragma: no cover - compiled
    """``out_c += sum_{i < n} coef_c[i] * mat[i]`` for ``c < 3``: two rows per pass, each
    loaded once for the three outputs."""
    k = out0.shape[0]
    i = 0
    while i + 2 <= n:
        a0, a1 = coef0[i], coef0[i + 1]
        b0, b1 = coef1[i], coef1[i + 1]
        c0, c1 = coef2[i], coef2[i + 1]
        m0, m1 = mat[i], mat[i + 1]
        for j in range(k):
            x0, x1 = m0[j], m1[j]
            out0[j] += a0 * x0 + a1 * x1
            out1[j] += b0 * x0 + b1 * x1
            out2[j] += c0 * x0 + c1 * x1
        i += 2
    if i < n:
        a0, b0, c0 = coef0[i], coef1[i], coef2[i]
        m0 = mat[i]
        for j in range(k):
            out0[j] += a0 * m0[j]
            out1[j] += b0 * m0[j]
            out2[j] += c0 * m0[j]


@nb.njit(**_JIT)
def _gather_sum(out, mat, idx, n):  # pragma: no cover - compiled
    """``out = sum_{q < n} mat[idx[q]]`` (``n >= 1``), unrolled by 4."""
    k = out.shape[0]
    if n >= 4:
        m0, m1, m2, m3 = mat[idx[0]], mat[idx[1]], mat[idx[2]], mat[idx[3]]
        for j in range(k):
            out[j] = (m0[j] + m1[j]) + (m2[j] + m3[j])
        q = 4
    else:
        out[:] = mat[idx[0]]
        q = 1
    while q + 4 <= n:
        m0, m1, m2, m3 = mat[idx[q]], mat[idx[q + 1]], mat[idx[q + 2]], mat[idx[q + 3]]
        for j in range(k):
            out[j] += (m0[j] + m1[j]) + (m2[j] + m3[j])
        q += 4
    while q < n:
        m0 = mat[idx[q]]
        for j in range(k):
            out[j] += m0[j]
        q += 1


@nb.njit(**_JIT)
def _scatter_acc(mat, idx, n, vec):  # pragma: no cover - compiled
    """``mat[idx[q]] += vec`` for ``q < n`` (distinct rows), unrolled by 4."""
    k = vec.shape[0]
    q = 0
    while q + 4 <= n:
        m0, m1, m2, m3 = mat[idx[q]], mat[idx[q + 1]], mat[idx[q + 2]], mat[idx[q + 3]]
        for j in range(k):
            vj = vec[j]
            m0[j] += vj
            m1[j] += vj
            m2[j] += vj
            m3[j] += vj
        q += 4
    while q < n:
        m0 = mat[idx[q]]
        for j in range(k):
            m0[j] += vec[j]
        q += 1


@nb.njit(**_JIT)
def _dots_acc(out, vec, mat, n):  # pragma: no cover - compiled
    """``out[i] += vec . mat[i]`` for ``i < n``, three rows at a time."""
    k = vec.shape[0]
    i = 0
    while i + 3 <= n:
        m0, m1, m2 = mat[i], mat[i + 1], mat[i + 2]
        a0 = _ZERO
        a1 = _ZERO
        a2 = _ZERO
        for j in range(k):
            vj = vec[j]
            a0 += vj * m0[j]
            a1 += vj * m1[j]
            a2 += vj * m2[j]
        out[i] += a0
        out[i + 1] += a1
        out[i + 2] += a2
        i += 3
    while i < n:
        m0 = mat[i]
        a0 = _ZERO
        for j in range(k):
            a0 += vec[j] * m0[j]
        out[i] += a0
        i += 1


@nb.njit(**_JIT)
def _dots2_acc(out0, out1, vec0, vec1, mat, n):  # pragma: no cover - compiled
    """``out0[i] += vec0 . mat[i]`` and ``out1[i] += vec1 . mat[i]`` for ``i < n``: two
    vectors against three rows at a time (six sums per pass, each row loaded once for both)."""
    k = vec0.shape[0]
    i = 0
    while i + 3 <= n:
        m0, m1, m2 = mat[i], mat[i + 1], mat[i + 2]
        a0 = _ZERO
        a1 = _ZERO
        a2 = _ZERO
        b0 = _ZERO
        b1 = _ZERO
        b2 = _ZERO
        for j in range(k):
            x = vec0[j]
            y = vec1[j]
            a0 += x * m0[j]
            a1 += x * m1[j]
            a2 += x * m2[j]
            b0 += y * m0[j]
            b1 += y * m1[j]
            b2 += y * m2[j]
        out0[i] += a0
        out0[i + 1] += a1
        out0[i + 2] += a2
        out1[i] += b0
        out1[i + 1] += b1
        out1[i + 2] += b2
        i += 3
    while i < n:
        m0 = mat[i]
        a0 = _ZERO
        b0 = _ZERO
        for j in range(k):
            a0 += vec0[j] * m0[j]
            b0 += vec1[j] * m0[j]
        out0[i] += a0
        out1[i] += b0
        i += 1


@nb.njit(**_JIT)
def _recurrent_forward(nbr, rec, b_rec, cell, u, act_p, ract_p, col_p,
                       gates, cs, ac, hs, rh):  # pragma: no cover - compiled
    """Run the cell over the steps for the first ``nbr`` rows (time-major buffers).

    gates: ``(T, B, K)`` the input projections (bias included) on entry, which the pass
    overwrites in place with the gate activations.  Fills ``cs`` ``(T, B, u)`` (cell states C_t), ``ac`` ``(T, B, u)`` (``act(C_t)``; for
    the GRU ``h_{t-1} @ U_h + b_h``) and ``hs`` ``(T + 1, B, u)`` (``hs[0] = 0``); ``rh``
    ``(B, K)`` is scratch.  ``col_p`` ``(3, K)``: see :func:`_gate_params`.
    """
    n_steps = gates.shape[0]
    k = rec.shape[1]
    asc, asa, asb = act_p[0], act_p[1], act_p[2]
    rsc, rsa, rsb = ract_p[0], ract_p[1], ract_p[2]
    csc, csa, csb = col_p[0], col_p[1], col_p[2]
    oo = (4 if cell == 2 else 3) * u - u  # the output gate (or GRU candidate): last block
    hs[0] = _ZERO
    for t in range(n_steps):
        g_t = gates[t]
        h_prev = hs[t]
        h_new = hs[t + 1]
        c_t = cs[t]
        a_t = ac[t]
        # h_{t-1} @ U, two rows at a time: added to z_t = x_t W + b, or (GRU) kept apart in rh
        if cell == 3:
            for r in range(nbr):
                rh[r] = b_rec
            rz = rh
        else:
            rz = g_t
        if t > 0:
            for r in range(0, nbr - 1, 2):
                _gemv2_acc(rz[r], rz[r + 1], h_prev[r], h_prev[r + 1], rec, u)
            if nbr % 2:
                _gemv_acc(rz[nbr - 1], h_prev[nbr - 1], rec, u)
        for r in range(nbr):
            g = g_t[r]
            if cell == 3:  # GRU: z, r, h
                hp = h_prev[r]
                rr = rh[r]
                for j in range(2 * u):
                    g[j] = rsa * _tanh(rsc * (g[j] + rr[j])) + rsb
                for j in range(u):
                    g[oo + j] = asa * _tanh(asc * (g[oo + j] + g[u + j] * rr[oo + j])) + asb
                for j in range(u):
                    a_t[r, j] = rr[oo + j]
                hn = h_new[r]
                for j in range(u):
                    hn[j] = g[j] * hp[j] + (_ONE - g[j]) * g[oo + j]
                continue
            for j in range(k):
                g[j] = csa[j] * _tanh(csc[j] * g[j]) + csb[j]
            c = c_t[r]
            if cell == 2:  # LSTM: i, f, c, o
                for j in range(u):
                    c[j] = g[j] * g[2 * u + j]
                if t > 0:
                    cp = cs[t - 1, r]
                    for j in range(u):
                        c[j] += g[u + j] * cp[j]
            else:  # modified (f = 0) or nfg (f = 1): i, c, o
                for j in range(u):
                    c[j] = g[j] * g[u + j]
                if cell == 1 and t > 0:
                    cp = cs[t - 1, r]
                    for j in range(u):
                        c[j] += cp[j]
        if cell != 3:
            for r in range(nbr):
                c = c_t[r]
                a = a_t[r]
                for j in range(u):
                    a[j] = asa * _tanh(asc * c[j]) + asb
                g = g_t[r]
                hn = h_new[r]
                for j in range(u):
                    hn[j] = g[oo + j] * a[j]


@nb.njit(inline="always", **_JIT)
def _d(a, sc, sa, sb):  # pragma: no cover - compiled
    """Derivative of ``sa * tanh(sc * x) + sb`` from its value ``a``."""
    th = (a - sb) / sa
    return sa * sc * (_ONE - th) * (_ONE + th)


@nb.njit(**_JIT)
def _recurrent_backward(dh, nbr, rec, cell, u, act_p, ract_p, gates, cs, ac, hs, dzx, dzr,
                        dc, coef, g_rec, g_brec):  # pragma: no cover - compiled
    """Backpropagate ``dh`` ``(B, u)`` (the loss gradient w.r.t. the last ``h``) through time.

    Writes the gradients w.r.t. the input projections to ``dzx`` ``(T, B, K)`` and accumulates
    those of the recurrent kernel ``g_rec`` ``(u, K)`` and (GRU) recurrent bias ``g_brec``;
    ``dzr`` ``(T, B, K)`` (GRU: the gradients w.r.t. the recurrent pre-activations),
    ``dc`` ``(B, u)`` and ``coef`` ``(3, (T - 1) * B)`` are scratch.
    """
    n_steps, bsz, k = gates.shape
    asc, asa, asb = act_p[0], act_p[1], act_p[2]
    rsc, rsa, rsb = ract_p[0], ract_p[1], ract_p[2]
    oo = (4 if cell == 2 else 3) * u - u
    if cell == 2:
        fo, co = u, 2 * u
    else:
        fo, co = 0, u
    # the gradient w.r.t. the recurrent pre-activations: dzx itself but for the GRU
    drs = dzr if cell == 3 else dzx
    dc[:] = _ZERO
    for t in range(n_steps - 1, -1, -1):
        g_t = gates[t]
        a_t = ac[t]
        h_prev = hs[t]
        dx_t = dzx[t]
        for r in range(nbr):
            g = g_t[r]
            dx = dx_t[r]
            dhr = dh[r]
            ar = a_t[r]
            hp = h_prev[r]
            if cell == 3:  # GRU: z, r, h
                dr = drs[t, r]
                for j in range(u):
                    dhj = dhr[j]
                    gz = g[j]
                    gr = g[u + j]
                    gh = g[oo + j]
                    dxh = dhj * (_ONE - gz) * _d(gh, asc, asa, asb)
                    dxz = dhj * (hp[j] - gh) * _d(gz, rsc, rsa, rsb)
                    dxr = dxh * ar[j] * _d(gr, rsc, rsa, rsb)
                    dx[oo + j] = dxh
                    dx[j] = dxz
                    dx[u + j] = dxr
                    dr[j] = dxz
                    dr[u + j] = dxr
                    dr[oo + j] = dxh * gr
                    dhr[j] = dhj * gz  # the direct path to h_{t-1}
                continue
            # one fused pass per row: C_t's gradient, then those of the gates
            dcr = dc[r]
            cp = cs[t - 1 if t > 0 else 0, r]
            for j in range(u):
                dhj = dhr[j]
                aj = ar[j]
                gi = g[j]
                gc = g[co + j]
                go = g[oo + j]
                dcj = dcr[j] + dhj * go * _d(aj, asc, asa, asb)
                dx[oo + j] = dhj * aj * _d(go, rsc, rsa, rsb)
                dx[j] = dcj * gc * _d(gi, rsc, rsa, rsb)
                dx[co + j] = dcj * gi * _d(gc, asc, asa, asb)
                if cell == 2:  # LSTM: the forget gate
                    gf = g[fo + j]
                    dx[fo + j] = dcj * cp[j] * _d(gf, rsc, rsa, rsb) if t > 0 else _ZERO
                    dcj *= gf
                elif cell == 0:  # modified: C_t does not reach C_{t-1}
                    dcj = _ZERO
                dcr[j] = dcj  # nfg: C_{t-1}'s gradient is C_t's
                dhr[j] = _ZERO
        if cell == 3:
            for r in range(nbr):
                dr = drs[t, r]
                for j in range(g_brec.shape[0]):
                    g_brec[j] += dr[j]
        if t > 0:  # h_{t-1}'s gradient through the recurrent kernel, two rows at a time
            for r in range(0, nbr - 1, 2):
                _dots2_acc(dh[r], dh[r + 1], drs[t, r], drs[t, r + 1], rec, u)
            if nbr % 2:
                _dots_acc(dh[nbr - 1], drs[t, nbr - 1], rec, u)
    # the recurrent kernel, in one pass over the (step >= 1, row) pairs per three of its rows:
    # g_rec[i] += sum_{t >= 1, r} h_{t-1}[r, i] * drs[t, r] (the rows r >= nbr weigh 0)
    if n_steps > 1:
        n_pairs = (n_steps - 1) * bsz
        pairs = drs[1:].reshape((n_pairs, k))
        for i in range(0, u, 3):
            m = min(3, u - i)
            for t in range(1, n_steps):
                for r in range(bsz):
                    for c in range(m):
                        coef[c, (t - 1) * bsz + r] = hs[t, r, i + c] if r < nbr else _ZERO
            if m == 3:
                _gemv3_acc(g_rec[i], g_rec[i + 1], g_rec[i + 2], coef[0], coef[1], coef[2], pairs,
                           n_pairs)
            elif m == 2:
                _gemv2_acc(g_rec[i], g_rec[i + 1], coef[0], coef[1], pairs, n_pairs)
            else:
                _gemv_acc(g_rec[i], coef[0], pairs, n_pairs)


@nb.njit(inline="always", **_JIT)
def _hard_sigmoid(logit, out_p):  # pragma: no cover - compiled
    """``(p, pre)``: ``pre = a * logit + c`` and ``p = clip(pre, 0, top) / top``."""
    pre = out_p[0] * logit + out_p[1]
    return min(max(pre, _ZERO), out_p[2]) / out_p[2], pre


@nb.njit(**_JIT)
def _head(hs, nbr, mo, wd, bd, yb, dh, g_wd, g_bd, out_p, want_grad):  # pragma: no cover
    """Dropout, Dense(1), hard sigmoid (``out_p``, see :data:`OUTPUT_ACTIVATIONS`), clipped
    BCE.  Returns the batch's mean loss.

    ``hs`` ``(T + 1, B, u)``: the last ``h`` is ``hs[T]``.  With ``want_grad``, writes the
    gradient w.r.t. the last ``h`` to ``dh`` ``(B, u)`` and accumulates ``g_wd`` ``(u,)``,
    ``g_bd`` ``(1,)``.
    """
    h_last = hs[hs.shape[0] - 1]
    u = hs.shape[2]
    total = 0.0
    inv_n = _ONE / _F(nbr)
    for r in range(nbr):
        logit = bd[0]
        for j in range(u):
            logit += h_last[r, j] * mo[r, j] * wd[j]
        p, pre = _hard_sigmoid(logit, out_p)
        pc = min(max(p, _EPS_BCE), _ONE_MINUS_EPS_BCE)
        y = yb[r]
        total += -(y * math.log(pc) + (_ONE - y) * math.log(_ONE - pc))
        if want_grad:
            d = (-y / pc + (_ONE - y) / (_ONE - pc)) * inv_n
            # the clips pass the gradient strictly inside their range
            if p < _EPS_BCE or p > _ONE_MINUS_EPS_BCE or pre <= _ZERO or pre >= out_p[2]:
                d = _ZERO
            else:
                d = d * out_p[0] / out_p[2]
            g_bd[0] += d
            for j in range(u):
                g_wd[j] += d * h_last[r, j] * mo[r, j]
                dh[r, j] = d * wd[j] * mo[r, j]
    return total / nbr


@nb.njit(**_JIT)
def _draw_bits(state, n, threshold, one_bit):  # pragma: no cover - compiled
    """``n <= 64`` dropout decisions as a bit mask (bit k set: unit k kept).

    ``one_bit``: rate 0.5, the bits of one random word.  Otherwise decision k keeps the unit
    when 32 random bits ``r >= threshold`` (``threshold = rate * 2**32``; 0: keep all).
    """
    full = ~np.uint64(0) if n == 64 else (np.uint64(1) << np.uint64(n)) - np.uint64(1)
    if threshold == 0:
        return full
    if one_bit:
        return _next(state) & full
    bits = np.uint64(0)
    for k in range(0, n, 2):
        w = _next(state)
        if (w & np.uint64(0xFFFFFFFF)) >= threshold:
            bits |= np.uint64(1) << np.uint64(k)
        if k + 1 < n and (w >> np.uint64(32)) >= threshold:
            bits |= np.uint64(1) << np.uint64(k + 1)
    return bits


# Nibble tables.  The input dropout keeps a random subset of the D embedding units of each
# (row, step) pair p.  Units are taken 4 at a time ("nibbles"); for each flag value x, nibble
# position q and 4-bit code c the table holds sum_{bits b of c} s * E[x, 4q + b] * W[4q + b], so
# an input projection is a sum of ceil(D / 4) table rows instead of about D / 2 kernel rows (the
# bias is added to the rows of q = 0).  Backward, the gradients dz_p are binned by (x, q, code)
# and then spread back over the units.
_LOWBIT = np.array([0, 0, 1, 0, 2, 0, 1, 0, 3, 0, 1, 0, 2, 0, 1, 0], np.int64)
_CODES_WITH_BIT = np.array([[c for c in range(16) if c >> b & 1] for b in range(4)], np.int64)


@nb.njit(**_JIT)
def _build_tables(emb, kernel, b_in, scale, d, tab):  # pragma: no cover - compiled
    """``tab`` ``(2 * Q * 16, K)``: row ``(x * Q + q) * 16 + c`` is the sum over the bits ``b``
    of ``c`` (units ``4q + b < d``) of ``scale * E[x, 4q + b] * W[4q + b]``, plus the bias
    ``b_in`` for ``q = 0`` (so that an input projection is a plain sum of table rows)."""
    k = kernel.shape[1]
    nq = (d + 3) // 4
    for x in range(2):
        for q in range(nq):
            base = (x * nq + q) * 16
            tab[base, :] = _ZERO
            for c in range(1, 16):
                row = tab[base + c]
                low = c & -c
                if low == c:  # one unit
                    unit = 4 * q + _LOWBIT[c]
                    if unit < d:
                        e = scale * emb[x, unit]
                        krow = kernel[unit]
                        for j in range(k):
                            row[j] = e * krow[j]
                    else:
                        row[:] = _ZERO
                else:
                    ra = tab[base + low]
                    rb = tab[base + c - low]
                    for j in range(k):
                        row[j] = ra[j] + rb[j]
        for c in range(16):  # the bias, in the first nibble's rows
            row = tab[x * nq * 16 + c]
            for j in range(k):
                row[j] += b_in[j]


@nb.njit(**_JIT)
def _workspace(bsz, n_steps, d, u, k):  # pragma: no cover - compiled
    """Scratch buffers of :func:`_batch_loss_grad` for batches of ``bsz`` rows."""
    nq = (d + 3) // 4
    return (np.zeros((2 * nq * 16, k), np.float32),     # 0 tab: nibble tables
            np.zeros((2 * nq * 16, k), np.float32),     # 1 hist: binned dz
            np.zeros(max(nq, 8), np.int64),             # 2 rows: table rows to sum
            np.zeros((2, d, k), np.float32),            # 3 cx
            np.zeros((n_steps, bsz, k), np.float32),    # 4 gates (input projections first)
            np.zeros((n_steps, bsz, u), np.float32),    # 5 cs
            np.zeros((n_steps, bsz, u), np.float32),    # 6 ac
            np.zeros((n_steps + 1, bsz, u), np.float32),  # 7 hs
            np.zeros((bsz, k), np.float32),             # 8 rh
            np.zeros((n_steps, bsz, k), np.float32),    # 9 dzx
            np.zeros((n_steps, bsz, k), np.float32),    # 10 dzr
            np.zeros((bsz, u), np.float32),             # 11 dh
            np.zeros((bsz, u), np.float32),             # 12 dc
            np.zeros((3, max(n_steps - 1, 1) * bsz), np.float32),  # 13 coef
            np.zeros((bsz, u), np.float32))             # 14 mo: output dropout multipliers


@nb.njit(**_JIT)
def _batch_loss_grad(xb, yb, nbr, in_bits, out_bits, tp, grad, cell, u, d, scale, act_p,
                     ract_p, out_p, col_p, ws):  # pragma: no cover - compiled
    """One batch: the mean loss, and its gradient added to ``grad`` (padded layout).

    xb: ``(B, T)`` int flags; yb: ``(B,)``; the first ``nbr`` rows count.  in_bits: ``(B, T)``
    uint64, bit k set where embedding unit k of (row, step) is kept; out_bits: ``(B,)`` uint64,
    bit j set where unit j of the last ``h`` is kept; kept values are multiplied by ``scale``.
    tp, grad: padded flat weights and gradient (rows ``K`` wide, ``K`` a multiple of 8).

    With ``P`` the (row, step) pairs, ``z[p] = b + sum_{k kept} scale * E[x_p, k] * W[k]``;
    backward, ``cx[x, k] = sum_{p: x_p = x, k kept} dz[p]`` gives
    ``dW[k] = scale * (E[0, k] cx[0, k] + E[1, k] cx[1, k])`` and
    ``dE[x, k] = scale * W[k] . cx[x, k]``.
    """
    (tab, hist, rows, cx, gates, cs, ac, hs, rh, dzx, dzr, dh, dc, coef, mo) = ws
    gru = cell == 3
    n_steps = xb.shape[1]
    k = gates.shape[2]
    nq = (d + 3) // 4
    emb, kernel, rec, b_in, b_rec, wd, bd = _unpack(tp, d, u, k, gru)
    g_emb, g_kernel, g_rec, g_bin, g_brec, g_wd, g_bd = _unpack(grad, d, u, k, gru)
    # forward: input projections from the nibble tables (bias included), the cell, the head
    _build_tables(emb, kernel, b_in, scale, d, tab)
    for t in range(n_steps):
        for r in range(nbr):
            bits = in_bits[r, t]
            base = xb[r, t] * nq * 16
            for q in range(nq):
                rows[q] = base + q * 16 + np.int64((bits >> np.uint64(4 * q)) & np.uint64(15))
            _gather_sum(gates[t, r], tab, rows, nq)
    for r in range(nbr):
        bits = out_bits[r]
        for j in range(u):
            mo[r, j] = scale if (bits >> np.uint64(j)) & np.uint64(1) else _ZERO
    _recurrent_forward(nbr, rec, b_rec, cell, u, act_p, ract_p, col_p, gates, cs, ac, hs, rh)
    loss = _head(hs, nbr, mo, wd, bd, yb, dh, g_wd, g_bd, out_p, True)
    # backward
    _recurrent_backward(dh, nbr, rec, cell, u, act_p, ract_p, gates, cs, ac, hs, dzx, dzr, dc,
                        coef, g_rec, g_brec)
    # bin the dz by (x, nibble, code); code 0 too, so that the bins of one nibble position
    # sum to the bias gradient
    hist[:] = _ZERO
    for t in range(n_steps):
        for r in range(nbr):
            bits = in_bits[r, t]
            base = xb[r, t] * nq * 16
            for q in range(nq):
                rows[q] = base + q * 16 + np.int64((bits >> np.uint64(4 * q)) & np.uint64(15))
            _scatter_acc(hist, rows, nq, dzx[t, r])
    for x in range(2):
        for c in range(16):
            hrow = hist[x * nq * 16 + c]
            for j in range(k):
                g_bin[j] += hrow[j]
    for x in range(2):
        for q in range(nq):
            base = (x * nq + q) * 16
            for b in range(4):
                unit = 4 * q + b
                if unit >= d:
                    break
                for i in range(8):
                    rows[i] = base + _CODES_WITH_BIT[b, i]
                _gather_sum(cx[x, unit], hist, rows, 8)
    for kk in range(d):
        e0 = scale * emb[0, kk]
        e1 = scale * emb[1, kk]
        c0 = cx[0, kk]
        c1 = cx[1, kk]
        krow = kernel[kk]
        grow = g_kernel[kk]
        a0 = _ZERO
        a1 = _ZERO
        for j in range(k):
            grow[j] += e0 * c0[j] + e1 * c1[j]
        for j in range(k):
            a0 += krow[j] * c0[j]
        for j in range(k):
            a1 += krow[j] * c1[j]
        g_emb[0, kk] += scale * a0
        g_emb[1, kk] += scale * a1
    return loss


@nb.njit(**_JIT)
def _loss_grad(X, y, theta, in_bits, out_bits, cell, u, d, scale, act_p, ract_p,
               out_p):  # pragma: no cover - compiled
    """One batch's mean loss and gradient, in the unpadded layout: for tests.

    X: ``(n, T)`` uint8; y: ``(n,)``; theta: ``(P,)`` (:class:`ParamLayout`); in_bits
    ``(n, T)`` and out_bits ``(n,)`` uint64 dropout masks (see :func:`_batch_loss_grad`).
    Returns ``(loss, grad (P,))``.
    """
    n, n_steps = X.shape
    gru = cell == 3
    k0 = (4 if cell == 2 else 3) * u
    k = (k0 + 7) // 8 * 8
    size = _padded_size(d, u, k, gru)
    tp = np.zeros(size, np.float32)
    _copy_padded(theta, tp, d, u, k0, k, gru, True)
    grad = np.zeros(size, np.float32)
    xb = np.zeros((n, n_steps), np.int64)
    for r in range(n):
        for t in range(n_steps):
            xb[r, t] = X[r, t]
    ws = _workspace(n, n_steps, d, u, k)
    col_p = _gate_params(cell, u, act_p, ract_p)
    loss = _batch_loss_grad(xb, y, n, in_bits, out_bits, tp, grad, cell, u, d, scale, act_p,
                            ract_p, out_p, col_p, ws)
    out = np.zeros_like(theta)
    _copy_padded(grad, out, d, u, k0, k, gru, False)
    return loss, out


@nb.njit(**_JIT)
def _train_user(X, y, theta, m, v, steps, loss_hist, state, cell, u, d, epochs, batch_size,
                threshold, one_bit, scale, shuffle, lr, beta1, beta2, eps, act_p, ract_p,
                out_p):  # pragma: no cover - compiled
    """Train one user's network in place.

    X: ``(n, T)`` uint8 flags; y: ``(n,)`` float32; theta, m, v: ``(P,)`` float32 weights and
    Adam moments (:class:`ParamLayout`); steps: ``(1,)`` int64 Adam step count; loss_hist:
    ``(epochs,)`` float32 mean training loss per epoch; state: ``(1,)`` uint64 random stream,
    which draws, per epoch, a permutation of the rows, then for each batch and each of its rows
    the input dropout mask of every step and the output dropout mask.
    """
    n, n_steps = X.shape
    gru = cell == 3
    k0 = (4 if cell == 2 else 3) * u
    k = (k0 + 7) // 8 * 8  # rows padded to whole SIMD vectors; the padding stays 0
    bsz = batch_size
    size = _padded_size(d, u, k, gru)
    tp = np.zeros(size, np.float32)
    mp = np.zeros(size, np.float32)
    vp = np.zeros(size, np.float32)
    _copy_padded(theta, tp, d, u, k0, k, gru, True)
    _copy_padded(m, mp, d, u, k0, k, gru, True)
    _copy_padded(v, vp, d, u, k0, k, gru, True)
    grad = np.zeros(size, np.float32)
    col_p = _gate_params(cell, u, act_p, ract_p)
    ws = _workspace(bsz, n_steps, d, u, k)
    xb = np.zeros((bsz, n_steps), np.int64)
    yb = np.zeros(bsz, np.float32)
    in_bits = np.zeros((bsz, n_steps), np.uint64)
    out_bits = np.zeros(bsz, np.uint64)
    perm = np.arange(n)
    one_m_b1 = _F(1.0 - beta1)
    one_m_b2 = _F(1.0 - beta2)
    for epoch in range(epochs):
        if shuffle:  # Fisher-Yates
            for i in range(n - 1, 0, -1):
                j = np.int64(((_next(state) >> np.uint64(32)) * np.uint64(i + 1))
                             >> np.uint64(32))
                perm[i], perm[j] = perm[j], perm[i]
        epoch_loss = 0.0
        for start in range(0, n, bsz):
            nbr = min(bsz, n - start)
            for r in range(nbr):
                row = perm[start + r]
                for t in range(n_steps):
                    xb[r, t] = X[row, t]
                yb[r] = y[row]
                for t in range(n_steps):
                    in_bits[r, t] = _draw_bits(state, d, threshold, one_bit)
                out_bits[r] = _draw_bits(state, u, threshold, one_bit)
            grad[:] = _ZERO
            epoch_loss += nbr * _batch_loss_grad(xb, yb, nbr, in_bits, out_bits, tp, grad, cell,
                                                 u, d, scale, act_p, ract_p, out_p, col_p, ws)
            # Adam (Keras): alpha = lr * sqrt(1 - b2^t) / (1 - b1^t)
            steps[0] += 1
            t_f = float(steps[0])
            alpha = _F(lr * math.sqrt(1.0 - beta2 ** t_f) / (1.0 - beta1 ** t_f))
            for i in range(size):
                gi = grad[i]
                mi = mp[i] + (gi - mp[i]) * one_m_b1
                vi = vp[i] + (gi * gi - vp[i]) * one_m_b2
                mp[i] = mi
                vp[i] = vi
                tp[i] -= mi * alpha / (math.sqrt(vi) + eps)
        loss_hist[epoch] = epoch_loss / max(n, 1)
    _copy_padded(tp, theta, d, u, k0, k, gru, False)
    _copy_padded(mp, m, d, u, k0, k, gru, False)
    _copy_padded(vp, v, d, u, k0, k, gru, False)


@nb.njit(**_JIT)
def _predict_user(X, theta, cell, u, d, act_p, ract_p, out_p, out):  # pragma: no cover - compiled
    """Probabilities ``out`` ``(n,)`` of the rows ``X`` ``(n, T)`` uint8, without dropout."""
    n, n_steps = X.shape
    gru = cell == 3
    k0 = (4 if cell == 2 else 3) * u
    k = (k0 + 7) // 8 * 8
    tp = np.zeros(_padded_size(d, u, k, gru), np.float32)
    _copy_padded(theta, tp, d, u, k0, k, gru, True)
    emb, kernel, rec, b_in, b_rec, wd, bd = _unpack(tp, d, u, k, gru)
    col_p = _gate_params(cell, u, act_p, ract_p)
    proj = np.zeros((2, k), np.float32)  # E[x] @ W + b
    for x in range(2):
        for j in range(k):
            proj[x, j] = b_in[j]
        for kk in range(d):
            e = emb[x, kk]
            for j in range(k):
                proj[x, j] += e * kernel[kk, j]
    bsz = 64
    gates = np.zeros((n_steps, bsz, k), np.float32)
    cs = np.zeros((n_steps, bsz, u), np.float32)
    ac = np.zeros((n_steps, bsz, u), np.float32)
    hs = np.zeros((n_steps + 1, bsz, u), np.float32)
    rh = np.zeros((bsz, k), np.float32)
    h_last = hs[n_steps]
    for start in range(0, n, bsz):
        nbr = min(bsz, n - start)
        for t in range(n_steps):
            for r in range(nbr):
                gates[t, r, :] = proj[X[start + r, t]]
        _recurrent_forward(nbr, rec, b_rec, cell, u, act_p, ract_p, col_p, gates, cs, ac, hs, rh)
        for r in range(nbr):
            logit = bd[0]
            for j in range(u):
                logit += h_last[r, j] * wd[j]
            out[start + r] = _hard_sigmoid(logit, out_p)[0]


# --------------------------------------------------------------------------------------------
# Python API
# --------------------------------------------------------------------------------------------


def _as_flags(X: np.ndarray, n_attributes: int | None = None) -> np.ndarray:
    """Check ``X`` ``(n, n_attributes)`` holds only 0/1 and return it as uint8."""
    X = np.asarray(X)
    if X.ndim != 2 or (n_attributes is not None and X.shape[1] != n_attributes):
        raise ValueError(f"expected X of shape (n, {n_attributes}), got {X.shape}")
    if X.size and not np.isin(X, (0, 1)).all():
        raise ValueError("X must hold only 0/1 flags (the embedding sees 0 or 1)")
    return np.ascontiguousarray(X, dtype=np.uint8)


def _activation(name: str) -> np.ndarray:
    if name not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {name!r}")
    return np.asarray(_ACTIVATIONS[name], dtype=np.float32)


def _output_activation(name: str) -> np.ndarray:
    if name not in OUTPUT_ACTIVATIONS:
        raise ValueError(f"output_activation must be one of {sorted(OUTPUT_ACTIVATIONS)}, "
                         f"got {name!r}")
    return np.asarray(OUTPUT_ACTIVATIONS[name], dtype=np.float32)


def _n_threads(n_threads: int | None) -> int:
    if n_threads is not None:
        return max(1, int(n_threads))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@dataclass
class BatchedResult:
    """Per-user networks trained by :func:`train_users`.

    Attributes:
        user_ids: ``(n_users,)`` int64, in the order given to :func:`train_users`.
        layout: names and shapes of the weights.
        weights: ``{name: (n_users, *shape)}`` float32 trained weights (see
            :class:`ParamLayout`; ``embedding`` holds rows 0 and 1 only).
        adam_steps: ``(n_users,)`` int64: how many Adam updates each user received
            (``epochs * ceil(n_u / batch_size)``).
        loss_history: ``(n_users, epochs)`` float32: each epoch's mean training loss per row
            (the mean of the batch losses weighted by batch size, as Keras' ``history``).
        train_time_s: wall time of the training, in seconds (JIT compilation excluded).
        compile_time_s: wall time spent compiling the kernels in this call (0 when cached).
        config: the training settings (cell, epochs, batch_size, dropout, seed, ...).
    """

    user_ids: np.ndarray
    layout: ParamLayout
    weights: dict[str, np.ndarray]
    adam_steps: np.ndarray
    loss_history: np.ndarray
    train_time_s: float
    compile_time_s: float = 0.0
    config: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.user_ids)

    def index_of(self, user_id: int) -> int:
        """The position of ``user_id`` in :attr:`user_ids`."""
        hits = np.flatnonzero(self.user_ids == int(user_id))
        if not len(hits):
            raise KeyError(f"user {user_id} was not trained here")
        return int(hits[0])

    def user_weights(self, user_id: int) -> dict[str, np.ndarray]:
        """One user's weights ``{name: shape}`` (copies)."""
        i = self.index_of(user_id)
        return {name: w[i].copy() for name, w in self.weights.items()}

    def predict_proba(self, X_list: Sequence[np.ndarray], *,
                      n_threads: int | None = None) -> list[np.ndarray]:
        """Probability of "like" (dropout off) for each user's rows.

        Args:
            X_list: one ``(n_u, n_attributes)`` 0/1 array per user, in :attr:`user_ids` order.

        Returns:
            One ``(n_u,)`` float32 array per user.
        """
        return predict_users(self, X_list, n_threads=n_threads)

    def keras_weights(self, user_id: int) -> list[np.ndarray]:
        """One user's weights in the order and shapes of the Keras model's ``get_weights()``.

        The Keras embedding has 200 rows: rows 0 and 1 are the trained ones; the others,
        which 0/1 inputs never reach, keep their initial values (drawn as in
        :func:`init_weights`).
        """
        w = self.user_weights(user_id)
        lay = self.layout
        full = init_weights([user_id], cell=lay.cell, seed=int(self.config.get("seed", 0)),
                            n_attributes=lay.n_attributes, embedding_dim=lay.embedding_dim,
                            units=lay.units,
                            embedding_input_dim=int(self.config.get("embedding_input_dim",
                                                                    200)))["embedding"][0]
        full[:2] = w["embedding"]
        return [full, w["kernel"], w["recurrent_kernel"], w["bias"],
                w["dense_kernel"][:, None], w["dense_bias"]]

    def to_keras(self, user_id: int) -> "keras.Model":
        """The Keras model of :func:`recsys_utils.models.sequence.build_modified_lstm_recommender`
        (with the recurrent layer of :attr:`layout`'s cell) holding ``user_id``'s weights."""
        from recsys_utils.models.sequence import (build_modified_lstm_recommender,
                                                  keras2_hard_sigmoid)

        lay = self.layout
        cfg = self.config
        output = cfg.get("output_activation", "keras2_hard_sigmoid")
        model = build_modified_lstm_recommender(
            lay.n_attributes, units=lay.units, embedding_output_dim=lay.embedding_dim,
            embedding_input_dim=int(cfg.get("embedding_input_dim", 200)),
            dropout=float(cfg.get("dropout", 0.5)),
            activation=cfg.get("activation", "sigmoid"),
            recurrent_activation=cfg.get("recurrent_activation", "tanh"),
            output_activation=keras2_hard_sigmoid if output == "keras2_hard_sigmoid" else output,
            **_KERAS_BUILD[lay.cell])
        model.set_weights(self.keras_weights(user_id))
        return model


def _check_inputs(X_list: Sequence[np.ndarray], y_list: Sequence[np.ndarray] | None,
                  user_ids: Sequence[int] | None, n_attributes: int | None
                  ) -> tuple[list[np.ndarray], list[np.ndarray] | None, np.ndarray]:
    Xs = [_as_flags(X, n_attributes) for X in X_list]
    if n_attributes is None and Xs:
        n_attributes = Xs[0].shape[1]
        Xs = [_as_flags(X, n_attributes) for X in Xs]
    ys = None
    if y_list is not None:
        if len(y_list) != len(Xs):
            raise ValueError(f"{len(Xs)} X arrays but {len(y_list)} y arrays")
        ys = [np.ascontiguousarray(np.asarray(y, dtype=np.float32).reshape(-1)) for y in y_list]
        for i, (X, y) in enumerate(zip(Xs, ys)):
            if len(y) != len(X):
                raise ValueError(f"user #{i}: X has {len(X)} rows but y has {len(y)}")
    ids = np.arange(len(Xs), dtype=np.int64) if user_ids is None else np.asarray(user_ids,
                                                                                 np.int64)
    if len(ids) != len(Xs):
        raise ValueError(f"{len(Xs)} X arrays but {len(ids)} user ids")
    if len(np.unique(ids)) != len(ids):
        raise ValueError("user ids must be unique (each seeds its own random streams)")
    return Xs, ys, ids


def train_users(
    X_list: Sequence[np.ndarray],
    y_list: Sequence[np.ndarray],
    user_ids: Sequence[int] | None = None,
    *,
    cell: str = "modified",
    epochs: int = 100,
    batch_size: int = 10,
    dropout: float = 0.5,
    seed: int = 0,
    learning_rate: float = 1e-3,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-7,
    units: int | None = None,
    embedding_dim: int = 50,
    activation: str = "sigmoid",
    recurrent_activation: str = "tanh",
    output_activation: str = "keras2_hard_sigmoid",
    shuffle: bool = True,
    initial_weights: dict[str, np.ndarray] | None = None,
    n_threads: int | None = None,
    progress: bool = True,
) -> BatchedResult:
    """Train one independent recommender per user (see the module docstring).

    Args:
        X_list: one ``(n_u, n_attributes)`` 0/1 array per user (the genre flags).
        y_list: one ``(n_u,)`` 0/1 array per user (1 = like).
        user_ids: ``(n_users,)`` distinct ids; each seeds the user's random streams, so a
            user's result does not depend on the other users. Default ``0..n_users-1``.
        cell: one of :data:`CELLS`.
        epochs, batch_size: as Keras' ``fit``; every epoch visits every row once, in a fresh
            random order (``shuffle=True``) or in the given order.
        dropout: the rate of both Dropout layers (0.5 in the report).  0.5 uses one random bit
            per decision; other rates compare 32 random bits with ``rate * 2**32``.
        learning_rate, beta_1, beta_2, epsilon: Adam's settings (Keras 3's defaults).
        units: the recurrent layer's size; ``None`` means ``n_attributes`` (the report's).
        activation, recurrent_activation: ``"sigmoid"`` or ``"tanh"`` (report: sigmoid, tanh).
        output_activation: a key of :data:`OUTPUT_ACTIVATIONS`: ``"keras2_hard_sigmoid"`` (the
            Keras 2 function the report ran, and the default of
            :func:`recsys_utils.models.sequence.build_modified_lstm_recommender`) or
            ``"hard_sigmoid"`` (Keras 3's).
        initial_weights: ``{name: (n_users, *shape)}`` as in :class:`ParamLayout`; default
            :func:`init_weights` with ``seed``.
        n_threads: worker threads (default: the CPUs this process may use).
        progress: show a tqdm progress bar over users.

    Returns:
        A :class:`BatchedResult`.
    """
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    if not (0 < embedding_dim <= 64 and (units is None or 0 < units <= 64)):
        raise ValueError("embedding_dim and units must be in 1..64 (masks are 64-bit words)")
    if batch_size < 1 or epochs < 0:
        raise ValueError("batch_size must be >= 1 and epochs >= 0")
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {CELLS}, got {cell!r}")
    Xs, ys, ids = _check_inputs(X_list, y_list, user_ids, None)
    assert ys is not None
    n_attributes = Xs[0].shape[1] if Xs else 18
    units = n_attributes if units is None else int(units)
    layout = ParamLayout(cell, n_attributes, embedding_dim, units)
    if initial_weights is None:
        initial_weights = init_weights(ids, cell=cell, seed=seed, n_attributes=n_attributes,
                                       embedding_dim=embedding_dim, units=units)
    for name, shape in layout.shapes.items():
        got = np.shape(initial_weights[name])
        if got != (len(ids),) + shape:
            raise ValueError(f"initial_weights[{name!r}] has shape {got}, "
                             f"expected {(len(ids),) + shape}")
    theta = layout.flatten(initial_weights)
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    steps = np.zeros((len(ids), 1), np.int64)
    loss_hist = np.zeros((len(ids), epochs), np.float32)
    states = np.stack([_rng_state(seed, u) for u in ids]) if len(ids) else np.zeros((0, 1),
                                                                                    np.uint64)
    one_bit = dropout == 0.5
    threshold = np.uint64(min(round(dropout * 2.0**32), 2**32 - 1))
    scale = _F(1.0 / (1.0 - dropout))
    act_p, ract_p = _activation(activation), _activation(recurrent_activation)
    out_p = _output_activation(output_activation)
    code = _CELL_CODE[cell]
    lr, b1, b2, eps = float(learning_rate), float(beta_1), float(beta_2), _F(epsilon)

    def run(i: int) -> int:
        _train_user(Xs[i], ys[i], theta[i], m[i], v[i], steps[i], loss_hist[i], states[i],
                    code, units, embedding_dim, int(epochs), int(batch_size), threshold, one_bit,
                    scale, bool(shuffle), lr, b1, b2, eps, act_p, ract_p, out_p)
        return i

    compile_time = _warm_up(cell, n_attributes, embedding_dim, units, act_p, ract_p, out_p)
    order = sorted(range(len(ids)), key=lambda i: -len(Xs[i]))  # largest first
    start = time.perf_counter()
    bar = _progress(len(ids), progress, f"training {len(ids)} users ({cell})")
    with ThreadPoolExecutor(max_workers=_n_threads(n_threads)) as pool:
        for fut in as_completed([pool.submit(run, i) for i in order]):
            fut.result()
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    elapsed = time.perf_counter() - start
    config = {"cell": cell, "epochs": epochs, "batch_size": batch_size, "dropout": dropout,
              "seed": seed, "learning_rate": learning_rate, "beta_1": beta_1, "beta_2": beta_2,
              "epsilon": epsilon, "activation": activation,
              "recurrent_activation": recurrent_activation,
              "output_activation": output_activation, "shuffle": shuffle,
              "embedding_input_dim": 200}
    return BatchedResult(ids, layout, layout.unflatten(theta), steps[:, 0].copy(), loss_hist,
                         elapsed, compile_time, config)


def predict_users(result: BatchedResult, X_list: Sequence[np.ndarray], *,
                  n_threads: int | None = None) -> list[np.ndarray]:
    """Probability of "like" for each user's rows ``(n_u, n_attributes)`` -> ``(n_u,)``."""
    if len(X_list) != len(result.user_ids):
        raise ValueError(f"{len(X_list)} X arrays for {len(result.user_ids)} users")
    lay = result.layout
    Xs = [_as_flags(X, lay.n_attributes) for X in X_list]
    theta = lay.flatten(result.weights)
    act_p = _activation(result.config.get("activation", "sigmoid"))
    ract_p = _activation(result.config.get("recurrent_activation", "tanh"))
    out_p = _output_activation(result.config.get("output_activation", "keras2_hard_sigmoid"))
    code = _CELL_CODE[lay.cell]
    outs = [np.zeros(len(X), np.float32) for X in Xs]

    def run(i: int) -> None:
        _predict_user(Xs[i], theta[i], code, lay.units, lay.embedding_dim, act_p, ract_p, out_p,
                      outs[i])

    with ThreadPoolExecutor(max_workers=_n_threads(n_threads)) as pool:
        list(pool.map(run, range(len(Xs))))
    return outs


def _warm_up(cell: str, n_attributes: int, embedding_dim: int, units: int, act_p: np.ndarray,
             ract_p: np.ndarray, out_p: np.ndarray) -> float:
    """Compile (or load from Numba's cache) the kernels on a tiny problem; return the seconds."""
    start = time.perf_counter()
    layout = ParamLayout(cell, n_attributes, embedding_dim, units)
    theta = np.zeros(layout.size, np.float32)
    X = np.zeros((2, n_attributes), np.uint8)
    _train_user(X, np.zeros(2, np.float32), theta, theta.copy(), theta.copy(),
                np.zeros(1, np.int64), np.zeros(1, np.float32), np.ones(1, np.uint64),
                _CELL_CODE[cell], units, embedding_dim, 1, 1, np.uint64(2**31), True, _F(2.0),
                True, 1e-3, 0.9, 0.999, _F(1e-7), act_p, ract_p, out_p)
    return time.perf_counter() - start


def _progress(total: int, enabled: bool, desc: str) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="user")
