"""Today's paired statistics of the multi-user run (chapters 05 and 06), unchanged.

Statistics (:func:`paired_comparison`)
--------------------------------------
Users are the independent units. A user's metric is first averaged over seeds, then the
two models are paired by user: the mean difference with a bootstrap 95 % interval (users
resampled), wins / losses / ties, the Wilcoxon signed-rank test (two-sided; users with a
zero difference are dropped, as in Wilcoxon's original test, and counted as ties) and two
effect sizes: the matched-pairs rank-biserial correlation ``r = (W+ - W-) / (W+ + W-)``
(from -1, *b* always better, to +1, *a* always better) and Cohen's ``d_z`` (mean difference
over the standard deviation of the differences).

:mod:`recsys_utils.evaluation.statistics` holds the statistical plan that replaces them
(a test and an interval that measure the same thing, equivalence, Holm, interaction).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from recsys_utils.evaluation.metrics import METRICS

__all__ = [
    "ROUND_OFF",
    "per_user_means",
    "PairedComparison",
    "paired_comparison",
    "paired_table",
    "seed_agreement",
    "wins_by",
]

#: Differences of seed means within this of 0 are float round-off and count as ties.
ROUND_OFF: float = 1e-12


def per_user_means(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """``(n_users, n_models)``: each user's ``metric`` averaged over seeds (``NaN`` values skipped)."""
    if metric not in table.columns:
        raise KeyError(f"no column {metric!r} in the table")
    return table.pivot_table(index="user_id", columns="model", values=metric, aggfunc="mean")


@dataclass
class PairedComparison:
    """Model ``a`` against model ``b`` on one metric, users paired (module docstring)."""

    metric: str
    a: str
    b: str
    n_users: int
    n_dropped_nan: int
    mean_a: float
    mean_b: float
    mean_diff: float
    ci_low: float
    ci_high: float
    median_diff: float
    wins_a: int
    wins_b: int
    ties: int
    wilcoxon_statistic: float
    p_value: float
    rank_biserial: float
    cohen_dz: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """One sentence with the difference, its interval, the test and the effect size."""
        return (
            f"{self.metric}: {self.a} - {self.b} = {self.mean_diff:+.4f} "
            f"(95 % bootstrap CI {self.ci_low:+.4f} to {self.ci_high:+.4f}) over "
            f"{self.n_users} users; {self.a} better for {self.wins_a}, {self.b} for "
            f"{self.wins_b}, equal for {self.ties}; Wilcoxon p = {self.p_value:.3g}, "
            f"rank-biserial r = {self.rank_biserial:+.3f}, d_z = {self.cohen_dz:+.3f}"
        )


def paired_comparison(
    table: pd.DataFrame, a: str, b: str, metric: str = "accuracy", *, n_boot: int = 10_000, seed: int = 0
) -> PairedComparison:
    """Compare models ``a`` and ``b`` of a :attr:`PopulationRun.table` on ``metric``.

    Each user's metric is averaged over seeds first; users where either mean is ``NaN``
    (e.g. ROC AUC with one class held out) are dropped and counted.
    """
    from scipy.stats import wilcoxon

    means = per_user_means(table, metric)
    for name in (a, b):
        if name not in means.columns:
            raise KeyError(f"model {name!r} is not in the table (models: {list(means.columns)})")
    pair = means[[a, b]]
    kept = pair.dropna()
    diff = (kept[a] - kept[b]).to_numpy(np.float64)
    if len(diff) == 0:
        raise ValueError(f"no user has a defined {metric} for both {a} and {b}")
    # Differences within float round-off of 0 (means over seeds) count as ties.
    diff = np.where(np.abs(diff) < ROUND_OFF, 0.0, diff)
    rng = np.random.default_rng(seed)
    boot = diff[rng.integers(0, len(diff), size=(n_boot, len(diff)))].mean(axis=1)
    nonzero = diff[diff != 0]
    if len(nonzero):
        test = wilcoxon(nonzero, zero_method="wilcox", alternative="two-sided")
        stat, p = float(test.statistic), float(test.pvalue)
        from scipy.stats import rankdata

        ranks = rankdata(np.abs(nonzero))
        w_plus, w_minus = ranks[nonzero > 0].sum(), ranks[nonzero < 0].sum()
        r_rb = float((w_plus - w_minus) / (w_plus + w_minus))
    else:
        stat, p, r_rb = math.nan, 1.0, 0.0
    sd = diff.std(ddof=1) if len(diff) > 1 else math.nan
    return PairedComparison(
        metric=metric,
        a=a,
        b=b,
        n_users=len(diff),
        n_dropped_nan=len(pair) - len(kept),
        mean_a=float(kept[a].mean()),
        mean_b=float(kept[b].mean()),
        mean_diff=float(diff.mean()),
        ci_low=float(np.quantile(boot, 0.025)),
        ci_high=float(np.quantile(boot, 0.975)),
        median_diff=float(np.median(diff)),
        wins_a=int((diff > 0).sum()),
        wins_b=int((diff < 0).sum()),
        ties=int((diff == 0).sum()),
        wilcoxon_statistic=stat,
        p_value=p,
        rank_biserial=r_rb,
        cohen_dz=float(diff.mean() / sd) if sd and sd > 0 else math.nan,
    )


def paired_table(
    table: pd.DataFrame, pairs: Sequence[tuple[str, str]], metrics: Sequence[str] = METRICS, **kw: Any
) -> pd.DataFrame:
    """:func:`paired_comparison` for every pair and metric, one row each."""
    return pd.DataFrame(
        [paired_comparison(table, a, b, m, **kw).to_dict() for a, b in pairs for m in metrics]
    )


def seed_agreement(table: pd.DataFrame, a: str, b: str, metric: str = "accuracy") -> pd.DataFrame:
    """Per seed: mean ``metric`` of ``a`` and ``b`` over users and the mean difference
    (does the sign of the difference survive a change of seed?)."""
    wide = table.pivot_table(index=["seed", "user_id"], columns="model", values=metric)
    wide = wide[[a, b]].dropna()
    out = wide.groupby(level="seed").mean()
    out["difference"] = out[a] - out[b]
    out["users"] = wide.groupby(level="seed").size()
    return out


def wins_by(
    table: pd.DataFrame,
    a: str,
    b: str,
    metric: str = "accuracy",
    *,
    by: str = "n_ratings",
    bins: int | Sequence[float] = 5,
) -> pd.DataFrame:
    """Where ``a`` beats ``b``: users grouped by ``by`` (a per-user column of the table, e.g.
    ``n_ratings`` or ``train_like_rate`` averaged over seeds), ``bins`` quantile groups or
    explicit edges. Per group: users, the two means, the mean difference and the shares of
    users where ``a`` wins, ``b`` wins, or they tie (seed-averaged metric)."""
    means = per_user_means(table, metric)[[a, b]].dropna()
    covariate = table.groupby("user_id")[by].mean().loc[means.index]
    if isinstance(bins, int):
        groups = pd.qcut(covariate, q=bins, duplicates="drop")
    else:
        groups = pd.cut(covariate, bins=list(bins), include_lowest=True)
    diff = means[a] - means[b]
    diff = diff.where(diff.abs() >= ROUND_OFF, 0.0)
    frame = pd.DataFrame({"group": groups, "a": means[a], "b": means[b], "diff": diff})
    out = frame.groupby("group", observed=True).agg(
        users=("diff", "size"),
        mean_a=("a", "mean"),
        mean_b=("b", "mean"),
        mean_diff=("diff", "mean"),
        a_wins=("diff", lambda d: float((d > 0).mean())),
        b_wins=("diff", lambda d: float((d < 0).mean())),
        ties=("diff", lambda d: float((d == 0).mean())),
    )
    out.index.name = by
    return out.rename(
        columns={"mean_a": f"mean_{a}", "mean_b": f"mean_{b}", "a_wins": f"{a}_wins", "b_wins": f"{b}_wins"}
    )
