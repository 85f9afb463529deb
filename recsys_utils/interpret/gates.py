"""The forget-gate-free cell, step by step, in NumPy: every gate at every position.

:func:`trace_modified_lstm` re-runs a trained model's embedding, modified-LSTM cell and output
unit in NumPy (float64) and keeps ``i_t``, ``C~_t``, ``C_t``, ``o_t`` and ``h_t`` at each of
the 18 positions. The weights come from a Keras model (:func:`cell_weights`) or from the
batched trainer (:func:`batched_cell_weights`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recsys_utils.data.genres import REPORT_GENRES

if TYPE_CHECKING:  # pragma: no cover
    import keras

    from recsys_utils.batched import BatchedResult
    from recsys_utils.models.sequence import SequenceClassifier

#: The gates a :class:`GateTrace` holds, with the names used in tables and figures.
GATES: dict[str, str] = {
    "i": "input gate i_t",
    "c_candidate": "candidate C~_t",
    "c": "cell state C_t",
    "o": "output gate o_t",
    "h": "output h_t",
}

#: NumPy twins of the Keras activations the cells use, by Keras' function name. Keras 3's hard
#: sigmoid is ``clip(x / 6 + 1/2)``, Keras 2's (the report's output unit) ``clip(0.2 x + 1/2)``.
_NP_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "tanh": np.tanh,
    "hard_sigmoid": lambda x: np.clip(x / 6.0 + 0.5, 0.0, 1.0),  # Keras 3's
    "keras2_hard_sigmoid": lambda x: np.clip(0.2 * x + 0.5, 0.0, 1.0),
    "relu": lambda x: np.maximum(x, 0.0),
    "linear": lambda x: x,
}


def _act_name(fn: Any) -> str:
    """The name of a Keras activation given as a string or a function."""
    return fn if isinstance(fn, str) else getattr(fn, "__name__", str(fn))


def _np_activation(fn: Any) -> Callable[[np.ndarray], np.ndarray]:
    """The NumPy twin of a Keras activation (by its function name)."""
    name = _act_name(fn)
    if name not in _NP_ACTIVATIONS:
        raise ValueError(f"no NumPy version of activation {name!r}; known: {sorted(_NP_ACTIVATIONS)}")
    return _NP_ACTIVATIONS[name]


def _f64(value: Any) -> np.ndarray:
    return np.asarray(value, dtype=np.float64)


@dataclass(frozen=True)
class CellWeights:
    """The weights of a modified-LSTM recommender, as NumPy arrays (float64).

    Attributes:
        embedding: ``(vocab, e)``.
        kernel: ``(e, 3u)``, gates i, C~, o.
        recurrent_kernel: ``(u, 3u)``.
        bias: ``(3u,)``.
        dense_kernel: ``(u,)``, dense_bias: ``()``: the output unit.
        activation, recurrent_activation, output_activation: the activations' names.
        variant: ``"report"`` (f_t = 0) or ``"nfg"`` (f_t = 1).
    """

    embedding: np.ndarray
    kernel: np.ndarray
    recurrent_kernel: np.ndarray
    bias: np.ndarray
    dense_kernel: np.ndarray
    dense_bias: float
    activation: str
    recurrent_activation: str
    output_activation: str
    variant: str

    @property
    def units(self) -> int:
        return int(self.recurrent_kernel.shape[0])


def cell_weights(model: keras.Model | SequenceClassifier | CellWeights) -> CellWeights:
    """Read the embedding, ModifiedLSTM and output weights of a modified-LSTM recommender.

    ``model``: a Keras model (or a :class:`SequenceClassifier`) built by
    :func:`recsys_utils.models.sequence.build_modified_lstm_recommender` (any variant); a
    :class:`CellWeights` is returned as it is.
    """
    if isinstance(model, CellWeights):
        return model
    import keras

    from recsys_utils.cells import ModifiedLSTM

    model = getattr(model, "model", model)
    emb = [layer for layer in model.layers if isinstance(layer, keras.layers.Embedding)]
    rnn = [layer for layer in model.layers if isinstance(layer, ModifiedLSTM)]
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    if len(emb) != 1 or len(rnn) != 1 or len(dense) != 1:
        raise ValueError(
            "expected one Embedding, one ModifiedLSTM and one Dense layer, got "
            f"{[type(layer).__name__ for layer in model.layers]}"
        )
    cell = rnn[0].cell
    u = cell.units
    bias = _f64(cell.bias) if cell.use_bias else np.zeros(3 * u)
    d_kernel, d_bias = dense[0].get_weights()
    return CellWeights(
        embedding=_f64(emb[0].embeddings),
        kernel=_f64(cell.kernel),
        recurrent_kernel=_f64(cell.recurrent_kernel),
        bias=bias,
        dense_kernel=_f64(d_kernel).reshape(-1),
        dense_bias=float(np.asarray(d_bias).reshape(-1)[0]),
        activation=_act_name(cell.activation),
        recurrent_activation=_act_name(cell.recurrent_activation),
        output_activation=_act_name(dense[0].activation),
        variant=cell.variant,
    )


def batched_cell_weights(result: BatchedResult, user_id: int) -> CellWeights:
    """One user's weights from :func:`recsys_utils.batched.train_users` (cells ``"modified"``
    and ``"nfg"``), as :class:`CellWeights` (embedding rows 0 and 1 only)."""
    cell = result.layout.cell
    if cell not in ("modified", "nfg"):
        raise ValueError(f"not a forget-gate-free cell: {cell!r}")
    w = result.user_weights(user_id)
    cfg = result.config
    return CellWeights(
        embedding=_f64(w["embedding"]),
        kernel=_f64(w["kernel"]),
        recurrent_kernel=_f64(w["recurrent_kernel"]),
        bias=_f64(w["bias"]),
        dense_kernel=_f64(w["dense_kernel"]).reshape(-1),
        dense_bias=float(w["dense_bias"][0]),
        activation=cfg.get("activation", "sigmoid"),
        recurrent_activation=cfg.get("recurrent_activation", "tanh"),
        output_activation=cfg.get("output_activation", "keras2_hard_sigmoid"),
        variant="report" if cell == "modified" else "nfg",
    )


@dataclass(frozen=True)
class GateTrace:
    """Every gate of the cell at every position, for a batch of rows.

    Attributes:
        X: ``(n, T)`` the 0/1 flags read (position t = attribute t).
        i, c_candidate, c, o, h: ``(n, T, units)``: input gate, candidate, cell state, output
            gate and output at each step (the forget gate is 0 for ``variant="report"``).
        probability: ``(n,)`` the model's like probability (dropout off).
        attributes: the genre read at each position.
    """

    X: np.ndarray
    i: np.ndarray
    c_candidate: np.ndarray
    c: np.ndarray
    o: np.ndarray
    h: np.ndarray
    probability: np.ndarray
    attributes: tuple[str, ...]

    def gate(self, name: str) -> np.ndarray:
        """One of :data:`GATES` by name, ``(n, T, units)``."""
        if name not in GATES:
            raise KeyError(f"unknown gate {name!r}; choose one of {list(GATES)}")
        return getattr(self, name)

    def mean_by_position(self, name: str) -> np.ndarray:
        """``(units, T)`` the gate's mean over rows at each position."""
        return self.gate(name).mean(axis=0).T

    def summary(self) -> pd.DataFrame:
        """Per gate: min, mean, max over rows, positions and units, and the share below 0."""
        rows = []
        for name, label in GATES.items():
            g = self.gate(name)
            rows.append(
                {
                    "gate": label,
                    "min": g.min(),
                    "mean": g.mean(),
                    "max": g.max(),
                    "share < 0": float(np.mean(g < 0)),
                }
            )
        return pd.DataFrame(rows).set_index("gate")


def trace_modified_lstm(
    model: keras.Model | SequenceClassifier | CellWeights,
    X: np.ndarray,
    attributes: Sequence[str] = REPORT_GENRES,
) -> GateTrace:
    """Run a trained modified-LSTM recommender in NumPy, step by step, keeping every gate.

    Inference mode (no dropout), zero initial states, as Keras' layer::

        e_t  = E[x_t]                                 (n, e)
        z    = e_t W + h_{t-1} U + b = [z_i | z_c | z_o]
        i_t  = ract(z_i),  C~_t = act(z_c),  o_t = ract(z_o)
        C_t  = i_t * C~_t           (variant "report": f_t = 0)
             = C_{t-1} + i_t * C~_t  (variant "nfg": f_t = 1)
        h_t  = o_t * act(C_t)
        p    = out(h_T w + b_out)

    Args:
        model: a modified-LSTM recommender (Keras model, :class:`SequenceClassifier`, or its
            weights read by :func:`cell_weights` / :func:`batched_cell_weights`).
        X: ``(n, T)`` 0/1 flags.
        attributes: the genre of each position.

    Returns:
        A :class:`GateTrace` (float64 arrays).
    """
    w = cell_weights(model)
    X = np.asarray(X)
    idx = X.astype(np.int64)
    if X.ndim != 2 or not np.array_equal(idx, X):
        raise ValueError(f"X must be (n, T) integer-valued flags, got shape {X.shape}")
    act, ract = _np_activation(w.activation), _np_activation(w.recurrent_activation)
    out = _np_activation(w.output_activation)
    n, T = X.shape
    u = w.units
    zx = w.embedding[idx] @ w.kernel + w.bias  # (n, T, 3u): the input part of every step
    h, c = np.zeros((n, u)), np.zeros((n, u))
    gates = {name: np.empty((n, T, u)) for name in GATES}
    for t in range(T):
        z = zx[:, t] + h @ w.recurrent_kernel
        i, cand, o = ract(z[:, :u]), act(z[:, u : 2 * u]), ract(z[:, 2 * u :])
        c = i * cand if w.variant == "report" else c + i * cand
        h = o * act(c)
        for name, value in (("i", i), ("c_candidate", cand), ("c", c), ("o", o), ("h", h)):
            gates[name][:, t] = value
    p = out(h @ w.dense_kernel + w.dense_bias)
    return GateTrace(X=idx, probability=p, attributes=tuple(attributes), **gates)
