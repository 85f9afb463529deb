"""The Python side of the TensorFlow trainer: check the inputs, pad the users, run the epochs."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from recsys_utils.batched.config import config_dict, resolve
from recsys_utils.batched.driver import _check_inputs
from recsys_utils.batched.layout import ParamLayout, init_weights
from recsys_utils.batched.result import BatchedResult
from recsys_utils.batched_tf.network import NetSpec
from recsys_utils.batched_tf.step import AdamSpec, epoch_function
from recsys_utils.batched_tf.streams import user_keys
from recsys_utils.device import resolve_device

__all__ = ["pad_users", "train_users"]

#: ``n_attributes`` when no user is given (the report's 18 genres).
_DEFAULT_ATTRIBUTES = 18


def pad_users(
    Xs: Sequence[np.ndarray], ys: Sequence[np.ndarray], batch_size: int, n_attributes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stack users of different sizes into ``(U, S, T)`` uint8 flags, ``(U, S)`` float32
    labels and ``(U,)`` int32 row counts, ``S`` the largest user's rows rounded up to whole
    batches (padding: zeros)."""
    n_rows = np.array([len(X) for X in Xs], np.int32)
    n_batches = max((math.ceil(n / batch_size) for n in n_rows), default=0)
    n_slots = n_batches * batch_size
    X = np.zeros((len(Xs), n_slots, n_attributes), np.uint8)
    Y = np.zeros((len(Xs), n_slots), np.float32)
    for i, (x, y) in enumerate(zip(Xs, ys)):
        X[i, : len(x)] = x
        Y[i, : len(y)] = y
    return X, Y, n_rows


def _initial_weights(
    layout: ParamLayout, ids: np.ndarray, cell: str, seed: int, given: dict[str, np.ndarray] | None
) -> dict[str, np.ndarray]:
    """``{name: (U, *shape)}`` float32: ``given`` (checked) or :func:`init_weights`."""
    if given is None:
        given = init_weights(
            ids,
            cell=cell,
            seed=seed,
            n_attributes=layout.n_attributes,
            embedding_dim=layout.embedding_dim,
            units=layout.units,
        )
    out = {}
    for name, shape in layout.shapes.items():
        got = np.shape(given[name])
        if got != (len(ids),) + shape:
            raise ValueError(f"initial_weights[{name!r}] has shape {got}, expected {(len(ids),) + shape}")
        out[name] = np.ascontiguousarray(given[name], dtype=np.float32)
    return out


def _progress(total: int, enabled: bool, desc: str) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="epoch")


def train_users(
    X_list: Sequence[np.ndarray],
    y_list: Sequence[np.ndarray],
    user_ids: Sequence[int] | None = None,
    *,
    network: Any = None,
    training: Any = None,
    initial_weights: dict[str, np.ndarray] | None = None,
    device: str | None = None,
    jit_compile: bool = True,
    n_threads: int | None = None,
    progress: bool = True,
    **settings: Any,
) -> BatchedResult:
    """Train one independent recommender per user, all users in each TensorFlow step.

    The same networks and training as :func:`recsys_utils.batched.train_users` (see
    :mod:`recsys_utils.batched_tf`), with the same arguments but ``n_threads``.

    Args:
        X_list: one ``(n_u, n_attributes)`` 0/1 array per user (the genre flags).
        y_list: one ``(n_u,)`` 0/1 array per user (1 = like).
        user_ids: ``(n_users,)`` distinct ids; each keys the user's random stream (and, by
            default, their initial weights). Default ``0..n_users-1``.
        network: a :class:`recsys_utils.batched.Network` (default: the report's modified
            recommender).
        training: a :class:`recsys_utils.batched.Training` (default: the report's).
        initial_weights: ``{name: (n_users, *shape)}`` as in ``ParamLayout``; default
            :func:`recsys_utils.batched.init_weights` with ``training.seed`` (the Numba
            trainer's initial weights).
        device: ``"auto"``, ``"cpu"`` or ``"gpu"`` (default: ``RECSYS_DEVICE``, else auto;
            see :mod:`recsys_utils.device`).
        jit_compile: compile each epoch with XLA (``tf.function(jit_compile=True)``).
        n_threads: accepted for drop-in use in place of the Numba trainer, and unused
            (TensorFlow runs its own thread pools).
        progress: show a tqdm progress bar over epochs.
        **settings: fields of ``Network`` or ``Training`` replacing those of ``network`` /
            ``training`` (``cell="gru"``, ``epochs=20``, ``dropout=0.0``, ...).

    Returns:
        A :class:`recsys_utils.batched.BatchedResult` (its ``predict_proba`` and
        ``to_keras`` work as for the Numba trainer's).  ``compile_time_s`` is the first,
        empty, call of the compiled epoch (tracing and XLA compilation).
    """
    del n_threads  # TensorFlow's thread pools are set when it starts
    net, fit = resolve(network, training, settings)
    Xs, ys, ids = _check_inputs(X_list, y_list, user_ids)
    n_attributes = Xs[0].shape[1] if Xs else _DEFAULT_ATTRIBUTES
    layout = net.layout(n_attributes)
    w0 = _initial_weights(layout, ids, net.cell, fit.seed, initial_weights)
    X, Y, n_rows = pad_users(Xs, ys, fit.batch_size, n_attributes)
    n_batches = X.shape[1] // fit.batch_size
    loss_hist = np.zeros((len(ids), fit.epochs), np.float32)
    run = epoch_function(NetSpec.of(net, n_attributes), AdamSpec.of(fit), bool(jit_compile))
    target = resolve_device(device)
    compile_time = elapsed = 0.0
    with tf.device(target.tf_device):
        state = (
            {k: tf.constant(v) for k, v in w0.items()},
            {k: tf.zeros_like(v) for k, v in w0.items()},
            {k: tf.zeros_like(v) for k, v in w0.items()},
            tf.zeros(len(ids), tf.int64),
        )
        if len(ids) and n_batches and fit.epochs:
            data = (tf.constant(X), tf.constant(Y), tf.constant(n_rows), tf.constant(user_keys(fit.seed, ids)))
            start = time.perf_counter()
            run(*state, *data, tf.constant(0), tf.constant(0))[-1].numpy()
            compile_time = time.perf_counter() - start
            bar = _progress(fit.epochs, progress, f"training {len(ids)} users ({net.cell}, {target.kind})")
            start = time.perf_counter()
            for epoch in range(fit.epochs):
                *state, loss_sum = run(*state, *data, tf.constant(epoch), tf.constant(n_batches))
                loss_hist[:, epoch] = loss_sum.numpy() / np.maximum(n_rows, 1)
                if bar is not None:
                    bar.update(1)
            elapsed = time.perf_counter() - start
            if bar is not None:
                bar.close()
        weights = {k: v.numpy() for k, v in state[0].items()}
        steps = state[3].numpy().astype(np.int64)
    return BatchedResult(
        ids, layout, weights, steps, loss_hist, elapsed, compile_time, config_dict(net, fit)
    )
