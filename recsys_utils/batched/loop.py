"""One user's whole training loop, and prediction, each as one compiled call.

A call releases the GIL, so ``recsys_utils.batched.driver`` runs users on parallel threads.
"""

from __future__ import annotations

import math

import numpy as np

from recsys_utils.batched.batch import batch_loss_grad, forward_buffers, probability, workspace
from recsys_utils.batched.inputs import draw_bits, draw_mask
from recsys_utils.batched.jit import F32, ZERO, inline_kernel, kernel, next_random
from recsys_utils.batched.layout import CELL_GRU, TRAINED_EMBEDDING_ROWS
from recsys_utils.batched.recurrent import recurrent_forward
from recsys_utils.batched.weights import copy_padded, gate_params, to_padded, unpack

_HALF = np.uint64(32)
#: Rows per pass of :func:`predict_user`.
PREDICT_BATCH = 64


@inline_kernel
def shuffle_rows(perm, state):  # pragma: no cover - compiled
    """Fisher-Yates shuffle of ``perm`` ``(n,)`` in place, from the random stream ``state``."""
    for i in range(perm.shape[0] - 1, 0, -1):
        j = np.int64(((next_random(state) >> _HALF) * np.uint64(i + 1)) >> _HALF)
        perm[i], perm[j] = perm[j], perm[i]


@inline_kernel
def load_batch(X, y, perm, start, nbr, ws, state, net, dropout):  # pragma: no cover - compiled
    """Copy rows ``perm[start:start + nbr]`` of ``X`` ``(n, T)``, ``y`` ``(n,)`` into
    ``ws.batch`` and draw, row by row, the input dropout mask of every step then the output
    mask (the order of the random stream)."""
    batch = ws.batch
    n_steps = X.shape[1]
    for r in range(nbr):
        row = perm[start + r]
        for t in range(n_steps):
            batch.x[r, t] = X[row, t]
        batch.y[r] = y[row]
        for t in range(n_steps):
            batch.in_bits[r, t] = draw_bits(state, net.embedding_dim, dropout.threshold, dropout.one_bit)
        draw_mask(state, batch.out_bits[r], net.units, dropout)


@inline_kernel
def adam_step(tp, mp, vp, grad, steps, adam):  # pragma: no cover - compiled
    """One Adam update of the padded weights ``tp`` and moments ``mp``, ``vp`` (all
    ``(size,)``) from ``grad``; Keras' rule: ``alpha = lr * sqrt(1 - b2^t) / (1 - b1^t)``."""
    one_m_b1 = F32(1.0 - adam.beta1)
    one_m_b2 = F32(1.0 - adam.beta2)
    steps[0] += 1
    t_f = float(steps[0])
    alpha = F32(adam.lr * math.sqrt(1.0 - adam.beta2**t_f) / (1.0 - adam.beta1**t_f))
    eps = adam.eps
    for i in range(tp.shape[0]):
        gi = grad[i]
        mi = mp[i] + (gi - mp[i]) * one_m_b1
        vi = vp[i] + (gi * gi - vp[i]) * one_m_b2
        mp[i] = mi
        vp[i] = vi
        tp[i] -= mi * alpha / (math.sqrt(vi) + eps)


@kernel
def train_user(X, y, user, net, fit):  # pragma: no cover - compiled
    """Train one user's network in place.

    X: ``(n, T)`` uint8 flags; y: ``(n,)`` float32; ``user``: the user's
    :class:`~recsys_utils.batched.kernel_types.UserState` (weights, Adam moments and step
    count, loss per epoch, random stream), updated in place; ``net``: the network
    (``Net``); ``fit``: the
    ``FitConfig``.  Per epoch the random stream draws
    a permutation of the rows, then for each batch and each of its rows the input dropout mask
    of every step and the output dropout mask.
    """
    n, n_steps = X.shape
    schedule, dropout = fit.schedule, fit.dropout
    bsz = schedule.batch_size
    tp = to_padded(user.theta, net)
    mp = to_padded(user.m, net)
    vp = to_padded(user.v, net)
    grad = np.zeros(tp.shape[0], np.float32)
    ws = workspace(net, bsz, n_steps)
    perm = np.arange(n)
    for epoch in range(schedule.epochs):
        if schedule.shuffle:
            shuffle_rows(perm, user.rng)
        epoch_loss = 0.0
        for start in range(0, n, bsz):
            nbr = min(bsz, n - start)
            load_batch(X, y, perm, start, nbr, ws, user.rng, net, dropout)
            grad[:] = ZERO
            epoch_loss += nbr * batch_loss_grad(net, nbr, tp, grad, dropout.scale, ws)
            adam_step(tp, mp, vp, grad, user.steps, fit.adam)
        user.loss_hist[epoch] = epoch_loss / max(n, 1)
    copy_padded(tp, user.theta, net, False)
    copy_padded(mp, user.m, net, False)
    copy_padded(vp, user.v, net, False)


@kernel
def predict_user(X, theta, net, out):  # pragma: no cover - compiled
    """Probabilities ``out`` ``(n,)`` of the rows ``X`` ``(n, T)`` uint8, without dropout;
    ``theta`` ``(P,)`` in :class:`ParamLayout` order."""
    n, n_steps = X.shape
    tp = to_padded(theta, net)
    d, u = net.embedding_dim, net.units
    col_p = gate_params(net)
    k = col_p.shape[1]
    w = unpack(tp, d, u, k, net.cell == CELL_GRU)
    proj = np.zeros((TRAINED_EMBEDDING_ROWS, k), np.float32)  # E[x] @ W + b
    for x in range(TRAINED_EMBEDDING_ROWS):
        for j in range(k):
            proj[x, j] = w.b_in[j]
        for kk in range(d):
            e = w.emb[x, kk]
            for j in range(k):
                proj[x, j] += e * w.kernel[kk, j]
    fwd = forward_buffers(n_steps, PREDICT_BATCH, u, k)
    h_last = fwd.hs[n_steps]
    for start in range(0, n, PREDICT_BATCH):
        nbr = min(PREDICT_BATCH, n - start)
        for t in range(n_steps):
            for r in range(nbr):
                fwd.gates[t, r, :] = proj[X[start + r, t]]
        recurrent_forward(net, nbr, w.rec, w.b_rec, col_p, fwd)
        for r in range(nbr):
            logit = w.bd[0]
            for j in range(u):
                logit += h_last[r, j] * w.wd[j]
            out[start + r] = probability(net, logit)
