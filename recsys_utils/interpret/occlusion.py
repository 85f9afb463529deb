"""Occlusion: which genres push a user's like probability up or down.

Report 6.2 says the recommendations are hard to interpret. :func:`occlusion` switches each
genre flag of each row off (or on) and records the change in the predicted like probability;
:func:`genre_attributions` aggregates it per genre next to the user's actual like share per
genre, and :func:`attribution_agreement` asks whether the two rank the genres alike.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recsys_utils.data.genres import REPORT_GENRES

#: Fewest genres for which :func:`attribution_agreement` computes a rank correlation.
MIN_GENRES_FOR_CORRELATION: int = 3


@dataclass(frozen=True)
class Occlusion:
    """Predicted like probabilities of rows and of their one-flag-flipped copies.

    Attributes:
        X: ``(n, d)`` the rows' 0/1 genre flags.
        base: ``(n,)`` the probability of each row as it is.
        flipped: ``(n, d)`` the probability of row ``r`` with flag ``j`` flipped (1 -> 0 where
            the movie has genre ``j``, 0 -> 1 where it does not).
        attributes: the genre of each of the ``d`` columns.
    """

    X: np.ndarray
    base: np.ndarray
    flipped: np.ndarray
    attributes: tuple[str, ...]

    @property
    def present(self) -> np.ndarray:
        """``(n, d)`` bool: whether row ``r`` has genre ``j``."""
        return self.X.astype(bool)

    @property
    def effect(self) -> np.ndarray:
        """``(n, d)`` p(row with genre j) - p(row without genre j), whichever the row has."""
        sign = np.where(self.present, 1.0, -1.0)
        return sign * (self.base[:, None] - self.flipped)

    @property
    def removal(self) -> np.ndarray:
        """``(n, d)`` p(row) - p(row with genre j switched off); ``nan`` where the row lacks j.

        Positive: having the genre raises this movie's score (the genre pushes it up).
        """
        return np.where(self.present, self.base[:, None] - self.flipped, np.nan)

    @property
    def addition(self) -> np.ndarray:
        """``(n, d)`` p(row with genre j switched on) - p(row); ``nan`` where the row has j."""
        return np.where(self.present, np.nan, self.flipped - self.base[:, None])


def with_flipped_copies(X: np.ndarray) -> np.ndarray:
    """``X`` followed by its one-flag-flipped copies.

    Args:
        X: ``(n, d)`` 0/1 float rows.

    Returns:
        ``(n * (d + 1), d)``, same dtype: the ``n`` rows, then for each row ``r`` its ``d``
        copies, copy ``j`` with flag ``j`` flipped (row ``n + r * d + j``).
    """
    n, d = X.shape
    copies = np.repeat(X[:, None, :], d, axis=1)  # (n, d, d): copy j of row r flips flag j
    idx = np.arange(d)
    copies[:, idx, idx] = 1.0 - copies[:, idx, idx]
    return np.concatenate([X, copies.reshape(n * d, d)], axis=0)


def occlusion(
    predict: Callable[[np.ndarray], np.ndarray], X: np.ndarray, attributes: Sequence[str] = REPORT_GENRES
) -> Occlusion:
    """Occlusion attributions of a like classifier over genre flags.

    Args:
        predict: maps ``(m, d)`` float32 0/1 rows to ``(m,)`` like probabilities (e.g.
            ``SequenceClassifier.predict_proba``); called once, on ``n * (d + 1)`` rows.
        X: ``(n, d)`` the rows to explain (0/1).
        attributes: the ``d`` genre names.

    Returns:
        An :class:`Occlusion`.
    """
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[1] != len(attributes):
        raise ValueError(f"X must be (n, {len(attributes)}), got {X.shape}")
    if X.size and not np.isin(X, (0.0, 1.0)).all():
        raise ValueError("X must hold 0/1 flags")
    n, d = X.shape
    p = np.asarray(predict(with_flipped_copies(X)), dtype=np.float64).reshape(-1)
    if p.shape != (n * (d + 1),):
        raise ValueError(f"predict returned {p.shape}, expected ({n * (d + 1)},)")
    return Occlusion(X, p[:n], p[n:].reshape(n, d), tuple(attributes))


def genre_attributions(occ: Occlusion, y: np.ndarray) -> pd.DataFrame:
    """Per genre: the model's mean occlusion effects next to the user's actual like shares.

    Args:
        occ: the occlusion of a user's rows.
        y: ``(n,)`` the user's 0/1 like labels of the same rows.

    Returns:
        One row per genre (attribute order): ``rows`` (rows with the genre), ``like_share``
        (share of likes among them; ``nan`` when none), ``like_share_vs_all`` (that minus the
        user's overall like share), ``removal_mean`` (mean over rows with the genre of
        p(row) - p(row without it)), ``addition_mean`` (mean over rows without it of
        p(row with it) - p(row)) and ``effect_mean`` (mean over all rows of p(with) - p(without)).
    """
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if y.shape[0] != occ.X.shape[0]:
        raise ValueError(f"{occ.X.shape[0]} rows but {y.shape[0]} labels")
    present = occ.present
    rows = present.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        like_share = (present * y[:, None]).sum(axis=0) / np.where(rows > 0, rows, np.nan)
    return pd.DataFrame(
        {
            "rows": rows.astype(int),
            "like_share": like_share,
            "like_share_vs_all": like_share - y.mean(),
            "removal_mean": _nanmean(occ.removal),
            "addition_mean": _nanmean(occ.addition),
            "effect_mean": occ.effect.mean(axis=0),
        },
        index=pd.Index(occ.attributes, name="genre"),
    )


def _nanmean(a: np.ndarray) -> np.ndarray:
    """Column means of ``(n, d)`` ignoring ``nan``: ``(d,)``, ``nan`` for an all-``nan``
    column, without a warning."""
    counts = np.sum(~np.isnan(a), axis=0)
    sums = np.nansum(a, axis=0)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def attribution_agreement(
    table: pd.DataFrame, *, min_rows: int = 3, column: str = "removal_mean"
) -> dict[str, float | int]:
    """Does the model push up the genres the user actually likes more often?

    Spearman's rank correlation, over the genres with at least ``min_rows`` rows, between
    ``column`` of :func:`genre_attributions` and ``like_share_vs_all``.

    Returns:
        ``{"genres": n, "spearman": rho}``: ``n`` genres counted, and ``rho`` Spearman's
        correlation (``nan`` with fewer than :data:`MIN_GENRES_FOR_CORRELATION` genres or a
        constant column).
    """
    from scipy.stats import spearmanr

    sub = table[table["rows"] >= min_rows]
    a, b = sub[column].to_numpy(float), sub["like_share_vs_all"].to_numpy(float)
    if len(sub) < MIN_GENRES_FOR_CORRELATION or np.ptp(a) == 0 or np.ptp(b) == 0:
        return {"genres": int(len(sub)), "spearman": math.nan}
    return {"genres": int(len(sub)), "spearman": float(spearmanr(a, b).statistic)}
