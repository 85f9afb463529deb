"""One mini-batch: forward pass, loss, and the gradient of every weight.

The network (:func:`recsys_utils.models.sequence.build_modified_lstm_recommender` and
:func:`~recsys_utils.models.sequence.build_lstm_recommender`)::

    (B, T) 0/1 flags -> embedding -> input dropout -> (B, T, d) -> recurrent cell (u units)
      -> output dropout -> (B, u) -> Dense(1) -> hard sigmoid or sigmoid -> (B,)

and the loss Keras' binary cross-entropy: for a hard sigmoid, of the output clipped to
``[1e-7, 1 - 1e-7]``; for a sigmoid, of the logit (Keras 3 reads the logit behind a sigmoid
output: ``tf.nn.sigmoid_cross_entropy_with_logits``).
"""

from __future__ import annotations

import math

import numpy as np

from recsys_utils.batched.inputs import (
    CODES,
    CODES_PER_BIT,
    NIBBLE,
    WORD_BITS,
    build_tables,
    input_gradients,
    project_inputs,
)
from recsys_utils.batched.jit import F32, ONE, ZERO, inline_kernel, kernel
from recsys_utils.batched.kernel_types import Backward, BatchRows, Forward, InputTables, Workspace
from recsys_utils.batched.layout import CELL_GRU, OUTPUT_SIGMOID, TRAINED_EMBEDDING_ROWS
from recsys_utils.batched.recurrent import recurrent_backward, recurrent_forward
from recsys_utils.batched.weights import (
    N_SQUASH_PARAMS,
    copy_padded,
    gate_params,
    n_gates,
    padded_size,
    padded_width,
    unpack,
)

EPS_BCE = F32(1e-7)  # keras.backend.epsilon(): the clip of the predicted probability
ONE_MINUS_EPS_BCE = F32(1.0 - 1e-7)
# Indices of a hard sigmoid's parameters (layout.OUTPUT_ACTIVATIONS): p = clip(a x + c, 0, top)
_SLOPE, _SHIFT, _TOP = 0, 1, 2


@inline_kernel
def hard_sigmoid(logit, out_p):  # pragma: no cover - compiled
    """``(p, pre)``: ``pre = a * logit + c`` and ``p = clip(pre, 0, top) / top``."""
    pre = out_p[_SLOPE] * logit + out_p[_SHIFT]
    return min(max(pre, ZERO), out_p[_TOP]) / out_p[_TOP], pre


@inline_kernel
def sigmoid(logit):  # pragma: no cover - compiled
    """The logistic function in float32."""
    return ONE / (ONE + math.exp(-logit))


@inline_kernel
def probability(net, logit):  # pragma: no cover - compiled
    """The network's output for a logit: a hard sigmoid or a sigmoid (``net.output``)."""
    if net.output == OUTPUT_SIGMOID:
        return sigmoid(logit)
    return hard_sigmoid(logit, net.out)[0]


@inline_kernel
def head(net, nbr, hs, batch, w, g, dh):  # pragma: no cover - compiled
    """Output dropout, Dense(1), output activation and binary cross-entropy of the first
    ``nbr`` rows; returns the batch's mean loss.

    ``hs`` ``(T + 1, B, u)``: the last ``h`` is ``hs[T]``; ``batch.mo`` ``(B, u)`` the output
    dropout multipliers, ``batch.y`` ``(B,)`` the labels; ``w``, ``g``: weights and gradient
    (:class:`~recsys_utils.batched.kernel_types.Weights`).  Writes the gradient w.r.t. the
    last ``h`` to ``dh`` ``(B, u)`` and adds those of the dense layer to ``g``.
    """
    if net.output == OUTPUT_SIGMOID:
        return _head_sigmoid(nbr, hs, batch.mo, batch.y, w.wd, w.bd, dh, g.wd, g.bd)
    return _head_hard_sigmoid(nbr, hs, batch.mo, batch.y, w.wd, w.bd, dh, g.wd, g.bd, net.out)


@kernel
def _head_hard_sigmoid(nbr, hs, mo, yb, wd, bd, dh, g_wd, g_bd, out_p):  # pragma: no cover - compiled
    """:func:`head` for a hard-sigmoid output: the loss of the output clipped to
    ``[1e-7, 1 - 1e-7]``.  (Kept apart from the sigmoid's: with fastmath, merging the two
    changes LLVM's choices and the last bits of the results.)"""
    h_last = hs[hs.shape[0] - 1]
    u = hs.shape[2]
    total = 0.0
    inv_n = ONE / F32(nbr)
    for r in range(nbr):
        logit = bd[0]
        for j in range(u):
            logit += h_last[r, j] * mo[r, j] * wd[j]
        p, pre = hard_sigmoid(logit, out_p)
        pc = min(max(p, EPS_BCE), ONE_MINUS_EPS_BCE)
        y = yb[r]
        total += -(y * math.log(pc) + (ONE - y) * math.log(ONE - pc))
        d = (-y / pc + (ONE - y) / (ONE - pc)) * inv_n
        # the clips pass the gradient strictly inside their range
        if p < EPS_BCE or p > ONE_MINUS_EPS_BCE or pre <= ZERO or pre >= out_p[_TOP]:
            d = ZERO
        else:
            d = d * out_p[_SLOPE] / out_p[_TOP]
        g_bd[0] += d
        for j in range(u):
            g_wd[j] += d * h_last[r, j] * mo[r, j]
            dh[r, j] = d * wd[j] * mo[r, j]
    return total / nbr


@kernel
def _head_sigmoid(nbr, hs, mo, yb, wd, bd, dh, g_wd, g_bd):  # pragma: no cover - compiled
    """:func:`head` for a sigmoid output: Keras' loss from the logit ``x``,
    ``max(x, 0) - x y + log(1 + exp(-|x|))`` (``tf.nn.sigmoid_cross_entropy_with_logits``), and
    TensorFlow's gradient of that expression."""
    h_last = hs[hs.shape[0] - 1]
    u = hs.shape[2]
    total = 0.0
    inv_n = ONE / F32(nbr)
    for r in range(nbr):
        logit = bd[0]
        for j in range(u):
            logit += h_last[r, j] * mo[r, j] * wd[j]
        y = yb[r]
        e = math.exp(-abs(logit))
        total += max(logit, ZERO) - logit * y + math.log1p(e)
        if logit >= ZERO:
            d = (ONE - y - e / (ONE + e)) * inv_n
        else:
            d = (e / (ONE + e) - y) * inv_n
        g_bd[0] += d
        for j in range(u):
            g_wd[j] += d * h_last[r, j] * mo[r, j]
            dh[r, j] = d * wd[j] * mo[r, j]
    return total / nbr


@inline_kernel
def forward_buffers(n_steps, bsz, u, k):  # pragma: no cover - compiled
    """Zeroed :class:`~recsys_utils.batched.kernel_types.Forward` buffers for ``bsz`` rows."""
    return Forward(
        np.zeros((n_steps, bsz, k), np.float32),
        np.zeros((n_steps, bsz, u), np.float32),
        np.zeros((n_steps, bsz, u), np.float32),
        np.zeros((n_steps + 1, bsz, u), np.float32),
        np.zeros((bsz, k), np.float32),
    )


@kernel
def workspace(net, bsz, n_steps):  # pragma: no cover - compiled
    """Every buffer of :func:`batch_loss_grad` for batches of up to ``bsz`` rows of
    ``n_steps`` steps (:class:`~recsys_utils.batched.kernel_types.Workspace`)."""
    d, u = net.embedding_dim, net.units
    k = padded_width(n_gates(net.cell) * u)
    nq = (d + NIBBLE - 1) // NIBBLE
    n_rows = TRAINED_EMBEDDING_ROWS * nq * CODES
    n_words = (u + WORD_BITS - 1) // WORD_BITS
    batch = BatchRows(
        np.zeros((bsz, n_steps), np.int64),
        np.zeros(bsz, np.float32),
        np.zeros((bsz, n_steps), np.uint64),
        np.zeros((bsz, n_words), np.uint64),
        np.zeros((bsz, u), np.float32),
    )
    tables = InputTables(
        np.zeros((n_rows, k), np.float32),
        np.zeros((n_rows, k), np.float32),
        np.zeros(max(nq, CODES_PER_BIT), np.int64),
        np.zeros((TRAINED_EMBEDDING_ROWS, d, k), np.float32),
    )
    bwd = Backward(
        np.zeros((n_steps, bsz, k), np.float32),
        np.zeros((n_steps, bsz, k), np.float32),
        np.zeros((bsz, u), np.float32),
        np.zeros((bsz, u), np.float32),
        np.zeros((N_SQUASH_PARAMS, max(n_steps - 1, 1) * bsz), np.float32),
    )
    return Workspace(batch, tables, forward_buffers(n_steps, bsz, u, k), bwd, gate_params(net))


@kernel
def batch_loss_grad(net, nbr, tp, grad, scale, ws):  # pragma: no cover - compiled
    """One batch: the mean loss of its first ``nbr`` rows, and its gradient added to ``grad``.

    ``ws.batch`` holds the rows and their dropout masks (kept values are multiplied by
    ``scale``); ``tp``, ``grad``: padded flat weights and gradient (rows ``K`` wide).
    """
    gru = net.cell == CELL_GRU
    d, u = net.embedding_dim, net.units
    fwd, bwd, batch = ws.fwd, ws.bwd, ws.batch
    k = fwd.gates.shape[2]
    w = unpack(tp, d, u, k, gru)
    g = unpack(grad, d, u, k, gru)
    # forward: input projections from the nibble tables (bias included), the cell, the head
    build_tables(w, scale, d, ws.tables.tab)
    project_inputs(nbr, batch, ws.tables, d, fwd.gates)
    out_bits, mo = batch.out_bits, batch.mo
    for r in range(nbr):
        for j in range(u):
            bits = out_bits[r, j // WORD_BITS]
            mo[r, j] = scale if (bits >> np.uint64(j % WORD_BITS)) & np.uint64(1) else ZERO
    recurrent_forward(net, nbr, w.rec, w.b_rec, ws.col_p, fwd)
    loss = head(net, nbr, fwd.hs, batch, w, g, bwd.dh)
    # backward
    recurrent_backward(net, nbr, w.rec, fwd, bwd, g.rec, g.b_rec)
    input_gradients(nbr, batch, ws.tables, w, g, scale, bwd.dzx)
    return loss


@kernel
def loss_grad(X, y, theta, in_bits, out_bits, net, scale):  # pragma: no cover - compiled
    """One batch's mean loss and gradient, in the unpadded layout (for tests).

    X: ``(n, T)`` uint8; y: ``(n,)`` float32; theta: ``(P,)`` (:class:`ParamLayout`); in_bits
    ``(n, T)`` and out_bits ``(n, ceil(u / 64))`` uint64 dropout masks (see
    :class:`~recsys_utils.batched.kernel_types.BatchRows`).  Returns ``(loss, grad (P,))``.
    """
    n, n_steps = X.shape
    gru = net.cell == CELL_GRU
    k = padded_width(n_gates(net.cell) * net.units)
    size = padded_size(net.embedding_dim, net.units, k, gru)
    tp = np.zeros(size, np.float32)
    copy_padded(theta, tp, net, True)
    grad = np.zeros(size, np.float32)
    ws = workspace(net, n, n_steps)
    for r in range(n):
        for t in range(n_steps):
            ws.batch.x[r, t] = X[r, t]
            ws.batch.in_bits[r, t] = in_bits[r, t]
        ws.batch.y[r] = y[r]
        ws.batch.out_bits[r] = out_bits[r]
    loss = batch_loss_grad(net, n, tp, grad, scale, ws)
    out = np.zeros_like(theta)
    copy_padded(grad, out, net, False)
    return loss, out
