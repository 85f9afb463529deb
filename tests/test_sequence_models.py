"""Tests of the report's Keras recommenders (recsys_utils.models.sequence)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from recsys_utils.cells import ModifiedLSTM
from recsys_utils.models.sequence import (
    KINDS,
    REPORT_CHOICES,
    SequenceClassifier,
    build_sequence_recommender,
    keras2_hard_sigmoid,
)


def expected_param_count(kind: str, n: int, vocab: int, dim: int) -> int:
    """Weights of each kind, by formula (n attributes, an embedding of vocab x dim)."""
    embedding = vocab * dim
    if kind == "lstm":
        u = 100
        return embedding + 4 * (dim * u + u * u + u) + (u + 1)
    if kind in ("modified-lstm", "nfg-lstm"):
        return embedding + 3 * (dim * n + n * n + n) + (n + 1)
    if kind == "lstm-same-size":
        return embedding + 4 * (dim * n + n * n + n) + (n + 1)
    if kind == "gru-same-size":  # Keras 3's GRU has reset_after=True: two biases per gate
        return embedding + 3 * (dim * n + n * n + 2 * n) + (n + 1)
    if kind == "logistic":
        return n + 1
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n,vocab", [(18, 200), (5, 100)])
def test_param_counts_follow_the_formulas(kind: str, n: int, vocab: int) -> None:
    kw = {} if kind == "logistic" else {"embedding_input_dim": vocab}
    model = build_sequence_recommender(kind, n, **kw)
    assert model.count_params() == expected_param_count(kind, n, vocab, 50)
    assert model.name == kind


def test_report_model_sizes() -> None:
    """The two report models with their defaults: 70,501 and 13,745 weights."""
    lstm = SequenceClassifier("lstm", seed=0)
    modified = SequenceClassifier("modified-lstm", seed=0)
    assert lstm.count_params() == 200 * 50 + 4 * (50 * 100 + 100 * 100 + 100) + 101
    assert modified.count_params() == 200 * 50 + 3 * (50 * 18 + 18 * 18 + 18) + 19


def test_modified_recommender_follows_the_report_code() -> None:
    model = build_sequence_recommender("modified-lstm", 18)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Embedding", "Dropout", "ModifiedLSTM", "Dropout", "Dense"]
    embedding, drop1, recurrent, drop2, dense = model.layers
    assert embedding.input_dim == REPORT_CHOICES["modified_lstm_embedding_input_dim"]["used"]
    assert embedding.output_dim == 50
    assert drop1.rate == drop2.rate == 0.5
    assert isinstance(recurrent, ModifiedLSTM)
    assert recurrent.units == 18 and recurrent.variant == "report"
    assert keras.activations.serialize(recurrent.activation) == "sigmoid"
    assert keras.activations.serialize(recurrent.recurrent_activation) == "tanh"
    assert dense.activation is keras2_hard_sigmoid  # the report ran Keras 2.2
    assert model.loss == "binary_crossentropy"
    assert isinstance(model.optimizer, keras.optimizers.Adam)


def test_lstm_recommender_follows_the_report_code() -> None:
    model = build_sequence_recommender("lstm", 18)
    embedding, lstm, dense = model.layers
    assert (embedding.input_dim, embedding.output_dim) == (200, 50)
    assert isinstance(lstm, keras.layers.LSTM) and lstm.units == 100
    assert keras.activations.serialize(lstm.activation) == "sigmoid"
    assert keras.activations.serialize(lstm.recurrent_activation) == "sigmoid"
    assert keras.activations.serialize(dense.activation) == "sigmoid"


def test_ablation_kinds_swap_only_the_recurrent_layer() -> None:
    assert build_sequence_recommender("nfg-lstm").layers[2].variant == "nfg"
    lstm = build_sequence_recommender("lstm-same-size").layers[2]
    gru = build_sequence_recommender("gru-same-size").layers[2]
    for layer, cls in ((lstm, keras.layers.LSTM), (gru, keras.layers.GRU)):
        assert type(layer) is cls and layer.units == 18
        assert keras.activations.serialize(layer.recurrent_activation) == "tanh"
    with pytest.raises(ValueError, match="unknown kind"):
        build_sequence_recommender("transformer")


@pytest.mark.parametrize("kind", KINDS)
def test_outputs_are_probabilities(kind: str) -> None:
    X = (np.random.default_rng(0).random((6, 18)) < 0.3).astype("float32")
    out = np.asarray(build_sequence_recommender(kind)(X, training=False))
    assert out.shape == (6, 1)
    assert np.all((out >= 0.0) & (out <= 1.0))


def test_keras2_hard_sigmoid() -> None:
    x = np.array([-10.0, -2.5, -1.0, 0.0, 1.0, 2.5, 10.0], dtype="float32")
    want = np.clip(0.2 * x + 0.5, 0.0, 1.0)
    np.testing.assert_allclose(np.asarray(keras2_hard_sigmoid(x)), want, atol=1e-7)
    # Keras 3's own differs (slope 1/6): the report's output layer is not today's.
    assert not np.allclose(np.asarray(keras.activations.hard_sigmoid(x)), want)


def toy_rows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n rows of 18 random flags; like iff the last attribute is set. (n, 18), (n,)."""
    X = (np.random.default_rng(seed).random((n, 18)) < 0.4).astype("float32")
    return X, X[:, -1].copy()


def test_seed_fixes_the_initial_weights() -> None:
    def weights(seed: int) -> list[np.ndarray]:
        return SequenceClassifier("modified-lstm", seed=seed).model.get_weights()

    same_a, same_b, other = weights(0), weights(0), weights(1)
    assert all(np.array_equal(a, b) for a, b in zip(same_a, same_b))
    assert not all(np.array_equal(a, b) for a, b in zip(same_a, other))


@pytest.mark.slow
def test_fits_with_the_same_seed_are_identical() -> None:
    """Same seed: same initial weights, same shuffles, same dropout masks, same numbers."""
    X, y = toy_rows(40, seed=1)
    runs = [SequenceClassifier("modified-lstm", seed=0).fit(X, y, epochs=2, batch_size=10) for _ in range(2)]
    assert runs[0].history == runs[1].history
    np.testing.assert_array_equal(runs[0].predict_proba(X), runs[1].predict_proba(X))
    # Training changed the weights (so the equality above is about the fit, not the init).
    initial = SequenceClassifier("modified-lstm", seed=0).model.get_weights()
    assert not all(np.array_equal(a, b) for a, b in zip(initial, runs[0].model.get_weights()))


def test_save_and_load_round_trip(tmp_path) -> None:
    X, _ = toy_rows(12, seed=2)
    clf = SequenceClassifier("nfg-lstm", seed=3)
    path = tmp_path / "clf.keras"
    clf.save(path)
    loaded = SequenceClassifier.load(path)
    assert loaded.kind == "nfg-lstm" and loaded.n_attributes == 18
    assert loaded.model.layers[2].variant == "nfg"
    assert loaded.count_params() == clf.count_params()
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


@pytest.mark.slow
def test_modified_model_learns_a_simple_rule() -> None:
    """Like iff the last attribute is set: a short fit beats the majority rate on new rows."""
    X, y = toy_rows(200, seed=4)
    X_train, y_train, X_test, y_test = X[:120], y[:120], X[120:], y[120:]
    majority = max(y_test.mean(), 1.0 - y_test.mean())
    clf = SequenceClassifier("modified-lstm", seed=0).fit(
        X_train, y_train, epochs=3, batch_size=8, validation_data=(X_test, y_test)
    )
    accuracy = clf.evaluate_accuracy(X_test, y_test)
    assert accuracy >= majority + 0.15
    # evaluate_accuracy is Keras' binary accuracy (like iff p > 0.5), as the last epoch logged.
    assert accuracy == pytest.approx(np.mean((clf.predict_proba(X_test) > 0.5) == y_test))
    assert accuracy == pytest.approx(clf.history["val_accuracy"][-1])
    # What a fit records.
    assert set(clf.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(values) == 3 for values in clf.history.values())
    assert len(clf.epoch_times_s) == 3 and all(t > 0 for t in clf.epoch_times_s)
    assert clf.fit_time_s >= sum(clf.epoch_times_s)


@pytest.mark.parametrize("kind", ["lstm", "logistic"])
def test_compiled_epoch_is_keras_fit_step_for_step(kind: str) -> None:
    """Without dropout and with the rows in file order, one compiled epoch takes the very
    steps of ``keras.Model.fit(shuffle=False)``: same weights, same logged loss and accuracy."""
    from recsys_utils.models.sequence import _compiled_epoch

    X, y = toy_rows(23, seed=7)  # 23 rows, batches of 5: a short last batch
    a = SequenceClassifier(kind, seed=3)
    b = SequenceClassifier(kind, seed=3)
    b.model.set_weights(a.model.get_weights())
    hist = a.model.fit(
        X.astype("float32"), y.astype("float32"), epochs=1, batch_size=5, shuffle=False, verbose=0
    )
    loss, acc = _compiled_epoch(b.model)(
        X.astype("float32"), y.astype("float32"), np.arange(23, dtype=np.int32), np.int32(5)
    )
    for wa, wb in zip(a.model.get_weights(), b.model.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=1e-6)
    assert float(loss) == pytest.approx(hist.history["loss"][0], rel=1e-5)
    assert float(acc) == pytest.approx(hist.history["accuracy"][0], abs=1e-6)


def test_compiled_fit_is_seeded_and_checks_its_arguments() -> None:
    X, y = toy_rows(30, seed=2)
    one = SequenceClassifier("modified-lstm", seed=5).fit(X, y, epochs=3)
    two = SequenceClassifier("modified-lstm", seed=5).fit(X, y, epochs=3)
    other = SequenceClassifier("modified-lstm", seed=6).fit(X, y, epochs=3)
    assert one.history == two.history and len(one.history["loss"]) == 3
    np.testing.assert_array_equal(one.predict_proba(X), two.predict_proba(X))
    assert one.history["loss"] != other.history["loss"]
    with pytest.raises(ValueError, match="loop must be one of"):
        one.fit(X, y, loop="eager")
    with pytest.raises(ValueError, match="epochs and batch_size"):
        one.fit(X, y, epochs=0)
    with pytest.raises(ValueError, match="as many labels as rows"):
        one.fit(X, y[:-1])
