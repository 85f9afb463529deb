"""The typed records that the kernels pass around, instead of long argument lists.

They are ``typing.NamedTuple`` classes rather than dataclasses because Numba compiles
named tuples (their fields keep their names and types inside the kernels; a dataclass cannot
enter nopython code).  Shapes use ``B`` (rows of a batch), ``T`` (steps: the attributes, 18),
``d`` (embedding size), ``u`` (units), ``K`` (``gates * u`` rounded up to a multiple of 8, the
padded row width of the kernel's working weights), ``Q = ceil(d / 4)`` (groups of 4 embedding
units) and ``P`` (weights of one user).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Net(NamedTuple):
    """One user's network, as the kernels see it (the same for every user of a call)."""

    cell: int  #: a cell code (``CELL_*`` of ``recsys_utils.batched.layout``)
    units: int  #: ``u``
    embedding_dim: int  #: ``d``
    output: int  #: ``OUTPUT_HARD_SIGMOID`` or ``OUTPUT_SIGMOID``
    act: np.ndarray  #: ``(3,)`` float32 ``(sc, sa, sb)`` of ``activation``
    ract: np.ndarray  #: ``(3,)`` float32 ``(sc, sa, sb)`` of ``recurrent_activation``
    out: np.ndarray  #: ``(3,)`` float32 ``(a, c, top)`` of a hard-sigmoid output


class Dropout(NamedTuple):
    """How dropout masks are drawn (see :func:`recsys_utils.batched.batch.draw_bits`)."""

    threshold: np.uint64  #: keep a unit when 32 random bits are ``>=`` this (0: keep all)
    one_bit: bool  #: rate 0.5: one random bit per decision
    scale: np.float32  #: ``1 / (1 - rate)``, the multiplier of kept units


class Adam(NamedTuple):
    """Adam's settings (Keras' update rule)."""

    lr: float
    beta1: float
    beta2: float
    eps: np.float32


class Schedule(NamedTuple):
    """Keras ``fit``'s loop: epochs, batch size, whether to shuffle every epoch."""

    epochs: int
    batch_size: int
    shuffle: bool


class FitConfig(NamedTuple):
    """Everything about one training call that is not a user's data or state."""

    schedule: Schedule
    dropout: Dropout
    adam: Adam


class UserState(NamedTuple):
    """One user's trained state, updated in place (unpadded :class:`ParamLayout` order)."""

    theta: np.ndarray  #: ``(P,)`` float32 weights
    m: np.ndarray  #: ``(P,)`` float32 Adam first moments
    v: np.ndarray  #: ``(P,)`` float32 Adam second moments
    steps: np.ndarray  #: ``(1,)`` int64 Adam step count
    loss_hist: np.ndarray  #: ``(epochs,)`` float32 mean training loss per epoch
    rng: np.ndarray  #: ``(1,)`` uint64 SplitMix64 state


class Weights(NamedTuple):
    """Views of a flat weight (or gradient) vector, rows ``k`` wide (``k`` = ``gates * u`` or
    the padded ``K``)."""

    emb: np.ndarray  #: ``(2, d)`` embedding rows of the flags 0 and 1
    kernel: np.ndarray  #: ``(d, k)``
    rec: np.ndarray  #: ``(u, k)`` recurrent kernel
    b_in: np.ndarray  #: ``(k,)`` (input) bias
    b_rec: np.ndarray  #: ``(k,)`` GRU recurrent bias; empty ``(0,)`` for the other cells
    wd: np.ndarray  #: ``(u,)`` dense kernel
    bd: np.ndarray  #: ``(1,)`` dense bias


class Forward(NamedTuple):
    """Buffers of the recurrent forward pass (time-major)."""

    gates: np.ndarray  #: ``(T, B, K)``: input projections, overwritten by gate activations
    cs: np.ndarray  #: ``(T, B, u)`` cell states ``C_t``
    ac: np.ndarray  #: ``(T, B, u)`` ``act(C_t)``; GRU: ``h_{t-1} @ U_h + b_h``
    hs: np.ndarray  #: ``(T + 1, B, u)`` hidden states, ``hs[0] = 0``
    rh: np.ndarray  #: ``(B, K)`` scratch: GRU recurrent pre-activations


class Backward(NamedTuple):
    """Buffers of the recurrent backward pass."""

    dzx: np.ndarray  #: ``(T, B, K)`` gradients w.r.t. the input projections
    dzr: np.ndarray  #: ``(T, B, K)`` GRU: gradients w.r.t. the recurrent pre-activations
    dh: np.ndarray  #: ``(B, u)`` gradient w.r.t. the current ``h``
    dc: np.ndarray  #: ``(B, u)`` gradient w.r.t. the current ``C``
    coef: np.ndarray  #: ``(3, max(T - 1, 1) * B)`` scratch of the recurrent kernel's gradient


class InputTables(NamedTuple):
    """The nibble tables of the input projection (see ``recsys_utils.batched.batch``)."""

    tab: np.ndarray  #: ``(2 * Q * 16, K)`` subset sums of ``scale * E[x, k] * W[k]``
    hist: np.ndarray  #: ``(2 * Q * 16, K)`` the ``dz`` binned by table row
    rows: np.ndarray  #: ``(max(Q, 8),)`` int64 table rows to sum
    cx: np.ndarray  #: ``(2, d, K)`` per flag value and unit: the sum of its kept ``dz``


class BatchRows(NamedTuple):
    """One mini-batch: its rows and their dropout masks."""

    x: np.ndarray  #: ``(B, T)`` int64 flags
    y: np.ndarray  #: ``(B,)`` float32 labels
    in_bits: np.ndarray  #: ``(B, T)`` uint64: bit k set where embedding unit k is kept
    out_bits: np.ndarray  #: ``(B, W)`` uint64, ``W = ceil(u / 64)``: bit j % 64 of word
    #: j // 64 set where unit j of the last ``h`` is kept
    mo: np.ndarray  #: ``(B, u)`` float32 output dropout multipliers (0 or ``scale``)


class Workspace(NamedTuple):
    """Every scratch buffer of a batch's loss and gradient, allocated once per user."""

    batch: BatchRows
    tables: InputTables
    fwd: Forward
    bwd: Backward
    col_p: np.ndarray  #: ``(3, K)`` activation parameters of each gate column
