"""What to train (:class:`Network`) and how (:class:`Training`), and the report's two networks.

These are the Python-side settings of :func:`recsys_utils.batched.train_users`; they are
checked here and turned into the kernels' records (``recsys_utils.batched.kernel_types``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np

from recsys_utils.batched.kernel_types import Adam, Dropout, FitConfig, Net, Schedule
from recsys_utils.batched.layout import (
    CELL_CODE,
    CELLS,
    KERAS_EMBEDDING_ROWS,
    MAX_EMBEDDING_DIM,
    OUTPUT_ACTIVATION_NAMES,
    ParamLayout,
    activation_params,
    output_params,
)

#: The dropout rate drawn one random bit per decision (the bits of one 64-bit word).
ONE_BIT_RATE = 0.5
_THRESHOLD_BITS = 32


@dataclass(frozen=True)
class Network:
    """One user's network: Embedding(200, ``embedding_dim``) -> Dropout(``dropout``) ->
    recurrent ``cell`` (``units``; ``activation``, ``recurrent_activation``) ->
    Dropout(``dropout``) -> Dense(1, ``output_activation``).

    ``units=None`` means ``n_attributes`` (18, the report's modified recommender);
    ``dropout=0`` means no Dropout layers.  ``output_activation`` is a name of
    ``OUTPUT_ACTIVATION_NAMES``.
    """

    cell: str = "modified"
    units: int | None = None
    embedding_dim: int = 50
    dropout: float = 0.5
    activation: str = "sigmoid"
    recurrent_activation: str = "tanh"
    output_activation: str = "keras2_hard_sigmoid"

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {CELLS}, got {self.cell!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if not 0 < self.embedding_dim <= MAX_EMBEDDING_DIM:
            raise ValueError(
                f"embedding_dim must be in 1..{MAX_EMBEDDING_DIM} (an input "
                f"dropout mask is one 64-bit word), got {self.embedding_dim!r}"
            )
        if self.units is not None and self.units < 1:
            raise ValueError(f"units must be >= 1, got {self.units!r}")
        activation_params(self.activation)
        activation_params(self.recurrent_activation)
        if self.output_activation not in OUTPUT_ACTIVATION_NAMES:
            raise ValueError(
                f"output_activation must be one of "
                f"{list(OUTPUT_ACTIVATION_NAMES)}, got {self.output_activation!r}"
            )

    def layout(self, n_attributes: int) -> ParamLayout:
        """The weights of this network over ``n_attributes`` steps."""
        units = n_attributes if self.units is None else int(self.units)
        return ParamLayout(self.cell, n_attributes, self.embedding_dim, units)

    def kernel_net(self, n_attributes: int) -> Net:
        """The kernels' ``Net`` record."""
        code, out_p = output_params(self.output_activation)
        return Net(
            CELL_CODE[self.cell],
            self.layout(n_attributes).units,
            self.embedding_dim,
            code,
            activation_params(self.activation),
            activation_params(self.recurrent_activation),
            out_p,
        )

    def kernel_dropout(self) -> Dropout:
        """The kernels' ``Dropout`` record: rate 0.5
        uses one random bit per decision; other rates compare 32 random bits with
        ``rate * 2**32``; 0 draws nothing."""
        limit = 2**_THRESHOLD_BITS
        threshold = np.uint64(min(round(self.dropout * float(limit)), limit - 1))
        return Dropout(threshold, self.dropout == ONE_BIT_RATE, np.float32(1.0 / (1.0 - self.dropout)))


@dataclass(frozen=True)
class Training:
    """Keras ``fit`` and Adam settings (Keras 3's defaults), and the seed of the users'
    initial weights and random streams."""

    epochs: int = 100
    batch_size: int = 10
    seed: int = 0
    learning_rate: float = 1e-3
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-7
    shuffle: bool = True

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.epochs < 0:
            raise ValueError(
                "batch_size must be >= 1 and epochs >= 0, got "
                f"batch_size={self.batch_size!r}, epochs={self.epochs!r}"
            )

    def kernel_fit(self, network: Network) -> FitConfig:
        """The kernels' ``FitConfig`` record."""
        return FitConfig(
            Schedule(int(self.epochs), int(self.batch_size), bool(self.shuffle)),
            network.kernel_dropout(),
            Adam(float(self.learning_rate), float(self.beta_1), float(self.beta_2), np.float32(self.epsilon)),
        )


#: The report's modified-LSTM recommender (4.2.3, Appendix A): 18 units, sigmoid / tanh, two
#: Dropout(0.5), Keras 2's hard-sigmoid output
#: (:func:`recsys_utils.models.sequence.build_modified_lstm_recommender`).
REPORT_MODIFIED = Network()
#: The report's LSTM recommender (4.2.1, Appendix A): Keras' LSTM with 100 units, sigmoid /
#: sigmoid, no dropout, Dense(1, sigmoid)
#: (:func:`recsys_utils.models.sequence.build_lstm_recommender`).
REPORT_LSTM = Network(
    cell="lstm",
    units=100,
    dropout=0.0,
    activation="sigmoid",
    recurrent_activation="sigmoid",
    output_activation="sigmoid",
)
#: The report's two recommenders, by their names in :mod:`recsys_utils.models.sequence`.
REPORT_NETWORKS: dict[str, Network] = {"modified-lstm": REPORT_MODIFIED, "lstm": REPORT_LSTM}
#: The report's training (Appendix A: ``fit(..., epochs=100, batch_size=10)``, Adam defaults).
REPORT_TRAINING = Training()

_NETWORK_FIELDS = {f.name for f in fields(Network)}
_TRAINING_FIELDS = {f.name for f in fields(Training)}


def resolve(
    network: Network | None, training: Training | None, overrides: dict[str, Any]
) -> tuple[Network, Training]:
    """``network`` and ``training`` (defaults: the report's modified recommender and training)
    with the fields named in ``overrides`` replaced; an unknown name is an error."""
    unknown = sorted(set(overrides) - _NETWORK_FIELDS - _TRAINING_FIELDS)
    if unknown:
        raise TypeError(
            f"unknown training settings {unknown}; expected fields of Network "
            f"{sorted(_NETWORK_FIELDS)} or Training {sorted(_TRAINING_FIELDS)}"
        )
    net = replace(network or REPORT_MODIFIED, **{k: v for k, v in overrides.items() if k in _NETWORK_FIELDS})
    fit = replace(
        training or REPORT_TRAINING, **{k: v for k, v in overrides.items() if k in _TRAINING_FIELDS}
    )
    return net, fit


def config_dict(network: Network, training: Training) -> dict[str, Any]:
    """The flat settings recorded in :attr:`BatchedResult.config`."""
    out = {**asdict(network), **asdict(training)}
    out.pop("units")
    out.pop("embedding_dim")
    out["embedding_input_dim"] = KERAS_EMBEDDING_ROWS
    return out
