"""The statistical plan for population claims: one test with the interval that
belongs to it, equivalence, multiplicity and interaction, on paired per-user differences.

Users are the units: a user's metric is averaged over seeds first (:func:`paired_differences`),
then model ``a`` minus model ``b`` per user gives ``d (n,)``. Every function takes ``d``.

- **Test and interval that agree.** Either the Wilcoxon signed-rank test with the
  Hodges-Lehmann shift (the median of the Walsh averages ``(d_i + d_j) / 2, i <= j``) and its
  confidence interval, obtained by inverting that same test (:func:`wilcoxon_hl`); or a
  sign-flip permutation test of the mean with a bootstrap interval of the mean
  (:func:`mean_difference`).
- **Equivalence** (:func:`tost`): two one-sided tests against a stated margin, on the mean
  (paired t) or on the Hodges-Lehmann shift (signed-rank tests of ``d + margin > 0`` and
  ``d - margin < 0``). "No difference" is claimed only when this rejects.
- **Multiplicity** (:func:`holm`): Holm's step-down adjustment inside a family of tests.
- **Interaction** (:func:`subgroup_interaction`): does the mean paired difference depend on
  a user subgroup? A permutation test of the between-group spread of mean differences, with
  the Kruskal-Wallis test beside it.
- **Effect sizes on the same users** (:func:`effect_sizes`): the matched-pairs rank-biserial
  ``r`` and Cohen's ``d_z``, both over all ``n`` users.

Ties and zeros. A user with ``d = 0`` is kept everywhere (the ``"zsplit"`` convention: the
rank of a zero difference counts half towards ``W+`` and half towards ``W-``), and tied
``|d|`` get mid-ranks; so the test, the interval and the effect sizes use the same ``n``
users. With midranks and zsplit, ``W+`` equals the number of positive Walsh averages plus
half the zero ones, which is why the interval (order statistics of the Walsh averages) and
the test agree: the interval excludes 0 exactly when the test rejects (up to an endpoint
falling exactly on 0). Without ties or zeros and ``n <=`` :data:`EXACT_MAX_N`, the null
distribution is exact; otherwise normal with the tie-corrected variance at zero shift.

Today's statistics (:mod:`recsys_utils.evaluation.paired`) are left unchanged until the
chapters adopt these.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from recsys_utils.evaluation.paired import ROUND_OFF, per_user_means

__all__ = [
    "EXACT_MAX_N",
    "EXACT_FLIP_MAX_N",
    "DEFAULT_CONFIDENCE",
    "DEFAULT_RESAMPLES",
    "paired_differences",
    "walsh_averages",
    "hodges_lehmann",
    "WilcoxonHL",
    "wilcoxon_hl",
    "MeanDifference",
    "mean_difference",
    "sign_flip_test",
    "bootstrap_mean_ci",
    "Equivalence",
    "tost",
    "holm",
    "Interaction",
    "subgroup_interaction",
    "effect_sizes",
]

#: Largest ``n`` for which the signed-rank null distribution is enumerated (no ties, no zeros).
EXACT_MAX_N: int = 50
#: Largest ``n`` for which the sign-flip test enumerates all ``2**n`` sign vectors.
EXACT_FLIP_MAX_N: int = 16
#: Two-sided confidence of every interval.
DEFAULT_CONFIDENCE: float = 0.95
DEFAULT_RESAMPLES: int = 10_000


def paired_differences(table: pd.DataFrame, a: str, b: str, metric: str) -> pd.Series:
    """``a - b`` per user of a run's table (seed means first; users with a ``NaN`` mean for
    either model dropped; round-off differences set to 0), indexed by user id."""
    means = per_user_means(table, metric)
    for name in (a, b):
        if name not in means.columns:
            raise KeyError(f"model {name!r} is not in the table (models: {list(means.columns)})")
    kept = means[[a, b]].dropna()
    diff = kept[a] - kept[b]
    return diff.where(diff.abs() >= ROUND_OFF, 0.0).rename(f"{a} - {b}")


def _as_diff(diff: np.ndarray | Sequence[float] | pd.Series) -> np.ndarray:
    d = np.asarray(diff, dtype=np.float64).reshape(-1)
    if d.size == 0 or not np.isfinite(d).all():
        raise ValueError(
            f"need a non-empty array of finite differences, got {d.size} values "
            f"({int((~np.isfinite(d)).sum())} not finite)"
        )
    return d


def walsh_averages(diff: np.ndarray) -> np.ndarray:
    """``(n (n + 1) / 2,)`` sorted Walsh averages ``(d_i + d_j) / 2`` over ``i <= j``."""
    d = _as_diff(diff)
    i, j = np.triu_indices(len(d))
    return np.sort((d[i] + d[j]) / 2.0)


def hodges_lehmann(diff: np.ndarray) -> float:
    """The Hodges-Lehmann one-sample shift: the median of the Walsh averages."""
    return float(np.median(walsh_averages(diff)))


def _signed_rank_cdf(n: int) -> np.ndarray:
    """``(n (n + 1) / 2 + 1,)`` exact ``P(W+ <= w)`` for ``n`` untied, non-zero differences."""
    counts = np.zeros(n * (n + 1) // 2 + 1)
    counts[0] = 1.0
    for r in range(1, n + 1):
        counts[r:] = counts[r:] + counts[:-r].copy()
    return np.cumsum(counts) / 2.0**n


def _tie_corrected_sd(d: np.ndarray) -> float:
    """Null standard deviation of ``W+`` with mid-ranks of ``|d|`` (zeros included)."""
    n = len(d)
    _, t = np.unique(np.abs(d), return_counts=True)
    var = n * (n + 1) * (2 * n + 1) / 24.0 - float((t**3 - t).sum()) / 48.0
    return math.sqrt(max(var, 0.0))


@dataclass
class WilcoxonHL:
    """A Wilcoxon signed-rank test with the Hodges-Lehmann shift and its interval."""

    n: int
    n_zero: int
    w_plus: float
    p_value: float
    hl_shift: float
    ci_low: float
    ci_high: float
    confidence: float
    method: str
    agree: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def wilcoxon_hl(diff: np.ndarray, *, confidence: float = DEFAULT_CONFIDENCE) -> WilcoxonHL:
    """Two-sided signed-rank test of a zero shift, the HL shift and the interval that inverts
    the same test (module docstring for ties and zeros).

    Args:
        diff: ``(n,)`` paired differences.
        confidence: of the interval (0.95); the test's level is ``1 - confidence``.

    Returns:
        ``method`` is ``"exact"`` or ``"normal"``; ``agree`` says whether "0 outside the
        interval" and "p <= 1 - confidence" coincide (they do but for an endpoint at 0).
    """
    from scipy.stats import norm, rankdata

    d = _as_diff(diff)
    n, n_pairs = len(d), len(d) * (len(d) + 1) // 2
    ranks = rankdata(np.abs(d))
    w_plus = float(ranks[d > 0].sum() + 0.5 * ranks[d == 0].sum())
    walsh = walsh_averages(d)
    alpha = 1.0 - confidence
    exact = n <= EXACT_MAX_N and not (d == 0).any() and len(np.unique(np.abs(d))) == n
    if exact:
        cdf = _signed_rank_cdf(n)
        w = int(round(w_plus))
        p = min(1.0, 2.0 * min(cdf[w], 1.0 - (cdf[w - 1] if w > 0 else 0.0)))
        # the largest c with P(W+ <= c) <= alpha / 2: reject iff W+ <= c or W+ >= N - c
        below = np.flatnonzero(cdf <= alpha / 2.0 + 1e-15)
        c = int(below[-1]) if len(below) else -1
        lo_idx, hi_idx = c + 1, n_pairs - c  # 1-based order statistics
    else:
        sd = _tie_corrected_sd(d)
        z = (w_plus - n_pairs / 2.0) / sd if sd > 0 else 0.0
        p = float(min(1.0, 2.0 * norm.sf(abs(z))))
        c_real = n_pairs / 2.0 - norm.ppf(1.0 - alpha / 2.0) * sd
        lo_idx, hi_idx = math.floor(c_real) + 1, math.ceil(n_pairs - c_real)
    lo_idx, hi_idx = max(lo_idx, 1), min(hi_idx, n_pairs)
    ci_low, ci_high = float(walsh[lo_idx - 1]), float(walsh[hi_idx - 1])
    agree = (p <= alpha) == (ci_low > 0 or ci_high < 0) or 0.0 in (ci_low, ci_high)
    return WilcoxonHL(
        n=n,
        n_zero=int((d == 0).sum()),
        w_plus=w_plus,
        p_value=float(p),
        hl_shift=float(np.median(walsh)),
        ci_low=ci_low,
        ci_high=ci_high,
        confidence=confidence,
        method="exact" if exact else "normal",
        agree=bool(agree),
    )


def sign_flip_test(diff: np.ndarray, *, n_perm: int = DEFAULT_RESAMPLES, seed: int = 0) -> tuple[float, str]:
    """Two-sided sign-flip permutation test of a zero mean difference.

    Under the null each user's difference is as likely to have either sign; the p-value is
    the share of sign vectors whose ``|mean|`` reaches the observed one (all ``2**n`` when
    ``n <=`` :data:`EXACT_FLIP_MAX_N`, else ``n_perm`` random ones, counting the observed:
    ``(1 + hits) / (1 + n_perm)``). Returns ``(p_value, "exact" | "monte carlo")``.
    """
    d = _as_diff(diff)
    observed = abs(d.mean()) * (1 - 1e-12)  # round-off: sign vectors that tie count as hits
    if len(d) <= EXACT_FLIP_MAX_N:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=len(d))))
        return float(np.mean(np.abs(signs @ d) / len(d) >= observed)), "exact"
    rng = np.random.default_rng(seed)
    hits = 0
    for start in range(0, n_perm, 1000):
        size = min(1000, n_perm - start)
        signs = rng.choice((-1.0, 1.0), size=(size, len(d)))
        hits += int((np.abs(signs @ d) / len(d) >= observed).sum())
    return (1 + hits) / (1 + n_perm), "monte carlo"


def bootstrap_mean_ci(
    diff: np.ndarray,
    *,
    n_boot: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (users resampled with replacement)."""
    d = _as_diff(diff)
    rng = np.random.default_rng(seed)
    boot = d[rng.integers(0, len(d), size=(n_boot, len(d)))].mean(axis=1)
    tail = (1.0 - confidence) / 2.0
    return float(np.quantile(boot, tail)), float(np.quantile(boot, 1.0 - tail))


@dataclass
class MeanDifference:
    """The mean paired difference, its bootstrap interval and its sign-flip test."""

    n: int
    mean: float
    ci_low: float
    ci_high: float
    confidence: float
    p_value: float
    method: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def mean_difference(
    diff: np.ndarray,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
) -> MeanDifference:
    """The mean of ``diff (n,)`` with a percentile bootstrap interval and a sign-flip
    permutation test (:func:`bootstrap_mean_ci`, :func:`sign_flip_test`): both about the mean."""
    d = _as_diff(diff)
    low, high = bootstrap_mean_ci(d, n_boot=n_resamples, seed=seed, confidence=confidence)
    p, method = sign_flip_test(d, n_perm=n_resamples, seed=seed)
    return MeanDifference(
        n=len(d),
        mean=float(d.mean()),
        ci_low=low,
        ci_high=high,
        confidence=confidence,
        p_value=p,
        method=method,
    )


@dataclass
class Equivalence:
    """Two one-sided tests: is the shift inside ``(-margin, +margin)``?"""

    on: str
    margin: float
    estimate: float
    p_lower: float
    p_upper: float
    p_value: float
    alpha: float
    equivalent: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def tost(
    diff: np.ndarray,
    margin: float,
    *,
    on: Literal["mean", "hl"] = "mean",
    alpha: float = 1.0 - DEFAULT_CONFIDENCE,
) -> Equivalence:
    """Two one-sided tests of equivalence within ``margin`` (> 0, stated before the data).

    ``on="mean"``: paired t-tests of ``mean(d) > -margin`` and ``mean(d) < margin``
    (``n - 1`` degrees of freedom); equivalent at ``alpha`` exactly when the
    ``1 - 2 alpha`` t interval of the mean lies inside the margins. ``on="hl"``: one-sided
    signed-rank tests (scipy, zsplit for zeros) of ``d + margin`` above 0 and ``d - margin``
    below 0, about the Hodges-Lehmann shift. ``p_value = max(p_lower, p_upper)``.
    """
    from scipy.stats import t as t_dist
    from scipy.stats import wilcoxon

    d = _as_diff(diff)
    if not margin > 0:
        raise ValueError(f"margin must be positive, got {margin!r}")
    if on == "mean":
        if len(d) < 2:
            raise ValueError("the t-based equivalence test needs at least 2 users")
        se = d.std(ddof=1) / math.sqrt(len(d))
        if se == 0:
            inside = abs(d.mean()) < margin
            p_lower = p_upper = 0.0 if inside else 1.0
        else:
            p_lower = float(t_dist.sf((d.mean() + margin) / se, len(d) - 1))
            p_upper = float(t_dist.cdf((d.mean() - margin) / se, len(d) - 1))
        estimate = float(d.mean())
    elif on == "hl":
        p_lower = float(wilcoxon(d + margin, zero_method="zsplit", alternative="greater").pvalue)
        p_upper = float(wilcoxon(d - margin, zero_method="zsplit", alternative="less").pvalue)
        estimate = hodges_lehmann(d)
    else:
        raise ValueError(f"on must be 'mean' or 'hl', got {on!r}")
    p = max(p_lower, p_upper)
    return Equivalence(
        on=on,
        margin=float(margin),
        estimate=estimate,
        p_lower=p_lower,
        p_upper=p_upper,
        p_value=p,
        alpha=alpha,
        equivalent=bool(p <= alpha),
    )


def holm(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values ``(m,)``, in the input order.

    The ``i``-th smallest of the ``m`` defined p-values is multiplied by ``m - i + 1``, a
    running maximum keeps the order, and values are capped at 1; ``NaN`` stays ``NaN`` and is
    not counted in ``m``. Rejecting where the adjusted value is ``<= alpha`` controls the
    family-wise error rate at ``alpha``.
    """
    p = np.asarray(p_values, dtype=np.float64).reshape(-1)
    out = np.full(p.shape, np.nan)
    defined = np.flatnonzero(~np.isnan(p))
    if (p[defined] < 0).any() or (p[defined] > 1).any():
        raise ValueError("p-values must lie in [0, 1]")
    m = len(defined)
    order = defined[np.argsort(p[defined], kind="stable")]
    scaled = p[order] * (m - np.arange(m))
    out[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return out


@dataclass
class Interaction:
    """Does the mean paired difference differ between subgroups of users?"""

    groups: list[str]
    n: list[int]
    mean: list[float]
    statistic: float
    p_value: float
    kruskal_p_value: float
    n_perm: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _between_spread(d: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Sum over groups of ``n_g (mean_g - mean)^2`` for each row of ``codes (r, n)``."""
    sums = np.stack([np.where(codes == g, d, 0.0).sum(axis=-1) for g in range(n_groups)], -1)
    counts = np.stack([(codes == g).sum(axis=-1) for g in range(n_groups)], -1)
    return ((sums / counts - d.mean()) ** 2 * counts).sum(axis=-1)


def subgroup_interaction(
    diff: np.ndarray, groups: Sequence[Any] | np.ndarray, *, n_perm: int = DEFAULT_RESAMPLES, seed: int = 0
) -> Interaction:
    """Permutation test that the mean paired difference is the same in every subgroup.

    Args:
        diff: ``(n,)`` paired differences.
        groups: ``(n,)`` each user's subgroup (two or more, each with a user).

    The statistic is the between-group spread ``sum_g n_g (mean_g - mean)^2`` (for two
    groups, a monotone function of the difference of the two means); group labels are
    permuted ``n_perm`` times, ``p = (1 + hits) / (1 + n_perm)``. The Kruskal-Wallis test of
    the same differences (scipy) is given beside it.
    """
    from scipy.stats import kruskal

    d = _as_diff(diff)
    labels, codes = np.unique(np.asarray(groups).astype(str), return_inverse=True)
    if len(codes) != len(d):
        raise ValueError(f"diff and groups must have one length, got {len(d)} and {len(codes)}")
    if len(labels) < 2:
        raise ValueError("need at least two subgroups")
    observed = float(_between_spread(d, codes[None, :], len(labels))[0])
    rng = np.random.default_rng(seed)
    hits = 0
    for start in range(0, n_perm, 1000):
        size = min(1000, n_perm - start)
        perm = np.stack([rng.permutation(codes) for _ in range(size)])
        hits += int((_between_spread(d, perm, len(labels)) >= observed * (1 - 1e-12)).sum())
    by_group = [d[codes == g] for g in range(len(labels))]
    kw = kruskal(*by_group).pvalue if len(np.unique(d)) > 1 else 1.0
    return Interaction(
        groups=[str(x) for x in labels],
        n=[len(x) for x in by_group],
        mean=[float(x.mean()) for x in by_group],
        statistic=observed,
        p_value=(1 + hits) / (1 + n_perm),
        kruskal_p_value=float(kw),
        n_perm=n_perm,
    )


def effect_sizes(diff: np.ndarray) -> dict[str, float]:
    """The matched-pairs rank-biserial ``r`` and Cohen's ``d_z`` over the same ``n`` users.

    ``r = (W+ - W-) / (n (n + 1) / 2)`` with mid-ranks of ``|d|`` over all users and zero
    differences split half and half (zsplit: they add nothing to ``W+ - W-`` but count in the
    denominator, so ties pull ``r`` towards 0 instead of being dropped); from -1 (``b``
    always better) to +1. ``d_z = mean(d) / sd(d)`` (``ddof=1``; ``NaN`` if ``sd = 0`` or
    ``n < 2``).
    """
    from scipy.stats import rankdata

    d = _as_diff(diff)
    ranks = rankdata(np.abs(d))
    r = float((ranks[d > 0].sum() - ranks[d < 0].sum()) / (len(d) * (len(d) + 1) / 2))
    sd = float(d.std(ddof=1)) if len(d) > 1 else math.nan
    return {"n": len(d), "rank_biserial": r, "cohen_dz": float(d.mean() / sd) if sd and sd > 0 else math.nan}
