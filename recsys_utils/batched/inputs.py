"""Dropout masks and the input projection through them ("nibble tables").

The input dropout keeps a random subset of the ``d`` embedding units of each (row, step) pair
``p``, so the input projection is ``z[p] = b + sum_{k kept} s * E[x_p, k] * W[k]`` (``s`` the
dropout scale).  Units are taken 4 at a time ("nibbles"): for each flag value ``x``, nibble
position ``q`` and 4-bit code ``c`` a table row holds ``sum_{bits b of c} s * E[x, 4q + b] *
W[4q + b]`` (the bias added to the rows of ``q = 0``), so a projection is a sum of ``Q =
ceil(d / 4)`` table rows instead of about ``d / 2`` kernel rows.  Backward, the gradients
``dz[p]`` are binned by table row (code 0 included, so that the bins of one nibble position sum
to the bias gradient) and spread back over the units.
"""

from __future__ import annotations

import numpy as np

from recsys_utils.batched.jit import ZERO, inline_kernel, kernel, next_random
from recsys_utils.batched.layout import TRAINED_EMBEDDING_ROWS
from recsys_utils.batched.linalg import gather_sum, scatter_acc

#: Bits per random word; a mask of up to this many units is one word.
WORD_BITS = 64
#: Embedding units per table group, and the table rows of one group (all 4-bit codes).
NIBBLE = 4
CODES = 16
#: Codes with a given bit set (8 of the 16).
CODES_PER_BIT = 8
_NIBBLE_MASK = np.uint64(CODES - 1)
_LOW32 = np.uint64(0xFFFFFFFF)
_HALF = np.uint64(32)
#: ``_LOWBIT[c]``: the position of the lowest set bit of ``c`` (0 for 0).
_LOWBIT = np.array([0, 0, 1, 0, 2, 0, 1, 0, 3, 0, 1, 0, 2, 0, 1, 0], np.int64)
#: ``_CODES_WITH_BIT[b]``: the 8 codes with bit ``b`` set.
_CODES_WITH_BIT = np.array([[c for c in range(CODES) if c >> b & 1] for b in range(NIBBLE)], np.int64)


@kernel
def draw_bits(state, n, threshold, one_bit):  # pragma: no cover - compiled
    """``n <= 64`` dropout decisions as a bit mask (bit k set: unit k kept).

    ``one_bit``: rate 0.5, the bits of one random word.  Otherwise decision k keeps the unit
    when 32 random bits ``r >= threshold`` (``threshold = rate * 2**32``; 0: keep all, drawing
    nothing).
    """
    full = ~np.uint64(0) if n == WORD_BITS else (np.uint64(1) << np.uint64(n)) - np.uint64(1)
    if threshold == 0:
        return full
    if one_bit:
        return next_random(state) & full
    bits = np.uint64(0)
    for k in range(0, n, 2):
        w = next_random(state)
        if (w & _LOW32) >= threshold:
            bits |= np.uint64(1) << np.uint64(k)
        if k + 1 < n and (w >> _HALF) >= threshold:
            bits |= np.uint64(1) << np.uint64(k + 1)
    return bits


@inline_kernel
def draw_mask(state, out, n, dropout):  # pragma: no cover - compiled
    """Fill ``out`` ``(ceil(n / 64),)`` uint64 with the mask of ``n`` units (word ``w`` holds
    units ``64 w ..``); ``n <= 64`` draws exactly what one :func:`draw_bits` draws."""
    for w in range(out.shape[0]):
        out[w] = draw_bits(state, min(WORD_BITS, n - WORD_BITS * w), dropout.threshold, dropout.one_bit)


@kernel
def build_tables(w, scale, d, tab):  # pragma: no cover - compiled
    """``tab`` ``(2 * Q * 16, K)``: row ``(x * Q + q) * 16 + c`` is the sum over the bits ``b``
    of ``c`` (units ``4q + b < d``) of ``scale * E[x, 4q + b] * W[4q + b]``, plus the bias
    ``b_in`` for ``q = 0`` (so that an input projection is a plain sum of table rows).
    ``w``: the :class:`~recsys_utils.batched.kernel_types.Weights` (padded)."""
    emb, kernel_, b_in = w.emb, w.kernel, w.b_in
    k = kernel_.shape[1]
    nq = (d + NIBBLE - 1) // NIBBLE
    for x in range(TRAINED_EMBEDDING_ROWS):
        for q in range(nq):
            base = (x * nq + q) * CODES
            tab[base, :] = ZERO
            for c in range(1, CODES):
                row = tab[base + c]
                low = c & -c
                if low == c:  # one unit
                    unit = NIBBLE * q + _LOWBIT[c]
                    if unit < d:
                        e = scale * emb[x, unit]
                        krow = kernel_[unit]
                        for j in range(k):
                            row[j] = e * krow[j]
                    else:
                        row[:] = ZERO
                else:
                    ra = tab[base + low]
                    rb = tab[base + c - low]
                    for j in range(k):
                        row[j] = ra[j] + rb[j]
        for c in range(CODES):  # the bias, in the first nibble's rows
            row = tab[x * nq * CODES + c]
            for j in range(k):
                row[j] += b_in[j]


@inline_kernel
def project_inputs(nbr, batch, tables, d, gates):  # pragma: no cover - compiled
    """``gates[t, r]`` ``(T, B, K)`` = the input projection of (row ``r < nbr``, step ``t``):
    the sum of its table rows (:func:`build_tables` must have filled ``tables.tab``)."""
    tab, rows = tables.tab, tables.rows
    xb, in_bits = batch.x, batch.in_bits
    n_steps = xb.shape[1]
    nq = (d + NIBBLE - 1) // NIBBLE
    for t in range(n_steps):
        for r in range(nbr):
            bits = in_bits[r, t]
            base = xb[r, t] * nq * CODES
            for q in range(nq):
                rows[q] = base + q * CODES + np.int64((bits >> np.uint64(NIBBLE * q)) & _NIBBLE_MASK)
            gather_sum(gates[t, r], tab, rows, nq)


@inline_kernel
def input_gradients(nbr, batch, tables, w, g, scale, dzx):  # pragma: no cover - compiled
    """Add the gradients of the input bias, kernel and embedding to ``g`` (padded
    :class:`~recsys_utils.batched.kernel_types.Weights`), from ``dzx`` ``(T, B, K)``.

    With ``cx[x, k] = sum_{p: x_p = x, k kept} dz[p]``: ``dW[k] = scale * (E[0, k] cx[0, k] +
    E[1, k] cx[1, k])`` and ``dE[x, k] = scale * W[k] . cx[x, k]``.
    """
    hist, rows, cx = tables.hist, tables.rows, tables.cx
    xb, in_bits = batch.x, batch.in_bits
    emb, kernel_ = w.emb, w.kernel
    g_emb, g_kernel, g_bin = g.emb, g.kernel, g.b_in
    n_steps = xb.shape[1]
    k = dzx.shape[2]
    d = emb.shape[1]
    nq = (d + NIBBLE - 1) // NIBBLE
    # bin the dz by (x, nibble, code); code 0 too, so that the bins of one nibble position
    # sum to the bias gradient
    hist[:] = ZERO
    for t in range(n_steps):
        for r in range(nbr):
            bits = in_bits[r, t]
            base = xb[r, t] * nq * CODES
            for q in range(nq):
                rows[q] = base + q * CODES + np.int64((bits >> np.uint64(NIBBLE * q)) & _NIBBLE_MASK)
            scatter_acc(hist, rows, nq, dzx[t, r])
    for x in range(TRAINED_EMBEDDING_ROWS):
        for c in range(CODES):
            hrow = hist[x * nq * CODES + c]
            for j in range(k):
                g_bin[j] += hrow[j]
    for x in range(TRAINED_EMBEDDING_ROWS):
        for q in range(nq):
            base = (x * nq + q) * CODES
            for b in range(NIBBLE):
                unit = NIBBLE * q + b
                if unit >= d:
                    break
                for i in range(CODES_PER_BIT):
                    rows[i] = base + _CODES_WITH_BIT[b, i]
                gather_sum(cx[x, unit], hist, rows, CODES_PER_BIT)
    for kk in range(d):
        e0 = scale * emb[0, kk]
        e1 = scale * emb[1, kk]
        c0 = cx[0, kk]
        c1 = cx[1, kk]
        krow = kernel_[kk]
        grow = g_kernel[kk]
        a0 = ZERO
        a1 = ZERO
        for j in range(k):
            grow[j] += e0 * c0[j] + e1 * c1[j]
        for j in range(k):
            a0 += krow[j] * c0[j]
        for j in range(k):
            a1 += krow[j] * c1[j]
        g_emb[0, kk] += scale * a0
        g_emb[1, kk] += scale * a1
