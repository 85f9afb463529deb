"""L2-regularised logistic regression on a user's 18 genre flags (scikit-learn).

The non-recurrent reference of the multi-user run (:mod:`recsys_utils.population`): no
sequence, no embedding, one weight per genre. Arrays in, arrays out.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DEFAULT_C", "MAX_ITER", "fit_logistic"]

#: Inverse regularisation strength (scikit-learn's default).
DEFAULT_C: float = 1.0
#: Solver iterations (lbfgs); the 18-flag problems converge well before.
MAX_ITER: int = 1000


def fit_logistic(X: np.ndarray, y: np.ndarray, X_new: np.ndarray, *, C: float = DEFAULT_C) -> np.ndarray:
    """Like probabilities ``(n_new,)`` float32 of an L2 logistic regression fitted on
    ``X (n, n_attributes)``, ``y (n,)`` (0/1) and applied to ``X_new (n_new, n_attributes)``.

    A user whose training rows hold one class only gets that class's constant probability
    (1.0 when there are no training rows).
    """
    from sklearn.linear_model import LogisticRegression

    if len(np.unique(y)) < 2:
        return np.full(len(X_new), float(y[0]) if len(y) else 1.0, np.float32)
    model = LogisticRegression(C=C, max_iter=MAX_ITER)
    model.fit(X, np.asarray(y).astype(int))
    return model.predict_proba(X_new)[:, 1].astype(np.float32)
