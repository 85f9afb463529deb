"""Kernels that view a user's flat weight vector: its parts, its padded working copy.

The trainer works on a copy of a user's weights whose rows are padded from ``gates * u`` to
``K``, a multiple of :data:`~recsys_utils.batched.jit.SIMD_LANES` (full SIMD vectors, no loop
remainders); the padding columns stay 0 and get no gradient.
"""

from __future__ import annotations

import numpy as np

from recsys_utils.batched.jit import ONE, SIMD_LANES, inline_kernel, kernel
from recsys_utils.batched.kernel_types import Weights
from recsys_utils.batched.layout import CELL_GRU, CELL_LSTM, TRAINED_EMBEDDING_ROWS

# Gate blocks of each cell: the LSTM has four (i, f, c, o), the others three.
_LSTM_GATES = 4
_OTHER_GATES = 3
# The candidate block: the 3rd of the LSTM (i, f, c, o), the 2nd otherwise (i, c, o).
_LSTM_CANDIDATE = 2
_OTHER_CANDIDATE = 1
#: Rows of ``col_p`` (:func:`gate_params`): ``(sc, sa, sb)`` of ``sa * tanh(sc * x) + sb``.
N_SQUASH_PARAMS = 3


@inline_kernel
def n_gates(cell):  # pragma: no cover - compiled
    """Gate blocks of the cell with code ``cell``."""
    return _LSTM_GATES if cell == CELL_LSTM else _OTHER_GATES


@inline_kernel
def padded_width(k0):  # pragma: no cover - compiled
    """``k0`` rounded up to a multiple of :data:`SIMD_LANES`."""
    return (k0 + SIMD_LANES - 1) // SIMD_LANES * SIMD_LANES


@kernel
def unpack(theta, d, u, k, gru):  # pragma: no cover - compiled
    """:class:`Weights` views of a flat vector ``theta`` in :class:`ParamLayout` order, with
    rows ``k`` wide (``gates * u`` for the user-facing layout, ``K`` for the padded copy)."""
    o1 = TRAINED_EMBEDDING_ROWS * d
    o2 = o1 + d * k
    o3 = o2 + u * k
    nbias = 2 * k if gru else k
    o4 = o3 + nbias
    o5 = o4 + u
    emb = theta[0:o1].reshape((TRAINED_EMBEDDING_ROWS, d))
    kernel_ = theta[o1:o2].reshape((d, k))
    rec = theta[o2:o3].reshape((u, k))
    b_in = theta[o3 : o3 + k]
    b_rec = theta[o3 + k : o4] if gru else theta[o3:o3]  # empty unless GRU
    wd = theta[o4:o5]
    bd = theta[o5 : o5 + 1]
    return Weights(emb, kernel_, rec, b_in, b_rec, wd, bd)


@kernel
def padded_size(d, u, kp, gru):  # pragma: no cover - compiled
    """Length of a flat weight vector whose rows are ``kp`` wide."""
    return TRAINED_EMBEDDING_ROWS * d + d * kp + u * kp + (2 * kp if gru else kp) + u + 1


@kernel
def copy_padded(src, dst, net, to_padded):  # pragma: no cover - compiled
    """Copy weights between the flat layout (rows ``gates * u`` wide) and the padded one
    (rows ``K`` wide): ``src`` -> ``dst``, ``to_padded`` saying which way."""
    d, u = net.embedding_dim, net.units
    gru = net.cell == CELL_GRU
    k = n_gates(net.cell) * u
    kp = padded_width(k)
    if to_padded:
        ka, kb = k, kp
    else:
        ka, kb = kp, k
    a = unpack(src, d, u, ka, gru)
    b = unpack(dst, d, u, kb, gru)
    b.emb[:] = a.emb
    b.kernel[:, :k] = a.kernel[:, :k]
    b.rec[:, :k] = a.rec[:, :k]
    b.b_in[:k] = a.b_in[:k]
    if gru:
        b.b_rec[:k] = a.b_rec[:k]
    b.wd[:] = a.wd
    b.bd[:] = a.bd


@inline_kernel
def to_padded(theta, net):  # pragma: no cover - compiled
    """A padded working copy ``(padded_size,)`` of a flat weight vector ``theta`` ``(P,)``."""
    kp = padded_width(n_gates(net.cell) * net.units)
    out = np.zeros(padded_size(net.embedding_dim, net.units, kp, net.cell == CELL_GRU), np.float32)
    copy_padded(theta, out, net, True)
    return out


@kernel
def gate_params(net):  # pragma: no cover - compiled
    """``(3, K)``: the activation parameters ``(sc, sa, sb)`` of each (padded) gate column,
    LSTM family (the candidate's are ``net.act``, the gates' ``net.ract``; padding: tanh)."""
    cell, u = net.cell, net.units
    ng = n_gates(cell)
    kp = padded_width(ng * u)
    out = np.zeros((N_SQUASH_PARAMS, kp), np.float32)
    out[1] = ONE  # padding columns: tanh
    candidate = _LSTM_CANDIDATE if cell == CELL_LSTM else _OTHER_CANDIDATE
    for g in range(ng):
        p = net.act if g == candidate else net.ract
        for j in range(u):
            for i in range(N_SQUASH_PARAMS):
                out[i, g * u + j] = p[i]
    return out
