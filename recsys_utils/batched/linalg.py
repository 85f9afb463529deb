"""Small dense products of the kernels, unrolled so that each row is loaded once per pass.

All arrays are float32 and C-contiguous; a "row" is a contiguous vector of length ``k`` (the
padded width ``K``, a multiple of 8, so that the inner loops are whole SIMD vectors).  The
``*_acc`` functions add to their output.
"""

from __future__ import annotations

from recsys_utils.batched.jit import ZERO, kernel


@kernel
def gemv_acc(out, coef, mat, n):  # pragma: no cover - compiled
    """``out += sum_{i < n} coef[i] * mat[i]``: rows ``mat[i]`` as long as ``out``.

    Unrolled by 6 so that ``out`` is loaded and stored once per 6 rows.
    """
    k = out.shape[0]
    i = 0
    while i + 6 <= n:
        c0, c1, c2, c3, c4, c5 = coef[i], coef[i + 1], coef[i + 2], coef[i + 3], coef[i + 4], coef[i + 5]
        m0, m1, m2, m3, m4, m5 = mat[i], mat[i + 1], mat[i + 2], mat[i + 3], mat[i + 4], mat[i + 5]
        for j in range(k):
            out[j] += (c0 * m0[j] + c1 * m1[j]) + (c2 * m2[j] + c3 * m3[j]) + (c4 * m4[j] + c5 * m5[j])
        i += 6
    while i < n:
        c0 = coef[i]
        m0 = mat[i]
        for j in range(k):
            out[j] += c0 * m0[j]
        i += 1


@kernel
def gemv2_acc(out0, out1, coef0, coef1, mat, n):  # pragma: no cover - compiled
    """``out0 += sum_{i < n} coef0[i] * mat[i]`` and ``out1 += sum_{i < n} coef1[i] * mat[i]``.

    Four rows per pass, each loaded once for both outputs (half the traffic of two
    :func:`gemv_acc`, and fuller vector loops).
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


@kernel
def gemv3_acc(out0, out1, out2, coef0, coef1, coef2, mat, n):  # pragma: no cover - compiled
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


@kernel
def gather_sum(out, mat, idx, n):  # pragma: no cover - compiled
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


@kernel
def scatter_acc(mat, idx, n, vec):  # pragma: no cover - compiled
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


@kernel
def dots_acc(out, vec, mat, n):  # pragma: no cover - compiled
    """``out[i] += vec . mat[i]`` for ``i < n``, three rows at a time."""
    k = vec.shape[0]
    i = 0
    while i + 3 <= n:
        m0, m1, m2 = mat[i], mat[i + 1], mat[i + 2]
        a0 = ZERO
        a1 = ZERO
        a2 = ZERO
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
        a0 = ZERO
        for j in range(k):
            a0 += vec[j] * m0[j]
        out[i] += a0
        i += 1


@kernel
def dots2_acc(out0, out1, vec0, vec1, mat, n):  # pragma: no cover - compiled
    """``out0[i] += vec0 . mat[i]`` and ``out1[i] += vec1 . mat[i]`` for ``i < n``: two
    vectors against three rows at a time (six sums per pass, each row loaded once for both)."""
    k = vec0.shape[0]
    i = 0
    while i + 3 <= n:
        m0, m1, m2 = mat[i], mat[i + 1], mat[i + 2]
        a0 = ZERO
        a1 = ZERO
        a2 = ZERO
        b0 = ZERO
        b1 = ZERO
        b2 = ZERO
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
        a0 = ZERO
        b0 = ZERO
        for j in range(k):
            a0 += vec0[j] * m0[j]
            b0 += vec1[j] * m0[j]
        out0[i] += a0
        out1[i] += b0
        i += 1
