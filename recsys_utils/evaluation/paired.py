"""Per-user views of a multi-user run's table (chapters 05 and 06): seed means, per-seed
agreement, and wins grouped by a user covariate.

Users are the independent units: a user's metric is first averaged over seeds
(:func:`per_user_means`). The tests, intervals and effect sizes between models are those of
the statistical plan (:mod:`recsys_utils.evaluation.statistics` and
:mod:`recsys_utils.evaluation.plan`): one rule, used by every chapter.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

__all__ = [
    "ROUND_OFF",
    "per_user_means",
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
