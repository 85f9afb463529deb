"""Data helpers of the autoencoder recommender: the report's user split and held-out ratings.

- :func:`split_users`: the seeded equivalent of the report's ``train_test_split`` of users;
- :func:`holdout_ratings` and :func:`heldout_rmse`: beyond the report, an evaluation on
  ratings hidden from the input.

All three are re-exported by :mod:`recsys_utils.models.autoencoder`, whose names they keep.
NumPy only: importing this module does not import TensorFlow.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from recsys_utils.report import AE_TRAIN_FRACTION as REPORT_TRAIN_FRACTION

__all__ = ["split_users", "holdout_ratings", "heldout_rmse"]


def split_users(
    n_users: int, train_fraction: float = REPORT_TRAIN_FRACTION, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded user split, index-for-index sklearn's ``train_test_split(train_size=...)``.

    ``n_train = floor(train_fraction * n_users)``, the rest is test; a
    ``np.random.RandomState(seed)`` permutation gives the test indices first,
    then the train ones, exactly as sklearn's ``ShuffleSplit`` does, so
    ``split_users(n, 0.8, s)`` equals
    ``train_test_split(np.arange(n), train_size=0.8, random_state=s)``.

    Returns:
        ``(train_idx, test_idx)``: int64 arrays of shapes ``(n_train,)`` and
        ``(n_users - n_train,)``, in the shuffled order the report iterates.
    """
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction must lie in (0, 1), got {train_fraction}")
    n_train = int(np.floor(train_fraction * n_users))
    if n_train == 0 or n_train == n_users:
        raise ValueError(f"{n_users} users with train_fraction={train_fraction} leaves an empty side")
    perm = np.random.RandomState(seed).permutation(n_users)
    n_test = n_users - n_train
    return perm[n_test:].astype(np.int64), perm[:n_test].astype(np.int64)


def holdout_ratings(R: np.ndarray, fraction: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Hide a seeded random ``fraction`` of the rated (non-zero) entries of ``R``.

    Args:
        R: ``(n_users, n_items)`` ratings, 0 when unrated.

    Returns:
        ``(R_input, R_heldout)``, both ``(n_users, n_items)`` float32:
        ``R_input`` is ``R`` with the chosen entries set to 0, ``R_heldout``
        holds only them; ``R_input + R_heldout == R``.
    """
    R = np.asarray(R, dtype=np.float32)
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must lie in (0, 1), got {fraction}")
    rows, cols = np.nonzero(R)
    n_hide = int(round(fraction * rows.size))
    pick = np.random.default_rng(seed).choice(rows.size, size=n_hide, replace=False)
    R_heldout = np.zeros_like(R)
    R_heldout[rows[pick], cols[pick]] = R[rows[pick], cols[pick]]
    return R - R_heldout, R_heldout


class _Predictor(Protocol):
    def predict(self, R: np.ndarray) -> np.ndarray: ...


def heldout_rmse(
    model_or_pred: _Predictor | np.ndarray,
    R_input: np.ndarray,
    R_heldout: np.ndarray,
    *,
    clip: tuple[float, float] | None = None,
) -> float:
    """RMSE on held-out ratings, predicted from an input where they are hidden.

    Args:
        model_or_pred: a fitted model with ``predict(R_input) -> (n, m)``, or
            the ``(n, m)`` predictions themselves.
        R_input: ``(n, m)`` ratings the model sees (0 = unknown); must be 0 at
            every held-out entry (else ``ValueError``: the answer would leak).
        R_heldout: ``(n, m)`` held-out ratings, 0 where nothing is held out.
        clip: optional ``(low, high)`` to clip predictions to (e.g. ``(1, 5)``).

    Returns:
        ``sqrt(mean((pred - R_heldout)**2))`` over the non-zero entries of
        ``R_heldout``; NaN when there is none.
    """
    R_input = np.asarray(R_input, dtype=np.float32)
    R_heldout = np.asarray(R_heldout, dtype=np.float32)
    if R_input.shape != R_heldout.shape:
        raise ValueError(f"shapes differ: input {R_input.shape}, held out {R_heldout.shape}")
    mask = R_heldout != 0
    if np.any(R_input[mask] != 0):
        raise ValueError("R_input must be 0 at every held-out entry (the held-out ratings would leak)")
    if isinstance(model_or_pred, np.ndarray):
        pred = model_or_pred
    else:
        pred = model_or_pred.predict(R_input)
    pred = np.asarray(pred, dtype=np.float64)
    if pred.shape != R_heldout.shape:
        raise ValueError(f"predictions have shape {pred.shape}, expected {R_heldout.shape}")
    if not mask.any():
        return float("nan")
    p = pred[mask]
    if clip is not None:
        p = np.clip(p, clip[0], clip[1])
    return float(np.sqrt(np.mean((p - R_heldout[mask].astype(np.float64)) ** 2)))
