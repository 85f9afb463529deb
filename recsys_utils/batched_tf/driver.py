"""The Python side of the TensorFlow trainer: check the inputs, pad the users, run the epochs."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class TFOptions:
    """Where and how the TensorFlow trainer runs (results do not depend on them beyond
    float32 round-off).

    Attributes:
        device: ``"auto"``, ``"cpu"`` or ``"gpu"`` (default: ``RECSYS_DEVICE``, else auto;
            see :mod:`recsys_utils.device`).
        jit_compile: compile each epoch with XLA (``tf.function(jit_compile=True)``).
        groups: train the users in this many groups, one after the other (users sorted by
            size, largest first, cut into groups of equal count): each group is padded only
            to its own largest user, which saves most of the padding when a few users have
            many rows (ML-1M: 151 batches for the largest, 11 on average), at the cost of one
            compilation per group and of running the groups in sequence.  A user's result
            does not depend on the grouping.
    """

    device: str | None = None
    jit_compile: bool = True
    groups: int = 1

    def __post_init__(self) -> None:
        if int(self.groups) < 1:
            raise ValueError(f"groups must be >= 1, got {self.groups!r}")


def train_users(
    X_list: Sequence[np.ndarray],
    y_list: Sequence[np.ndarray],
    user_ids: Sequence[int] | None = None,
    *,
    network: Any = None,
    training: Any = None,
    initial_weights: dict[str, np.ndarray] | None = None,
    options: TFOptions | None = None,
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
        options: device, XLA compilation and user groups (:class:`TFOptions`; default: the
            device of ``RECSYS_DEVICE``, XLA, one group).
        progress: show a tqdm progress bar over epochs.
        **settings: fields of ``Network`` or ``Training`` replacing those of ``network`` /
            ``training`` (``cell="gru"``, ``epochs=20``, ``dropout=0.0``, ...).

    Returns:
        A :class:`recsys_utils.batched.BatchedResult` (its ``predict_proba`` and
        ``to_keras`` work as for the Numba trainer's).  ``compile_time_s`` is the first,
        empty, call of the compiled epoch of each group (tracing and XLA compilation);
        ``train_time_s`` the epochs' wall time, summed over the groups.
    """
    del n_threads  # TensorFlow's thread pools are set when it starts
    options = options or TFOptions()
    net, fit = resolve(network, training, settings)
    Xs, ys, ids = _check_inputs(X_list, y_list, user_ids)
    n_attributes = Xs[0].shape[1] if Xs else _DEFAULT_ATTRIBUTES
    layout = net.layout(n_attributes)
    w0 = _initial_weights(layout, ids, net.cell, fit.seed, initial_weights)
    run = epoch_function(NetSpec.of(net, n_attributes), AdamSpec.of(fit), bool(options.jit_compile))
    target = resolve_device(options.device)
    weights = {k: np.zeros_like(v) for k, v in w0.items()}
    steps = np.zeros(len(ids), np.int64)
    loss_hist = np.zeros((len(ids), fit.epochs), np.float32)
    compile_time = elapsed = 0.0
    by_size = np.argsort([-len(X) for X in Xs], kind="stable")  # largest first
    for part in np.array_split(by_size, min(int(options.groups), max(len(ids), 1))):
        desc = f"training {len(part)} users ({net.cell}, {target.kind})" if progress else None
        out = _train_group(
            run,
            fit,
            ([Xs[i] for i in part], [ys[i] for i in part], ids[part]),
            {k: v[part] for k, v in w0.items()},
            (target.tf_device, desc),
        )
        for k, v in out["weights"].items():
            weights[k][part] = v
        steps[part], loss_hist[part] = out["steps"], out["loss_history"]
        compile_time += out["compile_s"]
        elapsed += out["train_s"]
    return BatchedResult(ids, layout, weights, steps, loss_hist, elapsed, compile_time, config_dict(net, fit))


def _train_group(
    run: Any,
    fit: Any,
    users: tuple[list[np.ndarray], list[np.ndarray], np.ndarray],
    w0: dict[str, np.ndarray],
    where: tuple[str, str | None],
) -> dict[str, Any]:
    """Train one group of users (all in every step): ``users`` ``(X list, y list, ids)``,
    their initial weights ``w0`` ``{name: (U, *shape)}``, ``where`` ``(TensorFlow device,
    progress bar caption or None)``.  Returns ``weights``, ``steps`` ``(U,)``,
    ``loss_history`` ``(U, epochs)``, ``compile_s`` and ``train_s``."""
    Xs, ys, ids = users
    n_attributes = Xs[0].shape[1] if Xs else _DEFAULT_ATTRIBUTES
    X, Y, n_rows = pad_users(Xs, ys, fit.batch_size, n_attributes)
    n_batches = X.shape[1] // fit.batch_size
    loss_hist = np.zeros((len(ids), fit.epochs), np.float32)
    compile_s = train_s = 0.0
    with tf.device(where[0]):
        state = (
            {k: tf.constant(v) for k, v in w0.items()},
            {k: tf.zeros_like(v) for k, v in w0.items()},
            {k: tf.zeros_like(v) for k, v in w0.items()},
            tf.zeros(len(ids), tf.int64),
        )
        if len(ids) and n_batches and fit.epochs:
            data = (
                tf.constant(X),
                tf.constant(Y),
                tf.constant(n_rows),
                tf.constant(user_keys(fit.seed, ids)),
            )
            start = time.perf_counter()
            run(*state, *data, tf.constant(0), tf.constant(0))[-1].numpy()
            compile_s = time.perf_counter() - start
            bar = _progress(fit.epochs, where[1] is not None, where[1] or "")
            start = time.perf_counter()
            for epoch in range(fit.epochs):
                *state, loss_sum = run(*state, *data, tf.constant(epoch), tf.constant(n_batches))
                loss_hist[:, epoch] = loss_sum.numpy() / np.maximum(n_rows, 1)
                if bar is not None:
                    bar.update(1)
            train_s = time.perf_counter() - start
            if bar is not None:
                bar.close()
        return {
            "weights": {k: v.numpy() for k, v in state[0].items()},
            "steps": state[3].numpy().astype(np.int64),
            "loss_history": loss_hist,
            "compile_s": compile_s,
            "train_s": train_s,
        }
