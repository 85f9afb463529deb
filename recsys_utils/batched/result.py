"""The trained networks of a :func:`~recsys_utils.batched.train_users` call."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from recsys_utils.batched.config import REPORT_LSTM, Network, Training
from recsys_utils.batched.layout import KERAS_EMBEDDING_ROWS, ParamLayout, init_weights

if TYPE_CHECKING:  # pragma: no cover
    import keras

#: The arguments of :func:`recsys_utils.models.sequence.build_modified_lstm_recommender` that
#: build the Keras twin of each cell.
_KERAS_BUILD = {
    "modified": {"variant": "report"},
    "nfg": {"variant": "nfg"},
    "lstm": {"recurrent_layer": "lstm"},
    "gru": {"recurrent_layer": "gru"},
}


@dataclass
class BatchedResult:
    """Per-user networks trained by :func:`~recsys_utils.batched.train_users`.

    Attributes:
        user_ids: ``(n_users,)`` int64, in the order given to ``train_users``.
        layout: names and shapes of the weights.
        weights: ``{name: (n_users, *shape)}`` float32 trained weights (see
            :class:`ParamLayout`; ``embedding`` holds rows 0 and 1 only).
        adam_steps: ``(n_users,)`` int64: how many Adam updates each user received
            (``epochs * ceil(n_u / batch_size)``).
        loss_history: ``(n_users, epochs)`` float32: each epoch's mean training loss per row
            (the mean of the batch losses weighted by batch size, as Keras' ``history``).
        train_time_s: wall time of the training, in seconds (JIT compilation excluded).
        compile_time_s: wall time spent compiling the kernels in this call (0 when cached).
        config: the training settings (cell, epochs, batch_size, dropout, seed, ...): the
            fields of :class:`Network` and :class:`Training` but ``units`` and
            ``embedding_dim`` (in :attr:`layout`), and ``embedding_input_dim`` (200).
    """

    user_ids: np.ndarray
    layout: ParamLayout
    weights: dict[str, np.ndarray]
    adam_steps: np.ndarray
    loss_history: np.ndarray
    train_time_s: float
    compile_time_s: float = 0.0
    config: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.user_ids)

    @property
    def network(self) -> Network:
        """The :class:`Network` that was trained."""
        kw = {f.name: self.config[f.name] for f in fields(Network) if f.name in self.config}
        return Network(**dict(kw, units=self.layout.units, embedding_dim=self.layout.embedding_dim))

    @property
    def training(self) -> Training:
        """The :class:`Training` settings used."""
        return Training(**{f.name: self.config[f.name] for f in fields(Training) if f.name in self.config})

    def index_of(self, user_id: int) -> int:
        """The position of ``user_id`` in :attr:`user_ids`."""
        hits = np.flatnonzero(self.user_ids == int(user_id))
        if not len(hits):
            raise KeyError(f"user {user_id} was not trained here")
        return int(hits[0])

    def user_weights(self, user_id: int) -> dict[str, np.ndarray]:
        """One user's weights ``{name: shape}`` (copies)."""
        i = self.index_of(user_id)
        return {name: w[i].copy() for name, w in self.weights.items()}

    def predict_proba(
        self, X_list: Sequence[np.ndarray], *, n_threads: int | None = None
    ) -> list[np.ndarray]:
        """Probability of "like" (dropout off) for each user's rows.

        Args:
            X_list: one ``(n_u, n_attributes)`` 0/1 array per user, in :attr:`user_ids` order.

        Returns:
            One ``(n_u,)`` float32 array per user.
        """
        from recsys_utils.batched.driver import predict_users

        return predict_users(self, X_list, n_threads=n_threads)

    def keras_weights(self, user_id: int) -> list[np.ndarray]:
        """One user's weights in the order and shapes of the Keras model's ``get_weights()``.

        The Keras embedding has 200 rows: rows 0 and 1 are the trained ones; the others,
        which 0/1 inputs never reach, keep their initial values (drawn as in
        :func:`init_weights`).
        """
        w = self.user_weights(user_id)
        lay = self.layout
        rows = int(self.config.get("embedding_input_dim", KERAS_EMBEDDING_ROWS))
        full = init_weights(
            [user_id],
            cell=lay.cell,
            seed=int(self.config.get("seed", 0)),
            n_attributes=lay.n_attributes,
            embedding_dim=lay.embedding_dim,
            units=lay.units,
            embedding_input_dim=rows,
        )["embedding"][0]
        full[:2] = w["embedding"]
        return [
            full,
            w["kernel"],
            w["recurrent_kernel"],
            w["bias"],
            w["dense_kernel"][:, None],
            w["dense_bias"],
        ]

    def to_keras(self, user_id: int) -> keras.Model:
        """The book's Keras model of this network holding ``user_id``'s weights:
        :func:`recsys_utils.models.sequence.build_lstm_recommender` for the report's LSTM
        recommender (``REPORT_LSTM`` at any size), else
        :func:`~recsys_utils.models.sequence.build_modified_lstm_recommender` with the
        recurrent layer of :attr:`layout`'s cell."""
        from recsys_utils.models.sequence import (
            build_lstm_recommender,
            build_modified_lstm_recommender,
            keras2_hard_sigmoid,
        )

        lay, net = self.layout, self.network
        rows = int(self.config.get("embedding_input_dim", KERAS_EMBEDDING_ROWS))
        if net == replace(REPORT_LSTM, units=lay.units, embedding_dim=lay.embedding_dim):
            model = build_lstm_recommender(
                lay.n_attributes,
                embedding_input_dim=rows,
                embedding_output_dim=lay.embedding_dim,
                units=lay.units,
            )
        else:
            output = net.output_activation
            model = build_modified_lstm_recommender(
                lay.n_attributes,
                units=lay.units,
                embedding_output_dim=lay.embedding_dim,
                embedding_input_dim=rows,
                dropout=net.dropout,
                activation=net.activation,
                recurrent_activation=net.recurrent_activation,
                output_activation=(keras2_hard_sigmoid if output == "keras2_hard_sigmoid" else output),
                **_KERAS_BUILD[lay.cell],
            )
        model.set_weights(self.keras_weights(user_id))
        return model
