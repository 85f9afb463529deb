"""One user's network as the trainer sees it: cells, activations, weight layout, initial weights.

Nothing here is compiled; the kernels receive the integer codes and parameter vectors defined
here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: The recurrent cells the batched trainer implements.
CELLS: tuple[str, ...] = ("modified", "nfg", "lstm", "gru")

# Integer codes of the cells, as the kernels receive them.
CELL_MODIFIED = 0  #: the report's cell: gates i, C~, o and ``C_t = i_t * C~_t`` (f = 0)
CELL_NFG = 1  #: no forget gate: ``C_t = C_{t-1} + i_t * C~_t`` (f = 1)
CELL_LSTM = 2  #: Keras' ``LSTM``: gates i, f, c, o
CELL_GRU = 3  #: Keras' ``GRU`` (``reset_after=True``): gates z, r, h
CELL_CODE: dict[str, int] = {"modified": CELL_MODIFIED, "nfg": CELL_NFG, "lstm": CELL_LSTM, "gru": CELL_GRU}
#: Gate blocks per cell (each ``units`` wide).
N_GATES: dict[str, int] = {"modified": 3, "nfg": 3, "lstm": 4, "gru": 3}

#: Rows of the Keras model's embedding (Appendix A: ``Embedding(input_dim=200, ...)``); the
#: inputs are 0/1 flags, so only rows 0 and 1 are ever looked up and trained.
KERAS_EMBEDDING_ROWS = 200
#: Embedding rows the trainer keeps: those of the flag values 0 and 1.
TRAINED_EMBEDDING_ROWS = 2
#: Keras' ``Embedding`` initialiser: ``uniform(-0.05, 0.05)``.
EMBEDDING_INIT_LIMIT = 0.05

#: ``activation`` / ``recurrent_activation`` values, as ``(sc, sa, sb)`` with
#: ``f(x) = sa * tanh(sc * x) + sb`` (``sigmoid(x) = 0.5 * tanh(x / 2) + 0.5``).
ACTIVATIONS: dict[str, tuple[float, float, float]] = {"tanh": (1.0, 1.0, 0.0), "sigmoid": (0.5, 0.5, 0.5)}
#: Hard-sigmoid output activations, as ``(a, c, top)`` with ``p = clip(a * logit + c, 0, top) /
#: top``: Keras 3's ``hard_sigmoid`` is ``relu6(x + 3) / 6``; Keras 2's is
#: ``clip(0.2 x + 0.5, 0, 1)`` (:func:`recsys_utils.models.sequence.keras2_hard_sigmoid`).
OUTPUT_ACTIVATIONS: dict[str, tuple[float, float, float]] = {
    "hard_sigmoid": (1.0, 3.0, 6.0),
    "keras2_hard_sigmoid": (0.2, 0.5, 1.0),
}
#: The logistic output of the report's LSTM recommender (``Dense(1, activation="sigmoid")``);
#: its loss is taken from the logit, as Keras does for a sigmoid output.
SIGMOID_OUTPUT = "sigmoid"
#: Every ``output_activation`` the trainer accepts.
OUTPUT_ACTIVATION_NAMES: tuple[str, ...] = (*OUTPUT_ACTIVATIONS, SIGMOID_OUTPUT)
# Output codes, as the kernels receive them.
OUTPUT_HARD_SIGMOID = 0
OUTPUT_SIGMOID = 1
#: The largest embedding size: each (row, step)'s input dropout mask is one 64-bit word.
MAX_EMBEDDING_DIM = 64


def activation_params(name: str) -> np.ndarray:
    """``(3,)`` float32 ``(sc, sa, sb)`` of an ``activation`` (see :data:`ACTIVATIONS`)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return np.asarray(ACTIVATIONS[name], dtype=np.float32)


def output_params(name: str) -> tuple[int, np.ndarray]:
    """``(code, (3,) float32 (a, c, top))`` of an ``output_activation``; the sigmoid's
    parameters are unused (zeros)."""
    if name == SIGMOID_OUTPUT:
        return OUTPUT_SIGMOID, np.zeros(3, np.float32)
    if name not in OUTPUT_ACTIVATIONS:
        raise ValueError(f"output_activation must be one of {list(OUTPUT_ACTIVATION_NAMES)}, got {name!r}")
    return OUTPUT_HARD_SIGMOID, np.asarray(OUTPUT_ACTIVATIONS[name], dtype=np.float32)


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
        return N_GATES[self.cell]

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Each weight's shape (for one user), in the Keras model's order."""
        k = self.n_gates * self.units
        bias = (2, k) if self.cell == "gru" else (k,)
        return {
            "embedding": (TRAINED_EMBEDDING_ROWS, self.embedding_dim),
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
        parts = [np.asarray(weights[name], dtype=np.float32).reshape(n, -1) for name in self.shapes]
        return np.ascontiguousarray(np.concatenate(parts, axis=1))

    def unflatten(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """``(n_users, size)`` -> ``{name: (n_users, *shape)}`` (copies)."""
        out, start = {}, 0
        for name, shape in self.shapes.items():
            stop = start + int(np.prod(shape))
            out[name] = flat[:, start:stop].reshape((len(flat),) + shape).copy()
            start = stop
        return out


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


def init_weights(
    user_ids: Sequence[int],
    *,
    cell: str = "modified",
    seed: int = 0,
    n_attributes: int = 18,
    embedding_dim: int = 50,
    units: int | None = None,
    embedding_input_dim: int = TRAINED_EMBEDDING_ROWS,
) -> dict[str, np.ndarray]:
    """Keras-like initial weights for each user, drawn from a generator seeded ``(seed, user_id, 0)``.

    Keras' initialisers: embedding ``uniform(-0.05, 0.05)``, ``glorot_uniform`` kernels,
    ``orthogonal`` recurrent kernel, zero biases (forget bias 1 for the LSTM).

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
        emb = rng.uniform(
            -EMBEDDING_INIT_LIMIT,
            EMBEDDING_INIT_LIMIT,
            size=(max(KERAS_EMBEDDING_ROWS, embedding_input_dim), embedding_dim),
        )
        out["embedding"].append(emb[:embedding_input_dim])
        out["kernel"].append(_glorot_uniform(rng, (embedding_dim, k)))
        out["recurrent_kernel"].append(_orthogonal(rng, (units, k)))
        bias = np.zeros(layout.shapes["bias"])
        if cell == "lstm":  # Keras' unit_forget_bias=True
            bias[units : 2 * units] = 1.0
        out["bias"].append(bias)
        out["dense_kernel"].append(_glorot_uniform(rng, (units, 1))[:, 0])
        out["dense_bias"].append(np.zeros(1))
    shapes = dict(layout.shapes, embedding=(embedding_input_dim, embedding_dim))
    return {
        name: np.asarray(v, dtype=np.float32).reshape((len(out[name]),) + shapes[name])
        for name, v in out.items()
    }


def rng_state(seed: int, user_id: int) -> np.ndarray:
    """The SplitMix64 state ``(1,)`` uint64 of one user's training stream, seeded
    ``(seed, user_id, 1)``."""
    return np.random.SeedSequence([seed, int(user_id), 1]).generate_state(1, dtype=np.uint64)
