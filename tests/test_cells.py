"""Tests of the forget-gate-free LSTM cell and layer (recsys_utils.cells)."""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
import pytest
import tensorflow as tf

from recsys_utils.cells import ModifiedLSTM, ModifiedLSTMCell

# NumPy versions of the Keras activations used below.
NP_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "tanh": np.tanh,
    "hard_sigmoid": lambda x: np.clip(x / 6.0 + 0.5, 0.0, 1.0),  # Keras 3's
    "relu": lambda x: np.maximum(x, 0.0),
    "linear": lambda x: x,
}


def numpy_modified_lstm(
    x: np.ndarray,
    h0: np.ndarray,
    c0: np.ndarray,
    kernel: np.ndarray,
    recurrent_kernel: np.ndarray,
    bias: np.ndarray | None,
    activation: str,
    recurrent_activation: str,
    variant: str,
) -> tuple[np.ndarray, np.ndarray]:
    """The cell's equations over a sequence.

    x: (batch, T, d); h0, c0: (batch, u); kernel: (d, 3u); recurrent_kernel: (u, 3u);
    bias: (3u,) or None.  Returns every h_t, (batch, T, u), and the last C_T, (batch, u).
    """
    act, ract = NP_ACTIVATIONS[activation], NP_ACTIVATIONS[recurrent_activation]
    u = h0.shape[1]
    w_i, w_c, w_o = kernel[:, :u], kernel[:, u : 2 * u], kernel[:, 2 * u :]
    r = recurrent_kernel
    u_i, u_c, u_o = r[:, :u], r[:, u : 2 * u], r[:, 2 * u :]
    b = np.zeros(3 * u) if bias is None else bias
    b_i, b_c, b_o = b[:u], b[u : 2 * u], b[2 * u :]
    h, c, hs = h0, c0, []
    for t in range(x.shape[1]):
        x_t = x[:, t, :]
        i = ract(x_t @ w_i + h @ u_i + b_i)
        c_tilde = act(x_t @ w_c + h @ u_c + b_c)
        o = ract(x_t @ w_o + h @ u_o + b_o)
        f = 0.0 if variant == "report" else 1.0
        c = f * c + i * c_tilde
        h = o * act(c)
        hs.append(h)
    return np.stack(hs, axis=1), c


def random_weights(layer: keras.layers.Layer, rng: np.random.Generator) -> list[np.ndarray]:
    """Give every weight of ``layer`` random values (bias included, so it matters)."""
    weights = [rng.normal(0.0, 0.5, size=w.shape).astype("float32") for w in layer.get_weights()]
    layer.set_weights(weights)
    return weights


ACTIVATION_PAIRS = [("tanh", "sigmoid"), ("sigmoid", "tanh"), ("relu", "hard_sigmoid"), ("linear", "sigmoid")]


@pytest.mark.parametrize("variant", ["report", "nfg"])
@pytest.mark.parametrize("activation,recurrent_activation", ACTIVATION_PAIRS)
@pytest.mark.parametrize("use_bias", [True, False])
def test_layer_matches_numpy_equations(
    variant: str, activation: str, recurrent_activation: str, use_bias: bool
) -> None:
    rng = np.random.default_rng(0)
    batch, steps, dim, units = 3, 6, 4, 5
    x = rng.normal(size=(batch, steps, dim)).astype("float32")
    h0 = rng.normal(size=(batch, units)).astype("float32")
    c0 = rng.normal(size=(batch, units)).astype("float32")
    layer = ModifiedLSTM(
        units,
        activation=activation,
        recurrent_activation=recurrent_activation,
        use_bias=use_bias,
        variant=variant,
        return_sequences=True,
        return_state=True,
    )
    layer.build((None, steps, dim))
    weights = random_weights(layer, rng)
    bias = weights[2] if use_bias else None
    seq, h_last, c_last = layer(x, initial_state=[h0, c0])
    want_seq, want_c = numpy_modified_lstm(
        x, h0, c0, weights[0], weights[1], bias, activation, recurrent_activation, variant
    )
    np.testing.assert_allclose(np.asarray(seq), want_seq, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(h_last), want_seq[:, -1], atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(c_last), want_c, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("variant", ["report", "nfg"])
def test_split_kernel_path_matches_numpy_at_inference(variant: str) -> None:
    """recurrent_dropout > 0 switches to per-gate kernels; without training it is the same map."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    layer = ModifiedLSTM(4, dropout=0.3, recurrent_dropout=0.4, variant=variant, return_sequences=True)
    assert layer.cell.implementation == 1
    layer.build((None, 5, 3))
    weights = random_weights(layer, rng)
    zeros = np.zeros((2, 4), dtype="float32")
    want, _ = numpy_modified_lstm(
        x, zeros, zeros, weights[0], weights[1], weights[2], "tanh", "sigmoid", variant
    )
    np.testing.assert_allclose(np.asarray(layer(x, training=False)), want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("input_dim,units", [(50, 18), (7, 3), (1, 1)])
@pytest.mark.parametrize("use_bias", [True, False])
def test_three_quarters_of_an_lstm(input_dim: int, units: int, use_bias: bool) -> None:
    modified = ModifiedLSTM(units, use_bias=use_bias)
    lstm = keras.layers.LSTM(units, use_bias=use_bias)
    modified.build((None, 4, input_dim))
    lstm.build((None, 4, input_dim))
    shapes = [tuple(w.shape) for w in modified.weights]
    want = [(input_dim, 3 * units), (units, 3 * units)] + ([(3 * units,)] if use_bias else [])
    assert shapes == want
    assert 4 * modified.count_params() == 3 * lstm.count_params()
    assert modified.cell.state_size == [units, units]
    assert modified.cell.output_size == units


def test_unknown_variant_is_rejected() -> None:
    with pytest.raises(ValueError, match="variant"):
        ModifiedLSTMCell(3, variant="peephole")
    with pytest.raises(ValueError, match="units"):
        ModifiedLSTMCell(0)


def test_get_config_from_config_round_trip() -> None:
    cell = ModifiedLSTMCell(
        6,
        activation="sigmoid",
        recurrent_activation="tanh",
        dropout=0.2,
        recurrent_dropout=0.1,
        seed=3,
        variant="nfg",
        use_bias=False,
        kernel_regularizer="l2",
    )
    cell_config = cell.get_config()
    assert ModifiedLSTMCell.from_config(cell_config).get_config() == cell_config

    layer = ModifiedLSTM(
        6,
        activation="sigmoid",
        recurrent_activation="tanh",
        variant="nfg",
        return_sequences=True,
        go_backwards=True,
        dropout=0.2,
        seed=3,
    )
    config = layer.get_config()
    clone = ModifiedLSTM.from_config(config)
    assert clone.get_config() == config
    assert clone.variant == "nfg" and clone.return_sequences and clone.go_backwards
    # Same weights, same function.
    x = np.random.default_rng(2).normal(size=(2, 4, 3)).astype("float32")
    layer.build((None, 4, 3))
    clone.build((None, 4, 3))
    clone.set_weights(random_weights(layer, np.random.default_rng(3)))
    np.testing.assert_allclose(np.asarray(clone(x)), np.asarray(layer(x)), atol=1e-6)


@pytest.mark.parametrize("variant", ["report", "nfg"])
def test_keras_file_round_trip(tmp_path, variant: str) -> None:
    model = keras.Sequential(
        [
            keras.Input(shape=(5, 3)),
            ModifiedLSTM(4, activation="sigmoid", recurrent_activation="tanh", variant=variant, dropout=0.1),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    random_weights(model, np.random.default_rng(4))
    x = np.random.default_rng(5).normal(size=(7, 5, 3)).astype("float32")
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.layers[0], ModifiedLSTM)
    assert loaded.layers[0].variant == variant
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("variant", ["report", "nfg"])
def test_gradients_reach_every_weight(variant: str) -> None:
    rng = np.random.default_rng(6)
    x = tf.constant(rng.normal(size=(4, 6, 3)).astype("float32"))
    layer = ModifiedLSTM(5, activation="sigmoid", recurrent_activation="tanh", variant=variant)
    layer.build((None, 6, 3))
    random_weights(layer, rng)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(layer(x)))
    grads = tape.gradient(loss, layer.trainable_weights)
    assert len(grads) == 3
    for weight, grad in zip(layer.trainable_weights, grads):
        g = np.asarray(grad)
        assert np.all(np.isfinite(g)), weight.name
        assert np.any(g != 0.0), weight.name


def test_report_variant_ignores_the_initial_cell_state() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(3, 5, 2)).astype("float32")
    h0 = rng.normal(size=(3, 4)).astype("float32")
    c0_a = rng.normal(size=(3, 4)).astype("float32")
    c0_b = c0_a + 3.0
    outputs = {}
    for variant in ("report", "nfg"):
        layer = ModifiedLSTM(4, variant=variant)
        layer.build((None, 5, 2))
        random_weights(layer, np.random.default_rng(8))
        outputs[variant] = [np.asarray(layer(x, initial_state=[h0, c0])) for c0 in (c0_a, c0_b)]
    np.testing.assert_array_equal(outputs["report"][0], outputs["report"][1])
    assert np.max(np.abs(outputs["nfg"][0] - outputs["nfg"][1])) > 1e-3


@pytest.mark.parametrize("dropout,recurrent_dropout", [(0.5, 0.0), (0.0, 0.5), (0.5, 0.5)])
def test_dropout_only_in_training(dropout: float, recurrent_dropout: float) -> None:
    rng = np.random.default_rng(9)
    x = rng.normal(size=(8, 5, 6)).astype("float32")
    layer = ModifiedLSTM(6, dropout=dropout, recurrent_dropout=recurrent_dropout, seed=1)
    plain = ModifiedLSTM(6)
    layer.build((None, 5, 6))
    plain.build((None, 5, 6))
    plain.set_weights(random_weights(layer, rng))
    inference = np.asarray(layer(x, training=False))
    np.testing.assert_allclose(inference, np.asarray(plain(x)), atol=1e-6)
    np.testing.assert_array_equal(inference, np.asarray(layer(x)))  # training defaults to False
    training = np.asarray(layer(x, training=True))
    assert np.max(np.abs(training - inference)) > 1e-3
