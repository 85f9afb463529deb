"""The recurrent pass of a batch, forward and backward through time, for the four cells.

Cells (codes of ``recsys_utils.batched.layout``), with gate blocks of ``u`` columns in Keras'
order: modified (i, C~, o; ``C_t = i_t C~_t``), nfg (i, C~, o; ``C_t = C_{t-1} + i_t C~_t``),
LSTM (i, f, c, o; Keras' ``LSTM``), GRU (z, r, h; Keras' ``GRU`` with ``reset_after=True``).
Buffers are time-major: ``(T, B, ...)``.
"""

from __future__ import annotations

from recsys_utils.batched.jit import ONE, ZERO, kernel, squash_grad, tanh
from recsys_utils.batched.layout import CELL_GRU, CELL_LSTM, CELL_MODIFIED, CELL_NFG
from recsys_utils.batched.linalg import dots2_acc, dots_acc, gemv2_acc, gemv3_acc, gemv_acc
from recsys_utils.batched.weights import n_gates


@kernel
def recurrent_forward(net, nbr, rec, b_rec, col_p, fwd):  # pragma: no cover - compiled
    """Run the cell over the steps for the first ``nbr`` rows (time-major buffers).

    ``fwd.gates`` ``(T, B, K)`` holds the input projections (bias included) on entry, which
    the pass overwrites in place with the gate activations.  Fills ``fwd.cs`` ``(T, B, u)``
    (cell states C_t), ``fwd.ac`` ``(T, B, u)`` (``act(C_t)``; for the GRU
    ``h_{t-1} @ U_h + b_h``) and ``fwd.hs`` ``(T + 1, B, u)`` (``hs[0] = 0``); ``fwd.rh``
    ``(B, K)`` is scratch.  rec: ``(u, K)``; b_rec: ``(K,)`` (GRU) or empty; ``col_p``
    ``(3, K)``: see :func:`~recsys_utils.batched.weights.gate_params`.
    """
    cell, u, act_p, ract_p = net.cell, net.units, net.act, net.ract
    gates, cs, ac, hs, rh = fwd.gates, fwd.cs, fwd.ac, fwd.hs, fwd.rh
    n_steps = gates.shape[0]
    k = rec.shape[1]
    asc, asa, asb = act_p[0], act_p[1], act_p[2]
    rsc, rsa, rsb = ract_p[0], ract_p[1], ract_p[2]
    csc, csa, csb = col_p[0], col_p[1], col_p[2]
    oo = n_gates(cell) * u - u  # the output gate (or GRU candidate): last block
    hs[0] = ZERO
    for t in range(n_steps):
        g_t = gates[t]
        h_prev = hs[t]
        h_new = hs[t + 1]
        c_t = cs[t]
        a_t = ac[t]
        # h_{t-1} @ U, two rows at a time: added to z_t = x_t W + b, or (GRU) kept apart in rh
        if cell == CELL_GRU:
            for r in range(nbr):
                rh[r] = b_rec
            rz = rh
        else:
            rz = g_t
        if t > 0:
            for r in range(0, nbr - 1, 2):
                gemv2_acc(rz[r], rz[r + 1], h_prev[r], h_prev[r + 1], rec, u)
            if nbr % 2:
                gemv_acc(rz[nbr - 1], h_prev[nbr - 1], rec, u)
        for r in range(nbr):
            g = g_t[r]
            if cell == CELL_GRU:  # GRU: z, r, h
                hp = h_prev[r]
                rr = rh[r]
                for j in range(2 * u):
                    g[j] = rsa * tanh(rsc * (g[j] + rr[j])) + rsb
                for j in range(u):
                    g[oo + j] = asa * tanh(asc * (g[oo + j] + g[u + j] * rr[oo + j])) + asb
                for j in range(u):
                    a_t[r, j] = rr[oo + j]
                hn = h_new[r]
                for j in range(u):
                    hn[j] = g[j] * hp[j] + (ONE - g[j]) * g[oo + j]
                continue
            for j in range(k):
                g[j] = csa[j] * tanh(csc[j] * g[j]) + csb[j]
            c = c_t[r]
            if cell == CELL_LSTM:  # LSTM: i, f, c, o
                for j in range(u):
                    c[j] = g[j] * g[2 * u + j]
                if t > 0:
                    cp = cs[t - 1, r]
                    for j in range(u):
                        c[j] += g[u + j] * cp[j]
            else:  # modified (f = 0) or nfg (f = 1): i, c, o
                for j in range(u):
                    c[j] = g[j] * g[u + j]
                if cell == CELL_NFG and t > 0:
                    cp = cs[t - 1, r]
                    for j in range(u):
                        c[j] += cp[j]
        if cell != CELL_GRU:
            for r in range(nbr):
                c = c_t[r]
                a = a_t[r]
                for j in range(u):
                    a[j] = asa * tanh(asc * c[j]) + asb
                g = g_t[r]
                hn = h_new[r]
                for j in range(u):
                    hn[j] = g[oo + j] * a[j]


@kernel
def recurrent_backward(net, nbr, rec, fwd, bwd, g_rec, g_brec):  # pragma: no cover - compiled
    """Backpropagate ``bwd.dh`` ``(B, u)`` (the loss gradient w.r.t. the last ``h``) through
    the steps of :func:`recurrent_forward` (whose buffers ``fwd`` it reads).

    Writes the gradients w.r.t. the input projections to ``bwd.dzx`` ``(T, B, K)`` and
    accumulates those of the recurrent kernel ``g_rec`` ``(u, K)`` and (GRU) recurrent bias
    ``g_brec`` ``(K,)``; ``bwd.dzr`` ``(T, B, K)`` (GRU: the gradients w.r.t. the recurrent
    pre-activations), ``bwd.dc`` ``(B, u)`` and ``bwd.coef`` ``(3, (T - 1) * B)`` are scratch.
    """
    cell, u, act_p, ract_p = net.cell, net.units, net.act, net.ract
    gates, cs, ac, hs = fwd.gates, fwd.cs, fwd.ac, fwd.hs
    dzx, dzr, dh, dc, coef = bwd.dzx, bwd.dzr, bwd.dh, bwd.dc, bwd.coef
    n_steps, bsz, k = gates.shape
    asc, asa, asb = act_p[0], act_p[1], act_p[2]
    rsc, rsa, rsb = ract_p[0], ract_p[1], ract_p[2]
    oo = n_gates(cell) * u - u
    if cell == CELL_LSTM:
        fo, co = u, 2 * u
    else:
        fo, co = 0, u
    # the gradient w.r.t. the recurrent pre-activations: dzx itself but for the GRU
    drs = dzr if cell == CELL_GRU else dzx
    dc[:] = ZERO
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
            if cell == CELL_GRU:  # GRU: z, r, h
                dr = drs[t, r]
                for j in range(u):
                    dhj = dhr[j]
                    gz = g[j]
                    gr = g[u + j]
                    gh = g[oo + j]
                    dxh = dhj * (ONE - gz) * squash_grad(gh, asc, asa, asb)
                    dxz = dhj * (hp[j] - gh) * squash_grad(gz, rsc, rsa, rsb)
                    dxr = dxh * ar[j] * squash_grad(gr, rsc, rsa, rsb)
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
                dcj = dcr[j] + dhj * go * squash_grad(aj, asc, asa, asb)
                dx[oo + j] = dhj * aj * squash_grad(go, rsc, rsa, rsb)
                dx[j] = dcj * gc * squash_grad(gi, rsc, rsa, rsb)
                dx[co + j] = dcj * gi * squash_grad(gc, asc, asa, asb)
                if cell == CELL_LSTM:  # LSTM: the forget gate
                    gf = g[fo + j]
                    dx[fo + j] = dcj * cp[j] * squash_grad(gf, rsc, rsa, rsb) if t > 0 else ZERO
                    dcj *= gf
                elif cell == CELL_MODIFIED:  # modified: C_t does not reach C_{t-1}
                    dcj = ZERO
                dcr[j] = dcj  # nfg: C_{t-1}'s gradient is C_t's
                dhr[j] = ZERO
        if cell == CELL_GRU:
            for r in range(nbr):
                dr = drs[t, r]
                for j in range(g_brec.shape[0]):
                    g_brec[j] += dr[j]
        if t > 0:  # h_{t-1}'s gradient through the recurrent kernel, two rows at a time
            for r in range(0, nbr - 1, 2):
                dots2_acc(dh[r], dh[r + 1], drs[t, r], drs[t, r + 1], rec, u)
            if nbr % 2:
                dots_acc(dh[nbr - 1], drs[t, nbr - 1], rec, u)
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
                        coef[c, (t - 1) * bsz + r] = hs[t, r, i + c] if r < nbr else ZERO
            if m == 3:
                gemv3_acc(g_rec[i], g_rec[i + 1], g_rec[i + 2], coef[0], coef[1], coef[2], pairs, n_pairs)
            elif m == 2:
                gemv2_acc(g_rec[i], g_rec[i + 1], coef[0], coef[1], pairs, n_pairs)
            else:
                gemv_acc(g_rec[i], coef[0], pairs, n_pairs)
