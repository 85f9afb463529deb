"""The report's forget-gate-free LSTM cell and the layer that runs it over a sequence.

The report (section 4.1) removes the forget gate of an LSTM.  A standard LSTM step
(Keras' ``LSTMCell``; ``act`` is ``activation``, ``ract`` is ``recurrent_activation``) is

    i_t  = ract(x_t W_i + h_{t-1} U_i + b_i)          input gate
    f_t  = ract(x_t W_f + h_{t-1} U_f + b_f)          forget gate
    C~_t = act(x_t W_c + h_{t-1} U_c + b_c)           candidate cell state
    C_t  = f_t * C_{t-1} + i_t * C~_t
    o_t  = ract(x_t W_o + h_{t-1} U_o + b_o)          output gate
    h_t  = o_t * act(C_t)

:class:`ModifiedLSTMCell` keeps the gates i, C~ and o and drops the forget gate's weights, so it
holds exactly 3/4 of an LSTM's parameters.  Its ``variant`` says what replaces ``f_t``:

- ``"report"``: ``f_t = 0``, so ``C_t = i_t * C~_t``: the cell state does not carry over from
  one step to the next (the report's equations and code: ``f = 0``);
- ``"nfg"``: ``f_t = 1``, so ``C_t = C_{t-1} + i_t * C~_t``: the original forget-free LSTM of
  Hochreiter & Schmidhuber (1997), the "no forget gate" (NFG) variant of Greff et al. (2017).

Shapes: ``x_t`` is ``(batch, input_dim)``; ``h_t`` and ``C_t`` are ``(batch, units)``;
``kernel = [W_i | W_c | W_o]`` is ``(input_dim, 3 * units)``;
``recurrent_kernel = [U_i | U_c | U_o]`` is ``(units, 3 * units)``;
``bias = [b_i | b_c | b_o]`` is ``(3 * units,)``.

The report's recommender calls the layer with ``activation="sigmoid"`` and
``recurrent_activation="tanh"``: the candidate and the output squashing are sigmoids, and the
two gates are tanh (so they take values in (-1, 1)).
"""

from __future__ import annotations

from typing import Any

import keras
from keras import activations, constraints, initializers, ops, regularizers

# DropoutRNNCell is the mixin Keras' own cells use to cache one dropout mask per sequence; it is
# not exported under a public name, so it is imported from where LSTMCell imports it.
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

#: The values of ``variant``: what stands in for the forget gate f_t.
VARIANTS: tuple[str, ...] = ("report", "nfg")


@keras.saving.register_keras_serializable(package="recsys_utils")
class ModifiedLSTMCell(keras.layers.Layer, DropoutRNNCell):
    """One step of an LSTM without a forget gate (gates i, C~, o).

    Args:
        units: Positive integer, dimensionality of ``h`` and ``C``.
        activation: Activation of the candidate ``C~_t`` and of ``C_t`` before the output gate.
            Default: ``"tanh"``.
        recurrent_activation: Activation of the input and output gates. Default: ``"sigmoid"``.
        use_bias: Whether the gates have a bias vector.
        kernel_initializer: Initializer of ``kernel`` ``(input_dim, 3 * units)``.
        recurrent_initializer: Initializer of ``recurrent_kernel`` ``(units, 3 * units)``.
        bias_initializer: Initializer of ``bias`` ``(3 * units,)``.  (There is no forget gate,
            so there is no ``unit_forget_bias``.)
        kernel_regularizer, recurrent_regularizer, bias_regularizer: Regularizers of the three
            weights.
        kernel_constraint, recurrent_constraint, bias_constraint: Constraints of the three
            weights.
        dropout: Fraction of the input units to drop, in training only.
        recurrent_dropout: Fraction of the units of ``h_{t-1}`` to drop, in training only.
        seed: Random seed of the dropout masks.
        variant: ``"report"`` (``f_t = 0``: ``C_t = i_t * C~_t``) or ``"nfg"``
            (``f_t = 1``: ``C_t = C_{t-1} + i_t * C~_t``).

    As in Keras' ``LSTMCell``, the masks are drawn once per sequence and reused at every step.
    With ``recurrent_dropout > 0`` the cell uses Keras' "implementation 1": one mask per gate for
    the inputs and for ``h_{t-1}``; otherwise the three gates are computed with one fused matrix
    product and share one input mask.

    Call arguments:
        inputs: ``(batch, input_dim)``.
        states: ``[h_{t-1}, C_{t-1}]``, each ``(batch, units)``.
        training: Whether dropout is applied.

    Returns:
        ``h_t`` ``(batch, units)`` and the new states ``[h_t, C_t]``.
    """

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        recurrent_activation: Any = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        variant: str = "report",
        **kwargs: Any,
    ) -> None:
        if units <= 0:
            raise ValueError(f"`units` must be a positive integer, got {units}.")
        if variant not in VARIANTS:
            raise ValueError(f"`variant` must be one of {VARIANTS}, got {variant!r}.")
        super().__init__(**kwargs)
        self.units = units
        self.variant = variant
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = use_bias

        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)

        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)

        self.dropout = min(1.0, max(0.0, dropout))
        self.recurrent_dropout = min(1.0, max(0.0, recurrent_dropout))
        # Keras' LSTMCell "implementation" 1 (split kernels, one mask per gate) when there is
        # recurrent dropout, else 2 (one fused matrix product).
        self.implementation = 1 if self.recurrent_dropout != 0.0 else 2
        if self.implementation == 1:
            self.dropout_mask_count = 3  # one mask per gate (read by DropoutRNNCell)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed=seed)

        self.state_size = [self.units, self.units]
        self.output_size = self.units

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        """Create ``kernel`` (input_dim, 3u), ``recurrent_kernel`` (u, 3u), ``bias`` (3u,)."""
        super().build(input_shape)
        input_dim = input_shape[-1]
        self.kernel = self.add_weight(
            shape=(input_dim, self.units * 3),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, self.units * 3),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self.units * 3,),
                name="bias",
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        else:
            self.bias = None

    def call(self, inputs: Any, states: Any, training: bool = False) -> tuple[Any, list[Any]]:
        """One step: ``inputs`` ``(batch, input_dim)``, ``states`` ``[h, C]`` ``(batch, units)``."""
        h_tm1 = states[0]  # previous output h_{t-1}
        c_tm1 = states[1]  # previous cell state C_{t-1}

        if self.implementation == 1:
            # One mask per gate on the inputs and on h_{t-1}, split kernels.
            if training and 0.0 < self.dropout < 1.0:
                dp_mask = self.get_dropout_mask(inputs)
                inputs_i, inputs_c, inputs_o = (inputs * m for m in dp_mask)
            else:
                inputs_i = inputs_c = inputs_o = inputs
            if training and 0.0 < self.recurrent_dropout < 1.0:
                rec_dp_mask = self.get_recurrent_dropout_mask(h_tm1)
                h_tm1_i, h_tm1_c, h_tm1_o = (h_tm1 * m for m in rec_dp_mask)
            else:
                h_tm1_i = h_tm1_c = h_tm1_o = h_tm1
            k_i, k_c, k_o = ops.split(self.kernel, 3, axis=1)
            r_i, r_c, r_o = ops.split(self.recurrent_kernel, 3, axis=1)
            z_i = ops.matmul(inputs_i, k_i) + ops.matmul(h_tm1_i, r_i)
            z_c = ops.matmul(inputs_c, k_c) + ops.matmul(h_tm1_c, r_c)
            z_o = ops.matmul(inputs_o, k_o) + ops.matmul(h_tm1_o, r_o)
            if self.use_bias:
                b_i, b_c, b_o = ops.split(self.bias, 3, axis=0)
                z_i, z_c, z_o = z_i + b_i, z_c + b_c, z_o + b_o
        else:
            # One shared input mask, one fused matrix product for the three gates.
            if training and 0.0 < self.dropout < 1.0:
                inputs = inputs * self.get_dropout_mask(inputs)
            z = ops.matmul(inputs, self.kernel)
            z = ops.add(z, ops.matmul(h_tm1, self.recurrent_kernel))
            if self.use_bias:
                z = ops.add(z, self.bias)
            z_i, z_c, z_o = ops.split(z, 3, axis=1)

        i = self.recurrent_activation(z_i)
        c_candidate = self.activation(z_c)
        o = self.recurrent_activation(z_o)
        if self.variant == "report":
            c = i * c_candidate  # f_t = 0
        else:
            c = c_tm1 + i * c_candidate  # f_t = 1
        h = o * self.activation(c)
        return h, [h, c]

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments (serialized), for ``from_config`` and ``.keras`` files."""
        config = {
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
            "variant": self.variant,
        }
        base_config = super().get_config()
        return {**base_config, **config}

    def get_initial_state(self, batch_size: int | None = None) -> list[Any]:
        """Zero states ``[h_0, C_0]``, each ``(batch_size, units)``."""
        return [ops.zeros((batch_size, d), dtype=self.compute_dtype) for d in self.state_size]


@keras.saving.register_keras_serializable(package="recsys_utils")
class ModifiedLSTM(keras.layers.RNN):
    """A forget-gate-free LSTM layer: :class:`ModifiedLSTMCell` run over a sequence.

    Takes the arguments of :class:`ModifiedLSTMCell` (``units`` ... ``seed``, ``variant``) and
    those of ``keras.layers.RNN`` (``return_sequences``, ``return_state``, ``go_backwards``,
    ``stateful``, ``unroll``), plus ``activity_regularizer``, like ``keras.layers.LSTM``.

    Call arguments:
        sequences: ``(batch, timesteps, input_dim)``.
        initial_state: optional ``[h_0, C_0]``, each ``(batch, units)`` (zeros otherwise).
        mask: optional ``(batch, timesteps)`` boolean.
        training: whether dropout is applied.

    Returns:
        ``(batch, units)`` (the last ``h``), or ``(batch, timesteps, units)`` with
        ``return_sequences``; with ``return_state``, followed by ``h_T`` and ``C_T``.
    """

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        recurrent_activation: Any = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        variant: str = "report",
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        **kwargs: Any,
    ) -> None:
        cell = ModifiedLSTMCell(
            units,
            activation=activation,
            recurrent_activation=recurrent_activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            variant=variant,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name="modified_lstm_cell",
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            activity_regularizer=activity_regularizer,
            **kwargs,
        )
        self.input_spec = keras.layers.InputSpec(ndim=3)

    def call(
        self, sequences: Any, initial_state: Any = None, mask: Any = None, training: bool = False
    ) -> Any:
        """Run the cell over ``sequences`` ``(batch, timesteps, input_dim)``."""
        return super().call(sequences, mask=mask, training=training, initial_state=initial_state)

    @property
    def units(self) -> int:
        return self.cell.units

    @property
    def variant(self) -> str:
        return self.cell.variant

    @property
    def activation(self) -> Any:
        return self.cell.activation

    @property
    def recurrent_activation(self) -> Any:
        return self.cell.recurrent_activation

    @property
    def use_bias(self) -> bool:
        return self.cell.use_bias

    @property
    def dropout(self) -> float:
        return self.cell.dropout

    @property
    def recurrent_dropout(self) -> float:
        return self.cell.recurrent_dropout

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments (the cell's, flattened, and the RNN's)."""
        cell_config = self.cell.get_config()
        config = {
            key: cell_config[key]
            for key in (
                "units",
                "activation",
                "recurrent_activation",
                "use_bias",
                "kernel_initializer",
                "recurrent_initializer",
                "bias_initializer",
                "kernel_regularizer",
                "recurrent_regularizer",
                "bias_regularizer",
                "kernel_constraint",
                "recurrent_constraint",
                "bias_constraint",
                "dropout",
                "recurrent_dropout",
                "seed",
                "variant",
            )
        }
        config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        base_config = super().get_config()
        del base_config["cell"]
        return {**base_config, **config}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ModifiedLSTM:
        return cls(**config)
