"""The Python side of the trainer: check the inputs, run users on threads, collect results."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

import numpy as np

from recsys_utils.batched.batch import loss_grad
from recsys_utils.batched.config import Network, Training, config_dict, resolve
from recsys_utils.batched.kernel_types import UserState
from recsys_utils.batched.layout import ParamLayout, init_weights, rng_state
from recsys_utils.batched.loop import predict_user, train_user
from recsys_utils.batched.result import BatchedResult

__all__ = ["loss_and_gradient", "predict_users", "train_users"]


def _as_flags(X: np.ndarray, n_attributes: int | None = None) -> np.ndarray:
    """Check ``X`` ``(n, n_attributes)`` holds only 0/1 and return it as uint8."""
    X = np.asarray(X)
    if X.ndim != 2 or (n_attributes is not None and X.shape[1] != n_attributes):
        raise ValueError(f"expected X of shape (n, {n_attributes}), got {X.shape}")
    if X.size and not np.isin(X, (0, 1)).all():
        raise ValueError("X must hold only 0/1 flags (the embedding sees 0 or 1)")
    return np.ascontiguousarray(X, dtype=np.uint8)


def _check_inputs(
    X_list: Sequence[np.ndarray], y_list: Sequence[np.ndarray], user_ids: Sequence[int] | None
) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """``(X as uint8, y as float32, ids as int64)``, each list ``(n_users,)`` of
    ``(n_u, n_attributes)`` / ``(n_u,)``; errors name the user and the mismatch."""
    Xs = [_as_flags(X) for X in X_list]
    if Xs:
        Xs = [_as_flags(X, Xs[0].shape[1]) for X in Xs]
    if len(y_list) != len(Xs):
        raise ValueError(f"{len(Xs)} X arrays but {len(y_list)} y arrays")
    ys = [np.ascontiguousarray(np.asarray(y, dtype=np.float32).reshape(-1)) for y in y_list]
    for i, (X, y) in enumerate(zip(Xs, ys)):
        if len(y) != len(X):
            raise ValueError(f"user #{i}: X has {len(X)} rows but y has {len(y)}")
    ids = np.arange(len(Xs), dtype=np.int64) if user_ids is None else np.asarray(user_ids, np.int64)
    if len(ids) != len(Xs):
        raise ValueError(f"{len(Xs)} X arrays but {len(ids)} user ids")
    if len(np.unique(ids)) != len(ids):
        raise ValueError("user ids must be unique (each seeds its own random streams)")
    return Xs, ys, ids


def _n_threads(n_threads: int | None) -> int:
    if n_threads is not None:
        return max(1, int(n_threads))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _progress(total: int, enabled: bool, desc: str) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="user")


def _initial_state(
    layout: ParamLayout,
    ids: np.ndarray,
    network: Network,
    training: Training,
    initial_weights: dict[str, np.ndarray] | None,
) -> list[UserState]:
    """Each user's :class:`UserState`: weights (given, or :func:`init_weights`), zero Adam
    moments and steps, and the random stream seeded ``(seed, user_id, 1)``."""
    if initial_weights is None:
        initial_weights = init_weights(
            ids,
            cell=network.cell,
            seed=training.seed,
            n_attributes=layout.n_attributes,
            embedding_dim=layout.embedding_dim,
            units=layout.units,
        )
    for name, shape in layout.shapes.items():
        got = np.shape(initial_weights[name])
        if got != (len(ids),) + shape:
            raise ValueError(f"initial_weights[{name!r}] has shape {got}, expected {(len(ids),) + shape}")
    theta = layout.flatten(initial_weights)
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    steps = np.zeros((len(ids), 1), np.int64)
    loss_hist = np.zeros((len(ids), training.epochs), np.float32)
    return [
        UserState(theta[i], m[i], v[i], steps[i], loss_hist[i], rng_state(training.seed, u))
        for i, u in enumerate(ids)
    ]


def _warm_up(network: Network, training: Training, n_attributes: int) -> float:
    """Compile (or load from Numba's cache) the kernels on a tiny problem; return the seconds."""
    start = time.perf_counter()
    tiny = Training(
        epochs=1,
        batch_size=1,
        seed=0,
        learning_rate=training.learning_rate,
        beta_1=training.beta_1,
        beta_2=training.beta_2,
        epsilon=training.epsilon,
    )
    layout = network.layout(n_attributes)
    state = _initial_state(
        layout,
        np.zeros(1, np.int64),
        network,
        tiny,
        {k: np.zeros((1,) + s, np.float32) for k, s in layout.shapes.items()},
    )
    X = np.zeros((2, n_attributes), np.uint8)
    train_user(
        X, np.zeros(2, np.float32), state[0], network.kernel_net(n_attributes), tiny.kernel_fit(network)
    )
    return time.perf_counter() - start


def train_users(
    X_list: Sequence[np.ndarray],
    y_list: Sequence[np.ndarray],
    user_ids: Sequence[int] | None = None,
    *,
    network: Network | None = None,
    training: Training | None = None,
    initial_weights: dict[str, np.ndarray] | None = None,
    n_threads: int | None = None,
    progress: bool = True,
    **settings: Any,
) -> BatchedResult:
    """Train one independent recommender per user (see :mod:`recsys_utils.batched`).

    Args:
        X_list: one ``(n_u, n_attributes)`` 0/1 array per user (the genre flags).
        y_list: one ``(n_u,)`` 0/1 array per user (1 = like).
        user_ids: ``(n_users,)`` distinct ids; each seeds the user's random streams, so a
            user's result does not depend on the other users. Default ``0..n_users-1``.
        network: what to train (default :data:`REPORT_MODIFIED`, the report's modified
            recommender; :data:`REPORT_LSTM` is the report's LSTM recommender).
        training: how (default :data:`REPORT_TRAINING`: 100 epochs, batches of 10, Adam).
        initial_weights: ``{name: (n_users, *shape)}`` as in :class:`ParamLayout`; default
            :func:`init_weights` with ``training.seed``.
        n_threads: worker threads (default: the CPUs this process may use).
        progress: show a tqdm progress bar over users.
        **settings: fields of :class:`Network` or :class:`Training` that replace those of
            ``network`` / ``training`` (``cell="gru"``, ``epochs=20``, ``dropout=0.0``,
            ``seed=3``, ...).  Every epoch visits every row once, in a fresh random order
            (``shuffle=True``) or in the given order.

    Returns:
        A :class:`BatchedResult`.
    """
    net, fit = resolve(network, training, settings)
    Xs, ys, ids = _check_inputs(X_list, y_list, user_ids)
    n_attributes = Xs[0].shape[1] if Xs else 18
    layout = net.layout(n_attributes)
    states = _initial_state(layout, ids, net, fit, initial_weights)
    kernel_net, kernel_fit = net.kernel_net(n_attributes), fit.kernel_fit(net)

    def run(i: int) -> int:
        train_user(Xs[i], ys[i], states[i], kernel_net, kernel_fit)
        return i

    compile_time = _warm_up(net, fit, n_attributes)
    order = sorted(range(len(ids)), key=lambda i: -len(Xs[i]))  # largest first
    start = time.perf_counter()
    bar = _progress(len(ids), progress, f"training {len(ids)} users ({net.cell})")
    with ThreadPoolExecutor(max_workers=_n_threads(n_threads)) as pool:
        for fut in as_completed([pool.submit(run, i) for i in order]):
            fut.result()
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    elapsed = time.perf_counter() - start
    theta = np.stack([s.theta for s in states]) if states else np.zeros((0, layout.size), np.float32)
    steps = np.array([s.steps[0] for s in states], np.int64)
    loss_hist = np.stack([s.loss_hist for s in states]) if states else np.zeros((0, fit.epochs), np.float32)
    return BatchedResult(
        ids, layout, layout.unflatten(theta), steps, loss_hist, elapsed, compile_time, config_dict(net, fit)
    )


def predict_users(
    result: BatchedResult, X_list: Sequence[np.ndarray], *, n_threads: int | None = None
) -> list[np.ndarray]:
    """Probability of "like" for each user's rows ``(n_u, n_attributes)`` -> ``(n_u,)``."""
    if len(X_list) != len(result.user_ids):
        raise ValueError(f"{len(X_list)} X arrays for {len(result.user_ids)} users")
    lay = result.layout
    Xs = [_as_flags(X, lay.n_attributes) for X in X_list]
    theta = lay.flatten(result.weights)
    net = result.network.kernel_net(lay.n_attributes)
    outs = [np.zeros(len(X), np.float32) for X in Xs]

    def run(i: int) -> None:
        predict_user(Xs[i], theta[i], net, outs[i])

    with ThreadPoolExecutor(max_workers=_n_threads(n_threads)) as pool:
        list(pool.map(run, range(len(Xs))))
    return outs


def loss_and_gradient(
    X: np.ndarray,
    y: np.ndarray,
    theta: np.ndarray,
    in_bits: np.ndarray,
    out_bits: np.ndarray,
    network: Network,
) -> tuple[float, np.ndarray]:
    """One batch's mean loss and the gradient of every weight, with given dropout masks.

    Args:
        X: ``(n, n_attributes)`` 0/1 flags; y: ``(n,)`` labels.
        theta: ``(P,)`` one user's weights in :class:`ParamLayout` order.
        in_bits: ``(n, n_attributes)`` uint64: bit k set where embedding unit k of (row, step)
            is kept; out_bits: ``(n,)`` (units <= 64) or ``(n, ceil(units / 64))`` uint64: bit
            ``j % 64`` of word ``j // 64`` set where unit ``j`` of the last ``h`` is kept.
            Kept values are multiplied by ``1 / (1 - network.dropout)``.
        network: the network.

    Returns:
        ``(loss, gradient (P,))``.
    """
    X = _as_flags(X)
    out_bits = np.asarray(out_bits, np.uint64)
    out_bits = out_bits[:, None] if out_bits.ndim == 1 else out_bits
    loss, grad = loss_grad(
        X,
        np.asarray(y, np.float32),
        np.asarray(theta, np.float32),
        np.ascontiguousarray(in_bits, np.uint64),
        np.ascontiguousarray(out_bits),
        network.kernel_net(X.shape[1]),
        network.kernel_dropout().scale,
    )
    return float(loss), grad
