"""The report's autoencoder recommender (Appendix A, "AUTO-ENCODER BASED RECOMMENDER").

The report's TensorFlow 1 code, restated:

* input: one user's row of the user x movie rating matrix built with
  ``pd.pivot_table(...).fillna(0)`` (ML-1M: 6,040 users x 3,706 columns, every
  *rated* movie sorted by id; raw ratings 1..5, 0 when unrated);
* split: ``train_test_split(ratings_pivot, train_size=0.8)`` with no seed
  (4,832 / 1,208 users, shuffled order): :func:`split_users` is the seeded
  equivalent (same indices as sklearn with ``random_state=seed``);
* one hidden layer of 256 sigmoid units, a linear output of the input's width;
  each layer appends a constant-1 column and folds the bias into a weight
  matrix drawn from ``tf.random_normal`` (so weights **and** biases start
  N(0, 1));
* loss ``tf.reduce_mean(tf.square(output - input))``: mean over **all**
  entries, unrated zeros included;
* ``tf.train.AdagradOptimizer(0.1)``: accumulator initialised to 0.1,
  ``acc += g**2; w -= lr * g / sqrt(acc)`` with no epsilon. (Keras 3's
  ``Adagrad`` adds ``epsilon=1e-7`` inside the square root; negligible next to
  an accumulator >= 0.1, and set to 0 here by default to match TF1 exactly.);
* batches of 100 users in the order of ``X_train``, ``int(n / 100)`` of them
  (the last partial batch is dropped), no reshuffling, 200 epochs;
* after each epoch: sklearn ``mean_squared_error`` of the outputs on the train
  and test matrices, and ``epoch_loss`` = the **sum** of the batch losses.

Appendix B prints the first 10 epochs (:data:`REPORT_PRINTED_HISTORY`).

Beyond the report: ``loss="observed"`` (AutoRec style: squared error on the
rated entries only), :func:`holdout_ratings` and :func:`heldout_rmse` for an
evaluation on ratings hidden from the input.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Literal

import numpy as np

from recsys_utils.device import Device, as_device, device_scope
from recsys_utils.models.autoencoder_data import heldout_rmse, holdout_ratings, split_users
from recsys_utils.report import AE_BATCH_SIZE as REPORT_BATCH_SIZE
from recsys_utils.report import AE_EPOCHS as REPORT_EPOCHS
from recsys_utils.report import AE_LEARNING_RATE as REPORT_LEARNING_RATE
from recsys_utils.report import AE_N_HIDDEN as REPORT_N_HIDDEN
from recsys_utils.report import AE_PRINTED_HISTORY as REPORT_PRINTED_HISTORY
from recsys_utils.report import AE_TRAIN_FRACTION as REPORT_TRAIN_FRACTION

__all__ = [
    "REPORT_N_HIDDEN",
    "REPORT_LEARNING_RATE",
    "REPORT_BATCH_SIZE",
    "REPORT_EPOCHS",
    "REPORT_TRAIN_FRACTION",
    "REPORT_PRINTED_HISTORY",
    "RatingAutoencoder",
    "split_users",
    "holdout_ratings",
    "heldout_rmse",
]


Loss = Literal["all", "observed"]


class RatingAutoencoder:
    """The report's 256-unit sigmoid autoencoder over users' rating rows.

    Args:
        n_hidden: hidden sigmoid units (report: 256).
        learning_rate: Adagrad step (report: 0.1).
        initial_accumulator_value: Adagrad's starting accumulator (TF1: 0.1).
        epsilon: added inside Adagrad's square root (TF1: none, so 0.0;
            Keras 3 uses 1e-7).
        loss: ``"all"`` (report: MSE over every entry, zeros included) or
            ``"observed"`` (mean squared error over the input's non-zero
            entries only; unrated entries get no gradient).
        init_stddev: standard deviation of the normal initialisation of
            weights and biases (report: 1.0, ``tf.random_normal``).
        deterministic: call ``tf.config.experimental.enable_op_determinism()``
            in :meth:`fit` (global TensorFlow setting).
        track_errors: compute the per-epoch MSEs of :attr:`history` (the report prints them);
            ``False`` keeps only ``"loss"`` and roughly halves an epoch's time (the
            parameters are the same either way).
        device: where :meth:`fit` puts the weights and runs training and scoring (a
            :class:`~recsys_utils.device.Device`, or ``"auto"``, ``"cpu"`` or ``"gpu"``; default
            ``$RECSYS_DEVICE``, else auto); resolved by :meth:`fit` into :attr:`device_`.

    :meth:`fit` sets the attributes below.

    Attributes:
        history: ``"loss"`` (sum of batch losses per epoch, as the report
            prints), ``"train_mse"`` and, when ``R_test`` is given,
            ``"test_mse"`` (MSE over all entries of the outputs, as the
            report's sklearn ``MSE``), plus ``"train_observed_mse"`` /
            ``"test_observed_mse"`` (MSE on rated entries only); one float per
            epoch each.
        epoch_times_s: seconds per epoch (training and evaluation).
        fit_time_s: seconds of the whole :meth:`fit`.
        n_batches_: batches per epoch.
        device_: the :class:`~recsys_utils.device.Device` of the last fit.
    """

    def __init__(
        self,
        n_hidden: int = REPORT_N_HIDDEN,
        *,
        learning_rate: float = REPORT_LEARNING_RATE,
        initial_accumulator_value: float = 0.1,
        epsilon: float = 0.0,
        loss: Loss = "all",
        init_stddev: float = 1.0,
        deterministic: bool = True,
        track_errors: bool = True,
        device: Device | str | None = None,
    ) -> None:
        if loss not in ("all", "observed"):
            raise ValueError(f"loss must be 'all' or 'observed', got {loss!r}")
        if n_hidden <= 0:
            raise ValueError(f"n_hidden must be positive, got {n_hidden}")
        if initial_accumulator_value + epsilon <= 0:
            raise ValueError("initial_accumulator_value + epsilon must be positive")
        self.n_hidden = n_hidden
        self.learning_rate = learning_rate
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon
        self.loss = loss
        self.init_stddev = init_stddev
        self.deterministic = deterministic
        self.track_errors = track_errors
        self.device = device
        self.device_: Device | None = None
        self.history: dict[str, list[float]] = {}
        self.epoch_times_s: list[float] = []
        self.fit_time_s: float = 0.0
        self.n_batches_: int = 0
        self._vars: list | None = None

    # ------------------------------------------------------------ parameters
    def _initialise(self, n_items: int, seed: int) -> None:
        """Draw the report's folded ``(n_items + 1, n_hidden)`` and ``(n_hidden + 1, n_items)``
        matrices from N(0, init_stddev^2) and split off their last rows as biases."""
        import tensorflow as tf

        rng = np.random.default_rng(seed)
        w1 = (rng.standard_normal((n_items + 1, self.n_hidden)) * self.init_stddev).astype(np.float32)
        w2 = (rng.standard_normal((self.n_hidden + 1, n_items)) * self.init_stddev).astype(np.float32)
        self._vars = [
            tf.Variable(w1[:-1], name="W1"),  # (n_items, n_hidden)
            tf.Variable(w1[-1], name="b1"),  # (n_hidden,)
            tf.Variable(w2[:-1], name="W2"),  # (n_hidden, n_items)
            tf.Variable(w2[-1], name="b2"),  # (n_items,)
        ]
        self._accumulators = [
            tf.Variable(tf.fill(v.shape, np.float32(self.initial_accumulator_value)), trainable=False)
            for v in self._vars
        ]
        self.n_items_ = n_items
        self._build_functions()

    def get_weights(self) -> dict[str, np.ndarray]:
        """``{"W1": (n_items, n_hidden), "b1": (n_hidden,), "W2": (n_hidden, n_items), "b2": (n_items,)}``."""
        self._require_fitted()
        return {name: v.numpy() for name, v in zip(("W1", "b1", "W2", "b2"), self._vars)}

    def _require_fitted(self) -> None:
        if self._vars is None:
            raise RuntimeError("call fit() first")

    # ------------------------------------------------------------- functions
    def _build_functions(self) -> None:
        """Trace the forward pass, the gradients, the per-epoch training loop and the error sums.

        Gradients are written out by hand (cheaper than a tape on 2 CPU cores;
        tests compare them with ``tf.GradientTape``). With ``epsilon == 0`` the
        update is TensorFlow's fused ``ResourceApplyAdagrad`` kernel, the very
        kernel behind TF1's ``AdagradOptimizer``.
        """
        import tensorflow as tf

        W1, b1, W2, b2 = self._vars
        accs = self._accumulators
        lr = tf.constant(self.learning_rate, tf.float32)
        eps = tf.constant(self.epsilon, tf.float32)
        fused = self.epsilon == 0.0
        observed = self.loss == "observed"
        spec = tf.TensorSpec([None, self.n_items_], tf.float32)

        def forward(x):
            """``(b, n_items) -> (b, n_items)``: linear(sigmoid(x W1 + b1))."""
            return tf.matmul(tf.sigmoid(tf.matmul(x, W1) + b1), W2) + b2

        def loss_and_grads(x):
            """Batch loss and its gradients w.r.t. ``[W1, b1, W2, b2]``; ``x``: (b, n_items)."""
            h = tf.sigmoid(tf.matmul(x, W1) + b1)  # (b, n_hidden)
            err = tf.matmul(h, W2) + b2 - x  # (b, n_items)
            if observed:
                mask = tf.cast(tf.not_equal(x, 0.0), tf.float32)
                err = err * mask
                count = tf.maximum(tf.reduce_sum(mask), 1.0)
            else:
                count = tf.cast(tf.size(x), tf.float32)
            loss = tf.reduce_sum(tf.square(err)) / count
            d_out = err * (2.0 / count)  # d loss / d output
            d_pre = tf.matmul(d_out, W2, transpose_b=True) * h * (1.0 - h)  # d loss / d (x W1 + b1)
            grads = [
                tf.matmul(x, d_pre, transpose_a=True),
                tf.reduce_sum(d_pre, axis=0),
                tf.matmul(h, d_out, transpose_a=True),
                tf.reduce_sum(d_out, axis=0),
            ]
            return loss, grads

        def apply(grads):
            for v, a, g in zip(self._vars, accs, grads):
                if fused:  # acc += g^2; v -= lr * g / sqrt(acc)
                    tf.raw_ops.ResourceApplyAdagrad(
                        var=v.handle, accum=a.handle, lr=lr, grad=g, use_locking=False, update_slots=True
                    )
                else:  # Keras 3's formula: epsilon inside the square root
                    a.assign_add(tf.square(g))
                    v.assign_sub(lr * g / tf.sqrt(a + eps))

        @tf.function(input_signature=[spec, tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.int32)])
        def train_epoch(X, n_batches, batch_size):
            """Adagrad over rows ``[i*bs, (i+1)*bs)`` for i < n_batches; returns the sum of batch losses."""
            total = tf.constant(0.0, tf.float64)
            n = tf.shape(X)[0]
            for i in tf.range(n_batches):
                loss, grads = loss_and_grads(X[i * batch_size : tf.minimum((i + 1) * batch_size, n)])
                apply(grads)
                total += tf.cast(loss, tf.float64)
            return total

        @tf.function(input_signature=[spec])
        def error_sums(X):
            """(sum of squared errors, same on non-zero entries, count of non-zero entries)."""
            sq = tf.square(forward(X) - X)
            mask = tf.cast(tf.not_equal(X, 0.0), tf.float32)
            row_all = tf.cast(tf.reduce_sum(sq, axis=1), tf.float64)
            row_obs = tf.cast(tf.reduce_sum(sq * mask, axis=1), tf.float64)
            return tf.reduce_sum(row_all), tf.reduce_sum(row_obs), tf.reduce_sum(tf.cast(mask, tf.float64))

        self._loss_and_grads = tf.function(loss_and_grads, input_signature=[spec])
        self._train_epoch = train_epoch
        self._error_sums = error_sums
        self._forward = tf.function(forward, input_signature=[spec])

    def _errors(self, X, chunk: int = 2048) -> tuple[float, float]:
        """(MSE over all entries, MSE over non-zero entries) of a float32 tensor ``X`` (n, m)."""
        n = int(X.shape[0])
        s_all = s_obs = cnt = 0.0
        for s in range(0, n, chunk):
            a, o, c = self._error_sums(X[s : s + chunk])
            s_all, s_obs, cnt = s_all + float(a), s_obs + float(o), cnt + float(c)
        mse_all = s_all / (n * self.n_items_) if n else float("nan")
        return mse_all, (s_obs / cnt if cnt else float("nan"))

    # ------------------------------------------------------------------- API
    def fit(
        self,
        R_train: np.ndarray,
        R_test: np.ndarray | None = None,
        *,
        epochs: int = REPORT_EPOCHS,
        batch_size: int = REPORT_BATCH_SIZE,
        drop_last: bool = True,
        seed: int = 0,
        verbose: int = 0,
        on_epoch_end: Callable[[int], None] | None = None,
    ) -> RatingAutoencoder:
        """Train from scratch on ``R_train`` ``(n_train, n_items)``; evaluate on ``R_test`` ``(n_test, n_items)``.

        Rows are used in the given order, ``n_train // batch_size`` batches per
        epoch when ``drop_last`` (the report), every row otherwise. With no
        batch at all (fewer rows than ``batch_size``) a ``RuntimeWarning`` is
        issued and the parameters keep their initial values, as the report's
        loop would.
        ``verbose``: 0 silent, 1 a tqdm bar, 2 the report's two printed lines
        per epoch.

        ``seed`` draws the initial weights (``np.random.default_rng(seed)``;
        the report's unseeded TF1 stream cannot be reproduced) and is passed to
        ``keras.utils.set_random_seed`` (which also seeds Python's and NumPy's
        global generators). Training itself has no randomness; with
        ``deterministic`` the run is bit-identical per seed on one machine.

        ``on_epoch_end(epochs_done)``, when given, is called after each epoch (e.g. to score a
        validation set along the training curve); it must not change the parameters.
        """
        import keras
        import tensorflow as tf

        R_train = np.ascontiguousarray(R_train, dtype=np.float32)
        if R_train.ndim != 2:
            raise ValueError(f"R_train must be 2-D (users, items), got shape {R_train.shape}")
        if R_test is not None:
            R_test = np.ascontiguousarray(R_test, dtype=np.float32)
            if R_test.ndim != 2 or R_test.shape[1] != R_train.shape[1]:
                raise ValueError(f"R_test must have shape (n, {R_train.shape[1]}), got {R_test.shape}")
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        n = R_train.shape[0]
        n_batches = n // batch_size if drop_last else -(-n // batch_size)
        if n_batches == 0 and epochs > 0:  # the report's loop would silently not train either
            warnings.warn(
                f"{n} training rows give no full batch of {batch_size}: no training step is taken "
                "(pass a smaller batch_size or drop_last=False)",
                RuntimeWarning,
                stacklevel=2,
            )

        self.device_ = as_device(self.device)
        with device_scope(self.device_):
            start = time.perf_counter()
            keras.utils.set_random_seed(seed)
            if self.deterministic:
                tf.config.experimental.enable_op_determinism()
            self._initialise(R_train.shape[1], seed)
            self.n_batches_ = n_batches
            X_train = tf.constant(R_train)
            X_test = tf.constant(R_test) if R_test is not None else None
            keys = ["loss"]
            if self.track_errors:
                keys += ["train_mse", "train_observed_mse"]
            if self.track_errors and X_test is not None:
                keys += ["test_mse", "test_observed_mse"]
            self.history = {k: [] for k in keys}
            self.epoch_times_s = []

            bar = None
            if verbose == 1:
                from tqdm.auto import tqdm

                bar = tqdm(total=epochs, desc="autoencoder", unit="epoch")
            for epoch in range(epochs):
                t0 = time.perf_counter()
                loss = float(self._train_epoch(X_train, tf.constant(n_batches), tf.constant(batch_size)))
                self.history["loss"].append(loss)
                if not self.track_errors:
                    self.epoch_times_s.append(time.perf_counter() - t0)
                    if on_epoch_end is not None:
                        on_epoch_end(epoch + 1)
                    continue
                tr_all, tr_obs = self._errors(X_train)
                self.history["train_mse"].append(tr_all)
                self.history["train_observed_mse"].append(tr_obs)
                if X_test is not None:
                    te_all, te_obs = self._errors(X_test)
                    self.history["test_mse"].append(te_all)
                    self.history["test_observed_mse"].append(te_obs)
                self.epoch_times_s.append(time.perf_counter() - t0)
                if on_epoch_end is not None:
                    on_epoch_end(epoch + 1)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(train_mse=f"{tr_all:.4f}")
                elif verbose >= 2:
                    test_txt = f" MSE test {self.history['test_mse'][-1]}" if X_test is not None else ""
                    print(f"MSE train {tr_all}{test_txt}")
                    print(f"Epoch {epoch} / {epochs} loss: {loss}")
            if bar is not None:
                bar.close()
        self.fit_time_s = time.perf_counter() - start
        return self

    def loss_and_gradients(self, R: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        """The configured loss of one batch ``R`` ``(b, n_items)`` and its gradients.

        Returns ``(loss, {"W1": (n_items, n_hidden), "b1": (n_hidden,),
        "W2": (n_hidden, n_items), "b2": (n_items,)})``; parameters unchanged.
        """
        self._require_fitted()
        loss, grads = self._loss_and_grads(np.ascontiguousarray(R, dtype=np.float32))
        return float(loss), {k: g.numpy() for k, g in zip(("W1", "b1", "W2", "b2"), grads)}

    def set_weights(self, weights: dict[str, np.ndarray]) -> None:
        """Overwrite parameters with arrays shaped as :meth:`get_weights` returns (accumulators kept)."""
        self._require_fitted()
        for name, v in zip(("W1", "b1", "W2", "b2"), self._vars):
            if name in weights:
                v.assign(np.asarray(weights[name], dtype=np.float32))

    def predict(self, R: np.ndarray, chunk: int = 2048) -> np.ndarray:
        """Reconstructed ratings: ``(n, n_items) -> (n, n_items)`` float32 (unclipped, linear output)."""
        self._require_fitted()
        R = np.ascontiguousarray(R, dtype=np.float32)
        if R.ndim != 2 or R.shape[1] != self.n_items_:
            raise ValueError(f"expected shape (n, {self.n_items_}), got {R.shape}")
        if R.shape[0] == 0:
            return np.zeros((0, self.n_items_), np.float32)
        with device_scope(self.device_):
            return np.concatenate(
                [self._forward(R[s : s + chunk]).numpy() for s in range(0, R.shape[0], chunk)]
            )

    def mse(self, R: np.ndarray) -> float:
        """MSE over all entries of ``R`` ``(n, n_items)`` against :meth:`predict` (the report's metric)."""
        import tensorflow as tf

        self._require_fitted()
        with device_scope(self.device_):
            return self._errors(tf.constant(np.asarray(R, dtype=np.float32)))[0]
