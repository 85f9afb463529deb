"""The statistical plan applied to the chapter's exploratory families of tests.

Chapter 7 has no primary endpoint: each of its tables is one family of exploratory tests,
Holm-adjusted together. :func:`compare_family` runs
:func:`recsys_utils.evaluation.plan.compare` (users paired, each user's metric averaged over
the seeds first; the Hodges-Lehmann shift with the Wilcoxon test and the interval that inverts
it; TOST within the plan's margin for every "as good as") on each comparison and adds the
Holm-adjusted p-values; :func:`one_sample` does the same for a per-user quantity against a
reference value (e.g. the share of the last positions against an even spread).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from recsys_utils.evaluation.plan import StatisticalPlan, compare
from recsys_utils.evaluation.statistics import holm, tost, wilcoxon_hl

__all__ = ["Comparison", "compare_family", "one_sample"]

#: ``(label, table, a, b, metric)``: ``a - b`` on ``metric`` over the users of ``table`` (one row
#: per user, seed and model, the models in column ``model``).
Comparison = tuple[str, pd.DataFrame, str, str, str]


def compare_family(comparisons: Sequence[Comparison], plan: StatisticalPlan) -> pd.DataFrame:
    """Every comparison by the plan, as one exploratory family.

    Returns:
        One row per comparison: ``comparison`` (its label), the columns of
        :func:`recsys_utils.evaluation.plan.compare`, ``role`` (``"exploratory"``) and
        ``p_holm`` (Holm over the family's defined p-values).
    """
    if not comparisons:
        raise ValueError("need at least one comparison")
    rows = [
        {"comparison": label, **compare(table, a, b, metric, plan)}
        for label, table, a, b, metric in comparisons
    ]
    out = pd.DataFrame(rows)
    out["role"] = "exploratory"
    out["p_holm"] = holm(out["p_value"].to_numpy(dtype=np.float64))
    return out


def one_sample(
    values: Sequence[float] | np.ndarray | pd.Series,
    reference: float,
    *,
    margin: float | None = None,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """A per-user quantity against ``reference``: the Wilcoxon signed-rank test of
    ``values - reference`` with the Hodges-Lehmann location of ``values`` and the interval
    that inverts the test (``nan`` values dropped and counted).

    Returns:
        ``n``, ``n_dropped``, ``estimate`` (the Hodges-Lehmann location, in the units of
        ``values``), ``ci_low``, ``ci_high`` (its interval), ``p_value`` (of a location equal
        to ``reference``) and, with a ``margin``, ``equivalence_p`` and ``equivalent`` (TOST:
        the location within ``reference +/- margin``).
    """
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    kept = v[np.isfinite(v)]
    test = wilcoxon_hl(kept - reference, confidence=confidence)
    out: dict[str, Any] = {
        "n": len(kept),
        "n_dropped": int(len(v) - len(kept)),
        "estimate": reference + test.hl_shift,
        "ci_low": reference + test.ci_low,
        "ci_high": reference + test.ci_high,
        "p_value": test.p_value,
    }
    if margin is not None:
        eq = tost(kept - reference, margin, on="hl", alpha=1.0 - confidence)
        out.update(equivalence_p=eq.p_value, equivalent=eq.equivalent)
    return out
