"""The report's RBM recommender (Appendix A, "RBM BASED RECOMMENDER"), in NumPy.

The report trains a Bernoulli-Bernoulli restricted Boltzmann machine on a user x
movie matrix whose entries are ``rating / 5`` (0 when unrated), with one step of
contrastive divergence computed on *probabilities* (no sampling):

.. code-block:: text

    h0 = sigmoid(v0 W + b_h)        # (batch, n_hidden)
    v1 = sigmoid(h0 W^T + b_v)      # (batch, n_visible)
    h1 = sigmoid(v1 W + b_h)        # (batch, n_hidden)
    W   += lr * (v0^T h0 - v1^T h1) / batch
    b_v += lr * mean(v0 - v1, axis=0)
    b_h += lr * mean(h0 - h1, axis=0)

with ``lr = 1.0``, 30 hidden units, batches of 150 users, no shuffling, and
weights and biases initialised to **zero**. After each epoch the report prints
the mean squared reconstruction error over the whole training matrix (Appendix
B prints 10 values, 0.027124168 ... 0.019748472, although the code sets
``epochs = 100``). :class:`RBM` reproduces exactly that algorithm by default;
``init``, ``sampling``, ``cd_k`` and ``batching`` open options beyond it.

Which users and which batches (read from the report's code)
-----------------------------------------------------------
The training-set loop is::

    amountOfUsedUsers = 1500
    for userID, curUser in userGroup:          # users sorted by UserID
        temp = [0]*len(movies)
        for num, movie in curUser.iterrows():
            temp[movie['List Index']] = movie['Rating']/5.0
        trainingSet.append(temp)
        if amountOfUsers == 0:
            break
        amountOfUsers -= 1

* As printed it cannot run: the counter is defined as ``amountOfUsedUsers`` but
  the loop reads ``amountOfUsers`` (``NameError``); the printed log shows the
  authors ran a working variant.
* With the counter fixed, the user is appended *before* the test, so the loop
  appends users while the counter goes 1500, 1499, ..., 0: **1,501 users**
  (user ids 1..1501), not the 1,500 the comment intends.
  :data:`REPORT_N_TRAIN_USERS` is the stated intent (1,500);
  :data:`REPORT_LOOP_N_TRAIN_USERS` (1,501) reproduces the loop as written, and
  is what ``recsys_utils.recommenders.RBMRecommender`` uses by default.
  The printed log says the authors ran the 1,501-user loop: the algorithm has
  no randomness, and on real ML-1M 1,501 users give a first-epoch error of
  0.0271247 (printed: 0.0271242) while 1,500 users give 0.0286250.
* The batch loop ``zip(range(0, n, bs), range(bs, n, bs))`` stops at the last
  ``end < n``: it always drops the final batch that would end at ``n``. When
  ``n`` is not a multiple of ``bs`` that is the partial tail (n = 1,501: ten
  batches, user 1,501 unused); when it *is* a multiple it drops a **full**
  batch (n = 1,500: nine batches, the last 150 users never train the model,
  although they count in the printed error); when ``n <= bs`` there is no batch
  at all. :func:`report_batches` gives exactly these bounds.

Visible units are the columns of the matrix the caller passes: in the report
every movie of ``movies.dat`` in file order (3,883 for ML-1M).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np

from recsys_utils.report import RBM_BATCH_SIZE as REPORT_BATCH_SIZE
from recsys_utils.report import RBM_EPOCHS as REPORT_EPOCHS
from recsys_utils.report import RBM_LEARNING_RATE as REPORT_LEARNING_RATE
from recsys_utils.report import RBM_LOOP_N_TRAIN_USERS as REPORT_LOOP_N_TRAIN_USERS
from recsys_utils.report import RBM_N_HIDDEN as REPORT_N_HIDDEN
from recsys_utils.report import RBM_N_TRAIN_USERS as REPORT_N_TRAIN_USERS
from recsys_utils.report import RBM_PRINTED_ERRORS as REPORT_PRINTED_ERRORS

__all__ = [
    "RBMParams",
    "REPORT_N_TRAIN_USERS",
    "REPORT_LOOP_N_TRAIN_USERS",
    "REPORT_N_HIDDEN",
    "REPORT_LEARNING_RATE",
    "REPORT_BATCH_SIZE",
    "REPORT_EPOCHS",
    "REPORT_PRINTED_ERRORS",
    "RBM",
    "batch_bounds",
    "report_batches",
    "report_n_train_users",
]


Batching = Literal["report", "drop_last", "keep_last"]


def report_n_train_users(as_written: bool = False) -> int:
    """Number of users (the first ones by user id) the report trains the RBM on.

    Args:
        as_written: ``False`` (default) gives the stated intent, 1,500;
            ``True`` gives what the loop appends once its variable-name bug is
            fixed, 1,501 (see the module docstring).
    """
    return REPORT_LOOP_N_TRAIN_USERS if as_written else REPORT_N_TRAIN_USERS


def report_batches(n: int, batch_size: int) -> list[tuple[int, int]]:
    """Batch bounds of the report's ``zip(range(0, n, bs), range(bs, n, bs))``.

    Returns ``[(start, end), ...]`` with rows ``start:end`` in each batch; every
    batch is full, and the batch that would end at ``n`` (partial or full) is
    always dropped.
    """
    return list(zip(range(0, n, batch_size), range(batch_size, n, batch_size)))


def batch_bounds(n: int, batch_size: int, batching: Batching = "report") -> list[tuple[int, int]]:
    """Batch bounds over ``n`` rows, in order.

    Args:
        n: number of rows.
        batch_size: rows per batch (> 0).
        batching: ``"report"`` (:func:`report_batches`, the report's loop),
            ``"drop_last"`` (``n // batch_size`` full batches, drops only a
            partial tail) or ``"keep_last"`` (every row, the last batch may be
            smaller).
    """
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if batching == "report":
        return report_batches(n, batch_size)
    if batching == "drop_last":
        return [(s, s + batch_size) for s in range(0, (n // batch_size) * batch_size, batch_size)]
    if batching == "keep_last":
        return [(s, min(s + batch_size, n)) for s in range(0, n, batch_size)]
    raise ValueError(f"batching must be 'report', 'drop_last' or 'keep_last', got {batching!r}")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function ``1 / (1 + exp(-x))`` computed in place on ``x`` (keeps its dtype).

    Callers pass fresh temporaries. ``exp`` overflows to ``inf`` for
    ``x < -88`` (float32), which gives the correct limit 0; the warning is muted.
    """
    np.negative(x, out=x)
    with np.errstate(over="ignore"):
        np.exp(x, out=x)
    x += 1.0
    np.reciprocal(x, out=x)
    return x


@dataclass(frozen=True)
class RBMParams:
    """The RBM's hyperparameters, the report's by default (checked when made).

    Attributes:
        n_hidden: hidden units (report: 30).
        learning_rate: step size ``alpha`` (report: 1.0).
        batch_size: users per batch (report: 150).
        epochs: passes over the data (report's code: 100; its printed log: 10).
        batching: how batches are cut, see :func:`batch_bounds`; ``"report"``
            reproduces the report's loop exactly (drops the batch ending at
            ``n``, even a full one).
        init: ``"zeros"`` (report: W, b_v, b_h all zero; the hidden units
            then start, and in exact arithmetic stay, identical: effectively
            one hidden unit; see "Zero init and rounding" in :class:`RBM`) or
            ``"normal"`` (``W ~ N(0, init_scale**2)``, biases zero, seeded).
        init_scale: standard deviation of the ``"normal"`` initialisation.
        sampling: ``False`` (report) propagates probabilities; ``True`` samples
            binary hidden states (Bernoulli, seeded) to drive the Gibbs chain,
            while the statistics use probabilities (Hinton's practical guide).
        cd_k: Gibbs steps of CD-k (report: 1).
    """

    n_hidden: int = REPORT_N_HIDDEN
    learning_rate: float = REPORT_LEARNING_RATE
    batch_size: int = REPORT_BATCH_SIZE
    epochs: int = REPORT_EPOCHS
    batching: Batching = "report"
    init: Literal["zeros", "normal"] = "zeros"
    init_scale: float = 0.01
    sampling: bool = False
    cd_k: int = 1

    def __post_init__(self) -> None:
        if self.n_hidden <= 0:
            raise ValueError(f"n_hidden must be positive, got {self.n_hidden}")
        if self.cd_k < 1:
            raise ValueError(f"cd_k must be >= 1, got {self.cd_k}")
        if self.init not in ("zeros", "normal"):
            raise ValueError(f"init must be 'zeros' or 'normal', got {self.init!r}")
        if self.epochs < 0:
            raise ValueError(f"epochs must be >= 0, got {self.epochs}")
        batch_bounds(0, self.batch_size, self.batching)  # validates batch_size and batching


class RBM:
    """Bernoulli RBM trained by contrastive divergence; the report's settings by default.

    Args:
        params: the hyperparameters (:class:`RBMParams`; default: the report's).
        seed: seed of the initialisation and of the sampling.
        dtype: ``np.float32`` (the report's TensorFlow ``"float"``) or
            ``np.float64``.
        verbose: show a tqdm progress bar over epochs.

    Zero init and rounding: in exact arithmetic the report's zero init keeps
    every hidden unit identical forever. In floating point, BLAS rounding can
    differ between columns and eventually breaks the tie: on real ML-1M (1,501
    users, float32, OpenBLAS) the columns of ``W_`` differ by 3e-7 after 10
    epochs and by 0.5 after 30; the units then specialise and the error drops
    faster. float64 breaks the tie later (epoch 100: error 0.0171 in float32,
    0.0180 in float64; columns differ by 1.4 and 3.1). Errors beyond ~20
    epochs therefore depend on the dtype, BLAS and hardware; the first 10 do
    not (to 1e-6). Use ``init="normal"`` for a model whose units differ by
    design.

    :meth:`fit` sets the attributes below.

    Attributes:
        W_: ``(n_visible, n_hidden)`` weights (``dtype``).
        b_visible_: ``(n_visible,)`` visible biases.
        b_hidden_: ``(n_hidden,)`` hidden biases.
        errors_: one float per epoch, the mean squared reconstruction error over
            the whole matrix passed to ``fit`` (what the report prints).
        epoch_times_s: seconds per epoch (training and error).
        fit_time_s: seconds of the whole ``fit``.
        n_batches_: batches per epoch.
    """

    def __init__(
        self,
        params: RBMParams | None = None,
        *,
        seed: int | None = 0,
        dtype: type[np.floating] = np.float32,
        verbose: bool = False,
    ) -> None:
        params = params or RBMParams()
        if np.dtype(dtype) not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise ValueError(f"dtype must be float32 or float64, got {dtype}")
        self.params = params
        self.n_hidden = params.n_hidden
        self.learning_rate = params.learning_rate
        self.batch_size = params.batch_size
        self.epochs = params.epochs
        self.batching = params.batching
        self.init = params.init
        self.init_scale = params.init_scale
        self.sampling = params.sampling
        self.cd_k = params.cd_k
        self.seed = seed
        self.dtype = np.dtype(dtype).type
        self.verbose = verbose
        self.errors_: list[float] = []
        self.epoch_times_s: list[float] = []
        self.fit_time_s: float = 0.0
        self.n_batches_: int = 0
        self.W_: np.ndarray | None = None

    # ------------------------------------------------------------------ setup
    def _initialise(self, n_visible: int) -> None:
        """Create ``W_`` (n_visible, n_hidden), ``b_visible_`` and ``b_hidden_``."""
        self._rng = np.random.default_rng(self.seed)
        if self.init == "zeros":
            self.W_ = np.zeros((n_visible, self.n_hidden), self.dtype)
        else:
            self.W_ = (self._rng.standard_normal((n_visible, self.n_hidden)) * self.init_scale).astype(
                self.dtype
            )
        self.b_visible_ = np.zeros(n_visible, self.dtype)
        self.b_hidden_ = np.zeros(self.n_hidden, self.dtype)

    def _check(self, V: np.ndarray, n_visible: int | None = None) -> np.ndarray:
        """Return ``V`` as a C-contiguous ``(n, n_visible)`` array of ``dtype``."""
        V = np.ascontiguousarray(V, dtype=self.dtype)
        if V.ndim != 2:
            raise ValueError(f"expected a 2-D (users, visible) matrix, got shape {V.shape}")
        if n_visible is not None and V.shape[1] != n_visible:
            raise ValueError(f"expected {n_visible} visible columns, got {V.shape[1]}")
        return V

    # ------------------------------------------------------------ primitives
    def _hidden(self, v: np.ndarray) -> np.ndarray:
        """p(h = 1 | v): ``(n, n_visible) -> (n, n_hidden)``."""
        return _sigmoid(v @ self.W_ + self.b_hidden_)

    def _visible(self, h: np.ndarray) -> np.ndarray:
        """p(v = 1 | h): ``(n, n_hidden) -> (n, n_visible)``."""
        return _sigmoid(h @ self.W_.T + self.b_visible_)

    def _cd_update(self, v0: np.ndarray) -> None:
        """One CD-k update of W, b_v, b_h from a batch ``v0`` (batch, n_visible).

        All three updates use the parameters from before the step (the report
        feeds ``prevw``, ``prevVisibleBias``, ``prevHiddenBias`` to all three).
        """
        h0 = self._hidden(v0)
        h, v = h0, v0
        for _ in range(self.cd_k):
            h_drive = (
                (self._rng.random(h.shape, dtype=self.dtype) < h).astype(self.dtype) if self.sampling else h
            )
            v = self._visible(h_drive)
            h = self._hidden(v)
        n = self.dtype(v0.shape[0])
        lr = self.dtype(self.learning_rate)
        # (h^T v)^T == v^T h; this order is ~10x faster in BLAS for (batch, n_visible) x (batch, n_hidden)
        dW = (h0.T @ v0 - h.T @ v).T / n
        db_v = (v0 - v).mean(axis=0)
        db_h = (h0 - h).mean(axis=0)
        self.W_ += lr * dW
        self.b_visible_ += lr * db_v
        self.b_hidden_ += lr * db_h

    # ------------------------------------------------------------------- API
    def fit(self, V: np.ndarray) -> RBM:
        """Train on ``V``: ``(n_users, n_visible)`` with values in [0, 1] (cast to ``dtype``).

        Parameters are re-initialised at each call. Appends one reconstruction
        error per epoch to ``errors_`` (computed over all of ``V``, including
        rows the batching leaves out, as the report does). When the batching
        gives no batch at all a ``RuntimeWarning`` is issued and the
        parameters keep their initial values, as in the report's loop.
        """
        V = self._check(V)
        if V.size and (V.min() < 0.0 or V.max() > 1.0):
            raise ValueError("RBM visible values must lie in [0, 1] (the report uses rating / 5)")
        start = time.perf_counter()
        self._initialise(V.shape[1])
        bounds = batch_bounds(V.shape[0], self.batch_size, self.batching)
        self.n_batches_ = len(bounds)
        if not bounds and self.epochs:
            warnings.warn(
                f"{V.shape[0]} rows give no batch of {self.batch_size} with batching={self.batching!r}: "
                "no training step is taken (the report's loop needs more than batch_size rows)",
                RuntimeWarning,
                stacklevel=2,
            )
        self.errors_, self.epoch_times_s = [], []
        epochs = range(self.epochs)
        bar = None
        if self.verbose:
            from tqdm.auto import tqdm

            bar = tqdm(epochs, desc="RBM", unit="epoch")
            epochs = bar
        for _ in epochs:
            t0 = time.perf_counter()
            for s, e in bounds:
                self._cd_update(V[s:e])
            self.errors_.append(self.reconstruction_error(V))
            self.epoch_times_s.append(time.perf_counter() - t0)
            if bar is not None:
                bar.set_postfix(error=f"{self.errors_[-1]:.6f}")
        if bar is not None:
            bar.close()
        self.fit_time_s = time.perf_counter() - start
        return self

    def partial_fit(self, V_batch: np.ndarray) -> RBM:
        """One CD-k update from one batch ``(batch, n_visible)``, no error recorded.

        Initialises the parameters (per ``init``) on the first call only; set
        ``W_``, ``b_visible_``, ``b_hidden_`` beforehand to start elsewhere.
        """
        V_batch = self._check(V_batch)
        if getattr(self, "W_", None) is None:
            self._initialise(V_batch.shape[1])
        elif not hasattr(self, "_rng"):
            self._rng = np.random.default_rng(self.seed)
        self._check(V_batch, self.W_.shape[0])
        if V_batch.shape[0]:
            self._cd_update(V_batch)
        return self

    def transform(self, V: np.ndarray) -> np.ndarray:
        """Hidden probabilities: ``(n, n_visible) -> (n, n_hidden)`` in [0, 1]."""
        return self._hidden(self._check(V, self.W_.shape[0]))

    def reconstruct(self, V: np.ndarray) -> np.ndarray:
        """Recommendation scores ``sigmoid(sigmoid(V W + b_h) W^T + b_v)``.

        ``(n, n_visible) -> (n, n_visible)`` in [0, 1]; the report ranks
        a user's movies by this score.
        """
        return self._visible(self.transform(V))

    def reconstruction_error(self, V: np.ndarray) -> float:
        """Mean squared error between ``V`` and :meth:`reconstruct` (the report's ``errorSum``)."""
        V = self._check(V, self.W_.shape[0])
        if V.size == 0:
            return float("nan")
        diff = V - self.reconstruct(V)
        # Row sums in dtype, total in float64: accurate for millions of entries.
        return float(np.einsum("ij,ij->i", diff, diff).astype(np.float64).sum() / V.size)
