"""The statistical plan of the population chapters, written down once.

A :class:`StatisticalPlan` is stated before the results: one primary endpoint (two models and
one metric), the estimand whose test and interval agree (the Hodges-Lehmann shift with the
Wilcoxon test, or the mean with a sign-flip test and a bootstrap interval), an equivalence
margin per metric for every "no difference" claim, and Holm's correction over each family of
secondary tests, which are labelled exploratory. :func:`plan_table` applies it to a run's
table (one row per user, seed and model), :func:`compare` to one pair.

The functions behind it are in :mod:`recsys_utils.evaluation.statistics`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from recsys_utils.evaluation.statistics import (
    DEFAULT_CONFIDENCE,
    DEFAULT_RESAMPLES,
    effect_sizes,
    holm,
    mean_difference,
    paired_differences,
    tost,
    wilcoxon_hl,
)

__all__ = ["StatisticalPlan", "compare", "plan_table"]


@dataclass(frozen=True)
class StatisticalPlan:
    """What is tested, how, and what counts as "no difference", fixed before the results.

    Attributes:
        primary: ``(a, b, metric)``, the primary endpoint (e.g. ``("modified", "lstm",
            "accuracy")``): ``a - b`` per user, averaged over seeds.
        margins: ``{metric: margin}``, the equivalence margin of each metric (same units as
            the metric); a "no difference" claim needs the equivalence test to reject.
        estimand: ``"hl"`` (Hodges-Lehmann shift, Wilcoxon test, the interval inverting it)
            or ``"mean"`` (mean, sign-flip permutation test, bootstrap interval).
        confidence: of every interval; tests are two-sided at ``1 - confidence``.
        n_resamples, seed: of the permutation and bootstrap draws.
    """

    primary: tuple[str, str, str]
    margins: Mapping[str, float] = field(default_factory=dict)
    estimand: Literal["hl", "mean"] = "hl"
    confidence: float = DEFAULT_CONFIDENCE
    n_resamples: int = DEFAULT_RESAMPLES
    seed: int = 0

    def __post_init__(self) -> None:
        if self.estimand not in ("hl", "mean"):
            raise ValueError(f"estimand must be 'hl' or 'mean', got {self.estimand!r}")
        bad = {m: v for m, v in self.margins.items() if not v > 0}
        if bad:
            raise ValueError(f"equivalence margins must be positive, got {bad}")

    def describe(self) -> str:
        """The plan in one paragraph, for the book (before the results)."""
        a, b, metric = self.primary
        how = (
            "the Hodges-Lehmann shift with the Wilcoxon signed-rank test and the interval that inverts it"
            if self.estimand == "hl"
            else "the mean difference with a sign-flip permutation test and a bootstrap interval"
        )
        margins = ", ".join(f"{m} {v:g}" for m, v in self.margins.items()) or "none stated"
        return (
            f"Primary endpoint: {a} - {b} on held-out {metric}, per user, averaged over "
            f"seeds; estimated by {how} ({self.confidence:.0%}, two-sided). Equivalence "
            f"(two one-sided tests) within margins: {margins}. Every other test is "
            f"secondary, Holm-adjusted within its table and labelled exploratory."
        )


def compare(table: pd.DataFrame, a: str, b: str, metric: str, plan: StatisticalPlan) -> dict[str, Any]:
    """``a`` against ``b`` on ``metric`` by the plan: one row of :func:`plan_table`.

    Returns:
        ``a``, ``b``, ``metric``, ``n_users``, ``n_dropped`` (users without a defined
        seed mean for both), ``wins_a``, ``wins_b``, ``ties``, ``estimand``, ``estimate``,
        ``ci_low``, ``ci_high``, ``p_value``, ``margin``, ``equivalence_p`` and
        ``equivalent`` (``NaN`` / ``None`` without a margin), ``rank_biserial``, ``cohen_dz``.
    """
    d = paired_differences(table, a, b, metric)
    n_all = table.loc[table["model"].isin([a, b]), "user_id"].nunique()
    values = d.to_numpy(np.float64)
    if plan.estimand == "hl":
        test = wilcoxon_hl(values, confidence=plan.confidence)
        estimate = test.hl_shift
    else:
        test = mean_difference(
            values, n_resamples=plan.n_resamples, seed=plan.seed, confidence=plan.confidence
        )
        estimate = test.mean
    margin = plan.margins.get(metric)
    equivalence = (
        tost(values, margin, on=plan.estimand, alpha=1.0 - plan.confidence) if margin is not None else None
    )
    sizes = effect_sizes(values)
    return {
        "a": a,
        "b": b,
        "metric": metric,
        "n_users": len(values),
        "n_dropped": int(n_all - len(values)),
        "wins_a": int((values > 0).sum()),
        "wins_b": int((values < 0).sum()),
        "ties": int((values == 0).sum()),
        "estimand": plan.estimand,
        "estimate": float(estimate),
        "ci_low": test.ci_low,
        "ci_high": test.ci_high,
        "p_value": test.p_value,
        "margin": float(margin) if margin is not None else np.nan,
        "equivalence_p": equivalence.p_value if equivalence else np.nan,
        "equivalent": equivalence.equivalent if equivalence else None,
        "rank_biserial": sizes["rank_biserial"],
        "cohen_dz": sizes["cohen_dz"],
    }


def plan_table(
    table: pd.DataFrame, pairs: Sequence[tuple[str, str]], metrics: Sequence[str], plan: StatisticalPlan
) -> pd.DataFrame:
    """:func:`compare` for every pair and metric; the rows other than the primary endpoint
    form one family, their p-values Holm-adjusted together (``p_holm``; the primary row keeps
    its own p-value there) and labelled ``"exploratory"`` in ``role``."""
    rows = [compare(table, a, b, m, plan) for a, b in pairs for m in metrics]
    out = pd.DataFrame(rows)
    primary = [(r["a"], r["b"], r["metric"]) == tuple(plan.primary) for r in rows]
    out["role"] = np.where(primary, "primary", "exploratory")
    secondary = ~np.asarray(primary)
    out["p_holm"] = out["p_value"].astype(float)
    if secondary.any():
        out.loc[secondary, "p_holm"] = holm(out.loc[secondary, "p_value"].to_numpy())
    return out
