"""The per-user networks' forward pass and loss, vectorised over a leading user axis.

Shapes: ``U`` users, ``B`` rows per batch, ``T`` steps (genre attributes), ``d`` embedding
units, ``u`` recurrent units, ``K = gates * u``.  Every weight carries the user axis first
(``{name: (U, *shape)}`` as in :class:`recsys_utils.batched.ParamLayout`), and every product
is a batched one over users (``einsum("ub...,u...->ub...")``), so each user's network sees its
own weights only.  The arithmetic is that of the Numba kernels (``recsys_utils.batched.batch``
and ``recurrent``): ``f(x) = sa * tanh(sc * x) + sb`` for every squashing function, the same
cells, Keras' binary cross-entropy; TensorFlow's autodiff gives the gradients.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from recsys_utils.batched.config import Network
from recsys_utils.batched.layout import (
    ACTIVATIONS,
    N_GATES,
    OUTPUT_ACTIVATIONS,
    SIGMOID_OUTPUT,
)

#: Keras' ``backend.epsilon()``: the clip of a hard sigmoid's probability in the loss.
EPS_BCE = np.float32(1e-7)
#: The gate that takes ``activation`` (the candidate); the others take ``recurrent_activation``.
_CANDIDATE = {"modified": 1, "nfg": 1, "lstm": 2, "gru": 2}
_TANH = ACTIVATIONS["tanh"]


@dataclass(frozen=True)
class NetSpec:
    """One user's network as plain numbers (hashable: it keys the compiled functions).

    ``act`` / ``ract``: ``(sc, sa, sb)`` of ``activation`` / ``recurrent_activation``;
    ``out``: ``(a, c, top)`` of a hard-sigmoid output, ``None`` for a sigmoid output.
    """

    cell: str
    units: int
    embedding_dim: int
    n_attributes: int
    dropout: float
    act: tuple[float, float, float]
    ract: tuple[float, float, float]
    out: tuple[float, float, float] | None

    @classmethod
    def of(cls, network: Network, n_attributes: int) -> NetSpec:
        """The spec of ``network`` over ``n_attributes`` steps."""
        layout = network.layout(n_attributes)
        out = (
            None
            if network.output_activation == SIGMOID_OUTPUT
            else OUTPUT_ACTIVATIONS[network.output_activation]
        )
        return cls(
            network.cell,
            layout.units,
            layout.embedding_dim,
            n_attributes,
            float(network.dropout),
            tuple(ACTIVATIONS[network.activation]),
            tuple(ACTIVATIONS[network.recurrent_activation]),
            None if out is None else tuple(out),
        )

    @property
    def n_gates(self) -> int:
        return N_GATES[self.cell]


def squash(x: tf.Tensor, params: tuple[float, float, float]) -> tf.Tensor:
    """``sa * tanh(sc * x) + sb`` (``params = (sc, sa, sb)``); plain ``tanh`` for tanh."""
    if tuple(params) == _TANH:
        return tf.tanh(x)
    sc, sa, sb = (np.float32(p) for p in params)
    return sa * tf.tanh(sc * x) + sb


def _input_projections(
    spec: NetSpec, w: dict[str, tf.Tensor], x: tf.Tensor, in_keep: tf.Tensor | None
) -> tf.Tensor:
    """``(U, B, T, K)``: ``dropout(E[x]) @ W + b`` of the flags ``x`` ``(U, B, T)`` (uint8);
    ``in_keep`` ``(U, B, T, d)`` the input dropout multipliers, or ``None``."""
    emb = w["embedding"]  # (U, 2, d): the rows of the flag values 0 and 1
    e = tf.where(x[..., None] > 0, emb[:, None, None, 1], emb[:, None, None, 0])  # (U, B, T, d)
    if in_keep is not None:
        e = e * in_keep
    bias = w["bias"][:, 0] if spec.cell == "gru" else w["bias"]  # (U, K): the input bias
    return tf.einsum("ubtd,udk->ubtk", e, w["kernel"]) + bias[:, None, None, :]


def _gru_step(spec: NetSpec, w: dict[str, tf.Tensor], z_t: tf.Tensor, h: tf.Tensor | None) -> tf.Tensor:
    """One step of Keras' GRU (``reset_after=True``): ``(U, B, K)`` projections -> ``h``
    ``(U, B, u)``."""
    rr = w["bias"][:, 1][:, None, :]  # (U, 1, K): the recurrent bias
    if h is not None:
        rr = rr + tf.einsum("ubj,ujk->ubk", h, w["recurrent_kernel"])
    xz, xr, xh = tf.split(z_t, 3, axis=-1)
    rz, rr_, rh = tf.split(rr, 3, axis=-1)
    gz = squash(xz + rz, spec.ract)
    gr = squash(xr + rr_, spec.ract)
    gh = squash(xh + gr * rh, spec.act)
    new = (1.0 - gz) * gh
    return new if h is None else gz * h + new


def _lstm_family_step(
    spec: NetSpec,
    w: dict[str, tf.Tensor],
    z_t: tf.Tensor,
    state: tuple[tf.Tensor, tf.Tensor] | None,
) -> tuple[tf.Tensor, tf.Tensor]:
    """One step of the modified, nfg or LSTM cell: ``(U, B, K)`` projections and ``(h, C)``
    (``None`` at the first step) -> the new ``(h, C)``, each ``(U, B, u)``."""
    if state is not None:
        z_t = z_t + tf.einsum("ubj,ujk->ubk", state[0], w["recurrent_kernel"])
    blocks = tf.split(z_t, spec.n_gates, axis=-1)
    cand = _CANDIDATE[spec.cell]
    g = [squash(b, spec.act if i == cand else spec.ract) for i, b in enumerate(blocks)]
    if spec.cell == "lstm":  # i, f, c, o
        c = g[0] * g[2]
        if state is not None:
            c = c + g[1] * state[1]
    else:  # modified (f = 0) or nfg (f = 1): i, c, o
        c = g[0] * g[1]
        if spec.cell == "nfg" and state is not None:
            c = c + state[1]
    return g[-1] * squash(c, spec.act), c


def last_hidden(
    spec: NetSpec, w: dict[str, tf.Tensor], x: tf.Tensor, in_keep: tf.Tensor | None = None
) -> tf.Tensor:
    """``(U, B, u)``: the recurrent layer's last output for the flags ``x`` ``(U, B, T)``."""
    z = _input_projections(spec, w, x, in_keep)
    h, state = None, None
    for t in range(spec.n_attributes):  # unrolled: T is small (18)
        if spec.cell == "gru":
            h = _gru_step(spec, w, z[:, :, t], h)
        else:
            state = _lstm_family_step(spec, w, z[:, :, t], state)
            h = state[0]
    return h


def logits(spec: NetSpec, w: dict[str, tf.Tensor], h: tf.Tensor, out_keep: tf.Tensor | None) -> tf.Tensor:
    """``(U, B)``: the dense layer on ``h`` ``(U, B, u)`` after the output dropout
    multipliers ``out_keep`` ``(U, B, u)`` (or ``None``)."""
    if out_keep is not None:
        h = h * out_keep
    return tf.einsum("ubj,uj->ub", h, w["dense_kernel"]) + w["dense_bias"]


def probability(spec: NetSpec, logit: tf.Tensor) -> tf.Tensor:
    """The output activation: a hard sigmoid ``clip(a x + c, 0, top) / top`` or a sigmoid."""
    if spec.out is None:
        return tf.sigmoid(logit)
    a, c, top = (np.float32(p) for p in spec.out)
    return tf.clip_by_value(a * logit + c, 0.0, top) / top


def row_losses(spec: NetSpec, logit: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
    """``(U, B)`` Keras' binary cross-entropy of each row: of the probability clipped to
    ``[1e-7, 1 - 1e-7]`` for a hard sigmoid, of the logit for a sigmoid
    (``max(x, 0) - x y + log(1 + exp(-|x|))``)."""
    if spec.out is None:
        return tf.maximum(logit, 0.0) - logit * y + tf.math.log1p(tf.exp(-tf.abs(logit)))
    p = tf.clip_by_value(probability(spec, logit), EPS_BCE, np.float32(1.0) - EPS_BCE)
    return -(y * tf.math.log(p) + (1.0 - y) * tf.math.log(1.0 - p))


def batch_objective(
    spec: NetSpec,
    w: dict[str, tf.Tensor],
    batch: tuple[tf.Tensor, tf.Tensor, tf.Tensor],
    masks: tuple[tf.Tensor | None, tf.Tensor | None],
) -> tuple[tf.Tensor, tf.Tensor]:
    """Every user's mean loss over the real rows of their batch, summed over users, and each
    user's sum of row losses.

    Args:
        batch: ``x`` ``(U, B, T)`` uint8 flags, ``y`` ``(U, B)`` float32 labels, ``rows``
            ``(U, B)`` float32 1 for a real row, 0 for padding.
        masks: the input ``(U, B, T, d)`` and output ``(U, B, u)`` dropout multipliers, or
            ``None`` without dropout.

    Returns:
        ``(objective (), row_loss_sums (U,))``; the gradient of the objective with respect
        to a user's weights is the gradient of that user's batch loss (the users are apart).
    """
    x, y, rows = batch
    h = last_hidden(spec, w, x, masks[0])
    losses = row_losses(spec, logits(spec, w, h, masks[1]), y) * rows
    sums = tf.reduce_sum(losses, axis=1)
    n_real = tf.maximum(tf.reduce_sum(rows, axis=1), 1.0)
    return tf.reduce_sum(sums / n_real), sums
