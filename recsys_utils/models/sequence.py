"""The report's two Keras recommenders over a user's binary movie attributes, and ablations.

Each model reads one movie as ``n_attributes`` (18) binary genre flags, ``X`` of shape
``(batch, n_attributes)``, and outputs the probability that the user likes it, ``(batch, 1)``.
The recurrent models treat the flags as a sequence of ``n_attributes`` steps: an ``Embedding``
maps each flag (0 or 1) to a 50-vector, giving ``(batch, n_attributes, 50)``.

- ``"lstm"`` (report 4.2.1): Embedding(200, 50) -> LSTM(100, sigmoid, sigmoid) -> Dense(1, sigmoid);
- ``"modified-lstm"`` (report 4.2.3): Embedding(200, 50) -> Dropout(0.5) ->
  ModifiedLSTM(n_attributes, activation sigmoid, recurrent_activation tanh) -> Dropout(0.5) ->
  Dense(1, hard_sigmoid);
- ``"nfg-lstm"``: the same with the cell's ``variant="nfg"`` (f_t = 1 instead of 0);
- ``"lstm-same-size"`` / ``"gru-same-size"``: the same architecture with Keras' LSTM / GRU in
  place of the modified cell (an ablation: does removing the gate matter?);
- ``"logistic"``: Dense(1, sigmoid) on the flags (no embedding, no recurrence).

All are compiled as in the report: binary cross-entropy, Adam (Keras defaults), accuracy.
:data:`REPORT_CHOICES` records where the report disagrees with itself and what is used here.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from recsys_utils.cells import ModifiedLSTM
from recsys_utils.device import Device, as_device, device_scope

#: The kinds accepted by :func:`build_sequence_recommender`.
KINDS: tuple[str, ...] = (
    "lstm",
    "modified-lstm",
    "nfg-lstm",
    "lstm-same-size",
    "gru-same-size",
    "logistic",
)

#: Settings where the report's text, code and the Keras of today differ: what we use, and why.
REPORT_CHOICES: dict[str, dict[str, Any]] = {
    "modified_lstm_embedding_input_dim": {
        "used": 200,
        "report_text": 100,  # section 4.2.3's listing
        "report_code": 200,  # Appendix A, create_my_model
        "note": "Appendix A's code (the one that printed the results) is followed; "
        "the flags are 0/1, so only rows 0 and 1 of the embedding are ever used "
        "and the choice only changes the parameter count.",
    },
    "modified_lstm_units": {
        "used": "n_attributes (18)",
        "report": "units = input_length = len(train[0]) = 18",
    },
    "modified_lstm_activations": {
        "used": {"activation": "sigmoid", "recurrent_activation": "tanh"},
        "report": "activation='sigmoid' (candidate and output squashing), "
        "recurrent_activation='tanh' (input and output gates)",
    },
    "output_activation": {
        "used": "Keras 2's hard_sigmoid, clip(0.2 x + 0.5, 0, 1) (keras2_hard_sigmoid)",
        "report": "hard_sigmoid of Keras 2.2, the version the report used; Keras 3's "
        "hard_sigmoid is clip(x / 6 + 0.5, 0, 1): pass output_activation='hard_sigmoid' "
        "for that one",
    },
    "modified_cell_weights": {
        "used": "3 gates: kernel (input_dim, 3 units), 3/4 of an LSTM's parameters",
        "report": "the report's cell subclasses Keras 2's LSTMCell and keeps its 4-gate "
        "weights, setting f = 0 in the step: the forget gate's weights exist but are "
        "unused (the same function, 4/3 as many parameters)",
    },
    "split": {
        "used": "first int(0.65 n) rows train, accuracy on all n rows (the code)",
        "report_text": "a 70-30 split",
    },
}


@keras.saving.register_keras_serializable(package="recsys_utils")
def keras2_hard_sigmoid(x: Any) -> Any:
    """Keras 2's hard sigmoid, ``clip(0.2 * x + 0.5, 0, 1)`` (Keras 3's has slope 1/6)."""
    return keras.ops.clip(0.2 * x + 0.5, 0.0, 1.0)


def _compile(model: keras.Model) -> keras.Model:
    """Compile as the report does: binary cross-entropy, Adam (defaults), accuracy."""
    model.compile(loss="binary_crossentropy", optimizer=keras.optimizers.Adam(), metrics=["accuracy"])
    return model


def build_lstm_recommender(
    n_attributes: int = 18,
    *,
    embedding_input_dim: int = 200,
    embedding_output_dim: int = 50,
    units: int = 100,
    name: str = "lstm",
) -> keras.Model:
    """The report's LSTM recommender (4.2.1), compiled.

    ``(batch, n_attributes)`` -> Embedding -> ``(batch, n_attributes, embedding_output_dim)`` ->
    LSTM(units, activation sigmoid, recurrent_activation sigmoid) -> ``(batch, units)`` ->
    Dense(1, sigmoid) -> ``(batch, 1)``.
    """
    model = keras.Sequential(
        [
            keras.Input(shape=(n_attributes,)),
            keras.layers.Embedding(embedding_input_dim, embedding_output_dim),
            keras.layers.LSTM(units, activation="sigmoid", recurrent_activation="sigmoid"),
            keras.layers.Dense(1, activation="sigmoid"),
        ],
        name=name,
    )
    return _compile(model)


def build_modified_lstm_recommender(
    n_attributes: int = 18,
    *,
    embedding_input_dim: int = 200,
    embedding_output_dim: int = 50,
    units: int | None = None,
    dropout: float = 0.5,
    activation: Any = "sigmoid",
    recurrent_activation: Any = "tanh",
    output_activation: Any = keras2_hard_sigmoid,
    variant: str = "report",
    recurrent_layer: str = "modified-lstm",
    name: str = "modified-lstm",
) -> keras.Model:
    """The report's modified-LSTM recommender (4.2.3, Appendix A's code), compiled.

    ``(batch, n_attributes)`` -> Embedding -> Dropout -> ``(batch, n_attributes,
    embedding_output_dim)`` -> recurrent layer(units) -> Dropout -> ``(batch, units)`` ->
    Dense(1, output_activation) -> ``(batch, 1)``.

    Args:
        units: the recurrent layer's size; ``None`` means ``n_attributes`` (the report's choice).
        variant: the cell's variant, ``"report"`` (f_t = 0) or ``"nfg"`` (f_t = 1).
        recurrent_layer: ``"modified-lstm"`` (the report), or ``"lstm"`` / ``"gru"`` for Keras'
            own layer with the same units and activations (an ablation; ``variant`` is unused).
    """
    units = n_attributes if units is None else units
    if recurrent_layer == "modified-lstm":
        recurrent = ModifiedLSTM(
            units, activation=activation, recurrent_activation=recurrent_activation, variant=variant
        )
    elif recurrent_layer == "lstm":
        recurrent = keras.layers.LSTM(units, activation=activation, recurrent_activation=recurrent_activation)
    elif recurrent_layer == "gru":
        recurrent = keras.layers.GRU(units, activation=activation, recurrent_activation=recurrent_activation)
    else:
        raise ValueError(f"unknown recurrent_layer {recurrent_layer!r}")
    model = keras.Sequential(
        [
            keras.Input(shape=(n_attributes,)),
            keras.layers.Embedding(embedding_input_dim, embedding_output_dim),
            keras.layers.Dropout(dropout),
            recurrent,
            keras.layers.Dropout(dropout),
            keras.layers.Dense(1, activation=output_activation),
        ],
        name=name,
    )
    return _compile(model)


def build_logistic_recommender(n_attributes: int = 18, *, name: str = "logistic") -> keras.Model:
    """Logistic regression: ``(batch, n_attributes)`` -> Dense(1, sigmoid), compiled."""
    model = keras.Sequential(
        [keras.Input(shape=(n_attributes,)), keras.layers.Dense(1, activation="sigmoid")],
        name=name,
    )
    return _compile(model)


def build_sequence_recommender(kind: str, n_attributes: int = 18, **kw: Any) -> keras.Model:
    """Build and compile the model of ``kind`` (one of :data:`KINDS`); ``kw`` go to its builder."""
    if kind == "lstm":
        return build_lstm_recommender(n_attributes, name=kind, **kw)
    if kind == "modified-lstm":
        return build_modified_lstm_recommender(n_attributes, name=kind, **kw)
    if kind == "nfg-lstm":
        return build_modified_lstm_recommender(n_attributes, variant="nfg", name=kind, **kw)
    if kind == "lstm-same-size":
        return build_modified_lstm_recommender(n_attributes, recurrent_layer="lstm", name=kind, **kw)
    if kind == "gru-same-size":
        return build_modified_lstm_recommender(n_attributes, recurrent_layer="gru", name=kind, **kw)
    if kind == "logistic":
        return build_logistic_recommender(n_attributes, name=kind, **kw)
    raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")


#: How :meth:`SequenceClassifier.fit` runs its epochs (see there).
LOOPS: tuple[str, ...] = ("compiled", "keras")


def _compiled_epoch(model: keras.Model) -> Any:
    """One epoch of mini-batch training of ``model`` as one TensorFlow graph.

    The returned function takes ``X (n, d)`` float32, ``y (n,)`` float32, ``order (n,)`` int32
    (the epoch's row permutation) and ``batch_size`` and runs, batch by batch in that order,
    what ``keras.Model.fit`` runs: a forward pass in training mode (dropout on), the compiled
    binary cross-entropy (mean over the batch), its gradients and one step of the model's
    optimizer. It returns the epoch's loss and accuracy as ``fit`` logs them: means over the
    epoch's rows of the batch losses and of ``p > 0.5 == y``.
    """
    optimizer = model.optimizer
    variables = model.trainable_variables
    if not optimizer.built:
        optimizer.build(variables)
    loss_fn = keras.losses.BinaryCrossentropy()

    @tf.function(reduce_retracing=True)
    def run_epoch(X: tf.Tensor, y: tf.Tensor, order: tf.Tensor, batch_size: tf.Tensor):
        n = tf.shape(X)[0]
        loss_sum = tf.constant(0.0)
        correct = tf.constant(0.0)
        for start in tf.range(0, n, batch_size):
            rows = order[start : start + batch_size]
            xb, yb = tf.gather(X, rows), tf.gather(y, rows)
            with tf.GradientTape() as tape:
                p = tf.reshape(model(xb, training=True), [-1])
                loss = loss_fn(yb, p)
            grads = tape.gradient(loss, variables)
            optimizer.apply_gradients(zip(grads, variables))
            loss_sum += loss * tf.cast(tf.shape(rows)[0], tf.float32)
            correct += tf.reduce_sum(tf.cast(tf.equal(tf.cast(p > 0.5, tf.float32), yb), tf.float32))
        n_rows = tf.cast(n, tf.float32)
        return loss_sum / n_rows, correct / n_rows

    return run_epoch


class _EpochTimer(keras.callbacks.Callback):
    """Records the wall time of each epoch, in seconds, in ``times_s``."""

    def __init__(self) -> None:
        super().__init__()
        self.times_s: list[float] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.times_s.append(time.perf_counter() - self._start)


def _seed_everything(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, and make TensorFlow's ops deterministic."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


class SequenceClassifier:
    """One compiled Keras model of :data:`KINDS`, with seeded fitting and timings.

    Args:
        kind: which model (see :func:`build_sequence_recommender`).
        n_attributes: the number of binary attributes per row.
        seed: seeds Python, NumPy and TensorFlow before building and again before each ``fit``
            and turns TensorFlow's op determinism on (for the whole process), so that on CPU
            equal seeds give equal numbers; ``None`` leaves the random state alone.
        device: where the model's weights live and its training and scoring run (a
            :class:`~recsys_utils.device.Device`, or ``"auto"``, ``"cpu"`` or ``"gpu"``; default
            ``$RECSYS_DEVICE``, else auto: see :mod:`recsys_utils.device`).
        **build_kw: passed to the builder (e.g. ``units``, ``dropout``).

    Attributes:
        model: the compiled ``keras.Model``.
        device: the :class:`~recsys_utils.device.Device` used.
        history: per-epoch lists (``"loss"``, ``"accuracy"``, ``"val_..."``) of the last fit.
        epoch_times_s: wall time of each epoch of the last fit.
        fit_time_s: wall time of the last ``fit`` call.
    """

    def __init__(
        self,
        kind: str = "modified-lstm",
        n_attributes: int = 18,
        seed: int | None = 0,
        *,
        device: Device | str | None = None,
        **build_kw: Any,
    ) -> None:
        self.kind = kind
        self.n_attributes = n_attributes
        self.seed = seed
        self.build_kw = build_kw
        self.device = as_device(device)
        if seed is not None:
            _seed_everything(seed)
        with device_scope(self.device):
            self.model = build_sequence_recommender(kind, n_attributes, **build_kw)
        self.history: dict[str, list[float]] = {}
        self.epoch_times_s: list[float] = []
        self.fit_time_s: float | None = None

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        *,
        epochs: int = 100,
        batch_size: int = 10,
        verbose: int = 0,
        validation_data: tuple[np.ndarray, np.ndarray] | None = None,
        loop: str = "compiled",
    ) -> SequenceClassifier:
        """Train on ``X`` ``(n, n_attributes)`` 0/1 and ``y`` ``(n,)`` 0/1, reshuffled every epoch.

        Args:
            epochs, batch_size: as ``keras.Model.fit`` (the report: 100 and 10).
            verbose: 1 shows Keras' progress bar (``loop="keras"``) or one line per epoch.
            validation_data: ``(X_val, y_val)`` scored after every epoch (``val_loss``,
                ``val_accuracy`` in :attr:`history`).
            loop: ``"compiled"`` (default) runs each epoch as one TensorFlow graph
                (:func:`_compiled_epoch`): the same mini-batch training as ``fit``, without its
                per-batch Python overhead (about 6 times faster on the report's 34 rows); each
                epoch's row order comes from ``numpy.random.default_rng(seed)``.
                ``"keras"`` calls ``keras.Model.fit`` itself (its own shuffling, so the same seed
                gives other numbers).
        """
        if loop not in LOOPS:
            raise ValueError(f"loop must be one of {LOOPS}, got {loop!r}")
        if epochs < 1 or batch_size < 1:
            raise ValueError(f"epochs and batch_size must be at least 1, got {epochs} and {batch_size}")
        X = np.asarray(X, dtype="float32")
        y = np.asarray(y, dtype="float32").reshape(-1)
        if len(X) != len(y) or len(X) == 0:
            raise ValueError(
                f"need as many labels as rows, and at least one row: X has {len(X)} rows, y {len(y)} labels"
            )
        if validation_data is not None:
            validation_data = (
                np.asarray(validation_data[0], dtype="float32"),
                np.asarray(validation_data[1], dtype="float32").reshape(-1),
            )
        if self.seed is not None:
            _seed_everything(self.seed)
        start = time.perf_counter()
        with device_scope(self.device):
            if loop == "keras":
                timer = _EpochTimer()
                hist = self.model.fit(
                    X,
                    y,
                    epochs=epochs,
                    batch_size=batch_size,
                    verbose=verbose,
                    validation_data=validation_data,
                    shuffle=True,
                    callbacks=[timer],
                )
                self.history = {key: [float(v) for v in values] for key, values in hist.history.items()}
                self.epoch_times_s = timer.times_s
            else:
                self._fit_compiled(X, y, epochs, batch_size, validation_data, verbose)
        self.fit_time_s = time.perf_counter() - start
        return self

    def _fit_compiled(
        self,
        X: np.ndarray,
        y: np.ndarray,
        epochs: int,
        batch_size: int,
        validation_data: tuple[np.ndarray, np.ndarray] | None,
        verbose: int,
    ) -> None:
        run_epoch = _compiled_epoch(self.model)
        rng = np.random.default_rng(self.seed)
        X_t, y_t, size = tf.constant(X), tf.constant(y), tf.constant(batch_size, tf.int32)
        history: dict[str, list[float]] = {"loss": [], "accuracy": []}
        if validation_data is not None:
            history.update(val_loss=[], val_accuracy=[])
        self.epoch_times_s = []
        for epoch in range(epochs):
            t0 = time.perf_counter()
            order = tf.constant(rng.permutation(len(X)).astype(np.int32))
            loss, acc = run_epoch(X_t, y_t, order, size)
            history["loss"].append(float(loss))
            history["accuracy"].append(float(acc))
            self.epoch_times_s.append(time.perf_counter() - t0)
            if validation_data is not None:
                p = self.predict_proba(validation_data[0]).astype(np.float64)
                yv = validation_data[1].astype(np.float64)
                q = np.clip(p, 1e-7, 1 - 1e-7)
                history["val_loss"].append(float(-np.mean(yv * np.log(q) + (1 - yv) * np.log(1 - q))))
                history["val_accuracy"].append(float(np.mean((p > 0.5) == (yv > 0.5))))
            if verbose:
                print(
                    f"epoch {epoch + 1}/{epochs}: loss {history['loss'][-1]:.4f}, "
                    f"accuracy {history['accuracy'][-1]:.4f}",
                    flush=True,
                )
        self.history = history

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probability of "like" for each row of ``X`` ``(n, n_attributes)``: ``(n,)`` float."""
        X = np.asarray(X, dtype="float32")
        if len(X) == 0:
            return np.zeros(0, dtype="float32")
        # A direct call in inference mode: unlike ``predict`` it builds no new tf.function per
        # call, so scoring many small sets does not retrace (and warn).
        with device_scope(self.device):
            chunks = [self.model(X[i : i + 4096], training=False) for i in range(0, len(X), 4096)]
        return np.concatenate([np.asarray(c, dtype="float32").reshape(-1) for c in chunks])

    def evaluate_accuracy(self, X: np.ndarray, y: np.ndarray) -> float:
        """Keras' binary accuracy (like iff p > 0.5) on ``X`` (n, n_attributes), ``y`` (n,)."""
        X = np.asarray(X, dtype="float32")
        y = np.asarray(y, dtype="float32").reshape(-1)
        with device_scope(self.device):
            scores = self.model.evaluate(X, y, verbose=0, return_dict=True)
        return float(scores["accuracy"])

    def count_params(self) -> int:
        """The model's number of weights (trainable and not)."""
        return int(self.model.count_params())

    def save(self, path: str | Path) -> None:
        """Save the model (and its optimizer's state) to a ``.keras`` file."""
        if not self.model.optimizer.built:  # unfitted: give the file the slots a load expects
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.save(Path(path))

    @classmethod
    def load(cls, path: str | Path, *, device: Device | str | None = None) -> SequenceClassifier:
        """Load a model saved by :meth:`save` onto ``device`` (as for the constructor);
        ``kind`` is read from the model's name."""
        dev = as_device(device)
        with device_scope(dev):
            model = keras.saving.load_model(Path(path))
        self = cls.__new__(cls)
        self.device = dev
        self.kind = model.name
        self.n_attributes = int(model.input_shape[1])
        self.seed = None
        self.build_kw = {}
        self.model = model
        self.history = {}
        self.epoch_times_s = []
        self.fit_time_s = None
        return self
